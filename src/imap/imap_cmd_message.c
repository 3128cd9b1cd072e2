/*
 * imap_cmd_message — commands that change messages: APPEND, STORE, EXPUNGE,
 * UID EXPUNGE, COPY, MOVE, CLOSE, UNSELECT, CHECK, and IDLE.
 *
 * Each change is one store op; the tagged OK is written from its completion,
 * once it is durable. The session's own changes are folded into its index
 * without being echoed (imap_sync compares), and what other sessions did
 * meanwhile is reported as usual.
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "mime/mime.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static void op_error(struct imap_session *s, const struct store_op *op, const char *cmd)
{
	switch (op->error) {
	case STORE_ERR_TEMP:
		imap_tagged(s, "NO", "[UNAVAILABLE] %s failed, try again", cmd);
		break;
	case STORE_ERR_QUOTA:
		imap_tagged(s, "NO", "[OVERQUOTA] Quota exceeded");
		break;
	case STORE_ERR_NOTFOUND:
		imap_tagged(s, "NO", "[TRYCREATE] No such mailbox");
		break;
	default:
		imap_tagged(s, "NO", "[CANNOT] %s", buf_cstr(&op->err));
		break;
	}
}

/* ---- APPEND ---------------------------------------------------------------------------- */

/* An APPEND of n messages (MULTIAPPEND: n > 1) is one op per message, chained
   behind the first, so that they commit together or not at all. */
struct append_data {
	size_t n;
	struct store_op *ops;
	struct store_append_target *targets;
	char ***keywords;
	char **envelopes, **bodystructures;
};

static void append_data_free(struct append_data *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free((void *)d->ops[i].u.append.data);
		store_op_clear(&d->ops[i]);
		imap_strv_free(&d->keywords[i]);
		free(d->envelopes[i]);
		free(d->bodystructures[i]);
	}
	free(d->ops);
	free(d->targets);
	free(d->keywords);
	free(d->envelopes);
	free(d->bodystructures);
	free(d);
}

static void append_done(struct imap_session *s, struct store_op *op)
{
	struct append_data *d = s->op_data;
	s->op_data = NULL;
	if (op->result == 0) {
		struct buf uids = BUF_INIT;
		uint32_t *v = xmalloc(d->n * sizeof *v);
		for (size_t i = 0; i < d->n; i++)
			v[i] = d->targets[i].uid_r;
		imap_put_set(&uids, v, d->n);
		free(v);
		imap_sync(s, true);
		imap_tagged(s, "OK", "[APPENDUID %u %s] APPEND completed",
		            d->targets[0].uidvalidity_r, buf_cstr(&uids));
		buf_free(&uids);
	} else {
		op_error(s, op, "APPEND");
	}
	append_data_free(d); /* op is d->ops[0] */
}

