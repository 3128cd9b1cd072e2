/*
 * pop3_parse — the pure parts of POP3: the line reader, the command parser and
 * the multi-line writer (dot-stuffing, TOP's cut). See pop3_internal.h for the
 * contracts. No I/O, no store, no globals: this file links into its fuzzer with
 * core alone.
 */
#include "pop3/pop3_internal.h"

#include <string.h>

/* ---- line reader ---------------------------------------------------------------- */

void pop3_line_init(struct pop3_line_reader *r, size_t max)
{
	memset(r, 0, sizeof *r);
	r->max = max;
}

void pop3_line_free(struct pop3_line_reader *r)
{
	buf_free(&r->line);
	r->seen = 0;
	r->skipping = false;
	r->done = false;
}

enum pop3_line_status pop3_line_feed(struct pop3_line_reader *r, const char *in, size_t len,
                                     size_t *consumed_r)
{
	if (r->done) {
		buf_reset(&r->line);
		r->seen = 0;
		r->done = false;
	}
	const char *nl = len ? memchr(in, '\n', len) : NULL;
	size_t take = nl ? (size_t)(nl - in) + 1 : len;
	*consumed_r = take;
	if (!r->skipping) {
		r->seen += take;
		/* Without its LF yet, a line of max bytes can only end over the limit. */
		if (r->seen > r->max || (!nl && r->seen >= r->max)) {
			r->skipping = true;
			buf_free(&r->line);
		} else {
			buf_append(&r->line, in, nl ? take - 1 : take);
		}
	}
	if (!nl)
		return POP3_LINE_MORE;
	r->done = true;
	if (r->skipping) {
		r->skipping = false;
		return POP3_LINE_TOO_LONG;
	}
	if (r->line.len > 0 && r->line.data[r->line.len - 1] == '\r')
		buf_truncate(&r->line, r->line.len - 1);
	if (!r->line.data)
		buf_append(&r->line, "", 0); /* a valid C string even when empty */
	return POP3_LINE_DONE;
}

/* ---- commands -------------------------------------------------------------------- */

enum arg_kind {
	ARG_WORD,  /* at most POP3_MAX_ARG octets */
	ARG_USER,  /* a user name: bounded by the line only */
	ARG_MECH,  /* a SASL mechanism name: at most POP3_MAX_MECH */
	ARG_IR,    /* a SASL initial response: bounded by the line only */
	ARG_MSG,   /* a message number, 1..2^32-1 */
	ARG_LINES, /* a line count, 0..2^64-1 */
};

struct verb_syntax {
	const char *name;
	enum pop3_verb verb;
	size_t min, max; /* argument count */
	enum arg_kind kinds[POP3_MAX_ARGS];
	bool rest; /* the one argument is the rest of the line, spaces included */
};

static const struct verb_syntax verbs[] = {
        {"USER", POP3_VERB_USER, 1, 1, {ARG_USER}, false},
        {"PASS", POP3_VERB_PASS, 1, 1, {ARG_USER}, true},
        {"APOP", POP3_VERB_APOP, 2, 2, {ARG_WORD, ARG_WORD}, false},
        {"AUTH", POP3_VERB_AUTH, 0, 2, {ARG_MECH, ARG_IR}, false},
        {"CAPA", POP3_VERB_CAPA, 0, 0, {0}, false},
        {"STLS", POP3_VERB_STLS, 0, 0, {0}, false},
        {"QUIT", POP3_VERB_QUIT, 0, 0, {0}, false},
        {"STAT", POP3_VERB_STAT, 0, 0, {0}, false},
        {"LIST", POP3_VERB_LIST, 0, 1, {ARG_MSG}, false},
        {"RETR", POP3_VERB_RETR, 1, 1, {ARG_MSG}, false},
        {"DELE", POP3_VERB_DELE, 1, 1, {ARG_MSG}, false},
        {"NOOP", POP3_VERB_NOOP, 0, 0, {0}, false},
        {"RSET", POP3_VERB_RSET, 0, 0, {0}, false},
        {"TOP", POP3_VERB_TOP, 2, 2, {ARG_MSG, ARG_LINES}, false},
        {"UIDL", POP3_VERB_UIDL, 0, 1, {ARG_MSG}, false},
};

