/* strata system check [--repair].
 *
 * A scan compares every part of the store with what it names: the driver's
 * per-layer records with the driver's data, child links and mount counts
 * (and those with /proc/self/mountinfo); layer records with their driver
 * layers, parents and holders; images, tags, containers and build cache
 * entries with the layers they need; volumes' users with the containers.
 * Each problem carries its repair. With repair, rounds of "repair, scan
 * again" run until the scan is clean (or stops improving).
 *
 * Work of live processes is never a problem: anything a live lease claims
 * (driver layers being made, layers being read, holders "lease:NAME") and
 * anything whose lock is held is left alone; the store lock is held for the
 * whole check, so nothing is published or removed meanwhile. */
#include <fcntl.h>
#include <libmount/libmount.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "builder/builder.h"
#include "system/system.h"
#include "container/container.h"
#include "base/base.h"
#include "store/store.h"

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

static void add(struct ck *c, int fix, const char *a, const char *b, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void add(struct ck *c, int fix, const char *a, const char *b, const char *what, const char *fmt, ...)
{
	struct st_check_problem *nv = realloc(c->v, (c->n + 1) * sizeof(*nv));
	if (!nv) {
		c->oom = true;
		return;
	}
	c->v = nv;
	struct st_check_problem *p = &c->v[c->n++];
	memset(p, 0, sizeof(*p));
	snprintf(p->what, sizeof(p->what), "%s", what);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	p->fix = fix;
	snprintf(p->a, sizeof(p->a), "%s", a ? a : "");
	snprintf(p->b, sizeof(p->b), "%s", b ? b : "");
	p->state = fix == FIX_NONE ? ST_CHECK_MANUAL : ST_CHECK_FOUND;
}

static void ck_free(struct ck *c)
{
	free(c->v);
	st_layer_list_free(c->layers, c->nlayers);
	st_strv_free(c->drv, c->ndrv);
	st_cache_entries_free(c->cache, c->ncache);
	memset(c, 0, sizeof(*c));
}

static const struct st_layer *find_layer(struct ck *c, const char *chain)
{
	for (size_t i = 0; i < c->nlayers; i++)
		if (strcmp(c->layers[i].chain_id, chain) == 0)
			return &c->layers[i];
	return NULL;
}

static const struct st_layer *layer_by_cache(struct ck *c, const char *cache)
{
	for (size_t i = 0; i < c->nlayers; i++)
		if (strcmp(c->layers[i].cache_id, cache) == 0)
			return &c->layers[i];
	return NULL;
}

static bool has_holder(const struct st_layer *l, const char *holder)
{
	for (size_t i = 0; i < l->nholders; i++)
		if (strcmp(l->holders[i], holder) == 0)
			return true;
	return false;
}

/* Entries of a store subdirectory ("" for the root). */
static int list_sub(struct ck *c, const char *sub, int *dfd, char ***names, size_t *n, struct st_error *err)
{
	*names = NULL;
	*n = 0;
	*dfd = sub[0] ? st_store_subdir(c->s, sub, err) : dup(c->s->root_fd);
	if (*dfd < 0)
		return *dfd < 0 && !sub[0] ? st_error_set(err, errno, "store root") : *dfd;
	int r = st_list_dir(*dfd, names, n);
	if (r < 0) {
		close(*dfd);
		*dfd = -1;
		return st_error_set(err, -r, "list \"%s/%s\"", c->s->root, sub);
	}
	return 0;
}

static bool exists_at(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Leftovers of atomic writes (".tmp-NAME-RANDOM") in a directory that is
 * only written under the store lock. */
static void leftover_temps(struct ck *c, const char *sub, int dfd, char **names, size_t n)
{
	(void)dfd;
	char what[200];
	snprintf(what, sizeof(what), "\"%s/%s\"", c->s->root, sub);
	for (size_t i = 0; i < n; i++)
		if (st_str_has_prefix(names[i], ".tmp-") || st_str_has_prefix(names[i], ".trash-"))
			add(c, FIX_RM_AT, sub, names[i], what, "%s is left over from an interrupted write", names[i]);
}

/* ------------------------------------------------------------ driver */

static bool drv_has(struct ck *c, const char *id)
{
	for (size_t i = 0; i < c->ndrv; i++)
		if (strcmp(c->drv[i], id) == 0)
			return true;
	return false;
}

static void scan_driver_records(struct ck *c)
{
	char what[200];
	for (size_t i = 0; i < c->ndrv; i++) {
		const char *id = c->drv[i];
		struct st_drv_record rec;
		struct st_error e;
		if (st_drv_record_get(c->d, id, &rec, &e) < 0 || rec.busy)
			continue;
		snprintf(what, sizeof(what), "driver layer %s", id);
		if (strcmp(rec.state, "ready") != 0) {
			add(c, FIX_DRV_FINISH, id, NULL, what, "was left %s by a killed process",
			    strcmp(rec.state, "creating") == 0 ? "half created" : "half removed");
			continue;
		}
		if (!rec.data)
			add(c, layer_by_cache(c, id) || st_container_owns_driver_layer(c->s, id) ? FIX_NONE : FIX_DRV_ORPHAN,
			    id, NULL, what, "has a record but the %s driver has no such layer", c->d->ops->name);
		if (rec.parent[0]) {
			struct st_drv_record prec;
			if (st_drv_record_get(c->d, rec.parent, &prec, &e) < 0)
				add(c, FIX_NONE, NULL, NULL, what, "its parent driver layer %s does not exist", rec.parent);
			char **kids;
			size_t nk;
			bool linked = false;
			if (st_drv_children(c->d, rec.parent, &kids, &nk) == 0) {
				for (size_t k = 0; k < nk; k++)
					linked |= strcmp(kids[k], id) == 0;
				st_strv_free(kids, nk);
			}
			if (!linked)
				add(c, FIX_CHILD_ADD, rec.parent, id, what,
				    "is not recorded as a child of %s (which could then be removed from under it)", rec.parent);
		}
	}
	/* child links naming layers that are gone or have another parent */
	char **parents;
	size_t np;
	struct st_error e;
	if (st_drv_record_ids(c->d, "children", &parents, &np, &e) < 0)
		return;
	for (size_t i = 0; i < np; i++) {
		char **kids;
		size_t nk;
		if (st_drv_children(c->d, parents[i], &kids, &nk) < 0)
			continue;
		for (size_t k = 0; k < nk; k++) {
			struct st_drv_record rec;
			if (st_drv_record_get(c->d, kids[k], &rec, &e) == 0 &&
			    (rec.busy || strcmp(rec.parent, parents[i]) == 0))
				continue;
			snprintf(what, sizeof(what), "driver layer %s", parents[i]);
			add(c, FIX_CHILD_DROP, parents[i], kids[k], what,
			    "has a stale child record for %s (it blocks the removal)", kids[k]);
		}
		st_strv_free(kids, nk);
	}
	st_strv_free(parents, np);
}

/* Mount counts against the driver records and /proc/self/mountinfo. */
static void scan_mounts(struct ck *c, struct st_container *cts, size_t ncts)
{
	char what[200];
	char **ids;
	size_t n;
	struct st_error e;
	char **paths = NULL;
	size_t npaths = 0;
	if (st_drv_record_ids(c->d, "mounts", &ids, &n, &e) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		int count;
		bool mounted;
		char path[PATH_MAX];
		if (st_drv_mount_record(c->d, ids[i], &count, &mounted, path, sizeof(path)) < 0)
			continue;
		struct st_drv_record rec;
		if (st_drv_record_get(c->d, ids[i], &rec, &e) == 0 && rec.busy)
			continue;
		snprintf(what, sizeof(what), "driver layer %s", ids[i]);
		st_strv_push(&paths, &npaths, path);
		bool live_mount = mounted && st_is_mountpoint(path);
		if (!drv_has(c, ids[i])) {
			add(c, FIX_MOUNT_RESET, ids[i], NULL, what, "has a mount count (%d) but no record%s", count,
			    live_mount ? ", and is still mounted" : "");
		} else if (mounted && !live_mount) {
			add(c, FIX_MOUNT_RESET, ids[i], NULL, what, "counts %d user%s of a mount at \"%s\" that is gone",
			    count, count == 1 ? "" : "s", path);
		} else if (count > 0) {
			/* who may hold it: a running container its layer, a live
			 * operation (under a lease) anything; `strata mount` a
			 * stopped container's layer */
			bool container = false, running = false;
			for (size_t k = 0; k < ncts; k++)
				if (strcmp(cts[k].rw_layer, ids[i]) == 0) {
					container = true;
					running = cts[k].status == ST_CT_RUNNING;
				}
			if (!container && c->live == 0)
				add(c, FIX_MOUNT_RESET, ids[i], "idle", what,
				    "is mounted (%d user%s) but no strata operation is running", count, count == 1 ? "" : "s");
			(void)running;
		}
	}
	st_strv_free(ids, n);
	/* mounts below the driver's home that no count accounts for */
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	char home[PATH_MAX];
	if (!realpath(c->d->home, home))
		snprintf(home, sizeof(home), "%s", c->d->home);
	size_t hl = strlen(home);
	while (tb && it && mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *t = mnt_fs_get_target(fs);
		if (!t || strncmp(t, home, hl) != 0 || t[hl] != '/')
			continue;
		/* a mount of a layer's directory (a path component names a
		 * layer); other mounts are the driver's own */
		char id[160] = "";
		for (const char *q = t + hl + 1; *q && !id[0];) {
			size_t cl = strcspn(q, "/");
			char comp[160];
			snprintf(comp, sizeof(comp), "%.*s", (int)(cl < sizeof(comp) ? cl : sizeof(comp) - 1), q);
			if (st_valid_id(comp) && drv_has(c, comp))
				snprintf(id, sizeof(id), "%s", comp);
			q += cl;
			while (*q == '/')
				q++;
		}
		if (!id[0])
			continue;
		bool known = false;
		for (size_t i = 0; i < npaths && !known; i++) {
			char real[PATH_MAX];
			known = strcmp(paths[i], t) == 0 || (realpath(paths[i], real) && strcmp(real, t) == 0);
		}
		struct st_drv_record rec;
		if (known || (st_drv_record_get(c->d, id, &rec, &e) == 0 && rec.busy))
			continue;
		snprintf(what, sizeof(what), "mount \"%s\"", t);
		add(c, FIX_UMOUNT, t, NULL, what, "is not counted by any layer (left by a killed process)");
	}
	mnt_free_iter(it);
	mnt_unref_table(tb);
	st_strv_free(paths, npaths);
}

/* ------------------------------------------------------------ layers */

static bool image_exists(struct ck *c, const char *id, char top[ST_DIGEST_LEN + 1])
{
	struct st_image img;
	struct st_error e;
	if (!st_valid_digest(id) || st_image_get(c->s, id, &img, &e) < 0)
		return false;
	snprintf(top, ST_DIGEST_LEN + 1, "%s", img.top);
	st_image_free(&img);
	return true;
}

/* Is a holder of layer l backed by what it names? */
static bool holder_ok(struct ck *c, const struct st_layer *l, const char *h, int cfd, char *why, size_t len)
{
	if (st_str_has_prefix(h, "image:")) {
		char top[ST_DIGEST_LEN + 1];
		if (!image_exists(c, h + 6, top))
			snprintf(why, len, "names an image that does not exist");
		else if (strcmp(top, l->chain_id) != 0)
			snprintf(why, len, "names an image whose top layer is %s", top[0] ? top : "none");
		else
			return true;
		return false;
	}
	if (st_str_has_prefix(h, "container:")) {
		char trash[160];
		snprintf(trash, sizeof(trash), ".trash-%s", h + 10);
		if (st_valid_id(h + 10) && cfd >= 0 && (exists_at(cfd, h + 10) || exists_at(cfd, trash)))
			return true; /* a renamed one is reported (and finished) as a container */
		snprintf(why, len, "names a container that does not exist");
		return false;
	}
	if (st_str_has_prefix(h, "cache:")) {
		for (size_t i = 0; i < c->ncache; i++)
			if (strcmp(c->cache[i].key + 7, h + 6) == 0) {
				if (strcmp(c->cache[i].top, l->chain_id) == 0)
					return true;
				snprintf(why, len, "names a build cache entry whose layer is %s",
					 c->cache[i].top[0] ? c->cache[i].top : "none");
				return false;
			}
		snprintf(why, len, "names a build cache entry that does not exist");
		return false;
	}
	if (st_str_has_prefix(h, "lease:")) {
		if (st_lease_alive(c->s, h + 6))
			return true;
		snprintf(why, len, "belongs to an operation that is no longer running");
		return false;
	}
	return true; /* "user" and names of embedders */
}

static void scan_layers(struct ck *c)
{
	int dfd;
	char **names;
	size_t n;
	struct st_error e;
	char what[200];
	if (list_sub(c, "layers", &dfd, &names, &n, &e) < 0)
		return;
	_cleanup_close_ int cfd = st_store_subdir(c->s, "containers", &e);
	for (size_t i = 0; i < n; i++) {
		const char *nm = names[i];
		if (st_str_has_prefix(nm, ".tmp-")) {
			if (!st_lease_claims_driver_layer(c->s, nm + 5))
				add(c, FIX_LAYERS_RECOVER, NULL, NULL, "layer store",
				    "\"%s\" is a layer left half made by a killed process", nm);
			continue;
		}
		if (st_str_has_prefix(nm, ".trash-")) {
			add(c, FIX_LAYERS_RECOVER, NULL, NULL, "layer store",
			    "\"%s\" is a layer whose removal was cut short (its driver layer may still be busy)", nm);
			continue;
		}
		if (nm[0] == '.')
			continue;
		char chain[ST_DIGEST_LEN + 8];
		snprintf(chain, sizeof(chain), "sha256:%s", nm);
		snprintf(what, sizeof(what), "layer %s", chain);
		struct st_layer l;
		if (st_layer_get(c->s, chain, &l, &e) < 0) {
			add(c, FIX_RECORD_REMOVE, "layers", nm, what, "its record is unreadable: %s", e.msg);
			continue;
		}
		char want[ST_DIGEST_LEN + 1];
		st_chain_id(l.parent, l.diff_id, want);
		if (strcmp(l.chain_id, chain) != 0 || strcmp(want, chain) != 0)
			add(c, FIX_NONE, NULL, NULL, what,
			    "its record names chain id %s (diff id %s on parent %s): it does not match its name", l.chain_id,
			    l.diff_id, l.parent[0] ? l.parent : "none");
		st_layer_free(&l);
	}
	st_strv_free(names, n);

	for (size_t i = 0; i < c->nlayers; i++) {
		const struct st_layer *l = &c->layers[i];
		snprintf(what, sizeof(what), "layer %s", l->chain_id);
		const struct st_layer *p = NULL;
		if (l->parent[0] && !(p = find_layer(c, l->parent)))
			add(c, FIX_NONE, NULL, NULL, what, "its parent layer %s does not exist", l->parent);
		struct st_drv_record rec;
		if (st_drv_record_get(c->d, l->cache_id, &rec, &e) < 0) {
			add(c, FIX_NONE, NULL, NULL, what, "its driver layer %s does not exist: its data is lost", l->cache_id);
		} else if (!rec.busy) {
			if (!rec.data)
				add(c, FIX_NONE, NULL, NULL, what, "the %s driver has no data for its layer %s",
				    c->d->ops->name, l->cache_id);
			if (p && strcmp(rec.parent, p->cache_id) != 0)
				add(c, FIX_NONE, NULL, NULL, what,
				    "its driver layer %s stands on %s, but its parent layer's is %s", l->cache_id,
				    rec.parent[0] ? rec.parent : "nothing", p->cache_id);
			if (!l->parent[0] && rec.parent[0])
				add(c, FIX_NONE, NULL, NULL, what, "has no parent, but its driver layer %s stands on %s",
				    l->cache_id, rec.parent);
			if (rec.rw && strcmp(rec.state, "ready") == 0)
				add(c, FIX_DRV_COMMIT, l->cache_id, NULL, what, "its driver layer %s is still writable",
				    l->cache_id);
		}
		if (l->tar_split && dfd >= 0) {
			char p2[256];
			snprintf(p2, sizeof(p2), "%s/tar-split.gz", l->chain_id + 7);
			if (!exists_at(dfd, p2))
				add(c, FIX_NONE, NULL, NULL, what,
				    "its tar-split record is missing: its tar cannot be given back byte for byte");
		}
		for (size_t k = 0; k < l->nholders; k++) {
			char why[200];
			if (!holder_ok(c, l, l->holders[k], cfd, why, sizeof(why)))
				add(c, FIX_LAYER_RELEASE, l->chain_id, l->holders[k], what, "holder \"%s\" %s",
				    l->holders[k], why);
		}
		bool child = false;
		for (size_t k = 0; k < c->nlayers && !child; k++)
			child = strcmp(c->layers[k].parent, l->chain_id) == 0;
		if (l->nholders == 0 && !child && !st_lease_holds(c->s, l->chain_id))
			add(c, FIX_LAYER_UNUSED, l->chain_id, NULL, what, "nothing holds it, yet it was not removed");
	}
	if (dfd >= 0)
		close(dfd);
}

/* Driver layers that no layer, container or live operation accounts for. */
static void scan_orphans(struct ck *c)
{
	char what[200];
	for (size_t i = 0; i < c->ndrv; i++) {
		const char *id = c->drv[i];
		struct st_drv_record rec;
		struct st_error e;
		if (st_drv_record_get(c->d, id, &rec, &e) < 0 || rec.busy || strcmp(rec.state, "ready") != 0 || !rec.data)
			continue;
		if (layer_by_cache(c, id) || st_container_owns_driver_layer(c->s, id) ||
		    st_lease_claims_driver_layer(c->s, id))
			continue;
		snprintf(what, sizeof(what), "driver layer %s", id);
		add(c, FIX_DRV_ORPHAN, id, NULL, what,
		    "belongs to no layer, container or running operation (orphaned data)");
	}
}

/* ------------------------------------------------------------ images */

static void scan_images(struct ck *c)
{
	int dfd;
	char **names;
	size_t n;
	struct st_error e;
	char what[200];
	if (list_sub(c, "images", &dfd, &names, &n, &e) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *nm = names[i];
		if (nm[0] == '.') {
			if (st_str_has_prefix(nm, ".tmp-") || st_str_has_prefix(nm, ".trash-"))
				add(c, FIX_RM_AT, "images", nm, "image store",
				    "\"%s\" is an image left half %s by a killed process", nm,
				    nm[1] == 't' && nm[2] == 'm' ? "made" : "removed");
			continue;
		}
		c->nimages++;
		char id[ST_DIGEST_LEN + 8];
		snprintf(id, sizeof(id), "sha256:%s", nm);
		snprintf(what, sizeof(what), "image %s", id);
		char p[256];
		snprintf(p, sizeof(p), "%s/config.json", nm);
		_cleanup_free_ char *cfg = NULL;
		size_t len;
		if (st_read_file_at(dfd, p, &cfg, &len, &e) < 0) {
			add(c, FIX_RECORD_REMOVE, "images", nm, what, "its config is unreadable: %s", e.msg);
			continue;
		}
		char got[ST_DIGEST_LEN + 1];
		st_sha256_buf(cfg, len, got);
		if (strcmp(got, id) != 0) {
			add(c, FIX_NONE, NULL, NULL, what, "its config's digest is %s: the config was changed", got);
			continue;
		}
		_cleanup_json_ json_object *o = NULL;
		json_object *rootfs, *ids;
		if (st_json_parse(cfg, "image config", &o, &e) < 0 || !json_object_object_get_ex(o, "rootfs", &rootfs) ||
		    !json_object_object_get_ex(rootfs, "diff_ids", &ids) || !json_object_is_type(ids, json_type_array)) {
			add(c, FIX_NONE, NULL, NULL, what, "its config has no rootfs.diff_ids");
			continue;
		}
		char chain[ST_DIGEST_LEN + 1] = "";
		bool missing = false;
		for (size_t k = 0; k < json_object_array_length(ids) && !missing; k++) {
			const char *d = json_object_get_string(json_object_array_get_idx(ids, k));
			char next[ST_DIGEST_LEN + 1];
			if (!st_valid_digest(d)) {
				add(c, FIX_NONE, NULL, NULL, what, "its config has an invalid diff id \"%s\"", d ? d : "");
				missing = true;
				break;
			}
			st_chain_id(chain, d, next);
			memcpy(chain, next, sizeof(chain));
			if (!find_layer(c, chain)) {
				add(c, FIX_NONE, NULL, NULL, what,
				    "its layer %zu (%s) is missing: remove the image and load or build it again", k + 1, chain);
				missing = true;
			}
		}
		char holder[ST_DIGEST_LEN + 16];
		snprintf(holder, sizeof(holder), "image:%s", id);
		const struct st_layer *top = chain[0] ? find_layer(c, chain) : NULL;
		if (!missing && top && !has_holder(top, holder))
			add(c, FIX_LAYER_HOLD, chain, holder, what, "does not hold its top layer %s", chain);
	}
	st_strv_free(names, n);
	close(dfd);

	/* tags */
	_cleanup_json_ json_object *repos = NULL;
	if (st_json_load_at(c->s->root_fd, "repositories.json", &repos, &e) == 0 &&
	    json_object_is_type(repos, json_type_object)) {
		json_object_object_foreach(repos, tag, v)
		{
			char top[ST_DIGEST_LEN + 1];
			const char *id = json_object_get_string(v);
			if (!image_exists(c, id ? id : "", top)) {
				snprintf(what, sizeof(what), "tag %s", tag);
				add(c, FIX_UNTAG, tag, NULL, what, "points to %s, which does not exist", id ? id : "nothing");
			}
		}
	} else if (exists_at(c->s->root_fd, "repositories.json")) {
		add(c, FIX_NONE, NULL, NULL, "tags", "\"%s/repositories.json\" is damaged: %s", c->s->root, e.msg);
	}
	/* the root's own atomic writes (repositories.json, strata.json) */
	if (list_sub(c, "", &dfd, &names, &n, &e) == 0) {
		for (size_t i = 0; i < n; i++)
			if (st_str_has_prefix(names[i], ".tmp-"))
				add(c, FIX_RM_AT, "", names[i], "store root", "\"%s\" is left over from an interrupted write",
				    names[i]);
		st_strv_free(names, n);
		close(dfd);
	}
}

/* -------------------------------------------------------- containers */

static void scan_containers(struct ck *c, struct st_container *cts, size_t ncts)
{
	int dfd;
	char **names;
	size_t n;
	struct st_error e;
	char what[200];
	if (list_sub(c, "containers", &dfd, &names, &n, &e) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *nm = names[i];
		bool trash = st_str_has_prefix(nm, ".trash-"), tmp = st_str_has_prefix(nm, ".tmp-");
		/* unclaimed and still there: a claim ends only after its
		 * directory is gone, so one that ended since the listing is no
		 * leftover */
		struct stat st;
		if ((trash || tmp) && !st_lease_claims_driver_layer(c->s, nm + (trash ? 7 : 5)) &&
		    fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0)
			add(c, FIX_CONTAINERS_RECOVER, NULL, NULL, "container store",
			    "\"%s\" is a container whose %s was cut short", nm, trash ? "removal" : "creation");
		if (nm[0] == '.')
			continue;
		bool found = false;
		for (size_t k = 0; k < ncts; k++)
			found |= strcmp(cts[k].id, nm) == 0;
		if (!found) {
			snprintf(what, sizeof(what), "container %s", nm);
			add(c, FIX_NONE, NULL, NULL, what, "its config is unreadable: remove \"%s/containers/%s\" by hand",
			    c->s->root, nm);
		}
	}
	st_strv_free(names, n);
	close(dfd);
	for (size_t i = 0; i < ncts; i++) {
		const struct st_container *ct = &cts[i];
		c->ncontainers++;
		snprintf(what, sizeof(what), "container %s (%s)", ct->id, ct->name);
		struct st_drv_record rw, init;
		bool has_rw = st_drv_record_get(c->d, ct->rw_layer, &rw, &e) == 0 && rw.data;
		bool has_init = st_drv_record_get(c->d, ct->init_layer, &init, &e) == 0 && init.data;
		if (!has_rw || !has_init) {
			add(c, ct->status == ST_CT_RUNNING ? FIX_NONE : FIX_CONTAINER_REMOVE, ct->id, NULL, what,
			    "its %s layer %s is missing: the container is lost%s", has_rw ? "init" : "container",
			    has_rw ? ct->init_layer : ct->rw_layer, ct->status == ST_CT_RUNNING ? " (it is running: stop it)" : "");
			continue;
		}
		if (strcmp(rw.parent, ct->init_layer) != 0)
			add(c, FIX_NONE, NULL, NULL, what, "its container layer stands on %s, not on its init layer %s",
			    rw.parent[0] ? rw.parent : "nothing", ct->init_layer);
		char top[ST_DIGEST_LEN + 1];
		if (!image_exists(c, ct->image, top)) {
			add(c, FIX_NONE, NULL, NULL, what, "its image %s does not exist", ct->image);
			continue;
		}
		const struct st_layer *tl = top[0] ? find_layer(c, top) : NULL;
		if (tl && strcmp(init.parent, tl->cache_id) != 0)
			add(c, FIX_NONE, NULL, NULL, what, "its init layer stands on %s, not on its image's top layer (%s)",
			    init.parent[0] ? init.parent : "nothing", tl->cache_id);
		char holder[100];
		snprintf(holder, sizeof(holder), "container:%s", ct->id);
		if (tl && !has_holder(tl, holder))
			add(c, FIX_LAYER_HOLD, tl->chain_id, holder, what, "does not hold its image's top layer %s",
			    tl->chain_id);
	}
}

/* ------------------------------------------------------- build cache */

static void scan_cache(struct ck *c)
{
	char what[200];
	for (size_t i = 0; i < c->ncache; i++) {
		const struct st_cache_entry *ce = &c->cache[i];
		snprintf(what, sizeof(what), "build cache entry %s", ce->key);
		if (ce->damaged) {
			char name[96];
			snprintf(name, sizeof(name), "%s.json", ce->key + 7);
			add(c, FIX_CACHE_UNLINK, name, NULL, what, "is unreadable");
			continue;
		}
		if (!ce->top[0])
			continue;
		const struct st_layer *l = find_layer(c, ce->top);
		char holder[ST_DIGEST_LEN + 16];
		snprintf(holder, sizeof(holder), "cache:%s", ce->key + 7);
		if (!l)
			add(c, FIX_CACHE_DROP, ce->key, NULL, what, "its layer %s is gone", ce->top);
		else if (!has_holder(l, holder))
			add(c, FIX_LAYER_HOLD, l->chain_id, holder, what, "does not hold its layer %s", l->chain_id);
	}
	int dfd;
	char **names;
	size_t n;
	struct st_error e;
	if (list_sub(c, "build-cache", &dfd, &names, &n, &e) == 0) {
		leftover_temps(c, "build-cache", dfd, names, n);
		st_strv_free(names, n);
		close(dfd);
	}
}

/* ----------------------------------------------------------- volumes */

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!strchr("0123456789abcdef", *s))
			return false;
	return true;
}

