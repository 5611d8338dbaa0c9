/* strata load: docker-archive (Docker's image format v1.2, what `docker
 * save` writes: manifest.json, <id>.json configs, <v1 id>/layer.tar; Docker
 * 25 also writes blobs/sha256/...) and OCI image layouts (oci-layout,
 * index.json, blobs/sha256/...), from a directory, a tar or a stream.
 *
 * Two phases. First every image is planned (manifests and configs read and
 * checked against their digests) and every layer is registered, each held
 * by this load's lease holder so that a killed load leaves nothing behind
 * (the lease is swept at the next store open). Then the images are created
 * and tagged, and the lease holders dropped. Any failure before that point
 * releases what was registered: the store is as it was. */
#include <ctype.h>
#include <sys/utsname.h>

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"

#define LOAD_JSON_MAX (64u << 20) /* manifests, indexes and configs */
#define LOAD_INDEX_DEPTH 4

struct plan_layer {
	char diff_id[ST_DIGEST_LEN + 1];
	char *path;                    /* member of the archive */
	char blob[ST_DIGEST_LEN + 1];  /* digest of the bytes as stored; "" when the format names none */
	int64_t size;                  /* their size, -1 when unknown */
};

struct plan_image {
	char what[160];                /* "image 2 (config abc.json)", for messages */
	char *config;
	size_t config_len;
	char id[ST_DIGEST_LEN + 1];
	struct plan_layer *layers;
	size_t nlayers;
	char **tags;
	size_t ntags;
};

struct plan {
	struct plan_image *v;
	size_t n;
};

struct loader {
	struct st_store *s;
	struct st_img_src *src;
	struct plan plan;
	struct st_lease lease;
	bool lease_ok;
	char holder[64];
	char **held; /* chain ids this load holds with its lease holder */
	size_t nheld;
	struct st_load_result *res;
};

