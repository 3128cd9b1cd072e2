/*
 * smtp_load — an SMTP submission load client: several parallel connections, many
 * messages over each, STARTTLS and AUTH PLAIN when asked. Used by the benchmarks
 * (bench/outbound, bench/api) and tested by tests/integration/test_smtp_load.py.
 *
 *   smtp_load --port P --from ADDR --to ADDR [--to ADDR]... [--host IPV4]
 *             [--connections N] [--messages M] [--seconds S] [--per-connection K]
 *             [--size BYTES | --message FILE] [--starttls] [--auth USER]
 *             [--ehlo NAME] [--timeout S]
 *
 * Message m (counted from 0 over all connections) goes from --from to the
 * (m mod n)-th of the n --to addresses. Without --message it is generated: a
 * header (From:, To:, Subject:, Date:, Message-ID: naming m) and a body of
 * pseudo-random printable lines, BYTES long in all (default 4096), CRLF line
 * ends, no line starting with a dot. --message FILE sends the file's bytes as
 * every message (LF line ends become CRLF; dot-stuffed here).
 *
 * Each connection: greeting, EHLO, with --starttls STARTTLS (certificate not
 * verified: a benchmark against loopback) and EHLO again, with --auth AUTH PLAIN
 * (the password is the first line of standard input), then up to K messages
 * (--per-connection, default 100; 0: no limit), then QUIT and the next
 * connection. A message is MAIL, RCPT and DATA written at once when the server
 * offers PIPELINING (one at a time otherwise), then its data and the dot; it
 * counts as sent when the reply to the data is 2xx. A rejected message counts as
 * failed and the session goes on (RSET); a 421 to MAIL after the connection's
 * first message (the server's limit of messages per session) sends the message
 * again over a new connection; an I/O error or a timeout fails the message in
 * hand and the connection, which is then opened again (a connection that cannot
 * be opened SMTP_LOAD_MAX_RETRIES times in a row stops its worker).
 *
 * Messages are handed out until --messages (default 1000) are taken, or, with
 * --seconds, until S seconds have passed (whichever comes first when both are
 * given). Then one line on standard output:
 *   connections=N messages=M sent=S failed=F seconds=T rate=R/s p50_ms=A p99_ms=B
 * where rate is sent messages per second, from the first connect to the last
 * reply, and A and B are the median and 99th percentile of a sent message's
 * time from its MAIL to the reply to its data; the first failures go to
 * standard error. Exit status 1 if any message
 * failed, 2 for a usage error.
 */
#include "core/core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "smtp_load"
#include "tool_args.h"

#define SMTP_LOAD_MAX_REPLY_LINE 4096   /* RFC 5321 4.5.3.1.5: 512; servers send more */
#define SMTP_LOAD_MAX_REPLY (64 * 1024) /* one whole (multi-line) reply */
#define SMTP_LOAD_MAX_RETRIES 3         /* consecutive failed connects before a worker stops */
#define SMTP_LOAD_MAX_TO 1000           /* --to addresses */
#define SMTP_LOAD_KEEP_FAILURES 5       /* failures printed on stderr */
#define SMTP_LOAD_MAX_SAMPLES 10000000  /* latencies kept for the percentiles */
#define LINE_LEN 78                     /* generated body lines: 76 characters and CRLF */

struct load {
	struct sockaddr_in addr;
	const char *from;
	const char **to;
	size_t nto;
	unsigned connections;
	uint64_t messages;
	int64_t deadline_ms; /* 0: none */
	uint64_t per_connection;
	size_t size;
	struct buf fixed; /* --message, dot-stuffed, ending in CRLF; empty: generated */
	bool starttls;
	const char *user;
	char *password;
	const char *ehlo;
	unsigned timeout_s;
	SSL_CTX *tls;

	pthread_mutex_t lock;
	uint64_t next; /* next message number to hand out */
	uint64_t sent, failed;
	uint32_t *lat_us; /* latencies of sent messages, microseconds */
	size_t nlat, caplat;
	char *failures[SMTP_LOAD_KEEP_FAILURES];
	size_t nfailures;
};

/* One connection, blocking, with timeouts on the socket. */
struct conn {
	int fd;
	SSL *ssl;
	struct buf in; /* bytes read and not yet consumed */
	struct buf reply;
	bool pipelining, has_starttls;
};

/* ---- bookkeeping ------------------------------------------------------------------ */

