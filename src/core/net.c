/*
 * net — listeners and connections over libevent bufferevents.
 *
 * Output of a plain connection is written straight away: conn_write() appends
 * to the bufferevent's output and activates the conn's flush event, which
 * writes it to the socket once the current callbacks are done (one write for
 * all of a reply's pieces). Only when the socket is full does EV_WRITE get
 * enabled, until libevent has written the rest. Letting libevent do every
 * write would cost two epoll_ctl calls and one more turn of the loop per
 * reply. TLS connections (implicit, or after STARTTLS) leave the writing to
 * the bufferevent.
 *
 * Lifetime: a conn lives on net->conns from accept to its end. Ending is
 * always deferred: conn_close() sets `closing` and waits for the output to
 * drain; conn_abort() and every error mark the conn dead and activate
 * net->reap, whose callback (running on a fresh stack, outside every conn
 * callback) calls the handler's closed() and frees. So a handler may call
 * conn_close()/conn_abort() from anywhere, including its own callbacks.
 */
#include "core/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/config.h"

struct listener {
	struct net *net;
	char *name;
	char *addr_text;
	bool implicit_tls;
	const struct conn_handler *h;
	void *arg;
	struct evconnlistener *ev;
	struct listener *next;
};

struct conn {
	struct net *net;
	struct listener *l; /* NULL once listeners are gone */
	const struct conn_handler *h;
	void *arg;
	const char *listener_name; /* owned by net->names */
	struct bufferevent *bev;
	SSL *ssl; /* owned by bev */
	void *data;
	char id[9];
	char peer[INET6_ADDRSTRLEN];
	unsigned peer_port;
	bool loopback;
	bool opened;  /* open() has been called */
	bool closing; /* flush then close */
	bool dead;    /* waiting for reap */
	bool paused;
	bool tls_pending; /* handshake in progress */
	bool watch_underlying; /* closing: waiting for the socket's output to drain */
	bool direct;           /* plain socket: flush_cb writes, EV_WRITE only when full */
	bool flush_pending;    /* flush_ev is active */
	struct event *flush_ev;
	struct event *later_ev; /* conn_write_later */
	struct buf later;
	bool later_pending, later_close;
	unsigned timeout_s;
	char tls_info[128];
	struct conn *prev, *next;
};

/* One peer's connections in the current minute (rate limit). */
struct rate_slot {
	char ip[INET6_ADDRSTRLEN];
	int64_t window_start; /* ms, monotonic */
	unsigned count;
};

struct net {
	struct event_base *base;
	struct rate_slot *rates; /* NET_RATE_SLOTS, open addressing; allocated on first use */
	struct net_limits lim;
	SSL_CTX *tls;
	struct listener *listeners;
	struct conn *conns;
	size_t nconns;
	struct event *reap;
	char **names; /* listener names, kept until net_free (conns point into them) */
	size_t nnames;
};

static void conn_kill(struct conn *c);

/* ---- net ------------------------------------------------------------------- */

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net *n = arg;
	struct conn *c = n->conns;
	while (c) {
		struct conn *next = c->next;
		if (c->dead) {
			if (c->prev)
				c->prev->next = c->next;
			else
				n->conns = c->next;
			if (c->next)
				c->next->prev = c->prev;
			n->nconns--;
			if (c->opened && c->h->closed)
				c->h->closed(c);
			if (c->later_ev)
				event_free(c->later_ev);
			if (c->flush_ev)
				event_free(c->flush_ev);
			buf_free(&c->later);
			if (c->bev)
				bufferevent_free(c->bev);
			free(c);
		}
		c = next;
	}
}

struct net *net_new(struct event_base *base, const struct net_limits *lim)
{
	struct net *n = xcalloc(1, sizeof *n);
	n->base = base;
	n->lim = *lim;
	n->reap = event_new(base, -1, 0, reap_cb, n);
	if (!n->reap)
		panic("net_new: cannot create an event");
	return n;
}

void net_set_limits(struct net *n, const struct net_limits *lim)
{
	n->lim = *lim;
}

void net_set_tls(struct net *n, SSL_CTX *ctx)
{
	if (ctx)
		SSL_CTX_up_ref(ctx);
	if (n->tls)
		SSL_CTX_free(n->tls);
	n->tls = ctx;
}

void net_stop_listening(struct net *n)
{
	while (n->listeners) {
		struct listener *l = n->listeners;
		n->listeners = l->next;
		for (struct conn *c = n->conns; c; c = c->next)
			if (c->l == l)
				c->l = NULL;
		evconnlistener_free(l->ev);
		free(l->name);
		free(l->addr_text);
		free(l);
	}
}

