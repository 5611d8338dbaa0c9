/* The build steps that only change the config: ENV, LABEL, CMD,
 * ENTRYPOINT, WORKDIR, USER, EXPOSE, VOLUME, HEALTHCHECK, ONBUILD, ... and
 * ARG. */
#include <limits.h>

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"
#include "container/container.h"
#include "builder/builder.h"
#include "dockerfile.h"
#include "build_int.h"

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
		bld_env_set(cfg, m->w[i], m->w[i + 1]);
	return 0;
}

static int mut_label(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	for (size_t i = 0; i + 1 < m->n; i += 2)
		bld_map_set(cfg, "Labels", m->w[i], json_object_new_string(m->w[i + 1]));
	return 0;
}

static int mut_string(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	const char *field = !strcmp(m->in->cmd, "WORKDIR") ? "WorkingDir"
			    : !strcmp(m->in->cmd, "USER")  ? "User"
							   : "StopSignal";
	json_object_object_add(bld_cfg_config(cfg), field, json_object_new_string(m->w[0]));
	return 0;
}

static int mut_set_keys(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	const char *field = !strcmp(m->in->cmd, "EXPOSE") ? "ExposedPorts" : "Volumes";
	for (size_t i = 0; i < m->n; i++)
		bld_map_set(cfg, field, m->w[i], json_object_new_object());
	return 0;
}

static int mut_cmd(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	const char *field = !strcmp(m->in->cmd, "CMD") ? "Cmd" : !strcmp(m->in->cmd, "ENTRYPOINT") ? "Entrypoint" : "Shell";
	json_object *v = m->in->json ? bld_strv_array(m->in->args, m->in->nargs)
				     : bld_shell_form(cfg, m->in->nargs ? m->in->args[0] : "");
	json_object_object_add(bld_cfg_config(cfg), field, v);
	if (!strcmp(field, "Entrypoint") && !sg->cmd_set)
		json_object_object_add(bld_cfg_config(cfg), "Cmd", NULL); /* Docker resets an inherited CMD */
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
	json_object_object_add(bld_cfg_config(cfg), "Healthcheck", hc);
	return 0;
}

static int mut_onbuild(struct builder *b, struct stage *sg, json_object *cfg, void *ctx)
{
	struct meta *m = ctx;
	json_object *c = bld_cfg_config(cfg), *ob;
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

int bld_do_meta(struct builder *b, struct stage *sg, const struct st_df_instr *in)
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
			r = bld_expand(b, sg, in->args[i], &x);
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
		if ((r = bld_expand(b, sg, in->args[0], &x)) < 0)
			return r;
		if (!strcmp(cmd, "WORKDIR")) {
			char abs[PATH_MAX];
			clean_abs(bld_cfg_get(sg->st.cfg, "WorkingDir"), x, abs, sizeof(abs));
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
		if ((r = bld_expand_words(b, sg, in, &w, &n)) < 0)
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
		json_object *v = in->json ? bld_strv_array(in->args, in->nargs) : bld_shell_form(sg->st.cfg, in->nargs ? in->args[0] : "");
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
		r = bld_meta_step(b, sg, by, mut, &m);
out:
	st_strv_free(m.w, m.n);
	return r;
}

int bld_do_arg(struct builder *b, struct stage *sg, const struct st_df_instr *in)
{
	if (in->nargs < 1)
		return st_error_fail(b->err, EINVAL, "ARG requires an argument");
	const char *name = in->args[0];
	char *value = NULL;
	const char *given = st_kvlist_get(b->o->build_args, name);
	int r = 0;
	if (given) {
		value = strdup(given);
		bld_mark_used(b, name);
	} else if (in->nargs > 1) {
		r = bld_expand(b, sg, in->args[1], &value);
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
	return bld_meta_step(b, sg, by, mut_none, NULL);
}
