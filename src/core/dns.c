/*
 * dns — c-ares driven by libevent.
 *
 * c-ares tells us which sockets it wants watched (ARES_OPT_SOCK_STATE_CB); each
 * gets a persistent libevent event that calls ares_process_fd(). One timer,
 * re-armed from ares_timeout() after every step, drives retransmissions and
 * timeouts. c-ares calls our completion from inside ares_query() or
 * ares_process_fd(); the result is stored in the query and handed to the user
 * from the query's own event, so a user callback never runs inside c-ares (and
 * never inside dns_lookup_*), and may start or cancel lookups freely.
 *
 * A query is freed once c-ares is done with it (no sub-query pending) and it
 * was either delivered or cancelled.
 */
#include "core/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef T_MX
#define T_MX 15
#endif
#ifndef T_A
#define T_A 1
#endif
#ifndef T_AAAA
#define T_AAAA 28
#endif
#define DNS_CLASS_IN 1

struct sock_watch {
	ares_socket_t fd;
	struct event *ev;
	short what;
};

struct dns {
	struct event_base *base;
	ares_channel ch;
	struct event *timer;
	struct sock_watch *socks;
	size_t nsocks;
	struct dns_query *queries; /* every live query */
	bool destroying;
};

enum query_kind { QUERY_MX, QUERY_ADDR };

struct sub_result {
	enum dns_result r;
	char why[160];
	char **addrs;
	size_t naddrs;
};

struct dns_query {
	struct dns *d;
	enum query_kind kind;
	int pending; /* c-ares sub-queries not answered yet */
	bool cancelled, delivered;
	dns_mx_fn *mx_fn;
	dns_addr_fn *addr_fn;
	void *arg;
	struct event *ev;
	/* results */
	enum dns_result r;
	char why[160];
	struct dns_mx *mx;
	size_t nmx;
	struct sub_result sub[2]; /* ADDR: [0] AAAA, [1] A */
	struct dns_query *prev, *next;
};

static int lib_users;

const char *dns_result_name(enum dns_result r)
{
	switch (r) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NODATA:
		return "nodata";
	case DNS_TEMPFAIL:
		return "tempfail";
	}
	return "?";
}

/* ---- the channel on the loop ------------------------------------------------------ */

