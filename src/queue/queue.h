/*
 * queue — outbound delivery: the scheduler over the store's queue, routing
 * (static routes, MX), bounces (RFC 3464), and the one outcome API.
 *
 * The runner lives on the event loop. It claims due recipients from the store
 * (store.h, "the outbound queue": a claim is a lease, so nothing is delivered
 * twice, and a restart recovers it), groups them into jobs — one message for
 * one destination domain — resolves the domain's route, and hands jobs to a
 * transport (the SMTP client, smtp.h) within a global limit of connections and
 * a limit per destination. A session that finished a job takes the next job of
 * the same destination (connection reuse), up to a number of messages.
 *
 * Outcomes. Every delivery path reports each recipient through queue_outcome()
 * (delivered, deferred, bounced, with the remote reply and where it came from),
 * then queue_job_done(). The runner turns that into one store op: the new state
 * of each recipient with its receipt (a delivery event), the retry time from
 * [queue] retry, expiry after [queue] max_age, and, in the same transaction, the
 * bounce to the sender — delivered into the store when the sender is local,
 * queued otherwise, never to the null sender. When every recipient of a message
 * is final, the store drops the message.
 *
 * Source addresses. A message leaves from a pool of source addresses
 * ([pool.NAME], chosen by its API key or by [pools] from its envelope sender)
 * or, without one, from whatever address the kernel picks. A destination is a
 * recipient domain *and* a pool, so a connection that is reused carries only
 * mail of its own pool. The transport takes an address of the pool for each
 * connection (queue_source_acquire, round-robin among the addresses of the
 * destination's family that are under their max_connections), binds it, says
 * that it worked or failed (queue_source_report: an address that cannot be
 * bound, or whose connections to QUEUE_SOURCE_MAX_FAILURES different hosts in
 * a row fail, is left out for [queue] source_suspend), and gives it back
 * (queue_source_release). The runner starts no more sessions of a pool than
 * its usable addresses can carry.
 *
 * Wake-ups: the store calls the runner after every commit that queued mail
 * (store_queue_notify); a timer (QUEUE_POLL_MS) finds retries that came due and
 * changes made by other processes (`petrel queue flush`).
 *
 * Ownership: a job belongs to the runner; a transport may use it from open() or
 * send() until it calls queue_job_done(). A transport session belongs to the
 * transport; the runner passes it back with send() or close().
 */
#ifndef PETREL_QUEUE_H
#define PETREL_QUEUE_H

#include "core/core.h"

struct config;
struct event_base;
struct store;
struct queue;

#define QUEUE_POLL_MS 500            /* how often due recipients are looked for */
#define QUEUE_LEASE_SECONDS 3600     /* a claim outlives any attempt (RFC 5321 timeouts) */
#define QUEUE_CLAIM_BATCH 500        /* recipients taken per claim */
#define QUEUE_MAX_HOPS 20            /* addresses tried for one delivery */
#define QUEUE_ROUTE_CACHE_SECONDS 60 /* a resolved route is reused this long */
#define QUEUE_OUTCOME_RETRY_MS 1000  /* an outcome that failed to commit is retried */
#define QUEUE_SOURCE_MAX_FAILURES 3  /* failed connects to as many hosts suspend a source */

/* One address to try, in order: every address of a host before the next host. */
struct queue_hop {
	char *host; /* the host name (MX or route), or the IP literal */
	char *ip;   /* the address to connect to */
	unsigned port;
};

struct queue_pool; /* a pool of source addresses (queue_pool.c) */

struct queue_route {
	struct queue_hop *hops;
	size_t nhops;
	bool require_tls;        /* STARTTLS or no delivery (deferred) */
	bool verify;             /* and a certificate valid for the host's name */
	char *auth_user;         /* SMTP AUTH at the hops (a smarthost), or NULL; implies */
	char *auth_password;     /* require_tls */
	struct queue_pool *pool; /* where source addresses come from; NULL: the kernel
	                            chooses. Owned by the runner, valid until queue_free. */
};

/* A source address handed to a transport for one connection. */
struct queue_source {
	const char *ip;   /* an IP literal */
	const char *ehlo; /* the name to say in EHLO from it */
	int family;       /* AF_INET or AF_INET6 */
};

enum queue_source_result {
	QUEUE_SOURCE_OK,             /* a connection from it was established */
	QUEUE_SOURCE_BIND_FAILED,    /* it cannot be bound: left out at once */
	QUEUE_SOURCE_CONNECT_FAILED, /* a connection from it failed (refused, timed out) */
};

