/*
 * mime_address — RFC 5322 address lists (section 3.4), obsolete forms of
 * section 4.4 tolerated, RFC 6532 UTF-8 taken as atom text.
 *
 * The value is first cut into tokens (atoms, quoted strings, domain literals,
 * comments, specials), then read element by element: a group
 * "name: mailbox, ...;", a name-addr "name <route:local@domain>" or an
 * addr-spec "local@domain (comment)". Whatever does not fit is repaired or
 * skipped up to the next comma, never fatal.
 */
#include "mime/mime_internal.h"

#include <stdlib.h>
#include <string.h>

enum tok_type { TOK_ATOM, TOK_QUOTED, TOK_DOMLIT, TOK_COMMENT, TOK_SPECIAL };

struct tok {
	enum tok_type type;
	bool ws_before; /* whitespace or a comment came just before */
	char special;
	size_t off, len; /* text: in the source (atom, domlit) or in the text buf */
	bool in_text;
};

struct aparser {
	const char *src;
	struct buf text; /* unquoted strings and comments */
	struct tok *toks;
	size_t ntoks, cap, i;
	struct mime_address **list;
	size_t *count;
};

static bool is_special(char c)
{
	return strchr("()<>@,;:\\\".[]", c) != NULL && c != '\0';
}

static void push(struct aparser *ap, struct tok t)
{
	if (ap->ntoks == ap->cap) {
		ap->cap = ap->cap ? ap->cap * 2 : 16;
		ap->toks = xrealloc(ap->toks, ap->cap * sizeof(*ap->toks));
	}
	ap->toks[ap->ntoks++] = t;
}

static void tokenize(struct aparser *ap, const char *s, size_t len)
{
	size_t i = 0;
	bool ws = false;
	while (i < len) {
		char c = s[i];
		if (mime_is_wsp(c)) {
			ws = true;
			i++;
			continue;
		}
		struct tok t = {.ws_before = ws};
		ws = false;
		if (c == '(') {
			struct mime_lex lx = {s, len, i};
			size_t start = ap->text.len;
			struct buf comment = BUF_INIT;
			mime_lex_skip_cfws(&lx, &comment);
			/* skip_cfws also ate whitespace and later comments: keep the
			 * last comment's text, which is what a name is taken from */
			buf_append(&ap->text, comment.data ? comment.data : "", comment.len);
			buf_free(&comment);
			t.type = TOK_COMMENT;
			t.in_text = true;
			t.off = start;
			t.len = ap->text.len - start;
			i = lx.pos;
			ws = true;
		} else if (c == '"') {
			struct mime_lex lx = {s, len, i};
			size_t start = ap->text.len;
			mime_lex_quoted(&lx, &ap->text);
			t.type = TOK_QUOTED;
			t.in_text = true;
			t.off = start;
			t.len = ap->text.len - start;
			i = lx.pos;
		} else if (c == '[') {
			size_t j = i + 1;
			while (j < len && s[j] != ']') {
				if (s[j] == '\\' && j + 1 < len)
					j++;
				j++;
			}
			if (j < len)
				j++;
			t.type = TOK_DOMLIT;
			t.off = i;
			t.len = j - i;
			i = j;
		} else if (is_special(c) && c != '\\') {
			t.type = TOK_SPECIAL;
			t.special = c;
			t.off = i;
			t.len = 1;
			i++;
		} else {
			size_t j = i;
			while (j < len && !mime_is_wsp(s[j]) && !(is_special(s[j]) && s[j] != '\\'))
				j++;
			t.type = TOK_ATOM;
			t.off = i;
			t.len = j - i;
			i = j;
		}
		push(ap, t);
	}
}

static const char *tok_text(const struct aparser *ap, const struct tok *t)
{
	return t->in_text ? ap->text.data + t->off : ap->src + t->off;
}

static bool at_special(const struct aparser *ap, char c)
{
	return ap->i < ap->ntoks && ap->toks[ap->i].type == TOK_SPECIAL &&
	       ap->toks[ap->i].special == c;
}

static void skip_comments(struct aparser *ap)
{
	while (ap->i < ap->ntoks && ap->toks[ap->i].type == TOK_COMMENT)
		ap->i++;
}

/* A phrase from tokens [from, to): words joined by one space (also two words
 * written without one, as "a"b), dots kept where they stand (obs-phrase);
 * comments left out. NULL when empty. */
