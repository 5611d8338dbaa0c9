/* `strata ps --filter`: docker's container filters (daemon/list.go of
 * Docker 20.10), on st_container_list's containers.
 *
 *   id=, name=           the id or name matches (a regular expression, as
 *                        docker's; names match with or without docker's "/")
 *   label=KEY[=VALUE]    Config.Labels (every label filter must hold)
 *   status=STATE         created, running, exited (docker's other states are
 *                        taken and match nothing); implies --all
 *   ancestor=IMAGE       made from IMAGE, or from an image built on it (its
 *                        layers first, then more layers or more history)
 *   exited=CODE          exited, after it ran, with that code */
#include <stdlib.h>

#include "base/base.h"
#include "container/container.h"

static const char *const ps_filter_keys[] = {"id", "name", "label", "status", "ancestor", "exited", NULL};
static const char *const states[] = {"created", "restarting", "running", "removing", "paused", "exited", "dead", NULL};
static const char *const status_names[] = {[ST_CT_CREATED] = "created", [ST_CT_RUNNING] = "running",
					   [ST_CT_EXITED] = "exited"};

/* An image's rootfs.diff_ids and its history's length. */
struct lineage {
	char id[ST_DIGEST_LEN + 1];
	char **diffs;
	size_t ndiffs, nhistory;
};

static void lineage_free(struct lineage *l)
{
	st_strv_free(l->diffs, l->ndiffs);
	memset(l, 0, sizeof(*l));
}

static int lineage_get(struct st_store *s, const char *ref, struct lineage *l, struct st_error *err)
{
	memset(l, 0, sizeof(*l));
	struct st_image img;
	int r = st_image_get(s, ref, &img, err);
	if (r < 0)
		return r;
	snprintf(l->id, sizeof(l->id), "%s", img.id);
	r = st_config_diff_ids(img.config, img.config_len, &l->diffs, &l->ndiffs, NULL, err);
	_cleanup_json_ json_object *cfg = json_tokener_parse(img.config);
	json_object *h;
	if (cfg && json_object_object_get_ex(cfg, "history", &h) && json_object_is_type(h, json_type_array))
		l->nhistory = json_object_array_length(h);
	st_image_free(&img);
	return r;
}

/* Is img anc, or built on it? */
static bool descends(const struct lineage *img, const struct lineage *anc)
{
	if (strcmp(img->id, anc->id) == 0)
		return true;
	if (anc->ndiffs > img->ndiffs)
		return false;
	for (size_t i = 0; i < anc->ndiffs; i++)
		if (strcmp(anc->diffs[i], img->diffs[i]) != 0)
			return false;
	return anc->ndiffs < img->ndiffs || anc->nhistory < img->nhistory;
}

struct ps_filter {
	const struct st_kvlist *f;
	struct lineage *anc; /* the ancestor= images that exist */
	size_t nanc;
	int *exited;
	size_t nexited;
};

static int ps_filter_init(struct st_store *s, struct ps_filter *pf, const struct st_kvlist *f, bool *all,
			  struct st_error *err)
{
	memset(pf, 0, sizeof(*pf));
	pf->f = f;
	int r = st_filter_validate(f, ps_filter_keys, err);
	for (size_t i = 0; f && i < f->n && r >= 0; i++) {
		const char *k = f->v[i].key, *v = f->v[i].value;
		if (strcmp(k, "status") == 0) {
			bool ok = false;
			for (const char *const *p = states; *p && !ok; p++)
				ok = strcmp(*p, v) == 0;
			if (!ok)
				return st_error_fail(err, EINVAL, "invalid filter 'status=%s'", v);
			*all = true;
		} else if (strcmp(k, "exited") == 0) {
			char *end;
			long code = strtol(v, &end, 10);
			if (!*v || *end || code < 0 || code > 255)
				return st_error_fail(err, EINVAL, "invalid filter 'exited=%s': not an exit code", v);
			int *ne = realloc(pf->exited, (pf->nexited + 1) * sizeof(*ne));
			if (!ne)
				return st_error_set(err, ENOMEM, "filter");
			pf->exited = ne;
			ne[pf->nexited++] = (int)code;
		} else if (strcmp(k, "ancestor") == 0) {
			/* an image that is not here is the ancestor of nothing (docker) */
			struct lineage l;
			struct st_error e2;
			if (lineage_get(s, v, &l, &e2) < 0)
				continue;
			struct lineage *na = realloc(pf->anc, (pf->nanc + 1) * sizeof(*na));
			if (!na) {
				lineage_free(&l);
				return st_error_set(err, ENOMEM, "filter");
			}
			pf->anc = na;
			na[pf->nanc++] = l;
		}
	}
	return r;
}

static void ps_filter_free(struct ps_filter *pf)
{
	for (size_t i = 0; i < pf->nanc; i++)
		lineage_free(&pf->anc[i]);
	free(pf->anc);
	free(pf->exited);
}

static bool ps_passes(struct st_store *s, const struct ps_filter *pf, const struct st_container *c)
{
	const struct st_kvlist *f = pf->f;
	char slashed[sizeof(c->name) + 1];
	snprintf(slashed, sizeof(slashed), "/%s", c->name);
	if (!st_filter_regex(f, "id", c->id) ||
	    !(st_filter_regex(f, "name", c->name) || st_filter_regex(f, "name", slashed)) ||
	    !st_filter_exact(f, "status", status_names[c->status]))
		return false;
	if (st_filter_has(f, "label") && !(c->labels.n && st_filter_labels(f, "label", &c->labels)))
		return false;
	if (pf->nexited) {
		bool hit = false;
		for (size_t i = 0; i < pf->nexited && !hit; i++)
			hit = c->status == ST_CT_EXITED && c->started_at > 0 && c->exit_code == pf->exited[i];
		if (!hit)
			return false;
	}
	if (st_filter_has(f, "ancestor")) {
		struct lineage img;
		struct st_error e2;
		bool hit = false;
		if (lineage_get(s, c->image, &img, &e2) == 0) {
			for (size_t i = 0; i < pf->nanc && !hit; i++)
				hit = descends(&img, &pf->anc[i]);
			lineage_free(&img);
		}
		if (!hit)
			return false;
	}
	return true;
}

int st_container_list_filtered(struct st_store *s, const struct st_kvlist *f, bool all, struct st_container **out,
			       size_t *n, struct st_error *err)
{
	*out = NULL;
	*n = 0;
	struct ps_filter pf;
	int r = ps_filter_init(s, &pf, f, &all, err);
	struct st_container *v = NULL;
	size_t nv = 0, kept = 0;
	if (r >= 0)
		r = st_container_list(s, &v, &nv, err);
	for (size_t i = 0; r >= 0 && i < nv; i++) {
		if ((all || v[i].status == ST_CT_RUNNING) && ps_passes(s, &pf, &v[i]))
			v[kept++] = v[i];
		else
			st_container_free(&v[i]);
	}
	ps_filter_free(&pf);
	if (r < 0)
		return r;
	*out = v;
	*n = kept;
	return 0;
}
