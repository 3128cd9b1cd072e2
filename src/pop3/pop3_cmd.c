/*
 * pop3_cmd — CAPA, STLS, QUIT and the maildrop commands: STAT, LIST, RETR,
 * DELE, NOOP, RSET, TOP, UIDL.
 *
 * Message numbers are positions in the snapshot taken at login (1-based).
 * Sizes are the stored octets, which are the octets RETR sends before
 * dot-stuffing: messages are stored with CRLF line ends. UIDL is
 * "<uidvalidity>.<uid>" in decimal: unique in the mailbox, and the same for
 * the same message in every session, whatever IMAP does to its flags.
 *
 * RETR notes the message for \Seen; the notes go to the store in one
 * STORE_OP_FLAGS when the session ends (QUIT, or a dropped connection), minus
 * the messages being deleted — as Dovecot does, one commit per session. DELE
 * only marks the message in the session. QUIT in the TRANSACTION state enters
 * UPDATE: the \Seen op, then one STORE_OP_EXPUNGE with the marked uids, and
 * +OK only from the expunge's completion, once both are durable; if it fails,
 * -ERR [SYS/TEMP] and nothing is deleted.
 */
#include "pop3/pop3.h"
#include "pop3/pop3_internal.h"

#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* A store op with what it owns. */
struct pop3_op {
	struct store_op op; /* first: the completion gets &op */
	uint32_t *uids;
};

static void pop3_op_free(struct store_op *op)
{
	struct pop3_op *po = (struct pop3_op *)op;
	free(po->uids);
	store_op_clear(&po->op);
	free(po);
}

/* ---- checks ------------------------------------------------------------------------ */

int pop3_check_any(struct pop3_session *s)
{
	return 0;
}

static int check_number(struct pop3_session *s, uint32_t n)
{
	if (n > s->nmsgs) {
		if (s->nmsgs == 0)
			pop3_reply_err(s, "No such message: the maildrop is empty");
		else
			pop3_reply_err(s, "No such message: the maildrop has %zu", s->nmsgs);
		return -1;
	}
	if (s->msgs[n - 1].deleted) {
		pop3_reply_err(s, "Message %u is deleted", n);
		return -1;
	}
	return 0;
}

int pop3_check_msg(struct pop3_session *s)
{
	return check_number(s, s->cmd.msg);
}

int pop3_check_opt_msg(struct pop3_session *s)
{
	return s->cmd.nargs ? check_number(s, s->cmd.msg) : 0;
}

/* ---- CAPA, STLS, QUIT --------------------------------------------------------------- */

static bool stls_offered(const struct pop3_session *s)
{
	return s->ctx->tls_available && !s->svc->implicit_tls && !conn_is_tls(s->conn);
}

/* The same list in both states (RFC 2449 5). */
void pop3_proceed_capa(struct pop3_session *s)
{
	bool login = pop3_login_allowed(s);
	pop3_reply(s, "+OK Capability list follows");
	pop3_reply(s, "TOP");
	if (login)
		pop3_reply(s, "USER");
	pop3_reply(s, "UIDL");
	pop3_reply(s, "RESP-CODES");
	pop3_reply(s, "AUTH-RESP-CODE");
	pop3_reply(s, "PIPELINING");
	if (login)
		pop3_reply(s, "SASL PLAIN LOGIN SCRAM-SHA-256");
	if (stls_offered(s))
		pop3_reply(s, "STLS");
	pop3_reply(s, "IMPLEMENTATION petrel");
	pop3_reply(s, ".");
}

int pop3_check_stls(struct pop3_session *s)
{
	if (conn_is_tls(s->conn)) {
		pop3_reply_err(s, "TLS is already active");
		return -1;
	}
	if (!stls_offered(s)) {
		pop3_reply_err(s, "STLS is not available");
		return -1;
	}
	return 0;
}

void pop3_proceed_stls(struct pop3_session *s)
{
	pop3_reply(s, "+OK Begin TLS negotiation");
	/* Nothing of the plain-text session survives (RFC 2595 4), and whatever
	   the client pipelined after STLS is discarded by conn_starttls. */
	xfree(&s->user);
	s->state = POP3_STATE_AUTHORIZATION;
	if (conn_starttls(s->conn) < 0) {
		pop3_reply(s, "-ERR [SYS/TEMP] TLS is not available, closing connection");
		pop3_close(s);
	}
}

static void quit_done(struct store_op *op, void *arg)
{
	struct pop3_session *s = arg;
	bool ok = op->result == 0;
	bool temp = op->error == STORE_ERR_TEMP;
	size_t expunged = op->u.expunge.nexpunged_r;
	if (!ok) {
		struct buf v = BUF_INIT;
		log_value(&v, op->err.data ? op->err.data : "", op->err.len);
		log_warn("pop3 user=%s event=expunge result=error error=%d reason=%s",
		         s->login ? s->login : "-", (int)op->error, buf_cstr(&v));
		buf_free(&v);
	}
	pop3_op_free(op);
	if (!pop3_op_finished(s))
		return; /* gone: the expunge happened all the same */
	log_info("pop3 id=%s peer=%s event=quit user=%s deleted=%zu expunged=%zu result=%s",
	         conn_id(s->conn), conn_peer(s->conn), s->login, s->ndeleted, expunged,
	         ok ? "ok" : "error");
	pop3_lock_release(s);
	if (ok && s->ndeleted == 0)
		pop3_reply(s, "+OK petrel POP3 server signing off");
	else if (ok)
		pop3_reply(s, "+OK petrel POP3 server signing off (%zu messages deleted)",
		           s->ndeleted);
	else if (temp)
		pop3_reply(s, "-ERR [SYS/TEMP] The deleted messages could not be removed, "
		              "try again later");
	else
		pop3_reply(s, "-ERR [SYS/PERM] The deleted messages could not be removed");
	pop3_close(s);
}

