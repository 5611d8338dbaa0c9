/* Writing layer tars (from a whole tree or from a change list) and computing
 * the change list between two trees: the generic ("naive") diff. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "base/base.h"
#include "archive/archive.h"

/* ------------------------------------------------------------ tar writer */

struct tw {
	struct archive *a;
	struct archive_entry *e;
	struct st_hashmap links; /* "dev:ino" -> first path */
	enum st_whiteout_format wh;
	struct st_writer *w;
	struct st_error *err;
	int werr;
};

static la_ssize_t tw_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct tw *t = ctx;
	int r = t->w->write(t->w->ctx, buf, len);
	if (r < 0) {
		t->werr = r;
		archive_set_error(a, -r, "write layer tar: %s", strerror(-r));
		return -1;
	}
	return (la_ssize_t)len;
}

static int tw_open(struct tw *t, enum st_whiteout_format wh, struct st_writer *w, struct st_error *err)
{
	memset(t, 0, sizeof(*t));
	t->wh = wh;
	t->w = w;
	t->err = err;
	st_hashmap_init(&t->links, free);
	t->a = archive_write_new();
	t->e = archive_entry_new();
	if (!t->a || !t->e)
		return st_error_set(err, ENOMEM, "layer tar");
	archive_write_set_format_pax_restricted(t->a);
	/* 64 KiB writes (one per entry piece made a layer of small files a
	 * stream of tiny writes: 3 syscalls and a reader wake-up per file); the
	 * last block is not padded, so the bytes are the same as unblocked */
	archive_write_set_bytes_per_block(t->a, 65536);
	archive_write_set_bytes_in_last_block(t->a, 1);
	if (archive_write_open2(t->a, t, NULL, tw_write, NULL, NULL) != ARCHIVE_OK)
		return st_error_fail(err, EIO, "layer tar: %s", archive_error_string(t->a));
	return 0;
}

static int tw_fail(struct tw *t, const char *path)
{
	int e = t->werr ? -t->werr : (archive_errno(t->a) > 0 ? archive_errno(t->a) : EIO);
	return st_error_fail(t->err, e, "layer tar entry \"%s\": %s", path, archive_error_string(t->a));
}

static int tw_close(struct tw *t, int r)
{
	if (r >= 0 && archive_write_close(t->a) != ARCHIVE_OK)
		r = tw_fail(t, "(end)");
	if (t->a)
		archive_write_free(t->a);
	if (t->e)
		archive_entry_free(t->e);
	st_hashmap_free(&t->links);
	return r;
}

/* An empty regular file entry (whiteouts). */
static int tw_marker(struct tw *t, const char *path, mode_t mode, uid_t uid, gid_t gid, time_t mtime)
{
	archive_entry_clear(t->e);
	archive_entry_set_pathname(t->e, path);
	archive_entry_set_filetype(t->e, AE_IFREG);
	archive_entry_set_perm(t->e, mode);
	archive_entry_set_uid(t->e, uid);
	archive_entry_set_gid(t->e, gid);
	archive_entry_set_size(t->e, 0);
	archive_entry_set_mtime(t->e, mtime, 0);
	if (archive_write_header(t->a, t->e) < ARCHIVE_WARN)
		return tw_fail(t, path);
	return 0;
}

static int tw_data(struct tw *t, int fd, const struct stat *st, const char *path)
{
	static const char zeros[65536];
	char buf[65536];
	off_t pos = 0;
	bool sparse = archive_entry_sparse_count(t->e) > 0;
	while (pos < st->st_size) {
		off_t data = pos, hole = st->st_size;
		if (sparse) {
			data = lseek(fd, pos, SEEK_DATA);
			if (data < 0)
				data = st->st_size;
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0)
				hole = st->st_size;
			while (pos < data) { /* the writer skips holes itself */
				size_t n = (size_t)(data - pos) < sizeof(zeros) ? (size_t)(data - pos) : sizeof(zeros);
				if (archive_write_data(t->a, zeros, n) < 0)
					return tw_fail(t, path);
				pos += (off_t)n;
			}
		}
		while (pos < hole) {
			size_t want = (size_t)(hole - pos) < sizeof(buf) ? (size_t)(hole - pos) : sizeof(buf);
			ssize_t n = pread(fd, buf, want, pos);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return st_error_set(t->err, errno, "read \"%s\"", path);
			if (n == 0)
				return st_error_fail(t->err, EIO, "read \"%s\": file shrank while being read", path);
			if (archive_write_data(t->a, buf, (size_t)n) < 0)
				return tw_fail(t, path);
			pos += n;
		}
	}
	return 0;
}

