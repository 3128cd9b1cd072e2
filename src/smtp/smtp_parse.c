/*
 * smtp_parse — SMTP command lines and the DATA stream, as pure functions of
 * bytes (see smtp_internal.h for the contract).
 *
 * The grammar is RFC 5321 4.1.2 and 4.1.3, widened by RFC 6531 (UTF-8 in atext,
 * qtextSMTP, sub-domains and esmtp-values, valid sequences only). How failures
 * are classified, so that the session can pick its reply:
 *
 *  - SYNTAX: a NUL, CR or LF in the line; a missing or misspelled "FROM:"/"TO:";
 *    a path that does not start with "<" or has no ">" after it; anything after
 *    the path's ">" that is not a space; a malformed parameter; an argument
 *    where none is allowed, or none where one is required.
 *  - BAD_ADDRESS: everything between "<" and ">" that is not a Reverse-path or
 *    Forward-path, invalid UTF-8 included; "<>" on RCPT.
 *  - TOO_LONG: a local part (unquoted) over 64 octets, a domain over 255, a path
 *    (brackets included) over 256, a parameter value over 1024.
 *  - TOO_MANY: a 17th parameter.
 *
 * The verb is set in cmd->verb whenever it was recognised, even when its
 * arguments are wrong, so that the session can choose 5.1.7 (MAIL) or 5.1.3.
 */
#include "smtp/smtp_internal.h"

#include <string.h>

/* ---- character classes ----------------------------------------------------- */

static bool is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_let_dig(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

static bool is_upper_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'F');
}

static bool is_any_hex(unsigned char c)
{
	return is_upper_hex(c) || (c >= 'a' && c <= 'f');
}

