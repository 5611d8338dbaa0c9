/* The error object and small shared helpers (key/value lists, strings). */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/random.h>
#include <time.h>

#include "base/base.h"

static int error_vset(struct st_error *err, int errnum, bool with_text, const char *fmt,
		      va_list ap)
{
	if (errnum < 0)
		errnum = -errnum;
	if (errnum == 0) {
		errnum = EIO;
		with_text = false;
	}
	if (!err)
		return -errnum;
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (n < 0)
		n = 0;
	if (with_text && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	err->code = errnum;
	return -errnum;
}

int st_error_set(struct st_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_vset(err, errnum, true, fmt, ap);
	va_end(ap);
	return r;
}

int st_error_fail(struct st_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_vset(err, errnum, false, fmt, ap);
	va_end(ap);
	return r;
}

int st_error_wrap(struct st_error *err, const char *fmt, ...)
{
	if (!err)
		return -EIO;
	if (err->code == 0)
		err->code = EIO;
	char ctx[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	size_t cl = strlen(ctx), ml = strnlen(err->msg, sizeof(err->msg) - 1);
	if (cl + 2 >= sizeof(err->msg))
		cl = sizeof(err->msg) - 3;
	if (cl + 2 + ml >= sizeof(err->msg))
		ml = sizeof(err->msg) - 3 - cl;
	memmove(err->msg + cl + 2, err->msg, ml);
	memcpy(err->msg, ctx, cl);
	err->msg[cl] = ':';
	err->msg[cl + 1] = ' ';
	err->msg[cl + 2 + ml] = '\0';
	return -err->code;
}

void st_error_clear(struct st_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

char *st_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *st_asprintf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

void st_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int st_strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	nv[*n] = NULL;
	return 0;
}

bool st_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool st_str_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int st_random_hex(char *out, size_t nbytes)
{
	unsigned char buf[64];
	if (nbytes > sizeof(buf))
		return -EINVAL;
	size_t got = 0;
	while (got < nbytes) {
		ssize_t r = getrandom(buf + got, nbytes - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	for (size_t i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", buf[i]);
	out[2 * nbytes] = '\0';
	return 0;
}

int st_parse_size(const char *s, int64_t *out)
{
	/* docker's units.RAMInBytes grammar: digits[.digits][ ][kmgtp][i][b];
	 * strtod alone would take "inf", "nan", "1e3" and "0x10" */
	const char *p = s;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	char num[64];
	size_t nl = (size_t)(p - s);
	if (nl >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, nl);
	num[nl] = '\0';
	if (*p == ' ')
		p++;
	static const char units[] = "kmgtp";
	const char *u = *p ? strchr(units, tolower((unsigned char)*p)) : NULL;
	int shift = 0;
	if (u) {
		shift = 10 * (int)(u - units + 1);
		p++;
	}
	if (*p == 'i' || *p == 'I')
		p++;
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return -EINVAL;
	double v = strtod(num, NULL) * (double)(1LL << shift);
	if (!(v < 9223372036854775808.0)) /* 2^63: more than an int64_t holds */
		return -EINVAL;
	*out = (int64_t)v;
	return 0;
}

void st_format_size(int64_t bytes, char *buf, size_t len)
{
	static const char *units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1000.0 && u + 1 < ST_ARRAY_SIZE(units)) {
		v /= 1000.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRId64 "B", bytes);
	else
		snprintf(buf, len, "%.3g%s", v, units[u]);
}

int64_t st_proc_start(pid_t pid)
{
	char p[64], buf[1024];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: fields follow the last ")" */
	char *rp = strrchr(buf, ')');
	if (!rp || rp[1] != ' ' || !rp[2])
		return -1;
	/* a zombie nobody reaps (its parent died first) does not run any more */
	if (rp[2] == 'Z' || rp[2] == 'X')
		return -1;
	char *save = NULL, *tok = strtok_r(rp + 2, " ", &save);
	for (int i = 3; tok && i < 22; i++)
		tok = strtok_r(NULL, " ", &save);
	return tok ? strtoll(tok, NULL, 10) : -1;
}

double st_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ kv lists */

int st_kvlist_add(struct st_kvlist *l, const char *key, const char *fmt, ...)
{
	struct st_kv *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	l->v = nv;
	va_list ap;
	va_start(ap, fmt);
	char *val = NULL;
	int r = vasprintf(&val, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	nv[l->n].key = strdup(key);
	nv[l->n].value = val;
	if (!nv[l->n].key) {
		free(val);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

int st_kvlist_parse(struct st_kvlist *l, const char *kv, struct st_error *err)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return st_error_fail(err, EINVAL, "invalid option \"%s\": expected key=value", kv);
	_cleanup_free_ char *key = strndup(kv, (size_t)(eq - kv));
	if (!key)
		return st_error_set(err, ENOMEM, "option \"%s\"", kv);
	for (char *p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return st_kvlist_add(l, key, "%s", eq + 1);
}

const char *st_kvlist_get(const struct st_kvlist *l, const char *key)
{
	if (!l)
		return NULL;
	for (size_t i = l->n; i > 0; i--)
		if (strcmp(l->v[i - 1].key, key) == 0)
			return l->v[i - 1].value;
	return NULL;
}

void st_kvlist_free(struct st_kvlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void st_changes_free(struct st_changes *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].path);
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}
