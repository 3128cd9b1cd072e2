/*
 * imap_cmd_mailbox — commands on mailboxes: SELECT, EXAMINE, CREATE, DELETE,
 * RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS.
 *
 * Names are UTF-8 in the store with "/" as the hierarchy separator; on the
 * wire they are modified UTF-7 (RFC 3501 5.1.3). INBOX is case-insensitive.
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* The mailbox argument at position i, as UTF-8; replies and returns -1. A
   name that is not valid modified UTF-7 is well-formed IMAP, but names no
   mailbox that can exist: NO, not BAD. */
static int mailbox_arg(struct imap_session *s, size_t i, struct buf *out)
{
	if (i < s->cmd.nargs && imap_arg_mailbox(s, &s->cmd.args[i], out) == 0)
		return 0;
	buf_free(out);
	if (i < s->cmd.nargs && imap_arg_is_string(&s->cmd.args[i]))
		imap_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
	else
		imap_bad(s, "Bad mailbox name");
	return -1;
}

static void store_error_reply(struct imap_session *s, const struct store_op *op)
{
	switch (op->error) {
	case STORE_ERR_TEMP:
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		break;
	case STORE_ERR_NOTFOUND:
		imap_tagged(s, "NO", "[NONEXISTENT] %s", buf_cstr(&op->err));
		break;
	case STORE_ERR_EXISTS:
		imap_tagged(s, "NO", "[ALREADYEXISTS] %s", buf_cstr(&op->err));
		break;
	case STORE_ERR_QUOTA:
		imap_tagged(s, "NO", "[OVERQUOTA] %s", buf_cstr(&op->err));
		break;
	case STORE_ERR_INVALID:
	default:
		imap_tagged(s, "NO", "[CANNOT] %s", buf_cstr(&op->err));
		break;
	}
}

/* ---- SELECT / EXAMINE ----------------------------------------------------------------- */

/* What changed since the client's QRESYNC state (RFC 7162 3.2.5): as if it
   had sent UID FETCH known-uids (FLAGS) (CHANGEDSINCE modseq VANISHED). It
   runs in the read transaction that loaded the index, so the MODSEQs read
   here go with the flags the index holds. */
static int qresync_report(struct imap_session *s, const struct imap_qresync *q, uint32_t uidnext,
                          struct buf *out)
{
	struct imap_seqset all = {0};
	const struct imap_seqset *known = &q->known_uids;
	if (!q->has_known_uids) {
		/* every uid ever given out */
		all.ranges = xmalloc(sizeof *all.ranges);
		all.ranges[0].lo = 1;
		all.ranges[0].hi = uidnext > 1 ? uidnext - 1 : 1;
		all.nranges = uidnext > 1;
		known = &all;
	}
	/* Without tombstones that far back, the last seq-match pair that still
	   holds proves no uid at or below it vanished. */
	uint32_t floor = 0;
	for (size_t i = 0; i < q->nmatch; i++) {
		uint32_t msn = q->match_msn[i];
		if (msn <= s->msgs.n && s->msgs.uids[msn - 1] == q->match_uid[i] &&
		    q->match_uid[i] > floor)
			floor = q->match_uid[i];
	}
	int rc = imap_put_vanished_earlier(s, known, q->modseq, floor, uidnext - 1, out);
	uint32_t max = s->msgs.n ? s->msgs.uids[s->msgs.n - 1] : 0;
	struct imap_meta changed = {0};
	if (rc == 0 && s->msgs.n)
		rc = imap_meta_load(s, 1, max, q->modseq, &changed);
	for (size_t i = 0; rc == 0 && i < changed.n; i++) {
		const struct imap_meta_msg *m = &changed.v[i];
		long k = imap_msg_by_uid(s, m->uid);
		if (k < 0 || !imap_seqset_contains(known, m->uid, max))
			continue;
		buf_printf(out, "* %ld FETCH (UID %u FLAGS ", k + 1, m->uid);
		imap_put_flags(out, imap_msg_flags(s, (size_t)k), imap_msg_keywords(s, (size_t)k));
		buf_printf(out, " MODSEQ (%llu))\r\n", (unsigned long long)m->modseq);
	}
	imap_meta_free(&changed);
	imap_seqset_free(&all);
	return rc;
}

