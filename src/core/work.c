/*
 * work — worker threads with completions posted back to the loop, the same
 * way the store's commit thread posts its completions (an event activated
 * from the worker; libevent is thread-safe once evthread_use_pthreads ran).
 */
#include "core/work.h"

#include "core/core.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>

struct job {
	work_fn *fn, *done;
	void *arg;
	struct job *next;
};

struct work_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job *todo, **todo_tail;
	struct job *done, **done_tail;
	struct event *done_ev;
	pthread_t *threads;
	unsigned nthreads;
	bool stopping;
};

static void *worker(void *arg)
{
	struct work_pool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->todo && !p->stopping)
			pthread_cond_wait(&p->wake, &p->lock);
		if (!p->todo)
			break;
		struct job *j = p->todo;
		p->todo = j->next;
		if (!p->todo)
			p->todo_tail = &p->todo;
		pthread_mutex_unlock(&p->lock);
		j->fn(j->arg);
		pthread_mutex_lock(&p->lock);
		j->next = NULL;
		*p->done_tail = j;
		p->done_tail = &j->next;
		event_active(p->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct work_pool *p = arg;
	pthread_mutex_lock(&p->lock);
	struct job *list = p->done;
	p->done = NULL;
	p->done_tail = &p->done;
	pthread_mutex_unlock(&p->lock);
	while (list) {
		struct job *j = list;
		list = j->next;
		j->done(j->arg);
		free(j);
	}
}

struct work_pool *work_pool_new(struct event_base *base, unsigned threads)
{
	struct work_pool *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->todo_tail = &p->todo;
	p->done_tail = &p->done;
	p->done_ev = event_new(base, -1, 0, on_done, p);
	if (!p->done_ev)
		panic("work_pool_new: cannot create an event");
	p->threads = xcalloc(threads ? threads : 1, sizeof *p->threads);
	for (unsigned i = 0; i < (threads ? threads : 1); i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			panic("work_pool_new: cannot start a worker thread");
		p->nthreads++;
	}
	return p;
}

void work_pool_free(struct work_pool **pp)
{
	struct work_pool *p = *pp;
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	on_done(-1, 0, p);
	event_free(p->done_ev);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p->threads);
	free(p);
	*pp = NULL;
}

void work_submit(struct work_pool *p, work_fn *fn, work_fn *done, void *arg)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&p->lock);
	*p->todo_tail = j;
	p->todo_tail = &j->next;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}
