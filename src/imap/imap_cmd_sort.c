/*
 * imap_cmd_sort — SORT and UID SORT (RFC 5256, RFC 5957 DISPLAYFROM and
 * DISPLAYTO, RFC 5267 RETURN options), THREAD and UID THREAD (RFC 5256).
 *
 * The search program is SEARCH's (imap_search_matches). Sort keys come from
 * the message's ENVELOPE as cached at delivery (computed from the bytes for
 * a message stored without one): the first address of From, To or Cc
 * (its mailbox; for DISPLAY* its decoded display name, else its
 * addr-spec), the base subject, the Date: field in UTC (INTERNALDATE when
 * it has none or cannot be read); ARRIVAL and SIZE are the INTERNALDATE and
 * size read for the command (s->meta).
 * Strings compare as i;ascii-casemap (upper-cased bytes), and messages equal
 * on every criterion keep their mailbox order.
 *
 * THREAD REFERENCES also needs the References field, which is not in the
 * ENVELOPE: it is read from the message's header.
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "mime/mime.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* ---- sort keys ------------------------------------------------------------------------ */

struct imap_sort_keys {
	uint32_t uid;
	int64_t arrival, date;
	uint64_t size;
	/* upper-cased; empty when absent */
	char *subject, *from, *to, *cc, *display_from, *display_to;
};

/* Whether the criteria or the program need s->meta: INTERNALDATE for
   ARRIVAL and for DATE (when the Date: field cannot be read), the size. */
static bool sort_needs_meta(const struct imap_sort *sort)
{
	for (size_t i = 0; i < sort->ncrit; i++)
		if (sort->crit[i].key == IMAP_SORT_ARRIVAL || sort->crit[i].key == IMAP_SORT_DATE ||
		    sort->crit[i].key == IMAP_SORT_SIZE)
			return true;
	return imap_search_needs_meta(&sort->search);
}

/* Reads meta for every message of the mailbox that can match q when need
   says so, and makes it s->meta; with_modseq as imap_meta_load_all(). -1 on
   a store error. */
static int meta_for_command(struct imap_session *s, bool need, const struct imap_search *q,
                            bool with_modseq, struct imap_meta *meta)
{
	uint64_t floor = imap_search_modseq_floor(q);
	if (need && imap_meta_load_all(s, floor ? floor - 1 : 0, with_modseq, meta) < 0)
		return -1;
	s->meta = meta;
	return 0;
}

static bool needs_envelope(const struct imap_sort *sort)
{
	for (size_t i = 0; i < sort->ncrit; i++)
		if (sort->crit[i].key != IMAP_SORT_ARRIVAL && sort->crit[i].key != IMAP_SORT_SIZE)
			return true;
	return false;
}

/* The message's ENVELOPE text: the cached one, else computed from its bytes.
   -1 when the message is gone. */
static int envelope_text(struct imap_session *s, uint32_t uid, struct buf *env)
{
	struct buf bs = BUF_INIT, err = BUF_INIT;
	enum store_lookup l =
	        store_message_cache(s->ctx->store, s->mailbox_id, uid, env, &bs, &err);
	buf_free(&bs);
	if (l == STORE_FOUND && !env->len) {
		struct buf msg = BUF_INIT;
		l = store_message_read(s->ctx->store, s->mailbox_id, uid, &msg, &err);
		if (l == STORE_FOUND)
			mime_envelope(msg.data ? msg.data : "", msg.len,
			              env); /* parsing stops at the header's end */
		buf_free(&msg);
	}
	buf_free(&err);
	return l == STORE_FOUND ? 0 : -1;
}

static char *upper_dup(const char *p, size_t len)
{
	char *r = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		r[i] = p[i] >= 'a' && p[i] <= 'z' ? (char)(p[i] - ('a' - 'A')) : p[i];
	r[len] = '\0';
	return r;
}

static char *addr_key(const struct imap_envelope_addr *a)
{
	const char *m = a->mailbox ? a->mailbox : "";
	return upper_dup(m, strlen(m));
}

/* RFC 5957: the display name, decoded, else the addr-spec (a group's name). */
static char *display_key(const struct imap_envelope_addr *a)
{
	struct buf b = BUF_INIT;
	if (a->name && *a->name)
		mime_decode_header(a->name, strlen(a->name), &b);
	if (!b.len && a->mailbox) {
		buf_puts(&b, a->mailbox);
		if (a->host)
			buf_printf(&b, "@%s", a->host);
	}
	char *r = upper_dup(b.data ? b.data : "", b.len);
	buf_free(&b);
	return r;
}

