/* core/base/error.c: the error chain, key=value lists, size parsing and
 * printing, ids and digests. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "testlib.h"

START_TEST(test_error_chain_reads_outer_to_inner)
{
	struct st_error err = {0};
	int r = st_error_set(&err, ENOENT, "open \"%s\"", "/x/y");
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_int_eq(err.code, ENOENT);
	ck_assert_str_eq(err.msg, "open \"/x/y\": No such file or directory");
	r = st_error_wrap(&err, "layer %s", "abc");
	ck_assert_int_eq(r, -ENOENT);
	r = st_error_wrap(&err, "register");
	ck_assert_str_eq(err.msg, "register: layer abc: open \"/x/y\": No such file or directory");
	ck_assert_int_eq(err.code, ENOENT);
	/* bad input: no errno words */
	r = st_error_fail(&err, EINVAL, "invalid id \"%s\"", "..");
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_str_eq(err.msg, "invalid id \"..\"");
	/* negative errnos are taken as positive; 0 becomes EIO without text */
	ck_assert_int_eq(st_error_set(&err, -EBUSY, "busy"), -EBUSY);
	ck_assert_str_eq(err.msg, "busy: Device or resource busy");
	ck_assert_int_eq(st_error_set(&err, 0, "odd"), -EIO);
	ck_assert_str_eq(err.msg, "odd");
	/* no error object: still the code */
	ck_assert_int_eq(st_error_set(NULL, EPERM, "x"), -EPERM);
	ck_assert_int_eq(st_error_fail(NULL, EPERM, "x"), -EPERM);
	st_error_clear(&err);
	ck_assert_int_eq(err.code, 0);
	ck_assert_str_eq(err.msg, "");
}
END_TEST

START_TEST(test_error_wrap_never_overflows)
{
	struct st_error err = {0};
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	st_error_set(&err, EIO, "%s", big);
	for (int i = 0; i < 10; i++)
		st_error_wrap(&err, "context %d %s", i, big);
	ck_assert_int_lt(strlen(err.msg), sizeof(err.msg));
	ck_assert(st_str_has_prefix(err.msg, "context 9 "));
	ck_assert_int_eq(err.code, EIO);
	/* wrapping a cleared error still gives a code */
	st_error_clear(&err);
	ck_assert_int_eq(st_error_wrap(&err, "ctx"), -EIO);
}
END_TEST

START_TEST(test_kv_parse)
{
	struct st_kvlist l = {0};
	struct st_error err = {0};
	ck_assert_int_eq(st_kvlist_parse(&l, "size=10G", &err), 0);
	ck_assert_int_eq(st_kvlist_parse(&l, "Mount.Opt=a=b,c", &err), 0);
	ck_assert_int_eq(st_kvlist_parse(&l, "empty=", &err), 0);
	ck_assert_int_eq(st_kvlist_parse(&l, "size=20G", &err), 0);
	ck_assert_str_eq(st_kvlist_get(&l, "size"), "20G"); /* the last one wins */
	ck_assert_str_eq(st_kvlist_get(&l, "mount.opt"), "a=b,c"); /* keys are case-insensitive */
	ck_assert_str_eq(st_kvlist_get(&l, "empty"), "");
	ck_assert_ptr_null(st_kvlist_get(&l, "missing"));
	ck_assert_ptr_null(st_kvlist_get(NULL, "size"));
	ck_assert_int_eq(l.n, 4);
	ck_assert_int_eq(st_kvlist_parse(&l, "novalue", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "invalid option \"novalue\": expected key=value"); /* bad input: no errno words */
	ck_assert_int_eq(st_kvlist_parse(&l, "=value", &err), -EINVAL);
	ck_assert_int_eq(st_kvlist_parse(&l, "", &err), -EINVAL);
	ck_assert_int_eq(l.n, 4);
	st_kvlist_free(&l);
	ck_assert_int_eq(l.n, 0);
	st_kvlist_free(&l);
}
END_TEST

START_TEST(test_size_parse)
{
	static const struct {
		const char *in;
		int64_t want;
	} ok[] = {
		{"0", 0},
		{"4096", 4096},
		{"10b", 10},
		{"1k", 1024},
		{"1K", 1024},
		{"1kb", 1024},
		{"1KiB", 1024},
		{"512M", 512LL << 20},
		{"10G", 10LL << 30},
		{"10g", 10LL << 30},
		{"10GB", 10LL << 30},
		{"1.5G", 3LL << 29},
		{"2T", 2LL << 40},
		{"1P", 1LL << 50},
		{"10 G", 10LL << 30}, /* as docker's units.RAMInBytes */
	};
	for (size_t i = 0; i < ST_ARRAY_SIZE(ok); i++) {
		int64_t v = -1;
		ck_assert_msg(st_parse_size(ok[i].in, &v) == 0, "\"%s\" rejected", ok[i].in);
		ck_assert_msg(v == ok[i].want, "\"%s\" -> %lld, expected %lld", ok[i].in, (long long)v,
			      (long long)ok[i].want);
	}
	static const char *const bad[] = {"", "abc", "-1", "-1G", "1x", "G", "1GG", "1Gx", "10Bb", " 5",
					  "inf", "nan", "infinity", "1e3", "0x10", "99999999999999999999",
					  "9999999P", "1.", ".5", "1..5"};
	for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
		int64_t v = 42;
		ck_assert_msg(st_parse_size(bad[i], &v) == -EINVAL, "\"%s\" accepted (%lld)", bad[i], (long long)v);
		ck_assert_msg(v == 42, "\"%s\": output written on failure", bad[i]);
	}
}
END_TEST

