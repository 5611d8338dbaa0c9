/* The bounded byte queue: a ring buffer under one mutex and one condition
 * variable (both sides wait on it; every change broadcasts). */
#include "base/base.h"

int st_bytepipe_init(struct st_bytepipe *p, size_t cap)
{
	memset(p, 0, sizeof(*p));
	p->buf = malloc(cap ? cap : 1);
	if (!p->buf)
		return -ENOMEM;
	p->cap = cap ? cap : 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	return 0;
}

void st_bytepipe_destroy(struct st_bytepipe *p)
{
	if (!p->buf)
		return;
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
	free(p->buf);
	p->buf = NULL;
}

int st_bytepipe_write(struct st_bytepipe *p, const void *data, size_t len)
{
	const unsigned char *d = data;
	pthread_mutex_lock(&p->mu);
	while (len > 0) {
		while (p->len == p->cap && !p->cancelled)
			pthread_cond_wait(&p->cond, &p->mu);
		if (p->cancelled) {
			pthread_mutex_unlock(&p->mu);
			return -ECANCELED;
		}
		size_t tail = (p->head + p->len) % p->cap;
		size_t room = p->cap - p->len;
		size_t run = p->cap - tail < room ? p->cap - tail : room;
		size_t n = len < run ? len : run;
		memcpy(p->buf + tail, d, n);
		p->len += n;
		p->written += (int64_t)n;
		d += n;
		len -= n;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void st_bytepipe_close(struct st_bytepipe *p, int error, const char *msg)
{
	pthread_mutex_lock(&p->mu);
	if (!p->closed) {
		p->closed = true;
		p->error = error;
		snprintf(p->msg, sizeof(p->msg), "%s", msg ? msg : "");
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

ssize_t st_bytepipe_read(struct st_bytepipe *p, void *buf, size_t len, struct st_error *err)
{
	pthread_mutex_lock(&p->mu);
	while (p->len == 0 && !p->closed && !p->cancelled)
		pthread_cond_wait(&p->cond, &p->mu);
	ssize_t r;
	if (p->len > 0) {
		size_t run = p->cap - p->head < p->len ? p->cap - p->head : p->len;
		size_t n = len < run ? len : run;
		memcpy(buf, p->buf + p->head, n);
		p->head = (p->head + n) % p->cap;
		p->len -= n;
		p->read += (int64_t)n;
		r = (ssize_t)n;
		pthread_cond_broadcast(&p->cond);
	} else if (p->cancelled) {
		r = -ECANCELED;
	} else {
		r = p->error;
		if (r < 0 && err)
			st_error_fail(err, -r, "%s", p->msg[0] ? p->msg : strerror(-r));
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

void st_bytepipe_cancel(struct st_bytepipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->cancelled = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

bool st_bytepipe_cancelled(struct st_bytepipe *p)
{
	pthread_mutex_lock(&p->mu);
	bool c = p->cancelled;
	pthread_mutex_unlock(&p->mu);
	return c;
}
