/* strata pull: resolve the reference to one image manifest (an index to
 * this machine's platform), fetch and check the config, skip the layers
 * already in the store (by chain id), and stream the others from the
 * network straight into the layer store.
 *
 * Downloads run in parallel (o->parallel, 3 by default) in worker
 * threads, each into a bounded pipe (PULL_PIPE_BYTES); the layer store
 * reads the pipes in layer order on the calling thread, because a layer
 * is applied on top of its parent. A download ahead of the layer being
 * applied fills its pipe and then waits (the connection stalls, memory
 * stays bounded), and at most `parallel` layers are in flight from the
 * one being applied: there is never a temporary copy of a whole layer.
 * While the bytes pass, the compressed blob is hashed here and the
 * uncompressed tar by the layer store: both digests are checked.
 *
 * Every layer the pull registers or finds is held by its lease holder
 * until the image exists: on any failure they are released (the store is
 * as before), and a killed pull's lease is swept at the next store open. */
#include "base/base.h"
#include "store/store.h"
#include "registry_int.h"

#define PULL_PIPE_BYTES (16u << 20)
#define PULL_DEFAULT_PARALLEL 3

struct pull_job {
	size_t layer;
	struct st_bytepipe pipe;
	bool started; /* pipe initialised (under the puller's mutex) */
	bool done;    /* the worker no longer touches the pipe */
	int64_t got;  /* bytes received */
};

struct pull_layer {
	const struct st_desc *blob;
	char diff_id[ST_DIGEST_LEN + 1];
	char chain[ST_DIGEST_LEN + 1];
	char short_id[13];
	bool present;
	size_t job;
};

struct puller {
	struct st_store *s;
	const struct st_reg_opts *o;
	struct reg_client c;
	bool client_ok;
	struct reg_ref ref;
	struct reg_manifest m;
	struct reg_progress prog;
	char *config;
	size_t config_len;
	struct pull_layer *layers;
	size_t nlayers;
	struct pull_job *jobs;
	size_t njobs;
	/* the workers' schedule */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	size_t next_job; /* the next job a worker takes */
	size_t consumed; /* jobs the layer store has finished */
	size_t window;
	bool stop;
	pthread_t *threads;
	size_t nthreads;
	/* what the pull holds */
	struct st_lease lease;
	bool lease_ok;
	char holder[64];
	char **held;
	size_t nheld;
};

/* --------------------------------------------------------------- workers */

struct job_sink {
	struct puller *pl;
	struct pull_job *j;
};

static int job_write(void *ctx, const void *buf, size_t len)
{
	struct job_sink *js = ctx;
	return st_bytepipe_write(&js->j->pipe, buf, len);
}

static void job_bytes(void *ctx, int64_t bytes)
{
	struct job_sink *js = ctx;
	struct pull_layer *L = &js->pl->layers[js->j->layer];
	js->j->got = bytes;
	reg_progress(&js->pl->prog, L->short_id, "Downloading", bytes, L->blob->size);
}

static void fetch_job(struct puller *pl, struct pull_job *j)
{
	struct pull_layer *L = &pl->layers[j->layer];
	struct job_sink js = {.pl = pl, .j = j};
	struct st_writer w = {.write = job_write, .ctx = &js};
	struct st_error e = {0};
	reg_progress(&pl->prog, L->short_id, "Downloading", 0, L->blob->size);
	int r = reg_blob_get(&pl->c, pl->ref.repo, L->blob->digest, &w, job_bytes, &js, &e);
	if (r >= 0)
		reg_progress(&pl->prog, L->short_id, "Download complete", j->got, L->blob->size);
	st_bytepipe_close(&j->pipe, r < 0 ? r : 0, e.msg);
	pthread_mutex_lock(&pl->mu);
	j->done = true;
	pthread_cond_broadcast(&pl->cond);
	pthread_mutex_unlock(&pl->mu);
}

