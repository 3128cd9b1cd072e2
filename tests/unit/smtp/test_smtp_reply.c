/*
 * Unit tests for src/smtp/smtp_reply.c: single and multi-line replies, enhanced
 * status codes, bare LF, pipelined replies, every limit at its edge, broken
 * replies, replies fed split at every byte position, the one-line format, the
 * EHLO keywords and xtext encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_internal.h"

/* ---- helpers --------------------------------------------------------------- */

struct parsed {
	enum smtp_reply_status st;
	size_t consumed;
	struct smtp_reply r;
	struct buf why;
};

/* Feeds all of text at once to a fresh parser. */
static void parse(const char *text, size_t len, struct parsed *out)
{
	struct smtp_reply_parser p;
	smtp_reply_parser_init(&p);
	smtp_reply_init(&out->r);
	buf_init(&out->why);
	out->st = smtp_reply_feed(&p, text, len, &out->consumed, &out->r, &out->why);
	smtp_reply_parser_free(&p);
}

static void parsed_free(struct parsed *x)
{
	smtp_reply_free(&x->r);
	buf_free(&x->why);
}

static void expect_done(const char *text, int code, const char *enhanced, const char *body)
{
	struct parsed x;
	parse(text, strlen(text), &x);
	if (x.st != SMTP_REPLY_DONE)
		fail_msg("'%s': status %d (%s)", text, (int)x.st, buf_cstr(&x.why));
	assert_int_equal(x.consumed, strlen(text));
	assert_int_equal(x.r.code, code);
	assert_string_equal(x.r.enhanced, enhanced);
	assert_string_equal(buf_cstr(&x.r.text), body);
	assert_int_equal(x.why.len, 0);
	parsed_free(&x);
}

static void expect_bad(const char *text, size_t len)
{
	struct parsed x;
	parse(text, len, &x);
	if (x.st != SMTP_REPLY_BAD)
		fail_msg("'%.*s': status %d, expected bad", (int)len, text, (int)x.st);
	assert_true(x.why.len > 0);
	parsed_free(&x);
}

static char *line_of(size_t textlen, const char *prefix, const char *end)
{
	size_t plen = strlen(prefix), elen = strlen(end);
	char *s = malloc(plen + textlen + elen + 1);
	assert_non_null(s);
	memcpy(s, prefix, plen);
	memset(s + plen, 'x', textlen);
	memcpy(s + plen + textlen, end, elen + 1);
	return s;
}

/* ---- replies ------------------------------------------------------------------ */

static void test_a_single_line_reply_gives_its_code_and_text(void **state)
{
	expect_done("220 mx.example.net ESMTP ready\r\n", 220, "", "mx.example.net ESMTP ready");
	expect_done("250 OK\r\n", 250, "", "OK");
}

static void test_a_code_alone_is_a_whole_reply(void **state)
{
	expect_done("250\r\n", 250, "", "");
	expect_done("354 \r\n", 354, "", "");
}

static void test_a_multi_line_reply_joins_its_texts(void **state)
{
	expect_done("250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n",
	            250, "", "mx.example.net\nPIPELINING\nSIZE 1000\n8BITMIME");
	expect_done("451-first\r\n451\r\n", 451, "", "first\n");
}

static void test_the_enhanced_code_is_taken_from_every_line(void **state)
{
	expect_done("550-5.1.1 The email account does not exist.\r\n"
	            "550 5.1.1 Please try again.\r\n",
	            550, "5.1.1", "The email account does not exist.\nPlease try again.");
	expect_done("250 2.0.0\r\n", 250, "2.0.0", "");
	expect_done("452 4.5.3 Too many recipients\r\n", 452, "4.5.3", "Too many recipients");
	expect_done("554 5.7.123 Denied\r\n", 554, "5.7.123", "Denied");
}

static void test_an_enhanced_code_that_does_not_fit_stays_in_the_text(void **state)
{
	/* class must match the reply's first digit */
	expect_done("550 4.1.1 odd\r\n", 550, "", "4.1.1 odd");
	/* four digits, missing parts, junk after */
	expect_done("550 5.1234.1 x\r\n", 550, "", "5.1234.1 x");
	expect_done("550 5.1 x\r\n", 550, "", "5.1 x");
	expect_done("550 5.1.1x y\r\n", 550, "", "5.1.1x y");
	/* later lines without the code keep their text */
	expect_done("550-5.1.1 a\r\n550 b\r\n", 550, "5.1.1", "a\nb");
}

