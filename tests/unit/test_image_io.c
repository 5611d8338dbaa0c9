/* core/image/image_load.c, image_save.c, image_src.c over the vfs driver, with
 * archives made here by libarchive: docker-archives with gzip and zstd
 * layers, symlinked and hardlinked members (followed inside the archive,
 * refused outside it), OCI layouts with a multi-platform index, descriptor
 * checks, names from RepoTags and annotations, every failure leaving the
 * store as it was, and save -> load round trips that give the same bytes. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "image/image.h"
#include "tartest.h"
#include "testlib.h"

static char *tmp;
static char root[4096];
static struct st_store *store;

static void open_store(const char *dir)
{
	struct st_error err = {0};
	struct st_store_config cfg = {.root = dir, .driver = "vfs"};
	ST_OK(st_store_open(&cfg, &store, &err), &err);
}

static void setup(void)
{
	tmp = st_test_mkdtemp("image-io");
	ck_assert_ptr_nonnull(tmp);
	snprintf(root, sizeof(root), "%s/store", tmp);
	open_store(root);
}

static void teardown(void)
{
	st_store_close(store);
	st_test_rmtree(tmp);
	free(tmp);
}

/* ------------------------------------------------------------- builders */

static void layer_tar(struct tt_buf *out, const char *name, const char *content)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	tt_dir(t, "data", 0755);
	char p[128];
	snprintf(p, sizeof(p), "data/%s", name);
	tt_file(t, p, 0644, content);
	tt_tar_finish(t, out);
}

static la_ssize_t buf_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
	(void)a;
	tt_buf_add(ctx, buf, len);
	return (la_ssize_t)len;
}

/* The bytes of in, compressed with a libarchive filter (gzip, zstd). */
static void compress(const struct tt_buf *in, int filter, struct tt_buf *out)
{
	struct archive *a = archive_write_new();
	ck_assert_int_eq(archive_write_add_filter(a, filter), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_set_format_raw(a), ARCHIVE_OK);
	archive_write_set_bytes_per_block(a, 0);
	ck_assert_int_eq(archive_write_open2(a, out, NULL, buf_write, NULL, NULL), ARCHIVE_OK);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_filetype(e, AE_IFREG);
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_data(a, in->data, in->len), (la_ssize_t)in->len);
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_entry_free(e);
	archive_write_free(a);
}

/* An image config naming diff ids (of the uncompressed layer tars). */
static char *config_for(const struct tt_buf *layers, size_t n, const char *os, const char *arch)
{
	char *ids = st_strdup("");
	for (size_t i = 0; i < n; i++) {
		char d[ST_DIGEST_LEN + 1];
		tt_sha256(layers[i].data, layers[i].len, d);
		char *next = st_asprintf("%s%s\"%s\"", ids, i ? "," : "", d);
		free(ids);
		ids = next;
	}
	char *c = st_asprintf("{\"architecture\":\"%s\",\"os\":\"%s\",\"config\":{\"Entrypoint\":[\"/bin/true\"]},"
			      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}",
			      arch, os, ids);
	free(ids);
	return c;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* A docker-archive: layer i as L<i>/layer.tar (blobs as given, possibly
 * compressed), the config as <sha256>.json. */
static void docker_archive(struct tt_buf *out, const struct tt_buf *blobs, size_t n, const char *config,
			   const char *repotags)
{
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	char *layers = st_strdup("");
	for (size_t i = 0; i < n; i++) {
		char p[64];
		snprintf(p, sizeof(p), "L%zu/layer.tar", i);
		tt_file_data(t, p, 0644, blobs[i].data, blobs[i].len, NULL);
		char *next = st_asprintf("%s%s\"%s\"", layers, i ? "," : "", p);
		free(layers);
		layers = next;
	}
	char d[ST_DIGEST_LEN + 1], cfgname[80];
	tt_sha256(config, strlen(config), d);
	snprintf(cfgname, sizeof(cfgname), "%s.json", d + 7);
	tt_file(t, cfgname, 0644, config);
	char *man = st_asprintf("[{\"Config\":\"%s\",\"RepoTags\":%s,\"Layers\":[%s]}]", cfgname, repotags, layers);
	tt_file(t, "manifest.json", 0644, man);
	free(man);
	free(layers);
	tt_tar_finish(t, out);
}

