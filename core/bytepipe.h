/* A bounded byte queue between two threads: one writes (a download, a
 * compressor), the other reads (the layer store, an upload). A full queue
 * blocks the writer, an empty one the reader, so memory stays bounded
 * whatever the speeds. Either side can end it: the writer with end of
 * data or an error (which the reader then gets), the reader by
 * cancelling (the writer's next write fails). */
#ifndef ST_BYTEPIPE_H
#define ST_BYTEPIPE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata.h"

struct st_bytepipe {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	unsigned char *buf;
	size_t cap, head, len;
	bool closed;     /* the writer is done (error or not) */
	bool cancelled;  /* the reader gave up */
	int error;       /* negative errno the writer ended with */
	char msg[1024];  /* its message */
	int64_t written, read;
};

int st_bytepipe_init(struct st_bytepipe *p, size_t cap);
void st_bytepipe_destroy(struct st_bytepipe *p);
/* Writer: blocks while full; -ECANCELED once the reader cancelled. */
int st_bytepipe_write(struct st_bytepipe *p, const void *data, size_t len);
/* Writer: no more data; error 0 for a clean end, else a negative errno and
 * a message the reader will see. */
void st_bytepipe_close(struct st_bytepipe *p, int error, const char *msg);
/* Reader: blocks while empty; bytes read, 0 at a clean end, or the
 * writer's error (its message copied to err when err is not NULL). */
ssize_t st_bytepipe_read(struct st_bytepipe *p, void *buf, size_t len, struct st_error *err);
/* Reader: give up; wakes a blocked writer. */
void st_bytepipe_cancel(struct st_bytepipe *p);
bool st_bytepipe_cancelled(struct st_bytepipe *p);

#endif
