/*
 * Unit tests for src/mime/mime_build.c: the structure of built messages (read
 * back with petrel's own MIME parser), header encodings, body encodings, line
 * lengths, and the refusal of anything that could inject a header.
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

#define DATE 1700000000 /* Tue, 14 Nov 2023 22:13:20 +0000 */

static struct mime_build base(void)
{
	static const struct mime_build_address to[] = {{"Bob", "bob@example.test"}};
	return (struct mime_build){
	        .from = {"Alice Example", "alice@example.test"},
	        .to = to,
	        .nto = 1,
	        .subject = "Hello",
	        .text = "Hi Bob\n",
	        .message_id = "<abc123@mail.example.test>",
	        .date = DATE,
	        .boundary = "Q7x9",
	};
}

static char *build_ok(const struct mime_build *m)
{
	struct buf out = BUF_INIT, field = BUF_INIT, err = BUF_INIT;
	if (mime_build_message(m, &out, &field, &err) != 0)
		fail_msg("build failed: %s: %s", buf_cstr(&field), buf_cstr(&err));
	buf_free(&field);
	buf_free(&err);
	return buf_steal(&out);
}

static void build_fails(const struct mime_build *m, const char *field, const char *reason_part)
{
	struct buf out = BUF_INIT, f = BUF_INIT, err = BUF_INIT;
	assert_int_equal(mime_build_message(m, &out, &f, &err), -1);
	assert_string_equal(buf_cstr(&f), field);
	if (reason_part && !strstr(buf_cstr(&err), reason_part))
		fail_msg("reason '%s' lacks '%s'", buf_cstr(&err), reason_part);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	buf_free(&f);
	buf_free(&err);
}

/* Every line ends in CRLF, is at most 998 octets, and there is no bare CR or LF. */
static void assert_lines_ok(const char *msg, size_t max)
{
	size_t line = 0;
	for (const char *p = msg; *p; p++) {
		if (*p == '\r') {
			assert_int_equal(p[1], '\n');
			p++;
			line = 0;
			continue;
		}
		assert_int_not_equal(*p, '\n');
		line++;
		if (line > max)
			fail_msg("line longer than %zu octets near: %.60s", max, p - 60);
	}
	assert_int_equal(line, 0); /* ends with CRLF */
}

static char *header_of(const char *msg, const char *name)
{
	struct buf v = BUF_INIT;
	if (!mime_header_get(msg, mime_header_len(msg, strlen(msg)), name, &v))
		return NULL;
	return buf_steal(&v);
}

static char *decoded_header(const char *msg, const char *name)
{
	char *raw = header_of(msg, name);
	assert_non_null(raw);
	struct buf out = BUF_INIT;
	mime_decode_header(raw, strlen(raw), &out);
	free(raw);
	return buf_steal(&out);
}

static char *part_text(const struct mime_part *p, const char *msg)
{
	struct buf out = BUF_INIT;
	mime_part_text(p, msg, &out);
	return buf_steal(&out);
}

static void assert_type(const struct mime_part *p, const char *type, const char *subtype)
{
	assert_non_null(p);
	assert_string_equal(p->type, type);
	assert_string_equal(p->subtype, subtype);
}

/* ---- structure ------------------------------------------------------------------ */

