/* strata [--root DIR] [--storage-driver NAME] [--storage-opt K=V]... COMMAND */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../servers/docker/docker_plugin.h"
#include "cli.h"

static const struct cli_cmd *current;

int cli_fail(const struct st_error *err)
{
	fprintf(stderr, "strata: error: %s\n", err->msg[0] ? err->msg : strerror(err->code ? err->code : EIO));
	return EXIT_ERR;
}

int cli_failf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("strata: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return EXIT_ERR;
}

int cli_usage(struct cli *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("strata: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fprintf(stderr, "See '%s --help'.\n", c->prog);
	return EXIT_USAGE;
}

void cli_print_help(struct cli *c)
{
	if (current) {
		printf("Usage:  %s %s\n", c->prog, current->usage ? current->usage : "");
		if (current->summary)
			printf("\n%s\n", current->summary);
	}
}

void cli_opts_begin(void)
{
	optind = 0; /* full reinitialisation of getopt */
	opterr = 0;
}

int cli_getopt(struct cli *c, int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	static const struct option help_only[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	char so[128];
	/* options may follow arguments (as docker accepts), except where the
	 * arguments are a command line for the container */
	bool passthrough = !strcmp(c->prog, "strata run") || !strcmp(c->prog, "strata create");
	snprintf(so, sizeof(so), "%s:%sh", passthrough ? "+" : "", shortopts ? shortopts : "");
	int o = getopt_long(argc, argv, so, longopts ? longopts : help_only, NULL);
	if (o == 'h') {
		cli_print_help(c);
	} else if (o == '?') {
		if (optopt)
			cli_usage(c, "unknown option -%c", optopt);
		else
			cli_usage(c, "unknown option %s", argv[optind - 1]);
	} else if (o == ':') {
		cli_usage(c, "option %s needs a value", argv[optind - 1]);
		o = '?';
	}
	return o;
}

int cli_opt(struct cli *c, int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	int o = cli_getopt(c, argc, argv, shortopts, longopts);
	c->opt_exit = o == 'h' ? EXIT_OK : o == '?' ? EXIT_USAGE : -1;
	return o == -1 || c->opt_exit >= 0 ? 0 : o;
}

int cli_args(struct cli *c, int argc, int min, int max, const char *what, struct st_store **s)
{
	if (c->opt_exit >= 0)
		return c->opt_exit;
	int n = argc - optind;
	if (n < min || (max >= 0 && n > max)) {
		char need[64];
		if (max == 0)
			snprintf(need, sizeof(need), "takes no arguments");
		else if (min == max)
			snprintf(need, sizeof(need), "requires exactly %d argument%s", min, min == 1 ? "" : "s");
		else if (max < 0)
			snprintf(need, sizeof(need), "requires at least %d argument%s", min, min == 1 ? "" : "s");
		else if (min == 0)
			snprintf(need, sizeof(need), "takes at most %d argument%s", max, max == 1 ? "" : "s");
		else
			snprintf(need, sizeof(need), "requires %d %s %d arguments", min, max == min + 1 ? "or" : "to", max);
		return cli_usage(c, "\"%s\" %s%s%s%s", c->prog, need, what ? " (" : "", what ? what : "", what ? ")" : "");
	}
	if (s && cli_store(c, s) != 0)
		return EXIT_ERR;
	return -1;
}

int cli_args_only(struct cli *c, int argc, char **argv, int min, int max, const char *what, struct st_store **s)
{
	while (cli_opt(c, argc, argv, "", NULL))
		;
	return cli_args(c, argc, min, max, what, s);
}

int cli_store(struct cli *c, struct st_store **s)
{
	if (!c->store) {
		struct st_error err = {0};
		struct st_store_config cfg = {.root = c->root, .driver = c->driver, .storage_opt = &c->storage_opt};
		if (st_store_open(&cfg, &c->store, &err) < 0)
			return cli_fail(&err);
	}
	*s = c->store;
	return 0;
}

int cli_open_input(const char *path, int *fd)
{
	if (!path || strcmp(path, "-") == 0) {
		*fd = dup(STDIN_FILENO);
		return 0;
	}
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return cli_failf("open \"%s\": %s", path, strerror(errno));
	return 0;
}

int cli_format(struct cli *c, const char *value, bool *json)
{
	if (strcmp(value, "json") != 0 && strcmp(value, "table") != 0)
		return cli_usage(c, "unknown format \"%s\" (table or json)", value);
	*json = strcmp(value, "json") == 0;
	return 0;
}

void cli_print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void cli_print_list(struct cli_table *t, json_object *a, bool json, bool quiet)
{
	if (json)
		cli_print_json(json_object_get(a));
	if (!quiet && !json)
		cli_table_print(t, stdout);
	else
		cli_table_free(t);
	json_object_put(a);
}

/* ------------------------------------------------------------- tables */

void cli_table_init(struct cli_table *t, size_t ncols)
{
	t->cells = NULL;
	t->ncols = ncols;
	t->nrows = 0;
}

void cli_table_row(struct cli_table *t, ...)
{
	char **nc = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
	if (!nc)
		return;
	t->cells = nc;
	va_list ap;
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		nc[t->nrows * t->ncols + i] = strdup(s ? s : "");
	}
	va_end(ap);
	t->nrows++;
}

void cli_table_print(struct cli_table *t, FILE *f)
{
	size_t w[32] = {0};
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols && i < 32; i++) {
			size_t l = strlen(t->cells[r * t->ncols + i]);
			if (l > w[i])
				w[i] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			if (i + 1 < t->ncols)
				fprintf(f, "%-*s   ", (int)w[i], s);
			else
				fprintf(f, "%s", s);
		}
		fputc('\n', f);
	}
	cli_table_free(t);
}

