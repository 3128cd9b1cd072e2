/*
 * imap_cmd_auth — commands of any state and of the not-authenticated state:
 * CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE (SASL-IR), ID,
 * ENABLE, NAMESPACE.
 *
 * Plain-text logins (LOGIN, AUTHENTICATE) are refused before TLS unless the
 * client is on loopback: LOGINDISABLED is advertised then. Failed logins go
 * through the login throttle: the NO is sent only after its delay.
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "auth/auth.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static bool plaintext_ok(const struct imap_session *s)
{
	return conn_is_tls(s->conn) || conn_is_loopback(s->conn) ||
	       s->ctx->cfg->imap_allow_plaintext;
}

void imap_capabilities(struct imap_session *s, struct buf *out)
{
	buf_puts(out, "IMAP4rev1 LITERAL+ SASL-IR ENABLE IDLE NAMESPACE ID UIDPLUS MOVE UNSELECT "
		      "CHILDREN SPECIAL-USE");
	if (s->state == IMAP_STATE_NOAUTH) {
		if (s->ctx->tls_available && !conn_is_tls(s->conn) && !s->svc->implicit_tls)
			buf_puts(out, " STARTTLS");
		if (plaintext_ok(s))
			buf_puts(out, " AUTH=PLAIN AUTH=LOGIN AUTH=SCRAM-SHA-256");
		else
			buf_puts(out, " LOGINDISABLED");
	}
}

void imap_cmd_capability(struct imap_session *s)
{
	if (s->cmd.nargs) {
		imap_bad(s, "CAPABILITY takes no arguments");
		return;
	}
	struct buf caps = BUF_INIT;
	imap_capabilities(s, &caps);
	imap_reply(s, "* CAPABILITY %s", buf_cstr(&caps));
	buf_free(&caps);
	imap_tagged(s, "OK", "CAPABILITY completed");
}

void imap_cmd_noop(struct imap_session *s)
{
	if (s->cmd.nargs) {
		imap_bad(s, "NOOP takes no arguments");
		return;
	}
	imap_sync(s, true);
	imap_tagged(s, "OK", "NOOP completed");
}

void imap_cmd_logout(struct imap_session *s)
{
	imap_reply(s, "* BYE Logging out");
	imap_tagged(s, "OK", "LOGOUT completed");
	imap_close(s);
}

void imap_cmd_starttls(struct imap_session *s)
{
	if (conn_is_tls(s->conn) || !s->ctx->tls_available) {
		imap_bad(s, "STARTTLS not available");
		return;
	}
	imap_tagged(s, "OK", "Begin TLS negotiation now");
	if (conn_starttls(s->conn) < 0) {
		imap_reply(s, "* BYE TLS not available");
		imap_close(s);
	}
	/* Anything the client pipelined after STARTTLS was discarded. */
	buf_reset(&s->cmdbuf);
}

/* ---- logging in -------------------------------------------------------------------- */

static void login_ok(struct imap_session *s, const struct store_account *a)
{
	log_info("imap id=%s peer=%s event=login result=ok user=%s", conn_id(s->conn),
		 conn_peer(s->conn), a->address);
	auth_throttle_success(s->ctx->throttle, conn_peer(s->conn), a->address, time_mono_ms());
	free(s->user);
	s->user = xstrdup(a->address);
	s->account_id = a->id;
	s->state = IMAP_STATE_AUTH;
	struct buf caps = BUF_INIT;
	imap_capabilities(s, &caps);
	imap_tagged(s, "OK", "[CAPABILITY %s] Logged in", buf_cstr(&caps));
	buf_free(&caps);
}

