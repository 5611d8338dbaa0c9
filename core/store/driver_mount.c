/* Mount counting for the driver interface: st_drv_get/put call the driver's
 * get for the first user and its put after the last; the counts live in
 * <home>/.strata/mounts/ID and outlive the process, except transient users
 * (a diff, an export), which die with theirs. */
#include <fcntl.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"
#include "driver_int.h"

/* ------------------------------------------------------ mount counting */

/* A mount count: users that hold the layer mounted. Most users are
 * persistent (a running container, `strata mount`): their count outlives
 * the process that took it. Transient users (a diff, an export, a copy)
 * are bound to their process: "T pid:start ..." records them, and a use
 * whose process died is dropped (and the layer unmounted when it was the
 * last), so a kill -9 leaves no mount behind. count includes them. */
#define MC_MAX_TRANSIENT 64

struct mc_user {
	pid_t pid;
	int64_t start; /* the process's start time: pids are reused */
};

struct mcount {
	int count;
	int mounted; /* the driver's get made a mount (checked against mountinfo) */
	char path[PATH_MAX];
	struct mc_user t[MC_MAX_TRANSIENT];
	int nt;
};

static int mc_read(int mfd, const char *id, struct mcount *mc)
{
	memset(mc, 0, sizeof(*mc));
	_cleanup_free_ char *text = NULL;
	struct st_error e;
	if (st_read_file_at(mfd, id, &text, NULL, &e) < 0)
		return 0;
	if (sscanf(text, "%d %d %4095[^\n]", &mc->count, &mc->mounted, mc->path) < 2) {
		memset(mc, 0, sizeof(*mc));
		return 0;
	}
	const char *t = strstr(text, "\nT ");
	for (t = t ? t + 3 : NULL; t && *t && *t != '\n' && mc->nt < MC_MAX_TRANSIENT;) {
		int pid, used = 0;
		long long start;
		if (sscanf(t, "%d:%lld%n", &pid, &start, &used) != 2 || used == 0)
			break;
		if (mc->nt < mc->count)
			mc->t[mc->nt++] = (struct mc_user){pid, start};
		t += used;
		while (*t == ' ')
			t++;
	}
	return 0;
}

static int mc_write(int mfd, const char *id, const struct mcount *mc, struct st_error *err)
{
	if (mc->count == 0) {
		if (unlinkat(mfd, id, 0) < 0 && errno != ENOENT)
			return st_error_set(err, errno, "mount count of \"%s\"", id);
		return 0;
	}
	char buf[PATH_MAX + 64 + MC_MAX_TRANSIENT * 32];
	int n = snprintf(buf, sizeof(buf), "%d %d %s\n", mc->count, mc->mounted, mc->path);
	if (mc->nt > 0) {
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "T");
		for (int i = 0; i < mc->nt; i++)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %d:%lld", (int)mc->t[i].pid,
				      (long long)mc->t[i].start);
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\n");
	}
	return st_replace_file_at(mfd, id, buf, (size_t)n, 0600, err);
}

/* Drop the transient users whose process is gone; returns how many. */
static int mc_drop_dead(struct mcount *mc)
{
	int dropped = 0;
	for (int i = 0; i < mc->nt;) {
		if (st_proc_start(mc->t[i].pid) == mc->t[i].start) {
			i++;
			continue;
		}
		mc->t[i] = mc->t[--mc->nt];
		mc->count--;
		dropped++;
	}
	return dropped;
}

/* Under the layer's lock: drop dead transient users; when none is left,
 * unmount (the driver's put) and forget the mount. */
static int mc_reap_locked(struct st_driver *d, int mfd, const char *id, struct mcount *mc)
{
	int before = mc->count;
	if (mc_drop_dead(mc) == 0)
		return 0;
	struct st_error e;
	if (mc->count <= 0 && before > 0) {
		if (!mc->mounted || st_is_mountpoint(mc->path))
			d->ops->put(d, id, &e);
		memset(mc, 0, sizeof(*mc));
	}
	return mc_write(mfd, id, mc, &e);
}

/* Under the layer's lock: reap its dead transient users. */
void drv_mc_reap_id_locked(struct st_driver *d, const char *id)
{
	struct st_error e;
	_cleanup_close_ int mfd = drv_meta_dir(d, "mounts", &e);
	struct mcount mc;
	if (mfd < 0)
		return;
	mc_read(mfd, id, &mc);
	mc_reap_locked(d, mfd, id, &mc);
}

int st_drv_mount_count(struct st_driver *d, const char *id)
{
	struct st_error e;
	_cleanup_close_ int mfd = drv_meta_dir(d, "mounts", &e);
	struct mcount mc;
	if (mfd < 0 || !st_valid_id(id))
		return 0;
	mc_read(mfd, id, &mc);
	if (mc.count > 0 && mc.mounted && !st_is_mountpoint(mc.path))
		return 0; /* the mount went away (reboot, umount by hand) */
	mc_drop_dead(&mc);
	return mc.count > 0 ? mc.count : 0;
}

