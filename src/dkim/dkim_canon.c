/*
 * dkim_canon — pure: the relaxed canonicalisations of RFC 6376 3.4.2 and
 * 3.4.4, the choice of the fields a signature covers, and the text of the
 * DKIM-Signature field. No I/O and no OpenSSL: it links into its fuzzer with
 * core and mime's header iterator only.
 */
#include "dkim/dkim.h"

#include "mime/mime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- body --------------------------------------------------------------------------- */

void dkim_body_canon_init(struct dkim_body_canon *c)
{
	memset(c, 0, sizeof *c);
}

/* One byte of content: the held-back empty lines and whitespace are real then. */
static void body_char(struct dkim_body_canon *c, char ch, struct buf *out)
{
	for (; c->empty_lines; c->empty_lines--)
		buf_append(out, "\r\n", 2);
	if (c->wsp) /* within a line, and at its start, a run of WSP is one SP */
		buf_putc(out, ' ');
	c->wsp = false;
	buf_putc(out, ch);
	c->in_line = true;
}

static void body_eol(struct dkim_body_canon *c, struct buf *out)
{
	c->wsp = false; /* whitespace at the end of a line goes */
	if (c->in_line) {
		buf_append(out, "\r\n", 2);
		c->in_line = false;
	} else {
		c->empty_lines++;
	}
}

void dkim_body_canon_push(struct dkim_body_canon *c, const char *p, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];
		if (c->cr) {
			c->cr = false;
			if (ch == '\n') {
				body_eol(c, out);
				continue;
			}
			body_char(c, '\r', out); /* a bare CR is content */
		}
		if (ch == '\r')
			c->cr = true;
		else if (is_wsp(ch))
			c->wsp = true;
		else
			body_char(c, ch, out);
	}
}

void dkim_body_canon_finish(struct dkim_body_canon *c, struct buf *out)
{
	if (c->cr) {
		c->cr = false;
		body_char(c, '\r', out);
	}
	/* A last line without CRLF gets one; empty lines at the end are dropped. */
	if (c->in_line)
		buf_append(out, "\r\n", 2);
	c->in_line = false;
	c->empty_lines = 0;
	c->wsp = false;
}

/* ---- header fields -------------------------------------------------------------------- */

void dkim_canon_header(const char *name, size_t name_len, const char *value, size_t value_len,
                       bool crlf, struct buf *out)
{
	buf_reserve(out, name_len + value_len + 3);
	for (size_t i = 0; i < name_len; i++) {
		char ch = name[i];
		buf_putc(out, ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch);
	}
	buf_putc(out, ':');
	bool wsp = false, any = false;
	for (size_t i = 0; i < value_len; i++) {
		char ch = value[i];
		if (ch == '\r' && i + 1 < value_len && value[i + 1] == '\n')
			continue; /* unfolding: the line end goes, its WSP stays */
		if (ch == '\n')
			continue;
		if (is_wsp(ch)) {
			wsp = true;
			continue;
		}
		if (wsp && any)
			buf_putc(out, ' ');
		wsp = false;
		buf_putc(out, ch);
		any = true;
	}
	if (crlf)
		buf_append(out, "\r\n", 2);
}

void dkim_canon_field(const char *field, size_t len, struct buf *out)
{
	const char *colon = memchr(field, ':', len);
	if (!colon) {
		dkim_canon_header(field, len, "", 0, false, out);
		return;
	}
	size_t name_len = (size_t)(colon - field);
	while (name_len && is_wsp(field[name_len - 1]))
		name_len--;
	dkim_canon_header(field, name_len, colon + 1, len - (size_t)(colon - field) - 1, false,
	                  out);
}

/* ---- the signed fields ------------------------------------------------------------------ */

static const char *const signed_fields[] = {
        "From",         "To",           "Cc",
        "Subject",      "Date",         "Message-ID",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
        "Reply-To",     "In-Reply-To",  "References",
};
#define LIST_PREFIX "List-"

struct field {
	struct str name;
	struct str value;
};

struct selection {
	const struct field *fields;
	size_t nfields;
	size_t entries;
	struct buf *hlist, *canon;
};

static void add_entry(struct selection *sel, struct str name)
{
	if (sel->hlist->len)
		buf_putc(sel->hlist, ':');
	for (size_t i = 0; i < name.len; i++) {
		char ch = name.p[i];
		buf_putc(sel->hlist, ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch);
	}
	sel->entries++;
}

/* Every instance of name (at most DKIM_MAX_INSTANCES, the last ones), bottom-up,
   then one entry more when oversign. */
