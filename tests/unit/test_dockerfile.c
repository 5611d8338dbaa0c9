/* Dockerfile parser, word expansion and .dockerignore matching. Expected
 * values follow what BuildKit's dockerfile frontend and moby/patternmatcher
 * produce for the same input. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "builder/dockerfile.h"
#include "testlib.h"

/* ------------------------------------------------------------ helpers */

static struct st_dockerfile parse_ok(const char *text)
{
	struct st_dockerfile df;
	struct st_error err = {0};
	int r = st_dockerfile_parse(text, strlen(text), NULL, &df, &err);
	ck_assert_msg(r == 0, "parse failed (%d): %s\n--- input ---\n%s", r, err.msg, text);
	return df;
}

/* The parse fails with EINVAL and exactly this message. */
static void parse_fails(const char *text, const char *msg)
{
	struct st_dockerfile df = {0};
	struct st_error err = {0};
	int r = st_dockerfile_parse(text, strlen(text), NULL, &df, &err);
	ck_assert_msg(r == -EINVAL, "expected EINVAL, got %d (%s)\n--- input ---\n%s", r, err.msg, text);
	ck_assert_int_eq(err.code, EINVAL);
	ck_assert_str_eq(err.msg, msg);
	ck_assert_ptr_null(df.v);
	ck_assert_uint_eq(df.n, 0);
}

/* args of in are exactly the NULL-terminated list. */
static void check_args(const struct st_df_instr *in, ...)
{
	va_list ap;
	va_start(ap, in);
	size_t i = 0;
	for (const char *want; (want = va_arg(ap, const char *)); i++) {
		ck_assert_msg(i < in->nargs, "%s: only %zu args, wanted more (next \"%s\")", in->cmd, in->nargs, want);
		ck_assert_msg(strcmp(in->args[i], want) == 0, "%s arg %zu: got \"%s\", want \"%s\"", in->cmd, i,
			      in->args[i], want);
	}
	va_end(ap);
	ck_assert_msg(i == in->nargs, "%s: %zu args, wanted %zu", in->cmd, in->nargs, i);
}

/* Parse "FROM base\n<line>" and return the second instruction's file. */
static struct st_dockerfile parse_one(const char *line)
{
	char text[4096];
	snprintf(text, sizeof(text), "FROM base\n%s\n", line);
	struct st_dockerfile df = parse_ok(text);
	ck_assert_uint_ge(df.n, 2);
	return df;
}

static void one_fails(const char *line, const char *msg)
{
	char text[4096], want[4096];
	snprintf(text, sizeof(text), "FROM base\n%s\n", line);
	snprintf(want, sizeof(want), "Dockerfile:2: %s", msg);
	parse_fails(text, want);
}

/* ------------------------------------------------------------ line stage */

START_TEST(test_basic_instructions_lines_and_original)
{
	struct st_dockerfile df = parse_ok("FROM alpine:3.19\nRUN echo hi\n\nCMD [\"sh\"]\n");
	ck_assert_uint_eq(df.n, 3);
	ck_assert_int_eq(df.escape, '\\');
	ck_assert_str_eq(df.v[0].cmd, "FROM");
	ck_assert_int_eq(df.v[0].line, 1);
	check_args(&df.v[0], "alpine:3.19", NULL);
	ck_assert_str_eq(df.v[1].cmd, "RUN");
	ck_assert_int_eq(df.v[1].line, 2);
	ck_assert(!df.v[1].json);
	check_args(&df.v[1], "echo hi", NULL);
	ck_assert_str_eq(df.v[1].original, "RUN echo hi");
	ck_assert_int_eq(df.v[2].line, 4);
	ck_assert(df.v[2].json);
	check_args(&df.v[2], "sh", NULL);
	ck_assert_ptr_null(df.v[2].sub);
	st_dockerfile_free(&df);
	ck_assert_ptr_null(df.v);
}
END_TEST

START_TEST(test_instruction_names_are_case_insensitive)
{
	struct st_dockerfile df = parse_ok("from alpine\nrUn echo\nCopy a b\nHealthCheck NONE\n");
	ck_assert_str_eq(df.v[0].cmd, "FROM");
	ck_assert_str_eq(df.v[1].cmd, "RUN");
	ck_assert_str_eq(df.v[2].cmd, "COPY");
	ck_assert_str_eq(df.v[3].cmd, "HEALTHCHECK");
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_comments_blank_lines_and_indentation)
{
	struct st_dockerfile df = parse_ok("# leading comment\n"
					   "\n"
					   "   FROM a\n"
					   "\t# indented comment\n"
					   "   \n"
					   "  RUN x   \n"
					   "RUN echo # not a comment\n");
	ck_assert_uint_eq(df.n, 3);
	ck_assert_int_eq(df.v[0].line, 3);
	ck_assert_int_eq(df.v[1].line, 6);
	check_args(&df.v[1], "x", NULL);
	ck_assert_str_eq(df.v[1].original, "RUN x");
	check_args(&df.v[2], "echo # not a comment", NULL);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_continuation_joins_lines_keeping_indentation)
{
	struct st_dockerfile df = parse_ok("FROM a\nRUN apt-get update && \\\n    apt-get install -y x\nUSER me\n");
	ck_assert_uint_eq(df.n, 3);
	ck_assert_int_eq(df.v[1].line, 2);
	check_args(&df.v[1], "apt-get update &&     apt-get install -y x", NULL);
	ck_assert_str_eq(df.v[1].original, "RUN apt-get update &&     apt-get install -y x");
	ck_assert_int_eq(df.v[2].line, 4);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_continuation_skips_comment_and_blank_lines)
{
	struct st_dockerfile df = parse_ok("FROM a\n"
					   "RUN one \\\n"
					   "# a comment inside\n"
					   "   # another, indented\n"
					   "\n"
					   "  \t\n"
					   " two \\\n"
					   " three\n"
					   "USER u\n");
	ck_assert_uint_eq(df.n, 3);
	check_args(&df.v[1], "one  two  three", NULL);
	ck_assert_int_eq(df.v[2].line, 9);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_continuation_with_trailing_blanks_and_own_line)
{
	/* blanks after the escape still continue; an escape alone on a line too */
	struct st_dockerfile df = parse_ok("FROM a\nRUN a \\  \t\n\\\nb\n");
	ck_assert_uint_eq(df.n, 2);
	check_args(&df.v[1], "a b", NULL);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_escaped_escape_is_not_a_continuation)
{
	struct st_dockerfile df = parse_ok("FROM a\nRUN echo \\\\\nRUN next\n");
	ck_assert_uint_eq(df.n, 3);
	check_args(&df.v[1], "echo \\\\", NULL);
	check_args(&df.v[2], "next", NULL);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_comment_ending_in_escape_does_not_continue)
{
	struct st_dockerfile df = parse_ok("FROM a\n# comment \\\nRUN x\n");
	ck_assert_uint_eq(df.n, 2);
	check_args(&df.v[1], "x", NULL);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_continuation_at_eof)
{
	/* an instruction with text ends at EOF as it stands */
	struct st_dockerfile df = parse_ok("FROM a\nRUN echo hi \\\n");
	check_args(&df.v[1], "echo hi", NULL);
	st_dockerfile_free(&df);
	/* nothing but continuations up to EOF */
	parse_fails("FROM a\nRUN \\\n", "Dockerfile:2: RUN requires at least one argument");
	parse_fails("FROM a\n\\\n\n", "Dockerfile:2: unexpected end of file: a line continuation with no instruction");
	parse_fails("FROM a\n  \\  \n  \\\n",
		    "Dockerfile:2: unexpected end of file: a line continuation with no instruction");
}
END_TEST