static void test_text_only_is_one_7bit_part_with_every_header(void **state)
{
	struct mime_build m = base();
	char *msg = build_ok(&m);
	assert_lines_ok(msg, 78);
	assert_non_null(strstr(msg, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
	assert_non_null(strstr(msg, "From: Alice Example <alice@example.test>\r\n"));
	assert_non_null(strstr(msg, "To: Bob <bob@example.test>\r\n"));
	assert_non_null(strstr(msg, "Subject: Hello\r\n"));
	assert_non_null(strstr(msg, "Message-ID: <abc123@mail.example.test>\r\n"));
	assert_non_null(strstr(msg, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(msg, "Content-Type: text/plain; charset=utf-8\r\n"
	                            "Content-Transfer-Encoding: 7bit\r\n\r\nHi Bob\r\n"));
	free(msg);
}

static void test_text_and_html_make_multipart_alternative(void **state)
{
	struct mime_build m = base();
	m.html = "<p>Hi Bob</p>";
	char *msg = build_ok(&m);
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	assert_type(root, "multipart", "alternative");
	assert_int_equal(root->nchildren, 2);
	assert_type(root->children, "text", "plain");
	assert_type(root->children->next, "text", "html");
	char *t = part_text(root->children->next, msg);
	assert_string_equal(t, "<p>Hi Bob</p>");
	free(t);
	mime_part_free(&root);
	free(msg);
}

static void test_inline_and_attachment_make_mixed_related_alternative(void **state)
{
	struct mime_build m = base();
	m.html = "<img src=\"cid:logo\">";
	static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0, 1, 2, 0xff};
	struct mime_build_part parts[] = {
	        {"logo.png", "image/png", "logo", png, sizeof png},
	        {"report.pdf", "application/pdf", NULL, "%PDF-1.4", 8},
	};
	m.parts = parts;
	m.nparts = 2;
	char *msg = build_ok(&m);
	assert_lines_ok(msg, 78);
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	assert_type(root, "multipart", "mixed");
	assert_int_equal(root->nchildren, 2);
	const struct mime_part *related = root->children;
	assert_type(related, "multipart", "related");
	assert_int_equal(related->nchildren, 2);
	assert_type(related->children, "multipart", "alternative");
	const struct mime_part *img = related->children->next;
	assert_type(img, "image", "png");
	assert_string_equal(img->id, "<logo>");
	assert_string_equal(img->disposition, "inline");
	assert_string_equal(mime_part_disp_param(img, "filename"), "logo.png");
	struct buf raw = BUF_INIT;
	mime_part_decode_body(img, msg, &raw);
	assert_int_equal(raw.len, sizeof png);
	assert_memory_equal(raw.data, png, sizeof png);
	buf_free(&raw);
	const struct mime_part *pdf = related->next;
	assert_type(pdf, "application", "pdf");
	assert_string_equal(pdf->disposition, "attachment");
	assert_string_equal(pdf->encoding, "base64");
	mime_part_free(&root);
	free(msg);
}

static void test_inline_part_without_html_is_an_inline_attachment(void **state)
{
	struct mime_build m = base();
	struct mime_build_part parts[] = {{"a.txt", "text/plain", "a1", "x", 1}};
	m.parts = parts;
	m.nparts = 1;
	char *msg = build_ok(&m);
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	assert_type(root, "multipart", "mixed");
	assert_string_equal(root->children->next->disposition, "inline");
	mime_part_free(&root);
	free(msg);
}

static void test_attachment_alone_is_the_whole_body(void **state)
{
	struct mime_build m = base();
	m.text = NULL;
	struct mime_build_part parts[] = {{"a.bin", NULL, NULL, "abc", 3}};
	m.parts = parts;
	m.nparts = 1;
	char *msg = build_ok(&m);
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	assert_type(root, "application", "octet-stream");
	assert_string_equal(root->disposition, "attachment");
	mime_part_free(&root);
	free(msg);
}

static void test_no_body_at_all_is_an_empty_text(void **state)
{
	struct mime_build m = base();
	m.text = NULL;
	char *msg = build_ok(&m);
	assert_non_null(strstr(msg, "Content-Type: text/plain; charset=utf-8\r\n"));
	free(msg);
}

static void test_boundaries_are_distinct_per_level_and_never_in_bodies(void **state)
{
	struct mime_build m = base();
	/* text that names the boundary the builder will use */
	m.text = "--=_Q7x9_a\n--=_Q7x9_m--\n";
	m.html = "<p>x</p>";
	struct mime_build_part parts[] = {{"a.bin", NULL, NULL, "--=_Q7x9_m", 10}};
	m.parts = parts;
	m.nparts = 1;
	char *msg = build_ok(&m);
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	assert_type(root, "multipart", "mixed");
	assert_int_equal(root->nchildren, 2);
	assert_type(root->children, "multipart", "alternative");
	assert_int_equal(root->children->nchildren, 2);
	assert_string_equal(root->children->children->encoding, "quoted-printable");
	char *t = part_text(root->children->children, msg);
	assert_string_equal(t, "--=_Q7x9_a\r\n--=_Q7x9_m--\r\n");
	free(t);
	mime_part_free(&root);
	free(msg);
}

/* ---- headers ------------------------------------------------------------------------- */

static void test_utf8_subject_becomes_encoded_words_that_decode_back(void **state)
{
	struct mime_build m = base();
	m.subject =
	        "Grüße aus Köln — 日本語のテキストを含む長い件名がここにありますので折り返されます";
	char *msg = build_ok(&m);
	assert_lines_ok(msg, 998);
	char *raw = header_of(msg, "Subject");
	assert_non_null(strstr(raw, "=?UTF-8?B?"));
	free(raw);
	char *dec = decoded_header(msg, "Subject");
	assert_string_equal(dec, m.subject);
	free(dec);
	/* every encoded word is at most 75 characters (RFC 2047 2) */
	for (const char *p = strstr(msg, "=?UTF-8?B?"); p; p = strstr(p + 1, "=?UTF-8?B?"))
		assert_true(strstr(p, "?=") + 2 - p <= 75);
	free(msg);
}

static void test_long_ascii_subject_is_folded_and_unfolds_to_itself(void **state)
{
	struct mime_build m = base();
	m.subject = "A subject that is long enough to need folding because it goes on and on "
	            "well past the seventy-eight columns that a header line should keep to";
	char *msg = build_ok(&m);
	assert_lines_ok(msg, 78);
	char *v = header_of(msg, "Subject");
	assert_string_equal(v, m.subject);
	free(v);
	free(msg);
}

static void test_unbreakable_ascii_subject_stays_within_998(void **state)
{
	struct mime_build m = base();
	char *s = xmalloc(3001);
	memset(s, 'x', 3000);
	s[3000] = '\0';
	m.subject = s;
	char *msg = build_ok(&m);
	assert_lines_ok(msg, 998);
	char *dec = decoded_header(msg, "Subject");
	assert_string_equal(dec, s);
	free(dec);
	free(msg);
	free(s);
}

static void test_text_that_looks_encoded_is_encoded(void **state)
{
	struct mime_build m = base();
	m.subject = "=?UTF-8?B?SGk=?=";
	char *msg = build_ok(&m);
	char *dec = decoded_header(msg, "Subject");
	assert_string_equal(dec, "=?UTF-8?B?SGk=?=");
	free(dec);
	free(msg);
}

static void test_display_names_are_atoms_quoted_or_encoded(void **state)
{
	struct mime_build m = base();
	static const struct mime_build_address to[] = {
	        {"Plain Name", "a@example.test"},
	        {"Doe, \"J\" \\ Jr.", "b@example.test"},
	        {"Zoë Ünicode", "c@example.test"},
	        {NULL, "d@example.test"},
	};
	m.to = to;
	m.nto = 4;
	char *msg = build_ok(&m);
	assert_lines_ok(msg, 78);
	char *v = header_of(msg, "To");
	assert_non_null(strstr(v, "Plain Name <a@example.test>,"));
	assert_non_null(strstr(v, "\"Doe, \\\"J\\\" \\\\ Jr.\" <b@example.test>,"));
	assert_non_null(strstr(v, "=?UTF-8?B?"));
	assert_non_null(strstr(v, "d@example.test"));
	struct mime_address *list = NULL;
	size_t n = 0;
	mime_address_parse(v, strlen(v), &list, &n);
	assert_int_equal(n, 4);
	assert_string_equal(list[1].name, "Doe, \"J\" \\ Jr.");
	assert_string_equal(list[2].mailbox, "c");
	struct buf name = BUF_INIT;
	mime_decode_header(list[2].name, strlen(list[2].name), &name);
	assert_string_equal(buf_cstr(&name), "Zoë Ünicode");
	buf_free(&name);
	mime_address_free(&list, n);
	free(v);
	free(msg);
}

static void test_many_recipients_fold_between_addresses(void **state)
{
	struct mime_build m = base();
	struct mime_build_address to[40];
	char names[40][32];
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof names[i], "user%02d@example.test", i);
		to[i] = (struct mime_build_address){NULL, names[i]};
	}
	m.to = to;
	m.nto = 40;
	m.cc = to;
	m.ncc = 3;
	char *msg = build_ok(&m);
	assert_lines_ok(msg, 78);
	char *v = header_of(msg, "To");
	struct mime_address *list = NULL;
	size_t n = 0;
	mime_address_parse(v, strlen(v), &list, &n);
	assert_int_equal(n, 40);
	assert_string_equal(list[39].mailbox, "user39");
	mime_address_free(&list, n);
	free(v);
	assert_non_null(strstr(msg, "\r\nCc: user00@example.test, user01@example.test,"));
	free(msg);
}

