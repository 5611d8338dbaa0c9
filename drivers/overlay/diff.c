/* Native diff: a layer's diff/ is its change set, in overlay's own terms
 * (0/0 character devices for deleted names, trusted.overlay.opaque=y for
 * directories that hide what lower layers had). The tar conversion both
 * ways is the core's (st_archive_write_tree / st_archive_apply with
 * ST_WH_OVERLAY); the change list needs the lower layers, to tell an added
 * name from a changed one and to list what an opaque directory hides.
 * Whenever diff/ is not the whole story (redirect_dir or metacopy on, or a
 * diff against something other than the real parent) the core's naive diff
 * of the mounted trees is used instead. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "base/base.h"
#include "overlay.h"

#define OPAQUE_XATTR "trusted.overlay.opaque"
#define REDIRECT_XATTR "trusted.overlay.redirect"

static int find_redirect(int dfd, bool *found);

/* Is diff/ this layer's exact change set against parent? */
static bool native(struct st_driver *d, const char *id, const char *parent)
{
	struct ovl *o = d->priv;
	if (!o->native_diff || !ovl_is_parent(d, id, parent))
		return false;
	if (!o->redirects)
		return true;
	struct st_error e;
	_cleanup_close_ int fd = ovl_open_diff(d, id, &e);
	bool found = false;
	return fd >= 0 && find_redirect(fd, &found) == 0 && !found;
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(int dirfd, const char *name)
{
	char p[PATH_MAX], v[2];
	if (!*name) /* the directory itself (not its /proc link) */
		return fgetxattr(dirfd, OPAQUE_XATTR, v, sizeof(v)) == 1 && v[0] == 'y';
	st_fd_path(p, sizeof(p), dirfd, name);
	return lgetxattr(p, OPAQUE_XATTR, v, sizeof(v)) == 1 && v[0] == 'y';
}

int ovl_diff(struct st_driver *d, const char *id, const char *parent, struct st_writer *out, struct st_error *err)
{
	if (!native(d, id, parent))
		return st_naive_diff(d, id, parent, out, err);
	_cleanup_close_ int fd = ovl_open_diff(d, id, err);
	if (fd < 0)
		return fd;
	int r = st_archive_write_tree(fd, ST_WH_OVERLAY, out, err);
	return r < 0 ? st_error_wrap(err, "overlay: diff of layer \"%s\"", id) : r;
}

int64_t ovl_diff_size(struct st_driver *d, const char *id, const char *parent, struct st_error *err)
{
	if (!native(d, id, parent))
		return st_naive_diff_size(d, id, parent, err);
	_cleanup_close_ int fd = ovl_open_diff(d, id, err);
	if (fd < 0)
		return fd;
	return st_tree_size(fd, err);
}

int64_t ovl_apply_diff(struct st_driver *d, const char *id, const char *parent, struct st_tar_in *in,
		       struct st_error *err)
{
	if (!ovl_is_parent(d, id, parent))
		return st_error_fail(err, EINVAL,
				     "overlay: a diff for layer \"%s\" must apply on its own parent, not \"%s\"", id,
				     parent ? parent : "");
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/merged", id);
	_cleanup_close_ int mfd = st_open_nofollow(d->home_fd, p, O_RDONLY | O_DIRECTORY, 0);
	struct st_apply_opts ao = {.wh = ST_WH_OVERLAY};
	_cleanup_close_ int fd = -1;
	if (mfd >= 0 && ovl_is_mounted(d->home_fd, p)) {
		/* in use: write through the mount, where the kernel makes the
		 * whiteouts (writing under a mounted upper is undefined) */
		if (!st_drv_is_rw(d, id))
			return st_error_fail(err, EBUSY, "overlay: layer \"%s\" is mounted read-only", id);
		fd = st_take_fd(&mfd);
		ao.wh = ST_WH_DELETE;
	} else if ((fd = ovl_open_diff(d, id, err)) < 0) {
		return fd;
	}
	return st_archive_apply(fd, in, &ao, err);
}

/* ------------------------------------------------------------ changes */

/* Where a directory of the upper exists in the parent's view: one entry
 * per lower layer that merges into it, top first, with the directory's path
 * in that layer (a renamed directory lives under its old path below: overlay
 * follows trusted.overlay.redirect). */
struct lower_dir {
	size_t layer;
	char *path; /* relative to the layer's root; "" for the root */
};

struct level {
	struct lower_dir *v;
	size_t n;
	bool hide;        /* an opaque directory at or above: lower names are gone */
	bool lower_dir;   /* exists below as a directory */
	struct lower_dir top; /* where it was found first */
	size_t mark;      /* changes before its children */
};

struct nchg {
	int *roots;       /* lower diff/ directories, top first */
	size_t nroots;
	struct level *lv; /* by depth; lv[0] is the root */
	size_t nlv;
	struct st_changes *out;
	struct st_error *err;
};

static int add(struct nchg *c, const char *path, char kind)
{
	struct st_changes *o = c->out;
	if (o->n == o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 64;
		struct st_change *nv = realloc(o->v, nc * sizeof(*nv));
		if (!nv)
			return st_error_set(c->err, ENOMEM, "changes");
		o->v = nv;
		o->cap = nc;
	}
	char *p = st_asprintf("/%s", path);
	if (!p)
		return st_error_set(c->err, ENOMEM, "changes");
	o->v[o->n].path = p;
	o->v[o->n].kind = kind;
	o->n++;
	return 0;
}

static void level_clear(struct level *lv)
{
	for (size_t i = 0; i < lv->n; i++)
		free(lv->v[i].path);
	free(lv->v);
	free(lv->top.path);
	memset(lv, 0, sizeof(*lv));
}

static int level_at(struct nchg *c, size_t depth, struct level **out)
{
	if (depth >= c->nlv) {
		size_t nn = depth + 8;
		struct level *nl = realloc(c->lv, nn * sizeof(*nl));
		if (!nl)
			return st_error_set(c->err, ENOMEM, "changes");
		memset(nl + c->nlv, 0, (nn - c->nlv) * sizeof(*nl));
		c->lv = nl;
		c->nlv = nn;
	}
	*out = &c->lv[depth];
	level_clear(*out);
	return 0;
}

static int level_push(struct nchg *c, struct level *lv, size_t layer, const char *path)
{
	struct lower_dir *nv = realloc(lv->v, (lv->n + 1) * sizeof(*nv));
	if (!nv)
		return st_error_set(c->err, ENOMEM, "changes");
	lv->v = nv;
	if (!(nv[lv->n].path = strdup(path)))
		return st_error_set(c->err, ENOMEM, "changes");
	nv[lv->n++].layer = layer;
	return 0;
}

static char *join(const char *dir, const char *name)
{
	return st_asprintf("%s%s%s", dir, *dir ? "/" : "", name);
}

/* A directory's redirect ("d": renamed within its parent, "/a/d": from
 * elsewhere), or NULL. */
static char *redirect_of(int rootfd, const char *path)
{
	char p[PATH_MAX], v[PATH_MAX];
	st_fd_path(p, sizeof(p), rootfd, path);
	ssize_t n = lgetxattr(p, REDIRECT_XATTR, v, sizeof(v) - 1);
	if (n <= 0)
		return NULL;
	v[n] = '\0';
	return strdup(v);
}

/* Look name up in the parent's view below directory level up, as overlay
 * does: layer by layer, stopped by a whiteout, a non-directory or an opaque
 * directory, following redirects. Found: its stat in *st and where (*top,
 * path owned by the caller); a directory's merge list goes into dir. */
static int lookup(struct nchg *c, const struct level *up, const char *name, struct stat *st,
		  struct lower_dir *top, struct level *dir, bool *found)
{
	*found = false;
	top->path = NULL;
	_cleanup_free_ char *cur = strdup(name); /* the name in the next layer's parent */
	_cleanup_free_ char *abs = NULL;         /* after an absolute redirect: the path from the root */
	if (!cur)
		return st_error_set(c->err, ENOMEM, "changes");
	size_t k = 0, next_layer = 0;
	for (;;) {
		size_t layer;
		_cleanup_free_ char *path = NULL;
		if (abs) { /* every layer below, from its root */
			if (next_layer >= c->nroots)
				break;
			layer = next_layer++;
			path = strdup(abs);
		} else {
			if (k >= up->n)
				break;
			layer = up->v[k].layer;
			path = join(up->v[k].path, cur);
			k++;
		}
		if (!path)
			return st_error_set(c->err, ENOMEM, "changes");
		struct stat s;
		if (fstatat(c->roots[layer], path, &s, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			return st_error_set(c->err, errno, "stat \"/%s\" in a lower layer", path);
		}
		if (is_whiteout(&s))
			break;
		if (!*found) {
			*found = true;
			*st = s;
			top->layer = layer;
			top->path = strdup(path);
			if (!top->path)
				return st_error_set(c->err, ENOMEM, "changes");
		}
		if (!S_ISDIR(s.st_mode) || !S_ISDIR(st->st_mode))
			break; /* a non-directory hides everything below it */
		if (dir) {
			int r = level_push(c, dir, layer, path);
			if (r < 0)
				return r;
		}
		if (is_opaque(c->roots[layer], path))
			break;
		char *red = redirect_of(c->roots[layer], path);
		bool oom = false;
		if (red && red[0] == '/') {
			free(abs);
			abs = strdup(red + 1);
			next_layer = layer + 1;
			oom = !abs;
		} else if (red && abs) {
			char *slash = strrchr(abs, '/');
			char *np = slash ? st_asprintf("%.*s/%s", (int)(slash - abs), abs, red) : strdup(red);
			free(abs);
			abs = np;
			oom = !np;
		} else if (red) {
			free(cur);
			cur = strdup(red);
			oom = !cur;
		}
		free(red);
		if (oom)
			return st_error_set(c->err, ENOMEM, "changes");
	}
	return 0;
}

/* Under an opaque directory of the upper (ufd, at path; "" for the root)
 * every name the parent's view has there and the upper lacks is deleted. */
static int hidden_names(struct nchg *c, const struct level *lv, int ufd, const char *path)
{
	struct st_hashmap seen;
	st_hashmap_init(&seen, NULL);
	int r = 0;
	for (size_t k = 0; k < lv->n && r >= 0; k++) {
		const char *lp = lv->v[k].path;
		_cleanup_close_ int dfd = st_open_nofollow(c->roots[lv->v[k].layer], *lp ? lp : ".",
							   O_RDONLY | O_DIRECTORY, 0);
		char **names = NULL;
		size_t n = 0;
		if (dfd < 0 || (r = st_list_dir(dfd, &names, &n)) < 0) {
			r = st_error_set(c->err, dfd < 0 ? -dfd : -r, "list \"/%s\" in a lower layer", lp);
			break;
		}
		for (size_t j = 0; j < n && r >= 0; j++) {
			if (st_hashmap_get(&seen, names[j]))
				continue;
			if (st_hashmap_put(&seen, names[j], (void *)1) < 0) {
				r = st_error_set(c->err, ENOMEM, "changes");
				break;
			}
			struct stat s;
			if (fstatat(dfd, names[j], &s, AT_SYMLINK_NOFOLLOW) < 0 || is_whiteout(&s) ||
			    faccessat(ufd, names[j], F_OK, AT_SYMLINK_NOFOLLOW) == 0)
				continue;
			char *p = join(path, names[j]);
			r = p ? add(c, p, ST_CHANGE_DELETE) : st_error_set(c->err, ENOMEM, "changes");
			free(p);
		}
		st_strv_free(names, n);
	}
	st_hashmap_free(&seen);
	return r;
}

static void drop_overlay_xattrs(struct st_xattrs *x)
{
	size_t o = 0;
	for (size_t i = 0; i < x->n; i++) {
		if (st_str_has_prefix(x->v[i].name, "trusted.overlay.")) {
			free(x->v[i].name);
			free(x->v[i].value);
			continue;
		}
		x->v[o++] = x->v[i];
	}
	x->n = o;
}

/* A directory that both have is changed when its own metadata is (what
 * the naive diff compares: owner, mode, xattrs). */
static bool dir_meta_changed(struct nchg *c, const struct st_walk_ent *e, const struct lower_dir *top)
{
	struct stat ls;
	int rfd = c->roots[top->layer];
	if (fstatat(rfd, top->path, &ls, AT_SYMLINK_NOFOLLOW) < 0)
		return true;
	if (ls.st_mode != e->st.st_mode || ls.st_uid != e->st.st_uid || ls.st_gid != e->st.st_gid)
		return true;
	struct st_xattrs a = {0}, b = {0};
	st_xattrs_read(e->dirfd, e->name, &a);
	st_xattrs_read(rfd, top->path, &b);
	drop_overlay_xattrs(&a);
	drop_overlay_xattrs(&b);
	bool differ = !st_xattrs_equal(&a, &b);
	st_xattrs_free(&a);
	st_xattrs_free(&b);
	return differ;
}

static int changes_cb(void *ctx, const struct st_walk_ent *e)
{
	struct nchg *c = ctx;
	if (e->post) {
		struct level *lv = &c->lv[e->depth];
		int r = 0;
		if (lv->hide && lv->n > 0) {
			_cleanup_close_ int ufd = st_open_nofollow(e->dirfd, e->name, O_RDONLY | O_DIRECTORY, 0);
			r = ufd < 0 ? st_error_set(c->err, -ufd, "open \"/%s\"", e->path)
				    : hidden_names(c, lv, ufd, e->path);
		}
		if (r >= 0 && lv->lower_dir && (c->out->n > lv->mark || dir_meta_changed(c, e, &lv->top)))
			r = add(c, e->path, ST_CHANGE_MODIFY);
		level_clear(lv);
		return r;
	}
	bool dir = S_ISDIR(e->st.st_mode);
	struct level *lv = NULL;
	int r = dir ? level_at(c, (size_t)e->depth, &lv) : 0;
	if (r < 0)
		return r;
	const struct level *up = &c->lv[e->depth - 1]; /* after level_at: it may move the array */
	struct stat ls;
	struct lower_dir top;
	bool found;
	r = lookup(c, up, e->name, &ls, &top, lv, &found);
	if (r >= 0 && is_whiteout(&e->st))
		r = found ? add(c, e->path, ST_CHANGE_DELETE) : 0;
	else if (r >= 0 && (!dir || !found || !S_ISDIR(ls.st_mode)))
		r = add(c, e->path, found ? ST_CHANGE_MODIFY : ST_CHANGE_ADD);
	if (r >= 0 && dir) {
		lv->hide = up->hide || is_opaque(e->dirfd, e->name);
		lv->lower_dir = found && S_ISDIR(ls.st_mode);
		lv->top = top;
		lv->mark = c->out->n;
		top.path = NULL;
	}
	free(top.path);
	return r;
}

/* Does diff/ hold a renamed directory (a redirect)? Then it lacks that
 * directory's lower content, and only the naive diff is right for this
 * layer. Directories only, by d_type: no stat per file. */
static int find_redirect(int dfd, bool *found)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	int r = 0;
	struct dirent *de;
	while (r >= 0 && !*found && (de = readdir(d))) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *red = redirect_of(dirfd(d), de->d_name);
		if (red) {
			free(red);
			*found = true;
			break;
		}
		int sub = st_open_nofollow(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY, 0);
		if (sub < 0) {
			r = sub;
			break;
		}
		r = find_redirect(sub, found);
		close(sub);
	}
	closedir(d);
	return r;
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct st_change *)a)->path, ((const struct st_change *)b)->path);
}

