/* A server's pidfile: locked for as long as the server lives, so a second
 * server with the same pidfile is refused while the first runs, and a
 * pidfile left by a killed one is taken over. */
#ifndef SRV_PIDFILE_H
#define SRV_PIDFILE_H

#include "strata.h"

/* Create (or take over) path, lock it and write our pid. Returns the fd to
 * keep open, or a negative errno (-EBUSY naming the live server's pid). */
int srv_pidfile_open(const char *path, struct st_error *err);
/* Remove the pidfile and drop the lock. */
void srv_pidfile_close(const char *path, int fd);

#endif
