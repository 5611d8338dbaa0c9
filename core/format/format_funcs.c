/* core/format: the template functions (Go's builtins and Docker's additions). */
#include <ctype.h>
#include <inttypes.h>

#include "format/format_int.h"

static bool is_type(struct fmt_val v, enum json_type t) { return !v.missing && json_object_get_type(v.o) == t; }
static bool is_number(struct fmt_val v) { return is_type(v, json_type_int) || is_type(v, json_type_double); }

static int ret_string(struct fmt_exec *x, char *s, struct fmt_val *out)
{
	if (!s)
		return st_error_set(x->err, ENOMEM, "template");
	*out = (struct fmt_val){.o = fmt_keep(x, json_object_new_string(s))};
	free(s);
	return 0;
}

/* a string argument; other values in their printed form */
static char *arg_string(struct fmt_val v)
{
	if (is_type(v, json_type_string))
		return strdup(json_object_get_string(v.o));
	return fmt_val_string(v);
}

static int f_json(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	const char *s = a[0].missing ? "null"
				     : json_object_to_json_string_ext(a[0].o, JSON_C_TO_STRING_PLAIN |
									       JSON_C_TO_STRING_NOSLASHESCAPE);
	return ret_string(x, strdup(s ? s : "null"), out);
}

static int f_index(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	struct fmt_val v = a[0];
	for (size_t i = 1; i < n; i++) {
		if (v.missing || !v.o)
			return fmt_exec_error(x, at, "error calling index: index of untyped nil");
		if (is_type(v, json_type_array)) {
			if (!is_type(a[i], json_type_int))
				return fmt_exec_error(x, at, "error calling index: cannot index slice/array with type %s",
						      fmt_type_name(a[i]));
			int64_t k = json_object_get_int64(a[i].o);
			if (k < 0 || (size_t)k >= json_object_array_length(v.o))
				return fmt_exec_error(x, at, "error calling index: index out of range: %" PRId64, k);
			v = (struct fmt_val){.o = json_object_array_get_idx(v.o, (size_t)k)};
		} else if (is_type(v, json_type_object)) {
			if (!is_type(a[i], json_type_string))
				return fmt_exec_error(x, at, "error calling index: value has type %s; should be string",
						      fmt_type_name(a[i]));
			json_object *e;
			/* a missing key: the zero value (nil), as Go's index of a map */
			v = (struct fmt_val){.o = json_object_object_get_ex(v.o, json_object_get_string(a[i].o), &e) ? e : NULL};
		} else {
			return fmt_exec_error(x, at, "error calling index: can't index item of type %s", fmt_type_name(v));
		}
	}
	*out = v;
	return 0;
}

static int f_len(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	int64_t l;
	if (is_type(a[0], json_type_string))
		l = json_object_get_string_len(a[0].o);
	else if (is_type(a[0], json_type_array))
		l = (int64_t)json_object_array_length(a[0].o);
	else if (is_type(a[0], json_type_object))
		l = json_object_object_length(a[0].o);
	else
		return fmt_exec_error(x, at, "error calling len: len of type %s", fmt_type_name(a[0]));
	*out = (struct fmt_val){.o = fmt_keep(x, json_object_new_int64(l))};
	return 0;
}

static int f_join(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	if (!is_type(a[0], json_type_array) && !(a[0].o == NULL && !a[0].missing))
		return fmt_exec_error(x, at, "wrong type for value; expected []string; got %s", fmt_type_name(a[0]));
	_cleanup_(st_freep) char *sep = arg_string(a[1]);
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	if (!f || !sep)
		return st_error_set(x->err, ENOMEM, "template");
	for (size_t i = 0; a[0].o && i < json_object_array_length(a[0].o); i++) {
		if (i)
			fputs(sep, f);
		fmt_print_val(f, (struct fmt_val){.o = json_object_array_get_idx(a[0].o, i)});
	}
	fclose(f);
	return ret_string(x, s, out);
}

static int f_split(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	_cleanup_(st_freep) char *s = arg_string(a[0]);
	_cleanup_(st_freep) char *sep = arg_string(a[1]);
	if (!s || !sep)
		return st_error_set(x->err, ENOMEM, "template");
	json_object *arr = fmt_keep(x, json_object_new_array());
	size_t sl = strlen(sep);
	const char *p = s;
	if (!sl) { /* Go: every UTF-8 character on its own */
		while (*p) {
			size_t k = 1;
			while (((unsigned char)p[k] & 0xc0) == 0x80)
				k++;
			json_object_array_add(arr, json_object_new_string_len(p, (int)k));
			p += k;
		}
	} else {
		for (const char *q; (q = strstr(p, sep)); p = q + sl)
			json_object_array_add(arr, json_object_new_string_len(p, (int)(q - p)));
		json_object_array_add(arr, json_object_new_string(p));
	}
	*out = (struct fmt_val){.o = arr};
	return 0;
}

