/* Removing driver layers (marked first, so that a kill midway is finished
 * by the next open), listing them, recovering what a killed process left,
 * and the records system check reads. */
#include <fcntl.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"
#include "driver_int.h"

/* ------------------------------------------------------------- remove */

/* A removal is marked first, so that a kill midway is finished by the next
 * open: the record says "removing". On a full disk the record cannot be
 * rewritten (a removal is often what frees the space); it is renamed to
 * ".removing-ID" instead, which takes no data space and which recovery
 * finishes the same way. */
static int mark_removing(struct st_driver *d, const char *id, struct drv_rec *rec, bool *renamed, struct st_error *err)
{
	*renamed = false;
	strcpy(rec->state, "removing");
	struct st_error e2 = {0};
	int r = drv_rec_write(d, id, rec, &e2);
	if (r != -ENOSPC && r != -EDQUOT) {
		if (r < 0)
			*err = e2;
		return r;
	}
	_cleanup_close_ int dfd = drv_meta_dir(d, "layers", err);
	char marker[160];
	snprintf(marker, sizeof(marker), ".removing-%s", id);
	if (dfd < 0 || renameat(dfd, id, dfd, marker) < 0) {
		*err = e2;
		return r;
	}
	st_fsync_dir(dfd);
	drv_pending_mark(d, id, true, true); /* an empty file: no data space */
	*renamed = true;
	return 0;
}

/* The data is gone: drop the child link, the mount count and the record. */
static int removed(struct st_driver *d, const char *id, const char *parent, const char *record, struct st_error *err)
{
	struct st_error ignore;
	if (parent[0])
		drv_child_link(d, parent, id, false, &ignore);
	_cleanup_close_ int mfd = drv_meta_dir(d, "mounts", &ignore);
	if (mfd >= 0)
		unlinkat(mfd, id, 0);
	_cleanup_close_ int dfd = drv_meta_dir(d, "layers", err);
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, record, 0) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "remove record of layer \"%s\"", id);
	st_fsync_dir(dfd);
	drv_pending_mark(d, id, false, false);
	return 0;
}

static int remove_locked(struct st_driver *d, const char *id, struct drv_rec *rec, struct st_error *err)
{
	bool renamed;
	int r = mark_removing(d, id, rec, &renamed, err);
	if (r < 0)
		return r;
	char marker[160];
	snprintf(marker, sizeof(marker), ".removing-%s", id);
	if (d->ops->exists(d, id) && (r = d->ops->remove(d, id, err)) < 0) {
		/* still there and usable */
		struct st_error ignore;
		_cleanup_close_ int dfd = drv_meta_dir(d, "layers", &ignore);
		if (renamed && dfd >= 0) {
			renameat(dfd, marker, dfd, id); /* its content still says ready */
		} else {
			strcpy(rec->state, "ready");
			drv_rec_write(d, id, rec, &ignore);
		}
		return r;
	}
	return removed(d, id, rec->parent, renamed ? marker : id, err);
}

/* Finish a removal marked by a renamed record (recovery, layer locked). */
static int finish_marked_removal(struct st_driver *d, int dfd, const char *marker, const char *id, struct st_error *err)
{
	_cleanup_json_ json_object *o = NULL;
	struct st_error e2;
	char parent[130] = "";
	if (st_json_load_at(dfd, marker, &o, &e2) == 0)
		snprintf(parent, sizeof(parent), "%s", st_json_str(o, "parent"));
	int r;
	if (d->ops->exists(d, id) && (r = d->ops->remove(d, id, err)) < 0)
		return r;
	return removed(d, id, parent, marker, err);
}

