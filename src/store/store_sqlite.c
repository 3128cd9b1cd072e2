/*
 * store_sqlite — the embedded backend: one SQLite file in WAL mode.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so COMMIT returns only
 * after the WAL is fsync'd. The commit thread batches many ops per COMMIT
 * (store.c), which is what makes this fast. Readers use their own connection
 * and see the last committed state without waiting for the writer.
 *
 * Statements are prepared once per connection and cached by the address of
 * their SQL text (every SQL string here is a literal).
 *
 * Temporary files stay in memory (temp_store=MEMORY). The one that matters is
 * the statement journal: every op of a batch runs in its own savepoint, whose
 * journal keeps the pages that earlier ops of the transaction changed and this
 * one changes again (the tail pages of every table and index an append
 * writes). Past 64 KiB SQLite would move it to a file of its own, created and
 * unlinked in /var/tmp in every commit; in memory it is a few memcpy. It grows
 * with what one op rewrites (a big expunge or copy in a busy batch: megabytes,
 * for the length of one op).
 *
 * Errors from SQLite map to store errors: FULL, IOERR, BUSY, LOCKED, NOMEM,
 * CANTOPEN, READONLY, PROTOCOL are temporary; a UNIQUE constraint is
 * STORE_ERR_EXISTS; anything else is reported as temporary too (an operator
 * problem, not the client's), with SQLite's message.
 */
#include "store/store_internal.h"

#include "mime/mime.h"

#include <errno.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Prepared statements, by the address of their SQL text: an open-addressing
   table, a power of two with room to spare (the store has about 170). */
#define STMT_CACHE 512

/* Tombstones written per mailbox since its last compaction check (see
   tombstones_compact), for a bounded number of mailboxes. */
#define TOMB_COUNTERS 256

struct store_conn {
	sqlite3 *db;
	char *path;
	uint32_t tombstones_kept; /* per mailbox; 0: keep all */
	struct {
		int64_t mailbox_id;
		uint32_t n;
	} tomb[TOMB_COUNTERS];
	size_t ntomb;
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	size_t ncache; /* slots in use */
	int savepoints;
	unsigned read_depth; /* store_sqlite_read_begin() nesting */
	bool read_own;       /* the outermost store_sqlite_read_begin() opened a transaction */
	/* The blob handle of conn_message_header_read, moved from blob to blob
	   (sqlite3_blob_reopen) within one read transaction, closed at its end. */
	sqlite3_blob *header_blob;
	struct store_sqlite_search_queue search; /* writer: FTS5 rows for the commit */
};

/* ---- plumbing -------------------------------------------------------------- */

static sqlite3_stmt *stmt(struct store_conn *c, const char *sql)
{
	uintptr_t h = (uintptr_t)sql;
	size_t i = (size_t)((h >> 3) ^ (h >> 12)) & (STMT_CACHE - 1);
	while (c->cache[i].sql) {
		if (c->cache[i].sql == sql) {
			sqlite3_reset(c->cache[i].st);
			sqlite3_clear_bindings(c->cache[i].st);
			return c->cache[i].st;
		}
		i = (i + 1) & (STMT_CACHE - 1);
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK)
		panic("store_sqlite: cannot prepare '%s': %s", sql, sqlite3_errmsg(c->db));
	if (c->ncache >= STMT_CACHE / 2)
		panic("store_sqlite: statement cache full");
	c->cache[i].sql = sql;
	c->cache[i].st = st;
	c->ncache++;
	return st;
}

static bool rc_temporary(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_TOOBIG:
		return false;
	default:
		return true;
	}
}

/* Records a failed step on op. */
static void op_sql_fail(struct store_op *op, struct store_conn *c, int rc)
{
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		store_op_fail(op, STORE_ERR_EXISTS, "already exists");
	else
		store_op_fail(op, rc_temporary(rc) ? STORE_ERR_TEMP : STORE_ERR_INVALID,
			      "database error: %s", sqlite3_errmsg(c->db));
}

static void read_fail(struct store_conn *c, struct buf *err)
{
	buf_printf(err, "database error: %s", sqlite3_errmsg(c->db));
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return xstrdup(t ? (const char *)t : "");
}

/* Runs a statement that returns no rows (or whose rows are ignored). */
static int exec_step(sqlite3_stmt *st)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- connections --------------------------------------------------------------- */

static int mkdir_parent(const char *path, struct buf *err)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int r = 0;
	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			if (mkdir(dir, 0750) < 0 && errno != EEXIST)
				r = -1;
			*p = '/';
		}
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			r = -1;
		if (r < 0)
			buf_printf(err, "cannot create directory %s: %s", dir, strerror(errno));
	}
	free(dir);
	return r;
}

static void conn_close(struct store_conn **cp)
{
	struct store_conn *c = *cp;
	if (!c)
		return;
	sqlite3_blob_close(c->header_blob);
	store_sqlite_search_rollback(c);
	free(c->search.w);
	for (size_t i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(c->cache[i].st); /* NULL: a no-op */
	sqlite3_close(c->db);
	free(c->path);
	free(c);
	*cp = NULL;
}

static int conn_open(struct store_conn **c_r, const char *path, bool writer, struct buf *err)
{
	if (writer && mkdir_parent(path, err) < 0)
		return -1;
	struct store_conn *c = xcalloc(1, sizeof *c);
	c->path = xstrdup(path);
	c->tombstones_kept = STORE_TOMBSTONES_KEPT;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		buf_printf(err, "cannot open store %s: %s", path,
			   c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		conn_close(&c);
		return -1;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, 10000);
	char *e = NULL;
	rc = sqlite3_exec(c->db,
	                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
	                  "PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF; "
	                  "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456;",
	                  NULL, NULL, &e);
	if (rc != SQLITE_OK) {
		buf_printf(err, "cannot set up store %s: %s", path, e ? e : sqlite3_errstr(rc));
		sqlite3_free(e);
		conn_close(&c);
		return -1;
	}
	if (writer) {
		if (!sqlite3_compileoption_used("ENABLE_FTS5")) {
			buf_puts(err, "this SQLite library lacks FTS5, which the store needs");
			conn_close(&c);
			return -1;
		}
		if (store_sqlite_migrate(c->db, path, err) < 0) {
			conn_close(&c);
			return -1;
		}
	}
	*c_r = c;
	return 0;
}

static void conn_set_tombstones_kept(struct store_conn *c, uint32_t n)
{
	c->tombstones_kept = n;
}

static int simple_exec(struct store_conn *c, const char *sql, struct buf *err)
{
	int rc = exec_step(stmt(c, sql));
	if (rc != SQLITE_OK) {
		if (err)
			buf_printf(err, "database error: %s", sqlite3_errmsg(c->db));
		return -1;
	}
	return 0;
}

/* A read transaction, unless one is open already (nested, or a writer's). */
void store_sqlite_read_begin(struct store_conn *c)
{
	if (c->read_depth++ == 0)
		c->read_own = sqlite3_get_autocommit(c->db) && simple_exec(c, "BEGIN", NULL) == 0;
}

void store_sqlite_read_end(struct store_conn *c)
{
	if (c->read_depth == 0 || --c->read_depth > 0)
		return;
	sqlite3_blob_close(c->header_blob);
	c->header_blob = NULL;
	if (c->read_own) {
		simple_exec(c, "COMMIT", NULL);
		c->read_own = false;
	}
}

static int conn_begin(struct store_conn *c, struct buf *err)
{
	return simple_exec(c, "BEGIN IMMEDIATE", err);
}

static int conn_commit(struct store_conn *c, struct buf *err)
{
	int rc = store_sqlite_search_commit(c);
	if (rc != SQLITE_OK) {
		buf_printf(err, "database error: %s", sqlite3_errmsg(c->db));
		return -1;
	}
	return simple_exec(c, "COMMIT", err);
}

static void conn_rollback(struct store_conn *c)
{
	store_sqlite_search_rollback(c);
	if (!sqlite3_get_autocommit(c->db))
		simple_exec(c, "ROLLBACK", NULL);
}

static int conn_savepoint(struct store_conn *c, struct buf *err)
{
	store_sqlite_search_savepoint(c);
	return simple_exec(c, "SAVEPOINT op", err);
}

static void conn_release(struct store_conn *c)
{
	simple_exec(c, "RELEASE op", NULL);
}

static void conn_rollback_to(struct store_conn *c)
{
	store_sqlite_search_rollback_to(c);
	simple_exec(c, "ROLLBACK TO op", NULL);
}

/* ---- shared write helpers --------------------------------------------------------- */

static int64_t domain_id(struct store_conn *c, const char *name)
{
	sqlite3_stmt *st = stmt(c, "SELECT id FROM domain WHERE name = ?");
	bind_text(st, 1, name);
	int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return id;
}

/* A fresh UIDVALIDITY: the current time, but always above any given before, so a
   mailbox deleted and re-created within a second still gets a new one. */
static int next_uidvalidity(struct store_conn *c, uint32_t *v_r)
{
	sqlite3_stmt *st = stmt(c, "SELECT value FROM meta WHERE key = 'next_uidvalidity'");
	int64_t last = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	int64_t v = now_s();
	if (v <= last)
		v = last + 1;
	if (v > UINT32_MAX)
		v = 1; /* 2106: wrap; UIDVALIDITY need only differ */
	st = stmt(c, "UPDATE meta SET value = ? WHERE key = 'next_uidvalidity'");
	sqlite3_bind_int64(st, 1, v);
	int rc = exec_step(st);
	*v_r = (uint32_t)v;
	return rc;
}

/* Subscriptions are names (schema 4): they outlive their mailbox. */
static int subscription_set(struct store_conn *c, int64_t account_id, const char *name, bool on)
{
	sqlite3_stmt *st =
		stmt(c, on ? "INSERT OR IGNORE INTO subscription(account_id, name) VALUES(?, ?)"
			   : "DELETE FROM subscription WHERE account_id = ? AND name = ?");
	sqlite3_bind_int64(st, 1, account_id);
	bind_text(st, 2, name);
	return exec_step(st);
}

static int mailbox_insert(struct store_conn *c, int64_t account_id, const char *name,
			  const char *special_use, bool subscribed, int64_t *id_r)
{
	uint32_t uv;
	int rc = next_uidvalidity(c, &uv);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_stmt *st = stmt(c, "INSERT INTO mailbox(account_id, name, special_use, uidvalidity) "
				   "VALUES(?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, account_id);
	bind_text(st, 2, name);
	bind_text(st, 3, special_use ? special_use : "");
	sqlite3_bind_int64(st, 4, uv);
	rc = exec_step(st);
	if (rc == SQLITE_OK && id_r)
		*id_r = sqlite3_last_insert_rowid(c->db);
	if (rc == SQLITE_OK && subscribed)
		rc = subscription_set(c, account_id, name, true);
	return rc;
}

/* Drops n references; the last one takes the blob (its blob_ref row goes with
   it) and its full-text entry. The count is in blob_ref, not in the blob's
   row: an update writes the whole row again. */
static int blob_unref(struct store_conn *c, int64_t blob_id, int64_t n)
{
	/* No RETURNING (see expunge_one): the update, then a read. */
	sqlite3_stmt *st = stmt(c, "UPDATE blob_ref SET refcount = refcount - ? WHERE blob_id = ?");
	sqlite3_bind_int64(st, 1, n);
	sqlite3_bind_int64(st, 2, blob_id);
	int rc = exec_step(st);
	if (rc != SQLITE_OK)
		return rc;
	st = stmt(c, "SELECT refcount FROM blob_ref WHERE blob_id = ?");
	sqlite3_bind_int64(st, 1, blob_id);
	rc = sqlite3_step(st);
	int64_t left = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 1;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? SQLITE_OK : rc;
	if (left > 0)
		return SQLITE_OK;
	rc = store_sqlite_search_drop(c, blob_id);
	if (rc != SQLITE_OK)
		return rc;
	st = stmt(c, "DELETE FROM blob WHERE id = ?");
	sqlite3_bind_int64(st, 1, blob_id);
	return exec_step(st);
}

/* Removes every blob whose references were all dropped at once (a mailbox or
   an account removed), with their full-text entries. */
static int blobs_drop_unreferenced(struct store_conn *c)
{
	int rc = store_sqlite_search_drop(c, 0);
	if (rc != SQLITE_OK)
		return rc;
	return exec_step(stmt(c, "DELETE FROM blob WHERE id IN "
	                         "(SELECT blob_id FROM blob_ref WHERE refcount <= 0)"));
}

static int blob_ref(struct store_conn *c, int64_t blob_id, int64_t n)
{
	sqlite3_stmt *st = stmt(c, "UPDATE blob_ref SET refcount = refcount + ? WHERE blob_id = ?");
	sqlite3_bind_int64(st, 1, n);
	sqlite3_bind_int64(st, 2, blob_id);
	return exec_step(st);
}

struct mbox_row {
	int64_t account_id;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
};

static bool mailbox_row(struct store_conn *c, int64_t id, struct mbox_row *r)
{
	sqlite3_stmt *st = stmt(c, "SELECT account_id, uidvalidity, uidnext, highestmodseq "
				   "FROM mailbox WHERE id = ?");
	sqlite3_bind_int64(st, 1, id);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	if (found) {
		r->account_id = sqlite3_column_int64(st, 0);
		r->uidvalidity = (uint32_t)sqlite3_column_int64(st, 1);
		r->uidnext = (uint32_t)sqlite3_column_int64(st, 2);
		r->highestmodseq = (uint64_t)sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	return found;
}

/* Applies counter deltas to a mailbox and moves it to uidnext/modseq. */
static int mailbox_bump(struct store_conn *c, int64_t id, uint32_t uidnext, uint64_t modseq,
			int64_t dmessages, int64_t dunseen, int64_t dsize)
{
	sqlite3_stmt *st = stmt(c, "UPDATE mailbox SET uidnext = ?, highestmodseq = ?, "
				   "messages = messages + ?, unseen = unseen + ?, size = size + ? "
				   "WHERE id = ?");
	sqlite3_bind_int64(st, 1, uidnext);
	sqlite3_bind_int64(st, 2, (int64_t)modseq);
	sqlite3_bind_int64(st, 3, dmessages);
	sqlite3_bind_int64(st, 4, dunseen);
	sqlite3_bind_int64(st, 5, dsize);
	sqlite3_bind_int64(st, 6, id);
	return exec_step(st);
}

/* Charges size bytes to an account; STORE_ERR_QUOTA (as SQLITE_FULL-free -2) if over. */
static int account_charge(struct store_conn *c, int64_t account_id, int64_t size,
			  bool enforce)
{
	if (enforce && size > 0) {
		sqlite3_stmt *st =
			stmt(c, "SELECT quota_bytes, used_bytes FROM account WHERE id = ?");
		sqlite3_bind_int64(st, 1, account_id);
		int64_t quota = 0, used = 0;
		if (sqlite3_step(st) == SQLITE_ROW) {
			quota = sqlite3_column_int64(st, 0);
			used = sqlite3_column_int64(st, 1);
		}
		sqlite3_reset(st);
		if (quota > 0 && used + size > quota)
			return -2;
	}
	sqlite3_stmt *st = stmt(c, "UPDATE account SET used_bytes = MAX(0, used_bytes + ?) "
				   "WHERE id = ?");
	sqlite3_bind_int64(st, 1, size);
	sqlite3_bind_int64(st, 2, account_id);
	return exec_step(st);
}

static bool keyword_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > STORE_MAX_KEYWORD)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)k[i];
		if (ch <= 0x20 || ch >= 0x7f || strchr("(){%*\"\\]", ch))
			return false;
	}
	return true;
}

