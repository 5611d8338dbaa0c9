/* strata bench: the storage-driver benchmark (core/bench/bench.c) per driver, as a
 * table or JSON, with a progress bar on a terminal and a gnuplot bar chart. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "store/store.h"
#include "bench/bench.h"
#include "cli.h"

extern char **environ;

#define BENCH_MAX_DRIVERS 16

struct bench_cli {
	const char *drivers[BENCH_MAX_DRIVERS];
	int ndrivers;
	struct st_bench_params p;
	const char *dir;
	bool json;
	const char *plot;
	/* the progress bar */
	bool bar;
	int per_driver, driver_index;
};

/* ------------------------------------------------------------ options */

static int parse_count(struct cli *c, const char *opt, const char *v, int *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < 1 || n > 1000000)
		return cli_usage(c, "%s: \"%s\" is not a number from 1 to 1000000", opt, v);
	*out = (int)n;
	return 0;
}

static int parse_bytes(struct cli *c, const char *opt, const char *v, int64_t *out)
{
	if (st_parse_size(v, out) < 0 || *out < 0 || *out > (1ll << 32))
		return cli_usage(c, "%s: \"%s\" is not a size up to 4G (like 4k, 32M)", opt, v);
	return 0;
}

static int parse_drivers(struct cli *c, struct bench_cli *b, char *list)
{
	b->ndrivers = 0;
	for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!*t)
			continue;
		if (b->ndrivers == BENCH_MAX_DRIVERS)
			return cli_usage(c, "--drivers: at most %d drivers", BENCH_MAX_DRIVERS);
		b->drivers[b->ndrivers++] = t;
	}
	if (b->ndrivers == 0)
		return cli_usage(c, "--drivers: no driver named");
	return 0;
}

static int parse_shapes(struct cli *c, struct bench_cli *b, char *list)
{
	b->p.shapes = 0;
	for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int k = -1;
		for (int i = 0; i < ST_BENCH_NSHAPES; i++) {
			const char *n = st_bench_shape_name((enum st_bench_shape)i);
			/* "small" for "small-files", "deep" or "chain" for "deep-chain" */
			if (strcmp(t, n) == 0 || (strncmp(t, n, strlen(t)) == 0 && n[strlen(t)] == '-') ||
			    (strcmp(t, "chain") == 0 && i == ST_BENCH_CHAIN))
				k = i;
		}
		if (k < 0)
			return cli_usage(c, "--shapes: unknown shape \"%s\" (small-files, large-files, deep-chain)", t);
		b->p.shapes |= 1u << k;
	}
	if (!b->p.shapes)
		return cli_usage(c, "--shapes: no shape named");
	return 0;
}

/* ---------------------------------------------------------- progress */

static void bench_progress(void *ctx, const char *driver, int done, int total, const char *what)
{
	struct bench_cli *b = ctx;
	if (!b->bar)
		return;
	int all = b->per_driver * b->ndrivers;
	int now = b->per_driver * b->driver_index + done;
	const int width = 30;
	int fill = all ? now * width / all : width;
	char bar[width + 1];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	fprintf(stderr, "\r\033[K[%s] %3d%%  %s %s", bar, all ? now * 100 / all : 100, driver,
		total ? what : "");
	fflush(stderr);
}

static void bench_progress_end(struct bench_cli *b)
{
	if (b->bar) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
}

/* ------------------------------------------------------------ output */

static void fmt_time(double s, char *buf, size_t len)
{
	if (s < 1e-3)
		snprintf(buf, len, "%.0fus", s * 1e6);
	else if (s < 1)
		snprintf(buf, len, "%.2fms", s * 1e3);
	else
		snprintf(buf, len, "%.3fs", s);
}

static void describe_shape(const struct st_bench_work *w, enum st_bench_shape k, char *buf, size_t len)
{
	char tar[32], rb[32], cb[32], chain[64] = "";
	st_format_size(w->tar_bytes, tar, sizeof(tar));
	st_format_size(w->read_bytes, rb, sizeof(rb));
	st_format_size(w->copyup_bytes, cb, sizeof(cb));
	if (w->layers > 1)
		snprintf(chain, sizeof(chain), ", under %d more layers", w->layers - 1);
	snprintf(buf, len, "%s: bottom layer of %d files (tar %s)%s; read %d files (%s), copy-up %d (%s)",
		 st_bench_shape_name(k), w->base_files, tar, chain, w->reads, rb, w->copyups, cb);
}

