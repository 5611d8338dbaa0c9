/* A branch must never hold a name and its whiteout at once.
 *
 * An OCI layer may carry both .wh.X and X: the whiteout deletes the lower
 * layers' X, the entry is this layer's new X. Unpacked as they are into an
 * aufs branch, aufs would find the whiteout and hide the new X too. The
 * branch form of "lower X gone, new X here" is: X alone, and when X is a
 * directory, X made opaque so nothing of the lower X shows through. */
#include <fcntl.h>
#include <sys/stat.h>

#include "base/base.h"
#include "archive/archive.h"
#include "aufs.h"

struct norm {
	struct st_error *err;
	int fixed;
};

static int norm_cb(void *ctx, const struct st_walk_ent *e)
{
	struct norm *n = ctx;
	if (e->post)
		return 0;
	if (!st_str_has_prefix(e->name, ST_WH_PREFIX) || st_str_has_prefix(e->name, ST_WH_META_PREFIX))
		return 0;
	const char *victim = e->name + strlen(ST_WH_PREFIX);
	struct stat st;
	if (fstatat(e->dirfd, victim, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* an ordinary whiteout */
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int dfd = st_open_nofollow(e->dirfd, victim, O_RDONLY | O_DIRECTORY, 0);
		if (dfd < 0)
			return st_error_set(n->err, -dfd, "aufs: open \"%s\"", e->path);
		_cleanup_close_ int fd = openat(dfd, ST_WH_OPAQUE, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0444);
		if (fd < 0)
			return st_error_set(n->err, errno, "aufs: make \"%s\"'s directory opaque", e->path);
	}
	if (unlinkat(e->dirfd, e->name, 0) < 0)
		return st_error_set(n->err, errno, "aufs: remove \"%s\"", e->path);
	n->fixed++;
	return 0;
}

int aufs_branch_normalize(int rootfd, struct st_error *err)
{
	struct norm n = {.err = err};
	int r = st_walk(rootfd, norm_cb, &n, err);
	return r < 0 ? r : n.fixed;
}
