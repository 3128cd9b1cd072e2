/*
 * smtp_client — the outbound SMTP client: one session per connection, an
 * explicit state machine over a libevent bufferevent (see smtp.h for what it
 * does).
 *
 * Replies are read with the pure parser of smtp_reply.c. Every command sent
 * pushes what its reply means onto `expect` (a short FIFO): with PIPELINING the
 * MAIL and RCPT commands of a transaction leave together and their replies are
 * matched in order; without it each waits for its reply. The read timeout is
 * the RFC 5321 timeout of the reply expected first.
 *
 * Source addresses: when the route has a pool, each connection binds an
 * address of the pool of the hop's family before it connects (one that cannot
 * be bound is reported and the next is taken), says EHLO with that address's
 * name, and reports whether the connection came up (queue.h). Smarthosts: a
 * route with credentials authenticates (AUTH PLAIN, else LOGIN) after
 * STARTTLS and before the first transaction; credentials never go in clear
 * (such a route requires TLS) and are never logged.
 *
 * Lifetime: a session is never freed inside its own callbacks. kill() marks it
 * dead and activates `step_ev`, whose callback frees it; every callback starts
 * by checking `dead`. open() and send() only schedule work on `step_ev`, so the
 * outcome API is never called from inside them (queue.h's rule).
 */
#include "smtp/smtp.h"
#include "smtp/smtp_internal.h"

#include "queue/queue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENT_MAX_INPUT (64 * 1024) /* buffered input before reading pauses */
#define CLIENT_MAX_EXPECT 8          /* kinds of replies in flight before RCPTs */

struct smtp_client {
	struct event_base *base;
	const struct config *cfg;
	SSL_CTX *tls;        /* opportunistic: no verification */
	SSL_CTX *tls_verify; /* the route says verify */
	struct cl_session *sessions;
};

enum cl_state {
	CL_IDLE,       /* scheduled: connect next hop or start a transaction */
	CL_CONNECTING, /* TCP connect */
	CL_GREETING,   /* waiting for 220 */
	CL_EHLO,
	CL_HELO,
	CL_STARTTLS,
	CL_HANDSHAKE, /* TLS handshake */
	CL_EHLO_TLS,
	CL_AUTH,        /* AUTH PLAIN sent, or LOGIN's password: 235 expected */
	CL_AUTH_USER,   /* AUTH LOGIN sent: 334 for the user name expected */
	CL_AUTH_PASS,   /* LOGIN's user name sent: 334 for the password expected */
	CL_READY,       /* between transactions */
	CL_TRANSACTION, /* replies of MAIL/RCPT/DATA/BDAT/RSET expected */
	CL_QUIT,
};

enum cl_expect {
	EXPECT_RSET,
	EXPECT_MAIL,
	EXPECT_RCPT,
	EXPECT_DATA,
	EXPECT_BODY, /* the reply to the final dot or to BDAT LAST */
	EXPECT_QUIT,
};

struct cl_session {
	struct smtp_client *cl;
	struct cl_session *prev, *next;
	struct queue_route route; /* a copy */
	size_t hop;               /* the next hop to try */
	const struct queue_hop *cur;
	struct bufferevent *bev;
	struct event *step_ev;
	enum cl_state state;
	bool dead, reported_dead;
	bool tls, skip_tls, started_tls;
	bool authed; /* the route's credentials were accepted on this connection */
	const struct queue_source *source; /* the pool address bound, or NULL */
	char tls_info[128];
	char source_ip[INET6_ADDRSTRLEN];
	struct smtp_reply_parser parser;
	struct smtp_reply reply;
	struct smtp_ehlo caps;
	struct buf last_error; /* why the last hop failed */
	bool last_error_permanent;

	/* the job and its transaction */
	struct queue_job *job;
	bool need_rset;
	bool mail_ok, mail_failed;
	size_t rcpt_next;    /* next RCPT to send (not pipelined) */
	size_t rcpt_replies; /* RCPT replies received */
	bool *reported;      /* per recipient: outcome given */
	bool *accepted;      /* per recipient: RCPT got 2xx */
	size_t naccepted;
	enum cl_expect expect[CLIENT_MAX_EXPECT];
	size_t nexpect; /* RCPT replies are counted apart: EXPECT_RCPT appears once */
	size_t rcpts_in_flight;
};

/* ---- helpers ---------------------------------------------------------------------- */

static void session_free(struct cl_session *s);
static void step(evutil_socket_t fd, short what, void *arg);
static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void connect_next(struct cl_session *s);
static void begin_transaction(struct cl_session *s);

static void kill_session(struct cl_session *s)
{
	if (s->dead)
		return;
	s->dead = true;
	if (s->bev)
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	event_active(s->step_ev, EV_READ, 0);
}

