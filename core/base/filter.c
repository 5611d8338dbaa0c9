/* Docker's list filters (`--filter KEY=VALUE`, repeatable), as its
 * api/types/filters package matches them: a key given several times ORs its
 * values, different keys AND; label filters AND (every label=KEY[=VALUE]
 * must hold); name-like keys match as regular expressions (POSIX extended
 * here, RE2 there: the same for the patterns people write), references as
 * path globs. The lists themselves say which keys they take. */
#include <ctype.h>
#include <fnmatch.h>
#include <regex.h>

#include "base/base.h"

int st_filter_add(struct st_kvlist *f, const char *arg, struct st_error *err)
{
	const char *eq = arg ? strchr(arg, '=') : NULL;
	if (!eq)
		return st_error_fail(err, EINVAL, "bad format of filter \"%s\" (expected name=value)", arg ? arg : "");
	/* docker trims both sides and folds the key's case */
	const char *k = arg, *ke = eq;
	while (k < ke && isspace((unsigned char)*k))
		k++;
	while (ke > k && isspace((unsigned char)ke[-1]))
		ke--;
	const char *v = eq + 1, *ve = v + strlen(v);
	while (*v && isspace((unsigned char)*v))
		v++;
	while (ve > v && isspace((unsigned char)ve[-1]))
		ve--;
	char key[128];
	if (ke - k >= (ptrdiff_t)sizeof(key))
		return st_error_fail(err, EINVAL, "invalid filter '%.*s'", (int)(ke - k), k);
	for (size_t i = 0; i < (size_t)(ke - k); i++)
		key[i] = (char)tolower((unsigned char)k[i]);
	key[ke - k] = '\0';
	/* the same pair twice is one (docker keeps a set per key) */
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].key, key) == 0 && strlen(f->v[i].value) == (size_t)(ve - v) &&
		    strncmp(f->v[i].value, v, (size_t)(ve - v)) == 0)
			return 0;
	int r = st_kvlist_add(f, key, "%.*s", (int)(ve - v), v);
	return r < 0 ? st_error_set(err, -r, "filter \"%s\"", arg) : 0;
}

int st_filter_validate(const struct st_kvlist *f, const char *const *accepted, struct st_error *err)
{
	for (size_t i = 0; f && i < f->n; i++) {
		bool ok = false;
		for (const char *const *a = accepted; *a && !ok; a++)
			ok = strcmp(*a, f->v[i].key) == 0;
		if (!ok)
			return st_error_fail(err, EINVAL, "invalid filter '%s'", f->v[i].key);
	}
	return 0;
}

bool st_filter_has(const struct st_kvlist *f, const char *key)
{
	return st_kvlist_get(f, key) != NULL;
}

bool st_filter_exact(const struct st_kvlist *f, const char *key, const char *s)
{
	bool any = false;
	for (size_t i = 0; f && i < f->n; i++) {
		if (strcmp(f->v[i].key, key) != 0)
			continue;
		if (strcmp(f->v[i].value, s) == 0)
			return true;
		any = true;
	}
	return !any;
}

int st_filter_invalid_value(const struct st_kvlist *f, const char *key, struct st_error *err)
{
	char vals[512] = "";
	size_t used = 0;
	for (size_t i = 0; f && i < f->n && used < sizeof(vals); i++)
		if (strcmp(f->v[i].key, key) == 0)
			used += (size_t)snprintf(vals + used, sizeof(vals) - used, "%s%s", used ? " " : "", f->v[i].value);
	return st_error_fail(err, EINVAL, "invalid filter '%s=[%s]'", key, vals);
}

bool st_filter_regex(const struct st_kvlist *f, const char *key, const char *s)
{
	bool any = false;
	for (size_t i = 0; f && i < f->n; i++) {
		if (strcmp(f->v[i].key, key) != 0)
			continue;
		any = true;
		if (strcmp(f->v[i].value, s) == 0)
			return true;
		regex_t re;
		if (regcomp(&re, f->v[i].value, REG_EXTENDED | REG_NOSUB) != 0)
			continue; /* docker's Match skips what does not compile */
		int rc = regexec(&re, s, 0, NULL, 0);
		regfree(&re);
		if (rc == 0)
			return true;
	}
	return !any;
}

bool st_filter_labels(const struct st_kvlist *f, const char *key, const struct st_kvlist *labels)
{
	for (size_t i = 0; f && i < f->n; i++) {
		if (strcmp(f->v[i].key, key) != 0)
			continue;
		const char *want = f->v[i].value, *eq = strchr(want, '=');
		size_t klen = eq ? (size_t)(eq - want) : strlen(want);
		bool hit = false;
		for (size_t k = 0; labels && k < labels->n && !hit; k++)
			hit = strlen(labels->v[k].key) == klen && strncmp(labels->v[k].key, want, klen) == 0 &&
			      (!eq || strcmp(labels->v[k].value, eq + 1) == 0);
		if (!hit)
			return false;
	}
	return true;
}

int st_label_add(struct st_kvlist *l, const char *arg, struct st_error *err)
{
	const char *eq = strchr(arg, '=');
	size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
	char key[256];
	if (klen == 0 || klen >= sizeof(key))
		return st_error_fail(err, EINVAL, "invalid label \"%s\": expected KEY=VALUE", arg);
	snprintf(key, sizeof(key), "%.*s", (int)klen, arg);
	return st_kvlist_add(l, key, "%s", eq ? eq + 1 : "") < 0 ? st_error_set(err, ENOMEM, "label") : 0;
}

bool st_filter_glob(const char *pattern, const char *s)
{
	/* Go's path.Match: "*" and "?" stop at "/", classes, "\" escapes */
	return fnmatch(pattern, s, FNM_PATHNAME) == 0;
}
