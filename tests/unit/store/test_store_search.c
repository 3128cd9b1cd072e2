/*
 * Unit tests for the store's full-text index (store_search.c, its words and
 * queries; store_sqlite_search.c and the search parts of store.c): entries
 * written with the append, shared by copies, gone with the last copy (their
 * words made again from the bytes), candidates that never miss a match,
 * index writes undone with the op that made them, messages the index does
 * not know, the migration that drops schema 7's tables, store_reindex, and
 * store_check finding a damaged index.
 *
 * Every test runs on a fresh store in its own mkdtemp folder, removed
 * afterwards; where store.h does not show a row count, the test opens the
 * SQLite file itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#include "account_fixture.h"
#include "schema_undo.h"

/* FTS5's own check of its index structure. */
static void assert_fts_consistent(struct fx *f)
{
	sql_write(f, "INSERT INTO search_text(search_text) VALUES('integrity-check');");
}

/* Messages with words in the index or waiting in search_stage. */
static int64_t entries(struct fx *f)
{
	return sql_int(f, "SELECT (SELECT count(*) FROM search_doc) + "
	                  "(SELECT count(*) FROM search_stage)");
}

static void assert_check_ok(struct fx *f);

/* Moves every entry into the FTS5 table (store_reindex writes there directly). */
static void into_index(struct fx *f)
{
	size_t n = 0;
	struct buf err = BUF_INIT;
	assert_int_equal(store_reindex(f->st, 0, true, &n, &err), 0);
	buf_free(&err);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM search_stage"), 0);
	assert_check_ok(f);
}

static void assert_check_ok(struct fx *f)
{
	struct buf report = BUF_INIT, err = BUF_INIT;
	assert_int_equal(store_check(f->st, &report, &err), 0);
	assert_string_equal(buf_cstr(&report), "ok\n");
	buf_free(&report);
	buf_free(&err);
}

static uint32_t append(struct fx *f, int64_t mailbox, const char *msg)
{
	struct store_append_target t = {.mailbox_id = mailbox};
	struct store_op op;
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = msg;
	op.u.append.len = strlen(msg);
	op.u.append.targets = &t;
	op.u.append.ntargets = 1;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	return t.uid_r;
}

/* The candidates as "1 2 3", or "scan" when the index does not answer. */
static char *cands(struct fx *f, int64_t mailbox, const char *needle, bool text)
{
	uint32_t *uids = NULL;
	size_t n = 0;
	struct buf err = BUF_INIT, out = BUF_INIT;
	enum store_lookup l = store_search_candidates(f->st, mailbox, needle, strlen(needle), text,
	                                              &uids, &n, &err);
	assert_int_not_equal(l, STORE_ERROR);
	if (l == STORE_NOT_FOUND)
		buf_puts(&out, "scan");
	for (size_t i = 0; i < n; i++)
		buf_printf(&out, "%s%u", i ? " " : "", uids[i]);
	free(uids);
	buf_free(&err);
	buf_reserve(&out, 0);
	return buf_steal(&out);
}

static void forget_index(struct fx *f);

/* The same for store_search_header_candidates. */
static char *header_cands(struct fx *f, int64_t mailbox, const char *needle)
{
	uint32_t *uids = NULL;
	size_t n = 0;
	struct buf err = BUF_INIT, out = BUF_INIT;
	enum store_lookup l = store_search_header_candidates(f->st, mailbox, needle, strlen(needle),
	                                                     &uids, &n, &err);
	assert_int_not_equal(l, STORE_ERROR);
	if (l == STORE_NOT_FOUND)
		buf_puts(&out, "scan");
	for (size_t i = 0; i < n; i++)
		buf_printf(&out, "%s%u", i ? " " : "", uids[i]);
	free(uids);
	buf_free(&err);
	buf_reserve(&out, 0);
	return buf_steal(&out);
}

#define ASSERT_HEADER_CANDS(f, mb, needle, want)                                                   \
	do {                                                                                       \
		char *got_ = header_cands((f), (mb), (needle));                                    \
		if (strcmp(got_, (want)) != 0)                                                     \
			fail_msg("header candidates for '%s': got '%s', want '%s'", (needle),      \
			         got_, (want));                                                    \
		free(got_);                                                                        \
	} while (0)

