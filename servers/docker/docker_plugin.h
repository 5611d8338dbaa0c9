/* strata docker-plugin serve: a Docker graph driver plugin and volume
 * plugin (Docker's plugin protocol: JSON over HTTP on a unix socket,
 * served through libmicrohttpd) backed by a strata store. */
#ifndef DP_DOCKER_PLUGIN_H
#define DP_DOCKER_PLUGIN_H

#include <stdbool.h>

#include "strata.h"

/* The plugin's name is what dockerd's --storage-driver and `docker volume
 * create -d` say: [a-zA-Z0-9][a-zA-Z0-9_-]*, at most this long. */
#define DP_NAME_MAX 40

struct dp_config {
	const char *name;       /* default "strata" */
	const char *socket;     /* default /run/docker/plugins/NAME.sock */
	const char *spec;       /* a spec file to write (NULL: none) */
	const char *pidfile;    /* NULL: none */
	const char *root;       /* the store; NULL: Init's Home (graph), the default root (volumes) */
	const char *driver;     /* storage driver; NULL: the store's choice */
	const struct st_kvlist *storage_opt;
	bool graph, volume;     /* what the plugin implements */
	bool quiet;             /* no request log on stderr */
};

bool dp_name_valid(const char *name);
/* The plugin's layers in the store's holder table (system check, the
 * sweep of dead operations): every strata process that opens stores with
 * plugin layers registers it (the strata command does, at its start). */
int dp_holders_register(void);
/* Serve until SIGINT/SIGTERM; 0 after a clean shutdown. */
int dp_serve(const struct dp_config *cfg, struct st_error *err);

#endif
