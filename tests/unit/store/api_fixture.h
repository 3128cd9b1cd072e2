/*
 * api_fixture.h — the store fixture of the HTTP API's store tests
 * (test_store_sqlite_api.c, test_store_sqlite_webhook.c): a fresh store in a
 * temporary folder with a local domain, one account and one API key, checked
 * with store_check() at the end; count() runs one SQL count; send() makes
 * one API send (local INBOX, and a remote queue recipient when asked).
 * Included by the test files, after cmocka and store.h.
 */
#ifndef PETREL_TESTS_API_FIXTURE_H
#define PETREL_TESTS_API_FIXTURE_H

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
	char dir[64];
	char *path;
	struct store *st;
	int64_t inbox;
	int64_t key;
};

static unsigned char key_hash[32] = {1, 2, 3};

static void exec_ok(struct store *st, struct store_op *op)
{
	if (store_exec(st, op) != 0)
		fail_msg("op %d failed: %s", (int)op->kind, buf_cstr(&op->err));
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/petrel-store-api-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->path = xasprintf("%s/petrel.db", f->dir);
	struct buf err = BUF_INIT;
	if (store_open_path(&f->st, f->path, &err) != 0)
		fail_msg("%s", buf_cstr(&err));
	struct store_op op;
	store_op_init(&op, STORE_OP_DOMAIN_ADD);
	op.u.domain.name = "example.test";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	store_op_init(&op, STORE_OP_ACCOUNT_ADD);
	op.u.account.address = "a@example.test";
	exec_ok(f->st, &op);
	int64_t acct = op.u.account.id_r;
	store_op_clear(&op);
	struct store_mailbox m = {0};
	assert_int_equal(store_mailbox_get(f->st, acct, "INBOX", &m, &err), STORE_FOUND);
	f->inbox = m.id;
	store_mailbox_clear(&m);
	store_op_init(&op, STORE_OP_APIKEY_ADD);
	op.u.apikey.name = "app";
	op.u.apikey.hash = key_hash;
	op.u.apikey.domains = "example.test";
	op.u.apikey.rate = 2.5;
	exec_ok(f->st, &op);
	f->key = op.u.apikey.id_r;
	store_op_clear(&op);
	buf_free(&err);
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct buf report = BUF_INIT, err = BUF_INIT;
	assert_int_equal(store_check(f->st, &report, &err), 0);
	assert_string_equal(buf_cstr(&report), "ok\n");
	buf_free(&report);
	buf_free(&err);
	store_close(&f->st);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f->path);
	free(f);
	return 0;
}

static int64_t count(struct fx *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* An API send: to the local INBOX and, when remote, to one queue recipient. */
static int send(struct fx *f, const char *public_id, const char *idem, bool remote,
                struct store_op *op)
{
	static const char msg[] = "From: a@example.test\r\nSubject: x\r\n\r\nbody\r\n";
	static const char *const delivered[] = {"a@example.test"};
	static const unsigned char h[32] = {9};
	static struct store_queue_rcpt q = {"z@remote.example", NULL, NULL};
	static struct store_append_target t;
	static struct store_api_send api;
	t = (struct store_append_target){.mailbox_id = f->inbox};
	api = (struct store_api_send){
	        .api_key_id = f->key,
	        .public_id = public_id,
	        .message_id = "<m@example.test>",
	        .subject = "x",
	        .tags = "[\"t\"]",
	        .delivered = delivered,
	        .ndelivered = 1,
	        .idem_key = idem,
	        .idem_hash = h,
	        .idem_response = "{\"id\":\"first\"}",
	};
	store_op_init(op, STORE_OP_APPEND);
	op->u.append.data = msg;
	op->u.append.len = sizeof msg - 1;
	op->u.append.targets = &t;
	op->u.append.ntargets = 1;
	op->u.append.queue = &q;
	op->u.append.nqueue = remote ? 1 : 0;
	op->u.append.env_from = "a@example.test";
	op->u.append.source = "api";
	op->u.append.api = &api;
	return store_exec(f->st, op);
}

#endif