static void send_line(struct cl_session *s, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void send_line(struct cl_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	log_debug("smtp-out host=%s ip=%s send=%.*s", s->cur ? s->cur->host : "-",
	          s->cur ? s->cur->ip : "-", (int)(b.len > 200 ? 200 : b.len), buf_cstr(&b));
	buf_puts(&b, "\r\n");
	bufferevent_write(s->bev, b.data, b.len);
	buf_free(&b);
}

static unsigned expect_timeout(enum cl_expect e)
{
	switch (e) {
	case EXPECT_DATA:
		return SMTP_CLIENT_DATA_TIMEOUT;
	case EXPECT_BODY:
		return SMTP_CLIENT_FINAL_TIMEOUT;
	case EXPECT_QUIT:
		return SMTP_CLIENT_QUIT_TIMEOUT;
	default:
		return SMTP_CLIENT_COMMAND_TIMEOUT;
	}
}

static void set_timeouts(struct cl_session *s, unsigned read_s)
{
	struct timeval r = {(time_t)read_s, 0}, w = {SMTP_CLIENT_BLOCK_TIMEOUT, 0};
	bufferevent_set_timeouts(s->bev, read_s ? &r : NULL, &w);
}

static void expect_push(struct cl_session *s, enum cl_expect e)
{
	if (s->nexpect == CLIENT_MAX_EXPECT)
		panic("smtp_client: too many replies expected");
	s->expect[s->nexpect++] = e;
	set_timeouts(s, expect_timeout(s->expect[0]));
}

static enum cl_expect expect_pop(struct cl_session *s)
{
	enum cl_expect e = s->expect[0];
	memmove(s->expect, s->expect + 1, (s->nexpect - 1) * sizeof *s->expect);
	s->nexpect--;
	if (s->nexpect)
		set_timeouts(s, expect_timeout(s->expect[0]));
	return e;
}

/* ---- outcomes ---------------------------------------------------------------------- */

static void report(struct cl_session *s, size_t i, enum queue_status st, const char *reply,
                   const char *status_code, bool remote)
{
	if (!s->reported)
		s->reported = xcalloc(s->job->nrcpts + 1, sizeof *s->reported);
	if (s->reported[i])
		return;
	s->reported[i] = true;
	struct queue_result r = {
	        .status = st,
	        .reply = reply,
	        .status_code = status_code,
	        .remote = remote,
	        .dsn_relayed = remote && st == QUEUE_DELIVERED && s->caps.dsn,
	        .mx = s->cur ? s->cur->host : NULL,
	        .remote_ip = s->cur ? s->cur->ip : NULL,
	        .source_ip = s->source_ip[0] ? s->source_ip : NULL,
	        .tls = s->tls ? s->tls_info : NULL,
	};
	queue_outcome(s->job, i, &r);
}

static enum queue_status status_of(int code)
{
	return code < 400 ? QUEUE_DELIVERED : code < 500 ? QUEUE_DEFERRED : QUEUE_BOUNCED;
}

/* Reports recipient i with the reply just read. */
static void report_reply(struct cl_session *s, size_t i)
{
	struct buf line = BUF_INIT;
	smtp_reply_format(&s->reply, &line);
	report(s, i, status_of(s->reply.code), buf_cstr(&line),
	       s->reply.enhanced[0] ? s->reply.enhanced : NULL, true);
	buf_free(&line);
}

/* Every recipient not reported gets st with our reason. */
static void report_rest(struct cl_session *s, enum queue_status st, const char *why,
                        const char *status_code)
{
	for (size_t i = 0; s->job && i < s->job->nrcpts; i++)
		report(s, i, st, why, status_code, false);
}

static void transaction_reset(struct cl_session *s)
{
	xfree(&s->reported);
	xfree(&s->accepted);
	s->naccepted = 0;
	s->mail_ok = s->mail_failed = false;
	s->rcpt_next = s->rcpt_replies = s->rcpts_in_flight = 0;
	s->nexpect = 0;
}

/* The job is over: hand it back. reusable when the session can take another. */
static void job_done(struct cl_session *s, bool reusable)
{
	struct queue_job *job = s->job;
	if (!job)
		return;
	s->job = NULL;
	transaction_reset(s);
	if (reusable)
		s->state = CL_READY;
	else
		kill_session(s);
	queue_job_done(job, reusable);
}

/* The connection failed in the middle of a job: what is not reported is deferred. */
static void fail_session(struct cl_session *s, const char *why)
{
	if (s->job) {
		char *text = xasprintf("%s (host %s[%s])", why, s->cur ? s->cur->host : "?",
		                       s->cur ? s->cur->ip : "?");
		report_rest(s, QUEUE_DEFERRED, text, "4.4.2");
		free(text);
		job_done(s, false);
	} else {
		kill_session(s);
	}
}

/* ---- hops ------------------------------------------------------------------------------ */

static void release_source(struct cl_session *s)
{
	if (s->source)
		queue_source_release(s->source);
	s->source = NULL;
}

static void drop_connection(struct cl_session *s)
{
	release_source(s);
	s->authed = false;
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	smtp_reply_parser_free(&s->parser);
	smtp_reply_parser_init(&s->parser);
	s->tls = s->started_tls = false;
	s->tls_info[0] = '\0';
	s->source_ip[0] = '\0';
	memset(&s->caps, 0, sizeof s->caps);
	s->nexpect = 0;
}

/* This hop failed before any transaction: note why, and try the next. */
static void hop_failed(struct cl_session *s, bool permanent, const char *fmt, ...)
        PRINTF_LIKE(3, 4);

static void hop_failed(struct cl_session *s, bool permanent, const char *fmt, ...)
{
	buf_reset(&s->last_error);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&s->last_error, fmt, ap);
	va_end(ap);
	s->last_error_permanent = permanent;
	struct buf v = BUF_INIT;
	log_value(&v, s->last_error.data, s->last_error.len);
	log_info("smtp-out queue_id=%lld host=%s ip=%s event=hop-failed reason=%s",
	         s->job ? (long long)s->job->queue_id : 0LL, s->cur ? s->cur->host : "-",
	         s->cur ? s->cur->ip : "-", buf_cstr(&v));
	buf_free(&v);
	drop_connection(s);
	s->skip_tls = false;
	s->state = CL_IDLE;
	event_active(s->step_ev, EV_READ, 0);
}

