/* Dockerfile parsing: the language as BuildKit's dockerfile frontend (and
 * Docker's classic builder before it) reads it. Two stages, as there:
 * the line stage (parser directives, comments, continuations, the split
 * into instruction name, --flags and argument text) and the instruction
 * stage (each instruction's argument grammar and checks). Rules follow
 * moby/buildkit frontend/dockerfile/parser and .../instructions; error
 * texts are theirs so users can search them. No expansion happens here:
 * arguments stay as written for the builder to expand with st_df_expand.
 * This file: the instruction stage and the file; the line stage is
 * df_line.c, the argument grammars df_args.c. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "base/base.h"
#include "df_internal.h"
#include "df_parse.h"
#include "dockerfile.h"

/* ------------------------------------------------------------ tables */

enum df_ftype { DF_BOOL, DF_STRING, DF_STRINGS /* repeatable */ };

struct df_flagdef {
	const char *name;
	enum df_ftype type;
};

static const struct df_flagdef df_flags_none[] = {{NULL, DF_BOOL}};
static const struct df_flagdef df_flags_from[] = {{"platform", DF_STRING}, {NULL, DF_BOOL}};
static const struct df_flagdef df_flags_copy[] = {
	{"chown", DF_STRING}, {"chmod", DF_STRING},  {"from", DF_STRING},     {"link", DF_BOOL},
	{"parents", DF_BOOL}, {"exclude", DF_STRINGS}, {NULL, DF_BOOL},
};
static const struct df_flagdef df_flags_add[] = {
	{"chown", DF_STRING},	 {"chmod", DF_STRING},	{"link", DF_BOOL},	  {"keep-git-dir", DF_BOOL},
	{"checksum", DF_STRING}, {"unpack", DF_BOOL},	{"exclude", DF_STRINGS}, {NULL, DF_BOOL},
};
static const struct df_flagdef df_flags_run[] = {
	{"mount", DF_STRINGS}, {"network", DF_STRING}, {"security", DF_STRING}, {NULL, DF_BOOL},
};
static const struct df_flagdef df_flags_health[] = {
	{"interval", DF_STRING},       {"timeout", DF_STRING}, {"start-period", DF_STRING},
	{"start-interval", DF_STRING}, {"retries", DF_STRING}, {NULL, DF_BOOL},
};

enum df_kind {
	K_ADD, K_ARG, K_CMD, K_COPY, K_ENTRYPOINT, K_ENV, K_EXPOSE, K_FROM, K_HEALTHCHECK,
	K_LABEL, K_MAINTAINER, K_ONBUILD, K_RUN, K_SHELL, K_STOPSIGNAL, K_USER, K_VOLUME, K_WORKDIR,
};

static const struct df_cmddef {
	const char *name;
	enum df_kind kind;
	const struct df_flagdef *flags;
} df_cmds[] = {
	{"ADD", K_ADD, df_flags_add},
	{"ARG", K_ARG, df_flags_none},
	{"CMD", K_CMD, df_flags_none},
	{"COPY", K_COPY, df_flags_copy},
	{"ENTRYPOINT", K_ENTRYPOINT, df_flags_none},
	{"ENV", K_ENV, df_flags_none},
	{"EXPOSE", K_EXPOSE, df_flags_none},
	{"FROM", K_FROM, df_flags_from},
	{"HEALTHCHECK", K_HEALTHCHECK, df_flags_health},
	{"LABEL", K_LABEL, df_flags_none},
	{"MAINTAINER", K_MAINTAINER, df_flags_none},
	{"ONBUILD", K_ONBUILD, df_flags_none},
	{"RUN", K_RUN, df_flags_run},
	{"SHELL", K_SHELL, df_flags_none},
	{"STOPSIGNAL", K_STOPSIGNAL, df_flags_none},
	{"USER", K_USER, df_flags_none},
	{"VOLUME", K_VOLUME, df_flags_none},
	{"WORKDIR", K_WORKDIR, df_flags_none},
};

