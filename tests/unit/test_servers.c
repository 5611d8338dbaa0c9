/* servers/common (the socket, pidfile and file helpers every server uses)
 * and the docker plugin's layer ids. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "docker/dp.h"
#include "common/pathfile.h"
#include "common/pidfile.h"
#include "testlib.h"
#include "common/unixsock.h"
#include "base/base.h"

static bool connects(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

START_TEST(test_unix_socket_made_with_its_mode_and_directory)
{
	char *dir = st_test_mkdtemp("srv"), path[256];
	struct st_error err = {0};
	struct srv_unix u;
	snprintf(path, sizeof(path), "%s/sub/dir/p.sock", dir);
	ST_OK(srv_unix_listen(&u, path, 0600, &err), &err);
	struct stat st;
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert(connects(path));
	/* a second server on the same path is refused while the first listens */
	struct srv_unix u2;
	ck_assert_int_eq(srv_unix_listen(&u2, path, 0600, &err), -EADDRINUSE);
	ck_assert(strstr(err.msg, "another server is listening"));
	srv_unix_close(&u);
	ck_assert_int_eq(lstat(path, &st), -1);
	st_test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_unix_socket_replaces_a_dead_servers_socket_only)
{
	char *dir = st_test_mkdtemp("srv"), path[256], file[256];
	struct st_error err = {0};
	/* a socket nobody listens on any more (its server was killed) */
	snprintf(path, sizeof(path), "%s/p.sock", dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	struct srv_unix u;
	ST_OK(srv_unix_listen(&u, path, 0600, &err), &err);
	ck_assert(connects(path));
	/* the path replaced by a newer server: closing ours leaves it */
	unlink(path);
	struct srv_unix newer;
	ST_OK(srv_unix_listen(&newer, path, 0600, &err), &err);
	srv_unix_close(&u);
	ck_assert(connects(path));
	srv_unix_close(&newer);
	/* never anything but a socket */
	snprintf(file, sizeof(file), "%s/f.sock", dir);
	st_test_write(dir, "f.sock", "data");
	ck_assert_int_eq(srv_unix_listen(&u, file, 0600, &err), -EEXIST);
	ck_assert(strstr(err.msg, "is not a socket"));
	char *kept = st_test_read(dir, "f.sock");
	ck_assert_str_eq(kept, "data");
	free(kept);
	/* a path longer than a socket address takes */
	char lng[300];
	memset(lng, 'a', sizeof(lng) - 1);
	lng[0] = '/';
	lng[sizeof(lng) - 1] = '\0';
	ck_assert_int_eq(srv_unix_listen(&u, lng, 0600, &err), -ENAMETOOLONG);
	st_test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_pidfile_locked_while_held)
{
	char *dir = st_test_mkdtemp("srv"), path[256];
	struct st_error err = {0};
	snprintf(path, sizeof(path), "%s/p.pid", dir);
	int fd = srv_pidfile_open(path, &err);
	ck_assert_int_ge(fd, 0);
	char *pid = st_test_read(dir, "p.pid"), want[32];
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	ck_assert_str_eq(pid, want);
	free(pid);
	/* another open file description: as another process would see it */
	ck_assert_int_eq(srv_pidfile_open(path, &err), -EBUSY);
	ck_assert(strstr(err.msg, "a server is running"));
	srv_pidfile_close(path, fd);
	ck_assert(!st_test_exists(dir, "p.pid"));
	/* a pidfile a killed server left is taken over */
	st_test_write(dir, "p.pid", "999999\n");
	fd = srv_pidfile_open(path, &err);
	ck_assert_int_ge(fd, 0);
	srv_pidfile_close(path, fd);
	st_test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_write_path_makes_its_directory)
{
	char *dir = st_test_mkdtemp("srv"), path[256];
	struct st_error err = {0};
	snprintf(path, sizeof(path), "%s/etc/docker/plugins/x.spec", dir);
	ST_OK(srv_write_path(path, "unix:///run/x.sock\n", 19, 0644, &err), &err);
	char *got = st_test_read(dir, "etc/docker/plugins/x.spec");
	ck_assert_str_eq(got, "unix:///run/x.sock\n");
	free(got);
	snprintf(path, sizeof(path), "%s/etc/", dir);
	ck_assert_int_eq(srv_write_path(path, "x", 1, 0644, &err), -EINVAL);
	st_test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_docker_layer_ids)
{
	char id[129];
	struct st_error err = {0};
	const char *hex = "4ea837a97089217211defcc1e4d675945b576de7875bed575b1bcc7c347fa63c";
	char init[80];
	snprintf(init, sizeof(init), "%s-init", hex);
	ST_OK(dp_layer_id("strata", init, id, sizeof(id), &err), &err);
	ck_assert(st_str_has_prefix(id, "docker.strata."));
	ck_assert(st_str_has_suffix(id, "-init"));
	ck_assert(st_valid_id(id));
	ck_assert(dp_layer_is_plugins(id));
	const char *bad[] = {"", "..", "../x", "/abs", ".hidden", "a/b", "a b", "-x", "a\nb"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(dp_layer_id("strata", bad[i], id, sizeof(id), &err), -EINVAL);
		ck_assert(strstr(err.msg, "invalid layer id"));
	}
	/* the longest id that still makes a valid driver id */
	char lng[200];
	size_t max = 128 - strlen("docker.strata.");
	memset(lng, 'a', max);
	lng[max] = '\0';
	ST_OK(dp_layer_id("strata", lng, id, sizeof(id), &err), &err);
	ck_assert(st_valid_id(id));
	lng[max] = 'a';
	lng[max + 1] = '\0';
	ck_assert_int_eq(dp_layer_id("strata", lng, id, sizeof(id), &err), -EINVAL);
	/* strata's own driver layers (random hex, container ids) are not */
	ck_assert(!dp_layer_is_plugins(hex));
	ck_assert(!dp_layer_is_plugins("docker."));
	ck_assert(!dp_layer_is_plugins("docker.strata."));
	ck_assert(!dp_layer_is_plugins("docker.st/x.y"));
	ck_assert(dp_name_valid("strata-2"));
	ck_assert(!dp_name_valid("a.b"));
	ck_assert(!dp_name_valid("../x"));
	ck_assert(!dp_name_valid(""));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("servers");
	TCase *tc = tcase_create("servers");
	tcase_add_test(tc, test_unix_socket_made_with_its_mode_and_directory);
	tcase_add_test(tc, test_unix_socket_replaces_a_dead_servers_socket_only);
	tcase_add_test(tc, test_pidfile_locked_while_held);
	tcase_add_test(tc, test_write_path_makes_its_directory);
	tcase_add_test(tc, test_docker_layer_ids);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
