/* Applying layer tars: libarchive parses, we create every entry through
 * directory fds resolved beneath the layer root, and keep a journal so that
 * a failed apply leaves the directory as it was (the journal: apply_journal.c;
 * the tar input: tar_in.c). */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "base/base.h"
#include "archive/archive.h"
#include "archive_int.h"

/* "./a//b/" -> "a/b"; rejects absolute names, "..", and whiteout names used
 * as directories. "" is the root itself. */
static int clean_name(struct applier *ap, const char *raw, char *out, size_t len, const char *what)
{
	if (!raw)
		return st_error_fail(ap->err, EINVAL, "layer entry without a %s", what);
	if (raw[0] == '/')
		return st_error_fail(ap->err, EINVAL, "layer entry \"%s\": absolute %s not allowed", raw, what);
	size_t o = 0;
	const char *p = raw;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t cl = (size_t)(end - p);
		if (cl == 0)
			break;
		if (cl == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (cl == 2 && p[0] == '.' && p[1] == '.')
			return st_error_fail(ap->err, EINVAL, "layer entry \"%s\": \"..\" in %s not allowed", raw, what);
		/* aufs' metadata directories (.wh..wh.plnk...) at the top are
		 * skipped by apply_entry, their content with them */
		bool aufs_meta = o == 0 && strncmp(p, ST_WH_META_PREFIX, 8) == 0 &&
				 !(cl == strlen(ST_WH_OPAQUE) && strncmp(p, ST_WH_OPAQUE, cl) == 0);
		if (*end == '/' && end[1] && strncmp(p, ST_WH_PREFIX, 4) == 0 && !aufs_meta)
			return st_error_fail(ap->err, EINVAL, "layer entry \"%s\": whiteout name used as a directory", raw);
		if (o + cl + 2 > len)
			return st_error_fail(ap->err, ENAMETOOLONG, "layer entry \"%.200s...\": name too long", raw);
		if (o)
			out[o++] = '/';
		memcpy(out + o, p, cl);
		o += cl;
		p = end;
	}
	out[o] = '\0';
	if (ap->scratch_fd >= 0 && strncmp(out, ap->scratch, strlen(ap->scratch)) == 0)
		return st_error_fail(ap->err, EINVAL, "layer entry \"%s\": reserved name", raw);
	return 0;
}

static int escape_error(struct applier *ap, int r, const char *path)
{
	if (r == -EXDEV || r == -ELOOP)
		return st_error_fail(ap->err, EXDEV,
				     "layer entry \"%s\": its parent leads outside the layer root through a symlink",
				     path);
	return st_error_set(ap->err, -r, "layer entry \"%s\": open parent directory", path);
}

/* Where the directory fd really is, relative to the root. */
static int real_path(struct applier *ap, int fd, char *out, size_t len, const char *path)
{
	char proc[64], abs[PATH_MAX];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, abs, sizeof(abs) - 1);
	if (n < 0)
		return st_error_set(ap->err, errno, "layer entry \"%s\": locate parent directory", path);
	abs[n] = '\0';
	if (strncmp(abs, ap->rootpath, ap->rootlen) != 0 || (abs[ap->rootlen] && abs[ap->rootlen] != '/'))
		return st_error_fail(ap->err, EXDEV, "layer entry \"%s\": its parent is outside the layer root", path);
	const char *rel = abs + ap->rootlen;
	while (*rel == '/')
		rel++;
	if (strlen(rel) >= len)
		return st_error_fail(ap->err, ENAMETOOLONG, "layer entry \"%s\": name too long", path);
	snprintf(out, len, "%s", rel);
	return 0;
}

/* The parent directory of an entry, created (0755) when missing; `real`
 * receives its path without symlinks. */
