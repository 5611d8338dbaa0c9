/* Images: import, images, history, tag, rmi, inspect, build. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/base.h"
#include "image/image.h"
#include "builder/builder.h"
#include "cli.h"

/* "3 minutes ago", as docker prints it */
void cli_ago(int64_t t, char *buf, size_t len)
{
	int64_t d = (int64_t)time(NULL) - t;
	if (t <= 0) {
		snprintf(buf, len, "N/A");
		return;
	}
	if (d < 1)
		snprintf(buf, len, "Less than a second ago");
	else if (d < 60)
		snprintf(buf, len, "%" PRId64 " second%s ago", d, d == 1 ? "" : "s");
	else if (d < 120)
		snprintf(buf, len, "About a minute ago");
	else if (d < 3600)
		snprintf(buf, len, "%" PRId64 " minutes ago", d / 60);
	else if (d < 7200)
		snprintf(buf, len, "About an hour ago");
	else if (d < 2 * 86400)
		snprintf(buf, len, "%" PRId64 " hours ago", d / 3600);
	else if (d < 14 * 86400)
		snprintf(buf, len, "%" PRId64 " days ago", d / 86400);
	else if (d < 60 * 86400)
		snprintf(buf, len, "%" PRId64 " weeks ago", d / (7 * 86400));
	else if (d < 2 * 365 * 86400)
		snprintf(buf, len, "%" PRId64 " months ago", d / (30 * 86400));
	else
		snprintf(buf, len, "%" PRId64 " years ago", d / (365 * 86400));
}

static void short12(const char *id, char out[13])
{
	snprintf(out, 13, "%s", strncmp(id, "sha256:", 7) == 0 ? id + 7 : id);
}

/* ---------------------------------------------------------------- import */

int cmd_import(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"message", required_argument, 0, 'm'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *msg = NULL;
	int o;
	while ((o = cli_opt(c, argc, argv, "m:", opts)))
		msg = optarg;
	struct st_store *s;
	int rc = cli_args(c, argc, 1, 2, "FILE|- [NAME[:TAG]]", &s);
	if (rc >= 0)
		return rc;
	int fd;
	if (cli_open_input(argv[optind], &fd) != 0)
		return EXIT_ERR;
	struct st_reader r;
	st_reader_fd(&r, &fd);
	char comment[PATH_MAX + 32], id[ST_DIGEST_LEN + 1];
	snprintf(comment, sizeof(comment), "Imported from %s", msg ? msg : argv[optind]);
	struct st_error err = {0};
	rc = st_image_import(s, &r, argc - optind == 2 ? argv[optind + 1] : NULL, comment, id, &err);
	close(fd);
	if (rc < 0)
		return cli_fail(&err);
	printf("%s\n", id);
	return EXIT_OK;
}

/* ---------------------------------------------------------------- images */

/* The rows of one image, as docker's image formatter makes them: a row per
 * tag, grouped by repository; with digests, a row per tag and digest of its
 * repository; a repository with digests only has a row with tag <none> (a
 * row per digest with digests); an image without either one <none> row. */
struct image_rows {
	struct cli_table t;
	json_object *a;
	struct cli_fmt *fmt;
	bool digests, notrunc, quiet;
};

/* a row as docker's image formatter shows it (images --format) */
static json_object *image_dot(const struct st_image *v, const char *repo, const char *tag, const char *digest,
			      const char *sid, const char *ago)
{
	char created[64], size[32], vsize[32];
	cli_go_time(v->created, created, sizeof(created));
	st_format_size(v->size, size, sizeof(size));
	cli_size4(v->size, vsize, sizeof(vsize));
	json_object *e = json_object_new_object();
	cli_dot_str(e, "Containers", "N/A");
	cli_dot_str(e, "CreatedAt", created);
	cli_dot_str(e, "CreatedSince", ago);
	cli_dot_str(e, "Digest", digest);
	cli_dot_str(e, "ID", sid);
	cli_dot_str(e, "Repository", repo);
	cli_dot_str(e, "SharedSize", "N/A");
	cli_dot_str(e, "Size", size);
	cli_dot_str(e, "Tag", tag);
	cli_dot_str(e, "UniqueSize", "N/A");
	cli_dot_str(e, "VirtualSize", vsize);
	return e;
}