static char *phrase(const struct aparser *ap, size_t from, size_t to)
{
	struct buf b = BUF_INIT;
	bool any = false, prev_word = false;
	for (size_t k = from; k < to; k++) {
		const struct tok *t = &ap->toks[k];
		if (t->type == TOK_COMMENT)
			continue;
		bool word = t->type != TOK_SPECIAL;
		if (any && (t->ws_before || (word && prev_word)))
			buf_putc(&b, ' ');
		buf_append(&b, tok_text(ap, t), t->len);
		any = true;
		prev_word = word;
	}
	char *s = any ? mime_strdup_nonul(b.data ? b.data : "", b.len) : NULL;
	buf_free(&b);
	return s;
}

/* Words, dots and domain literals glued together (local parts, domains). */
static char *glue(const struct aparser *ap, size_t from, size_t to)
{
	struct buf b = BUF_INIT;
	for (size_t k = from; k < to; k++) {
		const struct tok *t = &ap->toks[k];
		if (t->type != TOK_COMMENT)
			buf_append(&b, tok_text(ap, t), t->len);
	}
	char *s = b.len > 0 ? mime_strdup_nonul(b.data, b.len) : NULL;
	buf_free(&b);
	return s;
}

static void emit(struct aparser *ap, char *name, char *adl, char *mailbox, char *host, bool invalid)
{
	/* capacity is the next power of two: grow when the count reaches one */
	size_t n = *ap->count;
	if (n == 0 || (n & (n - 1)) == 0)
		*ap->list = xrealloc(*ap->list, (n ? n * 2 : 1) * sizeof(**ap->list));
	struct mime_address *a = &(*ap->list)[*ap->count];
	a->name = name;
	a->adl = adl;
	a->mailbox = mailbox;
	a->host = host;
	a->invalid = invalid;
	(*ap->count)++;
}

static bool is_word_tok(const struct tok *t)
{
	return t->type == TOK_ATOM || t->type == TOK_QUOTED || t->type == TOK_COMMENT ||
	       (t->type == TOK_SPECIAL && t->special == '.');
}

/* A domain from ap->i: atoms or domain literals joined by dots (comments and
 * whitespace around the dots allowed, as obs-domain does). */
static char *domain(struct aparser *ap)
{
	skip_comments(ap);
	size_t from = ap->i;
	bool want_word = true;
	while (ap->i < ap->ntoks) {
		const struct tok *t = &ap->toks[ap->i];
		bool dot = t->type == TOK_SPECIAL && t->special == '.';
		bool word = t->type == TOK_ATOM || t->type == TOK_DOMLIT;
		if (t->type == TOK_COMMENT) {
			ap->i++;
			continue;
		}
		if ((want_word && !word) || (!want_word && !dot))
			break;
		want_word = dot;
		ap->i++;
	}
	return glue(ap, from, ap->i);
}

/* The last comment in [from, to), for a bare addr-spec's name. */
static char *last_comment(const struct aparser *ap, size_t from, size_t to)
{
	for (size_t k = to; k > from; k--) {
		const struct tok *t = &ap->toks[k - 1];
		if (t->type == TOK_COMMENT && t->len > 0)
			return mime_strdup_nonul(tok_text(ap, t), t->len);
	}
	return NULL;
}

/* Skips to the next ',' (or ';' inside a group); true if anything was skipped. */
static bool skip_junk(struct aparser *ap, bool in_group)
{
	bool any = false;
	while (ap->i < ap->ntoks && !at_special(ap, ',') && !(in_group && at_special(ap, ';'))) {
		if (ap->toks[ap->i].type != TOK_COMMENT)
			any = true;
		ap->i++;
	}
	return any;
}

static void fill_and_emit(struct aparser *ap, char *name, char *adl, char *mailbox, char *host,
                          bool invalid)
{
	if (mailbox == NULL) {
		mailbox = xstrdup("MISSING_MAILBOX");
		invalid = true;
	}
	if (host == NULL) {
		host = xstrdup("MISSING_DOMAIN");
		invalid = true;
	}
	emit(ap, name, adl, mailbox, host, invalid);
}

