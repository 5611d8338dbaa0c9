/* sha256 digests through OpenSSL's EVP interface. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"

int st_sha256_init(struct st_sha256 *h)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return -EIO;
	}
	h->ctx = c;
	return 0;
}

void st_sha256_update(struct st_sha256 *h, const void *data, size_t len)
{
	if (h->ctx && len)
		EVP_DigestUpdate(h->ctx, data, len);
}

void st_sha256_final(struct st_sha256 *h, char out[ST_DIGEST_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestFinal_ex(h->ctx, md, &n);
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
	strcpy(out, "sha256:");
	for (unsigned int i = 0; i < n; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

void st_sha256_abort(struct st_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int st_sha256_buf(const void *data, size_t len, char out[ST_DIGEST_LEN + 1])
{
	struct st_sha256 h;
	int r = st_sha256_init(&h);
	if (r < 0)
		return r;
	st_sha256_update(&h, data, len);
	st_sha256_final(&h, out);
	return 0;
}

bool st_valid_digest(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != ST_DIGEST_LEN)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int st_chain_id(const char *parent, const char *diff_id, char out[ST_DIGEST_LEN + 1])
{
	if (!parent || !*parent) {
		snprintf(out, ST_DIGEST_LEN + 1, "%s", diff_id);
		return 0;
	}
	char buf[2 * ST_DIGEST_LEN + 2];
	int n = snprintf(buf, sizeof(buf), "%s %s", parent, diff_id);
	return st_sha256_buf(buf, (size_t)n, out);
}

static int hash_write(void *ctx, const void *buf, size_t len)
{
	struct st_hash_writer *hw = ctx;
	st_sha256_update(&hw->h, buf, len);
	hw->bytes += (int64_t)len;
	return hw->next ? hw->next->write(hw->next->ctx, buf, len) : 0;
}

void st_hash_writer_init(struct st_hash_writer *hw, struct st_writer *next, struct st_writer *w)
{
	hw->next = next;
	hw->bytes = 0;
	w->write = hash_write;
	w->ctx = hw;
}
