/* Internals shared by the docker plugin's parts: the HTTP plumbing
 * (http.c), the store handles (stores.c), the graph driver (graph.c), the
 * volume driver (volume.c) and the layer ids (layerid.c). */
#ifndef DP_H
#define DP_H

#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>

#include "docker_plugin.h"

struct st_lease;

/* ------------------------------------------------------------ stores */

/* Store handles, one per request being served: a handle (with its own
 * fds, so its locks are taken as another process's would be) is used by
 * one thread at a time; idle ones are kept for the next request. */
#define DP_POOL_MAX 16

struct dp_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char root[PATH_MAX];   /* "" while closed */
	const char *driver;
	struct st_kvlist opts;
	struct st_store *idle[DP_POOL_MAX];
	size_t nidle, nopen;
	unsigned gen;          /* bumped by every open/close of the pool */
	const char *what;      /* "graph driver", "volume driver": for messages */
};

void dp_pool_init(struct dp_pool *p, const char *what);
/* (Re)point the pool at a store root; the first handle is opened now so
 * that a bad root or driver fails here. */
int dp_pool_open(struct dp_pool *p, const char *root, const char *driver, const struct st_kvlist *opts,
		 struct st_error *err);
/* Close the idle handles; busy ones are closed when given back. */
void dp_pool_close(struct dp_pool *p);
void dp_pool_destroy(struct dp_pool *p);
/* A handle for one request (-ENXIO before the pool is opened). */
int dp_store_get(struct dp_pool *p, struct st_store **s, unsigned *gen, struct st_error *err);
void dp_store_put(struct dp_pool *p, struct st_store *s, unsigned gen);

/* ------------------------------------------------------------- server */

struct dp_server {
	struct dp_config cfg;
	char name[DP_NAME_MAX + 1];
	struct dp_pool graph;   /* opened by GraphDriver.Init */
	struct dp_pool volumes; /* opened at start */
	char home[PATH_MAX];    /* Init's Home */
	char state[PATH_MAX];   /* the last Init, replayed when the plugin restarts */
	/* While the graph driver serves, it holds a lease: its layers' mounts
	 * are a live operation's (dockerd's containers) to `system check`. */
	struct st_store *lease_store;
	unsigned lease_gen;
	struct st_lease *serving;
};

/* The graph driver's start (replaying the Init of a dockerd that is still
 * running, when the plugin restarts) and stop. */
int dp_graph_start(struct dp_server *srv, struct st_error *err);
void dp_graph_stop(struct dp_server *srv);

/* ------------------------------------------------------- HTTP plumbing */

/* A request handler answers a JSON request with a JSON reply (NULL: {}),
 * or fails with a negative errno and err. */
typedef int (*dp_json_fn)(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err);

/* A streamed reply (GraphDriver.Diff): prepare validates the request and
 * makes ctx; produce then writes the body in a thread of its own; done
 * frees ctx (always called once prepare succeeded). */
struct dp_stream_ops {
	int (*prepare)(struct dp_server *srv, json_object *req, void **ctx, struct st_error *err);
	int (*produce)(void *ctx, struct st_writer *out, struct st_error *err);
	void (*done)(void *ctx);
};

/* A streamed request body (GraphDriver.ApplyDiff): prepare takes the
 * query arguments (arg(q, "id")); consume reads the body in a thread of
 * its own and makes the JSON reply. */
struct dp_query;
const char *dp_query_arg(struct dp_query *q, const char *key);
struct dp_upload_ops {
	int (*prepare)(struct dp_server *srv, struct dp_query *q, void **ctx, struct st_error *err);
	int (*consume)(void *ctx, struct st_reader *in, json_object **reply, struct st_error *err);
	void (*done)(void *ctx);
};

struct dp_route {
	const char *path;   /* "/GraphDriver.Create" */
	dp_json_fn json;
	const struct dp_stream_ops *stream;
	const struct dp_upload_ops *upload;
};

/* The routes of each part (NULL-path terminated). */
extern const struct dp_route dp_graph_routes[];
extern const struct dp_route dp_volume_routes[];

struct dp_http;
int dp_http_start(struct dp_server *srv, int listen_fd, struct dp_http **out, struct st_error *err);
void dp_http_stop(struct dp_http *h);

/* ------------------------------------------------------------ helpers */

/* The string member key of a request ("" when absent); -EINVAL when it is
 * there but not a string. */
int dp_req_str(json_object *req, const char *method, const char *key, const char **out, struct st_error *err);

/* Docker's layer id -> strata driver layer id "docker.NAME.ID". Docker's
 * ids are 64 hex digits (with "-init" for a container's init layer); any
 * id of [a-zA-Z0-9][a-zA-Z0-9_.-]* that fits is taken. */
#define DP_LAYER_PREFIX "docker."
int dp_layer_id(const char *plugin, const char *docker_id, char *out, size_t len, struct st_error *err);
/* Is driver layer id one of a docker plugin's (any name)? Split it into
 * the plugin's name and docker's id. */
bool dp_layer_is_plugins(const char *driver_id);
bool dp_layer_split(const char *driver_id, char *plugin, size_t len, const char **docker_id);

#endif
