/*
 * pop3_internal — the pure parts of POP3 (pop3_parse.c) and the session's
 * internals (pop3_session.c, pop3_cmd.c, pop3_cmd_auth.c).
 *
 * The pure parts are functions of bytes (no I/O, no store, no globals): they
 * link into their fuzzer with core alone.
 *
 * Line reader. pop3_line_feed() is fed the client's bytes in pieces of any
 * size and hands back one line at a time, without its terminator (CRLF, or a
 * bare LF, which is tolerated). A line longer than the reader's limit (the
 * terminator counted) is not kept: the reader skips to its end and reports
 * POP3_LINE_TOO_LONG once, so the session answers in step with the client.
 *
 * Command parser. pop3_parse_command() takes one line without its terminator
 * and gives the verb (case-insensitive) and its arguments, checked against
 * the verb's grammar: argument counts, RFC 2449's limit of 40 octets per
 * argument, message numbers (1 to 2^32-1) and TOP's line count (0 to 2^64-1)
 * as strict decimals. Exceptions to the 40-octet limit, because real
 * credentials are longer: USER's name, PASS's password (the rest of the line,
 * spaces included, as RFC 1939 allows) and AUTH's initial response, each
 * bounded by the line limit. It does not know the session's state; that is
 * the check step's business.
 *
 * Multi-line output. pop3_write_multiline() writes a message as the body of
 * a multi-line response: dot-stuffed, ended with CRLF if the message does not
 * end with one, then ".\r\n". pop3_top_length() is how much of a message TOP
 * sends: the header, the empty line and the first n lines of the body.
 */
#ifndef PETREL_POP3_INTERNAL_H
#define PETREL_POP3_INTERNAL_H

#include "core/core.h"

#define POP3_MAX_LINE 255             /* a command line, its CRLF included (RFC 2449 4) */
#define POP3_MAX_ARG 40               /* one argument (RFC 2449 4), see the exceptions above */
#define POP3_MAX_MECH 20              /* a SASL mechanism name (RFC 4422 3.1) */
#define POP3_MAX_SASL_LINE 8192       /* a line answering an AUTH challenge, CRLF included */
#define POP3_MAX_ERRORS 10            /* refused commands before -ERR and close */
#define POP3_MAX_AUTH_FAILURES 3      /* failed logins before -ERR [AUTH] and close */
#define POP3_MAX_OUTPUT (1024 * 1024) /* unsent output that stops command reading */

/* ---- line reader ---------------------------------------------------------------- */

enum pop3_line_status {
	POP3_LINE_MORE,     /* every byte was consumed; no complete line yet */
	POP3_LINE_DONE,     /* r->line holds a line (terminator stripped) */
	POP3_LINE_TOO_LONG, /* a line over the limit ended; it was discarded */
};

struct pop3_line_reader {
	size_t max;      /* longest line accepted, terminator included */
	struct buf line; /* the line so far; after DONE, the whole line */
	size_t seen;     /* bytes of the current line, skipped ones included */
	bool skipping;   /* the current line is over max */
	bool done;       /* the last call returned a line: reset before the next */
};

void pop3_line_init(struct pop3_line_reader *r, size_t max);
void pop3_line_free(struct pop3_line_reader *r);
/*
 * Consumes bytes from in (at most len) and sets *consumed_r. Stops right after
 * the LF that ends a line: bytes after it (pipelined commands) are left for
 * the next call. r->max may be changed between lines.
 */
enum pop3_line_status pop3_line_feed(struct pop3_line_reader *r, const char *in, size_t len,
                                     size_t *consumed_r);

/* ---- commands -------------------------------------------------------------------- */

enum pop3_verb {
	POP3_VERB_UNKNOWN = 0,
	POP3_VERB_USER,
	POP3_VERB_PASS,
	POP3_VERB_APOP,
	POP3_VERB_AUTH,
	POP3_VERB_CAPA,
	POP3_VERB_STLS,
	POP3_VERB_QUIT,
	POP3_VERB_STAT,
	POP3_VERB_LIST,
	POP3_VERB_RETR,
	POP3_VERB_DELE,
	POP3_VERB_NOOP,
	POP3_VERB_RSET,
	POP3_VERB_TOP,
	POP3_VERB_UIDL,
};

#define POP3_MAX_ARGS 2

struct pop3_cmd {
	enum pop3_verb verb;
	size_t nargs;
	struct str args[POP3_MAX_ARGS]; /* point into the parsed line */
	uint32_t msg;   /* LIST, UIDL (when nargs == 1), RETR, DELE, TOP: message number */
	uint64_t lines; /* TOP: body lines */
};

enum pop3_parse_status {
	POP3_PARSE_OK = 0,
	POP3_PARSE_UNKNOWN, /* not a command we know */
	POP3_PARSE_SYNTAX,  /* a known command with bad arguments */
};

/*
 * Parses one line (no terminator; the line reader has checked its length).
 * cmd is overwritten. On failure *why (may be NULL) gets a short reason for
 * the -ERR text; it never quotes the client's bytes.
 */
enum pop3_parse_status pop3_parse_command(const char *line, size_t len, struct pop3_cmd *cmd,
                                          struct buf *why);
/* The verb's name in capitals ("RETR"), "" for POP3_VERB_UNKNOWN. */
const char *pop3_verb_name(enum pop3_verb verb);

/* ---- multi-line output ----------------------------------------------------------- */

typedef void pop3_emit_fn(const char *p, size_t n, void *arg);

/*
 * Writes msg[0..len) through emit as a multi-line response body: a '.' that
 * starts a line (at offset 0 or after any LF, so that no lenient client can
 * take a bare-LF line for the end) is doubled, CRLF is added when a non-empty
 * message does not end with CRLF, and ".\r\n" closes it. Stored messages have
 * CRLF line ends, so for them the octets before stuffing are the stored ones.
 */
