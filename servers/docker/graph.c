/* The graph driver protocol (dockerd's daemon/graphdriver/proxy.go is the
 * client): each call is one operation of strata's driver interface on the
 * layer "docker.NAME.ID" (layerid.c).
 *
 * The store: --root when given (strata and dockerd then share it), else a
 * store at Init's Home (<data-root>/NAME), so that every dockerd data root
 * keeps its own. Every docker layer is a read-write strata layer: dockerd
 * writes into layers it made with Create (an image layer is filled by
 * ApplyDiff, a test suite's by Get and plain writes), as Docker's own
 * drivers allow. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp.h"
#include "store/store.h"
#include "exact.h"
#include "base/base.h"
#include "archive/archive.h"
#include "../common/pathfile.h"

#define DP_LAYER_ID_MAX 129

/* One request's store handle and driver. */
struct g_call {
	struct dp_server *srv;
	struct st_store *s;
	unsigned gen;
	struct st_driver *d;
	char id[DP_LAYER_ID_MAX], parent[DP_LAYER_ID_MAX];
	char docker_id[DP_LAYER_ID_MAX]; /* the id as dockerd sent it */
};

static int call_begin(struct dp_server *srv, struct g_call *c, struct st_error *err)
{
	memset(c, 0, sizeof(*c));
	c->srv = srv;
	int r = dp_store_get(&srv->graph, &c->s, &c->gen, err);
	if (r < 0)
		return r;
	c->d = st_store_driver(c->s);
	return 0;
}

static void call_end(struct g_call *c)
{
	if (c->s)
		dp_store_put(&c->srv->graph, c->s, c->gen);
	c->s = NULL;
}

int dp_req_str(json_object *req, const char *method, const char *key, const char **out, struct st_error *err)
{
	json_object *v;
	*out = "";
	if (!json_object_object_get_ex(req, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return st_error_fail(err, EINVAL, "%s: \"%s\" must be a string", method, key);
	*out = json_object_get_string(v);
	return 0;
}

/* The request's ID (required) and Parent (optional) as driver layer ids;
 * an empty parent stays "". */
static int call_ids(struct g_call *c, json_object *req, const char *method, bool want_parent, struct st_error *err)
{
	const char *id, *parent = "";
	int r = dp_req_str(req, method, "ID", &id, err);
	if (r >= 0 && want_parent)
		r = dp_req_str(req, method, "Parent", &parent, err);
	if (r < 0)
		return r;
	if (!id[0])
		return st_error_fail(err, EINVAL, "%s: the request names no layer (ID)", method);
	if ((r = dp_layer_id(c->srv->name, id, c->id, sizeof(c->id), err)) < 0)
		return st_error_wrap(err, "%s", method);
	snprintf(c->docker_id, sizeof(c->docker_id), "%s", id);
	if (parent[0] && (r = dp_layer_id(c->srv->name, parent, c->parent, sizeof(c->parent), err)) < 0)
		return st_error_wrap(err, "%s: parent", method);
	return 0;
}

/* Begin a call on one layer, which must exist. */
static int call_layer(struct dp_server *srv, struct g_call *c, json_object *req, const char *method, bool want_parent,
		      bool must_exist, struct st_error *err)
{
	int r = call_begin(srv, c, err);
	if (r >= 0)
		r = call_ids(c, req, method, want_parent, err);
	if (r >= 0 && must_exist && !st_drv_exists(c->d, c->id))
		r = st_error_fail(err, ENOENT, "%s: layer \"%s\" does not exist", method, st_json_str(req, "ID"));
	if (r >= 0 && c->parent[0] && !st_drv_exists(c->d, c->parent))
		r = st_error_fail(err, ENOENT, "%s: parent layer \"%s\" does not exist", method, st_json_str(req, "Parent"));
	if (r < 0)
		call_end(c);
	return r;
}

static const char *nz(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* ---------------------------------------------------------------- Init */

/* dockerd passes its --storage-opt list; "NAME.key=value" and
 * "key=value" are the backing driver's options. */
static int init_opts(struct dp_server *srv, json_object *req, struct st_kvlist *opts, struct st_error *err)
{
	for (size_t i = 0; srv->cfg.storage_opt && i < srv->cfg.storage_opt->n; i++)
		if (st_kvlist_add(opts, srv->cfg.storage_opt->v[i].key, "%s", srv->cfg.storage_opt->v[i].value) < 0)
			return st_error_set(err, ENOMEM, "GraphDriver.Init");
	json_object *a;
	if (!json_object_object_get_ex(req, "Opts", &a) || json_object_is_type(a, json_type_null))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return st_error_fail(err, EINVAL, "GraphDriver.Init: \"Opts\" must be a list of strings");
	size_t pl = strlen(srv->name);
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string))
			return st_error_fail(err, EINVAL, "GraphDriver.Init: \"Opts\" must be a list of strings");
		const char *kv = json_object_get_string(v);
		if (!strncmp(kv, srv->name, pl) && kv[pl] == '.')
			kv += pl + 1;
		int r = st_kvlist_parse(opts, kv, err);
		if (r < 0)
			return st_error_wrap(err, "GraphDriver.Init: storage option");
	}
	return 0;
}

