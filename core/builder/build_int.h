/* What the build's files share (private to core/builder): the state of a
 * build and its stages, and the steps' helpers (build_step.c: output,
 * expansion, the generic steps; build_config.c: the config; build_fill.c,
 * build_meta.c: the instructions). build.c, on top, runs the stages. */
#ifndef ST_BUILD_INT_H
#define ST_BUILD_INT_H

#include <stdio.h>

#include "base/base.h"
#include "store/store.h"
#include "builder/builder.h"
#include "dockerfile.h"

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

/* A step that only changes the config. mutate returns <0 on error. */
int bld_meta_step(struct builder *b, struct stage *sg, const char *by,
		  int (*mutate)(struct builder *, struct stage *, json_object *, void *), void *ctx);
/* Fills a layer step's read-write layer, mounted at rootfs (rootfd). */
typedef int (*fill_fn)(struct builder *b, struct stage *sg, const char *rootfs, int rootfd, void *ctx);

/* Progress output ("Step 2/5 : RUN ..."), when the build has an output. */
void bld_say(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bld_expand(struct builder *b, struct stage *sg, const char *word, char **out);
int bld_expand_words(struct builder *b, struct stage *sg, const struct st_df_instr *in, char ***out,
		     size_t *n);
void bld_mark_used(struct builder *b, const char *name);
int bld_top_cache_id(struct builder *b, const char *top, char *cache, size_t len);
/* A step that makes a layer: a read-write layer on the state's top, filled,
 * then committed (in place where the driver can). */
int bld_layer_step(struct builder *b, struct stage *sg, const char *by, const char *extra, fill_fn fill,
		   void *ctx);
/* ------------------------------------------- more of build_step.c */

/* The first 12 hex digits of an id, as progress shows them. */
void bld_short_id(const char *id, char out[13]);
/* Wrap err with the instruction's place ("Dockerfile:3: RUN"); returns r's error. */
int bld_fail_at(struct builder *b, const struct st_df_instr *in, int r);
/* Keep a layer the build stands on (a FROM image's, a cache hit's) until
 * the image holds it: a concurrent rmi or prune cannot take it away
 * mid-build. -ENOENT when it is gone already. */
int bld_hold_top(struct builder *b, const char *top);

/* --------------------------------------- the config (build_config.c) */

json_object *bld_cfg_config(json_object *cfg);
const char *bld_cfg_get(json_object *cfg, const char *key);
json_object *bld_empty_config(void);
json_object *bld_copy_json(json_object *o);
/* Env as "K=V" strings and as a key/value list. */
void bld_env_list(json_object *cfg, struct st_kvlist *out);
void bld_env_set(json_object *cfg, const char *key, const char *value);
void bld_map_set(json_object *cfg, const char *field, const char *key, json_object *val);
json_object *bld_strv_array(char *const *v, size_t n);
/* The shell of SHELL (default /bin/sh -c) plus the command line. */
json_object *bld_shell_form(json_object *cfg, const char *cmd);
char *bld_join_array(json_object *a);
/* ------------------------ the instructions (build_fill.c, build_meta.c) */

int bld_do_run(struct builder *b, struct stage *sg, const struct st_df_instr *in);
struct stage *bld_find_stage(struct builder *b, const char *name, size_t upto);
int bld_do_copy(struct builder *b, struct stage *sg, size_t sidx, const struct st_df_instr *in,
		bool add);
int bld_do_meta(struct builder *b, struct stage *sg, const struct st_df_instr *in);
int bld_do_arg(struct builder *b, struct stage *sg, const struct st_df_instr *in);

#endif