struct imap_sort_keys *imap_sort_keys_load(struct imap_session *s, size_t index,
                                           const struct imap_sort *sort)
{
	struct imap_sort_keys *k = xcalloc(1, sizeof(*k));
	k->uid = s->msgs.uids[index];
	const struct imap_meta_msg *m = imap_meta_find(s->meta, k->uid);
	if (m) {
		k->arrival = k->date = m->internaldate;
		k->size = m->size;
	}
	struct imap_envelope env = {0};
	struct buf text = BUF_INIT;
	if (needs_envelope(sort) && envelope_text(s, k->uid, &text) == 0)
		imap_envelope_parse(text.data ? text.data : "", text.len, &env);
	buf_free(&text);
	int64_t t;
	if (env.date && imap_parse_rfc5322_date(env.date, strlen(env.date), &t) == 0)
		k->date = t;
	struct buf b = BUF_INIT;
	if (env.subject)
		imap_base_subject(env.subject, strlen(env.subject), &b, NULL);
	k->subject = buf_steal(&b);
	buf_free(&b);
	k->from = addr_key(&env.from);
	k->to = addr_key(&env.to);
	k->cc = addr_key(&env.cc);
	k->display_from = display_key(&env.from);
	k->display_to = display_key(&env.to);
	imap_envelope_free(&env);
	return k;
}

void imap_sort_keys_free(struct imap_sort_keys **kp)
{
	struct imap_sort_keys *k = *kp;
	if (!k)
		return;
	free(k->subject);
	free(k->from);
	free(k->to);
	free(k->cc);
	free(k->display_from);
	free(k->display_to);
	xfree(kp);
}

