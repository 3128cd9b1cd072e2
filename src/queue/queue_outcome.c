/*
 * queue_outcome — the one outcome API, and what it turns into in the store.
 *
 * queue_outcome() keeps one recipient's result; queue_job_done() hands the job
 * back. The job's results then become one STORE_OP_QUEUE_OUTCOME:
 *   delivered -> "delivered"; bounced -> "bounced";
 *   deferred  -> "deferred" until the next try ([queue] retry after this many
 *                attempts, never past created + max_age), or "expired" when
 *                the message is older than [queue] max_age;
 * each with its delivery event, and, in the same transaction, the bounce (or
 * success or delay report) to the envelope sender when RFC 3461 NOTIFY asks for
 * it (by default: failures, and delays): into the sender's INBOX when the sender is one of
 * our accounts, else queued. A delay report (action delayed) is sent once per
 * recipient, at the first deferral [queue] delay_warning or more after the
 * message was queued; the store remembers that it was. The null sender never gets one (a bounce of
 * a bounce is dropped, with a log line). The job is freed once the op is durable; an op that fails
 * for a temporary reason is tried again.
 */
#include "queue/queue_internal.h"

#include "core/config.h"
#include "mime/mime.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const status_names[] = {"delivered", "deferred", "bounced"};

void queue_outcome(struct queue_job *job, size_t i, const struct queue_result *r)
{
	struct queue_qjob *j = (struct queue_qjob *)job;
	if (i >= job->nrcpts)
		panic("queue_outcome: recipient %zu of %zu", i, job->nrcpts);
	struct queue_rcpt_result *res = &j->results[i];
	if (res->reported)
		panic("queue_outcome: recipient %s of queue %lld reported twice",
		      job->rcpts[i].addr, (long long)job->queue_id);
	res->reported = true;
	res->status = r->status;
	res->reply = r->reply ? xstrdup(r->reply) : NULL;
	res->status_code = r->status_code ? xstrdup(r->status_code) : NULL;
	res->mx = r->mx ? xstrdup(r->mx) : NULL;
	res->remote_ip = r->remote_ip ? xstrdup(r->remote_ip) : NULL;
	res->source_ip = r->source_ip ? xstrdup(r->source_ip) : NULL;
	res->tls = r->tls && *r->tls ? xstrdup(r->tls) : NULL;
	res->remote = r->remote;
	res->dsn_relayed = r->dsn_relayed;
}

void queue_outcome_all(struct queue_qjob *j, const struct queue_result *r)
{
	for (size_t i = 0; i < j->pub.nrcpts; i++)
		if (!j->results[i].reported)
			queue_outcome(&j->pub, i, r);
}

void queue_job_done(struct queue_job *job, bool reusable)
{
	struct queue_qjob *j = (struct queue_qjob *)job;
	for (size_t i = 0; i < job->nrcpts; i++)
		if (!j->results[i].reported)
			panic("queue_job_done: recipient %s of queue %lld not reported",
			      job->rcpts[i].addr, (long long)job->queue_id);
	queue_outcome_commit(j);
	queue_sched_job_finished(j, reusable);
}

int64_t queue_retry_delay(const struct config *cfg, unsigned attempts)
{
	uint64_t v[CONFIG_MAX_RETRY];
	size_t n = 0;
	struct buf err = BUF_INIT;
	if (config_parse_durations(cfg->queue_retry, v, CONFIG_MAX_RETRY, &n, &err) < 0 || n == 0) {
		v[0] = 300; /* the validated configuration cannot get here */
		n = 1;
	}
	buf_free(&err);
	size_t i = attempts == 0 ? 0 : attempts - 1;
	return (int64_t)v[i < n ? i : n - 1];
}

/* ---- freeing ----------------------------------------------------------------------- */

static void free_bounce(struct queue_qjob *j)
{
	if (!j->bounce)
		return;
	free((void *)j->bounce->u.append.envelope);
	free((void *)j->bounce->u.append.bodystructure);
	free(j->bounce->u.append.targets);
	for (size_t i = 0; i < j->bounce->u.append.nqueue; i++)
		free((void *)j->bounce->u.append.queue[i].rcpt);
	free((void *)j->bounce->u.append.queue);
	store_op_clear(j->bounce);
	xfree(&j->bounce);
	buf_free(&j->bounce_data);
}

