/*
 * Unit tests for the outbound queue of src/store/ (store.h, "the outbound
 * queue"): claims and their leases, outcomes with their delivery events,
 * finishing a message (blob references, store_check), a bounce appended in the
 * same transaction, flush / hold / release / remove / recover, the reads behind
 * `petrel queue` and `petrel receipts`, and the runner's notification.
 *
 * Every test runs on a fresh store (domain example.test, account
 * a@example.test) in its own mkdtemp folder, removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

#include "account_fixture.h"

static void sql_exec(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
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

/* Queues a message from `from` to the NULL-terminated rcpts; its queue id. */
static int64_t enqueue(struct fx *f, const char *from, const char *const *rcpts, const char *body)
{
	struct store_queue_rcpt q[8] = {{0}};
	size_t n = 0;
	for (; rcpts[n]; n++)
		q[n] = (struct store_queue_rcpt){rcpts[n], n == 0 ? "SUCCESS,FAILURE" : NULL,
		                                 n == 0 ? "rfc822;orig@remote.example" : NULL};
	struct store_op op;
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = body;
	op.u.append.len = strlen(body);
	op.u.append.queue = q;
	op.u.append.nqueue = n;
	op.u.append.env_from = from;
	op.u.append.dsn_ret = "HDRS";
	op.u.append.dsn_envid = "env-1";
	op.u.append.source = "submission";
	op.u.append.account_id = f->acct;
	exec_ok(f->st, &op);
	int64_t id = op.u.append.queue_id_r;
	store_op_clear(&op);
	return id;
}

static void claim(struct fx *f, int64_t now, size_t max, struct store_op *op)
{
	store_op_init(op, STORE_OP_QUEUE_CLAIM);
	op->u.claim.now = now;
	op->u.claim.lease = 3600;
	op->u.claim.max = max;
	exec_ok(f->st, op);
}

static size_t claim_count(struct fx *f, int64_t now)
{
	struct store_op op;
	claim(f, now, 100, &op);
	size_t n = op.u.claim.nitems_r;
	store_op_clear(&op);
	return n;
}

static int outcome(struct fx *f, const struct store_queue_result *r, size_t n,
                   struct store_op *also, size_t *finished_r)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_QUEUE_OUTCOME);
	op.u.outcome.results = r;
	op.u.outcome.nresults = n;
	op.u.outcome.also = also;
	int rc = store_exec(f->st, &op);
	if (finished_r)
		*finished_r = op.u.outcome.finished_r;
	store_op_clear(&op);
	return rc;
}

static size_t admin(struct fx *f, enum store_queue_action a, int64_t qid, enum store_error *e)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_QUEUE_ADMIN);
	op.u.queue.action = a;
	op.u.queue.queue_id = qid;
	store_exec(f->st, &op);
	size_t n = op.u.queue.count_r;
	if (e)
		*e = op.error;
	else if (op.result != 0)
		fail_msg("queue admin %d: %s", (int)a, buf_cstr(&op.err));
	store_op_clear(&op);
	return n;
}

static const char *const TWO[] = {"x@remote.example", "y@other.example", NULL};
static const char *const ONE[] = {"z@remote.example", NULL};
#define BODY "Return-Path: <a@example.test>\r\nSubject: hi\r\n\r\nbody\r\n"

/* ---- claims ------------------------------------------------------------------------ */

