/* Dockerfile parsing: the language as BuildKit's dockerfile frontend (and
 * Docker's classic builder before it) reads it. Two stages, as there:
 * the line stage (parser directives, comments, continuations, the split
 * into instruction name, --flags and argument text) and the instruction
 * stage (each instruction's argument grammar and checks). Rules follow
 * moby/buildkit frontend/dockerfile/parser and .../instructions; error
 * texts are theirs so users can search them. No expansion happens here:
 * arguments stay as written for the builder to expand with st_df_expand.
 * This file: the line stage and the file; argument grammars are df_args.c,
 * the instruction stage df_instr.c. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <strings.h>

#include "df_internal.h"
#include "dockerfile.h"
#include "df_parse.h"
#include "base/base.h"

/* ------------------------------------------------------------ context */

int df_fail(struct df_ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int df_fail(struct df_ctx *c, int line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return st_error_fail(c->err, EINVAL, "%s:%d: %s", c->file, line, msg);
}

int df_oom(struct df_ctx *c, int line)
{
	return st_error_set(c->err, ENOMEM, "%s:%d: parsing", c->file, line);
}

/* reWhitespace in the Go parser: the separators of command and words. */
bool df_is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\v' || ch == '\f' || ch == '\r';
}

/* Go's unicode.IsSpace applied to a single byte (how the flag scanner and
 * the HEALTHCHECK splitter look at text). */
bool df_byte_space(char ch)
{
	return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

void df_ltrim(const char **p, const char *end)
{
	size_t k;
	while (*p < end && (k = df_space_len(*p, end)) > 0)
		*p += k;
}

static bool df_is_comment(const char *p, const char *end)
{
	df_ltrim(&p, end);
	return p < end && *p == '#';
}

static bool df_is_blank(const char *p, const char *end)
{
	df_ltrim(&p, end);
	return p == end;
}

char *df_strndup(const char *p, const char *end)
{
	return strndup(p, (size_t)(end - p));
}

/* ------------------------------------------------------------ instruction memory */

void st_df_instr_free(struct st_df_instr *in)
{
	if (!in)
		return;
	free(in->cmd);
	free(in->original);
	for (size_t i = 0; i < in->nflags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	st_strv_free(in->args, in->nargs);
	if (in->sub) {
		st_df_instr_free(in->sub);
		free(in->sub);
	}
	*in = (struct st_df_instr){0};
}

void st_dockerfile_free(struct st_dockerfile *df)
{
	if (!df)
		return;
	for (size_t i = 0; i < df->n; i++)
		st_df_instr_free(&df->v[i]);
	free(df->v);
	df->v = NULL;
	df->n = 0;
}

void df_vec_free(struct df_vec *vec)
{
	for (size_t i = 0; i < vec->n; i++)
		st_df_instr_free(&vec->v[i]);
	free(vec->v);
	*vec = (struct df_vec){0};
}

/* Moves *in into the vector (in is left empty). */
int df_vec_push(struct df_vec *vec, struct st_df_instr *in)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 16;
		struct st_df_instr *v = realloc(vec->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n++] = *in;
	*in = (struct st_df_instr){0};
	return 0;
}

int df_push_arg(struct st_df_instr *in, const char *p, const char *end)
{
	_cleanup_free_ char *s = df_strndup(p, end);
	if (!s)
		return -ENOMEM;
	return st_strv_push(&in->args, &in->nargs, s);
}

const char *st_df_flag(const struct st_df_instr *in, const char *name)
{
	for (size_t i = 0; in && i < in->nflags; i++)
		if (strcmp(in->flags[i].name, name) == 0)
			return in->flags[i].value;
	return NULL;
}

bool st_df_flag_bool(const struct st_df_instr *in, const char *name)
{
	const char *v = st_df_flag(in, name);
	return v && (v[0] == '\0' || strcmp(v, "true") == 0);
}

/* ------------------------------------------------------------ line stage */

/* Parser directives (`# escape=`, `# syntax=`, `# check=`): only in the
 * leading comment lines; the first other line ends them. */
struct df_directives {
	bool done, seen_escape, seen_syntax, seen_check;
};

/* Go's regexp \s: [\t\n\f\r ]. */
bool df_re_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\f' || ch == '\r';
}

