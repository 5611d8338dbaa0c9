/* core/base: what every other part of libstrata stands on, and nothing of
 * strata's own above it: errors and small helpers (error.c, io.c), fd-relative
 * file work (fs*.c, rmtree.c, filejob.c), locks, sha256 and JSON files, a
 * hash map, a hashing ring and a byte pipe between threads. The folder's
 * interface: every other folder includes this header. */
#ifndef ST_BASE_H
#define ST_BASE_H

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata.h"

/* ----------------------------------------------- helpers (error.c, io.c) */

/* Cleanup attributes, ownership transfer, small string and allocation
 * helpers. */
#define _cleanup_(f) __attribute__((cleanup(f)))
#define ST_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void st_freep(void *p) { free(*(void **)p); }
static inline void st_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void st_fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void st_closedirp(DIR **d) { if (*d) closedir(*d); }

#define _cleanup_free_ _cleanup_(st_freep)
#define _cleanup_close_ _cleanup_(st_closep)
#define _cleanup_fclose_ _cleanup_(st_fclosep)
#define _cleanup_closedir_ _cleanup_(st_closedirp)

/* Hand ownership on: returns the value and leaves the variable empty. */
static inline int st_take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}
#define st_take_ptr(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })

/* Allocation failures are reported as -ENOMEM, never abort. */
char *st_strdup(const char *s);
char *st_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void st_strv_free(char **v, size_t n);
int st_strv_push(char ***v, size_t *n, const char *s);
bool st_str_has_prefix(const char *s, const char *prefix);
bool st_str_has_suffix(const char *s, const char *suffix);

/* Random lowercase hex of 2*nbytes characters (getrandom). */
int st_random_hex(char *out, size_t nbytes);

/* Start time of process pid (clock ticks since boot, /proc/PID/stat field
 * 22), -1 when there is no such process: with the pid, it names a process
 * (pids are reused). */
int64_t st_proc_start(pid_t pid);

/* Monotonic clock in seconds. */
double st_now(void);

/* ------------------------------------- files (fs.c, fs_copy.c, rmtree.c) */

/* fd-relative file helpers: resolution beneath a root, atomic writes,
 * rename-then-delete removal, the one tree walker, tree copy, metadata. */
/* openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): path may not leave dirfd,
 * whatever symlinks it meets. Returns an fd or a negative errno. */
int st_open_beneath(int dirfd, const char *path, int flags, mode_t mode);
/* Same, never following any symlink (RESOLVE_NO_SYMLINKS as well). */
int st_open_nofollow(int dirfd, const char *path, int flags, mode_t mode);
int st_open_dir(int dirfd, const char *path, struct st_error *err);
/* openat2(RESOLVE_IN_ROOT): symlinks, absolute ones too, resolve as if rootfd
 * were "/" (chroot semantics; for paths inside an image). */
int st_open_in_root(int rootfd, const char *path, int flags, mode_t mode);
/* mkdir -p with chroot semantics; new directories get mode and owner. */
int st_mkdir_in_root(int rootfd, const char *path, mode_t mode, uid_t uid, gid_t gid, struct st_error *err);

int st_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct st_error *err);
/* Remove name under dirfd recursively, never following symlinks and never
 * descending into another mount (-EBUSY). A missing name is not an error. */
int st_rm_rf_at(int dirfd, const char *name, struct st_error *err);
/* Crash-safe removal: rename to ".trash-NAME-RANDOM", fsync, then delete.
 * st_trash_sweep finishes removals that a killed process left behind. */
int st_remove_at(int dirfd, const char *name, struct st_error *err);
int st_trash_sweep(int dirfd, struct st_error *err);

/* temp file, write, fsync, rename, fsync dir */
int st_atomic_write_at(int dirfd, const char *name, const void *data, size_t len,
		       mode_t mode, struct st_error *err);
/* temp file and rename, no fsync: for state that a reboot makes moot
 * (mount counts), where a kill -9 must still never leave half a file */
int st_replace_file_at(int dirfd, const char *name, const void *data, size_t len,
		       mode_t mode, struct st_error *err);
int st_read_file_at(int dirfd, const char *name, char **out, size_t *len, struct st_error *err);
int st_fsync_dir(int dirfd);
/* name (in dirfd) made a symbolic link to target, replacing what was there,
 * by a temp link and rename (no fsync); -errno */
