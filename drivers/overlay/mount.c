/* Building one overlay mount. Overlay options never go through libmount:
 * its fsconfig path caps a value at 256 bytes, and so does the kernel's
 * fsconfig, which is why a deep chain needs either one "lowerdir+" call per
 * layer (kernel 6.8+) or one page of mount(2) data holding short relative
 * names. Both resolve names against the current directory, so the work runs
 * in a short-lived thread with its own (unshared) working directory: the
 * caller's cwd and its other threads are never touched. */
#include <fcntl.h>
#include <linux/mount.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "base/base.h"
#include "overlay.h"

static int sys_fsopen(const char *fs, unsigned flags) { return (int)syscall(SYS_fsopen, fs, flags); }
static int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *val, int aux)
{
	return (int)syscall(SYS_fsconfig, fd, cmd, key, val, aux);
}
static int sys_fsmount(int fd, unsigned flags, unsigned attrs) { return (int)syscall(SYS_fsmount, fd, flags, attrs); }
static int sys_move_mount(int from_fd, const char *from, int to_fd, const char *to, unsigned flags)
{
	return (int)syscall(SYS_move_mount, from_fd, from, to_fd, to, flags);
}

/* ------------------------------------------------------------- options */

static bool param_exists(const char *name)
{
	char p[128];
	snprintf(p, sizeof(p), "/sys/module/overlay/parameters/%s", name);
	return access(p, F_OK) == 0;
}

static bool opt_value_ok(const char *opt, const char *key, const char *const *values)
{
	size_t kl = strlen(key);
	if (strncmp(opt, key, kl) != 0)
		return false;
	if (!values)
		return opt[kl] == '\0';
	if (opt[kl] != '=')
		return false;
	for (const char *const *v = values; *v; v++)
		if (strcmp(opt + kl + 1, *v) == 0)
			return true;
	return false;
}

/* Only options that keep the layout valid: the layer paths, index and the
 * like are the driver's business. */
static bool user_opt_ok(const char *opt)
{
	static const char *const onoff[] = {"on", "off", NULL};
	static const char *const redirect[] = {"on", "off", "follow", "nofollow", NULL};
	static const char *const xino[] = {"on", "off", "auto", NULL};
	return opt_value_ok(opt, "redirect_dir", redirect) || opt_value_ok(opt, "metacopy", onoff) ||
	       opt_value_ok(opt, "xino", xino) || opt_value_ok(opt, "volatile", NULL);
}

int ovl_mount_options(const char *user, char *out, size_t len, struct st_error *err)
{
	bool user_redirect = false, user_metacopy = false;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", user ? user : "");
	if (user && strlen(user) >= sizeof(buf))
		return st_error_fail(err, EINVAL, "overlay: mountopt \"%.64s...\" is too long", user);
	for (char *save = NULL, *o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!user_opt_ok(o))
			return st_error_fail(err, EINVAL,
					     "overlay: mount option \"%s\" is not allowed (allowed: redirect_dir=, "
					     "metacopy=, xino=, volatile)", o);
		user_redirect |= st_str_has_prefix(o, "redirect_dir=");
		user_metacopy |= st_str_has_prefix(o, "metacopy=");
	}
	/* index=off: layers are committed in place, an index would pin them to
	 * the first upper they met. redirect_dir=on: rename(2) of a directory
	 * from a lower layer works (else EXDEV, which programs other than mv
	 * rarely handle); such a layer's diff/ lacks the directory's content and
	 * is diffed naively. metacopy=off: a chown or chmod copies the data up,
	 * so that diff/ stays complete. */
	size_t o = 0;
	out[0] = '\0';
	if (param_exists("index"))
		o += (size_t)snprintf(out + o, len - o, "index=off");
	if (!user_redirect && param_exists("redirect_dir"))
		o += (size_t)snprintf(out + o, len - o, "%sredirect_dir=on", o ? "," : "");
	if (!user_metacopy && param_exists("metacopy"))
		o += (size_t)snprintf(out + o, len - o, "%smetacopy=off", o ? "," : "");
	if (user && *user)
		o += (size_t)snprintf(out + o, len - o, "%s%s", o ? "," : "", user);
	if (o >= len)
		return st_error_fail(err, EINVAL, "overlay: mount options too long");
	return 0;
}

/* ---------------------------------------------------------------- mount */

struct job {
	const struct ovl_mount_spec *s;
	struct st_error *err;
	int r;
	char **abs; /* absolute names, when every one is short enough */
};

/* The kernel's own words from an fs context ("e overlay: too many lower
 * directories, limit is 500"), appended to the error. */
static int fs_fail(struct job *j, int fsfd, int errnum, const char *what)
{
	char log[1024] = "", msg[512];
	ssize_t n;
	while (fsfd >= 0 && (n = read(fsfd, msg, sizeof(msg) - 1)) > 0) {
		msg[n] = '\0';
		if (msg[n - 1] == '\n')
			msg[n - 1] = '\0';
		const char *text = msg[0] && msg[1] == ' ' ? msg + 2 : msg;
		snprintf(log + strlen(log), sizeof(log) - strlen(log), "%s%s", log[0] ? "; " : "", text);
	}
	if (log[0])
		return st_error_fail(j->err, errnum, "%s: %s (%s)", what, log, strerror(errnum));
	return st_error_set(j->err, errnum, "%s", what);
}