START_TEST(test_size_format_as_docker)
{
	char buf[32];
	st_format_size(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0B");
	st_format_size(999, buf, sizeof(buf));
	ck_assert_str_eq(buf, "999B");
	st_format_size(1000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1kB");
	st_format_size(12345678, buf, sizeof(buf));
	ck_assert_str_eq(buf, "12.3MB");
	st_format_size(5LL * 1000 * 1000 * 1000 * 1000 * 1000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "5PB");
	st_format_size(INT64_MAX, buf, sizeof(buf));
	ck_assert_str_eq(buf, "9.22EB");
}
END_TEST

START_TEST(test_ids_and_digests)
{
	ck_assert(st_valid_id("abc"));
	ck_assert(st_valid_id("0a_b.c-d"));
	ck_assert(!st_valid_id(""));
	ck_assert(!st_valid_id(NULL));
	ck_assert(!st_valid_id(".x"));
	ck_assert(!st_valid_id("a/b"));
	ck_assert(!st_valid_id(".."));
	char long_id[130];
	memset(long_id, 'a', 129);
	long_id[129] = '\0';
	ck_assert(!st_valid_id(long_id));
	long_id[128] = '\0';
	ck_assert(st_valid_id(long_id));

	char d[ST_DIGEST_LEN + 1];
	ck_assert_int_eq(st_sha256_buf("", 0, d), 0);
	ck_assert_str_eq(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert(st_valid_digest(d));
	ck_assert(!st_valid_digest("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
	ck_assert(!st_valid_digest("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	ck_assert(!st_valid_digest("sha256:e3b0"));
	/* ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n)) */
	char c[ST_DIGEST_LEN + 1], want[ST_DIGEST_LEN + 1], buf[200];
	ck_assert_int_eq(st_chain_id("", d, c), 0);
	ck_assert_str_eq(c, d);
	ck_assert_int_eq(st_chain_id(d, d, c), 0);
	snprintf(buf, sizeof(buf), "%s %s", d, d);
	st_sha256_buf(buf, strlen(buf), want);
	ck_assert_str_eq(c, want);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");
	tcase_add_test(tc, test_error_chain_reads_outer_to_inner);
	tcase_add_test(tc, test_error_wrap_never_overflows);
	tcase_add_test(tc, test_kv_parse);
	tcase_add_test(tc, test_size_parse);
	tcase_add_test(tc, test_size_format_as_docker);
	tcase_add_test(tc, test_ids_and_digests);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
