/* What the store's files share (private to core/store): layer records
 * (layer_store.c) for the making of layers (layer_register.c), and lease
 * files (lease.c) for their end and sweep (lease_end.c). */
#ifndef ST_STORE_INT_H
#define ST_STORE_INT_H

#include "base/base.h"
#include "store/store.h"

/* ------------------------------------------ layer records (layer_store.c) */

/* layers/<hex>/meta.json as JSON, and back. */
json_object *ls_layer_json(const struct st_layer *l);
/* "sha256:HEX" -> "HEX" */
const char *ls_hex_of(const char *digest);
/* An fd of <root>/layers. */
int ls_layers_dir(struct st_store *s, struct st_error *err);
int ls_load_layer(struct st_store *s, const char *chain, struct st_layer *l, struct st_error *err);
int ls_save_layer(struct st_store *s, const struct st_layer *l, struct st_error *err);
bool ls_has_holder(const struct st_layer *l, const char *holder);
/* -EINVAL unless holder is a valid holder name. */
int ls_check_holder(const char *holder, struct st_error *err);

/* ------------------------------------------------- lease files (lease.c) */

/* Remove <leases>/NAME.json and NAME.lock. */
void lease_files_remove(int dfd, const char *name);
/* Calls fn for each lease; alive tells whether its process still holds it
 * (fn returns non-zero to stop). */
int lease_each(struct st_store *s, int (*fn)(void *, int dfd, const char *name, bool alive, json_object *o),
	       void *ctx, struct st_error *err);

#endif
