/* core/format: the lexer's tokens and the parse tree (private to the folder). */
#ifndef ST_FORMAT_INT_H
#define ST_FORMAT_INT_H

#include "format/format.h"

enum fmt_tok {
	TK_EOF,
	TK_TEXT,   /* text outside actions (trimmed as the markers ask) */
	TK_LEFT,   /* {{ */
	TK_RIGHT,  /* }} */
	TK_FIELD,  /* .Name (val: Name) */
	TK_DOT,    /* . */
	TK_VAR,    /* $ or $name (val: with the $) */
	TK_IDENT,  /* a function or keyword */
	TK_STRING, /* "..." or `...` (val: decoded) */
	TK_NUMBER, /* val: as written */
	TK_PIPE,
	TK_LPAREN,
	TK_RPAREN,
	TK_COMMA,
	TK_DECLARE, /* := */
	TK_ASSIGN,  /* = */
};

struct fmt_token {
	enum fmt_tok type;
	char *val;
	size_t len; /* of val (strings may hold NUL) */
	size_t pos; /* byte offset in the template */
	size_t end; /* offset after it */
	int line;
	bool space; /* white space right before it, inside an action */
};

struct fmt_tokens {
	struct fmt_token *v;
	size_t n;
};

/* The tokens of text; on error a parse message ("template: :LINE: ..."). */
int fmt_lex(const char *text, struct fmt_tokens *out, struct st_error *err);
void fmt_tokens_free(struct fmt_tokens *t);

enum fmt_node_type {
	N_LIST,
	N_TEXT,
	N_ACTION,
	N_IF,
	N_RANGE,
	N_WITH,
	N_PIPE,    /* a pipeline: declarations, commands */
	N_COMMAND, /* operands; the first a function or a value */
	N_FIELD,   /* .A.B: names applied to dot */
	N_CHAIN,   /* (pipeline).A, $x.A: names applied to a node's value */
	N_DOT,
	N_VAR,
	N_STRING,
	N_NUMBER,
	N_BOOL,
	N_NIL,
	N_FUNC, /* a function's name as the first operand */
};

struct fmt_node {
	enum fmt_node_type type;
	size_t pos;      /* Go's position of the node (a chain: its second name) */
	size_t start, end; /* source span */
	int line;
	char *str;       /* text, string, variable or function name, number as written */
	size_t len;      /* of str */
	char **names;    /* N_FIELD, N_CHAIN: the names */
	size_t nnames;
	struct fmt_node **kids; /* list items, commands, operands, declared variables */
	size_t nkids;
	struct fmt_node *pipe, *list, *elselist; /* if/range/with; N_ACTION, N_CHAIN: pipe */
	bool declare;    /* N_PIPE: its kids[0..ndecl) are variables being declared */
	size_t ndecl;
	bool boolean;    /* N_BOOL */
	int func;        /* N_FUNC: index in fmt_funcs */
};

struct st_format {
	char *text;
	struct fmt_node *root;
};

int fmt_parse(const char *text, struct fmt_node **root, struct st_error *err);
void fmt_node_free(struct fmt_node *n);

/* ------------------------------------------------------------ execution */

/* A value: a json-c object (NULL: JSON null) or none at all (a field of
 * nothing: prints "<no value>"). */
struct fmt_val {
	json_object *o;
	bool missing;
};

struct fmt_exec;
typedef int (*fmt_func_fn)(struct fmt_exec *x, const struct fmt_node *at, struct fmt_val *args, size_t n,
			   struct fmt_val *out);
struct fmt_func {
	const char *name;
	fmt_func_fn fn;
	int min, max; /* argument counts; max -1: any */
	bool header_identity; /* in a header row: gives its first argument back */
};
extern const struct fmt_func fmt_funcs[];
int fmt_func_find(const char *name, size_t len);

struct fmt_var {
	const char *name;
	struct fmt_val v;
};

struct fmt_exec {
	const struct st_format *f;
	FILE *out;
	struct st_error *err;
	json_object **tmp; /* values made while running, dropped at the end */
	size_t ntmp, captmp;
	struct fmt_var *vars;
	size_t nvars, capvars;
	json_object *headers; /* header row mode */
	bool header;
	int depth;
};

/* The error at node n: "template: :L:C: executing "" at <SRC>: MSG". */
int fmt_exec_error(struct fmt_exec *x, const struct fmt_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A new value owned by the run. */
json_object *fmt_keep(struct fmt_exec *x, json_object *o);
bool fmt_truth(struct fmt_val v);
/* Go's name of a value's type, for messages. */
const char *fmt_type_name(struct fmt_val v);
/* Print v as Go's fmt %v prints a decoded JSON value. */
void fmt_print_val(FILE *f, struct fmt_val v);
/* The same into a new string. */
char *fmt_val_string(struct fmt_val v);

#endif
