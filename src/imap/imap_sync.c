/*
 * imap_sync — the selected mailbox: its message index, and bringing the
 * client up to date.
 *
 * The index is what the client knows: UIDs in ascending order (message
 * sequence number = position + 1) with the flags last reported. imap_sync()
 * asks the store for everything that changed since s->modseq and reports the
 * difference: untagged FETCH for changed flags, EXPUNGE for removed messages
 * (only when the command allows it: never during FETCH, STORE or SEARCH, whose
 * sequence numbers must stay put), then EXISTS for new ones. Reporting compares
 * with the index, so a change the session made itself is not echoed back, and
 * reading the same change twice is harmless.
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static void msg_clear(struct imap_msg *m)
{
	imap_strv_free(&m->keywords);
}

static char **strv_dup(char **v)
{
	if (!v || !*v)
		return NULL;
	size_t n = 0;
	while (v[n])
		n++;
	char **c = xcalloc(n + 1, sizeof *c);
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
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

static void msgs_push(struct imap_session *s, const struct store_message *m)
{
	if (s->nmsgs == s->msgs_cap) {
		s->msgs_cap = s->msgs_cap ? s->msgs_cap * 2 : 64;
		s->msgs = xrealloc(s->msgs, s->msgs_cap * sizeof *s->msgs);
	}
	s->msgs[s->nmsgs++] = (struct imap_msg){m->uid, m->flags, m->modseq, strv_dup(m->keywords)};
}

long imap_msg_by_uid(const struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->nmsgs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nmsgs && s->msgs[lo].uid == uid ? (long)lo : -1;
}

static void on_change(int64_t mailbox_id, uint64_t modseq, void *arg)
{
	struct imap_session *s = arg;
	if (s->idling && s->conn)
		imap_sync(s, true);
}

static void load_one(const struct store_message *m, void *arg)
{
	msgs_push(arg, m);
}

int imap_select_load(struct imap_session *s, int64_t mailbox_id, struct buf *err)
{
	imap_unselect(s);
	if (store_message_list(s->ctx->store, mailbox_id, 1, UINT32_MAX, load_one, s, err) < 0)
		return -1;
	s->mailbox_id = mailbox_id;
	s->watch = store_watch_add(s->ctx->store, mailbox_id, on_change, s);
	return 0;
}

void imap_unselect(struct imap_session *s)
{
	if (s->watch)
		store_watch_remove(s->ctx->store, &s->watch);
	for (size_t i = 0; i < s->nmsgs; i++)
		msg_clear(&s->msgs[i]);
	xfree(&s->msgs);
	s->nmsgs = s->msgs_cap = 0;
	xfree(&s->mailbox_name);
	xfree(&s->saved);
	s->nsaved = 0;
	s->mailbox_id = 0;
	s->modseq = 0;
}

struct sync {
	struct imap_session *s;
	struct buf out;
	bool added;
	uint64_t top;
	uint32_t *gone;
	size_t ngone;
};

static void put_fetch_flags(struct imap_session *s, struct buf *out, size_t idx)
{
	const struct imap_msg *m = &s->msgs[idx];
	buf_printf(out, "* %zu FETCH (UID %u FLAGS ", idx + 1, m->uid);
	imap_put_flags(out, m->flags, m->keywords);
	if (s->condstore)
		buf_printf(out, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	buf_puts(out, ")\r\n");
}

static bool is_quiet(const struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->nquiet;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->quiet[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nquiet && s->quiet[lo] == uid;
}

static void sync_changed(const struct store_message *m, void *arg)
{
	struct sync *y = arg;
	struct imap_session *s = y->s;
	if (m->modseq > y->top)
		y->top = m->modseq;
	long idx = imap_msg_by_uid(s, m->uid);
	if (idx < 0) {
		if (s->nmsgs == 0 || m->uid > s->msgs[s->nmsgs - 1].uid) {
			msgs_push(s, m);
			y->added = true;
		}
		return;
	}
	struct imap_msg *known = &s->msgs[idx];
	uint32_t visible = STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED |
			   STORE_FLAG_DELETED | STORE_FLAG_DRAFT;
	bool differ = (known->flags & visible) != (m->flags & visible) ||
		      !strv_equal(known->keywords, m->keywords);
	known->modseq = m->modseq;
	if (!differ)
		return;
	known->flags = m->flags;
	imap_strv_free(&known->keywords);
	known->keywords = strv_dup(m->keywords);
	if (!is_quiet(s, m->uid))
		put_fetch_flags(s, &y->out, (size_t)idx);
}

static void sync_expunged(uint32_t uid, uint64_t modseq, void *arg)
{
	struct sync *y = arg;
	if (modseq > y->top)
		y->top = modseq;
	if (imap_msg_by_uid(y->s, uid) < 0)
		return;
	y->gone = xrealloc(y->gone, (y->ngone + 1) * sizeof *y->gone);
	y->gone[y->ngone++] = uid;
}

void imap_sync(struct imap_session *s, bool allow_expunge)
{
	if (!(s->state & IMAP_STATE_SELECTED) || !s->mailbox_id)
		return;
	struct sync y = {.s = s, .top = s->modseq};
	struct buf err = BUF_INIT;
	bool complete = true;
	if (store_changes(s->ctx->store, s->mailbox_id, s->modseq, sync_changed, sync_expunged, &y,
			  &complete, &err) < 0) {
		log_warn("imap id=%s event=sync-failed reason=\"%s\"",
			 s->conn ? conn_id(s->conn) : "-", buf_cstr(&err));
		buf_free(&err);
		buf_free(&y.out);
		free(y.gone);
		return;
	}
	if (y.ngone && allow_expunge) {
		/* Highest sequence numbers first, so the lower ones stay valid. */
		for (size_t k = s->nmsgs; k-- > 0;) {
			bool gone = false;
			for (size_t j = 0; j < y.ngone && !gone; j++)
				gone = y.gone[j] == s->msgs[k].uid;
			if (!gone)
				continue;
			if (s->qresync)
				buf_printf(&y.out, "* VANISHED %u\r\n", s->msgs[k].uid);
			else
				buf_printf(&y.out, "* %zu EXPUNGE\r\n", k + 1);
			msg_clear(&s->msgs[k]);
			memmove(&s->msgs[k], &s->msgs[k + 1], (s->nmsgs - k - 1) * sizeof *s->msgs);
			s->nmsgs--;
		}
	}
	if (y.added)
		buf_printf(&y.out, "* %zu EXISTS\r\n", s->nmsgs);
	if (!y.ngone || allow_expunge)
		s->modseq = y.top;
	imap_write(s, y.out.data, y.out.len);
	buf_free(&y.out);
	buf_free(&err);
	free(y.gone);
}

