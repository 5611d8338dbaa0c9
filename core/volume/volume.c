/* The volume store: named volumes on top of volume drivers. It validates
 * names and options, keeps one record per volume, counts users per mount id
 * on disk (so a count outlives the process that took it), refuses to remove
 * a volume someone holds, and rolls back what a killed process left half
 * done. Layout in volume.h; records, mount state and recovery are
 * volume_record.c. */
#include <fcntl.h>
#include <limits.h>
#include <time.h>

#include "base/base.h"
#include "store/store.h"
#include "volume/volume.h"
#include "volume_int.h"

/* ------------------------------------------------------------- create */

static bool same_options(const struct st_kvlist *a, const struct st_kvlist *b)
{
	size_t na = a ? a->n : 0, nb = b ? b->n : 0;
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		const char *v = st_kvlist_get(b, a->v[i].key);
		if (!v || strcmp(v, a->v[i].value) != 0)
			return false;
	}
	return true;
}

static int check_options(struct st_volume_driver *vd, const struct st_kvlist *opts, struct st_error *err)
{
	for (size_t i = 0; opts && i < opts->n; i++) {
		const char *k = opts->v[i].key;
		if (!*k)
			return st_error_fail(err, EINVAL, "volume driver %s: empty option name", vd->name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(opts->v[j].key, k) == 0)
				return st_error_fail(err, EINVAL, "volume driver %s: option \"%s\" given twice",
						     vd->name, k);
		if (vd->ops->flags & ST_VOLUME_ANY_OPTION)
			continue;
		bool ok = false;
		for (const char *const *p = vd->ops->create_options; p && *p && !ok; p++)
			ok = strcmp(*p, k) == 0;
		if (!ok) {
			char list[512] = "";
			for (const char *const *p = vd->ops->create_options; p && *p; p++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", list[0] ? ", " : "",
					 *p);
			return st_error_fail(err, EINVAL, "volume driver %s: invalid option \"%s\" (valid: %s)",
					     vd->name, k, list[0] ? list : "none");
		}
	}
	return 0;
}

static int vol_fill(struct vstore *vs, const struct vrec *rec, struct st_volume_driver *vd, bool status,
		    struct st_volume *out, struct st_error *err);

int st_volume_create(struct st_store *s, const char *driver, const char *name, const struct st_kvlist *opts,
		     struct st_volume *out, struct st_error *err)
{
	return st_volume_create_labeled(s, driver, name, opts, NULL, out, err);
}