/* The message of the snapshot with this uid (the snapshot is in uid order). */
static const struct pop3_msg *msg_of_uid(const struct pop3_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->nmsgs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nmsgs && s->msgs[lo].uid == uid ? &s->msgs[lo] : NULL;
}

void pop3_proceed_quit(struct pop3_session *s)
{
	if (s->state == POP3_STATE_AUTHORIZATION) {
		pop3_lock_release(s);
		pop3_reply(s, "+OK petrel POP3 server signing off");
		pop3_close(s);
		return;
	}
	/* \Seen for what was retrieved and is not being deleted, then the
	   expunge; both commit before the answer (completions come in order). */
	size_t k = 0;
	for (size_t i = 0; i < s->nseen_pending; i++) {
		const struct pop3_msg *m = msg_of_uid(s, s->seen_pending[i]);
		if (!m || !m->deleted)
			s->seen_pending[k++] = s->seen_pending[i];
	}
	s->nseen_pending = k;
	pop3_seen_flush(s);
	/* UPDATE: one op, one transaction; the answer waits for it. */
	s->state = POP3_STATE_UPDATE;
	pop3_pause(s);
	struct pop3_op *po = xcalloc(1, sizeof *po);
	po->uids = xmalloc((s->ndeleted ? s->ndeleted : 1) * sizeof(uint32_t));
	size_t n = 0;
	for (size_t i = 0; i < s->nmsgs; i++) /* the snapshot is in uid order */
		if (s->msgs[i].deleted)
			po->uids[n++] = s->msgs[i].uid;
	store_op_init(&po->op, STORE_OP_EXPUNGE);
	po->op.u.expunge.mailbox_id = s->mailbox_id;
	po->op.u.expunge.uids = po->uids;
	po->op.u.expunge.nuids = n;
	pop3_submit(s, &po->op, quit_done);
}

/* ---- \Seen ---------------------------------------------------------------------------- */

static int cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void seen_done(struct store_op *op, void *arg)
{
	struct pop3_session *s = arg;
	if (op->result < 0) {
		struct buf v = BUF_INIT;
		log_value(&v, op->err.data ? op->err.data : "", op->err.len);
		log_warn("pop3 user=%s event=mark-seen result=error uids=%zu reason=%s",
		         s->login ? s->login : "-", op->u.flags.nuids, buf_cstr(&v));
		buf_free(&v);
	}
	pop3_op_free(op);
	if (!pop3_op_finished(s))
		return;
	s->seen_in_flight = false;
	pop3_seen_flush(s);
}

/* Hands the retrieved uids not yet marked to the store, unless an op is in
   flight and the session goes on (its completion calls again). */
void pop3_seen_flush(struct pop3_session *s)
{
	if (s->nseen_pending == 0 || (s->seen_in_flight && s->conn))
		return;
	struct pop3_op *po = xcalloc(1, sizeof *po);
	po->uids = s->seen_pending;
	qsort(po->uids, s->nseen_pending, sizeof(uint32_t), cmp_uid);
	store_op_init(&po->op, STORE_OP_FLAGS);
	po->op.u.flags.mailbox_id = s->mailbox_id;
	po->op.u.flags.uids = po->uids;
	po->op.u.flags.nuids = s->nseen_pending;
	po->op.u.flags.mode = STORE_FLAGS_ADD;
	po->op.u.flags.flags = STORE_FLAG_SEEN;
	s->seen_pending = NULL;
	s->nseen_pending = s->seen_cap = 0;
	s->seen_in_flight = true;
	pop3_submit(s, &po->op, seen_done);
}

static void mark_seen(struct pop3_session *s, struct pop3_msg *m)
{
	if (m->flags & STORE_FLAG_SEEN)
		return;
	m->flags |= STORE_FLAG_SEEN;
	if (s->nseen_pending == s->seen_cap) {
		s->seen_cap = s->seen_cap ? 2 * s->seen_cap : 16;
		s->seen_pending = xrealloc(s->seen_pending, s->seen_cap * sizeof(uint32_t));
	}
	s->seen_pending[s->nseen_pending++] = m->uid;
	/* Marked in the store when the session ends (QUIT or a dropped
	   connection), as Dovecot does: one commit per session instead of one
	   per RETR, and none at all for messages the client deletes. */
}

/* ---- the maildrop ------------------------------------------------------------------- */

