/* btrfs qgroup quotas for read-write layers, and the space figures of
 * `strata info`. libbtrfsutil has no qgroup or space calls, so these are
 * the kernel's ioctls (linux/btrfs.h) and its sysfs view of qgroups. */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>

#include "base/base.h"
#include "btrfs.h"

/* The limit value that removes a limit (the kernel's CLEAR_VALUE). */
#define QGROUP_LIMIT_CLEAR ((__u64)-1)

/* /sys/fs/btrfs/<fsid>: where the kernel shows qgroups of this filesystem */
static int sysfs_dir(int fsfd, char *buf, size_t len)
{
	struct btrfs_ioctl_fs_info_args fi;
	memset(&fi, 0, sizeof(fi));
	if (ioctl(fsfd, BTRFS_IOC_FS_INFO, &fi) < 0)
		return -errno;
	const unsigned char *u = fi.fsid;
	snprintf(buf, len,
		 "/sys/fs/btrfs/%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
	return 0;
}

bool btrfs_quota_enabled(int fsfd)
{
	char dir[128], p[192];
	struct stat st;
	if (sysfs_dir(fsfd, dir, sizeof(dir)) < 0)
		return false;
	snprintf(p, sizeof(p), "%s/qgroups", dir);
	return stat(p, &st) == 0;
}

static int enable(int fd, const char *what, struct st_error *err)
{
	if (btrfs_quota_enabled(fd))
		return 0;
	struct btrfs_ioctl_quota_ctl_args q = {.cmd = BTRFS_QUOTA_CTL_ENABLE};
	if (ioctl(fd, BTRFS_IOC_QUOTA_CTL, &q) < 0)
		return st_error_set(err, errno, "%s: enable btrfs quotas", what);
	/* enabling starts a rescan of existing data; limits are only right
	 * once it is done */
	if (ioctl(fd, BTRFS_IOC_QUOTA_RESCAN_WAIT, 0) < 0 && errno != ENOTCONN)
		return st_error_set(err, errno, "%s: wait for the quota rescan", what);
	return 0;
}

int btrfs_quota_limit(int fd, int64_t bytes, const char *what, struct st_error *err)
{
	if (bytes > 0) {
		int r = enable(fd, what, err);
		if (r < 0)
			return r;
	} else if (!btrfs_quota_enabled(fd)) {
		return 0; /* nothing to clear */
	}
	/* qgroupid 0: the qgroup of the subvolume fd is in (0/<subvolume id>) */
	struct btrfs_ioctl_qgroup_limit_args a;
	memset(&a, 0, sizeof(a));
	a.lim.flags = BTRFS_QGROUP_LIMIT_MAX_EXCL;
	a.lim.max_excl = bytes > 0 ? (__u64)bytes : QGROUP_LIMIT_CLEAR;
	if (ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &a) < 0)
		return st_error_set(err, errno, "%s: %s btrfs qgroup limit", what, bytes > 0 ? "set" : "clear");
	return 0;
}

void btrfs_quota_forget(int fsfd, uint64_t subvol_id)
{
	if (!subvol_id || !btrfs_quota_enabled(fsfd))
		return;
	struct btrfs_ioctl_qgroup_create_args a = {.create = 0, .qgroupid = subvol_id};
	(void)!ioctl(fsfd, BTRFS_IOC_QGROUP_CREATE, &a);
}

static int read_u64(const char *path, int64_t *out)
{
	_cleanup_free_ char *text = NULL;
	struct st_error e;
	int r = st_read_file_at(AT_FDCWD, path, &text, NULL, &e);
	if (r < 0)
		return r;
	*out = strtoll(text, NULL, 10);
	return 0;
}

int btrfs_quota_usage(int fsfd, uint64_t subvol_id, int64_t *limit, int64_t *used)
{
	char dir[128], p[256];
	int r = sysfs_dir(fsfd, dir, sizeof(dir));
	if (r < 0)
		return r;
	snprintf(p, sizeof(p), "%s/qgroups/0_%" PRIu64 "/max_exclusive", dir, subvol_id);
	if ((r = read_u64(p, limit)) < 0)
		return r;
	snprintf(p, sizeof(p), "%s/qgroups/0_%" PRIu64 "/exclusive", dir, subvol_id);
	return read_u64(p, used);
}

int btrfs_space(int fsfd, struct btrfs_space *s)
{
	memset(s, 0, sizeof(*s));
	struct btrfs_ioctl_space_args probe = {.space_slots = 0};
	if (ioctl(fsfd, BTRFS_IOC_SPACE_INFO, &probe) < 0)
		return -errno;
	size_t n = probe.total_spaces;
	_cleanup_free_ struct btrfs_ioctl_space_args *a =
		calloc(1, sizeof(*a) + n * sizeof(struct btrfs_ioctl_space_info));
	if (!a)
		return -ENOMEM;
	a->space_slots = n;
	if (ioctl(fsfd, BTRFS_IOC_SPACE_INFO, a) < 0)
		return -errno;
	for (size_t i = 0; i < a->total_spaces && i < n; i++) {
		const struct btrfs_ioctl_space_info *si = &a->spaces[i];
		if (si->flags & BTRFS_BLOCK_GROUP_DATA) {
			s->data_total += si->total_bytes;
			s->data_used += si->used_bytes;
		} else if (si->flags & BTRFS_BLOCK_GROUP_METADATA) {
			s->meta_total += si->total_bytes;
			s->meta_used += si->used_bytes;
		}
	}
	/* what a writer can still get: statfs accounts for unallocated space
	 * and the RAID profile */
	struct statfs sf;
	if (fstatfs(fsfd, &sf) == 0)
		s->avail = (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize;
	return 0;
}
