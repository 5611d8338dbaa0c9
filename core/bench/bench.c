/* The storage-driver benchmark: per driver and workload shape, one timed
 * sequence through the driver interface, repeated `runs` times:
 *
 *   create      an empty layer (no parent)
 *   apply       the shape's layer tar to it (from memory)
 *               [chain: layers-1 more layers, each a small delta tar, untimed]
 *   create rw   a read-write child of the top
 *   mount       its first get, then unmount (its last put)
 *   read        files of the bottom layer, through the child's mount
 *   copy-up     the first write (one byte) to other bottom-layer files
 *               [untimed: delete some files, add some]
 *   changes     of the child
 *   diff        of the child, as a layer tar (discarded)
 *   commit      of the child (read-write -> committed)
 *   remove      every layer of the run, top down
 *
 * Each driver gets its own scratch home, removed afterwards. btrfs runs on a
 * loop-mounted image (bench_fs.c) when the scratch directory is not btrfs. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"
#include "bench/bench.h"

static const char *const shape_names[ST_BENCH_NSHAPES] = {
	[ST_BENCH_SMALL] = "small-files",
	[ST_BENCH_LARGE] = "large-files",
	[ST_BENCH_CHAIN] = "deep-chain",
};

static const char *const op_names[ST_BOP_N] = {
	[ST_BOP_CREATE] = "create",
	[ST_BOP_APPLY] = "apply",
	[ST_BOP_CREATE_CHILD] = "create-child",
	[ST_BOP_MOUNT] = "mount",
	[ST_BOP_UNMOUNT] = "unmount",
	[ST_BOP_READ] = "read",
	[ST_BOP_COPYUP] = "copy-up",
	[ST_BOP_CHANGES] = "changes",
	[ST_BOP_DIFF] = "diff",
	[ST_BOP_COMMIT] = "commit",
	[ST_BOP_REMOVE] = "remove",
};

const char *st_bench_shape_name(enum st_bench_shape s)
{
	return s < ST_BENCH_NSHAPES ? shape_names[s] : "?";
}

const char *st_bench_op_name(enum st_bench_op op)
{
	return op < ST_BOP_N ? op_names[op] : "?";
}

/* ------------------------------------------------------------ inputs */

struct membuf {
	unsigned char *p;
	size_t len, cap;
};

/* One shape's input: the bottom layer's tar, the chain's delta tars, and
 * which bottom-layer files the run reads, writes and deletes. */
struct bench_shape_in {
	bool on;
	struct membuf base;
	struct membuf *deltas; /* layers - 1 of them */
	int ndeltas;
	int64_t file_size;
	int nfiles;
	struct st_bench_work work;
	int *reads, *writes, *deletes;
	int nreads, nwrites, ndeletes;
};

struct st_bench_inputs {
	struct st_bench_params p;
	struct bench_shape_in shape[ST_BENCH_NSHAPES];
};

static la_ssize_t membuf_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
	struct membuf *m = ctx;
	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap : 1 << 20;
		while (cap < m->len + n)
			cap *= 2;
		unsigned char *p = realloc(m->p, cap);
		if (!p) {
			archive_set_error(a, ENOMEM, "out of memory");
			return -1;
		}
		m->p = p;
		m->cap = cap;
	}
	memcpy(m->p + m->len, buf, n);
	m->len += n;
	return (la_ssize_t)n;
}

/* Incompressible, reproducible bytes (xorshift64*), so no filesystem or
 * driver can take a shortcut on the content. */
static void fill(unsigned char *buf, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t v = x * 0x2545F4914F6CDD1Dull;
		memcpy(buf + i, &v, 8);
	}
	for (; i < n; i++)
		buf[i] = (unsigned char)(x >> (8 * (i & 7)));
}

struct tarw {
	struct archive *a;
	struct archive_entry *e;
	unsigned char *data;
	size_t datalen;
};

