/* devmapper: every layer is a thin device in a device-mapper thin pool.
 *
 * A base thin device of dm.basesize is formatted once with dm.fs; a layer
 * without a parent is a thin snapshot (create_snap) of the base, any other
 * a snapshot of its parent's device, so creating a layer costs the same
 * whatever the parent holds. get activates the device and mounts it,
 * put unmounts and deactivates it.
 *
 * The pool is either given (dm.thinpooldev=/dev/mapper/NAME: production,
 * e.g. an LVM thin pool) or made by the driver from two sparse files in the
 * home on loop devices (testing only; `strata info` warns).
 *
 * Home layout:
 *   deviceset.json      pool name, base filesystem and size, the pool's
 *                       transaction id as last recorded, next device id
 *   transaction.json    the open transaction (only while one is open):
 *                       {transaction_id, op: create|delete, id, device_id}
 *   metadata/ID         one record per device: {device_id, size,
 *                       transaction_id}; "_base" is the base device
 *   deferred/DEVID      devices whose deletion waits for their last user
 *   mnt/ID              mount points; the layer's root is mnt/ID/rootfs
 *   devicemapper/data, devicemapper/metadata   the loopback pool's files
 *
 * Transactions: a change to the pool (create_thin, create_snap, delete)
 * first writes transaction.json with the pool's transaction id + 1, then
 * messages the pool, then writes or removes the device's record, then moves
 * the pool's transaction id forward (set_transaction_id) and removes the
 * file. On open, a pool transaction id equal to the recorded one with an
 * open transaction means the change was interrupted: a create whose record
 * was not written is rolled back (the thin device is deleted), anything
 * else is finished.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "devmapper.h"
#include "store/store.h"
#include "base/base.h"

extern char **environ;

#define DM_BASE "_base"              /* record of the base device: not a valid layer id */
#define DM_MAX_DEVICE_ID 0xffffffu   /* thin device ids are 24 bits */
#define DM_DEFAULT_BASE_SIZE (10LL << 30)
#define DM_DEFAULT_DATA_SIZE (100LL << 30)
#define DM_DEFAULT_META_SIZE (2LL << 30)
#define DM_DEFAULT_BLOCK_SECTORS 128 /* 64 KiB */
#define DM_META_BLOCK 4096           /* thin-pool metadata block size */

struct dmrec {
	uint32_t device_id;
	uint64_t size;           /* bytes */
	uint64_t transaction_id; /* the pool transaction that made it */
	bool initialized;        /* base device: formatted */
};

struct dmset {
	/* options */
	bool loopback;
	int64_t data_size, meta_size, base_size;
	bool base_size_set, fs_set;
	char fs[8];
	uint32_t block_sectors;
	bool deferred_removal, deferred_deletion;
	int min_free_pct;
	char mountopt[512];

	/* state */
	char pool[128];   /* DM name of the thin pool */
	char prefix[96];  /* DM names of our thin devices: PREFIX-DEVID */
	uint32_t pool_major, pool_minor;
	uint64_t tid;     /* the pool's transaction id, as recorded */
	uint32_t next_id;
	char data_file[PATH_MAX], meta_file[PATH_MAX];

	int users_fd; /* .users: shared while open, exclusive to take an idle loopback pool down */
	int meta_fd, deferred_fd, mnt_fd;
};

struct dmtxn {
	uint64_t tid;
	char op[16];
	char id[130];
	uint32_t device_id;
};

/* Test-only: STRATA_DM_FAULT=POINT ends the process at POINT as a kill -9
 * would, to prove recovery (tests/integration/devmapper.sh). */
static void dm_fault(const char *point)
{
	const char *f = getenv("STRATA_DM_FAULT");
	if (f && strcmp(f, point) == 0)
		_exit(70);
}

static struct dmset *dm_set(struct st_driver *d)
{
	return d->priv;
}

static void dm_dev_name(const struct dmset *s, const char *id, const struct dmrec *rec, char *buf, size_t len)
{
	if (strcmp(id, DM_BASE) == 0)
		snprintf(buf, len, "%s-base", s->prefix);
	else
		snprintf(buf, len, "%s-%" PRIu32, s->prefix, rec->device_id);
}

/* ---------------------------------------------------------- helpers */

/* Run a program (mkfs, resize2fs, xfs_growfs) from the system directories,
 * its output captured for the error message. */
static int dm_exec(const char *const argv[], struct st_error *err)
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

static int dm_parse_bool(const char *key, const char *v, bool *out, struct st_error *err)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return st_error_fail(err, EINVAL, "devmapper: %s=\"%s\": use true or false", key, v);
	return 0;
}

static int dm_parse_size(const char *key, const char *v, int64_t min, int64_t *out, struct st_error *err)
{
	if (st_parse_size(v, out) < 0 || *out < min)
		return st_error_fail(err, EINVAL, "devmapper: %s=\"%s\": need a size of at least %" PRId64 " bytes",
				     key, v, min);
	return 0;
}

/* --------------------------------------------------------- records */

static int rec_load(int dirfd, const char *name, struct dmrec *rec, struct st_error *err)
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

static int rec_save(int dirfd, const char *name, const struct dmrec *rec, struct st_error *err)
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

static int rec_unlink(int dirfd, const char *name, struct st_error *err)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "devmapper: remove device record \"%s\"", name);
	st_fsync_dir(dirfd);
	return 0;
}

static int state_save(struct st_driver *d, struct st_error *err)
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

struct pool_status {
	uint64_t tid;
	uint64_t meta_used, meta_total; /* 4 KiB blocks */
	uint64_t data_used, data_total; /* pool blocks */
	char mode[32];                  /* rw, ro, out_of_data_space, fail */
	bool needs_check;
};

static int pool_status(struct dmset *s, struct pool_status *ps, struct st_error *err)
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

