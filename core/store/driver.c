/* The storage-driver registry and the interface callers use: id and option
 * validation, parent/child records, on-disk mount counts, and the naive
 * diff for drivers without a native one.
 *
 * Bookkeeping lives in <home>/.strata/:
 *   layers/ID      {"parent","rw","state","settled"}  (state: creating|ready|removing)
 *   children/P/C   one empty file per child C of P
 *   mounts/ID      "COUNT MOUNTED PATH"
 *   locks/ID       per-layer flock
 */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "store/store.h"
#include "base/base.h"

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

const char *st_fs_name(int dirfd)
{
	struct statfs sf;
	if (fstatfs(dirfd, &sf) < 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case EXT4_SUPER_MAGIC: return "extfs";
	case BTRFS_SUPER_MAGIC: return "btrfs";
	case TMPFS_MAGIC: return "tmpfs";
	case XFS_SUPER_MAGIC: return "xfs";
	case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
	case 0x01021997: return "v9fs";
	case NFS_SUPER_MAGIC: return "nfs";
	case 0x2fc12fc1: return "zfs";
	case SQUASHFS_MAGIC: return "squashfs";
	case 0x65735546: return "fuse";
	default: return "unknown";
	}
}

bool st_fs_supports_d_type(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	bool ok = true;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_type == DT_UNKNOWN)
			ok = false;
	closedir(d);
	return ok;
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

static int meta_dir(struct st_driver *d, const char *sub, struct st_error *err)
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

struct rec {
	char parent[130];
	bool rw;
	char state[16];
	struct timespec settled;
};