#define ASSERT_CANDS(f, mb, needle, text, want)                                                    \
	do {                                                                                       \
		char *got_ = cands((f), (mb), (needle), (text));                                   \
		if (strcmp(got_, (want)) != 0)                                                     \
			fail_msg("candidates for '%s': got '%s', want '%s'", (needle), got_,       \
			         (want));                                                          \
		free(got_);                                                                        \
	} while (0)

static const char *const msg1 = "Subject: lunch on Friday\r\n"
                                "From: Carol <carol@example.test>\r\n"
                                "\r\n"
                                "Shall we meet at the Bistro?\r\n";
static const char *const msg2 = "Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n"
                                "MIME-Version: 1.0\r\n"
                                "Content-Type: text/plain; charset=koi8-r\r\n"
                                "Content-Transfer-Encoding: base64\r\n"
                                "\r\n"
                                "8NLJ18XULCDNydI=\r\n"; /* "Привет, мир" */
static const char *const msg3 = "Subject: quotes\r\n"
                                "\r\n"
                                "she said \"hello there\" and left; the quick brown fox "
                                "jumps over the lazy dog again and again\r\n";

/* ---- words and queries (store_search.c) --------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The words of terms, sorted and joined by single spaces. */
static char *sorted_words(const struct buf *terms)
{
	char *copy = xstrdup(buf_cstr(terms));
	char **w = NULL;
	size_t n = 0;
	for (char *save = NULL, *t = strtok_r(copy, " ", &save); t;
	     t = strtok_r(NULL, " ", &save)) {
		w = xrealloc(w, (n + 1) * sizeof *w);
		w[n++] = t;
	}
	if (n > 0)
		qsort(w, n, sizeof *w, cmp_str);
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		buf_printf(&out, "%s%s", i ? " " : "", w[i]);
	free(w);
	free(copy);
	buf_reserve(&out, 0);
	return buf_steal(&out);
}

static char *words_of(const char *header, const char *body)
{
	struct buf terms = BUF_INIT;
	store_search_terms_of_texts(header, strlen(header), body, strlen(body), &terms);
	char *r = sorted_words(&terms);
	buf_free(&terms);
	return r;
}

#define ASSERT_WORDS(header, body, want)                                                           \
	do {                                                                                       \
		char *got_ = words_of((header), (body));                                           \
		if (strcmp(got_, (want)) != 0)                                                     \
			fail_msg("words of '%s' / '%s': got '%s', want '%s'", (header), (body),    \
			         got_, (want));                                                    \
		free(got_);                                                                        \
	} while (0)

static void test_words_are_the_distinct_trigrams_in_hex(void **state)
{
	/* "hi ", "i b", " bo", "bob", "ob ", "b b": each once */
	ASSERT_WORDS("", "Hi Bob bob", "20626f 622062 626f62 686920 692062 6f6220");
	/* the header's are marked; under three characters there are none */
	ASSERT_WORDS("Re: x", "ok", "h3a2078 h653a20 h72653a");
	/* only ASCII is folded, as the matcher folds */
	ASSERT_WORDS("", "ABC abc", "206162 616263 626320 632061");
	ASSERT_WORDS("", "ÉCU", "c3896375");
	ASSERT_WORDS("", "écu", "c3a96375");
	/* characters, not bytes: one word for three code points of any length */
	ASSERT_WORDS("",
	             "a\xf0\x9f\x98\x80"
	             "b",
	             "61f09f988062");
	ASSERT_WORDS("", "", "");
	/* runs of one character, folded or not */
	ASSERT_WORDS("", "xxxxxyyyyy", "787878 787879 787979 797979");
	ASSERT_WORDS("", "aAaAaAb", "616161 616162");
	ASSERT_WORDS("", "ééééx", "c3a9c3a978 c3a9c3a9c3a9");
}

