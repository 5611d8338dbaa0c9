/* Making layers: registering a layer tar and committing a read-write
 * layer, both built under a lease (so a killed process leaves nothing
 * behind once the store is reopened) and published by renaming a finished
 * directory into place; and a layer's tar given back (tar-split replay or
 * the driver's diff). */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "store_int.h"

/* ----------------------------------------------------------- creation */

/* Publish a finished layer, or hold the existing one with the same chain
 * id. Returns 1 when an existing layer was reused. Caller holds the lock. */
static int publish(struct st_store *s, struct st_layer *l, int dfd, const char *tmp, const char *holder,
		   struct st_error *err)
{
	struct st_layer old;
	struct st_error e2;
	if (ls_load_layer(s, l->chain_id, &old, &e2) == 0) {
		int r = 0;
		if (!ls_has_holder(&old, holder)) {
			if (st_strv_push(&old.holders, &old.nholders, holder) < 0)
				r = st_error_set(err, ENOMEM, "layer");
			else
				r = ls_save_layer(s, &old, err);
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
	_cleanup_json_ json_object *o = ls_layer_json(l);
	int r = st_json_save_at(tfd, "meta.json", o, err);
	if (r < 0)
		return r;
	fsync(tfd);
	if (renameat(dfd, tmp, dfd, ls_hex_of(l->chain_id)) < 0)
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
	int r = ls_check_holder(holder, err);
	if (r < 0)
		return r;
	if (parent && *parent && !st_valid_digest(parent))
		return st_error_fail(err, EINVAL, "invalid parent layer \"%s\"", parent);
	if ((r = st_lease_new(s, &b->lease, err)) < 0)
		return r;
	if (parent && *parent) {
		if ((r = st_store_lock(s, err)) < 0)
			return r;
		r = ls_load_layer(s, parent, &b->parent, err);
		if (r >= 0)
			r = st_lease_add_layer(&b->lease, parent, err);
		st_store_unlock(s);
		if (r < 0)
			return r;
		b->has_parent = true;
	}
	if ((b->dfd = ls_layers_dir(s, err)) < 0)
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
	bool exists = ls_load_layer(s, l.chain_id, &old, &e2) == 0;
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
	r = ls_load_layer(s, chain_id, &l, err);
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
	dfd = ls_layers_dir(s, err);
	char p[256];
	snprintf(p, sizeof(p), "%s/tar-split.gz", ls_hex_of(l.chain_id));
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
		if (l.parent[0] && (r = ls_load_layer(s, l.parent, &pl, err)) >= 0) {
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
