/* Authentication: the credentials file (docker's config.json format, mode
 * 0600), WWW-Authenticate challenges, and the tokens of the Docker token
 * protocol (GET realm?service=&scope=, with the credentials as Basic). */
#include <ctype.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "base/base.h"
#include "registry_int.h"

/* ------------------------------------------------------------- the file */

int reg_auth_path(const char *override, char *out, size_t len, struct st_error *err)
{
	const char *env = getenv("STRATA_AUTH_FILE"), *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int n;
	if (override && *override)
		n = snprintf(out, len, "%s", override);
	else if (env && *env)
		n = snprintf(out, len, "%s", env);
	else if (xdg && *xdg == '/')
		n = snprintf(out, len, "%s/strata/auth.json", xdg);
	else if (home && *home == '/')
		n = snprintf(out, len, "%s/.config/strata/auth.json", home);
	else
		return st_error_fail(err, ENOENT, "credentials: neither HOME nor STRATA_AUTH_FILE is set");
	if (n < 0 || (size_t)n >= len)
		return st_error_fail(err, ENAMETOOLONG, "credentials: the file name is too long");
	return 0;
}

/* The auths key docker uses for a domain. */
static const char *auth_key(const char *domain)
{
	return strcmp(domain, REG_DOCKER_DOMAIN) == 0 ? REG_DOCKER_AUTH_KEY : domain;
}

/* "/a/b/auth.json" -> dir "/a/b", returns "auth.json" */
static const char *split_path(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		snprintf(dir, len, ".");
		return path;
	}
	if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
	return slash + 1;
}

static int load_file(const char *path, json_object **out, struct st_error *err)
{
	*out = NULL;
	char dir[4096];
	const char *base = split_path(path, dir, sizeof(dir));
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? -ENOENT : st_error_set(err, errno, "open \"%s\"", dir);
	int r = st_json_load_at(dfd, base, out, err);
	if (r == -ENOENT)
		return -ENOENT;
	if (r < 0)
		return st_error_wrap(err, "credentials \"%s\"", path);
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return st_error_fail(err, EINVAL, "credentials \"%s\": not a JSON object", path);
	}
	return 0;
}

static int decode_auth(const char *b64, char **user, char **pass)
{
	size_t n = strlen(b64);
	if (n == 0 || n % 4 != 0)
		return -EINVAL;
	_cleanup_free_ unsigned char *raw = malloc(n / 4 * 3 + 1);
	if (!raw)
		return -ENOMEM;
	int got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	if (got < 0)
		return -EINVAL;
	/* EVP_DecodeBlock counts the padding as zero bytes */
	for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
		got--;
	raw[got] = '\0';
	if (strlen((char *)raw) != (size_t)got)
		return -EINVAL;
	char *colon = strchr((char *)raw, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	*user = strdup((char *)raw);
	*pass = strdup(colon + 1);
	if (!*user || !*pass) {
		free(*user);
		free(*pass);
		return -ENOMEM;
	}
	return 0;
}

static char *encode_auth(const char *user, const char *pass)
{
	_cleanup_free_ char *plain = st_asprintf("%s:%s", user, pass);
	if (!plain)
		return NULL;
	size_t n = strlen(plain);
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, (unsigned char *)plain, (int)n);
	return out;
}

static int creds_from(const char *path, const char *domain, char **user, char **pass, struct st_error *err)
{
	_cleanup_json_ json_object *root = NULL;
	int r = load_file(path, &root, err);
	if (r < 0)
		return r;
	json_object *auths, *e;
	if (!json_object_object_get_ex(root, "auths", &auths) || !json_object_object_get_ex(auths, auth_key(domain), &e))
		return -ENOENT;
	const char *a = st_json_str(e, "auth");
	if (!*a)
		return -ENOENT;
	r = decode_auth(a, user, pass);
	if (r < 0)
		return st_error_fail(err, -r, "credentials \"%s\": the entry for %s is not base64 of user:password", path,
				     domain);
	return 0;
}

