// fuzz-sources: src/dkim/dkim_canon.c src/mime/mime_header.c
// fuzz-sources: src/core/mem.c src/core/buf.c src/core/str.c
// fuzz-libs:
/*
 * fuzz_dkim_canon — DKIM's relaxed canonicalisation over an arbitrary message.
 *
 * The first byte chooses where the body is cut in two; the body is
 * canonicalised whole and in the two pieces. The header's signed fields are
 * chosen and a DKIM-Signature field is built with their h= list. Checked: no
 * crash, leak or sanitizer report; the body's result does not depend on the
 * cut, is empty or ends with one CRLF that is not an empty line, and has no
 * whitespace run, no whitespace before a CRLF and no tab; the signed fields
 * are as many as h= has entries, at most DKIM_MAX_SIGNED_FIELDS, each
 * canonical field is one line "name:value" with a lower-case name and single
 * spaces; the DKIM-Signature field's lines fit DKIM_FOLD columns and end with
 * CRLF.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"
#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_dkim_canon: %s\n", what);
		abort();
	}
}

static void check_body(const struct buf *b)
{
	if (b->len == 0)
		return;
	check(b->len >= 2 && b->data[b->len - 2] == '\r' && b->data[b->len - 1] == '\n',
	      "body does not end with CRLF");
	check(b->len < 4 || memcmp(b->data + b->len - 4, "\r\n\r\n", 4) != 0,
	      "body ends with an empty line");
	for (size_t i = 0; i < b->len; i++) {
		check(b->data[i] != '\t', "tab in the body");
		if (b->data[i] == ' ' && i + 1 < b->len) {
			check(b->data[i + 1] != ' ', "whitespace run in the body");
			check(!(b->data[i + 1] == '\r' && i + 2 < b->len && b->data[i + 2] == '\n'),
			      "whitespace before CRLF");
		}
	}
}

static void check_fields(const struct buf *canon, size_t n)
{
	size_t lines = 0, start = 0;
	for (size_t i = 0; i + 1 < canon->len; i++) {
		if (canon->data[i] != '\r' || canon->data[i + 1] != '\n')
			continue;
		const char *line = canon->data + start;
		size_t len = i - start;
		const char *colon = memchr(line, ':', len);
		check(colon != NULL, "canonical field without colon");
		for (const char *p = line; p < colon; p++)
			check(!(*p >= 'A' && *p <= 'Z') && *p != ' ' && *p != '\t',
			      "name not lower-case");
		for (const char *p = colon + 1; p < line + len; p++) {
			check(*p != '\t' && *p != '\n', "tab or LF in a canonical value");
			if (*p == ' ')
				check(p + 1 < line + len && p[1] != ' ' && p > colon + 1,
				      "whitespace at the edge or in a run");
		}
		lines++;
		start = i + 2;
		i++;
	}
	check(start == canon->len, "canonical fields do not end with CRLF");
	check(lines <= n, "more canonical fields than h= entries");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *msg = (const char *)data + 1;
	size_t len = size - 1;
	size_t hlen = mime_header_len(msg, len);
	const char *b = msg + hlen;
	size_t blen = len - hlen;
	size_t cut = blen ? data[0] % (blen + 1) : 0;

	struct buf whole = BUF_INIT, split = BUF_INIT;
	struct dkim_body_canon c;
	dkim_body_canon_init(&c);
	dkim_body_canon_push(&c, b, blen, &whole);
	dkim_body_canon_finish(&c, &whole);
	dkim_body_canon_init(&c);
	dkim_body_canon_push(&c, b, cut, &split);
	dkim_body_canon_push(&c, b + cut, blen - cut, &split);
	dkim_body_canon_finish(&c, &split);
	check(whole.len == split.len &&
	              (whole.len == 0 || !memcmp(whole.data, split.data, whole.len)),
	      "body result depends on the cut");
	check_body(&whole);

	struct buf hl = BUF_INIT, canon = BUF_INIT;
	size_t n = dkim_canon_select(msg, hlen, &hl, &canon);
	check(n <= DKIM_MAX_SIGNED_FIELDS, "too many signed fields");
	size_t entries = hl.len ? 1 : 0;
	for (size_t i = 0; i < hl.len; i++)
		entries += hl.data[i] == ':';
	check(entries == n, "h= entries differ from the count");
	check((n == 0) == (hl.len == 0 && canon.len == 0), "output without entries");
	check_fields(&canon, n);

	if (n) {
		struct dkim_sig sig = {"ed25519-sha256",
		                       "example.test",
		                       "sel",
		                       1700000000,
		                       buf_cstr(&hl),
		                       "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="};
		struct buf f = BUF_INIT, fc = BUF_INIT;
		dkim_sig_field(&sig, &f);
		dkim_canon_field(f.data, f.len, &fc);
		dkim_sig_finish(&f, "QUJD", 4);
		size_t start = 0;
		for (size_t i = 0; i + 1 < f.len; i++)
			if (f.data[i] == '\r' && f.data[i + 1] == '\n') {
				check(i - start <= DKIM_FOLD, "signature line too long");
				start = i + 2;
			}
		check(start == f.len, "signature field does not end with CRLF");
		buf_free(&f);
		buf_free(&fc);
	}
	buf_free(&whole);
	buf_free(&split);
	buf_free(&hl);
	buf_free(&canon);
	return 0;
}
