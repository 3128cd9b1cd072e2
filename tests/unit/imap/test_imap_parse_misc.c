/*
 * Unit tests for src/imap/imap_parse_misc.c: SEARCH dates and APPEND
 * date-times (days per month, leap years, zones, malformed forms), and
 * modified UTF-7 both ways: the RFC 3501 example, "&-", surrogate pairs,
 * every non-canonical or malformed encoding, invalid UTF-8 on the way out,
 * and round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

#define L(s)                                                                                       \
	(struct str)                                                                               \
	{                                                                                          \
		(s), sizeof(s) - 1                                                                 \
	}

/* ---- dates ------------------------------------------------------------------- */

static void test_dates_parse_to_days_since_1970(void **state)
{
	static const struct {
		const char *in;
		int64_t days;
	} cases[] = {
	        {"1-Jan-1970", 0},      {"01-Jan-1970", 0},       {"2-Jan-1970", 1},
	        {"1-Feb-1994", 8797},   {"1-feb-1994", 8797},     {"1-FEB-1994", 8797},
	        {"1-Jan-2000", 10957},  {"29-Feb-2000", 11016},   {"29-Feb-2024", 19782},
	        {"27-Nov-2026", 20784}, {"31-Dec-9999", 2932896}, {"31-Jan-2026", 20484},
	        {"28-Feb-2026", 20512}, {"31-Mar-2026", 20543},   {"30-Apr-2026", 20573},
	        {"31-May-2026", 20604}, {"30-Jun-2026", 20634},   {"31-Jul-2026", 20665},
	        {"31-Aug-2026", 20696}, {"30-Sep-2026", 20726},   {"31-Oct-2026", 20757},
	        {"30-Nov-2026", 20787}, {"31-Dec-2026", 20818},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t got = imap_parse_date(str_c(cases[i].in));
		if (got != cases[i].days)
			fail_msg("\"%s\": %lld, want %lld", cases[i].in, (long long)got,
			         (long long)cases[i].days);
	}
}