START_TEST(test_escape_directive_backtick)
{
	struct st_dockerfile df = parse_ok("# escape=`\n"
					   "FROM mcr.microsoft.com/windows\n"
					   "RUN dir c:\\ `\n"
					   "    /b\n"
					   "ENV A=x`\"y\n");
	ck_assert_int_eq(df.escape, '`');
	ck_assert_uint_eq(df.n, 3);
	check_args(&df.v[1], "dir c:\\     /b", NULL);
	check_args(&df.v[2], "A", "x`\"y", NULL);
	st_dockerfile_free(&df);

	/* a backslash at the end is plain text under the backtick escape */
	df = parse_ok("#escape = ` \nFROM a\nRUN echo \\\nRUN b\n");
	ck_assert_int_eq(df.escape, '`');
	ck_assert_uint_eq(df.n, 3);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_directives_only_before_anything_else)
{
	/* after a comment, a blank line or an instruction: a plain comment */
	const char *texts[] = {
		"# hello\n# escape=`\nFROM a\nRUN x `\nRUN y\n",
		"\n# escape=`\nFROM a\nRUN x `\nRUN y\n",
		"FROM a\n# escape=`\nRUN x `\nRUN y\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct st_dockerfile df = parse_ok(texts[i]);
		ck_assert_int_eq(df.escape, '\\');
		ck_assert_uint_eq(df.n, 3);
		check_args(&df.v[1], "x `", NULL);
		st_dockerfile_free(&df);
	}
	/* syntax and check directives are accepted and ignored */
	struct st_dockerfile df = parse_ok("# syntax=docker/dockerfile:1.7\n# check=skip=all\n# escape=`\nFROM a\n");
	ck_assert_int_eq(df.escape, '`');
	st_dockerfile_free(&df);
	/* an unknown directive ends the directives */
	df = parse_ok("# foo=bar\n# escape=`\nFROM a\n");
	ck_assert_int_eq(df.escape, '\\');
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_directive_errors)
{
	parse_fails("# escape=`\n# escape=\\\nFROM a\n", "Dockerfile:2: only one escape parser directive can be used");
	parse_fails("# syntax=a\n# SYNTAX=b\nFROM a\n", "Dockerfile:2: only one syntax parser directive can be used");
	parse_fails("# escape=x\nFROM a\n", "Dockerfile:1: invalid escape token 'x' does not match ` or \\");
	parse_fails("# escape=``\nFROM a\n", "Dockerfile:1: invalid escape token '``' does not match ` or \\");
}
END_TEST