void imap_cmd_select(struct imap_session *s)
{
	bool examine = strcmp(s->cmd.name, "EXAMINE") == 0;
	struct buf name = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
	struct store_mailbox m = {0};
	struct imap_select_params p = {0};
	bool reading = false;
	if (s->cmd.nargs != 1 && s->cmd.nargs != 2) {
		imap_bad(s, "Syntax: %s mailbox [(parameters)]", s->cmd.name);
		goto out;
	}
	if (s->cmd.nargs == 2 && imap_select_params_parse(&s->cmd.args[1], &p, &err) < 0) {
		imap_bad(s, "%s", buf_cstr(&err));
		goto out;
	}
	if (p.qresync && !s->qresync) {
		imap_bad(s, "QRESYNC is not enabled");
		goto out;
	}
	/* Leaving the selected mailbox first, whatever happens next (RFC 9051 6.3.2). */
	if (s->state == IMAP_STATE_SELECTED) {
		imap_unselect(s);
		s->state = IMAP_STATE_AUTH;
		if (s->rev2 || s->qresync)
			imap_reply(s, "* OK [CLOSED] Previous mailbox closed");
	}
	if (mailbox_arg(s, 0, &name) < 0)
		goto out;
	/* The mailbox, its index and what QRESYNC reports: one snapshot. */
	store_read_begin(s->ctx->store);
	reading = true;
	enum store_lookup l =
	        store_mailbox_get(s->ctx->store, s->account_id, buf_cstr(&name), &m, &err);
	if (l == STORE_ERROR) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	if (l == STORE_NOT_FOUND) {
		imap_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
		goto out;
	}
	if (imap_select_load(s, &m, examine, &err) < 0) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	s->state = IMAP_STATE_SELECTED;
	if (p.condstore)
		s->condstore = true; /* the HIGHESTMODSEQ below says it */
	/* The index may be newer than the mailbox row read just before it. */
	uint32_t uidnext = m.uidnext;
	if (s->msgs.n && s->msgs.uids[s->msgs.n - 1] >= uidnext)
		uidnext = s->msgs.uids[s->msgs.n - 1] + 1;
	size_t first_unseen = 0;
	for (size_t i = 0; i < s->msgs.n && !first_unseen; i++)
		if (!(s->msgs.flags[i] & STORE_FLAG_SEEN))
			first_unseen = i + 1;
	imap_put_flags_announce(s, &out);
	buf_printf(&out, "* %zu EXISTS\r\n", s->msgs.n);
	if (!s->rev2)
		buf_printf(&out, "* %zu RECENT\r\n", s->nrecent);
	if (first_unseen && !s->rev2)
		buf_printf(&out, "* OK [UNSEEN %zu] First unseen\r\n", first_unseen);
	if (s->rev2) {
		/* The mailbox's name and attributes (RFC 9051 6.3.2). */
		buf_printf(&out, "* LIST (%s) \"/\" ", m.special_use);
		imap_put_mailbox(s, &out, m.name);
		buf_puts(&out, "\r\n");
	}
	buf_printf(&out, "* OK [UIDVALIDITY %u] UIDs valid\r\n", m.uidvalidity);
	buf_printf(&out, "* OK [UIDNEXT %u] Predicted next UID\r\n", uidnext);
	buf_puts(&out, "* OK [URLMECH INTERNAL] URLAUTH mechanisms\r\n"); /* RFC 4467 6 */
	if (s->condstore)
		buf_printf(&out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		           (unsigned long long)s->modseq);
	if (p.qresync && p.q.uidvalidity == m.uidvalidity &&
	    qresync_report(s, &p.q, uidnext, &out) < 0) {
		imap_unselect(s);
		s->state = IMAP_STATE_AUTH;
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	store_read_end(s->ctx->store);
	reading = false;
	imap_write(s, out.data, out.len);
	imap_tagged(s, "OK", "[%s] %s completed", examine ? "READ-ONLY" : "READ-WRITE",
	            s->cmd.name);
out:
	if (reading)
		store_read_end(s->ctx->store);
	imap_select_params_free(&p);
	store_mailbox_clear(&m);
	buf_free(&name);
	buf_free(&err);
	buf_free(&out);
}

/* ---- CREATE / DELETE / RENAME / SUBSCRIBE ----------------------------------------------- */

/* What the account's NOTIFY sessions hear of a mailbox op that succeeded. */
static void notify_others(struct imap_session *s, const struct store_op *op)
{
	const char *name = op->u.mailbox.name, *new_name = op->u.mailbox.new_name;
	switch (op->kind) {
	case STORE_OP_MAILBOX_CREATE:
		imap_notify_mailbox_event(s, IMAP_NOTIFY_MAILBOX_NAME, name, NULL, true);
		break;
	case STORE_OP_MAILBOX_DELETE:
		imap_notify_mailbox_event(s, IMAP_NOTIFY_MAILBOX_NAME, name, NULL, false);
		break;
	case STORE_OP_MAILBOX_RENAME:
		imap_notify_mailbox_event(s, IMAP_NOTIFY_MAILBOX_NAME, new_name, name, true);
		break;
	case STORE_OP_MAILBOX_SUBSCRIBE:
		imap_notify_mailbox_event(s, IMAP_NOTIFY_SUBSCRIPTION_CHANGE, name, NULL,
		                          op->u.mailbox.subscribed);
		break;
	default:
		break;
	}
}

static void simple_done(struct imap_session *s, struct store_op *op)
{
	if (op->result == 0) {
		notify_others(s, op);
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
	} else {
		store_error_reply(s, op);
	}
	free((void *)op->u.mailbox.name);
	free((void *)op->u.mailbox.new_name);
	store_op_clear(op);
	free(op);
}

static void submit_mailbox_op(struct imap_session *s, enum store_op_kind kind, struct buf *name,
                              struct buf *new_name, bool subscribed)
{
	struct store_op *op = xcalloc(1, sizeof *op);
	store_op_init(op, kind);
	op->u.mailbox.account_id = s->account_id;
	op->u.mailbox.name = buf_steal(name);
	op->u.mailbox.new_name = new_name ? buf_steal(new_name) : NULL;
	op->u.mailbox.subscribed = subscribed;
	/* CREATE does not subscribe (RFC 9051 6.3.4 leaves it to the client). */
	op->u.mailbox.unsubscribed = kind == STORE_OP_MAILBOX_CREATE;
	imap_submit(s, op, simple_done);
}

void imap_cmd_create(struct imap_session *s)
{
	struct buf name = BUF_INIT;
	if (s->cmd.nargs != 1) {
		imap_bad(s, "Syntax: CREATE mailbox");
		return;
	}
	if (mailbox_arg(s, 0, &name) < 0)
		return;
	/* A trailing separator only says the client wants to make children. */
	if (name.len > 1 && name.data[name.len - 1] == '/')
		buf_truncate(&name, name.len - 1);
	if (strcasecmp(buf_cstr(&name), "INBOX") == 0) {
		imap_tagged(s, "NO", "[ALREADYEXISTS] INBOX always exists");
		buf_free(&name);
		return;
	}
	submit_mailbox_op(s, STORE_OP_MAILBOX_CREATE, &name, NULL, false);
}

void imap_cmd_delete(struct imap_session *s)
{
	struct buf name = BUF_INIT;
	if (s->cmd.nargs != 1) {
		imap_bad(s, "Syntax: DELETE mailbox");
		return;
	}
	if (mailbox_arg(s, 0, &name) < 0)
		return;
	if (strcasecmp(buf_cstr(&name), "INBOX") == 0) {
		imap_tagged(s, "NO", "[CANNOT] INBOX cannot be deleted");
		buf_free(&name);
		return;
	}
	/* The selected mailbox, perhaps under a name it got since: unselected. */
	if (s->state == IMAP_STATE_SELECTED) {
		struct store_mailbox m = {0};
		struct buf err = BUF_INIT;
		if (store_mailbox_get(s->ctx->store, s->account_id, buf_cstr(&name), &m, &err) ==
		            STORE_FOUND &&
		    m.id == s->mailbox_id) {
			imap_unselect(s);
			s->state = IMAP_STATE_AUTH;
		}
		store_mailbox_clear(&m);
		buf_free(&err);
	}
	submit_mailbox_op(s, STORE_OP_MAILBOX_DELETE, &name, NULL, false);
}

void imap_cmd_rename(struct imap_session *s)
{
	struct buf from = BUF_INIT, to = BUF_INIT;
	if (s->cmd.nargs != 2) {
		imap_bad(s, "Syntax: RENAME from to");
		return;
	}
	if (mailbox_arg(s, 0, &from) < 0 || mailbox_arg(s, 1, &to) < 0) {
		buf_free(&from);
		buf_free(&to);
		return;
	}
	if (strcasecmp(buf_cstr(&to), "INBOX") == 0) {
		imap_tagged(s, "NO", "[ALREADYEXISTS] INBOX always exists");
		buf_free(&from);
		buf_free(&to);
		return;
	}
	submit_mailbox_op(s, STORE_OP_MAILBOX_RENAME, &from, &to, false);
}

void imap_cmd_subscribe(struct imap_session *s)
{
	struct buf name = BUF_INIT;
	if (s->cmd.nargs != 1) {
		imap_bad(s, "Syntax: %s mailbox", s->cmd.name);
		return;
	}
	if (mailbox_arg(s, 0, &name) < 0)
		return;
	submit_mailbox_op(s, STORE_OP_MAILBOX_SUBSCRIBE, &name, NULL,
	                  strcmp(s->cmd.name, "SUBSCRIBE") == 0);
}

/* ---- LIST / LSUB ------------------------------------------------------------------------- */

/* IMAP wildcards: '*' matches anything, '%' anything but the separator. By
   rows over the name, so that no pattern ("*%*%*%...a") can make it slow:
   O(pattern x name) once runs of wildcards are collapsed, and a pattern with
   more literal bytes than the name fails at once. */
static bool wild_match(const char *pattern, const char *name)
{
	size_t nn = strlen(name), np = 0, literals = 0;
	char *p = xmalloc(strlen(pattern) + 1);
	for (const char *q = pattern; *q; q++) {
		bool wild = *q == '*' || *q == '%';
		if (wild && np && (p[np - 1] == '*' || p[np - 1] == '%')) {
			if (*q == '*')
				p[np - 1] = '*'; /* "%*", "*%" and "**" are "*" */
			continue;
		}
		literals += !wild;
		p[np++] = *q;
	}
	if (literals > nn) {
		free(p);
		return false;
	}
	bool *row = xcalloc(np + 1, sizeof *row), *next = xcalloc(np + 1, sizeof *next);
	row[0] = true;
	for (size_t j = 1; j <= np; j++)
		row[j] = row[j - 1] && (p[j - 1] == '*' || p[j - 1] == '%');
	for (size_t i = 1; i <= nn; i++) {
		char c = name[i - 1];
		next[0] = false;
		for (size_t j = 1; j <= np; j++) {
			if (p[j - 1] == '*')
				next[j] = next[j - 1] || row[j];
			else if (p[j - 1] == '%')
				next[j] = next[j - 1] || (row[j] && c != '/');
			else
				next[j] = row[j - 1] && p[j - 1] == c;
		}
		bool *t = row;
		row = next;
		next = t;
	}
	bool r = row[np];
	free(row);
	free(next);
	free(p);
	return r;
}

/* One name LIST may show: a mailbox, a subscribed name, or a level of the
   hierarchy above either that does not exist itself (RFC 9051 6.3.9). */
struct list_name {
	char *name;
	const struct store_mailbox *box; /* NULL: no such mailbox */
	bool subscribed;
	bool children;         /* a mailbox exists below it */
	bool subscribed_below; /* a subscribed name exists below it */
	bool childinfo;        /* RECURSIVEMATCH: a selected name below matches no pattern */
};

struct list_ctx {
	struct store_mailbox *boxes;
	size_t n;
	char **subs;
	size_t nsubs;
	struct list_name *names;
	size_t nnames;
};

static void collect(const struct store_mailbox *m, void *arg)
{
	struct list_ctx *l = arg;
	l->boxes = xrealloc(l->boxes, (l->n + 1) * sizeof *l->boxes);
	struct store_mailbox *c = &l->boxes[l->n++];
	*c = *m;
	c->name = xstrdup(m->name);
	c->special_use = xstrdup(m->special_use);
}

static void collect_subscription(const char *name, void *arg)
{
	struct list_ctx *l = arg;
	l->subs = xrealloc(l->subs, (l->nsubs + 1) * sizeof *l->subs);
	l->subs[l->nsubs++] = xstrdup(name);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct list_name *)a)->name, ((const struct list_name *)b)->name);
}

