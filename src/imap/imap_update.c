/*
 * imap_update — live search and sort results (RFC 5267 CONTEXT=SEARCH and
 * CONTEXT=SORT): SEARCH / SORT RETURN (UPDATE ...) and CANCELUPDATE.
 *
 * A context keeps its program and its current result with each member's
 * sort keys, in result order (a SEARCH is a SORT without criteria: mailbox
 * order). imap_sync() tells it what happened, in two steps so that message
 * numbers stay valid for the client:
 *  - imap_update_expunged(), before the EXPUNGE (or VANISHED) responses:
 *    expunged members leave with REMOVEFROM, numbered as before the expunge;
 *  - imap_update_changed(), after EXISTS: every new or changed message is
 *    tested again and joins (ADDTO) or leaves (REMOVEFROM).
 * Work is proportional to what changed (and, for a SORT context, to the
 * result's size for finding positions), not to the mailbox.
 *
 * Positions: a SEARCH context's updates carry position 0 and one set in
 * mailbox order; a SORT context's carry each member's 1-based position in
 * the result, removals as they are taken out in turn, insertions as they go
 * in (RFC 5267 4.3.3 and 4.3.4).
 *
 * Contexts end with the selection or CANCELUPDATE. Beyond IMAP_MAX_UPDATES
 * a command still answers but is refused updates with NO [NOUPDATE].
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include <stdlib.h>
#include <string.h>

struct imap_update {
	char *tag;
	bool uid;    /* results are UIDs, else message numbers */
	bool sorted; /* a SORT: positions matter */
	struct imap_sort prog;
	struct imap_sort_keys **keys; /* the result, in order */
	size_t n, cap;
};

bool imap_update_tag_in_use(struct imap_session *s, const char *tag)
{
	for (size_t i = 0; i < s->nupdates; i++)
		if (strcmp(s->updates[i]->tag, tag) == 0)
			return true;
	return false;
}

static bool room_for_one(struct imap_session *s, const char *tag)
{
	if (s->nupdates < IMAP_MAX_UPDATES)
		return true;
	struct buf out = BUF_INIT;
	buf_puts(&out, "* NO [NOUPDATE ");
	imap_put_string(&out, tag, strlen(tag));
	buf_puts(&out, "] Too many contexts\r\n");
	imap_write(s, out.data, out.len);
	buf_free(&out);
	return false;
}

static void push(struct imap_session *s, struct imap_update *u)
{
	s->updates = xrealloc(s->updates, (s->nupdates + 1) * sizeof(*s->updates));
	s->updates[s->nupdates++] = u;
}

static void update_free(struct imap_update *u)
{
	for (size_t i = 0; i < u->n; i++)
		imap_sort_keys_free(&u->keys[i]);
	free(u->keys);
	imap_sort_free(&u->prog);
	free(u->tag);
	free(u);
}

void imap_update_add(struct imap_session *s, const char *tag, bool uid, struct imap_sort *sort,
                     struct imap_sort_keys **keys, size_t n)
{
	if (!room_for_one(s, tag)) {
		for (size_t i = 0; i < n; i++)
			imap_sort_keys_free(&keys[i]);
		free(keys);
		return;
	}
	struct imap_update *u = xcalloc(1, sizeof(*u));
	u->tag = xstrdup(tag);
	u->uid = uid;
	u->sorted = true;
	u->prog = *sort;
	memset(sort, 0, sizeof(*sort));
	u->keys = keys;
	u->n = u->cap = n;
	push(s, u);
}

void imap_update_add_search(struct imap_session *s, const char *tag, bool uid,
                            struct imap_search *q, const uint32_t *hits, size_t n)
{
	if (!room_for_one(s, tag))
		return;
	struct imap_update *u = xcalloc(1, sizeof(*u));
	u->tag = xstrdup(tag);
	u->uid = uid;
	u->prog.search = *q;
	memset(q, 0, sizeof(*q));
	u->keys = xmalloc((n ? n : 1) * sizeof(*u->keys));
	u->cap = n ? n : 1;
	for (size_t i = 0; i < n; i++) {
		long k = uid ? imap_msg_by_uid(s, hits[i]) : (long)hits[i] - 1;
		u->keys[u->n++] = imap_sort_keys_load(s, (size_t)k, &u->prog);
	}
	push(s, u);
}

void imap_update_free_all(struct imap_session *s)
{
	for (size_t i = 0; i < s->nupdates; i++)
		update_free(s->updates[i]);
	xfree(&s->updates);
	s->nupdates = 0;
}

/* ---- reporting ------------------------------------------------------------------------ */

/* One ADDTO or REMOVEFROM item being written. */
struct item {
	struct buf text;
	uint32_t *set; /* SEARCH: the numbers, for one position-0 set */
	size_t nset;
};

static void item_add(struct item *it, const struct imap_update *u, size_t pos, uint32_t id)
{
	if (!u->sorted) {
		it->set = xrealloc(it->set, (it->nset + 1) * sizeof(*it->set));
		it->set[it->nset++] = id;
		return;
	}
	buf_printf(&it->text, "%s%zu %u", it->text.len ? " " : "", pos, id);
}

/* Appends " NAME (...)" when the item holds anything, and empties it. */
static void item_put(struct item *it, const char *name, struct buf *line)
{
	if (it->nset) {
		qsort(it->set, it->nset, sizeof(*it->set), imap_cmp_u32);
		buf_printf(&it->text, "0 ");
		imap_put_set(&it->text, it->set, it->nset);
	}
	if (it->text.len)
		buf_printf(line, " %s (%s)", name, buf_cstr(&it->text));
	buf_free(&it->text);
	xfree(&it->set);
	it->nset = 0;
}