static int load_buf(const struct tt_buf *b, struct st_load_result *res, struct st_error *err)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/in.tar", tmp);
	write_file(p, b->data, b->len);
	return st_image_load(store, p, -1, res, err);
}

static size_t count_layers(void)
{
	struct st_layer *v;
	size_t n;
	struct st_error err;
	ST_OK(st_layer_list(store, &v, &n, &err), &err);
	st_layer_list_free(v, n);
	return n;
}

static size_t count_images(void)
{
	struct st_image *v;
	size_t n;
	struct st_error err;
	ST_OK(st_image_list(store, &v, &n, &err), &err);
	st_image_list_free(v, n);
	return n;
}

static size_t count_driver_layers(void)
{
	char **ids;
	size_t n;
	struct st_error err;
	ST_OK(st_drv_list(st_store_driver(store), &ids, &n, &err), &err);
	st_strv_free(ids, n);
	return n;
}

/* Nothing of a refused load: no layer, image, driver layer or lease. */
static void ck_store_empty(void)
{
	ck_assert_int_eq(count_layers(), 0);
	ck_assert_int_eq(count_images(), 0);
	ck_assert_int_eq(count_driver_layers(), 0);
	ck_assert_msg(st_test_sh("test -z \"$(ls -A '%s/leases')\"", root) == 0, "a lease was left behind");
}

