/*
 * Unit tests for src/imap/imap_parse_cond.c: SELECT/EXAMINE parameters
 * (CONDSTORE, QRESYNC with every optional part) and STORE's UNCHANGEDSINCE,
 * their limits (63-bit mod-sequences, seq-match-data size) and every error
 * path. Commands go through the tokenizer first, as in the session.
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

/* Parses "t SELECT INBOX <params>" and interprets the parameter list. */
static int select_params(const char *params, struct imap_select_params *p)
{
	struct imap_cmd cmd;
	struct buf line = BUF_INIT, why = BUF_INIT;
	imap_cmd_init(&cmd);
	buf_printf(&line, "t SELECT INBOX %s", params);
	if (imap_parse_command(line.data, line.len, &cmd, NULL) != IMAP_PARSE_OK)
		fail_msg("\"%s\" does not tokenize", params);
	assert_int_equal(cmd.nargs, 2);
	int rc = imap_select_params_parse(&cmd.args[1], p, &why);
	if (rc == 0) {
		assert_int_equal(why.len, 0);
	} else {
		assert_true(why.len > 0);
		assert_false(p->condstore || p->qresync);
		assert_null(p->q.match_msn);
		assert_null(p->q.known_uids.ranges);
	}
	imap_cmd_free(&cmd);
	buf_free(&line);
	buf_free(&why);
	return rc;
}

static int unchangedsince(const char *mods, uint64_t *v)
{
	struct imap_cmd cmd;
	struct buf line = BUF_INIT;
	imap_cmd_init(&cmd);
	buf_printf(&line, "t STORE 1 %s +FLAGS (\\Seen)", mods);
	if (imap_parse_command(line.data, line.len, &cmd, NULL) != IMAP_PARSE_OK)
		fail_msg("\"%s\" does not tokenize", mods);
	int rc = imap_store_modifiers_parse(&cmd.args[1], v, NULL);
	imap_cmd_free(&cmd);
	buf_free(&line);
	return rc;
}

static void test_condstore(void **state)
{
	struct imap_select_params p;
	assert_int_equal(select_params("(CONDSTORE)", &p), 0);
	assert_true(p.condstore);
	assert_false(p.qresync);
	imap_select_params_free(&p);
	assert_int_equal(select_params("(condstore)", &p), 0);
	assert_true(p.condstore);
	imap_select_params_free(&p);
}

static void test_qresync_minimal(void **state)
{
	/* RFC 7162 example: SELECT INBOX (QRESYNC (67890007 20050715194045000)) */
	struct imap_select_params p;
	assert_int_equal(select_params("(QRESYNC (67890007 20050715194045000))", &p), 0);
	assert_true(p.qresync);
	assert_int_equal(p.q.uidvalidity, 67890007);
	assert_true(p.q.modseq == 20050715194045000ULL);
	assert_false(p.q.has_known_uids);
	assert_int_equal(p.q.nmatch, 0);
	imap_select_params_free(&p);
}

static void test_qresync_full(void **state)
{
	/* RFC 7162 example with known uids and seq-match-data */
	struct imap_select_params p;
	assert_int_equal(select_params("(QRESYNC (67890007 90060115194045000 41:211,214:541 "
	                               "(1:5,7 41,43:46,52)) CONDSTORE)",
	                               &p),
	                 0);
	assert_true(p.qresync && p.condstore);
	assert_true(p.q.has_known_uids);
	assert_true(imap_seqset_contains(&p.q.known_uids, 41, 1000));
	assert_false(imap_seqset_contains(&p.q.known_uids, 212, 1000));
	assert_int_equal(p.q.nmatch, 6);
	uint32_t msn[] = {1, 2, 3, 4, 5, 7}, uid[] = {41, 43, 44, 45, 46, 52};
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(p.q.match_msn[i], msn[i]);
		assert_int_equal(p.q.match_uid[i], uid[i]);
	}
	imap_select_params_free(&p);
	/* seq-match-data without known-uids */
	assert_int_equal(select_params("(QRESYNC (1 2 (1:2 5,9)))", &p), 0);
	assert_false(p.q.has_known_uids);
	assert_int_equal(p.q.nmatch, 2);
	imap_select_params_free(&p);
}

