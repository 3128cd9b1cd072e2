/*
 * store — the commit thread (group commit), completions on the loop, watchers,
 * and the name rules shared by every backend.
 *
 * Group commit. Submitters append ops to `pending` under `lock` and signal
 * `wake`. The commit thread takes everything pending (at most STORE_MAX_BATCH),
 * opens one transaction, applies each op inside its own savepoint, commits (one
 * fsync: SQLite runs with synchronous=FULL), and moves the batch to `done`.
 * It then activates `done_ev`, a libevent event on the loop (thread-safe since
 * evthread_use_pthreads), whose callback notifies watchers and calls each op's
 * completion. So a completion always means "durable", and the loop never waits
 * for a disk write: while one batch is being fsync'd, the next one fills up.
 *
 * If the commit itself fails (disk full, I/O error), every op of the batch fails
 * with STORE_ERR_TEMP and the transaction is rolled back: nothing half-written.
 */
#include "store/store_internal.h"

#include "core/config.h"

#include <event2/event.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STORE_RECEIVED_SOURCES 16 /* distinct append sources counted */

struct store_watch {
	int64_t mailbox_id;
	store_watch_fn *fn;
	void *arg;
	struct store_watch *next;
	bool removed;
};

struct store {
	const struct store_backend *be;
	char *path;
	struct store_conn *writer;
	struct store_conn *reader;
	bool search_index; /* [store] search_index: SEARCH may use the full-text index */

	/* commit thread */
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	struct store_op *pending, **pending_tail;
	size_t npending;   /* ops in pending */
	size_t last_batch; /* size of the previous batch */
	struct store_op *done, **done_tail;
	struct event *done_ev;

	/* watchers (loop thread only) */
	struct store_watch *watches;
	int dispatching; /* >0 while calling watchers: removal is deferred */
	void (*queue_fn)(void *arg); /* store_queue_notify */
	void *queue_arg;

	/* appends committed by source, for store_stats_received (loop thread) */
	struct store_received {
		char source[16];
		uint64_t n;
	} received[STORE_RECEIVED_SOURCES];
	size_t nreceived;
};

const struct store_default_mailbox store_default_mailboxes[] = {
	{"INBOX", NULL},          {"Drafts", "\\Drafts"}, {"Sent", "\\Sent"},
	{"Archive", "\\Archive"}, {"Junk", "\\Junk"},     {"Trash", "\\Trash"},
};
const size_t store_n_default_mailboxes = ARRAY_SIZE(store_default_mailboxes);

int store_schema_version(void);

/* ---- opening ---------------------------------------------------------------- */

int store_open_path(struct store **st_r, const char *path, struct buf *err)
{
	struct store *st = xcalloc(1, sizeof *st);
	st->be = &store_backend_sqlite;
	st->path = xstrdup(path);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->wake, NULL);
	st->pending_tail = &st->pending;
	st->done_tail = &st->done;
	st->search_index = true;
	if (st->be->open(&st->writer, path, true, err) < 0 ||
	    st->be->open(&st->reader, path, false, err) < 0) {
		store_close(&st);
		return -1;
	}
	*st_r = st;
	return 0;
}

int store_open(struct store **st_r, const struct config *cfg, struct buf *err)
{
	if (strcmp(cfg->store_backend, "sqlite") != 0) {
		buf_printf(err, "store backend '%s' is not available in this build",
			   cfg->store_backend);
		return -1;
	}
	if (store_open_path(st_r, cfg->store_path, err) < 0)
		return -1;
	(*st_r)->be->set_tombstones_kept((*st_r)->writer, (uint32_t)cfg->store_tombstones);
	(*st_r)->search_index = cfg->store_search_index;
	return 0;
}

static void *commit_thread(void *arg);
static void on_done(evutil_socket_t fd, short what, void *arg);

int store_start(struct store *st, struct event_base *base, struct buf *err)
{
	if (st->running)
		panic("store_start: already started");
	st->done_ev = event_new(base, -1, 0, on_done, st);
	if (!st->done_ev) {
		buf_puts(err, "cannot create the store's completion event");
		return -1;
	}
	int e = pthread_create(&st->thread, NULL, commit_thread, st);
	if (e != 0) {
		buf_printf(err, "cannot start the commit thread: %s", strerror(e));
		event_free(st->done_ev);
		st->done_ev = NULL;
		return -1;
	}
	st->running = true;
	return 0;
}

void store_close(struct store **stp)
{
	struct store *st = *stp;
	if (!st)
		return;
	if (st->running) {
		pthread_mutex_lock(&st->lock);
		st->stopping = true;
		pthread_cond_signal(&st->wake);
		pthread_mutex_unlock(&st->lock);
		pthread_join(st->thread, NULL);
		st->running = false;
		/* Deliver the completions of the last batches. */
		on_done(-1, 0, st);
	}
	if (st->done_ev)
		event_free(st->done_ev);
	if (st->writer)
		st->be->close(&st->writer);
	if (st->reader)
		st->be->close(&st->reader);
	while (st->watches) {
		struct store_watch *w = st->watches;
		st->watches = w->next;
		free(w);
	}
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->wake);
	free(st->path);
	free(st);
	*stp = NULL;
}

/* ---- ops ---------------------------------------------------------------------- */