void st_load_result_free(struct st_load_result *res)
{
	if (!res)
		return;
	st_strv_free(res->ids, res->nids);
	st_strv_free(res->tags, res->ntags);
	st_strv_free(res->untagged, res->nuntagged);
	memset(res, 0, sizeof(*res));
}

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct plan_image *im = &p->v[i];
		free(im->config);
		for (size_t k = 0; k < im->nlayers; k++)
			free(im->layers[k].path);
		free(im->layers);
		st_strv_free(im->tags, im->ntags);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static struct plan_image *plan_add(struct plan *p)
{
	struct plan_image *v = realloc(p->v, (p->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	p->v = v;
	memset(&v[p->n], 0, sizeof(v[p->n]));
	return &v[p->n++];
}

/* ------------------------------------------------------------ references */

static int add_tag(struct plan_image *im, const char *raw, const char *where, struct st_error *err)
{
	char norm[300];
	if (st_image_ref_familiar(raw, norm, sizeof(norm), err) < 0)
		return st_error_wrap(err, "%s: %s", im->what, where);
	for (size_t i = 0; i < im->ntags; i++)
		if (strcmp(im->tags[i], norm) == 0)
			return 0;
	return st_strv_push(&im->tags, &im->ntags, norm) < 0 ? st_error_set(err, ENOMEM, "load") : 0;
}

/* ---------------------------------------------------------------- configs */

/* Take the config bytes (ownership passes), hash them into the image id and
 * read the diff ids; the layer list is made to match. */
static int plan_config(struct plan_image *im, char *config, size_t len, size_t nlayers, struct st_error *err)
{
	im->config = config;
	im->config_len = len;
	st_sha256_buf(config, len, im->id);
	_cleanup_json_ json_object *cfg = NULL;
	if (strlen(config) != len)
		return st_error_fail(err, EINVAL, "%s: the config is not text", im->what);
	int r = st_json_parse(config, "image config", &cfg, err);
	if (r < 0)
		return st_error_wrap(err, "%s", im->what);
	const char *os = st_json_str(cfg, "os");
	if (*os && strcmp(os, "linux") != 0)
		return st_error_fail(err, EINVAL, "%s: the image is for %s, not linux", im->what, os);
	json_object *rootfs, *ids;
	if (!json_object_object_get_ex(cfg, "rootfs", &rootfs) || !json_object_object_get_ex(rootfs, "diff_ids", &ids) ||
	    !json_object_is_type(ids, json_type_array))
		return st_error_fail(err, EINVAL, "%s: the config has no rootfs.diff_ids", im->what);
	size_t n = json_object_array_length(ids);
	if (n != nlayers)
		return st_error_fail(err, EINVAL, "%s: the config names %zu layers, the manifest %zu", im->what, n,
				     nlayers);
	im->layers = calloc(n ? n : 1, sizeof(*im->layers));
	if (!im->layers)
		return st_error_set(err, ENOMEM, "load");
	im->nlayers = n;
	for (size_t i = 0; i < n; i++) {
		const char *d = json_object_get_string(json_object_array_get_idx(ids, i));
		if (!st_valid_digest(d))
			return st_error_fail(err, EINVAL, "%s: invalid diff id \"%s\" in the config", im->what,
					     d ? d : "");
		snprintf(im->layers[i].diff_id, ST_DIGEST_LEN + 1, "%s", d);
		im->layers[i].size = -1;
	}
	return 0;
}

/* "blobs/sha256/<hex>" or "<hex>.json" -> the digest the name promises. */
static bool digest_in_name(const char *name, char out[ST_DIGEST_LEN + 1])
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	char d[ST_DIGEST_LEN + 8];
	snprintf(d, sizeof(d), "sha256:%.64s", base);
	bool blob = strstr(name, "blobs/sha256/") != NULL && strlen(base) == 64;
	bool json = strlen(base) == 69 && strcmp(base + 64, ".json") == 0;
	if ((!blob && !json) || !st_valid_digest(d))
		return false;
	snprintf(out, ST_DIGEST_LEN + 1, "%s", d);
	return true;
}

/* ------------------------------------------------------- docker-archive */

static int plan_docker(struct loader *ld, struct st_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = st_img_src_read(ld->src, "manifest.json", LOAD_JSON_MAX, &text, &len, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_object *man = NULL;
	if ((r = st_json_parse(text, "manifest.json", &man, err)) < 0)
		return r;
	if (!json_object_is_type(man, json_type_array) || json_object_array_length(man) == 0)
		return st_error_fail(err, EINVAL, "manifest.json lists no images");
	for (size_t i = 0; i < json_object_array_length(man); i++) {
		json_object *e = json_object_array_get_idx(man, i), *layers, *tags;
		const char *cfgname = st_json_str(e, "Config");
		struct plan_image *im = plan_add(&ld->plan);
		if (!im)
			return st_error_set(err, ENOMEM, "load");
		snprintf(im->what, sizeof(im->what), "image %zu (config %.64s)", i + 1, cfgname);
		if (!*cfgname || !json_object_object_get_ex(e, "Layers", &layers) ||
		    !json_object_is_type(layers, json_type_array))
			return st_error_fail(err, EINVAL, "manifest.json: image %zu has no Config or no Layers", i + 1);
		char *config;
		size_t clen;
		if ((r = st_img_src_read(ld->src, cfgname, LOAD_JSON_MAX, &config, &clen, err)) < 0)
			return r;
		if ((r = plan_config(im, config, clen, json_object_array_length(layers), err)) < 0)
			return r;
		char want[ST_DIGEST_LEN + 1];
		if (digest_in_name(cfgname, want) && strcmp(want, im->id) != 0)
			return st_error_fail(err, EINVAL, "%s: the config's digest is %s, its name says %s", im->what,
					     im->id, want);
		for (size_t k = 0; k < im->nlayers; k++) {
			const char *p = json_object_get_string(json_object_array_get_idx(layers, k));
			if (!p || !*p)
				return st_error_fail(err, EINVAL, "manifest.json: %s: layer %zu has no path", im->what, k + 1);
			if (!(im->layers[k].path = strdup(p)))
				return st_error_set(err, ENOMEM, "load");
			if (!digest_in_name(p, im->layers[k].blob))
				im->layers[k].blob[0] = '\0';
		}
		if (json_object_object_get_ex(e, "RepoTags", &tags) && json_object_is_type(tags, json_type_array))
			for (size_t k = 0; k < json_object_array_length(tags); k++)
				if ((r = add_tag(im, json_object_get_string(json_object_array_get_idx(tags, k)),
						 "manifest.json RepoTags", err)) < 0)
					return r;
	}
	return 0;
}

/* ---------------------------------------------------------- OCI layout */

struct desc {
	const char *media_type;
	char digest[ST_DIGEST_LEN + 1];
	int64_t size;
};

static int parse_desc(json_object *o, struct desc *d, const char *what, struct st_error *err)
{
	d->media_type = st_json_str(o, "mediaType");
	const char *dg = st_json_str(o, "digest");
	json_object *sz;
	if (!st_str_has_prefix(dg, "sha256:"))
		return st_error_fail(err, EINVAL, "%s: digest \"%s\" is not sha256 (the only algorithm supported)",
				     what, dg);
	if (!st_valid_digest(dg))
		return st_error_fail(err, EINVAL, "%s: invalid digest \"%s\"", what, dg);
	if (!json_object_object_get_ex(o, "size", &sz) || !json_object_is_type(sz, json_type_int) ||
	    json_object_get_int64(sz) < 0)
		return st_error_fail(err, EINVAL, "%s: descriptor of %s has no valid size", what, dg);
	snprintf(d->digest, sizeof(d->digest), "%s", dg);
	d->size = json_object_get_int64(sz);
	return 0;
}

static void blob_path(const char *digest, char *out, size_t len)
{
	snprintf(out, len, "blobs/sha256/%s", digest + 7);
}

/* A JSON blob, checked against its descriptor. */
static int read_blob(struct loader *ld, const struct desc *d, char **out, size_t *len, struct st_error *err)
{
	char p[128], got[ST_DIGEST_LEN + 1];
	blob_path(d->digest, p, sizeof(p));
	int r = st_img_src_read(ld->src, p, LOAD_JSON_MAX, out, len, err);
	if (r < 0)
		return r;
	st_sha256_buf(*out, *len, got);
	if ((int64_t)*len != d->size || strcmp(got, d->digest) != 0) {
		free(*out);
		*out = NULL;
		return st_error_fail(err, EINVAL, "blob %s does not match its descriptor (digest %s, %zu bytes, want %lld)",
				     d->digest, got, *len, (long long)d->size);
	}
	return 0;
}

static bool is_manifest_type(const char *mt)
{
	return strcmp(mt, ST_MT_OCI_MANIFEST) == 0 || strcmp(mt, ST_MT_DOCKER_MANIFEST) == 0;
}

static bool is_index_type(const char *mt)
{
	return strcmp(mt, ST_MT_OCI_INDEX) == 0 || strcmp(mt, ST_MT_DOCKER_LIST) == 0;
}

static bool layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};
	for (size_t i = 0; i < ST_ARRAY_SIZE(ok); i++)
		if (strcmp(mt, ok[i]) == 0)
			return true;
	return false;
}

