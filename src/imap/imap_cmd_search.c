/*
 * imap_cmd_search — SEARCH and UID SEARCH, with ESEARCH answers when the
 * client asks for RETURN options (RFC 5267's PARTIAL and UPDATE included).
 * The evaluator is SORT's and THREAD's too (imap_search_matches).
 *
 * Each message is tested against the key tree; flags come from the session's
 * index, MODSEQs, dates and sizes from s->meta (read for the command when a
 * key needs them: a message another session expunged matches none of those
 * keys), and the message bytes are read (and parsed) only for keys that look
 * at headers or text. Text matching is
 * case-insensitive substring matching on decoded UTF-8 (RFC 9051 6.4.4):
 * headers with RFC 2047 words decoded, bodies with transfer encodings undone
 * and charsets converted.
 *
 * BODY and TEXT ask the store's full-text index first, once per key and
 * command: it names the messages that may hold the string (never fewer than
 * do), and only those are read and checked. A message it does not name fails
 * the key without being read, wherever the key sits (under NOT too: the
 * index's "no" is exact). When the index cannot answer (a string shorter than
 * three characters, the index switched off, an error), every message is read.
 *
 * Header keys (SUBJECT, HEADER, FROM ...) read only the message's header
 * block, never its body. Those of fields that are not address fields ask the
 * index too, over its header text: see header_lookup() for why that text
 * holds every match the exact check can find.
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "mime/mime.h"
#include "store/store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The index's answer for one BODY or TEXT key of the command. */
struct text_hits {
	const struct imap_search_key *key;
	uint32_t *uids; /* candidates, ascending */
	size_t n;
};

struct cand {
	struct imap_session *s;
	size_t index; /* in s->msgs */
	struct buf blob;
	bool loaded, failed;
	struct mime_part *root;
	struct buf header; /* the header block alone, when the keys need no more */
	bool header_loaded, header_failed;
	const struct text_hits *hits; /* keys the index answered */
	size_t nhits;
};

static void cand_free(struct cand *c)
{
	buf_free(&c->blob);
	buf_free(&c->header);
	mime_part_free(&c->root);
}

static bool load(struct cand *c)
{
	if (c->loaded)
		return !c->failed;
	c->loaded = true;
	struct buf err = BUF_INIT;
	c->failed = store_message_read(c->s->ctx->store, c->s->mailbox_id,
	                               c->s->msgs.uids[c->index], &c->blob, &err) != STORE_FOUND;
	buf_free(&err);
	if (!c->failed)
		mime_parse(buf_cstr(&c->blob), c->blob.len, &c->root);
	return !c->failed;
}

/* The message's header block: the whole message's when that has been read,
   else read alone. */
static bool load_header(struct cand *c, const char **hdr_r, size_t *len_r)
{
	if (c->loaded && !c->failed) {
		*hdr_r = buf_cstr(&c->blob);
		*len_r = c->root->header_len;
		return true;
	}
	if (!c->header_loaded) {
		c->header_loaded = true;
		struct buf err = BUF_INIT;
		c->header_failed = store_message_header_read(c->s->ctx->store, c->s->mailbox_id,
		                                             c->s->msgs.uids[c->index], &c->header,
		                                             &err) != STORE_FOUND;
		buf_free(&err);
	}
	if (c->header_failed)
		return false;
	*hdr_r = buf_cstr(&c->header);
	*len_r = c->header.len;
	return true;
}

/* Case-insensitive (ASCII) substring search; the empty needle matches. */
static bool contains(const char *hay, size_t hlen, struct str needle)
{
	if (needle.len == 0)
		return true;
	for (size_t i = 0; i + needle.len <= hlen; i++) {
		size_t k = 0;
		while (k < needle.len &&
		       tolower((unsigned char)hay[i + k]) == tolower((unsigned char)needle.p[k]))
			k++;
		if (k == needle.len)
			return true;
	}
	return false;
}