static void test_a_claim_takes_due_recipients_with_their_envelope(void **state)
{
	struct fx *f = *state;
	int64_t q1 = enqueue(f, "a@example.test", TWO, BODY);
	int64_t q2 = enqueue(f, "", ONE, BODY "2");
	struct store_op op;
	claim(f, 0, 100, &op);
	assert_int_equal(op.u.claim.nitems_r, 3);
	const struct store_queue_item *it = op.u.claim.items_r;
	assert_int_equal(it[0].queue_id, q1);
	assert_int_equal(it[1].queue_id, q1);
	assert_int_equal(it[2].queue_id, q2);
	assert_true(it[0].rcpt_id < it[1].rcpt_id);
	assert_string_equal(it[0].rcpt, "x@remote.example");
	assert_string_equal(it[0].dsn_notify, "SUCCESS,FAILURE");
	assert_string_equal(it[0].dsn_orcpt, "rfc822;orig@remote.example");
	assert_null(it[1].dsn_notify);
	assert_string_equal(it[0].env_from, "a@example.test");
	assert_string_equal(it[1].env_from, "a@example.test");
	assert_string_equal(it[0].dsn_ret, "HDRS");
	assert_string_equal(it[0].dsn_envid, "env-1");
	assert_string_equal(it[0].source, "submission");
	assert_int_equal(it[0].account_id, f->acct);
	assert_int_equal(it[0].size, strlen(BODY));
	assert_int_equal(it[0].attempts, 0);
	assert_true(it[0].created > 0);
	assert_string_equal(it[2].env_from, "");
	assert_int_equal(it[0].blob_id, it[1].blob_id);
	struct buf blob = BUF_INIT, err = BUF_INIT;
	assert_int_equal(store_blob_read(f->st, it[2].blob_id, &blob, &err), 0);
	assert_string_equal(buf_cstr(&blob), BODY "2");
	buf_free(&blob);
	buf_free(&err);
	store_op_clear(&op);
}

static void test_a_claimed_recipient_is_not_claimed_again_until_its_lease_ends(void **state)
{
	struct fx *f = *state;
	enqueue(f, "a@example.test", TWO, BODY);
	int64_t now = (int64_t)time(NULL);
	assert_int_equal(claim_count(f, now), 2);
	assert_int_equal(claim_count(f, now), 0);
	assert_int_equal(claim_count(f, now + 3599), 0);
	assert_int_equal(claim_count(f, now + 3600), 2); /* a crashed node's claim */
}

static void test_a_claim_takes_at_most_max(void **state)
{
	struct fx *f = *state;
	enqueue(f, "a@example.test", TWO, BODY);
	enqueue(f, "a@example.test", ONE, BODY "x");
	struct store_op op;
	claim(f, 0, 2, &op);
	assert_int_equal(op.u.claim.nitems_r, 2);
	store_op_clear(&op);
	assert_int_equal(claim_count(f, 0), 1);
}

static void test_recover_drops_every_lease(void **state)
{
	struct fx *f = *state;
	enqueue(f, "a@example.test", TWO, BODY);
	assert_int_equal(claim_count(f, 0), 2);
	assert_int_equal(admin(f, STORE_QUEUE_RECOVER, 0, NULL), 2);
	assert_int_equal(claim_count(f, 0), 2);
}

/* ---- outcomes ----------------------------------------------------------------------- */

static void test_a_deferral_records_the_reply_and_the_retry_time(void **state)
{
	struct fx *f = *state;
	int64_t qid = enqueue(f, "a@example.test", ONE, BODY);
	struct store_op op;
	claim(f, 0, 10, &op);
	int64_t now = (int64_t)time(NULL);
	struct store_queue_result r = {.rcpt_id = op.u.claim.items_r[0].rcpt_id,
	                               .state = "deferred",
	                               .kind = "deferred",
	                               .next_attempt = now + 60,
	                               .attempted = true,
	                               .reply = "451 4.3.0 later",
	                               .mx = "mx.remote.example",
	                               .remote_ip = "192.0.2.1",
	                               .source_ip = "192.0.2.9",
	                               .tls = "TLSv1.3 TLS_AES_256_GCM_SHA384"};
	store_op_clear(&op);
	size_t finished = 9;
	assert_int_equal(outcome(f, &r, 1, NULL, &finished), 0);
	assert_int_equal(finished, 0);
	assert_int_equal(sql_int(f, "SELECT attempts FROM queue_rcpt"), 1);
	assert_int_equal(sql_int(f, "SELECT lease FROM queue_rcpt"), 0);
	assert_int_equal(sql_int(f, "SELECT next_attempt FROM queue_rcpt"), now + 60);
	assert_int_equal(
	        sql_int(f, "SELECT count(*) FROM queue_rcpt WHERE state = 'deferred' "
	                   "AND last_reply = '451 4.3.0 later' AND route = 'mx.remote.example' "
	                   "AND source_ip = '192.0.2.9'"),
	        1);
	assert_int_equal(sql_int(f,
	                         "SELECT count(*) FROM event WHERE kind = 'deferred' AND "
	                         "attempt = 1 AND mx = 'mx.remote.example' AND "
	                         "remote_ip = '192.0.2.1' AND tls LIKE 'TLSv1.3%' AND reply LIKE "
	                         "'451%'"),
	                 1);
	assert_int_equal(sql_int(f, "SELECT next_attempt FROM event WHERE kind = 'deferred'"),
	                 now + 60);
	/* not due before its time, due after */
	assert_int_equal(claim_count(f, now + 59), 0);
	assert_int_equal(claim_count(f, now + 60), 1);
	int64_t when = 0;
	struct buf err = BUF_INIT;
	assert_int_equal(store_queue_next_due(f->st, now, &when, &err), STORE_NOT_FOUND);
	buf_free(&err);
	(void)qid;
}

