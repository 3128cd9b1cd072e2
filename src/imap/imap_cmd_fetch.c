/*
 * imap_cmd_fetch — FETCH and UID FETCH.
 *
 * Flags come from the session's index; MODSEQ, INTERNALDATE and size are
 * read for the command, in one query over the set's UIDs (only the messages
 * changed since CHANGEDSINCE, with that modifier), and only when an item
 * needs them: a message expunged by another session has none left to show.
 * The cached ENVELOPE and BODYSTRUCTURE and the message bytes are read only
 * when an item needs them, before the message's response is begun, and parsed into
 * MIME parts (byte offsets) only when a section or structure needs that. The
 * cached strings of many messages are read a window at a time, one pass over
 * a UID range each (struct cache_window), not one look-up per message. A
 * non-PEEK body fetch sets \Seen: the FETCH response already shows it, and the
 * tagged OK waits for the flag change to be durable.
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "mime/mime.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void put_date(struct buf *out, int64_t t)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday, months[tm.tm_mon],
	           tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Everything known about one message while its items are written. */
struct one {
	struct imap_session *s;
	size_t idx;                    /* in the index */
	const struct imap_meta_msg *m; /* its uid, and its metadata when read */
	struct buf blob;
	bool have_blob;
	struct mime_part *root;
	struct buf envelope, bodystructure; /* cached at delivery */
};

bool imap_fetch_needs_meta(const struct imap_fetch_spec *spec)
{
	for (size_t k = 0; k < spec->natts; k++)
		if (spec->atts[k].item == IMAP_FETCH_INTERNALDATE ||
		    spec->atts[k].item == IMAP_FETCH_RFC822_SIZE ||
		    spec->atts[k].item == IMAP_FETCH_MODSEQ)
			return true;
	return spec->changedsince > 0;
}

static bool needs_cache(enum imap_fetch_item item)
{
	return item == IMAP_FETCH_ENVELOPE || item == IMAP_FETCH_BODYSTRUCTURE;
}

static bool needs_blob(enum imap_fetch_item item)
{
	switch (item) {
	case IMAP_FETCH_BODY_STRUCTURE:
	case IMAP_FETCH_RFC822:
	case IMAP_FETCH_RFC822_HEADER:
	case IMAP_FETCH_RFC822_TEXT:
	case IMAP_FETCH_BODY_SECTION:
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		return true;
	default:
		return false;
	}
}

static int need_blob(struct one *o);
static const struct mime_part *binary_part(struct one *o, const struct imap_fetch_att *a);
static bool known_cte(const struct mime_part *p);

/*
 * The cached strings of the next messages of a FETCH, read in one pass over
 * their UID range (store_message_cache_list): up to FETCH_CACHE_WINDOW
 * messages whose UIDs span at most FETCH_CACHE_SPAN, so that a sparse set does
 * not step over many rows it does not want. Inside the FETCH's read
 * transaction, what the window holds is what a look-up per message would find.
 */
#define FETCH_CACHE_WINDOW 256
#define FETCH_CACHE_SPAN (4 * FETCH_CACHE_WINDOW)

struct cache_window {
	struct imap_session *s;
	bool envelope, bodystructure; /* what the items need */
	const size_t *idx;            /* the FETCH's messages, and how many */
	size_t n;
	size_t first, end; /* idx[first, end) is covered */
	uint32_t uid[FETCH_CACHE_WINDOW];
	bool found[FETCH_CACHE_WINDOW];
	struct buf env[FETCH_CACHE_WINDOW], bs[FETCH_CACHE_WINDOW];
	size_t fill; /* next slot the pass may fill */
};

static void window_row(const struct store_message_cached *m, void *arg)
{
	struct cache_window *w = arg;
	size_t count = w->end - w->first;
	while (w->fill < count && w->uid[w->fill] < m->uid)
		w->fill++;
	if (w->fill == count || w->uid[w->fill] != m->uid)
		return; /* a row between the messages asked for */
	w->found[w->fill] = true;
	if (m->envelope)
		buf_append(&w->env[w->fill], m->envelope, m->envelope_len);
	if (m->bodystructure)
		buf_append(&w->bs[w->fill], m->bodystructure, m->bodystructure_len);
}

