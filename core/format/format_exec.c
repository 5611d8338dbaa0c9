/* core/format: running a parsed template on a JSON value. Go's semantics
 * on decoded JSON: a missing key is an error, a field of null is no value,
 * truth is non-zero / non-empty, range walks arrays in order and objects by
 * sorted key. */
#include "format/format_int.h"

static const struct fmt_val NO_VALUE = {.missing = true};

static int push_var(struct fmt_exec *x, const char *name, struct fmt_val v)
{
	if (x->nvars == x->capvars) {
		size_t cap = x->capvars ? x->capvars * 2 : 8;
		struct fmt_var *nv = realloc(x->vars, cap * sizeof(*nv));
		if (!nv)
			return st_error_set(x->err, ENOMEM, "template");
		x->vars = nv;
		x->capvars = cap;
	}
	x->vars[x->nvars++] = (struct fmt_var){name, v};
	return 0;
}

static struct fmt_var *find_var(struct fmt_exec *x, const char *name)
{
	for (size_t i = x->nvars; i > 0; i--)
		if (!strcmp(x->vars[i - 1].name, name))
			return &x->vars[i - 1];
	return &x->vars[0]; /* "$": the parser let no undeclared name through */
}

static char *upper_dup(const char *s)
{
	char *u = strdup(s);
	for (char *q = u; q && *q; q++)
		if (*q >= 'a' && *q <= 'z')
			*q = (char)(*q - 'a' + 'A');
	return u;
}

/* names applied to v, one after the other */
static int eval_names(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val v, char *const *names,
		      size_t n, struct fmt_val *out)
{
	for (size_t i = 0; i < n; i++) {
		if (v.missing || !v.o) {
			v = NO_VALUE; /* a field of nothing or of null: no value, as Go's nil map */
			continue;
		}
		if (json_object_get_type(v.o) != json_type_object)
			return fmt_exec_error(x, at, "can't evaluate field %s in type %s", names[i], fmt_type_name(v));
		json_object *o;
		if (!json_object_object_get_ex(v.o, names[i], &o))
			return fmt_exec_error(x, at, "map has no entry for key \"%s\"", names[i]);
		v = (struct fmt_val){.o = o};
	}
	*out = v;
	return 0;
}

/* a header row: a field prints its column's title */
static int header_field(struct fmt_exec *x, const struct fmt_node *n, struct fmt_val *out)
{
	const char *name = n->names[n->nnames - 1];
	json_object *h;
	if (n->nnames == 1 && x->headers && json_object_object_get_ex(x->headers, name, &h)) {
		*out = (struct fmt_val){.o = h};
		return 0;
	}
	char *u = upper_dup(name);
	*out = (struct fmt_val){.o = u ? fmt_keep(x, json_object_new_string(u)) : NULL};
	free(u);
	return 0;
}

static int eval_pipe(struct fmt_exec *x, const struct fmt_node *pipe, struct fmt_val dot, struct fmt_val *out);

static int eval_arg(struct fmt_exec *x, const struct fmt_node *n, struct fmt_val dot, struct fmt_val *out)
{
	struct fmt_val v;
	int rc;
	switch (n->type) {
	case N_DOT:
		*out = dot;
		return 0;
	case N_FIELD:
		if (x->header)
			return header_field(x, n, out);
		return eval_names(x, n, dot, n->names, n->nnames, out);
	case N_VAR:
		return eval_names(x, n, find_var(x, n->str)->v, n->names, n->nnames, out);
	case N_CHAIN:
		if ((rc = eval_pipe(x, n->pipe, dot, &v)) < 0)
			return rc;
		return eval_names(x, n, v, n->names, n->nnames, out);
	case N_STRING:
		*out = (struct fmt_val){.o = fmt_keep(x, json_object_new_string_len(n->str, (int)n->len))};
		return 0;
	case N_NUMBER: {
		char *e;
		long long i = strtoll(n->str, &e, 0);
		if (*e)
			*out = (struct fmt_val){.o = fmt_keep(x, json_object_new_double(strtod(n->str, NULL)))};
		else
			*out = (struct fmt_val){.o = fmt_keep(x, json_object_new_int64(i))};
		return 0;
	}
	case N_BOOL:
		*out = (struct fmt_val){.o = fmt_keep(x, json_object_new_boolean(n->boolean))};
		return 0;
	case N_NIL:
		*out = (struct fmt_val){.o = NULL};
		return 0;
	case N_FUNC:
		return fmt_exec_error(x, n, "can't use %s as a value: call it", n->str);
	default:
		return fmt_exec_error(x, n, "can't evaluate");
	}
}

