/* tar-split: keep the bytes of a layer tar that are not file contents
 * (headers, pax records, padding, the end blocks) and, for each regular
 * file, a reference to the file in the layer. Replaying the records against
 * the layer's files gives back the original tar byte for byte, so a layer
 * keeps its digest through save and push without storing it twice.
 *
 * Record stream (gzip): 'R' u32 len, bytes | 'F' u16 len, path, u64 size. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <zlib.h>

#include "base/base.h"
#include "archive/archive.h"

#define TS_OBUF (64 * 1024)

struct st_tarsplit {
	gzFile gz;
	/* Records are gathered in obuf and compressed on a helper thread (fed
	 * through pipe), so deflate runs on another core than the apply. */
	unsigned char obuf[TS_OBUF];
	size_t olen;
	struct st_bytepipe pipe;
	pthread_t th;
	bool threaded;
	int gz_error;         /* the helper's gzwrite failed */
	/* The stream bytes not recorded yet, from win_start: win_len of them
	 * copied into win (at win + head), then ref_len more still in the
	 * caller's buffer of the last st_tarsplit_bytes (valid until its next
	 * call, as libarchive's read buffers are). Only what is left of a
	 * buffer when the next one comes is copied: not the file payloads. */
	unsigned char *win;
	size_t head;
	size_t win_len, win_cap;
	int64_t win_start;
	const unsigned char *ref;
	size_t ref_len;
	int64_t skip_until;   /* payload bytes below this are not kept */
	int error;
};

static void *tarsplit_compress(void *arg)
{
	struct st_tarsplit *ts = arg;
	_cleanup_free_ unsigned char *buf = malloc(TS_OBUF);
	for (;;) {
		ssize_t n = buf ? st_bytepipe_read(&ts->pipe, buf, TS_OBUF, NULL) : -ENOMEM;
		if (n == 0)
			break;
		if (n < 0 || gzwrite(ts->gz, buf, (unsigned)n) != (int)n) {
			ts->gz_error = -EIO;
			st_bytepipe_cancel(&ts->pipe); /* the writer's next flush fails */
			break;
		}
	}
	return NULL;
}

