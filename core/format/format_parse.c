/* core/format: the parser, tokens to a tree, with Go's checks at parse
 * time: functions defined, variables declared, every block ended. */
#include "format/format_int.h"

struct parser {
	const char *text;
	struct fmt_tokens tk;
	size_t i;
	const char **vars; /* declared variable names, innermost last */
	size_t nvars, capvars;
	struct st_error *err;
	int depth;
};

static struct fmt_token *peek(struct parser *p) { return &p->tk.v[p->i]; }
static struct fmt_token *next(struct parser *p)
{
	struct fmt_token *t = &p->tk.v[p->i];
	if (t->type != TK_EOF)
		p->i++;
	return t;
}

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t at = p->i > 0 ? p->i - 1 : 0;
	return st_error_fail(p->err, EINVAL, "template: :%d: %s", p->tk.v[at].line, msg);
}

static struct fmt_node *node_new(enum fmt_node_type type, const struct fmt_token *t)
{
	struct fmt_node *n = calloc(1, sizeof(*n));
	if (n) {
		n->type = type;
		n->pos = n->start = t ? t->pos : 0;
		n->end = t ? t->end : 0;
		n->line = t ? t->line : 1;
	}
	return n;
}

static int add_kid(struct fmt_node *n, struct fmt_node *k)
{
	struct fmt_node **nk = realloc(n->kids, (n->nkids + 1) * sizeof(*nk));
	if (!nk) {
		fmt_node_free(k);
		return -ENOMEM;
	}
	n->kids = nk;
	n->kids[n->nkids++] = k;
	return 0;
}

static int add_name(struct fmt_node *n, const char *name)
{
	char **nn = realloc(n->names, (n->nnames + 1) * sizeof(*nn));
	if (!nn)
		return -ENOMEM;
	n->names = nn;
	if (!(n->names[n->nnames] = strdup(name)))
		return -ENOMEM;
	n->nnames++;
	return 0;
}

static int set_str(struct fmt_node *n, const char *s, size_t len)
{
	if (!(n->str = malloc(len + 1)))
		return -ENOMEM;
	memcpy(n->str, s, len);
	n->str[len] = 0;
	n->len = len;
	return 0;
}

static const char *tok_desc(const struct fmt_token *t, char *buf, size_t len)
{
	if (t->type == TK_EOF)
		return "EOF";
	if (t->type == TK_RIGHT)
		return "\"}}\"";
	snprintf(buf, len, "\"%s\"", t->val);
	return buf;
}

static int push_var(struct parser *p, const char *name)
{
	if (p->nvars == p->capvars) {
		size_t cap = p->capvars ? p->capvars * 2 : 8;
		const char **nv = realloc(p->vars, cap * sizeof(*nv));
		if (!nv)
			return st_error_set(p->err, ENOMEM, "template");
		p->vars = nv;
		p->capvars = cap;
	}
	p->vars[p->nvars++] = name;
	return 0;
}

static bool var_known(struct parser *p, const char *name)
{
	if (!strcmp(name, "$"))
		return true;
	for (size_t i = p->nvars; i > 0; i--)
		if (!strcmp(p->vars[i - 1], name))
			return true;
	return false;
}

static int parse_pipeline(struct parser *p, const char *ctx, enum fmt_tok close, struct fmt_node **out);

