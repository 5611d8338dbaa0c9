/* Shared by the libFuzzer harnesses that work on a store: a vfs store in a
 * fresh directory (on /dev/shm when there is one: fsync is then free),
 * opened once per process and removed at exit; memory readers and writers;
 * the invariants every harness checks after each input (abort() on a
 * violation, so libFuzzer keeps the input):
 *   - a failure always says why (err.code and err.msg set);
 *   - the store holds only what the harness keeps (no layer, driver layer,
 *     image, lease or half-made directory left by the input);
 *   - nothing next to the store changed (a canary file and directory).
 * The harnesses are also compiled into tests/unit/test_fuzz_corpus.c, which
 * replays their corpus and regressions under the normal build. */
#ifndef ST_FUZZ_COMMON_H
#define ST_FUZZ_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata.h"
#include "base/base.h"
#include "store/store.h"

struct fz_store {
	char dir[PATH_MAX];   /* holds store/ and the canary */
	char root[PATH_MAX];  /* dir/store */
	struct st_store *s;
	struct stat canary_st;
};

static struct fz_store *fz_stores[8];
static size_t fz_nstores;

static inline void fz_cleanup(void)
{
	for (size_t i = 0; i < fz_nstores; i++) {
		struct fz_store *f = fz_stores[i];
		st_store_close(f->s);
		f->s = NULL;
		/* the whole directory: the store, the canary, a harness's trees */
		struct st_error e;
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", f->dir);
		char *slash = strrchr(parent, '/');
		if (!slash)
			continue;
		*slash = '\0';
		int fd = open(parent[0] ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			st_rm_rf_at(fd, slash + 1, &e);
			close(fd);
		}
	}
	fz_nstores = 0;
}

/* The store of this harness (made at the first call). */
static inline struct st_store *fz_store(struct fz_store *f, const char *tag)
{
	if (f->s)
		return f->s;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	snprintf(f->dir, sizeof(f->dir), "%s/strata-fuzz-%s-XXXXXX", base, tag);
	if (!mkdtemp(f->dir))
		abort();
	snprintf(f->root, sizeof(f->root), "%s/store", f->dir);
	char canary[PATH_MAX + 16];
	snprintf(canary, sizeof(canary), "%s/canary", f->dir);
	int fd = open(canary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "canary\n", 7) != 7 || close(fd) < 0 || stat(canary, &f->canary_st) < 0)
		abort();
	struct st_error err = {0};
	struct st_store_config cfg = {.root = f->root, .driver = "vfs"};
	if (st_store_open(&cfg, &f->s, &err) < 0) {
		fprintf(stderr, "fuzz: open store: %s\n", err.msg);
		abort();
	}
	if (fz_nstores == 0)
		atexit(fz_cleanup);
	if (fz_nstores < sizeof(fz_stores) / sizeof(fz_stores[0]))
		fz_stores[fz_nstores++] = f;
	return f->s;
}

/* A failure must say why. */
static inline void fz_failed_clearly(const struct st_error *err)
{
	if (err->code == 0 || !err->msg[0])
		abort();
}

static inline bool fz_dir_has(int rootfd, const char *sub, const char *prefix)
{
	int fd = st_open_nofollow(rootfd, sub, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return false;
	char **names;
	size_t n;
	bool any = false;
	if (st_list_dir(fd, &names, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			any |= prefix ? strncmp(names[i], prefix, strlen(prefix)) == 0 : names[i][0] != '.';
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	close(fd);
	return any;
}

/* After an input: the store holds nlayers layers (what the harness keeps),
 * no image, no lease, nothing half made; the canary is untouched. */
static inline void fz_expect_store(struct fz_store *f, size_t nlayers)
{
	struct st_error err;
	struct st_layer *v;
	size_t n;
	if (st_layer_list(f->s, &v, &n, &err) < 0)
		abort();
	st_layer_list_free(v, n);
	if (n != nlayers) {
		fprintf(stderr, "fuzz: %zu layers left in the store, %zu expected\n", n, nlayers);
		abort();
	}
	char **ids;
	size_t nd;
	if (st_drv_list(st_store_driver(f->s), &ids, &nd, &err) < 0)
		abort();
	for (size_t i = 0; i < nd; i++)
		free(ids[i]);
	free(ids);
	if (nd != nlayers) {
		fprintf(stderr, "fuzz: %zu driver layers left in the store, %zu expected\n", nd, nlayers);
		abort();
	}
	int root = st_store_root_fd(f->s);
	if (fz_dir_has(root, "images", NULL) || fz_dir_has(root, "leases", NULL) || fz_dir_has(root, "layers", ".tmp-") ||
	    fz_dir_has(root, "images", ".tmp-")) {
		fprintf(stderr, "fuzz: an image, a lease or a half-made layer was left in the store\n");
		abort();
	}
	char canary[PATH_MAX + 16];
	snprintf(canary, sizeof(canary), "%s/canary", f->dir);
	struct stat st;
	if (stat(canary, &st) < 0 || st.st_size != f->canary_st.st_size || st.st_mtim.tv_nsec != f->canary_st.st_mtim.tv_nsec ||
	    st.st_ino != f->canary_st.st_ino) {
		fprintf(stderr, "fuzz: the canary next to the store changed\n");
		abort();
	}
}

/* Memory as a reader, at most chunk bytes a read (odd chunks find more). */
struct fz_mem {
	const uint8_t *p;
	size_t len, pos, chunk;
	struct st_reader r;
};

static inline ssize_t fz_mem_read(void *ctx, void *buf, size_t len)
{
	struct fz_mem *m = ctx;
	size_t n = m->len - m->pos;
	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static inline struct st_reader *fz_reader(struct fz_mem *m, const void *data, size_t len, size_t chunk)
{
	*m = (struct fz_mem){.p = data, .len = len, .chunk = chunk};
	m->r.read = fz_mem_read;
	m->r.ctx = m;
	return &m->r;
}

/* A writer that only counts. */
struct fz_count {
	uint64_t n;
	struct st_writer w;
};

static inline int fz_count_write(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	((struct fz_count *)ctx)->n += len;
	return 0;
}

static inline struct st_writer *fz_counter(struct fz_count *c)
{
	c->n = 0;
	c->w.write = fz_count_write;
	c->w.ctx = c;
	return &c->w;
}

#endif
