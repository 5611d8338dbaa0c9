/* The parts of the devmapper driver that run without device-mapper: its
 * loop devices (LOOP_CONFIGURE with autoclear, the backing file found again
 * from the device) and the probe's reason on a kernel without
 * device-mapper. The driver itself is tested in the VM
 * (tests/vm/guest-devmapper*.sh). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../../drivers/devmapper/devmapper.h"
#include "testlib.h"

static bool has_device_mapper(void)
{
	FILE *f = fopen("/proc/misc", "re");
	char line[128];
	bool found = false;
	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, " device-mapper") != NULL;
	if (f)
		fclose(f);
	return found;
}

START_TEST(test_loop_attach_finds_backing_file_and_autoclears_on_last_close)
{
	if (getuid() != 0 || access("/dev/loop-control", F_OK) != 0)
		ST_SKIP("needs root and /dev/loop-control");
	char *dir = st_test_mkdtemp("dmloop");
	char file[4096];
	snprintf(file, sizeof(file), "%s/data", dir);
	int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 64 << 20), 0);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);

	struct st_error err = {0};
	dev_t rdev;
	int loop = dmloop_attach(fd, file, &rdev, &err);
	ck_assert_msg(loop >= 0, "attach: %s", err.msg);
	ck_assert_int_eq(major(rdev), 7);
	dev_t fdev;
	ino_t fino;
	ck_assert_int_eq(dmloop_backing(rdev, &fdev, &fino), 0);
	ck_assert(fdev == st.st_dev && fino == st.st_ino);
	/* the device is a real block device of the file's size */
	struct stat lst;
	ck_assert_int_eq(fstat(loop, &lst), 0);
	ck_assert(S_ISBLK(lst.st_mode));
	ck_assert_int_eq(lseek(loop, 0, SEEK_END), 64 << 20);

	/* autoclear: the last close detaches it (asynchronously on newer kernels) */
	close(loop);
	close(fd);
	int r = 0;
	for (int i = 0; i < 200 && (r = dmloop_backing(rdev, &fdev, &fino)) == 0; i++)
		usleep(10000);
	ck_assert_msg(r < 0, "loop device %u:%u still bound to %s after its last close", major(rdev), minor(rdev),
		      file);
	st_test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_backing_of_a_device_that_is_no_loop_is_enxio)
{
	dev_t fdev;
	ino_t fino;
	ck_assert_int_eq(dmloop_backing(makedev(1, 3), &fdev, &fino), -ENXIO); /* /dev/null */
}
END_TEST

START_TEST(test_probe_without_device_mapper_says_why)
{
	if (has_device_mapper())
		ST_SKIP("this kernel has device-mapper (the VM suites test the driver)");
	char reason[512] = "";
	char *dir = st_test_mkdtemp("dmprobe");
	char home[4096];
	snprintf(home, sizeof(home), "%s/devmapper", dir);
	int r = st_driver_probe("devmapper", home, reason, sizeof(reason));
	ck_assert_int_eq(r, -ENODEV);
	ck_assert_msg(strstr(reason, "device-mapper is not available") != NULL, "reason: %s", reason);
	/* the probe left nothing behind */
	ck_assert(access(home, F_OK) != 0);
	struct st_kvlist opts = {0};
	struct st_driver *d = NULL;
	struct st_error err = {0};
	ck_assert_int_lt(st_driver_open("devmapper", home, &opts, &d, &err), 0);
	ck_assert_msg(strstr(err.msg, "not supported here") != NULL, "open: %s", err.msg);
	st_test_rmtree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("devmapper");
	TCase *tc = tcase_create("host");
	tcase_add_test(tc, test_loop_attach_finds_backing_file_and_autoclears_on_last_close);
	tcase_add_test(tc, test_backing_of_a_device_that_is_no_loop_is_enxio);
	tcase_add_test(tc, test_probe_without_device_mapper_says_why);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