int ovl_changes(struct st_driver *d, const char *id, const char *parent, struct st_changes *out,
		struct st_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!native(d, id, parent))
		return st_naive_changes(d, id, parent, out, err);
	char **links = NULL;
	size_t nlinks = 0;
	int r = ovl_read_lowers(d, id, &links, &nlinks, err);
	if (r < 0)
		return r;
	struct nchg c = {.out = out, .err = err};
	_cleanup_close_ int ufd = ovl_open_diff(d, id, err);
	c.roots = calloc(nlinks ? nlinks : 1, sizeof(*c.roots));
	struct level *root = NULL;
	if (ufd < 0 || !c.roots) {
		r = ufd < 0 ? ufd : st_error_set(err, ENOMEM, "changes");
		goto out;
	}
	for (size_t i = 0; i < nlinks; i++) {
		if ((c.roots[i] = ovl_open_link(d, links[i], err)) < 0) {
			r = c.roots[i];
			goto out;
		}
		c.nroots++;
	}
	if ((r = level_at(&c, 0, &root)) < 0)
		goto out;
	/* the lower roots merge up to the first opaque one */
	for (size_t i = 0; i < nlinks && r >= 0; i++) {
		r = level_push(&c, root, i, "");
		if (is_opaque(c.roots[i], ""))
			break;
	}
	if (r < 0)
		goto out;
	root->hide = is_opaque(ufd, "");
	r = st_walk(ufd, changes_cb, &c, err);
	root = &c.lv[0]; /* the walk may have moved the levels (level_at) */
	if (r >= 0 && root->hide && root->n > 0)
		r = hidden_names(&c, root, ufd, "");