void store_op_init(struct store_op *op, enum store_op_kind kind)
{
	memset(op, 0, sizeof *op);
	op->kind = kind;
}

/* Frees the results the store allocated, counts included, so that an op can be
   run again (a retry after STORE_ERR_TEMP) without reporting stale results. */
static void op_free_results(struct store_op *op)
{
	switch (op->kind) {
	case STORE_OP_FLAGS:
		xfree(&op->u.flags.modified_r);
		op->u.flags.nmodified_r = 0;
		break;
	case STORE_OP_EXPUNGE:
		xfree(&op->u.expunge.expunged_r);
		op->u.expunge.nexpunged_r = 0;
		break;
	case STORE_OP_COPY:
		xfree(&op->u.copy.src_uids_r);
		xfree(&op->u.copy.new_uids_r);
		op->u.copy.ncopied_r = 0;
		break;
	case STORE_OP_QUEUE_CLAIM:
		for (size_t i = 0; i < op->u.claim.nitems_r; i++) {
			struct store_queue_item *it = &op->u.claim.items_r[i];
			free(it->rcpt);
			free(it->dsn_notify);
			free(it->dsn_orcpt);
			free(it->env_from);
			free(it->dsn_ret);
			free(it->dsn_envid);
			free(it->source);
			free(it->pool);
		}
		xfree(&op->u.claim.items_r);
		op->u.claim.nitems_r = 0;
		break;
	case STORE_OP_QUEUE_OUTCOME:
		op->u.outcome.finished_r = 0;
		break;
	case STORE_OP_QUEUE_ADMIN:
		op->u.queue.count_r = 0;
		break;
	case STORE_OP_URLAUTH_KEY_SET:
		memset(op->u.urlauth.key_r, 0, sizeof op->u.urlauth.key_r);
		break;
	case STORE_OP_URLAUTH_KEY_RESET:
		op->u.urlauth.count_r = 0;
		break;
	default:
		break;
	}
	xfree(&op->changes);
	op->nchanges = 0;
}

void store_op_clear(struct store_op *op)
{
	op_free_results(op);
	buf_free(&op->err);
	buf_free(&op->search_terms);
	op->have_search = false;
}

void store_op_fail(struct store_op *op, enum store_error e, const char *fmt, ...)
{
	/* The arguments may point into op->err itself (backends let a name check
	   write its reason there first): format into a fresh buffer. */
	struct buf msg = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	op->result = -1;
	op->error = e;
	buf_free(&op->err);
	op->err = msg;
}

void store_op_changed(struct store_op *op, int64_t mailbox_id, uint64_t modseq)
{
	for (size_t i = 0; i < op->nchanges; i++)
		if (op->changes[i].mailbox_id == mailbox_id) {
			if (modseq > op->changes[i].modseq)
				op->changes[i].modseq = modseq;
			return;
		}
	op->changes = xrealloc(op->changes, (op->nchanges + 1) * sizeof *op->changes);
	op->changes[op->nchanges++] = (struct store_change){mailbox_id, modseq};
}

static void op_reset_result(struct store_op *op)
{
	op->result = 0;
	op->error = STORE_OK;
	buf_reset(&op->err);
	op_free_results(op);
}

/* Applies a batch in one transaction on the writer connection. */
static void apply_batch(struct store *st, struct store_op *batch)
{
	struct buf err = BUF_INIT;
	const struct store_backend *be = st->be;
	for (struct store_op *op = batch; op; op = op->next)
		op_reset_result(op);
	if (be->begin(st->writer, &err) < 0) {
		for (struct store_op *op = batch; op; op = op->next)
			store_op_fail(op, STORE_ERR_TEMP, "%s", buf_cstr(&err));
		buf_free(&err);
		return;
	}
	/* Each op but the transaction's first runs inside a savepoint, so that
	   its failure undoes only its own writes. The first needs none: if it
	   fails, the transaction holds nothing else, and is rolled back and
	   begun again. (A savepoint makes SQLite copy every page the op touches
	   into a journal: about a fifth of the cost of an expunge.) */
	bool first = true;
	for (struct store_op *op = batch; op; op = op->next) {
		bool savepoint = !first;
		first = false;
		if (savepoint && be->savepoint(st->writer, &err) < 0) {
			store_op_fail(op, STORE_ERR_TEMP, "%s", buf_cstr(&err));
			buf_reset(&err);
			continue;
		}
		be->apply(st->writer, op);
		if (op->result < 0) {
			xfree(&op->changes);
			op->nchanges = 0;
		}
		if (savepoint) {
			if (op->result < 0)
				be->rollback_to(st->writer);
			be->release(st->writer);
		} else if (op->result < 0) {
			be->rollback(st->writer);
			first = true;
			if (be->begin(st->writer, &err) < 0) {
				for (struct store_op *rest = op->next; rest; rest = rest->next)
					store_op_fail(rest, STORE_ERR_TEMP, "%s", buf_cstr(&err));
				buf_free(&err);
				return;
			}
		}
	}
	if (be->commit(st->writer, &err) < 0) {
		be->rollback(st->writer);
		for (struct store_op *op = batch; op; op = op->next) {
			if (op->result == 0)
				store_op_fail(op, STORE_ERR_TEMP, "%s", buf_cstr(&err));
			xfree(&op->changes);
			op->nchanges = 0;
		}
	}
	buf_free(&err);
}

