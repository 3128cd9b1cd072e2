/*
 * Unit tests for src/mime/mime_envelope.c and mime_address.c: the ENVELOPE of
 * every fixture in tests/data/mime (checked against Dovecot 2.3.19, which gives
 * the same structures; it sends a few strings as literals where petrel quotes
 * them), defaults and absent/empty fields, groups, routes, comments, odd and
 * broken addresses, 8-bit header text as literals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

static char *load(const char *name, size_t *len_r)
{
	char *path = xasprintf("tests/data/mime/%s", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	free(path);
	buf_reserve(&b, 0);
	*len_r = b.len;
	return buf_steal(&b);
}

static void assert_envelope(const char *msg, const char *want)
{
	struct buf out = BUF_INIT;
	mime_envelope(msg, strlen(msg), &out);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

/* The address fields of a one-line From: header, as ENVELOPE sends them. */
static void assert_from(const char *from, const char *want)
{
	char *msg = xasprintf("From: %s\r\n\r\n", from);
	struct buf out = BUF_INIT;
	mime_envelope(msg, strlen(msg), &out);
	/* (NIL NIL <from> <sender> ...: cut out the from list */
	const char *s = buf_cstr(&out) + strlen("(NIL NIL ");
	size_t depth = 0, i = 0;
	bool quoted = false;
	for (; s[i]; i++) {
		if (quoted) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				quoted = false;
		} else if (s[i] == '"') {
			quoted = true;
		} else if (s[i] == '{') {
			size_t n = strtoul(s + i + 1, NULL, 10);
			i = (size_t)(strchr(s + i, '\n') - s) + n;
		} else if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')' && --depth == 0) {
			i++;
			break;
		} else if (depth == 0 && s[i] == ' ') {
			break; /* NIL */
		}
	}
	char *got = xstrndup(s, i);
	assert_string_equal(got, want);
	free(got);
	free(msg);
	buf_free(&out);
}

