/* String-keyed hash map: FNV-1a, linear probing, grows at 70% load. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void st_hashmap_init(struct st_hashmap *m, void (*free_val)(void *))
{
	memset(m, 0, sizeof(*m));
	m->free_val = free_val;
}

static size_t slot(const struct st_hashmap *m, const char *key)
{
	size_t i = hash(key) & (m->cap - 1);
	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int grow(struct st_hashmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	struct st_hashmap nm = {.cap = ncap, .free_val = m->free_val};
	nm.keys = calloc(ncap, sizeof(char *));
	nm.vals = calloc(ncap, sizeof(void *));
	if (!nm.keys || !nm.vals) {
		free(nm.keys);
		free(nm.vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = slot(&nm, m->keys[i]);
		nm.keys[j] = m->keys[i];
		nm.vals[j] = m->vals[i];
	}
	nm.n = m->n;
	free(m->keys);
	free(m->vals);
	*m = nm;
	return 0;
}

int st_hashmap_put(struct st_hashmap *m, const char *key, void *val)
{
	if ((m->n + 1) * 10 >= m->cap * 7 && grow(m) < 0)
		return -ENOMEM;
	size_t i = slot(m, key);
	if (m->keys[i]) {
		if (m->free_val && m->vals[i] != val)
			m->free_val(m->vals[i]);
		m->vals[i] = val;
		return 0;
	}
	if (!(m->keys[i] = strdup(key)))
		return -ENOMEM;
	m->vals[i] = val;
	m->n++;
	return 0;
}

void *st_hashmap_get(const struct st_hashmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	size_t i = slot(m, key);
	return m->keys[i] ? m->vals[i] : NULL;
}

void st_hashmap_free(struct st_hashmap *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		free(m->keys[i]);
		if (m->free_val)
			m->free_val(m->vals[i]);
	}
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