/* upper, lower, title: ASCII letters (Go maps every Unicode letter) */
static int f_case(struct fmt_exec *x, struct fmt_val *a, struct fmt_val *out, int mode)
{
	char *s = arg_string(a[0]);
	bool start = true;
	for (char *q = s; q && *q; q++) {
		unsigned char c = (unsigned char)*q;
		if (mode == 0)
			*q = (char)toupper(c);
		else if (mode == 1)
			*q = (char)tolower(c);
		else if (start)
			*q = (char)toupper(c);
		start = c < 0x80 && !isalnum(c) && c != '_' && c != '\'';
	}
	return ret_string(x, s, out);
}
static int f_upper(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	return f_case(x, a, out, 0);
}
static int f_lower(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	return f_case(x, a, out, 1);
}
static int f_title(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	return f_case(x, a, out, 2);
}

/* print: spaces between operands when neither is a string; println: always, and a newline */
static int print_args(struct fmt_exec *x, struct fmt_val *a, size_t n, bool ln, struct fmt_val *out)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	if (!f)
		return st_error_set(x->err, ENOMEM, "template");
	for (size_t i = 0; i < n; i++) {
		if (i && (ln || (!is_type(a[i - 1], json_type_string) && !is_type(a[i], json_type_string))))
			fputc(' ', f);
		fmt_print_val(f, a[i]);
	}
	if (ln)
		fputc('\n', f);
	fclose(f);
	return ret_string(x, s, out);
}
static int f_print(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	return print_args(x, a, n, false, out);
}
static int f_println(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	return print_args(x, a, n, true, out);
}

