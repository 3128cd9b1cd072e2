/*
 * imap_parse_url — IMAP URLs (RFC 5092) that name a message or a part of one,
 * with the URLAUTH parts of RFC 4467, for GENURLAUTH, URLFETCH and CATENATE.
 *
 * Two forms are read:
 *   imap://[user[;AUTH=...]@]host[:port]/mailbox[;UIDVALIDITY=n]/;UID=n
 *       [/;SECTION=s][/;PARTIAL=o[.l]][[;EXPIRE=t];URLAUTH=access[:mech:token]]
 *   /mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]
 *       (relative to the current server and user: CATENATE)
 * Keywords are case-insensitive. Everything is a pure function of the bytes.
 *
 * Strictness, on purpose: raw bytes outside RFC 5092's bchar set are refused
 * (spaces, controls, 8-bit, '"', '%' not followed by two hex digits); a
 * mailbox must decode to valid UTF-8 without controls, and may not hold an
 * encoded '/' ("%2F": it would name a different hierarchy than it shows),
 * an empty level or a "." / ".." level. The one leniency is '@' in a
 * URLAUTH userid ("user+fred@example.com"), which clients send unencoded.
 */
#include "imap/imap_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_USER 256 /* bytes of a decoded userid */
#define MAX_HOST 255
#define MAX_SECTION 1024 /* bytes of a decoded section */
#define MAX_MECH 64

