/*
 * str — read-only views over bytes, and the small comparisons and conversions
 * that protocol code does on them. Nothing here reads past len.
 */
#include "core/core.h"

#include <string.h>

struct str str_c(const char *s)
{
	return (struct str){s, s ? strlen(s) : 0};
}

struct str str_buf(const struct buf *b)
{
	return (struct str){buf_cstr(b), b->len};
}

bool str_eq(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

bool str_eq_nocase(struct str a, struct str b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (ascii_lower((unsigned char)a.p[i]) != ascii_lower((unsigned char)b.p[i]))
			return false;
	return true;
}

bool str_eq_cstr_nocase(struct str a, const char *b)
{
	return str_eq_nocase(a, str_c(b));
}

bool str_has_prefix_nocase(struct str s, const char *prefix)
{
	size_t n = strlen(prefix);
	return s.len >= n && str_eq_nocase((struct str){s.p, n}, (struct str){prefix, n});
}

struct str str_trim(struct str s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t' || s.p[0] == '\r' || s.p[0] == '\n')) {
		s.p++;
		s.len--;
	}
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t' ||
	                 s.p[s.len - 1] == '\r' || s.p[s.len - 1] == '\n'))
		s.len--;
	return s;
}

bool str_to_u64(struct str s, uint64_t *v_r)
{
	uint64_t v = 0;
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < '0' || c > '9')
			return false;
		if (v > (UINT64_MAX - (c - '0')) / 10)
			return false;
		v = v * 10 + (c - '0');
	}
	*v_r = v;
	return true;
}

char *str_dup(struct str s)
{
	return xstrndup(s.p ? s.p : "", s.len);
}

char *str_dup_lower(struct str s)
{
	char *p = str_dup(s);
	for (size_t i = 0; i < s.len; i++)
		p[i] = (char)ascii_lower((unsigned char)p[i]);
	return p;
}

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	if (n == 0)
		return 0;
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t len;
	uint32_t cp;
	if (c < 0x80) {
		*cp_r = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0; /* no overlong forms */
		else if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90; /* no overlong forms */
		else if (c == 0xF4)
			hi = 0x8F; /* nothing above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	*cp_r = cp;
	return len;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	for (size_t i = 0; i < len;) {
		size_t k = utf8_decode(p + i, len - i, &cp);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}
