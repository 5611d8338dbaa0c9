/* What system check's scans share: recording a problem with its fix, and
 * lookups in what the scan found (layers by chain or cache id, holders,
 * store subdirectories, leftovers of atomic writes). */
#include <fcntl.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"
#include "system/system.h"
#include "check_int.h"

void ck_add(struct ck *c, int fix, const char *a, const char *b, const char *what, const char *fmt, ...)
{
	struct st_check_problem *nv = realloc(c->v, (c->n + 1) * sizeof(*nv));
	if (!nv) {
		c->oom = true;
		return;
	}
	c->v = nv;
	struct st_check_problem *p = &c->v[c->n++];
	memset(p, 0, sizeof(*p));
	snprintf(p->what, sizeof(p->what), "%s", what);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	p->fix = fix;
	snprintf(p->a, sizeof(p->a), "%s", a ? a : "");
	snprintf(p->b, sizeof(p->b), "%s", b ? b : "");
	p->state = fix == FIX_NONE ? ST_CHECK_MANUAL : ST_CHECK_FOUND;
}

const struct st_layer *ck_find_layer(struct ck *c, const char *chain)
{
	for (size_t i = 0; i < c->nlayers; i++)
		if (strcmp(c->layers[i].chain_id, chain) == 0)
			return &c->layers[i];
	return NULL;
}

const struct st_layer *ck_layer_by_cache(struct ck *c, const char *cache)
{
	for (size_t i = 0; i < c->nlayers; i++)
		if (strcmp(c->layers[i].cache_id, cache) == 0)
			return &c->layers[i];
	return NULL;
}

bool ck_has_holder(const struct st_layer *l, const char *holder)
{
	for (size_t i = 0; i < l->nholders; i++)
		if (strcmp(l->holders[i], holder) == 0)
			return true;
	return false;
}

/* Entries of a store subdirectory ("" for the root). */
int ck_list_sub(struct ck *c, const char *sub, int *dfd, char ***names, size_t *n, struct st_error *err)
{
	*names = NULL;
	*n = 0;
	*dfd = sub[0] ? st_store_subdir(c->s, sub, err) : dup(c->s->root_fd);
	if (*dfd < 0)
		return *dfd < 0 && !sub[0] ? st_error_set(err, errno, "store root") : *dfd;
	int r = st_list_dir(*dfd, names, n);
	if (r < 0) {
		close(*dfd);
		*dfd = -1;
		return st_error_set(err, -r, "list \"%s/%s\"", c->s->root, sub);
	}
	return 0;
}

bool ck_exists_at(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Leftovers of atomic writes (".tmp-NAME-RANDOM") in a directory that is
 * only written under the store lock. */
void ck_leftover_temps(struct ck *c, const char *sub, int dfd, char **names, size_t n)
{
	(void)dfd;
	char what[200];
	snprintf(what, sizeof(what), "\"%s/%s\"", c->s->root, sub);
	for (size_t i = 0; i < n; i++)
		if (st_str_has_prefix(names[i], ".tmp-") || st_str_has_prefix(names[i], ".trash-"))
			ck_add(c, FIX_RM_AT, sub, names[i], what, "%s is left over from an interrupted write", names[i]);
}
