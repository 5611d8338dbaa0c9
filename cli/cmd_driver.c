/* strata driver ...: the raw storage-driver interface by driver layer id. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct layer_args {
	const char *parent;
	bool rw;
	struct st_kvlist opt;
	const char *id;
};

static const struct option layer_opts[] = {
	{"parent", required_argument, 0, 'p'},
	{"rw", no_argument, 0, 'w'},
	{"storage-opt", required_argument, 0, 'o'},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
};

/* Options shared by the driver commands; `allowed` lists the ones this
 * command takes ("pwo"). Returns -1 to go on, else an exit code. */
static int parse_layer_args(struct cli *c, int argc, char **argv, const char *allowed, struct layer_args *a)
{
	memset(a, 0, sizeof(*a));
	int o;
	while ((o = cli_opt(c, argc, argv, "", layer_opts))) {
		if (!strchr(allowed, o))
			return cli_usage(c, "option %s does not apply here", argv[optind - 1]);
		struct st_error err = {0};
		switch (o) {
		case 'p':
			a->parent = optarg;
			break;
		case 'w':
			a->rw = true;
			break;
		case 'o':
			if (st_kvlist_parse(&a->opt, optarg, &err) < 0) {
				st_kvlist_free(&a->opt);
				return cli_usage(c, "%s", err.msg);
			}
			break;
		}
	}
	int rc = cli_args(c, argc, 1, 1, "a layer id", NULL);
	if (rc >= 0) {
		st_kvlist_free(&a->opt);
		return rc;
	}
	a->id = argv[optind];
	return -1;
}

#define DRIVER_BEGIN(allowed)                                                 \
	struct layer_args a;                                                  \
	int pr = parse_layer_args(c, argc, argv, allowed, &a);                \
	if (pr >= 0)                                                          \
		return pr;                                                    \
	struct st_store *s;                                                   \
	if (cli_store(c, &s) != 0) {                                          \
		st_kvlist_free(&a.opt);                                       \
		return EXIT_ERR;                                              \
	}                                                                     \
	struct st_driver *d = st_store_driver(s);                             \
	struct st_error err = {0};

static int drv_create(struct cli *c, int argc, char **argv)
{
	DRIVER_BEGIN("pwo");
	int r = st_drv_create(d, a.id, a.parent, a.rw, &a.opt, &err);
	st_kvlist_free(&a.opt);
	return r < 0 ? cli_fail(&err) : EXIT_OK;
}

static int drv_rm(struct cli *c, int argc, char **argv)
{
	DRIVER_BEGIN("");
	return st_drv_remove(d, a.id, &err) < 0 ? cli_fail(&err) : EXIT_OK;
}

static int drv_mount(struct cli *c, int argc, char **argv)
{
	DRIVER_BEGIN("");
	char path[PATH_MAX];
	if (st_drv_get(d, a.id, path, sizeof(path), &err) < 0)
		return cli_fail(&err);
	printf("%s\n", path);
	return EXIT_OK;
}

static int drv_unmount(struct cli *c, int argc, char **argv)
{
	DRIVER_BEGIN("");
	return st_drv_put(d, a.id, &err) < 0 ? cli_fail(&err) : EXIT_OK;
}

static int drv_exists(struct cli *c, int argc, char **argv)
{
	DRIVER_BEGIN("");
	if (!st_valid_id(a.id))
		return cli_failf("invalid layer id \"%s\": use 1-128 of [a-zA-Z0-9_.-], starting with a letter or digit",
				 a.id);
	(void)err;
	return st_drv_exists(d, a.id) ? EXIT_OK : EXIT_ERR;
}

static int drv_commit(struct cli *c, int argc, char **argv)
{
	DRIVER_BEGIN("");
	return st_drv_commit(d, a.id, &err) < 0 ? cli_fail(&err) : EXIT_OK;
}