int st_symlink_replace_at(int dirfd, const char *name, const char *target);

/* Sorted (bytewise) entries of a directory, without . and .. */
int st_list_dir(int dirfd, char ***names, size_t *n);
/* Only the names that start with prefix (NULL: all): sweeps for ".tmp-" and
 * ".trash-" leftovers copy and sort those, not every layer of the store. */
int st_list_dir_prefix(int dirfd, const char *prefix, char ***names, size_t *n);

/* The tree walker: sorted, depth first, never follows symlinks, never leaves
 * the root's mount. The callback returns <0 to stop, 1 to skip a directory's
 * children (when called before them), 0 to go on. */
struct st_walk_ent {
	int dirfd;        /* the parent directory */
	const char *name; /* name in dirfd */
	const char *path; /* relative to the root, "a/b" */
	struct stat st;
	int depth;        /* 1 for the root's children */
	bool post;        /* a directory, after its children */
};
typedef int (*st_walk_fn)(void *ctx, const struct st_walk_ent *e);
int st_walk(int rootfd, st_walk_fn fn, void *ctx, struct st_error *err);

/* Extended attributes of an entry (binary values), sorted by name. */
struct st_xattr {
	char *name;
	void *value;
	size_t len;
};
struct st_xattrs {
	struct st_xattr *v;
	size_t n;
};
int st_xattrs_read(int dirfd, const char *name, struct st_xattrs *out);
/* The same from an open file (regular file or directory; no path lookup). */
int st_xattrs_read_fd(int fd, struct st_xattrs *out);
int st_xattrs_apply(int dirfd, const char *name, const struct st_xattrs *x, struct st_error *err);
void st_xattrs_free(struct st_xattrs *x);
bool st_xattrs_equal(const struct st_xattrs *a, const struct st_xattrs *b);

/* Owner, mode, xattrs, times, in the order that keeps setuid bits and file
 * capabilities. fd may be -1 (then dirfd/name is used). */
int st_set_metadata(int dirfd, const char *name, int fd, const struct stat *st,
		    const struct st_xattrs *x, struct st_error *err);

/* Copy the contents of src into dst (an existing directory): owners, modes,
 * xattrs, hardlinks, sparse files, devices, fifos, sockets, timestamps.
 * Reflinks where the filesystem allows. */
int st_copy_tree(int srcfd, int dstfd, struct st_error *err);
struct st_copy_opts {
	bool merge;     /* replace existing non-directories, merge directories */
	bool keep_root; /* leave the destination root's own metadata alone */
	bool own;       /* copies get uid/gid */
	uid_t uid;
	gid_t gid;
	bool chmod;     /* copies get mode (permission bits) */
	mode_t mode;
	/* skip a source path (and, for a directory, all below it) */
	bool (*skip)(void *ctx, const char *path);
	void *skip_ctx;
};
int st_copy_tree_opts(int srcfd, int dstfd, const struct st_copy_opts *o, struct st_error *err);
int st_copy_file_data(int src, int dst, const struct stat *st);

/* Bytes of regular files under root (each inode once). */
int64_t st_tree_size(int rootfd, struct st_error *err);

/* mount id of dirfd/name (statx STATX_MNT_ID) */
int st_mnt_id(int dirfd, const char *name, uint64_t *id);
/* Is path a mount point listed in /proc/self/mountinfo? */
bool st_is_mountpoint(const char *path);

/* Make absolute "/proc/self/fd/N/name" for the l*xattr family. */
void st_fd_path(char *buf, size_t len, int dirfd, const char *name);

/* Backing filesystem name of a directory ("ext4", "btrfs", "tmpfs"...). */
const char *st_fs_name(int dirfd);
bool st_fs_supports_d_type(int dirfd);

/* ------------------------------------------------------------- filejob.c */

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

/* ---------------------------------------------------------------- lock.c */

/* flock-based locks: the store lock and per-object locks. Waits are bounded
 * (STRATA_LOCK_TIMEOUT seconds, default 120) and end in a "store busy" error. */
/* Open (creating) dirfd/name and flock it with how (LOCK_SH or LOCK_EX).
 * Returns the locked fd. */