int st_volume_create_labeled(struct st_store *s, const char *driver, const char *name, const struct st_kvlist *opts,
			     const struct st_kvlist *labels, struct st_volume *out, struct st_error *err)
{
	char anon[65] = "";
	if (!driver || !*driver)
		driver = "local";
	if (!name || !*name) {
		int r = st_random_hex(anon, 32);
		if (r < 0)
			return st_error_set(err, -r, "anonymous volume name");
		name = anon;
	}
	int r = st_volume_check_name(name, err);
	if (r < 0)
		return r;
	struct vstore vs;
	if ((r = vs_open(s, &vs, err)) < 0)
		return r;
	int lfd = vs_lock(&vs, name, err);
	if (lfd < 0) {
		vs_close(&vs);
		return lfd;
	}
	struct vcache c = {0};
	struct st_volume_driver *vd = NULL;
	struct vrec rec;
	struct st_error e2 = {0};
	r = vrec_load_locked(&vs, name, &rec, &e2);
	if (r == 0) {
		/* Docker's rule: the same again is not an error */
		if (strcmp(rec.driver, driver) != 0)
			r = st_error_fail(err, EEXIST, "volume \"%s\" already exists with driver %s, not %s", name,
					  rec.driver, driver);
		else if (opts && opts->n && !same_options(opts, &rec.options))
			r = st_error_fail(err, EEXIST, "volume \"%s\" already exists with other options", name);
		else if (out && (r = vcache_get(&vs, &c, rec.driver, &vd, err)) >= 0)
			r = vol_fill(&vs, &rec, vd, false, out, err);
		vrec_free(&rec);
		goto out;
	}
	if (r != -ENOENT) {
		if (err)
			*err = e2;
		goto out;
	}
	if ((r = vcache_get(&vs, &c, driver, &vd, err)) < 0 || (r = check_options(vd, opts, err)) < 0)
		goto out;
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	snprintf(rec.driver, sizeof(rec.driver), "%s", driver);
	snprintf(rec.scope, sizeof(rec.scope), "%s", vol_scope_name(vol_driver_scope(vd)));
	strcpy(rec.state, "creating");
	rec.anonymous = anon[0] != '\0';
	rec.created = time(NULL);
	for (size_t i = 0; opts && i < opts->n && r >= 0; i++)
		r = st_kvlist_add(&rec.options, opts->v[i].key, "%s", opts->v[i].value);
	for (size_t i = 0; labels && i < labels->n && r >= 0; i++)
		r = st_kvlist_add(&rec.labels, labels->v[i].key, "%s", labels->v[i].value);
	if (r < 0) {
		r = st_error_set(err, ENOMEM, "volume \"%s\"", name);
		vrec_free(&rec);
		goto out;
	}
	/* the record first: a crash after it is rolled back by the next user */
	if ((r = vrec_save(&vs, &rec, err)) >= 0) {
		r = vd->ops->create(vd, name, opts, err);
		if (r < 0) {
			vol_wrap(err, name, "create volume");
			struct st_error ignore;
			vrec_drop(&vs, name, &ignore);
		} else {
			strcpy(rec.state, "ready");
			r = vrec_save(&vs, &rec, err);
		}
	}
	if (r >= 0 && out)
		r = vol_fill(&vs, &rec, vd, false, out, err);
	vrec_free(&rec);
out:
	vcache_close(&c);
	vs_unlock(&vs, name, &lfd);
	vs_close(&vs);
	return r;
}

/* ----------------------------------------------------- inspect / list */

void st_volume_free(struct st_volume *v)
{
	if (!v)
		return;
	st_kvlist_free(&v->options);
	st_kvlist_free(&v->labels);
	st_kvlist_free(&v->status);
	st_strv_free(v->mount_ids, v->nmount_ids);
	memset(v, 0, sizeof(*v));
}

void st_volume_list_free(struct st_volume *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		st_volume_free(&v[i]);
	free(v);
}

static int vol_fill(struct vstore *vs, const struct vrec *rec, struct st_volume_driver *vd, bool status,
		    struct st_volume *out, struct st_error *err)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", rec->name);
	snprintf(out->driver, sizeof(out->driver), "%s", rec->driver);
	out->scope = strcmp(rec->scope, "global") == 0 ? ST_VOLUME_SCOPE_GLOBAL : ST_VOLUME_SCOPE_LOCAL;
	out->anonymous = rec->anonymous;
	out->created = rec->created;
	int r = 0;
	for (size_t i = 0; i < rec->options.n && r >= 0; i++)
		r = st_kvlist_add(&out->options, rec->options.v[i].key, "%s", rec->options.v[i].value);
	for (size_t i = 0; i < rec->labels.n && r >= 0; i++)
		r = st_kvlist_add(&out->labels, rec->labels.v[i].key, "%s", rec->labels.v[i].value);
	struct vmnt m;
	if (r >= 0 && (r = vmnt_load(vs, rec->name, &m)) >= 0) {
		out->mount_ids = st_take_ptr(m.ids);
		out->nmount_ids = m.n;
	}
	if (r < 0) {
		st_volume_free(out);
		return st_error_set(err, ENOMEM, "volume \"%s\"", rec->name);
	}
	if (!vd)
		return 0;
	struct st_error e2 = {0};
	if (vd->ops->path(vd, rec->name, out->mountpoint, sizeof(out->mountpoint), &e2) < 0)
		out->mountpoint[0] = '\0';
	if (status && vd->ops->get(vd, rec->name, &out->status, &e2) < 0)
		st_kvlist_add(&out->status, "Error", "%s", e2.msg);
	return 0;
}

