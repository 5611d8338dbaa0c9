/* libFuzzer harness for the Dockerfile parser, the word expanders and the
 * .dockerignore matcher. The input is read three ways: as a Dockerfile
 * (every parsed argument and flag is then expanded, ONBUILD trigger text
 * parsed back), as one word to expand,
 * and as a .dockerignore matched against paths taken from its own lines.
 * Structural invariants of the results are checked with abort().
 *   clang -fsanitize=fuzzer,address -Iinclude -Icore \
 *     tests/fuzz/fuzz_dockerfile.c core/builder/{dockerfile,dfglob,shellwords,dockerignore}.c core/base/error.c -ljson-c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/dockerfile.h"

static void fuzz_expand(const char *word, const struct st_kvlist *vars, char esc)
{
	struct st_error err;
	char *out = NULL;
	if (st_df_expand(word, vars, esc, &out, &err) == 0) {
		if (!out)
			abort();
		free(out);
	} else if (out || err.code == 0) {
		abort();
	}
	char **w = NULL;
	size_t n = 0;
	if (st_df_expand_words(word, vars, esc, &w, &n, &err) == 0) {
		if (!w || w[n])
			abort();
		for (size_t i = 0; i < n; i++) {
			if (!w[i][0]) /* splitting never yields an empty word */
				abort();
			free(w[i]);
		}
		free(w);
	} else if (w || n) {
		abort();
	}
}

static void fuzz_instr(const struct st_df_instr *in, const struct st_kvlist *vars, char esc)
{
	if (!in->cmd || !in->original || in->line < 1 || (in->nargs && in->args[in->nargs]))
		abort();
	for (size_t i = 0; i < in->nargs; i++)
		fuzz_expand(in->args[i], vars, esc);
	for (size_t i = 0; i < in->nflags; i++) {
		if (!in->flags[i].name || !in->flags[i].value)
			abort();
		fuzz_expand(in->flags[i].value, vars, esc);
	}
	if (in->sub) {
		if (strcmp(in->cmd, "ONBUILD") != 0 || in->sub->sub || in->nargs != 1)
			abort();
		fuzz_instr(in->sub, vars, esc);
		/* the stored trigger text parses back to the same instruction */
		struct st_df_instr t;
		struct st_error err;
		if (esc == '\\') {
			if (st_df_parse_trigger(in->args[0], NULL, &t, &err) < 0 || strcmp(t.cmd, in->sub->cmd) != 0 ||
			    t.nargs != in->sub->nargs || t.nflags != in->sub->nflags || t.json != in->sub->json)
				abort();
			for (size_t i = 0; i < t.nargs; i++)
				if (strcmp(t.args[i], in->sub->args[i]) != 0)
					abort();
			st_df_instr_free(&t);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_kvlist vars = {0};
	if (st_kvlist_add(&vars, "A", "a") < 0 || st_kvlist_add(&vars, "SP", " x  y ") < 0 ||
	    st_kvlist_add(&vars, "EMPTY", "%s", "") < 0 || st_kvlist_add(&vars, "P", "/usr/local/bin") < 0)
		abort();

	struct st_dockerfile df;
	struct st_error err;
	if (st_dockerfile_parse((const char *)data, size, "Dockerfile", &df, &err) == 0) {
		if (df.n == 0 || (df.escape != '\\' && df.escape != '`'))
			abort();
		for (size_t i = 0; i < df.n; i++)
			fuzz_instr(&df.v[i], &vars, df.escape);
		st_dockerfile_free(&df);
	} else if (err.code == 0 || strncmp(err.msg, "Dockerfile:", 11) != 0) {
		abort();
	}

	/* the whole input as one word (up to a NUL, as a C string ends) */
	char *text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_expand(text, &vars, '\\');
	fuzz_expand(text, &vars, '`');

	struct st_dockerignore di;
	if (st_dockerignore_parse((const char *)data, size, &di, &err) == 0) {
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
			bool a = st_dockerignore_match(&di, line);
			bool b = st_dockerignore_match(&di, line); /* pure function */
			if (a != b)
				abort();
		}
		(void)st_dockerignore_match(&di, "a/b/c.go");
		st_dockerignore_free(&di);
	}
	free(text);
	st_kvlist_free(&vars);
	return 0;
}