/* "<" [route ":"] [local "@" domain] ">" at ap->i. */
static void angle_addr(struct aparser *ap, char *name, bool in_group)
{
	char *adl = NULL, *mailbox = NULL, *host = NULL;
	bool invalid = false;
	ap->i++; /* '<' */
	skip_comments(ap);
	if (at_special(ap, '@')) {
		/* obs-route: "@a,@b:" */
		struct buf r = BUF_INIT;
		while (at_special(ap, '@')) {
			ap->i++;
			char *d = domain(ap);
			if (r.len > 0)
				buf_putc(&r, ',');
			buf_putc(&r, '@');
			if (d)
				buf_puts(&r, d);
			free(d);
			while (at_special(ap, ',') ||
			       (ap->i < ap->ntoks && ap->toks[ap->i].type == TOK_COMMENT))
				ap->i++;
		}
		if (at_special(ap, ':'))
			ap->i++;
		else
			invalid = true;
		adl = mime_strdup_nonul(r.data ? r.data : "", r.len);
		buf_free(&r);
	}
	size_t from = ap->i;
	while (ap->i < ap->ntoks && is_word_tok(&ap->toks[ap->i]))
		ap->i++;
	mailbox = glue(ap, from, ap->i);
	if (at_special(ap, '@')) {
		ap->i++;
		host = domain(ap);
	}
	skip_comments(ap);
	if (at_special(ap, '>')) {
		ap->i++;
	} else {
		invalid = true;
		while (ap->i < ap->ntoks && !at_special(ap, '>') && !at_special(ap, ',') &&
		       !(in_group && at_special(ap, ';')))
			ap->i++;
		if (at_special(ap, '>'))
			ap->i++;
	}
	fill_and_emit(ap, name, adl, mailbox, host, invalid);
}

/* One mailbox at ap->i (the caller has seen it is not a group). */
static void mailbox(struct aparser *ap, bool in_group)
{
	size_t from = ap->i;
	while (ap->i < ap->ntoks && is_word_tok(&ap->toks[ap->i]))
		ap->i++;
	if (at_special(ap, '<')) {
		angle_addr(ap, phrase(ap, from, ap->i), in_group);
	} else if (at_special(ap, '@')) {
		char *local = glue(ap, from, ap->i);
		ap->i++;
		size_t dfrom = ap->i;
		char *host = domain(ap);
		size_t after = ap->i;
		skip_comments(ap);
		char *name = last_comment(ap, dfrom, ap->i);
		if (name == NULL)
			name = last_comment(ap, from, after);
		fill_and_emit(ap, name, NULL, local, host, false);
	} else {
		/* no '@' and no '<': one word is a mailbox without a domain, more
		 * words are a name without an address */
		size_t words = 0;
		for (size_t k = from; k < ap->i; k++)
			if (ap->toks[k].type == TOK_ATOM || ap->toks[k].type == TOK_QUOTED)
				words++;
		if (words == 0) {
			if (skip_junk(ap, in_group))
				fill_and_emit(ap, NULL, NULL, NULL, NULL, true);
			return;
		}
		if (words == 1)
			fill_and_emit(ap, last_comment(ap, from, ap->i), NULL,
			              glue(ap, from, ap->i), NULL, true);
		else
			fill_and_emit(ap, phrase(ap, from, ap->i), NULL, NULL, NULL, true);
	}
	if (skip_junk(ap, in_group))
		(*ap->list)[*ap->count - 1].invalid = true;
}

static void address(struct aparser *ap)
{
	size_t from = ap->i;
	size_t k = from;
	while (k < ap->ntoks && is_word_tok(&ap->toks[k]))
		k++;
	bool group = k < ap->ntoks && ap->toks[k].type == TOK_SPECIAL && ap->toks[k].special == ':';
	if (!group) {
		mailbox(ap, false);
		return;
	}
	char *gname = phrase(ap, from, k);
	emit(ap, NULL, NULL, gname ? gname : xstrdup(""), NULL, false);
	ap->i = k + 1;
	for (;;) {
		while (at_special(ap, ',') ||
		       (ap->i < ap->ntoks && ap->toks[ap->i].type == TOK_COMMENT))
			ap->i++;
		if (ap->i >= ap->ntoks)
			break;
		if (at_special(ap, ';')) {
			ap->i++;
			break;
		}
		size_t before = ap->i;
		mailbox(ap, true);
		if (ap->i == before)
			ap->i++; /* a stray special such as ':' or '>' */
	}
	emit(ap, NULL, NULL, NULL, NULL, false);
}

void mime_address_parse(const char *value, size_t len, struct mime_address **list_r,
                        size_t *count_r)
{
	struct aparser ap = {.src = value, .text = BUF_INIT, .list = list_r, .count = count_r};
	if (len > MIME_MAX_HEADER_FIELD)
		len = MIME_MAX_HEADER_FIELD;
	tokenize(&ap, value, len);
	while (ap.i < ap.ntoks) {
		if (at_special(&ap, ',') || ap.toks[ap.i].type == TOK_COMMENT) {
			ap.i++;
			continue;
		}
		size_t before = ap.i;
		address(&ap);
		if (ap.i == before)
			ap.i++;
	}
	free(ap.toks);
	buf_free(&ap.text);
}

void mime_address_free(struct mime_address **list, size_t count)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*list)[i].name);
		free((*list)[i].adl);
		free((*list)[i].mailbox);
		free((*list)[i].host);
	}
	free(*list);
	*list = NULL;
}
