/*
 * net — listeners and connections on the event loop, and TLS contexts.
 *
 * A protocol registers a struct conn_handler per listener. For each accepted
 * connection net calls open() (after the handshake, on an implicit-TLS
 * listener), read() whenever input is waiting in conn_input(), and closed()
 * exactly once when the connection is gone, for whatever reason — the handler
 * frees its session there. A struct conn is never freed inside one of its own
 * callbacks: conn_close()/conn_abort() only schedule it.
 *
 * Limits: total connections, connections per peer IP, new connections per
 * minute per peer IP (over any, the handler's busy_reply is written and the
 * connection closed; the rate table forgets the stalest peer when full), an idle/command
 * read timeout (the handler's timeout() may say goodbye), and a cap on buffered
 * input (CONN_MAX_INPUT): past it net stops reading from the socket until the
 * protocol consumes — backpressure, not unbounded memory.
 *
 * STARTTLS: conn_starttls() discards every byte the client sent after the
 * command (the CVE-2011-0411 family), then handshakes; the next read() is TLS
 * data. Errors are logged with the connection id and the peer address.
 */
#ifndef PETREL_NET_H
#define PETREL_NET_H

#include "core/core.h"

struct event_base;
struct evbuffer;
typedef struct ssl_ctx_st SSL_CTX;

#define CONN_MAX_INPUT (256 * 1024) /* bytes buffered before reading pauses */

struct conn;

struct conn_handler {
	const char *proto; /* "smtp", "imap", ... for logs */
	void (*open)(struct conn *c);
	void (*read)(struct conn *c);
	void (*closed)(struct conn *c);
	/* Read timeout. NULL: just close. The connection closes after it returns. */
	void (*timeout)(struct conn *c);
	/* The server is shutting down: say goodbye (the connection closes after). */
	void (*drain)(struct conn *c);
	const char *busy_reply; /* e.g. "421 4.7.0 Too many connections\r\n" */
};

#define NET_RATE_SLOTS 4096 /* peers remembered for the connection rate limit */

struct net_limits {
	unsigned max_connections;
	unsigned max_per_ip;
	unsigned rate_per_ip;      /* new connections per minute from one IP, 0 = no limit */
	bool rate_exempt_loopback; /* loopback peers (local tools, tests) are not rate-limited */
	unsigned timeout_s;        /* read timeout, default for every connection */
	unsigned close_timeout_s;  /* how long a closed connection's last output may wait
	                              for a peer that does not read; 0: 10 s */
};

struct net;

struct net *net_new(struct event_base *base, const struct net_limits *lim);
void net_free(struct net **n);
void net_set_limits(struct net *n, const struct net_limits *lim);
/* The context for implicit TLS and STARTTLS from now on (held by reference;
   connections already running keep theirs). NULL: no TLS. */
void net_set_tls(struct net *n, SSL_CTX *ctx);
/*
 * Binds every address of a listen value ("127.0.0.1:2525, [::1]:2525"; empty:
 * nothing) and accepts with handler h. name is for logs ("smtp", "imaps").
 * Prints one line per bound address to stdout: "listening name=imaps addr=...".
 */
int net_listen(struct net *n, const char *name, const char *listen_value, bool implicit_tls,
	       const struct conn_handler *h, void *arg, struct buf *err);
/* Closes every listener (connections go on). */
void net_stop_listening(struct net *n);
/* Asks every connection to finish (handler drain), then close. */
void net_drain(struct net *n);
size_t net_connection_count(const struct net *n);
/* Calls fn with each listener name (as given to net_listen) and its open
   connections (for /metrics). */
void net_listener_counts(const struct net *n,
			 void (*fn)(const char *name, size_t open, void *arg), void *arg);

/* ---- one connection ------------------------------------------------------- */

struct evbuffer *conn_input(struct conn *c);
void conn_write(struct conn *c, const void *p, size_t n);
void conn_puts(struct conn *c, const char *s);
void conn_printf(struct conn *c, const char *fmt, ...) PRINTF_LIKE(2, 3);
size_t conn_output_pending(struct conn *c);
/* Stop reading: flush what was written, then close. */
void conn_close(struct conn *c);
/* Close now, dropping unsent output. */
void conn_abort(struct conn *c);
/*
 * Writes p after delay_ms (a throttled login's failure reply), reading nothing
 * from the client meanwhile; then closes the connection if then_close. With no
 * delay it writes at once. One delayed write at a time: a new one replaces it.
 */
void conn_write_later(struct conn *c, int64_t delay_ms, const void *p, size_t n, bool then_close);
/* False once the session should stop taking input in its read loop: closing,
   paused, or waiting on a delayed write. */
bool conn_reading(const struct conn *c);
/* Pause / resume read() callbacks (e.g. while a store write is in flight). */
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);
/* Overrides the read timeout for this connection (seconds, 0 = none). */
void conn_set_timeout(struct conn *c, unsigned secs);
/* Starts TLS on a plain connection; -1 when no TLS is configured or already TLS. */
int conn_starttls(struct conn *c);

bool conn_is_tls(const struct conn *c);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384", "" when plain. */
const char *conn_tls_info(const struct conn *c);
const char *conn_peer(const struct conn *c); /* IP address text */
unsigned conn_peer_port(const struct conn *c);
bool conn_is_loopback(const struct conn *c);
const char *conn_id(const struct conn *c);   /* short random hex id for logs */
const char *conn_listener(const struct conn *c); /* the listener's name */
void *conn_handler_arg(const struct conn *c);
void conn_set_data(struct conn *c, void *data);
void *conn_data(const struct conn *c);

/* ---- TLS contexts (tls.c) ---------------------------------------------------- */

/* A server context from PEM files (certificate chain, private key). */
SSL_CTX *tls_ctx_new(const char *cert_path, const char *key_path, struct buf *err);
void tls_ctx_free(SSL_CTX **ctx);
/* Writes a fresh self-signed certificate and key (ECDSA P-256, 10 years, SAN =
   hostname, localhost, 127.0.0.1, ::1) if cert_path does not exist. */
int tls_selfsigned_ensure(const char *cert_path, const char *key_path, const char *hostname,
			  struct buf *err);

#endif
