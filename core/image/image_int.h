/* What the image store's files share (private to core/image). */
#ifndef ST_IMAGE_INT_H
#define ST_IMAGE_INT_H

#include "base/base.h"
#include "store/store.h"

/* The index of repositories.json (image_refs.c). Lookup: norm (a
 * normalised reference, or NULL to take hex as given) -> hex and the
 * image's references (*own, a JSON array); -ENOENT: no such reference;
 * -ESTALE: the index is not that of the file there now (parse the file).
 * Update, under the store lock, right after repositories.json was replaced
 * by repos: old is what it held, was_current whether the index was that
 * old file's (else it is rebuilt whole). */
int img_refs_lookup(struct st_store *s, const char *norm, char hex[65], json_object **own);
int img_refs_update(struct st_store *s, json_object *old, json_object *repos, bool was_current, struct st_error *err);
bool img_refs_current(struct st_store *s);

#endif
