/* The layer store: content-addressed layers (OCI DiffID / ChainID) over the
 * driver's layers (random cache ids).
 *
 *   layers/<chain hex>/meta.json      the layer (see layer_json)
 *   layers/<chain hex>/tar-split.gz   how to rebuild its original tar bytes
 *
 * This file: the records, holds and releases (a layer nothing holds is
 * removed, then its parents the same way; removal renames to .trash-*
 * first) and recovery. New layers are made in layer_register.c. */
#include <fcntl.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "store_int.h"

void st_layer_free(struct st_layer *l)
{
	if (!l)
		return;
	st_strv_free(l->holders, l->nholders);
	l->holders = NULL;
	l->nholders = 0;
}

void st_layer_list_free(struct st_layer *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		st_layer_free(&v[i]);
	free(v);
}

json_object *ls_layer_json(const struct st_layer *l)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "chain_id", json_object_new_string(l->chain_id));
	json_object_object_add(o, "diff_id", json_object_new_string(l->diff_id));
	json_object_object_add(o, "parent", json_object_new_string(l->parent));
	json_object_object_add(o, "cache_id", json_object_new_string(l->cache_id));
	json_object_object_add(o, "size", json_object_new_int64(l->size));
	json_object_object_add(o, "tar_size", json_object_new_int64(l->tar_size));
	json_object_object_add(o, "created", json_object_new_int64(l->created));
	if (l->tar_split)
		json_object_object_add(o, "tar_split", json_object_new_boolean(true));
	json_object *h = json_object_new_array();
	for (size_t i = 0; i < l->nholders; i++)
		json_object_array_add(h, json_object_new_string(l->holders[i]));
	json_object_object_add(o, "holders", h);
	return o;
}

static int layer_from_json(json_object *o, struct st_layer *l, const char *what, struct st_error *err)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->chain_id, sizeof(l->chain_id), "%s", st_json_str(o, "chain_id"));
	snprintf(l->diff_id, sizeof(l->diff_id), "%s", st_json_str(o, "diff_id"));
	snprintf(l->parent, sizeof(l->parent), "%s", st_json_str(o, "parent"));
	snprintf(l->cache_id, sizeof(l->cache_id), "%s", st_json_str(o, "cache_id"));
	l->size = st_json_int(o, "size");
	l->tar_size = st_json_int(o, "tar_size");
	l->created = st_json_int(o, "created");
	json_object *ts;
	l->tar_split = json_object_object_get_ex(o, "tar_split", &ts) && json_object_get_boolean(ts);
	if (!st_valid_digest(l->chain_id) || !st_valid_digest(l->diff_id) || !st_valid_id(l->cache_id) ||
	    (l->parent[0] && !st_valid_digest(l->parent)))
		return st_error_fail(err, EINVAL, "layer metadata \"%s\" is damaged", what);
	json_object *h;
	if (json_object_object_get_ex(o, "holders", &h))
		for (size_t i = 0; i < json_object_array_length(h); i++)
			if (st_strv_push(&l->holders, &l->nholders,
					 json_object_get_string(json_object_array_get_idx(h, i))) < 0)
				return st_error_set(err, ENOMEM, "layer");
	return 0;
}

const char *ls_hex_of(const char *digest)
{
	return digest + 7;
}

int ls_layers_dir(struct st_store *s, struct st_error *err)
{
	return st_store_subdir(s, "layers", err);
}

int ls_load_layer(struct st_store *s, const char *chain, struct st_layer *l, struct st_error *err)
{
	if (!st_valid_digest(chain))
		return st_error_fail(err, EINVAL, "invalid layer id \"%s\": expected sha256:<64 hex digits>", chain);
	_cleanup_close_ int dfd = ls_layers_dir(s, err);
	if (dfd < 0)
		return dfd;
	char p[256];
	snprintf(p, sizeof(p), "%s/meta.json", ls_hex_of(chain));
	_cleanup_json_ json_object *o = NULL;
	struct st_error e2;
	int r = st_json_load_at(dfd, p, &o, &e2);
	if (r == -ENOENT || r == -ENOTDIR)
		return st_error_fail(err, ENOENT, "layer %s does not exist", chain);
	if (r < 0) {
		*err = e2;
		return r;
	}
	return layer_from_json(o, l, p, err);
}

