/*
 * imap_parse_fetch — FETCH items and modifiers, interpreted from the
 * tokenizer's tree (RFC 9051 and RFC 3501 fetch-att, RFC 3516 BINARY,
 * RFC 7162 MODSEQ / CHANGEDSINCE / VANISHED, RFC 4466 fetch-modifiers).
 *
 *     fetch       = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
 *                   fetch-att / "(" fetch-att *(SP fetch-att) ")")
 *                   [SP "(" fetch-modifier *(SP fetch-modifier) ")"]
 *     fetch-att   = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" /
 *                   "RFC822.HEADER" / "RFC822.SIZE" / "RFC822.TEXT" /
 *                   "BODY" ["STRUCTURE"] / "UID" / "MODSEQ" / "SAVEDATE" /
 *                   "EMAILID" / "BODY" [".PEEK"] section [partial] /
 *                   "BINARY" [".PEEK"] section-binary [partial] /
 *                   "BINARY.SIZE" section-binary
 *     section-spec = section-msgtext / (section-part ["." section-text])
 *     section-text = section-msgtext / "MIME"
 *     partial     = "<" number64 "." nz-number64 ">"
 *
 * A sectioned item reaches us as one atom ("BODY.PEEK[1.MIME]<0.100>") whose
 * section list the tokenizer parsed (see imap_parse.c): the first section
 * element is an atom holding the part numbers and the keyword
 * ("1.2.HEADER.FIELDS"), the second, for HEADER.FIELDS (NOT), the list of
 * field names. The text after the section's "]" must be empty or a partial.
 *
 * What the session finds in each att: item, peek (BODY.PEEK, BINARY.PEEK,
 * BINARY.SIZE and RFC822.HEADER do not set \Seen), the parts, the kind
 * (RFC822 is ALL, RFC822.HEADER is HEADER, RFC822.TEXT is TEXT), upper-cased
 * field names, the partial, and the text as written (a macro expands to atts
 * whose text is the item's name). Macros (ALL, FAST, FULL) stand alone.
 * Whether VANISHED is allowed (UID FETCH, QRESYNC enabled) is the session's
 * check; that it comes with CHANGEDSINCE is checked here.
 */
#include "imap/imap_internal.h"

#include <stdlib.h>
#include <string.h>

struct fetch_ctx {
	struct imap_fetch_spec *spec;
	size_t cap;
	struct buf *why;
};

static int bad(struct fetch_ctx *c, int rc, const char *why)
{
	if (c->why)
		buf_puts(c->why, why);
	return rc;
}

static struct imap_fetch_att *new_att(struct fetch_ctx *c, enum imap_fetch_item item,
                                      struct str text)
{
	struct imap_fetch_spec *s = c->spec;
	if (s->natts == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		s->atts = xrealloc(s->atts, c->cap * sizeof(*s->atts));
	}
	struct imap_fetch_att *att = &s->atts[s->natts++];
	memset(att, 0, sizeof(*att));
	att->item = item;
	att->kind = IMAP_SECTION_ALL;
	att->text = text;
	return att;
}

/* ---- plain items and macros ---------------------------------------------------- */