static void ck_refused(const struct tt_buf *archive, const char *want)
{
	struct st_load_result res;
	struct st_error err = {0};
	int r = load_buf(archive, &res, &err);
	ck_assert_msg(r < 0, "load of a bad archive succeeded (want \"%s\")", want);
	ck_assert_msg(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
}

static void ck_layer_bytes(const char *chain, const struct tt_buf *want)
{
	struct tt_memwriter mw = {0};
	struct st_error err = {0};
	ST_OK(st_layer_tar(store, chain, tt_memwriter(&mw), &err), &err);
	ck_assert_uint_eq(mw.buf.len, want->len);
	ck_assert(memcmp(mw.buf.data, want->data, want->len) == 0);
	tt_buf_free(&mw.buf);
}

/* Three layers: gzip, zstd, plain. */
static void three_layers(struct tt_buf plain[3], struct tt_buf blobs[3])
{
	memset(plain, 0, 3 * sizeof(*plain));
	memset(blobs, 0, 3 * sizeof(*blobs));
	layer_tar(&plain[0], "one", "first layer\n");
	layer_tar(&plain[1], "two", "second layer\n");
	layer_tar(&plain[2], "three", "third layer\n");
	compress(&plain[0], ARCHIVE_FILTER_GZIP, &blobs[0]);
	compress(&plain[1], ARCHIVE_FILTER_ZSTD, &blobs[1]);
	tt_buf_add(&blobs[2], plain[2].data, plain[2].len);
}

static void free_bufs(struct tt_buf *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tt_buf_free(&v[i]);
}

/* ---------------------------------------------------------------- tests */

START_TEST(test_docker_archive_with_gzip_zstd_and_plain_layers_loads)
{
	struct tt_buf plain[3], blobs[3], arc = {0};
	three_layers(plain, blobs);
	char *config = config_for(plain, 3, "linux", "amd64");
	docker_archive(&arc, blobs, 3, config, "[\"docker.io/library/busybox:latest\",\"example.com/x/y:2\"]");
	struct st_load_result res;
	struct st_error err = {0};
	ST_OK(load_buf(&arc, &res, &err), &err);
	char id[ST_DIGEST_LEN + 1];
	tt_sha256(config, strlen(config), id);
	ck_assert_uint_eq(res.nids, 1);
	ck_assert_str_eq(res.ids[0], id);
	ck_assert_uint_eq(res.ntags, 2);
	ck_assert_str_eq(res.tags[0], "busybox:latest");
	ck_assert_str_eq(res.tags[1], "example.com/x/y:2");
	ck_assert_int_eq(res.layers_loaded, 3);
	st_load_result_free(&res);
	/* the layers give back their uncompressed bytes */
	char chain[ST_DIGEST_LEN + 1] = "";
	for (int i = 0; i < 3; i++) {
		char d[ST_DIGEST_LEN + 1], next[ST_DIGEST_LEN + 1];
		tt_sha256(plain[i].data, plain[i].len, d);
		st_chain_id(chain, d, next);
		memcpy(chain, next, sizeof(chain));
		ck_layer_bytes(chain, &plain[i]);
	}
	struct st_image img;
	ST_OK(st_image_get(store, "busybox", &img, &err), &err);
	ck_assert_str_eq(img.id, id);
	ck_assert_str_eq(img.top, chain);
	st_image_free(&img);
	/* a second load reads no layer and holds no more than before */
	ST_OK(load_buf(&arc, &res, &err), &err);
	ck_assert_int_eq(res.layers_loaded, 0);
	ck_assert_int_eq(res.layers_reused, 3);
	st_load_result_free(&res);
	struct st_layer l;
	ST_OK(st_layer_get(store, chain, &l, &err), &err);
	ck_assert_uint_eq(l.nholders, 1);
	st_layer_free(&l);
	free(config);
	free_bufs(plain, 3);
	free_bufs(blobs, 3);
	tt_buf_free(&arc);
}
END_TEST

START_TEST(test_compressed_archive_and_stream_load)
{
	struct tt_buf plain[3], blobs[3], arc = {0}, gz = {0};
	three_layers(plain, blobs);
	char *config = config_for(plain, 3, "linux", "amd64");
	docker_archive(&arc, blobs, 3, config, "null");
	compress(&arc, ARCHIVE_FILTER_GZIP, &gz);
	/* through a pipe: spooled */
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		ssize_t w = write(p[1], gz.data, gz.len);
		_exit(w == (ssize_t)gz.len ? 0 : 1);
	}
	close(p[1]);
	struct st_load_result res;
	struct st_error err = {0};
	int r = st_image_load(store, NULL, p[0], &res, &err);
	close(p[0]);
	ST_OK(r, &err);
	ck_assert_uint_eq(res.nids, 1);
	ck_assert_uint_eq(res.ntags, 0);
	st_load_result_free(&res);
	free(config);
	free_bufs(plain, 3);
	free_bufs(blobs, 3);
	tt_buf_free(&arc);
	tt_buf_free(&gz);
}
END_TEST

START_TEST(test_symlinked_and_hardlinked_members_are_followed)
{
	struct tt_buf plain[1] = {{0}}, arc = {0};
	layer_tar(&plain[0], "same", "the same layer three times\n");
	struct tt_buf three[3] = {plain[0], plain[0], plain[0]};
	char *config = config_for(three, 3, "linux", "amd64");
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	tt_file_data(t, "a/layer.tar", 0644, plain[0].data, plain[0].len, NULL);
	tt_symlink(t, "b/layer.tar", "../a/layer.tar");
	tt_hardlink(t, "c/layer.tar", "a/layer.tar");
	tt_symlink(t, "d", "a"); /* a symlinked directory on the way */
	char d[ST_DIGEST_LEN + 1], cfgname[80];
	tt_sha256(config, strlen(config), d);
	snprintf(cfgname, sizeof(cfgname), "%s.json", d + 7);
	tt_file(t, cfgname, 0644, config);
	tt_file(t, "./manifest.json", 0644, "");
	char *man = st_asprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"links:1\"],"
				"\"Layers\":[\"b/layer.tar\",\"c/layer.tar\",\"d/layer.tar\"]}]", cfgname);
	tt_file(t, "manifest.json", 0644, man); /* the later entry wins */
	tt_tar_finish(t, &arc);
	struct st_load_result res;
	struct st_error err = {0};
	ST_OK(load_buf(&arc, &res, &err), &err);
	ck_assert_int_eq(res.layers_loaded, 3);
	st_load_result_free(&res);
	ck_assert_int_eq(count_layers(), 3);
	free(man);
	free(config);
	tt_buf_free(&plain[0]);
	tt_buf_free(&arc);
}
END_TEST