static void login_failed(struct imap_session *s, const char *user, const char *why)
{
	struct buf v = BUF_INIT;
	log_value(&v, user, strlen(user));
	log_info("imap id=%s peer=%s event=login result=fail user=%s reason=\"%s\"",
		 conn_id(s->conn), conn_peer(s->conn), buf_cstr(&v), why);
	buf_free(&v);
	int64_t now = time_mono_ms();
	auth_throttle_failure(s->ctx->throttle, conn_peer(s->conn), *user ? user : NULL, now);
	int64_t delay = auth_throttle_delay(s->ctx->throttle, conn_peer(s->conn),
					    *user ? user : NULL, now);
	if (delay < 250)
		delay = 250;
	bool last = ++s->auth_failures >= IMAP_MAX_AUTH_FAILURES;
	if (last)
		imap_reply_later(s, delay, true, "%s NO [AUTHENTICATIONFAILED] Authentication "
						 "failed\r\n* BYE Too many failures",
				 s->tag ? s->tag : "*");
	else
		imap_reply_later(s, delay, false,
				 "%s NO [AUTHENTICATIONFAILED] Authentication failed",
				 s->tag ? s->tag : "*");
}

void imap_cmd_login(struct imap_session *s)
{
	if (s->cmd.nargs != 2 || !imap_arg_is_string(&s->cmd.args[0]) ||
	    !imap_arg_is_string(&s->cmd.args[1])) {
		imap_bad(s, "Syntax: LOGIN user password");
		return;
	}
	if (!plaintext_ok(s)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] LOGIN is disabled before STARTTLS");
		return;
	}
	char *user = str_dup(s->cmd.args[0].value);
	char *password = str_dup(s->cmd.args[1].value);
	struct store_account a = {0};
	struct buf err = BUF_INIT;
	enum store_lookup l = store_account_get(s->ctx->store, user, &a, &err);
	if (l == STORE_ERROR) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
	} else if (l == STORE_FOUND && a.password_hash[0] &&
		   auth_password_verify(password, a.password_hash)) {
		login_ok(s, &a);
	} else {
		login_failed(s, user, l == STORE_FOUND ? "bad password" : "no account");
	}
	memset(password, 0, strlen(password));
	free(password);
	free(user);
	store_account_clear(&a);
	buf_free(&err);
}

/* ---- AUTHENTICATE --------------------------------------------------------------------- */

static void auth_end(struct imap_session *s)
{
	sasl_free(&s->sasl);
	s->auth_final_pending = false;
}

static void sasl_challenge(struct imap_session *s, const struct buf *out)
{
	struct buf b = BUF_INIT;
	base64_encode(&b, out->data ? out->data : "", out->len);
	imap_reply(s, "+ %s", buf_cstr(&b));
	buf_free(&b);
}

static void sasl_succeeded(struct imap_session *s)
{
	struct store_account a = {0};
	struct buf err = BUF_INIT;
	if (store_account_get(s->ctx->store, sasl_authcid(s->sasl), &a, &err) != STORE_FOUND) {
		auth_end(s);
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
	} else {
		auth_end(s);
		login_ok(s, &a);
	}
	store_account_clear(&a);
	buf_free(&err);
}

static void sasl_failed(struct imap_session *s)
{
	char *user = xstrdup(s->sasl ? sasl_authcid(s->sasl) : "");
	const char *why = s->sasl ? sasl_error(s->sasl) : "failed";
	char *w = xstrdup(why);
	auth_end(s);
	login_failed(s, user, w);
	free(w);
	free(user);
}

static void sasl_run(struct imap_session *s, enum sasl_status st, struct buf *out)
{
	for (;;) {
		struct store_account a = {0};
		struct buf err = BUF_INIT;
		enum store_lookup found;
		switch (st) {
		case SASL_CONTINUE:
			sasl_challenge(s, out);
			return;
		case SASL_NEED_PASSWORD:
			found = store_account_get(s->ctx->store, sasl_authcid(s->sasl), &a, &err);
			s->account_id = found == STORE_FOUND ? a.id : 0;
			buf_reset(out);
			st = sasl_password_result(s->sasl,
						  found == STORE_FOUND && a.password_hash[0] &&
							  auth_password_verify(sasl_password(s->sasl),
									       a.password_hash),
						  out);
			store_account_clear(&a);
			buf_free(&err);
			break;
		case SASL_NEED_SCRAM_CRED: {
			found = store_account_get(s->ctx->store, sasl_authcid(s->sasl), &a, &err);
			s->account_id = found == STORE_FOUND ? a.id : 0;
			struct auth_scram_cred cred;
			bool have = found == STORE_FOUND && a.scram[0] &&
				    auth_scram_parse(a.scram, &cred) == 0;
			store_account_clear(&a);
			buf_free(&err);
			buf_reset(out);
			st = sasl_set_scram_cred(s->sasl, have ? &cred : NULL, out);
			break;
		}
		case SASL_OK:
			if (!s->account_id) {
				sasl_failed(s);
				return;
			}
			if (out->len) {
				s->auth_final_pending = true;
				sasl_challenge(s, out);
				return;
			}
			sasl_succeeded(s);
			return;
		case SASL_FAIL:
		default:
			sasl_failed(s);
			return;
		}
	}
}