static bool id_maps_empty(json_object *req, const char *key)
{
	json_object *a;
	return !json_object_object_get_ex(req, key, &a) || json_object_is_type(a, json_type_null) ||
	       (json_object_is_type(a, json_type_array) && json_object_array_length(a) == 0);
}

/* The mounts of the plugin's layers, all dropped: a dockerd that (re)starts
 * holds none of those a previous one took (its containers are stopped), and
 * Cleanup releases all a driver has mounted (as Docker's drivers unmount
 * their home). */
static void forget_mounts(struct dp_server *srv, const char *method)
{
	struct g_call c;
	struct st_error e;
	char **ids;
	size_t n;
	if (call_begin(srv, &c, &e) < 0)
		return;
	char prefix[DP_LAYER_ID_MAX];
	snprintf(prefix, sizeof(prefix), "%s%s.", DP_LAYER_PREFIX, srv->name);
	if (st_drv_record_ids(c.d, "mounts", &ids, &n, &e) >= 0) {
		for (size_t i = 0; i < n; i++)
			if (st_str_has_prefix(ids[i], prefix) && st_drv_mount_reset(c.d, ids[i], &e) < 0 && !srv->cfg.quiet)
				fprintf(stderr, "strata docker-plugin: %s: %s\n", method, e.msg);
		st_strv_free(ids, n);
	}
	call_end(&c);
}

static void serving_end(struct dp_server *srv)
{
	if (srv->serving) {
		st_lease_end(srv->serving);
		free(srv->serving);
		srv->serving = NULL;
	}
	dp_store_put(&srv->graph, srv->lease_store, srv->lease_gen);
	srv->lease_store = NULL;
}

static int serving_begin(struct dp_server *srv, struct st_error *err)
{
	serving_end(srv);
	int r = dp_store_get(&srv->graph, &srv->lease_store, &srv->lease_gen, err);
	if (r < 0)
		return r;
	if (!(srv->serving = calloc(1, sizeof(*srv->serving))))
		return st_error_set(err, ENOMEM, "GraphDriver.Init");
	if ((r = st_lease_new(srv->lease_store, srv->serving, err)) < 0) {
		free(srv->serving);
		srv->serving = NULL;
	}
	return r;
}