static const struct {
	const char *file, *envelope;
} fixtures[] = {
        {"simple.eml",
         "(\"Mon, 1 Jan 2024 12:00:00 +0000\" \"Lunch\" ((\"Alice Example\" NIL \"alice\" "
         "\"example.org\")) ((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Alice "
         "Example\" NIL \"alice\" \"example.org\")) ((\"Bob\" NIL \"bob\" \"example.com\")) NIL "
         "NIL NIL \"<simple-1@example.org>\")"},
        {"alternative.eml",
         "(\"Tue, 2 Jan 2024 10:00:00 +0100\" \"Alternative\" ((NIL NIL \"alice\" "
         "\"example.org\")) ((NIL NIL \"alice\" \"example.org\")) ((NIL NIL \"alice\" "
         "\"example.org\")) ((NIL NIL \"bob\" \"example.com\")) NIL NIL NIL "
         "\"<alt-1@example.org>\")"},
        {"mixed_attachment.eml",
         "(\"Wed, 3 Jan 2024 09:30:00 -0500\" \"Report attached\" ((\"Carol Q. Sender\" NIL "
         "\"carol\" \"example.net\")) ((\"Carol Q. Sender\" NIL \"carol\" \"example.net\")) "
         "((\"Carol Q. Sender\" NIL \"carol\" \"example.net\")) ((NIL NIL \"dave\" "
         "\"example.com\")) NIL NIL NIL \"<mixed-1@example.net>\")"},
        {"nested_rfc822.eml",
         "(\"Thu, 4 Jan 2024 08:00:00 +0000\" \"Fwd: Original\" ((\"Erin\" NIL \"erin\" "
         "\"example.org\")) ((\"Erin\" NIL \"erin\" \"example.org\")) ((\"Erin\" NIL \"erin\" "
         "\"example.org\")) ((NIL NIL \"frank\" \"example.com\")) NIL NIL NIL NIL)"},
        {"missing_final_boundary.eml",
         "(NIL \"cut short\" ((NIL NIL \"ivan\" \"example.org\")) ((NIL NIL \"ivan\" "
         "\"example.org\")) ((NIL NIL \"ivan\" \"example.org\")) NIL NIL NIL NIL NIL)"},
        {"preamble_epilogue.eml",
         "(\"Sun, 21 Mar 1993 23:56:48 -0800 (PST)\" \"Sample message\" ((\"Nathaniel "
         "Borenstein\" NIL \"nsb\" \"bellcore.com\")) ((\"Nathaniel Borenstein\" NIL \"nsb\" "
         "\"bellcore.com\")) ((\"Nathaniel Borenstein\" NIL \"nsb\" \"bellcore.com\")) ((\"Ned "
         "Freed\" NIL \"ned\" \"innosoft.com\")) NIL NIL NIL NIL)"},
        {"bare_lf.eml", "(NIL \"bare LF\" ((NIL NIL \"judy\" \"example.org\")) ((NIL NIL \"judy\" "
                        "\"example.org\")) ((NIL NIL \"judy\" \"example.org\")) ((NIL NIL \"ken\" "
                        "\"example.org\")) NIL NIL NIL NIL)"},
        {"header_only.eml",
         "(NIL \"no body at all\" ((NIL NIL \"leo\" \"example.org\")) ((NIL NIL \"leo\" "
         "\"example.org\")) ((NIL NIL \"leo\" \"example.org\")) ((NIL NIL \"mia\" "
         "\"example.org\")) NIL NIL NIL NIL)"},
        {"empty.eml", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"},
        {"garbage.eml", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"},
        {"headers_8bit.eml", "(NIL {17}\r\nGr\xC3"
                             "\xBC"
                             "\xC3"
                             "\x9F"
                             "e aus K\xC3"
                             "\xB6"
                             "ln (({12}\r\nZo\xC3"
                             "\xAB"
                             " "
                             "M\xC3"
                             "\xBC"
                             "ller NIL {4}\r\nzo\xC3"
                             "\xAB"
                             " {12}\r\nex\xC3"
                             "\xA4"
                             "mple.org)) "
                             "(({12}\r\nZo\xC3"
                             "\xAB"
                             " M\xC3"
                             "\xBC"
                             "ller NIL {4}\r\nzo\xC3"
                             "\xAB"
                             " "
                             "{12}\r\nex\xC3"
                             "\xA4"
                             "mple.org)) (({12}\r\nZo\xC3"
                             "\xAB"
                             " M\xC3"
                             "\xBC"
                             "ller NIL "
                             "{4}\r\nzo\xC3"
                             "\xAB"
                             " {12}\r\nex\xC3"
                             "\xA4"
                             "mple.org)) ((\"=?utf-8?q?J=C3=BCrgen?=\" "
                             "NIL \"juergen\" \"example.org\")) NIL NIL NIL NIL)"},
        {"addresses.eml",
         "(\"Fri, 5 Jan 2024 07:00:00 +0000\" \"addresses\" ((\"Doe, John\" NIL \"john.doe\" "
         "\"example.org\")) ((\"Secretary\" NIL \"secretary\" \"example.org\")) ((NIL NIL "
         "\"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) ((NIL NIL \"Friends\" NIL)(NIL NIL "
         "\"anna\" \"example.org\")(\"Bert \\\"B\\\" Smith\" NIL \"bert\" \"example.org\")(NIL "
         "NIL NIL NIL)(\"Chris\" \"@relay1.example,@relay2.example\" \"chris\" \"example.org\")) "
         "((NIL NIL \"quoted local\" \"example.org\")(NIL NIL \"angle\" \"example.org\")(NIL NIL "
         "\"nodomain\" \"MISSING_DOMAIN\")(\"Just A Name\" NIL \"MISSING_MAILBOX\" "
         "\"MISSING_DOMAIN\")(NIL NIL \"postmaster\" \"[192.0.2.1]\")) ((NIL NIL \"group-a\" "
         "NIL)(NIL NIL \"a\" \"example.org\")(NIL NIL NIL NIL)(NIL NIL \"group-b\" NIL)(NIL NIL "
         "NIL NIL)) \"<a@b> <c@d>\" \"<addr@example.org>\")"},
        {"quoting.eml",
         "(\"Sat, 6 Jan 2024 06:00:00 +0000\" \"say \\\"hi\\\" \\\\ to everyone folded here\" "
         "((\"Back\\\\slash \\\"Quote\\\"\" NIL \"q\" \"example.org\")) ((\"Back\\\\slash "
         "\\\"Quote\\\"\" NIL \"q\" \"example.org\")) ((\"Back\\\\slash \\\"Quote\\\"\" NIL \"q\" "
         "\"example.org\")) NIL NIL NIL NIL \"\")"},
        {"digest.eml",
         "(NIL \"digest\" ((NIL NIL \"digest\" \"example.org\")) ((NIL NIL \"digest\" "
         "\"example.org\")) ((NIL NIL \"digest\" \"example.org\")) NIL NIL NIL NIL NIL)"},
        {"no_boundary.eml",
         "(NIL \"no boundary\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" "
         "\"example.org\")) ((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)"},
        {"long_boundary.eml",
         "(NIL \"long boundary\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" "
         "\"example.org\")) ((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)"},
        {"empty_multipart.eml",
         "(NIL \"no parts\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
         "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)"},
        {"rfc822_base64.eml",
         "(NIL \"encoded message part\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" "
         "\"example.org\")) ((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)"},
        {"boundary_prefix.eml",
         "(NIL \"boundary prefixes\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" "
         "\"example.org\")) ((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)"},
        {"invalid_type.eml",
         "(NIL \"invalid content type\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" "
         "\"example.org\")) ((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL)"},
};

static void test_every_fixture_has_its_hand_checked_envelope(void **state)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		size_t len;
		char *msg = load(fixtures[i].file, &len);
		struct buf out = BUF_INIT;
		print_message("%s\n", fixtures[i].file);
		mime_envelope(msg, len, &out);
		assert_string_equal(buf_cstr(&out), fixtures[i].envelope);
		buf_free(&out);
		free(msg);
	}
}