int store_exec(struct store *st, struct store_op *op)
{
	if (st->running)
		panic("store_exec while the commit thread runs; use store_submit");
	op->next = NULL;
	apply_batch(st, op);
	return op->result;
}

void store_submit(struct store *st, struct store_op *op, store_done_fn *done, void *arg)
{
	if (!st->running)
		panic("store_submit before store_start");
	op->done = done;
	op->done_arg = arg;
	op->next = NULL;
	/* The CPU-heavy steps of an append, unless a worker did them already
	   (store_op_prepare): done here, on the submitter's thread, they run
	   beside the commit thread instead of in it. */
	store_op_prepare(op);
	if (op->kind == STORE_OP_QUEUE_OUTCOME && op->u.outcome.also)
		store_search_prepare(op->u.outcome.also);
	pthread_mutex_lock(&st->lock);
	*st->pending_tail = op;
	st->pending_tail = &op->next;
	st->npending++;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->lock);
}

/*
 * When writers are concurrent (the previous batch held more than one op), wait
 * a moment for their next ops before committing, as PostgreSQL's commit_delay
 * does: until no op has arrived for STORE_GATHER_IDLE_US, at most
 * STORE_GATHER_MAX_US. A lone writer never waits. Called with lock held.
 */
#define STORE_GATHER_IDLE_US 100
#define STORE_GATHER_MAX_US 1000

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void gather(struct store *st)
{
	if (st->last_batch <= 1 || st->stopping)
		return;
	int64_t start = now_us();
	size_t seen = st->npending;
	while (seen < STORE_MAX_BATCH) {
		int64_t until = now_us() + STORE_GATHER_IDLE_US;
		if (until > start + STORE_GATHER_MAX_US)
			until = start + STORE_GATHER_MAX_US;
		struct timespec ts = {(time_t)(until / 1000000), (long)(until % 1000000) * 1000};
		pthread_cond_timedwait(&st->wake, &st->lock, &ts);
		if (st->npending == seen || st->stopping || now_us() >= start + STORE_GATHER_MAX_US)
			return;
		seen = st->npending;
	}
}