static int rec_read(struct st_driver *d, const char *id, struct rec *rec, struct st_error *err)
{
	memset(rec, 0, sizeof(*rec));
	_cleanup_close_ int dfd = meta_dir(d, "layers", err);
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

static int rec_write(struct st_driver *d, const char *id, const struct rec *rec, struct st_error *err)
{
	_cleanup_close_ int dfd = meta_dir(d, "layers", err);
	if (dfd < 0)
		return dfd;
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object_object_add(o, "parent", json_object_new_string(rec->parent));
	json_object_object_add(o, "rw", json_object_new_boolean(rec->rw));
	json_object_object_add(o, "state", json_object_new_string(rec->state));
	json_object_object_add(o, "settled_sec", json_object_new_int64(rec->settled.tv_sec));
	json_object_object_add(o, "settled_nsec", json_object_new_int64(rec->settled.tv_nsec));
	return st_json_save_at(dfd, id, o, err);
}

static int layer_lock(struct st_driver *d, const char *id, struct st_error *err)
{
	_cleanup_close_ int dfd = meta_dir(d, "locks", err);
	if (dfd < 0)
		return dfd;
	int fd = st_lock_at(dfd, id, LOCK_EX, err);
	return fd < 0 ? st_error_wrap(err, "layer \"%s\"", id) : fd;
}

static int check_id(const char *what, const char *id, struct st_error *err)
{
	if (!st_valid_id(id))
		return st_error_fail(err, EINVAL,
				     "invalid %s \"%s\": use 1-128 of [a-zA-Z0-9_.-], starting with a letter or digit",
				     what, id ? id : "");
	return 0;
}

bool st_drv_exists(struct st_driver *d, const char *id)
{
	struct rec rec;
	struct st_error e;
	return st_valid_id(id) && rec_read(d, id, &rec, &e) == 0 && strcmp(rec.state, "ready") == 0 &&
	       d->ops->exists(d, id);
}

bool st_drv_is_rw(struct st_driver *d, const char *id)
{
	struct rec rec;
	struct st_error e;
	return st_valid_id(id) && rec_read(d, id, &rec, &e) == 0 && rec.rw;
}

int st_drv_parent(struct st_driver *d, const char *id, char *parent, size_t len, struct st_error *err)
{
	struct rec rec;
	int r = check_id("layer id", id, err);
	if (r >= 0)
		r = rec_read(d, id, &rec, err);
	if (r < 0)
		return r;
	snprintf(parent, len, "%s", rec.parent);
	return 0;
}

int st_drv_settled(struct st_driver *d, const char *id, struct timespec *ts)
{
	struct rec rec;
	struct st_error e;
	int r = rec_read(d, id, &rec, &e);
	if (r < 0)
		return r;
	*ts = rec.settled;
	return 0;
}

static int child_link(struct st_driver *d, const char *parent, const char *child, bool add,
		      struct st_error *err)
{
	_cleanup_close_ int cfd = meta_dir(d, "children", err);
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
static int children_of(struct st_driver *d, const char *id, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	struct st_error e;
	_cleanup_close_ int cfd = meta_dir(d, "children", &e);
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
	int r = check_id("layer id", id, err);
	if (r < 0 || (parent && *parent && (r = check_id("parent id", parent, err)) < 0))
		return r;
	if (parent && !*parent)
		parent = NULL;
	char what[160];
	snprintf(what, sizeof(what), "%s: layer \"%s\"", d->ops->name, id);
	if ((r = st_check_options(what, storage_opt, d->ops->layer_options, err)) < 0)
		return r;
	if (!rw && storage_opt && st_kvlist_get(storage_opt, "size"))
		return st_error_fail(err, EINVAL, "%s: size applies to read-write layers only", what);
	int lfd = layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct rec rec;
	struct st_error e2;
	if (rec_read(d, id, &rec, &e2) == 0 || d->ops->exists(d, id)) {
		st_unlock(&lfd);
		return st_error_fail(err, EEXIST, "%s: layer \"%s\" already exists", d->ops->name, id);
	}
	/* the parent's lock while checking it and linking the child: a
	 * removal of the parent (which checks for children under that lock)
	 * either sees the child or has marked the parent as going */
	int plfd = -1;
	if (parent) {
		struct rec prec;
		if ((plfd = layer_lock(d, parent, err)) < 0) {
			st_unlock(&lfd);
			return plfd;
		}
		if (rec_read(d, parent, &prec, err) < 0 || strcmp(prec.state, "ready") != 0) {
			st_unlock(&plfd);
			st_unlock(&lfd);
			return st_error_fail(err, ENOENT, "%s: parent layer \"%s\" does not exist", d->ops->name, parent);
		}
	}
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.parent, sizeof(rec.parent), "%s", parent ? parent : "");
	rec.rw = rw;
	strcpy(rec.state, "creating");
	if ((r = rec_write(d, id, &rec, err)) < 0 ||
	    (parent && (r = child_link(d, parent, id, true, err)) < 0)) {
		st_unlock(&plfd);
		st_unlock(&lfd);
		return r;
	}
	st_unlock(&plfd);
	struct st_create_opts co = {.storage_opt = storage_opt};
	r = rw ? d->ops->create_rw(d, id, parent, &co, err) : d->ops->create(d, id, parent, &co, err);
	if (r < 0) {
		struct st_error ignore;
		_cleanup_close_ int dfd = meta_dir(d, "layers", &ignore);
		if (d->ops->exists(d, id))
			d->ops->remove(d, id, &ignore);
		if (parent)
			child_link(d, parent, id, false, &ignore);
		if (dfd >= 0)
			unlinkat(dfd, id, 0);
		st_unlock(&lfd);
		return r;
	}
	clock_gettime(CLOCK_REALTIME_COARSE, &rec.settled);
	strcpy(rec.state, "ready");
	r = rec_write(d, id, &rec, err);
	st_unlock(&lfd);
	return r;
}

int st_drv_adopt(struct st_driver *d, const char *id, const char *parent, struct st_error *err)
{
	int r = check_id("layer id", id, err);
	if (r < 0 || (parent && (r = check_id("parent id", parent, err)) < 0))
		return r;
	int lfd = layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct rec rec;
	struct st_error e2;
	if (rec_read(d, id, &rec, &e2) == 0) {
		st_unlock(&lfd);
		return 0;
	}
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.parent, sizeof(rec.parent), "%s", parent ? parent : "");
	strcpy(rec.state, "ready");
	clock_gettime(CLOCK_REALTIME_COARSE, &rec.settled);
	if ((r = rec_write(d, id, &rec, err)) >= 0 && parent)
		r = child_link(d, parent, id, true, err);
	st_unlock(&lfd);
	return r;
}

/* ------------------------------------------------------ mount counting */

/* A mount count: users that hold the layer mounted. Most users are
 * persistent (a running container, `strata mount`): their count outlives
 * the process that took it. Transient users (a diff, an export, a copy)
 * are bound to their process: "T pid:start ..." records them, and a use
 * whose process died is dropped (and the layer unmounted when it was the
 * last), so a kill -9 leaves no mount behind. count includes them. */
#define MC_MAX_TRANSIENT 64

struct mc_user {
	pid_t pid;
	int64_t start; /* the process's start time: pids are reused */
};

struct mcount {
	int count;
	int mounted; /* the driver's get made a mount (checked against mountinfo) */
	char path[PATH_MAX];
	struct mc_user t[MC_MAX_TRANSIENT];
	int nt;
};