static const char *host_arch(void)
{
	struct utsname u;
	if (uname(&u) < 0)
		return "amd64";
	static const struct { const char *m, *arch; } map[] = {
		{"x86_64", "amd64"}, {"aarch64", "arm64"}, {"i686", "386"}, {"i386", "386"},
		{"armv7l", "arm"}, {"ppc64le", "ppc64le"}, {"s390x", "s390x"}, {"riscv64", "riscv64"},
	};
	for (size_t i = 0; i < ST_ARRAY_SIZE(map); i++)
		if (strcmp(u.machine, map[i].m) == 0)
			return map[i].arch;
	return "amd64";
}

static int plan_oci_manifest(struct loader *ld, const struct desc *md, json_object *annotations, struct st_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_blob(ld, md, &text, &len, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_object *man = NULL;
	if ((r = st_json_parse(text, "image manifest", &man, err)) < 0)
		return r;
	struct plan_image *im = plan_add(&ld->plan);
	if (!im)
		return st_error_set(err, ENOMEM, "load");
	snprintf(im->what, sizeof(im->what), "image %zu (manifest %.19s)", ld->plan.n, md->digest);
	json_object *cfgo, *layers;
	if (!json_object_object_get_ex(man, "config", &cfgo) || !json_object_object_get_ex(man, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array))
		return st_error_fail(err, EINVAL, "%s: the manifest has no config or no layers", im->what);
	struct desc cd;
	if ((r = parse_desc(cfgo, &cd, im->what, err)) < 0)
		return r;
	char *config;
	size_t clen;
	if ((r = read_blob(ld, &cd, &config, &clen, err)) < 0)
		return st_error_wrap(err, "%s: config", im->what);
	if ((r = plan_config(im, config, clen, json_object_array_length(layers), err)) < 0)
		return r;
	for (size_t k = 0; k < im->nlayers; k++) {
		struct desc ldsc;
		if ((r = parse_desc(json_object_array_get_idx(layers, k), &ldsc, im->what, err)) < 0)
			return r;
		if (!layer_type_ok(ldsc.media_type))
			return st_error_fail(err, ENOTSUP, "%s: layer %zu has media type \"%s\", which strata cannot unpack",
					     im->what, k + 1, ldsc.media_type);
		char p[128];
		blob_path(ldsc.digest, p, sizeof(p));
		if (!(im->layers[k].path = strdup(p)))
			return st_error_set(err, ENOMEM, "load");
		snprintf(im->layers[k].blob, ST_DIGEST_LEN + 1, "%s", ldsc.digest);
		im->layers[k].size = ldsc.size;
	}
	/* the name: containerd's full name, else the OCI ref.name (as podman
	 * reads it: a bare "busybox" is busybox:latest) */
	const char *cname = annotations ? st_json_str(annotations, ST_ANNOT_CONTAINERD_NAME) : "";
	const char *rname = annotations ? st_json_str(annotations, ST_ANNOT_REF_NAME) : "";
	if (*cname)
		return add_tag(im, cname, "annotation " ST_ANNOT_CONTAINERD_NAME, err);
	if (*rname)
		return add_tag(im, rname, "annotation " ST_ANNOT_REF_NAME, err);
	return 0;
}

static int plan_oci_desc(struct loader *ld, json_object *o, json_object *annotations, int depth, struct st_error *err);

/* An index inside the layout (a multi-platform image): the host's platform. */
static int plan_oci_index(struct loader *ld, const struct desc *d, json_object *annotations, int depth,
			  struct st_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_blob(ld, d, &text, &len, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_object *idx = NULL;
	json_object *mans;
	if ((r = st_json_parse(text, "image index", &idx, err)) < 0)
		return r;
	if (!json_object_object_get_ex(idx, "manifests", &mans) || !json_object_is_type(mans, json_type_array))
		return st_error_fail(err, EINVAL, "index %s has no manifests", d->digest);
	const char *arch = host_arch();
	json_object *pick = NULL;
	size_t candidates = 0;
	for (size_t i = 0; i < json_object_array_length(mans); i++) {
		json_object *m = json_object_array_get_idx(mans, i), *plat;
		if (!json_object_object_get_ex(m, "platform", &plat)) {
			candidates++;
			if (!pick)
				pick = m;
			continue;
		}
		const char *os = st_json_str(plat, "os"), *a = st_json_str(plat, "architecture");
		if (strcmp(os, "linux") == 0 && strcmp(a, arch) == 0) {
			pick = m;
			candidates = 1;
			break;
		}
	}
	if (!pick || candidates != 1)
		return st_error_fail(err, ENOENT, "index %s has no image for linux/%s", d->digest, arch);
	return plan_oci_desc(ld, pick, annotations, depth + 1, err);
}

static int plan_oci_desc(struct loader *ld, json_object *o, json_object *annotations, int depth, struct st_error *err)
{
	if (depth > LOAD_INDEX_DEPTH)
		return st_error_fail(err, ELOOP, "indexes nest too deep");
	struct desc d;
	int r = parse_desc(o, &d, "index.json", err);
	if (r < 0)
		return r;
	if (is_manifest_type(d.media_type))
		return plan_oci_manifest(ld, &d, annotations, err);
	if (is_index_type(d.media_type))
		return plan_oci_index(ld, &d, annotations, depth, err);
	return st_error_fail(err, ENOTSUP, "descriptor %s has media type \"%s\", not an image manifest or index",
			     d.digest, d.media_type);
}

static int plan_oci(struct loader *ld, struct st_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	_cleanup_json_ json_object *layout = NULL, *index = NULL;
	int r = st_img_src_read(ld->src, "oci-layout", 1 << 20, &text, &len, err);
	if (r < 0)
		return r;
	if ((r = st_json_parse(text, "oci-layout", &layout, err)) < 0)
		return r;
	const char *ver = st_json_str(layout, "imageLayoutVersion");
	if (!st_str_has_prefix(ver, "1."))
		return st_error_fail(err, ENOTSUP, "oci-layout: image layout version \"%s\" is not supported (1.x is)",
				     ver);
	free(text);
	text = NULL;
	if ((r = st_img_src_read(ld->src, "index.json", LOAD_JSON_MAX, &text, &len, err)) < 0)
		return r;
	json_object *mans;
	if ((r = st_json_parse(text, "index.json", &index, err)) < 0)
		return r;
	if (!json_object_object_get_ex(index, "manifests", &mans) || !json_object_is_type(mans, json_type_array) ||
	    json_object_array_length(mans) == 0)
		return st_error_fail(err, EINVAL, "index.json lists no images");
	for (size_t i = 0; i < json_object_array_length(mans); i++) {
		json_object *m = json_object_array_get_idx(mans, i), *ann = NULL;
		json_object_object_get_ex(m, "annotations", &ann);
		if ((r = plan_oci_desc(ld, m, ann, 0, err)) < 0)
			return r;
	}
	return 0;
}

/* --------------------------------------------------------------- layers */

/* Hashes and counts the bytes of a blob as they pass to the layer store. */
struct hash_reader {
	struct st_reader *in;
	struct st_sha256 h;
	int64_t bytes;
	struct st_reader r;
};

static ssize_t hash_read(void *ctx, void *buf, size_t len)
{
	struct hash_reader *hr = ctx;
	ssize_t n = hr->in->read(hr->in->ctx, buf, len);
	if (n > 0) {
		st_sha256_update(&hr->h, buf, (size_t)n);
		hr->bytes += n;
	}
	return n;
}

static int hold(struct loader *ld, const char *chain, struct st_error *err)
{
	for (size_t i = 0; i < ld->nheld; i++)
		if (strcmp(ld->held[i], chain) == 0)
			return 0;
	return st_strv_push(&ld->held, &ld->nheld, chain) < 0 ? st_error_set(err, ENOMEM, "load") : 0;
}

static bool holding(struct loader *ld, const char *chain)
{
	for (size_t i = 0; i < ld->nheld; i++)
		if (strcmp(ld->held[i], chain) == 0)
			return true;
	return false;
}

static int load_layer(struct loader *ld, struct plan_image *im, size_t k, const char *parent, const char *chain,
		      struct st_error *err)
{
	struct plan_layer *pl = &im->layers[k];
	/* already here: nothing to read (docker load does the same) */
	struct st_layer have;
	struct st_error e2;
	if (st_layer_get(ld->s, chain, &have, &e2) == 0) {
		st_layer_free(&have);
		if (st_layer_hold(ld->s, chain, ld->holder, &e2) == 0) {
			ld->res->layers_reused++;
			return hold(ld, chain, err);
		}
	}
	struct hash_reader hr = {0};
	int64_t size;
	int r = st_img_src_stream(ld->src, pl->path, &hr.r, &size, err);
	if (r < 0)
		return st_error_wrap(err, "%s: layer %zu", im->what, k + 1);
	struct st_reader inner = hr.r;
	hr.in = &inner;
	hr.r.read = hash_read;
	hr.r.ctx = &hr;
	if ((r = st_sha256_init(&hr.h)) < 0) {
		st_img_src_close(ld->src);
		return st_error_set(err, -r, "load");
	}
	struct st_layer l = {0};
	r = st_layer_register(ld->s, parent[0] ? parent : NULL, &hr.r, ld->holder, &l, err);
	if (r >= 0 && (r = hold(ld, l.chain_id, err)) >= 0) {
		/* the decompressor may stop at the end of the stream it knows:
		 * the blob digest covers every byte */
		char buf[16384];
		ssize_t n;
		while ((n = hash_read(&hr, buf, sizeof(buf))) > 0)
			;
		if (n < 0)
			r = st_error_fail(err, (int)-n, "read to the end");
	}
	char blob[ST_DIGEST_LEN + 1];
	st_sha256_final(&hr.h, blob);
	st_img_src_close(ld->src);
	/* the blob as stored first (what the manifest names), then its content */
	if (r >= 0 && hr.bytes != size)
		r = st_error_fail(err, EIO, "read %lld of its %lld bytes", (long long)hr.bytes, (long long)size);
	if (r >= 0 && pl->size >= 0 && hr.bytes != pl->size)
		r = st_error_fail(err, EINVAL, "it is %lld bytes, the manifest says %lld", (long long)hr.bytes,
				  (long long)pl->size);
	if (r >= 0 && pl->blob[0] && strcmp(blob, pl->blob) != 0)
		r = st_error_fail(err, EINVAL, "its bytes have digest %s, the manifest says %s", blob, pl->blob);
	if (r >= 0 && strcmp(l.diff_id, pl->diff_id) != 0)
		r = st_error_fail(err, EINVAL, "its content has diff id %s, the config says %s", l.diff_id, pl->diff_id);
	st_layer_free(&l);
	if (r < 0)
		return st_error_wrap(err, "%s: layer %zu (%s)", im->what, k + 1, pl->path);
	ld->res->layers_loaded++;
	return 0;
}

static int load_layers(struct loader *ld, struct st_error *err)
{
	for (size_t i = 0; i < ld->plan.n; i++) {
		struct plan_image *im = &ld->plan.v[i];
		char parent[ST_DIGEST_LEN + 1] = "";
		for (size_t k = 0; k < im->nlayers; k++) {
			char chain[ST_DIGEST_LEN + 1];
			st_chain_id(parent, im->layers[k].diff_id, chain);
			if (!holding(ld, chain)) {
				int r = load_layer(ld, im, k, parent, chain, err);
				if (r < 0)
					return r;
			}
			memcpy(parent, chain, sizeof(parent));
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- images */

static int create_images(struct loader *ld, struct st_error *err)
{
	char **created = NULL;
	size_t ncreated = 0;
	int r = 0;
	for (size_t i = 0; i < ld->plan.n && r >= 0; i++) {
		struct plan_image *im = &ld->plan.v[i];
		struct st_image old;
		struct st_error e2;
		bool existed = st_image_get(ld->s, im->id, &old, &e2) == 0;
		if (existed)
			st_image_free(&old);
		char id[ST_DIGEST_LEN + 1];
		if ((r = st_image_create(ld->s, im->config, im->config_len, id, err)) < 0)
			break;
		if (!existed && st_strv_push(&created, &ncreated, id) < 0)
			r = st_error_set(err, ENOMEM, "load");
		bool listed = false;
		for (size_t k = 0; k < ld->res->nids; k++)
			listed |= strcmp(ld->res->ids[k], id) == 0;
		if (r >= 0 && !listed && st_strv_push(&ld->res->ids, &ld->res->nids, id) < 0)
			r = st_error_set(err, ENOMEM, "load");
		if (r >= 0 && !listed && im->ntags == 0 && st_strv_push(&ld->res->untagged, &ld->res->nuntagged, id) < 0)
			r = st_error_set(err, ENOMEM, "load");
	}
	for (size_t i = 0; i < ld->plan.n && r >= 0; i++) {
		struct plan_image *im = &ld->plan.v[i];
		for (size_t k = 0; k < im->ntags && r >= 0; k++) {
			if ((r = st_image_tag(ld->s, im->id, im->tags[k], err)) >= 0 &&
			    st_strv_push(&ld->res->tags, &ld->res->ntags, im->tags[k]) < 0)
				r = st_error_set(err, ENOMEM, "load");
		}
	}
	if (r < 0) {
		/* undo: the images this load made (with any tag it gave them) */
		for (size_t i = 0; i < ncreated; i++) {
			struct st_error e2;
			char **done = NULL;
			size_t ndone = 0;
			st_image_remove(ld->s, created[i], true, &done, &ndone, &e2);
			st_strv_free(done, ndone);
		}
	}
	st_strv_free(created, ncreated);
	return r;
}

static void release_held(struct loader *ld)
{
	for (size_t i = ld->nheld; i-- > 0;) {
		struct st_error e2;
		st_layer_release(ld->s, ld->held[i], ld->holder, &e2);
	}
	st_strv_free(ld->held, ld->nheld);
	ld->held = NULL;
	ld->nheld = 0;
}

int st_image_load(struct st_store *s, const char *path, int fd, struct st_load_result *res,
		  struct st_error *err)
{
	memset(res, 0, sizeof(*res));
	struct loader ld = {.s = s, .res = res};
	int r = st_img_src_open(path, fd, s->root_fd, &ld.src, err);
	if (r < 0)
		return st_error_wrap(err, "load");
	if (st_img_src_has(ld.src, "manifest.json"))
		r = plan_docker(&ld, err);
	else if (st_img_src_has(ld.src, "index.json") || st_img_src_has(ld.src, "oci-layout"))
		r = plan_oci(&ld, err);
	else
		r = st_error_fail(err, EINVAL, "neither manifest.json (docker-archive) nor index.json (OCI image layout) found");
	if (r >= 0 && (r = st_lease_new(s, &ld.lease, err)) >= 0) {
		ld.lease_ok = true;
		st_lease_holder(&ld.lease, ld.holder, sizeof(ld.holder));
		r = load_layers(&ld, err);
		if (r >= 0)
			r = create_images(&ld, err);
	}
	/* the images hold what they need now; on failure this removes it all */
	release_held(&ld);
	if (ld.lease_ok)
		st_lease_end(&ld.lease);
	if (r < 0) {
		st_load_result_free(res);
		st_error_wrap(err, "load %s", st_img_src_name(ld.src));
	}
	plan_free(&ld.plan);
	st_img_src_free(ld.src);
	return r;
}