static void *commit_thread(void *arg)
{
	struct store *st = arg;
	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (!st->pending && !st->stopping)
			pthread_cond_wait(&st->wake, &st->lock);
		if (!st->pending && st->stopping)
			break;
		gather(st);
		/* Take up to STORE_MAX_BATCH ops. */
		struct store_op *batch = st->pending, *last = batch;
		size_t n = 1;
		while (last->next && n < STORE_MAX_BATCH) {
			last = last->next;
			n++;
		}
		st->pending = last->next;
		if (!st->pending)
			st->pending_tail = &st->pending;
		last->next = NULL;
		st->npending -= n;
		st->last_batch = n;
		pthread_mutex_unlock(&st->lock);

		apply_batch(st, batch);

		pthread_mutex_lock(&st->lock);
		*st->done_tail = batch;
		st->done_tail = &last->next;
		event_active(st->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

static void notify_watchers(struct store *st, const struct store_change *c)
{
	st->dispatching++;
	for (struct store_watch *w = st->watches; w; w = w->next)
		if (!w->removed && w->mailbox_id == c->mailbox_id)
			w->fn(c->mailbox_id, c->modseq, w->arg);
	st->dispatching--;
	if (st->dispatching == 0) {
		struct store_watch **pp = &st->watches;
		while (*pp) {
			if ((*pp)->removed) {
				struct store_watch *dead = *pp;
				*pp = dead->next;
				free(dead);
			} else {
				pp = &(*pp)->next;
			}
		}
	}
}

/* Did op, committed, make queue recipients due? */
static bool op_feeds_queue(const struct store_op *op)
{
	if (op->result != 0)
		return false;
	switch (op->kind) {
	case STORE_OP_APPEND:
		return op->u.append.nqueue > 0;
	case STORE_OP_QUEUE_OUTCOME:
		return op->u.outcome.also && op->u.outcome.also->u.append.nqueue > 0;
	case STORE_OP_QUEUE_ADMIN:
		return op->u.queue.action != STORE_QUEUE_HOLD &&
		       op->u.queue.action != STORE_QUEUE_REMOVE;
	default:
		return false;
	}
}

static void count_received(struct store *st, const struct store_op *op)
{
	if (op->kind != STORE_OP_APPEND || op->result != 0 || !op->u.append.source)
		return;
	const char *src = op->u.append.source;
	for (size_t i = 0; i < st->nreceived; i++)
		if (strcmp(st->received[i].source, src) == 0) {
			st->received[i].n++;
			return;
		}
	if (st->nreceived == STORE_RECEIVED_SOURCES ||
	    strlen(src) >= sizeof st->received[0].source)
		return;
	struct store_received *r = &st->received[st->nreceived++];
	strcpy(r->source, src);
	r->n = 1;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;
	pthread_mutex_lock(&st->lock);
	struct store_op *list = st->done;
	st->done = NULL;
	st->done_tail = &st->done;
	pthread_mutex_unlock(&st->lock);
	while (list) {
		struct store_op *op = list;
		list = op->next;
		op->next = NULL;
		for (size_t i = 0; i < op->nchanges; i++)
			notify_watchers(st, &op->changes[i]);
		bool feeds = st->queue_fn && op_feeds_queue(op);
		if (feeds)
			st->queue_fn(st->queue_arg);
		count_received(st, op);
		if (op->done)
			op->done(op, op->done_arg);
	}
}

/* ---- watchers ---------------------------------------------------------------- */

struct store_watch *store_watch_add(struct store *st, int64_t mailbox_id, store_watch_fn *fn,
				    void *arg)
{
	struct store_watch *w = xcalloc(1, sizeof *w);
	w->mailbox_id = mailbox_id;
	w->fn = fn;
	w->arg = arg;
	w->next = st->watches;
	st->watches = w;
	return w;
}

void store_watch_remove(struct store *st, struct store_watch **wp)
{
	struct store_watch *w = *wp;
	if (!w)
		return;
	*wp = NULL;
	if (st->dispatching) {
		w->removed = true;
		return;
	}
	for (struct store_watch **pp = &st->watches; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			free(w);
			return;
		}
	panic("store_watch_remove: unknown watch");
}

void store_queue_notify(struct store *st, void (*fn)(void *arg), void *arg)
{
	st->queue_fn = fn;
	st->queue_arg = arg;
}

/* ---- reads --------------------------------------------------------------------- */

void store_account_clear(struct store_account *a)
{
	xfree(&a->address);
	xfree(&a->password_hash);
	xfree(&a->scram);
}

void store_mailbox_clear(struct store_mailbox *m)
{
	xfree(&m->name);
	xfree(&m->special_use);
}

static void free_strv(char ***v)
{
	if (*v)
		for (char **p = *v; *p; p++)
			free(*p);
	xfree(v);
}

void store_message_clear(struct store_message *m)
{
	free_strv(&m->keywords);
}

enum store_lookup store_account_get(struct store *st, const char *address,
				    struct store_account *a_r, struct buf *err)
{
	struct buf norm = BUF_INIT;
	if (store_address_normalize(address, false, &norm, err) < 0) {
		buf_free(&norm);
		buf_reset(err);
		return STORE_NOT_FOUND;
	}
	enum store_lookup r = st->be->account_get(st->reader, buf_cstr(&norm), a_r, err);
	buf_free(&norm);
	return r;
}

int store_account_list(struct store *st, void (*fn)(const struct store_account *a, void *arg),
		       void *arg, struct buf *err)
{
	return st->be->account_list(st->reader, fn, arg, err);
}

int store_domain_list(struct store *st, void (*fn)(const char *name, void *arg), void *arg,
		      struct buf *err)
{
	return st->be->domain_list(st->reader, fn, arg, err);
}

enum store_lookup store_domain_exists(struct store *st, const char *name, struct buf *err)
{
	struct buf norm = BUF_INIT;
	if (store_domain_normalize(name, &norm, err) < 0) {
		buf_free(&norm);
		buf_reset(err);
		return STORE_NOT_FOUND;
	}
	enum store_lookup r = st->be->domain_exists(st->reader, buf_cstr(&norm), err);
	buf_free(&norm);
	return r;
}

int store_alias_list(struct store *st,
		     void (*fn)(const char *address, const char *target, void *arg), void *arg,
		     struct buf *err)
{
	return st->be->alias_list(st->reader, fn, arg, err);
}

enum store_lookup store_mailbox_get(struct store *st, int64_t account_id, const char *name,
				    struct store_mailbox *m_r, struct buf *err)
{
	return st->be->mailbox_get(st->reader, account_id, name, m_r, err);
}

int store_mailbox_list(struct store *st, int64_t account_id,
		       void (*fn)(const struct store_mailbox *m, void *arg), void *arg,
		       struct buf *err)
{
	return st->be->mailbox_list(st->reader, account_id, fn, arg, err);
}

int store_subscription_list(struct store *st, int64_t account_id,
			    void (*fn)(const char *name, void *arg), void *arg, struct buf *err)
{
	return st->be->subscription_list(st->reader, account_id, fn, arg, err);
}

int store_message_list(struct store *st, int64_t mailbox_id, uint32_t uid_min, uint32_t uid_max,
		       void (*fn)(const struct store_message *m, void *arg), void *arg,
		       struct buf *err)
{
	return st->be->message_list(st->reader, mailbox_id, uid_min, uid_max, fn, arg, err);
}

int store_message_meta(struct store *st, int64_t mailbox_id, uint32_t uid_min, uint32_t uid_max,
                       uint64_t modseq, void (*fn)(const struct store_message *m, void *arg),
                       void *arg, struct buf *err)
{
	return st->be->message_meta(st->reader, mailbox_id, uid_min, uid_max, modseq, fn, arg, err);
}

void store_read_begin(struct store *st)
{
	st->be->read_begin(st->reader);
}

void store_read_end(struct store *st)
{
	st->be->read_end(st->reader);
}

enum store_lookup store_message_cache(struct store *st, int64_t mailbox_id, uint32_t uid,
				      struct buf *envelope, struct buf *bodystructure,
				      struct buf *err)
{
	return st->be->message_cache(st->reader, mailbox_id, uid, envelope, bodystructure, err);
}

int store_message_cache_list(struct store *st, int64_t mailbox_id, uint32_t uid_min,
                             uint32_t uid_max, bool envelope, bool bodystructure,
                             void (*fn)(const struct store_message_cached *m, void *arg), void *arg,
                             struct buf *err)
{
	return st->be->message_cache_list(st->reader, mailbox_id, uid_min, uid_max, envelope,
	                                  bodystructure, fn, arg, err);
}

int store_blob_read(struct store *st, int64_t blob_id, struct buf *out, struct buf *err)
{
	return st->be->blob_read(st->reader, blob_id, out, err);
}

static void append_to_buf(const char *p, size_t n, void *arg)
{
	buf_append(arg, p, n);
}

enum store_lookup store_message_read(struct store *st, int64_t mailbox_id, uint32_t uid,
				     struct buf *out, struct buf *err)
{
	return st->be->message_view(st->reader, mailbox_id, uid, append_to_buf, out, err);
}

enum store_lookup store_message_view(struct store *st, int64_t mailbox_id, uint32_t uid,
                                     void (*fn)(const char *p, size_t n, void *arg), void *arg,
                                     struct buf *err)
{
	return st->be->message_view(st->reader, mailbox_id, uid, fn, arg, err);
}

enum store_lookup store_message_header_read(struct store *st, int64_t mailbox_id, uint32_t uid,
                                            struct buf *out, struct buf *err)
{
	return st->be->message_header_read(st->reader, mailbox_id, uid, out, err);
}

int store_changes(struct store *st, int64_t mailbox_id, uint64_t modseq,
		  void (*changed)(const struct store_message *m, void *arg),
		  void (*expunged)(uint32_t uid, uint64_t modseq, void *arg), void *arg,
		  bool *tombstones_complete_r, struct buf *err)
{
	return st->be->changes(st->reader, mailbox_id, modseq, changed, expunged, arg,
			       tombstones_complete_r, err);
}

int store_check(struct store *st, struct buf *report, struct buf *err)
{
	return st->be->check(st->reader, report, err);
}

enum store_lookup store_queue_next_due(struct store *st, int64_t now, int64_t *when_r,
				       struct buf *err)
{
	return st->be->queue_next_due(st->reader, now, when_r, err);
}

int store_queue_list(struct store *st, int64_t queue_id,
		     void (*fn)(const struct store_queue_entry *e, void *arg), void *arg,
		     struct buf *err)
{
	return st->be->queue_list(st->reader, queue_id, fn, arg, err);
}

int store_event_list(struct store *st, int64_t queue_id, const char *rcpt,
		     void (*fn)(const struct store_event *e, void *arg), void *arg,
		     struct buf *err)
{
	return st->be->event_list(st->reader, queue_id, rcpt, fn, arg, err);
}

/* ---- the HTTP API --------------------------------------------------------------- */

void store_apikey_clear(struct store_apikey *k)
{
	xfree(&k->name);
	xfree(&k->domains);
	xfree(&k->pool);
}

enum store_lookup store_apikey_find(struct store *st, const unsigned char hash[32],
				    struct store_apikey *k_r, struct buf *err)
{
	return st->be->apikey_find(st->reader, hash, k_r, err);
}

int store_apikey_list(struct store *st, void (*fn)(const struct store_apikey *k, void *arg),
		      void *arg, struct buf *err)
{
	return st->be->apikey_list(st->reader, fn, arg, err);
}

enum store_lookup store_idempotency_get(struct store *st, int64_t api_key_id, const char *idem_key,
					unsigned char hash_r[32], struct buf *response_r,
					struct buf *err)
{
	int64_t since = (int64_t)time(NULL) - STORE_IDEMPOTENCY_TTL;
	return st->be->idempotency_get(st->reader, api_key_id, idem_key, since, hash_r,
				       response_r, err);
}

void store_api_message_clear(struct store_api_message *m)
{
	xfree(&m->public_id);
	xfree(&m->message_id);
	xfree(&m->env_from);
	xfree(&m->subject);
	xfree(&m->tags);
	xfree(&m->metadata);
}

enum store_lookup store_api_message_get(struct store *st, int64_t api_key_id,
					const char *public_id, struct store_api_message *m_r,
					struct buf *err)
{
	return st->be->api_message_get(st->reader, api_key_id, public_id, m_r, err);
}

int store_api_events(struct store *st, int64_t api_key_id, int64_t after, size_t limit,
		     const char *kind, const char *rcpt, const char *tag,
		     void (*fn)(const struct store_api_event *e, void *arg), void *arg,
		     struct buf *err)
{
	if (limit > STORE_API_MAX_EVENTS)
		limit = STORE_API_MAX_EVENTS;
	return st->be->api_events(st->reader, api_key_id, after, limit, kind, rcpt, tag, fn, arg,
				  err);
}

void store_dkim_key_clear(struct store_dkim_key *k)
{
	xfree(&k->domain);
	xfree(&k->selector);
	xfree(&k->algorithm);
	if (k->private_key)
		memset(k->private_key, 0, strlen(k->private_key));
	xfree(&k->private_key);
}

int store_dkim_key_list(struct store *st, const char *domain,
			void (*fn)(const struct store_dkim_key *k, void *arg), void *arg,
			struct buf *err)
{
	if (!domain)
		return st->be->dkim_key_list(st->reader, NULL, fn, arg, err);
	struct buf norm = BUF_INIT;
	if (store_domain_normalize(domain, &norm, err) < 0) {
		buf_free(&norm);
		buf_reset(err);
		return 0; /* not a domain name: no keys */
	}
	int r = st->be->dkim_key_list(st->reader, buf_cstr(&norm), fn, arg, err);
	buf_free(&norm);
	return r;
}

enum store_lookup store_urlauth_key_get(struct store *st, int64_t account_id, int64_t mailbox_id,
					unsigned char key_r[STORE_URLAUTH_KEY_LEN],
					struct buf *err)
{
	return st->be->urlauth_key_get(st->reader, account_id, mailbox_id, key_r, err);
}

void store_stats_received(struct store *st, void (*fn)(const char *source, uint64_t n, void *arg),
			  void *arg)
{
	for (size_t i = 0; i < st->nreceived; i++)
		fn(st->received[i].source, st->received[i].n, arg);
}

void store_webhook_clear(struct store_webhook *w)
{
	xfree(&w->url);
	xfree(&w->secret);
	xfree(&w->events);
	xfree(&w->key_name);
}

int store_webhook_list(struct store *st, void (*fn)(const struct store_webhook *w, void *arg),
		       void *arg, struct buf *err)
{
	return st->be->webhook_list(st->reader, fn, arg, err);
}

int store_webhook_due(struct store *st, int64_t now_ms, size_t limit,
		      void (*fn)(const struct store_webhook_delivery *d, void *arg), void *arg,
		      struct buf *err)
{
	if (limit > STORE_WEBHOOK_MAX_DUE)
		limit = STORE_WEBHOOK_MAX_DUE;
	return st->be->webhook_due(st->reader, now_ms, limit, fn, arg, err);
}

enum store_lookup store_webhook_delivery_state(struct store *st, int64_t id, struct buf *state_r,
					       unsigned *attempts_r, int *status_r,
					       struct buf *error_r, struct buf *err)
{
	return st->be->webhook_delivery_state(st->reader, id, state_r, attempts_r, status_r,
					      error_r, err);
}

int store_webhook_backlog(struct store *st, uint64_t *pending_r, int64_t *oldest_ms_r,
			  uint64_t *unscanned_r, struct buf *err)
{
	return st->be->webhook_backlog(st->reader, pending_r, oldest_ms_r, unscanned_r, err);
}

int store_stats_queue(struct store *st, uint64_t *queued_r, uint64_t *deferred_r,
		      int64_t *oldest_r, struct buf *err)
{
	return st->be->stats_queue(st->reader, queued_r, deferred_r, oldest_r, err);
}

/* ---- full-text search -------------------------------------------------------------- */

void store_op_prepare(struct store_op *op)
{
	for (struct store_op *a = op; a && a->kind == STORE_OP_APPEND; a = a->u.append.more) {
		if (!a->have_sha256) {
			SHA256((const unsigned char *)a->u.append.data, a->u.append.len, a->sha256);
			a->have_sha256 = true;
		}
		/* the text for the full-text index (parsing, decoding, iconv) */
		store_search_prepare(a);
	}
}

void store_search_prepare(struct store_op *op)
{
	if (op->kind != STORE_OP_APPEND || op->have_search || op->u.append.ntargets == 0)
		return;
	buf_reset(&op->search_terms);
	store_search_terms(op->u.append.data, op->u.append.len, &op->search_terms);
	op->have_search = true;
}

enum store_lookup store_search_candidates(struct store *st, int64_t mailbox_id, const char *needle,
					  size_t len, bool with_header, uint32_t **uids_r,
					  size_t *n_r, struct buf *err)
{
	*uids_r = NULL;
	*n_r = 0;
	if (!st->search_index)
		return STORE_NOT_FOUND;
	return st->be->search_candidates(st->reader, mailbox_id, needle, len, with_header, uids_r,
					 n_r, err);
}

enum store_lookup store_search_header_candidates(struct store *st, int64_t mailbox_id,
                                                 const char *needle, size_t len, uint32_t **uids_r,
                                                 size_t *n_r, struct buf *err)
{
	*uids_r = NULL;
	*n_r = 0;
	if (!st->search_index)
		return STORE_NOT_FOUND;
	return st->be->search_header_candidates(st->reader, mailbox_id, needle, len, uids_r, n_r,
	                                        err);
}

/* One message (blob) of a store_reindex batch, its terms made before the
   batch's transaction. */
struct reindex_item {
	int64_t blob_id;
	uint8_t sha256[32];
	struct buf terms;
};

static int reindex_batch(struct store *st, struct reindex_item *items, size_t n, size_t *count_r,
			 struct buf *err)
{
	const struct store_backend *be = st->be;
	if (be->begin(st->writer, err) < 0)
		return -1;
	size_t done = 0;
	for (size_t i = 0; i < n; i++) {
		bool gone;
		if (be->search_put(st->writer, items[i].blob_id, items[i].sha256, &items[i].terms,
		                   &gone, err) < 0) {
			be->rollback(st->writer);
			return -1;
		}
		done += !gone;
	}
	if (be->commit(st->writer, err) < 0) {
		be->rollback(st->writer);
		return -1;
	}
	*count_r += done;
	return 0;
}

int store_reindex(struct store *st, int64_t account_id, bool all, size_t *count_r,
		  struct buf *err)
{
	if (st->running)
		panic("store_reindex while the commit thread runs");
	*count_r = 0;
	int64_t ids[STORE_REINDEX_BATCH];
	struct reindex_item items[STORE_REINDEX_BATCH];
	int64_t after = 0;
	for (;;) {
		size_t n = 0;
		if (st->be->search_pending(st->reader, account_id, all, after, STORE_REINDEX_BATCH,
					   ids, &n, err) < 0)
			return -1;
		if (n == 0)
			return 0;
		/* Read and extract outside the transaction, at most
		   STORE_REINDEX_BATCH_BYTES of terms per transaction. A blob
		   gone meanwhile is skipped (its id is not indexed). */
		size_t k = 0, bytes = 0, i = 0;
		int r = 0;
		struct buf data = BUF_INIT;
		for (; i < n && bytes < STORE_REINDEX_BATCH_BYTES; i++) {
			buf_reset(&data);
			enum store_lookup l = st->be->search_blob(st->reader, ids[i], &data, err);
			if (l == STORE_ERROR) {
				r = -1;
				break;
			}
			if (l == STORE_NOT_FOUND)
				continue;
			struct reindex_item *it = &items[k++];
			it->blob_id = ids[i];
			it->terms = (struct buf)BUF_INIT;
			const char *msg = data.data ? data.data : "";
			SHA256((const unsigned char *)msg, data.len, it->sha256);
			store_search_terms(msg, data.len, &it->terms);
			bytes += it->terms.len;
		}
		buf_free(&data);
		if (r == 0 && k > 0)
			r = reindex_batch(st, items, k, count_r, err);
		for (size_t j = 0; j < k; j++)
			buf_free(&items[j].terms);
		if (r < 0)
			return -1;
		after = ids[i - 1];
	}
}

/* ---- recipient resolution -------------------------------------------------------- */

struct resolve {
	struct store *st;
	struct store_rcpt *r;
	char **seen;
	size_t nseen;
	struct buf *err;
	bool failed;
};

static bool resolve_seen(struct resolve *rs, const char *addr)
{
	for (size_t i = 0; i < rs->nseen; i++)
		if (strcmp(rs->seen[i], addr) == 0)
			return true;
	rs->seen = xrealloc(rs->seen, (rs->nseen + 1) * sizeof *rs->seen);
	rs->seen[rs->nseen++] = xstrdup(addr);
	return false;
}

static void add_account(struct store_rcpt *r, int64_t id)
{
	for (size_t i = 0; i < r->naccounts; i++)
		if (r->account_ids[i] == id)
			return;
	r->account_ids = xrealloc(r->account_ids, (r->naccounts + 1) * sizeof *r->account_ids);
	r->account_ids[r->naccounts++] = id;
}

static void add_foreign(struct store_rcpt *r, const char *addr)
{
	for (size_t i = 0; i < r->nforeign; i++)
		if (strcmp(r->foreign[i], addr) == 0)
			return;
	r->foreign = xrealloc(r->foreign, (r->nforeign + 1) * sizeof *r->foreign);
	r->foreign[r->nforeign++] = xstrdup(addr);
}

/* Returns true when addr led somewhere. addr is normalised. */
static bool resolve_addr(struct resolve *rs, const char *addr, int depth);

static bool resolve_targets(struct resolve *rs, const char *addr, const char *lookup, int depth)
{
	char **targets = NULL;
	size_t n = 0;
	if (rs->st->be->alias_targets(rs->st->reader, lookup, &targets, &n, rs->err) < 0) {
		rs->failed = true;
		return false;
	}
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		struct store_account a = {0};
		if (strcmp(targets[i], addr) == 0) {
			/* "keep a copy": the alias names its own address. */
			enum store_lookup l =
				rs->st->be->account_get(rs->st->reader, addr, &a, rs->err);
			if (l == STORE_FOUND) {
				add_account(rs->r, a.id);
				found = true;
			} else if (l == STORE_ERROR) {
				rs->failed = true;
			}
			store_account_clear(&a);
		} else if (resolve_addr(rs, targets[i], depth + 1)) {
			found = true;
		}
		free(targets[i]);
	}
	free(targets);
	return found;
}

static bool resolve_addr(struct resolve *rs, const char *addr, int depth)
{
	if (rs->failed || depth > STORE_MAX_ALIAS_DEPTH || resolve_seen(rs, addr))
		return false;
	const char *at = strrchr(addr, '@');
	if (!at)
		return false;
	enum store_lookup dl = rs->st->be->domain_exists(rs->st->reader, at + 1, rs->err);
	if (dl == STORE_ERROR) {
		rs->failed = true;
		return false;
	}
	if (dl == STORE_NOT_FOUND) {
		/* A foreign address; only reachable through an alias. */
		if (depth == 0)
			return false;
		add_foreign(rs->r, addr);
		return true;
	}
	/* Aliases take precedence over an account of the same name. */
	if (resolve_targets(rs, addr, addr, depth))
		return true;
	struct store_account a = {0};
	enum store_lookup l = rs->st->be->account_get(rs->st->reader, addr, &a, rs->err);
	store_account_clear(&a);
	if (l == STORE_ERROR) {
		rs->failed = true;
		return false;
	}
	if (l == STORE_FOUND) {
		add_account(rs->r, a.id);
		return true;
	}
	/* Sub-addressing: user+tag@domain. */
	const char *plus = memchr(addr, '+', (size_t)(at - addr));
	if (plus && plus > addr) {
		char *base = xasprintf("%.*s%s", (int)(plus - addr), addr, at);
		bool found = resolve_addr(rs, base, depth);
		free(base);
		if (found) {
			if (!rs->r->tag)
				rs->r->tag = xstrndup(plus + 1, (size_t)(at - plus - 1));
			return true;
		}
	}
	/* The domain's catch-all. */
	return resolve_targets(rs, addr, at, depth);
}

void store_rcpt_clear(struct store_rcpt *r)
{
	xfree(&r->account_ids);
	for (size_t i = 0; i < r->nforeign; i++)
		free(r->foreign[i]);
	xfree(&r->foreign);
	xfree(&r->tag);
	r->naccounts = r->nforeign = 0;
}

enum store_lookup store_rcpt_resolve(struct store *st, const char *address, struct store_rcpt *r,
				     struct buf *err)
{
	memset(r, 0, sizeof *r);
	struct buf norm = BUF_INIT;
	if (store_address_normalize(address, false, &norm, err) < 0) {
		buf_free(&norm);
		buf_reset(err);
		return STORE_NOT_FOUND;
	}
	struct resolve rs = {.st = st, .r = r, .err = err};
	bool found = resolve_addr(&rs, buf_cstr(&norm), 0);
	for (size_t i = 0; i < rs.nseen; i++)
		free(rs.seen[i]);
	free(rs.seen);
	buf_free(&norm);
	if (rs.failed) {
		store_rcpt_clear(r);
		return STORE_ERROR;
	}
	if (!found || (r->naccounts == 0 && r->nforeign == 0)) {
		store_rcpt_clear(r);
		return STORE_NOT_FOUND;
	}
	return STORE_FOUND;
}

/* ---- names ------------------------------------------------------------------------ */

static bool is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int store_domain_normalize(const char *name, struct buf *out, struct buf *err)
{
	size_t len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--; /* a fully qualified name's root dot */
	if (len == 0) {
		buf_puts(err, "empty domain name");
		return -1;
	}
	if (len > STORE_MAX_DOMAIN) {
		buf_printf(err, "domain name longer than %d characters", STORE_MAX_DOMAIN);
		return -1;
	}
	size_t start = out->len;
	size_t label = 0;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)name[i] : '.';
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0 || label > 63 || name[i - 1] == '-' ||
			    name[i - label] == '-') {
				buf_truncate(out, start);
				buf_printf(err, "invalid domain name '%.*s'", (int)len, name);
				return -1;
			}
			label = 0;
		} else if (is_ldh(c)) {
			label++;
		} else {
			buf_truncate(out, start);
			if (c >= 0x80)
				buf_printf(err,
					   "invalid domain name '%.*s': use the A-label (xn--) form",
					   (int)len, name);
			else
				buf_printf(err, "invalid domain name '%.*s'", (int)len, name);
			return -1;
		}
		if (i < len)
			buf_putc(out, (char)c);
	}
	return 0;
}

