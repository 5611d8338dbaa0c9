/* Small files a server leaves for its clients (a spec file, a state
 * record) at a full path: written atomically into a directory made when
 * missing. */
#ifndef SRV_PATHFILE_H
#define SRV_PATHFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "strata.h"

/* Write path (temp file, fsync, rename); its directory is made 0755 when
 * missing. */
int srv_write_path(const char *path, const void *data, size_t len, mode_t mode, struct st_error *err);

#endif