static bool is_address_field(struct str field)
{
	static const char *const names[] = {"From", "To", "Cc", "Bcc", "Sender", "Reply-To"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (str_eq_cstr_nocase(field, names[i]))
			return true;
	return false;
}

/* An address field as its addresses read without comments, routes or
   quoting, "Name <local@domain>, group: ..." (so "<a (x)@ b>" is found as
   "a@b"); display names decoded. */
static void addresses_text(const char *value, size_t len, struct buf *out)
{
	struct mime_address *list = NULL;
	size_t n = 0;
	mime_address_parse(value, len, &list, &n);
	for (size_t i = 0; i < n; i++) {
		const struct mime_address *a = &list[i];
		if (i)
			buf_puts(out, ", ");
		if (!a->mailbox)
			continue; /* a group's end */
		if (!a->host) {
			buf_printf(out, "%s:", a->mailbox);
			continue;
		}
		if (a->name && *a->name) {
			mime_decode_header(a->name, strlen(a->name), out);
			buf_putc(out, ' ');
		}
		buf_printf(out, "<%s@%s>", a->mailbox, a->host);
	}
	mime_address_free(&list, n);
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A field's value unfolded as mime_header_unfold() does it (every line end
   removed: inside a value each is followed by a space or tab; leading and
   trailing whitespace dropped), but whole, not cut at MIME_MAX_HEADER_FIELD:
   SEARCH looks at the whole field, as the index does. */
static void unfold_whole(const char *v, size_t len, struct buf *out)
{
	size_t i = 0;
	while (i < len && is_wsp(v[i]))
		i++;
	buf_reserve(out, len - i);
	for (; i < len; i++) {
		if ((v[i] == '\r' && i + 1 < len && v[i + 1] == '\n') || v[i] == '\n')
			continue;
		buf_putc(out, v[i]);
	}
	while (out->len && is_wsp(out->data[out->len - 1]))
		out->len--;
	if (out->data)
		out->data[out->len] = '\0';
}

static bool text_may_match(const struct cand *c, const struct imap_search_key *k);

static bool header_matches(struct cand *c, const struct imap_search_key *k)
{
	struct str field = k->str, value = k->str2;
	const char *hdr;
	size_t hlen;
	if (!text_may_match(c, k) || !load_header(c, &hdr, &hlen))
		return false;
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, hdr, hlen);
	bool found = false;
	while (!found && mime_header_next(&it, &f)) {
		if (f.name_len != field.len || strncasecmp(f.name, field.p, field.len) != 0)
			continue;
		struct buf unfolded = BUF_INIT, decoded = BUF_INIT;
		unfold_whole(f.value, f.value_len, &unfolded);
		mime_decode_header(buf_cstr(&unfolded), unfolded.len, &decoded);
		found = contains(buf_cstr(&decoded), decoded.len, value);
		if (!found && is_address_field(field)) {
			buf_reset(&decoded);
			addresses_text(buf_cstr(&unfolded), unfolded.len, &decoded);
			found = contains(buf_cstr(&decoded), decoded.len, value);
		}
		buf_free(&unfolded);
		buf_free(&decoded);
	}
	return found;
}

static bool piece_contains(const char *text, size_t len, void *arg)
{
	return contains(text, len, *(const struct str *)arg);
}

/*
 * What to ask the index for a header key, or false when it cannot be asked.
 *
 * The index holds, per message, the header block decoded with
 * mime_decode_header() as written, folding kept (the TEXT piece); the exact
 * check decodes each field's value unfolded. Decoding works on the same
 * encoded words in both (a word holds no whitespace, so no line end; the
 * whitespace between two words is dropped in both), so the field's decoded
 * text is a piece of the index's with a line end put back before some of its
 * spaces and tabs - the folds. A match can thus be split by a fold only
 * before a space or tab of the string: the piece of the string from its start
 * or from one space or tab to the next holds none, and is in the index's text
 * whenever the string is in the field. The longest such piece is asked.
 *
 * Not asked: address fields, whose check also matches the addresses as
 * parsed ("a@b" in "<a (comment)@ b>"), text the header does not hold; and a
 * string with U+FFFD, which a field's decoding may make where the block's
 * makes a character (the last word of a field and a stray line after it
 * decoded together).
 */
static bool header_lookup(const struct imap_search_key *k, struct str *piece_r)
{
	struct str v = k->str2;
	if (is_address_field(k->str) || memmem(v.p, v.len, "\xef\xbf\xbd", 3))
		return false;
	size_t most = 0; /* characters (UTF-8 lead bytes) of the piece chosen */
	*piece_r = (struct str){v.p, 0};
	for (size_t start = 0; start < v.len;) {
		size_t end = start + 1, chars = 1;
		for (; end < v.len && v.p[end] != ' ' && v.p[end] != '\t'; end++)
			chars += ((unsigned char)v.p[end] & 0xc0) != 0x80;
		if (chars > most) {
			most = chars;
			*piece_r = (struct str){v.p + start, end - start};
		}
		start = end;
	}
	return true;
}