void imap_cmd_append(struct imap_session *s)
{
	/* APPEND mailbox 1*([flags] [date-time] (literal / CATENATE (parts))) */
	struct buf name = BUF_INIT, why = BUF_INIT, err = BUF_INIT, cat = BUF_INIT;
	struct imap_append_msg *msgs = NULL;
	struct append_data *d = NULL;
	size_t n = 0;
	struct store_mailbox m = {0};
	if (s->cmd.nargs < 2 ||
	    imap_append_parse(s->cmd.args + 1, s->cmd.nargs - 1, &msgs, &n, &why) < 0) {
		imap_bad(s, "%s", why.len ? buf_cstr(&why) : "Syntax: APPEND mailbox {size}");
		goto out;
	}
	if (imap_arg_mailbox(s, &s->cmd.args[0], &name) < 0) {
		imap_bad(s, "Bad mailbox name");
		goto out;
	}
	d = xcalloc(1, sizeof *d);
	d->ops = xcalloc(n, sizeof *d->ops);
	d->targets = xcalloc(n, sizeof *d->targets);
	d->keywords = xcalloc(n, sizeof *d->keywords);
	d->envelopes = xcalloc(n, sizeof *d->envelopes);
	d->bodystructures = xcalloc(n, sizeof *d->bodystructures);
	for (size_t i = 0; i < n; i++) {
		const struct imap_append_msg *a = &msgs[i];
		store_op_init(&d->ops[i], STORE_OP_APPEND);
		d->n = i + 1;
		if (a->flags && imap_arg_flags(a->flags, &d->targets[i].flags, &d->keywords[i],
		                               false, &why) < 0) {
			imap_bad(s, "%s", buf_cstr(&why));
			goto out;
		}
		/* UTF8 data is RFC 6855's, once the client enabled it. */
		if (a->utf8 && !s->utf8_accept) {
			imap_bad(s, "UTF8 data needs ENABLE UTF8=ACCEPT");
			goto out;
		}
		if (a->date)
			imap_parse_datetime(a->date->value, &d->ops[i].u.append.internaldate);
		if (a->catenate && imap_catenate_check(a->catenate, &why) < 0) {
			imap_bad(s, "%s", buf_cstr(&why));
			goto out;
		}
	}
	enum store_lookup l =
	        store_mailbox_get(s->ctx->store, s->account_id, buf_cstr(&name), &m, &err);
	if (l != STORE_FOUND) {
		imap_tagged(s, "NO",
		            l == STORE_ERROR ? "[UNAVAILABLE] Temporary failure"
		                             : "[TRYCREATE] No such mailbox");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct str msg = msgs[i].data;
		/* CATENATE: the message is built from its parts (imap_cmd_catenate.c) */
		buf_reset(&cat);
		if (msgs[i].catenate) {
			if (imap_catenate(s, msgs[i].catenate, &cat, &why) < 0) {
				imap_tagged(s, "NO", "%s", buf_cstr(&why));
				goto out;
			}
			msg = str_buf(&cat);
		}
		char *copy = xmalloc(msg.len ? msg.len : 1);
		memcpy(copy, msg.p, msg.len);
		/* ENVELOPE and BODYSTRUCTURE are computed once, here, and cached. */
		struct mime_part *root = NULL;
		struct buf env = BUF_INIT, bs = BUF_INIT;
		mime_parse(copy, msg.len, &root);
		mime_envelope(copy, msg.len, &env);
		mime_bodystructure(root, copy, true, &bs);
		mime_part_free(&root);
		d->envelopes[i] = buf_steal(&env);
		d->bodystructures[i] = buf_steal(&bs);
		d->targets[i].mailbox_id = m.id;
		d->targets[i].keywords = d->keywords[i];
		struct store_op *op = &d->ops[i];
		op->u.append.data = copy;
		op->u.append.len = msg.len;
		op->u.append.envelope = d->envelopes[i];
		op->u.append.bodystructure = d->bodystructures[i];
		op->u.append.targets = &d->targets[i];
		op->u.append.ntargets = 1;
		op->u.append.more = i + 1 < n ? &d->ops[i + 1] : NULL;
	}
	s->op_data = d;
	imap_submit(s, &d->ops[0], append_done);
	d = NULL; /* append_done's now */
out:
	if (d)
		append_data_free(d);
	free(msgs);
	store_mailbox_clear(&m);
	buf_free(&name);
	buf_free(&why);
	buf_free(&err);
	buf_free(&cat);
}

/* ---- CHECK, CLOSE, UNSELECT, EXPUNGE --------------------------------------------------------- */

void imap_cmd_check(struct imap_session *s)
{
	imap_sync(s, true);
	imap_tagged(s, "OK", "CHECK completed");
}

static void close_done(struct imap_session *s, struct store_op *op)
{
	/* CLOSE reports no EXPUNGE (RFC 9051 6.4.1). */
	if (op->result < 0)
		log_warn("imap event=close-expunge-failed reason=\"%s\"", buf_cstr(&op->err));
	imap_unselect(s);
	s->state = IMAP_STATE_AUTH;
	imap_tagged(s, "OK", "CLOSE completed");
	store_op_clear(op);
	free(op);
}

