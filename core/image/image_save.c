/* strata save: images as a docker-archive (what docker 20.10's `docker
 * save` writes: <v1 id>/{VERSION,json,layer.tar}, <image id hex>.json,
 * manifest.json, repositories) or as an OCI image layout (oci-layout,
 * blobs/sha256/..., index.json), as a tar or as files in a directory.
 *
 * Layers are written uncompressed, exactly the bytes the layer store gives
 * back (st_layer_tar, tar-split), so their digest is their diff id and a
 * layer that came in as an uncompressed tar goes out byte for byte. Image
 * configs are written as stored: the image id survives the trip. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "base/base.h"
#include "store/store.h"
#include "image/image.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* ------------------------------------------------------------------ sinks */

/* Produces a file's bytes into w. */
typedef int (*fill_fn)(void *ctx, struct st_writer *w, struct st_error *err);

/* Where the files of the archive go: a tar stream or a directory. */
struct sink {
	/* tar */
	struct archive *a;
	struct archive_entry *e;
	struct st_writer *out;
	int werr;
	/* directory */
	int dirfd;
	int curfd;
	/* both: bytes of the current file so far, and its announced size */
	int64_t pos, size;
	const char *curname;
};

static la_ssize_t sink_tar_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct sink *k = ctx;
	int r = k->out->write(k->out->ctx, buf, len);
	if (r < 0) {
		k->werr = r;
		archive_set_error(a, -r, "%s", strerror(-r));
		return -1;
	}
	return (la_ssize_t)len;
}

static int sink_tar_open(struct sink *k, struct st_writer *out, struct st_error *err)
{
	memset(k, 0, sizeof(*k));
	k->dirfd = k->curfd = -1;
	k->out = out;
	k->a = archive_write_new();
	k->e = archive_entry_new();
	if (!k->a || !k->e)
		return st_error_set(err, ENOMEM, "save");
	archive_write_set_format_pax_restricted(k->a);
	/* written in 1 MiB blocks (the last one not padded): the same bytes as
	 * unblocked, in a hundredth of the write calls */
	archive_write_set_bytes_per_block(k->a, 1 << 20);
	archive_write_set_bytes_in_last_block(k->a, 1);
	if (archive_write_open2(k->a, k, NULL, sink_tar_write, NULL, NULL) != ARCHIVE_OK)
		return st_error_fail(err, EIO, "save: %s", archive_error_string(k->a));
	return 0;
}

static int sink_fail(struct sink *k, const char *name, struct st_error *err)
{
	int e = k->werr ? -k->werr : (archive_errno(k->a) > 0 ? archive_errno(k->a) : EIO);
	return st_error_fail(err, e, "write %s: %s", name, archive_error_string(k->a));
}

static int sink_data(void *ctx, const void *buf, size_t len)
{
	struct sink *k = ctx;
	if (k->pos + (int64_t)len > k->size)
		return -EFBIG;
	if (k->a) {
		const char *p = buf;
		while (len > 0) {
			la_ssize_t n = archive_write_data(k->a, p, len);
			if (n <= 0)
				return k->werr ? k->werr : -EIO;
			p += n;
			len -= (size_t)n;
			k->pos += n;
		}
		return 0;
	}
	struct st_writer w;
	st_writer_fd(&w, &k->curfd);
	int r = w.write(w.ctx, buf, len);
	if (r >= 0)
		k->pos += (int64_t)len;
	return r;
}

static void entry_base(struct sink *k, const char *name, unsigned type, mode_t perm)
{
	archive_entry_clear(k->e);
	archive_entry_set_pathname(k->e, name);
	archive_entry_set_filetype(k->e, type);
	archive_entry_set_perm(k->e, perm);
	/* fixed owner and time: saving the same images gives the same bytes */
	archive_entry_set_uid(k->e, 0);
	archive_entry_set_gid(k->e, 0);
	archive_entry_set_mtime(k->e, 0, 0);
}

static int sink_dir(struct sink *k, const char *name, struct st_error *err)
{
	if (k->a) {
		entry_base(k, name, AE_IFDIR, 0755);
		return archive_write_header(k->a, k->e) < ARCHIVE_WARN ? sink_fail(k, name, err) : 0;
	}
	return st_mkdir_p_at(k->dirfd, name, 0755, err);
}