static int eval_command(struct fmt_exec *x, const struct fmt_node *cmd, struct fmt_val dot, const struct fmt_val *final,
			struct fmt_val *out)
{
	const struct fmt_node *first = cmd->kids[0];
	if (first->type != N_FUNC) {
		if ((cmd->nkids > 1 || final) && first->type == N_FIELD)
			return fmt_exec_error(x, first, "%s is not a method but has arguments", first->names[first->nnames - 1]);
		if (cmd->nkids > 1 || final)
			return fmt_exec_error(x, first, "can't give argument to non-function %.*s",
					      (int)(first->end - first->start), x->f->text + first->start);
		return eval_arg(x, first, dot, out);
	}
	const struct fmt_func *fn = &fmt_funcs[first->func];
	size_t n = cmd->nkids - 1 + (final ? 1 : 0);
	if ((int)n < fn->min || (fn->max >= 0 && (int)n > fn->max)) {
		if (fn->min == fn->max)
			return fmt_exec_error(x, cmd, "wrong number of args for %s: want %d got %zu", fn->name, fn->min, n);
		return fmt_exec_error(x, cmd, "wrong number of args for %s: want at least %d got %zu", fn->name,
				      fn->min, n);
	}
	struct fmt_val args[n ? n : 1];
	int rc;
	if (!strcmp(fn->name, "and") || !strcmp(fn->name, "or")) {
		/* short-circuit, as Go 1.18 */
		bool is_and = fn->name[0] == 'a';
		for (size_t i = 0; i < n; i++) {
			if (i + 1 < cmd->nkids) {
				if ((rc = eval_arg(x, cmd->kids[i + 1], dot, &args[i])) < 0)
					return rc;
			} else {
				args[i] = *final;
			}
			if (fmt_truth(args[i]) != is_and || i + 1 == n) {
				*out = args[i];
				return 0;
			}
		}
	}
	for (size_t i = 0; i + 1 < cmd->nkids; i++)
		if ((rc = eval_arg(x, cmd->kids[i + 1], dot, &args[i])) < 0)
			return rc;
	if (final)
		args[n - 1] = *final;
	if (x->header && fn->header_identity) {
		*out = args[0];
		return 0;
	}
	return fn->fn(x, cmd, args, n, out);
}

static int eval_pipe(struct fmt_exec *x, const struct fmt_node *pipe, struct fmt_val dot, struct fmt_val *out)
{
	struct fmt_val v = NO_VALUE;
	int rc;
	if (++x->depth > 1000) {
		x->depth--;
		return fmt_exec_error(x, pipe, "exceeded maximum template depth (1000)");
	}
	for (size_t i = pipe->ndecl; i < pipe->nkids; i++) {
		struct fmt_val in = v;
		if ((rc = eval_command(x, pipe->kids[i], dot, i > pipe->ndecl ? &in : NULL, &v)) < 0) {
			x->depth--;
			return rc;
		}
	}
	x->depth--;
	for (size_t k = 0; k < pipe->ndecl; k++) {
		if (pipe->declare) {
			if ((rc = push_var(x, pipe->kids[k]->str, v)) < 0)
				return rc;
		} else {
			find_var(x, pipe->kids[k]->str)->v = v;
		}
	}
	*out = v;
	return 0;
}

static int walk(struct fmt_exec *x, const struct fmt_node *n, struct fmt_val dot);