int st_tarsplit_new(int out_fd, struct st_tarsplit **out)
{
	struct st_tarsplit *ts = calloc(1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	int fd = dup(out_fd);
	if (fd < 0 || !(ts->gz = gzdopen(fd, "wb1"))) {
		if (fd >= 0)
			close(fd);
		free(ts);
		return -ENOMEM;
	}
	/* without a thread, records are compressed in flush */
	if (st_bytepipe_init(&ts->pipe, 1 << 20) == 0) {
		ts->threaded = pthread_create(&ts->th, NULL, tarsplit_compress, ts) == 0;
		if (!ts->threaded)
			st_bytepipe_destroy(&ts->pipe);
	}
	*out = ts;
	return 0;
}

static void flush(struct st_tarsplit *ts)
{
	if (ts->olen == 0 || ts->error)
		return;
	if (ts->threaded) {
		if (st_bytepipe_write(&ts->pipe, ts->obuf, ts->olen) < 0)
			ts->error = -EIO;
	} else if (gzwrite(ts->gz, ts->obuf, (unsigned)ts->olen) != (int)ts->olen) {
		ts->error = -EIO;
	}
	ts->olen = 0;
}

static void put(struct st_tarsplit *ts, const void *p, size_t n)
{
	const unsigned char *b = p;
	while (!ts->error && n > 0) {
		if (ts->olen == TS_OBUF)
			flush(ts);
		size_t k = TS_OBUF - ts->olen < n ? TS_OBUF - ts->olen : n;
		memcpy(ts->obuf + ts->olen, b, k);
		ts->olen += k;
		b += k;
		n -= k;
	}
}

/* Wait for the helper: after a clean end (flushed) or a cancel. */
static void tarsplit_join(struct st_tarsplit *ts, bool cancel)
{
	if (!ts->threaded)
		return;
	if (cancel)
		st_bytepipe_cancel(&ts->pipe);
	else
		st_bytepipe_close(&ts->pipe, 0, NULL);
	pthread_join(ts->th, NULL);
	st_bytepipe_destroy(&ts->pipe);
	ts->threaded = false;
}

static void put_u(struct st_tarsplit *ts, uint64_t v, int bytes)
{
	unsigned char b[8];
	for (int i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(ts, b, (size_t)bytes);
}

static size_t win_total(const struct st_tarsplit *ts)
{
	return ts->win_len + ts->ref_len;
}

/* The first n bytes of the window as raw records (at most 1 GiB each). */
static void emit_raw(struct st_tarsplit *ts, size_t n)
{
	size_t off = 0;
	while (n > 0) {
		size_t chunk = n > (1u << 30) ? (1u << 30) : n;
		put(ts, "R", 1);
		put_u(ts, chunk, 4);
		for (size_t left = chunk; left > 0;) {
			size_t k;
			if (off < ts->win_len) {
				k = ts->win_len - off < left ? ts->win_len - off : left;
				put(ts, ts->win + ts->head + off, k);
			} else {
				k = left;
				put(ts, ts->ref + (off - ts->win_len), k);
			}
			off += k;
			left -= k;
		}
		n -= chunk;
	}
}

static void drop_front(struct st_tarsplit *ts, size_t n)
{
	if (n > win_total(ts))
		n = win_total(ts);
	ts->win_start += (int64_t)n;
	size_t k = n < ts->win_len ? n : ts->win_len;
	ts->head += k;
	ts->win_len -= k;
	if (ts->win_len == 0)
		ts->head = 0;
	ts->ref += n - k;
	ts->ref_len -= n - k;
}

/* Copy what is left of the caller's last buffer into win. */
static void keep_ref(struct st_tarsplit *ts)
{
	size_t len = ts->ref_len;
	if (len == 0)
		return;
	if (ts->head && ts->head + ts->win_len + len > ts->win_cap) {
		memmove(ts->win, ts->win + ts->head, ts->win_len);
		ts->head = 0;
	}
	if (ts->head + ts->win_len + len > ts->win_cap) {
		size_t nc = ts->win_cap ? ts->win_cap : 65536;
		while (nc < ts->head + ts->win_len + len)
			nc *= 2;
		unsigned char *nw = realloc(ts->win, nc);
		if (!nw) {
			ts->error = -ENOMEM;
			ts->ref_len = 0;
			return;
		}
		ts->win = nw;
		ts->win_cap = nc;
	}
	memcpy(ts->win + ts->head + ts->win_len, ts->ref, len);
	ts->win_len += len;
	ts->ref = NULL;
	ts->ref_len = 0;
}

void st_tarsplit_bytes(struct st_tarsplit *ts, int64_t pos, const void *data, size_t len)
{
	keep_ref(ts);
	const unsigned char *p = data;
	if (pos < ts->skip_until) {
		int64_t skip = ts->skip_until - pos;
		if ((int64_t)len <= skip)
			return;
		p += skip;
		len -= (size_t)skip;
		pos += skip;
	}
	if (ts->win_len == 0)
		ts->win_start = pos;
	ts->ref = p;
	ts->ref_len = len;
}

/* Everything before data_start is raw; the payload that follows is the
 * file at path (NULL: keep the payload raw, it goes with the next entry). */
int st_tarsplit_entry(struct st_tarsplit *ts, int64_t data_start, const char *path, int64_t payload)
{
	if (ts->error)
		return ts->error;
	if (data_start < ts->win_start || data_start > ts->win_start + (int64_t)win_total(ts))
		return ts->error = -EPROTO;
	size_t n = (size_t)(data_start - ts->win_start);
	emit_raw(ts, n);
	drop_front(ts, n);
	if (!path || payload <= 0)
		return ts->error;
	size_t plen = strlen(path);
	put(ts, "F", 1);
	put_u(ts, plen, 2);
	put(ts, path, plen);
	put_u(ts, (uint64_t)payload, 8);
	int64_t end = data_start + payload;
	drop_front(ts, (size_t)(end - ts->win_start) < win_total(ts) ? (size_t)(end - ts->win_start) : win_total(ts));
	if (win_total(ts) == 0)
		ts->win_start = end;
	ts->skip_until = end;
	return ts->error;
}

int st_tarsplit_end(struct st_tarsplit *ts, int64_t total)
{
	if (ts->error)
		return ts->error;
	if (ts->win_start + (int64_t)win_total(ts) != total && win_total(ts))
		return ts->error = -EPROTO;
	emit_raw(ts, win_total(ts));
	drop_front(ts, win_total(ts));
	return ts->error;
}

int st_tarsplit_close(struct st_tarsplit *ts)
{
	flush(ts);
	tarsplit_join(ts, ts->error != 0);
	int r = ts->error ? ts->error : ts->gz_error;
	if (gzclose(ts->gz) != Z_OK && r == 0)
		r = -EIO;
	free(ts->win);
	free(ts);
	return r;
}

void st_tarsplit_abort(struct st_tarsplit *ts)
{
	if (!ts)
		return;
	tarsplit_join(ts, true);
	gzclose(ts->gz);
	free(ts->win);
	free(ts);
}

/* ---------------------------------------------------------------- replay */

static int get(gzFile gz, void *p, size_t n)
{
	int r = gzread(gz, p, (unsigned)n);
	return r == (int)n ? 0 : -EIO;
}

static int get_u(gzFile gz, int bytes, uint64_t *v)
{
	unsigned char b[8];
	if (get(gz, b, (size_t)bytes) < 0)
		return -EIO;
	*v = 0;
	for (int i = 0; i < bytes; i++)
		*v |= (uint64_t)b[i] << (8 * i);
	return 0;
}

static int replay_file(int rootfd, const char *path, uint64_t size, struct st_writer *w, struct st_error *err)
{
	_cleanup_close_ int fd = st_open_nofollow(rootfd, path, O_RDONLY, 0);
	if (fd < 0)
		return st_error_set(err, -fd, "layer file \"%s\"", path);
	struct stat st;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size)
		return st_error_fail(err, EIO, "layer file \"%s\" changed size since it was registered", path);
	char buf[65536];
	uint64_t left = size;
	while (left > 0) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return st_error_set(err, n < 0 ? errno : EIO, "read layer file \"%s\"", path);
		int r = w->write(w->ctx, buf, (size_t)n);
		if (r < 0)
			return st_error_set(err, -r, "write layer tar");
		left -= (uint64_t)n;
	}
	return 0;
}

