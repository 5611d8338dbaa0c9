/* strata system df and strata system prune: what the store's images,
 * containers, volumes, layers and build cache take, and removing what
 * nothing uses (Docker's semantics). */
#ifndef ST_SYSTEM_H
#define ST_SYSTEM_H

#include <stdbool.h>
#include <stdint.h>

#include "strata.h"

struct st_df_row {
	int64_t total;       /* how many */
	int64_t active;      /* in use (by a container, an image, a running one...) */
	int64_t size;        /* bytes (shared layers counted once) */
	int64_t reclaimable; /* bytes `system prune -a` (--volumes) would free */
};

struct st_df {
	struct st_df_row images;     /* active: used by a container; size: their layers */
	struct st_df_row containers; /* active: running; size: their writable layers */
	struct st_df_row volumes;    /* active: mounted or named by a container */
	struct st_df_row layers;     /* active: under an image, a container, a user or a running operation */
	struct st_df_row cache;      /* active: its layer is an image's; size: layers only the cache holds */
};

int st_system_df(struct st_store *s, struct st_df *out, struct st_error *err);

struct st_prune_opts {
	bool all;     /* every image no container uses, and all build cache */
	bool volumes; /* also volumes nothing uses */
};

struct st_prune_result {
	char **containers; /* ids */
	size_t ncontainers;
	char **images;     /* "untagged: name:tag", "deleted: sha256:..." */
	size_t nimages;
	char **cache;      /* build cache keys */
	size_t ncache;
	char **volumes;    /* names */
	size_t nvolumes;
	int64_t reclaimed; /* bytes freed */
};

/* Stopped containers, then dangling images (no tag, no container; with all:
 * every image no container uses), then build cache whose layers no image
 * uses (with all: every entry), then with volumes the unused volumes. Goes
 * on past a failure (returned at the end, as the first error). */
int st_system_prune(struct st_store *s, const struct st_prune_opts *o, struct st_prune_result *res,
		    struct st_error *err);
void st_prune_result_free(struct st_prune_result *res);

#endif
