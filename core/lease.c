/* Leases: claims of running operations, released by process death. */
#include <fcntl.h>

#include "fs.h"
#include "json.h"
#include "lease.h"
#include "lock.h"
#include "util.h"

static int lease_save(struct st_lease *l, struct st_error *err)
{
	_cleanup_close_ int dfd = st_store_subdir(l->s, "leases", err);
	if (dfd < 0)
		return dfd;
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object *a = json_object_new_array(), *b = json_object_new_array();
	for (size_t i = 0; i < l->nlayers; i++)
		json_object_array_add(a, json_object_new_string(l->layers[i]));
	for (size_t i = 0; i < l->ndriver_layers; i++)
		json_object_array_add(b, json_object_new_string(l->driver_layers[i]));
	json_object_object_add(o, "layers", a);
	json_object_object_add(o, "driver_layers", b);
	char name[64];
	snprintf(name, sizeof(name), "%s.json", l->name);
	return st_json_save_at(dfd, name, o, err);
}

int st_lease_new(struct st_store *s, struct st_lease *l, struct st_error *err)
{
	memset(l, 0, sizeof(*l));
	l->s = s;
	l->lock_fd = -1;
	int r = st_random_hex(l->name, 16);
	if (r < 0)
		return st_error_set(err, -r, "lease");
	_cleanup_close_ int dfd = st_store_subdir(s, "leases", err);
	if (dfd < 0)
		return dfd;
	char lk[64];
	snprintf(lk, sizeof(lk), "%s.lock", l->name);
	l->lock_fd = st_trylock_at(dfd, lk, LOCK_EX, err);
	if (l->lock_fd < 0)
		return l->lock_fd == -EWOULDBLOCK ? st_error_fail(err, EBUSY, "lease %s is taken", l->name)
						  : l->lock_fd;
	return lease_save(l, err);
}

int st_lease_add_layer(struct st_lease *l, const char *chain_id, struct st_error *err)
{
	if (st_strv_push(&l->layers, &l->nlayers, chain_id) < 0)
		return st_error_set(err, ENOMEM, "lease");
	return lease_save(l, err);
}

int st_lease_add_driver_layer(struct st_lease *l, const char *id, struct st_error *err)
{
	if (st_strv_push(&l->driver_layers, &l->ndriver_layers, id) < 0)
		return st_error_set(err, ENOMEM, "lease");
	return lease_save(l, err);
}

int st_lease_drop_driver_layer(struct st_lease *l, const char *id, struct st_error *err)
{
	for (size_t i = 0; i < l->ndriver_layers; i++) {
		if (strcmp(l->driver_layers[i], id) != 0)
			continue;
		free(l->driver_layers[i]);
		memmove(&l->driver_layers[i], &l->driver_layers[i + 1],
			(l->ndriver_layers - i) * sizeof(char *));
		l->ndriver_layers--;
		return lease_save(l, err);
	}
	return 0;
}

static void lease_files_remove(int dfd, const char *name)
{
	char p[64];
	snprintf(p, sizeof(p), "%s.json", name);
	unlinkat(dfd, p, 0);
	snprintf(p, sizeof(p), "%s.lock", name);
	unlinkat(dfd, p, 0);
}

void st_lease_end(struct st_lease *l)
{
	if (l->lock_fd >= 0) {
		struct st_error e;
		_cleanup_close_ int dfd = st_store_subdir(l->s, "leases", &e);
		if (dfd >= 0)
			lease_files_remove(dfd, l->name);
		st_unlock(&l->lock_fd);
	}
	st_strv_free(l->layers, l->nlayers);
	st_strv_free(l->driver_layers, l->ndriver_layers);
	l->layers = l->driver_layers = NULL;
	l->nlayers = l->ndriver_layers = 0;
}

void st_lease_holder(const struct st_lease *l, char *buf, size_t len)
{
	snprintf(buf, len, "lease:%s", l->name);
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

/* Calls fn for each lease; alive tells whether its process still holds it. */
static int each_lease(struct st_store *s, int (*fn)(void *, int dfd, const char *name, bool alive, json_object *o),
		      void *ctx, struct st_error *err)
{
	_cleanup_close_ int dfd = st_store_subdir(s, "leases", err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t n;
	int r = st_list_dir(dfd, &names, &n);
	if (r < 0)
		return st_error_set(err, -r, "list leases");
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!st_str_has_suffix(names[i], ".lock"))
			continue;
		char name[64], js[80];
		snprintf(name, sizeof(name), "%.*s", (int)(strlen(names[i]) - 5), names[i]);
		snprintf(js, sizeof(js), "%s.json", name);
		struct st_error e;
		int lfd = st_trylock_at(dfd, names[i], LOCK_EX, &e);
		bool alive = lfd == -EWOULDBLOCK;
		json_object *o = NULL;
		if (st_json_load_at(dfd, js, &o, &e) < 0)
			o = NULL;
		r = fn(ctx, dfd, name, alive, o);
		if (o)
			json_object_put(o);
		if (lfd >= 0)
			st_unlock(&lfd);
	}
	st_strv_free(names, n);
	return r;
}

struct holds_ctx {
	const char *chain;
};

static int holds_fn(void *ctx, int dfd, const char *name, bool alive, json_object *o)
{
	(void)dfd;
	(void)name;
	struct holds_ctx *h = ctx;
	json_object *a;
	if (!alive || !o || !json_object_object_get_ex(o, "layers", &a))
		return 0;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), h->chain) == 0)
			return 1;
	return 0;
}

bool st_lease_holds(struct st_store *s, const char *chain_id)
{
	struct holds_ctx h = {chain_id};
	struct st_error e;
	return each_lease(s, holds_fn, &h, &e) > 0;
}

struct sweep_ctx {
	struct st_store *s;
	struct st_error *err;
};

static int sweep_fn(void *ctx, int dfd, const char *name, bool alive, json_object *o)
{
	struct sweep_ctx *c = ctx;
	if (alive)
		return 0;
	/* the claims go first, or the checks below would still see them */
	lease_files_remove(dfd, name);
	json_object *a;
	if (o && json_object_object_get_ex(o, "driver_layers", &a)) {
		/* newest first: a build's layers stack on each other */
		for (size_t i = json_object_array_length(a); i > 0; i--) {
			const char *id = json_object_get_string(json_object_array_get_idx(a, i - 1));
			struct st_error e;
			if (st_valid_id(id) && st_drv_parent(c->s->driver, id, (char[130]){0}, 130, &e) == 0) {
				/* a mount left by the dead process goes first */
				while (st_drv_mount_count(c->s->driver, id) > 0 && st_drv_put(c->s->driver, id, &e) == 0)
					;
				st_drv_remove(c->s->driver, id, &e);
			}
		}
	}
	release_lease_holders(c->s, name);
	return 0;
}

int st_lease_sweep(struct st_store *s, struct st_error *err)
{
	struct sweep_ctx c = {s, err};
	return each_lease(s, sweep_fn, &c, err);
}
