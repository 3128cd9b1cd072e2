/*
 * mime_parse — the MIME part tree of a stored message, with exact offsets.
 *
 * Top-down: an entity (the message, a body part, an embedded message) owns a
 * byte range. Its header ends at the first empty line; its Content-* fields
 * decide what its body is. A multipart body is split at its own delimiter
 * lines, found by scanning only the multipart's range, so an inner part can
 * never run past its parent's next delimiter; each piece is then parsed the
 * same way. Depth is bounded by MIME_MAX_DEPTH, so recursion is too, and the
 * work is at most (MIME_MAX_DEPTH + 1) passes over the message.
 */
#include "mime/mime_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct parse_ctx {
	const char *msg;
	size_t len;
	size_t nparts;
};

/* A delimiter line inside a multipart body. */
struct delim {
	size_t line_start; /* the first '-' */
	size_t line_end;   /* after its LF, or the end of the range */
	size_t eol_before; /* length of the line end just before it (belongs to it) */
	bool close;
};

char *mime_strdup_nonul(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	buf_reserve(&b, len);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0')
			buf_append(&b, "\xEF\xBF\xBD", 3);
		else
			buf_putc(&b, s[i]);
	}
	return buf_steal(&b);
}

static char *dup_unfolded(const struct mime_header_field *f)
{
	struct buf b = BUF_INIT;
	mime_header_unfold(f->value, f->value_len, &b);
	char *s = mime_strdup_nonul(b.data ? b.data : "", b.len);
	buf_free(&b);
	return s;
}

static bool name_is(const struct mime_header_field *f, const char *name)
{
	return str_eq_nocase((struct str){f->name, f->name_len}, str_c(name));
}

static void set_type(struct mime_part *part, const char *type, const char *subtype)
{
	free(part->type);
	free(part->subtype);
	part->type = xstrdup(type);
	part->subtype = xstrdup(subtype);
}

/* "type/subtype; params". Returns false when the value is not a valid type. */
static bool parse_content_type(struct mime_part *part, const struct mime_header_field *f)
{
	struct buf v = BUF_INIT;
	struct mime_lex lx;
	const char *t, *s;
	size_t tl, sl;
	bool ok = false;
	mime_header_unfold(f->value, f->value_len, &v);
	mime_lex_init(&lx, v.data ? v.data : "", v.len);
	mime_lex_skip_cfws(&lx, NULL);
	tl = mime_lex_token(&lx, &t);
	mime_lex_skip_cfws(&lx, NULL);
	if (tl > 0 && mime_lex_peek(&lx) == '/') {
		lx.pos++;
		mime_lex_skip_cfws(&lx, NULL);
		sl = mime_lex_token(&lx, &s);
		if (sl > 0) {
			free(part->type);
			free(part->subtype);
			part->type = str_dup_lower((struct str){t, tl});
			part->subtype = str_dup_lower((struct str){s, sl});
			mime_params_parse(&lx, &part->params, &part->nparams);
			ok = true;
		}
	}
	buf_free(&v);
	return ok;
}

static char *parse_token_field(const struct mime_header_field *f, struct mime_lex *lx,
                               struct buf *v)
{
	const char *t;
	mime_header_unfold(f->value, f->value_len, v);
	mime_lex_init(lx, v->data ? v->data : "", v->len);
	mime_lex_skip_cfws(lx, NULL);
	size_t tl = mime_lex_token(lx, &t);
	return tl > 0 ? str_dup_lower((struct str){t, tl}) : NULL;
}

static void parse_language(struct mime_part *part, const struct mime_header_field *f)
{
	struct buf v = BUF_INIT;
	struct mime_lex lx;
	mime_header_unfold(f->value, f->value_len, &v);
	mime_lex_init(&lx, v.data ? v.data : "", v.len);
	for (;;) {
		const char *t;
		mime_lex_skip_cfws(&lx, NULL);
		size_t tl = mime_lex_token(&lx, &t);
		if (tl == 0 || part->nlanguages >= MIME_MAX_PARAMS)
			break;
		part->languages =
		        xrealloc(part->languages, (part->nlanguages + 1) * sizeof(char *));
		part->languages[part->nlanguages++] = xstrndup(t, tl);
		mime_lex_skip_cfws(&lx, NULL);
		if (mime_lex_peek(&lx) != ',')
			break;
		lx.pos++;
	}
	buf_free(&v);
}

