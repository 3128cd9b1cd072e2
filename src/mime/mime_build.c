/*
 * mime_build — writes an RFC 5322 / MIME message from text, html and parts
 * (the contract is in mime.h, above mime_build_message).
 *
 * Layout of the result:
 *
 *   headers (Date From To Cc Reply-To Subject Message-ID MIME-Version extras)
 *   multipart/mixed                      when there are attachments
 *     multipart/related                  when html has inline parts
 *       multipart/alternative            when there are both text and html
 *         text/plain; charset=utf-8
 *         text/html; charset=utf-8
 *       inline parts (Content-ID)
 *     attachments
 *
 * Each container appears only when it is needed. Every header line is folded
 * at 78 columns where the text allows it, and never passes 998 octets: text
 * that cannot be folded (a very long word) is written as encoded words, which
 * can be.
 */
#include "mime/mime_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FOLD 78            /* preferred line length of headers (RFC 5322 2.1.1) */
#define QP_LINE 76         /* quoted-printable and base64 line length (RFC 2045) */
#define WORD_BYTES 45      /* UTF-8 octets per encoded word: 60 base64 characters */
#define MAX_ATOM 800       /* longest word of plain text in a header */
#define MAX_BLANKS 50      /* longest run of blanks in plain header text */
#define MAX_PLAIN_NAME 200 /* longer display names become encoded words */
#define MAX_PARAM_PIECE 50 /* characters of one RFC 2231 section */
#define MAX_CONTENT_ID 250
#define MAX_CONTENT_TYPE 200
#define MAX_BOUNDARY_SEED 40

/* Fields the builder writes itself, or that belong to the transport: an extra
   header may not repeat them. */
static const char *const reserved_headers[] = {
        "date",
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "message-id",
        "mime-version",
        "return-path",
        "received",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "content-id",
};

struct builder {
	struct buf *out;
	size_t col;  /* octets on the current header line */
	size_t head; /* octets of "Name:", before which nothing folds */
	struct buf *field;
	struct buf *err;
	const char *seed;
};

static int fail(struct builder *b, const char *reason, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int fail(struct builder *b, const char *reason, const char *fmt, ...)
{
	va_list ap;
	buf_reset(b->field);
	va_start(ap, fmt);
	buf_vprintf(b->field, fmt, ap);
	va_end(ap);
	buf_reset(b->err);
	buf_puts(b->err, reason);
	return -1;
}

/* ---- checks ------------------------------------------------------------------------- */

/* Text for a header: valid UTF-8 with no control character (CR and LF above all);
   a tab is allowed where allow_tab. Returns the reason, or NULL when fine. */
static const char *header_text_problem(const char *s, bool allow_tab)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n')
			return "contains CR or LF";
		if ((c < 0x20 && !(c == '\t' && allow_tab)) || c == 0x7f)
			return "contains a control character";
	}
	if (!mime_utf8_valid(s, len))
		return "is not valid UTF-8";
	return NULL;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static bool is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

static const char *address_problem(const char *a)
{
	const char *p = header_text_problem(a, false);
	if (p)
		return p;
	size_t len = strlen(a);
	if (len == 0)
		return "is empty";
	if (len > MIME_BUILD_MAX_ADDRESS)
		return "is longer than 254 octets";
	const char *at = strrchr(a, '@');
	if (!at || at == a || at[1] == '\0')
		return "is not an address (local@domain)";
	for (const char *q = a; *q; q++)
		if (strchr(" \t<>()[],;:\"\\", *q))
			return "is not an address (local@domain)";
	return NULL;
}

/* ---- header output ---------------------------------------------------------------- */

static void hdr_start(struct builder *b, const char *name)
{
	buf_puts(b->out, name);
	buf_putc(b->out, ':');
	b->col = b->head = strlen(name) + 1;
}

static void hdr_end(struct builder *b)
{
	buf_puts(b->out, "\r\n");
	b->col = 0;
}

/* Appends a word preceded by one space, folding before it when the line would
   pass FOLD (never before the first word: a value starting with a fold would
   start with a blank). */
