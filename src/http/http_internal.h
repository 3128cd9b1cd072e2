/*
 * http_internal — the request parser, the session and the handlers of the API.
 *
 * Parser (http_parse.c): pure, bytes in, a request out. It knows HTTP/1.0 and
 * 1.1 message framing only; what a request means is the session's business.
 *
 * Session (http_server.c): one per connection. It feeds input to the parser,
 * runs one request at a time (pipelined requests wait in the input buffer),
 * routes it, checks the key and writes the answer. A handler answers with
 * http_respond*() at once, or starts something asynchronous (a store op) and
 * answers from its completion; meanwhile the session reads nothing. If the
 * client goes in between, the session is orphaned and the completion frees it.
 */
#ifndef PETREL_HTTP_INTERNAL_H
#define PETREL_HTTP_INTERNAL_H

#include "http/http.h"

#include "core/core.h"

struct json_t;
struct conn;
struct store_api_event;
struct event;

/* ---- parser (http_parse.c) ------------------------------------------------------ */

struct http_header {
	char *name;  /* as sent */
	char *value; /* leading and trailing blanks removed */
};

struct http_request {
	char *method;
	char *target; /* as sent */
	char *path;   /* percent-decoded path of the target, without the query */
	char *query;  /* after '?', raw; "" when none */
	int minor;    /* HTTP/1.minor: 0 or 1 */
	struct http_header *headers;
	size_t nheaders;
	bool chunked;
	bool has_length;
	uint64_t content_length;
	bool keep_alive;
	bool expect_continue;
	struct buf body;
};

enum http_parse_status {
	HTTP_PARSE_MORE,  /* every byte given was used; give more */
	HTTP_PARSE_HEAD,  /* the head is complete (call again for the body) */
	HTTP_PARSE_DONE,  /* the request is complete; the rest is the next one's */
	HTTP_PARSE_ERROR, /* p->error_status and p->error say why; stop reading */
};

struct http_parser {
	int state;
	uint64_t max_body;
	struct buf head; /* the head as it arrives */
	struct buf line; /* a chunk-size or trailer line */
	uint64_t left;   /* bytes left of the body or of the current chunk */
	size_t trailer;  /* bytes of trailer fields */
	bool started;    /* a byte of the request has arrived */
	struct http_request req;
	int error_status;  /* 400, 413, 414, 417, 431, 501, 505 */
	const char *error; /* a static reason */
};

void http_parser_init(struct http_parser *p, uint64_t max_body);
/* Forgets the request, ready for the next one on the connection. */
void http_parser_reset(struct http_parser *p);
void http_parser_free(struct http_parser *p);
/*
 * Consumes bytes from data; *used_r says how many. HEAD is returned once per
 * request, when the head is complete and checked (a body over max_body is then
 * already a 413); DONE when the body is complete too. After DONE the bytes not
 * used belong to the next request: reset, then parse them.
 */
enum http_parse_status http_parse(struct http_parser *p, const char *data, size_t len,
                                  size_t *used_r);
/* The value of the first header field called name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *r, const char *name);
/* %XX decoding (and '+' as a space when plus_space); -1 on a bad escape or a NUL. */
int http_percent_decode(const char *s, size_t len, bool plus_space, struct buf *out);
/*
 * The next "name=value" of a query string, decoded, advancing *cursor; false at
 * the end. A pair with a bad escape is skipped.
 */
bool http_query_next(const char **cursor, struct buf *name, struct buf *value);

/* ---- session (http_server.c) ----------------------------------------------------- */

struct http_session {
	struct conn *conn;
	struct http_context *ctx;
	struct http_parser parser;
	struct event *deadline; /* the whole request must arrive before it */
	bool busy;              /* a request is being answered */
	bool waiting;           /* ...asynchronously (the connection is paused) */
	bool orphaned;          /* the connection went while waiting */
	bool head_only;         /* HEAD: the answer has no body */
	unsigned requests;
	int64_t started_ms;
	/* the key of the current request, when it had a valid one */
	bool authed;
	struct store_apikey_view {
		int64_t id;
		char *name;
		char *domains; /* "" = every local domain */
		char *pool;
		double rate;
	} key;
	void *work; /* the handler's asynchronous state (http_send.c) */
	void (*work_free)(void *work);
};

/* Answers the current request and ends it (closing the connection when it
   must); body may be NULL. extra_headers are whole lines with CRLF, or NULL. */
void http_respond(struct http_session *s, int status, const char *content_type,
                  const char *extra_headers, const char *body, size_t len);
/* A JSON answer; takes the reference to body. */
void http_respond_json(struct http_session *s, int status, struct json_t *body,
                       const char *extra_headers);
/* {"error": {"status", "code", "message", "field"}}; field may be NULL. */
void http_error(struct http_session *s, int status, const char *code, const char *field,
                const char *fmt, ...) PRINTF_LIKE(5, 6);
/* Starts waiting for an asynchronous answer; work_free(work) runs when the
   session is freed first. */
void http_wait(struct http_session *s, void *work, void (*work_free)(void *work));
/* From an asynchronous completion: true when the session is gone (the caller
   must not touch it, and frees its work itself). */
bool http_orphaned_free(struct http_session *s);
/* Token bucket of the current key: true when a message may go now, else the
   seconds to wait in *retry_r. */
bool http_rate_take(struct http_session *s, unsigned *retry_r);
/* RFC 3339 UTC time with milliseconds. */
void http_time(int64_t ms, struct buf *out);

/* ---- handlers ------------------------------------------------------------------------ */

void http_get_health(struct http_session *s); /* http_metrics.c */
void http_get_metrics(struct http_session *s);
void http_post_message(struct http_session *s); /* http_send.c */
void http_post_raw(struct http_session *s);
void http_get_message(struct http_session *s, const char *id); /* http_receipts.c */
void http_get_events(struct http_session *s);
/* The event object of GET /v1/events (and of webhooks): a new reference. */
struct json_t *http_event_json(const struct store_api_event *ae);

#endif
