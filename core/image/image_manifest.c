/* Descriptors, media types, platforms and configs: the vocabulary of image
 * manifests and indexes shared by load, save, pull and push. */
#include <ctype.h>
#include <sys/utsname.h>

#include "base/base.h"
#include "image/image.h"

int st_desc_parse(json_object *o, struct st_desc *d, const char *what, struct st_error *err)
{
	memset(d, 0, sizeof(*d));
	if (!o || !json_object_is_type(o, json_type_object))
		return st_error_fail(err, EINVAL, "%s: a descriptor is not an object", what);
	const char *mt = st_json_str(o, "mediaType");
	const char *dg = st_json_str(o, "digest");
	json_object *sz;
	if (strlen(mt) >= sizeof(d->media_type))
		return st_error_fail(err, EINVAL, "%s: media type \"%.60s...\" is too long", what, mt);
	if (!st_str_has_prefix(dg, "sha256:"))
		return st_error_fail(err, EINVAL, "%s: digest \"%.80s\" is not sha256 (the only algorithm supported)",
				     what, dg);
	if (!st_valid_digest(dg))
		return st_error_fail(err, EINVAL, "%s: invalid digest \"%.80s\"", what, dg);
	if (!json_object_object_get_ex(o, "size", &sz) || !json_object_is_type(sz, json_type_int) ||
	    json_object_get_int64(sz) < 0)
		return st_error_fail(err, EINVAL, "%s: descriptor of %s has no valid size", what, dg);
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt);
	snprintf(d->digest, sizeof(d->digest), "%s", dg);
	d->size = json_object_get_int64(sz);
	return 0;
}

json_object *st_desc_json(const char *media_type, const char *digest, int64_t size)
{
	json_object *d = json_object_new_object();
	json_object_object_add(d, "mediaType", json_object_new_string(media_type));
	json_object_object_add(d, "digest", json_object_new_string(digest));
	json_object_object_add(d, "size", json_object_new_int64(size));
	return d;
}

bool st_mt_is_manifest(const char *mt)
{
	return strcmp(mt, ST_MT_OCI_MANIFEST) == 0 || strcmp(mt, ST_MT_DOCKER_MANIFEST) == 0;
}

bool st_mt_is_index(const char *mt)
{
	return strcmp(mt, ST_MT_OCI_INDEX) == 0 || strcmp(mt, ST_MT_DOCKER_LIST) == 0;
}

static const struct {
	const char *mt;
	enum st_compression c;
} layer_types[] = {
	{ST_MT_OCI_LAYER, ST_COMPRESS_NONE},
	{ST_MT_OCI_LAYER_GZIP, ST_COMPRESS_GZIP},
	{ST_MT_OCI_LAYER_ZSTD, ST_COMPRESS_ZSTD},
	{"application/vnd.oci.image.layer.nondistributable.v1.tar", ST_COMPRESS_NONE},
	{"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", ST_COMPRESS_GZIP},
	{"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", ST_COMPRESS_ZSTD},
	{ST_MT_DOCKER_LAYER, ST_COMPRESS_NONE},
	{ST_MT_DOCKER_LAYER_GZIP, ST_COMPRESS_GZIP},
	{ST_MT_DOCKER_FOREIGN_GZIP, ST_COMPRESS_GZIP},
};

bool st_mt_is_layer(const char *mt)
{
	for (size_t i = 0; i < ST_ARRAY_SIZE(layer_types); i++)
		if (strcmp(mt, layer_types[i].mt) == 0)
			return true;
	return false;
}

enum st_compression st_mt_layer_compression(const char *mt)
{
	for (size_t i = 0; i < ST_ARRAY_SIZE(layer_types); i++)
		if (strcmp(mt, layer_types[i].mt) == 0)
			return layer_types[i].c;
	return ST_COMPRESS_NONE;
}

const char *st_mt_layer(bool oci, enum st_compression c)
{
	switch (c) {
	case ST_COMPRESS_GZIP:
		return oci ? ST_MT_OCI_LAYER_GZIP : ST_MT_DOCKER_LAYER_GZIP;
	case ST_COMPRESS_ZSTD:
		return oci ? ST_MT_OCI_LAYER_ZSTD : NULL;
	case ST_COMPRESS_NONE:
		break;
	}
	return oci ? ST_MT_OCI_LAYER : ST_MT_DOCKER_LAYER;
}

/* ------------------------------------------------------------- platforms */

void st_platform_host(struct st_platform *p)
{
	static const struct {
		const char *machine, *arch, *variant;
	} map[] = {
		{"x86_64", "amd64", ""}, {"aarch64", "arm64", ""}, {"i686", "386", ""},   {"i386", "386", ""},
		{"armv7l", "arm", "v7"}, {"armv6l", "arm", "v6"},   {"ppc64le", "ppc64le", ""},
		{"s390x", "s390x", ""},  {"riscv64", "riscv64", ""},
	};
	memset(p, 0, sizeof(*p));
	snprintf(p->os, sizeof(p->os), "linux");
	snprintf(p->arch, sizeof(p->arch), "amd64");
	struct utsname u;
	if (uname(&u) < 0)
		return;
	for (size_t i = 0; i < ST_ARRAY_SIZE(map); i++)
		if (strcmp(u.machine, map[i].machine) == 0) {
			snprintf(p->arch, sizeof(p->arch), "%s", map[i].arch);
			snprintf(p->variant, sizeof(p->variant), "%s", map[i].variant);
			return;
		}
	snprintf(p->arch, sizeof(p->arch), "%s", u.machine);
}

