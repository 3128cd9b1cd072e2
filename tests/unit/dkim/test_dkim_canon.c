/*
 * Unit tests for src/dkim/dkim_canon.c: the relaxed body and header
 * canonicalisations against RFC 6376 3.4.5's example and dkimpy's output, the
 * body machine fed split at every byte, the choice of signed fields (every
 * instance bottom-up, From over-signed, List-*, the per-name and total
 * limits), the DKIM-Signature field's folding, and selectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"

#define L(s) (s), sizeof(s) - 1

static void body(const char *in, size_t len, struct buf *out)
{
	struct dkim_body_canon c;
	dkim_body_canon_init(&c);
	dkim_body_canon_push(&c, in, len, out);
	dkim_body_canon_finish(&c, out);
}

static void assert_body(const char *in, size_t len, const char *want, size_t want_len)
{
	struct buf out = BUF_INIT;
	body(in, len, &out);
	assert_int_equal(out.len, want_len);
	assert_memory_equal(buf_cstr(&out), want, want_len);
	buf_free(&out);
}

/* ---- body ----------------------------------------------------------------------------- */

static void test_rfc6376_example_body(void **state)
{
	/* RFC 6376 3.4.5: " C \r\nD \t E\r\n\r\n\r\n" -> " C\r\nD E\r\n" */
	const char in[] = " C \r\nD \t E\r\n\r\n\r\n";
	assert_body(L(in), L(" C\r\nD E\r\n"));
}

