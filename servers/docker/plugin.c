/* strata docker-plugin serve: the socket, the spec file, the pidfile, the
 * stores, and the HTTP server until a termination signal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dp.h"
#include "../common/pathfile.h"
#include "../common/pidfile.h"
#include "../common/signals.h"
#include "../common/unixsock.h"
#include "base/base.h"

#define DP_DEFAULT_ROOT "/var/lib/strata"
#define DP_SOCKET_DIR "/run/docker/plugins"

/* dockerd finds a plugin by a spec file holding its address. */
static int spec_write(const char *spec, const char *socket, struct st_error *err)
{
	char text[PATH_MAX + 16];
	if (!st_str_has_suffix(spec, ".spec"))
		return st_error_fail(err, EINVAL, "spec file \"%s\": the name must end in .spec", spec);
	int n = snprintf(text, sizeof(text), "unix://%s\n", socket);
	int r = srv_write_path(spec, text, (size_t)n, 0644, err);
	return r < 0 ? st_error_wrap(err, "spec file") : 0;
}

static int serve_ready(struct dp_server *srv, const char *socket, struct st_error *err)
{
	const struct dp_config *cfg = &srv->cfg;
	snprintf(srv->state, sizeof(srv->state), "%s.init.json", socket);
	if (cfg->volume) {
		int r = dp_pool_open(&srv->volumes, cfg->root ? cfg->root : DP_DEFAULT_ROOT, cfg->driver, cfg->storage_opt, err);
		if (r < 0)
			return r;
	}
	return cfg->graph ? dp_graph_start(srv, err) : 0;
}

int dp_serve(const struct dp_config *cfg, struct st_error *err)
{
	static struct dp_server srv; /* the server's threads see it until they are joined */
	memset(&srv, 0, sizeof(srv));
	srv.cfg = *cfg;
	const char *name = cfg->name ? cfg->name : "strata";
	if (!dp_name_valid(name))
		return st_error_fail(err, EINVAL, "invalid plugin name \"%s\": use 1-%d of [a-zA-Z0-9_-], starting with a letter or digit",
				     name, DP_NAME_MAX);
	if (!cfg->graph && !cfg->volume)
		return st_error_fail(err, EINVAL, "the plugin must implement the graph driver, the volume driver or both");
	snprintf(srv.name, sizeof(srv.name), "%s", name);
	char socket[PATH_MAX];
	snprintf(socket, sizeof(socket), "%s", cfg->socket ? cfg->socket : "");
	if (!socket[0])
		snprintf(socket, sizeof(socket), "%s/%s.sock", DP_SOCKET_DIR, name);

	sigset_t sigs;
	int r = srv_signals_block(&sigs);
	if (r < 0)
		return st_error_set(err, -r, "signals");
	int pidfd = -1;
	if (cfg->pidfile && (pidfd = srv_pidfile_open(cfg->pidfile, err)) < 0)
		return pidfd;
	dp_pool_init(&srv.graph, "graph driver");
	dp_pool_init(&srv.volumes, "volume driver");
	struct srv_unix sock = {.fd = -1};
	struct dp_http *http = NULL;
	bool spec = false;
	if ((r = serve_ready(&srv, socket, err)) >= 0 && (r = srv_unix_listen(&sock, socket, 0600, err)) >= 0 &&
	    (!cfg->spec || (r = spec_write(cfg->spec, socket, err)) >= 0) && (spec = cfg->spec != NULL, true) &&
	    (r = dp_http_start(&srv, sock.fd, &http, err)) >= 0) {
		if (!cfg->quiet)
			fprintf(stderr, "strata docker-plugin: %s serving %s%s%s on %s\n", name,
				cfg->graph ? "GraphDriver" : "", cfg->graph && cfg->volume ? " and " : "",
				cfg->volume ? "VolumeDriver" : "", socket);
		int sig = srv_wait_signal(&sigs);
		if (!cfg->quiet)
			fprintf(stderr, "strata docker-plugin: %s: signal %d, stopping\n", name, sig);
	}
	/* no new connection, every request finished, then the stores */
	dp_http_stop(http);
	dp_graph_stop(&srv);
	if (spec)
		unlink(cfg->spec);
	srv_unix_close(&sock);
	dp_pool_destroy(&srv.graph);
	dp_pool_destroy(&srv.volumes);
	srv_pidfile_close(cfg->pidfile, pidfd);
	srv_signals_unblock(&sigs);
	return r < 0 ? r : 0;
}