static int tw_sparse_map(struct tw *t, int fd, const struct stat *st)
{
	if ((int64_t)st->st_blocks * 512 >= (int64_t)st->st_size)
		return 0;
	off_t pos = 0;
	while (pos < st->st_size) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		if (data < 0)
			break;
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			hole = st->st_size;
		archive_entry_sparse_add_entry(t->e, data, hole - data);
		pos = hole;
	}
	if (archive_entry_sparse_count(t->e) == 0) /* all hole: one empty block at the end */
		archive_entry_sparse_add_entry(t->e, st->st_size, 0);
	return 0;
}

/* One filesystem entry as a tar entry (directories without their children). */
static int tw_entry(struct tw *t, int dirfd, const char *name, const char *path, const struct stat *st)
{
	if (S_ISSOCK(st->st_mode))
		return 0;
	if (t->wh == ST_WH_AUFS && st_str_has_prefix(name, ST_WH_META_PREFIX) && strcmp(name, ST_WH_OPAQUE) != 0)
		return 0;
	if (t->wh == ST_WH_OVERLAY && S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0)) {
		char wh[PATH_MAX];
		const char *slash = strrchr(path, '/');
		int plen = slash ? (int)(slash - path) + 1 : 0;
		snprintf(wh, sizeof(wh), "%.*s" ST_WH_PREFIX "%s", plen, path, name);
		return tw_marker(t, wh, 0600, st->st_uid, st->st_gid, st->st_mtim.tv_sec);
	}
	archive_entry_clear(t->e);
	archive_entry_set_pathname(t->e, path);
	archive_entry_copy_stat(t->e, st);
	archive_entry_unset_atime(t->e);
	archive_entry_unset_ctime(t->e);
	archive_entry_unset_birthtime(t->e);
	archive_entry_set_mtime(t->e, st->st_mtim.tv_sec, 0);
	archive_entry_set_ino64(t->e, 0);
	archive_entry_set_dev(t->e, 0);
	archive_entry_set_nlink(t->e, 1);
	if (!S_ISCHR(st->st_mode) && !S_ISBLK(st->st_mode))
		archive_entry_set_rdev(t->e, 0);
	if (!S_ISREG(st->st_mode))
		archive_entry_set_size(t->e, 0);

	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		char key[64];
		snprintf(key, sizeof(key), "%" PRIu64 ":%" PRIu64, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
		const char *first = st_hashmap_get(&t->links, key);
		if (first) {
			archive_entry_set_hardlink(t->e, first);
			archive_entry_set_size(t->e, 0);
			if (archive_write_header(t->a, t->e) < ARCHIVE_WARN)
				return tw_fail(t, path);
			return 0;
		}
		char *p = strdup(path);
		if (!p || st_hashmap_put(&t->links, key, p) < 0) {
			free(p);
			return st_error_set(t->err, ENOMEM, "layer tar");
		}
	}
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (n < 0)
			return st_error_set(t->err, errno, "readlink \"%s\"", path);
		target[n] = '\0';
		archive_entry_set_symlink(t->e, target);
	}
	/* a file with data is opened anyway: its xattrs come from the fd,
	 * without another path lookup (through /proc) */
	_cleanup_close_ int fd = -1;
	if (S_ISREG(st->st_mode) && st->st_size > 0) {
		fd = st_open_nofollow(dirfd, name, O_RDONLY, 0);
		if (fd < 0)
			return st_error_set(t->err, -fd, "open \"%s\"", path);
	}
	struct st_xattrs x = {0};
	int r = fd >= 0 ? st_xattrs_read_fd(fd, &x) : st_xattrs_read(dirfd, name, &x);
	if (r < 0)
		return st_error_set(t->err, -r, "read xattrs of \"%s\"", path);
	bool opaque = false;
	for (size_t i = 0; i < x.n; i++) {
		if (st_str_has_prefix(x.v[i].name, "trusted.overlay.")) {
			if (t->wh == ST_WH_OVERLAY && strcmp(x.v[i].name, "trusted.overlay.opaque") == 0 &&
			    x.v[i].len == 1 && ((char *)x.v[i].value)[0] == 'y')
				opaque = true;
			continue;
		}
		archive_entry_xattr_add_entry(t->e, x.v[i].name, x.v[i].value, x.v[i].len);
	}
	st_xattrs_free(&x);

	if (fd >= 0)
		tw_sparse_map(t, fd, st);
	if (archive_write_header(t->a, t->e) < ARCHIVE_WARN)
		return tw_fail(t, path);
	if (fd >= 0 && (r = tw_data(t, fd, st, path)) < 0)
		return r;
	if (opaque) {
		char opq[PATH_MAX];
		snprintf(opq, sizeof(opq), "%s/" ST_WH_OPAQUE, path);
		return tw_marker(t, opq, st->st_mode & 07777, st->st_uid, st->st_gid, st->st_mtim.tv_sec);
	}
	return 0;
}

