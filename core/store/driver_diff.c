/* Diffs through the driver interface: the driver's own diff, changes,
 * apply and diff size where it has them, else the naive ones that mount
 * the layer and its parent and compare the trees. Commit and tidy. */

#include "base/base.h"
#include "store/store.h"
#include "driver_int.h"

/* ------------------------------------------------------- diff dispatch */

static const char *default_parent(struct st_driver *d, const char *id, const char *parent, char *buf,
				  size_t len)
{
	if (parent)
		return *parent ? parent : NULL;
	struct st_error e;
	if (st_drv_parent(d, id, buf, len, &e) < 0 || !buf[0])
		return NULL;
	return buf;
}

static int check_layers(struct st_driver *d, const char *id, const char *parent, struct st_error *err)
{
	int r = drv_check_id("layer id", id, err);
	if (r < 0 || (parent && (r = drv_check_id("parent id", parent, err)) < 0))
		return r;
	if (!st_drv_exists(d, id))
		return st_error_fail(err, ENOENT, "%s: layer \"%s\" does not exist", d->ops->name, id);
	if (parent && !st_drv_exists(d, parent))
		return st_error_fail(err, ENOENT, "%s: layer \"%s\" does not exist", d->ops->name, parent);
	return 0;
}

int st_drv_diff(struct st_driver *d, const char *id, const char *parent, struct st_writer *out,
		struct st_error *err)
{
	char pbuf[130];
	parent = default_parent(d, id, parent, pbuf, sizeof(pbuf));
	int r = check_layers(d, id, parent, err);
	if (r < 0)
		return r;
	return d->ops->diff ? d->ops->diff(d, id, parent, out, err) : st_naive_diff(d, id, parent, out, err);
}

int st_drv_changes(struct st_driver *d, const char *id, const char *parent, struct st_changes *out,
		   struct st_error *err)
{
	char pbuf[130];
	parent = default_parent(d, id, parent, pbuf, sizeof(pbuf));
	int r = check_layers(d, id, parent, err);
	if (r < 0)
		return r;
	return d->ops->changes ? d->ops->changes(d, id, parent, out, err)
			       : st_naive_changes(d, id, parent, out, err);
}

int64_t st_drv_diff_size(struct st_driver *d, const char *id, const char *parent, struct st_error *err)
{
	char pbuf[130];
	parent = default_parent(d, id, parent, pbuf, sizeof(pbuf));
	int r = check_layers(d, id, parent, err);
	if (r < 0)
		return r;
	return d->ops->diff_size ? d->ops->diff_size(d, id, parent, err) : st_naive_diff_size(d, id, parent, err);
}

int64_t st_drv_apply_in(struct st_driver *d, const char *id, const char *parent, struct st_tar_in *in,
			struct st_error *err)
{
	char pbuf[130];
	parent = default_parent(d, id, parent, pbuf, sizeof(pbuf));
	int r = check_layers(d, id, parent, err);
	if (r < 0)
		return r;
	int64_t n = d->ops->apply_diff ? d->ops->apply_diff(d, id, parent, in, err)
				       : st_naive_apply(d, id, parent, in, err);
	return n < 0 ? st_error_wrap(err, "apply to layer \"%s\"", id) : n;
}

int64_t st_drv_apply(struct st_driver *d, const char *id, const char *parent, struct st_reader *src,
		     struct st_error *err)
{
	struct st_tar_in in;
	int r = st_tar_in_init(&in, src, err);
	if (r < 0)
		return r;
	int64_t n = st_drv_apply_in(d, id, parent, &in, err);
	st_tar_in_free(&in);
	return n;
}

int st_drv_commit(struct st_driver *d, const char *id, struct st_error *err)
{
	int r = drv_check_id("layer id", id, err);
	if (r < 0)
		return r;
	int lfd = drv_layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct drv_rec rec;
	if ((r = drv_rec_read(d, id, &rec, err)) < 0)
		goto out;
	if (!rec.rw)
		goto out;
	drv_mc_reap_id_locked(d, id);
	if (st_drv_mount_count(d, id) > 0) {
		r = st_error_fail(err, EBUSY, "layer \"%s\" is mounted: unmount it before commit", id);
		goto out;
	}
	if (d->ops->commit && (r = d->ops->commit(d, id, err)) < 0)
		goto out;
	rec.rw = false;
	r = drv_rec_write(d, id, &rec, err);
out:
	st_unlock(&lfd);
	return r;
}

