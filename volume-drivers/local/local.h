/* The local volume driver's private interface: project quotas for -o size=. */
#ifndef ST_VOL_LOCAL_H
#define ST_VOL_LOCAL_H

#include <stdint.h>

#include "strata.h"

/* 0 when the filesystem of fd enforces project quotas, else -ENOTSUP and
 * why (for the size= error). */
int local_quota_supported(int fd, char *why, size_t len);
/* Give directory dirfd a project id of its own (allocated under home_fd's
 * quota lock) and a hard limit of bytes. */
int local_quota_set(int home_fd, int dirfd, int64_t bytes, struct st_error *err);
/* Drop the limit of dirfd's project (before the directory goes). */
void local_quota_clear(int dirfd);

#endif
