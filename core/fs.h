/* fd-relative file helpers: resolution beneath a root, atomic writes,
 * rename-then-delete removal, the one tree walker, tree copy, metadata. */
#ifndef ST_FS_H
#define ST_FS_H

#include <stdint.h>
#include <sys/stat.h>

#include "strata.h"

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

/* Sorted (bytewise) entries of a directory, without . and .. */
int st_list_dir(int dirfd, char ***names, size_t *n);

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

#endif
