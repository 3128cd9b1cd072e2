/*
 * Unit tests for src/imap/imap_parse_url.c: absolute and relative IMAP URLs
 * (RFC 5092) with every part, the URLAUTH rump, access identifiers, mechanism
 * and token (RFC 4467), percent-decoding, path tricks refused (encoded '/',
 * "." and ".." levels, controls, bad UTF-8), sections like FETCH's, partial
 * ranges, RFC 3339 expiry times, and the limits at their edges. Each valid
 * URL is also cut short at every length: no prefix may crash, and each must
 * either parse or fail with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

/* Every prefix of text parses or fails cleanly (with a reason, url empty). */
static void check_prefixes(const char *text)
{
	size_t len = strlen(text);
	for (size_t n = 0; n < len; n++) {
		struct imap_url u;
		struct buf why = BUF_INIT;
		char *copy = xstrndup(text, n); /* exact size for ASan */
		int rc = imap_url_parse((struct str){copy, n}, &u, &why);
		if (rc == 0) {
			assert_true(u.uid > 0);
			assert_non_null(u.mailbox);
			imap_url_free(&u);
		} else {
			assert_int_equal(rc, -1);
			assert_true(why.len > 0);
			assert_null(u.mailbox);
		}
		free(copy);
		buf_free(&why);
	}
}

static void parse_ok(const char *text, struct imap_url *u)
{
	struct buf why = BUF_INIT;
	if (imap_url_parse(str_c(text), u, &why) != 0)
		fail_msg("\"%s\" refused: %s", text, buf_cstr(&why));
	buf_free(&why);
	check_prefixes(text);
}

static void parse_bad(const char *text)
{
	struct imap_url u;
	struct buf why = BUF_INIT;
	if (imap_url_parse(str_c(text), &u, &why) == 0)
		fail_msg("\"%s\" parsed", text);
	assert_true(why.len > 0);
	assert_null(u.mailbox);
	assert_null(u.host);
	buf_free(&why);
}

static void test_an_absolute_urlauth_url_gives_every_part(void **state)
{
	struct imap_url u;
	const char *text = "imap://fred@Example.COM:143/INBOX;UIDVALIDITY=385759045/;UID=20/"
	                   ";SECTION=1.2/;PARTIAL=10.20;EXPIRE=2026-12-01T10:00:00Z;URLAUTH="
	                   "user+joe:INTERNAL:91354a473744909de610943775f92038";
	parse_ok(text, &u);
	assert_true(u.absolute);
	assert_string_equal(u.user, "fred");
	assert_string_equal(u.host, "example.com");
	assert_int_equal(u.port, 143);
	assert_string_equal(u.mailbox, "INBOX");
	assert_int_equal(u.uidvalidity, 385759045);
	assert_int_equal(u.uid, 20);
	assert_true(u.has_section);
	assert_int_equal(u.section.nparts, 2);
	assert_int_equal(u.section.part[0], 1);
	assert_int_equal(u.section.part[1], 2);
	assert_int_equal(u.section.kind, IMAP_SECTION_ALL);
	assert_true(u.partial);
	assert_int_equal(u.offset, 10);
	assert_int_equal(u.length, 20);
	assert_true(u.has_expire);
	assert_int_equal(u.expire, 1796119200); /* 2026-12-01T10:00:00Z */
	assert_int_equal(u.access, IMAP_URL_ACCESS_USER);
	assert_string_equal(u.access_user, "joe");
	assert_string_equal(u.mechanism, "INTERNAL");
	assert_string_equal(u.token, "91354a473744909de610943775f92038");
	/* the rump ends with the access identifier */
	assert_int_equal(u.rump_len, strstr(text, ":INTERNAL:") - text);
	imap_url_free(&u);
}

static void test_a_rump_without_token_is_the_whole_url(void **state)
{
	struct imap_url u;
	const char *text = "imap://joe@example.com/INBOX/;uid=20;urlauth=anonymous";
	parse_ok(text, &u);
	assert_int_equal(u.access, IMAP_URL_ACCESS_ANONYMOUS);
	assert_null(u.mechanism);
	assert_null(u.token);
	assert_int_equal(u.rump_len, strlen(text));
	imap_url_free(&u);

	parse_ok("imap://joe@example.com/INBOX/;uid=20;urlauth=authuser", &u);
	assert_int_equal(u.access, IMAP_URL_ACCESS_AUTHUSER);
	imap_url_free(&u);

	parse_ok("imap://joe@example.com/INBOX/;uid=20;urlauth=submit+joe%40example.com", &u);
	assert_int_equal(u.access, IMAP_URL_ACCESS_SUBMIT);
	assert_string_equal(u.access_user, "joe@example.com");
	imap_url_free(&u);

	/* '@' unencoded in a URLAUTH userid, as clients send it */
	parse_ok("imap://joe@example.com/INBOX/;uid=20;urlauth=user+joe@example.com", &u);
	assert_string_equal(u.access_user, "joe@example.com");
	imap_url_free(&u);
}

