/*
 * pop3_load — a POP3 download-and-delete load client: one session per account, all
 * in parallel, each retrieving (and deleting) every message of its maildrop and
 * checking every byte. Used by the benchmark bench/pop3 and tested by
 * tests/integration/test_pop3_load.py.
 *
 *   pop3_load --port P --expect FILE [--host IPV4] [--timeout S] [--threads N]
 *             [--blocking] [--keep]
 *
 * The password, the same for every account, is the first line of standard input.
 * FILE holds one line per message expected in a maildrop, "ADDRESS HEXSHA256": the
 * account's address and the SHA-256 of the message as RETR must deliver it once
 * the dot-stuffing is undone (the stored message, CRLF line ends, its final CRLF
 * included). The accounts are the distinct addresses of FILE, in the order they
 * first appear; an account may expect the same digest more than once. Empty lines
 * are passed over.
 *
 * The sessions run on --threads threads (default 1; never more than there are
 * accounts), the accounts dealt to them in turn: the first to the first thread, the
 * second to the second, and round again. Each thread runs an epoll loop over its
 * sessions' non-blocking sockets (TCP_NODELAY), so that one wakeup serves every
 * session whose answer has come in. A session fails when its connect, or the read
 * or write it waits for, makes no progress for --timeout seconds (default 60).
 * With --blocking there is instead one thread per account, with a blocking socket
 * (TCP_NODELAY, --timeout seconds for every read and write); --threads does not go
 * with it. Either way the threads are created and ready before any session
 * connects; then every session connects at once. Each one does what a
 * download-and-delete client does, one command at a time (no pipelining):
 *
 *   connect, greeting, USER, PASS, STAT, LIST, UIDL,
 *   RETR n and DELE n for every message LIST shows (no DELE with --keep), QUIT
 *
 * and checks: +OK to everything; STAT's count and octets are LIST's count and the
 * sum of its sizes; STAT's count is the number of digests FILE gives the account;
 * UIDL lists the same numbers as LIST, with distinct unique-ids; each RETR brings
 * LIST's octet count for that message and bytes whose SHA-256 is one of the
 * account's expected digests not yet seen. A message counts as retrieved when its
 * size and digest are right; as deleted when its DELE and the session's QUIT said
 * +OK (without +OK to QUIT nothing counts as deleted). Every failed check is an
 * error of the account. A -ERR to UIDL, RETR or DELE is one too and the session
 * goes on (a message RETR refused is not deleted); a -ERR to USER, PASS, STAT or
 * LIST, a malformed STAT or LIST, a line that is not a status line where one
 * is due, an I/O error or a timeout ends the session there, without QUIT.
 *
 * Output, on standard output, once every session has ended: a line per account,
 *   account=ADDR stat=N listed=N retrieved=N deleted=N octets=N errors=N
 *           start_s=S login_s=L session_s=T
 * (one line; stat=-1 when STAT had no valid answer; octets counts the messages
 * retrieved), where S is the session's connect time after
 * the earliest connect of all, L and T the times of its +OK to PASS and to QUIT
 * after its own connect ("-" when there was none); then one summary line,
 *   accounts=N expected=N retrieved=N deleted=N octets=N errors=N seconds=T
 *           rate=R/s last_login_s=X min_session_s=A max_session_s=B cpu_s=C
 * where expected counts FILE's digests, T runs from the first connect to the last
 * +OK to QUIT, R is retrieved messages per second over T, X is the last +OK to
 * PASS after the first connect, A and B the shortest and longest session (connect
 * to +OK to QUIT), and C the CPU seconds (user + system) this process used. The
 * first few errors of each account go to standard error, as
 * "pop3_load: ADDR: what". The clocks are monotonic.
 *
 * Exit status 0 when every account's messages were all retrieved and (without
 * --keep) deleted, with no error; 1 otherwise; 2 for a usage error or an
 * unreadable or malformed FILE.
 */
#include "core/core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "pop3_load"
#include "tool_args.h"

#define POP3_LOAD_MAX_LINE 4096            /* a status line (RFC 1939: 512) */
#define POP3_LOAD_MAX_RESPONSE (64u << 20) /* a multi-line answer, its status line included */
#define POP3_LOAD_MAX_MESSAGES 1000000     /* messages in one maildrop, and in LIST or UIDL */
#define POP3_LOAD_MAX_ACCOUNTS 1000        /* accounts, and so threads */
#define POP3_LOAD_MAX_EXPECTED 10000000    /* lines of the --expect file */
#define POP3_LOAD_MAX_EXPECT_LINE 1024     /* one line of it, its line end included */
#define POP3_LOAD_MAX_ADDRESS 255          /* an account's address */
#define POP3_LOAD_MAX_UID 70               /* a unique-id (RFC 1939 7) */
#define POP3_LOAD_READ (64 * 1024)         /* one read from the socket */
#define POP3_LOAD_EVENTS 64                /* events taken by one epoll_wait */
#define POP3_LOAD_KEEP_ERRORS 3            /* errors printed per account */
#define POP3_LOAD_STACK (1024 * 1024)      /* a thread's stack */
#define SHA256_LEN 32

struct load;

struct account {
	char *address;
	uint8_t (*want)[SHA256_LEN]; /* expected digests, sorted once FILE is read */
	bool *seen;                  /* want[i] matched a retrieved message */
	size_t nwant, capwant;
	struct load *load;

	/* Results, written by the account's thread only, read after it is joined. */
	int64_t stat; /* STAT's count; -1 before its answer */
	uint64_t listed, retrieved, deleted, octets, errors;
	int64_t t0_ns, login_ns, t1_ns; /* connect, +OK to PASS, +OK to QUIT; -1: none */
	char *error_text[POP3_LOAD_KEEP_ERRORS];
	size_t nerror_text;
};

