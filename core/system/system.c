/* strata system df / prune. Sizes are the layer store's (bytes each layer
 * adds, shared layers counted once), the drivers' (a container's writable
 * layer) and the local volume driver's (bytes under a volume's data). */
#include <fcntl.h>

#include "base/base.h"
#include "store/store.h"
#include "container/container.h"
#include "builder/builder.h"
#include "system/system.h"

/* The layers, by chain id, with a mark per layer. */
struct lset {
	struct st_layer *v;
	size_t n;
	unsigned char *mark;
};

enum { M_IMAGE = 1, M_ACTIVE = 2, M_CACHE = 4, M_KEEP = 8, M_STAY = 16 };

static int lset_load(struct st_store *s, struct lset *ls, struct st_error *err)
{
	memset(ls, 0, sizeof(*ls));
	int r = st_layer_list(s, &ls->v, &ls->n, err);
	if (r < 0)
		return r;
	ls->mark = calloc(ls->n ? ls->n : 1, 1);
	if (!ls->mark) {
		st_layer_list_free(ls->v, ls->n);
		return st_error_set(err, ENOMEM, "system df");
	}
	return 0;
}

static void lset_free(struct lset *ls)
{
	st_layer_list_free(ls->v, ls->n);
	free(ls->mark);
	memset(ls, 0, sizeof(*ls));
}

static ssize_t lset_find(const struct lset *ls, const char *chain)
{
	for (size_t i = 0; i < ls->n; i++)
		if (strcmp(ls->v[i].chain_id, chain) == 0)
			return (ssize_t)i;
	return -1;
}

/* Mark chain and everything below it. */
static void lset_mark_chain(struct lset *ls, const char *chain, unsigned char m)
{
	char cur[ST_DIGEST_LEN + 1];
	snprintf(cur, sizeof(cur), "%s", chain);
	for (size_t guard = 0; cur[0] && guard <= ls->n; guard++) {
		ssize_t i = lset_find(ls, cur);
		if (i < 0)
			return;
		ls->mark[i] |= m;
		snprintf(cur, sizeof(cur), "%s", ls->v[i].parent);
	}
}

static int64_t lset_size(const struct lset *ls, unsigned char all, unsigned char none)
{
	int64_t sz = 0;
	for (size_t i = 0; i < ls->n; i++)
		if ((ls->mark[i] & all) == all && !(ls->mark[i] & none))
			sz += ls->v[i].size > 0 ? ls->v[i].size : 0;
	return sz;
}

static int64_t container_size(struct st_store *s, const struct st_container *c)
{
	struct st_error e;
	int64_t sz = st_drv_diff_size(st_store_driver(s), c->rw_layer, c->init_layer, &e);
	return sz > 0 ? sz : 0;
}

static int64_t volume_size(const struct st_volume *v)
{
	if (strcmp(v->driver, "local") != 0 || !v->mountpoint[0])
		return 0;
	_cleanup_close_ int fd = open(v->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	struct st_error e;
	int64_t sz = fd >= 0 ? st_tree_size(fd, &e) : 0;
	return sz > 0 ? sz : 0;
}

static bool is_used_image(const struct st_container *cts, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cts[i].image, id) == 0)
			return true;
	return false;
}

