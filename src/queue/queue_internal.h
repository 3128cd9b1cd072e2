/*
 * queue_internal — what the files of src/queue/ share.
 *
 *   queue_sched.c    the runner: claims, destinations, jobs, sessions, limits
 *   queue_route.c    a destination's route: [routes], MX, implicit MX, null MX
 *   queue_pool.c     source-IP pools: addresses, limits, suspensions
 *   queue_outcome.c  the outcome API: results, retry times, expiry, the store op
 *   queue_dsn.c      pure: the RFC 3464 report, the message as it leaves
 *
 * A destination (struct queue_dest) is a recipient domain and the pool of
 * source addresses its mail leaves from (none: the kernel's): its jobs waiting,
 * its sessions, its resolved route. A job (struct queue_qjob) wraps the public
 * struct queue_job with what the runner keeps: recipient ids, results, and the
 * store op that records them.
 */
#ifndef PETREL_QUEUE_INTERNAL_H
#define PETREL_QUEUE_INTERNAL_H

#include "queue/queue.h"
#include "store/store.h"

struct dns;
struct dns_query;
struct event;
struct queue_dest;
struct queue_qjob;
struct queue_resolve;

/* A transport session as the runner knows it. */
struct queue_link {
	struct queue_dest *dest;
	void *session;
	struct queue_qjob *job; /* the job it runs */
	unsigned messages;      /* jobs sent over it */
	struct queue_link *prev, *next;
};

/* What queue_outcome recorded for one recipient (strings owned). */
struct queue_rcpt_result {
	bool reported;
	enum queue_status status;
	char *reply, *status_code, *mx, *remote_ip, *source_ip, *tls;
	bool remote, dsn_relayed;
};

struct queue_qjob {
	struct queue_job pub; /* first: the transport sees this */
	struct queue *q;
	struct queue_dest *dest; /* NULL once done */
	struct queue_link *link; /* the session running it, or NULL */
	struct queue_qjob *next; /* in the destination's line, or q->finishing */
	struct queue_qjob *prev;

	/* from the claim */
	int64_t *rcpt_ids;
	unsigned *attempts; /* attempts before this one, per recipient */
	bool *delay_warned; /* the sender was told of a delay already, per recipient */
	int64_t created;
	int64_t blob_id;
	char *source;
	struct buf blob; /* the stored message, loaded when the job starts */

	struct queue_rcpt_result *results;

	/* the commit of the outcome */
	struct store_op op;
	struct store_queue_result *store_results;
	struct store_op *bounce; /* the bounce appended in the same op, or NULL */
	struct buf bounce_data;
	struct event *retry_ev;
	bool bounce_made; /* make_bounce ran: bounce is final (NULL: none) */
};

struct queue_dest {
	struct queue *q;
	char *domain;
	char *pool_name;                /* NULL: no pool */
	struct queue_pool *pool;        /* its runtime pool, NULL until found (or none) */
	struct queue_qjob *head, *tail; /* jobs waiting */
	size_t njobs;
	unsigned active; /* sessions */
	struct queue_route route;
	bool route_ok;
	int64_t route_until; /* monotonic ms */
	struct queue_resolve *resolving;
	struct queue_dest *next; /* hash chain */
};

#define QUEUE_DEST_BUCKETS 256

struct queue {
	struct event_base *base;
	struct store *st;
	const struct config *cfg;
	struct dns *dns;
	char *dns_resolver; /* the resolver dns was made for */
	const struct queue_transport *tr;
	void *tr_ctx;

	struct event *timer; /* poll */
	struct event *kick;  /* claim soon */
	bool started, stopping, claiming, recovering;
	struct store_op claim_op;
	struct store_op recover_op;

	struct queue_dest *dests[QUEUE_DEST_BUCKETS];
	size_t waiting;  /* jobs in destination lines */
	unsigned active; /* sessions */
	struct queue_link *links;
	struct queue_qjob *finishing; /* jobs whose outcome is being committed */
	struct queue_pool *pools;     /* runtime pools (queue_pool.c) */
};

/* ---- queue_sched.c -------------------------------------------------------------- */

/* The destination line of a finished job is freed; its session may continue. */
void queue_sched_job_finished(struct queue_qjob *j, bool reusable);
/* Lower-case domain of an address (after the last '@'), into out. */
void queue_rcpt_domain(const char *addr, struct buf *out);

/* ---- queue_pool.c ---------------------------------------------------------------- */

