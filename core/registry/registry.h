/* Images to and from registries that speak the OCI distribution protocol
 * (Docker's registry API v2): pull, push, login, logout.
 *
 * References are parsed as docker parses them: [HOST[:PORT]/]REPO[:TAG]
 * [@sha256:HEX], with docker.io and library/ as the defaults. A pulled
 * image is tagged locally with docker's familiar name ("busybox:latest",
 * "127.0.0.1:5000/app:1"); push looks the image up by the same name.
 *
 * Credentials live in a file of mode 0600 in docker's config.json format
 * ({"auths": {"HOST": {"auth": base64("user:pass")}}}): $STRATA_AUTH_FILE,
 * else $XDG_CONFIG_HOME/strata/auth.json, else $HOME/.config/strata/
 * auth.json. Entries of docker's own config.json ($DOCKER_CONFIG or
 * ~/.docker) are read when strata's file has none for the host. Either file
 * may name credential helpers as docker's does (credHelpers per host, else
 * credsStore: docker-credential-NAME get|store|erase); login and logout use
 * the helper strata's file names. */
#ifndef ST_REGISTRY_H
#define ST_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "strata.h"

/* Progress, one event per change: id is a layer's short digest (12 hex)
 * or NULL for a line about the whole image; status a short phrase
 * ("Downloading", "Pull complete", "Layer already exists"); current and
 * total are bytes (total -1 when unknown, both 0 when not a transfer).
 * Calls come from several threads, one at a time. */
struct st_reg_event {
	const char *id;
	const char *status;
	int64_t current, total;
};
typedef void (*st_reg_progress_fn)(void *ctx, const struct st_reg_event *ev);

enum st_reg_format { ST_REG_FORMAT_DEFAULT, ST_REG_FORMAT_DOCKER, ST_REG_FORMAT_OCI };
enum st_reg_compression { ST_REG_GZIP, ST_REG_ZSTD };

struct st_reg_opts {
	/* TLS: verify certificates (default) unless tls_verify_set and false.
	 * Loopback registries (localhost, 127.0.0.0/8, ::1) are docker's
	 * default insecure registries: https without verification, then
	 * plain http. */
	bool tls_verify_set;
	bool tls_verify;
	const char *auth_file;      /* NULL: the default above */
	const char *platform;       /* pull: "os/arch[/variant]", NULL: this machine */
	enum st_reg_format format;  /* push: docker schema 2 (default) or OCI */
	enum st_reg_compression compression; /* push: gzip (default) or zstd (OCI only) */
	int parallel;               /* layers transferred at once (0: 3) */
	st_reg_progress_fn progress;
	void *progress_ctx;
};

struct st_pull_result {
	char id[ST_DIGEST_LEN + 1];     /* the image id (config digest) */
	char digest[ST_DIGEST_LEN + 1]; /* what the reference resolved to (an index's digest for a list) */
	char name[320];                 /* the local tag ("" when pulled by digest) */
	char canonical[640];            /* "127.0.0.1:5000/app:1" or ...@sha256: */
	int layers_pulled, layers_present;
	bool up_to_date;                /* the image was here already */
};

int st_registry_pull(struct st_store *s, const char *ref, const struct st_reg_opts *o,
		     struct st_pull_result *res, struct st_error *err);

struct st_push_result {
	char digest[ST_DIGEST_LEN + 1]; /* of the manifest pushed */
	int64_t size;                   /* its bytes */
	char tag[130];
	int layers_pushed, layers_existing, layers_mounted;
};

/* Push the local image named ref. */
int st_registry_push(struct st_store *s, const char *ref, const struct st_reg_opts *o,
		     struct st_push_result *res, struct st_error *err);

/* Check the credentials against the registry, then store them. host as
 * docker takes it ("127.0.0.1:5000", "docker.io", "https://host/"). */
int st_registry_login(const char *host, const char *user, const char *password, const struct st_reg_opts *o,
		      struct st_error *err);
/* Forget the host's credentials; -ENOENT when there were none. */
int st_registry_logout(const char *host, const struct st_reg_opts *o, struct st_error *err);
/* The credentials file used (for messages). */
int st_registry_auth_file(const struct st_reg_opts *o, char *out, size_t len, struct st_error *err);

#endif