/* Reads the Content-* fields of the header; the first of each counts. */
static void parse_fields(struct mime_part *part, const char *hdr, size_t len, bool *have_type,
                         bool *bad_type, bool *have_version)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	bool seen_disp = false, seen_lang = false;
	*have_type = false;
	*bad_type = false;
	*have_version = false;
	mime_header_iter_init(&it, hdr, len);
	while (mime_header_next(&it, &f)) {
		if (name_is(&f, "mime-version"))
			*have_version = true;
		if (f.name_len < 8 ||
		    !str_has_prefix_nocase((struct str){f.name, f.name_len}, "content-"))
			continue;
		if (name_is(&f, "content-type")) {
			if (!*have_type) {
				*have_type = true;
				*bad_type = !parse_content_type(part, &f);
			}
		} else if (name_is(&f, "content-transfer-encoding")) {
			if (part->encoding == NULL) {
				struct buf v = BUF_INIT;
				struct mime_lex lx;
				part->encoding = parse_token_field(&f, &lx, &v);
				buf_free(&v);
			}
		} else if (name_is(&f, "content-disposition")) {
			if (!seen_disp) {
				struct buf v = BUF_INIT;
				struct mime_lex lx;
				seen_disp = true;
				part->disposition = parse_token_field(&f, &lx, &v);
				if (part->disposition)
					mime_params_parse(&lx, &part->disp_params,
					                  &part->ndisp_params);
				buf_free(&v);
			}
		} else if (name_is(&f, "content-language")) {
			if (!seen_lang) {
				seen_lang = true;
				parse_language(part, &f);
			}
		} else if (name_is(&f, "content-id")) {
			if (part->id == NULL)
				part->id = dup_unfolded(&f);
		} else if (name_is(&f, "content-description")) {
			if (part->description == NULL)
				part->description = dup_unfolded(&f);
		} else if (name_is(&f, "content-md5")) {
			if (part->md5 == NULL)
				part->md5 = dup_unfolded(&f);
		} else if (name_is(&f, "content-location")) {
			if (part->location == NULL)
				part->location = dup_unfolded(&f);
		}
	}
}

static const char *find_param(const struct mime_param *ps, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(ps[i].name, name) == 0)
			return ps[i].value;
	return NULL;
}

/* Forgets every Content-* field but the type (which is absent here). */
static void drop_content_fields(struct mime_part *part)
{
	xfree(&part->encoding);
	xfree(&part->disposition);
	mime_params_free(&part->disp_params, part->ndisp_params);
	part->ndisp_params = 0;
	for (size_t i = 0; i < part->nlanguages; i++)
		free(part->languages[i]);
	xfree(&part->languages);
	part->nlanguages = 0;
	xfree(&part->id);
	xfree(&part->description);
	xfree(&part->md5);
	xfree(&part->location);
}

static void drop_content_type(struct mime_part *part)
{
	mime_params_free(&part->params, part->nparams);
	part->nparams = 0;
	set_type(part, "text", "plain");
	part->flags |= MIME_PART_DEFAULT_TYPE;
}

static void make_opaque(struct mime_part *part)
{
	part->kind = MIME_PART_LEAF;
	part->flags |= MIME_PART_OPAQUE;
	set_type(part, "application", "octet-stream");
}

static struct mime_part *part_new(struct parse_ctx *c, struct mime_part *parent)
{
	struct mime_part *p = xcalloc(1, sizeof(*p));
	p->parent = parent;
	p->depth = parent ? parent->depth + 1 : 0;
	c->nparts++;
	return p;
}

static size_t count_lf(const char *p, size_t n)
{
	size_t lines = 0;
	const char *end = p + n;
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		if (lf == NULL)
			break;
		lines++;
		p = lf + 1;
	}
	return lines;
}

/*
 * The delimiter lines of boundary b in [start, end), up to and including the
 * close delimiter. Returns false, with nothing kept, if they would need more
 * parts than the budget allows.
 */
