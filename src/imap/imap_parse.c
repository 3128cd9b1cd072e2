/*
 * imap_parse — the IMAP command tokenizer and the literal framing help, as
 * pure functions of bytes (see imap_internal.h for the contract).
 *
 * Grammar: RFC 9051 section 9 and RFC 3501 section 9, with literal8 ("~{n}",
 * RFC 3516) and non-synchronising literals ("{n+}", RFC 7888). A command is
 *
 *     tag SP name [SP "UID"-subcommand] *(SP argument)
 *
 * with exactly one SP between tokens. Arguments are atoms, quoted strings,
 * literals, NIL and parenthesised lists. Atoms are wider than RFC atoms so
 * that one token type covers every command: any printable ASCII byte except
 * ( ) { SP and DQUOTE, which admits flags ("\Seen"), sequence sets ("1:*,$"),
 * list wildcards ("INBOX.%") and "]".
 *
 * Sections. A "[" inside an atom opens a section, as in FETCH's
 * BODY.PEEK[HEADER.FIELDS (FROM "To")]<0.1024>: the bracketed part is read as
 * a list of arguments (closed by "]") into arg->section, and the atom goes on
 * after the "]" with atom bytes other than "[" and "]" (the partial), so the
 * whole text stays one atom in value. Inside a section "[" is a plain atom
 * byte and "]" ends any atom. If a section cannot be read (unbalanced, as in
 * the mailbox name "a[b"), the atom is read again as plain bytes, "[" and "]"
 * included, and no further section is attempted in that command, which keeps
 * the work linear in the input.
 *
 * Failures:
 *  - NO_TAG: no tag byte at the start, a tag over IMAP_MAX_TAG bytes, or a
 *    tag followed by something other than SP or the end.
 *  - TOO_BIG: more than IMAP_MAX_ARGS arguments, lists nested deeper than
 *    IMAP_MAX_DEPTH.
 *  - BAD: everything else: a missing or malformed command name, a space too
 *    many or too few, a trailing space, a control or 8-bit byte outside a
 *    string, a bad escape or invalid UTF-8 in a quoted string, a malformed
 *    literal announcement, a literal shorter than announced, a NUL in a
 *    literal that is not binary, an unbalanced list.
 *
 * Storage. The tree is built in two arrays of nodes that may move while they
 * grow: elements of open lists wait on a stack and are moved, contiguously,
 * into a pool when their list closes. Only at the end is the pool copied into
 * cmd->pool with real pointers.
 */
#include "imap/imap_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- character classes ---------------------------------------------------- */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(unsigned char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool is_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){\"\\%*+", c) == NULL;
}

/* The tokenizer's atom bytes (see the top of the file). */
static bool is_atom_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

static bool is_name_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

static char ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - ('a' - 'A')) : c;
}

/* Length of the valid UTF-8 sequence of two to four bytes at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len = utf8_decode(s, n, &cp);
	return len >= 2 ? len : 0;
}

/* ---- numbers ------------------------------------------------------------------- */

