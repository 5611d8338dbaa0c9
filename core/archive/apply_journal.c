/* The undo journal of an apply: what it created, moved aside (into a
 * scratch directory) or is about to change the metadata of, undone in
 * reverse on failure so the directory is left as it was; and the metadata
 * helpers that reach the layer root itself through its fd. */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "base/base.h"
#include "archive/archive.h"
#include "archive_int.h"

/* The name of dirfd/name for the *xattr calls. The root itself ("") is
 * reached through its /proc/self/fd link, which the l* calls would not
 * follow. */
static const char *xattr_path(char *buf, size_t len, int dirfd, const char *name, bool *follow)
{
	st_fd_path(buf, len, dirfd, name);
	*follow = !name || !*name;
	return buf;
}

static int xattrs_read(int dirfd, const char *name, struct st_xattrs *out)
{
	if (name && *name)
		return st_xattrs_read(dirfd, name, out);
	/* the root: through its fd, as a directory */
	_cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	out->v = NULL;
	out->n = 0;
	char p[PATH_MAX];
	bool follow;
	xattr_path(p, sizeof(p), fd, "", &follow);
	ssize_t len = listxattr(p, NULL, 0);
	if (len <= 0)
		return len < 0 && errno != ENOTSUP ? -errno : 0;
	_cleanup_free_ char *list = malloc((size_t)len);
	if (!list || (len = listxattr(p, list, (size_t)len)) < 0)
		return list ? -errno : -ENOMEM;
	for (char *k = list; k < list + len; k += strlen(k) + 1) {
		ssize_t vl = getxattr(p, k, NULL, 0);
		if (vl < 0)
			continue;
		struct st_xattr *nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
		if (!nv) {
			st_xattrs_free(out);
			return -ENOMEM;
		}
		out->v = nv;
		nv[out->n].value = malloc(vl ? (size_t)vl : 1);
		nv[out->n].name = strdup(k);
		if (!nv[out->n].value || !nv[out->n].name) {
			free(nv[out->n].value);
			free(nv[out->n].name);
			st_xattrs_free(out);
			return -ENOMEM;
		}
		vl = getxattr(p, k, nv[out->n].value, (size_t)vl);
		nv[out->n].len = vl > 0 ? (size_t)vl : 0;
		out->n++;
	}
	return 0;
}

static int xattrs_set(int dirfd, const char *name, const struct st_xattrs *x, struct st_error *err)
{
	char p[PATH_MAX];
	bool follow;
	xattr_path(p, sizeof(p), dirfd, name, &follow);
	for (size_t i = 0; i < x->n; i++) {
		int r = follow ? setxattr(p, x->v[i].name, x->v[i].value, x->v[i].len, 0)
			       : lsetxattr(p, x->v[i].name, x->v[i].value, x->v[i].len, 0);
		if (r < 0)
			return st_error_set(err, errno, "set xattr %s on \"%s\"", x->v[i].name, *name ? name : "/");
	}
	return 0;
}

/* Owner, mode, xattrs, times: st_set_metadata, with the root's xattrs set
 * through its fd link. */
int ap_set_metadata(int dirfd, const char *name, int fd, const struct stat *st, const struct st_xattrs *x,
		    struct st_error *err)
{
	if (*name)
		return st_set_metadata(dirfd, name, fd, st, x, err);
	/* chown/chmod first (chown drops file capabilities), then xattrs,
	 * then times, which setxattr leaves alone */
	struct stat no_times = *st;
	no_times.st_atim.tv_nsec = no_times.st_mtim.tv_nsec = UTIME_OMIT;
	int r = st_set_metadata(dirfd, name, fd, &no_times, NULL, err);
	if (r >= 0 && x && x->n)
		r = xattrs_set(fd, "", x, err);
	if (r >= 0) {
		struct timespec ts[2] = {st->st_atim, st->st_mtim};
		if (futimens(fd, ts) < 0)
			r = st_error_set(err, errno, "set times on the layer root");
	}
	return r;
}

void ap_parent_of(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s", path);
	char *slash = strrchr(out, '/');
	if (slash)
		*slash = '\0';
	else
		out[0] = '\0';
}

static int journal(struct applier *ap, enum jkind kind, const char *path, const char *backup)
{
	if (ap->nj == ap->capj) {
		size_t nc = ap->capj ? ap->capj * 2 : 64;
		struct jent *nj = realloc(ap->j, nc * sizeof(*nj));
		if (!nj)
			return st_error_set(ap->err, ENOMEM, "apply");
		ap->j = nj;
		ap->capj = nc;
	}
	struct jent *je = &ap->j[ap->nj];
	memset(je, 0, sizeof(*je));
	je->kind = kind;
	je->path = strdup(path);
	je->backup = backup ? strdup(backup) : NULL;
	if (!je->path || (backup && !je->backup)) {
		free(je->path);
		free(je->backup);
		return st_error_set(ap->err, ENOMEM, "apply");
	}
	if (kind == J_META) {
		if (fstatat(ap->root, path, &je->st, AT_SYMLINK_NOFOLLOW | (*path ? 0 : AT_EMPTY_PATH)) < 0) {
			int e = errno;
			free(je->path);
			return st_error_set(ap->err, e, "stat \"%s\"", path);
		}
		int r = xattrs_read(ap->root, path, &je->x);
		if (r < 0) {
			free(je->path);
			return st_error_set(ap->err, -r, "read xattrs of \"%s\"", path);
		}
	}
	ap->nj++;
	return 0;
}

bool ap_is_created(struct applier *ap, const char *path)
{
	return st_hashmap_get(&ap->created, path) != NULL;
}