static void test_a_bare_lf_ends_a_line(void **state)
{
	expect_done("250-a\n250 b\n", 250, "", "a\nb");
}

static void test_bytes_after_a_reply_are_left_for_the_next(void **state)
{
	const char *two = "250 2.1.0 Ok\r\n550 5.1.1 No\r\n354 go\r\n";
	struct smtp_reply_parser p;
	struct smtp_reply r;
	struct buf why = BUF_INIT;
	size_t used, off = 0;
	int codes[3];
	smtp_reply_parser_init(&p);
	smtp_reply_init(&r);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(smtp_reply_feed(&p, two + off, strlen(two) - off, &used, &r, &why),
		                 SMTP_REPLY_DONE);
		codes[i] = r.code;
		off += used;
	}
	assert_int_equal(off, strlen(two));
	assert_int_equal(codes[0], 250);
	assert_int_equal(codes[1], 550);
	assert_int_equal(codes[2], 354);
	smtp_reply_free(&r);
	smtp_reply_parser_free(&p);
	buf_free(&why);
}

static void test_an_unfinished_reply_asks_for_more(void **state)
{
	struct parsed x;
	parse("250-a\r\n250 b", 12, &x);
	assert_int_equal(x.st, SMTP_REPLY_MORE);
	assert_int_equal(x.consumed, 12);
	parsed_free(&x);
}

static void test_malformed_lines_are_bad(void **state)
{
	static const char *const cases[] = {
	        "hello\r\n",    "25\r\n",   "2x0 no\r\n", "199 info\r\n", "600 no\r\n",
	        "260 no\r\n",   "250x\r\n", "250_ok\r\n", "\r\n",         "250-a\r\n251 b\r\n",
	        "000 zero\r\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_bad(cases[i], strlen(cases[i]));
}

static void test_a_line_of_the_limit_passes_and_one_byte_more_is_bad(void **state)
{
	char *ok = line_of(SMTP_REPLY_MAX_LINE - 4, "250 ", "\r\n");
	struct parsed x;
	parse(ok, strlen(ok), &x);
	assert_int_equal(x.st, SMTP_REPLY_DONE);
	parsed_free(&x);
	char *over = line_of(SMTP_REPLY_MAX_LINE - 3, "250 ", "\r\n");
	expect_bad(over, strlen(over));
	free(ok);
	free(over);
}

static void test_an_endless_line_is_bad_before_its_end(void **state)
{
	char *endless = line_of(SMTP_REPLY_MAX_LINE + 10, "250 ", "");
	expect_bad(endless, strlen(endless));
	free(endless);
}

static void test_too_many_lines_are_bad(void **state)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < SMTP_REPLY_MAX_LINES - 1; i++)
		buf_puts(&b, "250-x\r\n");
	buf_puts(&b, "250 x\r\n");
	struct parsed x;
	parse(b.data, b.len, &x);
	assert_int_equal(x.st, SMTP_REPLY_DONE);
	assert_int_equal(x.r.nlines, SMTP_REPLY_MAX_LINES);
	parsed_free(&x);
	buf_reset(&b);
	for (int i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		buf_puts(&b, "250-x\r\n");
	buf_puts(&b, "250 x\r\n");
	expect_bad(b.data, b.len);
	buf_free(&b);
}

static void test_a_reply_text_over_its_limit_is_bad(void **state)
{
	struct buf b = BUF_INIT;
	char *line = line_of(1000, "250-", "\r\n");
	for (int i = 0; i < SMTP_REPLY_MAX_TEXT / 1000 + 1; i++)
		buf_puts(&b, line);
	buf_puts(&b, "250 end\r\n");
	expect_bad(b.data, b.len);
	free(line);
	buf_free(&b);
}

