/*
 * Unit tests for src/imap/imap_parse_list.c: LIST's arguments in the plain
 * and the LIST-EXTENDED forms (selection options, several patterns, return
 * options with STATUS items, RECURSIVEMATCH's rule, every malformed shape),
 * and APPEND's: one message, flags and date-time, MULTIAPPEND, literal8, UTF8
 * data, the message limit and the malformed shapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

static void assert_str(struct str s, const char *want)
{
	if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
		fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.p, want);
}

/* ---- LIST ------------------------------------------------------------------------------- */

/* The text of the last command list() parsed: the values point into it. */
static struct buf held = BUF_INIT;

/* Parses "t LIST <args>"; the command (and held) stay alive for the pointers. */
static int list(struct imap_cmd *cmd, const char *args, struct imap_list_args *l)
{
	struct buf why = BUF_INIT;
	buf_reset(&held);
	buf_puts(&held, "t LIST ");
	buf_puts(&held, args);
	imap_cmd_init(cmd);
	if (imap_parse_command(held.data, held.len, cmd, NULL) != IMAP_PARSE_OK)
		fail_msg("\"%s\" does not tokenize", args);
	int rc = imap_list_parse(cmd->args, cmd->nargs, l, &why);
	/* A reason exactly on failure; a failure leaves nothing behind. */
	if (rc == 0) {
		assert_int_equal(why.len, 0);
	} else {
		assert_true(why.len > 0);
		assert_null(l->patterns);
		assert_null(l->ref);
		assert_int_equal(l->select | l->ret, 0);
	}
	buf_free(&why);
	return rc;
}

static void test_plain_list_is_a_reference_and_one_pattern(void **state)
{
	struct imap_cmd cmd;
	struct imap_list_args l;
	assert_int_equal(list(&cmd, "\"\" \"*\"", &l), 0);
	assert_false(l.extended);
	assert_int_equal(l.select, 0);
	assert_int_equal(l.ret, 0);
	assert_str(l.ref->value, "");
	assert_int_equal(l.npatterns, 1);
	assert_str(l.patterns[0].value, "*");
	assert_null(l.status);
	imap_cmd_free(&cmd);
	assert_int_equal(list(&cmd, "Work %", &l), 0);
	assert_str(l.ref->value, "Work");
	assert_str(l.patterns[0].value, "%");
	imap_cmd_free(&cmd);
	assert_int_equal(list(&cmd, "{0}\r\n {1}\r\n*", &l), 0);
	assert_str(l.patterns[0].value, "*");
	imap_cmd_free(&cmd);
}

static void test_selection_options_and_several_patterns(void **state)
{
	struct imap_cmd cmd;
	struct imap_list_args l;
	assert_int_equal(
	        list(&cmd, "(subscribed Remote RECURSIVEMATCH) \"\" (\"INBOX\" Sent*)", &l), 0);
	assert_true(l.extended);
	assert_int_equal(l.select,
	                 IMAP_LIST_SUBSCRIBED | IMAP_LIST_REMOTE | IMAP_LIST_RECURSIVEMATCH);
	assert_int_equal(l.ret, 0);
	assert_int_equal(l.npatterns, 2);
	assert_str(l.patterns[0].value, "INBOX");
	assert_str(l.patterns[1].value, "Sent*");
	imap_cmd_free(&cmd);
	/* An empty selection list is the extended form too. */
	assert_int_equal(list(&cmd, "() \"\" %", &l), 0);
	assert_true(l.extended);
	assert_int_equal(l.select, 0);
	imap_cmd_free(&cmd);
	assert_int_equal(list(&cmd, "(SPECIAL-USE RECURSIVEMATCH) \"\" *", &l), 0);
	assert_int_equal(l.select, IMAP_LIST_SPECIAL_USE | IMAP_LIST_RECURSIVEMATCH);
	imap_cmd_free(&cmd);
	/* A list of one pattern is extended. */
	assert_int_equal(list(&cmd, "\"\" (*)", &l), 0);
	assert_true(l.extended);
	assert_int_equal(l.npatterns, 1);
	imap_cmd_free(&cmd);
}

