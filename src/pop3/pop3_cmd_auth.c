/*
 * pop3_cmd_auth — logging in: USER/PASS (RFC 1939), AUTH (RFC 5034) with
 * PLAIN, LOGIN and SCRAM-SHA-256, APOP's refusal, and opening the maildrop.
 *
 * Before TLS, logins are accepted only from loopback or when the context
 * allows plaintext; otherwise USER, PASS and AUTH get -ERR [AUTH] and CAPA
 * does not announce USER or SASL.
 *
 * APOP needs a plaintext-equivalent secret on the server (the MD5 of the
 * timestamp and the password): petrel stores only password hashes and SCRAM
 * keys, so APOP is not offered, the greeting has no timestamp, and the command
 * is refused saying why.
 *
 * Throttling, as in SMTP (auth_login.c): a failed login is answered only after
 * the throttle's delay (at least AUTH_MIN_FAILURE_DELAY_MS; reading is paused), and
 * after POP3_MAX_AUTH_FAILURES the session ends. When the peer or the account
 * is already being throttled, a successful login's +OK waits the same delay,
 * so the time to answer never tells a guesser that this guess was the right
 * one. Passwords and SASL payloads are never logged.
 *
 * The login: the account's maildrop lock ([IN-USE] when another POP3 session
 * holds it, asked only once the credentials are right), then the snapshot of
 * INBOX — uid, size and flags of each message — that numbers the messages for
 * the whole session.
 */
#include "pop3/pop3.h"
#include "pop3/pop3_internal.h"

#include "auth/auth.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

bool pop3_login_allowed(const struct pop3_session *s)
{
	return conn_is_tls(s->conn) || conn_is_loopback(s->conn) || s->ctx->cfg->pop3_allow_plaintext;
}

static int refuse_plaintext(struct pop3_session *s)
{
	pop3_reply_err(s, "[AUTH] Plaintext authentication is disallowed on non-secure "
	                  "connections; use STLS first");
	return -1;
}

/* ---- the login ------------------------------------------------------------------ */

static void add_msg(const struct store_message *m, void *arg)
{
	struct pop3_session *s = arg;
	if (s->nmsgs == s->msgs_cap) {
		s->msgs_cap = s->msgs_cap ? 2 * s->msgs_cap : 64;
		s->msgs = xrealloc(s->msgs, s->msgs_cap * sizeof *s->msgs);
	}
	s->msgs[s->nmsgs++] = (struct pop3_msg){.uid = m->uid, .flags = m->flags, .size = m->size};
	s->total_size += m->size;
}

static void forget_maildrop(struct pop3_session *s)
{
	pop3_lock_release(s);
	xfree(&s->msgs);
	s->nmsgs = s->msgs_cap = 0;
	s->total_size = 0;
}

/* The credentials are right: lock and snapshot the maildrop, then answer
   (after delay_ms, when the login was throttled). */
static void login(struct pop3_session *s, int64_t account_id, const char *identity,
                  const char *mech, int64_t delay_ms)
{
	struct buf addr = BUF_INIT, err = BUF_INIT;
	if (store_address_normalize(identity, false, &addr, &err) < 0)
		buf_puts(&addr, identity);
	buf_reset(&err);
	const char *peer = conn_peer(s->conn);
	auth_throttle_success(s->ctx->throttle, peer, buf_cstr(&addr), time_mono_ms());
	if (!pop3_lock_acquire(s, account_id)) {
		log_info("pop3 id=%s peer=%s event=login result=in-use user=%s", conn_id(s->conn),
		         peer, buf_cstr(&addr));
		pop3_reply_later(s, delay_ms, false,
		                 "-ERR [IN-USE] Maildrop is locked by another POP3 session");
		goto out;
	}
	struct store_mailbox mb = {0};
	enum store_lookup found = store_mailbox_get(s->ctx->store, account_id, "INBOX", &mb, &err);
	if (found == STORE_FOUND) {
		s->mailbox_id = mb.id;
		s->uidvalidity = mb.uidvalidity;
		if (store_message_list(s->ctx->store, mb.id, 1, UINT32_MAX, add_msg, s, &err) < 0)
			found = STORE_ERROR;
	}
	store_mailbox_clear(&mb);
	if (found != STORE_FOUND) {
		struct buf v = BUF_INIT;
		log_value(&v, err.data ? err.data : "", err.len);
		log_warn("pop3 id=%s peer=%s event=login result=error user=%s reason=%s",
		         conn_id(s->conn), peer, buf_cstr(&addr),
		         found == STORE_NOT_FOUND ? "no-inbox" : buf_cstr(&v));
		buf_free(&v);
		forget_maildrop(s);
		pop3_reply_later(
		        s, delay_ms, false, "%s",
		        found == STORE_NOT_FOUND
		                ? "-ERR [SYS/PERM] This account has no INBOX"
		                : "-ERR [SYS/TEMP] Cannot open the maildrop, try again later");
		goto out;
	}
	free(s->login);
	s->login = buf_steal(&addr);
	s->state = POP3_STATE_TRANSACTION;
	log_info("pop3 id=%s peer=%s event=login result=ok user=%s mech=%s messages=%zu size=%llu",
	         conn_id(s->conn), peer, s->login, mech, s->nmsgs,
	         (unsigned long long)s->total_size);
	pop3_reply_later(s, delay_ms, false, "+OK Logged in, %zu messages (%llu octets)", s->nmsgs,
	                 (unsigned long long)s->total_size);
out:
	buf_free(&addr);
	buf_free(&err);
}

