// fuzz-sources: src/http/http_parse.c src/core/mem.c src/core/buf.c src/core/str.c
// fuzz-libs:
/*
 * fuzz_http_parse — HTTP/1.1 request framing on one input, taken as the bytes
 * of a client connection (requests may be pipelined):
 *
 *  1. fed whole, request after request, as the session does;
 *  2. fed again in pieces whose sizes come from the input itself;
 *
 * both runs must see the same requests (method, path, body) and end the same
 * way. Checked: no crash, leak or sanitizer report; a call never uses more
 * than it was given and MORE uses everything; HEAD comes once per request,
 * before DONE; a body never passes the limit and matches its Content-Length;
 * an error has a status among those the parser documents and a reason; the
 * query string's pairs and every header decode without trouble.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

#define FUZZ_MAX_BODY 4096
#define FUZZ_MAX_REQUESTS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_http_parse: %s\n", what);
		abort();
	}
}

/* A summary of what a run saw, to compare the two runs. */
struct seen {
	struct buf log;
	int end; /* final status */
	int error_status;
};

static void note_request(struct seen *s, const struct http_request *r)
{
	check(r->method && r->target && r->path && r->query, "a request without its parts");
	check(r->minor == 0 || r->minor == 1, "a version other than 1.0 or 1.1");
	check(r->body.len <= FUZZ_MAX_BODY, "a body over the limit");
	if (r->has_length)
		check(r->body.len == r->content_length, "a body unlike its Content-Length");
	check(!(r->has_length && r->chunked), "both Content-Length and chunked");
	for (size_t i = 0; i < r->nheaders; i++) {
		check(r->headers[i].name[0] != '\0', "an empty header name");
		check(!strpbrk(r->headers[i].value, "\r\n"), "CR or LF in a header value");
		check(http_request_header(r, r->headers[i].name) != NULL, "a header not found");
	}
	const char *cur = r->query;
	struct buf n = BUF_INIT, v = BUF_INIT;
	size_t pairs = 0;
	while (http_query_next(&cur, &n, &v))
		check(++pairs <= strlen(r->query) + 1, "more query pairs than bytes");
	buf_free(&n);
	buf_free(&v);
	buf_printf(&s->log, "%s %s %zu:", r->method, r->path, r->body.len);
	buf_append(&s->log, r->body.data ? r->body.data : "", r->body.len);
	buf_putc(&s->log, '\n');
}

static void run(const uint8_t *data, size_t size, const uint8_t *pieces, size_t npieces,
                struct seen *s)
{
	struct http_parser p;
	http_parser_init(&p, FUZZ_MAX_BODY);
	size_t pos = 0, k = 0;
	int heads = 0, requests = 0;
	s->end = HTTP_PARSE_MORE;
	for (;;) {
		size_t n = size - pos;
		if (npieces) {
			size_t want = (size_t)pieces[k++ % npieces] + 1;
			n = want < n ? want : n;
		}
		size_t used = 0;
		enum http_parse_status st = http_parse(&p, (const char *)data + pos, n, &used);
		check(used <= n, "used more than given");
		pos += used;
		if (st == HTTP_PARSE_MORE) {
			check(used == n, "MORE left bytes unused");
			if (pos == size)
				break;
			continue;
		}
		if (st == HTTP_PARSE_HEAD) {
			check(heads == requests, "HEAD twice for one request");
			heads++;
			continue;
		}
		if (st == HTTP_PARSE_ERROR) {
			int e = p.error_status;
			check(e == 400 || e == 413 || e == 414 || e == 417 || e == 431 ||
			              e == 501 || e == 505,
			      "an undocumented error status");
			check(p.error && *p.error, "an error without a reason");
			s->end = st;
			s->error_status = e;
			break;
		}
		check(st == HTTP_PARSE_DONE, "status out of range");
		check(heads == requests + 1, "DONE without HEAD");
		requests++;
		note_request(s, &p.req);
		http_parser_reset(&p);
		if (requests == FUZZ_MAX_REQUESTS || pos == size)
			break;
	}
	http_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The first bytes choose the piece sizes of the second run. */
	size_t npieces = size ? data[0] % 8 : 0;
	if (size < 1 + npieces)
		return 0;
	const uint8_t *pieces = data + 1;
	data += 1 + npieces;
	size -= 1 + npieces;
	struct seen whole = {BUF_INIT, 0, 0}, split = {BUF_INIT, 0, 0};
	run(data, size, NULL, 0, &whole);
	static const uint8_t byte_by_byte[] = {0};
	if (npieces == 0)
		pieces = byte_by_byte;
	run(data, size, pieces, npieces ? npieces : 1, &split);
	check(whole.log.len == split.log.len &&
	              memcmp(buf_cstr(&whole.log), buf_cstr(&split.log), whole.log.len) == 0,
	      "the requests depend on how the bytes were split");
	check(whole.end == split.end && whole.error_status == split.error_status,
	      "the outcome depends on how the bytes were split");
	buf_free(&whole.log);
	buf_free(&split.log);
	return 0;
}
