/*
 * smtp_server — the SMTP session: framing, the state machine and its command
 * table, replies, and the hand-off to the store.
 *
 * Reading. Input is taken from the connection a line at a time (a line longer
 * than SMTP_MAX_LINE is answered 500 and skipped to its end), or, while a
 * message arrives, through the DATA reader / BDAT byte counter. Commands are
 * executed strictly in order, so PIPELINING needs nothing special: replies are
 * queued on the connection and leave together when the loop next sleeps.
 * While something asynchronous is in flight (the commit of a message, a
 * delayed AUTH failure) the session pauses reading; pipelined input waits in
 * the connection's buffer (bounded by CONN_MAX_INPUT) and is processed when
 * the session resumes.
 *
 * Ownership. The session belongs to its connection, but a store op in flight
 * holds it too: if the client vanishes meanwhile, closed() marks the session
 * orphaned and the op's completion frees it.
 */
#include "smtp/smtp.h"
#include "smtp/smtp_internal.h"

#include "auth/auth.h"
#include "store/store.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct smtp_command *find_command(enum smtp_verb verb);

/* ---- replies ------------------------------------------------------------------- */

void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	conn_write(s->conn, b.data, b.len);
	buf_free(&b);
}

/* A refusal of the client's doing: counted, and past SMTP_MAX_ERRORS the
   session ends with 421. */
void smtp_reply_error(struct smtp_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	conn_printf(s->conn, "%s\r\n", buf_cstr(&b));
	struct buf v = BUF_INIT;
	log_value(&v, b.data, b.len);
	log_info("smtp id=%s peer=%s event=refuse reply=%s", conn_id(s->conn),
		 conn_peer(s->conn), buf_cstr(&v));
	buf_free(&v);
	buf_free(&b);
	if (++s->errors >= SMTP_MAX_ERRORS) {
		smtp_reply(s, "421 4.7.0 %s Too many errors, closing connection",
			   s->ctx->cfg->hostname);
		smtp_close(s);
	}
}

void smtp_close(struct smtp_session *s)
{
	s->closing = true;
	conn_close(s->conn);
}

/* ---- transaction ---------------------------------------------------------------- */

static void rcpt_free(struct smtp_rcpt *r)
{
	free(r->address);
	free(r->dsn_notify);
	free(r->dsn_orcpt);
}

void smtp_transaction_reset(struct smtp_session *s)
{
	s->has_mail = false;
	buf_reset(&s->mail_from);
	s->mail_null = false;
	s->smtputf8 = false;
	s->body_8bit = false;
	s->declared_size = 0;
	xfree(&s->dsn_ret);
	xfree(&s->dsn_envid);
	for (size_t i = 0; i < s->nrcpts; i++)
		rcpt_free(&s->rcpts[i]);
	s->nrcpts = 0;
	s->rcpt_attempts = 0;
	buf_free(&s->data);
	s->bdat_started = false;
	s->bdat_failed = false;
	s->bdat_remaining = 0;
	s->bdat_last = false;
	random_id(s->trans_id, 6);
}

/* ---- session lifetime ------------------------------------------------------------- */

void smtp_session_free(struct smtp_session *s)
{
	smtp_transaction_reset(s);
	free(s->rcpts);
	buf_free(&s->mail_from);
	buf_free(&s->line);
	free(s->helo);
	free(s->auth_user);
	sasl_free(&s->sasl);
	smtp_cmd_free(&s->cmd);
	buf_free(&s->message);
	buf_free(&s->sasl_out);
	free(s);
}

static void smtp_open(struct conn *c)
{
	struct smtp_service *svc = conn_handler_arg(c);
	struct smtp_session *s = xcalloc(1, sizeof *s);
	s->conn = c;
	s->svc = svc;
	s->ctx = svc->ctx;
	s->state = SMTP_STATE_INIT;
	smtp_cmd_init(&s->cmd);
	random_id(s->trans_id, 6);
	conn_set_data(c, s);
	conn_set_timeout(c, (unsigned)s->ctx->cfg->command_timeout);
	log_info("smtp id=%s peer=%s event=session mode=%s tls=%s", conn_id(c), conn_peer(c),
		 svc->mode == SMTP_MODE_MX ? "mx"
		 : svc->mode == SMTP_MODE_SUBMISSION ? "submission"
						     : "submissions",
		 conn_is_tls(c) ? "yes" : "no");
	smtp_reply(s, "220 %s ESMTP petrel", s->ctx->cfg->hostname);
}

