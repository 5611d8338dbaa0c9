/* The end of a lease: its files go, and the layers only its claims kept;
 * a lease whose process died is swept at open: the driver layers it was
 * making removed unless handed over (to a published layer, to a container),
 * its holders "lease:NAME" and scratch directories dropped. */
#include <sys/file.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "store_int.h"

/* A layer kept only by a claim (a release meanwhile found it claimed and
 * left it) goes once the claim does: chain ids from a JSON array or v. */
static void drop_unused(struct st_store *s, json_object *a, char **v, size_t n)
{
	size_t na = a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < na + n; i++) {
		const char *chain = i < na ? json_object_get_string(json_object_array_get_idx(a, i)) : v[i - na];
		struct st_layer l;
		struct st_error e;
		if (!chain || st_layer_get(s, chain, &l, &e) < 0)
			continue;
		st_layer_free(&l);
		/* releasing a holder it does not have removes it when unused */
		st_layer_release(s, chain, "lease-claim", &e);
	}
}

/* Is driver layer id someone else's now: a published layer's cache id or a
 * driver layer a holder kind owns (a container's layers)? layers: the
 * published layers, loaded at first use. */
static bool handed_over_to(struct st_store *s, const char *id, struct st_layer **layers, size_t *n, bool *loaded)
{
	if (!*loaded) {
		struct st_error e;
		if (st_layer_list(s, layers, n, &e) < 0) {
			*layers = NULL;
			*n = 0;
		}
		*loaded = true;
	}
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*layers)[i].cache_id, id) == 0)
			return true;
	return st_holders_own_driver_layer(s, id);
}

static void lease_free(struct st_lease *l)
{
	st_strv_free(l->layers, l->nlayers);
	st_strv_free(l->driver_layers, l->ndriver_layers);
	l->layers = l->driver_layers = NULL;
	l->nlayers = l->ndriver_layers = 0;
}

void st_lease_abandon(struct st_lease *l)
{
	st_unlock(&l->lock_fd);
	lease_free(l);
}

void st_lease_end(struct st_lease *l)
{
	if (l->lock_fd >= 0) {
		/* a driver layer still claimed and still there is one whose
		 * removal failed (a full disk, a busy mount): the lease stays
		 * for the next open's sweep to retry */
		struct st_layer *v = NULL;
		size_t nv = 0;
		bool loaded = false, left = false;
		for (size_t i = 0; i < l->ndriver_layers && !left; i++)
			left = st_valid_id(l->driver_layers[i]) &&
			       st_drv_parent(l->s->driver, l->driver_layers[i], (char[130]){0}, 130, &(struct st_error){0}) == 0 &&
			       !handed_over_to(l->s, l->driver_layers[i], &v, &nv, &loaded);
		st_layer_list_free(v, nv);
		if (left) {
			st_lease_abandon(l);
			return;
		}
		struct st_error e;
		_cleanup_close_ int dfd = st_store_subdir(l->s, "leases", &e);
		if (dfd >= 0)
			lease_files_remove(dfd, l->name);
		st_unlock(&l->lock_fd);
		if (l->nlayers)
			drop_unused(l->s, NULL, l->layers, l->nlayers);
	}
	st_strv_free(l->layers, l->nlayers);
	st_strv_free(l->driver_layers, l->ndriver_layers);
	l->layers = l->driver_layers = NULL;
	l->nlayers = l->ndriver_layers = 0;
}

/* Drop layer holders named after a dead lease. */
static void release_lease_holders(struct st_store *s, const char *name)
{
	char holder[64];
	snprintf(holder, sizeof(holder), "lease:%s", name);
	struct st_layer *v;
	size_t n;
	struct st_error e;
	if (st_layer_list(s, &v, &n, &e) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nholders; k++)
			if (strcmp(v[i].holders[k], holder) == 0)
				st_layer_release(s, v[i].chain_id, holder, &e);
	st_layer_list_free(v, n);
}

struct sweep_ctx {
	struct st_store *s;
	struct st_error *err;
	struct st_layer *layers; /* the published layers, loaded once */
	size_t nlayers;
	bool loaded;
};

/* A driver layer the dead process had already handed over (a published
 * layer's cache id, a created container's layer) is not its to remove: it
 * was killed after publishing and before dropping its claim. */
static bool handed_over(struct sweep_ctx *c, const char *id)
{
	return handed_over_to(c->s, id, &c->layers, &c->nlayers, &c->loaded);
}

/* The claims of a dead lease as its sweep goes on: "layers" emptied (so
 * the layer store no longer counts them while we hold the lease's lock),
 * kept as "claimed" to be dropped with the holders if unused by then. */
static int save_claims(int dfd, const char *name, json_object *driver_layers, json_object *claimed,
		       struct st_error *err)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object_object_add(o, "layers", json_object_new_array());
	json_object_object_add(o, "driver_layers", json_object_get(driver_layers));
	json_object_object_add(o, "claimed", json_object_get(claimed));
	char js[80];
	snprintf(js, sizeof(js), "%s.json", name);
	return st_json_save_at(dfd, js, o, err);
}

/* Undo what a dead lease claimed. Every step can be cut short by another
 * kill and redone by the next sweep: the claims on layers go first (while
 * we hold its lock the lease looks alive to the layer store), then its
 * driver layers, newest first (a build's stack on each other). That is done
 * for every dead lease before any layer holder is dropped: a dead process
 * may have held published layers with one lease while another of its
 * leases had a driver layer on top of them (a load registering its next
 * layer), and the layer store cannot remove a layer under a driver child. */
