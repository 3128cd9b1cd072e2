/*
 * Unit tests for src/auth/auth_throttle.c: free failures, doubling, the cap, decay,
 * reset on success, counting per account across addresses, and the table's bound.
 * Time is passed in, so nothing here sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/auth_internal.h"

#define T0 INT64_C(1700000000000)

static void fail_n(struct auth_throttle *t, const char *ip, const char *acct, int n, int64_t now)
{
	for (int i = 0; i < n; i++)
		auth_throttle_failure(t, ip, acct, now);
}

static void test_siphash_matches_the_reference_vectors(void **state)
{
	/* Key 00..0f; messages 00, 00 01, ... (Aumasson and Bernstein, appendix A). */
	const uint64_t k0 = UINT64_C(0x0706050403020100), k1 = UINT64_C(0x0f0e0d0c0b0a0908);
	uint8_t msg[15];
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	assert_true(auth_siphash24(k0, k1, msg, 0) == UINT64_C(0x726fdb47dd0e0e31));
	assert_true(auth_siphash24(k0, k1, msg, 15) == UINT64_C(0xa129ca6149be45e5));
}

static void test_no_failures_means_no_delay(void **state)
{
	struct auth_throttle *t = auth_throttle_new(3, 60);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", T0), 0);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", NULL, T0), 0);
	assert_int_equal(auth_throttle_delay(t, NULL, NULL, T0), 0);
	auth_throttle_free(&t);
	assert_null(t);
	auth_throttle_free(&t);
}

static void test_free_failures_cost_nothing(void **state)
{
	struct auth_throttle *t = auth_throttle_new(3, 60);
	fail_n(t, "192.0.2.1", "tim", 3, T0);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", T0), 0);
	auth_throttle_failure(t, "192.0.2.1", "tim", T0);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", T0), 1000);
	auth_throttle_free(&t);
}

static void test_delay_doubles_with_each_failure_after_the_free_ones(void **state)
{
	struct auth_throttle *t = auth_throttle_new(2, 3600);
	fail_n(t, "192.0.2.1", "tim", 2, T0);
	static const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		auth_throttle_failure(t, "192.0.2.1", "tim", T0 + (int64_t)i);
		assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", T0 + (int64_t)i),
		                 want[i]);
	}
	auth_throttle_free(&t);
}

static void test_no_free_failures_means_the_first_failure_costs_a_second(void **state)
{
	struct auth_throttle *t = auth_throttle_new(0, 60);
	auth_throttle_failure(t, "192.0.2.1", NULL, T0);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", NULL, T0), 1000);
	auth_throttle_free(&t);
}

static void test_delay_is_capped_at_max_delay_even_after_many_failures(void **state)
{
	struct auth_throttle *t = auth_throttle_new(1, 30);
	fail_n(t, "192.0.2.1", "tim", 7, T0); /* 2^5 s = 32 s > 30 s */
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", T0), 30000);
	fail_n(t, "192.0.2.1", "tim", 5000, T0);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", T0), 30000);
	auth_throttle_free(&t);
}

static void test_zero_max_delay_never_delays(void **state)
{
	struct auth_throttle *t = auth_throttle_new(0, 0);
	fail_n(t, "192.0.2.1", "tim", 100, T0);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", T0), 0);
	auth_throttle_free(&t);
}

static void test_counters_are_forgotten_after_the_forget_period(void **state)
{
	struct auth_throttle *t = auth_throttle_new(0, 60);
	fail_n(t, "192.0.2.1", "tim", 3, T0);
	int64_t last = T0 + 1000;
	auth_throttle_failure(t, "192.0.2.1", "tim", last);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", last), 8000);
	assert_int_equal(
	        auth_throttle_delay(t, "192.0.2.1", "tim", last + AUTH_THROTTLE_FORGET_MS - 1),
	        8000);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", last + AUTH_THROTTLE_FORGET_MS),
	                 0);
	/* and a failure after that starts again from one */
	auth_throttle_failure(t, "192.0.2.1", "tim", last + AUTH_THROTTLE_FORGET_MS + 5);
	assert_int_equal(
	        auth_throttle_delay(t, "192.0.2.1", "tim", last + AUTH_THROTTLE_FORGET_MS + 5),
	        1000);
	auth_throttle_free(&t);
}

static void test_each_failure_restarts_the_forget_period(void **state)
{
	struct auth_throttle *t = auth_throttle_new(0, 60);
	int64_t now = T0;
	for (int i = 0; i < 5; i++) {
		auth_throttle_failure(t, "192.0.2.1", NULL, now);
		now += AUTH_THROTTLE_FORGET_MS - 1;
	}
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", NULL, now - 1), 16000);
	auth_throttle_free(&t);
}

