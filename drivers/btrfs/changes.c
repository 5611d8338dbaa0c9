/* Changes of a snapshot against its parent, found through btrfs itself
 * instead of a walk of both trees.
 *
 * A snapshot starts as its parent's tree; every change made in it since
 * rewrites (copy-on-write) the tree leaves holding the changed items, and
 * those leaves carry the transaction that wrote them. A tree search with a
 * minimum transaction of the snapshot's creation + 1 therefore yields every
 * item that may have changed (and some neighbours, which cost only a look):
 * their object ids are the inodes to look at. Each such inode's names
 * (BTRFS_IOC_INO_PATHS) are compared with the parent's entries of the same
 * path exactly as the generic compare does (st_entry_changed), directories
 * by their listings, so the result is the generic one, only without
 * visiting what did not change.
 *
 * It applies only when that reasoning holds: the layer is a snapshot of
 * this very parent (parent uuid), the parent has not changed since
 * (its last inode change, ctransid, is not after the snapshot), and neither
 * has nested subvolumes (their trees are not searched). Otherwise callers
 * use the generic compare. */
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <btrfsutil.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>

#include "base/base.h"
#include "archive/archive.h"
#include "btrfs.h"

static bool has_nested(int fd)
{
	struct btrfs_util_subvolume_iterator *it = NULL;
	if (btrfs_util_create_subvolume_iterator_fd(fd, 0, 0, &it))
		return true; /* cannot tell: take the safe path */
	uint64_t id;
	enum btrfs_util_error e = btrfs_util_subvolume_iterator_next(it, NULL, &id);
	btrfs_util_destroy_subvolume_iterator(it);
	return e != BTRFS_UTIL_ERROR_STOP_ITERATION;
}

/* ------------------------------------------------- changed inode numbers */

struct inos {
	uint64_t *v;
	size_t n, cap;
};

static int inos_add(struct inos *s, uint64_t ino)
{
	if (s->n && s->v[s->n - 1] == ino)
		return 0; /* items come sorted by object id */
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 256;
		uint64_t *nv = realloc(s->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = ino;
	return 0;
}

/* Object ids of the items of subvolume fd in tree blocks written after
 * transaction `after`. */
static int changed_inodes(int fd, uint64_t after, struct inos *out)
{
	size_t bufsize = 256 << 10;
	_cleanup_free_ struct btrfs_ioctl_search_args_v2 *a = calloc(1, sizeof(*a) + bufsize);
	if (!a)
		return -ENOMEM;
	struct btrfs_ioctl_search_key *k = &a->key;
	k->tree_id = 0; /* the subvolume of fd */
	k->min_objectid = BTRFS_FIRST_FREE_OBJECTID;
	k->max_objectid = BTRFS_LAST_FREE_OBJECTID;
	k->min_type = 0;
	k->max_type = (__u32)-1;
	k->min_offset = 0;
	k->max_offset = (__u64)-1;
	k->min_transid = after + 1;
	k->max_transid = (__u64)-1;
	for (;;) {
		k->nr_items = 4096;
		a->buf_size = bufsize;
		if (ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, a) < 0)
			return -errno;
		if (k->nr_items == 0)
			return 0;
		size_t off = 0;
		struct btrfs_ioctl_search_header h;
		for (__u32 i = 0; i < k->nr_items; i++) {
			memcpy(&h, a->buf + off, sizeof(h));
			off += sizeof(h) + h.len;
			if (inos_add(out, h.objectid) < 0)
				return -ENOMEM;
		}
		/* go on after the last key (136-bit key order, with carry) */
		k->min_objectid = h.objectid;
		k->min_type = h.type;
		k->min_offset = h.offset + 1;
		if (k->min_offset == 0) {
			k->min_type++;
			if (k->min_type == 0 || k->min_type > 255) {
				k->min_type = 0;
				if (++k->min_objectid == 0 || k->min_objectid > k->max_objectid)
					return 0;
			}
		}
	}
}

/* The transaction that last wrote inode ino's item in the subvolume of fd. */
static int inode_transid(int fd, uint64_t ino, uint64_t *out)
{
	struct btrfs_ioctl_search_args a;
	memset(&a, 0, sizeof(a));
	a.key.tree_id = 0;
	a.key.min_objectid = a.key.max_objectid = ino;
	a.key.min_type = a.key.max_type = BTRFS_INODE_ITEM_KEY;
	a.key.min_offset = 0;
	a.key.max_offset = (__u64)-1;
	a.key.max_transid = (__u64)-1;
	a.key.nr_items = 1;
	if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &a) < 0)
		return -errno;
	struct btrfs_ioctl_search_header h;
	memcpy(&h, a.buf, sizeof(h));
	if (a.key.nr_items < 1 || h.objectid != ino || h.type != BTRFS_INODE_ITEM_KEY ||
	    h.len < sizeof(struct btrfs_inode_item))
		return -ENOENT;
	struct btrfs_inode_item it;
	memcpy(&it, a.buf + sizeof(h), sizeof(it));
	*out = le64toh(it.transid);
	return 0;
}

