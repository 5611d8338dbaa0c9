/* core/format: Go templates over JSON (what Docker's --format runs), their
 * error messages, and the tabwriter that aligns Docker's tables. */
#include <string.h>

#include "format/format.h"
#include "testlib.h"

static const char *DOT = "{\"Id\":\"sha256:abc\",\"RepoTags\":[\"a:1\",\"b:2\"],\"Size\":1985641,\"Ratio\":1.5,"
			 "\"Config\":{\"Env\":[\"PATH=/bin\",\"X=y\"],\"Labels\":null,\"Cmd\":[\"sh\"],"
			 "\"Volumes\":{\"/data\":{}},\"Tty\":false,\"Port\":0},"
			 "\"Map\":{\"b\":\"2\",\"a\":\"1\",\"c\":{\"d\":[1,2]}},\"Empty\":\"\",\"Arr\":[],"
			 "\"State\":\"running\",\"Name\":\"web server\"}";

/* the output of tmpl on DOT, or the error message */
static char *run(const char *tmpl, int *rc)
{
	struct st_error err = {0};
	struct st_format *f;
	json_object *dot = json_tokener_parse(DOT);
	ck_assert_ptr_nonnull(dot);
	char *out = NULL;
	size_t len = 0;
	*rc = st_format_compile(tmpl, &f, &err);
	if (*rc == 0) {
		FILE *m = open_memstream(&out, &len);
		*rc = st_format_exec(f, dot, m, &err);
		fclose(m);
		st_format_free(f);
	}
	json_object_put(dot);
	if (*rc < 0) {
		free(out);
		out = strdup(err.msg);
	}
	return out;
}

static void expect(const char *tmpl, const char *want)
{
	int rc;
	char *got = run(tmpl, &rc);
	if (rc != 0 || strcmp(got, want) != 0)
		ck_abort_msg("template %s: got \"%s\" (rc %d), want \"%s\"", tmpl, got, rc, want);
	free(got);
}

static void expect_error(const char *tmpl, const char *want)
{
	int rc;
	char *got = run(tmpl, &rc);
	if (rc == 0 || strcmp(got, want) != 0)
		ck_abort_msg("template %s: got \"%s\" (rc %d), want the error \"%s\"", tmpl, got, rc, want);
	free(got);
}

START_TEST(test_fields_nested_and_dot_print_as_go)
{
	expect("{{.Id}}", "sha256:abc");
	expect("id={{.Id}} size={{.Size}}", "id=sha256:abc size=1985641");
	expect("{{.Config.Env}}", "[PATH=/bin X=y]");
	expect("{{.Map.c.d}}", "[1 2]");
	expect("{{.Map}}", "map[a:1 b:2 c:map[d:[1 2]]]");
	expect("{{.Ratio}} {{.Config.Tty}} {{.Config.Labels}}", "1.5 false <nil>");
	expect("{{.Config.Labels.foo}}", "<no value>");
	expect("{{.Config.Volumes}}", "map[/data:map[]]");
	expect("{{.Arr}}{{.Empty}}|", "[]|");
	expect("plain text", "plain text");
	expect("", "");
	expect("{{.}}", "map[Arr:[] Config:map[Cmd:[sh] Env:[PATH=/bin X=y] Labels:<nil> Port:0 Tty:false "
			"Volumes:map[/data:map[]]] Empty: Id:sha256:abc Map:map[a:1 b:2 c:map[d:[1 2]]] Name:web server "
			"Ratio:1.5 RepoTags:[a:1 b:2] Size:1985641 State:running]");
	expect("{{(index .Map \"c\").d}}", "[1 2]");
}
END_TEST

START_TEST(test_pipelines_and_functions)
{
	expect("{{.RepoTags | json}}", "[\"a:1\",\"b:2\"]");
	expect("{{json .Config.Volumes}}", "{\"/data\":{}}");
	expect("{{json .Config.Labels}}", "null");
	expect("{{index .RepoTags 1}}", "b:2");
	expect("{{index .Map \"a\"}}", "1");
	expect("{{index .Map \"c\" \"d\" 0}}", "1");
	expect("{{index .Map \"zz\"}}", "<nil>");
	expect("{{join .RepoTags \", \"}}", "a:1, b:2");
	expect("{{join .Config.Env \"\\n\"}}", "PATH=/bin\nX=y");
	expect("{{split \"a:b:c\" \":\"}}", "[a b c]");
	expect("{{index (split .Id \":\") 1}}", "abc");
	expect("{{upper .State}} {{lower \"MiX\"}} {{title .Name}}", "RUNNING mix Web Server");
	expect("{{.State | upper | lower}}", "running");
	expect("{{len .RepoTags}} {{len .Map}} {{len .Id}}", "2 3 10");
	expect("{{println .State}}", "running\n");
	expect("{{print 1 2 \"a\" \"b\" 3}}", "1 2ab3");
	expect("{{printf \"%s-%d-%5.1f|%q|%v|%x\" .State .Size .Ratio .Name .RepoTags \"hi\"}}",
	       "running-1985641-  1.5|\"web server\"|[a:1 b:2]|6869");
	expect("{{printf \"%d\"}}", "%!d(MISSING)");
	expect("{{truncate .Id 6}}|{{pad .State 1 2}}|", "sha256| running  |");
	expect("{{`raw\\n`}}{{\"\\t\\\"q\\\"\\u00e9\\x41\"}}", "raw\\n\t\"q\"\xc3\xa9" "A");
	expect("{{eq .State \"running\"}} {{ne .Size 3}} {{lt 1 2}} {{ge .Ratio 1.5}} {{eq .State \"x\" \"running\"}}",
	       "true true true true true");
	expect("{{and .Id .Empty}}|{{or .Empty .State}}|{{not .Arr}}|{{and 1 2}}", "|running|true|2");
	/* and/or stop at the first deciding operand: the error after it never runs */
	expect("{{or .State (index .Arr 5)}}", "running");
}
END_TEST

