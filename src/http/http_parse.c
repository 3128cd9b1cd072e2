/*
 * http_parse — HTTP/1.1 request framing (RFC 9112) as a pure push parser.
 *
 * The head (request line and header fields) is gathered whole, at most
 * HTTP_MAX_HEAD bytes, then checked in one pass; the body is read by
 * Content-Length or as chunks. Strict where laxness lets two parsers disagree
 * about where a request ends (request smuggling): Content-Length with
 * Transfer-Encoding, two different lengths, a transfer coding other than
 * chunked, obsolete line folding, a CR that does not end a line, and
 * whitespace before a field's colon are all errors. Lenient where RFC 9112
 * allows it and no one can be misled: empty lines before the request line and
 * LF alone as a line end.
 */
#include "http/http_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
	ST_HEAD,
	ST_BODY,
	ST_CHUNK_SIZE,
	ST_CHUNK_DATA,
	ST_CHUNK_END,
	ST_TRAILER,
	ST_DONE_PENDING, /* head returned, no body: DONE on the next call */
	ST_DONE,
	ST_ERROR,
};

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void request_free(struct http_request *r)
{
	free(r->method);
	free(r->target);
	free(r->path);
	free(r->query);
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	buf_free(&r->body);
	memset(r, 0, sizeof *r);
}

void http_parser_init(struct http_parser *p, uint64_t max_body)
{
	memset(p, 0, sizeof *p);
	p->max_body = max_body;
}

void http_parser_reset(struct http_parser *p)
{
	uint64_t max_body = p->max_body;
	struct buf head = p->head, line = p->line;
	request_free(&p->req);
	buf_reset(&head);
	buf_reset(&line);
	memset(p, 0, sizeof *p);
	p->max_body = max_body;
	p->head = head;
	p->line = line;
}

void http_parser_free(struct http_parser *p)
{
	request_free(&p->req);
	buf_free(&p->head);
	buf_free(&p->line);
}

static enum http_parse_status fail(struct http_parser *p, int status, const char *why)
{
	p->state = ST_ERROR;
	p->error_status = status;
	p->error = why;
	return HTTP_PARSE_ERROR;
}

const char *http_request_header(const struct http_request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int http_percent_decode(const char *s, size_t len, bool plus_space, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= len)
				return -1;
			int hi = hex_value((unsigned char)s[i + 1]);
			int lo = hex_value((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			buf_putc(out, (char)(hi << 4 | lo));
			i += 2;
		} else if (c == '+' && plus_space) {
			buf_putc(out, ' ');
		} else if (c == '\0') {
			return -1;
		} else {
			buf_putc(out, (char)c);
		}
	}
	return 0;
}

bool http_query_next(const char **cursor, struct buf *name, struct buf *value)
{
	const char *p = *cursor;
	while (*p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : len;
		buf_reset(name);
		buf_reset(value);
		bool ok = len > 0 && http_percent_decode(p, nlen, true, name) == 0 &&
		          (!eq || http_percent_decode(eq + 1, len - nlen - 1, true, value) == 0);
		p += len;
		if (*p == '&')
			p++;
		if (ok) {
			*cursor = p;
			return true;
		}
	}
	*cursor = p;
	return false;
}

/* ---- the head ----------------------------------------------------------------------- */

/* Splits the target into path and query. */
static int parse_target(struct http_parser *p, const char *t)
{
	struct http_request *r = &p->req;
	if (strcmp(t, "*") == 0) {
		r->path = xstrdup("*");
		r->query = xstrdup("");
		return 0;
	}
	if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
		/* absolute-form: the path starts after the authority */
		const char *auth = strstr(t, "//") + 2;
		const char *slash = strpbrk(auth, "/?");
		t = slash ? slash : "/";
		if (*t == '?') {
			r->query = xstrdup(t + 1);
			r->path = xstrdup("/");
			return 0;
		}
	}
	if (t[0] != '/')
		return -1;
	const char *q = strchr(t, '?');
	size_t plen = q ? (size_t)(q - t) : strlen(t);
	struct buf path = BUF_INIT;
	if (http_percent_decode(t, plen, false, &path) < 0) {
		buf_free(&path);
		return -1;
	}
	r->path = buf_steal(&path);
	r->query = xstrdup(q ? q + 1 : "");
	return 0;
}