static void test_extra_headers_are_written_and_encoded(void **state)
{
	struct mime_build m = base();
	struct mime_build_header h[] = {{"X-Campaign", "spring"}, {"X-Note", "naïve"}};
	m.headers = h;
	m.nheaders = 2;
	char *msg = build_ok(&m);
	assert_non_null(strstr(msg, "\r\nX-Campaign: spring\r\n"));
	char *dec = decoded_header(msg, "X-Note");
	assert_string_equal(dec, "naïve");
	free(dec);
	free(msg);
}

static void test_reply_to_is_written(void **state)
{
	struct mime_build m = base();
	static const struct mime_build_address rt[] = {{NULL, "replies@example.test"}};
	m.reply_to = rt;
	m.nreply_to = 1;
	char *msg = build_ok(&m);
	assert_non_null(strstr(msg, "\r\nReply-To: replies@example.test\r\n"));
	free(msg);
}

/* ---- file names ------------------------------------------------------------------------ */

static void test_non_ascii_file_name_uses_rfc2231(void **state)
{
	struct mime_build m = base();
	struct mime_build_part parts[] = {
	        {"Überweisung März €.pdf", "application/pdf", NULL, "x", 1}};
	m.parts = parts;
	m.nparts = 1;
	char *msg = build_ok(&m);
	assert_lines_ok(msg, 78);
	assert_non_null(
	        strstr(msg, "filename*=utf-8''%C3%9Cberweisung%20M%C3%A4rz%20%E2%82%AC.pdf"));
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	const struct mime_part *pdf = root->children->next;
	assert_string_equal(mime_part_disp_param(pdf, "filename"), "Überweisung März €.pdf");
	mime_part_free(&root);
	free(msg);
}

