/*
 * Unit tests for src/imap/imap_parse_search.c: every search key and what it
 * maps to, dates, sequence sets, NOT / OR / groups, RETURN options (RFC 5267's
 * CONTEXT, UPDATE and PARTIAL included), CHARSET,
 * MODSEQ with and without an entry, OLDER / YOUNGER, every error path, the
 * key-count and nesting limits at their edges, and the RFC examples. Commands
 * go through the tokenizer first, as in the session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

/* ---- helpers --------------------------------------------------------------- */

/*
 * Parses "t SEARCH <args>" and interprets the arguments. The command is freed
 * before returning, so the tree must own everything it points to.
 */
static int search(const char *args, struct imap_search *s)
{
	struct imap_cmd cmd;
	struct buf line = BUF_INIT, why = BUF_INIT;
	imap_cmd_init(&cmd);
	buf_puts(&line, "t SEARCH ");
	buf_puts(&line, args);
	if (imap_parse_command(line.data, line.len, &cmd, NULL) != IMAP_PARSE_OK)
		fail_msg("\"%s\" does not tokenize", args);
	int rc = imap_search_parse(cmd.args, cmd.nargs, s, &why);
	if (rc == 0) {
		assert_int_equal(why.len, 0);
	} else {
		assert_true(why.len > 0);
		assert_null(s->root.children);
		assert_null(s->charset);
	}
	memset(line.data, 'Z', line.len);
	imap_cmd_free(&cmd);
	buf_free(&line);
	buf_free(&why);
	return rc;
}

static const char *op_name(enum imap_search_op op)
{
	static const char *const names[] = {
	        "ALL",       "AND",     "OR",        "NOT",   "SEQSET",  "UID",        "FLAG",
	        "UNFLAG",    "KEYWORD", "UNKEYWORD", "NEW",   "OLD",     "RECENT",     "HEADER",
	        "BODY",      "TEXT",    "BEFORE",    "ON",    "SINCE",   "SENTBEFORE", "SENTON",
	        "SENTSINCE", "LARGER",  "SMALLER",   "OLDER", "YOUNGER", "MODSEQ",
	};
	return (size_t)op < ARRAY_SIZE(names) ? names[op] : "?";
}

/*
 * A rendering of a key: OP, then [str], [str2], num when non-zero, the set as
 * lo:hi pairs, and the sub-keys in parentheses.
 */
static void render_key(struct buf *b, const struct imap_search_key *k)
{
	buf_puts(b, op_name(k->op));
	if (k->str.p) {
		assert_int_equal(strlen(k->str.p), k->str.len);
		buf_printf(b, " [%s]", k->str.p);
	}
	if (k->str2.p) {
		assert_int_equal(strlen(k->str2.p), k->str2.len);
		buf_printf(b, " [%s]", k->str2.p);
	}
	if (k->num)
		buf_printf(b, " %llu", (unsigned long long)k->num);
	if (k->set.saved)
		buf_puts(b, " $");
	for (size_t i = 0; i < k->set.nranges; i++)
		buf_printf(b, "%s%u:%u", i ? "," : " ", k->set.ranges[i].lo, k->set.ranges[i].hi);
	if (k->a) {
		buf_puts(b, " (");
		render_key(b, k->a);
		buf_puts(b, ")");
	}
	if (k->b) {
		buf_puts(b, " (");
		render_key(b, k->b);
		buf_puts(b, ")");
	}
	if (k->op == IMAP_SEARCH_AND) {
		buf_puts(b, " {");
		for (size_t i = 0; i < k->nchildren; i++) {
			if (i)
				buf_puts(b, "; ");
			render_key(b, &k->children[i]);
		}
		buf_puts(b, "}");
	}
}

/* The top-level keys, "; "-separated. */
static char *render(const struct imap_search *s)
{
	struct buf b = BUF_INIT;
	assert_int_equal(s->root.op, IMAP_SEARCH_AND);
	for (size_t i = 0; i < s->root.nchildren; i++) {
		if (i)
			buf_puts(&b, "; ");
		render_key(&b, &s->root.children[i]);
	}
	return buf_steal(&b);
}

struct key_case {
	const char *in;
	const char *want;
};

static void run_cases(const struct key_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct imap_search s;
		if (search(cases[i].in, &s) != 0)
			fail_msg("\"%s\" refused", cases[i].in);
		char *got = render(&s);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("\"%s\":\n  got  %s\n  want %s", cases[i].in, got, cases[i].want);
		free(got);
		imap_search_free(&s);
	}
}

