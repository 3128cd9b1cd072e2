/*
 * mime_param — the lexer for structured header values (comments, tokens,
 * quoted strings) and MIME parameter lists (RFC 2045 section 5.1) with RFC 2231
 * continuations and charsets.
 *
 * RFC 2231 results follow RFC 9051's advice for BODYSTRUCTURE: "baz*0",
 * "baz*1" become one "baz"; "foo*" or "foo*0*", "foo*1*"... become one "foo*"
 * whose value is converted to UTF-8. A plain "filename" next to a
 * "filename*" stays: they are different names.
 */
#include "mime/mime_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_COMMENT_NESTING 64

void mime_lex_skip_cfws(struct mime_lex *lx, struct buf *comment)
{
	while (lx->pos < lx->len) {
		char c = lx->p[lx->pos];
		if (mime_is_wsp(c)) {
			lx->pos++;
			continue;
		}
		if (c != '(')
			return;
		if (comment)
			buf_reset(comment);
		unsigned nest = 0;
		while (lx->pos < lx->len) {
			c = lx->p[lx->pos++];
			if (c == '\\' && lx->pos < lx->len) {
				if (comment && nest >= 1)
					buf_putc(comment, lx->p[lx->pos]);
				lx->pos++;
				continue;
			}
			if (c == '(') {
				if (nest > 0 && comment && nest < MAX_COMMENT_NESTING)
					buf_putc(comment, c);
				nest++;
				continue;
			}
			if (c == ')') {
				nest--;
				if (nest == 0)
					break;
				if (comment)
					buf_putc(comment, c);
				continue;
			}
			if (comment && c != '\r' && c != '\n')
				buf_putc(comment, c);
		}
	}
}

static bool is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL && c != '\0';
}

size_t mime_lex_token(struct mime_lex *lx, const char **tok_r)
{
	size_t start = lx->pos;
	while (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->p[lx->pos];
		if (c <= 32 || c == 127 || is_tspecial(c))
			break;
		lx->pos++;
	}
	*tok_r = lx->p + start;
	return lx->pos - start;
}

void mime_lex_quoted(struct mime_lex *lx, struct buf *out)
{
	lx->pos++; /* the opening quote */
	size_t start = out->len;
	buf_reserve(out, 0);
	while (lx->pos < lx->len) {
		char c = lx->p[lx->pos++];
		if (c == '"')
			break;
		if (c == '\\' && lx->pos < lx->len)
			c = lx->p[lx->pos++];
		else if (c == '\r' || c == '\n')
			continue; /* folding inside the string */
		if (out->len - start < MIME_MAX_HEADER_FIELD)
			buf_putc(out, c);
	}
}

/* ---- RFC 2231 ------------------------------------------------------------------ */

struct raw_param {
	char *base;  /* lower-case name without the RFC 2231 suffix */
	int section; /* -1 when none */
	bool ext;    /* value is charset'lang'%XX (first section) or %XX */
	char *value;
	size_t value_len;
};

/* Splits "name*3*" into its parts; a name that does not fit the grammar is
 * taken whole as a plain name. */
static void split_name(const char *tok, size_t n, struct raw_param *rp)
{
	const char *star = memchr(tok, '*', n);
	rp->section = -1;
	rp->ext = false;
	if (star == NULL || star == tok) {
		rp->base = str_dup_lower((struct str){tok, n});
		return;
	}
	size_t blen = (size_t)(star - tok);
	const char *r = star + 1;
	const char *end = tok + n;
	if (r == end) {
		rp->ext = true;
	} else if (*r >= '0' && *r <= '9') {
		long sec = 0;
		while (r < end && *r >= '0' && *r <= '9') {
			if (sec <= MIME_MAX_PARAMS)
				sec = sec * 10 + (*r - '0');
			r++;
		}
		if (r < end && *r == '*' && r + 1 == end) {
			rp->ext = true;
			r++;
		}
		if (r != end || sec > MIME_MAX_PARAMS) {
			rp->base = str_dup_lower((struct str){tok, n});
			rp->ext = false;
			return;
		}
		rp->section = (int)sec;
	} else {
		rp->base = str_dup_lower((struct str){tok, n});
		return;
	}
	rp->base = str_dup_lower((struct str){tok, blen});
}

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

static void pct_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
		    (l = hexval(s[i + 2])) >= 0) {
			buf_putc(out, (char)(h * 16 + l));
			i += 2;
		} else {
			buf_putc(out, s[i]);
		}
	}
}

static bool has_name(const struct mime_param *ps, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ps[i].name, name) == 0)
			return true;
	return false;
}

static void add_param(struct mime_param **ps, size_t *n, char *name, char *value)
{
	if (has_name(*ps, *n, name)) {
		free(name);
		free(value);
		return;
	}
	*ps = xrealloc(*ps, (*n + 1) * sizeof(**ps));
	(*ps)[*n].name = name;
	(*ps)[*n].value = value;
	(*n)++;
}

/* Takes "charset'lang'" off the front of an extended first value, if there. */
static void split_ext_prefix(const char **v, size_t *vl, const char **cs, size_t *cslen)
{
	const char *q1 = memchr(*v, '\'', *vl);
	const char *q2 = q1 ? memchr(q1 + 1, '\'', *vl - (size_t)(q1 + 1 - *v)) : NULL;
	*cs = "";
	*cslen = 0;
	if (q1 && q2) {
		*cs = *v;
		*cslen = (size_t)(q1 - *v);
		*vl -= (size_t)(q2 + 1 - *v);
		*v = q2 + 1;
	}
}

