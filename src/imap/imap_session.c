/*
 * imap_session — framing, the command table, replies, and the session's life.
 *
 * Framing: a command is one or more lines, each but the last ending in a
 * literal announcement. Lines are appended to cmdbuf with their CRLF, literal
 * bytes after them, and the whole thing goes to imap_parse_command(). A
 * synchronising literal gets "+ " only once its size is known to be within
 * the limit; an oversized one gets "NO [TOOBIG]" and is never read. A
 * non-synchronising one over the limit has to be read (the client sends it
 * anyway) and is discarded.
 *
 * Commands run one at a time. A command that waits for the store (APPEND,
 * STORE, EXPUNGE, COPY, MOVE...) pauses reading until its completion writes
 * the tagged reply; a session whose client left meanwhile is freed by that
 * completion (orphaned).
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "auth/auth.h"
#include "store/store.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- replies ---------------------------------------------------------------------- */

void imap_write(struct imap_session *s, const void *p, size_t n)
{
	if (s->conn)
		conn_write(s->conn, p, n);
}

void imap_reply(struct imap_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

/* "tag OK|NO|BAD text" for the running command. */
void imap_tagged(struct imap_session *s, const char *status, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s %s ", s->tag ? s->tag : "*", status);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	imap_write(s, b.data, b.len);
	buf_free(&b);
}

/* A client mistake: counted; too many end the session. */
void imap_bad(struct imap_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	imap_tagged(s, "BAD", "%s", buf_cstr(&b));
	if (s->conn) {
		struct buf v = BUF_INIT;
		log_value(&v, b.data, b.len);
		log_info("imap id=%s peer=%s event=bad reason=%s", conn_id(s->conn),
		         conn_peer(s->conn), buf_cstr(&v));
		buf_free(&v);
	}
	buf_free(&b);
	if (++s->errors >= IMAP_MAX_ERRORS) {
		imap_reply(s, "* BYE Too many errors");
		imap_close(s);
	}
}

void imap_close(struct imap_session *s)
{
	s->closing = true;
	s->state = IMAP_STATE_LOGOUT;
	if (s->conn)
		conn_close(s->conn);
}

/* ---- delayed replies (throttled login failures) ------------------------------------ */

void imap_pause(struct imap_session *s)
{
	s->paused = true;
	if (s->conn)
		conn_pause(s->conn);
}

void imap_resume(struct imap_session *s)
{
	s->paused = false;
	if (s->conn)
		conn_resume(s->conn);
}

void imap_reply_later(struct imap_session *s, int64_t delay_ms, bool then_close, const char *fmt,
		      ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "\r\n");
	if (then_close) {
		s->closing = true;
		s->state = IMAP_STATE_LOGOUT;
	}
	if (s->conn)
		conn_write_later(s->conn, delay_ms, b.data, b.len, then_close);
	buf_free(&b);
}

bool imap_job_done(struct imap_session *s)
{
	s->jobs--;
	if (!s->orphaned)
		return true;
	if (!s->jobs && !s->op)
		imap_session_free(s);
	return false;
}

/* ---- asynchronous store ops --------------------------------------------------------- */

static void op_done(struct store_op *op, void *arg)
{
	struct imap_session *s = arg;
	void (*done)(struct imap_session *, struct store_op *) = s->op_done;
	s->op = NULL;
	s->op_done = NULL;
	/* done() frees what it owns and may submit the command's next op; an
	   orphaned session writes nowhere (conn is NULL) and is freed after its
	   last op. */
	done(s, op);
	if (s->op)
		return;
	if (s->orphaned) {
		if (!s->jobs)
			imap_session_free(s);
		return;
	}
	imap_resume(s);
}

void imap_submit(struct imap_session *s, struct store_op *op,
                 void (*done)(struct imap_session *s, struct store_op *op))
{
	s->op = op;
	s->op_done = done;
	imap_pause(s);
	store_submit(s->ctx->store, op, op_done, s);
}

/* ---- the command table ---------------------------------------------------------------- */

