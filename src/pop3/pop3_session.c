/*
 * pop3_session — the POP3 session: framing, the state machine and its command
 * table, replies, the maildrop lock, and the hand-off to the store.
 *
 * Reading. Input is taken from the connection a line at a time through the
 * pure line reader (pop3_parse.c): at most POP3_MAX_LINE octets for a command,
 * POP3_MAX_SASL_LINE for a line answering an AUTH challenge; an over-long line
 * is answered -ERR once, at its end. Commands run strictly in order, so
 * PIPELINING (RFC 2449) needs nothing special: replies are queued on the
 * connection and leave together when the loop next sleeps.
 *
 * Pausing. Reading stops while the session waits: for a throttled login
 * reply, for QUIT's expunge, or for its own output to drain (a client that
 * pipelines RETRs without reading would otherwise make the server buffer the
 * whole maildrop: above POP3_MAX_OUTPUT unsent octets the session polls until
 * half of it has gone). Pipelined input waits in the connection's buffer,
 * bounded by CONN_MAX_INPUT.
 *
 * Ownership. The session belongs to its connection, but every store op in
 * flight (the \Seen marks of retrieved messages, QUIT's expunge) holds it too:
 * when the client vanishes, closed() releases the maildrop lock at once,
 * hands the last \Seen marks to the store, and leaves the session orphaned
 * for the last completion to free.
 */
#include "pop3/pop3.h"
#include "pop3/pop3_internal.h"

#include "auth/auth.h"
#include "store/store.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OUTPUT_POLL_MS 10

static const struct pop3_command *find_command(enum pop3_verb verb);

/* ---- replies ------------------------------------------------------------------- */

void pop3_write(struct pop3_session *s, const void *p, size_t n)
{
	if (s->conn)
		conn_write(s->conn, p, n);
}

void pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	pop3_write(s, b.data, b.len);
	buf_free(&b);
}

/* A refusal of the client's doing: "-ERR text", counted; the one that reaches
   POP3_MAX_ERRORS also ends the session. */
void pop3_reply_err(struct pop3_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	struct buf v = BUF_INIT;
	log_value(&v, b.data, b.len);
	log_info("pop3 id=%s peer=%s event=refuse reply=%s", conn_id(s->conn), conn_peer(s->conn),
	         buf_cstr(&v));
	buf_free(&v);
	if (++s->errors >= POP3_MAX_ERRORS) {
		pop3_reply(s, "-ERR %s; too many errors, closing connection", buf_cstr(&b));
		pop3_close(s);
	} else {
		pop3_reply(s, "-ERR %s", buf_cstr(&b));
	}
	buf_free(&b);
}

void pop3_close(struct pop3_session *s)
{
	s->closing = true;
	if (s->conn)
		conn_close(s->conn);
}

void pop3_pause(struct pop3_session *s)
{
	s->paused = true;
	if (s->conn)
		conn_pause(s->conn);
}

void pop3_resume(struct pop3_session *s)
{
	s->paused = false;
	if (s->conn)
		conn_resume(s->conn);
}

/* ---- delayed replies (throttled logins) --------------------------------------------- */

void pop3_reply_later(struct pop3_session *s, int64_t delay_ms, bool then_close, const char *fmt,
		      ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	if (then_close)
		s->closing = true;
	if (s->conn)
		conn_write_later(s->conn, delay_ms, b.data, b.len, then_close);
	buf_free(&b);
}

/* ---- output backpressure --------------------------------------------------------------- */

static void output_poll(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_session *s = arg;
	if (!s->conn)
		return;
	if (conn_output_pending(s->conn) > POP3_MAX_OUTPUT / 2) {
		struct timeval tv = {0, OUTPUT_POLL_MS * 1000};
		event_add(s->output_ev, &tv);
		return;
	}
	pop3_resume(s);
}

static void output_check(struct pop3_session *s)
{
	if (s->paused || s->closing || !s->conn || conn_output_pending(s->conn) <= POP3_MAX_OUTPUT)
		return;
	log_debug("pop3 id=%s event=output-wait pending=%zu", conn_id(s->conn),
	          conn_output_pending(s->conn));
	if (!s->output_ev)
		s->output_ev = event_new(s->ctx->base, -1, 0, output_poll, s);
	pop3_pause(s);
	struct timeval tv = {0, OUTPUT_POLL_MS * 1000};
	event_add(s->output_ev, &tv);
}

/* ---- store ops and the maildrop lock ----------------------------------------------------- */

