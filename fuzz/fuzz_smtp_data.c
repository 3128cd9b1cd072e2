// fuzz-sources: src/smtp/smtp_parse.c src/core/mem.c src/core/buf.c src/core/str.c src/core/codec.c
// fuzz-libs:
/*
 * fuzz_smtp_data — the DATA reader over arbitrary bytes.
 *
 * Input layout: byte 0 is the size limit (0 = none, else 1..255 bytes, small
 * so that the limit is reached often); byte 1 says how many of the following
 * bytes (0..15) are piece sizes (1..256 each, used in turn); the rest is the
 * stream after "354".
 *
 * Checked: the reader gives the same result fed all at once, in the chosen
 * pieces, and one byte at a time; consumed <= len; the buffered message never
 * exceeds the limit; an end of data is exactly "<CRLF>.<CRLF>" (or ".<CRLF>" at
 * the start); and, against a line-by-line reference that knows only CRLF lines,
 * the same end, the same message and no bare CR/LF when the reference saw none,
 * a bare CR/LF reported when it did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_smtp_data: %s\n", what);
		abort();
	}
}

struct result {
	enum smtp_data_status st;
	size_t consumed;
	struct buf out;
	struct smtp_data_reader r;
};

/* Feeds msg in pieces of sizes[i % nsizes] (all at once when nsizes == 0). */
static void feed(const char *msg, size_t len, uint64_t max, const size_t *sizes, size_t nsizes,
                 struct result *res)
{
	smtp_data_init(&res->r, max);
	buf_init(&res->out);
	res->st = SMTP_DATA_MORE;
	res->consumed = 0;
	size_t pos = 0, k = 0;
	do {
		size_t piece = nsizes ? sizes[k++ % nsizes] : len - pos;
		if (piece > len - pos)
			piece = len - pos;
		size_t used = (size_t)-1;
		res->st = smtp_data_feed(&res->r, msg + pos, piece, &used, &res->out);
		check(used <= piece, "consumed more than given");
		check(res->st == SMTP_DATA_DONE || used == piece, "stopped early without the end");
		if (res->r.max > 0)
			check(res->out.len <= res->r.max, "buffered over the limit");
		res->consumed += used;
		pos += piece;
	} while (res->st == SMTP_DATA_MORE && pos < len);
}

static void check_same(const struct result *a, const struct result *b)
{
	check(a->st == b->st, "status depends on the pieces");
	check(a->consumed == b->consumed, "consumed depends on the pieces");
	check(str_eq(str_buf(&a->out), str_buf(&b->out)), "message depends on the pieces");
	check(a->r.size == b->r.size, "size depends on the pieces");
	check(a->r.too_big == b->r.too_big && a->r.bare_crlf == b->r.bare_crlf &&
	              a->r.has_8bit == b->r.has_8bit && a->r.has_nul == b->r.has_nul,
	      "flags depend on the pieces");
}

/*
 * The reference: CRLF-terminated lines only. Returns 1 at the end of data
 * (*end_r after it), 0 when more is needed, -1 at the first bare CR or LF.
 */
static int reference(const char *msg, size_t len, struct buf *out, size_t *end_r)
{
	size_t pos = 0;
	for (;;) {
		size_t i = pos;
		while (i < len && msg[i] != '\r' && msg[i] != '\n')
			i++;
		if (i == len)
			return 0;
		if (msg[i] == '\n')
			return -1;
		if (i + 1 == len)
			return 0;
		if (msg[i + 1] != '\n')
			return -1;
		const char *line = msg + pos;
		size_t n = i - pos;
		if (n == 1 && line[0] == '.') {
			*end_r = i + 2;
			return 1;
		}
		if (n > 0 && line[0] == '.') {
			line++;
			n--;
		}
		buf_append(out, line, n);
		buf_append(out, "\r\n", 2);
		pos = i + 2;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint64_t max = data[0];
	size_t nsizes = data[1] % 16;
	if (size < 2 + nsizes)
		return 0;
	size_t sizes[16];
	for (size_t i = 0; i < nsizes; i++)
		sizes[i] = (size_t)data[2 + i] + 1;
	const char *msg = (const char *)data + 2 + nsizes;
	size_t len = size - 2 - nsizes;

	struct result whole, pieces, bytes;
	size_t one = 1;
	feed(msg, len, max, NULL, 0, &whole);
	feed(msg, len, max, sizes, nsizes, &pieces);
	feed(msg, len, max, &one, 1, &bytes);
	check_same(&whole, &pieces);
	check_same(&whole, &bytes);

	const struct result *w = &whole;
	check(w->consumed <= len, "consumed past the input");
	if (w->st == SMTP_DATA_MORE)
		check(w->consumed == len, "more wanted with input left");
	if (w->st == SMTP_DATA_DONE) {
		size_t c = w->consumed;
		check(c >= 3 && memcmp(msg + c - 3, ".\r\n", 3) == 0, "ended without .CRLF");
		check(c == 3 || (c >= 5 && memcmp(msg + c - 5, "\r\n", 2) == 0),
		      "ended without CRLF before the dot");
	}
	if (!w->r.too_big)
		check(w->out.len == w->r.size, "size and message disagree");
	else
		check(max > 0 && w->r.size > max, "too big under the limit");

	struct buf ref = BUF_INIT;
	size_t ref_end = 0;
	int rs = reference(msg, len, &ref, &ref_end);
	if (rs < 0) {
		check(w->r.bare_crlf, "a bare CR or LF went unnoticed");
	} else {
		check(!w->r.bare_crlf, "a bare CR or LF where there is none");
		check(w->r.size >= ref.len, "message shorter than the reference");
		size_t cmp = ref.len;
		if (w->r.too_big)
			cmp = w->out.len < cmp ? w->out.len : cmp;
		check(w->out.len >= cmp && (cmp == 0 || memcmp(w->out.data, ref.data, cmp) == 0),
		      "message differs from the reference");
		if (rs == 1) {
			check(w->st == SMTP_DATA_DONE && w->consumed == ref_end,
			      "end of data differs from the reference");
			check(w->r.size == ref.len, "message size differs from the reference");
		} else {
			check(w->st == SMTP_DATA_MORE, "ended where the reference did not");
		}
	}
	buf_free(&ref);
	buf_free(&whole.out);
	buf_free(&pieces.out);
	buf_free(&bytes.out);
	return 0;
}
