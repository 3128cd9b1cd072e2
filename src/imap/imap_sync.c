/*
 * imap_sync — the selected mailbox: its message index, and bringing the
 * client up to date.
 *
 * The index (imap_index.c) is what the client knows: UIDs in ascending
 * order (message sequence number = position + 1) with the flags and keywords
 * last reported, nothing more. imap_sync() asks the store for everything
 * that changed since s->modseq and reports the difference: untagged FETCH
 * for changed flags, EXPUNGE for removed messages (only when the command
 * allows it: never during FETCH, STORE or SEARCH, whose sequence numbers
 * must stay put), then EXISTS (and RECENT) for new ones.
 * Reporting compares with the index, so a change the session made itself is
 * not echoed back, and reading the same change twice is harmless. A keyword
 * the client has not seen yet is announced with FLAGS and PERMANENTFLAGS
 * before the first response that uses it.
 *
 * No MODSEQ is kept per message: every message store_changes() returns has
 * one above s->modseq, so it is news to the client unless the index already
 * holds that change, which s->index_modseq tells (a change read before, while
 * expunges were held back and s->modseq stayed put). A command that needs
 * MODSEQs, INTERNALDATEs or sizes reads them with imap_meta_load().
 *
 * \Recent (IMAP4rev1). A message is recent in the first session that learns
 * of it with its mailbox selected read-write; EXAMINE shows recent messages
 * without claiming them. Claims go in UID order, so what is still unclaimed
 * is one number per mailbox, the first unclaimed UID (Dovecot keeps the same
 * in its index). The marks live in this process: a mailbox gets its mark the
 * first time a session opens it, from the messages saved into it since the
 * server started (their savedate), so after a restart what was stored before
 * it is no longer recent. Nodes sharing a store each claim on their own.
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- \Recent claim marks -------------------------------------------------------------- */

struct recent_mark {
	int64_t mailbox_id;
	uint32_t uidvalidity;
	uint32_t first_unclaimed;
};

static struct recent_mark *recent_marks;
static size_t nrecent_marks, recent_marks_cap;
static int64_t recent_epoch; /* when this process started */

/* Before main(), so that mail delivered before the first IMAP session is
   recent too. */
__attribute__((constructor)) static void recent_epoch_init(void)
{
	recent_epoch = (int64_t)time(NULL);
}

/* The slot (+ 1) of a mailbox's mark, or 0. A mark of a mailbox id that has
   been reused (another UIDVALIDITY) is dropped. */
static size_t mark_find(int64_t mailbox_id, uint32_t uidvalidity)
{
	for (size_t i = 0; i < nrecent_marks; i++) {
		struct recent_mark *k = &recent_marks[i];
		if (k->mailbox_id != mailbox_id)
			continue;
		if (k->uidvalidity != uidvalidity) {
			*k = recent_marks[--nrecent_marks];
			return 0;
		}
		return i + 1;
	}
	return 0;
}

static size_t mark_add(int64_t mailbox_id, uint32_t uidvalidity, uint32_t first_unclaimed)
{
	if (nrecent_marks == recent_marks_cap) {
		recent_marks_cap = recent_marks_cap ? recent_marks_cap * 2 : 16;
		recent_marks = xrealloc(recent_marks, recent_marks_cap * sizeof *recent_marks);
	}
	recent_marks[nrecent_marks++] =
	        (struct recent_mark){mailbox_id, uidvalidity, first_unclaimed};
	return nrecent_marks;
}

/* The selected mailbox's mark (slots move when a mark is dropped: look again). */
static struct recent_mark *session_mark(struct imap_session *s)
{
	if (s->recent_slot && s->recent_slot <= nrecent_marks &&
	    recent_marks[s->recent_slot - 1].mailbox_id == s->mailbox_id &&
	    recent_marks[s->recent_slot - 1].uidvalidity == s->uidvalidity)
		return &recent_marks[s->recent_slot - 1];
	s->recent_slot = mark_find(s->mailbox_id, s->uidvalidity);
	return s->recent_slot ? &recent_marks[s->recent_slot - 1] : NULL;
}

