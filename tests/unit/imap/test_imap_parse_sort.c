/*
 * Unit tests for src/imap/imap_parse_sort.c: SORT and THREAD arguments
 * (criteria, REVERSE, RETURN options with RFC 5267's PARTIAL and UPDATE, the
 * mandatory charset, every error path and the criteria limit), the base
 * subject of RFC 5256 section 2.1 on the RFC's rules and on the subjects
 * Dovecot's test suite sorts, RFC 5322 dates, and reading back the ENVELOPE
 * strings mime_envelope() writes. Commands go through the tokenizer first,
 * as in the session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"
#include "mime/mime.h"

/* ---- helpers --------------------------------------------------------------- */

static struct imap_cmd cmd;

static const struct imap_arg *tokenize(const char *name, const char *args, size_t *n_r)
{
	struct buf line = BUF_INIT;
	imap_cmd_init(&cmd);
	buf_printf(&line, "t %s %s", name, args);
	if (imap_parse_command(line.data, line.len, &cmd, NULL) != IMAP_PARSE_OK)
		fail_msg("\"%s\" does not tokenize", args);
	/* values may point into the line: keep it until the command is freed */
	static struct buf keep;
	buf_free(&keep);
	keep = line;
	*n_r = cmd.nargs;
	return cmd.args;
}

static int sort(const char *args, struct imap_sort *s)
{
	size_t n;
	const struct imap_arg *a = tokenize("SORT", args, &n);
	struct buf why = BUF_INIT;
	int rc = imap_sort_parse(a, n, s, &why);
	if (rc == 0) {
		assert_int_equal(why.len, 0);
	} else {
		assert_true(why.len > 0);
		assert_int_equal(s->ncrit, 0);
		assert_null(s->search.charset);
	}
	imap_cmd_free(&cmd);
	buf_free(&why);
	return rc;
}

static char *base(const char *subject, bool *reply_r)
{
	struct buf b = BUF_INIT;
	imap_base_subject(subject, strlen(subject), &b, reply_r);
	return buf_steal(&b);
}

static void assert_base(const char *subject, const char *want, bool want_reply)
{
	bool reply = !want_reply;
	char *got = base(subject, &reply);
	if (strcmp(got, want) != 0)
		fail_msg("base subject of \"%s\": \"%s\", want \"%s\"", subject, got, want);
	if (reply != want_reply)
		fail_msg("\"%s\": reply %d, want %d", subject, reply, want_reply);
	free(got);
}

/* ---- SORT arguments ------------------------------------------------------------ */

static void test_sort_reads_criteria_charset_and_keys(void **state)
{
	struct imap_sort s;
	assert_int_equal(sort("(REVERSE ARRIVAL cc date From SIZE subject TO displayfrom "
	                      "DISPLAYTO) utf-8 UNSEEN",
	                      &s),
	                 0);
	assert_int_equal(s.ncrit, 9);
	assert_int_equal(s.crit[0].key, IMAP_SORT_ARRIVAL);
	assert_true(s.crit[0].reverse);
	assert_int_equal(s.crit[1].key, IMAP_SORT_CC);
	assert_false(s.crit[1].reverse);
	assert_int_equal(s.crit[3].key, IMAP_SORT_FROM);
	assert_int_equal(s.crit[7].key, IMAP_SORT_DISPLAYFROM);
	assert_int_equal(s.crit[8].key, IMAP_SORT_DISPLAYTO);
	assert_string_equal(s.search.charset, "UTF-8");
	assert_false(s.search.esearch);
	assert_int_equal(s.search.root.nchildren, 1);
	assert_int_equal(s.search.root.children[0].op, IMAP_SEARCH_UNFLAG);
	imap_sort_free(&s);
}

static void test_sort_return_options_are_esearch_ones_and_partial(void **state)
{
	struct imap_sort s;
	assert_int_equal(sort("RETURN (MIN MAX COUNT) (DATE) US-ASCII ALL", &s), 0);
	assert_true(s.search.esearch && s.search.ret_min && s.search.ret_max && s.search.ret_count);
	imap_sort_free(&s);
	assert_int_equal(sort("RETURN () (DATE) US-ASCII ALL", &s), 0);
	assert_true(s.search.ret_all);
	imap_sort_free(&s);
	assert_int_equal(sort("RETURN (PARTIAL 4:2 UPDATE CONTEXT) (DATE) US-ASCII ALL", &s), 0);
	assert_true(s.search.ret_partial && s.search.ret_update && s.search.ret_context);
	assert_int_equal(s.search.partial_lo, 2);
	assert_int_equal(s.search.partial_hi, 4);
	imap_sort_free(&s);
}

