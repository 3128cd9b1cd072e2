/* Tests of src/core/codec.c, src/core/log.c (log_value) and src/core/time.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/core.h"

static void test_base64_rfc4648_vectors(void **state)
{
	const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		struct buf b = BUF_INIT, d = BUF_INIT;
		base64_encode(&b, in[i], strlen(in[i]));
		assert_string_equal(buf_cstr(&b), out[i]);
		assert_int_equal(base64_decode(&d, b.data ? b.data : "", b.len), 0);
		assert_int_equal(d.len, strlen(in[i]));
		assert_memory_equal(buf_cstr(&d), in[i], d.len);
		buf_free(&b);
		buf_free(&d);
	}
}

static void test_base64_round_trips_every_byte_value(void **state)
{
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t n = 0; n <= 256; n++) {
		struct buf b = BUF_INIT, d = BUF_INIT;
		base64_encode(&b, all, n);
		assert_int_equal(base64_decode(&d, buf_cstr(&b), b.len), 0);
		assert_int_equal(d.len, n);
		if (n)
			assert_memory_equal(d.data, all, n);
		buf_free(&b);
		buf_free(&d);
	}
}

static void test_base64_decode_is_strict(void **state)
{
	const char *bad[] = {"Zg=", "Zg", "Z===", "Zm9v\n", "Zm 9v", "Zg==Zg==", "Zh==", "Zm9=",
			     "Zm-v", "====", "Zm9\x80"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct buf d = BUF_INIT;
		buf_puts(&d, "keep");
		assert_int_equal(base64_decode(&d, bad[i], strlen(bad[i])), -1);
		assert_string_equal(buf_cstr(&d), "keep"); /* nothing appended on error */
		buf_free(&d);
	}
}

static void test_hex_encode(void **state)
{
	struct buf b = BUF_INIT;
	hex_encode(&b, "\x00\xff\x10", 3);
	assert_string_equal(buf_cstr(&b), "00ff10");
	buf_free(&b);
}

static void test_log_value_leaves_safe_text_bare(void **state)
{
	struct buf b = BUF_INIT;
	log_value(&b, "user@example.com", 16);
	assert_string_equal(buf_cstr(&b), "user@example.com");
	buf_free(&b);
}

static void test_log_value_quotes_and_escapes_what_could_forge_a_line(void **state)
{
	struct buf b = BUF_INIT;
	log_value(&b, "a b\"c\\\r\ninfo fake=1\x00z", 21);
	assert_string_equal(buf_cstr(&b), "\"a b\\\"c\\\\\\x0d\\x0ainfo fake=1\\x00z\"");
	buf_free(&b);
	log_value(&b, "", 0);
	assert_string_equal(buf_cstr(&b), "\"\"");
	buf_free(&b);
}

static void test_log_value_cuts_long_values(void **state)
{
	char big[500];
	memset(big, 'a', sizeof big);
	struct buf b = BUF_INIT;
	log_value(&b, big, sizeof big);
	assert_int_equal(b.len, 1 + 200 + 3 + 1);
	assert_memory_equal(b.data + 201, "...\"", 4);
	buf_free(&b);
}

static void test_log_level_names(void **state)
{
	enum log_level l;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("error", &l), 0);
	assert_int_equal(l, LOG_LVL_ERROR);
	assert_int_equal(log_level_parse("verbose", &l), -1);
	log_init(LOG_LVL_WARN, false);
	assert_false(log_enabled(LOG_LVL_INFO));
	assert_true(log_enabled(LOG_LVL_ERROR));
	log_init(LOG_LVL_INFO, false);
}

static void test_random_ids_are_hex_and_differ(void **state)
{
	char a[17], b[17];
	random_id(a, 8);
	random_id(b, 8);
	assert_int_equal(strlen(a), 16);
	assert_int_equal(strspn(a, "0123456789abcdef"), 16);
	assert_string_not_equal(a, b);
}

static void test_clocks_move_forward(void **state)
{
	int64_t m = time_mono_ms();
	assert_true(time_now_ms() > 1700000000000LL);
	assert_true(time_mono_ms() >= m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_rfc4648_vectors),
		cmocka_unit_test(test_base64_round_trips_every_byte_value),
		cmocka_unit_test(test_base64_decode_is_strict),
		cmocka_unit_test(test_hex_encode),
		cmocka_unit_test(test_log_value_leaves_safe_text_bare),
		cmocka_unit_test(test_log_value_quotes_and_escapes_what_could_forge_a_line),
		cmocka_unit_test(test_log_value_cuts_long_values),
		cmocka_unit_test(test_log_level_names),
		cmocka_unit_test(test_random_ids_are_hex_and_differ),
		cmocka_unit_test(test_clocks_move_forward),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
