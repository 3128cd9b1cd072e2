/*
 * http_send — POST /v1/messages (structured, built by mime_build_message) and
 * POST /v1/messages/raw (a whole RFC 5322 message), through one durable
 * store op each.
 *
 * Order of checks: the key (http_server.c), then the Idempotency-Key (a
 * replay answers before anything else, and costs no rate-limit token), then
 * the key's rate, then the request itself — JSON, every field, the sender's
 * domain, each recipient. The message is then built, given its trace headers
 * (Return-Path, Received, as SMTP does), and committed with ONE append: local
 * recipients' INBOXes as targets, remote ones as queue recipients, the
 * api_message record and the idempotency record (store.h, "the HTTP API").
 * The 202 is written from that op's completion: the message is durable then.
 * When two requests with the same Idempotency-Key race, the store lets one
 * commit and fails the other with STORE_ERR_EXISTS, which then answers with
 * the winner's response (or 422 if the bodies differ).
 *
 * A message with remote recipients is signed before the commit (dkim.h: the
 * From domain's keys, on a worker thread); its DKIM-Signature fields go
 * between Return-Path: and Received:.
 */
#include "http/http_internal.h"

#include "core/work.h"
#include "dkim/dkim.h"
#include "mime/mime.h"
#include "store/store.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_EXTRA_HEADERS 50
#define MAX_REPLY_TO 10

struct addr {
	char *name;    /* display name, or NULL */
	char *address; /* normalised */
	char *field;   /* "to[1]" */
};

struct rcpt_status {
	char *address;
	const char *status; /* "queued" or "delivered" */
};

/* Everything a send owns while its op is in flight. */
struct send {
	struct http_session *s;
	struct store_op op;
	struct buf message;
	char public_id[25];
	char *message_id;
	char *env_from;
	char *subject;
	char *tags;     /* JSON text or NULL */
	char *metadata; /* JSON text or NULL */
	json_t *warnings;
	char *idem_key;
	unsigned char idem_hash[SHA256_DIGEST_LENGTH];
	char **rcpts; /* envelope recipients, normalised, distinct */
	char **rcpt_fields;
	size_t nrcpts;
	struct rcpt_status *status;
	struct store_append_target *targets;
	size_t ntargets;
	struct store_queue_rcpt *queue;
	char **queue_addrs;
	size_t nqueue;
	const char **delivered;
	size_t ndelivered;
	struct store_api_send api;
	char *response;
};

static void send_free(struct send *sd)
{
	free((void *)sd->op.u.append.envelope);
	free((void *)sd->op.u.append.bodystructure);
	store_op_clear(&sd->op);
	buf_free(&sd->message);
	free(sd->message_id);
	free(sd->env_from);
	free(sd->subject);
	free(sd->tags);
	free(sd->metadata);
	json_decref(sd->warnings);
	free(sd->idem_key);
	for (size_t i = 0; i < sd->nrcpts; i++) {
		free(sd->rcpts[i]);
		free(sd->rcpt_fields[i]);
		if (sd->status)
			free(sd->status[i].address);
	}
	free(sd->rcpts);
	free(sd->rcpt_fields);
	free(sd->status);
	free(sd->targets);
	for (size_t i = 0; i < sd->nqueue; i++)
		free(sd->queue_addrs[i]);
	free(sd->queue_addrs);
	free(sd->queue);
	free(sd->delivered);
	free(sd->response);
	free(sd);
}

static void send_free_cb(void *work)
{
	send_free(work);
}

/*
 * A message's public id: 24 hex digits, the send time in seconds (8) and 64
 * random bits (16). Starting with the time, the ids of new messages sort
 * after the older ones, so the api_message index on them grows at its end
 * (a commit writes one page of it for a whole batch, not one page per
 * message at a random place).
 */
static void public_id_new(char out[25])
{
	snprintf(out, 9, "%08x", (unsigned)((uint64_t)time(NULL) & 0xffffffffu));
	random_id(out + 8, 8);
}

static struct send *send_new(struct http_session *s)
{
	struct send *sd = xcalloc(1, sizeof *sd);
	sd->s = s;
	sd->warnings = json_array();
	public_id_new(sd->public_id);
	return sd;
}

