/*
 * imap — the IMAP server (IMAP4rev2, RFC 9051, and IMAP4rev1, RFC 3501).
 *
 * One struct imap_service per listener (plain with STARTTLS, or implicit TLS),
 * sharing one struct imap_context. The session (imap_session.c) frames
 * commands (lines and literals), runs them through a command table by state,
 * and keeps the selected mailbox in step with the store by the one sync
 * mechanism of the store: after every command, and at once while IDLE, it asks
 * the store what changed since the MODSEQ it last told its client about, and
 * reports new messages, flag changes and expunges.
 */
#ifndef PETREL_IMAP_H
#define PETREL_IMAP_H

#include "core/config.h"
#include "core/net.h"

struct store;
struct auth_throttle;
struct work_pool;
struct event_base;
struct imap_session;

#define IMAP_MAX_ERRORS 20       /* BAD commands before BYE */
#define IMAP_MAX_AUTH_FAILURES 3 /* failed logins before BYE */

struct imap_context {
	struct store *store;
	const struct config *cfg;
	struct auth_throttle *throttle;
	struct work_pool *workers; /* password checks off the loop */
	struct event_base *base;
	bool tls_available;
	struct imap_session *notifying; /* sessions with NOTIFY on (imap_notify.c) */
};

struct imap_service {
	bool implicit_tls;
	struct imap_context *ctx;
};

extern const struct conn_handler imap_conn_handler;

#endif