void imap_cmd_close(struct imap_session *s)
{
	if (s->cmd.nargs) {
		imap_bad(s, "%s takes no arguments", s->cmd.name);
		return;
	}
	if (strcmp(s->cmd.name, "UNSELECT") == 0 || s->readonly) {
		imap_unselect(s);
		s->state = IMAP_STATE_AUTH;
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
		return;
	}
	struct store_op *op = xcalloc(1, sizeof *op);
	store_op_init(op, STORE_OP_EXPUNGE);
	op->u.expunge.mailbox_id = s->mailbox_id;
	imap_submit(s, op, close_done);
}

static void expunge_done(struct imap_session *s, struct store_op *op)
{
	if (op->result == 0) {
		imap_sync(s, true);
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
	} else {
		op_error(s, op, "EXPUNGE");
	}
	free((void *)op->u.expunge.uids);
	store_op_clear(op);
	free(op);
}

void imap_cmd_expunge(struct imap_session *s)
{
	bool uid = strcmp(s->cmd.name, "UID EXPUNGE") == 0;
	if (s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if ((uid && (s->cmd.nargs != 1 || s->cmd.args[0].type != IMAP_ARG_ATOM)) ||
	    (!uid && s->cmd.nargs)) {
		imap_bad(s, uid ? "Syntax: UID EXPUNGE uid-set" : "EXPUNGE takes no arguments");
		return;
	}
	struct store_op *op = xcalloc(1, sizeof *op);
	store_op_init(op, STORE_OP_EXPUNGE);
	op->u.expunge.mailbox_id = s->mailbox_id;
	if (uid) {
		size_t *idx, n;
		if (imap_resolve_set(s, s->cmd.args[0].value.p, s->cmd.args[0].value.len, true,
		                     &idx, &n) < 0) {
			free(op);
			imap_bad(s, "Bad UID set");
			return;
		}
		/* Only messages with \Deleted (RFC 4315 2.1). */
		uint32_t *uids = xmalloc((n ? n : 1) * sizeof *uids);
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (s->msgs.flags[idx[i]] & STORE_FLAG_DELETED)
				uids[k++] = s->msgs.uids[idx[i]];
		free(idx);
		op->u.expunge.uids = uids;
		op->u.expunge.nuids = k;
	}
	imap_submit(s, op, expunge_done);
}

/* ---- STORE ----------------------------------------------------------------------------------- */

struct store_data {
	size_t *idx;
	size_t n;
	bool silent;
	bool conditional; /* UNCHANGEDSINCE given */
	char **keywords;
};

/* "[MODIFIED set] " for the uids that failed UNCHANGEDSINCE: message numbers
   for STORE, uids for UID STORE, of those the session still shows. */
static void put_modified(struct imap_session *s, struct buf *code, const uint32_t *uids, size_t n,
                         bool uid)
{
	uint32_t *v = xmalloc((n ? n : 1) * sizeof *v);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		long x = imap_msg_by_uid(s, uids[i]);
		if (x >= 0)
			v[k++] = uid ? uids[i] : (uint32_t)x + 1;
	}
	if (k) {
		buf_puts(code, "[MODIFIED ");
		imap_put_set(code, v, k);
		buf_puts(code, "] ");
	}
	free(v);
}

