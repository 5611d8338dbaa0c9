/* aufs: Docker's layout under the home: diff/ID holds the layer's own files
 * with aufs whiteouts (.wh.NAME, .wh..wh..opq: the OCI names), layers/ID
 * its ancestors nearest first, mnt/ID the union mount point. A layer's
 * diff directory is its change set, so diff and apply need no mount, and
 * a store written by Docker's aufs driver reads the same way.
 *
 * aufs is out of the mainline kernel: probe says why it cannot run (not in
 * /proc/filesystems after `modprobe aufs`, a user namespace, a backing
 * filesystem aufs refuses), and everything but the mount itself works on
 * the directories alone. */
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include <libmount.h>

#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "aufs.h"

#define AUFS_SUPER_MAGIC 0x61756673
#define ECRYPTFS_SUPER_MAGIC 0xf15f
#define BTRFS_MAGIC 0x9123683e

extern char **environ;

struct aufs {
	int diff_fd, layers_fd, mnt_fd;
};

/* ------------------------------------------------------------- probe */

/* `modprobe aufs`; its complaint (first line of stderr) goes to msg. */
static int run_modprobe(char *msg, size_t len)
{
	msg[0] = '\0';
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(msg, len, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	char *argv[] = {"modprobe", "aufs", NULL};
	pid_t pid;
	int r = posix_spawnp(&pid, "modprobe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		snprintf(msg, len, "cannot run modprobe: %s", strerror(r));
		return -1;
	}
	char buf[512], sink[512];
	size_t n = 0;
	ssize_t k;
	/* keep the start, drain the rest so modprobe never blocks on us */
	while ((k = read(pipefd[0], n < sizeof(buf) - 1 ? buf + n : sink,
			 n < sizeof(buf) - 1 ? sizeof(buf) - 1 - n : sizeof(sink))) > 0)
		if (n < sizeof(buf) - 1)
			n += (size_t)k;
	close(pipefd[0]);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok)
		snprintf(msg, len, "%s", buf[0] ? buf : "modprobe failed");
	return ok ? 0 : -1;
}

static bool proc_has_aufs(void)
{
	_cleanup_free_ char *text = NULL;
	struct st_error e;
	return st_read_file_at(AT_FDCWD, "/proc/filesystems", &text, NULL, &e) == 0 && aufs_filesystems_has_aufs(text);
}

