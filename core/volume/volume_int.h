/* What the volume store's files share (private to core/volume): the
 * store's directories, records and mount state (volume_record.c). */
#ifndef ST_VOLUME_INT_H
#define ST_VOLUME_INT_H

#include <limits.h>

#include "base/base.h"
#include "store/store.h"
#include "volume/volume.h"

struct vstore {
	struct st_store *s;
	int rec_fd, mnt_fd, lock_fd;
};

struct vrec {
	char name[ST_VOLUME_NAME_MAX + 1];
	char driver[64];
	char state[16]; /* creating | ready | removing */
	char scope[8];
	bool anonymous;
	int64_t created;
	struct st_kvlist options;
	struct st_kvlist labels;
};

struct vmnt {
	char path[PATH_MAX];
	bool mounted; /* the path was a mount point when the first user came */
	char **ids;
	size_t n;
};

struct vcache {
	struct st_volume_driver *v[32];
	size_t n;
};

/* The store's directories under <root>/volumes/.strata/, and the
 * per-volume lock (locks/NAME) every change of one volume holds. */
void vs_close(struct vstore *vs);
int vs_open(struct st_store *s, struct vstore *vs, struct st_error *err);
int vs_lock(struct vstore *vs, const char *name, struct st_error *err);
void vs_unlock(struct vstore *vs, const char *name, int *lfd);
/* records/NAME */
void vrec_free(struct vrec *r);
int vrec_load(struct vstore *vs, const char *name, struct vrec *rec, struct st_error *err);
int vrec_save(struct vstore *vs, const struct vrec *rec, struct st_error *err);
int vrec_drop(struct vstore *vs, const char *name, struct st_error *err);
/* mounts/NAME: the mount ids holding the volume */
void vmnt_free(struct vmnt *m);
int vmnt_load(struct vstore *vs, const char *name, struct vmnt *m);
int vmnt_save(struct vstore *vs, const char *name, const struct vmnt *m, struct st_error *err);
ssize_t vmnt_find(const struct vmnt *m, const char *id);
void vmnt_list(const struct vmnt *m, char *buf, size_t len);
/* Name the volume in err unless the message does already. */
void vol_wrap(struct st_error *err, const char *name, const char *ctx);
/* The drivers one operation opened, by name (opened at first use). */
int vcache_get(struct vstore *vs, struct vcache *c, const char *driver, struct st_volume_driver **out,
	       struct st_error *err);
void vcache_close(struct vcache *c);
const char *vol_scope_name(enum st_volume_scope s);
enum st_volume_scope vol_driver_scope(struct st_volume_driver *vd);
/* Under the volume's lock: finish what a killed create or remove left; load
 * a record (recovered); find one, adopting a volume its driver has but the
 * store has no record of. */
int vrec_recover_locked(struct vstore *vs, struct vrec *rec, struct st_error *err);
int vrec_load_locked(struct vstore *vs, const char *name, struct vrec *rec, struct st_error *err);
int vrec_find_locked(struct vstore *vs, const char *name, struct vrec *rec, struct st_error *err);

#endif
