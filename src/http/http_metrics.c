/*
 * http_metrics — GET /v1/health and GET /metrics (Prometheus text format 0.0.4).
 *
 * /metrics is open to loopback peers (the usual scraper runs beside the
 * server) and to any valid key from elsewhere. Counters count since the
 * server started; gauges are read when scraped (the queue gauges are one
 * indexed query, the webhook backlog another). Outbound outcomes and the
 * delivery latency histogram come from the queue runner (queue.h), failed
 * mail logins from the login throttle (auth.h), webhook attempts from the
 * dispatcher.
 */
#include "http/http_internal.h"

#include "auth/auth.h"
#include "queue/queue.h"
#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void http_get_health(struct http_session *s)
{
	struct buf err = BUF_INIT;
	/* one read through the store: it answers, so the server can take mail */
	enum store_lookup l = store_domain_exists(s->ctx->store, "health.invalid", &err);
	buf_free(&err);
	json_t *body = json_object();
	json_object_set_new(body, "status", json_string(l == STORE_ERROR ? "unavailable" : "ok"));
	json_object_set_new(body, "version", json_string(PETREL_VERSION));
	http_respond_json(s, l == STORE_ERROR ? 503 : 200, body, NULL);
}

struct metrics {
	struct buf *out;
	bool seen_smtp, seen_submission, seen_api;
};

static void received_row(const char *source, uint64_t n, void *arg)
{
	struct metrics *m = arg;
	m->seen_smtp |= strcmp(source, "smtp") == 0;
	m->seen_submission |= strcmp(source, "submission") == 0;
	m->seen_api |= strcmp(source, "api") == 0;
	/* sources are the protocols' own literal names */
	buf_printf(m->out, "petrel_messages_received_total{protocol=\"%s\"} %llu\n",
	           strpbrk(source, "\"\\\n") ? "other" : source, (unsigned long long)n);
}

static void listener_row(const char *name, size_t open, void *arg)
{
	struct metrics *m = arg;
	buf_printf(m->out, "petrel_connections{listener=\"%s\"} %zu\n", name, open);
}

static void delivery_metrics(struct http_context *ctx, struct buf *out)
{
	struct queue_stats qs = {0};
	if (ctx->queue)
		queue_stats_get(ctx->queue, &qs);
	buf_printf(out,
	           "# HELP petrel_deliveries_total Outcomes of outbound delivery attempts, by "
	           "result, per recipient.\n"
	           "# TYPE petrel_deliveries_total counter\n"
	           "petrel_deliveries_total{result=\"delivered\"} %llu\n"
	           "petrel_deliveries_total{result=\"deferred\"} %llu\n"
	           "petrel_deliveries_total{result=\"bounced\"} %llu\n"
	           "petrel_deliveries_total{result=\"expired\"} %llu\n",
	           (unsigned long long)qs.delivered, (unsigned long long)qs.deferred,
	           (unsigned long long)qs.bounced, (unsigned long long)qs.expired);
	buf_puts(out, "# HELP petrel_delivery_latency_seconds Time from queueing to delivery of "
	              "outbound recipients.\n"
	              "# TYPE petrel_delivery_latency_seconds histogram\n");
	uint64_t n = 0;
	for (size_t b = 0; b < QUEUE_LATENCY_BUCKETS; b++) {
		n += qs.latency[b];
		char le[32] = "+Inf";
		if (b < QUEUE_LATENCY_BUCKETS - 1)
			snprintf(le, sizeof le, "%g", queue_latency_bounds[b]);
		buf_printf(out, "petrel_delivery_latency_seconds_bucket{le=\"%s\"} %llu\n", le,
		           (unsigned long long)n);
	}
	buf_printf(out,
	           "petrel_delivery_latency_seconds_sum %.3f\n"
	           "petrel_delivery_latency_seconds_count %llu\n",
	           qs.latency_sum, (unsigned long long)n);
}

