/*
 * http_server — the HTTP session: framing over a net.h connection, the request
 * deadline, routing, API keys, rate limits and answers.
 *
 * Reading. Input goes through the parser until a request is complete; then
 * the session is busy and reads nothing until it has answered (pipelined
 * requests wait in the connection's buffer, bounded by CONN_MAX_INPUT, and are
 * answered in order). A request must arrive whole before its deadline:
 * [http] request_timeout for the head (counted from the end of the previous
 * answer, so an idle keep-alive connection goes too), plus the time its body
 * needs at HTTP_MIN_BODY_RATE. Past it the answer is 408 and the connection
 * closes; a client that trickles bytes cannot hold a connection for ever.
 *
 * Errors of framing (400, 413, 414, 431, 501, 505) close the connection after
 * the answer: the rest of the input cannot be trusted to start a request.
 */
#include "http/http_internal.h"

#include "store/store.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct http_bucket {
	int64_t key_id;
	double tokens;
	int64_t last_ms;
};

static void process(struct http_session *s);

/* ---- answers ------------------------------------------------------------------------ */

static const struct {
	int status;
	const char *phrase;
} reasons[] = {
        {200, "OK"},
        {202, "Accepted"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {417, "Expectation Failed"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"},
};

static const char *reason_phrase(int status)
{
	for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].phrase;
	return "Unknown";
}

static void arm_deadline(struct http_session *s, uint64_t body_bytes)
{
	uint64_t secs = s->ctx->cfg->http_request_timeout + body_bytes / HTTP_MIN_BODY_RATE;
	struct timeval tv = {(time_t)secs, 0};
	event_add(s->deadline, &tv);
}

static void key_forget(struct http_session *s)
{
	s->authed = false;
	xfree(&s->key.name);
	xfree(&s->key.domains);
	xfree(&s->key.pool);
	memset(&s->key, 0, sizeof s->key);
}

void http_respond(struct http_session *s, int status, const char *content_type,
                  const char *extra_headers, const char *body, size_t len)
{
	struct http_request *r = &s->parser.req;
	bool framing_error = s->parser.error_status != 0 || status == 408;
	bool keep = !framing_error && r->keep_alive && s->requests + 1 < HTTP_MAX_REQUESTS;
	struct buf out = BUF_INIT;
	buf_printf(&out, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
	if (content_type)
		buf_printf(&out, "Content-Type: %s\r\n", content_type);
	buf_printf(&out, "Content-Length: %zu\r\n", body ? len : 0);
	buf_puts(&out, "Cache-Control: no-store\r\n");
	if (extra_headers)
		buf_puts(&out, extra_headers);
	if (!keep)
		buf_puts(&out, "Connection: close\r\n");
	buf_puts(&out, "\r\n");
	if (body && !s->head_only)
		buf_append(&out, body, len);
	conn_write(s->conn, out.data, out.len);
	buf_free(&out);

	s->ctx->responses[status >= 100 && status < 600 ? status : 500]++;
	struct buf path = BUF_INIT;
	const char *p = r->path ? r->path : "-";
	log_value(&path, p, strlen(p));
	log_info("http id=%s peer=%s event=request method=%s path=%s status=%d key=%s ms=%lld",
	         conn_id(s->conn), conn_peer(s->conn), r->method ? r->method : "-", buf_cstr(&path),
	         status, s->authed ? s->key.name : "-",
	         (long long)(time_mono_ms() - s->started_ms));
	buf_free(&path);

	s->requests++;
	s->busy = false;
	s->head_only = false;
	bool was_waiting = s->waiting;
	s->waiting = false;
	key_forget(s);
	http_parser_reset(&s->parser);
	if (!keep) {
		event_del(s->deadline);
		conn_close(s->conn);
		return;
	}
	arm_deadline(s, 0);
	if (was_waiting)
		conn_resume(s->conn);
}

void http_respond_json(struct http_session *s, int status, json_t *body, const char *extra_headers)
{
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		panic("http: cannot serialise a JSON answer");
	http_respond(s, status, "application/json", extra_headers, text, strlen(text));
	free(text);
}

static json_t *error_json(int status, const char *code, const char *field, const struct buf *msg)
{
	json_t *e = json_object();
	json_object_set_new(e, "status", json_integer(status));
	json_object_set_new(e, "code", json_string(code));
	/* the message may quote the client's bytes: keep it valid UTF-8 */
	json_t *m = json_stringn(msg->data ? msg->data : "", msg->len);
	json_object_set_new(e, "message", m ? m : json_string("(invalid text)"));
	if (field) {
		json_t *f = json_string(field);
		json_object_set_new(e, "field", f ? f : json_string("(invalid text)"));
	}
	json_t *body = json_object();
	json_object_set_new(body, "error", e);
	return body;
}

void http_error(struct http_session *s, int status, const char *code, const char *field,
                const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	json_t *body = error_json(status, code, field, &msg);
	buf_free(&msg);
	const char *extra = NULL;
	if (status == 401)
		extra = "WWW-Authenticate: Bearer realm=\"petrel\"\r\n";
	else if (status == 503)
		extra = "Retry-After: 5\r\n";
	http_respond_json(s, status, body, extra);
}

void http_wait(struct http_session *s, void *work, void (*work_free)(void *work))
{
	s->waiting = true;
	s->work = work;
	s->work_free = work_free;
	conn_pause(s->conn);
}

static void session_free(struct http_session *s)
{
	if (s->work && s->work_free)
		s->work_free(s->work);
	if (s->deadline)
		event_free(s->deadline);
	key_forget(s);
	http_parser_free(&s->parser);
	free(s);
}

bool http_orphaned_free(struct http_session *s)
{
	s->work = NULL;
	s->work_free = NULL;
	if (!s->orphaned)
		return false;
	session_free(s);
	return true;
}

void http_time(int64_t ms, struct buf *out)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* ---- rate limits -------------------------------------------------------------------- */

bool http_rate_take(struct http_session *s, unsigned *retry_r)
{
	struct http_context *ctx = s->ctx;
	double rate = s->key.rate;
	if (rate <= 0)
		return true;
	int64_t now = time_mono_ms();
	double burst = rate < 1 ? 1 : rate; /* one second's worth, at least one */
	struct http_bucket *b = NULL;
	for (size_t i = 0; i < ctx->nbuckets && !b; i++)
		if (ctx->buckets[i].key_id == s->key.id)
			b = &ctx->buckets[i];
	if (!b) {
		if (ctx->nbuckets == HTTP_MAX_RATE_KEYS)
			ctx->nbuckets = 0; /* forget them all: at worst one extra burst each */
		ctx->buckets = xrealloc(ctx->buckets, (ctx->nbuckets + 1) * sizeof *ctx->buckets);
		b = &ctx->buckets[ctx->nbuckets++];
		*b = (struct http_bucket){s->key.id, burst, now};
	}
	b->tokens += (double)(now - b->last_ms) / 1000.0 * rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last_ms = now;
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return true;
	}
	double wait = (1 - b->tokens) / rate;
	*retry_r = (unsigned)ceil(wait);
	if (*retry_r == 0)
		*retry_r = 1;
	return false;
}

void http_context_free(struct http_context *ctx)
{
	xfree(&ctx->buckets);
	ctx->nbuckets = 0;
}

/* ---- keys --------------------------------------------------------------------------- */

/* Checks "Authorization: Bearer KEY"; answers 401 (or 503) itself when it fails. */
static bool authenticate(struct http_session *s, bool answer)
{
	const char *h = http_request_header(&s->parser.req, "Authorization");
	const char *why = "missing Authorization: Bearer header";
	if (h) {
		const char *sp = strchr(h, ' ');
		if (!sp || (size_t)(sp - h) != 6 || strncasecmp(h, "Bearer", 6) != 0) {
			why = "the Authorization header is not 'Bearer KEY'";
		} else {
			const char *tok = sp + 1;
			while (*tok == ' ')
				tok++;
			size_t len = strlen(tok);
			if (len == 0 || len > HTTP_MAX_KEY) {
				why = "invalid API key";
			} else {
				unsigned char hash[SHA256_DIGEST_LENGTH];
				SHA256((const unsigned char *)tok, len, hash);
				struct store_apikey k = {0};
				struct buf err = BUF_INIT;
				enum store_lookup l =
				        store_apikey_find(s->ctx->store, hash, &k, &err);
				if (l == STORE_ERROR) {
					log_warn("http id=%s event=key-lookup-failed reason=\"%s\"",
					         conn_id(s->conn), buf_cstr(&err));
					buf_free(&err);
					if (answer)
						http_error(
						        s, 503, "temporary_failure", NULL,
						        "the store is not available; retry later");
					return false;
				}
				buf_free(&err);
				if (l == STORE_FOUND && !k.revoked) {
					s->authed = true;
					s->key.id = k.id;
					s->key.name = k.name;
					s->key.domains = k.domains;
					s->key.pool = k.pool;
					s->key.rate = k.rate;
					k.name = k.domains = k.pool = NULL;
					store_apikey_clear(&k);
					return true;
				}
				why = l == STORE_FOUND ? "the API key has been revoked"
				                       : "invalid API key";
				store_apikey_clear(&k);
			}
		}
	}
	if (answer) {
		s->ctx->auth_failures++;
		log_info("http id=%s peer=%s event=auth-failed reason=\"%s\"", conn_id(s->conn),
		         conn_peer(s->conn), why);
		http_error(s, 401, "unauthorized", NULL, "%s", why);
	}
	return false;
}

/* ---- routing ------------------------------------------------------------------------ */

enum route_access { ACCESS_OPEN, ACCESS_KEY, ACCESS_METRICS };

struct route {
	const char *method;
	const char *path; /* exact, or a prefix when it ends in '/' */
	enum route_access access;
	void (*fn)(struct http_session *s);
	void (*fn_id)(struct http_session *s, const char *id);
};

static const struct route routes[] = {
        {"GET", "/v1/health", ACCESS_OPEN, http_get_health, NULL},
        {"GET", "/metrics", ACCESS_METRICS, http_get_metrics, NULL},
        {"POST", "/v1/messages", ACCESS_KEY, http_post_message, NULL},
        {"POST", "/v1/messages/raw", ACCESS_KEY, http_post_raw, NULL},
        {"GET", "/v1/messages/", ACCESS_KEY, NULL, http_get_message},
        {"GET", "/v1/events", ACCESS_KEY, http_get_events, NULL},
};

static bool path_matches(const struct route *rt, const char *path, const char **id_r)
{
	size_t n = strlen(rt->path);
	if (rt->path[n - 1] != '/')
		return strcmp(path, rt->path) == 0;
	if (strncmp(path, rt->path, n) != 0 || !path[n] || strchr(path + n, '/'))
		return false;
	*id_r = path + n;
	return true;
}

static void dispatch(struct http_session *s)
{
	struct http_request *r = &s->parser.req;
	const char *method = r->method;
	if (strcmp(method, "HEAD") == 0) {
		s->head_only = true;
		method = "GET";
	}
	const struct route *found = NULL;
	const char *id = NULL;
	struct buf allow = BUF_INIT;
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		const char *rid = NULL;
		if (!path_matches(&routes[i], r->path, &rid))
			continue;
		/* an exact route wins over an id route of the same method */
		if (strcmp(routes[i].method, method) == 0 && (!found || !rid)) {
			found = &routes[i];
			id = rid;
		}
		if (!strstr(buf_cstr(&allow), routes[i].method))
			buf_printf(&allow, "%s%s", allow.len ? ", " : "", routes[i].method);
	}
	if (!found) {
		if (allow.len) {
			struct buf h = BUF_INIT;
			buf_printf(&h, "Allow: %s%s\r\n", buf_cstr(&allow),
			           strstr(buf_cstr(&allow), "GET") ? ", HEAD" : "");
			buf_free(&allow);
			struct buf msg = BUF_INIT;
			buf_printf(&msg, "%s is not allowed on %s", r->method, r->path);
			json_t *e = error_json(405, "method_not_allowed", NULL, &msg);
			buf_free(&msg);
			http_respond_json(s, 405, e, buf_cstr(&h));
			buf_free(&h);
			return;
		}
		buf_free(&allow);
		http_error(s, 404, "not_found", NULL, "no such path");
		return;
	}
	buf_free(&allow);
	/* The key, the request's own lookups (domains, recipients, idempotency
	   record) and its answer read one snapshot; it closes before the loop
	   goes on, whatever the handler left waiting. */
	struct store *st = s->ctx->store;
	store_read_begin(st);
	if ((found->access == ACCESS_KEY ||
	     (found->access == ACCESS_METRICS && !conn_is_loopback(s->conn))) &&
	    !authenticate(s, true)) {
		store_read_end(st);
		return;
	}
	if (found->fn_id)
		found->fn_id(s, id);
	else
		found->fn(s);
	store_read_end(st);
}