static bool platform_word(const char *s, size_t n)
{
	if (n == 0 || n >= 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

int st_platform_parse(const char *s, struct st_platform *p, struct st_error *err)
{
	memset(p, 0, sizeof(*p));
	const char *parts[3] = {0};
	size_t lens[3] = {0}, n = 0;
	const char *c = s;
	while (n < 3) {
		const char *slash = strchr(c, '/');
		parts[n] = c;
		lens[n] = slash ? (size_t)(slash - c) : strlen(c);
		n++;
		if (!slash)
			break;
		c = slash + 1;
		if (n == 3)
			return st_error_fail(err, EINVAL, "invalid platform \"%s\": os/arch[/variant]", s);
	}
	for (size_t i = 0; i < n; i++)
		if (!platform_word(parts[i], lens[i]))
			return st_error_fail(err, EINVAL, "invalid platform \"%s\": os/arch[/variant]", s);
	if (n < 2)
		return st_error_fail(err, EINVAL, "invalid platform \"%s\": os/arch[/variant]", s);
	snprintf(p->os, sizeof(p->os), "%.*s", (int)lens[0], parts[0]);
	snprintf(p->arch, sizeof(p->arch), "%.*s", (int)lens[1], parts[1]);
	if (n == 3)
		snprintf(p->variant, sizeof(p->variant), "%.*s", (int)lens[2], parts[2]);
	for (char *q = p->os; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	for (char *q = p->arch; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	/* Go's names for the common aliases (as docker normalises them) */
	if (strcmp(p->arch, "x86_64") == 0 || strcmp(p->arch, "x86-64") == 0)
		snprintf(p->arch, sizeof(p->arch), "amd64");
	else if (strcmp(p->arch, "aarch64") == 0)
		snprintf(p->arch, sizeof(p->arch), "arm64");
	if (strcmp(p->arch, "arm64") == 0 && strcmp(p->variant, "v8") == 0)
		p->variant[0] = '\0';
	return 0;
}

void st_platform_format(const struct st_platform *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}

json_object *st_index_pick(json_object *manifests, const struct st_platform *p)
{
	if (!manifests || !json_object_is_type(manifests, json_type_array))
		return NULL;
	size_t n = json_object_array_length(manifests);
	json_object *exact = NULL, *loose = NULL, *bare = NULL;
	size_t nbare = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(manifests, i), *plat;
		if (!json_object_object_get_ex(m, "platform", &plat)) {
			nbare++;
			bare = m;
			continue;
		}
		if (strcmp(st_json_str(plat, "os"), p->os) != 0 ||
		    strcmp(st_json_str(plat, "architecture"), p->arch) != 0)
			continue;
		const char *v = st_json_str(plat, "variant");
		if (strcmp(p->arch, "arm64") == 0 && strcmp(v, "v8") == 0)
			v = "";
		if (strcmp(v, p->variant) == 0) {
			if (!exact)
				exact = m;
		} else if (!p->variant[0] && !loose) {
			/* no variant asked for: any variant of the architecture */
			loose = m;
		}
	}
	if (exact)
		return exact;
	if (loose)
		return loose;
	return n == 1 && nbare == 1 ? bare : NULL;
}

/* ---------------------------------------------------------------- configs */

int st_config_diff_ids(const char *config, size_t len, char ***ids, size_t *n, struct st_platform *plat,
		       struct st_error *err)
{
	*ids = NULL;
	*n = 0;
	if (strlen(config) != len)
		return st_error_fail(err, EINVAL, "the image config is not text");
	_cleanup_json_ json_object *cfg = NULL;
	int r = st_json_parse(config, "image config", &cfg, err);
	if (r < 0)
		return r;
	if (plat) {
		memset(plat, 0, sizeof(*plat));
		snprintf(plat->os, sizeof(plat->os), "%s", st_json_str(cfg, "os"));
		snprintf(plat->arch, sizeof(plat->arch), "%s", st_json_str(cfg, "architecture"));
		snprintf(plat->variant, sizeof(plat->variant), "%s", st_json_str(cfg, "variant"));
	}
	json_object *rootfs, *arr;
	if (!json_object_object_get_ex(cfg, "rootfs", &rootfs) || !json_object_object_get_ex(rootfs, "diff_ids", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return st_error_fail(err, EINVAL, "the image config has no rootfs.diff_ids");
	char **v = NULL;
	size_t nv = 0;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		const char *d = json_object_get_string(json_object_array_get_idx(arr, i));
		if (!d || !st_valid_digest(d)) {
			st_strv_free(v, nv);
			return st_error_fail(err, EINVAL, "invalid diff id \"%.80s\" in the image config", d ? d : "");
		}
		if (st_strv_push(&v, &nv, d) < 0) {
			st_strv_free(v, nv);
			return st_error_set(err, ENOMEM, "image config");
		}
	}
	*ids = v;
	*n = nv;
	return 0;
}
