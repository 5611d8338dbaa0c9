/* devmapper's thin pool: running helper programs, the device records and
 * deviceset.json, the pool (given, or made from loopback files), its
 * transactions (transaction.json; see devmapper.c) and the base device. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "base/base.h"
#include "store/store.h"
#include "devmapper.h"

/* ---------------------------------------------------------- helpers */

/* Run a program (mkfs, resize2fs, xfs_growfs) from the system directories,
 * its output captured for the error message. */
int dm_exec(const char *const argv[], struct st_error *err)
{
	static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
	char prog[PATH_MAX] = "";
	for (size_t i = 0; i < ST_ARRAY_SIZE(dirs) && !prog[0]; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", dirs[i], argv[0]);
		if (access(p, X_OK) == 0)
			snprintf(prog, sizeof(prog), "%s", p);
	}
	if (!prog[0])
		return st_error_fail(err, ENOENT, "devmapper: %s not found in /usr/sbin, /sbin, /usr/bin, /bin",
				     argv[0]);
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return st_error_set(err, errno, "devmapper: run %s", argv[0]);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	pid_t pid;
	int r = posix_spawn(&pid, prog, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return st_error_set(err, r, "devmapper: run %s", prog);
	}
	char out[1024];
	size_t n = 0;
	for (;;) {
		char buf[512];
		ssize_t k = read(pipefd[0], buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		/* keep the last part: the error is at the end */
		for (ssize_t i = 0; i < k; i++) {
			if (n == sizeof(out) - 1) {
				memmove(out, out + 256, n - 256);
				n -= 256;
			}
			out[n++] = buf[i];
		}
	}
	close(pipefd[0]);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return st_error_set(err, errno, "devmapper: wait for %s", prog);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return st_error_fail(err, EIO, "devmapper: %s failed (%s %d): %s", prog,
				     WIFEXITED(status) ? "exit" : "signal",
				     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), n ? out : "no output");
	return 0;
}

int dm_parse_bool(const char *key, const char *v, bool *out, struct st_error *err)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return st_error_fail(err, EINVAL, "devmapper: %s=\"%s\": use true or false", key, v);
	return 0;
}

int dm_parse_size(const char *key, const char *v, int64_t min, int64_t *out, struct st_error *err)
{
	if (st_parse_size(v, out) < 0 || *out < min)
		return st_error_fail(err, EINVAL, "devmapper: %s=\"%s\": need a size of at least %" PRId64 " bytes",
				     key, v, min);
	return 0;
}

/* --------------------------------------------------------- records */

int dm_rec_load(int dirfd, const char *name, struct dmrec *rec, struct st_error *err)
{
	memset(rec, 0, sizeof(*rec));
	_cleanup_json_ json_object *o = NULL;
	int r = st_json_load_at(dirfd, name, &o, err);
	if (r < 0)
		return r;
	int64_t id = st_json_int(o, "device_id"), size = st_json_int(o, "size");
	if (id < 0 || id > (int64_t)DM_MAX_DEVICE_ID || size <= 0)
		return st_error_fail(err, EUCLEAN, "devmapper: device record \"%s\" is damaged", name);
	rec->device_id = (uint32_t)id;
	rec->size = (uint64_t)size;
	rec->transaction_id = (uint64_t)st_json_int(o, "transaction_id");
	json_object *v;
	rec->initialized = json_object_object_get_ex(o, "initialized", &v) && json_object_get_boolean(v);
	return 0;
}

int dm_rec_save(int dirfd, const char *name, const struct dmrec *rec, struct st_error *err)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	if (!o)
		return st_error_set(err, ENOMEM, "devmapper: record \"%s\"", name);
	json_object_object_add(o, "device_id", json_object_new_int64(rec->device_id));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)rec->size));
	json_object_object_add(o, "transaction_id", json_object_new_int64((int64_t)rec->transaction_id));
	if (strcmp(name, DM_BASE) == 0)
		json_object_object_add(o, "initialized", json_object_new_boolean(rec->initialized));
	return st_json_save_at(dirfd, name, o, err);
}

int dm_rec_unlink(int dirfd, const char *name, struct st_error *err)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "devmapper: remove device record \"%s\"", name);
	st_fsync_dir(dirfd);
	return 0;
}

