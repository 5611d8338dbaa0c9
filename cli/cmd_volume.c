/* strata volume ...: named volumes on volume drivers (local, nfs, plugins). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "base/base.h"
#include "volume/volume.h"
#include "cli.h"

static void vol_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%s", "");
}

static const char *vol_scope(const struct st_volume *v)
{
	return v->scope == ST_VOLUME_SCOPE_GLOBAL ? "global" : "local";
}

static json_object *vol_kv_json(const struct st_kvlist *l)
{
	if (!l->n)
		return NULL; /* null, as Docker prints an empty map */
	json_object *o = json_object_new_object();
	for (size_t i = 0; i < l->n; i++)
		json_object_object_add(o, l->v[i].key, json_object_new_string(l->v[i].value));
	return o;
}

/* ------------------------------------------------------------- create */

static int vol_create(struct cli *c, int argc, char **argv)
{
	enum { OPT_LABEL = 1000 };
	static const struct option opts[] = {{"driver", required_argument, 0, 'd'},
					     {"opt", required_argument, 0, 'o'},
					     {"label", required_argument, 0, OPT_LABEL},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *driver = "local";
	struct st_kvlist kv = {0}, labels = {0};
	struct st_error err = {0};
	int o;
	while ((o = cli_opt(c, argc, argv, "d:o:", opts))) {
		if (o == 'd')
			driver = optarg;
		if (o == 'o' && st_kvlist_parse(&kv, optarg, &err) < 0) {
			st_kvlist_free(&kv);
			st_kvlist_free(&labels);
			return cli_usage(c, "invalid option \"%s\": %s", optarg, err.msg);
		}
		if (o == OPT_LABEL && st_label_add(&labels, optarg, &err) < 0) {
			st_kvlist_free(&kv);
			st_kvlist_free(&labels);
			return cli_usage(c, "%s", err.msg);
		}
	}
	struct st_store *s;
	int rc = cli_args(c, argc, 0, 1, "a volume name", &s);
	if (rc >= 0) {
		st_kvlist_free(&kv);
		st_kvlist_free(&labels);
		return rc;
	}
	const char *name = optind < argc ? argv[optind] : NULL;
	struct st_volume v;
	int r = st_volume_create_labeled(s, driver, name, &kv, &labels, &v, &err);
	st_kvlist_free(&kv);
	st_kvlist_free(&labels);
	if (r < 0)
		return cli_fail(&err);
	printf("%s\n", v.name);
	st_volume_free(&v);
	return EXIT_OK;
}

/* ----------------------------------------------------------------- ls */

static int vol_ls(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"quiet", no_argument, 0, 'q'},
					     {"format", required_argument, 0, 'F'},
					     {"filter", required_argument, 0, 'f'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	bool quiet = false;
	struct cli_fmt fmt = {0};
	struct st_kvlist filters = {0};
	struct st_error err = {0};
	int o, rc;
	while ((o = cli_opt(c, argc, argv, "qf:", opts))) {
		if (o == 'q')
			quiet = true;
		if ((rc = cli_list_opt(c, o, &fmt, &filters)) >= 0)
			return rc;
	}
	bool json = fmt.json;
	struct st_store *s;
	rc = cli_args(c, argc, 0, 0, NULL, &s);
	struct st_kvlist warn = {0};
	struct st_volume *v;
	size_t n;
	if (rc < 0 && st_volume_list_filtered(s, &filters, &v, &n, &warn, &err) < 0)
		rc = cli_fail(&err);
	st_kvlist_free(&filters);
	if (rc >= 0) {
		st_kvlist_free(&warn);
		cli_fmt_discard(&fmt);
		return rc;
	}
	for (size_t i = 0; i < warn.n; i++)
		fprintf(stderr, "strata: warning: volume driver %s: %s\n", warn.v[i].key, warn.v[i].value);
	st_kvlist_free(&warn);
	struct cli_table t;
	cli_table_init(&t, 2);
	if (!quiet && !json && !fmt.tmpl)
		cli_table_row(&t, "DRIVER", "VOLUME NAME");
	for (size_t i = 0; i < n; i++) {
		if (quiet) {
			printf("%s\n", v[i].name);
		} else if (json || fmt.tmpl) {
			/* one object per line, as docker volume ls --format json; a template's dot */
			json_object *j = json_object_new_object();
			json_object_object_add(j, "Driver", json_object_new_string(v[i].driver));
			char labels[1024] = "";
			for (size_t k = 0, used = 0; k < v[i].labels.n && used < sizeof(labels); k++)
				used += (size_t)snprintf(labels + used, sizeof(labels) - used, "%s%s=%s", k ? "," : "",
							 v[i].labels.v[k].key, v[i].labels.v[k].value);
			json_object_object_add(j, "Labels", json_object_new_string(labels));
			json_object_object_add(j, "Links", json_object_new_string("N/A"));
			json_object_object_add(j, "Mountpoint", json_object_new_string(v[i].mountpoint));
			json_object_object_add(j, "Name", json_object_new_string(v[i].name));
			json_object_object_add(j, "Scope", json_object_new_string(vol_scope(&v[i])));
			json_object_object_add(j, "Size", json_object_new_string("N/A"));
			json_object_object_add(j, "MountIDs", json_object_new_int64((int64_t)v[i].nmount_ids));
			if (fmt.tmpl) {
				if (!fmt.failed)
					cli_fmt_row(&fmt, j);
				else
					json_object_put(j);
				continue;
			}
			printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(j);
		} else {
			cli_table_row(&t, v[i].driver, v[i].name);
		}
	}
	if (!quiet && !json && !fmt.tmpl)
		cli_table_print(&t, stdout);
	else
		cli_table_free(&t);
	rc = quiet ? (cli_fmt_discard(&fmt), EXIT_OK) : cli_fmt_end(&fmt, cli_titles_volumes);
	st_volume_list_free(v, n);
	return rc;
}

/* ------------------------------------------------------------ inspect */

static json_object *vol_json(const struct st_volume *v)
{
	json_object *j = json_object_new_object();
	char created[64];
	vol_time(v->created, created, sizeof(created));
	json_object_object_add(j, "CreatedAt", json_object_new_string(created));
	json_object_object_add(j, "Driver", json_object_new_string(v->driver));
	/* {} when there are none, as docker volume inspect shows them */
	json_object_object_add(j, "Labels", v->labels.n ? vol_kv_json(&v->labels) : json_object_new_object());
	json_object_object_add(j, "Mountpoint", json_object_new_string(v->mountpoint));
	json_object_object_add(j, "Name", json_object_new_string(v->name));
	json_object_object_add(j, "Options", vol_kv_json(&v->options));
	json_object_object_add(j, "Scope", json_object_new_string(vol_scope(v)));
	if (v->status.n)
		json_object_object_add(j, "Status", vol_kv_json(&v->status));
	json_object_object_add(j, "Anonymous", json_object_new_boolean(v->anonymous));
	json_object *ids = json_object_new_array();
	for (size_t i = 0; i < v->nmount_ids; i++)
		json_object_array_add(ids, json_object_new_string(v->mount_ids[i]));
	json_object_object_add(j, "MountIDs", ids);
	return j;
}

static int vol_inspect(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct cli_fmt fmt = {0};
	while (cli_opt(c, argc, argv, "f:", opts))
		if (cli_fmt_discard(&fmt), cli_format_parse(c, optarg, false, &fmt) != 0)
			return EXIT_ERR;
	struct st_store *s;
	int rc = cli_args(c, argc, 1, -1, "a volume name", &s);
	if (rc >= 0) {
		cli_fmt_discard(&fmt);
		return rc;
	}
	json_object *a = json_object_new_array();
	rc = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		struct st_error err = {0};
		struct st_volume v;
		if (st_volume_inspect(s, argv[i], &v, &err) < 0) {
			rc = cli_fail(&err);
			continue;
		}
		json_object_array_add(a, vol_json(&v));
		st_volume_free(&v);
	}
	int frc = cli_print_formatted(a, &fmt);
	return rc != EXIT_OK ? rc : frc;
}