/* A new message of the selected mailbox: recent here if nobody claimed it.
   IMAP4rev2 has no \Recent: its sessions neither see nor claim any. */
static void maybe_recent(struct imap_session *s, size_t i)
{
	struct recent_mark *k = session_mark(s);
	uint32_t uid = s->msgs.uids[i];
	if (!k || uid < k->first_unclaimed || s->rev2)
		return;
	s->msgs.flags[i] |= STORE_FLAG_RECENT;
	s->nrecent++;
	if (!s->readonly)
		k->first_unclaimed = uid == UINT32_MAX ? UINT32_MAX : uid + 1;
}

struct recent_count {
	bool by_savedate;  /* no mark yet: from the first message saved since start */
	uint32_t from_uid; /* count uids >= this (0: none yet) */
	uint32_t count;
};

static void count_recent(const struct store_message *m, void *arg)
{
	struct recent_count *c = arg;
	if (c->by_savedate && !c->from_uid && m->savedate >= recent_epoch)
		c->from_uid = m->uid;
	if (c->from_uid && m->uid >= c->from_uid)
		c->count++;
}

int imap_recent_count(struct imap_session *s, const struct store_mailbox *m, uint32_t *n_r)
{
	struct buf err = BUF_INIT;
	size_t slot = mark_find(m->id, m->uidvalidity);
	struct recent_count c = {.by_savedate = !slot};
	if (slot)
		c.from_uid = recent_marks[slot - 1].first_unclaimed;
	*n_r = 0;
	int r = 0;
	if (!slot || c.from_uid < m->uidnext)
		r = store_message_list(s->ctx->store, m->id, slot ? c.from_uid : 1, UINT32_MAX,
		                       count_recent, &c, &err);
	buf_free(&err);
	if (r < 0)
		return -1;
	/* No session has opened it yet: it gets its mark now. */
	if (!slot)
		mark_add(m->id, m->uidvalidity, c.from_uid ? c.from_uid : m->uidnext);
	*n_r = c.count;
	return 0;
}

static bool strv_equal(char **a, char **b)
{
	size_t na = 0, nb = 0;
	while (a && a[na])
		na++;
	while (b && b[nb])
		nb++;
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		bool found = false;
		for (size_t j = 0; j < nb && !found; j++)
			found = strcasecmp(a[i], b[j]) == 0;
		if (!found)
			return false;
	}
	return true;
}

#define VISIBLE_FLAGS                                                                              \
	(STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | STORE_FLAG_DELETED |         \
	 STORE_FLAG_DRAFT)

static size_t msgs_push(struct imap_session *s, const struct store_message *m)
{
	return imap_index_push(&s->msgs, m->uid, (uint8_t)(m->flags & VISIBLE_FLAGS), m->keywords);
}

long imap_msg_by_uid(const struct imap_session *s, uint32_t uid)
{
	return imap_index_find(&s->msgs, uid);
}

uint32_t imap_msg_flags(const struct imap_session *s, size_t index)
{
	return s->msgs.flags[index];
}

char **imap_msg_keywords(const struct imap_session *s, size_t index)
{
	return imap_index_keywords(&s->msgs, index);
}

/* ---- metadata for one command ------------------------------------------------------------ */

static void meta_one(const struct store_message *m, void *arg)
{
	imap_meta_push(arg, &(struct imap_meta_msg){m->uid, m->modseq, m->internaldate, m->size});
}

int imap_meta_load(struct imap_session *s, uint32_t lo, uint32_t hi, uint64_t modseq,
                   struct imap_meta *meta)
{
	struct buf err = BUF_INIT;
	int r = store_message_meta(s->ctx->store, s->mailbox_id, lo, hi, modseq, meta_one, meta,
	                           &err);
	if (r < 0)
		log_warn("imap id=%s event=metadata-failed reason=\"%s\"",
		         s->conn ? conn_id(s->conn) : "-", buf_cstr(&err));
	buf_free(&err);
	return r;
}