/*
 * An address of pool for a connection to an address of family (round-robin,
 * within the limits), or NULL with why. Each one acquired is released once,
 * when its connection is closed (or only says QUIT).
 */
const struct queue_source *queue_source_acquire(struct queue_pool *pool, int family,
                                                struct buf *why);
void queue_source_release(const struct queue_source *src);
/* How a connection from src went; remote_ip is where it was going. */
void queue_source_report(const struct queue_source *src, enum queue_source_result r,
                         const char *remote_ip, const char *why);

struct queue_job_rcpt {
	const char *addr;
	const char *dsn_notify; /* "SUCCESS,FAILURE" ..., NULL when not given */
	const char *dsn_orcpt;  /* "rfc822;addr", NULL when not given */
};

/* One message for one destination: what a transport sends in one transaction. */
struct queue_job {
	int64_t queue_id;
	const char *domain;   /* the destination, lower-case */
	const char *env_from; /* "" for <> */
	const char *dsn_ret;  /* "FULL", "HDRS" or NULL */
	const char *dsn_envid;
	const char *data; /* the message as it leaves: the stored bytes without the
	                     Return-Path: field local delivery put first */
	size_t len;
	bool body_8bit; /* a byte >= 0x80 in the message: needs 8BITMIME */
	bool smtputf8;  /* a non-ASCII envelope address: needs SMTPUTF8 */
	struct queue_job_rcpt *rcpts;
	size_t nrcpts;
};

enum queue_status { QUEUE_DELIVERED, QUEUE_DEFERRED, QUEUE_BOUNCED };

struct queue_result {
	enum queue_status status;
	const char *reply;       /* one line: the remote reply ("550 5.1.1 ...") or our reason */
	const char *status_code; /* RFC 3463 ("5.1.1"); NULL: 2.0.0 / 4.0.0 / 5.0.0 */
	bool remote;             /* reply is the remote server's */
	bool dsn_relayed;        /* the remote server took RFC 3461 NOTIFY along */
	const char *mx;          /* the host it went to, or NULL */
	const char *remote_ip;
	const char *source_ip;
	const char *tls; /* "TLSv1.3 TLS_AES_256_GCM_SHA384", or NULL */
};

/*
 * The outcome API: recipient i of job had result r (copied). Logged at once;
 * recorded with its delivery event when the job is done. Each recipient is
 * reported once; a second report is a bug.
 */
void queue_outcome(struct queue_job *job, size_t i, const struct queue_result *r);
/*
 * Every recipient of job is reported: the job goes back to the runner. With
 * reusable, the session that ran it is between transactions and may take
 * another job (send) or be closed (close); otherwise the transport frees the
 * session itself and the runner forgets it.
 */
void queue_job_done(struct queue_job *job, bool reusable);

/*
 * How jobs leave: the SMTP client (smtp.h) implements this. A transport never
 * calls queue_outcome() or queue_job_done() from inside open() or send() (it
 * reports from its own events), and copies what it keeps of a route.
 */
struct queue_transport {
	/* Starts a session along route (trying its hops in order) and sends job.
	   Returns the session. */
	void *(*open)(void *ctx, const struct queue_route *route, struct queue_job *job);
	/* Sends job over a session that queue_job_done() left reusable. */
	void (*send)(void *session, struct queue_job *job);
	/* Ends a reusable session politely (QUIT); no callbacks follow. */
	void (*close)(void *session);
	/* Frees a session now, whatever it is doing (shutdown); no callbacks follow. */
	void (*abort)(void *session);
};

/* cfg is the server's live configuration: read at each use, so SIGHUP applies. */
struct queue *queue_new(struct event_base *base, struct store *st, const struct config *cfg,
                        struct buf *err);
void queue_set_transport(struct queue *q, const struct queue_transport *t, void *ctx);
/* After store_start: recovers the claims a previous run left (one op), then
   claims what is due. */
int queue_start(struct queue *q, struct buf *err);
/* Shutdown: no new work; sessions are aborted, their recipients stay claimed
   until the next start recovers them. Outcomes already submitted still commit. */
void queue_stop(struct queue *q);
/* After store_close (which runs the last completions). */
void queue_free(struct queue **q);
/* Something may be due now. */
void queue_kick(struct queue *q);

#endif
