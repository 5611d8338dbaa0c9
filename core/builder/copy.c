/* COPY and ADD: which files the sources name (globs, .dockerignore), their
 * digest for the build cache, and the copy into the step's root filesystem
 * with Docker's directory semantics. */
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>

#include "base/base.h"
#include "archive/archive.h"
#include "builder/builder.h"
#include "dockerfile.h"

/* ------------------------------------------------------------ matching */

static bool ignored(const struct st_copy_src *src, const char *rel)
{
	return src->is_context && src->ignore && st_dockerignore_match(src->ignore, rel);
}

/* "./a//b/" -> "a/b"; "" is the base itself. Leaving the base fails. */
static int clean_src(const char *raw, char *out, size_t len, struct st_error *err)
{
	size_t o = 0;
	int depth = 0;
	const char *p = raw;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (depth == 0)
				return st_error_fail(err, EPERM, "forbidden path outside the build context: %s", raw);
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			depth--;
			p = end;
			continue;
		}
		if (o + n + 2 > len)
			return st_error_fail(err, ENAMETOOLONG, "source path too long: %s", raw);
		if (o)
			out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		depth++;
		p = end;
	}
	out[o] = '\0';
	return 0;
}

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Expand pattern segment by segment (Go filepath.Match: '*' does not cross '/'). */
static int glob_expand(const struct st_copy_src *src, const char *dir, const char *pattern, char ***out,
		       size_t *n, struct st_error *err)
{
	const char *slash = strchr(pattern, '/');
	char seg[NAME_MAX + 1];
	snprintf(seg, sizeof(seg), "%.*s", slash ? (int)(slash - pattern) : (int)strlen(pattern), pattern);
	_cleanup_close_ int dfd = dir[0] ? st_open_nofollow(src->basefd, dir, O_RDONLY | O_DIRECTORY, 0)
					 : dup(src->basefd);
	if (dfd < 0)
		return 0;
	char **names;
	size_t nn;
	if (st_list_dir(dfd, &names, &nn) < 0)
		return 0;
	int r = 0;
	for (size_t i = 0; i < nn && r >= 0; i++) {
		if (has_glob(seg) ? fnmatch(seg, names[i], 0) != 0 : strcmp(seg, names[i]) != 0)
			continue;
		char rel[PATH_MAX];
		snprintf(rel, sizeof(rel), "%s%s%s", dir, dir[0] ? "/" : "", names[i]);
		if (ignored(src, rel))
			continue;
		if (slash && slash[1])
			r = glob_expand(src, rel, slash + 1, out, n, err);
		else if (st_strv_push(out, n, rel) < 0)
			r = st_error_set(err, ENOMEM, "COPY");
	}
	st_strv_free(names, nn);
	return r;
}

/* The paths (relative to the base) that the sources name, in order. */
static int resolve_sources(const struct st_copy_src *src, const struct st_copy_req *req, char ***out, size_t *n,
			   struct st_error *err)
{
	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < req->nsrcs; i++) {
		char clean[PATH_MAX];
		int r = clean_src(req->srcs[i], clean, sizeof(clean), err);
		if (r < 0)
			return r;
		size_t before = *n;
		if (has_glob(clean)) {
			if ((r = glob_expand(src, "", clean, out, n, err)) < 0)
				return r;
		} else {
			struct stat st;
			bool exists = clean[0] ? fstatat(src->basefd, clean, &st, AT_SYMLINK_NOFOLLOW) == 0 : true;
			if (exists && clean[0]) {
				/* the path itself may not pass through a symlink out of the base */
				int fd = st_open_beneath(src->basefd, clean, O_PATH | O_NOFOLLOW, 0);
				exists = fd >= 0;
				if (fd >= 0)
					close(fd);
			}
			if (exists && !ignored(src, clean) && st_strv_push(out, n, clean) < 0)
				return st_error_set(err, ENOMEM, "COPY");
		}
		if (*n == before)
			return st_error_fail(err, ENOENT,
					     "file not found in build context or excluded by .dockerignore: %s", req->srcs[i]);
	}
	return 0;
}

/* --------------------------------------------------------------- digest */

struct digest_ctx {
	struct st_sha256 *h;
	const struct st_copy_src *src;
	const char *prefix;
	struct st_error *err;
};