/* atext of RFC 5322 3.2.3, ASCII part. */
static bool is_atext(unsigned char c)
{
	return is_let_dig(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* qtextSMTP, ASCII part: %d32-33 / %d35-91 / %d93-126. */
static bool is_qtext(unsigned char c)
{
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

/* dcontent: %d33-90 / %d94-126. */
static bool is_dcontent(unsigned char c)
{
	return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

/*
 * The length of the valid UTF-8 sequence of two to four octets at s (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len = utf8_decode(s, n, &cp);
	return len >= 2 ? len : 0;
}

/* ---- small helpers ---------------------------------------------------------- */

struct cursor {
	const unsigned char *s;
	size_t n;
	size_t i;
};

static int peek(const struct cursor *c)
{
	return c->i < c->n ? c->s[c->i] : -1;
}

static bool accept(struct cursor *c, unsigned char ch)
{
	if (peek(c) != ch)
		return false;
	c->i++;
	return true;
}

static enum smtp_parse_status fail(struct buf *why, enum smtp_parse_status st, const char *reason)
{
	if (why)
		buf_puts(why, reason);
	return st;
}

/* Length of a Ldh-str at s (letters, digits, hyphens, ending in a letter or digit). */
static bool is_ldh_str(const unsigned char *s, size_t n)
{
	if (n == 0 || !is_let_dig(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_let_dig(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* ---- address literals (RFC 5321 4.1.3) --------------------------------------- */

/* IPv4-address-literal: Snum 3("." Snum), Snum = 1*3DIGIT in 0..255. */
static bool ipv4_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		unsigned v = 0;
		size_t digits = 0;
		while (i < n && is_digit(s[i]) && digits < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || v > 255)
			return false;
	}
	return i == n;
}

/*
 * IPv6-addr of RFC 5321: IPv6-full, IPv6-comp, IPv6v4-full, IPv6v4-comp. As the
 * RFC says, "::" stands for at least two groups of zeros, so at most six groups
 * (four before an IPv4 tail) may be written beside it.
 */
static bool ipv6_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, groups = 0;
	bool dcolon = false, v4 = false;

	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		dcolon = true;
		i = 2;
	} else if (n == 0 || s[0] == ':') {
		return false;
	}
	while (i < n) {
		size_t j = i;
		while (j < n && is_any_hex(s[j]))
			j++;
		if (j < n && s[j] == '.') {
			if (!ipv4_valid(s + i, n - i))
				return false;
			v4 = true;
			break;
		}
		if (j == i || j - i > 4)
			return false;
		groups++;
		i = j;
		if (i == n)
			break;
		if (s[i] != ':')
			return false;
		i++;
		if (i < n && s[i] == ':') {
			if (dcolon)
				return false;
			dcolon = true;
			i++;
		} else if (i == n) {
			return false; /* a trailing single colon */
		}
	}
	size_t total = v4 ? 6 : 8;
	return dcolon ? groups <= total - 2 : groups == total;
}

/* ---- paths -------------------------------------------------------------------- */

/*
 * Domain / address-literal at the cursor, appended as written to out.
 * Returns OK, BAD_ADDRESS or TOO_LONG.
 */
static enum smtp_parse_status parse_domain(struct cursor *c, struct buf *out, bool *literal_r,
                                           bool *utf8_r, struct buf *why)
{
	size_t start = c->i;

	*literal_r = false;
	if (accept(c, '[')) {
		size_t cs = c->i;
		while (c->i < c->n && is_dcontent(c->s[c->i]))
			c->i++;
		size_t ce = c->i;
		if (!accept(c, ']'))
			return fail(why, SMTP_PARSE_BAD_ADDRESS, "bad address literal");
		const unsigned char *lit = c->s + cs;
		size_t litlen = ce - cs;
		const unsigned char *colon = memchr(lit, ':', litlen);
		bool ok;
		if (colon == NULL) {
			ok = ipv4_valid(lit, litlen);
		} else {
			size_t taglen = (size_t)(colon - lit);
			if (!is_ldh_str(lit, taglen))
				ok = false;
			else if (str_eq_cstr_nocase((struct str){(const char *)lit, taglen},
			                            "IPv6"))
				ok = ipv6_valid(colon + 1, litlen - taglen - 1);
			else
				ok = litlen - taglen - 1 > 0; /* General-address-literal */
		}
		if (!ok)
			return fail(why, SMTP_PARSE_BAD_ADDRESS, "bad address literal");
		*literal_r = true;
	} else {
		for (;;) {
			size_t ls = c->i;
			bool ascii = true;
			while (c->i < c->n) {
				unsigned char ch = c->s[c->i];
				if (is_let_dig(ch) || ch == '-') {
					c->i++;
				} else if (ch >= 0x80) {
					size_t u = utf8_len(c->s + c->i, c->n - c->i);
					if (u == 0)
						return fail(why, SMTP_PARSE_BAD_ADDRESS,
						            "invalid UTF-8 in domain");
					c->i += u;
					ascii = false;
					*utf8_r = true;
				} else {
					break;
				}
			}
			size_t ll = c->i - ls;
			if (ll == 0 || c->s[ls] == '-' || c->s[c->i - 1] == '-')
				return fail(why, SMTP_PARSE_BAD_ADDRESS, "bad domain");
			/* A U-label's limit is on its A-label form, which we do not compute. */
			if (ascii && ll > 63)
				return fail(why, SMTP_PARSE_BAD_ADDRESS, "domain label too long");
			if (!accept(c, '.'))
				break;
		}
	}
	size_t len = c->i - start;
	if (len > SMTP_MAX_DOMAIN)
		return fail(why, SMTP_PARSE_TOO_LONG, "domain too long");
	buf_append(out, c->s + start, len);
	return SMTP_PARSE_OK;
}

/* Local-part at the cursor, unquoted into out. */
static enum smtp_parse_status parse_local(struct cursor *c, struct buf *out, bool *quoted_r,
                                          bool *utf8_r, struct buf *why)
{
	*quoted_r = false;
	if (accept(c, '"')) {
		*quoted_r = true;
		for (;;) {
			int ch = peek(c);
			if (ch < 0)
				return fail(why, SMTP_PARSE_BAD_ADDRESS,
				            "unterminated quoted string");
			if (ch == '"') {
				c->i++;
				break;
			}
			if (ch == '\\') {
				c->i++;
				ch = peek(c);
				if (ch < 32 || ch > 126)
					return fail(why, SMTP_PARSE_BAD_ADDRESS, "bad quoted pair");
				buf_putc(out, (char)ch);
				c->i++;
			} else if (ch >= 0x80) {
				size_t u = utf8_len(c->s + c->i, c->n - c->i);
				if (u == 0)
					return fail(why, SMTP_PARSE_BAD_ADDRESS,
					            "invalid UTF-8 in local part");
				buf_append(out, c->s + c->i, u);
				c->i += u;
				*utf8_r = true;
			} else if (is_qtext((unsigned char)ch)) {
				buf_putc(out, (char)ch);
				c->i++;
			} else {
				return fail(why, SMTP_PARSE_BAD_ADDRESS,
				            "bad character in local part");
			}
		}
	} else {
		for (;;) {
			size_t as = c->i;
			while (c->i < c->n) {
				unsigned char ch = c->s[c->i];
				if (is_atext(ch)) {
					c->i++;
				} else if (ch >= 0x80) {
					size_t u = utf8_len(c->s + c->i, c->n - c->i);
					if (u == 0)
						return fail(why, SMTP_PARSE_BAD_ADDRESS,
						            "invalid UTF-8 in local part");
					c->i += u;
					*utf8_r = true;
				} else {
					break;
				}
			}
			if (c->i == as)
				return fail(why, SMTP_PARSE_BAD_ADDRESS, "bad local part");
			buf_append(out, c->s + as, c->i - as);
			if (!accept(c, '.'))
				break;
			buf_putc(out, '.');
		}
	}
	if (out->len > SMTP_MAX_LOCAL_PART)
		return fail(why, SMTP_PARSE_TOO_LONG, "local part too long");
	return SMTP_PARSE_OK;
}

/* Whether an unquoted local part can be written as a Dot-string. */
static bool is_dot_string(const struct buf *local)
{
	const unsigned char *s = (const unsigned char *)buf_cstr(local);
	size_t n = local->len;
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n;) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
			i++;
		} else if (is_atext(s[i])) {
			i++;
		} else if (s[i] >= 0x80) {
			size_t u = utf8_len(s + i, n - i);
			if (u == 0)
				return false;
			i += u;
		} else {
			return false;
		}
	}
	return true;
}

static void build_address(struct smtp_path *path)
{
	if (is_dot_string(&path->local)) {
		buf_append(&path->address, path->local.data, path->local.len);
	} else {
		buf_putc(&path->address, '"');
		for (size_t i = 0; i < path->local.len; i++) {
			char ch = path->local.data[i];
			if (ch == '"' || ch == '\\')
				buf_putc(&path->address, '\\');
			buf_putc(&path->address, ch);
		}
		buf_putc(&path->address, '"');
	}
	buf_putc(&path->address, '@');
	buf_append(&path->address, path->domain.data, path->domain.len);
}

/*
 * Path (or "<>" for MAIL) at the cursor, which is on "<" and knows a ">"
 * follows somewhere. Leaves the cursor after the closing ">".
 */
static enum smtp_parse_status parse_path(struct cursor *c, bool is_mail, struct smtp_path *path,
                                         struct buf *why)
{
	size_t start = c->i;
	enum smtp_parse_status st;
	bool literal, route = false;

	c->i++; /* "<" */
	if (accept(c, '>')) {
		if (!is_mail)
			return fail(why, SMTP_PARSE_BAD_ADDRESS, "empty recipient");
		path->null = true;
		return SMTP_PARSE_OK;
	}
	if (peek(c) == '@') {
		/* A-d-l ":" — parsed, then forgotten (RFC 5321 4.1.2 and C). */
		route = true;
		do {
			if (!accept(c, '@'))
				return fail(why, SMTP_PARSE_BAD_ADDRESS, "bad source route");
			st = parse_domain(c, &path->domain, &literal, &path->utf8, why);
			if (st != SMTP_PARSE_OK)
				return st;
			buf_reset(&path->domain);
		} while (accept(c, ','));
		if (!accept(c, ':'))
			return fail(why, SMTP_PARSE_BAD_ADDRESS, "bad source route");
		path->utf8 = false;
	}
	st = parse_local(c, &path->local, &path->quoted, &path->utf8, why);
	if (st != SMTP_PARSE_OK)
		return st;
	if (!is_mail && !route && !path->quoted && peek(c) == '>' &&
	    str_eq_cstr_nocase(str_buf(&path->local), "postmaster")) {
		c->i++;
		path->postmaster = true;
		buf_append(&path->address, path->local.data, path->local.len);
		return SMTP_PARSE_OK;
	}
	if (!accept(c, '@'))
		return fail(why, SMTP_PARSE_BAD_ADDRESS, "address without a domain");
	st = parse_domain(c, &path->domain, &path->domain_literal, &path->utf8, why);
	if (st != SMTP_PARSE_OK)
		return st;
	if (!accept(c, '>'))
		return fail(why, SMTP_PARSE_BAD_ADDRESS, "bad address");
	if (c->i - start > SMTP_MAX_PATH)
		return fail(why, SMTP_PARSE_TOO_LONG, "path too long");
	build_address(path);
	return SMTP_PARSE_OK;
}

/* ---- parameters --------------------------------------------------------------- */

/* Mail-parameters / Rcpt-parameters: the rest of the line, trailing spaces trimmed. */
static enum smtp_parse_status parse_params(struct cursor *c, struct smtp_cmd *cmd, struct buf *why)
{
	while (c->i < c->n) {
		if (!accept(c, ' '))
			return fail(why, SMTP_PARSE_SYNTAX, "junk after the address");
		while (accept(c, ' '))
			;
		if (c->i == c->n)
			break;
		if (cmd->nparams == SMTP_MAX_PARAMS)
			return fail(why, SMTP_PARSE_TOO_MANY, "too many parameters");
		size_t ks = c->i;
		if (!is_let_dig(c->s[c->i]))
			return fail(why, SMTP_PARSE_SYNTAX, "bad parameter");
		while (c->i < c->n && (is_let_dig(c->s[c->i]) || c->s[c->i] == '-'))
			c->i++;
		struct smtp_param *p = &cmd->params[cmd->nparams];
		p->keyword = (struct str){(const char *)c->s + ks, c->i - ks};
		p->value = (struct str){NULL, 0};
		if (accept(c, '=')) {
			size_t vs = c->i;
			while (c->i < c->n) {
				unsigned char ch = c->s[c->i];
				if (ch >= 33 && ch <= 126 && ch != '=') {
					c->i++;
				} else if (ch >= 0x80) {
					size_t u = utf8_len(c->s + c->i, c->n - c->i);
					if (u == 0)
						return fail(why, SMTP_PARSE_SYNTAX,
						            "invalid UTF-8 in parameter");
					c->i += u;
				} else {
					break;
				}
			}
			if (c->i == vs)
				return fail(why, SMTP_PARSE_SYNTAX, "empty parameter value");
			if (c->i - vs > SMTP_MAX_PARAM_VALUE)
				return fail(why, SMTP_PARSE_TOO_LONG, "parameter value too long");
			p->value = (struct str){(const char *)c->s + vs, c->i - vs};
		}
		if (c->i < c->n && c->s[c->i] != ' ')
			return fail(why, SMTP_PARSE_SYNTAX, "bad parameter");
		cmd->nparams++;
	}
	return SMTP_PARSE_OK;
}

/* "FROM:" / "TO:", one tolerated space, Path, parameters. */
static enum smtp_parse_status parse_mail_rcpt(struct str arg, bool is_mail, struct smtp_cmd *cmd,
                                              struct buf *why)
{
	const char *kw = is_mail ? "FROM:" : "TO:";
	size_t kwlen = strlen(kw);
	if (!str_has_prefix_nocase(arg, kw))
		return fail(why, SMTP_PARSE_SYNTAX,
		            is_mail ? "expected FROM:<address>" : "expected TO:<address>");
	struct cursor c = {(const unsigned char *)arg.p, arg.len, kwlen};
	accept(&c, ' ');
	if (peek(&c) != '<')
		return fail(why, SMTP_PARSE_SYNTAX, "the address must be in <>");
	if (memchr(c.s + c.i, '>', c.n - c.i) == NULL)
		return fail(why, SMTP_PARSE_SYNTAX, "missing >");
	enum smtp_parse_status st = parse_path(&c, is_mail, &cmd->path, why);
	if (st != SMTP_PARSE_OK)
		return st;
	return parse_params(&c, cmd, why);
}

/* ---- commands ------------------------------------------------------------------- */

enum arg_rule {
	ARG_NONE,     /* no argument allowed */
	ARG_OPTIONAL, /* raw, may be empty */
	ARG_REQUIRED, /* raw, must not be empty */
	ARG_SPECIAL,  /* parsed by the verb's own code */
};

static const struct {
	const char *name;
	enum smtp_verb verb;
	enum arg_rule rule;
} verbs[] = {
        {"HELO", SMTP_VERB_HELO, ARG_SPECIAL},      {"EHLO", SMTP_VERB_EHLO, ARG_SPECIAL},
        {"MAIL", SMTP_VERB_MAIL, ARG_SPECIAL},      {"RCPT", SMTP_VERB_RCPT, ARG_SPECIAL},
        {"DATA", SMTP_VERB_DATA, ARG_NONE},         {"BDAT", SMTP_VERB_BDAT, ARG_SPECIAL},
        {"RSET", SMTP_VERB_RSET, ARG_NONE},         {"NOOP", SMTP_VERB_NOOP, ARG_OPTIONAL},
        {"QUIT", SMTP_VERB_QUIT, ARG_NONE},         {"VRFY", SMTP_VERB_VRFY, ARG_REQUIRED},
        {"EXPN", SMTP_VERB_EXPN, ARG_REQUIRED},     {"HELP", SMTP_VERB_HELP, ARG_OPTIONAL},
        {"STARTTLS", SMTP_VERB_STARTTLS, ARG_NONE}, {"AUTH", SMTP_VERB_AUTH, ARG_REQUIRED},
};

/* HELO/EHLO: one token of printable ASCII or valid UTF-8, no spaces. */
static bool helo_arg_valid(struct str arg)
{
	const unsigned char *s = (const unsigned char *)arg.p;
	if (arg.len == 0)
		return false;
	for (size_t i = 0; i < arg.len;) {
		if (s[i] >= 33 && s[i] <= 126) {
			i++;
		} else {
			size_t u = utf8_len(s + i, arg.len - i);
			if (u == 0)
				return false;
			i += u;
		}
	}
	return true;
}

void smtp_cmd_init(struct smtp_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	buf_init(&cmd->path.local);
	buf_init(&cmd->path.domain);
	buf_init(&cmd->path.address);
	cmd->arg = STR_LIT("");
}

void smtp_cmd_free(struct smtp_cmd *cmd)
{
	buf_free(&cmd->path.local);
	buf_free(&cmd->path.domain);
	buf_free(&cmd->path.address);
}

static void cmd_reset(struct smtp_cmd *cmd)
{
	struct smtp_path *p = &cmd->path;
	cmd->verb = SMTP_VERB_UNKNOWN;
	cmd->arg = STR_LIT("");
	cmd->nparams = 0;
	p->null = p->postmaster = p->quoted = p->utf8 = p->domain_literal = false;
	buf_reset(&p->local);
	buf_reset(&p->domain);
	buf_reset(&p->address);
}

enum smtp_parse_status smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd,
                                          struct buf *why)
{
	cmd_reset(cmd);
	if (line == NULL)
		line = "";
	if (memchr(line, '\0', len) || memchr(line, '\r', len) || memchr(line, '\n', len))
		return fail(why, SMTP_PARSE_SYNTAX, "NUL, CR or LF in the command");

	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	size_t as = vlen, ae = len;
	while (as < len && line[as] == ' ')
		as++;
	while (ae > as && line[ae - 1] == ' ')
		ae--;
	struct str arg = {line + as, ae - as};
	struct str vname = {line, vlen};