bool imap_meta_stale(const struct imap_session *s, const struct imap_meta *meta)
{
	for (size_t i = 0; i < meta->n; i++)
		if (meta->v[i].modseq > s->index_modseq)
			return true;
	return false;
}

int imap_meta_load_all(struct imap_session *s, uint64_t modseq, bool with_modseq,
                       struct imap_meta *meta)
{
	if (!s->msgs.n)
		return 0;
	store_read_begin(s->ctx->store);
	int r = imap_meta_load(s, s->msgs.uids[0], s->msgs.uids[s->msgs.n - 1], modseq, meta);
	if (r == 0 && with_modseq && imap_meta_stale(s, meta)) {
		imap_sync(s, false);
		imap_meta_free(meta);
		if (s->msgs.n)
			r = imap_meta_load(s, s->msgs.uids[0], s->msgs.uids[s->msgs.n - 1], modseq,
			                   meta);
	}
	store_read_end(s->ctx->store);
	return r;
}

/* ---- keywords in FLAGS ---------------------------------------------------------------- */

/* Adds the keywords the client has not been told about; true when any was. */
static bool learn_keywords(struct imap_session *s, char **kw)
{
	bool added = false;
	for (; kw && *kw; kw++) {
		bool known = false;
		for (size_t i = 0; i < s->nkeywords && !known; i++)
			known = strcasecmp(s->keywords[i], *kw) == 0;
		if (known)
			continue;
		s->keywords = xrealloc(s->keywords, (s->nkeywords + 2) * sizeof *s->keywords);
		s->keywords[s->nkeywords++] = xstrdup(*kw);
		s->keywords[s->nkeywords] = NULL;
		added = true;
	}
	return added;
}

