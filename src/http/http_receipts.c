/*
 * http_receipts — GET /v1/messages/{id} (a message and, per recipient, its
 * status and every delivery event) and GET /v1/events (the key's events in
 * commit order, paged by a cursor).
 *
 * Both read the store's append-only event log (store_event_list,
 * store_api_events): a recipient's status is the kind of its latest event.
 * The cursor is an event id; because ids grow in commit order, a page never
 * misses an event that a later commit adds before it.
 */
#include "http/http_internal.h"

#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EVENTS_DEFAULT_LIMIT 100

static void set_str(json_t *o, const char *key, const char *v)
{
	if (!v || !*v)
		return;
	json_t *s = json_string(v);
	if (!s) /* not UTF-8: a remote reply in some other charset */
		s = json_string("(not UTF-8)");
	json_object_set_new(o, key, s);
}

/* "250 2.0.0 Ok: queued" -> {"code": 250, "enhanced": "2.0.0", "text": "Ok: queued"} */
static json_t *reply_json(const char *reply)
{
	json_t *r = json_object();
	const char *p = reply;
	if (p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
	    p[2] <= '9' && (p[3] == ' ' || p[3] == '-' || p[3] == '\0')) {
		json_object_set_new(
		        r, "code",
		        json_integer((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0')));
		p += 3;
		while (*p == ' ' || *p == '-')
			p++;
		/* enhanced status code: class.subject.detail (RFC 3463) */
		size_t n = 0, dots = 0;
		bool ok = (p[0] == '2' || p[0] == '4' || p[0] == '5') && p[1] == '.';
		while (ok && (p[n] == '.' || (p[n] >= '0' && p[n] <= '9'))) {
			dots += p[n] == '.';
			n++;
		}
		if (ok && dots == 2 && n >= 5 && n <= 9 && p[n - 1] != '.' &&
		    (p[n] == ' ' || p[n] == '\0')) {
			char enh[10];
			memcpy(enh, p, n);
			enh[n] = '\0';
			json_object_set_new(r, "enhanced", json_string(enh));
			p += n;
			while (*p == ' ')
				p++;
		}
	}
	set_str(r, "text", p);
	return r;
}

static json_t *event_json(const struct store_event *e)
{
	json_t *o = json_object();
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)e->id);
	json_object_set_new(o, "id", json_string(id));
	set_str(o, "type", e->kind);
	struct buf t = BUF_INIT;
	http_time(e->at_ms, &t);
	json_object_set_new(o, "at", json_string(buf_cstr(&t)));
	if (e->attempt)
		json_object_set_new(o, "attempt", json_integer(e->attempt));
	set_str(o, "mx", e->mx);
	set_str(o, "remote_ip", e->remote_ip);
	set_str(o, "source_ip", e->source_ip);
	if (e->tls && *e->tls) {
		json_t *tls = json_object();
		const char *sp = strchr(e->tls, ' ');
		if (sp) {
			char *version = xstrndup(e->tls, (size_t)(sp - e->tls));
			set_str(tls, "version", version);
			set_str(tls, "cipher", sp + 1);
			free(version);
		} else {
			set_str(tls, "version", e->tls);
		}
		json_object_set_new(o, "tls", tls);
	}
	if (e->reply && *e->reply)
		json_object_set_new(o, "response", reply_json(e->reply));
	if (e->next_attempt > 0) {
		buf_reset(&t);
		http_time(e->next_attempt * 1000, &t);
		json_object_set_new(o, "next_attempt_at", json_string(buf_cstr(&t)));
	}
	buf_free(&t);
	return o;
}

/* A JSON text kept by the store, or fallback when there is none. */
static json_t *stored_json(const char *text, json_t *fallback)
{
	if (text && *text) {
		json_t *v = json_loads(text, 0, NULL);
		if (v) {
			json_decref(fallback);
			return v;
		}
	}
	return fallback;
}

/* ---- GET /v1/messages/{id} ------------------------------------------------------------ */

struct rcpt_events {
	json_t *recipients; /* array of {"address", "status", "events"} */
};

static void add_event(const struct store_event *e, void *arg)
{
	struct rcpt_events *re = arg;
	const char *addr = e->rcpt ? e->rcpt : "";
	json_t *r = NULL;
	for (size_t i = 0; i < json_array_size(re->recipients) && !r; i++) {
		json_t *x = json_array_get(re->recipients, i);
		if (strcasecmp(json_string_value(json_object_get(x, "address")), addr) == 0)
			r = x;
	}
	if (!r) {
		json_t *a = json_string(addr);
		r = json_pack("{s:o,s:[]}", "address", a ? a : json_string("(not UTF-8)"),
		              "events");
		json_array_append_new(re->recipients, r);
	}
	set_str(r, "status", e->kind);
	json_array_append_new(json_object_get(r, "events"), event_json(e));
}

void http_get_message(struct http_session *s, const char *id)
{
	struct store_api_message m = {0};
	struct buf err = BUF_INIT;
	enum store_lookup l = store_api_message_get(s->ctx->store, s->key.id, id, &m, &err);
	if (l == STORE_ERROR) {
		http_error(s, 503, "temporary_failure", NULL, "the store is not available");
		buf_free(&err);
		return;
	}
	if (l == STORE_NOT_FOUND) {
		http_error(s, 404, "not_found", "id", "no message %s was sent with this key", id);
		buf_free(&err);
		return;
	}
	struct rcpt_events re = {json_array()};
	if (store_event_list(s->ctx->store, m.queue_id, NULL, add_event, &re, &err) < 0) {
		json_decref(re.recipients);
		store_api_message_clear(&m);
		http_error(s, 503, "temporary_failure", NULL, "the store is not available");
		buf_free(&err);
		return;
	}
	buf_free(&err);
	json_t *o = json_object();
	set_str(o, "id", m.public_id);
	set_str(o, "message_id", m.message_id);
	set_str(o, "from", m.env_from);
	set_str(o, "subject", m.subject);
	struct buf t = BUF_INIT;
	http_time(m.created * 1000, &t);
	json_object_set_new(o, "created_at", json_string(buf_cstr(&t)));
	buf_free(&t);
	json_object_set_new(o, "tags", stored_json(m.tags, json_array()));
	json_object_set_new(o, "metadata", stored_json(m.metadata, json_object()));
	json_object_set_new(o, "recipients", re.recipients);
	store_api_message_clear(&m);
	http_respond_json(s, 200, o, NULL);
}

/* ---- GET /v1/events -------------------------------------------------------------------- */

struct page {
	json_t *events;
	int64_t last;
};

json_t *http_event_json(const struct store_api_event *ae)
{
	json_t *o = event_json(&ae->e);
	json_t *msg = json_object();
	set_str(msg, "id", ae->public_id);
	set_str(msg, "message_id", ae->message_id);
	json_object_set_new(o, "message", msg);
	set_str(o, "recipient", ae->e.rcpt);
	json_object_set_new(o, "tags", stored_json(ae->tags, json_array()));
	json_object_set_new(o, "metadata", stored_json(ae->metadata, json_object()));
	return o;
}

static void page_event(const struct store_api_event *ae, void *arg)
{
	struct page *pg = arg;
	json_array_append_new(pg->events, http_event_json(ae));
	pg->last = ae->e.id;
}

void http_get_events(struct http_session *s)
{
	const char *cur = s->parser.req.query;
	struct buf name = BUF_INIT, value = BUF_INIT;
	uint64_t after = 0, limit = EVENTS_DEFAULT_LIMIT;
	char *kind = NULL, *rcpt = NULL, *tag = NULL;
	const char *bad = NULL;
	json_t *warnings = json_array();
	while (!bad && http_query_next(&cur, &name, &value)) {
		const char *n = buf_cstr(&name), *v = buf_cstr(&value);
		if (strcmp(n, "after") == 0) {
			if (!str_to_u64(str_c(v), &after) || after > INT64_MAX)
				bad = "after";
		} else if (strcmp(n, "limit") == 0) {
			if (!str_to_u64(str_c(v), &limit) || limit == 0 ||
			    limit > STORE_API_MAX_EVENTS)
				bad = "limit";
		} else if (strcmp(n, "type") == 0) {
			free(kind);
			kind = xstrdup(v);
		} else if (strcmp(n, "recipient") == 0) {
			free(rcpt);
			rcpt = xstrdup(v);
		} else if (strcmp(n, "tag") == 0) {
			free(tag);
			tag = xstrdup(v);
		} else {
			char *w = xasprintf("unknown query parameter '%s' was ignored", n);
			json_t *ws = json_string(w);
			if (ws)
				json_array_append_new(warnings, ws);
			free(w);
		}
	}
	buf_free(&name);
	buf_free(&value);
	struct page pg = {json_array(), (int64_t)after};
	struct buf err = BUF_INIT;
	if (bad) {
		if (strcmp(bad, "after") == 0)
			http_error(s, 400, "invalid_field", "after",
			           "after: a cursor (the 'next' of a previous page, or 0)");
		else
			http_error(s, 400, "invalid_field", "limit", "limit: 1 to %d",
			           STORE_API_MAX_EVENTS);
	} else if (store_api_events(s->ctx->store, s->key.id, (int64_t)after, (size_t)limit, kind,
	                            rcpt, tag, page_event, &pg, &err) < 0) {
		http_error(s, 503, "temporary_failure", NULL, "the store is not available");
	} else {
		json_t *o = json_object();
		char next[24];
		snprintf(next, sizeof next, "%lld", (long long)pg.last);
		json_object_set(o, "events", pg.events);
		json_object_set_new(o, "next", json_string(next));
		if (json_array_size(warnings))
			json_object_set(o, "warnings", warnings);
		http_respond_json(s, 200, o, NULL);
	}
	json_decref(pg.events);
	json_decref(warnings);
	buf_free(&err);
	free(kind);
	free(rcpt);
	free(tag);
}
