/* The volume store's contract with drivers, seen through a driver that
 * records what it is asked (registered in-process, as an embedder would):
 * names, mount counting per mount id (first mount, last unmount) kept on
 * disk across store reopenings, remove refused while held, a kill -9 in
 * the middle of create or remove rolled back by the next user, stale
 * holders after a reboot, and the registry's checks on drivers. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

/* ---------------------------------------------------- recording driver */

static int rec_mounts, rec_unmounts, rec_removes;

/* "slowmk*" volumes make their directory, then wait: a window for kill -9 */
static void rec_slow(const char *name)
{
	if (strncmp(name, "slowmk", 6) == 0)
		sleep(30);
}

static int rec_create(struct st_volume_driver *vd, const char *name, const struct st_kvlist *opts,
		      struct st_error *err)
{
	if (st_kvlist_get(opts, "fail"))
		return st_error_fail(err, EIO, "rec: asked to fail creating \"%s\"", name);
	if (mkdirat(vd->home_fd, name, 0755) < 0)
		return st_error_set(err, errno, "rec: create \"%s\"", name);
	rec_slow(name);
	return 0;
}

static int rec_remove(struct st_volume_driver *vd, const char *name, struct st_error *err)
{
	rec_removes++;
	if (strncmp(name, "slowrm", 6) == 0) {
		/* half removed: a marker goes first, then the wait */
		char m[300];
		snprintf(m, sizeof(m), "%s/.half", name);
		close(openat(vd->home_fd, m, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
		if (getenv("REC_SLOW_RM"))
			sleep(30);
		unlinkat(vd->home_fd, m, 0);
	}
	if (unlinkat(vd->home_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return st_error_set(err, errno, "rec: remove \"%s\"", name);
	return 0;
}

static int rec_path(struct st_volume_driver *vd, const char *name, char *path, size_t len, struct st_error *err)
{
	snprintf(path, len, "%s/%s", vd->home, name);
	return 0;
}

static int rec_mount(struct st_volume_driver *vd, const char *name, const char *id, char *path, size_t len,
		     struct st_error *err)
{
	rec_mounts++;
	return rec_path(vd, name, path, len, err);
}

static int rec_unmount(struct st_volume_driver *vd, const char *name, const char *id, struct st_error *err)
{
	rec_unmounts++;
	return 0;
}

static int rec_get(struct st_volume_driver *vd, const char *name, struct st_kvlist *status, struct st_error *err)
{
	struct stat st;
	if (fstatat(vd->home_fd, name, &st, 0) < 0)
		return st_error_fail(err, ENOENT, "rec: no such volume: %s", name);
	return 0;
}

static int rec_list(struct st_volume_driver *vd, char ***names, size_t *n, struct st_error *err)
{
	*names = NULL;
	*n = 0;
	return 0;
}

static const char *const rec_options[] = {"fail", NULL};

static const struct st_volume_driver_ops rec_ops = {
	.name = "rec",
	.abi = ST_VOLUME_ABI,
	.create_options = rec_options,
	.create = rec_create,
	.remove = rec_remove,
	.mount = rec_mount,
	.unmount = rec_unmount,
	.path = rec_path,
	.get = rec_get,
	.list = rec_list,
};

/* ------------------------------------------------------------- fixture */

static char *dir;

static struct st_store *open_store(void)
{
	struct st_store_config cfg = {.root = dir, .driver = "vfs"};
	struct st_store *s = NULL;
	struct st_error err = {0};
	ST_OK(st_store_open(&cfg, &s, &err), &err);
	return s;
}

static void setup(void)
{
	static bool registered;
	if (!registered) {
		struct st_error err = {0};
		ST_OK(st_volume_driver_register(&rec_ops, &err), &err);
		registered = true;
	}
	dir = st_test_mkdtemp("volume");
	rec_mounts = rec_unmounts = rec_removes = 0;
}

static void teardown(void)
{
	st_test_rmtree(dir);
	free(dir);
}

static bool listed(struct st_store *s, const char *name)
{
	struct st_volume *v;
	size_t n;
	struct st_error err = {0};
	ck_assert_int_eq(st_volume_list(s, &v, &n, NULL, &err), 0);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		found |= strcmp(v[i].name, name) == 0;
	st_volume_list_free(v, n);
	return found;
}

/* --------------------------------------------------------------- tests */

START_TEST(names_follow_docker_rule)
{
	const char *good[] = {"ab", "a1", "A.b-c_d", "0x", "x.."};
	const char *bad[] = {"", "a", "-a", ".a", "_a", "a/b", "a b", "a:b", "é1"};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		ck_assert_msg(st_volume_name_valid(good[i]), "%s refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(!st_volume_name_valid(bad[i]), "%s accepted", bad[i]);
	char longname[ST_VOLUME_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert(!st_volume_name_valid(longname));
	longname[ST_VOLUME_NAME_MAX] = '\0';
	ck_assert(st_volume_name_valid(longname));
}
END_TEST

START_TEST(driver_mounts_for_first_and_unmounts_after_last_across_reopen)
{
	struct st_store *s = open_store();
	struct st_error err = {0};
	char p1[PATH_MAX], p2[PATH_MAX];
	ST_OK(st_volume_create(s, "rec", "v1", NULL, NULL, &err), &err);
	ST_OK(st_volume_mount(s, "v1", "a", p1, sizeof(p1), &err), &err);
	st_store_close(s); /* a process exit: the count lives on disk */
	s = open_store();
	ST_OK(st_volume_mount(s, "v1", "b", p2, sizeof(p2), &err), &err);
	ck_assert_str_eq(p1, p2);
	ck_assert_int_eq(rec_mounts, 1);
	ck_assert(st_volume_in_use(s, "v1"));
	ck_assert_int_eq(st_volume_remove(s, "v1", false, &err), -EBUSY);
	ck_assert_msg(strstr(err.msg, "a, b"), "%s", err.msg);
	ST_OK(st_volume_unmount(s, "v1", "a", &err), &err);
	ck_assert_int_eq(rec_unmounts, 0);
	st_store_close(s);
	s = open_store();
	ST_OK(st_volume_unmount(s, "v1", "b", &err), &err);
	ck_assert_int_eq(rec_unmounts, 1);
	ck_assert(!st_volume_in_use(s, "v1"));
	ST_OK(st_volume_remove(s, "v1", false, &err), &err);
	ck_assert(!listed(s, "v1"));
	st_store_close(s);
}
END_TEST

START_TEST(failed_create_leaves_nothing)
{
	struct st_store *s = open_store();
	struct st_error err = {0};
	struct st_kvlist o = {0};
	st_kvlist_add(&o, "fail", "1");
	ck_assert_int_eq(st_volume_create(s, "rec", "bad1", &o, NULL, &err), -EIO);
	ck_assert_msg(strstr(err.msg, "asked to fail creating \"bad1\""), "%s", err.msg);
	ck_assert(!listed(s, "bad1"));
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/volumes/.strata/locks/bad1", dir);
	ck_assert_msg(access(p, F_OK) != 0, "lock file left behind");
	st_kvlist_free(&o);
	st_store_close(s);
}
END_TEST

/* Run fn(name) in a child, kill -9 it once marker exists under dir. */
static void kill_during(const char *what, const char *name, const char *marker)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct st_store *s = open_store();
		struct st_error err = {0};
		if (strcmp(what, "create") == 0)
			st_volume_create(s, "rec", name, NULL, NULL, &err);
		else
			st_volume_remove(s, name, false, &err);
		_exit(0);
	}
	char m[PATH_MAX];
	snprintf(m, sizeof(m), "%s/%s", dir, marker);
	for (int i = 0; i < 500 && access(m, F_OK) != 0; i++)
		usleep(10000);
	ck_assert_msg(access(m, F_OK) == 0, "child never reached %s", marker);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

START_TEST(kill9_during_create_is_rolled_back)
{
	kill_during("create", "slowmk1", "volume-drivers/rec/slowmk1");
	struct st_store *s = open_store();
	ck_assert(!listed(s, "slowmk1"));
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/volume-drivers/rec/slowmk1", dir);
	ck_assert_msg(access(p, F_OK) != 0, "half-made volume data left behind");
	st_store_close(s);
}
END_TEST

START_TEST(kill9_during_remove_is_finished)
{
	struct st_store *s = open_store();
	struct st_error err = {0};
	ST_OK(st_volume_create(s, "rec", "slowrm1", NULL, NULL, &err), &err);
	st_store_close(s);
	setenv("REC_SLOW_RM", "1", 1);
	kill_during("remove", "slowrm1", "volume-drivers/rec/slowrm1/.half");
	unsetenv("REC_SLOW_RM");
	s = open_store();
	char p[PATH_MAX];
	/* a volume that was being removed is not shown... */
	ck_assert(!listed(s, "slowrm1"));
	/* ...and its removal was finished by whoever looked next */
	snprintf(p, sizeof(p), "%s/volume-drivers/rec/slowrm1", dir);
	ck_assert_msg(access(p, F_OK) != 0, "half-removed volume data left behind");
	ST_OK(st_volume_create(s, "rec", "slowrm1", NULL, NULL, &err), &err);
	st_store_close(s);
}
END_TEST

START_TEST(holders_from_before_a_reboot_are_dropped)
{
	struct st_store *s = open_store();
	struct st_error err = {0};
	char p[PATH_MAX];
	ST_OK(st_volume_create(s, "rec", "rb1", NULL, NULL, &err), &err);
	ST_OK(st_volume_mount(s, "rb1", "ctr", p, sizeof(p), &err), &err);
	ck_assert(st_volume_in_use(s, "rb1"));
	/* the state file as another boot would have left it */
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s/volumes/.strata/mounts/rb1", dir);
	json_object *o = json_object_from_file(f);
	ck_assert_ptr_nonnull(o);
	json_object_object_add(o, "Boot", json_object_new_string("00000000-0000-0000-0000-000000000000"));
	ck_assert_int_eq(json_object_to_file(f, o), 0);
	json_object_put(o);
	ck_assert(!st_volume_in_use(s, "rb1"));
	ST_OK(st_volume_remove(s, "rb1", false, &err), &err);
	st_store_close(s);
}
END_TEST

START_TEST(mount_ids_are_validated)
{
	struct st_store *s = open_store();
	struct st_error err = {0};
	char p[PATH_MAX];
	ST_OK(st_volume_create(s, "rec", "mi1", NULL, NULL, &err), &err);
	ck_assert_int_eq(st_volume_mount(s, "mi1", "../x", p, sizeof(p), &err), -EINVAL);
	ck_assert_int_eq(st_volume_mount(s, "mi1", "", p, sizeof(p), &err), -EINVAL);
	ck_assert_int_eq(rec_mounts, 0);
	st_store_close(s);
}
END_TEST

static const struct st_volume_driver_ops bad_abi = {
	.name = "badabi", .abi = ST_VOLUME_ABI + 1, .create = rec_create, .remove = rec_remove,
	.mount = rec_mount, .unmount = rec_unmount, .path = rec_path, .get = rec_get, .list = rec_list,
};
static const struct st_volume_driver_ops no_mount = {
	.name = "nomount", .abi = ST_VOLUME_ABI, .create = rec_create, .remove = rec_remove,
	.unmount = rec_unmount, .path = rec_path, .get = rec_get, .list = rec_list,
};

START_TEST(registry_refuses_bad_drivers)
{
	struct st_error err = {0};
	ck_assert_int_eq(st_volume_driver_register(&bad_abi, &err), -EPROTO);
	ck_assert_int_eq(st_volume_driver_register(&no_mount, &err), -EINVAL);
	ck_assert_int_eq(st_volume_driver_register(&rec_ops, &err), -EEXIST);
	ck_assert_ptr_nonnull(st_volume_driver_lookup("local"));
	ck_assert_ptr_nonnull(st_volume_driver_lookup("rec"));
	ck_assert_ptr_null(st_volume_driver_lookup("badabi"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("volume");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, names_follow_docker_rule);
	tcase_add_test(tc, driver_mounts_for_first_and_unmounts_after_last_across_reopen);
	tcase_add_test(tc, failed_create_leaves_nothing);
	tcase_add_test(tc, kill9_during_create_is_rolled_back);
	tcase_add_test(tc, kill9_during_remove_is_finished);
	tcase_add_test(tc, holders_from_before_a_reboot_are_dropped);
	tcase_add_test(tc, mount_ids_are_validated);
	tcase_add_test(tc, registry_refuses_bad_drivers);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
