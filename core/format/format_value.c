/* core/format: values: printing them as Go's fmt prints decoded JSON,
 * their truth and type names, the values a run makes, and its errors. */
#include <inttypes.h>
#include <math.h>

#include "format/format_int.h"

int fmt_exec_error(struct fmt_exec *x, const struct fmt_node *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *t = x->f->text, *nl = NULL;
	for (const char *q = t; q < t + n->pos; q++)
		if (*q == '\n')
			nl = q;
	size_t col = nl ? (size_t)(t + n->pos - nl - 1) : n->pos;
	return st_error_fail(x->err, EINVAL, "template: :%d:%zu: executing \"\" at <%.*s>: %s", n->line, col,
			     (int)(n->end - n->start), t + n->start, msg);
}

json_object *fmt_keep(struct fmt_exec *x, json_object *o)
{
	if (!o)
		return NULL;
	if (x->ntmp == x->captmp) {
		size_t cap = x->captmp ? x->captmp * 2 : 32;
		json_object **nt = realloc(x->tmp, cap * sizeof(*nt));
		if (!nt) {
			json_object_put(o);
			return NULL;
		}
		x->tmp = nt;
		x->captmp = cap;
	}
	x->tmp[x->ntmp++] = o;
	return o;
}

bool fmt_truth(struct fmt_val v)
{
	if (v.missing || !v.o)
		return false;
	switch (json_object_get_type(v.o)) {
	case json_type_boolean:
		return json_object_get_boolean(v.o);
	case json_type_int:
		return json_object_get_int64(v.o) != 0;
	case json_type_double:
		return json_object_get_double(v.o) != 0;
	case json_type_string:
		return json_object_get_string_len(v.o) > 0;
	case json_type_array:
		return json_object_array_length(v.o) > 0;
	case json_type_object:
		return json_object_object_length(v.o) > 0;
	default:
		return false;
	}
}

const char *fmt_type_name(struct fmt_val v)
{
	if (v.missing)
		return "<no value>";
	switch (json_object_get_type(v.o)) {
	case json_type_null:
		return "<nil>";
	case json_type_boolean:
		return "bool";
	case json_type_int:
		return "int";
	case json_type_double:
		return "float64";
	case json_type_string:
		return "string";
	case json_type_array:
		return "[]interface {}";
	default:
		return "map[string]interface {}";
	}
}

/* Go's %v of a float64: the shortest form that reads back, exponent only
 * below 1e-4 or from 1e21 */
static void print_double(FILE *f, double d)
{
	char buf[64];
	if (isnan(d) || isinf(d)) {
		fputs(isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf", f);
		return;
	}
	int p = 1;
	for (; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*e", p - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	snprintf(buf, sizeof(buf), "%.*e", p - 1, d);
	int exp = atoi(strchr(buf, 'e') + 1);
	if (exp < -4 || exp >= 21) {
		/* Go writes e+06 as e+06: two exponent digits at least, as C */
		fputs(buf, f);
		return;
	}
	int decimals = p - 1 - exp;
	fprintf(f, "%.*f", decimals > 0 ? decimals : 0, d);
}

static int cmp_keys(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

void fmt_print_val(FILE *f, struct fmt_val v)
{
	if (v.missing) {
		fputs("<no value>", f);
		return;
	}
	switch (json_object_get_type(v.o)) {
	case json_type_null:
		fputs("<nil>", f);
		break;
	case json_type_boolean:
		fputs(json_object_get_boolean(v.o) ? "true" : "false", f);
		break;
	case json_type_int:
		fprintf(f, "%" PRId64, json_object_get_int64(v.o));
		break;
	case json_type_double:
		print_double(f, json_object_get_double(v.o));
		break;
	case json_type_string:
		fwrite(json_object_get_string(v.o), 1, (size_t)json_object_get_string_len(v.o), f);
		break;
	case json_type_array:
		fputc('[', f);
		for (size_t i = 0; i < json_object_array_length(v.o); i++) {
			if (i)
				fputc(' ', f);
			fmt_print_val(f, (struct fmt_val){.o = json_object_array_get_idx(v.o, i)});
		}
		fputc(']', f);
		break;
	case json_type_object: {
		size_t n = (size_t)json_object_object_length(v.o), k = 0;
		const char **keys = malloc((n ? n : 1) * sizeof(*keys));
		if (!keys)
			return;
		json_object_object_foreach(v.o, key, val)
		{
			(void)val;
			keys[k++] = key;
		}
		qsort(keys, n, sizeof(*keys), cmp_keys);
		fputs("map[", f);
		for (size_t i = 0; i < n; i++) {
			json_object *e = NULL;
			json_object_object_get_ex(v.o, keys[i], &e);
			fprintf(f, "%s%s:", i ? " " : "", keys[i]);
			fmt_print_val(f, (struct fmt_val){.o = e});
		}
		fputc(']', f);
		free(keys);
		break;
	}
	}
}

char *fmt_val_string(struct fmt_val v)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	fmt_print_val(f, v);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}