static void test_return_options_with_status_items(void **state)
{
	struct imap_cmd cmd;
	struct imap_list_args l;
	assert_int_equal(list(&cmd,
	                      "\"\" % RETURN (SUBSCRIBED children Special-Use "
	                      "STATUS (MESSAGES UNSEEN SIZE))",
	                      &l),
	                 0);
	assert_true(l.extended);
	assert_int_equal(l.select, 0);
	assert_int_equal(l.ret, IMAP_LIST_SUBSCRIBED | IMAP_LIST_CHILDREN | IMAP_LIST_SPECIAL_USE |
	                                IMAP_LIST_STATUS);
	assert_non_null(l.status);
	assert_int_equal(l.status->nlist, 3);
	assert_str(l.status->list[2].value, "SIZE");
	imap_cmd_free(&cmd);
	assert_int_equal(list(&cmd, "(SUBSCRIBED) \"\" * RETURN ()", &l), 0);
	assert_int_equal(l.ret, 0);
	assert_int_equal(l.select, IMAP_LIST_SUBSCRIBED);
	imap_cmd_free(&cmd);
	/* STATUS items are only atoms here; the session knows which exist. */
	assert_int_equal(list(&cmd, "\"\" * RETURN (STATUS (FOO))", &l), 0);
	imap_cmd_free(&cmd);
}

