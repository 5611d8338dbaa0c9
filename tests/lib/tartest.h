/* Test helpers: build layer tars with libarchive (never with shell tar,
 * which normalises hostile names), and memory readers/writers for the
 * st_reader / st_writer hooks. */
#ifndef ST_TARTEST_H
#define ST_TARTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "strata.h"

/* A growable byte buffer. */
struct tt_buf {
	unsigned char *data;
	size_t len, cap;
};
void tt_buf_add(struct tt_buf *b, const void *p, size_t n);
void tt_buf_free(struct tt_buf *b);

/* A tar under construction. format: an ARCHIVE_FORMAT_TAR_* constant;
 * block: bytes per block (0 = no blocking: end right after the two zero
 * blocks; -1 = libarchive's default 10240). */
struct tt_tar;
struct tt_tar *tt_tar_new(int format, int block);
/* Compress the output with gzip. */
void tt_tar_gzip(struct tt_tar *t);

/* Entry attributes; zero fields mean: uid/gid 0, mtime 1600000000. */
struct tt_attr {
	uid_t uid;
	gid_t gid;
	time_t mtime;
	const char *xattr_name[4]; /* NULL-terminated */
	const void *xattr_val[4];
	size_t xattr_len[4];
};

void tt_file(struct tt_tar *t, const char *path, mode_t perm, const char *content);
void tt_file_data(struct tt_tar *t, const char *path, mode_t perm, const void *data, size_t len,
		  const struct tt_attr *a);
void tt_dir(struct tt_tar *t, const char *path, mode_t perm);
void tt_dir_attr(struct tt_tar *t, const char *path, mode_t perm, const struct tt_attr *a);
void tt_symlink(struct tt_tar *t, const char *path, const char *target);
void tt_hardlink(struct tt_tar *t, const char *path, const char *target);
/* Character/block device or fifo: type is AE_IFCHR, AE_IFBLK or AE_IFIFO. */
void tt_node(struct tt_tar *t, const char *path, unsigned type, mode_t perm, unsigned maj, unsigned min);
/* A sparse file of `size` bytes whose data lies in [off, off+len) runs
 * filled with `fill`. */
void tt_sparse(struct tt_tar *t, const char *path, int64_t size, const int64_t *offs, const int64_t *lens,
	       size_t nruns, char fill);
/* Finish: the bytes of the archive (owned by the caller). */
void tt_tar_finish(struct tt_tar *t, struct tt_buf *out);

/* A reader over memory; chunk limits each read (0: no limit). */
struct tt_memreader {
	const unsigned char *data;
	size_t len, pos, chunk;
	struct st_reader r;
};
struct st_reader *tt_memreader(struct tt_memreader *m, const void *data, size_t len, size_t chunk);

/* A writer into a tt_buf. */
struct tt_memwriter {
	struct tt_buf buf;
	struct st_writer w;
};
struct st_writer *tt_memwriter(struct tt_memwriter *m);

/* Names of the entries of a tar, one "TYPE path[ -> target]" line each
 * (TYPE: f d l h c b p), in archive order. Caller frees. */
char *tt_tar_list(const void *data, size_t len);

/* sha256 of a buffer as "sha256:<hex>". */
void tt_sha256(const void *data, size_t len, char out[ST_DIGEST_LEN + 1]);

#endif
