/*
 * smtp_cmd_data — DATA and BDAT (RFC 3030), and the durable hand-off.
 *
 * At the end of a message the session prepends Return-Path: and Received:,
 * and submits ONE store op: the blob once, one mailbox entry per local
 * recipient, and the outbound queue entry for remote ones. The 250 is written
 * from that op's completion, i.e. only once the commit is durable. A message
 * that is too big, has a bare CR/LF or a NUL, or fails to commit leaves nothing
 * behind.
 *
 * On the submission ports, a message with remote recipients is first signed
 * (dkim.h: the From domain's keys, on a worker thread); its DKIM-Signature
 * fields go between Return-Path: and Received:. Signing happens here, once
 * per message, never per delivery attempt; mail received on the MX port is
 * never signed.
 */
#include "smtp/smtp.h"
#include "smtp/smtp_internal.h"

#include "dkim/dkim.h"
#include "mime/mime.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool have_valid_rcpt(struct smtp_session *s, const char *verb)
{
	if (!s->has_mail) {
		smtp_reply_error(s, "503 5.5.1 Need MAIL before %s", verb);
		return false;
	}
	if (s->nrcpts == 0) {
		if (s->rcpt_attempts)
			smtp_reply_error(s, "554 5.5.1 No valid recipients");
		else
			smtp_reply_error(s, "503 5.5.1 Need RCPT before %s", verb);
		return false;
	}
	return true;
}

int smtp_check_data(struct smtp_session *s)
{
	if (s->bdat_started) {
		smtp_reply_error(s, "503 5.5.1 DATA not allowed after BDAT");
		return -1;
	}
	return have_valid_rcpt(s, "DATA") ? 0 : -1;
}