static int open_parent(struct applier *ap, const char *parent, const char *path, char *real, size_t rlen)
{
	if (!parent[0]) {
		real[0] = '\0';
		return ap->root;
	}
	if (ap->parent_fd >= 0 && strcmp(ap->parent_path, parent) == 0) {
		snprintf(real, rlen, "%s", ap->parent_real);
		return ap->parent_fd;
	}
	if (ap->parent_fd >= 0)
		close(ap->parent_fd);
	ap->parent_fd = -1;
	int fd = st_open_beneath(ap->root, parent, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT) {
		char sub[PATH_MAX];
		size_t plen = strlen(parent);
		for (size_t i = 0; i <= plen; i++) {
			if (parent[i] != '/' && parent[i] != '\0')
				continue;
			memcpy(sub, parent, i);
			sub[i] = '\0';
			int t = st_open_beneath(ap->root, sub, O_RDONLY | O_DIRECTORY, 0);
			if (t >= 0) {
				close(t);
				continue;
			}
			if (t != -ENOENT)
				return escape_error(ap, t, path);
			char *slash = strrchr(sub, '/');
			_cleanup_close_ int pfd = -1;
			if (slash) {
				*slash = '\0';
				pfd = st_open_beneath(ap->root, sub, O_RDONLY | O_DIRECTORY, 0);
				*slash = '/';
				if (pfd < 0)
					return escape_error(ap, pfd, path);
			}
			const char *name = slash ? slash + 1 : sub;
			char preal[PATH_MAX], made[PATH_MAX];
			int r = slash ? real_path(ap, pfd, preal, sizeof(preal), path) : (preal[0] = '\0', 0);
			if (r < 0)
				return r;
			if (snprintf(made, sizeof(made), "%s%s%s", preal, preal[0] ? "/" : "", name) >= (int)sizeof(made))
				return st_error_fail(ap->err, ENAMETOOLONG, "layer entry \"%s\": name too long", path);
			if ((r = ap_touch_parent(ap, made)) < 0)
				return r;
			if (mkdirat(slash ? pfd : ap->root, name, 0755) < 0)
				return st_error_set(ap->err, errno, "layer entry \"%s\": create parent \"%s\"", path, sub);
			if ((r = ap_mark_created(ap, made)) < 0)
				return r;
		}
		fd = st_open_beneath(ap->root, parent, O_RDONLY | O_DIRECTORY, 0);
	}
	if (fd < 0)
		return escape_error(ap, fd, path);
	int r = real_path(ap, fd, ap->parent_real, sizeof(ap->parent_real), path);
	if (r < 0) {
		close(fd);
		return r;
	}
	ap->parent_fd = fd;
	snprintf(ap->parent_path, sizeof(ap->parent_path), "%s", parent);
	snprintf(real, rlen, "%s", ap->parent_real);
	return fd;
}

static int entry_xattrs(struct applier *ap, struct archive_entry *e, const char *path, struct st_xattrs *x)
{
	const char *name;
	const void *val;
	size_t len;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK) {
		if (st_str_has_prefix(name, "trusted.overlay."))
			return st_error_fail(ap->err, EPERM,
					     "layer entry \"%s\": carries overlay's private xattr %s", path, name);
		struct st_xattr *nv = realloc(x->v, (x->n + 1) * sizeof(*nv));
		if (!nv)
			return st_error_set(ap->err, ENOMEM, "apply");
		x->v = nv;
		nv[x->n].name = strdup(name);
		nv[x->n].value = malloc(len ? len : 1);
		if (!nv[x->n].name || !nv[x->n].value) {
			free(nv[x->n].name);
			free(nv[x->n].value);
			return st_error_set(ap->err, ENOMEM, "apply");
		}
		memcpy(nv[x->n].value, val, len);
		nv[x->n].len = len;
		x->n++;
	}
	return 0;
}

static void entry_stat(struct archive_entry *e, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = archive_entry_mode(e);
	st->st_uid = (uid_t)archive_entry_uid(e);
	st->st_gid = (gid_t)archive_entry_gid(e);
	st->st_mtim.tv_sec = archive_entry_mtime(e);
	st->st_mtim.tv_nsec = archive_entry_mtime_nsec(e);
	if (archive_entry_atime_is_set(e)) {
		st->st_atim.tv_sec = archive_entry_atime(e);
		st->st_atim.tv_nsec = archive_entry_atime_nsec(e);
	} else {
		st->st_atim = st->st_mtim;
	}
}

