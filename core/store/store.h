/* core/store: the store without images or containers: its root, lock and
 * recovery (store.c), the driver registry and the interface callers and
 * drivers use (driver*.c), leases (lease.c), the layer store
 * (layer_store.c) and the holder table (holders.c), through which whatever
 * holds layers (images, containers, build cache, leases) is asked about
 * them. drivers/ build on this header. */
#ifndef ST_STORE_H
#define ST_STORE_H

#include <limits.h>
#include <time.h>

#include "strata.h"
#include "base/base.h"
#include "archive/archive.h"

/* -------------------------------------- the driver interface (driver*.c) */

/* What callers and drivers use besides the ops table of strata.h. */
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

/* For system check (core/system/check*.c): the core's bookkeeping of one layer. */
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


/* --------------------------------------- the store (store*.c, layer_*.c) */

/* Internal view of the store shared by the layer, image, container and
 * volume stores. Layout under the root (all 0700):
 *   strata.json        {"driver": NAME}: the driver this store was made with
 *   .lock              the store lock (metadata changes take it exclusively)
 *   <driver>/          the driver's home
 *   layers/            the layer store (layer_store.c)
 *   leases/            live operations' claims on layers (lease.c)
 */
struct st_store {
	char root[PATH_MAX];
	int root_fd;
	struct st_driver *driver;
	int lock_fd; /* >= 0 while st_store_lock holds the store lock */
	int lock_depth;
	/* a kill may have left leftovers (a holder of the store lock or of a
	 * lease died): open's recovery sweeps the store's directories */
	bool sweep;
};

/* The store lock, exclusive, re-entrant within one process. */
int st_store_lock(struct st_store *s, struct st_error *err);
void st_store_unlock(struct st_store *s);
/* Under the lock: the sweep s->sweep asked for is done. */
void st_store_swept(struct st_store *s);

/* An fd of <root>/<sub>, created 0700 when missing. */
int st_store_subdir(struct st_store *s, const char *sub, struct st_error *err);

/* Open the store: root, lock, driver, recovery. Only core/system's
 * st_store_open calls it, once it has registered every holder kind that
 * recovery and the lease sweep must ask (see holders below). */
int st_store_open_core(const struct st_store_config *cfg, struct st_store **out, struct st_error *err);

/* Recovery run at open, under the store lock. */
int st_layer_store_recover(struct st_store *s, struct st_error *err);

/* The holder table (holders.c; st_holder_kind_register is public): what the
 * store and system check ask about a layer's holders, never a call up into
 * images or containers. */

/* The kind of holder "PREFIX:NAME" (NULL when none is registered); name
 * receives NAME. */
const struct st_holder_kind *st_holder_kind_of(const char *holder, const char **name);
/* Is the holder backed by what it names, holding chain_id? true for holders
 * of no registered kind ("user"); else why says what is wrong. */
bool st_holder_backed(struct st_store *s, const char *holder, const char *chain_id, char *why, size_t len);
/* Does a registered kind own driver layer id directly? */
bool st_holders_own_driver_layer(struct st_store *s, const char *driver_id);
/* How many things of one kind use object ("image:ID", "volume:NAME"): the
 * first kind that has users answers, *kind its prefix, *first one's name
 * (malloc'd, may be NULL). 0 when nothing does. */
int st_holders_using(struct st_store *s, const char *object, const char **kind, char **first);
/* Every kind's recovery, in registration order. */
int st_holders_recover(struct st_store *s, struct st_error *err);

/* ----------------------------------------- leases (lease.c, lease_end.c) */

/* Leases: what a running operation holds without writing it into the
 * layers' metadata. A lease is <root>/leases/NAME.json (the claims) and
 * NAME.lock (flocked by its process for as long as it lives). A lease whose
 * lock can be taken belongs to a dead process: its driver layers are
 * removed and its claims dropped. */
struct st_lease {
	struct st_store *s;
	char name[40];
	int lock_fd;
	char **layers;        /* chain ids kept alive */
	size_t nlayers;
	char **driver_layers; /* driver layer ids to remove if the process dies */
	size_t ndriver_layers;
};

int st_lease_new(struct st_store *s, struct st_lease *l, struct st_error *err);
/* Each add is written (fsynced) before it returns. */
int st_lease_add_layer(struct st_lease *l, const char *chain_id, struct st_error *err);
int st_lease_add_driver_layer(struct st_lease *l, const char *id, struct st_error *err);
int st_lease_drop_driver_layer(struct st_lease *l, const char *id, struct st_error *err);
/* End the lease: its files go, unless a driver layer it claims is still
 * there and nobody else's (its removal failed: a full disk, a busy mount),
 * in which case it is left as if its process had died, for the next
 * open's sweep. */
void st_lease_end(struct st_lease *l);
/* End it leaving its files: for when the cleanup itself failed (a holder
 * that could not be released); the next open sweeps it. */
void st_lease_abandon(struct st_lease *l);
/* "lease:NAME": a layer holder that dies with the lease (swept with it). */
void st_lease_holder(const struct st_lease *l, char *buf, size_t len);
/* A scratch directory <root>/tmp/<lease>-<tag> that goes with the lease
 * when its process dies (st_lease_sweep). */
void st_lease_scratch(const struct st_lease *l, const char *tag, char *buf, size_t len);

/* Is chain_id claimed by a live lease? (caller holds the store lock) */
bool st_lease_holds(struct st_store *s, const char *chain_id);
/* Is driver layer id claimed by a live lease (an operation still making
 * it)? (caller holds the store lock) */
bool st_lease_claims_driver_layer(struct st_store *s, const char *id);
/* Is lease NAME held by a live process? */
bool st_lease_alive(struct st_store *s, const char *name);
/* How many leases live processes hold (operations running now). */
int st_lease_count_alive(struct st_store *s);
/* Remove dead leases and their driver layers (caller holds the store lock). */
int st_lease_sweep(struct st_store *s, struct st_error *err);
/* Holders "lease:NAME" (registered by st_store_open_core). */
extern const struct st_holder_kind st_lease_holders;

#endif