static int keywords_insert(struct store_conn *c, int64_t mailbox_id, uint32_t uid,
			   const char *const *kw)
{
	for (; kw && *kw; kw++) {
		sqlite3_stmt *st = stmt(c, "INSERT OR IGNORE INTO keyword(mailbox_id, uid, name) "
					   "VALUES(?, ?, ?)");
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, uid);
		bind_text(st, 3, *kw);
		int rc = exec_step(st);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static bool keywords_valid(struct store_op *op, const char *const *kw)
{
	for (; kw && *kw; kw++)
		if (!keyword_ok(*kw)) {
			store_op_fail(op, STORE_ERR_INVALID, "invalid keyword");
			return false;
		}
	return true;
}

/* ---- ops: domains, accounts, aliases ------------------------------------------------ */

static void op_domain_add(struct store_conn *c, struct store_op *op)
{
	struct buf name = BUF_INIT;
	if (store_domain_normalize(op->u.domain.name, &name, &op->err) < 0) {
		store_op_fail(op, STORE_ERR_INVALID, "%s", buf_cstr(&op->err));
		goto out;
	}
	sqlite3_stmt *st = stmt(c, "INSERT INTO domain(name, created) VALUES(?, ?)");
	bind_text(st, 1, buf_cstr(&name));
	sqlite3_bind_int64(st, 2, now_s());
	int rc = exec_step(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		store_op_fail(op, STORE_ERR_EXISTS, "domain %s already exists", buf_cstr(&name));
	else if (rc != SQLITE_OK)
		op_sql_fail(op, c, rc);
out:
	buf_free(&name);
}

static void op_domain_remove(struct store_conn *c, struct store_op *op)
{
	struct buf name = BUF_INIT;
	if (store_domain_normalize(op->u.domain.name, &name, &op->err) < 0) {
		store_op_fail(op, STORE_ERR_INVALID, "%s", buf_cstr(&op->err));
		goto out;
	}
	int64_t id = domain_id(c, buf_cstr(&name));
	if (!id) {
		store_op_fail(op, STORE_ERR_NOTFOUND, "no domain %s", buf_cstr(&name));
		goto out;
	}
	sqlite3_stmt *st = stmt(c, "SELECT count(*) FROM account WHERE domain_id = ?");
	sqlite3_bind_int64(st, 1, id);
	int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (n > 0) {
		store_op_fail(op, STORE_ERR_NONEMPTY,
			      "domain %s still has %lld account%s; remove them first",
			      buf_cstr(&name), (long long)n, n == 1 ? "" : "s");
		goto out;
	}
	st = stmt(c, "DELETE FROM alias WHERE domain_id = ?");
	sqlite3_bind_int64(st, 1, id);
	int rc = exec_step(st);
	if (rc == SQLITE_OK) {
		st = stmt(c, "DELETE FROM domain WHERE id = ?");
		sqlite3_bind_int64(st, 1, id);
		rc = exec_step(st);
	}
	if (rc != SQLITE_OK)
		op_sql_fail(op, c, rc);
out:
	buf_free(&name);
}

/* Normalises op->u.account.address into addr and finds its domain. */
static int64_t account_address(struct store_conn *c, struct store_op *op, struct buf *addr)
{
	if (store_address_normalize(op->u.account.address, false, addr, &op->err) < 0) {
		store_op_fail(op, STORE_ERR_INVALID, "%s", buf_cstr(&op->err));
		return 0;
	}
	const char *dom = strrchr(buf_cstr(addr), '@') + 1;
	int64_t did = domain_id(c, dom);
	if (!did)
		store_op_fail(op, STORE_ERR_NOTFOUND, "%s is not a local domain (add it first)",
			      dom);
	return did;
}

static void op_account_add(struct store_conn *c, struct store_op *op)
{
	struct buf addr = BUF_INIT;
	int64_t did = account_address(c, op, &addr);
	if (!did)
		goto out;
	sqlite3_stmt *st = stmt(c, "INSERT INTO account(address, domain_id, password_hash, "
				   "scram_sha256, quota_bytes, created) VALUES(?, ?, ?, ?, ?, ?)");
	bind_text(st, 1, buf_cstr(&addr));
	sqlite3_bind_int64(st, 2, did);
	bind_text(st, 3, op->u.account.password_hash ? op->u.account.password_hash : "");
	bind_text(st, 4, op->u.account.scram ? op->u.account.scram : "");
	sqlite3_bind_int64(st, 5, (int64_t)op->u.account.quota_bytes);
	sqlite3_bind_int64(st, 6, now_s());
	int rc = exec_step(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		store_op_fail(op, STORE_ERR_EXISTS, "account %s already exists", buf_cstr(&addr));
		goto out;
	}
	if (rc != SQLITE_OK) {
		op_sql_fail(op, c, rc);
		goto out;
	}
	int64_t id = sqlite3_last_insert_rowid(c->db);
	op->u.account.id_r = id;
	for (size_t i = 0; i < store_n_default_mailboxes; i++) {
		rc = mailbox_insert(c, id, store_default_mailboxes[i].name,
				    store_default_mailboxes[i].special_use, true, NULL);
		if (rc != SQLITE_OK) {
			op_sql_fail(op, c, rc);
			goto out;
		}
	}
out:
	buf_free(&addr);
}

static int64_t account_id_of(struct store_conn *c, const char *addr)
{
	sqlite3_stmt *st = stmt(c, "SELECT id FROM account WHERE address = ?");
	bind_text(st, 1, addr);
	int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return id;
}

static void op_account_remove(struct store_conn *c, struct store_op *op)
{
	struct buf addr = BUF_INIT;
	if (!account_address(c, op, &addr))
		goto out;
	int64_t id = account_id_of(c, buf_cstr(&addr));
	if (!id) {
		store_op_fail(op, STORE_ERR_NOTFOUND, "no account %s", buf_cstr(&addr));
		goto out;
	}
	/* Release the account's references to blobs, then let the cascade remove
	   mailboxes, messages, keywords and tombstones. */
	sqlite3_stmt *st = stmt(c, "UPDATE blob_ref SET refcount = refcount - r.n FROM ("
				   "  SELECT m.blob_id AS blob_id, count(*) AS n FROM message m"
				   "  JOIN mailbox b ON b.id = m.mailbox_id"
				   "  WHERE b.account_id = ? GROUP BY m.blob_id) AS r "
				   "WHERE blob_ref.blob_id = r.blob_id");
	sqlite3_bind_int64(st, 1, id);
	int rc = exec_step(st);
	if (rc == SQLITE_OK) {
		st = stmt(c, "DELETE FROM account WHERE id = ?");
		sqlite3_bind_int64(st, 1, id);
		rc = exec_step(st);
	}
	if (rc == SQLITE_OK)
		rc = blobs_drop_unreferenced(c);
	if (rc != SQLITE_OK)
		op_sql_fail(op, c, rc);
out:
	buf_free(&addr);
}

static void op_account_update(struct store_conn *c, struct store_op *op)
{
	struct buf addr = BUF_INIT;
	if (!account_address(c, op, &addr))
		goto out;
	sqlite3_stmt *st;
	if (op->kind == STORE_OP_ACCOUNT_PASSWORD) {
		st = stmt(c, "UPDATE account SET password_hash = ?, scram_sha256 = ? "
			     "WHERE address = ?");
		bind_text(st, 1, op->u.account.password_hash ? op->u.account.password_hash : "");
		bind_text(st, 2, op->u.account.scram ? op->u.account.scram : "");
		bind_text(st, 3, buf_cstr(&addr));
	} else {
		st = stmt(c, "UPDATE account SET quota_bytes = ? WHERE address = ?");
		sqlite3_bind_int64(st, 1, (int64_t)op->u.account.quota_bytes);
		bind_text(st, 2, buf_cstr(&addr));
	}
	int rc = exec_step(st);
	if (rc != SQLITE_OK)
		op_sql_fail(op, c, rc);
	else if (sqlite3_changes(c->db) == 0)
		store_op_fail(op, STORE_ERR_NOTFOUND, "no account %s", buf_cstr(&addr));
out:
	buf_free(&addr);
}

static void op_alias_add(struct store_conn *c, struct store_op *op)
{
	struct buf addr = BUF_INIT, target = BUF_INIT;
	if (store_address_normalize(op->u.alias.address, true, &addr, &op->err) < 0) {
		store_op_fail(op, STORE_ERR_INVALID, "%s", buf_cstr(&op->err));
		goto out;
	}
	const char *dom = strrchr(buf_cstr(&addr), '@') + 1;
	int64_t did = domain_id(c, dom);
	if (!did) {
		store_op_fail(op, STORE_ERR_NOTFOUND, "%s is not a local domain (add it first)",
			      dom);
		goto out;
	}
	if (!op->u.alias.targets || !op->u.alias.targets[0]) {
		store_op_fail(op, STORE_ERR_INVALID, "an alias needs at least one target");
		goto out;
	}
	for (const char *const *t = op->u.alias.targets; *t; t++) {
		buf_reset(&target);
		if (store_address_normalize(*t, false, &target, &op->err) < 0) {
			store_op_fail(op, STORE_ERR_INVALID, "target: %s", buf_cstr(&op->err));
			goto out;
		}
		sqlite3_stmt *st =
			stmt(c, "INSERT INTO alias(address, target, domain_id) VALUES(?, ?, ?)");
		bind_text(st, 1, buf_cstr(&addr));
		bind_text(st, 2, buf_cstr(&target));
		sqlite3_bind_int64(st, 3, did);
		int rc = exec_step(st);
		if ((rc & 0xff) == SQLITE_CONSTRAINT) {
			store_op_fail(op, STORE_ERR_EXISTS, "alias %s -> %s already exists",
				      buf_cstr(&addr), buf_cstr(&target));
			goto out;
		}
		if (rc != SQLITE_OK) {
			op_sql_fail(op, c, rc);
			goto out;
		}
	}
out:
	buf_free(&addr);
	buf_free(&target);
}

static void op_alias_remove(struct store_conn *c, struct store_op *op)
{
	struct buf addr = BUF_INIT, target = BUF_INIT;
	if (store_address_normalize(op->u.alias.address, true, &addr, &op->err) < 0) {
		store_op_fail(op, STORE_ERR_INVALID, "%s", buf_cstr(&op->err));
		goto out;
	}
	int changes = 0;
	if (!op->u.alias.targets || !op->u.alias.targets[0]) {
		sqlite3_stmt *st = stmt(c, "DELETE FROM alias WHERE address = ?");
		bind_text(st, 1, buf_cstr(&addr));
		int rc = exec_step(st);
		if (rc != SQLITE_OK) {
			op_sql_fail(op, c, rc);
			goto out;
		}
		changes = sqlite3_changes(c->db);
	} else {
		for (const char *const *t = op->u.alias.targets; *t; t++) {
			buf_reset(&target);
			if (store_address_normalize(*t, false, &target, &op->err) < 0) {
				store_op_fail(op, STORE_ERR_INVALID, "target: %s",
					      buf_cstr(&op->err));
				goto out;
			}
			sqlite3_stmt *st =
				stmt(c, "DELETE FROM alias WHERE address = ? AND target = ?");
			bind_text(st, 1, buf_cstr(&addr));
			bind_text(st, 2, buf_cstr(&target));
			int rc = exec_step(st);
			if (rc != SQLITE_OK) {
				op_sql_fail(op, c, rc);
				goto out;
			}
			if (sqlite3_changes(c->db) == 0) {
				store_op_fail(op, STORE_ERR_NOTFOUND, "no alias %s -> %s",
					      buf_cstr(&addr), buf_cstr(&target));
				goto out;
			}
			changes++;
		}
	}
	if (changes == 0)
		store_op_fail(op, STORE_ERR_NOTFOUND, "no alias %s", buf_cstr(&addr));
out:
	buf_free(&addr);
	buf_free(&target);
}

/* ---- ops: mailboxes and messages ------------------------------------------------- */

static bool is_inbox(const char *name, size_t len)
{
	return len == 5 && strncasecmp(name, "INBOX", 5) == 0;
}

static void op_mailbox_create(struct store_conn *c, struct store_op *op)
{
	const char *name = op->u.mailbox.name;
	if (store_mailbox_name_check(name, &op->err) < 0) {
		store_op_fail(op, STORE_ERR_INVALID, "%s", buf_cstr(&op->err));
		return;
	}
	struct buf norm = BUF_INIT;
	/* "inbox/x" is "INBOX/x": the INBOX level is case-insensitive. */
	size_t first = strcspn(name, "/");
	if (is_inbox(name, first)) {
		buf_puts(&norm, "INBOX");
		buf_puts(&norm, name + first);
	} else {
		buf_puts(&norm, name);
	}
	/* Create missing parents first (RFC 9051 6.3.4), then the mailbox. */
	int rc = SQLITE_OK;
	for (size_t i = 0; i <= norm.len; i++) {
		if (i < norm.len && norm.data[i] != '/')
			continue;
		bool last = i == norm.len;
		char *part = xstrndup(norm.data, i);
		sqlite3_stmt *st = stmt(c, "SELECT id FROM mailbox WHERE account_id = ? AND name = ?");
		sqlite3_bind_int64(st, 1, op->u.mailbox.account_id);
		bind_text(st, 2, part);
		bool exists = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
		if (exists && last) {
			store_op_fail(op, STORE_ERR_EXISTS, "mailbox already exists");
		} else if (!exists) {
			rc = mailbox_insert(c, op->u.mailbox.account_id, part,
					    last ? op->u.mailbox.special_use : NULL,
					    !op->u.mailbox.unsubscribed, &op->u.mailbox.id_r);
			if ((rc & 0xff) == SQLITE_CONSTRAINT) /* account gone */
				store_op_fail(op, STORE_ERR_NOTFOUND, "no such account");
			else if (rc != SQLITE_OK)
				op_sql_fail(op, c, rc);
		}
		free(part);
		if (op->result < 0)
			break;
	}
	buf_free(&norm);
}

/* The outbound queue entry of an append: one queue_message sharing the blob,
   its recipients, and a "queued" delivery event for each. */
static void queue_insert(struct store_conn *c, struct store_op *op, int64_t blob_id)
{
	int64_t now_ms = time_now_ms();
	/* A queue id is never given twice, not even after its message went: the
	   receipts (events) go on naming it. */
	sqlite3_stmt *st = stmt(c, "INSERT INTO queue_message(id, blob_id, env_from, dsn_ret, "
				   "dsn_envid, created, source, account_id) "
				   "VALUES(max(coalesce((SELECT max(id) FROM queue_message), 0), "
				   "coalesce((SELECT max(queue_id) FROM event), 0)) + 1, "
				   "?, ?, ?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, blob_id);
	bind_text(st, 2, op->u.append.env_from ? op->u.append.env_from : "");
	bind_text(st, 3, op->u.append.dsn_ret);
	bind_text(st, 4, op->u.append.dsn_envid);
	sqlite3_bind_int64(st, 5, now_s());
	bind_text(st, 6, op->u.append.source ? op->u.append.source : "local");
	if (op->u.append.account_id)
		sqlite3_bind_int64(st, 7, op->u.append.account_id);
	else
		sqlite3_bind_null(st, 7);
	int rc = exec_step(st);
	int64_t qid = sqlite3_last_insert_rowid(c->db);
	/* The queue's reference to the blob was taken by op_append's upsert. */
	for (size_t i = 0; rc == SQLITE_OK && i < op->u.append.nqueue; i++) {
		const struct store_queue_rcpt *q = &op->u.append.queue[i];
		st = stmt(c, "INSERT INTO queue_rcpt(queue_id, rcpt, state, next_attempt, "
			     "dsn_notify, dsn_orcpt) VALUES(?, ?, 'queued', ?, ?, ?)");
		sqlite3_bind_int64(st, 1, qid);
		bind_text(st, 2, q->rcpt);
		sqlite3_bind_int64(st, 3, now_s());
		bind_text(st, 4, q->dsn_notify);
		bind_text(st, 5, q->dsn_orcpt);
		rc = exec_step(st);
		if (rc != SQLITE_OK)
			break;
		st = stmt(c, "INSERT INTO event(queue_id, rcpt, kind, at) VALUES(?, ?, 'queued', ?)");
		sqlite3_bind_int64(st, 1, qid);
		bind_text(st, 2, q->rcpt);
		sqlite3_bind_int64(st, 3, now_ms);
		rc = exec_step(st);
	}
	if (rc != SQLITE_OK) {
		op_sql_fail(op, c, rc);
		return;
	}
	op->u.append.queue_id_r = qid;
}

/*
 * An append costs four statements per target on the hot path: the blob upsert
 * (which also takes every reference at once), the mailbox counter update that
 * returns the new UID and MODSEQ, the quota-checked charge, and the message row.
 */
static void op_append(struct store_conn *c, struct store_op *op)
{
	unsigned char sha[SHA256_DIGEST_LENGTH];
	if (op->have_sha256)
		memcpy(sha, op->sha256, sizeof sha);
	else
		SHA256((const unsigned char *)op->u.append.data, op->u.append.len, sha);
	int64_t size = (int64_t)op->u.append.len;
	int64_t internaldate = op->u.append.internaldate ? op->u.append.internaldate : now_s();
	int64_t now = now_s();
	if (op->u.append.ntargets == 0 && op->u.append.nqueue == 0) {
		store_op_fail(op, STORE_ERR_INVALID, "append without a mailbox or recipient");
		return;
	}
	int64_t refs = (int64_t)op->u.append.ntargets + (op->u.append.nqueue > 0);
	/* The same bytes stored already: one more reference to them. */
	sqlite3_stmt *st = stmt(c, "SELECT id FROM blob WHERE sha256 = ?");
	sqlite3_bind_blob(st, 1, sha, sizeof sha, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int64_t blob_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	bool fresh = rc == SQLITE_DONE;
	if (rc == SQLITE_ROW) {
		rc = blob_ref(c, blob_id, refs);
	} else if (fresh) {
		st = stmt(c, "INSERT INTO blob(sha256, size, refcount, data) VALUES(?, ?, 0, ?)");
		sqlite3_bind_blob(st, 1, sha, sizeof sha, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, size);
		sqlite3_bind_blob64(st, 3, op->u.append.data, op->u.append.len, SQLITE_STATIC);
		rc = exec_step(st);
		blob_id = rc == SQLITE_OK ? sqlite3_last_insert_rowid(c->db) : 0;
		if (rc == SQLITE_OK) {
			st = stmt(c, "INSERT INTO blob_ref(blob_id, refcount) VALUES(?, ?)");
			sqlite3_bind_int64(st, 1, blob_id);
			sqlite3_bind_int64(st, 2, refs);
			rc = exec_step(st);
		}
	}
	if (rc != SQLITE_OK || !blob_id) {
		op_sql_fail(op, c, rc == SQLITE_OK ? SQLITE_ERROR : rc);
		return;
	}
	for (size_t i = 0; i < op->u.append.ntargets; i++) {
		struct store_append_target *t = &op->u.append.targets[i];
		if (!keywords_valid(op, (const char *const *)t->keywords))
			return;
		uint32_t flags = t->flags & 0x3f;
		st = stmt(c, "UPDATE mailbox SET uidnext = uidnext + 1, "
			     "highestmodseq = highestmodseq + 1, messages = messages + 1, "
			     "unseen = unseen + ?1, size = size + ?2 "
			     "WHERE id = ?3 AND uidnext < 4294967295 "
			     "RETURNING account_id, uidvalidity, uidnext - 1, highestmodseq");
		sqlite3_bind_int(st, 1, (flags & STORE_FLAG_SEEN) ? 0 : 1);
		sqlite3_bind_int64(st, 2, size);
		sqlite3_bind_int64(st, 3, t->mailbox_id);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(st);
			struct mbox_row mb;
			if (rc != SQLITE_DONE)
				op_sql_fail(op, c, rc);
			else if (!mailbox_row(c, t->mailbox_id, &mb))
				store_op_fail(op, STORE_ERR_NOTFOUND, "no such mailbox");
			else
				store_op_fail(op, STORE_ERR_INVALID, "mailbox has run out of UIDs");
			return;
		}
		int64_t account_id = sqlite3_column_int64(st, 0);
		uint32_t uidvalidity = (uint32_t)sqlite3_column_int64(st, 1);
		uint32_t uid = (uint32_t)sqlite3_column_int64(st, 2);
		uint64_t modseq = (uint64_t)sqlite3_column_int64(st, 3);
		rc = exec_step(st);
		if (rc == SQLITE_OK) {
			st = stmt(c, "UPDATE account SET used_bytes = used_bytes + ?1 WHERE id = ?2 "
				     "AND (quota_bytes = 0 OR used_bytes + ?1 <= quota_bytes)");
			sqlite3_bind_int64(st, 1, size);
			sqlite3_bind_int64(st, 2, account_id);
			rc = exec_step(st);
			if (rc == SQLITE_OK && sqlite3_changes(c->db) == 0) {
				store_op_fail(op, STORE_ERR_QUOTA, "quota exceeded");
				return;
			}
		}
		if (rc == SQLITE_OK) {
			st = stmt(c, "INSERT INTO message(mailbox_id, uid, modseq, blob_id, flags, "
				     "internaldate, savedate, size, envelope, bodystructure) "
				     "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
			sqlite3_bind_int64(st, 1, t->mailbox_id);
			sqlite3_bind_int64(st, 2, uid);
			sqlite3_bind_int64(st, 3, (int64_t)modseq);
			sqlite3_bind_int64(st, 4, blob_id);
			sqlite3_bind_int64(st, 5, flags);
			sqlite3_bind_int64(st, 6, internaldate);
			sqlite3_bind_int64(st, 7, now);
			sqlite3_bind_int64(st, 8, size);
			bind_text(st, 9, op->u.append.envelope);
			bind_text(st, 10, op->u.append.bodystructure);
			rc = exec_step(st);
		}
		if (rc == SQLITE_OK)
			rc = keywords_insert(c, t->mailbox_id, uid,
					     (const char *const *)t->keywords);
		if (rc != SQLITE_OK) {
			op_sql_fail(op, c, rc);
			return;
		}
		t->uid_r = uid;
		t->modseq_r = modseq;
		t->uidvalidity_r = uidvalidity;
		store_op_changed(op, t->mailbox_id, modseq);
	}
	rc = store_sqlite_search_append(c, op, blob_id, fresh);
	if (rc != SQLITE_OK) {
		op_sql_fail(op, c, rc);
		return;
	}
	if (op->u.append.nqueue > 0)
		queue_insert(c, op, blob_id);
	if (op->u.append.api && op->result == 0)
		store_sqlite_api_append(c, op);
	/* The rest of a MULTIAPPEND, inside this op's savepoint. */
	for (struct store_op *more = op->u.append.more; more && op->result == 0;
	     more = more->u.append.more) {
		if (more->kind != STORE_OP_APPEND) {
			store_op_fail(op, STORE_ERR_INVALID, "a chained op is not an append");
			return;
		}
		more->result = 0;
		more->error = STORE_OK;
		buf_reset(&more->err);
		struct store_op *rest = more->u.append.more;
		more->u.append.more = NULL; /* one at a time: this loop walks the chain */
		op_append(c, more);
		more->u.append.more = rest;
		if (more->result < 0) {
			store_op_fail(op, more->error, "%s", buf_cstr(&more->err));
			return;
		}
		for (size_t i = 0; i < more->nchanges; i++)
			store_op_changed(op, more->changes[i].mailbox_id, more->changes[i].modseq);
		xfree(&more->changes);
		more->nchanges = 0;
	}
}

/* The current keywords of a message, NULL-terminated (NULL when none). */
static char **keywords_of(struct store_conn *c, int64_t mailbox_id, uint32_t uid)
{
	sqlite3_stmt *st =
		stmt(c, "SELECT name FROM keyword WHERE mailbox_id = ? AND uid = ? ORDER BY name");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	char **v = NULL;
	size_t n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		v = xrealloc(v, (n + 2) * sizeof *v);
		v[n++] = col_text(st, 0);
		v[n] = NULL;
	}
	sqlite3_reset(st);
	return v;
}

static bool strv_has(char **v, const char *s)
{
	for (; v && *v; v++)
		if (strcasecmp(*v, s) == 0)
			return true;
	return false;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static void op_flags(struct store_conn *c, struct store_op *op)
{
	struct mbox_row mb;
	const char *const *kw = op->u.flags.keywords;
	if (!keywords_valid(op, kw))
		return;
	if (!mailbox_row(c, op->u.flags.mailbox_id, &mb)) {
		store_op_fail(op, STORE_ERR_NOTFOUND, "no such mailbox");
		return;
	}
	uint64_t modseq = mb.highestmodseq + 1;
	bool changed_any = false;
	int64_t dunseen = 0;
	int rc = SQLITE_OK;
	for (size_t i = 0; i < op->u.flags.nuids && rc == SQLITE_OK; i++) {
		uint32_t uid = op->u.flags.uids[i];
		sqlite3_stmt *st = stmt(c, "SELECT flags, modseq FROM message "
					   "WHERE mailbox_id = ? AND uid = ?");
		sqlite3_bind_int64(st, 1, op->u.flags.mailbox_id);
		sqlite3_bind_int64(st, 2, uid);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_reset(st);
			continue; /* expunged meanwhile: nothing to do */
		}
		uint32_t old = (uint32_t)sqlite3_column_int64(st, 0);
		uint64_t old_modseq = (uint64_t)sqlite3_column_int64(st, 1);
		sqlite3_reset(st);
		if (op->u.flags.unchangedsince && old_modseq > op->u.flags.unchangedsince) {
			op->u.flags.modified_r =
				xrealloc(op->u.flags.modified_r,
					 (op->u.flags.nmodified_r + 1) * sizeof(uint32_t));
			op->u.flags.modified_r[op->u.flags.nmodified_r++] = uid;
			continue;
		}
		uint32_t want = op->u.flags.flags & 0x3f;
		uint32_t neu = op->u.flags.mode == STORE_FLAGS_SET ? want
			       : op->u.flags.mode == STORE_FLAGS_ADD ? old | want
								     : old & ~want;
		if (op->u.flags.mode == STORE_FLAGS_SET)
			neu = (neu & ~STORE_FLAG_RECENT) | (old & STORE_FLAG_RECENT);
		char **have = keywords_of(c, op->u.flags.mailbox_id, uid);
		bool kw_change = false;
		if (op->u.flags.mode == STORE_FLAGS_SET) {
			for (char **h = have; h && *h && !kw_change; h++)
				kw_change = !strv_has((char **)kw, *h);
			for (const char *const *k = kw; k && *k && !kw_change; k++)
				kw_change = !strv_has(have, *k);
		} else {
			bool add = op->u.flags.mode == STORE_FLAGS_ADD;
			for (const char *const *k = kw; k && *k && !kw_change; k++)
				kw_change = strv_has(have, *k) != add;
		}
		strv_free(have);
		if (neu == old && !kw_change)
			continue;
		if (kw_change) {
			if (op->u.flags.mode == STORE_FLAGS_SET) {
				st = stmt(c, "DELETE FROM keyword WHERE mailbox_id = ? AND uid = ?");
				sqlite3_bind_int64(st, 1, op->u.flags.mailbox_id);
				sqlite3_bind_int64(st, 2, uid);
				rc = exec_step(st);
			}
			if (rc == SQLITE_OK && op->u.flags.mode != STORE_FLAGS_REMOVE)
				rc = keywords_insert(c, op->u.flags.mailbox_id, uid, kw);
			for (const char *const *k = kw;
			     rc == SQLITE_OK && op->u.flags.mode == STORE_FLAGS_REMOVE && k && *k;
			     k++) {
				st = stmt(c, "DELETE FROM keyword WHERE mailbox_id = ? AND uid = ? "
					     "AND name = ? COLLATE NOCASE");
				sqlite3_bind_int64(st, 1, op->u.flags.mailbox_id);
				sqlite3_bind_int64(st, 2, uid);
				bind_text(st, 3, *k);
				rc = exec_step(st);
			}
		}
		if (rc == SQLITE_OK) {
			st = stmt(c, "UPDATE message SET flags = ?, modseq = ? "
				     "WHERE mailbox_id = ? AND uid = ?");
			sqlite3_bind_int64(st, 1, neu);
			sqlite3_bind_int64(st, 2, (int64_t)modseq);
			sqlite3_bind_int64(st, 3, op->u.flags.mailbox_id);
			sqlite3_bind_int64(st, 4, uid);
			rc = exec_step(st);
		}
		if ((old ^ neu) & STORE_FLAG_SEEN)
			dunseen += (neu & STORE_FLAG_SEEN) ? -1 : 1;
		changed_any = true;
	}
	if (rc == SQLITE_OK && changed_any)
		rc = mailbox_bump(c, op->u.flags.mailbox_id, mb.uidnext, modseq, 0, dunseen, 0);
	if (rc != SQLITE_OK) {
		op_sql_fail(op, c, rc);
		return;
	}
	op->u.flags.modseq_r = changed_any ? modseq : mb.highestmodseq;
	if (changed_any)
		store_op_changed(op, op->u.flags.mailbox_id, modseq);
}

/* Removes one message, leaving a tombstone at modseq and dropping its blob
   reference. The caller charges the account for *dsize once, after all of
   an op's messages. Returns an SQLite code. */
static int expunge_one(struct store_conn *c, int64_t mailbox_id, uint32_t uid, uint64_t modseq,
		       int64_t *dunseen, int64_t *dsize, bool *found)
{
	/* Read, then delete: a RETURNING clause runs as a trigger, which makes
	   SQLite keep a statement journal for the DELETE. */
	sqlite3_stmt *st = stmt(c, "SELECT blob_id, size, flags FROM message "
				   "WHERE mailbox_id = ? AND uid = ?");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (!*found) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	int64_t blob_id = sqlite3_column_int64(st, 0);
	int64_t size = sqlite3_column_int64(st, 1);
	uint32_t flags = (uint32_t)sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	st = stmt(c, "DELETE FROM message WHERE mailbox_id = ? AND uid = ?");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	rc = exec_step(st);
	if (rc != SQLITE_OK)
		return rc;
	/* An upsert, not INSERT OR REPLACE: a REPLACE may delete rows, so each
	   one needs a statement journal, and releasing that inside the op's
	   savepoint walks everything the op journaled so far - an expunge of n
	   messages cost O(n^2). */
	st = stmt(c, "INSERT INTO tombstone(mailbox_id, uid, modseq) VALUES(?, ?, ?) "
		     "ON CONFLICT(mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, (int64_t)modseq);
	rc = exec_step(st);
	if (rc == SQLITE_OK)
		rc = blob_unref(c, blob_id, 1);
	if (!(flags & STORE_FLAG_SEEN))
		(*dunseen)--;
	*dsize -= size;
	return rc;
}

/* Keeps a mailbox's newest tombstones_kept tombstones (all of those of the
   newest MODSEQs, so a few more when several share one) and raises its
   tombstone_floor over the rest. Checked once every kept/4 new tombstones of
   the mailbox, so the cost is spread; counts restart with the process, which
   only delays a compaction. Returns an SQLite code. */
static int tombstones_compact(struct store_conn *c, int64_t mailbox_id, size_t added)
{
	if (!c->tombstones_kept || !added)
		return SQLITE_OK;
	size_t i = 0;
	while (i < c->ntomb && c->tomb[i].mailbox_id != mailbox_id)
		i++;
	if (i == c->ntomb) {
		if (c->ntomb == TOMB_COUNTERS)
			c->ntomb = i = 0; /* forget them all: later checks come later */
		c->tomb[i].mailbox_id = mailbox_id;
		c->tomb[i].n = 0;
		c->ntomb++;
	}
	c->tomb[i].n += (uint32_t)(added > UINT32_MAX / 2 ? UINT32_MAX / 2 : added);
	if (c->tomb[i].n < c->tombstones_kept / 4 + 1)
		return SQLITE_OK;
	c->tomb[i].n = 0;
	sqlite3_stmt *st = stmt(c, "SELECT modseq FROM tombstone WHERE mailbox_id = ? "
				   "ORDER BY modseq DESC LIMIT 1 OFFSET ?");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, c->tombstones_kept);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	int64_t floor = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	st = stmt(c, "DELETE FROM tombstone WHERE mailbox_id = ? AND modseq <= ?");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, floor);
	rc = exec_step(st);
	if (rc != SQLITE_OK)
		return rc;
	st = stmt(c, "UPDATE mailbox SET tombstone_floor = max(tombstone_floor, ?) WHERE id = ?");
	sqlite3_bind_int64(st, 1, floor);
	sqlite3_bind_int64(st, 2, mailbox_id);
	return exec_step(st);
}

static void op_expunge(struct store_conn *c, struct store_op *op)
{
	struct mbox_row mb;
	int64_t mid = op->u.expunge.mailbox_id;
	if (!mailbox_row(c, mid, &mb)) {
		store_op_fail(op, STORE_ERR_NOTFOUND, "no such mailbox");
		return;
	}
	uint32_t *uids = NULL;
	size_t n = 0;
	if (op->u.expunge.uids) {
		n = op->u.expunge.nuids;
		uids = xmalloc((n ? n : 1) * sizeof *uids);
		memcpy(uids, op->u.expunge.uids, n * sizeof *uids);
	} else {
		sqlite3_stmt *st = stmt(c, "SELECT uid FROM message WHERE mailbox_id = ? "
					   "AND (flags & 8) != 0 ORDER BY uid");
		sqlite3_bind_int64(st, 1, mid);
		while (sqlite3_step(st) == SQLITE_ROW) {
			uids = xrealloc(uids, (n + 1) * sizeof *uids);
			uids[n++] = (uint32_t)sqlite3_column_int64(st, 0);
		}
		sqlite3_reset(st);
	}
	uint64_t modseq = mb.highestmodseq + 1;
	int64_t dunseen = 0, dsize = 0;
	int rc = SQLITE_OK;
	op->u.expunge.expunged_r = xmalloc((n ? n : 1) * sizeof(uint32_t));
	op->u.expunge.nexpunged_r = 0;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		bool found;
		rc = expunge_one(c, mid, uids[i], modseq, &dunseen, &dsize, &found);
		if (found)
			op->u.expunge.expunged_r[op->u.expunge.nexpunged_r++] = uids[i];
	}
	free(uids);
	size_t k = op->u.expunge.nexpunged_r;
	if (rc == SQLITE_OK && k > 0)
		rc = mailbox_bump(c, mid, mb.uidnext, modseq, -(int64_t)k, dunseen, dsize);
	if (rc == SQLITE_OK && k > 0)
		rc = account_charge(c, mb.account_id, dsize, false);
	if (rc == SQLITE_OK)
		rc = tombstones_compact(c, mid, k);
	if (rc != SQLITE_OK) {
		op_sql_fail(op, c, rc);
		return;
	}
	op->u.expunge.modseq_r = k ? modseq : mb.highestmodseq;
	if (k)
		store_op_changed(op, mid, modseq);
}

static void op_copy(struct store_conn *c, struct store_op *op)
{
	struct mbox_row from, to;
	int64_t fid = op->u.copy.from_mailbox_id, tid = op->u.copy.to_mailbox_id;
	if (!mailbox_row(c, fid, &from) || !mailbox_row(c, tid, &to)) {
		store_op_fail(op, STORE_ERR_NOTFOUND, "no such mailbox");
		return;
	}
	if (fid == tid && op->u.copy.move) {
		store_op_fail(op, STORE_ERR_INVALID, "cannot move a message into its own mailbox");
		return;
	}
	size_t n = op->u.copy.nuids;
	op->u.copy.new_uids_r = xmalloc((n ? n : 1) * sizeof(uint32_t));
	op->u.copy.src_uids_r = xmalloc((n ? n : 1) * sizeof(uint32_t));
	op->u.copy.ncopied_r = 0;
	op->u.copy.to_uidvalidity_r = to.uidvalidity;
	uint64_t to_modseq = to.highestmodseq + 1;
	/* Re-read: when copying within one mailbox, `to` and `from` are the same row. */
	uint32_t uidnext = to.uidnext;
	int64_t dunseen = 0, dsize = 0, fdunseen = 0, fdsize = 0;
	uint64_t from_modseq = from.highestmodseq + 1;
	int rc = SQLITE_OK;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		uint32_t uid = op->u.copy.uids[i];
		sqlite3_stmt *st = stmt(c, "SELECT blob_id, flags, internaldate, size, envelope, "
					   "bodystructure FROM message "
					   "WHERE mailbox_id = ? AND uid = ?");
		sqlite3_bind_int64(st, 1, fid);
		sqlite3_bind_int64(st, 2, uid);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_reset(st);
			continue;
		}
		int64_t blob_id = sqlite3_column_int64(st, 0);
		uint32_t flags = (uint32_t)sqlite3_column_int64(st, 1) | STORE_FLAG_RECENT;
		int64_t idate = sqlite3_column_int64(st, 2);
		int64_t size = sqlite3_column_int64(st, 3);
		char *env = sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL : col_text(st, 4);
		char *bs = sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : col_text(st, 5);
		sqlite3_reset(st);
		if (uidnext == UINT32_MAX) {
			free(env);
			free(bs);
			store_op_fail(op, STORE_ERR_INVALID, "mailbox has run out of UIDs");
			return;
		}
		bool same_account = from.account_id == to.account_id;
		if (!(op->u.copy.move && same_account)) {
			rc = account_charge(c, to.account_id, size, true);
			if (rc == -2) {
				free(env);
				free(bs);
				store_op_fail(op, STORE_ERR_QUOTA, "quota exceeded");
				return;
			}
		}
		uint32_t nuid = uidnext++;
		if (rc == SQLITE_OK) {
			st = stmt(c, "INSERT INTO message(mailbox_id, uid, modseq, blob_id, flags, "
				     "internaldate, savedate, size, envelope, bodystructure) "
				     "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
			sqlite3_bind_int64(st, 1, tid);
			sqlite3_bind_int64(st, 2, nuid);
			sqlite3_bind_int64(st, 3, (int64_t)to_modseq);
			sqlite3_bind_int64(st, 4, blob_id);
			sqlite3_bind_int64(st, 5, flags);
			sqlite3_bind_int64(st, 6, idate);
			sqlite3_bind_int64(st, 7, now_s());
			sqlite3_bind_int64(st, 8, size);
			bind_text(st, 9, env);
			bind_text(st, 10, bs);
			rc = exec_step(st);
		}
		free(env);
		free(bs);
		if (rc == SQLITE_OK) {
			st = stmt(c, "INSERT INTO keyword(mailbox_id, uid, name) "
				     "SELECT ?, ?, name FROM keyword WHERE mailbox_id = ? AND uid = ?");
			sqlite3_bind_int64(st, 1, tid);
			sqlite3_bind_int64(st, 2, nuid);
			sqlite3_bind_int64(st, 3, fid);
			sqlite3_bind_int64(st, 4, uid);
			rc = exec_step(st);
		}
		if (rc == SQLITE_OK)
			rc = blob_ref(c, blob_id, 1);
		if (!(flags & STORE_FLAG_SEEN))
			dunseen++;
		dsize += size;
		if (rc == SQLITE_OK && op->u.copy.move) {
			bool found;
			rc = expunge_one(c, fid, uid, from_modseq, &fdunseen, &fdsize, &found);
		}
		op->u.copy.src_uids_r[op->u.copy.ncopied_r] = uid;
		op->u.copy.new_uids_r[op->u.copy.ncopied_r++] = nuid;
	}
	size_t k = op->u.copy.ncopied_r;
	if (rc == SQLITE_OK && k > 0)
		rc = mailbox_bump(c, tid, uidnext, to_modseq, (int64_t)k, dunseen, dsize);
	if (rc == SQLITE_OK && k > 0 && op->u.copy.move)
		rc = mailbox_bump(c, fid, from.uidnext, from_modseq, -(int64_t)k, fdunseen,
				  fdsize);
	/* A move within one account leaves its usage as it was; out of it, the
	   source account gives back what the target was charged. */
	if (rc == SQLITE_OK && k > 0 && op->u.copy.move && from.account_id != to.account_id)
		rc = account_charge(c, from.account_id, fdsize, false);
	if (rc == SQLITE_OK && op->u.copy.move)
		rc = tombstones_compact(c, fid, k);
	if (rc != SQLITE_OK) {
		op_sql_fail(op, c, rc);
		return;
	}
	if (k) {
		store_op_changed(op, tid, to_modseq);
		if (op->u.copy.move)
			store_op_changed(op, fid, from_modseq);
	}
}