/* An inode whose item was last written before the snapshot: nothing of it
 * changed since; it only shares a rewritten tree block with what did.
 * Every change to an inode (data, size, times, mode, owner, xattrs, links,
 * names) rewrites its item with the current transaction. Timestamps could
 * not tell this: a change in the same clock tick as the file's creation
 * leaves its ctime as it was. */
static bool untouched(int layer, uint64_t ino, uint64_t snapshot_transid)
{
	uint64_t t = 0;
	return inode_transid(layer, ino, &t) == 0 && t <= snapshot_transid;
}

/* Every name of inode ino in the subvolume fd (relative to its root). */
static int inode_paths(int fd, uint64_t ino, char ***paths, size_t *n)
{
	*paths = NULL;
	*n = 0;
	size_t size = 64 << 10;
	for (int attempt = 0; attempt < 4; attempt++) {
		_cleanup_free_ struct btrfs_data_container *c = calloc(1, size);
		if (!c)
			return -ENOMEM;
		struct btrfs_ioctl_ino_path_args a;
		memset(&a, 0, sizeof(a));
		a.inum = ino;
		a.size = size;
		a.fspath = (uintptr_t)c;
		if (ioctl(fd, BTRFS_IOC_INO_PATHS, &a) < 0)
			return errno == ENOENT ? 0 : -errno; /* ENOENT: deleted since */
		if (c->elem_missed) {
			size += c->bytes_missing + 4096;
			continue;
		}
		for (__u32 i = 0; i < c->elem_cnt; i++)
			if (st_strv_push(paths, n, (const char *)c->val + c->val[i]) < 0)
				return -ENOMEM;
		return 0;
	}
	return -E2BIG;
}

/* ------------------------------------------------------------ compare */

struct fc {
	int layer, parent;
	const struct timespec *settled;
	struct st_changes *out;
	struct st_hashmap seen; /* paths reported */
	struct st_error *err;
};

