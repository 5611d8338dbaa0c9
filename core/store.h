/* Internal view of the store shared by the layer, image, container and
 * volume stores. Layout under the root (all 0700):
 *   strata.json        {"driver": NAME}: the driver this store was made with
 *   .lock              the store lock (metadata changes take it exclusively)
 *   <driver>/          the driver's home
 *   layers/            the layer store (layer_store.c)
 *   leases/            live operations' claims on layers (lease.c)
 */
#ifndef ST_STORE_H
#define ST_STORE_H

#include <limits.h>

#include "strata.h"

struct st_store {
	char root[PATH_MAX];
	int root_fd;
	struct st_driver *driver;
	int lock_fd; /* >= 0 while st_store_lock holds the store lock */
	int lock_depth;
};

/* The store lock, exclusive, re-entrant within one process. */
int st_store_lock(struct st_store *s, struct st_error *err);
void st_store_unlock(struct st_store *s);

/* An fd of <root>/<sub>, created 0700 when missing. */
int st_store_subdir(struct st_store *s, const char *sub, struct st_error *err);

/* Recovery run at open, under the store lock. */
int st_layer_store_recover(struct st_store *s, struct st_error *err);

#endif