static int drv_get(struct st_driver *d, const char *id, char *path, size_t len, bool transient,
		   struct st_error *err)
{
	int r = drv_check_id("layer id", id, err);
	if (r < 0)
		return r;
	int lfd = drv_layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct drv_rec rec;
	_cleanup_close_ int mfd = -1;
	if ((r = drv_rec_read(d, id, &rec, err)) < 0 || (mfd = drv_meta_dir(d, "mounts", err)) < 0) {
		st_unlock(&lfd);
		return r < 0 ? r : mfd;
	}
	if (strcmp(rec.state, "ready") != 0) {
		st_unlock(&lfd);
		return st_error_fail(err, ENOENT, "layer \"%s\" is being %s", id,
				     strcmp(rec.state, "creating") == 0 ? "created" : "removed");
	}
	struct mcount mc;
	mc_read(mfd, id, &mc);
	if (mc.count > 0 && mc.mounted && !st_is_mountpoint(mc.path))
		memset(&mc, 0, sizeof(mc));
	mc_reap_locked(d, mfd, id, &mc);
	if (mc.count == 0) {
		memset(&mc, 0, sizeof(mc));
		r = d->ops->get(d, id, mc.path, sizeof(mc.path), err);
		if (r < 0) {
			st_unlock(&lfd);
			return r;
		}
		mc.mounted = st_is_mountpoint(mc.path);
	}
	mc.count++;
	if (transient && mc.nt < MC_MAX_TRANSIENT)
		mc.t[mc.nt++] = (struct mc_user){getpid(), st_proc_start(getpid())};
	r = mc_write(mfd, id, &mc, err);
	if (r >= 0)
		snprintf(path, len, "%s", mc.path);
	st_unlock(&lfd);
	return r;
}

static int drv_put(struct st_driver *d, const char *id, bool transient, struct st_error *err)
{
	int r = drv_check_id("layer id", id, err);
	if (r < 0)
		return r;
	int lfd = drv_layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	_cleanup_close_ int mfd = drv_meta_dir(d, "mounts", err);
	if (mfd < 0) {
		st_unlock(&lfd);
		return mfd;
	}
	struct mcount mc;
	mc_read(mfd, id, &mc);
	mc_reap_locked(d, mfd, id, &mc);
	if (mc.count <= 0) {
		st_unlock(&lfd);
		return st_error_fail(err, EINVAL, "layer \"%s\" is not mounted", id);
	}
	/* our own transient use, or (a persistent put that finds only
	 * transient users, as when a sweep drains a layer) the oldest */
	int mine = -1;
	pid_t self = getpid();
	for (int i = 0; transient && i < mc.nt && mine < 0; i++)
		if (mc.t[i].pid == self)
			mine = i;
	if (mine < 0 && mc.nt >= mc.count)
		mine = 0;
	if (mine >= 0 && mc.nt > 0) {
		memmove(&mc.t[mine], &mc.t[mine + 1], (size_t)(mc.nt - mine - 1) * sizeof(mc.t[0]));
		mc.nt--;
	}
	mc.count--;
	if (mc.count == 0 && (r = d->ops->put(d, id, err)) < 0) {
		st_unlock(&lfd);
		return r;
	}
	r = mc_write(mfd, id, &mc, err);
	st_unlock(&lfd);
	return r;
}

int st_drv_get(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err)
{
	return drv_get(d, id, path, len, false, err);
}

int st_drv_put(struct st_driver *d, const char *id, struct st_error *err)
{
	return drv_put(d, id, false, err);
}

int st_drv_get_transient(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err)
{
	return drv_get(d, id, path, len, true, err);
}

int st_drv_put_transient(struct st_driver *d, const char *id, struct st_error *err)
{
	return drv_put(d, id, true, err);
}

int st_drv_open_dir(struct st_driver *d, const char *id, int *fd, struct st_error *err)
{
	char path[PATH_MAX];
	int r = st_drv_get_transient(d, id, path, sizeof(path), err);
	if (r < 0)
		return r;
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0) {
		r = st_error_set(err, errno, "open layer \"%s\" at \"%s\"", id, path);
		struct st_error ignore;
		st_drv_put_transient(d, id, &ignore);
		return r;
	}
	return 0;
}

void st_drv_release_dir(struct st_driver *d, const char *id, int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
		struct st_error ignore;
		st_drv_put_transient(d, id, &ignore);
	}
}

int st_drv_mount_record(struct st_driver *d, const char *id, int *count, bool *mounted, char *path, size_t len)
{
	struct st_error e;
	_cleanup_close_ int mfd = drv_meta_dir(d, "mounts", &e);
	if (mfd < 0 || !st_valid_id(id))
		return -ENOENT;
	struct stat st;
	if (fstatat(mfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	struct mcount mc;
	mc_read(mfd, id, &mc);
	*count = mc.count;
	*mounted = mc.mounted;
	snprintf(path, len, "%s", mc.path);
	return 0;
}

int st_drv_mount_reset(struct st_driver *d, const char *id, struct st_error *err)
{
	int r = drv_check_id("layer id", id, err);
	if (r < 0)
		return r;
	int lfd = drv_layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	_cleanup_close_ int mfd = drv_meta_dir(d, "mounts", err);
	struct drv_rec rec;
	struct st_error e2;
	struct mcount mc;
	if (mfd < 0) {
		st_unlock(&lfd);
		return mfd;
	}
	mc_read(mfd, id, &mc);
	if (mc.mounted && st_is_mountpoint(mc.path)) {
		if (drv_rec_read(d, id, &rec, &e2) == 0 && d->ops->exists(d, id))
			r = d->ops->put(d, id, err);
		else if (umount2(mc.path, MNT_DETACH) < 0)
			r = st_error_set(err, errno, "unmount \"%s\"", mc.path);
	}
	if (r >= 0 && unlinkat(mfd, id, 0) < 0 && errno != ENOENT)
		r = st_error_set(err, errno, "mount count of \"%s\"", id);
	st_unlock(&lfd);
	return r;
}
