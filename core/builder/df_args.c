/* The argument grammars of Dockerfile instructions, as BuildKit's parser
 * has them: whitespace-separated words with the escape character, the JSON
 * (exec) form and its fallback, name=value pairs (ENV, LABEL, ARG), heredoc
 * detection; and Go durations (HEALTHCHECK --interval and its kin). */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>

#include "base/base.h"
#include "df_internal.h"
#include "df_parse.h"
#include "dockerfile.h"

/* ------------------------------------------------------------ argument grammars */

/* parseWords: words separated by white space; quotes and escapes are kept
 * (the expander removes them later), but quoted white space does not split. */
int df_words(const char *rest, char esc, char ***out, size_t *n)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	struct df_buf w = {0};
	bool blank_ok = false;
	char quote = 0;
	const char *p = rest, *end = rest + strlen(rest);
	int r = 0;

	for (;;) {
		size_t k = p < end ? df_space_len(p, end) : 0;
		if (phase == IN_SPACES) {
			if (p == end)
				break;
			if (k) {
				p += k;
				continue;
			}
			phase = IN_WORD;
		}
		if (p == end) {
			if (blank_ok || w.len > 0)
				r = st_strv_push(out, n, w.s ? w.s : "");
			break;
		}
		if (phase == IN_WORD) {
			if (k) {
				phase = IN_SPACES;
				if ((blank_ok || w.len > 0) && (w.oom || (r = st_strv_push(out, n, w.s ? w.s : "")) < 0))
					break;
				dfb_reset(&w);
				blank_ok = false;
				p += k;
				continue;
			}
			if (*p == '\'' || *p == '"') {
				quote = *p;
				blank_ok = true;
				phase = IN_QUOTE;
			}
			if (*p == esc) {
				if (p + 1 == end) {
					p++;
					continue; /* an escape at the end is dropped */
				}
				dfb_putc(&w, *p++);
			}
			size_t rl = df_rune_len(p, end);
			dfb_putn(&w, p, rl);
			p += rl;
			continue;
		}
		/* IN_QUOTE */
		if (*p == quote)
			phase = IN_WORD;
		if (*p == esc && quote != '\'') {
			if (p + 1 == end) {
				phase = IN_WORD;
				p++;
				continue;
			}
			dfb_putc(&w, *p++);
		}
		size_t rl = df_rune_len(p, end);
		dfb_putn(&w, p, rl);
		p += rl;
	}
	if (w.oom && r == 0)
		r = -ENOMEM;
	dfb_free(&w);
	return r;
}

