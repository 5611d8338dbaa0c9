/* fd-relative file helpers. Everything that touches a layer's files goes
 * through directory fds: untrusted names never become host paths. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#include "base/base.h"

static int do_openat2(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = resolve,
	};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : fd;
}

int st_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	return do_openat2(dirfd, path, flags, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
}

int st_open_nofollow(int dirfd, const char *path, int flags, mode_t mode)
{
	return do_openat2(dirfd, path, flags, mode,
			  RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS);
}

int st_open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	return do_openat2(rootfd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

int st_mkdir_in_root(int rootfd, const char *path, mode_t mode, uid_t uid, gid_t gid, struct st_error *err)
{
	char sub[PATH_MAX];
	size_t len = strlen(path);
	if (len >= sizeof(sub))
		return st_error_fail(err, ENAMETOOLONG, "mkdir \"%s\": path too long", path);
	for (size_t i = 0; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		memcpy(sub, path, i);
		sub[i] = '\0';
		if (!sub[0] || strcmp(sub, "/") == 0)
			continue;
		int fd = st_open_in_root(rootfd, sub, O_RDONLY | O_DIRECTORY, 0);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (fd != -ENOENT)
			return st_error_set(err, -fd, "mkdir \"%s\" (at \"%s\")", path, sub);
		char *slash = strrchr(sub, '/');
		const char *name = slash ? slash + 1 : sub;
		if (slash)
			*slash = '\0';
		_cleanup_close_ int pfd = st_open_in_root(rootfd, slash && sub[0] ? sub : "/", O_RDONLY | O_DIRECTORY, 0);
		if (pfd < 0)
			return st_error_set(err, -pfd, "mkdir \"%s\"", path);
		if (mkdirat(pfd, name, mode) < 0 && errno != EEXIST)
			return st_error_set(err, errno, "mkdir \"%s\"", path);
		if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return st_error_set(err, errno, "chown \"%s\"", path);
		fchmodat(pfd, name, mode, 0);
	}
	return 0;
}

int st_open_dir(int dirfd, const char *path, struct st_error *err)
{
	int fd = st_open_beneath(dirfd, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return st_error_set(err, -fd, "open directory \"%s\"", path);
	return fd;
}

void st_fd_path(char *buf, size_t len, int dirfd, const char *name)
{
	if (name && *name)
		snprintf(buf, len, "/proc/self/fd/%d/%s", dirfd, name);
	else
		snprintf(buf, len, "/proc/self/fd/%d", dirfd);
}

int st_symlink_replace_at(int dirfd, const char *name, const char *target)
{
	char tmp[NAME_MAX + 1];
	if (snprintf(tmp, sizeof(tmp), ".tmp-%s", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlinkat(dirfd, tmp, 0);
	if (symlinkat(target, dirfd, tmp) < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return -e;
	}
	return 0;
}

int st_fsync_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int st_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct st_error *err)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return st_error_set(err, ENOMEM, "mkdir \"%s\"", path);
	_cleanup_close_ int cur = openat(dirfd, path[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return st_error_set(err, errno, "mkdir \"%s\"", path);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0)
			return st_error_fail(err, EINVAL, "mkdir \"%s\": \"..\" not allowed", path);
		if (mkdirat(cur, c, mode) < 0 && errno != EEXIST)
			return st_error_set(err, errno, "mkdir \"%s\" (at \"%s\")", path, c);
		int next = st_open_nofollow(cur, c, O_RDONLY | O_DIRECTORY, 0);
		if (next < 0)
			return st_error_set(err, -next, "mkdir \"%s\": \"%s\" is not a directory", path, c);
		close(cur);
		cur = next;
	}
	return 0;
}

int st_mnt_id(int dirfd, const char *name, uint64_t *id)
{
	struct statx sx;
	if (statx(dirfd, name && *name ? name : "", AT_SYMLINK_NOFOLLOW | (name && *name ? 0 : AT_EMPTY_PATH),
		  STATX_MNT_ID, &sx) < 0)
		return -errno;
	*id = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
	return 0;
}

bool st_is_mountpoint(const char *path)
{
	/* one statx where the kernel says (5.8+): parsing mountinfo costs as
	 * much as an overlay mount when the machine has many mounts */
	struct statx sx;
	if (statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, STATX_TYPE, &sx) < 0)
		return false;
	if (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	char real[PATH_MAX];
	if (!realpath(path, real))
		return false;
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	while (!found && getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		/* unescape \040 and friends */
		char un[PATH_MAX];
		size_t j = 0;
		for (size_t i = 0; mp[i] && j + 1 < sizeof(un); i++) {
			if (mp[i] == '\\' && mp[i + 1] && mp[i + 2] && mp[i + 3]) {
				un[j++] = (char)((mp[i + 1] - '0') * 64 + (mp[i + 2] - '0') * 8 + (mp[i + 3] - '0'));
				i += 3;
			} else {
				un[j++] = mp[i];
			}
		}
		un[j] = '\0';
		found = strcmp(un, real) == 0;
	}
	free(line);
	return found;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int st_list_dir(int dirfd, char ***names, size_t *n)
{
	return st_list_dir_prefix(dirfd, NULL, names, n);
}

int st_list_dir_prefix(int dirfd, const char *prefix, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	size_t cap = 0;
	char **v = NULL;
	struct dirent *de;
	int r = 0;
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (prefix && strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (*n + 1 >= cap) {
			cap = cap ? cap * 2 : 32;
			char **nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		if (!(v[*n] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		(*n)++;
	}
	if (!r && errno)
		r = -errno;
	closedir(d);
	if (r < 0) {
		st_strv_free(v, *n);
		*n = 0;
		return r;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_names);
	*names = v;
	return 0;
}

/* ---------------------------------------------------- atomic file I/O */

static int write_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			 bool sync, struct st_error *err);

int st_atomic_write_at(int dirfd, const char *name, const void *data, size_t len,
		       mode_t mode, struct st_error *err)
{
	return write_replace(dirfd, name, data, len, mode, true, err);
}

int st_replace_file_at(int dirfd, const char *name, const void *data, size_t len,
		       mode_t mode, struct st_error *err)
{
	return write_replace(dirfd, name, data, len, mode, false, err);
}

static int write_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			 bool sync, struct st_error *err)
{
	char rnd[17], tmp[NAME_MAX + 1];
	int r = st_random_hex(rnd, 8);
	if (r < 0)
		return st_error_set(err, -r, "write \"%s\"", name);
	snprintf(tmp, sizeof(tmp), ".tmp-%.200s-%s", name, rnd);
	_cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return st_error_set(err, errno, "write \"%s\": create temporary file", name);
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			r = st_error_set(err, errno, "write \"%s\"", name);
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fchmod(fd, mode) < 0 || (sync && fsync(fd) < 0)) {
		r = st_error_set(err, errno, "write \"%s\": fsync", name);
		goto fail;
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		r = st_error_set(err, errno, "write \"%s\": rename", name);
		goto fail;
	}
	if (sync)
		st_fsync_dir(dirfd);
	return 0;
fail:
	unlinkat(dirfd, tmp, 0);
	return r;
}

int st_read_file_at(int dirfd, const char *name, char **out, size_t *len, struct st_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return st_error_set(err, errno, "read \"%s\"", name);
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return st_error_set(err, ENOMEM, "read \"%s\"", name);
	for (;;) {
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				return st_error_set(err, ENOMEM, "read \"%s\"", name);
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return st_error_set(err, errno, "read \"%s\"", name);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

/* ------------------------------------------------------------- walker */

struct walk_state {
	st_walk_fn fn;
	void *ctx;
	struct st_error *err;
	uint64_t mnt;
	char path[PATH_MAX];
};

static int walk_dir(struct walk_state *w, int dfd, size_t plen, int depth)
{
	char **names;
	size_t n;
	int r = st_list_dir(dfd, &names, &n);
	if (r < 0)
		return st_error_set(w->err, -r, "list \"%s\"", plen ? w->path : ".");
	for (size_t i = 0; i < n && r >= 0; i++) {
		size_t nl = strlen(names[i]);
		if (plen + nl + 2 >= sizeof(w->path)) {
			r = st_error_fail(w->err, ENAMETOOLONG, "path too long under \"%s\"", w->path);
			break;
		}
		size_t sub = plen;
		if (plen)
			w->path[sub++] = '/';
		memcpy(w->path + sub, names[i], nl + 1);
		struct st_walk_ent e = {.dirfd = dfd, .name = names[i], .path = w->path, .depth = depth};
		if (fstatat(dfd, names[i], &e.st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = st_error_set(w->err, errno, "stat \"%s\"", w->path);
			break;
		}
		r = w->fn(w->ctx, &e);
		if (r < 0)
			break;
		if (S_ISDIR(e.st.st_mode) && r == 0) {
			uint64_t id = 0;
			if (w->mnt && st_mnt_id(dfd, names[i], &id) == 0 && id && id != w->mnt) {
				r = 0; /* another mount: not ours to walk */
			} else {
				int cfd = st_open_nofollow(dfd, names[i], O_RDONLY | O_DIRECTORY, 0);
				if (cfd < 0) {
					r = st_error_set(w->err, -cfd, "open \"%s\"", w->path);
					break;
				}
				r = walk_dir(w, cfd, sub + nl, depth + 1);
				close(cfd);
				if (r < 0)
					break;
				memcpy(w->path + sub, names[i], nl + 1);
			}
			e.post = true;
			e.path = w->path;
			r = w->fn(w->ctx, &e);
		}
		if (r > 0)
			r = 0;
		w->path[plen] = '\0';
	}
	st_strv_free(names, n);
	return r;
}

int st_walk(int rootfd, st_walk_fn fn, void *ctx, struct st_error *err)
{
	struct walk_state w = {.fn = fn, .ctx = ctx, .err = err};
	st_mnt_id(rootfd, "", &w.mnt);
	w.path[0] = '\0';
	return walk_dir(&w, rootfd, 0, 1);
}

/* ------------------------------------------------------------- xattrs */

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct st_xattr *)a)->name, ((const struct st_xattr *)b)->name);
}

