/* Loop devices for the loopback thin pool, through the loop-control and
 * LOOP_CONFIGURE ioctls (one call sets the backing file and the flags, so
 * there is no window where a half-configured device is visible). */
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/base.h"
#include "devmapper.h"

int dmloop_attach(int file_fd, const char *file_name, dev_t *rdev, struct st_error *err)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return st_error_set(err, errno, "loopback: open /dev/loop-control");
	/* Another process may take the same free device between GET_FREE and
	 * CONFIGURE: then ask again. */
	for (int attempt = 0; attempt < 64; attempt++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return st_error_set(err, errno, "loopback: no free loop device for \"%s\"", file_name);
		char dev[32];
		snprintf(dev, sizeof(dev), "/dev/loop%d", n);
		_cleanup_close_ int fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return st_error_set(err, errno, "loopback: open \"%s\"", dev);
		struct loop_config cfg = {.fd = (uint32_t)file_fd};
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", file_name);
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) < 0) {
			if (errno == EBUSY)
				continue;
			return st_error_set(err, errno, "loopback: attach \"%s\" to \"%s\"", file_name, dev);
		}
		struct stat st;
		if (fstat(fd, &st) < 0)
			return st_error_set(err, errno, "loopback: stat \"%s\"", dev);
		*rdev = st.st_rdev;
		return st_take_fd(&fd);
	}
	return st_error_fail(err, EBUSY, "loopback: every free loop device was taken by others while attaching \"%s\"",
			     file_name);
}

int dmloop_backing(dev_t dev, dev_t *file_dev, ino_t *file_ino)
{
	if (major(dev) != 7) /* LOOP_MAJOR */
		return -ENXIO;
	/* the kernel's name of the device (minors depend on max_part) */
	char link[64], target[256], path[300];
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -ENXIO;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	snprintf(path, sizeof(path), "/dev/%s", base ? base + 1 : target);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_rdev != dev)
		return -ENXIO;
	struct loop_info64 info;
	if (ioctl(fd, LOOP_GET_STATUS64, &info) < 0)
		return -errno;
	*file_dev = (dev_t)info.lo_device;
	*file_ino = (ino_t)info.lo_inode;
	return 0;
}
