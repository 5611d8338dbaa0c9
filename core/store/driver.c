/* The storage-driver registry and the interface callers use: id and option
 * validation, opening drivers, the core's per-layer records, parent/child
 * records, create. The rest of the interface: mount counts
 * (driver_mount.c), removal and recovery (driver_remove.c), diffs and the
 * naive diff for drivers without a native one (driver_diff.c).
 *
 * Bookkeeping lives in <home>/.strata/:
 *   layers/ID      {"parent","rw","state","settled"}  (state: creating|ready|removing)
 *   children/P/C   one empty file per child C of P
 *   mounts/ID      "COUNT MOUNTED PATH"
 *   locks/ID       per-layer flock
 *   pending/ID     a write of ID's record is under way, or its record is other
 *                  than ready (a create or removal under way or cut short).
 *                  Recovery at open reads only these, and sweeps the driver's
 *                  leftovers only when there are any: opening a store does
 *                  not grow with it.
 */
#include <ctype.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"
#include "driver_int.h"

extern const struct st_driver_ops *const st_builtin_drivers[];
extern const size_t st_builtin_ndrivers;

const struct st_driver_ops *const *st_driver_registry(size_t *n)
{
	*n = st_builtin_ndrivers;
	return st_builtin_drivers;
}

const struct st_driver_ops *st_driver_lookup(const char *name)
{
	for (size_t i = 0; i < st_builtin_ndrivers; i++)
		if (strcmp(st_builtin_drivers[i]->name, name) == 0)
			return st_builtin_drivers[i];
	return NULL;
}

