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

/* State sets are bitsets over token positions 0..n (n = accept). */
typedef uint64_t glob_w;
#define GLOB_BIT(v, i) (((v)[(i) / 64] >> ((i) % 64)) & 1)
#define GLOB_SET(v, i) ((v)[(i) / 64] |= (glob_w)1 << ((i) % 64))

/* Add what is reachable without input: a star may match nothing. */
static void glob_close(glob_w *x, const glob_w *skip, size_t nw)
{
	bool changed;
	do {
		glob_w carry = 0;
		changed = false;
		for (size_t w = 0; w < nw; w++) {
			glob_w s = x[w] & skip[w], nx = x[w] | (s << 1) | carry;
			carry = s >> 63;
			changed |= nx != x[w];
			x[w] = nx;
		}
	} while (changed);
}

int st_df_glob_ex(const char *pat, size_t plen, const char *str, size_t slen, bool path, bool parents)
{
	struct glob_t tbuf[64];
	glob_w wbuf[5 * 2];
	struct glob_t *t = tbuf;
	glob_w *mem = wbuf;
	int ret = 0;

	size_t nw = (plen + 1) / 64 + 1; /* n <= plen tokens, n + 1 states */
	if (plen + 1 > sizeof(tbuf) / sizeof(tbuf[0]) || 5 * nw > sizeof(wbuf) / sizeof(wbuf[0])) {
		t = malloc((plen + 1) * sizeof(*t));
		mem = malloc(5 * nw * sizeof(*mem));
		if (!t || !mem) {
			ret = -ENOMEM;
			goto out;
		}
	}
	size_t n = glob_compile(pat, plen, path, t);
	nw = n / 64 + 1;
	/* "in" marks being inside the ".*" part of a "**" + "/" segment */
	glob_w *cur = mem, *cin = mem + nw, *nxt = mem + 2 * nw, *nin = mem + 3 * nw, *skip = mem + 4 * nw;
	memset(mem, 0, 5 * nw * sizeof(*mem));
	for (size_t i = 0; i < n; i++)
		if (t[i].type == G_STAR || t[i].type == G_DSTAR_SLASH || t[i].type == G_DSTAR_END)
			GLOB_SET(skip, i);
	GLOB_SET(cur, 0);
	glob_close(cur, skip, nw);

	const char *s = str, *end = str + slen;
	while (s < end) {
		/* a parent directory is the text before a '/' */
		if (parents && *s == '/' && s > str && GLOB_BIT(cur, n)) {
			ret = 1;
			goto out;
		}
		size_t k;
		unsigned r = df_rune(s, end, &k);
		s += k;
		memset(nxt, 0, 2 * nw * sizeof(*mem));
		glob_w any = 0;
		for (size_t w = 0; w < nw; w++) {
			for (glob_w m = cur[w] | cin[w]; m; m &= m - 1) {
				size_t i = w * 64 + (size_t)__builtin_ctzll(m);
				if (i >= n)
					break;
				const struct glob_t *g = &t[i];
				switch (g->type) {
				case G_LIT:
					if (r == g->lit)
						GLOB_SET(nxt, i + 1);
					break;
				case G_ANY1:
					if (!path || r != '/')
						GLOB_SET(nxt, i + 1);
					break;
				case G_CLASS:
					if (glob_class_match(pat + g->off, g->len, r, path))
						GLOB_SET(nxt, i + 1);
					break;
				case G_STAR:
					if (!path || r != '/')
						GLOB_SET(nxt, i);
					break;
				case G_DSTAR_END:
					if (r != '\n')
						GLOB_SET(nxt, i);
					break;
				case G_DSTAR_SLASH:
					if (r != '\n')
						GLOB_SET(nin, i);
					if (r == '/')
						GLOB_SET(nxt, i + 1);
					break;
				}
			}
		}
		glob_close(nxt, skip, nw);
		for (size_t w = 0; w < nw; w++)
			any |= nxt[w] | nin[w];
		glob_w *x = cur;
		cur = nxt;
		nxt = x;
		x = cin;
		cin = nin;
		nin = x;
		if (!any)
			goto out;
	}
	ret = GLOB_BIT(cur, n) ? 1 : 0;
out:
	if (t != tbuf)
		free(t);
	if (mem != wbuf)
		free(mem);
	return ret;
}

int st_df_glob(const char *pat, size_t plen, const char *str, size_t slen, bool path)
{
	return st_df_glob_ex(pat, plen, str, slen, path, false);
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
