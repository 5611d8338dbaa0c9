/* What the apply's files share (private to core/archive): the applier's
 * state, its undo journal (apply_journal.c) and the tar input's read hook
 * (tar_in.c). */
#ifndef ST_ARCHIVE_INT_H
#define ST_ARCHIVE_INT_H

#include <archive.h>
#include <sys/stat.h>

#include "base/base.h"
#include "archive/archive.h"

enum jkind { J_CREATED, J_MOVED, J_META };

/* Journal paths are real paths below the root (no symlink in them), so that
 * the rollback, the tar-split record and the directory times find what an
 * entry reached through an in-layer symlink. */
struct jent {
	enum jkind kind;
	char *path;
	char *backup;       /* J_MOVED: name in the scratch directory */
	struct stat st;     /* J_META: what to restore */
	struct st_xattrs x;
};

struct dirtime {
	char *path;
	struct timespec ts[2];
};

struct applier {
	int root;
	const struct st_apply_opts *o;
	struct st_error *err;
	struct st_tar_in *in;
	struct archive *a;
	struct st_hashmap created; /* paths this apply made (value 1) */
	struct st_hashmap seen;    /* paths of the entries so far: one entry a path */
	struct st_hashmap touched; /* directories whose metadata is journaled */
	struct jent *j;
	size_t nj, capj;
	struct dirtime *dt;
	size_t ndt, capdt;
	char scratch[64];
	int scratch_fd;
	unsigned nbackup;
	char rootpath[PATH_MAX]; /* the root as /proc/self/fd shows it */
	size_t rootlen;
	struct stat root_st;
	char parent_path[PATH_MAX]; /* the cached parent, as named in the tar */
	char parent_real[PATH_MAX]; /* ... and where it really is */
	int parent_fd;
	int64_t size;
	/* small regular files are written and given their metadata on worker
	 * threads once created (made at the first one) */
	struct st_filejobs *jobs;
};

/* Files up to this size go to the workers with their data in memory. */
#define APPLY_JOB_MAX (1 << 20)

/* libarchive reads the tar from in (decompressed, hashed, recorded). */
int st_tar_in_read_open(struct archive *a, struct st_tar_in *in);

/* ------------------------------------------------ the journal (apply_journal.c) */

int ap_set_metadata(int dirfd, const char *name, int fd, const struct stat *st, const struct st_xattrs *x,
		    struct st_error *err);
void ap_parent_of(const char *path, char *out, size_t len);
bool ap_is_created(struct applier *ap, const char *path);
int ap_touch_dir(struct applier *ap, const char *dir);
int ap_touch_parent(struct applier *ap, const char *path);
int ap_mark_created(struct applier *ap, const char *path);
int ap_displace(struct applier *ap, int pfd, const char *base, const char *path);
void ap_remove_scratch(struct applier *ap);
void ap_rollback(struct applier *ap);
void ap_applier_free(struct applier *ap);

#endif
