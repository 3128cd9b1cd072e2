/*
 * store_sqlite_urlauth — IMAP URLAUTH keys in the SQLite backend (store.h,
 * "URLAUTH keys"): set and reset by ops on the writer, read on the reader,
 * through the hooks of store_sqlite.c. Errors map as in store_sqlite.c.
 */
#include "store/store_internal.h"

#include <sqlite3.h>
#include <string.h>
#include <time.h>

#define stmt store_sqlite_stmt

/* Whether mailbox_id belongs to account_id; -1 on a database error (op failed). */
static int mailbox_owned(struct store_conn *c, struct store_op *op, int64_t account_id,
                         int64_t mailbox_id)
{
	sqlite3_stmt *st = stmt(c, "SELECT 1 FROM mailbox WHERE id = ? AND account_id = ?");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, account_id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_sqlite_op_sql_fail(op, c, rc);
		return -1;
	}
	return rc == SQLITE_ROW;
}

static void op_key_set(struct store_conn *c, struct store_op *op)
{
	int64_t account = op->u.urlauth.account_id, mailbox = op->u.urlauth.mailbox_id;
	int owned = mailbox_owned(c, op, account, mailbox);
	if (owned < 0)
		return;
	if (!owned) {
		store_op_fail(op, STORE_ERR_NOTFOUND, "no such mailbox");
		return;
	}
	/* An existing key stays: a second session that raced this one to
	   make the first key uses the one that won. */
	sqlite3_stmt *st = stmt(c, "INSERT INTO urlauth_key(mailbox_id, account_id, key, created) "
	                           "VALUES(?, ?, ?, ?) ON CONFLICT(mailbox_id) DO NOTHING");
	sqlite3_bind_int64(st, 1, mailbox);
	sqlite3_bind_int64(st, 2, account);
	sqlite3_bind_blob(st, 3, op->u.urlauth.key, STORE_URLAUTH_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		store_sqlite_op_sql_fail(op, c, rc);
		return;
	}
	st = stmt(c, "SELECT key FROM urlauth_key WHERE mailbox_id = ?");
	sqlite3_bind_int64(st, 1, mailbox);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == STORE_URLAUTH_KEY_LEN)
		memcpy(op->u.urlauth.key_r, sqlite3_column_blob(st, 0), STORE_URLAUTH_KEY_LEN);
	else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		store_op_fail(op, STORE_ERR_INVALID, "the mailbox's URLAUTH key is unreadable");
	else
		store_sqlite_op_sql_fail(op, c, rc);
	sqlite3_reset(st);
}

static void op_key_reset(struct store_conn *c, struct store_op *op)
{
	int64_t account = op->u.urlauth.account_id, mailbox = op->u.urlauth.mailbox_id;
	sqlite3_stmt *st;
	if (mailbox) {
		int owned = mailbox_owned(c, op, account, mailbox);
		if (owned < 0)
			return;
		if (!owned) {
			store_op_fail(op, STORE_ERR_NOTFOUND, "no such mailbox");
			return;
		}
		st = stmt(c, "DELETE FROM urlauth_key WHERE mailbox_id = ? AND account_id = ?");
		sqlite3_bind_int64(st, 1, mailbox);
		sqlite3_bind_int64(st, 2, account);
	} else {
		st = stmt(c, "DELETE FROM urlauth_key WHERE account_id = ?");
		sqlite3_bind_int64(st, 1, account);
	}
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_sqlite_op_sql_fail(op, c, rc);
		return;
	}
	op->u.urlauth.count_r = (size_t)sqlite3_changes(store_sqlite_db(c));
}

void store_sqlite_urlauth_apply(struct store_conn *c, struct store_op *op)
{
	if (op->kind == STORE_OP_URLAUTH_KEY_SET)
		op_key_set(c, op);
	else
		op_key_reset(c, op);
}

enum store_lookup store_sqlite_urlauth_key_get(struct store_conn *c, int64_t account_id,
                                               int64_t mailbox_id,
                                               unsigned char key_r[STORE_URLAUTH_KEY_LEN],
                                               struct buf *err)
{
	sqlite3_stmt *st =
	        stmt(c, "SELECT key FROM urlauth_key WHERE mailbox_id = ? AND account_id = ?");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, account_id);
	int rc = sqlite3_step(st);
	enum store_lookup l = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == STORE_URLAUTH_KEY_LEN) {
		memcpy(key_r, sqlite3_column_blob(st, 0), STORE_URLAUTH_KEY_LEN);
		l = STORE_FOUND;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		buf_printf(err, "database error: %s", sqlite3_errmsg(store_sqlite_db(c)));
		l = STORE_ERROR;
	}
	sqlite3_reset(st);
	return l;
}
