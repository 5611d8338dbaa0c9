/* core/archive/tarsplit.c: a tar recorded while it is applied comes back byte for
 * byte from the records and the applied files: pax headers, GNU long names,
 * sparse entries, trailing padding of any length, compressed input. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/archive.h"
#include "tartest.h"
#include "testlib.h"

static char *tmp;

static void setup(void)
{
	tmp = st_test_mkdtemp("tarsplit");
	ck_assert_ptr_nonnull(tmp);
}

static void teardown(void)
{
	st_test_rmtree(tmp);
	free(tmp);
}

/* Apply `in` (maybe compressed) to a fresh directory while recording, then
 * replay; the result must be `want` (the uncompressed tar) exactly, and the
 * diff id its sha256. */
static void round_trip(const struct tt_buf *in, const struct tt_buf *want, const char *what)
{
	static int n;
	char root[PATH_MAX], rec[PATH_MAX];
	snprintf(root, sizeof(root), "%s/root%d", tmp, n);
	snprintf(rec, sizeof(rec), "%s/rec%d.gz", tmp, n++);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int recfd = open(rec, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct st_tarsplit *ts;
	ck_assert_int_eq(st_tarsplit_new(recfd, &ts), 0);
	struct st_error err = {0};
	struct tt_memreader m;
	struct st_tar_in tin;
	ST_OK(st_tar_in_init(&tin, tt_memreader(&m, in->data, in->len, 3000), &err), &err);
	tin.ts = ts;
	struct st_apply_opts o = {.wh = ST_WH_DELETE};
	int64_t r = st_archive_apply(rootfd, &tin, &o, &err);
	ck_assert_msg(r >= 0, "%s: apply: %s", what, err.msg);
	ck_assert_int_eq(st_tarsplit_close(ts), 0);
	ck_assert_int_eq(tin.pos, (int64_t)want->len);
	char digest[ST_DIGEST_LEN + 1];
	tt_sha256(want->data, want->len, digest);
	ck_assert_str_eq(tin.diff_id, digest);
	st_tar_in_free(&tin);

	ck_assert_int_eq(lseek(recfd, 0, SEEK_SET), 0);
	struct tt_memwriter w;
	ST_OK(st_tarsplit_replay(recfd, rootfd, tt_memwriter(&w), &err), &err);
	ck_assert_msg(w.buf.len == want->len, "%s: replay gave %zu bytes, the tar had %zu", what, w.buf.len,
		      want->len);
	size_t k = 0;
	while (k < want->len && w.buf.data[k] == want->data[k])
		k++;
	ck_assert_msg(k == want->len, "%s: replay differs from byte %zu on", what, k);
	tt_buf_free(&w.buf);
	close(recfd);
	close(rootfd);
}

static void fill(struct tt_tar *t)
{
	static char big[200000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 1000);
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[150] = '/';
	longname[sizeof(longname) - 1] = '\0';
	struct tt_attr xa = {.xattr_name = {"user.a", "security.capability"},
			     .xattr_val = {"value", "\x01\0\0\x02\0\x04\0\0\0\0\0\0\0\0\0\0\0\0\0\0"},
			     .xattr_len = {5, 20}};
	tt_dir(t, "dir", 0755);
	tt_file(t, "dir/small", 0644, "small file\n");
	tt_file_data(t, "dir/big", 0600, big, sizeof(big), NULL);
	tt_file(t, "empty", 0644, "");
	tt_file_data(t, "xattrs", 0644, "x", 1, &xa);
	tt_file(t, longname, 0644, "a file with a long name\n");
	tt_symlink(t, "link", "dir/small");
	tt_hardlink(t, "hard", "dir/small");
	tt_file(t, "dir/.wh.nothing", 0, "");
	tt_file(t, "trailing", 0644, "odd length 17 b\n");
	/* a file reached through a symlink of the layer is recorded where it really is */
	tt_symlink(t, "dirlink", "dir");
	tt_file(t, "dirlink/through-link", 0644, "written through dirlink\n");
}

START_TEST(test_pax_tar_with_xattrs_and_long_names)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	fill(t);
	struct tt_buf b;
	tt_tar_finish(t, &b);
	round_trip(&b, &b, "pax");
	tt_buf_free(&b);
	t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE, -1); /* pax headers on every entry (times) */
	fill(t);
	tt_tar_finish(t, &b);
	round_trip(&b, &b, "pax interchange");
	tt_buf_free(&b);
}
END_TEST

START_TEST(test_gnu_tar_with_long_names)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_GNUTAR, -1);
	tt_dir(t, "dir", 0755);
	char longname[400], longlink[400];
	memset(longname, 'g', sizeof(longname) - 1);
	for (size_t i = 100; i < sizeof(longname) - 1; i += 101)
		longname[i] = '/';
	longname[sizeof(longname) - 1] = '\0';
	memset(longlink, 't', sizeof(longlink) - 1);
	longlink[sizeof(longlink) - 1] = '\0';
	tt_file(t, longname, 0644, "gnu long name\n");
	tt_symlink(t, "dir/long-target", longlink);
	tt_hardlink(t, "dir/hard", longname);
	tt_file(t, "dir/after", 0644, "after\n");
	struct tt_buf b;
	tt_tar_finish(t, &b);
	ck_assert_ptr_nonnull(memmem(b.data, b.len, "././@LongLink", 13));
	round_trip(&b, &b, "gnu");
	tt_buf_free(&b);
}
END_TEST

