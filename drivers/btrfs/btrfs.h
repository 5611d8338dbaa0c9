/* btrfs driver internals shared by its files: subvolume handling
 * (subvol.c), qgroup quotas and space figures (quota.c). */
#ifndef ST_BTRFS_H
#define ST_BTRFS_H

#include <stdbool.h>
#include <stdint.h>

#include "strata.h"

struct btrfs {
	char subvols[4096];  /* <home>/subvolumes, through the private mount */
	int subvols_fd;      /* O_DIRECTORY fd of it */
	int64_t default_size; /* init option size=: quota of every rw layer, 0: none */
	bool walk_changes;    /* init option changes=walk: always the generic compare */
};

/* ------------------------------------------------------------ subvol.c */

/* Is dirfd/name the root of a btrfs subvolume? */
bool btrfs_is_subvol_at(int dirfd, const char *name);
/* An empty subvolume dirfd/name, or a writable snapshot of the subvolume
 * src_fd (nested subvolumes included) when src_fd >= 0. */
int btrfs_subvol_make(int dirfd, const char *name, int src_fd, const char *what,
		      struct st_error *err);
/* The read-only flag of the subvolume fd and of every subvolume nested
 * in it (a flag covers one subvolume only). */
int btrfs_subvol_set_ro(int fd, bool ro, const char *what, struct st_error *err);
int btrfs_subvol_get_ro(int fd, bool *ro, const char *what, struct st_error *err);
/* Delete dirfd/name and the subvolumes nested in it. */
int btrfs_subvol_delete(int dirfd, const char *name, const char *what, struct st_error *err);
/* The first mount point at or below path (in this mount namespace), so a
 * removal can refuse before touching anything: 2 (a mount on path itself)
 * or 1 (below it) with mnt filled, 0 when none, a negative errno when
 * mountinfo cannot be read. */
int btrfs_mount_below(const char *path, char *mnt, size_t len);
uint64_t btrfs_subvol_id(int fd);

/* ------------------------------------------------------------- quota.c */

/* Limit what the subvolume fd may hold of its own (exclusive bytes: data
 * written in the layer, not what it shares with its parent). Enables
 * quotas on the filesystem first when they are off. bytes 0 clears. */
int btrfs_quota_limit(int fd, int64_t bytes, const char *what, struct st_error *err);
/* Drop the qgroup of a deleted subvolume (best effort: the kernel may still
 * be cleaning it up). */
void btrfs_quota_forget(int fsfd, uint64_t subvol_id);
bool btrfs_quota_enabled(int fsfd);
/* limit and exclusive usage of subvolume id; -ENOENT without quotas */
int btrfs_quota_usage(int fsfd, uint64_t subvol_id, int64_t *limit, int64_t *used);

struct btrfs_space {
	uint64_t data_total, data_used, meta_total, meta_used, avail;
};
int btrfs_space(int fsfd, struct btrfs_space *s);

/* ----------------------------------------------------------- changes.c */

/* The changes of the subvolume layer against parent, from the tree blocks
 * written since layer was snapshotted from parent; the same list as the
 * generic compare (settled as there). -EOPNOTSUPP when layer is not an
 * untouched parent's snapshot (or nested subvolumes are involved): then
 * the generic compare must be used. */
struct timespec;
struct st_changes;
int btrfs_fast_changes(int layer, int parent, const struct timespec *settled, struct st_changes *out,
		       struct st_error *err);

#endif