static void test_long_file_name_is_split_into_rfc2231_sections(void **state)
{
	struct mime_build m = base();
	const char *name = "a very long file name that goes on and on — with a dash — and more "
	                   "words until it needs several sections.txt";
	struct mime_build_part parts[] = {{name, "text/plain", NULL, "x", 1}};
	m.parts = parts;
	m.nparts = 1;
	char *msg = build_ok(&m);
	assert_lines_ok(msg, 78);
	assert_non_null(strstr(msg, "filename*0*=utf-8''"));
	assert_non_null(strstr(msg, "filename*1*="));
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	assert_string_equal(mime_part_disp_param(root->children->next, "filename"), name);
	mime_part_free(&root);
	free(msg);
}

static void test_ascii_file_name_is_quoted_with_escapes(void **state)
{
	struct mime_build m = base();
	struct mime_build_part parts[] = {
	        {"my \"q\" file.txt", "text/plain; charset=us-ascii", NULL, "x", 1}};
	m.parts = parts;
	m.nparts = 1;
	char *msg = build_ok(&m);
	assert_non_null(strstr(msg, "filename=\"my \\\"q\\\" file.txt\""));
	assert_non_null(strstr(msg, "Content-Type: text/plain;\r\n charset=us-ascii;\r\n name="));
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	assert_string_equal(mime_part_disp_param(root->children->next, "filename"),
	                    "my \"q\" file.txt");
	assert_string_equal(mime_part_param(root->children->next, "charset"), "us-ascii");
	mime_part_free(&root);
	free(msg);
}