static void test_a_claim_names_the_pool_and_the_delay_report_is_remembered(void **state)
{
	struct fx *f = *state;
	int64_t q1 = enqueue(f, "a@example.test", ONE, BODY);
	enqueue(f, "a@example.test", ONE, BODY "2");
	char *sql =
	        xasprintf("UPDATE queue_message SET pool = 'vip' WHERE id = %lld", (long long)q1);
	sql_exec(f, sql);
	free(sql);
	struct store_op op;
	claim(f, 0, 10, &op);
	assert_int_equal(op.u.claim.nitems_r, 2);
	assert_string_equal(op.u.claim.items_r[0].pool, "vip");
	assert_null(op.u.claim.items_r[1].pool);
	assert_false(op.u.claim.items_r[0].delay_warned);
	int64_t now = (int64_t)time(NULL);
	struct store_queue_result r[2] = {
	        {.rcpt_id = op.u.claim.items_r[0].rcpt_id,
	         .state = "deferred",
	         .next_attempt = now,
	         .attempted = true,
	         .delay_warned = true},
	        {.rcpt_id = op.u.claim.items_r[1].rcpt_id,
	         .state = "deferred",
	         .next_attempt = now,
	         .attempted = true},
	};
	store_op_clear(&op);
	assert_int_equal(outcome(f, r, 2, NULL, NULL), 0);
	assert_int_equal(sql_int(f, "SELECT sum(delay_warned) FROM queue_rcpt"), 1);
	claim(f, now, 10, &op);
	assert_int_equal(op.u.claim.nitems_r, 2);
	assert_true(op.u.claim.items_r[0].delay_warned);
	assert_false(op.u.claim.items_r[1].delay_warned);
	r[0].rcpt_id = op.u.claim.items_r[0].rcpt_id;
	r[0].delay_warned = false; /* an outcome that does not report keeps the mark */
	r[1].rcpt_id = op.u.claim.items_r[1].rcpt_id;
	store_op_clear(&op);
	assert_int_equal(outcome(f, r, 2, NULL, NULL), 0);
	assert_int_equal(sql_int(f, "SELECT sum(delay_warned) FROM queue_rcpt"), 1);
}

static void test_final_outcomes_finish_the_message_and_keep_the_events(void **state)
{
	struct fx *f = *state;
	int64_t qid = enqueue(f, "a@example.test", TWO, BODY);
	int64_t blob = sql_int(f, "SELECT blob_id FROM queue_message");
	struct store_op op;
	claim(f, 0, 10, &op);
	struct store_queue_result r[2] = {
	        {.rcpt_id = op.u.claim.items_r[0].rcpt_id,
	         .state = "delivered",
	         .attempted = true,
	         .reply = "250 ok"},
	        {.rcpt_id = op.u.claim.items_r[1].rcpt_id,
	         .state = "deferred",
	         .next_attempt = time(NULL) + 10,
	         .attempted = true,
	         .reply = "451 later"},
	};
	store_op_clear(&op);
	size_t finished;
	assert_int_equal(outcome(f, r, 2, NULL, &finished), 0);
	assert_int_equal(finished, 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM queue_message"), 1);
	r[1].state = "bounced";
	r[1].reply = "550 no";
	assert_int_equal(outcome(f, &r[1], 1, NULL, &finished), 0);
	assert_int_equal(finished, 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM queue_message"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM queue_rcpt"), 0);
	char *sql = xasprintf("SELECT count(*) FROM blob WHERE id = %lld", (long long)blob);
	assert_int_equal(sql_int(f, sql), 0);
	free(sql);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM event"), 5);
	sql = xasprintf("SELECT group_concat(kind, ',') FROM (SELECT kind FROM event WHERE "
	                "queue_id = %lld ORDER BY id)",
	                (long long)qid);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL);
	sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0),
	                    "queued,queued,delivered,deferred,bounced");
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(sql);
	assert_check_ok(f);
}