static void test_invalid_dates_are_refused(void **state)
{
	static const char *const bad[] = {
	        "",
	        "1",
	        "1-Jan",
	        "1-Jan-",
	        "1-Jan-197",
	        "1-Jan-19700",
	        "0-Jan-2026",
	        "00-Jan-2026",
	        "001-Jan-2026",
	        "32-Jan-2026",
	        "29-Feb-2026",
	        "29-Feb-2100",
	        "30-Feb-2024",
	        "31-Apr-2026",
	        "31-Jun-2026",
	        "31-Sep-2026",
	        "31-Nov-2026",
	        "1-Jun-26",
	        "1 Jan 2026",
	        "1/Jan/2026",
	        "1-January-2026",
	        "1-Jn-2026",
	        "1-Foo-2026",
	        "1-Jan-2026 ",
	        " 1-Jan-2026",
	        "\"1-Jan-2026\"",
	        "x1-Jan-2026",
	        "1-Jan-2O26",
	        "-1-Jan-2026",
	        "31-Dec-1969",
	        "1-Jan-0001",
	        "1-Jan-2026\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (imap_parse_date(str_c(bad[i])) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(imap_parse_date((struct str){"1-Jan-2026\0", 11}), -1);
	assert_int_equal(imap_parse_date((struct str){NULL, 0}), -1);
}

static void test_date_times_parse_to_utc_seconds(void **state)
{
	static const struct {
		const char *in;
		int64_t t;
	} cases[] = {
	        {"17-Jul-1996 02:44:25 -0700", 837596665},
	        {"17-Jul-1996 09:44:25 +0000", 837596665},
	        {"17-Jul-1996 11:44:25 +0200", 837596665},
	        {" 8-Feb-1994 05:52:25 +0000", 760686745},
	        {"08-Feb-1994 05:52:25 +0000", 760686745},
	        {"8-Feb-1994 05:52:25 +0000", 760686745},
	        {"7-Feb-1994 21:52:25 -0800", 760686745},
	        {"27-Nov-2026 12:34:56 +0100", 1795779296},
	        {"01-Jan-1970 00:00:00 +0000", 0},
	        {"01-Jan-1970 00:00:00 +0100", -3600},
	        {"31-Dec-1969 23:59:59 +0000", -1},
	        {"01-Jan-0001 00:00:00 +0000", -62135596800},
	        {"31-Dec-9999 23:59:59 +0000", 253402300799},
	        {"29-Feb-2024 23:59:60 +0000", 1709251200},
	        {"01-Jan-2000 00:00:00 -2359", 946771140},
	        {"01-jan-2000 00:00:00 +2359", 946598460},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t t = 42;
		if (imap_parse_datetime(str_c(cases[i].in), &t) != 0)
			fail_msg("\"%s\" refused", cases[i].in);
		if (t != cases[i].t)
			fail_msg("\"%s\": %lld, want %lld", cases[i].in, (long long)t,
			         (long long)cases[i].t);
	}
}

static void test_invalid_date_times_are_refused(void **state)
{
	static const char *const bad[] = {
	        "",
	        "17-Jul-1996",
	        "17-Jul-1996 02:44:25",
	        "17-Jul-1996 02:44:25 ",
	        "17-Jul-1996 02:44:25 0700",
	        "17-Jul-1996 02:44:25 -070",
	        "17-Jul-1996 02:44:25 -07000",
	        "17-Jul-1996 02:44:25 -07:00",
	        "17-Jul-1996 02:44:25 -2400",
	        "17-Jul-1996 02:44:25 +0060",
	        "17-Jul-1996 02:44:25 UTC",
	        "17-Jul-1996 24:00:00 +0000",
	        "17-Jul-1996 02:60:25 +0000",
	        "17-Jul-1996 02:44:61 +0000",
	        "17-Jul-1996 2:44:25 +0000",
	        "17-Jul-1996 02:4:25 +0000",
	        "17-Jul-1996  02:44:25 +0000",
	        "17-Jul-1996 02:44:25  +0000",
	        "17-Jul-96 02:44:25 +0000",
	        "30-Feb-1996 02:44:25 +0000",
	        "  8-Feb-1994 05:52:25 +0000",
	        " 18-Feb-1994 05:52:25 +0000",
	        "008-Feb-1994 05:52:25 +0000",
	        "00-Feb-1994 05:52:25 +0000",
	        "17-Jul-1996T02:44:25 +0000",
	        "\"17-Jul-1996 02:44:25 -0700\"",
	        "17-Jul-1996 02:44:25 -0700 ",
	        "17-Xyz-1996 02:44:25 -0700",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int64_t t = 42;
		if (imap_parse_datetime(str_c(bad[i]), &t) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(t == 42);
	}
	int64_t t;
	assert_int_equal(imap_parse_datetime((struct str){NULL, 0}, &t), -1);
}

/* ---- modified UTF-7 ----------------------------------------------------------------- */

static const struct {
	struct str utf7, utf8;
} utf7_pairs[] = {
        {L(""), L("")},
        {L("INBOX"), L("INBOX")},
        {L("~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
         L("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e")},
        {L("R&AOk-pertoire"), L("R\xc3\xa9pertoire")},
        {L("&-"), L("&")},
        {L("a&-b&-&-"), L("a&b&&")},
        {L("&2D3eAA-"), L("\xf0\x9f\x98\x80")},
        {L("a&AAE-b"), L("a\x01"
                         "b")},
        {L("&AH8-"), L("\x7f")},
        {L("&AOkA6Q-"), L("\xc3\xa9\xc3\xa9")},
        {L("&BBY--"), L("\xd0\x96-")},
        {L("&ZeVnLIqe-&-x"), L("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e&x")},
        {L("&AOk- &AOk-"), L("\xc3\xa9 \xc3\xa9")},
        {L("&,,0-"), L("\xef\xbf\xbd")},
        {L("&AAkACgAN-"), L("\t\n\r")},
        {L("!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}~"), L("!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}~")},
};

static void test_modified_utf7_decodes_to_utf8(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(utf7_pairs); i++) {
		struct buf out = BUF_INIT;
		if (imap_utf7_to_utf8(utf7_pairs[i].utf7, &out) != 0)
			fail_msg("\"%s\" refused", utf7_pairs[i].utf7.p);
		assert_true(str_eq(str_buf(&out), utf7_pairs[i].utf8));
		buf_free(&out);
	}
}

static void test_utf8_encodes_to_canonical_modified_utf7(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(utf7_pairs); i++) {
		struct buf out = BUF_INIT;
		imap_utf8_to_utf7(utf7_pairs[i].utf8, &out);
		if (!str_eq(str_buf(&out), utf7_pairs[i].utf7))
			fail_msg("\"%s\": \"%s\", want \"%s\"", utf7_pairs[i].utf8.p,
			         buf_cstr(&out), utf7_pairs[i].utf7.p);
		buf_free(&out);
	}
}

static void test_malformed_and_non_canonical_utf7_is_refused(void **state)
{
	static const struct str bad[] = {
	        L("&"),                 /* unterminated shift */
	        L("a&AOk"),             /* unterminated shift */
	        L("&AGE-"),             /* "a" must stand for itself */
	        L("&ACY-"),             /* "&" must be "&-" */
	        L("&ACA-"),             /* so must a space */
	        L("&AH4-"),             /* and "~" */
	        L("&AOk-&AOk-"),        /* two shifts in a row */
	        L("&AOkA-"),            /* leftover bits: six or more */
	        L("&AOl-"),             /* leftover bits not zero */
	        L("&AOkA6R-"),          /* leftover bits not zero */
	        L("&A-"),               /* too short for a character */
	        L("&AA-"),              /* too short for a character */
	        L("&AAA-"),             /* NUL */
	        L("&2D0-"),             /* high surrogate alone */
	        L("&2D3eAA"),           /* unterminated */
	        L("&2D3YAA-"),          /* high surrogate then a high one */
	        L("&2D0AQQ-"),          /* high surrogate then a letter */
	        L("&3gA-"),             /* low surrogate alone */
	        L("&AOk/-"),            /* "/" is not modified base64 */
	        L("&AOk=-"),            /* no padding */
	        L("&AOk -"),            /* space inside a shift */
	        L("R\xc3\xa9pertoire"), /* raw 8-bit */
	        L("a\tb"),              /* raw control */
	        L("a\x7f"),             /* raw DEL */
	        L("a\0b"),              /* raw NUL */
	        L("&&-"),               /* "&" inside a shift */
	        L("&-&"),               /* unterminated after "&-" */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct buf out = BUF_INIT;
		buf_puts(&out, "keep");
		if (imap_utf7_to_utf8(bad[i], &out) != -1)
			fail_msg("case %zu (\"%s\") accepted", i, bad[i].p);
		/* a failure leaves the buffer as it was */
		assert_string_equal(buf_cstr(&out), "keep");
		buf_free(&out);
	}
}

static void test_invalid_utf8_and_nul_encode_as_replacement_characters(void **state)
{
	static const struct {
		struct str in, want;
	} cases[] = {
	        {L("a\xff"
	           "b"),
	         L("a&,,0-b")},
	        {L("\xc3"), L("&,,0-")},
	        {L("\xc0\x80"), L("&,,3,,Q-")},
	        {L("\xed\xa0\x80"), L("&,,3,,f,9-")},
	        {L("\xf4\x90\x80\x80"), L("&,,3,,f,9,,0-")},
	        {L("a\0b"), L("a&,,0-b")},
	        {L("\xc3\xa9\xff"), L("&AOn,,Q-")},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct buf out = BUF_INIT, back = BUF_INIT;
		imap_utf8_to_utf7(cases[i].in, &out);
		if (!str_eq(str_buf(&out), cases[i].want))
			fail_msg("case %zu: \"%s\"", i, buf_cstr(&out));
		/* and what comes out always decodes */
		assert_int_equal(imap_utf7_to_utf8(str_buf(&out), &back), 0);
		buf_free(&out);
		buf_free(&back);
	}
}

static void test_every_code_point_round_trips(void **state)
{
	struct buf utf8 = BUF_INIT, utf7 = BUF_INIT, back = BUF_INIT;
	for (uint32_t cp = 1; cp <= 0x10FFFF; cp += cp < 0x800 ? 1 : 7) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		char b[4];
		size_t n;
		if (cp < 0x80) {
			b[0] = (char)cp;
			n = 1;
		} else if (cp < 0x800) {
			b[0] = (char)(0xC0 | (cp >> 6));
			b[1] = (char)(0x80 | (cp & 0x3F));
			n = 2;
		} else if (cp < 0x10000) {
			b[0] = (char)(0xE0 | (cp >> 12));
			b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
			b[2] = (char)(0x80 | (cp & 0x3F));
			n = 3;
		} else {
			b[0] = (char)(0xF0 | (cp >> 18));
			b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
			b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
			b[3] = (char)(0x80 | (cp & 0x3F));
			n = 4;
		}
		/* alone, and between two other characters */
		buf_reset(&utf8);
		buf_append(&utf8, b, n);
		buf_append(&utf8, "x", 1);
		buf_append(&utf8, b, n);
		buf_append(&utf8, "\xc3\xa9", 2);
		buf_append(&utf8, b, n);
		buf_reset(&utf7);
		buf_reset(&back);
		imap_utf8_to_utf7(str_buf(&utf8), &utf7);
		if (imap_utf7_to_utf8(str_buf(&utf7), &back) != 0 ||
		    !str_eq(str_buf(&back), str_buf(&utf8)))
			fail_msg("U+%04X does not round-trip (\"%s\")", cp, buf_cstr(&utf7));
	}
	buf_free(&utf8);
	buf_free(&utf7);
	buf_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_dates_parse_to_days_since_1970),
	        cmocka_unit_test(test_invalid_dates_are_refused),
	        cmocka_unit_test(test_date_times_parse_to_utc_seconds),
	        cmocka_unit_test(test_invalid_date_times_are_refused),
	        cmocka_unit_test(test_modified_utf7_decodes_to_utf8),
	        cmocka_unit_test(test_utf8_encodes_to_canonical_modified_utf7),
	        cmocka_unit_test(test_malformed_and_non_canonical_utf7_is_refused),
	        cmocka_unit_test(test_invalid_utf8_and_nul_encode_as_replacement_characters),
	        cmocka_unit_test(test_every_code_point_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