/* ---- the session ---------------------------------------------------------------------- */

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct http_session *s = arg;
	if (s->busy)
		return;
	if (!s->parser.started) {
		/* an idle keep-alive connection: just close it */
		log_debug("http id=%s peer=%s event=idle-close", conn_id(s->conn),
		          conn_peer(s->conn));
		conn_close(s->conn);
		return;
	}
	log_info("http id=%s peer=%s event=request-timeout", conn_id(s->conn), conn_peer(s->conn));
	s->busy = true;
	s->started_ms = time_mono_ms();
	http_error(s, 408, "request_timeout", NULL, "the request did not arrive in time");
}

static void framing_error(struct http_session *s)
{
	struct http_parser *p = &s->parser;
	s->busy = true;
	s->started_ms = time_mono_ms();
	const char *code = p->error_status == 413   ? "payload_too_large"
	                   : p->error_status == 414 ? "uri_too_long"
	                   : p->error_status == 431 ? "header_too_large"
	                   : p->error_status == 501 ? "not_implemented"
	                   : p->error_status == 505 ? "version_not_supported"
	                   : p->error_status == 417 ? "expectation_failed"
	                                            : "bad_request";
	http_error(s, p->error_status, code, NULL, "%s", p->error);
}

static void process(struct http_session *s)
{
	while (!s->busy && conn_reading(s->conn)) {
		if (conn_output_pending(s->conn) > HTTP_MAX_OUTPUT) {
			log_info("http id=%s peer=%s event=close reason=unread-answers",
			         conn_id(s->conn), conn_peer(s->conn));
			conn_close(s->conn);
			return;
		}
		/* Parse even with no input: a request without a body is complete
		   right after its head. */
		struct evbuffer *in = conn_input(s->conn);
		struct evbuffer_iovec v = {(void *)"", 0};
		size_t avail = evbuffer_get_length(in);
		if (avail && evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		size_t used = 0;
		enum http_parse_status st = http_parse(&s->parser, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		switch (st) {
		case HTTP_PARSE_MORE:
			if (avail == 0 || used == 0)
				return;
			break;
		case HTTP_PARSE_HEAD: {
			const struct http_request *r = &s->parser.req;
			uint64_t body = r->chunked ? s->parser.max_body : r->content_length;
			arm_deadline(s, body);
			if (r->expect_continue && (r->chunked || r->content_length > 0))
				conn_puts(s->conn, "HTTP/1.1 100 Continue\r\n\r\n");
			break;
		}
		case HTTP_PARSE_DONE:
			event_del(s->deadline);
			s->busy = true;
			s->started_ms = time_mono_ms();
			dispatch(s);
			break;
		case HTTP_PARSE_ERROR:
			framing_error(s);
			return;
		}
	}
}

static uint64_t max_body(const struct config *cfg)
{
	return cfg->max_message_size / 3 * 4 + HTTP_BODY_OVERHEAD;
}

static void http_open(struct conn *c)
{
	struct http_context *ctx = conn_handler_arg(c);
	struct http_session *s = xcalloc(1, sizeof *s);
	s->conn = c;
	s->ctx = ctx;
	http_parser_init(&s->parser, max_body(ctx->cfg));
	s->deadline = event_new(ctx->base, -1, 0, on_deadline, s);
	if (!s->deadline)
		panic("http: cannot create a timer");
	conn_set_data(c, s);
	arm_deadline(s, 0);
}

static void http_read(struct conn *c)
{
	process(conn_data(c));
}

static void http_closed(struct conn *c)
{
	struct http_session *s = conn_data(c);
	if (!s)
		return;
	if (s->waiting) {
		/* A store op holds the session: its completion frees it. */
		s->orphaned = true;
		event_del(s->deadline);
		return;
	}
	session_free(s);
}

const struct conn_handler http_conn_handler = {
        .proto = "http",
        .open = http_open,
        .read = http_read,
        .closed = http_closed,
        .busy_reply = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                      "Content-Length: 71\r\nRetry-After: 5\r\nConnection: close\r\n\r\n"
                      "{\"error\":{\"status\":503,\"code\":\"busy\",\"message\":\"too many "
                      "connections\"}}",
};
