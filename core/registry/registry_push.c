/* strata push: the local image named like the reference goes to the
 * registry, blobs first, then the manifest (Docker schema 2 by default,
 * OCI on request or with zstd layers).
 *
 * A layer is uploaded only when the registry lacks it: the blobs recorded
 * for its diff id (pulled from or pushed to a registry before, see
 * registry_meta.c) are asked for with HEAD, then mounted from another
 * repository of the same registry (?mount=&from=) where one had it. An
 * upload streams the layer's exact tar (st_layer_tar) through the
 * compressor and sha256 in a producer thread, into a bounded pipe that
 * the PATCH request reads (chunked): no temporary file, and the digest is
 * known when the last byte has gone, for the closing PUT ?digest=. */
#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"
#include "registry_int.h"

#define PUSH_PIPE_BYTES (4u << 20)

struct push_layer {
	char diff_id[ST_DIGEST_LEN + 1];
	char chain[ST_DIGEST_LEN + 1];
	char short_id[13];
	int64_t tar_size;
	struct st_desc blob; /* what the manifest lists */
};

struct pusher {
	struct st_store *s;
	const struct st_reg_opts *o;
	struct reg_client c;
	bool client_ok;
	struct reg_ref ref;
	struct reg_progress prog;
	struct st_image img;
	bool img_ok;
	bool oci;
	enum st_compression comp;
	struct push_layer *layers;
	size_t nlayers;
	struct st_lease lease;
	bool lease_ok;
	struct st_push_result *res;
};

/* ------------------------------------------------------------- producer */

struct producer {
	struct pusher *ps;
	struct push_layer *L;
	struct st_bytepipe pipe;
	struct st_sha256 h;
	int64_t compressed, raw;
	int result;
	struct st_error err;
	char digest[ST_DIGEST_LEN + 1];
};

/* compressed bytes: hashed, counted, into the pipe */
static int prod_out(void *ctx, const void *buf, size_t len)
{
	struct producer *pr = ctx;
	st_sha256_update(&pr->h, buf, len);
	pr->compressed += (int64_t)len;
	return st_bytepipe_write(&pr->pipe, buf, len);
}

/* uncompressed bytes: counted for the progress, into the compressor */
struct raw_count {
	struct producer *pr;
	struct st_writer *next;
};

static int prod_raw(void *ctx, const void *buf, size_t len)
{
	struct raw_count *rc = ctx;
	rc->pr->raw += (int64_t)len;
	reg_progress(&rc->pr->ps->prog, rc->pr->L->short_id, "Pushing", rc->pr->raw, rc->pr->L->tar_size);
	return rc->next->write(rc->next->ctx, buf, len);
}

static void *produce(void *arg)
{
	struct producer *pr = arg;
	struct st_writer out = {.write = prod_out, .ctx = pr};
	struct st_compressor *z = NULL;
	int r = st_compressor_new(pr->ps->comp, &out, &z, &pr->err);
	if (r >= 0) {
		struct raw_count rc = {.pr = pr, .next = st_compressor_writer(z)};
		struct st_writer w = {.write = prod_raw, .ctx = &rc};
		r = st_layer_tar(pr->ps->s, pr->L->chain, &w, &pr->err);
		if (r >= 0)
			r = st_compressor_finish(z, &pr->err);
	}
	st_compressor_free(z);
	st_sha256_final(&pr->h, pr->digest);
	pr->result = r;
	st_bytepipe_close(&pr->pipe, r < 0 ? r : 0, pr->err.msg);
	return NULL;
}

static ssize_t pipe_read(void *ctx, void *buf, size_t len)
{
	struct producer *pr = ctx;
	return st_bytepipe_read(&pr->pipe, buf, len, NULL);
}

/* ---------------------------------------------------------------- layers */

static void set_blob(struct pusher *ps, struct push_layer *L, const char *digest, int64_t size)
{
	snprintf(L->blob.media_type, sizeof(L->blob.media_type), "%s", st_mt_layer(ps->oci, ps->comp));
	snprintf(L->blob.digest, sizeof(L->blob.digest), "%s", digest);
	L->blob.size = size;
}