static void test_the_words_of_a_message_are_always_the_same(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	const char *m = "Subject: hello\r\n\r\nthe same bytes, the same words\r\n";
	store_search_terms(m, strlen(m), &a);
	store_search_terms(m, strlen(m), &b);
	assert_true(a.len > 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	buf_free(&a);
	buf_free(&b);
}

static char *query(const char *needle, bool text)
{
	struct buf q = BUF_INIT;
	if (!store_search_query(needle, strlen(needle), text, &q))
		buf_puts(&q, "none");
	buf_reserve(&q, 0);
	return buf_steal(&q);
}

#define ASSERT_QUERY(needle, text, want)                                                           \
	do {                                                                                       \
		char *got_ = query((needle), (text));                                              \
		if (strcmp(got_, (want)) != 0)                                                     \
			fail_msg("query for '%s': got '%s', want '%s'", (needle), got_, (want));   \
		free(got_);                                                                        \
	} while (0)

static void test_queries_ask_for_trigrams_covering_the_string(void **state)
{
	ASSERT_QUERY("Bob", false, "\"626f62\"");
	ASSERT_QUERY("Bob", true, "(\"h626f62\") OR (\"626f62\")");
	/* at characters 0 and 3, and the last three */
	ASSERT_QUERY("abcdefg", false, "\"616263\" AND \"646566\" AND \"656667\"");
	ASSERT_QUERY("мир", false, "\"d0bcd0b8d180\"");
	ASSERT_QUERY("Bo", false, "none");
	ASSERT_QUERY("Bo\xff", false, "none");
	struct buf q = BUF_INIT;
	assert_false(store_search_query("ab\0cd", 5, false, &q));
	/* a long string: at most STORE_SEARCH_MAX_TRIGRAMS of them */
	char long_needle[200];
	memset(long_needle, 'x', sizeof long_needle - 1);
	long_needle[sizeof long_needle - 1] = '\0';
	assert_true(store_search_query(long_needle, strlen(long_needle), false, &q));
	size_t ands = 0;
	for (const char *p = buf_cstr(&q); (p = strstr(p, " AND ")); p++)
		ands++;
	assert_int_equal(ands + 1, STORE_SEARCH_MAX_TRIGRAMS);
	buf_free(&q);
}

static bool terms_match(const char *terms, const char *needle, bool text)
{
	return store_search_terms_match(terms, strlen(terms), needle, strlen(needle), text);
}

static void test_staged_words_are_checked_whole(void **state)
{
	const char *t = "h616263 646566 6162632 616263646566";
	assert_false(terms_match(t, "abc", false)); /* only the header's, or inside others */
	assert_true(terms_match(t, "abc", true));
	assert_true(terms_match(t, "DEF", false));
	assert_false(terms_match(t, "abcdef", false)); /* abc and def: abc is missing */
	assert_true(terms_match("616263 646566", "abcdef", false));
	assert_false(terms_match("", "xyz", true));
	assert_true(terms_match("", "ab", false)); /* cannot be looked up: may hold it */
}

/* Every word a query asks for, for any substring of a text, is among the
   text's words: the index can only return more than the matcher finds. */
static void test_every_substring_finds_its_words(void **state)
{
	const char *body = "Grüße aus Köln — \"quoted\" TEXT, 100 € and a \xf0\x9f\x98\x80!";
	struct buf terms = BUF_INIT;
	store_search_terms_of_texts("Subject: Prüfung", 17, body, strlen(body), &terms);
	char *have = xasprintf(" %s ", buf_cstr(&terms));
	size_t len = strlen(body);
	for (size_t i = 0; i < len; i++) {
		if (((unsigned char)body[i] & 0xc0) == 0x80)
			continue;
		for (size_t j = i + 1; j <= len; j++) {
			if (j < len && ((unsigned char)body[j] & 0xc0) == 0x80)
				continue;
			struct buf q = BUF_INIT;
			if (!store_search_query(body + i, j - i, false, &q)) {
				buf_free(&q);
				continue;
			}
			/* each "word" of the query */
			for (const char *p = buf_cstr(&q); (p = strchr(p, '"'));) {
				const char *e = strchr(p + 1, '"');
				char *w = xasprintf(" %.*s ", (int)(e - p - 1), p + 1);
				if (!strstr(have, w))
					fail_msg("'%.*s' asks for%s, not a word of the text",
					         (int)(j - i), body + i, w);
				free(w);
				p = e + 1;
			}
			buf_free(&q);
			assert_true(store_search_terms_match(terms.data, terms.len, body + i, j - i,
			                                     false));
		}
	}
	free(have);
	buf_free(&terms);
}

/* ---- the index ------------------------------------------------------------------------ */

static void test_appended_messages_are_candidates_for_their_words(void **state)
{
	struct fx *f = *state;
	append(f, f->inbox, msg1);
	append(f, f->inbox, msg2);
	append(f, f->inbox, msg3);
	assert_int_equal(entries(f), 3);
	/* first staged, then in the FTS5 table */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			into_index(f);
		ASSERT_CANDS(f, f->inbox, "Bistro", false, "1");
		ASSERT_CANDS(f, f->inbox, "bIsTrO", false, "1"); /* ASCII case folded */
		ASSERT_CANDS(f, f->inbox, "Привет", false, "2");
		ASSERT_CANDS(f, f->inbox, "\"hello there\"", false, "3");
		ASSERT_CANDS(f, f->inbox, "lazy dog again and again", false, "3");
		ASSERT_CANDS(f, f->inbox, "nowhere", false, "");
		/* a long string still finds its message (a spread of its trigrams) */
		ASSERT_CANDS(f, f->inbox,
		             "said \"hello there\" and left; the quick brown fox jumps over the "
		             "lazy dog again and",
		             false, "3");
	}
	assert_int_equal(sql_int(f, "SELECT count(*) FROM search_doc"), 3);
	assert_fts_consistent(f);
	assert_check_ok(f);
}

