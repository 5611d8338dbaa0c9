/* Removing directory trees: st_rm_rf_at (on two threads for big
 * trees: a layer's 20,000 files). Directories are tasks on a shared stack:
 * whoever takes one lists it, unlinks its non-directories and pushes its
 * subdirectories; a directory is removed when its own listing and all its
 * subdirectories are done, and then counts as done for its parent. Files
 * of different directories are unlinked in parallel (unlinks within one
 * directory serialize on its lock, across directories they do not). A
 * helper thread starts only once there are two directories to work on.
 *
 * Same rules as the sequential walk: never follows symlinks, never enters
 * another mount (-EBUSY), makes read-only directories writable to empty
 * them, a missing entry is not an error; the first failure stops it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "base/base.h"

struct rm_task {
	struct rm_task *parent; /* NULL: the top, removed from top_dirfd */
	struct rm_task *next;   /* on the stack */
	struct rm_task *prev_live, *next_live; /* every task not yet freed */
	int fd;                 /* this directory, once a worker opened it */
	char *name;             /* its name in the parent */
	int pending;            /* its own listing + subdirectories not yet gone */
};

struct rm_tree {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rm_task *stack;
	struct rm_task *live;
	int top_dirfd;
	uint64_t mnt;
	bool done;             /* the top directory is gone (or failed) */
	bool helper;           /* a helper thread was started */
	pthread_t th;
	int idle;
	int error;
	struct st_error err;
};

/* under the lock */
static struct rm_task *task_new(struct rm_tree *rt, struct rm_task *parent, const char *name)
{
	struct rm_task *t = calloc(1, sizeof(*t));
	if (!t || !(t->name = strdup(name))) {
		free(t);
		return NULL;
	}
	t->parent = parent;
	t->fd = -1;
	t->pending = 1;
	t->next_live = rt->live;
	if (rt->live)
		rt->live->prev_live = t;
	rt->live = t;
	return t;
}

/* under the lock */
static void task_free(struct rm_tree *rt, struct rm_task *t)
{
	if (t->prev_live)
		t->prev_live->next_live = t->next_live;
	else
		rt->live = t->next_live;
	if (t->next_live)
		t->next_live->prev_live = t->prev_live;
	if (t->fd >= 0)
		close(t->fd);
	free(t->name);
	free(t);
}

static void fail(struct rm_tree *rt, int r, const struct st_error *e)
{
	if (rt->error == 0) {
		rt->error = r;
		rt->err = *e;
	}
	rt->done = true;
	pthread_cond_broadcast(&rt->cv);
}

static int parent_fd(struct rm_tree *rt, struct rm_task *t)
{
	return t->parent ? t->parent->fd : rt->top_dirfd;
}

/* Under the lock: one more piece of t is done; remove the directories that
 * are finished, up the chain. */