static int upload_layer(struct pusher *ps, struct push_layer *L, char *url, struct st_error *err)
{
	_cleanup_free_ char *u = url;
	int r = 0;
	if (!u && (r = reg_upload_start(&ps->c, ps->ref.repo, &u, err)) < 0)
		return r;
	struct producer *pr = calloc(1, sizeof(*pr));
	if (!pr)
		return st_error_set(err, ENOMEM, "push");
	pr->ps = ps;
	pr->L = L;
	if ((r = st_bytepipe_init(&pr->pipe, PUSH_PIPE_BYTES)) < 0 || (r = st_sha256_init(&pr->h)) < 0) {
		st_bytepipe_destroy(&pr->pipe);
		free(pr);
		return st_error_set(err, -r, "push");
	}
	pthread_t t;
	if ((r = pthread_create(&t, NULL, produce, pr)) != 0) {
		st_sha256_abort(&pr->h);
		st_bytepipe_destroy(&pr->pipe);
		free(pr);
		return st_error_set(err, r, "push: start the compressor thread");
	}
	reg_progress(&ps->prog, L->short_id, "Pushing", 0, L->tar_size);
	struct st_reader rd = {.read = pipe_read, .ctx = pr};
	r = reg_upload_stream(&ps->c, &u, &rd, err);
	if (r < 0)
		st_bytepipe_cancel(&pr->pipe);
	pthread_join(t, NULL);
	if (pr->result < 0 && (r >= 0 || !st_bytepipe_cancelled(&pr->pipe))) {
		/* the layer could not be read: that is the cause */
		*err = pr->err;
		r = pr->result;
	}
	if (r >= 0) {
		set_blob(ps, L, pr->digest, pr->compressed);
		r = reg_upload_finish(&ps->c, u, pr->digest, NULL, 0, err);
	}
	st_bytepipe_destroy(&pr->pipe);
	free(pr);
	if (r >= 0) {
		ps->res->layers_pushed++;
		reg_progress(&ps->prog, L->short_id, "Pushed", L->blob.size, L->blob.size);
	}
	return r;
}

/* "domain/repo" of the same registry, another repository: the repo */
static const char *mount_source(struct pusher *ps, const char *src)
{
	size_t n = strlen(ps->ref.domain);
	if (strncmp(src, ps->ref.domain, n) != 0 || src[n] != '/' || strcmp(src + n + 1, ps->ref.repo) == 0)
		return NULL;
	return src + n + 1;
}

static int push_layer(struct pusher *ps, struct push_layer *L, struct st_error *err)
{
	struct reg_blob_rec *recs = NULL;
	size_t nrecs = 0;
	struct st_error e2;
	if (reg_meta_lookup(ps->s, L->diff_id, &recs, &nrecs, &e2) < 0)
		nrecs = 0;
	int r = 0;
	bool done = false;
	char *url = NULL;
	/* the newest records first */
	for (size_t i = nrecs; i-- > 0 && !done && r >= 0;) {
		if (st_mt_layer_compression(recs[i].media_type) != ps->comp)
			continue;
		int64_t size = -1;
		r = reg_blob_exists(&ps->c, ps->ref.repo, recs[i].digest, &size, err);
		if (r == 1) {
			set_blob(ps, L, recs[i].digest, size >= 0 ? size : recs[i].size);
			ps->res->layers_existing++;
			reg_progress(&ps->prog, L->short_id, "Layer already exists", 0, 0);
			done = true;
		}
	}
	/* a mount the registry refuses starts an upload instead: then that
	 * upload is used */
	for (size_t i = nrecs; i-- > 0 && !done && !url && r >= 0;) {
		if (st_mt_layer_compression(recs[i].media_type) != ps->comp)
			continue;
		for (size_t k = 0; k < recs[i].nsources && !done && !url; k++) {
			const char *from = mount_source(ps, recs[i].sources[k]);
			if (!from)
				continue;
			if (reg_blob_mount(&ps->c, ps->ref.repo, recs[i].digest, from, &url, &e2) == 1) {
				set_blob(ps, L, recs[i].digest, recs[i].size);
				ps->res->layers_mounted++;
				char line[400];
				snprintf(line, sizeof(line), "Mounted from %s", from);
				reg_progress(&ps->prog, L->short_id, line, 0, 0);
				done = true;
			}
		}
	}
	reg_blob_recs_free(recs, nrecs);
	if (r < 0) {
		free(url);
		return r;
	}
	if (done) {
		free(url);
		if (!L->blob.size) {
			/* a mount without a known size: ask */
			int64_t size = -1;
			if (reg_blob_exists(&ps->c, ps->ref.repo, L->blob.digest, &size, err) == 1 && size >= 0)
				L->blob.size = size;
		}
		return 0;
	}
	return upload_layer(ps, L, url, err);
}