START_TEST(test_if_range_with_and_variables)
{
	expect("{{if .State}}yes{{else}}no{{end}}", "yes");
	expect("{{if .Empty}}yes{{else}}no{{end}}", "no");
	expect("{{if .Config.Port}}a{{else if .Config.Tty}}b{{else if .Arr}}c{{else}}d{{end}}", "d");
	expect("{{if eq .State \"exited\"}}e{{else if eq .State \"running\"}}r{{end}}", "r");
	expect("{{if .Config.Labels}}l{{end}}{{if .Config.Volumes}}v{{end}}", "v");
	expect("{{range .RepoTags}}[{{.}}]{{end}}", "[a:1][b:2]");
	expect("{{range .Map}}{{.}};{{end}}", "1;2;map[d:[1 2]];");
	expect("{{range $k, $v := .Map}}{{$k}}={{$v}} {{end}}", "a=1 b=2 c=map[d:[1 2]] ");
	expect("{{range $i, $t := .RepoTags}}{{$i}}:{{$t}},{{end}}", "0:a:1,1:b:2,");
	expect("{{range .Arr}}x{{else}}empty{{end}}", "empty");
	expect("{{range .Config.Labels}}x{{else}}none{{end}}", "none");
	expect("{{range .RepoTags}}{{$.State}}/{{.}} {{end}}", "running/a:1 running/b:2 ");
	expect("{{with .Config}}{{.Cmd}}{{end}}{{with .Empty}}x{{else}}-{{end}}", "[sh]-");
	expect("{{$x := .State}}{{$x}} {{$x = \"b\"}}{{$x}}", "running b");
	expect("{{range .Config.Env}}{{$kv := split . \"=\"}}{{index $kv 0}} {{end}}", "PATH X ");
	expect("{{/* a comment */}}a{{- /* trimmed */ -}} b", "ab");
}
END_TEST

START_TEST(test_trim_markers_cut_white_space)
{
	expect("a  {{- .State -}}  \n b", "arunningb");
	expect("a {{.State -}}\n\t b", "a runningb");
	expect("a \n{{- .State}} b", "arunning b");
	expect("{{range .RepoTags -}}\n  {{.}}\n{{- end}}", "a:1b:2");
	/* "-" without a space is a number's sign, not a trim marker */
	expect("{{-3}}", "-3");
}
END_TEST

START_TEST(test_execution_errors_name_the_position)
{
	expect_error("{{.Nope}}", "template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\"");
	expect_error("{{.Id}} {{.Config.Nope}}",
		     "template: :1:17: executing \"\" at <.Config.Nope>: map has no entry for key \"Nope\"");
	expect_error("line1\n  {{.X}}", "template: :2:4: executing \"\" at <.X>: map has no entry for key \"X\"");
	expect_error("{{.Id.foo}}", "template: :1:5: executing \"\" at <.Id.foo>: can't evaluate field foo in type string");
	expect_error("{{index .RepoTags 5}}",
		     "template: :1:2: executing \"\" at <index .RepoTags 5>: error calling index: index out of range: 5");
	expect_error("{{len .Size}}", "template: :1:2: executing \"\" at <len .Size>: error calling len: len of type int");
	expect_error("{{join .Id \",\"}}",
		     "template: :1:2: executing \"\" at <join .Id \",\">: wrong type for value; expected []string; got string");
	expect_error("{{index .RepoTags}}{{upper}}",
		     "template: :1:21: executing \"\" at <upper>: wrong number of args for upper: want 1 got 0");
	expect_error("{{.State 1}}", "template: :1:2: executing \"\" at <.State>: State is not a method but has arguments");
	expect_error("{{\"a\" | .Id}}", "template: :1:8: executing \"\" at <.Id>: Id is not a method but has arguments");
	expect_error("{{$ 1}}", "template: :1:2: executing \"\" at <$>: can't give argument to non-function $");
	expect_error("{{$x := .Map}}{{$x.Nope}}",
		     "template: :1:18: executing \"\" at <$x.Nope>: map has no entry for key \"Nope\"");
	expect_error("{{range .State}}{{end}}",
		     "template: :1:8: executing \"\" at <.State>: range can't iterate over running");
	expect_error("{{lt .State 1}}",
		     "template: :1:2: executing \"\" at <lt .State 1>: error calling lt: incompatible types for comparison");
	expect_error("{{range .RepoTags}}{{.Foo}}{{end}}",
		     "template: :1:21: executing \"\" at <.Foo>: can't evaluate field Foo in type string");
}
END_TEST