/* A term and the fields chained to it without a space: .A.B, $x.A, (...).A */
static int parse_operand(struct parser *p, struct fmt_node **out)
{
	struct fmt_token *t = next(p);
	struct fmt_node *n = NULL;
	int rc = -ENOMEM;
	char buf[64];
	*out = NULL;
	switch (t->type) {
	case TK_FIELD:
		if ((n = node_new(N_FIELD, t)) && (rc = add_name(n, t->val)) == 0)
			break;
		goto fail;
	case TK_DOT:
		n = node_new(N_DOT, t);
		break;
	case TK_VAR:
		if (!var_known(p, t->val)) {
			rc = perr(p, "undefined variable \"%s\"", t->val);
			goto fail;
		}
		if (!(n = node_new(N_VAR, t)) || set_str(n, t->val, t->len) < 0)
			goto fail;
		break;
	case TK_STRING:
		if (!(n = node_new(N_STRING, t)) || set_str(n, t->val, t->len) < 0)
			goto fail;
		break;
	case TK_NUMBER: {
		char *e;
		errno = 0;
		(void)strtod(t->val, &e);
		if (*e || errno) {
			rc = perr(p, "bad number syntax: \"%s\"", t->val);
			goto fail;
		}
		if (!(n = node_new(N_NUMBER, t)) || set_str(n, t->val, t->len) < 0)
			goto fail;
		break;
	}
	case TK_IDENT:
		if (!strcmp(t->val, "true") || !strcmp(t->val, "false")) {
			if ((n = node_new(N_BOOL, t)))
				n->boolean = t->val[0] == 't';
		} else if (!strcmp(t->val, "nil")) {
			n = node_new(N_NIL, t);
		} else {
			int f = fmt_func_find(t->val, t->len);
			if (f < 0) {
				rc = perr(p, "function \"%s\" not defined", t->val);
				goto fail;
			}
			if ((n = node_new(N_FUNC, t)) && set_str(n, t->val, t->len) < 0)
				goto fail;
			if (n)
				n->func = f;
		}
		break;
	case TK_LPAREN: {
		struct fmt_node *pipe;
		if ((rc = parse_pipeline(p, "parenthesized pipeline", TK_RPAREN, &pipe)) < 0)
			goto fail;
		if (!(n = node_new(N_CHAIN, t))) {
			fmt_node_free(pipe);
			goto fail;
		}
		n->pipe = pipe;
		n->end = p->tk.v[p->i - 1].end;
		break;
	}
	default:
		rc = perr(p, "unexpected %s in operand", tok_desc(t, buf, sizeof(buf)));
		goto fail;
	}
	if (!n)
		goto fail;
	bool chained = false;
	while (peek(p)->type == TK_FIELD && !peek(p)->space) {
		struct fmt_token *f = next(p);
		if (n->type == N_DOT || n->type == N_STRING || n->type == N_NUMBER || n->type == N_BOOL ||
		    n->type == N_NIL || n->type == N_FUNC) {
			rc = perr(p, "unexpected . after term \"%.*s\"", (int)(n->end - n->start), p->text + n->start);
			goto fail;
		}
		if (!chained)
			n->pos = f->pos; /* Go's position of a chain: its first chained name */
		chained = true;
		if ((rc = add_name(n, f->val)) < 0)
			goto fail;
		n->end = f->end;
	}
	*out = n;
	return 0;
fail:
	fmt_node_free(n);
	return rc == -ENOMEM ? st_error_set(p->err, ENOMEM, "template") : rc;
}

static bool ends_command(enum fmt_tok t, enum fmt_tok close) { return t == TK_PIPE || t == close || t == TK_EOF; }

static int parse_command(struct parser *p, enum fmt_tok close, struct fmt_node **out)
{
	struct fmt_node *cmd = node_new(N_COMMAND, peek(p));
	if (!cmd)
		return st_error_set(p->err, ENOMEM, "template");
	while (!ends_command(peek(p)->type, close)) {
		if (peek(p)->type == TK_RIGHT) {
			fmt_node_free(cmd);
			next(p);
			return perr(p, "unclosed left paren");
		}
		if (cmd->nkids && !peek(p)->space) { /* operands are separated by spaces */
			char buf[64];
			fmt_node_free(cmd);
			next(p);
			return perr(p, "unexpected %s in operand", tok_desc(&p->tk.v[p->i - 1], buf, sizeof(buf)));
		}
		struct fmt_node *op;
		int rc = parse_operand(p, &op);
		if (rc == 0)
			rc = add_kid(cmd, op);
		if (rc < 0) {
			fmt_node_free(cmd);
			return rc == -ENOMEM ? st_error_set(p->err, ENOMEM, "template") : rc;
		}
		cmd->end = op->end;
	}
	if (!cmd->nkids) {
		fmt_node_free(cmd);
		if (peek(p)->type == TK_EOF)
			return perr(p, close == TK_RPAREN ? "unclosed left paren" : "unclosed action");
		next(p);
		return perr(p, "missing value for command");
	}
	*out = cmd;
	return 0;
}