static void test_body_leaves_out_the_message_header_and_text_does_not(void **state)
{
	struct fx *f = *state;
	append(f, f->inbox, msg1);
	append(f, f->inbox, msg2);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			into_index(f);
		ASSERT_CANDS(f, f->inbox, "lunch", false, "");
		ASSERT_CANDS(f, f->inbox, "lunch", true, "1");
		ASSERT_CANDS(f, f->inbox, "Grüße", true, "2"); /* RFC 2047 decoded */
		ASSERT_CANDS(f, f->inbox, "Grüße", false, "");
		/* the part's own MIME header is body: here the message is the part */
		ASSERT_CANDS(f, f->inbox, "koi8", false, "");
	}
}

static void test_a_header_lookup_looks_into_the_message_header_alone(void **state)
{
	struct fx *f = *state;
	append(f, f->inbox, msg1);
	append(f, f->inbox, msg2);
	append(f, f->inbox, msg3);
	append(f, f->archive, msg1);
	ASSERT_HEADER_CANDS(f, f->inbox, "lunch", "1");
	ASSERT_HEADER_CANDS(f, f->inbox, "LUNCH ON", "1");
	ASSERT_HEADER_CANDS(f, f->inbox, "carol@example", "1");
	ASSERT_HEADER_CANDS(f, f->inbox, "Bistro", "");  /* the body */
	ASSERT_HEADER_CANDS(f, f->inbox, "grüße", "2");  /* RFC 2047 decoded */
	ASSERT_HEADER_CANDS(f, f->inbox, "Gr=FC", "");   /* not as written */
	ASSERT_HEADER_CANDS(f, f->inbox, "koi8-r", "2"); /* every field */
	ASSERT_HEADER_CANDS(f, f->inbox, "Subject: ", "1 2 3");
	ASSERT_HEADER_CANDS(f, f->inbox, "hello there", ""); /* msg3's body */
	ASSERT_HEADER_CANDS(f, f->inbox, "Su", "scan");
	ASSERT_HEADER_CANDS(f, f->inbox, "Sub\xff", "scan");
	ASSERT_HEADER_CANDS(f, f->archive, "lunch", "1");
	/* messages the index does not know are candidates */
	forget_index(f);
	ASSERT_HEADER_CANDS(f, f->inbox, "nowhere", "1 2 3");
	size_t n = 0;
	struct buf err = BUF_INIT;
	assert_int_equal(store_reindex(f->st, 0, false, &n, &err), 0);
	ASSERT_HEADER_CANDS(f, f->inbox, "nowhere", "");
	ASSERT_HEADER_CANDS(f, f->inbox, "grüße", "2");
	buf_free(&err);
}

static void test_short_or_invalid_strings_are_not_looked_up(void **state)
{
	struct fx *f = *state;
	append(f, f->inbox, msg1);
	ASSERT_CANDS(f, f->inbox, "", false, "scan");
	ASSERT_CANDS(f, f->inbox, "Bi", false, "scan");
	ASSERT_CANDS(f, f->inbox, "мир", false, ""); /* three characters, six bytes */
	ASSERT_CANDS(f, f->inbox, "ми", false, "scan");
	ASSERT_CANDS(f, f->inbox, "Bis\xff", false, "scan");
}