	size_t v;
	for (v = 0; v < ARRAY_SIZE(verbs); v++)
		if (str_eq_cstr_nocase(vname, verbs[v].name))
			break;
	cmd->arg = arg;
	if (v == ARRAY_SIZE(verbs))
		return fail(why, SMTP_PARSE_UNKNOWN, "unknown command");
	cmd->verb = verbs[v].verb;

	switch (verbs[v].rule) {
	case ARG_NONE:
		if (arg.len)
			return fail(why, SMTP_PARSE_SYNTAX, "no argument allowed");
		return SMTP_PARSE_OK;
	case ARG_OPTIONAL:
		return SMTP_PARSE_OK;
	case ARG_REQUIRED:
		if (arg.len == 0)
			return fail(why, SMTP_PARSE_SYNTAX, "argument required");
		return SMTP_PARSE_OK;
	case ARG_SPECIAL:
		break;
	}
	switch (cmd->verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		if (!helo_arg_valid(arg))
			return fail(why, SMTP_PARSE_SYNTAX, "expected a host name");
		return SMTP_PARSE_OK;
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		return parse_mail_rcpt(arg, cmd->verb == SMTP_VERB_MAIL, cmd, why);
	case SMTP_VERB_BDAT: {
		uint64_t size;
		bool last;
		if (smtp_parse_bdat(arg, &size, &last) < 0)
			return fail(why, SMTP_PARSE_SYNTAX, "expected a chunk size [LAST]");
		return SMTP_PARSE_OK;
	}
	default:
		panic("smtp_parse_command: verb %d has no argument rule", (int)cmd->verb);
	}
}