static void test_an_outcome_for_a_removed_recipient_is_skipped(void **state)
{
	struct fx *f = *state;
	int64_t qid = enqueue(f, "a@example.test", ONE, BODY);
	struct store_op op;
	claim(f, 0, 10, &op);
	struct store_queue_result r = {
	        .rcpt_id = op.u.claim.items_r[0].rcpt_id, .state = "delivered", .attempted = true};
	store_op_clear(&op);
	assert_int_equal(admin(f, STORE_QUEUE_REMOVE, qid, NULL), 1);
	size_t finished;
	assert_int_equal(outcome(f, &r, 1, NULL, &finished), 0);
	assert_int_equal(finished, 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM event WHERE kind = 'delivered'"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM event WHERE kind = 'removed'"), 1);
	assert_check_ok(f);
}

static void test_an_unknown_state_is_refused(void **state)
{
	struct fx *f = *state;
	enqueue(f, "a@example.test", ONE, BODY);
	struct store_queue_result r = {.rcpt_id = 1, .state = "queued"};
	struct store_op op;
	store_op_init(&op, STORE_OP_QUEUE_OUTCOME);
	op.u.outcome.results = &r;
	op.u.outcome.nresults = 1;
	assert_int_equal(store_exec(f->st, &op), -1);
	assert_int_equal(op.error, STORE_ERR_INVALID);
	store_op_clear(&op);
}

static void test_a_bounce_is_appended_in_the_same_transaction(void **state)
{
	struct fx *f = *state;
	enqueue(f, "a@example.test", ONE, BODY);
	struct store_op op;
	claim(f, 0, 10, &op);
	struct store_queue_result r = {.rcpt_id = op.u.claim.items_r[0].rcpt_id,
	                               .state = "bounced",
	                               .attempted = true,
	                               .reply = "550 no"};
	store_op_clear(&op);
	const char *dsn = "Return-Path: <>\r\nSubject: Undelivered\r\n\r\nsorry\r\n";
	struct store_append_target t = {.mailbox_id = f->inbox};
	struct store_op also;
	store_op_init(&also, STORE_OP_APPEND);
	also.u.append.data = dsn;
	also.u.append.len = strlen(dsn);
	also.u.append.targets = &t;
	also.u.append.ntargets = 1;
	size_t finished;
	assert_int_equal(outcome(f, &r, 1, &also, &finished), 0);
	assert_int_equal(finished, 1);
	assert_int_equal(t.uid_r, 1);
	store_op_clear(&also);
	assert_int_equal(sql_int(f, "SELECT messages FROM mailbox WHERE name = 'INBOX'"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM queue_message"), 0);
	assert_check_ok(f);
}

static void test_a_failing_bounce_fails_the_outcome_and_records_nothing(void **state)
{
	struct fx *f = *state;
	enqueue(f, "a@example.test", ONE, BODY);
	struct store_op op;
	claim(f, 0, 10, &op);
	struct store_queue_result r = {
	        .rcpt_id = op.u.claim.items_r[0].rcpt_id, .state = "bounced", .attempted = true};
	store_op_clear(&op);
	struct store_append_target t = {.mailbox_id = 999999}; /* no such mailbox */
	struct store_op also;
	store_op_init(&also, STORE_OP_APPEND);
	also.u.append.data = "x";
	also.u.append.len = 1;
	also.u.append.targets = &t;
	also.u.append.ntargets = 1;
	assert_int_equal(outcome(f, &r, 1, &also, NULL), -1);
	store_op_clear(&also);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM queue_rcpt WHERE state = 'queued'"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM event"), 1);
	assert_check_ok(f);
}

/* ---- administration ---------------------------------------------------------------- */