/* Covers idx[at] and the messages after it that fit. */
static void window_fill(struct cache_window *w, size_t at)
{
	const uint32_t *uids = w->s->msgs.uids;
	size_t count = 0;
	uint32_t lo = uids[w->idx[at]];
	while (count < FETCH_CACHE_WINDOW && at + count < w->n) {
		uint32_t u = uids[w->idx[at + count]];
		if ((count && u <= w->uid[count - 1]) || u - lo >= FETCH_CACHE_SPAN)
			break; /* the window wants ascending UIDs, close together */
		w->uid[count] = u;
		w->found[count] = false;
		buf_reset(&w->env[count]);
		buf_reset(&w->bs[count]);
		count++;
	}
	w->first = at;
	w->end = at + count;
	w->fill = 0;
	struct buf err = BUF_INIT;
	if (store_message_cache_list(w->s->ctx->store, w->s->mailbox_id, lo, w->uid[count - 1],
	                             w->envelope, w->bodystructure, window_row, w, &err) < 0) {
		/* a failed read: each message is looked up alone */
		log_warn("imap id=%s event=fetch-cache result=error reason=\"%s\"",
		         conn_id(w->s->conn), buf_cstr(&err));
		w->end = w->first;
	}
	buf_free(&err);
}

/* The cached strings of idx[at] into o (swapped in, not copied); false when
   the window cannot say (the caller looks the message up alone), *found_r
   whether the message is still there otherwise. */
static bool window_take(struct cache_window *w, size_t at, struct one *o, bool *found_r)
{
	if (at < w->first || at >= w->end)
		window_fill(w, at);
	if (at < w->first || at >= w->end)
		return false;
	size_t k = at - w->first;
	*found_r = w->found[k];
	struct buf t = o->envelope;
	o->envelope = w->env[k];
	w->env[k] = t;
	t = o->bodystructure;
	o->bodystructure = w->bs[k];
	w->bs[k] = t;
	return true;
}

static void window_free(struct cache_window *w)
{
	for (size_t k = 0; k < FETCH_CACHE_WINDOW; k++) {
		buf_free(&w->env[k]);
		buf_free(&w->bs[k]);
	}
}

/* Reads what the items need before anything of the message is written, so
   that a message expunged meanwhile (its row or its blob gone) is left out
   whole instead of answered in part. -1 when it is gone or unreadable; -2 when
   a BINARY item names a part whose transfer encoding is unknown. With w, the
   cached strings come from the window, o being idx[at] of the FETCH. */
static int preload(struct one *o, const struct imap_fetch_spec *spec, struct cache_window *w,
                   size_t at)
{
	bool env = false, bs = false, blob = false, binary = false;
	for (size_t k = 0; k < spec->natts; k++)
		binary |= spec->atts[k].item == IMAP_FETCH_BINARY ||
		          spec->atts[k].item == IMAP_FETCH_BINARY_SIZE;
	if (binary) {
		if (need_blob(o) < 0)
			return -1;
		for (size_t k = 0; k < spec->natts; k++) {
			const struct imap_fetch_att *a = &spec->atts[k];
			const struct mime_part *p;
			if ((a->item == IMAP_FETCH_BINARY || a->item == IMAP_FETCH_BINARY_SIZE) &&
			    a->nparts && (p = binary_part(o, a)) && p->kind == MIME_PART_LEAF &&
			    !known_cte(p))
				return -2;
		}
	}
	for (size_t k = 0; k < spec->natts; k++) {
		env |= spec->atts[k].item == IMAP_FETCH_ENVELOPE;
		bs |= spec->atts[k].item == IMAP_FETCH_BODYSTRUCTURE;
		blob |= needs_blob(spec->atts[k].item);
	}
	if (env || bs) {
		bool found;
		if (!w || !window_take(w, at, o, &found)) {
			struct buf err = BUF_INIT;
			found = store_message_cache(o->s->ctx->store, o->s->mailbox_id, o->m->uid,
			                            &o->envelope, &o->bodystructure,
			                            &err) == STORE_FOUND;
			buf_free(&err);
		}
		if (!found)
			return -1;
		/* Not cached (older messages): computed from the bytes. */
		blob |= (env && !o->envelope.len) || (bs && !o->bodystructure.len);
	}
	return blob ? need_blob(o) : 0;
}

static int need_blob(struct one *o)
{
	if (o->have_blob)
		return 0;
	struct buf err = BUF_INIT;
	enum store_lookup l =
	        store_message_read(o->s->ctx->store, o->s->mailbox_id, o->m->uid, &o->blob, &err);
	buf_free(&err);
	if (l != STORE_FOUND)
		return -1;
	o->have_blob = true;
	return 0;
}

