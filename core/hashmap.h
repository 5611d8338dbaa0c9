/* A small string-keyed hash map (open addressing), for inode and path sets. */
#ifndef ST_HASHMAP_H
#define ST_HASHMAP_H

#include <stddef.h>

struct st_hashmap {
	char **keys;
	void **vals;
	size_t cap, n;
	void (*free_val)(void *);
};

void st_hashmap_init(struct st_hashmap *m, void (*free_val)(void *));
/* Replaces (and frees) an existing value. Returns 0 or -ENOMEM. */
int st_hashmap_put(struct st_hashmap *m, const char *key, void *val);
void *st_hashmap_get(const struct st_hashmap *m, const char *key);
void st_hashmap_free(struct st_hashmap *m);

#endif