static void print_table(struct bench_cli *b, struct st_bench_result *res, int n)
{
	const struct st_bench_work *w = NULL;
	for (int k = 0; k < ST_BENCH_NSHAPES; k++) {
		if (!(b->p.shapes & (1u << k)))
			continue;
		for (int i = 0; i < n && !w; i++)
			if (!res[i].skipped && !res[i].failed)
				w = &res[i].work[k];
		char d[512];
		if (w) {
			describe_shape(w, (enum st_bench_shape)k, d, sizeof(d));
			printf("%s\n", d);
		}
		w = NULL;
	}
	printf("%d run%s per operation; min / median / max\n\n", b->p.runs, b->p.runs == 1 ? "" : "s");
	struct cli_table t;
	cli_table_init(&t, 7);
	cli_table_row(&t, "DRIVER", "BACKING", "SHAPE", "OPERATION", "MIN", "MEDIAN", "MAX");
	for (int i = 0; i < n; i++) {
		if (res[i].skipped || res[i].failed)
			continue;
		for (int k = 0; k < ST_BENCH_NSHAPES; k++) {
			if (!(b->p.shapes & (1u << k)))
				continue;
			for (int o = 0; o < ST_BOP_N; o++) {
				const struct st_bench_stat *s = &res[i].stat[k][o];
				char mn[32], md[32], mx[32];
				fmt_time(s->min, mn, sizeof(mn));
				fmt_time(s->median, md, sizeof(md));
				fmt_time(s->max, mx, sizeof(mx));
				cli_table_row(&t, res[i].driver, res[i].backing, st_bench_shape_name((enum st_bench_shape)k),
					      st_bench_op_name((enum st_bench_op)o), mn, md, mx);
			}
		}
	}
	cli_table_print(&t, stdout);
	for (int i = 0; i < n; i++)
		if (res[i].skipped || res[i].failed)
			printf("%s: %s: %s\n", res[i].driver, res[i].skipped ? "skipped" : "failed", res[i].reason);
}

static char *read_line_value(const char *file, const char *key)
{
	FILE *f = fopen(file, "re");
	if (!f)
		return NULL;
	char line[512];
	char *v = NULL;
	size_t kl = strlen(key);
	while (!v && fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) != 0)
			continue;
		char *p = strchr(line, ':');
		if (!p)
			continue;
		p++;
		p += strspn(p, " \t");
		p[strcspn(p, "\n")] = '\0';
		v = strdup(p);
	}
	fclose(f);
	return v;
}

static json_object *machine_json(const char *dir)
{
	json_object *m = json_object_new_object();
	struct utsname u;
	if (uname(&u) == 0)
		json_object_object_add(m, "kernel", json_object_new_string(u.release));
	char *cpu = read_line_value("/proc/cpuinfo", "model name");
	json_object_object_add(m, "cpu", json_object_new_string(cpu ? cpu : "unknown"));
	free(cpu);
	json_object_object_add(m, "cpus", json_object_new_int((int)sysconf(_SC_NPROCESSORS_ONLN)));
	char *mem = read_line_value("/proc/meminfo", "MemTotal");
	json_object_object_add(m, "memory", json_object_new_string(mem ? mem : "unknown"));
	free(mem);
	json_object_object_add(m, "scratch", json_object_new_string(dir));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		json_object_object_add(m, "scratch_fs", json_object_new_string(st_fs_name(fd)));
		close(fd);
	}
	return m;
}