int st_system_df(struct st_store *s, struct st_df *out, struct st_error *err)
{
	memset(out, 0, sizeof(*out));
	struct lset ls;
	int r = lset_load(s, &ls, err);
	if (r < 0)
		return r;
	struct st_image *imgs = NULL;
	struct st_container *cts = NULL;
	struct st_cache_entry *ce = NULL;
	struct st_volume *vols = NULL;
	size_t ni = 0, nc = 0, nce = 0, nv = 0;
	if ((r = st_image_list(s, &imgs, &ni, err)) < 0 || (r = st_container_list(s, &cts, &nc, err)) < 0 ||
	    (r = st_cache_list(s, &ce, &nce, err)) < 0 || (r = st_volume_list(s, &vols, &nv, NULL, err)) < 0)
		goto out;

	/* images: their layers; active ones are used by containers */
	out->images.total = (int64_t)ni;
	for (size_t i = 0; i < ni; i++) {
		bool used = is_used_image(cts, nc, imgs[i].id);
		out->images.active += used;
		if (imgs[i].top[0])
			lset_mark_chain(&ls, imgs[i].top, M_IMAGE | (used ? M_ACTIVE : 0));
	}
	out->images.size = lset_size(&ls, M_IMAGE, 0);
	out->images.reclaimable = lset_size(&ls, M_IMAGE, M_ACTIVE);

	/* containers: their writable layers */
	out->containers.total = (int64_t)nc;
	for (size_t i = 0; i < nc; i++) {
		int64_t sz = container_size(s, &cts[i]);
		bool running = cts[i].status == ST_CT_RUNNING;
		out->containers.active += running;
		out->containers.size += sz;
		if (!running)
			out->containers.reclaimable += sz;
	}

	/* volumes */
	out->volumes.total = (int64_t)nv;
	for (size_t i = 0; i < nv; i++) {
		int64_t sz = volume_size(&vols[i]);
		bool used = st_volume_in_use(s, vols[i].name);
		out->volumes.active += used;
		out->volumes.size += sz;
		if (!used)
			out->volumes.reclaimable += sz;
	}

	/* build cache: entries; their layers that no image has */
	out->cache.total = (int64_t)nce;
	for (size_t i = 0; i < nce; i++) {
		if (!ce[i].top[0])
			continue;
		lset_mark_chain(&ls, ce[i].top, M_CACHE);
		ssize_t k = lset_find(&ls, ce[i].top);
		out->cache.active += k >= 0 && (ls.mark[k] & M_IMAGE);
	}
	out->cache.size = lset_size(&ls, M_CACHE, M_IMAGE);
	out->cache.reclaimable = out->cache.size;

	/* layers: all of them; active are those under an image, a container,
	 * a user's import or a running operation; what prune -a leaves is
	 * what running containers, users and running operations stand on */
	for (size_t i = 0; i < nc; i++)
		if (cts[i].status == ST_CT_RUNNING)
			for (size_t k = 0; k < ni; k++)
				if (!strcmp(imgs[k].id, cts[i].image) && imgs[k].top[0])
					lset_mark_chain(&ls, imgs[k].top, M_STAY);
	for (size_t i = 0; i < ls.n; i++) {
		bool keep = ls.mark[i] & M_IMAGE, stay = false;
		for (size_t k = 0; k < ls.v[i].nholders; k++) {
			const char *h = ls.v[i].holders[k];
			bool mine = !strcmp(h, "user") || st_str_has_prefix(h, "lease:");
			stay |= mine;
			keep |= mine || st_str_has_prefix(h, "container:");
		}
		if (keep)
			lset_mark_chain(&ls, ls.v[i].chain_id, M_KEEP);
		if (stay)
			lset_mark_chain(&ls, ls.v[i].chain_id, M_STAY);
	}
	out->layers.total = (int64_t)ls.n;
	for (size_t i = 0; i < ls.n; i++)
		out->layers.active += (ls.mark[i] & M_KEEP) != 0;
	out->layers.size = lset_size(&ls, 0, 0);
	out->layers.reclaimable = lset_size(&ls, 0, M_STAY);
out:
	st_image_list_free(imgs, ni);
	st_container_list_free(cts, nc);
	st_cache_entries_free(ce, nce);
	st_volume_list_free(vols, nv);
	lset_free(&ls);
	return r;
}

/* ------------------------------------------------------------- prune */

void st_prune_result_free(struct st_prune_result *res)
{
	if (!res)
		return;
	st_strv_free(res->containers, res->ncontainers);
	st_strv_free(res->images, res->nimages);
	st_strv_free(res->cache, res->ncache);
	st_strv_free(res->volumes, res->nvolumes);
	memset(res, 0, sizeof(*res));
}

static int64_t layers_bytes(struct st_store *s)
{
	struct st_layer *v;
	size_t n;
	struct st_error e;
	if (st_layer_list(s, &v, &n, &e) < 0)
		return 0;
	int64_t sz = 0;
	for (size_t i = 0; i < n; i++)
		sz += v[i].size > 0 ? v[i].size : 0;
	st_layer_list_free(v, n);
	return sz;
}

/* Keep the first failure; go on with the rest. */
static void note(int *first, struct st_error *err, int r, const struct st_error *e)
{
	if (r < 0 && *first == 0) {
		*first = r;
		if (err)
			*err = *e;
	}
}

