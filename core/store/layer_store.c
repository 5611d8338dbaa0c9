/* The layer store: content-addressed layers (OCI DiffID / ChainID) over the
 * driver's layers (random cache ids).
 *
 *   layers/<chain hex>/meta.json      the layer (see layer_json)
 *   layers/<chain hex>/tar-split.gz   how to rebuild its original tar bytes
 *
 * New layers are built under a lease (so a killed process leaves nothing
 * behind once the store is reopened) and published by renaming a finished
 * directory into place. Removal renames to .trash-* first. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store.h"
#include "base/base.h"
#include "archive/archive.h"

void st_layer_free(struct st_layer *l)
{
	if (!l)
		return;
	st_strv_free(l->holders, l->nholders);
	l->holders = NULL;
	l->nholders = 0;
}

void st_layer_list_free(struct st_layer *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		st_layer_free(&v[i]);
	free(v);
}

static json_object *layer_json(const struct st_layer *l)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "chain_id", json_object_new_string(l->chain_id));
	json_object_object_add(o, "diff_id", json_object_new_string(l->diff_id));
	json_object_object_add(o, "parent", json_object_new_string(l->parent));
	json_object_object_add(o, "cache_id", json_object_new_string(l->cache_id));
	json_object_object_add(o, "size", json_object_new_int64(l->size));
	json_object_object_add(o, "tar_size", json_object_new_int64(l->tar_size));
	json_object_object_add(o, "created", json_object_new_int64(l->created));
	if (l->tar_split)
		json_object_object_add(o, "tar_split", json_object_new_boolean(true));
	json_object *h = json_object_new_array();
	for (size_t i = 0; i < l->nholders; i++)
		json_object_array_add(h, json_object_new_string(l->holders[i]));
	json_object_object_add(o, "holders", h);
	return o;
}

static int layer_from_json(json_object *o, struct st_layer *l, const char *what, struct st_error *err)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->chain_id, sizeof(l->chain_id), "%s", st_json_str(o, "chain_id"));
	snprintf(l->diff_id, sizeof(l->diff_id), "%s", st_json_str(o, "diff_id"));
	snprintf(l->parent, sizeof(l->parent), "%s", st_json_str(o, "parent"));
	snprintf(l->cache_id, sizeof(l->cache_id), "%s", st_json_str(o, "cache_id"));
	l->size = st_json_int(o, "size");
	l->tar_size = st_json_int(o, "tar_size");
	l->created = st_json_int(o, "created");
	json_object *ts;
	l->tar_split = json_object_object_get_ex(o, "tar_split", &ts) && json_object_get_boolean(ts);
	if (!st_valid_digest(l->chain_id) || !st_valid_digest(l->diff_id) || !st_valid_id(l->cache_id) ||
	    (l->parent[0] && !st_valid_digest(l->parent)))
		return st_error_fail(err, EINVAL, "layer metadata \"%s\" is damaged", what);
	json_object *h;
	if (json_object_object_get_ex(o, "holders", &h))
		for (size_t i = 0; i < json_object_array_length(h); i++)
			if (st_strv_push(&l->holders, &l->nholders,
					 json_object_get_string(json_object_array_get_idx(h, i))) < 0)
				return st_error_set(err, ENOMEM, "layer");
	return 0;
}

static const char *hex_of(const char *digest)
{
	return digest + 7;
}

static int layers_dir(struct st_store *s, struct st_error *err)
{
	return st_store_subdir(s, "layers", err);
}

static int load_layer(struct st_store *s, const char *chain, struct st_layer *l, struct st_error *err)
{
	if (!st_valid_digest(chain))
		return st_error_fail(err, EINVAL, "invalid layer id \"%s\": expected sha256:<64 hex digits>", chain);
	_cleanup_close_ int dfd = layers_dir(s, err);
	if (dfd < 0)
		return dfd;
	char p[256];
	snprintf(p, sizeof(p), "%s/meta.json", hex_of(chain));
	_cleanup_json_ json_object *o = NULL;
	struct st_error e2;
	int r = st_json_load_at(dfd, p, &o, &e2);
	if (r == -ENOENT || r == -ENOTDIR)
		return st_error_fail(err, ENOENT, "layer %s does not exist", chain);
	if (r < 0) {
		*err = e2;
		return r;
	}
	return layer_from_json(o, l, p, err);
}

static int save_layer(struct st_store *s, const struct st_layer *l, struct st_error *err)
{
	_cleanup_close_ int dfd = layers_dir(s, err);
	if (dfd < 0)
		return dfd;
	_cleanup_close_ int lfd = st_open_nofollow(dfd, hex_of(l->chain_id), O_RDONLY | O_DIRECTORY, 0);
	if (lfd < 0)
		return st_error_set(err, -lfd, "layer %s", l->chain_id);
	_cleanup_json_ json_object *o = layer_json(l);
	return st_json_save_at(lfd, "meta.json", o, err);
}

int st_layer_list(struct st_store *s, struct st_layer **out, size_t *n, struct st_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_close_ int dfd = layers_dir(s, err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t nn;
	int r = st_list_dir(dfd, &names, &nn);
	if (r < 0)
		return st_error_set(err, -r, "list \"%s/layers\"", s->root);
	struct st_layer *v = calloc(nn ? nn : 1, sizeof(*v));
	if (!v) {
		st_strv_free(names, nn);
		return st_error_set(err, ENOMEM, "list layers");
	}
	size_t k = 0;
	for (size_t i = 0; i < nn; i++) {
		if (names[i][0] == '.')
			continue;
		char chain[ST_DIGEST_LEN + 1];
		snprintf(chain, sizeof(chain), "sha256:%s", names[i]);
		struct st_error e2;
		if (load_layer(s, chain, &v[k], &e2) == 0)
			k++;
	}
	st_strv_free(names, nn);
	*out = v;
	*n = k;
	return 0;
}

int st_layer_get(struct st_store *s, const char *chain_id, struct st_layer *out, struct st_error *err)
{
	return load_layer(s, chain_id, out, err);
}

static bool has_holder(const struct st_layer *l, const char *holder)
{
	for (size_t i = 0; i < l->nholders; i++)
		if (strcmp(l->holders[i], holder) == 0)
			return true;
	return false;
}

static int check_holder(const char *holder, struct st_error *err)
{
	if (!holder || !*holder || strchr(holder, '\n') || strlen(holder) > 256)
		return st_error_fail(err, EINVAL, "invalid layer holder \"%s\"", holder ? holder : "");
	return 0;
}

int st_layer_hold(struct st_store *s, const char *chain_id, const char *holder, struct st_error *err)
{
	int r = check_holder(holder, err);
	if (r < 0 || (r = st_store_lock(s, err)) < 0)
		return r;
	struct st_layer l;
	if ((r = load_layer(s, chain_id, &l, err)) >= 0 && !has_holder(&l, holder)) {
		if (st_strv_push(&l.holders, &l.nholders, holder) < 0)
			r = st_error_set(err, ENOMEM, "layer");
		else
			r = save_layer(s, &l, err);
	}
	st_layer_free(&l);
	st_store_unlock(s);
	return r;
}

/* ------------------------------------------------------------- removal */