static void task_done(struct rm_tree *rt, struct rm_task *t)
{
	while (t && --t->pending == 0) {
		struct rm_task *p = t->parent;
		if (t->fd >= 0 && unlinkat(parent_fd(rt, t), t->name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
			struct st_error e;
			int r = errno == EBUSY ? st_error_fail(&e, EBUSY, "remove \"%s\": directory is busy (a mount point?)", t->name)
					       : st_error_set(&e, errno, "remove \"%s\"", t->name);
			fail(rt, r, &e);
		}
		if (!p) {
			rt->done = true;
			pthread_cond_broadcast(&rt->cv);
		}
		task_free(rt, t);
		t = p;
	}
}

static void *rm_helper(void *arg);

/* Without the lock: the checks of the sequential walk, open t, unlink its
 * non-directories, push its subdirectories. t->fd stays -1 when t turned
 * out to be gone or no directory (then unlinked). */
static int task_run(struct rm_tree *rt, struct rm_task *t, struct st_error *e)
{
	int pfd = parent_fd(rt, t);
	struct stat st;
	if (fstatat(pfd, t->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : st_error_set(e, errno, "stat \"%s\"", t->name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(pfd, t->name, 0) < 0 && errno != ENOENT)
			return st_error_set(e, errno, "remove \"%s\"", t->name);
		return 0;
	}
	uint64_t id = 0;
	if (rt->mnt && st_mnt_id(pfd, t->name, &id) == 0 && id && id != rt->mnt)
		return st_error_fail(e, EBUSY, "remove \"%s\": a filesystem is mounted there", t->name);
	/* a read-only directory cannot lose its children */
	if ((st.st_mode & 0700) != 0700)
		fchmodat(pfd, t->name, (st.st_mode & 07777) | 0700, 0);
	int fd = st_open_nofollow(pfd, t->name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return st_error_set(e, -fd, "open \"%s\"", t->name);
	t->fd = fd;
	char **names = NULL;
	size_t n = 0;
	int r = st_list_dir(fd, &names, &n);
	if (r < 0)
		return st_error_set(e, -r, "list \"%s\"", t->name);
	for (size_t i = 0; i < n && r >= 0; i++) {
		/* most entries are files: try the unlink first */
		if (unlinkat(fd, names[i], 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			r = st_error_set(e, errno, "remove \"%s\"", names[i]);
			break;
		}
		pthread_mutex_lock(&rt->mu);
		struct rm_task *c = task_new(rt, t, names[i]);
		if (!c) {
			pthread_mutex_unlock(&rt->mu);
			r = st_error_set(e, ENOMEM, "remove \"%s\"", names[i]);
			break;
		}
		t->pending++;
		c->next = rt->stack;
		rt->stack = c;
		if (!rt->helper && c->next) /* two directories waiting: a second thread */
			rt->helper = pthread_create(&rt->th, NULL, rm_helper, rt) == 0;
		else if (rt->idle)
			pthread_cond_signal(&rt->cv);
		pthread_mutex_unlock(&rt->mu);
	}
	if (r < 0)
		st_error_wrap(e, "in \"%s\"", t->name);
	st_strv_free(names, n);
	return r;
}

/* Take tasks until the top is gone. */
static void rm_work(struct rm_tree *rt)
{
	pthread_mutex_lock(&rt->mu);
	while (!rt->done) {
		struct rm_task *t = rt->stack;
		if (!t) {
			rt->idle++;
			pthread_cond_wait(&rt->cv, &rt->mu);
			rt->idle--;
			continue;
		}
		rt->stack = t->next;
		pthread_mutex_unlock(&rt->mu);
		struct st_error e;
		int r = task_run(rt, t, &e);
		pthread_mutex_lock(&rt->mu);
		if (r < 0)
			fail(rt, r, &e);
		else if (!rt->done)
			task_done(rt, t);
	}
	pthread_mutex_unlock(&rt->mu);
}

static void *rm_helper(void *arg)
{
	rm_work(arg);
	return NULL;
}

/* mnt: the mount id the tree must not leave (0: no check). A missing name
 * is not an error. */
static int rm_tree_at(int dirfd, const char *name, uint64_t mnt, struct st_error *err)
{
	struct rm_tree rt = {.top_dirfd = dirfd, .mnt = mnt};
	pthread_mutex_init(&rt.mu, NULL);
	pthread_cond_init(&rt.cv, NULL);
	int r = 0;
	if (!(rt.stack = task_new(&rt, NULL, name))) {
		r = st_error_set(err, ENOMEM, "remove \"%s\"", name);
		goto out;
	}
	rm_work(&rt);
	if (rt.helper) {
		pthread_mutex_lock(&rt.mu);
		rt.done = true;
		pthread_cond_broadcast(&rt.cv);
		pthread_mutex_unlock(&rt.mu);
		pthread_join(rt.th, NULL);
	}
	if (rt.error < 0) {
		*err = rt.err;
		r = rt.error;
	}
	/* after a failure: what was left half done */
	while (rt.live)
		task_free(&rt, rt.live);
out:
	pthread_cond_destroy(&rt.cv);
	pthread_mutex_destroy(&rt.mu);
	return r;
}

/* ------------------------------------------------------------- removal */

int st_rm_rf_at(int dirfd, const char *name, struct st_error *err)
{
	uint64_t mnt = 0;
	st_mnt_id(dirfd, "", &mnt);
	/* big trees (a layer) are removed on two threads */
	return rm_tree_at(dirfd, name, mnt, err);
}

int st_remove_at(int dirfd, const char *name, struct st_error *err)
{
	char rnd[17], trash[NAME_MAX + 1];
	int r = st_random_hex(rnd, 8);
	if (r < 0)
		return st_error_set(err, -r, "remove \"%s\"", name);
	snprintf(trash, sizeof(trash), ".trash-%.200s-%s", name, rnd);
	if (renameat(dirfd, name, dirfd, trash) < 0) {
		if (errno == ENOENT)
			return 0;
		return st_error_set(err, errno, "remove \"%s\": rename", name);
	}
	st_fsync_dir(dirfd);
	return st_rm_rf_at(dirfd, trash, err);
}

int st_trash_sweep(int dirfd, struct st_error *err)
{
	char **names;
	size_t n;
	int r = st_list_dir_prefix(dirfd, ".", &names, &n);
	if (r < 0)
		return st_error_set(err, -r, "list directory");
	for (size_t i = 0; i < n && r >= 0; i++)
		if (st_str_has_prefix(names[i], ".trash-") || st_str_has_prefix(names[i], ".tmp-"))
			r = st_rm_rf_at(dirfd, names[i], err);
	st_strv_free(names, n);
	return r;
}
