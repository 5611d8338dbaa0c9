/* --format: "json", "table" (the command's own table) or a Go template
 * (core/format) run on one dot object per row, as the docker CLI does:
 * "table TEMPLATE" adds a header row of column titles and aligns the
 * columns (tabwriter: min width 10, padding 3); \t and \n written as two
 * characters are a tab and a newline in listings. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "format/format.h"
#include "cli.h"

int cli_format_parse(struct cli *c, const char *value, bool listing, struct cli_fmt *f)
{
	memset(f, 0, sizeof(*f));
	if (!value[0] || !strcmp(value, "json") || !strcmp(value, "table")) { /* "": the default, as docker */
		f->json = !strcmp(value, "json");
		return 0;
	}
	_cleanup_(st_freep) char *t = strdup(value);
	if (!t)
		return cli_failf("out of memory");
	char *p = t;
	if (listing) {
		if (!strncmp(p, "table", 5)) {
			f->table = true;
			p += 5;
		}
		/* docker trims the spaces around it and reads \t, \n */
		while (*p == ' ')
			p++;
		size_t n = strlen(p);
		while (n && p[n - 1] == ' ')
			p[--n] = 0;
		char *w = p;
		for (const char *r = p; *r; r++) {
			if (r[0] == '\\' && (r[1] == 't' || r[1] == 'n')) {
				*w++ = r[1] == 't' ? '\t' : '\n';
				r++;
			} else {
				*w++ = *r;
			}
		}
		*w = 0;
	}
	struct st_error err = {0};
	if (st_format_compile(p, &f->tmpl, &err) < 0)
		return cli_fail(&err);
	if (!(f->mem = open_memstream(&f->buf, &f->len))) {
		st_format_free(f->tmpl);
		f->tmpl = NULL;
		return cli_failf("out of memory");
	}
	return 0;
}

int cli_fmt_row(struct cli_fmt *f, json_object *dot)
{
	struct st_error err = {0};
	int rc = st_format_exec(f->tmpl, dot, f->mem, &err);
	json_object_put(dot);
	fputc('\n', f->mem);
	if (rc < 0) {
		f->failed = true;
		return cli_fail(&err);
	}
	return EXIT_OK;
}

int cli_fmt_end(struct cli_fmt *f, const char *const *titles)
{
	if (!f->tmpl)
		return EXIT_OK;
	fclose(f->mem);
	if (f->failed) {
		/* nothing of a failed listing, as docker */
	} else if (f->table) {
		char *all = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&all, &len);
		json_object *h = json_object_new_object();
		for (size_t i = 0; titles && titles[i]; i += 2)
			json_object_object_add(h, titles[i], json_object_new_string(titles[i + 1]));
		struct st_error err = {0};
		/* the header row's errors are docker's too: ignored */
		(void)st_format_exec_header(f->tmpl, h, m, &err);
		json_object_put(h);
		fputc('\n', m);
		fwrite(f->buf, 1, f->len, m);
		fclose(m);
		st_tabwrite(all, len, 10, 3, stdout);
		free(all);
	} else {
		fwrite(f->buf, 1, f->len, stdout);
	}
	free(f->buf);
	st_format_free(f->tmpl);
	bool failed = f->failed;
	memset(f, 0, sizeof(*f));
	return failed ? EXIT_ERR : EXIT_OK;
}

int cli_print_formatted(json_object *o, struct cli_fmt *f)
{
	if (!f->tmpl) {
		cli_print_json(o);
		return EXIT_OK;
	}
	int rc = EXIT_OK;
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o) && rc == EXIT_OK; i++)
			rc = cli_fmt_row(f, json_object_get(json_object_array_get_idx(o, i)));
		json_object_put(o);
	} else {
		rc = cli_fmt_row(f, o);
	}
	int end = cli_fmt_end(f, NULL);
	return rc != EXIT_OK ? rc : end;
}

/* ------------------------------------------------ docker's row values */

void cli_go_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S %z %Z", &tm))
		snprintf(buf, len, "%s", "");
}

void cli_size4(int64_t bytes, char *buf, size_t len)
{
	static const char *units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1000.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000.0;
		u++;
	}
	snprintf(buf, len, "%.4g%s", v, units[u]);
}

void cli_dot_str(json_object *o, const char *key, const char *value)
{
	json_object_object_add(o, key, json_object_new_string(value ? value : ""));
}

void cli_fmt_discard(struct cli_fmt *f)
{
	if (!f->tmpl)
		return;
	fclose(f->mem);
	free(f->buf);
	st_format_free(f->tmpl);
	memset(f, 0, sizeof(*f));
}

int cli_list_opt(struct cli *c, int o, struct cli_fmt *fmt, struct st_kvlist *filters)
{
	struct st_error err = {0};
	int rc = -1;
	if (o == 'F' && (cli_fmt_discard(fmt), cli_format_parse(c, optarg, true, fmt)) != 0)
		rc = EXIT_ERR;
	else if (o == 'f' && st_filter_add(filters, optarg, &err) < 0)
		rc = cli_usage(c, "%s", err.msg);
	if (rc >= 0) {
		cli_fmt_discard(fmt);
		st_kvlist_free(filters);
	}
	return rc;
}

int cli_list_end(struct cli_table *t, json_object *a, struct cli_fmt *f, bool quiet, const char *const *titles)
{
	if (!f->tmpl) {
		cli_print_list(t, a, f->json, quiet);
		return EXIT_OK;
	}
	cli_table_free(t);
	json_object_put(a);
	if (quiet) { /* -q wins over --format, as docker */
		cli_fmt_discard(f);
		return EXIT_OK;
	}
	return cli_fmt_end(f, titles);
}

/* docker's column titles (cli/command/formatter), FIELD, TITLE pairs; a
 * field not listed is titled by its name upper-cased */
const char *const cli_titles_images[] = {
	"ID", "IMAGE ID", "Repository", "REPOSITORY", "Tag", "TAG", "Digest", "DIGEST", "CreatedSince", "CREATED",
	"CreatedAt", "CREATED AT", "Size", "SIZE", "Containers", "CONTAINERS", "VirtualSize", "SIZE",
	"SharedSize", "SHARED SIZE", "UniqueSize", "UNIQUE SIZE", NULL};
const char *const cli_titles_ps[] = {
	"ID", "CONTAINER ID", "Image", "IMAGE", "Command", "COMMAND", "CreatedAt", "CREATED AT", "RunningFor",
	"CREATED", "Ports", "PORTS", "State", "STATE", "Status", "STATUS", "Size", "SIZE", "Names", "NAMES",
	"Labels", "LABELS", "Mounts", "MOUNTS", "LocalVolumes", "LOCAL VOLUMES", "Networks", "NETWORKS", NULL};
const char *const cli_titles_volumes[] = {"Name", "VOLUME NAME", "Driver", "DRIVER", "Scope", "SCOPE",
					  "Mountpoint", "MOUNTPOINT", "Labels", "LABELS", "Links", "LINKS",
					  "Size", "SIZE", NULL};
const char *const cli_titles_df[] = {"Type", "TYPE", "TotalCount", "TOTAL", "Active", "ACTIVE", "Size", "SIZE",
				     "Reclaimable", "RECLAIMABLE", NULL};
