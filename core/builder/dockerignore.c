/* .dockerignore: moby/patternmatcher's ignorefile.ReadAll (comments, blank
 * lines, "!" exceptions, paths cleaned, one leading "/" dropped) and
 * MatchesOrParentMatches (patterns in order, a later one wins; a pattern
 * that matches a parent directory matches everything below it). */
#include <errno.h>

#include "base/base.h"
#include "df_internal.h"
#include "dockerfile.h"

/* Go's path.Clean: "//" -> "/", "." elements dropped, ".." resolved
 * lexically, no trailing slash, "" -> ".". */
static char *di_clean(const char *p, size_t n)
{
	char *out = malloc(n + 2);
	if (!out)
		return NULL;
	bool rooted = n > 0 && p[0] == '/';
	size_t w = 0, r = 0, dotdot = 0;
	if (rooted) {
		out[w++] = '/';
		r = 1;
		dotdot = 1;
	}
	while (r < n) {
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			while (r < n && p[r] != '/')
				out[w++] = p[r++];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

void st_dockerignore_free(struct st_dockerignore *di)
{
	if (!di)
		return;
	st_strv_free(di->patterns, di->n);
	free(di->exclude);
	*di = (struct st_dockerignore){0};
}

static int di_add(struct st_dockerignore *di, const char *pattern, bool exclude)
{
	bool *ex = realloc(di->exclude, (di->n + 1) * sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	di->exclude = ex;
	ex[di->n] = exclude;
	return st_strv_push(&di->patterns, &di->n, pattern);
}

/* One line -> *pattern (NULL to skip it), exactly as ReadAll and then
 * NewPatternMatcher transform it. */
static int di_line(const char *s, const char *e, char **pattern, bool *exclude, int line, struct st_error *err)
{
	*pattern = NULL;
	if (s < e && *s == '#')
		return 0; /* a comment only when '#' is the very first character */
	df_trim(&s, &e);
	if (s == e)
		return 0;
	bool invert = *s == '!';
	if (invert) {
		s++;
		df_trim(&s, &e);
	}
	struct df_buf b = {0};
	if (invert)
		dfb_putc(&b, '!');
	if (s < e) {
		_cleanup_free_ char *c = di_clean(s, (size_t)(e - s));
		if (!c)
			return st_error_set(err, ENOMEM, ".dockerignore:%d", line);
		dfb_puts(&b, c[0] == '/' && c[1] ? c + 1 : c);
	}
	/* NewPatternMatcher cleans the whole text again ("!/" becomes "!") */
	_cleanup_free_ char *text = dfb_take(&b);
	_cleanup_free_ char *p = text ? di_clean(text, strlen(text)) : NULL;
	if (!p)
		return st_error_set(err, ENOMEM, ".dockerignore:%d", line);
	*exclude = true;
	char *q = p;
	if (*q == '!') {
		if (!q[1])
			return st_error_fail(err, EINVAL, ".dockerignore:%d: illegal exclusion pattern: \"!\"", line);
		q++;
		*exclude = false;
	}
	if (st_df_glob_check(q) < 0)
		return st_error_fail(err, EINVAL, ".dockerignore:%d: syntax error in pattern \"%.512s\"", line, q);
	*pattern = strdup(q);
	return *pattern ? 0 : st_error_set(err, ENOMEM, ".dockerignore:%d", line);
}

int st_dockerignore_parse(const char *text, size_t len, struct st_dockerignore *out, struct st_error *err)
{
	*out = (struct st_dockerignore){0};
	const char *p = text ? text : "", *end = p + (text ? len : 0);
	int line = 0;
	if (end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl ? nl : end;
		p = nl ? nl + 1 : end;
		line++;
		size_t n = (size_t)(e - s);
		if (n > 0 && s[n - 1] == '\r')
			n--; /* bufio.ScanLines drops one \r before the \n */
		e = s + n;
		if (memchr(s, '\0', n)) {
			st_dockerignore_free(out);
			return st_error_fail(err, EINVAL, ".dockerignore:%d: the file contains a NUL byte", line);
		}
		char *pat;
		bool exclude;
		int r = di_line(s, e, &pat, &exclude, line, err);
		if (r == 0 && pat) {
			r = di_add(out, pat, exclude);
			free(pat);
			if (r < 0)
				r = st_error_set(err, ENOMEM, ".dockerignore:%d", line);
		}
		if (r < 0) {
			st_dockerignore_free(out);
			return r;
		}
	}
	return 0;
}

static bool di_is_meta(char c)
{
	return c == '*' || c == '?' || c == '[' || c == '\\';
}

/* Necessary conditions, cheap to test, before running the matcher: the
 * strings tried are the path and its parents, all prefixes of the path,
 * so each literal run of the pattern must occur in the path, and a literal
 * start must be the path's start. (The "/" after "**" may match nothing.) */
static bool di_may_match(const char *pat, const char *f, size_t flen)
{
	const char *p = pat;
	bool at_start = true;
	while (*p) {
		if (*p == '[') { /* a class: skip it, like a '?' */
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p && *p != ']')
				p += (*p == '\\' && p[1]) ? 2 : 1;
			if (*p)
				p++;
			at_start = false;
			continue;
		}
		if (*p == '\\') { /* an escaped character: skip it */
			p += p[1] ? 2 : 1;
			at_start = false;
			continue;
		}
		if (*p == '*' || *p == '?') {
			at_start = false;
			if (p[0] == '*' && p[1] == '*') {
				p += 2;
				if (*p == '/')
					p++;
			} else {
				p++;
			}
			continue;
		}
		const char *run = p;
		while (*p && !di_is_meta(*p))
			p++;
		size_t n = (size_t)(p - run);
		if (at_start ? n > flen || memcmp(f, run, n) != 0 : !memmem(f, flen, run, n))
			return false;
		at_start = false;
	}
	return true;
}

/* An allocation failure inside the matcher counts as "ignore the file" for
 * an exclude pattern and as "no match" for an exception: when in doubt a
 * file stays out of the build context. */
bool st_dockerignore_match(const struct st_dockerignore *di, const char *relpath)
{
	if (!di || !relpath || di->n == 0)
		return false;
	_cleanup_free_ char *file = di_clean(relpath, strlen(relpath));
	if (!file)
		return true;
	const char *f = file;
	while (*f == '/')
		f++;
	if (!*f || strcmp(f, ".") == 0)
		return false;
	size_t flen = strlen(f);

	bool matched = false;
	for (size_t i = 0; i < di->n; i++) {
		bool exclusion = !di->exclude[i];
		if (exclusion != matched)
			continue; /* cannot change the answer */
		/* the path itself or any parent directory: "a", "a/b", ... */
		const char *pat = di->patterns[i];
		if (!di_may_match(pat, f, flen))
			continue;
		int m = st_df_glob_ex(pat, strlen(pat), f, flen, true, true);
		if (m < 0 ? di->exclude[i] : m > 0)
			matched = !exclusion;
	}
	return matched;
}