static const struct {
	const char *name;
	enum imap_fetch_item item;
	enum imap_section_kind kind;
	bool peek;
} plain_items[] = {
        {"ENVELOPE", IMAP_FETCH_ENVELOPE, IMAP_SECTION_ALL, false},
        {"FLAGS", IMAP_FETCH_FLAGS, IMAP_SECTION_ALL, false},
        {"INTERNALDATE", IMAP_FETCH_INTERNALDATE, IMAP_SECTION_ALL, false},
        {"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE, IMAP_SECTION_ALL, false},
        {"BODY", IMAP_FETCH_BODY_STRUCTURE, IMAP_SECTION_ALL, false},
        {"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, IMAP_SECTION_ALL, false},
        {"UID", IMAP_FETCH_UID, IMAP_SECTION_ALL, false},
        {"RFC822", IMAP_FETCH_RFC822, IMAP_SECTION_ALL, false},
        {"RFC822.HEADER", IMAP_FETCH_RFC822_HEADER, IMAP_SECTION_HEADER, true},
        {"RFC822.TEXT", IMAP_FETCH_RFC822_TEXT, IMAP_SECTION_TEXT, false},
        {"MODSEQ", IMAP_FETCH_MODSEQ, IMAP_SECTION_ALL, false},
        {"SAVEDATE", IMAP_FETCH_SAVEDATE, IMAP_SECTION_ALL, false},
        {"EMAILID", IMAP_FETCH_EMAILID, IMAP_SECTION_ALL, false},
};

static const enum imap_fetch_item macro_fast[] = {
        IMAP_FETCH_FLAGS,
        IMAP_FETCH_INTERNALDATE,
        IMAP_FETCH_RFC822_SIZE,
};
static const enum imap_fetch_item macro_all[] = {
        IMAP_FETCH_FLAGS,
        IMAP_FETCH_INTERNALDATE,
        IMAP_FETCH_RFC822_SIZE,
        IMAP_FETCH_ENVELOPE,
};
static const enum imap_fetch_item macro_full[] = {
        IMAP_FETCH_FLAGS,    IMAP_FETCH_INTERNALDATE,   IMAP_FETCH_RFC822_SIZE,
        IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY_STRUCTURE,
};

static const char *item_name(enum imap_fetch_item item)
{
	for (size_t k = 0; k < ARRAY_SIZE(plain_items); k++)
		if (plain_items[k].item == item)
			return plain_items[k].name;
	return "";
}

/* Expands ALL, FAST or FULL; false when text is not a macro. */
static bool add_macro(struct fetch_ctx *c, struct str text)
{
	const enum imap_fetch_item *items;
	size_t n;
	if (str_eq_cstr_nocase(text, "ALL")) {
		items = macro_all;
		n = ARRAY_SIZE(macro_all);
	} else if (str_eq_cstr_nocase(text, "FAST")) {
		items = macro_fast;
		n = ARRAY_SIZE(macro_fast);
	} else if (str_eq_cstr_nocase(text, "FULL")) {
		items = macro_full;
		n = ARRAY_SIZE(macro_full);
	} else {
		return false;
	}
	for (size_t k = 0; k < n; k++)
		new_att(c, items[k], str_c(item_name(items[k])));
	return true;
}

/* ---- sections ------------------------------------------------------------------------ */

static void upper(char *p)
{
	for (; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - ('a' - 'A'));
}

/* The field list of HEADER.FIELDS (NOT): one or more astrings. */
static int parse_fields(struct fetch_ctx *c, struct imap_fetch_att *att,
                        const struct imap_arg *list)
{
	if (list->type != IMAP_ARG_LIST || list->nlist == 0)
		return bad(c, -1, "HEADER.FIELDS needs a list of field names");
	att->fields = xcalloc(list->nlist + 1, sizeof(*att->fields));
	for (size_t k = 0; k < list->nlist; k++) {
		const struct imap_arg *f = &list->list[k];
		if (!imap_arg_is_string(f) || memchr(f->value.p, 0, f->value.len))
			return bad(c, -1, "a header field name must be a string");
		att->fields[k] = str_dup(f->value);
		upper(att->fields[k]);
		att->nfields++;
	}
	return 0;
}

/*
 * Reads the part numbers at the start of spec ("1.2.3" or "1.2.HEADER") into
 * att; *rest_r gets what follows the last number's "." (or an empty string).
 */
static int parse_parts(struct fetch_ctx *c, struct imap_fetch_att *att, struct str spec,
                       struct str *rest_r)
{
	size_t i = 0;
	while (i < spec.len && spec.p[i] >= '0' && spec.p[i] <= '9') {
		size_t k = i;
		while (k < spec.len && spec.p[k] >= '0' && spec.p[k] <= '9')
			k++;
		uint32_t n;
		if (!imap_parse_nz_number((struct str){spec.p + i, k - i}, &n))
			return bad(c, -1, "a part number must be a non-zero number");
		if (att->nparts == IMAP_MAX_SECTION_PARTS)
			return bad(c, -2, "too many part numbers in a section");
		att->part[att->nparts++] = n;
		if (k == spec.len) {
			i = k;
			break;
		}
		if (spec.p[k] != '.')
			return bad(c, -1, "malformed section part");
		i = k + 1;
		if (i == spec.len)
			return bad(c, -1, "section part ends in '.'");
	}
	*rest_r = (struct str){spec.p + i, spec.len - i};
	return 0;
}

static int parse_body_section(struct fetch_ctx *c, struct imap_fetch_att *att,
                              const struct imap_arg *sec, size_t nsec)
{
	if (nsec == 0)
		return 0; /* BODY[]: the whole message */
	if (sec[0].type != IMAP_ARG_ATOM || sec[0].nsection)
		return bad(c, -1, "malformed section");
	struct str rest;
	int rc = parse_parts(c, att, sec[0].value, &rest);
	if (rc < 0)
		return rc;
	if (rest.len == 0)
		att->kind = IMAP_SECTION_ALL;
	else if (str_eq_cstr_nocase(rest, "HEADER"))
		att->kind = IMAP_SECTION_HEADER;
	else if (str_eq_cstr_nocase(rest, "TEXT"))
		att->kind = IMAP_SECTION_TEXT;
	else if (str_eq_cstr_nocase(rest, "MIME") && att->nparts > 0)
		att->kind = IMAP_SECTION_MIME;
	else if (str_eq_cstr_nocase(rest, "HEADER.FIELDS"))
		att->kind = IMAP_SECTION_HEADER_FIELDS;
	else if (str_eq_cstr_nocase(rest, "HEADER.FIELDS.NOT"))
		att->kind = IMAP_SECTION_HEADER_FIELDS_NOT;
	else
		return bad(c, -1, "unknown section");
	bool fields = att->kind == IMAP_SECTION_HEADER_FIELDS ||
	              att->kind == IMAP_SECTION_HEADER_FIELDS_NOT;
	if (!fields)
		return nsec == 1 ? 0 : bad(c, -1, "malformed section");
	if (nsec != 2)
		return bad(c, -1, "HEADER.FIELDS needs a list of field names");
	return parse_fields(c, att, &sec[1]);
}

static int parse_binary_section(struct fetch_ctx *c, struct imap_fetch_att *att,
                                const struct imap_arg *sec, size_t nsec)
{
	if (nsec == 0)
		return 0;
	if (nsec != 1 || sec[0].type != IMAP_ARG_ATOM || sec[0].nsection)
		return bad(c, -1, "a BINARY section is part numbers only");
	struct str rest;
	int rc = parse_parts(c, att, sec[0].value, &rest);
	if (rc < 0)
		return rc;
	if (rest.len != 0)
		return bad(c, -1, "a BINARY section is part numbers only");
	return 0;
}

/* "<" number64 "." nz-number64 ">" */
static int parse_partial(struct fetch_ctx *c, struct imap_fetch_att *att, struct str p)
{
	if (p.len < 5 || p.p[0] != '<' || p.p[p.len - 1] != '>')
		return bad(c, -1, "malformed partial");
	const char *dot = memchr(p.p, '.', p.len);
	if (!dot)
		return bad(c, -1, "malformed partial");
	struct str off = {p.p + 1, (size_t)(dot - p.p) - 1};
	struct str cnt = {dot + 1, (size_t)(p.p + p.len - 1 - (dot + 1))};
	if (!imap_parse_number64(off, &att->offset) || cnt.len == 0 || cnt.p[0] == '0' ||
	    !imap_parse_number64(cnt, &att->count))
		return bad(c, -1, "malformed partial");
	att->partial = true;
	return 0;
}

static const struct {
	const char *name;
	enum imap_fetch_item item;
	bool peek;
} section_items[] = {
        {"BODY", IMAP_FETCH_BODY_SECTION, false},      {"BODY.PEEK", IMAP_FETCH_BODY_SECTION, true},
        {"BINARY", IMAP_FETCH_BINARY, false},          {"BINARY.PEEK", IMAP_FETCH_BINARY, true},
        {"BINARY.SIZE", IMAP_FETCH_BINARY_SIZE, true},
};

static int parse_section_item(struct fetch_ctx *c, const struct imap_arg *arg, size_t lb)
{
	struct str text = arg->value;
	struct str name = {text.p, lb};
	size_t k;
	for (k = 0; k < ARRAY_SIZE(section_items); k++)
		if (str_eq_cstr_nocase(name, section_items[k].name))
			break;
	if (k == ARRAY_SIZE(section_items))
		return bad(c, -1, "unknown fetch item");

	/* The section ends at the last "]" (the tokenizer admits none after it). */
	size_t rb = text.len;
	while (rb > lb && text.p[rb - 1] != ']')
		rb--;
	if (rb <= lb + 1 || (arg->nsection == 0 && rb != lb + 2))
		return bad(c, -1, "malformed section");
	rb--;
	struct str suffix = {text.p + rb + 1, text.len - rb - 1};

	struct imap_fetch_att *att = new_att(c, section_items[k].item, text);
	att->peek = section_items[k].peek;
	int rc = att->item == IMAP_FETCH_BODY_SECTION
	                 ? parse_body_section(c, att, arg->section, arg->nsection)
	                 : parse_binary_section(c, att, arg->section, arg->nsection);
	if (rc < 0)
		return rc;
	if (suffix.len == 0)
		return 0;
	if (att->item == IMAP_FETCH_BINARY_SIZE)
		return bad(c, -1, "BINARY.SIZE takes no partial");
	return parse_partial(c, att, suffix);
}

static int parse_item(struct fetch_ctx *c, const struct imap_arg *arg)
{
	if (arg->type != IMAP_ARG_ATOM)
		return bad(c, -1, "a fetch item must be an atom");
	struct str text = arg->value;
	const char *lb = memchr(text.p, '[', text.len);
	if (lb)
		return parse_section_item(c, arg, (size_t)(lb - text.p));
	for (size_t k = 0; k < ARRAY_SIZE(plain_items); k++) {
		if (str_eq_cstr_nocase(text, plain_items[k].name)) {
			struct imap_fetch_att *att = new_att(c, plain_items[k].item, text);
			att->kind = plain_items[k].kind;
			att->peek = plain_items[k].peek;
			return 0;
		}
	}
	if (str_eq_cstr_nocase(text, "ALL") || str_eq_cstr_nocase(text, "FAST") ||
	    str_eq_cstr_nocase(text, "FULL"))
		return bad(c, -1, "a macro cannot be combined with other items");
	return bad(c, -1, "unknown fetch item");
}

/* ---- modifiers -------------------------------------------------------------------------- */

static int parse_modifiers(struct fetch_ctx *c, const struct imap_arg *arg)
{
	if (arg->type != IMAP_ARG_LIST || arg->nlist == 0)
		return bad(c, -1, "fetch modifiers must be a non-empty list");
	bool changedsince = false;
	for (size_t k = 0; k < arg->nlist; k++) {
		const struct imap_arg *m = &arg->list[k];
		if (m->type != IMAP_ARG_ATOM)
			return bad(c, -1, "malformed fetch modifier");
		if (str_eq_cstr_nocase(m->value, "CHANGEDSINCE")) {
			uint64_t v;
			if (changedsince)
				return bad(c, -1, "CHANGEDSINCE given twice");
			if (k + 1 == arg->nlist || arg->list[k + 1].type != IMAP_ARG_ATOM ||
			    !imap_parse_number64(arg->list[k + 1].value, &v) || v == 0)
				return bad(c, -1, "CHANGEDSINCE needs a mod-sequence");
			c->spec->changedsince = v;
			changedsince = true;
			k++;
		} else if (str_eq_cstr_nocase(m->value, "VANISHED")) {
			if (c->spec->vanished)
				return bad(c, -1, "VANISHED given twice");
			c->spec->vanished = true;
		} else {
			return bad(c, -1, "unknown fetch modifier");
		}
	}
	if (c->spec->vanished && !changedsince)
		return bad(c, -1, "VANISHED needs CHANGEDSINCE");
	return 0;
}

static int parse_spec(struct fetch_ctx *c, const struct imap_arg *args, size_t nargs)
{
	if (nargs == 0)
		return bad(c, -1, "missing fetch items");
	if (nargs > 2)
		return bad(c, -1, "too many arguments to FETCH");
	const struct imap_arg *items = &args[0];
	int rc;
	if (items->type == IMAP_ARG_LIST) {
		if (items->nlist == 0)
			return bad(c, -1, "empty fetch item list");
		for (size_t k = 0; k < items->nlist; k++)
			if ((rc = parse_item(c, &items->list[k])) < 0)
				return rc;
	} else if (items->type != IMAP_ARG_ATOM || !add_macro(c, items->value)) {
		if ((rc = parse_item(c, items)) < 0)
			return rc;
	}
	if (nargs == 2)
		return parse_modifiers(c, &args[1]);
	return 0;
}

int imap_fetch_parse(const struct imap_arg *args, size_t nargs, struct imap_fetch_spec *spec,
                     struct buf *why)
{
	memset(spec, 0, sizeof(*spec));
	struct fetch_ctx c = {spec, 0, why};
	int rc = parse_spec(&c, args, nargs);
	if (rc < 0)
		imap_fetch_spec_free(spec);
	return rc;
}

void imap_fetch_spec_free(struct imap_fetch_spec *spec)
{
	for (size_t k = 0; k < spec->natts; k++) {
		char **f = spec->atts[k].fields;
		if (!f)
			continue;
		for (size_t j = 0; f[j]; j++)
			free(f[j]);
		free(f);
	}
	free(spec->atts);
	memset(spec, 0, sizeof(*spec));
}
