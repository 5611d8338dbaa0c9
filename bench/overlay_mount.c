/* bench/overlay.sh's helper: mount+unmount cycles of one overlay, timed in
 * one process (so that process start-up does not hide the difference).
 *   overlay_mount strata HOME ID N      st_drv_get + st_drv_put on an open driver
 *   overlay_mount bare DATA TARGET N ro|rw
 *                                       mount(2) + umount2(2) with DATA as options
 * Prints the median microseconds per cycle.
 *   overlay_mount walk DIR              readdir of DIR, stat and read of every
 *                                       file in it: "READDIR_US STAT_US READ_US"
 * Built by bench/overlay.sh
 * against the tree's libstrata.a. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "strata.h"

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int walk(const char *dir)
{
	double t0 = now_us();
	DIR *d = opendir(dir);
	if (!d)
		return 1;
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(de->d_name);
	}
	double t1 = now_us();
	int dfd = dirfd(d);
	struct stat st;
	for (size_t i = 0; i < n; i++)
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 1;
	double t2 = now_us();
	char buf[65536];
	for (size_t i = 0; i < n; i++) {
		int fd = openat(dfd, names[i], O_RDONLY);
		if (fd < 0)
			return 1;
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	double t3 = now_us();
	printf("%.0f %.0f %.0f\n", t1 - t0, t2 - t1, t3 - t2);
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "walk") == 0)
		return walk(argv[2]);
	if (argc < 5) {
		fprintf(stderr, "usage: overlay_mount strata HOME ID N | bare DATA TARGET N ro|rw\n");
		return 2;
	}
	int n = atoi(argv[4]);
	double *t = calloc((size_t)n, sizeof(*t));
	if (!t || n < 1)
		return 2;
	if (strcmp(argv[1], "strata") == 0) {
		struct st_driver *d;
		struct st_error err = {0};
		if (st_driver_open("overlay", argv[2], NULL, &d, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		for (int i = 0; i < n; i++) {
			char path[PATH_MAX];
			double t0 = now_us();
			if (st_drv_get(d, argv[3], path, sizeof(path), &err) < 0 || st_drv_put(d, argv[3], &err) < 0) {
				fprintf(stderr, "%s\n", err.msg);
				return 1;
			}
			t[i] = now_us() - t0;
		}
		st_driver_close(d);
	} else {
		unsigned long flags = argc > 5 && strcmp(argv[5], "ro") == 0 ? MS_RDONLY : 0;
		for (int i = 0; i < n; i++) {
			double t0 = now_us();
			if (mount("overlay", argv[3], "overlay", flags, argv[2]) < 0 || umount2(argv[3], 0) < 0) {
				fprintf(stderr, "mount %s: %s\n", argv[3], strerror(errno));
				return 1;
			}
			t[i] = now_us() - t0;
		}
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("%.0f\n", t[n / 2]);
	free(t);
	return 0;
}
