/* The build steps that make a layer, as fills of layer_step: RUN (the
 * command through the OCI runtime, on the step's read-write layer) and
 * COPY/ADD (from the context or another stage). */
#include <fcntl.h>
#include <limits.h>

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
#include "builder/builder.h"
#include "dockerfile.h"
#include "build_int.h"

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
	bld_say(b, " ---> Running in %s\n", id);
	/* the working directory exists before the process starts in it */
	const char *wd = bld_cfg_get(sg->st.cfg, "WorkingDir");
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
		.cwd = wd[0] ? wd : "/", .user = bld_cfg_get(sg->st.cfg, "User"), .hostname = id,
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

int bld_do_run(struct builder *b, struct stage *sg, const struct st_df_instr *in)
{
	struct run_ctx rc = {0};
	json_object *argv = NULL;
	if (in->json) {
		argv = bld_strv_array(in->args, in->nargs);
	} else {
		argv = bld_shell_form(sg->st.cfg, in->nargs ? in->args[0] : "");
	}
	for (size_t i = 0; i < json_object_array_length(argv); i++)
		st_strv_push(&rc.args, &rc.nargs, json_object_get_string(json_object_array_get_idx(argv, i)));
	/* ENV of the image, then the stage's ARGs as env (ENV wins, ARGs do not stay) */
	struct st_kvlist env = {0};
	bld_env_list(sg->st.cfg, &env);
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
	_cleanup_free_ char *cmdline = bld_join_array(argv);
	_cleanup_free_ char *by = nargs_env ? st_asprintf("|%zu%s %s", nargs_env, argpfx, cmdline) : strdup(cmdline);
	json_object_put(argv);
	rc.by = cmdline;
	char extra[64];
	snprintf(extra, sizeof(extra), "run network=%s", b->o->network_none ? "none" : "host");
	int r = bld_layer_step(b, sg, by, extra, run_fill, &rc);
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

struct stage *bld_find_stage(struct builder *b, const char *name, size_t upto)
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

int bld_do_copy(struct builder *b, struct stage *sg, size_t sidx, const struct st_df_instr *in, bool add)
{
	char **words;
	size_t n;
	int r = bld_expand_words(b, sg, in, &words, &n);
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
	const char *wd = bld_cfg_get(sg->st.cfg, "WorkingDir");
	char full[PATH_MAX];
	if (dest[0] == '/')
		snprintf(full, sizeof(full), "%s", dest);
	else
		snprintf(full, sizeof(full), "%s/%s", wd[0] ? wd : "", dest);
	cc.req.dest = full;
	cc.req.dest_is_dir = st_str_has_suffix(dest, "/") || strcmp(dest, ".") == 0 || st_str_has_suffix(dest, "/.");
	const char *from = st_df_flag(in, "from"), *chown = st_df_flag(in, "chown"), *chmod = st_df_flag(in, "chmod");
	_cleanup_free_ char *xchown = NULL;
	if (chown && (r = bld_expand(b, sg, chown, &xchown)) < 0)
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
		struct stage *fs = bld_find_stage(b, from, sidx);
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
			if ((r = bld_top_cache_id(b, from_layer, mounted, sizeof(mounted))) < 0 ||
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
		r = bld_layer_step(b, sg, by, extra, copy_fill, &cc);
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
