/*
 * Unit tests for src/mime/mime_header.c, mime_parse.c and mime_param.c: header
 * blocks, the part tree and its offsets (every one checked by slicing the
 * message), section numbers, Content-* fields with RFC 2231, and the limits at
 * their edges. Fixtures are in tests/data/mime (tests run from the repo root).
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

/* ---- helpers --------------------------------------------------------------------- */

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

static size_t count_lf(const char *p, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

/* The invariants every tree must keep; returns the number of parts. */
static size_t check_tree(const struct mime_part *p, const char *msg, size_t len)
{
	size_t n = 1;
	assert_int_equal(p->header_offset + p->header_len, p->body_offset);
	assert_true(p->body_offset + p->body_len <= len);
	assert_int_equal(p->body_lines, count_lf(msg + p->body_offset, p->body_len));
	assert_true(p->depth <= MIME_MAX_DEPTH);
	if (p->parent) {
		assert_true(p->header_offset >= p->parent->body_offset);
		assert_true(p->body_offset + p->body_len <=
		            p->parent->body_offset + p->parent->body_len);
	}
	if (p->next)
		assert_true(p->next->header_offset >= p->body_offset + p->body_len);
	for (const struct mime_part *c = p->children; c; c = c->next)
		n += check_tree(c, msg, len);
	return n;
}

static void assert_slice(const char *msg, size_t off, size_t len, const char *want)
{
	assert_int_equal(len, strlen(want));
	assert_memory_equal(msg + off, want, len);
}

static const struct mime_part *child(const struct mime_part *p, size_t i)
{
	const struct mime_part *c = p->children;
	while (c && i-- > 0)
		c = c->next;
	assert_non_null(c);
	return c;
}

static struct mime_part *parse_str(const char *s)
{
	struct mime_part *root = NULL;
	assert_int_equal(mime_parse(s, strlen(s), &root), 0);
	assert_non_null(root);
	check_tree(root, s, strlen(s));
	return root;
}

/* ---- headers ------------------------------------------------------------------------ */

static void test_header_ends_at_the_first_empty_line_with_crlf_or_lf(void **state)
{
	assert_int_equal(mime_header_len("A: b\r\n\r\nbody", 12), 8);
	assert_int_equal(mime_header_len("A: b\n\nbody", 10), 6);
	assert_int_equal(mime_header_len("\r\nbody", 6), 2);
	assert_int_equal(mime_header_len("\nbody", 5), 1);
	assert_int_equal(mime_header_len("A: b", 4), 4);
	assert_int_equal(mime_header_len("", 0), 0);
	/* a line of blanks is a (obsolete) fold, not the end */
	assert_int_equal(mime_header_len("A: b\r\n \r\n\r\nx", 12), 11);
	/* a bare CR line is not empty */
	assert_int_equal(mime_header_len("A: b\r\r\n\r\nx", 10), 9);
}

static void test_header_fields_are_iterated_with_folding_and_junk_skipped(void **state)
{
	const char *h = "Subject: hello\r\n  world\r\n"
	                "junk line without colon\r\n"
	                "X-Empty:\r\n"
	                "Name With Space: no\r\n"
	                "To : a@b\r\n"
	                "\r\n"
	                "Body: not a field\r\n";
	size_t hl = mime_header_len(h, strlen(h));
	struct mime_header_iter it;
	struct mime_header_field f;
	struct buf v = BUF_INIT;
	mime_header_iter_init(&it, h, hl);

	assert_true(mime_header_next(&it, &f));
	assert_int_equal(f.name_len, 7);
	assert_memory_equal(f.name, "Subject", 7);
	assert_int_equal(f.value_len, strlen(" hello\r\n  world"));
	assert_memory_equal(f.value, " hello\r\n  world", f.value_len);
	assert_int_equal(f.offset, 0);
	assert_int_equal(f.len, strlen("Subject: hello\r\n  world\r\n"));
	mime_header_unfold(f.value, f.value_len, &v);
	assert_string_equal(buf_cstr(&v), "hello  world");

	assert_true(mime_header_next(&it, &f));
	assert_memory_equal(f.name, "X-Empty", 7);
	assert_int_equal(f.value_len, 0);

	assert_true(mime_header_next(&it, &f));
	assert_int_equal(f.name_len, 2);
	assert_memory_equal(f.name, "To", 2);
	assert_false(mime_header_next(&it, &f));

	buf_reset(&v);
	assert_true(mime_header_get(h, hl, "SUBJECT", &v));
	assert_string_equal(buf_cstr(&v), "hello  world");
	assert_false(mime_header_get(h, hl, "Body", &v));
	buf_free(&v);
}

static void test_unfolding_is_cut_at_the_field_limit(void **state)
{
	size_t n = MIME_MAX_HEADER_FIELD + 100;
	char *s = malloc(n);
	memset(s, 'x', n);
	struct buf v = BUF_INIT;
	mime_header_unfold(s, n, &v);
	assert_int_equal(v.len, MIME_MAX_HEADER_FIELD);
	buf_free(&v);
	free(s);
}

/* ---- the tree ---------------------------------------------------------------------- */

static void test_empty_message_is_one_empty_text_part(void **state)
{
	struct mime_part *root = NULL;
	assert_int_equal(mime_parse("", 0, &root), 0);
	assert_int_equal(root->kind, MIME_PART_LEAF);
	assert_int_equal(root->header_len, 0);
	assert_int_equal(root->body_len, 0);
	assert_string_equal(root->type, "text");
	assert_string_equal(root->subtype, "plain");
	assert_true(root->flags & MIME_PART_DEFAULT_TYPE);
	assert_true(root->flags & MIME_PART_IS_MESSAGE);
	assert_string_equal(mime_part_charset(root), "us-ascii");
	mime_part_free(&root);
	assert_null(root);
	mime_part_free(&root); /* twice is harmless */
}

static void test_header_without_body_is_all_header(void **state)
{
	size_t len;
	char *msg = load("header_only.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	check_tree(root, msg, len);
	assert_int_equal(root->header_len, len);
	assert_int_equal(root->body_offset, len);
	assert_int_equal(root->body_len, 0);
	mime_part_free(&root);
	free(msg);
}

static void test_simple_message_slices_into_header_and_body(void **state)
{
	size_t len;
	char *msg = load("simple.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	check_tree(root, msg, len);
	assert_int_equal(root->kind, MIME_PART_LEAF);
	assert_slice(msg, root->body_offset, root->body_len, "Shall we have lunch\r\nat noon?\r\n");
	assert_int_equal(root->body_lines, 2);
	assert_true(root->header_len > 4);
	assert_memory_equal(msg + root->body_offset - 4, "\r\n\r\n", 4);
	assert_null(root->encoding);
	mime_part_free(&root);
	free(msg);
}

static void test_alternative_parts_slice_exactly(void **state)
{
	size_t len;
	char *msg = load("alternative.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	check_tree(root, msg, len);
	assert_int_equal(root->kind, MIME_PART_MULTIPART);
	assert_string_equal(root->subtype, "alternative");
	assert_int_equal(root->nchildren, 2);
	const struct mime_part *a = child(root, 0), *b = child(root, 1);
	assert_slice(msg, a->header_offset, a->header_len,
	             "Content-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	assert_slice(msg, a->body_offset, a->body_len, "Caf=C3=A9 at ten?");
	assert_string_equal(a->encoding, "quoted-printable");
	assert_string_equal(mime_part_charset(a), "utf-8");
	assert_slice(msg, b->header_offset, b->header_len,
	             "Content-Type: text/html; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: 7bit\r\n\r\n");
	assert_slice(msg, b->body_offset, b->body_len, "<p>Caf&eacute; at ten?</p>");
	assert_false(root->flags & MIME_PART_NO_END);
	mime_part_free(&root);
	free(msg);
}

static void test_preamble_and_epilogue_belong_to_no_part(void **state)
{
	size_t len;
	char *msg = load("preamble_epilogue.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	check_tree(root, msg, len);
	assert_int_equal(root->nchildren, 2);
	const struct mime_part *a = child(root, 0), *b = child(root, 1);
	/* a part that starts with an empty line has an empty header */
	assert_slice(msg, a->header_offset, a->header_len, "\r\n");
	assert_slice(msg, a->body_offset, a->body_len,
	             "This is implicitly typed plain US-ASCII text.\r\n"
	             "It does NOT end with a linebreak.");
	assert_true(a->flags & MIME_PART_DEFAULT_TYPE);
	assert_slice(msg, b->body_offset, b->body_len,
	             "This is explicitly typed plain US-ASCII text.\r\n"
	             "It DOES end with a linebreak.\r\n");
	/* the preamble ends before the first delimiter, the epilogue follows the last */
	const char *pre = strstr(msg, "This is the preamble.");
	assert_true((size_t)(pre - msg) < a->header_offset);
	const char *epi = strstr(msg, "This is the epilogue.");
	assert_true((size_t)(epi - msg) > b->body_offset + b->body_len);
	mime_part_free(&root);
	free(msg);
}

static void test_missing_final_boundary_runs_the_last_part_to_the_end(void **state)
{
	size_t len;
	char *msg = load("missing_final_boundary.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	check_tree(root, msg, len);
	assert_true(root->flags & MIME_PART_NO_END);
	assert_int_equal(root->nchildren, 2);
	assert_slice(msg, child(root, 0)->body_offset, child(root, 0)->body_len, "first part");
	const struct mime_part *b = child(root, 1);
	assert_slice(msg, b->body_offset, b->body_len, "second part, never closed\r\n");
	assert_int_equal(b->body_offset + b->body_len, len);
	mime_part_free(&root);
	free(msg);
}

static void test_bare_lf_message_parses_like_a_crlf_one(void **state)
{
	size_t len;
	char *msg = load("bare_lf.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	check_tree(root, msg, len);
	assert_int_equal(root->nchildren, 2);
	assert_slice(msg, child(root, 0)->header_offset, child(root, 0)->header_len,
	             "Content-Type: text/plain\n\n");
	assert_slice(msg, child(root, 0)->body_offset, child(root, 0)->body_len, "plain");
	assert_slice(msg, child(root, 1)->body_offset, child(root, 1)->body_len, "<i>html</i>");
	mime_part_free(&root);
	free(msg);
}

static void test_message_rfc822_holds_the_embedded_message_and_its_parts(void **state)
{
	size_t len;
	char *msg = load("nested_rfc822.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	assert_int_equal(check_tree(root, msg, len), 6);
	const struct mime_part *fwd = child(root, 1);
	assert_int_equal(fwd->kind, MIME_PART_MESSAGE);
	assert_string_equal(fwd->disposition, "inline");
	const struct mime_part *m = mime_part_message(fwd);
	assert_non_null(m);
	assert_true(m->flags & MIME_PART_IS_MESSAGE);
	assert_int_equal(m->header_offset, fwd->body_offset);
	assert_int_equal(m->body_offset + m->body_len, fwd->body_offset + fwd->body_len);
	assert_memory_equal(msg + m->header_offset, "From: Grace", 11);
	assert_int_equal(m->kind, MIME_PART_MULTIPART);
	/* the embedded body ends with its close delimiter and the line end; the
	 * empty line before "--outer--" belongs to the outer delimiter */
	assert_memory_equal(msg + m->body_offset + m->body_len - 11, "--inner--\r\n", 11);

	assert_ptr_equal(mime_part_find(root, "1"), child(root, 0));
	assert_ptr_equal(mime_part_find(root, "2"), fwd);
	assert_ptr_equal(mime_part_find(root, "2.1"), child(m, 0));
	assert_ptr_equal(mime_part_find(root, "2.2"), child(m, 1));
	assert_null(mime_part_find(root, "2.3"));
	assert_null(mime_part_find(root, "1.1"));
	assert_null(mime_part_find(root, "3"));
	assert_null(mime_part_find(root, "2.1.1"));
	assert_slice(msg, child(m, 0)->body_offset, child(m, 0)->body_len, "Voil=E0.");
	assert_null(mime_part_message(child(root, 0)));
	mime_part_free(&root);
	free(msg);
}

static void test_section_numbers_of_a_single_part_message(void **state)
{
	struct mime_part *root = parse_str("Subject: x\r\n\r\nbody\r\n");
	assert_ptr_equal(mime_part_find(root, ""), root);
	assert_ptr_equal(mime_part_find(root, "1"), root);
	assert_null(mime_part_find(root, "2"));
	assert_null(mime_part_find(root, "1.1"));
	assert_null(mime_part_find(root, "0"));
	assert_null(mime_part_find(root, "01"));
	assert_null(mime_part_find(root, "1."));
	assert_null(mime_part_find(root, ".1"));
	assert_null(mime_part_find(root, "1x"));
	assert_null(mime_part_find(root, "99999999999999999999999"));
	mime_part_free(&root);
}

static void test_message_rfc822_of_a_single_part_message_is_part_one(void **state)
{
	struct mime_part *root = parse_str("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
	                                   "--x\r\nContent-Type: message/rfc822\r\n\r\n"
	                                   "Subject: inner\r\n\r\ninner body\r\n"
	                                   "--x--\r\n");
	const struct mime_part *p = mime_part_find(root, "1");
	assert_int_equal(p->kind, MIME_PART_MESSAGE);
	const struct mime_part *m = mime_part_message(p);
	assert_int_equal(m->kind, MIME_PART_LEAF);
	/* 1.1 is the embedded message's only part: its body */
	assert_ptr_equal(mime_part_find(root, "1.1"), m);
	assert_null(mime_part_find(root, "1.2"));
	mime_part_free(&root);
}

static void test_rfc2231_parameters_are_joined_and_decoded(void **state)
{
	size_t len;
	char *msg = load("mixed_attachment.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	check_tree(root, msg, len);
	assert_int_equal(root->nlanguages, 1);
	assert_string_equal(root->languages[0], "en");
	const struct mime_part *att = mime_part_find(root, "2");
	assert_string_equal(att->type, "application");
	assert_string_equal(att->subtype, "pdf");
	assert_int_equal(att->nparams, 1);
	assert_string_equal(att->params[0].name, "name*");
	assert_string_equal(att->params[0].value, "\xE2\x82\xAC rapport annuel.pdf");
	assert_string_equal(mime_part_param(att, "NAME"), "\xE2\x82\xAC rapport annuel.pdf");
	assert_string_equal(att->disposition, "attachment");
	assert_string_equal(mime_part_disp_param(att, "filename"),
	                    "\xE2\x82\xAC rapport annuel.pdf");
	assert_string_equal(mime_part_disp_param(att, "size"), "42");
	assert_null(mime_part_disp_param(att, "creation-date"));
	assert_string_equal(att->id, "<part2@example.net>");
	assert_string_equal(att->description, "Annual report");
	assert_string_equal(att->md5, "Q2hlY2sgSW50ZWdyaXR5IQ==");
	assert_string_equal(att->location, "http://example.net/report.pdf");
	assert_string_equal(att->encoding, "base64");
	assert_int_equal(att->nlanguages, 2);
	assert_string_equal(att->languages[1], "en-GB");
	mime_part_free(&root);
	free(msg);
}

static void test_rfc2231_forms_and_odd_parameters(void **state)
{
	struct mime_part *root = parse_str(
	        "Content-Type: text/plain; CharSet=\"ISO-8859-1\" (comment); "
	        "a*=iso-8859-1'fr'caf%E9;"
	        " b*0=one; b*1=\" two\"; c*1=lost; d*0*=''x%41; d*2=gap; e=un quoted value;"
	        " f=\"unclosed\r\n\r\nbody");
	assert_string_equal(mime_part_charset(root), "ISO-8859-1");
	assert_string_equal(mime_part_param(root, "a"), "caf\xC3\xA9");
	assert_string_equal(mime_part_param(root, "b"), "one two");
	/* a continuation without its section 0 is dropped, and so is one after a gap */
	assert_null(mime_part_param(root, "c"));
	assert_string_equal(mime_part_param(root, "d"), "xA");
	assert_string_equal(mime_part_param(root, "e"), "un quoted value");
	assert_string_equal(mime_part_param(root, "f"), "unclosed");
	mime_part_free(&root);
}

static void test_parameters_beyond_the_limit_are_ignored(void **state)
{
	struct buf m = BUF_INIT;
	buf_puts(&m, "Content-Type: text/plain");
	for (int i = 0; i < MIME_MAX_PARAMS + 5; i++)
		buf_printf(&m, "; p%d=%d", i, i);
	buf_puts(&m, "\r\n\r\nx");
	struct mime_part *root = parse_str(buf_cstr(&m));
	assert_int_equal(root->nparams, MIME_MAX_PARAMS);
	assert_string_equal(mime_part_param(root, "p63"), "63");
	assert_null(mime_part_param(root, "p64"));
	mime_part_free(&root);
	buf_free(&m);
}

static void test_digest_parts_default_to_message_rfc822(void **state)
{
	size_t len;
	char *msg = load("digest.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	check_tree(root, msg, len);
	const struct mime_part *a = child(root, 0), *b = child(root, 1);
	assert_int_equal(a->kind, MIME_PART_MESSAGE);
	assert_string_equal(a->type, "message");
	assert_true(a->flags & MIME_PART_DEFAULT_TYPE);
	assert_int_equal(b->kind, MIME_PART_LEAF);
	assert_string_equal(b->type, "text");
	mime_part_free(&root);
	free(msg);
}

static void test_garbage_and_nuls_parse_without_harm(void **state)
{
	size_t len;
	char *msg = load("garbage.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	check_tree(root, msg, len);
	mime_part_free(&root);
	free(msg);

	static const char nul[] =
	        "Content-Description: a\0b\r\nContent-Type: text/plain\0x\r\n\r\nz";
	mime_parse(nul, sizeof(nul) - 1, &root);
	check_tree(root, nul, sizeof(nul) - 1);
	assert_string_equal(root->description, "a\xEF\xBF\xBD"
	                                       "b");
	mime_part_free(&root);
}

static void test_every_prefix_of_every_fixture_parses_with_sound_offsets(void **state)
{
	static const char *const files[] = {"simple.eml",
	                                    "alternative.eml",
	                                    "mixed_attachment.eml",
	                                    "nested_rfc822.eml",
	                                    "missing_final_boundary.eml",
	                                    "preamble_epilogue.eml",
	                                    "bare_lf.eml",
	                                    "header_only.eml",
	                                    "garbage.eml",
	                                    "headers_8bit.eml",
	                                    "addresses.eml",
	                                    "quoting.eml",
	                                    "digest.eml",
	                                    "boundary_prefix.eml",
	                                    "invalid_type.eml"};
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		size_t len;
		char *msg = load(files[f], &len);
		for (size_t cut = 0; cut <= len; cut++) {
			char *copy = malloc(cut ? cut : 1);
			memcpy(copy, msg, cut);
			struct mime_part *root;
			mime_parse(copy, cut, &root);
			check_tree(root, copy, cut);
			assert_int_equal(root->body_offset + root->body_len, cut);
			mime_part_free(&root);
			free(copy);
		}
		free(msg);
	}
}

/* ---- invalid structure ---------------------------------------------------------------- */

static void test_multipart_without_boundary_is_text_plain(void **state)
{
	size_t len;
	char *msg = load("no_boundary.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	assert_int_equal(root->kind, MIME_PART_LEAF);
	assert_string_equal(root->type, "text");
	assert_string_equal(root->subtype, "plain");
	assert_true(root->flags & MIME_PART_DEFAULT_TYPE);
	assert_int_equal(root->nparams, 0);
	mime_part_free(&root);
	free(msg);
}

static void test_invalid_content_types_default_to_text_plain(void **state)
{
	size_t len;
	char *msg = load("invalid_type.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	check_tree(root, msg, len);
	assert_string_equal(child(root, 0)->subtype, "plain");
	assert_true(child(root, 0)->flags & MIME_PART_DEFAULT_TYPE);
	assert_string_equal(child(root, 1)->type, "text");
	assert_string_equal(child(root, 2)->type, "image");
	assert_string_equal(child(root, 2)->subtype, "png");
	assert_string_equal(mime_part_param(child(root, 2), "name"), "dot.png");
	assert_string_equal(child(root, 2)->encoding, "base64");
	mime_part_free(&root);
	free(msg);
}

static void test_encoded_message_part_is_an_opaque_leaf(void **state)
{
	size_t len;
	char *msg = load("rfc822_base64.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	const struct mime_part *p = child(root, 0);
	assert_int_equal(p->kind, MIME_PART_LEAF);
	assert_true(p->flags & MIME_PART_OPAQUE);
	assert_string_equal(p->type, "application");
	assert_string_equal(p->subtype, "octet-stream");
	mime_part_free(&root);
	free(msg);
}

static void test_a_boundary_that_prefixes_a_line_is_not_a_delimiter(void **state)
{
	size_t len;
	char *msg = load("boundary_prefix.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	check_tree(root, msg, len);
	assert_int_equal(root->nchildren, 2);
	const struct mime_part *inner = child(root, 0);
	assert_int_equal(inner->kind, MIME_PART_MULTIPART);
	assert_int_equal(inner->nchildren, 2);
	assert_slice(msg, child(inner, 0)->body_offset, child(inner, 0)->body_len,
	             "inner one\r\n--b-not-a-delimiter");
	assert_slice(msg, child(root, 1)->body_offset, child(root, 1)->body_len, "outer two");
	mime_part_free(&root);
	free(msg);
}

static void test_empty_multipart_has_no_children(void **state)
{
	size_t len;
	char *msg = load("empty_multipart.eml", &len);
	struct mime_part *root;
	mime_parse(msg, len, &root);
	assert_int_equal(root->kind, MIME_PART_MULTIPART);
	assert_int_equal(root->nchildren, 0);
	assert_true(root->flags & MIME_PART_NO_END);
	assert_null(mime_part_find(root, "1"));
	mime_part_free(&root);
	free(msg);
}

/* ---- limits ------------------------------------------------------------------------------ */

/* depth nested multiparts around one text part */
static char *nested_multiparts(int depth)
{
	struct buf m = BUF_INIT;
	for (int i = 0; i < depth; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i,
		           i);
	buf_puts(&m, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	for (int i = depth - 1; i >= 0; i--)
		buf_printf(&m, "--b%d--\r\n", i);
	buf_reserve(&m, 0);
	return buf_steal(&m);
}

static void test_depth_limit_nests_fully_at_the_edge_and_not_one_more(void **state)
{
	char *msg = nested_multiparts(MIME_MAX_DEPTH);
	struct mime_part *root = parse_str(msg);
	const struct mime_part *p = root;
	while (p->children)
		p = p->children;
	assert_int_equal(p->depth, MIME_MAX_DEPTH);
	assert_string_equal(p->type, "text");
	assert_false(p->flags & MIME_PART_OPAQUE);
	mime_part_free(&root);
	free(msg);

	msg = nested_multiparts(MIME_MAX_DEPTH + 1);
	root = parse_str(msg);
	p = root;
	while (p->children)
		p = p->children;
	assert_int_equal(p->depth, MIME_MAX_DEPTH);
	assert_true(p->flags & MIME_PART_OPAQUE);
	assert_int_equal(p->kind, MIME_PART_LEAF);
	assert_string_equal(p->type, "application");
	assert_string_equal(p->subtype, "octet-stream");
	assert_string_equal(mime_part_param(p, "boundary"), "b32");
	/* the opaque part holds everything the inner structure would have */
	assert_non_null(memmem(msg + p->body_offset, p->body_len, "deep", 4));
	mime_part_free(&root);
	free(msg);
}

static void test_message_rfc822_nesting_counts_toward_the_depth_limit(void **state)
{
	struct buf m = BUF_INIT;
	for (int i = 0; i <= MIME_MAX_DEPTH; i++)
		buf_puts(&m, "Content-Type: message/rfc822\r\n\r\n");
	buf_puts(&m, "Subject: innermost\r\n\r\nx");
	struct mime_part *root = parse_str(buf_cstr(&m));
	const struct mime_part *p = root;
	int levels = 0;
	while (p->children) {
		p = p->children;
		levels++;
	}
	assert_int_equal(levels, MIME_MAX_DEPTH);
	assert_true(p->flags & MIME_PART_OPAQUE);
	mime_part_free(&root);
	buf_free(&m);
}

static char *many_parts(size_t n)
{
	struct buf m = BUF_INIT;
	buf_puts(&m, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (size_t i = 0; i < n; i++)
		buf_puts(&m, "--p\r\n\r\nx\r\n");
	buf_puts(&m, "--p--\r\n");
	buf_reserve(&m, 0);
	return buf_steal(&m);
}

static void test_parts_limit_allows_exactly_the_maximum(void **state)
{
	char *msg = many_parts(MIME_MAX_PARTS - 1);
	struct mime_part *root = parse_str(msg);
	assert_int_equal(root->kind, MIME_PART_MULTIPART);
	assert_int_equal(root->nchildren, MIME_MAX_PARTS - 1);
	assert_int_equal(check_tree(root, msg, strlen(msg)), MIME_MAX_PARTS);
	char sec[16];
	snprintf(sec, sizeof(sec), "%d", MIME_MAX_PARTS - 1);
	assert_non_null(mime_part_find(root, sec));
	mime_part_free(&root);
	free(msg);

	msg = many_parts(MIME_MAX_PARTS);
	root = parse_str(msg);
	assert_int_equal(root->kind, MIME_PART_LEAF);
	assert_true(root->flags & MIME_PART_OPAQUE);
	assert_int_equal(root->nchildren, 0);
	mime_part_free(&root);
	free(msg);
}

static void test_boundary_of_70_characters_works_and_71_makes_text(void **state)
{
	char b[MIME_MAX_BOUNDARY + 2];
	memset(b, 'B', sizeof(b));
	for (int extra = 0; extra <= 1; extra++) {
		b[MIME_MAX_BOUNDARY + extra] = '\0';
		char *msg = xasprintf("Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
		                      "--%s\r\n\r\nhello\r\n--%s--\r\n",
		                      b, b, b);
		struct mime_part *root = parse_str(msg);
		if (extra == 0) {
			assert_int_equal(root->kind, MIME_PART_MULTIPART);
			assert_int_equal(root->nchildren, 1);
		} else {
			assert_int_equal(root->kind, MIME_PART_LEAF);
			assert_string_equal(root->type, "text");
			assert_true(root->flags & MIME_PART_DEFAULT_TYPE);
		}
		mime_part_free(&root);
		free(msg);
		memset(b, 'B', sizeof(b));
	}
}

static void test_header_field_longer_than_the_limit_is_cut(void **state)
{
	struct buf m = BUF_INIT;
	buf_puts(&m, "Content-Description: ");
	for (size_t i = 0; i < MIME_MAX_HEADER_FIELD + 10; i++)
		buf_putc(&m, (char)('a' + i % 26));
	buf_puts(&m, "\r\nContent-Type: text/html\r\n\r\nbody");
	struct mime_part *root = parse_str(buf_cstr(&m));
	assert_int_equal(strlen(root->description), MIME_MAX_HEADER_FIELD);
	assert_string_equal(root->subtype, "html");
	mime_part_free(&root);
	buf_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_header_ends_at_the_first_empty_line_with_crlf_or_lf),
	        cmocka_unit_test(test_header_fields_are_iterated_with_folding_and_junk_skipped),
	        cmocka_unit_test(test_unfolding_is_cut_at_the_field_limit),
	        cmocka_unit_test(test_empty_message_is_one_empty_text_part),
	        cmocka_unit_test(test_header_without_body_is_all_header),
	        cmocka_unit_test(test_simple_message_slices_into_header_and_body),
	        cmocka_unit_test(test_alternative_parts_slice_exactly),
	        cmocka_unit_test(test_preamble_and_epilogue_belong_to_no_part),
	        cmocka_unit_test(test_missing_final_boundary_runs_the_last_part_to_the_end),
	        cmocka_unit_test(test_bare_lf_message_parses_like_a_crlf_one),
	        cmocka_unit_test(test_message_rfc822_holds_the_embedded_message_and_its_parts),
	        cmocka_unit_test(test_section_numbers_of_a_single_part_message),
	        cmocka_unit_test(test_message_rfc822_of_a_single_part_message_is_part_one),
	        cmocka_unit_test(test_rfc2231_parameters_are_joined_and_decoded),
	        cmocka_unit_test(test_rfc2231_forms_and_odd_parameters),
	        cmocka_unit_test(test_parameters_beyond_the_limit_are_ignored),
	        cmocka_unit_test(test_digest_parts_default_to_message_rfc822),
	        cmocka_unit_test(test_garbage_and_nuls_parse_without_harm),
	        cmocka_unit_test(test_every_prefix_of_every_fixture_parses_with_sound_offsets),
	        cmocka_unit_test(test_multipart_without_boundary_is_text_plain),
	        cmocka_unit_test(test_invalid_content_types_default_to_text_plain),
	        cmocka_unit_test(test_encoded_message_part_is_an_opaque_leaf),
	        cmocka_unit_test(test_a_boundary_that_prefixes_a_line_is_not_a_delimiter),
	        cmocka_unit_test(test_empty_multipart_has_no_children),
	        cmocka_unit_test(test_depth_limit_nests_fully_at_the_edge_and_not_one_more),
	        cmocka_unit_test(test_message_rfc822_nesting_counts_toward_the_depth_limit),
	        cmocka_unit_test(test_parts_limit_allows_exactly_the_maximum),
	        cmocka_unit_test(test_boundary_of_70_characters_works_and_71_makes_text),
	        cmocka_unit_test(test_header_field_longer_than_the_limit_is_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
