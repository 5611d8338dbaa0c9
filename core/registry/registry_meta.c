/* Which registry blobs hold which layer: <root>/distribution/<diff id
 * hex>.json, {"blobs": [{"digest", "size", "mediaType", "sources":
 * ["domain/repo", ...]}]}. Pull records the blobs it fetched or found;
 * push records what it uploaded. Push uses them to ask a registry for a
 * blob it may already have (HEAD) or mount it from another repository
 * there, without compressing the layer first (as docker's v2 metadata
 * service does). A missing or damaged record only costs an upload. */
#include "base/base.h"
#include "registry_int.h"

#define META_DIR "distribution"
#define META_MAX_SOURCES 16
#define META_MAX_BLOBS 8

void reg_blob_recs_free(struct reg_blob_rec *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		st_strv_free(v[i].sources, v[i].nsources);
	free(v);
}

static int meta_name(const char *diff_id, char *out, size_t len, struct st_error *err)
{
	if (!st_valid_digest(diff_id))
		return st_error_fail(err, EINVAL, "invalid diff id \"%s\"", diff_id);
	snprintf(out, len, "%s.json", diff_id + 7);
	return 0;
}

static json_object *load(int dfd, const char *name)
{
	json_object *o = NULL;
	struct st_error e2;
	if (st_json_load_at(dfd, name, &o, &e2) < 0 || !json_object_is_type(o, json_type_object)) {
		if (o)
			json_object_put(o);
		return NULL;
	}
	return o;
}

int reg_meta_lookup(struct st_store *s, const char *diff_id, struct reg_blob_rec **out, size_t *n,
		    struct st_error *err)
{
	*out = NULL;
	*n = 0;
	char name[80];
	int r = meta_name(diff_id, name, sizeof(name), err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = st_store_subdir(s, META_DIR, err);
	if (dfd < 0)
		return dfd;
	_cleanup_json_ json_object *o = load(dfd, name);
	json_object *blobs;
	if (!o || !json_object_object_get_ex(o, "blobs", &blobs) || !json_object_is_type(blobs, json_type_array))
		return 0;
	size_t nb = json_object_array_length(blobs);
	struct reg_blob_rec *v = calloc(nb ? nb : 1, sizeof(*v));
	if (!v)
		return st_error_set(err, ENOMEM, "distribution records");
	size_t k = 0;
	for (size_t i = 0; i < nb; i++) {
		json_object *b = json_object_array_get_idx(blobs, i), *srcs;
		const char *d = st_json_str(b, "digest"), *mt = st_json_str(b, "mediaType");
		if (!st_valid_digest(d) || !st_mt_is_layer(mt))
			continue;
		struct reg_blob_rec *rec = &v[k++];
		snprintf(rec->digest, sizeof(rec->digest), "%s", d);
		snprintf(rec->media_type, sizeof(rec->media_type), "%s", mt);
		rec->size = st_json_int(b, "size");
		if (json_object_object_get_ex(b, "sources", &srcs) && json_object_is_type(srcs, json_type_array))
			for (size_t j = 0; j < json_object_array_length(srcs); j++) {
				const char *src = json_object_get_string(json_object_array_get_idx(srcs, j));
				if (src && *src && st_strv_push(&rec->sources, &rec->nsources, src) < 0) {
					reg_blob_recs_free(v, k);
					return st_error_set(err, ENOMEM, "distribution records");
				}
			}
	}
	*out = v;
	*n = k;
	return 0;
}

int reg_meta_record(struct st_store *s, const char *diff_id, const struct st_desc *blob, const char *source,
		    struct st_error *err)
{
	char name[80];
	int r = meta_name(diff_id, name, sizeof(name), err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = st_store_subdir(s, META_DIR, err);
	if (dfd < 0)
		return dfd;
	if ((r = st_store_lock(s, err)) < 0)
		return r;
	_cleanup_json_ json_object *o = load(dfd, name);
	if (!o)
		o = json_object_new_object();
	json_object *blobs;
	if (!json_object_object_get_ex(o, "blobs", &blobs) || !json_object_is_type(blobs, json_type_array)) {
		blobs = json_object_new_array();
		json_object_object_add(o, "blobs", blobs);
	}
	json_object *entry = NULL;
	for (size_t i = 0; i < json_object_array_length(blobs) && !entry; i++) {
		json_object *b = json_object_array_get_idx(blobs, i);
		if (strcmp(st_json_str(b, "digest"), blob->digest) == 0)
			entry = b;
	}
	if (!entry) {
		/* the oldest fall off */
		entry = st_desc_json(blob->media_type, blob->digest, blob->size);
		json_object_object_add(entry, "sources", json_object_new_array());
		json_object_array_add(blobs, entry);
		while (json_object_array_length(blobs) > META_MAX_BLOBS)
			json_object_array_del_idx(blobs, 0, 1);
	}
	json_object *srcs;
	if (!json_object_object_get_ex(entry, "sources", &srcs) || !json_object_is_type(srcs, json_type_array)) {
		srcs = json_object_new_array();
		json_object_object_add(entry, "sources", srcs);
	}
	bool have = false;
	for (size_t i = 0; i < json_object_array_length(srcs); i++)
		have |= strcmp(json_object_get_string(json_object_array_get_idx(srcs, i)), source) == 0;
	if (!have) {
		json_object_array_add(srcs, json_object_new_string(source));
		while (json_object_array_length(srcs) > META_MAX_SOURCES)
			json_object_array_del_idx(srcs, 0, 1);
	}
	r = st_json_save_at(dfd, name, o, err);
	st_store_unlock(s);
	return r < 0 ? st_error_wrap(err, "distribution record of %s", diff_id) : 0;
}
