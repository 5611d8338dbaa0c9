/* core/format: the lexer. Text between actions, and inside {{ }} the tokens
 * of Go's template language; trim markers ("{{- ", " -}}") cut the white
 * space of the text beside them, comments ({{/ * * /}}) vanish. */
#include <ctype.h>

#include "format/format_int.h"

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static bool is_alnum(char c) { return isalnum((unsigned char)c) || c == '_'; }

struct lexer {
	const char *s;
	size_t pos, n;
	struct fmt_tokens *out;
	struct st_error *err;
};

static int line_at(const char *s, size_t pos)
{
	int line = 1;
	for (size_t i = 0; i < pos; i++)
		line += s[i] == '\n';
	return line;
}

static int lex_fail(struct lexer *l, size_t pos, const char *msg, const char *arg)
{
	return st_error_fail(l->err, EINVAL, "template: :%d: %s%s", line_at(l->s, pos), msg, arg ? arg : "");
}

static int emit(struct lexer *l, enum fmt_tok type, size_t pos, size_t end, const char *val, size_t len, bool space)
{
	struct fmt_token *nv = realloc(l->out->v, (l->out->n + 1) * sizeof(*nv));
	if (!nv)
		return st_error_set(l->err, ENOMEM, "template");
	l->out->v = nv;
	char *copy = malloc(len + 1);
	if (!copy)
		return st_error_set(l->err, ENOMEM, "template");
	memcpy(copy, val, len);
	copy[len] = 0;
	nv[l->out->n++] = (struct fmt_token){.type = type, .val = copy, .len = len, .pos = pos, .end = end,
					     .line = line_at(l->s, pos), .space = space};
	return 0;
}

static int hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : isxdigit((unsigned char)c) ? (tolower((unsigned char)c) - 'a' + 10) : -1;
}