static void login_failed(struct pop3_session *s, const char *user, const char *why)
{
	const char *peer = conn_peer(s->conn);
	struct buf v = BUF_INIT, r = BUF_INIT;
	log_value(&v, user, strlen(user));
	log_value(&r, why, strlen(why));
	log_info("pop3 id=%s peer=%s event=login result=fail user=%s reason=%s", conn_id(s->conn),
		 peer, buf_cstr(&v), buf_cstr(&r));
	buf_free(&v);
	buf_free(&r);
	int64_t delay = auth_login_failed(s->ctx->throttle, peer, user);
	if (++s->auth_failures >= POP3_MAX_AUTH_FAILURES)
		pop3_reply_later(s, delay, true,
				 "-ERR [AUTH] Too many authentication failures, closing connection");
	else
		pop3_reply_later(s, delay, false, "-ERR [AUTH] Authentication failed");
}

/* ---- USER / PASS ------------------------------------------------------------------- */

int pop3_check_user(struct pop3_session *s)
{
	if (!pop3_login_allowed(s))
		return refuse_plaintext(s);
	return 0;
}

void pop3_proceed_user(struct pop3_session *s)
{
	free(s->user);
	s->user = str_dup(s->cmd.args[0]);
	/* The same answer whether the account exists or not. */
	pop3_reply(s, "+OK Send your password");
}

int pop3_check_pass(struct pop3_session *s)
{
	if (!pop3_login_allowed(s))
		return refuse_plaintext(s);
	if (!s->user) {
		pop3_reply_err(s, "Send USER first");
		return -1;
	}
	return 0;
}

struct pass_job {
	struct pop3_session *s;
	char *user;
	struct store_account acct;
	int64_t delay;
};

static void pass_checked(bool ok, void *arg)
{
	struct pass_job *j = arg;
	struct pop3_session *s = j->s;
	if (pop3_op_finished(s)) {
		pop3_resume(s);
		if (ok)
			login(s, j->acct.id, j->acct.address, "USER", j->delay);
		else
			login_failed(s, j->user, "bad credentials");
	}
	store_account_clear(&j->acct);
	free(j->user);
	free(j);
}

void pop3_proceed_pass(struct pop3_session *s)
{
	char *user = s->user;
	s->user = NULL; /* a new USER is needed after PASS, right or wrong */
	char *password = str_dup(s->cmd.args[0]);
	/* The line held the password: wipe it. */
	memset(s->reader.line.data, 0, s->reader.line.len);
	struct pass_job *j = xcalloc(1, sizeof *j);
	j->s = s;
	j->user = user;
	/* Asked before the check: a throttled peer waits the same for right and wrong. */
	j->delay = auth_login_delay(s->ctx->throttle, conn_peer(s->conn), user);
	struct buf err = BUF_INIT;
	enum store_lookup found = store_account_get(s->ctx->store, user, &j->acct, &err);
	buf_free(&err);
	s->ops_in_flight++; /* keeps the session alive across the worker's job */
	if (found == STORE_ERROR) {
		pop3_op_finished(s);
		log_warn("pop3 id=%s peer=%s event=login result=error", conn_id(s->conn),
			 conn_peer(s->conn));
		pop3_reply(s, "-ERR [SYS/TEMP] Temporary authentication failure, try again later");
		free(j->user);
		free(j);
	} else if (found == STORE_FOUND && j->acct.password_hash[0] &&
		   strlen(password) <= AUTH_MAX_PASSWORD) {
		pop3_pause(s);
		auth_verify_async(s->ctx->workers, password, j->acct.password_hash, pass_checked,
				  j);
	} else {
		pass_checked(false, j);
	}
	memset(password, 0, strlen(password));
	free(password);
}

void pop3_proceed_apop(struct pop3_session *s)
{
	pop3_reply_err(s, "APOP is not available: no plaintext-equivalent secrets are kept; "
	                  "use USER/PASS or AUTH");
}

/* ---- AUTH ------------------------------------------------------------------------ */

static const char *const mechanisms[] = {"PLAIN", "LOGIN", "SCRAM-SHA-256"};

int pop3_check_auth(struct pop3_session *s)
{
	if (!pop3_login_allowed(s))
		return refuse_plaintext(s);
	return 0;
}

static void auth_end(struct pop3_session *s)
{
	sasl_free(&s->sasl);
	s->sasl_final_pending = false;
	if (s->state == POP3_STATE_SASL)
		s->state = POP3_STATE_AUTHORIZATION;
}

