/* strata system check: the whole store verified against itself (layer
 * records against driver layers, holders against what they name, images,
 * containers, build cache, volumes' users, mounts against mountinfo) and,
 * with repair, put right without touching what live operations use. */
#ifndef ST_STORE_CHECK_H
#define ST_STORE_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "strata.h"

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

#endif
