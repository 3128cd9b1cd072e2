/*
 * smtp — the SMTP server: inbound MX (port 25), submission (587, STARTTLS) and
 * submissions (465, implicit TLS).
 *
 * One struct smtp_service per listener, passed as the listener's handler
 * argument; the services share one struct smtp_context (store, configuration,
 * login throttle). The session (smtp_server.c) is an explicit state machine
 * with a command table; every command has a check step (state, syntax,
 * policy) and a proceed step (the action). A message is acknowledged with 250
 * only from the completion of its store op, that is, once it is durable.
 *
 * Policy: on the MX port only local recipients are accepted (no relay, however
 * the address is dressed up); submission requires AUTH, which is offered only
 * under TLS, and the sender must be an address the account owns.
 */
#ifndef PETREL_SMTP_H
#define PETREL_SMTP_H

#include "core/config.h"
#include "core/net.h"

struct store;
struct auth_throttle;
struct work_pool;

#define SMTP_MAX_ERRORS 10        /* protocol errors before 421 and close */
#define SMTP_MAX_AUTH_FAILURES 3  /* failed AUTH attempts before 421 and close */
#define SMTP_MAX_MESSAGES 1000    /* transactions per connection */

enum smtp_mode {
	SMTP_MODE_MX,          /* port 25: receive for local recipients */
	SMTP_MODE_SUBMISSION,  /* port 587: STARTTLS, AUTH required */
	SMTP_MODE_SUBMISSIONS, /* port 465: implicit TLS, AUTH required */
};

struct smtp_context {
	struct store *store;
	const struct config *cfg; /* the server's live configuration (reloads in place) */
	struct auth_throttle *throttle;
	struct work_pool *workers; /* password checks off the loop */
	struct event_base *base;
	bool tls_available; /* a certificate is loaded: STARTTLS may be offered */
};

struct smtp_service {
	enum smtp_mode mode;
	struct smtp_context *ctx;
};

extern const struct conn_handler smtp_conn_handler;

#endif
