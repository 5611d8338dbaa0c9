/* devmapper's thin devices: activation and deactivation, mounts, create
 * (create_thin / create_snap) and delete (deferred while busy) inside pool
 * transactions, and the recovery of what a killed process left. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"
#include "devmapper.h"

/* ------------------------------------------------ device activation */

int dm_dev_activate(struct dmset *s, const char *name, const struct dmrec *rec, struct st_error *err)
{
	struct dmlib_info info;
	int r = dmlib_info(name, &info, err);
	if (r < 0)
		return r;
	if (info.exists) {
		/* a deferred removal that has not happened yet: keep it */
		if (info.deferred_remove && (r = dmlib_message(name, "@cancel_deferred_remove", err)) < 0)
			return r;
		return 0;
	}
	char params[64];
	snprintf(params, sizeof(params), "%" PRIu32 ":%" PRIu32 " %" PRIu32, s->pool_major, s->pool_minor,
		 rec->device_id);
	return dmlib_create(name, "thin", rec->size / 512, params, err);
}

int dm_dev_deactivate(struct dmset *s, const char *name, struct st_error *err)
{
	struct dmlib_info info;
	int r = dmlib_info(name, &info, err);
	if (r < 0 || !info.exists)
		return r;
	if (info.deferred_remove)
		return 0;
	r = dmlib_remove(name, s->deferred_removal ? DMLIB_REMOVE_ONCE : DMLIB_REMOVE_RETRY, err);
	if (r == -EBUSY && s->deferred_removal)
		r = dmlib_remove(name, DMLIB_REMOVE_DEFERRED, err); /* the kernel removes it after its last user */
	if (r == -EBUSY)
		return st_error_wrap(err, "devmapper: device \"%s\" is busy (dm.use_deferred_removal=true removes it "
				     "when its last user closes it)", name);
	return r;
}

int dm_mnt_path(struct st_driver *d, const char *id, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/mnt/%s", d->home, id) >= (int)len ? -ENAMETOOLONG : 0;
}

/* Mount an active device at mnt/ID, through the directory's fd so that no
 * path outside the home is followed. */
