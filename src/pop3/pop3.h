/*
 * pop3 — the POP3 server (RFC 1939) with CAPA and response codes (RFC 2449,
 * RFC 3206), STLS (RFC 2595), SASL (RFC 5034), on the plain port (110, STLS)
 * and with implicit TLS (995, RFC 8314).
 *
 * One struct pop3_service per listener, passed as the listener's handler
 * argument; the services share one struct pop3_context (store, configuration,
 * login throttle, and the accounts that have a POP3 session open). The session
 * (pop3_session.c) is an explicit state machine — AUTHORIZATION, TRANSACTION,
 * UPDATE — with a command table whose entries have a check step (state,
 * arguments) and a proceed step (the action).
 *
 * The maildrop is the account's INBOX as it was at login: message numbers and
 * sizes do not change during the session, and mail delivered meanwhile waits
 * for the next one. DELE only marks; QUIT expunges the marked messages in one
 * store op and says +OK only from its completion, once it is durable. A
 * session that ends any other way deletes nothing. Only one POP3 session per
 * account at a time ([IN-USE]); IMAP sessions may run alongside, and see what
 * POP3 does through the store.
 *
 * Logins need TLS unless the peer is on loopback or [pop3] allow_plaintext is set.
 */
#ifndef PETREL_POP3_H
#define PETREL_POP3_H

#include "core/config.h"
#include "core/net.h"

struct store;
struct auth_throttle;
struct work_pool;

struct pop3_context {
	struct store *store;
	const struct config *cfg; /* the server's live configuration (reloads in place) */
	struct auth_throttle *throttle;
	struct work_pool *workers; /* password checks off the loop */
	struct event_base *base;
	bool tls_available;   /* a certificate is loaded: STLS may be offered */
	/* Accounts with a POP3 session in TRANSACTION or UPDATE state: the
	   maildrop lock behind [IN-USE]. Owned by the sessions; the array is
	   freed when the last one leaves. */
	int64_t *active_accounts;
	size_t nactive, active_cap;
};

struct pop3_service {
	bool implicit_tls; /* the pop3s listener: no STLS */
	struct pop3_context *ctx;
};

extern const struct conn_handler pop3_conn_handler;

#endif