static int df_directive(struct df_ctx *c, struct df_directives *d, const char *p, const char *end, int line)
{
	if (d->done)
		return 0;
	if (p == end || *p != '#') {
		d->done = true;
		return 0;
	}
	p++;
	df_ltrim(&p, end);
	/* ^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$ */
	const char *name = p;
	if (p == end || !isalpha((unsigned char)*p)) {
		d->done = true;
		return 0;
	}
	while (p < end && isalnum((unsigned char)*p))
		p++;
	size_t namelen = (size_t)(p - name);
	while (p < end && df_re_space(*p))
		p++;
	if (p == end || *p != '=') {
		d->done = true;
		return 0;
	}
	p++;
	const char *after_eq = p;
	while (p < end && df_re_space(*p))
		p++;
	const char *vend = end;
	while (vend > p && df_re_space(vend[-1]))
		vend--;
	if (p == vend) {
		/* all blank: the lazy group still takes one character if any */
		if (after_eq == end) {
			d->done = true;
			return 0;
		}
		p = end - 1;
		vend = end;
	}
	bool *seen;
	if (namelen == 6 && strncasecmp(name, "escape", 6) == 0)
		seen = &d->seen_escape;
	else if (namelen == 6 && strncasecmp(name, "syntax", 6) == 0)
		seen = &d->seen_syntax;
	else if (namelen == 5 && strncasecmp(name, "check", 5) == 0)
		seen = &d->seen_check;
	else {
		d->done = true;
		return 0;
	}
	char lname[8];
	for (size_t i = 0; i < namelen; i++)
		lname[i] = (char)tolower((unsigned char)name[i]);
	lname[namelen] = '\0';
	if (*seen)
		return df_fail(c, line, "only one %s parser directive can be used", lname);
	*seen = true;
	if (seen == &d->seen_escape) {
		if (vend - p != 1 || (*p != '\\' && *p != '`'))
			return df_fail(c, line, "invalid escape token '%.*s' does not match ` or \\", (int)(vend - p), p);
		c->esc = *p;
	}
	return 0;
}

/* Removes a trailing line-continuation escape (followed only by blanks);
 * returns true at the end of the logical line. An escaped escape at the end
 * ("foo \\\\") is not a continuation. */
static bool df_trim_continuation(char esc, const char *p, const char **end)
{
	const char *q = *end;
	while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	if (q == p || q[-1] != esc)
		return true;
	const char *e = q - 1;
	if (e > p && e[-1] == esc)
		return true;
	*end = e;
	return false;
}

/* The next physical line [*ls, *le) without its line ending ("\r\n"s). */
static void df_next_line(const char **p, const char *end, const char **ls, const char **le)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	*ls = *p;
	*le = nl ? nl : end;
	*p = nl ? nl + 1 : end;
	while (*le > *ls && ((*le)[-1] == '\r' || (*le)[-1] == '\n'))
		(*le)--;
}

/* The flag words at the start of the argument text ("--name=value", quotes
 * removed, backslash escapes honoured); *rest receives what follows them.
 * A "--" word ends the flags. */
int df_extract_flags(const char *line, char ***words, size_t *nwords, const char **rest)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	struct df_buf w = {0};
	bool blank_ok = false;
	char quote = 0;
	size_t len = strlen(line);
	int r = 0;

	*rest = line + len;
	for (size_t pos = 0; pos <= len; pos++) {
		char ch = pos < len ? line[pos] : '\0';
		if (phase == IN_SPACES) {
			if (pos == len)
				break;
			if (df_byte_space(ch))
				continue;
			if (ch != '-' || pos + 1 == len || line[pos + 1] != '-') {
				*rest = line + pos;
				break;
			}
			phase = IN_WORD;
		}
		if (pos == len) {
			if (!(w.len == 2 && memcmp(w.s, "--", 2) == 0) && (blank_ok || w.len > 0))
				r = st_strv_push(words, nwords, w.s ? w.s : "");
			break;
		}
		if (phase == IN_WORD) {
			if (df_byte_space(ch)) {
				phase = IN_SPACES;
				if (w.len == 2 && memcmp(w.s, "--", 2) == 0) {
					*rest = line + pos;
					break;
				}
				if (blank_ok || w.len > 0) {
					if (w.oom || (r = st_strv_push(words, nwords, w.s ? w.s : "")) < 0)
						break;
				}
				dfb_reset(&w);
				blank_ok = false;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = true;
				phase = IN_QUOTE;
				continue;
			}
			if (ch == '\\') {
				if (pos + 1 == len)
					continue;
				ch = line[++pos];
			}
			dfb_putc(&w, ch);
			continue;
		}
		/* IN_QUOTE */
		if (ch == quote) {
			phase = IN_WORD;
			continue;
		}
		if (ch == '\\') {
			if (pos + 1 == len) {
				phase = IN_WORD;
				continue;
			}
			ch = line[++pos];
		}
		dfb_putc(&w, ch);
	}
	if (w.oom && r == 0)
		r = -ENOMEM;
	dfb_free(&w);
	return r;
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