static enum http_parse_status parse_request_line(struct http_parser *p, char *line)
{
	struct http_request *r = &p->req;
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
		return fail(p, 400, "malformed request line");
	*sp1 = *sp2 = '\0';
	const char *method = line, *target = sp1 + 1, *version = sp2 + 1;
	if (!*method)
		return fail(p, 400, "malformed request line");
	for (const char *m = method; *m; m++)
		if (!is_tchar((unsigned char)*m))
			return fail(p, 400, "malformed method");
	size_t tlen = strlen(target);
	if (tlen == 0)
		return fail(p, 400, "empty request target");
	if (tlen > HTTP_MAX_TARGET)
		return fail(p, 414, "request target too long");
	for (const char *t = target; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t == 0x7f)
			return fail(p, 400, "malformed request target");
	if (strcmp(version, "HTTP/1.1") == 0) {
		r->minor = 1;
	} else if (strcmp(version, "HTTP/1.0") == 0) {
		r->minor = 0;
	} else if (strncmp(version, "HTTP/", 5) == 0 && version[5] >= '0' && version[5] <= '9' &&
	           version[6] == '.' && version[7] >= '0' && version[7] <= '9' && !version[8]) {
		return fail(p, 505, "HTTP version not supported");
	} else {
		return fail(p, 400, "malformed HTTP version");
	}
	r->method = xstrdup(method);
	r->target = xstrdup(target);
	if (parse_target(p, target) < 0)
		return fail(p, 400, "malformed request target");
	r->keep_alive = r->minor == 1;
	return HTTP_PARSE_MORE;
}

static bool has_token(const char *list, const char *token)
{
	size_t tl = strlen(token);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		const char *end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - start) == tl && strncasecmp(start, token, tl) == 0)
			return true;
	}
	return false;
}

static enum http_parse_status parse_field(struct http_parser *p, char *line)
{
	struct http_request *r = &p->req;
	if (line[0] == ' ' || line[0] == '\t')
		return fail(p, 400, "obsolete line folding");
	char *colon = strchr(line, ':');
	if (!colon || colon == line)
		return fail(p, 400, "malformed header field");
	for (char *c = line; c < colon; c++)
		if (!is_tchar((unsigned char)*c))
			return fail(p, 400, "malformed header field name");
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t vlen = strlen(v);
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(p, 400, "control character in a header field");
	}
	if (r->nheaders == HTTP_MAX_HEADERS)
		return fail(p, 431, "too many header fields");
	r->headers = xrealloc(r->headers, (r->nheaders + 1) * sizeof *r->headers);
	r->headers[r->nheaders].name = xstrndup(line, (size_t)(colon - line));
	r->headers[r->nheaders].value = xstrndup(v, vlen);
	r->nheaders++;
	return HTTP_PARSE_MORE;
}

/* What the fields mean for the framing (RFC 9112 6, 9.3; RFC 9110 10.1.1). */
static enum http_parse_status head_semantics(struct http_parser *p)
{
	struct http_request *r = &p->req;
	int hosts = 0;
	bool te = false;
	for (size_t i = 0; i < r->nheaders; i++) {
		const char *n = r->headers[i].name, *v = r->headers[i].value;
		if (strcasecmp(n, "Host") == 0) {
			hosts++;
		} else if (strcasecmp(n, "Content-Length") == 0) {
			uint64_t len;
			if (!str_to_u64(str_c(v), &len) || len > INT64_MAX)
				return fail(p, 400, "malformed Content-Length");
			if (r->has_length && len != r->content_length)
				return fail(p, 400, "conflicting Content-Length fields");
			r->has_length = true;
			r->content_length = len;
		} else if (strcasecmp(n, "Transfer-Encoding") == 0) {
			if (te || strcasecmp(v, "chunked") != 0)
				return fail(p, 501, "transfer coding not implemented");
			te = true;
		} else if (strcasecmp(n, "Connection") == 0) {
			if (has_token(v, "close"))
				r->keep_alive = false;
			else if (r->minor == 0 && has_token(v, "keep-alive"))
				r->keep_alive = true;
		} else if (strcasecmp(n, "Expect") == 0) {
			if (strcasecmp(v, "100-continue") != 0)
				return fail(p, 417, "expectation not supported");
			r->expect_continue = r->minor == 1;
		}
	}
	if (r->minor == 1 && hosts != 1)
		return fail(p, 400, hosts ? "more than one Host field" : "no Host field");
	if (te && r->minor == 0)
		return fail(p, 400, "Transfer-Encoding in HTTP/1.0");
	if (te && r->has_length)
		return fail(p, 400, "both Content-Length and Transfer-Encoding");
	r->chunked = te;
	if (r->has_length && r->content_length > p->max_body)
		return fail(p, 413, "request body too large");
	return HTTP_PARSE_MORE;
}

