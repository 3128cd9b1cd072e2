/*
 * queue_pool — source-IP pools: which address an outbound connection comes from.
 *
 * The configuration ([pool.NAME], config.h) says which addresses a pool has;
 * this file keeps what happens to them: connections open from each address,
 * failures, and which addresses are out of rotation until when. A runtime pool
 * follows its configuration (queue_pools_sync, at start and on the runner's
 * poll, so SIGHUP applies): addresses are added, and those that leave the
 * configuration, or whose EHLO name changes, are marked gone and never handed
 * out again. Nothing is freed before queue_free, so a transport may keep the
 * pool and source pointers it was given for as long as it runs.
 *
 * Choosing: round-robin over the pool's addresses of the destination's family
 * that are in rotation and under max_connections. Failing: an address that
 * cannot be bound is suspended at once; one whose connections to
 * QUEUE_SOURCE_MAX_FAILURES different remote addresses fail in a row (with no
 * success between) is suspended too, since then the fault is more likely
 * ours than theirs. A suspension lasts [queue] source_suspend, and is logged
 * when it starts and ends.
 */
#include "queue/queue_internal.h"

#include "core/config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct qsource {
	struct queue_source pub; /* first: the transport sees this */
	struct queue_pool *pool;
	char *ip, *ehlo;
	uint64_t max; /* connections at once, 0: no limit */
	unsigned active;
	char *failed[QUEUE_SOURCE_MAX_FAILURES]; /* remote addresses that failed in a row */
	size_t nfailed;
	int64_t suspended_until; /* monotonic ms; 0: in rotation */
	bool gone;               /* no longer in the configuration */
};

struct queue_pool {
	struct queue *q;
	char *name;
	struct qsource **src;
	size_t nsrc;
	size_t next;       /* round-robin: where the next search starts */
	unsigned sessions; /* the runner's sessions of this pool */
	bool gone;
	struct queue_pool *next_pool;
};

const char *queue_pool_name(const struct queue_pool *p)
{
	return p->name;
}

static const char *family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

static void forget_failures(struct qsource *s)
{
	for (size_t i = 0; i < s->nfailed; i++)
		free(s->failed[i]);
	s->nfailed = 0;
}

/* In rotation now? A suspension that ended is lifted here, with a log line. */
static bool usable(struct qsource *s, int64_t now)
{
	if (s->gone)
		return false;
	if (s->suspended_until == 0)
		return true;
	if (now < s->suspended_until)
		return false;
	s->suspended_until = 0;
	log_info("queue pool=%s source=%s event=source-restored", s->pool->name, s->ip);
	return true;
}

static void suspend(struct qsource *s, const char *why)
{
	const struct config *cfg = s->pool->q->cfg;
	s->suspended_until = time_mono_ms() + (int64_t)cfg->queue_source_suspend * 1000;
	forget_failures(s);
	struct buf v = BUF_INIT;
	log_value(&v, why, strlen(why));
	log_warn("queue pool=%s source=%s event=source-suspended seconds=%llu reason=%s",
	         s->pool->name, s->ip, (unsigned long long)cfg->queue_source_suspend, buf_cstr(&v));
	buf_free(&v);
}

/* ---- following the configuration ----------------------------------------------------- */

static struct qsource *source_new(struct queue_pool *p, const char *ip, const char *ehlo,
                                  uint64_t max)
{
	struct qsource *s = xcalloc(1, sizeof *s);
	unsigned char a[16];
	s->pool = p;
	s->ip = xstrdup(ip);
	s->ehlo = xstrdup(ehlo);
	s->max = max;
	s->pub.ip = s->ip;
	s->pub.ehlo = s->ehlo;
	s->pub.family = inet_pton(AF_INET, ip, a) == 1 ? AF_INET : AF_INET6;
	p->src = xrealloc(p->src, (p->nsrc + 1) * sizeof *p->src);
	p->src[p->nsrc++] = s;
	return s;
}

static void sync_pool(struct queue_pool *p, const struct config_pool *cp, const char *hostname)
{
	for (size_t i = 0; i < p->nsrc; i++)
		p->src[i]->gone = true;
	for (size_t a = 0; a < cp->naddrs; a++) {
		const struct config_pool_addr *ca = &cp->addrs[a];
		const char *ehlo = ca->ehlo ? ca->ehlo : cp->ehlo ? cp->ehlo : hostname;
		struct qsource *found = NULL;
		for (size_t i = 0; i < p->nsrc && !found; i++) {
			struct qsource *s = p->src[i];
			if (s->gone && strcmp(s->ip, ca->ip) == 0 && strcmp(s->ehlo, ehlo) == 0)
				found = s;
		}
		if (found) {
			found->gone = false;
			found->max = cp->max_connections;
		} else {
			source_new(p, ca->ip, ehlo, cp->max_connections);
		}
	}
}

