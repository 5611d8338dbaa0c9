/* What system check's files share (private to core/system): the problems
 * and their fixes, the state of one scan, recording problems and lookups
 * (check_problems.c), the scans (check_store.c, check_objects.c) and the
 * repairs (check_repair.c); check.c runs them. */
#ifndef ST_CHECK_INT_H
#define ST_CHECK_INT_H

#include "base/base.h"
#include "store/store.h"
#include "container/container.h"
#include "builder/builder.h"
#include "system/system.h"

/* Repairs, in the order a round applies them: leftovers and stale state
 * first, missing holds before dangling ones are released (a release can
 * cascade), orphaned driver layers last. */
enum fix {
	FIX_NONE,
	FIX_LEASE_SWEEP,        /* dead leases: st_lease_sweep */
	FIX_LEASE_FILE,         /* a claims file without a lock: a = file name */
	FIX_CONTAINERS_RECOVER, /* cut-short container create/remove */
	FIX_LAYERS_RECOVER,     /* cut-short layer register/remove */
	FIX_RM_AT,              /* leftover: a = store subdir ("" for the root), b = name */
	FIX_VOLUME_UNMOUNT,     /* a = volume, b = mount id */
	FIX_UMOUNT,             /* a mount without a record: a = path */
	FIX_MOUNT_RESET,        /* a mount count without a user: a = driver layer */
	FIX_DRV_FINISH,         /* a record left creating/removing: a = driver layer */
	FIX_CHILD_ADD,          /* a = parent, b = child */
	FIX_CHILD_DROP,         /* a = parent, b = child */
	FIX_DRV_COMMIT,         /* a registered layer still writable: a = driver layer */
	FIX_CONTAINER_REMOVE,   /* a container whose layers are gone: a = id */
	FIX_LAYER_HOLD,         /* a = chain, b = holder */
	FIX_UNTAG,              /* a = "name:tag" */
	FIX_CACHE_DROP,         /* a = key */
	FIX_CACHE_UNLINK,       /* a damaged entry: a = file name */
	FIX_RECORD_REMOVE,      /* a damaged layer or image directory: a = subdir, b = name */
	FIX_LAYER_RELEASE,      /* a = chain, b = holder */
	FIX_LAYER_UNUSED,       /* a layer nothing holds: a = chain */
	FIX_DRV_ORPHAN,         /* a = driver layer */
};

struct ck {
	struct st_store *s;
	struct st_driver *d;
	struct st_check_problem *v; /* this scan's problems */
	size_t n;
	bool oom;
	/* the store as this scan found it */
	struct st_layer *layers;
	size_t nlayers;
	char **drv;                 /* driver records (any state) */
	size_t ndrv;
	struct st_cache_entry *cache;
	size_t ncache;
	int live;                   /* live leases */
	size_t nimages, ncontainers, nvolumes;
};

/* A problem of this scan: what (the object), its fix with arguments a and
 * b, and the message. */
void ck_add(struct ck *c, int fix, const char *a, const char *b, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
const struct st_layer *ck_find_layer(struct ck *c, const char *chain);
const struct st_layer *ck_layer_by_cache(struct ck *c, const char *cache);
bool ck_has_holder(const struct st_layer *l, const char *holder);
/* Entries of a store subdirectory ("" for the root). */
int ck_list_sub(struct ck *c, const char *sub, int *dfd, char ***names, size_t *n, struct st_error *err);
bool ck_exists_at(int dfd, const char *name);
/* Leftovers of atomic writes (".tmp-NAME-RANDOM") in a directory that is
 * only written under the store lock. */
void ck_leftover_temps(struct ck *c, const char *sub, int dfd, char **names, size_t n);
/* ---------------------------------------- the scans (check_store.c) */

void ck_scan_driver_records(struct ck *c);
/* Mount counts against the driver records and /proc/self/mountinfo. */
void ck_scan_mounts(struct ck *c);
void ck_scan_layers(struct ck *c);
/* Driver layers that no layer, container or live operation accounts for. */
void ck_scan_orphans(struct ck *c);
void ck_scan_leases(struct ck *c);
/* -------------------------------------- the scans (check_objects.c) */

/* Does image id exist? top receives its top layer. */
bool ck_image_exists(struct ck *c, const char *id, char top[ST_DIGEST_LEN + 1]);
void ck_scan_images(struct ck *c);
void ck_scan_containers(struct ck *c, struct st_container *cts, size_t ncts);
void ck_scan_cache(struct ck *c);
void ck_scan_volumes(struct ck *c, struct st_container *cts, size_t ncts);
/* ---------------------------------------------- repair (check_repair.c) */

/* Apply the repairs of one scan; orphaned driver layers that stack on each
 * other go in as many passes as it takes. */
void ck_apply(struct ck *c, struct st_check_problem *v, size_t n);

#endif