/* BODY and TEXT look into the pieces mime_search_walk() defines, the same
   ones the store's full-text index keeps. */
/* Collects the index's candidates for every BODY, TEXT and header key of the
   tree that it can answer. */
static void text_hits_find(struct imap_session *s, const struct imap_search_key *k,
                           struct text_hits **v, size_t *n)
{
	struct str piece;
	bool text = k->op == IMAP_SEARCH_BODY || k->op == IMAP_SEARCH_TEXT;
	if (text || (k->op == IMAP_SEARCH_HEADER && header_lookup(k, &piece))) {
		struct text_hits h = {.key = k};
		struct buf err = BUF_INIT;
		enum store_lookup l =
		        text ? store_search_candidates(s->ctx->store, s->mailbox_id, k->str.p,
		                                       k->str.len, k->op == IMAP_SEARCH_TEXT,
		                                       &h.uids, &h.n, &err)
		             : store_search_header_candidates(s->ctx->store, s->mailbox_id, piece.p,
		                                              piece.len, &h.uids, &h.n, &err);
		const char *what = k->op == IMAP_SEARCH_TEXT   ? "TEXT"
		                   : k->op == IMAP_SEARCH_BODY ? "BODY"
		                                               : "HEADER";
		if (l == STORE_FOUND) {
			log_debug(
			        "imap id=%s event=search-index key=%s candidates=%zu messages=%zu",
			        conn_id(s->conn), what, h.n, s->msgs.n);
			*v = xrealloc(*v, (*n + 1) * sizeof **v);
			(*v)[(*n)++] = h;
		} else if (l == STORE_ERROR) {
			log_warn("imap id=%s event=search-index result=scan reason=\"%s\"",
			         conn_id(s->conn), buf_cstr(&err));
		}
		buf_free(&err);
	}
	for (size_t i = 0; i < k->nchildren; i++)
		text_hits_find(s, &k->children[i], v, n);
	if (k->a)
		text_hits_find(s, k->a, v, n);
	if (k->b)
		text_hits_find(s, k->b, v, n);
}

static void text_hits_free(struct text_hits *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].uids);
	free(v);
}

/* False when the index says the message cannot match key; true when it may
   (or the index did not answer for key). */
static bool text_may_match(const struct cand *c, const struct imap_search_key *k)
{
	for (size_t i = 0; i < c->nhits; i++) {
		const struct text_hits *h = &c->hits[i];
		if (h->key != k)
			continue;
		uint32_t uid = c->s->msgs.uids[c->index];
		size_t lo = 0, hi = h->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (h->uids[mid] < uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo < h->n && h->uids[lo] == uid;
	}
	return true;
}

static bool body_matches(struct cand *c, const struct imap_search_key *k, bool with_headers)
{
	struct str needle = k->str;
	if (!text_may_match(c, k) || !load(c))
		return false;
	return mime_search_walk(c->root, buf_cstr(&c->blob), with_headers, piece_contains, &needle);
}

/* Days since 1970-01-01 of an RFC 5322 date ("Fri, 27 Nov 2026 12:00:00 +0100"), in
   the date's own time zone as RFC 9051 says for SENT*; -1 when unreadable. */
static int64_t sent_day(struct cand *c)
{
	const char *hdr;
	size_t hlen;
	if (!load_header(c, &hdr, &hlen))
		return -1;
	struct buf d = BUF_INIT;
	if (!mime_header_get(hdr, hlen, "Date", &d)) {
		buf_free(&d);
		return -1;
	}
	static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
	                                     "jul", "aug", "sep", "oct", "nov", "dec"};
	const char *p = buf_cstr(&d);
	const char *comma = strchr(p, ',');
	if (comma)
		p = comma + 1;
	int day = 0, year = 0;
	char mon[4] = {0};
	int64_t r = -1;
	if (sscanf(p, " %d %3s %d", &day, mon, &year) == 3) {
		for (int m = 0; m < 12; m++)
			if (strcasecmp(mon, months[m]) == 0) {
				if (year < 100)
					year += year < 50 ? 2000 : 1900;
				struct tm tm = {
				        .tm_mday = day, .tm_mon = m, .tm_year = year - 1900};
				time_t t = timegm(&tm);
				r = t < 0 ? -1 : (int64_t)(t / 86400);
			}
	}
	buf_free(&d);
	return r;
}