static int sweep_driver_layers_fn(void *ctx, int dfd, const char *name, bool alive, json_object *o)
{
	struct sweep_ctx *c = ctx;
	if (alive)
		return 0;
	struct st_error e;
	json_object *a = NULL;
	_cleanup_json_ json_object *left = json_object_new_array();
	if (!o || !json_object_object_get_ex(o, "driver_layers", &a) || !json_object_is_type(a, json_type_array))
		return 0;
	_cleanup_json_ json_object *claimed = json_object_new_array();
	static const char *const keys[] = {"claimed", "layers"};
	for (size_t k = 0; k < 2; k++) {
		json_object *v;
		if (json_object_object_get_ex(o, keys[k], &v) && json_object_is_type(v, json_type_array))
			for (size_t i = 0; i < json_object_array_length(v); i++)
				json_object_array_add(claimed, json_object_get(json_object_array_get_idx(v, i)));
	}
	/* (on a full disk this fails: the removals below are what frees the
	 * space, and they can be redone, so they go ahead all the same) */
	save_claims(dfd, name, a, claimed, &e);
	/* newest first; and again while that removes something, as a layer
	 * claimed before its child (a container's init layer, say) can only
	 * go after it */
	_cleanup_json_ json_object *pending = json_object_get(a);
	for (bool progress = true; progress && json_object_array_length(pending) > 0;) {
		progress = false;
		bool *gone = calloc(json_object_array_length(pending), sizeof(*gone));
		if (!gone) { /* all kept, for the next sweep */
			json_object_put(left);
			left = json_object_get(pending);
			break;
		}
		for (size_t i = json_object_array_length(pending); i > 0; i--) {
			const char *id = json_object_get_string(json_object_array_get_idx(pending, i - 1));
			if (!st_valid_id(id) || st_drv_parent(c->s->driver, id, (char[130]){0}, 130, &e) < 0 ||
			    handed_over(c, id)) {
				gone[i - 1] = true;
				continue;
			}
			/* a mount left by the dead process goes first */
			while (st_drv_mount_count(c->s->driver, id) > 0 && st_drv_put(c->s->driver, id, &e) == 0)
				;
			gone[i - 1] = st_drv_remove(c->s->driver, id, &e) == 0;
			progress |= gone[i - 1];
		}
		/* what is still there, in the order of the claims */
		json_object_put(left);
		left = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(pending); i++)
			if (!gone[i])
				json_object_array_add(left, json_object_get(json_object_array_get_idx(pending, i)));
		free(gone);
		json_object_put(pending);
		pending = json_object_get(left);
	}
	/* what is left, oldest first, as claimed */
	save_claims(dfd, name, left, claimed, &e);
	return 0;
}

static void sweep_scratch(struct st_store *s, const char *name)
{
	struct st_error e;
	_cleanup_close_ int tfd = st_store_subdir(s, "tmp", &e);
	char **names;
	size_t n;
	if (tfd < 0 || st_list_dir(tfd, &names, &n) < 0)
		return;
	size_t nl = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (strncmp(names[i], name, nl) == 0 && names[i][nl] == '-')
			st_rm_rf_at(tfd, names[i], &e);
	st_strv_free(names, n);
}

/* Then its layer holders; the lease files go last, and stay while a driver
 * layer could not be removed (a mount still busy), for the next open to
 * retry. A copy of its claims that the kill cut short goes with them. */
static int sweep_holders_fn(void *ctx, int dfd, const char *name, bool alive, json_object *o)
{
	struct sweep_ctx *c = ctx;
	if (alive)
		return 0;
	c->s->sweep = true; /* what the dead process made may be left in the store */
	json_object *claims;
	if (o && json_object_object_get_ex(o, "layers", &claims) && json_object_is_type(claims, json_type_array) &&
	    json_object_array_length(claims) > 0) {
		/* the first pass could not write its progress (a full disk):
		 * while its claims stand, nothing it claimed can be dropped */
		json_object *dl = NULL;
		struct st_error e;
		_cleanup_json_ json_object *none = json_object_new_array();
		if (!json_object_object_get_ex(o, "driver_layers", &dl))
			dl = none;
		if (save_claims(dfd, name, dl, claims, &e) < 0)
			return 0;
		json_object_object_add(o, "claimed", json_object_get(claims));
	}
	release_lease_holders(c->s, name);
	json_object *a = NULL;
	if (o && json_object_object_get_ex(o, "driver_layers", &a) && json_object_is_type(a, json_type_array) &&
	    json_object_array_length(a) > 0)
		return 0;
	if (o && json_object_object_get_ex(o, "claimed", &a))
		drop_unused(c->s, a, NULL, 0);
	char **names;
	size_t n;
	char tmp[80];
	snprintf(tmp, sizeof(tmp), ".tmp-%s.json-", name);
	if (st_list_dir(dfd, &names, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (st_str_has_prefix(names[i], tmp))
				unlinkat(dfd, names[i], 0);
		st_strv_free(names, n);
	}
	sweep_scratch(c->s, name);
	lease_files_remove(dfd, name);
	return 0;
}

int st_lease_sweep(struct st_store *s, struct st_error *err)
{
	struct sweep_ctx c = {s, err, NULL, 0, false};
	int r = lease_each(s, sweep_driver_layers_fn, &c, err);
	if (r >= 0)
		r = lease_each(s, sweep_holders_fn, &c, err);
	st_layer_list_free(c.layers, c.nlayers);
	return r;
}
