/* Removing a directory tree with a helper thread (see rmtree.c); the
 * engine of st_rm_rf_at. mnt: the mount id the tree must not leave (0: no
 * check). A missing name is not an error. */
#ifndef ST_RMTREE_H
#define ST_RMTREE_H

#include <stdint.h>

#include "strata.h"

int st_rm_tree_at(int dirfd, const char *name, uint64_t mnt, struct st_error *err);

#endif
