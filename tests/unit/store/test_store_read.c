/*
 * Unit tests for the store's reads of many messages in one pass and of part of
 * a message (store.h): store_message_cache_list (the cached ENVELOPE and
 * BODYSTRUCTURE of a UID range, in UID order, only the strings asked for) and
 * store_message_header_read (the header block alone, read in growing pieces:
 * exactly the bytes mime_header_len counts, wherever the empty line falls,
 * from one snapshot, never another message's bytes).
 *
 * Every test runs on a fresh store in its own mkdtemp folder, removed
 * afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"
#include "store/store_internal.h"

#include "account_fixture.h"

static uint32_t append_cached(struct fx *f, int64_t mailbox, const char *msg, size_t len,
                              const char *envelope, const char *bodystructure)
{
	struct store_append_target t = {.mailbox_id = mailbox};
	struct store_op op;
	store_op_init(&op, STORE_OP_APPEND);
	op.u.append.data = msg;
	op.u.append.len = len;
	op.u.append.envelope = envelope;
	op.u.append.bodystructure = bodystructure;
	op.u.append.targets = &t;
	op.u.append.ntargets = 1;
	exec_ok(f->st, &op);
	store_op_clear(&op);
	return t.uid_r;
}

static uint32_t append(struct fx *f, int64_t mailbox, const char *msg)
{
	return append_cached(f, mailbox, msg, strlen(msg), NULL, NULL);
}

static void expunge(struct fx *f, int64_t mailbox, uint32_t uid)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_EXPUNGE);
	op.u.expunge.mailbox_id = mailbox;
	op.u.expunge.uids = &uid;
	op.u.expunge.nuids = 1;
	exec_ok(f->st, &op);
	store_op_clear(&op);
}

/* The header read of uid into out (reset first). */
static enum store_lookup header(struct fx *f, int64_t mailbox, uint32_t uid, struct buf *out)
{
	struct buf err = BUF_INIT;
	buf_reset(out);
	enum store_lookup l = store_message_header_read(f->st, mailbox, uid, out, &err);
	if (l == STORE_ERROR)
		fail_msg("store_message_header_read: %s", buf_cstr(&err));
	buf_free(&err);
	return l;
}

#define ASSERT_HEADER(f, mb, uid, want)                                                            \
	do {                                                                                       \
		struct buf got_ = BUF_INIT;                                                        \
		assert_int_equal(header((f), (mb), (uid), &got_), STORE_FOUND);                    \
		assert_string_equal(buf_cstr(&got_), (want));                                      \
		assert_int_equal(got_.len, strlen(want));                                          \
		buf_free(&got_);                                                                   \
	} while (0)

/* ---- store_message_header_read ----------------------------------------------------- */

static void test_header_read_stops_at_the_first_empty_line(void **state)
{
	struct fx *f = *state;
	uint32_t a = append(f, f->inbox,
	                    "Subject: hi\r\nFrom: a@example.test\r\n\r\nbody\r\n\r\nmore\r\n");
	uint32_t b = append(f, f->inbox, "Subject: lf\nTo: b@example.test\n\nbody\n");
	uint32_t c = append(f, f->inbox, "\r\nno header at all\r\n");
	ASSERT_HEADER(f, f->inbox, a, "Subject: hi\r\nFrom: a@example.test\r\n\r\n");
	ASSERT_HEADER(f, f->inbox, b, "Subject: lf\nTo: b@example.test\n\n");
	ASSERT_HEADER(f, f->inbox, c, "\r\n");
}

static void test_header_read_without_an_empty_line_is_the_whole_message(void **state)
{
	struct fx *f = *state;
	const char *m = "Subject: only a header\r\nX-Other: yes\r\n";
	uint32_t a = append(f, f->inbox, m);
	ASSERT_HEADER(f, f->inbox, a, m);
	/* a long one, read in several pieces to its end */
	struct buf big = BUF_INIT;
	for (int i = 0; i < 2000; i++)
		buf_printf(&big, "X-Field-%d: %s\r\n", i, i % 2 ? "odd" : "even");
	uint32_t b = append(f, f->inbox, buf_cstr(&big));
	ASSERT_HEADER(f, f->inbox, b, buf_cstr(&big));
	buf_free(&big);
}

/* A message whose header block is exactly hlen bytes (a padding field makes
   up the length), then a body. */
static char *message_with_header_of(size_t hlen, const char *eol)
{
	struct buf m = BUF_INIT;
	size_t e = strlen(eol);
	buf_printf(&m, "Subject: header of %zu bytes%sX-Pad: ", hlen, eol);
	assert_true(m.len + 2 * e < hlen);
	while (m.len + 2 * e < hlen)
		buf_putc(&m, 'x');
	buf_puts(&m, eol);
	buf_puts(&m, eol);
	for (int i = 0; i < 3000; i++)
		buf_printf(&m, "body line %d, after the header%s", i, eol);
	return buf_steal(&m);
}