static void warn(struct send *sd, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void warn(struct send *sd, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	json_t *v = json_stringn(b.data, b.len);
	if (v)
		json_array_append_new(sd->warnings, v);
	buf_free(&b);
}

/* ---- idempotency and rate ---------------------------------------------------------- */

static void request_hash(const struct http_request *r, unsigned char out[SHA256_DIGEST_LENGTH])
{
	const char *ct = http_request_header(r, "Content-Type");
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
		panic("http: SHA-256 is not available");
	EVP_DigestUpdate(c, r->method, strlen(r->method) + 1);
	EVP_DigestUpdate(c, r->target, strlen(r->target) + 1);
	EVP_DigestUpdate(c, ct ? ct : "", strlen(ct ? ct : "") + 1);
	EVP_DigestUpdate(c, r->body.data ? r->body.data : "", r->body.len);
	EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
}

/* The stored answer to idem_key: a replay, or 422. False when there is none. */
static bool replay(struct send *sd)
{
	struct http_session *s = sd->s;
	unsigned char hash[SHA256_DIGEST_LENGTH];
	struct buf resp = BUF_INIT, err = BUF_INIT;
	enum store_lookup l =
	        store_idempotency_get(s->ctx->store, s->key.id, sd->idem_key, hash, &resp, &err);
	bool done = true;
	if (l == STORE_ERROR)
		http_error(s, 503, "temporary_failure", NULL, "the store is not available: %s",
		           buf_cstr(&err));
	else if (l == STORE_NOT_FOUND)
		done = false;
	else if (memcmp(hash, sd->idem_hash, sizeof hash) != 0)
		http_error(s, 422, "idempotency_key_reused", "Idempotency-Key",
		           "this Idempotency-Key was used with a different request in the last "
		           "24 hours");
	else
		http_respond(s, 202, "application/json", "Idempotent-Replayed: true\r\n", resp.data,
		             resp.len);
	buf_free(&resp);
	buf_free(&err);
	return done;
}

/* True when the request was answered here (replay, 422, 429, a bad key). */
static bool before_send(struct send *sd)
{
	struct http_session *s = sd->s;
	const struct http_request *r = &s->parser.req;
	const char *k = http_request_header(r, "Idempotency-Key");
	if (k) {
		size_t len = strlen(k);
		bool ok = len > 0 && len <= HTTP_MAX_IDEMPOTENCY_KEY;
		for (size_t i = 0; ok && i < len; i++)
			ok = (unsigned char)k[i] > 0x20 && (unsigned char)k[i] < 0x7f;
		if (!ok) {
			http_error(s, 400, "invalid_field", "Idempotency-Key",
			           "Idempotency-Key must be 1 to 255 printable ASCII characters");
			return true;
		}
		sd->idem_key = xstrdup(k);
		request_hash(r, sd->idem_hash);
		if (replay(sd))
			return true;
	}
	unsigned retry = 0;
	if (!http_rate_take(s, &retry)) {
		char h[64];
		snprintf(h, sizeof h, "Retry-After: %u\r\n", retry);
		struct buf msg = BUF_INIT;
		buf_printf(&msg, "this key may send %g messages per second", s->key.rate);
		json_t *e = json_pack("{s:{s:i,s:s,s:s%}}", "error", "status", 429, "code",
		                      "rate_limited", "message", msg.data, msg.len);
		buf_free(&msg);
		http_respond_json(s, 429, e, h);
		return true;
	}
	return false;
}

/* ---- fields ---------------------------------------------------------------------------- */

static bool bad_field(struct send *sd, const char *field, const char *fmt, ...) PRINTF_LIKE(3, 4);

static bool bad_field(struct send *sd, const char *field, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	http_error(sd->s, 400, "invalid_field", field, "%s: %s", field, buf_cstr(&b));
	buf_free(&b);
	return false;
}

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* "Name <addr>", "\"Quoted, Name\" <addr>" or "addr". */
static bool split_address(const char *in, char **name_r, char **addr_r)
{
	struct str t = str_trim(str_c(in));
	*name_r = NULL;
	if (t.len > 0 && t.p[t.len - 1] == '>') {
		const char *lt = NULL;
		for (size_t i = t.len; i-- > 0;)
			if (t.p[i] == '<') {
				lt = t.p + i;
				break;
			}
		if (!lt)
			return false;
		*addr_r = xstrndup(lt + 1, (size_t)(t.p + t.len - 1 - (lt + 1)));
		struct str n = str_trim((struct str){t.p, (size_t)(lt - t.p)});
		if (n.len >= 2 && n.p[0] == '"' && n.p[n.len - 1] == '"') {
			struct buf u = BUF_INIT;
			for (size_t i = 1; i + 1 < n.len; i++) {
				if (n.p[i] == '\\' && i + 2 < n.len)
					i++;
				buf_putc(&u, n.p[i]);
			}
			*name_r = buf_steal(&u);
		} else if (n.len > 0) {
			*name_r = str_dup(n);
		}
		return true;
	}
	*addr_r = str_dup(t);
	return true;
}

static bool normalize_address(struct send *sd, const char *field, const char *in, char **out_r)
{
	struct buf norm = BUF_INIT, err = BUF_INIT;
	if (store_address_normalize(in, false, &norm, &err) < 0) {
		bad_field(sd, field, "%s", buf_cstr(&err));
		buf_free(&norm);
		buf_free(&err);
		return false;
	}
	buf_free(&err);
	*out_r = buf_steal(&norm);
	return true;
}

/* One address: a string, or {"address", "name"}. */
static bool json_address(struct send *sd, json_t *v, const char *field, struct addr *a)
{
	char *raw = NULL;
	a->field = xstrdup(field);
	if (json_is_string(v)) {
		if (has_crlf(json_string_value(v)))
			return bad_field(sd, field, "contains CR or LF");
		if (!split_address(json_string_value(v), &a->name, &raw))
			return bad_field(sd, field, "is not an address ('Name <a@b>' or 'a@b')");
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x)
		{
			if (strcmp(k, "address") != 0 && strcmp(k, "name") != 0)
				warn(sd, "unknown field '%s.%s' was ignored", field, k);
		}
		json_t *ad = json_object_get(v, "address"), *nm = json_object_get(v, "name");
		if (!json_is_string(ad))
			return bad_field(sd, field, "needs an 'address' string");
		if (nm && !json_is_string(nm) && !json_is_null(nm))
			return bad_field(sd, field, "'name' must be a string");
		if (has_crlf(json_string_value(ad)) ||
		    (json_is_string(nm) && has_crlf(json_string_value(nm))))
			return bad_field(sd, field, "contains CR or LF");
		raw = xstrdup(json_string_value(ad));
		if (json_is_string(nm) && json_string_value(nm)[0])
			a->name = xstrdup(json_string_value(nm));
	} else {
		return bad_field(sd, field, "must be an address string or an object");
	}
	bool ok = normalize_address(sd, field, raw, &a->address);
	free(raw);
	return ok;
}

struct addr_list {
	struct addr *v;
	size_t n;
};

static void addr_list_free(struct addr_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].address);
		free(l->v[i].field);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* A string, an object, or an array of them; missing is an empty list. */