static void test_forgotten_keys_leave_the_table(void **state)
{
	struct auth_throttle *t = auth_throttle_new(0, 60);
	fail_n(t, "192.0.2.1", "tim", 1, T0);
	fail_n(t, "192.0.2.2", "ann", 1, T0 + 10);
	assert_int_equal(auth_throttle_count(t), 4);
	auth_throttle_delay(t, NULL, NULL, T0 + AUTH_THROTTLE_FORGET_MS);
	assert_int_equal(auth_throttle_count(t), 2);
	auth_throttle_delay(t, NULL, NULL, T0 + 10 + AUTH_THROTTLE_FORGET_MS);
	assert_int_equal(auth_throttle_count(t), 0);
	auth_throttle_free(&t);
}

static void test_success_clears_the_ip_and_the_account(void **state)
{
	struct auth_throttle *t = auth_throttle_new(0, 60);
	fail_n(t, "192.0.2.1", "tim", 4, T0);
	fail_n(t, "192.0.2.9", "ann", 4, T0);
	auth_throttle_success(t, "192.0.2.1", "tim", T0 + 1);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", T0 + 1), 0);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", NULL, T0 + 1), 0);
	/* others are untouched */
	assert_int_equal(auth_throttle_delay(t, "192.0.2.9", "ann", T0 + 1), 8000);
	assert_int_equal(auth_throttle_count(t), 2);
	/* success for keys never seen is harmless */
	auth_throttle_success(t, "198.51.100.1", "nobody", T0 + 2);
	auth_throttle_success(t, NULL, NULL, T0 + 2);
	auth_throttle_free(&t);
}

static void test_account_is_throttled_when_guesses_come_from_many_ips(void **state)
{
	struct auth_throttle *t = auth_throttle_new(3, 60);
	char ip[32];
	for (int i = 0; i < 6; i++) {
		snprintf(ip, sizeof ip, "203.0.113.%d", i);
		auth_throttle_failure(t, ip, "tim", T0 + i);
		/* no single address is over its free failures */
	}
	assert_int_equal(auth_throttle_delay(t, "203.0.113.0", NULL, T0 + 10), 0);
	/* a seventh address trying tim waits for the account's 6 failures */
	assert_int_equal(auth_throttle_delay(t, "203.0.113.99", "tim", T0 + 10), 4000);
	/* the same address trying someone else does not */
	assert_int_equal(auth_throttle_delay(t, "203.0.113.99", "ann", T0 + 10), 0);
	auth_throttle_free(&t);
}

static void test_ip_is_throttled_when_it_tries_many_accounts(void **state)
{
	struct auth_throttle *t = auth_throttle_new(3, 60);
	char acct[32];
	for (int i = 0; i < 5; i++) {
		snprintf(acct, sizeof acct, "user%d", i);
		auth_throttle_failure(t, "192.0.2.66", acct, T0);
	}
	assert_int_equal(auth_throttle_delay(t, "192.0.2.66", "user99", T0), 2000);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.67", "user0", T0), 0);
	auth_throttle_free(&t);
}

static void test_delay_is_the_larger_of_the_ip_and_account_delays(void **state)
{
	struct auth_throttle *t = auth_throttle_new(0, 60);
	fail_n(t, "192.0.2.1", NULL, 2, T0); /* ip: 2 s */
	fail_n(t, NULL, "tim", 4, T0);       /* account: 8 s */
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", T0), 8000);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "ann", T0), 2000);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.2", "tim", T0), 8000);
	auth_throttle_free(&t);
}

static void test_changing_the_case_of_an_account_does_not_open_a_fresh_counter(void **state)
{
	struct auth_throttle *t = auth_throttle_new(0, 60);
	auth_throttle_failure(t, NULL, "Tim@Example.org", T0);
	auth_throttle_failure(t, NULL, "tim@example.ORG", T0);
	assert_int_equal(auth_throttle_delay(t, NULL, "TIM@EXAMPLE.ORG", T0), 2000);
	assert_int_equal(auth_throttle_count(t), 1);
	auth_throttle_free(&t);
}

static void test_an_ip_and_an_account_with_the_same_text_are_different_keys(void **state)
{
	struct auth_throttle *t = auth_throttle_new(0, 60);
	auth_throttle_failure(t, "192.0.2.1", NULL, T0);
	assert_int_equal(auth_throttle_delay(t, NULL, "192.0.2.1", T0), 0);
	auth_throttle_free(&t);
}