/* ---- body encodings --------------------------------------------------------------------- */

static void test_mostly_ascii_utf8_text_is_quoted_printable(void **state)
{
	struct mime_build m = base();
	m.text = "Grüße,\nthe meeting is at 10:00 = ten o'clock.   \n";
	char *msg = build_ok(&m);
	assert_non_null(strstr(msg, "Content-Transfer-Encoding: quoted-printable\r\n"));
	assert_non_null(strstr(msg, "Gr=C3=BC=C3=9Fe,\r\n"));
	assert_non_null(strstr(msg, "=3D ten o'clock.  =20\r\n")); /* trailing blank escaped */
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	char *t = part_text(root, msg);
	assert_string_equal(t, "Grüße,\r\nthe meeting is at 10:00 = ten o'clock.   \r\n");
	free(t);
	mime_part_free(&root);
	free(msg);
}

static void test_mostly_non_ascii_text_is_base64(void **state)
{
	struct mime_build m = base();
	m.text = "日本語のテキストです。これはテストです。";
	char *msg = build_ok(&m);
	assert_non_null(strstr(msg, "Content-Transfer-Encoding: base64\r\n"));
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	char *t = part_text(root, msg);
	assert_string_equal(t, m.text);
	free(t);
	mime_part_free(&root);
	free(msg);
}

static void test_long_lines_are_encoded_within_76(void **state)
{
	struct mime_build m = base();
	char *s = xmalloc(5001);
	for (int i = 0; i < 5000; i++)
		s[i] = (char)('a' + i % 26);
	s[5000] = '\0';
	m.text = s;
	char *msg = build_ok(&m);
	assert_lines_ok(msg, 78);
	assert_non_null(strstr(msg, "Content-Transfer-Encoding: quoted-printable\r\n"));
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	char *t = part_text(root, msg);
	assert_string_equal(t, s);
	free(t);
	mime_part_free(&root);
	free(msg);
	free(s);
}

static void test_line_ends_become_crlf(void **state)
{
	struct mime_build m = base();
	m.text = "one\rtwo\nthree\r\nfour";
	char *msg = build_ok(&m);
	assert_non_null(strstr(msg, "\r\n\r\none\r\ntwo\r\nthree\r\nfour\r\n"));
	free(msg);
}

/* Escapes at every place of a line, blanks before line ends and a last line
   without one: the soft breaks keep every line within 76 and it decodes back. */
static void test_quoted_printable_with_many_escapes_keeps_lines_and_decodes_back(void **state)
{
	struct mime_build m = base();
	struct buf in = BUF_INIT;
	for (int i = 0; i < 4000; i++) {
		buf_putc(&in, i % 9 == 0 ? '=' : i % 13 == 0 ? ' ' : (char)('a' + i % 26));
		if (i % 1500 == 1499)
			buf_puts(&in, " \t\n");
	}
	buf_puts(&in, "\xc3\xa9t\xc3\xa9 ");
	m.text = buf_cstr(&in);
	char *msg = build_ok(&m);
	assert_lines_ok(msg, 76);
	assert_non_null(strstr(msg, "Content-Transfer-Encoding: quoted-printable\r\n"));
	struct mime_part *root;
	mime_parse(msg, strlen(msg), &root);
	char *t = part_text(root, msg);
	struct buf want = BUF_INIT;
	for (const char *c = m.text; *c; c++)
		buf_puts(&want, *c == '\n' ? "\r\n" : (char[]){*c, 0});
	assert_string_equal(t, buf_cstr(&want));
	free(t);
	mime_part_free(&root);
	free(msg);
	buf_free(&want);
	buf_free(&in);
}

