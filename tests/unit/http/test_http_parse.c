/*
 * Unit tests for src/http/http_parse.c: request framing fed whole, byte by
 * byte and split at every position; Content-Length and chunked bodies;
 * pipelining; every limit at its edge; the errors that guard against request
 * smuggling; percent-decoding and query strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

#define MAX_BODY 1000

struct result {
	enum http_parse_status status;
	int error_status;
	size_t used; /* bytes of the input the request took */
	int heads;   /* HEAD results seen */
};

/* Feeds in[0..len) in pieces: first `split` bytes, then the rest in pieces of
   `piece` bytes, until DONE or ERROR. The parser keeps the request. */
static struct result feed(struct http_parser *p, const char *in, size_t len, size_t split,
                          size_t piece)
{
	struct result r = {HTTP_PARSE_MORE, 0, 0, 0};
	size_t pos = 0;
	while (pos <= len) {
		size_t n = pos < split ? split - pos : piece;
		if (n > len - pos)
			n = len - pos;
		size_t used = 0;
		r.status = http_parse(p, in + pos, n, &used);
		assert_true(used <= n);
		pos += used;
		r.used = pos;
		if (r.status == HTTP_PARSE_HEAD) {
			r.heads++;
			continue;
		}
		if (r.status == HTTP_PARSE_DONE || r.status == HTTP_PARSE_ERROR)
			break;
		assert_int_equal(used, n); /* MORE takes everything it is given */
		if (pos == len)
			break;
	}
	r.error_status = p->error_status;
	return r;
}

static struct result parse_whole(struct http_parser *p, const char *in)
{
	http_parser_init(p, MAX_BODY);
	return feed(p, in, strlen(in), 0, strlen(in) + 1);
}

static void assert_error_len(const char *in, size_t len, int status)
{
	struct http_parser p;
	http_parser_init(&p, MAX_BODY);
	struct result r = feed(&p, in, len, 0, len + 1);
	if (r.status != HTTP_PARSE_ERROR || r.error_status != status)
		fail_msg("expected error %d, got status %d error %d (%s) for: %.60s", status,
		         (int)r.status, r.error_status, p.error ? p.error : "", in);
	assert_non_null(p.error);
	http_parser_free(&p);
}

static void assert_error(const char *in, int status)
{
	assert_error_len(in, strlen(in), status);
}

/* ---- requests -------------------------------------------------------------------- */

static void test_simple_get_is_parsed(void **state)
{
	struct http_parser p;
	struct result r = parse_whole(&p, "GET /v1/events?after=3&limit=2 HTTP/1.1\r\n"
	                                  "Host: api.example.test\r\n"
	                                  "Authorization:   Bearer pk_x  \r\n\r\n");
	assert_int_equal(r.status, HTTP_PARSE_DONE);
	assert_int_equal(r.heads, 1);
	assert_string_equal(p.req.method, "GET");
	assert_string_equal(p.req.path, "/v1/events");
	assert_string_equal(p.req.query, "after=3&limit=2");
	assert_int_equal(p.req.minor, 1);
	assert_true(p.req.keep_alive);
	assert_string_equal(http_request_header(&p.req, "authorization"), "Bearer pk_x");
	assert_null(http_request_header(&p.req, "Cookie"));
	assert_int_equal(p.req.body.len, 0);
	http_parser_free(&p);
}

static const char post_cl[] = "POST /v1/messages HTTP/1.1\r\n"
                              "Host: x\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: 17\r\n\r\n"
                              "{\"from\":\"a@b.c\"}\n";

static const char post_chunked[] = "POST /v1/messages/raw?from=a%40b.c HTTP/1.1\r\n"
                                   "Host: x\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n"
                                   "5;name=value\r\nHello\r\n"
                                   "a\r\n, world!\r\n\r\n"
                                   "0\r\n"
                                   "X-Trailer: yes\r\n\r\n";

static void check_post_cl(const struct http_parser *p)
{
	assert_string_equal(p->req.method, "POST");
	assert_string_equal(p->req.path, "/v1/messages");
	assert_true(p->req.has_length);
	assert_int_equal(p->req.body.len, 17);
	assert_memory_equal(p->req.body.data, "{\"from\":\"a@b.c\"}\n", 17);
}

