/* vfs: every layer is a full copy of its parent, in <home>/dir/ID.
 * Works on any filesystem; copies share blocks (FICLONE) where the
 * filesystem can, and keep holes, owners, modes, xattrs and hardlinks. */
#include <fcntl.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"

struct vfs {
	int dir_fd;
};

static int vfs_probe(const char *home, char *reason, size_t len)
{
	(void)home;
	(void)reason;
	(void)len;
	return 0; /* a directory is enough */
}

static int vfs_init(struct st_driver *d, struct st_error *err)
{
	struct vfs *v = calloc(1, sizeof(*v));
	if (!v)
		return st_error_set(err, ENOMEM, "vfs");
	int r = st_mkdir_p_at(d->home_fd, "dir", 0700, err);
	if (r < 0 || (v->dir_fd = st_open_dir(d->home_fd, "dir", err)) < 0) {
		free(v);
		return r < 0 ? r : -EIO;
	}
	if (d->sweep)
		st_trash_sweep(v->dir_fd, err);
	d->priv = v;
	return 0;
}

static void vfs_cleanup(struct st_driver *d)
{
	struct vfs *v = d->priv;
	if (v) {
		close(v->dir_fd);
		free(v);
	}
}

static int vfs_create(struct st_driver *d, const char *id, const char *parent,
		      const struct st_create_opts *o, struct st_error *err)
{
	(void)o;
	struct vfs *v = d->priv;
	if (mkdirat(v->dir_fd, id, 0755) < 0)
		return st_error_set(err, errno, "vfs: create \"%s/dir/%s\"", d->home, id);
	_cleanup_close_ int fd = st_open_nofollow(v->dir_fd, id, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return st_error_set(err, -fd, "vfs: open \"%s/dir/%s\"", d->home, id);
	if (fchmod(fd, 0755) < 0 || fchown(fd, 0, 0) < 0)
		return st_error_set(err, errno, "vfs: set owner of \"%s/dir/%s\"", d->home, id);
	if (!parent)
		return 0;
	_cleanup_close_ int pfd = st_open_nofollow(v->dir_fd, parent, O_RDONLY | O_DIRECTORY, 0);
	if (pfd < 0)
		return st_error_set(err, -pfd, "vfs: open parent \"%s/dir/%s\"", d->home, parent);
	int r = st_copy_tree(pfd, fd, err);
	return r < 0 ? st_error_wrap(err, "vfs: copy layer \"%s\" into \"%s\"", parent, id) : 0;
}

static int vfs_remove(struct st_driver *d, const char *id, struct st_error *err)
{
	struct vfs *v = d->priv;
	int r = st_remove_at(v->dir_fd, id, err);
	return r < 0 ? st_error_wrap(err, "vfs: remove \"%s/dir/%s\"", d->home, id) : 0;
}

static int vfs_get(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err)
{
	(void)err;
	snprintf(path, len, "%s/dir/%s", d->home, id);
	return 0;
}

static int vfs_put(struct st_driver *d, const char *id, struct st_error *err)
{
	(void)d;
	(void)id;
	(void)err;
	return 0;
}

static bool vfs_exists(struct st_driver *d, const char *id)
{
	struct vfs *v = d->priv;
	struct stat st;
	return fstatat(v->dir_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static const char *const vfs_layer_options[] = {NULL};

const struct st_driver_ops st_vfs_driver = {
	.name = "vfs",
	.probe = vfs_probe,
	.init = vfs_init,
	.cleanup = vfs_cleanup,
	.create = vfs_create,
	.create_rw = vfs_create,
	.remove = vfs_remove,
	.get = vfs_get,
	.put = vfs_put,
	.exists = vfs_exists,
	.layer_options = vfs_layer_options,
	.whiteouts = ST_WH_DELETE,
};