static int mc_read(int mfd, const char *id, struct mcount *mc)
{
	memset(mc, 0, sizeof(*mc));
	_cleanup_free_ char *text = NULL;
	struct st_error e;
	if (st_read_file_at(mfd, id, &text, NULL, &e) < 0)
		return 0;
	if (sscanf(text, "%d %d %4095[^\n]", &mc->count, &mc->mounted, mc->path) < 2) {
		memset(mc, 0, sizeof(*mc));
		return 0;
	}
	const char *t = strstr(text, "\nT ");
	for (t = t ? t + 3 : NULL; t && *t && *t != '\n' && mc->nt < MC_MAX_TRANSIENT;) {
		int pid, used = 0;
		long long start;
		if (sscanf(t, "%d:%lld%n", &pid, &start, &used) != 2 || used == 0)
			break;
		if (mc->nt < mc->count)
			mc->t[mc->nt++] = (struct mc_user){pid, start};
		t += used;
		while (*t == ' ')
			t++;
	}
	return 0;
}

static int mc_write(int mfd, const char *id, const struct mcount *mc, struct st_error *err)
{
	if (mc->count == 0) {
		if (unlinkat(mfd, id, 0) < 0 && errno != ENOENT)
			return st_error_set(err, errno, "mount count of \"%s\"", id);
		return 0;
	}
	char buf[PATH_MAX + 64 + MC_MAX_TRANSIENT * 32];
	int n = snprintf(buf, sizeof(buf), "%d %d %s\n", mc->count, mc->mounted, mc->path);
	if (mc->nt > 0) {
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "T");
		for (int i = 0; i < mc->nt; i++)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %d:%lld", (int)mc->t[i].pid,
				      (long long)mc->t[i].start);
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\n");
	}
	return st_replace_file_at(mfd, id, buf, (size_t)n, 0600, err);
}

/* Drop the transient users whose process is gone; returns how many. */
static int mc_drop_dead(struct mcount *mc)
{
	int dropped = 0;
	for (int i = 0; i < mc->nt;) {
		if (st_proc_start(mc->t[i].pid) == mc->t[i].start) {
			i++;
			continue;
		}
		mc->t[i] = mc->t[--mc->nt];
		mc->count--;
		dropped++;
	}
	return dropped;
}

/* Under the layer's lock: drop dead transient users; when none is left,
 * unmount (the driver's put) and forget the mount. */
static int mc_reap_locked(struct st_driver *d, int mfd, const char *id, struct mcount *mc)
{
	int before = mc->count;
	if (mc_drop_dead(mc) == 0)
		return 0;
	struct st_error e;
	if (mc->count <= 0 && before > 0) {
		if (!mc->mounted || st_is_mountpoint(mc->path))
			d->ops->put(d, id, &e);
		memset(mc, 0, sizeof(*mc));
	}
	return mc_write(mfd, id, mc, &e);
}

/* Under the layer's lock: reap its dead transient users. */
static void mc_reap_id_locked(struct st_driver *d, const char *id)
{
	struct st_error e;
	_cleanup_close_ int mfd = meta_dir(d, "mounts", &e);
	struct mcount mc;
	if (mfd < 0)
		return;
	mc_read(mfd, id, &mc);
	mc_reap_locked(d, mfd, id, &mc);
}

int st_drv_mount_count(struct st_driver *d, const char *id)
{
	struct st_error e;
	_cleanup_close_ int mfd = meta_dir(d, "mounts", &e);
	struct mcount mc;
	if (mfd < 0 || !st_valid_id(id))
		return 0;
	mc_read(mfd, id, &mc);
	if (mc.count > 0 && mc.mounted && !st_is_mountpoint(mc.path))
		return 0; /* the mount went away (reboot, umount by hand) */
	mc_drop_dead(&mc);
	return mc.count > 0 ? mc.count : 0;
}

static int drv_get(struct st_driver *d, const char *id, char *path, size_t len, bool transient,
		   struct st_error *err)
{
	int r = check_id("layer id", id, err);
	if (r < 0)
		return r;
	int lfd = layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct rec rec;
	_cleanup_close_ int mfd = -1;
	if ((r = rec_read(d, id, &rec, err)) < 0 || (mfd = meta_dir(d, "mounts", err)) < 0) {
		st_unlock(&lfd);
		return r < 0 ? r : mfd;
	}
	if (strcmp(rec.state, "ready") != 0) {
		st_unlock(&lfd);
		return st_error_fail(err, ENOENT, "layer \"%s\" is being %s", id,
				     strcmp(rec.state, "creating") == 0 ? "created" : "removed");
	}
	struct mcount mc;
	mc_read(mfd, id, &mc);
	if (mc.count > 0 && mc.mounted && !st_is_mountpoint(mc.path))
		memset(&mc, 0, sizeof(mc));
	mc_reap_locked(d, mfd, id, &mc);
	if (mc.count == 0) {
		memset(&mc, 0, sizeof(mc));
		r = d->ops->get(d, id, mc.path, sizeof(mc.path), err);
		if (r < 0) {
			st_unlock(&lfd);
			return r;
		}
		mc.mounted = st_is_mountpoint(mc.path);
	}
	mc.count++;
	if (transient && mc.nt < MC_MAX_TRANSIENT)
		mc.t[mc.nt++] = (struct mc_user){getpid(), st_proc_start(getpid())};
	r = mc_write(mfd, id, &mc, err);
	if (r >= 0)
		snprintf(path, len, "%s", mc.path);
	st_unlock(&lfd);
	return r;
}

