/*
 * Unit tests for src/mime/mime_decode.c: quoted-printable and lenient base64,
 * charsets through iconv, RFC 2047 encoded words, and the UTF-8 text of parts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

static char *load(const char *name, size_t *len_r)
{
	char *path = xasprintf("tests/data/mime/%s", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	free(path);
	buf_reserve(&b, 0);
	*len_r = b.len;
	return buf_steal(&b);
}

static void assert_qp(const char *in, const char *want)
{
	struct buf out = BUF_INIT;
	mime_decode_qp(in, strlen(in), &out);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static void assert_b64(const char *in, const char *want, size_t want_len)
{
	struct buf out = BUF_INIT;
	mime_decode_base64(in, strlen(in), &out);
	assert_int_equal(out.len, want_len);
	assert_memory_equal(out.len ? out.data : "", want, want_len);
	buf_free(&out);
}

static void assert_hdr(const char *in, const char *want)
{
	struct buf out = BUF_INIT;
	mime_decode_header(in, strlen(in), &out);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static bool to_utf8(const char *cs, const char *in, size_t len, const char *want)
{
	struct buf out = BUF_INIT;
	bool ok = mime_charset_to_utf8(cs, in, len, &out);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
	return ok;
}

static void test_quoted_printable_decodes_escapes_and_soft_breaks(void **state)
{
	assert_qp("Caf=C3=A9 =\r\nat ten?=20\r\n", "Caf\xC3\xA9 at ten? \r\n");
	assert_qp("lower =c3=a9\n", "lower \xC3\xA9\n");
	/* trailing whitespace before a line end is transport padding */
	assert_qp("line  \t\r\nnext", "line\r\nnext");
	/* bad escapes are kept as written */
	assert_qp("=ZZ 100=% a=\r", "=ZZ 100=% a=\r");
	assert_qp("end=", "end");
	assert_qp("=4", "=4");
	assert_qp("", "");
}

static void test_base64_is_lenient_about_whitespace_junk_and_padding(void **state)
{
	assert_b64("Q2Fm\r\nw6k=", "Caf\xC3\xA9", 5);
	assert_b64(" Q 2 F m * w 6 k ", "Caf\xC3\xA9", 5);
	assert_b64("w6k", "\xC3\xA9", 2);
	assert_b64("QQ", "A", 1);
	assert_b64("QUJD=RUZH", "ABC", 3); /* stops at padding */
	assert_b64("Q", "", 0);
	assert_b64("", "", 0);
	assert_b64("AAEC/w==", "\x00\x01\x02\xff", 4);
}

