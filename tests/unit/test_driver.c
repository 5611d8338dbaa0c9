/* core/store/driver*.c over vfs: mount counts that outlive the process, recovery
 * of a create killed half way, probes that leave nothing behind, option
 * checks, records (parent, rw, commit). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "store/store.h"
#include "testlib.h"

static char *tmp;
static char home[PATH_MAX];

static void setup(void)
{
	tmp = st_test_mkdtemp("driver");
	ck_assert_ptr_nonnull(tmp);
	snprintf(home, sizeof(home), "%s/vfs", tmp);
}

static void teardown(void)
{
	st_test_rmtree(tmp);
	free(tmp);
}

static struct st_driver *open_vfs(void)
{
	struct st_driver *d;
	struct st_error err = {0};
	ST_OK(st_driver_open("vfs", home, NULL, &d, &err), &err);
	return d;
}

START_TEST(test_mount_count_outlives_the_process)
{
	struct st_driver *d = open_vfs();
	struct st_error err = {0};
	ST_OK(st_drv_create(d, "l", NULL, true, NULL, &err), &err);
	st_driver_close(d);
	pid_t pid = fork();
	if (pid == 0) {
		struct st_driver *c = open_vfs();
		char p[PATH_MAX];
		struct st_error e = {0};
		_exit(st_drv_get(c, "l", p, sizeof(p), &e) < 0 ? 1 : 0); /* no put: the process just ends */
	}
	int status;
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	d = open_vfs();
	ck_assert_int_eq(st_drv_mount_count(d, "l"), 1);
	ck_assert_int_lt(st_drv_remove(d, "l", &err), 0);
	ck_assert_int_lt(st_drv_commit(d, "l", &err), 0);
	ST_OK(st_drv_put(d, "l", &err), &err);
	ck_assert_int_eq(st_drv_mount_count(d, "l"), 0);
	ck_assert_int_lt(st_drv_put(d, "l", &err), 0);
	ck_assert_msg(strstr(err.msg, "not mounted") != NULL, "%s", err.msg);
	ST_OK(st_drv_remove(d, "l", &err), &err);
	st_driver_close(d);
}
END_TEST

START_TEST(test_create_killed_half_way_is_recovered)
{
	struct st_driver *d = open_vfs();
	struct st_error err = {0};
	ST_OK(st_drv_create(d, "big", NULL, true, NULL, &err), &err);
	char p[PATH_MAX];
	ST_OK(st_drv_get(d, "big", p, sizeof(p), &err), &err);
	ck_assert_int_eq(st_test_sh("cd '%s' && for i in $(seq 1 300); do mkdir d$i; for j in $(seq 1 20); do echo $i$j > d$i/f$j; done; done", p), 0);
	ST_OK(st_drv_put(d, "big", &err), &err);
	ST_OK(st_drv_commit(d, "big", &err), &err);
	st_driver_close(d);
	pid_t pid = fork();
	if (pid == 0) {
		struct st_driver *c = open_vfs();
		struct st_error e = {0};
		st_drv_create(c, "half", "big", false, NULL, &e);
		_exit(0);
	}
	/* kill it once the copy has begun */
	char probe[PATH_MAX];
	snprintf(probe, sizeof(probe), "%s/dir/half/d1", home);
	for (int i = 0; i < 2000 && access(probe, F_OK) != 0; i++)
		usleep(1000);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status))
		ST_SKIP("the copy finished before it could be killed");
	d = open_vfs();
	ck_assert(!st_drv_exists(d, "half"));
	ST_OK(st_drv_recover(d, &err), &err);
	ck_assert(!st_drv_exists(d, "half"));
	snprintf(probe, sizeof(probe), "%s/dir/half", home);
	ck_assert_msg(access(probe, F_OK) != 0, "the half-made layer is still on disk");
	char **ids;
	size_t n;
	ST_OK(st_drv_list(d, &ids, &n, &err), &err);
	ck_assert_int_eq(n, 1);
	st_strv_free(ids, n);
	/* no child record is left to block the parent's removal, and the id is free */
	ST_OK(st_drv_create(d, "half", "big", false, NULL, &err), &err);
	ST_OK(st_drv_remove(d, "half", &err), &err);
	ST_OK(st_drv_remove(d, "big", &err), &err);
	st_driver_close(d);
}
END_TEST

