/* Size limits for read-write layers through project quotas, on xfs (mounted
 * with pquota) as Docker does, and on ext4 (made with -O project,quota and
 * mounted with prjquota), which Docker cannot: both take the same calls.
 * A layer directory gets its own project id, inherited by everything made
 * under it (diff/ and work/ alike, so that copy-up renames stay within one
 * project), and a hard block limit for that project. quotactl_fd works on
 * any file of the filesystem, so no block device node is needed. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/dqblk_xfs.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/quota.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "base/base.h"
#include "overlay.h"

#ifndef XFS_SUPER_MAGIC
#define XFS_SUPER_MAGIC 0x58465342
#endif
#define PROJID_FILE ".projid"
#define PROJID_LOCK ".projid.lock"

static int quotactl_fd(int fd, unsigned cmd, uint32_t id, void *addr)
{
	return (int)syscall(SYS_quotactl_fd, fd, cmd, id, addr);
}

static int projid_of(int fd, uint32_t *id)
{
	struct fsxattr fx;
	if (ioctl(fd, FS_IOC_FSGETXATTR, &fx) < 0)
		return -errno;
	*id = fx.fsx_projid;
	return 0;
}

void ovl_quota_init(struct ovl_quota *q, int home_fd)
{
	memset(q, 0, sizeof(*q));
	q->lock_dir_fd = -1;
	struct statfs sf;
	const char *hint = "xfs mounted with pquota, or ext4 made with -O project,quota and mounted with prjquota";
	if (fstatfs(home_fd, &sf) < 0 ||
	    ((unsigned long)sf.f_type != XFS_SUPER_MAGIC && (unsigned long)sf.f_type != EXT4_SUPER_MAGIC)) {
		snprintf(q->why, sizeof(q->why), "the backing filesystem (%s) has no project quota (%s)",
			 st_fs_name(home_fd), hint);
		return;
	}
	struct fs_quota_statv sv = {.qs_version = FS_QSTATV_VERSION1};
	if (quotactl_fd(home_fd, QCMD(Q_XGETQSTATV, PRJQUOTA), 0, &sv) < 0) {
		snprintf(q->why, sizeof(q->why), "%s: project quota is off (%s; %s)", st_fs_name(home_fd),
			 errno == ENOSYS ? "no quotactl_fd, kernel before 5.14" : strerror(errno), hint);
		return;
	}
	if (!(sv.qs_flags & FS_QUOTA_PDQ_ENFD)) {
		snprintf(q->why, sizeof(q->why), "%s: project quota is not enforced (%s)", st_fs_name(home_fd), hint);
		return;
	}
	q->lock_dir_fd = dup(home_fd);
	q->enabled = q->lock_dir_fd >= 0;
}

void ovl_quota_cleanup(struct ovl_quota *q)
{
	if (q->lock_dir_fd >= 0)
		close(q->lock_dir_fd);
	q->lock_dir_fd = -1;
}

/* Next free project id: above the home's own, counted in a file under a
 * lock (processes share the store), persisted before it is used. */
static int projid_next(struct ovl_quota *q, uint32_t *out, struct st_error *err)
{
	int lfd = st_lock_at(q->lock_dir_fd, PROJID_LOCK, LOCK_EX, err);
	if (lfd < 0)
		return lfd;
	uint32_t base = 0;
	projid_of(q->lock_dir_fd, &base);
	uint64_t next = (uint64_t)base + 1;
	_cleanup_free_ char *text = NULL;
	struct st_error e2;
	if (st_read_file_at(q->lock_dir_fd, PROJID_FILE, &text, NULL, &e2) == 0) {
		uint64_t saved = strtoull(text, NULL, 10);
		if (saved > next)
			next = saved;
	}
	int r = 0;
	if (next >= UINT32_MAX) {
		r = st_error_fail(err, ENOSPC, "overlay: project ids exhausted");
	} else {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", next + 1);
		r = st_atomic_write_at(q->lock_dir_fd, PROJID_FILE, buf, (size_t)n, 0600, err);
		*out = (uint32_t)next;
	}
	st_unlock(&lfd);
	return r;
}

static int set_limit(int fd, uint32_t id, uint64_t bytes)
{
	struct fs_disk_quota dq = {
		.d_version = FS_DQUOT_VERSION,
		.d_flags = FS_PROJ_QUOTA,
		.d_fieldmask = FS_DQ_BSOFT | FS_DQ_BHARD,
		.d_id = id,
		.d_blk_hardlimit = (bytes + 511) / 512, /* basic blocks */
		.d_blk_softlimit = (bytes + 511) / 512,
	};
	return quotactl_fd(fd, QCMD(Q_XSETQLIM, PRJQUOTA), id, &dq) < 0 ? -errno : 0;
}

int ovl_quota_set(struct ovl_quota *q, int dirfd, const char *what, int64_t bytes, struct st_error *err)
{
	if (!q->enabled)
		return st_error_fail(err, ENOTSUP, "overlay: %s: size needs project quota: %s", what, q->why);
	if (bytes <= 0)
		return st_error_fail(err, EINVAL, "overlay: %s: size must be positive", what);
	uint32_t id;
	int r = projid_next(q, &id, err);
	if (r < 0)
		return st_error_wrap(err, "overlay: %s", what);
	struct fsxattr fx;
	if (ioctl(dirfd, FS_IOC_FSGETXATTR, &fx) < 0)
		return st_error_set(err, errno, "overlay: %s: read project id", what);
	fx.fsx_projid = id;
	fx.fsx_xflags |= FS_XFLAG_PROJINHERIT;
	if (ioctl(dirfd, FS_IOC_FSSETXATTR, &fx) < 0)
		return st_error_set(err, errno, "overlay: %s: set project id %" PRIu32, what, id);
	if ((r = set_limit(dirfd, id, (uint64_t)bytes)) < 0)
		return st_error_set(err, -r, "overlay: %s: set the limit of project %" PRIu32, what, id);
	return 0;
}

int ovl_quota_clear(struct ovl_quota *q, int dirfd)
{
	uint32_t id = 0, base = 0;
	if (!q->enabled || projid_of(dirfd, &id) < 0 || id == 0)
		return 0;
	projid_of(q->lock_dir_fd, &base);
	if (id == base)
		return 0; /* not one of ours */
	return set_limit(dirfd, id, 0);
}

int64_t ovl_quota_get(struct ovl_quota *q, int dirfd)
{
	uint32_t id = 0;
	if (!q->enabled || projid_of(dirfd, &id) < 0 || id == 0)
		return 0;
	struct fs_disk_quota dq = {0};
	if (quotactl_fd(dirfd, QCMD(Q_XGETQUOTA, PRJQUOTA), id, &dq) < 0)
		return 0;
	return (int64_t)dq.d_blk_hardlimit * 512;
}