void queue_qjob_free(struct queue_qjob *j)
{
	for (size_t i = 0; i < j->pub.nrcpts; i++) {
		struct queue_rcpt_result *r = &j->results[i];
		free(r->reply);
		free(r->status_code);
		free(r->mx);
		free(r->remote_ip);
		free(r->source_ip);
		free(r->tls);
		free((void *)j->pub.rcpts[i].addr);
		free((void *)j->pub.rcpts[i].dsn_notify);
		free((void *)j->pub.rcpts[i].dsn_orcpt);
	}
	free(j->results);
	free(j->pub.rcpts);
	free((void *)j->pub.domain);
	free((void *)j->pub.env_from);
	free((void *)j->pub.dsn_ret);
	free((void *)j->pub.dsn_envid);
	free(j->rcpt_ids);
	free(j->attempts);
	free(j->delay_warned);
	free(j->source);
	buf_free(&j->blob);
	free(j->store_results);
	free_bounce(j);
	store_op_clear(&j->op);
	if (j->retry_ev)
		event_free(j->retry_ev);
	free(j);
}

/* ---- the bounce ---------------------------------------------------------------------- */

static const char *default_status(enum queue_status s)
{
	return s == QUEUE_DELIVERED ? "2.0.0" : s == QUEUE_DEFERRED ? "4.0.0" : "5.0.0";
}

/*
 * Where a report to sender goes: the INBOX of each local account it resolves
 * to, the queue for foreign addresses (the sender's own, or an alias's
 * targets). 0; 1 when there is nowhere (an unknown local address); -1 when the
 * store cannot say now (try again later). The queue's addresses are copies,
 * freed with the op.
 */
static int bounce_targets(struct queue *q, const char *sender, struct store_op *op)
{
	struct buf err = BUF_INIT, dom = BUF_INIT;
	int r = 0;
	queue_rcpt_domain(sender, &dom);
	enum store_lookup local = store_domain_exists(q->st, buf_cstr(&dom), &err);
	if (local == STORE_ERROR) {
		r = -1;
	} else if (local == STORE_NOT_FOUND) {
		struct store_queue_rcpt *qr = xcalloc(1, sizeof *qr);
		qr[0].rcpt = xstrdup(sender);
		op->u.append.queue = qr;
		op->u.append.nqueue = 1;
	} else {
		struct store_rcpt rc;
		enum store_lookup l = store_rcpt_resolve(q->st, sender, &rc, &err);
		if (l == STORE_ERROR)
			r = -1;
		else if (l == STORE_NOT_FOUND)
			r = 1;
		if (l != STORE_FOUND)
			goto out;
		struct store_append_target *t = xcalloc(rc.naccounts + 1, sizeof *t);
		struct store_queue_rcpt *qr = xcalloc(rc.nforeign + 1, sizeof *qr);
		size_t nt = 0;
		for (size_t i = 0; i < rc.naccounts && r == 0; i++) {
			struct store_mailbox m = {0};
			enum store_lookup ml =
			        store_mailbox_get(q->st, rc.account_ids[i], "INBOX", &m, &err);
			if (ml == STORE_FOUND)
				t[nt++].mailbox_id = m.id;
			else if (ml == STORE_ERROR)
				r = -1;
			store_mailbox_clear(&m);
		}
		for (size_t i = 0; i < rc.nforeign; i++)
			qr[i].rcpt = xstrdup(rc.foreign[i]);
		op->u.append.targets = t;
		op->u.append.ntargets = nt;
		op->u.append.queue = qr;
		op->u.append.nqueue = rc.nforeign;
		if (r == 0 && nt == 0 && rc.nforeign == 0)
			r = 1;
		store_rcpt_clear(&rc);
	}
out:
	if (r < 0)
		log_warn("queue event=bounce-target-failed sender=%s reason=\"%s\"", sender,
		         buf_cstr(&err));
	buf_free(&err);
	buf_free(&dom);
	return r;
}

/*
 * Builds the report for the recipients whose result the sender asked to hear
 * of, into j->bounce. -1 when it has to wait (the store cannot be read now).
 */