static struct list_name *find_name(struct list_ctx *l, const char *name, size_t sorted)
{
	struct list_name key = {.name = (char *)name};
	struct list_name *hit = bsearch(&key, l->names, sorted, sizeof key, cmp_name);
	for (size_t i = sorted; !hit && i < l->nnames; i++)
		if (strcmp(l->names[i].name, name) == 0)
			hit = &l->names[i];
	return hit;
}

static struct list_name *add_name(struct list_ctx *l, char *name)
{
	l->names = xrealloc(l->names, (l->nnames + 1) * sizeof *l->names);
	struct list_name *e = &l->names[l->nnames++];
	*e = (struct list_name){.name = name};
	return e;
}

/* Every mailbox and subscribed name, and every missing level above one,
   sorted by name. */
static void build_names(struct list_ctx *l)
{
	for (size_t i = 0; i < l->n; i++)
		add_name(l, xstrdup(l->boxes[i].name))->box = &l->boxes[i];
	qsort(l->names, l->nnames, sizeof *l->names, cmp_name);
	size_t sorted = l->nnames;
	for (size_t i = 0; i < l->nsubs; i++) {
		struct list_name *e = find_name(l, l->subs[i], sorted);
		if (!e)
			e = add_name(l, xstrdup(l->subs[i]));
		e->subscribed = true;
	}
	qsort(l->names, l->nnames, sizeof *l->names, cmp_name);
	sorted = l->nnames;
	for (size_t i = 0; i < sorted; i++) {
		bool box = l->names[i].box != NULL, sub = l->names[i].subscribed;
		const char *name = l->names[i].name;
		for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
			char *parent = xstrndup(name, (size_t)(p - name));
			struct list_name *e = find_name(l, parent, sorted);
			if (!e) {
				e = add_name(l, parent);
				parent = NULL;
			}
			free(parent);
			e->children |= box;
			e->subscribed_below |= sub;
		}
	}
	qsort(l->names, l->nnames, sizeof *l->names, cmp_name);
}

