/* Bounded flock waits. */
#include <fcntl.h>
#include <time.h>

#include "base/base.h"

static double lock_timeout(void)
{
	const char *e = getenv("STRATA_LOCK_TIMEOUT");
	double t = e ? strtod(e, NULL) : 120.0;
	return t > 0 ? t : 120.0;
}

static int lock_open(int dirfd, const char *name, struct st_error *err)
{
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return st_error_set(err, errno, "open lock \"%s\"", name);
	return fd;
}

int st_trylock_at(int dirfd, const char *name, int how, struct st_error *err)
{
	int fd = lock_open(dirfd, name, err);
	if (fd < 0)
		return fd;
	if (flock(fd, how | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? -EWOULDBLOCK : st_error_set(err, e, "lock \"%s\"", name);
	}
	return fd;
}

int st_lock_at(int dirfd, const char *name, int how, struct st_error *err)
{
	int fd = lock_open(dirfd, name, err);
	if (fd < 0)
		return fd;
	double deadline = st_now() + lock_timeout();
	long sleep_ns = 1000000;
	while (flock(fd, how | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			int e = errno;
			close(fd);
			return st_error_set(err, e, "lock \"%s\"", name);
		}
		if (st_now() > deadline) {
			close(fd);
			return st_error_fail(err, EBUSY,
					     "store busy: lock \"%s\" held by another strata process for over %.0f s",
					     name, lock_timeout());
		}
		struct timespec ts = {0, sleep_ns};
		nanosleep(&ts, NULL);
		if (sleep_ns < 50000000)
			sleep_ns *= 2;
	}
	return fd;
}

void st_unlock(int *fd)
{
	if (*fd >= 0) {
		flock(*fd, LOCK_UN);
		close(*fd);
		*fd = -1;
	}
}
