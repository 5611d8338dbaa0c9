/* bench/overlay.sh's helper: mount+unmount cycles of one overlay, timed in
 * one process (so that process start-up does not hide the difference).
 *   overlay_mount cycles HOME ID DATA TARGET N ro|rw
 *       N cycles of st_drv_get + st_drv_put of layer ID on an open driver,
 *       each followed by one of bare mount(2) + umount2(2) of the same
 *       overlay (DATA: its options) at TARGET, so that both meet the same
 *       load; prints "STRATA_US BARE_US", medians per cycle.
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
	if (argc != 8 || strcmp(argv[1], "cycles") != 0) {
		fprintf(stderr, "usage: overlay_mount cycles HOME ID DATA TARGET N ro|rw | walk DIR\n");
		return 2;
	}
	const char *home = argv[2], *id = argv[3], *data = argv[4], *target = argv[5];
	int n = atoi(argv[6]);
	unsigned long flags = strcmp(argv[7], "ro") == 0 ? MS_RDONLY : 0;
	double *ts = calloc((size_t)n, sizeof(*ts)), *tb = calloc((size_t)n, sizeof(*tb));
	if (!ts || !tb || n < 1)
		return 2;
	struct st_driver *d;
	struct st_error err = {0};
	if (st_driver_open("overlay", home, NULL, &d, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		double t0 = now_us();
		if (st_drv_get(d, id, path, sizeof(path), &err) < 0 || st_drv_put(d, id, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		double t1 = now_us();
		if (mount("overlay", target, "overlay", flags, data) < 0 || umount2(target, 0) < 0) {
			fprintf(stderr, "mount %s: %s\n", target, strerror(errno));
			return 1;
		}
		ts[i] = t1 - t0;
		tb[i] = now_us() - t1;
	}
	st_driver_close(d);
	qsort(ts, (size_t)n, sizeof(*ts), cmp);
	qsort(tb, (size_t)n, sizeof(*tb), cmp);
	printf("%.0f %.0f\n", ts[n / 2], tb[n / 2]);
	free(ts);
	free(tb);
	return 0;
}