static void prune_containers(struct st_store *s, struct st_prune_result *res, int *first, struct st_error *err)
{
	struct st_container *cts;
	size_t n;
	struct st_error e = {0};
	int r = st_container_list(s, &cts, &n, &e);
	if (r < 0) {
		note(first, err, r, &e);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (cts[i].status == ST_CT_RUNNING)
			continue;
		int64_t sz = container_size(s, &cts[i]);
		if ((r = st_container_remove(s, cts[i].id, false, &e)) < 0) {
			if (r != -ENOENT && r != -EBUSY) /* gone or started meanwhile */
				note(first, err, r, &e);
			continue;
		}
		res->reclaimed += sz;
		st_strv_push(&res->containers, &res->ncontainers, cts[i].id);
	}
	st_container_list_free(cts, n);
}

static void prune_images(struct st_store *s, bool all, struct st_prune_result *res, int *first, struct st_error *err)
{
	struct st_image *imgs;
	size_t n;
	struct st_error e = {0};
	int r = st_image_list(s, &imgs, &n, &e);
	if (r < 0) {
		note(first, err, r, &e);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!all && imgs[i].ntags > 0)
			continue;
		_cleanup_free_ char *user = NULL;
		if (st_containers_using_image(s, imgs[i].id, &user) > 0)
			continue;
		char **done = NULL;
		size_t ndone = 0;
		r = st_image_remove(s, imgs[i].id, true, &done, &ndone, &e);
		if (r < 0 && r != -ENOENT && r != -EBUSY) /* removed, or a container came meanwhile */
			note(first, err, r, &e);
		for (size_t k = 0; k < ndone; k++) {
			/* "Untagged: x" -> "untagged: x", as docker prune prints */
			done[k][0] = (char)(done[k][0] == 'U' ? 'u' : done[k][0] == 'D' ? 'd' : done[k][0]);
			st_strv_push(&res->images, &res->nimages, done[k]);
		}
		st_strv_free(done, ndone);
	}
	st_image_list_free(imgs, n);
}

static void prune_cache(struct st_store *s, bool all, struct st_prune_result *res, int *first, struct st_error *err)
{
	struct lset ls;
	struct st_cache_entry *ce = NULL;
	struct st_image *imgs = NULL;
	size_t nce = 0, ni = 0;
	struct st_error e = {0};
	int r;
	if ((r = lset_load(s, &ls, &e)) < 0) {
		note(first, err, r, &e);
		return;
	}
	if ((r = st_cache_list(s, &ce, &nce, &e)) < 0 || (r = st_image_list(s, &imgs, &ni, &e)) < 0) {
		note(first, err, r, &e);
		goto out;
	}
	for (size_t i = 0; i < ni; i++)
		if (imgs[i].top[0])
			lset_mark_chain(&ls, imgs[i].top, M_IMAGE);
	for (size_t i = 0; i < nce; i++) {
		ssize_t k = ce[i].top[0] ? lset_find(&ls, ce[i].top) : -1;
		if (!all && k >= 0 && (ls.mark[k] & M_IMAGE))
			continue; /* its layer is an image's: dropping it frees nothing */
		if ((r = st_cache_drop(s, ce[i].key, &e)) < 0) {
			note(first, err, r, &e);
			continue;
		}
		st_strv_push(&res->cache, &res->ncache, ce[i].key);
	}
out:
	st_cache_entries_free(ce, nce);
	st_image_list_free(imgs, ni);
	lset_free(&ls);
}

int st_system_prune(struct st_store *s, const struct st_prune_opts *o, struct st_prune_result *res,
		    struct st_error *err)
{
	memset(res, 0, sizeof(*res));
	int first = 0;
	int64_t before = layers_bytes(s);
	prune_containers(s, res, &first, err);
	prune_images(s, o->all, res, &first, err);
	prune_cache(s, o->all, res, &first, err);
	int64_t after = layers_bytes(s);
	if (before > after)
		res->reclaimed += before - after;
	if (o->volumes) {
		char **names = NULL;
		size_t n = 0;
		int64_t freed = 0;
		struct st_error e = {0};
		int r = st_volume_prune(s, &names, &n, &freed, &e);
		note(&first, err, r, &e);
		res->volumes = names;
		res->nvolumes = n;
		res->reclaimed += freed;
	}
	return first;
}
