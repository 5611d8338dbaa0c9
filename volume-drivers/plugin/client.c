/* Calling a Docker plugin: HTTP POST of JSON (libcurl; unix sockets through
 * CURLOPT_UNIX_SOCKET_PATH), Docker's plugin media type, bounded time for
 * every call, and errors that carry the plugin's own words. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "plugin.h"

#define VP_MEDIA_TYPE "application/vnd.docker.plugins.v1.2+json"
#define VP_MAX_REPLY (8u << 20)

static pthread_once_t vp_curl_once = PTHREAD_ONCE_INIT;
static void vp_curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static double vp_env_seconds(const char *name, double def)
{
	const char *e = getenv(name);
	double v = e ? strtod(e, NULL) : 0;
	return v > 0 ? v : def;
}

int vp_client_init(struct vp_client *c, const struct vp_endpoint *ep, struct st_error *err)
{
	memset(c, 0, sizeof(*c));
	c->ep = *ep;
	c->timeout = vp_env_seconds("STRATA_PLUGIN_TIMEOUT", 30);
	c->activate_timeout = vp_env_seconds("STRATA_PLUGIN_ACTIVATE_TIMEOUT", 15);
	pthread_once(&vp_curl_once, vp_curl_init);
	c->curl = curl_easy_init();
	if (!c->curl)
		return st_error_set(err, ENOMEM, "volume plugin %s: curl", ep->name);
	return 0;
}

void vp_client_free(struct vp_client *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
}

struct vp_buf {
	char *data;
	size_t len;
	bool too_big;
};

static size_t vp_write(char *p, size_t sz, size_t n, void *ud)
{
	struct vp_buf *b = ud;
	size_t add = sz * n;
	if (b->len + add > VP_MAX_REPLY) {
		b->too_big = true;
		return 0; /* aborts the transfer */
	}
	char *nd = realloc(b->data, b->len + add + 1);
	if (!nd)
		return 0;
	memcpy(nd + b->len, p, add);
	b->data = nd;
	b->len += add;
	nd[b->len] = '\0';
	return add;
}