static const struct imap_command commands[] = {
        {"CAPABILITY", IMAP_STATES_ANY, imap_cmd_capability},
        {"NOOP", IMAP_STATES_ANY, imap_cmd_noop},
        {"LOGOUT", IMAP_STATES_ANY, imap_cmd_logout},
        {"STARTTLS", IMAP_STATE_NOAUTH, imap_cmd_starttls},
        {"AUTHENTICATE", IMAP_STATE_NOAUTH, imap_cmd_authenticate},
        {"LOGIN", IMAP_STATE_NOAUTH, imap_cmd_login},
        {"ID", IMAP_STATES_ANY, imap_cmd_id},
        {"ENABLE", IMAP_STATES_AUTHED, imap_cmd_enable},
        {"NAMESPACE", IMAP_STATES_AUTHED, imap_cmd_namespace},
        {"SELECT", IMAP_STATES_AUTHED, imap_cmd_select},
        {"EXAMINE", IMAP_STATES_AUTHED, imap_cmd_select},
        {"CREATE", IMAP_STATES_AUTHED, imap_cmd_create},
        {"DELETE", IMAP_STATES_AUTHED, imap_cmd_delete},
        {"RENAME", IMAP_STATES_AUTHED, imap_cmd_rename},
        {"SUBSCRIBE", IMAP_STATES_AUTHED, imap_cmd_subscribe},
        {"UNSUBSCRIBE", IMAP_STATES_AUTHED, imap_cmd_subscribe},
        {"LIST", IMAP_STATES_AUTHED, imap_cmd_list},
        {"LSUB", IMAP_STATES_AUTHED, imap_cmd_list},
        {"STATUS", IMAP_STATES_AUTHED, imap_cmd_status},
        {"APPEND", IMAP_STATES_AUTHED, imap_cmd_append},
        {"IDLE", IMAP_STATES_AUTHED, imap_cmd_idle},
        {"NOTIFY", IMAP_STATES_AUTHED, imap_cmd_notify},
        {"CHECK", IMAP_STATE_SELECTED, imap_cmd_check},
        {"CLOSE", IMAP_STATE_SELECTED, imap_cmd_close},
        {"UNSELECT", IMAP_STATE_SELECTED, imap_cmd_close},
        {"EXPUNGE", IMAP_STATE_SELECTED, imap_cmd_expunge},
        {"UID EXPUNGE", IMAP_STATE_SELECTED, imap_cmd_expunge},
        {"SEARCH", IMAP_STATE_SELECTED, imap_cmd_search},
        {"UID SEARCH", IMAP_STATE_SELECTED, imap_cmd_search},
        {"SORT", IMAP_STATE_SELECTED, imap_cmd_sort},
        {"UID SORT", IMAP_STATE_SELECTED, imap_cmd_sort},
        {"THREAD", IMAP_STATE_SELECTED, imap_cmd_thread},
        {"UID THREAD", IMAP_STATE_SELECTED, imap_cmd_thread},
        {"CANCELUPDATE", IMAP_STATE_SELECTED, imap_cmd_cancelupdate},
        {"FETCH", IMAP_STATE_SELECTED, imap_cmd_fetch},
        {"UID FETCH", IMAP_STATE_SELECTED, imap_cmd_fetch},
        {"STORE", IMAP_STATE_SELECTED, imap_cmd_store},
        {"UID STORE", IMAP_STATE_SELECTED, imap_cmd_store},
        {"COPY", IMAP_STATE_SELECTED, imap_cmd_copy},
        {"UID COPY", IMAP_STATE_SELECTED, imap_cmd_copy},
        {"MOVE", IMAP_STATE_SELECTED, imap_cmd_copy},
        {"UID MOVE", IMAP_STATE_SELECTED, imap_cmd_copy},
        {"GENURLAUTH", IMAP_STATES_AUTHED, imap_cmd_genurlauth},
        {"RESETKEY", IMAP_STATES_AUTHED, imap_cmd_resetkey},
        {"URLFETCH", IMAP_STATES_AUTHED, imap_cmd_urlfetch},
};