/* Open the graph driver's store for an Init request. */
static int init_open(struct dp_server *srv, json_object *req, struct st_error *err)
{
	const char *home;
	int r = dp_req_str(req, "GraphDriver.Init", "Home", &home, err);
	if (r < 0)
		return r;
	if (home[0] != '/' && !srv->cfg.root)
		return st_error_fail(err, EINVAL, "GraphDriver.Init: Home \"%s\" is not an absolute path", home);
	if (!id_maps_empty(req, "UIDMaps") || !id_maps_empty(req, "GIDMaps"))
		return st_error_fail(err, EINVAL,
				     "GraphDriver.Init: user namespace remapping (userns-remap) is not supported by strata's graph driver");
	struct st_kvlist opts = {0};
	if ((r = init_opts(srv, req, &opts, err)) < 0) {
		st_kvlist_free(&opts);
		return r;
	}
	const char *root = srv->cfg.root;
	if (!root) {
		root = home;
		if ((r = st_mkdir_p_at(AT_FDCWD, home, 0700, err)) < 0) {
			st_kvlist_free(&opts);
			return st_error_wrap(err, "GraphDriver.Init: Home");
		}
	}
	serving_end(srv);
	snprintf(srv->home, sizeof(srv->home), "%s", home);
	r = dp_pool_open(&srv->graph, root, srv->cfg.driver, &opts, err);
	st_kvlist_free(&opts);
	if (r >= 0)
		r = serving_begin(srv, err);
	if (r >= 0)
		dp_exact_sweep(srv->lease_store, srv->name);
	return r < 0 ? st_error_wrap(err, "GraphDriver.Init") : 0;
}

static int g_init(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	int r = init_open(srv, req, err);
	if (r < 0)
		return r;
	forget_mounts(srv, "GraphDriver.Init");
	/* dockerd inits once, at its start: a plugin restarted under a running
	 * dockerd takes up where it was from this record */
	size_t len;
	const char *text = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
	if (srv_write_path(srv->state, text, len, 0600, err) < 0)
		return st_error_wrap(err, "GraphDriver.Init: record");
	return 0;
}

int dp_graph_start(struct dp_server *srv, struct st_error *err)
{
	json_object *req;
	if (access(srv->state, F_OK) < 0)
		return 0;
	int r = st_json_load_at(AT_FDCWD, srv->state, &req, err);
	if (r < 0)
		return st_error_wrap(err, "graph driver: the last Init");
	r = init_open(srv, req, err);
	json_object_put(req);
	return r < 0 ? st_error_wrap(err, "graph driver: the last Init (%s)", srv->state) : 0;
}

void dp_graph_stop(struct dp_server *srv)
{
	serving_end(srv);
	dp_pool_close(&srv->graph);
}

/* -------------------------------------------------------- layer calls */

static int g_create_any(struct dp_server *srv, json_object *req, const char *method, struct st_error *err)
{
	struct g_call c;
	int r = call_layer(srv, &c, req, method, true, false, err);
	if (r < 0)
		return r;
	struct st_kvlist so = {0};
	json_object *m;
	if (json_object_object_get_ex(req, "StorageOpt", &m) && json_object_is_type(m, json_type_object)) {
		json_object_object_foreach(m, k, v) {
			if (st_kvlist_add(&so, k, "%s", json_object_get_string(v)) < 0) {
				r = st_error_set(err, ENOMEM, "%s", method);
				break;
			}
		}
	} else if (json_object_object_get_ex(req, "StorageOpt", &m) && !json_object_is_type(m, json_type_null)) {
		r = st_error_fail(err, EINVAL, "%s: \"StorageOpt\" must be an object of strings", method);
	}
	if (r >= 0 && (r = st_drv_create(c.d, c.id, nz(c.parent), true, &so, err)) < 0)
		st_error_wrap(err, "%s", method);
	st_kvlist_free(&so);
	call_end(&c);
	return r;
}

static int g_create(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	return g_create_any(srv, req, "GraphDriver.Create", err);
}

static int g_create_rw(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	return g_create_any(srv, req, "GraphDriver.CreateReadWrite", err);
}

static int g_remove(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct g_call c;
	int r = call_layer(srv, &c, req, "GraphDriver.Remove", false, false, err);
	if (r < 0)
		return r;
	/* removing what is not there succeeds, as with Docker's drivers: a
	 * retried removal, or one after a kill that took the layer already */
	if (st_drv_exists(c.d, c.id) && (r = st_drv_remove(c.d, c.id, err)) < 0)
		st_error_wrap(err, "GraphDriver.Remove");
	else if ((r = dp_exact_forget(c.s, srv->name, c.docker_id, err)) < 0)
		st_error_wrap(err, "GraphDriver.Remove");
	call_end(&c);
	return r;
}

