// fuzz-sources: src/pop3/pop3_parse.c src/core/mem.c src/core/buf.c src/core/str.c
// fuzz-libs:
/*
 * fuzz_pop3_parse — the pure parts of POP3 on one input:
 *
 *  1. the input as client bytes: fed to the line reader whole and again in
 *     pieces whose sizes come from the input itself; both must give the same
 *     lines. Each line is parsed as a command.
 *  2. the input as a stored message: written as a multi-line response, whole
 *     and as TOP with a few line counts.
 *
 * Checked: no crash, leak or sanitizer report; the reader consumes at least a
 * byte per call and never returns a line over its limit; statuses stay in
 * their enums; a reason is given exactly on failure; arguments point into the
 * line, respect their limits and re-parse to the same command; message
 * numbers are never 0. In the output, every line that starts with a dot is
 * stuffed except the final ".\r\n", removing the stuffing gives the message
 * back, and TOP's cut grows with the line count and never passes the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_pop3_parse: %s\n", what);
		abort();
	}
}

static bool inside(struct str s, const char *line, size_t len)
{
	return s.p >= line && s.p + s.len <= line + len;
}

static void check_command(const char *line, size_t len)
{
	struct pop3_cmd cmd;
	struct buf why = BUF_INIT;
	enum pop3_parse_status st = pop3_parse_command(line, len, &cmd, &why);
	check(st >= POP3_PARSE_OK && st <= POP3_PARSE_SYNTAX, "status out of range");
	check((st == POP3_PARSE_OK) == (why.len == 0), "a reason without failure or none");
	check(cmd.nargs <= POP3_MAX_ARGS, "too many arguments kept");
	if (st == POP3_PARSE_UNKNOWN)
		check(cmd.verb == POP3_VERB_UNKNOWN, "an unknown command with a verb");
	if (st != POP3_PARSE_OK) {
		buf_free(&why);
		return;
	}
	check(cmd.verb != POP3_VERB_UNKNOWN, "an unknown verb parsed");
	for (size_t i = 0; i < cmd.nargs; i++) {
		check(cmd.args[i].len > 0 && inside(cmd.args[i], line, len),
		      "argument outside the line");
		check(memchr(cmd.args[i].p, '\0', cmd.args[i].len) == NULL, "NUL in an argument");
	}
	switch (cmd.verb) {
	case POP3_VERB_RETR:
	case POP3_VERB_DELE:
	case POP3_VERB_TOP:
		check(cmd.nargs >= 1 && cmd.msg >= 1, "a message command without a number");
		break;
	case POP3_VERB_LIST:
	case POP3_VERB_UIDL:
		check(cmd.nargs == 0 || cmd.msg >= 1, "message number 0 accepted");
		break;
	case POP3_VERB_APOP:
		check(cmd.args[0].len <= POP3_MAX_ARG && cmd.args[1].len <= POP3_MAX_ARG,
		      "an APOP argument over the limit");
		break;
	case POP3_VERB_AUTH:
		check(cmd.nargs == 0 || cmd.args[0].len <= POP3_MAX_MECH, "a long mechanism");
		break;
	default:
		break;
	}

	/* The canonical form parses to the same command. */
	struct buf again = BUF_INIT;
	buf_puts(&again, pop3_verb_name(cmd.verb));
	for (size_t i = 0; i < cmd.nargs; i++) {
		buf_putc(&again, ' ');
		buf_append(&again, cmd.args[i].p, cmd.args[i].len);
	}
	struct pop3_cmd cmd2;
	check(pop3_parse_command(again.data, again.len, &cmd2, NULL) == POP3_PARSE_OK,
	      "canonical form does not parse");
	check(cmd2.verb == cmd.verb && cmd2.nargs == cmd.nargs && cmd2.msg == cmd.msg &&
	              cmd2.lines == cmd.lines,
	      "canonical form parses differently");
	for (size_t i = 0; i < cmd.nargs; i++)
		check(str_eq(cmd2.args[i], cmd.args[i]), "an argument changed on a second parse");
	buf_free(&again);
	buf_free(&why);
}

