/* Helpers the volume drivers share: mounts that cannot hang (done by a
 * child process the caller stops waiting for at a deadline) and host name
 * resolution for network filesystems. */
#ifndef ST_VD_MOUNT_H
#define ST_VD_MOUNT_H

#include <stddef.h>

#include "strata.h"

/* mount(8)-style: options like "ro,bind,size=64m" are split by libmount into
 * flags and filesystem data; no /sbin/mount.TYPE helper is run. what names
 * the object for messages. timeout in seconds. */
int vd_mount(const char *what, const char *source, const char *target, const char *fstype,
	     const char *options, double timeout, struct st_error *err);
/* umount2; past the deadline the mount is detached lazily (a dead NFS
 * server must not keep a volume mounted forever). Not mounted is success. */
int vd_umount(const char *what, const char *target, double timeout, struct st_error *err);

/* host name or address literal -> numeric address ("10.0.0.2", "fd00::2") */
int vd_resolve(const char *what, const char *host, char *addr, size_t len, struct st_error *err);
/* The local address the kernel would use to reach addr (NFSv4 clientaddr). */
int vd_local_addr_for(const char *addr, char *out, size_t len);

/* Docker's local driver: in an nfs o= list, addr=HOST becomes addr=IP. */
int vd_resolve_addr_option(const char *what, const char *options, char **out, struct st_error *err);

#endif