static void smtp_closed(struct conn *c)
{
	struct smtp_session *s = conn_data(c);
	if (!s)
		return;
	log_info("smtp id=%s peer=%s event=disconnect messages=%u", conn_id(c), conn_peer(c),
		 s->messages);
	if (s->pending) {
		s->orphaned = true; /* the last completion frees it */
		s->conn = NULL;
		return;
	}
	smtp_session_free(s);
}

bool smtp_release(struct smtp_session *s)
{
	s->pending--;
	if (!s->orphaned)
		return true;
	if (s->pending == 0)
		smtp_session_free(s);
	return false;
}

static void smtp_timeout(struct conn *c)
{
	struct smtp_session *s = conn_data(c);
	smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->ctx->cfg->hostname);
}

static void smtp_drain(struct conn *c)
{
	struct smtp_session *s = conn_data(c);
	if (s->commit_in_flight)
		return; /* the reply follows the commit; the drain timer waits */
	smtp_reply(s, "421 4.3.2 %s Service shutting down", s->ctx->cfg->hostname);
}

void smtp_pause(struct smtp_session *s)
{
	s->paused = true;
	conn_pause(s->conn);
}

void smtp_resume(struct smtp_session *s)
{
	s->paused = false;
	if (s->conn)
		conn_resume(s->conn);
}

/* ---- delayed replies (throttled AUTH failures) ---------------------------------------- */

void smtp_reply_later(struct smtp_session *s, int64_t delay_ms, bool then_close,
		      const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	if (then_close)
		s->closing = true;
	conn_write_later(s->conn, delay_ms, b.data, b.len, then_close);
	buf_free(&b);
}

/* ---- input ------------------------------------------------------------------------------ */

static void handle_line(struct smtp_session *s, const char *line, size_t len)
{
	if (s->state == SMTP_STATE_AUTH) {
		smtp_auth_response(s, line, len);
		return;
	}
	struct buf why = BUF_INIT;
	enum smtp_parse_status st = smtp_parse_command(line, len, &s->cmd, &why);
	if (st != SMTP_PARSE_OK && s->cmd.verb == SMTP_VERB_BDAT) {
		/* Without a valid size the chunk's end is unknown: no way to go on. */
		smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		smtp_close(s);
		buf_free(&why);
		return;
	}
	const char *reason = why.len ? buf_cstr(&why) : "Syntax error";
	switch (st) {
	case SMTP_PARSE_OK: {
		const struct smtp_command *cmd = find_command(s->cmd.verb);
		if (!cmd) {
			smtp_reply_error(s, "502 5.5.1 Command not implemented");
		} else if (cmd->check(s) == 0) {
			cmd->proceed(s);
		}
		break;
	}
	case SMTP_PARSE_UNKNOWN:
		smtp_reply_error(s, "500 5.5.1 Command unrecognized");
		break;
	case SMTP_PARSE_TOO_MANY:
		smtp_reply_error(s, "555 5.5.4 Too many parameters");
		break;
	case SMTP_PARSE_BAD_ADDRESS:
		smtp_reply_error(s, "501 %s Bad address syntax: %s",
				 s->cmd.verb == SMTP_VERB_MAIL ? "5.1.7" : "5.1.3", reason);
		break;
	case SMTP_PARSE_TOO_LONG:
		smtp_reply_error(s, "501 5.5.4 %s", why.len ? reason : "Argument too long");
		break;
	case SMTP_PARSE_SYNTAX:
	default:
		smtp_reply_error(s, "501 5.5.4 %s", reason);
		break;
	}
	buf_free(&why);
}

/* Takes DATA bytes; returns false when it needs more input. */
static bool read_data(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v[8];
	int n = evbuffer_peek(in, -1, NULL, v, 8);
	if (n <= 0)
		return false;
	size_t total = 0;
	bool done = false;
	for (int i = 0; i < n && i < 8 && !done; i++) {
		size_t used = 0;
		done = smtp_data_feed(&s->reader, v[i].iov_base, v[i].iov_len, &used, &s->data) ==
		       SMTP_DATA_DONE;
		total += used;
	}
	evbuffer_drain(in, total);
	if (done)
		smtp_data_finished(s);
	return done || evbuffer_get_length(in) > 0;
}