int dm_state_save(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	_cleanup_json_ json_object *o = json_object_new_object();
	if (!o)
		return st_error_set(err, ENOMEM, "devmapper: deviceset.json");
	json_object_object_add(o, "pool", json_object_new_string(s->pool));
	json_object_object_add(o, "loopback", json_object_new_boolean(s->loopback));
	json_object_object_add(o, "fs", json_object_new_string(s->fs));
	json_object_object_add(o, "base_size", json_object_new_int64(s->base_size));
	json_object_object_add(o, "transaction_id", json_object_new_int64((int64_t)s->tid));
	json_object_object_add(o, "next_device_id", json_object_new_int64(s->next_id));
	int r = st_json_save_at(d->home_fd, "deviceset.json", o, err);
	return r < 0 ? st_error_wrap(err, "devmapper: save \"%s/deviceset.json\"", d->home) : 0;
}

/* ---------------------------------------------------------- the pool */

int dm_pool_status(struct dmset *s, struct pool_status *ps, struct st_error *err)
{
	char target[32], params[512];
	memset(ps, 0, sizeof(*ps));
	int r = dmlib_status(s->pool, false, target, sizeof(target), params, sizeof(params), NULL, err);
	if (r < 0)
		return r;
	if (strcmp(target, "thin-pool") != 0)
		return st_error_fail(err, EINVAL, "devmapper: \"%s\" is a %s device, not a thin-pool", s->pool, target);
	if (strcmp(params, "Fail") == 0) {
		snprintf(ps->mode, sizeof(ps->mode), "fail");
		return st_error_fail(err, EIO, "devmapper: thin pool \"%s\" has failed (run thin_check)", s->pool);
	}
	char root[32];
	if (sscanf(params, "%" SCNu64 " %" SCNu64 "/%" SCNu64 " %" SCNu64 "/%" SCNu64 " %31s %31s", &ps->tid,
		   &ps->meta_used, &ps->meta_total, &ps->data_used, &ps->data_total, root, ps->mode) != 7)
		return st_error_fail(err, EINVAL, "devmapper: cannot read the status of thin pool \"%s\": \"%s\"",
				     s->pool, params);
	ps->needs_check = strstr(params, "needs_check") != NULL;
	return 0;
}

