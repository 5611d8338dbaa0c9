/* Readers and writers over file descriptors. */
#include "base/base.h"

static int fd_write(void *ctx, const void *buf, size_t len)
{
	int fd = *(int *)ctx;
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

static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
	ssize_t n;
	do
		n = read(*(int *)ctx, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

void st_writer_fd(struct st_writer *w, int *fd)
{
	w->write = fd_write;
	w->ctx = fd;
}

void st_reader_fd(struct st_reader *r, int *fd)
{
	r->read = fd_read;
	r->ctx = fd;
}