static void test_header_read_finds_the_empty_line_wherever_the_pieces_end(void **state)
{
	struct fx *f = *state;
	/* around the first piece's end (4096) and the second's (4096 + 8192) */
	static const size_t lens[] = {100,  4093,  4094,  4095,  4096,  4097,  4098,
	                              8192, 12286, 12287, 12288, 12289, 12290, 70000};
	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		for (int lf = 0; lf < 2; lf++) {
			char *m = message_with_header_of(lens[i], lf ? "\n" : "\r\n");
			size_t hl = mime_header_len(m, strlen(m));
			assert_int_equal(hl, lens[i]);
			uint32_t uid = append(f, f->inbox, m);
			struct buf got = BUF_INIT;
			assert_int_equal(header(f, f->inbox, uid, &got), STORE_FOUND);
			if (got.len != hl || memcmp(got.data, m, hl) != 0)
				fail_msg("header of %zu bytes (%s): read %zu bytes", lens[i],
				         lf ? "LF" : "CRLF", got.len);
			buf_free(&got);
			free(m);
		}
	}
}

static void test_header_read_of_a_message_that_is_not_there_is_not_found(void **state)
{
	struct fx *f = *state;
	uint32_t a = append(f, f->inbox, "Subject: a\r\n\r\nx\r\n");
	struct buf got = BUF_INIT;
	assert_int_equal(header(f, f->inbox, a + 1, &got), STORE_NOT_FOUND);
	assert_int_equal(header(f, f->archive, a, &got), STORE_NOT_FOUND);
	expunge(f, f->inbox, a);
	assert_int_equal(header(f, f->inbox, a, &got), STORE_NOT_FOUND);
	assert_int_equal(got.len, 0);
	buf_free(&got);
}

static void test_header_reads_in_one_read_transaction_see_one_snapshot(void **state)
{
	struct fx *f = *state;
	uint32_t a = append(f, f->inbox, "Subject: first\r\n\r\none\r\n");
	uint32_t b = append(f, f->inbox, "Subject: second\r\n\r\ntwo\r\n");
	store_read_begin(f->st);
	ASSERT_HEADER(f, f->inbox, a, "Subject: first\r\n\r\n");
	ASSERT_HEADER(f, f->inbox, b, "Subject: second\r\n\r\n");
	/* b goes, and its blob's id goes to a new message (the highest id is
	   given again): the snapshot still shows b, with b's bytes */
	expunge(f, f->inbox, b);
	uint32_t c = append(f, f->inbox, "Subject: third\r\n\r\nthree\r\n");
	ASSERT_HEADER(f, f->inbox, b, "Subject: second\r\n\r\n");
	ASSERT_HEADER(f, f->inbox, a, "Subject: first\r\n\r\n");
	struct buf got = BUF_INIT;
	assert_int_equal(header(f, f->inbox, c, &got), STORE_NOT_FOUND);
	store_read_end(f->st);
	assert_int_equal(header(f, f->inbox, b, &got), STORE_NOT_FOUND);
	ASSERT_HEADER(f, f->inbox, c, "Subject: third\r\n\r\n");
	/* and a new read transaction starts over */
	store_read_begin(f->st);
	ASSERT_HEADER(f, f->inbox, c, "Subject: third\r\n\r\n");
	assert_int_equal(header(f, f->inbox, b, &got), STORE_NOT_FOUND);
	ASSERT_HEADER(f, f->inbox, a, "Subject: first\r\n\r\n");
	store_read_end(f->st);
	buf_free(&got);
}

static void test_header_read_appends_to_what_the_buffer_holds(void **state)
{
	struct fx *f = *state;
	uint32_t a = append(f, f->inbox, "Subject: a\r\n\r\nx\r\n");
	struct buf got = BUF_INIT, err = BUF_INIT;
	buf_puts(&got, "before:");
	assert_int_equal(store_message_header_read(f->st, f->inbox, a, &got, &err), STORE_FOUND);
	assert_string_equal(buf_cstr(&got), "before:Subject: a\r\n\r\n");
	buf_free(&got);
	buf_free(&err);
}

/* ---- store_message_cache_list ------------------------------------------------------ */

struct cached_list {
	struct buf text; /* "uid env|bs;" per row, "-" for NULL */
	size_t n;
};

static void collect_cached(const struct store_message_cached *m, void *arg)
{
	struct cached_list *l = arg;
	buf_printf(&l->text, "%u ", m->uid);
	if (m->envelope)
		buf_append(&l->text, m->envelope, m->envelope_len);
	else
		buf_putc(&l->text, '-');
	buf_putc(&l->text, '|');
	if (m->bodystructure)
		buf_append(&l->text, m->bodystructure, m->bodystructure_len);
	else
		buf_putc(&l->text, '-');
	buf_putc(&l->text, ';');
	l->n++;
}

