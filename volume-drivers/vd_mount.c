/* Mounts with a deadline, and address resolution, for the volume drivers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <libmount/libmount.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "vd_mount.h"

/* The child writes "ERRNO\nMESSAGE" to the pipe and exits. */
static void child_report(int fd, int e, const char *msg)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%d\n%s", e, msg ? msg : "");
	if (n > 0 && write(fd, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1)) < 0)
		_exit(2);
}

static void child_mount(int fd, const char *source, const char *target, const char *fstype, const char *options)
{
	struct libmnt_context *cxt = mnt_new_context();
	if (!cxt) {
		child_report(fd, ENOMEM, "libmount context");
		return;
	}
	mnt_context_disable_helpers(cxt, 1);
	mnt_context_disable_mtab(cxt, 1);
	mnt_context_set_source(cxt, source);
	mnt_context_set_target(cxt, target);
	if (fstype && *fstype)
		mnt_context_set_fstype(cxt, fstype);
	if (options && *options)
		mnt_context_set_options(cxt, options);
	int rc = mnt_context_mount(cxt);
	int serr = mnt_context_get_syscall_errno(cxt);
	char msg[512] = "";
	if (rc != 0 || serr) {
		mnt_context_get_excode(cxt, rc, msg, sizeof(msg));
		child_report(fd, serr ? serr : EINVAL, msg[0] ? msg : "mount failed");
	}
	mnt_free_context(cxt);
}

static void child_umount(int fd, const char *target)
{
	if (umount2(target, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
		child_report(fd, errno, strerror(errno));
}

/* Run fn in a child; wait until it ends or the deadline passes. Returns 0,
 * the child's negative errno (msg filled), or -ETIMEDOUT. */
static int run_bounded(double timeout, char *msg, size_t len, void (*fn)(int fd, void *ctx), void *ctx)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		close(p[0]);
		fn(p[1], ctx);
		_exit(0);
	}
	close(p[1]);
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int r = 0;
	double deadline = st_now() + timeout;
	for (;;) {
		double left = deadline - st_now();
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		if (pfd >= 0) {
			struct pollfd pf = {.fd = pfd, .events = POLLIN};
			int n = poll(&pf, 1, (int)(left * 1000) + 1);
			if (n < 0 && errno != EINTR) {
				r = -errno;
				break;
			}
			if (n > 0)
				break;
		} else {
			int st;
			pid_t w = waitpid(pid, &st, WNOHANG);
			if (w == pid) {
				pid = -1;
				break;
			}
			usleep(20000);
		}
	}
	if (r == -ETIMEDOUT && pid > 0) {
		/* NFS waits are killable: the child goes at SIGKILL */
		kill(pid, SIGKILL);
	}
	if (pid > 0) {
		if (pfd >= 0 && r == -ETIMEDOUT) {
			struct pollfd pf = {.fd = pfd, .events = POLLIN};
			if (poll(&pf, 1, 5000) > 0)
				waitpid(pid, NULL, 0);
		} else {
			waitpid(pid, NULL, 0);
		}
	}
	if (pfd >= 0)
		close(pfd);
	if (r == 0) {
		char buf[1024];
		ssize_t n = read(p[0], buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			char *nl = strchr(buf, '\n');
			int e = atoi(buf);
			snprintf(msg, len, "%s", nl ? nl + 1 : "");
			r = -(e > 0 ? e : EIO);
		}
	}
	close(p[0]);
	return r;
}

struct mount_args {
	const char *source, *target, *fstype, *options;
};

static void do_mount(int fd, void *ctx)
{
	struct mount_args *a = ctx;
	child_mount(fd, a->source, a->target, a->fstype, a->options);
}

static void do_umount(int fd, void *ctx)
{
	child_umount(fd, ctx);
}

int vd_mount(const char *what, const char *source, const char *target, const char *fstype, const char *options,
	     double timeout, struct st_error *err)
{
	struct mount_args a = {source, target, fstype, options};
	char msg[512] = "";
	int r = run_bounded(timeout, msg, sizeof(msg), do_mount, &a);
	if (r == -ETIMEDOUT) {
		return st_error_fail(err, ETIMEDOUT,
				     "%s: mount %s at \"%s\" did not finish within %.0f s (is the server up and reachable?)",
				     what, source, target, timeout);
	}
	if (r < 0)
		return st_error_fail(err, -r, "%s: mount %s (type %s, options \"%s\") at \"%s\": %s", what, source,
				     fstype && *fstype ? fstype : "auto", options ? options : "", target,
				     msg[0] ? msg : strerror(-r));
	return 0;
}

int vd_umount(const char *what, const char *target, double timeout, struct st_error *err)
{
	if (!st_is_mountpoint(target))
		return 0;
	char msg[512] = "";
	int r = run_bounded(timeout, msg, sizeof(msg), do_umount, (void *)target);
	if (r == -ETIMEDOUT) {
		/* the server is gone: detach now, the kernel lets go when it can */
		if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL)
			return st_error_set(err, errno, "%s: unmount \"%s\" (lazily, after %.0f s)", what, target,
					    timeout);
		return 0;
	}
	if (r < 0)
		return st_error_fail(err, -r, "%s: unmount \"%s\": %s", what, target, msg[0] ? msg : strerror(-r));
	return 0;
}

/* ---------------------------------------------------------- addresses */

int vd_resolve(const char *what, const char *host, char *addr, size_t len, struct st_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	char h[256];
	size_t hl = strlen(host);
	/* "[fd00::2]" is an IPv6 literal in brackets */
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']')
		snprintf(h, sizeof(h), "%.*s", (int)(hl - 2), host + 1);
	else
		snprintf(h, sizeof(h), "%s", host);
	int e = getaddrinfo(h, NULL, &hints, &res);
	if (e != 0)
		return st_error_fail(err, e == EAI_SYSTEM ? errno : EHOSTUNREACH, "%s: resolve \"%s\": %s", what,
				     host, e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
	int r = getnameinfo(res->ai_addr, res->ai_addrlen, addr, (socklen_t)len, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (r != 0)
		return st_error_fail(err, EINVAL, "%s: resolve \"%s\": %s", what, host, gai_strerror(r));
	return 0;
}

int vd_local_addr_for(const char *addr, char *out, size_t len)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM}, *res = NULL;
	if (getaddrinfo(addr, "2049", &hints, &res) != 0)
		return -EINVAL;
	int r = -EHOSTUNREACH;
	int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	/* a UDP connect sends nothing: it only picks the route and source */
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, out, (socklen_t)len, NULL, 0, NI_NUMERICHOST) == 0)
		r = 0;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return r;
}

int vd_resolve_addr_option(const char *what, const char *options, char **out, struct st_error *err)
{
	*out = NULL;
	_cleanup_free_ char *copy = st_strdup(options ? options : "");
	size_t cap = strlen(options ? options : "") + 128;
	char *res = calloc(1, cap);
	if (!copy || !res) {
		free(res);
		return st_error_set(err, ENOMEM, "%s", what);
	}
	char *save = NULL;
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		char ip[INET6_ADDRSTRLEN + 1];
		if (st_str_has_prefix(o, "addr=")) {
			int r = vd_resolve(what, o + 5, ip, sizeof(ip), err);
			if (r < 0) {
				free(res);
				return r;
			}
			snprintf(res + strlen(res), cap - strlen(res), "%saddr=%s", res[0] ? "," : "", ip);
		} else {
			snprintf(res + strlen(res), cap - strlen(res), "%s%s", res[0] ? "," : "", o);
		}
	}
	*out = res;
	return 0;
}