static void check_post_chunked(const struct http_parser *p)
{
	assert_string_equal(p->req.path, "/v1/messages/raw");
	assert_string_equal(p->req.query, "from=a%40b.c");
	assert_true(p->req.chunked);
	assert_int_equal(p->req.body.len, 15);
	assert_memory_equal(p->req.body.data, "Hello, world!\r\n", 15);
}

static void test_bodies_are_read_by_length_and_by_chunks(void **state)
{
	struct http_parser p;
	struct result r = parse_whole(&p, post_cl);
	assert_int_equal(r.status, HTTP_PARSE_DONE);
	assert_int_equal(r.used, sizeof post_cl - 1);
	check_post_cl(&p);
	http_parser_free(&p);
	r = parse_whole(&p, post_chunked);
	assert_int_equal(r.status, HTTP_PARSE_DONE);
	assert_int_equal(r.used, sizeof post_chunked - 1);
	check_post_chunked(&p);
	http_parser_free(&p);
}

static void test_split_at_every_position_gives_the_same_request(void **state)
{
	const char *inputs[] = {post_cl, post_chunked};
	void (*checks[])(const struct http_parser *) = {check_post_cl, check_post_chunked};
	for (size_t k = 0; k < 2; k++) {
		size_t len = strlen(inputs[k]);
		for (size_t split = 0; split <= len; split++) {
			struct http_parser p;
			http_parser_init(&p, MAX_BODY);
			struct result r = feed(&p, inputs[k], len, split, len);
			assert_int_equal(r.status, HTTP_PARSE_DONE);
			assert_int_equal(r.heads, 1);
			assert_int_equal(r.used, len);
			checks[k](&p);
			http_parser_free(&p);
		}
		struct http_parser p;
		http_parser_init(&p, MAX_BODY);
		struct result r = feed(&p, inputs[k], len, 0, 1); /* byte by byte */
		assert_int_equal(r.status, HTTP_PARSE_DONE);
		checks[k](&p);
		http_parser_free(&p);
	}
}

static void test_pipelined_requests_are_taken_one_at_a_time(void **state)
{
	char two[1024];
	snprintf(two, sizeof two, "%sGET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", post_cl);
	struct http_parser p;
	http_parser_init(&p, MAX_BODY);
	struct result r = feed(&p, two, strlen(two), 0, strlen(two));
	assert_int_equal(r.status, HTTP_PARSE_DONE);
	assert_int_equal(r.used, sizeof post_cl - 1);
	check_post_cl(&p);
	http_parser_reset(&p);
	r = feed(&p, two + r.used, strlen(two) - r.used, 0, 1000);
	assert_int_equal(r.status, HTTP_PARSE_DONE);
	assert_string_equal(p.req.path, "/v1/health");
	http_parser_free(&p);
}

static void test_empty_lines_before_a_request_and_lf_line_ends_are_accepted(void **state)
{
	struct http_parser p;
	struct result r = parse_whole(&p, "\r\n\r\nGET / HTTP/1.1\nHost: x\n\n");
	assert_int_equal(r.status, HTTP_PARSE_DONE);
	assert_string_equal(p.req.path, "/");
	assert_string_equal(http_request_header(&p.req, "Host"), "x");
	http_parser_free(&p);
}

