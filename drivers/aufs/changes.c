/* Native changes of an aufs layer: its branch (diff/ID) is the change set,
 * but whether an entry there was added or changed, and what an opaque
 * directory deleted, depends on the read-only branches under it. This
 * resolves the union the way aufs does (a .wh.NAME hides NAME in the
 * branches below, .wh..wh..opq hides a directory's lower content, a
 * non-directory hides lower directories) and reports what the generic
 * compare of the mounted layer against its mounted parent would, without
 * mounting anything. */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>

#include "base/base.h"
#include "archive/archive.h"
#include "aufs.h"

bool aufs_is_meta(const char *name)
{
	return st_str_has_prefix(name, ST_WH_META_PREFIX) && strcmp(name, ST_WH_OPAQUE) != 0;
}

static bool is_whiteout(const char *name)
{
	return st_str_has_prefix(name, ST_WH_PREFIX) && !st_str_has_prefix(name, ST_WH_META_PREFIX);
}

struct ach {
	struct st_changes *out;
	struct st_error *err;
	char path[PATH_MAX]; /* "a/b" of the directory being compared */
};

static int add_change(struct ach *c, const char *path, char kind)
{
	struct st_changes *o = c->out;
	if (o->n == o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 64;
		struct st_change *nv = realloc(o->v, nc * sizeof(*nv));
		if (!nv)
			return st_error_set(c->err, ENOMEM, "aufs: changes");
		o->v = nv;
		o->cap = nc;
	}
	char *p = st_asprintf("/%s", path);
	if (!p)
		return st_error_set(c->err, ENOMEM, "aufs: changes");
	o->v[o->n].path = p;
	o->v[o->n].kind = kind;
	o->n++;
	return 0;
}

/* One directory's merged content in the read-only branches: each visible
 * name and the nearest branch that has it. */
struct lname {
	char *name;
	size_t branch;
};
struct lower_dir {
	struct lname *v;
	size_t n;
};

static void lower_dir_free(struct lower_dir *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int cmp_lname(const void *a, const void *b)
{
	return strcmp(((const struct lname *)a)->name, ((const struct lname *)b)->name);
}

static const struct lname *lower_find(const struct lower_dir *l, const char *name)
{
	struct lname key = {.name = (char *)name};
	return l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), cmp_lname) : NULL;
}

#define WHITED ((void *)(uintptr_t)1)
#define LISTED ((void *)(uintptr_t)2)

static int lower_dir_read(struct ach *c, const int *fds, size_t nfds, struct lower_dir *out)
{
	memset(out, 0, sizeof(*out));
	struct st_hashmap seen;
	st_hashmap_init(&seen, NULL);
	int r = 0;
	size_t cap = 0;
	for (size_t b = 0; b < nfds && r >= 0; b++) {
		char **names;
		size_t n;
		if ((r = st_list_dir(fds[b], &names, &n)) < 0) {
			r = st_error_set(c->err, -r, "aufs: list \"/%s\" in a lower branch", c->path);
			break;
		}
		/* names first: a whiteout hides the branches below its own */
		for (size_t i = 0; i < n && r >= 0; i++) {
			if (st_str_has_prefix(names[i], ST_WH_PREFIX) || st_hashmap_get(&seen, names[i]))
				continue;
			if (out->n == cap) {
				cap = cap ? cap * 2 : 32;
				struct lname *nv = realloc(out->v, cap * sizeof(*nv));
				if (!nv) {
					r = -ENOMEM;
					break;
				}
				out->v = nv;
			}
			out->v[out->n].name = st_strdup(names[i]);
			out->v[out->n].branch = b;
			if (!out->v[out->n].name || st_hashmap_put(&seen, names[i], LISTED) < 0) {
				free(out->v[out->n].name);
				r = -ENOMEM;
				break;
			}
			out->n++;
		}
		for (size_t i = 0; i < n && r >= 0; i++)
			if (is_whiteout(names[i]) && !st_hashmap_get(&seen, names[i] + strlen(ST_WH_PREFIX)))
				r = st_hashmap_put(&seen, names[i] + strlen(ST_WH_PREFIX), WHITED);
		st_strv_free(names, n);
	}
	st_hashmap_free(&seen);
	if (r == -ENOMEM)
		r = st_error_set(c->err, ENOMEM, "aufs: changes");
	if (r < 0) {
		lower_dir_free(out);
		return r;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_lname);
	return 0;
}

