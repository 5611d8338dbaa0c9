/* The build: stages, steps, the cache, RUN through the OCI runtime.
 *
 * A state is an image config (plus its top layer); its id is the sha256 of
 * the config text, which becomes the image id when the build ends there.
 * Each step maps (parent state, expanded instruction, copied content) to a
 * new state through the build cache, so any image sharing the first steps
 * shares their layers.
 *
 * This file: the stages and st_build, on top of the generic steps
 * (build_step.c), the config (build_config.c) and the instructions
 * (build_fill.c, build_meta.c). */
#include <fcntl.h>
#include <limits.h>

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
#include "builder/builder.h"
#include "dockerfile.h"
#include "build_int.h"

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
		if (r < 0 || (r = bld_hold_top(b, sg->st.top)) < 0)
			return st_error_wrap(b->err, "FROM %s", ref);
	}
	if (!sg->st.cfg)
		return st_error_set(b->err, ENOMEM, "build");
	st_state_seal(&sg->st);
	bld_short_id(sg->st.id, sid);
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
			bld_fail_at(&b, in, r);
			goto out;
		}
	}
	struct stage *fin = &b.stages[cur];
	size_t len;
	const char *text = st_state_text(&fin->st, &len);
	if ((r = st_image_create(s, text, len, id, err)) < 0)
		goto out;
	char sid[13];
	bld_short_id(id, sid);
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