int dm_dev_mount(struct st_driver *d, const char *id, const char *node, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	if (mkdirat(s->mnt_fd, id, 0700) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "devmapper: create mount point \"%s/mnt/%s\"", d->home, id);
	char path[PATH_MAX];
	dm_mnt_path(d, id, path, sizeof(path));
	if (st_is_mountpoint(path))
		return 0; /* still mounted by an earlier process */
	_cleanup_close_ int fd = st_open_nofollow(s->mnt_fd, id, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return st_error_set(err, -fd, "devmapper: open mount point \"%s\"", path);
	char target[64], opts[640];
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	/* xfs refuses a second filesystem with the same uuid (every snapshot
	 * has the base's); ext4 must not zero inode tables in the background
	 * (that would allocate them in every snapshot) */
	snprintf(opts, sizeof(opts), "%s%s%s", strcmp(s->fs, "xfs") == 0 ? "nouuid" : "noinit_itable",
		 s->mountopt[0] ? "," : "", s->mountopt);
	if (mount(node, target, s->fs, 0, opts) < 0)
		return st_error_set(err, errno, "devmapper: mount \"%s\" (%s, %s) on \"%s\"", node, s->fs, opts, path);
	return 0;
}

int dm_dev_umount(struct st_driver *d, const char *id, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	char path[PATH_MAX];
	dm_mnt_path(d, id, path, sizeof(path));
	if (st_is_mountpoint(path) && umount2(path, UMOUNT_NOFOLLOW) < 0) {
		if (errno != EBUSY || !s->deferred_removal)
			return st_error_set(err, errno, "devmapper: unmount \"%s\"", path);
		/* busy: detach it now; the device goes when its users do */
		if (umount2(path, UMOUNT_NOFOLLOW | MNT_DETACH) < 0)
			return st_error_set(err, errno, "devmapper: detach \"%s\"", path);
	}
	unlinkat(s->mnt_fd, id, AT_REMOVEDIR);
	return 0;
}

/* ---------------------------------------------------- device changes */

/* A new thin device: a snapshot of origin (an active origin is suspended
 * around the message so that its filesystem is consistent in the copy) or,
 * without origin, an empty one. Records it under id. */
int dm_dev_create(struct st_driver *d, const char *id, const struct dmrec *origin, const char *origin_name,
		  uint64_t size, struct dmrec *out, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	struct dmlib_info oinfo = {0};
	int r;
	if (origin && (r = dmlib_info(origin_name, &oinfo, err)) < 0)
		return r;
	bool suspend = origin && oinfo.exists && !oinfo.suspended;
	if (suspend && (r = dmlib_suspend(origin_name, err)) < 0)
		return r;
	uint32_t devid = 0;
	r = -EEXIST;
	/* ids may be taken by devices that an older store left in the pool */
	for (int attempt = 0; attempt < 1000 && r == -EEXIST; attempt++) {
		devid = s->next_id;
		s->next_id = dm_next_device_id(s->next_id);
		if ((r = dm_txn_open(d, "create", id, devid, err)) < 0)
			break;
		if (origin)
			r = dm_pool_message_err(s, err, "create_snap %" PRIu32 " %" PRIu32, devid, origin->device_id);
		else
			r = dm_pool_message_err(s, err, "create_thin %" PRIu32, devid);
		if (r < 0)
			dm_txn_abort(d);
	}
	if (suspend) {
		struct st_error e2;
		int r2 = dmlib_resume(origin_name, &e2);
		if (r2 < 0 && r >= 0) {
			*err = e2;
			r = r2; /* the snapshot exists; roll it back below */
			if (dm_pool_message(s, "delete %" PRIu32, devid) >= 0)
				dm_txn_abort(d);
			return r;
		}
	}
	if (r < 0)
		return st_error_wrap(err, "devmapper: create device for \"%s\"", id);
	dm_fault("create-after-message");
	*out = (struct dmrec){.device_id = devid, .size = size, .transaction_id = s->tid + 1};
	if ((r = dm_rec_save(s->meta_fd, id, out, err)) < 0 || (r = dm_txn_close(d, err)) < 0) {
		/* roll back now if we can; else the next open does */
		if (dm_rec_unlink(s->meta_fd, id, err) >= 0 && dm_pool_message(s, "delete %" PRIu32, devid) >= 0)
			dm_txn_abort(d);
		return r;
	}
	return 0;
}

/* Delete a device from the pool and its record (name in dirfd). Returns
 * -EBUSY (pool untouched) while the device is still open. */
int dm_dev_delete(struct st_driver *d, int dirfd, const char *name, const char *id, const struct dmrec *rec,
		  struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int r = dm_txn_open(d, "delete", id, rec->device_id, err);
	if (r < 0)
		return r;
	r = dm_pool_message_err(s, err, "delete %" PRIu32, rec->device_id);
	if (r == -ENODATA)
		r = 0; /* already gone from the pool */
	if (r < 0) {
		dm_txn_abort(d);
		return r;
	}
	dm_fault("delete-after-message");
	if ((r = dm_rec_unlink(dirfd, name, err)) < 0)
		return r;
	return dm_txn_close(d, err);
}

/* Deletions that waited for their devices' last users. */
void dm_dev_deferred_sweep(struct st_driver *d)
{
	struct dmset *s = dm_set(d);
	char **names;
	size_t n;
	if (st_list_dir(s->deferred_fd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct dmrec rec;
		struct st_error e;
		char dm_name[160];
		if (dm_rec_load(s->deferred_fd, names[i], &rec, &e) < 0)
			continue;
		dm_dev_name(s, names[i], &rec, dm_name, sizeof(dm_name));
		struct dmlib_info info;
		if (dmlib_info(dm_name, &info, &e) < 0 || info.exists)
			continue; /* still in use */
		dm_dev_delete(d, s->deferred_fd, names[i], "", &rec, &e);
	}
	st_strv_free(names, n);
}

/* Thin devices of ours that are active but unused: a process killed
 * between activation and mount (or unmount and deactivation) left them.
 * Every activation and mount happens under .lock, which the caller holds,
 * so an unopened device is nobody's. */
void dm_dev_deactivate_leftovers(struct dmset *s)
{
	char prefix[128], pool[160];
	snprintf(prefix, sizeof(prefix), "%s-", s->prefix);
	snprintf(pool, sizeof(pool), "%s-pool", s->prefix);
	char **names;
	size_t n;
	struct st_error e;
	if (dmlib_list(prefix, &names, &n, &e) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct dmlib_info info;
		if (strcmp(names[i], pool) != 0 && dmlib_info(names[i], &info, &e) == 0 && info.exists &&
		    info.open_count == 0 && !info.deferred_remove)
			dmlib_remove(names[i], DMLIB_REMOVE_ONCE, &e);
	}
	st_strv_free(names, n);
}

int dm_dev_count(int dirfd)
{
	char **names;
	size_t n;
	if (st_list_dir(dirfd, &names, &n) < 0)
		return 0;
	int c = 0;
	for (size_t i = 0; i < n; i++)
		c += names[i][0] != '.';
	st_strv_free(names, n);
	return c;
}

/* --------------------------------------------------------- recovery */

/* Finish or roll back the transaction a killed process left open. */
int dm_recover(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	struct pool_status ps;
	int r = dm_pool_status(s, &ps, err);
	if (r < 0)
		return r;
	struct dmtxn t;
	struct st_error e2;
	r = dm_txn_load(d, &t, &e2);
	if (r == -ENOENT) {
		if (ps.tid != s->tid)
			return st_error_fail(err, EUCLEAN,
					     "devmapper: thin pool \"%s\" is at transaction %" PRIu64
					     " but \"%s\" recorded %" PRIu64 ": it was changed by something else",
					     s->pool, ps.tid, d->home, s->tid);
		return 0;
	}
	if (r < 0) {
		*err = e2;
		return r;
	}
	if (t.tid != s->tid + 1 || (ps.tid != s->tid && ps.tid != t.tid))
		return st_error_fail(err, EUCLEAN,
				     "devmapper: open transaction %" PRIu64 " does not follow the recorded %" PRIu64
				     " (pool at %" PRIu64 ")",
				     t.tid, s->tid, ps.tid);
	if (ps.tid == t.tid) {
		/* the pool side was complete; only the bookkeeping was not */
		s->tid = t.tid;
		if (t.device_id >= s->next_id)
			s->next_id = dm_next_device_id(t.device_id);
		if ((r = dm_state_save(d, err)) < 0)
			return r;
		dm_txn_abort(d);
		return 0;
	}
	char name[160];
	struct dmrec rec = {.device_id = t.device_id};
	dm_dev_name(s, t.id[0] ? t.id : "", &rec, name, sizeof(name));
	if (strcmp(t.op, "create") == 0) {
		struct dmrec have;
		if (t.id[0] && dm_rec_load(s->meta_fd, t.id, &have, &e2) == 0 && have.device_id == t.device_id &&
		    have.transaction_id == t.tid)
			return dm_txn_close(d, err); /* the record was written: roll forward */
		/* the pool message may or may not have happened: roll back */
		if ((r = dm_dev_deactivate(s, name, err)) < 0)
			return r;
		r = dm_pool_message_err(s, err, "delete %" PRIu32, t.device_id);
		if (r < 0 && r != -ENODATA)
			return st_error_wrap(err, "devmapper: roll back the creation of \"%s\"", t.id);
		dm_txn_abort(d);
		return 0;
	}
	/* an interrupted delete is finished */
	if ((r = dm_dev_deactivate(s, name, err)) < 0)
		return r;
	r = dm_pool_message_err(s, err, "delete %" PRIu32, t.device_id);
	if (r == -EBUSY) {
		/* the message never happened (the device is still open): the
		 * pool is unchanged and the device keeps its record */
		dm_txn_abort(d);
		return 0;
	}
	if (r < 0 && r != -ENODATA)
		return st_error_wrap(err, "devmapper: finish the deletion of \"%s\"", t.id);
	struct dmrec have;
	if (t.id[0] && dm_rec_load(s->meta_fd, t.id, &have, &e2) == 0 && have.device_id == t.device_id)
		dm_rec_unlink(s->meta_fd, t.id, &e2);
	char devname[16];
	snprintf(devname, sizeof(devname), "%" PRIu32, t.device_id);
	dm_rec_unlink(s->deferred_fd, devname, &e2);
	return dm_txn_close(d, err);
}
