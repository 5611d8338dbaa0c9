/* libFuzzer harness for --format templates (core/format): the input is a
 * template, optionally followed by a NUL and the JSON document to run it on
 * (else a fixed one with every kind of value). Compiling, running it and
 * running its table header must never crash, and a refusal must say why in
 * Go's shape ("template: :LINE..."). Templates with more than three range
 * actions are skipped: nested ranges over the input multiply the output,
 * which is the template's meaning, not a bug. Corpus: tests/fuzz/corpus/format/.
 *   make fuzz   (scripts/fuzz.sh) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"

static const char ffo_dot[] = "{\"Id\":\"sha256:ab\",\"RepoTags\":[\"a:1\",\"b:2\"],\"Size\":12,\"F\":1.5,"
			      "\"Config\":{\"Env\":[\"A=b\"],\"Labels\":null,\"Tty\":false},\"M\":{\"b\":\"2\",\"a\":{}},"
			      "\"E\":\"\",\"Arr\":[]}";

static void ffo_check(int rc, const struct st_error *err)
{
	if (rc < 0 && (!err->code || strncmp(err->msg, "template: :", 11) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nul = memchr(data, 0, size);
	size_t tl = nul ? (size_t)(nul - (const char *)data) : size;
	char *tmpl = malloc(tl + 1);
	if (!tmpl)
		return 0;
	memcpy(tmpl, data, tl);
	tmpl[tl] = 0;
	int ranges = 0;
	for (const char *p = tmpl; (p = strstr(p, "range")); p++)
		ranges++;
	json_object *dot = NULL;
	if (nul) {
		struct json_tokener *tok = json_tokener_new();
		dot = tok ? json_tokener_parse_ex(tok, nul + 1, (int)(size - tl - 1)) : NULL;
		json_tokener_free(tok);
	} else {
		dot = json_tokener_parse(ffo_dot);
	}
	struct st_error err = {0};
	struct st_format *f;
	int rc = st_format_compile(tmpl, &f, &err);
	ffo_check(rc, &err);
	if (rc == 0 && ranges <= 3) {
		FILE *out = fopen("/dev/null", "w");
		if (!out)
			abort();
		memset(&err, 0, sizeof(err));
		ffo_check(st_format_exec(f, dot, out, &err), &err);
		json_object *h = json_tokener_parse("{\"Id\":\"IMAGE ID\"}");
		memset(&err, 0, sizeof(err));
		ffo_check(st_format_exec_header(f, h, out, &err), &err);
		json_object_put(h);
		fclose(out);
	}
	if (rc == 0)
		st_format_free(f);
	json_object_put(dot);
	free(tmpl);
	return 0;
}