void imap_cmd_authenticate(struct imap_session *s)
{
	if (s->cmd.nargs < 1 || s->cmd.nargs > 2 || s->cmd.args[0].type != IMAP_ARG_ATOM) {
		imap_bad(s, "Syntax: AUTHENTICATE mechanism [initial-response]");
		return;
	}
	if (!plaintext_ok(s)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] Authentication is disabled before STARTTLS");
		return;
	}
	enum sasl_mech mech;
	if (sasl_mech_parse(s->cmd.args[0].value.p, s->cmd.args[0].value.len, &mech) < 0) {
		imap_tagged(s, "NO", "Unsupported authentication mechanism");
		return;
	}
	s->sasl = sasl_new(mech);
	s->account_id = 0;
	struct buf in = BUF_INIT, out = BUF_INIT;
	enum sasl_status st;
	if (s->cmd.nargs == 2) {
		struct str ir = s->cmd.args[1].value;
		if (ir.len == 1 && ir.p[0] == '=') {
			st = sasl_step(s->sasl, (const uint8_t *)"", 0, true, &out);
		} else if (base64_decode(&in, ir.p, ir.len) < 0) {
			auth_end(s);
			imap_bad(s, "Cannot decode the initial response");
			goto out;
		} else {
			st = sasl_step(s->sasl, (const uint8_t *)buf_cstr(&in), in.len, true, &out);
		}
	} else {
		st = sasl_step(s->sasl, NULL, 0, false, &out);
	}
	sasl_run(s, st, &out);
out:
	buf_free(&in);
	buf_free(&out);
}

void imap_auth_line(struct imap_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		auth_end(s);
		imap_bad(s, "Authentication cancelled");
		return;
	}
	struct buf in = BUF_INIT, out = BUF_INIT;
	if (base64_decode(&in, line, len) < 0) {
		auth_end(s);
		imap_bad(s, "Cannot decode the response");
		goto out;
	}
	if (s->auth_final_pending) {
		if (in.len) {
			sasl_failed(s);
			goto out;
		}
		sasl_succeeded(s);
		goto out;
	}
	enum sasl_status st = sasl_step(s->sasl, (const uint8_t *)buf_cstr(&in), in.len, true, &out);
	sasl_run(s, st, &out);
out:
	buf_free(&in);
	buf_free(&out);
}

/* ---- ID, ENABLE, NAMESPACE ------------------------------------------------------------ */

void imap_cmd_id(struct imap_session *s)
{
	if (s->cmd.nargs != 1 ||
	    (s->cmd.args[0].type != IMAP_ARG_NIL && s->cmd.args[0].type != IMAP_ARG_LIST)) {
		imap_bad(s, "Syntax: ID NIL | ID (field value ...)");
		return;
	}
	imap_reply(s, "* ID (\"name\" \"petrel\" \"version\" \"" PETREL_VERSION "\")");
	imap_tagged(s, "OK", "ID completed");
}

void imap_cmd_enable(struct imap_session *s)
{
	if (s->cmd.nargs == 0) {
		imap_bad(s, "Syntax: ENABLE capability ...");
		return;
	}
	/* No ENABLE-able extension is implemented yet: enable nothing, say so. */
	imap_reply(s, "* ENABLED");
	imap_tagged(s, "OK", "ENABLE completed");
}

void imap_cmd_namespace(struct imap_session *s)
{
	imap_reply(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, "OK", "NAMESPACE completed");
}