void st_xattrs_free(struct st_xattrs *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->v[i].name);
		free(x->v[i].value);
	}
	free(x->v);
	x->v = NULL;
	x->n = 0;
}

/* Where xattrs are read from: a path (through the l* calls, or the plain
 * ones for a /proc/self/fd link) or an open fd (the f* calls, no lookup). */
struct xsrc {
	const char *path;
	int fd;
	bool follow;
};

static ssize_t xsrc_list(const struct xsrc *s, char *buf, size_t len)
{
	if (s->fd >= 0)
		return flistxattr(s->fd, buf, len);
	return s->follow ? listxattr(s->path, buf, len) : llistxattr(s->path, buf, len);
}

static ssize_t xsrc_get(const struct xsrc *s, const char *k, void *buf, size_t len)
{
	if (s->fd >= 0)
		return fgetxattr(s->fd, k, buf, len);
	return s->follow ? getxattr(s->path, k, buf, len) : lgetxattr(s->path, k, buf, len);
}

static int xattrs_read(const struct xsrc *s, struct st_xattrs *out)
{
	out->v = NULL;
	out->n = 0;
	ssize_t len = xsrc_list(s, NULL, 0);
	if (len < 0)
		return (errno == ENOTSUP || errno == EPERM) ? 0 : -errno;
	if (len == 0)
		return 0;
	_cleanup_free_ char *list = malloc((size_t)len);
	if (!list)
		return -ENOMEM;
	len = xsrc_list(s, list, (size_t)len);
	if (len < 0)
		return -errno;
	for (char *k = list; k < list + len; k += strlen(k) + 1) {
		ssize_t vl = xsrc_get(s, k, NULL, 0);
		if (vl < 0) {
			if (errno == ENODATA || errno == ENOTSUP)
				continue;
			st_xattrs_free(out);
			return -errno;
		}
		void *val = malloc(vl ? (size_t)vl : 1);
		struct st_xattr *nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
		if (!val || !nv) {
			free(val);
			if (nv)
				out->v = nv;
			st_xattrs_free(out);
			return -ENOMEM;
		}
		out->v = nv;
		vl = xsrc_get(s, k, val, (size_t)vl);
		if (vl < 0) {
			free(val);
			continue;
		}
		nv[out->n].name = strdup(k);
		nv[out->n].value = val;
		nv[out->n].len = (size_t)vl;
		out->n++;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_xattr);
	return 0;
}

