/* The build: stages, steps, the cache, RUN through the OCI runtime.
 *
 * A state is an image config (plus its top layer); its id is the sha256 of
 * the config text, which becomes the image id when the build ends there.
 * Each step maps (parent state, expanded instruction, copied content) to a
 * new state through the build cache, so any image sharing the first steps
 * shares their layers.
 *
 * This file: the builder's state, expansion, the generic steps, stages and
 * st_build; the config (build_config.c) and the instructions (build_fill.c,
 * build_meta.c) are their own files. */
#include <fcntl.h>
#include <limits.h>

#include "builder/builder.h"
#include "base/base.h"
#include "dockerfile.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
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

static void short_id(const char *id, char out[13])
{
	snprintf(out, 13, "%s", st_str_has_prefix(id, "sha256:") ? id + 7 : id);
}

static int fail_at(struct builder *b, const struct st_df_instr *in, int r)
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
static int hold_top(struct builder *b, const char *top)
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
	if ((r = hold_top(b, ns->top)) < 0) {
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
		short_id(sg->st.id, sid);
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
	short_id(sg->st.id, sid);
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
		short_id(sg->st.id, sid);
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
	if ((r = hold_top(b, l.chain_id)) < 0) {
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
	short_id(sg->st.id, sid);
	bld_say(b, " ---> %s (%.2f s)\n", sid, st_now() - t0);
	return 0;
}

/* ------------------------------------------------------------- stages */

static int instr_dispatch(struct builder *b, struct stage *sg, size_t sidx, const struct st_df_instr *in);

static int run_onbuild(struct builder *b, struct stage *sg, size_t sidx)
{
	json_object *ob;
	if (!json_object_object_get_ex(bld_cfg_config(sg->st.cfg), "OnBuild", &ob) || !json_object_is_type(ob, json_type_array) ||
	    json_object_array_length(ob) == 0)
		return 0;
	size_t n = json_object_array_length(ob);
	bld_say(b, "# Executing %zu build trigger%s\n", n, n == 1 ? "" : "s");
	/* the triggers are consumed: the new image does not carry them */
	json_object *triggers = json_object_get(ob);
	json_object_object_del(bld_cfg_config(sg->st.cfg), "OnBuild");
	st_state_seal(&sg->st);
	int r = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const char *t = json_object_get_string(json_object_array_get_idx(triggers, i));
		struct st_df_instr tin;
		if ((r = st_df_parse_trigger(t, "ONBUILD", &tin, b->err)) < 0)
			break;
		bld_say(b, "Step onbuild-%zu : %s\n", i + 1, tin.original);
		r = instr_dispatch(b, sg, sidx, &tin);
		st_df_instr_free(&tin);
	}
	json_object_put(triggers);
	return r;
}

static int do_from(struct builder *b, size_t sidx, const struct st_df_instr *in)
{
	struct stage *sg = &b->stages[sidx];
	if (in->nargs < 1)
		return st_error_fail(b->err, EINVAL, "FROM requires an image");
	_cleanup_free_ char *ref = NULL;
	int r = bld_expand(b, NULL, in->args[0], &ref);
	if (r < 0)
		return r;
	char sid[13];
	struct stage *base = bld_find_stage(b, ref, sidx);
	if (base && base->name && strcasecmp(base->name, ref) == 0) {
		sg->st.cfg = bld_copy_json(base->st.cfg);
		snprintf(sg->st.top, sizeof(sg->st.top), "%s", base->st.top);
	} else if (strcmp(ref, "scratch") == 0) {
		sg->st.cfg = bld_empty_config();
	} else {
		struct st_image img;
		if ((r = st_image_get(b->s, ref, &img, b->err)) < 0)
			return st_error_wrap(b->err, "FROM %s: import or load the image first", ref);
		r = st_json_parse(img.config, "image config", &sg->st.cfg, b->err);
		snprintf(sg->st.top, sizeof(sg->st.top), "%s", img.top);
		st_image_free(&img);
		if (r < 0 || (r = hold_top(b, sg->st.top)) < 0)
			return st_error_wrap(b->err, "FROM %s", ref);
	}
	if (!sg->st.cfg)
		return st_error_set(b->err, ENOMEM, "build");
	st_state_seal(&sg->st);
	short_id(sg->st.id, sid);
	bld_say(b, " ---> %s\n", sid);
	return run_onbuild(b, sg, sidx);
}

static int instr_dispatch(struct builder *b, struct stage *sg, size_t sidx, const struct st_df_instr *in)
{
	const char *c = in->cmd;
	if (!strcmp(c, "RUN"))
		return bld_do_run(b, sg, in);
	if (!strcmp(c, "COPY") || !strcmp(c, "ADD"))
		return bld_do_copy(b, sg, sidx, in, !strcmp(c, "ADD"));
	if (!strcmp(c, "ARG"))
		return bld_do_arg(b, sg, in);
	return bld_do_meta(b, sg, in);
}

static void builder_free(struct builder *b)
{
	for (size_t i = 0; i < b->nstages; i++) {
		free(b->stages[i].name);
		if (b->stages[i].st.cfg)
			json_object_put(b->stages[i].st.cfg);
		st_kvlist_free(&b->stages[i].args);
	}
	free(b->stages);
	st_kvlist_free(&b->meta_args);
	st_strv_free(b->used_args, b->nused);
	st_dockerfile_free(&b->df);
	st_dockerignore_free(&b->di);
	if (b->ctxfd >= 0)
		close(b->ctxfd);
	/* the image and the cache entries hold what they need by now */
	bool released = true;
	for (size_t i = 0; i < b->nheld; i++) {
		struct st_error ignore;
		int r = st_layer_release(b->s, b->held[i], b->holder, &ignore);
		released &= r >= 0 || r == -ENOENT;
	}
	st_strv_free(b->held, b->nheld);
	if (released)
		st_lease_end(&b->lease);
	else
		st_lease_abandon(&b->lease); /* the next open's sweep drops our holder */
}