/* Takes BDAT chunk bytes; returns false when it needs more input. */
static bool read_bdat(struct smtp_session *s, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	if (avail == 0)
		return false;
	size_t take = avail < s->bdat_remaining ? avail : (size_t)s->bdat_remaining;
	uint64_t max = s->ctx->cfg->max_message_size;
	if (!s->bdat_failed && s->data.len + take <= max) {
		buf_reserve(&s->data, take);
		evbuffer_remove(in, s->data.data + s->data.len, take);
		s->data.len += take;
		s->data.data[s->data.len] = '\0';
	} else {
		if (!s->bdat_failed && s->data.len + take > max)
			s->bdat_too_big = true;
		evbuffer_drain(in, take);
	}
	s->bdat_remaining -= take;
	if (s->bdat_remaining == 0)
		smtp_bdat_chunk_done(s);
	return true;
}

static void smtp_read(struct conn *c)
{
	struct smtp_session *s = conn_data(c);
	while (!s->paused && !s->closing && conn_reading(c)) {
		/* Fetched each time: STARTTLS replaces the connection's buffers. */
		struct evbuffer *in = conn_input(c);
		if (s->state == SMTP_STATE_DATA) {
			if (!read_data(s, in))
				break;
			continue;
		}
		if (s->bdat_remaining > 0) {
			if (!read_bdat(s, in))
				break;
			continue;
		}
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		size_t eol_len = 0;
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (avail > SMTP_MAX_LINE + 1) {
				/* Keep no more than a line's worth: skip to its end. */
				evbuffer_drain(in, avail);
				s->skipping_line = true;
			}
			break;
		}
		size_t linelen = (size_t)eol.pos;
		if (s->skipping_line || linelen > SMTP_MAX_LINE + 1) {
			evbuffer_drain(in, linelen + eol_len);
			s->skipping_line = false;
			smtp_reply_error(s, "500 5.5.2 Line too long");
			continue;
		}
		buf_reset(&s->line);
		buf_reserve(&s->line, linelen + 1);
		evbuffer_remove(in, s->line.data, linelen);
		evbuffer_drain(in, eol_len);
		if (linelen > 0 && s->line.data[linelen - 1] == '\r')
			linelen--;
		s->line.len = linelen;
		s->line.data[linelen] = '\0';
		if (linelen > SMTP_MAX_LINE) {
			smtp_reply_error(s, "500 5.5.2 Line too long");
			continue;
		}
		handle_line(s, s->line.data, linelen);
	}
}

/* ---- the command table ---------------------------------------------------------------- */

static const struct smtp_command commands[] = {
	{SMTP_VERB_HELO, "HELO", smtp_check_helo, smtp_proceed_helo},
	{SMTP_VERB_EHLO, "EHLO", smtp_check_helo, smtp_proceed_ehlo},
	{SMTP_VERB_MAIL, "MAIL", smtp_check_mail, smtp_proceed_mail},
	{SMTP_VERB_RCPT, "RCPT", smtp_check_rcpt, smtp_proceed_rcpt},
	{SMTP_VERB_DATA, "DATA", smtp_check_data, smtp_proceed_data},
	{SMTP_VERB_BDAT, "BDAT", smtp_check_bdat, smtp_proceed_bdat},
	{SMTP_VERB_RSET, "RSET", smtp_check_any, smtp_proceed_rset},
	{SMTP_VERB_NOOP, "NOOP", smtp_check_any, smtp_proceed_noop},
	{SMTP_VERB_QUIT, "QUIT", smtp_check_any, smtp_proceed_quit},
	{SMTP_VERB_VRFY, "VRFY", smtp_check_any, smtp_proceed_vrfy},
	{SMTP_VERB_EXPN, "EXPN", smtp_check_any, smtp_proceed_expn},
	{SMTP_VERB_HELP, "HELP", smtp_check_any, smtp_proceed_help},
	{SMTP_VERB_STARTTLS, "STARTTLS", smtp_check_starttls, smtp_proceed_starttls},
	{SMTP_VERB_AUTH, "AUTH", smtp_check_auth, smtp_proceed_auth},
};

static const struct smtp_command *find_command(enum smtp_verb verb)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].verb == verb)
			return &commands[i];
	return NULL;
}

const struct conn_handler smtp_conn_handler = {
	.proto = "smtp",
	.open = smtp_open,
	.read = smtp_read,
	.closed = smtp_closed,
	.timeout = smtp_timeout,
	.drain = smtp_drain,
	.busy_reply = "421 4.7.0 Too many connections, try again later\r\n",
};