static void quote(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *e = strchr("\a\b\f\n\r\t\v\\\"", c);
		if (c && e)
			fprintf(f, "\\%c", "abfnrtv\\\""[e - "\a\b\f\n\r\t\v\\\""]);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* printf: the verbs %v %s %d %q %f %g %e %x %t %% with flags, width and precision */
static int f_printf(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	_cleanup_(st_freep) char *fs = arg_string(a[0]);
	char *s = NULL;
	size_t len = 0, ai = 1;
	FILE *f = open_memstream(&s, &len);
	if (!f || !fs)
		return st_error_set(x->err, ENOMEM, "template");
	for (const char *p = fs; *p; p++) {
		if (*p != '%') {
			fputc(*p, f);
			continue;
		}
		char spec[32] = "%";
		size_t sl = 1;
		while (p[1] && strchr("+-# 0123456789.", p[1]) && sl < 24)
			spec[sl++] = *++p;
		char verb = *++p;
		if (!verb) {
			fputs("%!(NOVERB)", f);
			break;
		}
		if (verb == '%') {
			fputc('%', f);
			continue;
		}
		if (ai >= n) {
			fprintf(f, "%%!%c(MISSING)", verb);
			continue;
		}
		struct fmt_val v = a[ai++];
		if ((verb == 'd' || verb == 'x' || verb == 'X') && is_type(v, json_type_int)) {
			snprintf(spec + sl, sizeof(spec) - sl, "ll%c", verb == 'd' ? 'd' : verb);
			fprintf(f, spec, (long long)json_object_get_int64(v.o));
		} else if (strchr("feEgG", verb) && is_number(v)) {
			snprintf(spec + sl, sizeof(spec) - sl, "%c", verb);
			fprintf(f, spec, json_object_get_double(v.o));
		} else if (verb == 'q' && is_type(v, json_type_string)) {
			quote(f, json_object_get_string(v.o));
		} else if (verb == 't' && is_type(v, json_type_boolean)) {
			fputs(json_object_get_boolean(v.o) ? "true" : "false", f);
		} else if (verb == 's' || verb == 'v' || (verb == 'x' && is_type(v, json_type_string))) {
			_cleanup_(st_freep) char *vs = arg_string(v);
			if (verb == 'x') {
				for (const char *q = vs; q && *q; q++)
					fprintf(f, "%02x", (unsigned char)*q);
			} else {
				snprintf(spec + sl, sizeof(spec) - sl, "s");
				fprintf(f, spec, vs ? vs : "");
			}
		} else {
			_cleanup_(st_freep) char *vs = fmt_val_string(v);
			fprintf(f, "%%!%c(%s=%s)", verb, fmt_type_name(v), vs ? vs : "");
		}
	}
	fclose(f);
	return ret_string(x, s, out);
}

static int f_not(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	*out = (struct fmt_val){.o = fmt_keep(x, json_object_new_boolean(!fmt_truth(a[0])))};
	return 0;
}

/* and, or: evaluated (short-circuit) by the executor */
static int f_andor(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	*out = a[n - 1];
	return 0;
}

/* -1, 0, 1; or 2 when the kinds cannot be compared (message set) */
static int compare(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val a, struct fmt_val b, bool order,
		   int *res)
{
	if (is_number(a) && is_number(b)) {
		if (is_type(a, json_type_int) && is_type(b, json_type_int)) {
			int64_t p = json_object_get_int64(a.o), q = json_object_get_int64(b.o);
			*res = (p > q) - (p < q);
		} else {
			double p = json_object_get_double(a.o), q = json_object_get_double(b.o);
			*res = (p > q) - (p < q);
		}
		return 0;
	}
	if (is_type(a, json_type_string) && is_type(b, json_type_string)) {
		int c = strcmp(json_object_get_string(a.o), json_object_get_string(b.o));
		*res = (c > 0) - (c < 0);
		return 0;
	}
	if (!order && is_type(a, json_type_boolean) && is_type(b, json_type_boolean)) {
		*res = json_object_get_boolean(a.o) != json_object_get_boolean(b.o);
		return 0;
	}
	const char *fn = order ? "lt" : "eq";
	if (a.missing || b.missing || !a.o || !b.o || is_type(a, json_type_array) || is_type(a, json_type_object) ||
	    (order && is_type(a, json_type_boolean)))
		return fmt_exec_error(x, at, "error calling %s: invalid type for comparison", fn);
	return fmt_exec_error(x, at, "error calling %s: incompatible types for comparison", fn);
}

static int f_cmp(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	const char *name = at->kids[0]->str;
	bool r = false;
	int c, rc;
	if (!strcmp(name, "eq")) {
		for (size_t i = 1; i < n && !r; i++) {
			if ((rc = compare(x, at, a[0], a[i], false, &c)) < 0)
				return rc;
			r = c == 0;
		}
	} else {
		if ((rc = compare(x, at, a[0], a[1], strcmp(name, "ne") != 0, &c)) < 0)
			return rc;
		r = !strcmp(name, "ne") ? c != 0 : !strcmp(name, "lt") ? c < 0 : !strcmp(name, "le") ? c <= 0
										   : !strcmp(name, "gt") ? c > 0 : c >= 0;
	}
	*out = (struct fmt_val){.o = fmt_keep(x, json_object_new_boolean(r))};
	return 0;
}

/* Docker's truncate (bytes) and pad */
static int f_truncate(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	if (!is_type(a[1], json_type_int))
		return fmt_exec_error(x, at, "wrong type for value; expected int; got %s", fmt_type_name(a[1]));
	char *s = arg_string(a[0]);
	int64_t l = json_object_get_int64(a[1].o);
	if (s && l >= 0 && (size_t)l < strlen(s))
		s[l] = 0;
	return ret_string(x, s, out);
}

static int f_pad(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *a, size_t n, struct fmt_val *out)
{
	if (!is_type(a[1], json_type_int) || !is_type(a[2], json_type_int))
		return fmt_exec_error(x, at, "wrong type for value; expected int; got %s",
				      fmt_type_name(is_type(a[1], json_type_int) ? a[2] : a[1]));
	_cleanup_(st_freep) char *s = arg_string(a[0]);
	int64_t l = json_object_get_int64(a[1].o), r = json_object_get_int64(a[2].o);
	if (!s || !*s || l < 0 || r < 0 || l > 4096 || r > 4096)
		return ret_string(x, s ? strdup(s) : NULL, out);
	char *p;
	if (asprintf(&p, "%*s%s%*s", (int)l, "", s, (int)r, "") < 0)
		p = NULL;
	return ret_string(x, p, out);
}

const struct fmt_func fmt_funcs[] = {
	{"json", f_json, 1, 1, true},          {"index", f_index, 1, -1, false},  {"len", f_len, 1, 1, false},
	{"join", f_join, 2, 2, true},          {"split", f_split, 2, 2, true},    {"upper", f_upper, 1, 1, true},
	{"lower", f_lower, 1, 1, true},        {"title", f_title, 1, 1, true},    {"print", f_print, 0, -1, false},
	{"println", f_println, 0, -1, false},  {"printf", f_printf, 1, -1, false}, {"not", f_not, 1, 1, false},
	{"and", f_andor, 1, -1, false},        {"or", f_andor, 1, -1, false},     {"eq", f_cmp, 2, -1, false},
	{"ne", f_cmp, 2, 2, false},            {"lt", f_cmp, 2, 2, false},        {"le", f_cmp, 2, 2, false},
	{"gt", f_cmp, 2, 2, false},            {"ge", f_cmp, 2, 2, false},        {"truncate", f_truncate, 2, 2, true},
	{"pad", f_pad, 3, 3, false},           {0, 0, 0, 0, false},
};

int fmt_func_find(const char *name, size_t len)
{
	for (int i = 0; fmt_funcs[i].name; i++)
		if (strlen(fmt_funcs[i].name) == len && !memcmp(fmt_funcs[i].name, name, len))
			return i;
	return -1;
}
