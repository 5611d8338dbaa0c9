/* flock-based locks: the store lock and per-object locks. Waits are bounded
 * (STRATA_LOCK_TIMEOUT seconds, default 120) and end in a "store busy" error. */
#ifndef ST_LOCK_H
#define ST_LOCK_H

#include <sys/file.h>

#include "strata.h"

/* Open (creating) dirfd/name and flock it with how (LOCK_SH or LOCK_EX).
 * Returns the locked fd. */
int st_lock_at(int dirfd, const char *name, int how, struct st_error *err);
/* Without waiting: -EWOULDBLOCK when someone holds it. */
int st_trylock_at(int dirfd, const char *name, int how, struct st_error *err);
void st_unlock(int *fd);

#endif
