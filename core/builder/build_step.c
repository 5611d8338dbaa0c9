/* The generic steps of a build: progress output, expansion of an
 * instruction's words with the stage's ARGs and ENV, and the two kinds of
 * step, through the build cache: one that only changes the config, and one
 * that fills a read-write layer and commits it. */
#include <fcntl.h>
#include <limits.h>
#include <time.h>

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"
#include "builder/builder.h"
#include "dockerfile.h"
#include "build_int.h"

void bld_say(struct builder *b, const char *fmt, ...)
{
	if (!b->out)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(b->out, fmt, ap);
	va_end(ap);
	fflush(b->out);
}

void bld_short_id(const char *id, char out[13])
{
	snprintf(out, 13, "%s", st_str_has_prefix(id, "sha256:") ? id + 7 : id);
}

int bld_fail_at(struct builder *b, const struct st_df_instr *in, int r)
{
	return st_error_wrap(b->err, "%s:%d: %s", b->o->dockerfile ? b->o->dockerfile : "Dockerfile", in->line,
			     in->cmd);
}

/* --------------------------------------------------------- expansion */

/* Variables visible to an instruction: the stage's ARGs, then ENV (wins). */
static void stage_vars(struct stage *sg, struct st_kvlist *vars)
{
	for (size_t i = 0; i < sg->args.n; i++)
		st_kvlist_add(vars, sg->args.v[i].key, "%s", sg->args.v[i].value);
	bld_env_list(sg->st.cfg, vars);
}

int bld_expand(struct builder *b, struct stage *sg, const char *word, char **out)
{
	struct st_kvlist vars = {0};
	if (sg)
		stage_vars(sg, &vars);
	else
		for (size_t i = 0; i < b->meta_args.n; i++)
			st_kvlist_add(&vars, b->meta_args.v[i].key, "%s", b->meta_args.v[i].value);
	int r = st_df_expand(word, &vars, b->df.escape, out, b->err);
	st_kvlist_free(&vars);
	return r;
}

int bld_expand_words(struct builder *b, struct stage *sg, const struct st_df_instr *in, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct st_kvlist vars = {0};
	stage_vars(sg, &vars);
	int r = 0;
	for (size_t i = 0; i < in->nargs && r >= 0; i++) {
		if (in->json) {
			char *w = NULL;
			r = st_df_expand(in->args[i], &vars, b->df.escape, &w, b->err);
			if (r >= 0)
				r = st_strv_push(out, n, w);
			free(w);
		} else {
			char **ws = NULL;
			size_t nw = 0;
			r = st_df_expand_words(in->args[i], &vars, b->df.escape, &ws, &nw, b->err);
			for (size_t k = 0; r >= 0 && k < nw; k++)
				r = st_strv_push(out, n, ws[k]);
			st_strv_free(ws, nw);
		}
	}
	st_kvlist_free(&vars);
	return r;
}

void bld_mark_used(struct builder *b, const char *name)
{
	for (size_t i = 0; i < b->nused; i++)
		if (strcmp(b->used_args[i], name) == 0)
			return;
	st_strv_push(&b->used_args, &b->nused, name);
}

/* ------------------------------------------------------------- steps */

static void history_add(json_object *cfg, const char *created, const char *by, bool empty)
{
	json_object *h;
	if (!json_object_object_get_ex(cfg, "history", &h) || !json_object_is_type(h, json_type_array)) {
		h = json_object_new_array();
		json_object_object_add(cfg, "history", h);
	}
	json_object *e = json_object_new_object();
	json_object_object_add(e, "created", json_object_new_string(created));
	json_object_object_add(e, "created_by", json_object_new_string(by));
	if (empty)
		json_object_object_add(e, "empty_layer", json_object_new_boolean(true));
	json_object_array_add(h, e);
}

static void replace_state(struct stage *sg, struct st_build_state *ns)
{
	json_object_put(sg->st.cfg);
	sg->st = *ns;
}

/* Keep a layer the build stands on (a FROM image's, a cache hit's) until
 * the image holds it: a concurrent rmi or prune cannot take it away
 * mid-build. -ENOENT when it is gone already. */
int bld_hold_top(struct builder *b, const char *top)
{
	if (!top[0])
		return 0;
	for (size_t i = 0; i < b->nheld; i++)
		if (strcmp(b->held[i], top) == 0)
			return 0;
	int r = st_layer_hold(b->s, top, b->holder, b->err);
	if (r < 0)
		return r;
	if (st_strv_push(&b->held, &b->nheld, top) < 0) {
		struct st_error ignore;
		st_layer_release(b->s, top, b->holder, &ignore);
		return st_error_set(b->err, ENOMEM, "build");
	}
	return 0;
}

/* A cache hit whose layer can still be held; 0 (a miss) when it went away
 * meanwhile. */
static int cache_hit(struct builder *b, const char *key, struct st_build_state *ns)
{
	if (b->o->no_cache)
		return 0;
	int r = st_cache_get(b->s, key, ns, b->err);
	if (r <= 0)
		return r;
	if ((r = bld_hold_top(b, ns->top)) < 0) {
		json_object_put(ns->cfg);
		memset(ns, 0, sizeof(*ns));
		return r == -ENOENT ? 0 : r;
	}
	return 1;
}