/* Decodes an extended first value "charset'lang'%XX..." into UTF-8 text. */
static char *decode_ext(const char *charset, size_t clen, const struct buf *bytes)
{
	struct buf out = BUF_INIT;
	char *cs = xstrndup(charset, clen);
	mime_charset_to_utf8(cs, bytes->data ? bytes->data : "", bytes->len, &out);
	free(cs);
	buf_reserve(&out, 0);
	return buf_steal(&out);
}

static void assemble(struct raw_param *raw, size_t nraw, struct mime_param **ps, size_t *n)
{
	for (size_t i = 0; i < nraw; i++) {
		struct raw_param *rp = &raw[i];
		if (rp->base == NULL)
			continue; /* consumed by an earlier group */
		if (rp->section < 0 && !rp->ext) {
			add_param(ps, n, xstrdup(rp->base),
			          mime_strdup_nonul(rp->value, rp->value_len));
			continue;
		}
		if (rp->section < 0) {
			/* name*=charset'lang'value */
			const char *v = rp->value, *cs;
			size_t vl = rp->value_len, cslen;
			split_ext_prefix(&v, &vl, &cs, &cslen);
			struct buf bytes = BUF_INIT;
			pct_decode(v, vl, &bytes);
			add_param(ps, n, xasprintf("%s*", rp->base), decode_ext(cs, cslen, &bytes));
			buf_free(&bytes);
			continue;
		}
		/* a group of sections: join 0, 1, 2... while they follow each other */
		struct buf bytes = BUF_INIT;
		const char *cs = "";
		size_t cslen = 0;
		bool any_ext = false;
		int nsec = 0;
		char *base = xstrdup(rp->base);
		for (int sec = 0;; sec++, nsec++) {
			struct raw_param *s = NULL;
			for (size_t j = i; j < nraw; j++) {
				if (raw[j].base && raw[j].section == sec &&
				    strcmp(raw[j].base, base) == 0) {
					s = &raw[j];
					break;
				}
			}
			if (s == NULL)
				break;
			const char *v = s->value;
			size_t vl = s->value_len;
			if (s->ext) {
				if (sec == 0)
					split_ext_prefix(&v, &vl, &cs, &cslen);
				any_ext = true;
				pct_decode(v, vl, &bytes);
			} else {
				buf_append(&bytes, v, vl);
			}
		}
		/* every section of this name is used up, joined or not */
		for (size_t j = i; j < nraw; j++) {
			if (raw[j].base && raw[j].section >= 0 && strcmp(raw[j].base, base) == 0) {
				free(raw[j].base);
				raw[j].base = NULL;
			}
		}
		buf_reserve(&bytes, 0);
		if (nsec == 0) {
			/* no section 0: nothing to join */
		} else if (any_ext) {
			add_param(ps, n, xasprintf("%s*", base), decode_ext(cs, cslen, &bytes));
		} else {
			add_param(ps, n, xstrdup(base), mime_strdup_nonul(bytes.data, bytes.len));
		}
		buf_free(&bytes);
		free(base);
	}
}

static void skip_to_semicolon(struct mime_lex *lx)
{
	while (lx->pos < lx->len && lx->p[lx->pos] != ';') {
		if (lx->p[lx->pos] == '"') {
			struct buf junk = BUF_INIT;
			mime_lex_quoted(lx, &junk);
			buf_free(&junk);
		} else if (lx->p[lx->pos] == '(') {
			mime_lex_skip_cfws(lx, NULL);
		} else {
			lx->pos++;
		}
	}
}

void mime_params_parse(struct mime_lex *lx, struct mime_param **params_r, size_t *count_r)
{
	struct raw_param raw[MIME_MAX_PARAMS];
	size_t nraw = 0;
	*params_r = NULL;
	*count_r = 0;
	while (nraw < MIME_MAX_PARAMS) {
		mime_lex_skip_cfws(lx, NULL);
		if (mime_lex_eof(lx))
			break;
		if (mime_lex_peek(lx) != ';') {
			skip_to_semicolon(lx);
			continue;
		}
		lx->pos++;
		mime_lex_skip_cfws(lx, NULL);
		const char *name;
		size_t nlen = mime_lex_token(lx, &name);
		mime_lex_skip_cfws(lx, NULL);
		if (nlen == 0 || mime_lex_peek(lx) != '=') {
			skip_to_semicolon(lx);
			continue;
		}
		lx->pos++;
		mime_lex_skip_cfws(lx, NULL);
		struct buf value = BUF_INIT;
		if (mime_lex_peek(lx) == '"') {
			mime_lex_quoted(lx, &value);
			skip_to_semicolon(lx);
		} else {
			const char *tok;
			size_t vstart = lx->pos;
			size_t tlen = mime_lex_token(lx, &tok);
			mime_lex_skip_cfws(lx, NULL);
			if (!mime_lex_eof(lx) && mime_lex_peek(lx) != ';') {
				/* an unquoted value with spaces or specials: take the
				 * raw text up to the next ';', trimmed */
				size_t e = vstart;
				while (e < lx->len && lx->p[e] != ';')
					e++;
				size_t t = e;
				while (t > vstart && mime_is_wsp(lx->p[t - 1]))
					t--;
				buf_append(&value, lx->p + vstart, t - vstart);
				lx->pos = e;
			} else {
				buf_append(&value, tok, tlen);
			}
		}
		buf_reserve(&value, 0);
		struct raw_param *rp = &raw[nraw++];
		split_name(name, nlen, rp);
		rp->value_len = value.len;
		rp->value = buf_steal(&value);
	}
	assemble(raw, nraw, params_r, count_r);
	for (size_t i = 0; i < nraw; i++) {
		free(raw[i].base);
		free(raw[i].value);
	}
}

void mime_params_free(struct mime_param **params, size_t count)
{
	if (*params == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*params)[i].name);
		free((*params)[i].value);
	}
	free(*params);
	*params = NULL;
}