void smtp_proceed_data(struct smtp_session *s)
{
	smtp_data_init(&s->reader, s->ctx->cfg->max_message_size);
	buf_reset(&s->data);
	s->state = SMTP_STATE_DATA;
	conn_set_timeout(s->conn, (unsigned)s->ctx->cfg->smtp_data_timeout);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* BDAT's chunk must be read whatever we answer (RFC 3030 2), so the check step
   only validates the size argument; failures are recorded and reported when
   the chunk has been consumed. */
int smtp_check_bdat(struct smtp_session *s)
{
	uint64_t size;
	bool last;
	if (smtp_parse_bdat(s->cmd.arg, &size, &last) < 0) {
		/* Without a size we cannot know where the chunk ends: give up. */
		smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		smtp_close(s);
		return -1;
	}
	return 0;
}

void smtp_proceed_bdat(struct smtp_session *s)
{
	uint64_t size;
	bool last;
	smtp_parse_bdat(s->cmd.arg, &size, &last);
	if (!s->bdat_started) {
		s->bdat_failed = false;
		s->bdat_too_big = false;
		buf_reset(&s->data);
		if (s->state == SMTP_STATE_INIT) {
			smtp_reply_error(s, "503 5.5.1 Send HELO/EHLO first");
			s->bdat_failed = true;
		} else if (!have_valid_rcpt(s, "BDAT")) {
			s->bdat_failed = true;
		}
		s->bdat_started = !s->bdat_failed;
	}
	s->bdat_last = last;
	s->bdat_remaining = size;
	/* A chunk is a data block: it gets the data timeout until it is read. */
	conn_set_timeout(s->conn, (unsigned)(size ? s->ctx->cfg->smtp_data_timeout
						  : s->ctx->cfg->command_timeout));
	if (size == 0)
		smtp_bdat_chunk_done(s);
}

static void commit_message(struct smtp_session *s);

void smtp_bdat_chunk_done(struct smtp_session *s)
{
	conn_set_timeout(s->conn, (unsigned)s->ctx->cfg->command_timeout);
	if (!s->bdat_started) {
		/* The error was replied when BDAT was read; the chunk is gone now. */
		return;
	}
	if (!s->bdat_last) {
		smtp_reply(s, "250 2.0.0 %llu octets received", (unsigned long long)s->data.len);
		return;
	}
	if (s->bdat_too_big) {
		smtp_reply_error(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		smtp_transaction_reset(s);
		return;
	}
	commit_message(s);
}

void smtp_data_finished(struct smtp_session *s)
{
	s->state = SMTP_STATE_READY;
	conn_set_timeout(s->conn, (unsigned)s->ctx->cfg->command_timeout);
	const struct smtp_data_reader *r = &s->reader;
	if (r->too_big) {
		smtp_reply_error(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		smtp_transaction_reset(s);
		return;
	}
	if (r->bare_crlf) {
		smtp_reply_error(s, "550 5.6.0 Message contains bare CR or LF characters, which "
				    "RFC 5321 forbids");
		smtp_transaction_reset(s);
		return;
	}
	if (r->has_nul) {
		smtp_reply_error(s, "550 5.6.0 Message contains NUL characters");
		smtp_transaction_reset(s);
		return;
	}
	commit_message(s);
}

/* ---- building the stored message ----------------------------------------------- */

static void rfc5322_date(struct buf *out)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	buf_printf(out, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		   months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Copies text into a header, dropping anything that could break the header
   (control characters): HELO names are the client's words. */
static void header_safe(struct buf *out, const char *text, size_t max)
{
	for (size_t i = 0; text[i] && i < max; i++) {
		unsigned char c = (unsigned char)text[i];
		buf_putc(out, c < 0x20 || c == 0x7f || c == '(' || c == ')' ? '?' : (char)c);
	}
}

/* RFC 3848 "with" keywords. */
static const char *with_protocol(const struct smtp_session *s)
{
	static const char *const names[2][2][2][2] = {
		/* [utf8][esmtp][tls][auth] */
		{{{"SMTP", "SMTP"}, {"SMTP", "SMTP"}}, {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}}},
		{{{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}},
		 {{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}}},
	};
	return names[s->smtputf8][s->esmtp][conn_is_tls(s->conn)][s->auth_user != NULL];
}

static void build_message(struct smtp_session *s, const struct buf *signatures, struct buf *out)
{
	buf_reset(out);
	buf_reserve(out, s->data.len + 1024 + (signatures ? signatures->len : 0));
	buf_printf(out, "Return-Path: <%s>\r\n", buf_cstr(&s->mail_from));
	if (signatures && signatures->len)
		buf_append(out, signatures->data, signatures->len);
	buf_puts(out, "Received: from ");
	header_safe(out, s->helo ? s->helo : "unknown", 255);
	buf_printf(out, " ([%s])\r\n\tby %s (petrel) with %s id %s", conn_peer(s->conn),
		   s->ctx->cfg->hostname, with_protocol(s), s->trans_id);
	if (conn_is_tls(s->conn)) {
		const char *info = conn_tls_info(s->conn);
		const char *sp = strchr(info, ' ');
		if (sp)
			buf_printf(out, "\r\n\t(version=%.*s cipher=%s)", (int)(sp - info), info,
				   sp + 1);
	}
	if (s->auth_user)
		buf_printf(out, "\r\n\t(authenticated as %s)", s->auth_user);
	if (s->nrcpts == 1)
		buf_printf(out, "\r\n\tfor <%s>", s->rcpts[0].address);
	buf_puts(out, ";\r\n\t");
	rfc5322_date(out);
	buf_puts(out, "\r\n");
	buf_append(out, s->data.data ? s->data.data : "", s->data.len);
}

/* ---- the commit ------------------------------------------------------------------ */

static void free_op(struct store_op *op)
{
	free((void *)op->u.append.envelope);
	free((void *)op->u.append.bodystructure);
	free(op->u.append.targets);
	free((void *)op->u.append.queue);
	store_op_clear(op);
	free(op);
}

static void commit_done(struct store_op *op, void *arg)
{
	struct smtp_session *s = arg;
	s->commit_in_flight = false;
	s->op = NULL;
	if (!smtp_release(s)) {
		/* The client left before the commit finished: the message is stored
		   (or not) all the same, the client will retry if unsure. */
		free_op(op);
		return;
	}
	if (op->result == 0) {
		s->messages++;
		log_info("smtp id=%s peer=%s event=accepted trans=%s size=%zu rcpts=%zu queue_id=%lld",
			 conn_id(s->conn), conn_peer(s->conn), s->trans_id, s->message.len,
			 s->nrcpts, (long long)op->u.append.queue_id_r);
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", s->trans_id);
	} else {
		struct buf v = BUF_INIT;
		log_value(&v, op->err.data ? op->err.data : "", op->err.len);
		log_warn("smtp id=%s peer=%s event=store-failed trans=%s error=%d reason=%s",
			 conn_id(s->conn), conn_peer(s->conn), s->trans_id, (int)op->error,
			 buf_cstr(&v));
		buf_free(&v);
		if (op->error == STORE_ERR_QUOTA)
			smtp_reply(s, "552 5.2.2 Mailbox full");
		else if (op->error == STORE_ERR_TEMP)
			smtp_reply(s, "451 4.3.0 Local error in processing, try again later");
		else
			smtp_reply(s, "554 5.3.0 Message could not be stored");
	}
	free_op(op);
	buf_free(&s->message);
	smtp_transaction_reset(s);
	smtp_resume(s);
}

static bool has_local_rcpt(const struct smtp_session *s)
{
	for (size_t i = 0; i < s->nrcpts; i++)
		if (s->rcpts[i].mailbox_id)
			return true;
	return false;
}

static bool has_remote_rcpt(const struct smtp_session *s)
{
	for (size_t i = 0; i < s->nrcpts; i++)
		if (!s->rcpts[i].mailbox_id)
			return true;
	return false;
}

static void store_message(struct smtp_session *s, const struct buf *signatures);

static void signed_done(int result, const struct buf *fields, const char *reason, void *arg)
{
	struct smtp_session *s = arg;
	s->commit_in_flight = false;
	if (!smtp_release(s))
		return; /* the client left; the session is gone */
	if (result < 0) {
		struct buf v = BUF_INIT;
		log_value(&v, reason, strlen(reason));
		log_error("smtp id=%s peer=%s event=dkim-failed trans=%s reason=%s",
			  conn_id(s->conn), conn_peer(s->conn), s->trans_id, buf_cstr(&v));
		buf_free(&v);
		smtp_reply(s, "451 4.3.0 Local error in processing, try again later");
		smtp_transaction_reset(s);
		smtp_resume(s);
		return;
	}
	store_message(s, fields);
}

static void commit_message(struct smtp_session *s)
{
	if (s->svc->mode != SMTP_MODE_MX && has_remote_rcpt(s)) {
		struct buf err = BUF_INIT;
		int r = dkim_submit(s->ctx->store, s->ctx->workers, s->data.data ? s->data.data : "",
				    s->data.len, buf_cstr(&s->mail_from), signed_done, s, &err);
		if (r < 0) {
			log_warn("smtp id=%s peer=%s event=dkim-keys-failed trans=%s reason=\"%s\"",
				 conn_id(s->conn), conn_peer(s->conn), s->trans_id,
				 buf_cstr(&err));
			buf_free(&err);
			smtp_reply(s, "451 4.3.0 Local error in processing, try again later");
			smtp_transaction_reset(s);
			return;
		}
		buf_free(&err);
		if (r > 0) {
			/* Held like a commit: the reply waits for the signature. */
			s->commit_in_flight = true;
			s->pending++;
			smtp_pause(s);
			return;
		}
	}
	store_message(s, NULL);
}

static void store_message(struct smtp_session *s, const struct buf *signatures)
{
	build_message(s, signatures, &s->message);
	struct store_op *op = xcalloc(1, sizeof *op);
	store_op_init(op, STORE_OP_APPEND);
	op->u.append.data = s->message.data;
	op->u.append.len = s->message.len;
	if (has_local_rcpt(s)) {
		/* IMAP's ENVELOPE and BODYSTRUCTURE, computed once for every reader. */
		struct mime_part *root = NULL;
		struct buf env = BUF_INIT, bs = BUF_INIT;
		mime_parse(s->message.data, s->message.len, &root);
		mime_envelope(s->message.data, s->message.len, &env);
		mime_bodystructure(root, s->message.data, true, &bs);
		mime_part_free(&root);
		op->u.append.envelope = buf_steal(&env);
		op->u.append.bodystructure = buf_steal(&bs);
	}
	/* Local targets: one per distinct mailbox. */
	struct store_append_target *targets = xcalloc(s->nrcpts + 1, sizeof *targets);
	struct store_queue_rcpt *queue = xcalloc(s->nrcpts + 1, sizeof *queue);
	size_t nt = 0, nq = 0;
	for (size_t i = 0; i < s->nrcpts; i++) {
		struct smtp_rcpt *r = &s->rcpts[i];
		if (r->mailbox_id) {
			bool dup = false;
			for (size_t k = 0; k < nt && !dup; k++)
				dup = targets[k].mailbox_id == r->mailbox_id;
			if (!dup)
				targets[nt++].mailbox_id = r->mailbox_id;
		} else {
			bool dup = false;
			for (size_t k = 0; k < nq && !dup; k++)
				dup = strcmp(queue[k].rcpt, r->address) == 0;
			if (!dup)
				queue[nq++] = (struct store_queue_rcpt){r->address, r->dsn_notify,
									r->dsn_orcpt};
		}
	}
	op->u.append.targets = targets;
	op->u.append.ntargets = nt;
	op->u.append.queue = queue;
	op->u.append.nqueue = nq;
	op->u.append.env_from = buf_cstr(&s->mail_from);
	op->u.append.dsn_ret = s->dsn_ret;
	op->u.append.dsn_envid = s->dsn_envid;
	op->u.append.source = s->svc->mode == SMTP_MODE_MX ? "smtp" : "submission";
	op->u.append.account_id = s->auth_account_id;
	s->op = op;
	s->commit_in_flight = true;
	s->pending++;
	smtp_pause(s);
	store_submit(s->ctx->store, op, commit_done, s);
}
