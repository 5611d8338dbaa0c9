/* Internal side of the storage-driver interface. */
#ifndef ST_DRIVER_H
#define ST_DRIVER_H

#include <time.h>

#include "layertar.h"
#include "strata.h"

/* Apply an already-prepared tar input (hashing/recording set up by the
 * caller) to layer id, through the driver's apply or the naive one. */
int64_t st_drv_apply_in(struct st_driver *d, const char *id, const char *parent,
			struct st_tar_in *in, struct st_error *err);

/* get/put for a user bound to this process (a diff, an export, a copy):
 * when the process dies, its use is dropped (and the layer unmounted if it
 * was the last) by the next get, put, remove or store open. */
int st_drv_get_transient(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err);
int st_drv_put_transient(struct st_driver *d, const char *id, struct st_error *err);

/* The layer's root as a directory fd (a transient get + open);
 * st_drv_release_dir puts it. */
int st_drv_open_dir(struct st_driver *d, const char *id, int *fd, struct st_error *err);
void st_drv_release_dir(struct st_driver *d, const char *id, int *fd);

/* When the layer's copy of its parent was finished (for the naive diff). */
int st_drv_settled(struct st_driver *d, const char *id, struct timespec *ts);

/* Finish creates and removals that a killed process left half done. */
int st_drv_recover(struct st_driver *d, struct st_error *err);

/* For system check (core/check.c): the core's bookkeeping of one layer. */
struct st_drv_record {
	char parent[130];
	char state[16]; /* creating | ready | removing */
	bool rw;
	bool data;      /* the driver has the layer (its exists op) */
	bool busy;      /* its lock is held: a live process works on it */
};
int st_drv_record_get(struct st_driver *d, const char *id, struct st_drv_record *out, struct st_error *err);
/* Names under <home>/.strata/WHAT ("layers", "mounts", "children"). */
int st_drv_record_ids(struct st_driver *d, const char *what, char ***ids, size_t *n, struct st_error *err);
/* The recorded mount count of id: -ENOENT when there is none. */
int st_drv_mount_record(struct st_driver *d, const char *id, int *count, bool *mounted, char *path, size_t len);
/* Forget id's mount count, unmounting it (through the driver while the
 * layer exists) when it is still mounted. */
int st_drv_mount_reset(struct st_driver *d, const char *id, struct st_error *err);
/* Child records of id; add or drop one. */
int st_drv_children(struct st_driver *d, const char *id, char ***kids, size_t *n);
int st_drv_child_link(struct st_driver *d, const char *parent, const char *child, bool add, struct st_error *err);

/* Record a layer that a driver's init found on disk without a record (a
 * store written by another engine in the same layout, such as Docker's
 * aufs diff/ and layers/): ready, read-only, child of parent (NULL: none).
 * Nothing happens when the layer has a record already. */
int st_drv_adopt(struct st_driver *d, const char *id, const char *parent, struct st_error *err);

/* Validate key=value options against a NULL-terminated list of keys. */
int st_check_options(const char *what, const struct st_kvlist *opts, const char *const *known,
		     struct st_error *err);

/* The naive implementations, for drivers that have no native ones. */
int st_naive_diff(struct st_driver *d, const char *id, const char *parent,
		  struct st_writer *out, struct st_error *err);
int st_naive_changes(struct st_driver *d, const char *id, const char *parent,
		     struct st_changes *out, struct st_error *err);
int64_t st_naive_apply(struct st_driver *d, const char *id, const char *parent,
		       struct st_tar_in *in, struct st_error *err);
int64_t st_naive_diff_size(struct st_driver *d, const char *id, const char *parent,
			   struct st_error *err);

/* Backing filesystem name of a directory ("ext4", "btrfs", "tmpfs"...). */
const char *st_fs_name(int dirfd);
bool st_fs_supports_d_type(int dirfd);

#endif