int st_xattrs_read(int dirfd, const char *name, struct st_xattrs *out)
{
	char p[PATH_MAX];
	st_fd_path(p, sizeof(p), dirfd, name);
	/* dirfd itself ("") is its /proc/self/fd link, which the l* calls
	 * would take for the link and not follow */
	struct xsrc s = {.path = p, .fd = -1, .follow = !name || !*name};
	return xattrs_read(&s, out);
}

int st_xattrs_read_fd(int fd, struct st_xattrs *out)
{
	struct xsrc s = {.fd = fd};
	return xattrs_read(&s, out);
}

int st_xattrs_apply(int dirfd, const char *name, const struct st_xattrs *x, struct st_error *err)
{
	char p[PATH_MAX];
	st_fd_path(p, sizeof(p), dirfd, name);
	bool self = !name || !*name; /* see st_xattrs_read */
	for (size_t i = 0; i < x->n; i++)
		if ((self ? setxattr : lsetxattr)(p, x->v[i].name, x->v[i].value, x->v[i].len, 0) < 0)
			return st_error_set(err, errno, "set xattr %s on \"%s\"", x->v[i].name, name);
	return 0;
}

bool st_xattrs_equal(const struct st_xattrs *a, const struct st_xattrs *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, b->v[i].name) || a->v[i].len != b->v[i].len ||
		    memcmp(a->v[i].value, b->v[i].value, a->v[i].len))
			return false;
	return true;
}