static int write_data(struct applier *ap, int fd, struct archive_entry *e, const char *path)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int64_t end = 0;
	int r;
	while ((r = archive_read_data_block(ap->a, &buf, &size, &off)) == ARCHIVE_OK) {
		const char *p = buf;
		while (size > 0) {
			ssize_t w = pwrite(fd, p, size, off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return st_error_set(ap->err, errno, "layer entry \"%s\": write", path);
			}
			p += w;
			size -= (size_t)w;
			off += w;
		}
		if (off > end)
			end = off;
	}
	if (r != ARCHIVE_EOF)
		return st_error_fail(ap->err, ap->in->error ? -ap->in->error : EIO, "layer entry \"%s\": %s",
				     path, archive_error_string(ap->a));
	if (archive_entry_size(e) > end && ftruncate(fd, archive_entry_size(e)) < 0)
		return st_error_set(ap->err, errno, "layer entry \"%s\": truncate", path);
	return 0;
}

/* Hand a new plain file (created as fd, its entry's data not read yet) to
 * the workers: its bytes, then owner, mode, xattrs (x, moved) and times.
 * Returns 1 when handed over, 0 when the data did not come as one
 * contiguous run (nothing is lost: it is written here, the caller goes on
 * with the metadata), <0 on failure. */
static int apply_job(struct applier *ap, int *fd, struct archive_entry *e, const char *path,
		     const struct stat *st, struct st_xattrs *x)
{
	int64_t size = archive_entry_size(e);
	struct st_filejob j = {.dst = -1, .src = -1, .size = size, .meta = true, .st = *st};
	j.data = malloc(size > 0 ? (size_t)size : 1);
	if (!j.data)
		return st_error_set(ap->err, ENOMEM, "layer entry \"%s\"", path);
	const void *buf;
	size_t n;
	la_int64_t off;
	int r;
	while ((r = archive_read_data_block(ap->a, &buf, &n, &off)) == ARCHIVE_OK) {
		if (off != (la_int64_t)j.len || off + (int64_t)n > size) {
			/* not one run: write what came and the rest here */
			int w = 0;
			if (j.len && pwrite(*fd, j.data, j.len, 0) != (ssize_t)j.len)
				w = st_error_set(ap->err, errno, "layer entry \"%s\": write", path);
			free(j.data);
			for (size_t done = 0; w >= 0 && done < n;) {
				ssize_t k = pwrite(*fd, (const char *)buf + done, n - done, off + (off_t)done);
				if (k < 0 && errno != EINTR)
					w = st_error_set(ap->err, errno, "layer entry \"%s\": write", path);
				done += k > 0 ? (size_t)k : 0;
			}
			return w < 0 ? w : write_data(ap, *fd, e, path);
		}
		memcpy((char *)j.data + j.len, buf, n);
		j.len += n;
	}
	if (r != ARCHIVE_EOF) {
		free(j.data);
		return st_error_fail(ap->err, ap->in->error ? -ap->in->error : EIO, "layer entry \"%s\": %s", path,
				     archive_error_string(ap->a));
	}
	if (!ap->jobs && st_filejobs_new(&ap->jobs) < 0) {
		free(j.data);
		return st_error_set(ap->err, ENOMEM, "apply");
	}
	snprintf(j.what, sizeof(j.what), "layer entry \"%s\"", path);
	j.dst = st_take_fd(fd);
	j.x = *x;
	memset(x, 0, sizeof(*x));
	r = st_filejobs_add(ap->jobs, &j, ap->err);
	return r < 0 ? r : 1;
}

static int add_dirtime(struct applier *ap, const char *path, const struct stat *st)
{
	if (ap->ndt == ap->capdt) {
		size_t nc = ap->capdt ? ap->capdt * 2 : 64;
		struct dirtime *nd = realloc(ap->dt, nc * sizeof(*nd));
		if (!nd)
			return st_error_set(ap->err, ENOMEM, "apply");
		ap->dt = nd;
		ap->capdt = nc;
	}
	if (!(ap->dt[ap->ndt].path = strdup(path)))
		return st_error_set(ap->err, ENOMEM, "apply");
	ap->dt[ap->ndt].ts[0] = st->st_atim;
	ap->dt[ap->ndt].ts[1] = st->st_mtim;
	ap->ndt++;
	return 0;
}