static int g_get(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct g_call c;
	char path[PATH_MAX];
	int r = call_layer(srv, &c, req, "GraphDriver.Get", false, true, err);
	if (r < 0)
		return r;
	if ((r = st_drv_get(c.d, c.id, path, sizeof(path), err)) < 0) {
		st_error_wrap(err, "GraphDriver.Get");
	} else {
		*reply = json_object_new_object();
		json_object_object_add(*reply, "Dir", json_object_new_string(path));
	}
	call_end(&c);
	return r;
}

static int g_put(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct g_call c;
	int r = call_layer(srv, &c, req, "GraphDriver.Put", false, true, err);
	if (r < 0)
		return r;
	/* a put without a get is harmless, as with Docker's drivers */
	if (st_drv_mount_count(c.d, c.id) > 0 && (r = st_drv_put(c.d, c.id, err)) < 0)
		st_error_wrap(err, "GraphDriver.Put");
	call_end(&c);
	return r;
}

static int g_exists(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct g_call c;
	int r = call_layer(srv, &c, req, "GraphDriver.Exists", false, false, err);
	if (r < 0)
		return r;
	*reply = json_object_new_object();
	json_object_object_add(*reply, "Exists", json_object_new_boolean(st_drv_exists(c.d, c.id)));
	call_end(&c);
	return 0;
}

static json_object *pair(const char *k, const char *v)
{
	json_object *a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(k));
	json_object_array_add(a, json_object_new_string(v));
	return a;
}

static int g_status(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct g_call c;
	int r = call_begin(srv, &c, err);
	if (r < 0)
		return r;
	struct st_kvlist kv = {0};
	json_object *a = json_object_new_array();
	json_object_array_add(a, pair("Strata Store", st_store_root(c.s)));
	json_object_array_add(a, pair("Strata Storage Driver", c.d->ops->name));
	st_drv_status(c.d, &kv);
	for (size_t i = 0; i < kv.n; i++)
		json_object_array_add(a, pair(kv.v[i].key, kv.v[i].value));
	st_kvlist_free(&kv);
	*reply = json_object_new_object();
	json_object_object_add(*reply, "Status", a);
	call_end(&c);
	return 0;
}

static int g_metadata(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct g_call c;
	int r = call_layer(srv, &c, req, "GraphDriver.GetMetadata", false, true, err);
	if (r < 0)
		return r;
	struct st_kvlist kv = {0};
	if (c.d->ops->metadata && (r = c.d->ops->metadata(c.d, c.id, &kv)) < 0)
		st_error_set(err, -r, "GraphDriver.GetMetadata: layer \"%s\"", st_json_str(req, "ID"));
	if (r >= 0) {
		json_object *m = json_object_new_object();
		for (size_t i = 0; i < kv.n; i++)
			json_object_object_add(m, kv.v[i].key, json_object_new_string(kv.v[i].value));
		*reply = json_object_new_object();
		json_object_object_add(*reply, "Metadata", m);
	}
	st_kvlist_free(&kv);
	call_end(&c);
	return r;
}

/* dockerd stops: its mounts go, and there is no Init to replay any more. */
static int g_cleanup(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	forget_mounts(srv, "GraphDriver.Cleanup");
	dp_graph_stop(srv);
	if (unlink(srv->state) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "GraphDriver.Cleanup: \"%s\"", srv->state);
	return 0;
}

static int g_changes(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct g_call c;
	int r = call_layer(srv, &c, req, "GraphDriver.Changes", true, true, err);
	if (r < 0)
		return r;
	struct st_changes ch = {0};
	if ((r = st_drv_changes(c.d, c.id, nz(c.parent), &ch, err)) < 0) {
		st_error_wrap(err, "GraphDriver.Changes");
	} else {
		/* archive.Change: Kind 0 modify, 1 add, 2 delete */
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < ch.n; i++) {
			json_object *o = json_object_new_object();
			int kind = ch.v[i].kind == ST_CHANGE_ADD ? 1 : ch.v[i].kind == ST_CHANGE_DELETE ? 2 : 0;
			json_object_object_add(o, "Path", json_object_new_string(ch.v[i].path));
			json_object_object_add(o, "Kind", json_object_new_int(kind));
			json_object_array_add(a, o);
		}
		*reply = json_object_new_object();
		json_object_object_add(*reply, "Changes", a);
	}
	st_changes_free(&ch);
	call_end(&c);
	return r;
}