static void test_malformed_list_arguments_are_refused(void **state)
{
	static const char *const bad[] = {
	        "",
	        "\"\"",
	        "()",
	        "() \"\"",
	        "(FOO) \"\" *",
	        "(CHILDREN) \"\" *", /* a return option, not a selection one */
	        "(STATUS) \"\" *",
	        "(RECURSIVEMATCH) \"\" *",        /* alone */
	        "(RECURSIVEMATCH REMOTE) \"\" *", /* with REMOTE only */
	        "((SUBSCRIBED)) \"\" *",
	        "(\"SUBSCRIBED\") \"\" *",
	        "(SUBSCRIBED) () *",
	        "\"\" ()", /* no pattern */
	        "\"\" ((a))",
	        "\"\" (a (b))",
	        "\"\" * RETURN",
	        "\"\" * RETURN SUBSCRIBED",
	        "\"\" * RETURNS (SUBSCRIBED)",
	        "\"\" * RETURN (FOO)",
	        "\"\" * RETURN (REMOTE)", /* a selection option only */
	        "\"\" * RETURN (RECURSIVEMATCH)",
	        "\"\" * RETURN (STATUS)",
	        "\"\" * RETURN (STATUS ())",
	        "\"\" * RETURN (STATUS MESSAGES)",
	        "\"\" * RETURN (STATUS (\"MESSAGES\"))",
	        "\"\" * RETURN (STATUS ((MESSAGES)))",
	        "\"\" * RETURN (SUBSCRIBED) extra",
	        "\"\" * extra",
	        "\"\" * RETURN (SUBSCRIBED) RETURN (CHILDREN)",
	        "(SUBSCRIBED) \"\" * (SUBSCRIBED)",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct imap_cmd cmd;
		struct imap_list_args l;
		struct buf text = BUF_INIT, why = BUF_INIT;
		buf_printf(&text, "t LIST %s", bad[i]);
		if (!bad[i][0])
			buf_truncate(&text, text.len - 1);
		imap_cmd_init(&cmd);
		if (imap_parse_command(text.data, text.len, &cmd, NULL) != IMAP_PARSE_OK)
			fail_msg("\"%s\" does not tokenize", bad[i]);
		if (imap_list_parse(cmd.args, cmd.nargs, &l, &why) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_true(why.len > 0);
		assert_null(l.patterns);
		imap_cmd_free(&cmd);
		buf_free(&text);
		buf_free(&why);
	}
}

/* NIL is an astring ("NIL"), as a mailbox name may be. */
static void test_nil_is_a_name_as_any_astring(void **state)
{
	struct imap_cmd cmd;
	struct imap_list_args l;
	assert_int_equal(list(&cmd, "NIL NIL", &l), 0);
	assert_int_equal(l.npatterns, 1);
	imap_cmd_free(&cmd);
}

/* ---- APPEND ---------------------------------------------------------------------------- */

static int append(struct imap_cmd *cmd, const char *line, size_t len, struct imap_append_msg **msgs,
                  size_t *n)
{
	struct buf why = BUF_INIT;
	imap_cmd_init(cmd);
	if (imap_parse_command(line, len, cmd, NULL) != IMAP_PARSE_OK)
		fail_msg("\"%s\" does not tokenize", line);
	int rc = imap_append_parse(cmd->args + 1, cmd->nargs - 1, msgs, n, &why);
	if (rc == 0) {
		assert_int_equal(why.len, 0);
		assert_true(*n >= 1);
	} else {
		assert_true(why.len > 0);
		assert_null(*msgs);
		assert_int_equal(*n, 0);
	}
	buf_free(&why);
	return rc;
}

#define APPEND(cmd, lit, msgs, n) append((cmd), (lit), sizeof(lit) - 1, (msgs), (n))

static void test_one_message_with_flags_and_date(void **state)
{
	struct imap_cmd cmd;
	struct imap_append_msg *m;
	size_t n;
	assert_int_equal(APPEND(&cmd,
	                        "t APPEND INBOX (\\Seen $Work) \"27-Nov-2026 12:00:00 +0100\" "
	                        "{5}\r\nHello",
	                        &m, &n),
	                 0);
	assert_int_equal(n, 1);
	assert_non_null(m[0].flags);
	assert_int_equal(m[0].flags->nlist, 2);
	assert_non_null(m[0].date);
	assert_str(m[0].data, "Hello");
	assert_false(m[0].binary);
	assert_false(m[0].utf8);
	free(m);
	imap_cmd_free(&cmd);
	assert_int_equal(APPEND(&cmd, "t APPEND INBOX {0}\r\n", &m, &n), 0);
	assert_null(m[0].flags);
	assert_null(m[0].date);
	assert_int_equal(m[0].data.len, 0);
	free(m);
	imap_cmd_free(&cmd);
	assert_int_equal(
	        APPEND(&cmd, "t APPEND INBOX \" 1-Jan-2026 00:00:00 +0000\" {1+}\r\nx", &m, &n), 0);
	assert_null(m[0].flags);
	assert_non_null(m[0].date);
	free(m);
	imap_cmd_free(&cmd);
}

static void test_several_messages_literal8_and_utf8_data(void **state)
{
	struct imap_cmd cmd;
	struct imap_append_msg *m;
	size_t n;
	assert_int_equal(APPEND(&cmd,
	                        "t APPEND Sent {3}\r\none (\\Draft) ~{4}\r\nt\0wo"
	                        " \"1-Feb-2026 10:00:00 +0000\" UTF8 (~{5}\r\nthree)"
	                        " () utf8 ({4+}\r\nfour)",
	                        &m, &n),
	                 0);
	assert_int_equal(n, 4);
	assert_str(m[0].data, "one");
	assert_false(m[0].binary);
	assert_non_null(m[1].flags);
	assert_true(m[1].binary);
	assert_int_equal(m[1].data.len, 4);
	assert_int_equal(memcmp(m[1].data.p, "t\0wo", 4), 0);
	assert_non_null(m[2].date);
	assert_null(m[2].flags);
	assert_true(m[2].utf8);
	assert_true(m[2].binary);
	assert_str(m[2].data, "three");
	assert_true(m[3].utf8);
	assert_false(m[3].binary);
	assert_non_null(m[3].flags);
	assert_int_equal(m[3].flags->nlist, 0);
	free(m);
	imap_cmd_free(&cmd);
}

static void test_malformed_append_arguments_are_refused(void **state)
{
	static const char *const bad[] = {
	        "t APPEND INBOX",
	        "t APPEND INBOX (\\Seen)",
	        "t APPEND INBOX \"27-Nov-2026 12:00:00 +0100\"",
	        "t APPEND INBOX \"27-Nov-2026\" {1}\r\nx",
	        "t APPEND INBOX \"not a date\" {1}\r\nx",
	        "t APPEND INBOX (\\Seen) (\\Seen) {1}\r\nx",
	        "t APPEND INBOX \"1-Jan-2026 00:00:00 +0000\" (\\Seen) {1}\r\nx",
	        "t APPEND INBOX x {1}\r\nx",
	        "t APPEND INBOX \"x\"",
	        "t APPEND INBOX NIL",
	        "t APPEND INBOX {1}\r\nx extra",
	        "t APPEND INBOX {1}\r\nx (\\Seen)",
	        "t APPEND INBOX UTF8 {1}\r\nx",
	        "t APPEND INBOX UTF8 ()",
	        "t APPEND INBOX UTF8 (x)",
	        "t APPEND INBOX UTF8 ({1}\r\nx {1}\r\ny)",
	        "t APPEND INBOX UTF8",
	        "t APPEND INBOX ({1}\r\nx)",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct imap_cmd cmd;
		struct imap_append_msg *m = (void *)1;
		size_t n = 99;
		imap_cmd_init(&cmd);
		if (imap_parse_command(bad[i], strlen(bad[i]), &cmd, NULL) != IMAP_PARSE_OK)
			fail_msg("\"%s\" does not tokenize", bad[i]);
		struct buf why = BUF_INIT;
		if (imap_append_parse(cmd.args + 1, cmd.nargs - 1, &m, &n, &why) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_null(m);
		assert_int_equal(n, 0);
		assert_true(why.len > 0);
		buf_free(&why);
		imap_cmd_free(&cmd);
	}
}

static void test_the_number_of_messages_is_limited(void **state)
{
	buf_reset(&held);
	buf_puts(&held, "t APPEND INBOX");
	for (int i = 0; i < IMAP_MAX_APPEND_MESSAGES; i++)
		buf_puts(&held, " {1+}\r\nx");
	struct imap_cmd cmd;
	struct imap_append_msg *m;
	size_t n;
	assert_int_equal(append(&cmd, held.data, held.len, &m, &n), 0);
	assert_int_equal(n, IMAP_MAX_APPEND_MESSAGES);
	free(m);
	imap_cmd_free(&cmd);
	buf_puts(&held, " {1+}\r\nx");
	assert_int_equal(append(&cmd, held.data, held.len, &m, &n), -1);
	imap_cmd_free(&cmd);
}

static void test_append_literals_are_limited_one_by_one_and_in_all(void **state)
{
	const uint64_t total = IMAP_MAX_APPEND_TOTAL, mib = 1 << 20;
	/* A small message limit: the whole command may hold IMAP_MAX_APPEND_TOTAL. */
	assert_int_equal(imap_append_total(mib), total);
	assert_int_equal(imap_append_literal_max(0, mib), mib);
	assert_int_equal(imap_append_literal_max(total - mib, mib), mib);
	assert_int_equal(imap_append_literal_max(total - mib + 1, mib), mib - 1);
	assert_int_equal(imap_append_literal_max(total - 1, mib), 1);
	assert_int_equal(imap_append_literal_max(total, mib), 0);
	assert_int_equal(imap_append_literal_max(total + 1, mib), 0);
	/* A limit over IMAP_MAX_APPEND_TOTAL: one message of that size fits. */
	assert_int_equal(imap_append_total(total + 1), total + 1);
	assert_int_equal(imap_append_literal_max(0, total + 1), total + 1);
	assert_int_equal(imap_append_literal_max(100, total + 1), total + 1 - 100);
	assert_int_equal(imap_append_total(total), total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain_list_is_a_reference_and_one_pattern),
	        cmocka_unit_test(test_selection_options_and_several_patterns),
	        cmocka_unit_test(test_return_options_with_status_items),
	        cmocka_unit_test(test_malformed_list_arguments_are_refused),
	        cmocka_unit_test(test_nil_is_a_name_as_any_astring),
	        cmocka_unit_test(test_one_message_with_flags_and_date),
	        cmocka_unit_test(test_several_messages_literal8_and_utf8_data),
	        cmocka_unit_test(test_malformed_append_arguments_are_refused),
	        cmocka_unit_test(test_the_number_of_messages_is_limited),
	        cmocka_unit_test(test_append_literals_are_limited_one_by_one_and_in_all),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	buf_free(&held);
	return failed;
}
