/* The store: its lock, its subdirectories, closing it (opening it is
 * store_open.c). */
#include <fcntl.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"

int st_store_lock(struct st_store *s, struct st_error *err)
{
	if (s->lock_depth++ > 0)
		return 0;
	s->lock_fd = st_lock_at(s->root_fd, ".lock", LOCK_EX, err);
	if (s->lock_fd < 0) {
		s->lock_depth = 0;
		return st_error_wrap(err, "store \"%s\"", s->root);
	}
	/* The lock file's two bytes: 'L' while a process holds the lock, 'S'
	 * while a sweep of leftovers is owed (a holder died: its 'L' is still
	 * there; or the store has never been swept). Open sweeps and clears. */
	char b[2] = {0, 0};
	if (pread(s->lock_fd, b, 2, 0) < 2 || b[0] == 'L' || b[1] == 'S') {
		s->sweep = true;
		if (b[1] != 'S' && pwrite(s->lock_fd, "S", 1, 1) < 0)
			s->sweep = true; /* the open sweeps anyway */
	}
	if (pwrite(s->lock_fd, "L", 1, 0) < 0)
		s->sweep = true;
	return 0;
}

void st_store_unlock(struct st_store *s)
{
	if (s->lock_depth > 0 && --s->lock_depth == 0) {
		if (pwrite(s->lock_fd, "-", 1, 0) < 0)
			s->sweep = true;
		st_unlock(&s->lock_fd);
	}
}

void st_store_swept(struct st_store *s)
{
	if (s->lock_fd >= 0 && pwrite(s->lock_fd, "-", 1, 1) == 1)
		s->sweep = false;
}

int st_store_subdir(struct st_store *s, const char *sub, struct st_error *err)
{
	int fd = st_open_nofollow(s->root_fd, sub, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT) {
		if (mkdirat(s->root_fd, sub, 0700) < 0 && errno != EEXIST)
			return st_error_set(err, errno, "create \"%s/%s\"", s->root, sub);
		fd = st_open_nofollow(s->root_fd, sub, O_RDONLY | O_DIRECTORY, 0);
	}
	if (fd < 0)
		return st_error_set(err, -fd, "open \"%s/%s\"", s->root, sub);
	return fd;
}

struct st_driver *st_store_driver(struct st_store *s) { return s->driver; }
const char *st_store_root(struct st_store *s) { return s->root; }
int st_store_root_fd(struct st_store *s) { return s->root_fd; }

void st_store_close(struct st_store *s)
{
	if (!s)
		return;
	st_driver_close(s->driver);
	if (s->lock_fd >= 0)
		st_unlock(&s->lock_fd);
	close(s->root_fd);
	free(s);
}
