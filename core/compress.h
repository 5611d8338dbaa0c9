/* A writer that compresses (gzip or zstd, through libarchive's filters)
 * into another writer. Deterministic: no time or name in the gzip header,
 * so a layer compressed twice gives the same blob digest. */
#ifndef ST_COMPRESS_H
#define ST_COMPRESS_H

#include "image_manifest.h"
#include "strata.h"

struct st_compressor;

int st_compressor_new(enum st_compression c, struct st_writer *out, struct st_compressor **z, struct st_error *err);
/* The writer to give the uncompressed bytes to. */
struct st_writer *st_compressor_writer(struct st_compressor *z);
/* Flush the end of the stream into out. */
int st_compressor_finish(struct st_compressor *z, struct st_error *err);
void st_compressor_free(struct st_compressor *z);

#endif
