/*
 * Unit tests for src/pop3/pop3_parse.c: every verb with its arguments, the
 * argument counts, message numbers and line counts at their edges, the RFC
 * 2449 limits at their edges, NUL and control bytes, case-insensitivity; the
 * line reader fed at every split position; dot-stuffing and TOP's cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_internal.h"

/* ---- helpers --------------------------------------------------------------- */

#define L(s) (s), sizeof(s) - 1 /* a literal with its length, NULs included */

static enum pop3_parse_status parse_len(const char *line, size_t len, struct pop3_cmd *cmd,
                                        struct buf *why)
{
	buf_reset(why);
	enum pop3_parse_status st = pop3_parse_command(line, len, cmd, why);
	/* Every failure comes with a reason, success with none. */
	if (st == POP3_PARSE_OK)
		assert_int_equal(why->len, 0);
	else
		assert_true(why->len > 0);
	return st;
}

static enum pop3_parse_status parse(const char *line, struct pop3_cmd *cmd)
{
	struct buf why = BUF_INIT;
	enum pop3_parse_status st = parse_len(line, strlen(line), cmd, &why);
	buf_free(&why);
	return st;
}

/* Parses and expects a failure whose reason contains `reason`. */
static void assert_fails(const char *line, size_t len, enum pop3_parse_status want,
                         const char *reason)
{
	struct pop3_cmd cmd;
	struct buf why = BUF_INIT;
	enum pop3_parse_status st = parse_len(line, len, &cmd, &why);
	if (st != want || (reason && !strstr(buf_cstr(&why), reason)))
		fail_msg("'%.*s': status %d reason '%s', wanted %d '%s'", (int)len, line, (int)st,
		         buf_cstr(&why), (int)want, reason ? reason : "");
	buf_free(&why);
}

static void assert_str(struct str s, const char *want)
{
	assert_int_equal(s.len, strlen(want));
	assert_memory_equal(s.p, want, s.len);
}

