/*
 * store_schema — the SQLite schema as numbered forward migrations.
 *
 * migration[i] takes a database from user_version i to i+1. A released
 * migration is never edited: changes are new entries. Opening a database whose
 * user_version is newer than this binary knows is refused (an older petrel must
 * not write a newer schema).
 *
 * The whole model exists from version 1 so later features add code, not tables:
 * see docs/ARCHITECTURE.md for what each table is for.
 */
#include "store/store_internal.h"

#include <sqlite3.h>
#include <stdlib.h>

static const char *const migrations[] = {
	/* 1: the whole model */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
	"INSERT INTO meta(key, value) VALUES('next_uidvalidity', '0');"

	"CREATE TABLE domain("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created INTEGER NOT NULL,"
	"  dkim_selector TEXT,"
	"  dkim_key_rsa TEXT,"
	"  dkim_key_ed25519 TEXT,"
	"  pool TEXT);"

	"CREATE TABLE account("
	"  id INTEGER PRIMARY KEY,"
	"  address TEXT NOT NULL UNIQUE,"
	"  domain_id INTEGER NOT NULL REFERENCES domain(id),"
	"  password_hash TEXT NOT NULL DEFAULT '',"
	"  scram_sha256 TEXT NOT NULL DEFAULT '',"
	"  quota_bytes INTEGER NOT NULL DEFAULT 0,"
	"  used_bytes INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX account_domain ON account(domain_id);"

	/* address is "local@domain" or "@domain" (catch-all) */
	"CREATE TABLE alias("
	"  id INTEGER PRIMARY KEY,"
	"  address TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  domain_id INTEGER NOT NULL REFERENCES domain(id),"
	"  UNIQUE(address, target));"

	"CREATE TABLE mailbox("
	"  id INTEGER PRIMARY KEY,"
	"  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  special_use TEXT NOT NULL DEFAULT '',"
	"  uidvalidity INTEGER NOT NULL,"
	"  uidnext INTEGER NOT NULL DEFAULT 1,"
	"  highestmodseq INTEGER NOT NULL DEFAULT 1,"
	/* tombstones with modseq <= tombstone_floor have been compacted away */
	"  tombstone_floor INTEGER NOT NULL DEFAULT 0,"
	"  subscribed INTEGER NOT NULL DEFAULT 1,"
	"  messages INTEGER NOT NULL DEFAULT 0,"
	"  unseen INTEGER NOT NULL DEFAULT 0,"
	"  size INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE(account_id, name));"

	/* The raw bytes, written once and shared by every copy of a message and by
	   the outbound queue; removed when refcount reaches zero. (Since schema
	   12 the count is in blob_ref, and this column is 0 or stale.) */
	"CREATE TABLE blob("
	"  id INTEGER PRIMARY KEY,"
	"  sha256 BLOB NOT NULL UNIQUE,"
	"  size INTEGER NOT NULL,"
	"  refcount INTEGER NOT NULL,"
	"  data BLOB NOT NULL);"

	"CREATE TABLE message("
	"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
	"  uid INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  blob_id INTEGER NOT NULL REFERENCES blob(id),"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  internaldate INTEGER NOT NULL,"
	"  savedate INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  envelope TEXT,"
	"  bodystructure TEXT,"
	"  PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE INDEX message_modseq ON message(mailbox_id, modseq);"
	"CREATE INDEX message_blob ON message(blob_id);"

	"CREATE TABLE keyword("
	"  mailbox_id INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  PRIMARY KEY(mailbox_id, uid, name),"
	"  FOREIGN KEY(mailbox_id, uid) REFERENCES message(mailbox_id, uid) ON DELETE CASCADE"
	") WITHOUT ROWID;"

	"CREATE TABLE tombstone("
	"  mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
	"  uid INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE INDEX tombstone_modseq ON tombstone(mailbox_id, modseq);"

	/* Outbound queue: one message, many recipients each with its own state. */
	"CREATE TABLE queue_message("
	"  id INTEGER PRIMARY KEY,"
	"  blob_id INTEGER NOT NULL REFERENCES blob(id),"
	"  env_from TEXT NOT NULL,"
	"  dsn_ret TEXT,"
	"  dsn_envid TEXT,"
	"  created INTEGER NOT NULL,"
	"  source TEXT NOT NULL,"        /* smtp, submission, api, bounce */
	"  account_id INTEGER,"
	"  api_key_id INTEGER,"
	"  pool TEXT,"
	"  tags TEXT,"
	"  metadata TEXT);"

	"CREATE TABLE queue_rcpt("
	"  id INTEGER PRIMARY KEY,"
	"  queue_id INTEGER NOT NULL REFERENCES queue_message(id) ON DELETE CASCADE,"
	"  rcpt TEXT NOT NULL,"
	"  state TEXT NOT NULL,"          /* queued, deferred, delivered, bounced, failed */
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt INTEGER NOT NULL,"
	"  dsn_notify TEXT,"
	"  dsn_orcpt TEXT,"
	"  route TEXT,"
	"  source_ip TEXT,"
	"  last_reply TEXT);"
	"CREATE INDEX queue_rcpt_due ON queue_rcpt(state, next_attempt);"
	"CREATE INDEX queue_rcpt_queue ON queue_rcpt(queue_id);"

	/* Delivery events (receipts): append-only, the id is the API's cursor. */
	"CREATE TABLE event("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  queue_id INTEGER,"
	"  rcpt TEXT,"
	"  kind TEXT NOT NULL,"           /* queued deferred delivered bounced expanded failed */
	"  at INTEGER NOT NULL,"
	"  mx TEXT,"
	"  remote_ip TEXT,"
	"  source_ip TEXT,"
	"  tls TEXT,"
	"  reply TEXT);"
	"CREATE INDEX event_queue ON event(queue_id);"

	"CREATE TABLE api_key("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  hash BLOB NOT NULL UNIQUE,"
	"  domains TEXT,"
	"  pool TEXT,"
	"  rate REAL,"
	"  created INTEGER NOT NULL,"
	"  revoked INTEGER);"

	"CREATE TABLE idempotency("
	"  api_key_id INTEGER NOT NULL REFERENCES api_key(id) ON DELETE CASCADE,"
	"  idem_key TEXT NOT NULL,"
	"  request_sha256 BLOB NOT NULL,"
	"  response TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY(api_key_id, idem_key)) WITHOUT ROWID;"

	"CREATE TABLE webhook("
	"  id INTEGER PRIMARY KEY,"
	"  url TEXT NOT NULL,"
	"  secret TEXT NOT NULL,"
	"  events TEXT NOT NULL,"
	"  api_key_id INTEGER REFERENCES api_key(id) ON DELETE CASCADE,"
	"  created INTEGER NOT NULL);"

	"CREATE TABLE webhook_delivery("
	"  event_id INTEGER NOT NULL REFERENCES event(id),"
	"  webhook_id INTEGER NOT NULL REFERENCES webhook(id) ON DELETE CASCADE,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt INTEGER NOT NULL,"
	"  state TEXT NOT NULL,"
	"  last_status TEXT,"
	"  PRIMARY KEY(event_id, webhook_id)) WITHOUT ROWID;"
	"CREATE INDEX webhook_delivery_due ON webhook_delivery(state, next_attempt);",

	/* 2: outbound delivery. A held recipient waits for `petrel queue release`;
	   lease is the time until which a delivery has claimed the recipient
	   (0: none). Events record the attempt number and the retry time, and are
	   found by recipient for `petrel receipts`. */
	"ALTER TABLE queue_rcpt ADD COLUMN held INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE queue_rcpt ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE event ADD COLUMN attempt INTEGER;"
	"ALTER TABLE event ADD COLUMN next_attempt INTEGER;"
	"CREATE INDEX event_rcpt ON event(rcpt COLLATE NOCASE);",

	/* 3: messages sent through the HTTP API. A queue message goes when its
	   last recipient is final, its events stay: api_message keeps what the
	   API reports about it (public id, key, Message-ID) for as long as the
	   events, and ties them to the key that sent it. */
	"CREATE TABLE api_message("
	"  id INTEGER PRIMARY KEY,"
	"  public_id TEXT NOT NULL UNIQUE,"
	"  queue_id INTEGER NOT NULL,"
	"  api_key_id INTEGER NOT NULL REFERENCES api_key(id) ON DELETE CASCADE,"
	"  message_id TEXT,"
	"  env_from TEXT NOT NULL,"
	"  subject TEXT,"
	"  tags TEXT,"
	"  metadata TEXT,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX api_message_queue ON api_message(queue_id);"
	"CREATE INDEX api_message_key ON api_message(api_key_id);",

	/* 4: DKIM signing keys, several per domain (one per selector, so a new
	   key can be published before the old one goes); the newest of each
	   algorithm signs. They go with their domain. The dkim_* columns of
	   domain (version 1) are not used. */
	"CREATE TABLE dkim_key("
	"  id INTEGER PRIMARY KEY,"
	"  domain_id INTEGER NOT NULL REFERENCES domain(id) ON DELETE CASCADE,"
	"  selector TEXT NOT NULL,"
	"  algorithm TEXT NOT NULL,"     /* rsa, ed25519 */
	"  private_key TEXT NOT NULL,"   /* PEM */
	"  created INTEGER NOT NULL,"
	"  UNIQUE(domain_id, selector));",

	/* 5: delay warnings. delay_warned is set once the sender was told that the
	   recipient is delayed (RFC 3464 action delayed), so it is told once. */
	"ALTER TABLE queue_rcpt ADD COLUMN delay_warned INTEGER NOT NULL DEFAULT 0;",

	/* 6: webhooks. webhook.cursor is the last event id the dispatcher has
	   looked at for the hook; every matching event after it becomes one
	   webhook_delivery row in the same transaction that moves the cursor.
	   A delivery is pending until an attempt succeeds (delivered) or it is
	   given up (failed); deliveries of one message go in id order. The
	   webhook_delivery table of version 1 was never written: it is
	   replaced (times in ms, test deliveries without an event). */
	"DROP TABLE webhook_delivery;"
	"ALTER TABLE webhook ADD COLUMN cursor INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE webhook_delivery("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  webhook_id INTEGER NOT NULL REFERENCES webhook(id) ON DELETE CASCADE,"
	"  event_id INTEGER,"          /* NULL: a test event */
	"  queue_id INTEGER,"          /* the event's message */
	"  state TEXT NOT NULL,"       /* pending, delivered, failed */
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL,"
	"  next_attempt_ms INTEGER NOT NULL," /* when finished: the time it finished */
	"  last_status INTEGER,"       /* HTTP status of the last attempt, 0: none */
	"  last_error TEXT);"
	"CREATE INDEX webhook_delivery_due ON webhook_delivery(state, next_attempt_ms);"
	"CREATE INDEX webhook_delivery_message ON webhook_delivery(webhook_id, queue_id, id);",

	/* 7: the full-text index for IMAP SEARCH BODY and TEXT
	   (store_sqlite_search.c). One search_doc per blob that a mailbox holds:
	   the decoded message header and the rest of the searchable text
	   (mime_search_text). The two FTS5 tables index those columns as trigrams
	   (substrings of any three characters, case-folded); they keep no copy of
	   the text. search_pending lists the blobs whose text the index lacks or
	   has from an older extraction - here every blob a mailbox already holds
	   - and those are always candidates until `petrel store reindex`. The
	   FTS5 rows go with their search_doc in C (FTS5 cannot be used in
	   triggers under trusted_schema=OFF); the cascades only ensure a
	   forgotten path can never leave an old text on a reused blob id. */
	"CREATE TABLE search_doc("
	"  blob_id INTEGER PRIMARY KEY REFERENCES blob(id) ON DELETE CASCADE,"
	"  header TEXT NOT NULL,"
	"  body TEXT NOT NULL);"
	"CREATE VIRTUAL TABLE search_header USING fts5(header, content='search_doc', "
	"  content_rowid='blob_id', tokenize='trigram', detail='none');"
	"CREATE VIRTUAL TABLE search_body USING fts5(body, content='search_doc', "
	"  content_rowid='blob_id', tokenize='trigram', detail='none');"
	"CREATE TABLE search_pending("
	"  blob_id INTEGER PRIMARY KEY REFERENCES blob(id) ON DELETE CASCADE);"
	"INSERT INTO search_pending(blob_id) SELECT DISTINCT blob_id FROM message;",

	/* 8: IMAP URLAUTH keys (RFC 4467), one per mailbox, made on first use;
	   forgetting one (RESETKEY) invalidates the URLs made with it. They go
	   with their mailbox. */
	"CREATE TABLE urlauth_key("
	"  mailbox_id INTEGER PRIMARY KEY REFERENCES mailbox(id) ON DELETE CASCADE,"
	"  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
	"  key BLOB NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX urlauth_key_account ON urlauth_key(account_id);",

	/* 9: subscriptions are names, not a mark on a mailbox: they outlive the
	   mailbox they name (RFC 9051 6.3.7), and LIST (SUBSCRIBED) shows such
	   a name \NonExistent. A rename takes them along; a delete leaves them. */
	"CREATE TABLE subscription("
	"  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  PRIMARY KEY(account_id, name)) WITHOUT ROWID;"
	"INSERT INTO subscription(account_id, name) "
	"  SELECT account_id, name FROM mailbox WHERE subscribed = 1;"
	"ALTER TABLE mailbox DROP COLUMN subscribed;",

	/* 10: the full-text index without a copy of the text
	   (store_sqlite_search.c). One contentless FTS5 table over the words of
	   store_search.c - each distinct trigram of a message once, the
	   header's marked apart - instead of two tables over search_doc's text:
	   a row's words are made again from the blob when it goes. search_doc
	   only lists the blobs that have a row. A new message's words wait in
	   search_stage until enough are there to go into FTS5 together. The
	   old entries are dropped and
	   every blob a mailbox holds is pending until `petrel store reindex`.
	   columnsize=0: no per-row sizes (they only serve ranking). */
	"DROP TABLE search_header;"
	"DROP TABLE search_body;"
	"DROP TABLE search_doc;"
	"CREATE VIRTUAL TABLE search_text USING fts5(terms, content='', tokenize='ascii', "
	"  detail='none', columnsize=0);"
	"CREATE TABLE search_doc("
	"  blob_id INTEGER PRIMARY KEY REFERENCES blob(id) ON DELETE CASCADE);"
	"CREATE TABLE search_stage("
	"  blob_id INTEGER PRIMARY KEY REFERENCES blob(id) ON DELETE CASCADE,"
	"  terms TEXT NOT NULL);"
	"INSERT OR IGNORE INTO search_pending(blob_id) SELECT DISTINCT blob_id FROM message;",

	/* 11: every foreign key gets an index. With foreign keys on, removing a
	   row looks for the rows that still name it: without these, every
	   expunge that freed a blob read the whole outbound queue, and removing
	   a domain or an API key read every alias or webhook. */
	"CREATE INDEX queue_message_blob ON queue_message(blob_id);"
	"CREATE INDEX alias_domain ON alias(domain_id);"
	"CREATE INDEX webhook_api_key ON webhook(api_key_id);",

	/* 12: a blob's references are counted in a row of their own. An UPDATE
	   writes the whole row again, so counting them in the blob's row made
	   every copy, move or expunge of a 10 MB message write its 10 MB again
	   (about 5 ms and 10-20 MB of WAL each). blob.refcount is no longer
	   kept: dropping it would rewrite every blob. */
	"CREATE TABLE blob_ref("
	"  blob_id INTEGER PRIMARY KEY REFERENCES blob(id) ON DELETE CASCADE,"
	"  refcount INTEGER NOT NULL);"
	"INSERT INTO blob_ref(blob_id, refcount) SELECT id, refcount FROM blob;",
};

