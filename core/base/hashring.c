/* sha256 on a helper thread over a ring of buffers (see hashring.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

struct st_hashring {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	bool threaded;
	bool done;  /* nothing more will be submitted */
	bool stop;  /* give up: free is waiting */
	struct st_sha256 h;
	unsigned char **buf;
	size_t *len;
	size_t nbufs, buflen;
	uint64_t submitted, hashed; /* counts since the start */
};

static void *hashring_main(void *arg)
{
	struct st_hashring *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (r->hashed == r->submitted && !r->done && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stop || r->hashed == r->submitted)
			break;
		size_t i = (size_t)(r->hashed % r->nbufs);
		pthread_mutex_unlock(&r->mu);
		st_sha256_update(&r->h, r->buf[i], r->len[i]);
		pthread_mutex_lock(&r->mu);
		r->hashed++;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int st_hashring_new(size_t nbufs, size_t buflen, struct st_hashring **out)
{
	struct st_hashring *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->nbufs = nbufs < 2 ? 2 : nbufs;
	r->buflen = buflen;
	r->buf = calloc(r->nbufs, sizeof(*r->buf));
	r->len = calloc(r->nbufs, sizeof(*r->len));
	bool ok = r->buf && r->len && st_sha256_init(&r->h) == 0;
	for (size_t i = 0; ok && i < r->nbufs; i++)
		ok = (r->buf[i] = malloc(buflen)) != NULL;
	if (!ok) {
		if (r->h.ctx)
			st_sha256_abort(&r->h);
		for (size_t i = 0; r->buf && i < r->nbufs; i++)
			free(r->buf[i]);
		free(r->buf);
		free(r->len);
		free(r);
		return -ENOMEM;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	/* the default stack: it also holds the process's static TLS, which
	 * is not small here (archive.c's read buffer) */
	r->threaded = pthread_create(&r->th, NULL, hashring_main, r) == 0;
	*out = r;
	return 0;
}

unsigned char *st_hashring_next(struct st_hashring *r)
{
	pthread_mutex_lock(&r->mu);
	while (r->submitted - r->hashed >= r->nbufs)
		pthread_cond_wait(&r->cv, &r->mu);
	unsigned char *b = r->buf[r->submitted % r->nbufs];
	pthread_mutex_unlock(&r->mu);
	return b;
}

size_t st_hashring_buflen(const struct st_hashring *r)
{
	return r->buflen;
}

void st_hashring_submit(struct st_hashring *r, size_t len)
{
	size_t i = (size_t)(r->submitted % r->nbufs);
	if (!r->threaded) {
		st_sha256_update(&r->h, r->buf[i], len);
		r->submitted++;
		r->hashed++;
		return;
	}
	pthread_mutex_lock(&r->mu);
	r->len[i] = len;
	r->submitted++;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void hashring_join(struct st_hashring *r, bool stop)
{
	if (!r->threaded)
		return;
	pthread_mutex_lock(&r->mu);
	r->done = true;
	r->stop = stop;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	r->threaded = false;
}

void st_hashring_final(struct st_hashring *r, char out[ST_DIGEST_LEN + 1])
{
	hashring_join(r, false);
	st_sha256_final(&r->h, out);
}

void st_hashring_free(struct st_hashring *r)
{
	if (!r)
		return;
	hashring_join(r, true);
	if (r->h.ctx)
		st_sha256_abort(&r->h);
	for (size_t i = 0; i < r->nbufs; i++)
		free(r->buf[i]);
	free(r->buf);
	free(r->len);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* ------------------------------------------------------------ the writer */

static int hashring_write(void *ctx, const void *buf, size_t len)
{
	struct st_hashring_writer *hw = ctx;
	const unsigned char *p = buf;
	size_t left = len;
	while (left > 0) {
		if (!hw->cur) {
			hw->cur = st_hashring_next(hw->ring);
			hw->fill = 0;
		}
		size_t room = hw->ring->buflen - hw->fill;
		size_t k = left < room ? left : room;
		memcpy(hw->cur + hw->fill, p, k);
		hw->fill += k;
		p += k;
		left -= k;
		if (hw->fill == hw->ring->buflen) {
			st_hashring_submit(hw->ring, hw->fill);
			hw->cur = NULL;
		}
	}
	hw->bytes += (int64_t)len;
	return hw->next ? hw->next->write(hw->next->ctx, buf, len) : 0;
}

int st_hashring_writer_init(struct st_hashring_writer *hw, struct st_writer *next, struct st_writer *w)
{
	memset(hw, 0, sizeof(*hw));
	int r = st_hashring_new(4, 256 * 1024, &hw->ring);
	if (r < 0)
		return r;
	hw->next = next;
	w->write = hashring_write;
	w->ctx = hw;
	return 0;
}

void st_hashring_writer_final(struct st_hashring_writer *hw, char out[ST_DIGEST_LEN + 1])
{
	if (hw->cur && hw->fill)
		st_hashring_submit(hw->ring, hw->fill);
	hw->cur = NULL;
	st_hashring_final(hw->ring, out);
}

void st_hashring_writer_free(struct st_hashring_writer *hw)
{
	st_hashring_free(hw->ring);
	hw->ring = NULL;
}