START_TEST(test_links_leaving_the_archive_are_refused)
{
	struct tt_buf plain[1] = {{0}}, arc = {0};
	layer_tar(&plain[0], "x", "x\n");
	char *config = config_for(plain, 1, "linux", "amd64");
	struct tt_tar *t = tt_tar_new(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	tt_symlink(t, "x/layer.tar", "../../../../../../etc/passwd");
	char d[ST_DIGEST_LEN + 1], cfgname[80];
	tt_sha256(config, strlen(config), d);
	snprintf(cfgname, sizeof(cfgname), "%s.json", d + 7);
	tt_file(t, cfgname, 0644, config);
	char *man = st_asprintf("[{\"Config\":\"%s\",\"RepoTags\":null,\"Layers\":[\"x/layer.tar\"]}]", cfgname);
	tt_file(t, "manifest.json", 0644, man);
	tt_tar_finish(t, &arc);
	ck_refused(&arc, "has no x/layer.tar");
	ck_store_empty();
	/* the same as a directory: an absolute symlink is not followed out */
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/unpacked", tmp);
	ck_assert_int_eq(st_test_sh("mkdir -p '%s/x' && ln -s /etc/passwd '%s/x/layer.tar'", dir, dir), 0);
	char p[4300];
	snprintf(p, sizeof(p), "%s/%s", dir, cfgname);
	write_file(p, config, strlen(config));
	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	write_file(p, man, strlen(man));
	struct st_load_result res;
	struct st_error err = {0};
	ck_assert_int_lt(st_image_load(store, dir, -1, &res, &err), 0);
	ck_assert_msg(strstr(err.msg, "x/layer.tar"), "message: %s", err.msg);
	ck_store_empty();
	free(man);
	free(config);
	tt_buf_free(&plain[0]);
	tt_buf_free(&arc);
}
END_TEST

START_TEST(test_failed_load_releases_what_it_registered)
{
	struct tt_buf plain[3], blobs[3], arc = {0};
	three_layers(plain, blobs);
	/* an image that shares the first layer is in the store already */
	char *first = config_for(plain, 1, "linux", "amd64");
	struct tt_buf one = {0};
	docker_archive(&one, blobs, 1, first, "[\"first:1\"]");
	struct st_load_result res;
	struct st_error err = {0};
	ST_OK(load_buf(&one, &res, &err), &err);
	st_load_result_free(&res);
	char d0[ST_DIGEST_LEN + 1];
	tt_sha256(plain[0].data, plain[0].len, d0);
	/* the third layer's bytes are not what the config says */
	char *config = config_for(plain, 3, "linux", "amd64");
	tt_buf_free(&blobs[2]);
	layer_tar(&blobs[2], "three", "tampered layer\n");
	docker_archive(&arc, blobs, 3, config, "[\"second:1\"]");
	ck_refused(&arc, "layer 3 (L2/layer.tar): its content has diff id");
	ck_assert_int_eq(count_layers(), 1);
	ck_assert_int_eq(count_images(), 1);
	ck_assert_int_eq(count_driver_layers(), 1);
	struct st_layer l;
	ST_OK(st_layer_get(store, d0, &l, &err), &err);
	ck_assert_uint_eq(l.nholders, 1); /* the first image's, not the load's */
	st_layer_free(&l);
	/* a truncated archive: refused as such */
	tt_buf_free(&arc);
	tt_buf_free(&blobs[2]);
	tt_buf_add(&blobs[2], plain[2].data, plain[2].len);
	docker_archive(&arc, blobs, 3, config, "[\"second:1\"]");
	arc.len = arc.len / 2;
	ck_refused(&arc, "truncated");
	ck_assert_int_eq(count_layers(), 1);
	ck_assert_int_eq(count_driver_layers(), 1);
	free(first);
	free(config);
	free_bufs(plain, 3);
	free_bufs(blobs, 3);
	tt_buf_free(&arc);
	tt_buf_free(&one);
}
END_TEST

/* ---------------------------------------------------------- OCI layouts */

static void put_blob(const char *dir, const void *data, size_t len, char digest[ST_DIGEST_LEN + 1])
{
	tt_sha256(data, len, digest);
	char p[4300];
	snprintf(p, sizeof(p), "%s/blobs/sha256/%s", dir, digest + 7);
	write_file(p, data, len);
}

/* A manifest (as a blob) for these layers (as gzip blobs); returns its
 * descriptor as JSON text. */
static char *oci_image(const char *dir, const struct tt_buf *plain, size_t n, const char *arch,
		       const char *layer_type)
{
	char *config = config_for(plain, n, "linux", arch);
	char cd[ST_DIGEST_LEN + 1];
	put_blob(dir, config, strlen(config), cd);
	char *layers = st_strdup("");
	for (size_t i = 0; i < n; i++) {
		struct tt_buf gz = {0};
		compress(&plain[i], ARCHIVE_FILTER_GZIP, &gz);
		char ld[ST_DIGEST_LEN + 1];
		put_blob(dir, gz.data, gz.len, ld);
		char *next = st_asprintf("%s%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}", layers, i ? "," : "",
					 layer_type, ld, gz.len);
		free(layers);
		layers = next;
		tt_buf_free(&gz);
	}
	char *man = st_asprintf("{\"schemaVersion\":2,\"mediaType\":\"" ST_MT_OCI_MANIFEST "\","
				"\"config\":{\"mediaType\":\"" ST_MT_OCI_CONFIG "\",\"digest\":\"%s\",\"size\":%zu},"
				"\"layers\":[%s]}",
				cd, strlen(config), layers);
	char md[ST_DIGEST_LEN + 1];
	put_blob(dir, man, strlen(man), md);
	char *desc = st_asprintf("{\"mediaType\":\"" ST_MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
				 "\"platform\":{\"architecture\":\"%s\",\"os\":\"linux\"}}",
				 md, strlen(man), arch);
	free(man);
	free(layers);
	free(config);
	return desc;
}

static void oci_dir(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "%s/%s", tmp, name);
	ck_assert_int_eq(st_test_sh("rm -rf '%s' && mkdir -p '%s/blobs/sha256' && "
				    "echo '{\"imageLayoutVersion\":\"1.0.0\"}' > '%s/oci-layout'",
				    dir, dir, dir),
			 0);
}