static void test_copies_share_the_entry_and_the_last_one_takes_it(void **state)
{
	struct fx *f = *state;
	uint32_t uid = append(f, f->inbox, msg1);
	struct store_op op;
	store_op_init(&op, STORE_OP_COPY);
	op.u.copy.from_mailbox_id = f->inbox;
	op.u.copy.to_mailbox_id = f->archive;
	op.u.copy.uids = &uid;
	op.u.copy.nuids = 1;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(entries(f), 1);
	ASSERT_CANDS(f, f->archive, "Bistro", false, "1");
	into_index(f); /* the last removal goes through FTS5 */

	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = f->inbox;
	op.u.expunge.uids = &uid;
	op.u.expunge.nuids = 1;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(entries(f), 1);
	ASSERT_CANDS(f, f->archive, "Bistro", false, "1");
	ASSERT_CANDS(f, f->inbox, "Bistro", false, "");

	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = f->archive;
	op.u.expunge.uids = &uid; /* uid 1 in Archive too */
	op.u.expunge.nuids = 1;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(entries(f), 0);
	/* no row holds the trigram "ist" (Bistro) any more */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM search_text WHERE search_text MATCH "
	                            "'\"697374\"'"),
	                 0);
	assert_fts_consistent(f);
	assert_check_ok(f);
}

static void test_deleting_a_mailbox_or_account_removes_entries(void **state)
{
	struct fx *f = *state;
	append(f, f->archive, msg1);
	into_index(f);
	append(f, f->inbox, msg2); /* staged */
	struct store_op op;
	store_op_init(&op, STORE_OP_MAILBOX_DELETE);
	op.u.mailbox.account_id = f->acct;
	op.u.mailbox.name = "Archive";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(entries(f), 1);
	assert_fts_consistent(f);
	assert_check_ok(f);
	store_op_init(&op, STORE_OP_ACCOUNT_REMOVE);
	op.u.account.address = "a@example.test";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(entries(f), 0);
	assert_fts_consistent(f);
	assert_check_ok(f);
}

static void test_a_queued_only_message_is_indexed_once_a_mailbox_holds_it(void **state)
{
	struct fx *f = *state;
	struct store_queue_rcpt q = {.rcpt = "x@elsewhere.example"};
	struct store_op op;
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = msg1;
	op.u.append.len = strlen(msg1);
	op.u.append.queue = &q;
	op.u.append.nqueue = 1;
	op.u.append.env_from = "a@example.test";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(entries(f), 0);
	append(f, f->inbox, msg1); /* the same bytes: the same blob */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM blob"), 1);
	assert_int_equal(entries(f), 1);
	ASSERT_CANDS(f, f->inbox, "Bistro", false, "1");
	assert_check_ok(f);
}

/* What the migration makes of an older petrel's store: messages without
   entries, listed as pending. */
static void forget_index(struct fx *f)
{
	sql_write(f, "INSERT INTO search_text(search_text) VALUES('delete-all');"
	             "DELETE FROM search_doc;"
	             "DELETE FROM search_stage;"
	             "INSERT INTO search_pending(blob_id) SELECT DISTINCT blob_id FROM message;");
}