/* A TLS handshake failed on an opportunistic route: the same hop, in clear. */
static void retry_in_clear(struct cl_session *s)
{
	log_info("smtp-out host=%s ip=%s event=tls-failed action=retry-without-tls", s->cur->host,
	         s->cur->ip);
	drop_connection(s);
	s->hop--;
	s->skip_tls = true;
	s->state = CL_IDLE;
	event_active(s->step_ev, EV_READ, 0);
}

static void tls_errors(struct buf *out)
{
	unsigned long e;
	bool first = true;
	while ((e = ERR_get_error()) != 0) {
		char text[256];
		ERR_error_string_n(e, text, sizeof text);
		buf_printf(out, "%s%s", first ? ": " : "; ", text);
		first = false;
	}
}

/* What OpenSSL said about this connection (libevent keeps its errors apart). */
static void bev_tls_errors(struct bufferevent *bev, struct buf *out)
{
	unsigned long e;
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		char text[256];
		ERR_error_string_n(e, text, sizeof text);
		buf_printf(out, ": %s", text);
	}
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (v != X509_V_OK)
		buf_printf(out, " (%s)", X509_verify_cert_error_string(v));
}

/* ---- the protocol ------------------------------------------------------------------------ */

static void send_ehlo(struct cl_session *s, enum cl_state next)
{
	s->state = next;
	send_line(s, "%s %s", next == CL_HELO ? "HELO" : "EHLO",
	          s->source ? s->source->ehlo : s->cl->cfg->hostname);
	set_timeouts(s, SMTP_CLIENT_COMMAND_TIMEOUT);
}

/* Sends "shown secret": the log shows only what is shown. */
static void send_secret(struct cl_session *s, const char *shown, const char *secret)
{
	log_debug("smtp-out host=%s ip=%s send=%s(credentials)", s->cur->host, s->cur->ip, shown);
	struct evbuffer *out = bufferevent_get_output(s->bev);
	evbuffer_add_printf(out, "%s%s\r\n", shown, secret);
	set_timeouts(s, SMTP_CLIENT_COMMAND_TIMEOUT);
}

static void send_base64_secret(struct cl_session *s, const char *shown, const void *data,
                               size_t len)
{
	struct buf b64 = BUF_INIT;
	base64_encode(&b64, data, len);
	send_secret(s, shown, buf_cstr(&b64));
	explicit_bzero(b64.data, b64.len);
	buf_free(&b64);
}

/* The route's credentials (RFC 4954): PLAIN when offered, else LOGIN. */
static void start_auth(struct cl_session *s)
{
	const char *user = s->route.auth_user, *pass = s->route.auth_password;
	if (s->caps.auth_plain) {
		size_t ul = strlen(user), pl = strlen(pass);
		char *msg = xcalloc(1, ul + pl + 3);
		memcpy(msg + 1, user, ul); /* authzid empty, NUL, user, NUL, password */
		memcpy(msg + ul + 2, pass, pl);
		s->state = CL_AUTH;
		send_base64_secret(s, "AUTH PLAIN ", msg, ul + pl + 2);
		explicit_bzero(msg, ul + pl + 2);
		free(msg);
	} else if (s->caps.auth_login) {
		s->state = CL_AUTH_USER;
		send_line(s, "AUTH LOGIN");
		set_timeouts(s, SMTP_CLIENT_COMMAND_TIMEOUT);
	} else {
		hop_failed(s, false,
		           "%s[%s] offers no AUTH PLAIN or LOGIN for the route's credentials",
		           s->cur->host, s->cur->ip);
	}
}

/* Replies to AUTH. */
static void on_auth_reply(struct cl_session *s, const char *text)
{
	int code = s->reply.code;
	if (s->state == CL_AUTH && code == 235) {
		s->authed = true;
		log_info("smtp-out host=%s ip=%s event=authenticated user=%s", s->cur->host,
		         s->cur->ip, s->route.auth_user);
		s->state = CL_READY;
		begin_transaction(s);
	} else if (s->state == CL_AUTH_USER && code == 334) {
		s->state = CL_AUTH_PASS;
		send_base64_secret(s, "", s->route.auth_user, strlen(s->route.auth_user));
	} else if (s->state == CL_AUTH_PASS && code == 334) {
		s->state = CL_AUTH;
		send_base64_secret(s, "", s->route.auth_password, strlen(s->route.auth_password));
	} else {
		hop_failed(s, false, "%s[%s] refused AUTH as %s: %s", s->cur->host, s->cur->ip,
		           s->route.auth_user, text);
	}
}

