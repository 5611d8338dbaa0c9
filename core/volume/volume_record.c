/* The volume store's records (records/NAME), mount state (mounts/NAME),
 * per-volume locks, the open drivers of one operation, and the recovery of
 * what a killed create or remove left: what volume.c builds the volume
 * operations on. Layout in volume.h. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "base/base.h"
#include "store/store.h"
#include "volume/volume.h"
#include "volume_int.h"

void vs_close(struct vstore *vs)
{
	st_closep(&vs->rec_fd);
	st_closep(&vs->mnt_fd);
	st_closep(&vs->lock_fd);
}

int vs_open(struct st_store *s, struct vstore *vs, struct st_error *err)
{
	*vs = (struct vstore){.s = s, .rec_fd = -1, .mnt_fd = -1, .lock_fd = -1};
	_cleanup_close_ int base = st_store_subdir(s, "volumes", err);
	if (base < 0)
		return base;
	static const char *const subs[] = {".strata/records", ".strata/mounts", ".strata/locks"};
	int *fds[] = {&vs->rec_fd, &vs->mnt_fd, &vs->lock_fd};
	for (size_t i = 0; i < ST_ARRAY_SIZE(subs); i++) {
		int r = st_mkdir_p_at(base, subs[i], 0700, err);
		if (r >= 0 && (*fds[i] = st_open_dir(base, subs[i], err)) < 0)
			r = *fds[i];
		if (r < 0) {
			vs_close(vs);
			return st_error_wrap(err, "volume store \"%s/volumes\"", s->root);
		}
	}
	return 0;
}

/* The per-volume lock. The file goes away with the volume, so after taking
 * it check that it is still the file of that name (else someone removed
 * the volume while we waited, and a newcomer may hold a fresh file). */
