/*
 * Unit tests for src/imap/imap_thread.c: Message-ID extraction, and both
 * threading algorithms on crafted mailboxes — the RFC 5256 example shapes,
 * missing parents (dummies kept or pruned), loops in References, duplicate
 * and missing Message-IDs, truncated References, grouping by base subject,
 * ordering by date with ties in mailbox order, and a very deep thread (no
 * recursion).
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

/* ---- helpers --------------------------------------------------------------- */

/* A message of a test mailbox: numbered from 1 in order. refs is a
   References value, subject a raw Subject. */
struct spec {
	const char *msgid;
	const char *refs;
	const char *subject;
	int64_t date;
};

static char *run(enum imap_thread_alg alg, const struct spec *sp, size_t n)
{
	struct imap_thread_msg *m = calloc(n ? n : 1, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		m[i].id = (uint32_t)i + 1;
		m[i].date = sp[i].date;
		m[i].msgid = sp[i].msgid;
		if (sp[i].refs)
			imap_thread_msgids(sp[i].refs, strlen(sp[i].refs), IMAP_MAX_THREAD_REFS,
			                   &m[i].refs, &m[i].nrefs);
		struct buf b = BUF_INIT;
		const char *subj = sp[i].subject ? sp[i].subject : "";
		imap_base_subject(subj, strlen(subj), &b, &m[i].reply);
		m[i].subject = buf_steal(&b);
	}
	struct buf out = BUF_INIT;
	imap_thread(alg, m, n, &out);
	for (size_t i = 0; i < n; i++) {
		imap_thread_msgids_free(&m[i].refs, m[i].nrefs);
		free((char *)m[i].subject);
	}
	free(m);
	return buf_steal(&out);
}

static void assert_threads(enum imap_thread_alg alg, const struct spec *sp, size_t n,
                           const char *want)
{
	char *got = run(alg, sp, n);
	if (strcmp(got, want) != 0)
		fail_msg("threads \"%s\", want \"%s\"", got, want);
	free(got);
}

#define REFS(...)                                                                                  \
	IMAP_THREAD_REFERENCES, (const struct spec[])                                              \
	{                                                                                          \
		__VA_ARGS__                                                                        \
	}

/* ---- Message-IDs ------------------------------------------------------------------ */

static void test_msgids_are_read_in_order_and_junk_skipped(void **state)
{
	char **ids = NULL;
	size_t n = 0;
	const char *v = " <a@b> junk <no-at> <c@d>\r\n\t<e @ f> < <g@h>> <>";
	imap_thread_msgids(v, strlen(v), 100, &ids, &n);
	assert_int_equal(n, 4);
	assert_string_equal(ids[0], "<a@b>");
	assert_string_equal(ids[1], "<c@d>");
	assert_string_equal(ids[2], "<e@f>");
	assert_string_equal(ids[3], "<g@h>");
	imap_thread_msgids_free(&ids, n);
	assert_null(ids);
	n = 0;
	imap_thread_msgids(v, strlen(v), 2, &ids, &n);
	assert_int_equal(n, 2);
	imap_thread_msgids_free(&ids, n);
	n = 0;
	imap_thread_msgids("<unclosed@x", 11, 10, &ids, &n);
	assert_int_equal(n, 0);
	assert_null(ids);
}

/* ---- REFERENCES -------------------------------------------------------------------- */

static void test_replies_hang_under_their_parents(void **state)
{
	struct spec m[] = {
	        {"<1@x>", NULL, "a", 10},        {"<2@x>", "<1@x>", "Re: a", 20},
	        {"<3@x>", "<1@x>", "Re: a", 30}, {"<4@x>", "<1@x> <2@x>", "Re: a", 40},
	        {"<5@x>", NULL, "b", 5},
	};
	assert_threads(IMAP_THREAD_REFERENCES, m, 5, "(5)(1 (2 4)(3))");
}

static void test_a_missing_parent_with_two_children_stays_a_dummy(void **state)
{
	struct spec m[] = {
	        {NULL, "<a@b>", "x", 1},
	        {NULL, "<a@b>", "y", 2},
	};
	assert_threads(IMAP_THREAD_REFERENCES, m, 2, "((1)(2))");
}