static void test_table_never_holds_more_than_max_keys_and_drops_the_stalest(void **state)
{
	struct auth_throttle *t = auth_throttle_new(0, 60);
	char ip[64];
	/* The first address fails early; every other key fails later. */
	auth_throttle_failure(t, "10.0.0.0", NULL, T0);
	for (int i = 1; i < AUTH_THROTTLE_MAX_KEYS; i++) {
		snprintf(ip, sizeof ip, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		auth_throttle_failure(t, ip, NULL, T0 + 1000);
	}
	assert_int_equal(auth_throttle_count(t), AUTH_THROTTLE_MAX_KEYS);
	assert_int_equal(auth_throttle_delay(t, "10.0.0.0", NULL, T0 + 1000), 1000);

	/* A second failure moves 10.0.0.1 to the recent end; then the first new key
	   pushes out 10.0.0.0, and the next one 10.0.0.2. */
	auth_throttle_failure(t, "10.0.0.1", NULL, T0 + 2000);
	auth_throttle_failure(t, "172.16.0.1", NULL, T0 + 2000);
	assert_int_equal(auth_throttle_count(t), AUTH_THROTTLE_MAX_KEYS);
	assert_int_equal(auth_throttle_delay(t, "10.0.0.0", NULL, T0 + 2000), 0);
	assert_int_equal(auth_throttle_delay(t, "172.16.0.1", NULL, T0 + 2000), 1000);
	assert_int_equal(auth_throttle_delay(t, "10.0.0.1", NULL, T0 + 2000), 2000);

	auth_throttle_failure(t, "172.16.0.2", NULL, T0 + 2000);
	assert_int_equal(auth_throttle_count(t), AUTH_THROTTLE_MAX_KEYS);
	assert_int_equal(auth_throttle_delay(t, "10.0.0.2", NULL, T0 + 2000), 0);
	assert_int_equal(auth_throttle_delay(t, "10.0.0.1", NULL, T0 + 2000), 2000);
	assert_int_equal(auth_throttle_delay(t, "10.0.0.3", NULL, T0 + 2000), 1000);

	/* Pairs of keys past the bound keep it. */
	for (int i = 0; i < 1000; i++) {
		snprintf(ip, sizeof ip, "192.168.%d.%d", i >> 8, i & 255);
		auth_throttle_failure(t, ip, ip, T0 + 3000);
	}
	assert_int_equal(auth_throttle_count(t), AUTH_THROTTLE_MAX_KEYS);
	auth_throttle_free(&t);
}

static void test_a_clock_that_goes_backwards_does_not_break_the_table(void **state)
{
	struct auth_throttle *t = auth_throttle_new(0, 60);
	auth_throttle_failure(t, "192.0.2.1", "tim", T0);
	auth_throttle_failure(t, "192.0.2.1", "tim", T0 - 5000);
	assert_int_equal(auth_throttle_delay(t, "192.0.2.1", "tim", T0 - 6000), 2000);
	auth_throttle_success(t, "192.0.2.1", "tim", T0 - 7000);
	assert_int_equal(auth_throttle_count(t), 0);
	auth_throttle_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_siphash_matches_the_reference_vectors),
	        cmocka_unit_test(test_no_failures_means_no_delay),
	        cmocka_unit_test(test_free_failures_cost_nothing),
	        cmocka_unit_test(test_delay_doubles_with_each_failure_after_the_free_ones),
	        cmocka_unit_test(test_no_free_failures_means_the_first_failure_costs_a_second),
	        cmocka_unit_test(test_delay_is_capped_at_max_delay_even_after_many_failures),
	        cmocka_unit_test(test_zero_max_delay_never_delays),
	        cmocka_unit_test(test_counters_are_forgotten_after_the_forget_period),
	        cmocka_unit_test(test_each_failure_restarts_the_forget_period),
	        cmocka_unit_test(test_forgotten_keys_leave_the_table),
	        cmocka_unit_test(test_success_clears_the_ip_and_the_account),
	        cmocka_unit_test(test_account_is_throttled_when_guesses_come_from_many_ips),
	        cmocka_unit_test(test_ip_is_throttled_when_it_tries_many_accounts),
	        cmocka_unit_test(test_delay_is_the_larger_of_the_ip_and_account_delays),
	        cmocka_unit_test(
	                test_changing_the_case_of_an_account_does_not_open_a_fresh_counter),
	        cmocka_unit_test(test_an_ip_and_an_account_with_the_same_text_are_different_keys),
	        cmocka_unit_test(test_table_never_holds_more_than_max_keys_and_drops_the_stalest),
	        cmocka_unit_test(test_a_clock_that_goes_backwards_does_not_break_the_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
