/*
 * dns — DNS lookups on the event loop, with c-ares.
 *
 * One struct dns per loop asks the configured resolver ([dns] resolver, an
 * "ip:port" or "[v6]:port"; empty: the system's, from /etc/resolv.conf)
 * without blocking. Names are looked up as given (no search list, no
 * /etc/hosts). A lookup returns a handle; its callback runs exactly once, on
 * the loop and never from inside the call that started it, unless the lookup
 * is cancelled first (dns_cancel: the callback then never runs). dns_free()
 * ends every lookup still running without calling back (and must not be
 * called from inside a callback).
 *
 * Results: DNS_OK with the records; DNS_NXDOMAIN (the name does not exist);
 * DNS_NODATA (it exists but has no record of the type); DNS_TEMPFAIL for
 * everything else — timeouts, SERVFAIL, refused connections, and answers that
 * do not parse — with a one-line reason. An address lookup asks for AAAA and A
 * at once and returns the IPv6 addresses first; it succeeds when either type
 * has an address, and fails temporarily when neither has and one failed so.
 */
#ifndef PETREL_DNS_H
#define PETREL_DNS_H

#include "core/core.h"

struct event_base;
struct dns;
struct dns_query;

#define DNS_MAX_RECORDS 64 /* records of one answer that are used; more are ignored */

enum dns_result { DNS_OK, DNS_NXDOMAIN, DNS_NODATA, DNS_TEMPFAIL };

struct dns_mx {
	char *host; /* "" for the root, i.e. a null MX (RFC 7505) */
	unsigned pref;
};

/* why is "" unless r is DNS_TEMPFAIL. The records live only during the call. */
typedef void dns_mx_fn(enum dns_result r, const struct dns_mx *mx, size_t n, const char *why,
                       void *arg);
/* IP addresses as text ("192.0.2.1", "2001:db8::1"). */
typedef void dns_addr_fn(enum dns_result r, char *const *addrs, size_t n, const char *why,
                         void *arg);

/* resolver: "" for the system's, else "ip:port" or "[v6]:port". */
struct dns *dns_new(struct event_base *base, const char *resolver, struct buf *err);
void dns_free(struct dns **d);

struct dns_query *dns_lookup_mx(struct dns *d, const char *name, dns_mx_fn *fn, void *arg);
struct dns_query *dns_lookup_addrs(struct dns *d, const char *name, dns_addr_fn *fn, void *arg);
/* Stops a lookup whose callback has not run yet; sets *q to NULL. */
void dns_cancel(struct dns_query **q);

const char *dns_result_name(enum dns_result r);

#endif
