/* OCI bundles and the runtime process (runc by default). */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "base/base.h"
#include "container/container.h"

static const char *const default_caps[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", NULL,
};

static const char *const masked_paths[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
	"/proc/scsi", NULL,
};

static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* ---------------------------------------------------------------- users */

static FILE *open_in_root(int rootfd, const char *path)
{
	int fd = st_open_beneath(rootfd, path, O_RDONLY, 0);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "re");
	if (!f)
		close(fd);
	return f;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int st_resolve_user(int rootfd, const char *user, uid_t *uid, gid_t *gid, gid_t **groups,
		    size_t *ngroups, char *home, size_t homelen, struct st_error *err)
{
	*uid = 0;
	*gid = 0;
	*groups = NULL;
	*ngroups = 0;
	snprintf(home, homelen, "/");
	/* no user named: uid 0, and its passwd entry (home, gid) when the image has one,
	 * as runc's GetExecUser; an image without /etc/passwd (FROM scratch) runs as 0:0 */
	if (!user || !*user)
		user = "0";
	char name[256], group[256] = "";
	const char *colon = strchr(user, ':');
	snprintf(name, sizeof(name), "%.*s", colon ? (int)(colon - user) : (int)strlen(user), user);
	if (colon)
		snprintf(group, sizeof(group), "%s", colon + 1);

	bool found = false;
	_cleanup_fclose_ FILE *pw = open_in_root(rootfd, "etc/passwd");
	if (pw) {
		struct passwd *p;
		while ((p = fgetpwent(pw))) {
			if (strcmp(p->pw_name, name) == 0 || (all_digits(name) && p->pw_uid == (uid_t)atol(name))) {
				*uid = p->pw_uid;
				*gid = p->pw_gid;
				snprintf(home, homelen, "%s", p->pw_dir);
				snprintf(name, sizeof(name), "%s", p->pw_name);
				found = true;
				break;
			}
		}
	}
	if (!found) {
		if (!all_digits(name))
			return st_error_fail(err, ENOENT, "unable to find user %s: no matching entries in passwd file", name);
		*uid = (uid_t)atol(name);
	}
	_cleanup_fclose_ FILE *gr = open_in_root(rootfd, "etc/group");
	if (group[0] && !all_digits(group)) {
		bool gfound = false;
		struct group *g;
		while (gr && (g = fgetgrent(gr))) {
			if (strcmp(g->gr_name, group) == 0) {
				*gid = g->gr_gid;
				gfound = true;
				break;
			}
		}
		if (!gfound)
			return st_error_fail(err, ENOENT, "unable to find group %s: no matching entries in group file", group);
	} else if (group[0]) {
		*gid = (gid_t)atol(group);
	}
	/* supplementary groups: those listing the user by name */
	if (gr && !group[0]) {
		rewind(gr);
		struct group *g;
		while ((g = fgetgrent(gr))) {
			for (char **m = g->gr_mem; m && *m; m++) {
				if (strcmp(*m, name) != 0 || g->gr_gid == *gid)
					continue;
				gid_t *ng = realloc(*groups, (*ngroups + 1) * sizeof(gid_t));
				if (!ng)
					return st_error_set(err, ENOMEM, "user %s", name);
				*groups = ng;
				ng[(*ngroups)++] = g->gr_gid;
			}
		}
	}
	return 0;
}

/* --------------------------------------------------------------- bundle */

static json_object *strv_json(const char *const *v)
{
	json_object *a = json_object_new_array();
	for (; v && *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

static json_object *mount_json(const char *dst, const char *type, const char *src, const char *const *opts)
{
	json_object *m = json_object_new_object();
	json_object_object_add(m, "destination", json_object_new_string(dst));
	json_object_object_add(m, "type", json_object_new_string(type));
	json_object_object_add(m, "source", json_object_new_string(src));
	json_object_object_add(m, "options", strv_json(opts));
	return m;
}

static bool env_has(const struct st_run_spec *sp, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < sp->nenv; i++)
		if (strncmp(sp->env[i], key, kl) == 0 && sp->env[i][kl] == '=')
			return true;
	return false;
}

struct std_mount {
	const char *dst, *type, *src;
	const char *const opts[8];
};

static const struct std_mount std_mounts[] = {
	{"/proc", "proc", "proc", {"nosuid", "noexec", "nodev", NULL}},
	{"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k", NULL}},
	{"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL}},
	{"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL}},
	{"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev", NULL}},
	{"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro", NULL}},
	{"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro", NULL}},
};

