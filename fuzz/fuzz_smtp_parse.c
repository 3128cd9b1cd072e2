// fuzz-sources: src/smtp/smtp_parse.c src/core/mem.c src/core/buf.c src/core/str.c src/core/codec.c
// fuzz-libs:
/*
 * fuzz_smtp_parse — SMTP command lines.
 *
 * The input is split on '\n'; each piece is parsed as one command line, with
 * the same struct smtp_cmd reused across lines as the session does.
 *
 * Checked: no crash, leak or sanitizer report; statuses stay in the enum; a
 * reason is given exactly on failure; a parsed path respects every limit; the
 * canonical address of a parsed path parses again to itself; parameters point
 * into the line and respect their limits; smtp_cmd_param finds the first
 * parameter of each keyword; xtext decoding never grows; the BDAT argument of
 * an accepted BDAT parses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_smtp_parse: %s\n", what);
		abort();
	}
}

static bool inside(struct str s, const char *line, size_t len)
{
	return s.p >= line && s.p + s.len <= line + len;
}

/* The canonical address must read back as the same mailbox. */
static void check_round_trip(const struct smtp_path *path)
{
	struct smtp_cmd again;
	struct buf line = BUF_INIT;
	smtp_cmd_init(&again);
	buf_puts(&line, "RCPT TO:<");
	buf_append(&line, path->address.data, path->address.len);
	buf_puts(&line, ">");
	enum smtp_parse_status st = smtp_parse_command(line.data, line.len, &again, NULL);
	/* re-quoting can push a path that was at the limit over it */
	check(st == SMTP_PARSE_OK || st == SMTP_PARSE_TOO_LONG, "canonical address does not parse");
	if (st == SMTP_PARSE_OK) {
		check(str_eq(str_buf(&again.path.address), str_buf(&path->address)),
		      "canonical address changed on a second parse");
		check(str_eq(str_buf(&again.path.local), str_buf(&path->local)),
		      "local part changed on a second parse");
		check(str_eq(str_buf(&again.path.domain), str_buf(&path->domain)),
		      "domain changed on a second parse");
		check(again.path.utf8 == path->utf8, "utf8 flag changed on a second parse");
		check(again.path.domain_literal == path->domain_literal,
		      "literal flag changed on a second parse");
	}
	buf_free(&line);
	smtp_cmd_free(&again);
}

static void check_command(const char *line, size_t len, enum smtp_parse_status st,
                          const struct smtp_cmd *cmd, const struct buf *why)
{
	check(st >= SMTP_PARSE_OK && st <= SMTP_PARSE_BAD_ADDRESS, "status out of range");
	check((st == SMTP_PARSE_OK) == (why->len == 0), "a reason without failure or none");
	check(cmd->nparams <= SMTP_MAX_PARAMS, "too many parameters kept");
	check(cmd->arg.p != NULL && (cmd->arg.len == 0 || inside(cmd->arg, line, len)),
	      "argument outside the line");

	if (st != SMTP_PARSE_OK)
		return;
	check(cmd->verb != SMTP_VERB_UNKNOWN, "an unknown verb parsed");

	const struct smtp_path *p = &cmd->path;
	if (cmd->verb == SMTP_VERB_MAIL || cmd->verb == SMTP_VERB_RCPT) {
		check(!p->null || cmd->verb == SMTP_VERB_MAIL, "a null path on RCPT");
		check(!p->postmaster || cmd->verb == SMTP_VERB_RCPT, "postmaster on MAIL");
		check(p->local.len <= SMTP_MAX_LOCAL_PART, "local part over the limit");
		check(p->domain.len <= SMTP_MAX_DOMAIN, "domain over the limit");
		if (p->null)
			check(p->address.len == 0 && p->local.len == 0,
			      "a null path with an address");
		else if (p->postmaster)
			check(p->domain.len == 0 &&
			              str_eq(str_buf(&p->address), str_buf(&p->local)),
			      "postmaster with a domain");
		else
			check_round_trip(p);
	} else {
		check(p->address.len == 0 && !p->null && !p->postmaster,
		      "a path outside MAIL/RCPT");
		check(cmd->nparams == 0, "parameters outside MAIL/RCPT");
	}

	struct buf dec = BUF_INIT;
	for (size_t i = 0; i < cmd->nparams; i++) {
		const struct smtp_param *prm = &cmd->params[i];
		check(prm->keyword.len > 0 && inside(prm->keyword, line, len), "bad keyword");
		if (prm->value.p == NULL) {
			check(prm->value.len == 0, "a missing value with a length");
		} else {
			check(prm->value.len > 0 && prm->value.len <= SMTP_MAX_PARAM_VALUE &&
			              inside(prm->value, line, len),
			      "bad value");
			buf_reset(&dec);
			if (smtp_xtext_decode(prm->value, &dec) == 0)
				check(dec.len <= prm->value.len, "xtext grew");
			else
				check(dec.len == 0, "failed xtext left output");
		}
		char *kw = str_dup(prm->keyword);
		const struct smtp_param *found = smtp_cmd_param(cmd, kw);
		check(found != NULL && found <= prm && str_eq_nocase(found->keyword, prm->keyword),
		      "smtp_cmd_param missed a keyword");
		free(kw);
	}
	buf_free(&dec);

	uint64_t bsize;
	bool last;
	if (cmd->verb == SMTP_VERB_BDAT)
		check(smtp_parse_bdat(cmd->arg, &bsize, &last) == 0,
		      "accepted BDAT with a bad size");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd cmd;
	struct buf why = BUF_INIT;
	smtp_cmd_init(&cmd);

	const char *p = (const char *)data, *end = p + size;
	while (p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		/* the session strips CRLF; a lone trailing CR stays to be refused */
		if (len > 0 && p[len - 1] == '\r' && nl)
			len--;
		buf_reset(&why);
		enum smtp_parse_status st = smtp_parse_command(p, len, &cmd, &why);
		check_command(p, len, st, &cmd, &why);

		/* also the raw argument as xtext and as BDAT, whatever the verb */
		struct buf dec = BUF_INIT;
		uint64_t bsize;
		bool last;
		(void)smtp_xtext_decode(cmd.arg, &dec);
		(void)smtp_parse_bdat(cmd.arg, &bsize, &last);
		buf_free(&dec);

		if (nl == NULL)
			break;
		p = nl + 1;
	}
	buf_free(&why);
	smtp_cmd_free(&cmd);
	return 0;
}