static int pool_message(struct dmset *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int pool_message_err(struct dmset *s, struct st_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int pool_message_err(struct dmset *s, struct st_error *err, const char *fmt, ...)
{
	char msg[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dmlib_message(s->pool, msg, err);
}

/* The same, for cleanup paths where only the errno matters. */
static int pool_message(struct dmset *s, const char *fmt, ...)
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
static int pool_loopback(struct st_driver *d, struct st_error *err)
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

static int pool_given(struct st_driver *d, const char *dev, struct st_error *err)
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

static int txn_load(struct st_driver *d, struct dmtxn *t, struct st_error *err)
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
static int txn_open(struct st_driver *d, const char *op, const char *id, uint32_t device_id, struct st_error *err)
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
static void txn_abort(struct st_driver *d)
{
	unlinkat(d->home_fd, "transaction.json", 0);
	st_fsync_dir(d->home_fd);
}

/* The pool and the records agree: move the pool's transaction id on. */
static int txn_close(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int r = pool_message_err(s, err, "set_transaction_id %" PRIu64 " %" PRIu64, s->tid, s->tid + 1);
	if (r < 0)
		return st_error_wrap(err, "devmapper: close transaction %" PRIu64, s->tid + 1);
	s->tid++;
	if ((r = state_save(d, err)) < 0)
		return r; /* transaction.json stays: the next open finishes it */
	txn_abort(d);
	return 0;
}

static uint32_t next_device_id(uint32_t id)
{
	return id >= DM_MAX_DEVICE_ID ? 1 : id + 1;
}

/* ------------------------------------------------ device activation */

static int dev_activate(struct dmset *s, const char *name, const struct dmrec *rec, struct st_error *err)
{
	struct dmlib_info info;
	int r = dmlib_info(name, &info, err);
	if (r < 0)
		return r;
	if (info.exists) {
		/* a deferred removal that has not happened yet: keep it */
		if (info.deferred_remove && (r = dmlib_message(name, "@cancel_deferred_remove", err)) < 0)
			return r;
		return 0;
	}
	char params[64];
	snprintf(params, sizeof(params), "%" PRIu32 ":%" PRIu32 " %" PRIu32, s->pool_major, s->pool_minor,
		 rec->device_id);
	return dmlib_create(name, "thin", rec->size / 512, params, err);
}

static int dev_deactivate(struct dmset *s, const char *name, struct st_error *err)
{
	struct dmlib_info info;
	int r = dmlib_info(name, &info, err);
	if (r < 0 || !info.exists)
		return r;
	if (info.deferred_remove)
		return 0;
	r = dmlib_remove(name, s->deferred_removal ? DMLIB_REMOVE_ONCE : DMLIB_REMOVE_RETRY, err);
	if (r == -EBUSY && s->deferred_removal)
		r = dmlib_remove(name, DMLIB_REMOVE_DEFERRED, err); /* the kernel removes it after its last user */
	if (r == -EBUSY)
		return st_error_wrap(err, "devmapper: device \"%s\" is busy (dm.use_deferred_removal=true removes it "
				     "when its last user closes it)", name);
	return r;
}

static int mnt_path(struct st_driver *d, const char *id, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/mnt/%s", d->home, id) >= (int)len ? -ENAMETOOLONG : 0;
}

/* Mount an active device at mnt/ID, through the directory's fd so that no
 * path outside the home is followed. */
static int dev_mount(struct st_driver *d, const char *id, const char *node, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	if (mkdirat(s->mnt_fd, id, 0700) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "devmapper: create mount point \"%s/mnt/%s\"", d->home, id);
	char path[PATH_MAX];
	mnt_path(d, id, path, sizeof(path));
	if (st_is_mountpoint(path))
		return 0; /* still mounted by an earlier process */
	_cleanup_close_ int fd = st_open_nofollow(s->mnt_fd, id, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return st_error_set(err, -fd, "devmapper: open mount point \"%s\"", path);
	char target[64], opts[640];
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	/* xfs refuses a second filesystem with the same uuid (every snapshot
	 * has the base's); ext4 must not zero inode tables in the background
	 * (that would allocate them in every snapshot) */
	snprintf(opts, sizeof(opts), "%s%s%s", strcmp(s->fs, "xfs") == 0 ? "nouuid" : "noinit_itable",
		 s->mountopt[0] ? "," : "", s->mountopt);
	if (mount(node, target, s->fs, 0, opts) < 0)
		return st_error_set(err, errno, "devmapper: mount \"%s\" (%s, %s) on \"%s\"", node, s->fs, opts, path);
	return 0;
}

static int dev_umount(struct st_driver *d, const char *id, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	char path[PATH_MAX];
	mnt_path(d, id, path, sizeof(path));
	if (st_is_mountpoint(path) && umount2(path, UMOUNT_NOFOLLOW) < 0) {
		if (errno != EBUSY || !s->deferred_removal)
			return st_error_set(err, errno, "devmapper: unmount \"%s\"", path);
		/* busy: detach it now; the device goes when its users do */
		if (umount2(path, UMOUNT_NOFOLLOW | MNT_DETACH) < 0)
			return st_error_set(err, errno, "devmapper: detach \"%s\"", path);
	}
	unlinkat(s->mnt_fd, id, AT_REMOVEDIR);
	return 0;
}

/* ---------------------------------------------------- device changes */

/* A new thin device: a snapshot of origin (an active origin is suspended
 * around the message so that its filesystem is consistent in the copy) or,
 * without origin, an empty one. Records it under id. */
static int dev_create(struct st_driver *d, const char *id, const struct dmrec *origin, const char *origin_name,
		      uint64_t size, struct dmrec *out, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	struct dmlib_info oinfo = {0};
	int r;
	if (origin && (r = dmlib_info(origin_name, &oinfo, err)) < 0)
		return r;
	bool suspend = origin && oinfo.exists && !oinfo.suspended;
	if (suspend && (r = dmlib_suspend(origin_name, err)) < 0)
		return r;
	uint32_t devid = 0;
	r = -EEXIST;
	/* ids may be taken by devices that an older store left in the pool */
	for (int attempt = 0; attempt < 1000 && r == -EEXIST; attempt++) {
		devid = s->next_id;
		s->next_id = next_device_id(s->next_id);
		if ((r = txn_open(d, "create", id, devid, err)) < 0)
			break;
		if (origin)
			r = pool_message_err(s, err, "create_snap %" PRIu32 " %" PRIu32, devid, origin->device_id);
		else
			r = pool_message_err(s, err, "create_thin %" PRIu32, devid);
		if (r < 0)
			txn_abort(d);
	}
	if (suspend) {
		struct st_error e2;
		int r2 = dmlib_resume(origin_name, &e2);
		if (r2 < 0 && r >= 0) {
			*err = e2;
			r = r2; /* the snapshot exists; roll it back below */
			if (pool_message(s, "delete %" PRIu32, devid) >= 0)
				txn_abort(d);
			return r;
		}
	}
	if (r < 0)
		return st_error_wrap(err, "devmapper: create device for \"%s\"", id);
	dm_fault("create-after-message");
	*out = (struct dmrec){.device_id = devid, .size = size, .transaction_id = s->tid + 1};
	if ((r = rec_save(s->meta_fd, id, out, err)) < 0 || (r = txn_close(d, err)) < 0) {
		/* roll back now if we can; else the next open does */
		if (rec_unlink(s->meta_fd, id, err) >= 0 && pool_message(s, "delete %" PRIu32, devid) >= 0)
			txn_abort(d);
		return r;
	}
	return 0;
}

/* Delete a device from the pool and its record (name in dirfd). Returns
 * -EBUSY (pool untouched) while the device is still open. */
static int dev_delete(struct st_driver *d, int dirfd, const char *name, const char *id, const struct dmrec *rec,
		      struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int r = txn_open(d, "delete", id, rec->device_id, err);
	if (r < 0)
		return r;
	r = pool_message_err(s, err, "delete %" PRIu32, rec->device_id);
	if (r == -ENODATA)
		r = 0; /* already gone from the pool */
	if (r < 0) {
		txn_abort(d);
		return r;
	}
	dm_fault("delete-after-message");
	if ((r = rec_unlink(dirfd, name, err)) < 0)
		return r;
	return txn_close(d, err);
}

/* Deletions that waited for their devices' last users. */
static void dev_deferred_sweep(struct st_driver *d)
{
	struct dmset *s = dm_set(d);
	char **names;
	size_t n;
	if (st_list_dir(s->deferred_fd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct dmrec rec;
		struct st_error e;
		char dm_name[160];
		if (rec_load(s->deferred_fd, names[i], &rec, &e) < 0)
			continue;
		dm_dev_name(s, names[i], &rec, dm_name, sizeof(dm_name));
		struct dmlib_info info;
		if (dmlib_info(dm_name, &info, &e) < 0 || info.exists)
			continue; /* still in use */
		dev_delete(d, s->deferred_fd, names[i], "", &rec, &e);
	}
	st_strv_free(names, n);
}

/* Thin devices of ours that are active but unused: a process killed
 * between activation and mount (or unmount and deactivation) left them.
 * Every activation and mount happens under .lock, which the caller holds,
 * so an unopened device is nobody's. */
static void dev_deactivate_leftovers(struct dmset *s)
{
	char prefix[128], pool[160];
	snprintf(prefix, sizeof(prefix), "%s-", s->prefix);
	snprintf(pool, sizeof(pool), "%s-pool", s->prefix);
	char **names;
	size_t n;
	struct st_error e;
	if (dmlib_list(prefix, &names, &n, &e) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct dmlib_info info;
		if (strcmp(names[i], pool) != 0 && dmlib_info(names[i], &info, &e) == 0 && info.exists &&
		    info.open_count == 0 && !info.deferred_remove)
			dmlib_remove(names[i], DMLIB_REMOVE_ONCE, &e);
	}
	st_strv_free(names, n);
}

static int dev_count(int dirfd)
{
	char **names;
	size_t n;
	if (st_list_dir(dirfd, &names, &n) < 0)
		return 0;
	int c = 0;
	for (size_t i = 0; i < n; i++)
		c += names[i][0] != '.';
	st_strv_free(names, n);
	return c;
}

/* --------------------------------------------------------- recovery */

/* Finish or roll back the transaction a killed process left open. */
static int dm_recover(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	struct pool_status ps;
	int r = pool_status(s, &ps, err);
	if (r < 0)
		return r;
	struct dmtxn t;
	struct st_error e2;
	r = txn_load(d, &t, &e2);
	if (r == -ENOENT) {
		if (ps.tid != s->tid)
			return st_error_fail(err, EUCLEAN,
					     "devmapper: thin pool \"%s\" is at transaction %" PRIu64
					     " but \"%s\" recorded %" PRIu64 ": it was changed by something else",
					     s->pool, ps.tid, d->home, s->tid);
		return 0;
	}
	if (r < 0) {
		*err = e2;
		return r;
	}
	if (t.tid != s->tid + 1 || (ps.tid != s->tid && ps.tid != t.tid))
		return st_error_fail(err, EUCLEAN,
				     "devmapper: open transaction %" PRIu64 " does not follow the recorded %" PRIu64
				     " (pool at %" PRIu64 ")",
				     t.tid, s->tid, ps.tid);
	if (ps.tid == t.tid) {
		/* the pool side was complete; only the bookkeeping was not */
		s->tid = t.tid;
		if (t.device_id >= s->next_id)
			s->next_id = next_device_id(t.device_id);
		if ((r = state_save(d, err)) < 0)
			return r;
		txn_abort(d);
		return 0;
	}
	char name[160];
	struct dmrec rec = {.device_id = t.device_id};
	dm_dev_name(s, t.id[0] ? t.id : "", &rec, name, sizeof(name));
	if (strcmp(t.op, "create") == 0) {
		struct dmrec have;
		if (t.id[0] && rec_load(s->meta_fd, t.id, &have, &e2) == 0 && have.device_id == t.device_id &&
		    have.transaction_id == t.tid)
			return txn_close(d, err); /* the record was written: roll forward */
		/* the pool message may or may not have happened: roll back */
		if ((r = dev_deactivate(s, name, err)) < 0)
			return r;
		r = pool_message_err(s, err, "delete %" PRIu32, t.device_id);
		if (r < 0 && r != -ENODATA)
			return st_error_wrap(err, "devmapper: roll back the creation of \"%s\"", t.id);
		txn_abort(d);
		return 0;
	}
	/* an interrupted delete is finished */
	if ((r = dev_deactivate(s, name, err)) < 0)
		return r;
	r = pool_message_err(s, err, "delete %" PRIu32, t.device_id);
	if (r == -EBUSY) {
		/* the message never happened (the device is still open): the
		 * pool is unchanged and the device keeps its record */
		txn_abort(d);
		return 0;
	}
	if (r < 0 && r != -ENODATA)
		return st_error_wrap(err, "devmapper: finish the deletion of \"%s\"", t.id);
	struct dmrec have;
	if (t.id[0] && rec_load(s->meta_fd, t.id, &have, &e2) == 0 && have.device_id == t.device_id)
		rec_unlink(s->meta_fd, t.id, &e2);
	char devname[16];
	snprintf(devname, sizeof(devname), "%" PRIu32, t.device_id);
	rec_unlink(s->deferred_fd, devname, &e2);
	return txn_close(d, err);
}

/* ---------------------------------------------------------- base device */

/* Make the base device once: an empty thin device with the filesystem and
 * the rootfs directory every layer's root is. */
static int dm_base(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	struct dmrec rec;
	struct st_error e2;
	char name[160];
	int r = rec_load(s->meta_fd, DM_BASE, &rec, &e2);
	if (r == 0 && rec.initialized)
		return 0;
	dm_dev_name(s, DM_BASE, &rec, name, sizeof(name));
	if (r == 0) {
		/* formatting was interrupted: start over */
		dev_umount(d, DM_BASE, &e2);
		if ((r = dev_deactivate(s, name, err)) < 0 || (r = dev_delete(d, s->meta_fd, DM_BASE, DM_BASE, &rec, err)) < 0)
			return st_error_wrap(err, "devmapper: remove the unfinished base device");
	} else if (r != -ENOENT) {
		*err = e2;
		return r;
	}
	if ((r = dev_create(d, DM_BASE, NULL, NULL, (uint64_t)s->base_size, &rec, err)) < 0 ||
	    (r = dev_activate(s, name, &rec, err)) < 0)
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
	if (r < 0 || (r = dev_mount(d, DM_BASE, node, err)) < 0)
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
	int r2 = dev_umount(d, DM_BASE, r < 0 ? &e2 : err);
	if (r >= 0 && r2 < 0)
		r = r2;
	r2 = dev_deactivate(s, name, r < 0 ? &e2 : err);
	if (r >= 0 && r2 < 0)
		r = r2;
	if (r < 0)
		return r;
	rec.initialized = true;
	return rec_save(s->meta_fd, DM_BASE, &rec, err);
}

/* -------------------------------------------------------------- init */

static int dm_options(struct st_driver *d, const char **thinpooldev, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	s->data_size = DM_DEFAULT_DATA_SIZE;
	s->meta_size = DM_DEFAULT_META_SIZE;
	s->base_size = DM_DEFAULT_BASE_SIZE;
	s->block_sectors = DM_DEFAULT_BLOCK_SECTORS;
	s->min_free_pct = 10;
	snprintf(s->fs, sizeof(s->fs), "ext4");
	*thinpooldev = NULL;
	int r = 0;
	for (size_t i = 0; i < d->opts.n && r >= 0; i++) {
		const char *k = d->opts.v[i].key, *v = d->opts.v[i].value;
		int64_t n;
		if (strcmp(k, "dm.thinpooldev") == 0) {
			*thinpooldev = v;
			if (!st_str_has_prefix(v, "/dev/mapper/") || strchr(v + strlen("/dev/mapper/"), '/') ||
			    !v[strlen("/dev/mapper/")] || strlen(v) >= sizeof(s->pool))
				r = st_error_fail(err, EINVAL, "devmapper: dm.thinpooldev=\"%s\": use /dev/mapper/NAME", v);
		} else if (strcmp(k, "dm.loopdatasize") == 0) {
			r = dm_parse_size(k, v, 16LL << 20, &s->data_size, err);
		} else if (strcmp(k, "dm.loopmetadatasize") == 0) {
			r = dm_parse_size(k, v, 2LL << 20, &s->meta_size, err);
		} else if (strcmp(k, "dm.basesize") == 0) {
			r = dm_parse_size(k, v, 16LL << 20, &s->base_size, err);
			s->base_size_set = true;
		} else if (strcmp(k, "dm.blocksize") == 0) {
			if ((r = dm_parse_size(k, v, 64 << 10, &n, err)) >= 0 &&
			    (n % (64 << 10) != 0 || n > (1LL << 30)))
				r = st_error_fail(err, EINVAL,
						  "devmapper: dm.blocksize=\"%s\": use a multiple of 64K up to 1G", v);
			s->block_sectors = (uint32_t)(n / 512);
		} else if (strcmp(k, "dm.fs") == 0) {
			if (strcmp(v, "ext4") != 0 && strcmp(v, "xfs") != 0)
				r = st_error_fail(err, EINVAL, "devmapper: dm.fs=\"%s\": use ext4 or xfs", v);
			snprintf(s->fs, sizeof(s->fs), "%s", v);
			s->fs_set = true;
		} else if (strcmp(k, "dm.mountopt") == 0) {
			/* a comma list of filesystem options, nothing else */
			for (const char *p = v; *p && r >= 0; p++)
				if (!(*p == ',' || *p == '=' || *p == '_' || *p == '-' || *p == '.' ||
				      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
					r = st_error_fail(err, EINVAL, "devmapper: dm.mountopt=\"%s\": invalid character", v);
			snprintf(s->mountopt, sizeof(s->mountopt), "%s", v);
		} else if (strcmp(k, "dm.use_deferred_removal") == 0) {
			r = dm_parse_bool(k, v, &s->deferred_removal, err);
		} else if (strcmp(k, "dm.use_deferred_deletion") == 0) {
			r = dm_parse_bool(k, v, &s->deferred_deletion, err);
		} else if (strcmp(k, "dm.min_free_space") == 0) {
			char *end;
			long pct = strtol(v, &end, 10);
			if (end == v || strcmp(end, "%") != 0 || pct < 0 || pct > 99)
				r = st_error_fail(err, EINVAL, "devmapper: dm.min_free_space=\"%s\": use 0%% to 99%%", v);
			s->min_free_pct = (int)pct;
		}
	}
	if (r >= 0 && *thinpooldev &&
	    (st_kvlist_get(&d->opts, "dm.loopdatasize") || st_kvlist_get(&d->opts, "dm.loopmetadatasize")))
		r = st_error_fail(err, EINVAL, "devmapper: dm.loopdatasize and dm.loopmetadatasize apply to the "
				  "loopback pool, not with dm.thinpooldev");
	return r;
}

/* deviceset.json: what was chosen when the store was made. Options given
 * now must agree with it. */
static int dm_state_load(struct st_driver *d, const char *thinpooldev, bool *fresh, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	_cleanup_json_ json_object *o = NULL;
	struct st_error e2;
	int r = st_json_load_at(d->home_fd, "deviceset.json", &o, &e2);
	*fresh = r == -ENOENT;
	if (*fresh) {
		s->loopback = !thinpooldev;
		s->next_id = 1;
		return 0;
	}
	if (r < 0) {
		*err = e2;
		return r;
	}
	json_object *v;
	s->loopback = json_object_object_get_ex(o, "loopback", &v) && json_object_get_boolean(v);
	const char *fs = st_json_str(o, "fs");
	int64_t base = st_json_int(o, "base_size"), next = st_json_int(o, "next_device_id");
	const char *pool = st_json_str(o, "pool");
	if (s->loopback && thinpooldev)
		return st_error_fail(err, EINVAL, "devmapper: \"%s\" was made with a loopback pool; it cannot switch to "
				     "dm.thinpooldev", d->home);
	if (!s->loopback && thinpooldev && strcmp(thinpooldev + strlen("/dev/mapper/"), pool) != 0)
		return st_error_fail(err, EINVAL, "devmapper: \"%s\" was made with dm.thinpooldev=/dev/mapper/%s, not %s",
				     d->home, pool, thinpooldev);
	if (s->fs_set && strcmp(fs, s->fs) != 0)
		return st_error_fail(err, EINVAL, "devmapper: the base device was formatted with %s, not dm.fs=%s", fs,
				     s->fs);
	if (s->base_size_set && base != s->base_size)
		return st_error_fail(err, EINVAL,
				     "devmapper: the base device has %" PRId64 " bytes; dm.basesize cannot change it", base);
	if ((strcmp(fs, "ext4") != 0 && strcmp(fs, "xfs") != 0) || base <= 0 || next <= 0 ||
	    next > (int64_t)DM_MAX_DEVICE_ID)
		return st_error_fail(err, EUCLEAN, "devmapper: \"%s/deviceset.json\" is damaged", d->home);
	snprintf(s->fs, sizeof(s->fs), "%s", fs);
	s->base_size = base;
	s->next_id = (uint32_t)next;
	s->tid = (uint64_t)st_json_int(o, "transaction_id");
	snprintf(s->pool, sizeof(s->pool), "%s", pool);
	return 0;
}

/* Temporary files of atomic writes that a killed process left behind
 * (every writer holds .lock, which the caller holds). */
static void dm_sweep_tmp(int dirfd)
{
	char **names;
	size_t n;
	if (st_list_dir(dirfd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (st_str_has_prefix(names[i], ".tmp-"))
			unlinkat(dirfd, names[i], 0);
	st_strv_free(names, n);
}

static int dm_open_dir(struct st_driver *d, const char *name, int *fd, struct st_error *err)
{
	int r = st_mkdir_p_at(d->home_fd, name, 0700, err);
	if (r < 0)
		return r;
	*fd = st_open_dir(d->home_fd, name, err);
	return *fd < 0 ? *fd : 0;
}

static int dm_setup(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	const char *thinpooldev;
	int r = dm_options(d, &thinpooldev, err);
	if (r < 0)
		return r;
	struct stat st;
	if (fstat(d->home_fd, &st) < 0)
		return st_error_set(err, errno, "devmapper: stat \"%s\"", d->home);
	/* unique per home on this machine, like docker-MAJ:MIN-INODE */
	snprintf(s->prefix, sizeof(s->prefix), "strata-%u:%u-%llu", major(st.st_dev), minor(st.st_dev),
		 (unsigned long long)st.st_ino);
	if ((r = dm_open_dir(d, "metadata", &s->meta_fd, err)) < 0 ||
	    (r = dm_open_dir(d, "deferred", &s->deferred_fd, err)) < 0 ||
	    (r = dm_open_dir(d, "mnt", &s->mnt_fd, err)) < 0)
		return r;
	/* held shared for the driver's lifetime: the loopback pool is taken
	 * down only by the last user (see dm_cleanup) */
	if ((s->users_fd = st_lock_at(d->home_fd, ".users", LOCK_SH, err)) < 0)
		return s->users_fd;
	int lfd = st_lock_at(d->home_fd, ".lock", LOCK_EX, err);
	if (lfd < 0)
		return lfd;
	dm_sweep_tmp(d->home_fd);
	dm_sweep_tmp(s->meta_fd);
	dm_sweep_tmp(s->deferred_fd);
	bool fresh;
	if ((r = dm_state_load(d, thinpooldev, &fresh, err)) >= 0) {
		if (!s->pool[0])
			snprintf(s->pool, sizeof(s->pool), "%s-pool", s->prefix);
		char given[160];
		snprintf(given, sizeof(given), "/dev/mapper/%s", s->pool);
		r = s->loopback ? pool_loopback(d, err) : pool_given(d, thinpooldev ? thinpooldev : given, err);
	}
	struct dmlib_info pinfo;
	if (r >= 0 && (r = dmlib_info(s->pool, &pinfo, err)) >= 0) {
		s->pool_major = pinfo.major;
		s->pool_minor = pinfo.minor;
	}
	struct pool_status ps;
	if (r >= 0 && fresh && (r = pool_status(s, &ps, err)) >= 0) {
		/* never adopt a pool that someone else is using */
		if (ps.tid != 0)
			r = st_error_fail(err, EEXIST,
					  "devmapper: thin pool \"%s\" is in use (transaction id %" PRIu64
					  "): give strata a pool of its own",
					  s->pool, ps.tid);
		else
			r = state_save(d, err);
	}
	if (r >= 0)
		r = dm_recover(d, err);
	if (r >= 0) {
		dev_deactivate_leftovers(s);
		dev_deferred_sweep(d);
		r = dm_base(d, err);
	}
	st_unlock(&lfd);
	return r;
}

static void dm_cleanup(struct st_driver *d);

static int dm_init(struct st_driver *d, struct st_error *err)
{
	struct dmset *s = calloc(1, sizeof(*s));
	if (!s)
		return st_error_set(err, ENOMEM, "devmapper");
	s->users_fd = s->meta_fd = s->deferred_fd = s->mnt_fd = -1;
	d->priv = s;
	dmlib_setup();
	int r = dm_setup(d, err);
	if (r < 0) {
		dm_cleanup(d);
		d->priv = NULL;
	}
	return r;
}

/* The monitor of a detached container keeps the pool in use: its shared
 * hold on .users must be its own, not the parent's inherited one. */
static void dm_atfork_child(struct st_driver *d)
{
	struct dmset *s = dm_set(d);
	struct st_error err;
	if (!s || s->users_fd < 0)
		return;
	int fd = st_lock_at(d->home_fd, ".users", LOCK_SH, &err);
	close(s->users_fd);
	s->users_fd = fd;
}

static void dm_cleanup(struct st_driver *d)
{
	struct dmset *s = dm_set(d);
	if (!s)
		return;
	/* The loopback pool is ours: take it down when nobody else has the
	 * driver open and no layer is active (mounted layers keep it up). A
	 * given pool is left alone. */
	if (s->loopback && s->pool[0] && s->users_fd >= 0 && flock(s->users_fd, LOCK_EX | LOCK_NB) == 0) {
		struct dmlib_info info;
		struct st_error e;
		if (dmlib_info(s->pool, &info, &e) == 0 && info.exists && info.open_count == 0)
			dmlib_remove(s->pool, DMLIB_REMOVE_ONCE, &e);
	}
	dmlib_release();
	st_closep(&s->users_fd);
	st_closep(&s->meta_fd);
	st_closep(&s->deferred_fd);
	st_closep(&s->mnt_fd);
	free(s);
	d->priv = NULL;
}

static int dm_probe(const char *home, char *reason, size_t len)
{
	(void)home;
	return dmlib_available(reason, len);
}

/* ------------------------------------------------------------ layers */

static int dm_lock(struct st_driver *d, struct st_error *err)
{
	return st_lock_at(d->home_fd, ".lock", LOCK_EX, err);
}

static int dm_check_space(struct dmset *s, struct st_error *err)
{
	struct pool_status ps;
	int r = pool_status(s, &ps, err);
	if (r < 0)
		return r;
	if (strcmp(ps.mode, "rw") != 0)
		return st_error_fail(err, ENOSPC, "devmapper: thin pool \"%s\" is %s: refusing to create a device",
				     s->pool, ps.mode);
	uint64_t dfree = ps.data_total - ps.data_used, mfree = ps.meta_total - ps.meta_used;
	uint64_t bs = (uint64_t)s->block_sectors * 512;
	if (dfree * 100 < ps.data_total * (uint64_t)s->min_free_pct) {
		char f[32], t[32];
		st_format_size((int64_t)(dfree * bs), f, sizeof(f));
		st_format_size((int64_t)(ps.data_total * bs), t, sizeof(t));
		return st_error_fail(err, ENOSPC,
				     "devmapper: thin pool \"%s\" has %s of %s data space free, less than "
				     "dm.min_free_space=%d%%: refusing to create a device (remove layers or grow the pool)",
				     s->pool, f, t, s->min_free_pct);
	}
	if (mfree * 100 < ps.meta_total * (uint64_t)s->min_free_pct) {
		char f[32], t[32];
		st_format_size((int64_t)(mfree * DM_META_BLOCK), f, sizeof(f));
		st_format_size((int64_t)(ps.meta_total * DM_META_BLOCK), t, sizeof(t));
		return st_error_fail(err, ENOSPC,
				     "devmapper: thin pool \"%s\" has %s of %s metadata space free, less than "
				     "dm.min_free_space=%d%%: refusing to create a device",
				     s->pool, f, t, s->min_free_pct);
	}
	return 0;
}

/* Grow a new device's filesystem to its size (size= above the parent's). */
static int dm_grow(struct st_driver *d, const char *id, const char *name, const struct dmrec *rec,
		   struct st_error *err)
{
	struct dmset *s = dm_set(d);
	char node[PATH_MAX], path[PATH_MAX];
	struct st_error e2;
	int r = dev_activate(s, name, rec, err);
	if (r < 0 || (r = dmlib_node(name, node, sizeof(node), err)) < 0 || (r = dev_mount(d, id, node, err)) < 0) {
		dev_deactivate(s, name, &e2);
		return r;
	}
	mnt_path(d, id, path, sizeof(path));
	if (strcmp(s->fs, "xfs") == 0) {
		const char *argv[] = {"xfs_growfs", path, NULL};
		r = dm_exec(argv, err);
	} else {
		const char *argv[] = {"resize2fs", node, NULL};
		r = dm_exec(argv, err);
	}
	int r2 = dev_umount(d, id, r < 0 ? &e2 : err);
	if (r >= 0 && r2 < 0)
		r = r2;
	r2 = dev_deactivate(s, name, r < 0 ? &e2 : err);
	return r < 0 ? r : r2;
}

static int dm_create_locked(struct st_driver *d, const char *id, const char *parent, const struct st_create_opts *o,
			    struct st_error *err)
{
	struct dmset *s = dm_set(d);
	dev_deferred_sweep(d);
	int r = dm_check_space(s, err);
	if (r < 0)
		return r;
	struct dmrec origin;
	const char *oid = parent ? parent : DM_BASE;
	if ((r = rec_load(s->meta_fd, oid, &origin, err)) < 0)
		return st_error_wrap(err, "devmapper: %s \"%s\"", parent ? "parent layer" : "base device", oid);
	uint64_t size = origin.size;
	const char *sz = o && o->storage_opt ? st_kvlist_get(o->storage_opt, "size") : NULL;
	if (sz) {
		int64_t want;
		if (st_parse_size(sz, &want) < 0 || want <= 0)
			return st_error_fail(err, EINVAL, "devmapper: size=\"%s\" is not a size", sz);
		/* the filesystem can grow on a snapshot, never shrink */
		if ((uint64_t)want < origin.size) {
			char a[32];
			st_format_size((int64_t)origin.size, a, sizeof(a));
			return st_error_fail(err, EINVAL, "devmapper: size=%s is smaller than the %s device (%s)", sz,
					     parent ? "parent's" : "base", a);
		}
		size = (uint64_t)want / 512 * 512;
	}
	char oname[160], name[160];
	dm_dev_name(s, oid, &origin, oname, sizeof(oname));
	struct dmrec rec;
	if ((r = dev_create(d, id, &origin, oname, size, &rec, err)) < 0)
		return r;
	dm_dev_name(s, id, &rec, name, sizeof(name));
	if (size > origin.size && (r = dm_grow(d, id, name, &rec, err)) < 0) {
		struct st_error e2;
		dev_delete(d, s->meta_fd, id, id, &rec, &e2);
		return st_error_wrap(err, "devmapper: grow \"%s\" to %s", id, sz);
	}
	return 0;
}

static int dm_create(struct st_driver *d, const char *id, const char *parent, const struct st_create_opts *o,
		     struct st_error *err)
{
	int lfd = dm_lock(d, err);
	if (lfd < 0)
		return lfd;
	int r = dm_create_locked(d, id, parent, o, err);
	st_unlock(&lfd);
	return r;
}

static int dm_remove(struct st_driver *d, const char *id, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int lfd = dm_lock(d, err);
	if (lfd < 0)
		return lfd;
	struct dmrec rec;
	char name[160];
	int r = rec_load(s->meta_fd, id, &rec, err);
	if (r == -ENOENT) {
		st_unlock(&lfd);
		return 0;
	}
	if (r >= 0) {
		dm_dev_name(s, id, &rec, name, sizeof(name));
		if ((r = dev_umount(d, id, err)) >= 0)
			r = dev_deactivate(s, name, err);
	}
	if (r >= 0) {
		r = dev_delete(d, s->meta_fd, id, id, &rec, err);
		if (r == -EBUSY && s->deferred_deletion) {
			/* still open (a deferred removal waits for a user):
			 * the layer goes now, its device when the user does */
			char devname[16];
			snprintf(devname, sizeof(devname), "%" PRIu32, rec.device_id);
			if (renameat(s->meta_fd, id, s->deferred_fd, devname) < 0)
				r = st_error_set(err, errno, "devmapper: defer the deletion of \"%s\"", id);
			else {
				st_fsync_dir(s->deferred_fd);
				st_fsync_dir(s->meta_fd);
				r = 0;
			}
		}
	}
	if (r >= 0)
		dev_deferred_sweep(d);
	st_unlock(&lfd);
	return r < 0 ? st_error_wrap(err, "devmapper: remove \"%s\"", id) : 0;
}

static int dm_get(struct st_driver *d, const char *id, char *path, size_t len, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int lfd = dm_lock(d, err);
	if (lfd < 0)
		return lfd;
	struct dmrec rec;
	char name[160], node[PATH_MAX];
	int r = rec_load(s->meta_fd, id, &rec, err);
	if (r >= 0) {
		dm_dev_name(s, id, &rec, name, sizeof(name));
		r = dev_activate(s, name, &rec, err);
	}
	if (r >= 0) {
		dm_fault("get-after-activate");
		if ((r = dmlib_node(name, node, sizeof(node), err)) < 0 || (r = dev_mount(d, id, node, err)) < 0) {
			struct st_error e2;
			dev_deactivate(s, name, &e2);
		}
	}
	st_unlock(&lfd);
	if (r < 0)
		return st_error_wrap(err, "devmapper: get \"%s\"", id);
	if (snprintf(path, len, "%s/mnt/%s/rootfs", d->home, id) >= (int)len)
		return st_error_fail(err, ENAMETOOLONG, "devmapper: mount path of \"%s\" is too long", id);
	return 0;
}

static int dm_put(struct st_driver *d, const char *id, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int lfd = dm_lock(d, err);
	if (lfd < 0)
		return lfd;
	struct dmrec rec;
	char name[160];
	int r = rec_load(s->meta_fd, id, &rec, err);
	if (r >= 0 && (r = dev_umount(d, id, err)) >= 0) {
		dm_dev_name(s, id, &rec, name, sizeof(name));
		r = dev_deactivate(s, name, err);
	}
	st_unlock(&lfd);
	return r < 0 ? st_error_wrap(err, "devmapper: put \"%s\"", id) : 0;
}

static bool dm_exists(struct st_driver *d, const char *id)
{
	struct dmset *s = dm_set(d);
	struct stat st;
	return fstatat(s->meta_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* The naive apply, with the layer's filesystem synced before it counts as
 * applied: a thin pool that runs out of space fails the writeback, not the
 * write(2), so without the sync a full pool would go unnoticed. */
static int64_t dm_apply_diff(struct st_driver *d, const char *id, const char *parent, struct st_tar_in *in,
			     struct st_error *err)
{
	struct dmset *s = dm_set(d);
	int fd = -1;
	int r = st_drv_open_dir(d, id, &fd, err);
	if (r < 0)
		return r;
	int64_t n = st_naive_apply(d, id, parent, in, err);
	if (n >= 0 && syncfs(fd) < 0) {
		n = st_error_set(err, errno, "devmapper: write layer \"%s\" to its thin device", id);
		struct pool_status ps;
		struct st_error e2;
		if (pool_status(s, &ps, &e2) == 0 && strcmp(ps.mode, "rw") != 0)
			st_error_wrap(err, "devmapper: thin pool \"%s\" is %s", s->pool, ps.mode);
	}
	st_drv_release_dir(d, id, &fd);
	return n;
}

/* The read-write device simply stays: it is the committed layer. */
static int dm_commit(struct st_driver *d, const char *id, struct st_error *err)
{
	struct dmset *s = dm_set(d);
	struct dmrec rec;
	int r = rec_load(s->meta_fd, id, &rec, err);
	return r < 0 ? st_error_wrap(err, "devmapper: commit \"%s\"", id) : 0;
}

/* ----------------------------------------------------------- status */

static void dm_kv_size(struct st_kvlist *out, const char *key, uint64_t bytes)
{
	char b[32];
	st_format_size((int64_t)bytes, b, sizeof(b));
	st_kvlist_add(out, key, "%s", b);
}

static int dm_status(struct st_driver *d, struct st_kvlist *out)
{
	struct dmset *s = dm_set(d);
	st_kvlist_add(out, "Pool Name", "%s", s->pool);
	dm_kv_size(out, "Pool Blocksize", (uint64_t)s->block_sectors * 512);
	dm_kv_size(out, "Base Device Size", (uint64_t)s->base_size);
	st_kvlist_add(out, "Base Device Filesystem", "%s", s->fs);
	struct pool_status ps;
	struct st_error e;
	if (pool_status(s, &ps, &e) == 0) {
		uint64_t bs = (uint64_t)s->block_sectors * 512;
		uint64_t davail = (ps.data_total - ps.data_used) * bs;
		struct statvfs sv;
		/* a sparse loop file can only grow as far as its filesystem */
		if (s->loopback && statvfs(s->data_file, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < davail)
			davail = (uint64_t)sv.f_bavail * sv.f_frsize;
		dm_kv_size(out, "Data Space Used", ps.data_used * bs);
		dm_kv_size(out, "Data Space Total", ps.data_total * bs);
		dm_kv_size(out, "Data Space Available", davail);
		dm_kv_size(out, "Metadata Space Used", ps.meta_used * DM_META_BLOCK);
		dm_kv_size(out, "Metadata Space Total", ps.meta_total * DM_META_BLOCK);
		dm_kv_size(out, "Metadata Space Available", (ps.meta_total - ps.meta_used) * DM_META_BLOCK);
		dm_kv_size(out, "Thin Pool Minimum Free Space", ps.data_total * bs * (uint64_t)s->min_free_pct / 100);
		st_kvlist_add(out, "Pool Mode", "%s%s", ps.mode, ps.needs_check ? " (needs_check)" : "");
		st_kvlist_add(out, "Transaction Id", "%" PRIu64, ps.tid);
	} else {
		st_kvlist_add(out, "Pool Error", "%s", e.msg);
	}
	st_kvlist_add(out, "Udev Sync Supported", "%s", dmlib_udev_sync() ? "true" : "false");
	if (s->loopback) {
		st_kvlist_add(out, "Data loop file", "%s", s->data_file);
		st_kvlist_add(out, "Metadata loop file", "%s", s->meta_file);
	}
	st_kvlist_add(out, "Deferred Removal Enabled", "%s", s->deferred_removal ? "true" : "false");
	st_kvlist_add(out, "Deferred Deletion Enabled", "%s", s->deferred_deletion ? "true" : "false");
	st_kvlist_add(out, "Deferred Deleted Device Count", "%d", dev_count(s->deferred_fd));
	char v[160];
	dmlib_versions(v, sizeof(v));
	st_kvlist_add(out, "Library Version", "%s", v);
	if (s->loopback)
		st_kvlist_add(out, "Warning", "the pool is on loop devices, which is for testing only: give a thin pool "
			      "with --storage-opt dm.thinpooldev=/dev/mapper/NAME in production");
	return 0;
}

static int dm_metadata(struct st_driver *d, const char *id, struct st_kvlist *out)
{
	struct dmset *s = dm_set(d);
	struct dmrec rec;
	struct st_error e;
	int r = rec_load(s->meta_fd, id, &rec, &e);
	if (r < 0)
		return r;
	char name[160];
	dm_dev_name(s, id, &rec, name, sizeof(name));
	st_kvlist_add(out, "DeviceId", "%" PRIu32, rec.device_id);
	st_kvlist_add(out, "DeviceSize", "%" PRIu64, rec.size);
	st_kvlist_add(out, "DeviceName", "%s", name);
	st_kvlist_add(out, "TransactionId", "%" PRIu64, rec.transaction_id);
	return 0;
}

static const char *const dm_init_options[] = {
	"dm.thinpooldev", "dm.loopdatasize",	     "dm.loopmetadatasize",	"dm.basesize",
	"dm.fs",	  "dm.blocksize",	     "dm.mountopt",		"dm.use_deferred_removal",
	"dm.use_deferred_deletion", "dm.min_free_space", NULL,
};
static const char *const dm_layer_options[] = {"size", NULL};

const struct st_driver_ops st_devmapper_driver = {
	.name = "devmapper",
	.probe = dm_probe,
	.init = dm_init,
	.cleanup = dm_cleanup,
	.create = dm_create,
	.create_rw = dm_create,
	.remove = dm_remove,
	.get = dm_get,
	.put = dm_put,
	.exists = dm_exists,
	.status = dm_status,
	.metadata = dm_metadata,
	.apply_diff = dm_apply_diff,
	.commit = dm_commit,
	.atfork_child = dm_atfork_child,
	.init_options = dm_init_options,
	.layer_options = dm_layer_options,
	.whiteouts = ST_WH_DELETE,
};
