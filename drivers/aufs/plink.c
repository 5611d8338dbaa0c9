/* The pseudo-link flush that auplink(8) does before an aufs umount.
 *
 * When a file with several hard links lives in a read-only branch and one
 * of its names is written, aufs copies it up once, into the rw branch's
 * .wh..wh.plnk/<union ino>.<branch ino>, and serves every name from there.
 * Those names do not exist in the rw branch yet, so without a flush the
 * layer's diff would miss them. Flushing links each name to the copy. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>

#include "base/base.h"
#include "aufs.h"

struct plink_walk {
	struct st_hashmap by_ino; /* "<union ino>" -> plnk entry name */
	char **paths, **names;    /* names found in the union, their plnk entry */
	size_t npaths, nnames;
};

static int plink_cb(void *ctx, const struct st_walk_ent *e)
{
	struct plink_walk *w = ctx;
	if (e->post)
		return 0;
	if (e->depth == 1 && aufs_is_meta(e->name))
		return 1;
	if (S_ISDIR(e->st.st_mode))
		return 0;
	char key[32];
	snprintf(key, sizeof(key), "%" PRIu64, (uint64_t)e->st.st_ino);
	const char *pl = st_hashmap_get(&w->by_ino, key);
	if (!pl)
		return 0;
	if (st_strv_push(&w->paths, &w->npaths, e->path) < 0 || st_strv_push(&w->names, &w->nnames, pl) < 0)
		return -ENOMEM;
	return 0;
}

/* Open (making it like the union's when missing) the directory dir of the
 * rw branch. */
static int rw_dir(int union_fd, int rw_fd, const char *dir, struct st_error *err)
{
	int fd = dup(rw_fd);
	if (fd < 0)
		return st_error_set(err, errno, "aufs: plink flush");
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", dir);
	char *save = NULL;
	char done[PATH_MAX] = "";
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		snprintf(done + strlen(done), sizeof(done) - strlen(done), "%s%s", done[0] ? "/" : "", c);
		struct stat ust;
		if (mkdirat(fd, c, 0700) == 0) {
			if (fstatat(union_fd, done, &ust, AT_SYMLINK_NOFOLLOW) == 0) {
				fchownat(fd, c, ust.st_uid, ust.st_gid, AT_SYMLINK_NOFOLLOW);
				fchmodat(fd, c, ust.st_mode & 07777, 0);
			}
		} else if (errno != EEXIST) {
			int r = st_error_set(err, errno, "aufs: plink flush: create \"%s\" in the rw branch", done);
			close(fd);
			return r;
		}
		int sub = st_open_nofollow(fd, c, O_RDONLY | O_DIRECTORY, 0);
		close(fd);
		if (sub < 0)
			return st_error_set(err, -sub, "aufs: plink flush: open \"%s\" in the rw branch", done);
		fd = sub;
	}
	return fd;
}

int aufs_plink_flush(int union_fd, int rw_fd, struct st_error *err)
{
	_cleanup_close_ int pfd = st_open_nofollow(rw_fd, AUFS_PLINK_DIR, O_RDONLY | O_DIRECTORY, 0);
	if (pfd == -ENOENT)
		return 0;
	if (pfd < 0)
		return st_error_set(err, -pfd, "aufs: open " AUFS_PLINK_DIR);
	char **entries;
	size_t ne;
	int r = st_list_dir(pfd, &entries, &ne);
	if (r < 0)
		return st_error_set(err, -r, "aufs: list " AUFS_PLINK_DIR);
	struct plink_walk w = {0};
	st_hashmap_init(&w.by_ino, free);
	for (size_t i = 0; i < ne && r >= 0; i++) {
		uint64_t uino, bino;
		char key[32];
		if (sscanf(entries[i], "%" SCNu64 ".%" SCNu64, &uino, &bino) != 2)
			continue; /* not a pseudo-link */
		snprintf(key, sizeof(key), "%" PRIu64, uino);
		char *v = st_strdup(entries[i]);
		if (!v || st_hashmap_put(&w.by_ino, key, v) < 0) {
			free(v);
			r = st_error_set(err, ENOMEM, "aufs: plink flush");
		}
	}
	st_strv_free(entries, ne);
	int made = 0;
	if (r >= 0 && w.by_ino.n > 0)
		r = st_walk(union_fd, plink_cb, &w, err);
	if (r == -ENOMEM)
		r = st_error_set(err, ENOMEM, "aufs: plink flush");
	for (size_t i = 0; r >= 0 && i < w.npaths; i++) {
		const char *path = w.paths[i];
		const char *slash = strrchr(path, '/');
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0, path);
		const char *base = slash ? slash + 1 : path;
		_cleanup_close_ int dfd = rw_dir(union_fd, rw_fd, dir, err);
		if (dfd < 0) {
			r = dfd;
			break;
		}
		if (linkat(pfd, w.names[i], dfd, base, 0) == 0)
			made++;
		else if (errno != EEXIST)
			r = st_error_set(err, errno, "aufs: plink flush: link \"%s\" to " AUFS_PLINK_DIR "/%s", path,
					 w.names[i]);
	}
	st_hashmap_free(&w.by_ino);
	st_strv_free(w.paths, w.npaths);
	st_strv_free(w.names, w.nnames);
	return r < 0 ? r : made;
}