static char *repeat(char c, size_t n)
{
	char *p = malloc(n + 1);
	assert_non_null(p);
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* ---- verbs ------------------------------------------------------------------- */

struct verb_case {
	const char *line;
	enum pop3_verb verb;
	size_t nargs;
	const char *arg0, *arg1;
	uint32_t msg;
	uint64_t lines;
};

static void test_every_verb_parses_with_its_arguments(void **state)
{
	static const struct verb_case cases[] = {
	        {"USER alice@example.test", POP3_VERB_USER, 1, "alice@example.test", NULL, 0, 0},
	        {"PASS secret", POP3_VERB_PASS, 1, "secret", NULL, 0, 0},
	        {"APOP mrose c4c9334bac560ecc979e58001b3e22fb", POP3_VERB_APOP, 2, "mrose",
	         "c4c9334bac560ecc979e58001b3e22fb", 0, 0},
	        {"AUTH", POP3_VERB_AUTH, 0, NULL, NULL, 0, 0},
	        {"AUTH PLAIN", POP3_VERB_AUTH, 1, "PLAIN", NULL, 0, 0},
	        {"AUTH PLAIN AGFsaWNlAHNlY3JldA==", POP3_VERB_AUTH, 2, "PLAIN",
	         "AGFsaWNlAHNlY3JldA==", 0, 0},
	        {"AUTH SCRAM-SHA-256 =", POP3_VERB_AUTH, 2, "SCRAM-SHA-256", "=", 0, 0},
	        {"CAPA", POP3_VERB_CAPA, 0, NULL, NULL, 0, 0},
	        {"STLS", POP3_VERB_STLS, 0, NULL, NULL, 0, 0},
	        {"QUIT", POP3_VERB_QUIT, 0, NULL, NULL, 0, 0},
	        {"STAT", POP3_VERB_STAT, 0, NULL, NULL, 0, 0},
	        {"LIST", POP3_VERB_LIST, 0, NULL, NULL, 0, 0},
	        {"LIST 2", POP3_VERB_LIST, 1, "2", NULL, 2, 0},
	        {"RETR 1", POP3_VERB_RETR, 1, "1", NULL, 1, 0},
	        {"DELE 17", POP3_VERB_DELE, 1, "17", NULL, 17, 0},
	        {"NOOP", POP3_VERB_NOOP, 0, NULL, NULL, 0, 0},
	        {"RSET", POP3_VERB_RSET, 0, NULL, NULL, 0, 0},
	        {"TOP 3 10", POP3_VERB_TOP, 2, "3", "10", 3, 10},
	        {"TOP 1 0", POP3_VERB_TOP, 2, "1", "0", 1, 0},
	        {"UIDL", POP3_VERB_UIDL, 0, NULL, NULL, 0, 0},
	        {"UIDL 5", POP3_VERB_UIDL, 1, "5", NULL, 5, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct verb_case *c = &cases[i];
		struct pop3_cmd cmd;
		if (parse(c->line, &cmd) != POP3_PARSE_OK)
			fail_msg("'%s' did not parse", c->line);
		assert_int_equal(cmd.verb, c->verb);
		assert_int_equal(cmd.nargs, c->nargs);
		if (c->arg0)
			assert_str(cmd.args[0], c->arg0);
		if (c->arg1)
			assert_str(cmd.args[1], c->arg1);
		assert_int_equal(cmd.msg, c->msg);
		assert_true(cmd.lines == c->lines);
	}
}

static void test_verbs_are_case_insensitive(void **state)
{
	const char *lines[] = {"stat", "Stat", "sTaT",     "retr 1", "Top 1 2",
	                       "uidl", "capa", "user bob", "pass x"};
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
		struct pop3_cmd cmd;
		assert_int_equal(parse(lines[i], &cmd), POP3_PARSE_OK);
	}
	struct pop3_cmd cmd;
	assert_int_equal(parse("rEtR 9", &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.verb, POP3_VERB_RETR);
	assert_int_equal(cmd.msg, 9);
}

static void test_verb_names_are_capitalised(void **state)
{
	assert_string_equal(pop3_verb_name(POP3_VERB_RETR), "RETR");
	assert_string_equal(pop3_verb_name(POP3_VERB_TOP), "TOP");
	assert_string_equal(pop3_verb_name(POP3_VERB_UNKNOWN), "");
}

static void test_unknown_commands_are_unknown(void **state)
{
	const char *lines[] = {"FOO",    "LAST",      "STATS", "STA", "RETR1",
	                       "HELO x", "XTND XMIT", "EHLO",  "S"};
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		assert_fails(lines[i], strlen(lines[i]), POP3_PARSE_UNKNOWN, "unknown command");
	assert_fails("", 0, POP3_PARSE_UNKNOWN, "empty line");
	assert_fails(" STAT", 5, POP3_PARSE_UNKNOWN, "command expected first");
	assert_fails("\tSTAT", 5, POP3_PARSE_UNKNOWN, NULL);
}

static void test_commands_without_arguments_refuse_any(void **state)
{
	const char *lines[] = {"CAPA x", "STLS now", "QUIT please", "STAT 1", "NOOP 1", "RSET 1"};
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		assert_fails(lines[i], strlen(lines[i]), POP3_PARSE_SYNTAX, "no arguments allowed");
}

static void test_missing_arguments_are_syntax_errors(void **state)
{
	assert_fails(L("USER"), POP3_PARSE_SYNTAX, "USER needs a name");
	assert_fails(L("USER "), POP3_PARSE_SYNTAX, "USER needs a name");
	assert_fails(L("PASS"), POP3_PARSE_SYNTAX, "PASS needs a password");
	assert_fails(L("PASS "), POP3_PARSE_SYNTAX, "PASS needs a password");
	assert_fails(L("APOP mrose"), POP3_PARSE_SYNTAX, "APOP needs a name and a digest");
	assert_fails(L("RETR"), POP3_PARSE_SYNTAX, "message number is needed");
	assert_fails(L("DELE"), POP3_PARSE_SYNTAX, "message number is needed");
	assert_fails(L("TOP"), POP3_PARSE_SYNTAX, "TOP needs");
	assert_fails(L("TOP 1"), POP3_PARSE_SYNTAX, "TOP needs");
}

static void test_extra_arguments_are_syntax_errors(void **state)
{
	assert_fails(L("USER a b"), POP3_PARSE_SYNTAX, "too many arguments");
	assert_fails(L("APOP a b c"), POP3_PARSE_SYNTAX, "too many arguments");
	assert_fails(L("AUTH PLAIN abc= extra"), POP3_PARSE_SYNTAX, "too many arguments");
	assert_fails(L("LIST 1 2"), POP3_PARSE_SYNTAX, "too many arguments");
	assert_fails(L("RETR 1 2"), POP3_PARSE_SYNTAX, "too many arguments");
	assert_fails(L("DELE 1 2"), POP3_PARSE_SYNTAX, "too many arguments");
	assert_fails(L("TOP 1 2 3"), POP3_PARSE_SYNTAX, "too many arguments");
	assert_fails(L("UIDL 1 2"), POP3_PARSE_SYNTAX, "too many arguments");
}

static void test_repeated_and_trailing_spaces_are_tolerated(void **state)
{
	struct pop3_cmd cmd;
	assert_int_equal(parse("TOP  1   2", &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.msg, 1);
	assert_true(cmd.lines == 2);
	assert_int_equal(parse("STAT ", &cmd), POP3_PARSE_OK);
	assert_int_equal(parse("RETR 3  ", &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.msg, 3);
	assert_int_equal(cmd.nargs, 1);
	assert_int_equal(parse("LIST   ", &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.nargs, 0);
}

/* ---- numbers ----------------------------------------------------------------------- */

static void test_message_number_zero_is_refused(void **state)
{
	assert_fails(L("RETR 0"), POP3_PARSE_SYNTAX, "message numbers start at 1");
	assert_fails(L("LIST 0"), POP3_PARSE_SYNTAX, "message numbers start at 1");
	assert_fails(L("TOP 0 1"), POP3_PARSE_SYNTAX, "message numbers start at 1");
	assert_fails(L("DELE 000"), POP3_PARSE_SYNTAX, "message numbers start at 1");
}

static void test_negative_numbers_are_refused(void **state)
{
	assert_fails(L("RETR -1"), POP3_PARSE_SYNTAX, "not negative");
	assert_fails(L("DELE -0"), POP3_PARSE_SYNTAX, "not negative");
	assert_fails(L("TOP 1 -1"), POP3_PARSE_SYNTAX, "line counts are not negative");
}

static void test_numbers_with_junk_are_refused(void **state)
{
	const char *lines[] = {"RETR 1x",  "RETR x1",  "RETR +1",  "RETR 0x10",
	                       "RETR 1.0", "RETR 1e3", "UIDL one", "DELE 1,2"};
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		assert_fails(lines[i], strlen(lines[i]), POP3_PARSE_SYNTAX,
		             "must be a decimal number");
	assert_fails(L("TOP 1 2x"), POP3_PARSE_SYNTAX, "line count must be a decimal number");
}

static void test_message_numbers_end_at_2_to_the_32_minus_1(void **state)
{
	struct pop3_cmd cmd;
	assert_int_equal(parse("RETR 4294967295", &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.msg, 4294967295u);
	assert_fails(L("RETR 4294967296"), POP3_PARSE_SYNTAX, "message number too large");
	assert_fails(L("RETR 99999999999"), POP3_PARSE_SYNTAX, "message number too large");
	assert_fails(L("RETR 18446744073709551616"), POP3_PARSE_SYNTAX, "too large");
}

static void test_line_counts_end_at_2_to_the_64_minus_1(void **state)
{
	struct pop3_cmd cmd;
	assert_int_equal(parse("TOP 1 18446744073709551615", &cmd), POP3_PARSE_OK);
	assert_true(cmd.lines == UINT64_MAX);
	assert_fails(L("TOP 1 18446744073709551616"), POP3_PARSE_SYNTAX, "line count too large");
	assert_fails(L("TOP 1 99999999999999999999"), POP3_PARSE_SYNTAX, "line count too large");
}

static void test_leading_zeros_are_read_as_decimal(void **state)
{
	struct pop3_cmd cmd;
	assert_int_equal(parse("RETR 007", &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.msg, 7);
	assert_int_equal(parse("TOP 010 010", &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.msg, 10);
	assert_true(cmd.lines == 10);
}

/* ---- limits -------------------------------------------------------------------------- */

static void test_an_argument_of_40_octets_passes_and_41_fails(void **state)
{
	char line[128];
	char *a40 = repeat('a', 40), *a41 = repeat('a', 41);
	struct pop3_cmd cmd;
	snprintf(line, sizeof line, "APOP %s digest", a40);
	assert_int_equal(parse(line, &cmd), POP3_PARSE_OK);
	snprintf(line, sizeof line, "APOP %s digest", a41);
	assert_fails(line, strlen(line), POP3_PARSE_SYNTAX, "argument too long");
	char *z39 = repeat('0', 39), *z40 = repeat('0', 40);
	snprintf(line, sizeof line, "RETR %s1", z39); /* 40 octets */
	assert_int_equal(parse(line, &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.msg, 1);
	snprintf(line, sizeof line, "RETR %s1", z40); /* 41 octets */
	assert_fails(line, strlen(line), POP3_PARSE_SYNTAX, "argument too long");
	snprintf(line, sizeof line, "TOP 1 %s1", z40);
	assert_fails(line, strlen(line), POP3_PARSE_SYNTAX, "argument too long");
	free(a40);
	free(a41);
	free(z39);
	free(z40);
}

static void test_a_mechanism_name_of_20_octets_passes_and_21_fails(void **state)
{
	char line[64];
	char *m20 = repeat('M', 20), *m21 = repeat('M', 21);
	struct pop3_cmd cmd;
	snprintf(line, sizeof line, "AUTH %s", m20);
	assert_int_equal(parse(line, &cmd), POP3_PARSE_OK);
	snprintf(line, sizeof line, "AUTH %s", m21);
	assert_fails(line, strlen(line), POP3_PARSE_SYNTAX, "mechanism name too long");
	free(m20);
	free(m21);
}

static void test_credentials_may_be_longer_than_40_octets(void **state)
{
	char line[300];
	char *u = repeat('u', 200), *p = repeat('p', 240), *ir = repeat('A', 240);
	struct pop3_cmd cmd;
	snprintf(line, sizeof line, "USER %s", u);
	assert_int_equal(parse(line, &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.args[0].len, 200);
	snprintf(line, sizeof line, "PASS %s", p);
	assert_int_equal(parse(line, &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.args[0].len, 240);
	snprintf(line, sizeof line, "AUTH PLAIN %s", ir);
	assert_int_equal(parse(line, &cmd), POP3_PARSE_OK);
	assert_int_equal(cmd.args[1].len, 240);
	free(u);
	free(p);
	free(ir);
}

static void test_pass_takes_the_rest_of_the_line_spaces_included(void **state)
{
	struct pop3_cmd cmd;
	assert_int_equal(parse("PASS  two  spaces ", &cmd), POP3_PARSE_OK);
	assert_str(cmd.args[0], " two  spaces ");
	assert_int_equal(parse("pass a\tb", &cmd), POP3_PARSE_OK);
	assert_str(cmd.args[0], "a\tb");
	assert_int_equal(parse("PASS \xc3\xa9t\xc3\xa9", &cmd), POP3_PARSE_OK);
	assert_str(cmd.args[0], "\xc3\xa9t\xc3\xa9");
	assert_fails(L("PASS a\rb"), POP3_PARSE_SYNTAX, "control character");
	assert_fails(L("PASS a\0b"), POP3_PARSE_SYNTAX, "NUL byte");
}

static void test_nul_bytes_are_refused_anywhere(void **state)
{
	assert_fails(L("RETR \0"), POP3_PARSE_SYNTAX, "NUL byte");
	assert_fails(L("RETR 1\0"), POP3_PARSE_SYNTAX, "NUL byte");
	assert_fails(L("USER al\0ice"), POP3_PARSE_SYNTAX, "NUL byte");
	assert_fails(L("STAT \0"), POP3_PARSE_SYNTAX, "NUL byte");
	assert_fails(L("ST\0T"), POP3_PARSE_UNKNOWN, NULL);
	assert_fails(L("\0"), POP3_PARSE_UNKNOWN, NULL);
}

static void test_control_characters_are_refused_outside_pass(void **state)
{
	assert_fails(L("USER a\tb"), POP3_PARSE_SYNTAX, "control character");
	assert_fails(L("RETR 1\r"), POP3_PARSE_SYNTAX, "control character");
	assert_fails(L("UIDL \x7f"), POP3_PARSE_SYNTAX, "control character");
	assert_fails(L("AUTH PLAIN \x1b[0m"), POP3_PARSE_SYNTAX, "control character");
}

static void test_reasons_never_quote_the_client(void **state)
{
	struct pop3_cmd cmd;
	struct buf why = BUF_INIT;
	parse_len(L("RETR zzzsecretzzz"), &cmd, &why);
	assert_null(strstr(buf_cstr(&why), "zzz"));
	parse_len(L("FOOzzz"), &cmd, &why);
	assert_null(strstr(buf_cstr(&why), "zzz"));
	buf_free(&why);
}

static void test_arguments_point_into_the_line(void **state)
{
	const char line[] = "TOP 12 34";
	struct pop3_cmd cmd;
	assert_int_equal(parse(line, &cmd), POP3_PARSE_OK);
	assert_ptr_equal(cmd.args[0].p, line + 4);
	assert_ptr_equal(cmd.args[1].p, line + 7);
}

/* ---- line reader ------------------------------------------------------------------------ */

/* Feeds `in` split at the given positions (ascending, within len) and records
   the results as text: "L:<line>" for a line, "T" for too long. */
static void feed_split(struct pop3_line_reader *r, const char *in, size_t len, const size_t *cuts,
                       size_t ncuts, struct buf *log)
{
	size_t from = 0;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t to = k < ncuts ? cuts[k] : len;
		const char *p = in + from;
		size_t n = to - from;
		while (n > 0) {
			size_t used = 0;
			enum pop3_line_status st = pop3_line_feed(r, p, n, &used);
			assert_true(used > 0 && used <= n);
			if (st == POP3_LINE_DONE) {
				buf_puts(log, "L:");
				buf_append(log, r->line.data, r->line.len);
				buf_puts(log, "|");
			} else if (st == POP3_LINE_TOO_LONG) {
				buf_puts(log, "T|");
			} else {
				assert_int_equal(used, n); /* MORE takes everything */
			}
			p += used;
			n -= used;
		}
		from = to;
	}
}

static void test_lines_end_at_crlf_or_a_bare_lf(void **state)
{
	struct pop3_line_reader r;
	struct buf log = BUF_INIT;
	pop3_line_init(&r, POP3_MAX_LINE);
	feed_split(&r, L("STAT\r\nLIST\nNOOP\r\r\n\r\n"), NULL, 0, &log);
	assert_string_equal(buf_cstr(&log), "L:STAT|L:LIST|L:NOOP\r|L:|");
	pop3_line_free(&r);
	buf_free(&log);
}

static void test_an_unfinished_line_asks_for_more(void **state)
{
	struct pop3_line_reader r;
	pop3_line_init(&r, POP3_MAX_LINE);
	size_t used;
	assert_int_equal(pop3_line_feed(&r, L("RETR 1\r"), &used), POP3_LINE_MORE);
	assert_int_equal(used, 7);
	assert_int_equal(pop3_line_feed(&r, L("\nNOOP\r\n"), &used), POP3_LINE_DONE);
	assert_int_equal(used, 1); /* the pipelined NOOP is left for the next call */
	assert_string_equal(r.line.data, "RETR 1");
	assert_int_equal(pop3_line_feed(&r, L("NOOP\r\n"), &used), POP3_LINE_DONE);
	assert_string_equal(r.line.data, "NOOP");
	pop3_line_free(&r);
}

static void test_a_line_of_255_octets_with_crlf_passes_and_256_is_too_long(void **state)
{
	struct pop3_line_reader r;
	pop3_line_init(&r, POP3_MAX_LINE);
	struct buf in = BUF_INIT, log = BUF_INIT;
	char *a253 = repeat('a', 253), *a254 = repeat('a', 254);
	buf_printf(&in, "%s\r\n%s\r\nNOOP\r\n", a253, a254);
	feed_split(&r, in.data, in.len, NULL, 0, &log);
	struct buf want = BUF_INIT;
	buf_printf(&want, "L:%s|T|L:NOOP|", a253);
	assert_string_equal(buf_cstr(&log), buf_cstr(&want));
	free(a253);
	free(a254);
	buf_free(&in);
	buf_free(&log);
	buf_free(&want);
	pop3_line_free(&r);
}

static void test_a_bare_lf_line_may_hold_254_octets_and_255_is_too_long(void **state)
{
	struct pop3_line_reader r;
	pop3_line_init(&r, POP3_MAX_LINE);
	struct buf in = BUF_INIT, log = BUF_INIT, want = BUF_INIT;
	char *a254 = repeat('b', 254), *a255 = repeat('b', 255);
	buf_printf(&in, "%s\n%s\nSTAT\n", a254, a255);
	feed_split(&r, in.data, in.len, NULL, 0, &log);
	buf_printf(&want, "L:%s|T|L:STAT|", a254);
	assert_string_equal(buf_cstr(&log), buf_cstr(&want));
	free(a254);
	free(a255);
	buf_free(&in);
	buf_free(&log);
	buf_free(&want);
	pop3_line_free(&r);
}

static void test_a_huge_line_is_skipped_without_being_kept(void **state)
{
	struct pop3_line_reader r;
	pop3_line_init(&r, POP3_MAX_LINE);
	char *big = repeat('x', 100000);
	size_t used;
	assert_int_equal(pop3_line_feed(&r, big, 100000, &used), POP3_LINE_MORE);
	assert_int_equal(used, 100000);
	assert_true(r.skipping);
	assert_true(r.line.cap < 1024); /* nothing of it was buffered */
	assert_int_equal(pop3_line_feed(&r, big, 100000, &used), POP3_LINE_MORE);
	assert_int_equal(pop3_line_feed(&r, L("xx\r\nSTAT\r\n"), &used), POP3_LINE_TOO_LONG);
	assert_int_equal(used, 4);
	assert_int_equal(pop3_line_feed(&r, L("STAT\r\n"), &used), POP3_LINE_DONE);
	assert_string_equal(r.line.data, "STAT");
	free(big);
	pop3_line_free(&r);
}

static void test_the_limit_may_change_between_lines(void **state)
{
	struct pop3_line_reader r;
	pop3_line_init(&r, POP3_MAX_LINE);
	char *b64 = repeat('Q', 4000);
	struct buf in = BUF_INIT;
	buf_printf(&in, "%s\r\n", b64);
	size_t used;
	r.max = POP3_MAX_SASL_LINE;
	assert_int_equal(pop3_line_feed(&r, in.data, in.len, &used), POP3_LINE_DONE);
	assert_int_equal(r.line.len, 4000);
	r.max = POP3_MAX_LINE;
	assert_int_equal(pop3_line_feed(&r, in.data, in.len, &used), POP3_LINE_TOO_LONG);
	free(b64);
	buf_free(&in);
	pop3_line_free(&r);
}

static void test_input_split_at_every_position_gives_the_same_lines(void **state)
{
	struct buf in = BUF_INIT;
	char *long_line = repeat('z', 300);
	buf_printf(&in, "USER alice\r\nPASS a b\r\n%s\r\nRETR 1\nTOP 1 2\r\r\n\r\nQUIT\r\n",
	           long_line);
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct pop3_line_reader r;
	pop3_line_init(&r, POP3_MAX_LINE);
	feed_split(&r, in.data, in.len, NULL, 0, &want);
	pop3_line_free(&r);
	assert_string_equal(buf_cstr(&want),
	                    "L:USER alice|L:PASS a b|T|L:RETR 1|L:TOP 1 2\r|L:|L:QUIT|");
	for (size_t i = 1; i < in.len; i++) {
		for (size_t j = i; j < in.len; j += 7) {
			size_t cuts[2] = {i, j};
			pop3_line_init(&r, POP3_MAX_LINE);
			buf_reset(&got);
			feed_split(&r, in.data, in.len, cuts, 2, &got);
			if (strcmp(buf_cstr(&got), buf_cstr(&want)) != 0)
				fail_msg("split at %zu,%zu: %s", i, j, buf_cstr(&got));
			pop3_line_free(&r);
		}
	}
	/* and one byte at a time */
	pop3_line_init(&r, POP3_MAX_LINE);
	buf_reset(&got);
	for (size_t i = 0; i < in.len; i++)
		feed_split(&r, in.data + i, 1, NULL, 0, &got);
	assert_string_equal(buf_cstr(&got), buf_cstr(&want));
	pop3_line_free(&r);
	free(long_line);
	buf_free(&in);
	buf_free(&want);
	buf_free(&got);
}

/* ---- multi-line output ------------------------------------------------------------------- */

static void collect(const char *p, size_t n, void *arg)
{
	assert_true(n > 0);
	buf_append(arg, p, n);
}

static void assert_multiline(const char *msg, size_t len, const char *want, size_t wlen)
{
	struct buf out = BUF_INIT;
	pop3_write_multiline(msg, len, collect, &out);
	if (out.len != wlen || memcmp(out.data, want, wlen) != 0)
		fail_msg("multi-line of '%.*s' gave '%.*s'", (int)len, msg, (int)out.len, out.data);
	buf_free(&out);
}

static void test_lines_starting_with_a_dot_are_stuffed(void **state)
{
	assert_multiline(L("a\r\n.b\r\n..c\r\n.\r\n"), L("a\r\n..b\r\n...c\r\n..\r\n.\r\n"));
	assert_multiline(L(".first\r\nx.y\r\n"), L("..first\r\nx.y\r\n.\r\n"));
	assert_multiline(L("x\r\n. \r\n"), L("x\r\n.. \r\n.\r\n"));
}

static void test_a_dot_after_a_bare_lf_is_stuffed_too(void **state)
{
	/* no client may read "\n.\r\n" inside a message as its end */
	assert_multiline(L("a\n.\r\nb\r\n"), L("a\n..\r\nb\r\n.\r\n"));
}

static void test_a_missing_final_line_end_is_added(void **state)
{
	assert_multiline(L("no newline"), L("no newline\r\n.\r\n"));
	assert_multiline(L("bare lf\n"), L("bare lf\n\r\n.\r\n"));
	assert_multiline(L("cr\r"), L("cr\r\r\n.\r\n"));
	assert_multiline(L("."), L("..\r\n.\r\n"));
}

static void test_an_empty_message_is_just_the_terminator(void **state)
{
	assert_multiline("", 0, L(".\r\n"));
}

/* Undoes what a strict client undoes: a leading dot of each CRLF line. */
static void unstuff(const char *in, size_t len, struct buf *out, bool *ended)
{
	size_t pos = 0;
	*ended = false;
	while (pos < len) {
		const char *crlf = NULL;
		for (size_t i = pos; i + 1 < len; i++)
			if (in[i] == '\r' && in[i + 1] == '\n') {
				crlf = in + i;
				break;
			}
		assert_non_null(crlf);
		size_t llen = (size_t)(crlf - (in + pos));
		if (llen == 1 && in[pos] == '.') {
			assert_int_equal(pos + 3, len); /* the terminator is the very end */
			*ended = true;
			return;
		}
		size_t skip = in[pos] == '.' ? 1 : 0;
		buf_append(out, in + pos + skip, llen - skip);
		buf_puts(out, "\r\n");
		pos += llen + 2;
	}
}

static void test_unstuffing_gives_the_message_back(void **state)
{
	const char *msgs[] = {
	        "Subject: x\r\n\r\n.\r\n..\r\n...\r\n.a.b.\r\nend\r\n",
	        "",
	        ".\r\n",
	        "a\r\n\r\n\r\n",
	        "From: a\r\n\r\nbody with no dots\r\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		struct buf out = BUF_INIT, back = BUF_INIT;
		bool ended;
		pop3_write_multiline(msgs[i], strlen(msgs[i]), collect, &out);
		unstuff(out.data, out.len, &back, &ended);
		assert_true(ended);
		assert_int_equal(back.len, strlen(msgs[i]));
		assert_memory_equal(buf_cstr(&back), msgs[i], back.len);
		buf_free(&out);
		buf_free(&back);
	}
}

/* ---- TOP ------------------------------------------------------------------------------------ */

static void assert_top(const char *msg, uint64_t lines, const char *want)
{
	size_t n = pop3_top_length(msg, strlen(msg), lines);
	if (n != strlen(want) || memcmp(msg, want, n) != 0)
		fail_msg("TOP %llu of '%s' gave '%.*s'", (unsigned long long)lines, msg, (int)n,
		         msg);
}

static void test_top_sends_the_header_the_empty_line_and_n_body_lines(void **state)
{
	const char *m = "From: a\r\nSubject: b\r\n\r\none\r\ntwo\r\nthree\r\n";
	assert_top(m, 0, "From: a\r\nSubject: b\r\n\r\n");
	assert_top(m, 1, "From: a\r\nSubject: b\r\n\r\none\r\n");
	assert_top(m, 2, "From: a\r\nSubject: b\r\n\r\none\r\ntwo\r\n");
	assert_top(m, 3, m);
	assert_top(m, 4, m);
	assert_top(m, UINT64_MAX, m);
}

static void test_top_counts_empty_body_lines(void **state)
{
	const char *m = "H: 1\r\n\r\n\r\n\r\nx\r\n";
	assert_top(m, 1, "H: 1\r\n\r\n\r\n");
	assert_top(m, 2, "H: 1\r\n\r\n\r\n\r\n");
}

static void test_top_of_a_message_without_a_body_is_the_whole_message(void **state)
{
	assert_top("H: 1\r\nG: 2\r\n", 0, "H: 1\r\nG: 2\r\n");
	assert_top("H: 1\r\nG: 2", 5, "H: 1\r\nG: 2");
	assert_top("", 0, "");
}

static void test_top_of_a_message_starting_with_its_empty_line(void **state)
{
	assert_top("\r\nbody\r\nmore\r\n", 0, "\r\n");
	assert_top("\r\nbody\r\nmore\r\n", 1, "\r\nbody\r\n");
}

static void test_top_accepts_bare_lf_lines_and_a_last_line_without_lf(void **state)
{
	assert_top("H: 1\n\none\ntwo", 1, "H: 1\n\none\n");
	assert_top("H: 1\n\none\ntwo", 2, "H: 1\n\none\ntwo");
	assert_top("H: 1\r\n\r\nlast", 1, "H: 1\r\n\r\nlast");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_verb_parses_with_its_arguments),
	        cmocka_unit_test(test_verbs_are_case_insensitive),
	        cmocka_unit_test(test_verb_names_are_capitalised),
	        cmocka_unit_test(test_unknown_commands_are_unknown),
	        cmocka_unit_test(test_commands_without_arguments_refuse_any),
	        cmocka_unit_test(test_missing_arguments_are_syntax_errors),
	        cmocka_unit_test(test_extra_arguments_are_syntax_errors),
	        cmocka_unit_test(test_repeated_and_trailing_spaces_are_tolerated),
	        cmocka_unit_test(test_message_number_zero_is_refused),
	        cmocka_unit_test(test_negative_numbers_are_refused),
	        cmocka_unit_test(test_numbers_with_junk_are_refused),
	        cmocka_unit_test(test_message_numbers_end_at_2_to_the_32_minus_1),
	        cmocka_unit_test(test_line_counts_end_at_2_to_the_64_minus_1),
	        cmocka_unit_test(test_leading_zeros_are_read_as_decimal),
	        cmocka_unit_test(test_an_argument_of_40_octets_passes_and_41_fails),
	        cmocka_unit_test(test_a_mechanism_name_of_20_octets_passes_and_21_fails),
	        cmocka_unit_test(test_credentials_may_be_longer_than_40_octets),
	        cmocka_unit_test(test_pass_takes_the_rest_of_the_line_spaces_included),
	        cmocka_unit_test(test_nul_bytes_are_refused_anywhere),
	        cmocka_unit_test(test_control_characters_are_refused_outside_pass),
	        cmocka_unit_test(test_reasons_never_quote_the_client),
	        cmocka_unit_test(test_arguments_point_into_the_line),
	        cmocka_unit_test(test_lines_end_at_crlf_or_a_bare_lf),
	        cmocka_unit_test(test_an_unfinished_line_asks_for_more),
	        cmocka_unit_test(test_a_line_of_255_octets_with_crlf_passes_and_256_is_too_long),
	        cmocka_unit_test(test_a_bare_lf_line_may_hold_254_octets_and_255_is_too_long),
	        cmocka_unit_test(test_a_huge_line_is_skipped_without_being_kept),
	        cmocka_unit_test(test_the_limit_may_change_between_lines),
	        cmocka_unit_test(test_input_split_at_every_position_gives_the_same_lines),
	        cmocka_unit_test(test_lines_starting_with_a_dot_are_stuffed),
	        cmocka_unit_test(test_a_dot_after_a_bare_lf_is_stuffed_too),
	        cmocka_unit_test(test_a_missing_final_line_end_is_added),
	        cmocka_unit_test(test_an_empty_message_is_just_the_terminator),
	        cmocka_unit_test(test_unstuffing_gives_the_message_back),
	        cmocka_unit_test(test_top_sends_the_header_the_empty_line_and_n_body_lines),
	        cmocka_unit_test(test_top_counts_empty_body_lines),
	        cmocka_unit_test(test_top_of_a_message_without_a_body_is_the_whole_message),
	        cmocka_unit_test(test_top_of_a_message_starting_with_its_empty_line),
	        cmocka_unit_test(test_top_accepts_bare_lf_lines_and_a_last_line_without_lf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