static bool json_addresses(struct send *sd, json_t *root, const char *key, struct addr_list *l)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v))
		return true;
	size_t n = json_is_array(v) ? json_array_size(v) : 1;
	l->v = xcalloc(n + 1, sizeof *l->v);
	for (size_t i = 0; i < n; i++) {
		char field[64];
		if (strcmp(key, "from") == 0)
			snprintf(field, sizeof field, "from");
		else
			snprintf(field, sizeof field, "%s[%zu]", key, i);
		json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
		l->n++;
		if (!json_address(sd, e, field, &l->v[i]))
			return false;
	}
	return true;
}

static bool optional_string(struct send *sd, json_t *root, const char *key, const char **out)
{
	json_t *v = json_object_get(root, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v))
		return bad_field(sd, key, "must be a string");
	*out = json_string_value(v);
	return true;
}

/* Base64 with line breaks and blanks allowed between characters. */
static bool decode_base64(const char *in, size_t len, struct buf *out)
{
	struct buf clean = BUF_INIT;
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", in[i]))
			buf_putc(&clean, in[i]);
	bool ok = base64_decode(out, clean.data ? clean.data : "", clean.len) == 0;
	buf_free(&clean);
	return ok;
}

/* tags and metadata, kept as JSON text. */
static bool tags_metadata(struct send *sd, json_t *root)
{
	json_t *tags = json_object_get(root, "tags");
	if (tags && !json_is_null(tags)) {
		if (!json_is_array(tags) || json_array_size(tags) > HTTP_MAX_TAGS)
			return bad_field(sd, "tags", "must be an array of at most %d strings",
			                 HTTP_MAX_TAGS);
		for (size_t i = 0; i < json_array_size(tags); i++) {
			json_t *t = json_array_get(tags, i);
			char field[32];
			snprintf(field, sizeof field, "tags[%zu]", i);
			if (!json_is_string(t) || json_string_length(t) == 0 ||
			    json_string_length(t) > HTTP_MAX_TAG)
				return bad_field(sd, field, "must be a string of 1 to %d bytes",
				                 HTTP_MAX_TAG);
			for (const char *c = json_string_value(t); *c; c++)
				if ((unsigned char)*c < 0x20)
					return bad_field(sd, field, "contains a control character");
		}
		sd->tags = json_dumps(tags, JSON_COMPACT);
	}
	json_t *md = json_object_get(root, "metadata");
	if (md && !json_is_null(md)) {
		if (!json_is_object(md))
			return bad_field(sd, "metadata", "must be an object");
		sd->metadata = json_dumps(md, JSON_COMPACT);
		if (strlen(sd->metadata) > HTTP_MAX_METADATA)
			return bad_field(sd, "metadata", "is larger than %d bytes as JSON",
			                 HTTP_MAX_METADATA);
	}
	return true;
}

/* ---- the sender and the recipients -------------------------------------------------------- */

/* 1 when the key may send from address's domain, 0 when not, -1 on a store error. */
static int domain_allowed(struct http_session *s, const char *address)
{
	const char *at = strrchr(address, '@');
	const char *dom = at ? at + 1 : "";
	if (s->key.domains && s->key.domains[0]) {
		size_t dl = strlen(dom);
		for (const char *p = s->key.domains; *p;) {
			const char *comma = strchr(p, ',');
			size_t n = comma ? (size_t)(comma - p) : strlen(p);
			if (n == dl && strncasecmp(p, dom, n) == 0)
				return 1;
			p += n + (comma ? 1 : 0);
		}
		return 0;
	}
	struct buf err = BUF_INIT;
	enum store_lookup l = store_domain_exists(s->ctx->store, dom, &err);
	buf_free(&err);
	return l == STORE_ERROR ? -1 : l == STORE_FOUND;
}

static bool check_sender_domain(struct send *sd, const char *field, const char *address)
{
	int ok = domain_allowed(sd->s, address);
	if (ok < 0) {
		http_error(sd->s, 503, "temporary_failure", NULL, "the store is not available");
		return false;
	}
	if (ok == 0) {
		const char *at = strrchr(address, '@');
		http_error(sd->s, 403, "sender_not_allowed", field,
		           "%s: this key may not send from the domain %s", field, at ? at + 1 : "");
		return false;
	}
	return true;
}

static void add_rcpt(struct send *sd, const char *address, const char *field)
{
	for (size_t i = 0; i < sd->nrcpts; i++)
		if (strcmp(sd->rcpts[i], address) == 0)
			return;
	sd->rcpts = xrealloc(sd->rcpts, (sd->nrcpts + 1) * sizeof *sd->rcpts);
	sd->rcpt_fields = xrealloc(sd->rcpt_fields, (sd->nrcpts + 1) * sizeof *sd->rcpt_fields);
	sd->rcpts[sd->nrcpts] = xstrdup(address);
	sd->rcpt_fields[sd->nrcpts] = xstrdup(field);
	sd->nrcpts++;
}

static void add_queue(struct send *sd, const char *address)
{
	for (size_t i = 0; i < sd->nqueue; i++)
		if (strcasecmp(sd->queue_addrs[i], address) == 0)
			return;
	sd->queue_addrs = xrealloc(sd->queue_addrs, (sd->nqueue + 1) * sizeof *sd->queue_addrs);
	sd->queue_addrs[sd->nqueue++] = xstrdup(address);
}

static void add_target(struct send *sd, int64_t mailbox_id)
{
	for (size_t i = 0; i < sd->ntargets; i++)
		if (sd->targets[i].mailbox_id == mailbox_id)
			return;
	sd->targets = xrealloc(sd->targets, (sd->ntargets + 1) * sizeof *sd->targets);
	memset(&sd->targets[sd->ntargets], 0, sizeof *sd->targets);
	sd->targets[sd->ntargets++].mailbox_id = mailbox_id;
}

