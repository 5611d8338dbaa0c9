/* Leases: what a running operation holds without writing it into the
 * layers' metadata. A lease is <root>/leases/NAME.json (the claims) and
 * NAME.lock (flocked by its process for as long as it lives). A lease whose
 * lock can be taken belongs to a dead process: its driver layers are
 * removed and its claims dropped. */
#ifndef ST_LEASE_H
#define ST_LEASE_H

#include "store.h"

struct st_lease {
	struct st_store *s;
	char name[40];
	int lock_fd;
	char **layers;        /* chain ids kept alive */
	size_t nlayers;
	char **driver_layers; /* driver layer ids to remove if the process dies */
	size_t ndriver_layers;
};

int st_lease_new(struct st_store *s, struct st_lease *l, struct st_error *err);
/* Each add is written (fsynced) before it returns. */
int st_lease_add_layer(struct st_lease *l, const char *chain_id, struct st_error *err);
int st_lease_add_driver_layer(struct st_lease *l, const char *id, struct st_error *err);
int st_lease_drop_driver_layer(struct st_lease *l, const char *id, struct st_error *err);
/* End the lease: its files go, unless a driver layer it claims is still
 * there and nobody else's (its removal failed: a full disk, a busy mount),
 * in which case it is left as if its process had died, for the next
 * open's sweep. */
void st_lease_end(struct st_lease *l);
/* End it leaving its files: for when the cleanup itself failed (a holder
 * that could not be released); the next open sweeps it. */
void st_lease_abandon(struct st_lease *l);
/* "lease:NAME": a layer holder that dies with the lease (swept with it). */
void st_lease_holder(const struct st_lease *l, char *buf, size_t len);
/* A scratch directory <root>/tmp/<lease>-<tag> that goes with the lease
 * when its process dies (st_lease_sweep). */
void st_lease_scratch(const struct st_lease *l, const char *tag, char *buf, size_t len);

/* Is chain_id claimed by a live lease? (caller holds the store lock) */
bool st_lease_holds(struct st_store *s, const char *chain_id);
/* Is driver layer id claimed by a live lease (an operation still making
 * it)? (caller holds the store lock) */
bool st_lease_claims_driver_layer(struct st_store *s, const char *id);
/* Is lease NAME held by a live process? */
bool st_lease_alive(struct st_store *s, const char *name);
/* How many leases live processes hold (operations running now). */
int st_lease_count_alive(struct st_store *s);
/* Remove dead leases and their driver layers (caller holds the store lock). */
int st_lease_sweep(struct st_store *s, struct st_error *err);

#endif