static void hdr_word(struct builder *b, const char *w, size_t len)
{
	if (b->col + 1 + len > FOLD && b->col > b->head) {
		buf_puts(b->out, "\r\n");
		b->col = 0;
	}
	buf_putc(b->out, ' ');
	buf_append(b->out, w, len);
	b->col += 1 + len;
}

/* The length of the UTF-8 character starting at s (at least 1). */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	size_t n = *s < 0x80 ? 1 : *s >= 0xf0 ? 4 : *s >= 0xe0 ? 3 : *s >= 0xc0 ? 2 : 1;
	return n > left ? left : n;
}

/* text as RFC 2047 'B' encoded words of at most 75 characters, whole UTF-8
   characters in each, folded between words. */
static void hdr_encoded_words(struct builder *b, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t len = strlen(text), i = 0;
	struct buf w = BUF_INIT;
	while (i < len) {
		size_t n = 0;
		while (i + n < len) {
			size_t c = utf8_len(p + i + n, len - i - n);
			if (n + c > WORD_BYTES)
				break;
			n += c;
		}
		buf_reset(&w);
		buf_puts(&w, "=?UTF-8?B?");
		base64_encode(&w, p + i, n);
		buf_puts(&w, "?=");
		hdr_word(b, w.data, w.len);
		i += n;
	}
	buf_free(&w);
}

/*
 * An unstructured value (Subject, extra headers). Printable ASCII that can be
 * folded is written as it is, folded before existing whitespace so that
 * unfolding gives back the exact text; anything else is encoded words. "=?" is
 * encoded too, so that no plain text is mistaken for an encoded word.
 */
static void hdr_unstructured(struct builder *b, const char *value)
{
	bool plain = is_ascii(value) && !strstr(value, "=?");
	size_t word = 0, blanks = 0;
	for (const char *q = value; plain && *q; q++) {
		bool blank = *q == ' ' || *q == '\t';
		word = blank ? 0 : word + 1;
		blanks = blank ? blanks + 1 : 0;
		if (word > MAX_ATOM || blanks > MAX_BLANKS)
			plain = false;
	}
	if (!plain) {
		hdr_encoded_words(b, value);
		return;
	}
	if (*value == '\0') {
		buf_putc(b->out, ' ');
		b->col++;
		return;
	}
	/* Tokens: a whitespace run (kept) and the word after it. The first token
	   follows "Name: "; the value's own leading whitespace stays in it. */
	const char *p = value;
	bool first = true;
	while (*p) {
		const char *start = p;
		while (*p == ' ' || *p == '\t')
			p++;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		size_t len = (size_t)(p - start);
		if (first) {
			buf_putc(b->out, ' ');
			b->col++;
			first = false;
		} else if (b->col + len > FOLD) {
			/* fold before the whitespace, which starts the next line */
			buf_puts(b->out, "\r\n");
			b->col = 0;
		}
		buf_append(b->out, start, len);
		b->col += len;
	}
}

/* A display name: atoms, a quoted string, or encoded words. */
static void hdr_phrase(struct builder *b, const char *name)
{
	size_t len = strlen(name);
	bool ascii = is_ascii(name) && len <= MAX_PLAIN_NAME && !strstr(name, "=?");
	if (!ascii) {
		hdr_encoded_words(b, name);
		return;
	}
	bool atoms = name[0] != ' ' && name[len - 1] != ' ' && !strstr(name, "  ");
	for (size_t i = 0; atoms && i < len; i++)
		atoms = name[i] == ' ' || is_atext((unsigned char)name[i]);
	struct buf w = BUF_INIT;
	if (atoms) {
		/* one word per atom, so that long names fold */
		const char *p = name;
		while (*p) {
			const char *sp = strchr(p, ' ');
			size_t n = sp ? (size_t)(sp - p) : strlen(p);
			hdr_word(b, p, n);
			p += n;
			while (*p == ' ')
				p++;
		}
	} else {
		buf_putc(&w, '"');
		for (size_t i = 0; i < len; i++) {
			if (name[i] == '"' || name[i] == '\\')
				buf_putc(&w, '\\');
			buf_putc(&w, name[i]);
		}
		buf_putc(&w, '"');
		hdr_word(b, w.data, w.len);
	}
	buf_free(&w);
}