int st_drv_remove(struct st_driver *d, const char *id, struct st_error *err)
{
	int r = drv_check_id("layer id", id, err);
	if (r < 0)
		return r;
	int lfd = drv_layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct drv_rec rec;
	if ((r = drv_rec_read(d, id, &rec, err)) < 0) {
		st_unlock(&lfd);
		return r;
	}
	drv_mc_reap_id_locked(d, id);
	int mc = st_drv_mount_count(d, id);
	if (mc > 0) {
		st_unlock(&lfd);
		return st_error_fail(err, EBUSY, "layer \"%s\" is mounted (%d user%s): unmount it first", id, mc,
				     mc == 1 ? "" : "s");
	}
	char **kids;
	size_t nk;
	drv_children_of(d, id, &kids, &nk);
	if (nk > 0) {
		r = st_error_fail(err, EBUSY, "layer \"%s\" has %zu child layer%s (%s%s): remove them first", id, nk,
				  nk == 1 ? "" : "s", kids[0], nk > 1 ? ", ..." : "");
		st_strv_free(kids, nk);
		st_unlock(&lfd);
		return r;
	}
	st_strv_free(kids, nk);
	r = remove_locked(d, id, &rec, err);
	/* the lock file goes with the layer */
	struct st_error ignore;
	_cleanup_close_ int kfd = drv_meta_dir(d, "locks", &ignore);
	if (r >= 0 && kfd >= 0)
		unlinkat(kfd, id, 0);
	st_unlock(&lfd);
	return r;
}