int st_drv_tidy(struct st_driver *d, const char *id, struct st_error *err)
{
	int r = drv_check_id("layer id", id, err);
	if (r < 0 || !d->ops->tidy)
		return r;
	int lfd = drv_layer_lock(d, id, err);
	if (lfd < 0)
		return lfd;
	struct drv_rec rec;
	if ((r = drv_rec_read(d, id, &rec, err)) >= 0 && rec.rw) {
		drv_mc_reap_id_locked(d, id);
		if (st_drv_mount_count(d, id) == 0)
			r = d->ops->tidy(d, id, err);
	}
	st_unlock(&lfd);
	return r;
}

int st_drv_status(struct st_driver *d, struct st_kvlist *out)
{
	st_kvlist_add(out, "Backing Filesystem", "%s", st_fs_name(d->home_fd));
	st_kvlist_add(out, "Supports d_type", "%s", st_fs_supports_d_type(d->home_fd) ? "true" : "false");
	return d->ops->status ? d->ops->status(d, out) : 0;
}

/* ---------------------------------------------------------- naive diff */

struct pair {
	int layer, parent;
	struct timespec settled;
	bool has_settled;
};

static int open_pair(struct st_driver *d, const char *id, const char *parent, struct pair *p,
		     struct st_error *err)
{
	p->layer = p->parent = -1;
	int r = st_drv_open_dir(d, id, &p->layer, err);
	if (r < 0)
		return r;
	if (parent && (r = st_drv_open_dir(d, parent, &p->parent, err)) < 0) {
		st_drv_release_dir(d, id, &p->layer);
		return r;
	}
	p->has_settled = st_drv_settled(d, id, &p->settled) == 0 && p->settled.tv_sec > 0;
	return 0;
}

static void close_pair(struct st_driver *d, const char *id, const char *parent, struct pair *p)
{
	st_drv_release_dir(d, id, &p->layer);
	if (parent)
		st_drv_release_dir(d, parent, &p->parent);
}

int st_naive_changes(struct st_driver *d, const char *id, const char *parent, struct st_changes *out,
		     struct st_error *err)
{
	struct pair p;
	int r = open_pair(d, id, parent, &p, err);
	if (r < 0)
		return r;
	r = st_changes_compute(p.layer, p.parent, p.has_settled ? &p.settled : NULL, out, err);
	close_pair(d, id, parent, &p);
	return r;
}

int st_naive_diff(struct st_driver *d, const char *id, const char *parent, struct st_writer *out,
		  struct st_error *err)
{
	struct pair p;
	int r = open_pair(d, id, parent, &p, err);
	if (r < 0)
		return r;
	if (!parent) {
		r = st_archive_write_tree(p.layer, d->ops->whiteouts, out, err);
	} else {
		struct st_changes c = {0};
		r = st_changes_compute(p.layer, p.parent, p.has_settled ? &p.settled : NULL, &c, err);
		if (r >= 0)
			r = st_archive_write_changes(p.layer, &c, out, err);
		st_changes_free(&c);
	}
	close_pair(d, id, parent, &p);
	return r;
}

int64_t st_naive_diff_size(struct st_driver *d, const char *id, const char *parent, struct st_error *err)
{
	struct pair p;
	int r = open_pair(d, id, parent, &p, err);
	if (r < 0)
		return r;
	int64_t n;
	if (!parent) {
		n = st_tree_size(p.layer, err);
	} else {
		struct st_changes c = {0};
		n = st_changes_compute(p.layer, p.parent, p.has_settled ? &p.settled : NULL, &c, err);
		if (n >= 0)
			n = st_changes_size(p.layer, &c, err);
		st_changes_free(&c);
	}
	close_pair(d, id, parent, &p);
	return n;
}

int64_t st_naive_apply(struct st_driver *d, const char *id, const char *parent, struct st_tar_in *in,
		       struct st_error *err)
{
	(void)parent;
	int fd = -1;
	int r = st_drv_open_dir(d, id, &fd, err);
	if (r < 0)
		return r;
	struct st_apply_opts o = {.wh = d->ops->whiteouts};
	int64_t n = st_archive_apply(fd, in, &o, err);
	st_drv_release_dir(d, id, &fd);
	return n;
}