static bool find_delims(const struct parse_ctx *c, size_t start, size_t end, const char *b,
                        size_t blen, size_t budget, struct delim **d_r, size_t *n_r)
{
	const char *m = c->msg;
	struct delim *d = NULL;
	size_t n = 0, cap = 0, nopen = 0;
	size_t pos = start;
	while (pos < end) {
		const char *lf = memchr(m + pos, '\n', end - pos);
		size_t le = lf ? (size_t)(lf - m) + 1 : end;
		size_t ce = le;
		if (lf) {
			ce--;
			if (ce > pos && m[ce - 1] == '\r')
				ce--;
		}
		if (ce - pos >= 2 + blen && m[pos] == '-' && m[pos + 1] == '-' &&
		    memcmp(m + pos + 2, b, blen) == 0) {
			size_t a = pos + 2 + blen;
			bool close = ce - a >= 2 && m[a] == '-' && m[a + 1] == '-';
			bool ok = close;
			if (!close) {
				ok = true;
				for (size_t i = a; i < ce; i++)
					if (m[i] != ' ' && m[i] != '\t')
						ok = false;
			}
			if (ok) {
				if (!close && ++nopen > budget) {
					free(d);
					return false;
				}
				if (n == cap) {
					cap = cap ? cap * 2 : 8;
					d = xrealloc(d, cap * sizeof(*d));
				}
				d[n].line_start = pos;
				d[n].line_end = le;
				d[n].close = close;
				d[n].eol_before = 0;
				if (pos > start && m[pos - 1] == '\n')
					d[n].eol_before =
					        (pos - 1 > start && m[pos - 2] == '\r') ? 2 : 1;
				n++;
				if (close)
					break;
			}
		}
		pos = le;
	}
	*d_r = d;
	*n_r = n;
	return true;
}

static void parse_entity(struct parse_ctx *c, struct mime_part *part, size_t start, size_t end,
                         bool in_digest);

static void parse_multipart(struct parse_ctx *c, struct mime_part *part, size_t end)
{
	const char *b = find_param(part->params, part->nparams, "boundary");
	size_t blen = b ? strlen(b) : 0;
	if (blen == 0 || blen > MIME_MAX_BOUNDARY || memchr(b, '\r', blen) ||
	    memchr(b, '\n', blen)) {
		/* invalid Content-Type (RFC 2045 5.2): text/plain */
		drop_content_type(part);
		part->kind = MIME_PART_LEAF;
		return;
	}
	if (part->depth >= MIME_MAX_DEPTH) {
		make_opaque(part);
		return;
	}
	struct delim *d;
	size_t n;
	size_t budget = MIME_MAX_PARTS - c->nparts;
	if (!find_delims(c, part->body_offset, end, b, blen, budget, &d, &n)) {
		make_opaque(part);
		return;
	}
	bool digest = strcmp(part->subtype, "digest") == 0;
	struct mime_part **tail = &part->children;
	for (size_t i = 0; i < n && !d[i].close; i++) {
		struct mime_part *child = part_new(c, part);
		*tail = child;
		tail = &child->next;
		part->nchildren++;
	}
	if (n == 0 || !d[n - 1].close)
		part->flags |= MIME_PART_NO_END;
	struct mime_part *child = part->children;
	for (size_t i = 0; i < n && !d[i].close; i++, child = child->next) {
		size_t cs = d[i].line_end;
		size_t ce = end;
		if (i + 1 < n) {
			ce = d[i + 1].line_start - d[i + 1].eol_before;
			if (ce < cs)
				ce = cs;
		}
		parse_entity(c, child, cs, ce, digest);
	}
	free(d);
}

static void parse_message(struct parse_ctx *c, struct mime_part *part, size_t end)
{
	if (part->encoding && (strcmp(part->encoding, "base64") == 0 ||
	                       strcmp(part->encoding, "quoted-printable") == 0)) {
		make_opaque(part);
		return;
	}
	if (part->depth >= MIME_MAX_DEPTH || c->nparts + 1 > MIME_MAX_PARTS) {
		make_opaque(part);
		return;
	}
	struct mime_part *m = part_new(c, part);
	m->flags |= MIME_PART_IS_MESSAGE;
	part->children = m;
	part->nchildren = 1;
	parse_entity(c, m, part->body_offset, end, false);
}

