/*
 * Unit tests for src/store/store_sqlite_api.c through store.h: API keys, an API
 * send committed with its receipts and records in one op, the idempotency record
 * that makes a duplicate send fail whole, queue ids that are never given twice,
 * and the per-key event feed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#include "api_fixture.h"

/* ---- keys --------------------------------------------------------------------------- */

static void test_keys_are_found_by_hash_and_revoked_by_name(void **state)
{
	struct fx *f = *state;
	struct store_apikey k = {0};
	struct buf err = BUF_INIT;
	assert_int_equal(store_apikey_find(f->st, key_hash, &k, &err), STORE_FOUND);
	assert_string_equal(k.name, "app");
	assert_string_equal(k.domains, "example.test");
	assert_string_equal(k.pool, "");
	assert_true(k.rate == 2.5);
	assert_int_equal(k.revoked, 0);
	store_apikey_clear(&k);
	unsigned char other[32] = {0};
	assert_int_equal(store_apikey_find(f->st, other, &k, &err), STORE_NOT_FOUND);

	struct store_op op;
	store_op_init(&op, STORE_OP_APIKEY_ADD);
	op.u.apikey.name = "app";
	op.u.apikey.hash = other;
	assert_int_equal(store_exec(f->st, &op), -1);
	assert_int_equal(op.error, STORE_ERR_EXISTS);
	store_op_clear(&op);
	store_op_init(&op, STORE_OP_APIKEY_ADD);
	op.u.apikey.name = "no spaces";
	op.u.apikey.hash = other;
	assert_int_equal(store_exec(f->st, &op), -1);
	assert_int_equal(op.error, STORE_ERR_INVALID);
	store_op_clear(&op);

	store_op_init(&op, STORE_OP_APIKEY_REVOKE);
	op.u.apikey.name = "app";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(store_apikey_find(f->st, key_hash, &k, &err), STORE_FOUND);
	assert_true(k.revoked > 0);
	store_apikey_clear(&k);
	store_op_init(&op, STORE_OP_APIKEY_REVOKE);
	op.u.apikey.name = "app";
	assert_int_equal(store_exec(f->st, &op), -1);
	assert_int_equal(op.error, STORE_ERR_NOTFOUND);
	store_op_clear(&op);
	buf_free(&err);
}

/* ---- sends ---------------------------------------------------------------------------- */

static void test_a_send_records_its_message_receipts_and_idempotency(void **state)
{
	struct fx *f = *state;
	struct store_op op;
	assert_int_equal(send(f, "first", "k1", true, &op), 0);
	int64_t qid = op.u.append.queue_id_r;
	store_op_clear(&op);
	assert_true(qid > 0);
	assert_int_equal(count(f, "SELECT count(*) FROM queue_message WHERE api_key_id IS NOT NULL "
	                          "AND tags = '[\"t\"]'"),
	                 1);
	struct store_api_message m = {0};
	struct buf err = BUF_INIT, resp = BUF_INIT;
	assert_int_equal(store_api_message_get(f->st, f->key, "first", &m, &err), STORE_FOUND);
	assert_int_equal(m.queue_id, qid);
	assert_string_equal(m.message_id, "<m@example.test>");
	assert_string_equal(m.env_from, "a@example.test");
	store_api_message_clear(&m);
	assert_int_equal(store_api_message_get(f->st, f->key + 1, "first", &m, &err),
	                 STORE_NOT_FOUND);
	unsigned char h[32];
	assert_int_equal(store_idempotency_get(f->st, f->key, "k1", h, &resp, &err), STORE_FOUND);
	assert_int_equal(h[0], 9);
	assert_string_equal(buf_cstr(&resp), "{\"id\":\"first\"}");
	/* receipts: remote queued; local queued then delivered */
	assert_int_equal(count(f, "SELECT count(*) FROM event"), 3);
	assert_int_equal(count(f, "SELECT count(*) FROM event WHERE rcpt = 'a@example.test' "
	                          "AND kind = 'delivered'"),
	                 1);
	buf_free(&err);
	buf_free(&resp);
}

