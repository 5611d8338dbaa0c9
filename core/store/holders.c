/* The holder table: the kinds of layer holders ("PREFIX:NAME") and what the
 * store asks them. Registered kinds stay for the life of the process;
 * registration takes a mutex, lookups read a published count (entries are
 * written before the count that makes them visible, and never change). */
#include <pthread.h>

#include "base/base.h"
#include "store/store.h"

#define KINDS_MAX 32

static pthread_mutex_t kinds_mu = PTHREAD_MUTEX_INITIALIZER;
static const struct st_holder_kind *kinds[KINDS_MAX];
static size_t nkinds;

static bool valid_prefix(const char *p)
{
	if (!p || !*p || strlen(p) > 32)
		return false;
	for (; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", *p))
			return false;
	return true;
}

int st_holder_kind_register(const struct st_holder_kind *kind)
{
	if (!kind || !valid_prefix(kind->prefix) || !kind->holds_layer)
		return -EINVAL;
	pthread_mutex_lock(&kinds_mu);
	size_t n = __atomic_load_n(&nkinds, __ATOMIC_RELAXED);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		if (strcmp(kinds[i]->prefix, kind->prefix) == 0)
			r = kinds[i] == kind ? 1 : -EEXIST;
	if (r == 0 && n == KINDS_MAX)
		r = -ENOSPC;
	if (r == 0) {
		kinds[n] = kind;
		__atomic_store_n(&nkinds, n + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&kinds_mu);
	return r < 0 ? r : 0;
}

static size_t kinds_count(void)
{
	return __atomic_load_n(&nkinds, __ATOMIC_ACQUIRE);
}

const struct st_holder_kind *st_holder_kind_of(const char *holder, const char **name)
{
	const char *colon = holder ? strchr(holder, ':') : NULL;
	if (!colon)
		return NULL;
	size_t plen = (size_t)(colon - holder), n = kinds_count();
	for (size_t i = 0; i < n; i++)
		if (strlen(kinds[i]->prefix) == plen && strncmp(kinds[i]->prefix, holder, plen) == 0) {
			if (name)
				*name = colon + 1;
			return kinds[i];
		}
	return NULL;
}

bool st_holder_backed(struct st_store *s, const char *holder, const char *chain_id, char *why, size_t len)
{
	const char *name;
	const struct st_holder_kind *k = st_holder_kind_of(holder, &name);
	if (len)
		why[0] = '\0';
	return !k || k->holds_layer(s, name, chain_id, why, len);
}

bool st_holders_own_driver_layer(struct st_store *s, const char *driver_id)
{
	size_t n = kinds_count();
	for (size_t i = 0; i < n; i++)
		if (kinds[i]->owns_driver_layer && kinds[i]->owns_driver_layer(s, driver_id))
			return true;
	return false;
}

int st_holders_using(struct st_store *s, const char *object, const char **kind, char **first)
{
	*kind = NULL;
	*first = NULL;
	size_t n = kinds_count();
	for (size_t i = 0; i < n; i++) {
		if (!kinds[i]->uses)
			continue;
		int count = kinds[i]->uses(s, object, first);
		if (count > 0) {
			*kind = kinds[i]->prefix;
			return count;
		}
		free(*first);
		*first = NULL;
	}
	return 0;
}

int st_holders_recover(struct st_store *s, struct st_error *err)
{
	size_t n = kinds_count();
	for (size_t i = 0; i < n; i++) {
		int r = kinds[i]->recover ? kinds[i]->recover(s, err) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}