static int tarw_open(struct tarw *t, struct membuf *m, size_t maxfile, struct st_error *err)
{
	memset(t, 0, sizeof(*t));
	t->a = archive_write_new();
	t->e = archive_entry_new();
	t->data = malloc(maxfile ? maxfile : 1);
	t->datalen = maxfile;
	if (!t->a || !t->e || !t->data)
		return st_error_set(err, ENOMEM, "bench: make a layer tar");
	archive_write_set_format_pax_restricted(t->a);
	archive_write_set_bytes_in_last_block(t->a, 1);
	if (archive_write_open2(t->a, m, NULL, membuf_write, NULL, NULL) != ARCHIVE_OK)
		return st_error_fail(err, EIO, "bench: make a layer tar: %s", archive_error_string(t->a));
	return 0;
}

/* type: 'd' directory, 'f' file of size bytes (content from seed). */
static int tarw_add(struct tarw *t, char type, const char *path, int64_t size, uint64_t seed,
		    struct st_error *err)
{
	struct archive_entry *e = t->e;
	archive_entry_clear(e);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type == 'd' ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, type == 'd' ? 0755 : 0644);
	archive_entry_set_mtime(e, 1700000000, 0);
	archive_entry_set_size(e, type == 'd' ? 0 : size);
	if (archive_write_header(t->a, e) != ARCHIVE_OK)
		return st_error_fail(err, EIO, "bench: tar entry \"%s\": %s", path, archive_error_string(t->a));
	if (type == 'f' && size > 0) {
		fill(t->data, (size_t)size, seed);
		if (archive_write_data(t->a, t->data, (size_t)size) != size)
			return st_error_fail(err, EIO, "bench: tar data \"%s\": %s", path, archive_error_string(t->a));
	}
	return 0;
}

static int tarw_close(struct tarw *t, struct st_error *err)
{
	int r = 0;
	if (t->a && archive_write_close(t->a) != ARCHIVE_OK)
		r = st_error_fail(err, EIO, "bench: finish a layer tar: %s", archive_error_string(t->a));
	if (t->a)
		archive_write_free(t->a);
	if (t->e)
		archive_entry_free(t->e);
	free(t->data);
	memset(t, 0, sizeof(*t));
	return r;
}

static void file_path(char *buf, size_t len, int i)
{
	snprintf(buf, len, "d%03d/f%06d", i / 100, i);
}

/* The bottom layer: nfiles files of size bytes, 100 to a directory. */
static int make_base(struct membuf *m, int nfiles, int64_t size, struct st_error *err)
{
	struct tarw t;
	int r = tarw_open(&t, m, (size_t)size, err);
	char path[64];
	for (int i = 0; r >= 0 && i < nfiles; i++) {
		if (i % 100 == 0) {
			snprintf(path, sizeof(path), "d%03d/", i / 100);
			r = tarw_add(&t, 'd', path, 0, 0, err);
		}
		file_path(path, sizeof(path), i);
		if (r >= 0)
			r = tarw_add(&t, 'f', path, size, (uint64_t)i, err);
	}
	int r2 = tarw_close(&t, err);
	return r < 0 ? r : r2;
}

/* Chain layer i (1..): a file of its own in a directory of its own and one
 * in a bottom-layer directory (so those directories merge across many
 * layers, as /etc or /usr/bin do); every 10th layer deletes the previous
 * layer's own file (a whiteout). */
