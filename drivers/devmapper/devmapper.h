/* devmapper driver, private interfaces between its files:
 *   dmlib.c     libdevmapper tasks (create, remove, messages, status), udev
 *               cookies, libdevmapper's log captured into our errors
 *   loopback.c  loop devices for the loopback pool (LOOP_CONFIGURE)
 *   devmapper.c the driver: device set, transactions, recovery, ops table
 */
#ifndef ST_DEVMAPPER_H
#define ST_DEVMAPPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "strata.h"

/* ------------------------------------------------------------ dmlib.c */

struct dmlib_info {
	bool exists;
	bool suspended;
	bool deferred_remove; /* a deferred removal is pending */
	int open_count;
	uint32_t major, minor;
};

/* Route libdevmapper's log into our errors and choose udev synchronisation:
 * off when DM_DISABLE_UDEV is set (libdevmapper then makes the /dev/mapper
 * nodes itself), else on when udev runs. Idempotent. */
void dmlib_setup(void);
/* Close libdevmapper's control device (it opens it again when needed). */
void dmlib_release(void);
/* Is libdevmapper waiting for udev on device changes? */
bool dmlib_udev_sync(void);
/* "1.02.185 (kernel 4.47.0)" */
void dmlib_versions(char *buf, size_t len);
/* Is device-mapper usable in this kernel? 0, or -errno and a reason. */
int dmlib_available(char *reason, size_t len);

int dmlib_info(const char *name, struct dmlib_info *info, struct st_error *err);
/* Names of the active devices that start with prefix. */
int dmlib_list(const char *prefix, char ***names, size_t *n, struct st_error *err);
/* Create and activate a device with one target. */
int dmlib_create(const char *name, const char *target, uint64_t sectors, const char *params,
		 struct st_error *err);
enum dmlib_remove_mode {
	DMLIB_REMOVE_ONCE,     /* -EBUSY at once when the device is open */
	DMLIB_REMOVE_RETRY,    /* retried for a few seconds while it is open */
	DMLIB_REMOVE_DEFERRED, /* when open: the kernel removes it after its last user (then 0) */
};
int dmlib_remove(const char *name, enum dmlib_remove_mode mode, struct st_error *err);
int dmlib_suspend(const char *name, struct st_error *err);
int dmlib_resume(const char *name, struct st_error *err);
/* A target message, e.g. "create_snap 5 2"; the kernel's errno on failure
 * (EEXIST: device id taken, ENODATA: no such device id, EBUSY: device open). */
int dmlib_message(const char *name, const char *msg, struct st_error *err);
/* The first target's status or table line. */
int dmlib_status(const char *name, bool table, char *target, size_t tlen, char *params, size_t plen,
		 uint64_t *sectors, struct st_error *err);
/* A block device node for an active device: /dev/mapper/NAME when it is
 * there (udev or libdevmapper made it), else the kernel's /dev/dm-MINOR. */
int dmlib_node(const char *name, char *path, size_t len, struct st_error *err);

/* --------------------------------------------------------- loopback.c */

/* Attach file_fd to a free loop device (autoclear: it detaches when its
 * last user, the pool, closes it). Returns an open fd of the loop device,
 * which the caller keeps until the pool holds the device. */
int dmloop_attach(int file_fd, const char *file_name, dev_t *rdev, struct st_error *err);
/* The file behind loop device dev: its st_dev and st_ino. -ENXIO when dev
 * is not a configured loop device. */
int dmloop_backing(dev_t dev, dev_t *file_dev, ino_t *file_ino);

#endif
