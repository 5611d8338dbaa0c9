/* Blobs: downloads that survive a broken connection (resumed with a Range
 * request where it stopped, or the first bytes skipped when the server
 * ignores the range), existence checks, cross-repository mounts and the
 * upload protocol (POST, streamed PATCH, PUT ?digest=). */
#include <time.h>

#include "base/base.h"
#include "registry_int.h"

#define REG_RETRIES 3
static const int retry_delay_ms[REG_RETRIES] = {500, 1000, 2000};

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Counts what reaches the caller: where a retry starts. */
struct resume {
	struct st_writer *out;
	int64_t delivered;
	reg_bytes_fn progress;
	void *pctx;
};

static int resume_write(void *ctx, const void *buf, size_t len)
{
	struct resume *rs = ctx;
	int r = rs->out->write(rs->out->ctx, buf, len);
	if (r < 0)
		return r;
	rs->delivered += (int64_t)len;
	if (rs->progress)
		rs->progress(rs->pctx, rs->delivered);
	return 0;
}

int reg_blob_get(struct reg_client *c, const char *repo, const char *digest, struct st_writer *out,
		 reg_bytes_fn progress, void *pctx, struct st_error *err)
{
	_cleanup_free_ char *path = st_asprintf("/v2/%s/blobs/%s", repo, digest);
	if (!path)
		return st_error_set(err, ENOMEM, "blob %s", digest);
	struct resume rs = {.out = out, .progress = progress, .pctx = pctx};
	struct st_writer w = {.write = resume_write, .ctx = &rs};
	char first[1024] = "";
	int fails = 0;
	for (;;) {
		/* a server that ignores the range sends everything again:
		 * reg_perform drops what we have (see range_from) */
		struct reg_req q = {.method = "GET", .url = path, .sink = &w, .follow = true, .range_from = rs.delivered};
		struct reg_resp resp;
		int64_t before = rs.delivered;
		int r = reg_do(c, &q, &resp, err);
		if (r >= 0) {
			long st = resp.status;
			if (st == 200 || st == 206) {
				reg_resp_free(&resp);
				return 0;
			}
			r = reg_http_error(c, &resp, "GET", err);
			reg_resp_free(&resp);
			if (!(st == 429 || st >= 500))
				return st_error_wrap(err, "blob %s", digest);
		} else if (resp.sink_error) {
			/* the consumer failed or gave up: its error, not ours */
			return r;
		}
		if (rs.delivered > before)
			fails = 0; /* progress: the retries start over */
		if (!first[0])
			snprintf(first, sizeof(first), "%s", err->msg);
		if (c->cancel || !reg_transient(err->code) || fails >= REG_RETRIES) {
			if (fails == 0)
				return st_error_wrap(err, "blob %s", digest);
			char last[1024];
			snprintf(last, sizeof(last), "%s", err->msg);
			return st_error_fail(err, err->code, "blob %s: %s; %d retries failed, the last: %s", digest, first,
					     fails, last);
		}
		sleep_ms(retry_delay_ms[fails]);
		fails++;
	}
}

struct membuf {
	char *data;
	size_t len, max;
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
	struct membuf *m = ctx;
	if (m->len + len > m->max)
		return -EFBIG;
	char *nd = realloc(m->data, m->len + len + 1);
	if (!nd)
		return -ENOMEM;
	memcpy(nd + m->len, buf, len);
	m->data = nd;
	m->len += len;
	nd[m->len] = '\0';
	return 0;
}

int reg_blob_get_small(struct reg_client *c, const char *repo, const struct st_desc *d, char **buf, size_t *len,
		       struct st_error *err)
{
	*buf = NULL;
	*len = 0;
	if (d->size > (int64_t)REG_JSON_MAX)
		return st_error_fail(err, EFBIG, "blob %s: %lld bytes is too large for a config", d->digest,
				     (long long)d->size);
	struct membuf m = {.max = (size_t)d->size};
	struct st_writer w = {.write = mem_write, .ctx = &m};
	int r = reg_blob_get(c, repo, d->digest, &w, NULL, NULL, err);
	if (r < 0) {
		free(m.data);
		if (r == -EFBIG)
			return st_error_fail(err, EINVAL, "blob %s is larger than its descriptor says (%lld bytes)",
					     d->digest, (long long)d->size);
		return r;
	}
	char got[ST_DIGEST_LEN + 1];
	st_sha256_buf(m.data ? m.data : "", m.len, got);
	if ((int64_t)m.len != d->size || strcmp(got, d->digest) != 0) {
		free(m.data);
		return st_error_fail(err, EINVAL, "blob %s does not match its descriptor (got %zu bytes, digest %s)",
				     d->digest, m.len, got);
	}
	*buf = m.data ? m.data : strdup("");
	*len = m.len;
	return *buf ? 0 : st_error_set(err, ENOMEM, "blob");
}