/* The id of an account's mailbox by name ("inbox" folds to INBOX); 0 if none. */
static int64_t mailbox_id_of(struct store_conn *c, int64_t account_id, const char *name)
{
	size_t first = strcspn(name, "/");
	char *norm = is_inbox(name, first) ? xasprintf("INBOX%s", name + first) : xstrdup(name);
	sqlite3_stmt *st = stmt(c, "SELECT id FROM mailbox WHERE account_id = ? AND name = ?");
	sqlite3_bind_int64(st, 1, account_id);
	bind_text(st, 2, norm);
	int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	free(norm);
	return id;
}

static void op_mailbox_delete(struct store_conn *c, struct store_op *op)
{
	const char *name = op->u.mailbox.name;
	if (is_inbox(name, strlen(name))) {
		store_op_fail(op, STORE_ERR_INVALID, "INBOX cannot be deleted");
		return;
	}
	int64_t id = mailbox_id_of(c, op->u.mailbox.account_id, name);
	if (!id) {
		store_op_fail(op, STORE_ERR_NOTFOUND, "no such mailbox");
		return;
	}
	/* Release the messages' blobs and quota, then let the cascade go. */
	sqlite3_stmt *st = stmt(c, "UPDATE blob_ref SET refcount = refcount - r.n FROM ("
				   "  SELECT blob_id, count(*) AS n FROM message WHERE mailbox_id = ?"
				   "  GROUP BY blob_id) AS r WHERE blob_ref.blob_id = r.blob_id");
	sqlite3_bind_int64(st, 1, id);
	int rc = exec_step(st);
	if (rc == SQLITE_OK) {
		st = stmt(c, "UPDATE account SET used_bytes = MAX(0, used_bytes - "
			     "(SELECT size FROM mailbox WHERE id = ?)) WHERE id = ?");
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, op->u.mailbox.account_id);
		rc = exec_step(st);
	}
	if (rc == SQLITE_OK) {
		st = stmt(c, "DELETE FROM mailbox WHERE id = ?");
		sqlite3_bind_int64(st, 1, id);
		rc = exec_step(st);
	}
	if (rc == SQLITE_OK)
		rc = blobs_drop_unreferenced(c);
	if (rc != SQLITE_OK)
		op_sql_fail(op, c, rc);
	else
		store_op_changed(op, id, 0); /* its watchers learn it is gone */
}

