// fuzz-sources: src/imap/imap_parse_url.c src/imap/imap_parse.c
// fuzz-sources: src/core/mem.c src/core/buf.c src/core/str.c src/core/codec.c
// fuzz-libs:
/*
 * fuzz_imap_url — IMAP URLs (RFC 5092 with RFC 4467's URLAUTH parts), as
 * GENURLAUTH, URLFETCH and CATENATE hand them to imap_url_parse(); the input
 * is one URL. Also imap_url_section_parse() and imap_parse_rfc3339() on the
 * same bytes.
 *
 * Checked: no crash, leak or sanitizer report; a reason exactly on failure
 * and an empty struct after it; on success a message is named (uid > 0), the
 * mailbox is valid UTF-8 without controls and without an empty, "." or ".."
 * level, an absolute URL has a host and a relative one has none and no
 * URLAUTH, the rump lies within the text and ends the text or precedes
 * ":mechanism:token", the section respects its limits, and parsing is
 * deterministic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_imap_url: %s\n", what);
		abort();
	}
}

static void check_mailbox(const char *m)
{
	size_t len = strlen(m);
	check(len > 0 && utf8_valid(m, len), "mailbox not UTF-8");
	for (size_t i = 0; i < len; i++)
		check((unsigned char)m[i] >= 0x20 && m[i] != 0x7f, "control in mailbox");
	const char *p = m;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		check(n > 0, "empty level");
		check(!(n == 1 && p[0] == '.') && !(n == 2 && p[0] == '.' && p[1] == '.'),
		      "dot level");
		if (!slash)
			break;
		p = slash + 1;
	}
}

static void check_att(const struct imap_fetch_att *a)
{
	check(a->nparts <= IMAP_MAX_SECTION_PARTS, "too many parts");
	check(a->nfields <= IMAP_MAX_URL_FIELDS, "too many fields");
	bool fields =
	        a->kind == IMAP_SECTION_HEADER_FIELDS || a->kind == IMAP_SECTION_HEADER_FIELDS_NOT;
	check(fields == (a->nfields > 0), "fields without HEADER.FIELDS");
	check(a->kind != IMAP_SECTION_MIME || a->nparts > 0, "MIME without a part");
	for (size_t i = 0; i < a->nparts; i++)
		check(a->part[i] > 0, "part 0");
	for (size_t i = 0; i < a->nfields; i++)
		check(a->fields[i] && a->fields[i][0], "empty field");
	check(!a->nfields || a->fields[a->nfields] == NULL, "fields not NULL-terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy so that ASan sees any read past the end */
	char *text = malloc(size ? size : 1);
	memcpy(text, data, size);
	struct str t = {text, size};
	struct imap_url u, v;
	struct buf why = BUF_INIT, why2 = BUF_INIT;
	int rc = imap_url_parse(t, &u, &why);
	int rc2 = imap_url_parse(t, &v, &why2);
	check(rc == rc2, "not deterministic");
	if (rc < 0) {
		check(rc == -1, "status");
		check(why.len > 0, "no reason");
		check(!u.mailbox && !u.host && !u.user && !u.token, "left over");
	} else {
		check(rc == 0 && why.len == 0, "reason on success");
		check(u.uid > 0, "no uid");
		check(u.mailbox && strcmp(u.mailbox, v.mailbox) == 0, "mailbox");
		check_mailbox(u.mailbox);
		check(u.absolute == (u.host != NULL), "host");
		check(u.absolute || (u.access == IMAP_URL_ACCESS_NONE && !u.user), "relative");
		check(u.rump_len <= size, "rump outside");
		if (u.mechanism) {
			check(u.access != IMAP_URL_ACCESS_NONE && u.token, "token without access");
			check(u.rump_len < size && text[u.rump_len] == ':', "rump end");
			check(strlen(u.token) >= 32, "short token");
		} else {
			check(u.rump_len == size && !u.token, "rump");
		}
		check((u.access == IMAP_URL_ACCESS_USER || u.access == IMAP_URL_ACCESS_SUBMIT) ==
		              (u.access_user != NULL),
		      "access user");
		if (u.has_section)
			check_att(&u.section);
		imap_url_free(&u);
		imap_url_free(&v);
	}
	struct imap_fetch_att att;
	if (imap_url_section_parse(t, &att) == 0) {
		check_att(&att);
		imap_url_section_free(&att);
	} else {
		check(att.fields == NULL && att.nfields == 0, "section left over");
	}
	int64_t when;
	(void)imap_parse_rfc3339(t, &when);
	buf_free(&why);
	buf_free(&why2);
	free(text);
	return 0;
}