static int tree_cb(void *ctx, const struct st_walk_ent *e)
{
	struct tw *t = ctx;
	if (e->post)
		return 0;
	/* aufs' own directories (.wh..wh.plnk, .wh..wh.orph): their files are
	 * not layer content either, so skip the children as well */
	if (t->wh == ST_WH_AUFS && S_ISDIR(e->st.st_mode) && st_str_has_prefix(e->name, ST_WH_META_PREFIX) &&
	    strcmp(e->name, ST_WH_OPAQUE) != 0)
		return 1;
	return tw_entry(ctx, e->dirfd, e->name, e->path, &e->st);
}

int st_archive_write_tree(int rootfd, enum st_whiteout_format wh, struct st_writer *w,
			  struct st_error *err)
{
	struct tw t;
	int r = tw_open(&t, wh, w, err);
	if (r >= 0)
		r = st_walk(rootfd, tree_cb, &t, err);
	return tw_close(&t, r);
}

/* Split "/a/b/c" into an open parent directory and "c". */
static int open_change_parent(int rootfd, const char *path, char *base, size_t blen, struct st_error *err)
{
	const char *rel = path[0] == '/' ? path + 1 : path;
	const char *slash = strrchr(rel, '/');
	snprintf(base, blen, "%s", slash ? slash + 1 : rel);
	if (!slash)
		return dup(rootfd);
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel), rel);
	int fd = st_open_nofollow(rootfd, parent, O_RDONLY | O_DIRECTORY, 0);
	return fd < 0 ? st_error_set(err, -fd, "open \"%s\"", parent) : fd;
}

int st_archive_write_changes(int rootfd, const struct st_changes *c, struct st_writer *w,
			     struct st_error *err)
{
	struct tw t;
	int r = tw_open(&t, ST_WH_DELETE, w, err);
	for (size_t i = 0; r >= 0 && i < c->n; i++) {
		const char *path = c->v[i].path;
		const char *rel = path[0] == '/' ? path + 1 : path;
		char base[NAME_MAX + 1];
		_cleanup_close_ int pfd = open_change_parent(rootfd, path, base, sizeof(base), err);
		if (pfd < 0) {
			r = pfd;
			break;
		}
		if (c->v[i].kind == ST_CHANGE_DELETE) {
			char wh[PATH_MAX];
			struct stat pst;
			int plen = (int)(strlen(rel) - strlen(base));
			snprintf(wh, sizeof(wh), "%.*s" ST_WH_PREFIX "%s", plen, rel, base);
			time_t mt = fstat(pfd, &pst) == 0 ? pst.st_mtim.tv_sec : 0;
			r = tw_marker(&t, wh, 0, 0, 0, mt);
			continue;
		}
		struct stat st;
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = st_error_set(err, errno, "stat \"%s\"", path);
			break;
		}
		r = tw_entry(&t, pfd, base, rel, &st);
	}
	return tw_close(&t, r);
}

/* --------------------------------------------------------- tree compare */

struct cmp {
	struct st_changes *out;
	const struct timespec *settled;
	struct st_error *err;
	char path[PATH_MAX];
};

static int add_change(struct st_changes *c, const char *path, char kind)
{
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 64;
		struct st_change *nv = realloc(c->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		c->v = nv;
		c->cap = nc;
	}
	char *p = malloc(strlen(path) + 2);
	if (!p)
		return -ENOMEM;
	p[0] = '/';
	strcpy(p + 1, path);
	c->v[c->n].path = p;
	c->v[c->n].kind = kind;
	c->n++;
	return 0;
}