/* RFC 9051 6.3.6: renaming INBOX moves its messages to a new mailbox and leaves
   INBOX empty (with its UIDs never reused: UIDNEXT stays). */
static void rename_inbox(struct store_conn *c, struct store_op *op, int64_t inbox,
			 const char *to)
{
	struct mbox_row mb;
	if (!mailbox_row(c, inbox, &mb)) {
		store_op_fail(op, STORE_ERR_NOTFOUND, "no INBOX");
		return;
	}
	struct store_op create;
	store_op_init(&create, STORE_OP_MAILBOX_CREATE);
	create.u.mailbox.account_id = op->u.mailbox.account_id;
	create.u.mailbox.name = to;
	op_mailbox_create(c, &create);
	if (create.result < 0) {
		store_op_fail(op, create.error, "%s", buf_cstr(&create.err));
		store_op_clear(&create);
		return;
	}
	int64_t nid = create.u.mailbox.id_r;
	store_op_clear(&create);
	uint64_t modseq = mb.highestmodseq + 1;
	const char *const steps[] = {
		/* tombstones in INBOX for what leaves it */
		"INSERT OR REPLACE INTO tombstone(mailbox_id, uid, modseq) "
		"SELECT mailbox_id, uid, ?3 FROM message WHERE mailbox_id = ?1",
		"UPDATE keyword SET mailbox_id = ?2 WHERE mailbox_id = ?1",
		"UPDATE message SET mailbox_id = ?2 WHERE mailbox_id = ?1",
		"UPDATE mailbox SET uidnext = (SELECT uidnext FROM mailbox WHERE id = ?1), "
		"  highestmodseq = ?3, messages = (SELECT messages FROM mailbox WHERE id = ?1), "
		"  unseen = (SELECT unseen FROM mailbox WHERE id = ?1), "
		"  size = (SELECT size FROM mailbox WHERE id = ?1) WHERE id = ?2",
		"UPDATE mailbox SET messages = 0, unseen = 0, size = 0, highestmodseq = ?3 "
		"WHERE id = ?1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		sqlite3_stmt *st = stmt(c, steps[i]);
		sqlite3_bind_int64(st, 1, inbox);
		sqlite3_bind_int64(st, 2, nid);
		sqlite3_bind_int64(st, 3, (int64_t)modseq);
		int rc = exec_step(st);
		if (rc != SQLITE_OK) {
			op_sql_fail(op, c, rc);
			return;
		}
	}
	store_op_changed(op, inbox, modseq);
}