struct load {
	struct sockaddr_in addr;
	char *password;
	unsigned timeout_s;
	bool keep;
	bool blocking; /* --blocking: a thread and a blocking socket per account */
	EVP_MD *sha256;
	struct account *accounts;
	size_t naccounts;

	/* The start gate: no thread connects before every thread is ready. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t ready;
	bool go;
};

/* A message LIST shows. */
struct listed {
	uint64_t n, size;
};

/* A message's unique-id from UIDL. */
struct uid {
	uint64_t n;
	struct str id; /* into session.in, valid until the next command */
};

/* What a session waits for: the connection, the greeting, or its command's answer. */
enum step {
	S_CONNECT,
	S_GREETING,
	S_USER,
	S_PASS,
	S_STAT,
	S_LIST,
	S_UIDL,
	S_RETR,
	S_DELE,
	S_QUIT,
	S_DONE
};

/* One account's session: its socket, what has been read from it, where it stands. */
struct session {
	struct load *L;
	struct account *a;
	EVP_MD_CTX *md; /* its thread's */
	int fd;
	enum step step;
	bool multi;          /* a +OK answer to the command goes on to a "." line */
	struct buf in;       /* the answer being read; nothing else is ever in it */
	size_t status_len;   /* the status line's length, CRLF included; 0 until it is in */
	size_t scan;         /* where the search for the answer's end goes on */
	int status;          /* a whole answer's: 1 for +OK, 0 for -ERR */
	struct buf out;      /* the command line being written */
	size_t out_off;      /* how much of it has been written */
	struct buf why;      /* the reason of the last I/O or protocol failure */
	uint64_t count;      /* STAT's count */
	uint64_t octets;     /* and octets */
	struct listed *list; /* LIST's messages, by number */
	size_t nlist;
	size_t next;      /* the message of the RETR or DELE under way */
	uint64_t deleted; /* +OK to DELE so far */