static uint32_t flag_bit(struct str name)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} f[] = {{"\\Seen", STORE_FLAG_SEEN},       {"\\Answered", STORE_FLAG_ANSWERED},
	         {"\\Flagged", STORE_FLAG_FLAGGED}, {"\\Deleted", STORE_FLAG_DELETED},
	         {"\\Draft", STORE_FLAG_DRAFT},     {"\\Recent", STORE_FLAG_RECENT}};
	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (str_eq_cstr_nocase(name, f[i].name))
			return f[i].bit;
	return 0;
}

static bool has_keyword(char **keywords, struct str k)
{
	for (char **p = keywords; p && *p; p++)
		if (str_eq_cstr_nocase(k, *p))
			return true;
	return false;
}

/* Whether the message's metadata (MODSEQ, INTERNALDATE, size) compares with
   num as op says; false when it has none (expunged by another session). */
static bool meta_matches(const struct cand *c, enum imap_search_op op, uint64_t num)
{
	const struct imap_meta_msg *m = imap_meta_find(c->s->meta, c->s->msgs.uids[c->index]);
	if (!m)
		return false;
	int64_t day = m->internaldate / 86400, age = (int64_t)time(NULL) - m->internaldate;
	switch (op) {
	case IMAP_SEARCH_BEFORE:
		return day < (int64_t)num;
	case IMAP_SEARCH_ON:
		return day == (int64_t)num;
	case IMAP_SEARCH_SINCE:
		return day >= (int64_t)num;
	case IMAP_SEARCH_LARGER:
		return m->size > num;
	case IMAP_SEARCH_SMALLER:
		return m->size < num;
	case IMAP_SEARCH_OLDER:
		return age >= (int64_t)num;
	case IMAP_SEARCH_YOUNGER:
		return age <= (int64_t)num;
	case IMAP_SEARCH_MODSEQ:
		return m->modseq >= num;
	default:
		return false;
	}
}

static bool eval(struct cand *c, const struct imap_search_key *k, bool uid_mode)
{
	struct imap_session *s = c->s;
	uint32_t uid = s->msgs.uids[c->index], flags = imap_msg_flags(s, c->index);
	switch (k->op) {
	case IMAP_SEARCH_ALL:
		return true;
	case IMAP_SEARCH_AND:
		for (size_t i = 0; i < k->nchildren; i++)
			if (!eval(c, &k->children[i], uid_mode))
				return false;
		return true;
	case IMAP_SEARCH_OR:
		return eval(c, k->a, uid_mode) || eval(c, k->b, uid_mode);
	case IMAP_SEARCH_NOT:
		return !eval(c, k->a, uid_mode);
	case IMAP_SEARCH_SEQSET:
		if (k->set.saved) {
			for (size_t i = 0; i < s->nsaved; i++)
				if (s->saved[i] == uid)
					return true;
			return false;
		}
		return imap_seqset_contains(&k->set, (uint32_t)c->index + 1, (uint32_t)s->msgs.n);
	case IMAP_SEARCH_UID:
		if (k->set.saved) {
			for (size_t i = 0; i < s->nsaved; i++)
				if (s->saved[i] == uid)
					return true;
			return false;
		}
		return imap_seqset_contains(&k->set, uid, s->msgs.uids[s->msgs.n - 1]);
	case IMAP_SEARCH_FLAG:
		return (flags & flag_bit(k->str)) != 0;
	case IMAP_SEARCH_UNFLAG:
		return !(flags & flag_bit(k->str));
	case IMAP_SEARCH_KEYWORD:
		return has_keyword(imap_msg_keywords(s, c->index), k->str);
	case IMAP_SEARCH_UNKEYWORD:
		return !has_keyword(imap_msg_keywords(s, c->index), k->str);
	case IMAP_SEARCH_NEW:
		return (flags & STORE_FLAG_RECENT) && !(flags & STORE_FLAG_SEEN);
	case IMAP_SEARCH_RECENT:
		return (flags & STORE_FLAG_RECENT) != 0;
	case IMAP_SEARCH_OLD:
		return !(flags & STORE_FLAG_RECENT);
	case IMAP_SEARCH_HEADER:
		return header_matches(c, k);
	case IMAP_SEARCH_BODY:
		return body_matches(c, k, false);
	case IMAP_SEARCH_TEXT:
		return body_matches(c, k, true);
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
	case IMAP_SEARCH_OLDER:
	case IMAP_SEARCH_YOUNGER:
	case IMAP_SEARCH_MODSEQ:
		return meta_matches(c, k->op, k->num);
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE: {
		int64_t d = sent_day(c);
		if (d < 0)
			return false;
		return k->op == IMAP_SEARCH_SENTBEFORE ? d < (int64_t)k->num
		       : k->op == IMAP_SEARCH_SENTON   ? d == (int64_t)k->num
		                                       : d >= (int64_t)k->num;
	}
	}
	return false;
}