static int push_config(struct pusher *ps, struct st_error *err)
{
	int64_t size;
	int r = reg_blob_exists(&ps->c, ps->ref.repo, ps->img.id, &size, err);
	if (r != 0)
		return r < 0 ? r : 0;
	_cleanup_free_ char *url = NULL;
	if ((r = reg_upload_start(&ps->c, ps->ref.repo, &url, err)) < 0)
		return r;
	return reg_upload_finish(&ps->c, url, ps->img.id, ps->img.config, ps->img.config_len, err);
}

/* ----------------------------------------------------------------- setup */

/* The image's layers, and the lease that keeps them while they are read. */
static int plan(struct pusher *ps, struct st_error *err)
{
	char **ids = NULL;
	size_t n = 0;
	int r = st_config_diff_ids(ps->img.config, ps->img.config_len, &ids, &n, NULL, err);
	if (r < 0)
		return st_error_wrap(err, "image %s", ps->img.id);
	ps->layers = calloc(n ? n : 1, sizeof(*ps->layers));
	if (!ps->layers) {
		st_strv_free(ids, n);
		return st_error_set(err, ENOMEM, "push");
	}
	ps->nlayers = n;
	char parent[ST_DIGEST_LEN + 1] = "";
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct push_layer *L = &ps->layers[i];
		snprintf(L->diff_id, sizeof(L->diff_id), "%s", ids[i]);
		st_chain_id(parent, L->diff_id, L->chain);
		reg_short_id(L->diff_id, L->short_id);
		memcpy(parent, L->chain, sizeof(parent));
	}
	st_strv_free(ids, n);
	if ((r = st_lease_new(ps->s, &ps->lease, err)) < 0)
		return r;
	ps->lease_ok = true;
	if ((r = st_store_lock(ps->s, err)) < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct st_layer l;
		if ((r = st_layer_get(ps->s, ps->layers[i].chain, &l, err)) >= 0) {
			ps->layers[i].tar_size = l.tar_size;
			st_layer_free(&l);
		}
	}
	if (r >= 0 && n)
		r = st_lease_add_layer(&ps->lease, ps->layers[n - 1].chain, err);
	st_store_unlock(ps->s);
	return r;
}

/* Scopes: push here, pull where a blob could be mounted from. */
static int scopes(struct pusher *ps)
{
	int r = reg_client_scope(&ps->c, ps->ref.repo, "pull,push");
	for (size_t i = 0; i < ps->nlayers && r >= 0; i++) {
		struct reg_blob_rec *recs;
		size_t n;
		struct st_error e2;
		if (reg_meta_lookup(ps->s, ps->layers[i].diff_id, &recs, &n, &e2) < 0)
			continue;
		for (size_t k = 0; k < n && r >= 0; k++)
			for (size_t j = 0; j < recs[k].nsources && r >= 0; j++) {
				const char *from = mount_source(ps, recs[k].sources[j]);
				if (from && st_mt_layer_compression(recs[k].media_type) == ps->comp)
					r = reg_client_scope(&ps->c, from, "pull");
			}
		reg_blob_recs_free(recs, n);
	}
	return r;
}