void imap_put_flags_announce(struct imap_session *s, struct buf *out)
{
	buf_puts(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < s->nkeywords; i++)
		buf_printf(out, " %s", s->keywords[i]);
	buf_puts(out, ")\r\n");
	if (s->readonly) {
		buf_puts(out, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
		return;
	}
	buf_puts(out, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < s->nkeywords; i++)
		buf_printf(out, " %s", s->keywords[i]);
	buf_puts(out, " \\*)] Flags permitted\r\n");
}

/* ---- selecting ------------------------------------------------------------------------------ */

static void on_change(int64_t mailbox_id, uint64_t modseq, void *arg)
{
	struct imap_session *s = arg;
	/* Renamed or deleted (by another session: this one's own DELETE
	   unselected it first): the next sync looks it up again. */
	if (modseq == 0)
		s->mailbox_moved = true;
	if (s->idling && s->conn)
		imap_notify_sync(s, true);
	else
		imap_notify_push_selected(s);
}

struct load {
	struct imap_session *s;
	uint32_t first_new; /* the first uid saved since the server started */
	uint64_t top;       /* the highest MODSEQ read */
};

static void load_one(const struct store_message *m, void *arg)
{
	struct load *l = arg;
	msgs_push(l->s, m);
	learn_keywords(l->s, m->keywords);
	if (!l->first_new && m->savedate >= recent_epoch)
		l->first_new = m->uid;
	if (m->modseq > l->top)
		l->top = m->modseq;
}

int imap_select_load(struct imap_session *s, const struct store_mailbox *m, bool readonly,
                     struct buf *err)
{
	imap_unselect(s);
	struct load l = {.s = s, .top = m->highestmodseq};
	/* Exactly the room the mailbox needs: with the mailbox read in the same
	   read transaction, that is all of it. */
	imap_index_reserve(&s->msgs, m->messages);
	if (store_message_list(s->ctx->store, m->id, 1, UINT32_MAX, load_one, &l, err) < 0) {
		imap_unselect(s);
		return -1;
	}
	s->mailbox_id = m->id;
	s->uidvalidity = m->uidvalidity;
	s->readonly = readonly;
	s->modseq = m->highestmodseq;
	s->index_modseq = l.top;
	s->mailbox_name = xstrdup(m->name);
	/* \Recent: the unclaimed messages are this session's (see the top). */
	s->recent_slot = mark_find(m->id, m->uidvalidity);
	if (!s->recent_slot) {
		uint32_t next = s->msgs.n ? s->msgs.uids[s->msgs.n - 1] + 1 : 1;
		if (m->uidnext > next)
			next = m->uidnext;
		s->recent_slot = mark_add(m->id, m->uidvalidity, l.first_new ? l.first_new : next);
	}
	for (size_t i = 0; i < s->msgs.n; i++)
		maybe_recent(s, i);
	s->watch = store_watch_add(s->ctx->store, m->id, on_change, s);
	return 0;
}

void imap_unselect(struct imap_session *s)
{
	if (s->watch)
		store_watch_remove(s->ctx->store, &s->watch);
	imap_index_free(&s->msgs);
	xfree(&s->mailbox_name);
	xfree(&s->saved);
	imap_update_free_all(s);
	imap_strv_free(&s->keywords);
	s->nkeywords = 0;
	s->nsaved = 0;
	s->nrecent = 0;
	s->recent_slot = 0;
	s->mailbox_id = 0;
	s->mailbox_moved = false;
	s->modseq = 0;
	s->index_modseq = 0;
	s->readonly = false;
}

/* ---- bringing the client up to date ---------------------------------------------------- */

struct sync {
	struct imap_session *s;
	struct buf out;
	bool added;
	uint64_t top;
	uint32_t *gone;
	size_t ngone;
	uint64_t gone_low;        /* the lowest MODSEQ among gone */
	struct imap_meta touched; /* new or changed messages, for UPDATE contexts */
};

static void put_fetch_flags(struct imap_session *s, struct buf *out, size_t idx, uint64_t modseq)
{
	buf_printf(out, "* %zu FETCH (UID %u FLAGS ", idx + 1, s->msgs.uids[idx]);
	imap_put_flags(out, imap_msg_flags(s, idx), imap_msg_keywords(s, idx));
	if (s->condstore)
		buf_printf(out, " MODSEQ (%llu)", (unsigned long long)modseq);
	buf_puts(out, ")\r\n");
}

static void sync_changed(const struct store_message *m, void *arg)
{
	struct sync *y = arg;
	struct imap_session *s = y->s;
	if (m->modseq > y->top)
		y->top = m->modseq;
	if (learn_keywords(s, m->keywords))
		imap_put_flags_announce(s, &y->out);
	if (s->nupdates)
		imap_meta_push(&y->touched, &(struct imap_meta_msg){m->uid, m->modseq,
		                                                    m->internaldate, m->size});
	long idx = imap_msg_by_uid(s, m->uid);
	if (idx < 0) {
		if (s->msgs.n == 0 || m->uid > s->msgs.uids[s->msgs.n - 1]) {
			maybe_recent(s, msgs_push(s, m));
			y->added = true;
		}
		return;
	}
	uint8_t *flags = &s->msgs.flags[idx];
	bool differ = (*flags & VISIBLE_FLAGS) != (m->flags & VISIBLE_FLAGS) ||
	              !strv_equal(imap_msg_keywords(s, (size_t)idx), m->keywords);
	/* A CONDSTORE client also learns a new MODSEQ of flags it already
	   shows, as after the \Seen that a FETCH of BODY[] sets; one the index
	   holds already it has been told. */
	bool newer = s->condstore && m->modseq > s->index_modseq;
	if (!differ && !newer)
		return;
	*flags = (uint8_t)((*flags & ~VISIBLE_FLAGS) | (m->flags & VISIBLE_FLAGS));
	imap_index_set_keywords(&s->msgs, (size_t)idx, m->keywords);
	if (!imap_uid_in(s->quiet, s->nquiet, m->uid))
		put_fetch_flags(s, &y->out, (size_t)idx, m->modseq);
}

static void sync_expunged(uint32_t uid, uint64_t modseq, void *arg)
{
	struct sync *y = arg;
	if (modseq > y->top)
		y->top = modseq;
	if (imap_msg_by_uid(y->s, uid) < 0)
		return;
	if (!y->ngone || modseq < y->gone_low)
		y->gone_low = modseq;
	y->gone = xrealloc(y->gone, (y->ngone + 1) * sizeof *y->gone);
	y->gone[y->ngone++] = uid;
}

struct find_box {
	int64_t id;
	char *name;
};

static void find_box(const struct store_mailbox *m, void *arg)
{
	struct find_box *f = arg;
	if (m->id == f->id && !f->name)
		f->name = xstrdup(m->name);
}

/* After a rename or delete of the selected mailbox (or of a parent): its
   name now, or false when it is gone. A rename keeps the mailbox, its UIDs
   and its session (RFC 2180 3.4). */
static bool mailbox_follow(struct imap_session *s)
{
	struct find_box f = {.id = s->mailbox_id};
	struct buf err = BUF_INIT;
	int r = store_mailbox_list(s->ctx->store, s->account_id, find_box, &f, &err);
	buf_free(&err);
	if (r < 0)
		return true; /* cannot tell now: the next sync asks again */
	s->mailbox_moved = false;
	if (!f.name)
		return false;
	free(s->mailbox_name);
	s->mailbox_name = f.name;
	return true;
}

/* Whether the selected mailbox no longer exists (a rename keeps its id). */
static bool mailbox_gone(struct imap_session *s)
{
	struct store_mailbox m = {0};
	struct buf err = BUF_INIT;
	enum store_lookup l =
	        store_mailbox_get(s->ctx->store, s->account_id, s->mailbox_name, &m, &err);
	bool gone = l == STORE_NOT_FOUND || (l == STORE_FOUND && m.id != s->mailbox_id);
	store_mailbox_clear(&m);
	buf_free(&err);
	return gone;
}

/* Deleted by another session: nothing the client knows of it holds any
   more, and IMAP has no way to say so but BYE (RFC 2180 3.3; Dovecot's words). */
static void mailbox_deleted(struct imap_session *s)
{
	log_info("imap id=%s event=selected-mailbox-deleted", s->conn ? conn_id(s->conn) : "-");
	s->idling = false;
	imap_reply(s, "* BYE Selected mailbox was deleted, have to disconnect");
	imap_close(s);
}

void imap_sync(struct imap_session *s, bool allow_expunge)
{
	if (!(s->state & IMAP_STATE_SELECTED) || !s->mailbox_id || s->closing)
		return;
	if (s->mailbox_moved && !mailbox_follow(s)) {
		mailbox_deleted(s);
		return;
	}
	struct sync y = {.s = s, .top = s->modseq};
	struct buf err = BUF_INIT;
	bool complete = true;
	if (store_changes(s->ctx->store, s->mailbox_id, s->modseq, sync_changed, sync_expunged, &y,
	                  &complete, &err) < 0) {
		if (mailbox_gone(s)) {
			mailbox_deleted(s);
		} else {
			log_warn("imap id=%s event=sync-failed reason=\"%s\"",
			         s->conn ? conn_id(s->conn) : "-", buf_cstr(&err));
		}
		buf_free(&err);
		buf_free(&y.out);
		free(y.gone);
		imap_meta_free(&y.touched);
		return;
	}
	if (y.top > s->index_modseq)
		s->index_modseq = y.top;
	if (y.ngone && allow_expunge) {
		/* Highest sequence numbers first, so the lower ones stay valid;
		   QRESYNC clients get one VANISHED with the uids instead. */
		qsort(y.gone, y.ngone, sizeof *y.gone, imap_cmp_u32);
		imap_update_expunged(s, y.gone, y.ngone, &y.out);
		size_t j = y.ngone, nvanished = 0, ndel = 0;
		uint32_t *vanished = s->qresync ? xmalloc(y.ngone * sizeof *vanished) : NULL;
		size_t *del = xmalloc(y.ngone * sizeof *del);
		for (size_t k = s->msgs.n; k-- > 0 && j > 0;) {
			uint32_t uid = s->msgs.uids[k];
			while (j > 0 && y.gone[j - 1] > uid)
				j--;
			if (j == 0 || y.gone[j - 1] != uid)
				continue;
			if (vanished)
				vanished[y.ngone - ++nvanished] = uid;
			else
				buf_printf(&y.out, "* %zu EXPUNGE\r\n", k + 1);
			if (s->msgs.flags[k] & STORE_FLAG_RECENT)
				s->nrecent--;
			del[y.ngone - ++ndel] = k;
		}
		imap_index_remove(&s->msgs, del + (y.ngone - ndel), ndel);
		free(del);
		if (nvanished) {
			buf_puts(&y.out, "* VANISHED ");
			imap_put_set(&y.out, vanished + (y.ngone - nvanished), nvanished);
			buf_puts(&y.out, "\r\n");
		}
		free(vanished);
	} else if (y.ngone && s->condstore) {
		/* Expunges held back while FETCH responses carry newer MODSEQs: a
		   client that stops here must resynchronise from before them
		   (RFC 7162 erratum 1810). */
		buf_printf(&y.out, "* OK [HIGHESTMODSEQ %llu] Expunges pending\r\n",
		           (unsigned long long)(y.gone_low - 1));
	}
	if (y.added) {
		buf_printf(&y.out, "* %zu EXISTS\r\n", s->msgs.n);
		if (!s->rev2)
			buf_printf(&y.out, "* %zu RECENT\r\n", s->nrecent);
	}
	if (y.touched.n)
		imap_update_changed(s, &y.touched, &y.out);
	if (!y.ngone || allow_expunge)
		s->modseq = y.top;
	imap_write(s, y.out.data, y.out.len);
	buf_free(&y.out);
	buf_free(&err);
	free(y.gone);
	imap_meta_free(&y.touched);
}

void imap_condstore_enable(struct imap_session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->state == IMAP_STATE_SELECTED && s->mailbox_id)
		imap_reply(s, "* OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)s->modseq);
}

/* ---- VANISHED (EARLIER) ---------------------------------------------------------------- */

struct vanish {
	struct imap_session *s;
	const struct imap_seqset *set;
	uint32_t floor, limit;
	uint32_t *uids;
	size_t n, cap;
};

static void vanish_changed(const struct store_message *m, void *arg)
{
}

static void vanish_expunged(uint32_t uid, uint64_t modseq, void *arg)
{
	struct vanish *v = arg;
	if (uid <= v->floor || uid > v->limit || !imap_seqset_contains(v->set, uid, v->limit) ||
	    imap_msg_by_uid(v->s, uid) >= 0)
		return;
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->uids = xrealloc(v->uids, v->cap * sizeof *v->uids);
	}
	v->uids[v->n++] = uid;
}

