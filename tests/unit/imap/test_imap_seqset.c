/*
 * Unit tests for src/imap/imap_seqset.c: numbers, ranges either way round,
 * "*", "$", comma lists, normalisation (sorted, merged, star ranges last),
 * every malformed form, the 10000-range limit at its edge, and membership with
 * "*" standing for the largest number in use, checked against a linear scan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

#define STAR IMAP_SEQ_STAR

/* The set as "lo:hi,..." with "*" for IMAP_SEQ_STAR, or "$". */
static char *render(const struct imap_seqset *set)
{
	struct buf b = BUF_INIT;
	if (set->saved)
		buf_putc(&b, '$');
	for (size_t k = 0; k < set->nranges; k++) {
		if (k)
			buf_putc(&b, ',');
		if (set->ranges[k].lo == STAR)
			buf_putc(&b, '*');
		else
			buf_printf(&b, "%u", set->ranges[k].lo);
		buf_putc(&b, ':');
		if (set->ranges[k].hi == STAR)
			buf_putc(&b, '*');
		else
			buf_printf(&b, "%u", set->ranges[k].hi);
	}
	return buf_steal(&b);
}

struct set_case {
	const char *in;
	const char *want; /* NULL: malformed */
};

static void run_cases(const struct set_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct imap_seqset set;
		int rc = imap_seqset_parse(str_c(cases[i].in), &set);
		if (!cases[i].want) {
			if (rc != -1)
				fail_msg("\"%s\" parsed", cases[i].in);
			assert_null(set.ranges);
			assert_int_equal(set.nranges, 0);
			assert_false(set.saved);
			continue;
		}
		if (rc != 0)
			fail_msg("\"%s\" did not parse", cases[i].in);
		char *got = render(&set);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("\"%s\": %s, want %s", cases[i].in, got, cases[i].want);
		free(got);
		imap_seqset_free(&set);
	}
}