void net_free(struct net **np)
{
	struct net *n = *np;
	if (!n)
		return;
	net_stop_listening(n);
	for (struct conn *c = n->conns; c; c = c->next)
		c->dead = true;
	reap_cb(-1, 0, n);
	event_free(n->reap);
	free(n->rates);
	if (n->tls)
		SSL_CTX_free(n->tls);
	for (size_t i = 0; i < n->nnames; i++)
		free(n->names[i]);
	free(n->names);
	free(n);
	*np = NULL;
}

size_t net_connection_count(const struct net *n)
{
	return n->nconns;
}

void net_listener_counts(const struct net *n,
			 void (*fn)(const char *name, size_t open, void *arg), void *arg)
{
	for (size_t i = 0; i < n->nnames; i++) {
		size_t open = 0;
		for (const struct conn *c = n->conns; c; c = c->next)
			if (!c->dead && c->listener_name == n->names[i])
				open++;
		fn(n->names[i], open, arg);
	}
}

void net_drain(struct net *n)
{
	for (struct conn *c = n->conns; c; c = c->next) {
		if (c->dead || c->closing)
			continue;
		if (c->opened && c->h->drain)
			c->h->drain(c);
		conn_close(c);
	}
}

/* ---- connection callbacks ----------------------------------------------------- */

static void conn_log_tls_errors(struct conn *c)
{
	unsigned long e;
	while ((e = ERR_get_error()) != 0) {
		char text[256];
		ERR_error_string_n(e, text, sizeof text);
		log_info("%s id=%s peer=%s event=tls-error reason=\"%s\"", c->h->proto, c->id,
			 c->peer, text);
	}
}

static void conn_note_tls(struct conn *c)
{
	c->ssl = bufferevent_openssl_get_ssl(c->bev);
	if (c->ssl)
		snprintf(c->tls_info, sizeof c->tls_info, "%s %s", SSL_get_version(c->ssl),
			 SSL_get_cipher_name(c->ssl));
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->dead || c->closing || c->paused || c->later_pending || !c->opened)
		return;
	c->h->read(c);
}

/* Under TLS the conn's bufferevent is a filter over the socket's: output is
   flushed only when the socket's output buffer is empty too. */
static void underlying_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
			       void *arg)
{
	struct conn *c = arg;
	if (c->closing && evbuffer_get_length(buf) == 0)
		conn_kill(c);
}