START_TEST(test_probe_leaves_nothing_and_open_checks_names_and_options)
{
	char reason[256];
	char probe_home[PATH_MAX];
	snprintf(probe_home, sizeof(probe_home), "%s/probe-home", tmp);
	size_t n;
	const struct st_driver_ops *const *reg = st_driver_registry(&n);
	for (size_t i = 0; i < n; i++) {
		int r = st_driver_probe(reg[i]->name, probe_home, reason, sizeof(reason));
		ck_assert_msg(r == 0 || reason[0], "%s: unsupported without a reason", reg[i]->name);
		ck_assert_msg(access(probe_home, F_OK) != 0, "probing %s left %s behind", reg[i]->name, probe_home);
	}
	ck_assert_int_eq(st_driver_probe("no-such-driver", probe_home, reason, sizeof(reason)), -EINVAL);
	ck_assert_ptr_null(st_driver_lookup("no-such-driver"));
	ck_assert_ptr_nonnull(st_driver_lookup("vfs"));
	struct st_driver *d;
	struct st_error err = {0};
	ck_assert_int_eq(st_driver_open("no-such-driver", home, NULL, &d, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "no-such-driver") != NULL, "%s", err.msg);
	struct st_kvlist o = {0};
	st_kvlist_add(&o, "bogus", "1");
	ck_assert_int_eq(st_driver_open("vfs", home, &o, &d, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "bogus") != NULL, "%s", err.msg);
	st_kvlist_free(&o);
	/* the home is private */
	d = open_vfs();
	struct stat st;
	ck_assert_int_eq(stat(home, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	st_driver_close(d);
}
END_TEST

START_TEST(test_records_parent_rw_and_commit)
{
	struct st_driver *d = open_vfs();
	struct st_error err = {0};
	ST_OK(st_drv_create(d, "base", NULL, false, NULL, &err), &err);
	ST_OK(st_drv_create(d, "rw", "base", true, NULL, &err), &err);
	char parent[130];
	ST_OK(st_drv_parent(d, "rw", parent, sizeof(parent), &err), &err);
	ck_assert_str_eq(parent, "base");
	ST_OK(st_drv_parent(d, "base", parent, sizeof(parent), &err), &err);
	ck_assert_str_eq(parent, "");
	ck_assert_int_lt(st_drv_parent(d, "nope", parent, sizeof(parent), &err), 0);
	ck_assert(st_drv_is_rw(d, "rw"));
	ck_assert(!st_drv_is_rw(d, "base"));
	ST_OK(st_drv_commit(d, "rw", &err), &err);
	ck_assert(!st_drv_is_rw(d, "rw"));
	ST_OK(st_drv_commit(d, "rw", &err), &err); /* committed already: nothing to do */
	/* read-only layers take no size */
	struct st_kvlist o = {0};
	st_kvlist_add(&o, "size", "1G");
	ck_assert_int_lt(st_drv_create(d, "sized", NULL, false, &o, &err), 0);
	st_kvlist_free(&o);
	/* diff-size of a layer against an unrelated layer: both must exist */
	ck_assert_int_lt(st_drv_diff_size(d, "rw", "nope", &err), 0);
	ck_assert_int_lt(st_drv_changes(d, "nope", NULL, &(struct st_changes){0}, &err), 0);
	st_driver_close(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("driver");
	TCase *tc = tcase_create("driver");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mount_count_outlives_the_process);
	tcase_add_test(tc, test_create_killed_half_way_is_recovered);
	tcase_add_test(tc, test_probe_leaves_nothing_and_open_checks_names_and_options);
	tcase_add_test(tc, test_records_parent_rw_and_commit);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