/* RFC 5321 dot-atom local part, plus UTF-8 (RFC 6531). Quoted local parts are
   accepted from the network by the SMTP parser but are not account names. */
static bool local_part_ok(const char *p, size_t n)
{
	if (n == 0 || n > 64 || p[0] == '.' || p[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '.' && p[i + 1] == '.')
			return false;
		if (c >= 0x80)
			continue; /* UTF-8; the SMTP layer validates encoding */
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (!strchr("!#$%&'*+-/=?^_`{|}~.", c) || c == '\0')
			return false;
	}
	return true;
}

int store_address_normalize(const char *address, bool allow_catchall, struct buf *out,
			    struct buf *err)
{
	size_t len = strlen(address);
	const char *at = strrchr(address, '@');
	if (len > STORE_MAX_ADDRESS) {
		buf_printf(err, "address longer than %d characters", STORE_MAX_ADDRESS);
		return -1;
	}
	if (!at) {
		buf_printf(err, "invalid address '%s': no @domain", address);
		return -1;
	}
	size_t llen = (size_t)(at - address);
	size_t start = out->len;
	if (llen == 0 && !allow_catchall) {
		buf_printf(err, "invalid address '%s': empty local part", address);
		return -1;
	}
	if (llen > 0 && !local_part_ok(address, llen)) {
		buf_printf(err, "invalid address '%s': bad local part", address);
		return -1;
	}
	for (size_t i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)address[i];
		buf_putc(out, (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
	}
	buf_putc(out, '@');
	if (store_domain_normalize(at + 1, out, err) < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 0;
}

int store_mailbox_name_check(const char *name, struct buf *err)
{
	size_t len = strlen(name);
	if (len == 0) {
		buf_puts(err, "empty mailbox name");
		return -1;
	}
	if (len > STORE_MAX_MAILBOX_NAME) {
		buf_printf(err, "mailbox name longer than %d bytes", STORE_MAX_MAILBOX_NAME);
		return -1;
	}
	if (name[0] == '/' || name[len - 1] == '/' || strstr(name, "//")) {
		buf_puts(err, "mailbox name has an empty hierarchy level");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f) {
			buf_puts(err, "mailbox name contains a control character");
			return -1;
		}
	}
	if (!utf8_valid(name, len))
		goto bad;
	return 0;
bad:
	buf_puts(err, "mailbox name is not valid UTF-8");
	return -1;
}
