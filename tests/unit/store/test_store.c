/*
 * Unit tests for src/store/: the SQLite backend through store.h (schema, domains,
 * accounts, aliases and recipient resolution, mailboxes, append, flags, expunge,
 * copy and move, quota), group commit on a real event loop (one op's failure
 * does not fail its neighbours, completions on the loop after the commit),
 * watchers, the name rules, a full disk, and store_check finding damage.
 *
 * Every test runs on a fresh store in its own mkdtemp folder, removed afterwards.
 * Where the public interface does not show a row count (blobs, refcounts), the
 * test opens the SQLite file itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"

#include "schema_undo.h"

/* ---- fixture ------------------------------------------------------------------- */

struct fx {
	char dir[64];
	char *path;
	struct store *st;
	int64_t acct; /* a@example.test, with setup_account */
	int64_t inbox, archive;
};

static void exec_ok(struct store *st, struct store_op *op)
{
	if (store_exec(st, op) != 0)
		fail_msg("op %d failed: %s", (int)op->kind, buf_cstr(&op->err));
	assert_int_equal(op->error, STORE_OK);
}

/* Runs op, expects it to fail, returns why (and checks it said why). */
static enum store_error exec_fail(struct store *st, struct store_op *op)
{
	if (store_exec(st, op) == 0)
		fail_msg("op %d succeeded, expected a failure", (int)op->kind);
	assert_int_equal(op->result, -1);
	assert_true(op->err.len > 0);
	assert_int_not_equal(op->error, STORE_OK);
	return op->error;
}

static enum store_error domain_op(struct store *st, enum store_op_kind kind, const char *name)
{
	struct store_op op;
	store_op_init(&op, kind);
	op.u.domain.name = name;
	store_exec(st, &op);
	enum store_error e = op.error;
	store_op_clear(&op);
	return e;
}

static int64_t account_add(struct store *st, const char *address, uint64_t quota)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_ACCOUNT_ADD);
	op.u.account.address = address;
	op.u.account.password_hash = "$y$hash";
	op.u.account.quota_bytes = quota;
	exec_ok(st, &op);
	int64_t id = op.u.account.id_r;
	assert_true(id > 0);
	store_op_clear(&op);
	return id;
}

static enum store_error account_op(struct store *st, enum store_op_kind kind, const char *address)
{
	struct store_op op;
	store_op_init(&op, kind);
	op.u.account.address = address;
	store_exec(st, &op);
	enum store_error e = op.error;
	store_op_clear(&op);
	return e;
}

static enum store_error alias_op(struct store *st, enum store_op_kind kind, const char *address,
                                 const char *const *targets)
{
	struct store_op op;
	store_op_init(&op, kind);
	op.u.alias.address = address;
	op.u.alias.targets = targets;
	store_exec(st, &op);
	enum store_error e = op.error;
	store_op_clear(&op);
	return e;
}

#define ALIAS(st, addr, ...)                                                                       \
	alias_op((st), STORE_OP_ALIAS_ADD, (addr), (const char *const[]){__VA_ARGS__, NULL})

static void get_mailbox(struct store *st, int64_t acct, const char *name, struct store_mailbox *m)
{
	struct buf err = BUF_INIT;
	memset(m, 0, sizeof *m);
	if (store_mailbox_get(st, acct, name, m, &err) != STORE_FOUND)
		fail_msg("no mailbox %s %s", name, buf_cstr(&err));
	buf_free(&err);
}

static int64_t mailbox_id(struct store *st, int64_t acct, const char *name)
{
	struct store_mailbox m;
	get_mailbox(st, acct, name, &m);
	int64_t id = m.id;
	store_mailbox_clear(&m);
	return id;
}

static int open_store(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	strcpy(f->dir, "/tmp/petrel-test-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->path = xasprintf("%s/petrel.db", f->dir);
	struct buf err = BUF_INIT;
	if (store_open_path(&f->st, f->path, &err) < 0)
		fail_msg("store_open_path: %s", buf_cstr(&err));
	buf_free(&err);
	*state = f;
	return 0;
}

/* A store with domain example.test and account a@example.test. */
static int open_store_with_account(void **state)
{
	open_store(state);
	struct fx *f = *state;
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "example.test"), STORE_OK);
	f->acct = account_add(f->st, "a@example.test", 0);
	f->inbox = mailbox_id(f->st, f->acct, "INBOX");
	f->archive = mailbox_id(f->st, f->acct, "Archive");
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int close_store(void **state)
{
	struct fx *f = *state;
	store_close(&f->st);
	nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f->path);
	free(f);
	return 0;
}

/* ---- looking at the SQLite file directly -------------------------------------- */

static int64_t sql_int(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sql_write(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	char *e = NULL;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK)
		fail_msg("%s: %s", sql, e);
	sqlite3_close(db);
}

static void assert_check_ok(struct fx *f)
{
	struct buf report = BUF_INIT, err = BUF_INIT;
	assert_int_equal(store_check(f->st, &report, &err), 0);
	assert_string_equal(buf_cstr(&report), "ok\n");
	buf_free(&report);
	buf_free(&err);
}

/* ---- messages ------------------------------------------------------------------- */

static char *message(int n)
{
	return xasprintf("Message-ID: <m%d@example.test>\r\nSubject: message %d\r\n\r\n"
	                 "Body of message %d.\r\n",
	                 n, n, n);
}

static struct store_append_target append_to(struct fx *f, int64_t mbox, const char *data,
                                            uint32_t flags, char **keywords)
{
	struct store_append_target t = {.mailbox_id = mbox, .flags = flags, .keywords = keywords};
	struct store_op op;
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = data;
	op.u.append.len = strlen(data);
	op.u.append.targets = &t;
	op.u.append.ntargets = 1;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	return t;
}

static uint32_t append_n(struct fx *f, int64_t mbox, int n, uint32_t flags)
{
	char *m = message(n);
	uint32_t uid = append_to(f, mbox, m, flags, NULL).uid_r;
	free(m);
	return uid;
}

struct msg_row {
	uint32_t uid;
	uint64_t modseq;
	uint32_t flags;
	int64_t blob_id;
	uint64_t size;
	int64_t internaldate;
	char keywords[256]; /* space-separated */
};

struct msg_list {
	size_t n;
	struct msg_row rows[32];
	size_t nexpunged;
	uint32_t expunged[32];
	uint64_t expunged_modseq[32];
};

static void collect_message(const struct store_message *m, void *arg)
{
	struct msg_list *l = arg;
	assert_true(l->n < ARRAY_SIZE(l->rows));
	struct msg_row *r = &l->rows[l->n++];
	r->uid = m->uid;
	r->modseq = m->modseq;
	r->flags = m->flags;
	r->blob_id = m->blob_id;
	r->size = m->size;
	r->internaldate = m->internaldate;
	for (char **k = m->keywords; k && *k; k++) {
		if (r->keywords[0])
			strcat(r->keywords, " ");
		strcat(r->keywords, *k);
	}
}

static void collect_expunged(uint32_t uid, uint64_t modseq, void *arg)
{
	struct msg_list *l = arg;
	assert_true(l->nexpunged < ARRAY_SIZE(l->expunged));
	l->expunged_modseq[l->nexpunged] = modseq;
	l->expunged[l->nexpunged++] = uid;
}

static void list_messages(struct fx *f, int64_t mbox, struct msg_list *l)
{
	struct buf err = BUF_INIT;
	memset(l, 0, sizeof *l);
	assert_int_equal(store_message_list(f->st, mbox, 1, UINT32_MAX, collect_message, l, &err),
	                 0);
	buf_free(&err);
}

static bool list_changes(struct fx *f, int64_t mbox, uint64_t since, struct msg_list *l)
{
	struct buf err = BUF_INIT;
	bool complete = false;
	memset(l, 0, sizeof *l);
	assert_int_equal(store_changes(f->st, mbox, since, collect_message, collect_expunged, l,
	                               &complete, &err),
	                 0);
	buf_free(&err);
	return complete;
}

static uint64_t highestmodseq(struct fx *f, const char *name)
{
	struct store_mailbox m;
	get_mailbox(f->st, f->acct, name, &m);
	uint64_t v = m.highestmodseq;
	store_mailbox_clear(&m);
	return v;
}

static uint64_t used_bytes(struct fx *f, const char *address)
{
	struct store_account a = {0};
	struct buf err = BUF_INIT;
	assert_int_equal(store_account_get(f->st, address, &a, &err), STORE_FOUND);
	uint64_t v = a.used_bytes;
	store_account_clear(&a);
	buf_free(&err);
	return v;
}

/* ---- schema and opening ------------------------------------------------------------ */

static void test_a_new_store_has_the_current_schema_version(void **state)
{
	struct fx *f = *state;
	assert_true(store_schema_version() >= 1);
	assert_int_equal(sql_int(f, "PRAGMA user_version"), store_schema_version());
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_check_ok(f);
}

/* Whether some index of table (or its INTEGER PRIMARY KEY) starts with the
   n columns cols, in any order. */
static bool has_index_on(sqlite3 *db, const char *table, char **cols, size_t n)
{
	bool found = false;
	sqlite3_stmt *st;
	char *sql = xasprintf("SELECT name FROM pragma_table_info('%s') WHERE pk = 1 AND "
	                      "upper(type) = 'INTEGER' AND (SELECT count(*) FROM "
	                      "pragma_table_info('%s') WHERE pk > 0) = 1",
	                      table, table);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	free(sql);
	if (n == 1 && sqlite3_step(st) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(st, 0), cols[0]) == 0)
		found = true;
	sqlite3_finalize(st);
	sql = xasprintf("SELECT il.name, ii.seqno, ii.name FROM pragma_index_list('%s') il, "
	                "pragma_index_info(il.name) ii ORDER BY il.name, ii.seqno",
	                table);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	free(sql);
	char index[128] = "";
	size_t leading = 0; /* of the current index's first columns, how many are in cols */
	while (!found && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int seqno = sqlite3_column_int(st, 1);
		const char *col = (const char *)sqlite3_column_text(st, 2);
		if (strcmp(name, index) != 0) {
			snprintf(index, sizeof index, "%s", name);
			leading = 0;
		}
		if ((size_t)seqno != leading || !col)
			continue;
		for (size_t i = 0; i < n; i++)
			if (strcmp(cols[i], col) == 0) {
				leading++;
				break;
			}
		found = leading == n;
	}
	sqlite3_finalize(st);
	return found;
}

/* With foreign keys on, removing a row looks up the rows naming it in every
   table that refers to it: an unindexed foreign key makes that a full scan
   (as queue_message.blob_id did for every expunge that freed a blob). */
static void test_every_foreign_key_has_an_index(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(
	        sqlite3_prepare_v2(db,
	                           "SELECT m.name, fk.id, fk.\"from\" FROM sqlite_master m, "
	                           "pragma_foreign_key_list(m.name) fk "
	                           "WHERE m.type = 'table' ORDER BY m.name, fk.id, fk.seq",
	                           -1, &st, NULL),
	        SQLITE_OK);
	char table[128] = "";
	int id = -1;
	char *cols[8];
	size_t n = 0, keys = 0;
	struct buf missing = BUF_INIT;
	for (bool more = true; more;) {
		more = sqlite3_step(st) == SQLITE_ROW;
		const char *t = more ? (const char *)sqlite3_column_text(st, 0) : "";
		int i = more ? sqlite3_column_int(st, 1) : -1;
		if (n && (strcmp(t, table) != 0 || i != id)) {
			keys++;
			if (!has_index_on(db, table, cols, n))
				buf_printf(&missing, "%s(%s%s) ", table, cols[0],
				           n > 1 ? ",..." : "");
			for (size_t k = 0; k < n; k++)
				free(cols[k]);
			n = 0;
		}
		if (!more)
			break;
		snprintf(table, sizeof table, "%s", t);
		id = i;
		assert_true(n < ARRAY_SIZE(cols));
		cols[n++] = xstrdup((const char *)sqlite3_column_text(st, 2));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_true(keys >= 10);
	if (missing.len)
		fail_msg("foreign keys without an index: %s", buf_cstr(&missing));
	buf_free(&missing);
}

static void collect_domain(const char *name, void *arg)
{
	struct buf *b = arg;
	buf_printf(b, "%s,", name);
}

static void test_reopening_a_store_keeps_its_data(void **state)
{
	struct fx *f = *state;
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "example.test"), STORE_OK);
	int64_t acct = account_add(f->st, "a@example.test", 0);
	int64_t inbox = mailbox_id(f->st, acct, "INBOX");
	f->acct = acct;
	append_n(f, inbox, 1, 0);
	store_close(&f->st);

	struct buf err = BUF_INIT, names = BUF_INIT;
	if (store_open_path(&f->st, f->path, &err) < 0)
		fail_msg("reopen: %s", buf_cstr(&err));
	assert_int_equal(sql_int(f, "PRAGMA user_version"), store_schema_version());
	assert_int_equal(store_domain_list(f->st, collect_domain, &names, &err), 0);
	assert_string_equal(buf_cstr(&names), "example.test,");
	struct msg_list l;
	list_messages(f, inbox, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.rows[0].uid, 1);
	/* The next append continues the UIDs. */
	assert_int_equal(append_n(f, inbox, 2, 0), 2);
	buf_free(&err);
	buf_free(&names);
}

static void test_a_store_with_a_newer_schema_is_refused(void **state)
{
	struct fx *f = *state;
	store_close(&f->st);
	char *sql = xasprintf("PRAGMA user_version = %d", store_schema_version() + 1);
	sql_write(f, sql);
	free(sql);
	struct buf err = BUF_INIT;
	assert_int_equal(store_open_path(&f->st, f->path, &err), -1);
	assert_null(f->st);
	assert_non_null(strstr(buf_cstr(&err), "newer"));
	buf_free(&err);
}

/* ---- domains ------------------------------------------------------------------------ */

static void test_domains_are_added_listed_and_removed(void **state)
{
	struct fx *f = *state;
	struct buf names = BUF_INIT, err = BUF_INIT;
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "Example.TEST."), STORE_OK);
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "b.example"), STORE_OK);
	assert_int_equal(store_domain_list(f->st, collect_domain, &names, &err), 0);
	assert_string_equal(buf_cstr(&names), "b.example,example.test,");
	assert_int_equal(store_domain_exists(f->st, "EXAMPLE.test", &err), STORE_FOUND);
	assert_int_equal(store_domain_exists(f->st, "example.test.", &err), STORE_FOUND);
	assert_int_equal(store_domain_exists(f->st, "nope.test", &err), STORE_NOT_FOUND);
	assert_int_equal(store_domain_exists(f->st, "bad..name", &err), STORE_NOT_FOUND);
	assert_int_equal(err.len, 0);

	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_REMOVE, "EXAMPLE.test"), STORE_OK);
	assert_int_equal(store_domain_exists(f->st, "example.test", &err), STORE_NOT_FOUND);
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_REMOVE, "example.test"),
	                 STORE_ERR_NOTFOUND);
	buf_reset(&names);
	assert_int_equal(store_domain_list(f->st, collect_domain, &names, &err), 0);
	assert_string_equal(buf_cstr(&names), "b.example,");
	buf_free(&names);
	buf_free(&err);
}

static void test_adding_a_domain_twice_fails_with_exists(void **state)
{
	struct fx *f = *state;
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "example.test"), STORE_OK);
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "example.test"), STORE_ERR_EXISTS);
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "EXAMPLE.Test"), STORE_ERR_EXISTS);
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "example.test."), STORE_ERR_EXISTS);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM domain"), 1);
}

