/*
 * Unit tests for src/mime/mime_bodystructure.c: BODY and BODYSTRUCTURE of every
 * fixture in tests/data/mime, the placeholder for a multipart without parts,
 * opaque parts at the limits, and the IMAP string forms (quoted, escaped,
 * literal).
 *
 * The expected strings were checked against Dovecot 2.3.19 (dovecot-imapd on
 * Debian 12) fed the same messages. They agree except where petrel differs on
 * purpose:
 *  - case: petrel sends type, subtype, encoding, parameter and disposition
 *    names upper-case ("TEXT" "PLAIN" ("CHARSET" ...)); Dovecot sends them as
 *    written. Values are as written in both.
 *  - quoting: petrel quotes any 7-bit string (escaping \ and "), Dovecot
 *    switches to a literal for strings with quotes in names and subjects.
 *  - RFC 2231: both join continuations; Dovecot passes "name*" values on as
 *    written (charset'lang'%XX), petrel converts the charset and sends
 *    utf-8''%XX; parameters keep their order in the header.
 *  - a multipart with no or a too long boundary: Dovecot shows a multipart
 *    with one empty text/plain part (or truncates the boundary); petrel shows
 *    the part as text/plain per RFC 2045 section 5.2 (no_boundary.eml,
 *    long_boundary.eml).
 *  - an invalid Content-Type ("text", ";;;"): Dovecot sends "text" "" and
 *    "" ""; petrel the RFC 2045 default text/plain (invalid_type.eml).
 *  - a base64 message/rfc822 part: Dovecot parses the encoded text as a
 *    message; petrel shows an opaque application/octet-stream
 *    (rfc822_base64.eml).
 *  - a line that merely starts with "--boundary" (boundary_prefix.eml):
 *    Dovecot takes it as a delimiter of the outer multipart; petrel requires
 *    nothing but blanks or "--" after the boundary.
 *  - sizes of bare-LF messages: petrel counts the stored octets; Dovecot
 *    counts as if every LF were CRLF.
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

static void assert_structure(const char *msg, size_t len, const char *bodystructure,
                             const char *body)
{
	struct mime_part *root;
	struct buf out = BUF_INIT;
	mime_parse(msg, len, &root);
	mime_bodystructure(root, msg, true, &out);
	assert_string_equal(buf_cstr(&out), bodystructure);
	buf_reset(&out);
	mime_bodystructure(root, msg, false, &out);
	assert_string_equal(buf_cstr(&out), body);
	buf_free(&out);
	mime_part_free(&root);
}

static const struct {
	const char *file, *bodystructure, *body;
} fixtures[] = {
        {"simple.eml",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 31 2 NIL NIL NIL NIL)",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 31 2)"},
        {"alternative.eml",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 17 0 NIL NIL "
         "NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 26 0 NIL NIL NIL "
         "NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"alt-boundary\") NIL NIL NIL)",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 17 "
         "0)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 26 0) \"ALTERNATIVE\")"},
        {"mixed_attachment.eml",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 17 1 NIL NIL NIL "
         "NIL)(\"APPLICATION\" \"PDF\" (\"NAME*\" \"utf-8''%E2%82%AC%20rapport%20annuel.pdf\") "
         "\"<part2@example.net>\" \"Annual report\" \"BASE64\" 114 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" "
         "(\"ATTACHMENT\" (\"FILENAME*\" \"utf-8''%E2%82%AC%20rapport%20annuel.pdf\" \"SIZE\" "
         "\"42\")) (\"fr\" \"en-GB\") \"http://example.net/report.pdf\") \"MIXED\" (\"BOUNDARY\" "
         "\"----=_Part_0_12345\") NIL (\"en\") NIL)",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 17 1)(\"APPLICATION\" "
         "\"PDF\" (\"NAME*\" \"utf-8''%E2%82%AC%20rapport%20annuel.pdf\") \"<part2@example.net>\" "
         "\"Annual report\" \"BASE64\" 114) \"MIXED\")"},
        {"nested_rfc822.eml",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 29 0 NIL NIL NIL "
         "NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 505 (\"Wed, 3 Jan 2024 18:00:00 "
         "+0000\" \"Original\" ((\"Grace\" NIL \"grace\" \"example.org\")) ((\"Grace\" NIL "
         "\"grace\" \"example.org\")) ((\"Grace\" NIL \"grace\" \"example.org\")) ((NIL NIL "
         "\"erin\" \"example.org\")) ((\"Team\" NIL \"team\" \"example.org\")(NIL NIL \"heidi\" "
         "\"example.org\")) NIL \"<earlier@example.org>\" \"<orig@example.org>\") ((\"TEXT\" "
         "\"PLAIN\" (\"CHARSET\" \"iso-8859-1\") NIL NIL \"QUOTED-PRINTABLE\" 8 0 NIL NIL NIL "
         "NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"iso-8859-1\") NIL NIL \"7BIT\" 20 0 NIL NIL NIL "
         "NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL) 20 NIL (\"INLINE\" NIL) NIL "
         "NIL) \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 29 0)(\"MESSAGE\" "
         "\"RFC822\" NIL NIL NIL \"7BIT\" 505 (\"Wed, 3 Jan 2024 18:00:00 +0000\" \"Original\" "
         "((\"Grace\" NIL \"grace\" \"example.org\")) ((\"Grace\" NIL \"grace\" \"example.org\")) "
         "((\"Grace\" NIL \"grace\" \"example.org\")) ((NIL NIL \"erin\" \"example.org\")) "
         "((\"Team\" NIL \"team\" \"example.org\")(NIL NIL \"heidi\" \"example.org\")) NIL "
         "\"<earlier@example.org>\" \"<orig@example.org>\") ((\"TEXT\" \"PLAIN\" (\"CHARSET\" "
         "\"iso-8859-1\") NIL NIL \"QUOTED-PRINTABLE\" 8 0)(\"TEXT\" \"HTML\" (\"CHARSET\" "
         "\"iso-8859-1\") NIL NIL \"7BIT\" 20 0) \"ALTERNATIVE\") 20) \"MIXED\")"},
        {"missing_final_boundary.eml",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 0 NIL NIL NIL "
         "NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 27 1 NIL NIL NIL "
         "NIL) \"MIXED\" (\"BOUNDARY\" \"b1\") NIL NIL NIL)",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 0)(\"TEXT\" "
         "\"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 27 1) \"MIXED\")"},
        {"preamble_epilogue.eml",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 80 1 NIL NIL NIL "
         "NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 78 2 NIL NIL NIL "
         "NIL) \"MIXED\" (\"BOUNDARY\" \"simple boundary\") NIL NIL NIL)",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 80 1)(\"TEXT\" "
         "\"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 78 2) \"MIXED\")"},
        {"bare_lf.eml",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 0 NIL NIL NIL "
         "NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 11 0 NIL NIL NIL "
         "NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"lf\") NIL NIL NIL)",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 0)(\"TEXT\" \"HTML\" "
         "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 11 0) \"ALTERNATIVE\")"},
        {"header_only.eml",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)"},
        {"empty.eml",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)"},
        {"garbage.eml",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 100 0 NIL NIL NIL NIL)",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 100 0)"},
        {"headers_8bit.eml",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"8BIT\" 9 1 NIL NIL NIL NIL)",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"8BIT\" 9 1)"},
        {"addresses.eml",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 6 1 NIL NIL NIL NIL)",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 6 1)"},
        {"quoting.eml",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\" \"NAME\" \"a \\\"quoted\\\" name\") NIL \"a "
         "\\\"description\\\" \\\\ too\" \"7BIT\" 3 1 NIL NIL NIL NIL)",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\" \"NAME\" \"a \\\"quoted\\\" name\") NIL \"a "
         "\\\"description\\\" \\\\ too\" \"7BIT\" 3 1)"},
        {"digest.eml",
         "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 44 (NIL \"first\" ((NIL NIL \"one\" "
         "\"example.org\")) ((NIL NIL \"one\" \"example.org\")) ((NIL NIL \"one\" "
         "\"example.org\")) NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") "
         "NIL NIL \"7BIT\" 3 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" "
         "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 13 0 NIL NIL NIL NIL) \"DIGEST\" "
         "(\"BOUNDARY\" \"dg\") NIL NIL NIL)",
         "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 44 (NIL \"first\" ((NIL NIL \"one\" "
         "\"example.org\")) ((NIL NIL \"one\" \"example.org\")) ((NIL NIL \"one\" "
         "\"example.org\")) NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") "
         "NIL NIL \"7BIT\" 3 0) 3)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
         "13 0) \"DIGEST\")"},
        {"no_boundary.eml",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 47 5 NIL NIL NIL NIL)",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 47 5)"},
        {"long_boundary.eml",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 187 5 NIL NIL NIL NIL)",
         "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 187 5)"},
        {"empty_multipart.eml",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) "
         "\"MIXED\" (\"BOUNDARY\" \"nothing\") NIL NIL NIL)",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) \"MIXED\")"},
        {"rfc822_base64.eml",
         "((\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 28 NIL NIL NIL NIL) \"MIXED\" "
         "(\"BOUNDARY\" \"m\") NIL NIL NIL)",
         "((\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 28) \"MIXED\")"},
        {"boundary_prefix.eml",
         "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 30 1 NIL NIL NIL "
         "NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 9 0 NIL NIL NIL NIL) "
         "\"ALTERNATIVE\" (\"BOUNDARY\" \"bb\") NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
         "\"US-ASCII\") NIL NIL \"7BIT\" 9 0 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b\") NIL "
         "NIL NIL)",
         "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 30 1)(\"TEXT\" "
         "\"HTML\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 9 0) \"ALTERNATIVE\")(\"TEXT\" "
         "\"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 9 0) \"MIXED\")"},
        {"invalid_type.eml",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 0 NIL NIL NIL "
         "NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 0 NIL NIL NIL "
         "NIL)(\"IMAGE\" \"PNG\" (\"NAME\" \"dot.png\") NIL NIL \"BASE64\" 12 NIL NIL NIL NIL) "
         "\"MIXED\" (\"BOUNDARY\" \"z\") NIL NIL NIL)",
         "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 0)(\"TEXT\" "
         "\"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 0)(\"IMAGE\" \"PNG\" (\"NAME\" "
         "\"dot.png\") NIL NIL \"BASE64\" 12) \"MIXED\")"},
};

static void test_every_fixture_has_its_hand_checked_bodystructure(void **state)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		size_t len;
		char *msg = load(fixtures[i].file, &len);
		print_message("%s\n", fixtures[i].file);
		assert_structure(msg, len, fixtures[i].bodystructure, fixtures[i].body);
		free(msg);
	}
}

static void test_content_fields_of_a_message_that_is_not_mime_are_ignored(void **state)
{
	/* no MIME-Version and no Content-Type: RFC 2045 section 4 */
	const char *msg = "Content-Transfer-Encoding: base64\r\nContent-ID: <i@x>\r\n\r\nQQ==\r\n";
	assert_structure(msg, strlen(msg),
	                 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 6 1 NIL "
	                 "NIL NIL NIL)",
	                 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 6 1)");
	const char *mime = "MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n"
	                   "Content-ID: <i@x>\r\n\r\nQQ==\r\n";
	assert_structure(
	        mime, strlen(mime),
	        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") \"<i@x>\" NIL \"BASE64\" 6 "
	        "1 NIL NIL NIL NIL)",
	        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") \"<i@x>\" NIL \"BASE64\" 6 "
	        "1)");
}