/* Whether the tree has a key for which test says true. */
static bool uses(const struct imap_search_key *k, bool (*test)(enum imap_search_op op))
{
	if (test(k->op))
		return true;
	for (size_t i = 0; i < k->nchildren; i++)
		if (uses(&k->children[i], test))
			return true;
	return (k->a && uses(k->a, test)) || (k->b && uses(k->b, test));
}

static bool is_modseq(enum imap_search_op op)
{
	return op == IMAP_SEARCH_MODSEQ;
}

static bool is_meta(enum imap_search_op op)
{
	switch (op) {
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
	case IMAP_SEARCH_OLDER:
	case IMAP_SEARCH_YOUNGER:
	case IMAP_SEARCH_MODSEQ:
		return true;
	default:
		return false;
	}
}

bool imap_search_uses_modseq(const struct imap_search *q)
{
	return uses(&q->root, is_modseq);
}

bool imap_search_needs_meta(const struct imap_search *q)
{
	return uses(&q->root, is_meta);
}

uint64_t imap_search_modseq_floor(const struct imap_search *q)
{
	uint64_t floor = 0;
	for (size_t i = 0; i < q->root.nchildren; i++)
		if (q->root.children[i].op == IMAP_SEARCH_MODSEQ && q->root.children[i].num > floor)
			floor = q->root.children[i].num;
	return floor;
}

bool imap_search_matches(struct imap_session *s, size_t index, const struct imap_search *q,
                         bool uid)
{
	struct cand c = {.s = s, .index = index};
	bool r = eval(&c, &q->root, uid);
	cand_free(&c);
	return r;
}