static json_object *results_json(struct bench_cli *b, struct st_bench_result *res, int n)
{
	json_object *root = json_object_new_object();
	json_object *params = json_object_new_object();
	json_object_object_add(params, "files", json_object_new_int(b->p.files));
	json_object_object_add(params, "file_size", json_object_new_int64(b->p.file_size));
	json_object_object_add(params, "large_files", json_object_new_int(b->p.large_files));
	json_object_object_add(params, "large_size", json_object_new_int64(b->p.large_size));
	json_object_object_add(params, "layers", json_object_new_int(b->p.layers));
	json_object_object_add(params, "runs", json_object_new_int(b->p.runs));
	json_object_object_add(root, "params", params);
	json_object_object_add(root, "machine", machine_json(b->dir));
	json_object *drivers = json_object_new_array();
	for (int i = 0; i < n; i++) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "driver", json_object_new_string(res[i].driver));
		json_object_object_add(d, "status", json_object_new_string(res[i].skipped ? "skipped"
									   : res[i].failed ? "failed" : "ok"));
		if (res[i].skipped || res[i].failed) {
			json_object_object_add(d, "reason", json_object_new_string(res[i].reason));
			json_object_array_add(drivers, d);
			continue;
		}
		json_object_object_add(d, "backing", json_object_new_string(res[i].backing));
		json_object *shapes = json_object_new_object();
		for (int k = 0; k < ST_BENCH_NSHAPES; k++) {
			if (!(b->p.shapes & (1u << k)))
				continue;
			const struct st_bench_work *w = &res[i].work[k];
			json_object *s = json_object_new_object();
			json_object *wo = json_object_new_object();
			json_object_object_add(wo, "layers", json_object_new_int(w->layers));
			json_object_object_add(wo, "base_files", json_object_new_int(w->base_files));
			json_object_object_add(wo, "tar_bytes", json_object_new_int64(w->tar_bytes));
			json_object_object_add(wo, "reads", json_object_new_int(w->reads));
			json_object_object_add(wo, "read_bytes", json_object_new_int64(w->read_bytes));
			json_object_object_add(wo, "copyups", json_object_new_int(w->copyups));
			json_object_object_add(wo, "copyup_bytes", json_object_new_int64(w->copyup_bytes));
			json_object_object_add(s, "workload", wo);
			json_object *ops = json_object_new_object();
			for (int o = 0; o < ST_BOP_N; o++) {
				const struct st_bench_stat *st = &res[i].stat[k][o];
				json_object *x = json_object_new_object();
				json_object_object_add(x, "min", json_object_new_double(st->min));
				json_object_object_add(x, "median", json_object_new_double(st->median));
				json_object_object_add(x, "max", json_object_new_double(st->max));
				json_object *sm = json_object_new_array();
				for (int j = 0; j < st->n; j++)
					json_object_array_add(sm, json_object_new_double(st->samples[j]));
				json_object_object_add(x, "samples", sm);
				json_object_object_add(ops, st_bench_op_name((enum st_bench_op)o), x);
			}
			json_object_object_add(s, "seconds", ops);
			json_object_object_add(shapes, st_bench_shape_name((enum st_bench_shape)k), s);
		}
		json_object_object_add(d, "shapes", shapes);
		json_object_array_add(drivers, d);
	}
	json_object_object_add(root, "drivers", drivers);
	return root;
}

/* -------------------------------------------------------------- plot */

/* One data block per shape: a row per operation, three columns (median,
 * min, max, in ms) per driver that ran; gnuplot draws a clustered bar
 * chart per shape (log scale: the operations span six decades) with
 * min..max error bars. */
static int write_plot_data(FILE *f, struct bench_cli *b, struct st_bench_result *res, int n)
{
	int blocks = 0;
	for (int k = 0; k < ST_BENCH_NSHAPES; k++) {
		if (!(b->p.shapes & (1u << k)))
			continue;
		if (blocks++)
			fprintf(f, "\n\n");
		fprintf(f, "# %s\n", st_bench_shape_name((enum st_bench_shape)k));
		for (int o = 0; o < ST_BOP_N; o++) {
			fprintf(f, "%s", st_bench_op_name((enum st_bench_op)o));
			for (int i = 0; i < n; i++) {
				if (res[i].skipped || res[i].failed)
					continue;
				const struct st_bench_stat *s = &res[i].stat[k][o];
				/* log scale: nothing below a microsecond */
				fprintf(f, " %.6f %.6f %.6f", s->median > 1e-6 ? s->median * 1e3 : 1e-3,
					s->min > 1e-6 ? s->min * 1e3 : 1e-3, s->max > 1e-6 ? s->max * 1e3 : 1e-3);
			}
			fprintf(f, "\n");
		}
	}
	return blocks;
}