static void test_flush_makes_deferred_recipients_due_now(void **state)
{
	struct fx *f = *state;
	enqueue(f, "a@example.test", ONE, BODY);
	struct store_op op;
	claim(f, 0, 10, &op);
	struct store_queue_result r = {.rcpt_id = op.u.claim.items_r[0].rcpt_id,
	                               .state = "deferred",
	                               .next_attempt = time(NULL) + 3600,
	                               .attempted = true};
	store_op_clear(&op);
	assert_int_equal(outcome(f, &r, 1, NULL, NULL), 0);
	assert_int_equal(claim_count(f, 0), 0);
	assert_int_equal(admin(f, STORE_QUEUE_FLUSH, 0, NULL), 1);
	assert_int_equal(claim_count(f, 0), 1);
}

static void test_held_recipients_wait_for_release(void **state)
{
	struct fx *f = *state;
	int64_t q1 = enqueue(f, "a@example.test", TWO, BODY);
	int64_t q2 = enqueue(f, "a@example.test", ONE, BODY "2");
	assert_int_equal(admin(f, STORE_QUEUE_HOLD, q1, NULL), 2);
	assert_int_equal(admin(f, STORE_QUEUE_HOLD, q1, NULL), 0);
	assert_int_equal(claim_count(f, 0), 1);
	int64_t when;
	struct buf err = BUF_INIT;
	assert_int_equal(store_queue_next_due(f->st, time(NULL), &when, &err), STORE_NOT_FOUND);
	assert_int_equal(admin(f, STORE_QUEUE_RELEASE, q1, NULL), 2);
	assert_int_equal(store_queue_next_due(f->st, time(NULL), &when, &err), STORE_FOUND);
	assert_true(when <= time(NULL));
	assert_int_equal(claim_count(f, 0), 2);
	buf_free(&err);
	(void)q2;
}

static void test_remove_drops_the_message_with_an_event_per_recipient(void **state)
{
	struct fx *f = *state;
	int64_t qid = enqueue(f, "a@example.test", TWO, BODY);
	assert_int_equal(admin(f, STORE_QUEUE_REMOVE, qid, NULL), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM queue_message"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM event WHERE kind = 'removed'"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 0);
	assert_check_ok(f);
	enum store_error e;
	admin(f, STORE_QUEUE_REMOVE, qid, &e);
	assert_int_equal(e, STORE_ERR_NOTFOUND);
	admin(f, STORE_QUEUE_HOLD, 12345, &e);
	assert_int_equal(e, STORE_ERR_NOTFOUND);
	admin(f, STORE_QUEUE_REMOVE, 0, &e);
	assert_int_equal(e, STORE_ERR_INVALID);
}

/* ---- reads ---------------------------------------------------------------------------- */

struct seen {
	int n;
	char text[512];
};

static void on_entry(const struct store_queue_entry *e, void *arg)
{
	struct seen *s = arg;
	size_t len = strlen(s->text);
	snprintf(s->text + len, sizeof s->text - len, "%lld:%s:%s:%u:%d:%d;",
	         (long long)e->queue_id, e->rcpt, e->state, e->attempts, e->held, e->leased);
	s->n++;
}

static void on_event(const struct store_event *e, void *arg)
{
	struct seen *s = arg;
	size_t len = strlen(s->text);
	snprintf(s->text + len, sizeof s->text - len, "%s:%s:%u;", e->rcpt, e->kind, e->attempt);
	s->n++;
}

static void test_the_queue_and_its_events_can_be_listed(void **state)
{
	struct fx *f = *state;
	int64_t q1 = enqueue(f, "a@example.test", TWO, BODY);
	int64_t q2 = enqueue(f, "a@example.test", ONE, BODY "2");
	admin(f, STORE_QUEUE_HOLD, q2, NULL);
	struct store_op op;
	claim(f, 0, 1, &op);
	struct store_queue_result r = {.rcpt_id = op.u.claim.items_r[0].rcpt_id,
	                               .state = "deferred",
	                               .next_attempt = time(NULL) + 9,
	                               .attempted = true};
	store_op_clear(&op);
	assert_int_equal(outcome(f, &r, 1, NULL, NULL), 0);
	claim(f, 0, 1, &op); /* y@ stays leased */
	store_op_clear(&op);
	struct buf err = BUF_INIT;
	struct seen s = {0};
	assert_int_equal(store_queue_list(f->st, 0, on_entry, &s, &err), 0);
	char *want = xasprintf("%lld:x@remote.example:deferred:1:0:0;%lld:y@other.example:queued:"
	                       "0:0:1;%lld:z@remote.example:queued:0:1:0;",
	                       (long long)q1, (long long)q1, (long long)q2);
	assert_string_equal(s.text, want);
	free(want);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_queue_list(f->st, q2, on_entry, &s, &err), 0);
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_event_list(f->st, 0, "X@Remote.Example", on_event, &s, &err), 0);
	assert_string_equal(s.text, "x@remote.example:queued:0;x@remote.example:deferred:1;");
	memset(&s, 0, sizeof s);
	assert_int_equal(store_event_list(f->st, q1, NULL, on_event, &s, &err), 0);
	assert_int_equal(s.n, 3);
	buf_free(&err);
}