int reg_creds_get(const char *auth_file, const char *domain, char **user, char **pass, struct st_error *err)
{
	*user = *pass = NULL;
	int r = creds_from(auth_file, domain, user, pass, err);
	if (r != -ENOENT)
		return r;
	/* docker's own file, read only (plain "auth" entries; credential
	 * helpers are docker's business) */
	const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char p[4096];
	if (dc && *dc)
		snprintf(p, sizeof(p), "%s/config.json", dc);
	else if (home && *home)
		snprintf(p, sizeof(p), "%s/.docker/config.json", home);
	else
		return -ENOENT;
	struct st_error e2;
	r = creds_from(p, domain, user, pass, &e2);
	return r < 0 ? -ENOENT : 0;
}

/* mkdir -p of the user's config directory (new ones 0700). Plain paths:
 * this is the user's own tree, where symlinked homes are common. */
static int mkdir_user(const char *dir, struct st_error *err)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s", dir);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST)
				return st_error_set(err, errno, "credentials: mkdir \"%s\"", p);
			*s = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/* Read-modify-write of the file: 0600 in a 0700 directory, atomically. */
static int update_file(const char *path, const char *domain, const char *auth, struct st_error *err)
{
	_cleanup_json_ json_object *root = NULL;
	int r = load_file(path, &root, err);
	if (r == -ENOENT) {
		if (!auth)
			return -ENOENT;
		root = json_object_new_object();
	} else if (r < 0) {
		return r;
	}
	json_object *auths;
	if (!json_object_object_get_ex(root, "auths", &auths) || !json_object_is_type(auths, json_type_object)) {
		auths = json_object_new_object();
		json_object_object_add(root, "auths", auths);
	}
	const char *key = auth_key(domain);
	if (!auth) {
		json_object *e;
		if (!json_object_object_get_ex(auths, key, &e))
			return -ENOENT;
		json_object_object_del(auths, key);
	} else {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "auth", json_object_new_string(auth));
		json_object_object_add(auths, key, e);
	}
	char dir[4096];
	const char *base = split_path(path, dir, sizeof(dir));
	if ((r = mkdir_user(dir, err)) < 0)
		return r;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return st_error_set(err, errno, "credentials: open \"%s\"", dir);
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	r = st_atomic_write_at(dfd, base, text, strlen(text), 0600, err);
	return r < 0 ? st_error_wrap(err, "credentials \"%s\"", path) : 0;
}

int reg_creds_set(const char *auth_file, const char *domain, const char *user, const char *pass,
		  struct st_error *err)
{
	if (!*user || strchr(user, ':'))
		return st_error_fail(err, EINVAL, "login: the user name must be non-empty and without \":\"");
	_cleanup_free_ char *a = encode_auth(user, pass);
	if (!a)
		return st_error_set(err, ENOMEM, "login");
	return update_file(auth_file, domain, a, err);
}

int reg_creds_remove(const char *auth_file, const char *domain, struct st_error *err)
{
	return update_file(auth_file, domain, NULL, err);
}

/* ----------------------------------------------------------- challenges */

void reg_challenge_free(struct reg_challenge *c)
{
	free(c->realm);
	free(c->service);
	free(c->scope);
	memset(c, 0, sizeof(*c));
}

static bool is_token_char(char ch)
{
	return ch && (isalnum((unsigned char)ch) || strchr("!#$%&'*+-.^_`|~", ch));
}

/* One challenge at s: scheme, then auth-params (token=token or
 * token="quoted"); returns where the next challenge starts. Params of the
 * wanted scheme are kept. */