/* The pattern with a leading "inbox" in any case written "INBOX". */
static void canonical_pattern(struct buf *full)
{
	if (full->len >= 5 && strncasecmp(full->data, "INBOX", 5) == 0 &&
	    (full->len == 5 || strchr("/*%", full->data[5])))
		memcpy(full->data, "INBOX", 5);
}

static void list_clear(struct list_ctx *l)
{
	for (size_t i = 0; i < l->n; i++)
		store_mailbox_clear(&l->boxes[i]);
	for (size_t i = 0; i < l->nsubs; i++)
		free(l->subs[i]);
	for (size_t i = 0; i < l->nnames; i++)
		free(l->names[i].name);
	free(l->names);
	free(l->subs);
	free(l->boxes);
}

static bool match_any(char **patterns, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (wild_match(patterns[i], name))
			return true;
	return false;
}

/* Whether a name meets the selection options (SUBSCRIBED, SPECIAL-USE). */
static bool list_selected(const struct list_name *e, unsigned select)
{
	if ((select & IMAP_LIST_SUBSCRIBED) && !e->subscribed)
		return false;
	if ((select & IMAP_LIST_SPECIAL_USE) && (!e->box || !e->box->special_use[0]))
		return false;
	return true;
}

static int put_status(struct imap_session *s, const struct store_mailbox *m,
                      const struct imap_arg *items, struct buf *out);