static void test_bad_domain_names_are_invalid(void **state)
{
	struct fx *f = *state;
	char label64[80], long254[300];
	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".test");
	/* 4 labels: 63 + 63 + 63 + 62 + 3 dots = 254 */
	memset(long254, 'a', 254);
	long254[63] = long254[127] = long254[191] = '.';
	long254[254] = '\0';
	const char *bad[] = {"",          ".",         "..",       "a..b",     "-a.test",
	                     "a-.test",   "a.-b.test", "a_b.test", "a b.test", "b\xc3\xa4r.test",
	                     "a.test..",  label64,     long254,    "a@b.test", "a/b.test",
	                     "a\x01.test"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct store_op op;
		store_op_init(&op, STORE_OP_DOMAIN_ADD);
		op.u.domain.name = bad[i];
		if (store_exec(f->st, &op) == 0)
			fail_msg("domain '%s' was accepted", bad[i]);
		assert_int_equal(op.error, STORE_ERR_INVALID);
		/* The reason reaches the caller (it once came back empty). */
		if (!strstr(buf_cstr(&op.err), "domain name"))
			fail_msg("domain '%s': reason '%s'", bad[i], buf_cstr(&op.err));
		store_op_clear(&op);
	}
	assert_int_equal(sql_int(f, "SELECT count(*) FROM domain"), 0);
	/* The edges that are fine: a 63-character label, a 253-character name. */
	label64[63] = '.';
	memmove(label64 + 63, label64 + 64, strlen(label64 + 64) + 1);
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, label64), STORE_OK);
	long254[253] = '\0';
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, long254), STORE_OK);
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "xn--br-via.test"), STORE_OK);
}

static void test_a_domain_with_accounts_cannot_be_removed(void **state)
{
	struct fx *f = *state;
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "example.test"), STORE_OK);
	account_add(f->st, "a@example.test", 0);
	struct store_op op;
	store_op_init(&op, STORE_OP_DOMAIN_REMOVE);
	op.u.domain.name = "example.test";
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_NONEMPTY);
	store_op_clear(&op);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM domain"), 1);
	/* Without its account, it goes, and its aliases with it. */
	assert_int_equal(ALIAS(f->st, "info@example.test", "someone@elsewhere.test"), STORE_OK);
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_REMOVE, "a@example.test"), STORE_OK);
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_REMOVE, "example.test"), STORE_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM alias"), 0);
	assert_check_ok(f);
}

/* ---- accounts ----------------------------------------------------------------------- */

struct mbox_seen {
	char names[512];
	uint32_t uidvalidity[16];
	size_t n;
};

static void collect_mailbox(const struct store_mailbox *m, void *arg)
{
	struct mbox_seen *s = arg;
	char one[128];
	snprintf(one, sizeof one, "%s=%s,", m->name, m->special_use);
	strcat(s->names, one);
	if (s->n < ARRAY_SIZE(s->uidvalidity))
		s->uidvalidity[s->n++] = m->uidvalidity;
	assert_int_equal(m->uidnext, 1);
	assert_int_equal(m->messages, 0);
	assert_true(m->subscribed);
}

static void test_a_new_account_gets_the_default_mailboxes_with_special_use(void **state)
{
	struct fx *f = *state;
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "example.test"), STORE_OK);
	int64_t id = account_add(f->st, "Alice.Smith@Example.TEST", 1000);
	struct buf err = BUF_INIT;
	struct store_account a = {0};
	assert_int_equal(store_account_get(f->st, "alice.smith@example.test", &a, &err),
	                 STORE_FOUND);
	assert_int_equal(a.id, id);
	assert_string_equal(a.address, "alice.smith@example.test");
	assert_string_equal(a.password_hash, "$y$hash");
	assert_string_equal(a.scram, "");
	assert_int_equal(a.quota_bytes, 1000);
	assert_int_equal(a.used_bytes, 0);
	assert_true(a.created > 0);
	store_account_clear(&a);
	assert_int_equal(store_account_get(f->st, "ALICE.SMITH@example.test", &a, &err),
	                 STORE_FOUND);
	store_account_clear(&a);
	assert_int_equal(store_account_get(f->st, "not an address", &a, &err), STORE_NOT_FOUND);

	struct mbox_seen s = {0};
	assert_int_equal(store_mailbox_list(f->st, id, collect_mailbox, &s, &err), 0);
	assert_string_equal(s.names, "Archive=\\Archive,Drafts=\\Drafts,INBOX=,Junk=\\Junk,"
	                             "Sent=\\Sent,Trash=\\Trash,");
	struct store_mailbox m;
	get_mailbox(f->st, id, "inbox", &m);
	assert_string_equal(m.name, "INBOX");
	store_mailbox_clear(&m);
	buf_free(&err);
}

static void test_an_account_in_an_unknown_domain_is_not_found(void **state)
{
	struct fx *f = *state;
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_ADD, "a@nowhere.test"),
	                 STORE_ERR_NOTFOUND);
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "example.test"), STORE_OK);
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_ADD, "no-at-sign"), STORE_ERR_INVALID);
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_ADD, "@example.test"),
	                 STORE_ERR_INVALID);
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_ADD, "a b@example.test"),
	                 STORE_ERR_INVALID);
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_ADD, "a@example.test"), STORE_OK);
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_ADD, "A@EXAMPLE.TEST"),
	                 STORE_ERR_EXISTS);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM account"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM mailbox"), 6);
}

static void test_password_and_quota_can_be_changed(void **state)
{
	struct fx *f = *state;
	struct store_op op;
	store_op_init(&op, STORE_OP_ACCOUNT_PASSWORD);
	op.u.account.address = "A@example.test";
	op.u.account.password_hash = "$y$new";
	op.u.account.scram = "SCRAM-SHA-256$4096:c2FsdA==$a2V5$a2V5";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	store_op_init(&op, STORE_OP_ACCOUNT_QUOTA);
	op.u.account.address = "a@example.test";
	op.u.account.quota_bytes = 123456;
	exec_ok(f->st, &op);
	store_op_clear(&op);

	struct store_account a = {0};
	struct buf err = BUF_INIT;
	assert_int_equal(store_account_get(f->st, "a@example.test", &a, &err), STORE_FOUND);
	assert_string_equal(a.password_hash, "$y$new");
	assert_string_equal(a.scram, "SCRAM-SHA-256$4096:c2FsdA==$a2V5$a2V5");
	assert_int_equal(a.quota_bytes, 123456);
	store_account_clear(&a);
	buf_free(&err);

	/* A NULL password removes password login. */
	store_op_init(&op, STORE_OP_ACCOUNT_PASSWORD);
	op.u.account.address = "a@example.test";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(store_account_get(f->st, "a@example.test", &a, &err), STORE_FOUND);
	assert_string_equal(a.password_hash, "");
	store_account_clear(&a);

	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_PASSWORD, "zz@example.test"),
	                 STORE_ERR_NOTFOUND);
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_QUOTA, "zz@example.test"),
	                 STORE_ERR_NOTFOUND);
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_QUOTA, "a@nowhere.test"),
	                 STORE_ERR_NOTFOUND);
}

static void test_removing_an_account_drops_its_mail_and_blobs(void **state)
{
	struct fx *f = *state;
	int64_t b = account_add(f->st, "b@example.test", 0);
	int64_t b_inbox = mailbox_id(f->st, b, "INBOX");
	/* One message delivered to both accounts (one blob), one to a only. */
	char *shared = message(1), *own = message(2);
	struct store_append_target t[2] = {{.mailbox_id = f->inbox}, {.mailbox_id = b_inbox}};
	struct store_op op;
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = shared;
	op.u.append.len = strlen(shared);
	op.u.append.targets = t;
	op.u.append.ntargets = 2;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	append_to(f, f->inbox, own, STORE_FLAG_SEEN, (char *[]){"$label1", NULL});
	append_to(f, f->archive, own, 0, NULL);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 2);

	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_REMOVE, "A@example.test"), STORE_OK);
	struct store_account a = {0};
	struct buf err = BUF_INIT;
	assert_int_equal(store_account_get(f->st, "a@example.test", &a, &err), STORE_NOT_FOUND);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 1);
	assert_int_equal(sql_int(f, "SELECT refcount FROM blob_ref"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM mailbox"), 6);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM message"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM keyword"), 0);
	struct mbox_seen s = {0};
	assert_int_equal(store_mailbox_list(f->st, f->acct, collect_mailbox, &s, &err), 0);
	assert_int_equal(s.n, 0);
	assert_check_ok(f);

	/* b still reads its copy. */
	struct msg_list l;
	list_messages(f, b_inbox, &l);
	assert_int_equal(l.n, 1);
	struct buf data = BUF_INIT;
	assert_int_equal(store_blob_read(f->st, l.rows[0].blob_id, &data, &err), 0);
	assert_string_equal(buf_cstr(&data), shared);
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_REMOVE, "a@example.test"),
	                 STORE_ERR_NOTFOUND);
	/* Removing the last holder frees the blob too. */
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_REMOVE, "b@example.test"), STORE_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 0);
	assert_check_ok(f);
	buf_free(&data);
	buf_free(&err);
	free(shared);
	free(own);
}

/* ---- aliases and recipient resolution ---------------------------------------------- */

static enum store_lookup resolve(struct fx *f, const char *address, struct store_rcpt *r)
{
	struct buf err = BUF_INIT;
	enum store_lookup l = store_rcpt_resolve(f->st, address, r, &err);
	assert_int_not_equal(l, STORE_ERROR);
	buf_free(&err);
	return l;
}

static bool has_account(const struct store_rcpt *r, int64_t id)
{
	for (size_t i = 0; i < r->naccounts; i++)
		if (r->account_ids[i] == id)
			return true;
	return false;
}

