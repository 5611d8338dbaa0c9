/* What the driver interface's files (driver*.c) share: the core's record
 * of each driver layer and the bookkeeping directories under
 * <home>/.strata/ (private to core/store). */
#ifndef ST_DRIVER_INT_H
#define ST_DRIVER_INT_H

#include <time.h>

#include "store/store.h"

/* <home>/.strata/layers/ID */
struct drv_rec {
	char parent[130];
	bool rw;
	char state[16]; /* creating | ready | removing */
	struct timespec settled;
};

/* An fd of <home>/.strata/SUB ("layers", "children", "mounts", "locks", "pending"). */
int drv_meta_dir(struct st_driver *d, const char *sub, struct st_error *err);
int drv_rec_read(struct st_driver *d, const char *id, struct drv_rec *rec, struct st_error *err);
/* Marks the layer in pending/ while it writes (drv_pending_mark). */
int drv_rec_write(struct st_driver *d, const char *id, const struct drv_rec *rec, struct st_error *err);
/* Mark (on) or unmark the layer in <home>/.strata/pending/ (durable: the
 * directory synced); 0 or -errno. */
int drv_pending_mark(struct st_driver *d, const char *id, bool on, bool durable);
/* A layer in pending/ that nobody has locked (or no pending/ at all): a
 * kill left work for recovery. */
bool drv_pending_dead(struct st_driver *d);
/* The layer's lock (exclusive): every change of one layer holds it. */
int drv_layer_lock(struct st_driver *d, const char *id, struct st_error *err);
/* -EINVAL with a message unless id is a valid layer id. */
int drv_check_id(const char *what, const char *id, struct st_error *err);
/* Add or drop the record that child stands on parent. */
int drv_child_link(struct st_driver *d, const char *parent, const char *child, bool add, struct st_error *err);
int drv_children_of(struct st_driver *d, const char *id, char ***names, size_t *n);
/* Under the layer's lock: drop the uses of dead transient users (and the
 * mount, when none is left). */
void drv_mc_reap_id_locked(struct st_driver *d, const char *id);

#endif