static void rearm_timer(struct dns *d)
{
	struct timeval tv, *tvp = ares_timeout(d->ch, NULL, &tv);
	if (tvp)
		evtimer_add(d->timer, tvp);
	else
		evtimer_del(d->timer);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm_timer(d);
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;
	ares_process_fd(d->ch, (what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
	                (what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
	rearm_timer(d);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	size_t i = 0;
	while (i < d->nsocks && d->socks[i].fd != fd)
		i++;
	short what = (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
	if (i < d->nsocks) {
		if (d->socks[i].what == what)
			return;
		event_free(d->socks[i].ev);
		if (!what) {
			d->socks[i] = d->socks[--d->nsocks];
			return;
		}
	} else {
		if (!what)
			return;
		d->socks = xrealloc(d->socks, (d->nsocks + 1) * sizeof *d->socks);
		i = d->nsocks++;
		d->socks[i].fd = fd;
	}
	d->socks[i].what = what;
	d->socks[i].ev =
	        event_new(d->base, (evutil_socket_t)fd, (short)(what | EV_PERSIST), on_sock, d);
	if (!d->socks[i].ev)
		panic("dns: cannot create an event");
	event_add(d->socks[i].ev, NULL);
}

struct dns *dns_new(struct event_base *base, const char *resolver, struct buf *err)
{
	if (lib_users++ == 0 && ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		lib_users--;
		buf_puts(err, "cannot initialise c-ares");
		return NULL;
	}
	struct dns *d = xcalloc(1, sizeof *d);
	d->base = base;
	struct ares_options opt;
	memset(&opt, 0, sizeof opt);
	opt.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	opt.sock_state_cb = sock_state;
	opt.sock_state_cb_data = d;
	opt.timeout = 3000; /* ms, with ARES_OPT_TIMEOUTMS */
	opt.tries = 2;
	int mask = ARES_OPT_FLAGS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	int rc = ares_init_options(&d->ch, &opt, mask);
	if (rc != ARES_SUCCESS) {
		buf_printf(err, "cannot start the DNS resolver: %s", ares_strerror(rc));
		free(d);
		if (--lib_users == 0)
			ares_library_cleanup();
		return NULL;
	}
	if (resolver && *resolver) {
		rc = ares_set_servers_ports_csv(d->ch, resolver);
		if (rc != ARES_SUCCESS) {
			buf_printf(err, "cannot use DNS resolver %s: %s", resolver,
			           ares_strerror(rc));
			ares_destroy(d->ch);
			free(d);
			if (--lib_users == 0)
				ares_library_cleanup();
			return NULL;
		}
	}
	d->timer = evtimer_new(base, on_timer, d);
	if (!d->timer)
		panic("dns: cannot create a timer");
	return d;
}

static void query_free(struct dns_query *q);

void dns_free(struct dns **dp)
{
	struct dns *d = *dp;
	if (!d)
		return;
	d->destroying = true;
	ares_destroy(d->ch); /* calls back every pending sub-query with ARES_EDESTRUCTION */
	while (d->queries)
		query_free(d->queries);
	for (size_t i = 0; i < d->nsocks; i++)
		event_free(d->socks[i].ev);
	free(d->socks);
	event_free(d->timer);
	free(d);
	if (--lib_users == 0)
		ares_library_cleanup();
	*dp = NULL;
}

/* ---- queries -------------------------------------------------------------------------- */

static void query_free(struct dns_query *q)
{
	struct dns *d = q->d;
	if (q->prev)
		q->prev->next = q->next;
	else
		d->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	for (size_t i = 0; i < q->nmx; i++)
		free(q->mx[i].host);
	free(q->mx);
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < q->sub[k].naddrs; i++)
			free(q->sub[k].addrs[i]);
		free(q->sub[k].addrs);
	}
	if (q->ev)
		event_free(q->ev);
	free(q);
}

static void maybe_free(struct dns_query *q)
{
	if (q->pending == 0 && (q->delivered || q->cancelled))
		query_free(q);
}

static void deliver(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	if (q->cancelled || q->delivered)
		return;
	q->delivered = true;
	if (q->kind == QUERY_MX) {
		q->mx_fn(q->r, q->mx, q->nmx, q->why, q->arg);
	} else {
		/* IPv6 first, then IPv4. */
		size_t n = q->sub[0].naddrs + q->sub[1].naddrs;
		char **all = xcalloc(n + 1, sizeof *all);
		for (size_t i = 0; i < q->sub[0].naddrs; i++)
			all[i] = q->sub[0].addrs[i];
		for (size_t i = 0; i < q->sub[1].naddrs; i++)
			all[q->sub[0].naddrs + i] = q->sub[1].addrs[i];
		q->addr_fn(q->r, all, n, q->why, q->arg);
		free(all);
	}
	/* dns_free must not be called from a callback: q is still ours here. */
	maybe_free(q);
}

static enum dns_result map_status(int status, char *why, size_t why_size, const char *what)
{
	switch (status) {
	case ARES_SUCCESS:
		return DNS_OK;
	case ARES_ENOTFOUND:
		return DNS_NXDOMAIN;
	case ARES_ENODATA:
		return DNS_NODATA;
	default:
		snprintf(why, why_size, "%s lookup failed: %s", what, ares_strerror(status));
		return DNS_TEMPFAIL;
	}
}

static struct dns_query *query_new(struct dns *d, enum query_kind kind, void *arg)
{
	struct dns_query *q = xcalloc(1, sizeof *q);
	q->d = d;
	q->kind = kind;
	q->arg = arg;
	q->ev = event_new(d->base, -1, 0, deliver, q);
	if (!q->ev)
		panic("dns: cannot create an event");
	q->next = d->queries;
	if (d->queries)
		d->queries->prev = q;
	d->queries = q;
	return q;
}

/* A sub-query finished: when it was the last, schedule the delivery. */
static void sub_done(struct dns_query *q)
{
	q->pending--;
	if (q->d->destroying)
		return; /* dns_free frees every query */
	if (q->pending > 0)
		return;
	if (q->cancelled) {
		query_free(q);
		return;
	}
	event_active(q->ev, EV_READ, 0);
}

static int mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;
	return (x->pref > y->pref) - (x->pref < y->pref);
}

static void on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || q->cancelled) {
		sub_done(q);
		return;
	}
	q->r = map_status(status, q->why, sizeof q->why, "MX");
	if (q->r == DNS_OK) {
		struct ares_mx_reply *mx = NULL;
		int rc = ares_parse_mx_reply(abuf, alen, &mx);
		if (rc == ARES_ENODATA) {
			q->r = DNS_NODATA;
		} else if (rc != ARES_SUCCESS) {
			q->r = DNS_TEMPFAIL;
			snprintf(q->why, sizeof q->why, "MX lookup: bad answer: %s",
			         ares_strerror(rc));
		} else {
			for (struct ares_mx_reply *m = mx; m && q->nmx < DNS_MAX_RECORDS;
			     m = m->next) {
				q->mx = xrealloc(q->mx, (q->nmx + 1) * sizeof *q->mx);
				q->mx[q->nmx].host = xstrdup(m->host ? m->host : "");
				q->mx[q->nmx].pref = m->priority;
				q->nmx++;
			}
			if (q->nmx == 0)
				q->r = DNS_NODATA;
			qsort(q->mx, q->nmx, sizeof *q->mx, mx_cmp);
		}
		ares_free_data(mx);
	}
	sub_done(q);
}

