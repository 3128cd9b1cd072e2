/*
 * queue_sched — the runner: claims, destinations, jobs, sessions and limits.
 *
 * Claiming. One claim is in flight at a time. It is started by a kick (a
 * commit queued mail; coalesced into one event per loop turn) or by the poll
 * timer when the store says something is due, and only while fewer than half
 * a batch of jobs wait: the rest stays in the store, where it is safe. A full
 * batch kicks again at once.
 *
 * Jobs. The recipients of one claim are grouped by message and then by
 * domain; each group is a job, put in line at its destination: its domain and
 * the message's source-IP pool (queue_pool.c). A destination
 * resolves its route once (queue_route.c) and keeps it for
 * QUEUE_ROUTE_CACHE_SECONDS; a route failure finishes every job in line.
 *
 * Sessions. dispatch() starts sessions while the destination and the whole
 * runner are under their limits ([queue] max_connections_per_destination,
 * max_connections) and the pool has a free address (else jobs wait; with no
 * usable address at all they are deferred). A job's message is read from the store only when its
 * session starts. A session that finished a job takes the next job in line of
 * its destination (up to max_messages_per_connection), else it is closed.
 *
 * Shutdown aborts sessions and drops waiting jobs: their recipients stay
 * claimed in the store until the next start recovers them (the unavoidable
 * window: a message the remote end took whose outcome was not yet committed
 * is sent again).
 */
#include "queue/queue_internal.h"

#include "core/config.h"
#include "core/dns.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void dispatch(struct queue *q);
static void claim(struct queue *q);

void queue_rcpt_domain(const char *addr, struct buf *out)
{
	const char *at = strrchr(addr, '@');
	const char *d = at ? at + 1 : addr;
	for (; *d; d++)
		buf_putc(out, *d >= 'A' && *d <= 'Z' ? (char)(*d - 'A' + 'a') : *d);
}

/* ---- destinations ------------------------------------------------------------------ */

static unsigned dest_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % QUEUE_DEST_BUCKETS;
}

