/*
 * imap_parse_misc — IMAP dates and modified UTF-7 mailbox names.
 *
 * Dates (RFC 9051 section 9):
 *
 *     date       = date-text / DQUOTE date-text DQUOTE   ; SEARCH
 *     date-text  = date-day "-" date-month "-" date-year
 *     date-day   = 1*2DIGIT
 *     date-time  = DQUOTE date-day-fixed "-" date-month "-" date-year
 *                  SP time SP zone DQUOTE                 ; APPEND
 *     date-day-fixed = (SP DIGIT) / 2DIGIT
 *     time       = 2DIGIT ":" 2DIGIT ":" 2DIGIT
 *     zone       = ("+" / "-") 4DIGIT
 *
 * The functions take the value without its quotes (the tokenizer removed
 * them). Month names are matched without case; the day must exist in its
 * month (leap years by the Gregorian rule). date-time also accepts a single
 * digit day, as some clients send. A zone is at most +-23:59. Seconds may be
 * 60 (a leap second counts into the next minute).
 *
 * Modified UTF-7 (RFC 3501 5.1.3): printable ASCII but "&" stands for
 * itself, "&" is "&-", everything else is UTF-16 in base64 with "," for "/",
 * no padding, between "&" and "-". Decoding accepts only the canonical form,
 * the one imap_utf8_to_utf7() writes, so that a name has one spelling: no
 * printable ASCII inside a shift, no empty or unterminated shift, leftover
 * bits fewer than six and zero, no shift directly after another, paired
 * surrogates only, no NUL, no raw byte outside printable ASCII.
 */
#include "imap/imap_internal.h"

#include <string.h>

/* ---- dates ----------------------------------------------------------------------- */

static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t yy = m <= 2 ? y - 1 : y;
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t mp = m > 2 ? m - 3 : m + 9;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at p[*i]. */
static bool read_digits(struct str t, size_t *i, size_t n, int *v_r)
{
	int v = 0;
	if (t.len - *i < n)
		return false;
	for (size_t k = 0; k < n; k++) {
		char c = t.p[*i + k];
		if (!is_digit(c))
			return false;
		v = v * 10 + (c - '0');
	}
	*i += n;
	*v_r = v;
	return true;
}

static bool expect(struct str t, size_t *i, char c)
{
	if (*i >= t.len || t.p[*i] != c)
		return false;
	(*i)++;
	return true;
}

/* "-" date-month "-" date-year, after the day, then checks the day. */
static bool read_month_year(struct str t, size_t *i, int day, int *y_r, int *m_r)
{
	if (!expect(t, i, '-') || t.len - *i < 3)
		return false;
	struct str mon = {t.p + *i, 3};
	int m = 0;
	for (int k = 0; k < 12; k++)
		if (str_eq_cstr_nocase(mon, month_names[k]))
			m = k + 1;
	if (m == 0)
		return false;
	*i += 3;
	int y;
	if (!expect(t, i, '-') || !read_digits(t, i, 4, &y))
		return false;
	if (day < 1 || day > days_in_month(y, m))
		return false;
	*y_r = y;
	*m_r = m;
	return true;
}

/* 1*2DIGIT */
static bool read_day(struct str t, size_t *i, int *d_r)
{
	if (!read_digits(t, i, 1, d_r))
		return false;
	int second;
	size_t j = *i;
	if (read_digits(t, &j, 1, &second)) {
		*d_r = *d_r * 10 + second;
		*i = j;
	}
	return true;
}

int64_t imap_parse_date(struct str text)
{
	size_t i = 0;
	int d, m, y;
	if (!text.p || !read_day(text, &i, &d) || !read_month_year(text, &i, d, &y, &m) ||
	    i != text.len || y < 1970)
		return -1;
	return days_from_civil(y, m, d);
}