static void *worker(void *arg)
{
	struct puller *pl = arg;
	pthread_mutex_lock(&pl->mu);
	for (;;) {
		while (!pl->stop && pl->next_job < pl->njobs && pl->next_job >= pl->consumed + pl->window)
			pthread_cond_wait(&pl->cond, &pl->mu);
		if (pl->stop || pl->next_job >= pl->njobs)
			break;
		struct pull_job *j = &pl->jobs[pl->next_job++];
		int r = st_bytepipe_init(&j->pipe, PULL_PIPE_BYTES);
		if (r < 0) {
			/* an empty pipe that fails at once: the consumer reports it */
			st_bytepipe_init(&j->pipe, 1);
			st_bytepipe_close(&j->pipe, r, "out of memory for the download buffer");
			j->started = j->done = true;
			pthread_cond_broadcast(&pl->cond);
			continue;
		}
		j->started = true;
		pthread_cond_broadcast(&pl->cond);
		pthread_mutex_unlock(&pl->mu);
		fetch_job(pl, j);
		pthread_mutex_lock(&pl->mu);
	}
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

static int start_workers(struct puller *pl, struct st_error *err)
{
	size_t n = pl->window < pl->njobs ? pl->window : pl->njobs;
	pl->threads = calloc(n ? n : 1, sizeof(*pl->threads));
	if (!pl->threads)
		return st_error_set(err, ENOMEM, "pull");
	for (size_t i = 0; i < n; i++) {
		int r = pthread_create(&pl->threads[i], NULL, worker, pl);
		if (r != 0)
			return st_error_set(err, r, "pull: start a download thread");
		pl->nthreads++;
	}
	return 0;
}

/* Stop everything: cancel the transfers and the pipes, join the threads,
 * free the pipes. */
static void stop_workers(struct puller *pl)
{
	pthread_mutex_lock(&pl->mu);
	pl->stop = true;
	pl->c.cancel = 1;
	for (size_t i = 0; i < pl->njobs; i++)
		if (pl->jobs[i].started && !pl->jobs[i].done)
			st_bytepipe_cancel(&pl->jobs[i].pipe);
	pthread_cond_broadcast(&pl->cond);
	pthread_mutex_unlock(&pl->mu);
	for (size_t i = 0; i < pl->nthreads; i++)
		pthread_join(pl->threads[i], NULL);
	pl->nthreads = 0;
	for (size_t i = 0; i < pl->njobs; i++)
		if (pl->jobs[i].started)
			st_bytepipe_destroy(&pl->jobs[i].pipe);
}

/* --------------------------------------------------------------- layers */

/* Hashes and counts the blob's bytes on their way to the layer store. */
struct blob_reader {
	struct st_bytepipe *pipe;
	struct st_sha256 h;
	int64_t bytes;
	struct st_error perr; /* the download's failure */
};

static ssize_t blob_read(void *ctx, void *buf, size_t len)
{
	struct blob_reader *br = ctx;
	ssize_t n = st_bytepipe_read(br->pipe, buf, len, &br->perr);
	if (n > 0) {
		st_sha256_update(&br->h, buf, (size_t)n);
		br->bytes += n;
	}
	return n;
}

static int hold(struct puller *pl, const char *chain, struct st_error *err)
{
	for (size_t i = 0; i < pl->nheld; i++)
		if (strcmp(pl->held[i], chain) == 0)
			return 0;
	return st_strv_push(&pl->held, &pl->nheld, chain) < 0 ? st_error_set(err, ENOMEM, "pull") : 0;
}

static void release_held(struct puller *pl)
{
	for (size_t i = pl->nheld; i-- > 0;) {
		struct st_error e2;
		st_layer_release(pl->s, pl->held[i], pl->holder, &e2);
	}
	st_strv_free(pl->held, pl->nheld);
	pl->held = NULL;
	pl->nheld = 0;
}

static int register_layer(struct puller *pl, size_t k, const char *parent, struct st_error *err)
{
	struct pull_layer *L = &pl->layers[k];
	struct pull_job *j = &pl->jobs[L->job];
	pthread_mutex_lock(&pl->mu);
	while (!j->started)
		pthread_cond_wait(&pl->cond, &pl->mu);
	pthread_mutex_unlock(&pl->mu);

	struct blob_reader br = {.pipe = &j->pipe};
	int r = st_sha256_init(&br.h);
	if (r < 0)
		return st_error_set(err, -r, "pull");
	struct st_reader rd = {.read = blob_read, .ctx = &br};
	struct st_layer l = {0};
	r = st_layer_register(pl->s, parent[0] ? parent : NULL, &rd, pl->holder, &l, err);
	if (r >= 0 && (r = hold(pl, l.chain_id, err)) >= 0) {
		/* the decompressor may stop at the end of the stream it knows:
		 * the blob digest covers every byte */
		char buf[65536];
		ssize_t n;
		while ((n = blob_read(&br, buf, sizeof(buf))) > 0)
			;
		if (n < 0)
			r = st_error_fail(err, (int)-n, "read to the end: %s", strerror((int)-n));
	}
	char got[ST_DIGEST_LEN + 1];
	st_sha256_final(&br.h, got);
	if (r < 0 && br.perr.code) {
		/* the download failed: that is the news, not what the tar
		 * reader made of a short stream */
		*err = br.perr;
		r = -br.perr.code;
	}
	if (r < 0)
		st_bytepipe_cancel(&j->pipe);
	if (r >= 0 && br.bytes != L->blob->size)
		r = st_error_fail(err, EINVAL, "the blob is %lld bytes, the manifest says %lld", (long long)br.bytes,
				  (long long)L->blob->size);
	if (r >= 0 && strcmp(got, L->blob->digest) != 0)
		r = st_error_fail(err, EINVAL, "the blob's bytes have digest %s, the manifest says %s", got,
				  L->blob->digest);
	if (r >= 0 && strcmp(l.diff_id, L->diff_id) != 0)
		r = st_error_fail(err, EINVAL, "the layer's content has diff id %s, the config says %s", l.diff_id,
				  L->diff_id);
	st_layer_free(&l);
	if (r < 0)
		return st_error_wrap(err, "layer %zu/%zu (%s)", k + 1, pl->nlayers, L->blob->digest);
	reg_progress(&pl->prog, L->short_id, "Pull complete", br.bytes, L->blob->size);
	/* the next download may start; this one's pipe goes */
	pthread_mutex_lock(&pl->mu);
	pl->consumed = L->job + 1;
	pthread_cond_broadcast(&pl->cond);
	while (!j->done)
		pthread_cond_wait(&pl->cond, &pl->mu);
	pthread_mutex_unlock(&pl->mu);
	st_bytepipe_destroy(&j->pipe);
	j->started = false;
	return 0;
}

/* Which layers the store has (the chain id says the whole stack below is
 * there too); they are held from now on. */
static int plan_layers(struct puller *pl, char **diff_ids, struct st_error *err)
{
	pl->layers = calloc(pl->m.nlayers ? pl->m.nlayers : 1, sizeof(*pl->layers));
	pl->jobs = calloc(pl->m.nlayers ? pl->m.nlayers : 1, sizeof(*pl->jobs));
	if (!pl->layers || !pl->jobs)
		return st_error_set(err, ENOMEM, "pull");
	pl->nlayers = pl->m.nlayers;
	char parent[ST_DIGEST_LEN + 1] = "";
	bool missing = false;
	for (size_t k = 0; k < pl->nlayers; k++) {
		struct pull_layer *L = &pl->layers[k];
		L->blob = &pl->m.layers[k];
		snprintf(L->diff_id, sizeof(L->diff_id), "%s", diff_ids[k]);
		st_chain_id(parent, L->diff_id, L->chain);
		reg_short_id(L->blob->digest, L->short_id);
		struct st_layer have;
		struct st_error e2;
		if (!missing && st_layer_get(pl->s, L->chain, &have, &e2) == 0) {
			st_layer_free(&have);
			if (st_layer_hold(pl->s, L->chain, pl->holder, &e2) == 0) {
				L->present = true;
				int r = hold(pl, L->chain, err);
				if (r < 0)
					return r;
				reg_progress(&pl->prog, L->short_id, "Already exists", 0, 0);
			}
		}
		if (!L->present) {
			missing = true;
			L->job = pl->njobs;
			pl->jobs[pl->njobs++].layer = k;
			reg_progress(&pl->prog, L->short_id, "Waiting", 0, L->blob->size);
		}
		memcpy(parent, L->chain, sizeof(parent));
	}
	return 0;
}

static int pull_layers(struct puller *pl, struct st_error *err)
{
	int r = start_workers(pl, err);
	char parent[ST_DIGEST_LEN + 1] = "";
	for (size_t k = 0; k < pl->nlayers && r >= 0; k++) {
		if (!pl->layers[k].present)
			r = register_layer(pl, k, parent, err);
		memcpy(parent, pl->layers[k].chain, sizeof(parent));
	}
	stop_workers(pl);
	return r;
}

/* ---------------------------------------------------------------- image */

static int fetch_config(struct puller *pl, const struct st_platform *want, char ***diff_ids, size_t *n,
			struct st_error *err)
{
	int r = reg_blob_get_small(&pl->c, pl->ref.repo, &pl->m.config, &pl->config, &pl->config_len, err);
	if (r < 0)
		return st_error_wrap(err, "image config");
	struct st_platform got;
	if ((r = st_config_diff_ids(pl->config, pl->config_len, diff_ids, n, &got, err)) < 0)
		return st_error_wrap(err, "image config %s", pl->m.config.digest);
	if (*n != pl->m.nlayers)
		return st_error_fail(err, EINVAL, "the config names %zu layers, the manifest %zu", *n, pl->m.nlayers);
	if (got.os[0] && strcmp(got.os, "linux") != 0)
		return st_error_fail(err, ENOTSUP, "the image is for %s, not linux", got.os);
	if (got.arch[0] && strcmp(got.arch, want->arch) != 0) {
		char a[100], b[100], line[300];
		st_platform_format(&got, a, sizeof(a));
		st_platform_format(want, b, sizeof(b));
		snprintf(line, sizeof(line), "WARNING: the image's platform (%s) does not match the requested one (%s)", a,
			 b);
		reg_progress(&pl->prog, NULL, line, 0, 0);
	}
	return 0;
}

static int make_image(struct puller *pl, struct st_pull_result *res, struct st_error *err)
{
	char id[ST_DIGEST_LEN + 1];
	int r = st_image_create(pl->s, pl->config, pl->config_len, id, err);
	if (r < 0)
		return r;
	snprintf(res->id, sizeof(res->id), "%s", id);
	char name[300], dref[400];
	reg_ref_familiar_name(&pl->ref, name, sizeof(name));
	if (pl->ref.tag[0]) {
		snprintf(res->name, sizeof(res->name), "%s:%s", name, pl->ref.tag);
		if ((r = st_image_tag(pl->s, id, res->name, err)) < 0)
			return r;
	}
	/* docker's RepoDigests: what the reference resolved to (an index's
	 * digest for a multi-platform image), as `docker pull` records it */
	snprintf(dref, sizeof(dref), "%s@%s", name, pl->m.top_digest);
	return st_image_set_digest(pl->s, id, dref, err);
}

/* Remember which blobs hold these layers, for pushes (best effort). */
static void record_blobs(struct puller *pl)
{
	char source[600];
	snprintf(source, sizeof(source), "%s/%s", pl->ref.domain, pl->ref.repo);
	for (size_t k = 0; k < pl->nlayers; k++) {
		struct st_error e2;
		reg_meta_record(pl->s, pl->layers[k].diff_id, pl->layers[k].blob, source, &e2);
	}
}

static int pull(struct puller *pl, const char *refstr, struct st_pull_result *res, struct st_error *err)
{
	int r = reg_ref_parse(refstr, &pl->ref, err);
	if (r < 0)
		return r;
	reg_ref_canonical(&pl->ref, res->canonical, sizeof(res->canonical));
	struct st_platform plat;
	if (pl->o && pl->o->platform && *pl->o->platform) {
		if ((r = st_platform_parse(pl->o->platform, &plat, err)) < 0)
			return r;
	} else {
		st_platform_host(&plat);
	}
	pl->client_ok = true;
	if ((r = reg_client_open(&pl->c, pl->ref.domain, pl->o, err)) < 0)
		return r;
	if ((r = reg_client_scope(&pl->c, pl->ref.repo, "pull")) < 0)
		return st_error_set(err, -r, "pull");
	if ((r = reg_client_authorize(&pl->c, err)) < 0)
		return r;
	char line[600];
	snprintf(line, sizeof(line), "%s: Pulling from %s", pl->ref.tag[0] ? pl->ref.tag : pl->ref.digest, pl->ref.repo);
	reg_progress(&pl->prog, NULL, line, 0, 0);
	if ((r = reg_manifest_resolve(&pl->c, &pl->ref, &plat, &pl->m, err)) < 0)
		return r;
	snprintf(res->digest, sizeof(res->digest), "%s", pl->m.top_digest);
	char **diff_ids = NULL;
	size_t ndiff = 0;
	r = fetch_config(pl, &plat, &diff_ids, &ndiff, err);
	if (r >= 0) {
		struct st_image have;
		struct st_error e2;
		res->up_to_date = st_image_get(pl->s, pl->m.config.digest, &have, &e2) == 0;
		if (res->up_to_date)
			st_image_free(&have);
	}
	if (r >= 0 && (r = st_lease_new(pl->s, &pl->lease, err)) >= 0) {
		pl->lease_ok = true;
		st_lease_holder(&pl->lease, pl->holder, sizeof(pl->holder));
		r = plan_layers(pl, diff_ids, err);
		if (r >= 0)
			r = pull_layers(pl, err);
		if (r >= 0)
			r = make_image(pl, res, err);
		for (size_t k = 0; r >= 0 && k < pl->nlayers; k++) {
			if (pl->layers[k].present)
				res->layers_present++;
			else
				res->layers_pulled++;
		}
	}
	st_strv_free(diff_ids, ndiff);
	/* the image holds what it needs now; after a failure this removes
	 * every layer the pull added */
	release_held(pl);
	if (r >= 0)
		record_blobs(pl);
	return r;
}

int st_registry_pull(struct st_store *s, const char *ref, const struct st_reg_opts *o,
		     struct st_pull_result *res, struct st_error *err)
{
	memset(res, 0, sizeof(*res));
	struct puller pl = {.s = s, .o = o};
	pl.window = o && o->parallel > 0 ? (size_t)o->parallel : PULL_DEFAULT_PARALLEL;
	pthread_mutex_init(&pl.mu, NULL);
	pthread_cond_init(&pl.cond, NULL);
	reg_progress_init(&pl.prog, o);
	int r = pull(&pl, ref, res, err);
	if (r < 0)
		st_error_wrap(err, "pull %s", res->canonical[0] ? res->canonical : ref);
	if (pl.lease_ok)
		st_lease_end(&pl.lease);
	if (pl.client_ok)
		reg_client_close(&pl.c);
	reg_manifest_free(&pl.m);
	free(pl.config);
	free(pl.layers);
	free(pl.jobs);
	free(pl.threads);
	reg_progress_destroy(&pl.prog);
	pthread_mutex_destroy(&pl.mu);
	pthread_cond_destroy(&pl.cond);
	return r;
}