static void scan_volumes(struct ck *c, struct st_container *cts, size_t ncts)
{
	struct st_volume *v;
	size_t n;
	struct st_error e;
	if (st_volume_list(c->s, &v, &n, NULL, &e) < 0) {
		add(c, FIX_NONE, NULL, NULL, "volume store", "cannot be listed: %s", e.msg);
		return;
	}
	char what[300];
	for (size_t i = 0; i < n; i++) {
		c->nvolumes++;
		for (size_t k = 0; k < v[i].nmount_ids; k++) {
			const char *mid = v[i].mount_ids[k];
			const struct st_container *ct = NULL;
			for (size_t j = 0; j < ncts && !ct; j++)
				if (strcmp(cts[j].id, mid) == 0)
					ct = &cts[j];
			snprintf(what, sizeof(what), "volume %s", v[i].name);
			if (ct && ct->status != ST_CT_RUNNING)
				add(c, FIX_VOLUME_UNMOUNT, v[i].name, mid, what,
				    "is still mounted for container %s, which is not running", ct->name);
			else if (!ct && is_hex64(mid))
				add(c, FIX_VOLUME_UNMOUNT, v[i].name, mid, what,
				    "is still mounted for container %s, which no longer exists", mid);
		}
	}
	st_volume_list_free(v, n);
}