static int drv_put(struct st_driver *d, const char *id, bool transient, struct st_error *err)
{
	int r = check_id("layer id", id, err);
	if (r < 0)
		return r;
	int lfd = layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	_cleanup_close_ int mfd = meta_dir(d, "mounts", err);
	if (mfd < 0) {
		st_unlock(&lfd);
		return mfd;
	}
	struct mcount mc;
	mc_read(mfd, id, &mc);
	mc_reap_locked(d, mfd, id, &mc);
	if (mc.count <= 0) {
		st_unlock(&lfd);
		return st_error_fail(err, EINVAL, "layer \"%s\" is not mounted", id);
	}
	/* our own transient use, or (a persistent put that finds only
	 * transient users, as when a sweep drains a layer) the oldest */
	int mine = -1;
	pid_t self = getpid();
	for (int i = 0; transient && i < mc.nt && mine < 0; i++)
		if (mc.t[i].pid == self)
			mine = i;
	if (mine < 0 && mc.nt >= mc.count)
		mine = 0;
	if (mine >= 0 && mc.nt > 0) {
		memmove(&mc.t[mine], &mc.t[mine + 1], (size_t)(mc.nt - mine - 1) * sizeof(mc.t[0]));
		mc.nt--;
	}
	mc.count--;
	if (mc.count == 0 && (r = d->ops->put(d, id, err)) < 0) {
		st_unlock(&lfd);
		return r;
	}
	r = mc_write(mfd, id, &mc, err);
	st_unlock(&lfd);
	return r;
}

int st_drv_get(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err)
{
	return drv_get(d, id, path, len, false, err);
}

int st_drv_put(struct st_driver *d, const char *id, struct st_error *err)
{
	return drv_put(d, id, false, err);
}

int st_drv_get_transient(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err)
{
	return drv_get(d, id, path, len, true, err);
}

int st_drv_put_transient(struct st_driver *d, const char *id, struct st_error *err)
{
	return drv_put(d, id, true, err);
}

int st_drv_open_dir(struct st_driver *d, const char *id, int *fd, struct st_error *err)
{
	char path[PATH_MAX];
	int r = st_drv_get_transient(d, id, path, sizeof(path), err);
	if (r < 0)
		return r;
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0) {
		r = st_error_set(err, errno, "open layer \"%s\" at \"%s\"", id, path);
		struct st_error ignore;
		st_drv_put_transient(d, id, &ignore);
		return r;
	}
	return 0;
}

void st_drv_release_dir(struct st_driver *d, const char *id, int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
		struct st_error ignore;
		st_drv_put_transient(d, id, &ignore);
	}
}

/* ------------------------------------------------------------- remove */

/* A removal is marked first, so that a kill midway is finished by the next
 * open: the record says "removing". On a full disk the record cannot be
 * rewritten (a removal is often what frees the space); it is renamed to
 * ".removing-ID" instead, which takes no data space and which recovery
 * finishes the same way. */
static int mark_removing(struct st_driver *d, const char *id, struct rec *rec, bool *renamed, struct st_error *err)
{
	*renamed = false;
	strcpy(rec->state, "removing");
	struct st_error e2 = {0};
	int r = rec_write(d, id, rec, &e2);
	if (r != -ENOSPC && r != -EDQUOT) {
		if (r < 0)
			*err = e2;
		return r;
	}
	_cleanup_close_ int dfd = meta_dir(d, "layers", err);
	char marker[160];
	snprintf(marker, sizeof(marker), ".removing-%s", id);
	if (dfd < 0 || renameat(dfd, id, dfd, marker) < 0) {
		*err = e2;
		return r;
	}
	st_fsync_dir(dfd);
	*renamed = true;
	return 0;
}

/* The data is gone: drop the child link, the mount count and the record. */
static int removed(struct st_driver *d, const char *id, const char *parent, const char *record, struct st_error *err)
{
	struct st_error ignore;
	if (parent[0])
		child_link(d, parent, id, false, &ignore);
	_cleanup_close_ int mfd = meta_dir(d, "mounts", &ignore);
	if (mfd >= 0)
		unlinkat(mfd, id, 0);
	_cleanup_close_ int dfd = meta_dir(d, "layers", err);
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, record, 0) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "remove record of layer \"%s\"", id);
	st_fsync_dir(dfd);
	return 0;
}