bool imap_parse_number64(struct str text, uint64_t *n_r)
{
	uint64_t v = 0;
	if (text.len == 0)
		return false;
	for (size_t i = 0; i < text.len; i++) {
		unsigned char c = (unsigned char)text.p[i];
		if (!is_digit(c))
			return false;
		if (v > ((uint64_t)INT64_MAX - (uint64_t)(c - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*n_r = v;
	return true;
}

bool imap_parse_nz_number(struct str text, uint32_t *n_r)
{
	uint64_t v = 0;
	if (text.len == 0 || text.len > 10 || text.p[0] == '0')
		return false;
	for (size_t i = 0; i < text.len; i++) {
		unsigned char c = (unsigned char)text.p[i];
		if (!is_digit(c))
			return false;
		v = v * 10 + (uint64_t)(c - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*n_r = (uint32_t)v;
	return true;
}

/* ---- framing -------------------------------------------------------------------- */

bool imap_literal_at_end(const char *line, size_t len, struct imap_literal *lit)
{
	if (len < 3 || line[len - 1] != '}')
		return false;
	size_t j = len - 1; /* the "}" */
	bool nonsync = false;
	if (line[j - 1] == '+') {
		nonsync = true;
		j--;
	}
	size_t k = j;
	while (k > 0 && j - k <= 20 && is_digit((unsigned char)line[k - 1]))
		k--;
	if (k == j || j - k > 20 || k == 0 || line[k - 1] != '{')
		return false;
	uint64_t size = 0;
	for (size_t i = k; i < j; i++) {
		unsigned d = (unsigned)(line[i] - '0');
		if (size > (UINT64_MAX - d) / 10)
			return false;
		size = size * 10 + d;
	}
	lit->size = size;
	lit->nonsync = nonsync;
	lit->binary = k >= 2 && line[k - 2] == '~';
	return true;
}

/* ---- the tokenizer ----------------------------------------------------------------- */

struct node {
	struct imap_arg arg;
	size_t child;   /* LIST: first element in the pool; STRING: offset in cmd->unescaped */
	size_t schild;  /* ATOM with a section: first section element in the pool */
	bool unescaped; /* STRING: value lives in cmd->unescaped at offset child */
};

struct node_vec {
	struct node *v;
	size_t n, cap;
};

enum ctx { CTX_TOP, CTX_LIST, CTX_SECTION };

struct tok {
	const unsigned char *s;
	size_t n, i;
	struct imap_cmd *cmd;
	struct buf *why;
	struct node_vec stack; /* elements of the lists still open */
	struct node_vec pool;  /* elements of closed lists, each list contiguous */
	size_t nargs;          /* every node made, for IMAP_MAX_ARGS */
	bool no_sections;      /* a "[" failed to open a section: plain atoms from now on */
};

static void vec_push(struct node_vec *v, const struct node *nd)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
	}
	v->v[v->n++] = *nd;
}

static enum imap_parse_status fail(struct tok *t, enum imap_parse_status st, const char *why)
{
	if (t->why)
		buf_puts(t->why, why);
	return st;
}

static int peek(const struct tok *t)
{
	return t->i < t->n ? t->s[t->i] : -1;
}

static enum imap_parse_status push(struct tok *t, const struct node *nd)
{
	if (++t->nargs > IMAP_MAX_ARGS)
		return fail(t, IMAP_PARSE_TOO_BIG, "too many arguments");
	vec_push(&t->stack, nd);
	return IMAP_PARSE_OK;
}

static enum imap_parse_status parse_elements(struct tok *t, enum ctx ctx, int depth,
                                             bool in_section, size_t *first_r, size_t *count_r);

static enum imap_parse_status parse_quoted(struct tok *t, struct node *nd)
{
	size_t start = ++t->i;
	bool escaped = false;
	for (;;) {
		if (t->i >= t->n)
			return fail(t, IMAP_PARSE_BAD, "unterminated quoted string");
		unsigned char c = t->s[t->i];
		if (c == '"')
			break;
		if (c == '\\') {
			if (t->i + 1 >= t->n || (t->s[t->i + 1] != '"' && t->s[t->i + 1] != '\\'))
				return fail(t, IMAP_PARSE_BAD, "bad escape in quoted string");
			escaped = true;
			t->i += 2;
		} else if (c == '\0' || c == '\r' || c == '\n') {
			return fail(t, IMAP_PARSE_BAD, "NUL, CR or LF in quoted string");
		} else if (c >= 0x80) {
			size_t len = utf8_len(t->s + t->i, t->n - t->i);
			if (len == 0)
				return fail(t, IMAP_PARSE_BAD, "invalid UTF-8 in quoted string");
			t->i += len;
		} else {
			t->i++;
		}
	}
	size_t end = t->i++;
	nd->arg.type = IMAP_ARG_STRING;
	if (!escaped) {
		nd->arg.value = (struct str){(const char *)t->s + start, end - start};
		return IMAP_PARSE_OK;
	}
	struct buf *u = &t->cmd->unescaped;
	nd->unescaped = true;
	nd->child = u->len;
	for (size_t k = start; k < end; k++) {
		if (t->s[k] == '\\')
			k++;
		buf_putc(u, (char)t->s[k]);
	}
	nd->arg.value.len = u->len - nd->child;
	return IMAP_PARSE_OK;
}

static enum imap_parse_status parse_literal(struct tok *t, struct node *nd)
{
	bool binary = false;
	if (t->s[t->i] == '~') {
		binary = true;
		t->i++;
	}
	t->i++; /* "{" */
	size_t start = t->i;
	uint64_t size = 0;
	while (t->i < t->n && is_digit(t->s[t->i])) {
		unsigned d = (unsigned)(t->s[t->i] - '0');
		if (size > (UINT64_MAX - d) / 10)
			return fail(t, IMAP_PARSE_BAD, "literal size out of range");
		size = size * 10 + d;
		t->i++;
	}
	if (t->i == start)
		return fail(t, IMAP_PARSE_BAD, "malformed literal");
	if (peek(t) == '+')
		t->i++;
	if (peek(t) != '}')
		return fail(t, IMAP_PARSE_BAD, "malformed literal");
	t->i++;
	if (t->n - t->i < 2 || t->s[t->i] != '\r' || t->s[t->i + 1] != '\n')
		return fail(t, IMAP_PARSE_BAD, "literal announcement not followed by CRLF");
	t->i += 2;
	if (size > t->n - t->i)
		return fail(t, IMAP_PARSE_BAD, "literal shorter than announced");
	if (!binary && size && memchr(t->s + t->i, 0, (size_t)size))
		return fail(t, IMAP_PARSE_BAD, "NUL in a literal");
	nd->arg.type = IMAP_ARG_LITERAL;
	nd->arg.binary = binary;
	nd->arg.value = (struct str){(const char *)t->s + t->i, (size_t)size};
	t->i += (size_t)size;
	return IMAP_PARSE_OK;
}

static enum imap_parse_status parse_atom(struct tok *t, int depth, bool in_section, struct node *nd)
{
	size_t start = t->i;
	bool has_section = false;
	while (t->i < t->n) {
		unsigned char c = t->s[t->i];
		if (!is_atom_byte(c) || (in_section && c == ']'))
			break;
		if (c == '[' && !in_section && !t->no_sections && !has_section) {
			size_t i0 = t->i, stack_n = t->stack.n, pool_n = t->pool.n;
			size_t nargs = t->nargs, ulen = t->cmd->unescaped.len;
			size_t why_len = t->why ? t->why->len : 0;
			size_t first, count;
			t->i++;
			enum imap_parse_status st =
			        parse_elements(t, CTX_SECTION, depth, true, &first, &count);
			if (st == IMAP_PARSE_OK) {
				has_section = true;
				nd->schild = first;
				nd->arg.nsection = count;
				continue;
			}
			if (st == IMAP_PARSE_TOO_BIG)
				return st;
			/* Not a section after all: read the atom as plain bytes. */
			t->i = i0;
			t->stack.n = stack_n;
			t->pool.n = pool_n;
			t->nargs = nargs;
			buf_truncate(&t->cmd->unescaped, ulen);
			if (t->why)
				buf_truncate(t->why, why_len);
			t->no_sections = true;
		} else if (has_section && (c == '[' || c == ']')) {
			break;
		}
		t->i++;
	}
	if (t->i == start)
		return fail(t, IMAP_PARSE_BAD, "unexpected character");
	nd->arg.value = (struct str){(const char *)t->s + start, t->i - start};
	nd->arg.type = !has_section && str_eq_cstr_nocase(nd->arg.value, "NIL") ? IMAP_ARG_NIL
	                                                                        : IMAP_ARG_ATOM;
	return IMAP_PARSE_OK;
}

static enum imap_parse_status parse_element(struct tok *t, int depth, bool in_section)
{
	struct node nd;
	memset(&nd, 0, sizeof(nd));
	enum imap_parse_status st;
	int c = peek(t);
	if (c < 0)
		return fail(t, IMAP_PARSE_BAD, "missing argument");
	if (c == '(') {
		if (depth + 1 > IMAP_MAX_DEPTH)
			return fail(t, IMAP_PARSE_TOO_BIG, "lists nested too deeply");
		t->i++;
		size_t first, count;
		st = parse_elements(t, CTX_LIST, depth + 1, in_section, &first, &count);
		if (st != IMAP_PARSE_OK)
			return st;
		nd.arg.type = IMAP_ARG_LIST;
		nd.arg.nlist = count;
		nd.child = first;
	} else if (c == '"') {
		st = parse_quoted(t, &nd);
	} else if (c == '{' || (c == '~' && t->i + 1 < t->n && t->s[t->i + 1] == '{')) {
		st = parse_literal(t, &nd);
	} else if (c == ' ') {
		return fail(t, IMAP_PARSE_BAD, "extra space");
	} else if (c == ')') {
		return fail(t, IMAP_PARSE_BAD, "unexpected ')'");
	} else if (c >= 0x80) {
		return fail(t, IMAP_PARSE_BAD, "8-bit byte outside a string");
	} else if (c < 0x20 || c == 0x7f) {
		return fail(t, IMAP_PARSE_BAD, "control character outside a string");
	} else {
		st = parse_atom(t, depth, in_section, &nd);
	}
	if (st != IMAP_PARSE_OK)
		return st;
	return push(t, &nd);
}

/*
 * Reads the elements of the top level, of a list (after its "(") or of a
 * section (after its "["), and the closing byte; moves them into the pool.
 */
static enum imap_parse_status parse_elements(struct tok *t, enum ctx ctx, int depth,
                                             bool in_section, size_t *first_r, size_t *count_r)
{
	int close = ctx == CTX_LIST ? ')' : ctx == CTX_SECTION ? ']' : -1;
	size_t start = t->stack.n;
	enum imap_parse_status st;
	if (ctx != CTX_TOP && peek(t) == close) {
		t->i++;
	} else {
		for (;;) {
			st = parse_element(t, depth, in_section);
			if (st != IMAP_PARSE_OK)
				return st;
			int c = peek(t);
			if (c == ' ') {
				t->i++;
				if (t->i == t->n && ctx == CTX_TOP)
					return fail(t, IMAP_PARSE_BAD, "trailing space");
				continue;
			}
			if (c == close) {
				if (c >= 0)
					t->i++;
				break;
			}
			if (c < 0)
				return fail(t, IMAP_PARSE_BAD,
				            ctx == CTX_LIST ? "unterminated list"
				                            : "unterminated section");
			if (c == ')')
				return fail(t, IMAP_PARSE_BAD, "unexpected ')'");
			return fail(t, IMAP_PARSE_BAD, "expected a space between arguments");
		}
	}
	*first_r = t->pool.n;
	*count_r = t->stack.n - start;
	for (size_t k = start; k < t->stack.n; k++)
		vec_push(&t->pool, &t->stack.v[k]);
	t->stack.n = start;
	return IMAP_PARSE_OK;
}

/* Copies the pool into cmd->pool with real pointers. */
static void build_tree(struct tok *t, size_t first, size_t count)
{
	struct imap_cmd *cmd = t->cmd;
	if (t->pool.n > cmd->cap) {
		cmd->cap = t->pool.n;
		cmd->pool = xrealloc(cmd->pool, cmd->cap * sizeof(*cmd->pool));
	}
	cmd->npool = t->pool.n;
	for (size_t k = 0; k < t->pool.n; k++) {
		const struct node *nd = &t->pool.v[k];
		struct imap_arg *a = &cmd->pool[k];
		*a = nd->arg;
		if (a->type == IMAP_ARG_LIST)
			a->list = a->nlist ? cmd->pool + nd->child : NULL;
		if (a->nsection)
			a->section = cmd->pool + nd->schild;
		if (nd->unescaped)
			a->value.p = cmd->unescaped.data + nd->child;
	}
	cmd->args = count ? cmd->pool + first : NULL;
	cmd->nargs = count;
}

void imap_cmd_init(struct imap_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->tag = (struct str){"", 0};
	buf_init(&cmd->unescaped);
}

void imap_cmd_free(struct imap_cmd *cmd)
{
	free(cmd->pool);
	buf_free(&cmd->unescaped);
	imap_cmd_init(cmd);
}

/* Reads a command name at t->i into out (upper-cased); false when malformed. */
static bool read_name(struct tok *t, char *out, size_t room)
{
	size_t start = t->i;
	while (t->i < t->n && is_name_char(t->s[t->i]))
		t->i++;
	size_t len = t->i - start;
	if (len == 0 || len >= room || (t->i < t->n && t->s[t->i] != ' '))
		return false;
	for (size_t k = 0; k < len; k++)
		out[k] = ascii_upper((char)t->s[start + k]);
	out[len] = '\0';
	return true;
}

static enum imap_parse_status parse_command(struct tok *t)
{
	struct imap_cmd *cmd = t->cmd;
	while (t->i < t->n && is_tag_char(t->s[t->i]))
		t->i++;
	if (t->i == 0)
		return fail(t, IMAP_PARSE_NO_TAG, "missing tag");
	if (t->i > IMAP_MAX_TAG)
		return fail(t, IMAP_PARSE_NO_TAG, "tag too long");
	if (t->i < t->n && t->s[t->i] != ' ')
		return fail(t, IMAP_PARSE_NO_TAG, "malformed tag");
	cmd->tag = (struct str){(const char *)t->s, t->i};
	if (t->i == t->n)
		return fail(t, IMAP_PARSE_BAD, "missing command name");
	t->i++;

	if (!read_name(t, cmd->name, sizeof(cmd->name))) {
		cmd->name[0] = '\0';
		return fail(t, IMAP_PARSE_BAD, "malformed command name");
	}
	if (strcmp(cmd->name, "UID") == 0) {
		if (t->i == t->n)
			return fail(t, IMAP_PARSE_BAD, "UID without a command");
		t->i++;
		size_t used = strlen("UID ");
		if (!read_name(t, cmd->name + used, sizeof(cmd->name) - used))
			return fail(t, IMAP_PARSE_BAD, "malformed command name after UID");
		cmd->name[used - 1] = ' ';
	}
	if (t->i == t->n)
		return IMAP_PARSE_OK;
	t->i++; /* the SP that read_name stopped at */
	if (t->i == t->n)
		return fail(t, IMAP_PARSE_BAD, "trailing space");

	size_t first, count;
	enum imap_parse_status st = parse_elements(t, CTX_TOP, 0, false, &first, &count);
	if (st != IMAP_PARSE_OK)
		return st;
	build_tree(t, first, count);
	return IMAP_PARSE_OK;
}

enum imap_parse_status imap_parse_command(const char *data, size_t len, struct imap_cmd *cmd,
                                          struct buf *why)
{
	struct tok t;
	memset(&t, 0, sizeof(t));
	t.s = (const unsigned char *)data;
	t.n = data ? len : 0;
	t.cmd = cmd;
	t.why = why;

	cmd->tag = (struct str){"", 0};
	cmd->name[0] = '\0';
	cmd->args = NULL;
	cmd->nargs = 0;
	cmd->npool = 0;
	buf_reset(&cmd->unescaped);

	enum imap_parse_status st = parse_command(&t);
	if (st != IMAP_PARSE_OK) {
		cmd->args = NULL;
		cmd->nargs = 0;
		cmd->npool = 0;
	}
	free(t.stack.v);
	free(t.pool.v);
	return st;
}

bool imap_arg_is_string(const struct imap_arg *arg)
{
	switch (arg->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_STRING:
	case IMAP_ARG_NIL:
		return true;
	case IMAP_ARG_LITERAL:
		return !arg->binary;
	case IMAP_ARG_LIST:
		break;
	}
	return false;
}
