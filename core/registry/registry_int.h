/* Internals of the registry client, one file per job:
 *   registry_ref.c       references, hosts, docker's defaults
 *   registry_auth.c      credentials file, WWW-Authenticate challenges, tokens
 *   registry_http.c      the HTTP client (libcurl): endpoint, TLS, auth, errors
 *   registry_manifest.c  manifests: fetch and resolve to a platform, build, put
 *   registry_blob.c      blobs: resumable download, HEAD, mount, upload
 *   registry_meta.c      which registry blobs hold which layers (diff ids)
 *   registry_pull.c, registry_push.c   the two operations */
#ifndef ST_REGISTRY_INT_H
#define ST_REGISTRY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "image/image.h"
#include "registry/registry.h"

#define REG_DOCKER_DOMAIN "docker.io"
#define REG_DOCKER_API_HOST "registry-1.docker.io"
#define REG_DOCKER_AUTH_KEY "https://index.docker.io/v1/"
#define REG_JSON_MAX (16u << 20) /* manifests, configs, error bodies kept */

/* ------------------------------------------------------------ references */

struct reg_ref {
	char domain[256];               /* "docker.io", "127.0.0.1:5000" */
	char repo[256];                 /* "library/busybox" */
	char tag[129];                  /* "" when only a digest was given */
	char digest[ST_DIGEST_LEN + 1]; /* "" unless @sha256:... */
};

/* Docker's grammar; a missing tag and digest mean "latest". */
int reg_ref_parse(const char *s, struct reg_ref *r, struct st_error *err);
/* docker's familiar name without tag: "busybox", "me/app", "host:5000/app" */
void reg_ref_familiar_name(const struct reg_ref *r, char *out, size_t len);
/* "domain/repo:tag" or "domain/repo@digest" */
void reg_ref_canonical(const struct reg_ref *r, char *out, size_t len);
/* "https://index.docker.io/v1/", "docker.io", "host:5000/" -> the domain */
int reg_host_normalize(const char *in, char *out, size_t len, struct st_error *err);
/* Where the API is served: registry-1.docker.io for docker.io. */
const char *reg_api_host(const char *domain);
/* Docker's default insecure registries: localhost and loopback addresses. */
bool reg_host_is_loopback(const char *domain);

/* ------------------------------------ credentials (registry_creds.c) */

int reg_auth_path(const char *override, char *out, size_t len, struct st_error *err);
/* 0 and malloc'd user/pass, -ENOENT when none is stored. */
int reg_creds_get(const char *auth_file, const char *domain, char **user, char **pass, struct st_error *err);
int reg_creds_set(const char *auth_file, const char *domain, const char *user, const char *pass,
		  struct st_error *err);
int reg_creds_remove(const char *auth_file, const char *domain, struct st_error *err);
/* base64("user:pass"), malloc'd; NULL when out of memory. */
char *reg_encode_auth(const char *user, const char *pass);

/* A WWW-Authenticate challenge (RFC 7235): the Bearer one when offered,
 * else Basic. */
struct reg_challenge {
	char scheme[16]; /* "bearer", "basic" (lowercase) or "" */
	char *realm, *service, *scope;
};
int reg_challenge_parse(const char *header, struct reg_challenge *c);
void reg_challenge_free(struct reg_challenge *c);

/* ---------------------------------------------------------------- client */

struct reg_client {
	char domain[256];  /* as in the reference */
	char base[300];    /* "https://registry-1.docker.io" once reached */
	bool verify;       /* TLS certificates are checked */
	bool loopback;     /* may fall back to plain http */
	char *user, *pass; /* stored credentials, if any */
	struct reg_challenge ch;
	char *token;       /* Bearer token for scopes */
	char **scopes;     /* "repository:NAME:pull,push" */
	size_t nscopes;
	bool sent_basic;   /* a 401 after sending these means wrong ones */
	pthread_mutex_t mu;
	void *share;       /* CURLSH: connections, DNS and TLS sessions shared */
	pthread_mutex_t share_mu[8];
	volatile int cancel; /* set: every transfer stops */
};

/* Reach the registry (GET /v2/): the scheme, the challenge, the stored
 * credentials. A registry that answers nothing or not as a registry is an
 * error naming it. */
int reg_client_open(struct reg_client *c, const char *domain, const struct st_reg_opts *o, struct st_error *err);
void reg_client_close(struct reg_client *c);
/* Ask for access to a repository ("pull" or "pull,push") with the next token. */
int reg_client_scope(struct reg_client *c, const char *repo, const char *actions);
/* Get the token for the scopes now (or check basic credentials). */
int reg_client_authorize(struct reg_client *c, struct st_error *err);

struct reg_req {
	const char *method;        /* GET HEAD POST PUT PATCH DELETE */
	const char *url;           /* absolute, or a path under base ("/v2/...") */
	const char *accept;        /* Accept header (may be NULL) */
	const char *content_type;  /* for a body */
	const void *body;          /* in-memory body */
	size_t body_len;
	struct st_reader *body_reader; /* streamed body (chunked), not retried */
	struct st_writer *sink;    /* a 2xx body goes here instead of memory */
	int64_t range_from;        /* > 0: Range: bytes=N- */
	bool follow;               /* follow redirects (blob downloads) */
	size_t max_body;           /* memory body limit (0: REG_JSON_MAX) */
};

struct reg_resp {
	long status;
	char *body;                /* non-sink body, NUL-terminated */
	size_t body_len;
	char *location;            /* absolute (resolved against the request) */
	char *content_type;
	char *docker_digest;       /* Docker-Content-Digest */
	char *www_auth;
	int64_t content_length;    /* -1 unknown */
	int sink_error;            /* the sink's failure, if it failed */
};
void reg_resp_free(struct reg_resp *r);

