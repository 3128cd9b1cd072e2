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

/* ---- the outbound client (smtp_client.c) --------------------------------------------
 *
 * Delivers the queue's jobs (queue.h) over SMTP: a session tries the hops of its
 * route in order (connection refused or lost, a greeting that is not 2xx, TLS
 * that is required and missing or failing: the next hop), binds an address of
 * the route's source pool when it has one, says EHLO (HELO when refused) with
 * that address's name, takes STARTTLS whenever offered (opportunistic, no
 * certificate check unless the route says verify; a failed handshake is retried
 * in clear once, unless TLS is required), authenticates to a smarthost whose
 * route has credentials (AUTH PLAIN or LOGIN, after TLS only), pipelines MAIL and RCPT when PIPELINING is
 * offered, announces SIZE, BODY=8BITMIME and SMTPUTF8 as the message needs
 * (bouncing it when the server cannot take it), passes RFC 3461 parameters to a
 * server with DSN, sends the message with BDAT when CHUNKING is offered and
 * with dot-stuffed DATA otherwise, and reports each recipient through the
 * outcome API: 2xx delivered, 4xx deferred, 5xx bounced. A broken reply or a
 * lost connection defers whatever is not reported yet. Timeouts are RFC 5321
 * 4.5.3.2's.
 */
struct queue_transport;
struct smtp_client;

#define SMTP_CLIENT_CONNECT_TIMEOUT 30  /* seconds to connect (Postfix's default) */
#define SMTP_CLIENT_GREETING_TIMEOUT 300 /* 220 greeting: 5 minutes */
#define SMTP_CLIENT_COMMAND_TIMEOUT 300  /* EHLO, STARTTLS, MAIL, RCPT, RSET: 5 minutes */
#define SMTP_CLIENT_DATA_TIMEOUT 120     /* DATA initiation: 2 minutes */
#define SMTP_CLIENT_BLOCK_TIMEOUT 180    /* each data block sent: 3 minutes */
#define SMTP_CLIENT_FINAL_TIMEOUT 600    /* reply to the final dot or BDAT LAST: 10 minutes */
#define SMTP_CLIENT_QUIT_TIMEOUT 10      /* waiting for the reply to QUIT */

extern const struct queue_transport smtp_client_transport;
/* cfg is live (hostname for EHLO). */
struct smtp_client *smtp_client_new(struct event_base *base, const struct config *cfg,
				    struct buf *err);
/* Frees every session still open (after queue_stop). */
void smtp_client_free(struct smtp_client **cl);

#endif