int vs_lock(struct vstore *vs, const char *name, struct st_error *err)
{
	for (int tries = 0; tries < 100; tries++) {
		int fd = st_lock_at(vs->lock_fd, name, LOCK_EX, err);
		if (fd < 0)
			return st_error_wrap(err, "volume \"%s\"", name);
		struct stat a, b;
		if (fstat(fd, &a) == 0 && fstatat(vs->lock_fd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return fd;
		st_unlock(&fd);
	}
	return st_error_fail(err, EBUSY, "volume \"%s\": its lock keeps being replaced", name);
}

/* A lock taken for a name that has no volume (a refused create, a typo)
 * leaves no file behind. */
void vs_unlock(struct vstore *vs, const char *name, int *lfd)
{
	if (faccessat(vs->rec_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		unlinkat(vs->lock_fd, name, 0);
	st_unlock(lfd);
}

/* ------------------------------------------------------------ records */

void vrec_free(struct vrec *r)
{
	st_kvlist_free(&r->options);
	st_kvlist_free(&r->labels);
}

/* {"K": "V"} of a record into l */
static int kv_load(json_object *o, const char *key, struct st_kvlist *l)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
		return 0;
	json_object_object_foreach(v, k, val)
	{
		if (st_kvlist_add(l, k, "%s", json_object_get_string(val)) < 0)
			return -ENOMEM;
	}
	return 0;
}

static json_object *kv_json(const struct st_kvlist *l)
{
	json_object *o = json_object_new_object();
	for (size_t i = 0; o && i < l->n; i++)
		json_object_object_add(o, l->v[i].key, json_object_new_string(l->v[i].value));
	return o;
}

int vrec_load(struct vstore *vs, const char *name, struct vrec *rec, struct st_error *err)
{
	memset(rec, 0, sizeof(*rec));
	_cleanup_json_ json_object *o = NULL;
	struct st_error e2 = {0};
	int r = st_json_load_at(vs->rec_fd, name, &o, &e2);
	if (r == -ENOENT)
		return st_error_fail(err, ENOENT, "no such volume: %s", name);
	if (r < 0) {
		if (err)
			*err = e2;
		return st_error_wrap(err, "volume \"%s\": record", name);
	}
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	snprintf(rec->driver, sizeof(rec->driver), "%s", st_json_str(o, "Driver"));
	snprintf(rec->state, sizeof(rec->state), "%s", st_json_str(o, "State"));
	snprintf(rec->scope, sizeof(rec->scope), "%s", st_json_str(o, "Scope"));
	rec->created = st_json_int(o, "CreatedAt");
	json_object *v;
	rec->anonymous = json_object_object_get_ex(o, "Anonymous", &v) && json_object_get_boolean(v);
	if (kv_load(o, "Options", &rec->options) < 0 || kv_load(o, "Labels", &rec->labels) < 0) {
		vrec_free(rec);
		return st_error_set(err, ENOMEM, "volume \"%s\": record", name);
	}
	return 0;
}

int vrec_save(struct vstore *vs, const struct vrec *rec, struct st_error *err)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object *opts = kv_json(&rec->options), *labels = kv_json(&rec->labels);
	if (!o || !opts || !labels) {
		json_object_put(opts);
		json_object_put(labels);
		return st_error_set(err, ENOMEM, "volume \"%s\": record", rec->name);
	}
	json_object_object_add(o, "Name", json_object_new_string(rec->name));
	json_object_object_add(o, "Driver", json_object_new_string(rec->driver));
	json_object_object_add(o, "Options", opts);
	json_object_object_add(o, "Labels", labels);
	json_object_object_add(o, "CreatedAt", json_object_new_int64(rec->created));
	json_object_object_add(o, "Anonymous", json_object_new_boolean(rec->anonymous));
	json_object_object_add(o, "Scope", json_object_new_string(rec->scope));
	json_object_object_add(o, "State", json_object_new_string(rec->state));
	int r = st_json_save_at(vs->rec_fd, rec->name, o, err);
	return r < 0 ? st_error_wrap(err, "volume \"%s\": save record", rec->name) : 0;
}

/* Forget a volume: its mount state, then its record (the commit point). */
int vrec_drop(struct vstore *vs, const char *name, struct st_error *err)
{
	if (unlinkat(vs->mnt_fd, name, 0) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "volume \"%s\": remove mount state", name);
	if (unlinkat(vs->rec_fd, name, 0) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "volume \"%s\": remove record", name);
	st_fsync_dir(vs->rec_fd);
	unlinkat(vs->lock_fd, name, 0); /* waiters notice (vs_lock) */
	return 0;
}

/* ------------------------------------------------------- mount state */

static const char *boot_id(void)
{
	static char id[64];
	if (!id[0]) {
		_cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
		if (!f || !fgets(id, sizeof(id), f))
			snprintf(id, sizeof(id), "unknown");
		id[strcspn(id, "\n")] = '\0';
	}
	return id;
}

void vmnt_free(struct vmnt *m)
{
	st_strv_free(m->ids, m->n);
	m->ids = NULL;
	m->n = 0;
}

/* Users recorded before a reboot, or of a mount that went away (umount by
 * hand), hold nothing any more: they are dropped here. */
int vmnt_load(struct vstore *vs, const char *name, struct vmnt *m)
{
	memset(m, 0, sizeof(*m));
	_cleanup_json_ json_object *o = NULL;
	struct st_error e;
	if (st_json_load_at(vs->mnt_fd, name, &o, &e) < 0)
		return 0;
	json_object *v;
	bool mounted = json_object_object_get_ex(o, "Mounted", &v) && json_object_get_boolean(v);
	snprintf(m->path, sizeof(m->path), "%s", st_json_str(o, "Path"));
	if (strcmp(st_json_str(o, "Boot"), boot_id()) != 0 || (mounted && !st_is_mountpoint(m->path)))
		return 0;
	m->mounted = mounted;
	if (json_object_object_get_ex(o, "IDs", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			const char *id = json_object_get_string(json_object_array_get_idx(v, i));
			if (st_volume_mount_id_valid(id) && st_strv_push(&m->ids, &m->n, id) < 0) {
				vmnt_free(m);
				return -ENOMEM;
			}
		}
	return 0;
}

int vmnt_save(struct vstore *vs, const char *name, const struct vmnt *m, struct st_error *err)
{
	if (m->n == 0) {
		if (unlinkat(vs->mnt_fd, name, 0) < 0 && errno != ENOENT)
			return st_error_set(err, errno, "volume \"%s\": mount state", name);
		return 0;
	}
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object *ids = json_object_new_array();
	if (!o || !ids) {
		json_object_put(ids);
		return st_error_set(err, ENOMEM, "volume \"%s\": mount state", name);
	}
	json_object_object_add(o, "Boot", json_object_new_string(boot_id()));
	json_object_object_add(o, "Path", json_object_new_string(m->path));
	json_object_object_add(o, "Mounted", json_object_new_boolean(m->mounted));
	for (size_t i = 0; i < m->n; i++)
		json_object_array_add(ids, json_object_new_string(m->ids[i]));
	json_object_object_add(o, "IDs", ids);
	size_t len;
	const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	/* a reboot makes this state moot, so no fsync; a kill -9 still never
	 * leaves half a file */
	int r = st_replace_file_at(vs->mnt_fd, name, text, len, 0600, err);
	return r < 0 ? st_error_wrap(err, "volume \"%s\": mount state", name) : 0;
}

ssize_t vmnt_find(const struct vmnt *m, const char *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->ids[i], id) == 0)
			return (ssize_t)i;
	return -1;
}

/* "a, b, c" of the holders, for messages */
void vmnt_list(const struct vmnt *m, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < m->n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? ", " : "", m->ids[i]);
}

/* Add "context: " unless the driver's message already names the volume. */
void vol_wrap(struct st_error *err, const char *name, const char *ctx)
{
	char quoted[ST_VOLUME_NAME_MAX + 3];
	snprintf(quoted, sizeof(quoted), "\"%s\"", name);
	if (err && !strstr(err->msg, quoted))
		st_error_wrap(err, "%s \"%s\"", ctx, name);
}

/* ------------------------------------------------------ driver caching */

