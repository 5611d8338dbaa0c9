/* Manifests: what a reference resolves to. A tag or digest gives a
 * manifest or an index (Docker's manifest list, the OCI image index); an
 * index is resolved to one platform's manifest. Every document is hashed
 * and checked against the digest it was asked by (or the one the registry
 * announces), so a registry cannot hand over something else. For push:
 * the manifest document and its PUT. */
#include "base/base.h"
#include "registry_int.h"

#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

static const char accept_all[] = ST_MT_OCI_MANIFEST ", " ST_MT_DOCKER_MANIFEST ", " ST_MT_OCI_INDEX
				 ", " ST_MT_DOCKER_LIST;

void reg_manifest_free(struct reg_manifest *m)
{
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

struct doc {
	char *body;
	size_t len;
	char media_type[128];
	char digest[ST_DIGEST_LEN + 1];
	json_object *json;
};

static void doc_free(struct doc *d)
{
	free(d->body);
	if (d->json)
		json_object_put(d->json);
	memset(d, 0, sizeof(*d));
}

/* The media type: the header's (without parameters), else the document's
 * own field, else what its shape says. */
static void doc_type(struct doc *d, const char *header)
{
	char h[128] = "";
	if (header)
		snprintf(h, sizeof(h), "%.*s", (int)strcspn(header, "; "), header);
	const char *own = st_json_str(d->json, "mediaType");
	if (*h && strcmp(h, "application/json") != 0 && strcmp(h, "text/plain") != 0)
		snprintf(d->media_type, sizeof(d->media_type), "%s", h);
	else if (*own)
		snprintf(d->media_type, sizeof(d->media_type), "%s", own);
	else if (json_object_object_get_ex(d->json, "manifests", NULL))
		snprintf(d->media_type, sizeof(d->media_type), ST_MT_OCI_INDEX);
	else if (json_object_object_get_ex(d->json, "config", NULL))
		snprintf(d->media_type, sizeof(d->media_type), ST_MT_OCI_MANIFEST);
	else if (json_object_object_get_ex(d->json, "fsLayers", NULL))
		snprintf(d->media_type, sizeof(d->media_type), MT_DOCKER_SCHEMA1);
}

static int fetch(struct reg_client *c, const char *repo, const char *reference, const char *want, struct doc *d,
		 struct st_error *err)
{
	memset(d, 0, sizeof(*d));
	_cleanup_free_ char *path = st_asprintf("/v2/%s/manifests/%s", repo, reference);
	if (!path)
		return st_error_set(err, ENOMEM, "manifest");
	struct reg_req q = {.method = "GET", .url = path, .accept = accept_all};
	struct reg_resp resp;
	int r = reg_do(c, &q, &resp, err);
	if (r < 0)
		return r;
	if (resp.status != 200) {
		if (resp.status == 404)
			r = reg_http_error(c, &resp, "not found", err);
		else
			r = reg_http_error(c, &resp, "GET manifest", err);
		reg_resp_free(&resp);
		return r;
	}
	d->body = st_take_ptr(resp.body);
	d->len = resp.body_len;
	if (!d->body) {
		reg_resp_free(&resp);
		return st_error_fail(err, EPROTO, "the registry sent an empty manifest");
	}
	st_sha256_buf(d->body, d->len, d->digest);
	if (want && strcmp(want, d->digest) != 0)
		r = st_error_fail(err, EINVAL, "the registry sent a manifest with digest %s, not the %s asked for",
				  d->digest, want);
	else if (!want && resp.docker_digest && st_str_has_prefix(resp.docker_digest, "sha256:") &&
		 strcmp(resp.docker_digest, d->digest) != 0)
		r = st_error_fail(err, EINVAL, "the manifest's bytes have digest %s, the registry says %s", d->digest,
				  resp.docker_digest);
	if (r >= 0 && strlen(d->body) != d->len)
		r = st_error_fail(err, EINVAL, "the manifest is not text");
	if (r >= 0)
		r = st_json_parse(d->body, "manifest", &d->json, err);
	if (r >= 0)
		doc_type(d, resp.content_type);
	reg_resp_free(&resp);
	if (r < 0)
		doc_free(d);
	return r;
}

static int parse_image_manifest(const struct doc *d, struct reg_manifest *m, struct st_error *err)
{
	json_object *cfg, *layers;
	if (!json_object_object_get_ex(d->json, "config", &cfg) || !json_object_object_get_ex(d->json, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array))
		return st_error_fail(err, EINVAL, "manifest %s has no config or no layers", d->digest);
	int r = st_desc_parse(cfg, &m->config, "manifest config", err);
	if (r < 0)
		return r;
	if (strcmp(m->config.media_type, ST_MT_OCI_CONFIG) != 0 && strcmp(m->config.media_type, ST_MT_DOCKER_CONFIG) != 0)
		return st_error_fail(err, ENOTSUP, "manifest %s is not a container image (its config is \"%s\")", d->digest,
				     m->config.media_type);
	size_t n = json_object_array_length(layers);
	m->layers = calloc(n ? n : 1, sizeof(*m->layers));
	if (!m->layers)
		return st_error_set(err, ENOMEM, "manifest");
	for (size_t i = 0; i < n; i++) {
		char what[64];
		snprintf(what, sizeof(what), "manifest layer %zu", i + 1);
		if ((r = st_desc_parse(json_object_array_get_idx(layers, i), &m->layers[i], what, err)) < 0)
			return r;
		if (!st_mt_is_layer(m->layers[i].media_type))
			return st_error_fail(err, ENOTSUP, "layer %zu has media type \"%s\", which strata cannot unpack", i + 1,
					     m->layers[i].media_type);
	}
	m->nlayers = n;
	snprintf(m->digest, sizeof(m->digest), "%s", d->digest);
	snprintf(m->media_type, sizeof(m->media_type), "%s", d->media_type);
	return 0;
}

static int refuse_type(const struct doc *d, struct st_error *err)
{
	if (strcmp(d->media_type, MT_DOCKER_SCHEMA1) == 0 || strcmp(d->media_type, MT_DOCKER_SCHEMA1_SIGNED) == 0)
		return st_error_fail(err, ENOTSUP, "%s is a Docker schema 1 manifest, which strata does not pull "
						   "(deprecated: push the image again with a current client)",
				     d->digest);
	return st_error_fail(err, ENOTSUP, "%s has media type \"%s\", not an image manifest or index", d->digest,
			     d->media_type);
}

int reg_manifest_resolve(struct reg_client *c, const struct reg_ref *ref, const struct st_platform *p,
			 struct reg_manifest *m, struct st_error *err)
{
	memset(m, 0, sizeof(*m));
	struct doc top, img = {0};
	const char *reference = ref->digest[0] ? ref->digest : ref->tag;
	int r = fetch(c, ref->repo, reference, ref->digest[0] ? ref->digest : NULL, &top, err);
	if (r < 0)
		return st_error_wrap(err, "manifest %s", reference);
	snprintf(m->top_digest, sizeof(m->top_digest), "%s", top.digest);
	if (st_mt_is_manifest(top.media_type)) {
		r = parse_image_manifest(&top, m, err);
	} else if (st_mt_is_index(top.media_type)) {
		json_object *mans = NULL;
		json_object_object_get_ex(top.json, "manifests", &mans);
		json_object *pick = st_index_pick(mans, p);
		char plat[100];
		st_platform_format(p, plat, sizeof(plat));
		struct st_desc d;
		if (!pick)
			r = st_error_fail(err, ENOENT, "no image for %s in the index %s", plat, top.digest);
		else if ((r = st_desc_parse(pick, &d, "index entry", err)) >= 0 &&
			 (r = fetch(c, ref->repo, d.digest, d.digest, &img, err)) >= 0) {
			if ((int64_t)img.len != d.size)
				r = st_error_fail(err, EINVAL, "manifest %s is %zu bytes, the index says %lld", d.digest, img.len,
						  (long long)d.size);
			else if (!st_mt_is_manifest(img.media_type))
				r = refuse_type(&img, err);
			else
				r = parse_image_manifest(&img, m, err);
		}
	} else {
		r = refuse_type(&top, err);
	}
	doc_free(&top);
	doc_free(&img);
	if (r < 0) {
		reg_manifest_free(m);
		return st_error_wrap(err, "manifest %s", reference);
	}
	return 0;
}

int reg_manifest_build(bool oci, const struct st_desc *config, const struct st_desc *layers, size_t n, char **text,
		       size_t *len, struct st_error *err)
{
	_cleanup_json_ json_object *man = json_object_new_object();
	json_object *arr = json_object_new_array();
	if (!man || !arr)
		return st_error_set(err, ENOMEM, "manifest");
	json_object_object_add(man, "schemaVersion", json_object_new_int(2));
	json_object_object_add(man, "mediaType", json_object_new_string(oci ? ST_MT_OCI_MANIFEST : ST_MT_DOCKER_MANIFEST));
	json_object_object_add(man, "config",
			       st_desc_json(oci ? ST_MT_OCI_CONFIG : ST_MT_DOCKER_CONFIG, config->digest, config->size));
	json_object_object_add(man, "layers", arr);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, st_desc_json(layers[i].media_type, layers[i].digest, layers[i].size));
	size_t l;
	const char *s = json_object_to_json_string_length(man, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &l);
	if (!s || !(*text = strndup(s, l)))
		return st_error_set(err, ENOMEM, "manifest");
	*len = l;
	return 0;
}

