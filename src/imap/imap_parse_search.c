/*
 * imap_parse_search — SEARCH programs, interpreted from the tokenizer's tree
 * (RFC 9051 and RFC 3501 search-key, RFC 4731 / RFC 9051 RETURN options,
 * RFC 5182 SAVE and "$", RFC 5032 OLDER / YOUNGER, RFC 7162 MODSEQ).
 *
 *     search         = "SEARCH" [SP "RETURN" SP "(" [search-return-opt
 *                      *(SP search-return-opt)] ")"] SP
 *                      ["CHARSET" SP charset SP] search-key *(SP search-key)
 *     search-modsequence = "MODSEQ" [SP entry-name SP entry-type-req] SP
 *                      mod-sequence-valzer
 *
 * The tree: the root is an AND of the top-level keys; "(...)" is an AND whose
 * keys are in children; OR has a and b, NOT has a. FROM, TO, CC, BCC and
 * SUBJECT become HEADER with str = "From", "To", "Cc", "Bcc", "Subject" (a
 * field name from HEADER is kept as written: compare without case); ANSWERED,
 * DELETED, DRAFT, FLAGGED and SEEN become FLAG with str = "\Answered" ...,
 * their UN- forms UNFLAG. Dates become days since 1970-01-01 in num; OLDER and
 * YOUNGER seconds; LARGER, SMALLER and MODSEQ their number. MODSEQ with an
 * entry keeps the entry name (unquoted, "/flags/\seen") in str and the entry
 * type in lower case in str2. "RETURN ()" means RETURN (ALL). RFC 5267 adds
 * CONTEXT, UPDATE and PARTIAL n:m (not with ALL).
 *
 * Limits: every key counts towards IMAP_MAX_SEARCH_KEYS (groups, NOT and OR
 * included; not the root); NOT, OR and groups nest to IMAP_MAX_SEARCH_DEPTH,
 * which bounds the recursion here and in imap_search_free whatever the
 * tokenizer allowed.
 */
#include "imap/imap_internal.h"

#include <stdlib.h>
#include <string.h>

enum key_arg {
	ARG_NONE,
	ARG_ASTRING,  /* str */
	ARG_HEADER,   /* field name fixed by the key, value in str2 */
	ARG_HEADER2,  /* HEADER field value */
	ARG_KEYWORD,  /* flag-keyword */
	ARG_DATE,     /* num = days */
	ARG_NUMBER64, /* num */
	ARG_NZNUMBER, /* num */
	ARG_SEQSET,   /* set */
	ARG_KEY,      /* a */
	ARG_KEY2,     /* a, b */
	ARG_MODSEQ,
};

