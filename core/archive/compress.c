/* Compression on libarchive's write filters, in "raw" format (the bytes
 * given are the stream, no archive around them) and without blocking
 * (no padding to a block size). */
#include <archive.h>
#include <archive_entry.h>

#include "base/base.h"
#include "archive/archive.h"

struct st_compressor {
	struct archive *a;
	struct st_writer *out;
	struct st_writer in;
	int werr; /* the downstream writer's failure */
	bool finished;
};

static la_ssize_t z_out(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct st_compressor *z = ctx;
	int r = z->out->write(z->out->ctx, buf, len);
	if (r < 0) {
		z->werr = r;
		archive_set_error(a, -r, "%s", strerror(-r));
		return -1;
	}
	return (la_ssize_t)len;
}

static int z_in(void *ctx, const void *buf, size_t len)
{
	struct st_compressor *z = ctx;
	const char *p = buf;
	while (len > 0) {
		la_ssize_t n = archive_write_data(z->a, p, len);
		if (n <= 0)
			return z->werr ? z->werr : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int z_fail(struct st_compressor *z, const char *what, struct st_error *err)
{
	if (z->werr)
		return st_error_fail(err, -z->werr, "%s: %s", what, strerror(-z->werr));
	int e = archive_errno(z->a) > 0 ? archive_errno(z->a) : EIO;
	return st_error_fail(err, e, "%s: %s", what, archive_error_string(z->a) ? archive_error_string(z->a) : "failed");
}

int st_compressor_new(enum st_compression c, struct st_writer *out, struct st_compressor **zp, struct st_error *err)
{
	*zp = NULL;
	struct st_compressor *z = calloc(1, sizeof(*z));
	if (!z || !(z->a = archive_write_new())) {
		free(z);
		return st_error_set(err, ENOMEM, "compressor");
	}
	z->out = out;
	z->in = (struct st_writer){.write = z_in, .ctx = z};
	int r = ARCHIVE_OK;
	if (c == ST_COMPRESS_GZIP) {
		r = archive_write_add_filter_gzip(z->a);
		/* no mtime in the header: the same input gives the same blob */
		if (r == ARCHIVE_OK)
			r = archive_write_set_filter_option(z->a, "gzip", "timestamp", NULL);
	} else if (c == ST_COMPRESS_ZSTD) {
		r = archive_write_add_filter_zstd(z->a);
	}
	struct archive_entry *e = archive_entry_new();
	if (r == ARCHIVE_OK && e) {
		archive_write_set_format_raw(z->a);
		archive_write_set_bytes_per_block(z->a, 0);
		archive_write_set_bytes_in_last_block(z->a, 1);
		r = archive_write_open2(z->a, z, NULL, z_out, NULL, NULL);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_pathname(e, "layer.tar");
		if (r == ARCHIVE_OK)
			r = archive_write_header(z->a, e);
	}
	if (e)
		archive_entry_free(e);
	if (r != ARCHIVE_OK) {
		int ret = z_fail(z, c == ST_COMPRESS_ZSTD ? "zstd compressor" : "gzip compressor", err);
		st_compressor_free(z);
		return ret;
	}
	*zp = z;
	return 0;
}

struct st_writer *st_compressor_writer(struct st_compressor *z) { return &z->in; }

int st_compressor_finish(struct st_compressor *z, struct st_error *err)
{
	z->finished = true;
	if (archive_write_close(z->a) != ARCHIVE_OK)
		return z_fail(z, "compress", err);
	return 0;
}

void st_compressor_free(struct st_compressor *z)
{
	if (!z)
		return;
	if (z->a) {
		/* an abandoned stream is not flushed into the writer */
		if (!z->finished)
			archive_write_fail(z->a);
		archive_write_free(z->a);
	}
	free(z);
}
