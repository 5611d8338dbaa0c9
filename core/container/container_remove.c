/* Removing a container (renamed to .trash-ID first, so that a kill midway
 * is finished by the next open) and that recovery. */

#include <limits.h>
#include <time.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
#include "container_int.h"

/* ------------------------------------------------------------- remove */

/* Remove what a (renamed) container directory names: its layers, its hold
 * on the image layer, then the directory. Idempotent: recovery reruns it. */
static int remove_leftovers(struct st_store *s, int dfd, const char *dir, struct st_error *err)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/config.json", dir);
	_cleanup_json_ json_object *cfg = NULL;
	struct st_driver *d = st_store_driver(s);
	struct st_error e2;
	if (st_json_load_at(dfd, p, &cfg, &e2) == 0) {
		const char *layers[] = {st_json_str(cfg, "RWLayer"), st_json_str(cfg, "InitLayer")};
		for (size_t i = 0; i < 2; i++) {
			if (!st_valid_id(layers[i]) || !st_drv_exists(d, layers[i]))
				continue;
			while (st_drv_mount_count(d, layers[i]) > 0 && st_drv_put(d, layers[i], &e2) == 0)
				;
			/* another strata process may have it mounted for a moment
			 * (the size `system df` or a prune reports): wait for it */
			double end = st_now() + 10;
			int r;
			while ((r = st_drv_remove(d, layers[i], err)) == -EBUSY && st_drv_mount_count(d, layers[i]) > 0 &&
			       st_now() < end) {
				struct timespec ts = {0, 50000000};
				nanosleep(&ts, NULL);
			}
			if (r < 0)
				return r;
		}
		ct_volumes_unmount(s, st_json_str(cfg, "Id"), cfg);
		/* the hold on the image's top layer: looked up by holder, not
		 * through the image, which may be gone by the time a cut-short
		 * removal is finished (rmi does not see a renamed container) */
		char holder[80];
		snprintf(holder, sizeof(holder), "container:%s", st_json_str(cfg, "Id"));
		struct st_layer *v;
		size_t n;
		int r = st_layer_list(s, &v, &n, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n && r >= 0; i++)
			for (size_t k = 0; k < v[i].nholders; k++)
				if (strcmp(v[i].holders[k], holder) == 0) {
					r = st_layer_release(s, v[i].chain_id, holder, err);
					break;
				}
		st_layer_list_free(v, n);
		if (r < 0)
			return r;
	}
	return st_rm_rf_at(dfd, dir, err);
}

int st_container_remove(struct st_store *s, const char *ref, bool force, struct st_error *err)
{
	struct st_container c;
	int r = st_container_get(s, ref, &c, err);
	if (r < 0)
		return r;
	st_container_free(&c);
	if (c.status == ST_CT_RUNNING) {
		if (!force)
			return st_error_fail(err, EBUSY,
					     "you cannot remove a running container %s: stop it first, or force remove (-f)",
					     c.name);
		if ((r = st_container_stop(s, c.id, 0, err)) < 0)
			return r;
	}
	_cleanup_close_ int dfd = ct_dir(s, err);
	if (dfd < 0)
		return dfd;
	/* the lease marks the removal as running (recovery leaves the renamed
	 * directory to us) and, if we are killed, has the container's layers
	 * removed by the next open */
	struct st_lease lease;
	if ((r = ct_claim(s, &c, &lease, force ? 15 : 0, err)) < 0)
		return r;
	if (st_valid_id(c.init_layer) && (r = st_lease_add_driver_layer(&lease, c.init_layer, err)) < 0)
		goto out;
	char trash[128];
	snprintf(trash, sizeof(trash), ".trash-%s", c.id);
	if ((r = st_store_lock(s, err)) < 0)
		goto out;
	if (renameat(dfd, c.id, dfd, trash) < 0) {
		r = errno == ENOENT ? st_error_fail(err, ENOENT, "no such container: %s", c.name) /* removed meanwhile */
				    : st_error_set(err, errno, "remove container %s", c.name);
		st_store_unlock(s);
		goto out;
	}
	st_fsync_dir(dfd);
	ct_name_unlink(dfd, c.name, c.id);
	st_store_unlock(s);
	/* the runtime's state of it, once it is ours to remove (a start of
	 * it would have claimed it) */
	char rtroot[PATH_MAX];
	snprintf(rtroot, sizeof(rtroot), "%s/runtime", st_store_root(s));
	struct st_run_spec sp = {.id = c.id, .runtime_root = rtroot};
	struct st_error e2;
	st_runtime_delete(&sp, &e2);
	r = remove_leftovers(s, dfd, trash, err);
out:
	st_lease_end(&lease);
	return r;
}

int st_container_store_recover(struct st_store *s, struct st_error *err)
{
	_cleanup_close_ int dfd = ct_dir(s, err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t n;
	int r = st_list_dir(dfd, &names, &n);
	if (r < 0)
		return st_error_set(err, -r, "list containers");
	for (size_t i = 0; i < n; i++) {
		struct st_error e2;
		bool trash = st_str_has_prefix(names[i], ".trash-"), tmp = st_str_has_prefix(names[i], ".tmp-");
		/* a create or remove that is still running has its layers leased */
		if ((trash || tmp) && st_lease_claims_driver_layer(s, names[i] + (trash ? 7 : 5)))
			continue;
		if (trash)
			remove_leftovers(s, dfd, names[i], &e2); /* busy: the next open retries */
		else if (tmp)
			st_rm_rf_at(dfd, names[i], &e2);
	}
	st_strv_free(names, n);
	return 0;
}