void pop3_submit(struct pop3_session *s, struct store_op *op,
                 void (*done)(struct store_op *op, void *arg))
{
	s->ops_in_flight++;
	store_submit(s->ctx->store, op, done, s);
}

bool pop3_op_finished(struct pop3_session *s)
{
	s->ops_in_flight--;
	if (!s->orphaned)
		return true;
	if (s->ops_in_flight == 0)
		pop3_session_free(s);
	return false;
}

bool pop3_lock_acquire(struct pop3_session *s, int64_t account_id)
{
	struct pop3_context *ctx = s->ctx;
	for (size_t i = 0; i < ctx->nactive; i++)
		if (ctx->active_accounts[i] == account_id)
			return false;
	if (ctx->nactive == ctx->active_cap) {
		ctx->active_cap = ctx->active_cap ? 2 * ctx->active_cap : 16;
		ctx->active_accounts =
		        xrealloc(ctx->active_accounts, ctx->active_cap * sizeof(int64_t));
	}
	ctx->active_accounts[ctx->nactive++] = account_id;
	s->account_id = account_id;
	s->holds_lock = true;
	return true;
}

void pop3_lock_release(struct pop3_session *s)
{
	if (!s->holds_lock)
		return;
	struct pop3_context *ctx = s->ctx;
	for (size_t i = 0; i < ctx->nactive; i++) {
		if (ctx->active_accounts[i] != s->account_id)
			continue;
		ctx->active_accounts[i] = ctx->active_accounts[--ctx->nactive];
		break;
	}
	if (ctx->nactive == 0) {
		xfree(&ctx->active_accounts);
		ctx->active_cap = 0;
	}
	s->holds_lock = false;
}

/* ---- session lifetime ------------------------------------------------------------------- */

void pop3_session_free(struct pop3_session *s)
{
	pop3_lock_release(s);
	pop3_line_free(&s->reader);
	free(s->user);
	sasl_free(&s->sasl);
	buf_free(&s->sasl_out);
	if (s->output_ev)
		event_free(s->output_ev);
	free(s->login);
	free(s->msgs);
	free(s->seen_pending);
	free(s);
}

static void pop3_open(struct conn *c)
{
	struct pop3_service *svc = conn_handler_arg(c);
	struct pop3_session *s = xcalloc(1, sizeof *s);
	s->conn = c;
	s->svc = svc;
	s->ctx = svc->ctx;
	s->state = POP3_STATE_AUTHORIZATION;
	pop3_line_init(&s->reader, POP3_MAX_LINE);
	conn_set_data(c, s);
	log_info("pop3 id=%s peer=%s event=session tls=%s", conn_id(c), conn_peer(c),
	         conn_is_tls(c) ? "yes" : "no");
	/* No APOP timestamp: APOP is not offered (see pop3_cmd_auth.c). */
	pop3_reply(s, "+OK %s POP3 petrel ready", s->ctx->cfg->hostname);
}

static void pop3_closed(struct conn *c)
{
	struct pop3_session *s = conn_data(c);
	if (!s)
		return;
	log_info("pop3 id=%s peer=%s event=disconnect user=%s retrieved=%u state=%s", conn_id(c),
	         conn_peer(c), s->login ? s->login : "-", s->retrieved,
	         s->state == POP3_STATE_UPDATE        ? "update"
	         : s->state == POP3_STATE_TRANSACTION ? "transaction"
	                                              : "authorization");
	s->conn = NULL;
	/* The next session may start at once — unless QUIT's expunge is on its
	   way: then the maildrop stays locked until it is done. Marks without
	   a QUIT are forgotten. */
	if (s->state != POP3_STATE_UPDATE)
		pop3_lock_release(s);
	if (s->output_ev)
		event_del(s->output_ev);
	/* What was sent stays \Seen, even though the client left. */
	pop3_seen_flush(s);
	if (s->ops_in_flight) {
		s->orphaned = true; /* the last completion frees it */
		return;
	}
	pop3_session_free(s);
}

static void pop3_timeout(struct conn *c)
{
	struct pop3_session *s = conn_data(c);
	pop3_reply(s, "-ERR Idle for too long, closing connection");
}

static void pop3_drain(struct conn *c)
{
	struct pop3_session *s = conn_data(c);
	if (s->state == POP3_STATE_UPDATE)
		return; /* QUIT's answer follows its commit */
	pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down, try again later");
}

/* ---- input ------------------------------------------------------------------------------ */