void cli_table_free(struct cli_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

/* ----------------------------------------------------------- dispatch */

static const struct cli_cmd top_cmds[] = {
	{"info", cmd_info, "Show the storage driver, the store and which drivers work here",
	 "info [--format json|TEMPLATE]\n\nOptions:\n  -f, --format string   table (default), json or a Go template on the JSON\n"},
	{"build", cmd_build, "Build an image from a Dockerfile",
	 "[OPTIONS] CONTEXT\n\nOptions:\n"
	 "      --build-arg key=value   Set a build-time variable (repeatable)\n"
	 "  -f, --file string           Name of the Dockerfile (default CONTEXT/Dockerfile)\n"
	 "      --network string        Network for RUN: host (default) or none\n"
	 "      --no-cache              Do not use the build cache\n"
	 "  -q, --quiet                 Print only the image id\n"
	 "      --runtime string        OCI runtime for RUN (default runc)\n"
	 "  -t, --tag name:tag          Name and tag the image (repeatable)\n"
	 "      --target string         Stop at this build stage\n"},
	{"images", cmd_images, "List images",
	 "[OPTIONS] [REPOSITORY[:TAG]]\n\nOptions:\n"
	 "      --digests         Show digests\n"
	 "  -f, --filter filter   Filter output: dangling=true|false, label=KEY[=VALUE], before=IMAGE,\n"
	 "                        since=IMAGE, reference=PATTERN (repeatable)\n"
	 "      --format string   table (default), json or a Go template (ID, Repository, Tag, Digest,\n"
	 "                        CreatedSince, CreatedAt, Size; 'table {{.ID}}\\t{{.Tag}}': titled, aligned)\n"
	 "      --no-trunc        Do not truncate the image ids\n"
	 "  -q, --quiet           Only image ids\n"},
	{"history", cmd_history, "Show the history of an image (one row per instruction)",
	 "[--format json] [--no-trunc] IMAGE\n"},
	{"import", cmd_import, "Import a root filesystem tar as a one-layer image",
	 "[-m MESSAGE] FILE|- [NAME[:TAG]]\n"},
	{"load", cmd_load, "Load images from a docker-archive or an OCI image layout (file, directory or stdin)",
	 "[-i FILE|DIR] [-q]\n\nOptions:\n  -i, --input string   Read from a tar archive file or a layout directory, instead of STDIN\n"
	 "  -q, --quiet          Suppress the layer count\n"},
	{"save", cmd_save, "Save images to a docker-archive (default) or an OCI image layout",
	 "[-o FILE|DIR] [--format docker|oci] IMAGE...\n\nOptions:\n"
	 "      --format string   docker (docker save's archive, default) or oci (OCI image layout)\n"
	 "  -o, --output string   Write to a file (a directory: the layout as files), instead of STDOUT\n"},
	{"pull", cmd_pull, "Download an image from a registry",
	 "[OPTIONS] NAME[:TAG|@DIGEST]\n\nOptions:\n"
	 "      --authfile string     Credentials file (default $HOME/.config/strata/auth.json)\n"
	 "      --platform string     os/arch[/variant] of the image to pull (default: this machine's)\n"
	 "  -q, --quiet               Print only the image's full name\n"
	 "      --tls-verify=false    Do not verify the registry's certificate (plain http allowed)\n"},
	{"push", cmd_push, "Upload an image to a registry",
	 "[OPTIONS] NAME[:TAG]\n\nOptions:\n"
	 "      --authfile string      Credentials file (default $HOME/.config/strata/auth.json)\n"
	 "      --compression string   Layer compression: gzip (default) or zstd (implies --format oci)\n"
	 "      --format string        Manifest format: docker (schema 2, default) or oci\n"
	 "  -q, --quiet                Print only the manifest digest\n"
	 "      --tls-verify=false     Do not verify the registry's certificate (plain http allowed)\n"},
	{"login", cmd_login, "Log in to a registry (checks the credentials, then stores them)",
	 "[OPTIONS] [SERVER]\n\nOptions:\n"
	 "      --authfile string     Credentials file (default $HOME/.config/strata/auth.json)\n"
	 "  -p, --password string     Password\n"
	 "      --password-stdin      Take the password from stdin\n"
	 "      --tls-verify=false    Do not verify the registry's certificate (plain http allowed)\n"
	 "  -u, --username string     Username\n"},
	{"logout", cmd_logout, "Log out from a registry (forget its credentials)",
	 "[--authfile FILE] [SERVER]\n"},
	{"inspect", cmd_inspect, "Show low-level information on images and containers",
	 "[-f TEMPLATE] NAME|ID...\n\nOptions:\n  -f, --format string   A Go template run on each object's JSON\n"},
	{"rmi", cmd_rmi, "Remove images", "[-f] IMAGE...\n\nOptions:\n  -f, --force   Remove an image with several tags\n"},
	{"tag", cmd_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n"},
	{"commit", cmd_commit, "Create a new image from a container's changes",
	 "[-m MESSAGE] CONTAINER [NAME[:TAG]]\n"},
	{"create", cmd_create, "Create a new container",
	 "[OPTIONS] IMAGE [COMMAND] [ARG...]\n\nOptions:\n"
	 "      --entrypoint string   Overwrite the image's ENTRYPOINT\n"
	 "  -e, --env list            Set environment variables (K=V, repeatable)\n"
	 "  -l, --label list          Set metadata on the container (KEY=VALUE, repeatable)\n"
	 "      --name string         Assign a name to the container\n"
	 "      --network string      host (default) or none\n"
	 "      --runtime string      OCI runtime (default runc)\n"
	 "  -u, --user string         Username or UID (name|uid[:group|gid])\n"
	 "  -v, --volume list         Bind mount a host path or a volume: SRC:DST[:ro]\n"
	 "  -w, --workdir string      Working directory inside the container\n"},
	{"diff", cmd_diff, "Inspect changes to files on a container's filesystem", "CONTAINER\n"},
	{"export", cmd_export, "Export a container's filesystem as a tar archive", "[-o FILE] CONTAINER\n"},
	{"logs", cmd_logs, "Fetch the logs of a container", "CONTAINER\n"},
	{"mount", cmd_mount, "Mount a container's root filesystem and print its path", "CONTAINER\n"},
	{"ps", cmd_ps, "List containers",
	 "[-a] [-q] [-f FILTER]... [--format json|TEMPLATE]\n\nOptions:\n  -a, --all             Show all containers (default shows just running)\n"
	 "  -f, --filter filter   id=, name= (regular expressions), label=KEY[=VALUE], status=STATE,\n"
	 "                        ancestor=IMAGE, exited=CODE (repeatable)\n"
	 "      --format string   table (default), json or a Go template (ID, Image, Command, CreatedAt,\n"
	 "                        RunningFor, Status, State, Names, Mounts, Labels; 'table ...': titled)\n"
	 "  -q, --quiet           Only container ids\n"},
	{"rm", cmd_rm, "Remove one or more containers", "[-f] CONTAINER...\n\nOptions:\n  -f, --force   Force the removal of a running container\n"},
	{"run", cmd_run, "Create and run a new container",
	 "[OPTIONS] IMAGE [COMMAND] [ARG...]\n\nOptions:\n"
	 "  -d, --detach              Run in the background and print the container id\n"
	 "      --rm                  Remove the container when it exits\n"
	 "      --entrypoint string   Overwrite the image's ENTRYPOINT\n"
	 "  -e, --env list            Set environment variables (K=V, repeatable)\n"
	 "  -l, --label list          Set metadata on the container (KEY=VALUE, repeatable)\n"
	 "      --name string         Assign a name to the container\n"
	 "      --network string      host (default) or none\n"
	 "      --runtime string      OCI runtime (default runc)\n"
	 "  -u, --user string         Username or UID (name|uid[:group|gid])\n"
	 "  -v, --volume list         Bind mount a host path or a volume: SRC:DST[:ro]\n"
	 "  -w, --workdir string      Working directory inside the container\n"},
	{"start", cmd_start, "Start one or more stopped containers", "[-a] CONTAINER...\n\nOptions:\n  -a, --attach   Attach stdout/stderr and wait\n"},
	{"stop", cmd_stop, "Stop one or more running containers", "[-t SECONDS] CONTAINER...\n\nOptions:\n  -t, --time int   Seconds to wait before killing it (default 10)\n"},
	{"umount", cmd_umount, "Unmount a container's root filesystem", "CONTAINER\n"},
	{"driver", cmd_driver, "The raw storage-driver interface, by driver layer id", "driver COMMAND"},
	{"layer", cmd_layer, "Manage layers in the layer store", "layer COMMAND"},
	{"volume", cmd_volume, "Manage volumes (local, nfs, plugins)", "volume COMMAND"},
	{"docker-plugin", cmd_docker_plugin, "Serve dockerd's graph driver and volume plugin protocols", "docker-plugin COMMAND"},
	{"system", cmd_system, "Manage the store as a whole: check (and repair), df, prune", "system COMMAND"},
	{"bench", cmd_bench, "Benchmark the storage drivers (a scratch home each, not the store)",
	 "[OPTIONS]\n\nOptions:\n"
	 "      --drivers list        Drivers to measure (default: all; unsupported ones are skipped)\n"
	 "      --shapes list         small-files, large-files, deep-chain (default: all)\n"
	 "      --files int           Files of the small-files layer (default 10000)\n"
	 "      --file-size size      Size of each of them and of the chain's files (default 4k)\n"
	 "      --large-files int     Files of the large-files layer (default 4)\n"
	 "      --large-size size     Size of each of them (default 32M)\n"
	 "      --layers int          Layers of the deep chain (default 100)\n"
	 "      --runs int            Runs per operation: min/median/max (default 3)\n"
	 "      --format string       table (default) or json\n"
	 "      --plot file           Bar chart per operation and driver (.svg or .png; gnuplot)\n"
	 "      --dir dir             Where the scratch homes go (default $TMPDIR or /var/tmp)\n"},
	{0, 0, 0, 0},
};

static void print_cmds(const struct cli_cmd *cmds, FILE *f)
{
	for (const struct cli_cmd *k = cmds; k->name; k++)
		fprintf(f, "  %-13s %s\n", k->name, k->summary);
}

static void top_help(FILE *f)
{
	fprintf(f, "Usage:  strata [OPTIONS] COMMAND\n\n"
		   "Container image storage: layers, storage drivers, images, containers, volumes\n\n"
		   "Options:\n"
		   "      --root string             Store root (default /var/lib/strata, env STRATA_ROOT)\n"
		   "  -s, --storage-driver string   Storage driver (env STRATA_STORAGE_DRIVER)\n"
		   "      --storage-opt key=value   Storage driver option (repeatable)\n"
		   "  -v, --version                 Print the version\n\n"
		   "Commands:\n");
	print_cmds(top_cmds, f);
	fprintf(f, "\nRun 'strata COMMAND --help' for more information on a command.\n");
}

int cli_dispatch(struct cli *c, const char *group, const struct cli_cmd *cmds, int argc, char **argv)
{
	char prog[256];
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "help") == 0) {
		FILE *f = argc < 1 ? stderr : stdout;
		fprintf(f, "Usage:  %s COMMAND\n\nCommands:\n", c->prog);
		print_cmds(cmds, f);
		fprintf(f, "\nRun '%s COMMAND --help' for more information on a command.\n", c->prog);
		return argc < 1 ? EXIT_USAGE : EXIT_OK;
	}
	for (const struct cli_cmd *k = cmds; k->name; k++) {
		if (strcmp(k->name, argv[0]) != 0)
			continue;
		snprintf(prog, sizeof(prog), "%s%s%s", group ? group : "strata", " ", k->name);
		c->prog = prog;
		c->opt_exit = -1;
		current = k;
		cli_opts_begin();
		return k->run(c, argc, argv);
	}
	fprintf(stderr, "strata: error: unknown command \"%s\" for \"%s\"\nSee '%s --help'.\n", argv[0],
		group ? group : "strata", group ? group : "strata");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	/* dockerd's layers through the docker plugin, for every command that
	 * opens a store (system check, the sweep of dead operations) */
	if (dp_holders_register() < 0) {
		fprintf(stderr, "strata: error: cannot register the docker plugin's layer holders\n");
		return EXIT_ERR;
	}
	c.root = getenv("STRATA_ROOT");
	c.driver = getenv("STRATA_STORAGE_DRIVER");
	c.prog = "strata";
	static const struct option opts[] = {
		{"root", required_argument, 0, 'r'},
		{"storage-driver", required_argument, 0, 's'},
		{"storage-opt", required_argument, 0, 'o'},
		{"version", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	cli_opts_begin();
	int o;
	while ((o = getopt_long(argc, argv, "+:s:vh", opts, NULL)) != -1) {
		struct st_error err = {0};
		switch (o) {
		case 'r':
			c.root = optarg;
			break;
		case 's':
			c.driver = optarg;
			break;
		case 'o':
			if (st_kvlist_parse(&c.storage_opt, optarg, &err) < 0) {
				fprintf(stderr, "strata: error: %s\nSee 'strata --help'.\n", err.msg);
				return EXIT_USAGE;
			}
			break;
		case 'v':
			printf("strata version %s\n", STRATA_VERSION);
			return EXIT_OK;
		case 'h':
			top_help(stdout);
			return EXIT_OK;
		case ':':
			fprintf(stderr, "strata: error: option %s needs a value\nSee 'strata --help'.\n", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "strata: error: unknown option %s\nSee 'strata --help'.\n", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		top_help(stderr);
		return EXIT_USAGE;
	}
	int r = cli_dispatch(&c, NULL, top_cmds, argc - optind, argv + optind);
	st_store_close(c.store);
	st_kvlist_free(&c.storage_opt);
	return r;
}