static bool has_children(struct st_store *s, const char *chain)
{
	struct st_layer *v;
	size_t n;
	struct st_error e;
	if (st_layer_list(s, &v, &n, &e) < 0)
		return true;
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = strcmp(v[i].parent, chain) == 0;
	st_layer_list_free(v, n);
	return any;
}

/* Remove chain if nothing holds it, then its parents the same way.
 * Caller holds the store lock. */
static int remove_unused(struct st_store *s, const char *chain, struct st_error *err)
{
	char cur[ST_DIGEST_LEN + 1];
	snprintf(cur, sizeof(cur), "%s", chain);
	while (cur[0]) {
		struct st_layer l;
		int r = load_layer(s, cur, &l, err);
		if (r < 0)
			return r;
		bool keep = l.nholders > 0 || has_children(s, cur) || st_lease_holds(s, cur);
		char parent[ST_DIGEST_LEN + 1], cache[129];
		snprintf(parent, sizeof(parent), "%s", l.parent);
		snprintf(cache, sizeof(cache), "%s", l.cache_id);
		st_layer_free(&l);
		if (keep)
			return 0;
		_cleanup_close_ int dfd = layers_dir(s, err);
		if (dfd < 0)
			return dfd;
		char rnd[17], trash[128];
		st_random_hex(rnd, 8);
		snprintf(trash, sizeof(trash), ".trash-%s-%s", hex_of(cur), rnd);
		if (renameat(dfd, hex_of(cur), dfd, trash) < 0)
			return st_error_set(err, errno, "remove layer %s", cur);
		st_fsync_dir(dfd);
		if (st_drv_exists(s->driver, cache) && (r = st_drv_remove(s->driver, cache, err)) < 0) {
			renameat(dfd, trash, dfd, hex_of(cur)); /* still there and usable */
			st_fsync_dir(dfd);
			return st_error_wrap(err, "remove layer %s", cur);
		}
		if ((r = st_rm_rf_at(dfd, trash, err)) < 0)
			return r;
		snprintf(cur, sizeof(cur), "%s", parent);
	}
	return 0;
}