/* Appends ",lo:hi" (or the first range without the comma). */
static void put_range(struct buf *out, bool *first, uint32_t lo, uint32_t hi)
{
	buf_printf(out, "%s%u", *first ? "" : ",", lo);
	if (hi > lo)
		buf_printf(out, ":%u", hi);
	*first = false;
}

int imap_put_vanished_earlier(struct imap_session *s, const struct imap_seqset *set,
                              uint64_t modseq, uint32_t floor, uint32_t uid_limit, struct buf *out)
{
	struct vanish v = {.s = s, .set = set, .floor = floor, .limit = uid_limit};
	struct buf err = BUF_INIT;
	bool complete = true;
	int rc = store_changes(s->ctx->store, s->mailbox_id, modseq, vanish_changed,
	                       vanish_expunged, &v, &complete, &err);
	if (rc < 0) {
		log_warn("imap id=%s event=vanished-failed reason=\"%s\"",
		         s->conn ? conn_id(s->conn) : "-", buf_cstr(&err));
		buf_free(&err);
		free(v.uids);
		return -1;
	}
	buf_free(&err);
	size_t mark = out->len;
	buf_puts(out, "* VANISHED (EARLIER) ");
	size_t start = out->len;
	bool first = true;
	if (complete) {
		if (v.n)
			qsort(v.uids, v.n, sizeof *v.uids, imap_cmp_u32);
		size_t k = 0;
		for (size_t i = 0; i < v.n; i++)
			if (!i || v.uids[i] != v.uids[i - 1])
				v.uids[k++] = v.uids[i];
		imap_put_set(out, v.uids, k);
	} else {
		/* Every uid of the set above floor that the mailbox lacks. */
		for (size_t r = 0; r < set->nranges; r++) {
			uint32_t lo =
			        set->ranges[r].lo == IMAP_SEQ_STAR ? uid_limit : set->ranges[r].lo;
			uint32_t hi =
			        set->ranges[r].hi == IMAP_SEQ_STAR ? uid_limit : set->ranges[r].hi;
			if (lo > hi) {
				uint32_t t = lo;
				lo = hi;
				hi = t;
			}
			if (lo <= floor)
				lo = floor + 1;
			if (hi > uid_limit)
				hi = uid_limit;
			if (lo == 0 || lo > hi)
				continue;
			size_t k = imap_index_lower_bound(&s->msgs, lo);
			uint32_t next = lo; /* the first uid not yet accounted for */
			for (; k < s->msgs.n && s->msgs.uids[k] <= hi; k++) {
				if (s->msgs.uids[k] > next)
					put_range(out, &first, next, s->msgs.uids[k] - 1);
				next = s->msgs.uids[k] + 1;
			}
			if (next && next <= hi)
				put_range(out, &first, next, hi);
		}
	}
	free(v.uids);
	if (out->len == start)
		buf_truncate(out, mark);
	else
		buf_puts(out, "\r\n");
	return 0;
}