const char *pop3_verb_name(enum pop3_verb verb)
{
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "";
}

static enum pop3_parse_status fail(struct buf *why, enum pop3_parse_status st, const char *reason)
{
	if (why)
		buf_puts(why, reason);
	return st;
}

/* A strict decimal: digits only, no sign, no space; false with a reason on
   junk, on overflow past max. */
static bool parse_decimal(struct str s, uint64_t max, uint64_t *v_r, const char **reason_r,
                          const char *what_junk, const char *what_big)
{
	uint64_t v = 0;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < '0' || c > '9') {
			*reason_r = what_junk;
			return false;
		}
		unsigned d = c - '0';
		if (v > (max - d) / 10) {
			*reason_r = what_big;
			return false;
		}
		v = v * 10 + d;
	}
	*v_r = v;
	return true;
}

static enum pop3_parse_status parse_arg(const struct verb_syntax *vs, size_t i, struct str a,
                                        struct pop3_cmd *cmd, struct buf *why)
{
	const char *reason = NULL;
	uint64_t v;
	switch (vs->kinds[i]) {
	case ARG_WORD:
		if (a.len > POP3_MAX_ARG)
			return fail(why, POP3_PARSE_SYNTAX,
			            "argument too long (at most 40 octets)");
		break;
	case ARG_USER:
	case ARG_IR:
		break;
	case ARG_MECH:
		if (a.len > POP3_MAX_MECH)
			return fail(why, POP3_PARSE_SYNTAX, "mechanism name too long");
		break;
	case ARG_MSG:
		if (a.len > POP3_MAX_ARG)
			return fail(why, POP3_PARSE_SYNTAX,
			            "argument too long (at most 40 octets)");
		if (a.p[0] == '-')
			return fail(why, POP3_PARSE_SYNTAX, "message numbers are not negative");
		if (!parse_decimal(a, UINT32_MAX, &v, &reason,
		                   "message number must be a decimal number",
		                   "message number too large"))
			return fail(why, POP3_PARSE_SYNTAX, reason);
		if (v == 0)
			return fail(why, POP3_PARSE_SYNTAX, "message numbers start at 1");
		cmd->msg = (uint32_t)v;
		break;
	case ARG_LINES:
		if (a.len > POP3_MAX_ARG)
			return fail(why, POP3_PARSE_SYNTAX,
			            "argument too long (at most 40 octets)");
		if (a.p[0] == '-')
			return fail(why, POP3_PARSE_SYNTAX, "line counts are not negative");
		if (!parse_decimal(a, UINT64_MAX, &v, &reason,
		                   "line count must be a decimal number", "line count too large"))
			return fail(why, POP3_PARSE_SYNTAX, reason);
		cmd->lines = v;
		break;
	}
	return POP3_PARSE_OK;
}

static const char *missing_reason(enum pop3_verb verb)
{
	switch (verb) {
	case POP3_VERB_USER:
		return "USER needs a name";
	case POP3_VERB_PASS:
		return "PASS needs a password";
	case POP3_VERB_APOP:
		return "APOP needs a name and a digest";
	case POP3_VERB_TOP:
		return "TOP needs a message number and a line count";
	default:
		return "a message number is needed";
	}
}

enum pop3_parse_status pop3_parse_command(const char *line, size_t len, struct pop3_cmd *cmd,
                                          struct buf *why)
{
	memset(cmd, 0, sizeof *cmd);
	for (size_t i = 0; i < POP3_MAX_ARGS; i++)
		cmd->args[i] = (struct str){line, 0};