static void op_mailbox_rename(struct store_conn *c, struct store_op *op)
{
	const char *from = op->u.mailbox.name, *to = op->u.mailbox.new_name;
	if (!to || store_mailbox_name_check(to, &op->err) < 0) {
		store_op_fail(op, STORE_ERR_INVALID, "%s", to ? buf_cstr(&op->err) : "no new name");
		return;
	}
	int64_t id = mailbox_id_of(c, op->u.mailbox.account_id, from);
	if (!id) {
		store_op_fail(op, STORE_ERR_NOTFOUND, "no such mailbox");
		return;
	}
	if (mailbox_id_of(c, op->u.mailbox.account_id, to)) {
		store_op_fail(op, STORE_ERR_EXISTS, "mailbox already exists");
		return;
	}
	if (is_inbox(from, strlen(from))) {
		rename_inbox(c, op, id, to);
		return;
	}
	size_t flen = strlen(from);
	if (strncmp(to, from, flen) == 0 && to[flen] == '/') {
		store_op_fail(op, STORE_ERR_INVALID, "cannot move a mailbox into itself");
		return;
	}
	/* The new name's parents first, then the mailbox and its children. */
	sqlite3_stmt *st = stmt(c, "SELECT id FROM mailbox WHERE account_id = ?1 AND "
				   "(name = ?2 OR substr(name, 1, ?3) = ?2 || '/')");
	sqlite3_bind_int64(st, 1, op->u.mailbox.account_id);
	bind_text(st, 2, from);
	sqlite3_bind_int64(st, 3, (int64_t)flen + 1);
	while (sqlite3_step(st) == SQLITE_ROW)
		store_op_changed(op, sqlite3_column_int64(st, 0), 0); /* renamed: told after */
	sqlite3_reset(st);
	const char *slash = strrchr(to, '/');
	if (slash) {
		char *parent = xstrndup(to, (size_t)(slash - to));
		if (!mailbox_id_of(c, op->u.mailbox.account_id, parent)) {
			struct store_op create;
			store_op_init(&create, STORE_OP_MAILBOX_CREATE);
			create.u.mailbox.account_id = op->u.mailbox.account_id;
			create.u.mailbox.name = parent;
			op_mailbox_create(c, &create);
			bool bad = create.result < 0;
			if (bad)
				store_op_fail(op, create.error, "%s", buf_cstr(&create.err));
			store_op_clear(&create);
			if (bad) {
				free(parent);
				return;
			}
		}
		free(parent);
	}
	st = stmt(c, "UPDATE mailbox SET name = ?3 || substr(name, ?4) "
				   "WHERE account_id = ?1 AND (name = ?2 OR substr(name, 1, ?5) = ?2 || '/')");
	sqlite3_bind_int64(st, 1, op->u.mailbox.account_id);
	bind_text(st, 2, from);
	bind_text(st, 3, to);
	sqlite3_bind_int64(st, 4, (int64_t)flen + 1);
	sqlite3_bind_int64(st, 5, (int64_t)flen + 1);
	int rc = exec_step(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		store_op_fail(op, STORE_ERR_EXISTS, "a mailbox of the new hierarchy already exists");
		return;
	}
	/* Subscriptions go with the mailboxes (a subscription of the new name
	   that was there already is the same subscription). */
	if (rc == SQLITE_OK) {
		st = stmt(c, "UPDATE OR REPLACE subscription SET name = ?3 || substr(name, ?4) "
			     "WHERE account_id = ?1 AND (name = ?2 OR substr(name, 1, ?5) = ?2 || '/')");
		sqlite3_bind_int64(st, 1, op->u.mailbox.account_id);
		bind_text(st, 2, from);
		bind_text(st, 3, to);
		sqlite3_bind_int64(st, 4, (int64_t)flen + 1);
		sqlite3_bind_int64(st, 5, (int64_t)flen + 1);
		rc = exec_step(st);
	}
	if (rc != SQLITE_OK)
		op_sql_fail(op, c, rc);
}

/* Any valid name may be subscribed, whether a mailbox has it or not. */
static void op_mailbox_subscribe(struct store_conn *c, struct store_op *op)
{
	const char *name = op->u.mailbox.name;
	if (store_mailbox_name_check(name, &op->err) < 0) {
		store_op_fail(op, STORE_ERR_INVALID, "%s", buf_cstr(&op->err));
		return;
	}
	size_t first = strcspn(name, "/");
	char *norm = is_inbox(name, first) ? xasprintf("INBOX%s", name + first) : xstrdup(name);
	int rc = subscription_set(c, op->u.mailbox.account_id, norm, op->u.mailbox.subscribed);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) /* account gone */
		store_op_fail(op, STORE_ERR_NOTFOUND, "no such account");
	else if (rc != SQLITE_OK)
		op_sql_fail(op, c, rc);
	free(norm);
}

/* ---- ops: the outbound queue ------------------------------------------------------- */

static char *col_text_or_null(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

static int item_cmp(const void *a, const void *b)
{
	const struct store_queue_item *x = a, *y = b;
	if (x->queue_id != y->queue_id)
		return x->queue_id < y->queue_id ? -1 : 1;
	return x->rcpt_id < y->rcpt_id ? -1 : x->rcpt_id > y->rcpt_id;
}

/* Fills the message half of items[from..n) (sorted by queue id). */
static int claim_messages(struct store_conn *c, struct store_queue_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && items[i - 1].queue_id == items[i].queue_id) {
			const struct store_queue_item *p = &items[i - 1];
			struct store_queue_item *it = &items[i];
			it->env_from = xstrdup(p->env_from);
			it->dsn_ret = p->dsn_ret ? xstrdup(p->dsn_ret) : NULL;
			it->dsn_envid = p->dsn_envid ? xstrdup(p->dsn_envid) : NULL;
			it->source = xstrdup(p->source);
			it->account_id = p->account_id;
			it->pool = p->pool ? xstrdup(p->pool) : NULL;
			it->blob_id = p->blob_id;
			it->size = p->size;
			it->created = p->created;
			continue;
		}
		sqlite3_stmt *st = stmt(c, "SELECT q.env_from, q.dsn_ret, q.dsn_envid, q.source, "
					   "coalesce(q.account_id, 0), q.blob_id, b.size, q.created, "
					   "nullif(q.pool, '') "
					   "FROM queue_message q JOIN blob b ON b.id = q.blob_id "
					   "WHERE q.id = ?");
		sqlite3_bind_int64(st, 1, items[i].queue_id);
		int rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(st);
			return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
		}
		struct store_queue_item *it = &items[i];
		it->env_from = col_text(st, 0);
		it->dsn_ret = col_text_or_null(st, 1);
		it->dsn_envid = col_text_or_null(st, 2);
		it->source = col_text(st, 3);
		it->account_id = sqlite3_column_int64(st, 4);
		it->blob_id = sqlite3_column_int64(st, 5);
		it->size = (uint64_t)sqlite3_column_int64(st, 6);
		it->created = sqlite3_column_int64(st, 7);
		it->pool = col_text_or_null(st, 8);
		sqlite3_reset(st);
	}
	return SQLITE_OK;
}

static void op_queue_claim(struct store_conn *c, struct store_op *op)
{
	int64_t now = op->u.claim.now ? op->u.claim.now : now_s();
	size_t max = op->u.claim.max;
	if (max == 0 || max > STORE_QUEUE_MAX_CLAIM)
		max = STORE_QUEUE_MAX_CLAIM;
	if (op->u.claim.lease <= 0) {
		store_op_fail(op, STORE_ERR_INVALID, "a claim needs a lease");
		return;
	}
	sqlite3_stmt *st = stmt(c, "UPDATE queue_rcpt SET lease = ?1 WHERE id IN ("
				   "  SELECT id FROM queue_rcpt WHERE state IN ('queued', 'deferred')"
				   "  AND next_attempt <= ?2 AND held = 0 AND lease <= ?2"
				   "  ORDER BY next_attempt, id LIMIT ?3) "
				   "RETURNING id, queue_id, rcpt, dsn_notify, dsn_orcpt, attempts, "
				   "delay_warned");
	sqlite3_bind_int64(st, 1, now + op->u.claim.lease);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, (int64_t)max);
	struct store_queue_item *items = xcalloc(max, sizeof *items);
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
		struct store_queue_item *it = &items[n++];
		it->rcpt_id = sqlite3_column_int64(st, 0);
		it->queue_id = sqlite3_column_int64(st, 1);
		it->rcpt = col_text(st, 2);
		it->dsn_notify = col_text_or_null(st, 3);
		it->dsn_orcpt = col_text_or_null(st, 4);
		it->attempts = (unsigned)sqlite3_column_int64(st, 5);
		it->delay_warned = sqlite3_column_int(st, 6) != 0;
	}
	sqlite3_reset(st);
	op->u.claim.items_r = items;
	op->u.claim.nitems_r = n;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		op_sql_fail(op, c, rc);
		return;
	}
	qsort(items, n, sizeof *items, item_cmp);
	rc = claim_messages(c, items, n);
	if (rc != SQLITE_OK)
		op_sql_fail(op, c, rc);
}