static int aufs_probe(const char *home, char *reason, size_t len)
{
	_cleanup_free_ char *map = NULL;
	struct st_error e;
	if (st_read_file_at(AT_FDCWD, "/proc/self/uid_map", &map, NULL, &e) == 0 && !aufs_uid_map_is_initial(map)) {
		snprintf(reason, len, "aufs cannot be mounted inside a user namespace");
		return -EOPNOTSUPP;
	}
	if (!proc_has_aufs()) {
		char msg[400];
		if (run_modprobe(msg, sizeof(msg)) < 0 || !proc_has_aufs()) {
			snprintf(reason, len, "aufs is not in /proc/filesystems, and `modprobe aufs` did not load it (%s)",
				 msg[0] ? msg : "no error, but still not listed");
			return -EOPNOTSUPP;
		}
	}
	struct statfs sf;
	if (statfs(home, &sf) == 0) {
		unsigned long t = (unsigned long)sf.f_type;
		const char *bad = t == AUFS_SUPER_MAGIC ? "aufs" : t == BTRFS_MAGIC ? "btrfs" : t == ECRYPTFS_SUPER_MAGIC ? "ecryptfs" : NULL;
		if (bad) {
			snprintf(reason, len, "aufs cannot use branches on %s (the driver home \"%s\")", bad, home);
			return -EOPNOTSUPP;
		}
	}
	if (!aufs_branch_path_ok(home)) {
		snprintf(reason, len, "the driver home \"%s\" has ':', ',' or '=' in it, which aufs branch lists cannot carry",
			 home);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* ---------------------------------------------------------- init */

static void aufs_cleanup(struct st_driver *d)
{
	struct aufs *a = d->priv;
	if (!a)
		return;
	if (a->diff_fd >= 0)
		close(a->diff_fd);
	if (a->layers_fd >= 0)
		close(a->layers_fd);
	if (a->mnt_fd >= 0)
		close(a->mnt_fd);
	free(a);
	d->priv = NULL;
}

static int read_chain(struct st_driver *d, const char *id, char ***ids, size_t *n, struct st_error *err);

/* A store written by Docker's aufs driver has diff/ID and layers/ID but
 * none of our records: take its layers in as they are (read-only, with the
 * parent their layers file names). */
static int adopt_foreign(struct st_driver *d, struct st_error *err)
{
	struct aufs *a = d->priv;
	char **names;
	size_t n;
	int r = st_list_dir(a->diff_fd, &names, &n);
	if (r < 0)
		return st_error_set(err, -r, "aufs: list \"%s/diff\"", d->home);
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct stat st;
		char parent[130];
		struct st_error e2;
		/* ours have a record from before their directory (any state:
		 * one being made by another process is not to be waited for) */
		if (!st_valid_id(names[i]) || fstatat(a->layers_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st_drv_parent(d, names[i], parent, sizeof(parent), &e2) == 0)
			continue;
		char **chain;
		size_t nc;
		if ((r = read_chain(d, names[i], &chain, &nc, err)) < 0)
			break;
		r = st_drv_adopt(d, names[i], nc ? chain[0] : NULL, err);
		st_strv_free(chain, nc);
	}
	st_strv_free(names, n);
	return r;
}

static int aufs_init(struct st_driver *d, struct st_error *err)
{
	struct aufs *a = calloc(1, sizeof(*a));
	if (!a)
		return st_error_set(err, ENOMEM, "aufs");
	a->diff_fd = a->layers_fd = a->mnt_fd = -1;
	d->priv = a;
	static const char *const subs[] = {"diff", "layers", "mnt"};
	int *fds[] = {&a->diff_fd, &a->layers_fd, &a->mnt_fd};
	for (size_t i = 0; i < ST_ARRAY_SIZE(subs); i++) {
		int r = st_mkdir_p_at(d->home_fd, subs[i], 0700, err);
		if (r < 0 || (*fds[i] = st_open_dir(d->home_fd, subs[i], err)) < 0) {
			aufs_cleanup(d);
			return r < 0 ? r : st_error_wrap(err, "aufs: \"%s\"", d->home);
		}
		/* removals a killed process left renamed but not deleted */
		struct st_error ignore;
		if (d->sweep)
			st_trash_sweep(*fds[i], &ignore);
	}
	int r = adopt_foreign(d, err);
	if (r < 0)
		aufs_cleanup(d);
	return r;
}

/* ------------------------------------------------------- layer chain */

static int read_chain(struct st_driver *d, const char *id, char ***ids, size_t *n, struct st_error *err)
{
	struct aufs *a = d->priv;
	_cleanup_free_ char *text = NULL;
	int r = st_read_file_at(a->layers_fd, id, &text, NULL, err);
	if (r < 0)
		return st_error_wrap(err, "aufs: layer \"%s\": read \"%s/layers/%s\"", id, d->home, id);
	r = aufs_chain_parse(text, ids, n, err);
	return r < 0 ? st_error_wrap(err, "aufs: \"%s/layers/%s\"", d->home, id) : 0;
}

/* Is parent (NULL: none) the layer's own parent, the one its diff
 * directory is relative to? */
static bool is_own_parent(struct st_driver *d, const char *id, const char *parent)
{
	char **chain;
	size_t n;
	struct st_error e;
	if (read_chain(d, id, &chain, &n, &e) < 0)
		return false;
	bool same = parent ? n > 0 && strcmp(chain[0], parent) == 0 : n == 0;
	st_strv_free(chain, n);
	return same;
}

/* ------------------------------------------------------------ create */

static int aufs_create(struct st_driver *d, const char *id, const char *parent, const struct st_create_opts *o,
		       struct st_error *err)
{
	(void)o;
	struct aufs *a = d->priv;
	char **pchain = NULL;
	size_t np = 0;
	int r;
	if (parent && (r = read_chain(d, parent, &pchain, &np, err)) < 0)
		return r;
	_cleanup_free_ char *chain = aufs_chain_format(parent, pchain, np);
	st_strv_free(pchain, np);
	if (!chain)
		return st_error_set(err, ENOMEM, "aufs: layer \"%s\"", id);
	/* diff/ID last: it is what makes the layer exist */
	if ((r = st_atomic_write_at(a->layers_fd, id, chain, strlen(chain), 0600, err)) < 0)
		return st_error_wrap(err, "aufs: layer \"%s\"", id);
	int *fds[] = {&a->mnt_fd, &a->diff_fd};
	const char *names[] = {"mnt", "diff"};
	for (size_t i = 0; i < 2; i++) {
		if (mkdirat(*fds[i], id, 0755) < 0 && !(errno == EEXIST && i == 0))
			return st_error_set(err, errno, "aufs: create \"%s/%s/%s\"", d->home, names[i], id);
		if (fchownat(*fds[i], id, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 || fchmodat(*fds[i], id, 0755, 0) < 0)
			return st_error_set(err, errno, "aufs: set owner of \"%s/%s/%s\"", d->home, names[i], id);
	}
	return 0;
}

/* ------------------------------------------------------------- mount */

/* The first mount, then one remount per branch that did not fit. *first
 * tells whether the first mount(2) is the one that failed. */
static int do_mount(const char *target, const struct aufs_mount_plan *plan, bool *first, struct st_error *err)
{
	*first = true;
	if (mount("none", target, "aufs", 0, plan->data) < 0)
		return st_error_set(err, errno, "aufs: mount on \"%s\"", target);
	*first = false;
	for (size_t i = 0; i < plan->nappends; i++) {
		if (mount("none", target, "aufs", MS_REMOUNT, plan->appends[i]) < 0) {
			int r = st_error_set(err, errno, "aufs: remount \"%s\" with \"%s\"", target, plan->appends[i]);
			umount2(target, MNT_DETACH);
			return r;
		}
	}
	return 0;
}

static int aufs_get(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err)
{
	char **chain;
	size_t n;
	int r = read_chain(d, id, &chain, &n, err);
	if (r < 0)
		return r;
	char rw[PATH_MAX], target[PATH_MAX];
	snprintf(rw, sizeof(rw), "%s/diff/%s", d->home, id);
	snprintf(target, sizeof(target), "%s/mnt/%s", d->home, id);
	char **ro = calloc(n + 1, sizeof(*ro));
	for (size_t i = 0; ro && i < n; i++)
		if (!(ro[i] = st_asprintf("%s/diff/%s", d->home, chain[i])))
			r = -ENOMEM;
	st_strv_free(chain, n);
	if (!ro || r < 0) {
		st_strv_free(ro, ro ? n : 0);
		return st_error_set(err, ENOMEM, "aufs: layer \"%s\"", id);
	}
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct aufs_mount_plan plan;
	bool first = false;
	/* dirperm1 (permission checks on the upper branch only, what
	 * containers expect) where the module knows it; older ones say EINVAL */
	r = aufs_mount_plan(rw, (const char *const *)ro, n, page, true, &plan, err);
	if (r >= 0 && (r = do_mount(target, &plan, &first, err)) == -EINVAL && first) {
		aufs_mount_plan_free(&plan);
		r = aufs_mount_plan(rw, (const char *const *)ro, n, page, false, &plan, err);
		if (r >= 0)
			r = do_mount(target, &plan, &first, err);
	}
	aufs_mount_plan_free(&plan);
	st_strv_free(ro, n);
	if (r < 0)
		return st_error_wrap(err, "aufs: layer \"%s\" (%zu branches)", id, n + 1);
	snprintf(path, len, "%s", target);
	return 0;
}

static int aufs_put(struct st_driver *d, const char *id, struct st_error *err)
{
	struct aufs *a = d->priv;
	char target[PATH_MAX];
	snprintf(target, sizeof(target), "%s/mnt/%s", d->home, id);
	if (!st_is_mountpoint(target))
		return 0;
	_cleanup_close_ int ufd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int rwfd = st_open_nofollow(a->diff_fd, id, O_RDONLY | O_DIRECTORY, 0);
	if (ufd < 0 || rwfd < 0)
		return st_error_set(err, ufd < 0 ? errno : -rwfd, "aufs: layer \"%s\": open for the pseudo-link flush", id);
	/* a name that exists only as a pseudo-link would be lost from the
	 * diff: refuse to unmount until the flush succeeds */
	int r = aufs_plink_flush(ufd, rwfd, err);
	if (r < 0)
		return st_error_wrap(err, "aufs: layer \"%s\": unmount \"%s\"", id, target);
	if (r > 0)
		mount("none", target, "aufs", MS_REMOUNT, "clean_plink");
	close(ufd);
	ufd = -1;
	if (umount2(target, 0) < 0)
		return st_error_set(err, errno, "aufs: layer \"%s\": unmount \"%s\"%s", id, target,
				    errno == EBUSY ? " (still in use by a process or a mount inside it)" : "");
	return 0;
}

/* ------------------------------------------------------------ remove */

/* The first mount at or below path in this mount namespace (1), or 0. */
static int mount_below(const char *path, char *mnt, size_t len)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return errno == ENOENT ? 0 : -errno;
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return -EIO;
	struct libmnt_iter *itr = mnt_new_iter(MNT_ITER_FORWARD);
	size_t rl = strlen(real);
	struct libmnt_fs *fs;
	int found = 0;
	while (itr && !found && mnt_table_next_fs(tb, itr, &fs) == 0) {
		const char *t = mnt_fs_get_target(fs);
		if (t && strncmp(t, real, rl) == 0 && (t[rl] == '\0' || t[rl] == '/')) {
			snprintf(mnt, len, "%s", t);
			found = 1;
		}
	}
	mnt_free_iter(itr);
	mnt_unref_table(tb);
	return found;
}

static int aufs_remove(struct st_driver *d, const char *id, struct st_error *err)
{
	struct aufs *a = d->priv;
	char target[PATH_MAX], diff[PATH_MAX], mnt[PATH_MAX];
	snprintf(target, sizeof(target), "%s/mnt/%s", d->home, id);
	snprintf(diff, sizeof(diff), "%s/diff/%s", d->home, id);
	/* nobody counts this mount any more (the core refuses counted ones):
	 * a leftover of a killed process, unmounted as Docker did; busy means
	 * someone still works in it, and then nothing is touched */
	if (st_is_mountpoint(target) && umount2(target, 0) < 0)
		return st_error_set(err, errno, "aufs: layer \"%s\": its mount \"%s\" %s", id, target,
				    errno == EBUSY ? "is busy (a process or a mount inside it uses it); stop them first"
						   : "cannot be unmounted");
	int r = mount_below(diff, mnt, sizeof(mnt));
	if (r == 0)
		r = mount_below(target, mnt, sizeof(mnt));
	if (r < 0)
		return st_error_set(err, -r, "aufs: layer \"%s\": read the mount table", id);
	if (r > 0)
		return st_error_fail(err, EBUSY, "aufs: layer \"%s\" is busy: \"%s\" is mounted in it; unmount it first", id,
				     mnt);

	/* rename all three first: a kill -9 leaves .trash-* (swept by init),
	 * never a half-deleted layer under its own name */
	int fds[] = {a->layers_fd, a->mnt_fd, a->diff_fd};
	char trash[3][NAME_MAX + 1];
	char rnd[17];
	if ((r = st_random_hex(rnd, 8)) < 0)
		return st_error_set(err, -r, "aufs: remove layer \"%s\"", id);
	for (size_t i = 0; i < 3; i++) {
		snprintf(trash[i], sizeof(trash[i]), ".trash-%.200s-%s", id, rnd);
		if (renameat(fds[i], id, fds[i], trash[i]) < 0) {
			if (errno != ENOENT)
				return st_error_set(err, errno, "aufs: remove layer \"%s\": rename", id);
			trash[i][0] = '\0';
		}
		st_fsync_dir(fds[i]);
	}
	for (size_t i = 0; i < 3 && r >= 0; i++)
		if (trash[i][0])
			r = st_rm_rf_at(fds[i], trash[i], err);
	return r < 0 ? st_error_wrap(err, "aufs: remove layer \"%s\"", id) : 0;
}

static bool aufs_exists(struct st_driver *d, const char *id)
{
	struct aufs *a = d->priv;
	struct stat st;
	return fstatat(a->diff_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* ------------------------------------------------------ native diffs */

/* The lower branches of id: diff dirs of its ancestors, nearest first. */
static int open_lower(struct st_driver *d, const char *id, int **fds, size_t *n, struct st_error *err)
{
	struct aufs *a = d->priv;
	char **chain;
	int r = read_chain(d, id, &chain, n, err);
	if (r < 0)
		return r;
	*fds = calloc(*n + 1, sizeof(**fds));
	if (!*fds) {
		st_strv_free(chain, *n);
		return st_error_set(err, ENOMEM, "aufs");
	}
	for (size_t i = 0; i < *n && r >= 0; i++) {
		(*fds)[i] = st_open_nofollow(a->diff_fd, chain[i], O_RDONLY | O_DIRECTORY, 0);
		if ((*fds)[i] < 0) {
			r = st_error_set(err, -(*fds)[i], "aufs: layer \"%s\": open its ancestor \"%s/diff/%s\"", id, d->home,
					 chain[i]);
			for (size_t j = 0; j < i; j++)
				close((*fds)[j]);
		}
	}
	st_strv_free(chain, *n);
	if (r < 0) {
		free(*fds);
		*fds = NULL;
	}
	return r;
}

static void close_lower(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

static int open_diff(struct st_driver *d, const char *id, struct st_error *err)
{
	struct aufs *a = d->priv;
	int fd = st_open_nofollow(a->diff_fd, id, O_RDONLY | O_DIRECTORY, 0);
	return fd < 0 ? st_error_set(err, -fd, "aufs: open \"%s/diff/%s\"", d->home, id) : fd;
}

static int aufs_diff(struct st_driver *d, const char *id, const char *parent, struct st_writer *out,
		     struct st_error *err)
{
	/* against another layer than its own parent the branch says nothing */
	if (!is_own_parent(d, id, parent))
		return st_naive_diff(d, id, parent, out, err);
	_cleanup_close_ int fd = open_diff(d, id, err);
	if (fd < 0)
		return fd;
	return st_archive_write_tree(fd, ST_WH_AUFS, out, err);
}

static int aufs_changes_op(struct st_driver *d, const char *id, const char *parent, struct st_changes *out,
			   struct st_error *err)
{
	if (!is_own_parent(d, id, parent))
		return st_naive_changes(d, id, parent, out, err);
	_cleanup_close_ int fd = open_diff(d, id, err);
	if (fd < 0)
		return fd;
	int *lower;
	size_t n;
	int r = open_lower(d, id, &lower, &n, err);
	if (r < 0)
		return r;
	r = aufs_changes(fd, lower, n, out, err);
	close_lower(lower, n);
	return r;
}

static int64_t aufs_diff_size(struct st_driver *d, const char *id, const char *parent, struct st_error *err)
{
	if (!is_own_parent(d, id, parent))
		return st_naive_diff_size(d, id, parent, err);
	struct st_changes c;
	int r = aufs_changes_op(d, id, parent, &c, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open_diff(d, id, err);
	int64_t n = fd < 0 ? fd : st_changes_size(fd, &c, err);
	st_changes_free(&c);
	return n;
}

/* Straight into the branch: the tar's whiteouts are aufs' own. */
static int64_t aufs_apply_diff(struct st_driver *d, const char *id, const char *parent, struct st_tar_in *in,
			       struct st_error *err)
{
	(void)parent;
	_cleanup_close_ int fd = open_diff(d, id, err);
	if (fd < 0)
		return fd;
	struct st_apply_opts o = {.wh = ST_WH_AUFS};
	int64_t n = st_archive_apply(fd, in, &o, err);
	if (n < 0)
		return n;
	int r = aufs_branch_normalize(fd, err);
	return r < 0 ? r : n;
}

/* ------------------------------------------------------------ status */

static int aufs_status(struct st_driver *d, struct st_kvlist *out)
{
	struct aufs *a = d->priv;
	char **names;
	size_t n = 0, dirs = 0;
	if (st_list_dir(a->diff_fd, &names, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			dirs += st_valid_id(names[i]);
		st_strv_free(names, n);
	}
	st_kvlist_add(out, "Root Dir", "%s", d->home);
	st_kvlist_add(out, "Dirs", "%zu", dirs);
	st_kvlist_add(out, "Xino", "%s", AUFS_XINO);
	return 0;
}

static int aufs_metadata(struct st_driver *d, const char *id, struct st_kvlist *out)
{
	char **chain;
	size_t n;
	struct st_error e;
	if (read_chain(d, id, &chain, &n, &e) < 0)
		return -e.code;
	st_kvlist_add(out, "Diff Dir", "%s/diff/%s", d->home, id);
	st_kvlist_add(out, "Branches", "%zu", n + 1);
	st_strv_free(chain, n);
	return 0;
}

static const char *const aufs_no_options[] = {NULL};

const struct st_driver_ops st_aufs_driver = {
	.name = "aufs",
	.probe = aufs_probe,
	.init = aufs_init,
	.cleanup = aufs_cleanup,
	.create = aufs_create,
	.create_rw = aufs_create,
	.remove = aufs_remove,
	.get = aufs_get,
	.put = aufs_put,
	.exists = aufs_exists,
	.status = aufs_status,
	.metadata = aufs_metadata,
	.diff = aufs_diff,
	.changes = aufs_changes_op,
	.diff_size = aufs_diff_size,
	.apply_diff = aufs_apply_diff,
	.init_options = aufs_no_options,
	.layer_options = aufs_no_options,
	.whiteouts = ST_WH_AUFS,
};