static void auth_failed(struct pop3_session *s, const char *why)
{
	/* Both may point into the machine, which auth_end frees. */
	char *user = xstrdup(s->sasl ? sasl_authcid(s->sasl) : "");
	char *reason = xstrdup(why);
	auth_end(s);
	login_failed(s, user, reason);
	free(user);
	free(reason);
}

static void auth_succeeded(struct pop3_session *s)
{
	char *user = xstrdup(sasl_authcid(s->sasl));
	int64_t delay = auth_login_delay(s->ctx->throttle, conn_peer(s->conn), user);
	auth_end(s);
	login(s, s->sasl_account_id, user, s->sasl_mech, delay);
	free(user);
}

static void send_challenge(struct pop3_session *s, const struct buf *out)
{
	struct buf b = BUF_INIT;
	base64_encode(&b, out->data ? out->data : "", out->len);
	pop3_reply(s, "+ %s", buf_cstr(&b));
	buf_free(&b);
	s->state = POP3_STATE_SASL;
}

/* The machine (with the store's answers, the password checked on a worker
   thread) has run until it needs the client or is finished. */
static void auth_ran(enum sasl_status st, bool temp, void *arg)
{
	struct pop3_session *s = arg;
	if (!pop3_op_finished(s))
		return; /* the client left; the session is gone */
	pop3_resume(s);
	struct buf *out = &s->sasl_out;
	switch (st) {
	case SASL_CONTINUE:
		send_challenge(s, out);
		break;
	case SASL_OK:
		if (out->len) {
			/* SCRAM server-final: one more round before +OK (RFC 5034 4). */
			s->sasl_final_pending = true;
			send_challenge(s, out);
			break;
		}
		auth_succeeded(s);
		break;
	default:
		if (temp) {
			log_warn("pop3 id=%s peer=%s event=login result=error", conn_id(s->conn),
				 conn_peer(s->conn));
			auth_end(s);
			pop3_reply(s, "-ERR [SYS/TEMP] Temporary authentication failure, try "
				      "again later");
			break;
		}
		auth_failed(s, s->sasl ? sasl_error(s->sasl) : "failed");
		break;
	}
	buf_reset(out);
}

static void auth_run(struct pop3_session *s, enum sasl_status st)
{
	s->ops_in_flight++; /* keeps the session alive across the worker's job */
	pop3_pause(s);
	auth_sasl_run_async(s->ctx->workers, s->sasl, st, s->ctx->store, &s->sasl_out,
			    &s->sasl_account_id, auth_ran, s);
}

void pop3_proceed_auth(struct pop3_session *s)
{
	if (s->cmd.nargs == 0) {
		/* The mechanism list, for the clients of RFC 1734's day. */
		pop3_reply(s, "+OK Supported mechanisms follow");
		for (size_t i = 0; i < ARRAY_SIZE(mechanisms); i++)
			pop3_reply(s, "%s", mechanisms[i]);
		pop3_reply(s, ".");
		return;
	}
	struct str mname = s->cmd.args[0];
	enum sasl_mech mech;
	if (sasl_mech_parse(mname.p, mname.len, &mech) < 0) {
		pop3_reply_err(s, "Unrecognized authentication mechanism");
		return;
	}
	s->sasl = sasl_new(mech);
	s->sasl_mech = sasl_mech_name(mech);
	s->sasl_account_id = 0;
	struct buf *out = &s->sasl_out, in = BUF_INIT;
	enum sasl_status st;
	buf_reset(out);
	if (s->cmd.nargs == 2) {
		struct str ir = s->cmd.args[1];
		if (ir.len == 1 && ir.p[0] == '=') {
			st = sasl_step(s->sasl, (const uint8_t *)"", 0, true, out);
		} else if (base64_decode(&in, ir.p, ir.len) < 0) {
			auth_end(s);
			pop3_reply_err(s, "Cannot decode the initial response");
			goto out;
		} else {
			st = sasl_step(s->sasl, (const uint8_t *)buf_cstr(&in), in.len, true, out);
		}
	} else {
		st = sasl_step(s->sasl, NULL, 0, false, out);
	}
	auth_run(s, st);
out:
	memset(s->reader.line.data, 0, s->reader.line.len);
	if (in.data)
		memset(in.data, 0, in.len);
	buf_free(&in);
}

void pop3_auth_response(struct pop3_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		auth_end(s);
		pop3_reply_err(s, "Authentication cancelled");
		return;
	}
	struct buf in = BUF_INIT;
	if (base64_decode(&in, line, len) < 0) {
		auth_end(s);
		pop3_reply_err(s, "Cannot decode the response");
		goto out;
	}
	if (s->sasl_final_pending) {
		/* The client's answer to the SCRAM server-final must be empty. */
		if (in.len != 0)
			auth_failed(s, "non-empty final response");
		else
			auth_succeeded(s);
		goto out;
	}
	buf_reset(&s->sasl_out);
	enum sasl_status st =
	        sasl_step(s->sasl, (const uint8_t *)buf_cstr(&in), in.len, true, &s->sasl_out);
	auth_run(s, st);
out:
	memset(s->reader.line.data, 0, s->reader.line.len);
	if (in.data)
		memset(in.data, 0, in.len);
	buf_free(&in);
}