const struct smtp_param *smtp_cmd_param(const struct smtp_cmd *cmd, const char *keyword)
{
	for (size_t i = 0; i < cmd->nparams; i++)
		if (str_eq_cstr_nocase(cmd->params[i].keyword, keyword))
			return &cmd->params[i];
	return NULL;
}

static unsigned hex_value(unsigned char c)
{
	return is_digit(c) ? (unsigned)(c - '0') : (unsigned)(c - 'A' + 10);
}

/*
 * RFC 3461 4: xchar is "!" to "~" except "+" and "="; hexchar is "+" and two
 * upper case hexadecimal digits (lower case is not xtext, and is refused).
 */
int smtp_xtext_decode(struct str in, struct buf *out)
{
	size_t orig = out->len;
	const unsigned char *s = (const unsigned char *)in.p;
	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = s[i];
		if (c == '+') {
			if (in.len - i < 3 || !is_upper_hex(s[i + 1]) || !is_upper_hex(s[i + 2]))
				goto bad;
			buf_putc(out, (char)(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2])));
			i += 2;
		} else if (c >= 33 && c <= 126 && c != '=') {
			buf_putc(out, (char)c);
		} else {
			goto bad;
		}
	}
	return 0;
bad:
	buf_truncate(out, orig);
	return -1;
}