static void oci_index(const char *dir, const char *manifests)
{
	char *idx = st_asprintf("{\"schemaVersion\":2,\"manifests\":[%s]}", manifests);
	char p[4300];
	snprintf(p, sizeof(p), "%s/index.json", dir);
	write_file(p, idx, strlen(idx));
	free(idx);
}

START_TEST(test_oci_multi_platform_index_picks_the_host_platform)
{
	char dir[4200];
	oci_dir(dir, sizeof(dir), "multi");
	struct tt_buf amd[2] = {{0}}, arm[1] = {{0}};
	layer_tar(&amd[0], "a", "amd64 base\n");
	layer_tar(&amd[1], "b", "amd64 top\n");
	layer_tar(&arm[0], "c", "arm64 only\n");
	char *d_arm = oci_image(dir, arm, 1, "arm64", "application/vnd.oci.image.layer.v1.tar+gzip");
	char *d_amd = oci_image(dir, amd, 2, "amd64", "application/vnd.docker.image.rootfs.diff.tar.gzip");
	char *inner = st_asprintf("{\"schemaVersion\":2,\"mediaType\":\"" ST_MT_OCI_INDEX "\",\"manifests\":[%s,%s]}",
				  d_arm, d_amd);
	char id[ST_DIGEST_LEN + 1];
	put_blob(dir, inner, strlen(inner), id);
	char *outer = st_asprintf("{\"mediaType\":\"" ST_MT_OCI_INDEX "\",\"digest\":\"%s\",\"size\":%zu,"
				  "\"annotations\":{\"" ST_ANNOT_CONTAINERD_NAME "\":\"docker.io/library/multi:1\","
				  "\"" ST_ANNOT_REF_NAME "\":\"1\"}}",
				  id, strlen(inner));
	oci_index(dir, outer);
	struct st_load_result res;
	struct st_error err = {0};
	ST_OK(st_image_load(store, dir, -1, &res, &err), &err);
	ck_assert_uint_eq(res.ntags, 1);
	ck_assert_str_eq(res.tags[0], "multi:1");
	ck_assert_int_eq(res.layers_loaded, 2);
	st_load_result_free(&res);
	struct st_image img;
	ST_OK(st_image_get(store, "multi:1", &img, &err), &err);
	ck_assert_msg(strstr(img.config, "\"architecture\":\"amd64\""), "picked %s", img.config);
	st_image_free(&img);
	free(d_arm);
	free(d_amd);
	free(inner);
	free(outer);
	free_bufs(amd, 2);
	tt_buf_free(&arm[0]);
}
END_TEST