static void test_a_relative_url_names_a_message_of_the_current_server(void **state)
{
	struct imap_url u;
	parse_ok("/INBOX/;UID=7/;SECTION=HEADER", &u);
	assert_false(u.absolute);
	assert_null(u.host);
	assert_null(u.user);
	assert_string_equal(u.mailbox, "INBOX");
	assert_int_equal(u.uid, 7);
	assert_int_equal(u.section.kind, IMAP_SECTION_HEADER);
	assert_int_equal(u.section.nparts, 0);
	assert_int_equal(u.access, IMAP_URL_ACCESS_NONE);
	imap_url_free(&u);

	parse_ok("/Work/Projects%20%C3%A9t%C3%A9;uidvalidity=9/;uid=3/;partial=100000.1", &u);
	assert_string_equal(u.mailbox, "Work/Projects \xc3\xa9t\xc3\xa9");
	assert_int_equal(u.uidvalidity, 9);
	assert_int_equal(u.offset, 100000);
	assert_int_equal(u.length, 1);
	imap_url_free(&u);

	parse_ok("/INBOX/;UID=1/;PARTIAL=0", &u);
	assert_true(u.partial);
	assert_int_equal(u.length, 0); /* to the end */
	imap_url_free(&u);
}

static void test_sections_read_as_fetch_sections(void **state)
{
	struct imap_url u;
	parse_ok("/INBOX/;UID=1/;SECTION=2.HEADER.FIELDS%20(From%20%22To%22)", &u);
	assert_int_equal(u.section.kind, IMAP_SECTION_HEADER_FIELDS);
	assert_int_equal(u.section.nparts, 1);
	assert_int_equal(u.section.nfields, 2);
	assert_string_equal(u.section.fields[0], "FROM");
	assert_string_equal(u.section.fields[1], "TO");
	assert_null(u.section.fields[2]);
	imap_url_free(&u);

	parse_ok("/INBOX/;UID=1/;SECTION=HEADER.FIELDS.NOT%20(Received)", &u);
	assert_int_equal(u.section.kind, IMAP_SECTION_HEADER_FIELDS_NOT);
	imap_url_free(&u);

	parse_ok("/INBOX/;UID=1/;SECTION=1.2.mime", &u);
	assert_int_equal(u.section.kind, IMAP_SECTION_MIME);
	imap_url_free(&u);

	parse_ok("/INBOX/;UID=1/;SECTION=3.text", &u);
	assert_int_equal(u.section.kind, IMAP_SECTION_TEXT);
	assert_int_equal(u.section.part[0], 3);
	imap_url_free(&u);

	static const char *const bad[] = {
	        "MIME",
	        "1.",
	        ".1",
	        "0",
	        "1..2",
	        "1.FOO",
	        "HEADER.FIELDS",
	        "HEADER.FIELDS ()",
	        "HEADER.FIELDS (A",
	        "HEADER.FIELDS (A  B)",
	        "TEXT.1",
	        "01",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct imap_fetch_att att;
		if (imap_url_section_parse(str_c(bad[i]), &att) == 0)
			fail_msg("section \"%s\" parsed", bad[i]);
		assert_null(att.fields);
	}
}