/* Local recipients into their INBOX, the others into the queue. */
static bool resolve_rcpts(struct send *sd)
{
	struct http_session *s = sd->s;
	struct store *st = s->ctx->store;
	struct buf err = BUF_INIT;
	bool ok = true;
	sd->status = xcalloc(sd->nrcpts + 1, sizeof *sd->status);
	sd->delivered = xcalloc(sd->nrcpts + 1, sizeof *sd->delivered);
	for (size_t i = 0; ok && i < sd->nrcpts; i++) {
		const char *a = sd->rcpts[i];
		sd->status[i].address = xstrdup(a);
		sd->status[i].status = "queued";
		enum store_lookup dom = store_domain_exists(st, strrchr(a, '@') + 1, &err);
		if (dom == STORE_ERROR)
			goto temp;
		if (dom == STORE_NOT_FOUND) {
			add_queue(sd, a);
			continue;
		}
		struct store_rcpt rc;
		enum store_lookup l = store_rcpt_resolve(st, a, &rc, &err);
		if (l == STORE_ERROR)
			goto temp;
		if (l == STORE_NOT_FOUND) {
			ok = bad_field(sd, sd->rcpt_fields[i], "no such local recipient: %s", a);
			break;
		}
		for (size_t k = 0; ok && k < rc.naccounts; k++) {
			struct store_mailbox m = {0};
			enum store_lookup ml =
			        store_mailbox_get(st, rc.account_ids[k], "INBOX", &m, &err);
			if (ml == STORE_FOUND)
				add_target(sd, m.id);
			store_mailbox_clear(&m);
			if (ml != STORE_FOUND) {
				store_rcpt_clear(&rc);
				goto temp;
			}
		}
		for (size_t k = 0; k < rc.nforeign; k++)
			add_queue(sd, rc.foreign[k]);
		if (rc.naccounts > 0)
			sd->delivered[sd->ndelivered++] = sd->rcpts[i];
		if (rc.nforeign == 0)
			sd->status[i].status = "delivered";
		store_rcpt_clear(&rc);
	}
	buf_free(&err);
	return ok;
temp:
	log_warn("http id=%s event=rcpt-lookup-failed reason=\"%s\"", conn_id(s->conn),
	         buf_cstr(&err));
	buf_free(&err);
	http_error(s, 503, "temporary_failure", NULL, "recipient lookup failed; retry later");
	return false;
}

/* ---- the commit ------------------------------------------------------------------------- */

static void answer_failure(struct send *sd, const struct store_op *op)
{
	struct http_session *s = sd->s;
	if (op->error == STORE_ERR_EXISTS && sd->idem_key && replay(sd))
		return;
	if (op->error == STORE_ERR_QUOTA)
		http_error(s, 422, "mailbox_full", NULL,
		           "a local recipient's mailbox is full; nothing was sent");
	else if (op->error == STORE_ERR_TEMP || op->error == STORE_ERR_EXISTS)
		http_error(s, 503, "temporary_failure", NULL,
		           "the message could not be stored; retry later");
	else
		http_error(s, 500, "internal_error", NULL, "the message could not be stored");
}

static void send_done(struct store_op *op, void *arg)
{
	struct send *sd = arg;
	struct http_session *s = sd->s;
	if (http_orphaned_free(s)) {
		send_free(sd);
		return;
	}
	if (op->result == 0) {
		log_info("http id=%s peer=%s event=accepted message=%s key=%s queue_id=%lld "
		         "size=%zu rcpts=%zu",
		         conn_id(s->conn), conn_peer(s->conn), sd->public_id, s->key.name,
		         (long long)op->u.append.queue_id_r, sd->message.len, sd->nrcpts);
		http_respond(s, 202, "application/json", NULL, sd->response, strlen(sd->response));
	} else {
		struct buf v = BUF_INIT;
		log_value(&v, op->err.data ? op->err.data : "", op->err.len);
		log_warn("http id=%s peer=%s event=store-failed message=%s error=%d reason=%s",
		         conn_id(s->conn), conn_peer(s->conn), sd->public_id, (int)op->error,
		         buf_cstr(&v));
		buf_free(&v);
		answer_failure(sd, op);
	}
	send_free(sd);
}

static void trace_headers(struct send *sd, struct buf *out, const struct buf *signatures)
{
	struct http_session *s = sd->s;
	buf_printf(out, "Return-Path: <%s>\r\n", sd->env_from);
	if (signatures && signatures->len)
		buf_append(out, signatures->data, signatures->len);
	buf_printf(out, "Received: from [%s]\r\n\tby %s (petrel) with %s id %s;\r\n\t",
	           conn_peer(s->conn), s->ctx->cfg->hostname,
	           conn_is_tls(s->conn) ? "HTTPS" : "HTTP", sd->public_id);
	mime_build_date((int64_t)time(NULL), out);
	buf_puts(out, "\r\n");
}

static void store_send(struct send *sd, const struct buf *signatures);

static void signed_done(int result, const struct buf *fields, const char *reason, void *arg)
{
	struct send *sd = arg;
	struct http_session *s = sd->s;
	if (http_orphaned_free(s)) {
		send_free(sd);
		return;
	}
	if (result < 0) {
		struct buf v = BUF_INIT;
		log_value(&v, reason, strlen(reason));
		log_error("http id=%s peer=%s event=dkim-failed message=%s reason=%s",
		          conn_id(s->conn), conn_peer(s->conn), sd->public_id, buf_cstr(&v));
		buf_free(&v);
		http_error(s, 503, "temporary_failure", NULL,
		           "the message could not be signed; retry later");
		send_free(sd);
		return;
	}
	store_send(sd, fields);
}