static bool status_items_known(struct imap_session *s, const struct imap_arg *items);

/* LSUB (RFC 3501 6.3.9): subscribed names; with a "%" at the end, also the
   unsubscribed levels above deeper subscribed names, as \Noselect. A name
   without a mailbox is \Noselect too. */
static void lsub_line(struct imap_session *s, const struct list_name *e, bool levels,
                      struct buf *out)
{
	if (e->subscribed)
		buf_puts(out, e->box ? "* LSUB () \"/\" " : "* LSUB (\\Noselect) \"/\" ");
	else if (levels && e->subscribed_below)
		buf_puts(out, "* LSUB (\\Noselect) \"/\" ");
	else
		return;
	imap_put_mailbox(s, out, e->name);
	buf_puts(out, "\r\n");
}

void imap_cmd_list(struct imap_session *s)
{
	bool lsub = strcmp(s->cmd.name, "LSUB") == 0;
	struct imap_list_args a;
	struct buf ref = BUF_INIT, err = BUF_INIT, out = BUF_INIT, why = BUF_INIT;
	struct list_ctx l = {0};
	char **patterns = NULL;
	size_t npatterns = 0;
	if (imap_list_parse(s->cmd.args, s->cmd.nargs, &a, &why) < 0 || (lsub && a.extended)) {
		imap_bad(s, "%s",
		         lsub || !why.len ? "Syntax: LSUB reference pattern" : buf_cstr(&why));
		goto out;
	}
	if (a.status && !status_items_known(s, a.status)) {
		imap_bad(s, "Unknown STATUS item");
		goto out;
	}
	if (a.ref->value.len && imap_arg_mailbox(s, a.ref, &ref) < 0) {
		/* Not modified UTF-7: no mailbox can have such a name. */
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
		goto out;
	}
	if (a.npatterns == 1 && a.patterns[0].value.len == 0) {
		/* The hierarchy separator and root (RFC 9051 6.3.9). */
		if (!lsub)
			imap_reply(s, "* LIST (\\Noselect) \"/\" \"\"");
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
		goto out;
	}
	/* Every pattern with the reference in front; an empty one, or one that
	   is not modified UTF-7, matches nothing. */
	patterns = xcalloc(a.npatterns, sizeof *patterns);
	bool levels = false;
	for (size_t i = 0; i < a.npatterns; i++) {
		struct buf full = BUF_INIT;
		buf_append(&full, ref.data ? ref.data : "", ref.len);
		if (!a.patterns[i].value.len || imap_arg_mailbox(s, &a.patterns[i], &full) < 0) {
			buf_free(&full);
			continue;
		}
		canonical_pattern(&full);
		/* A "%" at the end also shows the levels above deeper matches (LSUB). */
		levels |= full.data[full.len - 1] == '%';
		patterns[npatterns++] = buf_steal(&full);
	}
	int r = store_mailbox_list(s->ctx->store, s->account_id, collect, &l, &err);
	if (r == 0)
		r = store_subscription_list(s->ctx->store, s->account_id, collect_subscription, &l,
		                            &err);
	if (r < 0) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	build_names(&l);
	unsigned criteria = a.select & (IMAP_LIST_SUBSCRIBED | IMAP_LIST_SPECIAL_USE);
	bool recursive = a.select & IMAP_LIST_RECURSIVEMATCH;
	if (recursive) {
		/* Parents of selected names that no pattern matches get CHILDINFO
		   (RFC 5258 3.5); every missing level is among the names. */
		for (size_t i = 0; i < l.nnames; i++) {
			const struct list_name *e = &l.names[i];
			if (!list_selected(e, criteria) || match_any(patterns, npatterns, e->name))
				continue;
			for (const char *p = strchr(e->name, '/'); p; p = strchr(p + 1, '/')) {
				char *parent = xstrndup(e->name, (size_t)(p - e->name));
				struct list_name *up = find_name(&l, parent, l.nnames);
				if (up)
					up->childinfo = true;
				free(parent);
			}
		}
	}
	bool nonexistent = a.extended || s->rev2;
	bool show_subscribed = (a.select | a.ret) & IMAP_LIST_SUBSCRIBED;
	for (size_t i = 0; i < l.nnames; i++) {
		const struct list_name *e = &l.names[i];
		const struct store_mailbox *m = e->box;
		if (!match_any(patterns, npatterns, e->name))
			continue;
		buf_reset(&out);
		if (lsub) {
			lsub_line(s, e, levels, &out);
			imap_write(s, out.data, out.len);
			continue;
		}
		bool selected = criteria ? list_selected(e, criteria) : m || e->children;
		if (!selected && !(recursive && e->childinfo))
			continue;
		buf_puts(&out, "* LIST (");
		if (!m)
			buf_puts(&out, nonexistent ? "\\NonExistent " : "\\Noselect ");
		if (show_subscribed && e->subscribed)
			buf_puts(&out, "\\Subscribed ");
		buf_puts(&out, e->children ? "\\HasChildren" : "\\HasNoChildren");
		if (m && m->special_use[0])
			buf_printf(&out, " %s", m->special_use);
		buf_puts(&out, ") \"/\" ");
		imap_put_mailbox(s, &out, e->name);
		if (recursive && e->childinfo) {
			/* Which selection criteria the children meet. */
			bool both = criteria == (IMAP_LIST_SUBSCRIBED | IMAP_LIST_SPECIAL_USE);
			buf_printf(&out, " (\"CHILDINFO\" (%s%s%s))",
			           criteria & IMAP_LIST_SUBSCRIBED ? "\"SUBSCRIBED\"" : "",
			           both ? " " : "",
			           criteria & IMAP_LIST_SPECIAL_USE ? "\"SPECIAL-USE\"" : "");
		}
		buf_puts(&out, "\r\n");
		/* LIST-STATUS (RFC 5819): for selectable mailboxes only. */
		if (a.status && m) {
			size_t mark = out.len;
			if (put_status(s, m, a.status, &out) < 0)
				buf_truncate(&out, mark);
		}
		imap_write(s, out.data, out.len);
	}
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
out:
	for (size_t i = 0; i < npatterns; i++)
		free(patterns[i]);
	free(patterns);
	list_clear(&l);
	buf_free(&ref);
	buf_free(&err);
	buf_free(&out);
	buf_free(&why);
}