static void test_absent_fields_are_nil_and_empty_ones_empty_strings(void **state)
{
	assert_envelope("Subject:\r\nDate: \r\nX: y\r\n\r\nMessage-ID: <body@x>\r\n",
	                "(\"\" \"\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	assert_envelope("", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

static void test_sender_and_reply_to_default_to_from_but_not_to_an_empty_list(void **state)
{
	assert_envelope("From: a@x\r\nSender: b@y\r\n\r\n",
	                "(NIL NIL ((NIL NIL \"a\" \"x\")) ((NIL NIL \"b\" \"y\")) ((NIL NIL \"a\" "
	                "\"x\")) NIL NIL NIL NIL NIL)");
	assert_envelope("Reply-To: r@z\r\n\r\n",
	                "(NIL NIL NIL NIL ((NIL NIL \"r\" \"z\")) NIL NIL NIL NIL NIL)");
}

static void test_repeated_address_fields_are_joined_and_strings_take_the_first(void **state)
{
	assert_envelope("Subject: one\r\nTo: a@x\r\nSubject: two\r\nTo: b@y, c@z\r\n\r\n",
	                "(NIL \"one\" NIL NIL NIL ((NIL NIL \"a\" \"x\")(NIL NIL \"b\" \"y\")(NIL "
	                "NIL \"c\" \"z\")) NIL NIL NIL NIL)");
}

static void test_folded_subject_is_unfolded_and_whitespace_collapsed(void **state)
{
	assert_envelope("Subject:  a\r\n\tb   c \r\n\r\n",
	                "(NIL \"a b c\" NIL NIL NIL NIL NIL NIL NIL NIL)");
}

static void test_rfc2047_words_are_sent_as_written(void **state)
{
	assert_envelope("Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n",
	                "(NIL \"=?utf-8?q?caf=C3=A9?=\" NIL NIL NIL NIL NIL NIL NIL NIL)");
}

static void test_eight_bit_subject_and_names_are_literals(void **state)
{
	assert_envelope(
	        "Subject: caf\xC3\xA9\r\nTo: J\xC3\xB6rg <j@x>\r\n\r\n",
	        "(NIL {5}\r\ncaf\xC3\xA9 NIL NIL NIL (({5}\r\nJ\xC3\xB6rg NIL \"j\" \"x\")) "
	        "NIL NIL NIL NIL)");
}

static void test_addresses_in_all_their_forms(void **state)
{
	assert_from("a@x", "((NIL NIL \"a\" \"x\"))");
	assert_from("Name <a@x>", "((\"Name\" NIL \"a\" \"x\"))");
	assert_from("\"Last, First\" <a@x>", "((\"Last, First\" NIL \"a\" \"x\"))");
	assert_from("a@x (Real Name)", "((\"Real Name\" NIL \"a\" \"x\"))");
	assert_from("(Comment first) a@x", "((NIL NIL \"a\" \"x\"))");
	assert_from("John (middle) Smith <a@x>", "((\"John Smith\" NIL \"a\" \"x\"))");
	assert_from("J. Smith <a@x>", "((\"J. Smith\" NIL \"a\" \"x\"))");
	assert_from("<a@x>", "((NIL NIL \"a\" \"x\"))");
	assert_from("\"a b\"@x", "((NIL NIL \"a b\" \"x\"))");
	assert_from("first.last@sub.x.example", "((NIL NIL \"first.last\" \"sub.x.example\"))");
	assert_from("a @ x . org", "((NIL NIL \"a\" \"x.org\"))");
	assert_from("a@[192.0.2.1]", "((NIL NIL \"a\" \"[192.0.2.1]\"))");
	assert_from("<@r1,@r2:a@x>", "((NIL \"@r1,@r2\" \"a\" \"x\"))");
	assert_from("a@x, , b@y,", "((NIL NIL \"a\" \"x\")(NIL NIL \"b\" \"y\"))");
	assert_from("\"\" <a@x>", "((\"\" NIL \"a\" \"x\"))");
	assert_from("\"Quoted\"Atom <a@x>", "((\"Quoted Atom\" NIL \"a\" \"x\"))");
}

static void test_groups_give_start_and_end_markers(void **state)
{
	assert_from("undisclosed-recipients:;",
	            "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))");
	assert_from("Team: a@x, B <b@y>; c@z",
	            "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x\")(\"B\" NIL \"b\" \"y\")(NIL NIL "
	            "NIL NIL)(NIL NIL \"c\" \"z\"))");
	/* an unclosed group is closed at the end */
	assert_from("Open: a@x", "((NIL NIL \"Open\" NIL)(NIL NIL \"a\" \"x\")(NIL NIL NIL NIL))");
	assert_from("\"Quoted Group\" : ;", "((NIL NIL \"Quoted Group\" NIL)(NIL NIL NIL NIL))");
}

static void test_broken_addresses_are_repaired_not_dropped(void **state)
{
	assert_from("nodomain", "((NIL NIL \"nodomain\" \"MISSING_DOMAIN\"))");
	assert_from("Just A Name",
	            "((\"Just A Name\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
	assert_from("<>", "((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
	assert_from("a@", "((NIL NIL \"a\" \"MISSING_DOMAIN\"))");
	assert_from("@x", "((NIL NIL \"MISSING_MAILBOX\" \"x\"))");
	assert_from("Name <a@x", "((\"Name\" NIL \"a\" \"x\"))");
	assert_from("a@x junk, b@y", "((NIL NIL \"a\" \"x\")(NIL NIL \"b\" \"y\"))");
	assert_from("\"unclosed <a@x>", "((NIL NIL \"unclosed <a@x>\" \"MISSING_DOMAIN\"))");
}

static void test_address_parser_reports_what_it_repaired(void **state)
{
	struct mime_address *a = NULL;
	size_t n = 0;
	const char *v = "Ann <ann@x>, bob, G: c@y;";
	mime_address_parse(v, strlen(v), &a, &n);
	assert_int_equal(n, 5);
	assert_string_equal(a[0].name, "Ann");
	assert_null(a[0].adl);
	assert_string_equal(a[0].mailbox, "ann");
	assert_string_equal(a[0].host, "x");
	assert_false(a[0].invalid);
	assert_string_equal(a[1].mailbox, "bob");
	assert_true(a[1].invalid);
	assert_string_equal(a[2].mailbox, "G");
	assert_null(a[2].host);
	assert_string_equal(a[3].mailbox, "c");
	assert_null(a[4].mailbox);
	assert_null(a[4].host);
	/* appends */
	mime_address_parse("d@z", 3, &a, &n);
	assert_int_equal(n, 6);
	assert_string_equal(a[5].host, "z");
	mime_address_free(&a, n);
	assert_null(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_fixture_has_its_hand_checked_envelope),
	        cmocka_unit_test(test_absent_fields_are_nil_and_empty_ones_empty_strings),
	        cmocka_unit_test(test_sender_and_reply_to_default_to_from_but_not_to_an_empty_list),
	        cmocka_unit_test(
	                test_repeated_address_fields_are_joined_and_strings_take_the_first),
	        cmocka_unit_test(test_folded_subject_is_unfolded_and_whitespace_collapsed),
	        cmocka_unit_test(test_rfc2047_words_are_sent_as_written),
	        cmocka_unit_test(test_eight_bit_subject_and_names_are_literals),
	        cmocka_unit_test(test_addresses_in_all_their_forms),
	        cmocka_unit_test(test_groups_give_start_and_end_markers),
	        cmocka_unit_test(test_broken_addresses_are_repaired_not_dropped),
	        cmocka_unit_test(test_address_parser_reports_what_it_repaired),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
