/* core/store/layer_store.c, layer_register.c over the vfs driver: registration (DiffID, ChainID),
 * dedupe by chain id, holders, removal cascading to unreferenced parents,
 * refusal while a child exists, exact tar reproduction, and a store killed
 * in the middle of a registration. */
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "tartest.h"
#include "testlib.h"

static char *root;
static struct st_store *store;

static void open_store(void)
{
	struct st_error err = {0};
	struct st_store_config cfg = {.root = root, .driver = "vfs"};
	ST_OK(st_store_open(&cfg, &store, &err), &err);
}

static void setup(void)
{
	root = st_test_mkdtemp("layers");
	ck_assert_ptr_nonnull(root);
	open_store();
}

static void teardown(void)
{
	st_store_close(store);
	st_test_rmtree(root);
	free(root);
}

static void base_tar(struct tt_buf *b, int format, int block)
{
	struct tt_tar *t = tt_tar_new(format, block);
	struct tt_attr xa = {.xattr_name = {"user.k"}, .xattr_val = {"v"}, .xattr_len = {1}};
	tt_dir(t, "etc", 0755);
	tt_file(t, "etc/os-release", 0644, "ID=strata\n");
	tt_file_data(t, "etc/attrs", 0600, "with xattrs\n", 12, &xa);
	tt_dir(t, "gone", 0755);
	tt_file(t, "gone/file", 0644, "removed by the child\n");
	char longname[300];
	memset(longname, 'l', sizeof(longname) - 1);
	longname[120] = '/';
	longname[sizeof(longname) - 1] = '\0';
	tt_file(t, longname, 0644, "long\n");
	tt_tar_finish(t, b);
}

static void child_tar(struct tt_buf *b)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_file(t, ".wh.gone", 0, "");
	tt_file(t, "etc/os-release", 0644, "ID=strata-child\n");
	tt_file(t, "new", 0644, "new in the child\n");
	tt_tar_finish(t, b);
}

static int reg(const char *parent, const struct tt_buf *tar, const char *holder, struct st_layer *out,
	       struct st_error *err)
{
	struct tt_memreader m;
	return st_layer_register(store, parent, tt_memreader(&m, tar->data, tar->len, 7000), holder, out, err);
}

static void reg_ok(const char *parent, const struct tt_buf *tar, const char *holder, struct st_layer *out)
{
	struct st_error err = {0};
	ST_OK(reg(parent, tar, holder, out, &err), &err);
}

static size_t driver_layers(void)
{
	char **ids;
	size_t n;
	struct st_error err = {0};
	ST_OK(st_drv_list(st_store_driver(store), &ids, &n, &err), &err);
	st_strv_free(ids, n);
	/* and what is on disk, records or not */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/vfs/dir", root);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char **names;
	size_t nd = 0;
	if (fd >= 0) {
		ck_assert_int_eq(st_list_dir(fd, &names, &nd), 0);
		st_strv_free(names, nd);
		close(fd);
	}
	ck_assert_msg(nd == n, "%zu driver layers listed, %zu directories on disk", n, nd);
	return n;
}

static size_t count_layers(void)
{
	struct st_layer *v;
	size_t n;
	struct st_error err = {0};
	ST_OK(st_layer_list(store, &v, &n, &err), &err);
	st_layer_list_free(v, n);
	return n;
}

static void ck_tar_equal(const char *chain, const struct tt_buf *want)
{
	struct tt_memwriter w;
	struct st_error err = {0};
	ST_OK(st_layer_tar(store, chain, tt_memwriter(&w), &err), &err);
	ck_assert_msg(w.buf.len == want->len && memcmp(w.buf.data, want->data, want->len) == 0,
		      "layer %s: tar of %zu bytes given back as %zu other bytes", chain, want->len, w.buf.len);
	tt_buf_free(&w.buf);
}

