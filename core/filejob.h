/* Finishing new regular files on worker threads: their data (from memory or
 * copied from another file) and metadata (owner, mode, xattrs, times, in
 * st_set_metadata's order), then closing them. The thread walking a tree or
 * a tar keeps the order-sensitive work (names, links, directories,
 * whiteouts, the journal) and hands each file over once it is created, so
 * the bulk of the system calls runs on the other cores.
 *
 * A file is complete only after st_filejobs_finish: callers must finish
 * (or abort) before anything reads, renames or removes what they made. The
 * first failure is kept and returned by finish; later jobs are dropped. */
#ifndef ST_FILEJOB_H
#define ST_FILEJOB_H

#include <stdbool.h>
#include <sys/stat.h>

#include "fs.h"
#include "strata.h"

struct st_filejob {
	int dst;                /* the new file, open for writing (the pool closes it) */
	int src;                /* -1, or a file to copy the data from (closed by the pool) */
	struct stat src_st;     /* src's stat (size, blocks: sparse copies) */
	void *data;             /* -1 src: bytes to write at offset 0 (freed by the pool) */
	size_t len;
	int64_t size;           /* the final size: truncated up to it if the data ends short */
	bool meta;              /* apply st below (and x) */
	struct stat st;         /* owner, mode, times */
	struct st_xattrs x;     /* moved into the pool */
	char what[256];         /* for messages: "layer entry \"a/b\"", "copy \"a/b\"" */
};

struct st_filejobs;

/* A pool with a worker per core beyond the first (at least one, at most
 * four). 0 or -ENOMEM; without threads, jobs run in st_filejobs_add. */
int st_filejobs_new(struct st_filejobs **out);
/* Hand a job over (its fds, data and xattrs belong to the pool from now
 * on, also on failure). When the queue is full the caller runs the job
 * itself, so the work balances between it and the workers. Returns the first
 * failure of an earlier job, if any (err filled), else 0. */
int st_filejobs_add(struct st_filejobs *p, struct st_filejob *j, struct st_error *err);
/* Wait for every job; the first failure (err filled) or 0. */
int st_filejobs_finish(struct st_filejobs *p, struct st_error *err);
/* Drop what is queued (closing its files), wait for the workers, free. */
void st_filejobs_free(struct st_filejobs *p);

#endif
