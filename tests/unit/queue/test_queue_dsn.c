/*
 * Unit tests for src/queue/queue_dsn.c: where the message to send starts (the
 * Return-Path: field local delivery put first is dropped, folded or not), which
 * reports RFC 3461 NOTIFY asks for, and the RFC 3464 report itself, checked
 * with the MIME parser: its parts and their types, the per-recipient fields,
 * headers only or the whole message (RET), UTF-8 addresses (RFC 6533), folding
 * of a long remote reply, and CRLF everywhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"
#include "queue/queue_internal.h"

#define L(s) (s), sizeof(s) - 1

/* ---- the message as it leaves ---------------------------------------------------- */

static void test_the_return_path_field_is_not_sent(void **state)
{
	const char m1[] = "Return-Path: <a@example.test>\r\nReceived: x\r\n\r\nbody\r\n";
	assert_int_equal(queue_message_start(L(m1)), strlen("Return-Path: <a@example.test>\r\n"));
	const char m2[] = "return-path: <>\r\n\tfolded\r\nSubject: s\r\n\r\n";
	assert_int_equal(queue_message_start(L(m2)), strlen("return-path: <>\r\n\tfolded\r\n"));
	const char m3[] = "Subject: s\r\nReturn-Path: <x@y>\r\n\r\n";
	assert_int_equal(queue_message_start(L(m3)), 0);
	const char m4[] = "Return-Path: <x@y>"; /* nothing after it: sent as it is */
	assert_int_equal(queue_message_start(L(m4)), 0);
	assert_int_equal(queue_message_start("", 0), 0);
	const char m5[] = "Return-Path: <x@y>\n\nbody";
	assert_int_equal(queue_message_start(L(m5)), strlen("Return-Path: <x@y>\n"));
}

static void test_notify_defaults_to_failure_and_delay_and_never_means_none(void **state)
{
	assert_true(queue_dsn_wanted(NULL, "FAILURE"));
	assert_false(queue_dsn_wanted(NULL, "SUCCESS"));
	assert_true(queue_dsn_wanted(NULL, "DELAY"));
	assert_true(queue_dsn_wanted("", "DELAY"));
	assert_false(queue_dsn_wanted("NEVER", "DELAY"));
	assert_false(queue_dsn_wanted("FAILURE", "DELAY"));
	assert_false(queue_dsn_wanted("SUCCESS", "DELAY"));
	assert_true(queue_dsn_wanted("SUCCESS,FAILURE", "SUCCESS"));
	assert_true(queue_dsn_wanted("success,failure", "FAILURE"));
	assert_false(queue_dsn_wanted("SUCCESS", "FAILURE"));
	assert_false(queue_dsn_wanted("NEVER", "FAILURE"));
	assert_false(queue_dsn_wanted("FAILUREX", "FAILURE"));
	assert_true(queue_dsn_wanted("DELAY", "DELAY"));
}

/* ---- the report --------------------------------------------------------------------- */

static const char ORIGINAL[] = "From: A <a@example.test>\r\nTo: x@remote.example\r\n"
                               "Subject: the original\r\n\r\nthe body\r\n";

static char *build(bool full, const struct queue_dsn_rcpt *r, size_t n, const char *to)
{
	struct queue_dsn d = {
	        .hostname = "mail.example.test",
	        .to = to,
	        .envid = "env-1",
	        .full = full,
	        .msg = ORIGINAL,
	        .len = sizeof ORIGINAL - 1,
	        .arrival = 1700000000,
	        .now = 1700000100,
	        .boundary = "=_b0undary",
	        .message_id = "abc@mail.example.test",
	        .rcpts = r,
	        .nrcpts = n,
	};
	struct buf out = BUF_INIT;
	queue_dsn_build(&d, &out);
	return buf_steal(&out);
}

static void assert_crlf_lines(const char *s)
{
	size_t col = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '\n') {
			assert_true(p > s && p[-1] == '\r');
			col = 0;
		} else {
			col++;
			assert_true(col <= 998);
		}
	}
}

static const struct queue_dsn_rcpt FAILED = {
        .rcpt = "x@remote.example",
        .orcpt = "rfc822;X@Remote.Example",
        .action = "failed",
        .status = "5.1.1",
        .remote_mta = "mx.remote.example",
        .diagnostic = "550 5.1.1 <x@remote.example>: no such user",
};