static void test_qresync_limits(void **state)
{
	struct imap_select_params p;
	/* the largest mod-sequence, and one above it */
	assert_int_equal(select_params("(QRESYNC (1 9223372036854775807))", &p), 0);
	assert_true(p.q.modseq == 9223372036854775807ULL);
	imap_select_params_free(&p);
	assert_int_equal(select_params("(QRESYNC (1 9223372036854775808))", &p), -1);
	/* seq-match-data at and over its limit: refused before anything is allocated */
	char text[128];
	snprintf(text, sizeof text, "(QRESYNC (1 2 (1:%d 1:%d)))", IMAP_MAX_SEQ_MATCH,
	         IMAP_MAX_SEQ_MATCH);
	assert_int_equal(select_params(text, &p), 0);
	assert_int_equal(p.q.nmatch, IMAP_MAX_SEQ_MATCH);
	imap_select_params_free(&p);
	snprintf(text, sizeof text, "(QRESYNC (1 2 (1:%d 1:%d)))", IMAP_MAX_SEQ_MATCH + 1,
	         IMAP_MAX_SEQ_MATCH + 1);
	assert_int_equal(select_params(text, &p), -1);
	assert_int_equal(select_params("(QRESYNC (1 2 (1:4000000000 1:4000000000)))", &p), -1);
}

static void test_select_params_errors(void **state)
{
	static const char *const bad[] = {
	        "()",
	        "(FOO)",
	        "(CONDSTORE CONDSTORE)",
	        "(QRESYNC)",
	        "(QRESYNC ())",
	        "(QRESYNC (1))",
	        "(QRESYNC (0 1))",
	        "(QRESYNC (1 0))",
	        "(QRESYNC (x 1))",
	        "(QRESYNC (1 x))",
	        "(QRESYNC (1 2 1:*))",
	        "(QRESYNC (1 2 $))",
	        "(QRESYNC (1 2 0:3))",
	        "(QRESYNC (1 2 1:3 (1:2 1:3)))",
	        "(QRESYNC (1 2 1:3 (1:2)))",
	        "(QRESYNC (1 2 1:3 (1:* 1:3)))",
	        "(QRESYNC (1 2 1:3 (1:2 1:2) 5))",
	        "(QRESYNC (1 2 1:3 1:3))",
	        "(QRESYNC (1 2) QRESYNC (1 2))",
	        "(QRESYNC 1 2)",
	        "(\"CONDSTORE\")",
	        "((CONDSTORE))",
	        "(QRESYNC (4294967296 1))",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct imap_select_params p;
		if (select_params(bad[i], &p) != -1)
			fail_msg("accepted %s", bad[i]);
	}
	/* not a list at all */
	struct imap_arg atom = {.type = IMAP_ARG_ATOM, .value = STR_LIT("CONDSTORE")};
	struct imap_select_params p;
	assert_int_equal(imap_select_params_parse(&atom, &p, NULL), -1);
}

static void test_unchangedsince(void **state)
{
	uint64_t v = 99;
	assert_int_equal(unchangedsince("(UNCHANGEDSINCE 0)", &v), 0);
	assert_true(v == 0);
	assert_int_equal(unchangedsince("(unchangedsince 320162338)", &v), 0);
	assert_true(v == 320162338);
	assert_int_equal(unchangedsince("(UNCHANGEDSINCE 9223372036854775807)", &v), 0);
	static const char *const bad[] = {
	        "(UNCHANGEDSINCE 9223372036854775808)",
	        "(UNCHANGEDSINCE)",
	        "(UNCHANGEDSINCE -1)",
	        "(UNCHANGEDSINCE x)",
	        "(CHANGEDSINCE 1)",
	        "()",
	        "(UNCHANGEDSINCE 1 2)",
	        "(UNCHANGEDSINCE (1))",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (unchangedsince(bad[i], &v) != -1)
			fail_msg("accepted %s", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_condstore),
	        cmocka_unit_test(test_qresync_minimal),
	        cmocka_unit_test(test_qresync_full),
	        cmocka_unit_test(test_qresync_limits),
	        cmocka_unit_test(test_select_params_errors),
	        cmocka_unit_test(test_unchangedsince),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