static void test_a_missing_parent_with_one_child_is_pruned(void **state)
{
	struct spec m[] = {
	        {"<2@x>", "<gone@x>", "Re: x", 1},
	        {"<3@x>", "<gone@x> <2@x>", "Re: x", 2},
	};
	assert_threads(IMAP_THREAD_REFERENCES, m, 2, "(1 2)");
}

static void test_missing_middle_of_a_chain_is_pruned(void **state)
{
	struct spec m[] = {
	        {"<1@x>", NULL, "x", 1},
	        {"<3@x>", "<1@x> <2@x>", "Re: x", 3},
	        {"<4@x>", "<1@x> <2@x>", "Re: x", 4},
	};
	/* <2@x> is a dummy below 1 with two children: they move up to 1 */
	assert_threads(IMAP_THREAD_REFERENCES, m, 3, "(1 (2)(3))");
}

static void test_loops_in_references_are_not_made(void **state)
{
	/* Dovecot's "thread" case: 2 says 1 > 3 > 2, 3 says 2 > 3 */
	struct spec m[] = {
	        {"<a@b>", NULL, NULL, 100},
	        {"<b@b>", "<a@b> <c@b>", NULL, 50},
	        {"<c@b>", "<b@b>", NULL, 60},
	};
	assert_threads(IMAP_THREAD_REFERENCES, m, 3, "(3 2)(1)");
	struct spec self[] = {
	        {"<a@b>", "<a@b>", NULL, 1},
	        {"<b@b>", "<b@b> <a@b> <b@b>", NULL, 2},
	};
	/* 2's References make b the parent of a, and then a of b, which would be
	   a loop: the first link stands, and 2 cannot be its own child */
	assert_threads(IMAP_THREAD_REFERENCES, self, 2, "(2 1)");
}

static void test_duplicate_message_ids_are_kept_apart(void **state)
{
	struct spec m[] = {
	        {"<same@x>", NULL, "one", 1},
	        {"<same@x>", NULL, "two", 2},
	        {"<r@x>", "<same@x>", "Re: one", 3},
	};
	/* the reply goes to the first holder of the id */
	assert_threads(IMAP_THREAD_REFERENCES, m, 3, "(1 3)(2)");
}

static void test_a_truncated_references_field_moves_the_message(void **state)
{
	struct spec m[] = {
	        {"<p@x>", NULL, "p", 1},
	        {"<q@x>", NULL, "q", 2},
	        {"<c@x>", "<p@x>", "Re: p", 3},
	        {"<d@x>", "<q@x> <c@x>", "Re: p", 4},
	};
	/* 4 said c is a child of q: c is already 3's, whose parent p stays;
	   the link of c itself (p) does not change */
	assert_threads(IMAP_THREAD_REFERENCES, m, 4, "(1 3 4)(2)");
}

static void test_roots_with_one_subject_are_gathered(void **state)
{
	struct spec both_new[] = {
	        {"<1@x>", NULL, "Lunch", 1},
	        {"<2@x>", NULL, "lunch", 2},
	};
	assert_threads(IMAP_THREAD_REFERENCES, both_new, 2, "((1)(2))");
	struct spec reply_later[] = {
	        {"<1@x>", NULL, "Lunch", 1},
	        {"<2@x>", NULL, "Re: lunch", 2},
	};
	assert_threads(IMAP_THREAD_REFERENCES, reply_later, 2, "(1 2)");
	struct spec reply_first[] = {
	        {"<1@x>", NULL, "Re: lunch", 1},
	        {"<2@x>", NULL, "Lunch", 2},
	};
	assert_threads(IMAP_THREAD_REFERENCES, reply_first, 2, "(2 1)");
	struct spec empty[] = {
	        {"<1@x>", NULL, "", 1},
	        {"<2@x>", NULL, "Re:", 2},
	};
	assert_threads(IMAP_THREAD_REFERENCES, empty, 2, "(1)(2)");
	/* a dummy root gathers a message of its subject */
	struct spec dummy[] = {
	        {NULL, "<gone@x>", "Party", 1},
	        {NULL, "<gone@x>", "Re: party", 2},
	        {"<3@x>", NULL, "Re: Party", 3},
	};
	assert_threads(IMAP_THREAD_REFERENCES, dummy, 3, "((1)(2)(3))");
}