static int fail(struct buf *why, const char *reason)
{
	buf_reset(why);
	buf_puts(why, reason);
	return -1;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* achar without pct-encoded: unreserved, sub-delims-sh, "&", "=", "~". */
static bool is_achar(char c)
{
	return is_alpha(c) || is_digit(c) || strchr("-._~!$'()*+,&=", c) != NULL;
}

/* bchar: achar, ":", "@", "/". */
static bool is_bchar(char c)
{
	return is_achar(c) || c == ':' || c == '@' || c == '/';
}

/* Percent-decodes text into out, checking that every raw byte satisfies ok.
   -1 on a malformed escape or a byte ok refuses. */
static int pct_decode(struct str text, bool (*ok)(char), struct buf *out)
{
	for (size_t i = 0; i < text.len; i++) {
		char c = text.p[i];
		if (c == '%') {
			if (text.len - i < 3)
				return -1;
			int a = hex_value(text.p[i + 1]), b = hex_value(text.p[i + 2]);
			if (a < 0 || b < 0)
				return -1;
			buf_putc(out, (char)(a * 16 + b));
			i += 2;
		} else if (ok(c)) {
			buf_putc(out, c);
		} else {
			return -1;
		}
	}
	return 0;
}

static bool has_control(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return true;
	return false;
}

/* Compares the keyword kw (upper-case, e.g. ";UID=") at t[*pos]; advances past it. */
static bool take(struct str t, size_t *pos, const char *kw)
{
	size_t n = strlen(kw);
	if (t.len - *pos < n || !str_eq_cstr_nocase((struct str){t.p + *pos, n}, kw))
		return false;
	*pos += n;
	return true;
}

/* A run of bytes up to the next ';' (or the end). */
static struct str run_to_semicolon(struct str t, size_t pos)
{
	size_t end = pos;
	while (end < t.len && t.p[end] != ';')
		end++;
	return (struct str){t.p + pos, end - pos};
}

/* nz-number of at most 10 digits, no leading zero, below 2^32. */
static bool take_nz32(struct str t, size_t *pos, uint32_t *n_r)
{
	size_t end = *pos;
	while (end < t.len && is_digit(t.p[end]))
		end++;
	if (!imap_parse_nz_number((struct str){t.p + *pos, end - *pos}, n_r))
		return false;
	*pos = end;
	return true;
}

/* ---- sections ------------------------------------------------------------------- */

static void upper(char *p)
{
	for (; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
}

/* "(" header-fld-name *(SP header-fld-name) ")": atoms or quoted strings. */
static int parse_fields(struct str s, struct imap_fetch_att *att)
{
	if (s.len < 3 || s.p[0] != '(' || s.p[s.len - 1] != ')')
		return -1;
	size_t i = 1, end = s.len - 1;
	while (i < end) {
		struct buf name = BUF_INIT;
		if (s.p[i] == '"') {
			i++;
			while (i < end && s.p[i] != '"') {
				if (s.p[i] == '\\' && i + 1 < end)
					i++;
				buf_putc(&name, s.p[i++]);
			}
			if (i >= end) {
				buf_free(&name);
				return -1;
			}
			i++;
		} else {
			while (i < end && s.p[i] != ' ') {
				char c = s.p[i++];
				/* astring atom: no specials */
				if ((unsigned char)c <= 0x20 || (unsigned char)c >= 0x7f ||
				    strchr("(){%*\"\\]", c)) {
					buf_free(&name);
					return -1;
				}
				buf_putc(&name, c);
			}
		}
		if (name.len == 0 || has_control(name.data, name.len) ||
		    memchr(name.data, ':', name.len) || att->nfields >= IMAP_MAX_URL_FIELDS) {
			buf_free(&name);
			return -1;
		}
		att->fields = xrealloc(att->fields, (att->nfields + 2) * sizeof *att->fields);
		att->fields[att->nfields] = buf_steal(&name);
		upper(att->fields[att->nfields]);
		att->fields[++att->nfields] = NULL;
		if (i < end) {
			if (s.p[i] != ' ' || i + 1 >= end)
				return -1;
			i++;
		}
	}
	return att->nfields ? 0 : -1;
}

int imap_url_section_parse(struct str s, struct imap_fetch_att *att)
{
	memset(att, 0, sizeof *att);
	att->item = IMAP_FETCH_BODY_SECTION;
	att->peek = true;
	att->kind = IMAP_SECTION_ALL;
	size_t i = 0;
	/* part numbers: nz-number *("." nz-number), each followed by "." or the end */
	while (i < s.len && is_digit(s.p[i])) {
		size_t end = i;
		while (end < s.len && is_digit(s.p[end]))
			end++;
		uint32_t n;
		if (!imap_parse_nz_number((struct str){s.p + i, end - i}, &n) ||
		    att->nparts >= IMAP_MAX_SECTION_PARTS)
			goto bad;
		att->part[att->nparts++] = n;
		i = end;
		if (i == s.len)
			return 0;
		if (s.p[i] != '.' || i + 1 == s.len)
			goto bad;
		i++;
	}
	struct str rest = {s.p + i, s.len - i};
	if (rest.len == 0)
		return att->nparts ? 0 : -1; /* an empty section is no section */
	if (str_eq_cstr_nocase(rest, "HEADER")) {
		att->kind = IMAP_SECTION_HEADER;
	} else if (str_eq_cstr_nocase(rest, "TEXT")) {
		att->kind = IMAP_SECTION_TEXT;
	} else if (str_eq_cstr_nocase(rest, "MIME")) {
		if (!att->nparts)
			goto bad;
		att->kind = IMAP_SECTION_MIME;
	} else if (str_has_prefix_nocase(rest, "HEADER.FIELDS.NOT ")) {
		att->kind = IMAP_SECTION_HEADER_FIELDS_NOT;
		if (parse_fields((struct str){rest.p + 18, rest.len - 18}, att) < 0)
			goto bad;
	} else if (str_has_prefix_nocase(rest, "HEADER.FIELDS ")) {
		att->kind = IMAP_SECTION_HEADER_FIELDS;
		if (parse_fields((struct str){rest.p + 14, rest.len - 14}, att) < 0)
			goto bad;
	} else {
		goto bad;
	}
	return 0;
bad:
	imap_url_section_free(att);
	return -1;
}

void imap_url_section_free(struct imap_fetch_att *att)
{
	for (size_t i = 0; i < att->nfields; i++)
		free(att->fields[i]);
	free(att->fields);
	att->fields = NULL;
	att->nfields = 0;
}

/* ---- RFC 3339 date-time (;EXPIRE=) ---------------------------------------------- */

static bool digits(struct str t, size_t pos, size_t n, int *v_r)
{
	if (t.len - pos < n)
		return false;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(t.p[pos + i]))
			return false;
		v = v * 10 + (t.p[pos + i] - '0');
	}
	*v_r = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int imap_parse_rfc3339(struct str t, int64_t *t_r)
{
	int y, mo, d, h, mi, sec;
	if (t.len < 20 || !digits(t, 0, 4, &y) || t.p[4] != '-' || !digits(t, 5, 2, &mo) ||
	    t.p[7] != '-' || !digits(t, 8, 2, &d) || (t.p[10] != 'T' && t.p[10] != 't') ||
	    !digits(t, 11, 2, &h) || t.p[13] != ':' || !digits(t, 14, 2, &mi) || t.p[16] != ':' ||
	    !digits(t, 17, 2, &sec))
		return -1;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	size_t i = 19;
	if (i < t.len && t.p[i] == '.') { /* time-secfrac: ignored */
		i++;
		size_t start = i;
		while (i < t.len && is_digit(t.p[i]))
			i++;
		if (i == start || i - start > 9)
			return -1;
	}
	int64_t offset = 0;
	if (i < t.len && (t.p[i] == 'Z' || t.p[i] == 'z')) {
		i++;
	} else if (i < t.len && (t.p[i] == '+' || t.p[i] == '-')) {
		int oh, om;
		if (!digits(t, i + 1, 2, &oh) || t.len - i < 6 || t.p[i + 3] != ':' ||
		    !digits(t, i + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		offset = (oh * 60 + om) * 60;
		if (t.p[i] == '-')
			offset = -offset;
		i += 6;
	} else {
		return -1;
	}
	if (i != t.len)
		return -1;
	*t_r = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec) -
	       offset;
	return 0;
}

/* ---- the URL ---------------------------------------------------------------------- */

static bool is_host_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.';
}

/* iserver = [iuserinfo "@"] host [":" port], up to the first "/". */
static int parse_server(struct str t, size_t *pos, struct imap_url *url, struct buf *why)
{
	size_t end = *pos;
	while (end < t.len && t.p[end] != '/')
		end++;
	if (end == t.len)
		return fail(why, "URL has no path");
	struct str server = {t.p + *pos, end - *pos};
	const char *at = memchr(server.p, '@', server.len);
	struct str host = server;
	if (at) {
		struct str info = {server.p, (size_t)(at - server.p)};
		host = (struct str){at + 1, server.len - info.len - 1};
		/* enc-user [";AUTH=" ("*" / enc-auth-type)] */
		struct str user = info;
		for (size_t i = 0; i < info.len; i++)
			if (info.p[i] == ';') {
				user.len = i;
				struct str auth = {info.p + i, info.len - i};
				if (!str_has_prefix_nocase(auth, ";AUTH=") || auth.len == 6)
					return fail(why, "bad ;AUTH= in URL");
				for (size_t k = 6; k < auth.len; k++)
					if (!is_achar(auth.p[k]) &&
					    !(auth.len == 7 && auth.p[k] == '*'))
						return fail(why, "bad ;AUTH= in URL");
				break;
			}
		if (user.len) {
			struct buf u = BUF_INIT;
			if (pct_decode(user, is_achar, &u) < 0 || u.len == 0 || u.len > MAX_USER ||
			    has_control(u.data, u.len) || !utf8_valid(u.data, u.len)) {
				buf_free(&u);
				return fail(why, "bad user in URL");
			}
			url->user = buf_steal(&u);
		}
	}
	/* host [":" port]; an IPv6 literal is "[...]" */
	size_t hlen = host.len;
	const char *colon = NULL;
	if (host.len && host.p[0] == '[') {
		const char *rb = memchr(host.p, ']', host.len);
		if (!rb)
			return fail(why, "bad host in URL");
		for (const char *p = host.p + 1; p < rb; p++)
			if (!(is_digit(*p) || (*p >= 'a' && *p <= 'f') ||
			      (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
				return fail(why, "bad host in URL");
		hlen = (size_t)(rb - host.p) + 1;
		if (hlen < host.len) {
			if (host.p[hlen] != ':')
				return fail(why, "bad host in URL");
			colon = host.p + hlen;
		}
	} else {
		colon = memchr(host.p, ':', host.len);
		hlen = colon ? (size_t)(colon - host.p) : host.len;
		for (size_t i = 0; i < hlen; i++)
			if (!is_host_char(host.p[i]))
				return fail(why, "bad host in URL");
	}
	if (hlen == 0 || hlen > MAX_HOST)
		return fail(why, "bad host in URL");
	if (colon) {
		struct str port = {colon + 1, host.len - hlen - 1};
		uint64_t n;
		if (port.len == 0 || port.len > 5 || !str_to_u64(port, &n) || n == 0 || n > 65535)
			return fail(why, "bad port in URL");
		url->port = (uint32_t)n;
	}
	url->host = str_dup_lower((struct str){host.p, hlen});
	*pos = end;
	return 0;
}

/* The decoded mailbox name, checked (see the top of this file). */
static int parse_mailbox(struct str raw, struct imap_url *url, struct buf *why)
{
	if (raw.len == 0)
		return fail(why, "URL names no mailbox");
	for (size_t i = 0; i + 2 < raw.len; i++)
		if (raw.p[i] == '%' && raw.p[i + 1] == '2' && (raw.p[i + 2] | 0x20) == 'f')
			return fail(why, "encoded '/' in URL mailbox");
	struct buf m = BUF_INIT;
	if (pct_decode(raw, is_bchar, &m) < 0 || m.len == 0 || m.len > IMAP_MAX_URL ||
	    has_control(m.data, m.len) || !utf8_valid(m.data, m.len)) {
		buf_free(&m);
		return fail(why, "bad mailbox in URL");
	}
	/* no empty, "." or ".." level */
	const char *p = m.data, *end = m.data + m.len;
	while (p <= end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			buf_free(&m);
			return fail(why, "bad mailbox in URL");
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	url->mailbox = buf_steal(&m);
	return 0;
}

/* ";URLAUTH=" access [":" mechanism ":" token], at the end of the URL. */
static int parse_urlauth(struct str t, size_t pos, struct imap_url *url, struct buf *why)
{
	size_t end = pos;
	while (end < t.len && t.p[end] != ':')
		end++;
	struct str access = {t.p + pos, end - pos};
	url->rump_len = end;
	struct str who = {NULL, 0};
	if (str_eq_cstr_nocase(access, "anonymous")) {
		url->access = IMAP_URL_ACCESS_ANONYMOUS;
	} else if (str_eq_cstr_nocase(access, "authuser")) {
		url->access = IMAP_URL_ACCESS_AUTHUSER;
	} else if (str_has_prefix_nocase(access, "user+")) {
		url->access = IMAP_URL_ACCESS_USER;
		who = (struct str){access.p + 5, access.len - 5};
	} else if (str_has_prefix_nocase(access, "submit+")) {
		url->access = IMAP_URL_ACCESS_SUBMIT;
		who = (struct str){access.p + 7, access.len - 7};
	} else {
		return fail(why, "unknown URLAUTH access identifier");
	}
	if (who.p) {
		struct buf u = BUF_INIT;
		/* '@' tolerated: "user+fred@example.com" is what clients send */
		for (size_t i = 0; i < who.len; i++)
			if (who.p[i] == '@') {
				struct buf a = BUF_INIT, b = BUF_INIT;
				bool ok = pct_decode((struct str){who.p, i}, is_achar, &a) == 0 &&
				          pct_decode((struct str){who.p + i + 1, who.len - i - 1},
				                     is_achar, &b) == 0;
				buf_append(&u, a.data, a.len);
				buf_putc(&u, '@');
				buf_append(&u, b.data, b.len);
				buf_free(&a);
				buf_free(&b);
				if (!ok || memchr(who.p + i + 1, '@', who.len - i - 1)) {
					buf_free(&u);
					return fail(why, "bad URLAUTH userid");
				}
				goto decoded;
			}
		if (pct_decode(who, is_achar, &u) < 0) {
			buf_free(&u);
			return fail(why, "bad URLAUTH userid");
		}
	decoded:
		if (u.len == 0 || u.len > MAX_USER || has_control(u.data, u.len) ||
		    !utf8_valid(u.data, u.len)) {
			buf_free(&u);
			return fail(why, "bad URLAUTH userid");
		}
		url->access_user = buf_steal(&u);
	}
	if (end == t.len)
		return 0;
	/* ":" mechanism ":" token */
	size_t m = end + 1, mend = m;
	while (mend < t.len && t.p[mend] != ':')
		mend++;
	if (mend == t.len || mend == m || mend - m > MAX_MECH)
		return fail(why, "bad URLAUTH mechanism");
	for (size_t i = m; i < mend; i++)
		if (!is_alpha(t.p[i]) && !is_digit(t.p[i]) && t.p[i] != '-' && t.p[i] != '.')
			return fail(why, "bad URLAUTH mechanism");
	struct str token = {t.p + mend + 1, t.len - mend - 1};
	if (token.len < 32)
		return fail(why, "bad URLAUTH token");
	for (size_t i = 0; i < token.len; i++)
		if (hex_value(token.p[i]) < 0)
			return fail(why, "bad URLAUTH token");
	url->mechanism = xstrndup(t.p + m, mend - m);
	upper(url->mechanism);
	url->token = str_dup_lower(token);
	return 0;
}

int imap_url_parse(struct str t, struct imap_url *url, struct buf *why)
{
	memset(url, 0, sizeof *url);
	if (t.len == 0 || t.len > IMAP_MAX_URL)
		return fail(why, t.len ? "URL too long" : "empty URL");
	size_t pos = 0;
	if (take(t, &pos, "IMAP://")) {
		url->absolute = true;
		if (parse_server(t, &pos, url, why) < 0)
			goto bad;
	} else if (t.p[0] != '/') {
		fail(why, "not an IMAP URL");
		goto bad;
	}
	pos++; /* the "/" before the mailbox */

	/* enc-mailbox: up to ";UIDVALIDITY=" or "/;UID=" (';' is not a bchar) */
	struct str mbox = run_to_semicolon(t, pos);
	pos += mbox.len;
	if (pos == t.len) {
		fail(why, "URL names no message (;UID= is missing)");
		goto bad;
	}
	bool slash = mbox.len && mbox.p[mbox.len - 1] == '/';
	if (slash)
		mbox.len--;
	if (parse_mailbox(mbox, url, why) < 0)
		goto bad;
	if (!slash) {
		if (!take(t, &pos, ";UIDVALIDITY=") || !take_nz32(t, &pos, &url->uidvalidity) ||
		    !take(t, &pos, "/")) {
			fail(why, "bad ;UIDVALIDITY= in URL");
			goto bad;
		}
	}
	if (!take(t, &pos, ";UID=") || !take_nz32(t, &pos, &url->uid)) {
		fail(why, "URL names no message (;UID= is missing)");
		goto bad;
	}
	if (take(t, &pos, "/;SECTION=")) {
		struct str sec = run_to_semicolon(t, pos);
		pos += sec.len;
		if (pos < t.len && sec.len && sec.p[sec.len - 1] == '/')
			sec.len--; /* the "/" of a following "/;PARTIAL=" */
		struct buf d = BUF_INIT;
		if (pct_decode(sec, is_bchar, &d) < 0 || d.len == 0 || d.len > MAX_SECTION ||
		    has_control(d.data, d.len) ||
		    imap_url_section_parse(str_buf(&d), &url->section) < 0) {
			buf_free(&d);
			fail(why, "bad ;SECTION= in URL");
			goto bad;
		}
		url->has_section = true;
		buf_free(&d);
		if (pos < t.len && t.p[pos - 1] == '/')
			pos--;
	}
	if (take(t, &pos, "/;PARTIAL=")) {
		/* partial-range = number ["." nz-number] */
		struct str r = run_to_semicolon(t, pos);
		pos += r.len;
		const char *dot = memchr(r.p, '.', r.len);
		struct str off = {r.p, dot ? (size_t)(dot - r.p) : r.len};
		uint32_t len = 0;
		uint64_t o;
		if (off.len == 0 || off.len > 10 || !str_to_u64(off, &o) || o > UINT32_MAX ||
		    (dot &&
		     !imap_parse_nz_number((struct str){dot + 1, r.len - off.len - 1}, &len))) {
			fail(why, "bad ;PARTIAL= in URL");
			goto bad;
		}
		url->partial = true;
		url->offset = o;
		url->length = dot ? len : 0;
	}
	if (take(t, &pos, ";EXPIRE=")) {
		struct str e = run_to_semicolon(t, pos);
		pos += e.len;
		if (imap_parse_rfc3339(e, &url->expire) < 0) {
			fail(why, "bad ;EXPIRE= in URL");
			goto bad;
		}
		url->has_expire = true;
		if (pos == t.len) {
			fail(why, ";EXPIRE= without ;URLAUTH=");
			goto bad;
		}
	}
	if (take(t, &pos, ";URLAUTH=")) {
		if (!url->absolute) {
			fail(why, ";URLAUTH= needs an absolute URL");
			goto bad;
		}
		if (parse_urlauth(t, pos, url, why) < 0)
			goto bad;
		pos = t.len;
	}
	if (pos != t.len) {
		fail(why, "junk at the end of the URL");
		goto bad;
	}
	if (!url->access)
		url->rump_len = t.len;
	return 0;
bad:
	imap_url_free(url);
	return -1;
}

void imap_url_free(struct imap_url *url)
{
	free(url->user);
	free(url->host);
	free(url->mailbox);
	free(url->access_user);
	free(url->mechanism);
	free(url->token);
	imap_url_section_free(&url->section);
	memset(url, 0, sizeof *url);
}
