/* core/format: Go text/template, the subset Docker's --format uses, over
 * json-c values. A template is lexed (format_lex.c), parsed into a tree
 * (format_parse.c) and run on a JSON value as dot (format_exec.c, with the
 * functions of format_funcs.c); tabwriter.c aligns table columns as Go's
 * text/tabwriter. Messages have Go's shape: "template: :1:8: executing \"\"
 * at <.Nope>: map has no entry for key \"Nope\"" (execution, line:byte) and
 * "template: :1: unclosed action" (parsing, line). The folder's interface. */
#ifndef ST_FORMAT_H
#define ST_FORMAT_H

#include <json-c/json.h>
#include <stdio.h>

#include "base/base.h"

struct st_format;

/* Parse tmpl (Go template syntax: {{.Field}}, pipelines, if/else/range/with,
 * variables, trim markers, the functions json, index, join, split, upper,
 * lower, title, len, print, println, printf, eq, ne, lt, le, gt, ge, and,
 * or, not, truncate, pad). */
int st_format_compile(const char *tmpl, struct st_format **out, struct st_error *err);
/* Run it with dot; the output goes to out (what was written before an error
 * stays written). */
int st_format_exec(const struct st_format *f, json_object *dot, FILE *out, struct st_error *err);
/* Run it for a table's header row (Docker's table format): every field
 * prints its column title, headers[FIELD] when headers (an object of
 * strings, may be NULL) has it, else the field's name upper-cased; the
 * string functions give their first argument back unchanged. */
int st_format_exec_header(const struct st_format *f, json_object *headers, FILE *out, struct st_error *err);
void st_format_free(struct st_format *f);

/* Go's text/tabwriter on text (cells end with '\t', lines with '\n'): every
 * column of a block of lines padded to its widest cell plus padding, at
 * least minwidth; a line's last cell is not aligned. Widths count UTF-8
 * characters. Docker's tables: minwidth 10, padding 3. */
void st_tabwrite(const char *text, size_t len, size_t minwidth, size_t padding, FILE *out);

#endif
