/* libFuzzer harness for image archives (st_image_load: docker-archive
 * manifest.json and configs, OCI image layouts: oci-layout, index.json,
 * manifests, descriptors, blobs, nested indexes): the input is the archive.
 * Every image a load reports must be in the store with all its layers,
 * each reading back byte for byte; removing them must empty the store. A
 * load that fails must say why and leave nothing of the archive. Corpus:
 * tests/fuzz/corpus/image_load/ (tests/fuzz/make-image-corpus.py).
 *   make fuzz   (scripts/fuzz.sh) */
#include <sys/mman.h>

#include "base/base.h"
#include "image/image.h"
#include "fuzz_common.h"

static struct fz_store fil_store;

/* Read back every layer of image id: chain ids from rootfs.diff_ids. */
static void fil_read_back(struct st_store *s, const char *id)
{
	struct st_image img;
	struct st_error err = {0};
	if (st_image_get(s, id, &img, &err) < 0) {
		fprintf(stderr, "fuzz: loaded image %s is not in the store: %s\n", id, err.msg);
		abort();
	}
	json_object *cfg = NULL, *rootfs, *ids;
	if (st_json_parse(img.config, "config", &cfg, &err) < 0 || !json_object_object_get_ex(cfg, "rootfs", &rootfs) ||
	    !json_object_object_get_ex(rootfs, "diff_ids", &ids))
		abort();
	char chain[ST_DIGEST_LEN + 1] = "";
	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		char next[ST_DIGEST_LEN + 1];
		st_chain_id(chain, json_object_get_string(json_object_array_get_idx(ids, i)), next);
		memcpy(chain, next, sizeof(chain));
		struct fz_count c;
		if (st_layer_tar(s, chain, fz_counter(&c), &err) < 0) {
			fprintf(stderr, "fuzz: layer %s of loaded image %s does not read back: %s\n", chain, id, err.msg);
			abort();
		}
	}
	json_object_put(cfg);
	st_image_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_store *s = fz_store(&fil_store, "image-load");
	int fd = memfd_create("fuzz-archive", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	for (size_t off = 0; off < size;) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		abort();
	struct st_load_result res;
	struct st_error err = {0};
	if (st_image_load(s, NULL, fd, &res, &err) == 0) {
		for (size_t i = 0; i < res.nids; i++)
			fil_read_back(s, res.ids[i]);
		for (size_t i = 0; i < res.nids; i++) {
			char **done = NULL;
			size_t nd = 0;
			int r = st_image_remove(s, res.ids[i], true, &done, &nd, &err);
			if (r < 0 && r != -ENOENT) { /* the same image twice goes once */
				fprintf(stderr, "fuzz: remove loaded image %s: %s\n", res.ids[i], err.msg);
				abort();
			}
			for (size_t k = 0; k < nd; k++)
				free(done[k]);
			free(done);
		}
		st_load_result_free(&res);
	} else {
		fz_failed_clearly(&err);
	}
	close(fd);
	fz_expect_store(&fil_store, 0);
	return 0;
}