static void test_an_alias_delivers_to_each_of_its_targets(void **state)
{
	struct fx *f = *state;
	int64_t b = account_add(f->st, "b@example.test", 0);
	assert_int_equal(ALIAS(f->st, "Sales@Example.test", "a@example.test", "B@example.test"),
	                 STORE_OK);
	struct store_rcpt r;
	assert_int_equal(resolve(f, "sales@EXAMPLE.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 2);
	assert_true(has_account(&r, f->acct));
	assert_true(has_account(&r, b));
	assert_int_equal(r.nforeign, 0);
	assert_null(r.tag);
	store_rcpt_clear(&r);
	/* An account resolves to itself; nothing resolves to nothing. */
	assert_int_equal(resolve(f, "a@example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], f->acct);
	store_rcpt_clear(&r);
	assert_int_equal(resolve(f, "nobody@example.test", &r), STORE_NOT_FOUND);
	assert_int_equal(resolve(f, "a@elsewhere.test", &r), STORE_NOT_FOUND);
	assert_int_equal(resolve(f, "not an address", &r), STORE_NOT_FOUND);
}

struct alias_seen {
	char text[512];
};

static void collect_alias(const char *address, const char *target, void *arg)
{
	struct alias_seen *s = arg;
	char one[200];
	snprintf(one, sizeof one, "%s>%s,", address, target);
	strcat(s->text, one);
}

static void test_alias_add_and_remove_check_their_arguments(void **state)
{
	struct fx *f = *state;
	assert_int_equal(ALIAS(f->st, "x@nowhere.test", "a@example.test"), STORE_ERR_NOTFOUND);
	assert_int_equal(alias_op(f->st, STORE_OP_ALIAS_ADD, "x@example.test", NULL),
	                 STORE_ERR_INVALID);
	assert_int_equal(ALIAS(f->st, "x@example.test", "not-an-address"), STORE_ERR_INVALID);
	assert_int_equal(ALIAS(f->st, "x@example.test", "@example.test"), STORE_ERR_INVALID);
	assert_int_equal(ALIAS(f->st, "x y@example.test", "a@example.test"), STORE_ERR_INVALID);
	assert_int_equal(ALIAS(f->st, "x@example.test", "a@example.test", "c@remote.test"),
	                 STORE_OK);
	assert_int_equal(ALIAS(f->st, "X@example.test", "A@example.test"), STORE_ERR_EXISTS);
	assert_int_equal(ALIAS(f->st, "@example.test", "a@example.test"), STORE_OK);
	struct alias_seen s = {{0}};
	struct buf err = BUF_INIT;
	assert_int_equal(store_alias_list(f->st, collect_alias, &s, &err), 0);
	assert_string_equal(s.text, "@example.test>a@example.test,x@example.test>a@example.test,"
	                            "x@example.test>c@remote.test,");
	assert_int_equal(alias_op(f->st, STORE_OP_ALIAS_REMOVE, "x@example.test",
	                          (const char *const[]){"b@example.test", NULL}),
	                 STORE_ERR_NOTFOUND);
	assert_int_equal(alias_op(f->st, STORE_OP_ALIAS_REMOVE, "x@example.test",
	                          (const char *const[]){"C@remote.test", NULL}),
	                 STORE_OK);
	assert_int_equal(alias_op(f->st, STORE_OP_ALIAS_REMOVE, "x@example.test", NULL), STORE_OK);
	assert_int_equal(alias_op(f->st, STORE_OP_ALIAS_REMOVE, "x@example.test", NULL),
	                 STORE_ERR_NOTFOUND);
	assert_int_equal(alias_op(f->st, STORE_OP_ALIAS_REMOVE, "@example.test", NULL), STORE_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM alias"), 0);
	buf_free(&err);
}

static void test_a_catch_all_takes_every_unknown_local_part(void **state)
{
	struct fx *f = *state;
	int64_t b = account_add(f->st, "b@example.test", 0);
	assert_int_equal(ALIAS(f->st, "@example.test", "a@example.test"), STORE_OK);
	struct store_rcpt r;
	assert_int_equal(resolve(f, "whatever@example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], f->acct);
	store_rcpt_clear(&r);
	/* An existing account is not swallowed by the catch-all. */
	assert_int_equal(resolve(f, "b@example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], b);
	store_rcpt_clear(&r);
	/* A catch-all is not an address one can write to. */
	assert_int_equal(resolve(f, "@example.test", &r), STORE_NOT_FOUND);
	/* Another domain's mail is not caught. */
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "other.test"), STORE_OK);
	assert_int_equal(resolve(f, "whatever@other.test", &r), STORE_NOT_FOUND);
}

static void test_nested_aliases_are_followed(void **state)
{
	struct fx *f = *state;
	int64_t b = account_add(f->st, "b@example.test", 0);
	assert_int_equal(ALIAS(f->st, "team@example.test", "dev@example.test", "b@example.test"),
	                 STORE_OK);
	assert_int_equal(ALIAS(f->st, "dev@example.test", "a@example.test"), STORE_OK);
	struct store_rcpt r;
	assert_int_equal(resolve(f, "team@example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 2);
	assert_true(has_account(&r, f->acct));
	assert_true(has_account(&r, b));
	store_rcpt_clear(&r);
}

static void test_alias_nesting_stops_at_the_depth_limit(void **state)
{
	struct fx *f = *state;
	/* l0 -> l1 -> ... -> lN -> a: a is reached at depth N+1. */
	char from[64], to[64];
	for (int i = 0; i <= STORE_MAX_ALIAS_DEPTH; i++) {
		snprintf(from, sizeof from, "l%d@example.test", i);
		if (i == STORE_MAX_ALIAS_DEPTH)
			snprintf(to, sizeof to, "a@example.test");
		else
			snprintf(to, sizeof to, "l%d@example.test", i + 1);
		assert_int_equal(ALIAS(f->st, from, to), STORE_OK);
	}
	struct store_rcpt r;
	/* From l1, a is STORE_MAX_ALIAS_DEPTH aliases away: found. */
	assert_int_equal(resolve(f, "l1@example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 1);
	store_rcpt_clear(&r);
	/* From l0, one more: too deep. */
	assert_int_equal(resolve(f, "l0@example.test", &r), STORE_NOT_FOUND);
}

static void test_alias_loops_end_without_hanging(void **state)
{
	struct fx *f = *state;
	assert_int_equal(ALIAS(f->st, "x@example.test", "y@example.test"), STORE_OK);
	assert_int_equal(ALIAS(f->st, "y@example.test", "x@example.test"), STORE_OK);
	struct store_rcpt r;
	assert_int_equal(resolve(f, "x@example.test", &r), STORE_NOT_FOUND);
	/* A loop with a way out still delivers, once. */
	assert_int_equal(ALIAS(f->st, "y@example.test", "a@example.test"), STORE_OK);
	assert_int_equal(ALIAS(f->st, "x@example.test", "a@example.test"), STORE_OK);
	assert_int_equal(resolve(f, "x@example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], f->acct);
	store_rcpt_clear(&r);
}

static void test_an_alias_naming_itself_keeps_a_copy(void **state)
{
	struct fx *f = *state;
	int64_t b = account_add(f->st, "b@example.test", 0);
	/* Without its own address, a@ is only forwarded. */
	assert_int_equal(ALIAS(f->st, "a@example.test", "b@example.test"), STORE_OK);
	struct store_rcpt r;
	assert_int_equal(resolve(f, "a@example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], b);
	store_rcpt_clear(&r);
	assert_int_equal(ALIAS(f->st, "a@example.test", "a@example.test"), STORE_OK);
	assert_int_equal(resolve(f, "a@example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 2);
	assert_true(has_account(&r, f->acct));
	assert_true(has_account(&r, b));
	store_rcpt_clear(&r);
}

static void test_foreign_alias_targets_are_returned_apart(void **state)
{
	struct fx *f = *state;
	assert_int_equal(
	        ALIAS(f->st, "fwd@example.test", "Someone@Elsewhere.test", "a@example.test"),
	        STORE_OK);
	assert_int_equal(ALIAS(f->st, "out@example.test", "x@elsewhere.test"), STORE_OK);
	struct store_rcpt r;
	assert_int_equal(resolve(f, "fwd@example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], f->acct);
	assert_int_equal(r.nforeign, 1);
	assert_string_equal(r.foreign[0], "someone@elsewhere.test");
	store_rcpt_clear(&r);
	assert_int_equal(resolve(f, "out@example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 0);
	assert_int_equal(r.nforeign, 1);
	assert_string_equal(r.foreign[0], "x@elsewhere.test");
	store_rcpt_clear(&r);
	/* A foreign address asked directly is not ours to take. */
	assert_int_equal(resolve(f, "x@elsewhere.test", &r), STORE_NOT_FOUND);
}

static void test_sub_addressing_finds_the_account_and_its_tag(void **state)
{
	struct fx *f = *state;
	struct store_rcpt r;
	assert_int_equal(resolve(f, "A+News@Example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], f->acct);
	assert_non_null(r.tag);
	assert_string_equal(r.tag, "news");
	store_rcpt_clear(&r);
	assert_int_equal(resolve(f, "a+@example.test", &r), STORE_FOUND);
	assert_string_equal(r.tag, "");
	store_rcpt_clear(&r);
	/* The tag starts at the first '+', as with Postfix's recipient_delimiter. */
	assert_int_equal(resolve(f, "a+x+y@example.test", &r), STORE_FOUND);
	assert_string_equal(r.tag, "x+y");
	store_rcpt_clear(&r);
	assert_int_equal(resolve(f, "zz+tag@example.test", &r), STORE_NOT_FOUND);
	assert_int_equal(resolve(f, "+tag@example.test", &r), STORE_NOT_FOUND);
	/* Sub-addressing works through an alias too. */
	assert_int_equal(ALIAS(f->st, "list@example.test", "a@example.test"), STORE_OK);
	assert_int_equal(resolve(f, "list+x@example.test", &r), STORE_FOUND);
	assert_int_equal(r.account_ids[0], f->acct);
	assert_string_equal(r.tag, "x");
	store_rcpt_clear(&r);
	/* An exact alias for the tagged address wins, with no tag. */
	int64_t b = account_add(f->st, "b@example.test", 0);
	assert_int_equal(ALIAS(f->st, "a+special@example.test", "b@example.test"), STORE_OK);
	assert_int_equal(resolve(f, "a+special@example.test", &r), STORE_FOUND);
	assert_int_equal(r.naccounts, 1);
	assert_int_equal(r.account_ids[0], b);
	assert_null(r.tag);
	store_rcpt_clear(&r);
}

/* ---- mailboxes --------------------------------------------------------------------- */

static enum store_error mailbox_create(struct fx *f, const char *name, int64_t *id_r)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_MAILBOX_CREATE);
	op.u.mailbox.account_id = f->acct;
	op.u.mailbox.name = name;
	store_exec(f->st, &op);
	if (id_r)
		*id_r = op.u.mailbox.id_r;
	enum store_error e = op.error;
	store_op_clear(&op);
	return e;
}

static void test_every_mailbox_gets_its_own_uidvalidity_even_in_one_second(void **state)
{
	struct fx *f = *state;
	char name[32];
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof name, "Folder%d", i);
		assert_int_equal(mailbox_create(f, name, NULL), STORE_OK);
	}
	assert_int_equal(sql_int(f, "SELECT count(*) FROM mailbox"), 16);
	assert_int_equal(sql_int(f, "SELECT count(DISTINCT uidvalidity) FROM mailbox"), 16);
	assert_int_equal(sql_int(f, "SELECT min(uidvalidity) > 0 FROM mailbox"), 1);
	/* Another account's mailboxes too. */
	account_add(f->st, "b@example.test", 0);
	assert_int_equal(sql_int(f, "SELECT count(DISTINCT uidvalidity) FROM mailbox"), 22);
	/* And after reopening the store. */
	store_close(&f->st);
	struct buf err = BUF_INIT;
	assert_int_equal(store_open_path(&f->st, f->path, &err), 0);
	buf_free(&err);
	assert_int_equal(mailbox_create(f, "After", NULL), STORE_OK);
	assert_int_equal(sql_int(f, "SELECT count(DISTINCT uidvalidity) FROM mailbox"), 23);
}

static void test_creating_a_mailbox_creates_its_parents(void **state)
{
	struct fx *f = *state;
	int64_t id = 0;
	assert_int_equal(mailbox_create(f, "Work/2024/Q1", &id), STORE_OK);
	assert_int_equal(mailbox_id(f->st, f->acct, "Work/2024/Q1"), id);
	mailbox_id(f->st, f->acct, "Work");
	mailbox_id(f->st, f->acct, "Work/2024");
	assert_int_equal(mailbox_create(f, "Work/2024/Q1", NULL), STORE_ERR_EXISTS);
	assert_int_equal(mailbox_create(f, "Work", NULL), STORE_ERR_EXISTS);
	assert_int_equal(mailbox_create(f, "Work/2024/Q2", NULL), STORE_OK);
	/* INBOX is case-insensitive, also as a parent. */
	assert_int_equal(mailbox_create(f, "inbox", NULL), STORE_ERR_EXISTS);
	assert_int_equal(mailbox_create(f, "inbox/Sub", &id), STORE_OK);
	assert_int_equal(mailbox_id(f->st, f->acct, "INBOX/Sub"), id);
	assert_int_equal(mailbox_create(f, "Inbox/Sub", NULL), STORE_ERR_EXISTS);
	/* Other names are case-sensitive. */
	assert_int_equal(mailbox_create(f, "work", NULL), STORE_OK);
	assert_int_equal(mailbox_create(f, "Entw\xc3\xbcrfe", NULL), STORE_OK);
	assert_int_equal(mailbox_create(f, "a//b", NULL), STORE_ERR_INVALID);
	assert_int_equal(mailbox_create(f, "", NULL), STORE_ERR_INVALID);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM mailbox"), 6 + 3 + 1 + 1 + 1 + 1);
	/* With a special-use attribute. */
	struct store_op op;
	store_op_init(&op, STORE_OP_MAILBOX_CREATE);
	op.u.mailbox.account_id = f->acct;
	op.u.mailbox.name = "Receipts";
	op.u.mailbox.special_use = "\\Flagged";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	struct store_mailbox m;
	get_mailbox(f->st, f->acct, "Receipts", &m);
	assert_string_equal(m.special_use, "\\Flagged");
	store_mailbox_clear(&m);
	/* A mailbox of a missing account. */
	f->acct = 999999;
	assert_int_equal(mailbox_create(f, "X", NULL), STORE_ERR_NOTFOUND);
}

static void test_mailbox_name_check_edges(void **state)
{
	char n1000[1002], n1001[1002];
	memset(n1000, 'm', 1000);
	n1000[1000] = '\0';
	memset(n1001, 'm', 1001);
	n1001[1001] = '\0';
	/* 998 bytes and one 2-byte character: 1000 bytes, fine. */
	char n1000u[1002];
	memset(n1000u, 'm', 998);
	memcpy(n1000u + 998, "\xc3\xa9", 3);
	static const char *const good[] = {
	        "INBOX",
	        "a",
	        "a/b/c",
	        "Entw\xc3\xbcrfe",
	        "\xe6\x97\xa5\xe6\x9c\xac",
	        "\xf0\x9f\x98\x80",
	        "with space",
	        "dots.and-dashes",
	        "\xef\xbf\xbd",
	        "\xf4\x8f\xbf\xbf",
	};
	static const char *const bad[] = {
	        "",                     /* empty */
	        "/a",                   /* empty first level */
	        "a/",                   /* empty last level */
	        "a//b",                 /* empty middle level */
	        "/",                    /* nothing but a separator */
	        "a\x01z",               /* control characters */
	        "a\tb",                 /* tab */
	        "a\x1f",                /* unit separator */
	        "a\x7f",                /* DEL */
	        "\xff",                 /* never in UTF-8 */
	        "\x80",                 /* a lone continuation byte */
	        "\xc3",                 /* truncated sequence */
	        "\xc3(",                /* bad continuation */
	        "\xe6\x97",             /* truncated 3-byte sequence */
	        "\xc0\xaf",             /* overlong '/' */
	        "\xc1\xbf",             /* overlong */
	        "\xe0\x80\xaf",         /* overlong 3-byte */
	        "\xf0\x80\x80\xaf",     /* overlong 4-byte */
	        "\xed\xa0\x80",         /* UTF-16 surrogate */
	        "\xf4\x90\x80\x80",     /* above U+10FFFF */
	        "\xf8\x88\x80\x80\x80", /* 5-byte form */
	};
	struct buf err = BUF_INIT;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (store_mailbox_name_check(good[i], &err) != 0)
			fail_msg("good name %zu refused: %s", i, buf_cstr(&err));
	assert_int_equal(store_mailbox_name_check(n1000, &err), 0);
	assert_int_equal(store_mailbox_name_check(n1000u, &err), 0);
	assert_int_equal(err.len, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		if (store_mailbox_name_check(bad[i], &err) != -1)
			fail_msg("bad name %zu accepted", i);
		assert_true(err.len > 0);
	}
	buf_reset(&err);
	assert_int_equal(store_mailbox_name_check(n1001, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "1000"));
	buf_free(&err);
}

/* ---- names ----------------------------------------------------------------------- */

static void test_address_normalize_edges(void **state)
{
	char local64[128], local65[128], total254[300], total255[300];
	memset(local64, 'l', 64);
	strcpy(local64 + 64, "@example.test");
	memset(local65, 'l', 65);
	strcpy(local65 + 65, "@example.test");
	/* 64 + '@' + 189 = 254: domain 63.63.61 */
	memset(total254, 'l', 64);
	total254[64] = '@';
	memset(total254 + 65, 'd', 189);
	total254[65 + 63] = total254[65 + 127] = '.';
	total254[254] = '\0';
	memcpy(total255, total254, 255);
	total255[254] = 'd';
	total255[255] = '\0';
	struct {
		const char *in;
		bool catchall;
		const char *out; /* NULL: refused */
	} cases[] = {
	        {"user@example.test", false, "user@example.test"},
	        {"User.Name@EXAMPLE.Test", false, "user.name@example.test"},
	        {"user@example.test.", false, "user@example.test"},
	        {"u+tag@example.test", false, "u+tag@example.test"},
	        {"o'brien@example.test", false, "o'brien@example.test"},
	        {"!#$%&'*+-/=?^_`{|}~@example.test", false, "!#$%&'*+-/=?^_`{|}~@example.test"},
	        {"j\xc3\xb6rg@example.test", false, "j\xc3\xb6rg@example.test"},
	        {"no-at-sign", false, NULL},
	        {"", false, NULL},
	        {"@", false, NULL},
	        {"@", true, NULL},
	        {"@example.test", false, NULL},
	        {"@Example.Test", true, "@example.test"},
	        {"user@", false, NULL},
	        {"user@-bad.test", false, NULL},
	        {"a@b@example.test", false, NULL},
	        {".user@example.test", false, NULL},
	        {"user.@example.test", false, NULL},
	        {"us..er@example.test", false, NULL},
	        {"us er@example.test", false, NULL},
	        {"\"quoted\"@example.test", false, NULL},
	        {"us(er@example.test", false, NULL},
	        {"us\x01r@example.test", false, NULL},
	        {local64, false, NULL}, /* replaced below */
	        {local65, false, NULL},
	        {total254, false, NULL}, /* replaced below */
	        {total255, false, NULL},
	};
	char local64_lower[128], total254_lower[300];
	strcpy(local64_lower, local64);
	strcpy(total254_lower, total254);
	cases[ARRAY_SIZE(cases) - 4].out = local64_lower;
	cases[ARRAY_SIZE(cases) - 2].out = total254_lower;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct buf out = BUF_INIT, err = BUF_INIT;
		buf_puts(&out, "prefix:");
		int r = store_address_normalize(cases[i].in, cases[i].catchall, &out, &err);
		if (cases[i].out) {
			if (r != 0)
				fail_msg("case %zu '%s' refused: %s", i, cases[i].in,
				         buf_cstr(&err));
			assert_true(strncmp(buf_cstr(&out), "prefix:", 7) == 0);
			assert_string_equal(buf_cstr(&out) + 7, cases[i].out);
		} else {
			if (r != -1)
				fail_msg("case %zu '%s' accepted as '%s'", i, cases[i].in,
				         buf_cstr(&out));
			assert_true(err.len > 0);
			/* Nothing half-written into out. */
			assert_string_equal(buf_cstr(&out), "prefix:");
		}
		buf_free(&out);
		buf_free(&err);
	}
}

/* ---- append -------------------------------------------------------------------------- */

static void test_append_gives_increasing_uids_and_modseqs(void **state)
{
	struct fx *f = *state;
	struct store_mailbox before;
	get_mailbox(f->st, f->acct, "INBOX", &before);
	uint64_t last_modseq = before.highestmodseq;
	char *data[3];
	size_t total = 0;
	for (int i = 0; i < 3; i++) {
		data[i] = message(i);
		total += strlen(data[i]);
		struct store_append_target t = append_to(f, f->inbox, data[i], 0, NULL);
		assert_int_equal(t.uid_r, (uint32_t)i + 1);
		assert_true(t.modseq_r > last_modseq);
		assert_int_equal(t.uidvalidity_r, before.uidvalidity);
		last_modseq = t.modseq_r;
	}
	struct store_mailbox after;
	get_mailbox(f->st, f->acct, "INBOX", &after);
	assert_int_equal(after.uidvalidity, before.uidvalidity);
	assert_int_equal(after.uidnext, 4);
	assert_int_equal(after.highestmodseq, last_modseq);
	assert_int_equal(after.messages, 3);
	assert_int_equal(after.unseen, 3);
	assert_int_equal(after.size, total);
	assert_int_equal(used_bytes(f, "a@example.test"), total);

	struct msg_list l;
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.n, 3);
	struct buf bytes = BUF_INIT, err = BUF_INIT;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(l.rows[i].uid, i + 1);
		assert_int_equal(l.rows[i].size, strlen(data[i]));
		assert_true(l.rows[i].internaldate > 1600000000);
		buf_reset(&bytes);
		assert_int_equal(store_blob_read(f->st, l.rows[i].blob_id, &bytes, &err), 0);
		assert_int_equal(bytes.len, strlen(data[i]));
		assert_memory_equal(bytes.data, data[i], bytes.len);
		free(data[i]);
	}
	/* A uid range. */
	memset(&l, 0, sizeof l);
	assert_int_equal(store_message_list(f->st, f->inbox, 2, 2, collect_message, &l, &err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.rows[0].uid, 2);
	assert_int_equal(store_blob_read(f->st, 987654, &bytes, &err), -1);
	store_mailbox_clear(&before);
	store_mailbox_clear(&after);
	buf_free(&bytes);
	buf_free(&err);
	assert_check_ok(f);
}

static void test_reads_between_read_begin_and_end_see_one_snapshot(void **state)
{
	struct fx *f = *state;
	append_n(f, f->inbox, 1, 0);
	struct msg_list l;
	store_read_begin(f->st);
	store_read_begin(f->st); /* pairs nest */
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.n, 1);
	uint32_t uid = append_n(f, f->inbox, 2, 0); /* committed meanwhile */
	store_read_end(f->st);
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.n, 1);
	list_changes(f, f->inbox, 0, &l); /* its own transaction nests too */
	assert_int_equal(l.n, 1);
	store_read_end(f->st);
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.rows[1].uid, uid);
	list_changes(f, f->inbox, 0, &l);
	assert_int_equal(l.n, 2);
}

static void test_an_append_keeps_its_flags_keywords_and_internaldate(void **state)
{
	struct fx *f = *state;
	char *m = message(1);
	struct store_append_target t = {.mailbox_id = f->inbox,
	                                .flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
	                                .keywords = (char *[]){"$Forwarded", "work", NULL}};
	struct store_op op;
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = m;
	op.u.append.len = strlen(m);
	op.u.append.internaldate = 1234567890;
	op.u.append.envelope = "(NIL \"message 1\" NIL NIL NIL NIL NIL NIL NIL NIL)";
	op.u.append.targets = &t;
	op.u.append.ntargets = 1;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	struct msg_list l;
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.rows[0].flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_string_equal(l.rows[0].keywords, "$Forwarded work");
	assert_int_equal(l.rows[0].internaldate, 1234567890);
	struct store_mailbox mb;
	get_mailbox(f->st, f->acct, "INBOX", &mb);
	assert_int_equal(mb.unseen, 0);
	store_mailbox_clear(&mb);
	free(m);
}

static void test_an_append_to_several_mailboxes_shares_one_blob(void **state)
{
	struct fx *f = *state;
	char *m = message(7);
	int64_t b = account_add(f->st, "b@example.test", 0);
	struct store_append_target t[3] = {{.mailbox_id = f->inbox},
	                                   {.mailbox_id = f->archive},
	                                   {.mailbox_id = mailbox_id(f->st, b, "INBOX")}};
	struct store_op op;
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = m;
	op.u.append.len = strlen(m);
	op.u.append.targets = t;
	op.u.append.ntargets = 3;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(t[i].uid_r, 1);
		assert_true(t[i].modseq_r > 1);
		assert_true(t[i].uidvalidity_r > 0);
	}
	assert_int_not_equal(t[0].uidvalidity_r, t[1].uidvalidity_r);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 1);
	assert_int_equal(sql_int(f, "SELECT refcount FROM blob_ref"), 3);
	struct msg_list l1, l2;
	list_messages(f, f->inbox, &l1);
	list_messages(f, f->archive, &l2);
	assert_int_equal(l1.rows[0].blob_id, l2.rows[0].blob_id);
	assert_int_equal(used_bytes(f, "a@example.test"), 2 * strlen(m));
	assert_int_equal(used_bytes(f, "b@example.test"), strlen(m));
	assert_check_ok(f);
	free(m);
}

static void test_the_same_bytes_appended_twice_are_stored_once(void **state)
{
	struct fx *f = *state;
	char *m = message(1), *other = message(2);
	uint32_t u1 = append_to(f, f->inbox, m, 0, NULL).uid_r;
	uint32_t u2 = append_to(f, f->inbox, m, 0, NULL).uid_r;
	append_to(f, f->archive, m, 0, NULL);
	append_to(f, f->inbox, other, 0, NULL);
	assert_int_equal(u1, 1);
	assert_int_equal(u2, 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 2);
	assert_int_equal(sql_int(f, "SELECT max(refcount) FROM blob_ref"), 3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM message"), 4);
	assert_check_ok(f);
	free(m);
	free(other);
}

static void test_a_failed_append_writes_nothing(void **state)
{
	struct fx *f = *state;
	char *m = message(1);
	/* Second target missing: the first one is not written either. */
	struct store_append_target t[2] = {{.mailbox_id = f->inbox}, {.mailbox_id = 999999}};
	struct store_op op;
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = m;
	op.u.append.len = strlen(m);
	op.u.append.targets = t;
	op.u.append.ntargets = 2;
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_NOTFOUND);
	store_op_clear(&op);
	/* A bad keyword. */
	t[1].mailbox_id = f->archive;
	t[1].keywords = (char *[]){"ok", "not ok", NULL};
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = m;
	op.u.append.len = strlen(m);
	op.u.append.targets = t;
	op.u.append.ntargets = 2;
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_INVALID);
	store_op_clear(&op);
	/* No target at all. */
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = m;
	op.u.append.len = strlen(m);
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_INVALID);
	store_op_clear(&op);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM message"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM keyword"), 0);
	assert_int_equal(highestmodseq(f, "INBOX"), 1);
	assert_int_equal(used_bytes(f, "a@example.test"), 0);
	struct store_mailbox mb;
	get_mailbox(f->st, f->acct, "INBOX", &mb);
	assert_int_equal(mb.uidnext, 1);
	assert_int_equal(mb.messages, 0);
	store_mailbox_clear(&mb);
	assert_check_ok(f);
	free(m);
}

/* ---- subscriptions ---------------------------------------------------------------- */

static enum store_error mailbox_op(struct fx *f, enum store_op_kind kind, const char *name,
                                   const char *new_name, bool subscribed)
{
	struct store_op op;
	store_op_init(&op, kind);
	op.u.mailbox.account_id = f->acct;
	op.u.mailbox.name = name;
	op.u.mailbox.new_name = new_name;
	op.u.mailbox.subscribed = subscribed;
	store_exec(f->st, &op);
	enum store_error e = op.error;
	store_op_clear(&op);
	return e;
}

static void collect_subscription(const char *name, void *arg)
{
	buf_printf(arg, "%s,", name);
}

static char *subscriptions(struct fx *f)
{
	struct buf names = BUF_INIT, err = BUF_INIT;
	assert_int_equal(
	        store_subscription_list(f->st, f->acct, collect_subscription, &names, &err), 0);
	buf_free(&err);
	return buf_steal(&names);
}

static bool is_subscribed(struct fx *f, const char *name)
{
	struct store_mailbox m;
	get_mailbox(f->st, f->acct, name, &m);
	bool on = m.subscribed;
	store_mailbox_clear(&m);
	return on;
}

static void test_subscriptions_are_names_that_outlive_their_mailbox(void **state)
{
	struct fx *f = *state;
	char *v = subscriptions(f);
	assert_string_equal(v, "Archive,Drafts,INBOX,Junk,Sent,Trash,");
	free(v);
	/* CREATE leaves it unsubscribed (the IMAP session asks so). */
	struct store_op op;
	store_op_init(&op, STORE_OP_MAILBOX_CREATE);
	op.u.mailbox.account_id = f->acct;
	op.u.mailbox.name = "Work/Old";
	op.u.mailbox.unsubscribed = true;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_false(is_subscribed(f, "Work/Old"));
	assert_int_equal(mailbox_op(f, STORE_OP_MAILBOX_SUBSCRIBE, "Work/Old", NULL, true),
	                 STORE_OK);
	assert_int_equal(mailbox_op(f, STORE_OP_MAILBOX_SUBSCRIBE, "Work/Old", NULL, true),
	                 STORE_OK);
	assert_true(is_subscribed(f, "Work/Old"));
	/* A name without a mailbox may be subscribed; INBOX in any case is INBOX. */
	assert_int_equal(mailbox_op(f, STORE_OP_MAILBOX_SUBSCRIBE, "Nowhere", NULL, true),
	                 STORE_OK);
	assert_int_equal(mailbox_op(f, STORE_OP_MAILBOX_SUBSCRIBE, "inbox/Sub", NULL, true),
	                 STORE_OK);
	assert_int_equal(mailbox_op(f, STORE_OP_MAILBOX_SUBSCRIBE, "a//b", NULL, true),
	                 STORE_ERR_INVALID);
	/* Deleting the mailbox leaves its subscription. */
	assert_int_equal(mailbox_op(f, STORE_OP_MAILBOX_DELETE, "Work/Old", NULL, false), STORE_OK);
	v = subscriptions(f);
	assert_string_equal(v, "Archive,Drafts,INBOX,INBOX/Sub,Junk,Nowhere,Sent,Trash,Work/Old,");
	free(v);
	/* Unsubscribing a name that is not subscribed is no error. */
	assert_int_equal(mailbox_op(f, STORE_OP_MAILBOX_SUBSCRIBE, "Work/Old", NULL, false),
	                 STORE_OK);
	assert_int_equal(mailbox_op(f, STORE_OP_MAILBOX_SUBSCRIBE, "Work/Old", NULL, false),
	                 STORE_OK);
	/* The account's removal takes them. */
	assert_int_equal(account_op(f->st, STORE_OP_ACCOUNT_REMOVE, "a@example.test"), STORE_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM subscription"), 0);
	assert_check_ok(f);
}

static void test_a_rename_takes_the_subscriptions_of_the_mailbox_and_its_children(void **state)
{
	struct fx *f = *state;
	assert_int_equal(mailbox_create(f, "Work/Old", NULL), STORE_OK);
	assert_int_equal(mailbox_create(f, "Workshop", NULL), STORE_OK);
	assert_int_equal(mailbox_op(f, STORE_OP_MAILBOX_SUBSCRIBE, "Work/Gone", NULL, true),
	                 STORE_OK);
	/* A subscription of the new name already there is the same one. */
	assert_int_equal(mailbox_op(f, STORE_OP_MAILBOX_SUBSCRIBE, "Job/Old", NULL, true),
	                 STORE_OK);
	assert_int_equal(mailbox_op(f, STORE_OP_MAILBOX_RENAME, "Work", "Job", false), STORE_OK);
	char *v = subscriptions(f);
	assert_string_equal(v,
	                    "Archive,Drafts,INBOX,Job,Job/Gone,Job/Old,Junk,Sent,Trash,Workshop,");
	free(v);
	assert_true(is_subscribed(f, "Job/Old"));
	assert_check_ok(f);
}

static void test_schema_9_turns_the_subscribed_marks_into_names(void **state)
{
	struct fx *f = *state;
	assert_int_equal(domain_op(f->st, STORE_OP_DOMAIN_ADD, "example.test"), STORE_OK);
	f->acct = account_add(f->st, "a@example.test", 0);
	store_close(&f->st);
	/* Back to schema 8: the mark on the mailbox row, no subscription table,
	   and schema 7's full-text tables (which schema 10 replaces). */
	sql_write(f, SCHEMA_UNDO_TO_10
	          "DROP TABLE subscription;"
	          "DROP TABLE search_text;"
	          "DROP TABLE search_doc;"
	          "DROP TABLE search_stage;"
	          "CREATE TABLE search_doc(blob_id INTEGER PRIMARY KEY, header TEXT NOT NULL, "
	          "  body TEXT NOT NULL);"
	          "CREATE VIRTUAL TABLE search_header USING fts5(header, content='search_doc', "
	          "  content_rowid='blob_id', tokenize='trigram', detail='none');"
	          "CREATE VIRTUAL TABLE search_body USING fts5(body, content='search_doc', "
	          "  content_rowid='blob_id', tokenize='trigram', detail='none');"
	          "ALTER TABLE mailbox ADD COLUMN subscribed INTEGER NOT NULL DEFAULT 1;"
	          "UPDATE mailbox SET subscribed = 0 WHERE name = 'Junk';"
	          "PRAGMA user_version = 8;");
	struct buf err = BUF_INIT;
	if (store_open_path(&f->st, f->path, &err) < 0)
		fail_msg("reopen: %s", buf_cstr(&err));
	buf_free(&err);
	assert_int_equal(sql_int(f, "PRAGMA user_version"), store_schema_version());
	char *v = subscriptions(f);
	assert_string_equal(v, "Archive,Drafts,INBOX,Sent,Trash,");
	free(v);
	assert_false(is_subscribed(f, "Junk"));
	assert_true(is_subscribed(f, "Sent"));
}

/* ---- MULTIAPPEND ------------------------------------------------------------------- */

static void test_chained_appends_commit_together_or_not_at_all(void **state)
{
	struct fx *f = *state;
	char *m[3] = {message(1), message(2), message(3)};
	struct store_append_target t[3] = {
	        {.mailbox_id = f->inbox}, {.mailbox_id = f->inbox}, {.mailbox_id = f->archive}};
	struct store_op op[3];
	for (int i = 0; i < 3; i++) {
		store_op_init(&op[i], STORE_OP_APPEND);
		op[i].u.append.data = m[i];
		op[i].u.append.len = strlen(m[i]);
		op[i].u.append.targets = &t[i];
		op[i].u.append.ntargets = 1;
		op[i].u.append.more = i < 2 ? &op[i + 1] : NULL;
	}
	exec_ok(f->st, &op[0]);
	assert_int_equal(t[0].uid_r, 1);
	assert_int_equal(t[1].uid_r, 2);
	assert_int_equal(t[2].uid_r, 1);
	assert_int_equal(t[0].uidvalidity_r, t[1].uidvalidity_r);
	assert_int_equal(highestmodseq(f, "INBOX"), 3);
	for (int i = 0; i < 3; i++)
		store_op_clear(&op[i]);
	/* The last one fails: none is written. */
	t[2].mailbox_id = 999999;
	for (int i = 0; i < 3; i++) {
		store_op_init(&op[i], STORE_OP_APPEND);
		op[i].u.append.data = m[i];
		op[i].u.append.len = strlen(m[i]);
		op[i].u.append.targets = &t[i];
		op[i].u.append.ntargets = 1;
		op[i].u.append.more = i < 2 ? &op[i + 1] : NULL;
	}
	assert_int_equal(exec_fail(f->st, &op[0]), STORE_ERR_NOTFOUND);
	for (int i = 0; i < 3; i++)
		store_op_clear(&op[i]);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM message"), 3);
	assert_int_equal(highestmodseq(f, "INBOX"), 3);
	struct store_mailbox mb;
	get_mailbox(f->st, f->acct, "INBOX", &mb);
	assert_int_equal(mb.uidnext, 3);
	store_mailbox_clear(&mb);
	assert_check_ok(f);
	for (int i = 0; i < 3; i++)
		free(m[i]);
}

/* ---- quota ------------------------------------------------------------------------- */

static void set_quota(struct fx *f, const char *address, uint64_t quota)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_ACCOUNT_QUOTA);
	op.u.account.address = address;
	op.u.account.quota_bytes = quota;
	exec_ok(f->st, &op);
	store_op_clear(&op);
}

static void test_an_append_over_quota_fails_and_writes_nothing(void **state)
{
	struct fx *f = *state;
	char *m1 = message(1), *m2 = message(2);
	size_t n = strlen(m1);
	set_quota(f, "a@example.test", 2 * n + n / 2); /* room for two */
	append_to(f, f->inbox, m1, 0, NULL);
	/* Two targets that fit one: none written. */
	struct store_append_target t[2] = {{.mailbox_id = f->inbox}, {.mailbox_id = f->archive}};
	struct store_op op;
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = m2;
	op.u.append.len = strlen(m2);
	op.u.append.targets = t;
	op.u.append.ntargets = 2;
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_QUOTA);
	store_op_clear(&op);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM message"), 1);
	assert_int_equal(used_bytes(f, "a@example.test"), n);
	/* Exactly at the quota is fine; one byte over is not. */
	set_quota(f, "a@example.test", 2 * n);
	append_to(f, f->inbox, m2, 0, NULL);
	assert_int_equal(used_bytes(f, "a@example.test"), 2 * n);
	struct store_append_target t1 = {.mailbox_id = f->inbox};
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = "x";
	op.u.append.len = 1;
	op.u.append.targets = &t1;
	op.u.append.ntargets = 1;
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_QUOTA);
	store_op_clear(&op);
	/* Expunging frees room. */
	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = f->inbox;
	op.u.expunge.uids = (const uint32_t[]){1};
	op.u.expunge.nuids = 1;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(used_bytes(f, "a@example.test"), n);
	append_to(f, f->inbox, "x", 0, NULL);
	/* Quota 0 is unlimited. */
	set_quota(f, "a@example.test", 0);
	append_to(f, f->archive, m1, 0, NULL);
	assert_check_ok(f);
	free(m1);
	free(m2);
}

/* ---- flags --------------------------------------------------------------------------- */

static void flags_init(struct store_op *op, int64_t mbox, const uint32_t *uids, size_t n,
                       enum store_flags_mode mode, uint32_t flags, const char *const *kw)
{
	store_op_init(op, STORE_OP_FLAGS);
	op->u.flags.mailbox_id = mbox;
	op->u.flags.uids = uids;
	op->u.flags.nuids = n;
	op->u.flags.mode = mode;
	op->u.flags.flags = flags;
	op->u.flags.keywords = kw;
}

static void list_meta(struct fx *f, uint32_t lo, uint32_t hi, uint64_t modseq, struct msg_list *l)
{
	struct buf err = BUF_INIT;
	memset(l, 0, sizeof *l);
	assert_int_equal(
	        store_message_meta(f->st, f->inbox, lo, hi, modseq, collect_message, l, &err), 0);
	buf_free(&err);
}

static void test_message_meta_reads_modseq_date_and_size_of_a_range(void **state)
{
	struct fx *f = *state;
	for (int i = 1; i <= 5; i++)
		append_to(f, f->inbox, i % 2 ? "short\r\n" : "a longer one\r\n", 0,
		          (char *[]){"work", NULL});
	const uint32_t three[] = {3}, five[] = {5};
	struct store_op op;
	flags_init(&op, f->inbox, three, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL);
	exec_ok(f->st, &op);
	store_op_clear(&op);
	uint64_t after3 = highestmodseq(f, "INBOX");
	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = f->inbox;
	op.u.expunge.uids = five;
	op.u.expunge.nuids = 1;
	exec_ok(f->st, &op);
	store_op_clear(&op);

	/* the same values as store_message_list, without keywords or flags */
	struct msg_list all, l;
	list_messages(f, f->inbox, &all);
	list_meta(f, 1, UINT32_MAX, 0, &l);
	assert_int_equal(l.n, 4);
	for (size_t i = 0; i < l.n; i++) {
		assert_int_equal(l.rows[i].uid, all.rows[i].uid);
		assert_int_equal(l.rows[i].modseq, all.rows[i].modseq);
		assert_int_equal(l.rows[i].internaldate, all.rows[i].internaldate);
		assert_int_equal(l.rows[i].size, all.rows[i].size);
		assert_int_equal(l.rows[i].flags, 0);
		assert_string_equal(l.rows[i].keywords, "");
		assert_string_equal(all.rows[i].keywords, "work");
	}
	assert_int_equal(l.rows[1].size, strlen("a longer one\r\n"));
	/* a range */
	list_meta(f, 2, 3, 0, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.rows[0].uid, 2);
	assert_int_equal(l.rows[1].uid, 3);
	/* changed since a MODSEQ: only uid 3, whose flags changed last */
	list_meta(f, 1, UINT32_MAX, after3 - 1, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.rows[0].uid, 3);
	assert_int_equal(l.rows[0].modseq, after3);
	list_meta(f, 1, 2, after3 - 1, &l);
	assert_int_equal(l.n, 0);
	list_meta(f, 1, UINT32_MAX, after3, &l);
	assert_int_equal(l.n, 0);
}

static void test_flags_set_add_and_remove_change_flags_and_keywords(void **state)
{
	struct fx *f = *state;
	append_n(f, f->inbox, 1, 0);
	append_n(f, f->inbox, 2, 0);
	const uint32_t both[] = {1, 2}, one[] = {1};
	struct store_op op;
	struct msg_list l;

	uint64_t hm = highestmodseq(f, "INBOX");
	flags_init(&op, f->inbox, both, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
	           (const char *const[]){"work", "$Important", NULL});
	exec_ok(f->st, &op);
	assert_int_equal(op.u.flags.modseq_r, hm + 1);
	assert_int_equal(op.u.flags.nmodified_r, 0);
	store_op_clear(&op);
	list_messages(f, f->inbox, &l);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(l.rows[i].flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
		assert_string_equal(l.rows[i].keywords, "$Important work");
		assert_int_equal(l.rows[i].modseq, hm + 1);
	}
	assert_int_equal(highestmodseq(f, "INBOX"), hm + 1);
	struct store_mailbox mb;
	get_mailbox(f->st, f->acct, "INBOX", &mb);
	assert_int_equal(mb.unseen, 0);
	store_mailbox_clear(&mb);

	/* REMOVE on one message only; keyword names match without case. */
	flags_init(&op, f->inbox, one, 1, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN,
	           (const char *const[]){"WORK", NULL});
	exec_ok(f->st, &op);
	assert_int_equal(op.u.flags.modseq_r, hm + 2);
	store_op_clear(&op);
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.rows[0].flags, STORE_FLAG_FLAGGED);
	assert_string_equal(l.rows[0].keywords, "$Important");
	assert_int_equal(l.rows[0].modseq, hm + 2);
	assert_int_equal(l.rows[1].modseq, hm + 1);

	/* SET replaces both flags and keywords. */
	flags_init(&op, f->inbox, both, 2, STORE_FLAGS_SET, STORE_FLAG_ANSWERED | STORE_FLAG_DRAFT,
	           (const char *const[]){"new", NULL});
	exec_ok(f->st, &op);
	store_op_clear(&op);
	list_messages(f, f->inbox, &l);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(l.rows[i].flags, STORE_FLAG_ANSWERED | STORE_FLAG_DRAFT);
		assert_string_equal(l.rows[i].keywords, "new");
	}
	/* SET with no keywords clears them. */
	flags_init(&op, f->inbox, both, 2, STORE_FLAGS_SET, STORE_FLAG_SEEN, NULL);
	exec_ok(f->st, &op);
	store_op_clear(&op);
	list_messages(f, f->inbox, &l);
	assert_string_equal(l.rows[0].keywords, "");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM keyword"), 0);

	/* Missing uids are skipped; a missing mailbox or a bad keyword fails. */
	flags_init(&op, f->inbox, (const uint32_t[]){7, 8}, 2, STORE_FLAGS_ADD, STORE_FLAG_DELETED,
	           NULL);
	exec_ok(f->st, &op);
	store_op_clear(&op);
	flags_init(&op, 999999, one, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL);
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_NOTFOUND);
	store_op_clear(&op);
	flags_init(&op, f->inbox, one, 1, STORE_FLAGS_ADD, 0,
	           (const char *const[]){"bad(keyword", NULL});
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_INVALID);
	store_op_clear(&op);
	assert_check_ok(f);
}

static void test_a_flags_change_that_changes_nothing_keeps_the_modseq(void **state)
{
	struct fx *f = *state;
	append_n(f, f->inbox, 1, STORE_FLAG_SEEN);
	struct store_op op;
	flags_init(&op, f->inbox, (const uint32_t[]){1}, 1, STORE_FLAGS_ADD, 0,
	           (const char *const[]){"work", NULL});
	exec_ok(f->st, &op);
	store_op_clear(&op);
	uint64_t hm = highestmodseq(f, "INBOX");
	struct msg_list l;

	const struct {
		enum store_flags_mode mode;
		uint32_t flags;
		const char *const *kw;
	} noops[] = {
	        {STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL},
	        {STORE_FLAGS_ADD, 0, (const char *const[]){"WORK", NULL}},
	        {STORE_FLAGS_REMOVE, STORE_FLAG_DELETED, (const char *const[]){"other", NULL}},
	        {STORE_FLAGS_SET, STORE_FLAG_SEEN, (const char *const[]){"work", NULL}},
	};
	for (size_t i = 0; i < ARRAY_SIZE(noops); i++) {
		flags_init(&op, f->inbox, (const uint32_t[]){1}, 1, noops[i].mode, noops[i].flags,
		           noops[i].kw);
		exec_ok(f->st, &op);
		assert_int_equal(op.u.flags.modseq_r, hm);
		store_op_clear(&op);
		assert_int_equal(highestmodseq(f, "INBOX"), hm);
	}
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.rows[0].modseq, hm);
	/* Nothing new since hm. */
	assert_true(list_changes(f, f->inbox, hm, &l));
	assert_int_equal(l.n, 0);
	assert_int_equal(l.nexpunged, 0);
}