static void select_name(struct selection *sel, struct str name, bool oversign)
{
	size_t idx[DKIM_MAX_INSTANCES], n = 0;
	for (size_t i = sel->nfields; i-- > 0 && n < DKIM_MAX_INSTANCES;)
		if (str_eq_nocase(sel->fields[i].name, name))
			idx[n++] = i;
	for (size_t k = 0; k < n && sel->entries < DKIM_MAX_SIGNED_FIELDS; k++) {
		const struct field *f = &sel->fields[idx[k]];
		add_entry(sel, name);
		dkim_canon_header(f->name.p, f->name.len, f->value.p, f->value.len, true,
		                  sel->canon);
	}
	if (oversign && sel->entries < DKIM_MAX_SIGNED_FIELDS)
		add_entry(sel, name);
}

static bool seen_before(const struct field *fields, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (str_eq_nocase(fields[k].name, fields[i].name))
			return true;
	return false;
}

size_t dkim_canon_select(const char *hdr, size_t hlen, struct buf *hlist, struct buf *canon)
{
	struct field *fields = xcalloc(DKIM_MAX_HEADER_FIELDS, sizeof *fields);
	size_t n = 0;
	bool from = false;
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, hdr, hlen);
	while (n < DKIM_MAX_HEADER_FIELDS && mime_header_next(&it, &f)) {
		fields[n].name = (struct str){f.name, f.name_len};
		fields[n].value = (struct str){f.value, f.value_len};
		from = from || str_eq_cstr_nocase(fields[n].name, "From");
		n++;
	}
	struct buf hl = BUF_INIT;
	struct selection sel = {fields, n, 0, &hl, canon};
	if (from) {
		for (size_t i = 0; i < ARRAY_SIZE(signed_fields); i++)
			select_name(&sel, str_c(signed_fields[i]), i == 0);
		for (size_t i = 0; i < n; i++)
			if (str_has_prefix_nocase(fields[i].name, LIST_PREFIX) &&
			    fields[i].name.len <= DKIM_MAX_LIST_NAME && !seen_before(fields, i))
				select_name(&sel, fields[i].name, false);
	}
	buf_append(hlist, hl.data ? hl.data : "", hl.len);
	buf_free(&hl);
	free(fields);
	return sel.entries;
}

/* ---- the DKIM-Signature field --------------------------------------------------------------- */

/* Columns used on the field's last line. */
static size_t column(const struct buf *b)
{
	size_t i = b->len;
	while (i > 0 && b->data[i - 1] != '\n')
		i--;
	return b->len - i;
}

/* Appends one tag, after "; " or on a new folded line when it would not fit. */
static void put_tag(struct buf *out, const char *tag, const char *value, bool first)
{
	size_t len = strlen(tag) + 1 + strlen(value);
	if (!first) {
		buf_putc(out, ';');
		if (column(out) + 1 + len + 1 > DKIM_FOLD)
			buf_append(out, "\r\n\t", 3);
		else
			buf_putc(out, ' ');
	}
	buf_printf(out, "%s=", tag);
	/* A long value (h=) folds after a colon: FWS is allowed around them. */
	for (const char *p = value; *p;) {
		size_t seg = strcspn(p, ":");
		size_t take = seg + (p[seg] == ':');
		if (p != value && column(out) + take + 1 > DKIM_FOLD)
			buf_append(out, "\r\n\t", 3);
		buf_append(out, p, take);
		p += take;
	}
}

void dkim_sig_field(const struct dkim_sig *sig, struct buf *out)
{
	char t[24];
	buf_puts(out, "DKIM-Signature: ");
	put_tag(out, "v", "1", true);
	put_tag(out, "a", sig->algorithm, false);
	put_tag(out, "c", "relaxed/relaxed", false);
	put_tag(out, "d", sig->domain, false);
	put_tag(out, "s", sig->selector, false);
	snprintf(t, sizeof t, "%lld", (long long)sig->timestamp);
	put_tag(out, "t", t, false);
	put_tag(out, "h", sig->hlist, false);
	put_tag(out, "bh", sig->bh, false);
	/* b= starts a line of its own, so its value has the most room. */
	buf_append(out, ";\r\n\tb=", 6);
}

void dkim_sig_finish(struct buf *field, const char *b64, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t room = DKIM_FOLD > column(field) ? DKIM_FOLD - column(field) : 0;
		if (room == 0) {
			buf_append(field, "\r\n\t", 3);
			continue;
		}
		size_t take = len - i < room ? len - i : room;
		buf_append(field, b64 + i, take);
		i += take;
	}
	buf_append(field, "\r\n", 2);
}

bool dkim_selector_valid(const char *s)
{
	size_t len = strlen(s), label = 0;
	if (len == 0 || len > DKIM_MAX_SELECTOR)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ldh = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || c == '-';
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!ldh || (label == 0 && c == '-'))
			return false;
		label++;
	}
	return label > 0 && s[len - 1] != '-';
}