static enum http_parse_status parse_head(struct http_parser *p)
{
	char *text = p->head.data;
	size_t len = p->head.len;
	size_t nline = 0;
	size_t start = 0;
	while (start < len) {
		char *lf = memchr(text + start, '\n', len - start);
		size_t end = lf ? (size_t)(lf - text) : len;
		size_t llen = end - start;
		if (llen && text[end - 1] == '\r')
			llen--;
		char *line = text + start;
		if (llen == 0)
			break; /* the empty line ending the head */
		if (memchr(line, '\r', llen) || memchr(line, '\0', llen))
			return fail(p, 400,
			            nline ? "CR or NUL inside a header field"
			                  : "CR or NUL in the request line");
		line[llen] = '\0';
		enum http_parse_status st =
		        nline == 0 ? parse_request_line(p, line) : parse_field(p, line);
		if (st == HTTP_PARSE_ERROR)
			return st;
		nline++;
		start = end + 1;
	}
	return head_semantics(p);
}

/* The offset just past the empty line that ends the head, searching from
   `from`, or 0 when it has not arrived. */
static size_t head_end(const struct buf *h, size_t from)
{
	for (size_t i = from; i < h->len; i++) {
		if (h->data[i] != '\n')
			continue;
		if (i + 1 < h->len && h->data[i + 1] == '\n')
			return i + 2;
		if (i + 2 < h->len && h->data[i + 1] == '\r' && h->data[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static enum http_parse_status feed_head(struct http_parser *p, const char *data, size_t len,
                                        size_t *used_r)
{
	size_t i = 0;
	/* Empty lines before the request line are ignored (RFC 9112 2.2). */
	if (p->head.len == 0)
		while (i < len && (data[i] == '\r' || data[i] == '\n'))
			i++;
	if (i < len)
		p->started = true;
	size_t old = p->head.len;
	size_t room = HTTP_MAX_HEAD + 3 - old;
	size_t take = len - i < room ? len - i : room;
	buf_append(&p->head, data + i, take);
	size_t end = head_end(&p->head, old > 2 ? old - 2 : 0);
	if (!end) {
		*used_r = i + take;
		if (p->head.len > HTTP_MAX_HEAD) {
			bool line_done = memchr(p->head.data, '\n', p->head.len) != NULL;
			return line_done ? fail(p, 431, "request header too large")
			                 : fail(p, 414, "request target too long");
		}
		return HTTP_PARSE_MORE;
	}
	*used_r = i + (end - old);
	buf_truncate(&p->head, end);
	if (p->head.len > HTTP_MAX_HEAD)
		return fail(p, 431, "request header too large");
	if (parse_head(p) == HTTP_PARSE_ERROR)
		return HTTP_PARSE_ERROR;
	struct http_request *r = &p->req;
	if (r->chunked) {
		p->state = ST_CHUNK_SIZE;
	} else if (r->has_length && r->content_length > 0) {
		p->state = ST_BODY;
		p->left = r->content_length;
		buf_reserve(&r->body, (size_t)r->content_length);
	} else {
		p->state = ST_DONE_PENDING;
	}
	return HTTP_PARSE_HEAD;
}

/* ---- chunked bodies ----------------------------------------------------------------- */

/* Gathers one line (up to LF) into p->line; true when complete. */
static bool gather_line(struct http_parser *p, const char *data, size_t len, size_t *i, size_t max,
                        bool *too_long)
{
	while (*i < len) {
		char c = data[(*i)++];
		if (c == '\n') {
			if (p->line.len && p->line.data[p->line.len - 1] == '\r')
				buf_truncate(&p->line, p->line.len - 1);
			return true;
		}
		if (p->line.len >= max) {
			*too_long = true;
			return false;
		}
		buf_putc(&p->line, c);
	}
	return false;
}

static enum http_parse_status chunk_size(struct http_parser *p)
{
	const char *s = buf_cstr(&p->line);
	uint64_t size = 0;
	size_t n = 0;
	for (; hex_value((unsigned char)s[n]) >= 0; n++) {
		if (size > (UINT64_MAX >> 4))
			return fail(p, 413, "request body too large");
		size = size << 4 | (uint64_t)hex_value((unsigned char)s[n]);
	}
	if (n == 0)
		return fail(p, 400, "malformed chunk size");
	const char *rest = s + n;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	if (*rest && *rest != ';')
		return fail(p, 400, "malformed chunk size");
	for (; *rest; rest++)
		if (((unsigned char)*rest < 0x20 && *rest != '\t') || *rest == 0x7f ||
		    *rest == '\r')
			return fail(p, 400, "malformed chunk extension");
	if (size > p->max_body - p->req.body.len)
		return fail(p, 413, "request body too large");
	buf_reset(&p->line);
	if (size == 0) {
		p->state = ST_TRAILER;
	} else {
		p->left = size;
		p->state = ST_CHUNK_DATA;
	}
	return HTTP_PARSE_MORE;
}

/* ---- the parser -------------------------------------------------------------------------- */

enum http_parse_status http_parse(struct http_parser *p, const char *data, size_t len,
                                  size_t *used_r)
{
	size_t i = 0;
	*used_r = 0;
	for (;;) {
		switch (p->state) {
		case ST_HEAD: {
			size_t used;
			enum http_parse_status st = feed_head(p, data, len, &used);
			*used_r = used;
			return st;
		}
		case ST_DONE_PENDING:
			p->state = ST_DONE;
			*used_r = i;
			return HTTP_PARSE_DONE;
		case ST_BODY: {
			size_t n = len - i < p->left ? len - i : (size_t)p->left;
			buf_append(&p->req.body, data + i, n);
			i += n;
			p->left -= n;
			if (p->left == 0) {
				p->state = ST_DONE;
				*used_r = i;
				return HTTP_PARSE_DONE;
			}
			*used_r = i;
			return HTTP_PARSE_MORE;
		}
		case ST_CHUNK_SIZE: {
			bool too_long = false;
			bool done = gather_line(p, data, len, &i, HTTP_MAX_CHUNK_LINE, &too_long);
			*used_r = i;
			if (too_long)
				return fail(p, 400, "chunk size line too long");
			if (!done)
				return HTTP_PARSE_MORE;
			if (chunk_size(p) == HTTP_PARSE_ERROR)
				return HTTP_PARSE_ERROR;
			break;
		}
		case ST_CHUNK_DATA: {
			size_t n = len - i < p->left ? len - i : (size_t)p->left;
			buf_append(&p->req.body, data + i, n);
			i += n;
			p->left -= n;
			*used_r = i;
			if (p->left > 0)
				return HTTP_PARSE_MORE;
			p->state = ST_CHUNK_END;
			break;
		}
		case ST_CHUNK_END: {
			bool too_long = false;
			bool done = gather_line(p, data, len, &i, 1, &too_long);
			*used_r = i;
			if (too_long || (done && p->line.len != 0))
				return fail(p, 400, "chunk data longer than its size");
			if (!done)
				return HTTP_PARSE_MORE;
			p->state = ST_CHUNK_SIZE;
			break;
		}
		case ST_TRAILER: {
			bool too_long = false;
			size_t before = i;
			bool done = gather_line(p, data, len, &i, HTTP_MAX_HEAD, &too_long);
			*used_r = i;
			p->trailer += i - before;
			if (too_long || p->trailer > HTTP_MAX_HEAD)
				return fail(p, 431, "trailer fields too large");
			if (!done)
				return HTTP_PARSE_MORE;
			if (p->line.len == 0) {
				p->state = ST_DONE;
				return HTTP_PARSE_DONE;
			}
			if (memchr(p->line.data, '\r', p->line.len) ||
			    memchr(p->line.data, '\0', p->line.len))
				return fail(p, 400, "CR or NUL inside a trailer field");
			buf_reset(&p->line); /* trailer fields are not used */
			break;
		}
		case ST_DONE:
			*used_r = 0;
			return HTTP_PARSE_DONE;
		default:
			*used_r = 0;
			return HTTP_PARSE_ERROR;
		}
	}
}