static void start_tls(struct cl_session *s)
{
	SSL_CTX *ctx = s->route.verify ? s->cl->tls_verify : s->cl->tls;
	SSL *ssl = SSL_new(ctx);
	if (!ssl) {
		hop_failed(s, false, "cannot start TLS with %s[%s]", s->cur->host, s->cur->ip);
		return;
	}
	unsigned char tmp[16];
	bool name = inet_pton(AF_INET, s->cur->host, tmp) != 1 &&
	            inet_pton(AF_INET6, s->cur->host, tmp) != 1;
	if (name)
		SSL_set_tlsext_host_name(ssl, s->cur->host);
	if (s->route.verify) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (name)
			SSL_set1_host(ssl, s->cur->host);
		else
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), s->cur->host);
	}
	/* What the server sent after its 220 is not TLS: discarded, never read. */
	struct evbuffer *in = bufferevent_get_input(s->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	struct bufferevent *tls = bufferevent_openssl_filter_new(
	        s->cl->base, s->bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (!tls) {
		SSL_free(ssl);
		hop_failed(s, false, "cannot start TLS with %s[%s]", s->cur->host, s->cur->ip);
		return;
	}
	s->bev = tls;
	s->started_tls = true;
	s->state = CL_HANDSHAKE;
	bufferevent_setcb(tls, on_read, NULL, on_event, s);
	bufferevent_setwatermark(tls, EV_READ, 0, CLIENT_MAX_INPUT);
	set_timeouts(s, SMTP_CLIENT_COMMAND_TIMEOUT);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
}

static void after_ehlo(struct cl_session *s)
{
	bool tls_possible = !s->tls && s->caps.starttls && !s->skip_tls;
	if (tls_possible) {
		s->state = CL_STARTTLS;
		send_line(s, "STARTTLS");
		set_timeouts(s, SMTP_CLIENT_COMMAND_TIMEOUT);
		return;
	}
	if (!s->tls && s->route.require_tls) {
		hop_failed(s, false, "TLS is required but %s[%s] does not offer STARTTLS",
		           s->cur->host, s->cur->ip);
		return;
	}
	if (s->route.auth_user && !s->authed) {
		start_auth(s);
		return;
	}
	s->state = CL_READY;
	begin_transaction(s);
}

static void reply_text(struct cl_session *s, struct buf *out)
{
	smtp_reply_format(&s->reply, out);
}

/* Does the server's EHLO/HELO reply name us? Then we would send to ourselves. */
static bool loops_back(const struct cl_session *s)
{
	const char *t = s->reply.text.data ? s->reply.text.data : "";
	size_t n = strcspn(t, " \n");
	return n > 0 && str_eq_nocase((struct str){t, n}, str_c(s->cl->cfg->hostname));
}

/* Replies before the first transaction. */
static void on_setup_reply(struct cl_session *s)
{
	struct buf r = BUF_INIT;
	reply_text(s, &r);
	int code = s->reply.code;
	switch (s->state) {
	case CL_GREETING:
		if (code / 100 == 2)
			send_ehlo(s, CL_EHLO);
		else
			hop_failed(s, code / 100 == 5, "%s[%s] greeted with: %s", s->cur->host,
			           s->cur->ip, buf_cstr(&r));
		break;
	case CL_EHLO:
	case CL_EHLO_TLS:
		if (code / 100 == 2 && loops_back(s)) {
			hop_failed(s, false, "mail for %s loops back to myself (%s[%s] is %s)",
			           s->job ? s->job->domain : "?", s->cur->host, s->cur->ip,
			           s->cl->cfg->hostname);
		} else if (code / 100 == 2) {
			smtp_reply_ehlo(&s->reply, &s->caps);
			after_ehlo(s);
		} else if (s->state == CL_EHLO && code != 421) {
			send_ehlo(s, CL_HELO);
		} else {
			hop_failed(s, false, "%s[%s] refused EHLO: %s", s->cur->host, s->cur->ip,
			           buf_cstr(&r));
		}
		break;
	case CL_HELO:
		if (code / 100 == 2 && loops_back(s)) {
			hop_failed(s, false, "mail for %s loops back to myself (%s[%s] is %s)",
			           s->job ? s->job->domain : "?", s->cur->host, s->cur->ip,
			           s->cl->cfg->hostname);
		} else if (code / 100 == 2) {
			memset(&s->caps, 0, sizeof s->caps);
			after_ehlo(s);
		} else {
			hop_failed(s, false, "%s[%s] refused HELO: %s", s->cur->host, s->cur->ip,
			           buf_cstr(&r));
		}
		break;
	case CL_STARTTLS:
		if (code / 100 == 2) {
			start_tls(s);
		} else if (s->route.require_tls || code == 421) {
			hop_failed(s, false, "%s[%s] refused STARTTLS: %s", s->cur->host,
			           s->cur->ip, buf_cstr(&r));
		} else {
			s->skip_tls = true; /* go on in clear with what EHLO said */
			after_ehlo(s);
		}
		break;
	case CL_AUTH:
	case CL_AUTH_USER:
	case CL_AUTH_PASS:
		on_auth_reply(s, buf_cstr(&r));
		break;
	default:
		fail_session(s, "unexpected reply");
		break;
	}
	buf_free(&r);
}

/* ---- the transaction ----------------------------------------------------------------- */

static void send_rcpt(struct cl_session *s, size_t i)
{
	const struct queue_job_rcpt *r = &s->job->rcpts[i];
	struct buf line = BUF_INIT;
	buf_printf(&line, "RCPT TO:<%s>", r->addr);
	if (s->caps.dsn) {
		if (r->dsn_notify)
			buf_printf(&line, " NOTIFY=%s", r->dsn_notify);
		const char *semi = r->dsn_orcpt ? strchr(r->dsn_orcpt, ';') : NULL;
		if (semi) {
			buf_printf(&line, " ORCPT=%.*s;", (int)(semi - r->dsn_orcpt), r->dsn_orcpt);
			smtp_xtext_encode(semi + 1, strlen(semi + 1), &line);
		}
	}
	send_line(s, "%s", buf_cstr(&line));
	buf_free(&line);
	if (s->rcpts_in_flight++ == 0)
		expect_push(s, EXPECT_RCPT);
}

/* Every reply of the transaction is in: hand the job back. */
static void transaction_end(struct cl_session *s)
{
	if (!s->mail_ok || s->naccepted == 0)
		s->need_rset = true;
	job_done(s, true);
}

static void send_body(struct cl_session *s)
{
	const struct queue_job *job = s->job;
	struct evbuffer *out = bufferevent_get_output(s->bev);
	if (s->caps.chunking) {
		log_debug("smtp-out host=%s ip=%s send=BDAT %zu LAST", s->cur->host, s->cur->ip,
		          job->len);
		evbuffer_add_printf(out, "BDAT %zu LAST\r\n", job->len);
		evbuffer_add(out, job->data, job->len);
		expect_push(s, EXPECT_BODY);
		return;
	}
	/* DATA was accepted: the message, dot-stuffed, then the final dot. */
	const char *p = job->data, *end = job->data + job->len;
	const char *line = p;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *next = nl ? nl + 1 : end;
		if (*line == '.')
			evbuffer_add(out, ".", 1);
		evbuffer_add(out, line, (size_t)(next - line));
		line = next;
	}
	if (job->len < 2 || memcmp(end - 2, "\r\n", 2) != 0)
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
	expect_push(s, EXPECT_BODY);
}