static int load_inputs(struct builder *b)
{
	const struct st_build_opts *o = b->o;
	b->ctxfd = open(o->context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->ctxfd < 0)
		return st_error_set(b->err, errno, "build context \"%s\"", o->context);
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;
	const char *df = o->dockerfile ? o->dockerfile : "Dockerfile";
	if ((r = st_read_file_at(o->dockerfile ? AT_FDCWD : b->ctxfd, df, &text, &len, b->err)) < 0)
		return st_error_wrap(b->err, "read the Dockerfile");
	if ((r = st_dockerfile_parse(text, len, df, &b->df, b->err)) < 0)
		return r;
	_cleanup_free_ char *ign = NULL;
	struct st_error e2;
	if (st_read_file_at(b->ctxfd, ".dockerignore", &ign, &len, &e2) == 0 &&
	    (r = st_dockerignore_parse(ign, len, &b->di, b->err)) < 0)
		return st_error_wrap(b->err, ".dockerignore");
	return 0;
}

int st_build(struct st_store *s, const struct st_build_opts *o, char id[ST_DIGEST_LEN + 1], struct st_error *err)
{
	struct builder b = {.s = s, .o = o, .err = err, .out = o->out, .ctxfd = -1};
	b.lease.lock_fd = -1;
	int r = load_inputs(&b);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < o->ntags; i++) {
		char norm[300];
		if ((r = st_image_ref_normalize(o->tags[i], norm, sizeof(norm), err)) < 0)
			goto out;
	}
	/* stages: [first FROM, next FROM) */
	size_t first = 0;
	while (first < b.df.n && !strcmp(b.df.v[first].cmd, "ARG"))
		first++;
	if (first == b.df.n || strcmp(b.df.v[first].cmd, "FROM") != 0) {
		r = st_error_fail(err, EINVAL, "%s: no build stage: a Dockerfile must begin with FROM (after optional ARGs)",
				  o->dockerfile ? o->dockerfile : "Dockerfile");
		goto out;
	}
	size_t last = b.df.n, nst = 0;
	for (size_t i = first; i < b.df.n; i++)
		nst += !strcmp(b.df.v[i].cmd, "FROM");
	b.stages = calloc(nst, sizeof(*b.stages));
	if (!b.stages) {
		r = st_error_set(err, ENOMEM, "build");
		goto out;
	}
	for (size_t i = first, k = 0; i < b.df.n; i++)
		if (!strcmp(b.df.v[i].cmd, "FROM") && b.df.v[i].nargs > 1)
			b.stages[k++].name = strdup(b.df.v[i].args[1]);
		else if (!strcmp(b.df.v[i].cmd, "FROM"))
			k++;
	b.nstages = nst;
	if (o->target) {
		size_t k = 0, i;
		bool found = false;
		for (i = first; i < b.df.n; i++) {
			if (strcmp(b.df.v[i].cmd, "FROM") != 0)
				continue;
			if (found) {
				last = i;
				break;
			}
			found = b.stages[k].name && strcasecmp(b.stages[k].name, o->target) == 0;
			k++;
		}
		if (!found) {
			r = st_error_fail(err, EINVAL, "target stage \"%s\" could not be found", o->target);
			goto out;
		}
	}
	b.nsteps = (int)last;
	if ((r = st_lease_new(s, &b.lease, err)) < 0)
		goto out;
	st_lease_holder(&b.lease, b.holder, sizeof(b.holder));
	ssize_t cur = -1;
	for (size_t i = 0; i < last; i++) {
		const struct st_df_instr *in = &b.df.v[i];
		b.step++;
		bld_say(&b, "Step %d/%d : %s\n", b.step, b.nsteps, in->original);
		if (!strcmp(in->cmd, "FROM")) {
			cur++;
			r = do_from(&b, (size_t)cur, in);
		} else if (cur < 0) {
			r = bld_do_arg(&b, NULL, in);
		} else {
			r = instr_dispatch(&b, &b.stages[cur], (size_t)cur, in);
		}
		if (r < 0) {
			fail_at(&b, in, r);
			goto out;
		}
	}
	struct stage *fin = &b.stages[cur];
	size_t len;
	const char *text = st_state_text(&fin->st, &len);
	if ((r = st_image_create(s, text, len, id, err)) < 0)
		goto out;
	char sid[13];
	short_id(id, sid);
	bld_say(&b, "Successfully built %s\n", sid);
	for (size_t i = 0; i < o->ntags; i++) {
		char norm[300];
		st_image_ref_normalize(o->tags[i], norm, sizeof(norm), err);
		if ((r = st_image_tag(s, id, norm, err)) < 0)
			goto out;
		bld_say(&b, "Successfully tagged %s\n", norm);
	}
	for (size_t i = 0; o->build_args && i < o->build_args->n; i++) {
		bool used = false;
		for (size_t k = 0; k < b.nused; k++)
			used |= strcmp(b.used_args[k], o->build_args->v[i].key) == 0;
		for (size_t k = 0; k < b.meta_args.n; k++)
			used |= strcmp(b.meta_args.v[k].key, o->build_args->v[i].key) == 0;
		if (!used)
			bld_say(&b, "[Warning] One or more build-args [%s] were not consumed\n", o->build_args->v[i].key);
	}
out:
	builder_free(&b);
	return r;
}
