/*
 * imap_write — building response text: strings (quoted or literal), mailbox
 * names (modified UTF-7 unless the client enabled UTF8=ACCEPT), flag lists;
 * and reading the same things from arguments.
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* Quoted when every byte may be quoted (no CR, LF, NUL, no 8-bit), else a literal. */
void imap_put_string(struct buf *out, const char *s, size_t len)
{
	bool quotable = len < 1024;
	for (size_t i = 0; quotable && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == '\0' || c >= 0x80)
			quotable = false;
	}
	if (!quotable) {
		buf_printf(out, "{%zu}\r\n", len);
		buf_append(out, s, len);
		return;
	}
	buf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, s[i]);
	}
	buf_putc(out, '"');
}

static bool atom_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			return false;
	}
	return true;
}

void imap_put_astring(struct buf *out, const char *s)
{
	if (atom_safe(s) && strcasecmp(s, "NIL") != 0)
		buf_puts(out, s);
	else
		imap_put_string(out, s, strlen(s));
}

/* Names go in UTF-8 once the client enabled UTF8=ACCEPT (RFC 6855) or
   IMAP4rev2 (RFC 9051 5.1), in modified UTF-7 before. */
static bool utf8_names(const struct imap_session *s)
{
	return s->utf8_accept || s->rev2;
}

void imap_put_mailbox(struct imap_session *s, struct buf *out, const char *name)
{
	if (strcasecmp(name, "INBOX") == 0) {
		buf_puts(out, "INBOX");
		return;
	}
	if (utf8_names(s)) {
		/* UTF-8 names go quoted (RFC 9051 allows UTF-8 in quoted strings). */
		if (atom_safe(name)) {
			imap_put_astring(out, name);
			return;
		}
		bool plain = true;
		for (const char *p = name; *p; p++)
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
				plain = false;
		if (plain) {
			buf_printf(out, "\"%s\"", name);
			return;
		}
		imap_put_string(out, name, strlen(name));
		return;
	}
	struct buf utf7 = BUF_INIT;
	imap_utf8_to_utf7(str_c(name), &utf7);
	imap_put_astring(out, buf_cstr(&utf7));
	buf_free(&utf7);
}

static const struct {
	uint32_t bit;
	const char *name;
} system_flags[] = {
        {STORE_FLAG_ANSWERED, "\\Answered"}, {STORE_FLAG_FLAGGED, "\\Flagged"},
        {STORE_FLAG_DELETED, "\\Deleted"},   {STORE_FLAG_SEEN, "\\Seen"},
        {STORE_FLAG_DRAFT, "\\Draft"},
};

int imap_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

bool imap_uid_in(const uint32_t *v, size_t n, uint32_t uid)
{
	return n && bsearch(&uid, v, n, sizeof *v, imap_cmp_u32) != NULL;
}

void imap_put_set(struct buf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		buf_printf(out, "%s%u", i ? "," : "", v[i]);
		if (j > i)
			buf_printf(out, ":%u", v[j]);
		i = j + 1;
	}
}

void imap_put_flags(struct buf *out, uint32_t flags, char **keywords)
{
	buf_putc(out, '(');
	bool first = true;
	for (size_t i = 0; i < ARRAY_SIZE(system_flags); i++)
		if (flags & system_flags[i].bit) {
			if (!first)
				buf_putc(out, ' ');
			buf_puts(out, system_flags[i].name);
			first = false;
		}
	if (flags & STORE_FLAG_RECENT) {
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, "\\Recent");
		first = false;
	}
	for (char **k = keywords; k && *k; k++) {
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, *k);
		first = false;
	}
	buf_putc(out, ')');
}

int imap_arg_mailbox(struct imap_session *s, const struct imap_arg *arg, struct buf *out)
{
	if (!imap_arg_is_string(arg) || arg->value.len == 0)
		return -1;
	if (memchr(arg->value.p, '\0', arg->value.len))
		return -1;
	if (utf8_names(s)) {
		buf_append(out, arg->value.p, arg->value.len);
		return 0;
	}
	/* 8-bit bytes in a name are only allowed once UTF8=ACCEPT is on. */
	for (size_t i = 0; i < arg->value.len; i++)
		if ((unsigned char)arg->value.p[i] >= 0x80)
			return -1;
	size_t start = out->len;
	if (imap_utf7_to_utf8(arg->value, out) < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 0;
}

void imap_strv_free(char ***v)
{
	if (*v)
		for (char **p = *v; *p; p++)
			free(*p);
	xfree(v);
}

static int one_flag(struct str f, uint32_t *flags, char ***kw, size_t *nkw, bool allow_recent,
                    struct buf *why)
{
	if (f.len && f.p[0] == '\\') {
		for (size_t i = 0; i < ARRAY_SIZE(system_flags); i++)
			if (str_eq_cstr_nocase(f, system_flags[i].name)) {
				*flags |= system_flags[i].bit;
				return 0;
			}
		if (allow_recent && str_eq_cstr_nocase(f, "\\Recent"))
			return 0;
		buf_printf(why, "Unknown system flag %.*s", (int)f.len, f.p);
		return -1;
	}
	if (f.len == 0 || f.len > STORE_MAX_KEYWORD) {
		buf_puts(why, "Bad keyword");
		return -1;
	}
	for (size_t i = 0; i < f.len; i++) {
		unsigned char c = (unsigned char)f.p[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c)) {
			buf_puts(why, "Bad keyword");
			return -1;
		}
	}
	for (size_t i = 0; i < *nkw; i++)
		if (str_eq_cstr_nocase(f, (*kw)[i]))
			return 0;
	*kw = xrealloc(*kw, (*nkw + 2) * sizeof **kw);
	(*kw)[(*nkw)++] = str_dup(f);
	(*kw)[*nkw] = NULL;
	return 0;
}

int imap_arg_flags(const struct imap_arg *arg, uint32_t *flags_r, char ***keywords_r,
                   bool allow_recent, struct buf *why)
{
	*flags_r = 0;
	*keywords_r = NULL;
	size_t nkw = 0;
	/* NIL is an atom too: the keyword "NIL". */
	if (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL)
		return one_flag(arg->type == IMAP_ARG_NIL ? str_c("NIL") : arg->value, flags_r,
		                keywords_r, &nkw, allow_recent, why);
	if (arg->type != IMAP_ARG_LIST) {
		buf_puts(why, "Flags expected");
		return -1;
	}
	for (size_t i = 0; i < arg->nlist; i++) {
		const struct imap_arg *f = &arg->list[i];
		if ((f->type != IMAP_ARG_ATOM && f->type != IMAP_ARG_NIL) ||
		    one_flag(f->type == IMAP_ARG_NIL ? str_c("NIL") : f->value, flags_r, keywords_r,
		             &nkw, allow_recent, why) < 0) {
			if (!why->len)
				buf_puts(why, "Bad flag");
			imap_strv_free(keywords_r);
			return -1;
		}
	}
	return 0;
}