static const struct mime_part *need_root(struct one *o)
{
	if (!o->root)
		mime_parse(buf_cstr(&o->blob), o->blob.len, &o->root);
	return o->root;
}

/* The section text for the response key: "1.2.HEADER.FIELDS (A B)". */
static void put_section(struct buf *out, const struct imap_fetch_att *a)
{
	for (size_t i = 0; i < a->nparts; i++)
		buf_printf(out, "%s%u", i ? "." : "", a->part[i]);
	const char *kind = NULL;
	switch (a->kind) {
	case IMAP_SECTION_HEADER:
		kind = "HEADER";
		break;
	case IMAP_SECTION_HEADER_FIELDS:
		kind = "HEADER.FIELDS";
		break;
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		kind = "HEADER.FIELDS.NOT";
		break;
	case IMAP_SECTION_TEXT:
		kind = "TEXT";
		break;
	case IMAP_SECTION_MIME:
		kind = "MIME";
		break;
	case IMAP_SECTION_ALL:
		break;
	}
	if (kind)
		buf_printf(out, "%s%s", a->nparts ? "." : "", kind);
	if (a->kind == IMAP_SECTION_HEADER_FIELDS || a->kind == IMAP_SECTION_HEADER_FIELDS_NOT) {
		buf_puts(out, " (");
		for (size_t i = 0; i < a->nfields; i++) {
			if (i)
				buf_putc(out, ' ');
			imap_put_astring(out, a->fields[i]);
		}
		buf_putc(out, ')');
	}
}

static bool field_listed(const struct imap_fetch_att *a, const char *name, size_t len)
{
	for (size_t i = 0; i < a->nfields; i++)
		if (strlen(a->fields[i]) == len && strncasecmp(a->fields[i], name, len) == 0)
			return true;
	return false;
}

/* The bytes a BODY[section] names, appended to out. -1 when the part does not
   exist (the response is then an empty string, as RFC 9051 allows). */
static int section_bytes(struct one *o, const struct imap_fetch_att *a, struct buf *out)
{
	return imap_section_bytes(buf_cstr(&o->blob), o->blob.len, need_root(o), a, out);
}

int imap_section_bytes(const char *msg, size_t len, const struct mime_part *root,
                       const struct imap_fetch_att *a, struct buf *out)
{
	const struct mime_part *p = root;
	if (a->nparts) {
		struct buf num = BUF_INIT;
		for (size_t i = 0; i < a->nparts; i++)
			buf_printf(&num, "%s%u", i ? "." : "", a->part[i]);
		p = mime_part_find(root, buf_cstr(&num));
		buf_free(&num);
		if (!p)
			return -1;
	}
	/* HEADER / TEXT of a part number are those of its embedded message. */
	const struct mime_part *m = p;
	if (a->nparts &&
	    (a->kind == IMAP_SECTION_HEADER || a->kind == IMAP_SECTION_TEXT ||
	     a->kind == IMAP_SECTION_HEADER_FIELDS || a->kind == IMAP_SECTION_HEADER_FIELDS_NOT)) {
		m = mime_part_message(p);
		if (!m)
			return -1;
	}
	switch (a->kind) {
	case IMAP_SECTION_ALL:
		if (a->nparts)
			buf_append(out, msg + p->body_offset, p->body_len);
		else
			buf_append(out, msg, len);
		return 0;
	case IMAP_SECTION_MIME:
		buf_append(out, msg + p->header_offset, p->header_len);
		return 0;
	case IMAP_SECTION_HEADER:
		buf_append(out, msg + m->header_offset, m->header_len);
		return 0;
	case IMAP_SECTION_TEXT:
		buf_append(out, msg + m->body_offset, m->body_len);
		return 0;
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT: {
		struct mime_header_iter it;
		struct mime_header_field f;
		const char *hdr = msg + m->header_offset;
		mime_header_iter_init(&it, hdr, m->header_len);
		bool want_listed = a->kind == IMAP_SECTION_HEADER_FIELDS;
		while (mime_header_next(&it, &f))
			if (field_listed(a, f.name, f.name_len) == want_listed)
				buf_append(out, hdr + f.offset, f.len);
		buf_puts(out, "\r\n");
		return 0;
	}
	}
	return -1;
}