static void test_a_broken_parser_stays_broken(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_reply r;
	struct buf why = BUF_INIT;
	size_t used;
	smtp_reply_parser_init(&p);
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_feed(&p, "junk\r\n", 6, &used, &r, &why), SMTP_REPLY_BAD);
	buf_reset(&why);
	assert_int_equal(smtp_reply_feed(&p, "250 ok\r\n", 8, &used, &r, &why), SMTP_REPLY_BAD);
	assert_int_equal(used, 0);
	assert_true(why.len > 0);
	smtp_reply_free(&r);
	smtp_reply_parser_free(&p);
	buf_free(&why);
}

static void test_a_reply_split_at_every_byte_position_parses_the_same(void **state)
{
	const char *text = "250-mx.example.net greets you\r\n250-PIPELINING\r\n"
	                   "250-SIZE 35882577\r\n250 SMTPUTF8\r\n550 5.1.1 gone\r\n";
	size_t len = strlen(text);
	for (size_t cut = 0; cut <= len; cut++) {
		struct smtp_reply_parser p;
		struct smtp_reply r;
		struct buf why = BUF_INIT;
		int codes[2], n = 0;
		char *texts[2];
		smtp_reply_parser_init(&p);
		smtp_reply_init(&r);
		size_t pieces[2][2] = {{0, cut}, {cut, len}};
		for (int k = 0; k < 2; k++) {
			size_t off = pieces[k][0];
			while (off < pieces[k][1]) {
				size_t used;
				enum smtp_reply_status st = smtp_reply_feed(
				        &p, text + off, pieces[k][1] - off, &used, &r, &why);
				assert_int_not_equal(st, SMTP_REPLY_BAD);
				off += used;
				if (st == SMTP_REPLY_DONE) {
					codes[n] = r.code;
					texts[n++] = xstrdup(buf_cstr(&r.text));
				} else {
					assert_int_equal(off, pieces[k][1]);
				}
			}
		}
		assert_int_equal(n, 2);
		assert_int_equal(codes[0], 250);
		assert_string_equal(
		        texts[0], "mx.example.net greets you\nPIPELINING\nSIZE 35882577\nSMTPUTF8");
		assert_int_equal(codes[1], 550);
		assert_string_equal(texts[1], "gone");
		free(texts[0]);
		free(texts[1]);
		smtp_reply_free(&r);
		smtp_reply_parser_free(&p);
		buf_free(&why);
	}
}

/* ---- format ----------------------------------------------------------------------- */

static char *format_of(const char *text)
{
	struct parsed x;
	struct buf out = BUF_INIT;
	parse(text, strlen(text), &x);
	assert_int_equal(x.st, SMTP_REPLY_DONE);
	smtp_reply_format(&x.r, &out);
	parsed_free(&x);
	return buf_steal(&out);
}

static void test_format_makes_one_printable_line(void **state)
{
	char *f = format_of("550-5.1.1 The account\r\n550 5.1.1   does not\texist\r\n");
	assert_string_equal(f, "550 5.1.1 The account does not exist");
	free(f);
	f = format_of("421 bye \x01\xc3\xa9t\xc3\xa9\r\n");
	assert_string_equal(f, "421 bye ???t??");
	free(f);
	f = format_of("250\r\n");
	assert_string_equal(f, "250");
	free(f);
}

static void test_format_cuts_long_text(void **state)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < 10; i++)
		buf_puts(&b,
		         "451-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
	buf_puts(&b, "451 end\r\n");
	char *f = format_of(buf_cstr(&b));
	assert_int_equal(strlen(f), 3 + SMTP_REPLY_MAX_FORMAT);
	free(f);
	buf_free(&b);
}

/* ---- EHLO ----------------------------------------------------------------------- */

static void ehlo_of(const char *text, struct smtp_ehlo *caps)
{
	struct parsed x;
	parse(text, strlen(text), &x);
	assert_int_equal(x.st, SMTP_REPLY_DONE);
	smtp_reply_ehlo(&x.r, caps);
	parsed_free(&x);
}