/* [$a [, $b] :=] command | command ... up to close ("}}" or ")"), taken. */
static int parse_pipeline(struct parser *p, const char *ctx, enum fmt_tok close, struct fmt_node **out)
{
	struct fmt_node *pipe = node_new(N_PIPE, peek(p));
	int rc;
	if (!pipe)
		return st_error_set(p->err, ENOMEM, "template");
	/* declarations: $x := or $k, $v := */
	size_t save = p->i;
	if (peek(p)->type == TK_VAR) {
		struct fmt_token *v1 = next(p), *v2 = NULL;
		if (peek(p)->type == TK_COMMA) {
			next(p);
			if (peek(p)->type == TK_VAR)
				v2 = next(p);
		}
		if (peek(p)->type == TK_DECLARE || (peek(p)->type == TK_ASSIGN && !v2)) {
			bool decl = next(p)->type == TK_DECLARE;
			if (v2 && strcmp(ctx, "range") != 0) {
				fmt_node_free(pipe);
				return perr(p, "too many declarations in %s", ctx);
			}
			struct fmt_token *vs[2] = {v1, v2};
			for (int k = 0; k < 2 && vs[k]; k++) {
				struct fmt_node *vn = node_new(N_VAR, vs[k]);
				if (!vn || set_str(vn, vs[k]->val, vs[k]->len) < 0 || add_kid(pipe, vn) < 0) {
					fmt_node_free(pipe);
					return st_error_set(p->err, ENOMEM, "template");
				}
				if (!decl && !var_known(p, vs[k]->val)) {
					fmt_node_free(pipe);
					return perr(p, "undefined variable \"%s\"", vs[k]->val);
				}
			}
			pipe->declare = decl;
			pipe->ndecl = pipe->nkids;
		} else {
			p->i = save;
		}
	}
	for (;;) {
		struct fmt_node *cmd = NULL;
		if ((rc = parse_command(p, close, &cmd)) < 0) {
			fmt_node_free(pipe);
			return rc;
		}
		if (pipe->nkids > pipe->ndecl) {
			enum fmt_node_type t = cmd->kids[0]->type;
			if (t == N_BOOL || t == N_DOT || t == N_NIL || t == N_NUMBER || t == N_STRING) {
				fmt_node_free(cmd);
				size_t stage = pipe->nkids - pipe->ndecl + 1;
				fmt_node_free(pipe);
				return perr(p, "non executable command in pipeline stage %zu", stage);
			}
		}
		if (cmd->nkids == 1 && cmd->kids[0]->type == N_NIL && pipe->nkids == pipe->ndecl) {
			fmt_node_free(cmd);
			fmt_node_free(pipe);
			return perr(p, "nil is not a command");
		}
		if (add_kid(pipe, cmd) < 0) {
			fmt_node_free(pipe);
			return st_error_set(p->err, ENOMEM, "template");
		}
		pipe->end = cmd->end;
		struct fmt_token *t = next(p);
		if (t->type == close)
			break;
		if (t->type != TK_PIPE) {
			fmt_node_free(pipe);
			return perr(p, close == TK_RPAREN ? "unclosed left paren" : "unclosed action");
		}
	}
	/* declared after the pipeline's own expressions are parsed, as Go */
	for (size_t k = 0; k < pipe->ndecl; k++)
		if (pipe->declare && (rc = push_var(p, pipe->kids[k]->str)) < 0) {
			fmt_node_free(pipe);
			return rc;
		}
	*out = pipe;
	return 0;
}

static int parse_list(struct parser *p, struct fmt_node **out, const char **stop);

