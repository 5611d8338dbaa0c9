/* overlay driver internals, shared by its files:
 *   overlay.c  layout (overlay2's: <home>/ID/{diff,work,merged,link,lower},
 *              <home>/l/LINK -> ../ID/diff), the ops table
 *   mount.c    building one overlay mount (mount(2), or fsconfig lowerdir+)
 *   check.c    the probe's test mount, the native-diff and lowerdir+ checks
 *   diff.c     native diff, changes, apply and size from a layer's diff/
 *   quota.c    project quotas (xfs, ext4) for read-write layers
 */
#ifndef ST_OVL_H
#define ST_OVL_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Short names in l/: 500 lower layers of "NAME:" plus the upper and work
 * paths must fit in one page of mount(2) data on kernels without lowerdir+. */
#define OVL_LINK_LEN 6
/* The kernel's own stack limit (OVL_MAX_STACK in fs/overlayfs). */
#define OVL_MAX_LOWERS 500

struct ovl_quota {
	bool enabled;     /* project quota enforced on the backing filesystem */
	char why[256];    /* why not, for errors and `strata info` */
	int lock_dir_fd;  /* home, where the project id counter lives */
};

struct ovl {
	int l_fd;                  /* <home>/l */
	bool lowerdir_plus;        /* mount through fsconfig "lowerdir+" */
	bool native_diff;          /* diff/ is an exact change set */
	bool redirects;            /* renamed directories become redirects:
				    * a layer holding one is diffed naively */
	char native_why[256];      /* why native diff is off */
	char opts[512];            /* mount options every layer mount gets */
	int64_t default_size;      /* init option size= (0: none) */
	struct ovl_quota quota;
};

/* ------------------------------------------------------------- mount.c */

/* One overlay mount, every path relative to base_fd (they stay short, so
 * that 500 layers fit the one-page limit of mount(2) data). With base_path,
 * absolute names where they fit: one mount(2) within a page, else one
 * fsconfig "lowerdir+" per layer when the kernel has it. */
struct ovl_mount_spec {
	int base_fd;
	const char *base_path;     /* its absolute path, or NULL */
	const char *const *lowers; /* top first */
	size_t nlowers;
	const char *upper, *work;  /* both NULL: a read-only mount */
	const char *target;
	const char *opts;          /* comma-separated extra options, may be "" */
	bool lowerdir_plus;        /* past a page: fsconfig per layer, else relative names */
};

int ovl_mount(const struct ovl_mount_spec *s, struct st_error *err);
/* Unmount dirfd/name if something is mounted there; lazily when busy. */
int ovl_unmount(int dirfd, const char *name, struct st_error *err);
bool ovl_is_mounted(int dirfd, const char *name);
/* Does this kernel take "lowerdir+" (one fsconfig call per layer)? Tries a
 * superblock with two lower directories of base_fd, no mount is made. */
bool ovl_mount_has_lowerdir_plus(int base_fd, const char *l1, const char *l2);
/* The options every mount gets (index=off...) merged with the user's. */
int ovl_mount_options(const char *user, char *out, size_t len, struct st_error *err);

/* ------------------------------------------------------------- check.c */

int ovl_check_probe(const char *home, char *reason, size_t len);
/* Sets o->lowerdir_plus (unless forced off), o->native_diff, o->native_why. */
int ovl_check_features(struct st_driver *d, struct ovl *o, bool try_plus, struct st_error *err);
/* Remove test directories that killed processes left behind. */
void ovl_check_sweep(int home_fd);

/* -------------------------------------------------------------- diff.c */

int ovl_diff(struct st_driver *d, const char *id, const char *parent, struct st_writer *out,
	     struct st_error *err);
int ovl_changes(struct st_driver *d, const char *id, const char *parent, struct st_changes *out,
		struct st_error *err);
int64_t ovl_apply_diff(struct st_driver *d, const char *id, const char *parent, struct st_tar_in *in,
		       struct st_error *err);
int64_t ovl_diff_size(struct st_driver *d, const char *id, const char *parent, struct st_error *err);
/* Drop directories of an unmounted read-write layer's diff/ that were only
 * copied up (see diff.c). */
int ovl_tidy(struct st_driver *d, const char *id, struct st_error *err);

/* ------------------------------------------------------------- quota.c */

void ovl_quota_init(struct ovl_quota *q, int home_fd);
/* Give the directory dirfd a new project id (inherited by everything made
 * under it) limited to bytes. */
int ovl_quota_set(struct ovl_quota *q, int dirfd, const char *what, int64_t bytes, struct st_error *err);
/* Drop the limit of the directory's project (commit, removal). */
int ovl_quota_clear(struct ovl_quota *q, int dirfd);
/* The limit of dirfd's project in bytes (0: none). */
int64_t ovl_quota_get(struct ovl_quota *q, int dirfd);
void ovl_quota_cleanup(struct ovl_quota *q);

/* ----------------------------------------------------------- overlay.c */

/* Open <home>/ID/diff. */
int ovl_open_diff(struct st_driver *d, const char *id, struct st_error *err);
/* Open the diff/ that l/LINK points at. */
int ovl_open_link(struct st_driver *d, const char *link, struct st_error *err);
/* The parent chain of a layer as link names, top first (from its lower file). */
int ovl_read_lowers(struct st_driver *d, const char *id, char ***links, size_t *n, struct st_error *err);
/* Is parent the layer's real parent ("" or NULL: none)? */
bool ovl_is_parent(struct st_driver *d, const char *id, const char *parent);

#endif
