/*
 * store_sqlite_webhook — webhooks and their deliveries in the SQLite backend.
 *
 * A webhook row has a cursor: the last event id looked at for it. A SCAN
 * inserts one pending webhook_delivery per matching event after each cursor
 * (in event order, so delivery ids keep the events' order) and moves every
 * cursor to the last event, all in the op's transaction: the commit thread is
 * the only writer, so no event with a smaller id can commit afterwards.
 * Matching: the event's message was sent through the HTTP API (it has an
 * api_message row), with the webhook's key when it has one, and the event's
 * kind is one the webhook asked for.
 *
 * Everything here runs on a connection of store_sqlite.c through its hooks
 * (store_internal.h): writes inside the op's savepoint, reads on the reader.
 */
#include "store/store_internal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define stmt store_sqlite_stmt

const char *const store_webhook_kinds[] = {
        "queued", "deferred", "delivered", "bounced", "expired", "failed", "removed", NULL,
};

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int exec_step(sqlite3_stmt *st)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return xstrdup(t ? (const char *)t : "");
}

static const char *col_cstr(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static void read_fail(struct store_conn *c, struct buf *err)
{
	buf_printf(err, "database error: %s", sqlite3_errmsg(store_sqlite_db(c)));
}

static int64_t changes(struct store_conn *c)
{
	return sqlite3_changes(store_sqlite_db(c));
}

/* ---- ops -------------------------------------------------------------------------------- */

static bool url_ok(const char *url)
{
	size_t len = url ? strlen(url) : 0;
	if (len == 0 || len > STORE_WEBHOOK_MAX_URL)
		return false;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return false;
	return true;
}

static bool kind_known(const char *s, size_t len)
{
	for (const char *const *k = store_webhook_kinds; *k; k++)
		if (strlen(*k) == len && memcmp(*k, s, len) == 0)
			return true;
	return false;
}

static bool list_has(const char *list, const char *s, size_t n)
{
	for (const char *q = list; *q;) {
		size_t m = strcspn(q, ",");
		if (m == n && memcmp(q, s, n) == 0)
			return true;
		q += m;
		q += *q == ',';
	}
	return false;
}

/* "delivered, bounced" -> "delivered,bounced" (known kinds, each once); -1 on
   an unknown kind, which is then in out. */
static int events_normalize(const char *events, struct buf *out)
{
	const char *p = events ? events : "";
	for (;;) {
		p += strspn(p, ", ");
		size_t n = strcspn(p, ", ");
		if (n == 0)
			return 0;
		if (!kind_known(p, n)) {
			buf_reset(out);
			buf_append(out, p, n);
			return -1;
		}
		if (!list_has(buf_cstr(out), p, n)) {
			if (out->len)
				buf_putc(out, ',');
			buf_append(out, p, n);
		}
		p += n;
	}
}

static void op_add(struct store_conn *c, struct store_op *op)
{
	if (!url_ok(op->u.webhook.url)) {
		store_op_fail(op, STORE_ERR_INVALID,
		              "invalid URL (http:// or https://, at most %d bytes, no blanks)",
		              STORE_WEBHOOK_MAX_URL);
		return;
	}
	if (!op->u.webhook.secret || !*op->u.webhook.secret) {
		store_op_fail(op, STORE_ERR_INVALID, "a webhook needs a secret");
		return;
	}
	struct buf events = BUF_INIT;
	if (events_normalize(op->u.webhook.events, &events) < 0) {
		store_op_fail(op, STORE_ERR_INVALID,
		              "unknown event '%s' (queued, deferred, delivered, bounced, expired, "
		              "failed, removed)",
		              buf_cstr(&events));
		buf_free(&events);
		return;
	}
	int64_t key_id = 0;
	sqlite3_stmt *st;
	int rc;
	if (op->u.webhook.key_name) {
		st = stmt(c, "SELECT id, revoked IS NOT NULL FROM api_key WHERE name = ?");
		bind_text(st, 1, op->u.webhook.key_name);
		rc = sqlite3_step(st);
		bool revoked = rc == SQLITE_ROW && sqlite3_column_int(st, 1);
		key_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			store_sqlite_op_sql_fail(op, c, rc);
			goto out;
		}
		if (key_id == 0 || revoked) {
			store_op_fail(op, STORE_ERR_NOTFOUND, "no active API key named '%s'",
			              op->u.webhook.key_name);
			goto out;
		}
	}
	st = stmt(c, "INSERT INTO webhook(url, secret, events, api_key_id, created, cursor) "
	             "VALUES(?, ?, ?, ?, ?, (SELECT coalesce(max(id), 0) FROM event))");
	bind_text(st, 1, op->u.webhook.url);
	bind_text(st, 2, op->u.webhook.secret);
	bind_text(st, 3, buf_cstr(&events));
	if (key_id)
		sqlite3_bind_int64(st, 4, key_id);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
	rc = exec_step(st);
	if (rc != SQLITE_OK)
		store_sqlite_op_sql_fail(op, c, rc);
	else
		op->u.webhook.id_r = sqlite3_last_insert_rowid(store_sqlite_db(c));
out:
	buf_free(&events);
}