/* After the last RCPT reply: data if anyone was accepted, else the end. */
static void after_rcpts(struct cl_session *s)
{
	if (s->naccepted == 0) {
		transaction_end(s);
		return;
	}
	if (s->caps.chunking) {
		send_body(s);
		return;
	}
	send_line(s, "DATA");
	expect_push(s, EXPECT_DATA);
}

static void on_transaction_reply(struct cl_session *s)
{
	if (s->nexpect == 0) {
		fail_session(s, "reply without a command");
		return;
	}
	int code = s->reply.code;
	size_t nrcpts = s->job ? s->job->nrcpts : 0;
	enum cl_expect e = s->expect[0];
	if (e == EXPECT_RCPT) {
		size_t i = s->rcpt_replies++;
		if (--s->rcpts_in_flight == 0)
			expect_pop(s);
		if (!s->mail_failed) {
			if (code / 100 == 2) {
				s->accepted[i] = true;
				s->naccepted++;
			} else {
				report_reply(s, i);
			}
		}
		if (s->rcpt_replies < nrcpts) {
			if (!s->caps.pipelining && !s->mail_failed)
				send_rcpt(s, s->rcpt_next++);
			return;
		}
		if (s->mail_failed)
			transaction_end(s);
		else
			after_rcpts(s);
		return;
	}
	expect_pop(s);
	switch (e) {
	case EXPECT_RSET:
		break;
	case EXPECT_MAIL:
		if (code / 100 == 2) {
			s->mail_ok = true;
			if (!s->caps.pipelining)
				send_rcpt(s, s->rcpt_next++);
		} else {
			s->mail_failed = true;
			for (size_t i = 0; i < nrcpts; i++)
				report_reply(s, i);
			if (!s->caps.pipelining)
				transaction_end(s);
			/* pipelined: the RCPT replies still come, and end it */
		}
		break;
	case EXPECT_DATA:
		if (code == 354) {
			send_body(s);
		} else {
			for (size_t i = 0; i < nrcpts; i++)
				if (s->accepted[i])
					report_reply(s, i);
			s->need_rset = true;
			job_done(s, code != 421);
		}
		break;
	case EXPECT_BODY:
		for (size_t i = 0; i < nrcpts; i++)
			if (s->accepted[i])
				report_reply(s, i);
		job_done(s, code != 421);
		break;
	case EXPECT_QUIT:
		kill_session(s);
		break;
	case EXPECT_RCPT:
		break;
	}
}

