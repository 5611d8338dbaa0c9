/* Dockerfile parsing (the language of Docker's classic builder and
 * BuildKit's dockerfile frontend), word expansion with ARG/ENV values, and
 * .dockerignore matching. No I/O: the builder feeds text in. */
#ifndef ST_DOCKERFILE_H
#define ST_DOCKERFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata.h"

struct st_df_flag {
	char *name;  /* "from", "chown", "chmod", "platform", "interval", ... (no dashes) */
	char *value; /* "" for a flag without =value */
};

struct st_df_instr {
	int line;          /* line where the instruction starts (1-based) */
	char *cmd;         /* upper case: "FROM", "RUN", "COPY", ... */
	char *original;    /* the instruction as written, continuations joined, comments dropped */
	struct st_df_flag *flags;
	size_t nflags;
	/* Arguments, still unexpanded (quotes kept where the word syntax has them):
	 *  FROM        [image] or [image, stage-name] (the "AS" is dropped)
	 *  RUN/CMD/ENTRYPOINT/SHELL
	 *              json: the argv; else one element, the command line
	 *  COPY/ADD    sources..., destination (json or whitespace words)
	 *  ENV/LABEL   key, value, key, value, ... (both "K=V ..." and legacy "K V")
	 *  ARG         [name] or [name, default] (nargs tells whether a default was given);
 *              "ARG A B=1" gives one ARG instruction per name (same line, original)
	 *  WORKDIR/USER/STOPSIGNAL/MAINTAINER  [value]
	 *  EXPOSE/VOLUME  the words (VOLUME also in json form)
	 *  HEALTHCHECK ["NONE"] or ["CMD", ...command as for RUN]; options in flags
	 *  ONBUILD     [the trigger instruction's text]; `sub` holds it parsed */
	char **args;
	size_t nargs;
	bool json;
	struct st_df_instr *sub;
};

struct st_dockerfile {
	struct st_df_instr *v;
	size_t n;
	char escape; /* '\\' or '`' (the escape parser directive) */
};

/* Parse a Dockerfile. A syntax error fails with EINVAL and a message
 * "FILE:LINE: what was expected". Also refused: instructions other than
 * ARG before the first FROM, no FROM at all, duplicate stage names, and
 * heredocs (<<EOF), which are not implemented. FROM's stage name comes
 * back lower-cased (as BuildKit names stages). */
int st_dockerfile_parse(const char *text, size_t len, const char *filename, struct st_dockerfile *out,
			struct st_error *err);
void st_dockerfile_free(struct st_dockerfile *df);
/* One ONBUILD trigger as stored in an image config ("RUN make"), parsed
 * the way the ONBUILD instruction parses it (default escape; ONBUILD, FROM
 * and MAINTAINER refused). Errors read "WHAT:1: ...". Free with
 * st_df_instr_free. st_dockerfile_parse cannot be used for this: it
 * rejects instructions before the first FROM. */
int st_df_parse_trigger(const char *text, const char *what, struct st_df_instr *out, struct st_error *err);
/* Frees what the instruction holds (sub included), not `in` itself. */
void st_df_instr_free(struct st_df_instr *in);

const char *st_df_flag(const struct st_df_instr *in, const char *name); /* NULL if absent */
/* A boolean flag (--link, --parents, ...): true for "--link" and "--link=true". */
bool st_df_flag_bool(const struct st_df_instr *in, const char *name);
/* Go's time.ParseDuration ("1m30s", "500ms", "1.5h"): HEALTHCHECK --interval etc. */
int st_df_parse_duration(const char *text, int64_t *ns, struct st_error *err);

/* Expand one word the way the Dockerfile shell lexer does: $VAR, ${VAR},
 * ${VAR:-word}, ${VAR:+word}, ${VAR-word}, ${VAR+word}, quotes removed
 * (single quotes literal), the escape character honoured. Unknown
 * variables expand to "". vars: key/value list (later entries win). */
int st_df_expand(const char *word, const struct st_kvlist *vars, char escape, char **out,
		 struct st_error *err);
/* The same, splitting the result into words on unquoted whitespace (for
 * EXPOSE, VOLUME, COPY/ADD sources given in shell form). */
int st_df_expand_words(const char *word, const struct st_kvlist *vars, char escape, char ***out,
		       size_t *n, struct st_error *err);

/* .dockerignore: patterns as Docker reads them (comments, blank lines, "!"
 * exceptions, "**", leading "/" and "./" removed, paths cleaned). */
struct st_dockerignore {
	char **patterns;
	bool *exclude; /* false for "!" exceptions */
	size_t n;
};

int st_dockerignore_parse(const char *text, size_t len, struct st_dockerignore *out, struct st_error *err);
/* Is relpath ("dir/file", no leading slash) ignored? Later patterns win. */
bool st_dockerignore_match(const struct st_dockerignore *di, const char *relpath);
void st_dockerignore_free(struct st_dockerignore *di);

#endif
