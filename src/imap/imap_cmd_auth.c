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
	buf_puts(out, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ENABLE IDLE NAMESPACE ID UIDPLUS MOVE "
	              "UNSELECT CHILDREN SPECIAL-USE ESEARCH CONDSTORE QRESYNC SEARCHRES WITHIN "
	              "SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT "
	              "CONTEXT=SEARCH CONTEXT=SORT NOTIFY URLAUTH URLAUTH=BINARY CATENATE");
	buf_printf(out, " LIST-EXTENDED LIST-STATUS STATUS=SIZE BINARY MULTIAPPEND UTF8=ACCEPT "
	                "APPENDLIMIT=%llu",
	           (unsigned long long)s->ctx->cfg->max_message_size);
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

static void login_ok(struct imap_session *s, int64_t account_id, const char *identity)
{
	struct buf addr = BUF_INIT, err = BUF_INIT;
	if (store_address_normalize(identity, false, &addr, &err) < 0)
		buf_puts(&addr, identity);
	log_info("imap id=%s peer=%s event=login result=ok user=%s", conn_id(s->conn),
	         conn_peer(s->conn), buf_cstr(&addr));
	auth_login_succeeded(s->ctx->throttle, conn_peer(s->conn), buf_cstr(&addr));
	free(s->user);
	s->user = buf_steal(&addr);
	s->account_id = account_id;
	s->state = IMAP_STATE_AUTH;
	struct buf caps = BUF_INIT;
	imap_capabilities(s, &caps);
	imap_tagged(s, "OK", "[CAPABILITY %s] Logged in", buf_cstr(&caps));
	buf_free(&caps);
	buf_free(&err);
}

static void login_failed(struct imap_session *s, const char *user, const char *why)
{
	struct buf v = BUF_INIT;
	log_value(&v, user, strlen(user));
	log_info("imap id=%s peer=%s event=login result=fail user=%s reason=\"%s\"",
	         conn_id(s->conn), conn_peer(s->conn), buf_cstr(&v), why);
	buf_free(&v);
	int64_t delay = auth_login_failed(s->ctx->throttle, conn_peer(s->conn), user);
	if (++s->auth_failures >= IMAP_MAX_AUTH_FAILURES)
		imap_reply_later(s, delay, true,
		                 "%s NO [AUTHENTICATIONFAILED] Authentication "
		                 "failed\r\n* BYE Too many failures",
		                 s->tag ? s->tag : "*");
	else
		imap_reply_later(s, delay, false,
		                 "%s NO [AUTHENTICATIONFAILED] Authentication failed",
		                 s->tag ? s->tag : "*");
}

struct login_job {
	struct imap_session *s;
	char *user;
	int64_t account_id;
};

static void login_checked(bool ok, void *arg)
{
	struct login_job *j = arg;
	struct imap_session *s = j->s;
	if (imap_job_done(s)) {
		imap_resume(s);
		if (ok)
			login_ok(s, j->account_id, j->user);
		else
			login_failed(s, j->user, "bad credentials");
	}
	free(j->user);
	free(j);
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
	char *password = str_dup(s->cmd.args[1].value);
	struct login_job *j = xcalloc(1, sizeof *j);
	j->s = s;
	j->user = str_dup(s->cmd.args[0].value);
	struct store_account a = {0};
	struct buf err = BUF_INIT;
	enum store_lookup l = store_account_get(s->ctx->store, j->user, &a, &err);
	s->jobs++; /* keeps the session alive across the worker's job */
	if (l == STORE_ERROR) {
		imap_job_done(s);
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
		free(j->user);
		free(j);
	} else if (l == STORE_FOUND && a.password_hash[0] &&
	           strlen(password) <= AUTH_MAX_PASSWORD) {
		j->account_id = a.id;
		imap_pause(s);
		auth_verify_async(s->ctx->workers, password, a.password_hash, login_checked, j);
	} else {
		login_checked(false, j);
	}
	memset(password, 0, strlen(password));
	free(password);
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
	char *user = xstrdup(sasl_authcid(s->sasl));
	auth_end(s);
	login_ok(s, s->account_id, user);
	free(user);
}

static void sasl_failed(struct imap_session *s)
{
	char *user = xstrdup(s->sasl ? sasl_authcid(s->sasl) : "");
	char *why = xstrdup(s->sasl ? sasl_error(s->sasl) : "failed");
	auth_end(s);
	login_failed(s, user, why);
	free(why);
	free(user);
}

/* The machine (with the store's answers, the password checked on a worker
   thread) has run until it needs the client or is finished. */
static void sasl_ran(enum sasl_status st, bool temp, void *arg)
{
	struct imap_session *s = arg;
	if (!imap_job_done(s))
		return; /* the client left; the session is gone */
	imap_resume(s);
	switch (st) {
	case SASL_CONTINUE:
		sasl_challenge(s, &s->sasl_out);
		break;
	case SASL_OK:
		if (s->sasl_out.len) {
			s->auth_final_pending = true;
			sasl_challenge(s, &s->sasl_out);
			break;
		}
		sasl_succeeded(s);
		break;
	default:
		if (temp) {
			auth_end(s);
			imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
			break;
		}
		sasl_failed(s);
		break;
	}
	buf_reset(&s->sasl_out);
}