int st_lock_at(int dirfd, const char *name, int how, struct st_error *err);
/* Without waiting: -EWOULDBLOCK when someone holds it. */
int st_trylock_at(int dirfd, const char *name, int how, struct st_error *err);
void st_unlock(int *fd);

/* -------------------------------------------------------------- digest.c */

/* sha256 through OpenSSL libcrypto, as "sha256:<hex>" digests. */
struct st_sha256 {
	void *ctx; /* EVP_MD_CTX */
};

int st_sha256_init(struct st_sha256 *h);
void st_sha256_update(struct st_sha256 *h, const void *data, size_t len);
/* Writes "sha256:<64 hex>" and frees the context. */
void st_sha256_final(struct st_sha256 *h, char out[ST_DIGEST_LEN + 1]);
void st_sha256_abort(struct st_sha256 *h);
int st_sha256_buf(const void *data, size_t len, char out[ST_DIGEST_LEN + 1]);

/* "sha256:" followed by 64 lowercase hex digits. */
bool st_valid_digest(const char *d);
/* ChainID(parent, diff) = sha256(parent + " " + diff); parent "" -> diff. */
int st_chain_id(const char *parent, const char *diff_id, char out[ST_DIGEST_LEN + 1]);

/* A writer that hashes what passes through and forwards it (next may be NULL). */
struct st_hash_writer {
	struct st_sha256 h;
	struct st_writer *next;
	int64_t bytes;
};
void st_hash_writer_init(struct st_hash_writer *hw, struct st_writer *next, struct st_writer *w);

/* ------------------------------------------------------------ hashring.c */

/* sha256 on a helper thread, over buffers the ring owns: the producer takes
 * a free buffer, fills it, submits it, and may go on reading the buffer (a
 * parser working on it) while the helper hashes. A buffer comes back to the
 * producer `nbufs` submissions later, once hashed. Used where a stream is
 * both hashed and consumed (layer tars: the DiffID while applying), so the
 * hashing runs on a second core. Without a thread (pthread_create failed)
 * it hashes in submit. */
struct st_hashring;

/* nbufs >= 2 buffers of buflen bytes each. 0 or -ENOMEM. */
int st_hashring_new(size_t nbufs, size_t buflen, struct st_hashring **out);
/* The next buffer to fill (waits while the helper still hashes it). */
unsigned char *st_hashring_next(struct st_hashring *r);
size_t st_hashring_buflen(const struct st_hashring *r);
/* Hash the first len bytes of the buffer st_hashring_next gave. */
void st_hashring_submit(struct st_hashring *r, size_t len);
/* Wait for everything submitted; "sha256:<hex>" of all of it, in order. */
void st_hashring_final(struct st_hashring *r, char out[ST_DIGEST_LEN + 1]);
/* Stop (the helper drops what it has not hashed) and free. */
void st_hashring_free(struct st_hashring *r);

/* A writer that forwards every write to next (may be NULL) and hashes a
 * copy of the bytes on the helper thread: st_hash_writer's job, off the
 * writing thread (a memcpy instead of the sha256). */
struct st_hashring_writer {
	struct st_hashring *ring;
	struct st_writer *next;
	int64_t bytes;
	unsigned char *cur; /* the ring buffer being filled */
	size_t fill;
};
int st_hashring_writer_init(struct st_hashring_writer *hw, struct st_writer *next, struct st_writer *w);
/* "sha256:<hex>" of everything written (once). */
void st_hashring_writer_final(struct st_hashring_writer *hw, char out[ST_DIGEST_LEN + 1]);
void st_hashring_writer_free(struct st_hashring_writer *hw);

/* ---------------------------------------------------------------- json.c */

/* json-c helpers: load and atomically save JSON files, typed getters. */
static inline void st_json_putp(json_object **o) { if (*o) json_object_put(*o); }
#define _cleanup_json_ __attribute__((cleanup(st_json_putp)))

int st_json_load_at(int dirfd, const char *name, json_object **out, struct st_error *err);
int st_json_parse(const char *text, const char *what, json_object **out, struct st_error *err);
int st_json_save_at(int dirfd, const char *name, json_object *o, struct st_error *err);
/* "" when missing or not a string */
const char *st_json_str(json_object *o, const char *key);
int64_t st_json_int(json_object *o, const char *key);
/* Print pretty (for inspect) or compact (for files and digests). */
const char *st_json_text(json_object *o, bool pretty);