static void begin_transaction(struct cl_session *s)
{
	struct queue_job *job = s->job;
	if (!job)
		return;
	size_t n = job->nrcpts;
	transaction_reset(s);
	s->reported = xcalloc(n + 1, sizeof *s->reported);
	s->accepted = xcalloc(n + 1, sizeof *s->accepted);
	if (s->caps.size && s->caps.size_max && job->len > s->caps.size_max) {
		char *why = xasprintf(
		        "message of %zu bytes is over the limit of %s[%s] (%llu bytes)", job->len,
		        s->cur->host, s->cur->ip, (unsigned long long)s->caps.size_max);
		report_rest(s, QUEUE_BOUNCED, why, "5.3.4");
		free(why);
		job_done(s, true);
		return;
	}
	if (job->smtputf8 && !s->caps.smtputf8) {
		report_rest(s, QUEUE_BOUNCED,
		            "the address needs SMTPUTF8, which the remote server does not support",
		            "5.6.7");
		job_done(s, true);
		return;
	}
	if (job->body_8bit && !s->caps.eightbitmime) {
		report_rest(s, QUEUE_BOUNCED,
		            "the message has 8-bit content, which the remote server does not "
		            "accept (no 8BITMIME)",
		            "5.6.3");
		job_done(s, true);
		return;
	}
	s->state = CL_TRANSACTION;
	if (s->need_rset) {
		send_line(s, "RSET");
		expect_push(s, EXPECT_RSET);
		s->need_rset = false;
	}
	struct buf mail = BUF_INIT;
	buf_printf(&mail, "MAIL FROM:<%s>", job->env_from);
	if (s->caps.size)
		buf_printf(&mail, " SIZE=%zu", job->len);
	if (job->body_8bit)
		buf_puts(&mail, " BODY=8BITMIME");
	if (job->smtputf8)
		buf_puts(&mail, " SMTPUTF8");
	if (s->caps.dsn) {
		if (job->dsn_ret)
			buf_printf(&mail, " RET=%s", job->dsn_ret);
		if (job->dsn_envid) {
			buf_puts(&mail, " ENVID=");
			smtp_xtext_encode(job->dsn_envid, strlen(job->dsn_envid), &mail);
		}
	}
	send_line(s, "%s", buf_cstr(&mail));
	buf_free(&mail);
	expect_push(s, EXPECT_MAIL);
	if (s->caps.pipelining) {
		while (s->rcpt_next < n)
			send_rcpt(s, s->rcpt_next++);
	}
}

/* ---- events ---------------------------------------------------------------------------- */

static void handle_reply(struct cl_session *s)
{
	if (s->reply.code == 421 && s->state != CL_TRANSACTION && s->state != CL_QUIT) {
		struct buf r = BUF_INIT;
		reply_text(s, &r);
		hop_failed(s, false, "%s[%s] is closing: %s", s->cur->host, s->cur->ip,
		           buf_cstr(&r));
		buf_free(&r);
		return;
	}
	switch (s->state) {
	case CL_GREETING:
	case CL_EHLO:
	case CL_HELO:
	case CL_STARTTLS:
	case CL_EHLO_TLS:
	case CL_AUTH:
	case CL_AUTH_USER:
	case CL_AUTH_PASS:
		on_setup_reply(s);
		break;
	case CL_TRANSACTION:
		on_transaction_reply(s);
		break;
	case CL_QUIT:
		kill_session(s);
		break;
	default:
		/* Unasked-for replies between transactions: the server is confused. */
		fail_session(s, "unexpected reply from the server");
		break;
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct cl_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!s->dead && s->bev == bev && evbuffer_get_length(in) > 0) {
		size_t len = evbuffer_get_length(in);
		const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
		size_t used = 0;
		struct buf why = BUF_INIT;
		enum smtp_reply_status st =
		        smtp_reply_feed(&s->parser, p, len, &used, &s->reply, &why);
		evbuffer_drain(in, used);
		if (st == SMTP_REPLY_BAD) {
			char *text = xasprintf("malformed reply: %s", buf_cstr(&why));
			buf_free(&why);
			if (s->state == CL_TRANSACTION || s->state == CL_READY ||
			    s->state == CL_QUIT)
				fail_session(s, text);
			else
				hop_failed(s, false, "%s from %s[%s]", text, s->cur->host,
				           s->cur->ip);
			free(text);
			return;
		}
		buf_free(&why);
		if (st == SMTP_REPLY_MORE)
			return;
		log_debug("smtp-out host=%s ip=%s reply=%d", s->cur->host, s->cur->ip,
		          s->reply.code);
		/* May replace s->bev (STARTTLS, next hop): the loop then stops. */
		handle_reply(s);
	}
}