START_TEST(test_oci_ref_name_alone_names_the_image)
{
	char dir[4200];
	oci_dir(dir, sizeof(dir), "refname");
	struct tt_buf l[1] = {{0}};
	layer_tar(&l[0], "a", "x\n");
	char *d = oci_image(dir, l, 1, "amd64", ST_MT_OCI_LAYER "+gzip");
	/* skopeo's oci:DIR:busybox: a bare name is name:latest, as podman reads it */
	d[strlen(d) - 1] = '\0';
	char *withname = st_asprintf("%s,\"annotations\":{\"" ST_ANNOT_REF_NAME "\":\"busybox\"}}", d);
	oci_index(dir, withname);
	struct st_load_result res;
	struct st_error err = {0};
	ST_OK(st_image_load(store, dir, -1, &res, &err), &err);
	ck_assert_uint_eq(res.ntags, 1);
	ck_assert_str_eq(res.tags[0], "busybox:latest");
	st_load_result_free(&res);
	free(withname);
	free(d);
	tt_buf_free(&l[0]);
}
END_TEST

/* Rewrite index.json with one field of the (only) descriptor changed. */
static void ck_oci_refused(const char *dir, const char *desc, const char *want)
{
	oci_index(dir, desc);
	struct st_load_result res;
	struct st_error err = {0};
	int r = st_image_load(store, dir, -1, &res, &err);
	ck_assert_msg(r < 0, "load succeeded (want \"%s\")", want);
	ck_assert_msg(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
	ck_store_empty();
}

START_TEST(test_oci_descriptors_are_checked)
{
	char dir[4200];
	oci_dir(dir, sizeof(dir), "checks");
	struct tt_buf l[1] = {{0}};
	layer_tar(&l[0], "a", "x\n");
	char *good = oci_image(dir, l, 1, "amd64", ST_MT_OCI_LAYER "+gzip");
	char *enc = oci_image(dir, l, 1, "amd64", ST_MT_OCI_LAYER "+encrypted");
	/* the manifest's size is one less than its bytes */
	char *p = strstr(good, "\"size\":");
	ck_assert_ptr_nonnull(p);
	long size = strtol(p + 7, NULL, 10);
	char *bad_size = st_asprintf("%.*s\"size\":%ld%s", (int)(p - good), good, size - 1, strchr(p + 7, ','));
	ck_oci_refused(dir, bad_size, "does not match its descriptor");
	ck_oci_refused(dir, enc, "which strata cannot unpack");
	char *sha512 = st_strdup(good);
	memcpy(strstr(sha512, "sha256:"), "sha512:", 7);
	ck_oci_refused(dir, sha512, "is not sha256");
	ck_oci_refused(dir, "", "index.json lists no images");
	/* a layout without oci-layout is refused */
	ck_assert_int_eq(st_test_sh("rm '%s/oci-layout'", dir), 0);
	ck_oci_refused(dir, good, "oci-layout");
	free(good);
	free(enc);
	free(bad_size);
	free(sha512);
	tt_buf_free(&l[0]);
}
END_TEST

START_TEST(test_foreign_os_and_bad_configs_refused)
{
	struct tt_buf plain[1] = {{0}}, arc = {0};
	layer_tar(&plain[0], "w", "windows\n");
	char *config = config_for(plain, 1, "windows", "amd64");
	docker_archive(&arc, plain, 1, config, "null");
	ck_refused(&arc, "the image is for windows, not linux");
	ck_store_empty();
	tt_buf_free(&arc);
	free(config);
	/* a config naming two layers for a manifest of one */
	struct tt_buf two[2] = {plain[0], plain[0]};
	config = config_for(two, 2, "linux", "amd64");
	docker_archive(&arc, plain, 1, config, "null");
	ck_refused(&arc, "the config names 2 layers, the manifest 1");
	ck_store_empty();
	tt_buf_free(&arc);
	/* an invalid tag */
	docker_archive(&arc, two, 2, config, "[\"Not A Tag\"]");
	ck_refused(&arc, "invalid reference");
	ck_store_empty();
	tt_buf_free(&arc);
	free(config);
	tt_buf_free(&plain[0]);
}
END_TEST

/* ------------------------------------------------------------------ save */

static void read_all(const char *path, struct tt_buf *out)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		tt_buf_add(out, buf, (size_t)n);
	close(fd);
	ck_assert_uint_eq(out->len, (size_t)st.st_size);
}

