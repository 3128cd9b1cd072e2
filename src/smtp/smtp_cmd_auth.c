/*
 * smtp_cmd_auth — AUTH (RFC 4954) with PLAIN, LOGIN and SCRAM-SHA-256.
 *
 * Offered only on the submission ports and only under TLS. The SASL machines
 * (auth/) do the mechanism; this file carries their bytes in base64 over
 * "334" continuations, looks up accounts in the store, and applies the login
 * throttle: a failure is answered only after the throttle's delay (reading is
 * paused meanwhile), and after SMTP_MAX_AUTH_FAILURES the session ends.
 * Passwords and SASL payloads are never logged.
 */
#include "smtp/smtp.h"
#include "smtp/smtp_internal.h"

#include "auth/auth.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

bool smtp_auth_offered(const struct smtp_session *s)
{
	return s->svc->mode != SMTP_MODE_MX && conn_is_tls(s->conn) && !s->auth_user;
}

int smtp_check_auth(struct smtp_session *s)
{
	if (s->svc->mode == SMTP_MODE_MX) {
		smtp_reply_error(s, "503 5.5.1 AUTH not available on this port");
		return -1;
	}
	if (!conn_is_tls(s->conn)) {
		smtp_reply_error(s, "538 5.7.11 Encryption required for requested authentication "
				    "mechanism");
		return -1;
	}
	if (s->state == SMTP_STATE_INIT) {
		smtp_reply_error(s, "503 5.5.1 Send EHLO first");
		return -1;
	}
	if (s->auth_user) {
		smtp_reply_error(s, "503 5.5.1 Already authenticated");
		return -1;
	}
	if (s->has_mail) {
		smtp_reply_error(s, "503 5.5.1 AUTH not allowed during a mail transaction");
		return -1;
	}
	return 0;
}

static void auth_end(struct smtp_session *s)
{
	sasl_free(&s->sasl);
	s->auth_final_pending = false;
	s->state = SMTP_STATE_READY;
}

static void auth_failed(struct smtp_session *s, const char *why)
{
	const char *peer = conn_peer(s->conn);
	char *user = xstrdup(s->sasl ? sasl_authcid(s->sasl) : "");
	struct buf v = BUF_INIT;
	log_value(&v, user, strlen(user));
	log_info("smtp id=%s peer=%s event=auth result=fail user=%s reason=\"%s\"",
		 conn_id(s->conn), peer, buf_cstr(&v), why);
	buf_free(&v);
	int64_t delay = auth_login_failed(s->ctx->throttle, peer, user);
	free(user);
	auth_end(s);
	if (++s->auth_failures >= SMTP_MAX_AUTH_FAILURES)
		smtp_reply_later(s, delay, true, "421 4.7.0 %s Too many authentication failures",
				 s->ctx->cfg->hostname);
	else
		smtp_reply_later(s, delay, false, "535 5.7.8 Authentication credentials invalid");
}

/* The account was found when the credentials were looked up; the address is
   the authentication identity in its stored (normalised) form. */
static void auth_succeeded(struct smtp_session *s)
{
	struct buf addr = BUF_INIT, err = BUF_INIT;
	if (store_address_normalize(sasl_authcid(s->sasl), false, &addr, &err) < 0)
		buf_puts(&addr, sasl_authcid(s->sasl));
	log_info("smtp id=%s peer=%s event=auth result=ok user=%s", conn_id(s->conn),
		 conn_peer(s->conn), buf_cstr(&addr));
	auth_login_succeeded(s->ctx->throttle, conn_peer(s->conn), buf_cstr(&addr));
	free(s->auth_user);
	s->auth_user = buf_steal(&addr);
	auth_end(s);
	buf_free(&err);
	smtp_reply(s, "235 2.7.0 Authentication successful");
}

static void send_challenge(struct smtp_session *s, const struct buf *out)
{
	struct buf b = BUF_INIT;
	base64_encode(&b, out->data ? out->data : "", out->len);
	smtp_reply(s, "334 %s", buf_cstr(&b));
	buf_free(&b);
	s->state = SMTP_STATE_AUTH;
}

/* The machine (with the store's answers, the password checked on a worker
   thread) has run until it needs the client or is finished. */
static void auth_ran(enum sasl_status st, bool temp, void *arg)
{
	struct smtp_session *s = arg;
	if (!smtp_release(s))
		return; /* the client left; the session is gone */
	smtp_resume(s);
	struct buf *out = &s->sasl_out;
	switch (st) {
	case SASL_CONTINUE:
		send_challenge(s, out);
		break;
	case SASL_OK:
		if (out->len) {
			/* SCRAM server-final: one more round before 235. */
			s->auth_final_pending = true;
			send_challenge(s, out);
			break;
		}
		auth_succeeded(s);
		break;
	default:
		if (temp) {
			auth_end(s);
			smtp_reply(s, "454 4.7.0 Temporary authentication failure");
			break;
		}
		auth_failed(s, s->sasl ? sasl_error(s->sasl) : "failed");
		break;
	}
	buf_reset(out);
}

static void auth_run(struct smtp_session *s, enum sasl_status st)
{
	s->pending++; /* keeps the session alive across the worker's job */
	smtp_pause(s);
	auth_sasl_run_async(s->ctx->workers, s->sasl, st, s->ctx->store, &s->sasl_out,
			    &s->auth_account_id, auth_ran, s);
}

void smtp_proceed_auth(struct smtp_session *s)
{
	struct str arg = s->cmd.arg;
	const char *sp = memchr(arg.p, ' ', arg.len);
	size_t mlen = sp ? (size_t)(sp - arg.p) : arg.len;
	enum sasl_mech mech;
	if (mlen == 0 || sasl_mech_parse(arg.p, mlen, &mech) < 0) {
		smtp_reply_error(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	s->sasl = sasl_new(mech);
	struct buf *out = &s->sasl_out, in = BUF_INIT;
	enum sasl_status st;
	buf_reset(out);
	if (sp) {
		struct str ir = {sp + 1, arg.len - mlen - 1};
		if (ir.len == 1 && ir.p[0] == '=') {
			st = sasl_step(s->sasl, (const uint8_t *)"", 0, true, out);
		} else if (base64_decode(&in, ir.p, ir.len) < 0) {
			auth_end(s);
			smtp_reply_error(s, "501 5.5.2 Cannot decode the initial response");
			goto out;
		} else {
			st = sasl_step(s->sasl, (const uint8_t *)buf_cstr(&in), in.len, true, out);
		}
	} else {
		st = sasl_step(s->sasl, NULL, 0, false, out);
	}
	auth_run(s, st);
out:
	buf_free(&in);
}

void smtp_auth_response(struct smtp_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		auth_end(s);
		smtp_reply_error(s, "501 5.0.0 Authentication cancelled");
		return;
	}
	struct buf in = BUF_INIT;
	if (base64_decode(&in, line, len) < 0) {
		auth_end(s);
		smtp_reply_error(s, "501 5.5.2 Cannot decode the response");
		goto out;
	}
	if (s->auth_final_pending) {
		/* The client's answer to the SCRAM server-final must be empty. */
		if (in.len != 0) {
			auth_failed(s, "non-empty final response");
			goto out;
		}
		auth_succeeded(s);
		goto out;
	}
	buf_reset(&s->sasl_out);
	enum sasl_status st =
		sasl_step(s->sasl, (const uint8_t *)buf_cstr(&in), in.len, true, &s->sasl_out);
	auth_run(s, st);
out:
	buf_free(&in);
}