/* sd->message holds the message as built or received; commits it. */
static void commit(struct send *sd)
{
	struct http_session *s = sd->s;
	const struct config *cfg = s->ctx->cfg;
	if (sd->message.len > cfg->max_message_size) {
		http_error(s, 413, "message_too_large", NULL,
		           "the message is %zu bytes; the limit is %llu", sd->message.len,
		           (unsigned long long)cfg->max_message_size);
		send_free(sd);
		return;
	}
	if (!resolve_rcpts(sd)) {
		send_free(sd);
		return;
	}
	if (sd->nqueue > 0) {
		struct buf err = BUF_INIT;
		int r = dkim_submit(s->ctx->store, s->ctx->workers, sd->message.data,
		                    sd->message.len, sd->env_from, signed_done, sd, &err);
		if (r < 0) {
			log_warn("http id=%s peer=%s event=dkim-keys-failed message=%s "
			         "reason=\"%s\"",
			         conn_id(s->conn), conn_peer(s->conn), sd->public_id,
			         buf_cstr(&err));
			http_error(s, 503, "temporary_failure", NULL,
			           "the signing keys could not be read; retry later");
			buf_free(&err);
			send_free(sd);
			return;
		}
		buf_free(&err);
		if (r > 0) {
			http_wait(s, sd, send_free_cb);
			return;
		}
	}
	store_send(sd, NULL);
}

/* On a worker: the CPU work of the commit that needs only the message. */
static void prepare_work(void *arg)
{
	struct send *sd = arg;
	struct store_op *op = &sd->op;
	if (sd->ntargets) {
		struct mime_part *root = NULL;
		struct buf env = BUF_INIT, bs = BUF_INIT;
		mime_parse(sd->message.data, sd->message.len, &root);
		mime_envelope(sd->message.data, sd->message.len, &env);
		mime_bodystructure(root, sd->message.data, true, &bs);
		mime_part_free(&root);
		op->u.append.envelope = buf_steal(&env);
		op->u.append.bodystructure = buf_steal(&bs);
	}
	store_op_prepare(op);
}

/* Even when the client went meanwhile: a complete request is committed,
   answered or not (send_done frees an orphaned session). */
static void prepare_done(void *arg)
{
	struct send *sd = arg;
	store_submit(sd->s->ctx->store, &sd->op, send_done, sd);
}

/* Adds the trace fields and the signatures, and hands the send to the store. */
static void store_send(struct send *sd, const struct buf *signatures)
{
	struct http_session *s = sd->s;
	struct buf full = BUF_INIT;
	trace_headers(sd, &full, signatures);
	buf_append(&full, sd->message.data, sd->message.len);
	buf_free(&sd->message);
	sd->message = full;

	/* the answer, known before the commit (and kept for replays) */
	json_t *resp = json_object();
	json_object_set_new(resp, "id", json_string(sd->public_id));
	json_object_set_new(resp, "message_id", json_string(sd->message_id));
	json_t *list = json_array();
	for (size_t i = 0; i < sd->nrcpts; i++)
		json_array_append_new(list, json_pack("{s:s,s:s}", "address", sd->status[i].address,
		                                      "status", sd->status[i].status));
	json_object_set_new(resp, "recipients", list);
	if (json_array_size(sd->warnings))
		json_object_set(resp, "warnings", sd->warnings);
	sd->response = json_dumps(resp, JSON_COMPACT);
	json_decref(resp);

	struct store_op *op = &sd->op;
	store_op_init(op, STORE_OP_APPEND);
	op->u.append.data = sd->message.data;
	op->u.append.len = sd->message.len;
	sd->queue = xcalloc(sd->nqueue + 1, sizeof *sd->queue);
	for (size_t i = 0; i < sd->nqueue; i++)
		sd->queue[i].rcpt = sd->queue_addrs[i];
	op->u.append.targets = sd->targets;
	op->u.append.ntargets = sd->ntargets;
	op->u.append.queue = sd->queue;
	op->u.append.nqueue = sd->nqueue;
	op->u.append.env_from = sd->env_from;
	op->u.append.source = "api";
	sd->api = (struct store_api_send){
	        .api_key_id = s->key.id,
	        .public_id = sd->public_id,
	        .message_id = sd->message_id,
	        .subject = sd->subject,
	        .pool = s->key.pool && s->key.pool[0] ? s->key.pool : NULL,
	        .tags = sd->tags,
	        .metadata = sd->metadata,
	        .delivered = sd->delivered,
	        .ndelivered = sd->ndelivered,
	        .idem_key = sd->idem_key,
	        .idem_hash = sd->idem_hash,
	        .idem_response = sd->response,
	};
	op->u.append.api = &sd->api;
	http_wait(s, sd, send_free_cb);
	/* The message's parsing (ENVELOPE, BODYSTRUCTURE, the search terms) and
	   its hash go to a worker; the loop serves other clients meanwhile. */
	work_submit(s->ctx->workers, prepare_work, prepare_done, sd);
}

