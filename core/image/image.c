/* The image store.
 *
 *   images/<id hex>/config.json   the OCI image config, exactly the bytes hashed
 *   repositories.json             {"name:tag": "sha256:...", "name@sha256:...": "sha256:..."}
 *                                 tags and repository digests (docker's RepoTags
 *                                 and RepoDigests), as docker's own file keeps both
 *
 * An image holds its top layer with holder "image:<id>". */
#define _XOPEN_SOURCE 700
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"
#include "image_int.h"

void st_image_free(struct st_image *img)
{
	if (!img)
		return;
	free(img->config);
	st_strv_free(img->tags, img->ntags);
	st_strv_free(img->digests, img->ndigests);
	memset(img, 0, sizeof(*img));
}

void st_image_list_free(struct st_image *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		st_image_free(&v[i]);
	free(v);
}

int64_t st_parse_time(const char *s)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return 0;
	return (int64_t)timegm(&tm);
}

void st_format_time(char *buf, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", base, ts.tv_nsec);
}

/* --------------------------------------------------------- references */

static bool name_component_ok(const char *p, size_t n)
{
	/* [a-z0-9]+ separated by ".", "_", "__" or "-"+ */
	if (n == 0 || !isalnum((unsigned char)p[0]) || !isalnum((unsigned char)p[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (isupper((unsigned char)c))
			return false;
		if (!isalnum((unsigned char)c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

int st_image_ref_normalize(const char *ref, char *out, size_t len, struct st_error *err)
{
	if (!ref || !*ref || strlen(ref) > 255)
		return st_error_fail(err, EINVAL, "invalid reference \"%s\": empty or too long", ref ? ref : "");
	if (strchr(ref, '@'))
		return st_error_fail(err, EINVAL, "invalid reference \"%s\": digests are not tags", ref);
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');
	const char *tag = "latest";
	size_t nlen = strlen(ref);
	if (colon && (!slash || colon > slash)) {
		tag = colon + 1;
		nlen = (size_t)(colon - ref);
	}
	/* tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
	size_t tl = strlen(tag);
	bool tag_ok = tl > 0 && tl <= 128 && (isalnum((unsigned char)tag[0]) || tag[0] == '_');
	for (size_t i = 0; tag_ok && i < tl; i++)
		tag_ok = isalnum((unsigned char)tag[i]) || strchr("_.-", tag[i]);
	if (!tag_ok)
		return st_error_fail(err, EINVAL, "invalid reference \"%s\": bad tag \"%s\"", ref, tag);
	/* name: components separated by "/", the first may be host[:port] */
	char name[256];
	snprintf(name, sizeof(name), "%.*s", (int)nlen, ref);
	char *save = NULL, *copy = strdup(name);
	if (!copy)
		return st_error_set(err, ENOMEM, "reference");
	bool ok = nlen > 0;
	int idx = 0;
	for (char *c = strtok_r(copy, "/", &save); c && ok; c = strtok_r(NULL, "/", &save), idx++) {
		bool host = idx == 0 && strchr(name, '/') && (strchr(c, '.') || strchr(c, ':') || strcmp(c, "localhost") == 0);
		if (host) {
			for (char *p = c; *p && ok; p++)
				ok = isalnum((unsigned char)*p) || strchr(".-:", *p);
		} else {
			ok = name_component_ok(c, strlen(c));
		}
	}
	free(copy);
	if (!ok || strstr(name, "//") || name[nlen - 1] == '/')
		return st_error_fail(err, EINVAL,
				     "invalid reference \"%s\": repository names are lowercase letters, digits and separators", ref);
	snprintf(out, len, "%s:%s", name, tag);
	return 0;
}

int st_image_ref_familiar(const char *ref, char *out, size_t len, struct st_error *err)
{
	const char *r = ref ? ref : "";
	if (st_str_has_prefix(r, "docker.io/library/"))
		r += strlen("docker.io/library/");
	else if (st_str_has_prefix(r, "index.docker.io/library/"))
		r += strlen("index.docker.io/library/");
	else if (st_str_has_prefix(r, "docker.io/"))
		r += strlen("docker.io/");
	else if (st_str_has_prefix(r, "index.docker.io/"))
		r += strlen("index.docker.io/");
	return st_image_ref_normalize(r, out, len, err);
}

int st_image_ref_digest(const char *ref, char *out, size_t len, struct st_error *err)
{
	const char *at = ref ? strchr(ref, '@') : NULL;
	if (!at)
		return 0;
	if (!st_valid_digest(at + 1))
		return st_error_fail(err, EINVAL, "invalid reference \"%s\": \"%s\" is no sha256 digest (sha256:<64 hex>)",
				     ref, at + 1);
	char name[300], norm[300];
	if ((size_t)(at - ref) >= sizeof(name))
		return st_error_fail(err, EINVAL, "invalid reference \"%s\": too long", ref);
	snprintf(name, sizeof(name), "%.*s", (int)(at - ref), ref);
	int r = st_image_ref_familiar(name, norm, sizeof(norm), err);
	if (r < 0)
		return r;
	/* docker keeps name@digest: a tag given with the digest goes */
	*strrchr(norm, ':') = '\0';
	if (strlen(norm) + 1 + ST_DIGEST_LEN >= len)
		return st_error_fail(err, EINVAL, "invalid reference \"%s\": too long", ref);
	snprintf(out, len, "%s@%s", norm, at + 1);
	return 1;
}

/* The repository of "name:tag" or "name@sha256:...": the length of name. */
static size_t ref_repo_len(const char *ref)
{
	const char *at = strchr(ref, '@');
	if (at)
		return (size_t)(at - ref);
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
	return colon && (!slash || colon > slash) ? (size_t)(colon - ref) : strlen(ref);
}

static bool same_repo(const char *a, const char *b)
{
	size_t la = ref_repo_len(a);
	return la == ref_repo_len(b) && strncmp(a, b, la) == 0;
}

/* ------------------------------------------------------- repositories */

static int repos_load(struct st_store *s, json_object **out, struct st_error *err)
{
	struct st_error e2;
	int r = st_json_load_at(s->root_fd, "repositories.json", out, &e2);
	if (r == -ENOENT) {
		*out = json_object_new_object();
		return 0;
	}
	if (r < 0) {
		*err = e2;
		return r;
	}
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		return st_error_fail(err, EINVAL, "\"%s/repositories.json\" is damaged", s->root);
	}
	return 0;
}

/* the file, then its index (image_refs.c): the index is only an index,
 * and one left behind makes lookups parse the file until the next save */
static int repos_save(struct st_store *s, json_object *o, struct st_error *err)
{
	bool current = img_refs_current(s);
	_cleanup_json_ json_object *old = NULL;
	struct st_error e2;
	if (current && repos_load(s, &old, &e2) < 0)
		old = NULL;
	int r = st_json_save_at(s->root_fd, "repositories.json", o, err);
	if (r >= 0)
		img_refs_update(s, old, o, current, &e2);
	return r;
}

/* ----------------------------------------------------------- images */

static int images_dir(struct st_store *s, struct st_error *err)
{
	return st_store_subdir(s, "images", err);
}

static bool is_hex(const char *p)
{
	for (; *p; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return false;
	return true;
}

static void push_ref(struct st_image *img, const char *ref)
{
	if (strchr(ref, '@'))
		st_strv_push(&img->digests, &img->ndigests, ref);
	else
		st_strv_push(&img->tags, &img->ntags, ref);
}

/* the image's references: those of repos that name it, or own (a JSON
 * array of them) when repos is NULL */
static int fill_image(struct st_store *s, const char *hex, struct st_image *img, json_object *repos,
		      json_object *own, struct st_error *err)
{
	memset(img, 0, sizeof(*img));
	_cleanup_close_ int dfd = images_dir(s, err);
	if (dfd < 0)
		return dfd;
	char p[128];
	snprintf(p, sizeof(p), "%s/config.json", hex);
	int r = st_read_file_at(dfd, p, &img->config, &img->config_len, err);
	if (r < 0)
		return r;
	snprintf(img->id, sizeof(img->id), "sha256:%s", hex);
	_cleanup_json_ json_object *cfg = NULL;
	if ((r = st_json_parse(img->config, p, &cfg, err)) < 0) {
		st_image_free(img);
		return r;
	}
	img->created = st_parse_time(st_json_str(cfg, "created"));
	json_object *rootfs, *ids;
	char chain[ST_DIGEST_LEN + 1] = "";
	if (json_object_object_get_ex(cfg, "rootfs", &rootfs) && json_object_object_get_ex(rootfs, "diff_ids", &ids)) {
		for (size_t i = 0; i < json_object_array_length(ids); i++) {
			char next[ST_DIGEST_LEN + 1];
			st_chain_id(chain, json_object_get_string(json_object_array_get_idx(ids, i)), next);
			memcpy(chain, next, sizeof(chain));
			struct st_layer l;
			struct st_error e2;
			if (st_layer_get(s, chain, &l, &e2) == 0) {
				img->size += l.size;
				st_layer_free(&l);
			}
		}
	}
	snprintf(img->top, sizeof(img->top), "%s", chain);
	for (size_t i = 0; !repos && own && i < json_object_array_length(own); i++)
		push_ref(img, json_object_get_string(json_object_array_get_idx(own, i)));
	if (!repos)
		return 0;
	json_object_object_foreach(repos, tag, v)
	if (strcmp(json_object_get_string(v), img->id) == 0)
		push_ref(img, tag);
	return 0;
}

/* A hex id or unique prefix ("sha256:" or not): 1 and hex; 0 when ref is
 * no id, and norm its normalised reference (or repository digest). */
static int resolve_id(struct st_store *s, const char *ref, char hex[65], char norm[400], struct st_error *err)
{
	if (!ref || !*ref)
		return st_error_fail(err, EINVAL, "empty image reference");
	const char *h = st_str_has_prefix(ref, "sha256:") ? ref + 7 : ref;
	_cleanup_close_ int dfd = images_dir(s, err);
	if (dfd < 0)
		return dfd;
	struct stat st;
	if (strlen(h) == 64 && is_hex(h) && fstatat(dfd, h, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(hex, 65, "%s", h);
		return 1;
	}
	if (strlen(h) >= 4 && strlen(h) <= 64 && is_hex(h)) {
		char **names;
		size_t n, hits = 0;
		if (st_list_dir(dfd, &names, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				if (names[i][0] != '.' && strncmp(names[i], h, strlen(h)) == 0 && hits++ == 0)
					snprintf(hex, 65, "%s", names[i]);
			st_strv_free(names, n);
		}
		if (hits > 1)
			return st_error_fail(err, EINVAL, "image id prefix \"%s\" is ambiguous", ref);
		if (hits == 1)
			return 1;
		if (h != ref)
			return st_error_fail(err, ENOENT, "no such image: %s", ref);
	}
	int r = st_image_ref_digest(ref, norm, 400, err);
	if (r < 0)
		return r;
	if (r == 0 && st_image_ref_normalize(ref, norm, 400, err) < 0)
		return st_error_fail(err, ENOENT, "no such image: %s", ref);
	return 0;
}

static int resolve_in(struct st_store *s, json_object *repos, const char *norm, char hex[65], struct st_error *err)
{
	json_object *v;
	if (!json_object_object_get_ex(repos, norm, &v))
		return st_error_fail(err, ENOENT, "no such image: %s", norm);
	const char *id = json_object_get_string(v);
	if (!st_valid_digest(id))
		return st_error_fail(err, EINVAL, "\"%s/repositories.json\": bad id for %s", s->root, norm);
	snprintf(hex, 65, "%s", id + 7);
	return 0;
}

static int resolve(struct st_store *s, const char *ref, json_object *repos, char hex[65], struct st_error *err)
{
	char norm[400];
	int r = resolve_id(s, ref, hex, norm, err);
	return r != 0 ? (r < 0 ? r : 0) : resolve_in(s, repos, norm, hex, err);
}

int st_image_get(struct st_store *s, const char *ref, struct st_image *out, struct st_error *err)
{
	char hex[65], norm[400];
	int byid = resolve_id(s, ref, hex, norm, err);
	if (byid < 0)
		return byid;
	/* the index first: one link and one small file, however many images */
	_cleanup_json_ json_object *own = NULL;
	int r = img_refs_lookup(s, byid ? NULL : norm, hex, &own);
	if (r == 0)
		return fill_image(s, hex, out, NULL, own, err);
	if (r == -ENOENT)
		return st_error_fail(err, ENOENT, "no such image: %s", norm);
	_cleanup_json_ json_object *repos = NULL;
	if ((r = repos_load(s, &repos, err)) < 0 || (!byid && (r = resolve_in(s, repos, norm, hex, err)) < 0))
		return r;
	return fill_image(s, hex, out, repos, NULL, err);
}

int st_image_list(struct st_store *s, struct st_image **out, size_t *n, struct st_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_json_ json_object *repos = NULL;
	int r = repos_load(s, &repos, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = images_dir(s, err);
	if (dfd < 0)
		return dfd;
	char **names;
	size_t nn;
	if ((r = st_list_dir(dfd, &names, &nn)) < 0)
		return st_error_set(err, -r, "list images");
	struct st_image *v = calloc(nn ? nn : 1, sizeof(*v));
	if (!v) {
		st_strv_free(names, nn);
		return st_error_set(err, ENOMEM, "list images");
	}
	for (size_t i = 0; i < nn; i++) {
		struct st_error e2;
		if (names[i][0] != '.' && fill_image(s, names[i], &v[*n], repos, NULL, &e2) == 0)
			(*n)++;
	}
	st_strv_free(names, nn);
	*out = v;
	return 0;
}

/* The chain id of the top layer named by a config's rootfs.diff_ids. */
static int config_top(struct st_store *s, json_object *cfg, char top[ST_DIGEST_LEN + 1], struct st_error *err)
{
	json_object *rootfs, *ids;
	top[0] = '\0';
	if (!json_object_object_get_ex(cfg, "rootfs", &rootfs) || !json_object_object_get_ex(rootfs, "diff_ids", &ids) ||
	    !json_object_is_type(ids, json_type_array))
		return st_error_fail(err, EINVAL, "image config has no rootfs.diff_ids");
	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		const char *d = json_object_get_string(json_object_array_get_idx(ids, i));
		if (!st_valid_digest(d))
			return st_error_fail(err, EINVAL, "image config: invalid diff id \"%s\"", d ? d : "");
		char next[ST_DIGEST_LEN + 1];
		st_chain_id(top, d, next);
		memcpy(top, next, ST_DIGEST_LEN + 1);
	}
	if (top[0]) {
		struct st_layer l;
		int r = st_layer_get(s, top, &l, err);
		if (r < 0)
			return st_error_wrap(err, "image config names a layer that is not in the store");
		st_layer_free(&l);
	}
	return 0;
}

int st_image_create(struct st_store *s, const char *config, size_t len, char id[ST_DIGEST_LEN + 1],
		    struct st_error *err)
{
	_cleanup_free_ char *text = strndup(config, len);
	_cleanup_json_ json_object *cfg = NULL;
	if (!text)
		return st_error_set(err, ENOMEM, "image");
	int r = st_json_parse(text, "image config", &cfg, err);
	if (r < 0)
		return r;
	st_sha256_buf(config, len, id);
	char top[ST_DIGEST_LEN + 1], holder[ST_DIGEST_LEN + 16];
	snprintf(holder, sizeof(holder), "image:%s", id);
	_cleanup_close_ int dfd = -1, tfd = -1;
	if ((r = st_store_lock(s, err)) < 0)
		return r;
	if ((r = config_top(s, cfg, top, err)) < 0)
		goto out;
	if ((dfd = images_dir(s, err)) < 0) {
		r = dfd;
		goto out;
	}
	struct stat st;
	if (fstatat(dfd, id + 7, &st, AT_SYMLINK_NOFOLLOW) == 0)
		goto out; /* the same bytes are the same image */
	/* hold the layer first: an image dir never names a layer that can vanish */
	if (top[0] && (r = st_layer_hold(s, top, holder, err)) < 0)
		goto out;
	char tmp[100];
	snprintf(tmp, sizeof(tmp), ".tmp-%s", id + 7);
	st_rm_rf_at(dfd, tmp, err);
	if (mkdirat(dfd, tmp, 0700) < 0) {
		r = st_error_set(err, errno, "create image %s", id);
		goto out;
	}
	tfd = st_open_nofollow(dfd, tmp, O_RDONLY | O_DIRECTORY, 0);
	if (tfd < 0 || (r = st_atomic_write_at(tfd, "config.json", config, len, 0600, err)) < 0) {
		r = tfd < 0 ? st_error_set(err, -tfd, "create image %s", id) : r;
		goto out;
	}
	if (renameat(dfd, tmp, dfd, id + 7) < 0) {
		r = st_error_set(err, errno, "create image %s", id);
		goto out;
	}
	st_fsync_dir(dfd);
out:
	st_store_unlock(s);
	return r;
}

/* Point the normalised tag or digest reference norm at the image ref names. */
static int add_ref(struct st_store *s, const char *ref, const char *norm, struct st_error *err)
{
	int r = st_store_lock(s, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_object *repos = NULL;
	char hex[65], id[ST_DIGEST_LEN + 1];
	if ((r = repos_load(s, &repos, err)) >= 0 && (r = resolve(s, ref, repos, hex, err)) >= 0) {
		snprintf(id, sizeof(id), "sha256:%s", hex);
		json_object_object_add(repos, norm, json_object_new_string(id));
		r = repos_save(s, repos, err);
	}
	st_store_unlock(s);
	return r;
}

int st_image_tag(struct st_store *s, const char *ref, const char *name, struct st_error *err)
{
	char norm[300];
	int r = st_image_ref_normalize(name, norm, sizeof(norm), err);
	return r < 0 ? r : add_ref(s, ref, norm, err);
}

int st_image_set_digest(struct st_store *s, const char *ref, const char *digest_ref, struct st_error *err)
{
	char norm[400];
	int r = st_image_ref_digest(digest_ref, norm, sizeof(norm), err);
	if (r == 0)
		r = st_error_fail(err, EINVAL, "\"%s\" is no digest reference (name@sha256:...)", digest_ref);
	return r < 0 ? r : add_ref(s, ref, norm, err);
}

static int delete_image(struct st_store *s, const char *hex, struct st_error *err)
{
	char id[ST_DIGEST_LEN + 1], holder[ST_DIGEST_LEN + 16];
	snprintf(id, sizeof(id), "sha256:%s", hex);
	snprintf(holder, sizeof(holder), "image:%s", id);
	struct st_image img;
	_cleanup_json_ json_object *repos = json_object_new_object();
	int r = fill_image(s, hex, &img, repos, NULL, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = images_dir(s, err);
	if (dfd < 0 || (r = st_remove_at(dfd, hex, err)) < 0) {
		st_image_free(&img);
		return dfd < 0 ? dfd : r;
	}
	if (img.top[0])
		r = st_layer_release(s, img.top, holder, err);
	st_image_free(&img);
	return r;
}

static int push_done(char ***done, size_t *ndone, const char *fmt, const char *arg)
{
	char line[400];
	snprintf(line, sizeof(line), fmt, arg);
	return done ? st_strv_push(done, ndone, line) : 0;
}

/* Docker's "single reference": at most one tag, and every reference (tags
 * and digests) in one repository. Removing such an image by id needs no
 * force. */
static bool single_reference(char **refs, size_t n)
{
	size_t tags = 0;
	for (size_t i = 0; i < n; i++) {
		tags += !strchr(refs[i], '@');
		if (!same_repo(refs[i], refs[0]))
			return false;
	}
	return tags <= 1;
}

/* What removing reference refs[named] takes with it, as docker: the
 * repository's digests go with its last tag. Marks gone[]; returns how many
 * references stay. */
static size_t plan_untag(char **refs, size_t n, size_t named, bool *gone)
{
	gone[named] = true;
	bool tag_left = strchr(refs[named], '@') != NULL;
	for (size_t i = 0; i < n && !tag_left; i++)
		tag_left = !gone[i] && !strchr(refs[i], '@') && same_repo(refs[i], refs[named]);
	size_t left = 0;
	for (size_t i = 0; i < n; i++) {
		if (!tag_left && strchr(refs[i], '@') && same_repo(refs[i], refs[named]))
			gone[i] = true;
		left += !gone[i];
	}
	return left;
}

/* The references marked gone, the named one first: dropped from repos
 * (when not NULL), else reported in done. */
static void drop_refs(json_object *repos, char **refs, size_t n, size_t named, const bool *gone, char ***done,
		      size_t *ndone)
{
	for (size_t k = 0; k <= n; k++) {
		size_t i = k == 0 ? named : k - 1;
		if (i >= n || !gone[i] || (k > 0 && i == named))
			continue;
		if (repos)
			json_object_object_del(repos, refs[i]);
		else
			push_done(done, ndone, "Untagged: %s", refs[i]);
	}
}

int st_image_remove(struct st_store *s, const char *ref, bool force, char ***done, size_t *ndone,
		    struct st_error *err)
{
	int r = st_store_lock(s, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_object *repos = NULL;
	_cleanup_free_ char *user = NULL;
	_cleanup_free_ bool *gone = NULL;
	char **refs = NULL;
	size_t nrefs = 0;
	char hex[65], id[ST_DIGEST_LEN + 1];
	if ((r = repos_load(s, &repos, err)) < 0 || (r = resolve(s, ref, repos, hex, err)) < 0)
		goto out;
	snprintf(id, sizeof(id), "sha256:%s", hex);
	/* the references (tags and digests) pointing at it */
	json_object_object_foreach(repos, key, v)
	{
		if (strcmp(json_object_get_string(v), id) == 0 && st_strv_push(&refs, &nrefs, key) < 0) {
			r = st_error_set(err, ENOMEM, "remove image %s", ref);
			goto out;
		}
	}
	if (!(gone = calloc(nrefs + 1, sizeof(*gone)))) {
		r = st_error_set(err, ENOMEM, "remove image %s", ref);
		goto out;
	}
	char norm[400];
	struct st_error e2;
	int dr = st_image_ref_digest(ref, norm, sizeof(norm), &e2);
	if (dr == 0 && st_image_ref_normalize(ref, norm, sizeof(norm), &e2) < 0)
		dr = -1;
	size_t named = nrefs;
	for (size_t i = 0; dr >= 0 && i < nrefs; i++)
		if (strcmp(refs[i], norm) == 0)
			named = i;
	if (named < nrefs && plan_untag(refs, nrefs, named, gone) > 0) {
		/* references stay: only untag (docker does so even while a
		 * container uses the image) */
		drop_refs(repos, refs, nrefs, named, gone, NULL, NULL);
		if ((r = repos_save(s, repos, err)) >= 0)
			drop_refs(NULL, refs, nrefs, named, gone, done, ndone);
		goto out;
	}
	/* anything that deletes waits for its users */
	char object[ST_DIGEST_LEN + 8];
	const char *kind;
	snprintf(object, sizeof(object), "image:%s", id);
	if (st_holders_using(s, object, &kind, &user) > 0) {
		r = st_error_fail(err, EBUSY, "unable to remove image %s (%s): %s %s is using it", ref, id,
				  kind, user);
		goto out;
	}
	if (named == nrefs && !force && !single_reference(refs, nrefs)) {
		r = st_error_fail(err, EBUSY,
				  "unable to delete %.12s (must be forced): image is referenced in multiple repositories",
				  hex);
		goto out;
	}
	for (size_t i = 0; i < nrefs; i++)
		gone[i] = true;
	drop_refs(repos, refs, nrefs, named, gone, NULL, NULL);
	if ((r = repos_save(s, repos, err)) >= 0) {
		drop_refs(NULL, refs, nrefs, named, gone, done, ndone);
		if ((r = delete_image(s, hex, err)) >= 0)
			push_done(done, ndone, "Deleted: %s", id);
	}
out:
	st_strv_free(refs, nrefs);
	st_store_unlock(s);
	return r;
}

/* ------------------------------------------------------------- import */

int st_image_import(struct st_store *s, struct st_reader *in, const char *name, const char *comment,
		    char id[ST_DIGEST_LEN + 1], struct st_error *err)
{
	char norm[300];
	int r;
	if (name && (r = st_image_ref_normalize(name, norm, sizeof(norm), err)) < 0)
		return r;
	struct st_lease lease;
	if ((r = st_lease_new(s, &lease, err)) < 0)
		return r;
	char holder[64];
	st_lease_holder(&lease, holder, sizeof(holder));
	struct st_layer l = {0};
	_cleanup_json_ json_object *cfg = NULL;
	if ((r = st_layer_register(s, NULL, in, holder, &l, err)) < 0)
		goto out;
	char created[64];
	st_format_time(created, sizeof(created));
	cfg = json_object_new_object();
	json_object_object_add(cfg, "architecture", json_object_new_string("amd64"));
	json_object_object_add(cfg, "os", json_object_new_string("linux"));
	json_object_object_add(cfg, "created", json_object_new_string(created));
	json_object_object_add(cfg, "config", json_object_new_object());
	json_object *rootfs = json_object_new_object(), *ids = json_object_new_array();
	json_object_object_add(rootfs, "type", json_object_new_string("layers"));
	json_object_array_add(ids, json_object_new_string(l.diff_id));
	json_object_object_add(rootfs, "diff_ids", ids);
	json_object_object_add(cfg, "rootfs", rootfs);
	json_object *hist = json_object_new_array(), *h = json_object_new_object();
	json_object_object_add(h, "created", json_object_new_string(created));
	json_object_object_add(h, "created_by", json_object_new_string(comment ? comment : "strata import"));
	json_object_array_add(hist, h);
	json_object_object_add(cfg, "history", hist);
	r = st_image_create_json(s, cfg, name ? norm : NULL, id, err);
out:
	st_image_lease_done(s, &l, holder, &lease);
	return r;
}

int st_image_create_json(struct st_store *s, json_object *cfg, const char *norm, char id[ST_DIGEST_LEN + 1],
			 struct st_error *err)
{
	size_t len;
	const char *text = json_object_to_json_string_length(cfg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	int r = st_image_create(s, text, len, id, err);
	return r < 0 || !norm ? r : st_image_tag(s, id, norm, err);
}

void st_image_lease_done(struct st_store *s, struct st_layer *layer, const char *holder, struct st_lease *lease)
{
	bool released = true;
	if (layer->chain_id[0]) {
		struct st_error e2;
		int r2 = st_layer_release(s, layer->chain_id, holder, &e2);
		released = r2 >= 0 || r2 == -ENOENT;
	}
	st_layer_free(layer);
	if (released)
		st_lease_end(lease);
	else
		st_lease_abandon(lease); /* the next open's sweep drops our holder */
}

/* ------------------------------------------------------------ holders */

static bool image_holds_layer(struct st_store *s, const char *name, const char *chain_id, char *why, size_t len)
{
	struct st_image img;
	struct st_error e;
	if (!st_valid_digest(name) || st_image_get(s, name, &img, &e) < 0) {
		snprintf(why, len, "names an image that does not exist");
		return false;
	}
	bool ok = strcmp(img.top, chain_id) == 0;
	if (!ok)
		snprintf(why, len, "names an image whose top layer is %s", img.top[0] ? img.top : "none");
	st_image_free(&img);
	return ok;
}

const struct st_holder_kind st_image_holders = {
	.prefix = "image",
	.holds_layer = image_holds_layer,
};