/* Message data always goes as a literal, as clients expect (quoted would be
   allowed for short text, but many clients only handle literals here). A
   literal cannot hold NUL (only BINARY's literal8 can, RFC 3516): a message
   stored with NULs (a binary APPEND) shows them as 0x80 there, as Dovecot
   does, with the size unchanged. */
static void put_literal(struct buf *out, const char *p, size_t len)
{
	buf_printf(out, "{%zu}\r\n", len);
	size_t start = out->len;
	buf_append(out, p, len);
	for (size_t i = start; i < out->len; i++)
		if (out->data[i] == '\0')
			out->data[i] = (char)0x80;
}

/* Whether BINARY can undo a part's transfer encoding (RFC 3516 4.2). */
static bool known_cte(const struct mime_part *p)
{
	static const char *const known[] = {"7bit", "8bit", "binary", "base64", "quoted-printable"};
	if (!p->encoding)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strcmp(p->encoding, known[i]) == 0)
			return true;
	return false;
}

/* The part a BINARY item names (the message itself without part numbers). */
static const struct mime_part *binary_part(struct one *o, const struct imap_fetch_att *a)
{
	if (!a->nparts)
		return need_root(o);
	struct buf num = BUF_INIT;
	for (size_t i = 0; i < a->nparts; i++)
		buf_printf(&num, "%s%u", i ? "." : "", a->part[i]);
	const struct mime_part *p = mime_part_find(need_root(o), buf_cstr(&num));
	buf_free(&num);
	return p;
}

/* Writes one item; returns true when it reads the body (sets \Seen unless PEEK). */
static bool put_item(struct one *o, const struct imap_fetch_att *a, struct buf *out, bool first)
{
	const struct imap_meta_msg *m = o->m;
	if (!first)
		buf_putc(out, ' ');
	struct buf data = BUF_INIT;
	bool body = false;
	switch (a->item) {
	case IMAP_FETCH_UID:
		buf_printf(out, "UID %u", o->m->uid);
		break;
	case IMAP_FETCH_FLAGS:
		buf_puts(out, "FLAGS ");
		imap_put_flags(out, imap_msg_flags(o->s, o->idx), imap_msg_keywords(o->s, o->idx));
		break;
	case IMAP_FETCH_INTERNALDATE:
		buf_puts(out, "INTERNALDATE ");
		put_date(out, o->m->internaldate);
		break;
	case IMAP_FETCH_RFC822_SIZE:
		buf_printf(out, "RFC822.SIZE %llu", (unsigned long long)o->m->size);
		break;
	case IMAP_FETCH_MODSEQ:
		buf_printf(out, "MODSEQ (%llu)", (unsigned long long)m->modseq);
		break;
	case IMAP_FETCH_ENVELOPE:
		buf_puts(out, "ENVELOPE ");
		if (o->envelope.len)
			buf_append(out, o->envelope.data, o->envelope.len);
		else if (need_blob(o) == 0)
			mime_envelope(buf_cstr(&o->blob), o->blob.len, out);
		break;
	case IMAP_FETCH_BODYSTRUCTURE:
		buf_puts(out, "BODYSTRUCTURE ");
		if (o->bodystructure.len)
			buf_append(out, o->bodystructure.data, o->bodystructure.len);
		else if (need_blob(o) == 0)
			mime_bodystructure(need_root(o), buf_cstr(&o->blob), true, out);
		break;
	case IMAP_FETCH_BODY_STRUCTURE:
		buf_puts(out, "BODY ");
		if (need_blob(o) == 0)
			mime_bodystructure(need_root(o), buf_cstr(&o->blob), false, out);
		break;
	case IMAP_FETCH_RFC822:
	case IMAP_FETCH_RFC822_HEADER:
	case IMAP_FETCH_RFC822_TEXT: {
		struct imap_fetch_att sec = {.kind = a->item == IMAP_FETCH_RFC822 ? IMAP_SECTION_ALL
		                                     : a->item == IMAP_FETCH_RFC822_HEADER
		                                             ? IMAP_SECTION_HEADER
		                                             : IMAP_SECTION_TEXT};
		if (need_blob(o) == 0)
			section_bytes(o, &sec, &data);
		buf_puts(out, a->item == IMAP_FETCH_RFC822          ? "RFC822 "
		              : a->item == IMAP_FETCH_RFC822_HEADER ? "RFC822.HEADER "
		                                                    : "RFC822.TEXT ");
		put_literal(out, buf_cstr(&data), data.len);
		body = a->item != IMAP_FETCH_RFC822_HEADER;
		break;
	}
	case IMAP_FETCH_BODY_SECTION:
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE: {
		bool have = need_blob(o) == 0;
		int r = -1;
		if (have && a->item == IMAP_FETCH_BODY_SECTION) {
			r = section_bytes(o, a, &data);
		} else if (have) {
			const struct mime_part *p = binary_part(o, a);
			if (p && p->kind == MIME_PART_LEAF && a->nparts) {
				mime_part_decode_body(p, buf_cstr(&o->blob), &data);
				r = 0;
			} else if (p) {
				/* The whole message, a multipart or a message/rfc822
				   part: nothing to decode, the bytes as they are
				   (RFC 3516 4.1). */
				struct imap_fetch_att raw = *a;
				raw.kind = IMAP_SECTION_ALL;
				r = section_bytes(o, &raw, &data);
			}
		}
		const char *key = a->item == IMAP_FETCH_BODY_SECTION ? "BODY"
		                  : a->item == IMAP_FETCH_BINARY     ? "BINARY"
		                                                     : "BINARY.SIZE";
		buf_printf(out, "%s[", key);
		put_section(out, a);
		buf_putc(out, ']');
		if (a->item == IMAP_FETCH_BINARY_SIZE) {
			buf_printf(out, " %zu", data.len);
			break;
		}
		size_t off = 0, len = data.len;
		if (a->partial) {
			buf_printf(out, "<%llu>", (unsigned long long)a->offset);
			off = a->offset < data.len ? (size_t)a->offset : data.len;
			len = data.len - off;
			if (len > a->count)
				len = (size_t)a->count;
		}
		buf_putc(out, ' ');
		if (r < 0 && a->item != IMAP_FETCH_BODY_SECTION) {
			buf_puts(out, "NIL");
		} else if (a->item == IMAP_FETCH_BINARY &&
		           memchr(data.data ? data.data : "", 0, data.len)) {
			buf_printf(out, "~{%zu}\r\n", len);
			buf_append(out, data.data + off, len);
		} else {
			put_literal(out, data.data ? data.data + off : "", len);
		}
		body = !a->peek;
		break;
	}
	case IMAP_FETCH_SAVEDATE:
	case IMAP_FETCH_EMAILID:
		buf_puts(out, a->item == IMAP_FETCH_SAVEDATE ? "SAVEDATE NIL" : "EMAILID NIL");
		break;
	}
	buf_free(&data);
	return body;
}