static void test_a_failure_report_has_three_parts_of_the_right_types(void **state)
{
	char *r = build(false, &FAILED, 1, "a@example.test");
	assert_crlf_lines(r);
	struct mime_part *root = NULL;
	mime_parse(r, strlen(r), &root);
	assert_string_equal(root->type, "multipart");
	assert_string_equal(root->subtype, "report");
	assert_int_equal(root->nchildren, 3);
	const struct mime_part *c = root->children;
	assert_string_equal(c->type, "text");
	assert_string_equal(c->subtype, "plain");
	c = c->next;
	assert_string_equal(c->type, "message");
	assert_string_equal(c->subtype, "delivery-status");
	c = c->next;
	assert_string_equal(c->type, "text");
	assert_string_equal(c->subtype, "rfc822-headers");
	assert_non_null(strstr(r + c->body_offset, "Subject: the original"));
	assert_null(strstr(r, "the body"));
	mime_part_free(&root);
	static const char *const needles[] = {
	        "Return-Path: <>\r\n",
	        "To: <a@example.test>\r\n",
	        "Subject: Undelivered Mail Returned to Sender\r\n",
	        "Message-ID: <abc@mail.example.test>\r\n",
	        "Auto-Submitted: auto-replied\r\n",
	        "report-type=delivery-status",
	        "Reporting-MTA: dns; mail.example.test\r\n",
	        "Original-Envelope-Id: env-1\r\n",
	        "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
	        "Final-Recipient: rfc822; x@remote.example\r\n",
	        "Original-Recipient: rfc822; X@Remote.Example\r\n",
	        "Action: failed\r\n",
	        "Status: 5.1.1\r\n",
	        "Remote-MTA: dns; mx.remote.example\r\n",
	        "Diagnostic-Code: smtp; 550 5.1.1 <x@remote.example>: no such user\r\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(needles); i++)
		if (!strstr(r, needles[i]))
			fail_msg("missing '%s' in:\n%s", needles[i], r);
	free(r);
}

static void test_ret_full_attaches_the_whole_message(void **state)
{
	char *r = build(true, &FAILED, 1, "a@example.test");
	struct mime_part *root = NULL;
	mime_parse(r, strlen(r), &root);
	const struct mime_part *c = root->children->next->next;
	assert_string_equal(c->type, "message");
	assert_string_equal(c->subtype, "rfc822");
	assert_int_equal(c->kind, MIME_PART_MESSAGE);
	assert_non_null(strstr(r, "the body\r\n"));
	mime_part_free(&root);
	free(r);
}

static void test_a_success_report_says_relayed(void **state)
{
	struct queue_dsn_rcpt ok = {.rcpt = "x@remote.example",
	                            .action = "relayed",
	                            .status = "2.0.0",
	                            .remote_mta = "mx.remote.example",
	                            .diagnostic = "250 2.0.0 queued"};
	char *r = build(false, &ok, 1, "a@example.test");
	assert_non_null(strstr(r, "Subject: Successful Mail Delivery Report\r\n"));
	assert_non_null(strstr(r, "Action: relayed\r\n"));
	assert_non_null(strstr(r, "Status: 2.0.0\r\n"));
	free(r);
}

static void test_a_delay_report_says_delayed_and_until_when(void **state)
{
	struct queue_dsn_rcpt late = {.rcpt = "x@remote.example",
	                              .action = "delayed",
	                              .status = "4.2.2",
	                              .remote_mta = "mx.remote.example",
	                              .diagnostic = "452 4.2.2 Mailbox full",
	                              .retry_until = 1700432000};
	char *r = build(false, &late, 1, "a@example.test");
	assert_crlf_lines(r);
	assert_non_null(strstr(r, "Subject: Delayed Mail (still being retried)\r\n"));
	assert_non_null(strstr(r, "Action: delayed\r\n"));
	assert_non_null(strstr(r, "Status: 4.2.2\r\n"));
	assert_non_null(strstr(r, "Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\r\n"));
	assert_non_null(strstr(r, "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000\r\n"));
	assert_non_null(strstr(r, "has not been delivered yet"));
	assert_non_null(strstr(r, "Content-Type: text/rfc822-headers\r\n"));
	free(r);
	/* with a failure in the same report: the failure leads, the delay is said */
	struct queue_dsn_rcpt both[2] = {FAILED, late};
	both[1].rcpt = "y@remote.example";
	r = build(false, both, 2, "a@example.test");
	assert_non_null(strstr(r, "Subject: Undelivered Mail Returned to Sender\r\n"));
	assert_non_null(strstr(r, "Delivery to those marked delayed is still being tried."));
	assert_non_null(strstr(r, "Action: failed\r\n"));
	assert_non_null(strstr(r, "Action: delayed\r\n"));
	/* Will-Retry-Until belongs to the delayed recipient only */
	const char *until = strstr(r, "Will-Retry-Until");
	assert_non_null(until);
	assert_null(strstr(until + 1, "Will-Retry-Until"));
	assert_true(strstr(r, "Will-Retry-Until") > strstr(r, "Final-Recipient: rfc822; y@"));
	free(r);
}

static void test_our_own_reason_is_given_without_diagnostic_code(void **state)
{
	struct queue_dsn_rcpt nomx = {.rcpt = "x@nomail.example",
	                              .action = "failed",
	                              .status = "5.1.10",
	                              .reason = "nomail.example has a null MX"};
	char *r = build(false, &nomx, 1, "a@example.test");
	assert_null(strstr(r, "Diagnostic-Code"));
	assert_null(strstr(r, "Remote-MTA"));
	assert_non_null(strstr(r, "Status: 5.1.10\r\n"));
	assert_non_null(strstr(r, "<x@nomail.example>: failed: nomail.example has a null MX"));
	free(r);
}

static void test_a_long_remote_reply_is_folded(void **state)
{
	struct buf reply = BUF_INIT;
	buf_puts(&reply, "550 5.7.1");
	for (int i = 0; i < 60; i++)
		buf_puts(&reply, " word\r\n\x01");
	struct queue_dsn_rcpt r1 = FAILED;
	r1.diagnostic = buf_cstr(&reply);
	char *r = build(false, &r1, 1, "a@example.test");
	assert_crlf_lines(r);
	const char *d = strstr(r, "Diagnostic-Code: smtp; 550 5.7.1 word");
	assert_non_null(d);
	/* folded: continuation lines start with a blank, none is over 78 columns */
	const char *end = strstr(d, "\r\nLast-Attempt-Date:");
	assert_non_null(end);
	for (const char *p = d; p < end;) {
		const char *nl = strstr(p, "\r\n");
		assert_true(nl - p <= 78);
		if (p != d)
			assert_int_equal(*p, ' ');
		p = nl + 2;
	}
	assert_null(memchr(d, '\x01', (size_t)(end - d)));
	free(r);
	buf_free(&reply);
}

static void test_utf8_addresses_make_a_global_report(void **state)
{
	struct queue_dsn_rcpt u = FAILED;
	u.rcpt = "j\xc3\xb6rg@b\xc3\xbc"
	         "cher.example";
	u.orcpt = NULL;
	char *r = build(false, &u, 1, "a@example.test");
	assert_non_null(strstr(r, "report-type=global-delivery-status"));
	assert_non_null(strstr(r, "Content-Type: message/global-delivery-status\r\n"));
	assert_non_null(strstr(r, "Content-Type: message/global-headers\r\n"));
	assert_non_null(strstr(r, "Final-Recipient: utf-8; j\xc3\xb6rg@"));
	free(r);
}

static void test_several_recipients_get_a_block_each(void **state)
{
	struct queue_dsn_rcpt two[2] = {FAILED, FAILED};
	two[1].rcpt = "y@remote.example";
	two[1].status = "4.4.7";
	two[1].diagnostic = NULL;
	two[1].remote_mta = NULL;
	two[1].reason = "expired";
	char *r = build(false, two, 2, "a@example.test");
	const char *first = strstr(r, "Final-Recipient: rfc822; x@remote.example");
	const char *second = strstr(r, "Final-Recipient: rfc822; y@remote.example");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
	assert_non_null(strstr(second, "Status: 4.4.7\r\n"));
	assert_non_null(strstr(first, "\r\n\r\nFinal-Recipient: rfc822; y@"));
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_the_return_path_field_is_not_sent),
	        cmocka_unit_test(test_notify_defaults_to_failure_and_delay_and_never_means_none),
	        cmocka_unit_test(test_a_failure_report_has_three_parts_of_the_right_types),
	        cmocka_unit_test(test_ret_full_attaches_the_whole_message),
	        cmocka_unit_test(test_a_success_report_says_relayed),
	        cmocka_unit_test(test_a_delay_report_says_delayed_and_until_when),
	        cmocka_unit_test(test_our_own_reason_is_given_without_diagnostic_code),
	        cmocka_unit_test(test_a_long_remote_reply_is_folded),
	        cmocka_unit_test(test_utf8_addresses_make_a_global_report),
	        cmocka_unit_test(test_several_recipients_get_a_block_each),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
