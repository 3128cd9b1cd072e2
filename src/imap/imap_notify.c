/*
 * imap_notify — the NOTIFY command (RFC 5465): unsolicited news of other
 * mailboxes (STATUS), of mailbox names and subscriptions (LIST), and of the
 * selected mailbox without waiting for IDLE or the next command.
 *
 * Each mailbox a session watches (the message events of its non-selected
 * filters) gets a store watch; a committed change there brings a STATUS with
 * the items its events ask for, when one of them changed since the last one
 * the client got. Names and subscriptions change only through IMAP commands
 * of this process: the session that changes one tells the others of the same
 * account through the context's list of notifying sessions, and they rebuild
 * their watches. With SELECTED events, changes to the selected mailbox are
 * reported as soon as they are committed whenever no command is running
 * (SELECTED-DELAYED holds expunges back as usual), with the MessageNew fetch
 * attributes for new messages.
 *
 * A client that does not read: once more than IMAP_NOTIFY_MAX_PENDING bytes
 * wait to be sent, the session says NOTIFICATIONOVERFLOW and stops notifying
 * (RFC 5465 5.8).
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#define IMAP_NOTIFY_MAX_PENDING (4 << 20)
#define SUPPORTED_EVENTS "MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange"

struct imap_notify_box {
	struct imap_session *s;
	int64_t id;
	char *name;
	unsigned events;
	struct store_watch *watch;
	/* what the client was last told */
	uint32_t messages, uidnext, unseen, uidvalidity;
	uint64_t highestmodseq;
};

static bool is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* Whether name is one of the group's mailboxes (or below one, for SUBTREE).
   The group's names were made UTF-8 at NOTIFY SET. */
static bool group_matches(const struct imap_notify_group *g, const char *name, bool subscribed)
{
	switch (g->filter) {
	case IMAP_NOTIFY_SELECTED:
	case IMAP_NOTIFY_SELECTED_DELAYED:
		return false;
	case IMAP_NOTIFY_INBOXES:
		return is_inbox(name);
	case IMAP_NOTIFY_PERSONAL:
		return true;
	case IMAP_NOTIFY_SUBSCRIBED:
		return subscribed;
	case IMAP_NOTIFY_SUBTREE:
	case IMAP_NOTIFY_MAILBOXES:
		for (size_t i = 0; i < g->nnames; i++) {
			const char *n = g->names[i];
			size_t len = strlen(n);
			if (strcmp(n, name) == 0 || (is_inbox(n) && is_inbox(name)))
				return true;
			if (g->filter == IMAP_NOTIFY_SUBTREE && strncmp(n, name, len) == 0 &&
			    name[len] == '/')
				return true;
		}
		return false;
	}
	return false;
}

/* The events the non-selected filters ask for about a mailbox. */
static unsigned events_for(const struct imap_session *s, const char *name, bool subscribed)
{
	unsigned ev = 0;
	for (size_t i = 0; i < s->notify.ngroups; i++)
		if (group_matches(&s->notify.groups[i], name, subscribed))
			ev |= s->notify.groups[i].events;
	return ev;
}

static bool between_commands(const struct imap_session *s)
{
	return s->conn && !s->op && !s->jobs && !s->sasl && s->cmdbuf.len == 0 && !s->literal_left;
}

/* False (and notifications off) when the client is not reading. */
static bool room(struct imap_session *s)
{
	if (!s->conn)
		return false;
	if (conn_output_pending(s->conn) <= IMAP_NOTIFY_MAX_PENDING)
		return true;
	log_info("imap id=%s event=notify-overflow", conn_id(s->conn));
	imap_notify_stop(s);
	imap_reply(s, "* OK [NOTIFICATIONOVERFLOW] Too many notifications, NOTIFY is off");
	return false;
}

/* "* STATUS name (...)" with the items box's events ask for; only_changed:
   nothing when none of them changed since the last one. */
static void put_status(struct imap_notify_box *b, const struct store_mailbox *m, bool only_changed)
{
	struct imap_session *s = b->s;
	bool msgs = b->events & (IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE);
	bool news = b->events & IMAP_NOTIFY_MESSAGE_NEW;
	bool flags = b->events & IMAP_NOTIFY_FLAG_CHANGE;
	bool modseq = flags; /* HIGHESTMODSEQ: what moves with every flag change */
	bool changed = !only_changed || m->uidvalidity != b->uidvalidity ||
	               (msgs && m->messages != b->messages) || (news && m->uidnext != b->uidnext) ||
	               ((msgs || flags) && m->unseen != b->unseen) ||
	               (modseq && m->highestmodseq != b->highestmodseq);
	b->messages = m->messages;
	b->uidnext = m->uidnext;
	b->unseen = m->unseen;
	b->uidvalidity = m->uidvalidity;
	b->highestmodseq = m->highestmodseq;
	if (!changed || !(msgs || flags))
		return;
	struct buf out = BUF_INIT;
	buf_puts(&out, "* STATUS ");
	imap_put_mailbox(s, &out, m->name);
	buf_puts(&out, " (");
	const char *sp = "";
	if (msgs) {
		buf_printf(&out, "MESSAGES %u", m->messages);
		sp = " ";
	}
	if (news) {
		buf_printf(&out, "%sUIDNEXT %u", sp, m->uidnext);
		sp = " ";
	}
	buf_printf(&out, "%sUIDVALIDITY %u UNSEEN %u", sp, m->uidvalidity, m->unseen);
	if (modseq)
		buf_printf(&out, " HIGHESTMODSEQ %llu", (unsigned long long)m->highestmodseq);
	buf_puts(&out, ")\r\n");
	imap_write(s, out.data, out.len);
	buf_free(&out);
}