static void test_sort_errors_are_bad(void **state)
{
	struct imap_sort s;
	assert_int_equal(imap_sort_parse(NULL, 0, &s, NULL), -1);
	static const char *const bad[] = {
	        "(DATE)",
	        "() UTF-8 ALL",
	        "(REVERSE) UTF-8 ALL",
	        "(REVERSE REVERSE DATE) UTF-8 ALL",
	        "(DATE REVERSE) UTF-8 ALL",
	        "(NAME) UTF-8 ALL",
	        "DATE UTF-8 ALL",
	        "(DATE) UTF-8",
	        "(DATE) (UTF-8) ALL",
	        "(DATE) UTF-8 NOSUCHKEY",
	        "RETURN (DATE) UTF-8 ALL",
	        "RETURN (PARTIAL 1) (DATE) UTF-8 ALL",
	        "RETURN (PARTIAL 1:*) (DATE) UTF-8 ALL",
	        "RETURN (PARTIAL *:1) (DATE) UTF-8 ALL",
	        "RETURN (PARTIAL 0:3) (DATE) UTF-8 ALL",
	        "RETURN (PARTIAL 1:2 ALL) (DATE) UTF-8 ALL",
	        "RETURN (PARTIAL 1:2 PARTIAL 3:4) (DATE) UTF-8 ALL",
	        "RETURN (PARTIAL) (DATE) UTF-8 ALL",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (sort(bad[i], &s) != -1)
			fail_msg("\"%s\" parsed", bad[i]);
	}
}

static void test_sixteen_criteria_pass_and_seventeen_do_not(void **state)
{
	struct buf a = BUF_INIT;
	buf_puts(&a, "(");
	for (int i = 0; i < IMAP_MAX_SORT_CRITERIA; i++)
		buf_puts(&a, i ? " REVERSE SIZE" : "REVERSE SIZE");
	struct imap_sort s;
	buf_puts(&a, ") UTF-8 ALL");
	assert_int_equal(sort(buf_cstr(&a), &s), 0);
	assert_int_equal(s.ncrit, IMAP_MAX_SORT_CRITERIA);
	imap_sort_free(&s);
	buf_reset(&a);
	buf_puts(&a, "(SIZE");
	for (int i = 0; i < IMAP_MAX_SORT_CRITERIA; i++)
		buf_puts(&a, " DATE");
	buf_puts(&a, ") UTF-8 ALL");
	assert_int_equal(sort(buf_cstr(&a), &s), -1);
	buf_free(&a);
}

static void test_thread_reads_algorithm_charset_and_keys(void **state)
{
	size_t n;
	enum imap_thread_alg alg;
	struct imap_search q;
	const struct imap_arg *a = tokenize("THREAD", "references UTF-8 SEEN 1:3", &n);
	assert_int_equal(imap_thread_parse(a, n, &alg, &q, NULL), 0);
	imap_cmd_free(&cmd);
	assert_int_equal(alg, IMAP_THREAD_REFERENCES);
	assert_string_equal(q.charset, "UTF-8");
	assert_int_equal(q.root.nchildren, 2);
	imap_search_free(&q);
	a = tokenize("THREAD", "OrderedSubject us-ascii ALL", &n);
	assert_int_equal(imap_thread_parse(a, n, &alg, &q, NULL), 0);
	imap_cmd_free(&cmd);
	assert_int_equal(alg, IMAP_THREAD_ORDEREDSUBJECT);
	imap_search_free(&q);
	static const char *const bad[] = {"REFS UTF-8 ALL", "REFERENCES UTF-8", "REFERENCES",
	                                  "(REFERENCES) UTF-8 ALL", "REFERENCES UTF-8 FOO"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct buf why = BUF_INIT;
		a = tokenize("THREAD", bad[i], &n);
		if (imap_thread_parse(a, n, &alg, &q, &why) != -1)
			fail_msg("\"%s\" parsed", bad[i]);
		assert_true(why.len > 0);
		assert_null(q.charset);
		imap_cmd_free(&cmd);
		buf_free(&why);
	}
}

/* ---- base subject -------------------------------------------------------------- */