static void image_row(struct image_rows *ir, const struct st_image *img, const char *repo, size_t rlen,
		      const char *tag, const char *digest)
{
	char name[300], sid[ST_DIGEST_LEN + 1], ago[64], size[32];
	snprintf(name, sizeof(name), "%.*s", (int)rlen, repo);
	if (ir->notrunc)
		snprintf(sid, sizeof(sid), "%s", img->id);
	else
		short12(img->id, sid);
	if (ir->quiet) { /* docker's {{.ID}}: a line per row */
		printf("%s\n", sid);
		return;
	}
	cli_ago(img->created, ago, sizeof(ago));
	st_format_size(img->size, size, sizeof(size));
	if (ir->fmt->tmpl && !ir->fmt->failed)
		cli_fmt_row(ir->fmt, image_dot(img, name, tag, digest, sid, ago));
	if (ir->digests)
		cli_table_row(&ir->t, name, tag, digest, sid, ago, size);
	else
		cli_table_row(&ir->t, name, tag, sid, ago, size);
	json_object *e = json_object_new_object();
	json_object_object_add(e, "Repository", json_object_new_string(name));
	json_object_object_add(e, "Tag", json_object_new_string(tag));
	json_object_object_add(e, "Digest", json_object_new_string(digest));
	json_object_object_add(e, "ID", json_object_new_string(img->id));
	json_object_object_add(e, "Created", json_object_new_int64(img->created));
	json_object_object_add(e, "Size", json_object_new_int64(img->size));
	json_object_array_add(ir->a, e);
}

/* Is ref ("name:tag" or "name@digest") in repository repo (rlen bytes)? */
static bool in_repo(const char *ref, const char *repo, size_t rlen)
{
	return strncmp(ref, repo, rlen) == 0 && (ref[rlen] == ':' || ref[rlen] == '@') && !strchr(ref + rlen + 1, '/');
}

static void image_rows_add(struct image_rows *ir, const struct st_image *img)
{
	if (!img->ntags && !img->ndigests) {
		image_row(ir, img, "<none>", 6, "<none>", "<none>");
		return;
	}
	/* repositories with tags, in the order of their first tag */
	for (size_t i = 0; i < img->ntags; i++) {
		const char *colon = strrchr(img->tags[i], ':');
		size_t rlen = (size_t)(colon - img->tags[i]);
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = in_repo(img->tags[k], img->tags[i], rlen);
		if (seen)
			continue;
		for (size_t k = i; k < img->ntags; k++) {
			if (!in_repo(img->tags[k], img->tags[i], rlen))
				continue;
			size_t nd = 0;
			for (size_t d = 0; ir->digests && d < img->ndigests; d++)
				if (in_repo(img->digests[d], img->tags[i], rlen)) {
					image_row(ir, img, img->tags[i], rlen, img->tags[k] + rlen + 1, img->digests[d] + rlen + 1);
					nd++;
				}
			if (!nd)
				image_row(ir, img, img->tags[i], rlen, img->tags[k] + rlen + 1, "<none>");
		}
	}
	/* repositories with digests only */
	for (size_t d = 0; d < img->ndigests; d++) {
		size_t rlen = strcspn(img->digests[d], "@");
		bool tagged = false, seen = false;
		for (size_t k = 0; k < img->ntags && !tagged; k++)
			tagged = in_repo(img->tags[k], img->digests[d], rlen);
		for (size_t k = 0; k < d && !seen; k++)
			seen = in_repo(img->digests[k], img->digests[d], rlen);
		if (tagged || (seen && !ir->digests))
			continue;
		image_row(ir, img, img->digests[d], rlen, "<none>", ir->digests ? img->digests[d] + rlen + 1 : "<none>");
	}
}