bool st_valid_id(const char *id)
{
	if (!id || !isalnum((unsigned char)id[0]))
		return false;
	size_t n = 0;
	for (const char *p = id; *p; p++, n++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return n <= 128;
}

int st_check_options(const char *what, const struct st_kvlist *opts, const char *const *known,
		     struct st_error *err)
{
	for (size_t i = 0; opts && i < opts->n; i++) {
		bool ok = false;
		for (const char *const *k = known; k && *k && !ok; k++)
			ok = strcmp(*k, opts->v[i].key) == 0;
		if (!ok) {
			char list[512] = "";
			for (const char *const *k = known; k && *k; k++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 list[0] ? ", " : "", *k);
			return st_error_fail(err, EINVAL, "%s: unknown option \"%s\" (known: %s)", what,
					     opts->v[i].key, list[0] ? list : "none");
		}
	}
	return 0;
}

/* ------------------------------------------------------- opening drivers */

int st_driver_probe(const char *name, const char *home, char *reason, size_t len)
{
	const struct st_driver_ops *ops = st_driver_lookup(name);
	if (!ops) {
		snprintf(reason, len, "unknown driver");
		return -EINVAL;
	}
	bool made = mkdir(home, 0700) == 0;
	reason[0] = '\0';
	int r = ops->probe(home, reason, len);
	if (made)
		rmdir(home); /* fails, as it should, if the probe left anything */
	if (r < 0 && !reason[0])
		snprintf(reason, len, "%s", strerror(-r));
	return r;
}

bool drv_pending_dead(struct st_driver *d)
{
	_cleanup_close_ int pfd = st_open_nofollow(d->home_fd, ".strata/pending", O_RDONLY | O_DIRECTORY, 0);
	if (pfd < 0)
		return true; /* missing: a home from before pending/ */
	_cleanup_close_ int kfd = st_open_nofollow(d->home_fd, ".strata/locks", O_RDONLY | O_DIRECTORY, 0);
	char **names;
	size_t n;
	if (kfd < 0 || st_list_dir(pfd, &names, &n) < 0)
		return true;
	bool dead = false;
	for (size_t i = 0; i < n && !dead; i++) {
		struct st_error e;
		int lfd = st_valid_id(names[i]) ? st_trylock_at(kfd, names[i], LOCK_EX, &e) : -1;
		dead = lfd >= 0; /* nobody works on it: its writer is gone */
		st_unlock(&lfd);
	}
	st_strv_free(names, n);
	return dead;
}

int drv_meta_dir(struct st_driver *d, const char *sub, struct st_error *err)
{
	char p[64];
	snprintf(p, sizeof(p), ".strata/%s", sub);
	int fd = st_open_nofollow(d->home_fd, p, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return st_error_set(err, -fd, "driver %s: open \"%s/%s\"", d->ops->name, d->home, p);
	return fd;
}

int st_driver_open(const char *name, const char *home, const struct st_kvlist *opts,
		   struct st_driver **out, struct st_error *err)
{
	const struct st_driver_ops *ops = st_driver_lookup(name);
	if (!ops)
		return st_error_fail(err, EINVAL, "unknown storage driver \"%s\"", name);
	int r = st_check_options(name, opts, ops->init_options, err);
	if (r < 0)
		return r;
	if (mkdir(home, 0700) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "driver %s: create home \"%s\"", name, home);
	char reason[512] = "";
	r = ops->probe(home, reason, sizeof(reason));
	if (r < 0)
		return st_error_fail(err, -r, "driver %s is not supported here: %s", name,
				     reason[0] ? reason : strerror(-r));
	struct st_driver *d = calloc(1, sizeof(*d));
	if (!d)
		return st_error_set(err, ENOMEM, "driver %s", name);
	d->ops = ops;
	snprintf(d->home, sizeof(d->home), "%s", home);
	d->home_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->home_fd < 0) {
		r = st_error_set(err, errno, "driver %s: open home \"%s\"", name, home);
		free(d);
		return r;
	}
	chmod(home, 0700);
	for (size_t i = 0; opts && i < opts->n; i++)
		st_kvlist_add(&d->opts, opts->v[i].key, "%s", opts->v[i].value);
	d->sweep = drv_pending_dead(d);
	static const char *const subs[] = {".strata/layers", ".strata/children", ".strata/mounts", ".strata/locks"};
	for (size_t i = 0; i < ST_ARRAY_SIZE(subs) && r >= 0; i++)
		r = st_mkdir_p_at(d->home_fd, subs[i], 0700, err);
	if (r >= 0)
		r = ops->init(d, err);
	if (r < 0) {
		close(d->home_fd);
		st_kvlist_free(&d->opts);
		free(d);
		return r;
	}
	*out = d;
	return 0;
}

void st_driver_close(struct st_driver *d)
{
	if (!d)
		return;
	if (d->ops->cleanup)
		d->ops->cleanup(d);
	close(d->home_fd);
	st_kvlist_free(&d->opts);
	free(d);
}

/* ------------------------------------------------------- layer records */

int drv_rec_read(struct st_driver *d, const char *id, struct drv_rec *rec, struct st_error *err)
{
	memset(rec, 0, sizeof(*rec));
	_cleanup_close_ int dfd = drv_meta_dir(d, "layers", err);
	if (dfd < 0)
		return dfd;
	_cleanup_json_ json_object *o = NULL;
	struct st_error e2;
	int r = st_json_load_at(dfd, id, &o, &e2);
	if (r == -ENOENT)
		return st_error_fail(err, ENOENT, "layer \"%s\" does not exist", id);
	if (r < 0) {
		*err = e2;
		return st_error_wrap(err, "layer \"%s\"", id);
	}
	snprintf(rec->parent, sizeof(rec->parent), "%s", st_json_str(o, "parent"));
	snprintf(rec->state, sizeof(rec->state), "%s", st_json_str(o, "state"));
	json_object *v;
	rec->rw = json_object_object_get_ex(o, "rw", &v) && json_object_get_boolean(v);
	rec->settled.tv_sec = st_json_int(o, "settled_sec");
	rec->settled.tv_nsec = st_json_int(o, "settled_nsec");
	return 0;
}

int drv_pending_mark(struct st_driver *d, const char *id, bool on, bool durable)
{
	char p[200];
	snprintf(p, sizeof(p), ".strata/pending/%s", id);
	if (!on)
		return unlinkat(d->home_fd, p, 0) < 0 && errno != ENOENT ? -errno : 0;
	int fd = openat(d->home_fd, p, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno; /* a home from before pending/: recovery reads every record */
	close(fd);
	if (durable) {
		_cleanup_close_ int pfd = st_open_nofollow(d->home_fd, ".strata/pending", O_RDONLY | O_DIRECTORY, 0);
		if (pfd >= 0)
			st_fsync_dir(pfd);
	}
	return 0;
}

int drv_rec_write(struct st_driver *d, const char *id, const struct drv_rec *rec, struct st_error *err)
{
	_cleanup_close_ int dfd = drv_meta_dir(d, "layers", err);
	if (dfd < 0)
		return dfd;
	/* marked before the write (its temporary file) and before the record
	 * says other than ready (durably then); unmarked once it says ready */
	bool ready = strcmp(rec->state, "ready") == 0;
	int r = drv_pending_mark(d, id, true, !ready);
	if (r < 0)
		return st_error_set(err, -r, "driver %s: mark layer \"%s\" pending", d->ops->name, id);
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object_object_add(o, "parent", json_object_new_string(rec->parent));
	json_object_object_add(o, "rw", json_object_new_boolean(rec->rw));
	json_object_object_add(o, "state", json_object_new_string(rec->state));
	json_object_object_add(o, "settled_sec", json_object_new_int64(rec->settled.tv_sec));
	json_object_object_add(o, "settled_nsec", json_object_new_int64(rec->settled.tv_nsec));
	if ((r = st_json_save_at(dfd, id, o, err)) < 0)
		return r;
	if (ready)
		drv_pending_mark(d, id, false, false);
	return 0;
}

int drv_layer_lock(struct st_driver *d, const char *id, struct st_error *err)
{
	_cleanup_close_ int dfd = drv_meta_dir(d, "locks", err);
	if (dfd < 0)
		return dfd;
	int fd = st_lock_at(dfd, id, LOCK_EX, err);
	return fd < 0 ? st_error_wrap(err, "layer \"%s\"", id) : fd;
}

int drv_check_id(const char *what, const char *id, struct st_error *err)
{
	if (!st_valid_id(id))
		return st_error_fail(err, EINVAL,
				     "invalid %s \"%s\": use 1-128 of [a-zA-Z0-9_.-], starting with a letter or digit",
				     what, id ? id : "");
	return 0;
}

bool st_drv_exists(struct st_driver *d, const char *id)
{
	struct drv_rec rec;
	struct st_error e;
	return st_valid_id(id) && drv_rec_read(d, id, &rec, &e) == 0 && strcmp(rec.state, "ready") == 0 &&
	       d->ops->exists(d, id);
}

bool st_drv_is_rw(struct st_driver *d, const char *id)
{
	struct drv_rec rec;
	struct st_error e;
	return st_valid_id(id) && drv_rec_read(d, id, &rec, &e) == 0 && rec.rw;
}

int st_drv_parent(struct st_driver *d, const char *id, char *parent, size_t len, struct st_error *err)
{
	struct drv_rec rec;
	int r = drv_check_id("layer id", id, err);
	if (r >= 0)
		r = drv_rec_read(d, id, &rec, err);
	if (r < 0)
		return r;
	snprintf(parent, len, "%s", rec.parent);
	return 0;
}

int st_drv_settled(struct st_driver *d, const char *id, struct timespec *ts)
{
	struct drv_rec rec;
	struct st_error e;
	int r = drv_rec_read(d, id, &rec, &e);
	if (r < 0)
		return r;
	*ts = rec.settled;
	return 0;
}

int drv_child_link(struct st_driver *d, const char *parent, const char *child, bool add,
		   struct st_error *err)
{
	_cleanup_close_ int cfd = drv_meta_dir(d, "children", err);
	if (cfd < 0)
		return cfd;
	if (!add) {
		_cleanup_close_ int pfd = st_open_nofollow(cfd, parent, O_RDONLY | O_DIRECTORY, 0);
		if (pfd >= 0)
			unlinkat(pfd, child, 0);
		unlinkat(cfd, parent, AT_REMOVEDIR); /* fails while other children remain */
		return 0;
	}
	if (mkdirat(cfd, parent, 0700) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "record child of \"%s\"", parent);
	_cleanup_close_ int pfd = st_open_nofollow(cfd, parent, O_RDONLY | O_DIRECTORY, 0);
	if (pfd < 0)
		return st_error_set(err, -pfd, "record child of \"%s\"", parent);
	int fd = openat(pfd, child, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return st_error_set(err, errno, "record child of \"%s\"", parent);
	close(fd);
	return 0;
}

/* Children of id, for the refusal message. */
int drv_children_of(struct st_driver *d, const char *id, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	struct st_error e;
	_cleanup_close_ int cfd = drv_meta_dir(d, "children", &e);
	if (cfd < 0)
		return cfd;
	_cleanup_close_ int pfd = st_open_nofollow(cfd, id, O_RDONLY | O_DIRECTORY, 0);
	if (pfd < 0)
		return pfd == -ENOENT ? 0 : pfd;
	return st_list_dir(pfd, names, n);
}

/* ------------------------------------------------------------ create */

int st_drv_create(struct st_driver *d, const char *id, const char *parent, bool rw,
		  const struct st_kvlist *storage_opt, struct st_error *err)
{
	int r = drv_check_id("layer id", id, err);
	if (r < 0 || (parent && *parent && (r = drv_check_id("parent id", parent, err)) < 0))
		return r;
	if (parent && !*parent)
		parent = NULL;
	char what[160];
	snprintf(what, sizeof(what), "%s: layer \"%s\"", d->ops->name, id);
	if ((r = st_check_options(what, storage_opt, d->ops->layer_options, err)) < 0)
		return r;
	if (!rw && storage_opt && st_kvlist_get(storage_opt, "size"))
		return st_error_fail(err, EINVAL, "%s: size applies to read-write layers only", what);
	int lfd = drv_layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct drv_rec rec;
	struct st_error e2;
	if (drv_rec_read(d, id, &rec, &e2) == 0 || d->ops->exists(d, id)) {
		st_unlock(&lfd);
		return st_error_fail(err, EEXIST, "%s: layer \"%s\" already exists", d->ops->name, id);
	}
	/* the parent's lock while checking it and linking the child: a
	 * removal of the parent (which checks for children under that lock)
	 * either sees the child or has marked the parent as going */
	int plfd = -1;
	if (parent) {
		struct drv_rec prec;
		if ((plfd = drv_layer_lock(d, parent, err)) < 0) {
			st_unlock(&lfd);
			return plfd;
		}
		if (drv_rec_read(d, parent, &prec, err) < 0 || strcmp(prec.state, "ready") != 0) {
			st_unlock(&plfd);
			st_unlock(&lfd);
			return st_error_fail(err, ENOENT, "%s: parent layer \"%s\" does not exist", d->ops->name, parent);
		}
	}
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.parent, sizeof(rec.parent), "%s", parent ? parent : "");
	rec.rw = rw;
	strcpy(rec.state, "creating");
	if ((r = drv_rec_write(d, id, &rec, err)) < 0 ||
	    (parent && (r = drv_child_link(d, parent, id, true, err)) < 0)) {
		st_unlock(&plfd);
		st_unlock(&lfd);
		return r;
	}
	st_unlock(&plfd);
	struct st_create_opts co = {.storage_opt = storage_opt};
	r = rw ? d->ops->create_rw(d, id, parent, &co, err) : d->ops->create(d, id, parent, &co, err);
	if (r < 0) {
		struct st_error ignore;
		_cleanup_close_ int dfd = drv_meta_dir(d, "layers", &ignore);
		if (d->ops->exists(d, id))
			d->ops->remove(d, id, &ignore);
		if (parent)
			drv_child_link(d, parent, id, false, &ignore);
		if (dfd >= 0)
			unlinkat(dfd, id, 0);
		st_unlock(&lfd);
		return r;
	}
	clock_gettime(CLOCK_REALTIME_COARSE, &rec.settled);
	strcpy(rec.state, "ready");
	r = drv_rec_write(d, id, &rec, err);
	st_unlock(&lfd);
	return r;
}

int st_drv_adopt(struct st_driver *d, const char *id, const char *parent, struct st_error *err)
{
	int r = drv_check_id("layer id", id, err);
	if (r < 0 || (parent && (r = drv_check_id("parent id", parent, err)) < 0))
		return r;
	int lfd = drv_layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct drv_rec rec;
	struct st_error e2;
	if (drv_rec_read(d, id, &rec, &e2) == 0) {
		st_unlock(&lfd);
		return 0;
	}
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.parent, sizeof(rec.parent), "%s", parent ? parent : "");
	strcpy(rec.state, "ready");
	clock_gettime(CLOCK_REALTIME_COARSE, &rec.settled);
	if ((r = drv_rec_write(d, id, &rec, err)) >= 0 && parent)
		r = drv_child_link(d, parent, id, true, err);
	st_unlock(&lfd);
	return r;
}