static int replay_records(int rec_fd, int rootfd, struct st_writer *w, struct st_error *err)
{
	int fd = dup(rec_fd);
	gzFile gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
	if (!gz) {
		if (fd >= 0)
			close(fd);
		return st_error_set(err, ENOMEM, "open tar-split records");
	}
	unsigned char *buf = NULL;
	int r = 0;
	char type;
	while (r >= 0 && gzread(gz, &type, 1) == 1) {
		uint64_t len;
		if (type == 'R') {
			if (get_u(gz, 4, &len) < 0) {
				r = st_error_fail(err, EIO, "tar-split records are truncated");
				break;
			}
			unsigned char *nb = realloc(buf, len ? len : 1);
			if (!nb) {
				r = st_error_set(err, ENOMEM, "tar-split");
				break;
			}
			buf = nb;
			if (get(gz, buf, len) < 0) {
				r = st_error_fail(err, EIO, "tar-split records are truncated");
				break;
			}
			r = w->write(w->ctx, buf, len);
			if (r < 0)
				r = st_error_set(err, -r, "write layer tar");
		} else if (type == 'F') {
			char path[PATH_MAX];
			uint64_t size;
			if (get_u(gz, 2, &len) < 0 || len >= sizeof(path) || get(gz, path, len) < 0 ||
			    get_u(gz, 8, &size) < 0) {
				r = st_error_fail(err, EIO, "tar-split records are truncated");
				break;
			}
			path[len] = '\0';
			r = replay_file(rootfd, path, size, w, err);
		} else {
			r = st_error_fail(err, EIO, "tar-split records are corrupt (record type 0x%02x)",
					  (unsigned char)type);
		}
	}
	free(buf);
	gzclose(gz);
	return r;
}

