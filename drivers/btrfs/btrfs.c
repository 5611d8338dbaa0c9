/* btrfs: every layer is a subvolume <home>/subvolumes/ID; a child is a
 * snapshot of its parent, so creating one costs the same whatever the
 * parent holds. Read-only layers get the subvolume read-only flag once
 * their content is in (after apply, when they become a parent, on commit);
 * read-write layers stay writable and may carry a qgroup quota (size=).
 * get needs no mount: the subvolume is a directory. Diff and changes of a
 * snapshot against its untouched parent come from the tree blocks btrfs
 * rewrote since the snapshot (changes.c); otherwise from the generic
 * compare, which sees a snapshot's untouched files as the parent's own
 * inodes (same inode, same ctime) and skips their bytes. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <btrfsutil.h>
#include <libmount.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "btrfs.h"

static int btrfs_probe(const char *home, char *reason, size_t len)
{
	struct statfs sf;
	if (statfs(home, &sf) < 0) {
		snprintf(reason, len, "cannot stat the driver home \"%s\": %s", home, strerror(errno));
		return -errno;
	}
	if ((unsigned long)sf.f_type != BTRFS_SUPER_MAGIC) {
		int fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		snprintf(reason, len, "the driver home \"%s\" is on %s, not btrfs", home,
			 fd >= 0 ? st_fs_name(fd) : "an unknown filesystem");
		if (fd >= 0)
			close(fd);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Mounts made below the home (none by this driver, but runtimes mount into
 * a layer's root) must not propagate to the host's other mount namespaces.
 * When the mount holding the home is shared, the home becomes a private
 * mount of its own (bound onto itself if it was not a mount point), and
 * stays one: it is a property of the store, like Docker's, and the next
 * command finds it in place. A private or slave mount needs nothing, and
 * costs nothing. */
static int make_private(struct st_driver *d, struct st_error *err)
{
	char real[PATH_MAX];
	if (!realpath(d->home, real))
		return st_error_set(err, errno, "btrfs: resolve the driver home \"%s\"", d->home);
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return st_error_set(err, EIO, "btrfs: read /proc/self/mountinfo");
	struct libmnt_fs *fs = mnt_table_find_mountpoint(tb, real, MNT_ITER_BACKWARD);
	const char *opt = fs ? mnt_fs_get_optional_fields(fs) : NULL;
	bool shared = opt && strstr(opt, "shared:");
	bool is_mnt = fs && mnt_fs_get_target(fs) && strcmp(mnt_fs_get_target(fs), real) == 0;
	mnt_unref_table(tb);
	if (!shared)
		return 0;
	if (!is_mnt && mount(real, real, NULL, MS_BIND, NULL) < 0)
		return st_error_set(err, errno, "btrfs: bind-mount the driver home \"%s\" onto itself", d->home);
	if (mount(NULL, real, NULL, MS_PRIVATE, NULL) < 0)
		return st_error_set(err, errno, "btrfs: make the driver home \"%s\" a private mount", d->home);
	return 0;
}

static void btrfs_cleanup(struct st_driver *d)
{
	struct btrfs *b = d->priv;
	if (!b)
		return;
	if (b->subvols_fd >= 0)
		close(b->subvols_fd);
	free(b);
	d->priv = NULL;
}

/* A removal that a killed process left half done: the layer was renamed
 * to .trash-* first, so whatever is left there is garbage. */
static void sweep_trash(struct btrfs *b)
{
	char **names;
	size_t n;
	if (st_list_dir(b->subvols_fd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!st_str_has_prefix(names[i], ".trash-"))
			continue;
		char what[PATH_MAX + 64];
		snprintf(what, sizeof(what), "btrfs: \"%s/%s\"", b->subvols, names[i]);
		struct st_error ignore;
		if (btrfs_is_subvol_at(b->subvols_fd, names[i]))
			btrfs_subvol_delete(b->subvols_fd, names[i], what, &ignore);
		else
			st_rm_rf_at(b->subvols_fd, names[i], &ignore);
	}
	st_strv_free(names, n);
}

static int parse_size(const char *what, const char *v, int64_t *out, struct st_error *err)
{
	if (st_parse_size(v, out) < 0 || *out <= 0)
		return st_error_fail(err, EINVAL, "%s: invalid size \"%s\" (a positive size like 10G, 512M)", what, v);
	return 0;
}