static bool content_type_is(const struct http_request *r, const char *want, bool missing_ok)
{
	const char *ct = http_request_header(r, "Content-Type");
	if (!ct)
		return missing_ok;
	size_t n = strcspn(ct, "; \t");
	return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

static json_t *parse_json(struct send *sd)
{
	const struct http_request *r = &sd->s->parser.req;
	json_error_t je;
	json_t *root = json_loadb(r->body.data ? r->body.data : "", r->body.len,
	                          JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		http_error(sd->s, 400, "invalid_json", NULL, "line %d column %d: %s", je.line,
		           je.column, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		http_error(sd->s, 400, "invalid_json", NULL, "the body must be a JSON object");
		json_decref(root);
		return NULL;
	}
	return root;
}

static void unknown_fields(struct send *sd, json_t *root, const char *const *known)
{
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v)
	{
		bool found = false;
		for (size_t i = 0; known[i] && !found; i++)
			found = strcmp(known[i], k) == 0;
		if (!found)
			warn(sd, "unknown field '%s' was ignored", k);
	}
}

/* ---- POST /v1/messages ----------------------------------------------------------------- */

struct structured {
	struct addr_list from, to, cc, bcc, reply_to;
	const char *subject, *text, *html;
	struct mime_build_header *headers;
	size_t nheaders;
	struct mime_build_part *parts;
	struct buf *contents;
	size_t nparts;
};

static void structured_free(struct structured *m)
{
	addr_list_free(&m->from);
	addr_list_free(&m->to);
	addr_list_free(&m->cc);
	addr_list_free(&m->bcc);
	addr_list_free(&m->reply_to);
	free(m->headers);
	for (size_t i = 0; i < m->nparts; i++)
		buf_free(&m->contents[i]);
	free(m->contents);
	free(m->parts);
}

static bool json_headers(struct send *sd, json_t *root, struct structured *m)
{
	json_t *h = json_object_get(root, "headers");
	if (!h || json_is_null(h))
		return true;
	if (!json_is_object(h) || json_object_size(h) > MAX_EXTRA_HEADERS)
		return bad_field(sd, "headers", "must be an object of at most %d string values",
		                 MAX_EXTRA_HEADERS);
	m->headers = xcalloc(json_object_size(h) + 1, sizeof *m->headers);
	const char *k;
	json_t *v;
	json_object_foreach(h, k, v)
	{
		if (has_crlf(k))
			return bad_field(sd, "headers", "a header name contains CR or LF");
		char field[128];
		snprintf(field, sizeof field, "headers.%.100s", k);
		if (!json_is_string(v))
			return bad_field(sd, field, "must be a string");
		m->headers[m->nheaders++] = (struct mime_build_header){k, json_string_value(v)};
	}
	return true;
}

static bool json_attachments(struct send *sd, json_t *root, struct structured *m)
{
	json_t *a = json_object_get(root, "attachments");
	if (!a || json_is_null(a))
		return true;
	if (!json_is_array(a) || json_array_size(a) > HTTP_MAX_ATTACHMENTS)
		return bad_field(sd, "attachments", "must be an array of at most %d objects",
		                 HTTP_MAX_ATTACHMENTS);
	size_t n = json_array_size(a);
	m->parts = xcalloc(n + 1, sizeof *m->parts);
	m->contents = xcalloc(n + 1, sizeof *m->contents);
	static const char *const known[] = {"filename", "content_type", "content", "content_id",
	                                    NULL};
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(a, i);
		char field[64];
		snprintf(field, sizeof field, "attachments[%zu]", i);
		m->nparts++;
		if (!json_is_object(e))
			return bad_field(sd, field, "must be an object");
		const char *k;
		json_t *v;
		json_object_foreach(e, k, v)
		{
			bool found = false;
			for (size_t j = 0; known[j] && !found; j++)
				found = strcmp(known[j], k) == 0;
			if (!found)
				warn(sd, "unknown field '%s.%s' was ignored", field, k);
		}
		struct mime_build_part *p = &m->parts[i];
		for (size_t j = 0; j < 4; j++) {
			if (j == 2)
				continue;
			json_t *x = json_object_get(e, known[j]);
			char sub[96];
			snprintf(sub, sizeof sub, "%s.%s", field, known[j]);
			if (!x || json_is_null(x))
				continue;
			if (!json_is_string(x))
				return bad_field(sd, sub, "must be a string");
			if (has_crlf(json_string_value(x)))
				return bad_field(sd, sub, "contains CR or LF");
			const char *val = json_string_value(x);
			if (j == 0) {
				p->filename = val;
			} else if (j == 1) {
				p->content_type = val;
			} else {
				if (val[0] == '<')
					return bad_field(sd, sub,
					                 "give the id without angle brackets");
				p->content_id = val;
			}
		}
		json_t *c = json_object_get(e, "content");
		char sub[96];
		snprintf(sub, sizeof sub, "%s.content", field);
		if (!json_is_string(c))
			return bad_field(sd, sub, "is required: the bytes in base64");
		if (!decode_base64(json_string_value(c), json_string_length(c), &m->contents[i]))
			return bad_field(sd, sub, "is not valid base64");
		p->data = m->contents[i].data ? m->contents[i].data : "";
		p->len = m->contents[i].len;
	}
	return true;
}

static bool structured_fields(struct send *sd, json_t *root, struct structured *m)
{
	static const char *const known[] = {"from",    "to",       "cc",   "bcc",     "reply_to",
	                                    "subject", "text",     "html", "headers", "attachments",
	                                    "tags",    "metadata", NULL};
	unknown_fields(sd, root, known);
	json_t *from = json_object_get(root, "from");
	if (!from || json_is_null(from))
		return bad_field(sd, "from", "is required");
	if (json_is_array(from))
		return bad_field(sd, "from", "must be one address");
	if (!json_addresses(sd, root, "from", &m->from))
		return false;
	if (!json_addresses(sd, root, "to", &m->to) || !json_addresses(sd, root, "cc", &m->cc) ||
	    !json_addresses(sd, root, "bcc", &m->bcc) ||
	    !json_addresses(sd, root, "reply_to", &m->reply_to))
		return false;
	if (m->reply_to.n > MAX_REPLY_TO)
		return bad_field(sd, "reply_to", "at most %d addresses", MAX_REPLY_TO);
	size_t total = m->to.n + m->cc.n + m->bcc.n;
	if (total == 0)
		return bad_field(sd, "to", "at least one recipient is needed in to, cc or bcc");
	if (total > sd->s->ctx->cfg->max_recipients)
		return bad_field(sd, "to", "at most %llu recipients in to, cc and bcc together",
		                 (unsigned long long)sd->s->ctx->cfg->max_recipients);
	if (!optional_string(sd, root, "subject", &m->subject) ||
	    !optional_string(sd, root, "text", &m->text) ||
	    !optional_string(sd, root, "html", &m->html))
		return false;
	if (m->subject && has_crlf(m->subject))
		return bad_field(sd, "subject", "contains CR or LF");
	if (!json_headers(sd, root, m) || !json_attachments(sd, root, m) ||
	    !tags_metadata(sd, root))
		return false;
	if (!m->text && !m->html && m->nparts == 0)
		return bad_field(sd, "text", "a message needs text, html or attachments");
	return true;
}