static char *cached(struct fx *f, int64_t mailbox, uint32_t lo, uint32_t hi, bool env, bool bs)
{
	struct cached_list l = {BUF_INIT, 0};
	struct buf err = BUF_INIT;
	if (store_message_cache_list(f->st, mailbox, lo, hi, env, bs, collect_cached, &l, &err) < 0)
		fail_msg("store_message_cache_list: %s", buf_cstr(&err));
	buf_free(&err);
	buf_reserve(&l.text, 0);
	return buf_steal(&l.text);
}

#define ASSERT_CACHED(f, mb, lo, hi, env, bs, want)                                                \
	do {                                                                                       \
		char *got_ = cached((f), (mb), (lo), (hi), (env), (bs));                           \
		if (strcmp(got_, (want)) != 0)                                                     \
			fail_msg("cached %u:%u: got '%s', want '%s'", (unsigned)(lo),              \
			         (unsigned)(hi), got_, (want));                                    \
		free(got_);                                                                        \
	} while (0)

static void test_cache_list_gives_a_range_in_uid_order(void **state)
{
	struct fx *f = *state;
	for (int i = 1; i <= 6; i++) {
		char *m = xasprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i);
		char *env = xasprintf("(env %d)", i);
		char *bs = xasprintf("(bs %d)", i);
		/* message 4 has nothing cached (stored by an older petrel) */
		append_cached(f, f->inbox, m, strlen(m), i == 4 ? NULL : env, i == 4 ? NULL : bs);
		free(m);
		free(env);
		free(bs);
	}
	append_cached(f, f->archive, "Subject: x\r\n\r\n", 14, "(other)", "(other bs)");
	expunge(f, f->inbox, 5);
	ASSERT_CACHED(f, f->inbox, 1, UINT32_MAX, true, true,
	              "1 (env 1)|(bs 1);2 (env 2)|(bs 2);3 (env 3)|(bs 3);4 -|-;6 (env 6)|(bs 6);");
	ASSERT_CACHED(f, f->inbox, 2, 4, true, true, "2 (env 2)|(bs 2);3 (env 3)|(bs 3);4 -|-;");
	/* only what was asked for is read */
	ASSERT_CACHED(f, f->inbox, 3, 6, true, false, "3 (env 3)|-;4 -|-;6 (env 6)|-;");
	ASSERT_CACHED(f, f->inbox, 3, 6, false, true, "3 -|(bs 3);4 -|-;6 -|(bs 6);");
	/* neither: the rows, with what they hold */
	ASSERT_CACHED(f, f->inbox, 6, 6, false, false, "6 (env 6)|(bs 6);");
	/* nothing there */
	ASSERT_CACHED(f, f->inbox, 5, 5, true, true, "");
	ASSERT_CACHED(f, f->inbox, 7, 100, true, true, "");
	ASSERT_CACHED(f, f->inbox, 4, 2, true, true, "");
	ASSERT_CACHED(f, f->archive, 1, 10, true, true, "1 (other)|(other bs);");
}

static void test_cache_list_in_a_read_transaction_sees_its_snapshot(void **state)
{
	struct fx *f = *state;
	append_cached(f, f->inbox, "Subject: 1\r\n\r\n", 14, "(e1)", "(b1)");
	uint32_t b = append_cached(f, f->inbox, "Subject: 2\r\n\r\n", 14, "(e2)", "(b2)");
	store_read_begin(f->st);
	ASSERT_CACHED(f, f->inbox, 1, 10, true, true, "1 (e1)|(b1);2 (e2)|(b2);");
	expunge(f, f->inbox, b);
	append_cached(f, f->inbox, "Subject: 3\r\n\r\n", 14, "(e3)", "(b3)");
	ASSERT_CACHED(f, f->inbox, 1, 10, true, true, "1 (e1)|(b1);2 (e2)|(b2);");
	store_read_end(f->st);
	ASSERT_CACHED(f, f->inbox, 1, 10, true, true, "1 (e1)|(b1);3 (e3)|(b3);");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_header_read_stops_at_the_first_empty_line),
	        T(test_header_read_without_an_empty_line_is_the_whole_message),
	        T(test_header_read_finds_the_empty_line_wherever_the_pieces_end),
	        T(test_header_read_of_a_message_that_is_not_there_is_not_found),
	        T(test_header_reads_in_one_read_transaction_see_one_snapshot),
	        T(test_header_read_appends_to_what_the_buffer_holds),
	        T(test_cache_list_gives_a_range_in_uid_order),
	        T(test_cache_list_in_a_read_transaction_sees_its_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