static const char *parse_one(const char *s, struct reg_challenge *c, bool keep)
{
	while (*s == ' ' || *s == ',')
		s++;
	const char *sch = s;
	while (is_token_char(*s))
		s++;
	size_t slen = (size_t)(s - sch);
	if (keep) {
		snprintf(c->scheme, sizeof(c->scheme), "%.*s", (int)(slen < 15 ? slen : 15), sch);
		for (char *p = c->scheme; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	for (;;) {
		while (*s == ' ' || *s == ',')
			s++;
		const char *k = s;
		while (is_token_char(*s))
			s++;
		size_t klen = (size_t)(s - k);
		while (*s == ' ')
			s++;
		if (klen == 0 || *s != '=')
			return k; /* the next scheme (or the end) */
		s++;
		while (*s == ' ')
			s++;
		char val[2048];
		size_t vn = 0;
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				if (vn + 1 < sizeof(val))
					val[vn++] = *s;
			}
			if (*s == '"')
				s++;
		} else {
			while (is_token_char(*s) || *s == '/' || *s == ':') {
				if (vn + 1 < sizeof(val))
					val[vn++] = *s;
				s++;
			}
		}
		val[vn] = '\0';
		if (!keep)
			continue;
		char **slot = NULL;
		if (klen == 5 && strncasecmp(k, "realm", 5) == 0)
			slot = &c->realm;
		else if (klen == 7 && strncasecmp(k, "service", 7) == 0)
			slot = &c->service;
		else if (klen == 5 && strncasecmp(k, "scope", 5) == 0)
			slot = &c->scope;
		if (slot) {
			free(*slot);
			*slot = strdup(val);
		}
	}
}

int reg_challenge_parse(const char *header, struct reg_challenge *c)
{
	memset(c, 0, sizeof(*c));
	if (!header)
		return -ENOENT;
	/* a header may carry several challenges: Bearer wins over Basic */
	const char *s = header;
	bool basic = false;
	while (*s) {
		const char *start = s;
		while (*s == ' ' || *s == ',')
			s++;
		if (strncasecmp(s, "bearer", 6) == 0 && (s[6] == ' ' || !s[6])) {
			reg_challenge_free(c);
			parse_one(s, c, true);
			return c->realm ? 0 : -EINVAL;
		}
		if (strncasecmp(s, "basic", 5) == 0 && (s[5] == ' ' || !s[5]))
			basic = true;
		s = parse_one(s, c, false);
		if (s == start)
			break;
	}
	reg_challenge_free(c);
	if (basic) {
		snprintf(c->scheme, sizeof(c->scheme), "basic");
		return 0;
	}
	return -ENOENT;
}

/* --------------------------------------------------------------- tokens */

int reg_client_scope(struct reg_client *c, const char *repo, const char *actions)
{
	_cleanup_free_ char *s = st_asprintf("repository:%s:%s", repo, actions);
	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&c->mu);
	int r = 0;
	bool have = false;
	for (size_t i = 0; i < c->nscopes; i++)
		have |= strcmp(c->scopes[i], s) == 0;
	if (!have)
		r = st_strv_push(&c->scopes, &c->nscopes, s);
	pthread_mutex_unlock(&c->mu);
	return r;
}

/* "Basic base64(user:pass)" of the stored credentials, or NULL. */
static char *basic_header(struct reg_client *c)
{
	if (!c->user)
		return NULL;
	_cleanup_free_ char *a = encode_auth(c->user, c->pass ? c->pass : "");
	return a ? st_asprintf("Basic %s", a) : NULL;
}