uint32_t imap_sort_keys_uid(const struct imap_sort_keys *k)
{
	return k->uid;
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

int imap_sort_keys_cmp(const struct imap_sort *sort, const struct imap_sort_keys *a,
                       const struct imap_sort_keys *b)
{
	for (size_t i = 0; i < sort->ncrit; i++) {
		int r = 0;
		switch (sort->crit[i].key) {
		case IMAP_SORT_ARRIVAL:
			r = cmp_i64(a->arrival, b->arrival);
			break;
		case IMAP_SORT_DATE:
			r = cmp_i64(a->date, b->date);
			break;
		case IMAP_SORT_SIZE:
			r = a->size < b->size ? -1 : a->size > b->size;
			break;
		case IMAP_SORT_SUBJECT:
			r = strcmp(a->subject, b->subject);
			break;
		case IMAP_SORT_FROM:
			r = strcmp(a->from, b->from);
			break;
		case IMAP_SORT_TO:
			r = strcmp(a->to, b->to);
			break;
		case IMAP_SORT_CC:
			r = strcmp(a->cc, b->cc);
			break;
		case IMAP_SORT_DISPLAYFROM:
			r = strcmp(a->display_from, b->display_from);
			break;
		case IMAP_SORT_DISPLAYTO:
			r = strcmp(a->display_to, b->display_to);
			break;
		}
		if (r)
			return sort->crit[i].reverse ? -r : r;
	}
	/* equal: mailbox order, which is UID order */
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

/* ---- the result ---------------------------------------------------------------------- */

bool imap_charset_ok(struct imap_session *s, const struct imap_search *q)
{
	if (!q->charset || strcmp(q->charset, "UTF-8") == 0 || strcmp(q->charset, "US-ASCII") == 0)
		return true;
	imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
	return false;
}

void imap_put_partial(struct buf *out, const struct imap_search *q, const uint32_t *v, size_t n)
{
	buf_printf(out, " PARTIAL (%u:%u ", q->partial_lo, q->partial_hi);
	if (q->partial_lo > n) {
		buf_puts(out, "NIL)");
		return;
	}
	size_t hi = q->partial_hi < n ? q->partial_hi : n;
	imap_put_set(out, v + q->partial_lo - 1, hi - q->partial_lo + 1);
	buf_putc(out, ')');
}

static const struct imap_sort *cmp_sort; /* qsort's context: the loop thread only */

static int cmp_keys(const void *x, const void *y)
{
	return imap_sort_keys_cmp(cmp_sort, *(struct imap_sort_keys *const *)x,
	                          *(struct imap_sort_keys *const *)y);
}

/* The matching messages' keys, sorted. */
static struct imap_sort_keys **sorted_hits(struct imap_session *s, const struct imap_sort *sort,
                                           bool uid, size_t *n_r)
{
	struct imap_sort_keys **keys = xmalloc((s->msgs.n ? s->msgs.n : 1) * sizeof(*keys));
	size_t n = 0;
	for (size_t i = 0; i < s->msgs.n; i++)
		if (imap_search_matches(s, i, &sort->search, uid))
			keys[n++] = imap_sort_keys_load(s, i, sort);
	cmp_sort = sort;
	qsort(keys, n, sizeof(*keys), cmp_keys);
	*n_r = n;
	return keys;
}

void imap_cmd_sort(struct imap_session *s)
{
	bool uid = strcmp(s->cmd.name, "UID SORT") == 0;
	struct imap_sort sort;
	struct imap_meta meta = {0};
	struct buf why = BUF_INIT, out = BUF_INIT;
	if (imap_sort_parse(s->cmd.args, s->cmd.nargs, &sort, &why) < 0) {
		imap_bad(s, "%s", why.len ? buf_cstr(&why) : "Bad SORT");
		buf_free(&why);
		return;
	}
	const struct imap_search *q = &sort.search;
	if (q->ret_update && imap_update_tag_in_use(s, s->tag)) {
		imap_bad(s, "Tag reuse");
		goto out;
	}
	if (!imap_charset_ok(s, q)) {
		if (q->ret_save)
			s->nsaved = 0;
		goto out;
	}
	bool modseq = imap_search_uses_modseq(q);
	if (modseq)
		imap_condstore_enable(s);
	if (meta_for_command(s, sort_needs_meta(&sort), q, modseq, &meta) < 0) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	size_t n;
	struct imap_sort_keys **keys = sorted_hits(s, &sort, uid, &n);
	uint32_t *ids = xmalloc((n ? n : 1) * sizeof(*ids));
	uint64_t top = 0;
	for (size_t i = 0; i < n; i++) {
		long k = imap_msg_by_uid(s, keys[i]->uid);
		ids[i] = uid ? keys[i]->uid : (uint32_t)k + 1;
		const struct imap_meta_msg *m = imap_meta_find(&meta, keys[i]->uid);
		if (m && m->modseq > top)
			top = m->modseq;
	}
	s->meta = NULL;
	imap_meta_free(&meta);
	if (q->ret_save) {
		/* "$" is a set: with MIN and/or MAX alone, just those (RFC 5182 2.1) */
		uint32_t *saved = xmalloc((n ? n : 1) * sizeof(*saved));
		size_t nsave = 0;
		if ((q->ret_min || q->ret_max) && !q->ret_all && !q->ret_count && n) {
			if (q->ret_min)
				saved[nsave++] = keys[0]->uid;
			if (q->ret_max && (!q->ret_min || n > 1))
				saved[nsave++] = keys[n - 1]->uid;
		} else {
			for (size_t i = 0; i < n; i++)
				saved[nsave++] = keys[i]->uid;
		}
		free(s->saved);
		s->saved = saved;
		s->nsaved = nsave;
	}
	if (q->esearch) {
		buf_printf(&out, "* ESEARCH (TAG \"%s\")%s", s->tag, uid ? " UID" : "");
		if (q->ret_min && n)
			buf_printf(&out, " MIN %u", ids[0]);
		if (q->ret_max && n)
			buf_printf(&out, " MAX %u", ids[n - 1]);
		if (q->ret_count)
			buf_printf(&out, " COUNT %zu", n);
		if (q->ret_all && n) {
			buf_puts(&out, " ALL ");
			imap_put_set(&out, ids, n);
		}
		if (q->ret_partial)
			imap_put_partial(&out, q, ids, n);
		if (modseq && n)
			buf_printf(&out, " MODSEQ %llu", (unsigned long long)top);
	} else {
		buf_puts(&out, "* SORT");
		for (size_t i = 0; i < n; i++)
			buf_printf(&out, " %u", ids[i]);
		if (modseq && n)
			buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)top);
	}
	if (!q->esearch || q->ret_min || q->ret_max || q->ret_count || q->ret_all ||
	    q->ret_partial || q->ret_update) {
		buf_puts(&out, "\r\n");
		imap_write(s, out.data, out.len);
	}
	if (q->ret_update) {
		/* the context takes the program and the keys */
		imap_update_add(s, s->tag, uid, &sort, keys, n);
		keys = NULL;
	}
	for (size_t i = 0; keys && i < n; i++)
		imap_sort_keys_free(&keys[i]);
	free(keys);
	free(ids);
	imap_sync(s, uid); /* UID SORT may report expunges, SORT not */
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
out:
	s->meta = NULL;
	imap_meta_free(&meta);
	imap_sort_free(&sort);
	buf_free(&why);
	buf_free(&out);
}