int st_volume_inspect(struct st_store *s, const char *name, struct st_volume *out, struct st_error *err)
{
	int r = st_volume_check_name(name, err);
	struct vstore vs;
	if (r < 0 || (r = vs_open(s, &vs, err)) < 0)
		return r;
	int lfd = vs_lock(&vs, name, err);
	if (lfd < 0) {
		vs_close(&vs);
		return lfd;
	}
	struct vrec rec;
	struct vcache c = {0};
	struct st_volume_driver *vd;
	if ((r = vrec_find_locked(&vs, name, &rec, err)) >= 0) {
		if ((r = vcache_get(&vs, &c, rec.driver, &vd, err)) >= 0)
			r = vol_fill(&vs, &rec, vd, true, out, err);
		vrec_free(&rec);
	}
	vcache_close(&c);
	vs_unlock(&vs, name, &lfd);
	vs_close(&vs);
	return r;
}

static int cmp_vol(const void *a, const void *b)
{
	return strcmp(((const struct st_volume *)a)->name, ((const struct st_volume *)b)->name);
}

static int vlist_push(struct st_volume **v, size_t *n, struct st_volume *one)
{
	struct st_volume *nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[(*n)++] = *one;
	return 0;
}

/* Records without a lock: a record that is not ready is fixed up when its
 * lock is free (its process died), skipped otherwise (work in progress). */
static int list_records(struct vstore *vs, struct vcache *c, struct st_volume **out, size_t *n,
			struct st_kvlist *warnings, struct st_error *err)
{
	char **names;
	size_t nn;
	int r = st_list_dir(vs->rec_fd, &names, &nn);
	if (r < 0)
		return st_error_set(err, -r, "list volumes in \"%s/volumes\"", vs->s->root);
	for (size_t i = 0; i < nn && r >= 0; i++) {
		struct vrec rec;
		struct st_error e2 = {0};
		if (!st_volume_name_valid(names[i]) || vrec_load(vs, names[i], &rec, &e2) < 0)
			continue;
		if (strcmp(rec.state, "ready") != 0) {
			int lfd = st_trylock_at(vs->lock_fd, names[i], LOCK_EX, &e2);
			if (lfd >= 0) {
				vrec_recover_locked(vs, &rec, &e2);
				st_unlock(&lfd);
			}
			vrec_free(&rec);
			continue;
		}
		struct st_volume_driver *vd = NULL;
		if (vcache_get(vs, c, rec.driver, &vd, &e2) < 0) {
			vd = NULL;
			if (warnings && !st_kvlist_get(warnings, rec.driver))
				st_kvlist_add(warnings, rec.driver, "%s", e2.msg);
		}
		struct st_volume one;
		r = vol_fill(vs, &rec, vd, false, &one, err);
		if (r >= 0 && (r = vlist_push(out, n, &one)) < 0) {
			st_volume_free(&one);
			r = st_error_set(err, ENOMEM, "list volumes");
		}
		vrec_free(&rec);
	}
	st_strv_free(names, nn);
	return r;
}

/* Volumes drivers have that the store has no record of. */
static int list_unrecorded(struct vcache *c, struct st_volume **out, size_t *n, struct st_kvlist *warnings)
{
	size_t nrec = *n;
	for (size_t d = 0; d < c->n; d++) {
		struct st_volume_driver *vd = c->v[d];
		char **names = NULL;
		size_t nn = 0;
		struct st_error e2 = {0};
		if (vd->ops->list(vd, &names, &nn, &e2) < 0) {
			if (warnings)
				st_kvlist_add(warnings, vd->name, "%s", e2.msg);
			continue;
		}
		for (size_t i = 0; i < nn; i++) {
			bool known = !st_volume_name_valid(names[i]);
			for (size_t j = 0; j < *n && !known; j++)
				known = strcmp((*out)[j].name, names[i]) == 0 && (j < nrec || strcmp((*out)[j].driver, vd->name) == 0);
			if (known)
				continue;
			struct st_volume one = {.scope = vol_driver_scope(vd)};
			snprintf(one.name, sizeof(one.name), "%s", names[i]);
			snprintf(one.driver, sizeof(one.driver), "%s", vd->name);
			if (vd->ops->path(vd, names[i], one.mountpoint, sizeof(one.mountpoint), &e2) < 0)
				one.mountpoint[0] = '\0';
			if (vlist_push(out, n, &one) < 0) {
				st_strv_free(names, nn);
				return -ENOMEM;
			}
		}
		st_strv_free(names, nn);
	}
	return 0;
}

