/*
 * Unit tests for src/imap/imap_index.c: the selected mailbox's compact index
 * (5 bytes a message without keywords, 7 with, exact room when reserved and
 * a quarter more past it), keyword sets kept once and read back as given,
 * ids widened past 65535 sets, removal of many messages in one pass, lookups
 * by uid, a long random run checked against a plain model, and the
 * per-command metadata arrays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

static char *set_a[] = {"$Forwarded", "$MDNSent", NULL};
static char *set_a_again[] = {"$Forwarded", "$MDNSent", NULL}; /* equal, other storage */
static char *set_b[] = {"NonJunk", NULL};
static char *set_b_case[] = {"nonjunk", NULL}; /* another set: kept as given */
static char *set_empty[] = {NULL};

static void assert_names(char **got, char **want)
{
	if (!want || !*want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	size_t i = 0;
	for (; want[i]; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
}

static void test_an_index_without_keywords_takes_five_bytes_a_message(void **state)
{
	struct imap_index x = {0};
	imap_index_reserve(&x, 20000);
	for (uint32_t i = 0; i < 20000; i++)
		assert_int_equal(imap_index_push(&x, 3 * i + 1, (uint8_t)(i % 64), NULL), i);
	assert_int_equal(x.n, 20000);
	assert_int_equal(imap_index_memory(&x), 20000 * 5);
	assert_null(x.kw);
	for (uint32_t i = 0; i < 20000; i++) {
		assert_int_equal(imap_index_find(&x, 3 * i + 1), i);
		assert_int_equal(imap_index_find(&x, 3 * i + 2), -1);
		assert_int_equal(imap_index_lower_bound(&x, 3 * i + 2), i + 1);
		assert_int_equal(x.flags[i], i % 64);
		assert_null(imap_index_keywords(&x, i));
	}
	assert_int_equal(imap_index_find(&x, 0), -1);
	assert_int_equal(imap_index_lower_bound(&x, 0), 0);
	imap_index_free(&x);
	assert_int_equal(x.n, 0);
	assert_null(x.uids);
}

static void test_growth_past_the_reserve_adds_a_quarter(void **state)
{
	struct imap_index x = {0};
	imap_index_reserve(&x, 1000);
	for (uint32_t i = 1; i <= 1001; i++)
		imap_index_push(&x, i, 0, NULL);
	assert_int_equal(x.cap, 1000 + 250 + 16);
	assert_int_equal(imap_index_memory(&x), x.cap * 5);
	/* from nothing, small steps */
	struct imap_index y = {0};
	imap_index_push(&y, 7, 0, NULL);
	assert_int_equal(y.cap, 16);
	imap_index_free(&x);
	imap_index_free(&y);
}

static void test_keyword_sets_are_kept_once_and_read_back_as_given(void **state)
{
	struct imap_index x = {0};
	imap_index_reserve(&x, 6);
	imap_index_push(&x, 1, 0, set_a);
	imap_index_push(&x, 2, 0, NULL);
	imap_index_push(&x, 3, 0, set_a_again);
	imap_index_push(&x, 4, 0, set_b);
	imap_index_push(&x, 5, 0, set_empty);
	imap_index_push(&x, 6, 0, set_b_case);
	assert_int_equal(x.nsets, 3);
	assert_int_equal(x.kw_size, 2);
	assert_names(imap_index_keywords(&x, 0), set_a);
	assert_null(imap_index_keywords(&x, 1));
	assert_names(imap_index_keywords(&x, 2), set_a);
	assert_ptr_equal(imap_index_keywords(&x, 0), imap_index_keywords(&x, 2));
	assert_ptr_not_equal(imap_index_keywords(&x, 0), set_a); /* a copy */
	assert_names(imap_index_keywords(&x, 3), set_b);
	assert_null(imap_index_keywords(&x, 4));
	assert_names(imap_index_keywords(&x, 5), set_b_case);
	/* 2 bytes more a message once any has keywords */
	size_t sets = imap_index_memory(&x) - 6 * 7;
	assert_true(sets > 0 && sets < 512);
	/* a message's set changes alone */
	imap_index_set_keywords(&x, 1, set_b);
	imap_index_set_keywords(&x, 0, NULL);
	assert_null(imap_index_keywords(&x, 0));
	assert_names(imap_index_keywords(&x, 1), set_b);
	assert_names(imap_index_keywords(&x, 2), set_a);
	assert_int_equal(x.nsets, 3);
	imap_index_free(&x);
}

static void test_more_than_65535_keyword_sets_widen_the_ids(void **state)
{
	enum { N = 80000 }; /* 68571 sets */
	struct imap_index x = {0};
	imap_index_reserve(&x, N);
	char name[32];
	char *names[] = {name, NULL};
	for (uint32_t i = 0; i < N; i++) {
		snprintf(name, sizeof name, "k%u", i);
		imap_index_push(&x, i + 1, 0, i % 7 ? names : NULL);
	}
	assert_int_equal(x.kw_size, 4);
	for (uint32_t i = 0; i < N; i++) {
		snprintf(name, sizeof name, "k%u", i);
		assert_names(imap_index_keywords(&x, i), i % 7 ? names : NULL);
	}
	/* a set met again is found again, not added */
	size_t nsets = x.nsets;
	snprintf(name, sizeof name, "k%u", 1);
	imap_index_set_keywords(&x, 0, names);
	assert_int_equal(x.nsets, nsets);
	assert_ptr_equal(imap_index_keywords(&x, 0), imap_index_keywords(&x, 1));
	imap_index_free(&x);
}

static void test_removal_takes_many_messages_out_in_one_pass(void **state)
{
	struct imap_index x = {0};
	for (uint32_t i = 1; i <= 10; i++)
		imap_index_push(&x, i * 10, (uint8_t)i, i % 2 ? set_a : set_b);
	const size_t del[] = {0, 3, 4, 9};
	imap_index_remove(&x, del, 4);
	imap_index_remove(&x, del, 0);
	const uint32_t want[] = {20, 30, 60, 70, 80, 90};
	assert_int_equal(x.n, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(x.uids[i], want[i]);
		assert_int_equal(x.flags[i], want[i] / 10);
		assert_names(imap_index_keywords(&x, i), (want[i] / 10) % 2 ? set_a : set_b);
	}
	const size_t all[] = {0, 1, 2, 3, 4, 5};
	imap_index_remove(&x, all, 6);
	assert_int_equal(x.n, 0);
	assert_int_equal(imap_index_find(&x, 20), -1);
	imap_index_free(&x);
}

/* A plain model: each message's uid, flags and keyword set (an index into
   pool, or -1). */
struct model {
	uint32_t uid[4096];
	uint8_t flags[4096];
	int set[4096];
	size_t n;
};

static void test_a_random_run_agrees_with_a_plain_model(void **state)
{
	static char *pool_names[][4] = {
	        {"a", NULL}, {"a", "b", NULL}, {"b", NULL}, {"$Junk", NULL}, {"x", "y", "z", NULL}};
	static struct model m;
	memset(&m, 0, sizeof m);
	struct imap_index x = {0};
	srand(7);
	uint32_t next_uid = 1;
	for (int step = 0; step < 20000; step++) {
		int op = rand() % 10;
		if (op < 6 && m.n < 4096) {
			next_uid += 1 + (uint32_t)(rand() % 3);
			int set = rand() % 3 ? -1 : rand() % 5;
			uint8_t f = (uint8_t)(rand() % 64);
			imap_index_push(&x, next_uid, f, set < 0 ? NULL : pool_names[set]);
			m.uid[m.n] = next_uid;
			m.flags[m.n] = f;
			m.set[m.n++] = set;
		} else if (op < 8 && m.n) {
			size_t i = (size_t)rand() % m.n;
			int set = rand() % 6 - 1;
			imap_index_set_keywords(&x, i, set < 0 ? NULL : pool_names[set]);
			m.set[i] = set;
		} else if (m.n) {
			size_t del[64], nd = 0;
			for (size_t i = (size_t)rand() % 8; i < m.n && nd < 64;
			     i += 1 + (size_t)rand() % 40)
				del[nd++] = i;
			imap_index_remove(&x, del, nd);
			size_t to = 0, d = 0;
			for (size_t i = 0; i < m.n; i++) {
				if (d < nd && del[d] == i) {
					d++;
					continue;
				}
				m.uid[to] = m.uid[i];
				m.flags[to] = m.flags[i];
				m.set[to++] = m.set[i];
			}
			m.n = to;
		}
		if (step % 997 != 0 && step != 19999)
			continue;
		assert_int_equal(x.n, m.n);
		for (size_t i = 0; i < m.n; i++) {
			assert_int_equal(x.uids[i], m.uid[i]);
			assert_int_equal(x.flags[i], m.flags[i]);
			assert_names(imap_index_keywords(&x, i),
			             m.set[i] < 0 ? NULL : pool_names[m.set[i]]);
			assert_int_equal(imap_index_find(&x, m.uid[i]), (long)i);
		}
	}
	assert_true(x.nsets <= 5);
	imap_index_free(&x);
}

static void test_metadata_is_found_by_uid(void **state)
{
	struct imap_meta meta = {0};
	assert_null(imap_meta_find(&meta, 1));
	assert_null(imap_meta_find(NULL, 1));
	for (uint32_t uid = 2; uid <= 400; uid += 2)
		imap_meta_push(&meta,
		               &(struct imap_meta_msg){uid, uid * 10ull, -(int64_t)uid, uid + 1});
	assert_int_equal(meta.n, 200);
	for (uint32_t uid = 1; uid <= 401; uid++) {
		const struct imap_meta_msg *m = imap_meta_find(&meta, uid);
		if (uid % 2) {
			assert_null(m);
			continue;
		}
		assert_non_null(m);
		assert_int_equal(m->uid, uid);
		assert_int_equal(m->modseq, uid * 10ull);
		assert_int_equal(m->internaldate, -(int64_t)uid);
		assert_int_equal(m->size, uid + 1);
	}
	imap_meta_free(&meta);
	assert_int_equal(meta.n, 0);
	assert_null(imap_meta_find(&meta, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_an_index_without_keywords_takes_five_bytes_a_message),
	        cmocka_unit_test(test_growth_past_the_reserve_adds_a_quarter),
	        cmocka_unit_test(test_keyword_sets_are_kept_once_and_read_back_as_given),
	        cmocka_unit_test(test_more_than_65535_keyword_sets_widen_the_ids),
	        cmocka_unit_test(test_removal_takes_many_messages_out_in_one_pass),
	        cmocka_unit_test(test_a_random_run_agrees_with_a_plain_model),
	        cmocka_unit_test(test_metadata_is_found_by_uid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