static void test_body_matches_dkimpy(void **state)
{
	/* Pairs from dkimpy's Relaxed.canonicalize_body. */
	static const struct {
		const char *in, *out;
	} v[] = {
	        {"", ""},
	        {"\r\n", ""},
	        {"\r\n\r\n", ""},
	        {"abc", "abc\r\n"},
	        {"abc\r\n", "abc\r\n"},
	        {" \t a  b \t\r\n\r\n \r\nc", " a b\r\n\r\n\r\nc\r\n"},
	        {"a\rb\nc \r\n", "a\rb\nc\r\n"},
	        {"a\r", "a\r\r\n"},
	        {"x\r\n \r\n\t\r\n", "x\r\n"},
	        {"  \r\n", ""},
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		assert_body(v[i].in, strlen(v[i].in), v[i].out, strlen(v[i].out));
}

static void test_body_split_at_every_byte_gives_the_same_result(void **state)
{
	const char in[] = "Hi.  \t\r\n\r\n \r\nWe lost\t\tthe game.\r\r\n\rx\n \r\n\r\n\r\n";
	struct buf whole = BUF_INIT;
	body(L(in), &whole);
	for (size_t cut = 0; cut <= sizeof in - 1; cut++) {
		for (size_t cut2 = cut; cut2 <= sizeof in - 1; cut2++) {
			struct dkim_body_canon c;
			struct buf out = BUF_INIT;
			dkim_body_canon_init(&c);
			dkim_body_canon_push(&c, in, cut, &out);
			dkim_body_canon_push(&c, in + cut, cut2 - cut, &out);
			dkim_body_canon_push(&c, in + cut2, sizeof in - 1 - cut2, &out);
			dkim_body_canon_finish(&c, &out);
			assert_int_equal(out.len, whole.len);
			assert_memory_equal(out.data, whole.data, whole.len);
			buf_free(&out);
		}
	}
	buf_free(&whole);
}

/* ---- header fields ------------------------------------------------------------------- */

static void assert_field(const char *field, const char *want)
{
	struct buf out = BUF_INIT;
	dkim_canon_field(field, strlen(field), &out);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static void test_rfc6376_example_headers(void **state)
{
	/* RFC 6376 3.4.5: "A: X" and "B : Y\t\r\n\tZ  " -> "a:X", "b:Y Z" */
	assert_field("A: X", "a:X");
	assert_field("B : Y\t\r\n\tZ  ", "b:Y Z");
}

static void test_header_whitespace_and_case(void **state)
{
	assert_field("SUBJECT:   Is dinner   ready?  ", "subject:Is dinner ready?");
	assert_field("To:\r\n\tone@example.test,\r\n  two@example.test",
	             "to:one@example.test, two@example.test");
	assert_field("X-Empty:", "x-empty:");
	assert_field("X-Empty: \t ", "x-empty:");
	struct buf out = BUF_INIT;
	dkim_canon_header(L("Date"), L(" Fri, 11 Jul 2003"), true, &out);
	assert_string_equal(buf_cstr(&out), "date:Fri, 11 Jul 2003\r\n");
	buf_free(&out);
}

/* ---- the signed fields -------------------------------------------------------------- */

static void select_fields(const char *hdr, struct buf *hlist, struct buf *canon, size_t *n_r)
{
	*n_r = dkim_canon_select(hdr, strlen(hdr), hlist, canon);
}

static void test_every_instance_bottom_up_and_from_oversigned(void **state)
{
	const char hdr[] = "Received: from a by b\r\n"
	                   "From: Joe <joe@example.test>\r\n"
	                   "To: first@example.test\r\n"
	                   "Subject:  hi \r\n"
	                   "X-Mailer: not signed\r\n"
	                   "to: second@example.test\r\n"
	                   "List-Id: <l.example.test>\r\n"
	                   "list-unsubscribe: <mailto:u@example.test>\r\n"
	                   "List-ID: <again>\r\n"
	                   "\r\n";
	struct buf hl = BUF_INIT, canon = BUF_INIT;
	size_t n;
	select_fields(hdr, &hl, &canon, &n);
	assert_string_equal(buf_cstr(&hl),
	                    "from:from:to:to:subject:list-id:list-id:list-unsubscribe");
	assert_int_equal(n, 8);
	assert_string_equal(buf_cstr(&canon), "from:Joe <joe@example.test>\r\n"
	                                      "to:second@example.test\r\n"
	                                      "to:first@example.test\r\n"
	                                      "subject:hi\r\n"
	                                      "list-id:<again>\r\n"
	                                      "list-id:<l.example.test>\r\n"
	                                      "list-unsubscribe:<mailto:u@example.test>\r\n");
	buf_free(&hl);
	buf_free(&canon);
}

static void test_a_header_without_from_is_not_signed(void **state)
{
	struct buf hl = BUF_INIT, canon = BUF_INIT;
	size_t n;
	select_fields("To: a@example.test\r\nSubject: s\r\n\r\n", &hl, &canon, &n);
	assert_int_equal(n, 0);
	assert_int_equal(hl.len, 0);
	assert_int_equal(canon.len, 0);
	buf_free(&hl);
	buf_free(&canon);
}

static void test_instances_and_entries_are_limited(void **state)
{
	struct buf hdr = BUF_INIT, hl = BUF_INIT, canon = BUF_INIT;
	buf_puts(&hdr, "From: a@example.test\r\n");
	for (int i = 0; i < DKIM_MAX_INSTANCES + 5; i++)
		buf_printf(&hdr, "To: t%d@example.test\r\n", i);
	for (int i = 0; i < 100; i++)
		buf_printf(&hdr, "List-X%d: x\r\n", i);
	buf_puts(&hdr, "\r\n");
	size_t n = dkim_canon_select(hdr.data, hdr.len, &hl, &canon);
	assert_int_equal(n, DKIM_MAX_SIGNED_FIELDS);
	/* the last To fields are the ones signed, the last first */
	char want[64];
	snprintf(want, sizeof want, "to:t%d@example.test\r\n", DKIM_MAX_INSTANCES + 4);
	assert_non_null(strstr(buf_cstr(&canon), want));
	assert_null(strstr(buf_cstr(&canon), "to:t4@example.test\r\n"));
	size_t tos = 0;
	for (const char *p = buf_cstr(&hl); (p = strstr(p, ":to")); p++)
		tos++;
	assert_int_equal(tos, DKIM_MAX_INSTANCES);
	buf_free(&hdr);
	buf_free(&hl);
	buf_free(&canon);
}

/* ---- the DKIM-Signature field --------------------------------------------------------- */

static void test_signature_field_folds_and_ends_with_an_empty_b(void **state)
{
	struct buf hl = BUF_INIT;
	for (int i = 0; i < 20; i++)
		buf_printf(&hl, "%sx-field-number-%d", i ? ":" : "", i);
	struct dkim_sig sig = {"rsa-sha256",  "a-rather-long-domain-name.example.test",
	                       "rsa-202601",  1700000000,
	                       buf_cstr(&hl), "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="};
	struct buf f = BUF_INIT;
	dkim_sig_field(&sig, &f);
	assert_true(f.len > 2 && strcmp(f.data + f.len - 2, "b=") == 0);
	/* Unfolded and canonical, the h= value is the list, intact. */
	struct buf canon = BUF_INIT;
	dkim_canon_field(f.data, f.len, &canon);
	assert_non_null(strstr(buf_cstr(&canon), "; t=1700000000; "));
	char sig_b64[400];
	memset(sig_b64, 'A', sizeof sig_b64);
	dkim_sig_finish(&f, sig_b64, sizeof sig_b64);
	assert_true(strcmp(f.data + f.len - 2, "\r\n") == 0);
	/* Every line within DKIM_FOLD columns; continuation lines start with a tab. */
	size_t start = 0;
	for (size_t i = 0; i + 1 < f.len; i++) {
		if (f.data[i] == '\r' && f.data[i + 1] == '\n') {
			assert_true(i - start <= DKIM_FOLD);
			if (i + 2 < f.len)
				assert_int_equal(f.data[i + 2], '\t');
			start = i + 2;
		}
	}
	/* The h= list survives folding: remove FWS and compare. */
	struct buf flat = BUF_INIT;
	for (size_t i = 0; i < canon.len; i++)
		if (canon.data[i] != ' ')
			buf_putc(&flat, canon.data[i]);
	char *h = xasprintf("h=%s;", buf_cstr(&hl));
	assert_non_null(strstr(buf_cstr(&flat), h));
	free(h);
	buf_free(&flat);
	buf_free(&canon);
	buf_free(&f);
	buf_free(&hl);
}

static void test_selectors(void **state)
{
	assert_true(dkim_selector_valid("rsa-202601"));
	assert_true(dkim_selector_valid("a.b.c"));
	assert_true(dkim_selector_valid("S1"));
	assert_false(dkim_selector_valid(""));
	assert_false(dkim_selector_valid("-a"));
	assert_false(dkim_selector_valid("a-"));
	assert_false(dkim_selector_valid("a..b"));
	assert_false(dkim_selector_valid(".a"));
	assert_false(dkim_selector_valid("a."));
	assert_false(dkim_selector_valid("a_b"));
	assert_false(dkim_selector_valid("a b"));
	char long_sel[DKIM_MAX_SELECTOR + 2];
	memset(long_sel, 'a', sizeof long_sel);
	long_sel[DKIM_MAX_SELECTOR] = '\0';
	assert_true(dkim_selector_valid(long_sel));
	long_sel[DKIM_MAX_SELECTOR] = 'a';
	long_sel[DKIM_MAX_SELECTOR + 1] = '\0';
	assert_false(dkim_selector_valid(long_sel));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc6376_example_body),
	        cmocka_unit_test(test_body_matches_dkimpy),
	        cmocka_unit_test(test_body_split_at_every_byte_gives_the_same_result),
	        cmocka_unit_test(test_rfc6376_example_headers),
	        cmocka_unit_test(test_header_whitespace_and_case),
	        cmocka_unit_test(test_every_instance_bottom_up_and_from_oversigned),
	        cmocka_unit_test(test_a_header_without_from_is_not_signed),
	        cmocka_unit_test(test_instances_and_entries_are_limited),
	        cmocka_unit_test(test_signature_field_folds_and_ends_with_an_empty_b),
	        cmocka_unit_test(test_selectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