static void test_connection_persistence_follows_the_version(void **state)
{
	struct http_parser p;
	parse_whole(&p, "GET / HTTP/1.0\r\n\r\n");
	assert_false(p.req.keep_alive);
	http_parser_free(&p);
	parse_whole(&p, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	assert_true(p.req.keep_alive);
	http_parser_free(&p);
	parse_whole(&p, "GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n");
	assert_false(p.req.keep_alive);
	http_parser_free(&p);
}

static void test_expect_100_continue_is_noted(void **state)
{
	struct http_parser p;
	http_parser_init(&p, MAX_BODY);
	const char *in = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
	                 "Content-Length: 2\r\n\r\n";
	size_t used;
	assert_int_equal(http_parse(&p, in, strlen(in), &used), HTTP_PARSE_HEAD);
	assert_int_equal(used, strlen(in));
	assert_true(p.req.expect_continue);
	assert_int_equal(http_parse(&p, "", 0, &used), HTTP_PARSE_MORE);
	assert_int_equal(http_parse(&p, "{}", 2, &used), HTTP_PARSE_DONE);
	http_parser_free(&p);
	assert_error("POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", 417);
}

static void test_targets_are_decoded_and_absolute_form_reduced(void **state)
{
	struct http_parser p;
	parse_whole(&p, "GET /v1/messages/a%20b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_string_equal(p.req.path, "/v1/messages/a b");
	assert_string_equal(p.req.target, "/v1/messages/a%20b?x=1");
	http_parser_free(&p);
	parse_whole(&p, "GET http://api.example.test:8025/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_string_equal(p.req.path, "/v1/health");
	http_parser_free(&p);
	assert_error("GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	assert_error("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	assert_error("GET a HTTP/1.1\r\nHost: x\r\n\r\n", 400);
}

/* ---- errors --------------------------------------------------------------------- */

static void test_smuggling_shapes_are_refused(void **state)
{
	assert_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	             "Transfer-Encoding: chunked\r\n\r\n",
	             400);
	assert_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
	             400);
	assert_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n", 400);
	assert_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400);
	assert_error("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
	assert_error("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	             "Transfer-Encoding: chunked\r\n\r\n",
	             501);
	assert_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
	assert_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400); /* obs-fold */
	assert_error("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
	assert_error("GET / HTTP/1.1\r\nHost: x\rX-Injected: 1\r\n\r\n", 400);
	assert_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01\r\n\r\n", 400);
	static const char nul[] = "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n";
	assert_error_len(nul, sizeof nul - 1, 400);
	assert_error("GET / HTTP/1.1\r\n\r\n", 400);                       /* no Host */
	assert_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400); /* two */
	assert_error("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	assert_error("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	assert_error("GET / HTTP/1\r\nHost: x\r\n\r\n", 400);
	assert_error("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
}

static void test_chunk_errors_are_refused(void **state)
{
	const char *head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
	char in[4096];
	snprintf(in, sizeof in, "%s3\r\nabcd\r\n0\r\n\r\n", head); /* more data than said */
	assert_error(in, 400);
	snprintf(in, sizeof in, "%sx\r\nabc\r\n0\r\n\r\n", head);
	assert_error(in, 400);
	snprintf(in, sizeof in, "%s3 junk\r\nabc\r\n0\r\n\r\n", head);
	assert_error(in, 400);
	snprintf(in, sizeof in, "%sffffffffffffffffff\r\n", head);
	assert_error(in, 413);
}

/* ---- limits at their edges -------------------------------------------------------- */

/* A GET whose head is exactly `total` bytes, padded with one header field. */
static char *head_of_size(size_t total)
{
	const char *start = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
	size_t fixed = strlen(start) + 4; /* "\r\n\r\n" */
	char *s = xmalloc(total + 1);
	memcpy(s, start, strlen(start));
	memset(s + strlen(start), 'a', total - fixed);
	memcpy(s + total - 4, "\r\n\r\n", 4);
	s[total] = '\0';
	return s;
}

static void test_head_limit_at_its_edge(void **state)
{
	char *ok = head_of_size(HTTP_MAX_HEAD);
	struct http_parser p;
	struct result r = parse_whole(&p, ok);
	assert_int_equal(r.status, HTTP_PARSE_DONE);
	http_parser_free(&p);
	/* and byte by byte */
	http_parser_init(&p, MAX_BODY);
	r = feed(&p, ok, strlen(ok), 0, 1);
	assert_int_equal(r.status, HTTP_PARSE_DONE);
	http_parser_free(&p);
	free(ok);
	char *big = head_of_size(HTTP_MAX_HEAD + 1);
	assert_error(big, 431);
	http_parser_init(&p, MAX_BODY);
	r = feed(&p, big, strlen(big), 0, 7);
	assert_int_equal(r.error_status, 431);
	http_parser_free(&p);
	free(big);
}

static void test_target_limit_at_its_edge(void **state)
{
	char *in = xmalloc(HTTP_MAX_TARGET + 64);
	char *t = xmalloc(HTTP_MAX_TARGET + 2);
	t[0] = '/';
	memset(t + 1, 'a', HTTP_MAX_TARGET - 1);
	t[HTTP_MAX_TARGET] = '\0';
	snprintf(in, HTTP_MAX_TARGET + 64, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", t);
	struct http_parser p;
	assert_int_equal(parse_whole(&p, in).status, HTTP_PARSE_DONE);
	http_parser_free(&p);
	strcpy(t + HTTP_MAX_TARGET, "a");
	snprintf(in, HTTP_MAX_TARGET + 64, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", t);
	assert_error(in, 414);
	free(in);
	free(t);
	/* a request line that never ends is a long target, not a long header */
	char *endless = xmalloc(HTTP_MAX_HEAD + 100);
	memcpy(endless, "GET /", 5);
	memset(endless + 5, 'b', HTTP_MAX_HEAD + 90);
	endless[HTTP_MAX_HEAD + 95] = '\0';
	assert_error(endless, 414);
	free(endless);
}

static void test_header_count_limit_at_its_edge(void **state)
{
	struct buf in = BUF_INIT;
	buf_puts(&in, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 1; i < HTTP_MAX_HEADERS; i++)
		buf_printf(&in, "X-%d: v\r\n", i);
	buf_puts(&in, "\r\n");
	struct http_parser p;
	assert_int_equal(parse_whole(&p, buf_cstr(&in)).status, HTTP_PARSE_DONE);
	assert_int_equal(p.req.nheaders, HTTP_MAX_HEADERS);
	http_parser_free(&p);
	buf_truncate(&in, in.len - 2);
	buf_puts(&in, "X-Last: v\r\n\r\n");
	assert_error(buf_cstr(&in), 431);
	buf_free(&in);
}

static void test_body_limit_at_its_edge(void **state)
{
	char in[4096];
	struct http_parser p;
	snprintf(in, sizeof in, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
	         MAX_BODY);
	http_parser_init(&p, MAX_BODY);
	size_t used;
	assert_int_equal(http_parse(&p, in, strlen(in), &used), HTTP_PARSE_HEAD);
	http_parser_free(&p);
	snprintf(in, sizeof in, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
	         MAX_BODY + 1);
	assert_error(in, 413);
	/* chunked: the sum of the chunks counts */
	snprintf(in, sizeof in,
	         "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n",
	         MAX_BODY - 10);
	size_t len = strlen(in);
	memset(in + len, 'z', MAX_BODY - 10);
	len += MAX_BODY - 10;
	len += (size_t)snprintf(in + len, sizeof in - len, "\r\nb\r\n");
	http_parser_init(&p, MAX_BODY);
	struct result r = feed(&p, in, len, 0, 100);
	assert_int_equal(r.status, HTTP_PARSE_ERROR);
	assert_int_equal(r.error_status, 413);
	http_parser_free(&p);
}

/* ---- query strings --------------------------------------------------------------- */

static void test_query_pairs_are_decoded(void **state)
{
	const char *q = "from=a%40b.c&to=x%2By%40z&&to=two+words&flag&bad=%zz&last=";
	struct buf n = BUF_INIT, v = BUF_INIT;
	const char *want[][2] = {{"from", "a@b.c"},
	                         {"to", "x+y@z"},
	                         {"to", "two words"},
	                         {"flag", ""},
	                         {"last", ""}};
	size_t i = 0;
	while (http_query_next(&q, &n, &v)) {
		assert_true(i < ARRAY_SIZE(want));
		assert_string_equal(buf_cstr(&n), want[i][0]);
		assert_string_equal(buf_cstr(&v), want[i][1]);
		i++;
	}
	assert_int_equal(i, ARRAY_SIZE(want));
	buf_free(&n);
	buf_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_simple_get_is_parsed),
	        cmocka_unit_test(test_bodies_are_read_by_length_and_by_chunks),
	        cmocka_unit_test(test_split_at_every_position_gives_the_same_request),
	        cmocka_unit_test(test_pipelined_requests_are_taken_one_at_a_time),
	        cmocka_unit_test(test_empty_lines_before_a_request_and_lf_line_ends_are_accepted),
	        cmocka_unit_test(test_connection_persistence_follows_the_version),
	        cmocka_unit_test(test_expect_100_continue_is_noted),
	        cmocka_unit_test(test_targets_are_decoded_and_absolute_form_reduced),
	        cmocka_unit_test(test_smuggling_shapes_are_refused),
	        cmocka_unit_test(test_chunk_errors_are_refused),
	        cmocka_unit_test(test_head_limit_at_its_edge),
	        cmocka_unit_test(test_target_limit_at_its_edge),
	        cmocka_unit_test(test_header_count_limit_at_its_edge),
	        cmocka_unit_test(test_body_limit_at_its_edge),
	        cmocka_unit_test(test_query_pairs_are_decoded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
