/* The HTTP side of Docker's plugin protocol, through libmicrohttpd: every
 * call is a POST to /Subsystem.Method; requests and replies are JSON
 * (application/vnd.docker.plugins.v1.2+json), failures {"Err": "..."} with
 * a status other than 200 (Docker's client reads Err from the body). Two
 * calls stream: GraphDriver.Diff replies with a raw tar, GraphDriver.ApplyDiff
 * sends one (id and parent in the query). A streamed body runs its strata
 * side in a thread of its own, joined to the connection by a bounded byte
 * pipe, so memory stays bounded whatever the layer's size.
 *
 * One thread per connection: requests are served concurrently, and a slow
 * one (an apply of a large layer) holds up nobody else. */
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "dp.h"

#define DP_MIME "application/vnd.docker.plugins.v1.2+json"
#define DP_JSON_MAX (1 << 20)     /* a JSON request larger than this is refused */
#define DP_PIPE_CAP (4 << 20)     /* bytes in flight between a stream and its thread */
#define DP_CHUNK (64 << 10)

struct dp_http {
	struct MHD_Daemon *daemon;
	struct dp_server *srv;
};

struct dp_query {
	struct MHD_Connection *conn;
};

const char *dp_query_arg(struct dp_query *q, const char *key)
{
	const char *v = MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, key);
	return v ? v : "";
}

/* A streamed body and the thread on the other side of its pipe. */
struct dp_pump {
	struct dp_server *srv;
	const struct dp_route *route;
	void *ctx;
	struct st_bytepipe pipe;
	pthread_t thread;
	bool started;
	int rc;                 /* the thread's result */
	struct st_error err;
	json_object *reply;     /* an upload's reply */
	unsigned char *first;   /* a stream's first bytes, read before replying */
	size_t first_len, first_off;
};

/* One request. */
struct dp_conn {
	const struct dp_route *route;
	char path[128];
	int status;             /* != 0: the request failed before its handler ran */
	struct st_error err;
	char *body;
	size_t len, cap;
	struct dp_pump *upload;
	bool upload_ended;
};

/* ------------------------------------------------------------ replies */

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *text, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, DP_MIME);
	enum MHD_Result r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	enum MHD_Result r = send_text(conn, status, s, len);
	json_object_put(o);
	return r;
}

static void log_failure(struct dp_server *srv, const char *path, unsigned status, const char *msg)
{
	if (!srv->cfg.quiet)
		fprintf(stderr, "strata docker-plugin: %s: %u: %s\n", path, status, msg);
}

static enum MHD_Result send_err(struct dp_server *srv, struct MHD_Connection *conn, const char *path, unsigned status,
				const struct st_error *err)
{
	const char *msg = err->msg[0] ? err->msg : strerror(err->code ? err->code : EIO);
	/* dockerd asks every volume plugin for a name before it creates or
	 * finds a volume: "no such volume" there is an answer, not a failure */
	if (!(err->code == ENOENT && !strcmp(path, "/VolumeDriver.Get")))
		log_failure(srv, path, status, msg);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "Err", json_object_new_string(msg));
	return send_json(conn, status, o);
}