static int hdr_addresses(struct builder *b, const char *header, const char *field,
                         const struct mime_build_address *list, size_t n, bool numbered)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = address_problem(list[i].address ? list[i].address : "");
		if (!p && list[i].name)
			p = header_text_problem(list[i].name, false);
		if (p)
			return numbered ? fail(b, p, "%s[%zu]", field, i) : fail(b, p, "%s", field);
	}
	if (n == 0)
		return 0;
	hdr_start(b, header);
	struct buf w = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		bool last = i + 1 == n;
		buf_reset(&w);
		if (list[i].name && list[i].name[0]) {
			hdr_phrase(b, list[i].name);
			buf_printf(&w, "<%s>%s", list[i].address, last ? "" : ",");
		} else {
			buf_printf(&w, "%s%s", list[i].address, last ? "" : ",");
		}
		hdr_word(b, w.data, w.len);
	}
	buf_free(&w);
	hdr_end(b);
	return 0;
}

void mime_build_date(int64_t t, struct buf *out)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm)) {
		tt = 0;
		gmtime_r(&tt, &tm);
	}
	buf_printf(out, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
	           months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- bodies ------------------------------------------------------------------------- */

/* text with every line end (CRLF, LF, lone CR) made CRLF, a line at a time. */
static void crlf_normalize(const char *text, struct buf *out)
{
	const char *p = text;
	buf_reserve(out, strlen(text) + 64);
	for (;;) {
		size_t n = strcspn(p, "\r\n");
		buf_append(out, p, n);
		p += n;
		if (!*p)
			return;
		buf_append(out, "\r\n", 2);
		p += p[0] == '\r' && p[1] == '\n' ? 2 : 1;
	}
}

enum cte { CTE_7BIT, CTE_QP, CTE_BASE64 };

static const char *cte_name(enum cte e)
{
	return e == CTE_7BIT ? "7bit" : e == CTE_QP ? "quoted-printable" : "base64";
}

/* The encoding of a CRLF text: 7bit when it is short-lined printable ASCII
   that cannot hold a boundary, else the shorter of quoted-printable and base64. */
static enum cte text_encoding(const struct buf *t)
{
	size_t escapes = 0, line = 0, longest = 0;
	bool ascii = true;
	for (size_t i = 0; i < t->len; i++) {
		unsigned char c = (unsigned char)t->data[i];
		if (c == '\r' && i + 1 < t->len && t->data[i + 1] == '\n') {
			longest = line > longest ? line : longest;
			line = 0;
			i++;
			continue;
		}
		line++;
		if (c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7f)
			ascii = false;
		if (c >= 0x7f || (c < 0x20 && c != '\t') || c == '=')
			escapes++;
	}
	longest = line > longest ? line : longest;
	if (ascii && longest <= MIME_BUILD_MAX_LINE &&
	    !(t->len && memmem(t->data, t->len, "=_", 2)))
		return CTE_7BIT;
	size_t qp = t->len + 2 * escapes + (t->len / (QP_LINE - 1)) * 3;
	size_t b64 = (t->len + 2) / 3 * 4 + (t->len / 57 + 1) * 2;
	return qp <= b64 ? CTE_QP : CTE_BASE64;
}

/* Quoted-printable. Output is written into room reserved ahead (at most 3
   octets per input octet and a soft break per 25 of them), a line at a time. */
static void encode_qp(const char *p, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	buf_reserve(out, len * 3 + (len / 16 + 2) * 3);
	char *o = out->data + out->len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\r' && i + 1 < len && p[i + 1] == '\n') {
			*o++ = '\r';
			*o++ = '\n';
			col = 0;
			i++;
			continue;
		}
		bool at_eol = i + 1 == len || (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n');
		bool esc = c == '=' || c >= 0x7f || (c < 0x20 && c != '\t') ||
		           ((c == ' ' || c == '\t') && at_eol);
		size_t w = esc ? 3 : 1;
		if (col + w > QP_LINE - 1) {
			memcpy(o, "=\r\n", 3);
			o += 3;
			col = 0;
		}
		if (esc) {
			*o++ = '=';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		} else {
			*o++ = (char)c;
		}
		col += w;
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	/* A text without a final line end ends with a soft break: the message
	   then ends in CRLF without adding a line to the text. */
	if (col > 0)
		buf_puts(out, "=\r\n");
}

static void encode_base64_lines(const void *data, size_t len, struct buf *out)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i += 57) {
		if (i > 0)
			buf_puts(out, "\r\n");
		base64_encode(out, p + i, len - i < 57 ? len - i : 57);
	}
}