void pop3_proceed_stat(struct pop3_session *s)
{
	pop3_reply(s, "+OK %zu %llu", s->nmsgs - s->ndeleted,
	           (unsigned long long)(s->total_size - s->deleted_size));
}

void pop3_proceed_list(struct pop3_session *s)
{
	if (s->cmd.nargs) {
		pop3_reply(s, "+OK %u %llu", s->cmd.msg,
		           (unsigned long long)s->msgs[s->cmd.msg - 1].size);
		return;
	}
	struct buf b = BUF_INIT;
	buf_printf(&b, "+OK %zu messages (%llu octets)\r\n", s->nmsgs - s->ndeleted,
	           (unsigned long long)(s->total_size - s->deleted_size));
	for (size_t i = 0; i < s->nmsgs; i++)
		if (!s->msgs[i].deleted)
			buf_printf(&b, "%zu %llu\r\n", i + 1, (unsigned long long)s->msgs[i].size);
	buf_puts(&b, ".\r\n");
	pop3_write(s, b.data, b.len);
	buf_free(&b);
}

void pop3_proceed_uidl(struct pop3_session *s)
{
	if (s->cmd.nargs) {
		pop3_reply(s, "+OK %u %u.%u", s->cmd.msg, s->uidvalidity,
		           s->msgs[s->cmd.msg - 1].uid);
		return;
	}
	struct buf b = BUF_INIT;
	buf_puts(&b, "+OK Unique-ID listing follows\r\n");
	for (size_t i = 0; i < s->nmsgs; i++)
		if (!s->msgs[i].deleted)
			buf_printf(&b, "%zu %u.%u\r\n", i + 1, s->uidvalidity, s->msgs[i].uid);
	buf_puts(&b, ".\r\n");
	pop3_write(s, b.data, b.len);
	buf_free(&b);
}

static void emit(const char *p, size_t n, void *arg)
{
	pop3_write(arg, p, n);
}

/* What RETR or TOP sends of the message the store hands over. */
struct sending {
	struct pop3_session *s;
	const struct pop3_msg *m;
	bool top;
};

static void send_message(const char *p, size_t n, void *arg)
{
	struct sending *x = arg;
	struct pop3_session *s = x->s;
	if (x->top) {
		pop3_reply(s, "+OK Top of message %u follows", s->cmd.msg);
		n = pop3_top_length(p, n, s->cmd.lines);
	} else {
		if (n != x->m->size)
			log_warn("pop3 id=%s event=size-mismatch uid=%u listed=%llu stored=%zu",
			         conn_id(s->conn), x->m->uid, (unsigned long long)x->m->size, n);
		pop3_reply(s, "+OK %llu octets", (unsigned long long)x->m->size);
	}
	pop3_write_multiline(p, n, emit, s);
}

/* Sends message n for RETR or TOP, read by its UID (never by its blob: when
   another session expunges it, its blob may go and the id be given to the
   next delivery); -1 after answering -ERR. */
static int send_or_refuse(struct pop3_session *s, const struct pop3_msg *m, bool top)
{
	struct sending x = {.s = s, .m = m, .top = top};
	struct buf err = BUF_INIT;
	enum store_lookup r =
	        store_message_view(s->ctx->store, s->mailbox_id, m->uid, send_message, &x, &err);
	if (r == STORE_FOUND) {
		buf_free(&err);
		return 0;
	}
	if (r == STORE_NOT_FOUND) {
		pop3_reply(s,
		           "-ERR Message %u is no longer available: it was deleted by another "
		           "session",
		           s->cmd.msg);
	} else {
		struct buf v = BUF_INIT;
		log_value(&v, err.data ? err.data : "", err.len);
		log_warn("pop3 id=%s peer=%s event=read-message result=error uid=%u reason=%s",
		         conn_id(s->conn), conn_peer(s->conn), m->uid, buf_cstr(&v));
		buf_free(&v);
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot read message %u, try again later",
		           s->cmd.msg);
	}
	buf_free(&err);
	return -1;
}

void pop3_proceed_retr(struct pop3_session *s)
{
	struct pop3_msg *m = &s->msgs[s->cmd.msg - 1];
	if (send_or_refuse(s, m, false) < 0)
		return;
	s->retrieved++;
	mark_seen(s, m);
}

void pop3_proceed_top(struct pop3_session *s)
{
	send_or_refuse(s, &s->msgs[s->cmd.msg - 1], true);
}

void pop3_proceed_dele(struct pop3_session *s)
{
	struct pop3_msg *m = &s->msgs[s->cmd.msg - 1];
	m->deleted = true;
	s->ndeleted++;
	s->deleted_size += m->size;
	pop3_reply(s, "+OK Message %u deleted", s->cmd.msg);
}

void pop3_proceed_noop(struct pop3_session *s)
{
	pop3_reply(s, "+OK");
}

void pop3_proceed_rset(struct pop3_session *s)
{
	for (size_t i = 0; i < s->nmsgs; i++)
		s->msgs[i].deleted = false;
	s->ndeleted = 0;
	s->deleted_size = 0;
	pop3_reply(s, "+OK Maildrop has %zu messages (%llu octets)", s->nmsgs,
	           (unsigned long long)s->total_size);
}