/* The HTTP status of a handler's failure: bad input is the client's. */
static unsigned err_status(int rc)
{
	return rc == -EINVAL ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* --------------------------------------------------------------- pumps */

static struct dp_pump *pump_new(struct dp_server *srv, const struct dp_route *route, void *ctx)
{
	struct dp_pump *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (st_bytepipe_init(&p->pipe, DP_PIPE_CAP) < 0) {
		free(p);
		return NULL;
	}
	p->srv = srv;
	p->route = route;
	p->ctx = ctx;
	return p;
}

/* Cancel (a reader gone) or end (a writer gone) the pipe, join the thread,
 * give the handler its done and free it all. */
static void pump_free(struct dp_pump *p)
{
	if (!p)
		return;
	if (p->started)
		pthread_join(p->thread, NULL);
	const struct dp_route *rt = p->route;
	if (rt->stream)
		rt->stream->done(p->ctx);
	else
		rt->upload->done(p->ctx);
	if (p->reply)
		json_object_put(p->reply);
	st_bytepipe_destroy(&p->pipe);
	free(p->first);
	free(p);
}

static int pipe_write(void *ctx, const void *buf, size_t len)
{
	struct dp_pump *p = ctx;
	return st_bytepipe_write(&p->pipe, buf, len);
}

static ssize_t pipe_read(void *ctx, void *buf, size_t len)
{
	struct dp_pump *p = ctx;
	return st_bytepipe_read(&p->pipe, buf, len, NULL);
}

static void *produce_thread(void *arg)
{
	struct dp_pump *p = arg;
	struct st_writer w = {.write = pipe_write, .ctx = p};
	p->rc = p->route->stream->produce(p->ctx, &w, &p->err);
	st_bytepipe_close(&p->pipe, p->rc < 0 ? p->rc : 0, p->rc < 0 ? p->err.msg : NULL);
	return NULL;
}

static void *consume_thread(void *arg)
{
	struct dp_pump *p = arg;
	struct st_reader r = {.read = pipe_read, .ctx = p};
	p->rc = p->route->upload->consume(p->ctx, &r, &p->reply, &p->err);
	/* whatever the body still holds is not wanted: the writer stops */
	st_bytepipe_cancel(&p->pipe);
	return NULL;
}

static int pump_start(struct dp_pump *p, void *(*fn)(void *), struct st_error *err)
{
	int r = pthread_create(&p->thread, NULL, fn, p);
	if (r != 0)
		return st_error_set(err, r, "%s: start a thread", p->route->path + 1);
	p->started = true;
	return 0;
}

/* ------------------------------------------------------ streamed reply */

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct dp_pump *p = cls;
	if (p->first_off < p->first_len) {
		size_t n = p->first_len - p->first_off;
		if (n > max)
			n = max;
		memcpy(buf, p->first + p->first_off, n);
		p->first_off += n;
		return (ssize_t)n;
	}
	struct st_error e;
	ssize_t n = st_bytepipe_read(&p->pipe, buf, max, &e);
	if (n > 0)
		return n;
	if (n < 0) {
		/* a broken tar must not pass for a short one: the connection is
		 * cut, and Docker's reader sees an unexpected end */
		log_failure(p->srv, p->route->path, 200, e.msg[0] ? e.msg : strerror((int)-n));
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	return MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_free(void *cls)
{
	struct dp_pump *p = cls;
	st_bytepipe_cancel(&p->pipe);
	pump_free(p);
}

static enum MHD_Result serve_stream(struct dp_server *srv, struct MHD_Connection *conn, struct dp_conn *c,
				    json_object *req)
{
	const struct dp_route *rt = c->route;
	struct st_error err = {0};
	void *ctx = NULL;
	int r = rt->stream->prepare(srv, req, &ctx, &err);
	if (r < 0)
		return send_err(srv, conn, c->path, err_status(r), &err);
	struct dp_pump *p = pump_new(srv, rt, ctx);
	if (!p) {
		rt->stream->done(ctx);
		st_error_set(&err, ENOMEM, "%s", rt->path + 1);
		return send_err(srv, conn, c->path, 500, &err);
	}
	p->first = malloc(DP_CHUNK);
	if (!p->first || (r = pump_start(p, produce_thread, &err)) < 0) {
		if (!p->first)
			st_error_set(&err, ENOMEM, "%s", rt->path + 1);
		pump_free(p);
		return send_err(srv, conn, c->path, 500, &err);
	}
	/* a failure before the first byte is still a JSON Err */
	ssize_t n = st_bytepipe_read(&p->pipe, p->first, DP_CHUNK, &err);
	if (n < 0) {
		if (!err.msg[0])
			st_error_set(&err, (int)-n, "%s", rt->path + 1);
		st_bytepipe_cancel(&p->pipe);
		enum MHD_Result res = send_err(srv, conn, c->path, err_status((int)n), &err);
		pump_free(p);
		return res;
	}
	p->first_len = (size_t)n;
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, DP_CHUNK, stream_cb, p, stream_free);
	if (!resp) {
		stream_free(p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-tar");
	enum MHD_Result res = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return res;
}

/* ----------------------------------------------------- streamed upload */

static void upload_begin(struct dp_server *srv, struct MHD_Connection *conn, struct dp_conn *c)
{
	const struct dp_route *rt = c->route;
	struct dp_query q = {.conn = conn};
	void *ctx = NULL;
	int r = rt->upload->prepare(srv, &q, &ctx, &c->err);
	if (r < 0) {
		c->status = err_status(r);
		return;
	}
	if (!(c->upload = pump_new(srv, rt, ctx))) {
		rt->upload->done(ctx);
		st_error_set(&c->err, ENOMEM, "%s", rt->path + 1);
		c->status = 500;
		return;
	}
	if (pump_start(c->upload, consume_thread, &c->err) < 0) {
		pump_free(c->upload);
		c->upload = NULL;
		c->status = 500;
	}
}

static enum MHD_Result upload_finish(struct dp_server *srv, struct MHD_Connection *conn, struct dp_conn *c)
{
	struct dp_pump *p = c->upload;
	st_bytepipe_close(&p->pipe, 0, NULL);
	c->upload_ended = true;
	pthread_join(p->thread, NULL);
	p->started = false;
	enum MHD_Result res;
	if (p->rc < 0) {
		res = send_err(srv, conn, c->path, err_status(p->rc), &p->err);
	} else {
		json_object *reply = p->reply ? p->reply : json_object_new_object();
		p->reply = NULL;
		res = send_json(conn, MHD_HTTP_OK, reply);
	}
	pump_free(p);
	c->upload = NULL;
	return res;
}

/* ------------------------------------------------------------ requests */

static const struct dp_route *route_find(struct dp_server *srv, const char *url)
{
	const struct dp_route *tables[] = {srv->cfg.graph ? dp_graph_routes : NULL,
					   srv->cfg.volume ? dp_volume_routes : NULL};
	for (size_t t = 0; t < ST_ARRAY_SIZE(tables); t++)
		for (const struct dp_route *r = tables[t]; r && r->path; r++)
			if (!strcmp(r->path, url))
				return r;
	return NULL;
}

static enum MHD_Result activate(struct dp_server *srv, struct MHD_Connection *conn)
{
	json_object *impl = json_object_new_array();
	if (srv->cfg.graph)
		json_object_array_add(impl, json_object_new_string("GraphDriver"));
	if (srv->cfg.volume)
		json_object_array_add(impl, json_object_new_string("VolumeDriver"));
	json_object *o = json_object_new_object();
	json_object_object_add(o, "Implements", impl);
	return send_json(conn, MHD_HTTP_OK, o);
}

/* The JSON request: an empty body (or null) is {}; anything else must be
 * one object. */
static int parse_body(struct dp_conn *c, json_object **req, struct st_error *err)
{
	const char *text = c->body ? c->body : "";
	size_t skip = strspn(text, " \t\r\n");
	if (!text[skip] || !strcmp(text + skip, "null") || !strncmp(text + skip, "null\n", 5)) {
		*req = json_object_new_object();
		return 0;
	}
	if (strlen(text) != c->len)
		return st_error_fail(err, EINVAL, "%s: the request holds a NUL byte", c->path + 1);
	char what[160];
	snprintf(what, sizeof(what), "%s: request", c->path + 1);
	int r = st_json_parse(text, what, req, err);
	if (r < 0)
		return r;
	if (!json_object_is_type(*req, json_type_object)) {
		json_object_put(*req);
		*req = NULL;
		return st_error_fail(err, EINVAL, "%s: the request must be a JSON object", c->path + 1);
	}
	return 0;
}

static enum MHD_Result serve_json(struct dp_server *srv, struct MHD_Connection *conn, struct dp_conn *c)
{
	struct st_error err = {0};
	json_object *req = NULL, *reply = NULL;
	int r = parse_body(c, &req, &err);
	if (r < 0)
		return send_err(srv, conn, c->path, MHD_HTTP_BAD_REQUEST, &err);
	if (c->route->stream) {
		enum MHD_Result res = serve_stream(srv, conn, c, req);
		json_object_put(req);
		return res;
	}
	r = c->route->json(srv, req, &reply, &err);
	json_object_put(req);
	if (r < 0) {
		if (reply)
			json_object_put(reply);
		return send_err(srv, conn, c->path, err_status(r), &err);
	}
	return send_json(conn, MHD_HTTP_OK, reply ? reply : json_object_new_object());
}

static int body_add(struct dp_conn *c, const char *data, size_t n)
{
	if (c->len + n > DP_JSON_MAX)
		return -E2BIG;
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		while (cap < c->len + n + 1)
			cap *= 2;
		char *nb = realloc(c->body, cap);
		if (!nb)
			return -ENOMEM;
		c->body = nb;
		c->cap = cap;
	}
	memcpy(c->body + c->len, data, n);
	c->len += n;
	c->body[c->len] = '\0';
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct dp_server *srv = cls;
	struct dp_conn *c = *con_cls;
	if (!c) {
		if (!(c = calloc(1, sizeof(*c))))
			return MHD_NO;
		*con_cls = c;
		snprintf(c->path, sizeof(c->path), "%s", url);
		bool activate_call = !strcmp(url, "/Plugin.Activate");
		c->route = activate_call ? NULL : route_find(srv, url);
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
			c->status = MHD_HTTP_METHOD_NOT_ALLOWED;
			st_error_fail(&c->err, EINVAL, "%s: method %s not allowed (the plugin protocol uses POST)",
				      url, method);
		} else if (!c->route && !activate_call) {
			c->status = MHD_HTTP_NOT_FOUND;
			st_error_fail(&c->err, ENOENT, "%s: unknown plugin call (the plugin serves %s%s%s)", url,
				      srv->cfg.graph ? "GraphDriver" : "", srv->cfg.graph && srv->cfg.volume ? " and " : "",
				      srv->cfg.volume ? "VolumeDriver" : "");
		} else if (c->route && c->route->upload) {
			upload_begin(srv, conn, c);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (c->status)
			return MHD_YES; /* already failed: the rest of the body is dropped */
		if (c->upload) {
			/* -ECANCELED: the consumer ended early (its error is the reply) */
			st_bytepipe_write(&c->upload->pipe, upload_data, n);
			return MHD_YES;
		}
		int r = body_add(c, upload_data, n);
		if (r < 0) {
			c->status = r == -E2BIG ? MHD_HTTP_CONTENT_TOO_LARGE : 500;
			st_error_fail(&c->err, -r, "%s: %s", url,
				      r == -E2BIG ? "the request is larger than 1 MiB" : strerror(-r));
		}
		return MHD_YES;
	}
	if (c->status)
		return send_err(srv, conn, c->path, (unsigned)c->status, &c->err);
	if (!c->route)
		return activate(srv, conn);
	if (c->upload)
		return upload_finish(srv, conn, c);
	return serve_json(srv, conn, c);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct dp_conn *c = *con_cls;
	if (!c)
		return;
	if (c->upload) {
		/* the client went away mid-body: the consumer must fail, not
		 * take a cut tar for a whole one */
		st_bytepipe_close(&c->upload->pipe, -ECONNABORTED, "the client closed the connection before the end of the body");
		pump_free(c->upload);
	}
	free(c->body);
	free(c);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct dp_server *srv = cls;
	if (srv->cfg.quiet)
		return;
	fputs("strata docker-plugin: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}

int dp_http_start(struct dp_server *srv, int listen_fd, struct dp_http **out, struct st_error *err)
{
	struct dp_http *h = calloc(1, sizeof(*h));
	if (!h)
		return st_error_set(err, ENOMEM, "http server");
	h->srv = srv;
	h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
				     0, NULL, NULL, on_request, srv,
				     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
				     MHD_OPTION_LISTEN_SOCKET, listen_fd,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
				     MHD_OPTION_CONNECTION_LIMIT, 512u,
				     MHD_OPTION_CONNECTION_TIMEOUT, 0u,
				     MHD_OPTION_END);
	if (!h->daemon) {
		free(h);
		return st_error_fail(err, EIO, "http server: libmicrohttpd would not start on the socket");
	}
	*out = h;
	return 0;
}

void dp_http_stop(struct dp_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	free(h);
}