int smtp_parse_bdat(struct str arg, uint64_t *size_r, bool *last_r)
{
	size_t n = 0;
	while (n < arg.len && is_digit((unsigned char)arg.p[n]))
		n++;
	if (n == 0 || n > 20)
		return -1;
	uint64_t size;
	if (!str_to_u64((struct str){arg.p, n}, &size))
		return -1;
	bool last = false;
	if (n < arg.len) {
		if (!str_eq_cstr_nocase((struct str){arg.p + n, arg.len - n}, " LAST"))
			return -1;
		last = true;
	}
	*size_r = size;
	*last_r = last;
	return 0;
}

/* ---- DATA --------------------------------------------------------------------- */

enum data_state {
	DATA_LINE_START = 0, /* just after CRLF (or at the very start) */
	DATA_MID,            /* inside a line */
	DATA_CR,             /* inside a line, after a CR not yet known to be a line end */
	DATA_DOT,            /* after a "." at the start of a line (held back) */
	DATA_DOT_CR,         /* after "." CR at the start of a line (both held back) */
	DATA_DONE,
};

/* Counts n message bytes and buffers what still fits under the limit. */
static void data_emit(struct smtp_data_reader *r, struct buf *out, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x80)
			r->has_8bit = true;
		else if (c == 0)
			r->has_nul = true;
	}
	if (!r->too_big) {
		size_t take = n;
		if (r->max > 0 && r->size + n > r->max) {
			take = (size_t)(r->max - r->size);
			r->too_big = true;
		}
		buf_append(out, p, take);
	}
	r->size += n;
}

