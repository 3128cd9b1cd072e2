/*
 * http_webhook — the webhook dispatcher (http.h says what it does): scans for
 * new events, attempts over libevent's evhttp as a client, their results in
 * the store, and the signature.
 *
 * An attempt (struct wh_send) lives from the moment the store hands out its
 * delivery until the op recording its result has committed: while it lives,
 * the delivery is not handed out again, and the next delivery of the same
 * message is not handed out either (the store sees this one still pending). Its
 * evhttp connection is freed only with it, never inside an evhttp callback. An
 * attempt that outlasts [webhooks] timeout (a receiver that trickles its
 * answer) is cut off by its own timer; whatever evhttp reports later is
 * ignored.
 */
#include "http/http_internal.h"

#include "core/dns.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESPONSE_HEADERS (16 * 1024)

/* Where a URL points. */
struct wh_target {
	bool https;
	char *host;        /* without brackets */
	unsigned port;     /* the default one filled in */
	char *host_header; /* host[:port] as the Host field */
	char *target;      /* path and query, at least "/" */
};

struct wh_send {
	struct http_webhooks *w;
	struct wh_send *next, *prev;
	int64_t id, webhook_id;
	bool test;
	unsigned attempts; /* made before this one */
	int64_t created_ms;
	char *secret;
	struct wh_target to;
	char event_id[32];
	struct buf body;
	int64_t started_ms;

	struct dns_query *dnsq;
	struct evhttp_connection *evcon;
	struct event *deadline;
	enum evhttp_request_error req_error;
	bool has_req_error;

	int status; /* the receiver's, 0 when none */
	struct buf error;
	bool done; /* the result op is submitted */
	struct store_op op;
};

struct http_webhooks {
	struct event_base *base;
	struct store *st;
	const struct config *cfg;
	struct dns *dns;
	char *dns_resolver; /* what dns was made for */
	SSL_CTX *tls;
	char *tls_ca_file; /* what tls was made from */
	struct event *timer;
	bool started, stopping, scanning;
	struct store_op scan_op;
	int64_t next_prune_ms;
	struct wh_send *sends;
	unsigned nsends;
	struct http_webhook_stats stats;
};

static void dispatch(struct http_webhooks *w);

/* ---- URLs and signatures ------------------------------------------------------------- */

static void target_free(struct wh_target *t)
{
	xfree(&t->host);
	xfree(&t->host_header);
	xfree(&t->target);
}

