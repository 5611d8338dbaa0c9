/* strata system check|df|prune: the store as a whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "system/system.h"
#include "cli.h"

/* ------------------------------------------------------------- check */

static int sys_check(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"repair", no_argument, 0, 'r'},
					     {"quiet", no_argument, 0, 'q'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	bool repair = false, quiet = false;
	int o;
	while ((o = cli_opt(c, argc, argv, "q", opts))) {
		if (o == 'r')
			repair = true;
		if (o == 'q')
			quiet = true;
	}
	struct st_store *s;
	int rc = cli_args(c, argc, 0, 0, NULL, &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	struct st_check_report rep;
	if (st_store_check(s, repair, &rep, &err) < 0)
		return cli_fail(&err);
	size_t fixable = 0, repaired = 0;
	for (size_t i = 0; i < rep.n; i++) {
		const struct st_check_problem *p = &rep.v[i];
		fixable += p->state != ST_CHECK_MANUAL;
		repaired += p->state == ST_CHECK_REPAIRED;
		if (p->state == ST_CHECK_FOUND)
			printf("%s: %s\n", p->what, p->msg);
		else if (p->state == ST_CHECK_MANUAL)
			printf("%s: %s (cannot be repaired automatically)\n", p->what, p->msg);
		else if (p->state == ST_CHECK_REPAIRED)
			printf("%s: %s: repaired: %s\n", p->what, p->msg, p->result);
		else
			printf("%s: %s: NOT repaired: %s\n", p->what, p->msg, p->result);
	}
	if (rep.n == 0) {
		if (!quiet)
			printf("The store is clean: %zu layers (%zu driver layers), %zu images, %zu containers, "
			       "%zu build cache entries, %zu volumes checked%s.\n",
			       rep.layers, rep.driver_layers, rep.images, rep.containers, rep.cache_entries, rep.volumes,
			       rep.live_leases ? " (work of running operations left alone)" : "");
	} else if (!repair) {
		printf("%zu problem%s found; 'strata system check --repair' can repair %zu of them.\n", rep.n,
		       rep.n == 1 ? "" : "s", fixable);
	} else if (rep.remaining == 0) {
		printf("%zu problem%s found, %zu repaired: the store is clean.\n", rep.n, rep.n == 1 ? "" : "s", repaired);
	} else {
		printf("%zu problem%s found, %zu repaired; %zu remain%s.\n", rep.n, rep.n == 1 ? "" : "s", repaired,
		       rep.remaining, rep.remaining == 1 ? "s" : "");
	}
	rc = (repair ? rep.remaining : rep.n) == 0 ? EXIT_OK : EXIT_ERR;
	st_check_report_free(&rep);
	return rc;
}

/* ---------------------------------------------------------------- df */

static void df_row(struct cli_table *t, const char *type, const struct st_df_row *r, bool pct)
{
	char total[32], active[32], size[32], recl[64], rs[32];
	snprintf(total, sizeof(total), "%lld", (long long)r->total);
	snprintf(active, sizeof(active), "%lld", (long long)r->active);
	st_format_size(r->size, size, sizeof(size));
	st_format_size(r->reclaimable, rs, sizeof(rs));
	if (pct)
		snprintf(recl, sizeof(recl), "%s (%lld%%)", rs,
			 r->size > 0 ? (long long)(r->reclaimable * 100 / r->size) : 0LL);
	else
		snprintf(recl, sizeof(recl), "%s", rs);
	cli_table_row(t, type, total, active, size, recl);
}

/* a row as docker's disk usage formatter shows it (system df --format) */
static json_object *df_dot(const char *type, const struct st_df_row *r, bool pct)
{
	char total[32], active[32], size[32], rs[32], recl[64];
	snprintf(total, sizeof(total), "%lld", (long long)r->total);
	snprintf(active, sizeof(active), "%lld", (long long)r->active);
	cli_size4(r->size, size, sizeof(size));
	cli_size4(r->reclaimable, rs, sizeof(rs));
	if (pct && r->size > 0) /* docker: a percentage of a size there is */
		snprintf(recl, sizeof(recl), "%s (%lld%%)", rs, (long long)(r->reclaimable * 100 / r->size));
	else
		snprintf(recl, sizeof(recl), "%s", rs);
	json_object *o = json_object_new_object();
	cli_dot_str(o, "Active", active);
	cli_dot_str(o, "Reclaimable", recl);
	cli_dot_str(o, "Size", size);
	cli_dot_str(o, "TotalCount", total);
	cli_dot_str(o, "Type", type);
	return o;
}

static json_object *df_json(const char *type, const struct st_df_row *r)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "Type", json_object_new_string(type));
	json_object_object_add(o, "TotalCount", json_object_new_int64(r->total));
	json_object_object_add(o, "Active", json_object_new_int64(r->active));
	json_object_object_add(o, "Size", json_object_new_int64(r->size));
	json_object_object_add(o, "Reclaimable", json_object_new_int64(r->reclaimable));
	return o;
}