static int btrfs_init(struct st_driver *d, struct st_error *err)
{
	struct btrfs *b = calloc(1, sizeof(*b));
	if (!b)
		return st_error_set(err, ENOMEM, "btrfs");
	b->subvols_fd = -1;
	d->priv = b;
	int r = 0;
	const char *size = st_kvlist_get(&d->opts, "size");
	if (size && (r = parse_size("btrfs: option size", size, &b->default_size, err)) < 0)
		goto fail;
	const char *ch = st_kvlist_get(&d->opts, "changes");
	if (ch && strcmp(ch, "walk") != 0 && strcmp(ch, "generation") != 0) {
		r = st_error_fail(err, EINVAL, "btrfs: option changes=\"%s\": use generation (the default) or walk", ch);
		goto fail;
	}
	b->walk_changes = ch && strcmp(ch, "walk") == 0;
	if ((r = make_private(d, err)) < 0 || (r = st_mkdir_p_at(d->home_fd, "subvolumes", 0700, err)) < 0)
		goto fail;
	/* by path, so that get's paths and our fds go through the same mount */
	snprintf(b->subvols, sizeof(b->subvols), "%s/subvolumes", d->home);
	b->subvols_fd = open(b->subvols, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (b->subvols_fd < 0) {
		r = st_error_set(err, errno, "btrfs: open \"%s\"", b->subvols);
		goto fail;
	}
	sweep_trash(b);
	return 0;
fail:
	btrfs_cleanup(d);
	return r;
}

static void layer_what(struct st_driver *d, const char *id, char *buf, size_t len)
{
	struct btrfs *b = d->priv;
	snprintf(buf, len, "btrfs: layer \"%s\" (\"%s/%s\")", id, b->subvols, id);
}

static int open_layer(struct st_driver *d, const char *id, struct st_error *err)
{
	struct btrfs *b = d->priv;
	int fd = st_open_nofollow(b->subvols_fd, id, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return st_error_set(err, -fd, "btrfs: open layer \"%s\" (\"%s/%s\")", id, b->subvols, id);
	return fd;
}

static int do_create(struct st_driver *d, const char *id, const char *parent, bool rw,
		     const struct st_create_opts *o, struct st_error *err)
{
	struct btrfs *b = d->priv;
	char what[PATH_MAX + 64];
	layer_what(d, id, what, sizeof(what));
	int64_t size = rw ? b->default_size : 0;
	const char *opt = o && o->storage_opt ? st_kvlist_get(o->storage_opt, "size") : NULL;
	int r;
	if (opt && (r = parse_size(what, opt, &size, err)) < 0)
		return r;

	_cleanup_close_ int pfd = -1;
	if (parent) {
		if ((pfd = open_layer(d, parent, err)) < 0)
			return pfd;
		/* a parent's content is final: children's diffs are taken
		 * against it (a read-write parent is someone's container) */
		char pwhat[PATH_MAX + 64];
		layer_what(d, parent, pwhat, sizeof(pwhat));
		if (!st_drv_is_rw(d, parent) && (r = btrfs_subvol_set_ro(pfd, true, pwhat, err)) < 0)
			return r;
	}
	if ((r = btrfs_subvol_make(b->subvols_fd, id, pfd, what, err)) < 0)
		return r;
	_cleanup_close_ int fd = open_layer(d, id, err);
	if (fd < 0)
		return fd;
	/* a layer's root is 0755 root:root like the other drivers' */
	if (!parent && (fchmod(fd, 0755) < 0 || fchown(fd, 0, 0) < 0))
		return st_error_set(err, errno, "%s: set owner and mode", what);
	if (size > 0 && (r = btrfs_quota_limit(fd, size, what, err)) < 0)
		return r;
	return 0;
}

static int btrfs_create(struct st_driver *d, const char *id, const char *parent, const struct st_create_opts *o,
			struct st_error *err)
{
	return do_create(d, id, parent, false, o, err);
}

static int btrfs_create_rw(struct st_driver *d, const char *id, const char *parent,
			   const struct st_create_opts *o, struct st_error *err)
{
	return do_create(d, id, parent, true, o, err);
}

static int btrfs_remove(struct st_driver *d, const char *id, struct st_error *err)
{
	struct btrfs *b = d->priv;
	char what[PATH_MAX + 64], path[PATH_MAX], mnt[PATH_MAX];
	layer_what(d, id, what, sizeof(what));
	snprintf(path, sizeof(path), "%s/%s", b->subvols, id);
	/* Deleting a subvolume silently detaches the mounts inside it (a
	 * running container's /proc, a bind mount): refuse before touching
	 * anything, so the layer stays whole and usable. */
	int r = btrfs_mount_below(path, mnt, sizeof(mnt));
	if (r < 0)
		return st_error_set(err, -r, "%s: check for mounts", what);
	if (r > 0)
		return st_error_fail(err, EBUSY, "%s is busy: \"%s\" is mounted %s; unmount it first", what, mnt,
				     r == 2 ? "on it" : "inside it");

	_cleanup_close_ int fd = open_layer(d, id, err);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	uint64_t subvol = btrfs_subvol_id(fd);
	bool ro = false;
	btrfs_subvol_get_ro(fd, &ro, what, err);
	/* a layer at its quota cannot even unlink a nested subvolume's entry:
	 * lift the limit for the delete, put it back if the delete fails */
	int64_t limit = 0, used;
	if (btrfs_quota_usage(b->subvols_fd, subvol, &limit, &used) < 0)
		limit = 0;
	if (limit > 0 && (r = btrfs_quota_limit(fd, 0, what, err)) < 0)
		return r;

	/* rename first: a kill -9 during the delete leaves a .trash-* that
	 * the next init sweeps, never a half-deleted layer under its id */
	char rnd[17], trash[NAME_MAX + 1];
	if ((r = st_random_hex(rnd, 8)) < 0)
		return st_error_set(err, -r, "%s: remove", what);
	snprintf(trash, sizeof(trash), ".trash-%.200s-%s", id, rnd);
	if (renameat(b->subvols_fd, id, b->subvols_fd, trash) < 0)
		return st_error_set(err, errno, "%s: rename to \"%s\" before deleting", what, trash);
	st_fsync_dir(b->subvols_fd);
	r = btrfs_subvol_delete(b->subvols_fd, trash, what, err);
	if (r < 0) {
		/* put it back as it was */
		struct st_error ignore;
		if (renameat(b->subvols_fd, trash, b->subvols_fd, id) == 0) {
			if (ro)
				btrfs_subvol_set_ro(fd, true, what, &ignore);
			if (limit > 0)
				btrfs_quota_limit(fd, limit, what, &ignore);
		}
		return r;
	}
	btrfs_quota_forget(b->subvols_fd, subvol);
	return 0;
}

static int btrfs_get(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err)
{
	struct btrfs *b = d->priv;
	if (!btrfs_is_subvol_at(b->subvols_fd, id))
		return st_error_fail(err, ENOENT, "btrfs: layer \"%s\": no subvolume \"%s/%s\"", id, b->subvols, id);
	snprintf(path, len, "%s/%s", b->subvols, id);
	return 0;
}

static int btrfs_put(struct st_driver *d, const char *id, struct st_error *err)
{
	(void)d;
	(void)id;
	(void)err;
	return 0; /* nothing was mounted */
}

static bool btrfs_exists(struct st_driver *d, const char *id)
{
	struct btrfs *b = d->priv;
	return btrfs_is_subvol_at(b->subvols_fd, id);
}

/* Into the layer's own snapshot of its parent (made by create): no mount,
 * real deletes for whiteouts; a read-only layer is sealed afterwards. */
static int64_t btrfs_apply_diff(struct st_driver *d, const char *id, const char *parent, struct st_tar_in *in,
				struct st_error *err)
{
	(void)parent;
	char what[PATH_MAX + 64];
	layer_what(d, id, what, sizeof(what));
	_cleanup_close_ int fd = open_layer(d, id, err);
	if (fd < 0)
		return fd;
	int r = btrfs_subvol_set_ro(fd, false, what, err);
	if (r < 0)
		return r;
	struct st_apply_opts o = {.wh = ST_WH_DELETE};
	int64_t n = st_archive_apply(fd, in, &o, err);
	if (!st_drv_is_rw(d, id)) {
		struct st_error e2;
		r = btrfs_subvol_set_ro(fd, true, what, n < 0 ? &e2 : err);
		if (n >= 0 && r < 0)
			return r;
	}
	return n;
}

/* rw -> committed in place: the subvolume (and any nested one) gets the
 * read-only flag; its quota, a container's limit, is lifted. */
static int btrfs_commit(struct st_driver *d, const char *id, struct st_error *err)
{
	char what[PATH_MAX + 64];
	layer_what(d, id, what, sizeof(what));
	_cleanup_close_ int fd = open_layer(d, id, err);
	if (fd < 0)
		return fd;
	int r = btrfs_quota_limit(fd, 0, what, err);
	if (r >= 0)
		r = btrfs_subvol_set_ro(fd, true, what, err);
	return r;
}

/* The changes against the parent it was snapshotted from, by generation
 * (changes.c) when that applies, else by the generic compare. */
static int fast_changes(struct st_driver *d, const char *id, const char *parent, struct st_changes *out,
			struct st_error *err)
{
	struct btrfs *b = d->priv;
	if (!parent || b->walk_changes)
		return -EOPNOTSUPP;
	struct st_error e2;
	_cleanup_close_ int fd = open_layer(d, id, err);
	_cleanup_close_ int pfd = fd < 0 ? -1 : open_layer(d, parent, &e2);
	if (fd < 0)
		return fd;
	if (pfd < 0)
		return -EOPNOTSUPP;
	struct timespec settled;
	bool has_settled = st_drv_settled(d, id, &settled) == 0 && settled.tv_sec > 0;
	return btrfs_fast_changes(fd, pfd, has_settled ? &settled : NULL, out, err);
}

static int btrfs_changes(struct st_driver *d, const char *id, const char *parent, struct st_changes *out,
			 struct st_error *err)
{
	int r = fast_changes(d, id, parent, out, err);
	return r == -EOPNOTSUPP ? st_naive_changes(d, id, parent, out, err) : r;
}

static int btrfs_diff(struct st_driver *d, const char *id, const char *parent, struct st_writer *w,
		      struct st_error *err)
{
	struct st_changes c;
	int r = fast_changes(d, id, parent, &c, err);
	if (r == -EOPNOTSUPP)
		return st_naive_diff(d, id, parent, w, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open_layer(d, id, err);
	r = fd < 0 ? fd : st_archive_write_changes(fd, &c, w, err);
	st_changes_free(&c);
	return r;
}

static int64_t btrfs_diff_size(struct st_driver *d, const char *id, const char *parent, struct st_error *err)
{
	struct st_changes c;
	int r = fast_changes(d, id, parent, &c, err);
	if (r == -EOPNOTSUPP)
		return st_naive_diff_size(d, id, parent, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open_layer(d, id, err);
	int64_t n = fd < 0 ? fd : st_changes_size(fd, &c, err);
	st_changes_free(&c);
	return n;
}

static void add_size(struct st_kvlist *out, const char *key, uint64_t bytes)
{
	char buf[32];
	st_format_size((int64_t)bytes, buf, sizeof(buf));
	st_kvlist_add(out, key, "%s", buf);
}

static int btrfs_status(struct st_driver *d, struct st_kvlist *out)
{
	struct btrfs *b = d->priv;
	st_kvlist_add(out, "Library Version", "libbtrfsutil %d.%d.%d", BTRFS_UTIL_VERSION_MAJOR,
		      BTRFS_UTIL_VERSION_MINOR, BTRFS_UTIL_VERSION_PATCH);
	struct btrfs_space s;
	if (btrfs_space(b->subvols_fd, &s) == 0) {
		add_size(out, "Data Space Used", s.data_used);
		add_size(out, "Data Space Total", s.data_total);
		add_size(out, "Data Space Available", s.avail);
		add_size(out, "Metadata Space Used", s.meta_used);
		add_size(out, "Metadata Space Total", s.meta_total);
	}
	bool q = btrfs_quota_enabled(b->subvols_fd);
	st_kvlist_add(out, "Quota", "%s", q ? "enabled (qgroups)" : "disabled (enabled by the first size= option)");
	if (b->default_size > 0)
		add_size(out, "Default Layer Size", (uint64_t)b->default_size);
	st_kvlist_add(out, "Changes", "%s", b->walk_changes ? "tree walk" : "by generation where possible, else tree walk");
	return 0;
}

static int btrfs_metadata(struct st_driver *d, const char *id, struct st_kvlist *out)
{
	struct btrfs *b = d->priv;
	struct st_error e;
	_cleanup_close_ int fd = open_layer(d, id, &e);
	if (fd < 0)
		return fd;
	struct btrfs_util_subvolume_info info;
	if (btrfs_util_subvolume_info_fd(fd, 0, &info) == BTRFS_UTIL_OK) {
		st_kvlist_add(out, "Subvolume ID", "%" PRIu64, info.id);
		st_kvlist_add(out, "Generation", "%" PRIu64, info.generation);
		st_kvlist_add(out, "Created Generation", "%" PRIu64, info.otransid);
	}
	bool ro = false;
	if (btrfs_subvol_get_ro(fd, &ro, "btrfs", &e) == 0)
		st_kvlist_add(out, "Read Only", "%s", ro ? "true" : "false");
	int64_t limit, used;
	if (btrfs_quota_usage(b->subvols_fd, btrfs_subvol_id(fd), &limit, &used) == 0) {
		if (limit > 0)
			add_size(out, "Quota", (uint64_t)limit);
		add_size(out, "Exclusive Size", (uint64_t)used);
	}
	return 0;
}

static const char *const btrfs_init_options[] = {"size", "changes", NULL};
static const char *const btrfs_layer_options[] = {"size", NULL};

const struct st_driver_ops st_btrfs_driver = {
	.name = "btrfs",
	.probe = btrfs_probe,
	.init = btrfs_init,
	.cleanup = btrfs_cleanup,
	.create = btrfs_create,
	.create_rw = btrfs_create_rw,
	.remove = btrfs_remove,
	.get = btrfs_get,
	.put = btrfs_put,
	.exists = btrfs_exists,
	.status = btrfs_status,
	.metadata = btrfs_metadata,
	.diff = btrfs_diff,
	.changes = btrfs_changes,
	.diff_size = btrfs_diff_size,
	.apply_diff = btrfs_apply_diff,
	.commit = btrfs_commit,
	.init_options = btrfs_init_options,
	.layer_options = btrfs_layer_options,
	.whiteouts = ST_WH_DELETE,
};
