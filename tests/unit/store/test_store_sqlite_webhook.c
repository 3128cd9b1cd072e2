/*
 * Unit tests for src/store/store_sqlite_webhook.c through store.h: webhooks,
 * the scan that turns new events into deliveries (by key and kind, each event
 * once, none from before the webhook), the order of one message's deliveries,
 * retries, giving up, test deliveries, removal and the backlog.
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

/* ---- helpers ------------------------------------------------------------------------- */

static int64_t add_hook(struct fx *f, const char *events, const char *key)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_WEBHOOK_ADD);
	op.u.webhook.url = "http://127.0.0.1:9/hook";
	op.u.webhook.secret = "whsec_x";
	op.u.webhook.events = events;
	op.u.webhook.key_name = key;
	exec_ok(f->st, &op);
	int64_t id = op.u.webhook.id_r;
	store_op_clear(&op);
	return id;
}

static size_t scan(struct fx *f)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_WEBHOOK_SCAN);
	exec_ok(f->st, &op);
	size_t n = op.u.webhook.count_r;
	store_op_clear(&op);
	return n;
}

#define MAX_SEEN 32
struct seen {
	size_t n;
	int64_t id[MAX_SEEN], hook[MAX_SEEN], event[MAX_SEEN];
	char kind[MAX_SEEN][16];
	bool test[MAX_SEEN];
	unsigned attempts[MAX_SEEN];
};

static void see(const struct store_webhook_delivery *d, void *arg)
{
	struct seen *s = arg;
	assert_true(s->n < MAX_SEEN);
	s->id[s->n] = d->id;
	s->hook[s->n] = d->webhook_id;
	s->event[s->n] = d->ev.e.id;
	s->test[s->n] = d->test;
	s->attempts[s->n] = d->attempts;
	snprintf(s->kind[s->n], sizeof s->kind[0], "%s", d->test ? "" : d->ev.e.kind);
	assert_string_equal(d->url, "http://127.0.0.1:9/hook");
	assert_string_equal(d->secret, "whsec_x");
	if (!d->test) {
		assert_non_null(d->ev.public_id);
		assert_string_equal(d->ev.tags, "[\"t\"]");
	}
	s->n++;
}

static struct seen due(struct fx *f, int64_t now_ms)
{
	struct seen s = {0};
	struct buf err = BUF_INIT;
	assert_int_equal(store_webhook_due(f->st, now_ms, 100, see, &s, &err), 0);
	buf_free(&err);
	return s;
}

static void result(struct fx *f, int64_t delivery, bool ok, bool give_up, int64_t next_ms)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_WEBHOOK_RESULT);
	op.u.webhook.delivery_id = delivery;
	op.u.webhook.ok = ok;
	op.u.webhook.give_up = give_up;
	op.u.webhook.status = ok ? 200 : 500;
	op.u.webhook.error = ok ? NULL : "HTTP 500";
	op.u.webhook.next_attempt_ms = next_ms;
	exec_ok(f->st, &op);
	assert_int_equal(op.u.webhook.count_r, 1);
	store_op_clear(&op);
}

#define FAR (time_now_ms() + 3600 * 1000)

/* ---- tests ----------------------------------------------------------------------------- */

static void test_a_scan_takes_each_new_event_once_and_none_from_before(void **state)
{
	struct fx *f = *state;
	struct store_op op;
	assert_int_equal(send(f, "before", NULL, false, &op), 0); /* queued + delivered */
	store_op_clear(&op);
	int64_t hook = add_hook(f, NULL, NULL);
	assert_int_equal(scan(f), 0);
	assert_int_equal(send(f, "m1", NULL, true, &op), 0); /* + the remote one's queued */
	store_op_clear(&op);
	assert_int_equal(scan(f), 3);
	assert_int_equal(scan(f), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM webhook_delivery WHERE webhook_id = 1 "
	                          "AND state = 'pending'"),
	                 3);
	assert_true(hook > 0);
	uint64_t pending, unscanned;
	int64_t oldest;
	struct buf err = BUF_INIT;
	assert_int_equal(store_webhook_backlog(f->st, &pending, &oldest, &unscanned, &err), 0);
	assert_int_equal(pending, 3);
	assert_int_equal(unscanned, 0);
	assert_true(oldest > 0);
	buf_free(&err);
}

