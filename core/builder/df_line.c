/* The line stage of the Dockerfile parser (dockerfile.c): parser
 * directives, comments, continuations, the split into instruction name,
 * --flags and argument text; the parse context and its errors, and the
 * memory of parsed instructions. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <strings.h>

#include "base/base.h"
#include "df_internal.h"
#include "dockerfile.h"
#include "df_parse.h"

/* ------------------------------------------------------------ context */

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

bool df_is_comment(const char *p, const char *end)
{
	df_ltrim(&p, end);
	return p < end && *p == '#';
}

bool df_is_blank(const char *p, const char *end)
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

/* Go's regexp \s: [\t\n\f\r ]. */
bool df_re_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\f' || ch == '\r';
}

int df_directive(struct df_ctx *c, struct df_directives *d, const char *p, const char *end, int line)
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
bool df_trim_continuation(char esc, const char *p, const char **end)
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
void df_next_line(const char **p, const char *end, const char **ls, const char **le)
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
