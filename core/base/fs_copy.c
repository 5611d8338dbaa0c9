/* Tree copy (st_copy_tree): owners, modes, xattrs, hardlinks, sparse files,
 * devices, timestamps, with reflinks where the filesystem has them; regular
 * files are finished on worker threads (filejob.c). */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>

#include "base/base.h"

struct copy_state {
	const struct st_copy_opts *o;
	int dst[PATH_MAX / 2];
	int dstroot;
	struct st_hashmap links; /* "dev:ino" -> first path */
	struct st_error *err;
	/* regular files' data and metadata, finished on worker threads
	 * (made at the first file) */
	struct st_filejobs *jobs;
};

static int copy_special(int sfd, int dfd, const struct st_walk_ent *e)
{
	if (S_ISLNK(e->st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(sfd, e->name, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		return symlinkat(target, dfd, e->name) < 0 ? -errno : 0;
	}
	return mknodat(dfd, e->name, e->st.st_mode & (S_IFMT | 07777), e->st.st_rdev) < 0 ? -errno : 0;
}

/* The metadata a copy gets: the source's, with the caller's overrides. */
static struct stat copy_stat(const struct copy_state *c, const struct stat *src)
{
	struct stat st = *src;
	if (c->o && c->o->own) {
		st.st_uid = c->o->uid;
		st.st_gid = c->o->gid;
	}
	if (c->o && c->o->chmod && !S_ISLNK(st.st_mode))
		st.st_mode = (st.st_mode & S_IFMT) | (c->o->mode & 07777);
	return st;
}

static int copy_entry(void *ctx, const struct st_walk_ent *e)
{
	struct copy_state *c = ctx;
	int dfd = c->dst[e->depth - 1];
	struct st_xattrs x = {0};
	struct stat st = copy_stat(c, &e->st);
	int r;
	if (!e->post && c->o && c->o->skip && c->o->skip(c->o->skip_ctx, e->path))
		return 1;
	if (e->post) {
		r = st_xattrs_read(e->dirfd, e->name, &x);
		if (r < 0)
			return st_error_set(c->err, -r, "read xattrs of \"%s\"", e->path);
		r = st_set_metadata(dfd, e->name, c->dst[e->depth], &st, &x, c->err);
		close(c->dst[e->depth]);
		c->dst[e->depth] = -1;
		st_xattrs_free(&x);
		return r;
	}
	if ((size_t)e->depth + 1 >= ST_ARRAY_SIZE(c->dst))
		return st_error_fail(c->err, ENAMETOOLONG, "copy \"%s\": tree too deep", e->path);
	if (S_ISDIR(e->st.st_mode)) {
		if (mkdirat(dfd, e->name, 0700) < 0 && errno != EEXIST)
			return st_error_set(c->err, errno, "mkdir \"%s\"", e->path);
		int fd = st_open_nofollow(dfd, e->name, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0)
			return st_error_set(c->err, -fd, "open \"%s\"", e->path);
		c->dst[e->depth] = fd;
		return 0;
	}
	if (c->o && c->o->merge) { /* replace what is there */
		struct stat old;
		if (fstatat(dfd, e->name, &old, AT_SYMLINK_NOFOLLOW) == 0 && (r = st_rm_rf_at(dfd, e->name, c->err)) < 0)
			return r;
	}
	if (!S_ISDIR(e->st.st_mode) && e->st.st_nlink > 1) {
		char key[64];
		snprintf(key, sizeof(key), "%" PRIu64 ":%" PRIu64, (uint64_t)e->st.st_dev, (uint64_t)e->st.st_ino);
		const char *first = st_hashmap_get(&c->links, key);
		if (first) {
			if (linkat(c->dstroot, first, dfd, e->name, 0) < 0)
				return st_error_set(c->err, errno, "link \"%s\" to \"%s\"", e->path, first);
			return 0;
		}
		char *p = strdup(e->path);
		if (!p || st_hashmap_put(&c->links, key, p) < 0) {
			free(p);
			return st_error_set(c->err, ENOMEM, "copy \"%s\"", e->path);
		}
	}
	r = st_xattrs_read(e->dirfd, e->name, &x);
	if (r < 0)
		return st_error_set(c->err, -r, "read xattrs of \"%s\"", e->path);
	_cleanup_close_ int out = -1;
	if (S_ISREG(e->st.st_mode) && (c->jobs || st_filejobs_new(&c->jobs) == 0)) {
		struct st_filejob j = {.src = -1, .dst = -1, .src_st = e->st, .meta = true, .st = st, .x = x};
		snprintf(j.what, sizeof(j.what), "copy \"%s\"", e->path);
		j.src = st_open_nofollow(e->dirfd, e->name, O_RDONLY, 0);
		if (j.src < 0) {
			st_xattrs_free(&x);
			return st_error_set(c->err, -j.src, "open \"%s\"", e->path);
		}
		j.dst = openat(dfd, e->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (j.dst < 0) {
			r = errno;
			close(j.src);
			st_xattrs_free(&x);
			return st_error_set(c->err, r, "copy \"%s\"", e->path);
		}
		return st_filejobs_add(c->jobs, &j, c->err); /* takes the fds and x */
	}
	if (S_ISREG(e->st.st_mode)) {
		_cleanup_close_ int in = st_open_nofollow(e->dirfd, e->name, O_RDONLY, 0);
		if (in < 0) {
			st_xattrs_free(&x);
			return st_error_set(c->err, -in, "open \"%s\"", e->path);
		}
		out = openat(dfd, e->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0 || (r = st_copy_file_data(in, out, &e->st)) < 0) {
			r = out < 0 ? -errno : r;
			st_xattrs_free(&x);
			return st_error_set(c->err, -r, "copy \"%s\"", e->path);
		}
	} else if ((r = copy_special(e->dirfd, dfd, e)) < 0) {
		st_xattrs_free(&x);
		return st_error_set(c->err, -r, "create \"%s\"", e->path);
	}
	r = st_set_metadata(dfd, e->name, out, &st, &x, c->err);
	st_xattrs_free(&x);
	return r < 0 ? st_error_wrap(c->err, "copy \"%s\"", e->path) : 0;
}

int st_copy_tree(int srcfd, int dstfd, struct st_error *err)
{
	return st_copy_tree_opts(srcfd, dstfd, NULL, err);
}

int st_copy_tree_opts(int srcfd, int dstfd, const struct st_copy_opts *o, struct st_error *err)
{
	struct copy_state *c = calloc(1, sizeof(*c));
	if (!c)
		return st_error_set(err, ENOMEM, "copy tree");
	c->o = o;
	for (size_t i = 0; i < ST_ARRAY_SIZE(c->dst); i++)
		c->dst[i] = -1;
	c->dst[0] = dstfd;
	c->dstroot = dstfd;
	c->err = err;
	st_hashmap_init(&c->links, free);
	int r = st_walk(srcfd, copy_entry, c, err);
	if (c->jobs) {
		/* every file complete before the copy counts as done */
		struct st_error jerr;
		int jr = st_filejobs_finish(c->jobs, &jerr);
		if (r >= 0 && jr < 0) {
			*err = jerr;
			r = jr;
		}
		st_filejobs_free(c->jobs);
	}
	for (size_t i = 1; i < ST_ARRAY_SIZE(c->dst); i++)
		if (c->dst[i] >= 0)
			close(c->dst[i]);
	st_hashmap_free(&c->links);
	free(c);
	if (r < 0)
		return r;
	/* the root's own metadata */
	struct stat st;
	struct st_xattrs x = {0};
	if (o && o->keep_root)
		return 0;
	if (fstat(srcfd, &st) < 0)
		return st_error_set(err, errno, "stat source root");
	struct copy_state tmp = {.o = o};
	st = copy_stat(&tmp, &st);
	st_xattrs_read(srcfd, "", &x);
	r = st_set_metadata(dstfd, "", dstfd, &st, &x, err);
	st_xattrs_free(&x);
	return r;
}