static void test_simple_text_message_matches_the_rfc_example_form(void **state)
{
	/* RFC 9051's example: ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 2279 48) */
	const char *msg = "Subject: x\r\n\r\nline one\r\nline two\r\n";
	assert_structure(msg, strlen(msg),
	                 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 20 2 NIL "
	                 "NIL NIL NIL)",
	                 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 20 2)");
}

static void test_non_text_part_has_no_line_count_and_no_default_charset(void **state)
{
	const char *msg = "Content-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	                  "R0lGODlhAQABAAAAACw=\r\n";
	assert_structure(msg, strlen(msg),
	                 "(\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 22 NIL NIL NIL NIL)",
	                 "(\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 22)");
}

static void test_disposition_without_parameters_and_single_language(void **state)
{
	const char *msg = "Content-Type: text/plain; format=flowed\r\n"
	                  "Content-Disposition: INLINE\r\nContent-Language: de\r\n"
	                  "Content-ID: <x@y>\r\n\r\nx";
	assert_structure(msg, strlen(msg),
	                 "(\"TEXT\" \"PLAIN\" (\"FORMAT\" \"flowed\" \"CHARSET\" \"US-ASCII\") "
	                 "\"<x@y>\" NIL \"7BIT\" 1 0 NIL (\"INLINE\" NIL) (\"de\") NIL)",
	                 "(\"TEXT\" \"PLAIN\" (\"FORMAT\" \"flowed\" \"CHARSET\" \"US-ASCII\") "
	                 "\"<x@y>\" NIL \"7BIT\" 1 0)");
}