static bool queue_state_ok(const char *s)
{
	static const char *const states[] = {"deferred", "delivered", "bounced", "expired",
					     "failed"};
	for (size_t i = 0; s && i < ARRAY_SIZE(states); i++)
		if (strcmp(s, states[i]) == 0)
			return true;
	return false;
}

/* Drops the queue message when none of its recipients waits any more. */
static int queue_finish_if_done(struct store_conn *c, int64_t qid, bool *finished_r)
{
	*finished_r = false;
	sqlite3_stmt *st = stmt(c, "SELECT count(*) FROM queue_rcpt WHERE queue_id = ? "
				   "AND state IN ('queued', 'deferred')");
	sqlite3_bind_int64(st, 1, qid);
	int rc = sqlite3_step(st);
	int64_t waiting = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc;
	if (waiting > 0)
		return SQLITE_OK;
	st = stmt(c, "DELETE FROM queue_message WHERE id = ? RETURNING blob_id");
	sqlite3_bind_int64(st, 1, qid);
	rc = sqlite3_step(st);
	int64_t blob_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	rc = rc == SQLITE_ROW ? exec_step(st) : rc == SQLITE_DONE ? SQLITE_OK : rc;
	if (rc != SQLITE_OK || !blob_id)
		return rc;
	*finished_r = true;
	return blob_unref(c, blob_id, 1);
}

static int event_insert(struct store_conn *c, int64_t qid, const char *rcpt, const char *kind,
			int64_t at_ms, const struct store_queue_result *r, int64_t attempt,
			int64_t next_attempt)
{
	sqlite3_stmt *st = stmt(c, "INSERT INTO event(queue_id, rcpt, kind, at, mx, remote_ip, "
				   "source_ip, tls, reply, attempt, next_attempt) "
				   "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, qid);
	bind_text(st, 2, rcpt);
	bind_text(st, 3, kind);
	sqlite3_bind_int64(st, 4, at_ms);
	bind_text(st, 5, r ? r->mx : NULL);
	bind_text(st, 6, r ? r->remote_ip : NULL);
	bind_text(st, 7, r ? r->source_ip : NULL);
	bind_text(st, 8, r ? r->tls : NULL);
	bind_text(st, 9, r ? r->reply : NULL);
	if (attempt > 0)
		sqlite3_bind_int64(st, 10, attempt);
	else
		sqlite3_bind_null(st, 10);
	if (next_attempt > 0)
		sqlite3_bind_int64(st, 11, next_attempt);
	else
		sqlite3_bind_null(st, 11);
	return exec_step(st);
}

/* Runs the nested append of an outcome; its mailbox changes become the outer op's. */
static bool outcome_also(struct store_conn *c, struct store_op *op)
{
	struct store_op *also = op->u.outcome.also;
	if (!also)
		return true;
	if (also->kind != STORE_OP_APPEND) {
		store_op_fail(op, STORE_ERR_INVALID, "an outcome may carry an append only");
		return false;
	}
	also->result = 0;
	also->error = STORE_OK;
	buf_reset(&also->err);
	xfree(&also->changes);
	also->nchanges = 0;
	op_append(c, also);
	if (also->result < 0) {
		store_op_fail(op, also->error, "%s", buf_cstr(&also->err));
		return false;
	}
	for (size_t i = 0; i < also->nchanges; i++)
		store_op_changed(op, also->changes[i].mailbox_id, also->changes[i].modseq);
	xfree(&also->changes);
	also->nchanges = 0;
	return true;
}

static void op_queue_outcome(struct store_conn *c, struct store_op *op)
{
	int64_t at_ms = time_now_ms();
	size_t n = op->u.outcome.nresults;
	int64_t *qids = xcalloc(n + 1, sizeof *qids);
	size_t nq = 0;
	int rc = SQLITE_OK;
	for (size_t i = 0; i < n; i++) {
		const struct store_queue_result *r = &op->u.outcome.results[i];
		if (!queue_state_ok(r->state)) {
			store_op_fail(op, STORE_ERR_INVALID, "bad queue state '%s'",
				      r->state ? r->state : "");
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_queue_result *r = &op->u.outcome.results[i];
		bool deferred = strcmp(r->state, "deferred") == 0;
		sqlite3_stmt *st = stmt(
			c, "UPDATE queue_rcpt SET state = ?1, attempts = attempts + ?2, "
			   "next_attempt = CASE WHEN ?3 > 0 THEN ?3 ELSE next_attempt END, "
			   "last_reply = coalesce(?4, last_reply), route = coalesce(?5, route), "
			   "source_ip = coalesce(?6, source_ip), lease = 0, "
			   "delay_warned = max(delay_warned, ?8) "
			   "WHERE id = ?7 AND state IN ('queued', 'deferred') "
			   "RETURNING queue_id, rcpt, attempts");
		bind_text(st, 1, r->state);
		sqlite3_bind_int(st, 2, r->attempted ? 1 : 0);
		sqlite3_bind_int64(st, 3, deferred ? r->next_attempt : 0);
		bind_text(st, 4, r->reply);
		bind_text(st, 5, r->mx);
		bind_text(st, 6, r->source_ip);
		sqlite3_bind_int64(st, 7, r->rcpt_id);
		sqlite3_bind_int(st, 8, r->delay_warned ? 1 : 0);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			/* Removed (or finished) while it was being delivered. */
			sqlite3_reset(st);
			rc = SQLITE_OK;
			continue;
		}
		if (rc != SQLITE_ROW) {
			sqlite3_reset(st);
			break;
		}
		int64_t qid = sqlite3_column_int64(st, 0);
		char *rcpt = col_text(st, 1);
		int64_t attempts = sqlite3_column_int64(st, 2);
		rc = exec_step(st);
		if (rc == SQLITE_OK)
			rc = event_insert(c, qid, rcpt, r->kind ? r->kind : r->state, at_ms, r,
					  r->attempted ? attempts : 0,
					  deferred ? r->next_attempt : 0);
		free(rcpt);
		if (rc != SQLITE_OK)
			break;
		bool seen = false;
		for (size_t k = 0; k < nq && !seen; k++)
			seen = qids[k] == qid;
		if (!seen)
			qids[nq++] = qid;
	}
	if (rc != SQLITE_OK) {
		op_sql_fail(op, c, rc);
		goto out;
	}
	if (!outcome_also(c, op))
		goto out;
	for (size_t k = 0; k < nq; k++) {
		bool finished;
		rc = queue_finish_if_done(c, qids[k], &finished);
		if (rc != SQLITE_OK) {
			op_sql_fail(op, c, rc);
			goto out;
		}
		op->u.outcome.finished_r += finished;
	}
out:
	free(qids);
}

static bool queue_message_exists(struct store_conn *c, int64_t qid)
{
	sqlite3_stmt *st = stmt(c, "SELECT 1 FROM queue_message WHERE id = ?");
	sqlite3_bind_int64(st, 1, qid);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return found;
}

static int queue_remove(struct store_conn *c, int64_t qid, size_t *count_r)
{
	int64_t at_ms = time_now_ms();
	sqlite3_stmt *st = stmt(c, "UPDATE queue_rcpt SET state = 'failed', lease = 0 "
				   "WHERE queue_id = ? AND state IN ('queued', 'deferred') "
				   "RETURNING rcpt");
	sqlite3_bind_int64(st, 1, qid);
	char **rcpts = NULL;
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rcpts = xrealloc(rcpts, (n + 1) * sizeof *rcpts);
		rcpts[n++] = col_text(st, 0);
	}
	sqlite3_reset(st);
	rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	for (size_t i = 0; i < n; i++) {
		if (rc == SQLITE_OK) {
			struct store_queue_result r = {.reply = "removed by the administrator"};
			rc = event_insert(c, qid, rcpts[i], "removed", at_ms, &r, 0, 0);
		}
		free(rcpts[i]);
	}
	free(rcpts);
	*count_r = n;
	bool finished;
	return rc == SQLITE_OK ? queue_finish_if_done(c, qid, &finished) : rc;
}

static void op_queue_admin(struct store_conn *c, struct store_op *op)
{
	int64_t now = now_s();
	int64_t qid = op->u.queue.queue_id;
	enum store_queue_action a = op->u.queue.action;
	if (qid != 0 && a != STORE_QUEUE_RECOVER && !queue_message_exists(c, qid)) {
		store_op_fail(op, STORE_ERR_NOTFOUND, "no queue message %lld", (long long)qid);
		return;
	}
	sqlite3_stmt *st = NULL;
	switch (a) {
	case STORE_QUEUE_FLUSH:
		st = stmt(c, "UPDATE queue_rcpt SET next_attempt = ?1 "
			     "WHERE state IN ('queued', 'deferred') AND next_attempt > ?1 "
			     "AND (?2 = 0 OR queue_id = ?2)");
		break;
	case STORE_QUEUE_HOLD:
		st = stmt(c, "UPDATE queue_rcpt SET held = 1 WHERE held = 0 "
			     "AND state IN ('queued', 'deferred') AND ?1 > 0 "
			     "AND (?2 = 0 OR queue_id = ?2)");
		break;
	case STORE_QUEUE_RELEASE:
		st = stmt(c, "UPDATE queue_rcpt SET held = 0, next_attempt = min(next_attempt, ?1) "
			     "WHERE held = 1 AND (?2 = 0 OR queue_id = ?2)");
		break;
	case STORE_QUEUE_RECOVER:
		st = stmt(c, "UPDATE queue_rcpt SET lease = 0 WHERE lease != 0 AND ?1 > 0 "
			     "AND (?2 = 0 OR queue_id = ?2)");
		break;
	case STORE_QUEUE_REMOVE:
		if (qid == 0) {
			store_op_fail(op, STORE_ERR_INVALID, "remove needs a queue id");
			return;
		}
		int rc = queue_remove(c, qid, &op->u.queue.count_r);
		if (rc != SQLITE_OK)
			op_sql_fail(op, c, rc);
		return;
	default:
		store_op_fail(op, STORE_ERR_INVALID, "unknown queue action %d", (int)a);
		return;
	}
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, qid);
	int rc = exec_step(st);
	if (rc != SQLITE_OK) {
		op_sql_fail(op, c, rc);
		return;
	}
	op->u.queue.count_r = (size_t)sqlite3_changes(c->db);
}

static void conn_apply(struct store_conn *c, struct store_op *op)
{
	switch (op->kind) {
	case STORE_OP_DOMAIN_ADD:
		op_domain_add(c, op);
		break;
	case STORE_OP_DOMAIN_REMOVE:
		op_domain_remove(c, op);
		break;
	case STORE_OP_ACCOUNT_ADD:
		op_account_add(c, op);
		break;
	case STORE_OP_ACCOUNT_REMOVE:
		op_account_remove(c, op);
		break;
	case STORE_OP_ACCOUNT_PASSWORD:
	case STORE_OP_ACCOUNT_QUOTA:
		op_account_update(c, op);
		break;
	case STORE_OP_ALIAS_ADD:
		op_alias_add(c, op);
		break;
	case STORE_OP_ALIAS_REMOVE:
		op_alias_remove(c, op);
		break;
	case STORE_OP_MAILBOX_CREATE:
		op_mailbox_create(c, op);
		break;
	case STORE_OP_MAILBOX_DELETE:
		op_mailbox_delete(c, op);
		break;
	case STORE_OP_MAILBOX_RENAME:
		op_mailbox_rename(c, op);
		break;
	case STORE_OP_MAILBOX_SUBSCRIBE:
		op_mailbox_subscribe(c, op);
		break;
	case STORE_OP_APPEND:
		op_append(c, op);
		break;
	case STORE_OP_FLAGS:
		op_flags(c, op);
		break;
	case STORE_OP_EXPUNGE:
		op_expunge(c, op);
		break;
	case STORE_OP_COPY:
		op_copy(c, op);
		break;
	case STORE_OP_QUEUE_CLAIM:
		op_queue_claim(c, op);
		break;
	case STORE_OP_QUEUE_OUTCOME:
		op_queue_outcome(c, op);
		break;
	case STORE_OP_QUEUE_ADMIN:
		op_queue_admin(c, op);
		break;
	case STORE_OP_APIKEY_ADD:
	case STORE_OP_APIKEY_REVOKE:
		store_sqlite_api_apply(c, op);
		break;
	case STORE_OP_DKIM_KEY_ADD:
	case STORE_OP_DKIM_KEY_REMOVE:
		store_sqlite_dkim_apply(c, op);
		break;
	case STORE_OP_WEBHOOK_ADD:
	case STORE_OP_WEBHOOK_REMOVE:
	case STORE_OP_WEBHOOK_TEST:
	case STORE_OP_WEBHOOK_SCAN:
	case STORE_OP_WEBHOOK_RESULT:
		store_sqlite_webhook_apply(c, op);
		break;
	case STORE_OP_URLAUTH_KEY_SET:
	case STORE_OP_URLAUTH_KEY_RESET:
		store_sqlite_urlauth_apply(c, op);
		break;
	default:
		panic("store_sqlite: unknown op %d", (int)op->kind);
	}
}

/* ---- reads ----------------------------------------------------------------------- */

static void account_from_row(sqlite3_stmt *st, struct store_account *a)
{
	a->id = sqlite3_column_int64(st, 0);
	a->address = col_text(st, 1);
	a->password_hash = col_text(st, 2);
	a->scram = col_text(st, 3);
	a->quota_bytes = (uint64_t)sqlite3_column_int64(st, 4);
	a->used_bytes = (uint64_t)sqlite3_column_int64(st, 5);
	a->created = sqlite3_column_int64(st, 6);
}