static int hash_file(struct st_sha256 *h, int dirfd, const char *name)
{
	_cleanup_close_ int fd = st_open_nofollow(dirfd, name, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		st_sha256_update(h, buf, (size_t)n);
	return n < 0 ? -errno : 0;
}

static int digest_entry(struct digest_ctx *d, int dirfd, const char *name, const char *rel, const struct stat *st)
{
	char line[PATH_MAX + 128];
	int n = snprintf(line, sizeof(line), "%s%c%o%c%" PRId64 "%c", rel, 0, (unsigned)st->st_mode, 0,
			 (int64_t)(S_ISREG(st->st_mode) ? st->st_size : 0), 0);
	st_sha256_update(d->h, line, (size_t)n);
	if (S_ISLNK(st->st_mode)) {
		char t[PATH_MAX];
		ssize_t k = readlinkat(dirfd, name, t, sizeof(t));
		if (k > 0)
			st_sha256_update(d->h, t, (size_t)k);
	} else if (S_ISREG(st->st_mode)) {
		int r = hash_file(d->h, dirfd, name);
		if (r < 0)
			return st_error_set(d->err, -r, "read \"%s\"", rel);
	}
	st_sha256_update(d->h, "\n", 1);
	return 0;
}

static int digest_cb(void *ctx, const struct st_walk_ent *e)
{
	struct digest_ctx *d = ctx;
	if (e->post)
		return 0;
	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/%s", d->prefix, e->path);
	if (ignored(d->src, rel))
		return S_ISDIR(e->st.st_mode) ? 1 : 0;
	return digest_entry(d, e->dirfd, e->name, rel, &e->st);
}

int st_copy_digest(const struct st_copy_src *src, const struct st_copy_req *req, char digest[ST_DIGEST_LEN + 1],
		   struct st_error *err)
{
	char **paths;
	size_t n;
	int r = resolve_sources(src, req, &paths, &n, err);
	if (r < 0)
		return r;
	struct st_sha256 h;
	if ((r = st_sha256_init(&h)) < 0) {
		st_strv_free(paths, n);
		return st_error_set(err, -r, "COPY");
	}
	struct digest_ctx d = {.h = &h, .src = src, .err = err};
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct stat st;
		const char *rel = paths[i][0] ? paths[i] : ".";
		if (fstatat(src->basefd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = st_error_set(err, errno, "stat \"%s\"", rel);
			break;
		}
		char base[PATH_MAX];
		snprintf(base, sizeof(base), "%s", rel);
		char *slash = strrchr(base, '/');
		_cleanup_close_ int pfd = slash ? (*slash = '\0', st_open_nofollow(src->basefd, base, O_RDONLY | O_DIRECTORY, 0))
						: dup(src->basefd);
		const char *name = slash ? slash + 1 : rel;
		if (pfd < 0) {
			r = st_error_set(err, -pfd, "open \"%s\"", rel);
			break;
		}
		if ((r = digest_entry(&d, pfd, name, rel, &st)) < 0)
			break;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sfd = st_open_nofollow(src->basefd, rel, O_RDONLY | O_DIRECTORY, 0);
			d.prefix = rel;
			r = sfd < 0 ? st_error_set(err, -sfd, "open \"%s\"", rel) : st_walk(sfd, digest_cb, &d, err);
		}
	}
	st_strv_free(paths, n);
	if (r < 0) {
		st_sha256_abort(&h);
		return r;
	}
	st_sha256_final(&h, digest);
	return 0;
}

/* ----------------------------------------------------------------- copy */

struct skip_ctx {
	const struct st_copy_src *src;
	const char *prefix;
};

static bool skip_ignored(void *ctx, const char *path)
{
	struct skip_ctx *s = ctx;
	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s%s%s", s->prefix, s->prefix[0] ? "/" : "", path);
	return ignored(s->src, rel);
}

/* Does the file start like a tar archive (plain or compressed)? */
static bool is_archive(int fd)
{
	unsigned char b[512];
	ssize_t n = pread(fd, b, sizeof(b), 0);
	if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		return true; /* gzip */
	if (n >= 3 && memcmp(b, "BZh", 3) == 0)
		return true;
	if (n >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0)
		return true;
	if (n >= 4 && memcmp(b, "\x28\xb5\x2f\xfd", 4) == 0)
		return true; /* zstd */
	return n >= 262 && memcmp(b + 257, "ustar", 5) == 0;
}

static int unpack(int fd, int destfd, const char *rel, struct st_error *err)
{
	struct st_reader rd;
	st_reader_fd(&rd, &fd);
	struct st_tar_in in;
	int r = st_tar_in_init(&in, &rd, err);
	if (r < 0)
		return st_error_wrap(err, "ADD \"%s\"", rel);
	struct st_apply_opts o = {.wh = ST_WH_AUFS};
	int64_t n = st_archive_apply(destfd, &in, &o, err);
	st_tar_in_free(&in);
	return n < 0 ? st_error_wrap(err, "ADD \"%s\"", rel) : 0;
}