static void test_opaque_part_at_the_depth_limit_is_application_octet_stream(void **state)
{
	struct buf m = BUF_INIT;
	for (int i = 0; i <= MIME_MAX_DEPTH; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i,
		           i);
	buf_puts(&m, "\r\nx\r\n");
	struct mime_part *root;
	struct buf out = BUF_INIT;
	mime_parse(m.data, m.len, &root);
	mime_bodystructure(root, m.data, false, &out);
	assert_non_null(strstr(buf_cstr(&out), "(\"APPLICATION\" \"OCTET-STREAM\" (\"BOUNDARY\" "
	                                       "\"b32\") NIL NIL \"7BIT\" 12) \"MIXED\")"));
	buf_reset(&out);
	mime_bodystructure(root, m.data, true, &out);
	assert_non_null(strstr(buf_cstr(&out), "(\"APPLICATION\" \"OCTET-STREAM\" (\"BOUNDARY\" "
	                                       "\"b32\") NIL NIL \"7BIT\" 12 NIL NIL NIL NIL)"));
	buf_free(&out);
	buf_free(&m);
	mime_part_free(&root);
}

static void test_strings_are_quoted_escaped_or_literal(void **state)
{
	struct buf out = BUF_INIT;
	mime_imap_string(&out, "plain", 5);
	assert_string_equal(buf_cstr(&out), "\"plain\"");
	buf_reset(&out);
	mime_imap_string(&out, "a \"b\" \\c", 8);
	assert_string_equal(buf_cstr(&out), "\"a \\\"b\\\" \\\\c\"");
	buf_reset(&out);
	mime_imap_string(&out, "", 0);
	assert_string_equal(buf_cstr(&out), "\"\"");
	buf_reset(&out);
	mime_imap_string(&out, "caf\xC3\xA9", 5);
	assert_string_equal(buf_cstr(&out), "{5}\r\ncaf\xC3\xA9");
	buf_reset(&out);
	mime_imap_string(&out, "a\r\nb", 4);
	assert_string_equal(buf_cstr(&out), "{4}\r\na\r\nb");
	buf_reset(&out);
	/* a literal cannot carry NUL: it becomes U+FFFD */
	mime_imap_string(&out, "a\0b", 3);
	assert_int_equal(out.len, strlen("{5}\r\n") + 5);
	assert_memory_equal(out.data,
	                    "{5}\r\na\xEF\xBF\xBD"
	                    "b",
	                    out.len);
	buf_reset(&out);
	mime_imap_nstring(&out, NULL);
	assert_string_equal(buf_cstr(&out), "NIL");
	buf_reset(&out);
	mime_imap_nstring(&out, "NIL");
	assert_string_equal(buf_cstr(&out), "\"NIL\"");
	buf_free(&out);
}

