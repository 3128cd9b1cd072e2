// fuzz-sources: src/mime/mime_parse.c src/mime/mime_header.c src/mime/mime_param.c
// fuzz-sources: src/mime/mime_address.c src/mime/mime_envelope.c src/mime/mime_bodystructure.c
// fuzz-sources: src/mime/mime_decode.c
// fuzz-sources: src/core/mem.c src/core/buf.c src/core/str.c src/core/codec.c
// fuzz-libs:
/*
 * fuzz_mime — the whole mime module over an arbitrary message.
 *
 * The input is the message. It is parsed, its ENVELOPE, BODY and BODYSTRUCTURE
 * are written, every part is looked up by its section number and decoded to
 * text, and every header field of every part goes through the RFC 2047 decoder
 * and the address parser.
 *
 * Checked (abort on violation): every part's header and body lie inside the
 * message and inside its parent's body, in order and without overlap; header
 * and body are adjacent; line counts are right; the limits hold; the IMAP
 * strings are well-formed IMAP (balanced lists, exact literal sizes, nothing
 * outside strings but atoms NIL and numbers); every part is found again from
 * its section number; decoded text is valid UTF-8.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_mime: %s\n", what);
		abort();
	}
}

/* A strict reader of the IMAP value syntax the module writes. */
static size_t imap_value(const char *s, size_t len, size_t pos, unsigned depth)
{
	check(pos < len, "imap: value expected");
	check(depth < 4 * MIME_MAX_DEPTH + 16, "imap: nesting");
	char c = s[pos];
	if (c == '(') {
		pos++;
		bool first = true;
		while (pos < len && s[pos] != ')') {
			if (!first && s[pos] == ' ')
				pos++;
			pos = imap_value(s, len, pos, depth + 1);
			first = false;
		}
		check(pos < len, "imap: unclosed list");
		return pos + 1;
	}
	if (c == '"') {
		pos++;
		while (pos < len && s[pos] != '"') {
			unsigned char u = (unsigned char)s[pos];
			check(u != 0 && u < 0x80 && u != '\r' && u != '\n',
			      "imap: bad quoted char");
			if (s[pos] == '\\') {
				pos++;
				check(pos < len && (s[pos] == '"' || s[pos] == '\\'),
				      "imap: bad escape");
			}
			pos++;
		}
		check(pos < len, "imap: unclosed quoted");
		return pos + 1;
	}
	if (c == '{') {
		size_t n = 0;
		pos++;
		check(pos < len && s[pos] >= '0' && s[pos] <= '9', "imap: literal size");
		while (pos < len && s[pos] >= '0' && s[pos] <= '9')
			n = n * 10 + (size_t)(s[pos++] - '0');
		check(pos + 3 <= len && memcmp(s + pos, "}\r\n", 3) == 0, "imap: literal header");
		pos += 3;
		check(n <= len - pos, "imap: literal too long");
		check(memchr(s + pos, '\0', n) == NULL, "imap: NUL in literal");
		return pos + n;
	}
	if (c >= '0' && c <= '9') {
		while (pos < len && s[pos] >= '0' && s[pos] <= '9')
			pos++;
		return pos;
	}
	check(len - pos >= 3 && memcmp(s + pos, "NIL", 3) == 0, "imap: unexpected atom");
	return pos + 3;
}

static void check_imap(const struct buf *b)
{
	check(b->len > 0 && b->data[0] == '(', "imap: not a list");
	size_t end = imap_value(b->data, b->len, 0, 0);
	check(end == b->len, "imap: trailing bytes");
}

static size_t count_lf(const char *p, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n')
			k++;
	return k;
}

static void check_fields(const char *hdr, size_t len)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	struct buf out = BUF_INIT;
	mime_header_iter_init(&it, hdr, len);
	while (mime_header_next(&it, &f)) {
		check(f.offset + f.len <= len, "field outside header");
		check(f.value >= hdr && f.value + f.value_len <= hdr + len, "value outside");
		buf_reset(&out);
		mime_decode_header(f.value, f.value_len, &out);
		check(mime_utf8_valid(out.data ? out.data : "", out.len), "2047 not UTF-8");
		check(out.len == 0 || memchr(out.data, '\0', out.len) == NULL, "2047 NUL");
		struct mime_address *a = NULL;
		size_t n = 0;
		mime_address_parse(f.value, f.value_len, &a, &n);
		for (size_t i = 0; i < n; i++)
			check((a[i].mailbox && a[i].host) || a[i].host == NULL,
			      "address without mailbox");
		mime_address_free(&a, n);
	}
	buf_free(&out);
}