static int g_diff_size(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	struct g_call c;
	int r = call_layer(srv, &c, req, "GraphDriver.DiffSize", true, true, err);
	if (r < 0)
		return r;
	int64_t size = st_drv_diff_size(c.d, c.id, nz(c.parent), err);
	if (size < 0) {
		r = (int)size;
		st_error_wrap(err, "GraphDriver.DiffSize");
	} else {
		*reply = json_object_new_object();
		json_object_object_add(*reply, "Size", json_object_new_int64(size));
	}
	call_end(&c);
	return r;
}

/* A layer's diff is the tar that filled it, byte for byte (exact.c). */
static int g_capabilities(struct dp_server *srv, json_object *req, json_object **reply, struct st_error *err)
{
	json_object *caps = json_object_new_object();
	json_object_object_add(caps, "ReproducesExactDiffs", json_object_new_boolean(true));
	*reply = json_object_new_object();
	json_object_object_add(*reply, "Capabilities", caps);
	return 0;
}

/* ---------------------------------------------------------------- Diff */

static int diff_prepare(struct dp_server *srv, json_object *req, void **ctx, struct st_error *err)
{
	struct g_call *c = malloc(sizeof(*c));
	if (!c)
		return st_error_set(err, ENOMEM, "GraphDriver.Diff");
	int r = call_layer(srv, c, req, "GraphDriver.Diff", true, true, err);
	if (r < 0) {
		free(c);
		return r;
	}
	*ctx = c;
	return 0;
}

/* Against its own parent, a layer that ApplyDiff filled gives back that
 * tar; any other diff is made from the files. */
static int diff_produce(void *ctx, struct st_writer *out, struct st_error *err)
{
	struct g_call *c = ctx;
	char own[DP_LAYER_ID_MAX] = "";
	int r = 0, rec = -ENOENT;
	if (!c->parent[0] || (st_drv_parent(c->d, c->id, own, sizeof(own), err) >= 0 && !strcmp(own, c->parent)))
		rec = dp_exact_open(c->s, c->srv->name, c->docker_id, err);
	if (rec >= 0) {
		int root = -1;
		if ((r = st_drv_open_dir(c->d, c->id, &root, err)) >= 0) {
			r = st_tarsplit_replay(rec, root, out, err);
			st_drv_release_dir(c->d, c->id, &root);
		}
		close(rec);
	} else {
		r = st_drv_diff(c->d, c->id, nz(c->parent), out, err);
	}
	return r < 0 ? st_error_wrap(err, "GraphDriver.Diff") : r;
}

static void call_free(void *ctx)
{
	call_end(ctx);
	free(ctx);
}

static const struct dp_stream_ops diff_ops = {
	.prepare = diff_prepare,
	.produce = diff_produce,
	.done = call_free,
};

/* ----------------------------------------------------------- ApplyDiff */

/* The layer is claimed by a lease while the tar goes in: a plugin killed
 * mid-apply leaves a dead lease, and the next open of the store removes
 * the half-filled layer (dockerd removes a layer whose apply failed, and
 * Remove of a layer that is gone succeeds). */
struct apply_call {
	struct g_call c;
	struct st_lease lease;
	bool leased;
};

