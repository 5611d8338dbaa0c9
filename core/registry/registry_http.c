/* The HTTP transport of the registry protocol, on libcurl: one request with
 * a given authorisation, TLS with the system CAs, redirects (blob storage)
 * without our credentials, progress and cancel, and the registry's error
 * documents turned into messages. The client that authenticates is
 * registry_client.c. */
#include <curl/curl.h>
#include <ctype.h>

#include "base/base.h"
#include "registry_int.h"

#define REG_CONNECT_TIMEOUT 30L
/* a transfer that moves nothing for this long is dropped (and resumed) */
#define REG_STALL_SECONDS 60L

void reg_resp_free(struct reg_resp *r)
{
	free(r->body);
	free(r->location);
	free(r->content_type);
	free(r->docker_digest);
	free(r->www_auth);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------- URLs */

char *reg_url(struct reg_client *c, const char *path_or_url)
{
	if (st_str_has_prefix(path_or_url, "http://") || st_str_has_prefix(path_or_url, "https://"))
		return strdup(path_or_url);
	return st_asprintf("%s%s", c->base, path_or_url);
}

char *reg_url_add_query(const char *url, const char *key, const char *value)
{
	CURLU *h = curl_url();
	if (!h)
		return NULL;
	char *out = NULL, *kv = st_asprintf("%s=%s", key, value);
	if (kv && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_QUERY, kv, CURLU_APPENDQUERY | CURLU_URLENCODE) == CURLUE_OK) {
		char *u = NULL;
		if (curl_url_get(h, CURLUPART_URL, &u, 0) == CURLUE_OK) {
			out = strdup(u);
			curl_free(u);
		}
	}
	free(kv);
	curl_url_cleanup(h);
	return out;
}

/* A Location header relative to the URL that answered. */
static char *resolve_url(const char *base, const char *ref)
{
	CURLU *h = curl_url();
	char *out = NULL;
	if (h && curl_url_set(h, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_URL, ref, 0) == CURLUE_OK) {
		char *u = NULL;
		if (curl_url_get(h, CURLUPART_URL, &u, 0) == CURLUE_OK) {
			out = strdup(u);
			curl_free(u);
		}
	}
	if (h)
		curl_url_cleanup(h);
	return out;
}

/* The URL without its query (upload URLs carry state tokens): for messages. */
static void url_for_msg(const char *url, char *out, size_t len)
{
	size_t n = strcspn(url, "?");
	snprintf(out, len, "%.*s", (int)(n < 300 ? n : 300), url);
}

/* ------------------------------------------------------------- transfers */

struct xfer {
	struct reg_client *c;
	const struct reg_req *q;
	struct reg_resp *resp;
	CURL *h;
	size_t max_body;
	bool too_big;
	bool sink_on;    /* the current response's body goes to the sink */
	bool sink_known; /* decided for the current response */
	int64_t skip;    /* bytes of a 200 to a Range request that we have */
};

static char *header_value(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	const char *v = line + n + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	return strndup(v, (size_t)(end - v));
}