static bool has_entry(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The lower branches' directories that make up sub (found first in branch
 * `from`), down to the first branch that ends it: a whiteout of it, a
 * non-directory in its place, or an opaque marker in it. */
static int lower_stack(struct ach *c, const int *fds, size_t nfds, size_t from, const char *sub, int **out,
		       size_t *nout)
{
	*out = NULL;
	*nout = 0;
	char wh[NAME_MAX + 8];
	snprintf(wh, sizeof(wh), ST_WH_PREFIX "%s", sub);
	int *v = calloc(nfds, sizeof(*v));
	if (!v)
		return st_error_set(c->err, ENOMEM, "aufs: changes");
	size_t n = 0;
	for (size_t b = from; b < nfds; b++) {
		if (b > from && has_entry(fds[b], wh))
			break;
		struct stat st;
		if (fstatat(fds[b], sub, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISDIR(st.st_mode))
			break;
		int fd = st_open_nofollow(fds[b], sub, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0) {
			for (size_t i = 0; i < n; i++)
				close(v[i]);
			free(v);
			return st_error_set(c->err, -fd, "aufs: open \"/%s\" in a lower branch", c->path);
		}
		v[n++] = fd;
		if (has_entry(fd, ST_WH_OPAQUE))
			break;
	}
	*out = v;
	*nout = n;
	return 0;
}

static void close_stack(int *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(v[i]);
	free(v);
}

struct added {
	struct ach *c;
	const char *prefix;
};

static int added_cb(void *ctx, const struct st_walk_ent *e)
{
	struct added *a = ctx;
	if (e->post)
		return 0;
	if (st_str_has_prefix(e->name, ST_WH_PREFIX))
		return S_ISDIR(e->st.st_mode) ? 1 : 0;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", a->prefix, e->path);
	return add_change(a->c, p, ST_CHANGE_ADD);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Set c->path to the directory's path plus name; returns the old length. */
static size_t path_push(struct ach *c, size_t plen, const char *name)
{
	size_t sub = plen;
	if (plen)
		c->path[sub++] = '/';
	memcpy(c->path + sub, name, strlen(name) + 1);
	return sub + strlen(name);
}

static int cmp_dir(struct ach *c, int ufd, const int *lfds, size_t nl, bool hide, size_t plen, bool *changed)
{
	char **names = NULL, **real = NULL;
	size_t n = 0, nreal = 0;
	struct lower_dir low = {0};
	struct st_hashmap wh;
	st_hashmap_init(&wh, NULL);
	bool opaque = false;
	int r = st_list_dir(ufd, &names, &n);
	if (r < 0) {
		r = st_error_set(c->err, -r, "aufs: list \"/%s\"", c->path);
		goto out;
	}
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (strcmp(names[i], ST_WH_OPAQUE) == 0)
			opaque = true;
		else if (aufs_is_meta(names[i]))
			continue;
		else if (is_whiteout(names[i]))
			r = st_hashmap_put(&wh, names[i] + strlen(ST_WH_PREFIX), (void *)1);
		else
			r = st_strv_push(&real, &nreal, names[i]);
	}
	if (r < 0) {
		r = st_error_set(c->err, ENOMEM, "aufs: changes");
		goto out;
	}
	/* an opaque directory shows nothing of the branches below, and so do
	 * its subdirectories */
	hide = hide || opaque;
	if ((r = lower_dir_read(c, lfds, nl, &low)) < 0)
		goto out;

	for (size_t i = 0; i < low.n && r >= 0; i++) {
		const char *name = low.v[i].name;
		if (nreal && bsearch(&name, real, nreal, sizeof(*real), cmp_names))
			continue;
		if (!hide && !st_hashmap_get(&wh, name))
			continue; /* still the lower one: unchanged */
		*changed = true;
		path_push(c, plen, name);
		r = add_change(c, c->path, ST_CHANGE_DELETE);
		c->path[plen] = '\0';
	}

	for (size_t i = 0; i < nreal && r >= 0; i++) {
		const char *name = real[i];
		size_t sub = path_push(c, plen, name);
		const struct lname *lo = lower_find(&low, name);
		struct stat ns, os;
		if (fstatat(ufd, name, &ns, AT_SYMLINK_NOFOLLOW) < 0) {
			r = st_error_set(c->err, errno, "aufs: stat \"/%s\"", c->path);
		} else if (!lo) { /* new, with everything below it */
			*changed = true;
			r = add_change(c, c->path, ST_CHANGE_ADD);
			if (r >= 0 && S_ISDIR(ns.st_mode)) {
				_cleanup_close_ int sfd = st_open_nofollow(ufd, name, O_RDONLY | O_DIRECTORY, 0);
				_cleanup_free_ char *prefix = st_strdup(c->path);
				struct added a = {c, prefix};
				r = sfd < 0 || !prefix ? st_error_set(c->err, sfd < 0 ? -sfd : ENOMEM, "aufs: open \"/%s\"", c->path)
						       : st_walk(sfd, added_cb, &a, c->err);
			}
		} else if (fstatat(lfds[lo->branch], name, &os, AT_SYMLINK_NOFOLLOW) < 0) {
			r = st_error_set(c->err, errno, "aufs: stat \"/%s\" in a lower branch", c->path);
		} else {
			bool self = st_entry_changed(ufd, lfds[lo->branch], name, &ns, &os, NULL, false);
			if (self) {
				*changed = true;
				r = add_change(c, c->path, ST_CHANGE_MODIFY);
			}
			if (r >= 0 && S_ISDIR(ns.st_mode)) {
				int *stack = NULL;
				size_t nstack = 0;
				if (S_ISDIR(os.st_mode))
					r = lower_stack(c, lfds, nl, lo->branch, name, &stack, &nstack);
				_cleanup_close_ int sfd = r < 0 ? -1 : st_open_nofollow(ufd, name, O_RDONLY | O_DIRECTORY, 0);
				bool inner = false;
				if (r >= 0 && sfd < 0)
					r = st_error_set(c->err, -sfd, "aufs: open \"/%s\"", c->path);
				else if (r >= 0)
					r = cmp_dir(c, sfd, stack, nstack, hide, sub, &inner);
				close_stack(stack, nstack);
				/* a directory with changes inside is listed too */
				if (r >= 0 && inner && !self) {
					*changed = true;
					path_push(c, plen, name);
					r = add_change(c, c->path, ST_CHANGE_MODIFY);
				}
			}
		}
		c->path[plen] = '\0';
	}
out:
	st_strv_free(names, n);
	st_strv_free(real, nreal);
	st_hashmap_free(&wh);
	lower_dir_free(&low);
	return r;
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct st_change *)a)->path, ((const struct st_change *)b)->path);
}

int aufs_changes(int upper, const int *lower, size_t nlower, struct st_changes *out, struct st_error *err)
{
	memset(out, 0, sizeof(*out));
	struct ach c = {.out = out, .err = err};
	/* the lower roots down to the first opaque one */
	size_t nl = 0;
	while (nl < nlower && !has_entry(lower[nl], ST_WH_OPAQUE))
		nl++;
	if (nl < nlower)
		nl++;
	bool changed = false;
	int r = cmp_dir(&c, upper, lower, nl, false, 0, &changed);
	if (r < 0) {
		st_changes_free(out);
		return r;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_change);
	return 0;
}
