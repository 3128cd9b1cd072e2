/*
 * codec — base64 (RFC 4648, strict) and hex. Pure functions of bytes.
 */
#include "core/core.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	buf_reserve(out, (len + 2) / 3 * 4);
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		char q[4] = {b64_alphabet[v >> 18], b64_alphabet[(v >> 12) & 63],
			     b64_alphabet[(v >> 6) & 63], b64_alphabet[v & 63]};
		buf_append(out, q, 4);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[4] = {b64_alphabet[v >> 18], b64_alphabet[(v >> 12) & 63], '=', '='};
		buf_append(out, q, 4);
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		char q[4] = {b64_alphabet[v >> 18], b64_alphabet[(v >> 12) & 63],
			     b64_alphabet[(v >> 6) & 63], '='};
		buf_append(out, q, 4);
	}
}

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
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(struct buf *out, const char *in, size_t len)
{
	if (len % 4 != 0)
		return -1;
	size_t start = out->len;
	buf_reserve(out, len / 4 * 3);
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			if (c == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad) /* data after padding */
				goto bad;
			v[k] = b64_value(c);
			if (v[k] < 0)
				goto bad;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		/* Canonical form only: the bits dropped by padding must be zero. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			goto bad;
		unsigned char q[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8),
				      (unsigned char)w};
		buf_append(out, q, 3 - (size_t)pad);
	}
	return 0;
bad:
	buf_truncate(out, start);
	return -1;
}

void hex_encode(struct buf *out, const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;
	buf_reserve(out, len * 2);
	for (size_t i = 0; i < len; i++) {
		char q[2] = {digits[p[i] >> 4], digits[p[i] & 15]};
		buf_append(out, q, 2);
	}
}
