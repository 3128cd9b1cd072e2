/*
 * Unit tests for src/queue/queue_outcome.c: the wait before each attempt comes
 * from [queue] retry in order, and the last interval repeats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/config.h"
#include "queue/queue_internal.h"

static void test_the_default_schedule_backs_off_and_repeats_its_last_wait(void **state)
{
	struct config cfg;
	config_defaults(&cfg);
	static const int64_t want[] = {60, 60, 300, 900, 1800, 3600, 7200, 14400, 14400, 14400};
	for (unsigned attempts = 0; attempts < ARRAY_SIZE(want); attempts++)
		assert_int_equal(queue_retry_delay(&cfg, attempts), want[attempts]);
	assert_int_equal(queue_retry_delay(&cfg, 1000), 14400);
	config_free(&cfg);
}

static void test_a_configured_schedule_is_followed(void **state)
{
	struct config cfg;
	struct buf err = BUF_INIT;
	config_defaults(&cfg);
	const char text[] = "[queue]\nretry = 1s,2s, 1m\n";
	if (config_parse_text(&cfg, "t.conf", text, strlen(text), &err) < 0)
		fail_msg("%s", buf_cstr(&err));
	assert_int_equal(queue_retry_delay(&cfg, 1), 1);
	assert_int_equal(queue_retry_delay(&cfg, 2), 2);
	assert_int_equal(queue_retry_delay(&cfg, 3), 60);
	assert_int_equal(queue_retry_delay(&cfg, 4), 60);
	config_free(&cfg);
	buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_the_default_schedule_backs_off_and_repeats_its_last_wait),
	        cmocka_unit_test(test_a_configured_schedule_is_followed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