static void test_base_subject_follows_rfc_5256_rules(void **state)
{
	assert_base("", "", false);
	assert_base("Hello", "HELLO", false);
	assert_base("  hello \t  world  ", "HELLO WORLD", false);
	assert_base("Re: hello", "HELLO", true);
	assert_base("RE:hello", "HELLO", true);
	assert_base("Fwd: hello", "HELLO", true);
	assert_base("fw: hello", "HELLO", true);
	assert_base("Re [list]: hello", "HELLO", true);
	assert_base("Re: Re: Fwd: hello", "HELLO", true);
	assert_base("[list] Re: hello", "HELLO", true);
	assert_base("[list] hello", "HELLO", false);
	assert_base("[list]", "[LIST]", false);
	assert_base("[a] [b]", "[B]", false);
	assert_base("hello (fwd)", "HELLO", true);
	assert_base("hello (FWD) (fwd) ", "HELLO", true);
	assert_base("[Fwd: hello]", "HELLO", true);
	assert_base("Re: [fwd: Re: hello] (fwd)", "HELLO", true);
	assert_base("Reply: hello", "REPLY: HELLO", false);
	assert_base("Re hello", "RE HELLO", false);
	assert_base("Ad: Re: Ad: x", "AD: RE: AD: X", false);
	assert_base("[unclosed hello", "[UNCLOSED HELLO", false);
}

static void test_base_subject_decodes_rfc_2047_first(void **state)
{
	assert_base("=?iso-8859-1?q?RE:_C?=", "C", true);
	assert_base("=?us-ascii?b?UmU6IGM=?=", "C", true);
	assert_base("Re: =?utf-8?q?b?=", "B", true);
	assert_base("=?iso-8859-1?q?_?=", "", false);
	/* non-ASCII letters are kept as UTF-8, ASCII ones upper-cased */
	assert_base("=?utf-8?q?caf=C3=A9?=", "CAF\xc3\xa9", false);
}

/* The subjects of Dovecot's sort-subject test, in the order it expects. */
static void test_base_subjects_sort_like_dovecot(void **state)
{
	static const char *const in_order[] = {
	        "",
	        "=?iso-8859-1?q?_?=",
	        "a",
	        "Ad: Re: Ad: Re: Ad: x",
	        "b",
	        "[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)",
	        "Re: =?utf-8?q?b?=",
	        "b (a)",
	        "re: [fwd: [fwd: re: [fwd: babylon]]]",
	        "C",
	        "Re: [FWD: c]",
	        "=?iso-8859-1?q?RE:_C?=",
	        "[xyz]",
	        "_",
	};
	char *prev = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(in_order); i++) {
		char *b = base(in_order[i], NULL);
		if (prev && strcmp(prev, b) > 0)
			fail_msg("\"%s\" sorts before \"%s\"", b, prev);
		free(prev);
		prev = b;
	}
	free(prev);
}

/* ---- dates ------------------------------------------------------------------------ */

static int64_t date(const char *s)
{
	int64_t t;
	return imap_parse_rfc5322_date(s, strlen(s), &t) == 0 ? t : -1;
}

static void test_rfc_5322_dates_are_read_in_utc(void **state)
{
	assert_int_equal(date("Fri, 22 Feb 2008 02:00:00 +0200"), 1203638400);
	assert_int_equal(date("22 Feb 2008 00:00:00 +0000"), 1203638400);
	assert_int_equal(date("Thu, 21 Feb 2008 19:00:00 -0500"), 1203638400);
	assert_int_equal(date("Fri, 22 Feb 08 00:00 GMT"), 1203638400);
	assert_int_equal(date("Thu, 21 Feb 2008 19:00:00 EST"), 1203638400);
	assert_int_equal(date(" Fri (day) ,  22 (x) Feb 2008 00:00:00 UT (comment)"), 1203638400);
	assert_int_equal(date("Thu, 1 Jan 1970 00:00:00 +0000"), 0);
	assert_int_equal(date("Sat, 1 Jan 2000 00:00:00 XYZ"), 946684800); /* unknown zone: UTC */
	assert_int_equal(date("29 Feb 2024 12:00:00 +0000"), 1709208000);
}