int imap_parse_datetime(struct str text, int64_t *t_r)
{
	size_t i = 0;
	int d, m, y, hh, mm, ss, zh, zm;
	if (!text.p)
		return -1;
	if (text.len > 0 && text.p[0] == ' ') {
		i = 1;
		if (!read_digits(text, &i, 1, &d))
			return -1;
	} else if (!read_day(text, &i, &d)) {
		return -1;
	}
	if (!read_month_year(text, &i, d, &y, &m))
		return -1;
	if (!expect(text, &i, ' ') || !read_digits(text, &i, 2, &hh) || !expect(text, &i, ':') ||
	    !read_digits(text, &i, 2, &mm) || !expect(text, &i, ':') ||
	    !read_digits(text, &i, 2, &ss) || !expect(text, &i, ' '))
		return -1;
	if (hh > 23 || mm > 59 || ss > 60)
		return -1;
	if (i >= text.len || (text.p[i] != '+' && text.p[i] != '-'))
		return -1;
	int sign = text.p[i++] == '-' ? -1 : 1;
	if (!read_digits(text, &i, 2, &zh) || !read_digits(text, &i, 2, &zm) || i != text.len)
		return -1;
	if (zh > 23 || zm > 59)
		return -1;
	int64_t local = days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
	*t_r = local - sign * (zh * 3600 + zm * 60);
	return 0;
}

/* ---- modified UTF-7 ------------------------------------------------------------------ */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static bool is_printable(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_append(out, b, n);
}

/* Decodes one shift (after its "&", up to and including its "-"). */
static bool decode_shift(struct str in, size_t *i, struct buf *out)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;
	size_t units = 0;
	for (;;) {
		if (*i >= in.len)
			return false; /* unterminated */
		unsigned char c = (unsigned char)in.p[(*i)++];
		if (c == '-')
			break;
		int v = b64_value(c);
		if (v < 0)
			return false;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t u = (bits >> nbits) & 0xFFFF;
		bits &= (1u << nbits) - 1;
		units++;
		if (high) {
			if (u < 0xDC00 || u > 0xDFFF)
				return false;
			put_utf8(out, 0x10000 + ((high - 0xD800) << 10) + (u - 0xDC00));
			high = 0;
		} else if (u >= 0xD800 && u <= 0xDBFF) {
			high = u;
		} else if (u >= 0xDC00 && u <= 0xDFFF) {
			return false;
		} else if (u == 0 || (u >= 0x20 && u <= 0x7e)) {
			return false; /* NUL, or ASCII that must stand for itself */
		} else {
			put_utf8(out, u);
		}
	}
	return high == 0 && units > 0 && nbits < 6 && bits == 0;
}

int imap_utf7_to_utf8(struct str in, struct buf *out)
{
	size_t start = out->len, i = 0;
	bool after_shift = false;
	while (i < in.len) {
		unsigned char c = (unsigned char)in.p[i];
		if (!is_printable(c))
			goto bad;
		i++;
		if (c != '&') {
			buf_putc(out, (char)c);
			after_shift = false;
		} else if (i < in.len && in.p[i] == '-') {
			buf_putc(out, '&');
			i++;
			after_shift = false;
		} else {
			if (after_shift || !decode_shift(in, &i, out))
				goto bad;
			after_shift = true;
		}
	}
	return 0;
bad:
	buf_truncate(out, start);
	return -1;
}

static void put_unit(struct buf *out, uint32_t u, uint32_t *bits, unsigned *nbits)
{
	*bits = (*bits << 16) | u;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		buf_putc(out, b64_chars[(*bits >> *nbits) & 0x3F]);
	}
	*bits &= (1u << *nbits) - 1;
}

void imap_utf8_to_utf7(struct str in, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in.p;
	size_t i = 0;
	while (i < in.len) {
		if (is_printable(s[i])) {
			if (s[i] == '&')
				buf_puts(out, "&-");
			else
				buf_putc(out, (char)s[i]);
			i++;
			continue;
		}
		uint32_t bits = 0;
		unsigned nbits = 0;
		buf_putc(out, '&');
		while (i < in.len && !is_printable(s[i])) {
			uint32_t cp;
			size_t len = utf8_decode(s + i, in.len - i, &cp);
			if (len == 0 || cp == 0) {
				cp = 0xFFFD;
				len = 1;
			}
			i += len;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				put_unit(out, 0xD800 + (cp >> 10), &bits, &nbits);
				put_unit(out, 0xDC00 + (cp & 0x3FF), &bits, &nbits);
			} else {
				put_unit(out, cp, &bits, &nbits);
			}
		}
		if (nbits)
			buf_putc(out, b64_chars[(bits << (6 - nbits)) & 0x3F]);
		buf_putc(out, '-');
	}
}