int st_layer_release(struct st_store *s, const char *chain_id, const char *holder, struct st_error *err)
{
	int r = check_holder(holder, err);
	if (r < 0 || (r = st_store_lock(s, err)) < 0)
		return r;
	struct st_layer l;
	if ((r = load_layer(s, chain_id, &l, err)) < 0)
		goto out;
	bool found = false;
	for (size_t i = 0; i < l.nholders; i++) {
		if (strcmp(l.holders[i], holder) != 0)
			continue;
		free(l.holders[i]);
		memmove(&l.holders[i], &l.holders[i + 1], (l.nholders - i) * sizeof(char *));
		l.nholders--;
		found = true;
		break;
	}
	if (found)
		r = save_layer(s, &l, err);
	st_layer_free(&l);
	if (r >= 0)
		r = remove_unused(s, chain_id, err);
out:
	st_store_unlock(s);
	return r;
}

/* Finish removals and drop half-built layers left by killed processes. */
int st_layer_store_recover(struct st_store *s, struct st_error *err)
{
	_cleanup_close_ int dfd = layers_dir(s, err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t n;
	int r = st_list_dir(dfd, &names, &n);
	if (r < 0)
		return st_error_set(err, -r, "list \"%s/layers\"", s->root);
	char **parents = NULL;
	size_t nparents = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (st_str_has_prefix(names[i], ".trash-")) {
			/* the driver layer of a removal that was cut short */
			char p[256];
			snprintf(p, sizeof(p), "%s/meta.json", names[i]);
			_cleanup_json_ json_object *o = NULL;
			struct st_error e2;
			if (st_json_load_at(dfd, p, &o, &e2) == 0) {
				const char *cache = st_json_str(o, "cache_id");
				if (st_valid_id(cache) && st_drv_exists(s->driver, cache) &&
				    st_drv_remove(s->driver, cache, &e2) < 0) {
					/* busy: leave it for system check */
					continue;
				}
				/* the cut-short removal had yet to walk up to the parent */
				const char *parent = st_json_str(o, "parent");
				if (st_valid_digest(parent) && st_strv_push(&parents, &nparents, parent) < 0)
					r = st_error_set(err, ENOMEM, "recover layers");
			}
			if (r >= 0)
				r = st_rm_rf_at(dfd, names[i], err);
		} else if (st_str_has_prefix(names[i], ".tmp-")) {
			/* a layer being made by a live process has its driver layer leased */
			if (!st_lease_claims_driver_layer(s, names[i] + 5))
				r = st_rm_rf_at(dfd, names[i], err);
		}
	}
	for (size_t i = 0; i < nparents && r >= 0; i++) {
		struct st_layer l;
		struct st_error e2;
		if (load_layer(s, parents[i], &l, &e2) < 0)
			continue;
		st_layer_free(&l);
		remove_unused(s, parents[i], &e2); /* busy: left for system check */
	}
	st_strv_free(parents, nparents);
	st_strv_free(names, n);
	return r;
}

/* ----------------------------------------------------------- creation */

/* Publish a finished layer, or hold the existing one with the same chain
 * id. Returns 1 when an existing layer was reused. Caller holds the lock. */