/* ------------------------------------------------------------ instruction stage */

static int df_parse_flags(struct df_ctx *c, int line, const struct df_flagdef *defs, char **raw, size_t nraw,
			  struct st_df_instr *in)
{
	if (nraw == 0)
		return 0;
	in->flags = calloc(nraw, sizeof(*in->flags));
	if (!in->flags)
		return df_oom(c, line);
	for (size_t i = 0; i < nraw; i++) {
		const char *name = raw[i] + 2; /* the extractor only takes "--" words */
		const char *eq = strchr(name, '=');
		size_t namelen = eq ? (size_t)(eq - name) : strlen(name);
		const struct df_flagdef *def = NULL;
		for (const struct df_flagdef *d = defs; d->name; d++)
			if (strlen(d->name) == namelen && memcmp(d->name, name, namelen) == 0)
				def = d;
		if (!def)
			return df_fail(c, line, "Unknown flag: %.*s", (int)(namelen > 128 ? 128 : namelen), name);
		if (def->type != DF_STRINGS && st_df_flag(in, def->name))
			return df_fail(c, line, "Duplicate flag specified: %s", def->name);
		const char *value = eq ? eq + 1 : "";
		char lower[6] = "";
		if (def->type == DF_BOOL) {
			if (eq && !*value)
				return df_fail(c, line, "Missing a value on flag: %s", def->name);
			if (strlen(value) < sizeof(lower))
				for (size_t k = 0; k <= strlen(value); k++)
					lower[k] = (char)tolower((unsigned char)value[k]);
			if (*value && strcmp(lower, "true") != 0 && strcmp(lower, "false") != 0)
				return df_fail(c, line, "Expecting boolean value for flag %s, not: %.128s", def->name,
					       value);
			value = lower;
		} else if (!eq) {
			return df_fail(c, line, "Missing a value on flag: %s", def->name);
		}
		struct st_df_flag *f = &in->flags[in->nflags];
		f->name = strdup(def->name);
		f->value = strdup(value);
		if (!f->name || !f->value) {
			free(f->name);
			free(f->value);
			return df_oom(c, line);
		}
		in->nflags++;
	}
	return 0;
}

static bool df_valid_stage_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

int df_parse_line(struct df_ctx *c, int line, const char *text, bool in_onbuild, struct df_vec *out);

static int df_from(struct df_ctx *c, int line, struct st_df_instr *in, const char *rest)
{
	if (df_ws_split(in, rest) < 0)
		return df_oom(c, line);
	if (in->nargs == 3 && strcasecmp(in->args[1], "as") == 0) {
		for (char *p = in->args[2]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!df_valid_stage_name(in->args[2]))
			return df_fail(c, line,
				       "invalid name for build stage: \"%.128s\", name can't start with a number or contain symbols",
				       in->args[2]);
		free(in->args[1]);
		in->args[1] = in->args[2];
		in->args[2] = NULL;
		in->nargs = 2;
		return 0;
	}
	if (in->nargs != 1)
		return df_fail(c, line, "FROM requires either one or three arguments");
	return 0;
}