int st_set_metadata(int dirfd, const char *name, int fd, const struct stat *st,
		    const struct st_xattrs *x, struct st_error *err)
{
	bool lnk = S_ISLNK(st->st_mode);
	int r = fd >= 0 ? fchown(fd, st->st_uid, st->st_gid)
			: fchownat(dirfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return st_error_set(err, errno, "chown \"%s\"", name);
	if (!lnk) {
		r = fd >= 0 ? fchmod(fd, st->st_mode & 07777) : fchmodat(dirfd, name, st->st_mode & 07777, 0);
		if (r < 0)
			return st_error_set(err, errno, "chmod \"%s\"", name);
	}
	if (x && x->n) {
		r = st_xattrs_apply(dirfd, name, x, err);
		if (r < 0)
			return r;
	}
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	r = fd >= 0 ? futimens(fd, ts) : utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return st_error_set(err, errno, "set times on \"%s\"", name);
	return 0;
}

/* ---------------------------------------------------------- tree copy */

int st_copy_file_data(int src, int dst, const struct stat *st)
{
	if (st->st_size == 0)
		return 0;
	if (ioctl(dst, FICLONE, src) == 0)
		return 0;
	bool sparse = (int64_t)st->st_blocks * 512 < (int64_t)st->st_size;
	off_t pos = 0;
	while (pos < st->st_size) {
		off_t data = pos, hole = st->st_size;
		if (sparse) {
			data = lseek(src, pos, SEEK_DATA);
			if (data < 0) {
				if (errno == ENXIO)
					break; /* hole to the end */
				data = pos;
			}
			hole = lseek(src, data, SEEK_HOLE);
			if (hole < 0)
				hole = st->st_size;
		}
		off_t in = data, out = data;
		while (in < hole) {
			ssize_t n = copy_file_range(src, &in, dst, &out, (size_t)(hole - in), 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
				char buf[65536];
				ssize_t rd = pread(src, buf, sizeof(buf) < (size_t)(hole - in) ? sizeof(buf) : (size_t)(hole - in), in);
				if (rd <= 0)
					return rd < 0 ? -errno : -EIO;
				/* a short write is how a full disk shows first: go on
				 * until write says why (errno still holds EXDEV) */
				for (ssize_t done = 0; done < rd;) {
					ssize_t w = pwrite(dst, buf + done, (size_t)(rd - done), out + done);
					if (w < 0 && errno == EINTR)
						continue;
					if (w <= 0)
						return w < 0 ? -errno : -ENOSPC;
					done += w;
				}
				n = rd;
				in += rd;
				out += rd;
			} else if (n < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			} else if (n == 0) {
				break;
			}
		}
		pos = hole;
	}
	if (ftruncate(dst, st->st_size) < 0)
		return -errno;
	return 0;
}

/* ------------------------------------------------------ file systems */

const char *st_fs_name(int dirfd)
{
	struct statfs sf;
	if (fstatfs(dirfd, &sf) < 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case EXT4_SUPER_MAGIC: return "extfs";
	case BTRFS_SUPER_MAGIC: return "btrfs";
	case TMPFS_MAGIC: return "tmpfs";
	case XFS_SUPER_MAGIC: return "xfs";
	case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
	case 0x01021997: return "v9fs";
	case NFS_SUPER_MAGIC: return "nfs";
	case 0x2fc12fc1: return "zfs";
	case SQUASHFS_MAGIC: return "squashfs";
	case 0x65735546: return "fuse";
	default: return "unknown";
	}
}

bool st_fs_supports_d_type(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	bool ok = true;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_type == DT_UNKNOWN)
			ok = false;
	closedir(d);
	return ok;
}

/* ---------------------------------------------------------- tree size */

struct size_state {
	int64_t total;
	struct st_hashmap seen;
};

static int size_entry(void *ctx, const struct st_walk_ent *e)
{
	struct size_state *s = ctx;
	if (!S_ISREG(e->st.st_mode) || e->post)
		return 0;
	if (e->st.st_nlink > 1) {
		char key[64];
		snprintf(key, sizeof(key), "%" PRIu64 ":%" PRIu64, (uint64_t)e->st.st_dev, (uint64_t)e->st.st_ino);
		if (st_hashmap_get(&s->seen, key))
			return 0;
		if (st_hashmap_put(&s->seen, key, (void *)1) < 0)
			return -ENOMEM;
	}
	s->total += e->st.st_size;
	return 0;
}

int64_t st_tree_size(int rootfd, struct st_error *err)
{
	struct size_state s = {0};
	st_hashmap_init(&s.seen, NULL);
	int r = st_walk(rootfd, size_entry, &s, err);
	st_hashmap_free(&s.seen);
	return r < 0 ? r : s.total;
}