/* ---- sequence sets ------------------------------------------------------------------ */

/* First index whose uid >= uid. */
static size_t lower_bound(const struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->nmsgs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int imap_resolve_set(struct imap_session *s, const char *text, size_t len, bool uid,
		     size_t **idx_r, size_t *n_r)
{
	*idx_r = NULL;
	*n_r = 0;
	struct imap_seqset set = {0};
	if (imap_seqset_parse((struct str){text, len}, &set) < 0)
		return -1;
	unsigned char *mark = xcalloc(s->nmsgs + 1, 1);
	if (set.saved) {
		for (size_t i = 0; i < s->nsaved; i++) {
			long k = imap_msg_by_uid(s, s->saved[i]);
			if (k >= 0)
				mark[k] = 1;
		}
	} else if (s->nmsgs > 0) {
		uint32_t max = uid ? s->msgs[s->nmsgs - 1].uid : (uint32_t)s->nmsgs;
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
				a = lower_bound(s, lo);
				b = hi == UINT32_MAX ? s->nmsgs : lower_bound(s, hi + 1);
			} else {
				if (lo > s->nmsgs) {
					/* MSNs beyond the mailbox: a client error */
					free(mark);
					imap_seqset_free(&set);
					return -2;
				}
				a = lo - 1;
				b = hi > s->nmsgs ? s->nmsgs : hi;
				if (hi > s->nmsgs) {
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
	for (size_t k = 0; k < s->nmsgs; k++)
		n += mark[k];
	size_t *idx = xmalloc((n ? n : 1) * sizeof *idx);
	n = 0;
	for (size_t k = 0; k < s->nmsgs; k++)
		if (mark[k])
			idx[n++] = k;
	free(mark);
	imap_seqset_free(&set);
	*idx_r = idx;
	*n_r = n;
	return 0;
}
