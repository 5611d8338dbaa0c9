/* The strata command line: shared state and helpers for the commands. */
#ifndef ST_CLI_H
#define ST_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "strata.h"

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2 };

struct cli {
	const char *root;
	const char *driver;
	struct st_kvlist storage_opt;
	struct st_store *store; /* opened on first use */
	const char *prog;       /* "strata driver create": for messages */
	int opt_exit;           /* set by cli_opt: -1, or the exit code it stopped for */
};

struct cli_cmd {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *summary;
	const char *usage; /* options text after the synopsis line */
};

/* Print "strata: error: ..." and return EXIT_ERR. */
int cli_fail(const struct st_error *err);
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage error: message + "See 'strata CMD --help'", returns EXIT_USAGE. */
int cli_usage(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse options with getopt_long; --help prints the command's usage.
 * Returns the option character, -1 at the end, or 'h' after printing help
 * (the caller returns EXIT_OK), '?' on a bad option (caller returns
 * EXIT_USAGE). */
void cli_opts_begin(void);
int cli_getopt(struct cli *c, int argc, char **argv, const char *shortopts, const struct option *longopts);
void cli_print_help(struct cli *c);

/* cli_getopt for the usual loop `while ((o = cli_opt(...)))`: the option, or
 * 0 when the options end, at the last one, after --help or at a bad one
 * (cli_args then returns EXIT_OK or EXIT_USAGE). */
int cli_opt(struct cli *c, int argc, char **argv, const char *shortopts, const struct option *longopts);
/* After a cli_opt loop: the exit code it stopped for; else a usage error
 * unless min..max operands follow (max -1: no limit; what, when not NULL,
 * names them in the message); else opens the store into *s unless s is
 * NULL. Returns -1 to go on, else the exit code. */
int cli_args(struct cli *c, int argc, int min, int max, const char *what, struct st_store **s);
/* cli_args for a command without options (but --help). */
int cli_args_only(struct cli *c, int argc, char **argv, int min, int max, const char *what, struct st_store **s);

int cli_store(struct cli *c, struct st_store **s);

/* Dispatch to a subcommand table (for groups like `strata driver`). */
int cli_dispatch(struct cli *c, const char *group, const struct cli_cmd *cmds, int argc, char **argv);

/* Simple aligned tables, Docker style (3 spaces between columns). */
struct cli_table {
	char **cells;
	size_t ncols, nrows;
};
void cli_table_init(struct cli_table *t, size_t ncols);
void cli_table_row(struct cli_table *t, ...); /* ncols strings */
void cli_table_print(struct cli_table *t, FILE *f); /* and free */
void cli_table_free(struct cli_table *t);

/* --format table|json: sets *json, or prints a usage error and returns
 * EXIT_USAGE. */
int cli_format(struct cli *c, const char *value, bool *json);
/* --format for the commands that take templates (cli/format.c): json,
 * table (the command's own table) or a Go template; listing: docker's list
 * conventions ("table TEMPLATE", \t and \n). A bad template prints its
 * error and returns EXIT_ERR. */
struct st_format;
struct cli_fmt {
	bool json;
	bool table;
	bool failed;
	struct st_format *tmpl; /* NULL: json or the command's table */
	FILE *mem;              /* the rows so far */
	char *buf;
	size_t len;
};
int cli_format_parse(struct cli *c, const char *value, bool listing, struct cli_fmt *f);
/* The template on dot (dropped), one line; EXIT_ERR (printed) on failure. */
struct json_object;
int cli_fmt_row(struct cli_fmt *f, struct json_object *dot);
/* Print the rows (a table: titled by the FIELD, TITLE pairs of titles and
 * aligned); frees. EXIT_ERR when a row failed. */
int cli_fmt_end(struct cli_fmt *f, const char *const *titles);
void cli_fmt_discard(struct cli_fmt *f);
/* cli_print_list, or the template's rows when there is one. */
struct cli_table;
int cli_list_end(struct cli_table *t, struct json_object *a, struct cli_fmt *f, bool quiet, const char *const *titles);
/* A listing's --format (option 'F') and --filter (option 'f') as cli_opt
 * returns them: -1 when o is another option or was taken, else the exit
 * code of a bad one (printed; fmt and filters then freed). */
struct st_kvlist;
int cli_list_opt(struct cli *c, int o, struct cli_fmt *fmt, struct st_kvlist *filters);
/* inspect: o (an array: each element) through the template, else pretty JSON; drops o. */
int cli_print_formatted(struct json_object *o, struct cli_fmt *f);
extern const char *const cli_titles_images[], *const cli_titles_ps[], *const cli_titles_volumes[],
	*const cli_titles_df[];
/* Go's time.Time String() ("2006-01-02 15:04:05 -0700 MST"), docker's
 * HumanSize (4 digits), a string member (NULL: ""). */
void cli_go_time(int64_t t, char *buf, size_t len);
void cli_size4(int64_t bytes, char *buf, size_t len);
void cli_dot_str(struct json_object *o, const char *key, const char *value);
/* Print a JSON document pretty (as docker inspect does), then drop it. */
struct json_object;
void cli_print_json(struct json_object *o);
/* A listing built both ways: the JSON array with --format json, nothing
 * with -q (printed as it went), else the table; drops both. */
void cli_print_list(struct cli_table *t, struct json_object *a, bool json, bool quiet);

/* Reader/writer on stdio fds. */
int cli_open_input(const char *path, int *fd);

/* Command groups and top-level commands, one file each. */
extern const struct cli_cmd cli_driver_cmds[];
extern const struct cli_cmd cli_layer_cmds[];
int cmd_info(struct cli *c, int argc, char **argv);
int cmd_import(struct cli *c, int argc, char **argv);
int cmd_images(struct cli *c, int argc, char **argv);
int cmd_history(struct cli *c, int argc, char **argv);
int cmd_tag(struct cli *c, int argc, char **argv);
int cmd_rmi(struct cli *c, int argc, char **argv);
int cmd_build(struct cli *c, int argc, char **argv);
int cmd_inspect(struct cli *c, int argc, char **argv);
int cmd_create(struct cli *c, int argc, char **argv);
int cmd_run(struct cli *c, int argc, char **argv);
int cmd_start(struct cli *c, int argc, char **argv);
int cmd_stop(struct cli *c, int argc, char **argv);
int cmd_ps(struct cli *c, int argc, char **argv);
int cmd_logs(struct cli *c, int argc, char **argv);
int cmd_rm(struct cli *c, int argc, char **argv);
int cmd_diff(struct cli *c, int argc, char **argv);
int cmd_commit(struct cli *c, int argc, char **argv);
int cmd_export(struct cli *c, int argc, char **argv);
int cmd_mount(struct cli *c, int argc, char **argv);
int cmd_umount(struct cli *c, int argc, char **argv);
int cmd_load(struct cli *c, int argc, char **argv);
int cmd_save(struct cli *c, int argc, char **argv);
int cmd_pull(struct cli *c, int argc, char **argv);
int cmd_push(struct cli *c, int argc, char **argv);
int cmd_login(struct cli *c, int argc, char **argv);
int cmd_logout(struct cli *c, int argc, char **argv);
/* "3 minutes ago" */
void cli_ago(int64_t t, char *buf, size_t len);
struct st_image;
struct json_object *cli_image_json(struct st_image *img);
int cmd_driver(struct cli *c, int argc, char **argv);
int cmd_layer(struct cli *c, int argc, char **argv);
extern const struct cli_cmd cli_volume_cmds[];
int cmd_volume(struct cli *c, int argc, char **argv);
extern const struct cli_cmd cli_system_cmds[];
int cmd_system(struct cli *c, int argc, char **argv);
int cmd_bench(struct cli *c, int argc, char **argv);
int cmd_docker_plugin(struct cli *c, int argc, char **argv);

#endif