static int make_bounce(struct queue_qjob *j, int64_t now)
{
	struct queue *q = j->q;
	const struct queue_job *job = &j->pub;
	struct queue_dsn_rcpt *dr = xcalloc(job->nrcpts + 1, sizeof *dr);
	size_t n = 0, failed = 0;
	for (size_t i = 0; i < job->nrcpts; i++) {
		const struct queue_rcpt_result *r = &j->results[i];
		const struct store_queue_result *sr = &j->store_results[i];
		bool fail = strcmp(sr->state, "bounced") == 0 || strcmp(sr->state, "expired") == 0;
		bool success = strcmp(sr->state, "delivered") == 0 && !r->dsn_relayed;
		bool delayed = sr->delay_warned; /* queue_outcome_commit checked NOTIFY */
		if (fail && !queue_dsn_wanted(job->rcpts[i].dsn_notify, "FAILURE"))
			continue;
		if (success && !queue_dsn_wanted(job->rcpts[i].dsn_notify, "SUCCESS"))
			continue;
		if (!fail && !success && !delayed)
			continue;
		bool expired = strcmp(sr->state, "expired") == 0;
		const char *status = r->status_code ? r->status_code : default_status(r->status);
		if (success)
			status = "2.0.0";
		else if (expired && !r->status_code)
			status = "4.4.7";
		dr[n] = (struct queue_dsn_rcpt){
		        .rcpt = job->rcpts[i].addr,
		        .orcpt = job->rcpts[i].dsn_orcpt,
		        .action = fail      ? "failed"
		                  : delayed ? "delayed"
		                            : "relayed",
		        .retry_until = delayed ? j->created + (int64_t)q->cfg->queue_max_age : 0,
		        .status = status,
		        .remote_mta = r->remote ? r->mx : NULL,
		        .diagnostic = r->remote ? r->reply : NULL,
		        .reason = expired ? "the message stayed in the queue too long; the last "
		                            "attempt failed for a temporary reason"
		                  : r->remote ? NULL
		                              : r->reply,
		};
		failed += fail;
		n++;
	}
	int rc = 0;
	if (n == 0)
		goto out;
	if (job->env_from[0] == '\0') {
		if (failed)
			log_info("queue id=%lld event=bounce-dropped reason=null-sender rcpts=%zu",
			         (long long)job->queue_id, failed);
		goto out;
	}
	char boundary[33], mid[33];
	random_id(boundary, 16);
	random_id(mid, 16);
	char *message_id = xasprintf("%s@%s", mid, q->cfg->hostname);
	char *bnd = xasprintf("=_petrel_%s", boundary);
	struct queue_dsn d = {
	        .hostname = q->cfg->hostname,
	        .to = job->env_from,
	        .envid = job->dsn_envid,
	        /* RFC 3461 4.3: RET is about failure reports */
	        .full = failed > 0 && job->dsn_ret &&
	                str_eq_cstr_nocase(str_c(job->dsn_ret), "FULL"),
	        .msg = job->data,
	        .len = job->len,
	        .arrival = j->created,
	        .now = now,
	        .boundary = bnd,
	        .message_id = message_id,
	        .rcpts = dr,
	        .nrcpts = n,
	};
	queue_dsn_build(&d, &j->bounce_data);
	free(message_id);
	free(bnd);
	j->bounce = xcalloc(1, sizeof *j->bounce);
	store_op_init(j->bounce, STORE_OP_APPEND);
	int t = bounce_targets(q, job->env_from, j->bounce);
	if (t != 0) {
		if (t > 0)
			log_warn("queue id=%lld event=bounce-dropped reason=unknown-local-sender "
			         "sender=%s",
			         (long long)job->queue_id, job->env_from);
		free_bounce(j);
		rc = t < 0 ? -1 : 0;
		goto out;
	}
	struct store_op *b = j->bounce;
	b->u.append.data = j->bounce_data.data;
	b->u.append.len = j->bounce_data.len;
	b->u.append.env_from = "";
	b->u.append.source = "bounce";
	if (b->u.append.ntargets > 0) {
		struct mime_part *root = NULL;
		struct buf env = BUF_INIT, bs = BUF_INIT;
		mime_parse(j->bounce_data.data, j->bounce_data.len, &root);
		mime_envelope(j->bounce_data.data, j->bounce_data.len, &env);
		mime_bodystructure(root, j->bounce_data.data, true, &bs);
		mime_part_free(&root);
		b->u.append.envelope = buf_steal(&env);
		b->u.append.bodystructure = buf_steal(&bs);
	}
out:
	free(dr);
	return rc;
}

/* ---- the commit ------------------------------------------------------------------------ */

static void log_results(struct queue_qjob *j)
{
	for (size_t i = 0; i < j->pub.nrcpts; i++) {
		const struct store_queue_result *sr = &j->store_results[i];
		const struct queue_rcpt_result *r = &j->results[i];
		struct buf line = BUF_INIT;
		buf_printf(&line, "queue id=%lld rcpt=", (long long)j->pub.queue_id);
		log_value(&line, j->pub.rcpts[i].addr, strlen(j->pub.rcpts[i].addr));
		buf_printf(&line, " event=%s attempt=%u", sr->kind, j->attempts[i] + 1);
		if (r->mx)
			buf_printf(&line, " mx=%s", r->mx);
		if (r->remote_ip)
			buf_printf(&line, " ip=%s", r->remote_ip);
		if (r->tls) {
			buf_puts(&line, " tls=");
			log_value(&line, r->tls, strlen(r->tls));
		}
		if (strcmp(sr->state, "deferred") == 0)
			buf_printf(&line, " retry_in=%llds",
			           (long long)(sr->next_attempt - (int64_t)time(NULL)));
		if (r->source_ip)
			buf_printf(&line, " source=%s", r->source_ip);
		if (sr->delay_warned)
			buf_puts(&line, " delay_report=1");
		if (r->reply) {
			buf_puts(&line, " reply=");
			log_value(&line, r->reply, strlen(r->reply));
		}
		log_info("%s", buf_cstr(&line));
		buf_free(&line);
	}
}