static int report(struct fc *c, const char *rel, char kind)
{
	if (st_hashmap_get(&c->seen, rel))
		return 0;
	struct st_changes *o = c->out;
	if (o->n == o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 64;
		struct st_change *nv = realloc(o->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		o->v = nv;
		o->cap = nc;
	}
	char *p = st_asprintf("/%s", rel);
	if (!p || st_hashmap_put(&c->seen, rel, (void *)1) < 0) {
		free(p);
		return -ENOMEM;
	}
	o->v[o->n].path = p;
	o->v[o->n].kind = kind;
	o->n++;
	return 0;
}

/* Open the directory containing rel in root; base gets the last name. */
static int open_dir_of(int root, const char *rel, const char **base)
{
	const char *slash = strrchr(rel, '/');
	*base = slash ? slash + 1 : rel;
	if (!slash)
		return dup(root);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
	return st_open_nofollow(root, dir, O_RDONLY | O_DIRECTORY, 0);
}

struct added {
	struct fc *c;
	const char *prefix;
};

static int added_cb(void *ctx, const struct st_walk_ent *e)
{
	struct added *a = ctx;
	if (e->post)
		return 0;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", a->prefix, e->path);
	return report(a->c, p, ST_CHANGE_ADD);
}

/* rel, a directory in the layer, with everything below it added. */
static int add_tree(struct fc *c, int dirfd, const char *name, const char *rel)
{
	int r = report(c, rel, ST_CHANGE_ADD);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = st_open_nofollow(dirfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return st_error_set(c->err, -fd, "btrfs: open \"/%s\"", rel);
	struct added a = {c, rel};
	return st_walk(fd, added_cb, &a, c->err);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of directory rel, present in both: added and deleted names. */
static int cmp_listing(struct fc *c, const char *rel, int nfd, int ofd)
{
	char **nn = NULL, **on = NULL;
	size_t nn_n = 0, on_n = 0;
	int r = st_list_dir(nfd, &nn, &nn_n);
	if (r >= 0)
		r = st_list_dir(ofd, &on, &on_n);
	if (r < 0) {
		r = st_error_set(c->err, -r, "btrfs: list \"/%s\"", rel);
		goto out;
	}
	for (size_t i = 0; i < nn_n && r >= 0; i++) {
		if (on_n && bsearch(&nn[i], on, on_n, sizeof(*on), cmp_names))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s%s%s", rel, rel[0] ? "/" : "", nn[i]);
		struct stat st;
		if (fstatat(nfd, nn[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			r = st_error_set(c->err, errno, "btrfs: stat \"/%s\"", p);
		else
			r = S_ISDIR(st.st_mode) ? add_tree(c, nfd, nn[i], p) : report(c, p, ST_CHANGE_ADD);
	}
	for (size_t i = 0; i < on_n && r >= 0; i++) {
		if (nn_n && bsearch(&on[i], nn, nn_n, sizeof(*nn), cmp_names))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s%s%s", rel, rel[0] ? "/" : "", on[i]);
		r = report(c, p, ST_CHANGE_DELETE);
	}
out:
	st_strv_free(nn, nn_n);
	st_strv_free(on, on_n);
	return r == -ENOMEM ? st_error_set(c->err, ENOMEM, "btrfs: changes") : r;
}

/* One name of a changed inode (its item was written since the snapshot, so
 * an equal ctime proves nothing): itself against the parent's same path, and
 * a directory's listing. A name the parent does not have is a new entry
 * of a changed directory, which that directory's listing reports. */
static int cmp_path(struct fc *c, const char *rel)
{
	if (!rel[0]) { /* the root: only its listing */
		return cmp_listing(c, "", c->layer, c->parent);
	}
	const char *base;
	_cleanup_close_ int nd = open_dir_of(c->layer, rel, &base);
	_cleanup_close_ int od = open_dir_of(c->parent, rel, &base);
	struct stat ns, os;
	if (nd < 0 || fstatat(nd, base, &ns, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* gone again since the paths were read */
	if (od < 0 || fstatat(od, base, &os, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	int r = 0;
	if (st_entry_changed(nd, od, base, &ns, &os, c->settled, true) && (r = report(c, rel, ST_CHANGE_MODIFY)) < 0)
		return r;
	if (!S_ISDIR(ns.st_mode))
		return 0;
	_cleanup_close_ int nfd = st_open_nofollow(nd, base, O_RDONLY | O_DIRECTORY, 0);
	if (nfd < 0)
		return st_error_set(c->err, -nfd, "btrfs: open \"/%s\"", rel);
	if (!S_ISDIR(os.st_mode)) { /* was no directory: all it holds is new */
		struct added a = {c, rel};
		return st_walk(nfd, added_cb, &a, c->err);
	}
	_cleanup_close_ int ofd = st_open_nofollow(od, base, O_RDONLY | O_DIRECTORY, 0);
	if (ofd < 0)
		return st_error_set(c->err, -ofd, "btrfs: open the parent's \"/%s\"", rel);
	return cmp_listing(c, rel, nfd, ofd);
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct st_change *)a)->path, ((const struct st_change *)b)->path);
}

int btrfs_fast_changes(int layer, int parent, const struct timespec *settled, struct st_changes *out,
		       struct st_error *err)
{
	memset(out, 0, sizeof(*out));
	/* The tree lags behind the files: inode updates are batched (delayed
	 * inodes) until the transaction commits, and a buffered write's new
	 * size and times reach the inode item only when its data is written
	 * back. Write back and commit (BTRFS_IOC_SYNC), or a chmod or an
	 * append of a moment ago would be in no tree block yet, nor in the
	 * root items' transaction numbers read below. */
	if (btrfs_util_sync_fd(layer))
		return -EOPNOTSUPP;
	struct btrfs_util_subvolume_info li, pi;
	if (btrfs_util_subvolume_info_fd(layer, 0, &li) || btrfs_util_subvolume_info_fd(parent, 0, &pi))
		return -EOPNOTSUPP;
	/* a snapshot of this parent, which has not changed since */
	if (memcmp(li.parent_uuid, pi.uuid, sizeof(pi.uuid)) != 0 || pi.ctransid > li.otransid)
		return -EOPNOTSUPP;
	if (has_nested(layer) || has_nested(parent))
		return -EOPNOTSUPP;
	struct inos inos = {0};
	int r = changed_inodes(layer, li.otransid, &inos);
	if (r < 0) {
		free(inos.v);
		return r == -ENOMEM ? st_error_set(err, ENOMEM, "btrfs: changes") : -EOPNOTSUPP;
	}
	struct fc c = {.layer = layer, .parent = parent, .settled = settled, .out = out, .err = err};
	st_hashmap_init(&c.seen, NULL);
	for (size_t i = 0; i < inos.n && r >= 0; i++) {
		if (untouched(layer, inos.v[i], li.otransid))
			continue;
		if (inos.v[i] == BTRFS_FIRST_FREE_OBJECTID) {
			r = cmp_path(&c, ""); /* the subvolume root has no name */
			continue;
		}
		char **paths;
		size_t np;
		if ((r = inode_paths(layer, inos.v[i], &paths, &np)) < 0) {
			r = r == -ENOMEM ? st_error_set(err, ENOMEM, "btrfs: changes") : -EOPNOTSUPP;
			break;
		}
		for (size_t j = 0; j < np && r >= 0; j++)
			r = cmp_path(&c, paths[j]);
		st_strv_free(paths, np);
	}
	free(inos.v);
	/* a directory with changes inside is listed too, up to the root */
	size_t n = out->n;
	for (size_t i = 0; i < n && r >= 0; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s", out->v[i].path + 1);
		for (char *s = strrchr(p, '/'); s && r >= 0; s = strrchr(p, '/')) {
			*s = '\0';
			if (st_hashmap_get(&c.seen, p))
				break;
			r = report(&c, p, ST_CHANGE_MODIFY);
		}
	}
	if (r == -ENOMEM)
		r = st_error_set(err, ENOMEM, "btrfs: changes");
	st_hashmap_free(&c.seen);
	if (r < 0) {
		st_changes_free(out);
		memset(out, 0, sizeof(*out));
		return r;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_change);
	return 0;
}