/* ---- STATUS -----------------------------------------------------------------------------------
 */

static const char *const status_items[] = {"MESSAGES",    "RECENT",      "UIDNEXT",
                                           "UIDVALIDITY", "UNSEEN",      "SIZE",
                                           "DELETED",     "APPENDLIMIT", "HIGHESTMODSEQ"};

static void count_deleted(const struct store_message *m, void *arg)
{
	if (m->flags & STORE_FLAG_DELETED)
		++*(uint32_t *)arg;
}

/* Whether every item of the list is a STATUS item (RECENT is not one of
   IMAP4rev2's). */
static bool status_items_known(struct imap_session *s, const struct imap_arg *items)
{
	for (size_t i = 0; i < items->nlist; i++) {
		bool known = false;
		for (size_t k = 0; k < ARRAY_SIZE(status_items) && !known; k++)
			known = items->list[i].type == IMAP_ARG_ATOM &&
			        str_eq_cstr_nocase(items->list[i].value, status_items[k]);
		if (!known || (s->rev2 && str_eq_cstr_nocase(items->list[i].value, "RECENT")))
			return false;
	}
	return true;
}

/* "* STATUS name (...)" of m, appended to out; -1 on a temporary failure. */
static int put_status(struct imap_session *s, const struct store_mailbox *m,
                      const struct imap_arg *items, struct buf *out)
{
	struct buf err = BUF_INIT;
	int r = 0;
	/* For the selected mailbox, what this session sees (its recent ones). */
	bool selected = s->state == IMAP_STATE_SELECTED && s->mailbox_id == m->id;
	buf_puts(out, "* STATUS ");
	imap_put_mailbox(s, out, m->name);
	buf_puts(out, " (");
	for (size_t i = 0; i < items->nlist && r == 0; i++) {
		struct str it = items->list[i].value;
		uint32_t n = 0;
		if (i)
			buf_putc(out, ' ');
		if (str_eq_cstr_nocase(it, "MESSAGES")) {
			buf_printf(out, "MESSAGES %u",
			           selected ? (uint32_t)s->msgs.n : m->messages);
		} else if (str_eq_cstr_nocase(it, "RECENT")) {
			if (selected)
				n = (uint32_t)s->nrecent;
			else if (imap_recent_count(s, m, &n) < 0)
				r = -1;
			buf_printf(out, "RECENT %u", n);
		} else if (str_eq_cstr_nocase(it, "UIDNEXT")) {
			buf_printf(out, "UIDNEXT %u", m->uidnext);
		} else if (str_eq_cstr_nocase(it, "UIDVALIDITY")) {
			buf_printf(out, "UIDVALIDITY %u", m->uidvalidity);
		} else if (str_eq_cstr_nocase(it, "UNSEEN")) {
			buf_printf(out, "UNSEEN %u", m->unseen);
		} else if (str_eq_cstr_nocase(it, "DELETED")) {
			if (selected) {
				for (size_t k = 0; k < s->msgs.n; k++)
					n += (s->msgs.flags[k] & STORE_FLAG_DELETED) != 0;
			} else if (store_message_list(s->ctx->store, m->id, 1, UINT32_MAX,
			                              count_deleted, &n, &err) < 0) {
				r = -1;
			}
			buf_printf(out, "DELETED %u", n);
		} else if (str_eq_cstr_nocase(it, "HIGHESTMODSEQ")) {
			buf_printf(out, "HIGHESTMODSEQ %llu", (unsigned long long)m->highestmodseq);
		} else if (str_eq_cstr_nocase(it, "APPENDLIMIT")) {
			/* RFC 7889: the largest message APPEND takes. */
			buf_printf(out, "APPENDLIMIT %llu",
			           (unsigned long long)s->ctx->cfg->max_message_size);
		} else {
			buf_printf(out, "SIZE %llu", (unsigned long long)m->size);
		}
	}
	buf_puts(out, ")\r\n");
	buf_free(&err);
	return r;
}