int st_drv_list(struct st_driver *d, char ***ids, size_t *n, struct st_error *err)
{
	_cleanup_close_ int dfd = drv_meta_dir(d, "layers", err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t nn;
	int r = st_list_dir(dfd, &names, &nn);
	if (r < 0)
		return st_error_set(err, -r, "list layers in \"%s\"", d->home);
	*ids = NULL;
	*n = 0;
	for (size_t i = 0; i < nn && r >= 0; i++)
		if (st_valid_id(names[i]) && st_drv_exists(d, names[i]))
			r = st_strv_push(ids, n, names[i]);
	st_strv_free(names, nn);
	return r < 0 ? st_error_set(err, ENOMEM, "list layers") : 0;
}

/* ".tmp-ID-RANDOM" (st_atomic_write_at's temporary name) -> ID */
static bool tmp_record_id(const char *name, char *id, size_t len)
{
	const char *dash = strrchr(name, '-');
	if (!st_str_has_prefix(name, ".tmp-") || !dash || dash <= name + 5 || strlen(dash + 1) != 16)
		return false;
	snprintf(id, len, "%.*s", (int)(dash - name - 5), name + 5);
	return st_valid_id(id);
}

/* Nobody holds the layer's lock (a missing lock file is free too; no lock
 * file is created). */
static bool lock_is_free(int kfd, const char *id)
{
	struct stat st;
	if (fstatat(kfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return true;
	struct st_error e;
	int fd = st_trylock_at(kfd, id, LOCK_EX, &e);
	if (fd == -EWOULDBLOCK)
		return false;
	st_unlock(&fd);
	return true;
}

/* A record other than ready is a create or removal a killed process left:
 * finish it by removing the layer. A ready one (or none) only loses its
 * pending mark. A layer someone has locked is work under way. */
static int recover_record(struct st_driver *d, int kfd, const char *id, struct st_error *err)
{
	struct st_error e2;
	int lfd = st_trylock_at(kfd, id, LOCK_EX, &e2);
	if (lfd < 0)
		return 0;
	struct drv_rec rec;
	int r = 0;
	char marker[200];
	snprintf(marker, sizeof(marker), ".strata/layers/.removing-%s", id);
	if (faccessat(d->home_fd, marker, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		; /* a renamed record the sweep of leftovers could not finish (busy) */
	else if (drv_rec_read(d, id, &rec, &e2) == 0 && strcmp(rec.state, "ready") != 0)
		r = remove_locked(d, id, &rec, err);
	else
		drv_pending_mark(d, id, false, false);
	st_unlock(&lfd);
	return r;
}

int st_drv_recover(struct st_driver *d, struct st_error *err)
{
	_cleanup_close_ int dfd = drv_meta_dir(d, "layers", err);
	_cleanup_close_ int kfd = drv_meta_dir(d, "locks", err);
	if (dfd < 0 || kfd < 0)
		return dfd < 0 ? dfd : kfd;
	/* a home from before pending/: every record is read once */
	_cleanup_close_ int pfd = st_open_nofollow(d->home_fd, ".strata/pending", O_RDONLY | O_DIRECTORY, 0);
	bool full = pfd == -ENOENT;
	if (pfd < 0 && !full)
		return st_error_set(err, -pfd, "driver %s: open \"%s/.strata/pending\"", d->ops->name, d->home);
	char **names;
	size_t n;
	int r = 0;
	if (!d->sweep)
		goto mounts; /* nothing a killed process left */
	/* the leftovers (renamed records, temporary files), then the records */
	if ((r = st_list_dir_prefix(dfd, full ? NULL : ".", &names, &n)) < 0)
		return st_error_set(err, -r, "list layers in \"%s\"", d->home);
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (st_str_has_prefix(names[i], ".removing-") && st_valid_id(names[i] + 10)) {
			struct st_error e2;
			int lfd = st_trylock_at(kfd, names[i] + 10, LOCK_EX, &e2);
			if (lfd < 0)
				continue;
			finish_marked_removal(d, dfd, names[i], names[i] + 10, &e2); /* busy: the next open retries */
			st_unlock(&lfd);
			continue;
		}
		if (st_str_has_prefix(names[i], ".tmp-")) {
			/* a record's temporary file: another process may be writing
			 * it under the layer's lock right now */
			char id[160];
			if (!tmp_record_id(names[i], id, sizeof(id)) || lock_is_free(kfd, id))
				unlinkat(dfd, names[i], 0);
			continue;
		}
		if (full && st_valid_id(names[i]))
			r = recover_record(d, kfd, names[i], err);
	}
	st_strv_free(names, n);
	if (r < 0)
		return r;
	if (full) {
		if (mkdirat(d->home_fd, ".strata/pending", 0700) < 0 && errno != EEXIST)
			return st_error_set(err, errno, "driver %s: create \"%s/.strata/pending\"", d->ops->name, d->home);
	} else if (st_list_dir(pfd, &names, &n) == 0) {
		for (size_t i = 0; i < n && r >= 0; i++)
			if (st_valid_id(names[i]))
				r = recover_record(d, kfd, names[i], err);
		st_strv_free(names, n);
	}
mounts:;
	/* mounts that killed processes used for a moment */
	_cleanup_close_ int mfd = drv_meta_dir(d, "mounts", err);
	if (r < 0 || mfd < 0 || st_list_dir(mfd, &names, &n) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (!st_valid_id(names[i]))
			continue;
		struct st_error e2;
		int lfd = st_trylock_at(kfd, names[i], LOCK_EX, &e2);
		if (lfd < 0)
			continue;
		drv_mc_reap_id_locked(d, names[i]);
		st_unlock(&lfd);
	}
	st_strv_free(names, n);
	return r;
}

/* ------------------------------------------------- for system check */

int st_drv_record_get(struct st_driver *d, const char *id, struct st_drv_record *out, struct st_error *err)
{
	memset(out, 0, sizeof(*out));
	int r = drv_check_id("layer id", id, err);
	if (r < 0)
		return r;
	struct drv_rec rec;
	if ((r = drv_rec_read(d, id, &rec, err)) < 0)
		return r;
	snprintf(out->parent, sizeof(out->parent), "%s", rec.parent);
	snprintf(out->state, sizeof(out->state), "%s", rec.state);
	out->rw = rec.rw;
	out->data = d->ops->exists(d, id);
	_cleanup_close_ int kfd = drv_meta_dir(d, "locks", err);
	out->busy = kfd >= 0 && !lock_is_free(kfd, id);
	return 0;
}

int st_drv_record_ids(struct st_driver *d, const char *what, char ***ids, size_t *n, struct st_error *err)
{
	*ids = NULL;
	*n = 0;
	_cleanup_close_ int dfd = drv_meta_dir(d, what, err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t nn;
	int r = st_list_dir(dfd, &names, &nn);
	if (r < 0)
		return st_error_set(err, -r, "list \"%s/.strata/%s\"", d->home, what);
	for (size_t i = 0; i < nn && r >= 0; i++)
		if (st_valid_id(names[i]))
			r = st_strv_push(ids, n, names[i]);
	st_strv_free(names, nn);
	return r < 0 ? st_error_set(err, ENOMEM, "list layers") : 0;
}

int st_drv_children(struct st_driver *d, const char *id, char ***kids, size_t *n)
{
	return drv_children_of(d, id, kids, n);
}

int st_drv_child_link(struct st_driver *d, const char *parent, const char *child, bool add, struct st_error *err)
{
	int r = drv_check_id("layer id", parent, err);
	if (r < 0 || (r = drv_check_id("layer id", child, err)) < 0)
		return r;
	return drv_child_link(d, parent, child, add, err);
}