static void test_a_build_appends_to_out_and_a_failed_one_leaves_it_as_it_was(void **state)
{
	struct mime_build m = base();
	struct buf out = BUF_INIT, field = BUF_INIT, err = BUF_INIT;
	buf_puts(&out, "Return-Path: <a@b>\r\n");
	assert_int_equal(mime_build_message(&m, &out, &field, &err), 0);
	char *alone = build_ok(&m);
	assert_true(strncmp(out.data, "Return-Path: <a@b>\r\n", 20) == 0);
	assert_string_equal(out.data + 20, alone);
	free(alone);
	buf_reset(&out);
	buf_puts(&out, "kept");
	static const struct mime_build_address bad[] = {{"Bob", "bob@example.test"},
	                                                {NULL, "not an address"}};
	m.to = bad;
	m.nto = 2;
	assert_int_equal(mime_build_message(&m, &out, &field, &err), -1);
	assert_string_equal(buf_cstr(&field), "to[1]");
	assert_int_equal(out.len, 4);
	assert_string_equal(buf_cstr(&out), "kept");
	buf_free(&out);
	buf_free(&field);
	buf_free(&err);
}

/* ---- refusals ------------------------------------------------------------------------ */

static void test_crlf_anywhere_in_a_header_is_refused_with_its_field(void **state)
{
	struct mime_build m = base();
	m.subject = "Hi\r\nBcc: victim@example.net";
	build_fails(&m, "subject", "CR or LF");

	m = base();
	static const struct mime_build_address to[] = {{"ok", "a@example.test"},
	                                               {"Eve\nBcc: x@y", "b@example.test"}};
	m.to = to;
	m.nto = 2;
	build_fails(&m, "to[1]", "CR or LF");

	m = base();
	static const struct mime_build_address cc[] = {{NULL, "a@example.test\r\nX: y"}};
	m.cc = cc;
	m.ncc = 1;
	build_fails(&m, "cc[0]", "CR or LF");

	m = base();
	m.from.name = "Alice\r";
	build_fails(&m, "from", "CR or LF");

	m = base();
	struct mime_build_header h[] = {{"X-Ok", "fine"}, {"X-Bad", "v\r\nInjected: 1"}};
	m.headers = h;
	m.nheaders = 2;
	build_fails(&m, "headers.X-Bad", "CR or LF");

	m = base();
	struct mime_build_header hn[] = {{"X-Bad\r\nInjected", "v"}};
	m.headers = hn;
	m.nheaders = 1;
	build_fails(&m, "headers", "CR or LF");

	m = base();
	struct mime_build_part p1[] = {{"a\r\n.txt", NULL, NULL, "x", 1}};
	m.parts = p1;
	m.nparts = 1;
	build_fails(&m, "attachments[0].filename", "CR or LF");

	m = base();
	struct mime_build_part p2[] = {{"a.txt", NULL, NULL, "x", 1},
	                               {"b.txt", "text/plain\r\nX: y", NULL, "x", 1}};
	m.parts = p2;
	m.nparts = 2;
	build_fails(&m, "attachments[1].content_type", "CR or LF");

	m = base();
	struct mime_build_part p3[] = {{"a.txt", NULL, "id\n1", "x", 1}};
	m.parts = p3;
	m.nparts = 1;
	build_fails(&m, "attachments[0].content_id", "CR or LF");
}