START_TEST(test_bom_and_crlf)
{
	struct st_dockerfile df = parse_ok("\xEF\xBB\xBF# escape=`\r\nFROM a\r\nRUN x `\r\n  y\r\n");
	ck_assert_int_eq(df.escape, '`');
	ck_assert_uint_eq(df.n, 2);
	check_args(&df.v[0], "a", NULL);
	check_args(&df.v[1], "x   y", NULL);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_file_level_errors)
{
	parse_fails("", "Dockerfile:1: file with no instructions");
	parse_fails("# only\n\n# comments\n", "Dockerfile:3: file with no instructions");
	parse_fails("RUN x\nFROM a\n", "Dockerfile:1: no build stage in current context (RUN before the first FROM)");
	parse_fails("ARG A\n", "Dockerfile:1: no build stage: the Dockerfile has no FROM instruction");
	struct st_dockerfile df;
	struct st_error err = {0};
	ck_assert_int_eq(st_dockerfile_parse("FROM a\nRUN x\0y\n", 13, NULL, &df, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "Dockerfile:2: the file contains a NUL byte");

	const char *t = "FROM a\nBOGUS x\n";
	ck_assert_int_eq(st_dockerfile_parse(t, strlen(t), "ctx/Containerfile", &df, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "ctx/Containerfile:2: unknown instruction: BOGUS");
}
END_TEST

START_TEST(test_nul_byte_counts_as_text_length)
{
	/* len, not the NUL terminator, bounds the text */
	const char text[] = "FROM a\nRUN x\nRUN not-parsed";
	struct st_dockerfile df;
	struct st_error err = {0};
	ST_OK(st_dockerfile_parse(text, 12, NULL, &df, &err), &err);
	ck_assert_uint_eq(df.n, 2);
	check_args(&df.v[1], "x", NULL);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_unknown_instruction)
{
	one_fails("FOOBAR bar", "unknown instruction: FOOBAR");
	one_fails("runx echo", "unknown instruction: RUNX (did you mean run?)");
	one_fails("EXPOS 80", "unknown instruction: EXPOS (did you mean expose?)");
	one_fails("CPY a b", "unknown instruction: CPY (did you mean copy?)");
	one_fails("RUN\xc2\xa0x", "unknown instruction: RUN\xc2\xa0X");
}
END_TEST

START_TEST(test_arg_before_from)
{
	struct st_dockerfile df = parse_ok("ARG VERSION=3.19\nARG BASE\nFROM alpine:${VERSION}\nARG VERSION\n");
	ck_assert_uint_eq(df.n, 4);
	check_args(&df.v[0], "VERSION", "3.19", NULL);
	check_args(&df.v[1], "BASE", NULL);
	check_args(&df.v[2], "alpine:${VERSION}", NULL);
	check_args(&df.v[3], "VERSION", NULL);
	st_dockerfile_free(&df);
}
END_TEST

/* ------------------------------------------------------------ flags */

START_TEST(test_flags_before_arguments)
{
	struct st_dockerfile df = parse_one("COPY --from=build --chown=1000:1000 --chmod=0644 src/ /app/");
	struct st_df_instr *in = &df.v[1];
	ck_assert_uint_eq(in->nflags, 3);
	ck_assert_str_eq(in->flags[0].name, "from");
	ck_assert_str_eq(in->flags[0].value, "build");
	ck_assert_str_eq(st_df_flag(in, "chown"), "1000:1000");
	ck_assert_str_eq(st_df_flag(in, "chmod"), "0644");
	ck_assert_ptr_null(st_df_flag(in, "link"));
	check_args(in, "src/", "/app/", NULL);
	ck_assert_str_eq(in->original, "COPY --from=build --chown=1000:1000 --chmod=0644 src/ /app/");
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_flag_values_lose_quotes_and_escapes)
{
	struct st_dockerfile df = parse_one("COPY --chown=\"a b\" --from='x' --chmod=7\\ 5 s d");
	ck_assert_str_eq(st_df_flag(&df.v[1], "chown"), "a b");
	ck_assert_str_eq(st_df_flag(&df.v[1], "from"), "x");
	ck_assert_str_eq(st_df_flag(&df.v[1], "chmod"), "7 5");
	check_args(&df.v[1], "s", "d", NULL);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_bool_flags)
{
	struct st_dockerfile df = parse_one("COPY --link --parents=TRUE a b");
	ck_assert_str_eq(st_df_flag(&df.v[1], "link"), "");
	ck_assert_str_eq(st_df_flag(&df.v[1], "parents"), "true");
	ck_assert(st_df_flag_bool(&df.v[1], "link"));
	ck_assert(st_df_flag_bool(&df.v[1], "parents"));
	st_dockerfile_free(&df);
	df = parse_one("ADD --link=false --keep-git-dir --unpack=true --checksum=sha256:abc u d");
	ck_assert(!st_df_flag_bool(&df.v[1], "link"));
	ck_assert(st_df_flag_bool(&df.v[1], "keep-git-dir"));
	ck_assert(st_df_flag_bool(&df.v[1], "unpack"));
	ck_assert(!st_df_flag_bool(&df.v[1], "exclude"));
	ck_assert_str_eq(st_df_flag(&df.v[1], "checksum"), "sha256:abc");
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_repeatable_flags)
{
	struct st_dockerfile df =
		parse_one("RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=x --network=none make");
	struct st_df_instr *in = &df.v[1];
	ck_assert_uint_eq(in->nflags, 3);
	ck_assert_str_eq(in->flags[0].value, "type=cache,target=/root/.cache");
	ck_assert_str_eq(in->flags[1].name, "mount");
	ck_assert_str_eq(in->flags[1].value, "type=secret,id=x");
	ck_assert_str_eq(st_df_flag(in, "network"), "none");
	check_args(in, "make", NULL);
	st_dockerfile_free(&df);
	df = parse_one("COPY --exclude=*.md --exclude=.git . /src");
	ck_assert_uint_eq(df.v[1].nflags, 2);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_double_dash_ends_flags)
{
	struct st_dockerfile df = parse_one("RUN --network=host -- --version");
	ck_assert_uint_eq(df.v[1].nflags, 1);
	check_args(&df.v[1], "--version", NULL);
	st_dockerfile_free(&df);
	/* a single dash is an argument */
	df = parse_one("RUN -x");
	ck_assert_uint_eq(df.v[1].nflags, 0);
	check_args(&df.v[1], "-x", NULL);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_flag_errors)
{
	one_fails("COPY --foo=1 a b", "Unknown flag: foo");
	one_fails("COPY --from=a --from=b x y", "Duplicate flag specified: from");
	one_fails("COPY --from a b", "Missing a value on flag: from");
	one_fails("COPY --link=maybe a b", "Expecting boolean value for flag link, not: maybe");
	one_fails("COPY --link= a b", "Missing a value on flag: link");
	one_fails("COPY --link --link a b", "Duplicate flag specified: link");
	one_fails("ADD --from=x a b", "Unknown flag: from");
	one_fails("ENV --x=1 A=b", "Unknown flag: x");
	one_fails("CMD --help", "Unknown flag: help");
	one_fails("WORKDIR --x /a", "Unknown flag: x");
	one_fails("RUN --network=a --network=b x", "Duplicate flag specified: network");
	parse_fails("FROM --plat=x a\n", "Dockerfile:1: Unknown flag: plat");
}
END_TEST

/* ------------------------------------------------------------ exec and shell forms */

START_TEST(test_exec_form_and_shell_form)
{
	struct st_dockerfile df = parse_ok("FROM a\n"
					   "RUN [\"echo\", \"a b\", \"c\\\"d\"]\n"
					   "CMD echo $HOME\n"
					   "ENTRYPOINT [ \"/bin/app\" ]  \n"
					   "CMD [\"caf\\u00e9\", \"\\t\"]\n"
					   "RUN [\"a\"]   \n");
	ck_assert(df.v[1].json);
	check_args(&df.v[1], "echo", "a b", "c\"d", NULL);
	ck_assert(!df.v[2].json);
	check_args(&df.v[2], "echo $HOME", NULL);
	ck_assert(df.v[3].json);
	check_args(&df.v[3], "/bin/app", NULL);
	check_args(&df.v[4], "caf\xc3\xa9", "\t", NULL);
	ck_assert(df.v[5].json);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_invalid_json_falls_back_to_shell_form)
{
	const char *lines[] = {
		"RUN [ -f /etc/x ] && echo yes", "CMD ['single', 'quotes']", "CMD [\"a\",]",
		"CMD [\"a\"] trailing",		 "CMD [\"unterminated\"",   "ENTRYPOINT [\"a\" \"b\"]",
		"CMD [\"raw\ttab\"]",		 "CMD [\"\\x\"]",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct st_dockerfile df = parse_one(lines[i]);
		ck_assert_msg(!df.v[1].json, "%s parsed as JSON", lines[i]);
		ck_assert_uint_eq(df.v[1].nargs, 1);
		ck_assert_str_eq(df.v[1].args[0], strchr(lines[i], ' ') + 1);
		st_dockerfile_free(&df);
	}
	/* COPY/ADD/VOLUME fall back to whitespace-separated words */
	struct st_dockerfile df = parse_one("COPY [\"a\", b c");
	ck_assert(!df.v[1].json);
	check_args(&df.v[1], "[\"a\",", "b", "c", NULL);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_json_with_non_strings_is_an_error)
{
	const char *msg = "when using JSON array syntax, arrays must be comprised of strings only";
	one_fails("CMD [\"a\", 1]", msg);
	one_fails("RUN [[\"nested\"]]", msg);
	one_fails("COPY [\"a\", null]", msg);
	one_fails("HEALTHCHECK CMD [true]", msg);
	one_fails("CMD [\"a\\u0000b\"]", "JSON array element 0 contains a NUL character");
}
END_TEST

START_TEST(test_run_cmd_entrypoint_arguments)
{
	struct st_dockerfile df = parse_one("CMD []");
	ck_assert(df.v[1].json);
	ck_assert_uint_eq(df.v[1].nargs, 0);
	st_dockerfile_free(&df);
	df = parse_one("ENTRYPOINT []");
	ck_assert(df.v[1].json);
	ck_assert_uint_eq(df.v[1].nargs, 0);
	st_dockerfile_free(&df);
	one_fails("RUN", "RUN requires at least one argument");
	one_fails("RUN []", "RUN requires at least one argument");
	one_fails("CMD", "CMD requires at least one argument");
	one_fails("ENTRYPOINT   ", "ENTRYPOINT requires at least one argument");
}
END_TEST

START_TEST(test_shell_instruction)
{
	struct st_dockerfile df = parse_one("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]");
	ck_assert(df.v[1].json);
	check_args(&df.v[1], "/bin/bash", "-o", "pipefail", "-c", NULL);
	st_dockerfile_free(&df);
	one_fails("SHELL /bin/bash -c", "SHELL requires the arguments to be in JSON form");
	one_fails("SHELL []", "SHELL requires at least one argument");
	one_fails("SHELL", "SHELL requires at least one argument");
}
END_TEST

START_TEST(test_heredocs_are_refused_clearly)
{
	one_fails("RUN <<EOF", "heredocs (<<WORD) are not supported in RUN");
	one_fails("RUN cat <<-'END' > /x", "heredocs (<<WORD) are not supported in RUN");
	one_fails("COPY <<EOF /dest", "heredocs (<<WORD) are not supported in COPY");
	/* not heredocs */
	struct st_dockerfile df = parse_one("RUN echo $((1<<2)) && cat <<<\"here string\"");
	st_dockerfile_free(&df);
	df = parse_one("RUN [\"sh\", \"<<EOF\"]");
	st_dockerfile_free(&df);
}
END_TEST

/* ------------------------------------------------------------ file instructions */

START_TEST(test_copy_and_add)
{
	struct st_dockerfile df = parse_ok("FROM a\n"
					   "COPY a b c/\n"
					   "COPY [\"with space\", \"/dst dir/\"]\n"
					   "ADD https://example.com/x.tar.gz /tmp/\n"
					   "copy\t*.go\t\t/src/\n");
	check_args(&df.v[1], "a", "b", "c/", NULL);
	ck_assert(!df.v[1].json);
	check_args(&df.v[2], "with space", "/dst dir/", NULL);
	ck_assert(df.v[2].json);
	check_args(&df.v[3], "https://example.com/x.tar.gz", "/tmp/", NULL);
	check_args(&df.v[4], "*.go", "/src/", NULL);
	st_dockerfile_free(&df);

	parse_fails("FROM a\nRUN x\nCOPY only-one\n",
		    "Dockerfile:3: COPY requires at least two arguments, but only one was provided. Destination "
		    "could not be determined.");
	one_fails("ADD x", "ADD requires at least two arguments, but only one was provided. Destination could not "
			   "be determined.");
	one_fails("COPY", "COPY requires at least two arguments, but only one was provided. Destination could not "
			  "be determined.");
	one_fails("COPY [\"one\"]", "COPY requires at least two arguments, but only one was provided. Destination "
				    "could not be determined.");
}
END_TEST

START_TEST(test_from_forms)
{
	struct st_dockerfile df = parse_ok("FROM alpine:3.19 AS Build-1.x\n"
					   "FROM --platform=$BUILDPLATFORM golang:1.22 as builder\n"
					   "FROM scratch\n"
					   "FROM\tbuild-1.x\tAs\tfinal\n");
	check_args(&df.v[0], "alpine:3.19", "build-1.x", NULL);
	check_args(&df.v[1], "golang:1.22", "builder", NULL);
	ck_assert_str_eq(st_df_flag(&df.v[1], "platform"), "$BUILDPLATFORM");
	check_args(&df.v[2], "scratch", NULL);
	check_args(&df.v[3], "build-1.x", "final", NULL);
	st_dockerfile_free(&df);

	parse_fails("FROM\n", "Dockerfile:1: FROM requires either one or three arguments");
	parse_fails("FROM a b\n", "Dockerfile:1: FROM requires either one or three arguments");
	parse_fails("FROM a AS b c\n", "Dockerfile:1: FROM requires either one or three arguments");
	parse_fails("FROM a FOR b\n", "Dockerfile:1: FROM requires either one or three arguments");
	parse_fails("FROM a AS one\nFROM b\nFROM c AS One\n", "Dockerfile:3: duplicate stage name \"one\"");
	parse_fails("FROM a AS 1st\n",
		    "Dockerfile:1: invalid name for build stage: \"1st\", name can't start with a number or contain "
		    "symbols");
	parse_fails("FROM a AS b$c\n",
		    "Dockerfile:1: invalid name for build stage: \"b$c\", name can't start with a number or contain "
		    "symbols");
}
END_TEST

/* ------------------------------------------------------------ key/value instructions */

START_TEST(test_env_forms)
{
	struct st_dockerfile df = parse_ok("FROM a\n"
					   "ENV A=1 B=\"two words\" C=three\\ four D= E='$x'\n"
					   "ENV PATH /usr/local/bin:$PATH\n"
					   "ENV GREETING hello   big world\n"
					   "ENV X=\"a=b\"\n");
	check_args(&df.v[1], "A", "1", "B", "\"two words\"", "C", "three\\ four", "D", "", "E", "'$x'", NULL);
	check_args(&df.v[2], "PATH", "/usr/local/bin:$PATH", NULL);
	check_args(&df.v[3], "GREETING", "hello   big world", NULL);
	check_args(&df.v[4], "X", "\"a=b\"", NULL);
	st_dockerfile_free(&df);

	one_fails("ENV", "ENV requires at least one argument");
	one_fails("ENV ONLYKEY", "ENV must have two arguments");
	one_fails("ENV A=1 B", "Syntax error - can't find = in \"B\". Must be of the form: name=value");
	one_fails("ENV =x", "ENV names can not be blank");
}
END_TEST

START_TEST(test_label_forms)
{
	struct st_dockerfile df = parse_ok("FROM a\n"
					   "LABEL \"com.example.vendor\"=\"ACME Inc\" version=1.0 \\\n"
					   "      description=\"multi \\\"quoted\\\" line\"\n"
					   "LABEL maintainer someone@example.com\n");
	check_args(&df.v[1], "\"com.example.vendor\"", "\"ACME Inc\"", "version", "1.0", "description",
		   "\"multi \\\"quoted\\\" line\"", NULL);
	check_args(&df.v[2], "maintainer", "someone@example.com", NULL);
	st_dockerfile_free(&df);
	one_fails("LABEL", "LABEL requires at least one argument");
	one_fails("LABEL k", "LABEL must have two arguments");
	one_fails("LABEL =v", "LABEL names can not be blank");
}
END_TEST

START_TEST(test_arg_forms)
{
	struct st_dockerfile df = parse_ok("FROM a\nARG A\nARG B=2\nARG C=\nARG D=\"x y\" E\n");
	ck_assert_uint_eq(df.n, 6);
	check_args(&df.v[1], "A", NULL);
	check_args(&df.v[2], "B", "2", NULL);
	check_args(&df.v[3], "C", "", NULL);
	/* several names: one instruction each, same line and text */
	check_args(&df.v[4], "D", "\"x y\"", NULL);
	check_args(&df.v[5], "E", NULL);
	ck_assert_int_eq(df.v[5].line, 5);
	ck_assert_str_eq(df.v[5].cmd, "ARG");
	ck_assert_str_eq(df.v[5].original, "ARG D=\"x y\" E");
	st_dockerfile_free(&df);
	one_fails("ARG", "ARG requires at least one argument");
	one_fails("ARG =x", "ARG names can not be blank");
	one_fails("ARG A =", "ARG names can not be blank");
}
END_TEST

START_TEST(test_single_value_instructions)
{
	struct st_dockerfile df = parse_ok("FROM a\n"
					   "WORKDIR /my dir\n"
					   "USER app:app\n"
					   "STOPSIGNAL SIGTERM\n"
					   "MAINTAINER Jane Doe <jane@example.com>\n");
	check_args(&df.v[1], "/my dir", NULL);
	check_args(&df.v[2], "app:app", NULL);
	check_args(&df.v[3], "SIGTERM", NULL);
	check_args(&df.v[4], "Jane Doe <jane@example.com>", NULL);
	st_dockerfile_free(&df);
	one_fails("WORKDIR", "WORKDIR requires exactly one argument");
	one_fails("USER  ", "USER requires exactly one argument");
	one_fails("STOPSIGNAL", "STOPSIGNAL requires exactly one argument");
	one_fails("MAINTAINER", "MAINTAINER requires exactly one argument");
}
END_TEST

START_TEST(test_expose_and_volume)
{
	struct st_dockerfile df = parse_ok("FROM a\n"
					   "EXPOSE 80 443/tcp  53/udp\n"
					   "VOLUME /data /logs\n"
					   "VOLUME [\"/var/lib/x\", \" /padded \"]\n");
	check_args(&df.v[1], "80", "443/tcp", "53/udp", NULL);
	check_args(&df.v[2], "/data", "/logs", NULL);
	ck_assert(!df.v[2].json);
	check_args(&df.v[3], "/var/lib/x", "/padded", NULL);
	ck_assert(df.v[3].json);
	st_dockerfile_free(&df);
	one_fails("EXPOSE", "EXPOSE requires at least one argument");
	one_fails("VOLUME", "VOLUME requires at least one argument");
	one_fails("VOLUME []", "VOLUME requires at least one argument");
	one_fails("VOLUME [\"/a\", \"  \"]", "VOLUME specified can not be an empty string");
}
END_TEST

/* ------------------------------------------------------------ HEALTHCHECK, ONBUILD */

START_TEST(test_healthcheck)
{
	struct st_dockerfile df = parse_ok("FROM a\n"
					   "HEALTHCHECK NONE\n"
					   "HEALTHCHECK --interval=30s --timeout=5s --start-period=1m30s --retries=3 \\\n"
					   "  CMD curl -f http://localhost/ || exit 1\n"
					   "healthcheck cmd [\"/bin/check\", \"--deep\"]\n"
					   "HEALTHCHECK --start-interval=2s --interval=0 CMD true\n");
	check_args(&df.v[1], "NONE", NULL);
	check_args(&df.v[2], "CMD", "curl -f http://localhost/ || exit 1", NULL);
	ck_assert(!df.v[2].json);
	ck_assert_str_eq(st_df_flag(&df.v[2], "interval"), "30s");
	ck_assert_str_eq(st_df_flag(&df.v[2], "timeout"), "5s");
	ck_assert_str_eq(st_df_flag(&df.v[2], "start-period"), "1m30s");
	ck_assert_str_eq(st_df_flag(&df.v[2], "retries"), "3");
	check_args(&df.v[3], "CMD", "/bin/check", "--deep", NULL);
	ck_assert(df.v[3].json);
	ck_assert_str_eq(st_df_flag(&df.v[4], "start-interval"), "2s");
	st_dockerfile_free(&df);

	one_fails("HEALTHCHECK", "HEALTHCHECK requires at least one argument");
	one_fails("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments");
	one_fails("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD");
	one_fails("HEALTHCHECK CMD []", "Missing command after HEALTHCHECK CMD");
	one_fails("HEALTHCHECK RUN x", "Unknown type \"RUN\" in HEALTHCHECK (try CMD)");
	one_fails("HEALTHCHECK --interval=abc CMD x", "time: invalid duration \"abc\"");
	one_fails("HEALTHCHECK --interval=5 CMD x", "time: missing unit in duration \"5\"");
	one_fails("HEALTHCHECK --timeout=5y CMD x", "time: unknown unit \"y\" in duration \"5y\"");
	one_fails("HEALTHCHECK --interval=500us CMD x", "Interval \"interval\" cannot be less than 1ms");
	one_fails("HEALTHCHECK --timeout=-1s CMD x", "Interval \"timeout\" cannot be less than 1ms");
	one_fails("HEALTHCHECK --retries=x CMD x", "strconv.ParseInt: parsing \"x\": invalid syntax");
	one_fails("HEALTHCHECK --retries=99999999999 CMD x",
		  "strconv.ParseInt: parsing \"99999999999\": value out of range");
	one_fails("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)");
	one_fails("HEALTHCHECK --foo=1 CMD x", "Unknown flag: foo");
}
END_TEST

START_TEST(test_onbuild)
{
	struct st_dockerfile df = parse_ok("FROM a\n"
					   "ONBUILD RUN echo building\n"
					   "onbuild   COPY --from=deps --chown=1 . /app\n"
					   "ONBUILD CMD [\"x\"]\n"
					   "ONBUILD ENV A=1 B=2\n");
	struct st_df_instr *in = &df.v[1];
	ck_assert_str_eq(in->cmd, "ONBUILD");
	check_args(in, "RUN echo building", NULL);
	ck_assert_ptr_nonnull(in->sub);
	ck_assert_str_eq(in->sub->cmd, "RUN");
	ck_assert_int_eq(in->sub->line, 2);
	check_args(in->sub, "echo building", NULL);
	ck_assert_str_eq(in->sub->original, "RUN echo building");

	in = &df.v[2];
	check_args(in, "COPY --from=deps --chown=1 . /app", NULL);
	ck_assert_uint_eq(in->nflags, 0);
	ck_assert_str_eq(st_df_flag(in->sub, "from"), "deps");
	check_args(in->sub, ".", "/app", NULL);
	ck_assert(df.v[3].sub->json);
	check_args(df.v[4].sub, "A", "1", "B", "2", NULL);
	st_dockerfile_free(&df);

	one_fails("ONBUILD", "ONBUILD requires at least one argument");
	one_fails("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
	one_fails("ONBUILD onbuild RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
	one_fails("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger");
	one_fails("ONBUILD maintainer me", "MAINTAINER isn't allowed as an ONBUILD trigger");
	one_fails("ONBUILD XYZZY x", "unknown instruction: XYZZY");
	one_fails("ONBUILD RUM x", "unknown instruction: RUM (did you mean run?)");
	one_fails("ONBUILD RUN", "RUN requires at least one argument");
	one_fails("ONBUILD --x RUN y", "Unknown flag: x");
	one_fails("ONBUILD COPY --bad=1 a b", "Unknown flag: bad");
	one_fails("ONBUILD ARG A B", "ONBUILD ARG takes exactly one name");
}
END_TEST

START_TEST(test_onbuild_trigger_text_round_trip)
{
	/* the trigger text ONBUILD stores parses back to the same instruction */
	struct st_dockerfile df = parse_one("ONBUILD COPY --chown=app [\"a b\", \"/dst/\"]");
	struct st_df_instr t;
	struct st_error err = {0};
	ST_OK(st_df_parse_trigger(df.v[1].args[0], NULL, &t, &err), &err);
	ck_assert_str_eq(t.cmd, "COPY");
	ck_assert_int_eq(t.line, 1);
	ck_assert(t.json);
	check_args(&t, "a b", "/dst/", NULL);
	ck_assert_str_eq(st_df_flag(&t, "chown"), "app");
	st_df_instr_free(&t);
	st_dockerfile_free(&df);

	ST_OK(st_df_parse_trigger("  run echo `x`  ", "trigger", &t, &err), &err);
	ck_assert_str_eq(t.cmd, "RUN");
	check_args(&t, "echo `x`", NULL);
	st_df_instr_free(&t);

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"", "ONBUILD:1: ONBUILD requires at least one argument"},
		{"ONBUILD RUN x", "ONBUILD:1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{"from x", "ONBUILD:1: FROM isn't allowed as an ONBUILD trigger"},
		{"MAINTAINER me", "ONBUILD:1: MAINTAINER isn't allowed as an ONBUILD trigger"},
		{"COPY a", "ONBUILD:1: COPY requires at least two arguments, but only one was provided. Destination "
			   "could not be determined."},
		{"ARG A B", "ONBUILD:1: ONBUILD ARG takes exactly one name"},
		{"ZAP x", "ONBUILD:1: unknown instruction: ZAP"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(st_df_parse_trigger(bad[i].text, NULL, &t, &err), -EINVAL);
		ck_assert_str_eq(err.msg, bad[i].msg);
		ck_assert_ptr_null(t.cmd);
	}
}
END_TEST

START_TEST(test_realistic_multistage_dockerfile)
{
	const char *text = "# syntax=docker/dockerfile:1\n"
			   "ARG GO_VERSION=1.22\n"
			   "FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build\n"
			   "WORKDIR /src\n"
			   "COPY go.mod go.sum ./\n"
			   "RUN --mount=type=cache,target=/go/pkg/mod \\\n"
			   "    go mod download\n"
			   "COPY . .\n"
			   "ARG TARGETOS TARGETARCH\n"
			   "RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \\\n"
			   "    # build it\n"
			   "    go build -o /out/app ./cmd/app\n"
			   "\n"
			   "FROM gcr.io/distroless/static AS final\n"
			   "LABEL org.opencontainers.image.source=\"https://example.com/repo\"\n"
			   "COPY --from=build /out/app /app\n"
			   "USER nonroot:nonroot\n"
			   "EXPOSE 8080\n"
			   "HEALTHCHECK --interval=10s CMD [\"/app\", \"-health\"]\n"
			   "ENTRYPOINT [\"/app\"]\n";
	struct st_dockerfile df = parse_ok(text);
	static const char *cmds[] = {"ARG",  "FROM",  "WORKDIR", "COPY", "RUN",	 "COPY",	"ARG",
				     "ARG",  "RUN",   "FROM",	 "LABEL", "COPY", "USER", "EXPOSE",
				     "HEALTHCHECK", "ENTRYPOINT"};
	ck_assert_uint_eq(df.n, sizeof(cmds) / sizeof(cmds[0]));
	for (size_t i = 0; i < df.n; i++)
		ck_assert_str_eq(df.v[i].cmd, cmds[i]);
	check_args(&df.v[8], "CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH     go build -o /out/app ./cmd/app",
		   NULL);
	ck_assert_int_eq(df.v[9].line, 14);
	check_args(&df.v[9], "gcr.io/distroless/static", "final", NULL);
	st_dockerfile_free(&df);
}
END_TEST

START_TEST(test_parse_durations)
{
	static const struct {
		const char *in;
		int64_t ns;
	} ok[] = {
		{"0", 0},
		{"1ns", 1},
		{"1.5h", 5400000000000},
		{"1h2m3.5s", 3723500000000},
		{"500ms", 500000000},
		{".5s", 500000000},
		{"1\xc2\xb5s", 1000},
		{"-1m", -60000000000},
		{"+2us", 2000},
		{"2562047h47m16.854775807s", INT64_MAX},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ns = 42;
		struct st_error err = {0};
		ST_OK(st_df_parse_duration(ok[i].in, &ns, &err), &err);
		ck_assert_msg(ns == ok[i].ns, "%s: %lld", ok[i].in, (long long)ns);
	}
	const char *bad[] = {"", "1", "s", ".s", "1x", "1.2.3s", "9999999999h", "--1s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ns;
		struct st_error err = {0};
		ck_assert_msg(st_df_parse_duration(bad[i], &ns, &err) == -EINVAL, "\"%s\" accepted", bad[i]);
		ck_assert(strstr(err.msg, "time: ") == err.msg);
	}
}
END_TEST

/* ------------------------------------------------------------ expansion */

static void vars_init(struct st_kvlist *v)
{
	*v = (struct st_kvlist){0};
	ck_assert_int_eq(st_kvlist_add(v, "A", "a"), 0);
	ck_assert_int_eq(st_kvlist_add(v, "EMPTY", "%s", ""), 0);
	ck_assert_int_eq(st_kvlist_add(v, "SP", "x  y"), 0);
	ck_assert_int_eq(st_kvlist_add(v, "V", "foo.tar.gz"), 0);
	ck_assert_int_eq(st_kvlist_add(v, "P", "/usr/local/bin"), 0);
	ck_assert_int_eq(st_kvlist_add(v, "U", "\xc3\xa9t\xc3\xa9"), 0);
	ck_assert_int_eq(st_kvlist_add(v, "LATER", "first"), 0);
	ck_assert_int_eq(st_kvlist_add(v, "LATER", "second"), 0);
}

START_TEST(test_expand_table)
{
	static const struct {
		const char *in, *out; /* out NULL: an error whose message contains err */
		const char *err;
	} rows[] = {
		{"plain", "plain", NULL},
		{"$A", "a", NULL},
		{"${A}", "a", NULL},
		{"${A}b", "ab", NULL},
		{"$Ab", "", NULL},
		{"$A-b", "a-b", NULL},
		{"$A/$A", "a/a", NULL},
		{"$UNSET", "", NULL},
		{"${UNSET}x", "x", NULL},
		{"$LATER", "second", NULL},
		{"$", "$", NULL},
		{"a$", "a$", NULL},
		{"$ x", "$ x", NULL},
		{"$1", "", NULL},
		{"$12x", "x", NULL},
		{"${UNSET:-def}", "def", NULL},
		{"${EMPTY:-def}", "def", NULL},
		{"${A:-def}", "a", NULL},
		{"${UNSET-def}", "def", NULL},
		{"${EMPTY-def}", "", NULL},
		{"${A-def}", "a", NULL},
		{"${A:+alt}", "alt", NULL},
		{"${EMPTY:+alt}", "", NULL},
		{"${UNSET:+alt}", "", NULL},
		{"${A+alt}", "alt", NULL},
		{"${EMPTY+alt}", "alt", NULL},
		{"${UNSET+alt}", "", NULL},
		{"${UNSET:-${A}x}", "ax", NULL},
		{"${UNSET:-${UNSET2:-deep}}", "deep", NULL},
		{"${A:+${A}${A}}", "aa", NULL},
		{"${UNSET:-'q  $A'}", "q  $A", NULL},
		{"${UNSET:-\"$A b\"}", "a b", NULL},
		{"${UNSET:-a\\}b}", "a}b", NULL},
		{"${UNSET:-}", "", NULL},
		{"${A?}", "a", NULL},
		{"${EMPTY?}", "", NULL},
		{"'$A'", "$A", NULL},
		{"\"$A\"", "a", NULL},
		{"\"a\\\"b\"", "a\"b", NULL},
		{"\"\\$A\"", "$A", NULL},
		{"\"\\x\"", "\\x", NULL},
		{"\"\\\\\"", "\\", NULL},
		{"\"it's\"", "it's", NULL},
		{"'a\\b'", "a\\b", NULL},
		{"\\$A", "$A", NULL},
		{"a\\ b", "a b", NULL},
		{"a\\", "a", NULL},
		{"\\\\", "\\", NULL},
		{"x  y", "x  y", NULL},
		{"'a'\"b\"c", "abc", NULL},
		{"${V%.*}", "foo.tar", NULL},
		{"${V%%.*}", "foo", NULL},
		{"${V#*.}", "tar.gz", NULL},
		{"${V##*.}", "gz", NULL},
		{"${V#nomatch}", "foo.tar.gz", NULL},
		{"${P##*/}", "bin", NULL},
		{"${P%/*}", "/usr/local", NULL},
		{"${U%?}", "\xc3\xa9t", NULL},
		{"${U#?}", "t\xc3\xa9", NULL},
		{"${V#f?o}", ".tar.gz", NULL},
		{"${V%[gz]z}", "foo.tar.", NULL},
		{"${V/o/0}", "f0o.tar.gz", NULL},
		{"${V//o/0}", "f00.tar.gz", NULL},
		{"${V/.*/}", "foo", NULL},
		{"${V//[.]/-}", "foo-tar-gz", NULL},
		{"${UNSET//x/y}", "", NULL},
		{"${A}", "a", NULL},
		{"${A", NULL, "failed to process \"${A\": syntax error: missing '}'"},
		{"${A:-x", NULL, "syntax error: missing '}'"},
		{"${", NULL, "syntax error: missing '}'"},
		{"${}", NULL, "syntax error: bad substitution"},
		{"${:-x}", NULL, "syntax error: bad substitution"},
		{"${{A}}", NULL, "syntax error: bad substitution"},
		{"${A!}", NULL, "unsupported modifier (!) in substitution"},
		{"${A:x}", NULL, "unsupported modifier (:x) in substitution"},
		{"${A:#x}", NULL, "unsupported modifier (:#) in substitution"},
		{"${V/x", NULL, "syntax error: missing '/' in ${}"},
		{"'abc", NULL, "unexpected end of statement while looking for matching single-quote"},
		{"\"abc", NULL, "unexpected end of statement while looking for matching double-quote"},
		{"\"abc\\", NULL, "unexpected end of statement while looking for matching double-quote"},
		{"${UNSET?must be set}", NULL, "UNSET: must be set"},
		{"${UNSET?}", NULL, "UNSET: is not allowed to be unset"},
		{"${EMPTY:?}", NULL, "EMPTY: is not allowed to be empty"},
		{"${UNSET:?}", NULL, "UNSET: is not allowed to be unset"},
	};
	struct st_kvlist vars;
	vars_init(&vars);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *out = (char *)"unset";
		struct st_error err = {0};
		int r = st_df_expand(rows[i].in, &vars, '\\', &out, &err);
		if (rows[i].out) {
			ck_assert_msg(r == 0, "%s: failed: %s", rows[i].in, err.msg);
			ck_assert_msg(strcmp(out, rows[i].out) == 0, "%s: got \"%s\", want \"%s\"", rows[i].in, out,
				      rows[i].out);
			free(out);
		} else {
			ck_assert_msg(r == -EINVAL, "%s: expected an error, got %d (\"%s\")", rows[i].in, r,
				      r == 0 ? out : "");
			ck_assert_ptr_null(out);
			ck_assert_msg(strstr(err.msg, rows[i].err), "%s: message \"%s\" lacks \"%s\"", rows[i].in,
				      err.msg, rows[i].err);
		}
	}
	st_kvlist_free(&vars);
}
END_TEST

START_TEST(test_expand_with_backtick_escape)
{
	struct st_kvlist vars;
	vars_init(&vars);
	static const struct {
		const char *in, *out;
	} rows[] = {
		{"a`$A", "a$A"},	{"c:\\dir\\$A", "c:\\dir\\a"}, {"\"`\"q`\"\"", "\"q\""},
		{"\"\\$A\"", "\\a"},	{"a` b", "a b"},		 {"${UNSET:-`}}", "}"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *out;
		struct st_error err = {0};
		ST_OK(st_df_expand(rows[i].in, &vars, '`', &out, &err), &err);
		ck_assert_msg(strcmp(out, rows[i].out) == 0, "%s: got \"%s\", want \"%s\"", rows[i].in, out,
			      rows[i].out);
		free(out);
	}
	st_kvlist_free(&vars);
}
END_TEST

START_TEST(test_expand_without_vars)
{
	char *out;
	struct st_error err = {0};
	ST_OK(st_df_expand("${X:-none}$Y", NULL, '\\', &out, &err), &err);
	ck_assert_str_eq(out, "none");
	free(out);
	ck_assert_int_eq(st_df_expand(NULL, NULL, '\\', &out, &err), -EINVAL);
}
END_TEST

static void check_words(const char *in, const struct st_kvlist *vars, ...)
{
	char **w = NULL;
	size_t n = 99;
	struct st_error err = {0};
	ST_OK(st_df_expand_words(in, vars, '\\', &w, &n, &err), &err);
	ck_assert_ptr_nonnull(w);
	va_list ap;
	va_start(ap, vars);
	size_t i = 0;
	for (const char *want; (want = va_arg(ap, const char *)); i++) {
		ck_assert_msg(i < n, "%s: only %zu words", in, n);
		ck_assert_msg(strcmp(w[i], want) == 0, "%s: word %zu is \"%s\", want \"%s\"", in, i, w[i], want);
	}
	va_end(ap);
	ck_assert_msg(i == n, "%s: %zu words, want %zu", in, n, i);
	ck_assert_ptr_null(w[n]);
	for (size_t k = 0; k < n; k++)
		free(w[k]);
	free(w);
}

START_TEST(test_expand_words_table)
{
	struct st_kvlist vars;
	vars_init(&vars);
	check_words("a b  c", &vars, "a", "b", "c", NULL);
	check_words("  lead trail  ", &vars, "lead", "trail", NULL);
	check_words("\"a b\" c", &vars, "a b", "c", NULL);
	check_words("'a  b'", &vars, "a  b", NULL);
	check_words("$SP", &vars, "x", "y", NULL);
	check_words("\"$SP\"", &vars, "x  y", NULL);
	check_words("x$SP", &vars, "xx", "y", NULL);
	check_words("${UNSET:-p q}", &vars, "p", "q", NULL);
	check_words("a\\ b c", &vars, "a b", "c", NULL);
	check_words("80/tcp $A", &vars, "80/tcp", "a", NULL);
	check_words("", &vars, NULL);
	check_words("$UNSET", &vars, NULL);
	check_words("'' a", &vars, "a", NULL);
	check_words("a\xc2\xa0" "b", &vars, "a", "b", NULL);
	check_words("\t/data\t/logs\t", &vars, "/data", "/logs", NULL);

	char **w = (char **)1;
	size_t n = 5;
	struct st_error err = {0};
	ck_assert_int_eq(st_df_expand_words("'open", &vars, '\\', &w, &n, &err), -EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_uint_eq(n, 0);
	ck_assert(strstr(err.msg, "single-quote") != NULL);
	st_kvlist_free(&vars);
}
END_TEST

/* ------------------------------------------------------------ .dockerignore */

struct di_case {
	const char *path;
	bool ignored;
};

static void check_ignore(const char *text, const struct di_case *cases, size_t n)
{
	struct st_dockerignore di;
	struct st_error err = {0};
	ST_OK(st_dockerignore_parse(text, strlen(text), &di, &err), &err);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(st_dockerignore_match(&di, cases[i].path) == cases[i].ignored,
			      "patterns \"%s\": \"%s\" should %sbe ignored", text, cases[i].path,
			      cases[i].ignored ? "" : "not ");
	st_dockerignore_free(&di);
}

#define CHECK_IGNORE(text, ...)                                                   \
	do {                                                                      \
		static const struct di_case c_[] = {__VA_ARGS__};                 \
		check_ignore(text, c_, sizeof(c_) / sizeof(c_[0]));               \
	} while (0)

START_TEST(test_dockerignore_parse_normalizes_patterns)
{
	const char *text = "\xEF\xBB\xBF# comment\r\n"
			   "\n"
			   "  *.log  \r\n"
			   "/abs/path/\n"
			   "./rel//x/./y\n"
			   "a/../b\n"
			   "! keep.log\n"
			   " #not-a-comment\n"
			   "/\n"
			   "!./docs/../README.md\n";
	struct st_dockerignore di;
	struct st_error err = {0};
	ST_OK(st_dockerignore_parse(text, strlen(text), &di, &err), &err);
	static const char *want[] = {"*.log", "abs/path", "rel/x/y", "b", "keep.log", "#not-a-comment", "/",
				     "README.md"};
	static const bool excl[] = {true, true, true, true, false, true, true, false};
	ck_assert_uint_eq(di.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < di.n; i++) {
		ck_assert_str_eq(di.patterns[i], want[i]);
		ck_assert_int_eq(di.exclude[i], excl[i]);
	}
	st_dockerignore_free(&di);
	ck_assert_ptr_null(di.patterns);
}
END_TEST

START_TEST(test_dockerignore_errors)
{
	static const struct {
		const char *text, *msg;
	} rows[] = {
		{"a\n!\n", ".dockerignore:2: illegal exclusion pattern: \"!\""},
		{"!  \n", ".dockerignore:1: illegal exclusion pattern: \"!\""},
		{"!/\n", ".dockerignore:1: illegal exclusion pattern: \"!\""},
		{"[\n", ".dockerignore:1: syntax error in pattern \"[\""},
		{"x\n[a-]\n", ".dockerignore:2: syntax error in pattern \"[a-]\""},
		{"[]a]\n", ".dockerignore:1: syntax error in pattern \"[]a]\""},
		{"[^]\n", ".dockerignore:1: syntax error in pattern \"[^]\""},
		{"a\\\n", ".dockerignore:1: syntax error in pattern \"a\\\""},
		{"*.go\n[z-\n", ".dockerignore:2: syntax error in pattern \"[z-\""},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct st_dockerignore di;
		struct st_error err = {0};
		ck_assert_int_eq(st_dockerignore_parse(rows[i].text, strlen(rows[i].text), &di, &err), -EINVAL);
		ck_assert_str_eq(err.msg, rows[i].msg);
		ck_assert_uint_eq(di.n, 0);
	}
	struct st_dockerignore di;
	struct st_error err = {0};
	ck_assert_int_eq(st_dockerignore_parse("a\0b\n", 4, &di, &err), -EINVAL);
}
END_TEST

START_TEST(test_dockerignore_globs)
{
	CHECK_IGNORE("*.go", {"a.go", true}, {"dir/a.go", false}, {"a.goo", false}, {".go", true});
	CHECK_IGNORE("**/*.go", {"a.go", true}, {"a/b/c.go", true}, {"a/b/c.gox", false});
	CHECK_IGNORE("a?c", {"abc", true}, {"a/c", false}, {"ac", false}, {"a\xc3\xa9" "c", true});
	CHECK_IGNORE("[a-c]x\n[^m]y", {"bx", true}, {"dx", false}, {"zy", true}, {"my", false}, {"a/y", false});
	CHECK_IGNORE("[!a]x", {"!x", true}, {"ax", true}, {"bx", false});
	CHECK_IGNORE("\\*lit\nq\\?", {"*lit", true}, {"xlit", false}, {"q?", true}, {"qa", false});
	CHECK_IGNORE("*/temp*", {"a/temporary", true}, {"temp", false}, {"a/b/temp", false}, {"a/temp/x", true});
	CHECK_IGNORE("file.$x+(y)", {"file.$x+(y)", true}, {"fileX$x+(y)", false});
	CHECK_IGNORE("#lit", {"#lit", false});
	CHECK_IGNORE(" #lit", {"#lit", true});
}
END_TEST

START_TEST(test_dockerignore_double_star)
{
	CHECK_IGNORE("**", {"file", true}, {"dir/file", true}, {"a/b/c", true});
	CHECK_IGNORE("dir/**", {"dir", false}, {"dir/x", true}, {"dir/x/y", true}, {"dirx/y", false});
	CHECK_IGNORE("**/node_modules", {"node_modules", true}, {"a/node_modules", true}, {"a/b/node_modules/x", true},
		     {"node_modules2", false});
	CHECK_IGNORE("a/**/b", {"a/b", true}, {"a/x/b", true}, {"a/x/y/b", true}, {"a/xb", false}, {"b", false});
	CHECK_IGNORE("**/dir2/*", {"dir/dir2/file", true}, {"dir2/file", true}, {"dir/dir2/file/x", true},
		     {"dir/dir3/file", false});
	CHECK_IGNORE("**/", {"x", true});
	CHECK_IGNORE("**/**/x", {"x", true}, {"a/b/x", true}, {"a/b/y", false});
}
END_TEST

START_TEST(test_dockerignore_directories_and_exceptions)
{
	/* a pattern matching a directory excludes everything below it */
	CHECK_IGNORE("docs", {"docs", true}, {"docs/readme.md", true}, {"docs/a/b", true}, {"docsx", false},
		     {"x/docs", false});
	CHECK_IGNORE("docs/\n!docs/README.md", {"docs/README.md", false}, {"docs/other", true}, {"docs", true});
	CHECK_IGNORE("build\n!build/keep.txt", {"build", true}, {"build/keep.txt", false}, {"build/x", true});
	CHECK_IGNORE("*\n!keep", {"x", true}, {"keep", false}, {"keep/sub", false}, {"other/keep", true});
	CHECK_IGNORE("*.md\n!README.md", {"a.md", true}, {"README.md", false});
	/* later patterns win */
	CHECK_IGNORE("!a\na", {"a", true});
	CHECK_IGNORE("a\n!a\na", {"a", true});
	CHECK_IGNORE("a\n!a", {"a", false});
	CHECK_IGNORE("*.txt\n!important*.txt\nimportant-but-not-this.txt", {"x.txt", true},
		     {"important1.txt", false}, {"important-but-not-this.txt", true});
	/* leading "/" and "./" in patterns; cleaned paths */
	CHECK_IGNORE("/secrets\n./.env", {"secrets/key", true}, {".env", true}, {"x/.env", false});
	CHECK_IGNORE("a/b", {"./a/b", true}, {"a//b", true}, {"a/./b/c", true}, {"x/../a/b", true},
		     {"/a/b", true}, {"a/b/", true});
	CHECK_IGNORE("*", {".", false}, {"", false}, {"./", false});
}
END_TEST

START_TEST(test_dockerignore_empty)
{
	struct st_dockerignore di;
	struct st_error err = {0};
	ST_OK(st_dockerignore_parse("", 0, &di, &err), &err);
	ck_assert_uint_eq(di.n, 0);
	ck_assert(!st_dockerignore_match(&di, "anything"));
	st_dockerignore_free(&di);
	ST_OK(st_dockerignore_parse("# just\n\n   \n", 11, &di, &err), &err);
	ck_assert_uint_eq(di.n, 0);
	st_dockerignore_free(&di);
}
END_TEST

START_TEST(test_dockerignore_long_patterns_and_paths)
{
	/* patterns longer than the matcher's stack buffers, and a pattern with
	 * many stars against a long path (linear time, no backtracking blowup) */
	char pat[600], path[4096];
	memset(pat, 0, sizeof(pat));
	for (size_t i = 0; i < 150; i++)
		memcpy(pat + 2 * i, "*a", 2);
	strcat(pat, "*b");
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	struct st_dockerignore di;
	struct st_error err = {0};
	ST_OK(st_dockerignore_parse(pat, strlen(pat), &di, &err), &err);
	ck_assert(!st_dockerignore_match(&di, path));
	path[sizeof(path) - 2] = 'b';
	ck_assert(st_dockerignore_match(&di, path));
	st_dockerignore_free(&di);
}
END_TEST

static Suite *dockerfile_suite(void)
{
	Suite *s = suite_create("dockerfile");
	TCase *t = tcase_create("lines");
	tcase_add_test(t, test_basic_instructions_lines_and_original);
	tcase_add_test(t, test_instruction_names_are_case_insensitive);
	tcase_add_test(t, test_comments_blank_lines_and_indentation);
	tcase_add_test(t, test_continuation_joins_lines_keeping_indentation);
	tcase_add_test(t, test_continuation_skips_comment_and_blank_lines);
	tcase_add_test(t, test_continuation_with_trailing_blanks_and_own_line);
	tcase_add_test(t, test_escaped_escape_is_not_a_continuation);
	tcase_add_test(t, test_comment_ending_in_escape_does_not_continue);
	tcase_add_test(t, test_continuation_at_eof);
	tcase_add_test(t, test_escape_directive_backtick);
	tcase_add_test(t, test_directives_only_before_anything_else);
	tcase_add_test(t, test_directive_errors);
	tcase_add_test(t, test_bom_and_crlf);
	tcase_add_test(t, test_file_level_errors);
	tcase_add_test(t, test_nul_byte_counts_as_text_length);
	tcase_add_test(t, test_unknown_instruction);
	tcase_add_test(t, test_arg_before_from);
	suite_add_tcase(s, t);

	t = tcase_create("flags");
	tcase_add_test(t, test_flags_before_arguments);
	tcase_add_test(t, test_flag_values_lose_quotes_and_escapes);
	tcase_add_test(t, test_bool_flags);
	tcase_add_test(t, test_repeatable_flags);
	tcase_add_test(t, test_double_dash_ends_flags);
	tcase_add_test(t, test_flag_errors);
	suite_add_tcase(s, t);

	t = tcase_create("instructions");
	tcase_add_test(t, test_exec_form_and_shell_form);
	tcase_add_test(t, test_invalid_json_falls_back_to_shell_form);
	tcase_add_test(t, test_json_with_non_strings_is_an_error);
	tcase_add_test(t, test_run_cmd_entrypoint_arguments);
	tcase_add_test(t, test_shell_instruction);
	tcase_add_test(t, test_heredocs_are_refused_clearly);
	tcase_add_test(t, test_copy_and_add);
	tcase_add_test(t, test_from_forms);
	tcase_add_test(t, test_env_forms);
	tcase_add_test(t, test_label_forms);
	tcase_add_test(t, test_arg_forms);
	tcase_add_test(t, test_single_value_instructions);
	tcase_add_test(t, test_expose_and_volume);
	tcase_add_test(t, test_healthcheck);
	tcase_add_test(t, test_onbuild);
	tcase_add_test(t, test_onbuild_trigger_text_round_trip);
	tcase_add_test(t, test_realistic_multistage_dockerfile);
	tcase_add_test(t, test_parse_durations);
	suite_add_tcase(s, t);

	t = tcase_create("expand");
	tcase_add_test(t, test_expand_table);
	tcase_add_test(t, test_expand_with_backtick_escape);
	tcase_add_test(t, test_expand_without_vars);
	tcase_add_test(t, test_expand_words_table);
	suite_add_tcase(s, t);

	t = tcase_create("dockerignore");
	tcase_add_test(t, test_dockerignore_parse_normalizes_patterns);
	tcase_add_test(t, test_dockerignore_errors);
	tcase_add_test(t, test_dockerignore_globs);
	tcase_add_test(t, test_dockerignore_double_star);
	tcase_add_test(t, test_dockerignore_directories_and_exceptions);
	tcase_add_test(t, test_dockerignore_empty);
	tcase_add_test(t, test_dockerignore_long_patterns_and_paths);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return st_test_main(dockerfile_suite());
}
