/* What the container store's files (container*.c) share (private to
 * core/container): records under <root>/containers/<id>/ and claims. */
#ifndef ST_CONTAINER_INT_H
#define ST_CONTAINER_INT_H

#include "base/base.h"
#include "store/store.h"
#include "container/container.h"

/* An fd of <root>/containers. */
int ct_dir(struct st_store *s, struct st_error *err);
/* containers/<id>/<file> as JSON. */
int ct_load_json(struct st_store *s, const char *id, const char *file, json_object **o, struct st_error *err);
int ct_save_json(struct st_store *s, const char *id, const char *file, json_object *o, struct st_error *err);
/* The container's record and state. */
int ct_fill(struct st_store *s, const char *id, struct st_container *c, struct st_error *err);
/* A name, an id or a unique id prefix -> the id. */
int ct_resolve(struct st_store *s, const char *ref, char id[65], struct st_error *err);
bool ct_name_taken(struct st_store *s, const char *name);
/* The name index (container_names.c), dfd an fd of containers/: the id of
 * the container named name (-ENOENT: none); under the store lock, record
 * name -> id before the container is published, and drop it after its
 * directory is renamed away. */
int ct_name_find(int dfd, const char *name, char id[65]);
int ct_name_link(int dfd, const char *name, const char *id, struct st_error *err);
void ct_name_unlink(int dfd, const char *name, const char *id);
/* Claim the container layer under a new lease (see container.c), waiting
 * up to wait_s seconds while another operation has it. */
int ct_claim(struct st_store *s, const struct st_container *c, struct st_lease *l, double wait_s,
	     struct st_error *err);
/* Release the volumes the config mounts for container id. */
void ct_volumes_unmount(struct st_store *s, const char *id, json_object *cfg);

#endif