void queue_pools_sync(struct queue *q)
{
	const struct config *cfg = q->cfg;
	for (struct queue_pool *p = q->pools; p; p = p->next_pool)
		p->gone = true;
	for (size_t i = 0; i < cfg->npools; i++) {
		const struct config_pool *cp = &cfg->pools[i];
		struct queue_pool *p = q->pools;
		while (p && strcmp(p->name, cp->name) != 0)
			p = p->next_pool;
		if (!p) {
			p = xcalloc(1, sizeof *p);
			p->q = q;
			p->name = xstrdup(cp->name);
			p->next_pool = q->pools;
			q->pools = p;
		}
		p->gone = false;
		sync_pool(p, cp, cfg->hostname);
	}
	for (struct queue_pool *p = q->pools; p; p = p->next_pool)
		if (p->gone)
			for (size_t i = 0; i < p->nsrc; i++)
				p->src[i]->gone = true;
}

struct queue_pool *queue_pool_get(struct queue *q, const char *name)
{
	for (int round = 0; round < 2; round++) {
		for (struct queue_pool *p = q->pools; p; p = p->next_pool)
			if (!p->gone && strcmp(p->name, name) == 0)
				return p;
		if (round == 0)
			queue_pools_sync(q); /* configured since the last poll? */
	}
	return NULL;
}

void queue_pools_free(struct queue *q)
{
	while (q->pools) {
		struct queue_pool *p = q->pools;
		q->pools = p->next_pool;
		for (size_t i = 0; i < p->nsrc; i++) {
			forget_failures(p->src[i]);
			free(p->src[i]->ip);
			free(p->src[i]->ehlo);
			free(p->src[i]);
		}
		free(p->src);
		free(p->name);
		free(p);
	}
}

const char *queue_pool_choose(struct queue *q, const char *api_pool, const char *env_from,
                              int64_t queue_id)
{
	const struct config *cfg = q->cfg;
	if (api_pool && *api_pool) {
		if (config_pool_find(cfg, api_pool))
			return api_pool;
		log_warn("queue id=%lld event=unknown-pool pool=%s note=\"the API key names a pool "
		         "that is not configured; [pools] chooses\"",
		         (long long)queue_id, api_pool);
	}
	const char *name = config_pool_for(cfg, env_from);
	return name && config_pool_find(cfg, name) ? name : NULL;
}

/* ---- the runner's side --------------------------------------------------------------- */

enum queue_pool_room queue_pool_room(struct queue_pool *p, struct buf *why)
{
	if (p->gone) {
		buf_printf(why, "pool %s is no longer configured", p->name);
		return QUEUE_POOL_NONE;
	}
	int64_t now = time_mono_ms();
	uint64_t capacity = 0;
	bool unlimited = false;
	for (size_t i = 0; i < p->nsrc; i++) {
		struct qsource *s = p->src[i];
		if (!usable(s, now))
			continue;
		if (s->max == 0)
			unlimited = true;
		capacity += s->max;
	}
	if (!unlimited && capacity == 0) {
		buf_printf(why, "no address of pool %s is in rotation now", p->name);
		return QUEUE_POOL_NONE;
	}
	return unlimited || p->sessions < capacity ? QUEUE_POOL_ROOM : QUEUE_POOL_BUSY;
}

void queue_pool_sessions(struct queue_pool *p, int delta)
{
	if (delta < 0 && p->sessions == 0)
		panic("queue_pool: more sessions ended than began in pool %s", p->name);
	p->sessions = (unsigned)((int)p->sessions + delta);
}

/* ---- the transport's side ------------------------------------------------------------- */

const struct queue_source *queue_source_acquire(struct queue_pool *p, int family, struct buf *why)
{
	int64_t now = time_mono_ms();
	bool any = false;
	for (size_t k = 0; k < p->nsrc; k++) {
		size_t i = (p->next + k) % p->nsrc;
		struct qsource *s = p->src[i];
		if (s->gone || s->pub.family != family)
			continue;
		any = true;
		if (!usable(s, now) || (s->max && s->active >= s->max))
			continue;
		p->next = i + 1;
		s->active++;
		return &s->pub;
	}
	if (!any)
		buf_printf(why, "pool %s has no %s address", p->name, family_name(family));
	else
		buf_printf(why, "no %s address of pool %s is free or in rotation now",
		           family_name(family), p->name);
	return NULL;
}

void queue_source_release(const struct queue_source *src)
{
	struct qsource *s = (struct qsource *)src;
	if (s->active == 0)
		panic("queue_source_release: %s released more often than acquired", s->ip);
	s->active--;
}

void queue_source_report(const struct queue_source *src, enum queue_source_result r,
                         const char *remote_ip, const char *why)
{
	struct qsource *s = (struct qsource *)src;
	switch (r) {
	case QUEUE_SOURCE_OK:
		forget_failures(s);
		return;
	case QUEUE_SOURCE_BIND_FAILED:
		suspend(s, why);
		return;
	case QUEUE_SOURCE_CONNECT_FAILED:
		for (size_t i = 0; i < s->nfailed; i++)
			if (strcmp(s->failed[i], remote_ip) == 0)
				return; /* the same host again: its fault as likely as ours */
		s->failed[s->nfailed++] = xstrdup(remote_ip);
		if (s->nfailed >= QUEUE_SOURCE_MAX_FAILURES) {
			char *text =
			        xasprintf("connections to %zu hosts in a row failed, the last: %s",
			                  s->nfailed, why);
			suspend(s, text);
			free(text);
		}
		return;
	}
}