static void test_unknown_messages_are_candidates_until_reindexed(void **state)
{
	struct fx *f = *state;
	append(f, f->inbox, msg1);
	append(f, f->inbox, msg2);
	append(f, f->archive, msg3);
	forget_index(f);
	ASSERT_CANDS(f, f->inbox, "Bistro", false, "1 2");
	ASSERT_CANDS(f, f->inbox, "nowhere", true, "1 2");
	assert_check_ok(f);

	size_t n = 0;
	struct buf err = BUF_INIT;
	assert_int_equal(store_reindex(f->st, f->acct, false, &n, &err), 0);
	assert_int_equal(n, 3);
	ASSERT_CANDS(f, f->inbox, "Bistro", false, "1");
	ASSERT_CANDS(f, f->inbox, "nowhere", true, "");
	ASSERT_CANDS(f, f->archive, "lazy dog", false, "1");
	/* nothing left to do; --all rewrites every entry */
	assert_int_equal(store_reindex(f->st, 0, false, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_reindex(f->st, 0, true, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(entries(f), 3);
	ASSERT_CANDS(f, f->inbox, "Bistro", false, "1");
	assert_fts_consistent(f);
	assert_check_ok(f);
	buf_free(&err);
}

static void test_pending_entries_are_candidates_until_rewritten(void **state)
{
	struct fx *f = *state;
	append(f, f->inbox, msg1);
	append(f, f->inbox, msg3);
	/* what a migration does when the extraction changes */
	sql_write(f, "INSERT INTO search_pending(blob_id) "
	             "SELECT blob_id FROM message WHERE uid = 2");
	ASSERT_CANDS(f, f->inbox, "Bistro", false, "1 2");
	size_t n = 0;
	struct buf err = BUF_INIT;
	assert_int_equal(store_reindex(f->st, 0, false, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM search_pending"), 0);
	ASSERT_CANDS(f, f->inbox, "Bistro", false, "1");
	/* a pending blob delivered again is indexed then and there */
	sql_write(f,
	          "INSERT INTO search_pending(blob_id) SELECT blob_id FROM message WHERE uid = 1");
	append(f, f->archive, msg1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM search_pending"), 0);
	assert_fts_consistent(f);
	assert_check_ok(f);
	buf_free(&err);
}

static void test_reindex_of_many_messages_goes_in_batches(void **state)
{
	struct fx *f = *state;
	size_t total = STORE_REINDEX_BATCH * 2 + 7;
	for (size_t i = 0; i < total; i++) {
		char *m = xasprintf("Subject: n%zu\r\n\r\nmessage number %zu here\r\n", i, i);
		append(f, f->inbox, m);
		free(m);
	}
	forget_index(f);
	size_t n = 0;
	struct buf err = BUF_INIT;
	assert_int_equal(store_reindex(f->st, 0, false, &n, &err), 0);
	assert_int_equal(n, total);
	ASSERT_CANDS(f, f->inbox, "number 150 here", false, "151");
	buf_free(&err);
}

/* ---- ops sharing one transaction --------------------------------------------------- */

/* Runs ops in one transaction of a second writer connection, each in its own
   savepoint as the commit thread does; an op that fails, or that undo names,
   is rolled back to its savepoint. */
static void run_batch(struct fx *f, struct store_op **ops, size_t n, const bool *undo)
{
	const struct store_backend *be = &store_backend_sqlite;
	struct store_conn *c = NULL;
	struct buf err = BUF_INIT;
	if (be->open(&c, f->path, true, &err) < 0)
		fail_msg("open: %s", buf_cstr(&err));
	assert_int_equal(be->begin(c, &err), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(be->savepoint(c, &err), 0);
		be->apply(c, ops[i]);
		if (ops[i]->result < 0 || (undo && undo[i]))
			be->rollback_to(c);
		be->release(c);
	}
	if (be->commit(c, &err) < 0)
		fail_msg("commit: %s", buf_cstr(&err));
	be->close(&c);
	buf_free(&err);
}

static void append_init(struct store_op *op, struct store_append_target *t, int64_t mailbox,
                        const char *msg)
{
	*t = (struct store_append_target){.mailbox_id = mailbox};
	store_op_init(op, STORE_OP_APPEND);
	op->u.append.data = msg;
	op->u.append.len = strlen(msg);
	op->u.append.targets = t;
	op->u.append.ntargets = 1;
}

static void test_an_op_rolled_back_leaves_nothing_in_the_index(void **state)
{
	struct fx *f = *state;
	struct store_append_target t[4];
	struct store_op a, b, b2, c;
	append_init(&a, &t[0], f->inbox, msg1);
	/* b fails in its chained second message: b's first is undone too, and
	   its blob id goes to c's message */
	append_init(&b, &t[1], f->inbox, msg2);
	append_init(&b2, &t[2], 999999, msg3);
	b.u.append.more = &b2;
	append_init(&c, &t[3], f->inbox, msg3);
	struct store_op *ops[] = {&a, &b, &c};
	run_batch(f, ops, ARRAY_SIZE(ops), NULL);
	assert_int_equal(a.result, 0);
	assert_int_equal(b.result, -1);
	assert_int_equal(c.result, 0);
	assert_int_equal(entries(f), 2);
	ASSERT_CANDS(f, f->inbox, "Привет", false, "");
	ASSERT_CANDS(f, f->inbox, "Bistro", false, "1");
	ASSERT_CANDS(f, f->inbox, "lazy dog", false, "2");
	assert_fts_consistent(f);
	assert_check_ok(f);
	store_op_clear(&a);
	store_op_clear(&b);
	store_op_clear(&b2);
	store_op_clear(&c);
}

static void test_a_blob_id_gone_and_given_again_in_one_transaction(void **state)
{
	struct fx *f = *state;
	uint32_t uid = append(f, f->inbox, msg1);
	into_index(f);
	struct store_append_target t;
	struct store_op x, a;
	store_op_init(&x, STORE_OP_EXPUNGE);
	x.u.expunge.mailbox_id = f->inbox;
	x.u.expunge.uids = &uid;
	x.u.expunge.nuids = 1;
	append_init(&a, &t, f->inbox, msg3); /* takes the freed blob id */
	struct store_op *ops[] = {&x, &a};
	run_batch(f, ops, ARRAY_SIZE(ops), NULL);
	assert_int_equal(x.result, 0);
	assert_int_equal(a.result, 0);
	assert_int_equal(sql_int(f, "SELECT max(id) FROM blob"), 1);
	assert_int_equal(entries(f), 1);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			into_index(f);
		ASSERT_CANDS(f, f->inbox, "Bistro", true, "");
		ASSERT_CANDS(f, f->inbox, "lazy dog", false, "2");
		ASSERT_CANDS(f, f->inbox, "quotes", true, "2");
	}
	assert_fts_consistent(f);
	assert_check_ok(f);
	store_op_clear(&x);
	store_op_clear(&a);
}

static void test_a_removal_rolled_back_keeps_the_row(void **state)
{
	struct fx *f = *state;
	uint32_t uid[2] = {append(f, f->inbox, msg1), append(f, f->inbox, msg3)};
	into_index(f);
	struct store_op x[2];
	for (int i = 0; i < 2; i++) {
		store_op_init(&x[i], STORE_OP_EXPUNGE);
		x[i].u.expunge.mailbox_id = f->inbox;
		x[i].u.expunge.uids = &uid[i];
		x[i].u.expunge.nuids = 1;
	}
	/* the first expunge queues the removal of its row, then is undone */
	struct store_op *ops[] = {&x[0], &x[1]};
	bool undo[] = {true, false};
	run_batch(f, ops, ARRAY_SIZE(ops), undo);
	assert_int_equal(entries(f), 1);
	ASSERT_CANDS(f, f->inbox, "Bistro", false, "1");
	ASSERT_CANDS(f, f->inbox, "lazy dog", false, "");
	assert_fts_consistent(f);
	assert_check_ok(f);
	for (int i = 0; i < 2; i++)
		store_op_clear(&x[i]);
}

/* ---- the stage ---------------------------------------------------------------------- */

static void test_staged_words_go_into_the_index_together(void **state)
{
	struct fx *f = *state;
	for (int i = 1; i <= STORE_SQLITE_SEARCH_STAGE; i++) {
		char *m = xasprintf("Subject: n%d\r\n\r\nnumber %d is here\r\n", i, i * 7);
		append(f, f->inbox, m);
		free(m);
		if (i == STORE_SQLITE_SEARCH_STAGE - 1) {
			assert_int_equal(sql_int(f, "SELECT count(*) FROM search_stage"), i);
			assert_int_equal(sql_int(f, "SELECT count(*) FROM search_doc"), 0);
			ASSERT_CANDS(f, f->inbox, "number 350 is", false, "50");
		}
	}
	/* the commit that reached the limit moved them all */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM search_stage"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM search_doc"), STORE_SQLITE_SEARCH_STAGE);
	ASSERT_CANDS(f, f->inbox, "number 350 is", false, "50");
	ASSERT_CANDS(f, f->inbox, "n50", true, "50");
	/* a new one is staged, and found beside the others */
	append(f, f->inbox, "Subject: late\r\n\r\nnumber 350 is here too\r\n");
	ASSERT_CANDS(f, f->inbox, "number 350 is", false, "50 129");
	uint32_t uid = 50;
	struct store_op op;
	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = f->inbox;
	op.u.expunge.uids = &uid;
	op.u.expunge.nuids = 1;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	ASSERT_CANDS(f, f->inbox, "number 350 is", false, "129");
	assert_int_equal(entries(f), STORE_SQLITE_SEARCH_STAGE);
	assert_fts_consistent(f);
	assert_check_ok(f);
}

/* ---- schema ---------------------------------------------------------------------------- */

static void test_schema_10_replaces_the_indexed_copies_and_lists_all_as_pending(void **state)
{
	struct fx *f = *state;
	append(f, f->inbox, msg1);
	append(f, f->archive, msg3);
	store_close(&f->st);
	/* Back to schema 9: two trigram tables over a copy of the texts. */
	sql_write(f, SCHEMA_UNDO_TO_10
	          "DROP TABLE search_text;"
	          "DROP TABLE search_doc;"
	          "DROP TABLE search_stage;"
	          "CREATE TABLE search_doc(blob_id INTEGER PRIMARY KEY REFERENCES blob(id) "
	          "  ON DELETE CASCADE, header TEXT NOT NULL, body TEXT NOT NULL);"
	          "CREATE VIRTUAL TABLE search_header USING fts5(header, content='search_doc', "
	          "  content_rowid='blob_id', tokenize='trigram', detail='none');"
	          "CREATE VIRTUAL TABLE search_body USING fts5(body, content='search_doc', "
	          "  content_rowid='blob_id', tokenize='trigram', detail='none');"
	          "INSERT INTO search_doc(blob_id, header, body) SELECT id, 'h', 'b' FROM blob;"
	          "INSERT INTO search_header(search_header) VALUES('rebuild');"
	          "INSERT INTO search_body(search_body) VALUES('rebuild');"
	          "PRAGMA user_version = 9;");
	struct buf err = BUF_INIT;
	if (store_open_path(&f->st, f->path, &err) < 0)
		fail_msg("reopen: %s", buf_cstr(&err));
	assert_int_equal(sql_int(f, "PRAGMA user_version"), store_schema_version());
	assert_int_equal(sql_int(f, "SELECT count(*) FROM sqlite_schema WHERE name IN "
	                            "('search_header', 'search_body')"),
	                 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM search_doc"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM search_pending"), 2);
	ASSERT_CANDS(f, f->inbox, "nowhere", true, "1");
	assert_check_ok(f);
	size_t n = 0;
	assert_int_equal(store_reindex(f->st, 0, false, &n, &err), 0);
	assert_int_equal(n, 2);
	ASSERT_CANDS(f, f->inbox, "nowhere", true, "");
	ASSERT_CANDS(f, f->archive, "lazy dog", false, "1");
	assert_fts_consistent(f);
	assert_check_ok(f);
	buf_free(&err);
}

static void test_check_finds_a_damaged_index(void **state)
{
	struct fx *f = *state;
	append(f, f->inbox, msg1);
	append(f, f->inbox, msg2);
	into_index(f);
	/* a search_doc removed without its FTS5 rows, and not listed as pending */
	sql_write(f,
	          "DELETE FROM search_doc WHERE blob_id = (SELECT min(blob_id) FROM search_doc)");
	struct buf report = BUF_INIT, err = BUF_INIT;
	assert_int_equal(store_check(f->st, &report, &err), 0);
	assert_non_null(strstr(buf_cstr(&report), "full-text index search_text holds 2 messages, "
	                                          "search_doc 1"));
	assert_non_null(strstr(buf_cstr(&report), "is neither indexed nor pending"));
	buf_free(&report);
	buf_free(&err);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_words_are_the_distinct_trigrams_in_hex),
	        cmocka_unit_test(test_the_words_of_a_message_are_always_the_same),
	        cmocka_unit_test(test_queries_ask_for_trigrams_covering_the_string),
	        cmocka_unit_test(test_staged_words_are_checked_whole),
	        cmocka_unit_test(test_every_substring_finds_its_words),
	        T(test_appended_messages_are_candidates_for_their_words),
	        T(test_body_leaves_out_the_message_header_and_text_does_not),
	        T(test_a_header_lookup_looks_into_the_message_header_alone),
	        T(test_short_or_invalid_strings_are_not_looked_up),
	        T(test_copies_share_the_entry_and_the_last_one_takes_it),
	        T(test_deleting_a_mailbox_or_account_removes_entries),
	        T(test_a_queued_only_message_is_indexed_once_a_mailbox_holds_it),
	        T(test_unknown_messages_are_candidates_until_reindexed),
	        T(test_pending_entries_are_candidates_until_rewritten),
	        T(test_reindex_of_many_messages_goes_in_batches),
	        T(test_an_op_rolled_back_leaves_nothing_in_the_index),
	        T(test_a_blob_id_gone_and_given_again_in_one_transaction),
	        T(test_a_removal_rolled_back_keeps_the_row),
	        T(test_staged_words_go_into_the_index_together),
	        T(test_schema_10_replaces_the_indexed_copies_and_lists_all_as_pending),
	        T(test_check_finds_a_damaged_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
