/*
 * store_sqlite_api — the HTTP API's tables in the SQLite backend: API keys,
 * the api_message record of each send, its local receipts, idempotency
 * records, the per-key event feed, and the queue gauges of /metrics.
 *
 * Everything here runs on a connection of store_sqlite.c through its hooks
 * (store_internal.h): writes inside the op's savepoint on the writer, reads on
 * the reader. Errors map as in store_sqlite.c.
 */
#include "store/store_internal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_KEY_NAME 64

#define stmt store_sqlite_stmt

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

/* ---- ops: keys ------------------------------------------------------------------- */

static bool key_name_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len > MAX_KEY_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

static void op_apikey_add(struct store_conn *c, struct store_op *op)
{
	const char *name = op->u.apikey.name;
	if (!key_name_ok(name)) {
		store_op_fail(op, STORE_ERR_INVALID,
		              "invalid key name (1 to 64 letters, digits, '-', '_' or '.')");
		return;
	}
	if (!op->u.apikey.hash || op->u.apikey.rate < 0) {
		store_op_fail(op, STORE_ERR_INVALID, "invalid key");
		return;
	}
	sqlite3_stmt *st = stmt(c, "INSERT INTO api_key(name, hash, domains, pool, rate, created) "
	                           "VALUES(?, ?, ?, ?, ?, ?)");
	bind_text(st, 1, name);
	sqlite3_bind_blob(st, 2, op->u.apikey.hash, 32, SQLITE_STATIC);
	bind_text(st, 3,
	          op->u.apikey.domains && *op->u.apikey.domains ? op->u.apikey.domains : NULL);
	bind_text(st, 4, op->u.apikey.pool && *op->u.apikey.pool ? op->u.apikey.pool : NULL);
	if (op->u.apikey.rate > 0)
		sqlite3_bind_double(st, 5, op->u.apikey.rate);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int64(st, 6, (int64_t)time(NULL));
	int rc = exec_step(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		store_op_fail(op, STORE_ERR_EXISTS,
		              "an API key named '%s' exists (revoked keys keep their name)", name);
	else if (rc != SQLITE_OK)
		store_sqlite_op_sql_fail(op, c, rc);
	else
		op->u.apikey.id_r = sqlite3_last_insert_rowid(store_sqlite_db(c));
}

static void op_apikey_revoke(struct store_conn *c, struct store_op *op)
{
	sqlite3_stmt *st = stmt(c, "UPDATE api_key SET revoked = ? WHERE name = ? "
	                           "AND revoked IS NULL RETURNING id");
	sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
	bind_text(st, 2, op->u.apikey.name);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		op->u.apikey.id_r = sqlite3_column_int64(st, 0);
		rc = exec_step(st);
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		store_op_fail(op, STORE_ERR_NOTFOUND, "no active API key named '%s'",
		              op->u.apikey.name ? op->u.apikey.name : "");
		return;
	}
	if (rc != SQLITE_OK)
		store_sqlite_op_sql_fail(op, c, rc);
}

void store_sqlite_api_apply(struct store_conn *c, struct store_op *op)
{
	if (op->kind == STORE_OP_APIKEY_ADD)
		op_apikey_add(c, op);
	else
		op_apikey_revoke(c, op);
}

/* ---- ops: a send ------------------------------------------------------------------ */

static int local_receipt(struct store_conn *c, int64_t qid, const char *rcpt, int64_t at_ms)
{
	static const char *const kinds[] = {"queued", "delivered"};
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		sqlite3_stmt *st = stmt(c, "INSERT INTO event(queue_id, rcpt, kind, at, reply) "
		                           "VALUES(?, ?, ?, ?, ?)");
		sqlite3_bind_int64(st, 1, qid);
		bind_text(st, 2, rcpt);
		bind_text(st, 3, kinds[i]);
		sqlite3_bind_int64(st, 4, at_ms);
		bind_text(st, 5, i ? "250 2.0.0 Delivered to a local mailbox" : NULL);
		int rc = exec_step(st);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* Fails the op with EXISTS when a fresh record of the key is there already. */
static int idempotency_put(struct store_conn *c, struct store_op *op,
                           const struct store_api_send *a, int64_t now)
{
	int64_t since = now - STORE_IDEMPOTENCY_TTL;
	sqlite3_stmt *st = stmt(c, "INSERT INTO idempotency(api_key_id, idem_key, "
	                           "request_sha256, response, created) VALUES(?1, ?2, ?3, ?4, ?5) "
	                           "ON CONFLICT(api_key_id, idem_key) DO UPDATE SET "
	                           "request_sha256 = excluded.request_sha256, "
	                           "response = excluded.response, created = excluded.created "
	                           "WHERE created < ?6");
	sqlite3_bind_int64(st, 1, a->api_key_id);
	bind_text(st, 2, a->idem_key);
	sqlite3_bind_blob(st, 3, a->idem_hash, 32, SQLITE_STATIC);
	bind_text(st, 4, a->idem_response ? a->idem_response : "");
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, since);
	int rc = exec_step(st);
	if (rc != SQLITE_OK)
		return rc;
	if (sqlite3_changes(store_sqlite_db(c)) == 0) {
		store_op_fail(op, STORE_ERR_EXISTS, "idempotency key already used");
		return SQLITE_OK;
	}
	/* Now and then, forget the key's stale records. */
	if (op->u.append.queue_id_r % 64 == 0) {
		st = stmt(c, "DELETE FROM idempotency WHERE api_key_id = ? AND created < ?");
		sqlite3_bind_int64(st, 1, a->api_key_id);
		sqlite3_bind_int64(st, 2, since);
		rc = exec_step(st);
	}
	return rc;
}

