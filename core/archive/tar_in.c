/* The tar input of an apply (struct st_tar_in): libarchive's raw filter
 * decompresses whatever the source is (gzip, zstd, xz, bzip2 or none), a
 * hashing ring takes the DiffID of the uncompressed bytes on a second core,
 * and a tar-split recorder may keep the bytes that are not file data. */
#include <archive.h>
#include <archive_entry.h>

#include "base/base.h"
#include "archive/archive.h"
#include "archive_int.h"

#define TAR_IN_BUF (256 * 1024)
/* Buffers in flight between the reader and the hashing thread: enough to
 * keep both cores busy, little memory. */
#define TAR_IN_NBUFS 8

/* ------------------------------------------------------------ tar input */

static la_ssize_t src_read(struct archive *a, void *ctx, const void **buf)
{
	struct st_tar_in *in = ctx;
	static __thread unsigned char sbuf[TAR_IN_BUF];
	ssize_t n;
	do
		n = in->src->read(in->src->ctx, sbuf, sizeof(sbuf));
	while (n == -EINTR);
	if (n < 0) {
		in->error = (int)n;
		archive_set_error(a, (int)-n, "read layer: %s", strerror((int)-n));
		return -1;
	}
	*buf = sbuf;
	return n;
}

int st_tar_in_init(struct st_tar_in *in, struct st_reader *src, struct st_error *err)
{
	memset(in, 0, sizeof(*in));
	in->src = src;
	/* the DiffID is hashed on a second core while the tar is applied */
	if (st_hashring_new(TAR_IN_NBUFS, TAR_IN_BUF, &in->ring) < 0)
		return st_error_set(err, ENOMEM, "layer input");
	in->buflen = TAR_IN_BUF;
	struct archive *d = archive_read_new();
	if (!d) {
		st_tar_in_free(in);
		return st_error_set(err, ENOMEM, "layer input");
	}
	archive_read_support_filter_all(d);
	archive_read_support_format_raw(d);
	in->decomp = d;
	if (archive_read_open(d, in, NULL, src_read, NULL) != ARCHIVE_OK) {
		if (in->error == 0 && archive_errno(d) == 0) {
			/* empty input: an empty stream */
			in->decomp_eof = true;
			return 0;
		}
		int r = st_error_fail(err, in->error ? -in->error : EINVAL, "layer input: %s",
				      archive_error_string(d));
		st_tar_in_free(in);
		return r;
	}
	struct archive_entry *e;
	int r = archive_read_next_header(d, &e);
	if (r == ARCHIVE_EOF) {
		in->decomp_eof = true;
	} else if (r < ARCHIVE_WARN) {
		r = st_error_fail(err, in->error ? -in->error : EINVAL, "layer input: %s",
				  archive_error_string(d));
		st_tar_in_free(in);
		return r;
	}
	return 0;
}

/* Uncompressed bytes: hashed and shown to the tar-split recorder. */
static ssize_t tar_in_pull(struct st_tar_in *in, struct st_error *err)
{
	if (in->decomp_eof)
		return 0;
	in->buf = st_hashring_next(in->ring);
	la_ssize_t n = archive_read_data(in->decomp, in->buf, in->buflen);
	if (n < 0) {
		int e = in->error ? -in->error : EIO;
		snprintf(in->errmsg, sizeof(in->errmsg), "%s", archive_error_string(in->decomp));
		return st_error_fail(err, e, "layer input: %s", in->errmsg);
	}
	if (n == 0) {
		in->decomp_eof = true;
		return 0;
	}
	st_hashring_submit(in->ring, (size_t)n);
	if (in->ts)
		st_tarsplit_bytes(in->ts, in->pos, in->buf, (size_t)n);
	in->pos += n;
	return n;
}

static la_ssize_t tar_read(struct archive *a, void *ctx, const void **buf)
{
	struct st_tar_in *in = ctx;
	struct st_error e;
	ssize_t n = tar_in_pull(in, &e);
	if (n < 0) {
		archive_set_error(a, e.code, "%s", e.msg);
		return -1;
	}
	*buf = in->buf;
	return n;
}

int st_tar_in_read_open(struct archive *a, struct st_tar_in *in)
{
	return archive_read_open(a, in, NULL, tar_read, NULL);
}

int st_tar_in_finish(struct st_tar_in *in, struct st_error *err)
{
	ssize_t n;
	while ((n = tar_in_pull(in, err)) > 0)
		;
	if (n < 0)
		return (int)n;
	if (in->ts && st_tarsplit_end(in->ts, in->pos) < 0)
		return st_error_set(err, ENOMEM, "record layer tar");
	st_hashring_final(in->ring, in->diff_id);
	return 0;
}

void st_tar_in_free(struct st_tar_in *in)
{
	if (in->decomp)
		archive_read_free(in->decomp);
	in->decomp = NULL;
	st_hashring_free(in->ring);
	in->ring = NULL;
	in->buf = NULL;
}
