/* Internal helpers of the image store and builder. */
#ifndef ST_IMAGE_H
#define ST_IMAGE_H

#include <stdint.h>

#include "strata.h"

/* RFC 3339 ("2026-11-28T09:40:00.123456789Z") <-> unix seconds. */
int64_t st_parse_time(const char *s);
void st_format_time(char *buf, size_t len); /* now, with nanoseconds */

/* Store the image config cfg as an image; tag it norm (a normalized
 * reference) when not NULL. */
struct json_object;
int st_image_create_json(struct st_store *s, struct json_object *cfg, const char *norm, char id[ST_DIGEST_LEN + 1],
			 struct st_error *err);
/* The end of making an image from a new layer held as holder under lease:
 * that hold goes (the image holds the layer now, or there is no image), the
 * layer is freed, and the lease ends; a hold that cannot go leaves the lease
 * to the next open's sweep, which drops it. */
struct st_lease;
void st_image_lease_done(struct st_store *s, struct st_layer *layer, const char *holder, struct st_lease *lease);

#endif
