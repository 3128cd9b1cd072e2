/*
 * queue_route — where mail for a domain goes: the next hops, in order.
 *
 * A [routes] entry for the domain (or "*") comes first: its hops are IP
 * literals, host names whose addresses are looked up ("[host]:port"), or names
 * whose MX hosts are looked up ("host:port"); "mx" keeps the domain's own MX
 * hosts and only adds a TLS policy. Without a route the domain's MX records
 * are looked up (RFC 5321 5.1): hosts by preference, in random order among
 * equal preferences; no MX record means the domain itself (implicit MX); a
 * null MX (RFC 7505, one record ".") means the domain takes no mail. Every
 * address of a host (IPv6 first) comes before the next host, at most
 * QUEUE_MAX_HOPS in all. A recipient domain written as an address literal
 * ("[192.0.2.1]") is its own hop. A route's credentials (auth= or auth-file=,
 * read here at each resolution) go with the route to the transport.
 *
 * Failures: the domain does not exist, or has a null MX, or neither MX nor
 * address: permanent (the recipients bounce). DNS trouble, MX hosts without
 * addresses, and unresolvable route hosts (our own configuration): temporary.
 */
#include "queue/queue_internal.h"

#include "core/config.h"
#include "core/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX_MX 10 /* MX hosts of one domain that are tried */

struct rr_host {
	struct queue_resolve *res;
	char *name;
	unsigned port;
	struct dns_query *q;
	enum dns_result r;
	char why[200];
	char **addrs;
	size_t naddrs;
};

struct rr_target {
	struct queue_resolve *res;
	char *name;
	unsigned port;
	bool mx;      /* look up the MX records of name */
	bool is_dest; /* name is the recipient domain itself */
	struct dns_query *mxq;
	enum dns_result mx_r;
	bool null_mx, implicit;
	char why[200];
	struct rr_host *hosts;
	size_t nhosts;
};

struct queue_resolve {
	struct queue *q;
	char *domain;
	queue_route_fn *fn;
	void *arg;
	bool require_tls, verify;
	char *auth_user, *auth_password;
	char *fail; /* our own configuration failed (temporary), or NULL */
	struct rr_target *targets;
	size_t ntargets;
	int pending;
	struct event *ev;
};