static void webhook_metrics(struct http_context *ctx, struct buf *out)
{
	uint64_t pending = 0, unscanned = 0;
	int64_t oldest = 0;
	struct buf err = BUF_INIT;
	if (store_webhook_backlog(ctx->store, &pending, &oldest, &unscanned, &err) == 0) {
		int64_t age = oldest ? (time_now_ms() - oldest) / 1000 : 0;
		buf_printf(out,
		           "# HELP petrel_webhook_deliveries_pending Webhook deliveries not yet "
		           "accepted by their receiver (the backlog).\n"
		           "# TYPE petrel_webhook_deliveries_pending gauge\n"
		           "petrel_webhook_deliveries_pending %llu\n"
		           "# HELP petrel_webhook_oldest_pending_age_seconds Age of the oldest "
		           "pending webhook delivery.\n"
		           "# TYPE petrel_webhook_oldest_pending_age_seconds gauge\n"
		           "petrel_webhook_oldest_pending_age_seconds %lld\n"
		           "# HELP petrel_webhook_events_unscanned Delivery events not yet looked "
		           "at for some webhook.\n"
		           "# TYPE petrel_webhook_events_unscanned gauge\n"
		           "petrel_webhook_events_unscanned %llu\n",
		           (unsigned long long)pending, (long long)(age > 0 ? age : 0),
		           (unsigned long long)unscanned);
	}
	buf_free(&err);
	struct http_webhook_stats ws = {0};
	if (ctx->webhooks)
		http_webhooks_stats(ctx->webhooks, &ws);
	buf_printf(out,
	           "# HELP petrel_webhook_attempts_total Webhook requests, by result "
	           "(delivered: a 2xx answer).\n"
	           "# TYPE petrel_webhook_attempts_total counter\n"
	           "petrel_webhook_attempts_total{result=\"delivered\"} %llu\n"
	           "petrel_webhook_attempts_total{result=\"failed\"} %llu\n"
	           "# HELP petrel_webhook_deliveries_given_up_total Webhook deliveries given up "
	           "after [webhooks] max_age.\n"
	           "# TYPE petrel_webhook_deliveries_given_up_total counter\n"
	           "petrel_webhook_deliveries_given_up_total %llu\n",
	           (unsigned long long)ws.attempts_ok, (unsigned long long)ws.attempts_failed,
	           (unsigned long long)ws.given_up);
}

void http_get_metrics(struct http_session *s)
{
	struct http_context *ctx = s->ctx;
	struct buf out = BUF_INIT;
	struct metrics m = {.out = &out};

	buf_puts(&out, "# HELP petrel_messages_received_total Messages accepted and stored "
	               "durably, by the protocol they came in by.\n"
	               "# TYPE petrel_messages_received_total counter\n");
	store_stats_received(ctx->store, received_row, &m);
	if (!m.seen_smtp)
		buf_puts(&out, "petrel_messages_received_total{protocol=\"smtp\"} 0\n");
	if (!m.seen_submission)
		buf_puts(&out, "petrel_messages_received_total{protocol=\"submission\"} 0\n");
	if (!m.seen_api)
		buf_puts(&out, "petrel_messages_received_total{protocol=\"api\"} 0\n");

	buf_puts(&out, "# HELP petrel_connections Open client connections, by listener.\n"
	               "# TYPE petrel_connections gauge\n");
	if (ctx->net)
		net_listener_counts(ctx->net, listener_row, &m);

	uint64_t queued = 0, deferred = 0;
	int64_t oldest = 0;
	struct buf err = BUF_INIT;
	if (store_stats_queue(ctx->store, &queued, &deferred, &oldest, &err) == 0) {
		int64_t age = oldest ? (int64_t)time(NULL) - oldest : 0;
		buf_printf(&out,
		           "# HELP petrel_queue_recipients Recipients waiting in the outbound "
		           "queue, by state.\n"
		           "# TYPE petrel_queue_recipients gauge\n"
		           "petrel_queue_recipients{state=\"queued\"} %llu\n"
		           "petrel_queue_recipients{state=\"deferred\"} %llu\n"
		           "# HELP petrel_queue_oldest_age_seconds Age of the oldest message "
		           "with a waiting recipient.\n"
		           "# TYPE petrel_queue_oldest_age_seconds gauge\n"
		           "petrel_queue_oldest_age_seconds %lld\n",
		           (unsigned long long)queued, (unsigned long long)deferred,
		           (long long)(age > 0 ? age : 0));
	}
	buf_free(&err);

	buf_puts(&out, "# HELP petrel_http_responses_total HTTP API answers, by status code.\n"
	               "# TYPE petrel_http_responses_total counter\n");
	for (int code = 100; code < 600; code++)
		if (ctx->responses[code])
			buf_printf(&out, "petrel_http_responses_total{code=\"%d\"} %llu\n", code,
			           (unsigned long long)ctx->responses[code]);
	buf_printf(&out,
	           "# HELP petrel_http_auth_failures_total Requests refused for a missing, "
	           "unknown or revoked API key.\n"
	           "# TYPE petrel_http_auth_failures_total counter\n"
	           "petrel_http_auth_failures_total %llu\n",
	           (unsigned long long)ctx->auth_failures);
	buf_printf(&out,
	           "# HELP petrel_login_failures_total Failed logins over SMTP, IMAP and POP3.\n"
	           "# TYPE petrel_login_failures_total counter\n"
	           "petrel_login_failures_total %llu\n",
	           (unsigned long long)(ctx->throttle ? auth_throttle_failures_total(ctx->throttle)
	                                              : 0));
	delivery_metrics(ctx, &out);
	webhook_metrics(ctx, &out);
	http_respond(s, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, out.data, out.len);
	buf_free(&out);
}