static int remove_locked(struct st_driver *d, const char *id, struct rec *rec, struct st_error *err)
{
	bool renamed;
	int r = mark_removing(d, id, rec, &renamed, err);
	if (r < 0)
		return r;
	char marker[160];
	snprintf(marker, sizeof(marker), ".removing-%s", id);
	if (d->ops->exists(d, id) && (r = d->ops->remove(d, id, err)) < 0) {
		/* still there and usable */
		struct st_error ignore;
		_cleanup_close_ int dfd = meta_dir(d, "layers", &ignore);
		if (renamed && dfd >= 0) {
			renameat(dfd, marker, dfd, id); /* its content still says ready */
		} else {
			strcpy(rec->state, "ready");
			rec_write(d, id, rec, &ignore);
		}
		return r;
	}
	return removed(d, id, rec->parent, renamed ? marker : id, err);
}

/* Finish a removal marked by a renamed record (recovery, layer locked). */
static int finish_marked_removal(struct st_driver *d, int dfd, const char *marker, const char *id, struct st_error *err)
{
	_cleanup_json_ json_object *o = NULL;
	struct st_error e2;
	char parent[130] = "";
	if (st_json_load_at(dfd, marker, &o, &e2) == 0)
		snprintf(parent, sizeof(parent), "%s", st_json_str(o, "parent"));
	int r;
	if (d->ops->exists(d, id) && (r = d->ops->remove(d, id, err)) < 0)
		return r;
	return removed(d, id, parent, marker, err);
}

int st_drv_remove(struct st_driver *d, const char *id, struct st_error *err)
{
	int r = check_id("layer id", id, err);
	if (r < 0)
		return r;
	int lfd = layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct rec rec;
	if ((r = rec_read(d, id, &rec, err)) < 0) {
		st_unlock(&lfd);
		return r;
	}
	mc_reap_id_locked(d, id);
	int mc = st_drv_mount_count(d, id);
	if (mc > 0) {
		st_unlock(&lfd);
		return st_error_fail(err, EBUSY, "layer \"%s\" is mounted (%d user%s): unmount it first", id, mc,
				     mc == 1 ? "" : "s");
	}
	char **kids;
	size_t nk;
	children_of(d, id, &kids, &nk);
	if (nk > 0) {
		r = st_error_fail(err, EBUSY, "layer \"%s\" has %zu child layer%s (%s%s): remove them first", id, nk,
				  nk == 1 ? "" : "s", kids[0], nk > 1 ? ", ..." : "");
		st_strv_free(kids, nk);
		st_unlock(&lfd);
		return r;
	}
	st_strv_free(kids, nk);
	r = remove_locked(d, id, &rec, err);
	/* the lock file goes with the layer */
	struct st_error ignore;
	_cleanup_close_ int kfd = meta_dir(d, "locks", &ignore);
	if (r >= 0 && kfd >= 0)
		unlinkat(kfd, id, 0);
	st_unlock(&lfd);
	return r;
}

