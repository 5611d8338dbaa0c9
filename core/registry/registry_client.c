/* The registry client: opening one (the endpoint, https or plain http for
 * a loopback registry as docker does with its insecure registries; the
 * credentials; connections and TLS sessions shared between the transfer
 * threads) and requests with the authorisation, and the retry a 401 asks
 * for (registry_auth.c), over the HTTP transport (registry_http.c). */
#include <curl/curl.h>

#include "base/base.h"
#include "registry_int.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
	struct reg_client *c = ctx;
	pthread_mutex_lock(&c->share_mu[(unsigned)data % ST_ARRAY_SIZE(c->share_mu)]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
	struct reg_client *c = ctx;
	pthread_mutex_unlock(&c->share_mu[(unsigned)data % ST_ARRAY_SIZE(c->share_mu)]);
}

int reg_do(struct reg_client *c, const struct reg_req *q, struct reg_resp *resp, struct st_error *err)
{
	for (int attempt = 0;; attempt++) {
		_cleanup_free_ char *auth = reg_auth_header(c);
		int r = reg_perform(c, q, auth, resp, err);
		if (r < 0 || resp->status != 401 || attempt > 0 || q->body_reader)
			return r;
		_cleanup_free_ char *www = resp->www_auth ? strdup(resp->www_auth) : NULL;
		if (!www)
			return 0; /* a bare 401: the caller says so */
		reg_resp_free(resp);
		if ((r = reg_auth_renew(c, www, auth, err)) < 0)
			return r;
	}
}

/* ----------------------------------------------------------------- opening */

/* GET /v2/ at base: 0 and the status, or a transport failure. */
static int ping(struct reg_client *c, long *status, struct st_error *err)
{
	struct reg_req q = {.method = "GET", .url = "/v2/", .accept = "application/json", .max_body = 1 << 20};
	struct reg_resp resp;
	int r = reg_perform(c, &q, NULL, &resp, err);
	if (r < 0)
		return r;
	*status = resp.status;
	if (resp.status == 401) {
		reg_challenge_free(&c->ch);
		if (reg_challenge_parse(resp.www_auth, &c->ch) < 0)
			memset(&c->ch, 0, sizeof(c->ch));
	}
	reg_resp_free(&resp);
	return 0;
}

/* reg_client_close is needed whatever this returns. */
int reg_client_open(struct reg_client *c, const char *domain, const struct st_reg_opts *o, struct st_error *err)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	for (size_t i = 0; i < ST_ARRAY_SIZE(c->share_mu); i++)
		pthread_mutex_init(&c->share_mu[i], NULL);
	pthread_once(&curl_once, curl_init_once);
	snprintf(c->domain, sizeof(c->domain), "%s", domain);
	c->loopback = reg_host_is_loopback(domain);
	bool explicit_verify = o && o->tls_verify_set && o->tls_verify;
	bool explicit_noverify = o && o->tls_verify_set && !o->tls_verify;
	c->verify = explicit_verify || (!explicit_noverify && !c->loopback);
	bool http_ok = !explicit_verify && (explicit_noverify || c->loopback);
	CURLSH *sh = curl_share_init();
	if (!sh)
		return st_error_set(err, ENOMEM, "registry %s", domain);
	curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(sh, CURLSHOPT_USERDATA, c);
	curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	c->share = sh;

	char path[4096];
	int r = reg_auth_path(o ? o->auth_file : NULL, path, sizeof(path), err);
	if (r < 0)
		return r;
	r = reg_creds_get(path, domain, &c->user, &c->pass, err);
	if (r < 0 && r != -ENOENT)
		return r;

	const char *host = reg_api_host(domain);
	struct st_error https_err = {0}, http_err = {0};
	long status = 0;
	snprintf(c->base, sizeof(c->base), "https://%s", host);
	r = ping(c, &status, &https_err);
	if (r < 0 && http_ok && !c->cancel) {
		snprintf(c->base, sizeof(c->base), "http://%s", host);
		r = ping(c, &status, &http_err);
	}
	if (r < 0) {
		if (http_ok)
			return st_error_fail(err, http_err.code, "cannot reach the registry %s: over https: %s; over http: %s",
					     domain, https_err.msg, http_err.msg);
		bool tls = https_err.code == EPROTO;
		return st_error_fail(err, https_err.code, "cannot reach the registry %s: %s%s", domain, https_err.msg,
				     tls ? " (for a registry without a trusted certificate: --tls-verify=false)" : "");
	}
	if (status != 200 && status != 401)
		return st_error_fail(err, EPROTO, "%s is not a registry: GET %s/v2/ answered HTTP %ld", domain, c->base,
				     status);
	return 0;
}

void reg_client_close(struct reg_client *c)
{
	if (c->share)
		curl_share_cleanup((CURLSH *)c->share);
	c->share = NULL;
	free(c->user);
	free(c->pass);
	free(c->token);
	reg_challenge_free(&c->ch);
	st_strv_free(c->scopes, c->nscopes);
	pthread_mutex_destroy(&c->mu);
	for (size_t i = 0; i < ST_ARRAY_SIZE(c->share_mu); i++)
		pthread_mutex_destroy(&c->share_mu[i]);
	memset(c, 0, sizeof(*c));
}
