/* libdevmapper, one task per call. Every task that makes or removes a
 * device carries a udev cookie and waits on it, so that the device node
 * exists (or is gone) when the call returns, whether udev or the library
 * manages the nodes. libdevmapper's own error log is captured and appended
 * to our error messages instead of going to the caller's stderr. */
#include <fcntl.h>
#include <libdevmapper.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/base.h"
#include "devmapper.h"

/* the last error libdevmapper logged in this thread */
static __thread char dmlib_last[512];

__attribute__((format(printf, 5, 6))) static void dmlib_log(int level, const char *file, int line,
							     int dm_errno_or_class, const char *f, ...)
{
	(void)file;
	(void)line;
	(void)dm_errno_or_class;
	if ((level & 0xf) > 3) /* errors only; warnings and debug stay quiet */
		return;
	va_list ap;
	va_start(ap, f);
	vsnprintf(dmlib_last, sizeof(dmlib_last), f, ap);
	va_end(ap);
}

static pthread_once_t dmlib_once = PTHREAD_ONCE_INIT;

/* libdevmapper keeps /dev/mapper/control open in a static fd. A child that
 * closes its inherited files (a container monitor does) would leave it
 * pointing at a closed or reused fd: let go of it right after the fork,
 * while it is still the control device; the child opens its own. */
static void dmlib_atfork_child(void)
{
	dm_lib_release();
}

static void dmlib_setup_once(void)
{
	pthread_atfork(NULL, NULL, dmlib_atfork_child);
	dm_log_with_errno_init(dmlib_log);
	const char *off = getenv("DM_DISABLE_UDEV");
	dm_udev_set_sync_support(!(off && *off));
}

void dmlib_setup(void)
{
	pthread_once(&dmlib_once, dmlib_setup_once);
}

void dmlib_release(void)
{
	dm_lib_release();
}

bool dmlib_udev_sync(void)
{
	dmlib_setup();
	return dm_udev_get_sync_support() != 0;
}

void dmlib_versions(char *buf, size_t len)
{
	char lib[64] = "?", drv[64] = "?";
	dmlib_setup();
	dm_get_library_version(lib, sizeof(lib));
	dm_driver_version(drv, sizeof(drv));
	snprintf(buf, len, "%s (driver %s)", lib, drv);
}

int dmlib_available(char *reason, size_t len)
{
	/* Look before touching libdevmapper: on a kernel without device-mapper
	 * it would try to create /dev/mapper/control. */
	bool listed = false;
	FILE *f = fopen("/proc/misc", "re");
	if (f) {
		char line[128];
		while (fgets(line, sizeof(line), f))
			if (strstr(line, " device-mapper"))
				listed = true;
		fclose(f);
	}
	if (!listed) {
		snprintf(reason, len,
			 "device-mapper is not available in this kernel (no device-mapper in /proc/misc; load dm-mod)");
		return -ENODEV;
	}
	dmlib_setup();
	char v[64];
	dmlib_last[0] = '\0';
	if (!dm_driver_version(v, sizeof(v))) {
		snprintf(reason, len, "device-mapper is not usable: %s", dmlib_last[0] ? dmlib_last : "no driver version");
		return -ENODEV;
	}
	return 0;
}

static void dmlib_taskp(struct dm_task **t)
{
	if (*t)
		dm_task_destroy(*t);
}
#define _cleanup_task_ _cleanup_(dmlib_taskp)

