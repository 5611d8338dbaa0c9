/* `strata volume ls --filter`: docker's volume filters (Docker 20.10's
 * volume service), on st_volume_list's volumes.
 *
 *   name=PATTERN         the name matches (a regular expression, as docker's)
 *   driver=NAME          the driver, exactly
 *   label=KEY[=VALUE]    the volume's labels (every label filter must hold)
 *   dangling=true|false  (or 1|0) no container or mount uses it (true), or
 *                        something does (false) */
#include "base/base.h"
#include "volume/volume.h"

static const char *const volume_filter_keys[] = {"name", "driver", "label", "dangling", NULL};

int st_volume_list_filtered(struct st_store *s, const struct st_kvlist *f, struct st_volume **out, size_t *n,
			    struct st_kvlist *warnings, struct st_error *err)
{
	*out = NULL;
	*n = 0;
	int r = st_filter_validate(f, volume_filter_keys, err);
	if (r < 0)
		return r;
	bool dangling = st_filter_has(f, "dangling"), dangling_only = false;
	if (dangling) {
		dangling_only = st_filter_exact(f, "dangling", "true") || st_filter_exact(f, "dangling", "1");
		if (!dangling_only && !st_filter_exact(f, "dangling", "false") && !st_filter_exact(f, "dangling", "0"))
			return st_filter_invalid_value(f, "dangling", err);
	}
	struct st_volume *v;
	size_t nv, kept = 0;
	if ((r = st_volume_list(s, &v, &nv, warnings, err)) < 0)
		return r;
	for (size_t i = 0; i < nv; i++) {
		bool ok = st_filter_regex(f, "name", v[i].name) && st_filter_exact(f, "driver", v[i].driver) &&
			  (!st_filter_has(f, "label") || (v[i].labels.n && st_filter_labels(f, "label", &v[i].labels))) &&
			  (!dangling || st_volume_in_use(s, v[i].name) != dangling_only);
		if (ok)
			v[kept++] = v[i];
		else
			st_volume_free(&v[i]);
	}
	*out = v;
	*n = kept;
	return 0;
}