	/* In an epoll loop: */
	bool want_out;                 /* EPOLLOUT is asked for (a command is half-written) */
	bool waiting;                  /* in its worker's list */
	int64_t deadline_ns;           /* when what it waits for has taken too long */
	struct session *older, *newer; /* the worker's list, earliest deadline first */
};

/* A thread and its sessions. */
struct worker {
	struct load *L;
	struct session *s;
	size_t n;
	EVP_MD_CTX *md;
	int ep;                       /* the epoll instance; -1 with --blocking */
	size_t active;                /* sessions with an open socket */
	struct session *first, *last; /* those, by deadline */
	pthread_t thread;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- errors ------------------------------------------------------------------------ */

static void fail(struct account *a, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Counts an error of the account and keeps the text of its first few. */
static void fail(struct account *a, const char *fmt, ...)
{
	a->errors++;
	if (a->nerror_text >= POP3_LOAD_KEEP_ERRORS)
		return;
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	a->error_text[a->nerror_text++] = buf_steal(&b);
}

static void why(struct session *k, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void why(struct session *k, const char *fmt, ...)
{
	buf_reset(&k->why);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&k->why, fmt, ap);
	va_end(ap);
}

/* A peer's line for an error message: printable ASCII, at most 200 bytes. */
static void quote(struct buf *out, const char *p, size_t n)
{
	for (size_t i = 0; i < n && i < 200; i++) {
		unsigned char c = (unsigned char)p[i];
		buf_putc(out, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
	if (n > 200)
		buf_puts(out, "...");
}

/* ---- answers ----------------------------------------------------------------------- */

/* The next line of a multi-line body (without its line end) and what follows it. */
static bool next_line(char **p, char *end, struct str *line_r)
{
	if (*p >= end)
		return false;
	char *nl = memchr(*p, '\n', (size_t)(end - *p));
	char *stop = nl ? nl : end;
	line_r->p = *p;
	line_r->len = (size_t)(stop - *p);
	if (line_r->len && line_r->p[line_r->len - 1] == '\r')
		line_r->len--;
	*p = nl ? nl + 1 : end;
	return true;
}

/* "A B [...]": the first two space-separated words. */
static bool two_words(struct str line, struct str *a_r, struct str *b_r)
{
	const char *sp = memchr(line.p, ' ', line.len);
	if (!sp)
		return false;
	*a_r = (struct str){line.p, (size_t)(sp - line.p)};
	const char *rest = sp + 1, *end = line.p + line.len;
	const char *sp2 = memchr(rest, ' ', (size_t)(end - rest));
	*b_r = (struct str){rest, (size_t)((sp2 ? sp2 : end) - rest)};
	return a_r->len > 0 && b_r->len > 0;
}

static int cmp_listed(const void *x, const void *y)
{
	const struct listed *a = x, *b = y;
	return a->n < b->n ? -1 : a->n > b->n;
}

static int cmp_uid_id(const void *x, const void *y)
{
	const struct uid *a = x, *b = y;
	size_t n = a->id.len < b->id.len ? a->id.len : b->id.len;
	int c = memcmp(a->id.p, b->id.p, n);
	return c ? c : a->id.len < b->id.len ? -1 : a->id.len > b->id.len;
}

static int cmp_uid_n(const void *x, const void *y)
{
	const struct uid *a = x, *b = y;
	return a->n < b->n ? -1 : a->n > b->n;
}

/* LIST's scan listings, sorted by number; -1 (an error counted) when malformed. */
static int parse_list(struct session *k, char *p, size_t len, struct listed **list_r, size_t *n_r)
{
	struct listed *list = NULL;
	size_t n = 0, cap = 0;
	char *end = p + len;
	struct str line, a, b;
	while (next_line(&p, end, &line)) {
		struct listed x;
		if (!two_words(line, &a, &b) || !str_to_u64(a, &x.n) || !str_to_u64(b, &x.size) ||
		    x.n == 0 || x.n > POP3_LOAD_MAX_MESSAGES || n >= POP3_LOAD_MAX_MESSAGES) {
			struct buf q = BUF_INIT;
			quote(&q, line.p, line.len);
			fail(k->a, "LIST: bad scan listing: %s", buf_cstr(&q));
			buf_free(&q);
			free(list);
			return -1;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			list = xrealloc(list, cap * sizeof *list);
		}
		list[n++] = x;
	}
	if (n)
		qsort(list, n, sizeof *list, cmp_listed);
	for (size_t i = 1; i < n; i++) {
		if (list[i].n == list[i - 1].n) {
			fail(k->a, "LIST: message %llu listed twice",
			     (unsigned long long)list[i].n);
			free(list);
			return -1;
		}
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

/* UIDL must list LIST's numbers, each with its own unique-id. */
static void check_uidl(struct session *k, char *p, size_t len, const struct listed *list,
                       size_t nlist)
{
	struct uid *u = NULL;
	size_t n = 0, cap = 0;
	char *end = p + len;
	struct str line, a, b;
	while (next_line(&p, end, &line)) {
		struct uid x;
		bool ok = two_words(line, &a, &b) && str_to_u64(a, &x.n) &&
		          b.len <= POP3_LOAD_MAX_UID && n < POP3_LOAD_MAX_MESSAGES;
		for (size_t i = 0; ok && i < b.len; i++)
			ok = b.p[i] >= 0x21 && b.p[i] <= 0x7e;
		if (!ok) {
			struct buf q = BUF_INIT;
			quote(&q, line.p, line.len);
			fail(k->a, "UIDL: bad unique-id listing: %s", buf_cstr(&q));
			buf_free(&q);
			free(u);
			return;
		}
		x.id = b;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			u = xrealloc(u, cap * sizeof *u);
		}
		u[n++] = x;
	}
	size_t distinct = n;
	if (n) {
		qsort(u, n, sizeof *u, cmp_uid_id);
		for (size_t i = 1; i < n; i++)
			distinct -= cmp_uid_id(&u[i - 1], &u[i]) == 0;
		qsort(u, n, sizeof *u, cmp_uid_n);
	}
	bool same = n == nlist;
	for (size_t i = 0; same && i < n; i++)
		same = u[i].n == list[i].n;
	if (!same || distinct != n)
		fail(k->a, "UIDL: %zu numbers, %zu distinct unique-ids for %zu messages%s", n,
		     distinct, nlist, same ? "" : " (not LIST's numbers)");
	free(u);
}

/* Undoes the dot-stuffing of a multi-line body in place; returns its new length. */
static size_t unstuff(char *p, size_t len)
{
	size_t r = 0, w = 0;
	while (r < len) {
		if (p[r] == '.')
			r++;
		char *nl = memchr(p + r, '\n', len - r);
		size_t end = nl ? (size_t)(nl - p) + 1 : len;
		if (w != r)
			memmove(p + w, p + r, end - r);
		w += end - r;
		r = end;
	}
	return w;
}

static int cmp_digest(const void *x, const void *y)
{
	return memcmp(x, y, SHA256_LEN);
}

/* Marks an expected digest not seen before as seen; false if there is none. */
static bool take_digest(struct account *a, const uint8_t d[SHA256_LEN])
{
	size_t lo = 0, hi = a->nwant;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(a->want[mid], d, SHA256_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < a->nwant && memcmp(a->want[lo], d, SHA256_LEN) == 0; lo++) {
		if (!a->seen[lo]) {
			a->seen[lo] = true;
			return true;
		}
	}
	return false;
}

static void gate_wait(struct load *L)
{
	pthread_mutex_lock(&L->lock);
	L->ready++;
	pthread_cond_broadcast(&L->cond);
	while (!L->go)
		pthread_cond_wait(&L->cond, &L->lock);
	pthread_mutex_unlock(&L->lock);
}

/* A retrieved message, the body of a +OK to RETR (dot-stuffed, without the "." line). */
static void check_message(struct session *k, const char *label, char *body, size_t len)
{
	struct account *a = k->a;
	const struct listed *m = &k->list[k->next];
	len = unstuff(body, len);
	uint8_t d[SHA256_LEN];
	unsigned dlen = 0;
	if (EVP_DigestInit_ex2(k->md, k->L->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(k->md, body, len) != 1 || EVP_DigestFinal_ex(k->md, d, &dlen) != 1 ||
	    dlen != SHA256_LEN)
		panic("pop3_load: SHA-256 failed");
	if (len != m->size)
		fail(a, "%s: %zu octets, LIST said %llu", label, len, (unsigned long long)m->size);
	else if (!take_digest(a, d))
		fail(a, "%s: not one of the expected messages (or one already retrieved)", label);
	else {
		a->retrieved++;
		a->octets += len;
	}
}

/* ---- the session ------------------------------------------------------------------- */

/*
 * Whether k->in holds the whole answer: 1 (k->status says +OK or -ERR), 0 not yet,
 * -1 when it is no answer (k->why says why). Each search goes on where the last one
 * stopped: nothing is scanned twice (but the last 4 octets of a multi-line answer).
 */
static int answer_check(struct session *k)
{
	if (k->status_len == 0) {
		char *nl = k->in.len > k->scan
		                   ? memchr(k->in.data + k->scan, '\n', k->in.len - k->scan)
		                   : NULL;
		if (!nl) {
			k->scan = k->in.len;
			if (k->in.len < POP3_LOAD_MAX_LINE)
				return 0;
			why(k, "status line longer than %d octets", POP3_LOAD_MAX_LINE);
			return -1;
		}
		size_t n = (size_t)(nl - k->in.data) + 1;
		const char *l = k->in.data;
		if (n > POP3_LOAD_MAX_LINE || n < 2 || l[n - 2] != '\r') {
			why(k, "status line too long or without CRLF");
			return -1;
		}
		k->status_len = n;
		k->status = n >= 5 && memcmp(l, "+OK", 3) == 0 && (l[3] == ' ' || l[3] == '\r') ? 1
		            : n >= 6 && memcmp(l, "-ERR", 4) == 0 && (l[4] == ' ' || l[4] == '\r')
		                    ? 0
		                    : -1;
		if (k->status < 0) {
			buf_reset(&k->why);
			buf_puts(&k->why, "not a status line: ");
			quote(&k->why, l, n - 2);
			return -1;
		}
		if (!k->multi || k->status == 0) {
			if (k->in.len == n)
				return 1;
			why(k, "%zu octets after the answer (no command was pipelined)",
			    k->in.len - n);
			return -1;
		}
		/* The terminator is CRLF "." CRLF, the first CRLF being the status line's
		   when there is no line. */
		k->scan = n - 2;
	}
	size_t from = k->status_len - 2;
	char *end = memmem(k->in.data + k->scan, k->in.len - k->scan, "\r\n.\r\n", 5);
	if (!end) {
		k->scan = k->in.len >= from + 4 ? k->in.len - 4 : from;
		if (k->in.len < POP3_LOAD_MAX_RESPONSE)
			return 0;
		why(k, "answer longer than %u octets", POP3_LOAD_MAX_RESPONSE);
		return -1;
	}
	size_t e = (size_t)(end - k->in.data);
	if (k->in.len != e + 5) {
		why(k, "%zu octets after the answer (no command was pipelined)", k->in.len - e - 5);
		return -1;
	}
	return 1;
}

/* A whole multi-line answer's lines, still dot-stuffed, each with its CRLF, without
   the "." line (length 0 for no line). */
static char *answer_body(struct session *k, size_t *len_r)
{
	*len_r = k->in.len - 3 - k->status_len;
	return k->in.data + k->status_len;
}

/* The status line just read, quoted for an error message (into k->why). */
static const char *status_text(struct session *k)
{
	buf_reset(&k->why);
	quote(&k->why, k->in.data, k->status_len - 2);
	return buf_cstr(&k->why);
}

/* Waits for the answer of step: a multi-line one after +OK with multi. */
static void sess_expect(struct session *k, enum step step, bool multi)
{
	k->step = step;
	k->multi = multi;
	buf_reset(&k->in);
	k->status_len = 0;
	k->scan = 0;
}

static void sess_cmd(struct session *k, enum step step, bool multi, const char *fmt, ...)
        PRINTF_LIKE(4, 5);

/* Makes the command line fmt the next thing to write, and waits for its answer. */
static void sess_cmd(struct session *k, enum step step, bool multi, const char *fmt, ...)
{
	buf_reset(&k->out);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&k->out, fmt, ap);
	va_end(ap);
	buf_puts(&k->out, "\r\n");
	k->out_off = 0;
	sess_expect(k, step, multi);
}

/* What the session waits for, named for an error message (never the password). */
static const char *step_label(const struct session *k, char *out, size_t size)
{
	static const char *const names[] = {
	        [S_CONNECT] = "connect", [S_GREETING] = "greeting", [S_USER] = "USER",
	        [S_PASS] = "PASS",       [S_STAT] = "STAT",         [S_LIST] = "LIST",
	        [S_UIDL] = "UIDL",       [S_RETR] = "RETR",         [S_DELE] = "DELE",
	        [S_QUIT] = "QUIT",       [S_DONE] = "done"};
	if (k->step == S_RETR || k->step == S_DELE)
		snprintf(out, size, "%s %llu", names[k->step],
		         (unsigned long long)k->list[k->next].n);
	else
		snprintf(out, size, "%s", names[k->step]);
	return out;
}

/* RETR for the message k->next, or QUIT after the last one. */
static void sess_message(struct session *k)
{
	if (k->next < k->nlist)
		sess_cmd(k, S_RETR, true, "RETR %llu", (unsigned long long)k->list[k->next].n);
	else
		sess_cmd(k, S_QUIT, false, "QUIT");
}

/*
 * Takes the outcome of what the session waited for, r: 1 for +OK (for S_CONNECT:
 * connected), 0 for -ERR, -1 when it failed (k->why says how); checks the answer
 * and makes the next command, or ends the session (S_DONE). Every failure is
 * counted as an error of the account.
 */
static void sess_next(struct session *k, int r)
{
	struct account *a = k->a;
	char label[48];
	step_label(k, label, sizeof label);
	if (r < 0 && k->step == S_CONNECT)
		fail(a, "%s", buf_cstr(&k->why));
	else if (r < 0)
		fail(a, "%s: %s", label, buf_cstr(&k->why));
	else if (r == 0)
		fail(a, "%s: %s", label, status_text(k));
	if (r < 0 || (r == 0 && k->step != S_UIDL && k->step != S_RETR && k->step != S_DELE)) {
		k->step = S_DONE;
		return;
	}

	char *body;
	size_t len;
	switch (k->step) {
	case S_CONNECT:
		sess_expect(k, S_GREETING, false);
		break;
	case S_GREETING:
		sess_cmd(k, S_USER, false, "USER %s", a->address);
		break;
	case S_USER:
		sess_cmd(k, S_PASS, false, "PASS %s", k->L->password);
		break;
	case S_PASS:
		a->login_ns = mono_ns();
		sess_cmd(k, S_STAT, false, "STAT");
		break;
	case S_STAT: {
		struct str w1, w2;
		if (k->status_len < 6 ||
		    !two_words((struct str){k->in.data + 4, k->status_len - 6}, &w1, &w2) ||
		    !str_to_u64(w1, &k->count) || !str_to_u64(w2, &k->octets) ||
		    k->count > POP3_LOAD_MAX_MESSAGES) {
			fail(a, "STAT: not a drop listing: %s", status_text(k));
			k->step = S_DONE;
			break;
		}
		a->stat = (int64_t)k->count;
		sess_cmd(k, S_LIST, true, "LIST");
		break;
	}
	case S_LIST: {
		body = answer_body(k, &len);
		if (parse_list(k, body, len, &k->list, &k->nlist) < 0) {
			k->step = S_DONE;
			break;
		}
		a->listed = k->nlist;
		uint64_t sum = 0;
		for (size_t i = 0; i < k->nlist; i++)
			sum += k->list[i].size;
		if (k->count != k->nlist || k->octets != sum)
			fail(a, "STAT %llu %llu, LIST %zu messages %llu octets",
			     (unsigned long long)k->count, (unsigned long long)k->octets, k->nlist,
			     (unsigned long long)sum);
		if (k->count != a->nwant)
			fail(a, "STAT %llu messages, expected %zu", (unsigned long long)k->count,
			     a->nwant);
		sess_cmd(k, S_UIDL, true, "UIDL");
		break;
	}
	case S_UIDL:
		if (r == 1) {
			body = answer_body(k, &len);
			check_uidl(k, body, len, k->list, k->nlist);
		}
		k->next = 0;
		sess_message(k);
		break;
	case S_RETR:
		if (r == 1) {
			body = answer_body(k, &len);
			check_message(k, label, body, len);
		}
		if (r == 1 && !k->L->keep) {
			sess_cmd(k, S_DELE, false, "DELE %llu",
			         (unsigned long long)k->list[k->next].n);
			break;
		}
		k->next++;
		sess_message(k);
		break;
	case S_DELE:
		k->deleted += r == 1;
		k->next++;
		sess_message(k);
		break;
	case S_QUIT:
		a->t1_ns = mono_ns();
		a->deleted = k->deleted;
		k->step = S_DONE;
		break;
	case S_DONE:
		break;
	}
}

/* ---- reads and writes -------------------------------------------------------------- */

/* Writes what is left of the command: 1 all of it, 0 not all yet (a non-blocking
   socket that is full), -1 on failure (k->why). */
static int sess_flush(struct session *k)
{
	while (k->out_off < k->out.len) {
		ssize_t w = send(k->fd, k->out.data + k->out_off, k->out.len - k->out_off,
		                 MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		bool again = w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
		if (again && !k->L->blocking)
			return 0;
		if (w < 0) {
			why(k, "write: %s", again ? "timeout" : strerror(errno));
			return -1;
		}
		k->out_off += (size_t)w;
	}
	return 1;
}

/* Reads what the server has sent, up to POP3_LOAD_READ octets, onto k->in: how many,
   0 when nothing has come yet (a non-blocking socket), -1 on failure (k->why). */
static ssize_t sess_fill(struct session *k)
{
	buf_reserve(&k->in, POP3_LOAD_READ);
	for (;;) {
		ssize_t r = recv(k->fd, k->in.data + k->in.len, POP3_LOAD_READ, 0);
		if (r < 0 && errno == EINTR)
			continue;
		bool again = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
		if (again && !k->L->blocking)
			return 0;
		if (r < 0) {
			why(k, "read: %s", again ? "timeout" : strerror(errno));
			return -1;
		}
		if (r == 0) {
			why(k, "connection closed by the server");
			return -1;
		}
		k->in.len += (size_t)r;
		k->in.data[k->in.len] = '\0';
		return r;
	}
}

/* ---- --blocking: a thread per session ---------------------------------------------- */

static int blocking_connect(struct session *k)
{
	k->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k->fd < 0) {
		why(k, "socket: %s", strerror(errno));
		return -1;
	}
	struct timeval tv = {.tv_sec = k->L->timeout_s};
	int one = 1;
	setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(k->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(k->fd, (const struct sockaddr *)&k->L->addr, sizeof k->L->addr) == 0)
		return 0;
	if (errno == EINTR || errno == EINPROGRESS) {
		/* Interrupted: the connection goes on being made; wait for its outcome. */
		struct pollfd p = {.fd = k->fd, .events = POLLOUT};
		int r, e = 0;
		socklen_t elen = sizeof e;
		do
			r = poll(&p, 1, (int)k->L->timeout_s * 1000);
		while (r < 0 && errno == EINTR);
		if (r == 1 && getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &e, &elen) == 0 && e == 0)
			return 0;
		errno = r == 0 ? ETIMEDOUT : e ? e : errno;
	}
	why(k, "connect: %s", strerror(errno));
	return -1;
}

static void *blocking_thread(void *arg)
{
	struct worker *w = arg;
	struct session *k = &w->s[0];
	gate_wait(w->L);
	k->a->t0_ns = mono_ns();
	sess_next(k, blocking_connect(k) < 0 ? -1 : 1);
	while (k->step != S_DONE) {
		int r = sess_flush(k);
		if (r == 1)
			do
				r = sess_fill(k) < 0 ? -1 : answer_check(k);
			while (r == 0);
		sess_next(k, r < 0 ? -1 : k->status);
	}
	return NULL;
}

/* ---- the event loop: a thread for many sessions ------------------------------------ */

static void wait_remove(struct worker *w, struct session *k)
{
	if (!k->waiting)
		return;
	*(k->older ? &k->older->newer : &w->first) = k->newer;
	*(k->newer ? &k->newer->older : &w->last) = k->older;
	k->older = k->newer = NULL;
	k->waiting = false;
}

/* The session has made progress at now: what it waits for next may take --timeout. As
   every session gets the same time, the list stays sorted by deadline. */
static void wait_renew(struct worker *w, struct session *k, int64_t now)
{
	k->deadline_ns = now + (int64_t)w->L->timeout_s * 1000000000;
	if (k->waiting && w->last == k)
		return;
	wait_remove(w, k);
	k->older = w->last;
	*(w->last ? &w->last->newer : &w->first) = k;
	w->last = k;
	k->waiting = true;
}

/* Ends the session once sess_next has ended it. */
static void ev_close(struct worker *w, struct session *k)
{
	wait_remove(w, k);
	close(k->fd);
	k->fd = -1;
	w->active--;
}

/* Fails what the session waits for (k->why says why) and ends it. */
static void ev_fail(struct worker *w, struct session *k)
{
	sess_next(k, -1);
	ev_close(w, k);
}

/* Asks for EPOLLOUT, with EPOLLIN (or EPOLLOUT alone while connecting), or not. */
static int ev_watch(struct worker *w, struct session *k, int op, bool out)
{
	struct epoll_event ev = {.events = k->step == S_CONNECT ? EPOLLOUT
	                                                        : EPOLLIN | (out ? EPOLLOUT : 0),
	                         .data.ptr = k};
	if (epoll_ctl(w->ep, op, k->fd, &ev) < 0) {
		why(k, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	k->want_out = out;
	return 0;
}

/* Writes what it can of the command; the rest when EPOLLOUT says so. -1: the session
   has ended. */
static int ev_flush(struct worker *w, struct session *k, int64_t now)
{
	size_t before = k->out_off;
	int r = sess_flush(k);
	if (k->out_off > before)
		wait_renew(w, k, now);
	if (r >= 0 && k->want_out != (r == 0))
		r = ev_watch(w, k, EPOLL_CTL_MOD, r == 0) < 0 ? -1 : r;
	if (r < 0)
		ev_fail(w, k);
	return r < 0 ? -1 : 0;
}

/* Takes what the session waited for (r as for sess_next) and sends the next command. */
static void ev_next(struct worker *w, struct session *k, int r, int64_t now)
{
	sess_next(k, r);
	if (k->step == S_DONE)
		ev_close(w, k);
	else
		ev_flush(w, k, now);
}

/* Starts the session: its socket, and a connect that goes on in the background. */
static void ev_start(struct worker *w, struct session *k)
{
	int64_t now = mono_ns();
	k->a->t0_ns = now;
	k->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (k->fd < 0) {
		why(k, "socket: %s", strerror(errno));
		sess_next(k, -1);
		return;
	}
	w->active++;
	wait_renew(w, k, now);
	int one = 1;
	setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	int r = connect(k->fd, (const struct sockaddr *)&k->L->addr, sizeof k->L->addr);
	/* EINTR: the connection goes on being made, like EINPROGRESS. */
	if (r < 0 && errno != EINPROGRESS && errno != EINTR) {
		why(k, "connect: %s", strerror(errno));
		ev_fail(w, k);
	} else if (r == 0) {
		sess_next(k, 1);
		if (ev_watch(w, k, EPOLL_CTL_ADD, false) < 0)
			ev_fail(w, k);
	} else if (ev_watch(w, k, EPOLL_CTL_ADD, false) < 0) {
		ev_fail(w, k);
	}
}

/* What epoll_wait said of the session's socket. */
static void ev_event(struct worker *w, struct session *k, uint32_t events, int64_t now)
{
	if (k->step == S_CONNECT) {
		int e = 0;
		socklen_t elen = sizeof e;
		if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
			e = errno;
		if (e) {
			why(k, "connect: %s", strerror(e));
			ev_fail(w, k);
			return;
		}
		wait_renew(w, k, now);
		sess_next(k, 1);
		if (ev_watch(w, k, EPOLL_CTL_MOD, false) < 0)
			ev_fail(w, k);
		return;
	}
	if ((events & EPOLLOUT) && ev_flush(w, k, now) < 0)
		return;
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	for (;;) {
		ssize_t n = sess_fill(k);
		if (n == 0)
			return;
		if (n < 0) {
			ev_fail(w, k);
			return;
		}
		wait_renew(w, k, now);
		int r = answer_check(k);
		if (r != 0) {
			ev_next(w, k, r < 0 ? -1 : k->status, now);
			return;
		}
		/* A full read: more is likely there already. */
		if (n < POP3_LOAD_READ)
			return;
	}
}

/* The session waited --timeout seconds for what it waits for. */
static void ev_timeout(struct worker *w, struct session *k)
{
	if (k->step == S_CONNECT)
		why(k, "connect: %s", strerror(ETIMEDOUT));
	else
		why(k, "%s: timeout", k->out_off < k->out.len ? "write" : "read");
	ev_fail(w, k);
}

static void *event_thread(void *arg)
{
	struct worker *w = arg;
	struct epoll_event events[POP3_LOAD_EVENTS];
	gate_wait(w->L);
	for (size_t i = 0; i < w->n; i++)
		ev_start(w, &w->s[i]);
	int64_t now = mono_ns();
	while (w->active > 0) {
		int64_t left = w->first->deadline_ns - now;
		int timeout = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
		int n = epoll_wait(w->ep, events, POP3_LOAD_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			int e = errno;
			while (w->first) {
				why(w->first, "epoll_wait: %s", strerror(e));
				ev_fail(w, w->first);
			}
			break;
		}
		now = mono_ns();
		for (int i = 0; i < n; i++)
			ev_event(w, events[i].data.ptr, events[i].events, now);
		while (w->first && w->first->deadline_ns <= now)
			ev_timeout(w, w->first);
	}
	return NULL;
}

/* ---- the expect file and the command line ------------------------------------------ */

static int hex_nibble(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

static struct account *account_for(struct load *L, const char *addr, size_t len)
{
	/* The lines of one account usually come together: try the last one first. */
	if (L->naccounts) {
		struct account *a = &L->accounts[L->naccounts - 1];
		if (strlen(a->address) == len && memcmp(a->address, addr, len) == 0)
			return a;
	}
	for (size_t i = 0; i < L->naccounts; i++)
		if (strlen(L->accounts[i].address) == len &&
		    memcmp(L->accounts[i].address, addr, len) == 0)
			return &L->accounts[i];
	if (L->naccounts >= POP3_LOAD_MAX_ACCOUNTS)
		return NULL;
	struct account *a = &L->accounts[L->naccounts++];
	*a = (struct account){.address = xstrndup(addr, len),
	                      .load = L,
	                      .stat = -1,
	                      .t0_ns = -1,
	                      .login_ns = -1,
	                      .t1_ns = -1};
	return a;
}

/* Reads FILE into L->accounts; -1 (said on stderr) when it cannot be used. */
static int expect_load(struct load *L, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "pop3_load: %s: %s\n", path, strerror(errno));
		return -1;
	}
	L->accounts = xcalloc(POP3_LOAD_MAX_ACCOUNTS, sizeof *L->accounts);
	char line[POP3_LOAD_MAX_EXPECT_LINE + 1];
	size_t lineno = 0, total = 0;
	const char *bad = NULL;
	while (!bad && fgets(line, sizeof line, f)) {
		lineno++;
		size_t n = strlen(line);
		if (n == sizeof line - 1 && line[n - 1] != '\n') {
			bad = "line too long";
			break;
		}
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue;
		size_t alen = 0;
		while (alen < n && line[alen] != ' ' && line[alen] != '\t')
			alen++;
		size_t h = alen;
		while (h < n && (line[h] == ' ' || line[h] == '\t'))
			h++;
		uint8_t d[SHA256_LEN];
		bool ok = alen > 0 && alen <= POP3_LOAD_MAX_ADDRESS && n - h == 2 * SHA256_LEN;
		for (size_t i = 0; ok && i < alen; i++)
			ok = (unsigned char)line[i] > 0x20 && (unsigned char)line[i] < 0x7f;
		for (size_t i = 0; ok && i < SHA256_LEN; i++) {
			int hi = hex_nibble(line[h + 2 * i]), lo = hex_nibble(line[h + 2 * i + 1]);
			ok = hi >= 0 && lo >= 0;
			d[i] = (uint8_t)(hi << 4 | lo);
		}
		if (!ok) {
			bad = "not \"ADDRESS HEXSHA256\"";
			break;
		}
		if (++total > POP3_LOAD_MAX_EXPECTED) {
			bad = "too many lines";
			break;
		}
		struct account *a = account_for(L, line, alen);
		if (!a) {
			bad = "too many accounts";
			break;
		}
		if (a->nwant >= POP3_LOAD_MAX_MESSAGES) {
			bad = "too many messages for one account";
			break;
		}
		if (a->nwant == a->capwant) {
			a->capwant = a->capwant ? a->capwant * 2 : 64;
			a->want = xrealloc(a->want, a->capwant * sizeof *a->want);
		}
		memcpy(a->want[a->nwant++], d, SHA256_LEN);
	}
	if (!bad && ferror(f))
		bad = strerror(errno);
	fclose(f);
	if (bad) {
		fprintf(stderr, "pop3_load: %s:%zu: %s\n", path, lineno, bad);
		return -1;
	}
	if (L->naccounts == 0) {
		fprintf(stderr, "pop3_load: %s: no accounts\n", path);
		return -1;
	}
	for (size_t i = 0; i < L->naccounts; i++) {
		struct account *a = &L->accounts[i];
		qsort(a->want, a->nwant, sizeof *a->want, cmp_digest);
		a->seen = xcalloc(a->nwant, sizeof *a->seen);
	}
	return 0;
}

static void load_free(struct load *L)
{
	for (size_t i = 0; L->accounts && i < L->naccounts; i++) {
		struct account *a = &L->accounts[i];
		for (size_t j = 0; j < a->nerror_text; j++)
			free(a->error_text[j]);
		free(a->address);
		free(a->want);
		free(a->seen);
	}
	xfree(&L->accounts);
	xfree(&L->password);
	if (L->sha256)
		EVP_MD_free(L->sha256);
	L->sha256 = NULL;
}

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: pop3_load --port P --expect FILE [--host IPV4] [--timeout S] "
	                "[--threads N | --blocking] [--keep]\n"
	                "       (the password is the first line of standard input)\n");
	exit(2);
}

/* ---- main -------------------------------------------------------------------------- */

/* "%.3f" of ns nanoseconds, or "-" for none. */
static const char *secs(char *out, size_t size, int64_t ns)
{
	if (ns < 0)
		snprintf(out, size, "-");
	else
		snprintf(out, size, "%.3f", (double)ns / 1e9);
	return out;
}

int main(int argc, char **argv)
{
	struct load L = {.timeout_s = 60};
	const char *host = "127.0.0.1", *expect = NULL;
	unsigned port = 0;
	size_t nthreads = 0;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--keep") == 0) {
			L.keep = true;
			continue;
		}
		if (strcmp(o, "--blocking") == 0) {
			L.blocking = true;
			continue;
		}
		i++;
		if (strcmp(o, "--host") == 0 && v)
			host = v;
		else if (strcmp(o, "--port") == 0)
			port = (unsigned)tool_number(o, v, 1, 65535);
		else if (strcmp(o, "--expect") == 0 && v)
			expect = v;
		else if (strcmp(o, "--timeout") == 0)
			L.timeout_s = (unsigned)tool_number(o, v, 1, 3600);
		else if (strcmp(o, "--threads") == 0)
			nthreads = tool_number(o, v, 1, POP3_LOAD_MAX_ACCOUNTS);
		else
			usage();
	}
	if (!port || !expect || (L.blocking && nthreads))
		usage();
	if (inet_pton(AF_INET, host, &L.addr.sin_addr) != 1) {
		fprintf(stderr, "pop3_load: --host needs an IPv4 address\n");
		return 2;
	}
	L.addr.sin_family = AF_INET;
	L.addr.sin_port = htons((uint16_t)port);
	if (!(L.password = tool_read_password())) {
		fprintf(stderr,
		        "pop3_load: the password must be the first line of standard "
		        "input (1 to %d octets, no NUL or CR)\n",
		        TOOL_MAX_PASSWORD);
		return 2;
	}
	if (expect_load(&L, expect) < 0) {
		load_free(&L);
		return 2;
	}
	if (!(L.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL))) {
		fprintf(stderr, "pop3_load: no SHA-256 in libcrypto\n");
		load_free(&L);
		return 1;
	}
	pthread_mutex_init(&L.lock, NULL);
	pthread_cond_init(&L.cond, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The accounts dealt in turn to the threads: with --blocking, one each. */
	if (L.blocking || nthreads > L.naccounts)
		nthreads = L.naccounts;
	else if (nthreads == 0)
		nthreads = 1;
	struct worker *workers = xcalloc(nthreads, sizeof *workers);
	for (size_t t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];
		*w = (struct worker){
		        .L = &L, .n = (L.naccounts - t + nthreads - 1) / nthreads, .ep = -1};
		w->s = xcalloc(w->n, sizeof *w->s);
		if (!(w->md = EVP_MD_CTX_new()))
			panic("pop3_load: out of memory");
		for (size_t j = 0; j < w->n; j++)
			w->s[j] = (struct session){.L = &L,
			                           .a = &L.accounts[t + j * nthreads],
			                           .md = w->md,
			                           .fd = -1,
			                           .step = S_CONNECT};
	}
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, POP3_LOAD_STACK);
	size_t started = 0;
	for (; started < nthreads; started++) {
		struct worker *w = &workers[started];
		if (!L.blocking && (w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
			fprintf(stderr, "pop3_load: epoll_create1: %s\n", strerror(errno));
			break;
		}
		int e = pthread_create(&w->thread, &attr,
		                       L.blocking ? blocking_thread : event_thread, w);
		if (e != 0) {
			fprintf(stderr, "pop3_load: pthread_create: %s\n", strerror(e));
			break;
		}
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&L.lock);
	while (L.ready < started)
		pthread_cond_wait(&L.cond, &L.lock);
	L.go = true;
	pthread_cond_broadcast(&L.cond);
	pthread_mutex_unlock(&L.lock);
	for (size_t i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	             (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	for (size_t t = started; t < nthreads; t++)
		for (size_t j = 0; j < workers[t].n; j++)
			fail(workers[t].s[j].a, "no thread for the session");

	int64_t first = -1, last = -1, last_login = -1, min_session = -1, max_session = -1;
	for (size_t i = 0; i < L.naccounts; i++) {
		const struct account *a = &L.accounts[i];
		if (a->t0_ns >= 0 && (first < 0 || a->t0_ns < first))
			first = a->t0_ns;
	}
	uint64_t expected = 0, retrieved = 0, deleted = 0, octets = 0, errors = 0;
	bool ok = true;
	for (size_t i = 0; i < L.naccounts; i++) {
		const struct account *a = &L.accounts[i];
		char s0[32], s1[32], s2[32];
		int64_t login_ns = a->login_ns >= 0 ? a->login_ns - a->t0_ns : -1;
		int64_t session_ns = a->t1_ns >= 0 ? a->t1_ns - a->t0_ns : -1;
		printf("account=%s stat=%lld listed=%llu retrieved=%llu deleted=%llu octets=%llu "
		       "errors=%llu start_s=%s login_s=%s session_s=%s\n",
		       a->address, (long long)a->stat, (unsigned long long)a->listed,
		       (unsigned long long)a->retrieved, (unsigned long long)a->deleted,
		       (unsigned long long)a->octets, (unsigned long long)a->errors,
		       secs(s0, sizeof s0, a->t0_ns >= 0 ? a->t0_ns - first : -1),
		       secs(s1, sizeof s1, login_ns), secs(s2, sizeof s2, session_ns));
		expected += a->nwant;
		retrieved += a->retrieved;
		deleted += a->deleted;
		octets += a->octets;
		errors += a->errors;
		if (a->t1_ns > last)
			last = a->t1_ns;
		if (a->login_ns > last_login)
			last_login = a->login_ns;
		if (session_ns >= 0 && (min_session < 0 || session_ns < min_session))
			min_session = session_ns;
		if (session_ns > max_session)
			max_session = session_ns;
		ok = ok && a->errors == 0 && a->t1_ns >= 0 && a->retrieved == a->nwant &&
		     a->deleted == (L.keep ? 0 : a->nwant);
	}
	double seconds = last >= 0 ? (double)(last - first) / 1e9 : 0.0;
	printf("accounts=%zu expected=%llu retrieved=%llu deleted=%llu octets=%llu errors=%llu "
	       "seconds=%.3f rate=%.1f/s last_login_s=%.3f min_session_s=%.3f "
	       "max_session_s=%.3f cpu_s=%.3f\n",
	       L.naccounts, (unsigned long long)expected, (unsigned long long)retrieved,
	       (unsigned long long)deleted, (unsigned long long)octets, (unsigned long long)errors,
	       seconds, seconds > 0 ? (double)retrieved / seconds : 0.0,
	       last_login >= 0 ? (double)(last_login - first) / 1e9 : 0.0,
	       min_session >= 0 ? (double)min_session / 1e9 : 0.0,
	       max_session >= 0 ? (double)max_session / 1e9 : 0.0, cpu);
	fflush(stdout);

	for (size_t i = 0; i < L.naccounts; i++) {
		const struct account *a = &L.accounts[i];
		for (size_t j = 0; j < a->nerror_text; j++)
			fprintf(stderr, "pop3_load: %s: %s\n", a->address, a->error_text[j]);
		if (a->errors > a->nerror_text)
			fprintf(stderr, "pop3_load: %s: and %llu more errors\n", a->address,
			        (unsigned long long)(a->errors - a->nerror_text));
	}
	for (size_t t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];
		for (size_t j = 0; j < w->n; j++) {
			struct session *k = &w->s[j];
			if (k->fd >= 0)
				close(k->fd);
			buf_free(&k->in);
			buf_free(&k->out);
			buf_free(&k->why);
			free(k->list);
		}
		if (w->ep >= 0)
			close(w->ep);
		EVP_MD_CTX_free(w->md);
		free(w->s);
	}
	free(workers);
	load_free(&L);
	pthread_cond_destroy(&L.cond);
	pthread_mutex_destroy(&L.lock);
	return ok ? 0 : 1;
}