int vcache_get(struct vstore *vs, struct vcache *c, const char *driver, struct st_volume_driver **out,
	       struct st_error *err)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i]->name, driver) == 0) {
			*out = c->v[i];
			return 0;
		}
	if (c->n >= ST_ARRAY_SIZE(c->v))
		return st_error_fail(err, ENOSPC, "too many volume drivers in use at once");
	int r = st_vdrv_open(vs->s->root, driver, out, err);
	if (r >= 0)
		c->v[c->n++] = *out;
	return r;
}

void vcache_close(struct vcache *c)
{
	for (size_t i = 0; i < c->n; i++)
		st_vdrv_close(c->v[i]);
	c->n = 0;
}

const char *vol_scope_name(enum st_volume_scope s) { return s == ST_VOLUME_SCOPE_GLOBAL ? "global" : "local"; }

enum st_volume_scope vol_driver_scope(struct st_volume_driver *vd)
{
	return vd->ops->capabilities ? vd->ops->capabilities(vd) : ST_VOLUME_SCOPE_LOCAL;
}

/* ------------------------------------------------------------ recovery */

/* Under the volume's lock a record that is not "ready" was left by a process
 * that died inside create or remove: finish the job (both end in removal:
 * a half-made volume has no data worth keeping, a half-removed one was
 * asked to go). Returns 0 when the volume is gone. */
int vrec_recover_locked(struct vstore *vs, struct vrec *rec, struct st_error *err)
{
	struct vcache c = {0};
	struct st_volume_driver *vd;
	int r = vcache_get(vs, &c, rec->driver, &vd, err);
	if (r >= 0) {
		struct st_kvlist status = {0};
		struct st_error e2 = {0};
		if (vd->ops->get(vd, rec->name, &status, &e2) >= 0)
			r = vd->ops->remove(vd, rec->name, err);
		st_kvlist_free(&status);
	}
	vcache_close(&c);
	if (r < 0)
		return st_error_wrap(err, "volume \"%s\": finish interrupted %s", rec->name,
				     strcmp(rec->state, "creating") == 0 ? "create" : "remove");
	return vrec_drop(vs, rec->name, err);
}

/* Load the record of a volume whose lock we hold, finishing what a killed
 * process left: -ENOENT when there is (now) no such volume. */
int vrec_load_locked(struct vstore *vs, const char *name, struct vrec *rec, struct st_error *err)
{
	int r = vrec_load(vs, name, rec, err);
	if (r < 0 || strcmp(rec->state, "ready") == 0)
		return r;
	r = vrec_recover_locked(vs, rec, err);
	vrec_free(rec);
	return r < 0 ? r : st_error_fail(err, ENOENT, "no such volume: %s", name);
}

/* A volume a driver has but the store has no record of (made by the plugin
 * directly, or a store that lost its records): record it, as Docker does. */
static int vrec_adopt_locked(struct vstore *vs, const char *name, struct vrec *rec, struct st_error *err)
{
	char **drivers = NULL;
	size_t nd = 0;
	if (st_vdrv_builtin_names(&drivers, &nd) < 0)
		return st_error_set(err, ENOMEM, "volume \"%s\"", name);
	/* plugins other volumes were made with */
	char **names;
	size_t nn;
	if (st_list_dir(vs->rec_fd, &names, &nn) == 0) {
		for (size_t i = 0; i < nn; i++) {
			struct vrec o;
			struct st_error e;
			if (!st_volume_name_valid(names[i]) || vrec_load(vs, names[i], &o, &e) < 0)
				continue;
			bool seen = false;
			for (size_t j = 0; j < nd && !seen; j++)
				seen = strcmp(drivers[j], o.driver) == 0;
			if (!seen)
				st_strv_push(&drivers, &nd, o.driver);
			vrec_free(&o);
		}
		st_strv_free(names, nn);
	}
	int r = -ENOENT;
	for (size_t i = 0; i < nd && r == -ENOENT; i++) {
		struct vcache c = {0};
		struct st_volume_driver *vd;
		struct st_kvlist status = {0};
		struct st_error e2 = {0};
		if (vcache_get(vs, &c, drivers[i], &vd, &e2) >= 0 && vd->ops->get(vd, name, &status, &e2) >= 0) {
			memset(rec, 0, sizeof(*rec));
			snprintf(rec->name, sizeof(rec->name), "%s", name);
			snprintf(rec->driver, sizeof(rec->driver), "%s", drivers[i]);
			snprintf(rec->scope, sizeof(rec->scope), "%s", vol_scope_name(vol_driver_scope(vd)));
			strcpy(rec->state, "ready");
			rec->created = time(NULL);
			r = vrec_save(vs, rec, err);
		}
		st_kvlist_free(&status);
		vcache_close(&c);
	}
	st_strv_free(drivers, nd);
	return r == -ENOENT ? st_error_fail(err, ENOENT, "no such volume: %s", name) : r;
}

/* The record of a volume whose lock we hold, adopting an unrecorded one. */
int vrec_find_locked(struct vstore *vs, const char *name, struct vrec *rec, struct st_error *err)
{
	int r = vrec_load_locked(vs, name, rec, err);
	return r == -ENOENT ? vrec_adopt_locked(vs, name, rec, err) : r;
}