static bool same_pool(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static struct queue_dest *dest_get(struct queue *q, const char *domain, const char *pool)
{
	unsigned b = dest_hash(domain);
	for (struct queue_dest *d = q->dests[b]; d; d = d->next)
		if (strcmp(d->domain, domain) == 0 && same_pool(d->pool_name, pool))
			return d;
	struct queue_dest *d = xcalloc(1, sizeof *d);
	d->q = q;
	d->domain = xstrdup(domain);
	d->pool_name = pool ? xstrdup(pool) : NULL;
	d->next = q->dests[b];
	q->dests[b] = d;
	return d;
}

static void dest_free(struct queue_dest *d)
{
	queue_route_cancel(&d->resolving);
	queue_route_free(&d->route);
	free(d->domain);
	free(d->pool_name);
	free(d);
}

static bool route_fresh(const struct queue_dest *d)
{
	return d->route_ok && time_mono_ms() < d->route_until;
}

static void dest_push(struct queue *q, struct queue_dest *d, struct queue_qjob *j)
{
	j->dest = d;
	j->next = NULL;
	if (d->tail)
		d->tail->next = j;
	else
		d->head = j;
	d->tail = j;
	d->njobs++;
	q->waiting++;
}

static struct queue_qjob *dest_pop(struct queue *q, struct queue_dest *d)
{
	struct queue_qjob *j = d->head;
	if (!j)
		return NULL;
	d->head = j->next;
	if (!d->head)
		d->tail = NULL;
	j->next = NULL;
	d->njobs--;
	q->waiting--;
	return j;
}

/* Frees destinations with nothing to do and no fresh route. */
static void dest_collect(struct queue *q)
{
	for (size_t b = 0; b < QUEUE_DEST_BUCKETS; b++) {
		struct queue_dest **pp = &q->dests[b];
		while (*pp) {
			struct queue_dest *d = *pp;
			if (d->njobs == 0 && d->active == 0 && !d->resolving && !route_fresh(d)) {
				*pp = d->next;
				dest_free(d);
			} else {
				pp = &d->next;
			}
		}
	}
}

/* ---- jobs ----------------------------------------------------------------------------- */

static bool has_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* A job that never reached a session: every recipient gets r, then the commit. */
static void job_fail(struct queue_qjob *j, const struct queue_result *r)
{
	queue_outcome_all(j, r);
	j->dest = NULL;
	queue_outcome_commit(j);
}

/* Reads the job's message; -1 (the job then failed and is gone) when it cannot. */
static int job_load(struct queue_qjob *j)
{
	struct buf err = BUF_INIT;
	buf_reset(&j->blob);
	if (store_blob_read(j->q->st, j->blob_id, &j->blob, &err) < 0) {
		char *why = xasprintf("cannot read the message: %s", buf_cstr(&err));
		struct queue_result r = {
		        .status = QUEUE_DEFERRED, .reply = why, .status_code = "4.3.0"};
		log_error("queue id=%lld event=read-failed reason=\"%s\"",
		          (long long)j->pub.queue_id, buf_cstr(&err));
		job_fail(j, &r);
		free(why);
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	const char *msg = j->blob.data ? j->blob.data : "";
	size_t start = queue_message_start(msg, j->blob.len);
	j->pub.data = msg + start;
	j->pub.len = j->blob.len - start;
	j->pub.body_8bit = false;
	for (size_t i = 0; i < j->pub.len && !j->pub.body_8bit; i++)
		j->pub.body_8bit = (unsigned char)j->pub.data[i] >= 0x80;
	j->pub.smtputf8 = has_non_ascii(j->pub.env_from);
	for (size_t i = 0; i < j->pub.nrcpts; i++)
		j->pub.smtputf8 = j->pub.smtputf8 || has_non_ascii(j->pub.rcpts[i].addr);
	return 0;
}

static struct queue_qjob *job_new(struct queue *q, const struct store_queue_item *first,
                                  const char *domain)
{
	struct queue_qjob *j = xcalloc(1, sizeof *j);
	j->q = q;
	j->pub.queue_id = first->queue_id;
	j->pub.domain = xstrdup(domain);
	j->pub.env_from = xstrdup(first->env_from);
	j->pub.dsn_ret = first->dsn_ret ? xstrdup(first->dsn_ret) : NULL;
	j->pub.dsn_envid = first->dsn_envid ? xstrdup(first->dsn_envid) : NULL;
	j->created = first->created;
	j->blob_id = first->blob_id;
	j->source = xstrdup(first->source);
	return j;
}

static void job_add_rcpt(struct queue_qjob *j, const struct store_queue_item *it)
{
	size_t n = j->pub.nrcpts;
	j->pub.rcpts = xrealloc(j->pub.rcpts, (n + 1) * sizeof *j->pub.rcpts);
	j->rcpt_ids = xrealloc(j->rcpt_ids, (n + 1) * sizeof *j->rcpt_ids);
	j->attempts = xrealloc(j->attempts, (n + 1) * sizeof *j->attempts);
	j->delay_warned = xrealloc(j->delay_warned, (n + 1) * sizeof *j->delay_warned);
	j->pub.rcpts[n] = (struct queue_job_rcpt){
	        xstrdup(it->rcpt),
	        it->dsn_notify ? xstrdup(it->dsn_notify) : NULL,
	        it->dsn_orcpt ? xstrdup(it->dsn_orcpt) : NULL,
	};
	j->rcpt_ids[n] = it->rcpt_id;
	j->attempts[n] = it->attempts;
	j->delay_warned[n] = it->delay_warned;
	j->pub.nrcpts = n + 1;
}

/* Turns claimed recipients (by queue id) into jobs, one per message and domain. */
static void make_jobs(struct queue *q, const struct store_queue_item *items, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t end = i;
		while (end < n && items[end].queue_id == items[i].queue_id)
			end++;
		bool *taken = xcalloc(end - i, sizeof *taken);
		struct buf dom = BUF_INIT, other = BUF_INIT;
		const char *pool =
		        queue_pool_choose(q, items[i].pool, items[i].env_from, items[i].queue_id);
		for (size_t a = i; a < end; a++) {
			if (taken[a - i])
				continue;
			buf_reset(&dom);
			queue_rcpt_domain(items[a].rcpt, &dom);
			struct queue_qjob *j = job_new(q, &items[a], buf_cstr(&dom));
			for (size_t b = a; b < end; b++) {
				if (taken[b - i])
					continue;
				buf_reset(&other);
				queue_rcpt_domain(items[b].rcpt, &other);
				if (strcmp(buf_cstr(&other), buf_cstr(&dom)) != 0)
					continue;
				taken[b - i] = true;
				job_add_rcpt(j, &items[b]);
			}
			j->results = xcalloc(j->pub.nrcpts, sizeof *j->results);
			dest_push(q, dest_get(q, buf_cstr(&dom), pool), j);
		}
		buf_free(&dom);
		buf_free(&other);
		free(taken);
		i = end;
	}
}

/* ---- sessions ----------------------------------------------------------------------------- */

static struct queue_link *link_new(struct queue *q, struct queue_dest *d)
{
	struct queue_link *l = xcalloc(1, sizeof *l);
	l->dest = d;
	l->next = q->links;
	if (q->links)
		q->links->prev = l;
	q->links = l;
	d->active++;
	q->active++;
	if (d->pool)
		queue_pool_sessions(d->pool, 1);
	return l;
}

static void link_free(struct queue *q, struct queue_link *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		q->links = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->dest->active--;
	q->active--;
	if (l->dest->pool)
		queue_pool_sessions(l->dest->pool, -1);
	free(l);
}

/* Pops jobs of d until one loads; NULL when none is left. */
static struct queue_qjob *next_job(struct queue *q, struct queue_dest *d)
{
	struct queue_qjob *j;
	while ((j = dest_pop(q, d)) != NULL) {
		j->dest = d;
		if (job_load(j) == 0)
			return j;
	}
	return NULL;
}

void queue_sched_job_finished(struct queue_qjob *j, bool reusable)
{
	struct queue *q = j->q;
	struct queue_link *l = j->link;
	j->link = NULL;
	j->dest = NULL;
	if (!l)
		return;
	l->job = NULL;
	l->messages++;
	struct queue_dest *d = l->dest;
	if (reusable && !q->stopping && l->messages < q->cfg->queue_max_messages_per_connection) {
		struct queue_qjob *n = next_job(q, d);
		if (n) {
			n->link = l;
			l->job = n;
			q->tr->send(l->session, &n->pub);
			return;
		}
	}
	if (reusable)
		q->tr->close(l->session);
	link_free(q, l);
	if (!q->stopping)
		dispatch(q);
}

static void on_route(enum queue_route_result r, struct queue_route *route, const char *why,
                     const char *status, void *arg)
{
	struct queue_dest *d = arg;
	struct queue *q = d->q;
	d->resolving = NULL;
	if (r == QUEUE_ROUTE_OK) {
		queue_route_free(&d->route);
		d->route = *route;
		memset(route, 0, sizeof *route);
		d->route_ok = true;
		d->route_until = time_mono_ms() + QUEUE_ROUTE_CACHE_SECONDS * 1000;
		log_debug("queue domain=%s pool=%s event=route hops=%zu first=%s", d->domain,
		          d->pool_name ? d->pool_name : "-", d->route.nhops, d->route.hops[0].ip);
		dispatch(q);
		return;
	}
	log_info("queue domain=%s event=route-failed result=%s jobs=%zu reason=\"%s\"", d->domain,
	         r == QUEUE_ROUTE_PERMFAIL ? "bounce" : "defer", d->njobs, why);
	struct queue_result res = {
	        .status = r == QUEUE_ROUTE_PERMFAIL ? QUEUE_BOUNCED : QUEUE_DEFERRED,
	        .reply = why,
	        .status_code = status,
	};
	struct queue_qjob *j;
	while ((j = dest_pop(q, d)) != NULL)
		job_fail(j, &res);
}

/*
 * May d start a session as far as its pool goes? Without a pool, yes. When no
 * address of the pool can be used, the jobs waiting are deferred.
 */
static bool pool_ready(struct queue *q, struct queue_dest *d)
{
	if (!d->pool_name)
		return true;
	if (!d->pool)
		d->pool = queue_pool_get(q, d->pool_name);
	struct buf why = BUF_INIT;
	enum queue_pool_room room = QUEUE_POOL_NONE;
	if (d->pool)
		room = queue_pool_room(d->pool, &why);
	else
		buf_printf(&why, "pool %s is not configured", d->pool_name);
	if (room == QUEUE_POOL_NONE) {
		log_info("queue domain=%s pool=%s event=no-source jobs=%zu reason=\"%s\"",
		         d->domain, d->pool_name, d->njobs, buf_cstr(&why));
		struct queue_result res = {
		        .status = QUEUE_DEFERRED, .reply = buf_cstr(&why), .status_code = "4.3.0"};
		struct queue_qjob *j;
		while ((j = dest_pop(q, d)) != NULL)
			job_fail(j, &res);
	}
	buf_free(&why);
	return room == QUEUE_POOL_ROOM;
}

static void dispatch(struct queue *q)
{
	if (q->stopping || !q->tr)
		return;
	uint64_t global = q->cfg->queue_max_connections;
	uint64_t per_dest = q->cfg->queue_max_per_destination;
	for (size_t b = 0; b < QUEUE_DEST_BUCKETS; b++) {
		for (struct queue_dest *d = q->dests[b]; d; d = d->next) {
			if (d->njobs == 0)
				continue;
			if (!route_fresh(d)) {
				if (!d->resolving)
					d->resolving =
					        queue_route_resolve(q, d->domain, on_route, d);
				continue;
			}
			while (d->njobs > 0 && d->active < per_dest && q->active < global) {
				if (!pool_ready(q, d))
					break;
				struct queue_qjob *j = next_job(q, d);
				if (!j)
					break;
				struct queue_link *l = link_new(q, d);
				l->job = j;
				j->link = l;
				d->route.pool = d->pool;
				l->session = q->tr->open(q->tr_ctx, &d->route, &j->pub);
			}
		}
	}
}

/* ---- claims ----------------------------------------------------------------------------- */

static void on_claimed(struct store_op *op, void *arg)
{
	struct queue *q = arg;
	q->claiming = false;
	if (q->stopping) {
		store_op_clear(op);
		return;
	}
	bool full = false;
	if (op->result < 0) {
		log_warn("queue event=claim-failed reason=\"%s\"", buf_cstr(&op->err));
	} else if (op->u.claim.nitems_r > 0) {
		log_debug("queue event=claimed rcpts=%zu", op->u.claim.nitems_r);
		full = op->u.claim.nitems_r == op->u.claim.max;
		make_jobs(q, op->u.claim.items_r, op->u.claim.nitems_r);
	}
	store_op_clear(op);
	dispatch(q);
	if (full)
		queue_kick(q);
}

static void claim(struct queue *q)
{
	if (q->stopping || !q->started || q->claiming || !q->tr ||
	    q->waiting >= QUEUE_CLAIM_BATCH / 2 || q->active >= q->cfg->queue_max_connections)
		return;
	q->claiming = true;
	store_op_init(&q->claim_op, STORE_OP_QUEUE_CLAIM);
	q->claim_op.u.claim.lease = QUEUE_LEASE_SECONDS;
	q->claim_op.u.claim.max = QUEUE_CLAIM_BATCH;
	store_submit(q->st, &q->claim_op, on_claimed, q);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	claim(arg);
}

void queue_kick(struct queue *q)
{
	if (!q->stopping && q->started)
		event_active(q->kick, EV_READ, 0);
}

static void on_store_notify(void *arg)
{
	queue_kick(arg);
}

/* A new [dns] resolver (SIGHUP) takes effect when no lookup is running. */
static void follow_resolver(struct queue *q)
{
	if (strcmp(q->dns_resolver, q->cfg->dns_resolver) == 0)
		return;
	for (size_t b = 0; b < QUEUE_DEST_BUCKETS; b++)
		for (struct queue_dest *d = q->dests[b]; d; d = d->next)
			if (d->resolving)
				return;
	struct buf err = BUF_INIT;
	struct dns *dns = dns_new(q->base, q->cfg->dns_resolver, &err);
	if (!dns) {
		log_error("queue event=dns-resolver-failed reason=\"%s\"", buf_cstr(&err));
	} else {
		dns_free(&q->dns);
		q->dns = dns;
		free(q->dns_resolver);
		q->dns_resolver = xstrdup(q->cfg->dns_resolver);
		log_info("queue event=dns-resolver resolver=%s",
		         *q->dns_resolver ? q->dns_resolver : "system");
	}
	buf_free(&err);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	if (q->stopping)
		return;
	dest_collect(q);
	follow_resolver(q);
	queue_pools_sync(q);
	dispatch(q); /* a pool address may be back, or a pool less busy */
	if (q->claiming || q->waiting >= QUEUE_CLAIM_BATCH / 2)
		return;
	int64_t when;
	struct buf err = BUF_INIT;
	enum store_lookup l = store_queue_next_due(q->st, (int64_t)time(NULL), &when, &err);
	if (l == STORE_ERROR)
		log_warn("queue event=poll-failed reason=\"%s\"", buf_cstr(&err));
	else if (l == STORE_FOUND && when <= (int64_t)time(NULL))
		claim(q);
	buf_free(&err);
}

/* ---- the runner ---------------------------------------------------------------------------- */

struct queue *queue_new(struct event_base *base, struct store *st, const struct config *cfg,
                        struct buf *err)
{
	struct queue *q = xcalloc(1, sizeof *q);
	q->base = base;
	q->st = st;
	q->cfg = cfg;
	q->dns = dns_new(base, cfg->dns_resolver, err);
	if (!q->dns) {
		free(q);
		return NULL;
	}
	q->dns_resolver = xstrdup(cfg->dns_resolver);
	q->timer = event_new(base, -1, EV_PERSIST, on_timer, q);
	q->kick = event_new(base, -1, 0, on_kick, q);
	if (!q->timer || !q->kick)
		panic("queue: cannot create events");
	return q;
}

void queue_set_transport(struct queue *q, const struct queue_transport *t, void *ctx)
{
	q->tr = t;
	q->tr_ctx = ctx;
}

static void on_recovered(struct store_op *op, void *arg)
{
	struct queue *q = arg;
	q->recovering = false;
	if (op->result < 0)
		log_error("queue event=recover-failed reason=\"%s\"", buf_cstr(&op->err));
	else if (op->u.queue.count_r > 0)
		log_info("queue event=recovered rcpts=%zu", op->u.queue.count_r);
	store_op_clear(op);
	if (q->stopping)
		return;
	q->started = true;
	struct timeval tv = {QUEUE_POLL_MS / 1000, (QUEUE_POLL_MS % 1000) * 1000};
	event_add(q->timer, &tv);
	claim(q);
}

int queue_start(struct queue *q, struct buf *err)
{
	if (!q->tr) {
		buf_puts(err, "the queue has no transport");
		return -1;
	}
	store_queue_notify(q->st, on_store_notify, q);
	queue_pools_sync(q);
	q->recovering = true;
	store_op_init(&q->recover_op, STORE_OP_QUEUE_ADMIN);
	q->recover_op.u.queue.action = STORE_QUEUE_RECOVER;
	store_submit(q->st, &q->recover_op, on_recovered, q);
	return 0;
}

void queue_stop(struct queue *q)
{
	if (q->stopping)
		return;
	q->stopping = true;
	store_queue_notify(q->st, NULL, NULL);
	event_del(q->timer);
	event_del(q->kick);
	while (q->links) {
		struct queue_link *l = q->links;
		if (q->tr)
			q->tr->abort(l->session);
		if (l->job)
			queue_qjob_free(l->job);
		link_free(q, l);
	}
	size_t dropped = 0;
	for (size_t b = 0; b < QUEUE_DEST_BUCKETS; b++) {
		for (struct queue_dest *d = q->dests[b]; d; d = d->next) {
			queue_route_cancel(&d->resolving);
			struct queue_qjob *j;
			while ((j = dest_pop(q, d)) != NULL) {
				queue_qjob_free(j);
				dropped++;
			}
		}
	}
	log_info("queue event=stopped jobs_left=%zu", dropped);
}

void queue_free(struct queue **qp)
{
	struct queue *q = *qp;
	if (!q)
		return;
	queue_stop(q);
	while (q->finishing) {
		struct queue_qjob *j = q->finishing;
		q->finishing = j->next;
		queue_qjob_free(j);
	}
	for (size_t b = 0; b < QUEUE_DEST_BUCKETS; b++) {
		while (q->dests[b]) {
			struct queue_dest *d = q->dests[b];
			q->dests[b] = d->next;
			dest_free(d);
		}
	}
	queue_pools_free(q);
	dns_free(&q->dns);
	free(q->dns_resolver);
	event_free(q->timer);
	event_free(q->kick);
	free(q);
	*qp = NULL;
}