static void test_unchangedsince_lists_the_messages_modified_since(void **state)
{
	struct fx *f = *state;
	for (int i = 1; i <= 3; i++)
		append_n(f, f->inbox, i, 0);
	uint64_t seen_at = highestmodseq(f, "INBOX");
	/* Someone else flags message 2 after our client's last sync. */
	struct store_op op;
	flags_init(&op, f->inbox, (const uint32_t[]){2}, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL);
	exec_ok(f->st, &op);
	store_op_clear(&op);

	flags_init(&op, f->inbox, (const uint32_t[]){1, 2, 3}, 3, STORE_FLAGS_ADD,
	           STORE_FLAG_DELETED, NULL);
	op.u.flags.unchangedsince = seen_at;
	exec_ok(f->st, &op);
	assert_int_equal(op.u.flags.nmodified_r, 1);
	assert_int_equal(op.u.flags.modified_r[0], 2);
	uint64_t m = op.u.flags.modseq_r;
	assert_int_equal(m, seen_at + 2);
	store_op_clear(&op);

	struct msg_list l;
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.rows[0].flags, STORE_FLAG_DELETED);
	assert_int_equal(l.rows[1].flags, STORE_FLAG_SEEN); /* untouched */
	assert_int_equal(l.rows[2].flags, STORE_FLAG_DELETED);
	assert_int_equal(l.rows[0].modseq, m);
	assert_int_equal(l.rows[1].modseq, seen_at + 1);

	/* Every message modified: nothing changes, modseq stays. */
	flags_init(&op, f->inbox, (const uint32_t[]){1, 2, 3}, 3, STORE_FLAGS_ADD,
	           STORE_FLAG_FLAGGED, NULL);
	op.u.flags.unchangedsince = seen_at;
	exec_ok(f->st, &op);
	assert_int_equal(op.u.flags.nmodified_r, 3);
	assert_int_equal(op.u.flags.modseq_r, m);
	store_op_clear(&op);
	assert_int_equal(highestmodseq(f, "INBOX"), m);

	/* The changes since the client's sync: messages 1, 2, 3 (new modseqs). */
	assert_true(list_changes(f, f->inbox, seen_at, &l));
	assert_int_equal(l.n, 3);
	assert_true(list_changes(f, f->inbox, seen_at + 1, &l));
	assert_int_equal(l.n, 2);
	assert_int_equal(l.rows[0].uid, 1);
	assert_int_equal(l.rows[1].uid, 3);
	assert_check_ok(f);
}

