/* The build: stages, steps, the cache, RUN through the OCI runtime.
 *
 * A state is an image config (plus its top layer); its id is the sha256 of
 * the config text, which becomes the image id when the build ends there.
 * Each step maps (parent state, expanded instruction, copied content) to a
 * new state through the build cache, so any image sharing the first steps
 * shares their layers. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>

#include "builder/builder.h"
#include "base/base.h"
#include "dockerfile.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"

struct stage {
	char *name;
	struct st_build_state st;
	struct st_kvlist args; /* ARGs declared in the stage, with their values */
	bool cmd_set;          /* CMD given in this stage (ENTRYPOINT keeps it) */
	bool built;
};

struct builder {
	struct st_store *s;
	const struct st_build_opts *o;
	struct st_error *err;
	FILE *out;
	struct st_dockerfile df;
	struct st_dockerignore di;
	int ctxfd;
	struct st_lease lease;
	char holder[64];
	char **held;          /* layers this build holds with holder (released at the end) */
	size_t nheld;
	struct stage *stages;
	size_t nstages;
	struct st_kvlist meta_args; /* ARGs before the first FROM */
	char **used_args;
	size_t nused;
	int step, nsteps;
	double t0;
};

static void say(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct builder *b, const char *fmt, ...)
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

/* ------------------------------------------------------------- config */

static json_object *cfg_config(json_object *cfg)
{
	json_object *c;
	if (!json_object_object_get_ex(cfg, "config", &c) || !json_object_is_type(c, json_type_object)) {
		c = json_object_new_object();
		json_object_object_add(cfg, "config", c);
	}
	return c;
}

