/* core/system: the whole store, above every other part of core: opening
 * it with every holder kind registered (open.c), system check and repair
 * (check*.c), system df and prune (system.c). */
#ifndef ST_SYSTEM_H
#define ST_SYSTEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata.h"

/* ----------------------------------------------- system check (check*.c) */

/* strata system check: the whole store verified against itself (layer
 * records against driver layers, holders against what they name, images,
 * containers, build cache, volumes' users, mounts against mountinfo) and,
 * with repair, put right without touching what live operations use. */
enum st_check_state {
	ST_CHECK_FOUND,      /* found (no repair asked) */
	ST_CHECK_REPAIRED,   /* put right */
	ST_CHECK_FAILED,     /* the repair failed: result says why */
	ST_CHECK_MANUAL,     /* cannot be repaired here: result says what to do */
};

struct st_check_problem {
	char what[200];      /* the object: "layer sha256:...", "driver layer ID", ... */
	char msg[600];       /* what is wrong with it */
	char result[600];    /* the repair done, or why not */
	enum st_check_state state;
	/* the repair (internal) */
	int fix;
	char a[320], b[320];
};

struct st_check_report {
	struct st_check_problem *v; /* problems found (first scan, then new ones of later rounds) */
	size_t n;
	size_t remaining;           /* problems a final scan still finds (repair only) */
	/* what was looked at */
	size_t layers, driver_layers, images, containers, cache_entries, volumes;
	int live_leases;            /* operations running meanwhile (their work is left alone) */
};

/* Check the store; with repair, fix what can be fixed (rounds of repair and
 * rescan). Holds the store lock throughout. Returns 0 when the check ran
 * (whatever it found), a negative errno when it could not. */
int st_store_check(struct st_store *s, bool repair, struct st_check_report *rep, struct st_error *err);
void st_check_report_free(struct st_check_report *rep);

/* ----------------------------------------------- df and prune (system.c) */

/* strata system df and strata system prune: what the store's images,
 * containers, volumes, layers and build cache take, and removing what
 * nothing uses (Docker's semantics). */
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