static void test_siblings_sort_by_date_then_mailbox_order(void **state)
{
	struct spec m[] = {
	        {"<1@x>", NULL, "a", 50},        {"<2@x>", "<1@x>", "Re: a", 90},
	        {"<3@x>", "<1@x>", "Re: a", 70}, {"<4@x>", "<1@x>", "Re: a", 70},
	        {"<5@x>", NULL, "b", 50},
	};
	assert_threads(IMAP_THREAD_REFERENCES, m, 5, "(1 (3)(4)(2))(5)");
}

static void test_in_reply_to_stands_in_for_references(void **state)
{
	/* The command puts In-Reply-To's first id in refs when References has
	   none; here the refs are given as the command would. */
	struct spec m[] = {
	        {"<1@x>", NULL, "a", 1},
	        {"<2@x>", "<1@x>", "b", 2},
	};
	assert_threads(IMAP_THREAD_REFERENCES, m, 2, "(1 2)");
}

static void test_an_empty_mailbox_has_no_threads(void **state)
{
	assert_threads(IMAP_THREAD_REFERENCES, NULL, 0, "");
	assert_threads(IMAP_THREAD_ORDEREDSUBJECT, NULL, 0, "");
}

static void test_a_very_deep_thread_is_written_without_recursion(void **state)
{
	enum { N = 100000 };
	struct imap_thread_msg *m = calloc(N, sizeof(*m));
	char(*ids)[32] = calloc(N, 32);
	for (size_t i = 0; i < N; i++) {
		snprintf(ids[i], 32, "<%zu@x>", i);
		m[i].id = (uint32_t)i + 1;
		m[i].date = (int64_t)i;
		m[i].msgid = ids[i];
		m[i].subject = "";
		if (i) {
			m[i].refs = malloc(sizeof(char *));
			m[i].refs[0] = ids[i - 1];
			m[i].nrefs = 1;
		}
	}
	struct buf out = BUF_INIT;
	imap_thread(IMAP_THREAD_REFERENCES, m, N, &out);
	assert_true(out.len > N);
	assert_int_equal(out.data[0], '(');
	assert_memory_equal(out.data, "(1 2 3 ", 7);
	assert_int_equal(out.data[out.len - 1], ')');
	buf_free(&out);
	for (size_t i = 0; i < N; i++)
		free(m[i].refs);
	free(m);
	free(ids);
}

/* ---- ORDEREDSUBJECT ---------------------------------------------------------------- */

static void test_orderedsubject_groups_by_subject_sorted_by_date(void **state)
{
	/* Dovecot's thread-orderedsubject2 mailbox (dates in UTC) */
	struct spec m[] = {
	        {NULL, NULL, "a", 10}, {NULL, NULL, "b", 9},  {NULL, NULL, "a", 8},
	        {NULL, NULL, "b", 7},  {NULL, NULL, "a", 30}, {NULL, NULL, "b", 29},
	        {NULL, NULL, "a", 28}, {NULL, NULL, "b", 27},
	};
	assert_threads(IMAP_THREAD_ORDEREDSUBJECT, m, 8, "(4 (2)(8)(6))(3 (1)(7)(5))");
	struct spec two[] = {
	        {NULL, NULL, "Re: x", 2},
	        {NULL, NULL, "x", 1},
	        {NULL, NULL, "y", 1},
	};
	assert_threads(IMAP_THREAD_ORDEREDSUBJECT, two, 3, "(2 1)(3)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_msgids_are_read_in_order_and_junk_skipped),
	        cmocka_unit_test(test_replies_hang_under_their_parents),
	        cmocka_unit_test(test_a_missing_parent_with_two_children_stays_a_dummy),
	        cmocka_unit_test(test_a_missing_parent_with_one_child_is_pruned),
	        cmocka_unit_test(test_missing_middle_of_a_chain_is_pruned),
	        cmocka_unit_test(test_loops_in_references_are_not_made),
	        cmocka_unit_test(test_duplicate_message_ids_are_kept_apart),
	        cmocka_unit_test(test_a_truncated_references_field_moves_the_message),
	        cmocka_unit_test(test_roots_with_one_subject_are_gathered),
	        cmocka_unit_test(test_siblings_sort_by_date_then_mailbox_order),
	        cmocka_unit_test(test_in_reply_to_stands_in_for_references),
	        cmocka_unit_test(test_an_empty_mailbox_has_no_threads),
	        cmocka_unit_test(test_a_very_deep_thread_is_written_without_recursion),
	        cmocka_unit_test(test_orderedsubject_groups_by_subject_sorted_by_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