static const struct {
	const char *name;
	enum imap_search_op op;
	enum key_arg arg;
	const char *str; /* FLAG/UNFLAG: the flag; HEADER: the field */
} search_keys[] = {
        {"ALL", IMAP_SEARCH_ALL, ARG_NONE, NULL},
        {"ANSWERED", IMAP_SEARCH_FLAG, ARG_NONE, "\\Answered"},
        {"BCC", IMAP_SEARCH_HEADER, ARG_HEADER, "Bcc"},
        {"BEFORE", IMAP_SEARCH_BEFORE, ARG_DATE, NULL},
        {"BODY", IMAP_SEARCH_BODY, ARG_ASTRING, NULL},
        {"CC", IMAP_SEARCH_HEADER, ARG_HEADER, "Cc"},
        {"DELETED", IMAP_SEARCH_FLAG, ARG_NONE, "\\Deleted"},
        {"DRAFT", IMAP_SEARCH_FLAG, ARG_NONE, "\\Draft"},
        {"FLAGGED", IMAP_SEARCH_FLAG, ARG_NONE, "\\Flagged"},
        {"FROM", IMAP_SEARCH_HEADER, ARG_HEADER, "From"},
        {"HEADER", IMAP_SEARCH_HEADER, ARG_HEADER2, NULL},
        {"KEYWORD", IMAP_SEARCH_KEYWORD, ARG_KEYWORD, NULL},
        {"LARGER", IMAP_SEARCH_LARGER, ARG_NUMBER64, NULL},
        {"MODSEQ", IMAP_SEARCH_MODSEQ, ARG_MODSEQ, NULL},
        {"NEW", IMAP_SEARCH_NEW, ARG_NONE, NULL},
        {"NOT", IMAP_SEARCH_NOT, ARG_KEY, NULL},
        {"OLD", IMAP_SEARCH_OLD, ARG_NONE, NULL},
        {"OLDER", IMAP_SEARCH_OLDER, ARG_NZNUMBER, NULL},
        {"ON", IMAP_SEARCH_ON, ARG_DATE, NULL},
        {"OR", IMAP_SEARCH_OR, ARG_KEY2, NULL},
        {"RECENT", IMAP_SEARCH_RECENT, ARG_NONE, NULL},
        {"SEEN", IMAP_SEARCH_FLAG, ARG_NONE, "\\Seen"},
        {"SENTBEFORE", IMAP_SEARCH_SENTBEFORE, ARG_DATE, NULL},
        {"SENTON", IMAP_SEARCH_SENTON, ARG_DATE, NULL},
        {"SENTSINCE", IMAP_SEARCH_SENTSINCE, ARG_DATE, NULL},
        {"SINCE", IMAP_SEARCH_SINCE, ARG_DATE, NULL},
        {"SMALLER", IMAP_SEARCH_SMALLER, ARG_NUMBER64, NULL},
        {"SUBJECT", IMAP_SEARCH_HEADER, ARG_HEADER, "Subject"},
        {"TEXT", IMAP_SEARCH_TEXT, ARG_ASTRING, NULL},
        {"TO", IMAP_SEARCH_HEADER, ARG_HEADER, "To"},
        {"UID", IMAP_SEARCH_UID, ARG_SEQSET, NULL},
        {"UNANSWERED", IMAP_SEARCH_UNFLAG, ARG_NONE, "\\Answered"},
        {"UNDELETED", IMAP_SEARCH_UNFLAG, ARG_NONE, "\\Deleted"},
        {"UNDRAFT", IMAP_SEARCH_UNFLAG, ARG_NONE, "\\Draft"},
        {"UNFLAGGED", IMAP_SEARCH_UNFLAG, ARG_NONE, "\\Flagged"},
        {"UNKEYWORD", IMAP_SEARCH_UNKEYWORD, ARG_KEYWORD, NULL},
        {"UNSEEN", IMAP_SEARCH_UNFLAG, ARG_NONE, "\\Seen"},
        {"YOUNGER", IMAP_SEARCH_YOUNGER, ARG_NZNUMBER, NULL},
};

struct search_ctx {
	struct imap_search *search;
	struct buf *why;
};

static int bad(struct search_ctx *c, int rc, const char *why)
{
	if (c->why)
		buf_puts(c->why, why);
	return rc;
}

/* An owned, NUL-terminated copy. */
static struct str own(struct str s)
{
	return (struct str){str_dup(s), s.len};
}

/* ATOM-CHAR of RFC 9051: any CHAR except atom-specials. */
static bool is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

static bool is_atom(struct str s)
{
	if (s.len == 0)
		return false;
	for (size_t k = 0; k < s.len; k++)
		if (!is_atom_char((unsigned char)s.p[k]))
			return false;
	return true;
}

/* astring: an atom (brackets and all: "[PATCH]"), a quoted string or a
   non-binary literal. */
static bool get_astring(const struct imap_arg *arg, struct str *s_r)
{
	if (!imap_arg_is_string(arg))
		return false;
	*s_r = arg->value;
	return true;
}

static int get_date(struct search_ctx *c, const struct imap_arg *arg, uint64_t *num_r)
{
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_STRING)
		return bad(c, -1, "a date must be an atom or a quoted string");
	int64_t days = imap_parse_date(arg->value);
	if (days < 0)
		return bad(c, -1, "invalid date");
	*num_r = (uint64_t)days;
	return 0;
}

