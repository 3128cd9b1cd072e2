/* Tests of src/core/buf.c and src/core/str.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <stdlib.h>

#include "core/core.h"

static void test_empty_buffer_is_an_empty_c_string(void **state)
{
	struct buf b = BUF_INIT;
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(b.len, 0);
	buf_reset(&b);
	buf_free(&b);
	assert_null(b.data);
}

static void test_append_keeps_embedded_nuls_and_terminates(void **state)
{
	struct buf b = BUF_INIT;
	buf_append(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 3);
	assert_int_equal(b.data[3], '\0');
	buf_free(&b);
}

static void test_growth_never_truncates(void **state)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < 100000; i++)
		buf_putc(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 100000);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(b.data[i], 'a' + i % 26);
	buf_printf(&b, "%s-%d", "x", 42);
	assert_int_equal(b.len, 100004);
	assert_string_equal(b.data + 100000, "x-42");
	buf_free(&b);
}

static void test_printf_of_a_long_string_is_whole(void **state)
{
	char *big = malloc(70000);
	memset(big, 'z', 69999);
	big[69999] = '\0';
	struct buf b = BUF_INIT;
	buf_printf(&b, "[%s]", big);
	assert_int_equal(b.len, 70001);
	assert_int_equal(b.data[70000], ']');
	buf_free(&b);
	free(big);
}

static void test_consume_and_truncate(void **state)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "hello world");
	buf_consume(&b, 6);
	assert_string_equal(buf_cstr(&b), "world");
	buf_truncate(&b, 3);
	assert_string_equal(buf_cstr(&b), "wor");
	buf_truncate(&b, 10); /* longer: no effect */
	assert_string_equal(buf_cstr(&b), "wor");
	buf_consume(&b, 99);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
}

static void test_steal_hands_over_the_memory(void **state)
{
	struct buf b = BUF_INIT;
	char *s = buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
	buf_puts(&b, "abc");
	s = buf_steal(&b);
	assert_string_equal(s, "abc");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
}

static void test_xfree_sets_the_pointer_to_null(void **state)
{
	char *p = xstrdup("x");
	xfree(&p);
	assert_null(p);
	xfree(&p); /* twice is harmless */
}

static void test_str_comparisons(void **state)
{
	assert_true(str_eq(STR_LIT("abc"), str_c("abc")));
	assert_false(str_eq(STR_LIT("abc"), STR_LIT("abd")));
	assert_false(str_eq(STR_LIT("abc"), STR_LIT("ab")));
	assert_true(str_eq(STR_LIT(""), str_c("")));
	assert_true(str_eq_nocase(STR_LIT("HeLLo"), STR_LIT("hello")));
	assert_false(str_eq_nocase(STR_LIT("hello\xc3"), STR_LIT("HELLO\xe3")));
	assert_true(str_eq_cstr_nocase(STR_LIT("EHLO"), "ehlo"));
	assert_true(str_has_prefix_nocase(STR_LIT("MAIL FROM:<a>"), "mail from:"));
	assert_false(str_has_prefix_nocase(STR_LIT("MAIL"), "mail from:"));
}

static void test_str_trim(void **state)
{
	struct str s = str_trim(STR_LIT(" \t a b \r\n"));
	assert_int_equal(s.len, 3);
	assert_memory_equal(s.p, "a b", 3);
	s = str_trim(STR_LIT("   "));
	assert_int_equal(s.len, 0);
}

static void test_str_to_u64_rejects_junk_and_overflow(void **state)
{
	uint64_t v;
	assert_true(str_to_u64(STR_LIT("0"), &v));
	assert_int_equal(v, 0);
	assert_true(str_to_u64(STR_LIT("18446744073709551615"), &v));
	assert_true(v == UINT64_MAX);
	assert_false(str_to_u64(STR_LIT("18446744073709551616"), &v));
	assert_false(str_to_u64(STR_LIT(""), &v));
	assert_false(str_to_u64(STR_LIT("-1"), &v));
	assert_false(str_to_u64(STR_LIT("+1"), &v));
	assert_false(str_to_u64(STR_LIT("1 "), &v));
	assert_false(str_to_u64(STR_LIT("0x10"), &v));
	/* no reading past len */
	assert_true(str_to_u64((struct str){"123abc", 3}, &v));
	assert_int_equal(v, 123);
}

static void test_str_dup_lower_folds_ascii_only(void **state)
{
	char *s = str_dup_lower(STR_LIT("AbC\xc3\x89"));
	assert_string_equal(s, "abc\xc3\x89");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_buffer_is_an_empty_c_string),
		cmocka_unit_test(test_append_keeps_embedded_nuls_and_terminates),
		cmocka_unit_test(test_growth_never_truncates),
		cmocka_unit_test(test_printf_of_a_long_string_is_whole),
		cmocka_unit_test(test_consume_and_truncate),
		cmocka_unit_test(test_steal_hands_over_the_memory),
		cmocka_unit_test(test_xfree_sets_the_pointer_to_null),
		cmocka_unit_test(test_str_comparisons),
		cmocka_unit_test(test_str_trim),
		cmocka_unit_test(test_str_to_u64_rejects_junk_and_overflow),
		cmocka_unit_test(test_str_dup_lower_folds_ascii_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
