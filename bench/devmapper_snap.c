/* Snapshot creation on the devmapper driver, timed in-process (a strata
 * command's own start-up would hide it): st_drv_create of a read-write
 * child of a small and of a large parent, the two interleaved so that both
 * see the same machine load, against the bare pool message (create_snap
 * through libdevmapper) for the same parents. Built and run by
 * bench/devmapper.sh:
 *   devmapper_snap HOME RUNS SMALL.tar LARGE.tar [OPTS]
 * prints one line per parent: "NAME strata_median_ms raw_median_ms". */
#include <fcntl.h>
#include <inttypes.h>
#include <libdevmapper.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "strata.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, const struct st_error *err)
{
	fprintf(stderr, "devmapper_snap: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

static int pool_message(const char *pool, const char *msg)
{
	struct dm_task *t = dm_task_create(DM_DEVICE_TARGET_MSG);
	int ok = t && dm_task_set_name(t, pool) && dm_task_set_sector(t, 0) && dm_task_set_message(t, msg) &&
		 dm_task_run(t);
	if (t)
		dm_task_destroy(t);
	return ok ? 0 : -1;
}

static const char *kv(const struct st_kvlist *l, const char *key)
{
	const char *v = st_kvlist_get(l, key);
	return v ? v : "";
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: devmapper_snap HOME RUNS SMALL.tar LARGE.tar [OPTS]\n");
		return 2;
	}
	const char *home = argv[1], *tars[2] = {argv[3], argv[4]}, *names[2] = {"small", "large"};
	int runs = atoi(argv[2]);
	struct st_kvlist opts = {0};
	struct st_error err = {0};
	if (argc > 5) {
		char *copy = strdup(argv[5]), *save = NULL;
		for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save))
			if (st_kvlist_parse(&opts, o, &err) < 0)
				die("options", &err);
		free(copy);
	}
	struct st_driver *d;
	if (st_driver_open("devmapper", home, &opts, &d, &err) < 0)
		die("open", &err);
	for (int p = 0; p < 2; p++) {
		int fd = open(tars[p], O_RDONLY | O_CLOEXEC);
		struct st_reader r;
		st_reader_fd(&r, &fd);
		if (fd < 0 || st_drv_create(d, names[p], NULL, false, NULL, &err) < 0 ||
		    st_drv_apply(d, names[p], NULL, &r, &err) < 0)
			die(tars[p], &err);
		close(fd);
	}
	struct st_kvlist status = {0}, meta[2] = {{0}};
	st_drv_status(d, &status);
	const char *pool = kv(&status, "Pool Name");
	for (int p = 0; p < 2; p++)
		d->ops->metadata(d, names[p], &meta[p]);
	sync();

	double *t[2], *raw[2];
	for (int p = 0; p < 2; p++) {
		t[p] = calloc((size_t)runs, sizeof(double));
		raw[p] = calloc((size_t)runs, sizeof(double));
	}
	unsigned scratch_id = 0xfff000; /* far above the ids the driver hands out */
	for (int i = 0; i < runs; i++) {
		for (int p = 0; p < 2; p++) {
			char id[64], msg[64];
			snprintf(id, sizeof(id), "%s-child-%d", names[p], i);
			double a = now_ms();
			if (st_drv_create(d, id, names[p], true, NULL, &err) < 0)
				die("create child", &err);
			t[p][i] = now_ms() - a;
			if (st_drv_remove(d, id, &err) < 0)
				die("remove child", &err);
			snprintf(msg, sizeof(msg), "create_snap %u %s", scratch_id, kv(&meta[p], "DeviceId"));
			a = now_ms();
			if (pool_message(pool, msg) < 0)
				die(msg, NULL);
			raw[p][i] = now_ms() - a;
			snprintf(msg, sizeof(msg), "delete %u", scratch_id);
			if (pool_message(pool, msg) < 0)
				die(msg, NULL);
		}
	}
	for (int p = 0; p < 2; p++)
		printf("%s %.1f %.1f\n", names[p], median(t[p], runs), median(raw[p], runs));
	for (int p = 0; p < 2; p++) {
		st_drv_remove(d, names[p], &err);
		st_kvlist_free(&meta[p]);
		free(t[p]);
		free(raw[p]);
	}
	st_kvlist_free(&status);
	st_kvlist_free(&opts);
	st_driver_close(d);
	return 0;
}