START_TEST(test_parse_errors_name_the_line)
{
	expect_error("{{.Id", "template: :1: unclosed action");
	expect_error("{{if}}x{{end}}", "template: :1: missing value for if");
	expect_error("{{nope .Id}}", "template: :1: function \"nope\" not defined");
	expect_error("{{end}}", "template: :1: unexpected {{end}}");
	expect_error("a\n{{else}}", "template: :2: unexpected {{else}}");
	expect_error("{{if .Id}}x", "template: :1: unexpected EOF");
	expect_error("{{range .X}}{{else}}{{else}}{{end}}", "template: :1: expected end; found {{else}}");
	expect_error("{{}}", "template: :1: missing value for command");
	expect_error("{{.Id | }}", "template: :1: missing value for command");
	expect_error("{{\"abc}}", "template: :1: unterminated quoted string");
	expect_error("{{\"\\q\"}}", "template: :1: invalid syntax in quoted string");
	expect_error("{{$x}}", "template: :1: undefined variable \"$x\"");
	expect_error("{{range $k, $v := .Map}}{{end}}{{$k}}", "template: :1: undefined variable \"$k\"");
	expect_error("{{.Id | \"s\"}}", "template: :1: non executable command in pipeline stage 2");
	expect_error("{{(.Id}}", "template: :1: unclosed left paren");
	expect_error("{{.Id # }}", "template: :1: bad character U+0023 '#'");
	expect_error("{{/* open", "template: :1: unclosed comment");
	expect_error("{{nil}}", "template: :1: nil is not a command");
	expect_error("{{template \"x\"}}", "template: :1: {{template}} is not supported");
	expect_error("{{3x}}", "template: :1: bad number syntax: \"3x\"");
	expect_error("{{.Id\"x\"}}", "template: :1: unexpected \"x\" in operand");
	expect_error("{{index .Map(.Id)}}", "template: :1: unexpected \"(\" in operand");
}
END_TEST

static char *header(const char *tmpl, const char *headers)
{
	struct st_error err = {0};
	struct st_format *f;
	ck_assert_int_eq(st_format_compile(tmpl, &f, &err), 0);
	json_object *h = headers ? json_tokener_parse(headers) : NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	ck_assert_int_eq(st_format_exec_header(f, h, m, &err), 0);
	fclose(m);
	json_object_put(h);
	st_format_free(f);
	return out;
}

START_TEST(test_header_row_titles_fields)
{
	char *h = header("{{.ID}}\t{{.Repository}}\t{{.CreatedSince | upper}}\t{{json .Labels}}\t{{.Size}}",
			 "{\"ID\":\"IMAGE ID\",\"CreatedSince\":\"CREATED\",\"Size\":\"SIZE\"}");
	ck_assert_str_eq(h, "IMAGE ID\tREPOSITORY\tCREATED\tLABELS\tSIZE");
	free(h);
	h = header("id: {{.ID}}", NULL);
	ck_assert_str_eq(h, "id: ID");
	free(h);
}
END_TEST

static char *tab(const char *text)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	st_tabwrite(text, strlen(text), 10, 3, m);
	fclose(m);
	return out;
}

START_TEST(test_tabwriter_aligns_as_go)
{
	/* docker's tables: min width 10, padding 3, the last cell unpadded */
	char *t = tab("IMAGE ID\tREPOSITORY\tTAG\n3ed81425f333\tlocalbase\t1\n");
	ck_assert_str_eq(t, "IMAGE ID       REPOSITORY   TAG\n3ed81425f333   localbase    1\n");
	free(t);
	/* a line with fewer cells ends the column block */
	t = tab("a\tb\tc\nlonger cell\tx\nsingle\nq\tw\n");
	ck_assert_str_eq(t, "a             b         c\nlonger cell   x\nsingle\nq         w\n");
	free(t);
	/* widths count characters, not bytes; text after the last newline stays unterminated */
	t = tab("\xc3\xa9t\xc3\xa9\tb\nabcdefghijk\tc\nend");
	ck_assert_str_eq(t, "\xc3\xa9t\xc3\xa9           b\nabcdefghijk   c\nend");
	free(t);
	t = tab("");
	ck_assert_str_eq(t, "");
	free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("format");
	tcase_add_test(tc, test_fields_nested_and_dot_print_as_go);
	tcase_add_test(tc, test_pipelines_and_functions);
	tcase_add_test(tc, test_if_range_with_and_variables);
	tcase_add_test(tc, test_trim_markers_cut_white_space);
	tcase_add_test(tc, test_execution_errors_name_the_position);
	tcase_add_test(tc, test_parse_errors_name_the_line);
	tcase_add_test(tc, test_header_row_titles_fields);
	tcase_add_test(tc, test_tabwriter_aligns_as_go);
	suite_add_tcase(s, tc);
	return st_test_main(s);
}
