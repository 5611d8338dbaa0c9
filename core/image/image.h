/* core/image: images on the store: the image store (image.c: configs,
 * tags, rmi, import), manifests and descriptors (image_manifest.c), and
 * docker-archive / OCI layout interchange (image_load.c, image_save.c,
 * image_src.c). */
#ifndef ST_IMAGE_H
#define ST_IMAGE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "strata.h"
#include "base/base.h"
#include "archive/archive.h"
#include "store/store.h"

/* --------------------------------------------- the image store (image.c) */

/* RFC 3339 ("2026-11-28T09:40:00.123456789Z") <-> unix seconds. */
int64_t st_parse_time(const char *s);
void st_format_time(char *buf, size_t len); /* now, with nanoseconds */

/* Store the image config cfg as an image; tag it norm (a normalized
 * reference) when not NULL. */
struct json_object;
int st_image_create_json(struct st_store *s, struct json_object *cfg, const char *norm, char id[ST_DIGEST_LEN + 1],
			 struct st_error *err);
/* The end of making an image from a new layer held as holder under lease:
 * that hold goes (the image holds the layer now, or there is no image), the
 * layer is freed, and the lease ends; a hold that cannot go leaves the lease
 * to the next open's sweep, which drops it. */
struct st_lease;
void st_image_lease_done(struct st_store *s, struct st_layer *layer, const char *holder, struct st_lease *lease);

/* Holders "image:ID" (an image holds its top layer); registered by
 * st_store_open. */
extern const struct st_holder_kind st_image_holders;

/* ------------------------------------------- filters (image_filter.c) */

/* st_image_list through docker's image filters (a kvlist of st_filter_add
 * pairs): dangling=true|false, label=KEY[=VALUE], before=IMAGE,
 * since=IMAGE, reference=PATTERN (a glob on "name:tag" / "name@digest" or
 * the name; only matching tags and digests stay in the images). An unknown
 * key is -EINVAL "invalid filter 'KEY'"; f may be NULL (no filter). */
int st_image_list_filtered(struct st_store *s, const struct st_kvlist *f, struct st_image **out, size_t *n,
			   struct st_error *err);
/* Does the glob match reference ref ("name:tag", "name@sha256:...") or its
 * name, as docker's reference filter asks? */
bool st_image_ref_matches(const char *pattern, const char *ref);

/* ---------------------------- load and save (image_load.c, image_save.c) */

/* Image interchange: `docker save` archives (Docker's image format v1.2)
 * and OCI image layouts, read (image_load.c) and written (image_save.c).
 * image_src.c gives the reader one view of an archive, whether it is a
 * directory, a seekable tar, or a stream (spooled to a temporary file). */
/* Media types of the OCI image spec and of Docker's registry schema 2. */
#define ST_MT_OCI_LAYOUT_VERSION "1.0.0"
#define ST_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define ST_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define ST_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define ST_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define ST_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define ST_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define ST_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define ST_ANNOT_REF_NAME "org.opencontainers.image.ref.name"
#define ST_ANNOT_CONTAINERD_NAME "io.containerd.image.name"

/* ------------------------------------------------------------- loading */

struct st_load_result {
	char **ids;  /* image ids, in the order the archive lists them */
	size_t nids;
	char **tags; /* "name:tag" set by the load */
	size_t ntags;
	char **untagged; /* ids of the images that came without a name */
	size_t nuntagged;
	int layers_loaded;  /* layers unpacked */
	int layers_reused;  /* layers already in the store (not read) */
};
void st_load_result_free(struct st_load_result *res);

/* Load every image of a docker-archive or an OCI image layout. path names a
 * directory or a file; with path NULL, fd is read instead (a pipe is spooled
 * to a temporary file in the store first). The archive may itself be gzip,
 * zstd, xz or bzip2 compressed; so may its layers. Every config and blob is
 * checked against its digest and every layer's uncompressed content against
 * the config's rootfs.diff_ids; layers already in the store (same chain id)
 * are not read. On any failure nothing of the archive stays in the store. */
int st_image_load(struct st_store *s, const char *path, int fd, struct st_load_result *res,
		  struct st_error *err);

/* ------------------------------------------------------------- saving */

enum st_image_format {
	ST_IMAGE_FORMAT_DOCKER, /* docker save's archive: manifest.json, repositories, <id>.json */
	ST_IMAGE_FORMAT_OCI,    /* OCI image layout: oci-layout, index.json, blobs/sha256/ */
};