int st_volume_list(struct st_store *s, struct st_volume **out, size_t *n, struct st_kvlist *warnings,
		   struct st_error *err)
{
	*out = NULL;
	*n = 0;
	struct vstore vs;
	int r = vs_open(s, &vs, err);
	if (r < 0)
		return r;
	struct vcache c = {0};
	r = list_records(&vs, &c, out, n, warnings, err);
	char **builtin = NULL;
	size_t nb = 0;
	if (r >= 0 && st_vdrv_builtin_names(&builtin, &nb) == 0) {
		for (size_t i = 0; i < nb; i++) {
			struct st_volume_driver *vd;
			struct st_error e2 = {0};
			if (vcache_get(&vs, &c, builtin[i], &vd, &e2) < 0 && warnings)
				st_kvlist_add(warnings, builtin[i], "%s", e2.msg);
		}
		st_strv_free(builtin, nb);
	}
	if (r >= 0 && list_unrecorded(&c, out, n, warnings) < 0)
		r = st_error_set(err, ENOMEM, "list volumes");
	vcache_close(&c);
	vs_close(&vs);
	if (r < 0) {
		st_volume_list_free(*out, *n);
		*out = NULL;
		*n = 0;
		return r;
	}
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_vol);
	return 0;
}

/* ------------------------------------------------------ mount counting */

static int check_mount_args(const char *name, const char *mount_id, struct st_error *err)
{
	int r = st_volume_check_name(name, err);
	if (r >= 0 && !st_volume_mount_id_valid(mount_id))
		r = st_error_fail(err, EINVAL,
				  "invalid mount id \"%.*s\": use 1-%d of [a-zA-Z0-9_.-], starting with a letter or digit",
				  ST_VOLUME_MOUNT_ID_MAX + 1, mount_id ? mount_id : "", ST_VOLUME_MOUNT_ID_MAX);
	return r;
}

/* What mount and unmount work on: the volume locked, its record, its driver
 * and the users who have it mounted. */
struct vmount_op {
	struct vstore vs;
	int lfd;
	struct vrec rec;
	struct vcache c;
	struct st_volume_driver *vd;
	struct vmnt m;
};

static void vmount_end(struct vmount_op *op, const char *name, bool have_rec)
{
	if (have_rec)
		vrec_free(&op->rec);
	vmnt_free(&op->m);
	vcache_close(&op->c);
	vs_unlock(&op->vs, name, &op->lfd);
	vs_close(&op->vs);
}

/* Check the arguments, lock the volume and load its record (adopting one a
 * driver has unrecorded when adopt), its driver and its users. */
static int vmount_begin(struct st_store *s, const char *name, const char *mount_id, bool adopt, struct vmount_op *op,
			struct st_error *err)
{
	int r = check_mount_args(name, mount_id, err);
	if (r < 0 || (r = vs_open(s, &op->vs, err)) < 0)
		return r;
	op->lfd = vs_lock(&op->vs, name, err);
	if (op->lfd < 0) {
		vs_close(&op->vs);
		return op->lfd;
	}
	op->c = (struct vcache){0};
	op->m = (struct vmnt){0};
	r = adopt ? vrec_find_locked(&op->vs, name, &op->rec, err) : vrec_load_locked(&op->vs, name, &op->rec, err);
	if (r < 0) {
		vmount_end(op, name, false);
		return r;
	}
	if ((r = vcache_get(&op->vs, &op->c, op->rec.driver, &op->vd, err)) < 0 ||
	    (r = vmnt_load(&op->vs, name, &op->m)) < 0) {
		vmount_end(op, name, true);
		return r;
	}
	return 0;
}