static void text_part(struct builder *b, const char *subtype, const char *text)
{
	struct buf t = BUF_INIT;
	crlf_normalize(text, &t);
	enum cte e = text_encoding(&t);
	buf_printf(b->out,
	           "Content-Type: text/%s; charset=utf-8\r\n"
	           "Content-Transfer-Encoding: %s\r\n\r\n",
	           subtype, cte_name(e));
	if (e == CTE_7BIT)
		buf_append(b->out, t.data ? t.data : "", t.len);
	else if (e == CTE_QP)
		encode_qp(t.data ? t.data : "", t.len, b->out);
	else
		encode_base64_lines(t.data, t.len, b->out);
	buf_free(&t);
}

/* ---- attachments -------------------------------------------------------------------- */

static bool attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$&+-.^_`|~", c));
}

/* "; name=value" for a file name: a quoted string when it is short printable
   ASCII, else RFC 2231 (utf-8, percent-encoded, in sections when long), each
   parameter on a line of its own. */
static void file_param(struct buf *out, const char *attr, const char *value)
{
	size_t len = strlen(value);
	bool plain = is_ascii(value) && len <= MAX_PARAM_PIECE;
	if (plain) {
		buf_printf(out, ";\r\n %s=\"", attr);
		for (size_t i = 0; i < len; i++) {
			if (value[i] == '"' || value[i] == '\\')
				buf_putc(out, '\\');
			buf_putc(out, value[i]);
		}
		buf_putc(out, '"');
		return;
	}
	struct buf enc = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		if (attr_char(c))
			buf_putc(&enc, (char)c);
		else
			buf_printf(&enc, "%%%02X", c);
	}
	/* Sections of at most MAX_PARAM_PIECE characters, never inside a %XX. */
	size_t start = 0, section = 0;
	bool one = enc.len <= MAX_PARAM_PIECE;
	while (start < enc.len) {
		size_t end = start + MAX_PARAM_PIECE;
		if (end >= enc.len) {
			end = enc.len;
		} else {
			if (enc.data[end - 1] == '%')
				end -= 1;
			else if (enc.data[end - 2] == '%')
				end -= 2;
		}
		if (one)
			buf_printf(out, ";\r\n %s*=utf-8''", attr);
		else if (section == 0)
			buf_printf(out, ";\r\n %s*0*=utf-8''", attr);
		else
			buf_printf(out, ";\r\n %s*%zu*=", attr, section);
		buf_append(out, enc.data + start, end - start);
		start = end;
		section++;
	}
	buf_free(&enc);
}

/* "type/subtype[; params]" with RFC 2045 tokens and printable ASCII parameters;
   multipart and message types are refused (their bodies cannot be base64). */
static const char *content_type_problem(const char *ct)
{
	const char *p = header_text_problem(ct, false);
	if (p)
		return p;
	if (strlen(ct) > MAX_CONTENT_TYPE)
		return "is longer than 200 characters";
	const char *s = ct;
	size_t n = 0;
	while (is_token_char((unsigned char)s[n]))
		n++;
	if (n == 0 || s[n] != '/')
		return "is not a media type (type/subtype)";
	if ((n == 9 && strncasecmp(s, "multipart", 9) == 0) ||
	    (n == 7 && strncasecmp(s, "message", 7) == 0))
		return "cannot be a multipart or message type";
	s += n + 1;
	n = 0;
	while (is_token_char((unsigned char)s[n]))
		n++;
	if (n == 0)
		return "is not a media type (type/subtype)";
	s += n;
	while (*s == ' ')
		s++;
	if (*s && *s != ';')
		return "is not a media type (type/subtype)";
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return "has a non-ASCII parameter";
	return NULL;
}

static const char *content_id_problem(const char *cid)
{
	size_t len = strlen(cid);
	if (len == 0 || len > MAX_CONTENT_ID)
		return "must be 1 to 250 characters";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)cid[i];
		if (c == '\r' || c == '\n')
			return "contains CR or LF";
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\' ||
		    c == '(' || c == ')' || c == ',' || c == ';' || c == ':' || c == '[' ||
		    c == ']')
			return "may hold only printable ASCII without spaces, brackets or quotes";
	}
	return NULL;
}

static int part_check(struct builder *b, const struct mime_build_part *pt, size_t i)
{
	const char *p;
	if (pt->filename && (p = header_text_problem(pt->filename, false)))
		return fail(b, p, "attachments[%zu].filename", i);
	if (pt->content_type && (p = content_type_problem(pt->content_type)))
		return fail(b, p, "attachments[%zu].content_type", i);
	if (pt->content_id && (p = content_id_problem(pt->content_id)))
		return fail(b, p, "attachments[%zu].content_id", i);
	return 0;
}

static void attachment(struct builder *b, const struct mime_build_part *pt, bool inline_part)
{
	const char *ct = pt->content_type ? pt->content_type : "application/octet-stream";
	/* the media type as given, its parameters on lines of their own */
	buf_puts(b->out, "Content-Type: ");
	for (const char *s = ct; *s; s++) {
		if (*s == ';') {
			buf_puts(b->out, ";\r\n");
			while (s[1] == ' ')
				s++;
			buf_putc(b->out, ' ');
		} else {
			buf_putc(b->out, *s);
		}
	}
	if (pt->filename && pt->filename[0])
		file_param(b->out, "name", pt->filename);
	buf_puts(b->out, "\r\n");
	buf_printf(b->out, "Content-Disposition: %s", inline_part ? "inline" : "attachment");
	if (pt->filename && pt->filename[0])
		file_param(b->out, "filename", pt->filename);
	buf_puts(b->out, "\r\n");
	if (pt->content_id)
		buf_printf(b->out, "Content-ID: <%s>\r\n", pt->content_id);
	buf_puts(b->out, "Content-Transfer-Encoding: base64\r\n\r\n");
	encode_base64_lines(pt->data, pt->len, b->out);
}

/* ---- structure ---------------------------------------------------------------------- */

enum node_kind { NODE_TEXT, NODE_HTML, NODE_PART, NODE_ALTERNATIVE, NODE_RELATED, NODE_MIXED };

struct node {
	enum node_kind kind;
	const struct mime_build_part *part; /* NODE_PART */
	bool inline_part;
	struct node *children;
	size_t nchildren;
};

static void node_add(struct node *parent, struct node child)
{
	parent->children = xrealloc(parent->children, (parent->nchildren + 1) * sizeof child);
	parent->children[parent->nchildren++] = child;
}

static void node_free(struct node *n)
{
	for (size_t i = 0; i < n->nchildren; i++)
		node_free(&n->children[i]);
	free(n->children);
}

/* One child stands for its container; an empty container is an empty text. */
static struct node node_simplify(struct node n)
{
	if (n.kind >= NODE_ALTERNATIVE && n.nchildren == 1) {
		struct node only = n.children[0];
		free(n.children);
		return only;
	}
	if (n.kind >= NODE_ALTERNATIVE && n.nchildren == 0) {
		free(n.children);
		return (struct node){.kind = NODE_TEXT};
	}
	return n;
}

static void write_node(struct builder *b, const struct mime_build *m, const struct node *n)
{
	static const char *const subtypes[] = {
	        [NODE_ALTERNATIVE] = "alternative",
	        [NODE_RELATED] = "related",
	        [NODE_MIXED] = "mixed",
	};
	static const char suffix[] = {
	        [NODE_ALTERNATIVE] = 'a', [NODE_RELATED] = 'r', [NODE_MIXED] = 'm'};
	switch (n->kind) {
	case NODE_TEXT:
		text_part(b, "plain", m->text ? m->text : "");
		return;
	case NODE_HTML:
		text_part(b, "html", m->html);
		return;
	case NODE_PART:
		attachment(b, n->part, n->inline_part);
		return;
	default:
		break;
	}
	char boundary[MAX_BOUNDARY_SEED + 8];
	snprintf(boundary, sizeof boundary, "=_%s_%c", b->seed, suffix[n->kind]);
	buf_printf(b->out, "Content-Type: multipart/%s;", subtypes[n->kind]);
	if (n->kind == NODE_RELATED)
		buf_printf(b->out, " type=\"%s\";",
		           n->children[0].kind == NODE_ALTERNATIVE ? "multipart/alternative"
		                                                   : "text/html");
	buf_printf(b->out, "\r\n boundary=\"%s\"\r\n\r\n", boundary);
	for (size_t i = 0; i < n->nchildren; i++) {
		buf_printf(b->out, "%s--%s\r\n", i ? "\r\n" : "", boundary);
		write_node(b, m, &n->children[i]);
	}
	buf_printf(b->out, "\r\n--%s--", boundary);
}

static struct node make_tree(const struct mime_build *m)
{
	struct node alt = {.kind = NODE_ALTERNATIVE};
	if (m->text)
		node_add(&alt, (struct node){.kind = NODE_TEXT});
	if (m->html)
		node_add(&alt, (struct node){.kind = NODE_HTML});
	bool any_body = m->text || m->html;
	struct node body = node_simplify(alt);
	struct node related = {.kind = NODE_RELATED};
	struct node mixed = {.kind = NODE_MIXED};
	if (m->html) {
		node_add(&related, body);
		for (size_t i = 0; i < m->nparts; i++)
			if (m->parts[i].content_id)
				node_add(&related, (struct node){.kind = NODE_PART,
				                                 .part = &m->parts[i],
				                                 .inline_part = true});
		body = node_simplify(related);
	}
	if (any_body)
		node_add(&mixed, body);
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_build_part *pt = &m->parts[i];
		if (m->html && pt->content_id)
			continue; /* in the related part */
		node_add(&mixed, (struct node){.kind = NODE_PART,
		                               .part = pt,
		                               .inline_part = pt->content_id != NULL});
	}
	if (!any_body && mixed.nchildren == 0)
		node_add(&mixed, (struct node){.kind = NODE_TEXT});
	return node_simplify(mixed);
}

/* ---- the message -------------------------------------------------------------------- */

static bool reserved(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(reserved_headers); i++)
		if (strcasecmp(name, reserved_headers[i]) == 0)
			return true;
	return false;
}

static int extra_header_check(struct builder *b, const struct mime_build_header *h)
{
	size_t len = strlen(h->name);
	if (len == 0 || len > MIME_BUILD_MAX_NAME)
		return fail(b, "header names are 1 to 76 characters", "headers.%.76s", h->name);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h->name[i];
		if (c == '\r' || c == '\n')
			return fail(b, "header name contains CR or LF", "headers");
		if (c <= 0x20 || c >= 0x7f || c == ':')
			return fail(b, "not a valid header name", "headers.%s", h->name);
	}
	if (reserved(h->name))
		return fail(b, "is set by the server or by its own field", "headers.%s", h->name);
	const char *p = header_text_problem(h->value ? h->value : "", true);
	if (p)
		return fail(b, p, "headers.%s", h->name);
	return 0;
}

static int message_id_check(struct builder *b, const char *id)
{
	size_t len = id ? strlen(id) : 0;
	if (len < 5 || id[0] != '<' || id[len - 1] != '>' || !memchr(id, '@', len) ||
	    len > MIME_BUILD_MAX_LINE - 20)
		return fail(b, "is not a message id (<id@domain>)", "message_id");
	for (size_t i = 1; i + 1 < len; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
			return fail(b, "is not a message id (<id@domain>)", "message_id");
	}
	return 0;
}

static int seed_check(struct builder *b, const char *seed)
{
	size_t len = seed ? strlen(seed) : 0;
	if (len == 0 || len > MAX_BOUNDARY_SEED)
		return fail(b, "must be 1 to 40 letters and digits", "boundary");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)seed[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return fail(b, "must be 1 to 40 letters and digits", "boundary");
	}
	return 0;
}

static int check_all(struct builder *b, const struct mime_build *m)
{
	const char *p;
	if (seed_check(b, m->boundary) < 0 || message_id_check(b, m->message_id) < 0)
		return -1;
	if (m->subject && (p = header_text_problem(m->subject, true)))
		return fail(b, p, "subject");
	if (m->text && !mime_utf8_valid(m->text, strlen(m->text)))
		return fail(b, "is not valid UTF-8", "text");
	if (m->html && !mime_utf8_valid(m->html, strlen(m->html)))
		return fail(b, "is not valid UTF-8", "html");
	for (size_t i = 0; i < m->nheaders; i++)
		if (extra_header_check(b, &m->headers[i]) < 0)
			return -1;
	for (size_t i = 0; i < m->nparts; i++)
		if (part_check(b, &m->parts[i], i) < 0)
			return -1;
	return 0;
}

/* Room for the whole message, so that it is written without regrowing: the
   texts as they are or quoted-printable (base64 is shorter), attachments in
   base64 lines, and headers and boundaries besides. */
static size_t size_estimate(const struct mime_build *m)
{
	size_t n = 4096 + m->nheaders * 100 + (m->nto + m->ncc + m->nreply_to) * 100;
	if (m->text)
		n += strlen(m->text) / 3 * 4 + 100;
	if (m->html)
		n += strlen(m->html) / 3 * 4 + 100;
	for (size_t i = 0; i < m->nparts; i++)
		n += m->parts[i].len / 57 * 78 + 400;
	return n;
}

int mime_build_message(const struct mime_build *m, struct buf *out, struct buf *field_r,
                       struct buf *err)
{
	/* The message is written after what out holds, and cut off again on
	   failure. */
	size_t start = out->len;
	struct builder b = {.out = out, .field = field_r, .err = err, .seed = m->boundary};
	if (check_all(&b, m) < 0)
		return -1;
	buf_reserve(out, size_estimate(m));
	hdr_start(&b, "Date");
	buf_putc(out, ' ');
	mime_build_date(m->date, out);
	hdr_end(&b);
	if (hdr_addresses(&b, "From", "from", &m->from, 1, false) < 0 ||
	    hdr_addresses(&b, "To", "to", m->to, m->nto, true) < 0 ||
	    hdr_addresses(&b, "Cc", "cc", m->cc, m->ncc, true) < 0 ||
	    hdr_addresses(&b, "Reply-To", "reply_to", m->reply_to, m->nreply_to, true) < 0) {
		buf_truncate(out, start);
		return -1;
	}
	if (m->subject) {
		hdr_start(&b, "Subject");
		hdr_unstructured(&b, m->subject);
		hdr_end(&b);
	}
	buf_printf(out, "Message-ID: %s\r\nMIME-Version: 1.0\r\n", m->message_id);
	for (size_t i = 0; i < m->nheaders; i++) {
		hdr_start(&b, m->headers[i].name);
		hdr_unstructured(&b, m->headers[i].value ? m->headers[i].value : "");
		hdr_end(&b);
	}
	struct node root = make_tree(m);
	write_node(&b, m, &root);
	node_free(&root);
	if (out->len - start < 2 || memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
		buf_puts(out, "\r\n");
	return 0;
}
