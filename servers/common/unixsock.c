/* Safe creation of a server's unix socket (see unixsock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/base.h"
#include "unixsock.h"

static int sun_fill(struct sockaddr_un *sa, const char *path, const char *what, struct st_error *err)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!path[0] || strlen(path) >= sizeof(sa->sun_path))
		return st_error_fail(err, ENAMETOOLONG, "%s \"%s\": a socket path must be 1-%zu bytes", what, path,
				     sizeof(sa->sun_path) - 1);
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* 0 when nothing is at path (any more), else why it must stay. */
static int clear_stale(const char *path, struct st_error *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : st_error_set(err, errno, "socket \"%s\"", path);
	if (!S_ISSOCK(st.st_mode))
		return st_error_fail(err, EEXIST, "socket \"%s\": the path exists and is not a socket", path);
	struct sockaddr_un sa;
	int r = sun_fill(&sa, path, "socket", err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return st_error_set(err, errno, "socket \"%s\"", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return st_error_fail(err, EADDRINUSE, "socket \"%s\": another server is listening there", path);
	if (errno != ECONNREFUSED)
		return st_error_set(err, errno, "socket \"%s\": cannot tell whether a server listens there", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "remove the stale socket \"%s\"", path);
	return 0;
}

int srv_unix_listen(struct srv_unix *u, const char *path, mode_t mode, struct st_error *err)
{
	struct sockaddr_un sa;
	char tmp[sizeof(sa.sun_path) + 32];
	u->fd = -1;
	int r = sun_fill(&sa, path, "socket", err);
	if (r < 0)
		return r;
	snprintf(u->path, sizeof(u->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
	if ((r = sun_fill(&sa, tmp, "socket", err)) < 0)
		return r;
	char dir[sizeof(sa.sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if ((r = st_mkdir_p_at(AT_FDCWD, dir, 0755, err)) < 0)
			return st_error_wrap(err, "socket \"%s\"", path);
	}
	if ((r = clear_stale(path, err)) < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return st_error_set(err, errno, "socket \"%s\"", path);
	unlink(tmp);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return st_error_set(err, errno, "bind \"%s\"", tmp);
	struct stat st;
	if (chmod(tmp, mode) < 0 || listen(fd, 128) < 0 || rename(tmp, path) < 0 || lstat(path, &st) < 0) {
		r = st_error_set(err, errno, "socket \"%s\"", path);
		unlink(tmp);
		return r;
	}
	u->dev = st.st_dev;
	u->ino = st.st_ino;
	u->fd = st_take_fd(&fd);
	return 0;
}

void srv_unix_close(struct srv_unix *u)
{
	if (u->fd < 0)
		return;
	struct stat st;
	if (lstat(u->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == u->dev && st.st_ino == u->ino)
		unlink(u->path);
	close(u->fd);
	u->fd = -1;
}
