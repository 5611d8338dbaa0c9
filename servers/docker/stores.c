/* Store handles for concurrent requests (see dp.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dp.h"

void dp_pool_init(struct dp_pool *p, const char *what)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->what = what;
}

static int pool_open_one(struct dp_pool *p, const char *root, struct st_store **s, struct st_error *err)
{
	struct st_store_config cfg = {.root = root, .driver = p->driver, .storage_opt = &p->opts};
	int r = st_store_open(&cfg, s, err);
	return r < 0 ? st_error_wrap(err, "%s: store \"%s\"", p->what, root) : r;
}

/* Caller holds mu. */
static void pool_drop_idle(struct dp_pool *p)
{
	for (size_t i = 0; i < p->nidle; i++)
		st_store_close(p->idle[i]);
	p->nopen -= p->nidle;
	p->nidle = 0;
}

int dp_pool_open(struct dp_pool *p, const char *root, const char *driver, const struct st_kvlist *opts,
		 struct st_error *err)
{
	struct st_store *s;
	pthread_mutex_lock(&p->mu);
	pool_drop_idle(p);
	p->nopen = 0; /* busy handles of the old generation close when given back */
	p->root[0] = '\0';
	p->gen++;
	st_kvlist_free(&p->opts);
	int r = 0;
	for (size_t i = 0; opts && i < opts->n && r >= 0; i++)
		r = st_kvlist_add(&p->opts, opts->v[i].key, "%s", opts->v[i].value);
	p->driver = driver;
	if (r < 0) {
		pthread_mutex_unlock(&p->mu);
		return st_error_set(err, ENOMEM, "%s", p->what);
	}
	/* opened outside the lock: a store open can wait for the store lock */
	pthread_mutex_unlock(&p->mu);
	if ((r = pool_open_one(p, root, &s, err)) < 0)
		return r;
	pthread_mutex_lock(&p->mu);
	snprintf(p->root, sizeof(p->root), "%s", root);
	p->idle[p->nidle++] = s;
	p->nopen++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void dp_pool_close(struct dp_pool *p)
{
	pthread_mutex_lock(&p->mu);
	pool_drop_idle(p);
	p->nopen = 0;
	p->root[0] = '\0';
	p->gen++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void dp_pool_destroy(struct dp_pool *p)
{
	dp_pool_close(p);
	st_kvlist_free(&p->opts);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}

int dp_store_get(struct dp_pool *p, struct st_store **s, unsigned *gen, struct st_error *err)
{
	char root[PATH_MAX];
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (!p->root[0]) {
			pthread_mutex_unlock(&p->mu);
			return st_error_fail(err, ENXIO, "%s: not initialised (GraphDriver.Init was not called)", p->what);
		}
		if (p->nidle) {
			*s = p->idle[--p->nidle];
			*gen = p->gen;
			pthread_mutex_unlock(&p->mu);
			return 0;
		}
		if (p->nopen < DP_POOL_MAX)
			break;
		pthread_cond_wait(&p->cv, &p->mu);
	}
	p->nopen++;
	*gen = p->gen;
	snprintf(root, sizeof(root), "%s", p->root);
	pthread_mutex_unlock(&p->mu);
	int r = pool_open_one(p, root, s, err);
	if (r < 0) {
		pthread_mutex_lock(&p->mu);
		if (*gen == p->gen)
			p->nopen--;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	return r;
}

void dp_store_put(struct dp_pool *p, struct st_store *s, unsigned gen)
{
	if (!s)
		return;
	pthread_mutex_lock(&p->mu);
	if (gen == p->gen && p->root[0]) {
		p->idle[p->nidle++] = s;
		s = NULL;
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (s)
		st_store_close(s);
}