static int publish(struct st_store *s, struct st_layer *l, int dfd, const char *tmp, const char *holder,
		   struct st_error *err)
{
	struct st_layer old;
	struct st_error e2;
	if (load_layer(s, l->chain_id, &old, &e2) == 0) {
		int r = 0;
		if (!has_holder(&old, holder)) {
			if (st_strv_push(&old.holders, &old.nholders, holder) < 0)
				r = st_error_set(err, ENOMEM, "layer");
			else
				r = save_layer(s, &old, err);
		}
		if (r >= 0) {
			st_layer_free(l);
			*l = old;
		} else {
			st_layer_free(&old);
		}
		return r < 0 ? r : 1;
	}
	if (st_strv_push(&l->holders, &l->nholders, holder) < 0)
		return st_error_set(err, ENOMEM, "layer");
	_cleanup_close_ int tfd = st_open_nofollow(dfd, tmp, O_RDONLY | O_DIRECTORY, 0);
	if (tfd < 0)
		return st_error_set(err, -tfd, "layer %s", l->chain_id);
	_cleanup_json_ json_object *o = layer_json(l);
	int r = st_json_save_at(tfd, "meta.json", o, err);
	if (r < 0)
		return r;
	fsync(tfd);
	if (renameat(dfd, tmp, dfd, hex_of(l->chain_id)) < 0)
		return st_error_set(err, errno, "publish layer %s", l->chain_id);
	st_fsync_dir(dfd);
	return 0;
}

struct build {
	struct st_lease lease;
	struct st_layer parent;
	bool has_parent;
	char cache_id[65];
	char tmp[96];
	int dfd;
};

static int build_begin(struct st_store *s, struct build *b, const char *parent, const char *holder,
		       struct st_error *err)
{
	memset(b, 0, sizeof(*b));
	b->dfd = -1;
	b->lease.lock_fd = -1;
	int r = check_holder(holder, err);
	if (r < 0)
		return r;
	if (parent && *parent && !st_valid_digest(parent))
		return st_error_fail(err, EINVAL, "invalid parent layer \"%s\"", parent);
	if ((r = st_lease_new(s, &b->lease, err)) < 0)
		return r;
	if (parent && *parent) {
		if ((r = st_store_lock(s, err)) < 0)
			return r;
		r = load_layer(s, parent, &b->parent, err);
		if (r >= 0)
			r = st_lease_add_layer(&b->lease, parent, err);
		st_store_unlock(s);
		if (r < 0)
			return r;
		b->has_parent = true;
	}
	if ((b->dfd = layers_dir(s, err)) < 0)
		return b->dfd;
	return 0;
}

static void build_end(struct build *b)
{
	if (b->dfd >= 0) {
		if (b->tmp[0]) {
			struct st_error ignore;
			st_rm_rf_at(b->dfd, b->tmp, &ignore);
		}
		close(b->dfd);
	}
	if (b->has_parent)
		st_layer_free(&b->parent);
	st_lease_end(&b->lease);
}

static void fill_identity(struct st_layer *l, const struct build *b, const char *diff_id)
{
	snprintf(l->diff_id, sizeof(l->diff_id), "%s", diff_id);
	snprintf(l->parent, sizeof(l->parent), "%s", b->has_parent ? b->parent.chain_id : "");
	st_chain_id(l->parent, l->diff_id, l->chain_id);
	l->created = time(NULL);
}