int dm_pool_message_err(struct dmset *s, struct st_error *err, const char *fmt, ...)
{
	char msg[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dmlib_message(s->pool, msg, err);
}

/* The same, for cleanup paths where only the errno matters. */
int dm_pool_message(struct dmset *s, const char *fmt, ...)
{
	char msg[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct st_error ignore;
	return dmlib_message(s->pool, msg, &ignore);
}

/* Is the device a loop device backed by this file? */
static bool pool_backed_by(dev_t loopdev, int file_fd)
{
	struct stat st;
	dev_t fdev;
	ino_t fino;
	return fstat(file_fd, &st) == 0 && dmloop_backing(loopdev, &fdev, &fino) == 0 && fdev == st.st_dev &&
	       fino == st.st_ino;
}

static int loop_file(struct st_driver *d, const char *name, int64_t size, int *fd, struct st_error *err)
{
	*fd = st_open_nofollow(d->home_fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return st_error_set(err, -*fd, "devmapper: open \"%s/%s\"", d->home, name);
	struct stat st;
	if (fstat(*fd, &st) < 0)
		return st_error_set(err, errno, "devmapper: stat \"%s/%s\"", d->home, name);
	if (!S_ISREG(st.st_mode))
		return st_error_fail(err, EINVAL, "devmapper: \"%s/%s\" is not a regular file", d->home, name);
	/* sparse: only what the pool writes takes space; an existing file
	 * keeps its size (the pool's data and metadata live in it) */
	if (st.st_size == 0 && ftruncate(*fd, size) < 0)
		return st_error_set(err, errno, "devmapper: size \"%s/%s\" to %" PRId64 " bytes", d->home, name, size);
	return 0;
}

/* Set up (or find again) the loopback pool: two sparse files on loop
 * devices, the pool on top. The loop devices are autoclear: they go away
 * with the pool. */
int dm_pool_loopback(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int r = st_mkdir_p_at(d->home_fd, "devicemapper", 0700, err);
	if (r < 0)
		return r;
	snprintf(s->data_file, sizeof(s->data_file), "%s/devicemapper/data", d->home);
	snprintf(s->meta_file, sizeof(s->meta_file), "%s/devicemapper/metadata", d->home);
	_cleanup_close_ int dfd = -1, mfd = -1;
	if ((r = loop_file(d, "devicemapper/data", s->data_size, &dfd, err)) < 0 ||
	    (r = loop_file(d, "devicemapper/metadata", s->meta_size, &mfd, err)) < 0)
		return r;

	struct dmlib_info info;
	if ((r = dmlib_info(s->pool, &info, err)) < 0)
		return r;
	if (info.exists) {
		/* left active by an earlier process: make sure it is ours */
		char params[256];
		unsigned mmaj, mmin, dmaj, dmin;
		if ((r = dmlib_status(s->pool, true, NULL, 0, params, sizeof(params), NULL, err)) < 0)
			return r;
		if (sscanf(params, "%u:%u %u:%u %" SCNu32, &mmaj, &mmin, &dmaj, &dmin, &s->block_sectors) != 5 ||
		    !pool_backed_by(makedev(dmaj, dmin), dfd) || !pool_backed_by(makedev(mmaj, mmin), mfd))
			return st_error_fail(err, EEXIST,
					     "devmapper: a device \"%s\" exists but is not the pool on \"%s\" and \"%s\"",
					     s->pool, s->data_file, s->meta_file);
		return 0;
	}

	struct stat st;
	if (fstat(dfd, &st) < 0)
		return st_error_set(err, errno, "devmapper: stat \"%s\"", s->data_file);
	uint64_t sectors = (uint64_t)st.st_size / 512 / s->block_sectors * s->block_sectors;
	if (sectors == 0)
		return st_error_fail(err, EINVAL, "devmapper: \"%s\" is smaller than one pool block", s->data_file);
	dev_t ddev, mdev;
	_cleanup_close_ int dloop = dmloop_attach(dfd, s->data_file, &ddev, err);
	if (dloop < 0)
		return dloop;
	_cleanup_close_ int mloop = dmloop_attach(mfd, s->meta_file, &mdev, err);
	if (mloop < 0)
		return mloop;
	/* error_if_no_space: a full pool fails the write at once instead of
	 * queueing it for a minute; the low-water mark only raises an event */
	uint64_t lwm = sectors / s->block_sectors / 16;
	if (lwm > 32768)
		lwm = 32768;
	char params[160];
	snprintf(params, sizeof(params), "%u:%u %u:%u %" PRIu32 " %" PRIu64 " 1 error_if_no_space", major(mdev),
		 minor(mdev), major(ddev), minor(ddev), s->block_sectors, lwm ? lwm : 1);
	r = dmlib_create(s->pool, "thin-pool", sectors, params, err);
	/* our loop fds close here; the pool holds the devices now (or, when
	 * it failed, autoclear detaches them) */
	return r < 0 ? st_error_wrap(err, "devmapper: create the loopback thin pool") : 0;
}

int dm_pool_given(struct st_driver *d, const char *dev, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	const char *prefix = "/dev/mapper/";
	if (!st_str_has_prefix(dev, prefix) || !dev[strlen(prefix)] || strchr(dev + strlen(prefix), '/') ||
	    strlen(dev + strlen(prefix)) >= sizeof(s->pool))
		return st_error_fail(err, EINVAL, "devmapper: dm.thinpooldev=\"%s\": use /dev/mapper/NAME", dev);
	snprintf(s->pool, sizeof(s->pool), "%s", dev + strlen(prefix));
	struct dmlib_info info;
	int r = dmlib_info(s->pool, &info, err);
	if (r < 0)
		return r;
	if (!info.exists)
		return st_error_fail(err, ENOENT, "devmapper: thin pool \"%s\" does not exist", dev);
	char params[256];
	if ((r = dmlib_status(s->pool, true, NULL, 0, params, sizeof(params), NULL, err)) < 0)
		return r;
	unsigned a, b, c, e;
	if (sscanf(params, "%u:%u %u:%u %" SCNu32, &a, &b, &c, &e, &s->block_sectors) != 5)
		return st_error_fail(err, EINVAL, "devmapper: \"%s\" is not a thin pool (table \"%s\")", dev, params);
	return 0;
}

/* ------------------------------------------------------ transactions */

int dm_txn_load(struct st_driver *d, struct dmtxn *t, struct st_error *err)
{
	memset(t, 0, sizeof(*t));
	_cleanup_json_ json_object *o = NULL;
	int r = st_json_load_at(d->home_fd, "transaction.json", &o, err);
	if (r < 0)
		return r;
	t->tid = (uint64_t)st_json_int(o, "transaction_id");
	snprintf(t->op, sizeof(t->op), "%s", st_json_str(o, "op"));
	snprintf(t->id, sizeof(t->id), "%s", st_json_str(o, "id"));
	int64_t dev = st_json_int(o, "device_id");
	if (dev < 0 || dev > (int64_t)DM_MAX_DEVICE_ID ||
	    (strcmp(t->op, "create") != 0 && strcmp(t->op, "delete") != 0))
		return st_error_fail(err, EUCLEAN, "devmapper: \"%s/transaction.json\" is damaged", d->home);
	t->device_id = (uint32_t)dev;
	return 0;
}

/* Record the change about to be made to the pool. */
int dm_txn_open(struct st_driver *d, const char *op, const char *id, uint32_t device_id, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	_cleanup_json_ json_object *o = json_object_new_object();
	if (!o)
		return st_error_set(err, ENOMEM, "devmapper: transaction");
	json_object_object_add(o, "transaction_id", json_object_new_int64((int64_t)s->tid + 1));
	json_object_object_add(o, "op", json_object_new_string(op));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "device_id", json_object_new_int64(device_id));
	int r = st_json_save_at(d->home_fd, "transaction.json", o, err);
	return r < 0 ? st_error_wrap(err, "devmapper: open a transaction in \"%s\"", d->home) : 0;
}

/* The pool was not changed: forget the transaction. */
void dm_txn_abort(struct st_driver *d)
{
	unlinkat(d->home_fd, "transaction.json", 0);
	st_fsync_dir(d->home_fd);
}

/* The pool and the records agree: move the pool's transaction id on. */
int dm_txn_close(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int r = dm_pool_message_err(s, err, "set_transaction_id %" PRIu64 " %" PRIu64, s->tid, s->tid + 1);
	if (r < 0)
		return st_error_wrap(err, "devmapper: close transaction %" PRIu64, s->tid + 1);
	s->tid++;
	if ((r = dm_state_save(d, err)) < 0)
		return r; /* transaction.json stays: the next open finishes it */
	dm_txn_abort(d);
	return 0;
}

uint32_t dm_next_device_id(uint32_t id)
{
	return id >= DM_MAX_DEVICE_ID ? 1 : id + 1;
}

/* ---------------------------------------------------------- base device */

/* Make the base device once: an empty thin device with the filesystem and
 * the rootfs directory every layer's root is. */
int dm_base(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	struct dmrec rec;
	struct st_error e2;
	char name[160];
	int r = dm_rec_load(s->meta_fd, DM_BASE, &rec, &e2);
	if (r == 0 && rec.initialized)
		return 0;
	dm_dev_name(s, DM_BASE, &rec, name, sizeof(name));
	if (r == 0) {
		/* formatting was interrupted: start over */
		dm_dev_umount(d, DM_BASE, &e2);
		if ((r = dm_dev_deactivate(s, name, err)) < 0 || (r = dm_dev_delete(d, s->meta_fd, DM_BASE, DM_BASE, &rec, err)) < 0)
			return st_error_wrap(err, "devmapper: remove the unfinished base device");
	} else if (r != -ENOENT) {
		*err = e2;
		return r;
	}
	if ((r = dm_dev_create(d, DM_BASE, NULL, NULL, (uint64_t)s->base_size, &rec, err)) < 0 ||
	    (r = dm_dev_activate(s, name, &rec, err)) < 0)
		return st_error_wrap(err, "devmapper: base device");
	char node[PATH_MAX];
	if ((r = dmlib_node(name, node, sizeof(node), err)) < 0)
		return r;
	if (strcmp(s->fs, "xfs") == 0) {
		const char *argv[] = {"mkfs.xfs", "-q", "-f", "-K", node, NULL};
		r = dm_exec(argv, err);
	} else {
		/* lazy inode tables and journal: thin devices read unwritten
		 * blocks as zeros, so zeroing them would only fill the pool */
		const char *argv[] = {"mkfs.ext4", "-q", "-F", "-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1",
				      node, NULL};
		r = dm_exec(argv, err);
	}
	if (r < 0 || (r = dm_dev_mount(d, DM_BASE, node, err)) < 0)
		return st_error_wrap(err, "devmapper: format the base device");
	_cleanup_close_ int mfd = st_open_nofollow(s->mnt_fd, DM_BASE, O_RDONLY | O_DIRECTORY, 0);
	if (mfd < 0)
		r = st_error_set(err, -mfd, "devmapper: open the base device's mount");
	else if ((mkdirat(mfd, "rootfs", 0755) < 0 && errno != EEXIST) ||
		 fchownat(mfd, "rootfs", 0, 0, AT_SYMLINK_NOFOLLOW) < 0 || fchmodat(mfd, "rootfs", 0755, 0) < 0)
		r = st_error_set(err, errno, "devmapper: create rootfs on the base device");
	if (r >= 0 && syncfs(mfd) < 0)
		r = st_error_set(err, errno, "devmapper: sync the base device");
	st_closep(&mfd);
	mfd = -1;
	int r2 = dm_dev_umount(d, DM_BASE, r < 0 ? &e2 : err);
	if (r >= 0 && r2 < 0)
		r = r2;
	r2 = dm_dev_deactivate(s, name, r < 0 ? &e2 : err);
	if (r >= 0 && r2 < 0)
		r = r2;
	if (r < 0)
		return r;
	rec.initialized = true;
	return dm_rec_save(s->meta_fd, DM_BASE, &rec, err);
}
