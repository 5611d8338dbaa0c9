/* One view of an image archive for the loader: a directory (files opened
 * beneath it), or a tar read through libarchive. A tar is scanned once for
 * its member names; a member is then read by reopening the archive and
 * skipping to it (lseek on a plain file), because docker save puts
 * manifest.json after the layers it names. A stream or a compressed archive
 * is first spooled, decompressed, to an unnamed temporary file. Symlinks and
 * hardlinks inside a tar are followed as long as they stay inside it
 * (docker save writes a repeated layer as a symlink to its first copy). */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "base/base.h"
#include "image/image.h"

#define SRC_BLOCK (64 * 1024)
#define SRC_MAX_HOPS 40

struct member {
	char type;      /* 'f' file, 'd' directory, 'l' symlink, 'h' hardlink, '?' other */
	char *target;   /* link target: as written for 'l', normalised for 'h' */
	int64_t size;
	int64_t index;  /* position in the archive */
};

struct st_img_src {
	char name[PATH_MAX];
	int dirfd;               /* a directory source, else -1 */
	int fd;                  /* a tar: seekable and uncompressed */
	struct st_hashmap members; /* normalised name -> struct member */
	struct archive *cur;     /* the member being streamed (tar) */
	int curfd;               /* the file being streamed (directory) */
};

static void member_free(void *p)
{
	struct member *m = p;
	if (m)
		free(m->target);
	free(m);
}

const char *st_img_src_name(const struct st_img_src *src)
{
	return src->name;
}

/* "./a//b/../c" -> "a/c"; false when it climbs above the root. Leading "/"
 * is dropped: names are relative to the archive's root. */
static bool normalize(const char *in, char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (o == 0)
				return false;
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			out[o] = '\0';
		} else {
			if (o + n + 2 > len)
				return false;
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
			out[o] = '\0';
		}
		p = e;
	}
	return true;
}

/* ------------------------------------------------------------- tar scan */

static struct archive *tar_open(int fd, struct st_error *err)
{
	if (lseek(fd, 0, SEEK_SET) < 0) {
		st_error_set(err, errno, "rewind archive");
		return NULL;
	}
	struct archive *a = archive_read_new();
	if (!a) {
		st_error_set(err, ENOMEM, "archive");
		return NULL;
	}
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_fd(a, fd, SRC_BLOCK) != ARCHIVE_OK) {
		st_error_fail(err, archive_errno(a) > 0 ? archive_errno(a) : EINVAL, "%s",
			      archive_error_string(a) ? archive_error_string(a) : "cannot read");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int add_member(struct st_img_src *src, struct archive_entry *e, int64_t index)
{
	char name[PATH_MAX];
	const char *raw = archive_entry_pathname(e);
	if (!raw || !normalize(raw, name, sizeof(name)) || !name[0])
		return 0; /* unreachable by any name we look up */
	struct member *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->index = index;
	m->size = archive_entry_size(e);
	const char *hl = archive_entry_hardlink(e);
	char tgt[PATH_MAX];
	if (hl) {
		m->type = 'h';
		if (!normalize(hl, tgt, sizeof(tgt)))
			m->type = '?';
		else
			m->target = strdup(tgt);
	} else {
		switch (archive_entry_filetype(e)) {
		case AE_IFREG:
			m->type = 'f';
			break;
		case AE_IFDIR:
			m->type = 'd';
			break;
		case AE_IFLNK:
			m->type = 'l';
			m->target = strdup(archive_entry_symlink(e) ? archive_entry_symlink(e) : "");
			break;
		default:
			m->type = '?';
		}
	}
	if ((m->type == 'h' || m->type == 'l') && !m->target) {
		free(m);
		return -ENOMEM;
	}
	return st_hashmap_put(&src->members, name, m);
}

static int tar_scan(struct st_img_src *src, struct st_error *err)
{
	struct archive *a = tar_open(src->fd, err);
	if (!a)
		return st_error_wrap(err, "%s is not a tar archive", src->name);
	int r = 0;
	for (int64_t i = 0;; i++) {
		struct archive_entry *e;
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN || (ar = archive_read_data_skip(a)) < ARCHIVE_WARN) {
			r = st_error_fail(err, EINVAL, "%s is damaged or truncated: %s", src->name,
					  archive_error_string(a));
			break;
		}
		if ((r = add_member(src, e, i)) < 0) {
			r = st_error_set(err, -r, "read %s", src->name);
			break;
		}
	}
	archive_read_free(a);
	return r;
}

