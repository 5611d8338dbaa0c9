/* Exact diffs: a layer filled by ApplyDiff keeps the tar's tar-split (its
 * non-file bytes, core/tarsplit.c), and its Diff against its own parent
 * replays it against the layer's files: the very tar dockerd sent, byte for
 * byte. So the graph driver reports ReproducesExactDiffs, and dockerd keeps
 * no tar-split of its own. Records live in <root>/docker-plugin/NAME/
 * tar-split/ID.gz, written as .applying-ID while the tar goes in (one apply
 * of a layer at a time; the file also says the layer is not dockerd's yet,
 * see holders.c) and renamed once the apply succeeded; Remove drops them,
 * and Init sweeps what a killed apply left and records whose layer is gone
 * (a kill between the two). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "exact.h"
#include "base/base.h"
#include "archive/archive.h"

static int exact_dir(struct st_store *s, const char *plugin, struct st_error *err)
{
	char sub[DP_NAME_MAX + 32];
	snprintf(sub, sizeof(sub), "%s/tar-split", plugin);
	_cleanup_close_ int top = st_store_subdir(s, "docker-plugin", err);
	if (top < 0)
		return top;
	int r = st_mkdir_p_at(top, sub, 0700, err);
	if (r < 0)
		return r;
	int fd = openat(top, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? st_error_set(err, errno, "open \"%s/docker-plugin/%s\"", st_store_root(s), sub) : fd;
}

int dp_exact_begin(struct dp_exact *x, struct st_store *s, const char *plugin, const char *docker_id,
		   struct st_error *err)
{
	memset(x, 0, sizeof(x[0]));
	x->dfd = x->fd = -1;
	if ((x->dfd = exact_dir(s, plugin, err)) < 0)
		return x->dfd;
	snprintf(x->name, sizeof(x->name), "%s.gz", docker_id);
	snprintf(x->tmp, sizeof(x->tmp), "%s%s", DP_APPLYING, docker_id);
	x->fd = openat(x->dfd, x->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (x->fd < 0 && errno == EEXIST) {
		x->tmp[0] = '\0'; /* the other apply's */
		dp_exact_abort(x);
		return st_error_fail(err, EBUSY, "layer \"%s\": another ApplyDiff of it is running", docker_id);
	}
	if (x->fd < 0 || fsync(x->fd) < 0 || st_fsync_dir(x->dfd) < 0 || st_tarsplit_new(x->fd, &x->ts) < 0) {
		int r = st_error_set(err, x->fd < 0 ? errno : ENOMEM, "tar-split record of layer \"%s\"", docker_id);
		dp_exact_abort(x);
		return r;
	}
	return 0;
}

int dp_exact_commit(struct dp_exact *x, struct st_error *err)
{
	int r = st_tarsplit_close(x->ts);
	x->ts = NULL;
	if (r < 0 || fsync(x->fd) < 0 || renameat(x->dfd, x->tmp, x->dfd, x->name) < 0 || st_fsync_dir(x->dfd) < 0) {
		r = st_error_set(err, r < 0 ? -r : errno, "tar-split record \"%s\"", x->name);
		dp_exact_abort(x);
		return r;
	}
	x->tmp[0] = '\0';
	dp_exact_abort(x);
	return 0;
}

void dp_exact_abort(struct dp_exact *x)
{
	if (x->ts)
		st_tarsplit_abort(x->ts);
	x->ts = NULL;
	if (x->tmp[0] && x->dfd >= 0)
		unlinkat(x->dfd, x->tmp, 0);
	x->tmp[0] = '\0';
	st_closep(&x->fd);
	st_closep(&x->dfd);
	x->fd = x->dfd = -1;
}

/* The records' directory and the name of docker_id's record in it. */
static int record_at(struct st_store *s, const char *plugin, const char *docker_id, char *name, size_t len,
		     struct st_error *err)
{
	snprintf(name, len, "%s.gz", docker_id);
	return exact_dir(s, plugin, err);
}

int dp_exact_open(struct st_store *s, const char *plugin, const char *docker_id, struct st_error *err)
{
	char name[DP_NAME_MAX + 160];
	_cleanup_close_ int dfd = record_at(s, plugin, docker_id, name, sizeof(name), err);
	if (dfd < 0)
		return dfd;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

int dp_exact_forget(struct st_store *s, const char *plugin, const char *docker_id, struct st_error *err)
{
	char name[DP_NAME_MAX + 160];
	_cleanup_close_ int dfd = record_at(s, plugin, docker_id, name, sizeof(name), err);
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "remove the tar-split record of layer \"%s\"", docker_id);
	return 0;
}

bool dp_exact_applying(struct st_store *s, const char *plugin, const char *docker_id)
{
	char name[DP_NAME_MAX + 160];
	struct st_error e;
	_cleanup_close_ int dfd = exact_dir(s, plugin, &e);
	snprintf(name, sizeof(name), "%s%s", DP_APPLYING, docker_id);
	return dfd >= 0 && faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

void dp_exact_sweep(struct st_store *s, const char *plugin)
{
	struct st_error e;
	char **names;
	size_t n;
	_cleanup_close_ int dfd = exact_dir(s, plugin, &e);
	if (dfd < 0 || st_list_dir(dfd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char id[160], drv[200];
		bool drop = st_str_has_prefix(names[i], DP_APPLYING);
		if (!drop && st_str_has_suffix(names[i], ".gz")) {
			snprintf(id, sizeof(id), "%.*s", (int)(strlen(names[i]) - 3), names[i]);
			drop = dp_layer_id(plugin, id, drv, sizeof(drv), &e) < 0 || !st_drv_exists(st_store_driver(s), drv);
		}
		if (drop)
			unlinkat(dfd, names[i], 0);
	}
	st_strv_free(names, n);
}