/* One request, authorised (a 401 renews the token or says the credentials
 * are wrong, then the request is repeated once unless its body was a
 * stream). Transport failures are errors; any HTTP status is returned in
 * resp (reg_http_error turns one into a message). */
int reg_do(struct reg_client *c, const struct reg_req *q, struct reg_resp *resp, struct st_error *err);
/* The request as it is, with authorization (a header value) or none;
 * no retry (token requests, the ping). */
int reg_perform(struct reg_client *c, const struct reg_req *q, const char *authorization, struct reg_resp *resp,
		struct st_error *err);
/* The Authorization value for the next request (malloc'd), or NULL. */
char *reg_auth_header(struct reg_client *c);
/* Answer a 401's challenge: a new token, or the verdict that the
 * credentials (used: the header that was sent) are missing or wrong. */
int reg_auth_renew(struct reg_client *c, const char *www_auth, const char *used, struct st_error *err);
/* The registry's own words for a failed response ("unauthorized:
 * authentication required", "manifest unknown") with the status. */
int reg_http_error(struct reg_client *c, const struct reg_resp *resp, const char *what, struct st_error *err);
/* path ("/v2/REPO/blobs/uploads/") or absolute URL -> absolute URL */
char *reg_url(struct reg_client *c, const char *path_or_url);
/* url with "key=value" (value URL-encoded) added to its query */
char *reg_url_add_query(const char *url, const char *key, const char *value);
/* Should a failure of this kind be retried (connection lost, 5xx)? */
bool reg_transient(int code);

/* ------------------------------------------------------------- manifests */

struct reg_manifest {
	char digest[ST_DIGEST_LEN + 1];     /* of the image manifest */
	char top_digest[ST_DIGEST_LEN + 1]; /* what the reference names (an index or the manifest) */
	char media_type[128];
	struct st_desc config;
	struct st_desc *layers;
	size_t nlayers;
};
void reg_manifest_free(struct reg_manifest *m);
/* Fetch by tag or digest; an index is resolved to the platform. Every
 * document is checked against its digest. */
int reg_manifest_resolve(struct reg_client *c, const struct reg_ref *ref, const struct st_platform *p,
			 struct reg_manifest *m, struct st_error *err);
/* A schema 2 (oci false) or OCI image manifest, compact JSON. */
int reg_manifest_build(bool oci, const struct st_desc *config, const struct st_desc *layers, size_t n, char **text,
		       size_t *len, struct st_error *err);
int reg_manifest_put(struct reg_client *c, const char *repo, const char *tag, const char *media_type,
		     const char *text, size_t len, char digest[ST_DIGEST_LEN + 1], struct st_error *err);

/* ----------------------------------------------------------------- blobs */

typedef void (*reg_bytes_fn)(void *ctx, int64_t bytes);

/* GET a blob into out. A broken transfer is resumed where it stopped
 * (Range), a few times; out sees every byte exactly once. */
int reg_blob_get(struct reg_client *c, const char *repo, const char *digest, struct st_writer *out,
		 reg_bytes_fn progress, void *pctx, struct st_error *err);
/* A small blob in memory, checked against its descriptor. */
int reg_blob_get_small(struct reg_client *c, const char *repo, const struct st_desc *d, char **buf, size_t *len,
		       struct st_error *err);
/* 1 (size set) when the repository has it, 0 when not. */
int reg_blob_exists(struct reg_client *c, const char *repo, const char *digest, int64_t *size, struct st_error *err);
/* Cross-repository mount: 1 when mounted; 0 when the registry started an
 * upload instead (url receives where to send it). */
int reg_blob_mount(struct reg_client *c, const char *repo, const char *digest, const char *from, char **url,
		   struct st_error *err);
/* POST .../blobs/uploads/: where to send the bytes. */
int reg_upload_start(struct reg_client *c, const char *repo, char **url, struct st_error *err);
/* PATCH the stream (chunked); *url is replaced by the next location. */
int reg_upload_stream(struct reg_client *c, char **url, struct st_reader *body, struct st_error *err);
/* PUT ?digest=: completes the upload (data: a last piece, may be NULL). */
int reg_upload_finish(struct reg_client *c, const char *url, const char *digest, const void *data, size_t len,
		      struct st_error *err);

/* -------------------------------------------------- layer <-> blob records */

/* <root>/distribution/<diff id hex>.json: the registry blobs known to hold
 * a layer, with their compression and where they were seen. */
struct reg_blob_rec {
	char digest[ST_DIGEST_LEN + 1];
	char media_type[128];
	int64_t size;
	char **sources; /* "domain/repo" */
	size_t nsources;
};
void reg_blob_recs_free(struct reg_blob_rec *v, size_t n);
int reg_meta_lookup(struct st_store *s, const char *diff_id, struct reg_blob_rec **out, size_t *n,
		    struct st_error *err);
int reg_meta_record(struct st_store *s, const char *diff_id, const struct st_desc *blob, const char *source,
		    struct st_error *err);

/* -------------------------------------------------------------- progress */

struct reg_progress {
	st_reg_progress_fn fn;
	void *ctx;
	pthread_mutex_t mu;
};
void reg_progress_init(struct reg_progress *p, const struct st_reg_opts *o);
void reg_progress_destroy(struct reg_progress *p);
void reg_progress(struct reg_progress *p, const char *id, const char *status, int64_t current, int64_t total);
/* "sha256:0123456789abcdef..." -> "0123456789ab" */
void reg_short_id(const char *digest, char out[13]);

#endif
