/*
 * mime_search — the text that IMAP SEARCH BODY and TEXT look into, one
 * definition for the matcher and for the full-text index.
 *
 * Both walk the same pieces in the same order (see mime.h): the message
 * header, the MIME header of every part below it, and the text of every
 * leaf of type "text". The matcher stops at the first piece that holds the string;
 * the index keeps all of them. Because the two share this walk, the index can
 * never lack a piece the matcher would look into.
 */
#include "mime/mime_internal.h"

#include <string.h>

static bool walk_parts(const struct mime_part *p, const char *msg, mime_search_fn *fn, void *arg)
{
	if (p->kind == MIME_PART_LEAF) {
		/* Only text is searched, as Dovecot does: a decoded image or
		   archive is noise, and indexing it would cost more than the
		   text of the whole mailbox. Its header (name, description) is
		   searched through its parent below. */
		if (strcmp(p->type, "text") != 0)
			return false;
		struct buf t = BUF_INIT;
		mime_part_text(p, msg, &t);
		bool stop = fn(t.data ? t.data : "", t.len, arg);
		buf_free(&t);
		return stop;
	}
	/* The headers of the parts and of embedded messages belong to the
	   body too (a file name, a forwarded message's subject). */
	for (const struct mime_part *ch = p->children; ch; ch = ch->next) {
		struct buf h = BUF_INIT;
		mime_decode_header(msg + ch->header_offset, ch->header_len, &h);
		bool stop = fn(h.data ? h.data : "", h.len, arg);
		buf_free(&h);
		if (stop || walk_parts(ch, msg, fn, arg))
			return true;
	}
	return false;
}

bool mime_search_walk(const struct mime_part *root, const char *msg, bool with_header,
                      mime_search_fn *fn, void *arg)
{
	if (with_header) {
		struct buf h = BUF_INIT;
		mime_decode_header(msg + root->header_offset, root->header_len, &h);
		bool stop = fn(h.data ? h.data : "", h.len, arg);
		buf_free(&h);
		if (stop)
			return true;
	}
	return walk_parts(root, msg, fn, arg);
}

static bool append_piece(const char *text, size_t len, void *arg)
{
	struct buf *out = arg;
	if (out->len > 0)
		buf_putc(out, '\n');
	buf_append(out, text, len);
	return false;
}

void mime_search_text(const struct mime_part *root, const char *msg, struct buf *header,
                      struct buf *body)
{
	mime_decode_header(msg + root->header_offset, root->header_len, header);
	walk_parts(root, msg, append_piece, body);
}