void imap_cmd_search(struct imap_session *s)
{
	bool uid = strcmp(s->cmd.name, "UID SEARCH") == 0;
	struct imap_search q = {0};
	struct buf why = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
	uint32_t *hits = NULL;
	size_t nhits = 0;
	struct imap_meta meta = {0};
	if (imap_search_parse(s->cmd.args, s->cmd.nargs, &q, &why) < 0) {
		imap_bad(s, "%s", why.len ? buf_cstr(&why) : "Bad SEARCH");
		goto out;
	}
	if (q.charset && strcmp(q.charset, "UTF-8") != 0 && strcmp(q.charset, "US-ASCII") != 0) {
		if (q.ret_save)
			s->nsaved = 0; /* a failed SAVE empties "$" (RFC 5182 2.1) */
		imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
		goto out;
	}
	if (q.ret_update && imap_update_tag_in_use(s, s->tag)) {
		imap_bad(s, "Tag reuse");
		goto out;
	}
	bool modseq = imap_search_uses_modseq(&q);
	if (modseq)
		imap_condstore_enable(s);
	/* the highest MODSEQ among the hits (RFC 7162 3.1.5), or among those
	   returned when that is only MIN and/or MAX (RFC 4731 3.2) */
	uint64_t top = 0, first_modseq = 0, last_modseq = 0;
	store_read_begin(s->ctx->store); /* one snapshot, one lock for every message read */
	/* MODSEQs, dates and sizes: read for this command, of the messages that
	   can match (a message not read fails every key on them) */
	uint64_t floor = imap_search_modseq_floor(&q);
	if (imap_search_needs_meta(&q) &&
	    imap_meta_load_all(s, floor ? floor - 1 : 0, modseq, &meta) < 0) {
		store_read_end(s->ctx->store);
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	s->meta = &meta;
	struct text_hits *text = NULL;
	size_t ntext = 0;
	size_t nmsgs = s->msgs.n;
	if (nmsgs)
		text_hits_find(s, &q.root, &text, &ntext);
	hits = xmalloc((nmsgs ? nmsgs : 1) * sizeof *hits);
	uint32_t *hit_uids = xmalloc((nmsgs ? nmsgs : 1) * sizeof *hit_uids);
	for (size_t i = 0; i < nmsgs; i++) {
		/* the index's answers (text) spare reading most messages */
		struct cand c = {.s = s, .index = i, .hits = text, .nhits = ntext};
		bool match = eval(&c, &q.root, uid);
		cand_free(&c);
		if (match) {
			const struct imap_meta_msg *m = imap_meta_find(&meta, s->msgs.uids[i]);
			uint64_t ms = m ? m->modseq : 0;
			if (ms > top)
				top = ms;
			if (!nhits)
				first_modseq = ms;
			last_modseq = ms;
			hit_uids[nhits] = s->msgs.uids[i];
			hits[nhits++] = uid ? s->msgs.uids[i] : (uint32_t)i + 1;
		}
	}
	text_hits_free(text, ntext);
	store_read_end(s->ctx->store);
	if (q.ret_save) {
		/* SAVE with MIN and/or MAX alone keeps just those (RFC 5182 2.1). */
		size_t nsave = nhits;
		if ((q.ret_min || q.ret_max) && !q.ret_all && !q.ret_count && nhits) {
			uint32_t lo = hit_uids[0], hi = hit_uids[nhits - 1];
			nsave = 0;
			if (q.ret_min)
				hit_uids[nsave++] = lo;
			if (q.ret_max && (!q.ret_min || hi != lo))
				hit_uids[nsave++] = hi;
		}
		free(s->saved);
		s->saved = hit_uids;
		s->nsaved = nsave;
		hit_uids = NULL;
	}
	free(hit_uids);
	/* IMAP4rev2 answers every SEARCH with ESEARCH, ALL when no option
	   was given (RFC 9051 6.4.4). */
	if (s->rev2 && !q.esearch) {
		q.esearch = true;
		q.ret_all = true;
	}
	if (q.esearch) {
		buf_printf(&out, "* ESEARCH (TAG \"%s\")%s", s->tag, uid ? " UID" : "");
		if (q.ret_min && nhits)
			buf_printf(&out, " MIN %u", hits[0]);
		if (q.ret_max && nhits)
			buf_printf(&out, " MAX %u", hits[nhits - 1]);
		if (q.ret_count)
			buf_printf(&out, " COUNT %zu", nhits);
		if (q.ret_all && nhits) {
			buf_puts(&out, " ALL ");
			imap_put_set(&out, hits, nhits);
		}
		if (q.ret_partial)
			imap_put_partial(&out, &q, hits, nhits);
		if (modseq && nhits && (q.ret_min || q.ret_max) && !q.ret_all && !q.ret_count) {
			top = 0;
			if (q.ret_min)
				top = first_modseq;
			if (q.ret_max && last_modseq > top)
				top = last_modseq;
		}
		if (modseq && nhits)
			buf_printf(&out, " MODSEQ %llu", (unsigned long long)top);
	} else {
		buf_puts(&out, "* SEARCH");
		for (size_t i = 0; i < nhits; i++)
			buf_printf(&out, " %u", hits[i]);
		if (modseq && nhits)
			buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)top);
	}
	if (!q.esearch || q.ret_min || q.ret_max || q.ret_count || q.ret_all || q.ret_partial ||
	    q.ret_update) {
		buf_puts(&out, "\r\n");
		imap_write(s, out.data, out.len);
	}
	if (q.ret_update)
		imap_update_add_search(s, s->tag, uid, &q, hits, nhits);
	s->meta = NULL;
	imap_meta_free(&meta);
	imap_sync(s, uid); /* UID SEARCH may report expunges, SEARCH not */
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
out:
	s->meta = NULL;
	imap_meta_free(&meta);
	free(hits);
	imap_search_free(&q);
	buf_free(&why);
	buf_free(&err);
	buf_free(&out);
}