/* A whiteout entry; `parent` is the real path of the directory pfd. */
static int whiteout(struct applier *ap, int pfd, const char *parent, const char *base, const char *path)
{
	char victim[PATH_MAX];
	const char *vname = base + strlen(ST_WH_PREFIX);
	snprintf(victim, sizeof(victim), "%s%s%s", parent, parent[0] ? "/" : "", vname);

	if (strcmp(base, ST_WH_OPAQUE) == 0) {
		if (ap->o->wh == ST_WH_OVERLAY) {
			int r = ap_touch_dir(ap, parent);
			if (r < 0)
				return r;
			if (fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
				return st_error_set(ap->err, errno, "layer entry \"%s\": mark directory opaque", path);
			return 0;
		}
		/* real deletes: everything in the directory that lower layers put there */
		char **names;
		size_t n;
		int r = st_list_dir(pfd, &names, &n);
		if (r < 0)
			return st_error_set(ap->err, -r, "layer entry \"%s\": list directory", path);
		for (size_t i = 0; i < n && r >= 0; i++) {
			char child[PATH_MAX];
			snprintf(child, sizeof(child), "%s%s%s", parent, parent[0] ? "/" : "", names[i]);
			if (!parent[0] && ap->scratch_fd >= 0 && strcmp(names[i], ap->scratch) == 0)
				continue;
			if (!ap_is_created(ap, child))
				r = ap_displace(ap, pfd, names[i], child);
		}
		st_strv_free(names, n);
		return r;
	}
	if (st_str_has_prefix(base, ST_WH_META_PREFIX))
		return 0; /* aufs' own bookkeeping (.wh..wh.plnk, .wh..wh.aufs): never layer content */
	int r = ap_displace(ap, pfd, vname, victim);
	if (r < 0 || ap->o->wh == ST_WH_DELETE)
		return r;
	if ((r = ap_touch_parent(ap, victim)) < 0)
		return r;
	/* overlay: a 0/0 character device hides the lower entry */
	if (mknodat(pfd, vname, S_IFCHR | 0, makedev(0, 0)) < 0)
		return st_error_set(ap->err, errno, "layer entry \"%s\": create whiteout", path);
	return ap_mark_created(ap, victim);
}

static int apply_hardlink(struct applier *ap, int pfd, const char *base, const char *path, const char *jpath,
			  const char *hardlink)
{
	char target[PATH_MAX], tparent[PATH_MAX];
	int r = clean_name(ap, hardlink, target, sizeof(target), "hardlink target");
	if (r < 0)
		return r;
	if (!target[0])
		return st_error_fail(ap->err, EINVAL, "layer entry \"%s\": hardlink to the root", path);
	ap_parent_of(target, tparent, sizeof(tparent));
	const char *ts = strrchr(target, '/');
	const char *tbase = ts ? ts + 1 : target;
	_cleanup_close_ int tpfd = tparent[0] ? st_open_beneath(ap->root, tparent, O_RDONLY | O_DIRECTORY, 0)
					      : openat(ap->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tpfd < 0)
		return tpfd == -ENOENT ? st_error_fail(ap->err, ENOENT, "layer entry \"%s\": hardlink target \"%s\" does not exist",
						       path, target)
				       : escape_error(ap, tpfd, path);
	struct stat tst;
	if (fstatat(tpfd, tbase, &tst, AT_SYMLINK_NOFOLLOW) < 0)
		return st_error_fail(ap->err, ENOENT, "layer entry \"%s\": hardlink target \"%s\" does not exist",
				     path, target);
	if (S_ISDIR(tst.st_mode))
		return st_error_fail(ap->err, EPERM, "layer entry \"%s\": hardlink to a directory", path);
	if ((r = ap_touch_parent(ap, jpath)) < 0)
		return r;
	if (linkat(tpfd, tbase, pfd, base, 0) < 0)
		return st_error_set(ap->err, errno, "layer entry \"%s\": link to \"%s\"", path, target);
	return ap_mark_created(ap, jpath);
}

static int apply_root(struct applier *ap, struct archive_entry *e, const struct stat *st)
{
	if (archive_entry_filetype(e) != AE_IFDIR)
		return st_error_fail(ap->err, EINVAL, "layer entry \"%s\": root is not a directory",
				     archive_entry_pathname(e));
	struct st_xattrs x = {0};
	int r;
	if ((r = entry_xattrs(ap, e, "/", &x)) >= 0 && (r = ap_touch_dir(ap, "")) >= 0 &&
	    (r = ap_set_metadata(ap->root, "", ap->root, st, &x, ap->err)) >= 0)
		r = add_dirtime(ap, "", st);
	st_xattrs_free(&x);
	return r;
}

static int apply_entry(struct applier *ap, struct archive_entry *e)
{
	char path[PATH_MAX];
	int r = clean_name(ap, archive_entry_pathname(e), path, sizeof(path), "name");
	if (r < 0)
		return r;
	/* a path twice: the layer's files could not give its tar back (the
	 * first entry's bytes are gone), and what wins is up to the reader */
	if (st_hashmap_get(&ap->seen, path))
		return st_error_fail(ap->err, EINVAL, "layer entry \"%s\": duplicate entry (a path may appear once in a layer)",
				     path[0] ? path : "/");
	if (st_hashmap_put(&ap->seen, path, (void *)1) < 0)
		return st_error_set(ap->err, ENOMEM, "apply");
	int64_t data_start = archive_filter_bytes(ap->a, 0);
	unsigned type = archive_entry_filetype(e);
	const char *hardlink = archive_entry_hardlink(e);
	bool plain_file = type == AE_IFREG && !hardlink && archive_entry_sparse_count(e) == 0;

	char parent[PATH_MAX];
	ap_parent_of(path, parent, sizeof(parent));
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	/* Docker's aufs driver put its own metadata (.wh..wh.plnk, .wh..wh.orph)
	 * into layer tars once; Docker skips it on apply, and so do we */
	if (st_str_has_prefix(path, ST_WH_META_PREFIX) && strcmp(path, ST_WH_OPAQUE) != 0) {
		if (ap->in->ts && (r = st_tarsplit_entry(ap->in->ts, data_start, NULL, 0)) < 0)
			return st_error_set(ap->err, -r, "record layer tar");
		return 0;
	}
	bool is_wh = path[0] && st_str_has_prefix(base, ST_WH_PREFIX);
	if (is_wh) {
		const char *v = base + strlen(ST_WH_PREFIX);
		if (!*v || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
			return st_error_fail(ap->err, EINVAL, "layer entry \"%s\": invalid whiteout", path);
	}

	/* the parent first: the tar-split record names the real path */
	char real[PATH_MAX], jpath[PATH_MAX];
	int pfd = -1;
	if (path[0]) {
		pfd = open_parent(ap, parent, path, real, sizeof(real));
		if (pfd < 0)
			return pfd;
		if (snprintf(jpath, sizeof(jpath), "%s%s%s", real, real[0] ? "/" : "", base) >= (int)sizeof(jpath))
			return st_error_fail(ap->err, ENAMETOOLONG, "layer entry \"%s\": name too long", path);
	} else {
		jpath[0] = '\0';
	}

	if (ap->in->ts) {
		bool ref = plain_file && archive_entry_size(e) > 0 && !(is_wh && ap->o->wh != ST_WH_AUFS);
		r = st_tarsplit_entry(ap->in->ts, data_start, ref ? jpath : NULL, ref ? archive_entry_size(e) : 0);
		if (r < 0)
			return st_error_set(ap->err, -r, "record layer tar");
	}

	struct stat st;
	entry_stat(e, &st);
	if (!path[0]) /* the root directory's own metadata */
		return apply_root(ap, e, &st);

	if (is_wh && ap->o->wh != ST_WH_AUFS)
		return whiteout(ap, pfd, real, base, path);
	if (is_wh && st_str_has_prefix(base, ST_WH_META_PREFIX) && strcmp(base, ST_WH_OPAQUE) != 0)
		return 0;

	if (type == AE_IFSOCK)
		return 0; /* sockets are not layer content */
	if (type == AE_IFCHR && archive_entry_rdev(e) == 0 && !hardlink)
		return st_error_fail(ap->err, EINVAL,
				     "layer entry \"%s\": a 0/0 character device is reserved for whiteouts", path);

	struct st_xattrs x = {0};
	_cleanup_close_ int fd = -1;
	if (!hardlink && (r = entry_xattrs(ap, e, path, &x)) < 0)
		goto out;

	struct stat cur;
	/* in a directory this apply created, only what it created exists:
	 * no stat for the entries of a fresh layer */
	bool exists = (real[0] && ap_is_created(ap, real) && !ap_is_created(ap, jpath))
			      ? false
			      : fstatat(pfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0;
	/* overlay: a directory that takes a whiteout's place must go on hiding
	 * what lower layers have there (".wh.d" then "d/" in one layer) */
	bool over_whiteout = exists && ap->o->wh == ST_WH_OVERLAY && type == AE_IFDIR && !hardlink &&
			     S_ISCHR(cur.st_mode) && cur.st_rdev == makedev(0, 0);
	if (exists && type == AE_IFDIR && !hardlink && S_ISDIR(cur.st_mode)) {
		if ((r = ap_touch_dir(ap, jpath)) < 0)
			goto out;
	} else if (exists) {
		if ((r = ap_displace(ap, pfd, base, jpath)) < 0)
			goto out;
		exists = false;
	}

	if (hardlink) {
		r = apply_hardlink(ap, pfd, base, path, jpath, hardlink);
		goto out;
	}

	switch (type) {
	case AE_IFDIR:
		if (!exists) {
			if ((r = ap_touch_parent(ap, jpath)) < 0)
				goto out;
			if (mkdirat(pfd, base, 0700) < 0) {
				r = st_error_set(ap->err, errno, "layer entry \"%s\": mkdir", path);
				goto out;
			}
			if ((r = ap_mark_created(ap, jpath)) < 0)
				goto out;
		}
		fd = st_open_nofollow(pfd, base, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0) {
			r = st_error_set(ap->err, -fd, "layer entry \"%s\": open", path);
			goto out;
		}
		if ((r = add_dirtime(ap, jpath, &st)) < 0)
			goto out;
		break;
	case AE_IFREG:
		if ((r = ap_touch_parent(ap, jpath)) < 0)
			goto out;
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			r = st_error_set(ap->err, errno, "layer entry \"%s\": create", path);
			goto out;
		}
		if ((r = ap_mark_created(ap, jpath)) < 0)
			goto out;
		ap->size += archive_entry_size(e);
		if (plain_file && archive_entry_size(e) <= APPLY_JOB_MAX) {
			r = apply_job(ap, &fd, e, path, &st, &x);
			if (r != 0)
				goto out; /* handed over (1), or failed */
		} else if ((r = write_data(ap, fd, e, path)) < 0) {
			goto out;
		}
		break;
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(e);
		if (!t || !*t) {
			r = st_error_fail(ap->err, EINVAL, "layer entry \"%s\": symlink without a target", path);
			goto out;
		}
		if ((r = ap_touch_parent(ap, jpath)) < 0)
			goto out;
		if (symlinkat(t, pfd, base) < 0) {
			r = st_error_set(ap->err, errno, "layer entry \"%s\": symlink", path);
			goto out;
		}
		r = ap_mark_created(ap, jpath);
		break;
	}
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		if ((r = ap_touch_parent(ap, jpath)) < 0)
			goto out;
		if (mknodat(pfd, base, (mode_t)type | (st.st_mode & 07777), archive_entry_rdev(e)) < 0) {
			r = st_error_set(ap->err, errno, "layer entry \"%s\": mknod", path);
			goto out;
		}
		r = ap_mark_created(ap, jpath);
		break;
	default:
		r = st_error_fail(ap->err, EINVAL, "layer entry \"%s\": unknown file type 0%o", path, type);
		goto out;
	}
	if (r < 0)
		goto out;
	if (type == AE_IFDIR)
		st.st_mtim = st.st_atim = (struct timespec){0, UTIME_OMIT};
	r = st_set_metadata(pfd, base, fd, &st, &x, ap->err);
	if (r < 0)
		st_error_wrap(ap->err, "layer entry \"%s\"", path);
	else if (over_whiteout && fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
		r = st_error_set(ap->err, errno, "layer entry \"%s\": mark directory opaque", path);
out:
	st_xattrs_free(&x);
	return r < 0 ? r : 0;
}

static int finish_dirtimes(struct applier *ap)
{
	for (size_t i = ap->ndt; i > 0; i--) {
		struct dirtime *d = &ap->dt[i - 1];
		_cleanup_close_ int fd = d->path[0] ? st_open_nofollow(ap->root, d->path, O_RDONLY | O_DIRECTORY, 0)
						    : openat(ap->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue; /* removed again by a later entry */
		if (futimens(fd, d->ts) < 0)
			return st_error_set(ap->err, errno, "set times on \"%s\"", d->path);
	}
	return 0;
}

static int applier_init(struct applier *ap, int rootfd, struct st_tar_in *in, const struct st_apply_opts *o,
			struct st_error *err)
{
	memset(ap, 0, sizeof(*ap));
	ap->root = rootfd;
	ap->o = o;
	ap->err = err;
	ap->in = in;
	ap->scratch_fd = ap->parent_fd = -1;
	st_hashmap_init(&ap->created, NULL);
	st_hashmap_init(&ap->touched, NULL);
	st_hashmap_init(&ap->seen, NULL);
	if (fstat(rootfd, &ap->root_st) < 0)
		return st_error_set(err, errno, "apply layer: stat the layer root");
	if (!S_ISDIR(ap->root_st.st_mode))
		return st_error_fail(err, ENOTDIR, "apply layer: the layer root is not a directory");
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", rootfd);
	ssize_t n = readlink(proc, ap->rootpath, sizeof(ap->rootpath) - 1);
	if (n < 0)
		return st_error_set(err, errno, "apply layer: locate the layer root");
	ap->rootpath[n] = '\0';
	ap->rootlen = strcmp(ap->rootpath, "/") == 0 ? 0 : (size_t)n;
	return 0;
}

int64_t st_archive_apply(int rootfd, struct st_tar_in *in, const struct st_apply_opts *o,
			 struct st_error *err)
{
	struct applier ap;
	int r = applier_init(&ap, rootfd, in, o, err);
	if (r < 0) {
		ap_applier_free(&ap);
		return r;
	}
	struct archive *a = archive_read_new();
	if (!a) {
		ap_applier_free(&ap);
		return st_error_set(err, ENOMEM, "apply layer");
	}
	ap.a = a;
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (st_tar_in_read_open(a, in) != ARCHIVE_OK) {
		r = st_error_fail(err, in->error ? -in->error : EINVAL, "layer tar: %s", archive_error_string(a));
		goto done;
	}
	for (;;) {
		struct archive_entry *e;
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = st_error_fail(err, in->error ? -in->error : EINVAL, "layer tar: %s",
					  archive_error_string(a));
			goto done;
		}
		if ((r = apply_entry(&ap, e)) < 0)
			goto done;
	}
	/* every file complete before anything counts as applied */
	if (ap.jobs && (r = st_filejobs_finish(ap.jobs, err)) < 0)
		goto done;
	if ((r = st_tar_in_finish(in, err)) < 0)
		goto done;
	/* before the directory times: its removal touches the root */
	ap_remove_scratch(&ap);
	r = finish_dirtimes(&ap);
done:
	archive_read_free(a);
	/* the workers stop (after a failure: drop what is queued) before any
	 * rollback touches their files */
	st_filejobs_free(ap.jobs);
	ap.jobs = NULL;
	if (r < 0) {
		if (ap.parent_fd >= 0)
			close(ap.parent_fd);
		ap.parent_fd = -1;
		ap_rollback(&ap);
	}
	ap_applier_free(&ap);
	return r < 0 ? r : ap.size;
}