static void on_addr(struct dns_query *q, int k, int status, unsigned char *abuf, int alen)
{
	struct sub_result *s = &q->sub[k];
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || q->cancelled) {
		sub_done(q);
		return;
	}
	s->r = map_status(status, s->why, sizeof s->why, k == 0 ? "AAAA" : "A");
	if (s->r == DNS_OK) {
		char text[INET6_ADDRSTRLEN];
		int rc, n = DNS_MAX_RECORDS;
		if (k == 0) {
			struct ares_addr6ttl ttls[DNS_MAX_RECORDS];
			rc = ares_parse_aaaa_reply(abuf, alen, NULL, ttls, &n);
			for (int i = 0; rc == ARES_SUCCESS && i < n; i++) {
				inet_ntop(AF_INET6, &ttls[i].ip6addr, text, sizeof text);
				s->addrs = xrealloc(s->addrs, (s->naddrs + 1) * sizeof *s->addrs);
				s->addrs[s->naddrs++] = xstrdup(text);
			}
		} else {
			struct ares_addrttl ttls[DNS_MAX_RECORDS];
			rc = ares_parse_a_reply(abuf, alen, NULL, ttls, &n);
			for (int i = 0; rc == ARES_SUCCESS && i < n; i++) {
				inet_ntop(AF_INET, &ttls[i].ipaddr, text, sizeof text);
				s->addrs = xrealloc(s->addrs, (s->naddrs + 1) * sizeof *s->addrs);
				s->addrs[s->naddrs++] = xstrdup(text);
			}
		}
		if (rc == ARES_ENODATA || (rc == ARES_SUCCESS && s->naddrs == 0)) {
			s->r = DNS_NODATA;
		} else if (rc != ARES_SUCCESS) {
			s->r = DNS_TEMPFAIL;
			snprintf(s->why, sizeof s->why, "%s lookup: bad answer: %s",
			         k == 0 ? "AAAA" : "A", ares_strerror(rc));
		}
	}
	if (q->pending == 1) {
		/* Both are in: combine. */
		struct sub_result *a = &q->sub[0], *b = &q->sub[1];
		if (a->naddrs + b->naddrs > 0)
			q->r = DNS_OK;
		else if (a->r == DNS_TEMPFAIL || b->r == DNS_TEMPFAIL)
			q->r = DNS_TEMPFAIL;
		else if (a->r == DNS_NXDOMAIN && b->r == DNS_NXDOMAIN)
			q->r = DNS_NXDOMAIN;
		else
			q->r = DNS_NODATA;
		if (q->r == DNS_TEMPFAIL)
			snprintf(q->why, sizeof q->why, "%s",
			         a->r == DNS_TEMPFAIL ? a->why : b->why);
	}
	sub_done(q);
}

static void on_aaaa(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	on_addr(arg, 0, status, abuf, alen);
}

static void on_a(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	on_addr(arg, 1, status, abuf, alen);
}

struct dns_query *dns_lookup_mx(struct dns *d, const char *name, dns_mx_fn *fn, void *arg)
{
	struct dns_query *q = query_new(d, QUERY_MX, arg);
	q->mx_fn = fn;
	q->pending = 1;
	ares_query(d->ch, name, DNS_CLASS_IN, T_MX, on_mx, q);
	rearm_timer(d);
	return q;
}

struct dns_query *dns_lookup_addrs(struct dns *d, const char *name, dns_addr_fn *fn, void *arg)
{
	struct dns_query *q = query_new(d, QUERY_ADDR, arg);
	q->addr_fn = fn;
	q->pending = 2;
	ares_query(d->ch, name, DNS_CLASS_IN, T_AAAA, on_aaaa, q);
	ares_query(d->ch, name, DNS_CLASS_IN, T_A, on_a, q);
	rearm_timer(d);
	return q;
}

void dns_cancel(struct dns_query **qp)
{
	struct dns_query *q = *qp;
	if (!q)
		return;
	*qp = NULL;
	q->cancelled = true;
	maybe_free(q);
}