int st_volume_mount(struct st_store *s, const char *name, const char *mount_id, char *path, size_t len,
		    struct st_error *err)
{
	struct vmount_op op;
	int r = vmount_begin(s, name, mount_id, true, &op, err);
	if (r < 0)
		return r;
	struct st_volume_driver *vd = op.vd;
	struct vmnt *m = &op.m;
	if (vmnt_find(m, mount_id) >= 0) {
		snprintf(path, len, "%s", m->path); /* the same user again: one use */
		goto out;
	}
	bool call = m->n == 0 || (vd->ops->flags & ST_VOLUME_MOUNT_EACH_ID);
	if (call) {
		char p[PATH_MAX] = "";
		if ((r = vd->ops->mount(vd, name, mount_id, p, sizeof(p), err)) < 0) {
			vol_wrap(err, name, "mount volume");
			goto out;
		}
		if (m->n == 0) {
			snprintf(m->path, sizeof(m->path), "%s", p);
			m->mounted = st_is_mountpoint(p);
		}
	}
	if ((r = st_strv_push(&m->ids, &m->n, mount_id)) < 0)
		r = st_error_set(err, ENOMEM, "volume \"%s\"", name);
	else
		r = vmnt_save(&op.vs, name, m, err);
	if (r < 0 && call) {
		/* nobody will know about this mount: undo it */
		struct st_error ignore;
		vd->ops->unmount(vd, name, mount_id, &ignore);
	}
	if (r >= 0)
		snprintf(path, len, "%s", m->path);
out:
	vmount_end(&op, name, true);
	return r;
}

int st_volume_unmount(struct st_store *s, const char *name, const char *mount_id, struct st_error *err)
{
	struct vmount_op op;
	int r = vmount_begin(s, name, mount_id, false, &op, err);
	if (r < 0)
		return r;
	struct st_volume_driver *vd = op.vd;
	struct vmnt *m = &op.m;
	ssize_t at = vmnt_find(m, mount_id);
	if (at < 0) {
		char holders[1024];
		vmnt_list(m, holders, sizeof(holders));
		r = m->n ? st_error_fail(err, EINVAL, "volume \"%s\" is not mounted for %s (held by: %s)", name,
					 mount_id, holders)
			 : st_error_fail(err, EINVAL, "volume \"%s\" is not mounted", name);
		goto out;
	}
	if (m->n == 1 || (vd->ops->flags & ST_VOLUME_MOUNT_EACH_ID)) {
		if ((r = vd->ops->unmount(vd, name, mount_id, err)) < 0) {
			vol_wrap(err, name, "unmount volume");
			goto out; /* still held: the record stays as it was */
		}
	}
	free(m->ids[at]);
	memmove(&m->ids[at], &m->ids[at + 1], (m->n - (size_t)at - 1) * sizeof(char *));
	m->n--;
	r = vmnt_save(&op.vs, name, m, err);
out:
	vmount_end(&op, name, true);
	return r;
}

/* Who uses the volume besides its mounts: containers name theirs in their
 * configs (asked through the holder table, as "volume:NAME"). */
static int volume_users(struct st_store *s, const char *name, const char **kind, char **first)
{
	char object[ST_VOLUME_NAME_MAX + 8];
	snprintf(object, sizeof(object), "volume:%s", name);
	return st_holders_using(s, object, kind, first);
}

bool st_volume_in_use(struct st_store *s, const char *name)
{
	struct vstore vs;
	struct st_error e;
	if (!st_volume_name_valid(name) || vs_open(s, &vs, &e) < 0)
		return false;
	struct vmnt m;
	bool used = vmnt_load(&vs, name, &m) == 0 && m.n > 0;
	vmnt_free(&m);
	vs_close(&vs);
	if (!used) {
		/* a stopped container keeps its volumes, as in Docker */
		_cleanup_free_ char *user = NULL;
		const char *kind;
		used = volume_users(s, name, &kind, &user) > 0;
	}
	return used;
}

/* ------------------------------------------------------------- remove */