static void sasl_run(struct imap_session *s, enum sasl_status st)
{
	s->jobs++;
	imap_pause(s);
	auth_sasl_run_async(s->ctx->workers, s->sasl, st, s->ctx->store, &s->sasl_out,
	                    &s->account_id, sasl_ran, s);
}

void imap_cmd_authenticate(struct imap_session *s)
{
	if (s->cmd.nargs < 1 || s->cmd.nargs > 2 || s->cmd.args[0].type != IMAP_ARG_ATOM) {
		imap_bad(s, "Syntax: AUTHENTICATE mechanism [initial-response]");
		return;
	}
	if (!plaintext_ok(s)) {
		imap_tagged(s, "NO",
		            "[PRIVACYREQUIRED] Authentication is disabled before STARTTLS");
		return;
	}
	enum sasl_mech mech;
	if (sasl_mech_parse(s->cmd.args[0].value.p, s->cmd.args[0].value.len, &mech) < 0) {
		imap_tagged(s, "NO", "Unsupported authentication mechanism");
		return;
	}
	s->sasl = sasl_new(mech);
	s->account_id = 0;
	struct buf in = BUF_INIT, *out = &s->sasl_out;
	enum sasl_status st;
	buf_reset(out);
	if (s->cmd.nargs == 2) {
		struct str ir = s->cmd.args[1].value;
		if (ir.len == 1 && ir.p[0] == '=') {
			st = sasl_step(s->sasl, (const uint8_t *)"", 0, true, out);
		} else if (base64_decode(&in, ir.p, ir.len) < 0) {
			auth_end(s);
			imap_bad(s, "Cannot decode the initial response");
			goto out;
		} else {
			st = sasl_step(s->sasl, (const uint8_t *)buf_cstr(&in), in.len, true, out);
		}
	} else {
		st = sasl_step(s->sasl, NULL, 0, false, out);
	}
	sasl_run(s, st);
out:
	buf_free(&in);
}

void imap_auth_line(struct imap_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		auth_end(s);
		imap_bad(s, "Authentication cancelled");
		return;
	}
	struct buf in = BUF_INIT;
	if (base64_decode(&in, line, len) < 0) {
		auth_end(s);
		imap_bad(s, "Cannot decode the response");
		goto out;
	}
	if (s->auth_final_pending) {
		if (in.len)
			sasl_failed(s);
		else
			sasl_succeeded(s);
		goto out;
	}
	buf_reset(&s->sasl_out);
	enum sasl_status st =
	        sasl_step(s->sasl, (const uint8_t *)buf_cstr(&in), in.len, true, &s->sasl_out);
	sasl_run(s, st);
out:
	buf_free(&in);
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

/* What ENABLE can turn on (RFC 5161): each named once in ENABLED, the first
   time; anything else is ignored, as the RFC wants. */
static bool *enableable(struct imap_session *s, struct str name)
{
	if (str_eq_cstr_nocase(name, "IMAP4rev2"))
		return &s->rev2;
	if (str_eq_cstr_nocase(name, "UTF8=ACCEPT"))
		return &s->utf8_accept;
	return NULL;
}

void imap_cmd_enable(struct imap_session *s)
{
	if (s->cmd.nargs == 0) {
		imap_bad(s, "Syntax: ENABLE capability ...");
		return;
	}
	for (size_t i = 0; i < s->cmd.nargs; i++)
		if (s->cmd.args[i].type != IMAP_ARG_ATOM) {
			imap_bad(s, "Syntax: ENABLE capability ...");
			return;
		}
	/* ENABLED names what this command turned on (RFC 5161 3.2); unknown
	   names are ignored. QRESYNC implies CONDSTORE (RFC 7162 3.2.3). */
	struct buf enabled = BUF_INIT;
	for (size_t i = 0; i < s->cmd.nargs; i++) {
		struct str name = s->cmd.args[i].value;
		if (str_eq_cstr_nocase(name, "CONDSTORE") && !s->condstore) {
			imap_condstore_enable(s);
		} else if (str_eq_cstr_nocase(name, "QRESYNC") && !s->qresync) {
			imap_condstore_enable(s);
			s->qresync = true;
		} else {
			bool *on = enableable(s, name);
			if (!on || *on)
				continue;
			*on = true;
		}
		buf_putc(&enabled, ' ');
		buf_append(&enabled, name.p, name.len);
	}
	imap_reply(s, "* ENABLED%s", buf_cstr(&enabled));
	imap_tagged(s, "OK", "ENABLE completed");
	buf_free(&enabled);
}

void imap_cmd_namespace(struct imap_session *s)
{
	imap_reply(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, "OK", "NAMESPACE completed");
}
