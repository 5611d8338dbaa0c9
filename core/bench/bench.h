/* The storage-driver benchmark behind `strata bench`: one standard workload
 * run through the driver interface (st_driver_open on a scratch home, st_drv_*
 * calls), per driver and workload shape, timed per operation.
 *
 *   bench.c      workloads, the timed sequence, statistics
 *   bench_fs.c   scratch filesystems: a loop-mounted btrfs image made when
 *                the scratch directory is not on btrfs
 */
#ifndef ST_BENCH_H
#define ST_BENCH_H

#include "strata.h"

enum st_bench_shape {
	ST_BENCH_SMALL, /* many small files */
	ST_BENCH_LARGE, /* few large files */
	ST_BENCH_CHAIN, /* a deep chain of layers */
	ST_BENCH_NSHAPES,
};

enum st_bench_op {
	ST_BOP_CREATE,       /* create of an empty layer (no parent) */
	ST_BOP_APPLY,        /* apply of the shape's layer tar to it */
	ST_BOP_CREATE_CHILD, /* create of a read-write child of the populated top */
	ST_BOP_MOUNT,        /* first get of the child (mount) */
	ST_BOP_UNMOUNT,      /* last put (unmount) */
	ST_BOP_READ,         /* read files of the bottom layer through the child's mount */
	ST_BOP_COPYUP,       /* first write to lower files (copy-up) */
	ST_BOP_CHANGES,      /* changes of the changed child */
	ST_BOP_DIFF,         /* its diff as a layer tar */
	ST_BOP_COMMIT,       /* commit of the read-write child */
	ST_BOP_REMOVE,       /* removal of every layer of the run, top down */
	ST_BOP_N,
};

const char *st_bench_shape_name(enum st_bench_shape s);
const char *st_bench_op_name(enum st_bench_op op);

struct st_bench_params {
	int files;          /* small shape: this many files ... */
	int64_t file_size;  /* ... of this size each; also the chain layers' files */
	int large_files;    /* large shape: this many files ... */
	int64_t large_size; /* ... of this size each */
	int layers;         /* chain shape: layers in the chain */
	int runs;
	unsigned shapes;    /* bit (1 << enum st_bench_shape) per shape to run */
};

/* What one shape does per run, for reports. */
struct st_bench_work {
	int layers;        /* layers under the read-write child */
	int base_files;    /* files of the bottom layer */
	int64_t tar_bytes; /* size of the bottom layer's tar */
	int reads;         /* files read through the chain */
	int64_t read_bytes;
	int copyups;       /* lower files written once */
	int64_t copyup_bytes;
};

struct st_bench_stat {
	double min, median, max; /* seconds */
	double *samples;         /* one per run */
	int n;
};

struct st_bench_result {
	char driver[32];
	bool skipped;         /* not supported here */
	bool failed;          /* an operation failed */
	char reason[4096];    /* why it was skipped or failed */
	char backing[128];    /* where it ran: "tmpfs", "loop btrfs on tmpfs" */
	struct st_bench_work work[ST_BENCH_NSHAPES];
	struct st_bench_stat stat[ST_BENCH_NSHAPES][ST_BOP_N];
};

void st_bench_result_free(struct st_bench_result *r);

/* The shapes' layer tars, made once (in memory) for every driver. */
struct st_bench_inputs;
int st_bench_inputs_make(const struct st_bench_params *p, struct st_bench_inputs **out, struct st_error *err);
void st_bench_inputs_free(struct st_bench_inputs *in);

/* Progress: `done` of `total` runs of this driver finished; what names the
 * one starting ("small 2/3"). */
typedef void (*st_bench_progress_fn)(void *ctx, const char *driver, int done, int total, const char *what);

/* Run the workload on driver `name` in a fresh directory under scratch_dir
 * (removed afterwards). A driver that cannot work here is reported as
 * skipped with the reason, one whose operation fails as failed with the
 * error (both return 0); errors of the benchmark itself (the scratch
 * directory) return a negative errno. */
int st_bench_driver(const char *name, const char *scratch_dir, const struct st_bench_inputs *in,
		    st_bench_progress_fn progress, void *ctx, struct st_bench_result *out,
		    struct st_error *err);

/* ---- bench_fs.c */

/* A btrfs filesystem for the bench: a sparse image of `size` bytes in dir,
 * made by mkfs.btrfs and loop-mounted on dir/mnt. */
int st_bench_btrfs_mount(const char *dir, int64_t size, char *mnt, size_t len, struct st_error *err);
/* Unmount everything mounted at or below dir (deepest first), so the loop
 * device (autoclear) goes away; then the image can be deleted. */
void st_bench_umount_below(const char *dir);

#endif