out:
	for (size_t i = 0; i < c.nroots; i++)
		close(c.roots[i]);
	free(c.roots);
	for (size_t i = 0; i < c.nlv; i++)
		level_clear(&c.lv[i]);
	free(c.lv);
	st_strv_free(links, nlinks);
	if (r < 0) {
		st_changes_free(out);
		return st_error_wrap(err, "overlay: changes of layer \"%s\"", id);
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_change);
	return 0;
}

/* -------------------------------------------------------------- tidy */

/* The kernel copies a lower directory up whenever something below it is
 * written, and leaves it in diff/ when that something goes again (a mount
 * point made for a RUN step and removed, a file made and deleted). Such a
 * directory changes nothing, yet diff/ would carry it into the layer tar.
 * It goes when it is empty in diff/, not opaque, absent from the change
 * list (so its lower twin is visible and has its owner, mode and xattrs)
 * and has its lower twin's mtime: the merged view is the same without it.
 * Children go first (post-order); a removal keeps the parent's times. */
struct tidy {
	int *roots;
	size_t nroots;
	struct st_hashmap changed; /* paths of the change list, without the "/" */
};

static bool dir_is_empty(int dirfd, const char *name)
{
	_cleanup_close_ int fd = st_open_nofollow(dirfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return false;
	DIR *dir = fdopendir(fd);
	if (!dir)
		return false;
	fd = -1; /* the DIR owns it now */
	bool empty = true;
	struct dirent *de;
	while (empty && (de = readdir(dir)))
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(dir);
	return empty;
}

static int tidy_cb(void *ctx, const struct st_walk_ent *e)
{
	struct tidy *t = ctx;
	if (!e->post || st_hashmap_get(&t->changed, e->path) || is_opaque(e->dirfd, e->name))
		return 0;
	struct stat us, ls, ps;
	size_t i = 0;
	while (i < t->nroots && fstatat(t->roots[i], e->path, &ls, AT_SYMLINK_NOFOLLOW) < 0)
		i++;
	if (i == t->nroots || !S_ISDIR(ls.st_mode) || fstatat(e->dirfd, e->name, &us, AT_SYMLINK_NOFOLLOW) < 0 ||
	    us.st_mode != ls.st_mode || us.st_uid != ls.st_uid || us.st_gid != ls.st_gid ||
	    us.st_mtim.tv_sec != ls.st_mtim.tv_sec || us.st_mtim.tv_nsec != ls.st_mtim.tv_nsec ||
	    !dir_is_empty(e->dirfd, e->name) || fstat(e->dirfd, &ps) < 0)
		return 0;
	if (unlinkat(e->dirfd, e->name, AT_REMOVEDIR) == 0) {
		struct timespec times[2] = {ps.st_atim, ps.st_mtim};
		futimens(e->dirfd, times);
	}
	return 0;
}

int ovl_tidy(struct st_driver *d, const char *id, struct st_error *err)
{
	char parent[256];
	if (st_drv_parent(d, id, parent, sizeof(parent), err) < 0 || !parent[0] || !native(d, id, parent))
		return 0; /* no lower layers, or diff/ is not the change set: nothing to tell */
	struct st_changes ch;
	int r = ovl_changes(d, id, parent, &ch, err);
	if (r < 0)
		return r;
	struct tidy t = {0};
	st_hashmap_init(&t.changed, NULL);
	char **links = NULL;
	size_t nlinks = 0;
	_cleanup_close_ int ufd = -1;
	for (size_t i = 0; i < ch.n && r >= 0; i++)
		if (st_hashmap_put(&t.changed, ch.v[i].path + 1, (void *)1) < 0)
			r = st_error_set(err, ENOMEM, "overlay: tidy layer \"%s\"", id);
	if (r >= 0)
		r = ovl_read_lowers(d, id, &links, &nlinks, err);
	if (r >= 0 && !(t.roots = calloc(nlinks ? nlinks : 1, sizeof(*t.roots))))
		r = st_error_set(err, ENOMEM, "overlay: tidy layer \"%s\"", id);
	for (size_t i = 0; i < nlinks && r >= 0; i++) {
		if ((r = ovl_open_link(d, links[i], err)) >= 0)
			t.roots[t.nroots++] = r;
	}
	if (r >= 0 && (r = ufd = ovl_open_diff(d, id, err)) >= 0)
		r = st_walk(ufd, tidy_cb, &t, err);
	for (size_t i = 0; i < t.nroots; i++)
		close(t.roots[i]);
	free(t.roots);
	st_strv_free(links, nlinks);
	st_hashmap_free(&t.changed);
	st_changes_free(&ch);
	return r < 0 ? st_error_wrap(err, "overlay: tidy layer \"%s\"", id) : 0;
}
