/* A unix socket a server listens on, made safely: the path checked, a stale
 * socket of a dead server replaced (never any other file), the socket bound
 * under a temporary name, given its mode, then renamed into place, so no
 * client ever sees it with looser permissions. */
#ifndef SRV_UNIXSOCK_H
#define SRV_UNIXSOCK_H

#include <sys/types.h>
#include <sys/un.h>

#include "strata.h"

struct srv_unix {
	int fd;                                      /* listening, or -1 */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;                                   /* the socket file as made */
	ino_t ino;
};

/* Listen on path (its directory is made 0755 when missing) with the given
 * mode (0600: root only). 0 or a negative errno: -EADDRINUSE when a live
 * server answers there, -EEXIST when path is something other than a socket. */
int srv_unix_listen(struct srv_unix *u, const char *path, mode_t mode, struct st_error *err);
/* Remove the path if it is still our socket (a newer server may have
 * replaced it), then close the fd. */
void srv_unix_close(struct srv_unix *u);

#endif
