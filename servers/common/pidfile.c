/* Pidfiles locked with flock (see pidfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pidfile.h"
#include "base/base.h"

int srv_pidfile_open(const char *path, struct st_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return st_error_set(err, errno, "pidfile \"%s\"", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		return st_error_fail(err, EBUSY, "pidfile \"%s\": a server is running (pid %s)", path,
				     pid[0] ? pid : "unknown");
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n || fsync(fd) < 0)
		return st_error_set(err, errno, "pidfile \"%s\"", path);
	return st_take_fd(&fd);
}

void srv_pidfile_close(const char *path, int fd)
{
	if (fd < 0)
		return;
	unlink(path);
	close(fd);
}