static void run_command(struct imap_session *s, const char *data, size_t len)
{
	struct buf why = BUF_INIT;
	enum imap_parse_status st = imap_parse_command(data, len, &s->cmd, &why);
	xfree(&s->tag);
	if (s->cmd.tag.len)
		s->tag = str_dup(s->cmd.tag);
	switch (st) {
	case IMAP_PARSE_OK:
		break;
	case IMAP_PARSE_NO_TAG:
		xfree(&s->tag);
		imap_bad(s, "Missing tag: %s", why.len ? buf_cstr(&why) : "syntax error");
		goto out;
	case IMAP_PARSE_TOO_BIG:
		imap_bad(s, "[TOOBIG] %s", why.len ? buf_cstr(&why) : "Command too big");
		goto out;
	case IMAP_PARSE_BAD:
	default:
		imap_bad(s, "%s", why.len ? buf_cstr(&why) : "Syntax error");
		goto out;
	}
	const struct imap_command *cmd = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, s->cmd.name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		imap_bad(s, "Unknown command %s", s->cmd.name);
		goto out;
	}
	if (!(cmd->states & s->state)) {
		imap_bad(s, "%s is not valid in this state", cmd->name);
		goto out;
	}
	cmd->run(s);
out:
	buf_free(&why);
}

/* Reads literal bytes; returns false when more input is needed. */
static bool read_literal(struct imap_session *s, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	if (avail == 0)
		return false;
	size_t take = avail < s->literal_left ? avail : (size_t)s->literal_left;
	if (s->literal_discard) {
		evbuffer_drain(in, take);
	} else {
		buf_reserve(&s->cmdbuf, take);
		evbuffer_remove(in, s->cmdbuf.data + s->cmdbuf.len, take);
		s->cmdbuf.len += take;
		s->cmdbuf.data[s->cmdbuf.len] = '\0';
	}
	s->literal_left -= take;
	return true;
}

/* The tag of the command being assembled, for replies before it is parsed. */
static void assembling_tag(struct imap_session *s)
{
	xfree(&s->tag);
	size_t n = strcspn(buf_cstr(&s->cmdbuf), " \r\n");
	if (n > 0 && n <= IMAP_MAX_TAG)
		s->tag = xstrndup(s->cmdbuf.data, n);
}

static void handle_line(struct imap_session *s, const char *line, size_t len)
{
	if (s->sasl) {
		imap_auth_line(s, line, len);
		return;
	}
	if (s->idling) {
		imap_idle_line(s, line, len);
		return;
	}
	if (s->cmdbuf.len == 0)
		s->literal_append =
		        len >= 7 && strchr(line, ' ') &&
		        str_has_prefix_nocase(
		                (struct str){strchr(line, ' ') + 1,
		                             len - (size_t)(strchr(line, ' ') + 1 - line)},
		                "APPEND ");
	uint64_t cmd_max = s->literal_append ? imap_append_total(s->ctx->cfg->max_message_size)
	                                     : IMAP_MAX_COMMAND;
	if (s->cmdbuf.len + len + 2 > cmd_max) {
		assembling_tag(s);
		buf_reset(&s->cmdbuf);
		imap_bad(s, "[TOOBIG] Command too long");
		return;
	}
	buf_append(&s->cmdbuf, line, len);
	struct imap_literal lit;
	if (imap_literal_at_end(line, len, &lit)) {
		buf_puts(&s->cmdbuf, "\r\n");
		/* APPEND (MULTIAPPEND): every message within the size limit, and
		   all of them within imap_append_total() */
		uint64_t max = s->literal_append
		                       ? imap_append_literal_max(s->cmdbuf.len,
		                                                 s->ctx->cfg->max_message_size)
		                       : IMAP_MAX_LITERAL;
		if (lit.size > max) {
			assembling_tag(s);
			buf_reset(&s->cmdbuf);
			if (lit.nonsync) {
				/* The client sends it regardless: swallow it. */
				s->literal_left = lit.size;
				s->literal_discard = true;
				imap_bad(s, "[TOOBIG] Literal larger than %llu bytes",
				         (unsigned long long)max);
			} else {
				imap_tagged(s, "NO", "[TOOBIG] Literal larger than %llu bytes",
				            (unsigned long long)max);
			}
			return;
		}
		s->literal_left = lit.size;
		s->literal_discard = false;
		if (!lit.nonsync)
			imap_reply(s, "+ Ready for literal data");
		return;
	}
	/* The command is complete. */
	struct buf cmd = s->cmdbuf;
	buf_init(&s->cmdbuf);
	run_command(s, cmd.data, cmd.len);
	buf_free(&cmd);
}