static void test_description_with_8bit_and_cr_is_sent_without_line_breaks(void **state)
{
	const char *msg = "MIME-Version: 1.0\r\nContent-Description: caf\xC3\xA9\rbar\r\n"
	                  "Content-ID: <a\"b>\r\n\r\n";
	struct mime_part *root;
	struct buf out = BUF_INIT;
	mime_parse(msg, strlen(msg), &root);
	mime_bodystructure(root, msg, false, &out);
	assert_string_equal(buf_cstr(&out),
	                    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") \"<a\\\"b>\" {9}\r\n"
	                    "caf\xC3\xA9 bar \"7BIT\" 0 0)");
	buf_free(&out);
	mime_part_free(&root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_fixture_has_its_hand_checked_bodystructure),
	        cmocka_unit_test(test_simple_text_message_matches_the_rfc_example_form),
	        cmocka_unit_test(test_content_fields_of_a_message_that_is_not_mime_are_ignored),
	        cmocka_unit_test(test_non_text_part_has_no_line_count_and_no_default_charset),
	        cmocka_unit_test(test_disposition_without_parameters_and_single_language),
	        cmocka_unit_test(test_opaque_part_at_the_depth_limit_is_application_octet_stream),
	        cmocka_unit_test(test_strings_are_quoted_escaped_or_literal),
	        cmocka_unit_test(test_description_with_8bit_and_cr_is_sent_without_line_breaks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
