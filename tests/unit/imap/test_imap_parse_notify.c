/*
 * Unit tests for src/imap/imap_parse_notify.c: NOTIFY NONE and SET, every
 * filter, events and fetch attributes, the RFC 5465 rules, unsupported events
 * (BADEVENT) and the limits. Commands go through the tokenizer first.
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

static int notify(const char *args, struct imap_notify_spec *spec)
{
	struct imap_cmd cmd;
	struct buf line = BUF_INIT, why = BUF_INIT;
	imap_cmd_init(&cmd);
	buf_printf(&line, "t NOTIFY %s", args);
	if (imap_parse_command(line.data, line.len, &cmd, NULL) != IMAP_PARSE_OK)
		fail_msg("\"%s\" does not tokenize", args);
	int rc = imap_notify_parse(cmd.args, cmd.nargs, spec, &why);
	if (rc == 0) {
		assert_int_equal(why.len, 0);
	} else {
		assert_true(why.len > 0);
		assert_null(spec->groups);
		assert_int_equal(spec->ngroups, 0);
	}
	imap_cmd_free(&cmd);
	buf_free(&line);
	buf_free(&why);
	return rc;
}

static void test_none(void **state)
{
	struct imap_notify_spec spec;
	assert_int_equal(notify("NONE", &spec), 0);
	assert_true(spec.none);
	imap_notify_spec_free(&spec);
	assert_int_equal(notify("none", &spec), 0);
	assert_true(spec.none);
	imap_notify_spec_free(&spec);
}

static void test_rfc_example(void **state)
{
	/* RFC 5465 section 7 (erratum 2318 form) */
	struct imap_notify_spec spec;
	assert_int_equal(notify("set status (selected MessageNew (uid body.peek[header.fields "
	                        "(from to subject)]) MessageExpunge) (subtree Lists MessageNew)",
	                        &spec),
	                 -1); /* events must be a list: this is the erratum's point */
	assert_int_equal(notify("SET STATUS (selected (MessageNew (uid body.peek[header.fields "
	                        "(from to subject)]) MessageExpunge)) (subtree (Lists misc) "
	                        "(MessageNew MessageExpunge)) (mailboxes x (MessageNew "
	                        "MessageExpunge FlagChange))",
	                        &spec),
	                 0);
	assert_true(spec.status && !spec.none);
	assert_int_equal(spec.ngroups, 3);
	const struct imap_notify_group *g = &spec.groups[0];
	assert_int_equal(g->filter, IMAP_NOTIFY_SELECTED);
	assert_int_equal(g->events, IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE);
	assert_true(g->has_fetch);
	assert_int_equal(g->fetch.natts, 2);
	assert_int_equal(g->fetch.atts[0].item, IMAP_FETCH_UID);
	assert_int_equal(g->fetch.atts[1].item, IMAP_FETCH_BODY_SECTION);
	assert_int_equal(spec.groups[1].filter, IMAP_NOTIFY_SUBTREE);
	assert_int_equal(spec.groups[1].nnames, 2);
	assert_string_equal(spec.groups[1].names[0], "Lists");
	assert_string_equal(spec.groups[1].names[1], "misc");
	assert_int_equal(spec.groups[2].filter, IMAP_NOTIFY_MAILBOXES);
	assert_int_equal(spec.groups[2].nnames, 1);
	assert_true(spec.groups[2].events & IMAP_NOTIFY_FLAG_CHANGE);
	imap_notify_spec_free(&spec);
}

static void test_single_events_for_other_mailboxes(void **state)
{
	struct imap_notify_spec spec;
	assert_int_equal(notify("SET (personal (MessageExpunge))", &spec), 0);
	assert_int_equal(spec.groups[0].events, IMAP_NOTIFY_MESSAGE_EXPUNGE);
	imap_notify_spec_free(&spec);
	assert_int_equal(notify("SET STATUS (mailboxes x (FlagChange))", &spec), 0);
	assert_int_equal(spec.groups[0].events, IMAP_NOTIFY_FLAG_CHANGE);
	imap_notify_spec_free(&spec);
}