static void test_path_tricks_and_malformed_urls_are_refused(void **state)
{
	static const char *const bad[] = {
	        "",
	        "INBOX/;UID=1",
	        "http://joe@example.com/INBOX/;UID=1",
	        "imap://joe@example.com",
	        "imap://joe@example.com/",
	        "imap://joe@example.com/INBOX",             /* a mailbox, not a message */
	        "imap://joe@example.com/INBOX?SUBJECT%20x", /* a search */
	        "/INBOX/;UID=0",
	        "/INBOX/;UID=01",
	        "/INBOX/;UID=4294967296",
	        "/INBOX/;UID=1x",
	        "/INBOX;UID=1",
	        "/INBOX;UIDVALIDITY=0/;UID=1",
	        "/INBOX;UIDVALIDITY=5;UID=1",
	        "/;UID=1",
	        "//;UID=1",
	        "/a//b/;UID=1",   /* an empty level */
	        "/a/../b/;UID=1", /* path tricks */
	        "/../bob/;UID=1",
	        "/./INBOX/;UID=1",
	        "/INBOX/../;UID=1",
	        "/a%2Fb/;UID=1", /* an encoded slash */
	        "/a%2fb/;UID=1",
	        "/x/%2E%2E/;UID=1", /* ".." encoded is still ".." */
	        "/%2E%2E/x/;UID=1",
	        "/IN%00BOX/;UID=1", /* NUL */
	        "/IN%0ABOX/;UID=1", /* a control */
	        "/%FF/;UID=1",      /* not UTF-8 */
	        "/%C0%80/;UID=1",   /* overlong */
	        "/IN BOX/;UID=1",   /* raw space */
	        "/IN\"BOX/;UID=1",
	        "/INBOX%/;UID=1",
	        "/INBOX%4/;UID=1",
	        "/INBOX%G0/;UID=1",
	        "/INBOX/;UID=1/;SECTION=",
	        "/INBOX/;UID=1/;SECTION=1/",
	        "/INBOX/;UID=1/;SECTION=%00",
	        "/INBOX/;UID=1/;PARTIAL=",
	        "/INBOX/;UID=1/;PARTIAL=1.0",
	        "/INBOX/;UID=1/;PARTIAL=.5",
	        "/INBOX/;UID=1/;PARTIAL=4294967296",
	        "/INBOX/;UID=1;URLAUTH=anonymous", /* URLAUTH needs an absolute URL */
	        "/INBOX/;UID=1;junk",
	        "/INBOX/;UID=1/",
	        "imap://joe@example.com/INBOX/;UID=1;EXPIRE=2026-12-01T10:00:00Z",
	        "imap://joe@example.com/INBOX/;UID=1;EXPIRE=yesterday;URLAUTH=anonymous",
	        "imap://joe@example.com/INBOX/;UID=1;URLAUTH=",
	        "imap://joe@example.com/INBOX/;UID=1;URLAUTH=everyone",
	        "imap://joe@example.com/INBOX/;UID=1;URLAUTH=user+",
	        "imap://joe@example.com/INBOX/;UID=1;URLAUTH=user+a%00b",
	        "imap://joe@example.com/INBOX/;UID=1;URLAUTH=user+a@b@c",
	        "imap://joe@example.com/INBOX/;UID=1;URLAUTH=anonymous:",
	        "imap://joe@example.com/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL",
	        "imap://joe@example.com/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL:",
	        "imap://joe@example.com/INBOX/"
	        ";UID=1;URLAUTH=anonymous::0123456789abcdef0123456789abcdef",
	        "imap://joe@example.com/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL:0123456789abcdef",
	        "imap://joe@example.com/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL:"
	        "0123456789abcdef0123456789abcdeg",
	        "imap://joe@example.com/INBOX/;UID=1;URLAUTH=anonymous:INT/ERNAL:"
	        "0123456789abcdef0123456789abcdef",
	        "imap://joe@exa_mple.com/INBOX/;UID=1",
	        "imap://joe@/INBOX/;UID=1",
	        "imap://joe@example.com:/INBOX/;UID=1",
	        "imap://joe@example.com:0/INBOX/;UID=1",
	        "imap://joe@example.com:65536/INBOX/;UID=1",
	        "imap://joe@example.com:1x/INBOX/;UID=1",
	        "imap://jo e@example.com/INBOX/;UID=1",
	        "imap://joe;AUTH=@example.com/INBOX/;UID=1",
	        "imap://joe;FOO=x@example.com/INBOX/;UID=1",
	        "imap://joe%00@example.com/INBOX/;UID=1",
	        "imap://joe@[::1/INBOX/;UID=1",
	        "imap://joe@[::g]/INBOX/;UID=1",
	        "imap://joe@[::1]x/INBOX/;UID=1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		parse_bad(bad[i]);

	/* NUL inside is malformed, not an end. */
	struct imap_url u;
	struct buf why = BUF_INIT;
	assert_int_equal(imap_url_parse((struct str){"/INBOX/;UID=1\0"
	                                             "2",
	                                             15},
	                                &u, &why),
	                 -1);
	buf_free(&why);
}

static void test_user_host_and_auth_forms_are_read(void **state)
{
	struct imap_url u;
	parse_ok("imap://joe%40example.com;AUTH=*@mail.example.com/INBOX/;UID=1", &u);
	assert_string_equal(u.user, "joe@example.com");
	assert_string_equal(u.host, "mail.example.com");
	assert_int_equal(u.port, 0);
	imap_url_free(&u);

	parse_ok("imap://;AUTH=PLAIN@[::1]:993/INBOX/;UID=1", &u);
	assert_null(u.user);
	assert_string_equal(u.host, "[::1]");
	assert_int_equal(u.port, 993);
	imap_url_free(&u);

	parse_ok("IMAP://example.com/INBOX/;UID=1", &u);
	assert_null(u.user);
	imap_url_free(&u);
}

static void test_rfc3339_times_convert_to_utc(void **state)
{
	static const struct {
		const char *in;
		int64_t want; /* -1: invalid */
	} cases[] = {
	        {"1970-01-01T00:00:00Z", 0},
	        {"2000-02-29T23:59:59Z", 951868799},
	        {"2026-12-01T11:00:00+01:00", 1796119200},
	        {"2026-12-01T05:30:00-04:30", 1796119200},
	        {"2026-12-01t10:00:00.123456z", 1796119200},
	        {"1990-12-31T23:59:60Z", 662687999}, /* a leap second reads as :59 */
	        {"2001-02-29T00:00:00Z", -1},
	        {"2026-13-01T00:00:00Z", -1},
	        {"2026-12-01T24:00:00Z", -1},
	        {"2026-12-01T10:00:00", -1},
	        {"2026-12-01 10:00:00Z", -1},
	        {"2026-12-01T10:00:00.Z", -1},
	        {"2026-12-01T10:00:00+0100", -1},
	        {"2026-12-01T10:00:00Z ", -1},
	        {"26-12-01T10:00:00Z", -1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t t = -7;
		int rc = imap_parse_rfc3339(str_c(cases[i].in), &t);
		if (cases[i].want < 0) {
			if (rc == 0)
				fail_msg("\"%s\" parsed", cases[i].in);
		} else {
			if (rc != 0 || t != cases[i].want)
				fail_msg("\"%s\": rc %d t %lld", cases[i].in, rc, (long long)t);
		}
	}
}

static void test_a_url_of_imap_max_url_bytes_passes_and_one_more_is_refused(void **state)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "/");
	while (b.len < IMAP_MAX_URL - strlen("/;UID=1"))
		buf_putc(&b, 'a');
	buf_puts(&b, "/;UID=1");
	assert_int_equal(b.len, IMAP_MAX_URL);
	struct imap_url u;
	struct buf why = BUF_INIT;
	assert_int_equal(imap_url_parse(str_buf(&b), &u, &why), 0);
	imap_url_free(&u);
	buf_reset(&b);
	buf_puts(&b, "/");
	while (b.len < IMAP_MAX_URL + 1 - strlen("/;UID=1"))
		buf_putc(&b, 'a');
	buf_puts(&b, "/;UID=1");
	assert_int_equal(imap_url_parse(str_buf(&b), &u, &why), -1);
	buf_free(&why);
	buf_free(&b);
}

