/* The image builder: a Dockerfile in, one layer per filesystem instruction,
 * metadata instructions as empty-layer history entries, a build cache shared
 * by every image built in the store. */
#ifndef ST_BUILD_H
#define ST_BUILD_H

#include <stdio.h>

#include <json-c/json.h>

#include "strata.h"

struct st_build_opts {
	const char *context;      /* the build context directory */
	const char *dockerfile;   /* default <context>/Dockerfile */
	char **tags;              /* NAME[:TAG] */
	size_t ntags;
	bool no_cache;
	const struct st_kvlist *build_args;
	const char *target;       /* stage name to stop at */
	bool network_none;        /* RUN without network (default: host network) */
	const char *runtime;      /* OCI runtime, default runc */
	FILE *out;                /* progress in the classic style; NULL for none */
};

int st_build(struct st_store *s, const struct st_build_opts *o, char id[ST_DIGEST_LEN + 1],
	     struct st_error *err);

/* ---- internal: shared by build.c, copy.c and cache.c ---- */

struct st_build_state {
	json_object *cfg;                /* the image config so far */
	char top[ST_DIGEST_LEN + 1];     /* top layer chain id, "" for none */
	char id[ST_DIGEST_LEN + 1];      /* sha256 of the config text */
};

/* The config text of a state (canonical bytes: the image id hashes them). */
const char *st_state_text(const struct st_build_state *st, size_t *len);
void st_state_seal(struct st_build_state *st);

/* The build cache: key -> resulting state. An entry holds its top layer
 * with holder "cache:<key hex>". */
int st_cache_key(const struct st_build_state *parent, const char *instruction, const char *extra,
		 char key[ST_DIGEST_LEN + 1]);
/* 1 and the state on a hit, 0 on a miss. */
int st_cache_get(struct st_store *s, const char *key, struct st_build_state *out, struct st_error *err);
int st_cache_put(struct st_store *s, const char *key, const struct st_build_state *st, struct st_error *err);

/* The entries (for system df/prune/check). */
struct st_cache_entry {
	char key[ST_DIGEST_LEN + 1];  /* "sha256:<hex>" */
	char top[ST_DIGEST_LEN + 1];  /* its top layer, "" for none */
	int64_t created;              /* unix seconds (the entry's mtime) */
	bool damaged;                 /* unreadable or invalid */
};
int st_cache_list(struct st_store *s, struct st_cache_entry **out, size_t *n, struct st_error *err);
void st_cache_entries_free(struct st_cache_entry *v, size_t n);
/* Remove an entry and release its layer. */
int st_cache_drop(struct st_store *s, const char *key, struct st_error *err);
/* Holders "cache:<key hex>" (an entry holds its top layer); registered by
 * st_store_open. */
extern const struct st_holder_kind st_cache_holders;

/* COPY/ADD of sources into the mounted root filesystem `rootfd`. */
struct st_copy_src {
	int basefd;       /* the context directory, or another stage's root */
	bool is_context;  /* .dockerignore applies */
	const void *ignore; /* struct st_dockerignore * or NULL */
};

struct st_copy_req {
	char **srcs;      /* expanded source patterns, relative to basefd */
	size_t nsrcs;
	const char *dest; /* absolute in the image (workdir already applied) */
	bool dest_is_dir; /* dest ended with '/' */
	bool chown;       /* uid/gid below apply */
	uid_t uid;
	gid_t gid;
	bool chmod;
	mode_t mode;
	bool add;         /* ADD: unpack local archives */
};

/* The files the sources name, digested (content and metadata) for the
 * cache key; fails when a source is missing or outside the base. */
int st_copy_digest(const struct st_copy_src *src, const struct st_copy_req *req, char digest[ST_DIGEST_LEN + 1],
		   struct st_error *err);
int st_copy_run(const struct st_copy_src *src, const struct st_copy_req *req, int rootfd, struct st_error *err);

#endif
