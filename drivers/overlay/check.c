/* Test mounts in a scratch directory of the driver home: can overlay work
 * here at all (probe), does this kernel take "lowerdir+", and is a layer's
 * diff/ an exact change set with the options we mount with (native diff)?
 * Scratch directories are named .ovl-check-PID-RANDOM so that the next
 * process can clean up after one that was killed. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/xattr.h>

#include "base/base.h"
#include "overlay.h"

#define CHECK_PREFIX ".ovl-check-"

void ovl_check_sweep(int home_fd)
{
	char **names;
	size_t n;
	if (st_list_dir(home_fd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!st_str_has_prefix(names[i], CHECK_PREFIX))
			continue;
		long pid = strtol(names[i] + strlen(CHECK_PREFIX), NULL, 10);
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue; /* its process is still at work */
		struct st_error e;
		_cleanup_close_ int fd = st_open_nofollow(home_fd, names[i], O_RDONLY | O_DIRECTORY, 0);
		if (fd >= 0)
			ovl_unmount(fd, "m", &e);
		st_rm_rf_at(home_fd, names[i], &e);
	}
	st_strv_free(names, n);
}

/* <home>/.ovl-check-PID-RND with lower directories l1 (d/f, file) and l2
 * (g), an upper u, a work dir w and a mount point m. */
static int check_dir_make(int home_fd, char *name, size_t len, char *reason, size_t rlen)
{
	char rnd[17];
	st_random_hex(rnd, 8);
	snprintf(name, len, CHECK_PREFIX "%ld-%s", (long)getpid(), rnd);
	if (mkdirat(home_fd, name, 0700) < 0) {
		snprintf(reason, rlen, "cannot create a test directory in the driver home: %s", strerror(errno));
		return -errno;
	}
	int fd = st_open_nofollow(home_fd, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		snprintf(reason, rlen, "cannot open a test directory in the driver home: %s", strerror(-fd));
		return fd;
	}
	static const char *const dirs[] = {"l1", "l1/d", "l2", "u", "w", "m"};
	static const char *const files[] = {"l1/d/f", "l1/file", "l2/g"};
	for (size_t i = 0; i < ST_ARRAY_SIZE(dirs); i++)
		if (mkdirat(fd, dirs[i], 0755) < 0)
			goto fail;
	for (size_t i = 0; i < ST_ARRAY_SIZE(files); i++) {
		int f = openat(fd, files[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (f < 0 || write(f, "data", 4) != 4) {
			if (f >= 0)
				close(f);
			goto fail;
		}
		close(f);
	}
	return fd;
fail:
	snprintf(reason, rlen, "cannot fill a test directory in the driver home: %s", strerror(errno));
	int r = -errno;
	close(fd);
	return r;
}

static void check_dir_remove(int home_fd, int fd, const char *name)
{
	struct st_error e;
	if (fd >= 0) {
		ovl_unmount(fd, "m", &e);
		close(fd);
	}
	st_rm_rf_at(home_fd, name, &e);
}

static bool dir_has_d_type(int fd)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!dir) {
		if (dfd >= 0)
			close(dfd);
		return false;
	}
	bool ok = true;
	struct dirent *de;
	while ((de = readdir(dir)))
		if (de->d_type == DT_UNKNOWN)
			ok = false;
	closedir(dir);
	return ok;
}

/* A test mount over l1:l2 with upper u. Volatile: its unmount must not sync
 * the whole backing filesystem (kernels before 5.10 lack it: plain then). */
static int check_mount(int fd, const char *opts, bool plus, struct st_error *err)
{
	static const char *const lowers[] = {"l1", "l2"};
	char vol[600];
	snprintf(vol, sizeof(vol), "%s%svolatile", opts, *opts ? "," : "");
	struct ovl_mount_spec s = {.base_fd = fd, .lowers = lowers, .nlowers = 2, .upper = "u", .work = "w",
				   .target = "m", .opts = strstr(opts, "volatile") ? opts : vol, .lowerdir_plus = plus};
	if (ovl_mount(&s, err) == 0)
		return 0;
	s.opts = opts;
	return ovl_mount(&s, err);
}

/* A successful probe is remembered for the boot (the same kernel and
 * modules) and the filesystem the home is on, in <home>/.features-probe:
 * written by init (the probe must leave nothing in a home it is asked
 * about), read by the next probe, which then skips its test mount. */
