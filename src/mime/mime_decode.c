/*
 * mime_decode — transfer encodings (quoted-printable, base64), charsets to
 * UTF-8 through iconv, RFC 2047 encoded words, and the text of a part.
 *
 * Everything is lenient: mail in the wild breaks every rule, and a decoder that
 * gives up loses the text a user searches for. Output is always valid UTF-8
 * where the function says it is text.
 */
#include "mime/mime_internal.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHARSET_NAME 64

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* ---- UTF-8 ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	return utf8_decode(s, n, &cp);
}

bool mime_utf8_valid(const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	for (size_t i = 0; i < len;) {
		if (s[i] < 0x80) { /* ASCII, most text: no decoding */
			i++;
			continue;
		}
		size_t n = utf8_seq(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

void mime_utf8_append(struct buf *out, const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;
	buf_reserve(out, len);
	while (i < len) {
		size_t start = i;
		while (i < len) {
			if (s[i] - 1u < 0x7f) { /* ASCII but NUL: most text */
				i++;
				continue;
			}
			size_t n = s[i] ? utf8_seq(s + i, len - i) : 0;
			if (n == 0)
				break;
			i += n;
		}
		buf_append(out, in + start, i - start);
		if (i < len) {
			buf_append(out, replacement, 3);
			i++;
		}
	}
}

/* ---- charsets ----------------------------------------------------------------------- */

/* Names mail uses that iconv spells differently, or that a superset reads better. */
static const struct {
	const char *mail, *iconv;
} charset_aliases[] = {
        {"ks_c_5601-1987", "CP949"},  {"ks_c_5601", "CP949"},
        {"gb2312", "GB18030"},        {"gbk", "GB18030"},
        {"x-gbk", "GB18030"},         {"iso-8859-8-i", "ISO-8859-8"},
        {"x-sjis", "SHIFT_JIS"},      {"windows-874", "CP874"},
        {"x-mac-roman", "MACINTOSH"}, {"unicode-1-1-utf-7", "UTF-7"},
};

static bool charset_is_utf8ish(const char *cs)
{
	static const char *const names[] = {"",     "us-ascii",       "ascii",     "utf-8",
	                                    "utf8", "ansi_x3.4-1968", "x-unknown", "unknown-8bit"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(cs, names[i]) == 0)
			return true;
	return false;
}

/* Lower-cased, trimmed, checked charset name into out; false if unusable. */
static bool charset_name(const char *charset, char out[MAX_CHARSET_NAME + 1])
{
	struct str s = str_trim(str_c(charset));
	if (s.len > MAX_CHARSET_NAME)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		/* no '/' (iconv suffixes) and nothing else exotic */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == ':' || c == '+'))
			return false;
		out[i] = c;
	}
	out[s.len] = '\0';
	return true;
}

static iconv_t charset_open(const char *cs)
{
	const char *name = cs;
	for (size_t i = 0; i < ARRAY_SIZE(charset_aliases); i++)
		if (strcmp(cs, charset_aliases[i].mail) == 0)
			name = charset_aliases[i].iconv;
	return iconv_open("UTF-8", name);
}

bool mime_charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out)
{
	char cs[MAX_CHARSET_NAME + 1];
	if (!charset_name(charset, cs)) {
		mime_utf8_append(out, in, len);
		return false;
	}
	if (charset_is_utf8ish(cs)) {
		mime_utf8_append(out, in, len);
		return true;
	}
	iconv_t cd = charset_open(cs);
	if (cd == (iconv_t)-1) {
		mime_utf8_append(out, in, len);
		return false;
	}
	struct buf tmp = BUF_INIT;
	char *ip = (char *)in;
	size_t ileft = len;
	bool flushing = false;
	for (;;) {
		buf_reserve(&tmp, ileft * 2 + 16);
		char *op = tmp.data + tmp.len;
		size_t oleft = tmp.cap - tmp.len - 1;
		size_t r = flushing ? iconv(cd, NULL, NULL, &op, &oleft)
		                    : iconv(cd, &ip, &ileft, &op, &oleft);
		tmp.len = (size_t)(op - tmp.data);
		if (r != (size_t)-1) {
			if (flushing)
				break;
			flushing = true;
			continue;
		}
		if (errno == E2BIG)
			continue;
		/* EILSEQ, or EINVAL (cut sequence at the end): one byte is bad */
		buf_append(&tmp, replacement, 3);
		if (flushing || ileft == 0)
			break;
		ip++;
		ileft--;
	}
	iconv_close(cd);
	mime_utf8_append(out, tmp.data ? tmp.data : "", tmp.len);
	buf_free(&tmp);
	return true;
}