int cmd_images(struct cli *c, int argc, char **argv)
{
	enum { OPT_DIGESTS = 1000, OPT_NO_TRUNC };
	static const struct option opts[] = {{"quiet", no_argument, 0, 'q'}, {"format", required_argument, 0, 'F'},
					     {"filter", required_argument, 0, 'f'}, {"digests", no_argument, 0, OPT_DIGESTS},
					     {"no-trunc", no_argument, 0, OPT_NO_TRUNC}, {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct cli_fmt fmt = {0};
	struct image_rows ir = {.fmt = &fmt};
	struct st_kvlist filters = {0};
	struct st_error err = {0};
	int o, rc = EXIT_USAGE;
	while ((o = cli_opt(c, argc, argv, "qf:", opts))) {
		if (o == 'q')
			ir.quiet = true;
		if ((rc = cli_list_opt(c, o, &fmt, &filters)) >= 0)
			return rc;
		if (o == OPT_DIGESTS)
			ir.digests = true;
		if (o == OPT_NO_TRUNC)
			ir.notrunc = true;
	}
	struct st_store *s;
	if ((rc = cli_args(c, argc, 0, 1, "[REPOSITORY[:TAG]]", &s)) >= 0)
		goto out;
	/* docker images REPOSITORY[:TAG] is the reference filter */
	if (optind < argc && st_kvlist_add(&filters, "reference", "%s", argv[optind]) < 0) {
		rc = cli_failf("out of memory");
		goto out;
	}
	struct st_image *v;
	size_t n;
	if (st_image_list_filtered(s, &filters, &v, &n, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	/* newest first */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && v[k].created > v[k - 1].created; k--) {
			struct st_image t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	if (ir.digests) {
		cli_table_init(&ir.t, 6);
		cli_table_row(&ir.t, "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE");
	} else {
		cli_table_init(&ir.t, 5);
		cli_table_row(&ir.t, "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
	}
	ir.a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		image_rows_add(&ir, &v[i]);
	rc = cli_list_end(&ir.t, ir.a, &fmt, ir.quiet, cli_titles_images);
	st_image_list_free(v, n);
out:
	cli_fmt_discard(&fmt);
	st_kvlist_free(&filters);
	return rc;
}

/* --------------------------------------------------------------- history */

int cmd_history(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, 0, 'f'}, {"no-trunc", no_argument, 0, 'n'},
					     {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	bool json = false, notrunc = false;
	int o;
	while ((o = cli_opt(c, argc, argv, "", opts))) {
		if (o == 'n')
			notrunc = true;
		if (o == 'f' && cli_format(c, optarg, &json) != 0)
			return EXIT_USAGE;
	}
	struct st_store *s;
	int rc = cli_args(c, argc, 1, 1, "an image", &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	struct st_image img;
	if (st_image_get(s, argv[optind], &img, &err) < 0)
		return cli_fail(&err);
	json_object *cfg = json_tokener_parse(img.config), *hist, *rootfs, *ids;
	json_object *a = json_object_new_array();
	json_object_object_get_ex(cfg, "history", &hist);
	json_object_object_get_ex(cfg, "rootfs", &rootfs);
	json_object_object_get_ex(rootfs, "diff_ids", &ids);
	/* walk history forwards pairing non-empty entries with layers */
	size_t nh = hist ? json_object_array_length(hist) : 0, li = 0;
	char chain[ST_DIGEST_LEN + 1] = "";
	for (size_t i = 0; i < nh; i++) {
		json_object *h = json_object_array_get_idx(hist, i), *v;
		bool empty = json_object_object_get_ex(h, "empty_layer", &v) && json_object_get_boolean(v);
		int64_t size = 0;
		char layer[ST_DIGEST_LEN + 1] = "";
		if (!empty && ids && li < json_object_array_length(ids)) {
			char next[ST_DIGEST_LEN + 1];
			const char *d = json_object_get_string(json_object_array_get_idx(ids, li++));
			struct st_error e2;
			if (!chain[0])
				snprintf(next, sizeof(next), "%s", d);
			else
				st_chain_id(chain, d, next);
			memcpy(chain, next, sizeof(chain));
			snprintf(layer, sizeof(layer), "%s", chain);
			struct st_layer l;
			if (st_layer_get(s, chain, &l, &e2) == 0) {
				size = l.size;
				st_layer_free(&l);
			}
		}
		json_object *e = json_object_new_object();
		json_object_object_add(e, "Created", json_object_get(json_object_object_get_ex(h, "created", &v) ? v : NULL));
		json_object_object_add(e, "CreatedBy", json_object_get(json_object_object_get_ex(h, "created_by", &v) ? v : NULL));
		json_object_object_add(e, "Comment", json_object_get(json_object_object_get_ex(h, "comment", &v) ? v : NULL));
		json_object_object_add(e, "Size", json_object_new_int64(size));
		json_object_object_add(e, "EmptyLayer", json_object_new_boolean(empty));
		json_object_object_add(e, "Layer", json_object_new_string(layer));
		json_object_array_add(a, e);
	}
	if (json) {
		/* newest first, as docker */
		json_object *rev = json_object_new_array();
		for (size_t i = json_object_array_length(a); i > 0; i--)
			json_object_array_add(rev, json_object_get(json_object_array_get_idx(a, i - 1)));
		cli_print_json(rev);
	} else {
		struct cli_table t;
		cli_table_init(&t, 5);
		cli_table_row(&t, "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT");
		for (size_t i = json_object_array_length(a); i > 0; i--) {
			json_object *e = json_object_array_get_idx(a, i - 1), *v;
			char sid[13], ago[64], size[32], by[2048];
			short12(img.id, sid);
			json_object_object_get_ex(e, "Created", &v);
			cli_ago(v ? st_parse_time(json_object_get_string(v)) : 0, ago, sizeof(ago));
			json_object_object_get_ex(e, "CreatedBy", &v);
			snprintf(by, sizeof(by), "%s", v ? json_object_get_string(v) : "");
			if (!notrunc && strlen(by) > 45)
				strcpy(by + 44, "…");
			json_object_object_get_ex(e, "Size", &v);
			st_format_size(json_object_get_int64(v), size, sizeof(size));
			json_object_object_get_ex(e, "Comment", &v);
			cli_table_row(&t, i == json_object_array_length(a) ? sid : "<missing>", ago, by, size,
				      v ? json_object_get_string(v) : "");
		}
		cli_table_print(&t, stdout);
	}
	json_object_put(a);
	json_object_put(cfg);
	st_image_free(&img);
	return EXIT_OK;
}

/* ---------------------------------------------------------- tag and rmi */

int cmd_tag(struct cli *c, int argc, char **argv)
{
	struct st_store *s;
	int rc = cli_args_only(c, argc, argv, 2, 2, "SOURCE TARGET", &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	return st_image_tag(s, argv[optind], argv[optind + 1], &err) < 0 ? cli_fail(&err) : EXIT_OK;
}

int cmd_rmi(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	bool force = false;
	int o;
	while ((o = cli_opt(c, argc, argv, "f", opts)))
		force = true;
	struct st_store *s;
	int rc = cli_args(c, argc, 1, -1, NULL, &s);
	if (rc >= 0)
		return rc;
	rc = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		struct st_error err = {0};
		char **done = NULL;
		size_t nd = 0;
		if (st_image_remove(s, argv[i], force, &done, &nd, &err) < 0)
			rc = cli_fail(&err);
		for (size_t k = 0; k < nd; k++)
			printf("%s\n", done[k]);
		for (size_t k = 0; k < nd; k++)
			free(done[k]);
		free(done);
	}
	return rc;
}

/* ---------------------------------------------------------------- inspect */

json_object *cli_image_json(struct st_image *img)
{
	json_object *cfg = json_tokener_parse(img->config), *v;
	json_object *e = json_object_new_object();
	json_object_object_add(e, "Id", json_object_new_string(img->id));
	json_object *tags = json_object_new_array();
	for (size_t i = 0; i < img->ntags; i++)
		json_object_array_add(tags, json_object_new_string(img->tags[i]));
	json_object_object_add(e, "RepoTags", tags);
	json_object *digests = json_object_new_array();
	for (size_t i = 0; i < img->ndigests; i++)
		json_object_array_add(digests, json_object_new_string(img->digests[i]));
	json_object_object_add(e, "RepoDigests", digests);
	static const char *const keys[][2] = {{"created", "Created"}, {"author", "Author"}, {"architecture", "Architecture"},
					      {"os", "Os"}, {"config", "Config"}, {"rootfs", "RootFS"}, {"history", "History"}};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (cfg && json_object_object_get_ex(cfg, keys[i][0], &v))
			json_object_object_add(e, keys[i][1], json_object_get(v));
	json_object_object_add(e, "Size", json_object_new_int64(img->size));
	json_object_object_add(e, "TopLayer", json_object_new_string(img->top));
	json_object_put(cfg);
	return e;
}

/* ----------------------------------------------------------------- build */

int cmd_build(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"tag", required_argument, 0, 't'}, {"file", required_argument, 0, 'f'},
		{"no-cache", no_argument, 0, 'n'}, {"build-arg", required_argument, 0, 'a'},
		{"target", required_argument, 0, 'T'}, {"network", required_argument, 0, 'N'},
		{"runtime", required_argument, 0, 'R'}, {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct st_build_opts bo = {.out = stdout};
	struct st_kvlist args = {0};
	char **tags = NULL;
	size_t ntags = 0;
	int o, rc = EXIT_USAGE;
	while ((o = cli_opt(c, argc, argv, "t:f:q", opts))) {
		switch (o) {
		case 't': {
			char **nt = realloc(tags, (ntags + 1) * sizeof(char *));
			if (!nt)
				goto out;
			tags = nt;
			tags[ntags++] = optarg;
			break;
		}
		case 'f':
			bo.dockerfile = optarg;
			break;
		case 'n':
			bo.no_cache = true;
			break;
		case 'a':
			if (!strchr(optarg, '=')) {
				/* --build-arg NAME takes the value from the environment */
				const char *v = getenv(optarg);
				if (v)
					st_kvlist_add(&args, optarg, "%s", v);
			} else {
				/* build args keep their case (st_kvlist_parse folds it) */
				const char *eq = strchr(optarg, '=');
				char key[256];
				snprintf(key, sizeof(key), "%.*s", (int)(eq - optarg), optarg);
				if (!key[0]) {
					cli_usage(c, "invalid build argument \"%s\": expected NAME=VALUE", optarg);
					goto out;
				}
				st_kvlist_add(&args, key, "%s", eq + 1);
			}
			break;
		case 'T':
			bo.target = optarg;
			break;
		case 'N':
			if (strcmp(optarg, "host") && strcmp(optarg, "none") && strcmp(optarg, "default")) {
				cli_usage(c, "unknown network \"%s\" (host or none)", optarg);
				goto out;
			}
			bo.network_none = strcmp(optarg, "none") == 0;
			break;
		case 'R':
			bo.runtime = optarg;
			break;
		case 'q':
			bo.out = NULL;
			break;
		}
	}
	struct st_store *s;
	if ((rc = cli_args(c, argc, 1, 1, "the build context directory", &s)) >= 0)
		goto out;
	bo.context = argv[optind];
	bo.tags = tags;
	bo.ntags = ntags;
	bo.build_args = &args;
	struct st_error err = {0};
	char id[ST_DIGEST_LEN + 1];
	if (st_build(s, &bo, id, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (!bo.out)
		printf("%s\n", id);
	rc = EXIT_OK;
out:
	free(tags);
	st_kvlist_free(&args);
	return rc;
}
