/* Glob matching for the builder's two pattern languages, run as an NFA
 * (linear in the text, so a hostile .dockerignore or ${VAR%pattern} cannot
 * make matching exponential):
 *  - path mode, .dockerignore (moby/patternmatcher): `*` and `?` stop at
 *    '/', `**` spans directories (`**` + `/` may also match nothing), `[...]`
 *    classes negated with `^`, `\` escapes;
 *  - shell mode, ${VAR#pat} ${VAR%pat} ${VAR/pat/rep}: `*` and `?` match
 *    any character, classes negated with `!` or `^`.
 * Characters are UTF-8 runes (an invalid byte is one rune), as in Go. */
#include <errno.h>
#include <stdint.h>

#include "df_internal.h"

enum glob_tok { G_LIT, G_ANY1, G_STAR, G_CLASS, G_DSTAR_SLASH, G_DSTAR_END };

struct glob_t {
	uint8_t type;
	unsigned lit;	    /* G_LIT */
	uint32_t off, len; /* G_CLASS: the bytes from '[' to ']' */
};

/* Length of the class starting at pat[i] == '[' (through its ']'), or 0
 * when it is not terminated. */
static size_t glob_class_len(const char *pat, size_t plen, size_t i, bool path)
{
	size_t j = i + 1;
	if (j < plen && (pat[j] == '^' || (!path && pat[j] == '!')))
		j++;
	bool first = true;
	while (j < plen) {
		if (pat[j] == ']' && !first)
			return j + 1 - i;
		first = false;
		if (pat[j] == '\\' && j + 1 < plen)
			j++;
		j += df_rune_len(pat + j, pat + plen);
	}
	return 0;
}

static bool glob_class_match(const char *c, size_t len, unsigned r, bool path)
{
	const char *p = c + 1, *end = c + len - 1; /* inside the brackets */
	bool neg = false, hit = false;
	if (p < end && (*p == '^' || (!path && *p == '!'))) {
		neg = true;
		p++;
	}
	while (p < end) {
		size_t k;
		if (*p == '\\' && p + 1 < end)
			p++;
		unsigned lo = df_rune(p, end, &k), hi = lo;
		p += k;
		if (p + 1 < end && *p == '-') {
			p++;
			if (*p == '\\' && p + 1 < end)
				p++;
			hi = df_rune(p, end, &k);
			p += k;
		}
		if (r >= lo && r <= hi)
			hit = true;
	}
	return hit != neg;
}

static size_t glob_compile(const char *pat, size_t plen, bool path, struct glob_t *t)
{
	size_t n = 0, i = 0, k;
	while (i < plen) {
		struct glob_t *g = &t[n++];
		char ch = pat[i];
		if (ch == '*') {
			if (path && i + 1 < plen && pat[i + 1] == '*') {
				i += 2;
				if (i < plen && pat[i] == '/')
					i++;
				g->type = i == plen ? G_DSTAR_END : G_DSTAR_SLASH;
			} else {
				g->type = G_STAR;
				i++;
			}
		} else if (ch == '?') {
			g->type = G_ANY1;
			i++;
		} else if (ch == '[' && (k = glob_class_len(pat, plen, i, path)) > 0) {
			g->type = G_CLASS;
			g->off = (uint32_t)i;
			g->len = (uint32_t)k;
			i += k;
		} else {
			if (ch == '\\' && i + 1 < plen)
				i++;
			g->type = G_LIT;
			g->lit = df_rune(pat + i, pat + plen, &k);
			i += k;
		}
	}
	return n;
}

static void glob_close(const struct glob_t *t, size_t n, uint8_t *st)
{
	for (size_t i = 0; i < n; i++)
		if (st[i] && (t[i].type == G_STAR || t[i].type == G_DSTAR_SLASH || t[i].type == G_DSTAR_END))
			st[i + 1] = 1;
}

