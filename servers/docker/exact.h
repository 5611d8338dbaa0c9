/* Exact diffs of layers filled by ApplyDiff (see exact.c). */
#ifndef DP_EXACT_H
#define DP_EXACT_H

#include "dp.h"

struct st_tarsplit;

/* The record being written while layer ID is applied: ".applying-ID". */
#define DP_APPLYING ".applying-"

/* A record being written while a tar is applied. */
struct dp_exact {
	int dfd, fd;
	char name[200], tmp[240];
	struct st_tarsplit *ts;   /* for the apply's st_tar_in */
};

int dp_exact_begin(struct dp_exact *x, struct st_store *s, const char *plugin, const char *docker_id,
		   struct st_error *err);
/* The apply succeeded: the record replaces any earlier one. */
int dp_exact_commit(struct dp_exact *x, struct st_error *err);
/* The apply failed (or after commit): nothing of the temporary is left. */
void dp_exact_abort(struct dp_exact *x);
/* The record's fd, or -ENOENT when the layer has none. */
int dp_exact_open(struct st_store *s, const char *plugin, const char *docker_id, struct st_error *err);
int dp_exact_forget(struct st_store *s, const char *plugin, const char *docker_id, struct st_error *err);
/* Is an ApplyDiff of the layer running (or was one killed)? */
bool dp_exact_applying(struct st_store *s, const char *plugin, const char *docker_id);
/* What killed applies left, and records of layers that are gone. */
void dp_exact_sweep(struct st_store *s, const char *plugin);

#endif
