/*
 * imap_cmd_catenate — APPEND's CATENATE (RFC 4469): a message built from
 * literal text and from messages or parts of messages the session may read,
 * named by IMAP URLs (imap_cmd_urlauth.c reads them).
 *
 *   APPEND mailbox [flags] [date-time] CATENATE (TEXT {n} URL "/INBOX/;UID=3/;SECTION=1" ...)
 *
 * The parts are checked first (BAD when malformed), then, once the session
 * knows the target mailbox exists, put together: a URL that is invalid,
 * names something that does not exist or that the session may not read
 * fails the APPEND with NO [BADURL url]; a result larger than the message
 * size limit with NO [TOOBIG]. The assembled message then goes through the
 * same store op as any APPEND.
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include <string.h>

int imap_catenate_check(const struct imap_arg *list, struct buf *why)
{
	if (list->type != IMAP_ARG_LIST || list->nlist == 0 || list->nlist % 2) {
		buf_puts(why, "Syntax: CATENATE (TEXT literal / URL url ...)");
		return -1;
	}
	if (list->nlist / 2 > IMAP_MAX_CATENATE_PARTS) {
		buf_printf(why, "[LIMIT] At most %d CATENATE parts", IMAP_MAX_CATENATE_PARTS);
		return -1;
	}
	for (size_t i = 0; i < list->nlist; i += 2) {
		const struct imap_arg *kind = &list->list[i], *v = &list->list[i + 1];
		bool ok =
		        kind->type == IMAP_ARG_ATOM &&
		        ((str_eq_cstr_nocase(kind->value, "TEXT") && v->type == IMAP_ARG_LITERAL) ||
		         (str_eq_cstr_nocase(kind->value, "URL") && imap_arg_is_string(v)));
		if (!ok) {
			buf_puts(why, "Syntax: CATENATE (TEXT literal / URL url ...)");
			return -1;
		}
	}
	return 0;
}

/* "[BADURL url] ": the URL as resp-text allows it (no ']', CR, LF or NUL). */
static void put_badurl(struct buf *why, struct str url)
{
	buf_puts(why, "[BADURL ");
	for (size_t i = 0; i < url.len && i < IMAP_MAX_URL; i++) {
		unsigned char c = (unsigned char)url.p[i];
		buf_putc(why, c < 0x20 || c == 0x7f || c == ']' ? '?' : (char)c);
	}
	buf_puts(why, "] ");
}

int imap_catenate(struct imap_session *s, const struct imap_arg *list, struct buf *msg,
                  struct buf *why)
{
	uint64_t max = s->ctx->cfg->max_message_size;
	for (size_t i = 0; i < list->nlist; i += 2) {
		const struct imap_arg *v = &list->list[i + 1];
		if (v->type == IMAP_ARG_LITERAL) {
			if (v->binary) {
				buf_puts(why, "[CANNOT] Binary CATENATE text is not supported");
				return -1;
			}
			buf_append(msg, v->value.p, v->value.len);
		} else {
			int rc = imap_url_catenate_bytes(s, v->value, msg);
			if (rc == -2) {
				buf_puts(why, "[UNAVAILABLE] Temporary failure, try again");
				return -1;
			}
			if (rc < 0) {
				put_badurl(why, v->value);
				buf_puts(why, "CATENATE URL is invalid or names nothing");
				return -1;
			}
		}
		if (msg->len > max) {
			buf_printf(why, "[TOOBIG] Message larger than %llu bytes",
			           (unsigned long long)max);
			return -1;
		}
	}
	return 0;
}