START_TEST(test_register_computes_diff_and_chain_ids)
{
	struct tt_buf t;
	base_tar(&t, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	struct st_layer l;
	reg_ok(NULL, &t, "h1", &l);
	char digest[ST_DIGEST_LEN + 1];
	tt_sha256(t.data, t.len, digest);
	ck_assert_str_eq(l.diff_id, digest);
	ck_assert_str_eq(l.chain_id, digest);
	ck_assert_str_eq(l.parent, "");
	ck_assert_int_eq(l.tar_size, (int64_t)t.len);
	ck_assert_int_eq(l.size, 10 + 12 + 21 + 5);
	ck_assert_int_eq(l.nholders, 1);
	ck_assert_str_eq(l.holders[0], "h1");
	ck_assert(st_drv_exists(st_store_driver(store), l.cache_id));
	struct st_layer g;
	struct st_error err = {0};
	ST_OK(st_layer_get(store, l.chain_id, &g, &err), &err);
	ck_assert_str_eq(g.cache_id, l.cache_id);
	ck_assert_int_eq(g.size, l.size);
	st_layer_free(&g);

	struct tt_buf c;
	child_tar(&c);
	struct st_layer k;
	reg_ok(l.chain_id, &c, "h1", &k);
	char buf[200], chain[ST_DIGEST_LEN + 1];
	tt_sha256(c.data, c.len, digest);
	ck_assert_str_eq(k.diff_id, digest);
	snprintf(buf, sizeof(buf), "%s %s", l.chain_id, k.diff_id);
	tt_sha256(buf, strlen(buf), chain);
	ck_assert_str_eq(k.chain_id, chain);
	ck_assert_str_eq(k.parent, l.chain_id);
	/* the child's files sit on its parent's */
	char path[PATH_MAX];
	ST_OK(st_drv_get(st_store_driver(store), k.cache_id, path, sizeof(path), &err), &err);
	char *s = st_test_read(path, "etc/os-release");
	ck_assert_str_eq(s, "ID=strata-child\n");
	free(s);
	ck_assert(!st_test_exists(path, "gone"));
	ck_assert(st_test_exists(path, "etc/attrs"));
	ST_OK(st_drv_put(st_store_driver(store), k.cache_id, &err), &err);
	ck_assert_int_eq(count_layers(), 2);
	st_layer_free(&l);
	st_layer_free(&k);
	tt_buf_free(&t);
	tt_buf_free(&c);
}
END_TEST

START_TEST(test_same_chain_id_is_stored_once)
{
	struct tt_buf t;
	base_tar(&t, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	struct st_layer a, b, c;
	reg_ok(NULL, &t, "image:a", &a);
	reg_ok(NULL, &t, "image:b", &b);
	ck_assert_str_eq(a.chain_id, b.chain_id);
	ck_assert_str_eq(a.cache_id, b.cache_id);
	ck_assert_int_eq(b.nholders, 2);
	ck_assert_int_eq(driver_layers(), 1);
	ck_assert_int_eq(count_layers(), 1);
	/* the same holder twice is one holder */
	reg_ok(NULL, &t, "image:b", &c);
	ck_assert_int_eq(c.nholders, 2);
	st_layer_free(&c);
	/* the same diff on another parent is another layer */
	struct tt_buf other;
	child_tar(&other);
	struct st_layer p, on_p;
	reg_ok(NULL, &other, "x", &p);
	reg_ok(p.chain_id, &t, "x", &on_p);
	ck_assert_str_eq(on_p.diff_id, a.diff_id);
	ck_assert_str_ne(on_p.chain_id, a.chain_id);
	ck_assert_int_eq(driver_layers(), 3);
	st_layer_free(&a);
	st_layer_free(&b);
	st_layer_free(&p);
	st_layer_free(&on_p);
	tt_buf_free(&t);
	tt_buf_free(&other);
}
END_TEST

START_TEST(test_release_cascades_to_unreferenced_parents)
{
	struct tt_buf t, c;
	base_tar(&t, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	child_tar(&c);
	struct st_layer base, child;
	reg_ok(NULL, &t, "tmp", &base);
	reg_ok(base.chain_id, &c, "image:x", &child);
	struct st_error err = {0};
	/* the base loses its holder but has a child: it stays */
	ST_OK(st_layer_release(store, base.chain_id, "tmp", &err), &err);
	struct st_layer g;
	ST_OK(st_layer_get(store, base.chain_id, &g, &err), &err);
	ck_assert_int_eq(g.nholders, 0);
	st_layer_free(&g);
	ck_assert_int_eq(driver_layers(), 2);
	/* the driver refuses to remove it while the child exists */
	ck_assert_int_lt(st_drv_remove(st_store_driver(store), base.cache_id, &err), 0);
	/* an unknown holder changes nothing */
	ST_OK(st_layer_release(store, child.chain_id, "nobody", &err), &err);
	ck_assert_int_eq(count_layers(), 2);
	/* the last holder of the child goes: child, then the base */
	ST_OK(st_layer_release(store, child.chain_id, "image:x", &err), &err);
	ck_assert_int_eq(count_layers(), 0);
	ck_assert_int_eq(driver_layers(), 0);
	ck_assert_int_eq(st_layer_get(store, base.chain_id, &g, &err), -ENOENT);
	ck_assert_int_eq(st_layer_get(store, child.chain_id, &g, &err), -ENOENT);
	/* a held parent is kept when its child goes */
	st_layer_free(&base);
	st_layer_free(&child);
	reg_ok(NULL, &t, "keep", &base);
	reg_ok(base.chain_id, &c, "drop", &child);
	ST_OK(st_layer_hold(store, child.chain_id, "second", &err), &err);
	ST_OK(st_layer_release(store, child.chain_id, "drop", &err), &err);
	ck_assert_int_eq(count_layers(), 2);
	ST_OK(st_layer_release(store, child.chain_id, "second", &err), &err);
	ck_assert_int_eq(count_layers(), 1);
	ck_assert_int_eq(driver_layers(), 1);
	st_layer_free(&base);
	st_layer_free(&child);
	tt_buf_free(&t);
	tt_buf_free(&c);
}
END_TEST

START_TEST(test_layer_tar_given_back_byte_for_byte)
{
	int formats[] = {ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FORMAT_TAR_GNUTAR, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE};
	int blocks[] = {-1, 512, 0};
	for (size_t i = 0; i < 3; i++) {
		struct tt_buf t;
		base_tar(&t, formats[i], blocks[i]);
		struct st_layer l;
		reg_ok(NULL, &t, "h", &l);
		ck_tar_equal(l.chain_id, &t);
		st_layer_free(&l);
		tt_buf_free(&t);
	}
	/* a child with whiteouts, and a gzip'd one */
	struct tt_buf t, c;
	base_tar(&t, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	child_tar(&c);
	struct st_layer base, child;
	reg_ok(NULL, &t, "h", &base);
	reg_ok(base.chain_id, &c, "h", &child);
	ck_tar_equal(child.chain_id, &c);
	/* the same after the store is closed and opened again */
	st_store_close(store);
	open_store();
	ck_tar_equal(base.chain_id, &t);
	ck_tar_equal(child.chain_id, &c);
	struct tt_tar *g = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 512);
	tt_tar_gzip(g);
	tt_file(g, "zipped", 0644, "compressed layer\n");
	struct tt_buf gz;
	tt_tar_finish(g, &gz);
	struct st_layer z;
	reg_ok(child.chain_id, &gz, "h", &z);
	struct tt_memwriter w;
	struct st_error err = {0};
	ST_OK(st_layer_tar(store, z.chain_id, tt_memwriter(&w), &err), &err);
	char d[ST_DIGEST_LEN + 1];
	tt_sha256(w.buf.data, w.buf.len, d);
	ck_assert_str_eq(d, z.diff_id);
	ck_assert_int_eq(w.buf.len, z.tar_size);
	ck_assert(w.buf.data[0] != 0x1f); /* the uncompressed tar */
	tt_buf_free(&w.buf);
	st_layer_free(&base);
	st_layer_free(&child);
	st_layer_free(&z);
	tt_buf_free(&t);
	tt_buf_free(&c);
	tt_buf_free(&gz);
}
END_TEST

START_TEST(test_bad_input_leaves_nothing_behind)
{
	struct st_error err = {0};
	struct st_layer l;
	char junk[5000];
	memset(junk, 'j', sizeof(junk));
	struct tt_buf bad = {.data = (unsigned char *)junk, .len = sizeof(junk)};
	ck_assert_int_lt(reg(NULL, &bad, "h", &l, &err), 0);
	ck_assert_msg(err.msg[0], "no message");
	struct tt_buf t;
	base_tar(&t, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	struct tt_buf cut = {.data = t.data, .len = 1100}; /* inside etc/os-release */
	ck_assert_int_lt(reg(NULL, &cut, "h", &l, &err), 0);
	ck_assert_int_lt(reg("sha256:0000000000000000000000000000000000000000000000000000000000000000", &t, "h", &l, &err), 0);
	ck_assert_int_eq(reg("not-a-digest", &t, "h", &l, &err), -EINVAL);
	ck_assert_int_eq(reg(NULL, &t, "", &l, &err), -EINVAL);
	ck_assert_int_eq(count_layers(), 0);
	ck_assert_int_eq(driver_layers(), 0);
	ck_assert_int_eq(st_layer_get(store, "sha256:xyz", &l, &err), -EINVAL);
	ck_assert_int_eq(st_layer_get(store, "sha256:1111111111111111111111111111111111111111111111111111111111111111", &l, &err),
			 -ENOENT);
	tt_buf_free(&t);
}
END_TEST

/* A registration killed with SIGKILL in the middle of its tar: the next
 * open finds no layer, no driver layer, no temporary directory, no lease. */
START_TEST(test_store_killed_mid_register_reopens_clean)
{
	struct tt_tar *tt = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	static char big[1 << 20];
	memset(big, 'b', sizeof(big));
	tt_file(tt, "first", 0644, "first\n");
	tt_file_data(tt, "big", 0644, big, sizeof(big), NULL);
	struct tt_buf t;
	tt_tar_finish(tt, &t);
	st_store_close(store);
	store = NULL;

	int pfd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(pfd[1]);
		struct st_error err = {0};
		struct st_store_config cfg = {.root = root, .driver = "vfs"};
		if (st_store_open(&cfg, &store, &err) < 0)
			_exit(3);
		int in = pfd[0];
		struct st_reader r;
		st_reader_fd(&r, &in);
		struct st_layer l;
		st_layer_register(store, NULL, &r, "h", &l, &err);
		_exit(4); /* not reached: killed while reading */
	}
	close(pfd[0]);
	/* half the tar, then wait until the driver layer is being filled */
	ck_assert_int_eq(write(pfd[1], t.data, t.len / 2), (ssize_t)(t.len / 2));
	char probe[PATH_MAX];
	bool started = false;
	for (int i = 0; i < 1000 && !started; i++) {
		snprintf(probe, sizeof(probe), "find '%s/vfs/dir' -name first 2>/dev/null | grep -q .", root);
		started = st_test_sh("%s", probe) == 0;
		if (!started)
			usleep(10000);
	}
	ck_assert_msg(started, "the registration never started applying");
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	ck_assert(WIFSIGNALED(status));
	close(pfd[1]);

	open_store();
	ck_assert_int_eq(count_layers(), 0);
	ck_assert_int_eq(driver_layers(), 0);
	ck_assert_msg(st_test_sh("test -z \"$(ls -A '%s/layers' '%s/leases' 2>/dev/null | grep -v -e ':$' -e '^$')\"", root,
				 root) == 0,
		      "leftovers in layers/ or leases/");
	/* and the same tar registers fine now */
	struct st_layer l;
	reg_ok(NULL, &t, "h", &l);
	ck_tar_equal(l.chain_id, &t);
	ck_assert_int_eq(driver_layers(), 1);
	st_layer_free(&l);
	tt_buf_free(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("layer_store");
	TCase *tc = tcase_create("layer_store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_register_computes_diff_and_chain_ids);
	tcase_add_test(tc, test_same_chain_id_is_stored_once);
	tcase_add_test(tc, test_release_cascades_to_unreferenced_parents);
	tcase_add_test(tc, test_layer_tar_given_back_byte_for_byte);
	tcase_add_test(tc, test_bad_input_leaves_nothing_behind);
	tcase_add_test(tc, test_store_killed_mid_register_reopens_clean);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