static void imap_read(struct conn *c)
{
	struct imap_session *s = conn_data(c);
	while (!s->paused && !s->closing && conn_reading(c)) {
		struct evbuffer *in = conn_input(c);
		if (s->literal_left > 0) {
			if (!read_literal(s, in))
				break;
			if (s->literal_left == 0 && s->literal_discard) {
				s->literal_discard = false;
				s->skipping_line = true; /* the rest of the refused command */
			}
			continue;
		}
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			break;
		size_t eol_len = 0;
		struct evbuffer_ptr eol =
		        evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		if (eol.pos < 0) {
			if (avail > IMAP_MAX_LINE + 2) {
				evbuffer_drain(in, avail);
				if (!s->skipping_line) {
					assembling_tag(s);
					buf_reset(&s->cmdbuf);
					imap_bad(s, "[TOOBIG] Line too long");
				}
				s->skipping_line = true;
			}
			break;
		}
		size_t linelen = (size_t)eol.pos;
		if (s->skipping_line) {
			evbuffer_drain(in, linelen + eol_len);
			s->skipping_line = false;
			continue;
		}
		if (linelen > IMAP_MAX_LINE) {
			evbuffer_drain(in, linelen + eol_len);
			assembling_tag(s);
			buf_reset(&s->cmdbuf);
			imap_bad(s, "[TOOBIG] Line too long");
			continue;
		}
		char *line = xmalloc(linelen + 1);
		evbuffer_remove(in, line, linelen);
		line[linelen] = '\0';
		evbuffer_drain(in, eol_len);
		handle_line(s, line, linelen);
		free(line);
	}
}

/* ---- the session's life -------------------------------------------------------------------- */

void imap_session_free(struct imap_session *s)
{
	imap_notify_stop(s);
	imap_unselect(s);
	buf_free(&s->cmdbuf);
	imap_cmd_free(&s->cmd);
	free(s->tag);
	free(s->user);
	sasl_free(&s->sasl);
	buf_free(&s->sasl_out);
	free(s);
}

static void imap_open(struct conn *c)
{
	struct imap_service *svc = conn_handler_arg(c);
	struct imap_session *s = xcalloc(1, sizeof *s);
	s->conn = c;
	s->svc = svc;
	s->ctx = svc->ctx;
	s->state = IMAP_STATE_NOAUTH;
	imap_cmd_init(&s->cmd);
	conn_set_data(c, s);
	log_info("imap id=%s peer=%s event=session tls=%s", conn_id(c), conn_peer(c),
	         conn_is_tls(c) ? "yes" : "no");
	struct buf caps = BUF_INIT;
	imap_capabilities(s, &caps);
	imap_reply(s, "* OK [CAPABILITY %s] %s petrel IMAP ready", buf_cstr(&caps),
	           s->ctx->cfg->hostname);
	buf_free(&caps);
}

static void imap_closed(struct conn *c)
{
	struct imap_session *s = conn_data(c);
	if (!s)
		return;
	log_info("imap id=%s peer=%s event=disconnect user=%s", conn_id(c), conn_peer(c),
	         s->user ? s->user : "-");
	s->conn = NULL;
	if (s->op || s->jobs) {
		s->orphaned = true; /* the last completion frees it */
		return;
	}
	imap_session_free(s);
}

static void imap_timeout(struct conn *c)
{
	struct imap_session *s = conn_data(c);
	imap_reply(s, "* BYE Autologout; idle for too long");
}

static void imap_drain(struct conn *c)
{
	struct imap_session *s = conn_data(c);
	imap_reply(s, "* BYE [UNAVAILABLE] Server shutting down");
}

const struct conn_handler imap_conn_handler = {
        .proto = "imap",
        .open = imap_open,
        .read = imap_read,
        .closed = imap_closed,
        .timeout = imap_timeout,
        .drain = imap_drain,
        .busy_reply = "* BYE [UNAVAILABLE] Too many connections\r\n",
};