static void op_remove(struct store_conn *c, struct store_op *op)
{
	sqlite3_stmt *st = stmt(c, "DELETE FROM webhook_delivery WHERE webhook_id = ?");
	sqlite3_bind_int64(st, 1, op->u.webhook.id);
	int rc = exec_step(st);
	if (rc == SQLITE_OK) {
		st = stmt(c, "DELETE FROM webhook WHERE id = ?");
		sqlite3_bind_int64(st, 1, op->u.webhook.id);
		rc = exec_step(st);
	}
	if (rc != SQLITE_OK)
		store_sqlite_op_sql_fail(op, c, rc);
	else if (changes(c) == 0)
		store_op_fail(op, STORE_ERR_NOTFOUND, "no webhook %lld",
		              (long long)op->u.webhook.id);
}

static void op_test(struct store_conn *c, struct store_op *op)
{
	int64_t now_ms = op->u.webhook.now_ms ? op->u.webhook.now_ms : time_now_ms();
	sqlite3_stmt *st = stmt(c, "INSERT INTO webhook_delivery(webhook_id, state, created_ms, "
	                           "next_attempt_ms) SELECT id, 'pending', ?2, ?2 FROM webhook "
	                           "WHERE id = ?1");
	sqlite3_bind_int64(st, 1, op->u.webhook.id);
	sqlite3_bind_int64(st, 2, now_ms);
	int rc = exec_step(st);
	if (rc != SQLITE_OK)
		store_sqlite_op_sql_fail(op, c, rc);
	else if (changes(c) == 0)
		store_op_fail(op, STORE_ERR_NOTFOUND, "no webhook %lld",
		              (long long)op->u.webhook.id);
	else
		op->u.webhook.id_r = sqlite3_last_insert_rowid(store_sqlite_db(c));
}

static void op_scan(struct store_conn *c, struct store_op *op)
{
	int64_t now_ms = op->u.webhook.now_ms ? op->u.webhook.now_ms : time_now_ms();
	sqlite3_stmt *st = stmt(c, "SELECT coalesce(max(id), 0) FROM event");
	int rc = sqlite3_step(st);
	int64_t last = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		goto fail;
	st = stmt(c,
	          "INSERT INTO webhook_delivery(webhook_id, event_id, queue_id, state, "
	          "created_ms, next_attempt_ms) "
	          "SELECT w.id, e.id, e.queue_id, 'pending', ?1, ?1 FROM webhook w "
	          "JOIN event e ON e.id > w.cursor AND e.id <= ?2 "
	          "JOIN api_message a ON a.queue_id = e.queue_id "
	          "WHERE (w.api_key_id IS NULL OR a.api_key_id = w.api_key_id) "
	          "AND (w.events = '' OR instr(',' || w.events || ',', ',' || e.kind || ',') > 0) "
	          "ORDER BY e.id, w.id");
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, last);
	rc = exec_step(st);
	if (rc != SQLITE_OK)
		goto fail;
	op->u.webhook.count_r = (size_t)changes(c);
	st = stmt(c, "UPDATE webhook SET cursor = ?1 WHERE cursor < ?1");
	sqlite3_bind_int64(st, 1, last);
	rc = exec_step(st);
	if (rc != SQLITE_OK)
		goto fail;
	if (op->u.webhook.prune) {
		static const char *const prune[] = {
		        "DELETE FROM webhook_delivery WHERE state = 'delivered' "
		        "AND next_attempt_ms < ?",
		        "DELETE FROM webhook_delivery WHERE state = 'failed' AND next_attempt_ms < "
		        "?",
		};
		for (size_t i = 0; i < ARRAY_SIZE(prune) && rc == SQLITE_OK; i++) {
			st = stmt(c, prune[i]);
			sqlite3_bind_int64(st, 1, now_ms - STORE_WEBHOOK_KEEP_MS);
			rc = exec_step(st);
		}
		if (rc != SQLITE_OK)
			goto fail;
	}
	return;