static void store_done(struct imap_session *s, struct store_op *op)
{
	struct store_data *d = s->op_data;
	bool uid = strncmp(s->cmd.name, "UID ", 4) == 0;
	if (op->result == 0 && s->conn) {
		/* Fold the committed flags into the index quietly, then answer for
		   every message of the set (unless .SILENT). Changes made by others
		   meanwhile are reported by the sync as usual, and so is the state
		   of the messages that failed UNCHANGEDSINCE. */
		const uint32_t *modified = op->u.flags.modified_r;
		size_t nmodified = op->u.flags.nmodified_r;
		struct buf out = BUF_INIT, code = BUF_INIT;
		uint32_t *before = xmalloc((d->n ? d->n : 1) * sizeof *before);
		size_t nbefore = 0;
		for (size_t i = 0; i < d->n; i++) {
			uint32_t u = s->msgs.uids[d->idx[i]];
			if (!imap_uid_in(modified, nmodified, u))
				before[nbefore++] = u;
		}
		s->quiet = before;
		s->nquiet = nbefore;
		/* The sync and the MODSEQs below read one snapshot: each MODSEQ
		   goes with the flags the index then holds. */
		store_read_begin(s->ctx->store);
		/* UID STORE may report expunges (RFC 9051 7.5.1): the answers
		   below find each message's number after them. */
		imap_sync(s, uid);
		s->quiet = NULL;
		s->nquiet = 0;
		/* A CONDSTORE client is told each message's MODSEQ: read for
		   this answer (a message expunged meanwhile has none, and no
		   answer). */
		struct imap_meta meta = {0};
		if (s->condstore && nbefore &&
		    imap_meta_load(s, before[0], before[nbefore - 1], 0, &meta) < 0)
			nbefore = 0;
		store_read_end(s->ctx->store);
		for (size_t i = 0; i < nbefore; i++) {
			long k = imap_msg_by_uid(s, before[i]);
			const struct imap_meta_msg *m = imap_meta_find(&meta, before[i]);
			if (k < 0 || (s->condstore && !m))
				continue;
			/* .SILENT still tells a CONDSTORE client the new MODSEQ of
			   what changed (RFC 7162 3.1.3). */
			bool changed = m && m->modseq == op->u.flags.modseq_r;
			if (d->silent && !(s->condstore && changed))
				continue;
			buf_reset(&out);
			buf_printf(&out, "* %ld FETCH (", k + 1);
			if (uid)
				buf_printf(&out, "UID %u ", before[i]);
			if (!d->silent) {
				buf_puts(&out, "FLAGS ");
				imap_put_flags(&out, imap_msg_flags(s, (size_t)k),
				               imap_msg_keywords(s, (size_t)k));
			}
			if (s->condstore)
				buf_printf(&out, "%sMODSEQ (%llu)", d->silent ? "" : " ",
				           (unsigned long long)m->modseq);
			buf_puts(&out, ")\r\n");
			imap_write(s, out.data, out.len);
		}
		imap_meta_free(&meta);
		put_modified(s, &code, modified, nmodified, uid);
		imap_tagged(s, "OK", "%s%s%s %s", buf_cstr(&code), code.len ? "Conditional " : "",
		            s->cmd.name, code.len ? "failed" : "completed");
		free(before);
		buf_free(&out);
		buf_free(&code);
	} else if (op->result < 0) {
		op_error(s, op, "STORE");
	}
	free(d->idx);
	imap_strv_free(&d->keywords);
	free((void *)op->u.flags.uids);
	free(d);
	s->op_data = NULL;
	store_op_clear(op);
	free(op);
}

