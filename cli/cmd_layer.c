/* strata layer ...: the content-addressed layer store. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

static int layer_ls(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"quiet", no_argument, 0, 'q'}, {"format", required_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	bool quiet = false, json = false;
	int o;
	while ((o = cli_opt(c, argc, argv, "q", opts))) {
		if (o == 'q')
			quiet = true;
		if (o == 'f' && cli_format(c, optarg, &json) != 0)
			return EXIT_USAGE;
	}
	struct st_store *s;
	int rc = cli_args(c, argc, 0, 0, NULL, &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	struct st_layer *v;
	size_t n;
	if (st_layer_list(s, &v, &n, &err) < 0)
		return cli_fail(&err);
	if (json) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			json_object *l = json_object_new_object();
			json_object_object_add(l, "ChainID", json_object_new_string(v[i].chain_id));
			json_object_object_add(l, "DiffID", json_object_new_string(v[i].diff_id));
			json_object_object_add(l, "Parent", json_object_new_string(v[i].parent));
			json_object_object_add(l, "CacheID", json_object_new_string(v[i].cache_id));
			json_object_object_add(l, "Size", json_object_new_int64(v[i].size));
			json_object_object_add(l, "TarSize", json_object_new_int64(v[i].tar_size));
			json_object_object_add(l, "Created", json_object_new_int64(v[i].created));
			json_object *h = json_object_new_array();
			for (size_t k = 0; k < v[i].nholders; k++)
				json_object_array_add(h, json_object_new_string(v[i].holders[k]));
			json_object_object_add(l, "Holders", h);
			json_object_array_add(a, l);
		}
		cli_print_json(a);
	} else if (quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", v[i].chain_id);
	} else {
		struct cli_table t;
		cli_table_init(&t, 5);
		cli_table_row(&t, "CHAIN ID", "DIFF ID", "PARENT", "SIZE", "HOLDERS");
		for (size_t i = 0; i < n; i++) {
			char size[32], holders[16], parent[20];
			st_format_size(v[i].size, size, sizeof(size));
			snprintf(holders, sizeof(holders), "%zu", v[i].nholders);
			snprintf(parent, sizeof(parent), "%.19s", v[i].parent[0] ? v[i].parent : "");
			char chain[20], diff[20];
			snprintf(chain, sizeof(chain), "%.19s", v[i].chain_id);
			snprintf(diff, sizeof(diff), "%.19s", v[i].diff_id);
			cli_table_row(&t, chain, diff, parent, size, holders);
		}
		cli_table_print(&t, stdout);
	}
	st_layer_list_free(v, n);
	return EXIT_OK;
}

static int layer_import(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"parent", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *parent = NULL;
	int o;
	while ((o = cli_opt(c, argc, argv, "", opts)))
		parent = optarg;
	struct st_store *s;
	int rc = cli_args(c, argc, 1, 1, "a layer tar file, or - for stdin", &s);
	if (rc >= 0)
		return rc;
	int fd;
	if (cli_open_input(argv[optind], &fd) != 0)
		return EXIT_ERR;
	struct st_reader r;
	st_reader_fd(&r, &fd);
	struct st_error err = {0};
	struct st_layer l;
	rc = st_layer_register(s, parent, &r, "user", &l, &err);
	close(fd);
	if (rc < 0)
		return cli_fail(&err);
	printf("%s\n", l.chain_id);
	st_layer_free(&l);
	return EXIT_OK;
}

static int layer_rm(struct cli *c, int argc, char **argv)
{
	struct st_store *s;
	int rc = cli_args_only(c, argc, argv, 1, -1, NULL, &s);
	if (rc >= 0)
		return rc;
	rc = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		struct st_error err = {0};
		struct st_layer l;
		if (st_layer_get(s, argv[i], &l, &err) < 0) {
			rc = cli_fail(&err);
			continue;
		}
		bool held = false;
		for (size_t k = 0; k < l.nholders; k++)
			held |= strcmp(l.holders[k], "user") == 0;
		st_layer_free(&l);
		if (!held) {
			rc = cli_failf("layer %s was not imported by hand (it is held by images or containers)", argv[i]);
			continue;
		}
		if (st_layer_release(s, argv[i], "user", &err) < 0)
			rc = cli_fail(&err);
		else
			printf("%s\n", argv[i]);
	}
	return rc;
}

static int layer_export(struct cli *c, int argc, char **argv)
{
	int rc = cli_args_only(c, argc, argv, 1, 1, "a chain id", NULL);
	if (rc >= 0)
		return rc;
	if (isatty(STDOUT_FILENO))
		return cli_failf("refusing to write a layer tar to a terminal: redirect the output");
	struct st_store *s;
	if (cli_store(c, &s) != 0)
		return EXIT_ERR;
	int out = STDOUT_FILENO;
	struct st_writer w;
	st_writer_fd(&w, &out);
	struct st_error err = {0};
	return st_layer_tar(s, argv[optind], &w, &err) < 0 ? cli_fail(&err) : EXIT_OK;
}

const struct cli_cmd cli_layer_cmds[] = {
	{"ls", layer_ls, "List layers", "[-q] [--format json]\n\nOptions:\n  -q, --quiet           Only chain ids\n      --format string   table (default) or json\n"},
	{"import", layer_import, "Register a layer tar (plain or compressed); prints its chain id",
	 "[--parent CHAINID] FILE|-\n\nOptions:\n      --parent CHAINID   The layer below it\n"},
	{"rm", layer_rm, "Release layers imported by hand (removed when nothing else holds them)", "CHAINID..."},
	{"export", layer_export, "Write a layer's tar to stdout, byte for byte as registered", "CHAINID"},
	{0, 0, 0, 0},
};

int cmd_layer(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "strata layer", cli_layer_cmds, argc - 1, argv + 1);
}