/* ---- expunge ---------------------------------------------------------------------------- */

static void test_expunging_deleted_messages_leaves_tombstones(void **state)
{
	struct fx *f = *state;
	for (int i = 1; i <= 4; i++)
		append_n(f, f->inbox, i, i == 4 ? STORE_FLAG_SEEN : 0);
	struct store_op op;
	flags_init(&op, f->inbox, (const uint32_t[]){1, 3}, 2, STORE_FLAGS_ADD, STORE_FLAG_DELETED,
	           (const char *const[]){"gone", NULL});
	exec_ok(f->st, &op);
	store_op_clear(&op);
	uint64_t before = highestmodseq(f, "INBOX");

	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = f->inbox;
	exec_ok(f->st, &op);
	assert_int_equal(op.u.expunge.nexpunged_r, 2);
	assert_int_equal(op.u.expunge.expunged_r[0], 1);
	assert_int_equal(op.u.expunge.expunged_r[1], 3);
	assert_int_equal(op.u.expunge.modseq_r, before + 1);
	store_op_clear(&op);

	struct msg_list l;
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.rows[0].uid, 2);
	assert_int_equal(l.rows[1].uid, 4);
	struct store_mailbox mb;
	get_mailbox(f->st, f->acct, "INBOX", &mb);
	assert_int_equal(mb.messages, 2);
	assert_int_equal(mb.unseen, 1);
	assert_int_equal(mb.uidnext, 5);
	assert_int_equal(mb.highestmodseq, before + 1);
	store_mailbox_clear(&mb);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM keyword"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM tombstone"), 2);

	/* Since before: only the tombstones. */
	assert_true(list_changes(f, f->inbox, before, &l));
	assert_int_equal(l.n, 0);
	assert_int_equal(l.nexpunged, 2);
	assert_int_equal(l.expunged[0], 1);
	assert_int_equal(l.expunged[1], 3);
	assert_int_equal(l.expunged_modseq[0], before + 1);
	/* Since 0: the live messages and the tombstones. */
	assert_true(list_changes(f, f->inbox, 0, &l));
	assert_int_equal(l.n, 2);
	assert_int_equal(l.nexpunged, 2);
	/* Since now: nothing. */
	assert_true(list_changes(f, f->inbox, before + 1, &l));
	assert_int_equal(l.n + l.nexpunged, 0);
	/* Once tombstones up to a modseq are compacted away, a client that last
	   synced before it is told the list is incomplete. */
	char *sql = xasprintf("UPDATE mailbox SET tombstone_floor = %llu WHERE id = %lld",
	                      (unsigned long long)before, (long long)f->inbox);
	sql_write(f, sql);
	free(sql);
	assert_false(list_changes(f, f->inbox, before - 1, &l));
	assert_true(list_changes(f, f->inbox, before, &l));

	/* Expunging again finds nothing and moves nothing. */
	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = f->inbox;
	exec_ok(f->st, &op);
	assert_int_equal(op.u.expunge.nexpunged_r, 0);
	assert_int_equal(op.u.expunge.modseq_r, before + 1);
	store_op_clear(&op);
	assert_int_equal(highestmodseq(f, "INBOX"), before + 1);
	assert_check_ok(f);
}