/* ---- THREAD -------------------------------------------------------------------------- */

/* What threading needs of message index. */
static void thread_msg_load(struct imap_session *s, size_t index, bool uid,
                            enum imap_thread_alg alg, struct imap_thread_msg *t)
{
	uint32_t u = s->msgs.uids[index];
	const struct imap_meta_msg *m = imap_meta_find(s->meta, u);
	t->id = uid ? u : (uint32_t)index + 1;
	t->date = m ? m->internaldate : 0;
	struct imap_envelope env = {0};
	struct buf text = BUF_INIT, b = BUF_INIT;
	if (envelope_text(s, u, &text) == 0)
		imap_envelope_parse(text.data ? text.data : "", text.len, &env);
	int64_t d;
	if (env.date && imap_parse_rfc5322_date(env.date, strlen(env.date), &d) == 0)
		t->date = d;
	if (env.subject)
		imap_base_subject(env.subject, strlen(env.subject), &b, &t->reply);
	t->subject = buf_steal(&b);
	if (alg == IMAP_THREAD_REFERENCES) {
		char **ids = NULL;
		size_t nids = 0;
		if (env.message_id)
			imap_thread_msgids(env.message_id, strlen(env.message_id), 1, &ids, &nids);
		t->msgid = nids ? ids[0] : NULL;
		free(ids);
		struct buf msg = BUF_INIT, refs = BUF_INIT, err = BUF_INIT;
		if (store_message_read(s->ctx->store, s->mailbox_id, u, &msg, &err) ==
		            STORE_FOUND &&
		    mime_header_get(msg.data ? msg.data : "",
		                    mime_header_len(msg.data ? msg.data : "", msg.len),
		                    "References", &refs))
			imap_thread_msgids(refs.data ? refs.data : "", refs.len,
			                   IMAP_MAX_THREAD_REFS, &t->refs, &t->nrefs);
		if (!t->nrefs && env.in_reply_to)
			imap_thread_msgids(env.in_reply_to, strlen(env.in_reply_to), 1, &t->refs,
			                   &t->nrefs);
		buf_free(&msg);
		buf_free(&refs);
		buf_free(&err);
	}
	buf_free(&b);
	buf_free(&text);
	imap_envelope_free(&env);
}

void imap_cmd_thread(struct imap_session *s)
{
	bool uid = strcmp(s->cmd.name, "UID THREAD") == 0;
	enum imap_thread_alg alg;
	struct imap_search q;
	struct imap_meta meta = {0};
	struct buf why = BUF_INIT, out = BUF_INIT;
	if (imap_thread_parse(s->cmd.args, s->cmd.nargs, &alg, &q, &why) < 0) {
		imap_bad(s, "%s", why.len ? buf_cstr(&why) : "Bad THREAD");
		buf_free(&why);
		return;
	}
	if (!imap_charset_ok(s, &q))
		goto out;
	if (imap_search_uses_modseq(&q))
		imap_condstore_enable(s);
	/* INTERNALDATE for the messages whose Date: field cannot be read */
	if (meta_for_command(s, true, &q, false, &meta) < 0) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	struct imap_thread_msg *msgs = xcalloc(s->msgs.n ? s->msgs.n : 1, sizeof(*msgs));
	size_t n = 0;
	for (size_t i = 0; i < s->msgs.n; i++)
		if (imap_search_matches(s, i, &q, uid))
			thread_msg_load(s, i, uid, alg, &msgs[n++]);
	s->meta = NULL;
	imap_meta_free(&meta);
	buf_puts(&out, "* THREAD ");
	imap_thread(alg, msgs, n, &out);
	if (!n)
		buf_truncate(&out, out.len - 1); /* "* THREAD" alone */
	buf_puts(&out, "\r\n");
	imap_write(s, out.data, out.len);
	for (size_t i = 0; i < n; i++) {
		free((char *)msgs[i].msgid);
		free((char *)msgs[i].subject);
		imap_thread_msgids_free(&msgs[i].refs, msgs[i].nrefs);
	}
	free(msgs);
	imap_sync(s, uid);
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
out:
	s->meta = NULL;
	imap_meta_free(&meta);
	imap_search_free(&q);
	buf_free(&why);
	buf_free(&out);
}
