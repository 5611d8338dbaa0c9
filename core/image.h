/* Internal helpers of the image store and builder. */
#ifndef ST_IMAGE_H
#define ST_IMAGE_H

#include <stdint.h>

#include "strata.h"

/* RFC 3339 ("2026-11-28T09:40:00.123456789Z") <-> unix seconds. */
int64_t st_parse_time(const char *s);
void st_format_time(char *buf, size_t len); /* now, with nanoseconds */

#endif