/* Caller holds c->mu. */
static int fetch_token(struct reg_client *c, struct st_error *err)
{
	_cleanup_free_ char *url = strdup(c->ch.realm);
	if (!url)
		return st_error_set(err, ENOMEM, "token");
	if (c->ch.service && *c->ch.service) {
		char *u = reg_url_add_query(url, "service", c->ch.service);
		free(url);
		url = u;
	}
	for (size_t i = 0; url && i < c->nscopes; i++) {
		char *u = reg_url_add_query(url, "scope", c->scopes[i]);
		free(url);
		url = u;
	}
	if (url && c->ch.scope && *c->ch.scope) {
		bool have = false;
		for (size_t i = 0; i < c->nscopes; i++)
			have |= strcmp(c->scopes[i], c->ch.scope) == 0;
		if (!have) {
			char *u = reg_url_add_query(url, "scope", c->ch.scope);
			free(url);
			url = u;
		}
	}
	if (!url)
		return st_error_set(err, ENOMEM, "token");
	_cleanup_free_ char *basic = basic_header(c);
	struct reg_req q = {.method = "GET", .url = url, .accept = "application/json", .follow = true};
	struct reg_resp resp;
	int r = reg_perform(c, &q, basic, &resp, err);
	if (r < 0)
		return st_error_wrap(err, "token from %s", c->ch.realm);
	if (resp.status == 401 || resp.status == 403) {
		r = c->user ? st_error_fail(err, EACCES, "%s: unauthorized: incorrect username or password (the token "
							 "server %s refused them)",
					    c->domain, c->ch.realm)
			    : st_error_fail(err, EACCES, "%s: the token server %s requires credentials: strata login %s",
					    c->domain, c->ch.realm, c->domain);
		reg_resp_free(&resp);
		return r;
	}
	if (resp.status != 200) {
		r = reg_http_error(c, &resp, "token", err);
		reg_resp_free(&resp);
		return r;
	}
	_cleanup_json_ json_object *o = NULL;
	r = st_json_parse(resp.body ? resp.body : "", "token response", &o, err);
	reg_resp_free(&resp);
	if (r < 0)
		return st_error_wrap(err, "%s", c->ch.realm);
	const char *t = st_json_str(o, "token");
	if (!*t)
		t = st_json_str(o, "access_token");
	if (!*t)
		return st_error_fail(err, EPROTO, "the token server %s sent no token", c->ch.realm);
	char *nt = strdup(t);
	if (!nt)
		return st_error_set(err, ENOMEM, "token");
	free(c->token);
	c->token = nt;
	return 0;
}

char *reg_auth_header(struct reg_client *c)
{
	pthread_mutex_lock(&c->mu);
	char *h = NULL;
	if (strcmp(c->ch.scheme, "bearer") == 0 && c->token)
		h = st_asprintf("Bearer %s", c->token);
	else if (strcmp(c->ch.scheme, "basic") == 0) {
		h = basic_header(c);
		c->sent_basic = h != NULL;
	}
	pthread_mutex_unlock(&c->mu);
	return h;
}

int reg_auth_renew(struct reg_client *c, const char *www_auth, const char *used, struct st_error *err)
{
	struct reg_challenge ch;
	if (reg_challenge_parse(www_auth, &ch) < 0)
		return 0; /* nothing to answer: the caller reports the 401 */
	pthread_mutex_lock(&c->mu);
	int r = 0;
	if (strcmp(ch.scheme, "basic") == 0) {
		if (!c->user)
			r = st_error_fail(err, EACCES, "%s requires authentication: strata login %s", c->domain, c->domain);
		else if (used && st_str_has_prefix(used, "Basic "))
			r = st_error_fail(err, EACCES, "%s: unauthorized: incorrect username or password", c->domain);
		reg_challenge_free(&c->ch);
		c->ch = ch;
	} else {
		/* another thread may have renewed it meanwhile */
		_cleanup_free_ char *now = c->token ? st_asprintf("Bearer %s", c->token) : NULL;
		bool fresh = now && (!used || strcmp(now, used) != 0);
		if (!fresh || strcmp(c->ch.scheme, "bearer") != 0 || (ch.scope && !(c->ch.scope && !strcmp(ch.scope, c->ch.scope)))) {
			reg_challenge_free(&c->ch);
			c->ch = ch;
			r = fetch_token(c, err);
		} else {
			reg_challenge_free(&ch);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

int reg_client_authorize(struct reg_client *c, struct st_error *err)
{
	pthread_mutex_lock(&c->mu);
	int r = 0;
	if (strcmp(c->ch.scheme, "bearer") == 0)
		r = fetch_token(c, err);
	pthread_mutex_unlock(&c->mu);
	return r;
}