static struct mime_build_address *build_list(const struct addr_list *l)
{
	struct mime_build_address *v = xcalloc(l->n + 1, sizeof *v);
	for (size_t i = 0; i < l->n; i++)
		v[i] = (struct mime_build_address){l->v[i].name, l->v[i].address};
	return v;
}

void http_post_message(struct http_session *s)
{
	struct send *sd = send_new(s);
	if (before_send(sd)) {
		send_free(sd);
		return;
	}
	if (!content_type_is(&s->parser.req, "application/json", true)) {
		http_error(s, 415, "unsupported_media_type", NULL,
		           "send Content-Type: application/json");
		send_free(sd);
		return;
	}
	json_t *root = parse_json(sd);
	if (!root) {
		send_free(sd);
		return;
	}
	struct structured m = {0};
	bool ok = structured_fields(sd, root, &m) &&
	          check_sender_domain(sd, "from", m.from.v[0].address);
	if (ok) {
		const struct addr_list *lists[] = {&m.to, &m.cc, &m.bcc};
		for (size_t k = 0; k < 3; k++)
			for (size_t i = 0; i < lists[k]->n; i++)
				add_rcpt(sd, lists[k]->v[i].address, lists[k]->v[i].field);
		sd->env_from = xstrdup(m.from.v[0].address);
		sd->message_id = xasprintf("<%s@%s>", sd->public_id, s->ctx->cfg->hostname);
		sd->subject = m.subject ? xstrdup(m.subject) : NULL;
		struct mime_build_address *to = build_list(&m.to), *cc = build_list(&m.cc),
		                          *rt = build_list(&m.reply_to);
		struct mime_build b = {
		        .from = {m.from.v[0].name, m.from.v[0].address},
		        .to = to,
		        .nto = m.to.n,
		        .cc = cc,
		        .ncc = m.cc.n,
		        .reply_to = rt,
		        .nreply_to = m.reply_to.n,
		        .subject = m.subject,
		        .text = m.text,
		        .html = m.html,
		        .headers = m.headers,
		        .nheaders = m.nheaders,
		        .parts = m.parts,
		        .nparts = m.nparts,
		        .message_id = sd->message_id,
		        .date = (int64_t)time(NULL),
		        /* unique to the message, like the id; nothing
		           to hide: the id is in Received: and Message-ID: */
		        .boundary = sd->public_id,
		};
		struct buf field = BUF_INIT, err = BUF_INIT;
		if (mime_build_message(&b, &sd->message, &field, &err) < 0) {
			bad_field(sd, buf_cstr(&field), "%s", buf_cstr(&err));
			ok = false;
		}
		buf_free(&field);
		buf_free(&err);
		free(to);
		free(cc);
		free(rt);
	}
	structured_free(&m);
	json_decref(root);
	if (!ok) {
		send_free(sd);
		return;
	}
	commit(sd);
}

/* ---- POST /v1/messages/raw ------------------------------------------------------------ */

/* CRLF line ends, no NUL, no bare CR, lines within 998 octets. */
static bool clean_raw(struct send *sd, const struct buf *in, struct buf *out)
{
	size_t line = 0;
	for (size_t i = 0; i < in->len; i++) {
		char c = in->data[i];
		if (c == '\0')
			return bad_field(sd, "raw", "the message contains a NUL byte");
		if (c == '\r') {
			if (i + 1 >= in->len || in->data[i + 1] != '\n')
				return bad_field(sd, "raw", "the message contains a bare CR");
			continue;
		}
		if (c == '\n') {
			buf_puts(out, "\r\n");
			line = 0;
			continue;
		}
		if (++line > MIME_BUILD_MAX_LINE)
			return bad_field(sd, "raw", "a line is longer than 998 octets");
		buf_putc(out, c);
	}
	if (out->len == 0)
		return bad_field(sd, "raw", "the message is empty");
	return true;
}

/* Checks the header; adds Date and Message-ID when missing. */
static bool raw_header(struct send *sd, struct buf *msg)
{
	size_t hl = mime_header_len(msg->data, msg->len);
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, msg->data, hl);
	if (!mime_header_next(&it, &f))
		return bad_field(sd, "raw", "the message has no header fields");
	struct buf from = BUF_INIT, v = BUF_INIT;
	if (!mime_header_get(msg->data, hl, "From", &from)) {
		buf_free(&from);
		return bad_field(sd, "raw", "the message has no From header");
	}
	struct mime_address *list = NULL;
	size_t n = 0;
	mime_address_parse(from.data, from.len, &list, &n);
	buf_free(&from);
	bool ok = true, any = false;
	for (size_t i = 0; ok && i < n; i++) {
		if (!list[i].host || !list[i].mailbox)
			continue;
		any = true;
		char *addr = xasprintf("%s@%s", list[i].mailbox, list[i].host);
		ok = check_sender_domain(sd, "raw", addr);
		free(addr);
	}
	mime_address_free(&list, n);
	if (!ok)
		return false;
	if (!any)
		return bad_field(sd, "raw", "the From header holds no address");
	struct buf add = BUF_INIT;
	if (!mime_header_get(msg->data, hl, "Date", &v)) {
		buf_puts(&add, "Date: ");
		mime_build_date((int64_t)time(NULL), &add);
		buf_puts(&add, "\r\n");
	}
	buf_reset(&v);
	if (mime_header_get(msg->data, hl, "Message-ID", &v) && v.len > 0) {
		sd->message_id = buf_steal(&v);
	} else {
		sd->message_id = xasprintf("<%s@%s>", sd->public_id, sd->s->ctx->cfg->hostname);
		buf_printf(&add, "Message-ID: %s\r\n", sd->message_id);
	}
	buf_reset(&v);
	if (mime_header_get(msg->data, hl, "Subject", &v)) {
		struct buf dec = BUF_INIT;
		mime_decode_header(v.data, v.len, &dec);
		sd->subject = buf_steal(&dec);
	}
	buf_free(&v);
	if (add.len) {
		buf_append(&add, msg->data, msg->len);
		buf_free(msg);
		*msg = add;
	} else {
		buf_free(&add);
	}
	return true;
}