static bool is_ip(const char *s)
{
	unsigned char a[16];
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* A host name as MX records may name it: letters, digits, '-', '_' and dots. */
static bool is_hostname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
		if (c == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

void queue_route_free(struct queue_route *r)
{
	for (size_t i = 0; i < r->nhops; i++) {
		free(r->hops[i].host);
		free(r->hops[i].ip);
	}
	xfree(&r->hops);
	r->nhops = 0;
	xfree(&r->auth_user);
	xfree(&r->auth_password);
}

static void resolve_free(struct queue_resolve *res)
{
	for (size_t t = 0; t < res->ntargets; t++) {
		struct rr_target *tg = &res->targets[t];
		dns_cancel(&tg->mxq);
		for (size_t h = 0; h < tg->nhosts; h++) {
			struct rr_host *ho = &tg->hosts[h];
			dns_cancel(&ho->q);
			free(ho->name);
			for (size_t i = 0; i < ho->naddrs; i++)
				free(ho->addrs[i]);
			free(ho->addrs);
		}
		free(tg->hosts);
		free(tg->name);
	}
	free(res->targets);
	if (res->ev)
		event_free(res->ev);
	free(res->domain);
	free(res->auth_user);
	free(res->auth_password);
	free(res->fail);
	free(res);
}

void queue_route_cancel(struct queue_resolve **rp)
{
	if (*rp)
		resolve_free(*rp);
	*rp = NULL;
}

/* ---- assembling the result ------------------------------------------------------------- */

static void add_hop(struct queue_route *route, const char *host, const char *ip, unsigned port)
{
	if (route->nhops >= QUEUE_MAX_HOPS)
		return;
	for (size_t i = 0; i < route->nhops; i++)
		if (strcmp(route->hops[i].ip, ip) == 0 && route->hops[i].port == port)
			return; /* the same address under two names: once */
	route->hops = xrealloc(route->hops, (route->nhops + 1) * sizeof *route->hops);
	route->hops[route->nhops++] = (struct queue_hop){xstrdup(host), xstrdup(ip), port};
}

static void finish(struct queue_resolve *res)
{
	struct queue_route route = {.require_tls = res->require_tls, .verify = res->verify};
	struct buf temp = BUF_INIT, perm = BUF_INIT;
	if (res->fail)
		buf_puts(&temp, res->fail);
	const char *perm_status = "5.1.2";
	for (size_t t = 0; t < res->ntargets; t++) {
		struct rr_target *tg = &res->targets[t];
		if (tg->mx && tg->mx_r == DNS_TEMPFAIL) {
			buf_reset(&temp);
			buf_printf(&temp, "%s: %s", tg->name, tg->why);
			continue;
		}
		if (tg->mx && tg->null_mx && tg->is_dest) {
			buf_reset(&perm);
			buf_printf(&perm, "%s has a null MX: it accepts no mail (RFC 7505)",
			           tg->name);
			perm_status = "5.1.10";
			continue;
		}
		if (tg->mx && tg->mx_r == DNS_NXDOMAIN) {
			struct buf *b = tg->is_dest ? &perm : &temp;
			buf_reset(b);
			buf_printf(b,
			           tg->is_dest ? "domain %s does not exist"
			                       : "route host %s does not exist",
			           tg->name);
			continue;
		}
		bool any_addr = false;
		for (size_t h = 0; h < tg->nhosts; h++) {
			struct rr_host *ho = &tg->hosts[h];
			for (size_t i = 0; i < ho->naddrs; i++)
				add_hop(&route, ho->name, ho->addrs[i], tg->port);
			any_addr = any_addr || ho->naddrs > 0;
			if (ho->r == DNS_TEMPFAIL) {
				buf_reset(&temp);
				buf_printf(&temp, "%s: %s", ho->name, ho->why);
			}
		}
		if (!any_addr && temp.len == 0) {
			if (tg->implicit && tg->is_dest) {
				buf_reset(&perm);
				buf_printf(&perm, "domain %s has no MX and no address record",
				           tg->name);
			} else {
				buf_printf(&temp,
				           tg->mx ? "no address for the MX hosts of %s"
				                  : "no address for host %s",
				           tg->name);
			}
		}
	}
	if (route.nhops == 0 && temp.len == 0 && perm.len == 0)
		buf_printf(&temp, "no route to %s", res->domain);
	if (route.nhops > 0) {
		route.auth_user = res->auth_user;
		route.auth_password = res->auth_password;
		res->auth_user = res->auth_password = NULL;
	}
	queue_route_fn *fn = res->fn;
	void *arg = res->arg;
	resolve_free(res);
	if (route.nhops > 0)
		fn(QUEUE_ROUTE_OK, &route, "", "2.0.0", arg);
	else if (temp.len)
		fn(QUEUE_ROUTE_TEMPFAIL, NULL, buf_cstr(&temp), "4.4.3", arg);
	else
		fn(QUEUE_ROUTE_PERMFAIL, NULL, buf_cstr(&perm), perm_status, arg);
	queue_route_free(&route); /* emptied by fn when it keeps it */
	buf_free(&temp);
	buf_free(&perm);
}

static void step_done(struct queue_resolve *res)
{
	if (--res->pending == 0)
		finish(res);
}

static void on_finish_event(evutil_socket_t fd, short what, void *arg)
{
	finish(arg);
}

/* ---- lookups ----------------------------------------------------------------------------- */

static void on_addrs(enum dns_result r, char *const *addrs, size_t n, const char *why, void *arg)
{
	struct rr_host *ho = arg;
	ho->q = NULL;
	ho->r = r;
	snprintf(ho->why, sizeof ho->why, "%s", why);
	for (size_t i = 0; i < n; i++) {
		ho->addrs = xrealloc(ho->addrs, (ho->naddrs + 1) * sizeof *ho->addrs);
		ho->addrs[ho->naddrs++] = xstrdup(addrs[i]);
	}
	step_done(ho->res);
}

static struct rr_host *host_add(struct rr_target *tg, const char *name)
{
	tg->hosts = xrealloc(tg->hosts, (tg->nhosts + 1) * sizeof *tg->hosts);
	struct rr_host *ho = &tg->hosts[tg->nhosts++];
	memset(ho, 0, sizeof *ho);
	ho->res = tg->res;
	ho->name = xstrdup(name);
	return ho;
}

/* Starts the address lookups of every host of tg (after the hosts array is final). */
static void hosts_lookup(struct rr_target *tg)
{
	struct queue_resolve *res = tg->res;
	for (size_t h = 0; h < tg->nhosts; h++) {
		struct rr_host *ho = &tg->hosts[h];
		if (is_ip(ho->name)) {
			ho->addrs = xcalloc(1, sizeof *ho->addrs);
			ho->addrs[0] = xstrdup(ho->name);
			ho->naddrs = 1;
			ho->r = DNS_OK;
			continue;
		}
		res->pending++;
		ho->q = dns_lookup_addrs(res->q->dns, ho->name, on_addrs, ho);
	}
}

/* Shuffles each run of equal preferences (Fisher-Yates within the run). */
static void shuffle_equal(struct dns_mx *mx, size_t n)
{
	size_t start = 0;
	while (start < n) {
		size_t end = start + 1;
		while (end < n && mx[end].pref == mx[start].pref)
			end++;
		for (size_t i = end - 1; i > start; i--) {
			size_t j = start + (size_t)(random_u64() % (i - start + 1));
			struct dns_mx t = mx[i];
			mx[i] = mx[j];
			mx[j] = t;
		}
		start = end;
	}
}

static void on_mx(enum dns_result r, const struct dns_mx *records, size_t n, const char *why,
                  void *arg)
{
	struct rr_target *tg = arg;
	tg->mxq = NULL;
	tg->mx_r = r;
	snprintf(tg->why, sizeof tg->why, "%s", why);
	if (r == DNS_NODATA) {
		/* No MX: the domain itself, with preference 0 (RFC 5321 5.1). */
		tg->implicit = true;
		host_add(tg, tg->name);
	} else if (r == DNS_OK) {
		struct dns_mx *mx = xcalloc(n + 1, sizeof *mx);
		size_t m = 0, nulls = 0, invalid = 0;
		for (size_t i = 0; i < n; i++) {
			if (records[i].host[0] == '\0' || strcmp(records[i].host, ".") == 0)
				nulls++;
			else if (!is_hostname(records[i].host) || is_ip(records[i].host))
				invalid++;
			else
				mx[m++] = records[i];
		}
		if (m == 0 && nulls > 0 && invalid == 0) {
			tg->null_mx = true;
		} else if (m == 0) {
			tg->mx_r = DNS_TEMPFAIL;
			snprintf(tg->why, sizeof tg->why, "MX lookup: no usable MX host");
		} else {
			shuffle_equal(mx, m);
			for (size_t i = 0; i < m && i < QUEUE_MAX_MX; i++)
				host_add(tg, mx[i].host);
		}
		free(mx);
	}
	hosts_lookup(tg);
	step_done(tg->res);
}

static struct rr_target *target_add(struct queue_resolve *res, const char *name, unsigned port,
                                    bool mx, bool is_dest)
{
	res->targets = xrealloc(res->targets, (res->ntargets + 1) * sizeof *res->targets);
	struct rr_target *tg = &res->targets[res->ntargets++];
	memset(tg, 0, sizeof *tg);
	tg->res = res;
	tg->name = xstrdup(name);
	tg->port = port;
	tg->mx = mx;
	tg->is_dest = is_dest;
	return tg;
}

/* The route's credentials into res: given, or read from its auth-file. -1
   (res->fail says why) when the file cannot be read. */
static int route_auth(struct queue_resolve *res, struct config_route *cr)
{
	if (cr->auth_user) {
		res->auth_user = xstrdup(cr->auth_user);
		res->auth_password = xstrdup(cr->auth_password);
		return 0;
	}
	if (!cr->auth_file)
		return 0;
	struct buf text = BUF_INIT, err = BUF_INIT;
	int rc = -1;
	FILE *f = fopen(cr->auth_file, "rb");
	if (!f) {
		buf_printf(&err, "cannot open: %s", strerror(errno));
	} else {
		char chunk[512];
		size_t n;
		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && text.len <= 4096)
			buf_append(&text, chunk, n);
		if (ferror(f))
			buf_printf(&err, "cannot read: %s", strerror(errno));
		else if (config_parse_auth(text.data ? text.data : "", text.len, &res->auth_user,
		                           &res->auth_password, &err) == 0)
			rc = 0;
		fclose(f);
	}
	if (rc < 0) {
		res->fail =
		        xasprintf("the route's auth-file %s: %s", cr->auth_file, buf_cstr(&err));
		log_error("queue domain=%s event=bad-route reason=\"%s\"", res->domain, res->fail);
	}
	if (text.data)
		explicit_bzero(text.data, text.cap); /* the password */
	buf_free(&text);
	buf_free(&err);
	return rc;
}

struct queue_resolve *queue_route_resolve(struct queue *q, const char *domain, queue_route_fn *fn,
                                          void *arg)
{
	struct queue_resolve *res = xcalloc(1, sizeof *res);
	res->q = q;
	res->domain = xstrdup(domain);
	res->fn = fn;
	res->arg = arg;
	res->ev = event_new(q->base, -1, 0, on_finish_event, res);
	if (!res->ev)
		panic("queue: cannot create an event");
	unsigned mx_port = (unsigned)q->cfg->queue_mx_port;
	const char *value = config_route_for(q->cfg, domain);
	struct config_route cr = {0};
	struct buf err = BUF_INIT;
	bool routed = false;
	if (value) {
		if (config_parse_route(value, &cr, &err) == 0 && route_auth(res, &cr) == 0) {
			res->require_tls = cr.require_tls;
			res->verify = cr.verify;
			for (size_t i = 0; i < cr.nhops; i++)
				target_add(res, cr.hops[i].host,
				           cr.hops[i].port ? cr.hops[i].port : mx_port,
				           cr.hops[i].mx, false);
			routed = cr.nhops > 0;
			config_route_free(&cr);
		} else if (!res->fail) {
			log_error("queue domain=%s event=bad-route reason=\"%s\"", domain,
			          buf_cstr(&err));
			routed = true; /* no target: a temporary failure, not the MX */
		} else {
			config_route_free(&cr);
			routed = true;
		}
	}
	buf_free(&err);
	if (!routed) {
		size_t dl = strlen(domain);
		if (dl > 2 && domain[0] == '[' && domain[dl - 1] == ']') {
			/* An address literal: [192.0.2.1] or [IPv6:2001:db8::1]. */
			char *lit = xstrndup(domain + 1, dl - 2);
			const char *ip = str_has_prefix_nocase(str_c(lit), "ipv6:") ? lit + 5 : lit;
			if (is_ip(ip))
				target_add(res, ip, mx_port, false, true);
			free(lit);
		} else {
			target_add(res, domain, mx_port, true, true);
		}
	}
	/* Lookups only once every target exists (the array no longer moves). */
	for (size_t t = 0; t < res->ntargets; t++) {
		struct rr_target *tg = &res->targets[t];
		if (tg->mx) {
			res->pending++;
			tg->mxq = dns_lookup_mx(q->dns, tg->name, on_mx, tg);
		} else {
			host_add(tg, tg->name);
			hosts_lookup(tg);
		}
	}
	if (res->pending == 0)
		event_active(res->ev, EV_READ, 0);
	return res;
}