static void set_field(char **slot, char *v)
{
	if (!v)
		return;
	free(*slot);
	*slot = v;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = sz * n;
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after a redirect or a 100): forget the last one */
		free(x->resp->location);
		free(x->resp->content_type);
		free(x->resp->docker_digest);
		free(x->resp->www_auth);
		x->resp->location = x->resp->content_type = x->resp->docker_digest = x->resp->www_auth = NULL;
		x->resp->content_length = -1;
		x->sink_known = false;
		return len;
	}
	set_field(&x->resp->location, header_value(p, len, "Location"));
	set_field(&x->resp->content_type, header_value(p, len, "Content-Type"));
	set_field(&x->resp->docker_digest, header_value(p, len, "Docker-Content-Digest"));
	char *wa = header_value(p, len, "WWW-Authenticate");
	if (wa && x->resp->www_auth) {
		/* several headers: one list of challenges */
		char *j = st_asprintf("%s, %s", x->resp->www_auth, wa);
		free(wa);
		wa = j;
	}
	set_field(&x->resp->www_auth, wa);
	char *cl = header_value(p, len, "Content-Length");
	if (cl) {
		x->resp->content_length = strtoll(cl, NULL, 10);
		free(cl);
	}
	return len;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = sz * n;
	if (!x->sink_known) {
		long code = 0;
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
		x->sink_on = x->q->sink && code >= 200 && code < 300;
		x->skip = x->sink_on && code == 200 && x->q->range_from > 0 ? x->q->range_from : 0;
		x->sink_known = true;
	}
	if (x->sink_on && x->skip > 0) {
		size_t drop = (int64_t)len < x->skip ? len : (size_t)x->skip;
		x->skip -= (int64_t)drop;
		if (drop == len)
			return len;
		int r = x->q->sink->write(x->q->sink->ctx, p + drop, len - drop);
		if (r < 0) {
			x->resp->sink_error = r;
			return 0;
		}
		return len;
	}
	if (x->sink_on) {
		int r = x->q->sink->write(x->q->sink->ctx, p, len);
		if (r < 0) {
			x->resp->sink_error = r;
			return 0; /* aborts the transfer */
		}
		return len;
	}
	if (x->resp->body_len + len > x->max_body) {
		x->too_big = true;
		return 0;
	}
	char *nb = realloc(x->resp->body, x->resp->body_len + len + 1);
	if (!nb)
		return 0;
	memcpy(nb + x->resp->body_len, p, len);
	x->resp->body = nb;
	x->resp->body_len += len;
	nb[x->resp->body_len] = '\0';
	return len;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
	struct st_reader *rd = ud;
	ssize_t got = rd->read(rd->ctx, p, sz * n);
	return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = ud;
	return x->c->cancel ? 1 : 0;
}

static int curl_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		return ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return ETIMEDOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return ECANCELED;
	case CURLE_OUT_OF_MEMORY:
		return ENOMEM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_TOO_MANY_REDIRECTS:
		return EPROTO;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return ECONNRESET;
	default:
		return EIO;
	}
}

bool reg_transient(int code)
{
	switch (code) {
	case ECONNRESET:
	case ECONNREFUSED:
	case ECONNABORTED:
	case ETIMEDOUT:
	case EPIPE:
	case EIO:
	case EAGAIN:
		return true;
	default:
		return false;
	}
}

