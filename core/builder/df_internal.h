/* Helpers shared by the Dockerfile parser, the word expander and the
 * .dockerignore matcher (dockerfile.c, shellwords.c, dockerignore.c):
 * a growable string that records allocation failure instead of failing
 * at every append, and Go's notion of white space (the grammar we match
 * is defined by Go code, so "space" means unicode.IsSpace). */
#ifndef ST_DF_INTERNAL_H
#define ST_DF_INTERNAL_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct df_buf {
	char *s;
	size_t len, cap;
	bool oom; /* an append failed: the content is incomplete */
};

static inline void dfb_putn(struct df_buf *b, const char *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static inline void dfb_putc(struct df_buf *b, char c) { dfb_putn(b, &c, 1); }
static inline void dfb_puts(struct df_buf *b, const char *s) { dfb_putn(b, s, strlen(s)); }

/* The content as a malloc'd string (never NULL unless out of memory);
 * the buffer is left empty. */
static inline char *dfb_take(struct df_buf *b)
{
	if (!b->oom && !b->s)
		dfb_putn(b, "", 0);
	char *s = b->oom ? NULL : b->s;
	if (b->oom)
		free(b->s);
	*b = (struct df_buf){0};
	return s;
}

static inline void dfb_reset(struct df_buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

static inline void dfb_free(struct df_buf *b)
{
	free(b->s);
	*b = (struct df_buf){0};
}

/* Length in bytes of the Unicode white space character at p (Go's
 * unicode.IsSpace), 0 if p does not start one. */
static inline size_t df_space_len(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t n = (size_t)(end - p);
	if (n == 0)
		return 0;
	if (u[0] < 0x80)
		return (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r')) ? 1 : 0;
	if (n >= 2 && u[0] == 0xC2 && (u[1] == 0x85 || u[1] == 0xA0))
		return 2; /* NEL, NO-BREAK SPACE */
	if (n >= 3 && u[0] == 0xE1 && u[1] == 0x9A && u[2] == 0x80)
		return 3; /* OGHAM SPACE MARK */
	if (n >= 3 && u[0] == 0xE2 && u[1] == 0x80 &&
	    (u[2] <= 0x8A || u[2] == 0xA8 || u[2] == 0xA9 || u[2] == 0xAF))
		return 3; /* EN QUAD..HAIR SPACE, LINE/PARAGRAPH SEPARATOR, NNBSP */
	if (n >= 3 && u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0x9F)
		return 3; /* MEDIUM MATHEMATICAL SPACE */
	if (n >= 3 && u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80)
		return 3; /* IDEOGRAPHIC SPACE */
	return 0;
}

/* Length of the UTF-8 sequence at p (1 for an invalid byte, as Go decodes
 * it into U+FFFD of width 1). */
static inline size_t df_rune_len(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t n = (size_t)(end - p), want;
	if (n == 0)
		return 0;
	if (u[0] < 0x80)
		return 1;
	else if (u[0] >= 0xC2 && u[0] <= 0xDF)
		want = 2;
	else if (u[0] >= 0xE0 && u[0] <= 0xEF)
		want = 3;
	else if (u[0] >= 0xF0 && u[0] <= 0xF4)
		want = 4;
	else
		return 1;
	if (n < want)
		return 1;
	for (size_t i = 1; i < want; i++)
		if ((u[i] & 0xC0) != 0x80)
			return 1;
	if (want == 3 && ((u[0] == 0xE0 && u[1] < 0xA0) || (u[0] == 0xED && u[1] >= 0xA0)))
		return 1; /* overlong, surrogate */
	if (want == 4 && ((u[0] == 0xF0 && u[1] < 0x90) || (u[0] == 0xF4 && u[1] >= 0x90)))
		return 1;
	return want;
}

/* Decode one rune (U+FFFD for an invalid byte); *len receives its width. */
static inline unsigned df_rune(const char *p, const char *end, size_t *len)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t n = df_rune_len(p, end);
	*len = n;
	if (n == 1)
		return u[0] < 0x80 ? u[0] : 0xFFFD;
	if (n == 2)
		return ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
	if (n == 3)
		return ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
	return ((u[0] & 0x07u) << 18) | ((u[1] & 0x3Fu) << 12) | ((u[2] & 0x3Fu) << 6) | (u[3] & 0x3Fu);
}

/* strings.TrimSpace on [*p, *end). */
static inline void df_trim(const char **p, const char **end)
{
	size_t k;
	while (*p < *end && (k = df_space_len(*p, *end)) > 0)
		*p += k;
	/* trailing: every space rune ends in a byte that cannot start one, so
	 * test each candidate start from the right */
	for (;;) {
		bool cut = false;
		for (size_t w = 1; w <= 3 && (size_t)(*end - *p) >= w; w++) {
			if (df_space_len(*end - w, *end) == w) {
				*end -= w;
				cut = true;
				break;
			}
		}
		if (!cut)
			break;
	}
}

/* dfglob.c: does str match pat entirely (1, 0, -ENOMEM)? path: the
 * .dockerignore flavour (`*` stops at '/', `**`), else the shell flavour. */
int st_df_glob(const char *pat, size_t plen, const char *str, size_t slen, bool path);
/* The same, where with parents a match of any leading part of str that
 * ends right before a '/' (a parent directory) also counts. One pass. */
int st_df_glob_ex(const char *pat, size_t plen, const char *str, size_t slen, bool path, bool parents);
/* filepath.Match's syntax check: 0 or -EINVAL. */
int st_df_glob_check(const char *pat);

#endif