static int remove_locked(struct vstore *vs, const char *name, bool force, int64_t *freed, struct st_error *err)
{
	struct vrec rec;
	int r = vrec_find_locked(vs, name, &rec, err);
	if (r < 0)
		return r;
	struct vmnt m;
	if ((r = vmnt_load(vs, name, &m)) < 0) {
		vrec_free(&rec);
		return st_error_set(err, -r, "volume \"%s\"", name);
	}
	if (m.n > 0) {
		char holders[1024];
		vmnt_list(&m, holders, sizeof(holders));
		r = st_error_fail(err, EBUSY, "volume \"%s\" is in use by mount id%s %s: unmount first", name,
				  m.n == 1 ? "" : "s", holders);
		vmnt_free(&m);
		vrec_free(&rec);
		return r;
	}
	vmnt_free(&m);
	_cleanup_free_ char *user = NULL;
	const char *kind;
	int nc = volume_users(vs->s, name, &kind, &user);
	if (nc > 0) {
		vrec_free(&rec);
		return st_error_fail(err, EBUSY, "volume \"%s\" is in use by %s %s%s: remove %s first", name, kind,
				     user ? user : "?", nc > 1 ? " and others" : "", nc > 1 ? "them" : "it");
	}
	struct vcache c = {0};
	struct st_volume_driver *vd = NULL;
	r = vcache_get(vs, &c, rec.driver, &vd, err);
	if (r >= 0 && freed && vol_driver_scope(vd) == ST_VOLUME_SCOPE_LOCAL) {
		char p[PATH_MAX];
		struct st_error e2;
		if (vd->ops->path(vd, name, p, sizeof(p), &e2) >= 0 && p[0] && !st_is_mountpoint(p)) {
			_cleanup_close_ int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			int64_t sz = fd >= 0 ? st_tree_size(fd, &e2) : -1;
			*freed = sz > 0 ? sz : 0;
		}
	}
	if (r >= 0) {
		strcpy(rec.state, "removing");
		if ((r = vrec_save(vs, &rec, err)) >= 0 && (r = vd->ops->remove(vd, name, err)) < 0) {
			vol_wrap(err, name, "remove volume");
			struct st_error ignore;
			strcpy(rec.state, "ready");
			if (!force)
				vrec_save(vs, &rec, &ignore); /* still there and usable */
		}
	}
	if (r >= 0 || force) {
		struct st_error e3 = {0};
		int r2 = vrec_drop(vs, name, &e3);
		if (r >= 0 && r2 < 0) {
			if (err)
				*err = e3;
			r = r2;
		}
		if (force && r < 0 && r2 >= 0) {
			fprintf(stderr, "strata: warning: %s (record removed: --force)\n", err ? err->msg : "");
			r = 0;
		}
	}
	vcache_close(&c);
	vrec_free(&rec);
	return r;
}

static int remove_one(struct st_store *s, const char *name, bool force, int64_t *freed, struct st_error *err)
{
	int r = st_volume_check_name(name, err);
	struct vstore vs;
	if (r < 0 || (r = vs_open(s, &vs, err)) < 0)
		return r;
	int lfd = vs_lock(&vs, name, err);
	if (lfd < 0) {
		vs_close(&vs);
		return lfd;
	}
	r = remove_locked(&vs, name, force, freed, err);
	if (r == -ENOENT && force)
		r = 0;
	vs_unlock(&vs, name, &lfd);
	vs_close(&vs);
	return r;
}

int st_volume_remove(struct st_store *s, const char *name, bool force, struct st_error *err)
{
	return remove_one(s, name, force, NULL, err);
}

int st_volume_prune(struct st_store *s, char ***names, size_t *n, int64_t *reclaimed, struct st_error *err)
{
	*names = NULL;
	*n = 0;
	*reclaimed = 0;
	struct vstore vs;
	int r = vs_open(s, &vs, err);
	if (r < 0)
		return r;
	char **all;
	size_t na;
	r = st_list_dir(vs.rec_fd, &all, &na);
	vs_close(&vs);
	if (r < 0)
		return st_error_set(err, -r, "list volumes in \"%s/volumes\"", s->root);
	int first = 0;
	for (size_t i = 0; i < na; i++) {
		if (!st_volume_name_valid(all[i]) || st_volume_in_use(s, all[i]))
			continue;
		int64_t freed = 0;
		struct st_error e2 = {0};
		int r2 = remove_one(s, all[i], false, &freed, &e2);
		if (r2 == -EBUSY || r2 == -ENOENT)
			continue; /* taken or removed meanwhile */
		if (r2 < 0) {
			if (!first) {
				first = r2;
				if (err)
					*err = e2;
			}
			continue;
		}
		*reclaimed += freed;
		st_strv_push(names, n, all[i]);
	}
	st_strv_free(all, na);
	return first;
}