static void test_numbers_ranges_and_star_parse(void **state)
{
	static const struct set_case cases[] = {
	        {"1", "1:1"},
	        {"42", "42:42"},
	        {"2:4", "2:4"},
	        {"4:2", "2:4"},
	        {"*", "*:*"},
	        {"1:*", "1:*"},
	        {"*:1", "1:*"},
	        {"*:*", "*:*"},
	        {"4294967294", "4294967294:4294967294"},
	        {"4294967295", "4294967294:4294967294"},
	        {"1:4294967295", "1:4294967294"},
	        {"4827313:4828442", "4827313:4828442"},
	        {"$", "$"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_lists_come_out_sorted_merged_and_with_star_last(void **state)
{
	static const struct set_case cases[] = {
	        {"1,3,5", "1:1,3:3,5:5"},
	        {"5,3,1", "1:1,3:3,5:5"},
	        {"1,2,3", "1:3"},
	        {"3:5,1:2", "1:5"},
	        {"1:10,5:7", "1:10"},
	        {"1:5,4:8,20", "1:8,20:20"},
	        {"7,7,7", "7:7"},
	        {"2,*", "2:2,*:*"},
	        {"*,2", "2:2,*:*"},
	        {"10:*,3:*,*", "3:*,10:*"},
	        {"*,*:*,4294967295", "4294967294:4294967294,*:*"},
	        {"10:*,3:*,7:*", "3:*,10:*"},
	        {"3:*,3:*", "3:*"},
	        /* a star range is never merged with a finite one */
	        {"1:5,3:*", "1:5,3:*"},
	        {"5:*,1:100", "1:100,5:*"},
	        {"4294967294,4294967295", "4294967294:4294967294"},
	        {"1:4294967294,2", "1:4294967294"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_malformed_sets_are_refused(void **state)
{
	static const struct set_case cases[] = {
	        {"", NULL},    {"0", NULL},    {"01", NULL},   {"0:5", NULL},
	        {"5:0", NULL}, {"1:", NULL},   {":1", NULL},   {"1,", NULL},
	        {",1", NULL},  {"1,,2", NULL}, {"1::2", NULL}, {"1:2:3", NULL},
	        {"a", NULL},   {"1a", NULL},   {"-1", NULL},   {"+1", NULL},
	        {" 1", NULL},  {"1 ", NULL},   {"1.5", NULL},  {"4294967296", NULL},
	        {"$,1", NULL}, {"1,$", NULL},  {"$$", NULL},   {"$:1", NULL},
	        {"**", NULL},  {"*:", NULL},   {"1:**", NULL}, {"99999999999", NULL},
	        {"1;2", NULL}, {"1:2,", NULL}, {"1\n", NULL},  {"%", NULL},
	};
	run_cases(cases, ARRAY_SIZE(cases));

	/* NUL inside is malformed, not an end. */
	struct imap_seqset set;
	assert_int_equal(imap_seqset_parse((struct str){"1\0"
	                                                "2",
	                                                3},
	                                   &set),
	                 -1);
}

static void test_10000_ranges_pass_and_10001_are_refused(void **state)
{
	struct imap_seqset set;
	struct buf b = BUF_INIT;
	for (unsigned k = 0; k < IMAP_MAX_SEQ_RANGES; k++)
		buf_printf(&b, "%s%u", k ? "," : "", 2 * k + 1);
	assert_int_equal(imap_seqset_parse(str_buf(&b), &set), 0);
	assert_int_equal(set.nranges, IMAP_MAX_SEQ_RANGES);
	assert_true(imap_seqset_contains(&set, 2 * IMAP_MAX_SEQ_RANGES - 1, 100000));
	assert_false(imap_seqset_contains(&set, 2 * IMAP_MAX_SEQ_RANGES, 100000));
	imap_seqset_free(&set);

	buf_printf(&b, ",%u", 2 * IMAP_MAX_SEQ_RANGES + 1);
	assert_int_equal(imap_seqset_parse(str_buf(&b), &set), -1);
	assert_null(set.ranges);

	/* Counted as written, before merging. */
	buf_reset(&b);
	for (unsigned k = 0; k <= IMAP_MAX_SEQ_RANGES; k++)
		buf_printf(&b, "%s1", k ? "," : "");
	assert_int_equal(imap_seqset_parse(str_buf(&b), &set), -1);
	buf_free(&b);
}

struct contains_case {
	const char *set;
	uint32_t n, max;
	bool in;
};

static void test_membership_resolves_star_to_the_largest_number(void **state)
{
	static const struct contains_case cases[] = {
	        {"1", 1, 10, true},
	        {"1", 2, 10, false},
	        {"2:4", 1, 10, false},
	        {"2:4", 2, 10, true},
	        {"2:4", 4, 10, true},
	        {"2:4", 5, 10, false},
	        {"*", 10, 10, true},
	        {"*", 9, 10, false},
	        {"5:*", 4, 10, false},
	        {"5:*", 5, 10, true},
	        {"5:*", 10, 10, true},
	        {"5:*", 11, 10, false},
	        /* "n:*" holds the last message even when n is beyond it */
	        {"559:*", 3, 3, true},
	        {"559:*", 2, 3, false},
	        {"559:*", 100, 3, true},
	        {"559:*", 559, 3, true},
	        {"559:*", 560, 3, false},
	        {"2:*,8:*", 5, 3, true},
	        {"2:*,8:*", 1, 3, false},
	        {"2:*,8:*", 9, 3, false},
	        {"*:559", 3, 3, true},
	        {"1,3,5:7,*", 3, 20, true},
	        {"1,3,5:7,*", 4, 20, false},
	        {"1,3,5:7,*", 6, 20, true},
	        {"1,3,5:7,*", 20, 20, true},
	        {"1,3,5:7,*", 19, 20, false},
	        /* a finite range holds numbers above max: the caller asks about those */
	        {"1:5,3:*", 4, 3, true},
	        {"1:5,3:*", 5, 3, true},
	        {"1:5,3:*", 6, 3, false},
	        {"4294967295", 7, 7, false},
	        {"1:4294967295", 7, 7, true},
	        /* not "*": nothing above the highest number in use */
	        {"9:4294967295", 7, 7, false},
	        {"9:*", 7, 7, true},
	        {"*", 0, 0, true},
	        {"*", 1, 0, false},
	        {"1", 0, 0, false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_seqset set;
		assert_int_equal(imap_seqset_parse(str_c(cases[i].set), &set), 0);
		bool in = imap_seqset_contains(&set, cases[i].n, cases[i].max);
		if (in != cases[i].in)
			fail_msg("%u in \"%s\" (max %u): %d", cases[i].n, cases[i].set,
			         cases[i].max, in);
		imap_seqset_free(&set);
	}
}

/* Whether n is in the set as written (no normalisation), by brute force. */
static bool naive_contains(const char *text, uint32_t n, uint32_t max)
{
	char *copy = strdup(text), *save = NULL;
	bool in = false;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':');
		const char *b = colon ? colon + 1 : item;
		if (colon)
			*colon = '\0';
		uint32_t lo = item[0] == '*' ? max : (uint32_t)strtoul(item, NULL, 10);
		uint32_t hi = b[0] == '*' ? max : (uint32_t)strtoul(b, NULL, 10);
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		in = in || (n >= lo && n <= hi);
	}
	free(copy);
	return in;
}

static void test_membership_agrees_with_a_linear_scan_of_the_set_as_written(void **state)
{
	static const char *const sets[] = {
	        "1,3,5:7,9:12,20:*", "30:20,25,1:2,*:28", "8,6,4,2,100:*,50:60", "2:3,5:6,8:9",
	        "10:*,3:*,7:*,*",    "*:15,4,5,6,16:17",  "45:*,1:44",           "12,*:3,11,13",
	};
	for (size_t i = 0; i < ARRAY_SIZE(sets); i++) {
		struct imap_seqset set;
		assert_int_equal(imap_seqset_parse(str_c(sets[i]), &set), 0);
		for (uint32_t max = 0; max < 60; max++)
			for (uint32_t n = 0; n < 70; n++)
				if (imap_seqset_contains(&set, n, max) !=
				    naive_contains(sets[i], n, max))
					fail_msg("%u in \"%s\" (max %u)", n, sets[i], max);
		imap_seqset_free(&set);
	}
}

static void test_a_saved_set_holds_nothing_until_the_session_resolves_it(void **state)
{
	struct imap_seqset set;
	assert_int_equal(imap_seqset_parse(str_c("$"), &set), 0);
	assert_true(set.saved);
	assert_int_equal(set.nranges, 0);
	assert_false(imap_seqset_contains(&set, 1, 10));
	imap_seqset_free(&set);
	assert_false(set.saved);
	imap_seqset_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_numbers_ranges_and_star_parse),
	        cmocka_unit_test(test_lists_come_out_sorted_merged_and_with_star_last),
	        cmocka_unit_test(test_malformed_sets_are_refused),
	        cmocka_unit_test(test_10000_ranges_pass_and_10001_are_refused),
	        cmocka_unit_test(test_membership_resolves_star_to_the_largest_number),
	        cmocka_unit_test(test_membership_agrees_with_a_linear_scan_of_the_set_as_written),
	        cmocka_unit_test(test_a_saved_set_holds_nothing_until_the_session_resolves_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