/* Copy the decompressed bytes of fd into an unnamed file under tmpdir_fd. */
static int spool(struct st_img_src *src, int fd, int tmpdir_fd, struct st_error *err)
{
	_cleanup_close_ int out = openat(tmpdir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0)
		return st_error_set(err, errno, "create a temporary file for %s", src->name);
	_cleanup_free_ char *buf = malloc(SRC_BLOCK);
	struct archive *a = archive_read_new();
	if (!a || !buf) {
		if (a)
			archive_read_free(a);
		return st_error_set(err, ENOMEM, "archive");
	}
	archive_read_support_format_raw(a);
	archive_read_support_filter_all(a);
	struct archive_entry *e;
	int r = 0;
	if (archive_read_open_fd(a, fd, SRC_BLOCK) != ARCHIVE_OK || archive_read_next_header(a, &e) != ARCHIVE_OK) {
		r = st_error_fail(err, EINVAL, "read %s: %s", src->name,
				  archive_error_string(a) ? archive_error_string(a) : "empty input");
		goto out;
	}
	struct st_writer w;
	st_writer_fd(&w, &out);
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, SRC_BLOCK);
		if (n == 0)
			break;
		if (n < 0) {
			r = st_error_fail(err, EINVAL, "%s is damaged or truncated: %s", src->name,
					  archive_error_string(a));
			goto out;
		}
		if ((r = w.write(w.ctx, buf, (size_t)n)) < 0) {
			r = st_error_set(err, -r, "spool %s to a temporary file", src->name);
			goto out;
		}
	}
	src->fd = st_take_fd(&out);
out:
	archive_read_free(a);
	return r;
}

/* Does the regular file fd hold a tar with no compression around it? */
static bool plain_tar(int fd)
{
	struct st_error ignore;
	struct archive *a = tar_open(fd, &ignore);
	if (!a)
		return false;
	struct archive_entry *e;
	int ar = archive_read_next_header(a, &e);
	bool plain = ar >= ARCHIVE_WARN && archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE;
	archive_read_free(a);
	return plain;
}

int st_img_src_open(const char *path, int fd, int tmpdir_fd, struct st_img_src **out,
		    struct st_error *err)
{
	*out = NULL;
	struct st_img_src *src = calloc(1, sizeof(*src));
	if (!src)
		return st_error_set(err, ENOMEM, "archive");
	src->dirfd = src->fd = src->curfd = -1;
	st_hashmap_init(&src->members, member_free);
	snprintf(src->name, sizeof(src->name), "%s", path ? path : "standard input");
	_cleanup_close_ int own = -1;
	if (path) {
		own = open(path, O_RDONLY | O_CLOEXEC);
		if (own < 0) {
			st_img_src_free(src);
			return st_error_set(err, errno, "open \"%s\"", path);
		}
		fd = own;
	}
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0) {
		r = st_error_set(err, errno, "stat %s", src->name);
	} else if (S_ISDIR(st.st_mode)) {
		src->dirfd = own >= 0 ? st_take_fd(&own) : fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (src->dirfd < 0)
			r = st_error_set(err, errno, "open %s", src->name);
	} else if (S_ISREG(st.st_mode) && plain_tar(fd)) {
		src->fd = own >= 0 ? st_take_fd(&own) : fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (src->fd < 0)
			r = st_error_set(err, errno, "open %s", src->name);
	} else {
		if (S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_SET) < 0)
			r = st_error_set(err, errno, "rewind %s", src->name);
		if (r >= 0)
			r = spool(src, fd, tmpdir_fd, err);
	}
	if (r >= 0 && src->fd >= 0)
		r = tar_scan(src, err);
	if (r < 0) {
		st_img_src_free(src);
		return r;
	}
	*out = src;
	return 0;
}

