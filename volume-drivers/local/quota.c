/* Project quotas for local volumes (-o size=) on xfs (mounted with
 * prjquota) and ext4 (the project feature, mounted with prjquota): each
 * sized volume's _data gets a project id of its own, inherited by what is
 * made inside it, and a hard block limit on that project. One code path for
 * both filesystems: quotactl_fd with the XFS-style commands, which the
 * kernel also serves from its generic quota code for ext4. */
#include <errno.h>
#include <fcntl.h>
#include <linux/dqblk_xfs.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/quota.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/base.h"
#include "store/store.h"
#include "local.h"

#ifndef PRJQUOTA
#define PRJQUOTA 2
#endif

/* Project ids strata hands out start here, well above the small numbers
 * administrators use in /etc/projid. */
#define LOCAL_PROJID_BASE 0x5a700000u

static int quotactl_fd_(int fd, int cmd, int type, unsigned id, void *addr)
{
	return (int)syscall(SYS_quotactl_fd, fd, QCMD(cmd, type), id, addr);
}

int local_quota_supported(int fd, char *why, size_t len)
{
	struct fs_quota_stat qs = {.qs_version = FS_QSTAT_VERSION};
	if (quotactl_fd_(fd, Q_XGETQSTAT, PRJQUOTA, 0, &qs) < 0) {
		snprintf(why, len, "%s does not keep project quotas here (%s)", st_fs_name(fd), strerror(errno));
		return -ENOTSUP;
	}
	if (!(qs.qs_flags & FS_QUOTA_PDQ_ENFD)) {
		snprintf(why, len, "project quotas are not enforced on this %s (mount it with prjquota)",
			 st_fs_name(fd));
		return -ENOTSUP;
	}
	return 0;
}

static int projid_of(int dirfd, unsigned *id)
{
	struct fsxattr fsx;
	if (ioctl(dirfd, FS_IOC_FSGETXATTR, &fsx) < 0)
		return -errno;
	*id = fsx.fsx_projid;
	return 0;
}

/* The highest project id in use by the volumes under home, plus one. */
static unsigned next_projid(int home_fd)
{
	unsigned next = LOCAL_PROJID_BASE;
	char **names;
	size_t n;
	if (st_list_dir(home_fd, &names, &n) < 0)
		return next;
	for (size_t i = 0; i < n; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/_data", names[i]);
		_cleanup_close_ int fd = st_open_nofollow(home_fd, p, O_RDONLY | O_DIRECTORY, 0);
		unsigned id = 0;
		if (fd >= 0 && projid_of(fd, &id) == 0 && id >= next)
			next = id + 1;
	}
	st_strv_free(names, n);
	return next;
}

static int set_limit(int dirfd, unsigned id, uint64_t bytes)
{
	struct fs_disk_quota d = {
		.d_version = FS_DQUOT_VERSION,
		.d_flags = FS_PROJ_QUOTA,
		.d_fieldmask = FS_DQ_BSOFT | FS_DQ_BHARD,
		.d_id = id,
		.d_blk_hardlimit = (bytes + 511) / 512, /* basic blocks */
		.d_blk_softlimit = (bytes + 511) / 512,
	};
	return quotactl_fd_(dirfd, Q_XSETQLIM, PRJQUOTA, id, &d) < 0 ? -errno : 0;
}

int local_quota_set(int home_fd, int dirfd, int64_t bytes, struct st_error *err)
{
	/* allocation and assignment under one lock: two creates must not pick
	 * the same id */
	int lfd = st_lock_at(home_fd, ".quota.lock", LOCK_EX, err);
	if (lfd < 0)
		return lfd;
	unsigned id = next_projid(home_fd);
	struct fsxattr fsx;
	int r = 0;
	if (ioctl(dirfd, FS_IOC_FSGETXATTR, &fsx) < 0) {
		r = st_error_set(err, errno, "local: read project of volume directory");
	} else {
		fsx.fsx_projid = id;
		fsx.fsx_xflags |= FS_XFLAG_PROJINHERIT;
		if (ioctl(dirfd, FS_IOC_FSSETXATTR, &fsx) < 0)
			r = st_error_set(err, errno, "local: set project id %u on volume directory", id);
		else if ((r = set_limit(dirfd, id, (uint64_t)bytes)) < 0)
			r = st_error_set(err, -r, "local: set quota of project %u", id);
	}
	st_unlock(&lfd);
	return r;
}

void local_quota_clear(int dirfd)
{
	unsigned id = 0;
	if (projid_of(dirfd, &id) == 0 && id >= LOCAL_PROJID_BASE)
		set_limit(dirfd, id, 0);
}