static void handle_line(struct pop3_session *s, const char *line, size_t len)
{
	if (s->state == POP3_STATE_SASL) {
		pop3_auth_response(s, line, len);
		return;
	}
	struct buf why = BUF_INIT;
	enum pop3_parse_status st = pop3_parse_command(line, len, &s->cmd, &why);
	log_debug("pop3 id=%s event=command verb=%s status=%d", conn_id(s->conn),
	          st == POP3_PARSE_UNKNOWN ? "?" : pop3_verb_name(s->cmd.verb), (int)st);
	if (st == POP3_PARSE_UNKNOWN) {
		pop3_reply_err(s, "Unknown command");
	} else if (st != POP3_PARSE_OK) {
		pop3_reply_err(s, "%s: %s", pop3_verb_name(s->cmd.verb), buf_cstr(&why));
	} else {
		const struct pop3_command *cmd = find_command(s->cmd.verb);
		const char *name = pop3_verb_name(s->cmd.verb);
		if (!(cmd->states & POP3_IN(s->state))) {
			if (s->state == POP3_STATE_AUTHORIZATION)
				pop3_reply_err(s, "%s is only valid after login", name);
			else
				pop3_reply_err(s, "%s is only valid before login", name);
		} else if (cmd->check(s) == 0) {
			cmd->proceed(s);
		}
	}
	buf_free(&why);
}

static void pop3_read(struct conn *c)
{
	struct pop3_session *s = conn_data(c);
	while (!s->paused && !s->closing && conn_reading(c)) {
		/* Fetched each time: STLS replaces the connection's buffers. */
		struct evbuffer *in = conn_input(c);
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		s->reader.max = s->state == POP3_STATE_SASL ? POP3_MAX_SASL_LINE : POP3_MAX_LINE;
		size_t used = 0;
		enum pop3_line_status st = pop3_line_feed(&s->reader, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (st == POP3_LINE_MORE)
			continue;
		if (st == POP3_LINE_TOO_LONG) {
			if (s->state == POP3_STATE_SASL) {
				/* The exchange cannot go on without that line. */
				sasl_free(&s->sasl);
				s->sasl_final_pending = false;
				s->state = POP3_STATE_AUTHORIZATION;
			}
			pop3_reply_err(s, "Line too long");
		} else {
			handle_line(s, s->reader.line.data, s->reader.line.len);
		}
		output_check(s);
	}
}

/* ---- the command table ---------------------------------------------------------------- */

#define AUTHZ POP3_IN(POP3_STATE_AUTHORIZATION)
#define TRANS POP3_IN(POP3_STATE_TRANSACTION)

static const struct pop3_command commands[] = {
        {POP3_VERB_USER, AUTHZ, pop3_check_user, pop3_proceed_user},
        {POP3_VERB_PASS, AUTHZ, pop3_check_pass, pop3_proceed_pass},
        {POP3_VERB_APOP, AUTHZ, pop3_check_any, pop3_proceed_apop},
        {POP3_VERB_AUTH, AUTHZ, pop3_check_auth, pop3_proceed_auth},
        {POP3_VERB_CAPA, AUTHZ | TRANS, pop3_check_any, pop3_proceed_capa},
        {POP3_VERB_STLS, AUTHZ, pop3_check_stls, pop3_proceed_stls},
        {POP3_VERB_QUIT, AUTHZ | TRANS, pop3_check_any, pop3_proceed_quit},
        {POP3_VERB_STAT, TRANS, pop3_check_any, pop3_proceed_stat},
        {POP3_VERB_LIST, TRANS, pop3_check_opt_msg, pop3_proceed_list},
        {POP3_VERB_RETR, TRANS, pop3_check_msg, pop3_proceed_retr},
        {POP3_VERB_DELE, TRANS, pop3_check_msg, pop3_proceed_dele},
        {POP3_VERB_NOOP, TRANS, pop3_check_any, pop3_proceed_noop},
        {POP3_VERB_RSET, TRANS, pop3_check_any, pop3_proceed_rset},
        {POP3_VERB_TOP, TRANS, pop3_check_msg, pop3_proceed_top},
        {POP3_VERB_UIDL, TRANS, pop3_check_opt_msg, pop3_proceed_uidl},
};

static const struct pop3_command *find_command(enum pop3_verb verb)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].verb == verb)
			return &commands[i];
	panic("pop3: verb %d parsed but not in the command table", (int)verb);
}

const struct conn_handler pop3_conn_handler = {
        .proto = "pop3",
        .open = pop3_open,
        .read = pop3_read,
        .closed = pop3_closed,
        .timeout = pop3_timeout,
        .drain = pop3_drain,
        .busy_reply = "-ERR [SYS/TEMP] Too many connections, try again later\r\n",
};