static void test_expunging_by_uid_ignores_the_deleted_flag_and_missing_uids(void **state)
{
	struct fx *f = *state;
	for (int i = 1; i <= 3; i++)
		append_n(f, f->inbox, i, i == 3 ? STORE_FLAG_DELETED : 0);
	uint64_t before = highestmodseq(f, "INBOX");
	struct store_op op;
	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = f->inbox;
	op.u.expunge.uids = (const uint32_t[]){2, 9};
	op.u.expunge.nuids = 2;
	exec_ok(f->st, &op);
	assert_int_equal(op.u.expunge.nexpunged_r, 1);
	assert_int_equal(op.u.expunge.expunged_r[0], 2);
	store_op_clear(&op);
	struct msg_list l;
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.rows[0].uid, 1);
	assert_int_equal(l.rows[1].uid, 3);
	assert_true(list_changes(f, f->inbox, before, &l));
	assert_int_equal(l.nexpunged, 1);
	assert_int_equal(l.expunged[0], 2);
	/* An expunged uid is never given again. */
	assert_int_equal(append_n(f, f->inbox, 2, 0), 4);
	/* A missing mailbox. */
	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = 999999;
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_NOTFOUND);
	store_op_clear(&op);
	assert_check_ok(f);
}

/* ---- read snapshots ------------------------------------------------------------------ */

static bool message_visible(struct fx *f, int64_t mbox, uint32_t uid);

static uint32_t inbox_messages(struct fx *f)
{
	struct store_mailbox m;
	get_mailbox(f->st, f->acct, "INBOX", &m);
	uint32_t n = m.messages;
	store_mailbox_clear(&m);
	return n;
}

static void test_a_read_pair_holds_mailbox_counts_and_bytes_still(void **state)
{
	struct fx *f = *state;
	append_n(f, f->inbox, 1, 0);
	store_read_begin(f->st);
	assert_int_equal(inbox_messages(f), 1);
	append_n(f, f->inbox, 2, 0); /* committed by the writer meanwhile */
	assert_int_equal(inbox_messages(f), 1);
	assert_false(message_visible(f, f->inbox, 2));
	/* nested pairs keep the outer snapshot */
	store_read_begin(f->st);
	assert_int_equal(inbox_messages(f), 1);
	store_read_end(f->st);
	assert_int_equal(inbox_messages(f), 1);
	store_read_end(f->st);
	/* closed: the next read sees the new state */
	assert_int_equal(inbox_messages(f), 2);
	assert_true(message_visible(f, f->inbox, 2));
	/* and a new pair takes a new snapshot */
	store_read_begin(f->st);
	assert_int_equal(inbox_messages(f), 2);
	store_read_end(f->st);
}

/* ---- copy and move ------------------------------------------------------------------- */

static void copy_init(struct store_op *op, int64_t from, int64_t to, const uint32_t *uids, size_t n,
                      bool move)
{
	store_op_init(op, STORE_OP_COPY);
	op->u.copy.from_mailbox_id = from;
	op->u.copy.to_mailbox_id = to;
	op->u.copy.uids = uids;
	op->u.copy.nuids = n;
	op->u.copy.move = move;
}

static void test_copy_gives_new_uids_and_shares_the_blob(void **state)
{
	struct fx *f = *state;
	append_n(f, f->archive, 100, 0); /* Archive's uid 1 is taken */
	char *m1 = message(1), *m2 = message(2);
	append_to(f, f->inbox, m1, STORE_FLAG_SEEN, (char *[]){"work", NULL});
	append_to(f, f->inbox, m2, 0, NULL);
	uint64_t used = used_bytes(f, "a@example.test");
	uint64_t archive_hm = highestmodseq(f, "Archive");
	struct store_mailbox archive;
	get_mailbox(f->st, f->acct, "Archive", &archive);

	struct store_op op;
	copy_init(&op, f->inbox, f->archive, (const uint32_t[]){1, 2}, 2, false);
	exec_ok(f->st, &op);
	assert_int_equal(op.u.copy.ncopied_r, 2);
	assert_int_equal(op.u.copy.new_uids_r[0], 2);
	assert_int_equal(op.u.copy.new_uids_r[1], 3);
	assert_int_equal(op.u.copy.to_uidvalidity_r, archive.uidvalidity);
	store_op_clear(&op);
	store_mailbox_clear(&archive);

	struct msg_list src, dst;
	list_messages(f, f->inbox, &src);
	list_messages(f, f->archive, &dst);
	assert_int_equal(src.n, 2);
	assert_int_equal(dst.n, 3);
	assert_int_equal(dst.rows[1].blob_id, src.rows[0].blob_id);
	assert_int_equal(dst.rows[2].blob_id, src.rows[1].blob_id);
	assert_true(dst.rows[1].flags & STORE_FLAG_SEEN);
	assert_string_equal(dst.rows[1].keywords, "work");
	assert_int_equal(dst.rows[1].modseq, archive_hm + 1);
	assert_int_equal(highestmodseq(f, "Archive"), archive_hm + 1);
	/* Bytes are not copied; the references are counted. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 3);
	assert_int_equal(sql_int(f, "SELECT sum(refcount) FROM blob_ref"), 5);
	assert_int_equal(used_bytes(f, "a@example.test"), used + strlen(m1) + strlen(m2));
	assert_check_ok(f);

	/* Copy within one mailbox. */
	copy_init(&op, f->inbox, f->inbox, (const uint32_t[]){2}, 1, false);
	exec_ok(f->st, &op);
	assert_int_equal(op.u.copy.new_uids_r[0], 3);
	store_op_clear(&op);
	assert_check_ok(f);
	free(m1);
	free(m2);
}

static void test_move_expunges_the_sources_in_the_same_step(void **state)
{
	struct fx *f = *state;
	for (int i = 1; i <= 3; i++)
		append_n(f, f->inbox, i, 0);
	uint64_t used = used_bytes(f, "a@example.test");
	uint64_t inbox_hm = highestmodseq(f, "INBOX");
	struct store_op op;
	copy_init(&op, f->inbox, f->archive, (const uint32_t[]){1, 3}, 2, true);
	exec_ok(f->st, &op);
	assert_int_equal(op.u.copy.ncopied_r, 2);
	assert_int_equal(op.u.copy.new_uids_r[0], 1);
	assert_int_equal(op.u.copy.new_uids_r[1], 2);
	store_op_clear(&op);

	struct msg_list l;
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.rows[0].uid, 2);
	list_messages(f, f->archive, &l);
	assert_int_equal(l.n, 2);
	assert_true(list_changes(f, f->inbox, inbox_hm, &l));
	assert_int_equal(l.nexpunged, 2);
	assert_int_equal(l.expunged[0], 1);
	assert_int_equal(l.expunged[1], 3);
	assert_int_equal(l.expunged_modseq[0], inbox_hm + 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 3);
	assert_int_equal(sql_int(f, "SELECT sum(refcount) FROM blob_ref"), 3);
	assert_int_equal(used_bytes(f, "a@example.test"), used);
	assert_check_ok(f);

	/* Into its own mailbox is refused; from a missing one is not found. */
	copy_init(&op, f->inbox, f->inbox, (const uint32_t[]){2}, 1, true);
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_INVALID);
	store_op_clear(&op);
	copy_init(&op, 999999, f->inbox, (const uint32_t[]){2}, 1, false);
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_NOTFOUND);
	store_op_clear(&op);
	copy_init(&op, f->inbox, 999999, (const uint32_t[]){2}, 1, false);
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_NOTFOUND);
	store_op_clear(&op);
	assert_check_ok(f);
}

