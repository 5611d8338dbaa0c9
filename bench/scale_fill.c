/* bench/scale.sh's in-process half, through libstrata's public API:
 *   scale_fill ROOT DRIVER fill LAYERS IMAGES   grow the store to LAYERS
 *       layers of which IMAGES are one-layer images (scale/img-K:latest);
 *       the other layers are held by "user", as `strata layer import`
 *   scale_fill ROOT DRIVER time RUNS IMAGE LAYER  median microseconds of
 *       st_store_open+close, st_image_get(IMAGE), st_layer_get(LAYER)
 * Each layer is a one-file tar made with libarchive (its content is the
 * layer's number, so every chain id differs). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata.h"

struct mem {
	const char *p;
	size_t len, off;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem *m = ctx;
	size_t n = m->len - m->off < len ? m->len - m->off : len;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

/* A tar of one file "f" holding text; in buf, its length in *len. */
static int make_tar(const char *text, char *buf, size_t cap, size_t *len)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_memory(a, buf, cap, len) != ARCHIVE_OK)
		return -1;
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "f");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)strlen(text));
	archive_entry_set_mtime(e, 1700000000, 0);
	int r = archive_write_header(a, e) == ARCHIVE_OK &&
			archive_write_data(a, text, strlen(text)) == (la_ssize_t)strlen(text)
		? 0
		: -1;
	archive_entry_free(e);
	if (archive_write_close(a) != ARCHIVE_OK)
		r = -1;
	archive_write_free(a);
	return r;
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int fill(struct st_store *s, long layers, long images)
{
	struct st_error err = {0};
	struct st_layer *v;
	size_t have;
	if (st_layer_list(s, &v, &have, &err) < 0) {
		fprintf(stderr, "scale_fill: %s\n", err.msg);
		return 1;
	}
	st_layer_list_free(v, have);
	struct st_image *iv;
	size_t have_img;
	if (st_image_list(s, &iv, &have_img, &err) < 0) {
		fprintf(stderr, "scale_fill: %s\n", err.msg);
		return 1;
	}
	st_image_list_free(iv, have_img);
	char buf[8192];
	for (long k = (long)have; k < layers; k++) {
		char text[64], name[64];
		size_t len;
		snprintf(text, sizeof(text), "layer %ld\n", k);
		if (make_tar(text, buf, sizeof(buf), &len) < 0) {
			fprintf(stderr, "scale_fill: tar of layer %ld\n", k);
			return 1;
		}
		struct mem m = {buf, len, 0};
		struct st_reader in = {mem_read, &m};
		int r;
		/* images spread evenly over the layers */
		if ((long)have_img < images && k * images / layers >= (long)have_img) {
			char id[ST_DIGEST_LEN + 1];
			snprintf(name, sizeof(name), "scale/img-%zu:latest", have_img);
			r = st_image_import(s, &in, name, "scale", id, &err);
			have_img++;
		} else {
			struct st_layer l;
			r = st_layer_register(s, NULL, &in, "user", &l, &err);
			if (r >= 0)
				st_layer_free(&l);
		}
		if (r < 0) {
			fprintf(stderr, "scale_fill: layer %ld: %s\n", k, err.msg);
			return 1;
		}
	}
	return 0;
}

static int timing(const struct st_store_config *cfg, int runs, const char *image, const char *layer)
{
	double *t_open = calloc((size_t)runs, sizeof(double)), *t_img = calloc((size_t)runs, sizeof(double)),
	       *t_layer = calloc((size_t)runs, sizeof(double));
	if (!t_open || !t_img || !t_layer)
		return 1;
	for (int i = 0; i < runs; i++) {
		struct st_error err = {0};
		struct st_store *s;
		double t0 = now_us();
		if (st_store_open(cfg, &s, &err) < 0) {
			fprintf(stderr, "scale_fill: %s\n", err.msg);
			return 1;
		}
		double t1 = now_us();
		struct st_image img;
		if (st_image_get(s, image, &img, &err) < 0) {
			fprintf(stderr, "scale_fill: %s\n", err.msg);
			return 1;
		}
		double t2 = now_us();
		st_image_free(&img);
		struct st_layer l;
		double t3 = now_us();
		if (st_layer_get(s, layer, &l, &err) < 0) {
			fprintf(stderr, "scale_fill: %s\n", err.msg);
			return 1;
		}
		double t4 = now_us();
		st_layer_free(&l);
		st_store_close(s);
		double t5 = now_us();
		t_open[i] = (t1 - t0) + (t5 - t4);
		t_img[i] = t2 - t1;
		t_layer[i] = t4 - t3;
	}
	qsort(t_open, (size_t)runs, sizeof(double), cmp_double);
	qsort(t_img, (size_t)runs, sizeof(double), cmp_double);
	qsort(t_layer, (size_t)runs, sizeof(double), cmp_double);
	printf("%.0f %.0f %.0f\n", t_open[runs / 2], t_img[runs / 2], t_layer[runs / 2]);
	free(t_open);
	free(t_img);
	free(t_layer);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: scale_fill ROOT DRIVER fill LAYERS IMAGES | time RUNS IMAGE LAYER\n");
		return 2;
	}
	struct st_store_config cfg = {.root = argv[1], .driver = argv[2]};
	if (strcmp(argv[3], "time") == 0 && argc == 7)
		return timing(&cfg, atoi(argv[4]), argv[5], argv[6]);
	if (strcmp(argv[3], "fill") != 0 || argc != 6) {
		fprintf(stderr, "scale_fill: unknown mode %s\n", argv[3]);
		return 2;
	}
	struct st_error err = {0};
	struct st_store *s;
	if (st_store_open(&cfg, &s, &err) < 0) {
		fprintf(stderr, "scale_fill: %s\n", err.msg);
		return 1;
	}
	int rc = fill(s, atol(argv[4]), atol(argv[5]));
	st_store_close(s);
	return rc;
}