static void test_header_field_lists_stop_at_their_limit(void **state)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "HEADER.FIELDS (");
	for (int i = 0; i < IMAP_MAX_URL_FIELDS; i++)
		buf_printf(&b, "%sF%d", i ? " " : "", i);
	buf_puts(&b, ")");
	struct imap_fetch_att att;
	assert_int_equal(imap_url_section_parse(str_buf(&b), &att), 0);
	assert_int_equal(att.nfields, IMAP_MAX_URL_FIELDS);
	imap_url_section_free(&att);
	buf_truncate(&b, b.len - 1);
	buf_puts(&b, " ONEMORE)");
	assert_int_equal(imap_url_section_parse(str_buf(&b), &att), -1);
	buf_reset(&b);
	/* part numbers: IMAP_MAX_SECTION_PARTS, then one more */
	for (int i = 0; i < IMAP_MAX_SECTION_PARTS; i++)
		buf_printf(&b, "%s1", i ? "." : "");
	assert_int_equal(imap_url_section_parse(str_buf(&b), &att), 0);
	assert_int_equal(att.nparts, IMAP_MAX_SECTION_PARTS);
	buf_puts(&b, ".1");
	assert_int_equal(imap_url_section_parse(str_buf(&b), &att), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_an_absolute_urlauth_url_gives_every_part),
	        cmocka_unit_test(test_a_rump_without_token_is_the_whole_url),
	        cmocka_unit_test(test_a_relative_url_names_a_message_of_the_current_server),
	        cmocka_unit_test(test_sections_read_as_fetch_sections),
	        cmocka_unit_test(test_path_tricks_and_malformed_urls_are_refused),
	        cmocka_unit_test(test_user_host_and_auth_forms_are_read),
	        cmocka_unit_test(test_rfc3339_times_convert_to_utc),
	        cmocka_unit_test(test_a_url_of_imap_max_url_bytes_passes_and_one_more_is_refused),
	        cmocka_unit_test(test_header_field_lists_stop_at_their_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