/* The message at idx as struct one wants it: its metadata from meta when
   the items need it (NULL when it has none there), else just its uid in
   *uid_only. */
static const struct imap_meta_msg *one_msg(struct imap_session *s, size_t idx,
                                           const struct imap_meta *meta, bool need_meta,
                                           struct imap_meta_msg *uid_only)
{
	if (need_meta)
		return imap_meta_find(meta, s->msgs.uids[idx]);
	*uid_only = (struct imap_meta_msg){.uid = s->msgs.uids[idx]};
	return uid_only;
}

int imap_fetch_put(struct imap_session *s, const struct imap_fetch_spec *spec, size_t idx,
                   struct buf *out)
{
	struct imap_meta_msg uid_only;
	const struct imap_meta_msg *m =
	        one_msg(s, idx, s->meta, imap_fetch_needs_meta(spec), &uid_only);
	if (!m)
		return -1;
	struct one o = {.s = s, .idx = idx, .m = m};
	int rc = preload(&o, spec, NULL, 0);
	if (rc == 0) {
		buf_printf(out, "* %zu FETCH (UID %u", idx + 1, m->uid);
		for (size_t k = 0; k < spec->natts; k++)
			if (spec->atts[k].item != IMAP_FETCH_UID)
				put_item(&o, &spec->atts[k], out, false);
		buf_puts(out, ")\r\n");
	}
	buf_free(&o.blob);
	buf_free(&o.envelope);
	buf_free(&o.bodystructure);
	mime_part_free(&o.root);
	return rc < 0 ? -1 : 0;
}
/* How a FETCH ended, besides OK. */
enum {
	FETCH_GONE = 1 << 0,        /* a message was expunged meanwhile */
	FETCH_UNKNOWN_CTE = 1 << 1, /* BINARY of a part it cannot decode: stopped there */
};