static void test_ehlo_keywords_are_found_in_any_case(void **state)
{
	struct smtp_ehlo c;
	ehlo_of("250-mx.example.net Hello PIPELINING\r\n250-pipelining\r\n250-SIZE 52428800\r\n"
	        "250-8BITMIME\r\n250-SmtpUtf8\r\n250-STARTTLS\r\n250-CHUNKING\r\n250-DSN\r\n"
	        "250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n",
	        &c);
	assert_true(c.pipelining && c.eightbitmime && c.smtputf8 && c.starttls && c.chunking &&
	            c.dsn && c.enhancedstatuscodes && c.size);
	assert_int_equal(c.size_max, 52428800);
}

static void test_auth_mechanisms_are_read_in_both_spellings(void **state)
{
	struct smtp_ehlo c;
	ehlo_of("250-relay.example\r\n250-AUTH CRAM-MD5 plain\r\n250 SIZE\r\n", &c);
	assert_true(c.auth_plain);
	assert_false(c.auth_login);
	ehlo_of("250-relay.example\r\n250-AUTH=LOGIN\r\n250 8BITMIME\r\n", &c);
	assert_true(c.auth_login && !c.auth_plain);
	ehlo_of("250-relay.example\r\n250-AUTH  LOGIN   PLAIN \r\n250 DSN\r\n", &c);
	assert_true(c.auth_login && c.auth_plain);
	ehlo_of("250-relay.example\r\n250-AUTH PLAINX LOGINS\r\n250-XAUTH PLAIN\r\n"
	        "250 AUTH\r\n",
	        &c);
	assert_false(c.auth_login || c.auth_plain);
}

static void test_the_greeting_line_and_lookalikes_announce_nothing(void **state)
{
	struct smtp_ehlo c;
	ehlo_of("250-STARTTLS PIPELINING\r\n250-PIPELININGX\r\n250-XDSN\r\n250 SIZE\r\n", &c);
	assert_false(c.starttls || c.pipelining || c.dsn);
	assert_true(c.size);
	assert_int_equal(c.size_max, 0);
	ehlo_of("250 mx.example.net\r\n", &c);
	assert_false(c.size || c.pipelining);
	ehlo_of("250-x\r\n250 SIZE junk\r\n", &c);
	assert_true(c.size);
	assert_int_equal(c.size_max, 0);
}

static void test_xtext_encodes_plus_equals_and_controls(void **state)
{
	struct buf out = BUF_INIT;
	smtp_xtext_encode("a+b=c d\x01\xc3", 9, &out);
	assert_string_equal(buf_cstr(&out), "a+2Bb+3Dc+20d+01+C3");
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_a_single_line_reply_gives_its_code_and_text),
	        cmocka_unit_test(test_a_code_alone_is_a_whole_reply),
	        cmocka_unit_test(test_a_multi_line_reply_joins_its_texts),
	        cmocka_unit_test(test_the_enhanced_code_is_taken_from_every_line),
	        cmocka_unit_test(test_an_enhanced_code_that_does_not_fit_stays_in_the_text),
	        cmocka_unit_test(test_a_bare_lf_ends_a_line),
	        cmocka_unit_test(test_bytes_after_a_reply_are_left_for_the_next),
	        cmocka_unit_test(test_an_unfinished_reply_asks_for_more),
	        cmocka_unit_test(test_malformed_lines_are_bad),
	        cmocka_unit_test(test_a_line_of_the_limit_passes_and_one_byte_more_is_bad),
	        cmocka_unit_test(test_an_endless_line_is_bad_before_its_end),
	        cmocka_unit_test(test_too_many_lines_are_bad),
	        cmocka_unit_test(test_a_reply_text_over_its_limit_is_bad),
	        cmocka_unit_test(test_a_broken_parser_stays_broken),
	        cmocka_unit_test(test_a_reply_split_at_every_byte_position_parses_the_same),
	        cmocka_unit_test(test_format_makes_one_printable_line),
	        cmocka_unit_test(test_format_cuts_long_text),
	        cmocka_unit_test(test_ehlo_keywords_are_found_in_any_case),
	        cmocka_unit_test(test_auth_mechanisms_are_read_in_both_spellings),
	        cmocka_unit_test(test_the_greeting_line_and_lookalikes_announce_nothing),
	        cmocka_unit_test(test_xtext_encodes_plus_equals_and_controls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
