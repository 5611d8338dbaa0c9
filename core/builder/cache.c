/* The build cache: build-cache/<key hex>.json = {"config": TEXT, "top": CHAIN}.
 * Keys hash the parent state, the expanded instruction and, for COPY/ADD, a
 * digest of the copied files, so a hit is exact whatever image made it. */
#include <fcntl.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"
#include "builder/builder.h"

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

static int cache_write(struct st_store *s, const char *key, const struct st_build_state *st, struct st_error *err)
{
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

int st_cache_put(struct st_store *s, const char *key, const struct st_build_state *st, struct st_error *err)
{
	char holder[ST_DIGEST_LEN + 16];
	snprintf(holder, sizeof(holder), "cache:%s", key + 7);
	/* hold and entry under the store lock: system check never sees a
	 * holder whose entry is still being written */
	int r = st_store_lock(s, err);
	if (r < 0)
		return r;
	/* two builds that missed the same key at once: the first entry stays
	 * (the second's layer is its own image's, never held by the cache) */
	struct st_build_state old = {0};
	struct st_error e2;
	if (st_cache_get(s, key, &old, &e2) > 0) {
		json_object_put(old.cfg);
		st_store_unlock(s);
		return 0;
	}
	if (!st->top[0] || (r = st_layer_hold(s, st->top, holder, err)) >= 0)
		r = cache_write(s, key, st, err);
	st_store_unlock(s);
	return r;
}

static bool cache_key_hex(const char *name, char *hex)
{
	size_t n = strlen(name);
	if (n != 64 + 5 || !st_str_has_suffix(name, ".json"))
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return false;
	snprintf(hex, 65, "%.64s", name);
	return true;
}

/* The top layer an entry file names ("" for none); false when the entry is
 * damaged (unreadable, or no valid layer), top then "". */
static bool entry_top(int dfd, const char *name, char top[ST_DIGEST_LEN + 1])
{
	_cleanup_json_ json_object *o = NULL;
	struct st_error e;
	top[0] = '\0';
	if (st_json_load_at(dfd, name, &o, &e) < 0 || !json_object_is_type(o, json_type_object))
		return false;
	const char *t = st_json_str(o, "top");
	if (t[0] && !st_valid_digest(t))
		return false;
	snprintf(top, ST_DIGEST_LEN + 1, "%s", t);
	return true;
}

void st_cache_entries_free(struct st_cache_entry *v, size_t n)
{
	(void)n;
	free(v);
}

int st_cache_list(struct st_store *s, struct st_cache_entry **out, size_t *n, struct st_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_close_ int dfd = st_store_subdir(s, "build-cache", err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t nn;
	int r = st_list_dir(dfd, &names, &nn);
	if (r < 0)
		return st_error_set(err, -r, "list \"%s/build-cache\"", s->root);
	struct st_cache_entry *v = calloc(nn ? nn : 1, sizeof(*v));
	if (!v) {
		st_strv_free(names, nn);
		return st_error_set(err, ENOMEM, "build cache");
	}
	for (size_t i = 0; i < nn; i++) {
		char hex[65];
		if (!cache_key_hex(names[i], hex))
			continue;
		struct st_cache_entry *e = &v[*n];
		memset(e, 0, sizeof(*e));
		snprintf(e->key, sizeof(e->key), "sha256:%s", hex);
		struct stat st;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			e->created = st.st_mtime;
		e->damaged = !entry_top(dfd, names[i], e->top);
		(*n)++;
	}
	st_strv_free(names, nn);
	*out = v;
	return 0;
}

int st_cache_drop(struct st_store *s, const char *key, struct st_error *err)
{
	if (!st_valid_digest(key))
		return st_error_fail(err, EINVAL, "invalid build cache key \"%s\"", key);
	int r = st_store_lock(s, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = st_store_subdir(s, "build-cache", err);
	if (dfd < 0) {
		st_store_unlock(s);
		return dfd;
	}
	char name[96], holder[ST_DIGEST_LEN + 16], top[ST_DIGEST_LEN + 1] = "";
	snprintf(name, sizeof(name), "%s.json", key + 7);
	snprintf(holder, sizeof(holder), "cache:%s", key + 7);
	json_object *o = NULL;
	struct st_error e2;
	if (st_json_load_at(dfd, name, &o, &e2) == 0) {
		snprintf(top, sizeof(top), "%s", st_json_str(o, "top"));
		json_object_put(o);
	}
	/* the entry goes first: a kill leaves a holder without an entry (a
	 * leak system check repairs), never an entry without its layer */
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT) {
		r = st_error_set(err, errno, "remove build cache entry %s", key);
	} else {
		st_fsync_dir(dfd);
		struct st_layer l;
		if (st_valid_digest(top) && st_layer_get(s, top, &l, &e2) == 0) {
			st_layer_free(&l);
			r = st_layer_release(s, top, holder, err);
		}
	}
	st_store_unlock(s);
	return r;
}

/* ------------------------------------------------------------ holders */

/* "cache:<key hex>": the entry build-cache/<hex>.json holds its top layer. */
static bool cache_holds_layer(struct st_store *s, const char *name, const char *chain_id, char *why, size_t len)
{
	char file[96], hex[65], top[ST_DIGEST_LEN + 1];
	struct st_error e;
	struct stat st;
	snprintf(file, sizeof(file), "%.70s.json", name);
	_cleanup_close_ int dfd = st_store_subdir(s, "build-cache", &e);
	if (!cache_key_hex(file, hex) || dfd < 0 || fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(why, len, "names a build cache entry that does not exist");
		return false;
	}
	entry_top(dfd, file, top);
	if (strcmp(top, chain_id) == 0)
		return true;
	snprintf(why, len, "names a build cache entry whose layer is %s", top[0] ? top : "none");
	return false;
}

const struct st_holder_kind st_cache_holders = {
	.prefix = "cache",
	.holds_layer = cache_holds_layer,
};
