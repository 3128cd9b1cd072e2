/*
 * mime_bodystructure — IMAP BODY and BODYSTRUCTURE (RFC 9051 section 7.5.2)
 * from a parsed tree, and the IMAP string forms they and ENVELOPE use.
 *
 *   body-type-1part = (basic / msg / text) [SP md5 [SP dsp [SP lang [SP loc]]]]
 *   body-type-mpart = 1*body SP subtype [SP params [SP dsp [SP lang [SP loc]]]]
 *
 * BODYSTRUCTURE always sends every extension field (NIL when absent); BODY
 * sends none. A multipart without parts is shown with one empty text/plain part,
 * since the grammar needs at least one.
 */
#include "mime/mime_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- IMAP strings ----------------------------------------------------------------- */

static bool quotable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0 || c >= 0x80 || c == '\r' || c == '\n')
			return false;
	}
	return true;
}

void mime_imap_string(struct buf *out, const char *s, size_t len)
{
	if (quotable(s, len)) {
		buf_reserve(out, len + 2);
		buf_putc(out, '"');
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '"' || s[i] == '\\')
				buf_putc(out, '\\');
			buf_putc(out, s[i]);
		}
		buf_putc(out, '"');
		return;
	}
	size_t nuls = 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0')
			nuls++;
	buf_printf(out, "{%zu}\r\n", len + nuls * 2);
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0') {
			buf_append(out, s + start, i - start);
			buf_append(out, "\xEF\xBF\xBD", 3);
			start = i + 1;
		}
	}
	buf_append(out, s + start, len - start);
}

void mime_imap_nstring(struct buf *out, const char *s)
{
	if (s == NULL)
		buf_puts(out, "NIL");
	else
		mime_imap_string(out, s, strlen(s));
}

void mime_imap_nstring_nolf(struct buf *out, const char *s, size_t len, bool nil)
{
	if (nil) {
		buf_puts(out, "NIL");
		return;
	}
	if (memchr(s, '\r', len) == NULL && memchr(s, '\n', len) == NULL) {
		mime_imap_string(out, s, len);
		return;
	}
	struct buf t = BUF_INIT;
	buf_reserve(&t, len);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c != '\r' && c != '\n') {
			buf_putc(&t, c);
			continue;
		}
		char next = i + 1 < len ? s[i + 1] : '\0';
		if (i + 1 < len && !mime_is_wsp(next))
			buf_putc(&t, ' ');
	}
	mime_imap_string(out, t.data, t.len);
	buf_free(&t);
}

void mime_imap_string_for_humans(struct buf *out, const char *s, size_t len)
{
	struct buf t = BUF_INIT;
	bool space = false;
	buf_reserve(&t, len);
	for (size_t i = 0; i < len; i++) {
		if (mime_is_wsp(s[i])) {
			space = true;
			continue;
		}
		if (space && t.len > 0)
			buf_putc(&t, ' ');
		space = false;
		buf_putc(&t, s[i]);
	}
	mime_imap_string(out, t.data, t.len);
	buf_free(&t);
}

/* ---- BODYSTRUCTURE ------------------------------------------------------------------ */

static void put_upper(struct buf *out, const char *s)
{
	char *u = xstrdup(s);
	for (char *p = u; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	mime_imap_string(out, u, strlen(u));
	free(u);
}

static void put_nolf(struct buf *out, const char *s)
{
	mime_imap_nstring_nolf(out, s ? s : "", s ? strlen(s) : 0, s == NULL);
}

/*
 * An RFC 2231 "name*" value is held as UTF-8; it is sent in RFC 2231 form again,
 * utf-8''%XX..., so it stays 7-bit for IMAP4rev1 clients, which decode such
 * values themselves (as Dovecot sends them), while continuations and the
 * original charset are already resolved as RFC 9051 asks.
 */
static void put_ext_value(struct buf *out, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf t = BUF_INIT;
	buf_puts(&t, "utf-8''");
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p > 32 && *p < 127 && !strchr("*'%()<>@,;:\\\"/[]?=", *p)) {
			buf_putc(&t, (char)*p);
		} else {
			buf_putc(&t, '%');
			buf_putc(&t, hex[*p >> 4]);
			buf_putc(&t, hex[*p & 15]);
		}
	}
	mime_imap_string(out, t.data, t.len);
	buf_free(&t);
}