static void put_utf8(char *buf, size_t *len, unsigned cp)
{
	if (cp < 0x80) {
		buf[(*len)++] = (char)cp;
	} else if (cp < 0x800) {
		buf[(*len)++] = (char)(0xc0 | cp >> 6);
		buf[(*len)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		buf[(*len)++] = (char)(0xe0 | cp >> 12);
		buf[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[(*len)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		buf[(*len)++] = (char)(0xf0 | cp >> 18);
		buf[(*len)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		buf[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[(*len)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* A quoted string with Go's escapes, from l->pos (at the quote). */
static int lex_quote(struct lexer *l, bool space)
{
	size_t start = l->pos++;
	_cleanup_(st_freep) char *buf = malloc(l->n - start + 1);
	if (!buf)
		return st_error_set(l->err, ENOMEM, "template");
	size_t len = 0;
	for (;;) {
		if (l->pos >= l->n || l->s[l->pos] == '\n')
			return lex_fail(l, start, "unterminated quoted string", NULL);
		char c = l->s[l->pos++];
		if (c == '"')
			break;
		if (c != '\\') {
			buf[len++] = c;
			continue;
		}
		if (l->pos >= l->n)
			return lex_fail(l, start, "unterminated quoted string", NULL);
		c = l->s[l->pos++];
		static const char from[] = "abfnrtv\\\"'", to[] = "\a\b\f\n\r\t\v\\\"'";
		const char *e = strchr(from, c);
		if (c && e) {
			buf[len++] = to[e - from];
		} else if (c == 'x' || c == 'u' || c == 'U') {
			int digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
			unsigned cp = 0;
			for (int i = 0; i < digits; i++) {
				int h = l->pos < l->n ? hexval(l->s[l->pos]) : -1;
				if (h < 0)
					return lex_fail(l, start, "invalid syntax in quoted string", NULL);
				cp = cp * 16 + (unsigned)h;
				l->pos++;
			}
			if (c == 'x')
				buf[len++] = (char)cp;
			else if (cp > 0x10ffff)
				return lex_fail(l, start, "invalid syntax in quoted string", NULL);
			else
				put_utf8(buf, &len, cp);
		} else if (c >= '0' && c <= '7') {
			unsigned v = (unsigned)(c - '0');
			for (int i = 0; i < 2; i++) {
				if (l->pos >= l->n || l->s[l->pos] < '0' || l->s[l->pos] > '7')
					return lex_fail(l, start, "invalid syntax in quoted string", NULL);
				v = v * 8 + (unsigned)(l->s[l->pos++] - '0');
			}
			if (v > 255)
				return lex_fail(l, start, "invalid syntax in quoted string", NULL);
			buf[len++] = (char)v;
		} else {
			return lex_fail(l, start, "invalid syntax in quoted string", NULL);
		}
	}
	return emit(l, TK_STRING, start, l->pos, buf, len, space);
}

static int lex_raw(struct lexer *l, bool space)
{
	size_t start = l->pos++;
	const char *e = memchr(l->s + l->pos, '`', l->n - l->pos);
	if (!e)
		return lex_fail(l, start, "unterminated raw quoted string", NULL);
	size_t end = (size_t)(e - l->s);
	int rc = emit(l, TK_STRING, start, end + 1, l->s + l->pos, end - l->pos, space);
	l->pos = end + 1;
	return rc;
}

/* At "}}" or " -}}": its length, and whether it trims. */
static size_t at_right(struct lexer *l, bool *trim)
{
	const char *p = l->s + l->pos;
	size_t left = l->n - l->pos;
	*trim = left >= 4 && is_space(p[0]) && p[1] == '-' && p[2] == '}' && p[3] == '}';
	if (*trim)
		return 4;
	return left >= 2 && p[0] == '}' && p[1] == '}' ? 2 : 0;
}

/* Inside an action, from after "{{" to after "}}"; *trim: the right marker. */
static int lex_action(struct lexer *l, size_t open, bool *trim)
{
	bool space = false;
	for (;;) {
		size_t rl = at_right(l, trim);
		if (rl) {
			int rc = emit(l, TK_RIGHT, l->pos, l->pos + rl, "}}", 2, space);
			l->pos += rl;
			return rc;
		}
		if (l->pos >= l->n)
			return lex_fail(l, open, "unclosed action", NULL);
		char c = l->s[l->pos];
		size_t start = l->pos;
		int rc = 0;
		if (is_space(c)) {
			l->pos++;
			space = true;
			continue;
		}
		if (c == '"') {
			rc = lex_quote(l, space);
		} else if (c == '`') {
			rc = lex_raw(l, space);
		} else if (c == '.' && l->pos + 1 < l->n && is_alnum(l->s[l->pos + 1]) && !isdigit((unsigned char)l->s[l->pos + 1])) {
			l->pos++;
			while (l->pos < l->n && is_alnum(l->s[l->pos]))
				l->pos++;
			rc = emit(l, TK_FIELD, start, l->pos, l->s + start + 1, l->pos - start - 1, space);
		} else if (c == '.') {
			l->pos++;
			rc = emit(l, TK_DOT, start, l->pos, ".", 1, space);
		} else if (c == '$') {
			l->pos++;
			while (l->pos < l->n && is_alnum(l->s[l->pos]))
				l->pos++;
			rc = emit(l, TK_VAR, start, l->pos, l->s + start, l->pos - start, space);
		} else if (isalpha((unsigned char)c) || c == '_') {
			while (l->pos < l->n && is_alnum(l->s[l->pos]))
				l->pos++;
			rc = emit(l, TK_IDENT, start, l->pos, l->s + start, l->pos - start, space);
		} else if (isdigit((unsigned char)c) ||
			   ((c == '-' || c == '+') && l->pos + 1 < l->n && isdigit((unsigned char)l->s[l->pos + 1]))) {
			l->pos++;
			while (l->pos < l->n && (is_alnum(l->s[l->pos]) || l->s[l->pos] == '.' ||
						 ((l->s[l->pos] == '-' || l->s[l->pos] == '+') &&
						  (l->s[l->pos - 1] == 'e' || l->s[l->pos - 1] == 'E'))))
				l->pos++;
			rc = emit(l, TK_NUMBER, start, l->pos, l->s + start, l->pos - start, space);
		} else if (c == ':' && l->pos + 1 < l->n && l->s[l->pos + 1] == '=') {
			l->pos += 2;
			rc = emit(l, TK_DECLARE, start, l->pos, ":=", 2, space);
		} else if (c == '|' || c == '(' || c == ')' || c == ',' || c == '=') {
			l->pos++;
			static const enum fmt_tok types[] = {TK_PIPE, TK_LPAREN, TK_RPAREN, TK_COMMA, TK_ASSIGN};
			rc = emit(l, types[strchr("|(),=", c) - "|(),="], start, l->pos, &c, 1, space);
		} else {
			char what[32];
			unsigned char u = (unsigned char)c;
			if (u < 0x80 && isprint(u))
				snprintf(what, sizeof(what), "U+%04X '%c'", u, u);
			else
				snprintf(what, sizeof(what), "U+%04X", u);
			return lex_fail(l, start, "bad character ", what);
		}
		if (rc < 0)
			return rc;
		space = false;
	}
}

int fmt_lex(const char *text, struct fmt_tokens *out, struct st_error *err)
{
	struct lexer l = {.s = text, .n = strlen(text), .out = out, .err = err};
	out->v = NULL;
	out->n = 0;
	bool trim_next = false;
	int rc = 0;
	while (l.pos < l.n && rc == 0) {
		const char *open = strstr(l.s + l.pos, "{{");
		size_t tend = open ? (size_t)(open - l.s) : l.n, tstart = l.pos;
		size_t after = tend + 2;
		bool trim_left = open && after + 1 < l.n && l.s[after] == '-' && is_space(l.s[after + 1]);
		size_t te = tend;
		if (trim_next)
			while (tstart < te && is_space(l.s[tstart]))
				tstart++;
		if (trim_left)
			while (te > tstart && is_space(l.s[te - 1]))
				te--;
		if (te > tstart)
			rc = emit(&l, TK_TEXT, tstart, te, l.s + tstart, te - tstart, false);
		trim_next = false;
		if (!open || rc < 0)
			break;
		l.pos = trim_left ? after + 2 : after;
		/* a comment: {{/ * ... * /}} */
		size_t c0 = l.pos;
		while (trim_left && c0 < l.n && is_space(l.s[c0]))
			c0++;
		if (c0 + 1 < l.n && l.s[c0] == '/' && l.s[c0 + 1] == '*') {
			const char *ce = strstr(l.s + c0 + 2, "*/");
			if (!ce) {
				rc = lex_fail(&l, tend, "unclosed comment", NULL);
				break;
			}
			l.pos = (size_t)(ce - l.s) + 2;
			size_t rl = at_right(&l, &trim_next);
			if (!rl) {
				rc = lex_fail(&l, tend, "comment ends before closing delimiter", NULL);
				break;
			}
			l.pos += rl;
			continue;
		}
		if ((rc = emit(&l, TK_LEFT, tend, l.pos, "{{", 2, false)) < 0)
			break;
		rc = lex_action(&l, tend, &trim_next);
	}
	if (rc == 0)
		rc = emit(&l, TK_EOF, l.n, l.n, "", 0, false);
	if (rc < 0)
		fmt_tokens_free(out);
	return rc;
}

void fmt_tokens_free(struct fmt_tokens *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].val);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}