/* The runtime pool of a configured pool name, or NULL when there is none. */
struct queue_pool *queue_pool_get(struct queue *q, const char *name);
const char *queue_pool_name(const struct queue_pool *p);
/* Follows the configuration's [pool.NAME] sections (after SIGHUP). */
void queue_pools_sync(struct queue *q);
void queue_pools_free(struct queue *q);
/* The pool of a message: its API key's when configured, else what [pools]
   says for its envelope sender; NULL for none. Points into the configuration. */
const char *queue_pool_choose(struct queue *q, const char *api_pool, const char *env_from,
                              int64_t queue_id);

enum queue_pool_room {
	QUEUE_POOL_ROOM, /* another session may start */
	QUEUE_POOL_BUSY, /* every usable address is at its max_connections: wait */
	QUEUE_POOL_NONE, /* no address is usable now (why): defer */
};
enum queue_pool_room queue_pool_room(struct queue_pool *p, struct buf *why);
/* The runner's sessions of a pool: +1 when one starts, -1 when it ends. */
void queue_pool_sessions(struct queue_pool *p, int delta);

/* ---- queue_route.c --------------------------------------------------------------- */

enum queue_route_result {
	QUEUE_ROUTE_OK,
	QUEUE_ROUTE_TEMPFAIL, /* defer: why */
	QUEUE_ROUTE_PERMFAIL, /* bounce: why, status */
};

/* route is moved to the callee on QUEUE_ROUTE_OK (it frees it). */
typedef void queue_route_fn(enum queue_route_result r, struct queue_route *route, const char *why,
                            const char *status, void *arg);

/* Resolves domain's route: [routes] first, else its MX hosts (preference
   order, random among equals), else the domain itself (implicit MX); a null MX
   is a permanent failure. The callback runs later, on the loop. */
struct queue_resolve *queue_route_resolve(struct queue *q, const char *domain, queue_route_fn *fn,
                                          void *arg);
void queue_route_cancel(struct queue_resolve **r);
void queue_route_free(struct queue_route *r);

/* ---- queue_outcome.c --------------------------------------------------------------- */

/* Builds and submits the job's store op; the job is freed after its commit. */
void queue_outcome_commit(struct queue_qjob *j);
void queue_qjob_free(struct queue_qjob *j);
/* Reports every recipient not yet reported with r (route failures, shutdown). */
void queue_outcome_all(struct queue_qjob *j, const struct queue_result *r);
/* The wait before attempt number `attempts + 1` (seconds), from [queue] retry. */
int64_t queue_retry_delay(const struct config *cfg, unsigned attempts);

/* ---- queue_dsn.c (pure) ------------------------------------------------------------ */

/* Where the message to send starts: after a first "Return-Path:" field. */
size_t queue_message_start(const char *msg, size_t len);
/* Does RFC 3461 NOTIFY (NULL: not given) ask for this kind of report?
   kind: "FAILURE", "SUCCESS" or "DELAY". Not given means FAILURE and DELAY
   (RFC 3461 4.1 leaves DELAY to the MTA; most MTAs send it). */
bool queue_dsn_wanted(const char *notify, const char *kind);

struct queue_dsn_rcpt {
	const char *rcpt;
	const char *orcpt;      /* "rfc822;addr" or NULL */
	const char *action;     /* "failed", "delayed", "delivered", "relayed" */
	const char *status;     /* "5.1.1" */
	const char *remote_mta; /* host name, or NULL */
	const char *diagnostic; /* the remote reply, or NULL */
	const char *reason;     /* our words when there is no remote reply, or NULL */
	int64_t retry_until;    /* delayed: when delivery stops being tried (0: unsaid) */
};

struct queue_dsn {
	const char *hostname; /* ours: Reporting-MTA, From: MAILER-DAEMON@ */
	const char *to;       /* the envelope sender */
	const char *envid;    /* RFC 3461 ENVID or NULL */
	bool full;            /* RET=FULL: the whole message, else its header */
	const char *msg;      /* the original message as it left */
	size_t len;
	int64_t arrival; /* seconds since the epoch */
	int64_t now;
	const char *boundary; /* unique text */
	const char *message_id;
	const struct queue_dsn_rcpt *rcpts;
	size_t nrcpts;
};

/* Appends the RFC 3464 multipart/report message, with a leading
   "Return-Path: <>" field like every message the store keeps. */
void queue_dsn_build(const struct queue_dsn *d, struct buf *out);

#endif
