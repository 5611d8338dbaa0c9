/* core/archive: layer tars, above base and knowing nothing of layers or
 * stores. Reading one (tar_in.c: decompress, hash, record), applying one to
 * a directory (apply*.c), writing one from a tree or a change list and
 * computing changes (diff.c), keeping a tar's exact bytes (tarsplit.c), and
 * compressing (compress.c). */
#ifndef ST_ARCHIVE_H
#define ST_ARCHIVE_H



#include "strata.h"
#include "base/base.h"

/* ---------------------- tar input and apply (tar_in.c, apply*.c), diff.c */

/* Layer tars on libarchive: apply one to a directory (safely, fd-relative,
 * with rollback), write one from a directory tree or from a change list,
 * and compute the change list between two trees. */
struct st_tarsplit;
struct st_hashring;

/* A layer tar being read: decompresses (gzip, zstd, xz, bzip2 or none),
 * hashes the uncompressed bytes (the DiffID) and can record the tar's
 * non-file bytes (tar-split) so that the exact tar can be rebuilt later. */
struct st_tar_in {
	struct st_reader *src;
	void *decomp;            /* struct archive * in raw mode */
	bool decomp_eof;
	struct st_hashring *ring; /* hashes on a helper thread; owns the buffers */
	int64_t pos;             /* uncompressed bytes handed out */
	struct st_tarsplit *ts;  /* NULL unless recording */
	unsigned char *buf;      /* the buffer handed out last (the ring's) */
	size_t buflen;
	int error;               /* first read error (negative errno) */
	char errmsg[512];
	char diff_id[ST_DIGEST_LEN + 1];
};

int st_tar_in_init(struct st_tar_in *in, struct st_reader *src, struct st_error *err);
/* Read the rest of the input (trailing zero blocks) and finish the digest. */
int st_tar_in_finish(struct st_tar_in *in, struct st_error *err);
void st_tar_in_free(struct st_tar_in *in);

struct st_apply_opts {
	enum st_whiteout_format wh;
};

/* Unpack the tar into the directory rootfd. Nothing is created or followed
 * outside it: "..", absolute names, symlinked parents leading out, hardlinks
 * to outside, bad whiteouts and overlay's private xattrs are rejected, and on
 * any error the directory is put back as it was. Returns the bytes of file
 * data applied. */
int64_t st_archive_apply(int rootfd, struct st_tar_in *in, const struct st_apply_opts *o,
			 struct st_error *err);

/* The whole tree as a layer tar (sorted, deterministic). With ST_WH_OVERLAY
 * 0/0 character devices become .wh.NAME and opaque directories get
 * .wh..wh..opq; with ST_WH_AUFS aufs' own .wh..wh.* files are skipped. */
int st_archive_write_tree(int rootfd, enum st_whiteout_format wh, struct st_writer *w,
			  struct st_error *err);
/* The listed changes of the tree at rootfd as a layer tar (naive diff). */
int st_archive_write_changes(int rootfd, const struct st_changes *c, struct st_writer *w,
			     struct st_error *err);

/* Changes of the tree `layer` against `parent` (parent -1: everything is
 * added), as `docker diff` reports them. Files with the same size and mtime
 * are compared byte for byte unless their inode was last changed before
 * `settled` (when the layer's copy of its parent was finished; may be NULL). */
struct timespec;
struct stat;
int st_changes_compute(int layerfd, int parentfd, const struct timespec *settled,
		       struct st_changes *out, struct st_error *err);
/* The comparison st_changes_compute makes of one entry present in both
 * trees (n: the layer's, o: the parent's, both named name in their
 * directories nfd and ofd): type, owner, mode, size, mtime, link target,
 * xattrs, then the bytes unless the inode is older than settled (may be
 * NULL). The inode a snapshot shares with its parent counts as unchanged
 * while its ctime is the parent's, unless the driver knows it was written
 * (written: a change in the same clock tick keeps the ctime). For drivers
 * that compare trees their own way (aufs branches, btrfs). */
bool st_entry_changed(int nfd, int ofd, const char *name, const struct stat *n, const struct stat *o,
		      const struct timespec *settled, bool written);
/* Bytes of regular files that the changes add (each inode once). */
int64_t st_changes_size(int layerfd, const struct st_changes *c, struct st_error *err);

/* Whiteout names (OCI image spec). */
#define ST_WH_PREFIX ".wh."
#define ST_WH_META_PREFIX ".wh..wh."
#define ST_WH_OPAQUE ".wh..wh..opq"

/* ---------------------------------------------------------- tar-split */

/* Record while applying: out_fd receives the gzip'd record stream. */
int st_tarsplit_new(int out_fd, struct st_tarsplit **ts);
/* Flush and free; the record file is complete when this returns 0. */
int st_tarsplit_close(struct st_tarsplit *ts);
void st_tarsplit_abort(struct st_tarsplit *ts);
/* Rebuild the tar from the records and the layer's files under rootfd. */
int st_tarsplit_replay(int rec_fd, int rootfd, struct st_writer *w, struct st_error *err);

/* Used by st_tar_in / st_archive_apply. The bytes are referenced, not
 * copied: data must stay valid until the next st_tarsplit_bytes (or the
 * end), as libarchive's read buffers do. */
void st_tarsplit_bytes(struct st_tarsplit *ts, int64_t pos, const void *data, size_t len);
int st_tarsplit_entry(struct st_tarsplit *ts, int64_t data_start, const char *path, int64_t payload);
int st_tarsplit_end(struct st_tarsplit *ts, int64_t total);

/* ------------------------------------------------------------ compress.c */

/* A writer that compresses (gzip or zstd, through libarchive's filters)
 * into another writer. Deterministic: no time or name in the gzip header,
 * so a layer compressed twice gives the same blob digest. */
enum st_compression { ST_COMPRESS_NONE, ST_COMPRESS_GZIP, ST_COMPRESS_ZSTD };

struct st_compressor;

int st_compressor_new(enum st_compression c, struct st_writer *out, struct st_compressor **z, struct st_error *err);
/* The writer to give the uncompressed bytes to. */
struct st_writer *st_compressor_writer(struct st_compressor *z);
/* Flush the end of the stream into out. */
int st_compressor_finish(struct st_compressor *z, struct st_error *err);
void st_compressor_free(struct st_compressor *z);

#endif