void st_img_src_free(struct st_img_src *src)
{
	if (!src)
		return;
	st_img_src_close(src);
	if (src->dirfd >= 0)
		close(src->dirfd);
	if (src->fd >= 0)
		close(src->fd);
	st_hashmap_free(&src->members);
	free(src);
}

/* -------------------------------------------------------------- lookup */

/* Follow in-archive links (of the name and of its directories) to the
 * member that holds the data. */
static struct member *tar_resolve(struct st_img_src *src, const char *name, char *real, size_t len)
{
	char path[PATH_MAX];
	if (!normalize(name, path, sizeof(path)))
		return NULL;
	for (int hop = 0; hop < SRC_MAX_HOPS; hop++) {
		bool rewritten = false;
		/* a symlinked directory on the way: every proper prefix */
		for (char *sl = strchr(path, '/'); sl && !rewritten; sl = strchr(sl + 1, '/')) {
			*sl = '\0';
			struct member *d = st_hashmap_get(&src->members, path);
			if (d && (d->type == 'l' || d->type == 'h')) {
				char next[PATH_MAX * 2 + 2];
				char *slash = strrchr(path, '/');
				if (d->type == 'h')
					snprintf(next, sizeof(next), "%s/%s", d->target, sl + 1);
				else if (d->target[0] == '/' || !slash)
					snprintf(next, sizeof(next), "%s/%s", d->target, sl + 1);
				else
					snprintf(next, sizeof(next), "%.*s/%s/%s", (int)(slash - path), path, d->target, sl + 1);
				if (!normalize(next, path, sizeof(path)))
					return NULL;
				rewritten = true;
			} else {
				*sl = '/';
			}
		}
		if (rewritten)
			continue;
		struct member *m = st_hashmap_get(&src->members, path);
		if (!m)
			return NULL;
		if (m->type == 'f') {
			snprintf(real, len, "%s", path);
			return m;
		}
		if (m->type == 'h') {
			snprintf(path, sizeof(path), "%s", m->target);
		} else if (m->type == 'l') {
			char next[PATH_MAX * 2 + 2];
			char *slash = strrchr(path, '/');
			if (m->target[0] == '/' || !slash)
				snprintf(next, sizeof(next), "%s", m->target);
			else
				snprintf(next, sizeof(next), "%.*s/%s", (int)(slash - path), path, m->target);
			if (!normalize(next, path, sizeof(path)))
				return NULL;
		} else {
			return NULL;
		}
	}
	return NULL;
}

static int dir_open(struct st_img_src *src, const char *name, int64_t *size, struct st_error *err)
{
	char path[PATH_MAX];
	if (!normalize(name, path, sizeof(path)) || !path[0])
		return st_error_fail(err, EINVAL, "%s: invalid name \"%s\"", src->name, name);
	int fd = st_open_beneath(src->dirfd, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd == -ENOENT ? st_error_fail(err, ENOENT, "%s has no %s", src->name, path)
				     : st_error_set(err, -fd, "open %s in %s", path, src->name);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return st_error_fail(err, EINVAL, "%s: %s is not a regular file", src->name, path);
	}
	*size = st.st_size;
	return fd;
}

