/* overlay: layers stacked by the kernel's overlayfs, laid out as Docker's
 * overlay2:
 *   <home>/ID/diff     the layer's own files (its change set)
 *   <home>/ID/work     overlay's work directory (read-write layers only)
 *   <home>/ID/merged   mount point (layers with a parent)
 *   <home>/ID/link     the layer's short name, LINK
 *   <home>/ID/lower    its parents as "l/LINK1:l/LINK2:..." (top first)
 *   <home>/l/LINK      -> ../ID/diff
 * A layer without a parent is its diff/ directory, no mount. A read-write
 * layer mounts with its diff/ as the upper directory; a committed layer is
 * mounted read-only, its diff/ the top lower layer, and never gets an upper.
 * Whether a layer is read-write is the core's record (st_drv_is_rw), so a
 * commit is one record change: diff/ stays where it is. */
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "base/base.h"
#include "overlay.h"

/* ------------------------------------------------------------ layout */

static int layer_dir(struct st_driver *d, const char *id, struct st_error *err)
{
	int fd = st_open_nofollow(d->home_fd, id, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return st_error_set(err, -fd, "overlay: open layer \"%s/%s\"", d->home, id);
	return fd;
}

int ovl_open_diff(struct st_driver *d, const char *id, struct st_error *err)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/diff", id);
	int fd = st_open_nofollow(d->home_fd, p, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return st_error_set(err, -fd, "overlay: open \"%s/%s\"", d->home, p);
	return fd;
}

static bool valid_link(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '2' && s[n] <= '7')))
			return false;
	return n == OVL_LINK_LEN;
}