static int sink_file(struct sink *k, const char *name, int64_t size, fill_fn fill, void *ctx, struct st_error *err)
{
	k->pos = 0;
	k->size = size;
	k->curname = name;
	if (k->a) {
		entry_base(k, name, AE_IFREG, 0644);
		archive_entry_set_size(k->e, size);
		if (archive_write_header(k->a, k->e) < ARCHIVE_WARN)
			return sink_fail(k, name, err);
	} else {
		k->curfd = st_open_beneath(k->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (k->curfd < 0)
			return st_error_set(err, -k->curfd, "create %s", name);
	}
	struct st_writer w = {.write = sink_data, .ctx = k};
	int r = fill(ctx, &w, err);
	if (r >= 0 && k->pos != size)
		r = st_error_fail(err, EIO, "write %s: %lld bytes given, %lld announced", name, (long long)k->pos,
				  (long long)size);
	if (k->curfd >= 0) {
		if (r >= 0 && close(k->curfd) < 0)
			r = st_error_set(err, errno, "write %s", name);
		else if (r < 0)
			close(k->curfd);
		k->curfd = -1;
	}
	return r;
}

static int fill_buf(void *ctx, struct st_writer *w, struct st_error *err)
{
	const char *const *b = ctx; /* {data, (const char *)&len} */
	int r = w->write(w->ctx, b[0], *(const size_t *)b[1]);
	return r < 0 ? st_error_set(err, -r, "write") : 0;
}

static int sink_bytes(struct sink *k, const char *name, const void *data, size_t len, struct st_error *err)
{
	const void *ctx[2] = {data, &len};
	return sink_file(k, name, (int64_t)len, fill_buf, ctx, err);
}

static int sink_symlink(struct sink *k, const char *name, const char *target, struct st_error *err)
{
	if (k->a) {
		entry_base(k, name, AE_IFLNK, 0777);
		archive_entry_set_symlink(k->e, target);
		return archive_write_header(k->a, k->e) < ARCHIVE_WARN ? sink_fail(k, name, err) : 0;
	}
	if (symlinkat(target, k->dirfd, name) < 0)
		return st_error_set(err, errno, "create symlink %s", name);
	return 0;
}

static int sink_close(struct sink *k, int r, struct st_error *err)
{
	if (k->a) {
		if (r >= 0 && archive_write_close(k->a) != ARCHIVE_OK)
			r = sink_fail(k, "(end of archive)", err);
		archive_write_free(k->a);
	}
	if (k->e)
		archive_entry_free(k->e);
	if (k->curfd >= 0)
		close(k->curfd);
	return r;
}

/* ----------------------------------------------------------- selection */

struct save_layer {
	char chain_id[ST_DIGEST_LEN + 1];
	char diff_id[ST_DIGEST_LEN + 1];
	int64_t tar_size;
};

struct save_image {
	struct st_image img;
	json_object *cfg;
	char **tags;
	size_t ntags;
	struct save_layer *layers;
	size_t nlayers;
};

struct saver {
	struct st_store *s;
	struct save_image *v;
	size_t n;
	struct sink k;
	char **written; /* "digest=path" of files already in the archive */
	size_t nwritten;
	struct st_lease lease; /* keeps the images' layers while they are written */
	bool lease_ok;
};

static void saver_free(struct saver *sv)
{
	for (size_t i = 0; i < sv->n; i++) {
		st_image_free(&sv->v[i].img);
		if (sv->v[i].cfg)
			json_object_put(sv->v[i].cfg);
		st_strv_free(sv->v[i].tags, sv->v[i].ntags);
		free(sv->v[i].layers);
	}
	free(sv->v);
	st_strv_free(sv->written, sv->nwritten);
	if (sv->lease_ok)
		st_lease_end(&sv->lease);
}

static int add_image(struct saver *sv, const struct st_image *img, const char *tag, struct st_error *err)
{
	struct save_image *si = NULL;
	for (size_t i = 0; i < sv->n && !si; i++)
		if (strcmp(sv->v[i].img.id, img->id) == 0)
			si = &sv->v[i];
	if (!si) {
		struct save_image *nv = realloc(sv->v, (sv->n + 1) * sizeof(*nv));
		if (!nv)
			return st_error_set(err, ENOMEM, "save");
		sv->v = nv;
		si = &nv[sv->n];
		memset(si, 0, sizeof(*si));
		int r = st_image_get(sv->s, img->id, &si->img, err);
		if (r < 0)
			return r;
		sv->n++;
	}
	if (!tag)
		return 0;
	for (size_t i = 0; i < si->ntags; i++)
		if (strcmp(si->tags[i], tag) == 0)
			return 0;
	return st_strv_push(&si->tags, &si->ntags, tag) < 0 ? st_error_set(err, ENOMEM, "save") : 0;
}

static bool has_explicit_tag(const char *ref)
{
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
	return colon && (!slash || colon > slash);
}

/* One reference: a tag, a repository (all its tags) or an image id. */
static int select_ref(struct saver *sv, const char *ref, struct st_error *err)
{
	char norm[300];
	struct st_error e2;
	bool named = st_image_ref_normalize(ref, norm, sizeof(norm), &e2) == 0;
	if (named && !has_explicit_tag(ref) && !st_str_has_prefix(ref, "sha256:")) {
		struct st_image *v;
		size_t n;
		int r = st_image_list(sv->s, &v, &n, err);
		if (r < 0)
			return r;
		size_t plen = strlen(norm) - strlen(strrchr(norm, ':'));
		size_t found = 0;
		for (size_t i = 0; i < n && r >= 0; i++)
			for (size_t t = 0; t < v[i].ntags && r >= 0; t++)
				if (strncmp(v[i].tags[t], norm, plen) == 0 && v[i].tags[t][plen] == ':') {
					r = add_image(sv, &v[i], v[i].tags[t], err);
					found++;
				}
		st_image_list_free(v, n);
		if (r < 0 || found)
			return r;
	}
	struct st_image img;
	int r = st_image_get(sv->s, ref, &img, err);
	if (r < 0)
		return r;
	bool by_tag = false;
	for (size_t t = 0; named && t < img.ntags; t++)
		by_tag |= strcmp(img.tags[t], norm) == 0;
	r = add_image(sv, &img, by_tag ? norm : NULL, err);
	st_image_free(&img);
	return r;
}

/* A layer whose metadata lacks its tar size: the archive header needs it
 * before the bytes, so the tar is produced once to count them. */
static int count_layer(struct saver *sv, struct save_layer *sl, struct st_error *err)
{
	struct st_hash_writer hw;
	struct st_writer w;
	int r = st_sha256_init(&hw.h);
	if (r < 0)
		return st_error_set(err, -r, "layer %s", sl->chain_id);
	st_hash_writer_init(&hw, NULL, &w);
	r = st_layer_tar(sv->s, sl->chain_id, &w, err);
	st_sha256_abort(&hw.h);
	sl->tar_size = hw.bytes;
	return r;
}

/* Parse the config and look up every layer (their tar sizes go into the
 * archive headers before their bytes). */
static int prepare_image(struct saver *sv, struct save_image *si, struct st_error *err)
{
	int r = st_json_parse(si->img.config, "image config", &si->cfg, err);
	if (r < 0)
		return st_error_wrap(err, "image %s", si->img.id);
	json_object *rootfs, *ids;
	if (!json_object_object_get_ex(si->cfg, "rootfs", &rootfs) || !json_object_object_get_ex(rootfs, "diff_ids", &ids))
		return st_error_fail(err, EINVAL, "image %s: config has no rootfs.diff_ids", si->img.id);
	size_t n = json_object_array_length(ids);
	si->layers = calloc(n ? n : 1, sizeof(*si->layers));
	if (!si->layers)
		return st_error_set(err, ENOMEM, "save");
	char parent[ST_DIGEST_LEN + 1] = "";
	for (size_t i = 0; i < n; i++) {
		struct save_layer *sl = &si->layers[i];
		snprintf(sl->diff_id, sizeof(sl->diff_id), "%s", json_object_get_string(json_object_array_get_idx(ids, i)));
		st_chain_id(parent, sl->diff_id, sl->chain_id);
		struct st_layer l;
		/* the top layer is claimed by the lease (its parents stay with it) */
		if ((r = st_store_lock(sv->s, err)) < 0)
			return r;
		if ((r = st_layer_get(sv->s, sl->chain_id, &l, err)) >= 0) {
			sl->tar_size = l.tar_size;
			st_layer_free(&l);
			if (i + 1 == n)
				r = st_lease_add_layer(&sv->lease, sl->chain_id, err);
		}
		st_store_unlock(sv->s);
		if (r < 0)
			return st_error_wrap(err, "image %s: layer %zu", si->img.id, i + 1);
		if (sl->tar_size <= 0 && (r = count_layer(sv, sl, err)) < 0)
			return r;
		memcpy(parent, sl->chain_id, sizeof(parent));
	}
	si->nlayers = n;
	return 0;
}

/* ---------------------------------------------------------- layer files */

struct layer_fill {
	struct st_store *s;
	const char *chain_id;
};

static int fill_layer(void *ctx, struct st_writer *w, struct st_error *err)
{
	struct layer_fill *lf = ctx;
	return st_layer_tar(lf->s, lf->chain_id, w, err);
}

static int write_layer(struct saver *sv, const struct save_layer *sl, const char *name, struct st_error *err)
{
	struct layer_fill lf = {.s = sv->s, .chain_id = sl->chain_id};
	int r = sink_file(&sv->k, name, sl->tar_size, fill_layer, &lf, err);
	return r < 0 ? st_error_wrap(err, "layer %s", sl->chain_id) : 0;
}

/* The archive path of a diff id written before, or NULL. */
static const char *written_path(struct saver *sv, const char *diff_id)
{
	size_t n = strlen(diff_id);
	for (size_t i = 0; i < sv->nwritten; i++)
		if (strncmp(sv->written[i], diff_id, n) == 0 && sv->written[i][n] == '=')
			return sv->written[i] + n + 1;
	return NULL;
}

static int note_written(struct saver *sv, const char *diff_id, const char *path, struct st_error *err)
{
	char line[ST_DIGEST_LEN + 200];
	snprintf(line, sizeof(line), "%s=%s", diff_id, path);
	return st_strv_push(&sv->written, &sv->nwritten, line) < 0 ? st_error_set(err, ENOMEM, "save") : 0;
}

/* -------------------------------------------------------- docker-archive */

/* A v1 layer id as docker derives them: the digest of the layer's legacy
 * JSON (without its id) with the diff id and the parent's v1 id. */
static void v1_id(json_object *j, const char *diff_id, const char *parent, char out[65])
{
	const char *text = json_object_to_json_string_ext(j, JSON_FLAGS);
	_cleanup_free_ char *buf = st_asprintf("%s%s%s", text, diff_id, parent);
	char d[ST_DIGEST_LEN + 1];
	st_sha256_buf(buf ? buf : "", buf ? strlen(buf) : 0, d);
	snprintf(out, 65, "%s", d + 7);
}

/* The legacy per-layer JSON: for the top layer the image's own config
 * (without rootfs and history), for the others an empty container config. */
static json_object *legacy_json(const struct save_image *si, size_t i, const char *parent)
{
	json_object *j;
	if (i + 1 == si->nlayers) {
		j = json_object_new_object();
		json_object_object_foreach(si->cfg, key, val)
		{
			if (strcmp(key, "rootfs") != 0 && strcmp(key, "history") != 0)
				json_object_object_add(j, key, json_object_get(val));
		}
	} else {
		j = json_object_new_object();
		json_object_object_add(j, "created", json_object_new_string("1970-01-01T00:00:00Z"));
		json_object *cc = json_object_new_object();
		json_object_object_add(cc, "Hostname", json_object_new_string(""));
		json_object_object_add(cc, "Env", NULL);
		json_object_object_add(cc, "Cmd", NULL);
		json_object_object_add(cc, "Image", json_object_new_string(""));
		json_object_object_add(cc, "WorkingDir", json_object_new_string(""));
		json_object_object_add(cc, "Entrypoint", NULL);
		json_object_object_add(j, "container_config", cc);
	}
	if (parent[0])
		json_object_object_add(j, "parent", json_object_new_string(parent));
	return j;
}

static int save_docker_image(struct saver *sv, struct save_image *si, json_object *manifest, json_object *repos,
			     struct st_error *err)
{
	json_object *layers = json_object_new_array();
	json_object *entry = json_object_new_object();
	char cfgname[80];
	snprintf(cfgname, sizeof(cfgname), "%s.json", si->img.id + 7);
	json_object_object_add(entry, "Config", json_object_new_string(cfgname));
	json_object_object_add(entry, "RepoTags", NULL);
	json_object_object_add(entry, "Layers", layers);
	json_object_array_add(manifest, entry);
	char parent[65] = "";
	int r = 0;
	for (size_t i = 0; i < si->nlayers && r >= 0; i++) {
		const struct save_layer *sl = &si->layers[i];
		_cleanup_json_ json_object *j = legacy_json(si, i, parent);
		char id[65], dir[70], name[100];
		v1_id(j, sl->diff_id, parent, id);
		json_object_object_add(j, "id", json_object_new_string(id));
		snprintf(dir, sizeof(dir), "%s", id);
		snprintf(name, sizeof(name), "%s/layer.tar", id);
		json_object_array_add(layers, json_object_new_string(name));
		memcpy(parent, id, sizeof(parent));
		char probe[ST_DIGEST_LEN + 80];
		snprintf(probe, sizeof(probe), "v1:%s", id);
		if (written_path(sv, probe))
			continue; /* the same v1 layer in another image */
		if ((r = note_written(sv, probe, id, err)) < 0 || (r = sink_dir(&sv->k, dir, err)) < 0)
			break;
		char p[100];
		snprintf(p, sizeof(p), "%s/VERSION", id);
		if ((r = sink_bytes(&sv->k, p, "1.0", 3, err)) < 0)
			break;
		snprintf(p, sizeof(p), "%s/json", id);
		const char *text = json_object_to_json_string_ext(j, JSON_FLAGS);
		if ((r = sink_bytes(&sv->k, p, text, strlen(text), err)) < 0)
			break;
		/* a diff id already written: a symlink to it, as docker does */
		const char *prev = written_path(sv, sl->diff_id);
		if (prev) {
			char target[200];
			snprintf(target, sizeof(target), "../%s", prev);
			r = sink_symlink(&sv->k, name, target, err);
		} else if ((r = write_layer(sv, sl, name, err)) >= 0) {
			r = note_written(sv, sl->diff_id, name, err);
		}
	}
	if (r < 0)
		return st_error_wrap(err, "image %s", si->img.id);
	if ((r = sink_bytes(&sv->k, cfgname, si->img.config, si->img.config_len, err)) < 0)
		return r;
	if (si->ntags) {
		json_object *tags = json_object_new_array();
		for (size_t t = 0; t < si->ntags; t++) {
			json_object_array_add(tags, json_object_new_string(si->tags[t]));
			/* repositories: {"name": {"tag": top v1 id}} */
			char name[300];
			snprintf(name, sizeof(name), "%s", si->tags[t]);
			char *colon = strrchr(name, ':');
			*colon = '\0';
			json_object *repo;
			if (!json_object_object_get_ex(repos, name, &repo)) {
				repo = json_object_new_object();
				json_object_object_add(repos, name, repo);
			}
			if (parent[0])
				json_object_object_add(repo, colon + 1, json_object_new_string(parent));
		}
		json_object_object_add(entry, "RepoTags", tags);
	}
	return 0;
}

static int save_docker(struct saver *sv, struct st_error *err)
{
	_cleanup_json_ json_object *manifest = json_object_new_array();
	_cleanup_json_ json_object *repos = json_object_new_object();
	int r = 0;
	for (size_t i = 0; i < sv->n && r >= 0; i++)
		r = save_docker_image(sv, &sv->v[i], manifest, repos, err);
	if (r < 0)
		return r;
	const char *text = json_object_to_json_string_ext(manifest, JSON_FLAGS);
	if ((r = sink_bytes(&sv->k, "manifest.json", text, strlen(text), err)) < 0)
		return r;
	if (json_object_object_length(repos) > 0) {
		text = json_object_to_json_string_ext(repos, JSON_FLAGS);
		r = sink_bytes(&sv->k, "repositories", text, strlen(text), err);
	}
	return r;
}

/* ------------------------------------------------------------ OCI layout */

static json_object *descriptor(const char *media_type, const char *digest, int64_t size)
{
	json_object *d = json_object_new_object();
	json_object_object_add(d, "mediaType", json_object_new_string(media_type));
	json_object_object_add(d, "digest", json_object_new_string(digest));
	json_object_object_add(d, "size", json_object_new_int64(size));
	return d;
}

static int write_blob(struct saver *sv, const char *digest, const void *data, size_t len, struct st_error *err)
{
	if (written_path(sv, digest))
		return 0;
	char p[100];
	snprintf(p, sizeof(p), "blobs/sha256/%s", digest + 7);
	int r = sink_bytes(&sv->k, p, data, len, err);
	return r < 0 ? r : note_written(sv, digest, p, err);
}

/* "busybox:latest" -> "docker.io/library/busybox:latest" (containerd's names) */
static void qualified(const char *tag, char *out, size_t len)
{
	const char *slash = strchr(tag, '/');
	bool host = slash && (memchr(tag, '.', (size_t)(slash - tag)) || memchr(tag, ':', (size_t)(slash - tag)) ||
			      strncmp(tag, "localhost/", 10) == 0);
	if (host)
		snprintf(out, len, "%s", tag);
	else if (slash)
		snprintf(out, len, "docker.io/%s", tag);
	else
		snprintf(out, len, "docker.io/library/%s", tag);
}

static int save_oci_image(struct saver *sv, struct save_image *si, json_object *index, struct st_error *err)
{
	int r = write_blob(sv, si->img.id, si->img.config, si->img.config_len, err);
	_cleanup_json_ json_object *man = json_object_new_object();
	json_object *layers = json_object_new_array();
	json_object_object_add(man, "schemaVersion", json_object_new_int(2));
	json_object_object_add(man, "mediaType", json_object_new_string(ST_MT_OCI_MANIFEST));
	json_object_object_add(man, "config", descriptor(ST_MT_OCI_CONFIG, si->img.id, (int64_t)si->img.config_len));
	json_object_object_add(man, "layers", layers);
	for (size_t i = 0; i < si->nlayers && r >= 0; i++) {
		const struct save_layer *sl = &si->layers[i];
		char p[100];
		snprintf(p, sizeof(p), "blobs/sha256/%s", sl->diff_id + 7);
		if (!written_path(sv, sl->diff_id) && (r = write_layer(sv, sl, p, err)) >= 0)
			r = note_written(sv, sl->diff_id, p, err);
		json_object_array_add(layers, descriptor(ST_MT_OCI_LAYER, sl->diff_id, sl->tar_size));
	}
	if (r < 0)
		return st_error_wrap(err, "image %s", si->img.id);
	size_t len;
	const char *text = json_object_to_json_string_length(man, JSON_FLAGS, &len);
	char digest[ST_DIGEST_LEN + 1];
	st_sha256_buf(text, len, digest);
	if ((r = write_blob(sv, digest, text, len, err)) < 0)
		return r;
	json_object *platform = json_object_new_object();
	const char *arch = st_json_str(si->cfg, "architecture"), *os = st_json_str(si->cfg, "os");
	json_object_object_add(platform, "architecture", json_object_new_string(*arch ? arch : "amd64"));
	json_object_object_add(platform, "os", json_object_new_string(*os ? os : "linux"));
	/* one index entry per tag (ref.name is what skopeo and podman look up) */
	for (size_t t = 0; t < (si->ntags ? si->ntags : 1); t++) {
		json_object *d = descriptor(ST_MT_OCI_MANIFEST, digest, (int64_t)len);
		if (si->ntags) {
			json_object *ann = json_object_new_object();
			char full[320];
			qualified(si->tags[t], full, sizeof(full));
			json_object_object_add(ann, ST_ANNOT_CONTAINERD_NAME, json_object_new_string(full));
			json_object_object_add(ann, ST_ANNOT_REF_NAME, json_object_new_string(si->tags[t]));
			json_object_object_add(d, "annotations", ann);
		}
		json_object_object_add(d, "platform", json_object_get(platform));
		json_object_array_add(index, d);
	}
	json_object_put(platform);
	return 0;
}

static int save_oci(struct saver *sv, struct st_error *err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"" ST_MT_OCI_LAYOUT_VERSION "\"}";
	int r = sink_bytes(&sv->k, "oci-layout", layout, strlen(layout), err);
	if (r >= 0)
		r = sink_dir(&sv->k, "blobs", err);
	if (r >= 0)
		r = sink_dir(&sv->k, "blobs/sha256", err);
	_cleanup_json_ json_object *index = json_object_new_object();
	json_object *mans = json_object_new_array();
	json_object_object_add(index, "schemaVersion", json_object_new_int(2));
	json_object_object_add(index, "mediaType", json_object_new_string(ST_MT_OCI_INDEX));
	json_object_object_add(index, "manifests", mans);
	for (size_t i = 0; i < sv->n && r >= 0; i++)
		r = save_oci_image(sv, &sv->v[i], mans, err);
	if (r < 0)
		return r;
	const char *text = json_object_to_json_string_ext(index, JSON_FLAGS);
	return sink_bytes(&sv->k, "index.json", text, strlen(text), err);
}

/* ------------------------------------------------------------- entry */

static int save_to(struct saver *sv, enum st_image_format fmt, struct st_error *err)
{
	return fmt == ST_IMAGE_FORMAT_OCI ? save_oci(sv, err) : save_docker(sv, err);
}

static bool names_directory(const char *path)
{
	struct stat st;
	return st_str_has_suffix(path, "/") || (stat(path, &st) == 0 && S_ISDIR(st.st_mode));
}

static int save_dir(struct saver *sv, enum st_image_format fmt, const char *path, struct st_error *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return st_error_set(err, errno, "create directory \"%s\"", path);
	_cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return st_error_set(err, errno, "open \"%s\"", path);
	char **names;
	size_t n;
	if (st_list_dir(dfd, &names, &n) == 0) {
		st_strv_free(names, n);
		if (n > 0)
			return st_error_fail(err, EEXIST, "directory \"%s\" is not empty", path);
	}
	memset(&sv->k, 0, sizeof(sv->k));
	sv->k.dirfd = dfd;
	sv->k.curfd = -1;
	int r = save_to(sv, fmt, err);
	sink_close(&sv->k, r, err);
	if (r >= 0 && (syncfs(dfd) < 0))
		r = st_error_set(err, errno, "sync \"%s\"", path);
	return r;
}

static int save_tar(struct saver *sv, enum st_image_format fmt, int fd, struct st_error *err)
{
	struct st_writer w;
	st_writer_fd(&w, &fd);
	int r = sink_tar_open(&sv->k, &w, err);
	if (r >= 0)
		r = save_to(sv, fmt, err);
	return sink_close(&sv->k, r, err);
}

/* A tar file, complete or not at all: written to an unnamed file in path's
 * directory, named (beside path) only once complete, then renamed over it.
 * A kill leaves nothing, or at worst the complete temporary name. */
static int save_file(struct saver *sv, enum st_image_format fmt, const char *path, struct st_error *err)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 64], rnd[17];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	st_random_hex(rnd, 8);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp-%s", dir, base, rnd);
	bool named = false;
	_cleanup_close_ int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		named = true;
	}
	if (fd < 0)
		return st_error_set(err, errno, "create a file in \"%s\"", dir);
	int r = save_tar(sv, fmt, fd, err);
	if (r >= 0 && fsync(fd) < 0)
		r = st_error_set(err, errno, "write \"%s\"", path);
	if (r >= 0 && !named) {
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0)
			r = st_error_set(err, errno, "create \"%s\"", tmp);
		else
			named = true;
	}
	if (r >= 0 && rename(tmp, path) < 0)
		r = st_error_set(err, errno, "rename \"%s\" to \"%s\"", tmp, path);
	if (r < 0 && named)
		unlink(tmp);
	return r;
}

int st_image_save(struct st_store *s, const char *const *refs, size_t nrefs, enum st_image_format fmt,
		  const char *path, int fd, struct st_error *err)
{
	struct saver sv = {.s = s};
	int r = nrefs ? 0 : st_error_fail(err, EINVAL, "no image to save");
	for (size_t i = 0; i < nrefs && r >= 0; i++)
		r = select_ref(&sv, refs[i], err);
	if (r >= 0 && (r = st_lease_new(s, &sv.lease, err)) >= 0)
		sv.lease_ok = true;
	for (size_t i = 0; i < sv.n && r >= 0; i++)
		r = prepare_image(&sv, &sv.v[i], err);
	if (r >= 0) {
		if (!path)
			r = save_tar(&sv, fmt, fd, err);
		else if (names_directory(path))
			r = save_dir(&sv, fmt, path, err);
		else
			r = save_file(&sv, fmt, path, err);
	}
	saver_free(&sv);
	return r < 0 ? st_error_wrap(err, "save") : 0;
}