/* if/range/with after its keyword: pipeline, list, [else list], end */
static int parse_control(struct parser *p, enum fmt_node_type type, const char *ctx, const struct fmt_token *kw,
			 struct fmt_node **out)
{
	size_t mark = p->nvars;
	struct fmt_node *n = node_new(type, kw);
	const char *stop;
	int rc;
	if (!n)
		return st_error_set(p->err, ENOMEM, "template");
	n->start = p->i >= 2 ? p->tk.v[p->i - 2].pos : kw->pos;
	if (peek(p)->type == TK_RIGHT) {
		next(p);
		fmt_node_free(n);
		return perr(p, "missing value for %s", ctx);
	}
	if ((rc = parse_pipeline(p, ctx, TK_RIGHT, &n->pipe)) < 0 || (rc = parse_list(p, &n->list, &stop)) < 0)
		goto out;
	if (!strcmp(stop, "else")) {
		/* {{else if ...}}: a nested if ending at the same {{end}} */
		if (type == N_IF && peek(p)->type == TK_IDENT && !strcmp(peek(p)->val, "if")) {
			struct fmt_token *kw2 = next(p);
			struct fmt_node *inner;
			if ((rc = parse_control(p, N_IF, "if", kw2, &inner)) < 0)
				goto out;
			if (!(n->elselist = node_new(N_LIST, kw2)) || add_kid(n->elselist, inner) < 0) {
				rc = st_error_set(p->err, ENOMEM, "template");
				goto out;
			}
			stop = "end";
		} else {
			if (next(p)->type != TK_RIGHT) {
				rc = perr(p, "unexpected %s in else", "token");
				goto out;
			}
			if ((rc = parse_list(p, &n->elselist, &stop)) < 0)
				goto out;
			if (strcmp(stop, "end") != 0) {
				rc = perr(p, "expected end; found {{%s}}", stop);
				goto out;
			}
		}
	}
	if (strcmp(stop, "end") != 0)
		rc = perr(p, "unexpected EOF");
out:
	p->nvars = mark;
	if (rc < 0) {
		fmt_node_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

/* Items up to {{end}}, {{else}} (its "}}" left for the caller when
 * "else", as {{else if}} continues there) or the end: *stop says which. */
static int parse_list(struct parser *p, struct fmt_node **out, const char **stop)
{
	struct fmt_node *list = node_new(N_LIST, peek(p));
	int rc = 0;
	if (!list)
		return st_error_set(p->err, ENOMEM, "template");
	if (++p->depth > 100) {
		p->depth--;
		fmt_node_free(list);
		return perr(p, "max nesting depth exceeded");
	}
	*stop = "";
	for (;;) {
		struct fmt_token *t = next(p);
		struct fmt_node *item = NULL;
		if (t->type == TK_EOF)
			break;
		if (t->type == TK_TEXT) {
			if (!(item = node_new(N_TEXT, t)) || set_str(item, t->val, t->len) < 0)
				rc = -ENOMEM;
		} else { /* TK_LEFT */
			struct fmt_token *kw = peek(p);
			const char *k = kw->type == TK_IDENT ? kw->val : "";
			if (!strcmp(k, "end")) {
				next(p);
				if (next(p)->type != TK_RIGHT) {
					rc = perr(p, "unexpected %s in end", "token");
					break;
				}
				*stop = "end";
				break;
			} else if (!strcmp(k, "else")) {
				next(p);
				*stop = "else";
				break;
			} else if (!strcmp(k, "if") || !strcmp(k, "range") || !strcmp(k, "with")) {
				next(p);
				rc = parse_control(p, k[0] == 'i' ? N_IF : k[0] == 'r' ? N_RANGE : N_WITH, k, kw, &item);
			} else if (!strcmp(k, "define") || !strcmp(k, "template") || !strcmp(k, "block") ||
				   !strcmp(k, "break") || !strcmp(k, "continue")) {
				next(p);
				rc = perr(p, "{{%s}} is not supported", k);
			} else if ((item = node_new(N_ACTION, t))) {
				rc = parse_pipeline(p, "command", TK_RIGHT, &item->pipe);
				item->end = p->tk.v[p->i - 1].end;
			} else {
				rc = -ENOMEM;
			}
		}
		if (rc == 0 && item)
			rc = add_kid(list, item);
		else if (item)
			fmt_node_free(item);
		if (rc < 0)
			break;
	}
	p->depth--;
	if (rc < 0) {
		fmt_node_free(list);
		return rc == -ENOMEM ? st_error_set(p->err, ENOMEM, "template") : rc;
	}
	*out = list;
	return 0;
}

int fmt_parse(const char *text, struct fmt_node **root, struct st_error *err)
{
	struct parser p = {.text = text, .err = err};
	int rc = fmt_lex(text, &p.tk, err);
	if (rc < 0)
		return rc;
	const char *stop;
	rc = parse_list(&p, root, &stop);
	if (rc == 0 && stop[0]) {
		fmt_node_free(*root);
		*root = NULL;
		rc = perr(&p, "unexpected {{%s}}", stop);
	}
	fmt_tokens_free(&p.tk);
	free(p.vars);
	return rc;
}

void fmt_node_free(struct fmt_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		fmt_node_free(n->kids[i]);
	for (size_t i = 0; i < n->nnames; i++)
		free(n->names[i]);
	fmt_node_free(n->pipe);
	fmt_node_free(n->list);
	fmt_node_free(n->elselist);
	free(n->kids);
	free(n->names);
	free(n->str);
	free(n);
}
