/* json-c helpers: load and atomically save JSON files, typed getters. */
#ifndef ST_JSON_H
#define ST_JSON_H

#include <json-c/json.h>

#include "strata.h"

static inline void st_json_putp(json_object **o) { if (*o) json_object_put(*o); }
#define _cleanup_json_ __attribute__((cleanup(st_json_putp)))

int st_json_load_at(int dirfd, const char *name, json_object **out, struct st_error *err);
int st_json_parse(const char *text, const char *what, json_object **out, struct st_error *err);
int st_json_save_at(int dirfd, const char *name, json_object *o, struct st_error *err);
/* "" when missing or not a string */
const char *st_json_str(json_object *o, const char *key);
int64_t st_json_int(json_object *o, const char *key);
/* Print pretty (for inspect) or compact (for files and digests). */
const char *st_json_text(json_object *o, bool pretty);

#endif