/* ------------------------------------------------------------ leases */

static void scan_leases(struct ck *c)
{
	int dfd;
	char **names;
	size_t n;
	struct st_error e;
	if (list_sub(c, "leases", &dfd, &names, &n, &e) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char name[64], other[80];
		if (st_str_has_suffix(names[i], ".json")) {
			snprintf(name, sizeof(name), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
			snprintf(other, sizeof(other), "%s.lock", name);
			if (!exists_at(dfd, other))
				add(c, FIX_LEASE_FILE, names[i], NULL, "lease store",
				    "\"%s\" is the claims file of an operation that ended", names[i]);
		} else if (st_str_has_suffix(names[i], ".lock")) {
			snprintf(name, sizeof(name), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
			if (!st_lease_alive(c->s, name)) {
				char w[100];
				snprintf(w, sizeof(w), "lease %s", name);
				add(c, FIX_LEASE_SWEEP, NULL, NULL, w,
				    "belongs to a killed operation whose work is not undone yet (a driver layer still busy?)");
			}
		}
	}
	st_strv_free(names, n);
	close(dfd);
}

/* -------------------------------------------------------------- scan */

static int scan(struct ck *c, struct st_error *err)
{
	/* driver records before leases: a layer made meanwhile was claimed
	 * before it was created, so its claim is seen */
	int r = st_drv_record_ids(c->d, "layers", &c->drv, &c->ndrv, err);
	if (r < 0)
		return r;
	if ((r = st_layer_list(c->s, &c->layers, &c->nlayers, err)) < 0 ||
	    (r = st_cache_list(c->s, &c->cache, &c->ncache, err)) < 0)
		return r;
	c->live = st_lease_count_alive(c->s);
	struct st_container *cts = NULL;
	size_t ncts = 0;
	if ((r = st_container_list(c->s, &cts, &ncts, err)) < 0)
		return r;
	scan_leases(c);
	scan_driver_records(c);
	scan_mounts(c, cts, ncts);
	scan_layers(c);
	scan_orphans(c);
	scan_images(c);
	scan_containers(c, cts, ncts);
	scan_cache(c);
	scan_volumes(c, cts, ncts);
	st_container_list_free(cts, ncts);
	return c->oom ? st_error_set(err, ENOMEM, "system check") : 0;
}

/* ------------------------------------------------------------ repair */

static int rm_at(struct st_store *s, const char *sub, const char *name, struct st_error *err)
{
	_cleanup_close_ int dfd = sub[0] ? st_store_subdir(s, sub, err) : dup(s->root_fd);
	if (dfd < 0)
		return dfd;
	return st_rm_rf_at(dfd, name, err);
}

static int untag(struct st_store *s, const char *tag, struct st_error *err)
{
	_cleanup_json_ json_object *repos = NULL;
	int r = st_json_load_at(s->root_fd, "repositories.json", &repos, err);
	if (r < 0)
		return r;
	json_object_object_del(repos, tag);
	return st_json_save_at(s->root_fd, "repositories.json", repos, err);
}

static int apply_one(struct ck *c, struct st_check_problem *p, struct st_error *err)
{
	struct st_store *s = c->s;
	struct st_driver *d = c->d;
	int r = 0;
	switch (p->fix) {
	case FIX_LEASE_SWEEP:
		r = st_lease_sweep(s, err);
		snprintf(p->result, sizeof(p->result), "undid what the killed operation left");
		break;
	case FIX_LEASE_FILE:
		r = rm_at(s, "leases", p->a, err);
		snprintf(p->result, sizeof(p->result), "removed the file");
		break;
	case FIX_CONTAINERS_RECOVER:
		r = st_container_store_recover(s, err);
		snprintf(p->result, sizeof(p->result), "finished the removal or dropped the half-made container");
		break;
	case FIX_LAYERS_RECOVER:
		r = st_layer_store_recover(s, err);
		snprintf(p->result, sizeof(p->result), "finished the removal or dropped the half-made layer");
		break;
	case FIX_RM_AT:
		r = rm_at(s, p->a, p->b, err);
		snprintf(p->result, sizeof(p->result), "removed \"%s\"", p->b);
		break;
	case FIX_VOLUME_UNMOUNT:
		r = st_volume_unmount(s, p->a, p->b, err);
		snprintf(p->result, sizeof(p->result), "released the mount of %s", p->b);
		break;
	case FIX_UMOUNT:
		if (umount2(p->a, MNT_DETACH) < 0)
			r = st_error_set(err, errno, "unmount \"%s\"", p->a);
		snprintf(p->result, sizeof(p->result), "unmounted it");
		break;
	case FIX_MOUNT_RESET:
		/* "idle": judged unused because nothing ran; a user may have come
		 * since the scan */
		if (!strcmp(p->b, "idle") && st_lease_count_alive(s) > 0)
			return st_error_fail(err, EBUSY, "an operation started meanwhile: check again later");
		r = st_drv_mount_reset(d, p->a, err);
		snprintf(p->result, sizeof(p->result), "dropped the mount count (unmounting what was still mounted)");
		break;
	case FIX_DRV_FINISH:
	case FIX_DRV_ORPHAN:
		if (st_drv_mount_count(d, p->a) > 0 && (r = st_drv_mount_reset(d, p->a, err)) < 0)
			break;
		r = st_drv_remove(d, p->a, err);
		if (r == -ENOENT)
			r = 0;
		snprintf(p->result, sizeof(p->result), "removed it");
		break;
	case FIX_CHILD_ADD:
	case FIX_CHILD_DROP:
		r = st_drv_child_link(d, p->a, p->b, p->fix == FIX_CHILD_ADD, err);
		snprintf(p->result, sizeof(p->result), "%s the child record", p->fix == FIX_CHILD_ADD ? "added" : "dropped");
		break;
	case FIX_DRV_COMMIT:
		r = st_drv_commit(d, p->a, err);
		snprintf(p->result, sizeof(p->result), "made it read-only");
		break;
	case FIX_CONTAINER_REMOVE:
		r = st_container_remove(s, p->a, false, err);
		snprintf(p->result, sizeof(p->result), "removed the container");
		break;
	case FIX_LAYER_HOLD:
		r = st_layer_hold(s, p->a, p->b, err);
		snprintf(p->result, sizeof(p->result), "added the holder");
		break;
	case FIX_UNTAG:
		r = untag(s, p->a, err);
		snprintf(p->result, sizeof(p->result), "removed the tag");
		break;
	case FIX_CACHE_DROP:
		r = st_cache_drop(s, p->a, err);
		snprintf(p->result, sizeof(p->result), "removed the entry");
		break;
	case FIX_CACHE_UNLINK:
		r = rm_at(s, "build-cache", p->a, err);
		snprintf(p->result, sizeof(p->result), "removed the entry");
		break;
	case FIX_RECORD_REMOVE: {
		_cleanup_close_ int dfd = st_store_subdir(s, p->a, err);
		r = dfd < 0 ? dfd : st_remove_at(dfd, p->b, err);
		snprintf(p->result, sizeof(p->result), "removed the damaged record (what it held is checked again)");
		break;
	}
	case FIX_LAYER_RELEASE:
		r = st_layer_release(s, p->a, p->b, err);
		if (r == -ENOENT)
			r = 0; /* removed meanwhile by another repair's cascade */
		snprintf(p->result, sizeof(p->result), "released it");
		break;
	case FIX_LAYER_UNUSED:
		/* releasing a holder it does not have removes it when unused */
		r = st_layer_release(s, p->a, "system-check", err);
		if (r == -ENOENT)
			r = 0;
		snprintf(p->result, sizeof(p->result), "removed it");
		break;
	default:
		return 0;
	}
	return r;
}

static int fix_cmp(const void *a, const void *b)
{
	const struct st_check_problem *x = *(struct st_check_problem *const *)a, *y = *(struct st_check_problem *const *)b;
	return x->fix - y->fix;
}

/* Apply the repairs of one scan; orphaned driver layers that stack on each
 * other go in as many passes as it takes. */
static void apply(struct ck *c, struct st_check_problem *v, size_t n)
{
	struct st_check_problem **order = calloc(n ? n : 1, sizeof(*order));
	if (!order)
		return;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i].fix != FIX_NONE)
			order[k++] = &v[i];
	qsort(order, k, sizeof(*order), fix_cmp);
	bool once_only[FIX_DRV_ORPHAN + 1] = {0};
	for (int pass = 0; pass < 8; pass++) {
		bool progress = false, pending = false;
		for (size_t i = 0; i < k; i++) {
			struct st_check_problem *p = order[i];
			if (p->state == ST_CHECK_REPAIRED)
				continue;
			/* whole-store recoveries run once a round */
			bool whole = p->fix == FIX_LEASE_SWEEP || p->fix == FIX_CONTAINERS_RECOVER ||
				     p->fix == FIX_LAYERS_RECOVER;
			if (whole && once_only[p->fix]) {
				p->state = ST_CHECK_REPAIRED;
				snprintf(p->result, sizeof(p->result), "%s", "see above");
				continue;
			}
			struct st_error e = {0};
			int r = apply_one(c, p, &e);
			if (whole)
				once_only[p->fix] = true;
			if (r >= 0) {
				p->state = ST_CHECK_REPAIRED;
				progress = true;
			} else {
				p->state = ST_CHECK_FAILED;
				snprintf(p->result, sizeof(p->result), "%s", e.msg);
				pending |= p->fix == FIX_DRV_ORPHAN && r == -EBUSY;
			}
		}
		if (!pending || !progress)
			break;
	}
	free(order);
}