static bool ip_literal(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

static int target_parse(const char *url, struct wh_target *t, struct buf *err)
{
	memset(t, 0, sizeof *t);
	size_t len = strlen(url);
	if (len == 0 || len > STORE_WEBHOOK_MAX_URL) {
		buf_printf(err, "a URL is 1 to %d bytes", STORE_WEBHOOK_MAX_URL);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f) {
			buf_puts(err, "a URL has no blanks or control characters");
			return -1;
		}
	struct evhttp_uri *u = evhttp_uri_parse_with_flags(url, 0);
	if (!u) {
		buf_puts(err, "not a URL");
		return -1;
	}
	const char *scheme = evhttp_uri_get_scheme(u);
	const char *host = evhttp_uri_get_host(u);
	int port = evhttp_uri_get_port(u);
	int r = -1;
	if (!scheme || (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
		buf_puts(err, "the URL must start with http:// or https://");
		goto out;
	}
	if (!host || !*host) {
		buf_puts(err, "the URL has no host");
		goto out;
	}
	if (evhttp_uri_get_userinfo(u)) {
		buf_puts(err, "the URL must not hold a user name or password");
		goto out;
	}
	if (port == 0 || port > 65535) {
		buf_puts(err, "the URL's port must be 1 to 65535");
		goto out;
	}
	t->https = strcasecmp(scheme, "https") == 0;
	size_t hl = strlen(host);
	bool bracketed = host[0] == '[' && hl > 2 && host[hl - 1] == ']';
	t->host = bracketed ? xstrndup(host + 1, hl - 2) : xstrdup(host);
	unsigned def = t->https ? 443 : 80;
	t->port = port > 0 ? (unsigned)port : def;
	t->host_header = t->port == def ? xstrdup(host) : xasprintf("%s:%u", host, t->port);
	const char *path = evhttp_uri_get_path(u), *query = evhttp_uri_get_query(u);
	t->target = xasprintf("%s%s%s", path && *path ? path : "/", query ? "?" : "",
	                      query ? query : "");
	r = 0;
out:
	evhttp_uri_free(u);
	if (r < 0)
		target_free(t);
	return r;
}

int http_webhook_url_check(const char *url, struct buf *err)
{
	struct wh_target t;
	if (target_parse(url, &t, err) < 0)
		return -1;
	target_free(&t);
	return 0;
}

void http_webhook_signature(const char *secret, int64_t t, const char *body, size_t len,
                            struct buf *out)
{
	struct buf msg = BUF_INIT;
	buf_printf(&msg, "%lld.", (long long)t);
	buf_append(&msg, body, len);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg.data, msg.len,
	     mac, &maclen);
	buf_printf(out, "t=%lld,v1=", (long long)t);
	hex_encode(out, mac, maclen);
	buf_free(&msg);
}

/* ---- TLS and DNS ----------------------------------------------------------------------- */

static SSL_CTX *client_ctx(const char *ca_file, struct buf *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		buf_puts(err, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	int ok = *ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
	                  : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		char e[256];
		ERR_error_string_n(ERR_get_error(), e, sizeof e);
		buf_printf(err, "[webhooks] ca_file %s: %s", *ca_file ? ca_file : "(system)", e);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Follows SIGHUP: a new CA file or resolver is taken up when it can be. */
static void refresh(struct http_webhooks *w)
{
	struct buf err = BUF_INIT;
	if (strcmp(w->cfg->webhook_ca_file, w->tls_ca_file) != 0) {
		SSL_CTX *ctx = client_ctx(w->cfg->webhook_ca_file, &err);
		if (ctx) {
			SSL_CTX_free(w->tls); /* live connections hold their own reference */
			w->tls = ctx;
		} else {
			log_error("webhook event=reload result=error reason=\"%s\"",
			          buf_cstr(&err));
		}
		free(w->tls_ca_file);
		w->tls_ca_file = xstrdup(w->cfg->webhook_ca_file);
	}
	bool resolving = false;
	for (struct wh_send *s = w->sends; s && !resolving; s = s->next)
		resolving = s->dnsq != NULL;
	if (!resolving && strcmp(w->cfg->dns_resolver, w->dns_resolver) != 0) {
		buf_reset(&err);
		struct dns *d = dns_new(w->base, w->cfg->dns_resolver, &err);
		if (d) {
			dns_free(&w->dns);
			w->dns = d;
		} else {
			log_error("webhook event=reload result=error reason=\"%s\"",
			          buf_cstr(&err));
		}
		free(w->dns_resolver);
		w->dns_resolver = xstrdup(w->cfg->dns_resolver);
	}
	buf_free(&err);
}

/* ---- attempts ---------------------------------------------------------------------------- */

static void send_free(struct wh_send *s)
{
	struct http_webhooks *w = s->w;
	if (s->prev)
		s->prev->next = s->next;
	else
		w->sends = s->next;
	if (s->next)
		s->next->prev = s->prev;
	w->nsends--;
	dns_cancel(&s->dnsq);
	if (s->evcon)
		evhttp_connection_free(s->evcon);
	if (s->deadline)
		event_free(s->deadline);
	store_op_clear(&s->op);
	target_free(&s->to);
	free(s->secret);
	buf_free(&s->body);
	buf_free(&s->error);
	free(s);
}

/* Milliseconds to wait after the n-th failed attempt (n >= 1). */
static int64_t retry_delay_ms(const struct config *cfg, unsigned n)
{
	uint64_t d = cfg->webhook_retry_first;
	for (unsigned i = 1; i < n && d < cfg->webhook_retry_max; i++)
		d *= 2;
	if (d > cfg->webhook_retry_max)
		d = cfg->webhook_retry_max;
	return (int64_t)d * 1000;
}

static void committed(struct store_op *op, void *arg)
{
	struct wh_send *s = arg;
	struct http_webhooks *w = s->w;
	if (op->result < 0) {
		/* The delivery stays pending in the store: it is tried again. */
		struct buf v = BUF_INIT;
		log_value(&v, buf_cstr(&op->err), op->err.len);
		log_error("webhook id=%lld event=result-not-recorded reason=%s", (long long)s->id,
		          buf_cstr(&v));
		buf_free(&v);
	}
	send_free(s);
	dispatch(w);
}

/* The attempt is over: record its result. */
static void finish(struct wh_send *s)
{
	struct http_webhooks *w = s->w;
	const struct config *cfg = w->cfg;
	if (s->done)
		return;
	s->done = true;
	if (s->deadline)
		event_del(s->deadline);
	dns_cancel(&s->dnsq);
	int64_t now = time_now_ms();
	bool ok = s->status >= 200 && s->status <= 299;
	if (!ok && s->error.len == 0)
		buf_printf(&s->error, "HTTP %d", s->status);
	int64_t deadline = s->created_ms + (int64_t)cfg->webhook_max_age * 1000;
	bool give_up = !ok && (s->test || now >= deadline);
	int64_t next = 0;
	if (!ok && !give_up) {
		next = now + retry_delay_ms(cfg, s->attempts + 1);
		next = next < deadline ? next : deadline;
	}
	if (ok)
		w->stats.attempts_ok++;
	else
		w->stats.attempts_failed++;
	w->stats.given_up += give_up;
	struct buf v = BUF_INIT;
	if (!ok)
		log_value(&v, buf_cstr(&s->error), s->error.len);
	log_info("webhook id=%lld hook=%lld event_id=%s host=%s attempt=%u status=%d ms=%lld "
	         "result=%s%s%s",
	         (long long)s->id, (long long)s->webhook_id, s->event_id, s->to.host,
	         s->attempts + 1, s->status, (long long)(now - s->started_ms),
	         ok        ? "delivered"
	         : give_up ? "given-up"
	                   : "retry",
	         ok ? "" : " reason=", buf_cstr(&v));
	buf_free(&v);
	store_op_init(&s->op, STORE_OP_WEBHOOK_RESULT);
	s->op.u.webhook.delivery_id = s->id;
	s->op.u.webhook.now_ms = now;
	s->op.u.webhook.ok = ok;
	s->op.u.webhook.give_up = give_up;
	s->op.u.webhook.status = s->status;
	s->op.u.webhook.error = ok ? NULL : buf_cstr(&s->error);
	s->op.u.webhook.next_attempt_ms = next;
	store_submit(w->st, &s->op, committed, s);
}

static void fail(struct wh_send *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void fail(struct wh_send *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_reset(&s->error);
	buf_vprintf(&s->error, fmt, ap);
	va_end(ap);
	s->status = 0;
	finish(s);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	fail(arg, "no answer within %llus",
	     (unsigned long long)((struct wh_send *)arg)->w->cfg->webhook_timeout);
}

static void on_request_error(enum evhttp_request_error e, void *arg)
{
	struct wh_send *s = arg;
	s->req_error = e;
	s->has_req_error = true;
}

/* Why a request got no answer, in words. */
static void no_answer_reason(struct wh_send *s, struct buf *out)
{
	struct bufferevent *bev = s->evcon ? evhttp_connection_get_bufferevent(s->evcon) : NULL;
	SSL *ssl = s->to.https && bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	if (ssl) {
		long v = SSL_get_verify_result(ssl);
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (v != X509_V_OK) {
			buf_printf(out, "TLS: certificate not verified (%s)",
			           X509_verify_cert_error_string(v));
			return;
		}
		if (e) {
			char t[256];
			ERR_error_string_n(e, t, sizeof t);
			buf_printf(out, "TLS: %s", t);
			return;
		}
	}
	const char *why = "connection failed";
	if (s->has_req_error) {
		switch (s->req_error) {
		case EVREQ_HTTP_TIMEOUT:
			why = "timed out";
			break;
		case EVREQ_HTTP_EOF:
			why = "connection closed without an answer";
			break;
		case EVREQ_HTTP_INVALID_HEADER:
			why = "invalid HTTP answer";
			break;
		case EVREQ_HTTP_DATA_TOO_LONG:
			why = "answer too long";
			break;
		default:
			break;
		}
	}
	buf_puts(out, why);
}

static void on_response(struct evhttp_request *req, void *arg)
{
	struct wh_send *s = arg;
	if (s->done)
		return;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	if (code <= 0) {
		struct buf why = BUF_INIT;
		no_answer_reason(s, &why);
		fail(s, "%s", buf_cstr(&why));
		buf_free(&why);
		return;
	}
	s->status = code;
	finish(s);
}

static void connect_to(struct wh_send *s, const char *ip)
{
	struct http_webhooks *w = s->w;
	struct bufferevent *bev;
	if (s->to.https) {
		if (!w->tls) {
			fail(s, "TLS: no CA certificates loaded");
			return;
		}
		SSL *ssl = SSL_new(w->tls);
		if (!ip_literal(s->to.host)) {
			SSL_set_tlsext_host_name(ssl, s->to.host);
			SSL_set1_host(ssl, s->to.host);
		} else {
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), s->to.host);
		}
		bev = bufferevent_openssl_socket_new(w->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		                                     BEV_OPT_CLOSE_ON_FREE |
		                                             BEV_OPT_DEFER_CALLBACKS);
		if (bev)
			bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
		else
			SSL_free(ssl);
	} else {
		bev = bufferevent_socket_new(w->base, -1,
		                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	}
	if (!bev) {
		fail(s, "cannot make a connection");
		return;
	}
	s->evcon = evhttp_connection_base_bufferevent_new(w->base, NULL, bev, ip,
	                                                  (unsigned short)s->to.port);
	if (!s->evcon) {
		bufferevent_free(bev);
		fail(s, "cannot make a connection");
		return;
	}
	evhttp_connection_set_timeout(s->evcon, (int)w->cfg->webhook_timeout);
	evhttp_connection_set_max_body_size(s->evcon, HTTP_WEBHOOK_MAX_RESPONSE);
	evhttp_connection_set_max_headers_size(s->evcon, MAX_RESPONSE_HEADERS);
	struct evhttp_request *req = evhttp_request_new(on_response, s);
	evhttp_request_set_error_cb(req, on_request_error);
	struct buf sig = BUF_INIT;
	http_webhook_signature(s->secret, time_now_ms() / 1000, s->body.data, s->body.len, &sig);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", s->to.host_header);
	evhttp_add_header(h, "User-Agent", "petrel/" PETREL_VERSION);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Petrel-Event-Id", s->event_id);
	evhttp_add_header(h, "Petrel-Signature", buf_cstr(&sig));
	evhttp_add_header(h, "Connection", "close");
	evbuffer_add(evhttp_request_get_output_buffer(req), s->body.data, s->body.len);
	buf_free(&sig);
	if (evhttp_make_request(s->evcon, req, EVHTTP_REQ_POST, s->to.target) < 0)
		fail(s, "cannot send the request");
}

static void on_resolved(enum dns_result r, char *const *addrs, size_t n, const char *why, void *arg)
{
	struct wh_send *s = arg;
	s->dnsq = NULL;
	if (r != DNS_OK || n == 0) {
		fail(s, "DNS: %s %s%s%s", s->to.host, dns_result_name(r), *why ? ": " : "", why);
		return;
	}
	connect_to(s, addrs[0]);
}

static json_t *test_event(const struct wh_send *s)
{
	struct buf t = BUF_INIT;
	http_time(time_now_ms(), &t);
	json_t *o =
	        json_pack("{s:s,s:s,s:s}", "id", s->event_id, "type", "test", "at", buf_cstr(&t));
	buf_free(&t);
	return o;
}

static void send_start(struct http_webhooks *w, const struct store_webhook_delivery *d)
{
	struct wh_send *s = xcalloc(1, sizeof *s);
	s->w = w;
	s->id = d->id;
	s->webhook_id = d->webhook_id;
	s->test = d->test;
	s->attempts = d->attempts;
	s->created_ms = d->created_ms;
	s->secret = xstrdup(d->secret ? d->secret : "");
	s->started_ms = time_now_ms();
	s->next = w->sends;
	if (w->sends)
		w->sends->prev = s;
	w->sends = s;
	w->nsends++;
	json_t *o;
	if (d->test) {
		snprintf(s->event_id, sizeof s->event_id, "test_%lld", (long long)d->id);
		o = test_event(s);
	} else {
		snprintf(s->event_id, sizeof s->event_id, "%lld", (long long)d->ev.e.id);
		o = http_event_json(&d->ev);
		if (d->ev.message_id && *d->ev.message_id) {
			json_t *mid = json_string(d->ev.message_id);
			if (mid)
				json_object_set_new(o, "message_id", mid);
		}
	}
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	buf_puts(&s->body, text ? text : "{}");
	free(text);

	struct buf err = BUF_INIT;
	if (target_parse(d->url ? d->url : "", &s->to, &err) < 0) {
		s->to.host = xstrdup("-");
		fail(s, "%s", buf_cstr(&err));
		buf_free(&err);
		return;
	}
	buf_free(&err);
	s->deadline = evtimer_new(w->base, on_deadline, s);
	struct timeval tv = {(time_t)w->cfg->webhook_timeout, 0};
	evtimer_add(s->deadline, &tv);
	if (ip_literal(s->to.host))
		connect_to(s, s->to.host);
	else if (strcasecmp(s->to.host, "localhost") == 0)
		connect_to(s, "127.0.0.1");
	else
		s->dnsq = dns_lookup_addrs(w->dns, s->to.host, on_resolved, s);
}

struct due {
	struct http_webhooks *w;
	unsigned max, per_hook;
};

static void due_one(const struct store_webhook_delivery *d, void *arg)
{
	struct due *du = arg;
	struct http_webhooks *w = du->w;
	if (w->nsends >= du->max)
		return;
	unsigned same = 0;
	for (struct wh_send *s = w->sends; s; s = s->next) {
		if (s->id == d->id)
			return; /* under way */
		same += s->webhook_id == d->webhook_id;
	}
	if (same < du->per_hook)
		send_start(w, d);
}

static void dispatch(struct http_webhooks *w)
{
	if (!w->started || w->stopping)
		return;
	struct due du = {w, (unsigned)w->cfg->webhook_max_connections, 0};
	du.per_hook = du.max / 4 ? du.max / 4 : 1;
	if (w->nsends >= du.max)
		return;
	struct buf err = BUF_INIT;
	/* more than the free slots: some are under way, some wait for their webhook */
	size_t limit = (size_t)w->nsends + (size_t)du.max * 4;
	if (store_webhook_due(w->st, time_now_ms(), limit, due_one, &du, &err) < 0)
		log_warn("webhook event=due-failed reason=\"%s\"", buf_cstr(&err));
	buf_free(&err);
}

/* ---- scans and the poll ------------------------------------------------------------------ */

static void scanned(struct store_op *op, void *arg)
{
	struct http_webhooks *w = arg;
	w->scanning = false;
	if (op->result < 0)
		log_warn("webhook event=scan-failed reason=\"%s\"", buf_cstr(&op->err));
	else if (op->u.webhook.count_r)
		log_debug("webhook event=scan deliveries=%zu", op->u.webhook.count_r);
	size_t n = op->result < 0 ? 0 : op->u.webhook.count_r;
	store_op_clear(op);
	if (n)
		dispatch(w);
}

static void scan(struct http_webhooks *w)
{
	if (w->scanning)
		return;
	uint64_t pending = 0, unscanned = 0;
	int64_t oldest = 0, now = time_now_ms();
	struct buf err = BUF_INIT;
	if (store_webhook_backlog(w->st, &pending, &oldest, &unscanned, &err) < 0) {
		log_warn("webhook event=backlog-failed reason=\"%s\"", buf_cstr(&err));
		buf_free(&err);
		return;
	}
	buf_free(&err);
	bool prune = now >= w->next_prune_ms;
	if (unscanned == 0 && !prune)
		return;
	if (prune)
		w->next_prune_ms = now + HTTP_WEBHOOK_PRUNE_MS;
	store_op_init(&w->scan_op, STORE_OP_WEBHOOK_SCAN);
	w->scan_op.u.webhook.now_ms = now;
	w->scan_op.u.webhook.prune = prune;
	w->scanning = true;
	store_submit(w->st, &w->scan_op, scanned, w);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct http_webhooks *w = arg;
	if (w->stopping)
		return;
	refresh(w);
	scan(w);
	dispatch(w);
}

/* ---- the dispatcher ------------------------------------------------------------------------ */

struct http_webhooks *http_webhooks_new(struct event_base *base, struct store *st,
                                        const struct config *cfg, struct buf *err)
{
	struct http_webhooks *w = xcalloc(1, sizeof *w);
	w->base = base;
	w->st = st;
	w->cfg = cfg;
	w->tls = client_ctx(cfg->webhook_ca_file, err);
	w->dns = w->tls ? dns_new(base, cfg->dns_resolver, err) : NULL;
	if (!w->tls || !w->dns) {
		http_webhooks_free(&w);
		return NULL;
	}
	w->tls_ca_file = xstrdup(cfg->webhook_ca_file);
	w->dns_resolver = xstrdup(cfg->dns_resolver);
	w->timer = event_new(base, -1, EV_PERSIST, on_tick, w);
	return w;
}

int http_webhooks_start(struct http_webhooks *w, struct buf *err)
{
	w->started = true;
	struct timeval tv = {HTTP_WEBHOOK_POLL_MS / 1000, (HTTP_WEBHOOK_POLL_MS % 1000) * 1000};
	if (event_add(w->timer, &tv) < 0) {
		buf_puts(err, "cannot start the webhook timer");
		return -1;
	}
	event_active(w->timer, EV_TIMEOUT, 0); /* a first look now */
	return 0;
}

void http_webhooks_stop(struct http_webhooks *w)
{
	if (!w)
		return;
	w->stopping = true;
	if (w->timer)
		event_del(w->timer);
	/* Attempts under way are dropped; those whose result is being recorded
	   are freed by its completion. */
	struct wh_send *s = w->sends;
	while (s) {
		struct wh_send *next = s->next;
		if (!s->done)
			send_free(s);
		s = next;
	}
}

void http_webhooks_free(struct http_webhooks **wp)
{
	struct http_webhooks *w = *wp;
	if (!w)
		return;
	while (w->sends)
		send_free(w->sends);
	if (w->scanning)
		panic("http_webhooks_free: a scan is still being committed");
	if (w->timer)
		event_free(w->timer);
	dns_free(&w->dns);
	SSL_CTX_free(w->tls);
	free(w->tls_ca_file);
	free(w->dns_resolver);
	free(w);
	*wp = NULL;
}

void http_webhooks_stats(const struct http_webhooks *w, struct http_webhook_stats *out)
{
	*out = w->stats;
	out->sending = w->nsends;
}
