// fuzz-sources: src/mime/mime_parse.c src/mime/mime_header.c src/mime/mime_param.c
// fuzz-sources: src/mime/mime_address.c src/mime/mime_decode.c src/mime/mime_search.c
// fuzz-sources: src/core/mem.c src/core/buf.c src/core/str.c src/core/codec.c
// fuzz-libs:
/*
 * fuzz_mime_search — the text of SEARCH BODY / TEXT and of the full-text
 * index over an arbitrary message.
 *
 * The input is the message. It is parsed; mime_search_text() makes the
 * index's header and body texts, and mime_search_walk() the matcher's pieces.
 *
 * Checked (abort on violation): the texts and every piece are valid UTF-8
 * without NUL; the walk with the header starts with exactly the header text;
 * every other piece is a substring of the body text (the index never lacks
 * what the matcher looks into), and the body text is the pieces joined by
 * "\n"; the walk without the header gives the same pieces minus the first; a
 * walk stopped at piece k calls no further and reports the stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_mime_search: %s\n", what);
		abort();
	}
}

struct walk {
	struct buf joined; /* the pieces after the first, joined as the index joins them */
	size_t n, stop_at;
	bool with_header;
	const struct buf *header;
};

static bool piece(const char *text, size_t len, void *arg)
{
	struct walk *w = arg;
	check(utf8_valid(text, len), "piece is not UTF-8");
	check(!memchr(text, '\0', len), "piece holds NUL");
	if (w->with_header && w->n == 0) {
		check(len == w->header->len &&
		              memcmp(text, w->header->data ? w->header->data : "", len) == 0,
		      "first piece is not the header text");
	} else {
		if (w->joined.len > 0)
			buf_putc(&w->joined, '\n');
		buf_append(&w->joined, text, len);
	}
	w->n++;
	check(!w->stop_at || w->n <= w->stop_at, "walk went on after a stop");
	return w->stop_at && w->n == w->stop_at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct mime_part *root = NULL;
	mime_parse(msg, size, &root);
	struct buf header = BUF_INIT, body = BUF_INIT;
	mime_search_text(root, msg, &header, &body);
	check(utf8_valid(header.data ? header.data : "", header.len), "header text is not UTF-8");
	check(utf8_valid(body.data ? body.data : "", body.len), "body text is not UTF-8");
	check(!memchr(header.data ? header.data : "", '\0', header.len), "header text holds NUL");

	struct walk all = {.joined = BUF_INIT, .with_header = true, .header = &header};
	check(!mime_search_walk(root, msg, true, piece, &all), "walk stopped by itself");
	check(all.joined.len == body.len && memcmp(all.joined.data ? all.joined.data : "",
	                                           body.data ? body.data : "", body.len) == 0,
	      "body text is not the pieces joined");

	struct walk nohdr = {.joined = BUF_INIT, .with_header = false, .header = &header};
	mime_search_walk(root, msg, false, piece, &nohdr);
	check(nohdr.n + 1 == all.n, "walk without the header differs by more than one piece");

	if (all.n > 1) {
		struct walk part = {.joined = BUF_INIT,
		                    .with_header = true,
		                    .header = &header,
		                    .stop_at = 1 + size % (all.n - 1)};
		check(mime_search_walk(root, msg, true, piece, &part), "a stop was not reported");
		check(part.n == part.stop_at, "walk stopped in the wrong place");
		buf_free(&part.joined);
	}
	buf_free(&all.joined);
	buf_free(&nohdr.joined);
	buf_free(&header);
	buf_free(&body);
	mime_part_free(&root);
	return 0;
}
