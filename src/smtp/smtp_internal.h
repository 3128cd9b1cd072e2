/*
 * smtp_internal — the pure parts of SMTP shared by the server (and later the
 * outbound client): the command parser and the DATA reader.
 *
 * Both are pure functions of bytes (no I/O, no store, no globals): they link
 * into their fuzzers with core alone.
 *
 * Command parser. smtp_parse_command() takes one command line WITHOUT its line
 * ending and fills a struct smtp_cmd. It knows RFC 5321's grammar (verbs,
 * Reverse-path / Forward-path with quoted local parts, address literals
 * [1.2.3.4] and [IPv6:...], source routes "@a,@b:" which are parsed and ignored
 * as RFC 5321 4.1.2 says, esmtp-keyword=value parameters) and RFC 6531's UTF-8
 * in local parts and domains (only valid UTF-8; the session decides whether
 * SMTPUTF8 was asked for). It does not decide what a command means in the
 * session's state; that is the session's check step.
 *
 * DATA reader. smtp_data_feed() is fed the bytes after "354" in pieces of any
 * size and finds the end of data, "<CRLF>.<CRLF>" and nothing else: the
 * smuggling variants ("\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r\n") are not an end.
 * It undoes dot-stuffing byte-exactly and appends the message (with CRLF line
 * ends, the CRLF before the final dot included) to the caller's buffer. A bare
 * CR or a bare LF anywhere marks the message bad (the session then answers 5xx
 * at the end of data and stores nothing); a message over the size limit stops
 * being buffered but is still read to its end, so the session can answer 552 in
 * sync with the client.
 */
#ifndef PETREL_SMTP_INTERNAL_H
#define PETREL_SMTP_INTERNAL_H

#include "core/core.h"

#define SMTP_MAX_LINE 4096     /* command line without CRLF (RFC 5321 4.5.3.1.4: 512, plus extensions) */
#define SMTP_MAX_PATH 256      /* a path, angle brackets included (RFC 5321 4.5.3.1.3) */
#define SMTP_MAX_LOCAL_PART 64 /* RFC 5321 4.5.3.1.1 */
#define SMTP_MAX_DOMAIN 255    /* RFC 5321 4.5.3.1.2 */
#define SMTP_MAX_PARAMS 16     /* esmtp parameters on one MAIL or RCPT */
#define SMTP_MAX_PARAM_VALUE 1024

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

struct smtp_path {
	bool null;          /* "<>" (MAIL only) */
	bool postmaster;    /* "<Postmaster>" with no domain (RCPT only, RFC 5321 4.1.1.3) */
	bool quoted;        /* the local part was a quoted-string */
	bool utf8;          /* non-ASCII bytes in local part or domain */
	bool domain_literal; /* the domain is an address literal: [192.0.2.1] / [IPv6:...] */
	struct buf local;   /* the local part, unquoted (quoted-pairs resolved) */
	struct buf domain;  /* the domain as written, or the literal with its brackets */
	struct buf address; /* local@domain as the canonical text (local re-quoted if needed) */
};

struct smtp_param {
	struct str keyword; /* points into the parsed line */
	struct str value;   /* .p == NULL when there was no "=value" */
};

struct smtp_cmd {
	enum smtp_verb verb;
	struct str arg;   /* the raw text after the verb and its space (HELO, EHLO, VRFY,
			     EXPN, HELP, AUTH, BDAT, unknown); points into the line */
	struct smtp_path path; /* MAIL, RCPT */
	struct smtp_param params[SMTP_MAX_PARAMS];
	size_t nparams;
};

enum smtp_parse_status {
	SMTP_PARSE_OK = 0,
	SMTP_PARSE_UNKNOWN,   /* not a command we know: 500 5.5.1 */
	SMTP_PARSE_SYNTAX,    /* bad arguments: 501 5.5.4 (or 5.1.3 for a bad address) */
	SMTP_PARSE_TOO_LONG,  /* a path over SMTP_MAX_PATH etc.: 501 5.5.4 / 5.1.3 */
	SMTP_PARSE_TOO_MANY,  /* more than SMTP_MAX_PARAMS parameters: 455 / 555 5.5.4 */
	SMTP_PARSE_BAD_ADDRESS, /* syntactically bad mailbox: 501 5.1.3 (5.1.7 for MAIL) */
};

void smtp_cmd_init(struct smtp_cmd *cmd);
void smtp_cmd_free(struct smtp_cmd *cmd);
/*
 * Parses one line (no CR/LF inside, len <= SMTP_MAX_LINE — the session checks
 * the length before calling). cmd must have been initialised; it is reset first.
 * On failure *why (may be NULL) gets a short human reason for the reply text.
 * Verbs are case-insensitive; "MAIL FROM:" / "RCPT TO:" allow no space before the
 * path (RFC 5321) but one is tolerated, as every deployed server does.
 */
enum smtp_parse_status smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd,
					  struct buf *why);

/* The value of a parameter (case-insensitive keyword), or NULL. */
const struct smtp_param *smtp_cmd_param(const struct smtp_cmd *cmd, const char *keyword);