void store_sqlite_api_append(struct store_conn *c, struct store_op *op)
{
	const struct store_api_send *a = op->u.append.api;
	int64_t now = (int64_t)time(NULL), now_ms = time_now_ms();
	sqlite3_stmt *st;
	int rc;
	if (op->u.append.nqueue == 0) {
		/* Local recipients only: no queue entry, but a queue id for the
		   receipts, taken from the same sequence (never reused). */
		st = stmt(c, "SELECT max(coalesce((SELECT max(id) FROM queue_message), 0), "
		             "coalesce((SELECT max(queue_id) FROM event), 0)) + 1");
		rc = sqlite3_step(st);
		op->u.append.queue_id_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
	} else {
		st = stmt(c, "UPDATE queue_message SET api_key_id = ?, pool = ?, tags = ?, "
		             "metadata = ? WHERE id = ?");
		sqlite3_bind_int64(st, 1, a->api_key_id);
		bind_text(st, 2, a->pool);
		bind_text(st, 3, a->tags);
		bind_text(st, 4, a->metadata);
		sqlite3_bind_int64(st, 5, op->u.append.queue_id_r);
		rc = exec_step(st);
	}
	int64_t qid = op->u.append.queue_id_r;
	for (size_t i = 0; rc == SQLITE_OK && i < a->ndelivered; i++)
		rc = local_receipt(c, qid, a->delivered[i], now_ms);
	if (rc == SQLITE_OK) {
		st = stmt(c, "INSERT INTO api_message(public_id, queue_id, api_key_id, message_id, "
		             "env_from, subject, tags, metadata, created) "
		             "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
		bind_text(st, 1, a->public_id);
		sqlite3_bind_int64(st, 2, qid);
		sqlite3_bind_int64(st, 3, a->api_key_id);
		bind_text(st, 4, a->message_id);
		bind_text(st, 5, op->u.append.env_from ? op->u.append.env_from : "");
		bind_text(st, 6, a->subject);
		bind_text(st, 7, a->tags);
		bind_text(st, 8, a->metadata);
		sqlite3_bind_int64(st, 9, now);
		rc = exec_step(st);
	}
	if (rc == SQLITE_OK && a->idem_key)
		rc = idempotency_put(c, op, a, now);
	if (rc != SQLITE_OK)
		store_sqlite_op_sql_fail(op, c, rc);
}

/* ---- reads -------------------------------------------------------------------------- */

#define KEY_COLS                                                                                   \
	"id, name, coalesce(domains, ''), coalesce(pool, ''), coalesce(rate, 0), created, "        \
	"coalesce(revoked, 0)"

static void key_from_row(sqlite3_stmt *st, struct store_apikey *k)
{
	k->id = sqlite3_column_int64(st, 0);
	k->name = col_text(st, 1);
	k->domains = col_text(st, 2);
	k->pool = col_text(st, 3);
	k->rate = sqlite3_column_double(st, 4);
	k->created = sqlite3_column_int64(st, 5);
	k->revoked = sqlite3_column_int64(st, 6);
}

enum store_lookup store_sqlite_apikey_find(struct store_conn *c, const unsigned char hash[32],
                                           struct store_apikey *k_r, struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT " KEY_COLS " FROM api_key WHERE hash = ?");
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	enum store_lookup r = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW) {
		key_from_row(st, k_r);
		r = STORE_FOUND;
	} else if (rc != SQLITE_DONE) {
		read_fail(c, err);
		r = STORE_ERROR;
	}
	sqlite3_reset(st);
	return r;
}