static int push(struct pusher *ps, const char *refstr, struct st_error *err)
{
	int r = reg_ref_parse(refstr, &ps->ref, err);
	if (r < 0)
		return r;
	if (ps->ref.digest[0])
		return st_error_fail(err, EINVAL, "push by digest is not possible: name a tag");
	enum st_reg_format fmt = ps->o ? ps->o->format : ST_REG_FORMAT_DEFAULT;
	ps->comp = ps->o && ps->o->compression == ST_REG_ZSTD ? ST_COMPRESS_ZSTD : ST_COMPRESS_GZIP;
	if (ps->comp == ST_COMPRESS_ZSTD && fmt == ST_REG_FORMAT_DOCKER)
		return st_error_fail(err, EINVAL, "zstd layers need an OCI manifest (Docker's schema 2 has no zstd type)");
	ps->oci = fmt == ST_REG_FORMAT_OCI || (fmt == ST_REG_FORMAT_DEFAULT && ps->comp == ST_COMPRESS_ZSTD);
	char name[300], local[440];
	reg_ref_familiar_name(&ps->ref, name, sizeof(name));
	snprintf(local, sizeof(local), "%s:%s", name, ps->ref.tag);
	snprintf(ps->res->tag, sizeof(ps->res->tag), "%s", ps->ref.tag);
	if ((r = st_image_get(ps->s, local, &ps->img, err)) < 0)
		return st_error_wrap(err, "the image to push must be tagged %s", local);
	ps->img_ok = true;
	if ((r = plan(ps, err)) < 0)
		return r;
	ps->client_ok = true;
	if ((r = reg_client_open(&ps->c, ps->ref.domain, ps->o, err)) < 0)
		return r;
	if ((r = scopes(ps)) < 0)
		return st_error_set(err, -r, "push");
	if ((r = reg_client_authorize(&ps->c, err)) < 0)
		return r;
	char line[600];
	snprintf(line, sizeof(line), "The push refers to repository [%s/%s]", ps->ref.domain, ps->ref.repo);
	reg_progress(&ps->prog, NULL, line, 0, 0);
	for (size_t i = 0; i < ps->nlayers; i++)
		reg_progress(&ps->prog, ps->layers[i].short_id, "Preparing", 0, 0);
	for (size_t i = 0; i < ps->nlayers && r >= 0; i++) {
		struct push_layer *L = &ps->layers[i];
		/* the same layer twice in one image goes once */
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			if (strcmp(ps->layers[k].diff_id, L->diff_id) == 0) {
				L->blob = ps->layers[k].blob;
				dup = true;
			}
		if (!dup && (r = push_layer(ps, L, err)) < 0)
			st_error_wrap(err, "layer %zu/%zu (%s)", i + 1, ps->nlayers, L->diff_id);
	}
	if (r >= 0 && (r = push_config(ps, err)) < 0)
		st_error_wrap(err, "image config %s", ps->img.id);
	if (r < 0)
		return r;
	/* what the registry now holds, for the next push (best effort) */
	char source[600];
	snprintf(source, sizeof(source), "%s/%s", ps->ref.domain, ps->ref.repo);
	for (size_t i = 0; i < ps->nlayers; i++) {
		struct st_error e3;
		reg_meta_record(ps->s, ps->layers[i].diff_id, &ps->layers[i].blob, source, &e3);
	}
	struct st_desc *descs = calloc(ps->nlayers ? ps->nlayers : 1, sizeof(*descs));
	if (!descs)
		return st_error_set(err, ENOMEM, "push");
	for (size_t i = 0; i < ps->nlayers; i++)
		descs[i] = ps->layers[i].blob;
	struct st_desc cfg = {.size = (int64_t)ps->img.config_len};
	snprintf(cfg.digest, sizeof(cfg.digest), "%s", ps->img.id);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	r = reg_manifest_build(ps->oci, &cfg, descs, ps->nlayers, &text, &len, err);
	free(descs);
	if (r >= 0)
		r = reg_manifest_put(&ps->c, ps->ref.repo, ps->ref.tag, ps->oci ? ST_MT_OCI_MANIFEST : ST_MT_DOCKER_MANIFEST,
				     text, len, ps->res->digest, err);
	if (r < 0)
		return r;
	ps->res->size = (int64_t)len;
	/* the pushed manifest is one of the image's RepoDigests now, as docker
	 * records it */
	char dref[400];
	snprintf(dref, sizeof(dref), "%s@%s", name, ps->res->digest);
	if ((r = st_image_set_digest(ps->s, ps->img.id, dref, err)) < 0)
		st_error_wrap(err, "pushed as %s, but recording the digest failed", ps->res->digest);
	return r;
}

int st_registry_push(struct st_store *s, const char *ref, const struct st_reg_opts *o, struct st_push_result *res,
		     struct st_error *err)
{
	memset(res, 0, sizeof(*res));
	struct pusher ps = {.s = s, .o = o, .res = res};
	reg_progress_init(&ps.prog, o);
	int r = push(&ps, ref, err);
	if (r < 0)
		st_error_wrap(err, "push %s", ref);
	if (ps.client_ok)
		reg_client_close(&ps.c);
	if (ps.lease_ok)
		st_lease_end(&ps.lease);
	if (ps.img_ok)
		st_image_free(&ps.img);
	free(ps.layers);
	reg_progress_destroy(&ps.prog);
	return r;
}