static void parse_entity(struct parse_ctx *c, struct mime_part *part, size_t start, size_t end,
                         bool in_digest)
{
	const char *m = c->msg;
	size_t hl = mime_header_len(m + start, end - start);
	bool have_type, bad_type, have_version;
	part->header_offset = start;
	part->header_len = hl;
	part->body_offset = start + hl;
	part->body_len = end - part->body_offset;
	part->body_lines = count_lf(m + part->body_offset, part->body_len);

	parse_fields(part, m + start, hl, &have_type, &bad_type, &have_version);
	if ((part->flags & MIME_PART_IS_MESSAGE) && !have_version && !have_type) {
		/* a message that is not MIME (RFC 2045 section 4): neither
		 * MIME-Version nor Content-Type, so its Content-* fields mean
		 * nothing (Dovecot takes a lone Content-Type as MIME too) */
		drop_content_fields(part);
	}
	if (!have_type) {
		set_type(part, in_digest ? "message" : "text", in_digest ? "rfc822" : "plain");
		part->flags |= MIME_PART_DEFAULT_TYPE;
	} else if (bad_type) {
		drop_content_type(part);
	}

	part->kind = MIME_PART_LEAF;
	if (strcmp(part->type, "multipart") == 0) {
		part->kind = MIME_PART_MULTIPART;
		parse_multipart(c, part, end);
	} else if (strcmp(part->type, "message") == 0 &&
	           (strcmp(part->subtype, "rfc822") == 0 || strcmp(part->subtype, "global") == 0)) {
		part->kind = MIME_PART_MESSAGE;
		parse_message(c, part, end);
	}
}

int mime_parse(const char *msg, size_t len, struct mime_part **root_r)
{
	struct parse_ctx c = {.msg = msg ? msg : "", .len = msg ? len : 0, .nparts = 0};
	struct mime_part *root = part_new(&c, NULL);
	root->flags |= MIME_PART_IS_MESSAGE;
	parse_entity(&c, root, 0, c.len, false);
	*root_r = root;
	return 0;
}

void mime_part_free(struct mime_part **pp)
{
	struct mime_part *p = *pp;
	if (p == NULL)
		return;
	*pp = NULL;
	while (p) {
		struct mime_part *next = p->next;
		mime_part_free(&p->children);
		free(p->type);
		free(p->subtype);
		mime_params_free(&p->params, p->nparams);
		free(p->id);
		free(p->description);
		free(p->md5);
		free(p->location);
		free(p->encoding);
		free(p->disposition);
		mime_params_free(&p->disp_params, p->ndisp_params);
		for (size_t i = 0; i < p->nlanguages; i++)
			free(p->languages[i]);
		free(p->languages);
		free(p);
		p = next;
	}
}

/* ---- lookups ----------------------------------------------------------------------- */

static const struct mime_part *nth_child(const struct mime_part *p, unsigned long n)
{
	const struct mime_part *c = p->children;
	for (unsigned long i = 1; c && i < n; i++)
		c = c->next;
	return c;
}

/* Part n of a message entity: its parts if multipart, else only 1, itself. */
static const struct mime_part *select_in_message(const struct mime_part *e, unsigned long n)
{
	if (e->kind == MIME_PART_MULTIPART)
		return nth_child(e, n);
	return n == 1 ? e : NULL;
}

const struct mime_part *mime_part_find(const struct mime_part *root, const char *section)
{
	const struct mime_part *cur = NULL;
	const char *s = section;
	if (*s == '\0')
		return root;
	for (;;) {
		unsigned long n = 0;
		if (*s < '1' || *s > '9')
			return NULL;
		while (*s >= '0' && *s <= '9') {
			n = n * 10 + (unsigned long)(*s - '0');
			if (n > MIME_MAX_PARTS)
				return NULL;
			s++;
		}
		if (cur == NULL)
			cur = select_in_message(root, n);
		else if (cur->kind == MIME_PART_MULTIPART)
			cur = nth_child(cur, n);
		else if (cur->kind == MIME_PART_MESSAGE)
			cur = select_in_message(cur->children, n);
		else
			cur = NULL;
		if (cur == NULL)
			return NULL;
		if (*s == '\0')
			return cur;
		if (*s != '.')
			return NULL;
		s++;
	}
}

const struct mime_part *mime_part_message(const struct mime_part *part)
{
	return part->kind == MIME_PART_MESSAGE ? part->children : NULL;
}

const char *mime_part_param(const struct mime_part *part, const char *name)
{
	char *ext = xasprintf("%s*", name);
	const char *v = find_param(part->params, part->nparams, ext);
	free(ext);
	return v ? v : find_param(part->params, part->nparams, name);
}

const char *mime_part_disp_param(const struct mime_part *part, const char *name)
{
	char *ext = xasprintf("%s*", name);
	const char *v = find_param(part->disp_params, part->ndisp_params, ext);
	free(ext);
	return v ? v : find_param(part->disp_params, part->ndisp_params, name);
}

const char *mime_part_charset(const struct mime_part *part)
{
	const char *cs = find_param(part->params, part->nparams, "charset");
	return cs && *cs ? cs : "us-ascii";
}
