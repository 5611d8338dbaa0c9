/* libFuzzer harness for layer tars: the input is a layer (plain or
 * compressed) that is
 *   1. registered in a vfs store (apply with real deletes, tar-split
 *      recording, hashing): a layer that registers must read back byte for
 *      byte (st_layer_tar checks the digest against its diff id) and go
 *      away when released; one that fails must leave nothing behind;
 *   2. applied with overlay and aufs whiteouts onto a small tree: a failed
 *      apply must leave the tree's files as they were.
 * Nothing next to the store may change (fuzz_common.h). Corpus:
 * tests/fuzz/corpus/layer_apply/ (seeded from tests/hostile/make-layers.py).
 *   make fuzz   (clang -fsanitize=fuzzer,address; see scripts/fuzz.sh) */
#include "archive/archive.h"
#include "fuzz_common.h"

static struct fz_store fla_store;

static void fla_write(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

/* <dir>/tree: keep (a file), dir/inner, link -> dir, a lower layer's view. */
static int fla_tree(const struct fz_store *f)
{
	int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct st_error err;
	if (dfd < 0 || st_rm_rf_at(dfd, "tree", &err) < 0 || mkdirat(dfd, "tree", 0755) < 0)
		abort();
	int t = openat(dfd, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(dfd);
	if (t < 0 || mkdirat(t, "dir", 0755) < 0 || symlinkat("dir", t, "link") < 0)
		abort();
	fla_write(t, "keep", "keep\n");
	fla_write(t, "dir/inner", "inner\n");
	return t;
}

static bool fla_same(int t, const char *name, const char *text)
{
	char buf[64];
	int fd = openat(t, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0;
}

static void fla_apply(const struct fz_store *f, const uint8_t *data, size_t size, enum st_whiteout_format wh)
{
	int t = fla_tree(f);
	struct fz_mem m;
	struct st_tar_in in;
	struct st_error err = {0};
	int64_t r = st_tar_in_init(&in, fz_reader(&m, data, size, 4093), &err);
	if (r >= 0) {
		struct st_apply_opts o = {.wh = wh};
		r = st_archive_apply(t, &in, &o, &err);
		st_tar_in_free(&in);
	}
	if (r < 0) {
		fz_failed_clearly(&err);
		/* rolled back */
		if (!fla_same(t, "keep", "keep\n") || !fla_same(t, "dir/inner", "inner\n"))
			abort();
	}
	close(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_store *s = fz_store(&fla_store, "layer");
	struct fz_mem m;
	struct st_layer l;
	struct st_error err = {0};
	if (st_layer_register(s, NULL, fz_reader(&m, data, size, 0), "user", &l, &err) == 0) {
		struct fz_count c;
		if (st_layer_tar(s, l.chain_id, fz_counter(&c), &err) < 0 || (int64_t)c.n != l.tar_size) {
			fprintf(stderr, "fuzz: registered layer %s does not read back: %s\n", l.chain_id, err.msg);
			abort();
		}
		if (st_layer_release(s, l.chain_id, "user", &err) < 0) {
			fprintf(stderr, "fuzz: release %s: %s\n", l.chain_id, err.msg);
			abort();
		}
		st_layer_free(&l);
	} else {
		fz_failed_clearly(&err);
	}
	fz_expect_store(&fla_store, 0);
	fla_apply(&fla_store, data, size, ST_WH_OVERLAY);
	fla_apply(&fla_store, data, size, ST_WH_AUFS);
	fz_expect_store(&fla_store, 0);
	return 0;
}