static void put_line(const struct imap_update *u, struct buf *line, struct buf *out)
{
	if (!line->len)
		return;
	buf_printf(out, "* ESEARCH (TAG ");
	imap_put_string(out, u->tag, strlen(u->tag));
	buf_printf(out, ")%s%s\r\n", u->uid ? " UID" : "", buf_cstr(line));
	buf_reset(line);
}

static uint32_t shown_id(struct imap_session *s, const struct imap_update *u, uint32_t uid)
{
	return u->uid ? uid : (uint32_t)imap_msg_by_uid(s, uid) + 1;
}

void imap_update_expunged(struct imap_session *s, const uint32_t *uids, size_t n, struct buf *out)
{
	struct buf line = BUF_INIT;
	for (size_t c = 0; c < s->nupdates; c++) {
		struct imap_update *u = s->updates[c];
		struct item rm = {BUF_INIT, NULL, 0};
		size_t kept = 0;
		for (size_t i = 0; i < u->n; i++) {
			uint32_t uid = imap_sort_keys_uid(u->keys[i]);
			if (!imap_uid_in(uids, n, uid)) {
				u->keys[kept++] = u->keys[i];
				continue;
			}
			/* its position now: after the earlier removals */
			item_add(&rm, u, kept + 1, shown_id(s, u, uid));
			imap_sort_keys_free(&u->keys[i]);
		}
		u->n = kept;
		item_put(&rm, "REMOVEFROM", &line);
		put_line(u, &line, out);
	}
	buf_free(&line);
}

static long member_at(const struct imap_update *u, uint32_t uid)
{
	for (size_t i = 0; i < u->n; i++)
		if (imap_sort_keys_uid(u->keys[i]) == uid)
			return (long)i;
	return -1;
}

void imap_update_changed(struct imap_session *s, const struct imap_meta *changed, struct buf *out)
{
	struct buf line = BUF_INIT;
	size_t n = changed->n;
	/* what the programs and sort keys read of MODSEQs, dates and sizes */
	const struct imap_meta *saved_meta = s->meta;
	s->meta = changed;
	for (size_t c = 0; c < s->nupdates; c++) {
		struct imap_update *u = s->updates[c];
		struct item rm = {BUF_INIT, NULL, 0}, add = {BUF_INIT, NULL, 0};
		/* removals first, each at its position as it goes */
		size_t *fresh = xmalloc((n ? n : 1) * sizeof(*fresh)), nfresh = 0;
		for (size_t i = 0; i < n; i++) {
			uint32_t uid = changed->v[i].uid;
			long idx = imap_msg_by_uid(s, uid);
			if (idx < 0)
				continue;
			bool match = imap_search_matches(s, (size_t)idx, &u->prog.search, u->uid);
			long at = member_at(u, uid);
			if (match && at < 0) {
				fresh[nfresh++] = (size_t)idx;
			} else if (!match && at >= 0) {
				item_add(&rm, u, (size_t)at + 1, shown_id(s, u, uid));
				imap_sort_keys_free(&u->keys[at]);
				memmove(&u->keys[at], &u->keys[at + 1],
				        (u->n - (size_t)at - 1) * sizeof(*u->keys));
				u->n--;
			}
		}
		/* then insertions, each where it sorts */
		for (size_t i = 0; i < nfresh; i++) {
			struct imap_sort_keys *k = imap_sort_keys_load(s, fresh[i], &u->prog);
			size_t lo = 0, hi = u->n;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (imap_sort_keys_cmp(&u->prog, u->keys[mid], k) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (u->n == u->cap) {
				u->cap = u->cap ? u->cap * 2 : 16;
				u->keys = xrealloc(u->keys, u->cap * sizeof(*u->keys));
			}
			memmove(&u->keys[lo + 1], &u->keys[lo], (u->n - lo) * sizeof(*u->keys));
			u->keys[lo] = k;
			u->n++;
			item_add(&add, u, lo + 1, shown_id(s, u, s->msgs.uids[fresh[i]]));
		}
		free(fresh);
		item_put(&rm, "REMOVEFROM", &line);
		item_put(&add, "ADDTO", &line);
		put_line(u, &line, out);
	}
	s->meta = saved_meta;
	buf_free(&line);
}

/* ---- CANCELUPDATE ------------------------------------------------------------------------ */

void imap_cmd_cancelupdate(struct imap_session *s)
{
	if (s->cmd.nargs == 0) {
		imap_bad(s, "CANCELUPDATE needs the tags of searches");
		return;
	}
	for (size_t a = 0; a < s->cmd.nargs; a++) {
		const struct imap_arg *arg = &s->cmd.args[a];
		if (arg->type != IMAP_ARG_STRING) {
			imap_bad(s, "CANCELUPDATE needs quoted tags");
			return;
		}
	}
	for (size_t a = 0; a < s->cmd.nargs; a++) {
		struct str tag = s->cmd.args[a].value;
		size_t i;
		for (i = 0; i < s->nupdates; i++)
			if (strlen(s->updates[i]->tag) == tag.len &&
			    memcmp(s->updates[i]->tag, tag.p, tag.len) == 0)
				break;
		if (i == s->nupdates) {
			imap_tagged(s, "NO", "Unknown search context");
			return;
		}
		update_free(s->updates[i]);
		s->updates[i] = s->updates[--s->nupdates];
	}
	imap_sync(s, true);
	imap_tagged(s, "OK", "CANCELUPDATE completed");
}
