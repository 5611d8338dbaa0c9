/* System check's repairs: each problem's fix, applied in the order of enum
 * fix, orphaned driver layers that stack on each other in as many passes as
 * it takes. */
#include <sys/mount.h>

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"
#include "volume/volume.h"
#include "container/container.h"
#include "builder/builder.h"
#include "system/system.h"
#include "check_int.h"

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
void ck_apply(struct ck *c, struct st_check_problem *v, size_t n)
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
