/* devmapper: every layer is a thin device in a device-mapper thin pool.
 *
 * A base thin device of dm.basesize is formatted once with dm.fs; a layer
 * without a parent is a thin snapshot (create_snap) of the base, any other
 * a snapshot of its parent's device, so creating a layer costs the same
 * whatever the parent holds. get activates the device and mounts it,
 * put unmounts and deactivates it.
 *
 * The pool is either given (dm.thinpooldev=/dev/mapper/NAME: production,
 * e.g. an LVM thin pool) or made by the driver from two sparse files in the
 * home on loop devices (testing only; `strata info` warns).
 *
 * Home layout:
 *   deviceset.json      pool name, base filesystem and size, the pool's
 *                       transaction id as last recorded, next device id
 *   transaction.json    the open transaction (only while one is open):
 *                       {transaction_id, op: create|delete, id, device_id}
 *   metadata/ID         one record per device: {device_id, size,
 *                       transaction_id}; "_base" is the base device
 *   deferred/DEVID      devices whose deletion waits for their last user
 *   mnt/ID              mount points; the layer's root is mnt/ID/rootfs
 *   devicemapper/data, devicemapper/metadata   the loopback pool's files
 *
 * Transactions: a change to the pool (create_thin, create_snap, delete)
 * first writes transaction.json with the pool's transaction id + 1, then
 * messages the pool, then writes or removes the device's record, then moves
 * the pool's transaction id forward (set_transaction_id) and removes the
 * file. On open, a pool transaction id equal to the recorded one with an
 * open transaction means the change was interrupted: a create whose record
 * was not written is rolled back (the thin device is deleted), anything
 * else is finished.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include "base/base.h"
#include "store/store.h"
#include "devmapper.h"

extern char **environ;

/* Test-only: STRATA_DM_FAULT=POINT ends the process at POINT as a kill -9
 * would, to prove recovery (tests/integration/devmapper.sh). */
void dm_fault(const char *point)
{
	const char *f = getenv("STRATA_DM_FAULT");
	if (f && strcmp(f, point) == 0)
		_exit(70);
}

/* -------------------------------------------------------------- init */