fail:
	store_sqlite_op_sql_fail(op, c, rc);
}

static void op_result(struct store_conn *c, struct store_op *op)
{
	int64_t now_ms = op->u.webhook.now_ms ? op->u.webhook.now_ms : time_now_ms();
	const char *state = op->u.webhook.ok        ? "delivered"
	                    : op->u.webhook.give_up ? "failed"
	                                            : "pending";
	int64_t next = strcmp(state, "pending") == 0 ? op->u.webhook.next_attempt_ms : now_ms;
	char *error = NULL;
	if (!op->u.webhook.ok && op->u.webhook.error)
		error = xstrndup(op->u.webhook.error,
		                 strnlen(op->u.webhook.error, STORE_WEBHOOK_MAX_ERROR));
	sqlite3_stmt *st =
	        stmt(c, "UPDATE webhook_delivery SET state = ?1, attempts = attempts + 1, "
	                "next_attempt_ms = ?2, last_status = ?3, last_error = ?4 "
	                "WHERE id = ?5 AND state = 'pending'");
	bind_text(st, 1, state);
	sqlite3_bind_int64(st, 2, next);
	sqlite3_bind_int(st, 3, op->u.webhook.status);
	bind_text(st, 4, error);
	sqlite3_bind_int64(st, 5, op->u.webhook.delivery_id);
	int rc = exec_step(st);
	free(error);
	if (rc != SQLITE_OK)
		store_sqlite_op_sql_fail(op, c, rc);
	else
		op->u.webhook.count_r = (size_t)changes(c); /* 0: removed meanwhile */
}

void store_sqlite_webhook_apply(struct store_conn *c, struct store_op *op)
{
	switch (op->kind) {
	case STORE_OP_WEBHOOK_ADD:
		op_add(c, op);
		break;
	case STORE_OP_WEBHOOK_REMOVE:
		op_remove(c, op);
		break;
	case STORE_OP_WEBHOOK_TEST:
		op_test(c, op);
		break;
	case STORE_OP_WEBHOOK_SCAN:
		op_scan(c, op);
		break;
	case STORE_OP_WEBHOOK_RESULT:
		op_result(c, op);
		break;
	default:
		panic("store_sqlite_webhook: op %d", (int)op->kind);
	}
}

/* ---- reads ------------------------------------------------------------------------------ */