static void test_copy_and_move_into_another_account_respect_its_quota(void **state)
{
	struct fx *f = *state;
	char *m1 = message(1), *m2 = message(2);
	size_t n = strlen(m1);
	int64_t b = account_add(f->st, "b@example.test", n); /* room for one */
	int64_t b_inbox = mailbox_id(f->st, b, "INBOX");
	append_to(f, f->inbox, m1, 0, NULL);
	append_to(f, f->inbox, m2, 0, NULL);

	struct store_op op;
	copy_init(&op, f->inbox, b_inbox, (const uint32_t[]){1, 2}, 2, false);
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_QUOTA);
	store_op_clear(&op);
	assert_int_equal(used_bytes(f, "b@example.test"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM message"), 2);

	copy_init(&op, f->inbox, b_inbox, (const uint32_t[]){1}, 1, true);
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(used_bytes(f, "b@example.test"), n);
	assert_int_equal(used_bytes(f, "a@example.test"), strlen(m2));
	/* Within one account a full quota does not stop a move. */
	set_quota(f, "b@example.test", 1);
	int64_t b_archive = mailbox_id(f->st, b, "Archive");
	copy_init(&op, b_inbox, b_archive, (const uint32_t[]){1}, 1, true);
	exec_ok(f->st, &op);
	store_op_clear(&op);
	/* But a copy is refused. */
	copy_init(&op, b_archive, b_inbox, (const uint32_t[]){1}, 1, false);
	assert_int_equal(exec_fail(f->st, &op), STORE_ERR_QUOTA);
	store_op_clear(&op);
	assert_check_ok(f);
	free(m1);
	free(m2);
}

static void test_an_op_run_again_reports_only_its_new_results(void **state)
{
	struct fx *f = *state;
	for (int i = 1; i <= 2; i++)
		append_n(f, f->inbox, i, 0);
	uint64_t seen_at = highestmodseq(f, "INBOX");
	struct store_op op;
	flags_init(&op, f->inbox, (const uint32_t[]){2}, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL);
	exec_ok(f->st, &op);
	store_op_clear(&op);
	/* A conditional STORE that a session retries, as after a temporary error:
	   once cleared and once not. */
	flags_init(&op, f->inbox, (const uint32_t[]){1, 2}, 2, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED,
	           NULL);
	op.u.flags.unchangedsince = seen_at;
	for (int round = 0; round < 3; round++) {
		/* The first round flags message 1, so later rounds find both
		   modified since seen_at. */
		exec_ok(f->st, &op);
		assert_int_equal(op.u.flags.nmodified_r, round == 0 ? 1 : 2);
		assert_int_equal(op.u.flags.modified_r[0], round == 0 ? 2 : 1);
		if (round == 1)
			store_op_clear(&op);
	}
	store_op_clear(&op);
	assert_int_equal(op.u.flags.nmodified_r, 0);
	/* The same for expunge and copy results. */
	copy_init(&op, f->inbox, f->archive, (const uint32_t[]){1}, 1, false);
	for (int round = 0; round < 2; round++) {
		exec_ok(f->st, &op);
		assert_int_equal(op.u.copy.ncopied_r, 1);
		assert_int_equal(op.u.copy.new_uids_r[0], (uint32_t)round + 1);
	}
	store_op_clear(&op);
	assert_int_equal(op.u.copy.ncopied_r, 0);
	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = f->archive;
	op.u.expunge.uids = (const uint32_t[]){1, 2};
	op.u.expunge.nuids = 2;
	exec_ok(f->st, &op);
	assert_int_equal(op.u.expunge.nexpunged_r, 2);
	exec_ok(f->st, &op);
	assert_int_equal(op.u.expunge.nexpunged_r, 0);
	store_op_clear(&op);
	assert_int_equal(op.u.expunge.nexpunged_r, 0);
	assert_check_ok(f);
}

/* ---- the commit thread on a real loop ----------------------------------------------- */

struct loop {
	struct fx *f;
	struct event_base *base;
	struct event *timeout;
	pthread_t thread;
	int pending;
	bool wrong_thread;
	struct store_op *done[32];
	size_t ndone;
	void (*check)(struct loop *l, struct store_op *op);
	/* watchers */
	struct store_watch *w1, *w2;
	int w1_calls, w2_calls, other_calls;
	int64_t w_mailbox;
	uint64_t w_modseq;
	size_t w_seen_before_done; /* ndone when the watcher ran */
};

static void loop_timeout(evutil_socket_t fd, short what, void *arg)
{
	fail_msg("the store did not complete its ops in time");
}

static void loop_start(struct loop *l, struct fx *f)
{
	memset(l, 0, sizeof *l);
	l->f = f;
	l->thread = pthread_self();
	l->base = event_base_new();
	assert_non_null(l->base);
	struct buf err = BUF_INIT;
	if (store_start(f->st, l->base, &err) < 0)
		fail_msg("store_start: %s", buf_cstr(&err));
	buf_free(&err);
	l->timeout = evtimer_new(l->base, loop_timeout, l);
	struct timeval tv = {30, 0};
	evtimer_add(l->timeout, &tv);
}

static void loop_done(struct store_op *op, void *arg)
{
	struct loop *l = arg;
	if (!pthread_equal(pthread_self(), l->thread))
		l->wrong_thread = true;
	assert_true(l->ndone < ARRAY_SIZE(l->done));
	l->done[l->ndone++] = op;
	if (l->check)
		l->check(l, op);
	if (--l->pending == 0)
		event_base_loopbreak(l->base);
}

static void loop_submit(struct loop *l, struct store_op *op)
{
	l->pending++;
	store_submit(l->f->st, op, loop_done, l);
}

static void loop_run(struct loop *l)
{
	if (l->pending > 0)
		event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
	assert_int_equal(l->pending, 0);
	assert_false(l->wrong_thread);
}

/* Stops the commit thread (the store is closed) and frees the loop. */
static void loop_end(struct loop *l)
{
	store_close(&l->f->st);
	event_free(l->timeout);
	event_base_free(l->base);
}

static void append_init(struct store_op *op, struct store_append_target *t, int64_t mbox,
                        const char *data)
{
	memset(t, 0, sizeof *t);
	t->mailbox_id = mbox;
	store_op_init(op, STORE_OP_APPEND);
	op->u.append.data = data;
	op->u.append.len = strlen(data);
	op->u.append.targets = t;
	op->u.append.ntargets = 1;
}

static bool message_visible(struct fx *f, int64_t mbox, uint32_t uid)
{
	struct msg_list l;
	struct buf err = BUF_INIT;
	memset(&l, 0, sizeof l);
	assert_int_equal(store_message_list(f->st, mbox, uid, uid, collect_message, &l, &err), 0);
	buf_free(&err);
	return l.n == 1;
}

struct batch {
	struct store_op ops[7];
	struct store_append_target t[7];
	char *data[7];
};

static struct batch *the_batch;

/* Runs in each completion: what the op did is already readable (committed). */
static void batch_check(struct loop *l, struct store_op *op)
{
	struct batch *b = the_batch;
	size_t i = (size_t)(op - b->ops);
	if (op->kind == STORE_OP_DOMAIN_ADD && op->result == 0)
		return; /* the blocker */
	assert_true(i < ARRAY_SIZE(b->ops));
	struct buf err = BUF_INIT;
	switch (i) {
	case 0:
	case 4:
		assert_int_equal(op->result, 0);
		assert_true(message_visible(l->f, l->f->inbox, b->t[i].uid_r));
		break;
	case 1:
		assert_int_equal(op->error, STORE_ERR_NOTFOUND);
		break;
	case 2:
		assert_int_equal(op->error, STORE_ERR_EXISTS);
		break;
	case 3:
		assert_int_equal(op->error, STORE_ERR_INVALID);
		assert_false(message_visible(l->f, l->f->inbox, 3));
		break;
	case 5: {
		assert_int_equal(op->result, 0);
		struct msg_list ml;
		list_messages(l->f, l->f->inbox, &ml);
		assert_true(ml.rows[0].flags & STORE_FLAG_SEEN);
		assert_int_equal(ml.rows[0].modseq, op->u.flags.modseq_r);
		break;
	}
	case 6: {
		assert_int_equal(op->result, 0);
		struct store_mailbox m;
		get_mailbox(l->f->st, l->f->acct, "Projects", &m);
		assert_int_equal(m.id, op->u.mailbox.id_r);
		store_mailbox_clear(&m);
		break;
	}
	}
	buf_free(&err);
}

static void test_a_failing_op_in_a_batch_does_not_fail_its_neighbours(void **state)
{
	struct fx *f = *state;
	struct batch b;
	memset(&b, 0, sizeof b);
	the_batch = &b;
	for (int i = 0; i < 7; i++)
		b.data[i] = message(i);
	append_init(&b.ops[0], &b.t[0], f->inbox, b.data[0]);
	append_init(&b.ops[1], &b.t[1], 999999, b.data[1]);
	store_op_init(&b.ops[2], STORE_OP_DOMAIN_ADD);
	b.ops[2].u.domain.name = "example.test";
	append_init(&b.ops[3], &b.t[3], f->inbox, b.data[3]);
	b.t[3].keywords = (char *[]){"bad keyword", NULL};
	append_init(&b.ops[4], &b.t[4], f->inbox, b.data[4]);
	/* Flags on the message op 0 appends, earlier in the same transaction. */
	flags_init(&b.ops[5], f->inbox, (const uint32_t[]){1}, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
	           NULL);
	store_op_init(&b.ops[6], STORE_OP_MAILBOX_CREATE);
	b.ops[6].u.mailbox.account_id = f->acct;
	b.ops[6].u.mailbox.name = "Projects";

	struct loop l;
	loop_start(&l, f);
	l.check = batch_check;
	/* Hold the write lock from another connection so that the seven ops queue
	   up behind a first one and go into the next group commit together. */
	sqlite3 *blocker;
	assert_int_equal(sqlite3_open(f->path, &blocker), SQLITE_OK);
	assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	struct store_op first;
	store_op_init(&first, STORE_OP_DOMAIN_ADD);
	first.u.domain.name = "blocker.test";
	loop_submit(&l, &first);
	usleep(100 * 1000);
	for (int i = 0; i < 7; i++)
		loop_submit(&l, &b.ops[i]);
	usleep(50 * 1000);
	/* Nothing completes while the commit is held up. */
	event_base_loop(l.base, EVLOOP_NONBLOCK);
	assert_int_equal(l.ndone, 0);
	assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(blocker);
	loop_run(&l);

	/* Completions arrive in submission order. */
	assert_int_equal(l.ndone, 8);
	assert_ptr_equal(l.done[0], &first);
	for (int i = 0; i < 7; i++)
		assert_ptr_equal(l.done[i + 1], &b.ops[i]);
	assert_int_equal(first.result, 0);
	assert_int_equal(b.ops[0].result, 0);
	assert_int_equal(b.ops[1].result, -1);
	assert_int_equal(b.ops[2].result, -1);
	assert_int_equal(b.ops[3].result, -1);
	assert_int_equal(b.ops[4].result, 0);
	assert_int_equal(b.ops[5].result, 0);
	assert_int_equal(b.ops[6].result, 0);
	assert_int_equal(b.t[0].uid_r, 1);
	assert_int_equal(b.t[4].uid_r, 2);
	loop_end(&l);
	for (int i = 0; i < 7; i++) {
		store_op_clear(&b.ops[i]);
		free(b.data[i]);
	}
	store_op_clear(&first);
	struct buf err = BUF_INIT;
	assert_int_equal(store_open_path(&f->st, f->path, &err), 0);
	buf_free(&err);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM message"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 2);
	assert_check_ok(f);
}

static void test_many_concurrent_appends_all_complete_with_distinct_uids(void **state)
{
	struct fx *f = *state;
	enum { N = 24 };
	struct store_op ops[N];
	struct store_append_target t[N];
	char *data[N];
	struct loop l;
	loop_start(&l, f);
	for (int i = 0; i < N; i++) {
		data[i] = message(i);
		append_init(&ops[i], &t[i], i % 2 ? f->inbox : f->archive, data[i]);
		loop_submit(&l, &ops[i]);
	}
	loop_run(&l);
	bool seen[N + 1] = {0};
	for (int i = 0; i < N; i += 2) {
		assert_int_equal(ops[i].result, 0);
		assert_true(t[i].uid_r >= 1 && t[i].uid_r <= N / 2);
		assert_false(seen[t[i].uid_r]);
		seen[t[i].uid_r] = true;
	}
	loop_end(&l);
	for (int i = 0; i < N; i++) {
		store_op_clear(&ops[i]);
		free(data[i]);
	}
	struct buf err = BUF_INIT;
	assert_int_equal(store_open_path(&f->st, f->path, &err), 0);
	buf_free(&err);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM message"), N);
	assert_check_ok(f);
}

/* ---- watchers ------------------------------------------------------------------------- */

static void watch_w1(int64_t mailbox_id, uint64_t modseq, void *arg)
{
	struct loop *l = arg;
	assert_true(pthread_equal(pthread_self(), l->thread));
	l->w1_calls++;
	l->w_mailbox = mailbox_id;
	l->w_modseq = modseq;
	l->w_seen_before_done = l->ndone;
}

static void watch_other(int64_t mailbox_id, uint64_t modseq, void *arg)
{
	struct loop *l = arg;
	l->other_calls++;
}

static void test_a_watcher_hears_of_a_committed_append_and_not_of_a_failed_one(void **state)
{
	struct fx *f = *state;
	struct loop l;
	loop_start(&l, f);
	l.w1 = store_watch_add(f->st, f->inbox, watch_w1, &l);
	struct store_watch *other = store_watch_add(f->st, f->archive, watch_other, &l);
	char *m = message(1);
	struct store_op op;
	struct store_append_target t;
	append_init(&op, &t, f->inbox, m);
	loop_submit(&l, &op);
	loop_run(&l);
	assert_int_equal(op.result, 0);
	assert_int_equal(l.w1_calls, 1);
	assert_int_equal(l.w_mailbox, f->inbox);
	assert_int_equal(l.w_modseq, t.modseq_r);
	assert_int_equal(l.w_seen_before_done, 0); /* told before the completion ran */
	assert_int_equal(l.other_calls, 0);
	store_op_clear(&op);

	/* A failed append (bad keyword) into the watched mailbox: silence. */
	append_init(&op, &t, f->inbox, m);
	t.keywords = (char *[]){"bad\"kw", NULL};
	loop_submit(&l, &op);
	loop_run(&l);
	assert_int_equal(op.error, STORE_ERR_INVALID);
	assert_int_equal(l.w1_calls, 1);
	store_op_clear(&op);

	/* A flag change is heard; one that changes nothing is not. */
	flags_init(&op, f->inbox, (const uint32_t[]){1}, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL);
	loop_submit(&l, &op);
	loop_run(&l);
	assert_int_equal(l.w1_calls, 2);
	assert_int_equal(l.w_modseq, op.u.flags.modseq_r);
	store_op_clear(&op);
	flags_init(&op, f->inbox, (const uint32_t[]){1}, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL);
	loop_submit(&l, &op);
	loop_run(&l);
	assert_int_equal(l.w1_calls, 2);
	store_op_clear(&op);

	/* A move is heard by both mailboxes' watchers. */
	copy_init(&op, f->inbox, f->archive, (const uint32_t[]){1}, 1, true);
	loop_submit(&l, &op);
	loop_run(&l);
	assert_int_equal(op.result, 0);
	assert_int_equal(l.w1_calls, 3);
	assert_int_equal(l.other_calls, 1);
	store_op_clear(&op);

	store_watch_remove(f->st, &l.w1);
	assert_null(l.w1);
	store_watch_remove(f->st, &other);
	store_watch_remove(f->st, &other); /* NULL: nothing */
	append_init(&op, &t, f->inbox, m);
	loop_submit(&l, &op);
	loop_run(&l);
	assert_int_equal(l.w1_calls, 3);
	store_op_clear(&op);
	loop_end(&l);
	free(m);
}

struct self_remover {
	struct loop *l;
	struct store_watch *w;
	int calls;
};

static void watch_remove_self(int64_t mailbox_id, uint64_t modseq, void *arg)
{
	struct self_remover *r = arg;
	r->calls++;
	store_watch_remove(r->l->f->st, &r->w);
	assert_null(r->w);
}

static void watch_w2(int64_t mailbox_id, uint64_t modseq, void *arg)
{
	struct loop *l = arg;
	l->w2_calls++;
}

static void test_a_watcher_may_remove_itself_in_its_callback(void **state)
{
	struct fx *f = *state;
	struct loop l;
	loop_start(&l, f);
	struct self_remover before = {.l = &l}, after = {.l = &l};
	/* Watchers on both sides of a plain one in the list. */
	before.w = store_watch_add(f->st, f->inbox, watch_remove_self, &before);
	l.w2 = store_watch_add(f->st, f->inbox, watch_w2, &l);
	after.w = store_watch_add(f->st, f->inbox, watch_remove_self, &after);
	char *m1 = message(1), *m2 = message(2);
	struct store_op op1, op2;
	struct store_append_target t1, t2;
	/* Two ops, likely in one batch: the second notification must not reach
	   the removed watchers. */
	append_init(&op1, &t1, f->inbox, m1);
	append_init(&op2, &t2, f->inbox, m2);
	loop_submit(&l, &op1);
	loop_submit(&l, &op2);
	loop_run(&l);
	assert_int_equal(before.calls, 1);
	assert_int_equal(after.calls, 1);
	assert_int_equal(l.w2_calls, 2);
	store_op_clear(&op1);
	store_op_clear(&op2);
	append_init(&op1, &t1, f->inbox, m1);
	loop_submit(&l, &op1);
	loop_run(&l);
	assert_int_equal(before.calls, 1);
	assert_int_equal(after.calls, 1);
	assert_int_equal(l.w2_calls, 3);
	store_op_clear(&op1);
	store_watch_remove(f->st, &l.w2);
	loop_end(&l);
	free(m1);
	free(m2);
}

/* ---- failures of the environment ------------------------------------------------------ */

static off_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : 0;
}

/* A disk that fills up, simulated with RLIMIT_FSIZE: a write past the limit
   fails with EFBIG, which SQLite reports as an I/O error, as it would ENOSPC. */
struct full_disk {
	struct rlimit old;
	void (*old_handler)(int);
};

static void disk_fill(struct fx *f, struct full_disk *d)
{
	char *wal = xasprintf("%s-wal", f->path);
	off_t biggest = file_size(f->path) > file_size(wal) ? file_size(f->path) : file_size(wal);
	free(wal);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &d->old), 0);
	d->old_handler = signal(SIGXFSZ, SIG_IGN);
	struct rlimit lim = d->old;
	lim.rlim_cur = (rlim_t)biggest + 64 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

static void disk_free(struct full_disk *d)
{
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &d->old), 0);
	signal(SIGXFSZ, d->old_handler);
}

static char *big_message(size_t len)
{
	char *big = xmalloc(len + 1);
	memset(big, 'x', len);
	memcpy(big, "Subject: big\r\n\r\n", 16);
	big[len] = '\0';
	return big;
}

static void test_a_full_disk_fails_the_write_as_temporary_and_writes_nothing(void **state)
{
	struct fx *f = *state;
	append_n(f, f->inbox, 1, 0);
	uint64_t hm = highestmodseq(f, "INBOX");
	/* 4 MiB overflows SQLite's page cache: the write fails while the op runs.
	   1 MiB fits: it is the COMMIT that fails. */
	const size_t sizes[] = {4u << 20, 1u << 20};
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char *big = big_message(sizes[i]);
		struct full_disk d;
		struct store_append_target t = {.mailbox_id = f->inbox};
		struct store_op op;
		store_op_init(&op, STORE_OP_APPEND);
		op.u.append.data = big;
		op.u.append.len = sizes[i];
		op.u.append.targets = &t;
		op.u.append.ntargets = 1;
		disk_fill(f, &d);
		int r = store_exec(f->st, &op);
		disk_free(&d);
		assert_int_equal(r, -1);
		assert_int_equal(op.error, STORE_ERR_TEMP);
		assert_true(op.err.len > 0);
		store_op_clear(&op);
		free(big);
	}

	/* Nothing of it is visible, and the store goes on working. */
	struct msg_list l;
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(highestmodseq(f, "INBOX"), hm);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 1);
	assert_int_equal(used_bytes(f, "a@example.test"), l.rows[0].size);
	assert_check_ok(f);
	char *big = big_message(1u << 20);
	assert_int_equal(append_to(f, f->inbox, big, 0, NULL).uid_r, 2);
	assert_int_equal(append_n(f, f->inbox, 3, 0), 3);
	store_close(&f->st);
	struct buf err = BUF_INIT;
	assert_int_equal(store_open_path(&f->st, f->path, &err), 0);
	buf_free(&err);
	list_messages(f, f->inbox, &l);
	assert_int_equal(l.n, 3);
	assert_check_ok(f);
	free(big);
}

static void test_a_failed_group_commit_fails_every_op_of_the_batch(void **state)
{
	struct fx *f = *state;
	char *small = message(1), *big = big_message(1u << 20), *first_data = message(0);
	struct store_op first, ops[2];
	struct store_append_target t0, t[2];
	append_init(&first, &t0, f->archive, first_data);
	append_init(&ops[0], &t[0], f->inbox, small);
	append_init(&ops[1], &t[1], f->inbox, big);
	struct loop l;
	loop_start(&l, f);
	/* Queue both ops behind a held write lock so that they share a commit. */
	sqlite3 *blocker;
	assert_int_equal(sqlite3_open(f->path, &blocker), SQLITE_OK);
	assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	loop_submit(&l, &first);
	usleep(100 * 1000);
	loop_submit(&l, &ops[0]);
	loop_submit(&l, &ops[1]);
	struct full_disk d;
	disk_fill(f, &d);
	assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(blocker);
	loop_run(&l);
	disk_free(&d);
	assert_int_equal(first.result, 0);
	assert_int_equal(ops[0].result, -1);
	assert_int_equal(ops[0].error, STORE_ERR_TEMP);
	assert_int_equal(ops[1].result, -1);
	assert_int_equal(ops[1].error, STORE_ERR_TEMP);
	loop_end(&l);
	store_op_clear(&first);
	store_op_clear(&ops[0]);
	store_op_clear(&ops[1]);
	struct buf err = BUF_INIT;
	assert_int_equal(store_open_path(&f->st, f->path, &err), 0);
	buf_free(&err);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM message"), 1);
	assert_int_equal(highestmodseq(f, "INBOX"), 1);
	assert_check_ok(f);
	free(small);
	free(big);
	free(first_data);
}

