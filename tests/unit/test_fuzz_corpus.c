/* The fuzz harnesses of tests/fuzz/, replayed on their corpus
 * (tests/fuzz/corpus/NAME/) and their regressions (tests/fuzz/regress/NAME/:
 * every input a fuzzer ever crashed on) in the normal build, with gcc or
 * clang, under the sanitizers with SAN=1: a crash found once stays fixed.
 * Each harness checks its invariants with abort(). Runs from the source
 * tree's root (as tests/run.sh does). */
#include <dirent.h>

#include "testlib.h"

#define LLVMFuzzerTestOneInput fuzz_dockerfile_one
#include "../fuzz/fuzz_dockerfile.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_layer_apply_one
#include "../fuzz/fuzz_layer_apply.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_image_config_one
#include "../fuzz/fuzz_image_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_image_load_one
#include "../fuzz/fuzz_image_load.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_format_one
#include "../fuzz/fuzz_format.c"
#undef LLVMFuzzerTestOneInput

typedef int (*harness_fn)(const uint8_t *data, size_t size);

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	ck_assert_ptr_nonnull(buf);
	*len = n;
	return buf;
}

/* Every file of tests/fuzz/SUB/NAME/ through fn; returns how many. */
static int replay_dir(const char *sub, const char *name, harness_fn fn)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "tests/fuzz/%s/%s", sub, name);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char p[PATH_MAX + 256];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		size_t len;
		char *data = read_all(p, &len);
		printf("  replay %s\n", p);
		fflush(stdout);
		fn((const uint8_t *)data, len); /* aborts on a broken invariant */
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

static void replay(const char *name, harness_fn fn)
{
	struct stat st;
	if (stat("tests/fuzz/corpus", &st) < 0)
		ST_SKIP("run from the source tree's root (tests/fuzz/corpus not found)");
	int n = replay_dir("corpus", name, fn);
	n += replay_dir("regress", name, fn);
	ck_assert_msg(n > 0, "no corpus for the %s harness in tests/fuzz/corpus/%s", name, name);
	fz_cleanup();
}

START_TEST(test_dockerfile_corpus_and_regressions_hold)
{
	replay("dockerfile", fuzz_dockerfile_one);
}
END_TEST

START_TEST(test_layer_apply_corpus_and_regressions_hold)
{
	replay("layer_apply", fuzz_layer_apply_one);
}
END_TEST

START_TEST(test_image_config_corpus_and_regressions_hold)
{
	replay("image_config", fuzz_image_config_one);
}
END_TEST

START_TEST(test_image_load_corpus_and_regressions_hold)
{
	replay("image_load", fuzz_image_load_one);
}
END_TEST

START_TEST(test_format_corpus_and_regressions_hold)
{
	replay("format", fuzz_format_one);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fuzz_corpus");
	TCase *tc = tcase_create("replay");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_dockerfile_corpus_and_regressions_hold);
	tcase_add_test(tc, test_layer_apply_corpus_and_regressions_hold);
	tcase_add_test(tc, test_image_config_corpus_and_regressions_hold);
	tcase_add_test(tc, test_image_load_corpus_and_regressions_hold);
	tcase_add_test(tc, test_format_corpus_and_regressions_hold);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return st_test_main(suite());
}