/* ---- sequence sets ------------------------------------------------------------------ */

int imap_resolve_set(struct imap_session *s, const char *text, size_t len, bool uid, size_t **idx_r,
                     size_t *n_r)
{
	*idx_r = NULL;
	*n_r = 0;
	struct imap_seqset set = {0};
	if (imap_seqset_parse((struct str){text, len}, &set) < 0)
		return -1;
	size_t nmsgs = s->msgs.n;
	unsigned char *mark = xcalloc(nmsgs + 1, 1);
	if (set.saved) {
		for (size_t i = 0; i < s->nsaved; i++) {
			long k = imap_msg_by_uid(s, s->saved[i]);
			if (k >= 0)
				mark[k] = 1;
		}
	} else if (nmsgs > 0) {
		uint32_t max = uid ? s->msgs.uids[nmsgs - 1] : (uint32_t)nmsgs;
		for (size_t r = 0; r < set.nranges; r++) {
			uint32_t lo = set.ranges[r].lo == IMAP_SEQ_STAR ? max : set.ranges[r].lo;
			uint32_t hi = set.ranges[r].hi == IMAP_SEQ_STAR ? max : set.ranges[r].hi;
			if (lo > hi) {
				uint32_t t = lo;
				lo = hi;
				hi = t;
			}
			size_t a, b; /* index range [a, b) */
			if (uid) {
				a = imap_index_lower_bound(&s->msgs, lo);
				b = hi == UINT32_MAX ? nmsgs
				                     : imap_index_lower_bound(&s->msgs, hi + 1);
			} else {
				if (lo > nmsgs) {
					/* MSNs beyond the mailbox: a client error */
					free(mark);
					imap_seqset_free(&set);
					return -2;
				}
				a = lo - 1;
				b = hi > nmsgs ? nmsgs : hi;
				if (hi > nmsgs) {
					free(mark);
					imap_seqset_free(&set);
					return -2;
				}
			}
			for (size_t k = a; k < b; k++)
				mark[k] = 1;
		}
	} else if (!uid) {
		/* An empty mailbox has no sequence numbers at all. */
		free(mark);
		imap_seqset_free(&set);
		return -2;
	}
	size_t n = 0;
	for (size_t k = 0; k < nmsgs; k++)
		n += mark[k];
	size_t *idx = xmalloc((n ? n : 1) * sizeof *idx);
	n = 0;
	for (size_t k = 0; k < nmsgs; k++)
		if (mark[k])
			idx[n++] = k;
	free(mark);
	imap_seqset_free(&set);
	*idx_r = idx;
	*n_r = n;
	return 0;
}