static int df_healthcheck(struct df_ctx *c, int line, struct st_df_instr *in, const char *rest)
{
	if (!*rest)
		return df_fail(c, line, "HEALTHCHECK requires at least one argument");
	const char *sep = rest;
	while (*sep && !df_byte_space(*sep))
		sep++;
	const char *next = sep;
	while (*next && df_byte_space(*next))
		next++;
	char typ[16];
	size_t tl = (size_t)(sep - rest);
	snprintf(typ, sizeof(typ), "%.*s", (int)(tl < sizeof(typ) ? tl : sizeof(typ) - 1), rest);
	for (char *p = typ; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	bool is_none = tl == 4 && strcmp(typ, "NONE") == 0, is_cmd = tl == 3 && strcmp(typ, "CMD") == 0;
	if (!is_none && !is_cmd)
		return df_fail(c, line, "Unknown type \"%.*s\" in HEALTHCHECK (try CMD)", (int)(tl > 64 ? 64 : tl), rest);
	if (st_strv_push(&in->args, &in->nargs, typ) < 0)
		return df_oom(c, line);
	int r = df_maybe_json(c, line, in, next);
	if (r < 0)
		return r;
	if (is_none && in->nargs > 1)
		return df_fail(c, line, "HEALTHCHECK NONE takes no arguments");
	if (is_cmd && in->nargs < 2)
		return df_fail(c, line, "Missing command after HEALTHCHECK CMD");
	return df_check_health_flags(c, line, in);
}

static int df_onbuild(struct df_ctx *c, int line, struct st_df_instr *in, const char *rest)
{
	if (!*rest)
		return df_fail(c, line, "ONBUILD requires at least one argument");
	const char *te = rest;
	while (*te && !df_is_ws(*te))
		te++;
	size_t tl = (size_t)(te - rest);
	if (tl == 7 && strncasecmp(rest, "ONBUILD", 7) == 0)
		return df_fail(c, line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
	if ((tl == 4 && strncasecmp(rest, "FROM", 4) == 0) || (tl == 10 && strncasecmp(rest, "MAINTAINER", 10) == 0))
		return df_fail(c, line, "%s isn't allowed as an ONBUILD trigger", tl == 4 ? "FROM" : "MAINTAINER");

	struct df_vec sub = {0};
	int r = df_parse_line(c, line, rest, true, &sub);
	if (r < 0) {
		df_vec_free(&sub);
		return r;
	}
	in->sub = malloc(sizeof(*in->sub));
	if (!in->sub) {
		df_vec_free(&sub);
		return df_oom(c, line);
	}
	*in->sub = sub.v[0];
	sub.n = 0;
	df_vec_free(&sub);

	/* the trigger's text: the instruction as written minus "ONBUILD " */
	const char *expr = in->original;
	while (*expr && df_re_space(*expr))
		expr++;
	expr += 7;
	while (*expr && df_re_space(*expr))
		expr++;
	return st_strv_push(&in->args, &in->nargs, expr) < 0 ? df_oom(c, line) : 0;
}

/* ARG: one instruction per name ("ARG A B=1" gives two), each [name] or
 * [name, default]. */
static int df_arg(struct df_ctx *c, int line, struct st_df_instr *in, const char *rest, bool in_onbuild,
		  struct df_vec *out)
{
	char **words = NULL;
	size_t n = 0;
	int r = df_words(rest, c->esc, &words, &n);
	if (r < 0) {
		r = df_oom(c, line);
		goto out;
	}
	if (n == 0) {
		r = df_fail(c, line, "ARG requires at least one argument");
		goto out;
	}
	if (n > 1 && in_onbuild) {
		r = df_fail(c, line, "ONBUILD ARG takes exactly one name");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char *eq = strchr(words[i], '=');
		if (eq == words[i]) {
			r = df_fail(c, line, "ARG names can not be blank");
			goto out;
		}
		struct st_df_instr one = {.line = in->line};
		one.cmd = strdup(in->cmd);
		one.original = strdup(in->original);
		bool ok = one.cmd && one.original;
		if (ok)
			ok = eq ? df_push_arg(&one, words[i], eq) == 0 &&
					  st_strv_push(&one.args, &one.nargs, eq + 1) == 0
				: st_strv_push(&one.args, &one.nargs, words[i]) == 0;
		if (ok)
			ok = df_vec_push(out, &one) == 0;
		st_df_instr_free(&one);
		if (!ok) {
			r = df_oom(c, line);
			goto out;
		}
	}
out:
	st_strv_free(words, n);
	return r;
}

/* The instruction closest to a misspelt one (edit distance at most 2, as
 * BuildKit's "did you mean" hint), or NULL. */
static const char *df_suggest(const char *word)
{
	size_t n = strlen(word);
	if (n == 0 || n > 16)
		return NULL;
	const char *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; i < ST_ARRAY_SIZE(df_cmds); i++) {
		const char *c = df_cmds[i].name;
		size_t m = strlen(c), row[17];
		for (size_t j = 0; j <= m; j++)
			row[j] = j;
		for (size_t a = 1; a <= n; a++) {
			size_t diag = row[0];
			row[0] = a;
			for (size_t b = 1; b <= m; b++) {
				size_t up = row[b];
				size_t v = diag + (word[a - 1] != c[b - 1]);
				if (up + 1 < v)
					v = up + 1;
				if (row[b - 1] + 1 < v)
					v = row[b - 1] + 1;
				row[b] = v;
				diag = up;
			}
		}
		if (row[m] < best_d) {
			best_d = row[m];
			best = c;
		}
	}
	return best;
}

/* One logical line -> instruction(s) appended to out. */
int df_parse_line(struct df_ctx *c, int line, const char *text, bool in_onbuild, struct df_vec *out)
{
	const char *s = text, *e = text + strlen(text);
	df_trim(&s, &e);
	const char *ce = s;
	while (ce < e && !df_is_ws(*ce))
		ce++;
	const char *rs = ce;
	while (rs < e && df_is_ws(*rs))
		rs++;

	const struct df_cmddef *def = NULL;
	for (size_t i = 0; i < ST_ARRAY_SIZE(df_cmds) && !def; i++)
		if (strlen(df_cmds[i].name) == (size_t)(ce - s) && strncasecmp(df_cmds[i].name, s, (size_t)(ce - s)) == 0)
			def = &df_cmds[i];
	if (!def) {
		int cl = (int)(ce - s);
		char up[80];
		snprintf(up, sizeof(up), "%.*s", cl > 64 ? 64 : cl, s);
		for (char *p = up; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		const char *near = df_suggest(up);
		char hint[48] = "";
		if (near) {
			snprintf(hint, sizeof(hint), " (did you mean %s?)", near);
			for (char *p = hint; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		}
		return df_fail(c, line, "unknown instruction: %s%s%s", up, cl > 64 ? "..." : "", hint);
	}

	struct st_df_instr in = {.line = line};
	_cleanup_free_ char *after = df_strndup(rs, e);
	char **raw = NULL;
	size_t nraw = 0;
	const char *rest_start = NULL;
	_cleanup_free_ char *rest = NULL;
	int r = 0;

	in.cmd = strdup(def->name);
	in.original = df_strndup(s, e);
	if (!after || !in.cmd || !in.original || df_extract_flags(after, &raw, &nraw, &rest_start) < 0) {
		r = df_oom(c, line);
		goto out;
	}
	{
		const char *a = rest_start, *b = after + strlen(after);
		df_trim(&a, &b);
		rest = df_strndup(a, b);
		if (!rest) {
			r = df_oom(c, line);
			goto out;
		}
	}
	if ((r = df_parse_flags(c, line, def->flags, raw, nraw, &in)) < 0)
		goto out;

	switch (def->kind) {
	case K_RUN:
	case K_CMD:
	case K_ENTRYPOINT:
		if ((r = df_maybe_json(c, line, &in, rest)) < 0)
			break;
		if (in.nargs == 0 && (!in.json || def->kind == K_RUN))
			r = df_fail(c, line, "%s requires at least one argument", def->name);
		else if (def->kind == K_RUN && !in.json && df_has_heredoc(rest, c->esc))
			r = df_fail(c, line, "heredocs (<<WORD) are not supported in RUN");
		break;
	case K_SHELL:
		if ((r = df_maybe_json(c, line, &in, rest)) < 0)
			break;
		if (in.nargs == 0)
			r = df_fail(c, line, "SHELL requires at least one argument");
		else if (!in.json)
			r = df_fail(c, line, "SHELL requires the arguments to be in JSON form");
		break;
	case K_COPY:
	case K_ADD:
		if ((r = df_maybe_json_list(c, line, &in, rest)) < 0)
			break;
		if (in.nargs < 2)
			r = df_fail(c, line,
				    "%s requires at least two arguments, but only one was provided. Destination could not be determined.",
				    def->name);
		else if (!in.json && df_has_heredoc(rest, c->esc))
			r = df_fail(c, line, "heredocs (<<WORD) are not supported in %s", def->name);
		break;
	case K_VOLUME:
		if ((r = df_maybe_json_list(c, line, &in, rest)) < 0)
			break;
		if (in.nargs == 0)
			r = df_fail(c, line, "VOLUME requires at least one argument");
		for (size_t i = 0; i < in.nargs && r == 0; i++) {
			const char *a = in.args[i], *b = a + strlen(a);
			df_trim(&a, &b);
			if (a == b) {
				r = df_fail(c, line, "VOLUME specified can not be an empty string");
				break;
			}
			char *t = df_strndup(a, b);
			if (!t) {
				r = df_oom(c, line);
				break;
			}
			free(in.args[i]);
			in.args[i] = t;
		}
		break;
	case K_EXPOSE:
		if (df_ws_split(&in, rest) < 0)
			r = df_oom(c, line);
		else if (in.nargs == 0)
			r = df_fail(c, line, "EXPOSE requires at least one argument");
		break;
	case K_FROM:
		r = df_from(c, line, &in, rest);
		break;
	case K_ENV:
	case K_LABEL:
		r = df_name_val(c, line, &in, rest, def->name);
		break;
	case K_WORKDIR:
	case K_USER:
	case K_STOPSIGNAL:
	case K_MAINTAINER:
		if (!*rest)
			r = df_fail(c, line, "%s requires exactly one argument", def->name);
		else if (st_strv_push(&in.args, &in.nargs, rest) < 0)
			r = df_oom(c, line);
		break;
	case K_HEALTHCHECK:
		r = df_healthcheck(c, line, &in, rest);
		break;
	case K_ONBUILD:
		r = df_onbuild(c, line, &in, rest);
		break;
	case K_ARG:
		r = df_arg(c, line, &in, rest, in_onbuild, out);
		goto out; /* df_arg appended its own instructions */
	}
	if (r >= 0 && df_vec_push(out, &in) < 0)
		r = df_oom(c, line);
out:
	st_strv_free(raw, nraw);
	st_df_instr_free(&in);
	return r < 0 ? r : 0;
}

/* ------------------------------------------------------------ file */

int st_df_parse_trigger(const char *text, const char *what, struct st_df_instr *out, struct st_error *err)
{
	struct df_ctx c = {.file = what && *what ? what : "ONBUILD", .esc = '\\', .err = err};
	struct df_vec vec = {0};
	*out = (struct st_df_instr){0};
	if (!text)
		return df_fail(&c, 1, "ONBUILD requires at least one argument");
	const char *s = text, *e = text + strlen(text);
	df_trim(&s, &e);
	const char *te = s;
	while (te < e && !df_is_ws(*te))
		te++;
	size_t tl = (size_t)(te - s);
	if (s == e)
		return df_fail(&c, 1, "ONBUILD requires at least one argument");
	if (tl == 7 && strncasecmp(s, "ONBUILD", 7) == 0)
		return df_fail(&c, 1, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
	if ((tl == 4 && strncasecmp(s, "FROM", 4) == 0) || (tl == 10 && strncasecmp(s, "MAINTAINER", 10) == 0))
		return df_fail(&c, 1, "%s isn't allowed as an ONBUILD trigger", tl == 4 ? "FROM" : "MAINTAINER");
	int r = df_parse_line(&c, 1, text, true, &vec);
	if (r == 0) {
		*out = vec.v[0];
		vec.n = 0;
	}
	df_vec_free(&vec);
	return r;
}

int st_dockerfile_parse(const char *text, size_t len, const char *filename, struct st_dockerfile *out,
			struct st_error *err)
{
	struct df_ctx c = {.file = filename && *filename ? filename : "Dockerfile", .esc = '\\', .err = err};
	struct df_directives dir = {0};
	struct df_vec vec = {0};
	struct df_buf buf = {0};
	const char *p = text ? text : "", *end = p + (text ? len : 0);
	int lineno = 0, r = 0;
	bool have_from = false;
	size_t *stages = NULL, nstages = 0; /* the FROMs naming a stage */

	*out = (struct st_dockerfile){.escape = '\\'};
	const char *nul = memchr(p, '\0', (size_t)(end - p));
	if (nul) {
		int l = 1;
		for (const char *q = p; q < nul; q++)
			l += *q == '\n';
		return df_fail(&c, l, "the file contains a NUL byte");
	}
	if (end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;

	while (p < end) {
		const char *ls, *le;
		df_next_line(&p, end, &ls, &le);
		df_ltrim(&ls, le);
		lineno++;
		if ((r = df_directive(&c, &dir, ls, le, lineno)) < 0)
			goto fail;
		if (ls < le && *ls == '#')
			le = ls; /* a comment */
		int start = lineno;
		bool eol = df_trim_continuation(c.esc, ls, &le);
		if (eol && ls == le)
			continue;
		dfb_reset(&buf);
		dfb_putn(&buf, ls, (size_t)(le - ls));
		/* continuation lines keep their indentation; comment lines and
		 * blank lines inside a continuation are skipped, as BuildKit does */
		while (!eol && p < end) {
			df_next_line(&p, end, &ls, &le);
			lineno++;
			if (df_is_comment(ls, le) || df_is_blank(ls, le))
				continue;
			eol = df_trim_continuation(c.esc, ls, &le);
			dfb_putn(&buf, ls, (size_t)(le - ls));
		}
		if (buf.oom) {
			r = df_oom(&c, start);
			goto fail;
		}
		if (df_is_blank(buf.s, buf.s + buf.len)) {
			r = df_fail(&c, start, "unexpected end of file: a line continuation with no instruction");
			goto fail;
		}
		size_t before = vec.n;
		if ((r = df_parse_line(&c, start, buf.s, false, &vec)) < 0)
			goto fail;
		for (size_t i = before; i < vec.n; i++) {
			if (strcmp(vec.v[i].cmd, "FROM") == 0) {
				have_from = true;
				if (vec.v[i].nargs < 2)
					continue;
				const char *name = vec.v[i].args[1];
				for (size_t k = 0; k < nstages; k++) {
					if (strcmp(vec.v[stages[k]].args[1], name) == 0) {
						r = df_fail(&c, start, "duplicate stage name \"%s\"", name);
						goto fail;
					}
				}
				size_t *ns = realloc(stages, (nstages + 1) * sizeof(*ns));
				if (!ns) {
					r = df_oom(&c, start);
					goto fail;
				}
				stages = ns;
				stages[nstages++] = i;
			} else if (!have_from && strcmp(vec.v[i].cmd, "ARG") != 0) {
				r = df_fail(&c, start, "no build stage in current context (%s before the first FROM)",
					    vec.v[i].cmd);
				goto fail;
			}
		}
	}
	if (vec.n == 0) {
		r = df_fail(&c, lineno > 0 ? lineno : 1, "file with no instructions");
		goto fail;
	}
	if (!have_from) {
		r = df_fail(&c, lineno, "no build stage: the Dockerfile has no FROM instruction");
		goto fail;
	}
	dfb_free(&buf);
	free(stages);
	out->v = vec.v;
	out->n = vec.n;
	out->escape = c.esc;
	return 0;
fail:
	dfb_free(&buf);
	free(stages);
	df_vec_free(&vec);
	return r;
}