/* A short, printable excerpt of what the plugin sent, for messages. */
static void vp_excerpt(const char *s, size_t len, char *out, size_t cap)
{
	size_t j = 0;
	for (size_t i = 0; i < len && j + 4 < cap && i < 160; i++)
		out[j++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (len > 160 && j + 4 < cap) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = '\0';
}

static bool vp_conn_error(CURLcode cc)
{
	return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_GOT_NOTHING ||
	       cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR;
}

int vp_call(struct vp_client *c, const char *method, json_object *req, json_object **resp, struct st_error *err)
{
	*resp = NULL;
	const char *name = c->ep.name;
	char url[700];
	snprintf(url, sizeof(url), "%s/%s", c->ep.base, method);
	const char *body = req ? json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN) : "";
	CURL *h = c->curl;
	curl_easy_reset(h);
	struct curl_slist *hdr = curl_slist_append(NULL, "Accept: " VP_MEDIA_TYPE);
	hdr = curl_slist_append(hdr, "Content-Type: " VP_MEDIA_TYPE);
	struct vp_buf b = {0};
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (c->ep.sock[0])
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->ep.sock);
	if (c->ep.ca[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ep.ca);
	if (c->ep.cert[0])
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->ep.cert);
	if (c->ep.key[0])
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->ep.key);
	if (c->ep.insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, vp_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->timeout * 1000));
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	_cleanup_free_ char *data = b.data;
	const char *where = c->ep.sock[0] ? c->ep.sock : c->ep.base;

	if (cc == CURLE_OPERATION_TIMEDOUT)
		return st_error_fail(err, ETIMEDOUT, "volume plugin %s: /%s: no answer within %.0f s (%s)", name, method,
				     c->timeout, where);
	if (b.too_big)
		return st_error_fail(err, EPROTO, "volume plugin %s: /%s: reply larger than %u bytes", name, method,
				     VP_MAX_REPLY);
	if (vp_conn_error(cc))
		return st_error_fail(err, ECONNREFUSED, "volume plugin %s: /%s: cannot reach %s: %s", name, method, where,
				     cerr[0] ? cerr : curl_easy_strerror(cc));
	if (cc != CURLE_OK)
		return st_error_fail(err, EIO, "volume plugin %s: /%s: %s", name, method,
				     cerr[0] ? cerr : curl_easy_strerror(cc));

	char ex[200];
	vp_excerpt(data ? data : "", b.len, ex, sizeof(ex));
	json_object *o = data && b.len ? json_tokener_parse(data) : NULL;
	if (status != 200) {
		/* Docker's plugins put the reason in {"Err": ...} or send text */
		const char *why = o ? st_json_str(o, "Err") : "";
		int e = status == 404 ? EOPNOTSUPP : EIO;
		int r = st_error_fail(err, e, "volume plugin %s: /%s: HTTP %ld: %s", name, method, status,
				      *why ? why : (ex[0] ? ex : "(no body)"));
		if (o)
			json_object_put(o);
		return r;
	}
	struct st_error perr = {0};
	json_object *parsed = NULL;
	if (st_json_parse(data ? data : "", "reply", &parsed, &perr) < 0)
		parsed = NULL;
	if (o)
		json_object_put(o);
	if (!parsed || !json_object_is_type(parsed, json_type_object)) {
		if (parsed)
			json_object_put(parsed);
		return st_error_fail(err, EPROTO, "volume plugin %s: /%s: malformed reply (%s): \"%s\"", name, method,
				     perr.msg[0] ? perr.msg : "not a JSON object", ex);
	}
	json_object *perr_obj;
	if (json_object_object_get_ex(parsed, "Err", &perr_obj) && perr_obj &&
	    !json_object_is_type(perr_obj, json_type_string)) {
		/* {"Err": 5} or {"Err": {...}}: neither success nor a reason */
		json_object_put(parsed);
		return st_error_fail(err, EPROTO, "volume plugin %s: /%s: malformed reply (\"Err\" is not a string): \"%s\"",
				     name, method, ex);
	}
	const char *perr_text = st_json_str(parsed, "Err");
	if (*perr_text) {
		int r = st_error_fail(err, EIO, "volume plugin %s: %s", name, perr_text);
		json_object_put(parsed);
		return r;
	}
	*resp = parsed;
	return 0;
}

int vp_activate(struct vp_client *c, struct st_error *err)
{
	double deadline = st_now() + c->activate_timeout;
	long sleep_ms = 100;
	json_object *resp = NULL;
	int r;
	for (;;) {
		r = vp_call(c, "Plugin.Activate", NULL, &resp, err);
		if (r != -ECONNREFUSED || st_now() + sleep_ms / 1000.0 > deadline)
			break;
		/* the plugin may be starting: back off and try again */
		struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		if (sleep_ms < 1000)
			sleep_ms *= 2;
	}
	if (r == -ECONNREFUSED)
		return st_error_wrap(err, "gave up activating after %.0f s", c->activate_timeout);
	if (r < 0)
		return r;
	json_object *impl;
	bool volume = false;
	char list[256] = "";
	if (json_object_object_get_ex(resp, "Implements", &impl) && json_object_is_type(impl, json_type_array))
		for (size_t i = 0; i < json_object_array_length(impl); i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(impl, i));
			volume |= s && strcmp(s, "VolumeDriver") == 0;
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", list[0] ? ", " : "",
				 s ? s : "?");
		}
	json_object_put(resp);
	if (!volume)
		return st_error_fail(err, EPROTO, "volume plugin %s (%s) does not implement VolumeDriver (implements: %s)",
				     c->ep.name, c->ep.found, list[0] ? list : "nothing");
	return 0;
}