/* Journal an existing directory's metadata (its times above all) before
 * its entries or its metadata change, once per apply. */
int ap_touch_dir(struct applier *ap, const char *dir)
{
	if ((dir[0] && ap_is_created(ap, dir)) || st_hashmap_get(&ap->touched, dir))
		return 0;
	int r = journal(ap, J_META, dir, NULL);
	if (r < 0)
		return r;
	if (st_hashmap_put(&ap->touched, dir, (void *)1) < 0)
		return st_error_set(ap->err, ENOMEM, "apply");
	return 0;
}

int ap_touch_parent(struct applier *ap, const char *path)
{
	char parent[PATH_MAX];
	ap_parent_of(path, parent, sizeof(parent));
	return ap_touch_dir(ap, parent);
}

int ap_mark_created(struct applier *ap, const char *path)
{
	char parent[PATH_MAX];
	ap_parent_of(path, parent, sizeof(parent));
	/* everything under a created directory goes when it goes */
	if (!parent[0] || !ap_is_created(ap, parent)) {
		int r = ap_touch_dir(ap, parent);
		if (r < 0 || (r = journal(ap, J_CREATED, path, NULL)) < 0)
			return r;
	}
	if (st_hashmap_put(&ap->created, path, (void *)1) < 0)
		return st_error_set(ap->err, ENOMEM, "apply");
	return 0;
}

/* Move an existing entry out of the way (into scratch, for rollback). */
int ap_displace(struct applier *ap, int pfd, const char *base, const char *path)
{
	struct stat st;
	/* the cached parent may be what moves */
	ap->parent_path[0] = '\0';
	if (ap->parent_fd >= 0 && ap->parent_fd != pfd) {
		close(ap->parent_fd);
		ap->parent_fd = -1;
	}
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : st_error_set(ap->err, errno, "stat \"%s\"", path);
	int r = ap_touch_parent(ap, path);
	if (r < 0)
		return r;
	if (ap_is_created(ap, path)) {
		st_hashmap_put(&ap->created, path, NULL);
		return st_rm_rf_at(pfd, base, ap->err);
	}
	if (ap->scratch_fd < 0) {
		char rnd[17];
		if ((r = ap_touch_dir(ap, "")) < 0)
			return r;
		st_random_hex(rnd, 8);
		snprintf(ap->scratch, sizeof(ap->scratch), ".strata-apply-%s", rnd);
		if (mkdirat(ap->root, ap->scratch, 0700) < 0)
			return st_error_set(ap->err, errno, "create apply scratch directory");
		ap->scratch_fd = st_open_nofollow(ap->root, ap->scratch, O_RDONLY | O_DIRECTORY, 0);
		if (ap->scratch_fd < 0)
			return st_error_set(ap->err, -ap->scratch_fd, "open apply scratch directory");
	}
	char bname[32];
	snprintf(bname, sizeof(bname), "%u", ap->nbackup++);
	if (renameat(pfd, base, ap->scratch_fd, bname) < 0)
		return st_error_set(ap->err, errno, "move aside \"%s\"", path);
	return journal(ap, J_MOVED, path, bname);
}

void ap_remove_scratch(struct applier *ap)
{
	if (ap->scratch_fd >= 0) {
		struct st_error ignore;
		close(ap->scratch_fd);
		ap->scratch_fd = -1;
		st_rm_rf_at(ap->root, ap->scratch, &ignore);
	}
}

void ap_rollback(struct applier *ap)
{
	struct st_error ignore;
	for (size_t i = ap->nj; i > 0; i--) {
		struct jent *je = &ap->j[i - 1];
		char parent[PATH_MAX];
		ap_parent_of(je->path, parent, sizeof(parent));
		const char *slash = strrchr(je->path, '/');
		const char *name = slash ? slash + 1 : je->path;
		_cleanup_close_ int pfd = parent[0] ? st_open_nofollow(ap->root, parent, O_RDONLY | O_DIRECTORY, 0)
						    : openat(ap->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			continue;
		switch (je->kind) {
		case J_CREATED:
			st_rm_rf_at(pfd, name, &ignore);
			break;
		case J_MOVED:
			st_rm_rf_at(pfd, name, &ignore);
			renameat(ap->scratch_fd, je->backup, pfd, name);
			break;
		case J_META: {
			struct st_xattrs now = {0};
			char p[PATH_MAX];
			bool follow;
			xattr_path(p, sizeof(p), pfd, name, &follow);
			xattrs_read(pfd, name, &now);
			for (size_t k = 0; k < now.n; k++)
				follow ? removexattr(p, now.v[k].name) : lremovexattr(p, now.v[k].name);
			st_xattrs_free(&now);
			ap_set_metadata(pfd, name, *name ? -1 : pfd, &je->st, &je->x, &ignore);
			break;
		}
		}
	}
	/* the scratch directory's removal touches the root again */
	ap_remove_scratch(ap);
	struct timespec ts[2] = {ap->root_st.st_atim, ap->root_st.st_mtim};
	futimens(ap->root, ts);
}

void ap_applier_free(struct applier *ap)
{
	for (size_t i = 0; i < ap->nj; i++) {
		free(ap->j[i].path);
		free(ap->j[i].backup);
		st_xattrs_free(&ap->j[i].x);
	}
	free(ap->j);
	for (size_t i = 0; i < ap->ndt; i++)
		free(ap->dt[i].path);
	free(ap->dt);
	st_hashmap_free(&ap->created);
	st_hashmap_free(&ap->touched);
	st_hashmap_free(&ap->seen);
	if (ap->parent_fd >= 0)
		close(ap->parent_fd);
	ap_remove_scratch(ap);
}
