/*
 * Unit tests for src/smtp/smtp_parse.c: every verb, good and bad paths (quoted
 * local parts, address literals, source routes, UTF-8, the length limits at
 * their edges), ESMTP parameters, xtext, the BDAT argument, and the DATA
 * reader: dot-stuffing, the smuggling variants, the size limit, and every
 * message fed split at every byte position.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_internal.h"

/* ---- helpers --------------------------------------------------------------- */

#define L(s) (s), sizeof(s) - 1 /* a literal with its length, NULs included */

static enum smtp_parse_status parse_len(const char *line, size_t len, struct smtp_cmd *cmd)
{
	struct buf why = BUF_INIT;
	enum smtp_parse_status st = smtp_parse_command(line, len, cmd, &why);
	/* Every failure comes with a reason, success with none. */
	if (st == SMTP_PARSE_OK)
		assert_int_equal(why.len, 0);
	else
		assert_true(why.len > 0);
	buf_free(&why);
	return st;
}

static enum smtp_parse_status parse(const char *line, struct smtp_cmd *cmd)
{
	return parse_len(line, strlen(line), cmd);
}

static char *repeat(char c, size_t n)
{
	char *p = malloc(n + 1);
	assert_non_null(p);
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

static void assert_str(struct str s, const char *want)
{
	assert_int_equal(s.len, strlen(want));
	assert_memory_equal(s.p, want, s.len);
}

/* ---- verbs ------------------------------------------------------------------- */

struct verb_case {
	const char *line;
	size_t len; /* 0: strlen(line) */
	enum smtp_parse_status st;
	enum smtp_verb verb;
	const char *arg; /* checked when not NULL */
};

static void run_verb_cases(const struct verb_case *cases, size_t n)
{
	struct smtp_cmd cmd;
	smtp_cmd_init(&cmd);
	for (size_t i = 0; i < n; i++) {
		const struct verb_case *t = &cases[i];
		size_t len = t->len ? t->len : strlen(t->line);
		enum smtp_parse_status st = parse_len(t->line, len, &cmd);
		if (st != t->st || cmd.verb != t->verb)
			fail_msg("\"%s\": status %d verb %d, want %d %d", t->line, st, cmd.verb,
			         t->st, t->verb);
		if (t->arg)
			assert_str(cmd.arg, t->arg);
	}
	smtp_cmd_free(&cmd);
}

static void test_every_verb_is_recognised_in_any_case(void **state)
{
	static const struct verb_case cases[] = {
	        {"HELO mail.example.com", 0, SMTP_PARSE_OK, SMTP_VERB_HELO, "mail.example.com"},
	        {"helo mail.example.com", 0, SMTP_PARSE_OK, SMTP_VERB_HELO, "mail.example.com"},
	        {"EHLO mail.example.com", 0, SMTP_PARSE_OK, SMTP_VERB_EHLO, "mail.example.com"},
	        {"eHlO x", 0, SMTP_PARSE_OK, SMTP_VERB_EHLO, "x"},
	        {"MAIL FROM:<a@example.com>", 0, SMTP_PARSE_OK, SMTP_VERB_MAIL, NULL},
	        {"mail from:<a@example.com>", 0, SMTP_PARSE_OK, SMTP_VERB_MAIL, NULL},
	        {"RCPT TO:<a@example.com>", 0, SMTP_PARSE_OK, SMTP_VERB_RCPT, NULL},
	        {"rcpt to:<a@example.com>", 0, SMTP_PARSE_OK, SMTP_VERB_RCPT, NULL},
	        {"DATA", 0, SMTP_PARSE_OK, SMTP_VERB_DATA, ""},
	        {"data", 0, SMTP_PARSE_OK, SMTP_VERB_DATA, ""},
	        {"BDAT 1000", 0, SMTP_PARSE_OK, SMTP_VERB_BDAT, "1000"},
	        {"bdat 0 last", 0, SMTP_PARSE_OK, SMTP_VERB_BDAT, "0 last"},
	        {"RSET", 0, SMTP_PARSE_OK, SMTP_VERB_RSET, ""},
	        {"rset", 0, SMTP_PARSE_OK, SMTP_VERB_RSET, ""},
	        {"NOOP", 0, SMTP_PARSE_OK, SMTP_VERB_NOOP, ""},
	        {"noop", 0, SMTP_PARSE_OK, SMTP_VERB_NOOP, ""},
	        {"QUIT", 0, SMTP_PARSE_OK, SMTP_VERB_QUIT, ""},
	        {"Quit", 0, SMTP_PARSE_OK, SMTP_VERB_QUIT, ""},
	        {"VRFY user", 0, SMTP_PARSE_OK, SMTP_VERB_VRFY, "user"},
	        {"vrfy user", 0, SMTP_PARSE_OK, SMTP_VERB_VRFY, "user"},
	        {"EXPN list", 0, SMTP_PARSE_OK, SMTP_VERB_EXPN, "list"},
	        {"expn list", 0, SMTP_PARSE_OK, SMTP_VERB_EXPN, "list"},
	        {"HELP", 0, SMTP_PARSE_OK, SMTP_VERB_HELP, ""},
	        {"help", 0, SMTP_PARSE_OK, SMTP_VERB_HELP, ""},
	        {"STARTTLS", 0, SMTP_PARSE_OK, SMTP_VERB_STARTTLS, ""},
	        {"StartTLS", 0, SMTP_PARSE_OK, SMTP_VERB_STARTTLS, ""},
	        {"AUTH PLAIN", 0, SMTP_PARSE_OK, SMTP_VERB_AUTH, "PLAIN"},
	        {"auth login", 0, SMTP_PARSE_OK, SMTP_VERB_AUTH, "login"},
	};
	run_verb_cases(cases, ARRAY_SIZE(cases));
}

static void test_unknown_verbs_and_verbs_glued_to_junk_are_unknown(void **state)
{
	static const struct verb_case cases[] = {
	        {"", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, ""},
	        {" ", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, ""},
	        {"MAILX FROM:<a@example.com>", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN,
	         "FROM:<a@example.com>"},
	        {"MAIL\tFROM:<a@example.com>", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	        {"DATAX", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, ""},
	        {"DATA\t", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	        {"QUITE", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	        {"STARTTL", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	        {"STARTTLSX", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	        {"EHL0 x", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	        {" DATA", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	        {"GET / HTTP/1.1", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, "/ HTTP/1.1"},
	        {"XCLIENT ADDR=1.2.3.4", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, "ADDR=1.2.3.4"},
	        {"\xc3\xa9", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	};
	run_verb_cases(cases, ARRAY_SIZE(cases));
}

static void test_commands_without_arguments_refuse_one(void **state)
{
	static const struct verb_case cases[] = {
	        {"DATA x", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_DATA, NULL},
	        {"DATA <a@b>", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_DATA, NULL},
	        {"RSET x", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_RSET, NULL},
	        {"QUIT now", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_QUIT, NULL},
	        {"STARTTLS x", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_STARTTLS, NULL},
	        /* trailing spaces are not an argument */
	        {"DATA ", 0, SMTP_PARSE_OK, SMTP_VERB_DATA, ""},
	        {"QUIT   ", 0, SMTP_PARSE_OK, SMTP_VERB_QUIT, ""},
	        {"RSET ", 0, SMTP_PARSE_OK, SMTP_VERB_RSET, ""},
	        {"STARTTLS ", 0, SMTP_PARSE_OK, SMTP_VERB_STARTTLS, ""},
	};
	run_verb_cases(cases, ARRAY_SIZE(cases));
}

static void test_noop_and_help_take_an_optional_raw_argument(void **state)
{
	static const struct verb_case cases[] = {
	        {"NOOP hello there", 0, SMTP_PARSE_OK, SMTP_VERB_NOOP, "hello there"},
	        {"NOOP   padded   ", 0, SMTP_PARSE_OK, SMTP_VERB_NOOP, "padded"},
	        {"HELP MAIL", 0, SMTP_PARSE_OK, SMTP_VERB_HELP, "MAIL"},
	        {"HELP ", 0, SMTP_PARSE_OK, SMTP_VERB_HELP, ""},
	};
	run_verb_cases(cases, ARRAY_SIZE(cases));
}

static void test_commands_that_need_an_argument_refuse_none(void **state)
{
	static const struct verb_case cases[] = {
	        {"HELO", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_HELO, NULL},
	        {"HELO ", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_HELO, NULL},
	        {"EHLO", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_EHLO, NULL},
	        {"EHLO    ", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_EHLO, NULL},
	        {"MAIL", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_MAIL, NULL},
	        {"RCPT", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_RCPT, NULL},
	        {"VRFY", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_VRFY, NULL},
	        {"EXPN ", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_EXPN, NULL},
	        {"AUTH", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_AUTH, NULL},
	        {"BDAT", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_BDAT, NULL},
	};
	run_verb_cases(cases, ARRAY_SIZE(cases));
}

static void test_helo_takes_one_printable_token_as_written(void **state)
{
	static const struct verb_case cases[] = {
	        {"EHLO [192.0.2.1]", 0, SMTP_PARSE_OK, SMTP_VERB_EHLO, "[192.0.2.1]"},
	        {"EHLO [IPv6:2001:db8::1]", 0, SMTP_PARSE_OK, SMTP_VERB_EHLO, "[IPv6:2001:db8::1]"},
	        {"EHLO   spaced.example  ", 0, SMTP_PARSE_OK, SMTP_VERB_EHLO, "spaced.example"},
	        {"HELO under_score!junk", 0, SMTP_PARSE_OK, SMTP_VERB_HELO, "under_score!junk"},
	        {"EHLO b\xc3\xbc"
	         "cher.example",
	         0, SMTP_PARSE_OK, SMTP_VERB_EHLO, NULL},
	        {"HELO two words", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_HELO, NULL},
	        {"EHLO tab\there", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_EHLO, NULL},
	        {"EHLO \x01", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_EHLO, NULL},
	        {"EHLO del\x7f", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_EHLO, NULL},
	        {"EHLO bad\xff", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_EHLO, NULL},
	};
	run_verb_cases(cases, ARRAY_SIZE(cases));
}

static void test_auth_vrfy_expn_and_unknown_keep_their_argument_raw(void **state)
{
	static const struct verb_case cases[] = {
	        {"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", 0, SMTP_PARSE_OK, SMTP_VERB_AUTH,
	         "PLAIN dGVzdAB0ZXN0AHRlc3Q="},
	        {"AUTH SCRAM-SHA-256 =", 0, SMTP_PARSE_OK, SMTP_VERB_AUTH, "SCRAM-SHA-256 ="},
	        {"VRFY \"John Doe\" <jd@example.com>", 0, SMTP_PARSE_OK, SMTP_VERB_VRFY,
	         "\"John Doe\" <jd@example.com>"},
	        {"EXPN  staff ", 0, SMTP_PARSE_OK, SMTP_VERB_EXPN, "staff"},
	        {"FOO  bar baz ", 0, SMTP_PARSE_UNKNOWN, SMTP_VERB_UNKNOWN, "bar baz"},
	};
	run_verb_cases(cases, ARRAY_SIZE(cases));
}

static void test_bdat_argument_is_checked_and_kept_raw(void **state)
{
	static const struct verb_case cases[] = {
	        {"BDAT 100", 0, SMTP_PARSE_OK, SMTP_VERB_BDAT, "100"},
	        {"BDAT 100 LAST", 0, SMTP_PARSE_OK, SMTP_VERB_BDAT, "100 LAST"},
	        {"BDAT 100 LAST  ", 0, SMTP_PARSE_OK, SMTP_VERB_BDAT, "100 LAST"},
	        {"BDAT x", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_BDAT, "x"},
	        {"BDAT 100 FIRST", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_BDAT, NULL},
	        {"BDAT -1", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_BDAT, NULL},
	        {"BDAT 99999999999999999999", 0, SMTP_PARSE_SYNTAX, SMTP_VERB_BDAT, NULL},
	};
	run_verb_cases(cases, ARRAY_SIZE(cases));
}

static void test_nul_cr_or_lf_anywhere_in_a_line_is_a_syntax_error(void **state)
{
	static const struct verb_case cases[] = {
	        {L("DATA\0"), SMTP_PARSE_SYNTAX, SMTP_VERB_UNKNOWN, NULL},
	        {L("\0DATA"), SMTP_PARSE_SYNTAX, SMTP_VERB_UNKNOWN, NULL},
	        {L("NOOP \0"), SMTP_PARSE_SYNTAX, SMTP_VERB_UNKNOWN, NULL},
	        {L("MAIL FROM:<a\0b@example.com>"), SMTP_PARSE_SYNTAX, SMTP_VERB_UNKNOWN, NULL},
	        {L("RCPT TO:<a@example.com> X=\0"), SMTP_PARSE_SYNTAX, SMTP_VERB_UNKNOWN, NULL},
	        {L("EHLO a\0b"), SMTP_PARSE_SYNTAX, SMTP_VERB_UNKNOWN, NULL},
	        {L("FOO \0"), SMTP_PARSE_SYNTAX, SMTP_VERB_UNKNOWN, NULL},
	        {L("NOOP a\rb"), SMTP_PARSE_SYNTAX, SMTP_VERB_UNKNOWN, NULL},
	        {L("NOOP a\nb"), SMTP_PARSE_SYNTAX, SMTP_VERB_UNKNOWN, NULL},
	};
	run_verb_cases(cases, ARRAY_SIZE(cases));
}

static void test_a_command_struct_is_reset_between_lines(void **state)
{
	struct smtp_cmd cmd;
	smtp_cmd_init(&cmd);
	assert_int_equal(parse("RCPT TO:<\"x y\"@[192.0.2.1]> NOTIFY=NEVER", &cmd), SMTP_PARSE_OK);
	assert_true(cmd.path.quoted);
	assert_true(cmd.path.domain_literal);
	assert_int_equal(cmd.nparams, 1);
	assert_int_equal(parse("MAIL FROM:<>", &cmd), SMTP_PARSE_OK);
	assert_true(cmd.path.null);
	assert_false(cmd.path.quoted);
	assert_false(cmd.path.domain_literal);
	assert_int_equal(cmd.nparams, 0);
	assert_int_equal(cmd.path.local.len, 0);
	assert_int_equal(cmd.path.domain.len, 0);
	assert_int_equal(cmd.path.address.len, 0);
	assert_int_equal(parse("QUIT", &cmd), SMTP_PARSE_OK);
	assert_false(cmd.path.null);
	smtp_cmd_free(&cmd);
	smtp_cmd_free(&cmd); /* freeing twice is harmless */
}

static void test_the_reason_is_appended_to_why_and_why_may_be_null(void **state)
{
	struct smtp_cmd cmd;
	struct buf why = BUF_INIT;
	smtp_cmd_init(&cmd);
	assert_int_equal(smtp_parse_command("RCPT TO:<>", 10, &cmd, NULL), SMTP_PARSE_BAD_ADDRESS);
	assert_int_equal(smtp_parse_command("RCPT TO:<>", 10, &cmd, &why), SMTP_PARSE_BAD_ADDRESS);
	assert_true(why.len > 0);
	assert_int_equal(smtp_parse_command(NULL, 0, &cmd, NULL), SMTP_PARSE_UNKNOWN);
	buf_free(&why);
	smtp_cmd_free(&cmd);
}

/* ---- paths --------------------------------------------------------------------- */

enum {
	P_NULL = 1 << 0,
	P_POSTMASTER = 1 << 1,
	P_QUOTED = 1 << 2,
	P_UTF8 = 1 << 3,
	P_LITERAL = 1 << 4,
};

struct path_case {
	const char *line;
	enum smtp_parse_status st;
	const char *address; /* when OK */
	const char *local;   /* when OK and not NULL */
	const char *domain;  /* when OK and not NULL */
	unsigned flags;      /* when OK */
};

/* A path case that must fail with st. */
#define FAILS(line, st)                                                                            \
	{                                                                                          \
		(line), (st), NULL, NULL, NULL, 0                                                  \
	}

static void run_path_cases(const struct path_case *cases, size_t n)
{
	struct smtp_cmd cmd;
	smtp_cmd_init(&cmd);
	for (size_t i = 0; i < n; i++) {
		const struct path_case *t = &cases[i];
		enum smtp_parse_status st = parse(t->line, &cmd);
		if (st != t->st)
			fail_msg("\"%s\": status %d, want %d", t->line, st, t->st);
		if (st != SMTP_PARSE_OK)
			continue;
		const struct smtp_path *p = &cmd.path;
		unsigned flags = (p->null ? P_NULL : 0) | (p->postmaster ? P_POSTMASTER : 0) |
		                 (p->quoted ? P_QUOTED : 0) | (p->utf8 ? P_UTF8 : 0) |
		                 (p->domain_literal ? P_LITERAL : 0);
		if (flags != t->flags)
			fail_msg("\"%s\": flags %#x, want %#x", t->line, flags, t->flags);
		if (strcmp(buf_cstr(&p->address), t->address) != 0)
			fail_msg("\"%s\": address \"%s\", want \"%s\"", t->line,
			         buf_cstr(&p->address), t->address);
		if (t->local)
			assert_string_equal(buf_cstr(&p->local), t->local);
		if (t->domain)
			assert_string_equal(buf_cstr(&p->domain), t->domain);
	}
	smtp_cmd_free(&cmd);
}

static void test_mail_from_and_rcpt_to_read_a_plain_path(void **state)
{
	static const struct path_case cases[] = {
	        {"MAIL FROM:<user@example.com>", SMTP_PARSE_OK, "user@example.com", "user",
	         "example.com", 0},
	        {"mail From:<User.Name@Example.COM>", SMTP_PARSE_OK, "User.Name@Example.COM",
	         "User.Name", "Example.COM", 0},
	        {"MAIL FROM: <user@example.com>", SMTP_PARSE_OK, "user@example.com", NULL, NULL, 0},
	        {"RCPT TO:<user@example.com>", SMTP_PARSE_OK, "user@example.com", NULL, NULL, 0},
	        {"RCPT to: <user@example.com>", SMTP_PARSE_OK, "user@example.com", NULL, NULL, 0},
	        {"MAIL   FROM:<user@example.com>   ", SMTP_PARSE_OK, "user@example.com", NULL, NULL,
	         0},
	        {"RCPT TO:<a@b>", SMTP_PARSE_OK, "a@b", "a", "b", 0},
	        {"RCPT TO:<!#$%&'*+-/=?^_`{|}~@example.com>", SMTP_PARSE_OK,
	         "!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~", NULL, 0},
	        {"RCPT TO:<a.b.c@x1-2.example.com>", SMTP_PARSE_OK, "a.b.c@x1-2.example.com", NULL,
	         NULL, 0},
	        {"RCPT TO:<1@2.3>", SMTP_PARSE_OK, "1@2.3", NULL, NULL, 0},
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_mail_and_rcpt_syntax_errors_are_syntax(void **state)
{
	static const struct path_case cases[] = {
	        FAILS("MAIL FROM:user@example.com", SMTP_PARSE_SYNTAX),
	        FAILS("RCPT TO:user@example.com", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:  <user@example.com>", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM <user@example.com>", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL TO:<user@example.com>", SMTP_PARSE_SYNTAX),
	        FAILS("RCPT FROM:<user@example.com>", SMTP_PARSE_SYNTAX),
	        FAILS("RCPT TO :<user@example.com>", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<user@example.com", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<user@example.com>x", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<user@example.com><x@y>", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<>x", SMTP_PARSE_SYNTAX),
	        FAILS("RCPT TO:<user@example.com>\tNOTIFY=NEVER", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:\"a\"@example.com", SMTP_PARSE_SYNTAX),
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_rcpt_to_empty_path_is_a_bad_address(void **state)
{
	static const struct path_case cases[] = {
	        {"MAIL FROM:<>", SMTP_PARSE_OK, "", "", "", P_NULL},
	        {"MAIL FROM: <>", SMTP_PARSE_OK, "", "", "", P_NULL},
	        {"MAIL FROM:<> SIZE=10", SMTP_PARSE_OK, "", "", "", P_NULL},
	        FAILS("RCPT TO:<>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO: <>", SMTP_PARSE_BAD_ADDRESS),
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_rcpt_to_postmaster_without_a_domain_is_flagged(void **state)
{
	static const struct path_case cases[] = {
	        {"RCPT TO:<Postmaster>", SMTP_PARSE_OK, "Postmaster", "Postmaster", "",
	         P_POSTMASTER},
	        {"RCPT TO:<postMASTER>", SMTP_PARSE_OK, "postMASTER", NULL, "", P_POSTMASTER},
	        {"RCPT TO:<postmaster> NOTIFY=NEVER", SMTP_PARSE_OK, "postmaster", NULL, "",
	         P_POSTMASTER},
	        {"RCPT TO:<Postmaster@example.com>", SMTP_PARSE_OK, "Postmaster@example.com", NULL,
	         "example.com", 0},
	        FAILS("MAIL FROM:<Postmaster>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\"Postmaster\">", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<postmasters>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<@a.example:Postmaster>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<user>", SMTP_PARSE_BAD_ADDRESS),
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_source_routes_are_accepted_and_dropped(void **state)
{
	static const struct path_case cases[] = {
	        {"RCPT TO:<@a.example,@b.example:user@c.example>", SMTP_PARSE_OK, "user@c.example",
	         "user", "c.example", 0},
	        {"MAIL FROM:<@a.example:user@c.example>", SMTP_PARSE_OK, "user@c.example", NULL,
	         NULL, 0},
	        {"RCPT TO:<@[192.0.2.1]:user@c.example>", SMTP_PARSE_OK, "user@c.example", NULL,
	         "c.example", 0},
	        {"RCPT TO:<@b\xc3\xbc"
	         "cher.example:user@c.example>",
	         SMTP_PARSE_OK, "user@c.example", NULL, NULL, 0},
	        FAILS("RCPT TO:<@a.example,user@c.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<@a.example:>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<@:user@c.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<@a.example,:user@c.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<@a.example;@b.example:user@c.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<@-a.example:user@c.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<@\xff:user@c.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<@example.com>", SMTP_PARSE_BAD_ADDRESS),
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_dot_strings_need_atoms_between_the_dots(void **state)
{
	static const struct path_case cases[] = {
	        FAILS("RCPT TO:<.a@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a.@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a..b@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a b@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a(b)@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a,b@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a\\b@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@b@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a\x7f@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<@>", SMTP_PARSE_BAD_ADDRESS),
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_quoted_local_parts_are_unquoted_and_requoted_only_when_needed(void **state)
{
	static const struct path_case cases[] = {
	        {"RCPT TO:<\"john doe\"@example.com>", SMTP_PARSE_OK, "\"john doe\"@example.com",
	         "john doe", "example.com", P_QUOTED},
	        {"RCPT TO:<\"john\"@example.com>", SMTP_PARSE_OK, "john@example.com", "john", NULL,
	         P_QUOTED},
	        {"RCPT TO:<\"j\\o\\h\\n\"@example.com>", SMTP_PARSE_OK, "john@example.com", "john",
	         NULL, P_QUOTED},
	        {"RCPT TO:<\"a\\\"b\\\\c\"@example.com>", SMTP_PARSE_OK,
	         "\"a\\\"b\\\\c\"@example.com", "a\"b\\c", NULL, P_QUOTED},
	        {"RCPT TO:<\"a\\ b\"@example.com>", SMTP_PARSE_OK, "\"a b\"@example.com", "a b",
	         NULL, P_QUOTED},
	        {"RCPT TO:<\".a\"@example.com>", SMTP_PARSE_OK, "\".a\"@example.com", ".a", NULL,
	         P_QUOTED},
	        {"RCPT TO:<\"a..b\"@example.com>", SMTP_PARSE_OK, "\"a..b\"@example.com", NULL,
	         NULL, P_QUOTED},
	        {"RCPT TO:<\"a@b\"@example.com>", SMTP_PARSE_OK, "\"a@b\"@example.com", "a@b", NULL,
	         P_QUOTED},
	        {"RCPT TO:<\"a>b\"@example.com>", SMTP_PARSE_OK, "\"a>b\"@example.com", "a>b", NULL,
	         P_QUOTED},
	        {"RCPT TO:<\"\"@example.com>", SMTP_PARSE_OK, "\"\"@example.com", "", NULL,
	         P_QUOTED},
	        {"RCPT TO:<\"a.b\"@example.com>", SMTP_PARSE_OK, "a.b@example.com", NULL, NULL,
	         P_QUOTED},
	        FAILS("RCPT TO:<\"abc@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\"a\"b@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\"a\"@>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\"a\tb\"@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\"a\\\tb\"@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\"a\\\xc3\xa9\"@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\"a\x7f\"@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\"a\\\">", SMTP_PARSE_BAD_ADDRESS),
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_domains_are_ldh_labels(void **state)
{
	static const struct path_case cases[] = {
	        {"RCPT TO:<a@x>", SMTP_PARSE_OK, "a@x", NULL, "x", 0},
	        {"RCPT TO:<a@xn--bcher-kva.example>", SMTP_PARSE_OK, "a@xn--bcher-kva.example",
	         NULL, NULL, 0},
	        {"RCPT TO:<a@1-2-3.example>", SMTP_PARSE_OK, "a@1-2-3.example", NULL, NULL, 0},
	        FAILS("RCPT TO:<a@-x.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@x-.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@x..example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@example.>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@x_y.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@x y.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@example.com >", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:< a@example.com>", SMTP_PARSE_BAD_ADDRESS),
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_a_domain_label_of_63_octets_passes_and_64_fails(void **state)
{
	struct smtp_cmd cmd;
	struct buf line = BUF_INIT;
	smtp_cmd_init(&cmd);
	for (size_t n = 62; n <= 65; n++) {
		char *label = repeat('l', n);
		buf_reset(&line);
		buf_printf(&line, "RCPT TO:<a@%s.example>", label);
		assert_int_equal(parse(buf_cstr(&line), &cmd),
		                 n <= 63 ? SMTP_PARSE_OK : SMTP_PARSE_BAD_ADDRESS);
		free(label);
	}
	buf_free(&line);
	smtp_cmd_free(&cmd);
}

static void test_ipv4_literals_are_four_numbers_up_to_255(void **state)
{
	static const struct path_case cases[] = {
	        {"RCPT TO:<a@[192.0.2.1]>", SMTP_PARSE_OK, "a@[192.0.2.1]", "a", "[192.0.2.1]",
	         P_LITERAL},
	        {"RCPT TO:<a@[0.0.0.0]>", SMTP_PARSE_OK, "a@[0.0.0.0]", NULL, NULL, P_LITERAL},
	        {"RCPT TO:<a@[255.255.255.255]>", SMTP_PARSE_OK, "a@[255.255.255.255]", NULL, NULL,
	         P_LITERAL},
	        {"RCPT TO:<a@[010.0.0.1]>", SMTP_PARSE_OK, "a@[010.0.0.1]", NULL, NULL, P_LITERAL},
	        FAILS("RCPT TO:<a@[256.0.0.1]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[1.2.3]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[1.2.3.4.5]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[1.2.3.]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[.1.2.3]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[1..2.3]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[0001.2.3.4]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[1.2.3.4a]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[-1.2.3.4]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[1.2.3.4>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[1.2.3.4]x>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@x.[1.2.3.4]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[ 1.2.3.4]>", SMTP_PARSE_BAD_ADDRESS),
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_ipv6_literals_follow_rfc_5321_grammar(void **state)
{
	static const struct path_case cases[] = {
	        {"RCPT TO:<a@[IPv6:2001:db8::1]>", SMTP_PARSE_OK, "a@[IPv6:2001:db8::1]", NULL,
	         "[IPv6:2001:db8::1]", P_LITERAL},
	        {"RCPT TO:<a@[ipv6:::1]>", SMTP_PARSE_OK, "a@[ipv6:::1]", NULL, NULL, P_LITERAL},
	        {"RCPT TO:<a@[IPv6:::]>", SMTP_PARSE_OK, "a@[IPv6:::]", NULL, NULL, P_LITERAL},
	        {"RCPT TO:<a@[IPv6:1:2:3:4:5:6:7:8]>", SMTP_PARSE_OK, "a@[IPv6:1:2:3:4:5:6:7:8]",
	         NULL, NULL, P_LITERAL},
	        {"RCPT TO:<a@[IPv6:ABCD:ef01:2345:6789:abcd:EF01:2345:6789]>", SMTP_PARSE_OK,
	         "a@[IPv6:ABCD:ef01:2345:6789:abcd:EF01:2345:6789]", NULL, NULL, P_LITERAL},
	        {"RCPT TO:<a@[IPv6:1:2:3:4:5:6::]>", SMTP_PARSE_OK, "a@[IPv6:1:2:3:4:5:6::]", NULL,
	         NULL, P_LITERAL},
	        {"RCPT TO:<a@[IPv6:::1:2:3:4:5:6]>", SMTP_PARSE_OK, "a@[IPv6:::1:2:3:4:5:6]", NULL,
	         NULL, P_LITERAL},
	        {"RCPT TO:<a@[IPv6:1::8]>", SMTP_PARSE_OK, "a@[IPv6:1::8]", NULL, NULL, P_LITERAL},
	        {"RCPT TO:<a@[IPv6:::ffff:192.0.2.1]>", SMTP_PARSE_OK, "a@[IPv6:::ffff:192.0.2.1]",
	         NULL, NULL, P_LITERAL},
	        {"RCPT TO:<a@[IPv6:::192.0.2.1]>", SMTP_PARSE_OK, "a@[IPv6:::192.0.2.1]", NULL,
	         NULL, P_LITERAL},
	        {"RCPT TO:<a@[IPv6:1:2:3:4:5:6:192.0.2.1]>", SMTP_PARSE_OK,
	         "a@[IPv6:1:2:3:4:5:6:192.0.2.1]", NULL, NULL, P_LITERAL},
	        {"RCPT TO:<a@[IPv6:1:2:3:4::192.0.2.1]>", SMTP_PARSE_OK,
	         "a@[IPv6:1:2:3:4::192.0.2.1]", NULL, NULL, P_LITERAL},
	        /* "::" stands for at least two groups (RFC 5321 4.1.3) */
	        FAILS("RCPT TO:<a@[IPv6:1:2:3:4:5:6:7::]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1:2:3::4:5:6:7]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1:2:3:4:5::192.0.2.1]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1:2:3:4:5:6:7]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1::2::3]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1:::2]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:12345::1]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:g::1]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1g::1]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1:2:3:4:5:6:7:8.]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6::1]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1:]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1::2:]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1:2:3:4:5:6:7:192.0.2.1]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:1:2:3:4:5:192.0.2.1]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:::192.0.2.256]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:::192.0.2]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:192.0.2.1]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[IPv6:::192.0.2.1:1]>", SMTP_PARSE_BAD_ADDRESS),
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_general_address_literals_are_accepted_by_syntax(void **state)
{
	static const struct path_case cases[] = {
	        {"RCPT TO:<a@[x-tag:some-content]>", SMTP_PARSE_OK, "a@[x-tag:some-content]", NULL,
	         "[x-tag:some-content]", P_LITERAL},
	        {"RCPT TO:<a@[X400:c=us;a=;p=x>y]>", SMTP_PARSE_OK, "a@[X400:c=us;a=;p=x>y]", NULL,
	         NULL, P_LITERAL},
	        /* any Ldh-str is a tag by syntax, so an untagged IPv6 address reads as one */
	        {"RCPT TO:<a@[2001:db8::1]>", SMTP_PARSE_OK, "a@[2001:db8::1]", NULL, NULL,
	         P_LITERAL},
	        FAILS("RCPT TO:<a@[tag:]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[:content]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[tag-:content]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[t_g:content]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[tag:two words]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[tag:a\\b]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[tag:a[b]>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@[tag:\xc3\xa9]>", SMTP_PARSE_BAD_ADDRESS),
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_utf8_addresses_are_accepted_when_valid(void **state)
{
	static const struct path_case cases[] = {
	        {"RCPT TO:<\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae@"
	         "\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3\xce\xbc\xce\xb1."
	         "example>",
	         SMTP_PARSE_OK,
	         "\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae@"
	         "\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3\xce\xbc\xce\xb1."
	         "example",
	         NULL, NULL, P_UTF8},
	        {"RCPT "
	         "TO:<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>",
	         SMTP_PARSE_OK,
	         "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", NULL,
	         NULL, P_UTF8},
	        {"RCPT TO:<smile\xf0\x9f\x98\x80@example.com>", SMTP_PARSE_OK,
	         "smile\xf0\x9f\x98\x80@example.com", NULL, NULL, P_UTF8},
	        {"RCPT TO:<a@b\xc3\xbc"
	         "cher.example>",
	         SMTP_PARSE_OK,
	         "a@b\xc3\xbc"
	         "cher.example",
	         NULL, NULL, P_UTF8},
	        {"RCPT TO:<\"\xc3\xa9 x\"@example.com>", SMTP_PARSE_OK,
	         "\"\xc3\xa9 x\"@example.com", "\xc3\xa9 x", NULL, P_QUOTED | P_UTF8},
	        {"RCPT TO:<\xef\xbf\xbf@example.com>", SMTP_PARSE_OK, "\xef\xbf\xbf@example.com",
	         NULL, NULL, P_UTF8},
	        {"RCPT TO:<\xf4\x8f\xbf\xbf@example.com>", SMTP_PARSE_OK,
	         "\xf4\x8f\xbf\xbf@example.com", NULL, NULL, P_UTF8},
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_invalid_utf8_anywhere_in_a_path_is_a_bad_address(void **state)
{
	static const struct path_case cases[] = {
	        FAILS("RCPT TO:<\xff@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a\x80@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\xc0\xaf@example.com>", SMTP_PARSE_BAD_ADDRESS), /* overlong / */
	        FAILS("RCPT TO:<\xc1\xbf@example.com>", SMTP_PARSE_BAD_ADDRESS), /* overlong */
	        FAILS("RCPT TO:<\xe0\x80\xaf@example.com>", SMTP_PARSE_BAD_ADDRESS), /* overlong */
	        FAILS("RCPT TO:<\xf0\x80\x80\xaf@example.com>",
	              SMTP_PARSE_BAD_ADDRESS),                                       /* overlong */
	        FAILS("RCPT TO:<\xed\xa0\x80@example.com>", SMTP_PARSE_BAD_ADDRESS), /* surrogate */
	        FAILS("RCPT TO:<\xed\xbf\xbf@example.com>", SMTP_PARSE_BAD_ADDRESS), /* surrogate */
	        FAILS("RCPT TO:<\xf4\x90\x80\x80@example.com>",
	              SMTP_PARSE_BAD_ADDRESS), /* > U+10FFFF */
	        FAILS("RCPT TO:<\xf5\x80\x80\x80@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\xe2\x82@example.com>", SMTP_PARSE_BAD_ADDRESS), /* truncated */
	        FAILS("RCPT TO:<a@example.com\xc3>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<a@\xc3\x28.example>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\"\xff\"@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("RCPT TO:<\"\xed\xa0\x80\"@example.com>", SMTP_PARSE_BAD_ADDRESS),
	        FAILS("MAIL FROM:<\xc3@example.com>", SMTP_PARSE_BAD_ADDRESS),
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

/* "RCPT TO:<" local "@" domain ">" with the given lengths (domain made of 49-octet labels). */
static void make_rcpt(struct buf *line, size_t local_len, size_t domain_len)
{
	buf_reset(line);
	buf_puts(line, "RCPT TO:<");
	for (size_t i = 0; i < local_len; i++)
		buf_putc(line, 'l');
	buf_putc(line, '@');
	for (size_t i = 0; i < domain_len; i++)
		buf_putc(line, (i % 50 == 49 && i + 1 < domain_len) ? '.' : 'd');
	buf_putc(line, '>');
}

static void test_a_local_part_of_64_octets_passes_and_65_is_too_long(void **state)
{
	struct smtp_cmd cmd;
	struct buf line = BUF_INIT;
	smtp_cmd_init(&cmd);
	make_rcpt(&line, 64, 10);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.path.local.len, 64);
	make_rcpt(&line, 65, 10);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_TOO_LONG);

	/* The limit is on the local part itself, not on its quoted form. */
	char *l64 = repeat('q', 64), *l65 = repeat('q', 65);
	buf_reset(&line);
	buf_printf(&line, "RCPT TO:<\"%s\"@example.com>", l64);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_OK);
	buf_reset(&line);
	buf_printf(&line, "RCPT TO:<\"%s\"@example.com>", l65);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_TOO_LONG);
	free(l64);
	free(l65);
	buf_free(&line);
	smtp_cmd_free(&cmd);
}

static void test_a_path_of_256_octets_passes_and_257_is_too_long(void **state)
{
	struct smtp_cmd cmd;
	struct buf line = BUF_INIT;
	smtp_cmd_init(&cmd);
	/* "<" + 64 + "@" + 189 + ">" = 256 */
	make_rcpt(&line, 64, 189);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.path.address.len, 254);
	make_rcpt(&line, 64, 190);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_TOO_LONG);
	make_rcpt(&line, 1, 252);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_OK);
	make_rcpt(&line, 1, 253);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_TOO_LONG);

	/* A source route counts towards the path. */
	buf_reset(&line);
	buf_puts(&line, "MAIL FROM:<@r.example:");
	for (int i = 0; i < 64; i++)
		buf_putc(&line, 'l');
	buf_puts(&line, "@");
	for (int i = 0; i < 178; i++)
		buf_putc(&line, (i % 64 == 63) ? '.' : 'd');
	buf_puts(&line, ">");
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_OK); /* 256 */
	buf_truncate(&line, line.len - 1);
	buf_puts(&line, "d>");
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_TOO_LONG); /* 257 */
	buf_free(&line);
	smtp_cmd_free(&cmd);
}

static void test_a_domain_over_255_octets_is_too_long(void **state)
{
	struct smtp_cmd cmd;
	struct buf line = BUF_INIT;
	smtp_cmd_init(&cmd);
	/* Inside a path of at most 256 octets a domain cannot reach 255; both fail. */
	make_rcpt(&line, 1, 255);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_TOO_LONG);
	make_rcpt(&line, 1, 256);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_TOO_LONG);
	make_rcpt(&line, 1, 400);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_TOO_LONG);
	buf_free(&line);
	smtp_cmd_free(&cmd);
}

/* ---- parameters ------------------------------------------------------------------ */

static void test_parameters_are_split_into_keywords_and_values(void **state)
{
	struct smtp_cmd cmd;
	smtp_cmd_init(&cmd);

	assert_int_equal(parse("MAIL FROM:<a@example.com> SIZE=123", &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.nparams, 1);
	assert_str(cmd.params[0].keyword, "SIZE");
	assert_str(cmd.params[0].value, "123");

	assert_int_equal(parse("MAIL FROM:<a@example.com> BODY=8BITMIME SMTPUTF8", &cmd),
	                 SMTP_PARSE_OK);
	assert_int_equal(cmd.nparams, 2);
	assert_str(smtp_cmd_param(&cmd, "BODY")->value, "8BITMIME");
	assert_non_null(smtp_cmd_param(&cmd, "SMTPUTF8"));
	assert_null(smtp_cmd_param(&cmd, "SMTPUTF8")->value.p);
	assert_int_equal(smtp_cmd_param(&cmd, "SMTPUTF8")->value.len, 0);

	assert_int_equal(parse("RCPT TO:<a@example.com> NOTIFY=SUCCESS,FAILURE "
	                       "ORCPT=rfc822;a+2Bb@x",
	                       &cmd),
	                 SMTP_PARSE_OK);
	assert_str(smtp_cmd_param(&cmd, "NOTIFY")->value, "SUCCESS,FAILURE");
	assert_str(smtp_cmd_param(&cmd, "ORCPT")->value, "rfc822;a+2Bb@x");

	assert_int_equal(parse("MAIL FROM:<> ENVID=QQ+2B314159 RET=HDRS", &cmd), SMTP_PARSE_OK);
	struct buf dec = BUF_INIT;
	assert_int_equal(smtp_xtext_decode(smtp_cmd_param(&cmd, "ENVID")->value, &dec), 0);
	assert_string_equal(buf_cstr(&dec), "QQ+314159");
	buf_free(&dec);

	assert_int_equal(parse("MAIL FROM:<a@example.com>   SIZE=1    BODY=7BIT   ", &cmd),
	                 SMTP_PARSE_OK);
	assert_int_equal(cmd.nparams, 2);

	assert_int_equal(parse("MAIL FROM:<a@example.com> X-1-=\xc3\xa9t\xc3\xa9", &cmd),
	                 SMTP_PARSE_OK);
	assert_str(cmd.params[0].keyword, "X-1-");
	assert_str(cmd.params[0].value, "\xc3\xa9t\xc3\xa9");

	assert_int_equal(parse("MAIL FROM:<a@example.com> 8=x AUTH=<>", &cmd), SMTP_PARSE_OK);
	assert_str(smtp_cmd_param(&cmd, "auth")->value, "<>");
	smtp_cmd_free(&cmd);
}

static void test_parameter_lookup_is_case_insensitive_and_finds_the_first(void **state)
{
	struct smtp_cmd cmd;
	smtp_cmd_init(&cmd);
	assert_int_equal(parse("MAIL FROM:<a@example.com> size=1 Size=2 body=7bit", &cmd),
	                 SMTP_PARSE_OK);
	assert_str(smtp_cmd_param(&cmd, "SIZE")->value, "1");
	assert_str(smtp_cmd_param(&cmd, "Body")->value, "7bit");
	assert_null(smtp_cmd_param(&cmd, "RET"));
	assert_null(smtp_cmd_param(&cmd, "SIZ"));
	assert_null(smtp_cmd_param(&cmd, "SIZE1"));
	smtp_cmd_free(&cmd);
}

static void test_malformed_parameters_are_syntax_errors(void **state)
{
	static const struct path_case cases[] = {
	        FAILS("MAIL FROM:<a@example.com> SIZE=", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com> =1", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com> -X=1", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com> X_Y=1", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com> X=a=b", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com> X==", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com> X=\x01", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com> X=a\x7f", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com> X=\xff", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com> X=\xed\xa0\x80", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com> X\xc3\xa9=1", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com> SIZE=1\tBODY=7BIT", SMTP_PARSE_SYNTAX),
	        FAILS("MAIL FROM:<a@example.com>SIZE=1", SMTP_PARSE_SYNTAX),
	        {"RCPT TO:<a@example.com> NOTIFY=NEVER,", SMTP_PARSE_OK, "a@example.com", NULL,
	         NULL, 0},
	};
	run_path_cases(cases, ARRAY_SIZE(cases));
}

static void test_sixteen_parameters_pass_and_seventeen_are_too_many(void **state)
{
	struct smtp_cmd cmd;
	struct buf line = BUF_INIT;
	smtp_cmd_init(&cmd);
	buf_puts(&line, "MAIL FROM:<a@example.com>");
	for (int i = 0; i < SMTP_MAX_PARAMS; i++)
		buf_printf(&line, " P%d=%d", i, i);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.nparams, SMTP_MAX_PARAMS);
	assert_str(smtp_cmd_param(&cmd, "P15")->value, "15");
	buf_puts(&line, " LAST");
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_TOO_MANY);
	buf_free(&line);
	smtp_cmd_free(&cmd);
}

static void test_a_parameter_value_of_1024_octets_passes_and_1025_is_too_long(void **state)
{
	struct smtp_cmd cmd;
	struct buf line = BUF_INIT;
	smtp_cmd_init(&cmd);
	char *v = repeat('v', SMTP_MAX_PARAM_VALUE + 1);
	buf_printf(&line, "MAIL FROM:<a@example.com> ENVID=%.*s", SMTP_MAX_PARAM_VALUE, v);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_OK);
	assert_int_equal(smtp_cmd_param(&cmd, "ENVID")->value.len, SMTP_MAX_PARAM_VALUE);
	buf_reset(&line);
	buf_printf(&line, "MAIL FROM:<a@example.com> ENVID=%s", v);
	assert_int_equal(parse(buf_cstr(&line), &cmd), SMTP_PARSE_TOO_LONG);
	free(v);
	buf_free(&line);
	smtp_cmd_free(&cmd);
}

/* ---- xtext and BDAT ------------------------------------------------------------- */

static void test_xtext_decodes_upper_case_hexchars_only(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		int rc;
		const char *out;
		size_t out_len;
	} cases[] = {
	        {L(""), 0, L("")},
	        {L("abc"), 0, L("abc")},
	        {L("a+2Bb"), 0, L("a+b")},
	        {L("+2B+3D"), 0, L("+=")},
	        {L("+20"), 0, L(" ")},
	        {L("+00"), 0, L("\0")},
	        {L("+FF+80"), 0, L("\xff\x80")},
	        {L("rfc822;a+2Bb@x"), 0, L("rfc822;a+b@x")},
	        {L("!~"), 0, L("!~")},
	        {L("+"), -1, L("")},
	        {L("+2"), -1, L("")},
	        {L("a+2"), -1, L("")},
	        {L("+zz"), -1, L("")},
	        {L("+2b"), -1, L("")}, /* RFC 3461: "two upper case hexadecimal digits" */
	        {L("+g0"), -1, L("")},
	        {L("a=b"), -1, L("")},
	        {L("a b"), -1, L("")},
	        {L("a\x7f"), -1, L("")},
	        {L("a\0b"), -1, L("")},
	        {L("\xc3\xa9"), -1, L("")},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct buf out = BUF_INIT;
		buf_puts(&out, "kept:");
		int rc = smtp_xtext_decode((struct str){cases[i].in, cases[i].len}, &out);
		if (rc != cases[i].rc)
			fail_msg("xtext \"%s\": %d, want %d", cases[i].in, rc, cases[i].rc);
		/* appended on success; untouched on failure */
		assert_int_equal(out.len, 5 + cases[i].out_len);
		assert_memory_equal(out.data, "kept:", 5);
		assert_memory_equal(out.data + 5, cases[i].out, cases[i].out_len);
		buf_free(&out);
	}
}

static void test_bdat_arguments_parse_to_a_size_and_a_last_flag(void **state)
{
	static const struct {
		const char *arg;
		int rc;
		uint64_t size;
		bool last;
	} cases[] = {
	        {"0", 0, 0, false},
	        {"100", 0, 100, false},
	        {"100 LAST", 0, 100, true},
	        {"0 last", 0, 0, true},
	        {"7 LaSt", 0, 7, true},
	        {"18446744073709551615", 0, UINT64_MAX, false},
	        {"00000000000000000001", 0, 1, false},
	        {"18446744073709551616", -1, 0, false},
	        {"000000000000000000001", -1, 0, false},
	        {"", -1, 0, false},
	        {"LAST", -1, 0, false},
	        {" 100", -1, 0, false},
	        {"100 ", -1, 0, false},
	        {"100  LAST", -1, 0, false},
	        {"100 LASTX", -1, 0, false},
	        {"100 LAST x", -1, 0, false},
	        {"100LAST", -1, 0, false},
	        {"-1", -1, 0, false},
	        {"+1", -1, 0, false},
	        {"1e3", -1, 0, false},
	        {"0x10", -1, 0, false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t size = 42;
		bool last = false;
		int rc = smtp_parse_bdat(str_c(cases[i].arg), &size, &last);
		if (rc != cases[i].rc)
			fail_msg("BDAT \"%s\": %d, want %d", cases[i].arg, rc, cases[i].rc);
		if (rc == 0) {
			assert_true(size == cases[i].size);
			assert_int_equal(last, cases[i].last);
		}
	}
}

/* ---- DATA -------------------------------------------------------------------------- */

struct data_result {
	enum smtp_data_status st;
	size_t consumed;
	struct buf out;
	struct smtp_data_reader r;
};

/* Feeds in[0..len) in pieces whose boundaries are cuts[0..ncuts) (ascending), stopping at DONE. */
static void feed_cuts(const char *in, size_t len, uint64_t max, const size_t *cuts, size_t ncuts,
                      struct data_result *res)
{
	smtp_data_init(&res->r, max);
	buf_init(&res->out);
	res->st = SMTP_DATA_MORE;
	res->consumed = 0;
	size_t pos = 0;
	for (size_t k = 0; k <= ncuts && res->st == SMTP_DATA_MORE; k++) {
		size_t end = k < ncuts ? cuts[k] : len;
		size_t used = 0;
		res->st = smtp_data_feed(&res->r, in + pos, end - pos, &used, &res->out);
		assert_true(used <= end - pos);
		if (res->st == SMTP_DATA_MORE)
			assert_int_equal(used, end - pos);
		res->consumed += used;
		pos = end;
	}
}

static void feed_all(const char *in, size_t len, uint64_t max, struct data_result *res)
{
	feed_cuts(in, len, max, NULL, 0, res);
}

static void assert_same_result(const struct data_result *a, const struct data_result *b)
{
	assert_int_equal(a->st, b->st);
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->out.len, b->out.len);
	if (a->out.len)
		assert_memory_equal(a->out.data, b->out.data, a->out.len);
	assert_true(a->r.size == b->r.size);
	assert_int_equal(a->r.too_big, b->r.too_big);
	assert_int_equal(a->r.bare_crlf, b->r.bare_crlf);
	assert_int_equal(a->r.has_8bit, b->r.has_8bit);
	assert_int_equal(a->r.has_nul, b->r.has_nul);
}

struct data_case {
	const char *in;
	size_t len;
	const char *out; /* the message */
	size_t out_len;
	size_t consumed; /* where the end of data is; 0: the whole input */
	bool bare_crlf;
};

static void run_data_cases(const struct data_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct data_case *t = &cases[i];
		struct data_result res;
		size_t want = t->consumed ? t->consumed : t->len;
		feed_all(t->in, t->len, 0, &res);
		if (res.st != SMTP_DATA_DONE || res.consumed != want)
			fail_msg("case %zu: status %d consumed %zu, want DONE %zu", i, res.st,
			         res.consumed, want);
		if (res.out.len != t->out_len ||
		    (t->out_len && memcmp(res.out.data, t->out, t->out_len) != 0))
			fail_msg("case %zu: wrong message (%zu bytes, want %zu)", i, res.out.len,
			         t->out_len);
		assert_int_equal(res.r.bare_crlf, t->bare_crlf);
		assert_true(res.r.size == t->out_len);
		buf_free(&res.out);
	}
}

static void test_data_simple_message_ends_at_crlf_dot_crlf(void **state)
{
	static const struct data_case cases[] = {
	        {L("Subject: x\r\n\r\nhello\r\n.\r\n"), L("Subject: x\r\n\r\nhello\r\n"), 0, false},
	        {L("a\r\n.\r\n"), L("a\r\n"), 0, false},
	        {L("\r\n.\r\n"), L("\r\n"), 0, false},
	        {L("a.\r\nb .\r\n.\r\n"), L("a.\r\nb .\r\n"), 0, false},
	};
	run_data_cases(cases, ARRAY_SIZE(cases));
}

static void test_data_empty_message_is_a_lone_dot_line(void **state)
{
	static const struct data_case cases[] = {
	        {L(".\r\n"), L(""), 0, false},
	        {L(".\r\nQUIT\r\n"), L(""), 3, false},
	};
	run_data_cases(cases, ARRAY_SIZE(cases));
}

static void test_data_dot_stuffing_is_undone(void **state)
{
	static const struct data_case cases[] = {
	        {L("..a\r\n.\r\n"), L(".a\r\n"), 0, false},
	        {L("..\r\n.\r\n"), L(".\r\n"), 0, false},
	        {L("a\r\n...\r\n.\r\n"), L("a\r\n..\r\n"), 0, false},
	        {L(". x\r\n.\r\n"), L(" x\r\n"), 0, false},
	        {L("x\r\n.x\r\n..\r\n.\r\n"), L("x\r\nx\r\n.\r\n"), 0, false},
	        {L("a.b\r\n.\r\n"), L("a.b\r\n"), 0, false},
	};
	run_data_cases(cases, ARRAY_SIZE(cases));
}

static void test_data_smuggling_variants_do_not_end_data_and_mark_it_bad(void **state)
{
	static const struct data_case cases[] = {
	        /* "\n.\n" */
	        {L("a\n.\nMAIL FROM:<x@y>\r\n.\r\n"), L("a\n.\nMAIL FROM:<x@y>\r\n"), 0, true},
	        /* "\r\n.\n": the dot is followed by a bare LF, so it is a stuffed dot */
	        {L("a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n"), L("a\r\n\nMAIL FROM:<x@y>\r\n"), 0, true},
	        /* "\n.\r\n" */
	        {L("a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n"), L("a\n.\r\nMAIL FROM:<x@y>\r\n"), 0, true},
	        /* "\r.\r\n" */
	        {L("a\r.\r\nMAIL FROM:<x@y>\r\n.\r\n"), L("a\r.\r\nMAIL FROM:<x@y>\r\n"), 0, true},
	        /* ".\n" at the very start */
	        {L(".\nb\r\n.\r\n"), L("\nb\r\n"), 0, true},
	        /* "\r\n.\r" then something else */
	        {L("a\r\n.\rb\r\n.\r\n"), L("a\r\n\rb\r\n"), 0, true},
	        {L("a\r\n.\r\r\n.\r\n"), L("a\r\n\r\r\n"), 0, true},
	        /* "\n.\n" at the very start */
	        {L("\n.\nb\r\n.\r\n"), L("\n.\nb\r\n"), 0, true},
	        {L("\r.\r\n.\r\n"), L("\r.\r\n"), 0, true},
	        /* "\r\r\n.\r\n" is a real end after a bare CR */
	        {L("a\r\r\n.\r\n"), L("a\r\r\n"), 0, true},
	        {L("a\n\r\n.\r\n"), L("a\n\r\n"), 0, true},
	        /* lone bare CR / LF in a line */
	        {L("a\rb\r\n.\r\n"), L("a\rb\r\n"), 0, true},
	        {L("a\nb\r\n.\r\n"), L("a\nb\r\n"), 0, true},
	        {L("a\n\n\r\n.\r\n"), L("a\n\n\r\n"), 0, true},
	};
	run_data_cases(cases, ARRAY_SIZE(cases));
}

static void test_data_smuggling_variants_alone_never_end_data(void **state)
{
	static const char *const variants[] = {
	        "\n.\n", "\r\n.\n", "\n.\r\n",  "\r.\r\n",  ".\n",      "\r\n.\r",  ".\r",
	        "\n.\r", "x\n.\n",  "x\r.\r\n", "x\n.\r\n", "\n..\r\n", "\r\n.\rx",
	};
	for (size_t i = 0; i < ARRAY_SIZE(variants); i++) {
		struct data_result res;
		size_t len = strlen(variants[i]);
		feed_all(variants[i], len, 0, &res);
		if (res.st != SMTP_DATA_MORE || res.consumed != len)
			fail_msg("variant %zu ended data", i);
		buf_free(&res.out);
	}
}

static void test_data_clean_message_has_no_flags(void **state)
{
	struct data_result res;
	feed_all(L("Subject: plain\r\n\r\nbody\r\n.\r\n"), 0, &res);
	assert_int_equal(res.st, SMTP_DATA_DONE);
	assert_false(res.r.bare_crlf);
	assert_false(res.r.has_8bit);
	assert_false(res.r.has_nul);
	assert_false(res.r.too_big);
	buf_free(&res.out);
}

static void test_data_8bit_and_nul_bytes_are_noted_and_kept(void **state)
{
	static const struct data_case cases[] = {
	        {L("caf\xc3\xa9\r\n.\r\n"), L("caf\xc3\xa9\r\n"), 0, false},
	        {L("a\0b\r\n.\r\n"), L("a\0b\r\n"), 0, false},
	};
	run_data_cases(cases, ARRAY_SIZE(cases));
	struct data_result res;
	feed_all(L("caf\xc3\xa9\r\n.\r\n"), 0, &res);
	assert_true(res.r.has_8bit);
	assert_false(res.r.has_nul);
	buf_free(&res.out);
	feed_all(L("a\0b\r\n.\r\n"), 0, &res);
	assert_false(res.r.has_8bit);
	assert_true(res.r.has_nul);
	buf_free(&res.out);
	feed_all(L(".\x80\r\n.\r\n"), 0, &res); /* after a stuffed dot too */
	assert_true(res.r.has_8bit);
	buf_free(&res.out);
}

static void test_data_at_the_size_limit_passes_and_one_more_byte_is_too_big(void **state)
{
	static const char msg[] = "abc\r\n..\r\n.\r\n"; /* message "abc\r\n.\r\n", 8 bytes */
	struct data_result res;

	feed_all(msg, sizeof(msg) - 1, 8, &res);
	assert_int_equal(res.st, SMTP_DATA_DONE);
	assert_false(res.r.too_big);
	assert_true(res.r.size == 8);
	assert_int_equal(res.out.len, 8);
	assert_memory_equal(res.out.data, "abc\r\n.\r\n", 8);
	buf_free(&res.out);

	feed_all(msg, sizeof(msg) - 1, 7, &res);
	assert_int_equal(res.st, SMTP_DATA_DONE); /* still read to its end */
	assert_int_equal(res.consumed, sizeof(msg) - 1);
	assert_true(res.r.too_big);
	assert_true(res.r.size == 8);
	assert_true(res.out.len <= 7);
	buf_free(&res.out);

	feed_all(msg, sizeof(msg) - 1, 1, &res);
	assert_true(res.r.too_big);
	assert_true(res.out.len <= 1);
	buf_free(&res.out);

	feed_all(msg, sizeof(msg) - 1, 0, &res); /* 0: no limit */
	assert_false(res.r.too_big);
	assert_int_equal(res.out.len, 8);
	buf_free(&res.out);

	/* The limit holds whatever the pieces. */
	for (size_t cut = 0; cut <= sizeof(msg) - 1; cut++) {
		for (uint64_t max = 7; max <= 8; max++) {
			struct data_result whole, split;
			feed_all(msg, sizeof(msg) - 1, max, &whole);
			feed_cuts(msg, sizeof(msg) - 1, max, &cut, 1, &split);
			assert_same_result(&whole, &split);
			assert_true(split.out.len <= max);
			buf_free(&whole.out);
			buf_free(&split.out);
		}
	}
}

static void test_data_a_big_message_stops_growing_at_the_limit(void **state)
{
	struct buf in = BUF_INIT;
	for (int i = 0; i < 1000; i++)
		buf_puts(&in, "0123456789012345678901234567890123456789\r\n");
	buf_puts(&in, ".\r\n");
	struct data_result res;
	feed_all(in.data, in.len, 1000, &res);
	assert_int_equal(res.st, SMTP_DATA_DONE);
	assert_true(res.r.too_big);
	assert_int_equal(res.out.len, 1000);
	assert_true(res.r.size == in.len - 3);
	buf_free(&res.out);
	buf_free(&in);
}

static void test_data_terminator_split_at_every_byte_position_ends_data(void **state)
{
	static const char msg[] = "hello\r\n.\r\n";
	size_t len = sizeof(msg) - 1;
	for (size_t cut = 0; cut <= len; cut++) {
		struct data_result res;
		feed_cuts(msg, len, 0, &cut, 1, &res);
		assert_int_equal(res.st, SMTP_DATA_DONE);
		assert_int_equal(res.consumed, len);
		assert_int_equal(res.out.len, 7);
		assert_memory_equal(res.out.data, "hello\r\n", 7);
		buf_free(&res.out);
	}
}

static void test_data_fed_one_byte_at_a_time_gives_the_same_result(void **state)
{
	static const char msg[] = "a\r\n..b\r\n.\nc\n.\r\nd\r.\r\n\xc3\xa9\0\r\n.\r\nQUIT\r\n";
	size_t len = sizeof(msg) - 1;
	size_t cuts[sizeof(msg)];
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	struct data_result whole, bytes;
	feed_all(msg, len, 0, &whole);
	feed_cuts(msg, len, 0, cuts, len - 1, &bytes);
	assert_int_equal(whole.st, SMTP_DATA_DONE);
	assert_same_result(&whole, &bytes);
	assert_int_equal(whole.consumed, len - 6);
	buf_free(&whole.out);
	buf_free(&bytes.out);
}

static void test_data_fed_at_every_split_point_gives_identical_output(void **state)
{
	static const char msg[] = "From: a\r\n..x\r\n.\n\r.\r\n\n.\r\n\r\n.\rz\r\n"
	                          "caf\xc3\xa9 \0 \r\n\r\r\n..\r\n.\r\nRSET\r\n";
	size_t len = sizeof(msg) - 1;
	struct data_result whole;
	feed_all(msg, len, 0, &whole);
	assert_int_equal(whole.st, SMTP_DATA_DONE);
	assert_int_equal(whole.consumed, len - 6);
	assert_true(whole.r.bare_crlf);

	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j++) {
			size_t cuts[2] = {i, j};
			struct data_result split;
			feed_cuts(msg, len, 0, cuts, 2, &split);
			assert_same_result(&whole, &split);
			buf_free(&split.out);
		}
	}
	/* with a limit in the middle of the message too */
	for (size_t i = 0; i <= len; i++) {
		struct data_result a, b;
		feed_all(msg, len, 20, &a);
		feed_cuts(msg, len, 20, &i, 1, &b);
		assert_same_result(&a, &b);
		assert_true(b.r.too_big);
		assert_true(b.out.len <= 20);
		buf_free(&a.out);
		buf_free(&b.out);
	}
	buf_free(&whole.out);
}

static void test_data_bytes_after_the_terminator_are_left_unconsumed(void **state)
{
	static const char msg[] = "a\r\n.\r\nMAIL FROM:<b@example.com>\r\n";
	struct smtp_data_reader r;
	struct buf out = BUF_INIT;
	size_t used = 99;

	smtp_data_init(&r, 0);
	assert_int_equal(smtp_data_feed(&r, msg, sizeof(msg) - 1, &used, &out), SMTP_DATA_DONE);
	assert_int_equal(used, 6);
	assert_string_equal(buf_cstr(&out), "a\r\n");

	/* Once done, the reader takes nothing more. */
	assert_int_equal(smtp_data_feed(&r, msg + used, sizeof(msg) - 1 - used, &used, &out),
	                 SMTP_DATA_DONE);
	assert_int_equal(used, 0);
	assert_int_equal(out.len, 3);
	buf_free(&out);

	/* The terminator arriving in the same piece as the next command, after a split. */
	smtp_data_init(&r, 0);
	assert_int_equal(smtp_data_feed(&r, "a\r\n.", 4, &used, &out), SMTP_DATA_MORE);
	assert_int_equal(used, 4);
	assert_int_equal(smtp_data_feed(&r, "\r\nQUIT\r\n", 8, &used, &out), SMTP_DATA_DONE);
	assert_int_equal(used, 2);
	assert_string_equal(buf_cstr(&out), "a\r\n");
	buf_free(&out);
}

static void test_data_an_unfinished_message_asks_for_more(void **state)
{
	static const char *const parts[] = {"",       "a",        "a\r",        "a\r\n",
	                                    "a\r\n.", "a\r\n.\r", "a\r\n..\r\n"};
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		struct data_result res;
		size_t len = strlen(parts[i]);
		feed_all(parts[i], len, 0, &res);
		assert_int_equal(res.st, SMTP_DATA_MORE);
		assert_int_equal(res.consumed, len);
		buf_free(&res.out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_verb_is_recognised_in_any_case),
	        cmocka_unit_test(test_unknown_verbs_and_verbs_glued_to_junk_are_unknown),
	        cmocka_unit_test(test_commands_without_arguments_refuse_one),
	        cmocka_unit_test(test_noop_and_help_take_an_optional_raw_argument),
	        cmocka_unit_test(test_commands_that_need_an_argument_refuse_none),
	        cmocka_unit_test(test_helo_takes_one_printable_token_as_written),
	        cmocka_unit_test(test_auth_vrfy_expn_and_unknown_keep_their_argument_raw),
	        cmocka_unit_test(test_bdat_argument_is_checked_and_kept_raw),
	        cmocka_unit_test(test_nul_cr_or_lf_anywhere_in_a_line_is_a_syntax_error),
	        cmocka_unit_test(test_a_command_struct_is_reset_between_lines),
	        cmocka_unit_test(test_the_reason_is_appended_to_why_and_why_may_be_null),
	        cmocka_unit_test(test_mail_from_and_rcpt_to_read_a_plain_path),
	        cmocka_unit_test(test_mail_and_rcpt_syntax_errors_are_syntax),
	        cmocka_unit_test(test_rcpt_to_empty_path_is_a_bad_address),
	        cmocka_unit_test(test_rcpt_to_postmaster_without_a_domain_is_flagged),
	        cmocka_unit_test(test_source_routes_are_accepted_and_dropped),
	        cmocka_unit_test(test_dot_strings_need_atoms_between_the_dots),
	        cmocka_unit_test(
	                test_quoted_local_parts_are_unquoted_and_requoted_only_when_needed),
	        cmocka_unit_test(test_domains_are_ldh_labels),
	        cmocka_unit_test(test_a_domain_label_of_63_octets_passes_and_64_fails),
	        cmocka_unit_test(test_ipv4_literals_are_four_numbers_up_to_255),
	        cmocka_unit_test(test_ipv6_literals_follow_rfc_5321_grammar),
	        cmocka_unit_test(test_general_address_literals_are_accepted_by_syntax),
	        cmocka_unit_test(test_utf8_addresses_are_accepted_when_valid),
	        cmocka_unit_test(test_invalid_utf8_anywhere_in_a_path_is_a_bad_address),
	        cmocka_unit_test(test_a_local_part_of_64_octets_passes_and_65_is_too_long),
	        cmocka_unit_test(test_a_path_of_256_octets_passes_and_257_is_too_long),
	        cmocka_unit_test(test_a_domain_over_255_octets_is_too_long),
	        cmocka_unit_test(test_parameters_are_split_into_keywords_and_values),
	        cmocka_unit_test(test_parameter_lookup_is_case_insensitive_and_finds_the_first),
	        cmocka_unit_test(test_malformed_parameters_are_syntax_errors),
	        cmocka_unit_test(test_sixteen_parameters_pass_and_seventeen_are_too_many),
	        cmocka_unit_test(test_a_parameter_value_of_1024_octets_passes_and_1025_is_too_long),
	        cmocka_unit_test(test_xtext_decodes_upper_case_hexchars_only),
	        cmocka_unit_test(test_bdat_arguments_parse_to_a_size_and_a_last_flag),
	        cmocka_unit_test(test_data_simple_message_ends_at_crlf_dot_crlf),
	        cmocka_unit_test(test_data_empty_message_is_a_lone_dot_line),
	        cmocka_unit_test(test_data_dot_stuffing_is_undone),
	        cmocka_unit_test(test_data_smuggling_variants_do_not_end_data_and_mark_it_bad),
	        cmocka_unit_test(test_data_smuggling_variants_alone_never_end_data),
	        cmocka_unit_test(test_data_clean_message_has_no_flags),
	        cmocka_unit_test(test_data_8bit_and_nul_bytes_are_noted_and_kept),
	        cmocka_unit_test(test_data_at_the_size_limit_passes_and_one_more_byte_is_too_big),
	        cmocka_unit_test(test_data_a_big_message_stops_growing_at_the_limit),
	        cmocka_unit_test(test_data_terminator_split_at_every_byte_position_ends_data),
	        cmocka_unit_test(test_data_fed_one_byte_at_a_time_gives_the_same_result),
	        cmocka_unit_test(test_data_fed_at_every_split_point_gives_identical_output),
	        cmocka_unit_test(test_data_bytes_after_the_terminator_are_left_unconsumed),
	        cmocka_unit_test(test_data_an_unfinished_message_asks_for_more),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