static int drv_ls(struct cli *c, int argc, char **argv)
{
	struct st_store *s;
	int rc = cli_args_only(c, argc, argv, 0, 0, NULL, &s);
	if (rc >= 0)
		return rc;
	struct st_driver *d = st_store_driver(s);
	struct st_error err = {0};
	char **ids;
	size_t n;
	if (st_drv_list(d, &ids, &n, &err) < 0)
		return cli_fail(&err);
	struct cli_table t;
	cli_table_init(&t, 4);
	cli_table_row(&t, "ID", "PARENT", "KIND", "MOUNTS");
	for (size_t i = 0; i < n; i++) {
		char parent[130] = "", mounts[16];
		st_drv_parent(d, ids[i], parent, sizeof(parent), &err);
		snprintf(mounts, sizeof(mounts), "%d", st_drv_mount_count(d, ids[i]));
		cli_table_row(&t, ids[i], parent, st_drv_is_rw(d, ids[i]) ? "rw" : "ro", mounts);
		free(ids[i]);
	}
	free(ids);
	cli_table_print(&t, stdout);
	return EXIT_OK;
}

static int drv_diff(struct cli *c, int argc, char **argv)
{
	DRIVER_BEGIN("p");
	if (isatty(STDOUT_FILENO))
		return cli_failf("refusing to write a layer tar to a terminal: redirect the output");
	int out = STDOUT_FILENO;
	struct st_writer w;
	st_writer_fd(&w, &out);
	return st_drv_diff(d, a.id, a.parent, &w, &err) < 0 ? cli_fail(&err) : EXIT_OK;
}

static int drv_apply(struct cli *c, int argc, char **argv)
{
	DRIVER_BEGIN("p");
	int fd = STDIN_FILENO;
	struct st_reader r;
	st_reader_fd(&r, &fd);
	int64_t n = st_drv_apply(d, a.id, a.parent, &r, &err);
	if (n < 0)
		return cli_fail(&err);
	printf("%" PRId64 "\n", n);
	return EXIT_OK;
}

static int drv_changes(struct cli *c, int argc, char **argv)
{
	DRIVER_BEGIN("p");
	struct st_changes ch = {0};
	if (st_drv_changes(d, a.id, a.parent, &ch, &err) < 0)
		return cli_fail(&err);
	for (size_t i = 0; i < ch.n; i++)
		printf("%c %s\n", ch.v[i].kind, ch.v[i].path);
	st_changes_free(&ch);
	return EXIT_OK;
}

static int drv_diff_size(struct cli *c, int argc, char **argv)
{
	DRIVER_BEGIN("p");
	int64_t n = st_drv_diff_size(d, a.id, a.parent, &err);
	if (n < 0)
		return cli_fail(&err);
	printf("%" PRId64 "\n", n);
	return EXIT_OK;
}

const struct cli_cmd cli_driver_cmds[] = {
	{"create", drv_create, "Create a layer (read-only unless --rw) on top of an optional parent",
	 "[--parent ID] [--rw] [--storage-opt K=V]... ID\n\nOptions:\n"
	 "      --parent ID               Parent layer\n"
	 "      --rw                      A read-write layer (container or build step)\n"
	 "      --storage-opt key=value   Per-layer driver option, e.g. size=10G\n"},
	{"rm", drv_rm, "Remove a layer (refused while mounted or while it has children)", "ID"},
	{"mount", drv_mount, "Mount a layer and print its root path (counted)", "ID"},
	{"unmount", drv_unmount, "Release one mount of a layer; the last one unmounts", "ID"},
	{"exists", drv_exists, "Exit 0 when the layer exists, 1 when not", "ID"},
	{"commit", drv_commit, "Make a read-write layer read-only in place", "ID"},
	{"ls", drv_ls, "List the driver's layers", ""},
	{"diff", drv_diff, "Write the layer's changes as a layer tar to stdout",
	 "[--parent ID] ID\n\nOptions:\n      --parent ID   Compare with this layer (default: its parent)\n"},
	{"apply", drv_apply, "Apply a layer tar from stdin; prints the bytes applied",
	 "[--parent ID] ID\n\nOptions:\n      --parent ID   The layer's parent (default: its recorded parent)\n"},
	{"changes", drv_changes, "List changed paths: A (added), C (changed), D (deleted)",
	 "[--parent ID] ID\n\nOptions:\n      --parent ID   Compare with this layer (default: its parent)\n"},
	{"diff-size", drv_diff_size, "Print the bytes the layer adds",
	 "[--parent ID] ID\n\nOptions:\n      --parent ID   Compare with this layer (default: its parent)\n"},
	{0, 0, 0, 0},
};

int cmd_driver(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "strata driver", cli_driver_cmds, argc - 1, argv + 1);
}