void pop3_write_multiline(const char *msg, size_t len, pop3_emit_fn *emit, void *arg);
/*
 * The length of the prefix of msg that "TOP n lines" sends: every header line,
 * the empty line that ends the header, then at most `lines` lines of the body
 * (a last line without LF counts). A message without an empty line is all
 * header and is sent whole.
 */
size_t pop3_top_length(const char *msg, size_t len, uint64_t lines);

/* ---- the session (pop3_session.c, pop3_cmd*.c) -------------------------------------
 * Everything below is I/O-side and is not used by the pure parts. */

struct pop3_context;
struct pop3_service;
struct conn;
struct event;
struct sasl;
struct store_op;

enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_SASL, /* inside an AUTH exchange (still AUTHORIZATION) */
	POP3_STATE_TRANSACTION,
	POP3_STATE_UPDATE, /* after QUIT: the expunge is in flight */
};

#define POP3_IN(state) (1u << (state))

/* One message of the maildrop, as it was at login. */
struct pop3_msg {
	uint32_t uid;
	uint32_t flags; /* enum store_flag bits at login (plus \Seen once retrieved) */
	uint64_t size;  /* octets of the message as RETR sends it, before dot-stuffing */
	bool deleted; /* marked by DELE */
};

struct pop3_session {
	struct conn *conn; /* NULL once the client is gone (orphaned session) */
	struct pop3_service *svc;
	struct pop3_context *ctx;
	enum pop3_state state;
	bool paused, closing, orphaned;
	unsigned errors, auth_failures;
	struct pop3_line_reader reader;
	struct pop3_cmd cmd;

	/* authentication */
	char *user; /* USER's name, until PASS */
	struct sasl *sasl;
	const char *sasl_mech;   /* its name, for the log */
	bool sasl_final_pending; /* SCRAM: server-final sent, waiting for the empty line */
	struct buf sasl_out;     /* the machine's output, kept across a worker's job */
	int64_t sasl_account_id; /* the account whose credentials the machine checks */

	/* the maildrop, from login on */
	char *login; /* the account's address */
	int64_t account_id;
	bool holds_lock; /* account_id is in the context's active set */
	int64_t mailbox_id;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;
	size_t nmsgs, msgs_cap;
	size_t ndeleted;
	uint64_t total_size, deleted_size;
	unsigned retrieved;

	/* store ops in flight: the session outlives its connection until the last
	   completion (orphaned) */
	unsigned ops_in_flight;
	uint32_t *seen_pending; /* retrieved uids waiting to be marked \Seen */
	size_t nseen_pending, seen_cap;
	bool seen_in_flight;

	struct event *output_ev; /* waits for the output to drain (backpressure) */
};

struct pop3_command {
	enum pop3_verb verb;
	unsigned states;                      /* POP3_IN() bits where it is allowed */
	int (*check)(struct pop3_session *s); /* 0, or -1 after replying */
	void (*proceed)(struct pop3_session *s);
};

/* pop3_session.c */
void pop3_reply(struct pop3_session *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
void pop3_reply_err(struct pop3_session *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
void pop3_reply_later(struct pop3_session *s, int64_t delay_ms, bool then_close, const char *fmt,
                      ...) PRINTF_LIKE(4, 5);
void pop3_write(struct pop3_session *s, const void *p, size_t n);
void pop3_close(struct pop3_session *s);
void pop3_pause(struct pop3_session *s);
void pop3_resume(struct pop3_session *s);
/* Submits op, keeping the session alive until done(op, s) has run. */
void pop3_submit(struct pop3_session *s, struct store_op *op,
                 void (*done)(struct store_op *op, void *arg));
/* Called first thing by every completion; returns false when the session is
   orphaned and gone (freed if this was its last op): do nothing more then. */
bool pop3_op_finished(struct pop3_session *s);
/* The maildrop lock: false when another POP3 session holds the account. */
bool pop3_lock_acquire(struct pop3_session *s, int64_t account_id);
void pop3_lock_release(struct pop3_session *s);
void pop3_session_free(struct pop3_session *s);

/* pop3_cmd_auth.c: USER PASS APOP AUTH, the login */
bool pop3_login_allowed(const struct pop3_session *s);
int pop3_check_user(struct pop3_session *s);
void pop3_proceed_user(struct pop3_session *s);
int pop3_check_pass(struct pop3_session *s);
void pop3_proceed_pass(struct pop3_session *s);
void pop3_proceed_apop(struct pop3_session *s);
int pop3_check_auth(struct pop3_session *s);
void pop3_proceed_auth(struct pop3_session *s);
void pop3_auth_response(struct pop3_session *s, const char *line, size_t len);

/* pop3_cmd.c: CAPA STLS QUIT and the maildrop commands */
int pop3_check_any(struct pop3_session *s);
int pop3_check_msg(struct pop3_session *s);     /* a message number that exists */
int pop3_check_opt_msg(struct pop3_session *s); /* LIST / UIDL: optional */
void pop3_proceed_capa(struct pop3_session *s);
int pop3_check_stls(struct pop3_session *s);
void pop3_proceed_stls(struct pop3_session *s);
void pop3_proceed_quit(struct pop3_session *s);
void pop3_proceed_stat(struct pop3_session *s);
void pop3_proceed_list(struct pop3_session *s);
void pop3_proceed_retr(struct pop3_session *s);
void pop3_proceed_dele(struct pop3_session *s);
void pop3_proceed_noop(struct pop3_session *s);
void pop3_proceed_rset(struct pop3_session *s);
void pop3_proceed_top(struct pop3_session *s);
void pop3_proceed_uidl(struct pop3_session *s);
void pop3_seen_flush(struct pop3_session *s);

#endif
