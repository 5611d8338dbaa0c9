/* System check of the store's own parts: the driver's per-layer records,
 * child links and mount counts (against /proc/self/mountinfo), layer
 * records with their driver layers, parents and holders (asked through the
 * holder table), orphaned driver layers, and leases. */
#include <libmount/libmount.h>

#include "base/base.h"
#include "store/store.h"
#include "container/container.h"
#include "builder/builder.h"
#include "system/system.h"
#include "check_int.h"

/* ------------------------------------------------------------ driver */

static bool drv_has(struct ck *c, const char *id)
{
	for (size_t i = 0; i < c->ndrv; i++)
		if (strcmp(c->drv[i], id) == 0)
			return true;
	return false;
}

void ck_scan_driver_records(struct ck *c)
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
			ck_add(c, FIX_DRV_FINISH, id, NULL, what, "was left %s by a killed process",
			    strcmp(rec.state, "creating") == 0 ? "half created" : "half removed");
			continue;
		}
		if (!rec.data)
			ck_add(c, ck_layer_by_cache(c, id) || st_holders_own_driver_layer(c->s, id) ? FIX_NONE : FIX_DRV_ORPHAN,
			    id, NULL, what, "has a record but the %s driver has no such layer", c->d->ops->name);
		if (rec.parent[0]) {
			struct st_drv_record prec;
			if (st_drv_record_get(c->d, rec.parent, &prec, &e) < 0)
				ck_add(c, FIX_NONE, NULL, NULL, what, "its parent driver layer %s does not exist", rec.parent);
			char **kids;
			size_t nk;
			bool linked = false;
			if (st_drv_children(c->d, rec.parent, &kids, &nk) == 0) {
				for (size_t k = 0; k < nk; k++)
					linked |= strcmp(kids[k], id) == 0;
				st_strv_free(kids, nk);
			}
			if (!linked)
				ck_add(c, FIX_CHILD_ADD, rec.parent, id, what,
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
			ck_add(c, FIX_CHILD_DROP, parents[i], kids[k], what,
			    "has a stale child record for %s (it blocks the removal)", kids[k]);
		}
		st_strv_free(kids, nk);
	}
	st_strv_free(parents, np);
}

/* Mount counts against the driver records and /proc/self/mountinfo. */
void ck_scan_mounts(struct ck *c)
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
			ck_add(c, FIX_MOUNT_RESET, ids[i], NULL, what, "has a mount count (%d) but no record%s", count,
			    live_mount ? ", and is still mounted" : "");
		} else if (mounted && !live_mount) {
			ck_add(c, FIX_MOUNT_RESET, ids[i], NULL, what, "counts %d user%s of a mount at \"%s\" that is gone",
			    count, count == 1 ? "" : "s", path);
		} else if (count > 0) {
			/* who may hold it: what owns the layer (a container, running
			 * or under `strata mount`; a server's client, as dockerd's
			 * containers on the docker plugin) or a live operation (under
			 * a lease) anything */
			if (c->live == 0 && !st_holders_own_driver_layer(c->s, ids[i]))
				ck_add(c, FIX_MOUNT_RESET, ids[i], "idle", what,
				    "is mounted (%d user%s) but no strata operation is running", count, count == 1 ? "" : "s");
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
		ck_add(c, FIX_UMOUNT, t, NULL, what, "is not counted by any layer (left by a killed process)");
	}
	mnt_free_iter(it);
	mnt_unref_table(tb);
	st_strv_free(paths, npaths);
}

/* ------------------------------------------------------------ layers */