/* Whitespace-separated arguments (FROM, EXPOSE, shell-form COPY/ADD/VOLUME). */
int df_ws_split(struct st_df_instr *in, const char *rest)
{
	const char *p = rest;
	while (*p) {
		while (*p && df_is_ws(*p))
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (*p && !df_is_ws(*p))
			p++;
		int r = df_push_arg(in, s, p);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The exec (JSON) form: 1 when rest is a JSON array of strings (in->args
 * filled), 0 when it is not JSON at all (the caller falls back to the shell
 * form, as Docker does), a negative errno for an array holding non-strings. */
static int df_json(struct df_ctx *c, int line, struct st_df_instr *in, const char *rest)
{
	const char *p = rest, *end = rest + strlen(rest);
	df_ltrim(&p, end);
	if (p == end || *p != '[')
		return 0;
	/* Go's decoder refuses raw control characters inside strings;
	 * json-c takes them, so look first */
	bool in_str = false;
	for (const char *q = p; q < end; q++) {
		if (in_str && *q == '\\' && q + 1 < end)
			q++;
		else if (*q == '"')
			in_str = !in_str;
		else if (in_str && (unsigned char)*q < 0x20)
			return 0;
	}
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return df_oom(c, line);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *o = json_tokener_parse_ex(tok, p, (int)(end - p));
	bool ok = o && json_tokener_get_error(tok) == json_tokener_success;
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	/* the whole text must be the array (trailing JSON white space only) */
	for (const char *q = p + used; ok && q < end; q++)
		if (!(*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			ok = false;
	if (!ok || !json_object_is_type(o, json_type_array)) {
		json_object_put(o);
		return 0;
	}
	int r = 1;
	size_t n = json_object_array_length(o);
	for (size_t i = 0; i < n && r > 0; i++) {
		json_object *e = json_object_array_get_idx(o, i);
		if (!json_object_is_type(e, json_type_string)) {
			r = df_fail(c, line, "when using JSON array syntax, arrays must be comprised of strings only");
			break;
		}
		const char *s = json_object_get_string(e);
		int slen = json_object_get_string_len(e);
		if (memchr(s, '\0', (size_t)slen)) {
			r = df_fail(c, line, "JSON array element %zu contains a NUL character", i);
			break;
		}
		if (st_strv_push(&in->args, &in->nargs, s) < 0)
			r = df_oom(c, line);
	}
	json_object_put(o);
	if (r < 0)
		return r;
	in->json = true;
	return 1;
}

/* parseMaybeJSON (RUN, CMD, ENTRYPOINT, SHELL): the argv, or one element
 * holding the command line. Nothing at all leaves nargs 0. */
int df_maybe_json(struct df_ctx *c, int line, struct st_df_instr *in, const char *rest)
{
	if (!*rest)
		return 0;
	int r = df_json(c, line, in, rest);
	if (r != 0)
		return r < 0 ? r : 0;
	return st_strv_push(&in->args, &in->nargs, rest) < 0 ? df_oom(c, line) : 0;
}

/* parseMaybeJSONToList (COPY, ADD, VOLUME). */
int df_maybe_json_list(struct df_ctx *c, int line, struct st_df_instr *in, const char *rest)
{
	int r = df_json(c, line, in, rest);
	if (r != 0)
		return r < 0 ? r : 0;
	return df_ws_split(in, rest) < 0 ? df_oom(c, line) : 0;
}

/* ENV and LABEL: "K=V K2=V2 ..." or the legacy "K V" (a space before any
 * "="), giving key, value, key, value, ... */
int df_name_val(struct df_ctx *c, int line, struct st_df_instr *in, const char *rest, const char *cmd)
{
	char **words = NULL;
	size_t n = 0;
	int r = df_words(rest, c->esc, &words, &n);
	if (r < 0)
		goto out;
	if (n == 0) {
		r = df_fail(c, line, "%s requires at least one argument", cmd);
		goto out;
	}
	if (!strchr(words[0], '=')) {
		const char *k = rest;
		while (*k && !df_is_ws(*k))
			k++;
		const char *v = k;
		while (*v && df_is_ws(*v))
			v++;
		if (!*v) {
			r = df_fail(c, line, "%s must have two arguments", cmd);
			goto out;
		}
		if (df_push_arg(in, rest, k) < 0 || st_strv_push(&in->args, &in->nargs, v) < 0)
			r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char *eq = strchr(words[i], '=');
		if (!eq) {
			r = df_fail(c, line, "Syntax error - can't find = in \"%.256s\". Must be of the form: name=value",
				    words[i]);
			goto out;
		}
		if (eq == words[i]) {
			r = df_fail(c, line, "%s names can not be blank", cmd);
			goto out;
		}
		if (df_push_arg(in, words[i], eq) < 0 || st_strv_push(&in->args, &in->nargs, eq + 1) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
out:
	st_strv_free(words, n);
	if (r == -ENOMEM)
		r = df_oom(c, line);
	return r;
}

/* A heredoc word ("<<EOF", "<<-EOF", "3<<EOF"): BuildKit reads the lines
 * that follow as its content. We do not implement heredocs, and reading
 * those lines as instructions would give baffling errors, so say so. */
bool df_has_heredoc(const char *rest, char esc)
{
	char **words = NULL;
	size_t n = 0;
	bool found = false;
	if (df_words(rest, esc, &words, &n) < 0) {
		st_strv_free(words, n);
		return false;
	}
	for (size_t i = 0; i < n && !found; i++) {
		const char *w = words[i];
		while (isdigit((unsigned char)*w))
			w++;
		if (w[0] != '<' || w[1] != '<')
			continue;
		w += 2;
		if (*w == '-')
			w++;
		found = *w && !strchr(w, '<');
	}
	st_strv_free(words, n);
	return found;
}

/* ------------------------------------------------------------ durations */

static int df_leading_int(const char **s, uint64_t *v)
{
	uint64_t x = 0;
	const char *p = *s;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_C(1) << 63) / 10)
			return -ERANGE;
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > (UINT64_C(1) << 63))
			return -ERANGE;
	}
	*s = p;
	*v = x;
	return 0;
}

int st_df_parse_duration(const char *text, int64_t *ns, struct st_error *err)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
		{"ns", 1},	      {"us", 1000},	      {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000},
		{"ms", 1000000},      {"s", 1000000000},     {"m", UINT64_C(60000000000)},
		{"h", UINT64_C(3600000000000)},
	};
	const char *s = text;
	uint64_t d = 0;
	bool neg = false;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return st_error_fail(err, EINVAL, "time: invalid duration \"%s\"", text);
	while (*s) {
		uint64_t v = 0, f = 0;
		double scale = 1;
		if (!(*s == '.' || (*s >= '0' && *s <= '9')))
			return st_error_fail(err, EINVAL, "time: invalid duration \"%s\"", text);
		const char *before = s;
		if (df_leading_int(&s, &v) < 0)
			return st_error_fail(err, EINVAL, "time: invalid duration \"%s\"", text);
		bool pre = s != before, post = false;
		if (*s == '.') {
			s++;
			const char *fs = s;
			bool overflow = false;
			for (; *s >= '0' && *s <= '9'; s++) {
				if (overflow)
					continue;
				if (f > (UINT64_C(1) << 63) / 10) {
					overflow = true;
					continue;
				}
				uint64_t y = f * 10 + (uint64_t)(*s - '0');
				if (y > (UINT64_C(1) << 63)) {
					overflow = true;
					continue;
				}
				f = y;
				scale *= 10;
			}
			post = s != fs;
		}
		if (!pre && !post)
			return st_error_fail(err, EINVAL, "time: invalid duration \"%s\"", text);
		const char *u = s;
		while (*s && *s != '.' && !(*s >= '0' && *s <= '9'))
			s++;
		if (s == u)
			return st_error_fail(err, EINVAL, "time: missing unit in duration \"%s\"", text);
		uint64_t unit = 0;
		for (size_t i = 0; i < ST_ARRAY_SIZE(units); i++)
			if (strlen(units[i].unit) == (size_t)(s - u) && memcmp(units[i].unit, u, (size_t)(s - u)) == 0)
				unit = units[i].ns;
		if (!unit)
			return st_error_fail(err, EINVAL, "time: unknown unit \"%.*s\" in duration \"%s\"", (int)(s - u), u,
					     text);
		if (v > (UINT64_C(1) << 63) / unit)
			return st_error_fail(err, EINVAL, "time: invalid duration \"%s\"", text);
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > (UINT64_C(1) << 63))
				return st_error_fail(err, EINVAL, "time: invalid duration \"%s\"", text);
		}
		d += v;
		if (d > (UINT64_C(1) << 63))
			return st_error_fail(err, EINVAL, "time: invalid duration \"%s\"", text);
	}
	if (neg) {
		*ns = d == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > (uint64_t)INT64_MAX)
		return st_error_fail(err, EINVAL, "time: invalid duration \"%s\"", text);
	*ns = (int64_t)d;
	return 0;
}