/* RFC 3461 xtext decoding ("+2B" -> "+"); -1 when malformed. */
int smtp_xtext_decode(struct str in, struct buf *out);

/*
 * The argument of BDAT (RFC 3030): chunk-size [SP "LAST"], the size 1 to 20
 * digits that fit in 64 bits, "LAST" in any case. 0 on success, -1 otherwise.
 */
int smtp_parse_bdat(struct str arg, uint64_t *size_r, bool *last_r);

/* ---- DATA ------------------------------------------------------------------- */

enum smtp_data_status {
	SMTP_DATA_MORE, /* need more input */
	SMTP_DATA_DONE, /* the end of data was consumed */
};

struct smtp_data_reader {
	int state;       /* private */
	uint64_t max;    /* size limit of the message (0 = none) */
	uint64_t size;   /* bytes of the message so far (after unstuffing) */
	bool too_big;    /* size went over max: out stopped growing */
	bool bare_crlf;  /* a bare CR or LF was seen */
	bool has_8bit;   /* a byte >= 0x80 was seen */
	bool has_nul;    /* a NUL byte was seen */
};

void smtp_data_init(struct smtp_data_reader *r, uint64_t max);
/*
 * Consumes bytes from in (at most len), appending the message to out, and sets
 * *consumed. Returns SMTP_DATA_DONE when the terminating <CRLF>.<CRLF> has been
 * consumed: bytes after it (pipelined commands) are left unconsumed.
 */
enum smtp_data_status smtp_data_feed(struct smtp_data_reader *r, const char *in, size_t len,
				     size_t *consumed, struct buf *out);

/* ---- the session (smtp_server.c, smtp_cmd_*.c) ----------------------------------
 * Everything below is I/O-side and is not used by the parser. */

struct smtp_context;
struct smtp_service;
struct conn;
struct event;
struct sasl;
struct store_op;

enum smtp_state {
	SMTP_STATE_INIT,  /* before HELO/EHLO */
	SMTP_STATE_READY, /* greeted; a transaction may be in progress (has_mail) */
	SMTP_STATE_DATA,  /* reading a DATA message */
	SMTP_STATE_AUTH,  /* inside a SASL exchange */
};

struct smtp_rcpt {
	char *address;      /* as the client wrote it (canonical text) */
	int64_t mailbox_id; /* local delivery target, 0 when remote */
	int64_t account_id;
	char *dsn_notify;   /* RFC 3461, or NULL */
	char *dsn_orcpt;
};

struct smtp_session {
	struct conn *conn; /* NULL once the client is gone (orphaned session) */
	struct smtp_service *svc;
	struct smtp_context *ctx;
	enum smtp_state state;
	bool esmtp;
	bool paused, closing, orphaned, skipping_line;
	char *helo;
	unsigned errors, auth_failures, messages;
	struct buf line;
	struct smtp_cmd cmd;

	/* authentication */
	struct sasl *sasl;
	bool auth_final_pending; /* SCRAM: server-final sent, waiting for the empty reply */
	char *auth_user;         /* the account's address once authenticated */
	int64_t auth_account_id;

	/* the transaction */
	char trans_id[13];
	bool has_mail, mail_null, smtputf8, body_8bit;
	struct buf mail_from;
	uint64_t declared_size;
	char *dsn_ret, *dsn_envid;
	struct smtp_rcpt *rcpts;
	size_t nrcpts, rcpts_cap;
	unsigned rcpt_attempts;
	struct smtp_data_reader reader;
	struct buf data;
	bool bdat_started, bdat_failed, bdat_too_big, bdat_last;
	uint64_t bdat_remaining;

	/* the commit: op is allocated for the time it is in flight */
	struct store_op *op;
	bool commit_in_flight;
	unsigned pending;     /* store ops and worker jobs holding the session */
	struct buf sasl_out;  /* the SASL machine's output, kept across a worker's job */
	struct buf message;
};

struct smtp_command {
	enum smtp_verb verb;
	const char *name;
	int (*check)(struct smtp_session *s); /* 0, or -1 after replying */
	void (*proceed)(struct smtp_session *s);
};