static void test_other_bad_fields_are_refused(void **state)
{
	struct mime_build m = base();
	struct mime_build_header h[] = {{"Subject", "again"}};
	m.headers = h;
	m.nheaders = 1;
	build_fails(&m, "headers.Subject", "set by the server");

	m = base();
	struct mime_build_header h2[] = {{"X Space", "v"}};
	m.headers = h2;
	m.nheaders = 1;
	build_fails(&m, "headers.X Space", "header name");

	m = base();
	m.subject = "tab\tis fine but bell\a is not";
	build_fails(&m, "subject", "control character");

	m = base();
	m.subject = "\xff\xfe";
	build_fails(&m, "subject", "UTF-8");

	m = base();
	static const struct mime_build_address to[] = {{NULL, "no-at-sign"}};
	m.to = to;
	build_fails(&m, "to[0]", "not an address");

	m = base();
	struct mime_build_part p[] = {{"m.eml", "message/rfc822", NULL, "x", 1}};
	m.parts = p;
	m.nparts = 1;
	build_fails(&m, "attachments[0].content_type", "multipart or message");

	m = base();
	struct mime_build_part p2[] = {{"x", "notatype", NULL, "x", 1}};
	m.parts = p2;
	m.nparts = 1;
	build_fails(&m, "attachments[0].content_type", "media type");

	m = base();
	struct mime_build_part p3[] = {{"x", NULL, "a b", "x", 1}};
	m.parts = p3;
	m.nparts = 1;
	build_fails(&m, "attachments[0].content_id", NULL);

	m = base();
	m.message_id = "no-brackets@x";
	build_fails(&m, "message_id", NULL);

	m = base();
	m.boundary = "with space";
	build_fails(&m, "boundary", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_text_only_is_one_7bit_part_with_every_header),
	        cmocka_unit_test(test_text_and_html_make_multipart_alternative),
	        cmocka_unit_test(test_inline_and_attachment_make_mixed_related_alternative),
	        cmocka_unit_test(test_inline_part_without_html_is_an_inline_attachment),
	        cmocka_unit_test(test_attachment_alone_is_the_whole_body),
	        cmocka_unit_test(test_no_body_at_all_is_an_empty_text),
	        cmocka_unit_test(test_boundaries_are_distinct_per_level_and_never_in_bodies),
	        cmocka_unit_test(test_utf8_subject_becomes_encoded_words_that_decode_back),
	        cmocka_unit_test(test_long_ascii_subject_is_folded_and_unfolds_to_itself),
	        cmocka_unit_test(test_unbreakable_ascii_subject_stays_within_998),
	        cmocka_unit_test(test_text_that_looks_encoded_is_encoded),
	        cmocka_unit_test(test_display_names_are_atoms_quoted_or_encoded),
	        cmocka_unit_test(test_many_recipients_fold_between_addresses),
	        cmocka_unit_test(test_extra_headers_are_written_and_encoded),
	        cmocka_unit_test(test_reply_to_is_written),
	        cmocka_unit_test(test_non_ascii_file_name_uses_rfc2231),
	        cmocka_unit_test(test_long_file_name_is_split_into_rfc2231_sections),
	        cmocka_unit_test(test_ascii_file_name_is_quoted_with_escapes),
	        cmocka_unit_test(test_mostly_ascii_utf8_text_is_quoted_printable),
	        cmocka_unit_test(test_mostly_non_ascii_text_is_base64),
	        cmocka_unit_test(test_long_lines_are_encoded_within_76),
	        cmocka_unit_test(test_line_ends_become_crlf),
	        cmocka_unit_test(
	                test_quoted_printable_with_many_escapes_keeps_lines_and_decodes_back),
	        cmocka_unit_test(test_a_build_appends_to_out_and_a_failed_one_leaves_it_as_it_was),
	        cmocka_unit_test(test_crlf_anywhere_in_a_header_is_refused_with_its_field),
	        cmocka_unit_test(test_other_bad_fields_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
