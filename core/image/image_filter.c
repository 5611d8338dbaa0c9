/* `strata images --filter`: docker's image filters (daemon/images/images.go
 * of Docker 20.10), on st_image_list's images.
 *
 *   dangling=true|false  images without a tag (true), or with a tag or a
 *                        repository digest (false)
 *   label=KEY[=VALUE]    the config's labels (every label filter must hold)
 *   before=IMAGE         created before IMAGE (the last one given counts)
 *   since=IMAGE          created after IMAGE
 *   reference=PATTERN    a tag or digest reference matching the glob, as
 *                        docker's FamiliarMatch: "name:tag" or "name@digest",
 *                        else the name alone; only the matching tags and
 *                        digests stay listed */
#include "base/base.h"
#include "image/image.h"

static const char *const image_filter_keys[] = {"dangling", "label", "before", "since", "reference", NULL};

/* The config's "created" in nanoseconds: images made in one second are
 * still ordered, as docker orders them. */
static int64_t created_ns(json_object *cfg)
{
	const char *c = st_json_str(cfg, "created");
	int64_t ns = st_parse_time(c) * 1000000000;
	const char *dot = strchr(c, '.');
	if (dot) {
		int64_t scale = 100000000;
		for (const char *p = dot + 1; *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10)
			ns += (*p - '0') * scale;
	}
	return ns;
}

static int64_t image_created_ns(const struct st_image *img)
{
	_cleanup_json_ json_object *cfg = json_tokener_parse(img->config);
	return cfg ? created_ns(cfg) : img->created * 1000000000;
}

static void config_labels(const struct st_image *img, struct st_kvlist *out)
{
	_cleanup_json_ json_object *cfg = json_tokener_parse(img->config);
	json_object *c, *labels;
	if (!cfg || !json_object_object_get_ex(cfg, "config", &c) || !json_object_object_get_ex(c, "Labels", &labels) ||
	    !json_object_is_type(labels, json_type_object))
		return;
	json_object_object_foreach(labels, k, v)
	{
		st_kvlist_add(out, k, "%s", json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "");
	}
}

bool st_image_ref_matches(const char *pattern, const char *ref)
{
	if (st_filter_glob(pattern, ref))
		return true;
	size_t n = strcspn(ref, "@");
	if (!ref[n]) {
		const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
		if (colon && (!slash || colon > slash))
			n = (size_t)(colon - ref);
	}
	char name[320];
	snprintf(name, sizeof(name), "%.*s", (int)n, ref);
	return st_filter_glob(pattern, name);
}

/* Keep the references that some reference= pattern matches. */
static void keep_matching(const struct st_kvlist *f, char **refs, size_t *n)
{
	size_t kept = 0;
	for (size_t i = 0; i < *n; i++) {
		bool hit = false;
		for (size_t k = 0; k < f->n && !hit; k++)
			hit = strcmp(f->v[k].key, "reference") == 0 && st_image_ref_matches(f->v[k].value, refs[i]);
		if (hit)
			refs[kept++] = refs[i];
		else
			free(refs[i]);
	}
	*n = kept;
}

/* The creation time of the image the last value of key names. */
static int bound(struct st_store *s, const struct st_kvlist *f, const char *key, int64_t *out, struct st_error *err)
{
	const char *ref = st_kvlist_get(f, key);
	if (!ref)
		return 0;
	struct st_image img;
	int r = st_image_get(s, ref, &img, err);
	if (r < 0)
		return r;
	*out = image_created_ns(&img);
	st_image_free(&img);
	return 1;
}

/* Does img pass? Its tags and digests are cut to the matching ones. */
static bool image_passes(const struct st_kvlist *f, struct st_image *img, bool dangling_only, int has_before,
			 int64_t before, int has_since, int64_t since)
{
	if (has_before || has_since) {
		int64_t t = image_created_ns(img);
		if ((has_before && t >= before) || (has_since && t <= since))
			return false;
	}
	if (st_filter_has(f, "label")) {
		struct st_kvlist labels = {0};
		config_labels(img, &labels);
		bool ok = labels.n > 0 && st_filter_labels(f, "label", &labels);
		st_kvlist_free(&labels);
		if (!ok)
			return false;
	}
	if (st_filter_has(f, "reference")) {
		keep_matching(f, img->tags, &img->ntags);
		keep_matching(f, img->digests, &img->ndigests);
	}
	if (img->ntags == 0 && img->ndigests == 0)
		return !(st_filter_has(f, "dangling") && !dangling_only) && !st_filter_has(f, "reference");
	return !(dangling_only && img->ntags > 0);
}

int st_image_list_filtered(struct st_store *s, const struct st_kvlist *f, struct st_image **out, size_t *n,
			   struct st_error *err)
{
	*out = NULL;
	*n = 0;
	int r = st_filter_validate(f, image_filter_keys, err);
	if (r < 0)
		return r;
	bool dangling_only = false;
	if (st_filter_has(f, "dangling")) {
		dangling_only = st_filter_exact(f, "dangling", "true");
		if (!dangling_only && !st_filter_exact(f, "dangling", "false"))
			return st_filter_invalid_value(f, "dangling", err);
	}
	int64_t before = 0, since = 0;
	int has_before = bound(s, f, "before", &before, err);
	if (has_before < 0)
		return has_before;
	int has_since = bound(s, f, "since", &since, err);
	if (has_since < 0)
		return has_since;
	struct st_image *v;
	size_t nv;
	if ((r = st_image_list(s, &v, &nv, err)) < 0)
		return r;
	size_t kept = 0;
	for (size_t i = 0; i < nv; i++) {
		if (image_passes(f, &v[i], dangling_only, has_before, before, has_since, since))
			v[kept++] = v[i];
		else
			st_image_free(&v[i]);
	}
	*out = v;
	*n = kept;
	return 0;
}