int ls_save_layer(struct st_store *s, const struct st_layer *l, struct st_error *err)
{
	_cleanup_close_ int dfd = ls_layers_dir(s, err);
	if (dfd < 0)
		return dfd;
	_cleanup_close_ int lfd = st_open_nofollow(dfd, ls_hex_of(l->chain_id), O_RDONLY | O_DIRECTORY, 0);
	if (lfd < 0)
		return st_error_set(err, -lfd, "layer %s", l->chain_id);
	_cleanup_json_ json_object *o = ls_layer_json(l);
	return st_json_save_at(lfd, "meta.json", o, err);
}

int st_layer_list(struct st_store *s, struct st_layer **out, size_t *n, struct st_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_close_ int dfd = ls_layers_dir(s, err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t nn;
	int r = st_list_dir(dfd, &names, &nn);
	if (r < 0)
		return st_error_set(err, -r, "list \"%s/layers\"", s->root);
	struct st_layer *v = calloc(nn ? nn : 1, sizeof(*v));
	if (!v) {
		st_strv_free(names, nn);
		return st_error_set(err, ENOMEM, "list layers");
	}
	size_t k = 0;
	for (size_t i = 0; i < nn; i++) {
		if (names[i][0] == '.')
			continue;
		char chain[ST_DIGEST_LEN + 1];
		snprintf(chain, sizeof(chain), "sha256:%s", names[i]);
		struct st_error e2;
		if (ls_load_layer(s, chain, &v[k], &e2) == 0)
			k++;
	}
	st_strv_free(names, nn);
	*out = v;
	*n = k;
	return 0;
}

int st_layer_get(struct st_store *s, const char *chain_id, struct st_layer *out, struct st_error *err)
{
	return ls_load_layer(s, chain_id, out, err);
}

bool ls_has_holder(const struct st_layer *l, const char *holder)
{
	for (size_t i = 0; i < l->nholders; i++)
		if (strcmp(l->holders[i], holder) == 0)
			return true;
	return false;
}

int ls_check_holder(const char *holder, struct st_error *err)
{
	if (!holder || !*holder || strchr(holder, '\n') || strlen(holder) > 256)
		return st_error_fail(err, EINVAL, "invalid layer holder \"%s\"", holder ? holder : "");
	return 0;
}

int st_layer_hold(struct st_store *s, const char *chain_id, const char *holder, struct st_error *err)
{
	int r = ls_check_holder(holder, err);
	if (r < 0 || (r = st_store_lock(s, err)) < 0)
		return r;
	struct st_layer l;
	if ((r = ls_load_layer(s, chain_id, &l, err)) >= 0 && !ls_has_holder(&l, holder)) {
		if (st_strv_push(&l.holders, &l.nholders, holder) < 0)
			r = st_error_set(err, ENOMEM, "layer");
		else
			r = ls_save_layer(s, &l, err);
	}
	st_layer_free(&l);
	st_store_unlock(s);
	return r;
}

/* ------------------------------------------------------------- removal */

static bool has_children(struct st_store *s, const char *chain)
{
	struct st_layer *v;
	size_t n;
	struct st_error e;
	if (st_layer_list(s, &v, &n, &e) < 0)
		return true;
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = strcmp(v[i].parent, chain) == 0;
	st_layer_list_free(v, n);
	return any;
}

/* Remove chain if nothing holds it, then its parents the same way.
 * Caller holds the store lock. */
static int remove_unused(struct st_store *s, const char *chain, struct st_error *err)
{
	char cur[ST_DIGEST_LEN + 1];
	snprintf(cur, sizeof(cur), "%s", chain);
	while (cur[0]) {
		struct st_layer l;
		int r = ls_load_layer(s, cur, &l, err);
		if (r < 0)
			return r;
		bool keep = l.nholders > 0 || has_children(s, cur) || st_lease_holds(s, cur);
		char parent[ST_DIGEST_LEN + 1], cache[129];
		snprintf(parent, sizeof(parent), "%s", l.parent);
		snprintf(cache, sizeof(cache), "%s", l.cache_id);
		st_layer_free(&l);
		if (keep)
			return 0;
		_cleanup_close_ int dfd = ls_layers_dir(s, err);
		if (dfd < 0)
			return dfd;
		char rnd[17], trash[128];
		st_random_hex(rnd, 8);
		snprintf(trash, sizeof(trash), ".trash-%s-%s", ls_hex_of(cur), rnd);
		if (renameat(dfd, ls_hex_of(cur), dfd, trash) < 0)
			return st_error_set(err, errno, "remove layer %s", cur);
		st_fsync_dir(dfd);
		if (st_drv_exists(s->driver, cache) && (r = st_drv_remove(s->driver, cache, err)) < 0) {
			renameat(dfd, trash, dfd, ls_hex_of(cur)); /* still there and usable */
			st_fsync_dir(dfd);
			return st_error_wrap(err, "remove layer %s", cur);
		}
		if ((r = st_rm_rf_at(dfd, trash, err)) < 0)
			return r;
		snprintf(cur, sizeof(cur), "%s", parent);
	}
	return 0;
}

int st_layer_release(struct st_store *s, const char *chain_id, const char *holder, struct st_error *err)
{
	int r = ls_check_holder(holder, err);
	if (r < 0 || (r = st_store_lock(s, err)) < 0)
		return r;
	struct st_layer l;
	if ((r = ls_load_layer(s, chain_id, &l, err)) < 0)
		goto out;
	bool found = false;
	for (size_t i = 0; i < l.nholders; i++) {
		if (strcmp(l.holders[i], holder) != 0)
			continue;
		free(l.holders[i]);
		memmove(&l.holders[i], &l.holders[i + 1], (l.nholders - i) * sizeof(char *));
		l.nholders--;
		found = true;
		break;
	}
	if (found)
		r = ls_save_layer(s, &l, err);
	st_layer_free(&l);
	if (r >= 0)
		r = remove_unused(s, chain_id, err);
out:
	st_store_unlock(s);
	return r;
}

/* Finish removals and drop half-built layers left by killed processes. */
int st_layer_store_recover(struct st_store *s, struct st_error *err)
{
	_cleanup_close_ int dfd = ls_layers_dir(s, err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t n;
	int r = st_list_dir_prefix(dfd, ".", &names, &n);
	if (r < 0)
		return st_error_set(err, -r, "list \"%s/layers\"", s->root);
	char **parents = NULL;
	size_t nparents = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (st_str_has_prefix(names[i], ".trash-")) {
			/* the driver layer of a removal that was cut short */
			char p[256];
			snprintf(p, sizeof(p), "%s/meta.json", names[i]);
			_cleanup_json_ json_object *o = NULL;
			struct st_error e2;
			if (st_json_load_at(dfd, p, &o, &e2) == 0) {
				const char *cache = st_json_str(o, "cache_id");
				if (st_valid_id(cache) && st_drv_exists(s->driver, cache) &&
				    st_drv_remove(s->driver, cache, &e2) < 0) {
					/* busy: leave it for system check */
					continue;
				}
				/* the cut-short removal had yet to walk up to the parent */
				const char *parent = st_json_str(o, "parent");
				if (st_valid_digest(parent) && st_strv_push(&parents, &nparents, parent) < 0)
					r = st_error_set(err, ENOMEM, "recover layers");
			}
			if (r >= 0)
				r = st_rm_rf_at(dfd, names[i], err);
		} else if (st_str_has_prefix(names[i], ".tmp-")) {
			/* a layer being made by a live process has its driver layer leased */
			if (!st_lease_claims_driver_layer(s, names[i] + 5))
				r = st_rm_rf_at(dfd, names[i], err);
		}
	}
	for (size_t i = 0; i < nparents && r >= 0; i++) {
		struct st_layer l;
		struct st_error e2;
		if (ls_load_layer(s, parents[i], &l, &e2) < 0)
			continue;
		st_layer_free(&l);
		remove_unused(s, parents[i], &e2); /* busy: left for system check */
	}
	st_strv_free(parents, nparents);
	st_strv_free(names, n);
	return r;
}