int store_schema_version(void)
{
	return (int)ARRAY_SIZE(migrations);
}

static int read_version(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int version = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return version;
}

/* Each step runs under BEGIN IMMEDIATE and re-reads the version, so two
   processes opening a new store at once migrate it exactly once. */
int store_sqlite_migrate(sqlite3 *db, const char *path, struct buf *err)
{
	for (;;) {
		int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			buf_printf(err, "%s: cannot lock the database: %s", path,
				   sqlite3_errstr(rc));
			return -1;
		}
		int version = read_version(db);
		if (version < 0) {
			buf_printf(err, "%s: cannot read the schema version: %s", path,
				   sqlite3_errmsg(db));
			goto fail;
		}
		if (version > store_schema_version()) {
			buf_printf(err,
				   "%s: schema version %d is newer than this petrel knows (%d); "
				   "upgrade petrel",
				   path, version, store_schema_version());
			goto fail;
		}
		if (version == store_schema_version())
			return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
		char *e = NULL;
		char *sql = xasprintf("%s PRAGMA user_version = %d;", migrations[version],
				      version + 1);
		rc = sqlite3_exec(db, sql, NULL, NULL, &e);
		free(sql);
		if (rc != SQLITE_OK) {
			buf_printf(err, "%s: migration to schema version %d failed: %s", path,
				   version + 1, e ? e : sqlite3_errstr(rc));
			sqlite3_free(e);
			goto fail;
		}
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			buf_printf(err, "%s: migration to schema version %d failed: %s", path,
				   version + 1, sqlite3_errstr(rc));
			goto fail;
		}
	}
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}