#define ACCOUNT_COLS "id, address, password_hash, scram_sha256, quota_bytes, used_bytes, created"

static enum store_lookup conn_account_get(struct store_conn *c, const char *address,
					  struct store_account *a_r, struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT " ACCOUNT_COLS " FROM account WHERE address = ?");
	bind_text(st, 1, address);
	int rc = sqlite3_step(st);
	enum store_lookup r = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW) {
		account_from_row(st, a_r);
		r = STORE_FOUND;
	} else if (rc != SQLITE_DONE) {
		read_fail(c, err);
		r = STORE_ERROR;
	}
	sqlite3_reset(st);
	return r;
}

static int conn_account_list(struct store_conn *c,
			     void (*fn)(const struct store_account *a, void *arg), void *arg,
			     struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT " ACCOUNT_COLS " FROM account ORDER BY address");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_account a = {0};
		account_from_row(st, &a);
		fn(&a, arg);
		store_account_clear(&a);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

/* Passes the first column of each row of st, a bound statement, to fn as
   text; 0, or -1 on a read error. */
static int name_rows(struct store_conn *c, sqlite3_stmt *st,
		     void (*fn)(const char *name, void *arg), void *arg, struct buf *err)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(st, 0), arg);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

static int conn_domain_list(struct store_conn *c, void (*fn)(const char *name, void *arg),
			    void *arg, struct buf *err)
{
	return name_rows(c, stmt(c, "SELECT name FROM domain ORDER BY name"), fn, arg, err);
}

static enum store_lookup conn_domain_exists(struct store_conn *c, const char *name,
					    struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT 1 FROM domain WHERE name = ?");
	bind_text(st, 1, name);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return STORE_FOUND;
	if (rc == SQLITE_DONE)
		return STORE_NOT_FOUND;
	read_fail(c, err);
	return STORE_ERROR;
}

static int conn_alias_list(struct store_conn *c,
			   void (*fn)(const char *address, const char *target, void *arg),
			   void *arg, struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT address, target FROM alias ORDER BY address, target");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(st, 0),
		   (const char *)sqlite3_column_text(st, 1), arg);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

static int conn_alias_targets(struct store_conn *c, const char *address, char ***targets_r,
			      size_t *n_r, struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT target FROM alias WHERE address = ? ORDER BY target");
	bind_text(st, 1, address);
	int rc;
	char **v = NULL;
	size_t n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xrealloc(v, (n + 1) * sizeof *v);
		v[n++] = col_text(st, 0);
	}
	sqlite3_reset(st);
	*targets_r = v;
	*n_r = n;
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

#define MAILBOX_COLS                                                                       \
	"id, account_id, name, special_use, uidvalidity, uidnext, highestmodseq, "         \
	"EXISTS(SELECT 1 FROM subscription s WHERE s.account_id = mailbox.account_id AND " \
	"s.name = mailbox.name), messages, unseen, size"

static void mailbox_from_row(sqlite3_stmt *st, struct store_mailbox *m)
{
	m->id = sqlite3_column_int64(st, 0);
	m->account_id = sqlite3_column_int64(st, 1);
	m->name = col_text(st, 2);
	m->special_use = col_text(st, 3);
	m->uidvalidity = (uint32_t)sqlite3_column_int64(st, 4);
	m->uidnext = (uint32_t)sqlite3_column_int64(st, 5);
	m->highestmodseq = (uint64_t)sqlite3_column_int64(st, 6);
	m->subscribed = sqlite3_column_int(st, 7) != 0;
	m->messages = (uint32_t)sqlite3_column_int64(st, 8);
	m->unseen = (uint32_t)sqlite3_column_int64(st, 9);
	m->size = (uint64_t)sqlite3_column_int64(st, 10);
}

static enum store_lookup conn_mailbox_get(struct store_conn *c, int64_t account_id,
					  const char *name, struct store_mailbox *m_r,
					  struct buf *err)
{
	size_t first = strcspn(name, "/");
	char *norm = is_inbox(name, first) ? xasprintf("INBOX%s", name + first) : xstrdup(name);
	sqlite3_stmt *st = stmt(c, "SELECT " MAILBOX_COLS
				   " FROM mailbox WHERE account_id = ? AND name = ?");
	sqlite3_bind_int64(st, 1, account_id);
	bind_text(st, 2, norm);
	int rc = sqlite3_step(st);
	enum store_lookup r = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW) {
		mailbox_from_row(st, m_r);
		r = STORE_FOUND;
	} else if (rc != SQLITE_DONE) {
		read_fail(c, err);
		r = STORE_ERROR;
	}
	sqlite3_reset(st);
	free(norm);
	return r;
}

static int conn_mailbox_list(struct store_conn *c, int64_t account_id,
			     void (*fn)(const struct store_mailbox *m, void *arg), void *arg,
			     struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT " MAILBOX_COLS
				   " FROM mailbox WHERE account_id = ? ORDER BY name");
	sqlite3_bind_int64(st, 1, account_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_mailbox m = {0};
		mailbox_from_row(st, &m);
		fn(&m, arg);
		store_mailbox_clear(&m);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

static int conn_subscription_list(struct store_conn *c, int64_t account_id,
				  void (*fn)(const char *name, void *arg), void *arg,
				  struct buf *err)
{
	sqlite3_stmt *st =
		stmt(c, "SELECT name FROM subscription WHERE account_id = ? ORDER BY name");
	sqlite3_bind_int64(st, 1, account_id);
	return name_rows(c, st, fn, arg, err);
}

/* Reads the message rows of an already-bound statement, with their keywords,
   into *v_r. The keyword query must not run while st is mid-step on the same
   connection with a cached statement of its own (it would be reset): the rows
   come first. */
static int message_rows_read(struct store_conn *c, sqlite3_stmt *st, int64_t mailbox_id,
                             struct store_message **v_r, size_t *n_r, struct buf *err)
{
	struct store_message *v = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof *v);
		}
		struct store_message *m = &v[n++];
		memset(m, 0, sizeof *m);
		m->uid = (uint32_t)sqlite3_column_int64(st, 0);
		m->modseq = (uint64_t)sqlite3_column_int64(st, 1);
		m->flags = (uint32_t)sqlite3_column_int64(st, 2);
		m->internaldate = sqlite3_column_int64(st, 3);
		m->size = (uint64_t)sqlite3_column_int64(st, 4);
		m->blob_id = sqlite3_column_int64(st, 5);
		m->savedate = sqlite3_column_int64(st, 6);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		free(v);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		v[i].keywords = keywords_of(c, mailbox_id, v[i].uid);
	*v_r = v;
	*n_r = n;
	return 0;
}

static void message_rows_deliver(struct store_message *v, size_t n,
                                 void (*fn)(const struct store_message *m, void *arg), void *arg)
{
	for (size_t i = 0; i < n; i++) {
		fn(&v[i], arg);
		store_message_clear(&v[i]);
	}
	free(v);
}

/* Iterates message rows of an already-bound statement, adding keywords. */
static int message_rows(struct store_conn *c, sqlite3_stmt *st, int64_t mailbox_id,
                        void (*fn)(const struct store_message *m, void *arg), void *arg,
                        struct buf *err)
{
	struct store_message *v;
	size_t n;
	if (message_rows_read(c, st, mailbox_id, &v, &n, err) < 0)
		return -1;
	message_rows_deliver(v, n, fn, arg);
	return 0;
}

static int conn_message_list(struct store_conn *c, int64_t mailbox_id, uint32_t uid_min,
                             uint32_t uid_max, void (*fn)(const struct store_message *m, void *arg),
                             void *arg, struct buf *err)
{
	/* One read transaction for the rows and every message's keywords: the
	   same snapshot, and one lock instead of one per message (SELECT of a
	   large mailbox spent most of its time taking and dropping them). The
	   callbacks run after it, so they may read the store themselves. */
	store_sqlite_read_begin(c);
	sqlite3_stmt *st = stmt(c, "SELECT uid, modseq, flags, internaldate, size, blob_id, "
	                           "savedate FROM message WHERE mailbox_id = ? "
	                           "AND uid BETWEEN ? AND ? "
	                           "ORDER BY uid");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid_min);
	sqlite3_bind_int64(st, 3, uid_max);
	struct store_message *v;
	size_t n;
	int r = message_rows_read(c, st, mailbox_id, &v, &n, err);
	store_sqlite_read_end(c);
	if (r < 0)
		return -1;
	message_rows_deliver(v, n, fn, arg);
	return 0;
}

static int conn_message_meta(struct store_conn *c, int64_t mailbox_id, uint32_t uid_min,
                             uint32_t uid_max, uint64_t modseq,
                             void (*fn)(const struct store_message *m, void *arg), void *arg,
                             struct buf *err)
{
	/* Every message of a range: along the primary key. Those changed since a
	   MODSEQ: through the modseq index, as conn_changes() does ("+uid": left
	   to itself, SQLite walks the primary key's uid range and tests every
	   row, 6 ms for 10 changes among 20,000 messages instead of 0.3). */
	sqlite3_stmt *st =
	        modseq ? stmt(c, "SELECT uid, modseq, internaldate, size FROM message "
	                         "WHERE mailbox_id = ? AND +uid BETWEEN ? AND ? AND modseq > ? "
	                         "ORDER BY +uid")
	               : stmt(c, "SELECT uid, modseq, internaldate, size FROM message "
	                         "WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid_min);
	sqlite3_bind_int64(st, 3, uid_max);
	if (modseq)
		sqlite3_bind_int64(st, 4, (int64_t)modseq);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_message m = {
		        .uid = (uint32_t)sqlite3_column_int64(st, 0),
		        .modseq = (uint64_t)sqlite3_column_int64(st, 1),
		        .internaldate = sqlite3_column_int64(st, 2),
		        .size = (uint64_t)sqlite3_column_int64(st, 3),
		};
		fn(&m, arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

static enum store_lookup conn_message_cache(struct store_conn *c, int64_t mailbox_id,
					    uint32_t uid, struct buf *envelope,
					    struct buf *bodystructure, struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT envelope, bodystructure FROM message "
				   "WHERE mailbox_id = ? AND uid = ?");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	enum store_lookup r = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW) {
		if (envelope && sqlite3_column_type(st, 0) != SQLITE_NULL)
			buf_append(envelope, sqlite3_column_text(st, 0),
				   (size_t)sqlite3_column_bytes(st, 0));
		if (bodystructure && sqlite3_column_type(st, 1) != SQLITE_NULL)
			buf_append(bodystructure, sqlite3_column_text(st, 1),
				   (size_t)sqlite3_column_bytes(st, 1));
		r = STORE_FOUND;
	} else if (rc != SQLITE_DONE) {
		read_fail(c, err);
		r = STORE_ERROR;
	}
	sqlite3_reset(st);
	return r;
}

static enum store_lookup conn_message_view(struct store_conn *c, int64_t mailbox_id, uint32_t uid,
                                           void (*fn)(const char *p, size_t n, void *arg),
                                           void *arg, struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT b.data FROM message m JOIN blob b ON b.id = m.blob_id "
				   "WHERE m.mailbox_id = ? AND m.uid = ?");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	enum store_lookup r = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW) {
		const char *data = sqlite3_column_blob(st, 0);
		fn(data ? data : "", (size_t)sqlite3_column_bytes(st, 0), arg);
		r = STORE_FOUND;
	} else if (rc != SQLITE_DONE) {
		read_fail(c, err);
		r = STORE_ERROR;
	}
	sqlite3_reset(st);
	return r;
}

static int conn_message_cache_list(struct store_conn *c, int64_t mailbox_id, uint32_t uid_min,
                                   uint32_t uid_max, bool envelope, bool bodystructure,
                                   void (*fn)(const struct store_message_cached *m, void *arg),
                                   void *arg, struct buf *err)
{
	/* Only the columns asked for: a row longer than a page keeps its end
	   on overflow pages, which are read only for a column that lies there. */
	static const char *const sql[] = {
	        "SELECT uid, envelope, bodystructure FROM message "
	        "WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid",
	        "SELECT uid, envelope, NULL FROM message "
	        "WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid",
	        "SELECT uid, NULL, bodystructure FROM message "
	        "WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid",
	};
	if (!envelope && !bodystructure)
		envelope = bodystructure = true; /* the rows, with whatever they hold */
	store_sqlite_read_begin(c);
	sqlite3_stmt *st = stmt(c, sql[!bodystructure ? 1 : !envelope ? 2 : 0]);
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid_min);
	sqlite3_bind_int64(st, 3, uid_max);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_message_cached m = {.uid = (uint32_t)sqlite3_column_int64(st, 0)};
		if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
			m.envelope = (const char *)sqlite3_column_text(st, 1);
			m.envelope_len = (size_t)sqlite3_column_bytes(st, 1);
		}
		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			m.bodystructure = (const char *)sqlite3_column_text(st, 2);
			m.bodystructure_len = (size_t)sqlite3_column_bytes(st, 2);
		}
		fn(&m, arg);
	}
	sqlite3_reset(st);
	int r = 0;
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		r = -1;
	}
	store_sqlite_read_end(c);
	return r;
}

/* The first piece of a header read; each further one is twice the last. */
#define HEADER_READ_FIRST 4096