void imap_cmd_store(struct imap_session *s)
{
	bool uid = strncmp(s->cmd.name, "UID ", 4) == 0;
	const struct imap_arg *a = s->cmd.args;
	size_t na = s->cmd.nargs;
	struct buf why = BUF_INIT;
	uint64_t unchangedsince = 0;
	bool conditional = false;
	struct imap_arg shifted[3];
	if (na == 4 && a[1].type == IMAP_ARG_LIST) {
		if (imap_store_modifiers_parse(&a[1], &unchangedsince, &why) < 0) {
			imap_bad(s, "%s", buf_cstr(&why));
			buf_free(&why);
			return;
		}
		conditional = true;
		/* the modifiers out of the way: set, item, flags */
		shifted[0] = a[0];
		shifted[1] = a[2];
		shifted[2] = a[3];
		a = shifted;
		na = 3;
	}
	if (na != 3 || a[0].type != IMAP_ARG_ATOM || a[1].type != IMAP_ARG_ATOM) {
		imap_bad(s, "Syntax: STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] (flags)");
		return;
	}
	if (s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	struct str item = a[1].value;
	enum store_flags_mode mode = STORE_FLAGS_SET;
	if (item.len && (item.p[0] == '+' || item.p[0] == '-')) {
		mode = item.p[0] == '+' ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE;
		item.p++;
		item.len--;
	}
	bool silent = false;
	if (str_eq_cstr_nocase(item, "FLAGS.SILENT"))
		silent = true;
	else if (!str_eq_cstr_nocase(item, "FLAGS")) {
		imap_bad(s, "Unknown STORE item");
		return;
	}
	uint32_t flags;
	char **keywords = NULL;
	if (imap_arg_flags(&a[2], &flags, &keywords, true, &why) < 0) {
		imap_bad(s, "%s", buf_cstr(&why));
		buf_free(&why);
		return;
	}
	buf_free(&why);
	size_t *idx, n;
	int r = imap_resolve_set(s, a[0].value.p, a[0].value.len, uid, &idx, &n);
	if (r < 0) {
		imap_strv_free(&keywords);
		imap_bad(s, r == -2 ? "Message sequence number out of range" : "Bad sequence set");
		return;
	}
	if (conditional)
		imap_condstore_enable(s);
	uint32_t *uids = xmalloc((n ? n : 1) * sizeof *uids);
	for (size_t i = 0; i < n; i++)
		uids[i] = s->msgs.uids[idx[i]];
	if (conditional && unchangedsince == 0) {
		/* Every message has a MODSEQ above 0: all of them fail. */
		struct buf code = BUF_INIT;
		imap_sync(s, uid);
		put_modified(s, &code, uids, n, uid);
		imap_tagged(s, "OK", "%s%s%s %s", buf_cstr(&code), code.len ? "Conditional " : "",
		            s->cmd.name, code.len ? "failed" : "completed");
		buf_free(&code);
		free(uids);
		free(idx);
		imap_strv_free(&keywords);
		return;
	}
	struct store_data *d = xcalloc(1, sizeof *d);
	d->idx = idx;
	d->n = n;
	d->silent = silent;
	d->conditional = conditional;
	d->keywords = keywords;
	struct store_op *op = xcalloc(1, sizeof *op);
	store_op_init(op, STORE_OP_FLAGS);
	op->u.flags.mailbox_id = s->mailbox_id;
	op->u.flags.uids = uids;
	op->u.flags.nuids = n;
	op->u.flags.mode = mode;
	op->u.flags.flags = flags;
	op->u.flags.keywords = (const char *const *)keywords;
	op->u.flags.unchangedsince = unchangedsince;
	s->op_data = d;
	imap_submit(s, op, store_done);
}

/* ---- COPY / MOVE -------------------------------------------------------------------------------
 */

/* "[COPYUID uidvalidity src dst] " of a finished copy, or "" when nothing was copied. */
static void put_copyuid(struct buf *code, const struct store_op *op)
{
	if (!op->u.copy.ncopied_r)
		return;
	buf_printf(code, "[COPYUID %u ", op->u.copy.to_uidvalidity_r);
	imap_put_set(code, op->u.copy.src_uids_r, op->u.copy.ncopied_r);
	buf_putc(code, ' ');
	imap_put_set(code, op->u.copy.new_uids_r, op->u.copy.ncopied_r);
	buf_puts(code, "] ");
}

/* MOVE's end: RFC 6851 wants COPYUID untagged, then the expunges, then OK. */
static void move_reply(struct imap_session *s, const char *copyuid)
{
	if (*copyuid)
		imap_reply(s, "* OK %sMoved", copyuid);
	imap_sync(s, true);
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
}

/* A MOVE within one mailbox is a copy and then an expunge of the sources;
   between the two a crash leaves both copies, never none. */
static void move_expunge_done(struct imap_session *s, struct store_op *op)
{
	char *copyuid = s->op_data;
	s->op_data = NULL;
	if (op->result == 0)
		move_reply(s, copyuid);
	else
		op_error(s, op, "MOVE");
	free(copyuid);
	free((void *)op->u.expunge.uids);
	store_op_clear(op);
	free(op);
}

static void copy_done(struct imap_session *s, struct store_op *op)
{
	bool move = strstr(s->cmd.name, "MOVE") != NULL;
	struct buf code = BUF_INIT;
	if (op->result == 0)
		put_copyuid(&code, op);
	if (op->result == 0 && move && !op->u.copy.move && op->u.copy.ncopied_r) {
		struct store_op *ex = xcalloc(1, sizeof *ex);
		store_op_init(ex, STORE_OP_EXPUNGE);
		ex->u.expunge.mailbox_id = op->u.copy.from_mailbox_id;
		ex->u.expunge.uids = op->u.copy.src_uids_r; /* ascending, as copied */
		ex->u.expunge.nuids = op->u.copy.ncopied_r;
		op->u.copy.src_uids_r = NULL;
		s->op_data = buf_steal(&code);
		imap_submit(s, ex, move_expunge_done);
	} else if (op->result == 0 && s->conn) {
		if (move)
			move_reply(s, buf_cstr(&code));
		else
			imap_tagged(s, "OK", "%s%s completed", buf_cstr(&code), s->cmd.name);
	} else if (op->result < 0) {
		op_error(s, op, move ? "MOVE" : "COPY");
	}
	buf_free(&code);
	free((void *)op->u.copy.uids);
	store_op_clear(op);
	free(op);
}

void imap_cmd_copy(struct imap_session *s)
{
	bool uid = strncmp(s->cmd.name, "UID ", 4) == 0;
	bool move = strstr(s->cmd.name, "MOVE") != NULL;
	const struct imap_arg *a = s->cmd.args;
	if (s->cmd.nargs != 2 || a[0].type != IMAP_ARG_ATOM || !imap_arg_is_string(&a[1])) {
		imap_bad(s, "Syntax: %s set mailbox", s->cmd.name);
		return;
	}
	if (move && s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	struct buf name = BUF_INIT, err = BUF_INIT;
	struct store_mailbox m = {0};
	size_t *idx, n;
	int r = imap_resolve_set(s, a[0].value.p, a[0].value.len, uid, &idx, &n);
	if (r < 0) {
		imap_bad(s, r == -2 ? "Message sequence number out of range" : "Bad sequence set");
		goto out;
	}
	if (imap_arg_mailbox(s, &a[1], &name) < 0) {
		free(idx);
		imap_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
		goto out;
	}
	enum store_lookup l =
	        store_mailbox_get(s->ctx->store, s->account_id, buf_cstr(&name), &m, &err);
	if (l != STORE_FOUND) {
		free(idx);
		imap_tagged(s, "NO",
		            l == STORE_ERROR ? "[UNAVAILABLE] Temporary failure"
		                             : "[TRYCREATE] No such mailbox");
		goto out;
	}
	uint32_t *uids = xmalloc((n ? n : 1) * sizeof *uids);
	for (size_t i = 0; i < n; i++)
		uids[i] = s->msgs.uids[idx[i]];
	free(idx);
	struct store_op *op = xcalloc(1, sizeof *op);
	store_op_init(op, STORE_OP_COPY);
	op->u.copy.from_mailbox_id = s->mailbox_id;
	op->u.copy.to_mailbox_id = m.id;
	op->u.copy.uids = uids;
	op->u.copy.nuids = n;
	/* The store moves between mailboxes; within one, copy_done expunges. */
	op->u.copy.move = move && m.id != s->mailbox_id;
	imap_submit(s, op, copy_done);
out:
	store_mailbox_clear(&m);
	buf_free(&name);
	buf_free(&err);
}

/* ---- IDLE
 * ------------------------------------------------------------------------------------------ */

void imap_cmd_idle(struct imap_session *s)
{
	if (s->cmd.nargs) {
		imap_bad(s, "IDLE takes no arguments");
		return;
	}
	s->idling = true;
	imap_reply(s, "+ idling");
	imap_sync(s, true);
}

void imap_idle_line(struct imap_session *s, const char *line, size_t len)
{
	s->idling = false;
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0) {
		imap_sync(s, true);
		imap_tagged(s, "OK", "IDLE terminated");
	} else {
		imap_bad(s, "Expected DONE");
	}
}