static void test_charsets_are_converted_to_utf8(void **state)
{
	assert_true(to_utf8("ISO-8859-1", "caf\xE9", 4, "caf\xC3\xA9"));
	assert_true(to_utf8(" windows-1252 ", "\x80 5", 3, "\xE2\x82\xAC 5"));
	assert_true(to_utf8("shift_jis", "\x82\xA0", 2, "\xE3\x81\x82"));
	assert_true(to_utf8("gb2312", "\xC4\xE3", 2, "\xE4\xBD\xA0"));
	assert_true(to_utf8("us-ascii", "plain", 5, "plain"));
	/* invalid bytes become U+FFFD, in UTF-8 and in converted text alike */
	assert_true(
	        to_utf8("utf-8", "a\xC3(b\xF0\x9F", 6, "a\xEF\xBF\xBD(b\xEF\xBF\xBD\xEF\xBF\xBD"));
	assert_true(to_utf8("utf-8", "a\0b", 3,
	                    "a\xEF\xBF\xBD"
	                    "b"));
	assert_true(to_utf8("shift_jis", "a\x82", 2, "a\xEF\xBF\xBD"));
	/* overlong forms and surrogates are not UTF-8 */
	assert_true(to_utf8("utf-8", "\xC0\xAF\xED\xA0\x80", 5,
	                    "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
}

static void test_unknown_or_unsafe_charsets_pass_utf8_through(void **state)
{
	assert_false(to_utf8("x-no-such-charset", "caf\xC3\xA9", 5, "caf\xC3\xA9"));
	assert_false(to_utf8("UTF-8//TRANSLIT", "a", 1, "a"));
	assert_false(to_utf8("../../etc", "a\xE9", 2, "a\xEF\xBF\xBD"));
}

static void test_encoded_words_are_decoded(void **state)
{
	assert_hdr("=?utf-8?q?caf=C3=A9?=", "caf\xC3\xA9");
	assert_hdr("=?ISO-8859-1?B?Y2Fm6Q==?=", "caf\xC3\xA9");
	assert_hdr("=?iso-8859-1?Q?a_b?=", "a b");
	assert_hdr("Re: =?utf-8?q?x?= and =?utf-8?q?y?= end", "Re: x and y end");
	assert_hdr("=?utf-8*en?q?hi?=", "hi");
	assert_hdr("plain text only", "plain text only");
	assert_hdr("", "");
}

static void test_whitespace_between_adjacent_words_is_dropped(void **state)
{
	assert_hdr("=?utf-8?q?a?= =?utf-8?q?b?=", "ab");
	assert_hdr("=?utf-8?q?a?=\r\n =?iso-8859-1?q?b?=", "ab");
	assert_hdr("=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c");
	/* a character split across two words survives */
	assert_hdr("=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "\xC3\xA9");
	assert_hdr("=?utf-8?B?w6k=?==?utf-8?B?w6k=?=", "\xC3\xA9\xC3\xA9");
}

static void test_bad_or_unknown_encoded_words_are_left_as_written(void **state)
{
	assert_hdr("=?x-no-such?q?abc?= =?x-no-such?q?d?=",
	           "=?x-no-such?q?abc?= =?x-no-such?q?d?=");
	assert_hdr("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
	assert_hdr("=?utf-8?q?no end", "=?utf-8?q?no end");
	assert_hdr("=?utf-8?q?has space?=", "=?utf-8?q?has space?=");
	assert_hdr("=??q?a?=", "=??q?a?=");
	/* raw 8-bit outside words is taken as UTF-8 (RFC 6532) or replaced */
	assert_hdr("Gr\xC3\xBC\xC3\x9F"
	           "e caf\xE9",
	           "Gr\xC3\xBC\xC3\x9F"
	           "e caf\xEF\xBF\xBD");
}

static void test_part_text_undoes_encoding_and_charset(void **state)
{
	size_t len;
	char *msg = load("alternative.eml", &len);
	struct mime_part *root;
	struct buf out = BUF_INIT;
	mime_parse(msg, len, &root);
	mime_part_text(mime_part_find(root, "1"), msg, &out);
	assert_string_equal(buf_cstr(&out), "Caf\xC3\xA9 at ten?");
	mime_part_free(&root);
	free(msg);

	msg = load("nested_rfc822.eml", &len);
	mime_parse(msg, len, &root);
	buf_reset(&out);
	mime_part_text(mime_part_find(root, "2.1"), msg, &out);
	assert_string_equal(buf_cstr(&out), "Voil\xC3\xA0.");
	mime_part_free(&root);
	free(msg);

	msg = load("mixed_attachment.eml", &len);
	mime_parse(msg, len, &root);
	buf_reset(&out);
	mime_part_decode_body(mime_part_find(root, "2"), msg, &out);
	assert_true(out.len > 8);
	assert_memory_equal(out.data, "%PDF-1.4", 8);
	mime_part_free(&root);
	free(msg);
	buf_free(&out);
}

static void test_8bit_text_without_charset_is_kept_when_utf8(void **state)
{
	const char *msg = "Content-Type: text/plain\r\n\r\nGr\xC3\xBC\xC3\x9F"
	                  "e \xFF";
	struct mime_part *root;
	struct buf out = BUF_INIT;
	mime_parse(msg, strlen(msg), &root);
	mime_part_text(root, msg, &out);
	assert_string_equal(buf_cstr(&out), "Gr\xC3\xBC\xC3\x9F"
	                                    "e \xEF\xBF\xBD");
	buf_free(&out);
	mime_part_free(&root);
}

static void test_utf8_runs_keep_ascii_and_replace_nul_and_bad_bytes(void **state)
{
	assert_true(to_utf8("us-ascii",
	                    "a\0b\x7f\x80"
	                    "c\xC3\xA9\0",
	                    9,
	                    "a\xEF\xBF\xBD"
	                    "b\x7f\xEF\xBF\xBD"
	                    "c\xC3\xA9\xEF\xBF\xBD"));
}

static void test_unencoded_part_text_stops_at_the_part_end(void **state)
{
	const char *msg = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	                  "--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
	                  "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	                  "Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xE9\r\n--b--\r\n";
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	struct buf out = BUF_INIT;
	mime_part_text(root->children, msg, &out);
	assert_string_equal(buf_cstr(&out), "first");
	buf_reset(&out);
	mime_part_text(root->children->next, msg, &out);
	assert_string_equal(buf_cstr(&out), "caf\xC3\xA9");
	buf_free(&out);
	mime_part_free(&root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_quoted_printable_decodes_escapes_and_soft_breaks),
	        cmocka_unit_test(test_base64_is_lenient_about_whitespace_junk_and_padding),
	        cmocka_unit_test(test_charsets_are_converted_to_utf8),
	        cmocka_unit_test(test_unknown_or_unsafe_charsets_pass_utf8_through),
	        cmocka_unit_test(test_encoded_words_are_decoded),
	        cmocka_unit_test(test_whitespace_between_adjacent_words_is_dropped),
	        cmocka_unit_test(test_bad_or_unknown_encoded_words_are_left_as_written),
	        cmocka_unit_test(test_part_text_undoes_encoding_and_charset),
	        cmocka_unit_test(test_8bit_text_without_charset_is_kept_when_utf8),
	        cmocka_unit_test(test_utf8_runs_keep_ascii_and_replace_nul_and_bad_bytes),
	        cmocka_unit_test(test_unencoded_part_text_stops_at_the_part_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