static bool same(const struct st_check_problem *a, const struct st_check_problem *b)
{
	return strcmp(a->what, b->what) == 0 && strcmp(a->msg, b->msg) == 0;
}

static int report_add(struct st_check_report *rep, const struct st_check_problem *p)
{
	struct st_check_problem *nv = realloc(rep->v, (rep->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	rep->v = nv;
	rep->v[rep->n++] = *p;
	return 0;
}

void st_check_report_free(struct st_check_report *rep)
{
	if (rep) {
		free(rep->v);
		memset(rep, 0, sizeof(*rep));
	}
}

/* A scan sees running operations between two of their steps now and then
 * (a container directory renamed for removal whose lease just ended, a
 * layer record not yet written): such states pass within moments, what a
 * killed operation left stays. So what a scan finds is looked at again a
 * moment later, with the store lock let go meanwhile (the operations may
 * need it to finish), and only what both looks found counts. */
static int scan_settled(struct ck *c, struct st_error *err)
{
	int r = scan(c, err);
	for (int look = 0; r >= 0 && c->n > 0 && look < 2; look++) {
		struct ck again = {.s = c->s, .d = c->d};
		st_store_unlock(c->s);
		struct timespec ts = {0, 200000000};
		nanosleep(&ts, NULL);
		if ((r = st_store_lock(c->s, err)) < 0)
			break;
		if ((r = scan(&again, err)) < 0) {
			ck_free(&again);
			break;
		}
		size_t k = 0;
		for (size_t i = 0; i < again.n; i++) {
			bool before = false;
			for (size_t j = 0; j < c->n && !before; j++)
				before = same(&again.v[i], &c->v[j]);
			if (before)
				again.v[k++] = again.v[i];
		}
		bool settled = k == c->n;
		again.n = k;
		ck_free(c);
		*c = again;
		if (settled)
			break;
	}
	return r;
}

int st_store_check(struct st_store *s, bool repair, struct st_check_report *rep, struct st_error *err)
{
	memset(rep, 0, sizeof(*rep));
	int r = st_store_lock(s, err);
	if (r < 0)
		return r;
	struct ck c = {.s = s, .d = s->driver};
	if ((r = scan_settled(&c, err)) < 0)
		goto out;
	rep->layers = c.nlayers;
	rep->driver_layers = c.ndrv;
	rep->images = c.nimages;
	rep->containers = c.ncontainers;
	rep->cache_entries = c.ncache;
	rep->volumes = c.nvolumes;
	rep->live_leases = c.live;
	for (size_t i = 0; i < c.n && r >= 0; i++)
		r = report_add(rep, &c.v[i]);
	for (int round = 0; repair && r >= 0 && c.n > 0 && round < 4; round++) {
		apply(&c, c.v, c.n);
		/* what the repairs did goes back into the report */
		for (size_t i = 0; i < c.n; i++)
			for (size_t k = 0; k < rep->n; k++)
				if (same(&rep->v[k], &c.v[i]) && rep->v[k].state != ST_CHECK_REPAIRED) {
					rep->v[k].state = c.v[i].state;
					snprintf(rep->v[k].result, sizeof(rep->v[k].result), "%s", c.v[i].result);
				}
		ck_free(&c);
		c.s = s;
		c.d = s->driver;
		if ((r = scan_settled(&c, err)) < 0)
			break;
		for (size_t i = 0; i < c.n && r >= 0; i++) {
			bool known = false;
			for (size_t k = 0; k < rep->n && !known; k++)
				known = same(&rep->v[k], &c.v[i]);
			if (!known)
				r = report_add(rep, &c.v[i]);
		}
	}
	if (r >= 0)
		rep->remaining = c.n;
	if (r >= 0 && repair) {
		/* a repair that did not hold */
		for (size_t i = 0; i < c.n; i++)
			for (size_t k = 0; k < rep->n; k++)
				if (same(&rep->v[k], &c.v[i]) && rep->v[k].state == ST_CHECK_REPAIRED) {
					rep->v[k].state = ST_CHECK_FAILED;
					snprintf(rep->v[k].result, sizeof(rep->v[k].result), "still found after the repair");
				}
	}
	if (r == -ENOMEM)
		st_error_set(err, ENOMEM, "system check");
out:
	ck_free(&c);
	st_store_unlock(s);
	return r < 0 ? r : 0;
}
