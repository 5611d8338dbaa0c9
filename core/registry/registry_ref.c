/* References as docker parses them (the grammar of distribution's
 * reference package): [DOMAIN/]PATH[:TAG][@DIGEST], where the first
 * component is a domain only if it has a "." or ":", is "localhost" or
 * has capitals; docker.io is the default domain and library/ the default
 * namespace there. The pieces are checked with POSIX regular expressions. */
#include <ctype.h>
#include <pthread.h>
#include <regex.h>

#include "base/base.h"
#include "registry_int.h"

#define DOMAIN_COMPONENT "([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
static const char re_domain[] = "^(" DOMAIN_COMPONENT "(\\." DOMAIN_COMPONENT ")*|\\[[a-fA-F0-9:]+\\])(:[0-9]+)?$";
static const char re_path_component[] = "^[a-z0-9]+(([_.]|__|[-]*)[a-z0-9]+)*$";
static const char re_tag[] = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";

static regex_t rx_domain, rx_component, rx_tag;
static bool rx_ok;
static pthread_once_t rx_once = PTHREAD_ONCE_INIT;

static void rx_init(void)
{
	rx_ok = regcomp(&rx_domain, re_domain, REG_EXTENDED | REG_NOSUB) == 0 &&
		regcomp(&rx_component, re_path_component, REG_EXTENDED | REG_NOSUB) == 0 &&
		regcomp(&rx_tag, re_tag, REG_EXTENDED | REG_NOSUB) == 0;
}

static bool matches(regex_t *rx, const char *s, size_t n)
{
	char buf[300];
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return regexec(rx, buf, 0, NULL, 0) == 0;
}

static bool domain_ok(const char *s, size_t n) { return matches(&rx_domain, s, n); }