static void box_changed(int64_t mailbox_id, uint64_t modseq, void *arg)
{
	struct imap_notify_box *b = arg;
	struct imap_session *s = b->s;
	if (s->mailbox_id == b->id && s->state == IMAP_STATE_SELECTED)
		return; /* the selected mailbox speaks for itself */
	if (!room(s))
		return;
	struct store_mailbox m = {0};
	struct buf err = BUF_INIT;
	if (store_mailbox_get(s->ctx->store, s->account_id, b->name, &m, &err) == STORE_FOUND &&
	    m.id == b->id)
		put_status(b, &m, true);
	store_mailbox_clear(&m);
	buf_free(&err);
}

static void boxes_free(struct imap_session *s)
{
	for (size_t i = 0; i < s->nnotify_boxes; i++) {
		struct imap_notify_box *b = s->notify_boxes[i];
		if (b->watch)
			store_watch_remove(s->ctx->store, &b->watch);
		free(b->name);
		free(b);
	}
	xfree(&s->notify_boxes);
	s->nnotify_boxes = 0;
}

struct rebuild {
	struct imap_session *s;
	bool status;
};

static void rebuild_one(const struct store_mailbox *m, void *arg)
{
	struct rebuild *r = arg;
	struct imap_session *s = r->s;
	unsigned ev = events_for(s, m->name, m->subscribed) & IMAP_NOTIFY_MESSAGE_EVENTS;
	if (!ev)
		return;
	struct imap_notify_box *b = xcalloc(1, sizeof *b);
	b->s = s;
	b->id = m->id;
	b->name = xstrdup(m->name);
	b->events = ev;
	b->messages = m->messages;
	b->uidnext = m->uidnext;
	b->unseen = m->unseen;
	b->uidvalidity = m->uidvalidity;
	b->highestmodseq = m->highestmodseq;
	b->watch = store_watch_add(s->ctx->store, m->id, box_changed, b);
	s->notify_boxes =
	        xrealloc(s->notify_boxes, (s->nnotify_boxes + 1) * sizeof *s->notify_boxes);
	s->notify_boxes[s->nnotify_boxes++] = b;
	bool selected = s->state == IMAP_STATE_SELECTED && s->mailbox_id == m->id;
	if (r->status && !selected)
		put_status(b, m, false);
}

/* Watches every mailbox the filters name now; STATUS for each if asked. */
static int rebuild(struct imap_session *s, bool status)
{
	boxes_free(s);
	struct rebuild r = {s, status};
	struct buf err = BUF_INIT;
	int rc = store_mailbox_list(s->ctx->store, s->account_id, rebuild_one, &r, &err);
	if (rc < 0)
		log_warn("imap id=%s event=notify-list-failed reason=\"%s\"",
		         s->conn ? conn_id(s->conn) : "-", buf_cstr(&err));
	buf_free(&err);
	return rc;
}

void imap_notify_stop(struct imap_session *s)
{
	boxes_free(s);
	imap_notify_spec_free(&s->notify);
	s->notify_selected = 0;
	s->notify_fetch = NULL;
	struct imap_session **p = &s->ctx->notifying;
	while (*p && *p != s)
		p = &(*p)->notify_next;
	if (*p)
		*p = s->notify_next;
	s->notify_next = NULL;
	s->notifying = false;
}

/* Group names as UTF-8 (INBOX in any case is INBOX); -1 if one is invalid. */
static int decode_names(struct imap_session *s, struct imap_notify_spec *spec)
{
	for (size_t i = 0; i < spec->ngroups; i++) {
		struct imap_notify_group *g = &spec->groups[i];
		for (size_t j = 0; j < g->nnames; j++) {
			struct buf out = BUF_INIT;
			struct str in = {g->names[j], strlen(g->names[j])};
			if (s->utf8_accept ? !utf8_valid(in.p, in.len)
			                   : imap_utf7_to_utf8(in, &out) < 0) {
				buf_free(&out);
				return -1;
			}
			if (s->utf8_accept)
				buf_append(&out, in.p, in.len);
			if (is_inbox(buf_cstr(&out))) {
				buf_reset(&out);
				buf_puts(&out, "INBOX");
			}
			free(g->names[j]);
			g->names[j] = buf_steal(&out);
		}
	}
	return 0;
}

