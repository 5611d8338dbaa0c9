/* strata system check [--repair].
 *
 * A scan compares every part of the store with what it names: the driver's
 * per-layer records with the driver's data, child links and mount counts
 * (and those with /proc/self/mountinfo); layer records with their driver
 * layers, parents and holders; images, tags, containers and build cache
 * entries with the layers they need; volumes' users with the containers.
 * Each problem carries its repair. With repair, rounds of "repair, scan
 * again" run until the scan is clean (or stops improving).
 *
 * Work of live processes is never a problem: anything a live lease claims
 * (driver layers being made, layers being read, holders "lease:NAME") and
 * anything whose lock is held is left alone; the store lock is held for the
 * whole check, so nothing is published or removed meanwhile.
 *
 * This file: the problems, the scan and the rounds of repair; the scans are
 * check_store.c and check_objects.c, the repairs check_repair.c. */
#include <fcntl.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"
#include "container/container.h"
#include "builder/builder.h"
#include "system/system.h"
#include "check_int.h"

/* -------------------------------------------------------------- scan */

static void ck_free(struct ck *c)
{
	free(c->v);
	st_layer_list_free(c->layers, c->nlayers);
	st_strv_free(c->drv, c->ndrv);
	st_cache_entries_free(c->cache, c->ncache);
	memset(c, 0, sizeof(*c));
}

static int scan(struct ck *c, struct st_error *err)
{
	/* driver records before leases: a layer made meanwhile was claimed
	 * before it was created, so its claim is seen */
	int r = st_drv_record_ids(c->d, "layers", &c->drv, &c->ndrv, err);
	if (r < 0)
		return r;
	if ((r = st_layer_list(c->s, &c->layers, &c->nlayers, err)) < 0 ||
	    (r = st_cache_list(c->s, &c->cache, &c->ncache, err)) < 0)
		return r;
	c->live = st_lease_count_alive(c->s);
	struct st_container *cts = NULL;
	size_t ncts = 0;
	if ((r = st_container_list(c->s, &cts, &ncts, err)) < 0)
		return r;
	ck_scan_leases(c);
	ck_scan_driver_records(c);
	ck_scan_mounts(c);
	ck_scan_layers(c);
	ck_scan_orphans(c);
	ck_scan_images(c);
	ck_scan_containers(c, cts, ncts);
	ck_scan_cache(c);
	ck_scan_volumes(c, cts, ncts);
	st_container_list_free(cts, ncts);
	return c->oom ? st_error_set(err, ENOMEM, "system check") : 0;
}

static bool same(const struct st_check_problem *a, const struct st_check_problem *b)
{
	return strcmp(a->what, b->what) == 0 && strcmp(a->msg, b->msg) == 0;
}

static int report_add(struct st_check_report *rep, const struct st_check_problem *p)
{
	struct st_check_problem *nv = realloc(rep->v, (rep->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	rep->v = nv;
	rep->v[rep->n++] = *p;
	return 0;
}

void st_check_report_free(struct st_check_report *rep)
{
	if (rep) {
		free(rep->v);
		memset(rep, 0, sizeof(*rep));
	}
}

/* A scan sees running operations between two of their steps now and then
 * (a container directory renamed for removal whose lease just ended, a
 * layer record not yet written): such states pass within moments, what a
 * killed operation left stays. So what a scan finds is looked at again a
 * moment later, with the store lock let go meanwhile (the operations may
 * need it to finish), and only what both looks found counts. */
static int scan_settled(struct ck *c, struct st_error *err)
{
	int r = scan(c, err);
	for (int look = 0; r >= 0 && c->n > 0 && look < 2; look++) {
		struct ck again = {.s = c->s, .d = c->d};
		st_store_unlock(c->s);
		struct timespec ts = {0, 200000000};
		nanosleep(&ts, NULL);
		if ((r = st_store_lock(c->s, err)) < 0)
			break;
		if ((r = scan(&again, err)) < 0) {
			ck_free(&again);
			break;
		}
		size_t k = 0;
		for (size_t i = 0; i < again.n; i++) {
			bool before = false;
			for (size_t j = 0; j < c->n && !before; j++)
				before = same(&again.v[i], &c->v[j]);
			if (before)
				again.v[k++] = again.v[i];
		}
		bool settled = k == c->n;
		again.n = k;
		ck_free(c);
		*c = again;
		if (settled)
			break;
	}
	return r;
}

int st_store_check(struct st_store *s, bool repair, struct st_check_report *rep, struct st_error *err)
{
	memset(rep, 0, sizeof(*rep));
	int r = st_store_lock(s, err);
	if (r < 0)
		return r;
	struct ck c = {.s = s, .d = s->driver};
	if ((r = scan_settled(&c, err)) < 0)
		goto out;
	rep->layers = c.nlayers;
	rep->driver_layers = c.ndrv;
	rep->images = c.nimages;
	rep->containers = c.ncontainers;
	rep->cache_entries = c.ncache;
	rep->volumes = c.nvolumes;
	rep->live_leases = c.live;
	for (size_t i = 0; i < c.n && r >= 0; i++)
		r = report_add(rep, &c.v[i]);
	for (int round = 0; repair && r >= 0 && c.n > 0 && round < 4; round++) {
		ck_apply(&c, c.v, c.n);
		/* what the repairs did goes back into the report */
		for (size_t i = 0; i < c.n; i++)
			for (size_t k = 0; k < rep->n; k++)
				if (same(&rep->v[k], &c.v[i]) && rep->v[k].state != ST_CHECK_REPAIRED) {
					rep->v[k].state = c.v[i].state;
					snprintf(rep->v[k].result, sizeof(rep->v[k].result), "%s", c.v[i].result);
				}
		ck_free(&c);
		c.s = s;
		c.d = s->driver;
		if ((r = scan_settled(&c, err)) < 0)
			break;
		for (size_t i = 0; i < c.n && r >= 0; i++) {
			bool known = false;
			for (size_t k = 0; k < rep->n && !known; k++)
				known = same(&rep->v[k], &c.v[i]);
			if (!known)
				r = report_add(rep, &c.v[i]);
		}
	}
	if (r >= 0)
		rep->remaining = c.n;
	if (r >= 0 && repair) {
		/* a repair that did not hold */
		for (size_t i = 0; i < c.n; i++)
			for (size_t k = 0; k < rep->n; k++)
				if (same(&rep->v[k], &c.v[i]) && rep->v[k].state == ST_CHECK_REPAIRED) {
					rep->v[k].state = ST_CHECK_FAILED;
					snprintf(rep->v[k].result, sizeof(rep->v[k].result), "still found after the repair");
				}
	}
	if (r == -ENOMEM)
		st_error_set(err, ENOMEM, "system check");
out:
	ck_free(&c);
	st_store_unlock(s);
	return r < 0 ? r : 0;
}