int store_sqlite_webhook_list(struct store_conn *c,
                              void (*fn)(const struct store_webhook *w, void *arg), void *arg,
                              struct buf *err)
{
	sqlite3_stmt *st =
	        stmt(c, "SELECT w.id, w.url, w.secret, w.events, coalesce(k.name, ''), w.created, "
	                "(SELECT count(*) FROM webhook_delivery d WHERE d.webhook_id = w.id "
	                "AND d.state = 'pending'), "
	                "(SELECT count(*) FROM webhook_delivery d WHERE d.webhook_id = w.id "
	                "AND d.state = 'delivered'), "
	                "(SELECT count(*) FROM webhook_delivery d WHERE d.webhook_id = w.id "
	                "AND d.state = 'failed') "
	                "FROM webhook w LEFT JOIN api_key k ON k.id = w.api_key_id ORDER BY w.id");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_webhook w = {
		        .id = sqlite3_column_int64(st, 0),
		        .url = col_text(st, 1),
		        .secret = col_text(st, 2),
		        .events = col_text(st, 3),
		        .key_name = col_text(st, 4),
		        .created = sqlite3_column_int64(st, 5),
		        .pending = (uint64_t)sqlite3_column_int64(st, 6),
		        .delivered = (uint64_t)sqlite3_column_int64(st, 7),
		        .failed = (uint64_t)sqlite3_column_int64(st, 8),
		};
		fn(&w, arg);
		store_webhook_clear(&w);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

int store_sqlite_webhook_due(struct store_conn *c, int64_t now_ms, size_t limit,
                             void (*fn)(const struct store_webhook_delivery *d, void *arg),
                             void *arg, struct buf *err)
{
	/* columns 0-11 are the event (store_sqlite_event_from_row); a test
	   delivery has none */
	sqlite3_stmt *st = stmt(
	        c, "SELECT e.id, e.queue_id, e.rcpt, e.kind, e.at, e.mx, e.remote_ip, e.source_ip, "
	           "e.tls, e.reply, e.attempt, e.next_attempt, a.public_id, a.message_id, a.tags, "
	           "a.metadata, d.id, d.webhook_id, w.url, w.secret, d.attempts, d.created_ms, "
	           "d.event_id IS NULL "
	           "FROM webhook_delivery d JOIN webhook w ON w.id = d.webhook_id "
	           "LEFT JOIN event e ON e.id = d.event_id "
	           "LEFT JOIN api_message a ON a.queue_id = d.queue_id "
	           "WHERE d.state = 'pending' AND d.next_attempt_ms <= ?1 "
	           "AND (d.queue_id IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_delivery p "
	           "WHERE p.webhook_id = d.webhook_id AND p.queue_id = d.queue_id "
	           "AND p.id < d.id AND p.state = 'pending')) "
	           "ORDER BY d.id LIMIT ?2");
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, (int64_t)limit);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_webhook_delivery d = {
		        .id = sqlite3_column_int64(st, 16),
		        .webhook_id = sqlite3_column_int64(st, 17),
		        .url = col_cstr(st, 18),
		        .secret = col_cstr(st, 19),
		        .attempts = (unsigned)sqlite3_column_int64(st, 20),
		        .created_ms = sqlite3_column_int64(st, 21),
		        .test = sqlite3_column_int(st, 22) != 0,
		};
		if (!d.test) {
			store_sqlite_event_from_row(st, &d.ev.e);
			d.ev.public_id = col_cstr(st, 12);
			d.ev.message_id = col_cstr(st, 13);
			d.ev.tags = col_cstr(st, 14);
			d.ev.metadata = col_cstr(st, 15);
		}
		fn(&d, arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

enum store_lookup store_sqlite_webhook_delivery_state(struct store_conn *c, int64_t id,
                                                      struct buf *state_r, unsigned *attempts_r,
                                                      int *status_r, struct buf *error_r,
                                                      struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT state, attempts, coalesce(last_status, 0), "
	                           "coalesce(last_error, '') FROM webhook_delivery WHERE id = ?");
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	enum store_lookup r = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW) {
		buf_puts(state_r, col_cstr(st, 0));
		*attempts_r = (unsigned)sqlite3_column_int64(st, 1);
		*status_r = sqlite3_column_int(st, 2);
		buf_puts(error_r, col_cstr(st, 3));
		r = STORE_FOUND;
	} else if (rc != SQLITE_DONE) {
		read_fail(c, err);
		r = STORE_ERROR;
	}
	sqlite3_reset(st);
	return r;
}

int store_sqlite_webhook_backlog(struct store_conn *c, uint64_t *pending_r, int64_t *oldest_ms_r,
                                 uint64_t *unscanned_r, struct buf *err)
{
	sqlite3_stmt *st =
	        stmt(c, "SELECT (SELECT count(*) FROM webhook_delivery WHERE state = 'pending'), "
	                "(SELECT coalesce(min(created_ms), 0) FROM webhook_delivery "
	                "WHERE state = 'pending'), "
	                "(SELECT coalesce(max(id), 0) FROM event) - "
	                "(SELECT coalesce(min(cursor), (SELECT coalesce(max(id), 0) FROM event)) "
	                "FROM webhook)");
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*pending_r = (uint64_t)sqlite3_column_int64(st, 0);
		*oldest_ms_r = sqlite3_column_int64(st, 1);
		int64_t behind = sqlite3_column_int64(st, 2);
		*unscanned_r = behind > 0 ? (uint64_t)behind : 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}