int reg_perform(struct reg_client *c, const struct reg_req *q, const char *authorization, struct reg_resp *resp,
		struct st_error *err)
{
	memset(resp, 0, sizeof(*resp));
	resp->content_length = -1;
	_cleanup_free_ char *url = reg_url(c, q->url);
	CURL *h = curl_easy_init();
	if (!url || !h) {
		if (h)
			curl_easy_cleanup(h);
		return st_error_set(err, ENOMEM, "registry %s", c->domain);
	}
	struct xfer x = {.c = c, .q = q, .resp = resp, .h = h, .max_body = q->max_body ? q->max_body : REG_JSON_MAX};
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	_cleanup_free_ char *h_accept = q->accept ? st_asprintf("Accept: %s", q->accept) : NULL;
	_cleanup_free_ char *h_auth = authorization ? st_asprintf("Authorization: %s", authorization) : NULL;
	_cleanup_free_ char *h_ctype =
		st_asprintf("Content-Type: %s", q->content_type ? q->content_type : "application/octet-stream");
	_cleanup_free_ char *h_range = q->range_from > 0 ? st_asprintf("Range: bytes=%lld-", (long long)q->range_from)
						     : NULL;
	if (h_accept)
		hdrs = curl_slist_append(hdrs, h_accept);
	if (h_auth)
		hdrs = curl_slist_append(hdrs, h_auth);
	if (h_range)
		hdrs = curl_slist_append(hdrs, h_range);
	bool has_body = q->body || q->body_reader || strcmp(q->method, "POST") == 0 || strcmp(q->method, "PUT") == 0 ||
			strcmp(q->method, "PATCH") == 0;
	if (has_body && h_ctype)
		hdrs = curl_slist_append(hdrs, h_ctype);
	hdrs = curl_slist_append(hdrs, "Expect:");

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, (CURLSH *)c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "strata/" STRATA_VERSION);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, REG_CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, REG_STALL_SECONDS);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->verify ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->verify ? 2L : 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* redirects (to blob storage) never carry our Authorization: curl keeps
	 * custom Authorization headers to the first host */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, q->follow ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (strcmp(q->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (q->body_reader) {
		/* no size: HTTP/1.1 chunked transfer encoding */
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, q->body_reader);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	} else if (has_body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? (const char *)q->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(q->body ? q->body_len : 0));
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	} else if (strcmp(q->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	}
	CURLcode cc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	resp->status = code;
	char *eff = NULL;
	curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
	if (cc == CURLE_OK && resp->location) {
		char *abs = resolve_url(eff ? eff : url, resp->location);
		if (abs) {
			free(resp->location);
			resp->location = abs;
		}
	}
	char shown[320];
	url_for_msg(url, shown, sizeof(shown));
	int r = 0;
	if (cc != CURLE_OK) {
		if (resp->sink_error)
			r = st_error_fail(err, -resp->sink_error, "%s %s: %s", q->method, shown, strerror(-resp->sink_error));
		else if (x.too_big)
			r = st_error_fail(err, EFBIG, "%s %s: the response is larger than %zu bytes", q->method, shown,
					  x.max_body);
		else
			r = st_error_fail(err, curl_errno(cc), "%s %s: %s", q->method, shown,
					  errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (r < 0) {
		int sink_error = resp->sink_error;
		reg_resp_free(resp);
		resp->sink_error = sink_error;
	}
	return r;
}

int reg_http_error(struct reg_client *c, const struct reg_resp *resp, const char *what, struct st_error *err)
{
	char words[1024] = "";
	_cleanup_json_ json_object *o = NULL;
	json_object *errs;
	if (resp->body && resp->body_len && (o = json_tokener_parse(resp->body)) &&
	    json_object_object_get_ex(o, "errors", &errs) &&
	    json_object_is_type(errs, json_type_array)) {
		size_t used = 0;
		for (size_t i = 0; i < json_object_array_length(errs) && used < sizeof(words); i++) {
			json_object *e = json_object_array_get_idx(errs, i);
			const char *code = st_json_str(e, "code"), *msg = st_json_str(e, "message");
			/* "MANIFEST_UNKNOWN" -> "manifest unknown", said once when
			 * the message says the same */
			char lc[64];
			size_t k = 0;
			for (; code[k] && k + 1 < sizeof(lc); k++)
				lc[k] = code[k] == '_' ? ' ' : (char)tolower((unsigned char)code[k]);
			lc[k] = '\0';
			if (strcmp(lc, msg) == 0)
				lc[0] = '\0';
			int n = snprintf(words + used, sizeof(words) - used, "%s%s%s%s", used ? "; " : "", lc,
					 *lc && *msg ? ": " : "", msg);
			if (n > 0)
				used += (size_t)n;
		}
	}
	int code = resp->status == 401 || resp->status == 403 ? EACCES
		   : resp->status == 404			 ? ENOENT
		   : resp->status == 429 || resp->status >= 500 ? EAGAIN
								: EPROTO;
	if (resp->status == 401)
		return st_error_fail(err, code, "%s: %s (HTTP 401)%s", what, words[0] ? words : "unauthorized",
				     c->user ? "" : "; log in with: strata login");
	return st_error_fail(err, code, "%s: %s (HTTP %ld)", what, words[0] ? words : "the registry refused",
			     resp->status);
}