struct added {
	struct cmp *c;
	const char *prefix;
};

static int added_cb(void *ctx, const struct st_walk_ent *e)
{
	struct added *a = ctx;
	if (e->post)
		return 0;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", a->prefix, e->path);
	return add_change(a->c->out, p, ST_CHANGE_ADD) < 0 ? st_error_set(a->c->err, ENOMEM, "changes") : 0;
}

static bool same_content(int nfd, int ofd, const char *name, off_t size)
{
	_cleanup_close_ int a = st_open_nofollow(nfd, name, O_RDONLY, 0);
	_cleanup_close_ int b = st_open_nofollow(ofd, name, O_RDONLY, 0);
	if (a < 0 || b < 0)
		return false;
	char ba[65536], bb[65536];
	off_t pos = 0;
	while (pos < size) {
		ssize_t x = pread(a, ba, sizeof(ba), pos), y = pread(b, bb, sizeof(bb), pos);
		if (x <= 0 || x != y || memcmp(ba, bb, (size_t)x) != 0)
			return false;
		pos += x;
	}
	return true;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

bool st_entry_changed(int nfd, int ofd, const char *name, const struct stat *n, const struct stat *o,
		      const struct timespec *settled, bool written)
{
	if (n->st_mode != o->st_mode || n->st_uid != o->st_uid || n->st_gid != o->st_gid ||
	    n->st_rdev != o->st_rdev)
		return true;
	if (!S_ISDIR(n->st_mode) &&
	    (n->st_size != o->st_size || n->st_mtim.tv_sec != o->st_mtim.tv_sec ||
	     n->st_mtim.tv_nsec != o->st_mtim.tv_nsec))
		return true;
	/* a snapshot shares untouched inodes with its parent */
	bool untouched = !written && n->st_ino == o->st_ino && n->st_ctim.tv_sec == o->st_ctim.tv_sec &&
			 n->st_ctim.tv_nsec == o->st_ctim.tv_nsec;
	if (untouched)
		return false;
	if (S_ISLNK(n->st_mode)) {
		char a[PATH_MAX], b[PATH_MAX];
		ssize_t x = readlinkat(nfd, name, a, sizeof(a)), y = readlinkat(ofd, name, b, sizeof(b));
		if (x != y || x < 0 || memcmp(a, b, (size_t)x) != 0)
			return true;
	}
	struct st_xattrs xa = {0}, xb = {0};
	st_xattrs_read(nfd, name, &xa);
	st_xattrs_read(ofd, name, &xb);
	bool differ = !st_xattrs_equal(&xa, &xb);
	st_xattrs_free(&xa);
	st_xattrs_free(&xb);
	if (differ)
		return true;
	/* same size and mtime: a write that kept the mtime shows only in the
	 * bytes; an inode not touched since the layer was made needs no look */
	if (!written && settled && ts_before(&n->st_ctim, settled))
		return false;
	if (S_ISREG(n->st_mode) && n->st_size > 0 && !same_content(nfd, ofd, name, n->st_size))
		return true;
	return false;
}

static int cmp_dir(struct cmp *c, int nfd, int ofd, size_t plen, bool *changed)
{
	char **nn = NULL, **on = NULL;
	size_t nn_n = 0, on_n = 0;
	int r = st_list_dir(nfd, &nn, &nn_n);
	if (r >= 0 && ofd >= 0)
		r = st_list_dir(ofd, &on, &on_n);
	if (r < 0) {
		r = st_error_set(c->err, -r, "list \"/%s\"", c->path);
		goto out;
	}
	size_t i = 0, j = 0;
	while (r >= 0 && (i < nn_n || j < on_n)) {
		int k = i >= nn_n ? 1 : j >= on_n ? -1 : strcmp(nn[i], on[j]);
		const char *name = k <= 0 ? nn[i] : on[j];
		size_t nl = strlen(name);
		if (plen + nl + 2 >= sizeof(c->path)) {
			r = st_error_fail(c->err, ENAMETOOLONG, "path too long under \"/%s\"", c->path);
			break;
		}
		size_t sub = plen;
		if (plen)
			c->path[sub++] = '/';
		memcpy(c->path + sub, name, nl + 1);
		struct stat ns, os;
		if (k > 0) { /* only in the parent: deleted */
			*changed = true;
			r = add_change(c->out, c->path, ST_CHANGE_DELETE);
			j++;
		} else if (fstatat(nfd, name, &ns, AT_SYMLINK_NOFOLLOW) < 0) {
			r = st_error_set(c->err, errno, "stat \"/%s\"", c->path);
		} else if (k < 0) { /* only in the layer: added, with everything below */
			*changed = true;
			r = add_change(c->out, c->path, ST_CHANGE_ADD);
			if (r >= 0 && S_ISDIR(ns.st_mode)) {
				_cleanup_close_ int sfd = st_open_nofollow(nfd, name, O_RDONLY | O_DIRECTORY, 0);
				struct added a = {c, NULL};
				_cleanup_free_ char *prefix = strdup(c->path);
				a.prefix = prefix;
				r = sfd < 0 || !prefix ? st_error_set(c->err, sfd < 0 ? -sfd : ENOMEM, "open \"/%s\"", c->path)
						       : st_walk(sfd, added_cb, &a, c->err);
			}
			i++;
		} else if (fstatat(ofd, name, &os, AT_SYMLINK_NOFOLLOW) < 0) {
			r = st_error_set(c->err, errno, "stat parent's \"/%s\"", c->path);
		} else {
			bool self = st_entry_changed(nfd, ofd, name, &ns, &os, c->settled, false);
			if (self) {
				*changed = true;
				r = add_change(c->out, c->path, ST_CHANGE_MODIFY);
			}
			if (r >= 0 && S_ISDIR(ns.st_mode)) {
				bool inner = false;
				_cleanup_close_ int sn = st_open_nofollow(nfd, name, O_RDONLY | O_DIRECTORY, 0);
				_cleanup_close_ int so = S_ISDIR(os.st_mode) ? st_open_nofollow(ofd, name, O_RDONLY | O_DIRECTORY, 0) : -1;
				if (sn < 0)
					r = st_error_set(c->err, -sn, "open \"/%s\"", c->path);
				else
					r = cmp_dir(c, sn, so, sub + nl, &inner);
				/* a directory with changes inside is listed too (its
				 * permissions travel with the layer) */
				if (r >= 0 && inner && !self) {
					*changed = true;
					memcpy(c->path + sub, name, nl + 1);
					r = add_change(c->out, c->path, ST_CHANGE_MODIFY);
				}
			}
			i++;
			j++;
		}
		if (r == -ENOMEM)
			r = st_error_set(c->err, ENOMEM, "changes");
		c->path[plen] = '\0';
	}
out:
	st_strv_free(nn, nn_n);
	st_strv_free(on, on_n);
	return r;
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct st_change *)a)->path, ((const struct st_change *)b)->path);
}

