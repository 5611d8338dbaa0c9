/* devmapper driver, private interfaces between its files:
 *   dmlib.c     libdevmapper tasks (create, remove, messages, status), udev
 *               cookies, libdevmapper's log captured into our errors
 *   loopback.c  loop devices for the loopback pool (LOOP_CONFIGURE)
 *   pool.c      the thin pool (given or loopback), device records,
 *               transactions, the base device
 *   device.c    thin devices: activation, mounts, create/delete, recovery
 *   devmapper.c the driver: options, init, the layer ops, status, ops table
 */
#ifndef ST_DEVMAPPER_H
#define ST_DEVMAPPER_H

#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "strata.h"

/* ---------------------------------------------------- the device set */

#define DM_BASE "_base"              /* record of the base device: not a valid layer id */
#define DM_MAX_DEVICE_ID 0xffffffu   /* thin device ids are 24 bits */
#define DM_DEFAULT_BASE_SIZE (10LL << 30)
#define DM_DEFAULT_DATA_SIZE (100LL << 30)
#define DM_DEFAULT_META_SIZE (2LL << 30)
#define DM_DEFAULT_BLOCK_SECTORS 128 /* 64 KiB */
#define DM_META_BLOCK 4096           /* thin-pool metadata block size */

struct dmrec {
	uint32_t device_id;
	uint64_t size;           /* bytes */
	uint64_t transaction_id; /* the pool transaction that made it */
	bool initialized;        /* base device: formatted */
};

struct dmset {
	/* options */
	bool loopback;
	int64_t data_size, meta_size, base_size;
	bool base_size_set, fs_set;
	char fs[8];
	uint32_t block_sectors;
	bool deferred_removal, deferred_deletion;
	int min_free_pct;
	char mountopt[512];

	/* state */
	char pool[128];   /* DM name of the thin pool */
	char prefix[96];  /* DM names of our thin devices: PREFIX-DEVID */
	uint32_t pool_major, pool_minor;
	uint64_t tid;     /* the pool's transaction id, as recorded */
	uint32_t next_id;
	char data_file[PATH_MAX], meta_file[PATH_MAX];

	int users_fd; /* .users: shared while open, exclusive to take an idle loopback pool down */
	int meta_fd, deferred_fd, mnt_fd;
};

struct dmtxn {
	uint64_t tid;
	char op[16];
	char id[130];
	uint32_t device_id;
};

static inline struct dmset *dm_set(struct st_driver *d)
{
	return d->priv;
}

static inline void dm_dev_name(const struct dmset *s, const char *id, const struct dmrec *rec, char *buf, size_t len)
{
	if (strcmp(id, DM_BASE) == 0)
		snprintf(buf, len, "%s-base", s->prefix);
	else
		snprintf(buf, len, "%s-%" PRIu32, s->prefix, rec->device_id);
}

/* ------------------------------------------------------------ pool.c */

struct pool_status {
	uint64_t tid;
	uint64_t meta_used, meta_total; /* 4 KiB blocks */
	uint64_t data_used, data_total; /* pool blocks */
	char mode[32];                  /* rw, ro, out_of_data_space, fail */
	bool needs_check;
};

/* Test-only: STRATA_DM_FAULT=POINT ends the process at POINT as a kill -9
 * would, to prove recovery (tests/integration/devmapper.sh). */
void dm_fault(const char *point);
/* Run a program (mkfs, resize2fs, xfs_growfs) from the system directories,
 * its output captured for the error message. */
int dm_exec(const char *const argv[], struct st_error *err);
/* --storage-opt values */
int dm_parse_bool(const char *key, const char *v, bool *out, struct st_error *err);
int dm_parse_size(const char *key, const char *v, int64_t min, int64_t *out, struct st_error *err);
/* metadata/ID and deviceset.json */
int dm_rec_load(int dirfd, const char *name, struct dmrec *rec, struct st_error *err);
int dm_rec_save(int dirfd, const char *name, const struct dmrec *rec, struct st_error *err);
int dm_rec_unlink(int dirfd, const char *name, struct st_error *err);
int dm_state_save(struct st_driver *d, struct st_error *err);
int dm_pool_status(struct dmset *s, struct pool_status *ps, struct st_error *err);
/* A message to the pool ("create_snap 5 2"), failing with its errno. */
int dm_pool_message_err(struct dmset *s, struct st_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same, for cleanup paths where only the errno matters. */
int dm_pool_message(struct dmset *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set up (or find again) the loopback pool: two sparse files on loop
 * devices, the pool on top. The loop devices are autoclear: they go away
 * with the pool. */
int dm_pool_loopback(struct st_driver *d, struct st_error *err);
int dm_pool_given(struct st_driver *d, const char *dev, struct st_error *err);
int dm_txn_load(struct st_driver *d, struct dmtxn *t, struct st_error *err);
/* Record the change about to be made to the pool. */
int dm_txn_open(struct st_driver *d, const char *op, const char *id, uint32_t device_id,
		struct st_error *err);
/* The pool was not changed: forget the transaction. */
void dm_txn_abort(struct st_driver *d);
/* The pool and the records agree: move the pool's transaction id on. */
int dm_txn_close(struct st_driver *d, struct st_error *err);
uint32_t dm_next_device_id(uint32_t id);
/* Make the base device once: an empty thin device with the filesystem and
 * the rootfs directory every layer's root is. */
int dm_base(struct st_driver *d, struct st_error *err);
/* ---------------------------------------------------------- device.c */

int dm_dev_activate(struct dmset *s, const char *name, const struct dmrec *rec, struct st_error *err);
int dm_dev_deactivate(struct dmset *s, const char *name, struct st_error *err);
int dm_mnt_path(struct st_driver *d, const char *id, char *buf, size_t len);
/* Mount an active device at mnt/ID, through the directory's fd so that no
 * path outside the home is followed. */
int dm_dev_mount(struct st_driver *d, const char *id, const char *node, struct st_error *err);
int dm_dev_umount(struct st_driver *d, const char *id, struct st_error *err);
/* A new thin device: a snapshot of origin (an active origin is suspended
 * around the message so that its filesystem is consistent in the copy) or,
 * without origin, an empty one. Records it under id. */
int dm_dev_create(struct st_driver *d, const char *id, const struct dmrec *origin, const char *origin_name,
		  uint64_t size, struct dmrec *out, struct st_error *err);
/* Delete a device from the pool and its record (name in dirfd). Returns
 * -EBUSY (pool untouched) while the device is still open. */
int dm_dev_delete(struct st_driver *d, int dirfd, const char *name, const char *id, const struct dmrec *rec,
		  struct st_error *err);
/* Deletions that waited for their devices' last users. */
void dm_dev_deferred_sweep(struct st_driver *d);
/* Thin devices of ours that are active but unused: a process killed
 * between activation and mount (or unmount and deactivation) left them.
 * Every activation and mount happens under .lock, which the caller holds,
 * so an unopened device is nobody's. */
void dm_dev_deactivate_leftovers(struct dmset *s);
int dm_dev_count(int dirfd);
/* Finish or roll back the transaction a killed process left open. */
int dm_recover(struct st_driver *d, struct st_error *err);

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