static void note_source(struct cl_session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	evutil_socket_t fd = bufferevent_getfd(s->bev);
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, s->source_ip,
		          sizeof s->source_ip);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, s->source_ip,
		          sizeof s->source_ip);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct cl_session *s = arg;
	if (s->dead || bev != s->bev)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == CL_CONNECTING) {
			note_source(s);
			if (s->source)
				queue_source_report(s->source, QUEUE_SOURCE_OK, s->cur->ip, "");
			s->state = CL_GREETING;
			set_timeouts(s, SMTP_CLIENT_GREETING_TIMEOUT);
			log_debug("smtp-out host=%s ip=%s port=%u event=connected", s->cur->host,
			          s->cur->ip, s->cur->port);
			return;
		}
		if (s->state == CL_HANDSHAKE) {
			SSL *ssl = bufferevent_openssl_get_ssl(bev);
			s->tls = true;
			snprintf(s->tls_info, sizeof s->tls_info, "%s %s", SSL_get_version(ssl),
			         SSL_get_cipher_name(ssl));
			log_debug("smtp-out host=%s ip=%s event=tls %s", s->cur->host, s->cur->ip,
			          s->tls_info);
			send_ehlo(s, CL_EHLO_TLS);
			return;
		}
		return;
	}
	struct buf why = BUF_INIT;
	if (what & BEV_EVENT_TIMEOUT) {
		buf_puts(&why, s->state == CL_CONNECTING ? "connection timed out" : "timed out");
	} else if (what & BEV_EVENT_ERROR) {
		int e = EVUTIL_SOCKET_ERROR();
		if (s->state == CL_HANDSHAKE || s->tls) {
			buf_puts(&why, "TLS failure");
			bev_tls_errors(bev, &why);
			tls_errors(&why);
		} else {
			buf_puts(&why, e ? evutil_socket_error_to_string(e) : "connection error");
		}
	} else {
		buf_puts(&why, "connection closed by the server");
	}
	ERR_clear_error();
	switch (s->state) {
	case CL_CONNECTING:
		if (s->source)
			queue_source_report(s->source, QUEUE_SOURCE_CONNECT_FAILED, s->cur->ip,
			                    buf_cstr(&why));
		hop_failed(s, false, "connect to %s[%s]:%u%s%s: %s", s->cur->host, s->cur->ip,
		           s->cur->port, s->source ? " from " : "", s->source ? s->source->ip : "",
		           buf_cstr(&why));
		break;
	case CL_HANDSHAKE:
		if (!s->route.require_tls)
			retry_in_clear(s);
		else
			hop_failed(s, false, "TLS handshake with %s[%s] failed: %s", s->cur->host,
			           s->cur->ip, buf_cstr(&why));
		break;
	case CL_GREETING:
	case CL_EHLO:
	case CL_HELO:
	case CL_STARTTLS:
	case CL_EHLO_TLS:
	case CL_AUTH:
	case CL_AUTH_USER:
	case CL_AUTH_PASS:
		hop_failed(s, false, "%s[%s] before the transaction: %s", s->cur->host, s->cur->ip,
		           buf_cstr(&why));
		break;
	case CL_QUIT:
	case CL_IDLE:
		kill_session(s);
		break;
	case CL_READY:
		/* Gone between transactions: a job handed over meanwhile is deferred. */
		if (s->job)
			fail_session(s, "the connection closed before the transaction");
		else
			kill_session(s);
		break;
	case CL_TRANSACTION: {
		char *text =
		        xasprintf("lost the connection during the transaction: %s", buf_cstr(&why));
		fail_session(s, text);
		free(text);
		break;
	}
	}
	buf_free(&why);
}

/*
 * A socket bound to an address of the route's pool for a connection of
 * family; an address that cannot be bound is reported (and so left out) and
 * the next one taken. -1 when none is left (the hop failed).
 */
static evutil_socket_t bind_source(struct cl_session *s, int family)
{
	for (;;) {
		struct buf why = BUF_INIT;
		const struct queue_source *src = queue_source_acquire(s->route.pool, family, &why);
		if (!src) {
			hop_failed(s, false, "no source address for %s[%s]: %s", s->cur->host,
			           s->cur->ip, buf_cstr(&why));
			buf_free(&why);
			return -1;
		}
		buf_free(&why);
		struct sockaddr_storage la;
		memset(&la, 0, sizeof la);
		socklen_t lalen;
		if (family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&la;
			a->sin_family = AF_INET;
			inet_pton(AF_INET, src->ip, &a->sin_addr);
			lalen = sizeof *a;
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&la;
			a->sin6_family = AF_INET6;
			inet_pton(AF_INET6, src->ip, &a->sin6_addr);
			lalen = sizeof *a;
		}
		int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			int e = errno;
			queue_source_release(src);
			hop_failed(s, false, "cannot create a socket: %s", strerror(e));
			return -1;
		}
		/* The port is chosen at connect(), per destination: many connections
		   from one address do not run out of ports at bind(). */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		if (bind(fd, (struct sockaddr *)&la, lalen) == 0) {
			s->source = src;
			log_debug("smtp-out host=%s ip=%s source=%s event=bound", s->cur->host,
			          s->cur->ip, src->ip);
			return fd;
		}
		int e = errno;
		close(fd);
		char *text = xasprintf("cannot bind %s: %s", src->ip, strerror(e));
		queue_source_report(src, QUEUE_SOURCE_BIND_FAILED, s->cur->ip, text);
		queue_source_release(src);
		free(text);
	}
}

static void connect_next(struct cl_session *s)
{
	if (s->hop >= s->route.nhops) {
		const char *why = s->last_error.len ? buf_cstr(&s->last_error) : "no host to try";
		report_rest(s, QUEUE_DEFERRED, why, "4.4.1");
		job_done(s, false);
		return;
	}
	s->cur = &s->route.hops[s->hop++];
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	char *text = strchr(s->cur->ip, ':') ? xasprintf("[%s]:%u", s->cur->ip, s->cur->port)
	                                     : xasprintf("%s:%u", s->cur->ip, s->cur->port);
	memset(&ss, 0, sizeof ss);
	int bad = evutil_parse_sockaddr_port(text, (struct sockaddr *)&ss, &sslen);
	free(text);
	if (bad < 0) {
		hop_failed(s, false, "bad address %s", s->cur->ip);
		return;
	}
	evutil_socket_t fd = -1;
	if (s->route.pool && (fd = bind_source(s, ss.ss_family)) < 0)
		return;
	s->bev = bufferevent_socket_new(s->cl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev)
		panic("smtp_client: cannot create a bufferevent");
	bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, CLIENT_MAX_INPUT);
	struct timeval tv = {SMTP_CLIENT_CONNECT_TIMEOUT, 0};
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->state = CL_CONNECTING;
	log_debug("smtp-out queue_id=%lld host=%s ip=%s port=%u event=connect",
	          s->job ? (long long)s->job->queue_id : 0LL, s->cur->host, s->cur->ip,
	          s->cur->port);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss, sslen) < 0) {
		int e = EVUTIL_SOCKET_ERROR();
		if (s->source)
			queue_source_report(s->source, QUEUE_SOURCE_CONNECT_FAILED, s->cur->ip,
			                    e ? evutil_socket_error_to_string(e) : "failed");
		hop_failed(s, false, "connect to %s[%s]:%u: %s", s->cur->host, s->cur->ip,
		           s->cur->port, e ? evutil_socket_error_to_string(e) : "failed");
	}
}

