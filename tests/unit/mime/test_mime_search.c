/*
 * Unit tests for src/mime/mime_search.c: the pieces of text SEARCH BODY and
 * TEXT look into, and the header / body texts the full-text index keeps.
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

/* The index texts of a message given as a C string. */
struct texts {
	struct buf header, body;
};

static void extract(const char *msg, size_t len, struct texts *t)
{
	struct mime_part *root = NULL;
	mime_parse(msg, len, &root);
	t->header = (struct buf)BUF_INIT;
	t->body = (struct buf)BUF_INIT;
	mime_search_text(root, msg, &t->header, &t->body);
	mime_part_free(&root);
}

static void texts_free(struct texts *t)
{
	buf_free(&t->header);
	buf_free(&t->body);
}

static bool has(const struct buf *b, const char *needle)
{
	return b->len && memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

/* Collects the pieces of a walk, one string each. */
struct pieces {
	char *v[64];
	size_t n;
	size_t stop_at; /* stop after this many (0: never) */
};

static bool collect(const char *text, size_t len, void *arg)
{
	struct pieces *p = arg;
	assert_true(p->n < 64);
	assert_true(utf8_valid(text, len));
	assert_null(memchr(text, '\0', len));
	p->v[p->n++] = xstrndup(text, len);
	return p->stop_at && p->n == p->stop_at;
}

static void pieces_free(struct pieces *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
}

static void test_header_words_are_decoded_and_kept_apart_from_the_body(void **state)
{
	const char *msg = "Subject: =?UTF-8?B?R3LDvMOfZQ==?= aus Wien\r\n"
	                  "From: =?ISO-8859-1?Q?J=F6rg?= <j@example.test>\r\n"
	                  "\r\n"
	                  "Hello, world.\r\n";
	struct texts t;
	extract(msg, strlen(msg), &t);
	assert_true(has(&t.header, "Subject: Grüße aus Wien"));
	assert_true(has(&t.header, "From: Jörg <j@example.test>"));
	assert_false(has(&t.header, "Hello"));
	assert_string_equal(buf_cstr(&t.body), "Hello, world.\r\n");
	texts_free(&t);
}

static void test_text_parts_are_decoded_and_converted(void **state)
{
	const char *msg = "MIME-Version: 1.0\r\n"
	                  "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
	                  "\r\n"
	                  "--b\r\n"
	                  "Content-Type: text/plain; charset=iso-8859-1\r\n"
	                  "Content-Transfer-Encoding: quoted-printable\r\n"
	                  "\r\n"
	                  "Gr=FC=DFe, caf=E9 cr=E8me=\r\n"
	                  " br=FBl=E9e\r\n"
	                  "--b\r\n"
	                  "Content-Type: text/plain; charset=koi8-r\r\n"
	                  "Content-Transfer-Encoding: base64\r\n"
	                  "\r\n"
	                  "8NLJ18XULCDNydI=\r\n" /* "Привет, мир" in KOI8-R */
	                  "--b\r\n"
	                  "Content-Type: text/plain; charset=shift_jis\r\n"
	                  "Content-Transfer-Encoding: base64\r\n"
	                  "\r\n"
	                  "k/qWe4zq\r\n" /* "日本語" in Shift_JIS */
	                  "--b--\r\n";
	struct texts t;
	extract(msg, strlen(msg), &t);
	assert_true(has(&t.body, "Grüße, café crème brûlée"));
	assert_true(has(&t.body, "Привет, мир"));
	assert_true(has(&t.body, "日本語"));
	/* the parts' own headers belong to the body */
	assert_true(has(&t.body, "charset=koi8-r"));
	assert_false(has(&t.header, "koi8"));
	texts_free(&t);
}

static void test_html_is_kept_with_its_tags(void **state)
{
	const char *msg = "Content-Type: multipart/alternative; boundary=x\r\n"
	                  "MIME-Version: 1.0\r\n"
	                  "\r\n"
	                  "--x\r\n"
	                  "Content-Type: text/plain\r\n"
	                  "\r\n"
	                  "plain words\r\n"
	                  "--x\r\n"
	                  "Content-Type: text/html; charset=utf-8\r\n"
	                  "Content-Transfer-Encoding: base64\r\n"
	                  "\r\n"
	                  "PHA+PGI+Ym9sZDwvYj4gd29yZHM8L3A+\r\n" /* <p><b>bold</b> words</p> */
	                  "--x--\r\n";
	struct texts t;
	extract(msg, strlen(msg), &t);
	assert_true(has(&t.body, "plain words"));
	assert_true(has(&t.body, "<p><b>bold</b> words</p>"));
	texts_free(&t);
}

static void test_only_text_leaves_are_searched_but_every_header_is(void **state)
{
	const char *msg =
	        "MIME-Version: 1.0\r\n"
	        "Content-Type: multipart/mixed; boundary=\"B\"\r\n"
	        "\r\n"
	        "--B\r\n"
	        "Content-Type: text/plain\r\n"
	        "\r\n"
	        "see attachment\r\n"
	        "--B\r\n"
	        "Content-Type: application/octet-stream; name=\"quarterly-report.bin\"\r\n"
	        "Content-Transfer-Encoding: base64\r\n"
	        "\r\n"
	        "c2VjcmV0IHdvcmRz\r\n" /* "secret words" */
	        "--B--\r\n";
	struct texts t;
	extract(msg, strlen(msg), &t);
	assert_true(has(&t.body, "see attachment"));
	assert_true(has(&t.body, "quarterly-report.bin"));
	assert_false(has(&t.body, "secret words"));
	assert_false(has(&t.body, "c2VjcmV0"));
	texts_free(&t);
}

static void test_embedded_messages_are_searched_through(void **state)
{
	size_t len;
	char *msg = load("nested_rfc822.eml", &len);
	struct mime_part *root = NULL;
	mime_parse(msg, len, &root);
	struct texts t = {BUF_INIT, BUF_INIT};
	mime_search_text(root, msg, &t.header, &t.body);
	/* every leaf of type text is in the body, decoded */
	struct pieces p = {0};
	mime_search_walk(root, msg, false, collect, &p);
	assert_true(p.n >= 3);
	for (size_t i = 0; i < p.n; i++)
		assert_true(has(&t.body, p.v[i]));
	pieces_free(&p);
	mime_part_free(&root);
	texts_free(&t);
	free(msg);
}

static void test_walk_gives_the_header_first_only_for_text(void **state)
{
	const char *msg = "Subject: s\r\n\r\nbody\r\n";
	struct mime_part *root = NULL;
	mime_parse(msg, strlen(msg), &root);
	struct pieces with = {0}, without = {0};
	assert_false(mime_search_walk(root, msg, true, collect, &with));
	assert_false(mime_search_walk(root, msg, false, collect, &without));
	assert_int_equal(with.n, 2);
	assert_string_equal(with.v[0], "Subject: s\r\n\r\n");
	assert_string_equal(with.v[1], "body\r\n");
	assert_int_equal(without.n, 1);
	assert_string_equal(without.v[0], "body\r\n");
	pieces_free(&with);
	pieces_free(&without);
	mime_part_free(&root);
}

static void test_walk_stops_when_asked(void **state)
{
	size_t len;
	char *msg = load("alternative.eml", &len);
	struct mime_part *root = NULL;
	mime_parse(msg, len, &root);
	struct pieces all = {0}, two = {.stop_at = 2};
	assert_false(mime_search_walk(root, msg, true, collect, &all));
	assert_true(all.n > 2);
	assert_true(mime_search_walk(root, msg, true, collect, &two));
	assert_int_equal(two.n, 2);
	pieces_free(&all);
	pieces_free(&two);
	mime_part_free(&root);
	free(msg);
}

/* Over every fixture: each piece of the walk is inside the index texts (the
   index never lacks what the matcher looks into), and they are valid UTF-8. */
static void test_every_piece_is_in_the_index_texts(void **state)
{
	static const char *const files[] = {"addresses.eml",
	                                    "alternative.eml",
	                                    "bare_lf.eml",
	                                    "boundary_prefix.eml",
	                                    "digest.eml",
	                                    "empty.eml",
	                                    "empty_multipart.eml",
	                                    "garbage.eml",
	                                    "header_only.eml",
	                                    "headers_8bit.eml",
	                                    "invalid_type.eml",
	                                    "long_boundary.eml",
	                                    "missing_final_boundary.eml",
	                                    "mixed_attachment.eml",
	                                    "nested_rfc822.eml",
	                                    "no_boundary.eml",
	                                    "preamble_epilogue.eml",
	                                    "quoting.eml",
	                                    "rfc822_base64.eml",
	                                    "simple.eml"};
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len;
		char *msg = load(files[f], &len);
		struct mime_part *root = NULL;
		mime_parse(msg, len, &root);
		struct texts t = {BUF_INIT, BUF_INIT};
		mime_search_text(root, msg, &t.header, &t.body);
		assert_true(utf8_valid(t.header.data ? t.header.data : "", t.header.len));
		assert_true(utf8_valid(t.body.data ? t.body.data : "", t.body.len));
		struct pieces p = {0};
		mime_search_walk(root, msg, true, collect, &p);
		for (size_t i = 0; i < p.n; i++) {
			bool in = !*p.v[i] ||
			          (i == 0 && strcmp(p.v[i], buf_cstr(&t.header)) == 0) ||
			          (i > 0 && has(&t.body, p.v[i]));
			if (!in)
				fail_msg("%s: piece %zu is not in the index texts", files[f], i);
		}
		pieces_free(&p);
		mime_part_free(&root);
		texts_free(&t);
		free(msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_header_words_are_decoded_and_kept_apart_from_the_body),
	        cmocka_unit_test(test_text_parts_are_decoded_and_converted),
	        cmocka_unit_test(test_html_is_kept_with_its_tags),
	        cmocka_unit_test(test_only_text_leaves_are_searched_but_every_header_is),
	        cmocka_unit_test(test_embedded_messages_are_searched_through),
	        cmocka_unit_test(test_walk_gives_the_header_first_only_for_text),
	        cmocka_unit_test(test_walk_stops_when_asked),
	        cmocka_unit_test(test_every_piece_is_in_the_index_texts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
