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
 *
 * Webhooks (http_webhook.c) are the outbound side: the delivery events of API
 * messages, POSTed as signed JSON to the URLs of `petrel webhook`, through
 * evhttp as a client (see the dispatcher below).
 */
#ifndef PETREL_HTTP_H
#define PETREL_HTTP_H

#include "core/config.h"
#include "core/net.h"

struct store;
struct event_base;
struct work_pool;
struct queue;
struct auth_throttle;
struct http_webhooks;

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

	/* For /metrics, when running (NULL otherwise); not owned. */
	struct queue *queue;
	struct auth_throttle *throttle;
	struct http_webhooks *webhooks;
};

/* The listener's argument is a struct http_context. */
extern const struct conn_handler http_conn_handler;

void http_context_free(struct http_context *ctx);

/* ---- webhooks (http_webhook.c) ------------------------------------------------------ */

/*
 * The dispatcher runs on the loop of `petrel serve`. Every HTTP_WEBHOOK_POLL_MS
 * it asks the store whether events arrived past the webhooks' cursors and, if
 * so, submits one STORE_OP_WEBHOOK_SCAN, which turns them into pending
 * deliveries (store.h, "webhooks"); then it starts the deliveries that are due,
 * within [webhooks] max_connections in all and a quarter of that per webhook.
 * Deliveries of one message to one webhook go one at a time, in event order:
 * the store hands out only the first pending one of each.
 *
 * An attempt: the URL's host is resolved on the loop (core/dns.h; an IP literal
 * or "localhost" is not looked up), then evhttp POSTs the JSON body — the event
 * object of GET /v1/events, plus "message_id" — with Petrel-Event-Id and
 * Petrel-Signature: t=UNIX,v1=HEX, v1 = hex(HMAC-SHA256(secret, "<t>.<body>")).
 * HTTPS receivers are verified against [webhooks] ca_file, else the system's CA
 * store, for the URL's host name. A 2xx answer within [webhooks] timeout
 * delivers; anything else is retried after retry_first, doubling up to
 * retry_max, until max_age after the event, then the delivery is given up. Each
 * attempt's result is one store op; the next delivery of the message starts
 * after it commits. A test event (`petrel webhook test`) is tried once.
 *
 * Delivery is at least once: an attempt that the receiver took but whose result
 * did not commit (a crash, a shutdown) is made again. Receivers deduplicate
 * with Petrel-Event-Id.
 */
#define HTTP_WEBHOOK_POLL_MS 500
#define HTTP_WEBHOOK_SECRET_PREFIX "whsec_"
#define HTTP_WEBHOOK_MAX_RESPONSE (64 * 1024) /* a receiver's answer body is read and dropped */
#define HTTP_WEBHOOK_PRUNE_MS (3600 * 1000)   /* how often finished deliveries are pruned */

struct http_webhook_stats {
	uint64_t attempts_ok, attempts_failed, given_up;
	unsigned sending; /* attempts under way */
};

struct http_webhooks *http_webhooks_new(struct event_base *base, struct store *st,
                                        const struct config *cfg, struct buf *err);
/* After store_start. */
int http_webhooks_start(struct http_webhooks *w, struct buf *err);
/* Shutdown: attempts under way are dropped (their deliveries stay pending). */
void http_webhooks_stop(struct http_webhooks *w);
/* After store_close (which runs the last completions). */
void http_webhooks_free(struct http_webhooks **w);
void http_webhooks_stats(const struct http_webhooks *w, struct http_webhook_stats *out);

/* Checks a webhook URL as the dispatcher will use it: -1 with a reason. */
int http_webhook_url_check(const char *url, struct buf *err);
/* "t=T,v1=HEX" for body signed with secret at time t (seconds). */
void http_webhook_signature(const char *secret, int64_t t, const char *body, size_t len,
                            struct buf *out);

#endif