int st_changes_compute(int layerfd, int parentfd, const struct timespec *settled,
		       struct st_changes *out, struct st_error *err)
{
	struct cmp c = {.out = out, .err = err, .settled = settled};
	bool changed = false;
	memset(out, 0, sizeof(*out));
	int r = cmp_dir(&c, layerfd, parentfd, 0, &changed);
	if (r < 0) {
		st_changes_free(out);
		return r;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_change);
	return 0;
}

int64_t st_changes_size(int layerfd, const struct st_changes *c, struct st_error *err)
{
	struct st_hashmap seen;
	st_hashmap_init(&seen, NULL);
	int64_t total = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].kind == ST_CHANGE_DELETE)
			continue;
		struct stat st;
		char base[NAME_MAX + 1];
		_cleanup_close_ int pfd = open_change_parent(layerfd, c->v[i].path, base, sizeof(base), err);
		if (pfd < 0 || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			st_hashmap_free(&seen);
			return pfd < 0 ? pfd : st_error_set(err, errno, "stat \"%s\"", c->v[i].path);
		}
		if (!S_ISREG(st.st_mode))
			continue;
		char key[64];
		snprintf(key, sizeof(key), "%" PRIu64 ":%" PRIu64, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
		if (st_hashmap_get(&seen, key))
			continue;
		st_hashmap_put(&seen, key, (void *)1);
		total += st.st_size;
	}
	st_hashmap_free(&seen);
	return total;
}