/* ---- notification --------------------------------------------------------------------- */

static void on_notify(void *arg)
{
	(*(int *)arg)++;
}

static void on_done(struct store_op *op, void *arg)
{
	(*(int *)arg)++;
}

static void run_op(struct store *st, struct event_base *base, struct store_op *op)
{
	int done = 0;
	store_submit(st, op, on_done, &done);
	while (!done)
		event_base_loop(base, EVLOOP_ONCE);
}

static void test_the_runner_hears_of_commits_that_queue_mail(void **state)
{
	struct fx *f = *state;
	struct event_base *base = event_base_new();
	struct buf err = BUF_INIT;
	assert_int_equal(store_start(f->st, base, &err), 0);
	int heard = 0;
	store_queue_notify(f->st, on_notify, &heard);
	struct store_queue_rcpt q = {"x@remote.example", NULL, NULL};
	struct store_append_target t = {.mailbox_id = f->inbox};
	struct store_op op;
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = "a";
	op.u.append.len = 1;
	op.u.append.targets = &t;
	op.u.append.ntargets = 1;
	run_op(f->st, base, &op); /* local only: nothing for the queue */
	assert_int_equal(heard, 0);
	store_op_clear(&op);
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = "b";
	op.u.append.len = 1;
	op.u.append.queue = &q;
	op.u.append.nqueue = 1;
	op.u.append.env_from = "";
	run_op(f->st, base, &op);
	assert_int_equal(heard, 1);
	int64_t qid = op.u.append.queue_id_r;
	store_op_clear(&op);
	store_op_init(&op, STORE_OP_QUEUE_ADMIN);
	op.u.queue.action = STORE_QUEUE_HOLD;
	op.u.queue.queue_id = qid;
	run_op(f->st, base, &op);
	assert_int_equal(heard, 1);
	store_op_clear(&op);
	store_op_init(&op, STORE_OP_QUEUE_ADMIN);
	op.u.queue.action = STORE_QUEUE_RELEASE;
	op.u.queue.queue_id = qid;
	run_op(f->st, base, &op);
	assert_int_equal(heard, 2);
	store_op_clear(&op);
	store_queue_notify(f->st, NULL, NULL);
	store_close(&f->st);
	event_base_free(base);
	buf_free(&err);
}

int main(void)
{
	evthread_use_pthreads();
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_a_claim_takes_due_recipients_with_their_envelope),
	        T(test_a_claimed_recipient_is_not_claimed_again_until_its_lease_ends),
	        T(test_a_claim_takes_at_most_max),
	        T(test_recover_drops_every_lease),
	        T(test_a_deferral_records_the_reply_and_the_retry_time),
	        T(test_a_claim_names_the_pool_and_the_delay_report_is_remembered),
	        T(test_final_outcomes_finish_the_message_and_keep_the_events),
	        T(test_an_outcome_for_a_removed_recipient_is_skipped),
	        T(test_an_unknown_state_is_refused),
	        T(test_a_bounce_is_appended_in_the_same_transaction),
	        T(test_a_failing_bounce_fails_the_outcome_and_records_nothing),
	        T(test_flush_makes_deferred_recipients_due_now),
	        T(test_held_recipients_wait_for_release),
	        T(test_remove_drops_the_message_with_an_event_per_recipient),
	        T(test_the_queue_and_its_events_can_be_listed),
	        T(test_the_runner_hears_of_commits_that_queue_mail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
