/*
 * mime_internal — helpers shared by the mime_*.c files: the RFC 5322 / 2045
 * lexer over a header value, MIME parameter lists with RFC 2231, UTF-8 checks
 * and the IMAP string forms used by ENVELOPE and BODYSTRUCTURE.
 */
#ifndef PETREL_MIME_INTERNAL_H
#define PETREL_MIME_INTERNAL_H

#include "mime/mime.h"

/* A cursor over one header value. */
struct mime_lex {
	const char *p;
	size_t len, pos;
};

static inline void mime_lex_init(struct mime_lex *lx, const char *p, size_t len)
{
	lx->p = p;
	lx->len = len;
	lx->pos = 0;
}

static inline bool mime_lex_eof(const struct mime_lex *lx)
{
	return lx->pos >= lx->len;
}

static inline char mime_lex_peek(const struct mime_lex *lx)
{
	return lx->pos < lx->len ? lx->p[lx->pos] : '\0';
}

static inline bool mime_is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Skips whitespace and (nested) comments. If comment is not NULL, the text of
 * the last comment seen is put there (reset first). Comments deeper than a
 * fixed bound are skipped as a whole all the same.
 */
void mime_lex_skip_cfws(struct mime_lex *lx, struct buf *comment);
/* RFC 2045 token (8-bit bytes allowed, as RFC 6532 does for atoms); 0 if none. */
size_t mime_lex_token(struct mime_lex *lx, const char **tok_r);
/* A quoted string at the cursor ('"' expected): appends its content unquoted.
 * An unclosed string runs to the end. */
void mime_lex_quoted(struct mime_lex *lx, struct buf *out);

/* Content-Type / Content-Disposition parameters after the value's type: a list
 * of "; name=value", RFC 2231 assembled and decoded. */
void mime_params_parse(struct mime_lex *lx, struct mime_param **params_r, size_t *count_r);
void mime_params_free(struct mime_param **params, size_t count);

/* A NUL-terminated copy with NUL bytes made U+FFFD. */
char *mime_strdup_nonul(const char *s, size_t len);

/* Appends bytes, replacing invalid UTF-8 and NUL with U+FFFD. */
void mime_utf8_append(struct buf *out, const char *in, size_t len);
bool mime_utf8_valid(const char *in, size_t len);

/* An nstring with every CR and LF removed when followed by whitespace or at the
 * end, and made a space otherwise (header values sent on one line). */
void mime_imap_nstring_nolf(struct buf *out, const char *s, size_t len, bool nil);
/* A string with runs of whitespace made one space, trimmed (subjects, names). */
void mime_imap_string_for_humans(struct buf *out, const char *s, size_t len);

#endif