static const char *cfg_get(json_object *cfg, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(cfg_config(cfg), key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static json_object *empty_config(void)
{
	json_object *cfg = json_object_new_object();
	json_object_object_add(cfg, "architecture", json_object_new_string("amd64"));
	json_object_object_add(cfg, "os", json_object_new_string("linux"));
	json_object_object_add(cfg, "config", json_object_new_object());
	json_object *rootfs = json_object_new_object();
	json_object_object_add(rootfs, "type", json_object_new_string("layers"));
	json_object_object_add(rootfs, "diff_ids", json_object_new_array());
	json_object_object_add(cfg, "rootfs", rootfs);
	json_object_object_add(cfg, "history", json_object_new_array());
	return cfg;
}

static json_object *copy_json(json_object *o)
{
	json_object *c = NULL;
	if (json_object_deep_copy(o, &c, NULL) < 0)
		return NULL;
	return c;
}

/* Env as "K=V" strings and as a key/value list. */
static void env_list(json_object *cfg, struct st_kvlist *out)
{
	json_object *env;
	if (!json_object_object_get_ex(cfg_config(cfg), "Env", &env) || !json_object_is_type(env, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		const char *kv = json_object_get_string(json_object_array_get_idx(env, i));
		const char *eq = kv ? strchr(kv, '=') : NULL;
		if (!eq)
			continue;
		char key[256];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		st_kvlist_add(out, key, "%s", eq + 1);
	}
}

static void env_set(json_object *cfg, const char *key, const char *value)
{
	json_object *c = cfg_config(cfg), *env;
	if (!json_object_object_get_ex(c, "Env", &env) || !json_object_is_type(env, json_type_array)) {
		env = json_object_new_array();
		json_object_object_add(c, "Env", env);
	}
	char *kv = st_asprintf("%s=%s", key, value);
	size_t kl = strlen(key);
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		const char *cur = json_object_get_string(json_object_array_get_idx(env, i));
		if (cur && strncmp(cur, key, kl) == 0 && cur[kl] == '=') {
			json_object_array_put_idx(env, i, json_object_new_string(kv));
			free(kv);
			return;
		}
	}
	json_object_array_add(env, json_object_new_string(kv));
	free(kv);
}

static void map_set(json_object *cfg, const char *field, const char *key, json_object *val)
{
	json_object *c = cfg_config(cfg), *m;
	if (!json_object_object_get_ex(c, field, &m) || !json_object_is_type(m, json_type_object)) {
		m = json_object_new_object();
		json_object_object_add(c, field, m);
	}
	json_object_object_add(m, key, val);
}

static json_object *strv_array(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* The shell of SHELL (default /bin/sh -c) plus the command line. */
static json_object *shell_form(json_object *cfg, const char *cmd)
{
	json_object *sh, *a = json_object_new_array();
	if (json_object_object_get_ex(cfg_config(cfg), "Shell", &sh) && json_object_is_type(sh, json_type_array) &&
	    json_object_array_length(sh) > 0) {
		for (size_t i = 0; i < json_object_array_length(sh); i++)
			json_object_array_add(a, json_object_get(json_object_array_get_idx(sh, i)));
	} else {
		json_object_array_add(a, json_object_new_string("/bin/sh"));
		json_object_array_add(a, json_object_new_string("-c"));
	}
	json_object_array_add(a, json_object_new_string(cmd));
	return a;
}

static char *join_array(json_object *a)
{
	size_t len = 1;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		len += strlen(json_object_get_string(json_object_array_get_idx(a, i))) + 1;
	char *s = calloc(1, len);
	for (size_t i = 0; s && i < json_object_array_length(a); i++) {
		if (i)
			strcat(s, " ");
		strcat(s, json_object_get_string(json_object_array_get_idx(a, i)));
	}
	return s;
}

/* --------------------------------------------------------- expansion */

/* Variables visible to an instruction: the stage's ARGs, then ENV (wins). */
static void stage_vars(struct stage *sg, struct st_kvlist *vars)
{
	for (size_t i = 0; i < sg->args.n; i++)
		st_kvlist_add(vars, sg->args.v[i].key, "%s", sg->args.v[i].value);
	env_list(sg->st.cfg, vars);
}

static int expand(struct builder *b, struct stage *sg, const char *word, char **out)
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

static int expand_words(struct builder *b, struct stage *sg, const struct st_df_instr *in, char ***out, size_t *n)
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

static void mark_used(struct builder *b, const char *name)
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
static int meta_step(struct builder *b, struct stage *sg, const char *by,
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
		say(b, " ---> Using cache\n ---> %s\n", sid);
		return 0;
	}
	ns.cfg = copy_json(sg->st.cfg);
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
	say(b, " ---> %s\n", sid);
	return 0;
}

typedef int (*fill_fn)(struct builder *b, struct stage *sg, const char *rootfs, int rootfd, void *ctx);

static int top_cache_id(struct builder *b, const char *top, char *cache, size_t len)
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
static int layer_step(struct builder *b, struct stage *sg, const char *by, const char *extra, fill_fn fill,
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
		say(b, " ---> Using cache\n ---> %s\n", sid);
		return 0;
	}
	double t0 = st_now();
	struct st_driver *d = st_store_driver(b->s);
	char parent[130], rw[65], path[PATH_MAX];
	if ((r = top_cache_id(b, sg->st.top, parent, sizeof(parent))) < 0)
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
	ns.cfg = copy_json(sg->st.cfg);
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
	say(b, " ---> %s (%.2f s)\n", sid, st_now() - t0);
	return 0;
}

/* ---------------------------------------------------------------- RUN */

struct run_ctx {
	char **args;
	size_t nargs;
	char **env;
	size_t nenv;
	const char *by;
};

static int write_small(const char *dir, const char *name, const char *text, char *path, size_t len,
		       struct st_error *err)
{
	snprintf(path, len, "%s/%s", dir, name);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return st_error_set(err, errno, "open \"%s\"", dir);
	return st_atomic_write_at(dfd, name, text, strlen(text), 0644, err);
}

static int run_fill(struct builder *b, struct stage *sg, const char *rootfs, int rootfd, void *ctx)
{
	struct run_ctx *rc = ctx;
	char id[13], bundle[PATH_MAX], rtroot[PATH_MAX], hosts[PATH_MAX], hostname[PATH_MAX];
	char rnd[13];
	st_random_hex(rnd, 6);
	snprintf(id, sizeof(id), "%s", rnd);
	st_lease_scratch(&b->lease, id, bundle, sizeof(bundle));
	snprintf(rtroot, sizeof(rtroot), "%s/runtime", st_store_root(b->s));
	int r = st_mkdir_p_at(AT_FDCWD, bundle, 0700, b->err);
	if (r < 0 || (r = st_mkdir_p_at(AT_FDCWD, rtroot, 0700, b->err)) < 0)
		return r;
	say(b, " ---> Running in %s\n", id);
	/* the working directory exists before the process starts in it */
	const char *wd = cfg_get(sg->st.cfg, "WorkingDir");
	if (wd[0] && (r = st_mkdir_in_root(rootfd, wd, 0755, 0, 0, b->err)) < 0)
		return r;
	char hosts_text[256], name_text[64];
	snprintf(hosts_text, sizeof(hosts_text), "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n", id);
	snprintf(name_text, sizeof(name_text), "%s\n", id);
	if ((r = write_small(bundle, "hosts", hosts_text, hosts, sizeof(hosts), b->err)) < 0 ||
	    (r = write_small(bundle, "hostname", name_text, hostname, sizeof(hostname), b->err)) < 0)
		return r;
	struct st_bind binds[3] = {
		{(char *)hosts, (char *)"/etc/hosts", true},
		{(char *)hostname, (char *)"/etc/hostname", true},
		{(char *)"/etc/resolv.conf", (char *)"/etc/resolv.conf", true},
	};
	struct st_run_spec sp = {
		.id = id, .rootfs = rootfs, .bundle = bundle, .runtime = b->o->runtime, .runtime_root = rtroot,
		.args = rc->args, .nargs = rc->nargs, .env = rc->env, .nenv = rc->nenv,
		.cwd = wd[0] ? wd : "/", .user = cfg_get(sg->st.cfg, "User"), .hostname = id,
		.network_none = b->o->network_none, .binds = binds, .nbinds = ST_ARRAY_SIZE(binds),
	};
	struct st_stubs stubs = {0};
	if ((r = st_bundle_write(&sp, b->err)) < 0)
		goto out;
	st_runtime_stubs(&sp, &stubs);
	int status = 0;
	if (b->out)
		fflush(b->out);
	int outfd = b->out ? fileno(b->out) : -1;
	r = st_runtime_run(&sp, -1, outfd, outfd >= 0 ? outfd : -1, -1, NULL, NULL, &status, b->err);
	st_runtime_stubs_clean(rootfs, &stubs);
	if (r >= 0 && status != 0)
		r = st_error_fail(b->err, status > 125 ? EIO : ECANCELED,
				  "The command '%s' returned a non-zero code: %d", rc->by, status);
out:
	;
	struct st_error ignore;
	st_rm_rf_at(AT_FDCWD, bundle, &ignore);
	return r;
}

static int do_run(struct builder *b, struct stage *sg, const struct st_df_instr *in)
{
	struct run_ctx rc = {0};
	json_object *argv = NULL;
	if (in->json) {
		argv = strv_array(in->args, in->nargs);
	} else {
		argv = shell_form(sg->st.cfg, in->nargs ? in->args[0] : "");
	}
	for (size_t i = 0; i < json_object_array_length(argv); i++)
		st_strv_push(&rc.args, &rc.nargs, json_object_get_string(json_object_array_get_idx(argv, i)));
	/* ENV of the image, then the stage's ARGs as env (ENV wins, ARGs do not stay) */
	struct st_kvlist env = {0};
	env_list(sg->st.cfg, &env);
	for (size_t i = 0; i < env.n; i++) {
		char *kv = st_asprintf("%s=%s", env.v[i].key, env.v[i].value);
		st_strv_push(&rc.env, &rc.nenv, kv);
		free(kv);
	}
	char argpfx[4096] = "";
	size_t nargs_env = 0;
	for (size_t i = 0; i < sg->args.n; i++) {
		if (st_kvlist_get(&env, sg->args.v[i].key))
			continue;
		char *kv = st_asprintf("%s=%s", sg->args.v[i].key, sg->args.v[i].value);
		st_strv_push(&rc.env, &rc.nenv, kv);
		snprintf(argpfx + strlen(argpfx), sizeof(argpfx) - strlen(argpfx), " %s", kv);
		free(kv);
		nargs_env++;
	}
	st_kvlist_free(&env);
	_cleanup_free_ char *cmdline = join_array(argv);
	_cleanup_free_ char *by = nargs_env ? st_asprintf("|%zu%s %s", nargs_env, argpfx, cmdline) : strdup(cmdline);
	json_object_put(argv);
	rc.by = cmdline;
	char extra[64];
	snprintf(extra, sizeof(extra), "run network=%s", b->o->network_none ? "none" : "host");
	int r = layer_step(b, sg, by, extra, run_fill, &rc);
	st_strv_free(rc.args, rc.nargs);
	st_strv_free(rc.env, rc.nenv);
	return r;
}

/* ----------------------------------------------------------- COPY/ADD */

struct copy_ctx {
	struct st_copy_src src;
	struct st_copy_req req;
	const char *chown;
};

static int copy_fill(struct builder *b, struct stage *sg, const char *rootfs, int rootfd, void *ctx)
{
	(void)sg;
	(void)rootfs;
	struct copy_ctx *cc = ctx;
	if (cc->chown) {
		gid_t *groups = NULL;
		size_t ng;
		char home[PATH_MAX];
		int r = st_resolve_user(rootfd, cc->chown, &cc->req.uid, &cc->req.gid, &groups, &ng, home, sizeof(home),
					b->err);
		free(groups);
		if (r < 0)
			return r;
		/* "user" alone: its primary group; "uid" alone: gid = uid, as Docker does */
		if (!strchr(cc->chown, ':') && cc->chown[0] >= '0' && cc->chown[0] <= '9')
			cc->req.gid = cc->req.uid;
		cc->req.chown = true;
	}
	return st_copy_run(&cc->src, &cc->req, rootfd, b->err);
}

static struct stage *find_stage(struct builder *b, const char *name, size_t upto)
{
	char *end;
	long idx = strtol(name, &end, 10);
	if (!*end && idx >= 0 && (size_t)idx < upto)
		return &b->stages[idx];
	for (size_t i = 0; i < upto; i++)
		if (b->stages[i].name && strcasecmp(b->stages[i].name, name) == 0)
			return &b->stages[i];
	return NULL;
}

static int do_copy(struct builder *b, struct stage *sg, size_t sidx, const struct st_df_instr *in, bool add)
{
	char **words;
	size_t n;
	int r = expand_words(b, sg, in, &words, &n);
	if (r < 0)
		return r;
	if (n < 2) {
		st_strv_free(words, n);
		return st_error_fail(b->err, EINVAL, "%s requires at least two arguments", in->cmd);
	}
	struct copy_ctx cc = {0};
	cc.req.srcs = words;
	cc.req.nsrcs = n - 1;
	cc.req.add = add;
	const char *dest = words[n - 1];
	const char *wd = cfg_get(sg->st.cfg, "WorkingDir");
	char full[PATH_MAX];
	if (dest[0] == '/')
		snprintf(full, sizeof(full), "%s", dest);
	else
		snprintf(full, sizeof(full), "%s/%s", wd[0] ? wd : "", dest);
	cc.req.dest = full;
	cc.req.dest_is_dir = st_str_has_suffix(dest, "/") || strcmp(dest, ".") == 0 || st_str_has_suffix(dest, "/.");
	const char *from = st_df_flag(in, "from"), *chown = st_df_flag(in, "chown"), *chmod = st_df_flag(in, "chmod");
	_cleanup_free_ char *xchown = NULL;
	if (chown && (r = expand(b, sg, chown, &xchown)) < 0)
		goto out;
	cc.chown = xchown && *xchown ? xchown : NULL;
	if (chmod) {
		char *end;
		long m = strtol(chmod, &end, 8);
		if (*end || m < 0 || m > 07777) {
			r = st_error_fail(b->err, EINVAL, "invalid --chmod=%s: expected an octal mode", chmod);
			goto out;
		}
		cc.req.chmod = true;
		cc.req.mode = (mode_t)m;
	}
	/* where the sources come from: the context, a stage, or an image */
	char from_layer[ST_DIGEST_LEN + 1] = "", mounted[130] = "";
	int basefd = -1;
	if (from) {
		struct stage *fs = find_stage(b, from, sidx);
		if (fs) {
			snprintf(from_layer, sizeof(from_layer), "%s", fs->st.top);
		} else {
			struct st_image img;
			if ((r = st_image_get(b->s, from, &img, b->err)) < 0) {
				st_error_wrap(b->err, "--from=%s: not a stage before this one, nor an image", from);
				goto out;
			}
			snprintf(from_layer, sizeof(from_layer), "%s", img.top);
			st_image_free(&img);
		}
		if (from_layer[0]) {
			char path[PATH_MAX];
			if ((r = top_cache_id(b, from_layer, mounted, sizeof(mounted))) < 0 ||
			    (r = st_drv_get_transient(st_store_driver(b->s), mounted, path, sizeof(path), b->err)) < 0) {
				mounted[0] = '\0';
				goto out;
			}
			basefd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		} else {
			basefd = open("/var/empty", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
		cc.src.is_context = false;
	} else {
		basefd = dup(b->ctxfd);
		cc.src.is_context = true;
		cc.src.ignore = &b->di;
	}
	if (basefd < 0) {
		r = st_error_set(b->err, errno, "open the sources of %s", in->cmd);
		goto out;
	}
	cc.src.basefd = basefd;
	char digest[ST_DIGEST_LEN + 1];
	if ((r = st_copy_digest(&cc.src, &cc.req, digest, b->err)) >= 0) {
		char by[PATH_MAX + 256], extra[512];
		snprintf(by, sizeof(by), "/bin/sh -c #(nop) %s %s:%.64s in %s ", in->cmd, n > 2 ? "multi" : "file",
			 digest + 7, full);
		snprintf(extra, sizeof(extra), "chown=%s chmod=%s from=%s", cc.chown ? cc.chown : "",
			 chmod ? chmod : "", from_layer);
		r = layer_step(b, sg, by, extra, copy_fill, &cc);
	}
	close(basefd);
out:
	if (mounted[0]) {
		struct st_error ignore;
		st_drv_put_transient(st_store_driver(b->s), mounted, &ignore);
	}
	st_strv_free(words, n);
	return r;
}

/* ------------------------------------------------------ metadata steps */

struct meta {
	const struct st_df_instr *in;
	char **w;   /* expanded words / values */
	size_t n;
};

static int mut_env(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	for (size_t i = 0; i + 1 < m->n; i += 2)
		env_set(cfg, m->w[i], m->w[i + 1]);
	return 0;
}

static int mut_label(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	for (size_t i = 0; i + 1 < m->n; i += 2)
		map_set(cfg, "Labels", m->w[i], json_object_new_string(m->w[i + 1]));
	return 0;
}

static int mut_string(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	const char *field = !strcmp(m->in->cmd, "WORKDIR") ? "WorkingDir"
			    : !strcmp(m->in->cmd, "USER")  ? "User"
							   : "StopSignal";
	json_object_object_add(cfg_config(cfg), field, json_object_new_string(m->w[0]));
	return 0;
}

static int mut_set_keys(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	const char *field = !strcmp(m->in->cmd, "EXPOSE") ? "ExposedPorts" : "Volumes";
	for (size_t i = 0; i < m->n; i++)
		map_set(cfg, field, m->w[i], json_object_new_object());
	return 0;
}

static int mut_cmd(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	const char *field = !strcmp(m->in->cmd, "CMD") ? "Cmd" : !strcmp(m->in->cmd, "ENTRYPOINT") ? "Entrypoint" : "Shell";
	json_object *v = m->in->json ? strv_array(m->in->args, m->in->nargs)
				     : shell_form(cfg, m->in->nargs ? m->in->args[0] : "");
	json_object_object_add(cfg_config(cfg), field, v);
	if (!strcmp(field, "Entrypoint") && !sg->cmd_set)
		json_object_object_add(cfg_config(cfg), "Cmd", NULL); /* Docker resets an inherited CMD */
	return 0;
}

static int mut_health(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	const struct st_df_instr *in = m->in;
	json_object *hc = json_object_new_object(), *test = json_object_new_array();
	if (in->nargs && strcasecmp(in->args[0], "NONE") == 0) {
		json_object_array_add(test, json_object_new_string("NONE"));
	} else if (in->json) {
		json_object_array_add(test, json_object_new_string("CMD"));
		for (size_t i = 1; i < in->nargs; i++)
			json_object_array_add(test, json_object_new_string(in->args[i]));
	} else {
		json_object_array_add(test, json_object_new_string("CMD-SHELL"));
		json_object_array_add(test, json_object_new_string(in->nargs > 1 ? in->args[1] : ""));
	}
	json_object_object_add(hc, "Test", test);
	static const char *const durs[][2] = {{"interval", "Interval"}, {"timeout", "Timeout"},
					      {"start-period", "StartPeriod"}, {"start-interval", "StartInterval"}};
	for (size_t i = 0; i < ST_ARRAY_SIZE(durs); i++) {
		const char *v = st_df_flag(in, durs[i][0]);
		if (!v)
			continue;
		int64_t ns;
		if (st_df_parse_duration(v, &ns, b->err) < 0) {
			json_object_put(hc);
			return st_error_wrap(b->err, "HEALTHCHECK --%s", durs[i][0]);
		}
		json_object_object_add(hc, durs[i][1], json_object_new_int64(ns));
	}
	const char *retries = st_df_flag(in, "retries");
	if (retries)
		json_object_object_add(hc, "Retries", json_object_new_int(atoi(retries)));
	json_object_object_add(cfg_config(cfg), "Healthcheck", hc);
	return 0;
}

static int mut_onbuild(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	json_object *c = cfg_config(cfg), *ob;
	if (!json_object_object_get_ex(c, "OnBuild", &ob) || !json_object_is_type(ob, json_type_array)) {
		ob = json_object_new_array();
		json_object_object_add(c, "OnBuild", ob);
	}
	json_object_array_add(ob, json_object_new_string(m->in->nargs ? m->in->args[0] : ""));
	return 0;
}

static int mut_maintainer(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	json_object_object_add(cfg, "author", json_object_new_string(m->w[0]));
	return 0;
}

static int mut_none(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	return 0;
}

static int clean_abs(const char *base, const char *p, char *out, size_t len)
{
	char tmp[PATH_MAX];
	if (p[0] == '/')
		snprintf(tmp, sizeof(tmp), "%s", p);
	else
		snprintf(tmp, sizeof(tmp), "%s/%s", base[0] ? base : "", p);
	/* collapse //, ., .. */
	char *parts[PATH_MAX / 2];
	size_t n = 0;
	char *save = NULL;
	for (char *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (n)
				n--;
			continue;
		}
		parts[n++] = c;
	}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "/%s", parts[i]);
	if (!out[0])
		snprintf(out, len, "/");
	return 0;
}

static int expand_ports(char **w, size_t n, char ***out, size_t *nout, struct st_error *err)
{
	for (size_t i = 0; i < n; i++) {
		char proto[16] = "tcp";
		char *slash = strchr(w[i], '/');
		if (slash)
			snprintf(proto, sizeof(proto), "%s", slash + 1);
		long lo, hi;
		char *end;
		lo = strtol(w[i], &end, 10);
		hi = lo;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		if ((*end && *end != '/') || lo < 0 || hi < lo || hi > 65535 || hi - lo > 1024 ||
		    (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp")))
			return st_error_fail(err, EINVAL, "invalid port \"%s\"", w[i]);
		for (long p = lo; p <= hi; p++) {
			char k[32];
			snprintf(k, sizeof(k), "%ld/%s", p, proto);
			st_strv_push(out, nout, k);
		}
	}
	return 0;
}

static int do_meta(struct builder *b, struct stage *sg, const struct st_df_instr *in)
{
	struct meta m = {.in = in};
	int r = 0;
	char by[8192];
	const char *cmd = in->cmd;
	int (*mut)(struct builder *, struct stage *, json_object *, void *) = mut_none;
	if (!strcmp(cmd, "ENV") || !strcmp(cmd, "LABEL")) {
		if (in->nargs % 2) {
			return st_error_fail(b->err, EINVAL, "%s needs key/value pairs", cmd);
		}
		for (size_t i = 0; i < in->nargs && r >= 0; i++) {
			char *x = NULL;
			r = expand(b, sg, in->args[i], &x);
			if (r >= 0)
				st_strv_push(&m.w, &m.n, x);
			free(x);
		}
		snprintf(by, sizeof(by), "/bin/sh -c #(nop)  %s", cmd);
		for (size_t i = 0; r >= 0 && i + 1 < m.n; i += 2)
			snprintf(by + strlen(by), sizeof(by) - strlen(by), " %s=%s", m.w[i], m.w[i + 1]);
		mut = !strcmp(cmd, "ENV") ? mut_env : mut_label;
	} else if (!strcmp(cmd, "WORKDIR") || !strcmp(cmd, "USER") || !strcmp(cmd, "STOPSIGNAL") ||
		   !strcmp(cmd, "MAINTAINER")) {
		char *x = NULL;
		if (in->nargs < 1)
			return st_error_fail(b->err, EINVAL, "%s requires an argument", cmd);
		if ((r = expand(b, sg, in->args[0], &x)) < 0)
			return r;
		if (!strcmp(cmd, "WORKDIR")) {
			char abs[PATH_MAX];
			clean_abs(cfg_get(sg->st.cfg, "WorkingDir"), x, abs, sizeof(abs));
			free(x);
			x = strdup(abs);
		}
		st_strv_push(&m.w, &m.n, x);
		snprintf(by, sizeof(by), "/bin/sh -c #(nop) %s %s", cmd, x);
		free(x);
		mut = !strcmp(cmd, "MAINTAINER") ? mut_maintainer : mut_string;
	} else if (!strcmp(cmd, "EXPOSE") || !strcmp(cmd, "VOLUME")) {
		char **w;
		size_t n;
		if ((r = expand_words(b, sg, in, &w, &n)) < 0)
			return r;
		if (!strcmp(cmd, "EXPOSE"))
			r = expand_ports(w, n, &m.w, &m.n, b->err);
		else
			for (size_t i = 0; i < n; i++)
				st_strv_push(&m.w, &m.n, w[i]);
		st_strv_free(w, n);
		if (r < 0)
			goto out;
		snprintf(by, sizeof(by), "/bin/sh -c #(nop)  %s", cmd);
		for (size_t i = 0; i < m.n; i++)
			snprintf(by + strlen(by), sizeof(by) - strlen(by), " %s", m.w[i]);
		mut = mut_set_keys;
	} else if (!strcmp(cmd, "CMD") || !strcmp(cmd, "ENTRYPOINT") || !strcmp(cmd, "SHELL")) {
		if (!strcmp(cmd, "SHELL") && !in->json)
			return st_error_fail(b->err, EINVAL, "SHELL requires the arguments to be in JSON form");
		json_object *v = in->json ? strv_array(in->args, in->nargs) : shell_form(sg->st.cfg, in->nargs ? in->args[0] : "");
		snprintf(by, sizeof(by), "/bin/sh -c #(nop)  %s %s", cmd,
			 json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(v);
		mut = mut_cmd;
		if (!strcmp(cmd, "CMD"))
			sg->cmd_set = true;
	} else if (!strcmp(cmd, "HEALTHCHECK")) {
		snprintf(by, sizeof(by), "/bin/sh -c #(nop)  %s", in->original);
		mut = mut_health;
	} else if (!strcmp(cmd, "ONBUILD")) {
		snprintf(by, sizeof(by), "/bin/sh -c #(nop)  ONBUILD %s", in->nargs ? in->args[0] : "");
		mut = mut_onbuild;
	} else {
		return st_error_fail(b->err, EINVAL, "unknown instruction %s", cmd);
	}
	if (r >= 0)
		r = meta_step(b, sg, by, mut, &m);
out:
	st_strv_free(m.w, m.n);
	return r;
}

static int do_arg(struct builder *b, struct stage *sg, const struct st_df_instr *in)
{
	if (in->nargs < 1)
		return st_error_fail(b->err, EINVAL, "ARG requires an argument");
	const char *name = in->args[0];
	char *value = NULL;
	const char *given = st_kvlist_get(b->o->build_args, name);
	int r = 0;
	if (given) {
		value = strdup(given);
		mark_used(b, name);
	} else if (in->nargs > 1) {
		r = expand(b, sg, in->args[1], &value);
	} else if (sg && st_kvlist_get(&b->meta_args, name)) {
		value = strdup(st_kvlist_get(&b->meta_args, name));
	}
	if (r < 0)
		return r;
	if (!sg) { /* before the first FROM */
		st_kvlist_add(&b->meta_args, name, "%s", value ? value : "");
		free(value);
		return 0;
	}
	if (value)
		st_kvlist_add(&sg->args, name, "%s", value);
	char by[1024];
	snprintf(by, sizeof(by), "/bin/sh -c #(nop)  ARG %s%s%s", name, in->nargs > 1 ? "=" : "",
		 in->nargs > 1 ? in->args[1] : "");
	free(value);
	return meta_step(b, sg, by, mut_none, NULL);
}

/* ------------------------------------------------------------- stages */

static int instr_dispatch(struct builder *b, struct stage *sg, size_t sidx, const struct st_df_instr *in);

static int run_onbuild(struct builder *b, struct stage *sg, size_t sidx)
{
	json_object *ob;
	if (!json_object_object_get_ex(cfg_config(sg->st.cfg), "OnBuild", &ob) || !json_object_is_type(ob, json_type_array) ||
	    json_object_array_length(ob) == 0)
		return 0;
	size_t n = json_object_array_length(ob);
	say(b, "# Executing %zu build trigger%s\n", n, n == 1 ? "" : "s");
	/* the triggers are consumed: the new image does not carry them */
	json_object *triggers = json_object_get(ob);
	json_object_object_del(cfg_config(sg->st.cfg), "OnBuild");
	st_state_seal(&sg->st);
	int r = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const char *t = json_object_get_string(json_object_array_get_idx(triggers, i));
		struct st_df_instr tin;
		if ((r = st_df_parse_trigger(t, "ONBUILD", &tin, b->err)) < 0)
			break;
		say(b, "Step onbuild-%zu : %s\n", i + 1, tin.original);
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
	int r = expand(b, NULL, in->args[0], &ref);
	if (r < 0)
		return r;
	char sid[13];
	struct stage *base = find_stage(b, ref, sidx);
	if (base && base->name && strcasecmp(base->name, ref) == 0) {
		sg->st.cfg = copy_json(base->st.cfg);
		snprintf(sg->st.top, sizeof(sg->st.top), "%s", base->st.top);
	} else if (strcmp(ref, "scratch") == 0) {
		sg->st.cfg = empty_config();
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
	say(b, " ---> %s\n", sid);
	return run_onbuild(b, sg, sidx);
}

static int instr_dispatch(struct builder *b, struct stage *sg, size_t sidx, const struct st_df_instr *in)
{
	const char *c = in->cmd;
	if (!strcmp(c, "RUN"))
		return do_run(b, sg, in);
	if (!strcmp(c, "COPY") || !strcmp(c, "ADD"))
		return do_copy(b, sg, sidx, in, !strcmp(c, "ADD"));
	if (!strcmp(c, "ARG"))
		return do_arg(b, sg, in);
	return do_meta(b, sg, in);
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
		say(&b, "Step %d/%d : %s\n", b.step, b.nsteps, in->original);
		if (!strcmp(in->cmd, "FROM")) {
			cur++;
			r = do_from(&b, (size_t)cur, in);
		} else if (cur < 0) {
			r = do_arg(&b, NULL, in);
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
	say(&b, "Successfully built %s\n", sid);
	for (size_t i = 0; i < o->ntags; i++) {
		char norm[300];
		st_image_ref_normalize(o->tags[i], norm, sizeof(norm), err);
		if ((r = st_image_tag(s, id, norm, err)) < 0)
			goto out;
		say(&b, "Successfully tagged %s\n", norm);
	}
	for (size_t i = 0; o->build_args && i < o->build_args->n; i++) {
		bool used = false;
		for (size_t k = 0; k < b.nused; k++)
			used |= strcmp(b.used_args[k], o->build_args->v[i].key) == 0;
		for (size_t k = 0; k < b.meta_args.n; k++)
			used |= strcmp(b.meta_args.v[k].key, o->build_args->v[i].key) == 0;
		if (!used)
			say(&b, "[Warning] One or more build-args [%s] were not consumed\n", o->build_args->v[i].key);
	}
out:
	builder_free(&b);
	return r;
}
