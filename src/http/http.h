/*
 * http — the HTTP API (JSON over HTTP/1.1, and HTTPS on [http] listen_tls) and
 * /metrics.
 *
 * Why petrel's own HTTP/1.1 on net.h, and not libevent's evhttp. The API is one
 * more protocol of the one server, and net.h already gives every protocol what
 * the API needs and evhttp would have to be taught separately: the limits on
 * connections in total, per IP and per minute (counted with the other
 * protocols), implicit TLS with the server's certificate and its reload on
 * SIGHUP, the drain on SIGTERM, connection ids in every log line, the
 * connection gauges of /metrics, and the rule that a connection is freed
 * outside its callbacks — which is what lets a 202 wait, safely, for the commit
 * thread while the client may vanish. evhttp also has only a per-read timeout,
 * which a client sending a byte every few seconds never trips (slow loris), and
 * its request parser cannot be fuzzed on its own. What HTTP/1.1 needs of a JSON
 * API server is small: http_parse.c is a pure push parser (request line,
 * header fields, Content-Length and chunked bodies, every limit named below)
 * with a unit test that splits requests at every byte and a fuzzer; the
 * session (http_server.c) adds keep-alive, pipelining in order, Expect:
 * 100-continue and a deadline for the whole request. evhttp remains the choice
 * for the outbound side (webhook deliveries), where it is a client.
 *
 * Requests and answers (docs/api.md is the reference): Authorization: Bearer
 * KEY on every /v1 path but /v1/health, looked up on every request so that a
 * revoked key stops at once; JSON errors {"error": {"status", "code",
 * "message", "field"}} that name the failing field; a send is answered 202 only
 * from the completion of its store op, i.e. once it is durable.
 */
#ifndef PETREL_HTTP_H
#define PETREL_HTTP_H

#include "core/config.h"
#include "core/net.h"

struct store;
struct event_base;
struct work_pool;

/* ---- limits ------------------------------------------------------------------------ */

#define HTTP_MAX_HEAD (16 * 1024)      /* request line and header fields: 431 past it */
#define HTTP_MAX_TARGET (8 * 1024)     /* the request target: 414 past it */
#define HTTP_MAX_HEADERS 100           /* header fields: 431 past it */
#define HTTP_MAX_CHUNK_LINE 1024       /* a chunk-size line with its extensions */
#define HTTP_BODY_OVERHEAD (64 * 1024) /* body limit = max_message_size * 4/3 + this */
#define HTTP_MIN_BODY_RATE                                                                         \
	(64 * 1024)                       /* bytes/s a body must keep up, on top of the            \
	                                     request timeout */
#define HTTP_MAX_OUTPUT (8 * 1024 * 1024) /* unread answers before the connection closes */
#define HTTP_MAX_REQUESTS 10000           /* requests on one connection */
#define HTTP_MAX_KEY 256                  /* bytes of a bearer token */
#define HTTP_MAX_IDEMPOTENCY_KEY 255
#define HTTP_MAX_ATTACHMENTS 100
#define HTTP_MAX_TAGS 10
#define HTTP_MAX_TAG 128
#define HTTP_MAX_METADATA 4096   /* bytes of the metadata object as JSON */
#define HTTP_MAX_RATE_KEYS 10000 /* keys with a token bucket in memory */

/* ---- the server -------------------------------------------------------------------- */

struct http_bucket; /* a key's token bucket (rate limit) */

struct http_context {
	struct store *store;
	const struct config *cfg; /* the server's live configuration */
	struct event_base *base;
	struct net *net; /* for the connection gauges of /metrics */
	struct work_pool *workers; /* DKIM signatures off the loop */

	/* Owned; http_context_free releases them. */
	struct http_bucket *buckets;
	size_t nbuckets;
	uint64_t responses[600]; /* by status code */
	uint64_t auth_failures;
};

/* The listener's argument is a struct http_context. */
extern const struct conn_handler http_conn_handler;

void http_context_free(struct http_context *ctx);

#endif