void smtp_data_init(struct smtp_data_reader *r, uint64_t max)
{
	memset(r, 0, sizeof(*r));
	r->state = DATA_LINE_START;
	r->max = max;
}

enum smtp_data_status smtp_data_feed(struct smtp_data_reader *r, const char *in, size_t len,
                                     size_t *consumed, struct buf *out)
{
	size_t i = 0;

	while (i < len && r->state != DATA_DONE) {
		char c = in[i];
		switch (r->state) {
		case DATA_LINE_START:
			if (c == '.') {
				r->state = DATA_DOT;
				i++;
			} else {
				r->state = DATA_MID;
			}
			break;
		case DATA_MID: {
			size_t j = i;
			while (j < len && in[j] != '\r' && in[j] != '\n')
				j++;
			if (j > i) {
				data_emit(r, out, in + i, j - i);
				i = j;
			} else if (c == '\r') {
				r->state = DATA_CR;
				i++;
			} else {
				r->bare_crlf = true; /* a LF with no CR before it */
				data_emit(r, out, "\n", 1);
				i++;
			}
			break;
		}
		case DATA_CR:
			if (c == '\n') {
				data_emit(r, out, "\r\n", 2);
				r->state = DATA_LINE_START;
				i++;
			} else {
				r->bare_crlf = true; /* a CR with no LF after it */
				data_emit(r, out, "\r", 1);
				r->state = DATA_MID;
			}
			break;
		case DATA_DOT:
			if (c == '\r') {
				r->state = DATA_DOT_CR;
				i++;
			} else {
				r->state = DATA_MID; /* the stuffed dot is dropped */
			}
			break;
		case DATA_DOT_CR:
			if (c == '\n') {
				r->state = DATA_DONE;
				i++;
			} else {
				/* "." then a bare CR: not the end; the dot is dropped */
				r->bare_crlf = true;
				data_emit(r, out, "\r", 1);
				r->state = DATA_MID;
			}
			break;
		default:
			panic("smtp_data_feed: bad state %d", r->state);
		}
	}
	*consumed = i;
	return r->state == DATA_DONE ? SMTP_DATA_DONE : SMTP_DATA_MORE;
}