static int run_gnuplot(const char *script)
{
	char *argv[] = {"gnuplot", (char *)script, NULL};
	pid_t pid;
	int r = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
	if (r != 0)
		return cli_failf("--plot: cannot run gnuplot: %s (Debian: gnuplot-nox; scripts/deps.sh)", strerror(r));
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return cli_failf("--plot: wait for gnuplot: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cli_failf("--plot: gnuplot failed (its messages are above)");
	return 0;
}

static int make_plot(struct bench_cli *b, struct st_bench_result *res, int n)
{
	const char *ext = strrchr(b->plot, '.');
	bool svg = ext && strcmp(ext, ".svg") == 0;
	int ok = 0;
	for (int i = 0; i < n; i++)
		ok += !res[i].skipped && !res[i].failed;
	if (ok == 0)
		return cli_failf("--plot: no driver ran, nothing to plot");
	char tmp[] = "/tmp/strata-bench-plot-XXXXXX";
	if (!mkdtemp(tmp))
		return cli_failf("--plot: make a temporary directory: %s", strerror(errno));
	char data[PATH_MAX], script[PATH_MAX];
	snprintf(data, sizeof(data), "%s/data", tmp);
	snprintf(script, sizeof(script), "%s/plot.gp", tmp);
	int r = EXIT_ERR;
	FILE *f = fopen(data, "we");
	FILE *g = f ? fopen(script, "we") : NULL;
	if (!f || !g) {
		cli_failf("--plot: write \"%s\": %s", f ? script : data, strerror(errno));
		goto out;
	}
	int blocks = write_plot_data(f, b, res, n);
	fclose(f);
	f = NULL;
	int h = 360 * blocks + 60;
	if (svg)
		fprintf(g, "set terminal svg size 1200,%d dynamic font 'sans,11' background '#ffffff'\n", h);
	else
		fprintf(g, "set terminal pngcairo size 1200,%d font 'sans,10'\n", h);
	/* gnuplot strings: single quotes, a quote doubled */
	fprintf(g, "set output '");
	for (const char *p = b->plot; *p; p++)
		fprintf(g, *p == '\'' ? "''" : "%c", *p);
	fprintf(g, "'\n");
	fprintf(g, "set style data histogram\nset style histogram errorbars gap 1 lw 1\n"
		   "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
		   "set logscale y\nset format y '%%g'\nset ylabel 'ms (median; bars: min..max)'\n"
		   "set grid ytics\nset key outside right top\nset xtics rotate by -30 nomirror\n"
		   "set multiplot layout %d,1 title 'strata bench: %d runs'\n", blocks, b->p.runs);
	int idx = 0;
	for (int k = 0; k < ST_BENCH_NSHAPES; k++) {
		if (!(b->p.shapes & (1u << k)))
			continue;
		fprintf(g, "set title '%s'\nplot ", st_bench_shape_name((enum st_bench_shape)k));
		int col = 2, m = 0;
		for (int i = 0; i < n; i++) {
			if (res[i].skipped || res[i].failed)
				continue;
			fprintf(g, "%s'%s' index %d using %d:%d:%d%s title '%s (%s)'", m ? ", " : "", data, idx,
				col, col + 1, col + 2, m ? "" : ":xtic(1)", res[i].driver, res[i].backing);
			col += 3;
			m++;
		}
		fprintf(g, "\n");
		idx++;
	}
	fprintf(g, "unset multiplot\n");
	fclose(g);
	g = NULL;
	r = run_gnuplot(script) == 0 ? EXIT_OK : EXIT_ERR;
out:
	if (f)
		fclose(f);
	if (g)
		fclose(g);
	unlink(data);
	unlink(script);
	rmdir(tmp);
	return r;
}

/* -------------------------------------------------------------- main */

int cmd_bench(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"drivers", required_argument, 0, 'd'},
		{"layers", required_argument, 0, 'l'},
		{"files", required_argument, 0, 'n'},
		{"file-size", required_argument, 0, 's'},
		{"large-files", required_argument, 0, 'N'},
		{"large-size", required_argument, 0, 'S'},
		{"runs", required_argument, 0, 'r'},
		{"shapes", required_argument, 0, 'k'},
		{"format", required_argument, 0, 'f'},
		{"plot", required_argument, 0, 'p'},
		{"dir", required_argument, 0, 'D'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct bench_cli b = {
		.p = {.files = 10000, .file_size = 4096, .large_files = 4, .large_size = 32 << 20, .layers = 100,
		      .runs = 3, .shapes = (1u << ST_BENCH_NSHAPES) - 1},
	};
	const char *tmpdir = getenv("TMPDIR");
	b.dir = tmpdir && *tmpdir ? tmpdir : "/var/tmp";
	char drivers_buf[512] = "", shapes_buf[256];
	int o, r;
	while ((o = cli_opt(c, argc, argv, "", opts))) {
		switch (o) {
		case 'd':
			snprintf(drivers_buf, sizeof(drivers_buf), "%s", optarg);
			if ((r = parse_drivers(c, &b, drivers_buf)) != 0)
				return r;
			break;
		case 'l':
			if ((r = parse_count(c, "--layers", optarg, &b.p.layers)) != 0)
				return r;
			break;
		case 'n':
			if ((r = parse_count(c, "--files", optarg, &b.p.files)) != 0)
				return r;
			break;
		case 'N':
			if ((r = parse_count(c, "--large-files", optarg, &b.p.large_files)) != 0)
				return r;
			break;
		case 'r':
			if ((r = parse_count(c, "--runs", optarg, &b.p.runs)) != 0)
				return r;
			break;
		case 's':
			if ((r = parse_bytes(c, "--file-size", optarg, &b.p.file_size)) != 0)
				return r;
			break;
		case 'S':
			if ((r = parse_bytes(c, "--large-size", optarg, &b.p.large_size)) != 0)
				return r;
			break;
		case 'k':
			snprintf(shapes_buf, sizeof(shapes_buf), "%s", optarg);
			if ((r = parse_shapes(c, &b, shapes_buf)) != 0)
				return r;
			break;
		case 'f':
			if (cli_format(c, optarg, &b.json) != 0)
				return EXIT_USAGE;
			break;
		case 'p': {
			const char *ext = strrchr(optarg, '.');
			if (!ext || (strcmp(ext, ".svg") != 0 && strcmp(ext, ".png") != 0))
				return cli_usage(c, "--plot: \"%s\" must end in .svg or .png", optarg);
			b.plot = optarg;
			break;
		}
		case 'D':
			b.dir = optarg;
			break;
		}
	}
	if ((r = cli_args(c, argc, 0, 0, NULL, NULL)) >= 0)
		return r;
	if (b.ndrivers == 0) {
		size_t n;
		const struct st_driver_ops *const *reg = st_driver_registry(&n);
		for (size_t i = 0; i < n && b.ndrivers < BENCH_MAX_DRIVERS; i++)
			b.drivers[b.ndrivers++] = reg[i]->name;
	}
	for (int i = 0; i < b.ndrivers; i++)
		if (!st_driver_lookup(b.drivers[i]))
			return cli_usage(c, "--drivers: unknown storage driver \"%s\"", b.drivers[i]);
	char dir[PATH_MAX];
	if (!realpath(b.dir, dir))
		return cli_failf("scratch directory \"%s\": %s", b.dir, strerror(errno));
	b.dir = dir;

	/* A private mount namespace: whatever the drivers mount (and the btrfs
	 * loop image) goes away with this process, even when it is killed. */
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);

	struct st_error err = {0};
	struct st_bench_inputs *in;
	if (st_bench_inputs_make(&b.p, &in, &err) < 0)
		return cli_fail(&err);
	for (int k = 0; k < ST_BENCH_NSHAPES; k++)
		b.per_driver += (b.p.shapes & (1u << k)) ? b.p.runs : 0;
	b.bar = isatty(STDERR_FILENO);
	struct st_bench_result *res = calloc((size_t)b.ndrivers, sizeof(*res));
	if (!res) {
		st_bench_inputs_free(in);
		return cli_failf("out of memory");
	}
	int rc = EXIT_OK;
	int ran = 0;
	for (int i = 0; i < b.ndrivers; i++) {
		b.driver_index = i;
		ran = i + 1;
		if (st_bench_driver(b.drivers[i], b.dir, in, bench_progress, &b, &res[i], &err) < 0) {
			/* the scratch directory itself failed: no use going on */
			res[i].failed = true;
			snprintf(res[i].reason, sizeof(res[i].reason), "%s", err.msg);
		}
		bench_progress(&b, b.drivers[i], b.per_driver, b.per_driver, "");
		if (res[i].failed) {
			rc = EXIT_ERR;
			if (!res[i].driver[0])
				snprintf(res[i].driver, sizeof(res[i].driver), "%s", b.drivers[i]);
		}
	}
	bench_progress_end(&b);
	st_bench_inputs_free(in);
	if (b.json) {
		/* seconds to the nanosecond, not json-c's 17 digits */
		json_c_set_serialization_double_format("%.9g", JSON_C_OPTION_THREAD);
		json_object *j = results_json(&b, res, ran);
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
								     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
	} else {
		print_table(&b, res, ran);
	}
	for (int i = 0; i < ran; i++)
		if (res[i].failed)
			fprintf(stderr, "strata: error: bench: %s: %s\n", res[i].driver, res[i].reason);
	if (b.plot && make_plot(&b, res, ran) != EXIT_OK)
		rc = EXIT_ERR;
	for (int i = 0; i < ran; i++)
		st_bench_result_free(&res[i]);
	free(res);
	return rc;
}