static void test_one_messages_deliveries_are_handed_out_in_order(void **state)
{
	struct fx *f = *state;
	add_hook(f, NULL, NULL);
	struct store_op op;
	assert_int_equal(send(f, "m1", NULL, false, &op), 0);
	store_op_clear(&op);
	assert_int_equal(send(f, "m2", NULL, false, &op), 0);
	store_op_clear(&op);
	assert_int_equal(scan(f), 4);
	/* the first event of each message */
	struct seen s = due(f, time_now_ms());
	assert_int_equal(s.n, 2);
	assert_string_equal(s.kind[0], "queued");
	assert_string_equal(s.kind[1], "queued");
	assert_true(s.event[0] < s.event[1]);
	int64_t first = s.id[0], second = s.id[1];
	/* a failed attempt: not due until its time, and m1's next waits behind it */
	result(f, first, false, false, FAR);
	s = due(f, time_now_ms());
	assert_int_equal(s.n, 1);
	assert_int_equal(s.id[0], second);
	s = due(f, FAR);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.id[0], first);
	assert_int_equal(s.attempts[0], 1);
	/* delivered: m1's second event comes next */
	result(f, first, true, false, 0);
	s = due(f, time_now_ms());
	assert_int_equal(s.n, 2);
	assert_string_equal(s.kind[0], "delivered");
	assert_true(s.id[0] > first && s.id[0] != second);
}

static void test_a_delivery_given_up_lets_the_next_one_go(void **state)
{
	struct fx *f = *state;
	add_hook(f, NULL, NULL);
	struct store_op op;
	assert_int_equal(send(f, "m1", NULL, false, &op), 0);
	store_op_clear(&op);
	scan(f);
	struct seen s = due(f, time_now_ms());
	assert_int_equal(s.n, 1);
	result(f, s.id[0], false, true, 0);
	struct buf state_r = BUF_INIT, error = BUF_INIT, err = BUF_INIT;
	unsigned attempts;
	int status;
	assert_int_equal(store_webhook_delivery_state(f->st, s.id[0], &state_r, &attempts, &status,
	                                              &error, &err),
	                 STORE_FOUND);
	assert_string_equal(buf_cstr(&state_r), "failed");
	assert_int_equal(attempts, 1);
	assert_int_equal(status, 500);
	assert_string_equal(buf_cstr(&error), "HTTP 500");
	s = due(f, time_now_ms());
	assert_int_equal(s.n, 1);
	assert_string_equal(s.kind[0], "delivered");
	buf_free(&state_r);
	buf_free(&error);
	buf_free(&err);
}

static void test_webhooks_filter_by_key_and_kind(void **state)
{
	struct fx *f = *state;
	static unsigned char other_hash[32] = {7};
	struct store_op op;
	store_op_init(&op, STORE_OP_APIKEY_ADD);
	op.u.apikey.name = "other";
	op.u.apikey.hash = other_hash;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	int64_t mine = add_hook(f, "delivered", "app");
	int64_t theirs = add_hook(f, NULL, "other");
	int64_t queued = add_hook(f, "queued, queued", NULL);
	assert_int_equal(send(f, "m1", NULL, true, &op), 0);
	store_op_clear(&op);
	assert_int_equal(scan(f), 3); /* mine: delivered; queued: two queued */
	struct seen s = due(f, time_now_ms());
	size_t n_mine = 0, n_queued = 0;
	for (size_t i = 0; i < s.n; i++) {
		assert_true(s.hook[i] != theirs);
		n_mine += s.hook[i] == mine;
		n_queued += s.hook[i] == queued;
		if (s.hook[i] == mine)
			assert_string_equal(s.kind[i], "delivered");
		else
			assert_string_equal(s.kind[i], "queued");
	}
	assert_int_equal(n_mine, 1);
	assert_int_equal(n_queued, 1); /* the second waits behind the first */
}

