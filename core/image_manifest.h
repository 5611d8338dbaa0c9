/* Manifests, indexes and descriptors of the OCI image spec and Docker's
 * registry schema 2, as load, save, pull and push read and write them:
 * descriptors, media types, platforms and the choice of an index entry,
 * the diff ids of a config. (Written with image_load.c and image_save.c in
 * mind, whose static versions of these can move here.) */
#ifndef ST_IMAGE_MANIFEST_H
#define ST_IMAGE_MANIFEST_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "image_io.h"
#include "strata.h"

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

enum st_compression { ST_COMPRESS_NONE, ST_COMPRESS_GZIP, ST_COMPRESS_ZSTD };
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