/* entry-name = DQUOTE "/flags/" attr-flag DQUOTE; attr-flag = "\" atom / atom */
static bool is_entry_name(const struct imap_arg *arg)
{
	static const char prefix[] = "/flags/";
	if (arg->type != IMAP_ARG_STRING || !str_has_prefix_nocase(arg->value, prefix))
		return false;
	struct str flag = {arg->value.p + strlen(prefix), arg->value.len - strlen(prefix)};
	if (flag.len > 0 && flag.p[0] == '\\') {
		flag.p++;
		flag.len--;
	}
	return is_atom(flag);
}

static int parse_key(struct search_ctx *c, const struct imap_arg *args, size_t nargs, size_t *ip,
                     struct imap_search_key *key, unsigned depth);

/* Reads keys from args until they are used up, into an AND's children. */
static int parse_keys(struct search_ctx *c, const struct imap_arg *args, size_t nargs,
                      struct imap_search_key *and, unsigned depth)
{
	size_t i = 0, cap = 0;
	and->op = IMAP_SEARCH_AND;
	while (i < nargs) {
		if (and->nchildren == cap) {
			cap = cap ? cap * 2 : 4;
			and->children = xrealloc(and->children, cap * sizeof(*and->children));
		}
		struct imap_search_key *k = &and->children[ and->nchildren++];
		memset(k, 0, sizeof(*k));
		int rc = parse_key(c, args, nargs, &i, k, depth);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int parse_sub_key(struct search_ctx *c, const struct imap_arg *args, size_t nargs,
                         size_t *ip, struct imap_search_key **key_r, unsigned depth)
{
	*key_r = xcalloc(1, sizeof(**key_r));
	return parse_key(c, args, nargs, ip, *key_r, depth);
}

static int parse_key(struct search_ctx *c, const struct imap_arg *args, size_t nargs, size_t *ip,
                     struct imap_search_key *key, unsigned depth)
{
	if (*ip >= nargs)
		return bad(c, -1, "missing search key");
	const struct imap_arg *arg = &args[(*ip)++];
	if (++c->search->nkeys > IMAP_MAX_SEARCH_KEYS)
		return bad(c, -2, "too many search keys");
	if (depth >= IMAP_MAX_SEARCH_DEPTH)
		return bad(c, -2, "search keys nested too deeply");

	if (arg->type == IMAP_ARG_LIST) {
		if (arg->nlist == 0)
			return bad(c, -1, "empty search key list");
		return parse_keys(c, arg->list, arg->nlist, key, depth + 1);
	}
	if (arg->type != IMAP_ARG_ATOM)
		return bad(c, -1, "expected a search key");
	struct str name = arg->value;
	unsigned char first = (unsigned char)name.p[0];
	if ((first >= '0' && first <= '9') || first == '*' || first == '$') {
		key->op = IMAP_SEARCH_SEQSET;
		if (imap_seqset_parse(name, &key->set) < 0)
			return bad(c, -1, "malformed sequence set");
		return 0;
	}
	size_t t;
	for (t = 0; t < ARRAY_SIZE(search_keys); t++)
		if (str_eq_cstr_nocase(name, search_keys[t].name))
			break;
	if (t == ARRAY_SIZE(search_keys))
		return bad(c, -1, "unknown search key");
	key->op = search_keys[t].op;
	if (search_keys[t].arg == ARG_NONE) {
		if (search_keys[t].str)
			key->str = own(str_c(search_keys[t].str));
		return 0;
	}
	if (search_keys[t].arg == ARG_KEY)
		return parse_sub_key(c, args, nargs, ip, &key->a, depth + 1);
	if (search_keys[t].arg == ARG_KEY2) {
		int rc = parse_sub_key(c, args, nargs, ip, &key->a, depth + 1);
		if (rc < 0)
			return rc;
		return parse_sub_key(c, args, nargs, ip, &key->b, depth + 1);
	}

	if (*ip >= nargs)
		return bad(c, -1, "search key without its argument");
	const struct imap_arg *val = &args[(*ip)++];
	struct str s;
	switch (search_keys[t].arg) {
	case ARG_ASTRING:
		if (!get_astring(val, &s))
			return bad(c, -1, "search key needs a string");
		key->str = own(s);
		return 0;
	case ARG_HEADER:
		if (!get_astring(val, &s))
			return bad(c, -1, "search key needs a string");
		key->str = own(str_c(search_keys[t].str));
		key->str2 = own(s);
		return 0;
	case ARG_HEADER2:
		if (!get_astring(val, &s))
			return bad(c, -1, "HEADER needs a field name");
		key->str = own(s);
		if (*ip >= nargs || !get_astring(&args[*ip], &s))
			return bad(c, -1, "HEADER needs a value");
		(*ip)++;
		key->str2 = own(s);
		return 0;
	case ARG_KEYWORD:
		if (!get_astring(val, &s) || !is_atom(s))
			return bad(c, -1, "malformed keyword");
		key->str = own(s);
		return 0;
	case ARG_DATE:
		return get_date(c, val, &key->num);
	case ARG_NUMBER64:
		if (val->type != IMAP_ARG_ATOM || !imap_parse_number64(val->value, &key->num))
			return bad(c, -1, "search key needs a number");
		return 0;
	case ARG_NZNUMBER: {
		uint32_t n;
		if (val->type != IMAP_ARG_ATOM || !imap_parse_nz_number(val->value, &n))
			return bad(c, -1, "search key needs a non-zero number");
		key->num = n;
		return 0;
	}
	case ARG_SEQSET:
		if (val->type != IMAP_ARG_ATOM || imap_seqset_parse(val->value, &key->set) < 0)
			return bad(c, -1, "malformed sequence set");
		return 0;
	case ARG_MODSEQ:
		if (val->type == IMAP_ARG_STRING) {
			if (!is_entry_name(val))
				return bad(c, -1, "malformed MODSEQ entry name");
			if (*ip >= nargs || args[*ip].type != IMAP_ARG_ATOM)
				return bad(c, -1, "MODSEQ needs an entry type");
			struct str type = args[(*ip)++].value;
			if (!str_eq_cstr_nocase(type, "priv") &&
			    !str_eq_cstr_nocase(type, "shared") && !str_eq_cstr_nocase(type, "all"))
				return bad(c, -1, "unknown MODSEQ entry type");
			key->str = own(val->value);
			key->str2 = (struct str){str_dup_lower(type), type.len};
			if (*ip >= nargs)
				return bad(c, -1, "MODSEQ needs a mod-sequence");
			val = &args[(*ip)++];
		}
		if (val->type != IMAP_ARG_ATOM || !imap_parse_number64(val->value, &key->num))
			return bad(c, -1, "MODSEQ needs a mod-sequence");
		return 0;
	case ARG_NONE:
	case ARG_KEY:
	case ARG_KEY2:
		break;
	}
	return bad(c, -1, "unknown search key");
}

/* RFC 5267 partial-range: nz-number ":" nz-number, either way round. */
static bool parse_partial(const struct imap_arg *arg, uint32_t *lo_r, uint32_t *hi_r)
{
	if (arg->type != IMAP_ARG_ATOM)
		return false;
	const char *colon = memchr(arg->value.p, ':', arg->value.len);
	if (!colon)
		return false;
	struct str a = {arg->value.p, (size_t)(colon - arg->value.p)};
	struct str b = {colon + 1, arg->value.len - a.len - 1};
	uint32_t x, y;
	if (!imap_parse_nz_number(a, &x) || !imap_parse_nz_number(b, &y))
		return false;
	*lo_r = x < y ? x : y;
	*hi_r = x < y ? y : x;
	return true;
}

static int parse_return(struct search_ctx *c, const struct imap_arg *list)
{
	struct imap_search *s = c->search;
	if (list->type != IMAP_ARG_LIST)
		return bad(c, -1, "RETURN needs a list of options");
	s->esearch = true;
	if (list->nlist == 0)
		s->ret_all = true;
	for (size_t k = 0; k < list->nlist; k++) {
		const struct imap_arg *o = &list->list[k];
		if (o->type != IMAP_ARG_ATOM)
			return bad(c, -1, "unknown RETURN option");
		if (str_eq_cstr_nocase(o->value, "MIN"))
			s->ret_min = true;
		else if (str_eq_cstr_nocase(o->value, "MAX"))
			s->ret_max = true;
		else if (str_eq_cstr_nocase(o->value, "ALL"))
			s->ret_all = true;
		else if (str_eq_cstr_nocase(o->value, "COUNT"))
			s->ret_count = true;
		else if (str_eq_cstr_nocase(o->value, "SAVE"))
			s->ret_save = true;
		else if (str_eq_cstr_nocase(o->value, "CONTEXT"))
			s->ret_context = true;
		else if (str_eq_cstr_nocase(o->value, "UPDATE"))
			s->ret_update = true;
		else if (str_eq_cstr_nocase(o->value, "PARTIAL")) {
			if (s->ret_partial || ++k == list->nlist ||
			    !parse_partial(&list->list[k], &s->partial_lo, &s->partial_hi))
				return bad(c, -1, "PARTIAL needs a range n:m");
			s->ret_partial = true;
		} else
			return bad(c, -1, "unknown RETURN option");
	}
	if (s->ret_partial && s->ret_all)
		return bad(c, -1, "PARTIAL and ALL cannot be used together");
	return 0;
}

int imap_search_parse_return(const struct imap_arg *list, struct imap_search *search,
                             struct buf *why)
{
	struct search_ctx c = {search, why};
	return parse_return(&c, list);
}

int imap_search_parse_keys(const struct imap_arg *args, size_t nargs, struct imap_search *search,
                           struct buf *why)
{
	struct search_ctx c = {search, why};
	if (nargs == 0)
		return bad(&c, -1, "missing search key");
	return parse_keys(&c, args, nargs, &search->root, 0);
}

static int parse_program(struct search_ctx *c, const struct imap_arg *args, size_t nargs)
{
	size_t i = 0;
	int rc;
	if (i < nargs && args[i].type == IMAP_ARG_ATOM &&
	    str_eq_cstr_nocase(args[i].value, "RETURN")) {
		if (++i == nargs)
			return bad(c, -1, "RETURN needs a list of options");
		if ((rc = parse_return(c, &args[i++])) < 0)
			return rc;
	}
	if (i < nargs && args[i].type == IMAP_ARG_ATOM &&
	    str_eq_cstr_nocase(args[i].value, "CHARSET")) {
		struct str cs;
		if (++i == nargs || !get_astring(&args[i], &cs) || cs.len == 0)
			return bad(c, -1, "CHARSET needs a charset name");
		c->search->charset = str_dup(cs);
		for (char *p = c->search->charset; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - ('a' - 'A'));
		i++;
	}
	if (i == nargs)
		return bad(c, -1, "missing search key");
	return parse_keys(c, args + i, nargs - i, &c->search->root, 0);
}

int imap_search_parse(const struct imap_arg *args, size_t nargs, struct imap_search *search,
                      struct buf *why)
{
	memset(search, 0, sizeof(*search));
	search->root.op = IMAP_SEARCH_AND;
	struct search_ctx c = {search, why};
	int rc = parse_program(&c, args, nargs);
	if (rc < 0) {
		size_t nkeys = search->nkeys;
		imap_search_free(search);
		search->nkeys = nkeys;
	}
	return rc;
}

static void key_free(struct imap_search_key *key)
{
	free((char *)key->str.p);
	free((char *)key->str2.p);
	imap_seqset_free(&key->set);
	if (key->a) {
		key_free(key->a);
		free(key->a);
	}
	if (key->b) {
		key_free(key->b);
		free(key->b);
	}
	for (size_t k = 0; k < key->nchildren; k++)
		key_free(&key->children[k]);
	free(key->children);
	memset(key, 0, sizeof(*key));
}

void imap_search_free(struct imap_search *search)
{
	free(search->charset);
	key_free(&search->root);
	memset(search, 0, sizeof(*search));
}
