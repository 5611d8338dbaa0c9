/* The build cache: build-cache/<key hex>.json = {"config": TEXT, "top": CHAIN}.
 * Keys hash the parent state, the expanded instruction and, for COPY/ADD, a
 * digest of the copied files, so a hit is exact whatever image made it. */
#include <fcntl.h>

#include "build.h"
#include "digest.h"
#include "fs.h"
#include "json.h"
#include "store.h"
#include "util.h"

const char *st_state_text(const struct st_build_state *st, size_t *len)
{
	return json_object_to_json_string_length(st->cfg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

void st_state_seal(struct st_build_state *st)
{
	size_t len;
	const char *t = st_state_text(st, &len);
	st_sha256_buf(t, len, st->id);
}

int st_cache_key(const struct st_build_state *parent, const char *instruction, const char *extra,
		 char key[ST_DIGEST_LEN + 1])
{
	struct st_sha256 h;
	int r = st_sha256_init(&h);
	if (r < 0)
		return r;
	static const char tag[] = "strata-build-cache-v1\n";
	st_sha256_update(&h, tag, sizeof(tag) - 1);
	st_sha256_update(&h, parent->id, strlen(parent->id));
	st_sha256_update(&h, "\n", 1);
	st_sha256_update(&h, instruction, strlen(instruction));
	st_sha256_update(&h, "\n", 1);
	if (extra)
		st_sha256_update(&h, extra, strlen(extra));
	st_sha256_final(&h, key);
	return 0;
}

int st_cache_get(struct st_store *s, const char *key, struct st_build_state *out, struct st_error *err)
{
	_cleanup_close_ int dfd = st_store_subdir(s, "build-cache", err);
	if (dfd < 0)
		return dfd;
	char name[96];
	snprintf(name, sizeof(name), "%s.json", key + 7);
	_cleanup_json_ json_object *o = NULL;
	struct st_error e2;
	if (st_json_load_at(dfd, name, &o, &e2) < 0)
		return 0;
	const char *top = st_json_str(o, "top");
	if (top[0]) {
		struct st_layer l;
		if (st_layer_get(s, top, &l, &e2) < 0)
			return 0; /* its layer went away: a miss */
		st_layer_free(&l);
	}
	json_object *cfg = NULL;
	if (st_json_parse(st_json_str(o, "config"), "build cache entry", &cfg, &e2) < 0)
		return 0;
	out->cfg = cfg;
	snprintf(out->top, sizeof(out->top), "%s", top);
	st_state_seal(out);
	return 1;
}

int st_cache_put(struct st_store *s, const char *key, const struct st_build_state *st, struct st_error *err)
{
	char holder[ST_DIGEST_LEN + 16];
	snprintf(holder, sizeof(holder), "cache:%s", key + 7);
	int r;
	if (st->top[0] && (r = st_layer_hold(s, st->top, holder, err)) < 0)
		return r;
	_cleanup_close_ int dfd = st_store_subdir(s, "build-cache", err);
	if (dfd < 0)
		return dfd;
	size_t len;
	const char *text = st_state_text(st, &len);
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object_object_add(o, "config", json_object_new_string_len(text, (int)len));
	json_object_object_add(o, "top", json_object_new_string(st->top));
	char name[96];
	snprintf(name, sizeof(name), "%s.json", key + 7);
	return st_json_save_at(dfd, name, o, err);
}
