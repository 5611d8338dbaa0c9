/* Finishing new regular files on worker threads (see filejob.h): a bounded
 * ring of jobs under one mutex; workers take jobs in order, run them outside
 * the lock and count them done. */
#include <errno.h>
#include <pthread.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/base.h"

#define FJ_QUEUE 64 /* jobs waiting: each holds one or two open files */
#define FJ_MAX_WORKERS 4
#define FJ_BATCH 16  /* queued jobs that wake an idle worker */

struct st_filejobs {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th[FJ_MAX_WORKERS];
	int nthreads;
	struct st_filejob q[FJ_QUEUE];
	size_t head, len;   /* queued jobs: q[head .. head + len) */
	size_t running;     /* taken by a worker, not done */
	int idle;           /* workers waiting for jobs */
	bool finishing;     /* finish waits for the last job */
	bool stop;
	int error;          /* first failure (negative errno), later jobs dropped */
	struct st_error err;
};

static void job_drop(struct st_filejob *j)
{
	if (j->dst >= 0)
		close(j->dst);
	if (j->src >= 0)
		close(j->src);
	free(j->data);
	st_xattrs_free(&j->x);
	j->dst = j->src = -1;
	j->data = NULL;
}

/* Owner, mode, xattrs, times (st_set_metadata's order: chown clears file
 * capabilities and setuid bits, setxattr leaves the times alone). */
static int job_meta(struct st_filejob *j, struct st_error *err)
{
	if (fchown(j->dst, j->st.st_uid, j->st.st_gid) < 0)
		return st_error_set(err, errno, "%s: chown", j->what);
	if (fchmod(j->dst, j->st.st_mode & 07777) < 0)
		return st_error_set(err, errno, "%s: chmod", j->what);
	for (size_t i = 0; i < j->x.n; i++)
		if (fsetxattr(j->dst, j->x.v[i].name, j->x.v[i].value, j->x.v[i].len, 0) < 0)
			return st_error_set(err, errno, "%s: set xattr %s", j->what, j->x.v[i].name);
	struct timespec ts[2] = {j->st.st_atim, j->st.st_mtim};
	if (futimens(j->dst, ts) < 0)
		return st_error_set(err, errno, "%s: set times", j->what);
	return 0;
}

static int job_run(struct st_filejob *j, struct st_error *err)
{
	int64_t end = 0;
	if (j->src >= 0) {
		int r = st_copy_file_data(j->src, j->dst, &j->src_st);
		if (r < 0)
			return st_error_set(err, -r, "%s", j->what);
		end = j->src_st.st_size;
	} else if (j->data) {
		const char *p = j->data;
		size_t left = j->len;
		off_t off = 0;
		while (left > 0) {
			ssize_t w = pwrite(j->dst, p, left, off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return st_error_set(err, errno, "%s: write", j->what);
			p += w;
			left -= (size_t)w;
			off += w;
		}
		end = (int64_t)j->len;
	}
	if (j->size > end && ftruncate(j->dst, j->size) < 0)
		return st_error_set(err, errno, "%s: truncate", j->what);
	if (j->meta)
		return job_meta(j, err);
	return 0;
}

static void *filejobs_main(void *arg)
{
	struct st_filejobs *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->len == 0 && !p->stop) {
			p->idle++;
			pthread_cond_wait(&p->cv, &p->mu);
			p->idle--;
		}
		if (p->len == 0)
			break; /* stopped, nothing left */
		struct st_filejob j = p->q[p->head];
		p->head = (p->head + 1) % FJ_QUEUE;
		p->len--;
		p->running++;
		bool skip = p->error != 0 || p->stop;
		pthread_mutex_unlock(&p->mu);
		struct st_error e;
		int r = skip ? 0 : job_run(&j, &e);
		job_drop(&j);
		pthread_mutex_lock(&p->mu);
		if (r < 0 && p->error == 0) {
			p->error = r;
			p->err = e;
		}
		p->running--;
		if (p->finishing && p->len == 0 && p->running == 0)
			pthread_cond_broadcast(&p->cv); /* finish is waiting */
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int st_filejobs_new(struct st_filejobs **out)
{
	struct st_filejobs *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int want = ncpu > 1 ? (int)(ncpu - 1) : 1;
	if (want > FJ_MAX_WORKERS)
		want = FJ_MAX_WORKERS;
	while (p->nthreads < want && pthread_create(&p->th[p->nthreads], NULL, filejobs_main, p) == 0)
		p->nthreads++;
	*out = p;
	return 0;
}

int st_filejobs_add(struct st_filejobs *p, struct st_filejob *j, struct st_error *err)
{
	if (p->nthreads == 0) { /* no worker: run it here */
		int r = p->error ? 0 : job_run(j, &p->err);
		job_drop(j);
		if (r < 0 && p->error == 0)
			p->error = r;
		if (p->error && err)
			*err = p->err;
		return p->error;
	}
	pthread_mutex_lock(&p->mu);
	int r = p->error;
	bool queued = false;
	if (r == 0 && p->len < FJ_QUEUE) {
		p->q[(p->head + p->len) % FJ_QUEUE] = *j;
		p->len++;
		queued = true;
		/* wake an idle worker for a batch, not for every file: a wake-up
		 * is a system call, dearer than the small files themselves */
		if (p->idle > 0 && p->len >= FJ_BATCH)
			pthread_cond_signal(&p->cv);
	} else if (r < 0 && err) {
		*err = p->err;
	}
	pthread_mutex_unlock(&p->mu);
	if (queued || r < 0) {
		if (r < 0)
			job_drop(j);
		return r;
	}
	/* the workers are behind: the caller does this one itself (rather
	 * than wait), which balances the work whatever the costs */
	struct st_error e;
	r = job_run(j, &e);
	job_drop(j);
	if (r < 0) {
		pthread_mutex_lock(&p->mu);
		if (p->error == 0) {
			p->error = r;
			p->err = e;
		}
		if (err)
			*err = p->err;
		r = p->error;
		pthread_mutex_unlock(&p->mu);
	}
	return r;
}

int st_filejobs_finish(struct st_filejobs *p, struct st_error *err)
{
	pthread_mutex_lock(&p->mu);
	p->finishing = true;
	pthread_cond_broadcast(&p->cv); /* a last batch below FJ_BATCH */
	while (p->len > 0 || p->running > 0)
		pthread_cond_wait(&p->cv, &p->mu);
	p->finishing = false;
	int r = p->error;
	if (r < 0 && err)
		*err = p->err;
	pthread_mutex_unlock(&p->mu);
	return r;
}

void st_filejobs_free(struct st_filejobs *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true; /* queued jobs are dropped, not run */
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->th[i], NULL);
	while (p->len > 0) {
		job_drop(&p->q[p->head]);
		p->head = (p->head + 1) % FJ_QUEUE;
		p->len--;
	}
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