/* The session's own event: free it when dead, else do what was scheduled. */
static void step(evutil_socket_t fd, short what, void *arg)
{
	struct cl_session *s = arg;
	if (s->dead) {
		session_free(s);
		return;
	}
	if (s->state == CL_IDLE)
		connect_next(s);
	else if (s->state == CL_READY && s->job)
		begin_transaction(s);
}

/* ---- sessions ---------------------------------------------------------------------------- */

static void session_free(struct cl_session *s)
{
	struct smtp_client *cl = s->cl;
	if (s->prev)
		s->prev->next = s->next;
	else
		cl->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->bev)
		bufferevent_free(s->bev);
	event_free(s->step_ev);
	release_source(s);
	for (size_t i = 0; i < s->route.nhops; i++) {
		free(s->route.hops[i].host);
		free(s->route.hops[i].ip);
	}
	free(s->route.hops);
	free(s->route.auth_user);
	if (s->route.auth_password) {
		explicit_bzero(s->route.auth_password, strlen(s->route.auth_password));
		free(s->route.auth_password);
	}
	smtp_reply_parser_free(&s->parser);
	smtp_reply_free(&s->reply);
	buf_free(&s->last_error);
	free(s->reported);
	free(s->accepted);
	free(s);
}

static void *client_open(void *ctx, const struct queue_route *route, struct queue_job *job)
{
	struct smtp_client *cl = ctx;
	struct cl_session *s = xcalloc(1, sizeof *s);
	s->cl = cl;
	s->route = *route;
	s->route.hops = xcalloc(route->nhops + 1, sizeof *s->route.hops);
	for (size_t i = 0; i < route->nhops; i++)
		s->route.hops[i] =
		        (struct queue_hop){xstrdup(route->hops[i].host), xstrdup(route->hops[i].ip),
		                           route->hops[i].port};
	s->route.auth_user = route->auth_user ? xstrdup(route->auth_user) : NULL;
	s->route.auth_password = route->auth_password ? xstrdup(route->auth_password) : NULL;
	s->job = job;
	smtp_reply_parser_init(&s->parser);
	smtp_reply_init(&s->reply);
	s->step_ev = event_new(cl->base, -1, 0, step, s);
	if (!s->step_ev)
		panic("smtp_client: cannot create an event");
	s->next = cl->sessions;
	if (cl->sessions)
		cl->sessions->prev = s;
	cl->sessions = s;
	s->state = CL_IDLE;
	event_active(s->step_ev, EV_READ, 0);
	return s;
}

static void client_send(void *session, struct queue_job *job)
{
	struct cl_session *s = session;
	if (s->state != CL_READY || s->job)
		panic("smtp_client: send to a busy session");
	s->job = job;
	event_active(s->step_ev, EV_READ, 0);
}

static void client_close(void *session)
{
	struct cl_session *s = session;
	if (s->dead)
		return;
	if (!s->bev || s->state != CL_READY) {
		kill_session(s);
		return;
	}
	s->state = CL_QUIT;
	s->nexpect = 0;
	release_source(s); /* a connection that only says QUIT no longer counts */
	send_line(s, "QUIT");
	expect_push(s, EXPECT_QUIT);
}

static void client_abort(void *session)
{
	struct cl_session *s = session;
	s->job = NULL;
	session_free(s);
}

const struct queue_transport smtp_client_transport = {
        .open = client_open,
        .send = client_send,
        .close = client_close,
        .abort = client_abort,
};

/* ---- the client ------------------------------------------------------------------------- */

static SSL_CTX *client_ctx(bool verify, struct buf *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		buf_puts(err, "cannot create a TLS client context");
		tls_errors(err);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (SSL_CTX_set_default_verify_paths(ctx) != 1)
			log_warn("smtp-out event=tls-no-ca-store note=\"verify routes will fail\"");
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
}

struct smtp_client *smtp_client_new(struct event_base *base, const struct config *cfg,
                                    struct buf *err)
{
	struct smtp_client *cl = xcalloc(1, sizeof *cl);
	cl->base = base;
	cl->cfg = cfg;
	cl->tls = client_ctx(false, err);
	cl->tls_verify = cl->tls ? client_ctx(true, err) : NULL;
	if (!cl->tls || !cl->tls_verify) {
		smtp_client_free(&cl);
		return NULL;
	}
	return cl;
}

void smtp_client_free(struct smtp_client **clp)
{
	struct smtp_client *cl = *clp;
	if (!cl)
		return;
	while (cl->sessions)
		client_abort(cl->sessions);
	if (cl->tls)
		SSL_CTX_free(cl->tls);
	if (cl->tls_verify)
		SSL_CTX_free(cl->tls_verify);
	free(cl);
	*clp = NULL;
}