int st_drv_list(struct st_driver *d, char ***ids, size_t *n, struct st_error *err)
{
	_cleanup_close_ int dfd = meta_dir(d, "layers", err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t nn;
	int r = st_list_dir(dfd, &names, &nn);
	if (r < 0)
		return st_error_set(err, -r, "list layers in \"%s\"", d->home);
	*ids = NULL;
	*n = 0;
	for (size_t i = 0; i < nn && r >= 0; i++)
		if (st_valid_id(names[i]) && st_drv_exists(d, names[i]))
			r = st_strv_push(ids, n, names[i]);
	st_strv_free(names, nn);
	return r < 0 ? st_error_set(err, ENOMEM, "list layers") : 0;
}

/* ".tmp-ID-RANDOM" (st_atomic_write_at's temporary name) -> ID */
static bool tmp_record_id(const char *name, char *id, size_t len)
{
	const char *dash = strrchr(name, '-');
	if (!st_str_has_prefix(name, ".tmp-") || !dash || dash <= name + 5 || strlen(dash + 1) != 16)
		return false;
	snprintf(id, len, "%.*s", (int)(dash - name - 5), name + 5);
	return st_valid_id(id);
}

/* Nobody holds the layer's lock (a missing lock file is free too; no lock
 * file is created). */
static bool lock_is_free(int kfd, const char *id)
{
	struct stat st;
	if (fstatat(kfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return true;
	struct st_error e;
	int fd = st_trylock_at(kfd, id, LOCK_EX, &e);
	if (fd == -EWOULDBLOCK)
		return false;
	st_unlock(&fd);
	return true;
}

int st_drv_recover(struct st_driver *d, struct st_error *err)
{
	_cleanup_close_ int dfd = meta_dir(d, "layers", err);
	_cleanup_close_ int kfd = meta_dir(d, "locks", err);
	if (dfd < 0 || kfd < 0)
		return dfd < 0 ? dfd : kfd;
	char **names;
	size_t n;
	int r = st_list_dir(dfd, &names, &n);
	if (r < 0)
		return st_error_set(err, -r, "list layers in \"%s\"", d->home);
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (st_str_has_prefix(names[i], ".removing-") && st_valid_id(names[i] + 10)) {
			struct st_error e2;
			int lfd = st_trylock_at(kfd, names[i] + 10, LOCK_EX, &e2);
			if (lfd < 0)
				continue;
			finish_marked_removal(d, dfd, names[i], names[i] + 10, &e2); /* busy: the next open retries */
			st_unlock(&lfd);
			continue;
		}
		if (st_str_has_prefix(names[i], ".tmp-")) {
			/* a record's temporary file: another process may be writing
			 * it under the layer's lock right now */
			char id[160];
			if (!tmp_record_id(names[i], id, sizeof(id)) || lock_is_free(kfd, id))
				unlinkat(dfd, names[i], 0);
			continue;
		}
		if (!st_valid_id(names[i]))
			continue;
		int lfd = st_trylock_at(kfd, names[i], LOCK_EX, err);
		if (lfd < 0)
			continue; /* someone is working on it */
		struct rec rec;
		struct st_error e2;
		if (rec_read(d, names[i], &rec, &e2) == 0 && strcmp(rec.state, "ready") != 0)
			r = remove_locked(d, names[i], &rec, err);
		st_unlock(&lfd);
	}
	st_strv_free(names, n);
	/* mounts that killed processes used for a moment */
	_cleanup_close_ int mfd = meta_dir(d, "mounts", err);
	if (r < 0 || mfd < 0 || st_list_dir(mfd, &names, &n) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (!st_valid_id(names[i]))
			continue;
		struct st_error e2;
		int lfd = st_trylock_at(kfd, names[i], LOCK_EX, &e2);
		if (lfd < 0)
			continue;
		mc_reap_id_locked(d, names[i]);
		st_unlock(&lfd);
	}
	st_strv_free(names, n);
	return r;
}

/* ------------------------------------------------- for system check */

int st_drv_record_get(struct st_driver *d, const char *id, struct st_drv_record *out, struct st_error *err)
{
	memset(out, 0, sizeof(*out));
	int r = check_id("layer id", id, err);
	if (r < 0)
		return r;
	struct rec rec;
	if ((r = rec_read(d, id, &rec, err)) < 0)
		return r;
	snprintf(out->parent, sizeof(out->parent), "%s", rec.parent);
	snprintf(out->state, sizeof(out->state), "%s", rec.state);
	out->rw = rec.rw;
	out->data = d->ops->exists(d, id);
	_cleanup_close_ int kfd = meta_dir(d, "locks", err);
	out->busy = kfd >= 0 && !lock_is_free(kfd, id);
	return 0;
}

int st_drv_mount_record(struct st_driver *d, const char *id, int *count, bool *mounted, char *path, size_t len)
{
	struct st_error e;
	_cleanup_close_ int mfd = meta_dir(d, "mounts", &e);
	if (mfd < 0 || !st_valid_id(id))
		return -ENOENT;
	struct stat st;
	if (fstatat(mfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	struct mcount mc;
	mc_read(mfd, id, &mc);
	*count = mc.count;
	*mounted = mc.mounted;
	snprintf(path, len, "%s", mc.path);
	return 0;
}

int st_drv_record_ids(struct st_driver *d, const char *what, char ***ids, size_t *n, struct st_error *err)
{
	*ids = NULL;
	*n = 0;
	_cleanup_close_ int dfd = meta_dir(d, what, err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t nn;
	int r = st_list_dir(dfd, &names, &nn);
	if (r < 0)
		return st_error_set(err, -r, "list \"%s/.strata/%s\"", d->home, what);
	for (size_t i = 0; i < nn && r >= 0; i++)
		if (st_valid_id(names[i]))
			r = st_strv_push(ids, n, names[i]);
	st_strv_free(names, nn);
	return r < 0 ? st_error_set(err, ENOMEM, "list layers") : 0;
}

int st_drv_children(struct st_driver *d, const char *id, char ***kids, size_t *n)
{
	return children_of(d, id, kids, n);
}

int st_drv_child_link(struct st_driver *d, const char *parent, const char *child, bool add, struct st_error *err)
{
	int r = check_id("layer id", parent, err);
	if (r < 0 || (r = check_id("layer id", child, err)) < 0)
		return r;
	return child_link(d, parent, child, add, err);
}

int st_drv_mount_reset(struct st_driver *d, const char *id, struct st_error *err)
{
	int r = check_id("layer id", id, err);
	if (r < 0)
		return r;
	int lfd = layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	_cleanup_close_ int mfd = meta_dir(d, "mounts", err);
	struct rec rec;
	struct st_error e2;
	struct mcount mc;
	if (mfd < 0) {
		st_unlock(&lfd);
		return mfd;
	}
	mc_read(mfd, id, &mc);
	if (mc.mounted && st_is_mountpoint(mc.path)) {
		if (rec_read(d, id, &rec, &e2) == 0 && d->ops->exists(d, id))
			r = d->ops->put(d, id, err);
		else if (umount2(mc.path, MNT_DETACH) < 0)
			r = st_error_set(err, errno, "unmount \"%s\"", mc.path);
	}
	if (r >= 0 && unlinkat(mfd, id, 0) < 0 && errno != ENOENT)
		r = st_error_set(err, errno, "mount count of \"%s\"", id);
	st_unlock(&lfd);
	return r;
}

/* ------------------------------------------------------- diff dispatch */

static const char *default_parent(struct st_driver *d, const char *id, const char *parent, char *buf,
				  size_t len)
{
	if (parent)
		return *parent ? parent : NULL;
	struct st_error e;
	if (st_drv_parent(d, id, buf, len, &e) < 0 || !buf[0])
		return NULL;
	return buf;
}

static int check_layers(struct st_driver *d, const char *id, const char *parent, struct st_error *err)
{
	int r = check_id("layer id", id, err);
	if (r < 0 || (parent && (r = check_id("parent id", parent, err)) < 0))
		return r;
	if (!st_drv_exists(d, id))
		return st_error_fail(err, ENOENT, "%s: layer \"%s\" does not exist", d->ops->name, id);
	if (parent && !st_drv_exists(d, parent))
		return st_error_fail(err, ENOENT, "%s: layer \"%s\" does not exist", d->ops->name, parent);
	return 0;
}

int st_drv_diff(struct st_driver *d, const char *id, const char *parent, struct st_writer *out,
		struct st_error *err)
{
	char pbuf[130];
	parent = default_parent(d, id, parent, pbuf, sizeof(pbuf));
	int r = check_layers(d, id, parent, err);
	if (r < 0)
		return r;
	return d->ops->diff ? d->ops->diff(d, id, parent, out, err) : st_naive_diff(d, id, parent, out, err);
}

int st_drv_changes(struct st_driver *d, const char *id, const char *parent, struct st_changes *out,
		   struct st_error *err)
{
	char pbuf[130];
	parent = default_parent(d, id, parent, pbuf, sizeof(pbuf));
	int r = check_layers(d, id, parent, err);
	if (r < 0)
		return r;
	return d->ops->changes ? d->ops->changes(d, id, parent, out, err)
			       : st_naive_changes(d, id, parent, out, err);
}

int64_t st_drv_diff_size(struct st_driver *d, const char *id, const char *parent, struct st_error *err)
{
	char pbuf[130];
	parent = default_parent(d, id, parent, pbuf, sizeof(pbuf));
	int r = check_layers(d, id, parent, err);
	if (r < 0)
		return r;
	return d->ops->diff_size ? d->ops->diff_size(d, id, parent, err) : st_naive_diff_size(d, id, parent, err);
}

int64_t st_drv_apply_in(struct st_driver *d, const char *id, const char *parent, struct st_tar_in *in,
			struct st_error *err)
{
	char pbuf[130];
	parent = default_parent(d, id, parent, pbuf, sizeof(pbuf));
	int r = check_layers(d, id, parent, err);
	if (r < 0)
		return r;
	int64_t n = d->ops->apply_diff ? d->ops->apply_diff(d, id, parent, in, err)
				       : st_naive_apply(d, id, parent, in, err);
	return n < 0 ? st_error_wrap(err, "apply to layer \"%s\"", id) : n;
}

int64_t st_drv_apply(struct st_driver *d, const char *id, const char *parent, struct st_reader *src,
		     struct st_error *err)
{
	struct st_tar_in in;
	int r = st_tar_in_init(&in, src, err);
	if (r < 0)
		return r;
	int64_t n = st_drv_apply_in(d, id, parent, &in, err);
	st_tar_in_free(&in);
	return n;
}

int st_drv_commit(struct st_driver *d, const char *id, struct st_error *err)
{
	int r = check_id("layer id", id, err);
	if (r < 0)
		return r;
	int lfd = layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct rec rec;
	if ((r = rec_read(d, id, &rec, err)) < 0)
		goto out;
	if (!rec.rw)
		goto out;
	mc_reap_id_locked(d, id);
	if (st_drv_mount_count(d, id) > 0) {
		r = st_error_fail(err, EBUSY, "layer \"%s\" is mounted: unmount it before commit", id);
		goto out;
	}
	if (d->ops->commit && (r = d->ops->commit(d, id, err)) < 0)
		goto out;
	rec.rw = false;
	r = rec_write(d, id, &rec, err);
out:
	st_unlock(&lfd);
	return r;
}

int st_drv_tidy(struct st_driver *d, const char *id, struct st_error *err)
{
	int r = check_id("layer id", id, err);
	if (r < 0 || !d->ops->tidy)
		return r;
	int lfd = layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct rec rec;
	if ((r = rec_read(d, id, &rec, err)) >= 0 && rec.rw) {
		mc_reap_id_locked(d, id);
		if (st_drv_mount_count(d, id) == 0)
			r = d->ops->tidy(d, id, err);
	}
	st_unlock(&lfd);
	return r;
}

int st_drv_status(struct st_driver *d, struct st_kvlist *out)
{
	st_kvlist_add(out, "Backing Filesystem", "%s", st_fs_name(d->home_fd));
	st_kvlist_add(out, "Supports d_type", "%s", st_fs_supports_d_type(d->home_fd) ? "true" : "false");
	return d->ops->status ? d->ops->status(d, out) : 0;
}

/* ---------------------------------------------------------- naive diff */

struct pair {
	int layer, parent;
	struct timespec settled;
	bool has_settled;
};

static int open_pair(struct st_driver *d, const char *id, const char *parent, struct pair *p,
		     struct st_error *err)
{
	p->layer = p->parent = -1;
	int r = st_drv_open_dir(d, id, &p->layer, err);
	if (r < 0)
		return r;
	if (parent && (r = st_drv_open_dir(d, parent, &p->parent, err)) < 0) {
		st_drv_release_dir(d, id, &p->layer);
		return r;
	}
	p->has_settled = st_drv_settled(d, id, &p->settled) == 0 && p->settled.tv_sec > 0;
	return 0;
}

static void close_pair(struct st_driver *d, const char *id, const char *parent, struct pair *p)
{
	st_drv_release_dir(d, id, &p->layer);
	if (parent)
		st_drv_release_dir(d, parent, &p->parent);
}

int st_naive_changes(struct st_driver *d, const char *id, const char *parent, struct st_changes *out,
		     struct st_error *err)
{
	struct pair p;
	int r = open_pair(d, id, parent, &p, err);
	if (r < 0)
		return r;
	r = st_changes_compute(p.layer, p.parent, p.has_settled ? &p.settled : NULL, out, err);
	close_pair(d, id, parent, &p);
	return r;
}

int st_naive_diff(struct st_driver *d, const char *id, const char *parent, struct st_writer *out,
		  struct st_error *err)
{
	struct pair p;
	int r = open_pair(d, id, parent, &p, err);
	if (r < 0)
		return r;
	if (!parent) {
		r = st_archive_write_tree(p.layer, d->ops->whiteouts, out, err);
	} else {
		struct st_changes c = {0};
		r = st_changes_compute(p.layer, p.parent, p.has_settled ? &p.settled : NULL, &c, err);
		if (r >= 0)
			r = st_archive_write_changes(p.layer, &c, out, err);
		st_changes_free(&c);
	}
	close_pair(d, id, parent, &p);
	return r;
}

int64_t st_naive_diff_size(struct st_driver *d, const char *id, const char *parent, struct st_error *err)
{
	struct pair p;
	int r = open_pair(d, id, parent, &p, err);
	if (r < 0)
		return r;
	int64_t n;
	if (!parent) {
		n = st_tree_size(p.layer, err);
	} else {
		struct st_changes c = {0};
		n = st_changes_compute(p.layer, p.parent, p.has_settled ? &p.settled : NULL, &c, err);
		if (n >= 0)
			n = st_changes_size(p.layer, &c, err);
		st_changes_free(&c);
	}
	close_pair(d, id, parent, &p);
	return n;
}

int64_t st_naive_apply(struct st_driver *d, const char *id, const char *parent, struct st_tar_in *in,
		       struct st_error *err)
{
	(void)parent;
	int fd = -1;
	int r = st_drv_open_dir(d, id, &fd, err);
	if (r < 0)
		return r;
	struct st_apply_opts o = {.wh = d->ops->whiteouts};
	int64_t n = st_archive_apply(fd, in, &o, err);
	st_drv_release_dir(d, id, &fd);
	return n;
}
