/*
 * mime_header — the RFC 5322 header block: where it ends, its fields one by
 * one, unfolding. Lines end with LF, optionally preceded by CR; a line that
 * starts with a space or tab continues the field before it.
 */
#include "mime/mime_internal.h"

#include <string.h>

/* End of the line that starts at pos: the offset after its LF, or len. */
static size_t line_end(const char *p, size_t len, size_t pos)
{
	const char *lf = memchr(p + pos, '\n', len - pos);
	return lf ? (size_t)(lf - p) + 1 : len;
}

static bool line_is_empty(const char *p, size_t pos, size_t end)
{
	size_t n = end - pos;
	return (n == 1 && p[pos] == '\n') || (n == 2 && p[pos] == '\r' && p[pos + 1] == '\n');
}

size_t mime_header_len(const char *msg, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		size_t end = line_end(msg, len, pos);
		if (line_is_empty(msg, pos, end))
			return end;
		pos = end;
	}
	return len;
}

void mime_header_iter_init(struct mime_header_iter *it, const char *hdr, size_t len)
{
	it->p = hdr;
	it->len = len;
	it->pos = 0;
}

static bool is_field_name_char(unsigned char c)
{
	/* RFC 5322 ftext: printable US-ASCII except ':' */
	return c > 32 && c < 127 && c != ':';
}

bool mime_header_next(struct mime_header_iter *it, struct mime_header_field *f_r)
{
	const char *p = it->p;
	while (it->pos < it->len) {
		size_t start = it->pos;
		size_t end = line_end(p, it->len, start);
		it->pos = end;
		if (line_is_empty(p, start, end)) {
			it->pos = it->len; /* the end of the header */
			return false;
		}
		/* name, optional whitespace (obs-optional), colon */
		size_t i = start;
		while (i < end && is_field_name_char((unsigned char)p[i]))
			i++;
		size_t name_end = i;
		while (i < end && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (name_end == start || i >= end || p[i] != ':')
			continue; /* junk or an orphan continuation line */
		size_t value_start = i + 1;
		/* continuation lines */
		while (end < it->len && (p[end] == ' ' || p[end] == '\t')) {
			size_t next = line_end(p, it->len, end);
			end = next;
		}
		it->pos = end;
		size_t value_end = end;
		if (value_end > value_start && p[value_end - 1] == '\n') {
			value_end--;
			if (value_end > value_start && p[value_end - 1] == '\r')
				value_end--;
		}
		f_r->name = p + start;
		f_r->name_len = name_end - start;
		f_r->value = p + value_start;
		f_r->value_len = value_end - value_start;
		f_r->offset = start;
		f_r->len = end - start;
		return true;
	}
	return false;
}

void mime_header_unfold(const char *value, size_t len, struct buf *out)
{
	size_t start = out->len;
	size_t i = 0;
	/* leading whitespace, folding included */
	while (i < len && mime_is_wsp(value[i]))
		i++;
	buf_reserve(out, len - i < MIME_MAX_HEADER_FIELD ? len - i : MIME_MAX_HEADER_FIELD);
	for (; i < len && out->len - start < MIME_MAX_HEADER_FIELD; i++) {
		char c = value[i];
		if (c == '\r' && i + 1 < len && value[i + 1] == '\n')
			continue; /* the LF decides */
		if (c == '\n')
			continue; /* a line end inside a value is always a fold here */
		buf_putc(out, c);
	}
	while (out->len > start && mime_is_wsp(out->data[out->len - 1]))
		out->len--;
	if (out->data)
		out->data[out->len] = '\0';
}

bool mime_header_get(const char *hdr, size_t len, const char *name, struct buf *out)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	size_t n = strlen(name);
	mime_header_iter_init(&it, hdr, len);
	while (mime_header_next(&it, &f)) {
		if (f.name_len == n &&
		    str_eq_nocase((struct str){f.name, f.name_len}, (struct str){name, n})) {
			mime_header_unfold(f.value, f.value_len, out);
			return true;
		}
	}
	return false;
}
