// fuzz-sources: src/smtp/smtp_reply.c src/core/mem.c src/core/buf.c src/core/str.c
// fuzz-libs:
/*
 * fuzz_smtp_reply — what a remote SMTP server may send to the outbound client.
 *
 * The first byte chooses where the input is cut in two; both pieces are fed in
 * turn, reply after reply, to one parser, as the client does when a read brings
 * part of a reply. Checked: no crash, leak or sanitizer report; progress (each
 * call consumes bytes or asks for more only when everything was consumed); a
 * reason exactly on failure; every reply has a code 200..599, at most
 * SMTP_REPLY_MAX_LINES lines and SMTP_REPLY_MAX_TEXT bytes of text, an enhanced
 * code of the reply's class; the formatted reply is one printable line within
 * its limit; the EHLO reading and xtext encoding never fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_smtp_reply: %s\n", what);
		abort();
	}
}

static void check_reply(const struct smtp_reply *r)
{
	check(r->code >= 200 && r->code <= 599, "code out of range");
	check(r->nlines >= 1 && r->nlines <= SMTP_REPLY_MAX_LINES, "line count");
	check(r->text.len <= SMTP_REPLY_MAX_TEXT, "text too long");
	if (r->enhanced[0])
		check(r->enhanced[0] == '0' + r->code / 100 && r->enhanced[1] == '.',
		      "enhanced code of another class");
	struct buf f = BUF_INIT;
	smtp_reply_format(r, &f);
	check(f.len <= 3 + 1 + sizeof r->enhanced + SMTP_REPLY_MAX_FORMAT, "format too long");
	for (size_t i = 0; i < f.len; i++)
		check(f.data[i] >= 0x20 && f.data[i] < 0x7f, "format not printable");
	buf_free(&f);
	struct smtp_ehlo caps;
	smtp_reply_ehlo(r, &caps);
	struct buf x = BUF_INIT;
	smtp_xtext_encode(r->text.data ? r->text.data : "", r->text.len, &x);
	check(x.len >= r->text.len && x.len <= 3 * r->text.len, "xtext size");
	buf_free(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t cut = data[0] % size;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	if (cut > len)
		cut = len;
	struct smtp_reply_parser p;
	struct smtp_reply r;
	struct buf why = BUF_INIT;
	smtp_reply_parser_init(&p);
	smtp_reply_init(&r);
	size_t pieces[2][2] = {{0, cut}, {cut, len}};
	bool broken = false;
	for (int k = 0; k < 2 && !broken; k++) {
		size_t off = pieces[k][0];
		while (off < pieces[k][1]) {
			size_t used;
			buf_reset(&why);
			enum smtp_reply_status st =
			        smtp_reply_feed(&p, in + off, pieces[k][1] - off, &used, &r, &why);
			check(used <= pieces[k][1] - off, "consumed too much");
			off += used;
			if (st == SMTP_REPLY_BAD) {
				check(why.len > 0, "no reason for a bad reply");
				broken = true;
				break;
			}
			check(why.len == 0, "a reason without a failure");
			if (st == SMTP_REPLY_MORE) {
				check(off == pieces[k][1], "asked for more with input left");
				break;
			}
			check(used > 0, "a reply of no bytes");
			check_reply(&r);
		}
	}
	smtp_reply_free(&r);
	smtp_reply_parser_free(&p);
	buf_free(&why);
	return 0;
}
