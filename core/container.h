/* Internal view of the container store. */
#ifndef ST_CONTAINER_H
#define ST_CONTAINER_H

#include "store.h"

/* Number of containers made from image id (0 if none); *first receives the
 * name of one of them (malloc'd) when there are some. */
int st_containers_using_image(struct st_store *s, const char *image_id, char **first);

#endif
