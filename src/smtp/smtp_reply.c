/*
 * smtp_reply — the replies of a remote SMTP server, as a pure push parser.
 *
 * The parser holds at most one line (SMTP_REPLY_MAX_LINE); a line is looked at
 * only once it has ended, and its length is checked before anything searches
 * it. A reply is complete at its last line: the caller handles it, then feeds
 * the rest. See smtp_internal.h for the rules.
 */
#include "smtp/smtp_internal.h"

#include <stdlib.h>
#include <string.h>

enum { REPLY_START, REPLY_CONTINUE };

void smtp_reply_parser_init(struct smtp_reply_parser *p)
{
	memset(p, 0, sizeof *p);
	p->state = REPLY_START;
}

void smtp_reply_parser_free(struct smtp_reply_parser *p)
{
	buf_free(&p->line);
}

void smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof *r);
}

void smtp_reply_free(struct smtp_reply *r)
{
	buf_free(&r->text);
	memset(r, 0, sizeof *r);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "d.ddd.ddd" (class d, subject and detail 1 to 3 digits) at p, followed by the
   end or a space; its length, or 0. */
static size_t enhanced_len(const char *p, size_t len, char class)
{
	if (len < 5 || p[0] != class || p[1] != '.')
		return 0;
	size_t i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;
		while (i < len && is_digit(p[i]) && i - start < 4)
			i++;
		if (i == start || i - start > 3)
			return 0;
		if (part == 0) {
			if (i >= len || p[i] != '.')
				return 0;
			i++;
		}
	}
	return i == len || p[i] == ' ' ? i : 0;
}

static enum smtp_reply_status bad(struct smtp_reply_parser *p, struct buf *why, const char *text)
{
	p->bad = true;
	if (why)
		buf_puts(why, text);
	return SMTP_REPLY_BAD;
}

/* One whole line (its end removed). */
static enum smtp_reply_status take_line(struct smtp_reply_parser *p, const char *l, size_t n,
                                        struct smtp_reply *r, struct buf *why)
{
	if (n < 3 || !is_digit(l[0]) || !is_digit(l[1]) || !is_digit(l[2]))
		return bad(p, why, "reply line without a 3-digit code");
	if (l[0] < '2' || l[0] > '5' || l[1] > '5')
		return bad(p, why, "reply code out of range");
	if (n > 3 && l[3] != ' ' && l[3] != '-')
		return bad(p, why, "reply code not followed by a space or '-'");
	int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	bool last = n == 3 || l[3] == ' ';
	const char *text = n > 4 ? l + 4 : l + n;
	size_t tlen = n > 4 ? n - 4 : 0;

	if (p->state == REPLY_START) {
		buf_reset(&r->text);
		r->code = code;
		r->nlines = 0;
		r->enhanced[0] = '\0';
		size_t e = enhanced_len(text, tlen, l[0]);
		if (e > 0 && e < sizeof r->enhanced) {
			memcpy(r->enhanced, text, e);
			r->enhanced[e] = '\0';
		}
	} else if (code != r->code) {
		return bad(p, why, "reply lines with different codes");
	}
	if (r->nlines == SMTP_REPLY_MAX_LINES)
		return bad(p, why, "reply has too many lines");
	size_t elen = strlen(r->enhanced);
	if (elen && tlen >= elen && memcmp(text, r->enhanced, elen) == 0 &&
	    (tlen == elen || text[elen] == ' ')) {
		text += elen;
		tlen -= elen;
		if (tlen > 0) {
			text++;
			tlen--;
		}
	}
	if (r->text.len + tlen + 1 > SMTP_REPLY_MAX_TEXT)
		return bad(p, why, "reply too long");
	if (r->nlines > 0)
		buf_putc(&r->text, '\n');
	buf_append(&r->text, text, tlen);
	r->nlines++;
	p->state = last ? REPLY_START : REPLY_CONTINUE;
	return last ? SMTP_REPLY_DONE : SMTP_REPLY_MORE;
}