/* Does str match pat entirely? 1, 0, or -ENOMEM. */
int st_df_glob(const char *pat, size_t plen, const char *str, size_t slen, bool path)
{
	struct glob_t tbuf[64];
	uint8_t sbuf[4 * 66];
	struct glob_t *t = tbuf;
	uint8_t *mem = sbuf;
	int ret = 0;

	if (plen + 1 > sizeof(tbuf) / sizeof(tbuf[0])) {
		t = malloc((plen + 1) * sizeof(*t));
		mem = calloc(4, plen + 2);
		if (!t || !mem) {
			ret = -ENOMEM;
			goto out;
		}
	}
	size_t n = glob_compile(pat, plen, path, t);
	/* states 0..n; "in" marks being inside the ".*" part of a "**" + "/" segment */
	uint8_t *cur = mem, *cin = mem + (n + 1), *nxt = mem + 2 * (n + 1), *nin = mem + 3 * (n + 1);
	memset(mem, 0, 4 * (n + 1));
	cur[0] = 1;
	glob_close(t, n, cur);

	const char *s = str, *end = str + slen;
	while (s < end) {
		size_t k;
		unsigned r = df_rune(s, end, &k);
		s += k;
		memset(nxt, 0, 2 * (n + 1));
		bool any = false;
		for (size_t i = 0; i < n; i++) {
			if (!cur[i] && !cin[i])
				continue;
			const struct glob_t *g = &t[i];
			switch (g->type) {
			case G_LIT:
				if (r == g->lit)
					nxt[i + 1] = 1;
				break;
			case G_ANY1:
				if (!path || r != '/')
					nxt[i + 1] = 1;
				break;
			case G_CLASS:
				if (glob_class_match(pat + g->off, g->len, r, path))
					nxt[i + 1] = 1;
				break;
			case G_STAR:
				if (!path || r != '/')
					nxt[i] = 1;
				break;
			case G_DSTAR_END:
				if (r != '\n')
					nxt[i] = 1;
				break;
			case G_DSTAR_SLASH:
				if (r != '\n')
					nin[i] = 1;
				if (r == '/')
					nxt[i + 1] = 1;
				break;
			}
		}
		glob_close(t, n, nxt);
		for (size_t i = 0; i <= n; i++)
			any |= nxt[i] | nin[i];
		uint8_t *x = cur;
		cur = nxt;
		nxt = x;
		x = cin;
		cin = nin;
		nin = x;
		if (!any)
			goto out;
	}
	ret = cur[n] ? 1 : 0;
out:
	if (t != tbuf)
		free(t);
	if (mem != sbuf)
		free(mem);
	return ret;
}

/* filepath.Match's syntax check (what .dockerignore patterns must pass):
 * classes terminated and non-empty, no range without its ends, no
 * trailing backslash, no invalid UTF-8 inside a class. */
int st_df_glob_check(const char *pat)
{
	const char *p = pat, *end = pat + strlen(pat);
	while (p < end) {
		if (*p == '\\') {
			if (p + 1 == end)
				return -EINVAL;
			p += 1 + df_rune_len(p + 1, end);
		} else if (*p == '[') {
			p++;
			if (p < end && *p == '^')
				p++;
			size_t nrange = 0;
			for (;;) {
				if (p < end && *p == ']' && nrange > 0) {
					p++;
					break;
				}
				/* one range: lo or lo-hi */
				for (int part = 0; part < 2; part++) {
					if (p == end || *p == '-' || *p == ']')
						return -EINVAL;
					if (*p == '\\') {
						p++;
						if (p == end)
							return -EINVAL;
					}
					size_t k = df_rune_len(p, end);
					if (k == 1 && (unsigned char)*p >= 0x80)
						return -EINVAL;
					p += k;
					if (p == end)
						return -EINVAL;
					if (part == 0 && *p != '-')
						break;
					if (part == 0)
						p++;
				}
				nrange++;
			}
		} else {
			p += df_rune_len(p, end);
		}
	}
	return 0;
}