static void close_when_flushed(struct conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) != 0)
		return; /* write_cb comes back here */
	struct bufferevent *under = bufferevent_get_underlying(c->bev);
	if (under && evbuffer_get_length(bufferevent_get_output(under)) != 0) {
		if (!c->watch_underlying) {
			c->watch_underlying = true;
			evbuffer_add_cb(bufferevent_get_output(under), underlying_drained, c);
		}
		return;
	}
	conn_kill(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	/* A direct conn's socket took the rest: back to writing it ourselves. */
	if (c->direct && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_disable(bev, EV_WRITE);
	if (c->closing)
		close_when_flushed(c);
}

/* Writes a direct conn's output to its socket, as much as it takes; the rest
   waits for EV_WRITE. */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	c->flush_pending = false;
	if (c->dead || !c->direct || (bufferevent_get_enabled(c->bev) & EV_WRITE))
		return;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evutil_socket_t sock = bufferevent_getfd(c->bev);
	while (evbuffer_get_length(out) > 0) {
		/* A socket bufferevent keeps the front of its output frozen but
		   while it writes itself. */
		evbuffer_unfreeze(out, 1);
		int n = evbuffer_write(out, sock);
		int e = EVUTIL_SOCKET_ERROR();
		evbuffer_freeze(out, 1);
		if (n > 0)
			continue;
		if (n < 0 && e == EINTR)
			continue;
		if (n == 0 || e == EAGAIN || e == EWOULDBLOCK) {
			bufferevent_enable(c->bev, EV_WRITE);
			return;
		}
		log_debug("%s id=%s peer=%s event=error reason=\"%s\"", c->h->proto, c->id,
			  c->peer, evutil_socket_error_to_string(e));
		conn_kill(c);
		return;
	}
	if (c->closing)
		close_when_flushed(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (c->dead)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		/* TLS handshake finished (implicit TLS or STARTTLS). */
		c->tls_pending = false;
		conn_note_tls(c);
		log_debug("%s id=%s peer=%s event=tls %s", c->h->proto, c->id, c->peer,
			  c->tls_info);
		if (!c->opened) {
			c->opened = true;
			c->h->open(c);
		}
		if (!c->dead && !c->closing && evbuffer_get_length(bufferevent_get_input(bev)))
			read_cb(bev, c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		log_info("%s id=%s peer=%s event=timeout", c->h->proto, c->id, c->peer);
		if (c->closing) { /* its last output was never read */
			conn_kill(c);
			return;
		}
		if (c->opened && !c->closing && c->h->timeout)
			c->h->timeout(c);
		conn_close(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (c->ssl || c->tls_pending)
			conn_log_tls_errors(c);
		int e = EVUTIL_SOCKET_ERROR();
		if (e)
			log_debug("%s id=%s peer=%s event=error reason=\"%s\"", c->h->proto, c->id,
				  c->peer, evutil_socket_error_to_string(e));
	}
	/* EOF or error: the peer is gone. */
	conn_kill(c);
}

static void conn_setup_bev(struct conn *c)
{
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_MAX_INPUT);
	conn_set_timeout(c, c->timeout_s);
	if (c->direct) {
		bufferevent_disable(c->bev, EV_WRITE);
		bufferevent_enable(c->bev, EV_READ);
	} else {
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	}
}

/* Counts a new connection from ip; true when it is over the per-minute rate.
   Open addressing over a fixed table: a full probe run evicts its stalest slot,
   so memory stays bounded whatever the number of peers. */
static bool over_rate(struct net *n, const char *ip, bool loopback)
{
	if (!n->lim.rate_per_ip || (loopback && n->lim.rate_exempt_loopback))
		return false;
	if (!n->rates)
		n->rates = xcalloc(NET_RATE_SLOTS, sizeof *n->rates);
	uint32_t h = 2166136261u;
	for (const char *p = ip; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	int64_t now = time_mono_ms();
	struct rate_slot *victim = NULL;
	for (unsigned i = 0; i < 16; i++) {
		struct rate_slot *r = &n->rates[(h + i) % NET_RATE_SLOTS];
		if (strcmp(r->ip, ip) == 0) {
			victim = r;
			break;
		}
		if (!victim || r->window_start < victim->window_start)
			victim = r;
	}
	if (strcmp(victim->ip, ip) != 0) {
		snprintf(victim->ip, sizeof victim->ip, "%s", ip);
		victim->window_start = now;
		victim->count = 0;
	}
	if (now - victim->window_start >= 60000) {
		victim->window_start = now;
		victim->count = 0;
	}
	return ++victim->count > n->lim.rate_per_ip;
}

static unsigned count_peer(struct net *n, const char *peer)
{
	unsigned k = 0;
	for (struct conn *c = n->conns; c; c = c->next)
		if (!c->dead && strcmp(c->peer, peer) == 0)
			k++;
	return k;
}

static void accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct listener *l = arg;
	struct net *n = l->net;
	struct conn *c = xcalloc(1, sizeof *c);
	c->net = n;
	c->l = l;
	c->h = l->h;
	c->arg = l->arg;
	/* net->names outlives the listener (freed at SIGTERM, conns stay) */
	for (size_t i = 0; i < n->nnames; i++)
		if (strcmp(n->names[i], l->name) == 0)
			c->listener_name = n->names[i];
	c->timeout_s = n->lim.timeout_s;
	random_id(c->id, 4);
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, c->peer, sizeof c->peer);
		c->peer_port = ntohs(sin->sin_port);
		c->loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, c->peer, sizeof c->peer);
		c->peer_port = ntohs(sin6->sin6_port);
		c->loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	} else {
		snprintf(c->peer, sizeof c->peer, "unknown");
	}
	/* Replies leave as soon as the loop writes them: without this, Nagle's
	   algorithm holds back the last small segment of a large answer until the
	   client acknowledges the previous one, which a delayed ACK makes ~40 ms. */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	const char *reason = n->nconns >= n->lim.max_connections	      ? "connection-limit"
			     : count_peer(n, c->peer) >= n->lim.max_per_ip ? "ip-connection-limit"
			     : over_rate(n, c->peer, c->loopback)	      ? "ip-connection-rate"
									      : NULL;
	bool busy = reason != NULL;
	/* Link first so that every path out goes through the reaper. */
	c->next = n->conns;
	if (n->conns)
		n->conns->prev = c;
	n->conns = c;
	n->nconns++;

	if (busy) {
		log_info("%s id=%s peer=%s event=refused reason=%s", l->h->proto, c->id, c->peer,
			 reason);
		/* Plain, even on a TLS port: a one-line best effort, then close. */
		c->bev = bufferevent_socket_new(n->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev) {
			evutil_closesocket(fd);
			conn_kill(c);
			return;
		}
		conn_setup_bev(c);
		if (l->h->busy_reply && !l->implicit_tls)
			conn_puts(c, l->h->busy_reply);
		conn_close(c);
		return;
	}
	log_info("%s id=%s peer=%s port=%u event=connect listener=%s", l->h->proto, c->id, c->peer,
		 c->peer_port, l->name);
	if (l->implicit_tls) {
		SSL *ssl = n->tls ? SSL_new(n->tls) : NULL;
		if (!ssl) {
			log_error("%s id=%s event=tls-unavailable", l->h->proto, c->id);
			evutil_closesocket(fd);
			conn_kill(c);
			return;
		}
		c->bev = bufferevent_openssl_socket_new(n->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
							BEV_OPT_CLOSE_ON_FREE);
		c->tls_pending = true;
	} else {
		c->bev = bufferevent_socket_new(n->base, fd, BEV_OPT_CLOSE_ON_FREE);
		c->flush_ev = event_new(n->base, -1, 0, flush_cb, c);
		c->direct = c->flush_ev != NULL;
	}
	if (!c->bev) {
		evutil_closesocket(fd);
		conn_kill(c);
		return;
	}
	conn_setup_bev(c);
	if (!l->implicit_tls) {
		c->opened = true;
		l->h->open(c);
	}
}

