/* The Dockerfile shell lexer's word processing (moby/buildkit
 * frontend/dockerfile/shell): quote removal ('...' literal, "..." with
 * $-expansion and escapes of " $ and the escape character), the escape
 * character outside quotes, $VAR and ${VAR} with the modifiers
 * :- - :+ + :? ? # ## % %% / //, and word splitting on unquoted white
 * space that comes from the text or from an unquoted expansion. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#include "base/base.h"
#include "df_internal.h"
#include "dockerfile.h"

struct sw {
	const char *p, *end;
	const struct st_kvlist *vars;
	char esc;
	bool raw_escapes; /* keep escape characters (in patterns) */
	char msg[512];	  /* the syntax error, when a step fails with -EINVAL */
};

/* The words being built while processing (ProcessWords). */
struct sw_words {
	struct df_buf word;
	char **v;
	size_t n;
	bool in_word, oom;
};

static int sw_err(struct sw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sw_err(struct sw *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void sww_raw(struct sw_words *ws, const char *p, size_t n)
{
	if (!ws)
		return;
	dfb_putn(&ws->word, p, n);
	ws->in_word = true;
}

static void sww_char(struct sw_words *ws, const char *p, size_t n)
{
	if (!ws)
		return;
	bool space = df_space_len(p, p + n) == n;
	if (space && ws->in_word) {
		if (ws->word.len != 0) {
			if (ws->word.oom || st_strv_push(&ws->v, &ws->n, ws->word.s) < 0)
				ws->oom = true;
			dfb_reset(&ws->word);
			ws->in_word = false;
		}
	} else if (!space) {
		sww_raw(ws, p, n);
	}
}

/* Text produced by an unquoted $-expansion: it splits on its white space. */
static void sww_string(struct sw_words *ws, const char *s, size_t len)
{
	const char *end = s + len;
	while (ws && s < end) {
		size_t k = df_rune_len(s, end);
		sww_char(ws, s, k);
		s += k;
	}
}

static const char *sw_getenv(struct sw *w, const char *name, bool *set)
{
	const char *v = st_kvlist_get(w->vars, name);
	*set = v != NULL;
	return v ? v : "";
}

static int sw_stop_on(struct sw *w, const char *stops, bool raw, struct df_buf *out, struct sw_words *ws);
static int sw_dollar(struct sw *w, struct df_buf *out);

static int sw_single_quote(struct sw *w, struct df_buf *out)
{
	w->p++;
	for (;;) {
		if (w->p == w->end)
			return sw_err(w, "unexpected end of statement while looking for matching single-quote");
		if (*w->p == '\'') {
			w->p++;
			return 0;
		}
		dfb_putc(out, *w->p++);
	}
}

static int sw_double_quote(struct sw *w, struct df_buf *out)
{
	w->p++;
	for (;;) {
		if (w->p == w->end)
			return sw_err(w, "unexpected end of statement while looking for matching double-quote");
		char ch = *w->p;
		if (ch == '"') {
			w->p++;
			return 0;
		}
		if (ch == '$') {
			struct df_buf tmp = {0};
			int r = sw_dollar(w, &tmp);
			if (r == 0)
				dfb_putn(out, tmp.s ? tmp.s : "", tmp.len);
			dfb_free(&tmp);
			if (r < 0)
				return r;
			continue;
		}
		w->p++;
		if (ch == w->esc) {
			if (w->raw_escapes)
				dfb_putc(out, ch);
			if (w->p == w->end)
				continue; /* an escape at the end is dropped */
			if (*w->p == '"' || *w->p == '$' || *w->p == w->esc)
				ch = *w->p++;
		}
		dfb_putc(out, ch);
	}
}

/* $NAME: a run of digits, one special parameter character, or letters,
 * digits and underscores. */
static void sw_name(struct sw *w, char *name, size_t size)
{
	size_t n = 0;
	const char *p = w->p;
	if (p < w->end && isdigit((unsigned char)*p)) {
		while (p < w->end && isdigit((unsigned char)*p))
			p++;
	} else if (p < w->end && strchr("@*#?-$!", *p) && *p) {
		p++;
	} else {
		while (p < w->end && (isalnum((unsigned char)*p) || *p == '_'))
			p++;
	}
	n = (size_t)(p - w->p);
	snprintf(name, size, "%.*s", (int)(n < size ? n : size - 1), w->p);
	w->p = p;
}

/* The escape character of the lexer -> '\' for the glob matcher. */
static char *sw_glob_pattern(const char *word, char esc)
{
	struct df_buf b = {0};
	for (const char *p = word; *p; p++) {
		if (*p == esc && p[1]) {
			dfb_putc(&b, '\\');
			dfb_putc(&b, *++p);
		} else if (*p == '\\' || *p == esc) {
			dfb_puts(&b, "\\\\");
		} else {
			dfb_putc(&b, *p);
		}
	}
	return dfb_take(&b);
}

static bool sw_boundary(const char *s, size_t i)
{
	return ((unsigned char)s[i] & 0xC0) != 0x80;
}

/* ${VAR#pat} ${VAR##pat} ${VAR%pat} ${VAR%%pat} */
static int sw_trim(const char *value, const char *pat, bool suffix, bool greedy, struct df_buf *out)
{
	size_t len = strlen(value), plen = strlen(pat);
	for (size_t step = 0; step <= len; step++) {
		/* prefix: shortest first is k = 0, 1, ...; suffix: start at len */
		size_t k = suffix ? (greedy ? step : len - step) : (greedy ? len - step : step);
		if (k < len && !sw_boundary(value, k))
			continue;
		int m = suffix ? st_df_glob(pat, plen, value + k, len - k, false) : st_df_glob(pat, plen, value, k, false);
		if (m < 0)
			return m;
		if (m) {
			if (suffix)
				dfb_putn(out, value, k);
			else
				dfb_puts(out, value + k);
			return 0;
		}
	}
	dfb_puts(out, value);
	return 0;
}

/* The leftmost match at or after pos (longest there): [*a, *b). */
static int sw_find(const char *value, size_t len, const char *pat, size_t pos, size_t *a, size_t *b)
{
	size_t plen = strlen(pat);
	for (size_t i = pos; i <= len; i++) {
		if (i < len && !sw_boundary(value, i))
			continue;
		for (size_t j = len + 1; j-- > i;) {
			if (j < len && !sw_boundary(value, j))
				continue;
			int m = st_df_glob(pat, plen, value + i, j - i, false);
			if (m < 0)
				return m;
			if (m) {
				*a = i;
				*b = j;
				return 1;
			}
		}
	}
	return 0;
}

/* ${VAR/pat/rep} and ${VAR//pat/rep}, with Go's ReplaceAll rules for
 * empty matches. */
static int sw_replace(const char *value, const char *pat, const char *rep, bool all, struct df_buf *out)
{
	size_t len = strlen(value), last = 0, pos = 0, a, b;
	while (pos <= len) {
		int m = sw_find(value, len, pat, pos, &a, &b);
		if (m < 0)
			return m;
		if (!m)
			break;
		dfb_putn(out, value + last, a - last);
		if (b > last || a == 0) /* not an empty match right after a match */
			dfb_puts(out, rep);
		last = b;
		if (!all)
			break;
		size_t width = pos < len ? df_rune_len(value + pos, value + len) : 1;
		if (pos + width > b)
			pos += width;
		else if (pos + 1 > b)
			pos++;
		else
			pos = b;
	}
	dfb_puts(out, value + last);
	return 0;
}

static int sw_dollar(struct sw *w, struct df_buf *out)
{
	char name[1024];
	bool set;
	w->p++;
	if (w->p == w->end || *w->p != '{') {
		sw_name(w, name, sizeof(name));
		dfb_puts(out, name[0] ? sw_getenv(w, name, &set) : "$");
		return 0;
	}
	w->p++;
	if (w->p == w->end)
		return sw_err(w, "syntax error: missing '}'");
	if (*w->p == '{' || *w->p == '}' || *w->p == ':')
		return sw_err(w, "syntax error: bad substitution");
	sw_name(w, name, sizeof(name));
	if (w->p == w->end)
		return sw_err(w, "syntax error: missing '}'");
	char ch = *w->p++, chs[3] = {ch, 0, 0};
	bool null_is_unset = false;
	const char *value = sw_getenv(w, name, &set);

	if (ch == '}') {
		dfb_puts(out, value);
		return 0;
	}
	if (ch == ':') {
		if (w->p == w->end)
			return sw_err(w, "syntax error: missing '}'");
		null_is_unset = true;
		ch = *w->p++;
		chs[1] = ch;
	}
	struct df_buf word = {0}, word2 = {0};
	int r = 0;
	if (ch == '/' && !null_is_unset) {
		bool all = w->p < w->end && *w->p == '/';
		if (all)
			w->p++;
		if ((r = sw_stop_on(w, "/", true, &word, NULL)) < 0) {
			if (w->p == w->end)
				r = sw_err(w, "syntax error: missing '/' in ${}");
			goto out;
		}
		if ((r = sw_stop_on(w, "}", true, &word2, NULL)) < 0) {
			if (w->p == w->end)
				r = sw_err(w, "syntax error: missing '}'");
			goto out;
		}
		_cleanup_free_ char *pat = sw_glob_pattern(word.s ? word.s : "", w->esc);
		if (!pat || word.oom || word2.oom) {
			r = -ENOMEM;
			goto out;
		}
		r = sw_replace(value, pat, word2.s ? word2.s : "", all, out);
		goto out;
	}
	if (!strchr("+-?#%", ch) || !ch) {
		r = sw_err(w, "unsupported modifier (%s) in substitution", chs);
		goto out;
	}
	bool pattern = ch == '#' || ch == '%';
	if (null_is_unset && pattern) {
		r = sw_err(w, "unsupported modifier (%s) in substitution", chs);
		goto out;
	}
	if ((r = sw_stop_on(w, "}", pattern, &word, NULL)) < 0) {
		if (w->p == w->end)
			r = sw_err(w, "syntax error: missing '}'");
		goto out;
	}
	if (word.oom) {
		r = -ENOMEM;
		goto out;
	}
	const char *wd = word.s ? word.s : "";
	bool empty = !set || (null_is_unset && !*value);
	switch (ch) {
	case '-':
		dfb_puts(out, empty ? wd : value);
		break;
	case '+':
		dfb_puts(out, empty ? "" : wd);
		break;
	case '?':
		if (!set)
			r = sw_err(w, "%s: %s", name, *wd ? wd : "is not allowed to be unset");
		else if (empty)
			r = sw_err(w, "%s: %s", name, *wd ? wd : "is not allowed to be empty");
		else
			dfb_puts(out, value);
		break;
	default: { /* # ## % %% */
		bool greedy = wd[0] == ch;
		_cleanup_free_ char *pat = sw_glob_pattern(greedy ? wd + 1 : wd, w->esc);
		r = pat ? sw_trim(value, pat, ch == '%', greedy, out) : -ENOMEM;
		break;
	}
	}
out:
	dfb_free(&word);
	dfb_free(&word2);
	return r;
}

/* Process until one of stops (consumed) or, with stops NULL, the end. */
static int sw_stop_on(struct sw *w, const char *stops, bool raw, struct df_buf *out, struct sw_words *ws)
{
	bool saved = w->raw_escapes;
	int r = 0;
	w->raw_escapes = raw;
	while (w->p < w->end) {
		char ch = *w->p;
		if (stops && ch && strchr(stops, ch)) {
			w->p++;
			goto done;
		}
		if (ch == '\'' || ch == '"' || ch == '$') {
			struct df_buf tmp = {0};
			r = ch == '\'' ? sw_single_quote(w, &tmp) : ch == '"' ? sw_double_quote(w, &tmp) : sw_dollar(w, &tmp);
			if (r == 0 && tmp.oom)
				r = -ENOMEM;
			if (r == 0) {
				dfb_putn(out, tmp.s ? tmp.s : "", tmp.len);
				if (ch == '$')
					sww_string(ws, tmp.s ? tmp.s : "", tmp.len);
				else
					sww_raw(ws, tmp.s ? tmp.s : "", tmp.len);
			}
			dfb_free(&tmp);
			if (r < 0)
				goto done;
			continue;
		}
		if (ch == w->esc) {
			if (w->raw_escapes) {
				sww_raw(ws, &ch, 1);
				dfb_putc(out, ch);
			}
			w->p++;
			if (w->p == w->end)
				break;
			size_t k = df_rune_len(w->p, w->end);
			sww_raw(ws, w->p, k);
			dfb_putn(out, w->p, k);
			w->p += k;
			continue;
		}
		size_t k = df_rune_len(w->p, w->end);
		sww_char(ws, w->p, k);
		dfb_putn(out, w->p, k);
		w->p += k;
	}
	if (stops)
		r = sw_err(w, "unexpected end of statement while looking for matching %c", stops[0]);
done:
	w->raw_escapes = saved;
	return r;
}

static int sw_run(const char *word, const struct st_kvlist *vars, char escape, struct df_buf *out,
		  struct sw_words *ws, struct st_error *err)
{
	if (!word)
		return st_error_fail(err, EINVAL, "expanding a word: no word given");
	struct sw w = {.p = word, .end = word + strlen(word), .vars = vars, .esc = escape ? escape : '\\'};
	int r = sw_stop_on(&w, NULL, false, out, ws);
	if (r == 0 && (out->oom || (ws && (ws->oom || ws->word.oom))))
		r = -ENOMEM;
	if (r == -EINVAL)
		return st_error_fail(err, EINVAL, "failed to process \"%.1024s\": %s", word, w.msg);
	if (r < 0)
		return st_error_set(err, -r, "failed to process \"%.1024s\"", word);
	return 0;
}

int st_df_expand(const char *word, const struct st_kvlist *vars, char escape, char **out, struct st_error *err)
{
	struct df_buf b = {0};
	*out = NULL;
	int r = sw_run(word, vars, escape, &b, NULL, err);
	if (r < 0) {
		dfb_free(&b);
		return r;
	}
	*out = dfb_take(&b);
	return *out ? 0 : st_error_set(err, ENOMEM, "failed to process \"%.1024s\"", word);
}

int st_df_expand_words(const char *word, const struct st_kvlist *vars, char escape, char ***out, size_t *n,
		       struct st_error *err)
{
	struct df_buf b = {0};
	struct sw_words ws = {0};
	*out = NULL;
	*n = 0;
	int r = sw_run(word, vars, escape, &b, &ws, err);
	if (r == 0 && ws.word.len > 0 && st_strv_push(&ws.v, &ws.n, ws.word.s) < 0)
		r = st_error_set(err, ENOMEM, "failed to process \"%.1024s\"", word);
	/* an empty result is an empty, NULL-terminated list, not NULL */
	if (r == 0 && !ws.v && !(ws.v = calloc(1, sizeof(char *))))
		r = st_error_set(err, ENOMEM, "failed to process \"%.1024s\"", word);
	dfb_free(&b);
	dfb_free(&ws.word);
	if (r < 0) {
		st_strv_free(ws.v, ws.n);
		return r;
	}
	*out = ws.v;
	*n = ws.n;
	return 0;
}