static int set_opts(struct job *j, int fsfd)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", j->s->opts ? j->s->opts : "");
	for (char *save = NULL, *o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(o, '=');
		int r;
		if (eq) {
			*eq = '\0';
			r = sys_fsconfig(fsfd, FSCONFIG_SET_STRING, o, eq + 1, 0);
		} else {
			r = sys_fsconfig(fsfd, FSCONFIG_SET_FLAG, o, NULL, 0);
		}
		if (r < 0) {
			char what[300];
			snprintf(what, sizeof(what), "overlay option \"%s%s%s\"", o, eq ? "=" : "", eq ? eq + 1 : "");
			return fs_fail(j, fsfd, errno, what);
		}
	}
	return 0;
}

/* The name of layer i (lowers, then upper and work) as fsconfig gets it. */
static const char *name_of(struct job *j, size_t i)
{
	const struct ovl_mount_spec *s = j->s;
	if (j->abs)
		return j->abs[i];
	return i < s->nlowers ? s->lowers[i] : i == s->nlowers ? s->upper : s->work;
}

static int mount_new(struct job *j)
{
	const struct ovl_mount_spec *s = j->s;
	_cleanup_close_ int fsfd = sys_fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return st_error_set(j->err, errno, "fsopen overlay");
	/* what mount(2) would show as the source */
	if (sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "overlay", 0) < 0)
		return fs_fail(j, fsfd, errno, "overlay source");
	for (size_t i = 0; i < s->nlowers; i++) {
		if (sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", name_of(j, i), 0) < 0) {
			char what[128];
			snprintf(what, sizeof(what), "lower layer %zu of %zu (\"%s\")", i + 1, s->nlowers, s->lowers[i]);
			return fs_fail(j, fsfd, errno, what);
		}
	}
	if (s->upper && (sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", name_of(j, s->nlowers), 0) < 0 ||
			 sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", name_of(j, s->nlowers + 1), 0) < 0))
		return fs_fail(j, fsfd, errno, "upper and work directories");
	int r = set_opts(j, fsfd);
	if (r < 0)
		return r;
	if (sys_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return fs_fail(j, fsfd, errno, "create overlay");
	_cleanup_close_ int mfd = sys_fsmount(fsfd, FSMOUNT_CLOEXEC, s->upper ? 0 : MOUNT_ATTR_RDONLY);
	if (mfd < 0)
		return fs_fail(j, fsfd, errno, "fsmount overlay");
	if (sys_move_mount(mfd, "", s->base_fd, s->target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return st_error_set(j->err, errno, "attach overlay at \"%s\"", s->target);
	return 0;
}

/* The mount(2) data into buf (cap bytes); returns the length it needs. */
static size_t legacy_data(struct job *j, char *buf, size_t cap)
{
	const struct ovl_mount_spec *s = j->s;
	size_t o = 0;
#define PUT(...) o += (size_t)snprintf(buf && o < cap ? buf + o : NULL, buf && o < cap ? cap - o : 0, __VA_ARGS__)
	PUT("lowerdir=");
	for (size_t i = 0; i < s->nlowers; i++)
		PUT("%s%s", i ? ":" : "", name_of(j, i));
	if (s->upper)
		PUT(",upperdir=%s,workdir=%s", name_of(j, s->nlowers), name_of(j, s->nlowers + 1));
	if (s->opts && *s->opts)
		PUT(",%s", s->opts);
#undef PUT
	return o;
}

static size_t page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);
	return (size_t)(page > 0 ? page : 4096);
}

static int mount_legacy(struct job *j, const char *target)
{
	const struct ovl_mount_spec *s = j->s;
	size_t cap = page_size();
	_cleanup_free_ char *data = malloc(cap);
	if (!data)
		return st_error_set(j->err, ENOMEM, "overlay mount data");
	size_t need = legacy_data(j, data, cap);
	if (need >= cap)
		return st_error_fail(j->err, E2BIG,
				     "%zu lower layers need %zu bytes of mount(2) data, the kernel takes %zu in one "
				     "call (kernels from 6.8 take layers one by one: lowerdir+)", s->nlowers, need + 1, cap - 1);
	if (mount("overlay", target, "overlay", s->upper ? 0 : MS_RDONLY, data) < 0) {
		int e = errno;
		if (e == EINVAL && s->nlowers > OVL_MAX_LOWERS)
			return st_error_fail(j->err, e, "%zu lower layers: the kernel stacks at most %d (%s)",
					     s->nlowers, OVL_MAX_LOWERS, strerror(e));
		return st_error_set(j->err, e, "mount(2) overlay at \"%s\" with %zu lower layer%s", target,
				    s->nlowers, s->nlowers == 1 ? "" : "s");
	}
	return 0;
}

static void *mount_thread(void *arg)
{
	struct job *j = arg;
	if (unshare(CLONE_FS) < 0 || fchdir(j->s->base_fd) < 0)
		j->r = st_error_set(j->err, errno, "enter the layer directory");
	else
		j->r = j->s->lowerdir_plus ? mount_new(j) : mount_legacy(j, j->s->target);
	return NULL;
}

/* base_path + "/" + rel, "../" taken off base_path; NULL when it would not
 * fit fsconfig's 256 bytes. */
static char *abs_name(const char *base, const char *rel)
{
	size_t bl = strlen(base);
	while (st_str_has_prefix(rel, "../")) {
		while (bl > 0 && base[bl - 1] != '/')
			bl--;
		if (bl > 0)
			bl--;
		rel += 3;
	}
	char *p = st_asprintf("%.*s/%s", (int)bl, base, rel);
	if (p && strlen(p) > 255) {
		free(p);
		p = NULL;
	}
	return p;
}

/* Absolute names for lowerdir+ in the caller's thread: no working directory
 * to borrow, and mountinfo shows where the layers are. */
static char **abs_names(const struct ovl_mount_spec *s)
{
	size_t n = s->nlowers + (s->upper ? 2 : 0);
	char **v = calloc(n, sizeof(*v));
	for (size_t i = 0; v && i < n; i++) {
		const char *rel = i < s->nlowers ? s->lowers[i] : i == s->nlowers ? s->upper : s->work;
		if (!(v[i] = abs_name(s->base_path, rel))) {
			st_strv_free(v, n);
			return NULL;
		}
	}
	return v;
}

int ovl_mount(const struct ovl_mount_spec *s, struct st_error *err)
{
	if (s->nlowers == 0 || (s->nlowers == 1 && !s->upper))
		return st_error_fail(err, EINVAL, "overlay needs two lower layers, or one and an upper");
	struct job j = {.s = s, .err = err};
	size_t nabs = s->nlowers + (s->upper ? 2 : 0);
	if (s->base_path && (j.abs = abs_names(s))) {
		/* Absolute names, in the caller's thread: one mount(2) while they
		 * fit its page (just what a bare mount does), else one fsconfig
		 * per layer. mountinfo then shows where the layers are. */
		_cleanup_free_ char *target = abs_name(s->base_path, s->target);
		int r = 1;
		if (target && legacy_data(&j, NULL, 0) < page_size())
			r = mount_legacy(&j, target);
		else if (s->lowerdir_plus)
			r = mount_new(&j);
		st_strv_free(j.abs, nabs);
		j.abs = NULL;
		if (r <= 0)
			return r;
	}
	/* names relative to base_fd, from a thread with its own working directory */
	pthread_t t;
	int r = pthread_create(&t, NULL, mount_thread, &j);
	if (r != 0)
		return st_error_set(err, r, "start mount thread");
	pthread_join(t, NULL);
	return j.r;
}

bool ovl_is_mounted(int dirfd, const char *name)
{
	uint64_t self = 0, parent = 0;
	return st_mnt_id(dirfd, name, &self) == 0 && st_mnt_id(dirfd, "", &parent) == 0 && self && self != parent;
}

int ovl_unmount(int dirfd, const char *name, struct st_error *err)
{
	char p[PATH_MAX];
	st_fd_path(p, sizeof(p), dirfd, name);
	/* umount2 itself tells whether something is mounted there (EINVAL:
	 * not a mount point); mounts may be stacked: take them all */
	for (int i = 0; i < 64; i++) {
		if (umount2(p, UMOUNT_NOFOLLOW) == 0)
			continue;
		if (errno == EBUSY && umount2(p, UMOUNT_NOFOLLOW | MNT_DETACH) == 0)
			continue; /* in use: detach now, the kernel frees it after the last user */
		if (errno == EINVAL || errno == ENOENT)
			return 0;
		return st_error_set(err, errno, "unmount \"%s\"", name);
	}
	return st_error_fail(err, EBUSY, "unmount \"%s\": still mounted after 64 unmounts", name);
}

bool ovl_mount_has_lowerdir_plus(int base_fd, const char *l1, const char *l2)
{
	/* Kernels before 6.5 take fsconfig for overlay through the "legacy"
	 * context, which accepts any key and only fails (noisily, in the kernel
	 * log) when the superblock is made: a key no parser knows tells them
	 * apart. Then a superblock with two "lowerdir+" layers, never mounted. */
	_cleanup_close_ int fsfd = sys_fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0 || sys_fsconfig(fsfd, FSCONFIG_SET_FLAG, "strata-no-such-option", NULL, 0) == 0)
		return false;
	close(fsfd);
	fsfd = sys_fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return false;
	char p1[PATH_MAX], p2[PATH_MAX];
	st_fd_path(p1, sizeof(p1), base_fd, l1);
	st_fd_path(p2, sizeof(p2), base_fd, l2);
	return sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", p1, 0) == 0 &&
	       sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", p2, 0) == 0 &&
	       sys_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0;
}