static bool path_ok(const char *p)
{
	if (!*p)
		return false;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (!matches(&rx_component, p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
			return false;
	return true;
}

int reg_ref_parse(const char *s, struct reg_ref *r, struct st_error *err)
{
	memset(r, 0, sizeof(*r));
	pthread_once(&rx_once, rx_init);
	if (!rx_ok)
		return st_error_fail(err, ENOMEM, "reference: cannot compile the reference grammar");
	if (!s || !*s)
		return st_error_fail(err, EINVAL, "invalid reference format: empty reference");
	if (strlen(s) > 512)
		return st_error_fail(err, EINVAL, "invalid reference format: \"%.40s...\" is too long", s);
	char buf[520];
	snprintf(buf, sizeof(buf), "%s", s);
	char *at = strchr(buf, '@');
	if (at) {
		*at = '\0';
		const char *d = at + 1;
		if (!st_str_has_prefix(d, "sha256:"))
			return st_error_fail(err, EINVAL, "invalid reference \"%s\": only sha256 digests are supported", s);
		if (!st_valid_digest(d))
			return st_error_fail(err, EINVAL, "invalid reference \"%s\": bad digest \"%s\"", s, d);
		snprintf(r->digest, sizeof(r->digest), "%s", d);
	}
	char *slash = strrchr(buf, '/'), *colon = strrchr(buf, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		if (!matches(&rx_tag, colon + 1, strlen(colon + 1)))
			return st_error_fail(err, EINVAL, "invalid reference \"%s\": bad tag \"%s\"", s, colon + 1);
		snprintf(r->tag, sizeof(r->tag), "%s", colon + 1);
	}
	const char *name = buf, *path = buf;
	const char *first = strchr(name, '/');
	bool has_domain = false;
	if (first) {
		size_t n = (size_t)(first - name);
		bool upper = false;
		for (size_t i = 0; i < n; i++)
			upper |= isupper((unsigned char)name[i]) != 0;
		has_domain = memchr(name, '.', n) || memchr(name, ':', n) || (n == 9 && !strncmp(name, "localhost", 9)) ||
			     upper;
		if (has_domain) {
			if (!domain_ok(name, n))
				return st_error_fail(err, EINVAL, "invalid reference \"%s\": bad registry host \"%.*s\"", s,
						     (int)n, name);
			snprintf(r->domain, sizeof(r->domain), "%.*s", (int)n, name);
			path = first + 1;
		}
	}
	if (!has_domain)
		snprintf(r->domain, sizeof(r->domain), REG_DOCKER_DOMAIN);
	if (strcmp(r->domain, "index.docker.io") == 0)
		snprintf(r->domain, sizeof(r->domain), REG_DOCKER_DOMAIN);
	if (!has_domain && is_hex64(path))
		return st_error_fail(err, EINVAL,
				     "invalid repository name \"%s\": 64-byte hexadecimal strings are image ids, not names", s);
	if (!path_ok(path))
		return st_error_fail(err, EINVAL,
				     "invalid reference \"%s\": repository names are lowercase letters, digits and "
				     "separators (\"%s\")",
				     s, path);
	bool library = strcmp(r->domain, REG_DOCKER_DOMAIN) == 0 && !strchr(path, '/');
	int n = snprintf(r->repo, sizeof(r->repo), "%s%s", library ? "library/" : "", path);
	if (n < 0 || (size_t)n >= sizeof(r->repo) || strlen(r->domain) + 1 + (size_t)n > 255)
		return st_error_fail(err, EINVAL, "invalid reference \"%.60s...\": the name is longer than 255 characters", s);
	if (!r->tag[0] && !r->digest[0])
		snprintf(r->tag, sizeof(r->tag), "latest");
	return 0;
}

void reg_ref_familiar_name(const struct reg_ref *r, char *out, size_t len)
{
	if (strcmp(r->domain, REG_DOCKER_DOMAIN) != 0)
		snprintf(out, len, "%s/%s", r->domain, r->repo);
	else if (st_str_has_prefix(r->repo, "library/") && !strchr(r->repo + 8, '/'))
		snprintf(out, len, "%s", r->repo + 8);
	else
		snprintf(out, len, "%s", r->repo);
}

void reg_ref_canonical(const struct reg_ref *r, char *out, size_t len)
{
	snprintf(out, len, "%s/%s%s%s%s%s", r->domain, r->repo, r->tag[0] ? ":" : "", r->tag, r->digest[0] ? "@" : "",
		 r->digest);
}

int reg_host_normalize(const char *in, char *out, size_t len, struct st_error *err)
{
	pthread_once(&rx_once, rx_init);
	const char *h = in ? in : "";
	if (st_str_has_prefix(h, "https://"))
		h += 8;
	else if (st_str_has_prefix(h, "http://"))
		h += 7;
	size_t n = strcspn(h, "/");
	if (n == 0) {
		snprintf(out, len, REG_DOCKER_DOMAIN);
		return 0;
	}
	if (!rx_ok || !domain_ok(h, n))
		return st_error_fail(err, EINVAL, "invalid registry host \"%s\"", in);
	snprintf(out, len, "%.*s", (int)n, h);
	if (!strcmp(out, "index.docker.io") || !strcmp(out, "registry-1.docker.io") || !strcmp(out, "registry.hub.docker.com"))
		snprintf(out, len, REG_DOCKER_DOMAIN);
	return 0;
}

const char *reg_api_host(const char *domain)
{
	return strcmp(domain, REG_DOCKER_DOMAIN) == 0 ? REG_DOCKER_API_HOST : domain;
}

bool reg_host_is_loopback(const char *domain)
{
	char host[256];
	snprintf(host, sizeof(host), "%s", domain);
	if (host[0] == '[') {
		char *end = strchr(host, ']');
		if (end)
			*end = '\0';
		return strcmp(host + 1, "::1") == 0;
	}
	char *colon = strchr(host, ':');
	if (colon)
		*colon = '\0';
	if (strcmp(host, "localhost") == 0)
		return true;
	/* 127.0.0.0/8, written as a dotted quad */
	unsigned a, b, c, d;
	char tail;
	return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}
