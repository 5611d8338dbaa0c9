/* The registry client's entry points besides pull and push: login (the
 * credentials are tried against the registry before they are stored),
 * logout, the credentials file's name; and the progress reports the
 * transfer threads share. */
#include "base/base.h"
#include "registry_int.h"

void reg_progress_init(struct reg_progress *p, const struct st_reg_opts *o)
{
	p->fn = o ? o->progress : NULL;
	p->ctx = o ? o->progress_ctx : NULL;
	pthread_mutex_init(&p->mu, NULL);
}

void reg_progress_destroy(struct reg_progress *p) { pthread_mutex_destroy(&p->mu); }

void reg_progress(struct reg_progress *p, const char *id, const char *status, int64_t current, int64_t total)
{
	if (!p->fn)
		return;
	struct st_reg_event ev = {.id = id, .status = status, .current = current, .total = total};
	pthread_mutex_lock(&p->mu);
	p->fn(p->ctx, &ev);
	pthread_mutex_unlock(&p->mu);
}

void reg_short_id(const char *digest, char out[13])
{
	const char *hex = strchr(digest, ':');
	snprintf(out, 13, "%s", hex ? hex + 1 : digest);
}

int st_registry_auth_file(const struct st_reg_opts *o, char *out, size_t len, struct st_error *err)
{
	return reg_auth_path(o ? o->auth_file : NULL, out, len, err);
}

int st_registry_login(const char *host, const char *user, const char *password, const struct st_reg_opts *o,
		      struct st_error *err)
{
	char domain[256], path[4096];
	int r = reg_host_normalize(host, domain, sizeof(domain), err);
	if (r < 0 || (r = reg_auth_path(o ? o->auth_file : NULL, path, sizeof(path), err)) < 0)
		return st_error_wrap(err, "login");
	if (!user || !*user || strchr(user, ':'))
		return st_error_fail(err, EINVAL, "login %s: the user name must be non-empty and without \":\"", domain);
	/* try them: the registry's challenge (Basic, or a token server that
	 * takes them as Basic) decides */
	struct reg_client c;
	r = reg_client_open(&c, domain, o, err);
	if (r >= 0) {
		free(c.user);
		free(c.pass);
		c.user = strdup(user);
		c.pass = strdup(password ? password : "");
		if (!c.user || !c.pass)
			r = st_error_set(err, ENOMEM, "login");
	}
	if (r >= 0 && c.ch.scheme[0] == '\0')
		r = 0; /* the registry wants no credentials: store them anyway, as docker does */
	else if (r >= 0 && strcmp(c.ch.scheme, "bearer") == 0)
		r = reg_client_authorize(&c, err);
	else if (r >= 0) {
		struct reg_req q = {.method = "GET", .url = "/v2/", .accept = "application/json"};
		struct reg_resp resp;
		_cleanup_free_ char *auth = reg_auth_header(&c);
		if ((r = reg_perform(&c, &q, auth, &resp, err)) >= 0) {
			if (resp.status == 401)
				r = st_error_fail(err, EACCES, "unauthorized: incorrect username or password");
			else if (resp.status != 200)
				r = reg_http_error(&c, &resp, "GET /v2/", err);
			reg_resp_free(&resp);
		}
	}
	reg_client_close(&c);
	if (r >= 0)
		r = reg_creds_set(path, domain, user, password ? password : "", err);
	return r < 0 ? st_error_wrap(err, "login %s", domain) : 0;
}

int st_registry_logout(const char *host, const struct st_reg_opts *o, struct st_error *err)
{
	char domain[256], path[4096];
	int r = reg_host_normalize(host, domain, sizeof(domain), err);
	if (r < 0 || (r = reg_auth_path(o ? o->auth_file : NULL, path, sizeof(path), err)) < 0)
		return st_error_wrap(err, "logout");
	r = reg_creds_remove(path, domain, err);
	if (r == -ENOENT)
		return st_error_fail(err, ENOENT, "logout %s: not logged in (no credentials in %s)", domain, path);
	return r < 0 ? st_error_wrap(err, "logout %s", domain) : 0;
}