static void accept_error_cb(struct evconnlistener *ev, void *arg)
{
	struct listener *l = arg;
	int e = EVUTIL_SOCKET_ERROR();
	log_warn("net listener=%s event=accept-error reason=\"%s\"", l->name,
		 evutil_socket_error_to_string(e));
}

int net_listen(struct net *n, const char *name, const char *listen_value, bool implicit_tls,
	       const struct conn_handler *h, void *arg, struct buf *err)
{
	struct listen_addr *addrs = NULL;
	size_t naddrs = 0;
	if (config_parse_listen(listen_value, &addrs, &naddrs, err) < 0)
		return -1;
	if (implicit_tls && naddrs > 0 && !n->tls) {
		buf_printf(err, "%s: implicit TLS needs a certificate", name);
		config_listen_free(&addrs, naddrs);
		return -1;
	}
	n->names = xrealloc(n->names, (n->nnames + 1) * sizeof *n->names);
	char *lname = n->names[n->nnames++] = xstrdup(name);
	int r = 0;
	for (size_t i = 0; i < naddrs; i++) {
		struct sockaddr_storage ss;
		int sslen = sizeof ss;
		const char *host = addrs[i].host;
		if (strcmp(host, "*") == 0)
			host = "0.0.0.0";
		char *text = strchr(host, ':') ? xasprintf("[%s]:%u", host, addrs[i].port)
						 : xasprintf("%s:%u", host, addrs[i].port);
		memset(&ss, 0, sizeof ss);
		if (evutil_parse_sockaddr_port(text, (struct sockaddr *)&ss, &sslen) < 0) {
			buf_printf(err, "%s: cannot use address %s (an IP address is needed)", name,
				   text);
			free(text);
			r = -1;
			break;
		}
		struct listener *l = xcalloc(1, sizeof *l);
		l->net = n;
		l->name = xstrdup(lname);
		l->addr_text = text;
		l->implicit_tls = implicit_tls;
		l->h = h;
		l->arg = arg;
		l->ev = evconnlistener_new_bind(n->base, accept_cb, l,
						LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
							LEV_OPT_CLOSE_ON_EXEC,
						128, (struct sockaddr *)&ss, sslen);
		if (!l->ev) {
			buf_printf(err, "%s: cannot listen on %s: %s", name, text, strerror(errno));
			free(l->name);
			free(l->addr_text);
			free(l);
			r = -1;
			break;
		}
		evconnlistener_set_error_cb(l->ev, accept_error_cb);
		l->next = n->listeners;
		n->listeners = l;
		printf("listening name=%s addr=%s%s\n", name, text, implicit_tls ? " tls=implicit" : "");
		fflush(stdout);
	}
	config_listen_free(&addrs, naddrs);
	return r;
}

/* ---- connection API -------------------------------------------------------------- */

static void conn_kill(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->bev)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->net->reap, EV_READ, 0);
}

struct evbuffer *conn_input(struct conn *c)
{
	return bufferevent_get_input(c->bev);
}

