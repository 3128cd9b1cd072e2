/*
 * account_fixture.h — the fixture of the store tests that work in one account
 * (test_store_read.c, test_store_search.c, test_store_queue.c): a fresh store
 * in a temporary folder with a local domain and the account a@example.test,
 * whose INBOX and Archive ids are in the fixture; exec_ok() runs an op that
 * must succeed; sql_int() and sql_write() look at the SQLite file directly.
 * Included by the test files, after cmocka and the store's header.
 */
#ifndef PETREL_TESTS_ACCOUNT_FIXTURE_H
#define PETREL_TESTS_ACCOUNT_FIXTURE_H

#include <ftw.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct fx {
	char dir[64];
	char *path;
	struct store *st;
	int64_t acct, inbox, archive;
};

static void exec_ok(struct store *st, struct store_op *op)
{
	if (store_exec(st, op) != 0)
		fail_msg("op %d failed: %s", (int)op->kind, buf_cstr(&op->err));
}

static int64_t mailbox_id(struct store *st, int64_t acct, const char *name)
{
	struct store_mailbox m = {0};
	struct buf err = BUF_INIT;
	if (store_mailbox_get(st, acct, name, &m, &err) != STORE_FOUND)
		fail_msg("no mailbox %s %s", name, buf_cstr(&err));
	int64_t id = m.id;
	store_mailbox_clear(&m);
	buf_free(&err);
	return id;
}

static int setup(void **state)
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
	struct store_op op;
	store_op_init(&op, STORE_OP_DOMAIN_ADD);
	op.u.domain.name = "example.test";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	store_op_init(&op, STORE_OP_ACCOUNT_ADD);
	op.u.account.address = "a@example.test";
	exec_ok(f->st, &op);
	f->acct = op.u.account.id_r;
	store_op_clear(&op);
	f->inbox = mailbox_id(f->st, f->acct, "INBOX");
	f->archive = mailbox_id(f->st, f->acct, "Archive");
	*state = f;
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(&f->st);
	nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f->path);
	free(f);
	return 0;
}

/* The first column of the first row of sql, read from the file by a
   connection of its own. */
static inline int64_t sql_int(struct fx *f, const char *sql)
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

/* Runs sql on the file by a connection of its own. */
static inline void sql_write(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	char *e = NULL;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK)
		fail_msg("%s: %s", sql, e);
	sqlite3_close(db);
}

#endif