void imap_cmd_status(struct imap_session *s)
{
	struct buf name = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
	struct store_mailbox m = {0};
	if (s->cmd.nargs != 2 || s->cmd.args[1].type != IMAP_ARG_LIST ||
	    s->cmd.args[1].nlist == 0) {
		imap_bad(s, "Syntax: STATUS mailbox (items)");
		goto out;
	}
	const struct imap_arg *items = &s->cmd.args[1];
	if (!status_items_known(s, items)) {
		imap_bad(s, "Unknown STATUS item");
		goto out;
	}
	if (mailbox_arg(s, 0, &name) < 0)
		goto out;
	for (size_t i = 0; i < items->nlist; i++)
		if (str_eq_cstr_nocase(items->list[i].value, "HIGHESTMODSEQ"))
			imap_condstore_enable(s);
	/* The selected mailbox's changes are reported first (RFC 9051 6.3.11). */
	imap_sync(s, true);
	enum store_lookup l =
	        store_mailbox_get(s->ctx->store, s->account_id, buf_cstr(&name), &m, &err);
	if (l != STORE_FOUND) {
		imap_tagged(s, "NO",
		            l == STORE_ERROR ? "[UNAVAILABLE] Temporary failure"
		                             : "[NONEXISTENT] No such mailbox");
		goto out;
	}
	if (put_status(s, &m, items, &out) < 0) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	imap_write(s, out.data, out.len);
	imap_tagged(s, "OK", "STATUS completed");
out:
	store_mailbox_clear(&m);
	buf_free(&name);
	buf_free(&err);
	buf_free(&out);
}
