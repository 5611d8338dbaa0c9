/* Helpers for the Check suites. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

char *st_test_mkdtemp(const char *tag)
{
	const char *base = getenv("STRATA_TEST_TMP");
	char *p = NULL;
	if (asprintf(&p, "%s/strata-%s-XXXXXX", base && *base ? base : "/tmp", tag) < 0)
		return NULL;
	if (!mkdtemp(p)) {
		free(p);
		return NULL;
	}
	return p;
}

void st_test_rmtree(const char *path)
{
	if (path && *path && strcmp(path, "/") != 0)
		st_test_sh("rm -rf --one-file-system '%s'", path);
}

int st_test_sh(const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	int r = system(cmd);
	free(cmd);
	return r == -1 ? -1 : WEXITSTATUS(r);
}

void st_test_write(const char *root, const char *rel, const char *content)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	st_test_sh("mkdir -p '%s'", path);
	*slash = '/';
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "write %s: %s", path, strerror(errno));
	fputs(content, f);
	fclose(f);
}

char *st_test_read(const char *root, const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

bool st_test_exists(const char *root, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return lstat(path, &st) == 0;
}

int st_test_main(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

struct st_store *st_test_vfs_store(const char *tag, char **tmp, char *root)
{
	*tmp = st_test_mkdtemp(tag);
	ck_assert_ptr_nonnull(*tmp);
	char path[4096];
	snprintf(path, sizeof(path), "%s/store", *tmp);
	if (root)
		snprintf(root, 4096, "%s", path);
	struct st_error err = {0};
	struct st_store_config cfg = {.root = path, .driver = "vfs"};
	struct st_store *s = NULL;
	ST_OK(st_store_open(&cfg, &s, &err), &err);
	return s;
}