struct walk {
	const char *msg;
	size_t len;
	const struct mime_part *root;
	size_t nparts;
};

static char *child_section(const char *prefix, size_t i)
{
	return *prefix ? xasprintf("%s.%zu", prefix, i) : xasprintf("%zu", i);
}

/* section: the part's own number (NULL: it has none, as the multipart body of an
 * embedded message); prefix: what its children's numbers start with. */
static void walk_part(struct walk *w, const struct mime_part *p, const char *section,
                      const char *prefix)
{
	w->nparts++;
	check(p->depth <= MIME_MAX_DEPTH, "too deep");
	check(p->header_offset + p->header_len == p->body_offset, "header/body not adjacent");
	check(p->body_offset <= w->len && p->body_len <= w->len - p->body_offset,
	      "body outside message");
	check(p->body_lines == count_lf(w->msg + p->body_offset, p->body_len), "line count");
	check(p->type && p->subtype, "no type");
	if (p->parent) {
		const struct mime_part *q = p->parent;
		check(p->header_offset >= q->body_offset, "child before parent body");
		check(p->body_offset + p->body_len <= q->body_offset + q->body_len,
		      "child after parent body");
		check(p->depth == q->depth + 1, "depth");
	}
	if (p->next)
		check(p->next->header_offset >= p->body_offset + p->body_len, "siblings overlap");
	size_t n = 0;
	for (const struct mime_part *c = p->children; c; c = c->next)
		n++;
	check(n == p->nchildren, "nchildren");
	if (section)
		check(mime_part_find(w->root, section) == p, "section lookup");
	check_fields(w->msg + p->header_offset, p->header_len);

	if (p->kind == MIME_PART_LEAF) {
		struct buf text = BUF_INIT;
		check(n == 0, "leaf with children");
		mime_part_text(p, w->msg, &text);
		check(mime_utf8_valid(text.data ? text.data : "", text.len), "text not UTF-8");
		buf_free(&text);
	} else if (p->kind == MIME_PART_MESSAGE) {
		const struct mime_part *m = p->children;
		check(n == 1, "message without one child");
		check(m->header_offset == p->body_offset &&
		              m->body_offset + m->body_len == p->body_offset + p->body_len,
		      "embedded message range");
		check(mime_part_message(p) == m, "mime_part_message");
		check(section != NULL, "message part without a number");
		if (m->kind == MIME_PART_MULTIPART) {
			walk_part(w, m, NULL, section);
		} else {
			char *s = child_section(section, 1);
			walk_part(w, m, s, s);
			free(s);
		}
	} else {
		check(strcmp(p->type, "multipart") == 0, "multipart kind");
		size_t i = 1;
		for (const struct mime_part *c = p->children; c; c = c->next, i++) {
			char *s = child_section(prefix, i);
			walk_part(w, c, s, s);
			free(s);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct mime_part *root = NULL;
	struct buf out = BUF_INIT;

	check(mime_parse(msg, size, &root) == 0 && root, "parse failed");
	check(root->header_offset == 0 && root->body_offset + root->body_len == size, "root range");
	struct walk w = {msg, size, root, 0};
	check(mime_part_find(root, "") == root, "the whole message");
	if (root->kind == MIME_PART_MULTIPART)
		walk_part(&w, root, "", "");
	else
		walk_part(&w, root, "1", "1");
	check(w.nparts <= MIME_MAX_PARTS + 1, "too many parts");

	mime_envelope(msg, size, &out);
	check_imap(&out);
	buf_reset(&out);
	mime_bodystructure(root, msg, true, &out);
	check_imap(&out);
	buf_reset(&out);
	mime_bodystructure(root, msg, false, &out);
	check_imap(&out);

	buf_free(&out);
	mime_part_free(&root);
	check(root == NULL, "free did not clear");
	return 0;
}