void ck_scan_layers(struct ck *c)
{
	int dfd;
	char **names;
	size_t n;
	struct st_error e;
	char what[200];
	if (ck_list_sub(c, "layers", &dfd, &names, &n, &e) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *nm = names[i];
		if (st_str_has_prefix(nm, ".tmp-")) {
			if (!st_lease_claims_driver_layer(c->s, nm + 5))
				ck_add(c, FIX_LAYERS_RECOVER, NULL, NULL, "layer store",
				    "\"%s\" is a layer left half made by a killed process", nm);
			continue;
		}
		if (st_str_has_prefix(nm, ".trash-")) {
			ck_add(c, FIX_LAYERS_RECOVER, NULL, NULL, "layer store",
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
			ck_add(c, FIX_RECORD_REMOVE, "layers", nm, what, "its record is unreadable: %s", e.msg);
			continue;
		}
		char want[ST_DIGEST_LEN + 1];
		st_chain_id(l.parent, l.diff_id, want);
		if (strcmp(l.chain_id, chain) != 0 || strcmp(want, chain) != 0)
			ck_add(c, FIX_NONE, NULL, NULL, what,
			    "its record names chain id %s (diff id %s on parent %s): it does not match its name", l.chain_id,
			    l.diff_id, l.parent[0] ? l.parent : "none");
		st_layer_free(&l);
	}
	st_strv_free(names, n);

	for (size_t i = 0; i < c->nlayers; i++) {
		const struct st_layer *l = &c->layers[i];
		snprintf(what, sizeof(what), "layer %s", l->chain_id);
		const struct st_layer *p = NULL;
		if (l->parent[0] && !(p = ck_find_layer(c, l->parent)))
			ck_add(c, FIX_NONE, NULL, NULL, what, "its parent layer %s does not exist", l->parent);
		struct st_drv_record rec;
		if (st_drv_record_get(c->d, l->cache_id, &rec, &e) < 0) {
			ck_add(c, FIX_NONE, NULL, NULL, what, "its driver layer %s does not exist: its data is lost", l->cache_id);
		} else if (!rec.busy) {
			if (!rec.data)
				ck_add(c, FIX_NONE, NULL, NULL, what, "the %s driver has no data for its layer %s",
				    c->d->ops->name, l->cache_id);
			if (p && strcmp(rec.parent, p->cache_id) != 0)
				ck_add(c, FIX_NONE, NULL, NULL, what,
				    "its driver layer %s stands on %s, but its parent layer's is %s", l->cache_id,
				    rec.parent[0] ? rec.parent : "nothing", p->cache_id);
			if (!l->parent[0] && rec.parent[0])
				ck_add(c, FIX_NONE, NULL, NULL, what, "has no parent, but its driver layer %s stands on %s",
				    l->cache_id, rec.parent);
			if (rec.rw && strcmp(rec.state, "ready") == 0)
				ck_add(c, FIX_DRV_COMMIT, l->cache_id, NULL, what, "its driver layer %s is still writable",
				    l->cache_id);
		}
		if (l->tar_split && dfd >= 0) {
			char p2[256];
			snprintf(p2, sizeof(p2), "%s/tar-split.gz", l->chain_id + 7);
			if (!ck_exists_at(dfd, p2))
				ck_add(c, FIX_NONE, NULL, NULL, what,
				    "its tar-split record is missing: its tar cannot be given back byte for byte");
		}
		for (size_t k = 0; k < l->nholders; k++) {
			char why[200];
			if (!st_holder_backed(c->s, l->holders[k], l->chain_id, why, sizeof(why)))
				ck_add(c, FIX_LAYER_RELEASE, l->chain_id, l->holders[k], what, "holder \"%s\" %s",
				    l->holders[k], why);
		}
		bool child = false;
		for (size_t k = 0; k < c->nlayers && !child; k++)
			child = strcmp(c->layers[k].parent, l->chain_id) == 0;
		if (l->nholders == 0 && !child && !st_lease_holds(c->s, l->chain_id))
			ck_add(c, FIX_LAYER_UNUSED, l->chain_id, NULL, what, "nothing holds it, yet it was not removed");
	}
	if (dfd >= 0)
		close(dfd);
}

/* Driver layers that no layer, container or live operation accounts for. */
void ck_scan_orphans(struct ck *c)
{
	char what[200];
	for (size_t i = 0; i < c->ndrv; i++) {
		const char *id = c->drv[i];
		struct st_drv_record rec;
		struct st_error e;
		if (st_drv_record_get(c->d, id, &rec, &e) < 0 || rec.busy || strcmp(rec.state, "ready") != 0 || !rec.data)
			continue;
		if (ck_layer_by_cache(c, id) || st_holders_own_driver_layer(c->s, id) ||
		    st_lease_claims_driver_layer(c->s, id))
			continue;
		snprintf(what, sizeof(what), "driver layer %s", id);
		ck_add(c, FIX_DRV_ORPHAN, id, NULL, what,
		    "belongs to no layer, container or running operation (orphaned data)");
	}
}

/* ------------------------------------------------------------ leases */

void ck_scan_leases(struct ck *c)
{
	int dfd;
	char **names;
	size_t n;
	struct st_error e;
	if (ck_list_sub(c, "leases", &dfd, &names, &n, &e) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char name[64], other[80];
		if (st_str_has_suffix(names[i], ".json")) {
			snprintf(name, sizeof(name), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
			snprintf(other, sizeof(other), "%s.lock", name);
			if (!ck_exists_at(dfd, other))
				ck_add(c, FIX_LEASE_FILE, names[i], NULL, "lease store",
				    "\"%s\" is the claims file of an operation that ended", names[i]);
		} else if (st_str_has_suffix(names[i], ".lock")) {
			snprintf(name, sizeof(name), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
			if (!st_lease_alive(c->s, name)) {
				char w[100];
				snprintf(w, sizeof(w), "lease %s", name);
				ck_add(c, FIX_LEASE_SWEEP, NULL, NULL, w,
				    "belongs to a killed operation whose work is not undone yet (a driver layer still busy?)");
			}
		}
	}
	st_strv_free(names, n);
	close(dfd);
}