static enum store_lookup conn_message_header_read(struct store_conn *c, int64_t mailbox_id,
                                                  uint32_t uid, struct buf *out, struct buf *err)
{
	/* The row and the bytes in one read transaction: the blob is the one
	   the row names, even if the message is expunged and its blob id
	   reused meanwhile. */
	store_sqlite_read_begin(c);
	enum store_lookup r = STORE_ERROR;
	sqlite3_stmt *st = stmt(c, "SELECT blob_id FROM message WHERE mailbox_id = ? AND uid = ?");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	int64_t blob_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			r = STORE_NOT_FOUND;
		else
			read_fail(c, err);
		goto out;
	}
	/* Incremental blob I/O: only the pages that hold the bytes asked for
	   are read, where a column read would load the whole message. */
	rc = c->header_blob ? sqlite3_blob_reopen(c->header_blob, blob_id)
	                    : sqlite3_blob_open(c->db, "main", "blob", "data", blob_id, 0,
	                                        &c->header_blob);
	if (rc != SQLITE_OK) {
		read_fail(c, err);
		sqlite3_blob_close(c->header_blob); /* unusable after a failed reopen */
		c->header_blob = NULL;
		goto out;
	}
	size_t size = (size_t)sqlite3_blob_bytes(c->header_blob);
	size_t start = out->len, have = 0, piece = HEADER_READ_FIRST;
	while (have < size) {
		size_t n = size - have < piece ? size - have : piece;
		buf_reserve(out, n);
		rc = sqlite3_blob_read(c->header_blob, out->data + out->len, (int)n, (int)have);
		if (rc != SQLITE_OK) {
			read_fail(c, err);
			buf_truncate(out, start);
			sqlite3_blob_close(c->header_blob);
			c->header_blob = NULL;
			goto out;
		}
		out->len += n;
		out->data[out->len] = '\0';
		have += n;
		/* An empty line that ends before the bytes read does is the
		   first one of the whole message too. */
		size_t hl = mime_header_len(out->data + start, have);
		if (hl < have) {
			buf_truncate(out, start + hl);
			break;
		}
		piece *= 2;
	}
	r = STORE_FOUND;
out:
	store_sqlite_read_end(c);
	return r;
}

static int conn_blob_read(struct store_conn *c, int64_t blob_id, struct buf *out,
			  struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT data FROM blob WHERE id = ?");
	sqlite3_bind_int64(st, 1, blob_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
		sqlite3_reset(st);
		return 0;
	}
	if (rc == SQLITE_DONE)
		buf_printf(err, "no blob %lld", (long long)blob_id);
	else
		read_fail(c, err);
	sqlite3_reset(st);
	return -1;
}

static int conn_changes(struct store_conn *c, int64_t mailbox_id, uint64_t modseq,
			void (*changed)(const struct store_message *m, void *arg),
			void (*expunged)(uint32_t uid, uint64_t modseq, void *arg), void *arg,
			bool *complete_r, struct buf *err)
{
	/* One read transaction so both queries see the same snapshot. */
	store_sqlite_read_begin(c);
	int r = -1;
	sqlite3_stmt *st = stmt(c, "SELECT tombstone_floor FROM mailbox WHERE id = ?");
	sqlite3_bind_int64(st, 1, mailbox_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		buf_puts(err, "no such mailbox");
		goto out;
	}
	*complete_r = (uint64_t)sqlite3_column_int64(st, 0) <= modseq;
	sqlite3_reset(st);
	/* "ORDER BY +uid": without statistics SQLite would walk the primary key
	   for the order and test every row of the mailbox (every command and
	   every IDLE wake-up of a 20,000-message mailbox read all of it); the
	   modseq indexes find the few changed rows, which are then sorted. */
	if (changed) {
		st = stmt(c, "SELECT uid, modseq, flags, internaldate, size, blob_id, savedate "
			     "FROM message WHERE mailbox_id = ? AND modseq > ? ORDER BY +uid");
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, (int64_t)modseq);
		if (message_rows(c, st, mailbox_id, changed, arg, err) < 0)
			goto out;
	}
	if (expunged) {
		st = stmt(c, "SELECT uid, modseq FROM tombstone WHERE mailbox_id = ? AND modseq > ? "
			     "ORDER BY +uid");
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, (int64_t)modseq);
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			expunged((uint32_t)sqlite3_column_int64(st, 0),
				 (uint64_t)sqlite3_column_int64(st, 1), arg);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			read_fail(c, err);
			goto out;
		}
	}
	r = 0;
out:
	store_sqlite_read_end(c);
	return r;
}

/* ---- reads: the outbound queue -------------------------------------------------- */

static enum store_lookup conn_queue_next_due(struct store_conn *c, int64_t now, int64_t *when_r,
					     struct buf *err)
{
	/* Leased recipients are few (those being delivered): skipping them is cheap. */
	sqlite3_stmt *st = stmt(c, "SELECT next_attempt FROM queue_rcpt "
				   "WHERE state IN ('queued', 'deferred') AND held = 0 "
				   "AND lease <= ? ORDER BY next_attempt LIMIT 1");
	sqlite3_bind_int64(st, 1, now);
	int rc = sqlite3_step(st);
	enum store_lookup r = STORE_NOT_FOUND;
	if (rc == SQLITE_ROW) {
		*when_r = sqlite3_column_int64(st, 0);
		r = STORE_FOUND;
	} else if (rc != SQLITE_DONE) {
		read_fail(c, err);
		r = STORE_ERROR;
	}
	sqlite3_reset(st);
	return r;
}

static const char *col_cstr(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

void store_sqlite_event_from_row(sqlite3_stmt *st, struct store_event *e)
{
	*e = (struct store_event){
		.id = sqlite3_column_int64(st, 0),
		.queue_id = sqlite3_column_int64(st, 1),
		.rcpt = col_cstr(st, 2),
		.kind = col_cstr(st, 3),
		.at_ms = sqlite3_column_int64(st, 4),
		.mx = col_cstr(st, 5),
		.remote_ip = col_cstr(st, 6),
		.source_ip = col_cstr(st, 7),
		.tls = col_cstr(st, 8),
		.reply = col_cstr(st, 9),
		.attempt = (unsigned)sqlite3_column_int64(st, 10),
		.next_attempt = sqlite3_column_int64(st, 11),
	};
}

static int conn_queue_list(struct store_conn *c, int64_t queue_id,
			   void (*fn)(const struct store_queue_entry *e, void *arg), void *arg,
			   struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT q.id, r.id, q.created, q.env_from, q.source, b.size, "
				   "r.rcpt, r.state, r.attempts, r.next_attempt, r.held, r.lease, "
				   "r.last_reply, r.route "
				   "FROM queue_rcpt r JOIN queue_message q ON q.id = r.queue_id "
				   "JOIN blob b ON b.id = q.blob_id "
				   "WHERE ?1 = 0 OR q.id = ?1 ORDER BY q.id, r.id");
	sqlite3_bind_int64(st, 1, queue_id);
	int64_t now = now_s();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_queue_entry e = {
			.queue_id = sqlite3_column_int64(st, 0),
			.rcpt_id = sqlite3_column_int64(st, 1),
			.created = sqlite3_column_int64(st, 2),
			.env_from = col_cstr(st, 3),
			.source = col_cstr(st, 4),
			.size = (uint64_t)sqlite3_column_int64(st, 5),
			.rcpt = col_cstr(st, 6),
			.state = col_cstr(st, 7),
			.attempts = (unsigned)sqlite3_column_int64(st, 8),
			.next_attempt = sqlite3_column_int64(st, 9),
			.held = sqlite3_column_int64(st, 10) != 0,
			.leased = sqlite3_column_int64(st, 11) > now,
			.last_reply = col_cstr(st, 12),
			.route = col_cstr(st, 13),
		};
		fn(&e, arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

static int conn_event_list(struct store_conn *c, int64_t queue_id, const char *rcpt,
			   void (*fn)(const struct store_event *e, void *arg), void *arg,
			   struct buf *err)
{
	sqlite3_stmt *st;
	if (rcpt) {
		st = stmt(c, "SELECT id, queue_id, rcpt, kind, at, mx, remote_ip, source_ip, tls, "
			     "reply, attempt, next_attempt FROM event "
			     "WHERE rcpt = ? COLLATE NOCASE ORDER BY id");
		bind_text(st, 1, rcpt);
	} else {
		st = stmt(c, "SELECT id, queue_id, rcpt, kind, at, mx, remote_ip, source_ip, tls, "
			     "reply, attempt, next_attempt FROM event WHERE queue_id = ? "
			     "ORDER BY id");
		sqlite3_bind_int64(st, 1, queue_id);
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_event e;
		store_sqlite_event_from_row(st, &e);
		fn(&e, arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

/* Invariants beyond SQLite's own integrity check; each query returns the rows
   that break one, as text. */
static const char *const invariant_checks[] = {
	"SELECT 'blob ' || b.id || ' refcount ' || coalesce(r.refcount, 'missing') || ' but ' || "
	"  ((SELECT count(*) FROM message m WHERE m.blob_id = b.id) + "
	"   (SELECT count(*) FROM queue_message q WHERE q.blob_id = b.id)) || ' references' "
	"FROM blob b LEFT JOIN blob_ref r ON r.blob_id = b.id WHERE r.refcount IS NULL "
	"  OR r.refcount != (SELECT count(*) FROM message m WHERE m.blob_id = b.id) + "
	"  (SELECT count(*) FROM queue_message q WHERE q.blob_id = b.id)",
	"SELECT 'message ' || m.mailbox_id || '/' || m.uid || ' points to missing blob' "
	"FROM message m LEFT JOIN blob b ON b.id = m.blob_id WHERE b.id IS NULL",
	"SELECT 'mailbox ' || b.id || ' uidnext ' || b.uidnext || ' <= uid ' || max(m.uid) "
	"FROM mailbox b JOIN message m ON m.mailbox_id = b.id GROUP BY b.id "
	"HAVING max(m.uid) >= b.uidnext",
	"SELECT 'mailbox ' || b.id || ' highestmodseq below a message modseq' "
	"FROM mailbox b JOIN message m ON m.mailbox_id = b.id GROUP BY b.id "
	"HAVING max(m.modseq) > b.highestmodseq",
	"SELECT 'mailbox ' || b.id || ' counters differ' FROM mailbox b WHERE "
	"  b.messages != (SELECT count(*) FROM message m WHERE m.mailbox_id = b.id) OR "
	"  b.size != (SELECT coalesce(sum(size), 0) FROM message m WHERE m.mailbox_id = b.id) OR "
	"  b.unseen != (SELECT count(*) FROM message m WHERE m.mailbox_id = b.id "
	"               AND (m.flags & 1) = 0)",
	"SELECT 'account ' || a.address || ' used_bytes differs' FROM account a WHERE "
	"  a.used_bytes != (SELECT coalesce(sum(m.size), 0) FROM message m "
	"                   JOIN mailbox b ON b.id = m.mailbox_id WHERE b.account_id = a.id)",
	"SELECT 'message ' || t.mailbox_id || '/' || t.uid || ' is both live and expunged' "
	"FROM tombstone t JOIN message m ON m.mailbox_id = t.mailbox_id AND m.uid = t.uid",
};

static int conn_check(struct store_conn *c, struct buf *report, struct buf *err)
{
	size_t start = report->len;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
		read_fail(c, err);
		return -1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		if (t && strcmp(t, "ok") != 0)
			buf_printf(report, "%s\n", t);
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < ARRAY_SIZE(invariant_checks); i++) {
		if (sqlite3_prepare_v2(c->db, invariant_checks[i], -1, &st, NULL) != SQLITE_OK) {
			read_fail(c, err);
			return -1;
		}
		while (sqlite3_step(st) == SQLITE_ROW)
			buf_printf(report, "%s\n", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	if (store_sqlite_search_check(c, report, err) < 0)
		return -1;
	if (report->len == start)
		buf_puts(report, "ok\n");
	return 0;
}

const struct store_backend store_backend_sqlite = {
	.name = "sqlite",
	.open = conn_open,
	.close = conn_close,
	.set_tombstones_kept = conn_set_tombstones_kept,
	.begin = conn_begin,
	.commit = conn_commit,
	.rollback = conn_rollback,
	.savepoint = conn_savepoint,
	.release = conn_release,
	.rollback_to = conn_rollback_to,
	.apply = conn_apply,
	.read_begin = store_sqlite_read_begin,
	.read_end = store_sqlite_read_end,
	.account_get = conn_account_get,
	.account_list = conn_account_list,
	.domain_list = conn_domain_list,
	.domain_exists = conn_domain_exists,
	.alias_list = conn_alias_list,
	.alias_targets = conn_alias_targets,
	.mailbox_get = conn_mailbox_get,
	.mailbox_list = conn_mailbox_list,
	.subscription_list = conn_subscription_list,
	.message_list = conn_message_list,
	.message_meta = conn_message_meta,
	.message_cache = conn_message_cache,
	.blob_read = conn_blob_read,
	.message_view = conn_message_view,
	.message_header_read = conn_message_header_read,
	.message_cache_list = conn_message_cache_list,
	.changes = conn_changes,
	.check = conn_check,
	.queue_next_due = conn_queue_next_due,
	.queue_list = conn_queue_list,
	.event_list = conn_event_list,
	.apikey_find = store_sqlite_apikey_find,
	.apikey_list = store_sqlite_apikey_list,
	.idempotency_get = store_sqlite_idempotency_get,
	.api_message_get = store_sqlite_api_message_get,
	.api_events = store_sqlite_api_events,
	.stats_queue = store_sqlite_stats_queue,
	.dkim_key_list = store_sqlite_dkim_key_list,
	.webhook_list = store_sqlite_webhook_list,
	.webhook_due = store_sqlite_webhook_due,
	.webhook_delivery_state = store_sqlite_webhook_delivery_state,
	.webhook_backlog = store_sqlite_webhook_backlog,
	.search_candidates = store_sqlite_search_candidates,
	.search_header_candidates = store_sqlite_search_header_candidates,
	.search_pending = store_sqlite_search_pending,
	.search_blob = store_sqlite_search_blob,
	.search_put = store_sqlite_search_put,
	.urlauth_key_get = store_sqlite_urlauth_key_get,
};

/* ---- hooks for store_sqlite_api.c ------------------------------------------------- */

sqlite3_stmt *store_sqlite_stmt(struct store_conn *c, const char *sql)
{
	return stmt(c, sql);
}

sqlite3 *store_sqlite_db(struct store_conn *c)
{
	return c->db;
}

struct store_sqlite_search_queue *store_sqlite_search_queue(struct store_conn *c)
{
	return &c->search;
}

void store_sqlite_op_sql_fail(struct store_op *op, struct store_conn *c, int rc)
{
	op_sql_fail(op, c, rc);
}
