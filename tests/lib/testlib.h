/* Helpers for the Check suites. A test that cannot run here calls
 * ST_SKIP("why"): it prints "SKIP <test>: why" (counted by tests/run.sh)
 * and returns without failing. */
#ifndef ST_TESTLIB_H
#define ST_TESTLIB_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "strata.h"

#define ST_SKIP(...)                                                   \
	do {                                                           \
		printf("SKIP %s: ", __func__);                         \
		printf(__VA_ARGS__);                                   \
		printf("\n");                                          \
		fflush(stdout);                                        \
		return;                                                \
	} while (0)

/* ck_assert that an st_* call returned >= 0, showing err.msg if not. */
#define ST_OK(call, err)                                                              \
	do {                                                                          \
		long long _r = (long long)(call);                                     \
		ck_assert_msg(_r >= 0, "%s failed (%lld): %s", #call, _r, (err)->msg); \
	} while (0)

/* A fresh directory under $STRATA_TEST_TMP (default /tmp); removed by
 * st_test_rmtree. */
char *st_test_mkdtemp(const char *tag);
/* A vfs store at <a new temp dir>/store: the dir in *tmp (st_test_rmtree and
 * free it), the root's path in root (4096 bytes) when not NULL. */
struct st_store *st_test_vfs_store(const char *tag, char **tmp, char *root);
void st_test_rmtree(const char *path);
/* Run a shell command; returns its exit status (or -1). */
int st_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write a file (mkdir -p of its parent), mode 0644. */
void st_test_write(const char *root, const char *rel, const char *content);
/* The file's content (malloc'd) or NULL. */
char *st_test_read(const char *root, const char *rel);
bool st_test_exists(const char *root, const char *rel);
/* Run the suite with CK_NORMAL output; returns the process exit code. */
int st_test_main(Suite *s);

#endif