static int walk_range(struct fmt_exec *x, const struct fmt_node *n, struct fmt_val dot)
{
	struct fmt_val v;
	size_t mark = x->nvars;
	int rc = eval_pipe(x, n->pipe, dot, &v);
	if (rc < 0)
		return rc;
	/* the declared variables are the key (if two) and the element */
	const struct fmt_node *pipe = n->pipe;
	size_t count = 0;
	enum json_type t = v.missing ? json_type_null : json_object_get_type(v.o);
	if (t == json_type_array) {
		count = json_object_array_length(v.o);
	} else if (t == json_type_object) {
		count = (size_t)json_object_object_length(v.o);
	} else if (t != json_type_null) {
		x->nvars = mark;
		char *vs = fmt_val_string(v);
		rc = fmt_exec_error(x, pipe, "range can't iterate over %s", vs ? vs : "value");
		free(vs);
		return rc;
	}
	const char **keys = NULL;
	if (t == json_type_object && count) {
		if (!(keys = malloc(count * sizeof(*keys))))
			return st_error_set(x->err, ENOMEM, "template");
		size_t k = 0;
		json_object_object_foreach(v.o, key, val)
		{
			(void)val;
			keys[k++] = key;
		}
		for (size_t i = 1; i < count; i++)
			for (size_t j = i; j > 0 && strcmp(keys[j], keys[j - 1]) < 0; j--) {
				const char *s = keys[j];
				keys[j] = keys[j - 1];
				keys[j - 1] = s;
			}
	}
	x->nvars = mark;
	for (size_t i = 0; i < count && rc == 0; i++) {
		struct fmt_val elem, key;
		if (keys) {
			json_object *e = NULL;
			json_object_object_get_ex(v.o, keys[i], &e);
			elem = (struct fmt_val){.o = e};
			key = (struct fmt_val){.o = fmt_keep(x, json_object_new_string(keys[i]))};
		} else {
			elem = (struct fmt_val){.o = json_object_array_get_idx(v.o, i)};
			key = (struct fmt_val){.o = fmt_keep(x, json_object_new_int64((int64_t)i))};
		}
		size_t m = x->nvars;
		if (pipe->ndecl == 1)
			rc = push_var(x, pipe->kids[0]->str, elem);
		else if (pipe->ndecl == 2 && (rc = push_var(x, pipe->kids[0]->str, key)) == 0)
			rc = push_var(x, pipe->kids[1]->str, elem);
		if (rc == 0)
			rc = walk(x, n->list, elem);
		x->nvars = m;
	}
	free(keys);
	if (rc == 0 && count == 0 && n->elselist)
		rc = walk(x, n->elselist, dot);
	x->nvars = mark;
	return rc;
}

static int walk(struct fmt_exec *x, const struct fmt_node *n, struct fmt_val dot)
{
	struct fmt_val v;
	size_t mark = x->nvars;
	int rc = 0;
	switch (n->type) {
	case N_LIST:
		for (size_t i = 0; i < n->nkids && rc == 0; i++)
			rc = walk(x, n->kids[i], dot);
		return rc;
	case N_TEXT:
		fwrite(n->str, 1, n->len, x->out);
		return 0;
	case N_ACTION:
		if ((rc = eval_pipe(x, n->pipe, dot, &v)) == 0 && !n->pipe->ndecl)
			fmt_print_val(x->out, v);
		return rc;
	case N_IF:
	case N_WITH:
		if ((rc = eval_pipe(x, n->pipe, dot, &v)) == 0) {
			if (fmt_truth(v))
				rc = walk(x, n->list, n->type == N_WITH ? v : dot);
			else if (n->elselist)
				rc = walk(x, n->elselist, dot);
		}
		x->nvars = mark;
		return rc;
	case N_RANGE:
		return walk_range(x, n, dot);
	default:
		return fmt_exec_error(x, n, "unknown node");
	}
}

static int run(const struct st_format *f, json_object *dot, json_object *headers, bool header, FILE *out,
	       struct st_error *err)
{
	struct fmt_exec x = {.f = f, .out = out, .err = err, .headers = headers, .header = header};
	struct fmt_val d = {.o = header ? headers : dot};
	int rc = push_var(&x, "$", d);
	if (rc == 0)
		rc = walk(&x, f->root, d);
	for (size_t i = 0; i < x.ntmp; i++)
		json_object_put(x.tmp[i]);
	free(x.tmp);
	free(x.vars);
	return rc;
}

int st_format_exec(const struct st_format *f, json_object *dot, FILE *out, struct st_error *err)
{
	return run(f, dot, NULL, false, out, err);
}

int st_format_exec_header(const struct st_format *f, json_object *headers, FILE *out, struct st_error *err)
{
	return run(f, NULL, headers, true, out, err);
}

int st_format_compile(const char *tmpl, struct st_format **out, struct st_error *err)
{
	struct st_format *f = calloc(1, sizeof(*f));
	if (!f || !(f->text = strdup(tmpl))) {
		free(f);
		return st_error_set(err, ENOMEM, "template");
	}
	int rc = fmt_parse(f->text, &f->root, err);
	if (rc < 0) {
		free(f->text);
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

void st_format_free(struct st_format *f)
{
	if (!f)
		return;
	fmt_node_free(f->root);
	free(f->text);
	free(f);
}