/* Save images. refs are "name:tag" (that tag), "name" (every tag of the
 * repository, as docker save does; name:latest when it has none) or ids
 * (no tag). With path naming an existing directory (or ending in "/") the
 * layout is written there as files (it must be empty); otherwise as a tar
 * to path (written to a temporary name, renamed when complete) or, with
 * path NULL, to fd. Layers are written uncompressed, byte for byte as they
 * were registered: their digest is their diff id. */
int st_image_save(struct st_store *s, const char *const *refs, size_t nrefs, enum st_image_format fmt,
		  const char *path, int fd, struct st_error *err);

/* "docker.io/library/busybox:latest" -> "busybox:latest", "docker.io/x/y:t"
 * -> "x/y:t" (Docker's familiar names, which strata uses), then normalised;
 * -EINVAL when it is no valid reference. */
int st_image_ref_familiar(const char *ref, char *out, size_t len, struct st_error *err);

/* ------------------------------------------ archive input (image_src.c) */

struct st_img_src;

/* Open a directory or an archive file (path), or the stream fd. tmpdir_fd:
 * where a stream or a compressed archive is spooled (unnamed O_TMPFILE). */
int st_img_src_open(const char *path, int fd, int tmpdir_fd, struct st_img_src **out,
		    struct st_error *err);
void st_img_src_free(struct st_img_src *src);
/* What it is, for messages: the path, or "standard input". */
const char *st_img_src_name(const struct st_img_src *src);
/* Is there a regular file (after following in-archive symlinks) at name? */
bool st_img_src_has(struct st_img_src *src, const char *name);
/* A whole small file (at most max bytes), NUL-terminated. */
int st_img_src_read(struct st_img_src *src, const char *name, size_t max, char **buf, size_t *len,
		    struct st_error *err);
/* Stream a file: r reads it until 0. One stream at a time; size receives its
 * length. st_img_src_close ends it. */
int st_img_src_stream(struct st_img_src *src, const char *name, struct st_reader *r, int64_t *size,
		      struct st_error *err);
void st_img_src_close(struct st_img_src *src);

/* ------------------------------------------ manifests (image_manifest.c) */

/* Manifests, indexes and descriptors of the OCI image spec and Docker's
 * registry schema 2, as load, save, pull and push read and write them:
 * descriptors, media types, platforms and the choice of an index entry,
 * the diff ids of a config. (Written with image_load.c and image_save.c in
 * mind, whose static versions of these can move here.) */
/* Layer media types (compressed and not), both families. */
#define ST_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define ST_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define ST_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define ST_MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define ST_MT_DOCKER_FOREIGN_GZIP "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

struct st_desc {
	char media_type[128];
	char digest[ST_DIGEST_LEN + 1];
	int64_t size;
};

/* A descriptor object: sha256 digest, size >= 0; what names the document
 * for messages. */
int st_desc_parse(json_object *o, struct st_desc *d, const char *what, struct st_error *err);
/* {"mediaType", "digest", "size"}: a new object. */
json_object *st_desc_json(const char *media_type, const char *digest, int64_t size);

bool st_mt_is_manifest(const char *mt);
bool st_mt_is_index(const char *mt);
/* A layer media type strata can unpack. */
bool st_mt_is_layer(const char *mt);

/* The compression a layer media type announces. */
enum st_compression st_mt_layer_compression(const char *mt);
/* The layer media type for a compression, in the OCI or Docker family
 * (NULL where the family has none: zstd in Docker's). */
const char *st_mt_layer(bool oci, enum st_compression c);

/* os/architecture[/variant] */
struct st_platform {
	char os[32];
	char arch[32];
	char variant[32];
};
/* The machine's own (linux, uname's machine in Go's names). */
void st_platform_host(struct st_platform *p);
/* "linux/amd64", "linux/arm64/v8", "linux/arm/v7"; -EINVAL otherwise. */
int st_platform_parse(const char *s, struct st_platform *p, struct st_error *err);
void st_platform_format(const struct st_platform *p, char *buf, size_t len);
/* The entry of an index's "manifests" array for the platform: os and
 * architecture must match, the variant too where the platform names one
 * (arm64's default v8 matches none). Entries without a platform only when
 * they are the only image. NULL when nothing fits. */
json_object *st_index_pick(json_object *manifests, const struct st_platform *p);

/* The config's rootfs.diff_ids, checked (sha256 digests); the config must be
 * text and JSON. os/arch receive the config's (may be NULL). */
int st_config_diff_ids(const char *config, size_t len, char ***ids, size_t *n, struct st_platform *plat,
		       struct st_error *err);

#endif