enum smtp_reply_status smtp_reply_feed(struct smtp_reply_parser *p, const char *in, size_t len,
                                       size_t *consumed, struct smtp_reply *r, struct buf *why)
{
	*consumed = 0;
	if (p->bad)
		return bad(p, why, "reply stream already broken");
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(in + i, '\n', len - i);
		size_t piece = nl ? (size_t)(nl - (in + i)) : len - i;
		if (p->line.len + piece > SMTP_REPLY_MAX_LINE + 1) { /* +1: a CR */
			*consumed = i;
			return bad(p, why, "reply line too long");
		}
		buf_append(&p->line, in + i, piece);
		i += piece;
		if (!nl)
			break;
		i++; /* the LF */
		size_t n = p->line.len;
		if (n > 0 && p->line.data[n - 1] == '\r')
			n--;
		if (n > SMTP_REPLY_MAX_LINE) {
			*consumed = i;
			return bad(p, why, "reply line too long");
		}
		enum smtp_reply_status st = take_line(p, p->line.data, n, r, why);
		buf_reset(&p->line);
		if (st != SMTP_REPLY_MORE) {
			*consumed = i;
			return st;
		}
	}
	*consumed = i;
	return SMTP_REPLY_MORE;
}

void smtp_reply_format(const struct smtp_reply *r, struct buf *out)
{
	buf_printf(out, "%03d", r->code);
	if (r->enhanced[0])
		buf_printf(out, " %s", r->enhanced);
	size_t budget = SMTP_REPLY_MAX_FORMAT;
	bool space = true;
	for (size_t i = 0; i < r->text.len && budget > 0; i++) {
		unsigned char c = (unsigned char)r->text.data[i];
		if (c == '\n' || c == ' ' || c == '\t') {
			space = true;
			continue;
		}
		if (space) {
			buf_putc(out, ' ');
			budget--;
			space = false;
			if (budget == 0)
				break;
		}
		buf_putc(out, c >= 0x21 && c < 0x7f ? (char)c : '?');
		budget--;
	}
}

static bool keyword_is(struct str line, const char *kw, struct str *rest)
{
	size_t n = strlen(kw);
	if (line.len < n || !str_has_prefix_nocase(line, kw))
		return false;
	if (line.len > n && line.p[n] != ' ' && line.p[n] != '=')
		return false;
	*rest = line.len > n ? str_trim((struct str){line.p + n + 1, line.len - n - 1})
	                     : (struct str){line.p + n, 0};
	return true;
}

void smtp_reply_ehlo(const struct smtp_reply *r, struct smtp_ehlo *caps)
{
	memset(caps, 0, sizeof *caps);
	const char *p = r->text.data ? r->text.data : "";
	const char *end = p + r->text.len;
	/* The first line is the greeting, the others one keyword each. */
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	p = nl ? nl + 1 : end;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		struct str line =
		        str_trim((struct str){p, nl ? (size_t)(nl - p) : (size_t)(end - p)});
		p = nl ? nl + 1 : end;
		struct str rest;
		if (keyword_is(line, "PIPELINING", &rest))
			caps->pipelining = true;
		else if (keyword_is(line, "STARTTLS", &rest))
			caps->starttls = true;
		else if (keyword_is(line, "8BITMIME", &rest))
			caps->eightbitmime = true;
		else if (keyword_is(line, "SMTPUTF8", &rest))
			caps->smtputf8 = true;
		else if (keyword_is(line, "CHUNKING", &rest))
			caps->chunking = true;
		else if (keyword_is(line, "DSN", &rest))
			caps->dsn = true;
		else if (keyword_is(line, "ENHANCEDSTATUSCODES", &rest))
			caps->enhancedstatuscodes = true;
		else if (keyword_is(line, "AUTH", &rest)) {
			/* "AUTH PLAIN LOGIN", or the pre-standard "AUTH=LOGIN PLAIN" */
			while (rest.len > 0) {
				size_t n = 0;
				while (n < rest.len && rest.p[n] != ' ')
					n++;
				struct str mech = {rest.p, n};
				if (str_eq_nocase(mech, STR_LIT("PLAIN")))
					caps->auth_plain = true;
				else if (str_eq_nocase(mech, STR_LIT("LOGIN")))
					caps->auth_login = true;
				rest = str_trim((struct str){rest.p + n, rest.len - n});
			}
		} else if (keyword_is(line, "SIZE", &rest)) {
			uint64_t v;
			caps->size = true;
			caps->size_max = rest.len && str_to_u64(rest, &v) ? v : 0;
		}
	}
}

void smtp_xtext_encode(const char *in, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x21 && c <= 0x7e && c != '+' && c != '=') {
			buf_putc(out, (char)c);
		} else {
			buf_putc(out, '+');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		}
	}
}