/* The end of FETCH. A message expunged by another session and not yet
   reported: FETCH must keep sequence numbers and says EXPUNGEISSUED (RFC
   5530); UID FETCH may report the EXPUNGE now (RFC 9051 7.5.1) and is OK. */
static void fetch_reply(struct imap_session *s, unsigned how)
{
	bool uid = strncmp(s->cmd.name, "UID ", 4) == 0;
	bool gone = how & FETCH_GONE;
	imap_sync(s, uid);
	if (how & FETCH_UNKNOWN_CTE)
		imap_tagged(s, "NO", "[UNKNOWN-CTE] Cannot decode the part's transfer encoding");
	else if (gone && !uid)
		imap_tagged(s, "NO",
		            "[EXPUNGEISSUED] Some of the requested messages no longer exist");
	else
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
}

static void seen_done(struct imap_session *s, struct store_op *op)
{
	unsigned how = (unsigned)(uintptr_t)s->op_data;
	s->op_data = NULL;
	if (op->result == 0)
		fetch_reply(s, how);
	else
		imap_tagged(s, "NO", "[UNAVAILABLE] Could not set \\Seen");
	free((void *)op->u.flags.uids);
	store_op_clear(op);
	free(op);
}

void imap_cmd_fetch(struct imap_session *s)
{
	bool uid = strncmp(s->cmd.name, "UID ", 4) == 0;
	if (s->cmd.nargs < 2 || s->cmd.args[0].type != IMAP_ARG_ATOM) {
		imap_bad(s, "Syntax: FETCH set items");
		return;
	}
	struct imap_fetch_spec spec = {0};
	struct buf why = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
	size_t *idx = NULL, n = 0;
	struct imap_meta meta = {0};
	uint32_t *seen = NULL;
	size_t nseen = 0;
	unsigned how = 0;
	if (imap_fetch_parse(s->cmd.args + 1, s->cmd.nargs - 1, &spec, &why) < 0) {
		imap_bad(s, "%s", why.len ? buf_cstr(&why) : "Bad FETCH items");
		goto out;
	}
	if (spec.vanished && (!uid || !s->qresync)) {
		imap_bad(s, "VANISHED needs UID FETCH and QRESYNC enabled");
		goto out;
	}
	bool modseq = spec.changedsince > 0;
	for (size_t k = 0; k < spec.natts; k++)
		modseq |= spec.atts[k].item == IMAP_FETCH_MODSEQ;
	if (modseq)
		imap_condstore_enable(s);
	if (spec.vanished) {
		/* Report this session's expunges first, so that what VANISHED
		   (EARLIER) names is gone from its view too. */
		imap_sync(s, true);
		struct imap_seqset set = {0};
		if (imap_seqset_parse(s->cmd.args[0].value, &set) < 0) {
			imap_bad(s, "Bad sequence set");
			goto out;
		}
		uint32_t limit = s->msgs.n ? s->msgs.uids[s->msgs.n - 1] : 0;
		struct store_mailbox mb = {0};
		if (store_mailbox_get(s->ctx->store, s->account_id, s->mailbox_name, &mb, &err) ==
		            STORE_FOUND &&
		    mb.uidnext > limit)
			limit = mb.uidnext - 1;
		store_mailbox_clear(&mb);
		int vr = set.saved ? 0
		                   : imap_put_vanished_earlier(s, &set, spec.changedsince, 0, limit,
		                                               &out);
		imap_seqset_free(&set);
		if (vr < 0) {
			imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
			goto out;
		}
		imap_write(s, out.data, out.len);
	}
	int r = imap_resolve_set(s, s->cmd.args[0].value.p, s->cmd.args[0].value.len, uid, &idx,
	                         &n);
	if (r < 0) {
		imap_bad(s, r == -2 ? "Message sequence number out of range" : "Bad sequence set");
		goto out;
	}
	store_read_begin(s->ctx->store); /* one snapshot, one lock for every message read */
	bool need_meta = imap_fetch_needs_meta(&spec);
	if (need_meta && n &&
	    imap_meta_load(s, s->msgs.uids[idx[0]], s->msgs.uids[idx[n - 1]], spec.changedsince,
	                   &meta) < 0) {
		store_read_end(s->ctx->store);
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	/* A MODSEQ goes with the flags the index holds. One above what the
	   index has heard of belongs to a change the client has not been told:
	   that change is told first, from the same snapshot (expunges held back,
	   so that the numbers stay). */
	if (modseq && imap_meta_stale(s, &meta)) {
		imap_sync(s, false);
		if (s->closing) {
			store_read_end(s->ctx->store);
			goto out;
		}
	}
	struct cache_window *win = NULL;
	for (size_t k = 0; k < spec.natts; k++) {
		enum imap_fetch_item it = spec.atts[k].item;
		if (needs_cache(it) && n > 1 && !win) {
			win = xcalloc(1, sizeof *win);
			*win = (struct cache_window){.s = s, .idx = idx, .n = n};
		}
		if (win) {
			win->envelope |= it == IMAP_FETCH_ENVELOPE;
			win->bodystructure |= it == IMAP_FETCH_BODYSTRUCTURE;
		}
	}
	for (size_t i = 0; i < n && !(how & FETCH_UNKNOWN_CTE); i++) {
		struct imap_meta_msg uid_only;
		const struct imap_meta_msg *m = one_msg(s, idx[i], &meta, need_meta, &uid_only);
		/* Not changed since CHANGEDSINCE: not read (nor one expunged
		   meanwhile, whose EXPUNGE comes later). */
		if (!m && spec.changedsince)
			continue;
		/* Expunged by another session (its data gone): the EXPUNGE comes
		   with the next command that may send one (RFC 9051 7.5.1). */
		if (!m) {
			how |= FETCH_GONE;
			continue;
		}
		struct one o = {.s = s, .idx = idx[i], .m = m};
		int pr = preload(&o, &spec, win, i);
		if (pr < 0) {
			how |= pr == -2 ? FETCH_UNKNOWN_CTE : FETCH_GONE;
			buf_free(&o.blob);
			buf_free(&o.envelope);
			buf_free(&o.bodystructure);
			mime_part_free(&o.root);
			continue;
		}
		buf_reset(&out);
		buf_printf(&out, "* %zu FETCH (", idx[i] + 1);
		bool first = true;
		if (uid) {
			buf_printf(&out, "UID %u", m->uid);
			first = false;
		}
		bool reads_body = false, has_flags = false, has_modseq = false;
		for (size_t k = 0; k < spec.natts; k++) {
			const struct imap_fetch_att *a = &spec.atts[k];
			if (uid && a->item == IMAP_FETCH_UID)
				continue;
			has_flags |= a->item == IMAP_FETCH_FLAGS;
			has_modseq |= a->item == IMAP_FETCH_MODSEQ;
			reads_body |= put_item(&o, a, &out, first);
			first = false;
		}
		if (spec.changedsince && !has_modseq) {
			/* CHANGEDSINCE implies MODSEQ (RFC 7162 3.1.4.1) */
			buf_printf(&out, "%sMODSEQ (%llu)", first ? "" : " ",
			           (unsigned long long)m->modseq);
			first = false;
		}
		if (reads_body && !s->readonly && !(s->msgs.flags[idx[i]] & STORE_FLAG_SEEN)) {
			s->msgs.flags[idx[i]] |= STORE_FLAG_SEEN;
			seen = xrealloc(seen, (nseen + 1) * sizeof *seen);
			seen[nseen++] = m->uid;
			if (!has_flags) {
				buf_puts(&out, first ? "FLAGS " : " FLAGS ");
				imap_put_flags(&out, imap_msg_flags(s, idx[i]),
				               imap_msg_keywords(s, idx[i]));
			}
		}
		buf_puts(&out, ")\r\n");
		imap_write(s, out.data, out.len);
		buf_free(&o.blob);
		buf_free(&o.envelope);
		buf_free(&o.bodystructure);
		mime_part_free(&o.root);
	}
	if (win)
		window_free(win);
	free(win);
	store_read_end(s->ctx->store);
	if (nseen) {
		struct store_op *op = xcalloc(1, sizeof *op);
		store_op_init(op, STORE_OP_FLAGS);
		op->u.flags.mailbox_id = s->mailbox_id;
		op->u.flags.uids = seen;
		op->u.flags.nuids = nseen;
		op->u.flags.mode = STORE_FLAGS_ADD;
		op->u.flags.flags = STORE_FLAG_SEEN;
		seen = NULL;
		s->op_data = (void *)(uintptr_t)how;
		imap_submit(s, op, seen_done);
	} else {
		fetch_reply(s, how);
	}
out:
	imap_meta_free(&meta);
	free(seen);
	free(idx);
	imap_fetch_spec_free(&spec);
	buf_free(&why);
	buf_free(&err);
	buf_free(&out);
}