/* ---- store_check ------------------------------------------------------------------------ */

static void assert_check_finds(struct fx *f, const char *needle)
{
	struct buf report = BUF_INIT, err = BUF_INIT;
	assert_int_equal(store_check(f->st, &report, &err), 0);
	if (strcmp(buf_cstr(&report), "ok\n") == 0 || !strstr(buf_cstr(&report), needle))
		fail_msg("store_check said '%s', expected '%s'", buf_cstr(&report), needle);
	buf_free(&report);
	buf_free(&err);
}

/* A big message of len bytes whose body is made of c (distinct per message). */
static char *big_message_of(size_t len, char c)
{
	char *big = big_message(len);
	memset(big + 16, c, len - 16);
	return big;
}

static bool message_is(struct fx *f, int64_t mbox, uint32_t uid, const char *data)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	bool same = store_message_read(f->st, mbox, uid, &out, &err) == STORE_FOUND &&
	            out.len == strlen(data) && memcmp(out.data, data, out.len) == 0;
	buf_free(&out);
	buf_free(&err);
	return same;
}

/* The first op of a transaction runs without a savepoint: when it fails, after
   writing (an append whose chained append fails), the transaction is rolled
   back and begun again, and the ops after it are written as if it had not
   been there. */
static void test_a_batch_whose_first_op_fails_writes_the_others(void **state)
{
	struct fx *f = *state;
	char *d[4] = {message(10), message(11), message(12), message(13)};
	struct store_op ops[4], more;
	struct store_append_target t[4], tm;
	append_init(&ops[0], &t[0], f->inbox, d[0]);
	append_init(&more, &tm, 999999, d[0]);
	ops[0].u.append.more = &more;
	append_init(&ops[1], &t[1], f->inbox, d[1]);
	append_init(&ops[2], &t[2], 999999, d[2]);
	append_init(&ops[3], &t[3], f->inbox, d[3]);

	struct loop l;
	loop_start(&l, f);
	/* As above: held behind a first op, the four go into one batch. */
	sqlite3 *blocker;
	assert_int_equal(sqlite3_open(f->path, &blocker), SQLITE_OK);
	assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	struct store_op first;
	store_op_init(&first, STORE_OP_DOMAIN_ADD);
	first.u.domain.name = "blocker.test";
	loop_submit(&l, &first);
	usleep(100 * 1000);
	for (int i = 0; i < 4; i++)
		loop_submit(&l, &ops[i]);
	usleep(50 * 1000);
	assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(blocker);
	loop_run(&l);
	assert_int_equal(l.ndone, 5);
	assert_int_equal(first.result, 0);
	assert_int_equal(ops[0].error, STORE_ERR_NOTFOUND);
	assert_int_equal(ops[1].result, 0);
	assert_int_equal(ops[2].error, STORE_ERR_NOTFOUND);
	assert_int_equal(ops[3].result, 0);
	loop_end(&l);
	struct buf err = BUF_INIT;
	assert_int_equal(store_open_path(&f->st, f->path, &err), 0);
	buf_free(&err);
	struct msg_list ml;
	list_messages(f, f->inbox, &ml);
	assert_int_equal(ml.n, 2);
	assert_true(message_is(f, f->inbox, t[1].uid_r, d[1]));
	assert_true(message_is(f, f->inbox, t[3].uid_r, d[3]));
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 2);
	assert_check_ok(f);
	for (int i = 0; i < 4; i++) {
		store_op_clear(&ops[i]);
		free(d[i]);
	}
	store_op_clear(&more);
}

/*
 * Each op of a batch but the first runs in a savepoint, whose statement
 * journal keeps the pages that earlier ops of the transaction changed and
 * this one changes again. The store keeps that journal in memory (temp_store=MEMORY); here it
 * holds megabytes: big messages appended, copied and expunged (their last
 * reference: the blob's pages are freed) in one transaction, and a big
 * chained append rolled back to its savepoint between them.
 */
static void test_big_messages_copied_expunged_and_rolled_back_in_one_batch(void **state)
{
	struct fx *f = *state;
	const size_t size = 6u << 20;
	char *a = big_message_of(size, 'a'), *b = big_message_of(size, 'b'),
	     *c = big_message_of(size, 'c'), *small = message(1);
	assert_int_equal(append_to(f, f->inbox, a, 0, NULL).uid_r, 1);

	struct store_op first, ops[6], more;
	struct store_append_target t0, t[6], tm;
	append_init(&first, &t0, f->archive, small);
	append_init(&ops[0], &t[0], f->inbox, b); /* INBOX 2 */
	static const uint32_t both[] = {1, 2};
	copy_init(&ops[1], f->inbox, f->archive, both, 2, false); /* Archive 2, 3 */
	store_op_init(&ops[2], STORE_OP_EXPUNGE);
	ops[2].u.expunge.mailbox_id = f->inbox;
	ops[2].u.expunge.uids = both;
	ops[2].u.expunge.nuids = 2;
	/* b's last reference: its blob goes in the transaction that wrote it */
	store_op_init(&ops[3], STORE_OP_EXPUNGE);
	ops[3].u.expunge.mailbox_id = f->archive;
	ops[3].u.expunge.uids = (const uint32_t[]){3};
	ops[3].u.expunge.nuids = 1;
	/* c is written, then its chained append fails: all of it is undone */
	append_init(&ops[4], &t[4], f->inbox, c);
	append_init(&more, &tm, 999999, small);
	ops[4].u.append.more = &more;
	append_init(&ops[5], &t[5], f->inbox, small);

	struct loop l;
	loop_start(&l, f);
	sqlite3 *blocker;
	assert_int_equal(sqlite3_open(f->path, &blocker), SQLITE_OK);
	assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	loop_submit(&l, &first);
	usleep(100 * 1000);
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		loop_submit(&l, &ops[i]);
	usleep(50 * 1000);
	assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(blocker);
	loop_run(&l);
	assert_int_equal(l.ndone, 7);
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (i != 4 && ops[i].result != 0)
			fail_msg("op %zu failed: %s", i, buf_cstr(&ops[i].err));
	assert_int_equal(ops[4].result, -1);
	assert_int_equal(ops[4].error, STORE_ERR_NOTFOUND);
	assert_int_equal(t[0].uid_r, 2);
	assert_int_equal(ops[1].u.copy.ncopied_r, 2);
	assert_int_equal(ops[2].u.expunge.nexpunged_r, 2);
	assert_int_equal(ops[3].u.expunge.nexpunged_r, 1);
	assert_int_equal(t[5].uid_r, 3);
	loop_end(&l);

	struct buf err = BUF_INIT;
	assert_int_equal(store_open_path(&f->st, f->path, &err), 0);
	buf_free(&err);
	struct msg_list ml;
	list_messages(f, f->inbox, &ml);
	assert_int_equal(ml.n, 1);
	assert_int_equal(ml.rows[0].uid, 3);
	assert_true(message_is(f, f->inbox, 3, small));
	list_messages(f, f->archive, &ml);
	assert_int_equal(ml.n, 2);
	assert_true(message_is(f, f->archive, 1, small));
	assert_true(message_is(f, f->archive, 2, a));
	/* a (in Archive) and the small message: b and c are gone */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob WHERE size > 1000000"), 1);
	assert_int_equal(used_bytes(f, "a@example.test"), size + 2 * strlen(small));
	assert_check_ok(f);
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		store_op_clear(&ops[i]);
	store_op_clear(&first);
	store_op_clear(&more);
	free(a);
	free(b);
	free(c);
	free(small);
}

static void test_store_check_detects_a_corrupted_refcount(void **state)
{
	struct fx *f = *state;
	char *m = message(1);
	append_to(f, f->inbox, m, 0, NULL);
	append_to(f, f->archive, m, 0, NULL);
	assert_check_ok(f);
	sql_write(f, "UPDATE blob_ref SET refcount = 1");
	assert_check_finds(f, "refcount 1 but 2 references");
	sql_write(f, "UPDATE blob_ref SET refcount = 2");
	assert_check_ok(f);
	free(m);
}

/* Schema 12 moves the counts of references out of the blob rows. */
static void test_schema_12_counts_references_in_their_own_table(void **state)
{
	struct fx *f = *state;
	char *m = message(1), *other = message(2);
	append_to(f, f->inbox, m, 0, NULL);
	append_to(f, f->archive, m, 0, NULL);
	append_to(f, f->inbox, other, 0, NULL);
	store_close(&f->st);
	sql_write(f, SCHEMA_UNDO_12 "PRAGMA user_version = 11;");
	assert_int_equal(sql_int(f, "SELECT sum(refcount) FROM blob"), 3);
	struct buf err = BUF_INIT;
	if (store_open_path(&f->st, f->path, &err) < 0)
		fail_msg("reopen: %s", buf_cstr(&err));
	buf_free(&err);
	assert_int_equal(sql_int(f, "PRAGMA user_version"), store_schema_version());
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob_ref"), 2);
	assert_int_equal(sql_int(f, "SELECT max(refcount) FROM blob_ref"), 2);
	assert_check_ok(f);
	/* The counts go on from there: the last reference takes the blob. */
	struct store_op op;
	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = f->inbox;
	op.u.expunge.uids = (const uint32_t[]){1, 2};
	op.u.expunge.nuids = 2;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 1);
	assert_int_equal(sql_int(f, "SELECT refcount FROM blob_ref"), 1);
	assert_check_ok(f);
	free(m);
	free(other);
}

static void test_store_check_detects_a_blob_without_a_count(void **state)
{
	struct fx *f = *state;
	char *m = message(1);
	append_to(f, f->inbox, m, 0, NULL);
	assert_check_ok(f);
	sql_write(f, "DELETE FROM blob_ref");
	assert_check_finds(f, "refcount missing but 1 references");
	free(m);
}

static void test_store_check_detects_broken_counters_and_uids(void **state)
{
	struct fx *f = *state;
	append_n(f, f->inbox, 1, 0);
	append_n(f, f->inbox, 2, 0);
	sql_write(f, "UPDATE mailbox SET messages = 7 WHERE name = 'INBOX'");
	assert_check_finds(f, "counters differ");
	sql_write(f, "UPDATE mailbox SET messages = 2, uidnext = 2 WHERE name = 'INBOX'");
	assert_check_finds(f, "uidnext");
	sql_write(f, "UPDATE mailbox SET uidnext = 3 WHERE name = 'INBOX'");
	assert_check_ok(f);
	sql_write(f, "UPDATE account SET used_bytes = used_bytes + 1");
	assert_check_finds(f, "used_bytes");
	sql_write(f, "UPDATE account SET used_bytes = used_bytes - 1");
	sql_write(f, "UPDATE mailbox SET highestmodseq = 1 WHERE name = 'INBOX'");
	assert_check_finds(f, "highestmodseq");
}

/* ---- main ---------------------------------------------------------------------------- */

#define T(name) cmocka_unit_test_setup_teardown(name, open_store, close_store)
#define TA(name) cmocka_unit_test_setup_teardown(name, open_store_with_account, close_store)

int main(void)
{
	evthread_use_pthreads();
	const struct CMUnitTest tests[] = {
	        T(test_a_new_store_has_the_current_schema_version),
	        T(test_reopening_a_store_keeps_its_data),
	        T(test_a_store_with_a_newer_schema_is_refused),
	        T(test_every_foreign_key_has_an_index),
	        T(test_domains_are_added_listed_and_removed),
	        T(test_adding_a_domain_twice_fails_with_exists),
	        T(test_bad_domain_names_are_invalid),
	        T(test_a_domain_with_accounts_cannot_be_removed),
	        T(test_a_new_account_gets_the_default_mailboxes_with_special_use),
	        T(test_an_account_in_an_unknown_domain_is_not_found),
	        TA(test_password_and_quota_can_be_changed),
	        TA(test_removing_an_account_drops_its_mail_and_blobs),
	        TA(test_an_alias_delivers_to_each_of_its_targets),
	        TA(test_alias_add_and_remove_check_their_arguments),
	        TA(test_a_catch_all_takes_every_unknown_local_part),
	        TA(test_nested_aliases_are_followed),
	        TA(test_alias_nesting_stops_at_the_depth_limit),
	        TA(test_alias_loops_end_without_hanging),
	        TA(test_an_alias_naming_itself_keeps_a_copy),
	        TA(test_foreign_alias_targets_are_returned_apart),
	        TA(test_sub_addressing_finds_the_account_and_its_tag),
	        TA(test_every_mailbox_gets_its_own_uidvalidity_even_in_one_second),
	        TA(test_creating_a_mailbox_creates_its_parents),
	        cmocka_unit_test(test_mailbox_name_check_edges),
	        cmocka_unit_test(test_address_normalize_edges),
	        TA(test_append_gives_increasing_uids_and_modseqs),
	        TA(test_reads_between_read_begin_and_end_see_one_snapshot),
	        TA(test_message_meta_reads_modseq_date_and_size_of_a_range),
	        TA(test_an_append_keeps_its_flags_keywords_and_internaldate),
	        TA(test_an_append_to_several_mailboxes_shares_one_blob),
	        TA(test_the_same_bytes_appended_twice_are_stored_once),
	        TA(test_a_failed_append_writes_nothing),
	        TA(test_an_append_over_quota_fails_and_writes_nothing),
	        TA(test_subscriptions_are_names_that_outlive_their_mailbox),
	        TA(test_a_rename_takes_the_subscriptions_of_the_mailbox_and_its_children),
	        T(test_schema_9_turns_the_subscribed_marks_into_names),
	        TA(test_chained_appends_commit_together_or_not_at_all),
	        TA(test_flags_set_add_and_remove_change_flags_and_keywords),
	        TA(test_a_flags_change_that_changes_nothing_keeps_the_modseq),
	        TA(test_unchangedsince_lists_the_messages_modified_since),
	        TA(test_an_op_run_again_reports_only_its_new_results),
	        TA(test_expunging_deleted_messages_leaves_tombstones),
	        TA(test_expunging_by_uid_ignores_the_deleted_flag_and_missing_uids),
	        TA(test_a_read_pair_holds_mailbox_counts_and_bytes_still),
	        TA(test_copy_gives_new_uids_and_shares_the_blob),
	        TA(test_move_expunges_the_sources_in_the_same_step),
	        TA(test_copy_and_move_into_another_account_respect_its_quota),
	        TA(test_a_failing_op_in_a_batch_does_not_fail_its_neighbours),
	        TA(test_many_concurrent_appends_all_complete_with_distinct_uids),
	        TA(test_a_watcher_hears_of_a_committed_append_and_not_of_a_failed_one),
	        TA(test_a_watcher_may_remove_itself_in_its_callback),
	        TA(test_a_full_disk_fails_the_write_as_temporary_and_writes_nothing),
	        TA(test_a_failed_group_commit_fails_every_op_of_the_batch),
	        TA(test_big_messages_copied_expunged_and_rolled_back_in_one_batch),
	        TA(test_a_batch_whose_first_op_fails_writes_the_others),
	        TA(test_store_check_detects_a_corrupted_refcount),
	        TA(test_schema_12_counts_references_in_their_own_table),
	        TA(test_store_check_detects_a_blob_without_a_count),
	        TA(test_store_check_detects_broken_counters_and_uids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