static int apply_prepare(struct dp_server *srv, struct dp_query *q, void **ctx, struct st_error *err)
{
	struct apply_call *a = calloc(1, sizeof(*a));
	if (!a)
		return st_error_set(err, ENOMEM, "GraphDriver.ApplyDiff");
	json_object *req = json_object_new_object();
	json_object_object_add(req, "ID", json_object_new_string(dp_query_arg(q, "id")));
	json_object_object_add(req, "Parent", json_object_new_string(dp_query_arg(q, "parent")));
	int r = call_layer(srv, &a->c, req, "GraphDriver.ApplyDiff", true, true, err);
	json_object_put(req);
	if (r < 0) {
		free(a);
		return r;
	}
	if ((r = st_lease_new(a->c.s, &a->lease, err)) < 0 ||
	    (a->leased = true, r = st_lease_add_driver_layer(&a->lease, a->c.id, err)) < 0) {
		if (a->leased)
			st_lease_end(&a->lease);
		call_end(&a->c);
		free(a);
		return st_error_wrap(err, "GraphDriver.ApplyDiff");
	}
	*ctx = a;
	return 0;
}

static int apply_consume(void *ctx, struct st_reader *in, json_object **reply, struct st_error *err)
{
	struct apply_call *a = ctx;
	struct st_tar_in tin;
	struct dp_exact x;
	/* a second tar on the same layer: the layer is no one tar any more */
	int had = dp_exact_open(a->c.s, a->c.srv->name, a->c.docker_id, err);
	if (had >= 0)
		close(had);
	int r = dp_exact_begin(&x, a->c.s, a->c.srv->name, a->c.docker_id, err);
	if (r < 0)
		return st_error_wrap(err, "GraphDriver.ApplyDiff");
	if ((r = st_tar_in_init(&tin, in, err)) < 0) {
		dp_exact_abort(&x);
		return st_error_wrap(err, "GraphDriver.ApplyDiff");
	}
	tin.ts = x.ts;
	int64_t size = st_drv_apply_in(a->c.d, a->c.id, nz(a->c.parent), &tin, err);
	st_tar_in_free(&tin);
	if (size >= 0 && had >= 0) {
		dp_exact_abort(&x);
		r = dp_exact_forget(a->c.s, a->c.srv->name, a->c.docker_id, err);
	} else if (size >= 0) {
		r = dp_exact_commit(&x, err);
	}
	if (size < 0 || r < 0) {
		dp_exact_abort(&x);
		return st_error_wrap(err, "GraphDriver.ApplyDiff");
	}
	*reply = json_object_new_object();
	json_object_object_add(*reply, "Size", json_object_new_int64(size));
	return 0;
}

static void apply_done(void *ctx)
{
	struct apply_call *a = ctx;
	struct st_error e;
	/* the layer is dockerd's again, filled or not */
	if (st_lease_drop_driver_layer(&a->lease, a->c.id, &e) < 0)
		st_lease_abandon(&a->lease);
	else
		st_lease_end(&a->lease);
	call_end(&a->c);
	free(a);
}

static const struct dp_upload_ops apply_ops = {
	.prepare = apply_prepare,
	.consume = apply_consume,
	.done = apply_done,
};

const struct dp_route dp_graph_routes[] = {
	{"/GraphDriver.Init", g_init, NULL, NULL},
	{"/GraphDriver.Create", g_create, NULL, NULL},
	{"/GraphDriver.CreateReadWrite", g_create_rw, NULL, NULL},
	{"/GraphDriver.Remove", g_remove, NULL, NULL},
	{"/GraphDriver.Get", g_get, NULL, NULL},
	{"/GraphDriver.Put", g_put, NULL, NULL},
	{"/GraphDriver.Exists", g_exists, NULL, NULL},
	{"/GraphDriver.Status", g_status, NULL, NULL},
	{"/GraphDriver.GetMetadata", g_metadata, NULL, NULL},
	{"/GraphDriver.Cleanup", g_cleanup, NULL, NULL},
	{"/GraphDriver.Diff", NULL, &diff_ops, NULL},
	{"/GraphDriver.Changes", g_changes, NULL, NULL},
	{"/GraphDriver.ApplyDiff", NULL, NULL, &apply_ops},
	{"/GraphDriver.DiffSize", g_diff_size, NULL, NULL},
	{"/GraphDriver.Capabilities", g_capabilities, NULL, NULL},
	{NULL, NULL, NULL, NULL},
};