/* ----------------------------------------------------------- rm, prune */

static int vol_rm(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	bool force = false;
	int o;
	while ((o = cli_opt(c, argc, argv, "f", opts)))
		force = true;
	struct st_store *s;
	int rc = cli_args(c, argc, 1, -1, "a volume name", &s);
	if (rc >= 0)
		return rc;
	rc = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		struct st_error err = {0};
		if (st_volume_remove(s, argv[i], force, &err) < 0)
			rc = cli_fail(&err);
		else
			printf("%s\n", argv[i]);
	}
	return rc;
}

static int vol_prune(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	/* -f: there is no prompt to skip; accepted as docker takes it */
	while (cli_opt(c, argc, argv, "f", opts))
		;
	struct st_store *s;
	int rc = cli_args(c, argc, 0, 0, NULL, &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	char **names;
	size_t n;
	int64_t freed;
	int r = st_volume_prune(s, &names, &n, &freed, &err);
	if (n) {
		printf("Deleted Volumes:\n");
		for (size_t i = 0; i < n; i++)
			printf("%s\n", names[i]);
		printf("\n");
	}
	char sz[32];
	st_format_size(freed, sz, sizeof(sz));
	printf("Total reclaimed space: %s\n", sz);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r < 0 ? cli_fail(&err) : EXIT_OK;
}

/* ------------------------------------------------------ mount, unmount */

static int vol_mount(struct cli *c, int argc, char **argv)
{
	struct st_store *s;
	int rc = cli_args_only(c, argc, argv, 2, 2, "a volume name and a mount id", &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	char path[PATH_MAX];
	if (st_volume_mount(s, argv[optind], argv[optind + 1], path, sizeof(path), &err) < 0)
		return cli_fail(&err);
	printf("%s\n", path);
	return EXIT_OK;
}

static int vol_unmount(struct cli *c, int argc, char **argv)
{
	struct st_store *s;
	int rc = cli_args_only(c, argc, argv, 2, 2, "a volume name and a mount id", &s);
	if (rc >= 0)
		return rc;
	struct st_error err = {0};
	return st_volume_unmount(s, argv[optind], argv[optind + 1], &err) < 0 ? cli_fail(&err) : EXIT_OK;
}

const struct cli_cmd cli_volume_cmds[] = {
	{"create", vol_create, "Create a volume; prints its name (random for an anonymous volume)",
	 "[-d DRIVER] [-o KEY=VALUE]... [--label KEY=VALUE]... [NAME]\n\nOptions:\n"
	 "  -d, --driver string   Volume driver: local (default), nfs, or a plugin's name\n"
	 "      --label list      Set metadata on the volume (repeatable)\n"
	 "  -o, --opt key=value   Driver option (repeatable)\n"
	 "                        local: type=T device=D [o=OPTS] (a mount), size=SIZE\n"
	 "                        nfs: addr=HOST export=/PATH [vers=3|4|4.1|4.2] [o=OPTS] [timeout=S]\n"},
	{"ls", vol_ls, "List volumes",
	 "[-q] [-f FILTER]... [--format json|TEMPLATE]\n\nOptions:\n"
	 "  -f, --filter filter   name=REGEX, driver=NAME, label=KEY[=VALUE], dangling=true|false\n"
	 "  -q, --quiet           Only volume names\n"
	 "      --format string   table (default), json (one object per line) or a Go template\n"
	 "                        ('table {{.Name}}\\t{{.Driver}}': with a header row, aligned)\n"},
	{"inspect", vol_inspect, "Show volumes in detail (JSON)",
	 "[-f TEMPLATE] NAME...\n\nOptions:\n  -f, --format string   A Go template run on each volume's JSON\n"},
	{"rm", vol_rm, "Remove volumes (refused while mounted)",
	 "[-f] NAME...\n\nOptions:\n  -f, --force   No error for a missing volume; drop the record even when the driver fails\n"},
	{"prune", vol_prune, "Remove every volume that nothing holds mounted", "[-f]"},
	{"mount", vol_mount, "Mount a volume for a user (mount id); prints its path", "NAME MOUNT_ID"},
	{"unmount", vol_unmount, "Release a user's mount of a volume; the last one unmounts", "NAME MOUNT_ID"},
	{0, 0, 0, 0},
};

int cmd_volume(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "strata volume", cli_volume_cmds, argc - 1, argv + 1);
}