START_TEST(test_sparse_entries)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	int64_t offs[] = {4096, 1 << 20}, lens[] = {100, 5000};
	tt_file(t, "before", 0644, "before\n");
	tt_sparse(t, "holes", 3 << 20, offs, lens, 2, 's');
	tt_file(t, "after", 0644, "after\n");
	struct tt_buf b;
	tt_tar_finish(t, &b);
	round_trip(&b, &b, "sparse");
	tt_buf_free(&b);
}
END_TEST

START_TEST(test_trailing_padding_of_any_length)
{
	/* blocking 512, 10240 (the default) and 0, then extra zeros or bytes
	 * after the end-of-archive blocks */
	int blocks[] = {512, -1, 0, 2048};
	for (size_t i = 0; i < 4; i++) {
		struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, blocks[i]);
		fill(t);
		struct tt_buf b;
		tt_tar_finish(t, &b);
		char what[64];
		snprintf(what, sizeof(what), "blocking %d", blocks[i]);
		round_trip(&b, &b, what);
		static const char zeros[7000];
		size_t extra[] = {1, 511, 512, 1024, 7000};
		for (size_t k = 0; k < 5; k++) {
			struct tt_buf p = {0};
			tt_buf_add(&p, b.data, b.len);
			tt_buf_add(&p, zeros, extra[k]);
			snprintf(what, sizeof(what), "blocking %d + %zu zero bytes", blocks[i], extra[k]);
			round_trip(&p, &p, what);
			tt_buf_free(&p);
		}
		tt_buf_free(&b);
	}
}
END_TEST

/* The uncompressed bytes of a compressed stream, through libarchive. */
static void gunzip(const struct tt_buf *gz, struct tt_buf *out)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	ck_assert_int_eq(archive_read_open_memory(a, gz->data, gz->len), ARCHIVE_OK);
	struct archive_entry *e;
	ck_assert_int_eq(archive_read_next_header(a, &e), ARCHIVE_OK);
	memset(out, 0, sizeof(*out));
	char buf[65536];
	la_ssize_t n;
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
		tt_buf_add(out, buf, (size_t)n);
	ck_assert_int_eq(n, 0);
	archive_read_free(a);
}

START_TEST(test_gzip_input_gives_back_the_uncompressed_tar)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, -1);
	tt_tar_gzip(t);
	fill(t);
	struct tt_buf gz, plain;
	tt_tar_finish(t, &gz);
	ck_assert(gz.data[0] == 0x1f && gz.data[1] == 0x8b);
	gunzip(&gz, &plain);
	ck_assert_int_gt(plain.len, gz.len);
	round_trip(&gz, &plain, "gzip");
	tt_buf_free(&plain);
	tt_buf_free(&gz);
}
END_TEST

START_TEST(test_replay_notices_a_changed_file)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	tt_file(t, "f", 0644, "original\n");
	struct tt_buf b;
	tt_tar_finish(t, &b);
	round_trip(&b, &b, "one file");
	/* root0 holds "f", rec0.gz its records: shrink the file */
	char root[PATH_MAX], rec[PATH_MAX];
	snprintf(root, sizeof(root), "%s/root0", tmp);
	snprintf(rec, sizeof(rec), "%s/rec0.gz", tmp);
	st_test_write(root, "f", "changed");
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), recfd = open(rec, O_RDONLY | O_CLOEXEC);
	struct tt_memwriter w;
	struct st_error err = {0};
	ck_assert_int_lt(st_tarsplit_replay(recfd, rootfd, tt_memwriter(&w), &err), 0);
	ck_assert_msg(strstr(err.msg, "\"f\"") != NULL, "%s", err.msg);
	tt_buf_free(&w.buf);
	/* damaged records are an error, not a wrong tar */
	close(recfd);
	recfd = open(rec, O_RDWR | O_TRUNC | O_CLOEXEC);
	ck_assert_int_eq(write(recfd, "garbage", 7), 7);
	lseek(recfd, 0, SEEK_SET);
	ck_assert_int_lt(st_tarsplit_replay(recfd, rootfd, tt_memwriter(&w), &err), 0);
	tt_buf_free(&w.buf);
	close(recfd);
	close(rootfd);
	tt_buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tarsplit");
	TCase *tc = tcase_create("tarsplit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pax_tar_with_xattrs_and_long_names);
	tcase_add_test(tc, test_gnu_tar_with_long_names);
	tcase_add_test(tc, test_sparse_entries);
	tcase_add_test(tc, test_trailing_padding_of_any_length);
	tcase_add_test(tc, test_gzip_input_gives_back_the_uncompressed_tar);
	tcase_add_test(tc, test_replay_notices_a_changed_file);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
