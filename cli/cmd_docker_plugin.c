/* strata docker-plugin serve: strata as dockerd's graph driver and volume
 * plugin (servers/docker/). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../servers/docker/docker_plugin.h"

static int dp_cmd_serve(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"name", required_argument, 0, 'n'},
		{"socket", required_argument, 0, 'S'},
		{"spec", required_argument, 0, 'P'},
		{"pidfile", required_argument, 0, 'p'},
		{"root", required_argument, 0, 'r'},
		{"storage-driver", required_argument, 0, 's'},
		{"storage-opt", required_argument, 0, 'o'},
		{"graph-driver", no_argument, 0, 'g'},
		{"volume-driver", no_argument, 0, 'V'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct dp_config cfg = {.name = "strata", .root = c->root, .driver = c->driver, .storage_opt = &c->storage_opt};
	struct st_error err = {0};
	int o;
	while ((o = cli_opt(c, argc, argv, "n:s:o:q", opts))) {
		switch (o) {
		case 'n': cfg.name = optarg; break;
		case 'S': cfg.socket = optarg; break;
		case 'P': cfg.spec = optarg; break;
		case 'p': cfg.pidfile = optarg; break;
		case 'r': cfg.root = optarg; break;
		case 's': cfg.driver = optarg; break;
		case 'g': cfg.graph = true; break;
		case 'V': cfg.volume = true; break;
		case 'q': cfg.quiet = true; break;
		case 'o':
			if (st_kvlist_parse(&c->storage_opt, optarg, &err) < 0)
				return cli_usage(c, "invalid storage option \"%s\": %s", optarg, err.msg);
			break;
		}
	}
	int rc = cli_args(c, argc, 0, 0, NULL, NULL);
	if (rc >= 0)
		return rc;
	if (!dp_name_valid(cfg.name))
		return cli_usage(c, "invalid plugin name \"%s\": use 1-%d of [a-zA-Z0-9_-], starting with a letter or digit",
				 cfg.name, DP_NAME_MAX);
	if (!cfg.graph && !cfg.volume)
		cfg.graph = cfg.volume = true;
	if (dp_serve(&cfg, &err) < 0)
		return cli_fail(&err);
	return EXIT_OK;
}

static const struct cli_cmd dp_cmds[] = {
	{"serve", dp_cmd_serve, "Serve Docker's graph driver and volume plugin protocols on a unix socket",
	 "[OPTIONS]\n\nOptions:\n"
	 "      --name string             Plugin name: dockerd's --storage-driver and volume -d (default strata)\n"
	 "      --socket path             Unix socket (default /run/docker/plugins/NAME.sock, where dockerd looks)\n"
	 "      --spec path               Also write a spec file naming the socket (e.g. /etc/docker/plugins/NAME.spec)\n"
	 "      --pidfile path            Write and lock a pidfile\n"
	 "      --root dir                Strata store (default: the graph driver's store at dockerd's\n"
	 "                                <data-root>/NAME, volumes in /var/lib/strata)\n"
	 "  -s, --storage-driver string   Strata storage driver behind the graph driver (default: the store's)\n"
	 "  -o, --storage-opt key=value   Storage driver option (repeatable)\n"
	 "      --graph-driver            Implement the graph driver (default: both)\n"
	 "      --volume-driver           Implement the volume driver (default: both)\n"
	 "  -q, --quiet                   Log nothing but startup failures\n\n"
	 "Runs until SIGINT or SIGTERM. dockerd: --experimental --storage-driver NAME;\n"
	 "volumes: docker volume create -d NAME [-o driver=local|nfs|PLUGIN] [-o type=nfs ...].\n"},
	{0, 0, 0, 0},
};

int cmd_docker_plugin(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "strata docker-plugin", dp_cmds, argc - 1, argv + 1);
}