static int make_delta(struct membuf *m, int i, int ndirs, int64_t size, struct st_error *err)
{
	struct tarw t;
	int r = tarw_open(&t, m, (size_t)size, err);
	char path[64];
	int dir = i % ndirs;
	if (r >= 0) {
		snprintf(path, sizeof(path), "d%03d/", dir);
		r = tarw_add(&t, 'd', path, 0, 0, err);
	}
	if (r >= 0) {
		snprintf(path, sizeof(path), "d%03d/l%06d", dir, i);
		r = tarw_add(&t, 'f', path, size, 1000000 + (uint64_t)i, err);
	}
	if (r >= 0) {
		snprintf(path, sizeof(path), "l%06d/", i);
		r = tarw_add(&t, 'd', path, 0, 0, err);
	}
	if (r >= 0) {
		snprintf(path, sizeof(path), "l%06d/f", i);
		r = tarw_add(&t, 'f', path, size, 2000000 + (uint64_t)i, err);
	}
	if (r >= 0 && i % 10 == 0 && i > 1) {
		snprintf(path, sizeof(path), "l%06d/", i - 1);
		r = tarw_add(&t, 'd', path, 0, 0, err);
		snprintf(path, sizeof(path), "l%06d/" ST_WH_PREFIX "f", i - 1);
		if (r >= 0)
			r = tarw_add(&t, 'f', path, 0, 0, err);
	}
	int r2 = tarw_close(&t, err);
	return r < 0 ? r : r2;
}

/* n indexes out of 0..total-1, evenly spread, starting at offset */
static int *spread(int n, int total, int offset)
{
	int *v = calloc((size_t)(n ? n : 1), sizeof(int));
	for (int j = 0; v && j < n; j++)
		v[j] = (int)(((int64_t)j * total) / n + offset) % total;
	return v;
}

static int shape_make(struct bench_shape_in *s, enum st_bench_shape k, const struct st_bench_params *p,
		      struct st_error *err)
{
	int layers = k == ST_BENCH_CHAIN ? p->layers : 1;
	s->nfiles = k == ST_BENCH_SMALL ? p->files : k == ST_BENCH_LARGE ? p->large_files
									 : (p->files < 1000 ? p->files : 1000);
	s->file_size = k == ST_BENCH_LARGE ? p->large_size : p->file_size;
	int r = make_base(&s->base, s->nfiles, s->file_size, err);
	if (r < 0)
		return r;
	if (layers > 1 && !(s->deltas = calloc((size_t)layers - 1, sizeof(*s->deltas))))
		return st_error_set(err, ENOMEM, "bench: chain inputs");
	int ndirs = (s->nfiles + 99) / 100;
	for (int i = 1; i < layers; i++, s->ndeltas++)
		if ((r = make_delta(&s->deltas[i - 1], i, ndirs, p->file_size, err)) < 0)
			return r;
	/* reads: up to 100 files spread over the layer; copy-ups: half as many
	 * (at least one), others; deletes: a tenth of the copy-ups, among the
	 * files read */
	s->nreads = s->nfiles < 100 ? s->nfiles : 100;
	s->nwrites = s->nreads / 2 ? s->nreads / 2 : 1;
	s->ndeletes = s->nwrites / 10 ? s->nwrites / 10 : 1;
	if (s->nfiles < 2)
		s->nwrites = s->ndeletes = 0;
	s->reads = spread(s->nreads, s->nfiles ? s->nfiles : 1, 0);
	s->writes = spread(s->nwrites, s->nfiles ? s->nfiles : 1,
			   s->nwrites ? s->nfiles / (2 * s->nwrites) : 0);
	s->deletes = spread(s->ndeletes, s->nfiles ? s->nfiles : 1, 0);
	if (!s->reads || !s->writes || !s->deletes)
		return st_error_set(err, ENOMEM, "bench: inputs");
	s->work = (struct st_bench_work){
		.layers = layers,
		.base_files = s->nfiles,
		.tar_bytes = (int64_t)s->base.len,
		.reads = s->nreads,
		.read_bytes = s->nreads * s->file_size,
		.copyups = s->nwrites,
		.copyup_bytes = s->nwrites * s->file_size,
	};
	return 0;
}

void st_bench_inputs_free(struct st_bench_inputs *in)
{
	if (!in)
		return;
	for (int k = 0; k < ST_BENCH_NSHAPES; k++) {
		struct bench_shape_in *s = &in->shape[k];
		free(s->base.p);
		for (int i = 0; i < s->ndeltas; i++)
			free(s->deltas[i].p);
		free(s->deltas);
		free(s->reads);
		free(s->writes);
		free(s->deletes);
	}
	free(in);
}

