/* aufs driver internals: the pure parts (mount option strings, layer-chain
 * files, probe text checks) and the branch work (pseudo-link flush, native
 * changes) in functions of their own, so that they are tested without an
 * aufs kernel. */
#ifndef ST_AUFS_H
#define ST_AUFS_H

#include <stdbool.h>
#include <stddef.h>

#include "strata.h"

/* Shared by all mounts, as Docker's driver did. */
#define AUFS_XINO "/dev/shm/aufs.xino"

/* aufs' own entries in a branch root: never layer content. */
#define AUFS_PLINK_DIR ".wh..wh.plnk"

/* ------------------------------------------------------------ branch.c */

/* One aufs mount: the data of the first mount(2) (branches that fit in a
 * page, then the options) and one MS_REMOUNT data string ("append:...")
 * for each read-only branch that did not fit. */
struct aufs_mount_plan {
	char *data;
	char **appends;
	size_t nappends;
};

/* rw: the read-write branch; ro: read-only branches, nearest parent first.
 * page: the mount data limit (the page size, its NUL included). Fails with
 * -EINVAL for a path aufs cannot take as a branch (':', ',', '=' or a
 * newline in it) and -ENAMETOOLONG when a single branch cannot fit. */
int aufs_mount_plan(const char *rw, const char *const *ro, size_t nro, size_t page, bool dirperm1,
		    struct aufs_mount_plan *plan, struct st_error *err);
void aufs_mount_plan_free(struct aufs_mount_plan *plan);

/* Can aufs use this path as a branch? */
bool aufs_branch_path_ok(const char *path);

/* layers/ID: the layer's ancestors, nearest first, one id a line (Docker's
 * format). Parsing skips blank lines and rejects invalid ids. */
int aufs_chain_parse(const char *text, char ***ids, size_t *n, struct st_error *err);
/* The chain of a child of parent, whose own chain is pchain. */
char *aufs_chain_format(const char *parent, char *const *pchain, size_t npchain);

/* Probe texts: is aufs listed in /proc/filesystems' content? Is this
 * /proc/self/uid_map the initial user namespace's identity map? */
bool aufs_filesystems_has_aufs(const char *text);
bool aufs_uid_map_is_initial(const char *text);

/* ------------------------------------------------------------- plink.c */

/* auplink's flush: aufs keeps a copied-up file that has more names in the
 * union as a pseudo-link, <rw>/.wh..wh.plnk/<union ino>.<branch ino>,
 * until all its names exist in the rw branch. Give each name found under
 * the union root (union_fd) a hard link in the rw branch (rw_fd), making
 * parent directories like the union's. Returns the links made. */
int aufs_plink_flush(int union_fd, int rw_fd, struct st_error *err);

/* ---------------------------------------------------------- whiteout.c */

/* After unpacking an OCI layer into a branch: where a name and its
 * whiteout both arrived, keep the name (made opaque when a directory) and
 * drop the whiteout, which aufs would otherwise apply to the new entry as
 * well. Returns the pairs fixed. */
int aufs_branch_normalize(int rootfd, struct st_error *err);

/* ----------------------------------------------------------- changes.c */

/* Changes of the branch `upper` over the read-only branches lower[0..n)
 * (nearest first), with aufs' whiteouts and opaque directories resolved
 * as the union does, reported as the generic tree compare reports the
 * mounted layer against its mounted parent. */
int aufs_changes(int upper, const int *lower, size_t nlower, struct st_changes *out, struct st_error *err);

/* Is name aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs, .wh..wh.orph...)
 * rather than a whiteout or the opaque marker? */
bool aufs_is_meta(const char *name);

#endif
