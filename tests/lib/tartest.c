/* Test helpers: tars built with libarchive, memory readers and writers. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/base.h"
#include "tartest.h"

void tt_buf_add(struct tt_buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->len + n)
			nc *= 2;
		b->data = realloc(b->data, nc);
		ck_assert_ptr_nonnull(b->data);
		b->cap = nc;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void tt_buf_free(struct tt_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

struct tt_tar {
	struct archive *a;
	struct tt_buf out;
	bool opened, gzip;
	int block;
};

static la_ssize_t tt_write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
	(void)a;
	tt_buf_add(&((struct tt_tar *)ctx)->out, buf, len);
	return (la_ssize_t)len;
}

struct tt_tar *tt_tar_new(int format, int block)
{
	struct tt_tar *t = calloc(1, sizeof(*t));
	ck_assert_ptr_nonnull(t);
	t->a = archive_write_new();
	ck_assert_int_eq(archive_write_set_format(t->a, format), ARCHIVE_OK);
	t->block = block;
	return t;
}

void tt_tar_gzip(struct tt_tar *t)
{
	t->gzip = true;
}

static void tt_open(struct tt_tar *t)
{
	if (t->opened)
		return;
	if (t->gzip)
		ck_assert_int_eq(archive_write_add_filter_gzip(t->a), ARCHIVE_OK);
	if (t->block >= 0) {
		archive_write_set_bytes_per_block(t->a, t->block);
		archive_write_set_bytes_in_last_block(t->a, 1);
	}
	ck_assert_int_eq(archive_write_open2(t->a, t, NULL, tt_write_cb, NULL, NULL), ARCHIVE_OK);
	t->opened = true;
}

static struct archive_entry *tt_entry(const char *path, unsigned type, mode_t perm, const struct tt_attr *a)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, a ? a->uid : 0);
	archive_entry_set_gid(e, a ? a->gid : 0);
	archive_entry_set_mtime(e, a && a->mtime ? a->mtime : 1600000000, 0);
	for (int i = 0; a && i < 4 && a->xattr_name[i]; i++)
		archive_entry_xattr_add_entry(e, a->xattr_name[i], a->xattr_val[i], a->xattr_len[i]);
	return e;
}

static void tt_put(struct tt_tar *t, struct archive_entry *e, const void *data, size_t len)
{
	tt_open(t);
	int r = archive_write_header(t->a, e);
	ck_assert_msg(r >= ARCHIVE_WARN, "tar header %s: %s", archive_entry_pathname(e), archive_error_string(t->a));
	if (len)
		ck_assert_int_eq(archive_write_data(t->a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

void tt_file_data(struct tt_tar *t, const char *path, mode_t perm, const void *data, size_t len,
		  const struct tt_attr *a)
{
	struct archive_entry *e = tt_entry(path, AE_IFREG, perm, a);
	archive_entry_set_size(e, (la_int64_t)len);
	tt_put(t, e, data, len);
}

void tt_file(struct tt_tar *t, const char *path, mode_t perm, const char *content)
{
	tt_file_data(t, path, perm, content, strlen(content), NULL);
}

void tt_dir_attr(struct tt_tar *t, const char *path, mode_t perm, const struct tt_attr *a)
{
	tt_put(t, tt_entry(path, AE_IFDIR, perm, a), NULL, 0);
}

void tt_dir(struct tt_tar *t, const char *path, mode_t perm)
{
	tt_dir_attr(t, path, perm, NULL);
}

void tt_symlink(struct tt_tar *t, const char *path, const char *target)
{
	struct archive_entry *e = tt_entry(path, AE_IFLNK, 0777, NULL);
	archive_entry_set_symlink(e, target);
	tt_put(t, e, NULL, 0);
}

void tt_hardlink(struct tt_tar *t, const char *path, const char *target)
{
	struct archive_entry *e = tt_entry(path, AE_IFREG, 0644, NULL);
	archive_entry_set_hardlink(e, target);
	archive_entry_set_size(e, 0);
	tt_put(t, e, NULL, 0);
}

void tt_node(struct tt_tar *t, const char *path, unsigned type, mode_t perm, unsigned maj, unsigned min)
{
	struct archive_entry *e = tt_entry(path, type, perm, NULL);
	archive_entry_set_rdev(e, makedev(maj, min));
	tt_put(t, e, NULL, 0);
}

void tt_sparse(struct tt_tar *t, const char *path, int64_t size, const int64_t *offs, const int64_t *lens,
	       size_t nruns, char fill)
{
	struct archive_entry *e = tt_entry(path, AE_IFREG, 0644, NULL);
	archive_entry_set_size(e, size);
	for (size_t i = 0; i < nruns; i++)
		archive_entry_sparse_add_entry(e, offs[i], lens[i]);
	tt_open(t);
	int r = archive_write_header(t->a, e);
	ck_assert_msg(r >= ARCHIVE_WARN, "tar header %s: %s", path, archive_error_string(t->a));
	/* the pax writer takes the whole logical file and skips the holes */
	char *buf = malloc((size_t)size ? (size_t)size : 1);
	memset(buf, 0, (size_t)size);
	for (size_t i = 0; i < nruns; i++)
		memset(buf + offs[i], fill, (size_t)lens[i]);
	ck_assert_int_eq(archive_write_data(t->a, buf, (size_t)size), (la_ssize_t)size);
	free(buf);
	archive_entry_free(e);
}