/* ---- transfer encodings ---------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void mime_decode_qp(const char *in, size_t len, struct buf *out)
{
	size_t pos = 0;
	buf_reserve(out, len);
	while (pos < len) {
		const char *lf = memchr(in + pos, '\n', len - pos);
		size_t eol = lf ? (size_t)(lf - in) : len; /* index of the LF or len */
		size_t end = eol;
		if (lf && end > pos && in[end - 1] == '\r')
			end--;
		size_t content_end = end;
		while (content_end > pos &&
		       (in[content_end - 1] == ' ' || in[content_end - 1] == '\t'))
			content_end--;
		bool soft = content_end > pos && in[content_end - 1] == '=';
		if (soft)
			content_end--;
		for (size_t i = pos; i < content_end; i++) {
			int h, l;
			if (in[i] == '=' && i + 2 < content_end && (h = hexval(in[i + 1])) >= 0 &&
			    (l = hexval(in[i + 2])) >= 0) {
				buf_putc(out, (char)(h * 16 + l));
				i += 2;
			} else {
				buf_putc(out, in[i]);
			}
		}
		if (lf && !soft)
			buf_append(out, in + end, eol + 1 - end); /* the line end as written */
		pos = lf ? eol + 1 : len;
	}
}

static signed char b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (signed char)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (signed char)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (signed char)(c - '0' + 52);
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void mime_decode_base64(const char *in, size_t len, struct buf *out)
{
	uint32_t acc = 0;
	unsigned n = 0;
	buf_reserve(out, len / 4 * 3 + 3);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '=')
			break;
		signed char v = b64val(c);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		if (++n == 4) {
			char b[3] = {(char)(acc >> 16), (char)(acc >> 8), (char)acc};
			buf_append(out, b, 3);
			acc = 0;
			n = 0;
		}
	}
	if (n == 2) {
		buf_putc(out, (char)(acc >> 4));
	} else if (n == 3) {
		char b[2] = {(char)(acc >> 10), (char)(acc >> 2)};
		buf_append(out, b, 2);
	}
}

void mime_part_decode_body(const struct mime_part *part, const char *msg, struct buf *out)
{
	const char *body = msg + part->body_offset;
	if (part->encoding && strcmp(part->encoding, "base64") == 0)
		mime_decode_base64(body, part->body_len, out);
	else if (part->encoding && strcmp(part->encoding, "quoted-printable") == 0)
		mime_decode_qp(body, part->body_len, out);
	else
		buf_append(out, body, part->body_len);
}

void mime_part_text(const struct mime_part *part, const char *msg, struct buf *out)
{
	const char *cs = strcmp(part->type, "text") == 0 ? mime_part_charset(part) : "utf-8";
	bool encoded = part->encoding && (strcmp(part->encoding, "base64") == 0 ||
	                                  strcmp(part->encoding, "quoted-printable") == 0);
	if (!encoded) { /* 7bit, 8bit, binary: the bytes as they are, not copied first */
		mime_charset_to_utf8(cs, msg + part->body_offset, part->body_len, out);
		return;
	}
	struct buf raw = BUF_INIT;
	mime_part_decode_body(part, msg, &raw);
	mime_charset_to_utf8(cs, raw.data ? raw.data : "", raw.len, out);
	buf_free(&raw);
}

/* ---- RFC 2047 ------------------------------------------------------------------------------ */

struct encoded_word {
	const char *charset; /* without an RFC 2231 "*lang" suffix */
	size_t charset_len;
	char enc; /* 'b' or 'q' */
	const char *text;
	size_t text_len;
	size_t len; /* of the whole word, "=?" to "?=" */
};

/* Recognises "=?charset?e?text?=" at p (n bytes left). RFC 2047 allows 75
 * bytes; longer words are accepted up to MAX_WORD, which also bounds the work
 * spent on every "=?" that starts no word. */