/* Runs the reader over the input in pieces; one line per entry of lines_r
   ("\x01" marks a too-long line). */
static void read_lines(const uint8_t *data, size_t size, size_t max, bool pieces, struct buf *out)
{
	struct pop3_line_reader r;
	pop3_line_init(&r, max);
	size_t pos = 0;
	unsigned seed = size ? data[0] : 1;
	while (pos < size) {
		size_t n = size - pos;
		if (pieces) {
			seed = seed * 1103515245u + 12345u;
			size_t piece = 1 + (seed >> 16) % 17;
			if (piece < n)
				n = piece;
		}
		while (n > 0) {
			size_t used = 0;
			enum pop3_line_status st =
			        pop3_line_feed(&r, (const char *)data + pos, n, &used);
			check(used > 0 && used <= n, "the reader consumed nothing or too much");
			check(st >= POP3_LINE_MORE && st <= POP3_LINE_TOO_LONG, "bad line status");
			if (st == POP3_LINE_DONE) {
				check(r.line.len + 1 <= max, "a line over the limit");
				check(r.line.data[r.line.len] == '\0', "a line not terminated");
				check(memchr(r.line.data, '\n', r.line.len) == NULL,
				      "LF in a line");
				buf_append(out, r.line.data, r.line.len);
				buf_putc(out, '\n');
				if (!pieces)
					check_command(r.line.data, r.line.len);
			} else if (st == POP3_LINE_TOO_LONG) {
				buf_puts(out, "\x01\n");
			} else {
				check(used == n, "MORE without consuming everything");
			}
			pos += used;
			n -= used;
		}
	}
	pop3_line_free(&r);
}

static void collect(const char *p, size_t n, void *arg)
{
	check(n > 0, "an empty piece emitted");
	buf_append(arg, p, n);
}

static void check_multiline(const char *msg, size_t len)
{
	struct buf out = BUF_INIT;
	pop3_write_multiline(msg, len, collect, &out);
	check(out.len >= 3 && memcmp(out.data + out.len - 3, ".\r\n", 3) == 0, "no terminator");
	size_t body = out.len - 3;
	check(body == 0 || (body >= 2 && memcmp(out.data + body - 2, "\r\n", 2) == 0),
	      "the terminator does not start a line");
	/* Every line start before the terminator: a dot is always doubled. */
	struct buf back = BUF_INIT;
	size_t pos = 0;
	while (pos < body) {
		const char *nl = memchr(out.data + pos, '\n', body - pos);
		size_t end = nl ? (size_t)(nl - out.data) + 1 : body;
		size_t skip = 0;
		if (out.data[pos] == '.') {
			check(pos + 1 < body && out.data[pos + 1] == '.', "an unstuffed dot line");
			skip = 1;
		}
		buf_append(&back, out.data + pos + skip, end - pos - skip);
		pos = end;
	}
	bool added = len > 0 && !(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n');
	check(back.len == len + (added ? 2 : 0), "unstuffing changed the length");
	check(len == 0 || memcmp(back.data, msg, len) == 0, "unstuffing changed the message");
	buf_free(&back);
	buf_free(&out);

	size_t prev = 0;
	const uint64_t counts[] = {0, 1, 2, 5, 100, UINT64_MAX};
	for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
		size_t n = pop3_top_length(msg, len, counts[i]);
		check(n <= len && n >= prev, "TOP's cut out of order");
		check(n == len || (n > 0 && msg[n - 1] == '\n'), "TOP cut inside a line");
		prev = n;
	}
	check(pop3_top_length(msg, len, UINT64_MAX) == len, "TOP of every line is not all");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole = BUF_INIT, pieces = BUF_INIT;
	size_t max = size && (data[0] & 1) ? POP3_MAX_SASL_LINE : POP3_MAX_LINE;
	read_lines(data, size, max, false, &whole);
	read_lines(data, size, max, true, &pieces);
	check(whole.len == pieces.len &&
	              (whole.len == 0 || memcmp(whole.data, pieces.data, whole.len) == 0),
	      "pieces give other lines");
	buf_free(&whole);
	buf_free(&pieces);

	check_multiline((const char *)data, size);
	return 0;
}