int ovl_open_link(struct st_driver *d, const char *link, struct st_error *err)
{
	struct ovl *o = d->priv;
	char t[PATH_MAX];
	ssize_t n = valid_link(link) ? readlinkat(o->l_fd, link, t, sizeof(t) - 1) : -1;
	if (n < 0)
		return st_error_set(err, valid_link(link) ? errno : EINVAL, "overlay: read link \"%s/l/%s\"", d->home, link);
	t[n] = '\0';
	/* "../ID/diff", opened from the home without following anything */
	size_t tl = strlen(t);
	if (!st_str_has_prefix(t, "../") || tl < 9 || strcmp(t + tl - 5, "/diff") != 0)
		return st_error_fail(err, EINVAL, "overlay: link \"%s/l/%s\" points at \"%s\"", d->home, link, t);
	int fd = st_open_nofollow(d->home_fd, t + 3, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return st_error_set(err, -fd, "overlay: open \"%s/%s\" (link %s)", d->home, t + 3, link);
	return fd;
}

static int read_small(int dirfd, const char *name, char *buf, size_t len)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int read_lowers_at(int lfd, const char *id, char ***links, size_t *n, struct st_error *err)
{
	*links = NULL;
	*n = 0;
	_cleanup_free_ char *text = NULL;
	struct st_error e2;
	int r = st_read_file_at(lfd, "lower", &text, NULL, &e2);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return st_error_set(err, -r, "overlay: read the lower file of layer \"%s\"", id);
	text[strcspn(text, "\n")] = '\0';
	for (char *save = NULL, *t = strtok_r(text, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
		const char *name = st_str_has_prefix(t, "l/") ? t + 2 : t;
		if (!valid_link(name)) {
			st_strv_free(*links, *n);
			*links = NULL;
			*n = 0;
			return st_error_fail(err, EINVAL, "overlay: layer \"%s\": bad entry \"%s\" in its lower file", id, t);
		}
		if (st_strv_push(links, n, name) < 0) {
			st_strv_free(*links, *n);
			*links = NULL;
			*n = 0;
			return st_error_set(err, ENOMEM, "overlay: layer \"%s\"", id);
		}
	}
	return 0;
}

int ovl_read_lowers(struct st_driver *d, const char *id, char ***links, size_t *n, struct st_error *err)
{
	_cleanup_close_ int lfd = layer_dir(d, id, err);
	if (lfd < 0)
		return lfd;
	return read_lowers_at(lfd, id, links, n, err);
}

bool ovl_is_parent(struct st_driver *d, const char *id, const char *parent)
{
	char real[130];
	struct st_error e;
	if (st_drv_parent(d, id, real, sizeof(real), &e) < 0)
		return false;
	return strcmp(real, parent ? parent : "") == 0;
}

/* A fresh short name in l/ pointing at ../ID/diff. The link file is written
 * first, so that a removal always knows which name to take back. */
static int make_link(struct st_driver *d, struct ovl *o, int lfd, const char *id, struct st_error *err)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	char target[PATH_MAX];
	snprintf(target, sizeof(target), "../%s/diff", id);
	for (int tries = 0; tries < 1000; tries++) {
		unsigned char rnd[OVL_LINK_LEN];
		char name[OVL_LINK_LEN + 2];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return st_error_set(err, errno, "overlay: random link name");
		for (int i = 0; i < OVL_LINK_LEN; i++)
			name[i] = alphabet[rnd[i] % 32];
		name[OVL_LINK_LEN] = '\0';
		if (faccessat(o->l_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		name[OVL_LINK_LEN] = '\n';
		int r = st_atomic_write_at(lfd, "link", name, OVL_LINK_LEN + 1, 0600, err);
		name[OVL_LINK_LEN] = '\0';
		if (r < 0)
			return st_error_wrap(err, "overlay: layer \"%s\"", id);
		if (symlinkat(target, o->l_fd, name) == 0)
			return 0;
		if (errno != EEXIST)
			return st_error_set(err, errno, "overlay: create link \"%s/l/%s\"", d->home, name);
	}
	return st_error_fail(err, EEXIST, "overlay: no free link name in \"%s/l\"", d->home);
}

/* ------------------------------------------------------------ create */

static int layer_size(struct ovl *o, const char *id, bool rw, const struct st_create_opts *co, int64_t *size,
		      struct st_error *err)
{
	*size = 0;
	const char *s = co && co->storage_opt ? st_kvlist_get(co->storage_opt, "size") : NULL;
	if (!s) {
		if (rw)
			*size = o->default_size;
		return 0;
	}
	if (st_parse_size(s, size) < 0 || *size <= 0)
		return st_error_fail(err, EINVAL, "overlay: layer \"%s\": invalid size \"%s\"", id, s);
	if (!o->quota.enabled)
		return st_error_fail(err, ENOTSUP, "overlay: layer \"%s\": size needs project quota: %s", id,
				     o->quota.why);
	return 0;
}

static int ovl_create_layer(struct st_driver *d, const char *id, const char *parent, bool rw,
			    const struct st_create_opts *co, struct st_error *err)
{
	struct ovl *o = d->priv;
	if (strcmp(id, "l") == 0)
		return st_error_fail(err, EINVAL, "overlay: layer id \"l\" is reserved (the link directory)");
	int64_t size;
	int r = layer_size(o, id, rw, co, &size, err);
	if (r < 0)
		return r;
	char plink[OVL_LINK_LEN + 2] = "";
	_cleanup_free_ char *plower = NULL;
	if (parent) {
		_cleanup_close_ int pfd = layer_dir(d, parent, err);
		if (pfd < 0)
			return pfd;
		if ((r = read_small(pfd, "link", plink, sizeof(plink))) < 0 || !valid_link(plink))
			return st_error_fail(err, r < 0 ? -r : EINVAL, "overlay: parent layer \"%s\" has no valid link file",
					     parent);
		char **links;
		size_t n;
		if ((r = read_lowers_at(pfd, parent, &links, &n, err)) < 0)
			return r;
		/* mounted, a committed layer stacks its own diff/ too */
		size_t stack = n + 1 + (rw ? 0 : 1);
		if (stack > OVL_MAX_LOWERS) {
			st_strv_free(links, n);
			return st_error_fail(err, E2BIG,
					     "overlay: layer \"%s\" would stack %zu lower layers when mounted, the kernel "
					     "allows at most %d", id, stack, OVL_MAX_LOWERS);
		}
		size_t len = 3 + OVL_LINK_LEN + n * (3 + OVL_LINK_LEN) + 2;
		plower = malloc(len);
		if (plower) {
			size_t off = (size_t)snprintf(plower, len, "l/%s", plink);
			for (size_t i = 0; i < n; i++)
				off += (size_t)snprintf(plower + off, len - off, ":l/%s", links[i]);
			snprintf(plower + off, len - off, "\n");
		}
		st_strv_free(links, n);
		if (!plower)
			return st_error_set(err, ENOMEM, "overlay: layer \"%s\"", id);
	}
	if (mkdirat(d->home_fd, id, 0700) < 0)
		return st_error_set(err, errno, "overlay: create \"%s/%s\"", d->home, id);
	_cleanup_close_ int lfd = layer_dir(d, id, err);
	if (lfd < 0)
		return lfd;
	char what[200];
	snprintf(what, sizeof(what), "layer \"%s\"", id);
	if (size > 0 && (r = ovl_quota_set(&o->quota, lfd, what, size, err)) < 0)
		return r;
	if (mkdirat(lfd, "diff", 0755) < 0 || (rw && mkdirat(lfd, "work", 0700) < 0) ||
	    (parent && mkdirat(lfd, "merged", 0700) < 0))
		return st_error_set(err, errno, "overlay: create the directories of \"%s/%s\"", d->home, id);
	if ((r = make_link(d, o, lfd, id, err)) < 0)
		return r;
	if (plower && (r = st_atomic_write_at(lfd, "lower", plower, strlen(plower), 0600, err)) < 0)
		return st_error_wrap(err, "overlay: layer \"%s\"", id);
	return 0;
}

static int ovl_create(struct st_driver *d, const char *id, const char *parent, const struct st_create_opts *co,
		      struct st_error *err)
{
	return ovl_create_layer(d, id, parent, false, co, err);
}

static int ovl_create_rw(struct st_driver *d, const char *id, const char *parent, const struct st_create_opts *co,
			 struct st_error *err)
{
	return ovl_create_layer(d, id, parent, true, co, err);
}

/* ------------------------------------------------------------ remove */

/* Idempotent: a removal cut short by a kill is finished by calling it
 * again (the core does, from st_drv_recover). */
static int ovl_remove(struct st_driver *d, const char *id, struct st_error *err)
{
	struct ovl *o = d->priv;
	_cleanup_close_ int lfd = st_open_nofollow(d->home_fd, id, O_RDONLY | O_DIRECTORY, 0);
	if (lfd == -ENOENT)
		return 0;
	if (lfd < 0)
		return st_error_set(err, -lfd, "overlay: open layer \"%s/%s\"", d->home, id);
	int r = ovl_unmount(lfd, "merged", err);
	if (r < 0)
		return st_error_wrap(err, "overlay: remove layer \"%s\"", id);
	char link[OVL_LINK_LEN + 2], target[PATH_MAX], want[PATH_MAX];
	snprintf(want, sizeof(want), "../%s/diff", id);
	if (read_small(lfd, "link", link, sizeof(link)) == 0 && valid_link(link)) {
		/* the name may have gone to another layer since a killed removal */
		ssize_t n = readlinkat(o->l_fd, link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (strcmp(target, want) == 0 && unlinkat(o->l_fd, link, 0) < 0 && errno != ENOENT)
				return st_error_set(err, errno, "overlay: remove link \"%s/l/%s\"", d->home, link);
		}
	}
	ovl_quota_clear(&o->quota, lfd);
	r = st_remove_at(d->home_fd, id, err);
	return r < 0 ? st_error_wrap(err, "overlay: remove layer \"%s\"", id) : 0;
}

/* ------------------------------------------------------------- mount */

static int ovl_get(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err)
{
	struct ovl *o = d->priv;
	_cleanup_close_ int lfd = layer_dir(d, id, err);
	if (lfd < 0)
		return lfd;
	char **links;
	size_t n;
	int r = read_lowers_at(lfd, id, &links, &n, err);
	if (r < 0)
		return r;
	if (n == 0) {
		snprintf(path, len, "%s/%s/diff", d->home, id);
		return 0;
	}
	bool rw = st_drv_is_rw(d, id);
	char own[OVL_LINK_LEN + 2] = "";
	char upper[PATH_MAX], work[PATH_MAX], target[PATH_MAX];
	snprintf(upper, sizeof(upper), "../%s/diff", id);
	snprintf(work, sizeof(work), "../%s/work", id);
	snprintf(target, sizeof(target), "../%s/merged", id);
	/* a committed layer: its own diff/ is the top of the lower stack */
	if (!rw && ((r = read_small(lfd, "link", own, sizeof(own))) < 0 || !valid_link(own))) {
		st_strv_free(links, n);
		return st_error_fail(err, r < 0 ? -r : EINVAL, "overlay: layer \"%s\" has no valid link file", id);
	}
	const char **lowers = calloc(n + 1, sizeof(*lowers));
	if (!lowers) {
		st_strv_free(links, n);
		return st_error_set(err, ENOMEM, "overlay: mount layer \"%s\"", id);
	}
	size_t nl = 0;
	if (!rw)
		lowers[nl++] = own;
	for (size_t i = 0; i < n; i++)
		lowers[nl++] = links[i];
	/* a kill after an earlier commit may have taken work/ with it */
	if (rw && mkdirat(lfd, "work", 0700) < 0 && errno != EEXIST)
		r = st_error_set(err, errno, "overlay: create \"%s/%s/work\"", d->home, id);
	/* a mount nobody counts any more (a kill between mount and count) */
	if (r >= 0)
		r = ovl_unmount(lfd, "merged", err);
	if (r >= 0) {
		char lpath[PATH_MAX];
		snprintf(lpath, sizeof(lpath), "%s/l", d->home);
		struct ovl_mount_spec s = {
			.base_fd = o->l_fd,
			.base_path = lpath,
			.lowers = lowers,
			.nlowers = nl,
			.upper = rw ? upper : NULL,
			.work = rw ? work : NULL,
			.target = target,
			.opts = o->opts,
			.lowerdir_plus = o->lowerdir_plus,
		};
		r = ovl_mount(&s, err);
	}
	free(lowers);
	st_strv_free(links, n);
	if (r < 0)
		return st_error_wrap(err, "overlay: mount layer \"%s\"", id);
	snprintf(path, len, "%s/%s/merged", d->home, id);
	return 0;
}

static int ovl_put(struct st_driver *d, const char *id, struct st_error *err)
{
	/* a layer without a parent has no merged/ and was never mounted */
	char merged[PATH_MAX];
	snprintf(merged, sizeof(merged), "%s/merged", id);
	int r = ovl_unmount(d->home_fd, merged, err);
	return r < 0 ? st_error_wrap(err, "overlay: unmount layer \"%s\"", id) : 0;
}

static bool ovl_exists(struct st_driver *d, const char *id)
{
	struct stat st;
	return strcmp(id, "l") != 0 && fstatat(d->home_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* In place: diff/ stays, work/ goes (a committed layer never gets an upper
 * again) and so does its size limit. The core then records it read-only. */
static int ovl_commit(struct st_driver *d, const char *id, struct st_error *err)
{
	struct ovl *o = d->priv;
	_cleanup_close_ int lfd = layer_dir(d, id, err);
	if (lfd < 0)
		return lfd;
	char **links;
	size_t n;
	int r = read_lowers_at(lfd, id, &links, &n, err);
	if (r < 0)
		return r;
	st_strv_free(links, n);
	/* read-only, its own diff/ joins the lower stack: it must still mount */
	if (n + 1 > OVL_MAX_LOWERS)
		return st_error_fail(err, E2BIG,
				     "overlay: layer \"%s\" cannot be committed: read-only it would stack %zu lower "
				     "layers, the kernel allows at most %d", id, n + 1, OVL_MAX_LOWERS);
	r = ovl_unmount(lfd, "merged", err);
	if (r >= 0)
		r = st_remove_at(lfd, "work", err);
	if (r < 0)
		return st_error_wrap(err, "overlay: commit layer \"%s\"", id);
	ovl_quota_clear(&o->quota, lfd);
	return 0;
}

/* ------------------------------------------------------------ status */

static int ovl_status(struct st_driver *d, struct st_kvlist *out)
{
	struct ovl *o = d->priv;
	st_kvlist_add(out, "Native Overlay Diff", "%s", o->native_diff ? "true" : "false");
	if (!o->native_diff)
		st_kvlist_add(out, "Naive Diff Reason", "%s", o->native_why);
	st_kvlist_add(out, "Using metacopy", "%s", strstr(o->opts, "metacopy=on") ? "true" : "false");
	st_kvlist_add(out, "Renamed Directories", "%s",
		      o->redirects ? "redirects (a layer holding one is diffed naively)"
				   : "copied (rename(2) of a lower directory fails with EXDEV)");
	st_kvlist_add(out, "Mount API", "%s",
		      o->lowerdir_plus ? "mount(2), fsconfig lowerdir+ past one page"
				       : "mount(2), short relative paths past one page");
	st_kvlist_add(out, "Max Layers", "%d", OVL_MAX_LOWERS);
	st_kvlist_add(out, "Mount Options", "%s", o->opts);
	st_kvlist_add(out, "Project Quota", "%s", o->quota.enabled ? "true" : "false");
	if (o->default_size > 0)
		st_kvlist_add(out, "Default Size", "%lld", (long long)o->default_size);
	return 0;
}

static int ovl_metadata(struct st_driver *d, const char *id, struct st_kvlist *out)
{
	struct ovl *o = d->priv;
	struct st_error e;
	_cleanup_close_ int lfd = layer_dir(d, id, &e);
	if (lfd < 0)
		return lfd;
	char **links;
	size_t n;
	int r = read_lowers_at(lfd, id, &links, &n, &e);
	if (r < 0)
		return r;
	if (n > 0) {
		size_t cap = n * (strlen(d->home) + 140) + 1, off = 0;
		_cleanup_free_ char *buf = malloc(cap);
		for (size_t i = 0; buf && i < n; i++) {
			char t[PATH_MAX];
			ssize_t k = readlinkat(o->l_fd, links[i], t, sizeof(t) - 1);
			t[k > 0 ? k : 0] = '\0';
			off += (size_t)snprintf(buf + off, cap - off, "%s%s/%s", i ? ":" : "", d->home,
						st_str_has_prefix(t, "../") ? t + 3 : t);
		}
		if (buf)
			st_kvlist_add(out, "LowerDir", "%s", buf);
		st_kvlist_add(out, "MergedDir", "%s/%s/merged", d->home, id);
	}
	st_strv_free(links, n);
	st_kvlist_add(out, "UpperDir", "%s/%s/diff", d->home, id);
	if (st_drv_is_rw(d, id))
		st_kvlist_add(out, "WorkDir", "%s/%s/work", d->home, id);
	int64_t limit = ovl_quota_get(&o->quota, lfd);
	if (limit > 0)
		st_kvlist_add(out, "Size", "%lld", (long long)limit);
	return 0;
}

/* -------------------------------------------------------- init/cleanup */

static void ovl_free(struct ovl *o)
{
	if (!o)
		return;
	if (o->l_fd >= 0)
		close(o->l_fd);
	ovl_quota_cleanup(&o->quota);
	free(o);
}

/* Finish removals a killed process left (renamed to .trash-*), and drop
 * stale temporary copies of the features cache. Not other .tmp-* files:
 * the project id counter may be another process's write in flight. */
static void sweep_trash(int home_fd)
{
	char **names;
	size_t n;
	if (st_list_dir(home_fd, &names, &n) < 0)
		return;
	struct st_error e;
	for (size_t i = 0; i < n; i++)
		if (st_str_has_prefix(names[i], ".trash-") || st_str_has_prefix(names[i], ".tmp-.features-"))
			st_rm_rf_at(home_fd, names[i], &e);
	st_strv_free(names, n);
}

static int ovl_init(struct st_driver *d, struct st_error *err)
{
	struct ovl *o = calloc(1, sizeof(*o));
	if (!o)
		return st_error_set(err, ENOMEM, "overlay");
	o->l_fd = -1;
	o->quota.lock_dir_fd = -1;
	const char *api = st_kvlist_get(&d->opts, "mount_api");
	const char *size = st_kvlist_get(&d->opts, "size");
	int r = 0;
	if (api && strcmp(api, "auto") && strcmp(api, "legacy") && strcmp(api, "lowerdir+"))
		r = st_error_fail(err, EINVAL, "overlay: mount_api \"%s\": use auto, legacy or lowerdir+", api);
	if (r >= 0)
		r = ovl_mount_options(st_kvlist_get(&d->opts, "mountopt"), o->opts, sizeof(o->opts), err);
	if (r >= 0 && (r = st_mkdir_p_at(d->home_fd, "l", 0700, err)) >= 0 &&
	    (o->l_fd = st_open_nofollow(d->home_fd, "l", O_RDONLY | O_DIRECTORY, 0)) < 0)
		r = st_error_set(err, -o->l_fd, "overlay: open \"%s/l\"", d->home);
	if (r >= 0) {
		ovl_quota_init(&o->quota, d->home_fd);
		if (size && (st_parse_size(size, &o->default_size) < 0 || o->default_size <= 0))
			r = st_error_fail(err, EINVAL, "overlay: invalid size \"%s\"", size);
		else if (size && !o->quota.enabled)
			r = st_error_fail(err, ENOTSUP, "overlay: size=%s needs project quota: %s", size, o->quota.why);
	}
	if (r >= 0)
		r = ovl_check_features(d, o, !api || strcmp(api, "legacy") != 0, err);
	if (r >= 0 && api && strcmp(api, "lowerdir+") == 0 && !o->lowerdir_plus)
		r = st_error_fail(err, ENOTSUP, "overlay: mount_api=lowerdir+: this kernel has no lowerdir+ (6.8+)");
	if (r < 0) {
		ovl_free(o);
		return r;
	}
	sweep_trash(d->home_fd);
	d->priv = o;
	return 0;
}

static void ovl_cleanup(struct st_driver *d)
{
	ovl_free(d->priv);
	d->priv = NULL;
}

/* ----------------------------------------------------------- the table */

static const char *const ovl_init_options[] = {"size", "mountopt", "mount_api", NULL};
static const char *const ovl_layer_options[] = {"size", NULL};

const struct st_driver_ops st_overlay_driver = {
	.name = "overlay",
	.probe = ovl_check_probe,
	.init = ovl_init,
	.cleanup = ovl_cleanup,
	.create = ovl_create,
	.create_rw = ovl_create_rw,
	.remove = ovl_remove,
	.get = ovl_get,
	.put = ovl_put,
	.exists = ovl_exists,
	.status = ovl_status,
	.metadata = ovl_metadata,
	.diff = ovl_diff,
	.changes = ovl_changes,
	.apply_diff = ovl_apply_diff,
	.diff_size = ovl_diff_size,
	.commit = ovl_commit,
	.tidy = ovl_tidy,
	.init_options = ovl_init_options,
	.layer_options = ovl_layer_options,
	.whiteouts = ST_WH_OVERLAY,
};