/* -------------------------------------------------------------- filter.c */

/* Docker's list filters: `--filter KEY=VALUE` pairs kept in a kvlist (the
 * same pair once). A key given several times ORs its values, different
 * keys AND; label filters AND. */
/* Add "KEY=VALUE" (trimmed, the key lowercased); -EINVAL without "=". */
int st_filter_add(struct st_kvlist *f, const char *arg, struct st_error *err);
/* Every key in accepted (NULL-terminated), else -EINVAL "invalid filter 'KEY'". */
int st_filter_validate(const struct st_kvlist *f, const char *const *accepted, struct st_error *err);
bool st_filter_has(const struct st_kvlist *f, const char *key);
/* Some value of key is s; true when key is not given. */
bool st_filter_exact(const struct st_kvlist *f, const char *key, const char *s);
/* -EINVAL "invalid filter 'KEY=[V1 V2]'": a value the key does not take. */
int st_filter_invalid_value(const struct st_kvlist *f, const char *key, struct st_error *err);
/* Some value of key is s or, as a POSIX extended regular expression,
 * matches s (docker's Match; one that does not compile matches nothing);
 * true when key is not given. */
bool st_filter_regex(const struct st_kvlist *f, const char *key, const char *s);
/* Every value of key, "LABEL" or "LABEL=VALUE", is in labels. */
bool st_filter_labels(const struct st_kvlist *f, const char *key, const struct st_kvlist *labels);
/* A --label argument, KEY=VALUE or KEY alone (an empty value, as docker's),
 * added to l; -EINVAL for an empty key. */
int st_label_add(struct st_kvlist *l, const char *arg, struct st_error *err);
/* Go's path.Match, as docker's reference filter uses it ("*" stops at "/"). */
bool st_filter_glob(const char *pattern, const char *s);

/* ------------------------------------------------------------- hashmap.c */

/* A small string-keyed hash map (open addressing), for inode and path sets. */
struct st_hashmap {
	char **keys;
	void **vals;
	size_t cap, n;
	void (*free_val)(void *);
};

void st_hashmap_init(struct st_hashmap *m, void (*free_val)(void *));
/* Replaces (and frees) an existing value. Returns 0 or -ENOMEM. */
int st_hashmap_put(struct st_hashmap *m, const char *key, void *val);
void *st_hashmap_get(const struct st_hashmap *m, const char *key);
void st_hashmap_free(struct st_hashmap *m);

/* ------------------------------------------------------------ bytepipe.c */

/* A bounded byte queue between two threads: one writes (a download, a
 * compressor), the other reads (the layer store, an upload). A full queue
 * blocks the writer, an empty one the reader, so memory stays bounded
 * whatever the speeds. Either side can end it: the writer with end of
 * data or an error (which the reader then gets), the reader by
 * cancelling (the writer's next write fails). */
struct st_bytepipe {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	unsigned char *buf;
	size_t cap, head, len;
	bool closed;     /* the writer is done (error or not) */
	bool cancelled;  /* the reader gave up */
	int error;       /* negative errno the writer ended with */
	char msg[1024];  /* its message */
	int64_t written, read;
};

int st_bytepipe_init(struct st_bytepipe *p, size_t cap);
void st_bytepipe_destroy(struct st_bytepipe *p);
/* Writer: blocks while full; -ECANCELED once the reader cancelled. */
int st_bytepipe_write(struct st_bytepipe *p, const void *data, size_t len);
/* Writer: no more data; error 0 for a clean end, else a negative errno and
 * a message the reader will see. */
void st_bytepipe_close(struct st_bytepipe *p, int error, const char *msg);
/* Reader: blocks while empty; bytes read, 0 at a clean end, or the
 * writer's error (its message copied to err when err is not NULL). */
ssize_t st_bytepipe_read(struct st_bytepipe *p, void *buf, size_t len, struct st_error *err);
/* Reader: give up; wakes a blocked writer. */
void st_bytepipe_cancel(struct st_bytepipe *p);
bool st_bytepipe_cancelled(struct st_bytepipe *p);

#endif