/* Copy one non-directory source to dest (a full path in the image). */
static int copy_file(const struct st_copy_req *req, int pfd, const char *name, const struct stat *st, int rootfd,
		     const char *dest, struct st_error *err)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dest);
	char *slash = strrchr(parent, '/');
	const char *base = slash ? slash + 1 : parent;
	char bname[NAME_MAX + 1];
	snprintf(bname, sizeof(bname), "%s", base);
	if (slash)
		*slash = '\0';
	int r = st_mkdir_in_root(rootfd, parent[0] ? parent : "/", 0755, req->chown ? req->uid : 0,
				 req->chown ? req->gid : 0, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = st_open_in_root(rootfd, parent[0] ? parent : "/", O_RDONLY | O_DIRECTORY, 0);
	if (dfd < 0)
		return st_error_set(err, -dfd, "open \"%s\" in the image", parent);
	struct stat old;
	if (fstatat(dfd, bname, &old, AT_SYMLINK_NOFOLLOW) == 0 && (r = st_rm_rf_at(dfd, bname, err)) < 0)
		return r;
	struct stat meta = *st;
	meta.st_uid = req->chown ? req->uid : 0;
	meta.st_gid = req->chown ? req->gid : 0;
	if (req->chmod)
		meta.st_mode = (meta.st_mode & S_IFMT) | (req->mode & 07777);
	_cleanup_close_ int out = -1;
	if (S_ISREG(st->st_mode)) {
		_cleanup_close_ int in = st_open_nofollow(pfd, name, O_RDONLY, 0);
		if (in < 0)
			return st_error_set(err, -in, "open \"%s\"", name);
		out = openat(dfd, bname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return st_error_set(err, errno, "create \"%s\" in the image", dest);
		if ((r = st_copy_file_data(in, out, st)) < 0)
			return st_error_set(err, -r, "copy to \"%s\"", dest);
	} else if (S_ISLNK(st->st_mode)) {
		char t[PATH_MAX];
		ssize_t k = readlinkat(pfd, name, t, sizeof(t) - 1);
		if (k < 0)
			return st_error_set(err, errno, "readlink \"%s\"", name);
		t[k] = '\0';
		if (symlinkat(t, dfd, bname) < 0)
			return st_error_set(err, errno, "symlink \"%s\" in the image", dest);
	} else if (mknodat(dfd, bname, st->st_mode, st->st_rdev) < 0) {
		return st_error_set(err, errno, "create \"%s\" in the image", dest);
	}
	return st_set_metadata(dfd, bname, out, &meta, NULL, err);
}

int st_copy_run(const struct st_copy_src *src, const struct st_copy_req *req, int rootfd, struct st_error *err)
{
	char **paths;
	size_t n;
	int r = resolve_sources(src, req, &paths, &n, err);
	if (r < 0)
		return r;
	/* several sources, or a dest ending in '/', make dest a directory */
	bool dest_dir = req->dest_is_dir || n > 1;
	struct stat dst;
	_cleanup_close_ int probe = st_open_in_root(rootfd, req->dest, O_PATH, 0);
	if (probe >= 0 && fstat(probe, &dst) == 0 && S_ISDIR(dst.st_mode))
		dest_dir = true;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const char *rel = paths[i][0] ? paths[i] : ".";
		struct stat st;
		if (fstatat(src->basefd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = st_error_set(err, errno, "stat \"%s\"", rel);
			break;
		}
		char pbuf[PATH_MAX];
		snprintf(pbuf, sizeof(pbuf), "%s", rel);
		char *slash = strrchr(pbuf, '/');
		const char *name = slash ? slash + 1 : rel;
		_cleanup_close_ int pfd = slash ? (*slash = '\0', st_open_nofollow(src->basefd, pbuf, O_RDONLY | O_DIRECTORY, 0))
						: dup(src->basefd);
		if (pfd < 0) {
			r = st_error_set(err, -pfd, "open \"%s\"", rel);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			/* a directory's contents go into dest */
			uid_t u = req->chown ? req->uid : 0;
			gid_t g = req->chown ? req->gid : 0;
			if ((r = st_mkdir_in_root(rootfd, req->dest, 0755, u, g, err)) < 0)
				break;
			_cleanup_close_ int dfd = st_open_in_root(rootfd, req->dest, O_RDONLY | O_DIRECTORY, 0);
			_cleanup_close_ int sfd = st_open_nofollow(src->basefd, rel, O_RDONLY | O_DIRECTORY, 0);
			if (dfd < 0 || sfd < 0) {
				r = st_error_set(err, dfd < 0 ? -dfd : -sfd, "COPY \"%s\" to \"%s\"", rel, req->dest);
				break;
			}
			struct skip_ctx sk = {src, paths[i]};
			struct st_copy_opts o = {.merge = true, .keep_root = true, .own = true, .uid = u, .gid = g,
						 .chmod = req->chmod, .mode = req->mode,
						 .skip = src->is_context ? skip_ignored : NULL, .skip_ctx = &sk};
			r = st_copy_tree_opts(sfd, dfd, &o, err);
			continue;
		}
		char target[PATH_MAX];
		if (dest_dir)
			snprintf(target, sizeof(target), "%s%s%s", req->dest,
				 st_str_has_suffix(req->dest, "/") ? "" : "/", name);
		else
			snprintf(target, sizeof(target), "%s", req->dest);
		if (req->add && S_ISREG(st.st_mode)) {
			_cleanup_close_ int fd = st_open_nofollow(pfd, name, O_RDONLY, 0);
			if (fd >= 0 && is_archive(fd)) {
				if ((r = st_mkdir_in_root(rootfd, req->dest, 0755, 0, 0, err)) < 0)
					break;
				_cleanup_close_ int dfd = st_open_in_root(rootfd, req->dest, O_RDONLY | O_DIRECTORY, 0);
				r = dfd < 0 ? st_error_set(err, -dfd, "open \"%s\" in the image", req->dest)
					    : unpack(fd, dfd, rel, err);
				continue;
			}
		}
		r = copy_file(req, pfd, name, &st, rootfd, target, err);
	}
	st_strv_free(paths, n);
	return r;
}