void tt_tar_finish(struct tt_tar *t, struct tt_buf *out)
{
	tt_open(t);
	ck_assert_int_eq(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
	*out = t->out;
	free(t);
}

static ssize_t tt_mem_read(void *ctx, void *buf, size_t len)
{
	struct tt_memreader *m = ctx;
	size_t n = m->len - m->pos;
	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

struct st_reader *tt_memreader(struct tt_memreader *m, const void *data, size_t len, size_t chunk)
{
	m->data = data;
	m->len = len;
	m->pos = 0;
	m->chunk = chunk;
	m->r.read = tt_mem_read;
	m->r.ctx = m;
	return &m->r;
}

static int tt_mem_write(void *ctx, const void *buf, size_t len)
{
	tt_buf_add(&((struct tt_memwriter *)ctx)->buf, buf, len);
	return 0;
}

struct st_writer *tt_memwriter(struct tt_memwriter *m)
{
	memset(m, 0, sizeof(*m));
	m->w.write = tt_mem_write;
	m->w.ctx = m;
	return &m->w;
}

char *tt_tar_list(const void *data, size_t len)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	ck_assert_int_eq(archive_read_open_memory(a, data, len), ARCHIVE_OK);
	struct tt_buf out = {0};
	struct archive_entry *e;
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		char line[8192];
		const char *hl = archive_entry_hardlink(e);
		char type = 'f';
		switch (archive_entry_filetype(e)) {
		case AE_IFDIR: type = 'd'; break;
		case AE_IFLNK: type = 'l'; break;
		case AE_IFCHR: type = 'c'; break;
		case AE_IFBLK: type = 'b'; break;
		case AE_IFIFO: type = 'p'; break;
		}
		if (hl)
			type = 'h';
		const char *target = hl ? hl : archive_entry_symlink(e);
		snprintf(line, sizeof(line), "%c %s%s%s\n", type, archive_entry_pathname(e), target ? " -> " : "",
			 target ? target : "");
		tt_buf_add(&out, line, strlen(line));
	}
	ck_assert_msg(r == ARCHIVE_EOF, "listing tar: %s", archive_error_string(a));
	archive_read_free(a);
	tt_buf_add(&out, "", 1);
	return (char *)out.data;
}

void tt_sha256(const void *data, size_t len, char out[ST_DIGEST_LEN + 1])
{
	ck_assert_int_eq(st_sha256_buf(data, len, out), 0);
}
