/* sha256 through OpenSSL libcrypto, as "sha256:<hex>" digests. */
#ifndef ST_DIGEST_H
#define ST_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "strata.h"

struct st_sha256 {
	void *ctx; /* EVP_MD_CTX */
};

int st_sha256_init(struct st_sha256 *h);
void st_sha256_update(struct st_sha256 *h, const void *data, size_t len);
/* Writes "sha256:<64 hex>" and frees the context. */
void st_sha256_final(struct st_sha256 *h, char out[ST_DIGEST_LEN + 1]);
void st_sha256_abort(struct st_sha256 *h);
int st_sha256_buf(const void *data, size_t len, char out[ST_DIGEST_LEN + 1]);

/* "sha256:" followed by 64 lowercase hex digits. */
bool st_valid_digest(const char *d);
/* ChainID(parent, diff) = sha256(parent + " " + diff); parent "" -> diff. */
int st_chain_id(const char *parent, const char *diff_id, char out[ST_DIGEST_LEN + 1]);

/* A writer that hashes what passes through and forwards it (next may be NULL). */
struct st_hash_writer {
	struct st_sha256 h;
	struct st_writer *next;
	int64_t bytes;
};
void st_hash_writer_init(struct st_hash_writer *hw, struct st_writer *next, struct st_writer *w);

#endif