void imap_cmd_notify(struct imap_session *s)
{
	struct imap_notify_spec spec;
	struct buf why = BUF_INIT;
	int rc = imap_notify_parse(s->cmd.args, s->cmd.nargs, &spec, &why);
	if (rc == -2) {
		imap_tagged(s, "NO", "[BADEVENT (" SUPPORTED_EVENTS ")] %s", buf_cstr(&why));
		goto out;
	}
	if (rc < 0) {
		imap_bad(s, "%s", buf_cstr(&why));
		goto out;
	}
	if (decode_names(s, &spec) < 0) {
		imap_notify_spec_free(&spec);
		imap_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
		goto out;
	}
	imap_notify_stop(s);
	if (spec.none) {
		imap_notify_spec_free(&spec);
		imap_tagged(s, "OK", "NOTIFY completed");
		goto out;
	}
	s->notify = spec;
	for (size_t i = 0; i < spec.ngroups; i++) {
		const struct imap_notify_group *g = &spec.groups[i];
		if (g->filter == IMAP_NOTIFY_SELECTED ||
		    g->filter == IMAP_NOTIFY_SELECTED_DELAYED) {
			s->notify_selected = g->events;
			s->notify_delayed = g->filter == IMAP_NOTIFY_SELECTED_DELAYED;
			s->notify_fetch = g->has_fetch ? &g->fetch : NULL;
		}
	}
	s->notifying = true;
	s->notify_next = s->ctx->notifying;
	s->ctx->notifying = s;
	if (rebuild(s, spec.status) < 0) {
		imap_notify_stop(s);
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	imap_tagged(s, "OK", "NOTIFY completed");
out:
	buf_free(&why);
}

/* ---- the selected mailbox --------------------------------------------------------------- */

bool imap_notify_push_selected(struct imap_session *s)
{
	if (!s->notifying || !(s->notify_selected & IMAP_NOTIFY_MESSAGE_EVENTS) ||
	    !between_commands(s) || !room(s))
		return false;
	imap_notify_sync(s, !s->notify_delayed);
	return true;
}

void imap_notify_sync(struct imap_session *s, bool allow_expunge)
{
	uint32_t last = s->msgs.n ? s->msgs.uids[s->msgs.n - 1] : 0;
	/* The sync and the new messages' MODSEQs: one snapshot. */
	store_read_begin(s->ctx->store);
	imap_sync(s, allow_expunge);
	size_t first = imap_index_lower_bound(&s->msgs, last + 1);
	struct imap_meta meta = {0};
	bool fetch = s->notifying && s->notify_fetch && s->conn && first < s->msgs.n &&
	             last < UINT32_MAX;
	int r = 0;
	if (fetch && imap_fetch_needs_meta(s->notify_fetch))
		r = imap_meta_load(s, last + 1, s->msgs.uids[s->msgs.n - 1], 0, &meta);
	store_read_end(s->ctx->store);
	if (!fetch || r < 0)
		return;
	/* MessageNew (fetch-att ...): the new messages, as with FETCH (peeking) */
	const struct imap_meta *saved_meta = s->meta;
	s->meta = &meta;
	struct buf out = BUF_INIT;
	for (size_t i = first; i < s->msgs.n; i++) {
		buf_reset(&out);
		if (imap_fetch_put(s, s->notify_fetch, i, &out) == 0)
			imap_write(s, out.data, out.len);
	}
	s->meta = saved_meta;
	imap_meta_free(&meta);
	buf_free(&out);
}

/* ---- names and subscriptions ------------------------------------------------------------ */

void imap_notify_mailbox_event(struct imap_session *from, enum imap_notify_event event,
                               const char *name, const char *old_name, bool on)
{
	bool sub = event == IMAP_NOTIFY_SUBSCRIPTION_CHANGE;
	for (struct imap_session *s = from->ctx->notifying; s; s = s->notify_next) {
		if (s == from || s->account_id != from->account_id || !s->conn)
			continue;
		unsigned ev = events_for(s, name, sub);
		if (old_name)
			ev |= events_for(s, old_name, sub);
		if ((ev & event) && room(s)) {
			struct buf out = BUF_INIT;
			buf_puts(&out, "* LIST (");
			if (sub && on)
				buf_puts(&out, "\\Subscribed");
			else if (!sub && !on)
				buf_puts(&out, "\\NonExistent");
			buf_puts(&out, ") \"/\" ");
			imap_put_mailbox(s, &out, name);
			if (old_name) {
				buf_puts(&out, " (\"OLDNAME\" (");
				imap_put_mailbox(s, &out, old_name);
				buf_puts(&out, "))");
			}
			buf_puts(&out, "\r\n");
			imap_write(s, out.data, out.len);
			buf_free(&out);
		}
		if (s->notifying)
			rebuild(s, false);
	}
}
