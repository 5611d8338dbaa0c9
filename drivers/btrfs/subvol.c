/* btrfs subvolumes through libbtrfsutil: create, snapshot (nested
 * subvolumes included), read-only flags over a subvolume tree, recursive
 * delete, and the mount check that keeps a removal from tearing a busy
 * layer apart. */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <btrfsutil.h>
#include <libmount.h>

#include "base/base.h"
#include "btrfs.h"

/* The root directory of every subvolume has this inode number. */
#define BTRFS_SUBVOL_ROOT_INO 256

/* libbtrfsutil reports an enum and leaves the system error in errno. */
static int bu_fail(struct st_error *err, enum btrfs_util_error e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bu_fail(struct st_error *err, enum btrfs_util_error e, const char *fmt, ...)
{
	int saved = errno ? errno : EIO;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return st_error_set(err, saved, "%s (%s)", msg, btrfs_util_strerror(e));
}

bool btrfs_is_subvol_at(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_ino == BTRFS_SUBVOL_ROOT_INO;
}

uint64_t btrfs_subvol_id(int fd)
{
	uint64_t id = 0;
	return btrfs_util_subvolume_id_fd(fd, &id) == BTRFS_UTIL_OK ? id : 0;
}

int btrfs_subvol_make(int dirfd, const char *name, int src_fd, const char *what, struct st_error *err)
{
	enum btrfs_util_error e;
	errno = 0;
	if (src_fd < 0) {
		e = btrfs_util_create_subvolume_fd(dirfd, name, 0, NULL, NULL);
		if (e)
			return bu_fail(err, e, "%s: create subvolume", what);
		return 0;
	}
	/* RECURSIVE: subvolumes a container made inside its layer are part of
	 * the layer's content, so the child sees them too (a plain snapshot
	 * would show empty directories in their place). */
	e = btrfs_util_create_snapshot_fd2(src_fd, dirfd, name, BTRFS_UTIL_CREATE_SNAPSHOT_RECURSIVE, NULL, NULL);
	if (e)
		return bu_fail(err, e, "%s: create snapshot", what);
	return 0;
}

static int set_ro_one(int fd, bool ro, const char *what, const char *sub, struct st_error *err)
{
	bool cur;
	errno = 0;
	enum btrfs_util_error e = btrfs_util_get_subvolume_read_only_fd(fd, &cur);
	if (!e && cur != ro)
		e = btrfs_util_set_subvolume_read_only_fd(fd, ro);
	if (e)
		return bu_fail(err, e, "%s: %s the read-only flag%s%s%s", what, ro ? "set" : "clear",
			       sub ? " of nested subvolume \"" : "", sub ? sub : "", sub ? "\"" : "");
	return 0;
}

int btrfs_subvol_set_ro(int fd, bool ro, const char *what, struct st_error *err)
{
	struct btrfs_util_subvolume_iterator *it = NULL;
	errno = 0;
	enum btrfs_util_error e = btrfs_util_create_subvolume_iterator_fd(fd, 0, 0, &it);
	if (e)
		return bu_fail(err, e, "%s: list nested subvolumes", what);
	int r = 0;
	char *path = NULL;
	/* pre-order: a nested subvolume's parent is writable while we open it */
	while (r >= 0 && (e = btrfs_util_subvolume_iterator_next(it, &path, NULL)) == BTRFS_UTIL_OK) {
		_cleanup_close_ int sfd = st_open_nofollow(fd, path, O_RDONLY | O_DIRECTORY, 0);
		r = sfd < 0 ? st_error_set(err, -sfd, "%s: open nested subvolume \"%s\"", what, path)
			    : set_ro_one(sfd, ro, what, path, err);
		free(path);
		path = NULL;
	}
	if (r >= 0 && e != BTRFS_UTIL_ERROR_STOP_ITERATION)
		r = bu_fail(err, e, "%s: list nested subvolumes", what);
	btrfs_util_destroy_subvolume_iterator(it);
	return r < 0 ? r : set_ro_one(fd, ro, what, NULL, err);
}

int btrfs_subvol_get_ro(int fd, bool *ro, const char *what, struct st_error *err)
{
	errno = 0;
	enum btrfs_util_error e = btrfs_util_get_subvolume_read_only_fd(fd, ro);
	return e ? bu_fail(err, e, "%s: read the read-only flag", what) : 0;
}

int btrfs_subvol_delete(int dirfd, const char *name, const char *what, struct st_error *err)
{
	{
		/* nested subvolumes cannot be unlinked from a read-only parent */
		_cleanup_close_ int fd = st_open_nofollow(dirfd, name, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0)
			return fd == -ENOENT ? 0 : st_error_set(err, -fd, "%s: open", what);
		int r = btrfs_subvol_set_ro(fd, false, what, err);
		if (r < 0)
			return r;
	}
	errno = 0;
	enum btrfs_util_error e = btrfs_util_delete_subvolume_fd(dirfd, name, BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
	if (e)
		return bu_fail(err, e, "%s: delete subvolume", what);
	return 0;
}

int btrfs_mount_below(const char *path, char *mnt, size_t len)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return -errno;
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return -errno ? -errno : -EIO;
	struct libmnt_iter *itr = mnt_new_iter(MNT_ITER_FORWARD);
	if (!itr) {
		mnt_unref_table(tb);
		return -ENOMEM;
	}
	size_t rl = strlen(real);
	struct libmnt_fs *fs;
	int found = 0;
	while (!found && mnt_table_next_fs(tb, itr, &fs) == 0) {
		const char *t = mnt_fs_get_target(fs);
		if (t && strncmp(t, real, rl) == 0 && (t[rl] == '\0' || t[rl] == '/')) {
			snprintf(mnt, len, "%s", t);
			found = t[rl] == '\0' ? 2 : 1;
		}
	}
	mnt_free_iter(itr);
	mnt_unref_table(tb);
	return found;
}
