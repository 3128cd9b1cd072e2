/*
 * smtp_cmd_session — the commands that manage the session rather than a
 * message: HELO, EHLO, RSET, NOOP, QUIT, VRFY, EXPN, HELP, STARTTLS.
 */
#include "smtp/smtp.h"
#include "smtp/smtp_internal.h"

#include <stdlib.h>
#include <string.h>

int smtp_check_any(struct smtp_session *s)
{
	return 0;
}

int smtp_check_helo(struct smtp_session *s)
{
	if (s->cmd.arg.len == 0) {
		smtp_reply_error(s, "501 5.5.4 Syntax: %s hostname",
				 s->cmd.verb == SMTP_VERB_EHLO ? "EHLO" : "HELO");
		return -1;
	}
	return 0;
}

/* HELO/EHLO also reset any transaction (RFC 5321 4.1.4). */
static void greet(struct smtp_session *s, bool esmtp)
{
	smtp_transaction_reset(s);
	free(s->helo);
	s->helo = str_dup(s->cmd.arg);
	s->esmtp = esmtp;
	s->state = SMTP_STATE_READY;
}

void smtp_proceed_helo(struct smtp_session *s)
{
	greet(s, false);
	smtp_reply(s, "250 %s", s->ctx->cfg->hostname);
}

static bool starttls_offered(const struct smtp_session *s)
{
	return s->ctx->tls_available && !conn_is_tls(s->conn) &&
	       s->svc->mode != SMTP_MODE_SUBMISSIONS;
}

void smtp_proceed_ehlo(struct smtp_session *s)
{
	greet(s, true);
	const struct config *cfg = s->ctx->cfg;
	smtp_reply(s, "250-%s Hello %.*s [%s]", cfg->hostname, (int)s->cmd.arg.len, s->cmd.arg.p,
		   conn_peer(s->conn));
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %llu", (unsigned long long)cfg->max_message_size);
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250-CHUNKING");
	smtp_reply(s, "250-DSN");
	if (starttls_offered(s))
		smtp_reply(s, "250-STARTTLS");
	if (smtp_auth_offered(s))
		smtp_reply(s, "250-AUTH PLAIN LOGIN SCRAM-SHA-256");
	smtp_reply(s, "250 ENHANCEDSTATUSCODES");
}

void smtp_proceed_rset(struct smtp_session *s)
{
	smtp_transaction_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

void smtp_proceed_noop(struct smtp_session *s)
{
	smtp_reply(s, "250 2.0.0 Ok");
}

void smtp_proceed_quit(struct smtp_session *s)
{
	smtp_reply(s, "221 2.0.0 %s Bye", s->ctx->cfg->hostname);
	smtp_close(s);
}

/* Never reveals whether an account exists (RFC 5321 3.5.3 allows 252). */
void smtp_proceed_vrfy(struct smtp_session *s)
{
	if (s->cmd.arg.len == 0) {
		smtp_reply_error(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

void smtp_proceed_expn(struct smtp_session *s)
{
	smtp_reply(s, "502 5.5.1 EXPN is not available");
}

void smtp_proceed_help(struct smtp_session *s)
{
	smtp_reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP%s%s",
		   starttls_offered(s) ? " STARTTLS" : "", smtp_auth_offered(s) ? " AUTH" : "");
	smtp_reply(s, "214 2.0.0 See RFC 5321");
}

int smtp_check_starttls(struct smtp_session *s)
{
	if (s->cmd.arg.len) {
		smtp_reply_error(s, "501 5.5.4 Syntax: STARTTLS");
		return -1;
	}
	if (conn_is_tls(s->conn)) {
		smtp_reply_error(s, "503 5.5.1 TLS already active");
		return -1;
	}
	if (!starttls_offered(s)) {
		smtp_reply_error(s, "502 5.5.1 STARTTLS not available");
		return -1;
	}
	if (s->state == SMTP_STATE_INIT) {
		smtp_reply_error(s, "503 5.5.1 Send EHLO first");
		return -1;
	}
	return 0;
}

void smtp_proceed_starttls(struct smtp_session *s)
{
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	/* Everything about the plain-text session is forgotten (RFC 3207 4.2),
	   and whatever the client pipelined after STARTTLS is discarded. */
	smtp_transaction_reset(s);
	xfree(&s->helo);
	s->state = SMTP_STATE_INIT;
	s->esmtp = false;
	if (conn_starttls(s->conn) < 0) {
		smtp_reply(s, "454 4.7.0 TLS not available due to temporary reason");
		return;
	}
	/* Stop reading this (plain) input: it was discarded. */
	s->skipping_line = false;
}