/* Takes the next message number; false when there are no more. */
static bool take(struct load *L, uint64_t *m_r)
{
	bool ok = false;
	pthread_mutex_lock(&L->lock);
	if (L->next < L->messages && (!L->deadline_ms || time_mono_ms() < L->deadline_ms)) {
		*m_r = L->next++;
		ok = true;
	}
	pthread_mutex_unlock(&L->lock);
	return ok;
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A message sent, us microseconds from its MAIL to the reply to its data. */
static void count_sent(struct load *L, int64_t us)
{
	pthread_mutex_lock(&L->lock);
	L->sent++;
	if (L->nlat < SMTP_LOAD_MAX_SAMPLES) {
		if (L->nlat == L->caplat) {
			L->caplat = L->caplat ? L->caplat * 2 : 4096;
			L->lat_us = xrealloc(L->lat_us, L->caplat * sizeof *L->lat_us);
		}
		L->lat_us[L->nlat++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	}
	pthread_mutex_unlock(&L->lock);
}

static void count_failed(struct load *L, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void count_failed(struct load *L, const char *fmt, ...)
{
	pthread_mutex_lock(&L->lock);
	L->failed++;
	if (L->nfailures < SMTP_LOAD_KEEP_FAILURES) {
		struct buf b = BUF_INIT;
		va_list ap;
		va_start(ap, fmt);
		buf_vprintf(&b, fmt, ap);
		va_end(ap);
		L->failures[L->nfailures++] = buf_steal(&b);
	}
	pthread_mutex_unlock(&L->lock);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The p-th percentile of the sorted latencies, in milliseconds. */
static double percentile_ms(const struct load *L, double p)
{
	if (L->nlat == 0)
		return 0.0;
	size_t i = (size_t)(p / 100.0 * (double)L->nlat + 0.999999);
	i = i == 0 ? 0 : i - 1;
	return (double)L->lat_us[i < L->nlat ? i : L->nlat - 1] / 1000.0;
}

/* ---- messages ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Message m as it goes on the wire after DATA: its bytes, then ".\r\n". */
static void message_make(const struct load *L, uint64_t m, struct buf *out)
{
	buf_reset(out);
	if (L->fixed.len) {
		buf_append(out, L->fixed.data, L->fixed.len);
		buf_puts(out, ".\r\n");
		return;
	}
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_printf(out,
	           "From: <%s>\r\n"
	           "To: <%s>\r\n"
	           "Subject: smtp_load message %llu\r\n"
	           "Date: %s\r\n"
	           "Message-ID: <smtp_load.%ld.%llu@%s>\r\n"
	           "MIME-Version: 1.0\r\n"
	           "Content-Type: text/plain; charset=us-ascii\r\n"
	           "\r\n",
	           L->from, L->to[m % L->nto], (unsigned long long)m, date, (long)getpid(),
	           (unsigned long long)m, L->ehlo);
	if (L->size >= out->len + 3) {
		size_t rem = L->size - out->len;
		buf_reserve(out, rem + 3);
		char *body = out->data + out->len;
		uint64_t seed = m ^ UINT64_C(0x534d54504c4f4144); /* "SMTPLOAD" */
		for (size_t i = 0; i < rem; i += 8) {
			uint64_t r = splitmix64(&seed);
			for (size_t j = 0; j < 8 && i + j < rem; j++, r >>= 8)
				body[i + j] = (char)('0' + (((r & 0xff) * 75) >> 8)); /* '0'..'z' */
		}
		for (size_t i = LINE_LEN - 2; i + 1 < rem; i += LINE_LEN) {
			body[i] = '\r';
			body[i + 1] = '\n';
		}
		if (body[rem - 3] == '\r')
			body[rem - 3] = 'x';
		body[rem - 2] = '\r';
		body[rem - 1] = '\n';
		out->len += rem;
	}
	buf_puts(out, ".\r\n");
}

/* --message: LF or CRLF line ends become CRLF, a leading dot is doubled, and the
   message ends with CRLF. A bare CR is an error. */
static int message_load(struct load *L, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "smtp_load: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct buf raw = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&raw, chunk, n);
	bool bad = ferror(f);
	fclose(f);
	bool line_start = true;
	for (size_t i = 0; i < raw.len && !bad; i++) {
		char c = raw.data[i];
		if (c == '\r') {
			if (i + 1 >= raw.len || raw.data[i + 1] != '\n')
				bad = true;
			continue;
		}
		if (line_start && c == '.')
			buf_putc(&L->fixed, '.');
		if (c == '\n') {
			buf_puts(&L->fixed, "\r\n");
			line_start = true;
		} else {
			buf_putc(&L->fixed, c);
			line_start = false;
		}
	}
	if (!line_start)
		buf_puts(&L->fixed, "\r\n");
	buf_free(&raw);
	if (bad || L->fixed.len == 0) {
		fprintf(stderr, "smtp_load: %s: unreadable, empty, or a bare CR\n", path);
		return -1;
	}
	return 0;
}

/* ---- the connection ------------------------------------------------------------------ */

/* Appends a reason to err, after "; " when it holds one already. */
static void why(struct buf *err, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void why(struct buf *err, const char *fmt, ...)
{
	if (err->len)
		buf_puts(err, "; ");
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(err, fmt, ap);
	va_end(ap);
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_reset(&c->in);
}

static int conn_open(const struct load *L, struct conn *c, struct buf *err)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		why(err, "socket: %s", strerror(errno));
		return -1;
	}
	struct timeval tv = {.tv_sec = L->timeout_s};
	int one = 1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (const struct sockaddr *)&L->addr, sizeof L->addr) < 0) {
		why(err, "connect: %s", strerror(errno));
		conn_close(c);
		return -1;
	}
	return 0;
}

static int conn_write(struct conn *c, const char *p, size_t n, struct buf *err)
{
	while (n > 0) {
		ssize_t w;
		if (c->ssl) {
			int r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			if (r <= 0) {
				why(err, "TLS write failed (%d)", SSL_get_error(c->ssl, r));
				return -1;
			}
			w = r;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				why(err, "write: %s",
				    errno == EAGAIN ? "timeout" : strerror(errno));
				return -1;
			}
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads more bytes into c->in; -1 on EOF, error or timeout. */
static int conn_fill(struct conn *c, struct buf *err)
{
	buf_reserve(&c->in, 16384);
	char *at = c->in.data + c->in.len;
	ssize_t r;
	for (;;) {
		if (c->ssl) {
			int k = SSL_read(c->ssl, at, 16384);
			if (k <= 0) {
				why(err, "TLS read failed (%d)", SSL_get_error(c->ssl, k));
				return -1;
			}
			r = k;
		} else {
			r = recv(c->fd, at, 16384, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				why(err, "read: %s", errno == EAGAIN ? "timeout" : strerror(errno));
				return -1;
			}
			if (r == 0) {
				why(err, "connection closed by the server");
				return -1;
			}
		}
		break;
	}
	c->in.len += (size_t)r;
	c->in.data[c->in.len] = '\0';
	return 0;
}

/*
 * Reads one reply (all its lines) into c->reply, lines joined by "\n". Returns
 * its code (200..599), or -1 on an I/O error or a malformed reply (err says why).
 */
static int conn_reply(struct conn *c, struct buf *err)
{
	buf_reset(&c->reply);
	int code = -1;
	for (;;) {
		char *nl = c->in.len ? memchr(c->in.data, '\n', c->in.len) : NULL;
		if (!nl) {
			if (c->in.len > SMTP_LOAD_MAX_REPLY_LINE) {
				why(err, "reply line too long");
				return -1;
			}
			if (conn_fill(c, err) < 0)
				return -1;
			continue;
		}
		size_t n = (size_t)(nl - c->in.data);
		size_t len = n > 0 && c->in.data[n - 1] == '\r' ? n - 1 : n;
		const char *l = c->in.data;
		bool ok = len >= 3 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' &&
		          l[2] >= '0' && l[2] <= '9' && (len == 3 || l[3] == ' ' || l[3] == '-');
		int this_code = ok ? (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0') : -1;
		if (!ok || (code >= 0 && this_code != code) ||
		    c->reply.len + len > SMTP_LOAD_MAX_REPLY) {
			why(err, "malformed reply: %.*s", (int)(len > 200 ? 200 : len), l);
			return -1;
		}
		code = this_code;
		if (c->reply.len)
			buf_putc(&c->reply, '\n');
		buf_append(&c->reply, l, len);
		bool last = len == 3 || l[3] == ' ';
		buf_consume(&c->in, n + 1);
		if (last)
			return code;
	}
}

/* Writes a command line and reads its reply: the code, or -1. */
static int conn_cmd(struct conn *c, const char *line, struct buf *err)
{
	if (conn_write(c, line, strlen(line), err) < 0 || conn_write(c, "\r\n", 2, err) < 0)
		return -1;
	return conn_reply(c, err);
}

static void ehlo_keywords(struct conn *c)
{
	c->pipelining = c->has_starttls = false;
	const char *p = c->reply.data;
	while (p && *p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n > 4) {
			struct str kw = {p + 4, n - 4};
			const char *sp = memchr(kw.p, ' ', kw.len);
			if (sp)
				kw.len = (size_t)(sp - kw.p);
			if (str_eq_cstr_nocase(kw, "PIPELINING"))
				c->pipelining = true;
			else if (str_eq_cstr_nocase(kw, "STARTTLS"))
				c->has_starttls = true;
		}
		p = e ? e + 1 : NULL;
	}
}

/* Greeting, EHLO, STARTTLS, AUTH: 0 when the session may send mail. */
static int conn_start(struct load *L, struct conn *c, struct buf *err)
{
	char *ehlo = xasprintf("EHLO %s", L->ehlo);
	int r = -1;
	int code = conn_reply(c, err);
	if (code != 220) {
		if (code > 0)
			why(err, "greeting: %s", buf_cstr(&c->reply));
		goto out;
	}
	if ((code = conn_cmd(c, ehlo, err)) != 250)
		goto reply;
	ehlo_keywords(c);
	if (L->starttls) {
		if (!c->has_starttls) {
			why(err, "the server does not offer STARTTLS");
			goto out;
		}
		if ((code = conn_cmd(c, "STARTTLS", err)) != 220)
			goto reply;
		if (c->in.len) {
			why(err, "bytes after the STARTTLS reply");
			goto out;
		}
		c->ssl = SSL_new(L->tls);
		if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
			unsigned long e = ERR_get_error();
			why(err, "TLS handshake failed: %s",
			    e ? ERR_reason_error_string(e) : "connection closed");
			ERR_clear_error();
			goto out;
		}
		if ((code = conn_cmd(c, ehlo, err)) != 250)
			goto reply;
		ehlo_keywords(c);
	}
	if (L->user) {
		struct buf plain = BUF_INIT, line = BUF_INIT;
		buf_putc(&plain, '\0');
		buf_puts(&plain, L->user);
		buf_putc(&plain, '\0');
		buf_puts(&plain, L->password);
		buf_puts(&line, "AUTH PLAIN ");
		base64_encode(&line, plain.data, plain.len);
		code = conn_cmd(c, buf_cstr(&line), err);
		buf_free(&plain);
		buf_free(&line);
		if (code != 235)
			goto reply;
	}
	r = 0;
	goto out;
reply:
	if (code > 0)
		why(err, "%s", buf_cstr(&c->reply));
out:
	free(ehlo);
	return r;
}

/*
 * Sends message m over a started session. 1: sent; 0: rejected (the session
 * goes on); -1: the connection failed; -2: the server ends the session before
 * the message (421 to MAIL, as for a limit of messages per connection): send it
 * again over a new one.
 */
static int send_message(struct load *L, struct conn *c, uint64_t m, struct buf *msg,
                        struct buf *err)
{
	const char *to = L->to[m % L->nto];
	struct buf cmds = BUF_INIT;
	int r = -1;
	int mail, rcpt, data;
	if (c->pipelining) {
		buf_printf(&cmds, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", L->from, to);
		if (conn_write(c, cmds.data, cmds.len, err) < 0)
			goto out;
		if ((mail = conn_reply(c, err)) < 0)
			goto out;
		if (mail == 421) {
			why(err, "MAIL: %s", buf_cstr(&c->reply));
			r = -2;
			goto out;
		}
		if (mail / 100 != 2)
			why(err, "MAIL: %s", buf_cstr(&c->reply));
		if ((rcpt = conn_reply(c, err)) < 0)
			goto out;
		if (mail / 100 == 2 && rcpt / 100 != 2)
			why(err, "RCPT: %s", buf_cstr(&c->reply));
		if ((data = conn_reply(c, err)) < 0)
			goto out;
		if (mail / 100 == 2 && rcpt / 100 == 2 && data != 354)
			why(err, "DATA: %s", buf_cstr(&c->reply));
	} else {
		buf_printf(&cmds, "MAIL FROM:<%s>", L->from);
		if ((mail = conn_cmd(c, buf_cstr(&cmds), err)) < 0)
			goto out;
		rcpt = data = 0;
		if (mail == 421) {
			why(err, "MAIL: %s", buf_cstr(&c->reply));
			r = -2;
		} else if (mail / 100 != 2) {
			why(err, "MAIL: %s", buf_cstr(&c->reply));
		} else {
			buf_reset(&cmds);
			buf_printf(&cmds, "RCPT TO:<%s>", to);
			if ((rcpt = conn_cmd(c, buf_cstr(&cmds), err)) < 0)
				goto out;
			if (rcpt / 100 != 2)
				why(err, "RCPT: %s", buf_cstr(&c->reply));
			else if ((data = conn_cmd(c, "DATA", err)) < 0)
				goto out;
			else if (data != 354)
				why(err, "DATA: %s", buf_cstr(&c->reply));
		}
	}
	if (data == 354) {
		/* With a failed MAIL or RCPT the server should not have said 354; an
		   empty message ends the transaction it opened anyway. */
		if (mail / 100 == 2 && rcpt / 100 == 2) {
			message_make(L, m, msg);
		} else {
			buf_reset(msg);
			buf_puts(msg, ".\r\n");
		}
		if (conn_write(c, msg->data, msg->len, err) < 0)
			goto out;
		int end = conn_reply(c, err);
		if (end < 0)
			goto out;
		if (mail / 100 == 2 && rcpt / 100 == 2) {
			if (end / 100 == 2) {
				r = 1;
				goto out;
			}
			why(err, "end of data: %s", buf_cstr(&c->reply));
		}
	}
	if (r != -2)
		r = conn_cmd(c, "RSET", err) < 0 ? -1 : 0;
out:
	buf_free(&cmds);
	return r;
}

/* ---- workers ------------------------------------------------------------------ */

static void *worker(void *arg)
{
	struct load *L = arg;
	struct conn c = {.fd = -1};
	struct buf msg = BUF_INIT, err = BUF_INIT;
	unsigned retries = 0;
	uint64_t m;
	bool have = take(L, &m);
	while (have) {
		buf_reset(&err);
		if (conn_open(L, &c, &err) < 0 || conn_start(L, &c, &err) < 0) {
			conn_close(&c);
			if (++retries >= SMTP_LOAD_MAX_RETRIES) {
				count_failed(L, "message %llu: no session after %u tries: %s",
				             (unsigned long long)m, retries, buf_cstr(&err));
				break;
			}
			continue;
		}
		retries = 0;
		uint64_t on_this = 0;
		int r = 1;
		while (have && (L->per_connection == 0 || on_this < L->per_connection)) {
			buf_reset(&err);
			int64_t t0 = mono_us();
			r = send_message(L, &c, m, &msg, &err);
			if (r == -2 && on_this > 0)
				break; /* m again, over the next connection */
			if (r == 1)
				count_sent(L, mono_us() - t0);
			else
				count_failed(L, "message %llu: %s", (unsigned long long)m,
				             buf_cstr(&err));
			on_this++;
			have = take(L, &m);
			if (r < 0)
				break;
		}
		if (r >= 0) {
			buf_reset(&err);
			conn_cmd(&c, "QUIT", &err);
		}
		conn_close(&c);
	}
	/* The message in hand when a worker gives up is counted above; the rest are
	   left to the other workers. */
	buf_free(&c.in);
	buf_free(&c.reply);
	buf_free(&msg);
	buf_free(&err);
	return NULL;
}

/* ---- main -------------------------------------------------------------------------- */

static _Noreturn void usage(void)
{
	fprintf(stderr,
	        "usage: smtp_load --port P --from ADDR --to ADDR [--to ADDR]... [--host IPV4]\n"
	        "                 [--connections N] [--messages M] [--seconds S]\n"
	        "                 [--per-connection K] [--size BYTES | --message FILE]\n"
	        "                 [--starttls] [--auth USER] [--ehlo NAME] [--timeout S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct load L = {.connections = 1,
	                 .messages = 1000,
	                 .per_connection = 100,
	                 .size = 4096,
	                 .ehlo = "load.example",
	                 .timeout_s = 60};
	const char *host = "127.0.0.1", *message_path = NULL;
	unsigned port = 0;
	uint64_t seconds = 0;
	bool messages_given = false;
	L.to = xcalloc(SMTP_LOAD_MAX_TO, sizeof *L.to);
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--starttls") == 0) {
			L.starttls = true;
			continue;
		}
		i++;
		if (strcmp(o, "--host") == 0 && v)
			host = v;
		else if (strcmp(o, "--port") == 0)
			port = (unsigned)tool_number(o, v, 1, 65535);
		else if (strcmp(o, "--from") == 0 && v)
			L.from = v;
		else if (strcmp(o, "--to") == 0 && v && L.nto < SMTP_LOAD_MAX_TO)
			L.to[L.nto++] = v;
		else if (strcmp(o, "--connections") == 0)
			L.connections = (unsigned)tool_number(o, v, 1, 10000);
		else if (strcmp(o, "--messages") == 0) {
			L.messages = tool_number(o, v, 1, UINT64_MAX / 2);
			messages_given = true;
		} else if (strcmp(o, "--seconds") == 0)
			seconds = tool_number(o, v, 1, 86400);
		else if (strcmp(o, "--per-connection") == 0)
			L.per_connection = tool_number(o, v, 0, UINT64_MAX);
		else if (strcmp(o, "--size") == 0)
			L.size = (size_t)tool_number(o, v, 1, 256u << 20);
		else if (strcmp(o, "--message") == 0 && v)
			message_path = v;
		else if (strcmp(o, "--auth") == 0 && v)
			L.user = v;
		else if (strcmp(o, "--ehlo") == 0 && v)
			L.ehlo = v;
		else if (strcmp(o, "--timeout") == 0)
			L.timeout_s = (unsigned)tool_number(o, v, 1, 3600);
		else
			usage();
	}
	if (!port || !L.from || L.nto == 0)
		usage();
	if (seconds && !messages_given)
		L.messages = UINT64_MAX / 2;
	if (inet_pton(AF_INET, host, &L.addr.sin_addr) != 1) {
		fprintf(stderr, "smtp_load: --host needs an IPv4 address\n");
		return 2;
	}
	L.addr.sin_family = AF_INET;
	L.addr.sin_port = htons((uint16_t)port);
	if (message_path && message_load(&L, message_path) < 0)
		return 2;
	if (L.user && !(L.password = tool_read_password())) {
		fprintf(stderr, "smtp_load: --auth needs the password on standard input\n");
		return 2;
	}
	if (L.starttls) {
		L.tls = SSL_CTX_new(TLS_client_method());
		if (!L.tls) {
			fprintf(stderr, "smtp_load: cannot set up TLS\n");
			return 1;
		}
		SSL_CTX_set_verify(L.tls, SSL_VERIFY_NONE, NULL);
	}
	pthread_mutex_init(&L.lock, NULL);
	signal(SIGPIPE, SIG_IGN); /* a write to a closed TLS connection fails instead */

	int64_t start = time_mono_ms();
	if (seconds)
		L.deadline_ms = start + (int64_t)seconds * 1000;
	pthread_t *threads = xcalloc(L.connections, sizeof *threads);
	unsigned started = 0;
	for (; started < L.connections; started++) {
		int e = pthread_create(&threads[started], NULL, worker, &L);
		if (e != 0) {
			fprintf(stderr, "smtp_load: pthread_create: %s\n", strerror(e));
			break;
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	double secs = (double)(time_mono_ms() - start) / 1000.0;

	if (L.nlat)
		qsort(L.lat_us, L.nlat, sizeof *L.lat_us, cmp_u32);
	printf("connections=%u messages=%llu sent=%llu failed=%llu seconds=%.2f rate=%.1f/s "
	       "p50_ms=%.2f p99_ms=%.2f\n",
	       started, (unsigned long long)L.next, (unsigned long long)L.sent,
	       (unsigned long long)L.failed, secs, secs > 0 ? (double)L.sent / secs : 0.0,
	       percentile_ms(&L, 50), percentile_ms(&L, 99));
	fflush(stdout);
	for (size_t i = 0; i < L.nfailures; i++) {
		fprintf(stderr, "smtp_load: %s\n", L.failures[i]);
		free(L.failures[i]);
	}
	bool ok = started == L.connections && L.failed == 0 && L.sent == L.next;
	free(threads);
	free(L.to);
	free(L.password);
	free(L.lat_us);
	buf_free(&L.fixed);
	if (L.tls)
		SSL_CTX_free(L.tls);
	pthread_mutex_destroy(&L.lock);
	return ok ? 0 : 1;
}