static void test_a_duplicate_idempotency_key_fails_the_whole_send(void **state)
{
	struct fx *f = *state;
	struct store_op op;
	assert_int_equal(send(f, "first", "same", false, &op), 0);
	store_op_clear(&op);
	int64_t messages = count(f, "SELECT count(*) FROM message");
	int64_t events = count(f, "SELECT count(*) FROM event");
	int64_t refs = count(f, "SELECT sum(refcount) FROM blob_ref");
	assert_int_equal(send(f, "second", "same", true, &op), -1);
	assert_int_equal(op.error, STORE_ERR_EXISTS);
	store_op_clear(&op);
	/* nothing of the second send is left: not its copy, its queue entry, its receipts */
	assert_int_equal(count(f, "SELECT count(*) FROM message"), messages);
	assert_int_equal(count(f, "SELECT count(*) FROM event"), events);
	assert_int_equal(count(f, "SELECT sum(refcount) FROM blob_ref"), refs);
	assert_int_equal(count(f, "SELECT count(*) FROM queue_message"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM api_message"), 1);
	/* another idempotency key goes through */
	assert_int_equal(send(f, "third", "other", false, &op), 0);
	store_op_clear(&op);
}

static void test_queue_ids_are_never_given_twice(void **state)
{
	struct fx *f = *state;
	struct store_op op;
	assert_int_equal(send(f, "m1", NULL, false, &op), 0); /* local only: no queue entry */
	int64_t q1 = op.u.append.queue_id_r;
	store_op_clear(&op);
	assert_int_equal(send(f, "m2", NULL, true, &op), 0);
	int64_t q2 = op.u.append.queue_id_r;
	store_op_clear(&op);
	assert_true(q2 > q1);
	/* the queue entry goes, as when its last recipient is final */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	        sqlite3_exec(db,
	                     "PRAGMA foreign_keys = ON; UPDATE blob_ref SET refcount = refcount - 1 "
	                     "WHERE blob_id = (SELECT blob_id FROM queue_message);"
	                     "DELETE FROM queue_message;",
	                     NULL, NULL, NULL),
	        SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(send(f, "m3", NULL, true, &op), 0);
	int64_t q3 = op.u.append.queue_id_r;
	store_op_clear(&op);
	assert_true(q3 > q2);
}

/* ---- the event feed ------------------------------------------------------------------- */

struct feed {
	int64_t ids[64];
	size_t n;
};

static void collect(const struct store_api_event *e, void *arg)
{
	struct feed *fd = arg;
	assert_true(fd->n < 64);
	assert_non_null(e->public_id);
	fd->ids[fd->n++] = e->e.id;
}

static void test_the_event_feed_pages_in_order_by_key(void **state)
{
	struct fx *f = *state;
	struct store_op op;
	for (int i = 0; i < 4; i++) {
		char id[8];
		snprintf(id, sizeof id, "m%d", i);
		assert_int_equal(send(f, id, NULL, i % 2 == 0, &op), 0);
		store_op_clear(&op);
	}
	/* 2 local sends (2 events) and 2 with a remote recipient (3 events) */
	struct feed all = {0}, page = {0};
	struct buf err = BUF_INIT;
	assert_int_equal(
	        store_api_events(f->st, f->key, 0, 100, NULL, NULL, NULL, collect, &all, &err), 0);
	assert_int_equal(all.n, 10);
	int64_t after = 0;
	size_t seen = 0;
	do {
		page.n = 0;
		assert_int_equal(store_api_events(f->st, f->key, after, 3, NULL, NULL, NULL,
		                                  collect, &page, &err),
		                 0);
		for (size_t i = 0; i < page.n; i++) {
			assert_int_equal(page.ids[i], all.ids[seen++]);
			after = page.ids[i];
		}
	} while (page.n > 0);
	assert_int_equal(seen, all.n);
	page.n = 0;
	assert_int_equal(store_api_events(f->st, f->key, 0, 100, "delivered", "A@EXAMPLE.TEST", "t",
	                                  collect, &page, &err),
	                 0);
	assert_int_equal(page.n, 4);
	page.n = 0;
	assert_int_equal(
	        store_api_events(f->st, f->key, 0, 100, NULL, NULL, "nope", collect, &page, &err),
	        0);
	assert_int_equal(page.n, 0);
	assert_int_equal(
	        store_api_events(f->st, f->key + 1, 0, 100, NULL, NULL, NULL, collect, &page, &err),
	        0);
	assert_int_equal(page.n, 0);
	buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_keys_are_found_by_hash_and_revoked_by_name,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_a_send_records_its_message_receipts_and_idempotency, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_a_duplicate_idempotency_key_fails_the_whole_send, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_queue_ids_are_never_given_twice, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_the_event_feed_pages_in_order_by_key, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