static int sys_df(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct cli_fmt fmt = {0};
	int o;
	while ((o = cli_opt(c, argc, argv, "", opts)))
		if (cli_fmt_discard(&fmt), cli_format_parse(c, optarg, true, &fmt) != 0)
			return EXIT_ERR;
	bool json = fmt.json;
	struct st_store *s;
	int rc = cli_args(c, argc, 0, 0, NULL, &s);
	struct st_error err = {0};
	struct st_df df;
	if (rc < 0 && st_system_df(s, &df, &err) < 0)
		rc = cli_fail(&err);
	if (rc >= 0) {
		cli_fmt_discard(&fmt);
		return rc;
	}
	const char *names[] = {"Images", "Containers", "Local Volumes", "Layers", "Build Cache"};
	const struct st_df_row *rows[] = {&df.images, &df.containers, &df.volumes, &df.layers, &df.cache};
	if (fmt.tmpl) {
		for (size_t i = 0; i < 5 && !fmt.failed; i++)
			cli_fmt_row(&fmt, df_dot(names[i], rows[i], i != 4));
		return cli_fmt_end(&fmt, cli_titles_df);
	}
	if (json) {
		/* one object per line, as docker system df --format json */
		for (size_t i = 0; i < 5; i++) {
			json_object *j = df_json(names[i], rows[i]);
			printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
			json_object_put(j);
		}
		return EXIT_OK;
	}
	struct cli_table t;
	cli_table_init(&t, 5);
	cli_table_row(&t, "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE");
	for (size_t i = 0; i < 5; i++)
		df_row(&t, names[i], rows[i], i != 4);
	cli_table_print(&t, stdout);
	return EXIT_OK;
}

/* ------------------------------------------------------------- prune */

static bool confirm(bool all, bool volumes)
{
	printf("WARNING! This will remove:\n  - all stopped containers\n");
	if (volumes)
		printf("  - all volumes not used by at least one container\n");
	printf("  - %s\n", all ? "all images without at least one container associated to them" : "all dangling images");
	printf("  - %s\n\nAre you sure you want to continue? [y/N] ", all ? "all build cache" : "unused build cache");
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

static void print_list(const char *title, char **v, size_t n)
{
	if (!n)
		return;
	printf("%s:\n", title);
	for (size_t i = 0; i < n; i++)
		printf("%s\n", v[i]);
	printf("\n");
}

static int sys_prune(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, 0, 'a'},
					     {"volumes", no_argument, 0, 'V'},
					     {"force", no_argument, 0, 'f'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct st_prune_opts po = {0};
	bool force = false;
	int o;
	while ((o = cli_opt(c, argc, argv, "af", opts))) {
		if (o == 'a')
			po.all = true;
		if (o == 'V')
			po.volumes = true;
		if (o == 'f')
			force = true;
	}
	int rc = cli_args(c, argc, 0, 0, NULL, NULL);
	if (rc >= 0)
		return rc;
	if (!force && !confirm(po.all, po.volumes))
		return EXIT_OK;
	struct st_store *s;
	if (cli_store(c, &s) != 0)
		return EXIT_ERR;
	struct st_error err = {0};
	struct st_prune_result res;
	int r = st_system_prune(s, &po, &res, &err);
	print_list("Deleted Containers", res.containers, res.ncontainers);
	print_list("Deleted Images", res.images, res.nimages);
	print_list("Deleted build cache objects", res.cache, res.ncache);
	print_list("Deleted Volumes", res.volumes, res.nvolumes);
	char sz[32];
	st_format_size(res.reclaimed, sz, sizeof(sz));
	printf("Total reclaimed space: %s\n", sz);
	st_prune_result_free(&res);
	return r < 0 ? cli_fail(&err) : EXIT_OK;
}

const struct cli_cmd cli_system_cmds[] = {
	{"check", sys_check, "Verify the whole store; with --repair, fix what is wrong",
	 "[--repair] [-q]\n\nOptions:\n"
	 "      --repair   Fix what is wrong (never what running containers or operations use)\n"
	 "  -q, --quiet    Print nothing when the store is clean\n\n"
	 "Exit status: 0 when the store is clean (after --repair: when nothing is left), 1 otherwise.\n"},
	{"df", sys_df, "Show disk usage: images, containers, volumes, layers, build cache",
	 "[--format json|TEMPLATE]\n\nOptions:\n      --format string   table (default), json (one object per line) or a Go template\n"
	 "                        on each row (Type, TotalCount, Active, Size, Reclaimable; 'table ...': titled)\n"},
	{"prune", sys_prune, "Remove unused data: stopped containers, dangling images, unused build cache",
	 "[-a] [--volumes] [-f]\n\nOptions:\n"
	 "  -a, --all       Remove all unused images (not just dangling ones) and all build cache\n"
	 "  -f, --force     Do not prompt for confirmation\n"
	 "      --volumes   Prune volumes nothing uses\n"},
	{0, 0, 0, 0},
};

int cmd_system(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "strata system", cli_system_cmds, argc - 1, argv + 1);
}