/* Replay runs on a helper thread that inflates the records and reads the
 * layer's files into a bounded pipe; the caller's thread only writes what
 * comes out (through its writer: the archive, a hash, a socket). The file
 * reads and the writes then use two cores. Both sides move data in large
 * chunks, so they rarely wake each other. */
#define REPLAY_CHUNK (256 * 1024)

struct replay {
	int rec_fd, rootfd;
	struct st_bytepipe pipe;
	unsigned char *buf; /* the helper's chunk being filled */
	size_t len;
	struct st_error err;
	int r;
};

static int replay_flush(struct replay *rp)
{
	int r = rp->len ? st_bytepipe_write(&rp->pipe, rp->buf, rp->len) : 0;
	rp->len = 0;
	return r;
}

static int replay_put(void *ctx, const void *data, size_t n)
{
	struct replay *rp = ctx;
	const unsigned char *p = data;
	while (n > 0) {
		if (rp->len == REPLAY_CHUNK) {
			int r = replay_flush(rp);
			if (r < 0)
				return r;
		}
		size_t k = REPLAY_CHUNK - rp->len < n ? REPLAY_CHUNK - rp->len : n;
		memcpy(rp->buf + rp->len, p, k);
		rp->len += k;
		p += k;
		n -= k;
	}
	return 0;
}

static void *replay_main(void *arg)
{
	struct replay *rp = arg;
	struct st_writer pw = {.write = replay_put, .ctx = rp};
	rp->r = replay_records(rp->rec_fd, rp->rootfd, &pw, &rp->err);
	if (rp->r >= 0 && (rp->r = replay_flush(rp)) < 0)
		st_error_set(&rp->err, -rp->r, "write layer tar");
	st_bytepipe_close(&rp->pipe, rp->r < 0 ? rp->r : 0, rp->r < 0 ? rp->err.msg : NULL);
	return NULL;
}

int st_tarsplit_replay(int rec_fd, int rootfd, struct st_writer *w, struct st_error *err)
{
	struct replay rp = {.rec_fd = rec_fd, .rootfd = rootfd};
	_cleanup_free_ unsigned char *out = malloc(REPLAY_CHUNK);
	rp.buf = malloc(REPLAY_CHUNK);
	pthread_t th;
	if (!out || !rp.buf || st_bytepipe_init(&rp.pipe, 4 * REPLAY_CHUNK) < 0) {
		free(rp.buf);
		return replay_records(rec_fd, rootfd, w, err);
	}
	if (pthread_create(&th, NULL, replay_main, &rp) != 0) {
		st_bytepipe_destroy(&rp.pipe);
		free(rp.buf);
		return replay_records(rec_fd, rootfd, w, err);
	}
	int r = 0;
	for (;;) {
		struct st_error perr;
		ssize_t n = st_bytepipe_read(&rp.pipe, out, REPLAY_CHUNK, &perr);
		if (n == 0)
			break;
		if (n < 0) {
			r = (int)n;
			break;
		}
		if ((r = w->write(w->ctx, out, (size_t)n)) < 0) {
			r = st_error_set(err, -r, "write layer tar");
			st_bytepipe_cancel(&rp.pipe);
			break;
		}
	}
	pthread_join(th, NULL);
	/* the helper's own failure, with its message (a file that changed...);
	 * -ECANCELED is the helper noticing ours */
	if (rp.r < 0 && rp.r != -ECANCELED) {
		*err = rp.err;
		r = rp.r;
	}
	st_bytepipe_destroy(&rp.pipe);
	free(rp.buf);
	return r;
}