static void test_unreadable_dates_are_refused(void **state)
{
	static const char *const bad[] = {
	        "",
	        "yesterday",
	        "Fri, 22 Foo 2008 00:00:00 +0000",
	        "Fri, 32 Feb 2008 00:00:00 +0000",
	        "Fri, 22 Feb 2008",
	        "Fri, 22 Feb 2008 25:00:00 +0000",
	        "Fri, 22 Feb 2008 12:61 +0000",
	        "Fri, 22 Feb 2008 12:00:00 +02",
	        "Fri, 22 Feb 2008 12:00:00 +0299",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (date(bad[i]) != -1)
			fail_msg("\"%s\" read", bad[i]);
}

/* ---- ENVELOPE ---------------------------------------------------------------------- */

static void test_envelope_of_mime_envelope_reads_back(void **state)
{
	const char *msg = "Date: Fri, 22 Feb 2008 02:00:00 +0200\r\n"
	                  "Subject: =?utf-8?q?caf=C3=A9?= \"quoted\"\r\n"
	                  "From: \"Doe, Jane\" <jane@example.test>, bob@example.test\r\n"
	                  "To: team: a@example.test, b@example.test;\r\n"
	                  "Cc: =?iso-8859-1?q?J=F6rg?= <j@example.test>\r\n"
	                  "In-Reply-To: <parent@example.test>\r\n"
	                  "Message-ID: <self@example.test>\r\n"
	                  "\r\n"
	                  "body\r\n";
	struct buf env = BUF_INIT;
	mime_envelope(msg, strlen(msg), &env);
	struct imap_envelope e;
	assert_int_equal(imap_envelope_parse(env.data, env.len, &e), 0);
	assert_string_equal(e.date, "Fri, 22 Feb 2008 02:00:00 +0200");
	assert_string_equal(e.subject, "=?utf-8?q?caf=C3=A9?= \"quoted\"");
	assert_string_equal(e.from.name, "Doe, Jane");
	assert_string_equal(e.from.mailbox, "jane");
	assert_string_equal(e.from.host, "example.test");
	assert_string_equal(e.to.mailbox, "team"); /* a group start comes first */
	assert_null(e.to.host);
	assert_string_equal(e.cc.mailbox, "j");
	assert_string_equal(e.in_reply_to, "<parent@example.test>");
	assert_string_equal(e.message_id, "<self@example.test>");
	imap_envelope_free(&e);
	buf_free(&env);
}

static void test_envelope_with_literals_and_nils_reads_back(void **state)
{
	const char *msg = "Subject: caf\xc3\xa9\r\n\r\n";
	struct buf env = BUF_INIT;
	mime_envelope(msg, strlen(msg), &env);
	assert_non_null(strstr(buf_cstr(&env), "{5}\r\n")); /* 8-bit: a literal */
	struct imap_envelope e;
	assert_int_equal(imap_envelope_parse(env.data, env.len, &e), 0);
	assert_null(e.date);
	assert_string_equal(e.subject, "caf\xc3\xa9");
	assert_null(e.from.mailbox);
	assert_null(e.to.mailbox);
	assert_null(e.message_id);
	imap_envelope_free(&e);
	buf_free(&env);
}

static void test_broken_envelopes_are_refused(void **state)
{
	static const char *const bad[] = {
	        "",
	        "NIL",
	        "(NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	        "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	        "(NIL \"unterminated NIL NIL NIL NIL NIL NIL NIL NIL)",
	        "(NIL {99}\r\nshort NIL NIL NIL NIL NIL NIL NIL NIL)",
	        "(NIL NIL ((NIL NIL \"a\")) NIL NIL NIL NIL NIL NIL NIL)",
	        "(NIL NIL (x) NIL NIL NIL NIL NIL NIL NIL)",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct imap_envelope e;
		if (imap_envelope_parse(bad[i], strlen(bad[i]), &e) != -1)
			fail_msg("\"%s\" read", bad[i]);
		assert_null(e.subject);
		assert_null(e.from.mailbox);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sort_reads_criteria_charset_and_keys),
	        cmocka_unit_test(test_sort_return_options_are_esearch_ones_and_partial),
	        cmocka_unit_test(test_sort_errors_are_bad),
	        cmocka_unit_test(test_sixteen_criteria_pass_and_seventeen_do_not),
	        cmocka_unit_test(test_thread_reads_algorithm_charset_and_keys),
	        cmocka_unit_test(test_base_subject_follows_rfc_5256_rules),
	        cmocka_unit_test(test_base_subject_decodes_rfc_2047_first),
	        cmocka_unit_test(test_base_subjects_sort_like_dovecot),
	        cmocka_unit_test(test_rfc_5322_dates_are_read_in_utc),
	        cmocka_unit_test(test_unreadable_dates_are_refused),
	        cmocka_unit_test(test_envelope_of_mime_envelope_reads_back),
	        cmocka_unit_test(test_envelope_with_literals_and_nils_reads_back),
	        cmocka_unit_test(test_broken_envelopes_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