/* A step that only changes the config. mutate returns <0 on error. */
int bld_meta_step(struct builder *b, struct stage *sg, const char *by,
		  int (*mutate)(struct builder *, struct stage *, json_object *, void *), void *ctx)
{
	char key[ST_DIGEST_LEN + 1], sid[13];
	st_cache_key(&sg->st, by, "meta", key);
	struct st_build_state ns = {0};
	int r;
	if ((r = cache_hit(b, key, &ns)) < 0)
		return r;
	if (r > 0) {
		replace_state(sg, &ns);
		bld_short_id(sg->st.id, sid);
		bld_say(b, " ---> Using cache\n ---> %s\n", sid);
		return 0;
	}
	ns.cfg = bld_copy_json(sg->st.cfg);
	if (!ns.cfg)
		return st_error_set(b->err, ENOMEM, "build");
	snprintf(ns.top, sizeof(ns.top), "%s", sg->st.top);
	if ((r = mutate(b, sg, ns.cfg, ctx)) < 0) {
		json_object_put(ns.cfg);
		return r;
	}
	char created[64];
	st_format_time(created, sizeof(created));
	json_object_object_add(ns.cfg, "created", json_object_new_string(created));
	history_add(ns.cfg, created, by, true);
	st_state_seal(&ns);
	if ((r = st_cache_put(b->s, key, &ns, b->err)) < 0) {
		json_object_put(ns.cfg);
		return r;
	}
	replace_state(sg, &ns);
	bld_short_id(sg->st.id, sid);
	bld_say(b, " ---> %s\n", sid);
	return 0;
}


int bld_top_cache_id(struct builder *b, const char *top, char *cache, size_t len)
{
	cache[0] = '\0';
	if (!top[0])
		return 0;
	struct st_layer l;
	int r = st_layer_get(b->s, top, &l, b->err);
	if (r < 0)
		return r;
	snprintf(cache, len, "%s", l.cache_id);
	st_layer_free(&l);
	return 0;
}

/* A step that makes a layer: a read-write layer on the state's top, filled,
 * then committed (in place where the driver can). */
int bld_layer_step(struct builder *b, struct stage *sg, const char *by, const char *extra, fill_fn fill,
		   void *ctx)
{
	char key[ST_DIGEST_LEN + 1], sid[13];
	st_cache_key(&sg->st, by, extra, key);
	struct st_build_state ns = {0};
	int r;
	if ((r = cache_hit(b, key, &ns)) < 0)
		return r;
	if (r > 0) {
		replace_state(sg, &ns);
		bld_short_id(sg->st.id, sid);
		bld_say(b, " ---> Using cache\n ---> %s\n", sid);
		return 0;
	}
	double t0 = st_now();
	struct st_driver *d = st_store_driver(b->s);
	char parent[130], rw[65], path[PATH_MAX];
	if ((r = bld_top_cache_id(b, sg->st.top, parent, sizeof(parent))) < 0)
		return r;
	st_random_hex(rw, 32);
	if ((r = st_lease_add_driver_layer(&b->lease, rw, b->err)) < 0 ||
	    (r = st_drv_create(d, rw, parent[0] ? parent : NULL, true, NULL, b->err)) < 0)
		return r;
	if ((r = st_drv_get(d, rw, path, sizeof(path), b->err)) >= 0) {
		int rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = rootfd < 0 ? st_error_set(b->err, errno, "open \"%s\"", path) : fill(b, sg, path, rootfd, ctx);
		if (rootfd >= 0)
			close(rootfd);
		struct st_error e2;
		int pr = st_drv_put(d, rw, &e2);
		if (r >= 0 && pr < 0) {
			*b->err = e2;
			r = pr;
		}
	}
	if (r < 0) {
		struct st_error ignore;
		/* a failed step leaves no layer behind; if even that fails (a
		 * full disk), the claim stays for the sweep of the next open */
		if (st_drv_remove(d, rw, &ignore) >= 0)
			st_lease_drop_driver_layer(&b->lease, rw, &ignore);
		return r;
	}
	struct st_layer l = {0};
	r = st_layer_commit_rw(b->s, sg->st.top[0] ? sg->st.top : NULL, rw, b->holder, &l, b->err);
	struct st_error ignore;
	st_lease_drop_driver_layer(&b->lease, rw, &ignore);
	if (r < 0)
		return r;
	/* committed with our holder: released with the others at the end */
	if ((r = bld_hold_top(b, l.chain_id)) < 0) {
		st_layer_free(&l);
		return r;
	}
	ns.cfg = bld_copy_json(sg->st.cfg);
	json_object *rootfs, *ids;
	if (!json_object_object_get_ex(ns.cfg, "rootfs", &rootfs)) {
		rootfs = json_object_new_object();
		json_object_object_add(rootfs, "type", json_object_new_string("layers"));
		json_object_object_add(ns.cfg, "rootfs", rootfs);
	}
	if (!json_object_object_get_ex(rootfs, "diff_ids", &ids)) {
		ids = json_object_new_array();
		json_object_object_add(rootfs, "diff_ids", ids);
	}
	json_object_array_add(ids, json_object_new_string(l.diff_id));
	char created[64];
	st_format_time(created, sizeof(created));
	json_object_object_add(ns.cfg, "created", json_object_new_string(created));
	history_add(ns.cfg, created, by, false);
	snprintf(ns.top, sizeof(ns.top), "%s", l.chain_id);
	st_layer_free(&l);
	st_state_seal(&ns);
	if ((r = st_cache_put(b->s, key, &ns, b->err)) < 0) {
		json_object_put(ns.cfg);
		return r;
	}
	replace_state(sg, &ns);
	bld_short_id(sg->st.id, sid);
	bld_say(b, " ---> %s (%.2f s)\n", sid, st_now() - t0);
	return 0;
}