int store_sqlite_apikey_list(struct store_conn *c,
                             void (*fn)(const struct store_apikey *k, void *arg), void *arg,
                             struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT " KEY_COLS " FROM api_key ORDER BY name");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_apikey k = {0};
		key_from_row(st, &k);
		fn(&k, arg);
		store_apikey_clear(&k);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

enum store_lookup store_sqlite_idempotency_get(struct store_conn *c, int64_t api_key_id,
                                               const char *idem_key, int64_t since,
                                               unsigned char hash_r[32], struct buf *response_r,
                                               struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT request_sha256, response FROM idempotency "
	                           "WHERE api_key_id = ? AND idem_key = ? AND created >= ?");
	sqlite3_bind_int64(st, 1, api_key_id);
	bind_text(st, 2, idem_key);
	sqlite3_bind_int64(st, 3, since);
	int rc = sqlite3_step(st);
	enum store_lookup r = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW) {
		memset(hash_r, 0, 32);
		if (sqlite3_column_bytes(st, 0) == 32)
			memcpy(hash_r, sqlite3_column_blob(st, 0), 32);
		const char *resp = col_cstr(st, 1);
		buf_puts(response_r, resp ? resp : "");
		r = STORE_FOUND;
	} else if (rc != SQLITE_DONE) {
		read_fail(c, err);
		r = STORE_ERROR;
	}
	sqlite3_reset(st);
	return r;
}

enum store_lookup store_sqlite_api_message_get(struct store_conn *c, int64_t api_key_id,
                                               const char *public_id, struct store_api_message *m_r,
                                               struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT queue_id, public_id, coalesce(message_id, ''), "
	                           "env_from, coalesce(subject, ''), coalesce(tags, ''), "
	                           "coalesce(metadata, ''), created FROM api_message "
	                           "WHERE public_id = ? AND api_key_id = ?");
	bind_text(st, 1, public_id);
	sqlite3_bind_int64(st, 2, api_key_id);
	int rc = sqlite3_step(st);
	enum store_lookup r = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW) {
		m_r->queue_id = sqlite3_column_int64(st, 0);
		m_r->public_id = col_text(st, 1);
		m_r->message_id = col_text(st, 2);
		m_r->env_from = col_text(st, 3);
		m_r->subject = col_text(st, 4);
		m_r->tags = col_text(st, 5);
		m_r->metadata = col_text(st, 6);
		m_r->created = sqlite3_column_int64(st, 7);
		r = STORE_FOUND;
	} else if (rc != SQLITE_DONE) {
		read_fail(c, err);
		r = STORE_ERROR;
	}
	sqlite3_reset(st);
	return r;
}

int store_sqlite_api_events(struct store_conn *c, int64_t api_key_id, int64_t after, size_t limit,
                            const char *kind, const char *rcpt, const char *tag,
                            void (*fn)(const struct store_api_event *e, void *arg), void *arg,
                            struct buf *err)
{
	sqlite3_stmt *st = stmt(
	        c, "SELECT e.id, e.queue_id, e.rcpt, e.kind, e.at, e.mx, e.remote_ip, e.source_ip, "
	           "e.tls, e.reply, e.attempt, e.next_attempt, a.public_id, a.message_id, a.tags, "
	           "a.metadata FROM event e JOIN api_message a ON a.queue_id = e.queue_id "
	           "WHERE a.api_key_id = ?1 AND e.id > ?2 "
	           "AND (?3 IS NULL OR e.kind = ?3) "
	           "AND (?4 IS NULL OR e.rcpt = ?4 COLLATE NOCASE) "
	           "AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(CASE WHEN "
	           "json_valid(a.tags) THEN a.tags ELSE '[]' END) WHERE value = ?5)) "
	           "ORDER BY e.id LIMIT ?6");
	sqlite3_bind_int64(st, 1, api_key_id);
	sqlite3_bind_int64(st, 2, after);
	bind_text(st, 3, kind);
	bind_text(st, 4, rcpt);
	bind_text(st, 5, tag);
	sqlite3_bind_int64(st, 6, (int64_t)limit);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_api_event e = {
		        .public_id = col_cstr(st, 12),
		        .message_id = col_cstr(st, 13),
		        .tags = col_cstr(st, 14),
		        .metadata = col_cstr(st, 15),
		};
		store_sqlite_event_from_row(st, &e.e);
		fn(&e, arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

int store_sqlite_stats_queue(struct store_conn *c, uint64_t *queued_r, uint64_t *deferred_r,
                             int64_t *oldest_r, struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT coalesce(sum(r.state = 'queued'), 0), "
	                           "coalesce(sum(r.state = 'deferred'), 0), "
	                           "coalesce(min(q.created), 0) FROM queue_rcpt r "
	                           "JOIN queue_message q ON q.id = r.queue_id "
	                           "WHERE r.state IN ('queued', 'deferred')");
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*queued_r = (uint64_t)sqlite3_column_int64(st, 0);
		*deferred_r = (uint64_t)sqlite3_column_int64(st, 1);
		*oldest_r = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}