#define MAX_WORD 1024
static bool parse_word(const char *p, size_t n, struct encoded_word *w)
{
	if (n > MAX_WORD)
		n = MAX_WORD;
	if (n < 8 || p[0] != '=' || p[1] != '?')
		return false;
	size_t i = 2;
	while (i < n && p[i] != '?' && !mime_is_wsp(p[i]))
		i++;
	if (i >= n || p[i] != '?' || i == 2)
		return false;
	w->charset = p + 2;
	w->charset_len = i - 2;
	const char *star = memchr(w->charset, '*', w->charset_len);
	if (star)
		w->charset_len = (size_t)(star - w->charset);
	if (i + 3 > n)
		return false;
	char e = p[i + 1];
	if (e == 'B' || e == 'b')
		w->enc = 'b';
	else if (e == 'Q' || e == 'q')
		w->enc = 'q';
	else
		return false;
	if (p[i + 2] != '?')
		return false;
	size_t t = i + 3;
	size_t j = t;
	/* the text has no whitespace; it ends at "?=" */
	while (j + 1 < n && !(p[j] == '?' && p[j + 1] == '=')) {
		if (mime_is_wsp(p[j]))
			return false;
		j++;
	}
	if (j + 1 >= n)
		return false;
	w->text = p + t;
	w->text_len = j - t;
	w->len = j + 2;
	return true;
}

static void decode_word_bytes(const struct encoded_word *w, struct buf *out)
{
	if (w->enc == 'b') {
		mime_decode_base64(w->text, w->text_len, out);
		return;
	}
	for (size_t i = 0; i < w->text_len; i++) {
		char c = w->text[i];
		int h, l;
		if (c == '_') {
			buf_putc(out, ' ');
		} else if (c == '=' && i + 2 < w->text_len && (h = hexval(w->text[i + 1])) >= 0 &&
		           (l = hexval(w->text[i + 2])) >= 0) {
			buf_putc(out, (char)(h * 16 + l));
			i += 2;
		} else {
			buf_putc(out, c);
		}
	}
}

/* Pending decoded bytes of adjacent words in one charset, joined before the
 * conversion so a character split across two words survives. */
struct pending {
	char charset[MAX_CHARSET_NAME + 1];
	bool active;
	struct buf bytes;
	const char *raw; /* the words as written, for an unknown charset */
	size_t raw_len;
};

static void pending_flush(struct pending *pd, struct buf *out)
{
	if (!pd->active)
		return;
	struct buf tmp = BUF_INIT;
	if (mime_charset_to_utf8(pd->charset, pd->bytes.data ? pd->bytes.data : "", pd->bytes.len,
	                         &tmp))
		buf_append(out, tmp.data ? tmp.data : "", tmp.len);
	else
		mime_utf8_append(out, pd->raw, pd->raw_len);
	buf_free(&tmp);
	buf_reset(&pd->bytes);
	pd->active = false;
}

void mime_decode_header(const char *value, size_t len, struct buf *out)
{
	struct pending pd = {.active = false, .bytes = BUF_INIT};
	size_t i = 0;
	size_t plain_start = 0;
	bool after_word = false;
	buf_reserve(out, len);
	while (i < len) {
		struct encoded_word w;
		char cs[MAX_CHARSET_NAME + 1];
		char name[MAX_CHARSET_NAME + 1];
		if (value[i] != '=' || !parse_word(value + i, len - i, &w) ||
		    w.charset_len > MAX_CHARSET_NAME) {
			i++;
			continue;
		}
		memcpy(name, w.charset, w.charset_len);
		name[w.charset_len] = '\0';
		if (!charset_name(name, cs)) {
			i++;
			continue; /* not a usable word: plain text */
		}
		/* whitespace alone between two encoded words is dropped (RFC 2047 6.2) */
		bool gap_ws = true;
		for (size_t k = plain_start; k < i; k++)
			if (!mime_is_wsp(value[k]))
				gap_ws = false;
		bool drop_gap = after_word && gap_ws;
		if (!(drop_gap && pd.active && strcmp(pd.charset, cs) == 0)) {
			pending_flush(&pd, out);
			if (!drop_gap)
				mime_utf8_append(out, value + plain_start, i - plain_start);
			memcpy(pd.charset, cs, sizeof(cs));
			pd.active = true;
			pd.raw = value + i;
		}
		decode_word_bytes(&w, &pd.bytes);
		pd.raw_len = (size_t)(value + i + w.len - pd.raw);
		i += w.len;
		plain_start = i;
		after_word = true;
	}
	pending_flush(&pd, out);
	mime_utf8_append(out, value + plain_start, len - plain_start);
	buf_free(&pd.bytes);
}