static void submit(struct queue_qjob *j);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	submit(arg);
}

static void unlink_finishing(struct queue_qjob *j)
{
	struct queue *q = j->q;
	if (j->prev)
		j->prev->next = j->next;
	else
		q->finishing = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
}

static void committed(struct store_op *op, void *arg)
{
	struct queue_qjob *j = arg;
	struct queue *q = j->q;
	if (op->result < 0) {
		struct buf v = BUF_INIT;
		log_value(&v, buf_cstr(&op->err), op->err.len);
		log_error("queue id=%lld event=outcome-not-recorded error=%d reason=%s%s",
		          (long long)j->pub.queue_id, (int)op->error, buf_cstr(&v),
		          op->error == STORE_ERR_TEMP && !q->stopping ? " retry=1s" : "");
		buf_free(&v);
		if (op->error == STORE_ERR_TEMP && !q->stopping) {
			if (!j->retry_ev)
				j->retry_ev = evtimer_new(q->base, on_retry, j);
			struct timeval tv = {QUEUE_OUTCOME_RETRY_MS / 1000,
			                     (QUEUE_OUTCOME_RETRY_MS % 1000) * 1000};
			evtimer_add(j->retry_ev, &tv);
			return;
		}
	} else {
		log_results(j);
		if (j->bounce)
			log_info("queue id=%lld event=bounce-%s to=%s", (long long)j->pub.queue_id,
			         j->bounce->u.append.ntargets ? "delivered" : "queued",
			         j->pub.env_from);
	}
	unlink_finishing(j);
	queue_qjob_free(j);
}

static void submit(struct queue_qjob *j)
{
	struct queue *q = j->q;
	if (!j->bounce_made) {
		if (make_bounce(j, (int64_t)time(NULL)) < 0) {
			if (q->stopping) {
				/* Recorded at the next start: the claim is recovered then. */
				unlink_finishing(j);
				queue_qjob_free(j);
				return;
			}
			/* The store cannot be read now: wait as for a failed commit. */
			if (!j->retry_ev)
				j->retry_ev = evtimer_new(q->base, on_retry, j);
			struct timeval tv = {QUEUE_OUTCOME_RETRY_MS / 1000, 0};
			evtimer_add(j->retry_ev, &tv);
			return;
		}
		j->bounce_made = true;
	}
	store_op_clear(&j->op);
	store_op_init(&j->op, STORE_OP_QUEUE_OUTCOME);
	j->op.u.outcome.results = j->store_results;
	j->op.u.outcome.nresults = j->pub.nrcpts;
	j->op.u.outcome.also = j->bounce;
	store_submit(q->st, &j->op, committed, j);
}

/* Is recipient i, deferred now, to be reported delayed ([queue] delay_warning)? */
static bool delay_report_due(const struct queue_qjob *j, size_t i, int64_t now)
{
	uint64_t after = j->q->cfg->queue_delay_warning;
	return after > 0 && !j->delay_warned[i] && j->pub.env_from[0] != '\0' &&
	       now - j->created >= (int64_t)after &&
	       queue_dsn_wanted(j->pub.rcpts[i].dsn_notify, "DELAY");
}

void queue_outcome_commit(struct queue_qjob *j)
{
	struct queue *q = j->q;
	int64_t now = (int64_t)time(NULL);
	int64_t deadline = j->created + (int64_t)q->cfg->queue_max_age;
	j->store_results = xcalloc(j->pub.nrcpts + 1, sizeof *j->store_results);
	for (size_t i = 0; i < j->pub.nrcpts; i++) {
		const struct queue_rcpt_result *r = &j->results[i];
		struct store_queue_result *sr = &j->store_results[i];
		sr->rcpt_id = j->rcpt_ids[i];
		sr->attempted = true;
		sr->reply = r->reply;
		sr->mx = r->mx;
		sr->remote_ip = r->remote_ip;
		sr->source_ip = r->source_ip;
		sr->tls = r->tls;
		sr->state = status_names[r->status];
		if (r->status == QUEUE_DEFERRED) {
			if (now >= deadline) {
				sr->state = "expired";
			} else {
				int64_t next = now + queue_retry_delay(q->cfg, j->attempts[i] + 1);
				sr->next_attempt = next < deadline ? next : deadline;
				sr->delay_warned = delay_report_due(j, i, now);
			}
		}
		sr->kind = sr->state;
	}
	j->next = q->finishing;
	j->prev = NULL;
	if (q->finishing)
		q->finishing->prev = j;
	q->finishing = j;
	submit(j);
}
