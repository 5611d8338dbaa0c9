/* sha256 on a helper thread, over buffers the ring owns: the producer takes
 * a free buffer, fills it, submits it, and may go on reading the buffer (a
 * parser working on it) while the helper hashes. A buffer comes back to the
 * producer `nbufs` submissions later, once hashed. Used where a stream is
 * both hashed and consumed (layer tars: the DiffID while applying), so the
 * hashing runs on a second core. Without a thread (pthread_create failed)
 * it hashes in submit. */
#ifndef ST_HASHRING_H
#define ST_HASHRING_H

#include <stddef.h>

#include "strata.h"

struct st_hashring;

/* nbufs >= 2 buffers of buflen bytes each. 0 or -ENOMEM. */
int st_hashring_new(size_t nbufs, size_t buflen, struct st_hashring **out);
/* The next buffer to fill (waits while the helper still hashes it). */
unsigned char *st_hashring_next(struct st_hashring *r);
size_t st_hashring_buflen(const struct st_hashring *r);
/* Hash the first len bytes of the buffer st_hashring_next gave. */
void st_hashring_submit(struct st_hashring *r, size_t len);
/* Wait for everything submitted; "sha256:<hex>" of all of it, in order. */
void st_hashring_final(struct st_hashring *r, char out[ST_DIGEST_LEN + 1]);
/* Stop (the helper drops what it has not hashed) and free. */
void st_hashring_free(struct st_hashring *r);

/* A writer that forwards every write to next (may be NULL) and hashes a
 * copy of the bytes on the helper thread: st_hash_writer's job, off the
 * writing thread (a memcpy instead of the sha256). */
struct st_hashring_writer {
	struct st_hashring *ring;
	struct st_writer *next;
	int64_t bytes;
	unsigned char *cur; /* the ring buffer being filled */
	size_t fill;
};
int st_hashring_writer_init(struct st_hashring_writer *hw, struct st_writer *next, struct st_writer *w);
/* "sha256:<hex>" of everything written (once). */
void st_hashring_writer_final(struct st_hashring_writer *hw, char out[ST_DIGEST_LEN + 1]);
void st_hashring_writer_free(struct st_hashring_writer *hw);

#endif
