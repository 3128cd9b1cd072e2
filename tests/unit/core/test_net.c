/*
 * Tests of src/core/net.c and src/core/tls.c: a real loop on loopback, with a
 * client thread doing blocking socket (and OpenSSL client) I/O.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/net.h"

/* ---- a line-echo protocol ----------------------------------------------------- */

struct echo_state {
	int opened, closed, timeouts;
	size_t max_input; /* the most input ever buffered at a read() */
	bool consume;     /* false: never read input (backpressure test) */
	struct buf seen;  /* every line received, '|'-separated */
};

static struct echo_state echo;

static void echo_open(struct conn *c)
{
	echo.opened++;
	conn_puts(c, conn_is_tls(c) ? "hello tls\r\n" : "hello\r\n");
}

static void echo_read(struct conn *c)
{
	struct evbuffer *in = conn_input(c);
	size_t have = evbuffer_get_length(in);
	if (have > echo.max_input)
		echo.max_input = have;
	if (!echo.consume)
		return;
	char *line;
	size_t n;
	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT)) != NULL) {
		buf_append(&echo.seen, line, n);
		buf_putc(&echo.seen, '|');
		if (strcmp(line, "STARTTLS") == 0) {
			conn_puts(c, "go\r\n");
			conn_starttls(c);
			free(line);
			return; /* anything after is discarded by conn_starttls */
		}
		if (strcmp(line, "QUIT") == 0) {
			conn_puts(c, "bye\r\n");
			conn_close(c);
			free(line);
			return;
		}
		if (strcmp(line, "FLOOD") == 0) { /* more than any socket buffers, then close */
			char *chunk = xmalloc(1 << 20);
			memset(chunk, 'y', 1 << 20);
			for (int i = 0; i < 96; i++)
				conn_write(c, chunk, 1 << 20);
			free(chunk);
			conn_close(c);
			free(line);
			return;
		}
		conn_printf(c, "%s\r\n", line);
		free(line);
	}
}

static void echo_closed(struct conn *c)
{
	echo.closed++;
}

static void echo_timeout(struct conn *c)
{
	echo.timeouts++;
	conn_puts(c, "timeout\r\n");
}

static const struct conn_handler echo_handler = {
	.proto = "echo",
	.open = echo_open,
	.read = echo_read,
	.closed = echo_closed,
	.timeout = echo_timeout,
	.busy_reply = "busy\r\n",
};

/* ---- fixture: a loop with one plain and one implicit-TLS listener ------------- */

struct fixture {
	struct event_base *base;
	struct net *net;
	SSL_CTX *ctx;
	char dir[64];
	unsigned port, tls_port;
	pthread_t client;
	void (*client_fn)(struct fixture *f);
	bool done;
	struct event *poll;
};

static unsigned free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	bind(s, (struct sockaddr *)&sin, sizeof sin);
	socklen_t len = sizeof sin;
	getsockname(s, (struct sockaddr *)&sin, &len);
	close(s);
	return ntohs(sin.sin_port);
}