int st_layer_register(struct st_store *s, const char *parent, struct st_reader *in,
		      const char *holder, struct st_layer *out, struct st_error *err)
{
	struct build b;
	struct st_layer l = {0};
	struct st_tar_in tin;
	bool tin_ok = false;
	struct st_tarsplit *ts = NULL;
	_cleanup_close_ int tsfd = -1;
	int r = build_begin(s, &b, parent, holder, err);
	if (r < 0)
		goto out;
	st_random_hex(b.cache_id, 32);
	snprintf(b.tmp, sizeof(b.tmp), ".tmp-%s", b.cache_id);
	if ((r = st_lease_add_driver_layer(&b.lease, b.cache_id, err)) < 0)
		goto out;
	if (mkdirat(b.dfd, b.tmp, 0700) < 0) {
		r = st_error_set(err, errno, "create \"%s/layers/%s\"", s->root, b.tmp);
		goto out;
	}
	char tsname[160];
	snprintf(tsname, sizeof(tsname), "%s/tar-split.gz", b.tmp);
	tsfd = openat(b.dfd, tsname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (tsfd < 0 || st_tarsplit_new(tsfd, &ts) < 0) {
		r = st_error_set(err, tsfd < 0 ? errno : ENOMEM, "create tar-split record");
		goto out;
	}
	if ((r = st_drv_create(s->driver, b.cache_id, b.has_parent ? b.parent.cache_id : NULL, false, NULL, err)) < 0)
		goto out;
	if ((r = st_tar_in_init(&tin, in, err)) < 0)
		goto out;
	tin_ok = true;
	tin.ts = ts;
	int64_t size = st_drv_apply_in(s->driver, b.cache_id, b.has_parent ? b.parent.cache_id : NULL, &tin, err);
	if (size < 0) {
		r = (int)size;
		goto out;
	}
	r = st_tarsplit_close(ts);
	ts = NULL;
	if (r < 0 || fsync(tsfd) < 0) {
		r = st_error_set(err, r < 0 ? -r : errno, "write tar-split record");
		goto out;
	}
	fill_identity(&l, &b, tin.diff_id);
	snprintf(l.cache_id, sizeof(l.cache_id), "%s", b.cache_id);
	l.size = size;
	l.tar_size = tin.pos;
	l.tar_split = true;
	if ((r = st_store_lock(s, err)) < 0)
		goto out;
	r = publish(s, &l, b.dfd, b.tmp, holder, err);
	st_store_unlock(s);
	if (r == 0) {
		b.tmp[0] = '\0'; /* published: no longer ours to delete */
		st_lease_drop_driver_layer(&b.lease, b.cache_id, err);
	}
	if (r > 0)
		r = 0; /* reused: the lease removes our copy below */
out:
	if (ts)
		st_tarsplit_abort(ts);
	if (tin_ok)
		st_tar_in_free(&tin);
	if (r >= 0 && out) {
		*out = l;
		memset(&l, 0, sizeof(l));
	}
	st_layer_free(&l);
	/* anything of ours that was not published goes now */
	if (st_drv_parent(s->driver, b.cache_id, (char[130]){0}, 130, &(struct st_error){0}) == 0 &&
	    (r < 0 || b.tmp[0])) {
		struct st_error ignore;
		st_drv_remove(s->driver, b.cache_id, &ignore);
	}
	build_end(&b);
	return r;
}

int st_layer_commit_rw(struct st_store *s, const char *parent, const char *rw_id, const char *holder,
		       struct st_layer *out, struct st_error *err)
{
	struct build b;
	struct st_layer l = {0};
	int r = build_begin(s, &b, parent, holder, err);
	if (r < 0)
		goto out;
	if (!st_drv_exists(s->driver, rw_id)) {
		r = st_error_fail(err, ENOENT, "read-write layer \"%s\" does not exist", rw_id);
		goto out;
	}
	if ((r = st_lease_add_driver_layer(&b.lease, rw_id, err)) < 0)
		goto out;
	const char *pcache = b.has_parent ? b.parent.cache_id : NULL;
	/* what the layer holds without a change (copied-up directories) is
	 * no part of it; a failure here leaves them, which is only untidy */
	struct st_error e_tidy;
	st_drv_tidy(s->driver, rw_id, &e_tidy);
	struct st_hash_writer hw;
	struct st_writer w;
	if ((r = st_sha256_init(&hw.h)) < 0) {
		r = st_error_set(err, -r, "commit");
		goto out;
	}
	st_hash_writer_init(&hw, NULL, &w);
	r = st_drv_diff(s->driver, rw_id, pcache ? pcache : "", &w, err);
	char diff_id[ST_DIGEST_LEN + 1];
	st_sha256_final(&hw.h, diff_id);
	if (r < 0)
		goto out;
	int64_t size = st_drv_diff_size(s->driver, rw_id, pcache ? pcache : "", err);
	if (size < 0) {
		r = (int)size;
		goto out;
	}
	fill_identity(&l, &b, diff_id);
	snprintf(l.cache_id, sizeof(l.cache_id), "%s", rw_id);
	l.size = size;
	l.tar_size = hw.bytes;
	snprintf(b.tmp, sizeof(b.tmp), ".tmp-%s", rw_id);
	if (mkdirat(b.dfd, b.tmp, 0700) < 0) {
		r = st_error_set(err, errno, "create \"%s/layers/%s\"", s->root, b.tmp);
		goto out;
	}
	if ((r = st_store_lock(s, err)) < 0)
		goto out;
	struct st_layer old;
	struct st_error e2;
	bool exists = load_layer(s, l.chain_id, &old, &e2) == 0;
	if (exists)
		st_layer_free(&old);
	else if ((r = st_drv_commit(s->driver, rw_id, err)) < 0) {
		st_store_unlock(s);
		goto out;
	}
	r = publish(s, &l, b.dfd, b.tmp, holder, err);
	st_store_unlock(s);
	if (r == 0) {
		b.tmp[0] = '\0';
		st_lease_drop_driver_layer(&b.lease, rw_id, err);
	} else if (r > 0) {
		r = 0;
	}
out:
	if (r >= 0 && out) {
		*out = l;
		memset(&l, 0, sizeof(l));
	}
	st_layer_free(&l);
	/* a duplicate or failed commit: the read-write layer is consumed */
	if (st_drv_exists(s->driver, rw_id) && (r < 0 || b.tmp[0])) {
		struct st_error ignore;
		while (st_drv_mount_count(s->driver, rw_id) > 0 && st_drv_put(s->driver, rw_id, &ignore) == 0)
			;
		st_drv_remove(s->driver, rw_id, &ignore);
	}
	build_end(&b);
	return r;
}

/* ------------------------------------------------------------ export */

int st_layer_tar(struct st_store *s, const char *chain_id, struct st_writer *out, struct st_error *err)
{
	struct st_lease lease;
	struct st_layer l = {0};
	_cleanup_close_ int dfd = -1, tsfd = -1;
	int r = st_lease_new(s, &lease, err);
	if (r < 0)
		return r;
	if ((r = st_store_lock(s, err)) < 0)
		goto out;
	r = load_layer(s, chain_id, &l, err);
	if (r >= 0)
		r = st_lease_add_layer(&lease, chain_id, err);
	st_store_unlock(s);
	if (r < 0)
		goto out;
	/* the check of the diff id is hashed on a helper thread */
	struct st_hashring_writer hw;
	struct st_writer w;
	if ((r = st_hashring_writer_init(&hw, out, &w)) < 0) {
		r = st_error_set(err, -r, "layer tar");
		goto out;
	}
	dfd = layers_dir(s, err);
	char p[256];
	snprintf(p, sizeof(p), "%s/tar-split.gz", hex_of(l.chain_id));
	tsfd = dfd >= 0 ? openat(dfd, p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	if (tsfd >= 0) {
		int root = -1;
		r = st_drv_open_dir(s->driver, l.cache_id, &root, err);
		if (r >= 0) {
			r = st_tarsplit_replay(tsfd, root, &w, err);
			st_drv_release_dir(s->driver, l.cache_id, &root);
		}
	} else {
		char pcache[129] = "";
		struct st_layer pl;
		if (l.parent[0] && (r = load_layer(s, l.parent, &pl, err)) >= 0) {
			snprintf(pcache, sizeof(pcache), "%s", pl.cache_id);
			st_layer_free(&pl);
		}
		if (r >= 0)
			r = st_drv_diff(s->driver, l.cache_id, pcache, &w, err);
	}
	char got[ST_DIGEST_LEN + 1];
	st_hashring_writer_final(&hw, got);
	st_hashring_writer_free(&hw);
	if (r >= 0 && strcmp(got, l.diff_id) != 0)
		r = st_error_fail(err, EIO, "layer %s: its content no longer matches its diff id %s (got %s)",
				  l.chain_id, l.diff_id, got);
out:
	st_layer_free(&l);
	st_lease_end(&lease);
	return r < 0 ? st_error_wrap(err, "layer tar") : 0;
}