/* The kernel's errno of a failed task, with libdevmapper's words. */
static int dmlib_fail(struct dm_task *t, struct st_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int dmlib_fail(struct dm_task *t, struct st_error *err, const char *fmt, ...)
{
	int e = t ? dm_task_get_errno(t) : 0;
	if (e <= 0)
		e = t ? EIO : ENOMEM;
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (dmlib_last[0])
		return st_error_fail(err, e, "%s: %s", what, dmlib_last);
	return st_error_set(err, e, "%s", what);
}

static struct dm_task *dmlib_task(int type, const char *name)
{
	dmlib_setup();
	dmlib_last[0] = '\0';
	struct dm_task *t = dm_task_create(type);
	if (t && name && !dm_task_set_name(t, name)) {
		dm_task_destroy(t);
		return NULL;
	}
	return t;
}

/* Run a task that creates, removes or resumes a device: with a udev cookie,
 * waited on even when the task failed (the library expects it). */
static int dmlib_run_cookie(struct dm_task *t)
{
	uint32_t cookie = 0;
	if (!dm_task_set_cookie(t, &cookie, 0))
		return 0;
	int ok = dm_task_run(t);
	dm_udev_wait(cookie);
	return ok;
}

int dmlib_info(const char *name, struct dmlib_info *info, struct st_error *err)
{
	memset(info, 0, sizeof(*info));
	_cleanup_task_ struct dm_task *t = dmlib_task(DM_DEVICE_INFO, name);
	if (!t || !dm_task_run(t))
		return dmlib_fail(t, err, "device-mapper: info of \"%s\"", name);
	struct dm_info di;
	if (!dm_task_get_info(t, &di))
		return dmlib_fail(t, err, "device-mapper: info of \"%s\"", name);
	info->exists = di.exists;
	if (di.exists) {
		info->suspended = di.suspended;
		info->deferred_remove = di.deferred_remove;
		info->open_count = di.open_count;
		info->major = di.major;
		info->minor = di.minor;
	}
	return 0;
}

int dmlib_list(const char *prefix, char ***names, size_t *n, struct st_error *err)
{
	*names = NULL;
	*n = 0;
	_cleanup_task_ struct dm_task *t = dmlib_task(DM_DEVICE_LIST, NULL);
	if (!t || !dm_task_run(t))
		return dmlib_fail(t, err, "device-mapper: list devices");
	struct dm_names *nm = dm_task_get_names(t);
	if (!nm || !nm->dev)
		return 0;
	for (;;) {
		if (st_str_has_prefix(nm->name, prefix) && st_strv_push(names, n, nm->name) < 0) {
			st_strv_free(*names, *n);
			return st_error_set(err, ENOMEM, "device-mapper: list devices");
		}
		if (!nm->next)
			break;
		nm = (struct dm_names *)((char *)nm + nm->next);
	}
	return 0;
}

int dmlib_create(const char *name, const char *target, uint64_t sectors, const char *params,
		 struct st_error *err)
{
	_cleanup_task_ struct dm_task *t = dmlib_task(DM_DEVICE_CREATE, name);
	if (!t || !dm_task_add_target(t, 0, sectors, target, params) || !dmlib_run_cookie(t))
		return dmlib_fail(t, err, "device-mapper: create \"%s\" (%s %s)", name, target, params);
	return 0;
}

int dmlib_remove(const char *name, enum dmlib_remove_mode mode, struct st_error *err)
{
	_cleanup_task_ struct dm_task *t = dmlib_task(DM_DEVICE_REMOVE, name);
	if (!t)
		return dmlib_fail(t, err, "device-mapper: remove \"%s\"", name);
	/* A short-lived opener (blkid from a udev rule) should not fail us:
	 * without deferred removal, let the library retry a busy device for a
	 * few seconds first. */
	if (mode == DMLIB_REMOVE_RETRY)
		dm_task_retry_remove(t);
	else if (mode == DMLIB_REMOVE_DEFERRED)
		dm_task_deferred_remove(t);
	if (!dmlib_run_cookie(t))
		return dmlib_fail(t, err, "device-mapper: remove \"%s\"", name);
	return 0;
}

int dmlib_suspend(const char *name, struct st_error *err)
{
	_cleanup_task_ struct dm_task *t = dmlib_task(DM_DEVICE_SUSPEND, name);
	if (!t || !dm_task_run(t))
		return dmlib_fail(t, err, "device-mapper: suspend \"%s\"", name);
	return 0;
}

int dmlib_resume(const char *name, struct st_error *err)
{
	_cleanup_task_ struct dm_task *t = dmlib_task(DM_DEVICE_RESUME, name);
	if (!t || !dmlib_run_cookie(t))
		return dmlib_fail(t, err, "device-mapper: resume \"%s\"", name);
	return 0;
}

int dmlib_message(const char *name, const char *msg, struct st_error *err)
{
	_cleanup_task_ struct dm_task *t = dmlib_task(DM_DEVICE_TARGET_MSG, name);
	if (!t || !dm_task_set_sector(t, 0) || !dm_task_set_message(t, msg) || !dm_task_run(t))
		return dmlib_fail(t, err, "device-mapper: message \"%s\" to \"%s\"", msg, name);
	return 0;
}

int dmlib_status(const char *name, bool table, char *target, size_t tlen, char *params, size_t plen,
		 uint64_t *sectors, struct st_error *err)
{
	_cleanup_task_ struct dm_task *t = dmlib_task(table ? DM_DEVICE_TABLE : DM_DEVICE_STATUS, name);
	if (!t || !dm_task_run(t))
		return dmlib_fail(t, err, "device-mapper: %s of \"%s\"", table ? "table" : "status", name);
	uint64_t start, len;
	char *type = NULL, *p = NULL;
	dm_get_next_target(t, NULL, &start, &len, &type, &p);
	if (!type)
		return st_error_fail(err, ENXIO, "device-mapper: \"%s\" has no table", name);
	if (target)
		snprintf(target, tlen, "%s", type);
	if (params)
		snprintf(params, plen, "%s", p ? p : "");
	if (sectors)
		*sectors = len;
	return 0;
}

static bool dmlib_node_is(const char *path, dev_t want)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == want;
}

int dmlib_node(const char *name, char *path, size_t len, struct st_error *err)
{
	struct dmlib_info info;
	int r = dmlib_info(name, &info, err);
	if (r < 0)
		return r;
	if (!info.exists)
		return st_error_fail(err, ENXIO, "device-mapper: \"%s\" is not active", name);
	dev_t want = makedev(info.major, info.minor);
	snprintf(path, len, "%s/%s", dm_dir(), name);
	if (dmlib_node_is(path, want))
		return 0;
	/* Without udev and without DM_DISABLE_UDEV nobody makes the
	 * /dev/mapper node; devtmpfs always has the kernel's name. */
	snprintf(path, len, "/dev/dm-%u", info.minor);
	if (dmlib_node_is(path, want))
		return 0;
	return st_error_fail(err, ENOENT,
			     "device-mapper: no device node for \"%s\" (%u:%u) in %s or /dev "
			     "(udev not running? set DM_DISABLE_UDEV=1)",
			     name, info.major, info.minor, dm_dir());
}