int st_bundle_write(const struct st_run_spec *sp, struct st_error *err)
{
	_cleanup_close_ int rootfd = open(sp->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return st_error_set(err, errno, "open rootfs \"%s\"", sp->rootfs);
	uid_t uid;
	gid_t gid;
	_cleanup_free_ gid_t *groups = NULL;
	size_t ngroups;
	char home[PATH_MAX];
	int r = st_resolve_user(rootfd, sp->user, &uid, &gid, &groups, &ngroups, home, sizeof(home), err);
	if (r < 0)
		return r;

	_cleanup_json_ json_object *c = json_object_new_object();
	json_object_object_add(c, "ociVersion", json_object_new_string("1.0.2"));
	json_object *proc = json_object_new_object();
	json_object_object_add(proc, "terminal", json_object_new_boolean(false));
	json_object *u = json_object_new_object();
	json_object_object_add(u, "uid", json_object_new_int64(uid));
	json_object_object_add(u, "gid", json_object_new_int64(gid));
	if (ngroups) {
		json_object *ag = json_object_new_array();
		for (size_t i = 0; i < ngroups; i++)
			json_object_array_add(ag, json_object_new_int64(groups[i]));
		json_object_object_add(u, "additionalGids", ag);
	}
	json_object_object_add(proc, "user", u);
	json_object *args = json_object_new_array();
	for (size_t i = 0; i < sp->nargs; i++)
		json_object_array_add(args, json_object_new_string(sp->args[i]));
	json_object_object_add(proc, "args", args);
	json_object *env = json_object_new_array();
	if (!env_has(sp, "PATH"))
		json_object_array_add(env, json_object_new_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	if (!env_has(sp, "HOME")) {
		char h[PATH_MAX + 8];
		snprintf(h, sizeof(h), "HOME=%s", home);
		json_object_array_add(env, json_object_new_string(h));
	}
	for (size_t i = 0; i < sp->nenv; i++)
		json_object_array_add(env, json_object_new_string(sp->env[i]));
	json_object_object_add(proc, "env", env);
	json_object_object_add(proc, "cwd", json_object_new_string(sp->cwd && *sp->cwd ? sp->cwd : "/"));
	json_object *caps = json_object_new_object();
	static const char *const sets[] = {"bounding", "effective", "permitted", NULL};
	/* a non-root process loses them at exec, as under Docker */
	for (const char *const *k = sets; *k; k++)
		json_object_object_add(caps, *k, strv_json(default_caps));
	json_object_object_add(proc, "capabilities", caps);
	json_object_object_add(proc, "noNewPrivileges", json_object_new_boolean(false));
	json_object_object_add(c, "process", proc);

	json_object *root = json_object_new_object();
	json_object_object_add(root, "path", json_object_new_string(sp->rootfs));
	json_object_object_add(root, "readonly", json_object_new_boolean(false));
	json_object_object_add(c, "root", root);
	json_object_object_add(c, "hostname", json_object_new_string(sp->hostname ? sp->hostname : sp->id));

	json_object *mounts = json_object_new_array();
	for (size_t i = 0; i < ST_ARRAY_SIZE(std_mounts); i++)
		json_object_array_add(mounts, mount_json(std_mounts[i].dst, std_mounts[i].type, std_mounts[i].src,
							 std_mounts[i].opts));
	for (size_t i = 0; i < sp->nbinds; i++)
		json_object_array_add(mounts, mount_json(sp->binds[i].dst, "bind", sp->binds[i].src,
							 sp->binds[i].ro ? (const char *const[]){"rbind", "ro", NULL}
									 : (const char *const[]){"rbind", "rw", NULL}));
	json_object_object_add(c, "mounts", mounts);

	json_object *linux_ = json_object_new_object();
	json_object *ns = json_object_new_array();
	static const char *const nss[] = {"pid", "ipc", "uts", "mount", NULL};
	for (const char *const *k = nss; *k; k++) {
		json_object *n = json_object_new_object();
		json_object_object_add(n, "type", json_object_new_string(*k));
		json_object_array_add(ns, n);
	}
	if (sp->network_none) {
		json_object *n = json_object_new_object();
		json_object_object_add(n, "type", json_object_new_string("network"));
		json_object_array_add(ns, n);
	}
	json_object_object_add(linux_, "namespaces", ns);
	json_object *res = json_object_new_object(), *devs = json_object_new_array(), *deny = json_object_new_object();
	json_object_object_add(deny, "allow", json_object_new_boolean(false));
	json_object_object_add(deny, "access", json_object_new_string("rwm"));
	json_object_array_add(devs, deny);
	json_object_object_add(res, "devices", devs);
	json_object_object_add(linux_, "resources", res);
	char cg[256];
	snprintf(cg, sizeof(cg), "/strata/%s", sp->id);
	json_object_object_add(linux_, "cgroupsPath", json_object_new_string(cg));
	json_object_object_add(linux_, "maskedPaths", strv_json(masked_paths));
	json_object_object_add(linux_, "readonlyPaths", strv_json(readonly_paths));
	json_object_object_add(c, "linux", linux_);

	if ((r = st_mkdir_p_at(AT_FDCWD, sp->bundle, 0700, err)) < 0)
		return r;
	_cleanup_close_ int bfd = open(sp->bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		return st_error_set(err, errno, "open bundle \"%s\"", sp->bundle);
	/* regenerated at every start, read by the runtime right away: a rename
	 * keeps it whole, and nothing needs it after a reboot, so no fsync
	 * (st_replace_file_at; fsyncs are dear on some filesystems) */
	size_t len;
	const char *text = json_object_to_json_string_length(c, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	return st_replace_file_at(bfd, "config.json", text, len, 0600, err);
}

/* ------------------------------------------------------- mount targets */

static void parent_of(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s", path);
	char *slash = strrchr(out, '/');
	if (slash && slash != out)
		*slash = '\0';
	else
		snprintf(out, len, "/");
}

int st_runtime_stubs(const struct st_run_spec *sp, struct st_stubs *out)
{
	memset(out, 0, sizeof(*out));
	_cleanup_close_ int rootfd = open(sp->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	const char *dsts[64];
	size_t nd = 0;
	static const char *const extra[] = {"/proc", "/dev", "/sys", NULL};
	for (const char *const *k = extra; *k; k++)
		dsts[nd++] = *k;
	for (size_t i = 0; i < sp->nbinds && nd < ST_ARRAY_SIZE(dsts); i++)
		dsts[nd++] = sp->binds[i].dst;
	for (size_t i = 0; i < nd; i++) {
		/* the first missing component is what the runtime creates */
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s", dsts[i] + (dsts[i][0] == '/'));
		for (char *s = p;; s = strchr(s, '/') + 1) {
			char *slash = strchr(s, '/');
			if (slash)
				*slash = '\0';
			struct stat st;
			int fd = st_open_beneath(rootfd, p, O_PATH, 0);
			if (fd < 0 && fstatat(rootfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				char abs[PATH_MAX + 1], parent[PATH_MAX + 1];
				snprintf(abs, sizeof(abs), "/%s", p);
				bool dup = false;
				for (size_t k = 0; k < out->n; k++)
					dup |= strcmp(out->paths[k], abs) == 0;
				if (dup)
					break;
				void *nt = realloc(out->parent_times, (out->n + 1) * sizeof(*out->parent_times));
				if (!nt || st_strv_push(&out->paths, &out->n, abs) < 0)
					return -ENOMEM;
				out->parent_times = nt;
				parent_of(abs, parent, sizeof(parent));
				_cleanup_close_ int pfd = st_open_in_root(rootfd, parent, O_PATH | O_DIRECTORY, 0);
				struct stat pst = {0};
				if (pfd < 0 || fstat(pfd, &pst) < 0)
					pst.st_mtim.tv_nsec = pst.st_atim.tv_nsec = UTIME_OMIT;
				out->parent_times[out->n - 1][0] = pst.st_atim;
				out->parent_times[out->n - 1][1] = pst.st_mtim;
				break;
			}
			if (fd >= 0)
				close(fd);
			if (!slash)
				break;
			*slash = '/';
		}
	}
	return 0;
}

void st_runtime_stubs_clean(const char *rootfs, struct st_stubs *sb)
{
	int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct st_error ignore;
	for (size_t i = 0; rootfd >= 0 && i < sb->n; i++) {
		const char *rel = sb->paths[i] + 1;
		struct stat st;
		if (fstatat(rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* only what is still the empty placeholder */
		if (S_ISREG(st.st_mode) && st.st_size == 0)
			unlinkat(rootfd, rel, 0);
		else if (S_ISDIR(st.st_mode))
			st_rm_rf_at(rootfd, rel, &ignore); /* the runtime's own mount point dirs (dev/pts, ...) */
		else
			continue;
		char parent[PATH_MAX];
		parent_of(sb->paths[i], parent, sizeof(parent));
		_cleanup_close_ int pfd = st_open_in_root(rootfd, parent, O_RDONLY | O_DIRECTORY, 0);
		if (pfd >= 0)
			futimens(pfd, sb->parent_times[i]);
	}
	if (rootfd >= 0)
		close(rootfd);
	st_strv_free(sb->paths, sb->n);
	free(sb->parent_times);
	memset(sb, 0, sizeof(*sb));
}

/* ------------------------------------------------------------ running */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void log_chunk(int log_fd, const char *stream, const char *buf, size_t len)
{
	char t[64];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	strftime(t, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(t + strlen(t), sizeof(t) - strlen(t), ".%09ldZ", ts.tv_nsec);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "log", json_object_new_string_len(buf, (int)len));
	json_object_object_add(o, "stream", json_object_new_string(stream));
	json_object_object_add(o, "time", json_object_new_string(t));
	size_t n;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	write_all(log_fd, s, n);
	write_all(log_fd, "\n", 1);
	json_object_put(o);
}

static const char *runtime_path(const struct st_run_spec *sp)
{
	return sp->runtime && *sp->runtime ? sp->runtime : "runc";
}

static pid_t spawn(const struct st_run_spec *sp, const char *const *argv, int in, int out, int errfd)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (in >= 0)
		dup2(in, 0);
	else {
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
	}
	dup2(out, 1);
	dup2(errfd, 2);
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], (char *const *)argv);
	dprintf(2, "strata: error: run OCI runtime \"%s\": %s\n", argv[0], strerror(errno));
	_exit(127);
}

int st_runtime_run(const struct st_run_spec *sp, int in_fd, int out_fd, int err_fd, int log_fd,
		   void (*started)(void *ctx, pid_t pid), void *ctx, int *status, struct st_error *err)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return st_error_set(err, errno, "container %s: pipe", sp->id);
	const char *argv[] = {runtime_path(sp), "--root", sp->runtime_root, "run", "--bundle", sp->bundle, sp->id, NULL};
	pid_t pid = spawn(sp, argv, in_fd, po[1], pe[1]);
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		return st_error_set(err, errno, "container %s: fork", sp->id);
	}
	if (started)
		started(ctx, pid);
	struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
	int open_fds = 2;
	char buf[65536];
	while (open_fds > 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(fds[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
				continue;
			}
			if ((i == 0 ? out_fd : err_fd) >= 0)
				write_all(i == 0 ? out_fd : err_fd, buf, (size_t)n);
			if (log_fd >= 0)
				log_chunk(log_fd, i == 0 ? "stdout" : "stderr", buf, (size_t)n);
		}
	}
	int ws;
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return st_error_set(err, errno, "container %s: wait", sp->id);
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	return 0;
}

static int runtime_cmd(const struct st_run_spec *sp, const char *const *argv, struct st_error *err)
{
	int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	pid_t pid = spawn(sp, argv, -1, nul >= 0 ? nul : 1, nul >= 0 ? nul : 2);
	if (nul >= 0)
		close(nul);
	if (pid < 0)
		return st_error_set(err, errno, "run %s", argv[0]);
	int ws;
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return st_error_set(err, errno, "wait %s", argv[0]);
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		return st_error_fail(err, EIO, "%s %s %s failed (status %d)", argv[0], argv[3], sp->id,
				     WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	return 0;
}

int st_runtime_kill(const struct st_run_spec *sp, const char *signal, struct st_error *err)
{
	const char *argv[] = {runtime_path(sp), "--root", sp->runtime_root, "kill", sp->id, signal, NULL};
	return runtime_cmd(sp, argv, err);
}

int st_runtime_delete(const struct st_run_spec *sp, struct st_error *err)
{
	/* runc and crun keep a container's state in <root>/<id>: without it
	 * there is nothing to delete, and no need to start the runtime (a
	 * start pays this for a stale state that is almost never there) */
	const char *rt = runtime_path(sp);
	const char *base = strrchr(rt, '/') ? strrchr(rt, '/') + 1 : rt;
	if (strcmp(base, "runc") == 0 || strcmp(base, "crun") == 0) {
		char state[PATH_MAX];
		struct stat st;
		snprintf(state, sizeof(state), "%s/%s", sp->runtime_root, sp->id);
		if (lstat(state, &st) < 0 && errno == ENOENT)
			return 0;
	}
	const char *argv[] = {rt, "--root", sp->runtime_root, "delete", "--force", sp->id, NULL};
	return runtime_cmd(sp, argv, err);
}