int reg_blob_exists(struct reg_client *c, const char *repo, const char *digest, int64_t *size, struct st_error *err)
{
	_cleanup_free_ char *path = st_asprintf("/v2/%s/blobs/%s", repo, digest);
	if (!path)
		return st_error_set(err, ENOMEM, "blob %s", digest);
	/* not followed: a redirect says the registry has it, and storage URLs
	 * signed for GET may refuse a HEAD */
	struct reg_req q = {.method = "HEAD", .url = path};
	struct reg_resp resp;
	int r = reg_do(c, &q, &resp, err);
	if (r < 0)
		return st_error_wrap(err, "blob %s", digest);
	if (resp.status == 200 || (resp.status >= 301 && resp.status <= 308 && resp.location)) {
		if (size)
			*size = resp.status == 200 ? resp.content_length : -1;
		r = 1;
	} else if (resp.status == 404) {
		r = 0;
	} else {
		r = reg_http_error(c, &resp, "HEAD blob", err);
		st_error_wrap(err, "%s", digest);
	}
	reg_resp_free(&resp);
	return r;
}

int reg_blob_mount(struct reg_client *c, const char *repo, const char *digest, const char *from, char **url,
		   struct st_error *err)
{
	*url = NULL;
	_cleanup_free_ char *base = st_asprintf("%s/v2/%s/blobs/uploads/", c->base, repo);
	_cleanup_free_ char *u1 = base ? reg_url_add_query(base, "mount", digest) : NULL;
	_cleanup_free_ char *u2 = u1 ? reg_url_add_query(u1, "from", from) : NULL;
	if (!u2)
		return st_error_set(err, ENOMEM, "mount");
	struct reg_req q = {.method = "POST", .url = u2};
	struct reg_resp resp;
	int r = reg_do(c, &q, &resp, err);
	if (r < 0)
		return st_error_wrap(err, "mount %s from %s", digest, from);
	if (resp.status == 201) {
		r = 1;
	} else if (resp.status == 202 && resp.location) {
		*url = st_take_ptr(resp.location);
		r = 0;
	} else {
		r = reg_http_error(c, &resp, "mount", err);
		st_error_wrap(err, "%s from %s", digest, from);
	}
	reg_resp_free(&resp);
	return r;
}

int reg_upload_start(struct reg_client *c, const char *repo, char **url, struct st_error *err)
{
	*url = NULL;
	_cleanup_free_ char *path = st_asprintf("/v2/%s/blobs/uploads/", repo);
	if (!path)
		return st_error_set(err, ENOMEM, "upload");
	struct reg_req q = {.method = "POST", .url = path};
	struct reg_resp resp;
	int r = reg_do(c, &q, &resp, err);
	if (r < 0)
		return st_error_wrap(err, "start an upload to %s", repo);
	if (resp.status == 202 && resp.location) {
		*url = st_take_ptr(resp.location);
	} else {
		r = reg_http_error(c, &resp, "start an upload", err);
		st_error_wrap(err, "%s", repo);
	}
	reg_resp_free(&resp);
	return r;
}

int reg_upload_stream(struct reg_client *c, char **url, struct st_reader *body, struct st_error *err)
{
	struct reg_req q = {.method = "PATCH", .url = *url, .body_reader = body};
	struct reg_resp resp;
	int r = reg_do(c, &q, &resp, err);
	if (r < 0)
		return st_error_wrap(err, "upload");
	if (resp.status == 202 && resp.location) {
		free(*url);
		*url = st_take_ptr(resp.location);
	} else if (resp.status == 202) {
		r = 0; /* same location */
	} else {
		r = reg_http_error(c, &resp, "upload", err);
	}
	reg_resp_free(&resp);
	return r;
}

int reg_upload_finish(struct reg_client *c, const char *url, const char *digest, const void *data, size_t len,
		      struct st_error *err)
{
	_cleanup_free_ char *u = reg_url_add_query(url, "digest", digest);
	if (!u)
		return st_error_set(err, ENOMEM, "upload");
	struct reg_req q = {.method = "PUT", .url = u, .body = data, .body_len = data ? len : 0};
	struct reg_resp resp;
	int r = reg_do(c, &q, &resp, err);
	if (r < 0)
		return st_error_wrap(err, "complete the upload of %s", digest);
	if (resp.status != 201 && resp.status != 204) {
		r = reg_http_error(c, &resp, "complete the upload", err);
		st_error_wrap(err, "%s", digest);
	}
	reg_resp_free(&resp);
	return r;
}