static void put_params(struct buf *out, const struct mime_param *ps, size_t n, bool text)
{
	bool charset = false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(ps[i].name, "charset") == 0)
			charset = true;
	bool add_charset = text && !charset;
	if (n == 0 && !add_charset) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(out, ' ');
		size_t nl = strlen(ps[i].name);
		put_upper(out, ps[i].name);
		buf_putc(out, ' ');
		if (nl > 1 && ps[i].name[nl - 1] == '*')
			put_ext_value(out, ps[i].value);
		else
			mime_imap_string(out, ps[i].value, strlen(ps[i].value));
	}
	if (add_charset)
		buf_puts(out, n > 0 ? " \"CHARSET\" \"US-ASCII\"" : "\"CHARSET\" \"US-ASCII\"");
	buf_putc(out, ')');
}

/* SP dsp SP lang SP loc: the tail both kinds of extension data share. */
static void put_ext_common(struct buf *out, const struct mime_part *p)
{
	buf_putc(out, ' ');
	if (p->disposition == NULL) {
		buf_puts(out, "NIL");
	} else {
		buf_putc(out, '(');
		put_upper(out, p->disposition);
		buf_putc(out, ' ');
		put_params(out, p->disp_params, p->ndisp_params, false);
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	if (p->nlanguages == 0) {
		buf_puts(out, "NIL");
	} else {
		buf_putc(out, '(');
		for (size_t i = 0; i < p->nlanguages; i++) {
			if (i > 0)
				buf_putc(out, ' ');
			mime_imap_string(out, p->languages[i], strlen(p->languages[i]));
		}
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	put_nolf(out, p->location);
}

static void put_part(struct buf *out, const struct mime_part *p, const char *msg, bool ext)
{
	buf_putc(out, '(');
	if (p->kind == MIME_PART_MULTIPART) {
		if (p->children == NULL) {
			buf_puts(out,
			         ext ? "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
			               "\"7BIT\" 0 0 NIL NIL NIL NIL)"
			             : "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
			               "\"7BIT\" 0 0)");
		}
		for (const struct mime_part *c = p->children; c; c = c->next)
			put_part(out, c, msg, ext);
		buf_putc(out, ' ');
		put_upper(out, p->subtype);
		if (ext) {
			buf_putc(out, ' ');
			put_params(out, p->params, p->nparams, false);
			put_ext_common(out, p);
		}
		buf_putc(out, ')');
		return;
	}
	bool text = strcmp(p->type, "text") == 0;
	put_upper(out, p->type);
	buf_putc(out, ' ');
	put_upper(out, p->subtype);
	buf_putc(out, ' ');
	put_params(out, p->params, p->nparams, text);
	buf_putc(out, ' ');
	put_nolf(out, p->id);
	buf_putc(out, ' ');
	put_nolf(out, p->description);
	buf_putc(out, ' ');
	if (p->encoding)
		put_upper(out, p->encoding);
	else
		buf_puts(out, "\"7BIT\"");
	buf_printf(out, " %zu", p->body_len);
	if (p->kind == MIME_PART_MESSAGE) {
		const struct mime_part *m = p->children;
		buf_putc(out, ' ');
		mime_envelope(msg + m->header_offset, m->header_len, out);
		buf_putc(out, ' ');
		put_part(out, m, msg, ext);
		buf_printf(out, " %zu", p->body_lines);
	} else if (text) {
		buf_printf(out, " %zu", p->body_lines);
	}
	if (ext) {
		buf_putc(out, ' ');
		put_nolf(out, p->md5);
		put_ext_common(out, p);
	}
	buf_putc(out, ')');
}

void mime_bodystructure(const struct mime_part *root, const char *msg, bool extended,
                        struct buf *out)
{
	put_part(out, root, msg, extended);
}
