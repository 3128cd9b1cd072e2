/*
 * Unit tests for src/imap/imap_parse.c: tags and command names, UID
 * commands, atoms, NIL, quoted strings, literals of every form, lists, FETCH
 * sections inside atoms, every error path, the limits at their edges (tag
 * 64/65, depth 16/17, arguments 10000/10001), the RFC examples, literal
 * announcements, and commands framed from input split at every byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

/* ---- helpers --------------------------------------------------------------- */

#define L(s) (s), sizeof(s) - 1 /* a literal with its length, NULs included */

static void dump_args(struct buf *b, const struct imap_arg *args, size_t n);

/*
 * A compact rendering of a tree: atoms as written (a section follows in
 * braces), "quoted" strings, <literals>, ~<binary literals>, #NIL, (lists).
 */
static void dump_arg(struct buf *b, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
		buf_append(b, a->value.p, a->value.len);
		if (a->nsection) {
			buf_putc(b, '{');
			dump_args(b, a->section, a->nsection);
			buf_putc(b, '}');
		}
		break;
	case IMAP_ARG_STRING:
		buf_putc(b, '"');
		buf_append(b, a->value.p, a->value.len);
		buf_putc(b, '"');
		break;
	case IMAP_ARG_LITERAL:
		buf_puts(b, a->binary ? "~<" : "<");
		buf_append(b, a->value.p, a->value.len);
		buf_putc(b, '>');
		break;
	case IMAP_ARG_NIL:
		buf_puts(b, "#NIL");
		break;
	case IMAP_ARG_LIST:
		buf_putc(b, '(');
		dump_args(b, a->list, a->nlist);
		buf_putc(b, ')');
		break;
	}
}

static void dump_args(struct buf *b, const struct imap_arg *args, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (k)
			buf_putc(b, ' ');
		dump_arg(b, &args[k]);
	}
}

static enum imap_parse_status parse_len(const char *in, size_t len, struct imap_cmd *cmd)
{
	struct buf why = BUF_INIT;
	enum imap_parse_status st = imap_parse_command(in, len, cmd, &why);
	/* Every failure comes with a reason, success with none. */
	if (st == IMAP_PARSE_OK)
		assert_int_equal(why.len, 0);
	else
		assert_true(why.len > 0);
	if (st != IMAP_PARSE_OK) {
		assert_null(cmd->args);
		assert_int_equal(cmd->nargs, 0);
	}
	buf_free(&why);
	return st;
}

static enum imap_parse_status parse(const char *in, struct imap_cmd *cmd)
{
	return parse_len(in, strlen(in), cmd);
}

static void assert_str(struct str s, const char *want)
{
	if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
		fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.p, want);
}

static char *repeat(const char *unit, size_t n, const char *prefix, const char *suffix)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, prefix);
	for (size_t k = 0; k < n; k++)
		buf_puts(&b, unit);
	buf_puts(&b, suffix);
	return buf_steal(&b);
}

struct cmd_case {
	const char *in;
	size_t len; /* 0: strlen(in) */
	enum imap_parse_status st;
	const char *tag;  /* checked when not NULL */
	const char *name; /* checked when not NULL */
	const char *dump; /* checked when not NULL (only on success) */
};

static void run_cases(const struct cmd_case *cases, size_t n)
{
	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	for (size_t i = 0; i < n; i++) {
		const struct cmd_case *t = &cases[i];
		size_t len = t->len ? t->len : strlen(t->in);
		enum imap_parse_status st = parse_len(t->in, len, &cmd);
		if (st != t->st)
			fail_msg("\"%s\": status %d, want %d", t->in, st, t->st);
		if (t->tag)
			assert_str(cmd.tag, t->tag);
		if (t->name && strcmp(cmd.name, t->name) != 0)
			fail_msg("\"%s\": name \"%s\", want \"%s\"", t->in, cmd.name, t->name);
		if (t->dump && st == IMAP_PARSE_OK) {
			struct buf d = BUF_INIT;
			dump_args(&d, cmd.args, cmd.nargs);
			if (strcmp(buf_cstr(&d), t->dump) != 0)
				fail_msg("\"%s\": args [%s], want [%s]", t->in, buf_cstr(&d),
				         t->dump);
			buf_free(&d);
		}
	}
	imap_cmd_free(&cmd);
}

/* ---- tags and names ---------------------------------------------------------- */

