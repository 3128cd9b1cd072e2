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

/* The mailbox argument at position i, as UTF-8; replies BAD and returns -1. */
static int mailbox_arg(struct imap_session *s, size_t i, struct buf *out)
{
	if (i >= s->cmd.nargs || imap_arg_mailbox(s, &s->cmd.args[i], out) < 0) {
		buf_free(out);
		imap_bad(s, "Bad mailbox name");
		return -1;
	}
	return 0;
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

void imap_cmd_select(struct imap_session *s)
{
	bool examine = strcmp(s->cmd.name, "EXAMINE") == 0;
	struct buf name = BUF_INIT, err = BUF_INIT;
	struct store_mailbox m = {0};
	if (s->cmd.nargs != 1) {
		imap_bad(s, "Syntax: %s mailbox", s->cmd.name);
		goto out;
	}
	if (mailbox_arg(s, 0, &name) < 0)
		goto out;
	/* Leaving the selected mailbox first, whatever happens next (RFC 9051 6.3.2). */
	bool was_selected = s->state == IMAP_STATE_SELECTED;
	imap_unselect(s);
	s->state = IMAP_STATE_AUTH;
	enum store_lookup l = store_mailbox_get(s->ctx->store, s->account_id, buf_cstr(&name), &m,
						&err);
	if (l == STORE_ERROR) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	if (l == STORE_NOT_FOUND) {
		imap_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
		goto out;
	}
	(void)was_selected;
	if (imap_select_load(s, m.id, &err) < 0) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	s->state = IMAP_STATE_SELECTED;
	s->readonly = examine;
	s->uidvalidity = m.uidvalidity;
	s->mailbox_name = xstrdup(m.name);
	s->modseq = m.highestmodseq;
	/* The index may be newer than the mailbox row read just before it. */
	uint32_t uidnext = m.uidnext;
	if (s->nmsgs && s->msgs[s->nmsgs - 1].uid >= uidnext)
		uidnext = s->msgs[s->nmsgs - 1].uid + 1;
	size_t first_unseen = 0;
	for (size_t i = 0; i < s->nmsgs && !first_unseen; i++)
		if (!(s->msgs[i].flags & STORE_FLAG_SEEN))
			first_unseen = i + 1;
	imap_reply(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
	if (examine)
		imap_reply(s, "* OK [PERMANENTFLAGS ()] Read-only mailbox");
	else
		imap_reply(s, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
			      "\\Draft \\*)] Flags permitted");
	imap_reply(s, "* %zu EXISTS", s->nmsgs);
	imap_reply(s, "* 0 RECENT");
	if (first_unseen)
		imap_reply(s, "* OK [UNSEEN %zu] First unseen", first_unseen);
	imap_reply(s, "* OK [UIDVALIDITY %u] UIDs valid", m.uidvalidity);
	imap_reply(s, "* OK [UIDNEXT %u] Predicted next UID", uidnext);
	imap_tagged(s, "OK", "[%s] %s completed", examine ? "READ-ONLY" : "READ-WRITE",
		    s->cmd.name);
out:
	store_mailbox_clear(&m);
	buf_free(&name);
	buf_free(&err);
}

/* ---- CREATE / DELETE / RENAME / SUBSCRIBE ----------------------------------------------- */

static void simple_done(struct imap_session *s, struct store_op *op)
{
	if (op->result == 0)
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
	else
		store_error_reply(s, op);
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
	if (s->state == IMAP_STATE_SELECTED && s->mailbox_name &&
	    strcmp(s->mailbox_name, buf_cstr(&name)) == 0) {
		imap_unselect(s);
		s->state = IMAP_STATE_AUTH;
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

/* IMAP wildcards: '*' matches anything, '%' anything but the separator. */
static bool wild_match(const char *p, const char *n)
{
	for (; *p; p++, n++) {
		if (*p == '*' || *p == '%') {
			for (const char *k = n;; k++) {
				if (wild_match(p + 1, k))
					return true;
				if (!*k || (*p == '%' && *k == '/'))
					return false;
			}
		}
		if (*n != *p)
			return false;
	}
	return *n == '\0';
}

struct list_ctx {
	struct imap_session *s;
	struct store_mailbox *boxes;
	size_t n;
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

static bool has_children(const struct list_ctx *l, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->boxes[i].name, name, n) == 0 && l->boxes[i].name[n] == '/')
			return true;
	return false;
}

void imap_cmd_list(struct imap_session *s)
{
	bool lsub = strcmp(s->cmd.name, "LSUB") == 0;
	struct buf ref = BUF_INIT, pat = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
	struct list_ctx l = {.s = s};
	if (s->cmd.nargs != 2 || !imap_arg_is_string(&s->cmd.args[0]) ||
	    !imap_arg_is_string(&s->cmd.args[1])) {
		imap_bad(s, "Syntax: %s reference pattern", s->cmd.name);
		goto out;
	}
	const struct imap_arg *a0 = &s->cmd.args[0], *a1 = &s->cmd.args[1];
	if ((a0->value.len && imap_arg_mailbox(s, a0, &ref) < 0) ||
	    (a1->value.len && imap_arg_mailbox(s, a1, &pat) < 0)) {
		imap_bad(s, "Bad mailbox name");
		goto out;
	}
	if (pat.len == 0) {
		/* The hierarchy separator and root (RFC 9051 6.3.9). */
		if (!lsub)
			imap_reply(s, "* LIST (\\Noselect) \"/\" \"\"");
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
		goto out;
	}
	struct buf full = BUF_INIT;
	buf_append(&full, ref.data ? ref.data : "", ref.len);
	buf_append(&full, pat.data ? pat.data : "", pat.len);
	if (store_mailbox_list(s->ctx->store, s->account_id, collect, &l, &err) < 0) {
		buf_free(&full);
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct store_mailbox *m = &l.boxes[i];
		bool inbox = strcmp(m->name, "INBOX") == 0;
		/* INBOX matches case-insensitively. */
		bool match = wild_match(buf_cstr(&full), m->name) ||
			     (inbox && strlen(buf_cstr(&full)) == 5 &&
			      strcasecmp(buf_cstr(&full), "INBOX") == 0);
		if (!match || (lsub && !m->subscribed))
			continue;
		buf_reset(&out);
		buf_printf(&out, "* %s (", lsub ? "LSUB" : "LIST");
		buf_puts(&out, has_children(&l, m->name) ? "\\HasChildren" : "\\HasNoChildren");
		if (m->special_use[0] && !lsub)
			buf_printf(&out, " %s", m->special_use);
		buf_puts(&out, ") \"/\" ");
		imap_put_mailbox(s, &out, m->name);
		buf_puts(&out, "\r\n");
		imap_write(s, out.data, out.len);
	}
	buf_free(&full);
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
out:
	for (size_t i = 0; i < l.n; i++)
		store_mailbox_clear(&l.boxes[i]);
	free(l.boxes);
	buf_free(&ref);
	buf_free(&pat);
	buf_free(&err);
	buf_free(&out);
}

/* ---- STATUS ----------------------------------------------------------------------------------- */

void imap_cmd_status(struct imap_session *s)
{
	struct buf name = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
	struct store_mailbox m = {0};
	if (s->cmd.nargs != 2 || s->cmd.args[1].type != IMAP_ARG_LIST ||
	    s->cmd.args[1].nlist == 0) {
		imap_bad(s, "Syntax: STATUS mailbox (items)");
		goto out;
	}
	if (mailbox_arg(s, 0, &name) < 0)
		goto out;
	const struct imap_arg *items = &s->cmd.args[1];
	for (size_t i = 0; i < items->nlist; i++) {
		struct str it = items->list[i].value;
		if (items->list[i].type != IMAP_ARG_ATOM ||
		    !(str_eq_cstr_nocase(it, "MESSAGES") || str_eq_cstr_nocase(it, "RECENT") ||
		      str_eq_cstr_nocase(it, "UIDNEXT") || str_eq_cstr_nocase(it, "UIDVALIDITY") ||
		      str_eq_cstr_nocase(it, "UNSEEN") || str_eq_cstr_nocase(it, "SIZE"))) {
			imap_bad(s, "Unknown STATUS item");
			goto out;
		}
	}
	/* The selected mailbox's changes are reported first (RFC 9051 6.3.11). */
	imap_sync(s, true);
	enum store_lookup l = store_mailbox_get(s->ctx->store, s->account_id, buf_cstr(&name), &m,
						&err);
	if (l != STORE_FOUND) {
		imap_tagged(s, "NO", l == STORE_ERROR ? "[UNAVAILABLE] Temporary failure"
						      : "[NONEXISTENT] No such mailbox");
		goto out;
	}
	buf_puts(&out, "* STATUS ");
	imap_put_mailbox(s, &out, m.name);
	buf_puts(&out, " (");
	for (size_t i = 0; i < items->nlist; i++) {
		struct str it = items->list[i].value;
		if (i)
			buf_putc(&out, ' ');
		if (str_eq_cstr_nocase(it, "MESSAGES"))
			buf_printf(&out, "MESSAGES %u", m.messages);
		else if (str_eq_cstr_nocase(it, "RECENT"))
			buf_puts(&out, "RECENT 0");
		else if (str_eq_cstr_nocase(it, "UIDNEXT"))
			buf_printf(&out, "UIDNEXT %u", m.uidnext);
		else if (str_eq_cstr_nocase(it, "UIDVALIDITY"))
			buf_printf(&out, "UIDVALIDITY %u", m.uidvalidity);
		else if (str_eq_cstr_nocase(it, "UNSEEN"))
			buf_printf(&out, "UNSEEN %u", m.unseen);
		else
			buf_printf(&out, "SIZE %llu", (unsigned long long)m.size);
	}
	buf_puts(&out, ")\r\n");
	imap_write(s, out.data, out.len);
	imap_tagged(s, "OK", "STATUS completed");
out:
	store_mailbox_clear(&m);
	buf_free(&name);
	buf_free(&err);
	buf_free(&out);
}
