/*
 * work — a small pool of worker threads for CPU-heavy steps that must not
 * stall the event loop (password hashing: a yescrypt check costs ~15 ms).
 *
 * work_submit(pool, fn, done, arg): fn(arg) runs on a worker thread, then
 * done(arg) runs on the loop. fn must not touch loop-owned state; done may.
 * The caller keeps arg alive until done has run (a session that closes
 * meanwhile is freed by done, like with store ops). Jobs run in parallel, so
 * done calls may come in any order.
 */
#ifndef PETREL_WORK_H
#define PETREL_WORK_H

struct event_base;
struct work_pool;

typedef void work_fn(void *arg);

struct work_pool *work_pool_new(struct event_base *base, unsigned threads);
/* Waits for the running jobs, runs every pending completion, joins. */
void work_pool_free(struct work_pool **pool);
void work_submit(struct work_pool *pool, work_fn *fn, work_fn *done, void *arg);

#endif
