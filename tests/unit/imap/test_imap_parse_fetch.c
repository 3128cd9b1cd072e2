/*
 * Unit tests for src/imap/imap_parse_fetch.c: every fetch item, the macros,
 * sections (parts, HEADER, HEADER.FIELDS (NOT), TEXT, MIME), BINARY and
 * BINARY.SIZE, partials, the part-number limit at its edge, the CHANGEDSINCE
 * and VANISHED modifiers, every error path and the RFC examples. Commands go
 * through the tokenizer first, as in the session.
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

/* Parses "t FETCH 1 <items>" and interprets what follows the sequence set. */
static int fetch(const char *items, struct imap_fetch_spec *spec)
{
	struct imap_cmd cmd;
	struct buf line = BUF_INIT, why = BUF_INIT;
	imap_cmd_init(&cmd);
	buf_puts(&line, "t FETCH 1 ");
	buf_puts(&line, items);
	if (imap_parse_command(line.data, line.len, &cmd, NULL) != IMAP_PARSE_OK)
		fail_msg("\"%s\" does not tokenize", items);
	int rc = imap_fetch_parse(cmd.args + 1, cmd.nargs - 1, spec, &why);
	/* A reason exactly on failure; a failure leaves nothing behind. */
	if (rc == 0) {
		assert_int_equal(why.len, 0);
	} else {
		assert_true(why.len > 0);
		assert_null(spec->atts);
		assert_int_equal(spec->natts, 0);
	}
	/* The spec outlives the command only through its own copies. */
	if (rc == 0)
		for (size_t k = 0; k < spec->natts; k++)
			spec->atts[k].text = (struct str){NULL, spec->atts[k].text.len};
	imap_cmd_free(&cmd);
	buf_free(&line);
	buf_free(&why);
	return rc;
}

/* Like fetch(), but keeps the command so that att texts can be checked. */
static int fetch_cmd(const char *line, struct imap_cmd *cmd, struct imap_fetch_spec *spec)
{
	if (imap_parse_command(line, strlen(line), cmd, NULL) != IMAP_PARSE_OK)
		fail_msg("\"%s\" does not tokenize", line);
	return imap_fetch_parse(cmd->args + 1, cmd->nargs - 1, spec, NULL);
}

static void assert_str(struct str s, const char *want)
{
	if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
		fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.p, want);
}

/* ---- plain items and macros ------------------------------------------------------ */

struct item_case {
	const char *in;
	enum imap_fetch_item item;
	enum imap_section_kind kind;
	bool peek;
};