bool st_img_src_has(struct st_img_src *src, const char *name)
{
	char real[PATH_MAX];
	if (src->dirfd < 0)
		return tar_resolve(src, name, real, sizeof(real)) != NULL;
	struct st_error ignore;
	int64_t size;
	int fd = dir_open(src, name, &size, &ignore);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* ----------------------------------------------------------- streaming */

static ssize_t tar_member_read(void *ctx, void *buf, size_t len)
{
	struct st_img_src *src = ctx;
	la_ssize_t n = archive_read_data(src->cur, buf, len);
	if (n < 0)
		return archive_errno(src->cur) > 0 ? -archive_errno(src->cur) : -EIO;
	return n;
}

static ssize_t dir_member_read(void *ctx, void *buf, size_t len)
{
	struct st_img_src *src = ctx;
	ssize_t n;
	do
		n = read(src->curfd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

void st_img_src_close(struct st_img_src *src)
{
	if (src->cur)
		archive_read_free(src->cur);
	src->cur = NULL;
	if (src->curfd >= 0)
		close(src->curfd);
	src->curfd = -1;
}

int st_img_src_stream(struct st_img_src *src, const char *name, struct st_reader *r, int64_t *size,
		      struct st_error *err)
{
	st_img_src_close(src);
	if (src->dirfd >= 0) {
		int fd = dir_open(src, name, size, err);
		if (fd < 0)
			return fd;
		src->curfd = fd;
		r->read = dir_member_read;
		r->ctx = src;
		return 0;
	}
	char real[PATH_MAX];
	struct member *m = tar_resolve(src, name, real, sizeof(real));
	if (!m)
		return st_error_fail(err, ENOENT, "%s has no %s", src->name, name);
	struct archive *a = tar_open(src->fd, err);
	if (!a)
		return st_error_wrap(err, "read %s", src->name);
	for (int64_t i = 0;; i++) {
		struct archive_entry *e;
		int ar = archive_read_next_header(a, &e);
		if (ar < ARCHIVE_WARN || ar == ARCHIVE_EOF) {
			int rr = st_error_fail(err, EINVAL, "%s is damaged or truncated before %s: %s", src->name,
					       real, ar == ARCHIVE_EOF ? "early end" : archive_error_string(a));
			archive_read_free(a);
			return rr;
		}
		if (i == m->index)
			break;
		if (archive_read_data_skip(a) < ARCHIVE_WARN) {
			int rr = st_error_fail(err, EINVAL, "%s is damaged or truncated: %s", src->name,
					       archive_error_string(a));
			archive_read_free(a);
			return rr;
		}
	}
	src->cur = a;
	*size = m->size;
	r->read = tar_member_read;
	r->ctx = src;
	return 0;
}

int st_img_src_read(struct st_img_src *src, const char *name, size_t max, char **buf, size_t *len,
		    struct st_error *err)
{
	*buf = NULL;
	*len = 0;
	struct st_reader r;
	int64_t size;
	int rc = st_img_src_stream(src, name, &r, &size, err);
	if (rc < 0)
		return rc;
	if (size < 0 || (uint64_t)size > max) {
		st_img_src_close(src);
		return st_error_fail(err, EFBIG, "%s: %s is too large (%lld bytes, at most %zu)", src->name, name,
				     (long long)size, max);
	}
	char *b = malloc((size_t)size + 1);
	if (!b) {
		st_img_src_close(src);
		return st_error_set(err, ENOMEM, "read %s", name);
	}
	size_t got = 0;
	for (;;) {
		ssize_t n = r.read(r.ctx, b + got, (size_t)size + 1 - got);
		if (n < 0) {
			free(b);
			st_img_src_close(src);
			return st_error_fail(err, (int)-n, "%s: read %s: damaged or truncated", src->name, name);
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)size) {
			free(b);
			st_img_src_close(src);
			return st_error_fail(err, EFBIG, "%s: %s grew while read", src->name, name);
		}
	}
	st_img_src_close(src);
	if (got != (size_t)size) {
		free(b);
		return st_error_fail(err, EIO, "%s: %s is truncated (%zu of %lld bytes)", src->name, name, got,
				     (long long)size);
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}