/* Envelope recipients of the JSON form: an array of addresses (or one). */
static bool raw_rcpts_json(struct send *sd, json_t *to)
{
	size_t n = json_is_array(to) ? json_array_size(to) : 1;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_is_array(to) ? json_array_get(to, i) : to;
		char field[32];
		snprintf(field, sizeof field, "to[%zu]", i);
		if (!json_is_string(e))
			return bad_field(sd, field, "must be an address string");
		char *a = NULL;
		if (!normalize_address(sd, field, json_string_value(e), &a))
			return false;
		add_rcpt(sd, a, field);
		free(a);
	}
	return true;
}

static bool raw_from_json(struct send *sd, struct buf *raw)
{
	json_t *root = parse_json(sd);
	if (!root)
		return false;
	static const char *const known[] = {"from", "to", "raw", "tags", "metadata", NULL};
	unknown_fields(sd, root, known);
	bool ok = true;
	json_t *from = json_object_get(root, "from"), *to = json_object_get(root, "to"),
	       *r = json_object_get(root, "raw");
	if (!json_is_string(from))
		ok = bad_field(sd, "from", "is required: the envelope sender's address");
	else
		ok = normalize_address(sd, "from", json_string_value(from), &sd->env_from);
	if (ok && !(json_is_array(to) || json_is_string(to)))
		ok = bad_field(sd, "to", "is required: an array of recipient addresses");
	if (ok)
		ok = raw_rcpts_json(sd, to);
	if (ok && !json_is_string(r))
		ok = bad_field(sd, "raw", "is required: the message in base64");
	if (ok && !decode_base64(json_string_value(r), json_string_length(r), raw))
		ok = bad_field(sd, "raw", "is not valid base64");
	if (ok)
		ok = tags_metadata(sd, root);
	json_decref(root);
	return ok;
}

/* message/rfc822 with ?from=...&to=...&to=... (to may also hold a comma list). */
static bool raw_from_query(struct send *sd, struct buf *raw)
{
	const struct http_request *r = &sd->s->parser.req;
	const char *cur = r->query;
	struct buf name = BUF_INIT, value = BUF_INIT;
	bool ok = true;
	size_t nto = 0;
	while (ok && http_query_next(&cur, &name, &value)) {
		const char *n = buf_cstr(&name);
		if (strcmp(n, "from") == 0) {
			free(sd->env_from);
			sd->env_from = NULL;
			ok = normalize_address(sd, "from", buf_cstr(&value), &sd->env_from);
		} else if (strcmp(n, "to") == 0) {
			const char *p = buf_cstr(&value);
			while (ok && *p) {
				size_t len = strcspn(p, ",");
				char *one = str_dup(str_trim((struct str){p, len}));
				char field[32], *a = NULL;
				snprintf(field, sizeof field, "to[%zu]", nto++);
				ok = normalize_address(sd, field, one, &a);
				if (ok)
					add_rcpt(sd, a, field);
				free(a);
				free(one);
				p += len + (p[len] == ',');
			}
		} else {
			warn(sd, "unknown query parameter '%s' was ignored", n);
		}
	}
	buf_free(&name);
	buf_free(&value);
	if (ok && !sd->env_from)
		ok = bad_field(sd, "from", "is required: ?from=ADDRESS");
	if (ok && sd->nrcpts == 0)
		ok = bad_field(sd, "to", "is required: ?to=ADDRESS (repeat it or use commas)");
	if (ok)
		buf_append(raw, r->body.data ? r->body.data : "", r->body.len);
	return ok;
}

void http_post_raw(struct http_session *s)
{
	struct send *sd = send_new(s);
	if (before_send(sd)) {
		send_free(sd);
		return;
	}
	const struct http_request *r = &s->parser.req;
	struct buf raw = BUF_INIT;
	bool ok;
	if (content_type_is(r, "message/rfc822", false)) {
		ok = raw_from_query(sd, &raw);
	} else if (content_type_is(r, "application/json", true)) {
		ok = raw_from_json(sd, &raw);
	} else {
		http_error(s, 415, "unsupported_media_type", NULL,
		           "send application/json or message/rfc822");
		ok = false;
	}
	if (ok && sd->nrcpts > s->ctx->cfg->max_recipients)
		ok = bad_field(sd, "to", "at most %llu recipients",
		               (unsigned long long)s->ctx->cfg->max_recipients);
	ok = ok && check_sender_domain(sd, "from", sd->env_from) &&
	     clean_raw(sd, &raw, &sd->message) && raw_header(sd, &sd->message);
	buf_free(&raw);
	if (!ok) {
		send_free(sd);
		return;
	}
	commit(sd);
}