static void check_list(const struct store_webhook *w, void *arg)
{
	size_t *n = arg;
	(*n)++;
	assert_string_equal(w->events, "queued,delivered");
	assert_string_equal(w->key_name, "app");
	assert_string_equal(w->secret, "whsec_x");
	assert_int_equal(w->pending, 1);
}

static void test_tests_removal_and_bad_webhooks(void **state)
{
	struct fx *f = *state;
	int64_t hook = add_hook(f, " queued ,delivered,,", "app");
	struct store_op op;
	store_op_init(&op, STORE_OP_WEBHOOK_TEST);
	op.u.webhook.id = hook;
	exec_ok(f->st, &op);
	int64_t test = op.u.webhook.id_r;
	store_op_clear(&op);
	struct seen s = due(f, time_now_ms());
	assert_int_equal(s.n, 1);
	assert_true(s.test[0]);
	assert_int_equal(s.id[0], test);
	size_t n = 0;
	struct buf err = BUF_INIT;
	assert_int_equal(store_webhook_list(f->st, check_list, &n, &err), 0);
	assert_int_equal(n, 1);
	store_op_init(&op, STORE_OP_WEBHOOK_REMOVE);
	op.u.webhook.id = hook;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(count(f, "SELECT count(*) FROM webhook_delivery"), 0);
	store_op_init(&op, STORE_OP_WEBHOOK_REMOVE);
	op.u.webhook.id = hook;
	assert_int_equal(store_exec(f->st, &op), -1);
	assert_int_equal(op.error, STORE_ERR_NOTFOUND);
	store_op_clear(&op);
	store_op_init(&op, STORE_OP_WEBHOOK_TEST);
	op.u.webhook.id = hook;
	assert_int_equal(store_exec(f->st, &op), -1);
	assert_int_equal(op.error, STORE_ERR_NOTFOUND);
	store_op_clear(&op);

	static const struct {
		const char *url, *events, *key;
		enum store_error e;
	} bad[] = {
	        {"ftp://x/", NULL, NULL, STORE_ERR_INVALID},
	        {"http://a b/", NULL, NULL, STORE_ERR_INVALID},
	        {"http://x/", "opened", NULL, STORE_ERR_INVALID},
	        {"http://x/", NULL, "nobody", STORE_ERR_NOTFOUND},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		store_op_init(&op, STORE_OP_WEBHOOK_ADD);
		op.u.webhook.url = bad[i].url;
		op.u.webhook.secret = "s";
		op.u.webhook.events = bad[i].events;
		op.u.webhook.key_name = bad[i].key;
		assert_int_equal(store_exec(f->st, &op), -1);
		assert_int_equal(op.error, bad[i].e);
		store_op_clear(&op);
	}
	assert_int_equal(count(f, "SELECT count(*) FROM webhook"), 0);
	buf_free(&err);
}

static void test_finished_deliveries_are_pruned_after_a_week(void **state)
{
	struct fx *f = *state;
	add_hook(f, NULL, NULL);
	struct store_op op;
	assert_int_equal(send(f, "m1", NULL, false, &op), 0);
	store_op_clear(&op);
	scan(f);
	struct seen s = due(f, time_now_ms());
	result(f, s.id[0], true, false, 0);
	store_op_init(&op, STORE_OP_WEBHOOK_SCAN);
	op.u.webhook.prune = true;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(count(f, "SELECT count(*) FROM webhook_delivery"), 2);
	store_op_init(&op, STORE_OP_WEBHOOK_SCAN);
	op.u.webhook.prune = true;
	op.u.webhook.now_ms = time_now_ms() + STORE_WEBHOOK_KEEP_MS + 1000;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(count(f, "SELECT count(*) FROM webhook_delivery"), 1); /* the pending */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_a_scan_takes_each_new_event_once_and_none_from_before, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                test_one_messages_deliveries_are_handed_out_in_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_a_delivery_given_up_lets_the_next_one_go,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_webhooks_filter_by_key_and_kind, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_tests_removal_and_bad_webhooks, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_finished_deliveries_are_pruned_after_a_week,
	                                        setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