START_TEST(test_save_load_save_gives_the_same_bytes)
{
	struct tt_buf plain[3], blobs[3], arc = {0};
	three_layers(plain, blobs);
	char *config = config_for(plain, 3, "linux", "amd64");
	docker_archive(&arc, blobs, 3, config, "[\"app:1\"]");
	struct st_load_result res;
	struct st_error err = {0};
	ST_OK(load_buf(&arc, &res, &err), &err);
	st_load_result_free(&res);
	char a[4200], b[4200], odir[4200];
	snprintf(a, sizeof(a), "%s/a.tar", tmp);
	snprintf(b, sizeof(b), "%s/b.tar", tmp);
	snprintf(odir, sizeof(odir), "%s/oci-out/", tmp);
	const char *refs[] = {"app:1"};
	ST_OK(st_image_save(store, refs, 1, ST_IMAGE_FORMAT_DOCKER, a, -1, &err), &err);
	ST_OK(st_image_save(store, refs, 1, ST_IMAGE_FORMAT_OCI, odir, -1, &err), &err);
	char *index = st_test_read(odir, "index.json");
	ck_assert_ptr_nonnull(index);
	ck_assert_msg(strstr(index, "\"" ST_ANNOT_REF_NAME "\":\"app:1\"") &&
			      strstr(index, "\"" ST_ANNOT_CONTAINERD_NAME "\":\"docker.io/library/app:1\""),
		      "index.json: %s", index);
	free(index);
	/* into a second store, from the docker-archive and from the layout */
	st_store_close(store);
	char other[4200];
	snprintf(other, sizeof(other), "%s/store2", tmp);
	open_store(other);
	ST_OK(st_image_load(store, a, -1, &res, &err), &err);
	ck_assert_int_eq(res.layers_loaded, 3);
	st_load_result_free(&res);
	ST_OK(st_image_load(store, odir, -1, &res, &err), &err);
	ck_assert_int_eq(res.layers_reused, 3);
	char id[ST_DIGEST_LEN + 1];
	tt_sha256(config, strlen(config), id);
	ck_assert_str_eq(res.ids[0], id);
	st_load_result_free(&res);
	ST_OK(st_image_save(store, refs, 1, ST_IMAGE_FORMAT_DOCKER, b, -1, &err), &err);
	struct tt_buf ab = {0}, bb = {0};
	read_all(a, &ab);
	read_all(b, &bb);
	ck_assert_uint_eq(ab.len, bb.len);
	ck_assert_msg(memcmp(ab.data, bb.data, ab.len) == 0, "a re-save differs");
	/* each layer file in the archive is the uncompressed tar: its digest is the diff id */
	char *list = tt_tar_list(ab.data, ab.len);
	ck_assert_msg(strstr(list, "f manifest.json") && strstr(list, "f repositories"), "%s", list);
	free(list);
	tt_buf_free(&ab);
	tt_buf_free(&bb);
	/* an unknown image: an error and no file */
	const char *bad[] = {"app:1", "nosuch:1"};
	char c[4200];
	snprintf(c, sizeof(c), "%s/c.tar", tmp);
	ck_assert_int_lt(st_image_save(store, bad, 2, ST_IMAGE_FORMAT_DOCKER, c, -1, &err), 0);
	ck_assert_msg(strstr(err.msg, "nosuch"), "%s", err.msg);
	ck_assert_int_eq(access(c, F_OK), -1);
	free(config);
	free_bufs(plain, 3);
	free_bufs(blobs, 3);
	tt_buf_free(&arc);
}
END_TEST