/* smtp_server.c */
void smtp_reply(struct smtp_session *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
void smtp_reply_error(struct smtp_session *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
void smtp_reply_later(struct smtp_session *s, int64_t delay_ms, bool then_close,
		      const char *fmt, ...) PRINTF_LIKE(4, 5);
void smtp_close(struct smtp_session *s);
void smtp_pause(struct smtp_session *s);
void smtp_resume(struct smtp_session *s);
void smtp_transaction_reset(struct smtp_session *s);
void smtp_session_free(struct smtp_session *s);
/* Ends one pending piece of work; false when the session was orphaned and is
   now freed (the caller must not touch it). */
bool smtp_release(struct smtp_session *s);

/* smtp_cmd_session.c: HELO EHLO RSET NOOP QUIT VRFY EXPN HELP STARTTLS */
int smtp_check_any(struct smtp_session *s);
int smtp_check_helo(struct smtp_session *s);
void smtp_proceed_helo(struct smtp_session *s);
void smtp_proceed_ehlo(struct smtp_session *s);
void smtp_proceed_rset(struct smtp_session *s);
void smtp_proceed_noop(struct smtp_session *s);
void smtp_proceed_quit(struct smtp_session *s);
void smtp_proceed_vrfy(struct smtp_session *s);
void smtp_proceed_expn(struct smtp_session *s);
void smtp_proceed_help(struct smtp_session *s);
int smtp_check_starttls(struct smtp_session *s);
void smtp_proceed_starttls(struct smtp_session *s);

/* smtp_cmd_mail.c: MAIL RCPT */
int smtp_check_mail(struct smtp_session *s);
void smtp_proceed_mail(struct smtp_session *s);
int smtp_check_rcpt(struct smtp_session *s);
void smtp_proceed_rcpt(struct smtp_session *s);

/* smtp_cmd_data.c: DATA BDAT and the commit */
int smtp_check_data(struct smtp_session *s);
void smtp_proceed_data(struct smtp_session *s);
int smtp_check_bdat(struct smtp_session *s);
void smtp_proceed_bdat(struct smtp_session *s);
void smtp_data_finished(struct smtp_session *s);
void smtp_bdat_chunk_done(struct smtp_session *s);

/* smtp_cmd_auth.c: AUTH */
int smtp_check_auth(struct smtp_session *s);
void smtp_proceed_auth(struct smtp_session *s);
void smtp_auth_response(struct smtp_session *s, const char *line, size_t len);
bool smtp_auth_offered(const struct smtp_session *s);

/* ---- replies (smtp_reply.c): pure again, the outbound client's parser -----------
 *
 * smtp_reply_feed() is fed what a server sends, in pieces of any size, and
 * returns one whole reply at a time (RFC 5321 4.2): lines "ddd-text" then a last
 * "ddd text" (or "ddd"), every line with the same code, 2yz to 5yz. Bytes after
 * the reply (a pipelined server's next replies) are left unconsumed. A line may
 * end in CRLF or a bare LF (what servers send is taken as it comes; the CR is
 * dropped). An RFC 3463 enhanced status code at the start of the first line's
 * text ("5.1.1", class matching the reply's) is taken out of the text of every
 * line that starts with it. Anything else — a bad code, lines with different
 * codes, a line, a reply or a line count over its limit — is SMTP_REPLY_BAD and
 * the parser stays bad: the connection cannot be trusted any more.
 */
#define SMTP_REPLY_MAX_LINE 2048  /* one line without its end (RFC 5321 4.5.3.1.5: 512) */
#define SMTP_REPLY_MAX_LINES 128  /* lines of one reply */
#define SMTP_REPLY_MAX_TEXT 32768 /* text of one reply, all lines */
#define SMTP_REPLY_MAX_FORMAT 1000 /* bytes of smtp_reply_format's text */

struct smtp_reply {
	int code;          /* 200 to 599 */
	char enhanced[12]; /* "5.1.1"; "" when the reply has none */
	struct buf text;   /* the lines' texts, joined with '\n' (no code, no enhanced code) */
	size_t nlines;
};

struct smtp_reply_parser {
	int state; /* private */
	struct buf line;
	bool cr; /* the line so far ends in CR */
	bool bad;
};

enum smtp_reply_status {
	SMTP_REPLY_MORE, /* need more input */
	SMTP_REPLY_DONE, /* a whole reply is in r */
	SMTP_REPLY_BAD,  /* not SMTP: why says what */
};

void smtp_reply_parser_init(struct smtp_reply_parser *p);
void smtp_reply_parser_free(struct smtp_reply_parser *p);
void smtp_reply_init(struct smtp_reply *r);
void smtp_reply_free(struct smtp_reply *r);
/* Consumes bytes of in (at most len) and sets *consumed. r is reset when a new
   reply starts; on SMTP_REPLY_DONE it holds that reply. */
enum smtp_reply_status smtp_reply_feed(struct smtp_reply_parser *p, const char *in, size_t len,
				       size_t *consumed, struct smtp_reply *r, struct buf *why);
/* "550 5.1.1 text of line one text of line two": one line of printable ASCII
   (other bytes become '?'), at most SMTP_REPLY_MAX_FORMAT bytes of text. */
void smtp_reply_format(const struct smtp_reply *r, struct buf *out);

/* What an EHLO reply announces (RFC 5321 4.1.1.1: keyword lines after the first). */
struct smtp_ehlo {
	bool pipelining, starttls, eightbitmime, smtputf8, chunking, dsn, enhancedstatuscodes;
	bool size;          /* SIZE was announced */
	uint64_t size_max;  /* its limit, 0 = none given */
	bool auth_plain, auth_login; /* SASL mechanisms of AUTH (or the old AUTH=) */
};
void smtp_reply_ehlo(const struct smtp_reply *r, struct smtp_ehlo *caps);

/* RFC 3461 xtext encoding (for ENVID and ORCPT), appended to out. */
void smtp_xtext_encode(const char *in, size_t len, struct buf *out);

#endif