static int setup(void **state)
{
	static bool threads;
	if (!threads) {
		evthread_use_pthreads();
		threads = true;
	}
	struct fixture *f = xcalloc(1, sizeof *f);
	memset(&echo, 0, sizeof echo);
	echo.consume = true;
	snprintf(f->dir, sizeof f->dir, "/tmp/petrel-net-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char *cert = xasprintf("%s/cert.pem", f->dir), *key = xasprintf("%s/key.pem", f->dir);
	struct buf err = BUF_INIT;
	assert_int_equal(tls_selfsigned_ensure(cert, key, "test.example", &err), 0);
	f->ctx = tls_ctx_new(cert, key, &err);
	assert_non_null(f->ctx);
	f->base = event_base_new();
	struct net_limits lim = {.max_connections = 10, .max_per_ip = 10, .timeout_s = 30};
	f->net = net_new(f->base, &lim);
	net_set_tls(f->net, f->ctx);
	f->port = free_port();
	f->tls_port = free_port();
	char *plain = xasprintf("127.0.0.1:%u", f->port), *tls = xasprintf("127.0.0.1:%u", f->tls_port);
	assert_int_equal(net_listen(f->net, "echo", plain, false, &echo_handler, NULL, &err), 0);
	assert_int_equal(net_listen(f->net, "echos", tls, true, &echo_handler, NULL, &err), 0);
	free(plain);
	free(tls);
	free(cert);
	free(key);
	buf_free(&err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	net_free(&f->net);
	/* let libevent run the finalizers of the freed bufferevents */
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	tls_ctx_free(&f->ctx);
	if (f->poll)
		event_free(f->poll);
	event_base_free(f->base);
	char *cmd = xasprintf("rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	buf_free(&echo.seen);
	free(f);
	return 0;
}

static void *client_main(void *arg)
{
	struct fixture *f = arg;
	f->client_fn(f);
	__atomic_store_n(&f->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

static void poll_done(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *f = arg;
	if (__atomic_load_n(&f->done, __ATOMIC_SEQ_CST))
		event_base_loopexit(f->base, NULL);
}

/* Runs the loop while fn runs in a client thread; then lets the loop settle. */
static void run_client(struct fixture *f, void (*fn)(struct fixture *f))
{
	f->client_fn = fn;
	f->done = false;
	f->poll = event_new(f->base, -1, EV_PERSIST, poll_done, f);
	struct timeval tv = {0, 10000};
	event_add(f->poll, &tv);
	pthread_create(&f->client, NULL, client_main, f);
	event_base_dispatch(f->base);
	pthread_join(f->client, NULL);
	event_free(f->poll);
	f->poll = NULL;
	/* let closes and reaping run */
	struct timeval settle = {0, 200000};
	event_base_loopexit(f->base, &settle);
	event_base_dispatch(f->base);
}

/* ---- client helpers (blocking) --------------------------------------------------- */

static int dial(unsigned port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(0x7f000001)};
	if (connect(s, (struct sockaddr *)&sin, sizeof sin) < 0) {
		close(s);
		return -1;
	}
	struct timeval tv = {5, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return s;
}

/* Reads one line (up to LF) into a static buffer; "" on EOF. */
static const char *get_line(int s, SSL *ssl)
{
	static char line[1024];
	size_t n = 0;
	while (n + 1 < sizeof line) {
		char ch;
		int r = ssl ? SSL_read(ssl, &ch, 1) : (int)recv(s, &ch, 1, 0);
		if (r <= 0)
			break;
		line[n++] = ch;
		if (ch == '\n')
			break;
	}
	line[n] = '\0';
	return line;
}

static void put(int s, SSL *ssl, const char *text)
{
	if (ssl)
		SSL_write(ssl, text, (int)strlen(text));
	else
		send(s, text, strlen(text), MSG_NOSIGNAL);
}

static SSL *tls_connect(int s, SSL_CTX **cctx)
{
	*cctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(*cctx);
	SSL_set_fd(ssl, s);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		SSL_CTX_free(*cctx);
		*cctx = NULL;
		return NULL;
	}
	return ssl;
}

/* ---- tests ------------------------------------------------------------------------ */

static char client_result[4096];

static void client_echo(struct fixture *f)
{
	int s = dial(f->port);
	struct buf r = BUF_INIT;
	buf_puts(&r, get_line(s, NULL));
	put(s, NULL, "one\r\ntwo\r\n");
	buf_puts(&r, get_line(s, NULL));
	buf_puts(&r, get_line(s, NULL));
	put(s, NULL, "QUIT\r\n");
	buf_puts(&r, get_line(s, NULL));
	buf_puts(&r, get_line(s, NULL)); /* EOF: "" */
	snprintf(client_result, sizeof client_result, "%s", buf_cstr(&r));
	buf_free(&r);
	close(s);
}

static void test_lines_are_echoed_and_close_flushes_the_reply(void **state)
{
	struct fixture *f = *state;
	run_client(f, client_echo);
	assert_string_equal(client_result, "hello\r\none\r\ntwo\r\nbye\r\n");
	assert_int_equal(echo.opened, 1);
	assert_int_equal(echo.closed, 1);
	assert_int_equal(net_connection_count(f->net), 0);
}

/* The server's end of the client socket s: the process's socket whose local
   address is s's peer and whose peer is s's local address. */
static int server_end(int s)
{
	struct sockaddr_in mine, theirs;
	socklen_t len = sizeof mine;
	getsockname(s, (struct sockaddr *)&mine, &len);
	len = sizeof theirs;
	getpeername(s, (struct sockaddr *)&theirs, &len);
	for (int fd = 0; fd < 1024; fd++) {
		struct sockaddr_in a, b;
		socklen_t la = sizeof a, lb = sizeof b;
		if (fd == s || getsockname(fd, (struct sockaddr *)&a, &la) < 0 ||
		    getpeername(fd, (struct sockaddr *)&b, &lb) < 0 || a.sin_family != AF_INET)
			continue;
		if (a.sin_port == theirs.sin_port && b.sin_port == mine.sin_port)
			return fd;
	}
	return -1;
}

static int nodelay_plain = -1, nodelay_tls = -1;

static int nodelay_of(int fd)
{
	int on = -1;
	socklen_t len = sizeof on;
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) < 0)
		return -1;
	return on != 0;
}

static void client_nodelay(struct fixture *f)
{
	int s = dial(f->port);
	get_line(s, NULL); /* "hello": the server has accepted */
	nodelay_plain = nodelay_of(server_end(s));
	put(s, NULL, "QUIT\r\n");
	get_line(s, NULL);
	close(s);

	SSL_CTX *cctx;
	int t = dial(f->tls_port);
	SSL *ssl = tls_connect(t, &cctx);
	get_line(t, ssl);
	nodelay_tls = nodelay_of(server_end(t));
	put(t, ssl, "QUIT\r\n");
	get_line(t, ssl);
	SSL_free(ssl);
	SSL_CTX_free(cctx);
	close(t);
}

/* Nagle's algorithm would hold the last small segment of a large answer until
   the client's (delayed) ACK of the previous one: ~40 ms on every big FETCH. */
static void test_accepted_connections_send_without_waiting_for_acks(void **state)
{
	struct fixture *f = *state;
	run_client(f, client_nodelay);
	assert_int_equal(nodelay_plain, 1);
	assert_int_equal(nodelay_tls, 1);
}

static void client_three(struct fixture *f)
{
	int a = dial(f->port), b = dial(f->port);
	struct buf r = BUF_INIT;
	buf_puts(&r, get_line(a, NULL));
	buf_puts(&r, get_line(b, NULL));
	int c = dial(f->port);
	buf_puts(&r, get_line(c, NULL));
	buf_puts(&r, get_line(c, NULL)); /* then closed: "" */
	snprintf(client_result, sizeof client_result, "%s", buf_cstr(&r));
	buf_free(&r);
	close(a);
	close(b);
	close(c);
}

static void test_per_ip_limit_gives_the_busy_reply(void **state)
{
	struct fixture *f = *state;
	struct net_limits lim = {.max_connections = 10, .max_per_ip = 2, .timeout_s = 30};
	net_set_limits(f->net, &lim);
	run_client(f, client_three);
	assert_string_equal(client_result, "hello\r\nhello\r\nbusy\r\n");
	assert_int_equal(echo.opened, 2);
	assert_int_equal(echo.closed, 2);
}

static void test_total_limit_gives_the_busy_reply(void **state)
{
	struct fixture *f = *state;
	struct net_limits lim = {.max_connections = 2, .max_per_ip = 100, .timeout_s = 30};
	net_set_limits(f->net, &lim);
	run_client(f, client_three);
	assert_string_equal(client_result, "hello\r\nhello\r\nbusy\r\n");
}

static void client_three_in_a_row(struct fixture *f)
{
	struct buf r = BUF_INIT;
	for (int i = 0; i < 3; i++) {
		int s = dial(f->port);
		buf_puts(&r, get_line(s, NULL));
		close(s);
	}
	snprintf(client_result, sizeof client_result, "%s", buf_cstr(&r));
	buf_free(&r);
}

static void test_connection_rate_per_ip_gives_the_busy_reply(void **state)
{
	struct fixture *f = *state;
	struct net_limits lim = {.max_connections = 10, .max_per_ip = 10, .rate_per_ip = 2,
				 .timeout_s = 30};
	net_set_limits(f->net, &lim);
	run_client(f, client_three_in_a_row);
	assert_string_equal(client_result, "hello\r\nhello\r\nbusy\r\n");
}

static void test_loopback_may_be_exempt_from_the_rate(void **state)
{
	struct fixture *f = *state;
	struct net_limits lim = {.max_connections = 10, .max_per_ip = 10, .rate_per_ip = 2,
				 .rate_exempt_loopback = true, .timeout_s = 30};
	net_set_limits(f->net, &lim);
	run_client(f, client_three_in_a_row);
	assert_string_equal(client_result, "hello\r\nhello\r\nhello\r\n");
}

static void client_idle(struct fixture *f)
{
	int s = dial(f->port);
	struct buf r = BUF_INIT;
	buf_puts(&r, get_line(s, NULL));
	buf_puts(&r, get_line(s, NULL)); /* the server times out */
	buf_puts(&r, get_line(s, NULL)); /* EOF */
	snprintf(client_result, sizeof client_result, "%s", buf_cstr(&r));
	buf_free(&r);
	close(s);
}

static void test_idle_timeout_says_goodbye_and_closes(void **state)
{
	struct fixture *f = *state;
	struct net_limits lim = {.max_connections = 10, .max_per_ip = 10, .timeout_s = 1};
	net_set_limits(f->net, &lim);
	run_client(f, client_idle);
	assert_string_equal(client_result, "hello\r\ntimeout\r\n");
	assert_int_equal(echo.timeouts, 1);
	assert_int_equal(echo.closed, 1);
}

static void client_starttls(struct fixture *f)
{
	int s = dial(f->port);
	struct buf r = BUF_INIT;
	buf_puts(&r, get_line(s, NULL));
	/* The injection: commands pipelined after STARTTLS in the same packet. */
	put(s, NULL, "STARTTLS\r\nINJECTED\r\nQUIT\r\n");
	buf_puts(&r, get_line(s, NULL));
	SSL_CTX *cctx;
	SSL *ssl = tls_connect(s, &cctx);
	if (ssl) {
		put(s, ssl, "secret\r\n");
		buf_puts(&r, get_line(s, ssl));
		put(s, ssl, "QUIT\r\n");
		buf_puts(&r, get_line(s, ssl));
		SSL_free(ssl);
		SSL_CTX_free(cctx);
	} else {
		buf_puts(&r, "handshake failed");
	}
	snprintf(client_result, sizeof client_result, "%s", buf_cstr(&r));
	buf_free(&r);
	close(s);
}

static void test_starttls_discards_what_was_pipelined_after_it(void **state)
{
	struct fixture *f = *state;
	run_client(f, client_starttls);
	assert_string_equal(client_result, "hello\r\ngo\r\nsecret\r\nbye\r\n");
	assert_string_equal(buf_cstr(&echo.seen), "STARTTLS|secret|QUIT|");
}

static void client_implicit(struct fixture *f)
{
	int s = dial(f->tls_port);
	SSL_CTX *cctx;
	SSL *ssl = tls_connect(s, &cctx);
	struct buf r = BUF_INIT;
	if (ssl) {
		buf_puts(&r, get_line(s, ssl));
		buf_puts(&r, SSL_get_version(ssl));
		put(s, ssl, "QUIT\r\n");
		buf_puts(&r, get_line(s, ssl));
		SSL_free(ssl);
		SSL_CTX_free(cctx);
	}
	snprintf(client_result, sizeof client_result, "%s", buf_cstr(&r));
	buf_free(&r);
	close(s);
}

static void test_implicit_tls_greets_after_the_handshake(void **state)
{
	struct fixture *f = *state;
	run_client(f, client_implicit);
	assert_string_equal(client_result, "hello tls\r\nTLSv1.3bye\r\n");
}

static void client_garbage_tls(struct fixture *f)
{
	int s = dial(f->tls_port);
	put(s, NULL, "EHLO this is not TLS\r\n");
	snprintf(client_result, sizeof client_result, "%s", get_line(s, NULL));
	close(s);
}

static void test_plaintext_on_a_tls_port_is_dropped(void **state)
{
	struct fixture *f = *state;
	run_client(f, client_garbage_tls);
	assert_string_equal(client_result, "");
	assert_int_equal(echo.opened, 0);
	assert_int_equal(net_connection_count(f->net), 0);
}

static void client_flood(struct fixture *f)
{
	int s = dial(f->port);
	get_line(s, NULL);
	char *chunk = xmalloc(65536);
	memset(chunk, 'x', 65536);
	struct timeval tv = {1, 0};
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	size_t sent = 0;
	/* Up to 64 MiB, until the socket pushes back: more than the kernel may
	   buffer on both sides (tcp_rmem's maximum is 32 MiB on some systems) plus
	   the server's own CONN_MAX_INPUT. */
	for (int i = 0; i < 1024; i++) {
		ssize_t w = send(s, chunk, 65536, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	snprintf(client_result, sizeof client_result, "%zu", sent);
	free(chunk);
	close(s);
}

static void test_unread_input_is_capped_by_backpressure(void **state)
{
	struct fixture *f = *state;
	echo.consume = false;
	run_client(f, client_flood);
	assert_true(echo.max_input > 0);
	assert_true(echo.max_input <= CONN_MAX_INPUT + 65536);
	assert_true(strtoull(client_result, NULL, 10) < 64u * 1024 * 1024);
}

/* Asks for more output than the kernel buffers, reads none of it, and looks
   whether the server still has its end after the close timeout. */
static void client_no_reader(struct fixture *f)
{
	int s = dial(f->port);
	get_line(s, NULL);
	put(s, NULL, "FLOOD\r\n");
	sleep(3);
	snprintf(client_result, sizeof client_result, "%s",
	         server_end(s) >= 0 ? "server end open" : "server end closed");
	close(s);
}

/* A closed connection's output waits close_timeout_s for a peer that does not
   read, and then the connection goes. */
static void test_a_closed_connection_whose_peer_stops_reading_goes(void **state)
{
	struct fixture *f = *state;
	struct net_limits lim = {.max_connections = 10, .max_per_ip = 10, .close_timeout_s = 1};
	net_set_limits(f->net, &lim);
	run_client(f, client_no_reader);
	assert_string_equal(client_result, "server end closed");
	assert_int_equal(echo.closed, 1);
	assert_int_equal(net_connection_count(f->net), 0);
}

static void client_drain(struct fixture *f)
{
	int s = dial(f->port);
	struct buf r = BUF_INIT;
	buf_puts(&r, get_line(s, NULL));
	buf_puts(&r, get_line(s, NULL));
	snprintf(client_result, sizeof client_result, "%s", buf_cstr(&r));
	buf_free(&r);
	close(s);
}

static void drain_soon(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *f = arg;
	net_stop_listening(f->net);
	net_drain(f->net);
}

static void test_drain_closes_every_connection(void **state)
{
	struct fixture *f = *state;
	struct timeval tv = {0, 300000};
	event_base_once(f->base, -1, EV_TIMEOUT, drain_soon, f, &tv);
	run_client(f, client_drain);
	assert_string_equal(client_result, "hello\r\n");
	assert_int_equal(echo.closed, 1);
	assert_int_equal(net_connection_count(f->net), 0);
	assert_int_equal(dial(f->port), -1); /* no longer listening */
}

static void test_listen_errors_are_clear(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	char *addr = xasprintf("127.0.0.1:%u", f->port);
	assert_int_equal(net_listen(f->net, "dup", addr, false, &echo_handler, NULL, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "dup: cannot listen on"));
	buf_reset(&err);
	assert_int_equal(net_listen(f->net, "bad", "nonsense", false, &echo_handler, NULL, &err),
			 -1);
	assert_true(err.len > 0);
	buf_reset(&err);
	assert_int_equal(net_listen(f->net, "off", "", false, &echo_handler, NULL, &err), 0);
	free(addr);
	buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_are_echoed_and_close_flushes_the_reply,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_accepted_connections_send_without_waiting_for_acks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_ip_limit_gives_the_busy_reply, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_total_limit_gives_the_busy_reply, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_connection_rate_per_ip_gives_the_busy_reply,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_may_be_exempt_from_the_rate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout_says_goodbye_and_closes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_starttls_discards_what_was_pipelined_after_it,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_implicit_tls_greets_after_the_handshake, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plaintext_on_a_tls_port_is_dropped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unread_input_is_capped_by_backpressure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_closed_connection_whose_peer_stops_reading_goes,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_closes_every_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_listen_errors_are_clear, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