START_TEST(test_familiar_names)
{
	char out[300];
	struct st_error err = {0};
	static const char *const cases[][2] = {
		{"docker.io/library/busybox:latest", "busybox:latest"},
		{"docker.io/library/busybox", "busybox:latest"},
		{"index.docker.io/library/alpine:3", "alpine:3"},
		{"docker.io/me/app:v1", "me/app:v1"},
		{"localhost/app:v1", "localhost/app:v1"},
		{"quay.io/x/y", "quay.io/x/y:latest"},
		{"localhost:5000/x:1", "localhost:5000/x:1"},
	};
	for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
		ST_OK(st_image_ref_familiar(cases[i][0], out, sizeof(out), &err), &err);
		ck_assert_str_eq(out, cases[i][1]);
	}
	ck_assert_int_lt(st_image_ref_familiar("UPPER/case", out, sizeof(out), &err), 0);
	ck_assert_int_lt(st_image_ref_familiar("x@sha256:00", out, sizeof(out), &err), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image_io");
	TCase *tc = tcase_create("image_io");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_docker_archive_with_gzip_zstd_and_plain_layers_loads);
	tcase_add_test(tc, test_compressed_archive_and_stream_load);
	tcase_add_test(tc, test_symlinked_and_hardlinked_members_are_followed);
	tcase_add_test(tc, test_links_leaving_the_archive_are_refused);
	tcase_add_test(tc, test_failed_load_releases_what_it_registered);
	tcase_add_test(tc, test_oci_multi_platform_index_picks_the_host_platform);
	tcase_add_test(tc, test_oci_ref_name_alone_names_the_image);
	tcase_add_test(tc, test_oci_descriptors_are_checked);
	tcase_add_test(tc, test_foreign_os_and_bad_configs_refused);
	tcase_add_test(tc, test_save_load_save_gives_the_same_bytes);
	tcase_add_test(tc, test_familiar_names);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