	const char *sp = memchr(line, ' ', len);
	size_t vlen = sp ? (size_t)(sp - line) : len;
	if (vlen == 0)
		return fail(why, POP3_PARSE_UNKNOWN, len ? "command expected first" : "empty line");
	const struct verb_syntax *vs = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(verbs) && !vs; i++)
		if (str_eq_cstr_nocase((struct str){line, vlen}, verbs[i].name))
			vs = &verbs[i];
	if (!vs)
		return fail(why, POP3_PARSE_UNKNOWN, "unknown command");
	cmd->verb = vs->verb;

	const char *rest = sp ? sp + 1 : line + len;
	size_t rlen = (size_t)(line + len - rest);
	for (size_t i = 0; i < rlen; i++) {
		unsigned char c = (unsigned char)rest[i];
		if (c == 0)
			return fail(why, POP3_PARSE_SYNTAX, "NUL byte in command line");
		/* A password is the client's bytes; anything else is plain text. */
		if (c == '\r' || (!vs->rest && (c < 0x20 || c == 0x7f)))
			return fail(why, POP3_PARSE_SYNTAX, "control character in command line");
	}

	if (vs->rest) {
		if (!sp || rlen == 0)
			return fail(why, POP3_PARSE_SYNTAX, missing_reason(vs->verb));
		cmd->args[0] = (struct str){rest, rlen};
		cmd->nargs = 1;
		return parse_arg(vs, 0, cmd->args[0], cmd, why);
	}

	/* Arguments are separated by spaces; more than one, and trailing ones, are
	   tolerated. */
	size_t pos = 0;
	struct str args[POP3_MAX_ARGS];
	size_t n = 0;
	for (;;) {
		while (pos < rlen && rest[pos] == ' ')
			pos++;
		if (pos == rlen)
			break;
		size_t start = pos;
		while (pos < rlen && rest[pos] != ' ')
			pos++;
		if (n == vs->max)
			return fail(why, POP3_PARSE_SYNTAX,
			            vs->max ? "too many arguments" : "no arguments allowed");
		args[n++] = (struct str){rest + start, pos - start};
	}
	if (n < vs->min)
		return fail(why, POP3_PARSE_SYNTAX, missing_reason(vs->verb));
	for (size_t i = 0; i < n; i++) {
		enum pop3_parse_status st = parse_arg(vs, i, args[i], cmd, why);
		if (st != POP3_PARSE_OK)
			return st;
		cmd->args[i] = args[i];
	}
	cmd->nargs = n;
	return POP3_PARSE_OK;
}

/* ---- multi-line output ----------------------------------------------------------- */

void pop3_write_multiline(const char *msg, size_t len, pop3_emit_fn *emit, void *arg)
{
	size_t start = 0; /* the first byte not yet emitted */
	size_t pos = 0;   /* a line start */
	while (pos < len) {
		if (msg[pos] == '.') {
			if (pos > start)
				emit(msg + start, pos - start, arg);
			emit(".", 1, arg); /* the line's own dot follows in the next span */
			start = pos;
		}
		const char *nl = memchr(msg + pos, '\n', len - pos);
		if (!nl)
			break;
		pos = (size_t)(nl - msg) + 1;
	}
	if (len > start)
		emit(msg + start, len - start, arg);
	if (len > 0 && !(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n'))
		emit("\r\n", 2, arg);
	emit(".\r\n", 3, arg);
}

size_t pop3_top_length(const char *msg, size_t len, uint64_t lines)
{
	size_t pos = 0;
	for (;;) { /* the header, through its empty line */
		if (pos >= len)
			return len;
		if (msg[pos] == '\n') {
			pos += 1;
			break;
		}
		if (msg[pos] == '\r' && pos + 1 < len && msg[pos + 1] == '\n') {
			pos += 2;
			break;
		}
		const char *nl = memchr(msg + pos, '\n', len - pos);
		if (!nl)
			return len;
		pos = (size_t)(nl - msg) + 1;
	}
	for (uint64_t n = 0; n < lines && pos < len; n++) {
		const char *nl = memchr(msg + pos, '\n', len - pos);
		if (!nl)
			return len;
		pos = (size_t)(nl - msg) + 1;
	}
	return pos;
}