static void test_every_plain_item_is_recognised_in_any_case(void **state)
{
	static const struct item_case cases[] = {
	        {"UID", IMAP_FETCH_UID, IMAP_SECTION_ALL, false},
	        {"uid", IMAP_FETCH_UID, IMAP_SECTION_ALL, false},
	        {"FLAGS", IMAP_FETCH_FLAGS, IMAP_SECTION_ALL, false},
	        {"InternalDate", IMAP_FETCH_INTERNALDATE, IMAP_SECTION_ALL, false},
	        {"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE, IMAP_SECTION_ALL, false},
	        {"ENVELOPE", IMAP_FETCH_ENVELOPE, IMAP_SECTION_ALL, false},
	        {"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, IMAP_SECTION_ALL, false},
	        {"BODY", IMAP_FETCH_BODY_STRUCTURE, IMAP_SECTION_ALL, false},
	        {"body", IMAP_FETCH_BODY_STRUCTURE, IMAP_SECTION_ALL, false},
	        {"RFC822", IMAP_FETCH_RFC822, IMAP_SECTION_ALL, false},
	        {"RFC822.HEADER", IMAP_FETCH_RFC822_HEADER, IMAP_SECTION_HEADER, true},
	        {"rfc822.text", IMAP_FETCH_RFC822_TEXT, IMAP_SECTION_TEXT, false},
	        {"MODSEQ", IMAP_FETCH_MODSEQ, IMAP_SECTION_ALL, false},
	        {"SAVEDATE", IMAP_FETCH_SAVEDATE, IMAP_SECTION_ALL, false},
	        {"EMAILID", IMAP_FETCH_EMAILID, IMAP_SECTION_ALL, false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_fetch_spec spec;
		if (fetch(cases[i].in, &spec) != 0)
			fail_msg("\"%s\" refused", cases[i].in);
		assert_int_equal(spec.natts, 1);
		assert_int_equal(spec.atts[0].item, cases[i].item);
		assert_int_equal(spec.atts[0].kind, cases[i].kind);
		assert_int_equal(spec.atts[0].peek, cases[i].peek);
		assert_false(spec.atts[0].partial);
		assert_int_equal(spec.atts[0].nparts, 0);
		assert_null(spec.atts[0].fields);
		assert_true(spec.changedsince == 0 && !spec.vanished);
		imap_fetch_spec_free(&spec);
	}
}

static void test_macros_expand_to_their_items(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		enum imap_fetch_item items[5];
		const char *names[5];
	} cases[] = {
	        {"FAST",
	         3,
	         {IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE},
	         {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}},
	        {"all",
	         4,
	         {IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
	          IMAP_FETCH_ENVELOPE},
	         {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}},
	        {"Full",
	         5,
	         {IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
	          IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY_STRUCTURE},
	         {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_cmd cmd;
		struct imap_fetch_spec spec;
		struct buf line = BUF_INIT;
		imap_cmd_init(&cmd);
		buf_printf(&line, "t FETCH 1:* %s", cases[i].in);
		assert_int_equal(fetch_cmd(buf_cstr(&line), &cmd, &spec), 0);
		assert_int_equal(spec.natts, cases[i].n);
		for (size_t k = 0; k < cases[i].n; k++) {
			assert_int_equal(spec.atts[k].item, cases[i].items[k]);
			assert_str(spec.atts[k].text, cases[i].names[k]);
		}
		imap_fetch_spec_free(&spec);
		imap_cmd_free(&cmd);
		buf_free(&line);
	}
}

static void test_lists_of_items_keep_their_order_and_text(void **state)
{
	struct imap_cmd cmd;
	struct imap_fetch_spec spec;
	imap_cmd_init(&cmd);
	assert_int_equal(fetch_cmd("t FETCH 1 (uid Flags BODY.PEEK[1]<0.5> flags)", &cmd, &spec),
	                 0);
	assert_int_equal(spec.natts, 4);
	assert_int_equal(spec.atts[0].item, IMAP_FETCH_UID);
	assert_str(spec.atts[0].text, "uid");
	assert_str(spec.atts[1].text, "Flags");
	assert_int_equal(spec.atts[2].item, IMAP_FETCH_BODY_SECTION);
	assert_str(spec.atts[2].text, "BODY.PEEK[1]<0.5>");
	assert_int_equal(spec.atts[3].item, IMAP_FETCH_FLAGS);
	imap_fetch_spec_free(&spec);
	assert_null(spec.atts);
	imap_fetch_spec_free(&spec);
	imap_cmd_free(&cmd);
}

static void test_malformed_item_lists_are_refused(void **state)
{
	static const char *const bad[] = {
	        "(ALL)",       "(FLAGS FAST)", "()",           "FOO",           "(FLAGS FOO)",
	        "\"FLAGS\"",   "(\"FLAGS\")",  "{5}\r\nFLAGS", "NIL",           "((FLAGS))",
	        "(FLAGS ())",  "RFC822.",      "RFC822.FOO",   "BODY.PEEK",     "BODYSTRUCTURE[]",
	        "UID[]",       "BODY<0.5>",    "FLAGS<0.5>",   "ALL[]",         "BINARY",
	        "BINARY.PEEK", "BINARY.SIZE",  "X-BODY[]",     "BODY.PEEK.X[]", "(UID) (UID) (UID)",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct imap_fetch_spec spec;
		if (fetch(bad[i], &spec) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
	}
	/* Nothing after the sequence set. */
	struct imap_fetch_spec spec;
	assert_int_equal(imap_fetch_parse(NULL, 0, &spec, NULL), -1);
	assert_int_equal(spec.natts, 0);
}

/* ---- sections ----------------------------------------------------------------------- */

struct section_case {
	const char *in;
	enum imap_fetch_item item;
	bool peek;
	enum imap_section_kind kind;
	const char *parts;  /* "1.2.3" or "" */
	const char *fields; /* "A,B" or NULL */
	bool partial;
	uint64_t offset, count;
};

static char *render_parts(const struct imap_fetch_att *att)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	for (size_t k = 0; k < att->nparts; k++)
		buf_printf(&b, "%s%u", k ? "." : "", att->part[k]);
	return buf_steal(&b);
}

static char *render_fields(const struct imap_fetch_att *att)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "");
	for (size_t k = 0; k < att->nfields; k++)
		buf_printf(&b, "%s%s", k ? "," : "", att->fields[k]);
	assert_null(att->fields[att->nfields]);
	return buf_steal(&b);
}

static void run_section_cases(const struct section_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct section_case *t = &cases[i];
		struct imap_fetch_spec spec;
		if (fetch(t->in, &spec) != 0)
			fail_msg("\"%s\" refused", t->in);
		assert_int_equal(spec.natts, 1);
		const struct imap_fetch_att *att = &spec.atts[0];
		if (att->item != t->item || att->peek != t->peek || att->kind != t->kind)
			fail_msg("\"%s\": item %d peek %d kind %d", t->in, att->item, att->peek,
			         att->kind);
		char *parts = render_parts(att);
		if (strcmp(parts, t->parts) != 0)
			fail_msg("\"%s\": parts %s, want %s", t->in, parts, t->parts);
		free(parts);
		if (t->fields) {
			char *fields = render_fields(att);
			if (strcmp(fields, t->fields) != 0)
				fail_msg("\"%s\": fields %s, want %s", t->in, fields, t->fields);
			free(fields);
		} else {
			assert_null(att->fields);
			assert_int_equal(att->nfields, 0);
		}
		assert_int_equal(att->partial, t->partial);
		assert_true(att->offset == t->offset && att->count == t->count);
		imap_fetch_spec_free(&spec);
	}
}

static void test_body_sections_of_every_kind_parse(void **state)
{
	static const struct section_case cases[] = {
	        {"BODY[]", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_ALL, "", NULL, false, 0, 0},
	        {"body.peek[]", IMAP_FETCH_BODY_SECTION, true, IMAP_SECTION_ALL, "", NULL, false, 0,
	         0},
	        {"BODY[HEADER]", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_HEADER, "", NULL,
	         false, 0, 0},
	        {"BODY[header]", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_HEADER, "", NULL,
	         false, 0, 0},
	        {"BODY[TEXT]", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_TEXT, "", NULL, false,
	         0, 0},
	        {"BODY[1]", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_ALL, "1", NULL, false, 0,
	         0},
	        {"BODY[1.2.3]", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_ALL, "1.2.3", NULL,
	         false, 0, 0},
	        {"BODY[4.1.MIME]", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_MIME, "4.1", NULL,
	         false, 0, 0},
	        {"BODY[3.HEADER]", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_HEADER, "3", NULL,
	         false, 0, 0},
	        {"BODY[4.2.TEXT]", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_TEXT, "4.2", NULL,
	         false, 0, 0},
	        {"BODY[4294967295]", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_ALL, "4294967295",
	         NULL, false, 0, 0},
	        {"BODY[HEADER.FIELDS (From to)]", IMAP_FETCH_BODY_SECTION, false,
	         IMAP_SECTION_HEADER_FIELDS, "", "FROM,TO", false, 0, 0},
	        {"BODY.PEEK[HEADER.FIELDS.NOT (Received)]", IMAP_FETCH_BODY_SECTION, true,
	         IMAP_SECTION_HEADER_FIELDS_NOT, "", "RECEIVED", false, 0, 0},
	        {"BODY[2.HEADER.FIELDS (\"x-Spam\" {7}\r\nsubject NIL)]", IMAP_FETCH_BODY_SECTION,
	         false, IMAP_SECTION_HEADER_FIELDS, "2", "X-SPAM,SUBJECT,NIL", false, 0, 0},
	        {"BODY[header.fields.not (a)]", IMAP_FETCH_BODY_SECTION, false,
	         IMAP_SECTION_HEADER_FIELDS_NOT, "", "A", false, 0, 0},
	        {"BODY.PEEK[HEADER.FIELDS (FROM \"To\")]<0.1024>", IMAP_FETCH_BODY_SECTION, true,
	         IMAP_SECTION_HEADER_FIELDS, "", "FROM,TO", true, 0, 1024},
	        {"BODY[]<5.1>", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_ALL, "", NULL, true, 5,
	         1},
	        {"BODY[]<00.10>", IMAP_FETCH_BODY_SECTION, false, IMAP_SECTION_ALL, "", NULL, true,
	         0, 10},
	        {"BODY[TEXT]<9223372036854775807.9223372036854775807>", IMAP_FETCH_BODY_SECTION,
	         false, IMAP_SECTION_TEXT, "", NULL, true, INT64_MAX, INT64_MAX},
	};
	run_section_cases(cases, ARRAY_SIZE(cases));
}

static void test_binary_sections_take_part_numbers_only(void **state)
{
	static const struct section_case cases[] = {
	        {"BINARY[]", IMAP_FETCH_BINARY, false, IMAP_SECTION_ALL, "", NULL, false, 0, 0},
	        {"BINARY[1.2]<0.10>", IMAP_FETCH_BINARY, false, IMAP_SECTION_ALL, "1.2", NULL, true,
	         0, 10},
	        {"binary.peek[3]", IMAP_FETCH_BINARY, true, IMAP_SECTION_ALL, "3", NULL, false, 0,
	         0},
	        {"BINARY.SIZE[1]", IMAP_FETCH_BINARY_SIZE, true, IMAP_SECTION_ALL, "1", NULL, false,
	         0, 0},
	        {"BINARY.SIZE[]", IMAP_FETCH_BINARY_SIZE, true, IMAP_SECTION_ALL, "", NULL, false,
	         0, 0},
	};
	run_section_cases(cases, ARRAY_SIZE(cases));

	static const char *const bad[] = {
	        "BINARY[HEADER]",      "BINARY[TEXT]", "BINARY[1.MIME]",    "BINARY[1.HEADER]",
	        "BINARY.SIZE[1]<0.5>", "BINARY[1 2]",  "BINARY[(1)]",       "BINARY[\"1\"]",
	        "BINARY[0]",           "BINARY[1.]",   "BINARY.PEEK[MIME]", "BINARY[NIL]",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct imap_fetch_spec spec;
		if (fetch(bad[i], &spec) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
	}
}

static void test_malformed_sections_and_partials_are_refused(void **state)
{
	static const char *const bad[] = {
	        /* sections */
	        "BODY[MIME]",
	        "BODY[0]",
	        "BODY[01]",
	        "BODY[1.0]",
	        "BODY[1.]",
	        "BODY[.1]",
	        "BODY[1..2]",
	        "BODY[4294967296]",
	        "BODY[1.2x]",
	        "BODY[FOO]",
	        "BODY[HEADERS]",
	        "BODY[TEXT.1]",
	        "BODY[HEADER.1]",
	        "BODY[\"HEADER\"]",
	        "BODY[{6}\r\nHEADER]",
	        "BODY[(HEADER)]",
	        "BODY[HEADER.FIELDS]",
	        "BODY[HEADER.FIELDS ()]",
	        "BODY[HEADER.FIELDS FROM]",
	        "BODY[HEADER.FIELDS (FROM) (TO)]",
	        "BODY[HEADER.FIELDS (FROM (TO))]",
	        "BODY[HEADER.FIELDS.NOT]",
	        "BODY[HEADER (FROM)]",
	        "BODY[TEXT TEXT]",
	        "BODY[1 2]",
	        "BODY[HEADER.FIELDS (~{4}\r\nFROM)]",
	        /* what follows the section */
	        "BODY[]x",
	        "BODY[]<>",
	        "BODY[]<0>",
	        "BODY[]<0.>",
	        "BODY[]<.5>",
	        "BODY[]<0.0>",
	        "BODY[]<0.01>",
	        "BODY[]<-1.5>",
	        "BODY[]<1.2.3>",
	        "BODY[]<0.9223372036854775808>",
	        "BODY[]<9223372036854775808.1>",
	        "BODY[]<0.5>x",
	        "BODY[]<0.5",
	        "BODY[]0.5>",
	        /* brackets the tokenizer left in a plain atom after a failed section */
	        "(BODY[1 (x BODY[])",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct imap_fetch_spec spec;
		struct imap_cmd cmd;
		struct buf line = BUF_INIT;
		imap_cmd_init(&cmd);
		buf_printf(&line, "t FETCH 1 %s", bad[i]);
		if (imap_parse_command(line.data, line.len, &cmd, NULL) != IMAP_PARSE_OK) {
			/* refused by the tokenizer already: also fine */
		} else if (imap_fetch_parse(cmd.args + 1, cmd.nargs - 1, &spec, NULL) != -1) {
			fail_msg("\"%s\" accepted", bad[i]);
		}
		imap_cmd_free(&cmd);
		buf_free(&line);
	}
}

static void test_32_part_numbers_pass_and_33_are_over_the_limit(void **state)
{
	struct buf b = BUF_INIT;
	struct imap_fetch_spec spec;
	buf_puts(&b, "BODY[1");
	for (int k = 1; k < IMAP_MAX_SECTION_PARTS; k++)
		buf_printf(&b, ".%d", k + 1);
	buf_puts(&b, "]");
	assert_int_equal(fetch(buf_cstr(&b), &spec), 0);
	assert_int_equal(spec.atts[0].nparts, IMAP_MAX_SECTION_PARTS);
	assert_int_equal(spec.atts[0].part[IMAP_MAX_SECTION_PARTS - 1], IMAP_MAX_SECTION_PARTS);
	imap_fetch_spec_free(&spec);

	buf_truncate(&b, b.len - 1);
	buf_puts(&b, ".1]");
	assert_int_equal(fetch(buf_cstr(&b), &spec), -2);

	buf_truncate(&b, b.len - 1);
	buf_puts(&b, ".MIME]");
	assert_int_equal(fetch(buf_cstr(&b), &spec), -2);
	buf_free(&b);
}

static void test_the_text_of_a_section_item_is_kept_as_written(void **state)
{
	struct imap_cmd cmd;
	struct imap_fetch_spec spec;
	imap_cmd_init(&cmd);
	const char *line = "t FETCH 1 (body.peek[header.fields (from)]<0.10> BINARY.SIZE[2])";
	assert_int_equal(fetch_cmd(line, &cmd, &spec), 0);
	assert_str(spec.atts[0].text, "body.peek[header.fields (from)]<0.10>");
	assert_ptr_equal(spec.atts[0].text.p, line + 11);
	assert_str(spec.atts[1].text, "BINARY.SIZE[2]");
	imap_fetch_spec_free(&spec);
	imap_cmd_free(&cmd);
}

/* ---- modifiers -------------------------------------------------------------------------- */

static void test_changedsince_and_vanished_modifiers_parse_in_either_order(void **state)
{
	static const struct {
		const char *in;
		uint64_t changedsince;
		bool vanished;
	} cases[] = {
	        {"(FLAGS) (CHANGEDSINCE 12345)", 12345, false},
	        {"FLAGS (changedsince 1)", 1, false},
	        {"(FLAGS) (CHANGEDSINCE 12345 VANISHED)", 12345, true},
	        {"(FLAGS) (VANISHED CHANGEDSINCE 7)", 7, true},
	        {"ALL (CHANGEDSINCE 9223372036854775807)", INT64_MAX, false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_fetch_spec spec;
		if (fetch(cases[i].in, &spec) != 0)
			fail_msg("\"%s\" refused", cases[i].in);
		assert_true(spec.changedsince == cases[i].changedsince);
		assert_int_equal(spec.vanished, cases[i].vanished);
		imap_fetch_spec_free(&spec);
	}

	static const char *const bad[] = {
	        "FLAGS ()",
	        "FLAGS CHANGEDSINCE",
	        "FLAGS (CHANGEDSINCE)",
	        "FLAGS (CHANGEDSINCE 0)",
	        "FLAGS (CHANGEDSINCE x)",
	        "FLAGS (CHANGEDSINCE -1)",
	        "FLAGS (CHANGEDSINCE 9223372036854775808)",
	        "FLAGS (CHANGEDSINCE \"5\")",
	        "FLAGS (CHANGEDSINCE 5 CHANGEDSINCE 6)",
	        "FLAGS (VANISHED)",
	        "FLAGS (CHANGEDSINCE 5 VANISHED VANISHED)",
	        "FLAGS (UNCHANGEDSINCE 5)",
	        "FLAGS (CHANGEDSINCE (5))",
	        "FLAGS (\"VANISHED\" CHANGEDSINCE 5)",
	        "FLAGS (CHANGEDSINCE 5) (VANISHED)",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct imap_fetch_spec spec;
		if (fetch(bad[i], &spec) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
	}
}

/* ---- RFC examples ------------------------------------------------------------------------- */

static void test_rfc_example_fetches_parse(void **state)
{
	struct imap_cmd cmd;
	struct imap_fetch_spec spec;
	imap_cmd_init(&cmd);

	/* RFC 9051 6.4.5 */
	assert_int_equal(
	        fetch_cmd("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])", &cmd, &spec),
	        0);
	assert_int_equal(spec.natts, 2);
	assert_int_equal(spec.atts[1].kind, IMAP_SECTION_HEADER_FIELDS);
	assert_int_equal(spec.atts[1].nfields, 2);
	assert_string_equal(spec.atts[1].fields[0], "DATE");
	assert_string_equal(spec.atts[1].fields[1], "FROM");
	imap_fetch_spec_free(&spec);

	/* RFC 3501 / RFC 5182 */
	assert_int_equal(fetch_cmd("A999 UID FETCH 4827313:4828442 FLAGS", &cmd, &spec), 0);
	assert_int_equal(spec.natts, 1);
	imap_fetch_spec_free(&spec);
	assert_int_equal(
	        fetch_cmd("A301 FETCH $ (UID INTERNALDATE FLAGS RFC822.SIZE)", &cmd, &spec), 0);
	assert_int_equal(spec.natts, 4);
	imap_fetch_spec_free(&spec);

	/* RFC 7162 */
	assert_int_equal(fetch_cmd("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
	                           &cmd, &spec),
	                 0);
	assert_true(spec.changedsince == 12345 && spec.vanished);
	imap_fetch_spec_free(&spec);
	assert_int_equal(fetch_cmd("a103 FETCH 1:* (UID MODSEQ)", &cmd, &spec), 0);
	assert_int_equal(spec.atts[1].item, IMAP_FETCH_MODSEQ);
	imap_fetch_spec_free(&spec);

	/* RFC 3516 */
	assert_int_equal(
	        fetch_cmd("t FETCH 1 (BINARY.PEEK[1]<0.1000> BINARY.SIZE[1])", &cmd, &spec), 0);
	assert_int_equal(spec.atts[0].item, IMAP_FETCH_BINARY);
	assert_true(spec.atts[0].peek && spec.atts[0].partial && spec.atts[0].count == 1000);
	assert_int_equal(spec.atts[1].item, IMAP_FETCH_BINARY_SIZE);
	imap_fetch_spec_free(&spec);

	/* RFC 5092's partial fetch */
	assert_int_equal(fetch_cmd("A003 UID FETCH 20 BODY.PEEK[]<0.1024>", &cmd, &spec), 0);
	assert_true(spec.atts[0].peek && spec.atts[0].count == 1024);
	imap_fetch_spec_free(&spec);

	imap_cmd_free(&cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_plain_item_is_recognised_in_any_case),
	        cmocka_unit_test(test_macros_expand_to_their_items),
	        cmocka_unit_test(test_lists_of_items_keep_their_order_and_text),
	        cmocka_unit_test(test_malformed_item_lists_are_refused),
	        cmocka_unit_test(test_body_sections_of_every_kind_parse),
	        cmocka_unit_test(test_binary_sections_take_part_numbers_only),
	        cmocka_unit_test(test_malformed_sections_and_partials_are_refused),
	        cmocka_unit_test(test_32_part_numbers_pass_and_33_are_over_the_limit),
	        cmocka_unit_test(test_the_text_of_a_section_item_is_kept_as_written),
	        cmocka_unit_test(test_changedsince_and_vanished_modifiers_parse_in_either_order),
	        cmocka_unit_test(test_rfc_example_fetches_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