int reg_manifest_put(struct reg_client *c, const char *repo, const char *tag, const char *media_type,
		     const char *text, size_t len, char digest[ST_DIGEST_LEN + 1], struct st_error *err)
{
	st_sha256_buf(text, len, digest);
	_cleanup_free_ char *path = st_asprintf("/v2/%s/manifests/%s", repo, tag);
	if (!path)
		return st_error_set(err, ENOMEM, "manifest");
	struct reg_req q = {.method = "PUT", .url = path, .content_type = media_type, .body = text, .body_len = len};
	struct reg_resp resp;
	int r = reg_do(c, &q, &resp, err);
	if (r < 0)
		return st_error_wrap(err, "PUT manifest %s", tag);
	if (resp.status != 201 && resp.status != 200 && resp.status != 202) {
		r = reg_http_error(c, &resp, "PUT manifest", err);
		st_error_wrap(err, "%s", tag);
	} else if (resp.docker_digest && st_str_has_prefix(resp.docker_digest, "sha256:") &&
		   strcmp(resp.docker_digest, digest) != 0) {
		r = st_error_fail(err, EPROTO, "PUT manifest %s: the registry stored digest %s, strata sent %s", tag,
				  resp.docker_digest, digest);
	}
	reg_resp_free(&resp);
	return r;
}