void conn_write(struct conn *c, const void *p, size_t len)
{
	if (c->dead || !c->bev)
		return;
	bufferevent_write(c->bev, p, len);
	if (c->direct && !c->flush_pending) {
		c->flush_pending = true;
		event_active(c->flush_ev, EV_WRITE, 0);
	}
}

void conn_puts(struct conn *c, const char *s)
{
	conn_write(c, s, strlen(s));
}

void conn_printf(struct conn *c, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	conn_write(c, b.data, b.len);
	buf_free(&b);
}

size_t conn_output_pending(struct conn *c)
{
	return c->bev ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

void conn_close(struct conn *c)
{
	if (c->dead || c->closing)
		return;
	c->closing = true;
	if (!c->bev) {
		conn_kill(c);
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	close_when_flushed(c);
	if (c->dead)
		return;
	/* Do not wait for ever on a peer that stopped reading. (A direct conn's
	   pending flush writes the rest, or leaves it to EV_WRITE and so to
	   this timeout.) */
	struct timeval tv = {c->net->lim.close_timeout_s ? (time_t)c->net->lim.close_timeout_s : 10,
			     0};
	bufferevent_set_timeouts(c->bev, NULL, &tv);
}

void conn_abort(struct conn *c)
{
	conn_kill(c);
}

static void later_fire(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	c->later_pending = false;
	if (c->dead)
		return;
	conn_write(c, c->later.data, c->later.len);
	buf_reset(&c->later);
	if (c->later_close) {
		conn_close(c);
		return;
	}
	/* Input that arrived meanwhile is processed now. */
	if (!c->paused && !c->closing && evbuffer_get_length(bufferevent_get_input(c->bev)))
		bufferevent_trigger(c->bev, EV_READ,
				    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

void conn_write_later(struct conn *c, int64_t delay_ms, const void *p, size_t n, bool then_close)
{
	if (c->dead)
		return;
	if (delay_ms <= 0) {
		conn_write(c, p, n);
		if (then_close)
			conn_close(c);
		return;
	}
	buf_reset(&c->later);
	buf_append(&c->later, p, n);
	c->later_close = then_close;
	c->later_pending = true;
	if (!c->later_ev)
		c->later_ev = event_new(c->net->base, -1, 0, later_fire, c);
	struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
	event_add(c->later_ev, &tv);
}

bool conn_reading(const struct conn *c)
{
	return !c->dead && !c->closing && !c->paused && !c->later_pending;
}

void conn_pause(struct conn *c)
{
	c->paused = true;
}

void conn_resume(struct conn *c)
{
	if (!c->paused)
		return;
	c->paused = false;
	/* Input may have arrived while paused: process it on the next loop turn. */
	if (!c->dead && !c->closing && evbuffer_get_length(bufferevent_get_input(c->bev)))
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

void conn_set_timeout(struct conn *c, unsigned secs)
{
	c->timeout_s = secs;
	if (!c->bev)
		return;
	struct timeval tv = {(time_t)secs, 0};
	bufferevent_set_timeouts(c->bev, secs ? &tv : NULL, NULL);
}

int conn_starttls(struct conn *c)
{
	if (c->ssl || c->tls_pending || !c->net->tls || c->dead)
		return -1;
	SSL *ssl = SSL_new(c->net->tls);
	if (!ssl)
		return -1;
	/* Whatever the client sent after STARTTLS is discarded, never executed. */
	struct evbuffer *in = bufferevent_get_input(c->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	/* The socket's bufferevent writes what is left (the reply to STARTTLS)
	   and, under the filter, everything after. */
	if (c->direct) {
		c->direct = false;
		bufferevent_enable(c->bev, EV_WRITE);
	}
	struct bufferevent *tls = bufferevent_openssl_filter_new(
		c->net->base, c->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!tls) {
		SSL_free(ssl);
		return -1;
	}
	c->bev = tls;
	c->tls_pending = true;
	conn_setup_bev(c);
	return 0;
}

bool conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL;
}

const char *conn_tls_info(const struct conn *c)
{
	return c->tls_info;
}

const char *conn_peer(const struct conn *c)
{
	return c->peer;
}

unsigned conn_peer_port(const struct conn *c)
{
	return c->peer_port;
}

bool conn_is_loopback(const struct conn *c)
{
	return c->loopback;
}

const char *conn_id(const struct conn *c)
{
	return c->id;
}

const char *conn_listener(const struct conn *c)
{
	return c->listener_name;
}

void *conn_handler_arg(const struct conn *c)
{
	return c->arg;
}

void conn_set_data(struct conn *c, void *data)
{
	c->data = data;
}

void *conn_data(const struct conn *c)
{
	return c->data;
}