/* HEALTHCHECK options: durations of at least 1ms (0 means "default"),
 * retries a non-negative 32-bit integer. */
int df_check_health_flags(struct df_ctx *c, int line, const struct st_df_instr *in)
{
	static const char *const durations[] = {"interval", "timeout", "start-period", "start-interval"};
	for (size_t i = 0; i < ST_ARRAY_SIZE(durations); i++) {
		const char *v = st_df_flag(in, durations[i]);
		if (!v || !*v)
			continue;
		int64_t ns;
		struct st_error e = {0};
		if (st_df_parse_duration(v, &ns, &e) < 0)
			return df_fail(c, line, "%s", e.msg);
		if (ns != 0 && ns < 1000000)
			return df_fail(c, line, "Interval \"%s\" cannot be less than 1ms", durations[i]);
	}
	const char *v = st_df_flag(in, "retries");
	if (v && *v) {
		char *end;
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (isspace((unsigned char)*v) || *end || end == v)
			return df_fail(c, line, "strconv.ParseInt: parsing \"%.64s\": invalid syntax", v);
		if (errno == ERANGE || n > INT32_MAX || n < INT32_MIN)
			return df_fail(c, line, "strconv.ParseInt: parsing \"%.64s\": value out of range", v);
		if (n < 0)
			return df_fail(c, line, "--retries cannot be negative (%lld)", n);
	}
	return 0;
}