static void test_tags_names_and_plain_arguments_are_split(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a1 NOOP", 0, IMAP_PARSE_OK, "a1", "NOOP", ""},
	        {"a1 noop", 0, IMAP_PARSE_OK, "a1", "NOOP", ""},
	        {"A001 LOGIN fred secret", 0, IMAP_PARSE_OK, "A001", "LOGIN", "fred secret"},
	        {"x capability", 0, IMAP_PARSE_OK, "x", "CAPABILITY", ""},
	        {"a]b NOOP", 0, IMAP_PARSE_OK, "a]b", "NOOP", ""},
	        {"1.2-3_$ NOOP", 0, IMAP_PARSE_OK, "1.2-3_$", "NOOP", ""},
	        {"~a NOOP", 0, IMAP_PARSE_OK, "~a", "NOOP", ""},
	        {"t X-VENDOR-CMD a", 0, IMAP_PARSE_OK, "t", "X-VENDOR-CMD", "a"},
	        {"t SELECT INBOX", 0, IMAP_PARSE_OK, "t", "SELECT", "INBOX"},
	        {"t SeLeCt inbox", 0, IMAP_PARSE_OK, "t", "SELECT", "inbox"},
	        {"t STORE 1:* +FLAGS.SILENT (\\Seen \\Deleted)", 0, IMAP_PARSE_OK, "t", "STORE",
	         "1:* +FLAGS.SILENT (\\Seen \\Deleted)"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_uid_commands_are_named_with_their_subcommand(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a UID FETCH 1:* FLAGS", 0, IMAP_PARSE_OK, "a", "UID FETCH", "1:* FLAGS"},
	        {"a uid fetch 1 UID", 0, IMAP_PARSE_OK, "a", "UID FETCH", "1 UID"},
	        {"a UID SEARCH ALL", 0, IMAP_PARSE_OK, "a", "UID SEARCH", "ALL"},
	        {"a UID EXPUNGE 3", 0, IMAP_PARSE_OK, "a", "UID EXPUNGE", "3"},
	        {"a UID MOVE 42:69 foo", 0, IMAP_PARSE_OK, "a", "UID MOVE", "42:69 foo"},
	        {"a UID THREAD REFERENCES UTF-8 ALL", 0, IMAP_PARSE_OK, "a", "UID THREAD",
	         "REFERENCES UTF-8 ALL"},
	        {"a UID NOOP", 0, IMAP_PARSE_OK, "a", "UID NOOP", ""},
	        {"a UID", 0, IMAP_PARSE_BAD, "a", NULL, NULL},
	        {"a UID ", 0, IMAP_PARSE_BAD, "a", NULL, NULL},
	        {"a UID  FETCH 1 FLAGS", 0, IMAP_PARSE_BAD, "a", NULL, NULL},
	        {"a UID (FETCH)", 0, IMAP_PARSE_BAD, "a", NULL, NULL},
	        {"a UID FETCH(1)", 0, IMAP_PARSE_BAD, "a", NULL, NULL},
	        {"a UIDFETCH 1", 0, IMAP_PARSE_OK, "a", "UIDFETCH", "1"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_missing_or_malformed_tags_give_no_tag(void **state)
{
	static const struct cmd_case cases[] = {
	        {"", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {" NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"+ NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"* NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"a+b NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"a*b NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"a%b NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"a(b NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"a{b NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"a\\b NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"\"a\" NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"a\tNOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"\xc3\xa9 NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"a\xc3\xa9 NOOP", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"\r\n", 0, IMAP_PARSE_NO_TAG, "", "", NULL},
	        {"\0a NOOP", 7, IMAP_PARSE_NO_TAG, "", "", NULL},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_a_tag_of_64_bytes_passes_and_65_has_no_tag(void **state)
{
	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	char *ok = repeat("t", IMAP_MAX_TAG, "", " NOOP");
	char *over = repeat("t", IMAP_MAX_TAG + 1, "", " NOOP");
	assert_int_equal(parse(ok, &cmd), IMAP_PARSE_OK);
	assert_int_equal(cmd.tag.len, IMAP_MAX_TAG);
	assert_ptr_equal(cmd.tag.p, ok);
	assert_int_equal(parse(over, &cmd), IMAP_PARSE_NO_TAG);
	assert_int_equal(cmd.tag.len, 0);
	free(ok);
	free(over);
	imap_cmd_free(&cmd);
}

static void test_malformed_command_names_are_bad_with_the_tag_known(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a", 0, IMAP_PARSE_BAD, "a", "", NULL},
	        {"a ", 0, IMAP_PARSE_BAD, "a", "", NULL},
	        {"a  NOOP", 0, IMAP_PARSE_BAD, "a", "", NULL},
	        {"a NO(OP", 0, IMAP_PARSE_BAD, "a", "", NULL},
	        {"a FETCH(1)", 0, IMAP_PARSE_BAD, "a", "", NULL},
	        {"a \"NOOP\"", 0, IMAP_PARSE_BAD, "a", "", NULL},
	        {"a NO\xc3\x89OP", 0, IMAP_PARSE_BAD, "a", "", NULL},
	        {"a N\tOOP", 0, IMAP_PARSE_BAD, "a", "", NULL},
	        {"a NOOP\r\n", 0, IMAP_PARSE_BAD, "a", "", NULL},
	        {"a {4}\r\nNOOP", 0, IMAP_PARSE_BAD, "a", "", NULL},
	        /* a name fills name[32] with its NUL */
	        {"a ABCDEFGHIJKLMNOPQRSTUVWXYZABCDE", 0, IMAP_PARSE_OK, "a",
	         "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDE", ""},
	        {"a ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF", 0, IMAP_PARSE_BAD, "a", "", NULL},
	        {"a UID ABCDEFGHIJKLMNOPQRSTUVWXYZA", 0, IMAP_PARSE_OK, "a",
	         "UID ABCDEFGHIJKLMNOPQRSTUVWXYZA", ""},
	        {"a UID ABCDEFGHIJKLMNOPQRSTUVWXYZAB", 0, IMAP_PARSE_BAD, "a", NULL, NULL},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

/* ---- separators and bytes ------------------------------------------------------ */

static void test_arguments_take_exactly_one_space_and_none_trailing(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a NOOP ", 0, IMAP_PARSE_BAD, "a", "NOOP", NULL},
	        {"a SELECT INBOX ", 0, IMAP_PARSE_BAD, "a", "SELECT", NULL},
	        {"a SELECT  INBOX", 0, IMAP_PARSE_BAD, "a", "SELECT", NULL},
	        {"a LOGIN a  b", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a FETCH 1 ( FLAGS)", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	        {"a FETCH 1 (FLAGS )", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	        {"a FETCH 1 (FLAGS  UID)", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	        {"a FETCH 1 (FLAGS)UID", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	        {"a FETCH 1 FLAGS)", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	        {"a FETCH 1 (FLAGS)(UID)", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	        {"a LOGIN \"a\"\"b\"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"a\"b", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN b\"a\"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN a\tb", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN a\r\nb", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN a b\r", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a FETCH 1 (FLAGS) ", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_atoms_take_flags_sequence_sets_wildcards_and_brackets(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a X \\Seen \\* $Forwarded", 0, IMAP_PARSE_OK, "a", "X", "\\Seen \\* $Forwarded"},
	        {"a X 1:*,$ 5:2,7 *", 0, IMAP_PARSE_OK, "a", "X", "1:*,$ 5:2,7 *"},
	        {"a LIST INBOX.% ~/Mail/*", 0, IMAP_PARSE_OK, "a", "LIST", "INBOX.% ~/Mail/*"},
	        {"a X a]b ] ]]", 0, IMAP_PARSE_OK, "a", "X", "a]b ] ]]"},
	        {"a X ~ a~b ~~", 0, IMAP_PARSE_OK, "a", "X", "~ a~b ~~"},
	        {"a X +FLAGS -FLAGS.SILENT", 0, IMAP_PARSE_OK, "a", "X", "+FLAGS -FLAGS.SILENT"},
	        {"a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q= =", 0, IMAP_PARSE_OK, "a",
	         "AUTHENTICATE", "PLAIN dGVzdAB0ZXN0AHRlc3Q= ="},
	        {"a X a}b <0.5> !#&'", 0, IMAP_PARSE_OK, "a", "X", "a}b <0.5> !#&'"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_control_and_8bit_bytes_outside_strings_are_bad(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a SELECT \xc3\xa9t\xc3\xa9", 0, IMAP_PARSE_BAD, "a", "SELECT", NULL},
	        {"a SELECT ab\xff", 0, IMAP_PARSE_BAD, "a", "SELECT", NULL},
	        {"a SELECT \x7f", 0, IMAP_PARSE_BAD, "a", "SELECT", NULL},
	        {"a SELECT a\x7f", 0, IMAP_PARSE_BAD, "a", "SELECT", NULL},
	        {"a SELECT \x01", 0, IMAP_PARSE_BAD, "a", "SELECT", NULL},
	        {"a SELECT a\0b", 12, IMAP_PARSE_BAD, "a", "SELECT", NULL},
	        {"a SELECT \0", 10, IMAP_PARSE_BAD, "a", "SELECT", NULL},
	        {"a FETCH 1 (\x80)", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_nil_is_recognised_in_any_case_and_only_as_a_whole_atom(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a X NIL nil Nil (NIL)", 0, IMAP_PARSE_OK, "a", "X", "#NIL #NIL #NIL (#NIL)"},
	        {"a X NILS ANIL \"NIL\" {3}\r\nNIL", 0, IMAP_PARSE_OK, "a", "X",
	         "NILS ANIL \"NIL\" <NIL>"},
	        {"a X NIL[]", 0, IMAP_PARSE_OK, "a", "X", "NIL[]"},
	};
	run_cases(cases, ARRAY_SIZE(cases));

	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	assert_int_equal(parse("a X nIl", &cmd), IMAP_PARSE_OK);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_NIL);
	assert_str(cmd.args[0].value, "nIl");
	imap_cmd_free(&cmd);
}

/* ---- quoted strings ---------------------------------------------------------------- */

static void test_quoted_strings_are_unescaped(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a LOGIN \"fred\" \"\"", 0, IMAP_PARSE_OK, "a", "LOGIN", "\"fred\" \"\""},
	        {"a LOGIN \"a\\\"b\" \"c\\\\d\"", 0, IMAP_PARSE_OK, "a", "LOGIN",
	         "\"a\"b\" \"c\\d\""},
	        {"a X \"\\\\\" \"\\\"\"", 0, IMAP_PARSE_OK, "a", "X", "\"\\\" \"\"\""},
	        {"a X \"two words\" \"(not a list)\" \"{5}\"", 0, IMAP_PARSE_OK, "a", "X",
	         "\"two words\" \"(not a list)\" \"{5}\""},
	        {"a X \"caf\xc3\xa9\" \"\xe6\x97\xa5\" \"\xf0\x9f\x98\x80\"", 0, IMAP_PARSE_OK, "a",
	         "X", "\"caf\xc3\xa9\" \"\xe6\x97\xa5\" \"\xf0\x9f\x98\x80\""},
	        {"a X \"tab\there\" \"\x01\x7f\"", 0, IMAP_PARSE_OK, "a", "X",
	         "\"tab\there\" \"\x01\x7f\""},
	        {"a X (\"a\\\\b\" \"c\")", 0, IMAP_PARSE_OK, "a", "X", "(\"a\\b\" \"c\")"},
	};
	run_cases(cases, ARRAY_SIZE(cases));

	/* Unescaped values live in the command; others point into the input. */
	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	const char *in = "a X \"plain\" \"es\\\\caped\"";
	assert_int_equal(parse(in, &cmd), IMAP_PARSE_OK);
	assert_ptr_equal(cmd.args[0].value.p, in + 5);
	assert_true(cmd.args[1].value.p < in || cmd.args[1].value.p > in + strlen(in));
	assert_str(cmd.args[1].value, "es\\caped");
	imap_cmd_free(&cmd);
}

static void test_malformed_quoted_strings_are_bad(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a LOGIN \"fred", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"fred\\\"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"fr\\ed\"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"fred\\", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"a\rb\"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"a\nb\"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"a\0b\"", 13, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"caf\xe9\"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"\xc3\"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"\xc0\x80\"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"\xed\xa0\x80\"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"\xf4\x90\x80\x80\"", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN \"\xe6\x97", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

/* ---- literals ------------------------------------------------------------------------ */

static void test_literals_of_every_form_parse(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a LOGIN {4}\r\nfred {6}\r\nsecret", 0, IMAP_PARSE_OK, "a", "LOGIN",
	         "<fred> <secret>"},
	        {"a LOGIN {0}\r\n {0}\r\n", 0, IMAP_PARSE_OK, "a", "LOGIN", "<> <>"},
	        {"a LOGIN {4+}\r\nfred {6+}\r\nsecret", 0, IMAP_PARSE_OK, "a", "LOGIN",
	         "<fred> <secret>"},
	        {"a X {3}\r\n( ) x", 0, IMAP_PARSE_OK, "a", "X", "<( )> x"},
	        {"a X {2}\r\n\r\n", 0, IMAP_PARSE_OK, "a", "X", "<\r\n>"},
	        {"a X ({1}\r\na {1}\r\nb)", 0, IMAP_PARSE_OK, "a", "X", "(<a> <b>)"},
	        {"a X {005}\r\nhello", 0, IMAP_PARSE_OK, "a", "X", "<hello>"},
	        {"a X {4}\r\n\xff\xfe\x80\"", 0, IMAP_PARSE_OK, "a", "X", "<\xff\xfe\x80\">"},
	        {"a APPEND INBOX ~{3}\r\nabc", 0, IMAP_PARSE_OK, "a", "APPEND", "INBOX ~<abc>"},
	        {"a APPEND INBOX ~{3+}\r\nabc", 0, IMAP_PARSE_OK, "a", "APPEND", "INBOX ~<abc>"},
	        {"a APPEND INBOX ~{0}\r\n", 0, IMAP_PARSE_OK, "a", "APPEND", "INBOX ~<>"},
	        {"a X ~{1}\r\n~ ~", 0, IMAP_PARSE_OK, "a", "X", "~<~> ~"},
	};
	run_cases(cases, ARRAY_SIZE(cases));

	/* A binary literal keeps its NULs and points into the input. */
	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	static const char bin[] = "a APPEND INBOX ~{5}\r\na\0b\0c";
	assert_int_equal(parse_len(L(bin), &cmd), IMAP_PARSE_OK);
	assert_int_equal(cmd.nargs, 2);
	assert_int_equal(cmd.args[1].type, IMAP_ARG_LITERAL);
	assert_true(cmd.args[1].binary);
	assert_int_equal(cmd.args[1].value.len, 5);
	assert_ptr_equal(cmd.args[1].value.p, bin + sizeof(bin) - 1 - 5);
	assert_memory_equal(cmd.args[1].value.p, "a\0b\0c", 5);
	assert_false(imap_arg_is_string(&cmd.args[1]));
	imap_cmd_free(&cmd);
}

static void test_literal_errors_are_bad(void **state)
{
	static const struct cmd_case cases[] = {
	        /* fewer bytes than announced, at the end and in the middle */
	        {"a LOGIN {5}\r\nfred", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {1}\r\n", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {99999999999}\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {18446744073709551615}\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {18446744073709551616}\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        /* more bytes than announced: the rest must be a separator */
	        {"a LOGIN {3}\r\nfred", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        /* NUL in a literal that is not binary */
	        {"a LOGIN {3}\r\na\0b", 16, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        /* malformed announcements */
	        {"a LOGIN {}\r\n", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {x}\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {-1}\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {1 }\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {1++}\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {+1}\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {1-}\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {1", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {1}", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {1}\r", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {1}\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {1}x\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {1} \r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN ~{}\r\n", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN ~~{1}\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN x{1}\r\nx", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	        {"a LOGIN {1}\r\nx{1}\r\ny", 0, IMAP_PARSE_BAD, "a", "LOGIN", NULL},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

/* ---- lists ------------------------------------------------------------------------------- */

static void test_lists_nest_and_may_be_empty(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a X ()", 0, IMAP_PARSE_OK, "a", "X", "()"},
	        {"a X (()) (() ())", 0, IMAP_PARSE_OK, "a", "X", "(()) (() ())"},
	        {"a X (a (b \"c\" (NIL {1}\r\nd)) e)", 0, IMAP_PARSE_OK, "a", "X",
	         "(a (b \"c\" (#NIL <d>)) e)"},
	        {"a STORE 1 FLAGS ()", 0, IMAP_PARSE_OK, "a", "STORE", "1 FLAGS ()"},
	};
	run_cases(cases, ARRAY_SIZE(cases));

	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	assert_int_equal(parse("a X () (a)", &cmd), IMAP_PARSE_OK);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_LIST);
	assert_int_equal(cmd.args[0].nlist, 0);
	assert_null(cmd.args[0].list);
	assert_int_equal(cmd.args[1].nlist, 1);
	assert_non_null(cmd.args[1].list);
	assert_null(cmd.args[1].section);
	imap_cmd_free(&cmd);
}

static void test_unbalanced_lists_are_bad(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a X (", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        {"a X (a", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        {"a X (a (b)", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        {"a X )", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        {"a X a)", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        {"a X (a))", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        {"a X (a]", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        {"a X (\"a)", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        {"a X ({3}\r\na))", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_lists_nested_16_deep_pass_and_17_are_too_big(void **state)
{
	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	struct buf in = BUF_INIT;

	buf_puts(&in, "a X ");
	for (int k = 0; k < IMAP_MAX_DEPTH; k++)
		buf_putc(&in, '(');
	buf_putc(&in, 'x');
	for (int k = 0; k < IMAP_MAX_DEPTH; k++)
		buf_putc(&in, ')');
	assert_int_equal(parse(buf_cstr(&in), &cmd), IMAP_PARSE_OK);
	const struct imap_arg *a = &cmd.args[0];
	for (int k = 0; k < IMAP_MAX_DEPTH; k++) {
		assert_int_equal(a->type, IMAP_ARG_LIST);
		a = &a->list[0];
	}
	assert_str(a->value, "x");

	buf_reset(&in);
	buf_puts(&in, "a X ");
	for (int k = 0; k < IMAP_MAX_DEPTH + 1; k++)
		buf_putc(&in, '(');
	for (int k = 0; k < IMAP_MAX_DEPTH + 1; k++)
		buf_putc(&in, ')');
	assert_int_equal(parse(buf_cstr(&in), &cmd), IMAP_PARSE_TOO_BIG);
	assert_str(cmd.tag, "a");

	/* Far deeper input stops at the limit without recursing further. */
	char *deep = repeat("(", 100000, "a X ", "");
	assert_int_equal(parse(deep, &cmd), IMAP_PARSE_TOO_BIG);
	free(deep);

	/* A section inside a list does not count as a level; its lists do. */
	buf_reset(&in);
	buf_puts(&in, "a FETCH 1 ");
	for (int k = 0; k < IMAP_MAX_DEPTH - 1; k++)
		buf_putc(&in, '(');
	buf_puts(&in, "BODY[HEADER.FIELDS (A)]");
	for (int k = 0; k < IMAP_MAX_DEPTH - 1; k++)
		buf_putc(&in, ')');
	assert_int_equal(parse(buf_cstr(&in), &cmd), IMAP_PARSE_OK);
	buf_reset(&in);
	buf_puts(&in, "a FETCH 1 ");
	for (int k = 0; k < IMAP_MAX_DEPTH; k++)
		buf_putc(&in, '(');
	buf_puts(&in, "BODY[HEADER.FIELDS (A)]");
	for (int k = 0; k < IMAP_MAX_DEPTH; k++)
		buf_putc(&in, ')');
	assert_int_equal(parse(buf_cstr(&in), &cmd), IMAP_PARSE_TOO_BIG);

	buf_free(&in);
	imap_cmd_free(&cmd);
}

static void test_10000_arguments_pass_and_10001_are_too_big(void **state)
{
	struct imap_cmd cmd;
	imap_cmd_init(&cmd);

	char *in = repeat(" x", IMAP_MAX_ARGS, "a X", "");
	assert_int_equal(parse(in, &cmd), IMAP_PARSE_OK);
	assert_int_equal(cmd.nargs, IMAP_MAX_ARGS);
	free(in);
	in = repeat(" x", IMAP_MAX_ARGS + 1, "a X", "");
	assert_int_equal(parse(in, &cmd), IMAP_PARSE_TOO_BIG);
	free(in);

	/* A list counts as one argument besides its elements. */
	in = repeat(" x", IMAP_MAX_ARGS - 2, "a X (x)", "");
	assert_int_equal(parse(in, &cmd), IMAP_PARSE_OK);
	free(in);
	in = repeat(" x", IMAP_MAX_ARGS - 1, "a X (x)", "");
	assert_int_equal(parse(in, &cmd), IMAP_PARSE_TOO_BIG);
	free(in);

	/* So do the elements of a section. */
	in = repeat(" x", IMAP_MAX_ARGS - 2, "a X B[x]", "");
	assert_int_equal(parse(in, &cmd), IMAP_PARSE_OK);
	free(in);
	in = repeat(" x", IMAP_MAX_ARGS - 1, "a X B[x]", "");
	assert_int_equal(parse(in, &cmd), IMAP_PARSE_TOO_BIG);
	free(in);

	/* Empty lists count too. */
	in = repeat(" ()", IMAP_MAX_ARGS + 1, "a X", "");
	assert_int_equal(parse(in, &cmd), IMAP_PARSE_TOO_BIG);
	free(in);

	imap_cmd_free(&cmd);
}

/* ---- sections ------------------------------------------------------------------------------ */

static void test_fetch_sections_are_one_atom_with_their_tree(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a FETCH 1 BODY.PEEK[HEADER.FIELDS (FROM \"To\")]<0.1024>", 0, IMAP_PARSE_OK, "a",
	         "FETCH",
	         "1 BODY.PEEK[HEADER.FIELDS (FROM \"To\")]<0.1024>{HEADER.FIELDS (FROM \"To\")}"},
	        {"a FETCH 1 (BINARY[1.2]<0.10> FLAGS)", 0, IMAP_PARSE_OK, "a", "FETCH",
	         "1 (BINARY[1.2]<0.10>{1.2} FLAGS)"},
	        {"a FETCH 1 BODY[]", 0, IMAP_PARSE_OK, "a", "FETCH", "1 BODY[]"},
	        {"a FETCH 1 (BODY[] BODY[TEXT])", 0, IMAP_PARSE_OK, "a", "FETCH",
	         "1 (BODY[] BODY[TEXT]{TEXT})"},
	        {"a FETCH 1 BODY[1.2.MIME]", 0, IMAP_PARSE_OK, "a", "FETCH",
	         "1 BODY[1.2.MIME]{1.2.MIME}"},
	        {"a FETCH 1 BODY[HEADER.FIELDS ({2}\r\nTo \"a]b\")]", 0, IMAP_PARSE_OK, "a",
	         "FETCH",
	         "1 BODY[HEADER.FIELDS ({2}\r\nTo \"a]b\")]{HEADER.FIELDS (<To> \"a]b\")}"},
	        {"a FETCH 1 BODY[HEADER.FIELDS (a[b)]", 0, IMAP_PARSE_OK, "a", "FETCH",
	         "1 BODY[HEADER.FIELDS (a[b)]{HEADER.FIELDS (a[b)}"},
	        {"a FETCH 1 BODY[NIL]", 0, IMAP_PARSE_OK, "a", "FETCH", "1 BODY[NIL]{#NIL}"},
	        /* brackets in mailbox names stay in the atom's value */
	        {"a SELECT [Gmail]/Drafts", 0, IMAP_PARSE_OK, "a", "SELECT",
	         "[Gmail]/Drafts{Gmail}"},
	        {"a SELECT a]b[c]", 0, IMAP_PARSE_OK, "a", "SELECT", "a]b[c]{c}"},
	        {"a SELECT [", 0, IMAP_PARSE_OK, "a", "SELECT", "["},
	        /* after the section only bytes other than brackets */
	        {"a FETCH 1 BODY[1]x", 0, IMAP_PARSE_OK, "a", "FETCH", "1 BODY[1]x{1}"},
	        {"a FETCH 1 BODY[1]]", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	        {"a FETCH 1 BODY[1][2]", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	        {"a FETCH 1 (BODY[1] )", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	};
	run_cases(cases, ARRAY_SIZE(cases));

	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	const char *in = "a FETCH 1 BODY.PEEK[HEADER.FIELDS (FROM \"To\")]<0.1024>";
	assert_int_equal(parse(in, &cmd), IMAP_PARSE_OK);
	const struct imap_arg *item = &cmd.args[1];
	assert_int_equal(item->type, IMAP_ARG_ATOM);
	assert_ptr_equal(item->value.p, in + 10);
	assert_int_equal(item->value.len, strlen(in) - 10);
	assert_int_equal(item->nsection, 2);
	assert_int_equal(item->section[0].type, IMAP_ARG_ATOM);
	assert_str(item->section[0].value, "HEADER.FIELDS");
	assert_int_equal(item->section[1].type, IMAP_ARG_LIST);
	assert_int_equal(item->section[1].nlist, 2);
	assert_str(item->section[1].list[0].value, "FROM");
	assert_int_equal(item->section[1].list[1].type, IMAP_ARG_STRING);
	assert_str(item->section[1].list[1].value, "To");
	imap_cmd_free(&cmd);
}

static void test_unbalanced_brackets_fall_back_to_plain_atoms(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a CREATE a[b", 0, IMAP_PARSE_OK, "a", "CREATE", "a[b"},
	        {"a RENAME a[b c", 0, IMAP_PARSE_OK, "a", "RENAME", "a[b c"},
	        /* balanced brackets make a section even where RFC atoms would end */
	        {"a RENAME a[b c[d]", 0, IMAP_PARSE_OK, "a", "RENAME", "a[b c[d]{b c[d}"},
	        {"a X a[ b]", 0, IMAP_PARSE_OK, "a", "X", "a[ b]"},
	        {"a X a[b (c", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        {"a X [\"a", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        {"a X a[\"x\" y", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        {"a X a[(b] c", 0, IMAP_PARSE_BAD, "a", "X", NULL},
	        /* a failed section turns sections off for the rest of the command */
	        {"a FETCH 1 (BODY[1 BODY[2)", 0, IMAP_PARSE_OK, "a", "FETCH", "1 (BODY[1 BODY[2)"},
	        {"a FETCH 1 (BODY[x (y BODY[2])", 0, IMAP_PARSE_BAD, "a", "FETCH", NULL},
	};
	run_cases(cases, ARRAY_SIZE(cases));

	/* Many unbalanced brackets cost one retry, not one per bracket. */
	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	char *in = repeat(" [a", IMAP_MAX_ARGS, "a X", "");
	assert_int_equal(parse(in, &cmd), IMAP_PARSE_OK);
	assert_int_equal(cmd.nargs, IMAP_MAX_ARGS);
	assert_str(cmd.args[IMAP_MAX_ARGS - 1].value, "[a");
	free(in);
	imap_cmd_free(&cmd);
}

/* ---- the command struct ---------------------------------------------------------------------- */

static void test_a_command_struct_is_reset_between_commands(void **state)
{
	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	assert_int_equal(parse("a1 LOGIN \"fr\\\\ed\" (x (y))", &cmd), IMAP_PARSE_OK);
	assert_int_equal(cmd.nargs, 2);
	assert_int_equal(parse("a2 NOOP", &cmd), IMAP_PARSE_OK);
	assert_str(cmd.tag, "a2");
	assert_string_equal(cmd.name, "NOOP");
	assert_int_equal(cmd.nargs, 0);
	assert_null(cmd.args);
	assert_int_equal(parse("a3 SELECT", &cmd), IMAP_PARSE_OK);
	assert_int_equal(parse("a4 X \"a\\\\b\"", &cmd), IMAP_PARSE_OK);
	assert_str(cmd.args[0].value, "a\\b");
	assert_int_equal(cmd.unescaped.len, 3);
	assert_int_equal(parse("* NOOP", &cmd), IMAP_PARSE_NO_TAG);
	assert_int_equal(cmd.tag.len, 0);
	assert_string_equal(cmd.name, "");
	assert_int_equal(parse("a5 X (", &cmd), IMAP_PARSE_BAD);
	assert_string_equal(cmd.name, "X");
	imap_cmd_free(&cmd);
	assert_null(cmd.pool);
	imap_cmd_free(&cmd);
}

static void test_the_reason_is_appended_to_why_and_why_may_be_null(void **state)
{
	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	struct buf why = BUF_INIT;
	buf_puts(&why, "prefix: ");
	assert_int_equal(imap_parse_command("a X (", 5, &cmd, &why), IMAP_PARSE_BAD);
	assert_true(strncmp(buf_cstr(&why), "prefix: ", 8) == 0);
	assert_true(why.len > 8);
	assert_int_equal(imap_parse_command("a X (", 5, &cmd, NULL), IMAP_PARSE_BAD);
	assert_int_equal(imap_parse_command("a X y", 5, &cmd, NULL), IMAP_PARSE_OK);
	assert_int_equal(imap_parse_command(NULL, 0, &cmd, NULL), IMAP_PARSE_NO_TAG);
	/* A failed section attempt leaves no reason behind. */
	buf_reset(&why);
	assert_int_equal(imap_parse_command("a X a[b", 7, &cmd, &why), IMAP_PARSE_OK);
	assert_int_equal(why.len, 0);
	buf_free(&why);
	imap_cmd_free(&cmd);
}

/* ---- RFC examples ------------------------------------------------------------------------------
 */

static void test_rfc_example_commands_parse(void **state)
{
	static const struct cmd_case cases[] = {
	        {"a001 CAPABILITY", 0, IMAP_PARSE_OK, "a001", "CAPABILITY", ""},
	        {"a002 STARTTLS", 0, IMAP_PARSE_OK, "a002", "STARTTLS", ""},
	        {"A001 AUTHENTICATE GSSAPI", 0, IMAP_PARSE_OK, "A001", "AUTHENTICATE", "GSSAPI"},
	        {"a001 LOGIN SMITH SESAME", 0, IMAP_PARSE_OK, "a001", "LOGIN", "SMITH SESAME"},
	        {"A142 SELECT INBOX", 0, IMAP_PARSE_OK, "A142", "SELECT", "INBOX"},
	        {"A932 EXAMINE blurdybloop", 0, IMAP_PARSE_OK, "A932", "EXAMINE", "blurdybloop"},
	        {"A003 CREATE owatagusiam/", 0, IMAP_PARSE_OK, "A003", "CREATE", "owatagusiam/"},
	        {"A683 RENAME blurdybloop sarasoop", 0, IMAP_PARSE_OK, "A683", "RENAME",
	         "blurdybloop sarasoop"},
	        {"A002 SUBSCRIBE #news.comp.mail.mime", 0, IMAP_PARSE_OK, "A002", "SUBSCRIBE",
	         "#news.comp.mail.mime"},
	        {"A101 LIST \"\" \"\"", 0, IMAP_PARSE_OK, "A101", "LIST", "\"\" \"\""},
	        {"A202 LIST ~/Mail/ %", 0, IMAP_PARSE_OK, "A202", "LIST", "~/Mail/ %"},
	        {"A01 LIST \"\" % RETURN (CHILDREN)", 0, IMAP_PARSE_OK, "A01", "LIST",
	         "\"\" % RETURN (CHILDREN)"},
	        {"A02 LIST (SUBSCRIBED) \"\" \"*\"", 0, IMAP_PARSE_OK, "A02", "LIST",
	         "(SUBSCRIBED) \"\" \"*\""},
	        {"A042 STATUS blurdybloop (UIDNEXT MESSAGES)", 0, IMAP_PARSE_OK, "A042", "STATUS",
	         "blurdybloop (UIDNEXT MESSAGES)"},
	        {"A341 CLOSE", 0, IMAP_PARSE_OK, "A341", "CLOSE", ""},
	        {"A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"", 0, IMAP_PARSE_OK,
	         "A282", "SEARCH", "FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""},
	        {"A283 SEARCH TEXT \"string not in mailbox\"", 0, IMAP_PARSE_OK, "A283", "SEARCH",
	         "TEXT \"string not in mailbox\""},
	        {"A284 SEARCH CHARSET UTF-8 TEXT {7}\r\n\xd0\xb8\xd0\xbc\xd1\x8f!", 0,
	         IMAP_PARSE_OK, "A284", "SEARCH", "CHARSET UTF-8 TEXT <\xd0\xb8\xd0\xbc\xd1\x8f!>"},
	        {"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])", 0, IMAP_PARSE_OK, "A654",
	         "FETCH", "2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)]{HEADER.FIELDS (DATE FROM)})"},
	        {"A003 STORE 2:4 +FLAGS (\\Deleted)", 0, IMAP_PARSE_OK, "A003", "STORE",
	         "2:4 +FLAGS (\\Deleted)"},
	        {"A003 COPY 2:4 MEETING", 0, IMAP_PARSE_OK, "A003", "COPY", "2:4 MEETING"},
	        {"A999 UID FETCH 4827313:4828442 FLAGS", 0, IMAP_PARSE_OK, "A999", "UID FETCH",
	         "4827313:4828442 FLAGS"},
	        {"A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man", 0, IMAP_PARSE_OK, "A001",
	         "LOGIN", "<FRED FOOBAR> <fat man>"},
	        {"t2 ENABLE CONDSTORE X-GOOD-IDEA", 0, IMAP_PARSE_OK, "t2", "ENABLE",
	         "CONDSTORE X-GOOD-IDEA"},
	        {"s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)", 0, IMAP_PARSE_OK,
	         "s100", "UID FETCH", "300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)"},
	        {"a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338", 0, IMAP_PARSE_OK, "a",
	         "SEARCH", "MODSEQ \"/flags/\\draft\" all 620162338"},
	        {"A300 SEARCH RETURN (SAVE MIN) FLAGGED", 0, IMAP_PARSE_OK, "A300", "SEARCH",
	         "RETURN (SAVE MIN) FLAGGED"},
	        {"A301 FETCH $ (UID INTERNALDATE FLAGS RFC822.SIZE)", 0, IMAP_PARSE_OK, "A301",
	         "FETCH", "$ (UID INTERNALDATE FLAGS RFC822.SIZE)"},
	        {"t FETCH 1 (BINARY.PEEK[1]<0.1000> BINARY.SIZE[1])", 0, IMAP_PARSE_OK, "t",
	         "FETCH", "1 (BINARY.PEEK[1]<0.1000>{1} BINARY.SIZE[1]{1})"},
	        {"a1 SEARCH UNDELETED YOUNGER 259200", 0, IMAP_PARSE_OK, "a1", "SEARCH",
	         "UNDELETED YOUNGER 259200"},
	        {"A003 APPEND saved-messages (\\Seen) \"27-Nov-2026 12:34:56 +0100\" {5}\r\nHello",
	         0, IMAP_PARSE_OK, "A003", "APPEND",
	         "saved-messages (\\Seen) \"27-Nov-2026 12:34:56 +0100\" <Hello>"},
	        {"A004 IDLE", 0, IMAP_PARSE_OK, "A004", "IDLE", ""},
	        {"a ID (\"name\" \"sodr\" \"version\" \"19.34\")", 0, IMAP_PARSE_OK, "a", "ID",
	         "(\"name\" \"sodr\" \"version\" \"19.34\")"},
	        {"a ID NIL", 0, IMAP_PARSE_OK, "a", "ID", "#NIL"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

/* ---- framing
 * ------------------------------------------------------------------------------------- */

struct lit_case {
	const char *line;
	bool is;
	uint64_t size;
	bool nonsync, binary;
};

static void test_literal_at_end_recognises_announcements(void **state)
{
	static const struct lit_case cases[] = {
	        {"a LOGIN {5}", true, 5, false, false},
	        {"a LOGIN {5+}", true, 5, true, false},
	        {"a APPEND INBOX ~{5}", true, 5, false, true},
	        {"a APPEND INBOX ~{5+}", true, 5, true, true},
	        {"{0}", true, 0, false, false},
	        {"x {007}", true, 7, false, false},
	        {"x {18446744073709551615}", true, UINT64_MAX, false, false},
	        {"x {99999999999999999999}", false, 0, false, false},
	        {"x {000000000000000000001}", false, 0, false, false},
	        {"x {18446744073709551616}", false, 0, false, false},
	        {"x {x}", false, 0, false, false},
	        {"x {}", false, 0, false, false},
	        {"x {+}", false, 0, false, false},
	        {"x {5++}", false, 0, false, false},
	        {"x 5}", false, 0, false, false},
	        {"x {5} ", false, 0, false, false},
	        {"x {5", false, 0, false, false},
	        {"}", false, 0, false, false},
	        {"", false, 0, false, false},
	        {"a LOGIN \"{5}\"", false, 0, false, false},
	        /* the session reads the bytes; the parser then rejects the glued atom */
	        {"a SELECT x{3}", true, 3, false, false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_literal lit = {99, true, true};
		bool is = imap_literal_at_end(cases[i].line, strlen(cases[i].line), &lit);
		if (is != cases[i].is)
			fail_msg("\"%s\": %d, want %d", cases[i].line, is, cases[i].is);
		if (!is)
			continue;
		assert_true(lit.size == cases[i].size);
		assert_int_equal(lit.nonsync, cases[i].nonsync);
		assert_int_equal(lit.binary, cases[i].binary);
	}
}

/*
 * What a session does: split lines at CRLF, and after a line that ends in a
 * literal announcement read that many bytes into the command. Input arrives
 * in chunks; complete commands (without their last CRLF) go to out.
 */
struct framer {
	struct buf in, cmd;
	uint64_t literal; /* bytes of literal still to read */
	size_t ncmds;
	struct buf cmds[4];
};

static void framer_feed(struct framer *f, const char *p, size_t n)
{
	buf_append(&f->in, p, n);
	for (;;) {
		if (f->literal) {
			size_t take = f->in.len < f->literal ? f->in.len : (size_t)f->literal;
			if (take == 0)
				return;
			buf_append(&f->cmd, f->in.data, take);
			buf_consume(&f->in, take);
			f->literal -= take;
			continue;
		}
		const char *crlf = f->in.len ? memmem(f->in.data, f->in.len, "\r\n", 2) : NULL;
		if (!crlf)
			return;
		size_t line = (size_t)(crlf - f->in.data);
		struct imap_literal lit;
		buf_append(&f->cmd, f->in.data, line);
		if (imap_literal_at_end(f->in.data, line, &lit)) {
			buf_append(&f->cmd, "\r\n", 2);
			f->literal = lit.size;
		} else {
			assert_true(f->ncmds < ARRAY_SIZE(f->cmds));
			f->cmds[f->ncmds++] = f->cmd;
			buf_init(&f->cmd);
		}
		buf_consume(&f->in, line + 2);
	}
}

static void test_commands_framed_from_input_split_at_every_byte_parse_the_same(void **state)
{
	static const char wire[] = "a1 LOGIN {4}\r\nfred {6+}\r\nsecret\r\n"
	                           "a2 APPEND INBOX (\\Seen) ~{8}\r\nx\r\n\0{1}\r\r\n"
	                           "a3 FETCH 1 BODY[HEADER.FIELDS ({2}\r\nTo)]\r\n"
	                           "a4 LOGIN {0}\r\n {3}\r\n\r\n\r\r\n";
#define W(s)                                                                                       \
	{                                                                                          \
		s, sizeof(s) - 1                                                                   \
	}
	static const struct {
		const char *s;
		size_t len;
	} want[] = {
	        W("<fred> <secret>"),
	        W("INBOX (\\Seen) ~<x\r\n\0{1}\r>"),
	        W("1 BODY[HEADER.FIELDS ({2}\r\nTo)]{HEADER.FIELDS (<To>)}"),
	        W("<> <\r\n\r>"),
	};
#undef W
	for (size_t split = 0; split <= sizeof(wire) - 1; split++) {
		struct framer f;
		memset(&f, 0, sizeof(f));
		framer_feed(&f, wire, split);
		framer_feed(&f, wire + split, sizeof(wire) - 1 - split);
		assert_int_equal(f.ncmds, 4);
		assert_int_equal(f.in.len, 0);
		for (size_t k = 0; k < f.ncmds; k++) {
			struct imap_cmd cmd;
			imap_cmd_init(&cmd);
			assert_int_equal(parse_len(f.cmds[k].data, f.cmds[k].len, &cmd),
			                 IMAP_PARSE_OK);
			struct buf d = BUF_INIT;
			dump_args(&d, cmd.args, cmd.nargs);
			assert_int_equal(d.len, want[k].len);
			assert_memory_equal(d.data, want[k].s, want[k].len);
			buf_free(&d);
			imap_cmd_free(&cmd);
			buf_free(&f.cmds[k]);
		}
		buf_free(&f.in);
		buf_free(&f.cmd);
	}
}

/* ---- helpers for sessions -----------------------------------------------------------------------
 */

static void test_arg_is_string_covers_astrings_and_not_lists_or_binary(void **state)
{
	struct imap_cmd cmd;
	imap_cmd_init(&cmd);
	assert_int_equal(parse("a X atom \"q\" {1}\r\nl NIL () ~{1}\r\nb B[1]", &cmd),
	                 IMAP_PARSE_OK);
	assert_int_equal(cmd.nargs, 7);
	assert_true(imap_arg_is_string(&cmd.args[0]));
	assert_true(imap_arg_is_string(&cmd.args[1]));
	assert_true(imap_arg_is_string(&cmd.args[2]));
	assert_true(imap_arg_is_string(&cmd.args[3]));
	assert_str(cmd.args[3].value, "NIL");
	assert_false(imap_arg_is_string(&cmd.args[4]));
	assert_false(imap_arg_is_string(&cmd.args[5]));
	assert_true(imap_arg_is_string(&cmd.args[6]));
	assert_str(cmd.args[6].value, "B[1]");
	imap_cmd_free(&cmd);
}

static void test_number_helpers_check_their_ranges(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		uint64_t v;
	} n64[] = {
	        {"0", true, 0},
	        {"007", true, 7},
	        {"9223372036854775807", true, INT64_MAX},
	        {"9223372036854775808", false, 0},
	        {"18446744073709551616", false, 0},
	        {"", false, 0},
	        {"-1", false, 0},
	        {"+1", false, 0},
	        {"1 ", false, 0},
	        {"1a", false, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(n64); i++) {
		uint64_t v = 42;
		bool ok = imap_parse_number64(str_c(n64[i].s), &v);
		if (ok != n64[i].ok)
			fail_msg("number64 \"%s\": %d", n64[i].s, ok);
		if (ok)
			assert_true(v == n64[i].v);
		else
			assert_true(v == 42);
	}
	static const struct {
		const char *s;
		bool ok;
		uint32_t v;
	} nz[] = {
	        {"1", true, 1},           {"4294967295", true, UINT32_MAX},
	        {"4294967296", false, 0}, {"10000000000", false, 0},
	        {"0", false, 0},          {"01", false, 0},
	        {"", false, 0},           {"1.5", false, 0},
	        {"*", false, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(nz); i++) {
		uint32_t v = 42;
		bool ok = imap_parse_nz_number(str_c(nz[i].s), &v);
		if (ok != nz[i].ok)
			fail_msg("nz-number \"%s\": %d", nz[i].s, ok);
		if (ok)
			assert_true(v == nz[i].v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tags_names_and_plain_arguments_are_split),
	        cmocka_unit_test(test_uid_commands_are_named_with_their_subcommand),
	        cmocka_unit_test(test_missing_or_malformed_tags_give_no_tag),
	        cmocka_unit_test(test_a_tag_of_64_bytes_passes_and_65_has_no_tag),
	        cmocka_unit_test(test_malformed_command_names_are_bad_with_the_tag_known),
	        cmocka_unit_test(test_arguments_take_exactly_one_space_and_none_trailing),
	        cmocka_unit_test(test_atoms_take_flags_sequence_sets_wildcards_and_brackets),
	        cmocka_unit_test(test_control_and_8bit_bytes_outside_strings_are_bad),
	        cmocka_unit_test(test_nil_is_recognised_in_any_case_and_only_as_a_whole_atom),
	        cmocka_unit_test(test_quoted_strings_are_unescaped),
	        cmocka_unit_test(test_malformed_quoted_strings_are_bad),
	        cmocka_unit_test(test_literals_of_every_form_parse),
	        cmocka_unit_test(test_literal_errors_are_bad),
	        cmocka_unit_test(test_lists_nest_and_may_be_empty),
	        cmocka_unit_test(test_unbalanced_lists_are_bad),
	        cmocka_unit_test(test_lists_nested_16_deep_pass_and_17_are_too_big),
	        cmocka_unit_test(test_10000_arguments_pass_and_10001_are_too_big),
	        cmocka_unit_test(test_fetch_sections_are_one_atom_with_their_tree),
	        cmocka_unit_test(test_unbalanced_brackets_fall_back_to_plain_atoms),
	        cmocka_unit_test(test_a_command_struct_is_reset_between_commands),
	        cmocka_unit_test(test_the_reason_is_appended_to_why_and_why_may_be_null),
	        cmocka_unit_test(test_rfc_example_commands_parse),
	        cmocka_unit_test(test_literal_at_end_recognises_announcements),
	        cmocka_unit_test(
	                test_commands_framed_from_input_split_at_every_byte_parse_the_same),
	        cmocka_unit_test(test_arg_is_string_covers_astrings_and_not_lists_or_binary),
	        cmocka_unit_test(test_number_helpers_check_their_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