static void expect_refused(const char *const *bad, size_t n, int rc)
{
	for (size_t i = 0; i < n; i++) {
		struct imap_search s;
		int got = search(bad[i], &s);
		if (got != rc)
			fail_msg("\"%s\": %d, want %d", bad[i], got, rc);
		imap_search_free(&s);
	}
}

/* ---- keys ----------------------------------------------------------------------- */

static void test_keys_without_arguments_map_to_their_ops(void **state)
{
	static const struct key_case cases[] = {
	        {"ALL", "ALL"},
	        {"all", "ALL"},
	        {"ANSWERED", "FLAG [\\Answered]"},
	        {"DELETED", "FLAG [\\Deleted]"},
	        {"DRAFT", "FLAG [\\Draft]"},
	        {"FLAGGED", "FLAG [\\Flagged]"},
	        {"Seen", "FLAG [\\Seen]"},
	        {"UNANSWERED", "UNFLAG [\\Answered]"},
	        {"UNDELETED", "UNFLAG [\\Deleted]"},
	        {"UNDRAFT", "UNFLAG [\\Draft]"},
	        {"UNFLAGGED", "UNFLAG [\\Flagged]"},
	        {"unseen", "UNFLAG [\\Seen]"},
	        {"NEW", "NEW"},
	        {"OLD", "OLD"},
	        {"RECENT", "RECENT"},
	        {"ALL SEEN NEW", "ALL; FLAG [\\Seen]; NEW"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_string_keys_keep_an_owned_copy_of_their_argument(void **state)
{
	static const struct key_case cases[] = {
	        {"FROM \"Smith\"", "HEADER [From] [Smith]"},
	        {"from smith", "HEADER [From] [smith]"},
	        {"TO {3}\r\nbob", "HEADER [To] [bob]"},
	        {"CC a BCC b", "HEADER [Cc] [a]; HEADER [Bcc] [b]"},
	        {"SUBJECT \"a \\\"quoted\\\" word\"", "HEADER [Subject] [a \"quoted\" word]"},
	        {"SUBJECT [PATCH]", "HEADER [Subject] [[PATCH]]"},
	        {"SUBJECT NIL", "HEADER [Subject] [NIL]"},
	        {"SUBJECT \"\"", "HEADER [Subject] []"},
	        {"HEADER X-Spam-Flag YES", "HEADER [X-Spam-Flag] [YES]"},
	        {"HEADER \"Message-ID\" \"\"", "HEADER [Message-ID] []"},
	        {"BODY \"string not in mailbox\"", "BODY [string not in mailbox]"},
	        {"TEXT \"caf\xc3\xa9\"", "TEXT [caf\xc3\xa9]"},
	        {"KEYWORD $Forwarded", "KEYWORD [$Forwarded]"},
	        {"UNKEYWORD $Junk", "UNKEYWORD [$Junk]"},
	        {"KEYWORD \"$Label1\"", "KEYWORD [$Label1]"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_dates_become_days_since_1970(void **state)
{
	static const struct key_case cases[] = {
	        {"SINCE 1-Feb-1994", "SINCE 8797"},
	        {"since 01-FEB-1994", "SINCE 8797"},
	        {"BEFORE \"1-Feb-1994\"", "BEFORE 8797"},
	        {"ON 29-Feb-2024", "ON 19782"},
	        {"SENTBEFORE 1-Jan-2000", "SENTBEFORE 10957"},
	        {"SENTON 27-Nov-2026", "SENTON 20784"},
	        {"SENTSINCE 1-Jan-1970", "SENTSINCE"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
	static const char *const bad[] = {
	        "SINCE 29-Feb-2023",
	        "SINCE 31-Apr-2026",
	        "SINCE 0-Jan-2026",
	        "SINCE 1-Feb-94",
	        "SINCE 1-Febr-2026",
	        "SINCE 1 Feb 2026",
	        "SINCE {10}\r\n1-Feb-2026",
	        "SINCE (1-Feb-2026)",
	        "SINCE 31-Dec-1969",
	        "SINCE",
	        "SINCE x",
	        "BEFORE 32-Jan-2026",
	        "ON 1-Feb-2026x",
	        "SENTON \"\"",
	};
	expect_refused(bad, ARRAY_SIZE(bad), -1);
}

static void test_numbers_sizes_and_intervals_are_checked(void **state)
{
	static const struct key_case cases[] = {
	        {"LARGER 50000", "LARGER 50000"},
	        {"SMALLER 4096", "SMALLER 4096"},
	        {"SMALLER 0", "SMALLER"},
	        {"LARGER 9223372036854775807", "LARGER 9223372036854775807"},
	        {"OLDER 3600", "OLDER 3600"},
	        {"YOUNGER 259200", "YOUNGER 259200"},
	        {"YOUNGER 4294967295", "YOUNGER 4294967295"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
	static const char *const bad[] = {
	        "LARGER",
	        "LARGER x",
	        "LARGER -1",
	        "LARGER \"5\"",
	        "LARGER 9223372036854775808",
	        "OLDER 0",
	        "YOUNGER 01",
	        "YOUNGER 4294967296",
	        "OLDER",
	        "OLDER \"5\"",
	        "SMALLER (5)",
	};
	expect_refused(bad, ARRAY_SIZE(bad), -1);
}

static void test_sequence_sets_and_uid_sets_are_parsed(void **state)
{
	static const struct key_case cases[] = {
	        {"1:5", "SEQSET 1:5"},
	        {"5:1,7", "SEQSET 1:5,7:7"},
	        {"*", "SEQSET 4294967295:4294967295"},
	        {"$", "SEQSET $"},
	        {"UID 1:*", "UID 1:4294967295"},
	        {"uid $", "UID $"},
	        {"UID $ SMALLER 4096", "UID $; SMALLER 4096"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
	static const char *const bad[] = {
	        "0", "1:", "1,$", "UID", "UID x", "UID \"1\"", "UID (1)", "5x", "$1",
	};
	expect_refused(bad, ARRAY_SIZE(bad), -1);
}

static void test_not_or_and_groups_build_a_tree(void **state)
{
	static const struct key_case cases[] = {
	        {"NOT SEEN", "NOT (FLAG [\\Seen])"},
	        {"NOT NOT SEEN", "NOT (NOT (FLAG [\\Seen]))"},
	        {"OR SEEN FLAGGED", "OR (FLAG [\\Seen]) (FLAG [\\Flagged])"},
	        {"OR (SEEN DRAFT) NOT FROM x",
	         "OR (AND {FLAG [\\Seen]; FLAG [\\Draft]}) (NOT (HEADER "
	         "[From] [x]))"},
	        {"OR OR 1 2 3", "OR (OR (SEQSET 1:1) (SEQSET 2:2)) (SEQSET 3:3)"},
	        {"(ALL)", "AND {ALL}"},
	        {"((1) (2 3))", "AND {AND {SEQSET 1:1}; AND {SEQSET 2:2; SEQSET 3:3}}"},
	        {"NOT (SEEN DELETED) UID 4",
	         "NOT (AND {FLAG [\\Seen]; FLAG [\\Deleted]}); UID 4:4"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
	static const char *const bad[] = {
	        "NOT", "OR", "OR SEEN", "()", "(SEEN ())", "NOT ()", "OR () SEEN",
	};
	expect_refused(bad, ARRAY_SIZE(bad), -1);
}

static void test_modseq_takes_an_optional_entry_name_and_type(void **state)
{
	static const struct key_case cases[] = {
	        {"MODSEQ 720162338", "MODSEQ 720162338"},
	        {"MODSEQ 0", "MODSEQ"},
	        {"MODSEQ \"/flags/\\\\draft\" all 620162338",
	         "MODSEQ [/flags/\\draft] [all] 620162338"},
	        {"modseq \"/FLAGS/$MDNSent\" PRIV 5", "MODSEQ [/FLAGS/$MDNSent] [priv] 5"},
	        {"MODSEQ \"/flags/\\\\Seen\" shared 1 ALL",
	         "MODSEQ [/flags/\\Seen] [shared] 1; ALL"},
	        {"OR NOT MODSEQ 720162338 LARGER 50000",
	         "OR (NOT (MODSEQ 720162338)) (LARGER 50000)"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
	static const char *const bad[] = {
	        "MODSEQ",
	        "MODSEQ x",
	        "MODSEQ -1",
	        "MODSEQ 9223372036854775808",
	        "MODSEQ \"/flags/\\\\draft\" 5",
	        "MODSEQ \"/flags/\\\\draft\" all",
	        "MODSEQ \"/flags/\\\\draft\" any 5",
	        "MODSEQ \"/flags/\\\\draft\" \"all\" 5",
	        "MODSEQ \"/flags/\" all 5",
	        "MODSEQ \"/flags/\\\\\" all 5",
	        "MODSEQ \"/flags/a b\" all 5",
	        "MODSEQ \"/flag/\\\\draft\" all 5",
	        "MODSEQ \"5\"",
	        "MODSEQ {13}\r\n/flags/\\draft all 5",
	        "MODSEQ \"/flags/\\\\draft\" all \"5\"",
	};
	expect_refused(bad, ARRAY_SIZE(bad), -1);
}

static void test_keys_with_missing_or_wrong_arguments_are_refused(void **state)
{
	static const char *const bad[] = {
	        "FOO",
	        "\"ALL\"",
	        "{3}\r\nALL",
	        "NIL",
	        "FROM",
	        "FROM ()",
	        "TO",
	        "CC (a)",
	        "BCC",
	        "SUBJECT",
	        "BODY",
	        "TEXT",
	        "HEADER",
	        "HEADER X",
	        "HEADER X ()",
	        "HEADER () x",
	        "KEYWORD",
	        "KEYWORD \\Seen",
	        "KEYWORD (a)",
	        "KEYWORD \"a b\"",
	        "KEYWORD a]",
	        "UNKEYWORD",
	        "KEYWORD \"\"",
	        "FROM ~{1}\r\nx",
	        "ALLX",
	        "SEEN[]",
	        "UNSEENX",
	        "CHARSET",
	        "SEEN CHARSET UTF-8",
	        "ALL RETURN (MIN)",
	        "FUZZY TEXT x",
	};
	expect_refused(bad, ARRAY_SIZE(bad), -1);
}

/* ---- RETURN and CHARSET ----------------------------------------------------------------- */

static void test_return_options_set_esearch_and_an_empty_list_means_all(void **state)
{
	static const struct {
		const char *in;
		bool esearch, min, max, all, count, save;
	} cases[] = {
	        {"ALL", false, false, false, false, false, false},
	        {"RETURN (MIN) ALL", true, true, false, false, false, false},
	        {"RETURN (MIN MAX COUNT) ALL", true, true, true, false, true, false},
	        {"return (all save) ALL", true, false, false, true, false, true},
	        {"RETURN () ALL", true, false, false, true, false, false},
	        {"RETURN (SAVE) FLAGGED", true, false, false, false, false, true},
	        {"RETURN (MIN MIN) ALL", true, true, false, false, false, false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_search s;
		if (search(cases[i].in, &s) != 0)
			fail_msg("\"%s\" refused", cases[i].in);
		assert_int_equal(s.esearch, cases[i].esearch);
		assert_int_equal(s.ret_min, cases[i].min);
		assert_int_equal(s.ret_max, cases[i].max);
		assert_int_equal(s.ret_all, cases[i].all);
		assert_int_equal(s.ret_count, cases[i].count);
		assert_int_equal(s.ret_save, cases[i].save);
		assert_int_equal(s.root.nchildren, 1);
		imap_search_free(&s);
	}
	static const char *const bad[] = {
	        "RETURN",
	        "RETURN ALL",
	        "RETURN (MIN)",
	        "RETURN (FOO) ALL",
	        "RETURN (PARTIAL 1:10 ALL) ALL",
	        "RETURN (PARTIAL) ALL",
	        "RETURN (PARTIAL 1:*) ALL",
	        "RETURN (PARTIAL -1:-10) ALL",
	        "RETURN (\"MIN\") ALL",
	        "RETURN ((MIN)) ALL",
	        "RETURN (MIN) RETURN (MAX) ALL",
	        "CHARSET UTF-8 RETURN (MIN) ALL",
	};
	expect_refused(bad, ARRAY_SIZE(bad), -1);
}

static void test_context_return_options_are_read(void **state)
{
	struct imap_search s;
	assert_int_equal(search("RETURN (CONTEXT UPDATE PARTIAL 10:1 COUNT) SEEN", &s), 0);
	assert_true(s.esearch && s.ret_context && s.ret_update && s.ret_partial && s.ret_count);
	assert_false(s.ret_all);
	assert_int_equal(s.partial_lo, 1);
	assert_int_equal(s.partial_hi, 10);
	imap_search_free(&s);
	assert_int_equal(search("RETURN (PARTIAL 4294967295:4294967295) ALL", &s), 0);
	assert_int_equal(s.partial_lo, 4294967295u);
	imap_search_free(&s);
}

static void test_charset_is_kept_upper_cased(void **state)
{
	static const struct {
		const char *in;
		const char *charset;
	} cases[] = {
	        {"ALL", NULL},
	        {"CHARSET UTF-8 ALL", "UTF-8"},
	        {"charset utf-8 ALL", "UTF-8"},
	        {"CHARSET \"us-ascii\" ALL", "US-ASCII"},
	        {"RETURN (COUNT) CHARSET iso-8859-1 TEXT x", "ISO-8859-1"},
	        {"CHARSET {5}\r\nutf-8 TEXT x", "UTF-8"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_search s;
		if (search(cases[i].in, &s) != 0)
			fail_msg("\"%s\" refused", cases[i].in);
		if (cases[i].charset)
			assert_string_equal(s.charset, cases[i].charset);
		else
			assert_null(s.charset);
		imap_search_free(&s);
		assert_null(s.charset);
	}
	static const char *const bad[] = {
	        "CHARSET",
	        "CHARSET UTF-8",
	        "CHARSET () ALL",
	        "CHARSET \"\" ALL",
	        "CHARSET UTF-8 CHARSET UTF-8 ALL",
	};
	expect_refused(bad, ARRAY_SIZE(bad), -1);
}

/* ---- limits ------------------------------------------------------------------------------ */

static void test_1000_keys_pass_and_1001_are_over_the_limit(void **state)
{
	struct imap_search s;
	struct buf b = BUF_INIT;
	for (int k = 0; k < IMAP_MAX_SEARCH_KEYS; k++)
		buf_puts(&b, k ? " SEEN" : "SEEN");
	assert_int_equal(search(buf_cstr(&b), &s), 0);
	assert_int_equal(s.nkeys, IMAP_MAX_SEARCH_KEYS);
	assert_int_equal(s.root.nchildren, IMAP_MAX_SEARCH_KEYS);
	imap_search_free(&s);
	buf_puts(&b, " SEEN");
	assert_int_equal(search(buf_cstr(&b), &s), -2);
	assert_true(s.nkeys > IMAP_MAX_SEARCH_KEYS);

	/* Groups, NOT and OR count as keys. */
	buf_reset(&b);
	for (int k = 0; k < IMAP_MAX_SEARCH_KEYS / 2 - 1; k++)
		buf_puts(&b, "NOT SEEN ");
	buf_puts(&b, "(ALL)");
	assert_int_equal(search(buf_cstr(&b), &s), 0);
	assert_int_equal(s.nkeys, IMAP_MAX_SEARCH_KEYS);
	imap_search_free(&s);
	buf_truncate(&b, b.len - 1);
	buf_puts(&b, " ALL)");
	assert_int_equal(search(buf_cstr(&b), &s), -2);
	buf_free(&b);
}

static void test_nesting_to_the_depth_limit_passes_and_one_more_is_over(void **state)
{
	struct imap_search s;
	char *in;
	/* IMAP_MAX_SEARCH_DEPTH levels: the NOTs plus the key at the bottom */
	struct buf b = BUF_INIT;
	for (int k = 0; k < IMAP_MAX_SEARCH_DEPTH - 1; k++)
		buf_puts(&b, "NOT ");
	buf_puts(&b, "ALL");
	assert_int_equal(search(buf_cstr(&b), &s), 0);
	imap_search_free(&s);
	buf_reset(&b);
	for (int k = 0; k < IMAP_MAX_SEARCH_DEPTH; k++)
		buf_puts(&b, "NOT ");
	buf_puts(&b, "ALL");
	assert_int_equal(search(buf_cstr(&b), &s), -2);

	/* OR chains nest through their first key. */
	buf_reset(&b);
	for (int k = 0; k < IMAP_MAX_SEARCH_DEPTH - 1; k++)
		buf_puts(&b, "OR ");
	for (int k = 0; k < IMAP_MAX_SEARCH_DEPTH; k++)
		buf_puts(&b, k ? " ALL" : "ALL");
	assert_int_equal(search(buf_cstr(&b), &s), 0);
	imap_search_free(&s);
	buf_reset(&b);
	for (int k = 0; k < IMAP_MAX_SEARCH_DEPTH; k++)
		buf_puts(&b, "OR ");
	for (int k = 0; k <= IMAP_MAX_SEARCH_DEPTH; k++)
		buf_puts(&b, k ? " ALL" : "ALL");
	assert_int_equal(search(buf_cstr(&b), &s), -2);

	/* A long chain stops at the limit, whatever its length. */
	buf_reset(&b);
	for (int k = 0; k < IMAP_MAX_ARGS - 1; k++)
		buf_puts(&b, "NOT ");
	buf_puts(&b, "ALL");
	assert_int_equal(search(buf_cstr(&b), &s), -2);
	buf_free(&b);

	/* Groups nest as deep as the tokenizer allows. */
	in = NULL;
	b = (struct buf)BUF_INIT;
	for (int k = 0; k < IMAP_MAX_DEPTH; k++)
		buf_putc(&b, '(');
	buf_puts(&b, "NOT ALL");
	for (int k = 0; k < IMAP_MAX_DEPTH; k++)
		buf_putc(&b, ')');
	in = buf_steal(&b);
	assert_int_equal(search(in, &s), 0);
	char *got = render(&s);
	assert_true(strstr(got, "NOT (ALL)") != NULL);
	free(got);
	imap_search_free(&s);
	free(in);
}

static void test_a_failed_parse_leaves_nothing_to_free(void **state)
{
	struct imap_search s;
	assert_int_equal(search("CHARSET UTF-8 OR (FROM a UID 1:5) NOT SUBJECT b BOGUS", &s), -1);
	assert_null(s.charset);
	assert_int_equal(s.root.nchildren, 0);
	imap_search_free(&s);
	assert_int_equal(imap_search_parse(NULL, 0, &s, NULL), -1);
	imap_search_free(&s);
}

/* ---- RFC examples ------------------------------------------------------------------------- */

static void test_rfc_example_searches_parse(void **state)
{
	static const struct key_case cases[] = {
	        /* RFC 9051 / RFC 3501 6.4.4 */
	        {"FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
	         "FLAG [\\Flagged]; SINCE 8797; NOT (HEADER [From] [Smith])"},
	        {"TEXT \"string not in mailbox\"", "TEXT [string not in mailbox]"},
	        {"CHARSET UTF-8 TEXT {7}\r\n\xd0\xb8\xd0\xbc\xd1\x8f!",
	         "TEXT [\xd0\xb8\xd0\xbc\xd1\x8f!]"},
	        /* RFC 4731 */
	        {"RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
	         "FLAG [\\Flagged]; SINCE 8797; NOT (HEADER [From] [Smith])"},
	        {"RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
	         "FLAG [\\Flagged]; SINCE 8797; NOT (HEADER [From] [Smith])"},
	        /* RFC 5182 */
	        {"RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
	         "FLAG [\\Flagged]; SINCE 8797; NOT (HEADER [From] [Smith])"},
	        {"UID $ SMALLER 4096", "UID $; SMALLER 4096"},
	        {"OR $ 1:10", "OR (SEQSET $) (SEQSET 1:10)"},
	        /* RFC 5032 */
	        {"UNDELETED YOUNGER 259200", "UNFLAG [\\Deleted]; YOUNGER 259200"},
	        /* RFC 7162 */
	        {"MODSEQ \"/flags/\\\\draft\" all 620162338",
	         "MODSEQ [/flags/\\draft] [all] 620162338"},
	        {"OR NOT MODSEQ 720162338 LARGER 50000",
	         "OR (NOT (MODSEQ 720162338)) (LARGER 50000)"},
	};
	run_cases(cases, ARRAY_SIZE(cases));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_keys_without_arguments_map_to_their_ops),
	        cmocka_unit_test(test_string_keys_keep_an_owned_copy_of_their_argument),
	        cmocka_unit_test(test_dates_become_days_since_1970),
	        cmocka_unit_test(test_numbers_sizes_and_intervals_are_checked),
	        cmocka_unit_test(test_sequence_sets_and_uid_sets_are_parsed),
	        cmocka_unit_test(test_not_or_and_groups_build_a_tree),
	        cmocka_unit_test(test_modseq_takes_an_optional_entry_name_and_type),
	        cmocka_unit_test(test_keys_with_missing_or_wrong_arguments_are_refused),
	        cmocka_unit_test(test_return_options_set_esearch_and_an_empty_list_means_all),
	        cmocka_unit_test(test_context_return_options_are_read),
	        cmocka_unit_test(test_charset_is_kept_upper_cased),
	        cmocka_unit_test(test_1000_keys_pass_and_1001_are_over_the_limit),
	        cmocka_unit_test(test_nesting_to_the_depth_limit_passes_and_one_more_is_over),
	        cmocka_unit_test(test_a_failed_parse_leaves_nothing_to_free),
	        cmocka_unit_test(test_rfc_example_searches_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