int st_bench_inputs_make(const struct st_bench_params *p, struct st_bench_inputs **out, struct st_error *err)
{
	if (p->files < 1 || p->large_files < 1 || p->layers < 1 || p->runs < 1 || p->file_size < 0 ||
	    p->large_size < 0)
		return st_error_fail(err, EINVAL, "bench: files, layers and runs must be at least 1, sizes not negative");
	struct st_bench_inputs *in = calloc(1, sizeof(*in));
	if (!in)
		return st_error_set(err, ENOMEM, "bench: inputs");
	in->p = *p;
	for (int k = 0; k < ST_BENCH_NSHAPES; k++) {
		if (!(p->shapes & (1u << k)))
			continue;
		in->shape[k].on = true;
		int r = shape_make(&in->shape[k], (enum st_bench_shape)k, p, err);
		if (r < 0) {
			st_bench_inputs_free(in);
			return r;
		}
	}
	*out = in;
	return 0;
}

/* ------------------------------------------------------------- I/O */

struct memreader {
	const unsigned char *p;
	size_t len, pos;
};

static ssize_t memreader_read(void *ctx, void *buf, size_t len)
{
	struct memreader *m = ctx;
	size_t n = m->len - m->pos < len ? m->len - m->pos : len;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static int64_t apply_mem(struct st_driver *d, const char *id, const struct membuf *m, struct st_error *err)
{
	struct memreader mr = {.p = m->p, .len = m->len};
	struct st_reader rd = {.read = memreader_read, .ctx = &mr};
	return st_drv_apply(d, id, NULL, &rd, err);
}

static int null_write(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	*(int64_t *)ctx += (int64_t)len;
	return 0;
}

/* ---------------------------------------------------------- one run */

struct run {
	struct st_driver *d;
	const struct bench_shape_in *s;
	char prefix[48];
	char (*ids)[64]; /* the chain, bottom first: layers of them */
	int nids;        /* created so far */
	char rw[64];
	bool rw_made, rw_mounted;
	double t[ST_BOP_N];
};

static int read_files(int mfd, const struct bench_shape_in *s, unsigned char *buf, size_t buflen,
		      struct st_error *err)
{
	char path[64];
	for (int j = 0; j < s->nreads; j++) {
		file_path(path, sizeof(path), s->reads[j]);
		_cleanup_close_ int fd = openat(mfd, path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return st_error_set(err, errno, "bench: open \"%s\" through the chain", path);
		ssize_t n;
		while ((n = read(fd, buf, buflen)) > 0)
			;
		if (n < 0)
			return st_error_set(err, errno, "bench: read \"%s\" through the chain", path);
	}
	return 0;
}

static int copy_up(int mfd, const struct bench_shape_in *s, struct st_error *err)
{
	char path[64];
	for (int j = 0; j < s->nwrites; j++) {
		file_path(path, sizeof(path), s->writes[j]);
		_cleanup_close_ int fd = openat(mfd, path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return st_error_set(err, errno, "bench: open \"%s\" for writing", path);
		if (pwrite(fd, "x", 1, 0) != 1)
			return st_error_set(err, errno, "bench: write \"%s\"", path);
	}
	return 0;
}

/* Untimed: the rest of a container's changes (deletes, new files). */
static int more_changes(int mfd, const struct bench_shape_in *s, unsigned char *buf, struct st_error *err)
{
	char path[64];
	for (int j = 0; j < s->ndeletes; j++) {
		file_path(path, sizeof(path), s->deletes[j]);
		if (unlinkat(mfd, path, 0) < 0)
			return st_error_set(err, errno, "bench: delete \"%s\"", path);
	}
	if (mkdirat(mfd, "new", 0755) < 0)
		return st_error_set(err, errno, "bench: mkdir \"new\"");
	for (int j = 0; j < s->ndeletes; j++) {
		snprintf(path, sizeof(path), "new/n%03d", j);
		_cleanup_close_ int fd = openat(mfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return st_error_set(err, errno, "bench: create \"%s\"", path);
		size_t n = (size_t)s->file_size;
		fill(buf, n, 3000000 + (uint64_t)j);
		if (n && write(fd, buf, n) != (ssize_t)n)
			return st_error_set(err, errno, "bench: write \"%s\"", path);
	}
	return 0;
}

#define TIMED(r, slot, call)                    \
	do {                                    \
		double t0_ = st_now();          \
		(r) = (call);                   \
		(slot) = st_now() - t0_;        \
	} while (0)

static int run_once(struct run *u, unsigned char *buf, size_t buflen, struct st_error *err)
{
	struct st_driver *d = u->d;
	const struct bench_shape_in *s = u->s;
	int r;
	int64_t n;
	snprintf(u->ids[0], sizeof(u->ids[0]), "%s-l000", u->prefix);
	TIMED(r, u->t[ST_BOP_CREATE], st_drv_create(d, u->ids[0], NULL, false, NULL, err));
	if (r < 0)
		return r;
	u->nids = 1;
	TIMED(n, u->t[ST_BOP_APPLY], apply_mem(d, u->ids[0], &s->base, err));
	if (n < 0)
		return (int)n;
	for (int i = 1; i <= s->ndeltas; i++) {
		snprintf(u->ids[i], sizeof(u->ids[i]), "%s-l%03d", u->prefix, i);
		if ((r = st_drv_create(d, u->ids[i], u->ids[i - 1], false, NULL, err)) < 0)
			return r;
		u->nids++;
		if ((n = apply_mem(d, u->ids[i], &s->deltas[i - 1], err)) < 0)
			return (int)n;
	}
	snprintf(u->rw, sizeof(u->rw), "%s-rw", u->prefix);
	TIMED(r, u->t[ST_BOP_CREATE_CHILD], st_drv_create(d, u->rw, u->ids[u->nids - 1], true, NULL, err));
	if (r < 0)
		return r;
	u->rw_made = true;
	char path[PATH_MAX];
	TIMED(r, u->t[ST_BOP_MOUNT], st_drv_get(d, u->rw, path, sizeof(path), err));
	if (r < 0)
		return r;
	TIMED(r, u->t[ST_BOP_UNMOUNT], st_drv_put(d, u->rw, err));
	if (r < 0)
		return r;
	if ((r = st_drv_get(d, u->rw, path, sizeof(path), err)) < 0)
		return r;
	u->rw_mounted = true;
	_cleanup_close_ int mfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return st_error_set(err, errno, "bench: open the mount \"%s\"", path);
	TIMED(r, u->t[ST_BOP_READ], read_files(mfd, s, buf, buflen, err));
	if (r < 0)
		return r;
	TIMED(r, u->t[ST_BOP_COPYUP], copy_up(mfd, s, err));
	if (r < 0 || (r = more_changes(mfd, s, buf, err)) < 0)
		return r;
	close(st_take_fd(&mfd));
	if ((r = st_drv_put(d, u->rw, err)) < 0)
		return r;
	u->rw_mounted = false;
	struct st_changes c = {0};
	TIMED(r, u->t[ST_BOP_CHANGES], st_drv_changes(d, u->rw, NULL, &c, err));
	st_changes_free(&c);
	if (r < 0)
		return r;
	int64_t bytes = 0;
	struct st_writer w = {.write = null_write, .ctx = &bytes};
	TIMED(r, u->t[ST_BOP_DIFF], st_drv_diff(d, u->rw, NULL, &w, err));
	if (r < 0)
		return r;
	TIMED(r, u->t[ST_BOP_COMMIT], st_drv_commit(d, u->rw, err));
	if (r < 0)
		return r;
	double t0 = st_now();
	if ((r = st_drv_remove(d, u->rw, err)) < 0)
		return r;
	u->rw_made = false;
	while (u->nids > 0) {
		if ((r = st_drv_remove(d, u->ids[u->nids - 1], err)) < 0)
			return r;
		u->nids--;
	}
	u->t[ST_BOP_REMOVE] = st_now() - t0;
	return 0;
}

/* After a failed run: take down what it left, best effort. */
static void run_cleanup(struct run *u)
{
	struct st_error ignore;
	if (u->rw_mounted)
		st_drv_put(u->d, u->rw, &ignore);
	if (u->rw_made)
		st_drv_remove(u->d, u->rw, &ignore);
	while (u->nids > 0)
		st_drv_remove(u->d, u->ids[--u->nids], &ignore);
}

/* ------------------------------------------------------------- stats */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void stat_finish(struct st_bench_stat *st)
{
	if (st->n == 0)
		return;
	double *v = malloc((size_t)st->n * sizeof(double));
	if (!v)
		return;
	memcpy(v, st->samples, (size_t)st->n * sizeof(double));
	qsort(v, (size_t)st->n, sizeof(double), cmp_double);
	st->min = v[0];
	st->max = v[st->n - 1];
	st->median = st->n % 2 ? v[st->n / 2] : (v[st->n / 2 - 1] + v[st->n / 2]) / 2;
	free(v);
}

void st_bench_result_free(struct st_bench_result *r)
{
	for (int k = 0; k < ST_BENCH_NSHAPES; k++)
		for (int o = 0; o < ST_BOP_N; o++) {
			free(r->stat[k][o].samples);
			r->stat[k][o].samples = NULL;
			r->stat[k][o].n = 0;
		}
}

/* -------------------------------------------------------- per driver */

static void fail_reason(struct st_bench_result *out, bool skipped, const struct st_error *e)
{
	out->skipped = skipped;
	out->failed = !skipped;
	snprintf(out->reason, sizeof(out->reason), "%s", e->msg[0] ? e->msg : strerror(e->code ? e->code : EIO));
}

/* Probe and open the driver in dir (a fresh directory): btrfs gets a
 * loop-mounted image when dir is not on btrfs. */
static int open_driver(const char *name, const char *dir, const struct st_bench_inputs *in,
		       struct st_driver **d, struct st_bench_result *out, struct st_error *err)
{
	char home[PATH_MAX], reason[512] = "";
	snprintf(home, sizeof(home), "%s/%s", dir, name);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return st_error_set(err, errno, "bench: open \"%s\"", dir);
	const char *fs = st_fs_name(dfd);
	snprintf(out->backing, sizeof(out->backing), "%s", fs);
	if (strcmp(name, "btrfs") == 0 && strcmp(fs, "btrfs") != 0) {
		/* room for the largest shape several times over; sparse */
		int64_t need = 0;
		for (int k = 0; k < ST_BENCH_NSHAPES; k++)
			if (in->shape[k].on && (int64_t)in->shape[k].base.len > need)
				need = (int64_t)in->shape[k].base.len;
		int64_t size = need * 8 > (4ll << 30) ? need * 8 : (4ll << 30);
		char mnt[PATH_MAX];
		struct st_error e;
		if (st_bench_btrfs_mount(dir, size, mnt, sizeof(mnt), &e) < 0) {
			fail_reason(out, true, &e);
			return 0;
		}
		snprintf(home, sizeof(home), "%s/%s", mnt, name);
		snprintf(out->backing, sizeof(out->backing), "loop btrfs on %s", fs);
	}
	if (st_driver_probe(name, home, reason, sizeof(reason)) < 0) {
		out->skipped = true;
		snprintf(out->reason, sizeof(out->reason), "%s", reason);
		return 0;
	}
	struct st_error e;
	if (st_driver_open(name, home, NULL, d, &e) < 0) {
		fail_reason(out, false, &e);
		return 0;
	}
	return 0;
}

static int run_shapes(struct st_driver *d, const struct st_bench_inputs *in, st_bench_progress_fn progress,
		      void *ctx, struct st_bench_result *out, struct st_error *err)
{
	int total = 0, done = 0;
	for (int k = 0; k < ST_BENCH_NSHAPES; k++)
		total += in->shape[k].on ? in->p.runs : 0;
	size_t buflen = 1 << 20;
	for (int k = 0; k < ST_BENCH_NSHAPES; k++)
		if (in->shape[k].on && (size_t)in->shape[k].file_size > buflen)
			buflen = (size_t)in->shape[k].file_size;
	_cleanup_free_ unsigned char *buf = malloc(buflen);
	if (!buf)
		return st_error_set(err, ENOMEM, "bench: buffer");
	for (int k = 0; k < ST_BENCH_NSHAPES; k++) {
		const struct bench_shape_in *s = &in->shape[k];
		if (!s->on)
			continue;
		out->work[k] = s->work;
		for (int o = 0; o < ST_BOP_N; o++)
			if (!(out->stat[k][o].samples = calloc((size_t)in->p.runs, sizeof(double))))
				return st_error_set(err, ENOMEM, "bench: samples");
		_cleanup_free_ char(*ids)[64] = calloc((size_t)s->work.layers, sizeof(*ids));
		if (!ids)
			return st_error_set(err, ENOMEM, "bench: layer ids");
		for (int i = 0; i < in->p.runs; i++) {
			char what[64];
			snprintf(what, sizeof(what), "%s %d/%d", shape_names[k], i + 1, in->p.runs);
			if (progress)
				progress(ctx, out->driver, done, total, what);
			struct run u = {.d = d, .s = s, .ids = ids};
			snprintf(u.prefix, sizeof(u.prefix), "bench-%s-%d", shape_names[k], i);
			int r = run_once(&u, buf, buflen, err);
			if (r < 0) {
				run_cleanup(&u);
				return st_error_wrap(err, "%s, run %d", shape_names[k], i + 1);
			}
			for (int o = 0; o < ST_BOP_N; o++)
				out->stat[k][o].samples[out->stat[k][o].n++] = u.t[o];
			done++;
		}
		for (int o = 0; o < ST_BOP_N; o++)
			stat_finish(&out->stat[k][o]);
	}
	if (progress)
		progress(ctx, out->driver, done, total, "done");
	return 0;
}

int st_bench_driver(const char *name, const char *scratch_dir, const struct st_bench_inputs *in,
		    st_bench_progress_fn progress, void *ctx, struct st_bench_result *out, struct st_error *err)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->driver, sizeof(out->driver), "%s", name);
	if (!st_driver_lookup(name)) {
		out->skipped = true;
		snprintf(out->reason, sizeof(out->reason), "not compiled into this strata");
		return 0;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/strata-bench-%s-XXXXXX", scratch_dir, name);
	if (!mkdtemp(dir))
		return st_error_set(err, errno, "bench: make a scratch directory in \"%s\"", scratch_dir);
	struct st_driver *d = NULL;
	int r = open_driver(name, dir, in, &d, out, err);
	if (r >= 0 && d) {
		struct st_error e = {0};
		if (run_shapes(d, in, progress, ctx, out, &e) < 0)
			fail_reason(out, false, &e);
		st_driver_close(d);
	}
	/* the scratch directory goes, whatever happened */
	st_bench_umount_below(dir);
	struct st_error e2;
	_cleanup_close_ int pfd = open(scratch_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *base = strrchr(dir, '/') + 1;
	if (pfd >= 0 && st_rm_rf_at(pfd, base, &e2) < 0 && r >= 0) {
		*err = e2;
		r = st_error_wrap(err, "bench: remove the scratch directory");
	}
	return r;
}
