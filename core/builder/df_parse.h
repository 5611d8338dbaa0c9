/* What the Dockerfile parser's files share (private to core/builder): the
 * parse context and its errors (df_line.c: the line stage; df_args.c:
 * argument grammars; dockerfile.c: the instruction stage and the file). */
#ifndef ST_DF_PARSE_H
#define ST_DF_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"
#include "dockerfile.h"

struct df_ctx {
	const char *file;
	char esc;
	struct st_error *err;
};

/* Parser directives (`# escape=`, `# syntax=`, `# check=`): only in the
 * leading comment lines; the first other line ends them. */
struct df_directives {
	bool done, seen_escape, seen_syntax, seen_check;
};

/* A growing list of parsed instructions. */
struct df_vec {
	struct st_df_instr *v;
	size_t n, cap;
};

/* "FILE:LINE: message" as an EINVAL error; out of memory at a line. */
int df_fail(struct df_ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int df_oom(struct df_ctx *c, int line);
/* reWhitespace in the Go parser: the separators of command and words. */
bool df_is_ws(char ch);
/* Go's unicode.IsSpace applied to a single byte (how the flag scanner and
 * the HEALTHCHECK splitter look at text). */
bool df_byte_space(char ch);
/* Skip (Go) white space; the rune-aware df_space_len of df_internal.h. */
void df_ltrim(const char **p, const char *end);
char *df_strndup(const char *p, const char *end);
/* ------------------------------------------- instructions (df_line.c) */

void df_vec_free(struct df_vec *vec);
/* Moves *in into the vector (in is left empty). */
int df_vec_push(struct df_vec *vec, struct st_df_instr *in);
int df_push_arg(struct st_df_instr *in, const char *p, const char *end);
/* Go's regexp \s: [\t\n\f\r ]. */
bool df_re_space(char ch);
/* ------------------------------------ the line stage (df_line.c) */

/* The flag words at the start of the argument text ("--name=value", quotes
 * removed, backslash escapes honoured); *rest receives what follows them.
 * A "--" word ends the flags. */
int df_extract_flags(const char *line, char ***words, size_t *nwords, const char **rest);
/* Is the line a comment, or blank? */
bool df_is_comment(const char *p, const char *end);
bool df_is_blank(const char *p, const char *end);
/* Read a parser directive from a leading comment line (sets c->esc). */
int df_directive(struct df_ctx *c, struct df_directives *d, const char *p, const char *end, int line);
/* Removes a trailing line-continuation escape (followed only by blanks);
 * returns true at the end of the logical line. An escaped escape at the end
 * ("foo \\\\") is not a continuation. */
bool df_trim_continuation(char esc, const char *p, const char **end);
/* The next physical line [*ls, *le) without its line ending ("\r\n"s). */
void df_next_line(const char **p, const char *end, const char **ls, const char **le);

/* ------------------------------------ argument grammars (df_args.c) */

/* parseWords: words separated by white space; quotes and escapes are kept
 * (the expander removes them later), but quoted white space does not split. */
int df_words(const char *rest, char esc, char ***out, size_t *n);
/* Whitespace-separated arguments (FROM, EXPOSE, shell-form COPY/ADD/VOLUME). */
int df_ws_split(struct st_df_instr *in, const char *rest);
/* parseMaybeJSON (RUN, CMD, ENTRYPOINT, SHELL): the argv, or one element
 * holding the command line. Nothing at all leaves nargs 0. */
int df_maybe_json(struct df_ctx *c, int line, struct st_df_instr *in, const char *rest);
/* parseMaybeJSONToList (COPY, ADD, VOLUME). */
int df_maybe_json_list(struct df_ctx *c, int line, struct st_df_instr *in, const char *rest);
/* ENV and LABEL: "K=V K2=V2 ..." or the legacy "K V" (a space before any
 * "="), giving key, value, key, value, ... */
int df_name_val(struct df_ctx *c, int line, struct st_df_instr *in, const char *rest, const char *cmd);
/* A heredoc word ("<<EOF", "<<-EOF", "3<<EOF"): BuildKit reads the lines
 * that follow as its content. We do not implement heredocs, and reading
 * those lines as instructions would give baffling errors, so say so. */
bool df_has_heredoc(const char *rest, char esc);
/* HEALTHCHECK options: durations of at least 1ms (0 means "default"),
 * retries a non-negative 32-bit integer. */
int df_check_health_flags(struct df_ctx *c, int line, const struct st_df_instr *in);
/* -------------------------------------- instruction stage (dockerfile.c) */

/* One logical line -> instruction(s) appended to out. */
int df_parse_line(struct df_ctx *c, int line, const char *text, bool in_onbuild, struct df_vec *out);

#endif