static void test_filters(void **state)
{
	static const struct {
		const char *text;
		enum imap_notify_filter filter;
	} cases[] = {
	        {"SET (selected-delayed NONE)", IMAP_NOTIFY_SELECTED_DELAYED},
	        {"SET (inboxes (MessageNew MessageExpunge))", IMAP_NOTIFY_INBOXES},
	        {"SET (personal (MailboxName SubscriptionChange))", IMAP_NOTIFY_PERSONAL},
	        {"SET (subscribed (MessageNew MessageExpunge))", IMAP_NOTIFY_SUBSCRIBED},
	        {"SET (mailboxes {3}\r\nabc (MessageNew MessageExpunge))", IMAP_NOTIFY_MAILBOXES},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct imap_notify_spec spec;
		assert_int_equal(notify(cases[i].text, &spec), 0);
		assert_int_equal(spec.ngroups, 1);
		assert_int_equal(spec.groups[0].filter, cases[i].filter);
		imap_notify_spec_free(&spec);
	}
}

static void test_errors(void **state)
{
	struct imap_notify_spec empty;
	assert_int_equal(imap_notify_parse(NULL, 0, &empty, NULL), -1);
	static const char *const bad[] = {
	        "SET",
	        "SET STATUS",
	        "FOO",
	        "NONE NONE",
	        "SET (personal)",
	        "SET personal (MessageNew MessageExpunge)",
	        "SET (bogus (MessageNew MessageExpunge))",
	        "SET (selected (MessageNew))",
	        "SET (selected (MessageExpunge))",
	        "SET (selected-delayed (FlagChange))",
	        "SET (personal (MessageNew (UID) MessageExpunge))",
	        "SET (selected (MessageNew (NOSUCH) MessageExpunge))",
	        "SET (selected NONE) (selected NONE)",
	        "SET (selected NONE) (selected-delayed NONE)",
	        "SET (subtree (MessageNew MessageExpunge))",
	        "SET (mailboxes () (MessageNew MessageExpunge))",
	        "SET (mailboxes \"\" (MessageNew MessageExpunge))",
	        "SET (personal ())",
	        "SET (personal (MessageNew MessageNew MessageExpunge))",
	        "SET (personal (\"MessageNew\" MessageExpunge))",
	        "SET (personal NONE extra)",
	        "SET (selected (MessageNew MessageExpunge MailboxName))",
	        "SET (selected-delayed (SubscriptionChange))",
	        /* a syntax error wins over an unsupported event */
	        "SET (personal (AnnotationChange)) (bogus NONE)",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct imap_notify_spec spec;
		if (notify(bad[i], &spec) != -1)
			fail_msg("accepted %s", bad[i]);
	}
}

static void test_unsupported_events(void **state)
{
	static const char *const cases[] = {
	        "SET (personal (MessageNew MessageExpunge AnnotationChange))",
	        "SET (personal (MailboxMetadataChange))",
	        "SET (personal (ServerMetadataChange))",
	        "SET (personal (X-Unknown-Event))",
	        "SET (inboxes NONE) (personal (X-Other))",
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct imap_notify_spec spec;
		if (notify(cases[i], &spec) != -2)
			fail_msg("not BADEVENT: %s", cases[i]);
	}
}

static void test_limits(void **state)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "SET (mailboxes (");
	for (int i = 0; i < IMAP_MAX_NOTIFY_NAMES; i++)
		buf_printf(&b, "%sm%d", i ? " " : "", i);
	buf_puts(&b, ") (MessageNew MessageExpunge))");
	struct imap_notify_spec spec;
	assert_int_equal(notify(buf_cstr(&b), &spec), 0);
	assert_int_equal(spec.groups[0].nnames, IMAP_MAX_NOTIFY_NAMES);
	imap_notify_spec_free(&spec);
	buf_reset(&b);
	buf_puts(&b, "SET (mailboxes (");
	for (int i = 0; i <= IMAP_MAX_NOTIFY_NAMES; i++)
		buf_printf(&b, "%sm%d", i ? " " : "", i);
	buf_puts(&b, ") (MessageNew MessageExpunge))");
	assert_int_equal(notify(buf_cstr(&b), &spec), -1);
	buf_reset(&b);
	buf_puts(&b, "SET");
	for (int i = 0; i <= IMAP_MAX_NOTIFY_GROUPS; i++)
		buf_puts(&b, " (inboxes NONE)");
	assert_int_equal(notify(buf_cstr(&b), &spec), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_none),
	        cmocka_unit_test(test_rfc_example),
	        cmocka_unit_test(test_filters),
	        cmocka_unit_test(test_single_events_for_other_mailboxes),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_unsupported_events),
	        cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