static int dm_options(struct st_driver *d, const char **thinpooldev, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	s->data_size = DM_DEFAULT_DATA_SIZE;
	s->meta_size = DM_DEFAULT_META_SIZE;
	s->base_size = DM_DEFAULT_BASE_SIZE;
	s->block_sectors = DM_DEFAULT_BLOCK_SECTORS;
	s->min_free_pct = 10;
	snprintf(s->fs, sizeof(s->fs), "ext4");
	*thinpooldev = NULL;
	int r = 0;
	for (size_t i = 0; i < d->opts.n && r >= 0; i++) {
		const char *k = d->opts.v[i].key, *v = d->opts.v[i].value;
		int64_t n;
		if (strcmp(k, "dm.thinpooldev") == 0) {
			*thinpooldev = v;
			if (!st_str_has_prefix(v, "/dev/mapper/") || strchr(v + strlen("/dev/mapper/"), '/') ||
			    !v[strlen("/dev/mapper/")] || strlen(v) >= sizeof(s->pool))
				r = st_error_fail(err, EINVAL, "devmapper: dm.thinpooldev=\"%s\": use /dev/mapper/NAME", v);
		} else if (strcmp(k, "dm.loopdatasize") == 0) {
			r = dm_parse_size(k, v, 16LL << 20, &s->data_size, err);
		} else if (strcmp(k, "dm.loopmetadatasize") == 0) {
			r = dm_parse_size(k, v, 2LL << 20, &s->meta_size, err);
		} else if (strcmp(k, "dm.basesize") == 0) {
			r = dm_parse_size(k, v, 16LL << 20, &s->base_size, err);
			s->base_size_set = true;
		} else if (strcmp(k, "dm.blocksize") == 0) {
			if ((r = dm_parse_size(k, v, 64 << 10, &n, err)) >= 0 &&
			    (n % (64 << 10) != 0 || n > (1LL << 30)))
				r = st_error_fail(err, EINVAL,
						  "devmapper: dm.blocksize=\"%s\": use a multiple of 64K up to 1G", v);
			s->block_sectors = (uint32_t)(n / 512);
		} else if (strcmp(k, "dm.fs") == 0) {
			if (strcmp(v, "ext4") != 0 && strcmp(v, "xfs") != 0)
				r = st_error_fail(err, EINVAL, "devmapper: dm.fs=\"%s\": use ext4 or xfs", v);
			snprintf(s->fs, sizeof(s->fs), "%s", v);
			s->fs_set = true;
		} else if (strcmp(k, "dm.mountopt") == 0) {
			/* a comma list of filesystem options, nothing else */
			for (const char *p = v; *p && r >= 0; p++)
				if (!(*p == ',' || *p == '=' || *p == '_' || *p == '-' || *p == '.' ||
				      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
					r = st_error_fail(err, EINVAL, "devmapper: dm.mountopt=\"%s\": invalid character", v);
			snprintf(s->mountopt, sizeof(s->mountopt), "%s", v);
		} else if (strcmp(k, "dm.use_deferred_removal") == 0) {
			r = dm_parse_bool(k, v, &s->deferred_removal, err);
		} else if (strcmp(k, "dm.use_deferred_deletion") == 0) {
			r = dm_parse_bool(k, v, &s->deferred_deletion, err);
		} else if (strcmp(k, "dm.min_free_space") == 0) {
			char *end;
			long pct = strtol(v, &end, 10);
			if (end == v || strcmp(end, "%") != 0 || pct < 0 || pct > 99)
				r = st_error_fail(err, EINVAL, "devmapper: dm.min_free_space=\"%s\": use 0%% to 99%%", v);
			s->min_free_pct = (int)pct;
		}
	}
	if (r >= 0 && *thinpooldev &&
	    (st_kvlist_get(&d->opts, "dm.loopdatasize") || st_kvlist_get(&d->opts, "dm.loopmetadatasize")))
		r = st_error_fail(err, EINVAL, "devmapper: dm.loopdatasize and dm.loopmetadatasize apply to the "
				  "loopback pool, not with dm.thinpooldev");
	return r;
}

/* deviceset.json: what was chosen when the store was made. Options given
 * now must agree with it. */
static int dm_state_load(struct st_driver *d, const char *thinpooldev, bool *fresh, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	_cleanup_json_ json_object *o = NULL;
	struct st_error e2;
	int r = st_json_load_at(d->home_fd, "deviceset.json", &o, &e2);
	*fresh = r == -ENOENT;
	if (*fresh) {
		s->loopback = !thinpooldev;
		s->next_id = 1;
		return 0;
	}
	if (r < 0) {
		*err = e2;
		return r;
	}
	json_object *v;
	s->loopback = json_object_object_get_ex(o, "loopback", &v) && json_object_get_boolean(v);
	const char *fs = st_json_str(o, "fs");
	int64_t base = st_json_int(o, "base_size"), next = st_json_int(o, "next_device_id");
	const char *pool = st_json_str(o, "pool");
	if (s->loopback && thinpooldev)
		return st_error_fail(err, EINVAL, "devmapper: \"%s\" was made with a loopback pool; it cannot switch to "
				     "dm.thinpooldev", d->home);
	if (!s->loopback && thinpooldev && strcmp(thinpooldev + strlen("/dev/mapper/"), pool) != 0)
		return st_error_fail(err, EINVAL, "devmapper: \"%s\" was made with dm.thinpooldev=/dev/mapper/%s, not %s",
				     d->home, pool, thinpooldev);
	if (s->fs_set && strcmp(fs, s->fs) != 0)
		return st_error_fail(err, EINVAL, "devmapper: the base device was formatted with %s, not dm.fs=%s", fs,
				     s->fs);
	if (s->base_size_set && base != s->base_size)
		return st_error_fail(err, EINVAL,
				     "devmapper: the base device has %" PRId64 " bytes; dm.basesize cannot change it", base);
	if ((strcmp(fs, "ext4") != 0 && strcmp(fs, "xfs") != 0) || base <= 0 || next <= 0 ||
	    next > (int64_t)DM_MAX_DEVICE_ID)
		return st_error_fail(err, EUCLEAN, "devmapper: \"%s/deviceset.json\" is damaged", d->home);
	snprintf(s->fs, sizeof(s->fs), "%s", fs);
	s->base_size = base;
	s->next_id = (uint32_t)next;
	s->tid = (uint64_t)st_json_int(o, "transaction_id");
	snprintf(s->pool, sizeof(s->pool), "%s", pool);
	return 0;
}

/* Temporary files of atomic writes that a killed process left behind
 * (every writer holds .lock, which the caller holds). */
static void dm_sweep_tmp(int dirfd)
{
	char **names;
	size_t n;
	if (st_list_dir(dirfd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (st_str_has_prefix(names[i], ".tmp-"))
			unlinkat(dirfd, names[i], 0);
	st_strv_free(names, n);
}

static int dm_open_dir(struct st_driver *d, const char *name, int *fd, struct st_error *err)
{
	int r = st_mkdir_p_at(d->home_fd, name, 0700, err);
	if (r < 0)
		return r;
	*fd = st_open_dir(d->home_fd, name, err);
	return *fd < 0 ? *fd : 0;
}

static int dm_setup(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	const char *thinpooldev;
	int r = dm_options(d, &thinpooldev, err);
	if (r < 0)
		return r;
	struct stat st;
	if (fstat(d->home_fd, &st) < 0)
		return st_error_set(err, errno, "devmapper: stat \"%s\"", d->home);
	/* unique per home on this machine, like docker-MAJ:MIN-INODE */
	snprintf(s->prefix, sizeof(s->prefix), "strata-%u:%u-%llu", major(st.st_dev), minor(st.st_dev),
		 (unsigned long long)st.st_ino);
	if ((r = dm_open_dir(d, "metadata", &s->meta_fd, err)) < 0 ||
	    (r = dm_open_dir(d, "deferred", &s->deferred_fd, err)) < 0 ||
	    (r = dm_open_dir(d, "mnt", &s->mnt_fd, err)) < 0)
		return r;
	/* held shared for the driver's lifetime: the loopback pool is taken
	 * down only by the last user (see dm_cleanup) */
	if ((s->users_fd = st_lock_at(d->home_fd, ".users", LOCK_SH, err)) < 0)
		return s->users_fd;
	int lfd = st_lock_at(d->home_fd, ".lock", LOCK_EX, err);
	if (lfd < 0)
		return lfd;
	dm_sweep_tmp(d->home_fd);
	dm_sweep_tmp(s->meta_fd);
	dm_sweep_tmp(s->deferred_fd);
	bool fresh;
	if ((r = dm_state_load(d, thinpooldev, &fresh, err)) >= 0) {
		if (!s->pool[0])
			snprintf(s->pool, sizeof(s->pool), "%s-pool", s->prefix);
		char given[160];
		snprintf(given, sizeof(given), "/dev/mapper/%s", s->pool);
		r = s->loopback ? dm_pool_loopback(d, err) : dm_pool_given(d, thinpooldev ? thinpooldev : given, err);
	}
	struct dmlib_info pinfo;
	if (r >= 0 && (r = dmlib_info(s->pool, &pinfo, err)) >= 0) {
		s->pool_major = pinfo.major;
		s->pool_minor = pinfo.minor;
	}
	struct pool_status ps;
	if (r >= 0 && fresh && (r = dm_pool_status(s, &ps, err)) >= 0) {
		/* never adopt a pool that someone else is using */
		if (ps.tid != 0)
			r = st_error_fail(err, EEXIST,
					  "devmapper: thin pool \"%s\" is in use (transaction id %" PRIu64
					  "): give strata a pool of its own",
					  s->pool, ps.tid);
		else
			r = dm_state_save(d, err);
	}
	if (r >= 0)
		r = dm_recover(d, err);
	if (r >= 0) {
		dm_dev_deactivate_leftovers(s);
		dm_dev_deferred_sweep(d);
		r = dm_base(d, err);
	}
	st_unlock(&lfd);
	return r;
}

static void dm_cleanup(struct st_driver *d);

static int dm_init(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = calloc(1, sizeof(*s));
	if (!s)
		return st_error_set(err, ENOMEM, "devmapper");
	s->users_fd = s->meta_fd = s->deferred_fd = s->mnt_fd = -1;
	d->priv = s;
	dmlib_setup();
	int r = dm_setup(d, err);
	if (r < 0) {
		dm_cleanup(d);
		d->priv = NULL;
	}
	return r;
}

/* The monitor of a detached container keeps the pool in use: its shared
 * hold on .users must be its own, not the parent's inherited one. */
static void dm_atfork_child(struct st_driver *d)
{
	struct dmset *s = dm_set(d);
	struct st_error err;
	if (!s || s->users_fd < 0)
		return;
	int fd = st_lock_at(d->home_fd, ".users", LOCK_SH, &err);
	close(s->users_fd);
	s->users_fd = fd;
}

static void dm_cleanup(struct st_driver *d)
{
	struct dmset *s = dm_set(d);
	if (!s)
		return;
	/* The loopback pool is ours: take it down when nobody else has the
	 * driver open and no layer is active (mounted layers keep it up). A
	 * given pool is left alone. */
	if (s->loopback && s->pool[0] && s->users_fd >= 0 && flock(s->users_fd, LOCK_EX | LOCK_NB) == 0) {
		struct dmlib_info info;
		struct st_error e;
		if (dmlib_info(s->pool, &info, &e) == 0 && info.exists && info.open_count == 0)
			dmlib_remove(s->pool, DMLIB_REMOVE_ONCE, &e);
	}
	dmlib_release();
	st_closep(&s->users_fd);
	st_closep(&s->meta_fd);
	st_closep(&s->deferred_fd);
	st_closep(&s->mnt_fd);
	free(s);
	d->priv = NULL;
}

static int dm_probe(const char *home, char *reason, size_t len)
{
	(void)home;
	return dmlib_available(reason, len);
}

/* ------------------------------------------------------------ layers */

static int dm_lock(struct st_driver *d, struct st_error *err)
{
	return st_lock_at(d->home_fd, ".lock", LOCK_EX, err);
}

static int dm_check_space(struct dmset *s, struct st_error *err)
{
	struct pool_status ps;
	int r = dm_pool_status(s, &ps, err);
	if (r < 0)
		return r;
	if (strcmp(ps.mode, "rw") != 0)
		return st_error_fail(err, ENOSPC, "devmapper: thin pool \"%s\" is %s: refusing to create a device",
				     s->pool, ps.mode);
	uint64_t dfree = ps.data_total - ps.data_used, mfree = ps.meta_total - ps.meta_used;
	uint64_t bs = (uint64_t)s->block_sectors * 512;
	if (dfree * 100 < ps.data_total * (uint64_t)s->min_free_pct) {
		char f[32], t[32];
		st_format_size((int64_t)(dfree * bs), f, sizeof(f));
		st_format_size((int64_t)(ps.data_total * bs), t, sizeof(t));
		return st_error_fail(err, ENOSPC,
				     "devmapper: thin pool \"%s\" has %s of %s data space free, less than "
				     "dm.min_free_space=%d%%: refusing to create a device (remove layers or grow the pool)",
				     s->pool, f, t, s->min_free_pct);
	}
	if (mfree * 100 < ps.meta_total * (uint64_t)s->min_free_pct) {
		char f[32], t[32];
		st_format_size((int64_t)(mfree * DM_META_BLOCK), f, sizeof(f));
		st_format_size((int64_t)(ps.meta_total * DM_META_BLOCK), t, sizeof(t));
		return st_error_fail(err, ENOSPC,
				     "devmapper: thin pool \"%s\" has %s of %s metadata space free, less than "
				     "dm.min_free_space=%d%%: refusing to create a device",
				     s->pool, f, t, s->min_free_pct);
	}
	return 0;
}

/* Grow a new device's filesystem to its size (size= above the parent's). */
static int dm_grow(struct st_driver *d, const char *id, const char *name, const struct dmrec *rec,
		   struct st_error *err)
{
	struct dmset *s = dm_set(d);
	char node[PATH_MAX], path[PATH_MAX];
	struct st_error e2;
	int r = dm_dev_activate(s, name, rec, err);
	if (r < 0 || (r = dmlib_node(name, node, sizeof(node), err)) < 0 || (r = dm_dev_mount(d, id, node, err)) < 0) {
		dm_dev_deactivate(s, name, &e2);
		return r;
	}
	dm_mnt_path(d, id, path, sizeof(path));
	if (strcmp(s->fs, "xfs") == 0) {
		const char *argv[] = {"xfs_growfs", path, NULL};
		r = dm_exec(argv, err);
	} else {
		const char *argv[] = {"resize2fs", node, NULL};
		r = dm_exec(argv, err);
	}
	int r2 = dm_dev_umount(d, id, r < 0 ? &e2 : err);
	if (r >= 0 && r2 < 0)
		r = r2;
	r2 = dm_dev_deactivate(s, name, r < 0 ? &e2 : err);
	return r < 0 ? r : r2;
}

static int dm_create_locked(struct st_driver *d, const char *id, const char *parent, const struct st_create_opts *o,
			    struct st_error *err)
{
	struct dmset *s = dm_set(d);
	dm_dev_deferred_sweep(d);
	int r = dm_check_space(s, err);
	if (r < 0)
		return r;
	struct dmrec origin;
	const char *oid = parent ? parent : DM_BASE;
	if ((r = dm_rec_load(s->meta_fd, oid, &origin, err)) < 0)
		return st_error_wrap(err, "devmapper: %s \"%s\"", parent ? "parent layer" : "base device", oid);
	uint64_t size = origin.size;
	const char *sz = o && o->storage_opt ? st_kvlist_get(o->storage_opt, "size") : NULL;
	if (sz) {
		int64_t want;
		if (st_parse_size(sz, &want) < 0 || want <= 0)
			return st_error_fail(err, EINVAL, "devmapper: size=\"%s\" is not a size", sz);
		/* the filesystem can grow on a snapshot, never shrink */
		if ((uint64_t)want < origin.size) {
			char a[32];
			st_format_size((int64_t)origin.size, a, sizeof(a));
			return st_error_fail(err, EINVAL, "devmapper: size=%s is smaller than the %s device (%s)", sz,
					     parent ? "parent's" : "base", a);
		}
		size = (uint64_t)want / 512 * 512;
	}
	char oname[160], name[160];
	dm_dev_name(s, oid, &origin, oname, sizeof(oname));
	struct dmrec rec;
	if ((r = dm_dev_create(d, id, &origin, oname, size, &rec, err)) < 0)
		return r;
	dm_dev_name(s, id, &rec, name, sizeof(name));
	if (size > origin.size && (r = dm_grow(d, id, name, &rec, err)) < 0) {
		struct st_error e2;
		dm_dev_delete(d, s->meta_fd, id, id, &rec, &e2);
		return st_error_wrap(err, "devmapper: grow \"%s\" to %s", id, sz);
	}
	return 0;
}

static int dm_create(struct st_driver *d, const char *id, const char *parent, const struct st_create_opts *o,
		     struct st_error *err)
{
	int lfd = dm_lock(d, err);
	if (lfd < 0)
		return lfd;
	int r = dm_create_locked(d, id, parent, o, err);
	st_unlock(&lfd);
	return r;
}

static int dm_remove(struct st_driver *d, const char *id, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int lfd = dm_lock(d, err);
	if (lfd < 0)
		return lfd;
	struct dmrec rec;
	char name[160];
	int r = dm_rec_load(s->meta_fd, id, &rec, err);
	if (r == -ENOENT) {
		st_unlock(&lfd);
		return 0;
	}
	if (r >= 0) {
		dm_dev_name(s, id, &rec, name, sizeof(name));
		if ((r = dm_dev_umount(d, id, err)) >= 0)
			r = dm_dev_deactivate(s, name, err);
	}
	if (r >= 0) {
		r = dm_dev_delete(d, s->meta_fd, id, id, &rec, err);
		if (r == -EBUSY && s->deferred_deletion) {
			/* still open (a deferred removal waits for a user):
			 * the layer goes now, its device when the user does */
			char devname[16];
			snprintf(devname, sizeof(devname), "%" PRIu32, rec.device_id);
			if (renameat(s->meta_fd, id, s->deferred_fd, devname) < 0)
				r = st_error_set(err, errno, "devmapper: defer the deletion of \"%s\"", id);
			else {
				st_fsync_dir(s->deferred_fd);
				st_fsync_dir(s->meta_fd);
				r = 0;
			}
		}
	}
	if (r >= 0)
		dm_dev_deferred_sweep(d);
	st_unlock(&lfd);
	return r < 0 ? st_error_wrap(err, "devmapper: remove \"%s\"", id) : 0;
}

static int dm_get(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int lfd = dm_lock(d, err);
	if (lfd < 0)
		return lfd;
	struct dmrec rec;
	char name[160], node[PATH_MAX];
	int r = dm_rec_load(s->meta_fd, id, &rec, err);
	if (r >= 0) {
		dm_dev_name(s, id, &rec, name, sizeof(name));
		r = dm_dev_activate(s, name, &rec, err);
	}
	if (r >= 0) {
		dm_fault("get-after-activate");
		if ((r = dmlib_node(name, node, sizeof(node), err)) < 0 || (r = dm_dev_mount(d, id, node, err)) < 0) {
			struct st_error e2;
			dm_dev_deactivate(s, name, &e2);
		}
	}
	st_unlock(&lfd);
	if (r < 0)
		return st_error_wrap(err, "devmapper: get \"%s\"", id);
	if (snprintf(path, len, "%s/mnt/%s/rootfs", d->home, id) >= (int)len)
		return st_error_fail(err, ENAMETOOLONG, "devmapper: mount path of \"%s\" is too long", id);
	return 0;
}

static int dm_put(struct st_driver *d, const char *id, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int lfd = dm_lock(d, err);
	if (lfd < 0)
		return lfd;
	struct dmrec rec;
	char name[160];
	int r = dm_rec_load(s->meta_fd, id, &rec, err);
	if (r >= 0 && (r = dm_dev_umount(d, id, err)) >= 0) {
		dm_dev_name(s, id, &rec, name, sizeof(name));
		r = dm_dev_deactivate(s, name, err);
	}
	st_unlock(&lfd);
	return r < 0 ? st_error_wrap(err, "devmapper: put \"%s\"", id) : 0;
}

static bool dm_exists(struct st_driver *d, const char *id)
{
	struct dmset *s = dm_set(d);
	struct stat st;
	return fstatat(s->meta_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* The naive apply, with the layer's filesystem synced before it counts as
 * applied: a thin pool that runs out of space fails the writeback, not the
 * write(2), so without the sync a full pool would go unnoticed. */
static int64_t dm_apply_diff(struct st_driver *d, const char *id, const char *parent, struct st_tar_in *in,
			     struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int fd = -1;
	int r = st_drv_open_dir(d, id, &fd, err);
	if (r < 0)
		return r;
	int64_t n = st_naive_apply(d, id, parent, in, err);
	if (n >= 0 && syncfs(fd) < 0) {
		n = st_error_set(err, errno, "devmapper: write layer \"%s\" to its thin device", id);
		struct pool_status ps;
		struct st_error e2;
		if (dm_pool_status(s, &ps, &e2) == 0 && strcmp(ps.mode, "rw") != 0)
			st_error_wrap(err, "devmapper: thin pool \"%s\" is %s", s->pool, ps.mode);
	}
	st_drv_release_dir(d, id, &fd);
	return n;
}

/* The read-write device simply stays: it is the committed layer. */
static int dm_commit(struct st_driver *d, const char *id, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	struct dmrec rec;
	int r = dm_rec_load(s->meta_fd, id, &rec, err);
	return r < 0 ? st_error_wrap(err, "devmapper: commit \"%s\"", id) : 0;
}

/* ----------------------------------------------------------- status */

static void dm_kv_size(struct st_kvlist *out, const char *key, uint64_t bytes)
{
	char b[32];
	st_format_size((int64_t)bytes, b, sizeof(b));
	st_kvlist_add(out, key, "%s", b);
}

static int dm_status(struct st_driver *d, struct st_kvlist *out)
{
	struct dmset *s = dm_set(d);
	st_kvlist_add(out, "Pool Name", "%s", s->pool);
	dm_kv_size(out, "Pool Blocksize", (uint64_t)s->block_sectors * 512);
	dm_kv_size(out, "Base Device Size", (uint64_t)s->base_size);
	st_kvlist_add(out, "Base Device Filesystem", "%s", s->fs);
	struct pool_status ps;
	struct st_error e;
	if (dm_pool_status(s, &ps, &e) == 0) {
		uint64_t bs = (uint64_t)s->block_sectors * 512;
		uint64_t davail = (ps.data_total - ps.data_used) * bs;
		struct statvfs sv;
		/* a sparse loop file can only grow as far as its filesystem */
		if (s->loopback && statvfs(s->data_file, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < davail)
			davail = (uint64_t)sv.f_bavail * sv.f_frsize;
		dm_kv_size(out, "Data Space Used", ps.data_used * bs);
		dm_kv_size(out, "Data Space Total", ps.data_total * bs);
		dm_kv_size(out, "Data Space Available", davail);
		dm_kv_size(out, "Metadata Space Used", ps.meta_used * DM_META_BLOCK);
		dm_kv_size(out, "Metadata Space Total", ps.meta_total * DM_META_BLOCK);
		dm_kv_size(out, "Metadata Space Available", (ps.meta_total - ps.meta_used) * DM_META_BLOCK);
		dm_kv_size(out, "Thin Pool Minimum Free Space", ps.data_total * bs * (uint64_t)s->min_free_pct / 100);
		st_kvlist_add(out, "Pool Mode", "%s%s", ps.mode, ps.needs_check ? " (needs_check)" : "");
		st_kvlist_add(out, "Transaction Id", "%" PRIu64, ps.tid);
	} else {
		st_kvlist_add(out, "Pool Error", "%s", e.msg);
	}
	st_kvlist_add(out, "Udev Sync Supported", "%s", dmlib_udev_sync() ? "true" : "false");
	if (s->loopback) {
		st_kvlist_add(out, "Data loop file", "%s", s->data_file);
		st_kvlist_add(out, "Metadata loop file", "%s", s->meta_file);
	}
	st_kvlist_add(out, "Deferred Removal Enabled", "%s", s->deferred_removal ? "true" : "false");
	st_kvlist_add(out, "Deferred Deletion Enabled", "%s", s->deferred_deletion ? "true" : "false");
	st_kvlist_add(out, "Deferred Deleted Device Count", "%d", dm_dev_count(s->deferred_fd));
	char v[160];
	dmlib_versions(v, sizeof(v));
	st_kvlist_add(out, "Library Version", "%s", v);
	if (s->loopback)
		st_kvlist_add(out, "Warning", "the pool is on loop devices, which is for testing only: give a thin pool "
			      "with --storage-opt dm.thinpooldev=/dev/mapper/NAME in production");
	return 0;
}

static int dm_metadata(struct st_driver *d, const char *id, struct st_kvlist *out)
{
	struct dmset *s = dm_set(d);
	struct dmrec rec;
	struct st_error e;
	int r = dm_rec_load(s->meta_fd, id, &rec, &e);
	if (r < 0)
		return r;
	char name[160];
	dm_dev_name(s, id, &rec, name, sizeof(name));
	st_kvlist_add(out, "DeviceId", "%" PRIu32, rec.device_id);
	st_kvlist_add(out, "DeviceSize", "%" PRIu64, rec.size);
	st_kvlist_add(out, "DeviceName", "%s", name);
	st_kvlist_add(out, "TransactionId", "%" PRIu64, rec.transaction_id);
	return 0;
}

static const char *const dm_init_options[] = {
	"dm.thinpooldev", "dm.loopdatasize",	     "dm.loopmetadatasize",	"dm.basesize",
	"dm.fs",	  "dm.blocksize",	     "dm.mountopt",		"dm.use_deferred_removal",
	"dm.use_deferred_deletion", "dm.min_free_space", NULL,
};
static const char *const dm_layer_options[] = {"size", NULL};

const struct st_driver_ops st_devmapper_driver = {
	.name = "devmapper",
	.probe = dm_probe,
	.init = dm_init,
	.cleanup = dm_cleanup,
	.create = dm_create,
	.create_rw = dm_create,
	.remove = dm_remove,
	.get = dm_get,
	.put = dm_put,
	.exists = dm_exists,
	.status = dm_status,
	.metadata = dm_metadata,
	.apply_diff = dm_apply_diff,
	.commit = dm_commit,
	.atfork_child = dm_atfork_child,
	.init_options = dm_init_options,
	.layer_options = dm_layer_options,
	.whiteouts = ST_WH_DELETE,
};
