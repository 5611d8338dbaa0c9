/* Authentication: WWW-Authenticate challenges, and the tokens of the Docker
 * token protocol (GET realm?service=&scope=, with the credentials as Basic).
 * Where the credentials come from: registry_creds.c. */
#include <ctype.h>

#include "base/base.h"
#include "registry_int.h"

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
	_cleanup_free_ char *a = reg_encode_auth(c->user, c->pass ? c->pass : "");
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
