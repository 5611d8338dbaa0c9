/* libFuzzer harness for image configs (st_image_create, the image store's
 * parser of rootfs.diff_ids and the rest of an OCI config): the input is a
 * config, with "@DIFF@" standing for the diff id of a layer the store
 * holds (so seeds need not know it). A config that is stored must read back
 * exactly (its id is the sha256 of its bytes), name an existing top layer,
 * hold it and, once removed, leave the store as it was; one that is refused
 * must say why and leave nothing. Corpus: tests/fuzz/corpus/image_config/.
 *   make fuzz   (scripts/fuzz.sh) */
#include <archive.h>
#include <archive_entry.h>

#include "base/base.h"
#include "fuzz_common.h"

static struct fz_store fic_store;
static char fic_diff[ST_DIGEST_LEN + 1], fic_chain[ST_DIGEST_LEN + 1];

static la_ssize_t fic_archive_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
	(void)a;
	struct { char *p; size_t n; } *b = ctx;
	char *np = realloc(b->p, b->n + len);
	if (!np)
		return -1;
	memcpy(np + b->n, buf, len);
	b->p = np;
	b->n += len;
	return (la_ssize_t)len;
}

/* The store with one layer, held by "user": etc/os-release. */
static struct st_store *fic_setup(void)
{
	if (fic_store.s)
		return fic_store.s;
	struct st_store *s = fz_store(&fic_store, "image-config");
	struct { char *p; size_t n; } b = {0};
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	static const char text[] = "ID=fuzz\n";
	if (!a || !e || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open(a, &b, NULL, fic_archive_write, NULL) != ARCHIVE_OK)
		abort();
	archive_entry_set_pathname(e, "etc/os-release");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, 1600000000, 0);
	archive_entry_set_size(e, sizeof(text) - 1);
	if (archive_write_header(a, e) != ARCHIVE_OK || archive_write_data(a, text, sizeof(text) - 1) < 0 ||
	    archive_write_close(a) != ARCHIVE_OK)
		abort();
	archive_entry_free(e);
	archive_write_free(a);
	struct fz_mem m;
	struct st_layer l;
	struct st_error err = {0};
	if (st_layer_register(s, NULL, fz_reader(&m, b.p, b.n, 0), "user", &l, &err) < 0)
		abort();
	snprintf(fic_diff, sizeof(fic_diff), "%s", l.diff_id);
	snprintf(fic_chain, sizeof(fic_chain), "%s", l.chain_id);
	st_layer_free(&l);
	free(b.p);
	return s;
}

/* The input with every "@DIFF@" replaced by the layer's diff id. */
static char *fic_config(const uint8_t *data, size_t size, size_t *len)
{
	static const char mark[] = "@DIFF@";
	size_t cap = size + 1, n = 0;
	for (size_t i = 0; i + sizeof(mark) - 1 <= size; i++)
		if (!memcmp(data + i, mark, sizeof(mark) - 1))
			cap += ST_DIGEST_LEN;
	char *out = malloc(cap);
	if (!out)
		abort();
	for (size_t i = 0; i < size;) {
		if (i + sizeof(mark) - 1 <= size && !memcmp(data + i, mark, sizeof(mark) - 1)) {
			memcpy(out + n, fic_diff, ST_DIGEST_LEN);
			n += ST_DIGEST_LEN;
			i += sizeof(mark) - 1;
		} else {
			out[n++] = (char)data[i++];
		}
	}
	out[n] = '\0';
	*len = n;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_store *s = fic_setup();
	size_t len;
	char *cfg = fic_config(data, size, &len);
	char id[ST_DIGEST_LEN + 1];
	struct st_error err = {0};
	if (st_image_create(s, cfg, len, id, &err) == 0) {
		char want[ST_DIGEST_LEN + 1];
		st_sha256_buf(cfg, len, want);
		struct st_image img;
		if (strcmp(id, want) != 0 || st_image_get(s, id, &img, &err) < 0)
			abort();
		if (img.config_len != len || memcmp(img.config, cfg, len) != 0 || (img.top[0] && strcmp(img.top, fic_chain) != 0))
			abort();
		st_image_free(&img);
		char **done = NULL;
		size_t nd = 0;
		if (st_image_remove(s, id, true, &done, &nd, &err) < 0) {
			fprintf(stderr, "fuzz: remove image %s: %s\n", id, err.msg);
			abort();
		}
		for (size_t i = 0; i < nd; i++)
			free(done[i]);
		free(done);
	} else {
		fz_failed_clearly(&err);
	}
	free(cfg);
	/* as before: the one layer, held by "user" alone */
	fz_expect_store(&fic_store, 1);
	struct st_layer l;
	if (st_layer_get(s, fic_chain, &l, &err) < 0 || l.nholders != 1 || strcmp(l.holders[0], "user") != 0)
		abort();
	st_layer_free(&l);
	return 0;
}