#define PROBE_FILE ".features-probe"

static void boot_id(char *buf, size_t len)
{
	buf[0] = '\0';
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (f) {
		if (!fgets(buf, (int)len, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
}

static bool probe_key(int home_fd, char *key, size_t len)
{
	char boot[64];
	struct utsname u;
	struct statfs sf;
	struct stat st;
	boot_id(boot, sizeof(boot));
	if (!boot[0] || uname(&u) < 0 || fstatfs(home_fd, &sf) < 0 || fstat(home_fd, &st) < 0)
		return false;
	snprintf(key, len, "v1 %s %s %lx %lx\n", boot, u.release, (unsigned long)sf.f_type, (unsigned long)st.st_dev);
	return true;
}

static bool probe_cached(int home_fd)
{
	char key[256];
	_cleanup_free_ char *text = NULL;
	struct st_error e;
	return probe_key(home_fd, key, sizeof(key)) && st_read_file_at(home_fd, PROBE_FILE, &text, NULL, &e) == 0 &&
	       strcmp(text, key) == 0;
}

static void probe_remember(int home_fd)
{
	char key[256];
	struct st_error e;
	if (!probe_cached(home_fd) && probe_key(home_fd, key, sizeof(key)))
		st_replace_file_at(home_fd, PROBE_FILE, key, strlen(key), 0600, &e); /* a cache: may fail */
}

int ovl_check_probe(const char *home, char *reason, size_t len)
{
	int fsfd = (int)syscall(SYS_fsopen, "overlay", 0);
	if (fsfd < 0 && errno == ENODEV) {
		snprintf(reason, len, "the kernel has no overlay filesystem (modprobe overlay)");
		return -ENOTSUP;
	}
	if (fsfd >= 0)
		close(fsfd);
	_cleanup_close_ int home_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (home_fd < 0) {
		snprintf(reason, len, "cannot open \"%s\": %s", home, strerror(errno));
		return -errno;
	}
	struct statfs sf;
	if (fstatfs(home_fd, &sf) == 0 && sf.f_type == OVERLAYFS_SUPER_MAGIC) {
		snprintf(reason, len, "\"%s\" is on overlayfs: an overlay upper directory cannot be on overlayfs", home);
		return -ENOTSUP;
	}
	ovl_check_sweep(home_fd);
	if (probe_cached(home_fd))
		return 0;
	char name[64];
	int fd = check_dir_make(home_fd, name, sizeof(name), reason, len);
	if (fd < 0)
		return fd;
	int r = 0;
	char opts[512];
	struct st_error e;
	if (!dir_has_d_type(fd)) {
		snprintf(reason, len, "the backing filesystem (%s) of \"%s\" does not report file types in directories "
			 "(d_type; xfs formatted with ftype=0?): overlay needs them", st_fs_name(home_fd), home);
		r = -ENOTSUP;
	} else if (ovl_mount_options(NULL, opts, sizeof(opts), &e) < 0 || check_mount(fd, opts, false, &e) < 0) {
		snprintf(reason, len, "a test mount in \"%s\" (on %s) failed: %s", home, st_fs_name(home_fd), e.msg);
		r = -ENOTSUP;
	} else {
		/* both layers show, and the upper takes a whiteout (a 0/0 device) */
		struct stat st;
		_cleanup_close_ int m = st_open_nofollow(fd, "m", O_RDONLY | O_DIRECTORY, 0);
		if (m < 0 || faccessat(m, "file", F_OK, AT_SYMLINK_NOFOLLOW) < 0 ||
		    faccessat(m, "g", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
			snprintf(reason, len, "a test mount in \"%s\" does not show its lower layers", home);
			r = -ENOTSUP;
		} else if (unlinkat(m, "g", 0) < 0 || fstatat(fd, "u/g", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			   !S_ISCHR(st.st_mode) || st.st_rdev != makedev(0, 0)) {
			snprintf(reason, len, "the upper directory in \"%s\" (on %s) cannot keep overlay whiteouts",
				 home, st_fs_name(home_fd));
			r = -ENOTSUP;
		}
	}
	check_dir_remove(home_fd, fd, name);
	return r;
}

static bool has_xattr(int dirfd, const char *name, const char *key)
{
	char p[PATH_MAX];
	st_fd_path(p, sizeof(p), dirfd, name);
	return lgetxattr(p, key, NULL, 0) >= 0;
}

/* The checks' answers hold until the next boot (a new kernel, new module
 * parameters) or a change of options: kept in <home>/.features, so that a
 * strata command does not pay a test mount for them every time. */
#define FEATURES_FILE ".features"
#define METACOPY_WHY "metacopy is on: a copied-up file may have no data in diff/"

static void features_key(const struct ovl *o, bool try_plus, char *key, size_t len)
{
	char boot[64];
	struct utsname u;
	boot_id(boot, sizeof(boot));
	if (uname(&u) < 0)
		u.release[0] = '\0';
	snprintf(key, len, "v1 %s %s %d %s", boot[0] ? boot : "-", u.release, try_plus, o->opts);
}

static bool features_load(struct st_driver *d, struct ovl *o, const char *key)
{
	_cleanup_free_ char *text = NULL;
	struct st_error e;
	if (st_read_file_at(d->home_fd, FEATURES_FILE, &text, NULL, &e) < 0)
		return false;
	char *nl = strchr(text, '\n');
	int plus, redirects, native;
	if (!nl || (size_t)(nl - text) != strlen(key) || strncmp(text, key, strlen(key)) != 0 ||
	    sscanf(nl + 1, "%d %d %d", &plus, &redirects, &native) != 3)
		return false;
	o->lowerdir_plus = plus;
	o->redirects = redirects;
	o->native_diff = native;
	snprintf(o->native_why, sizeof(o->native_why), "%s", native ? "" : METACOPY_WHY);
	return true;
}

static void features_save(struct st_driver *d, const struct ovl *o, const char *key)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s\n%d %d %d\n", key, o->lowerdir_plus, o->redirects, o->native_diff);
	struct st_error e;
	if (n > 0 && (size_t)n < sizeof(buf))
		st_replace_file_at(d->home_fd, FEATURES_FILE, buf, (size_t)n, 0600, &e); /* a cache: may fail */
}

static int check_features(struct st_driver *d, struct ovl *o, bool try_plus, struct st_error *err);

int ovl_check_features(struct st_driver *d, struct ovl *o, bool try_plus, struct st_error *err)
{
	char key[700];
	features_key(o, try_plus, key, sizeof(key));
	/* init runs after a successful probe: remember that one */
	probe_remember(d->home_fd);
	if (features_load(d, o, key))
		return 0;
	int r = check_features(d, o, try_plus, err);
	if (r == 0)
		features_save(d, o, key);
	return r < 0 ? r : 0;
}

static int check_features(struct st_driver *d, struct ovl *o, bool try_plus, struct st_error *err)
{
	char name[64], reason[512];
	int fd = check_dir_make(d->home_fd, name, sizeof(name), reason, sizeof(reason));
	if (fd < 0)
		return st_error_fail(err, -fd, "overlay: %s", reason);
	o->lowerdir_plus = try_plus && ovl_mount_has_lowerdir_plus(fd, "l1", "l2");
	int r = check_mount(fd, o->opts, o->lowerdir_plus, err);
	if (r < 0) {
		check_dir_remove(d->home_fd, fd, name);
		return st_error_wrap(err, "overlay: a test mount in \"%s\" with options \"%s\" failed", d->home, o->opts);
	}
	/* Is diff/ a layer's whole change set? A renamed lower directory may
	 * become a redirect (then diff/ lacks its content: such layers are
	 * found and diffed naively), and a chown may copy up only the metadata
	 * (metacopy: then no diff/ can be trusted, every diff is naive). */
	int m = st_open_nofollow(fd, "m", O_RDONLY | O_DIRECTORY, 0);
	if (m >= 0) {
		renameat(m, "d", m, "d2");
		fchownat(m, "file", 1, 1, AT_SYMLINK_NOFOLLOW);
		close(m); /* before the unmount: an open directory would keep it busy */
	}
	o->redirects = has_xattr(fd, "u/d2", "trusted.overlay.redirect");
	bool metacopy = has_xattr(fd, "u/file", "trusted.overlay.metacopy");
	o->native_diff = m >= 0 && !metacopy;
	snprintf(o->native_why, sizeof(o->native_why), "%s",
		 m < 0 ? "the test mount could not be opened" : metacopy ? METACOPY_WHY : "");
	check_dir_remove(d->home_fd, fd, name);
	return m < 0 ? 1 : 0; /* 1: no answer worth keeping */
}
