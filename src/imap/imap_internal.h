/*
 * imap_internal — the pure parts of the IMAP server: framing help, the command
 * tokenizer, sequence sets, FETCH items, SEARCH keys, modified UTF-7, LIST and
 * APPEND arguments.
 *
 * All of it is a pure function of bytes with hard limits; it links into its
 * fuzzers with core alone.
 *
 * Framing. The session reads a line; imap_literal_at_end() tells whether it
 * ends in a literal announcement ("{12}", "{12+}", "~{12}"). If so the session
 * answers "+ " (synchronising literal) or not (LITERAL+/LITERAL-), reads exactly
 * that many bytes, then the next line, and so on. It keeps the whole command
 * in wire form — lines with their CRLF and literal bytes — and hands it to
 * imap_parse_command() without the final CRLF. The session checks the size of
 * every literal against its limit before reading it (IMAP_MAX_LITERAL or the
 * message size limit for APPEND) and never allocates a declared size.
 *
 * Tokenizer. imap_parse_command() splits a command into its tag, its name
 * (upper-cased) and its arguments as a tree (atoms, quoted strings, literals,
 * NIL, parenthesised lists), with IMAP_MAX_DEPTH nesting and IMAP_MAX_ARGS
 * arguments in all. Argument values point into the caller's buffer (quoted
 * strings are unescaped into the command's own storage).
 *
 * Interpretation of arguments for each command (sequence sets, FETCH items,
 * SEARCH keys, STORE flags) is done by the helpers below on the tree.
 */
#ifndef PETREL_IMAP_INTERNAL_H
#define PETREL_IMAP_INTERNAL_H

#include "core/core.h"

#define IMAP_MAX_LINE 65536          /* one line of a command, without literals */
#define IMAP_MAX_COMMAND (1 << 20)   /* the whole command without APPEND literals */
#define IMAP_MAX_LITERAL (1 << 20)   /* a literal in anything but APPEND */
#define IMAP_MAX_TAG 64
#define IMAP_MAX_DEPTH 16            /* nested parenthesised lists */
#define IMAP_MAX_ARGS 10000          /* arguments in one command, lists included */
#define IMAP_MAX_SEQ_RANGES 10000    /* ranges in one sequence set */
#define IMAP_MAX_SEARCH_KEYS 1000    /* keys in one SEARCH, nested ones included */
#define IMAP_MAX_SEARCH_DEPTH (IMAP_MAX_DEPTH * 4) /* NOT/OR/group nesting in one SEARCH */
#define IMAP_MAX_SECTION_PARTS 32    /* part numbers in one FETCH section ("1.2.3") */
#define IMAP_MAX_SEQ_MATCH 65536     /* message pairs in a QRESYNC seq-match-data */

/* ---- framing ------------------------------------------------------------------ */

struct imap_literal {
	uint64_t size;
	bool nonsync; /* {n+}: no continuation request (LITERAL+ / LITERAL-) */
	bool binary;  /* ~{n}: RFC 3516 binary literal */
};

/* True when line (without CRLF) ends in a literal announcement; fills lit.
   A malformed announcement ("{x}", "{99999999999999999999}") is not one. */
bool imap_literal_at_end(const char *line, size_t len, struct imap_literal *lit);

/* ---- tokenizer -------------------------------------------------------------------- */

enum imap_arg_type {
	IMAP_ARG_ATOM,    /* any atom, incl. flags "\Seen", numbers, sequence sets */
	IMAP_ARG_STRING,  /* quoted string, unescaped */
	IMAP_ARG_LITERAL, /* literal (binary when ~{n}) */
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,    /* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type type;
	bool binary;       /* LITERAL only: it was ~{n} */
	struct str value;  /* ATOM/STRING/LITERAL bytes (may contain NUL only if binary) */
	struct imap_arg *list; /* LIST: its elements */
	size_t nlist;
	/* ATOM only: it was followed directly by "[" section "]" and/or "<partial>"
	   as in BODY[HEADER.FIELDS (A B)]<0.100>: the whole text stays in value, and
	   section is the tree of the bracketed part's list, if any. */
	struct imap_arg *section;
	size_t nsection;
};

struct imap_cmd {
	struct str tag;
	char name[32];    /* upper-cased command name ("UID FETCH" for UID commands) */
	struct imap_arg *args;
	size_t nargs;
	/* private storage */
	struct imap_arg *pool;
	size_t npool, cap;
	struct buf unescaped;
};

enum imap_parse_status {
	IMAP_PARSE_OK = 0,
	IMAP_PARSE_NO_TAG,   /* not even a tag: "* BAD" */
	IMAP_PARSE_BAD,      /* tag known, the rest is malformed: "tag BAD reason" */
	IMAP_PARSE_TOO_BIG,  /* over a limit: "tag BAD [TOOBIG]" / "[LIMIT]" */
};

void imap_cmd_init(struct imap_cmd *cmd);
void imap_cmd_free(struct imap_cmd *cmd);
/* Parses a whole command in wire form (see Framing), without its last CRLF.
   On failure *why gets a short reason; cmd->tag is set whenever a tag was read
   (a tag over IMAP_MAX_TAG is NO_TAG), cmd->name whenever a name was, and
   args is NULL. TOO_BIG is for IMAP_MAX_ARGS and IMAP_MAX_DEPTH only; the
   framing limits (line, command, literal sizes) are the session's. A quoted
   string with an escape is the only value not in the caller's buffer. A "["
   in an atom opens a section (see struct imap_arg) when its brackets balance;
   otherwise the atom is plain bytes ("a[b"). The struct may be reused. */
enum imap_parse_status imap_parse_command(const char *data, size_t len, struct imap_cmd *cmd,
					  struct buf *why);

/* astring / nstring helpers: true when arg is an atom, string or literal.
   NIL counts (the atom NIL is a valid astring: its value is "NIL"), a binary
   literal does not (it is only for message data). For an nstring, test
   arg->type == IMAP_ARG_NIL first. */
bool imap_arg_is_string(const struct imap_arg *arg);

/* number64: 1*DIGIT up to 2^63-1 (leading zeros allowed). */
bool imap_parse_number64(struct str text, uint64_t *n_r);
/* nz-number: digit-nz *DIGIT up to 2^32-1 (no leading zero, no 0). */
bool imap_parse_nz_number(struct str text, uint32_t *n_r);

/* ---- sequence sets ------------------------------------------------------------------ */

/* One range; IMAP_SEQ_STAR stands for "*" (resolved by the caller). */
#define IMAP_SEQ_STAR UINT32_MAX

struct imap_seqset {
	struct {
		uint32_t lo, hi; /* lo <= hi after parsing ("5:2" is stored 2:5) */
	} *ranges;
	size_t nranges;
	bool saved; /* "$" (SEARCHRES) */
};

/* Parses "1,3:5,7:*" or "$"; -1 on a malformed set, 0 is not a valid number,
   and more than IMAP_MAX_SEQ_RANGES ranges is -1 too. The ranges come out
   normalised: finite ones sorted by lo, overlapping or adjacent ones merged;
   then at most two ranges that end in "*" (the smallest and the largest
   numeric lo), which together hold what all of them did.
   The number 4294967295 reads as "*". */
int imap_seqset_parse(struct str text, struct imap_seqset *set);
void imap_seqset_free(struct imap_seqset *set);
/* Whether n is in the set, with "*" meaning max ("20:*" with max 10 is 10:20).
   A saved set ("$") holds nothing here: the session substitutes its result. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n, uint32_t max);

/* ---- FETCH items -------------------------------------------------------------------- */

enum imap_fetch_item {
	IMAP_FETCH_UID,
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_BODY_STRUCTURE, /* "BODY" without a section: the non-extensible form */
	IMAP_FETCH_RFC822,         /* = BODY[] */
	IMAP_FETCH_RFC822_HEADER,  /* = BODY.PEEK[HEADER] */
	IMAP_FETCH_RFC822_TEXT,    /* = BODY[TEXT] */
	IMAP_FETCH_BODY_SECTION,   /* BODY[...] / BODY.PEEK[...] */
	IMAP_FETCH_BINARY,         /* BINARY[...] / BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,    /* BINARY.SIZE[...] */
	IMAP_FETCH_MODSEQ,
	IMAP_FETCH_SAVEDATE,
	IMAP_FETCH_EMAILID, /* reserved for OBJECTID */
};

enum imap_section_kind {
	IMAP_SECTION_ALL,         /* BODY[] or BODY[1.2] (a part's content) */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,
};

struct imap_fetch_att {
	enum imap_fetch_item item;
	bool peek;                /* .PEEK: do not set \Seen */
	uint32_t part[IMAP_MAX_SECTION_PARTS]; /* section part numbers "1.2.3" */
	size_t nparts;
	enum imap_section_kind kind;
	char **fields;            /* HEADER.FIELDS (NOT): upper-cased names, NULL-terminated */
	size_t nfields;
	bool partial;             /* <offset.count> */
	uint64_t offset, count;
	struct str text;          /* the item as the client wrote it, for the response key */
};

struct imap_fetch_spec {
	struct imap_fetch_att *atts;
	size_t natts;
	/* FETCH modifiers (RFC 7162): (CHANGEDSINCE n) and VANISHED */
	uint64_t changedsince;
	bool vanished;
};

/* Interprets the FETCH arguments after the sequence set: a single item, a macro
   (ALL, FAST, FULL) or a parenthesised list, then optional modifiers.
   0 on success; -1 when malformed ("BAD"); -2 when over a limit (more than
   IMAP_MAX_SECTION_PARTS part numbers: "BAD [LIMIT]"). On failure spec is
   left empty. */
int imap_fetch_parse(const struct imap_arg *args, size_t nargs, struct imap_fetch_spec *spec,
		     struct buf *why);
void imap_fetch_spec_free(struct imap_fetch_spec *spec);

/* ---- SEARCH keys --------------------------------------------------------------------- */

enum imap_search_op {
	IMAP_SEARCH_ALL, IMAP_SEARCH_AND, IMAP_SEARCH_OR, IMAP_SEARCH_NOT,
	IMAP_SEARCH_SEQSET, IMAP_SEARCH_UID,
	IMAP_SEARCH_FLAG,      /* flag in str ("\Seen"; ANSWERED, SEEN ... map here) */
	IMAP_SEARCH_UNFLAG,    /* UNSEEN, UNANSWERED ... */
	IMAP_SEARCH_KEYWORD, IMAP_SEARCH_UNKEYWORD,
	IMAP_SEARCH_NEW, IMAP_SEARCH_OLD, IMAP_SEARCH_RECENT,
	IMAP_SEARCH_HEADER,    /* field in str, value in str2 (FROM, TO, CC, BCC, SUBJECT map here) */
	IMAP_SEARCH_BODY, IMAP_SEARCH_TEXT,
	IMAP_SEARCH_BEFORE, IMAP_SEARCH_ON, IMAP_SEARCH_SINCE,             /* INTERNALDATE, day in num */
	IMAP_SEARCH_SENTBEFORE, IMAP_SEARCH_SENTON, IMAP_SEARCH_SENTSINCE, /* Date: header */
	IMAP_SEARCH_LARGER, IMAP_SEARCH_SMALLER,
	IMAP_SEARCH_OLDER, IMAP_SEARCH_YOUNGER, /* WITHIN, seconds in num */
	IMAP_SEARCH_MODSEQ,
};

struct imap_search_key {
	enum imap_search_op op;
	struct str str, str2;
	uint64_t num;           /* size, modseq, seconds, or a date as days since 1970-01-01 */
	struct imap_seqset set;
	struct imap_search_key *a, *b; /* AND: a list in children; OR: a, b; NOT: a */
	struct imap_search_key *children;
	size_t nchildren;
};

struct imap_search {
	char *charset;          /* CHARSET argument, upper-cased, or NULL */
	struct imap_search_key root; /* an AND of the top-level keys */
	/* RETURN options (ESEARCH): MIN MAX ALL COUNT SAVE; RFC 5267 CONTEXT
	   UPDATE and PARTIAL lo:hi (lo <= hi, both 1..2^32-1) */
	bool esearch;
	bool ret_min, ret_max, ret_all, ret_count, ret_save;
	bool ret_context, ret_update, ret_partial;
	uint32_t partial_lo, partial_hi;
	size_t nkeys;           /* total, for IMAP_MAX_SEARCH_KEYS */
};

/* Interprets SEARCH arguments (after "SEARCH" or "UID SEARCH").
   0 on success; -1 when malformed ("BAD"); -2 when over IMAP_MAX_SEARCH_KEYS
   or IMAP_MAX_SEARCH_DEPTH ("BAD [LIMIT]"). On failure search is left empty.
   Every string in the tree is an owned, NUL-terminated copy. */
int imap_search_parse(const struct imap_arg *args, size_t nargs, struct imap_search *search,
		      struct buf *why);
void imap_search_free(struct imap_search *search);
/* The pieces of imap_search_parse for commands that put something between
   RETURN and the keys (SORT, THREAD): the RETURN option list (the argument
   after "RETURN"), and the keys up to the end of args. Same results;
   on failure the caller frees search. */
int imap_search_parse_return(const struct imap_arg *list, struct imap_search *search,
                             struct buf *why);
int imap_search_parse_keys(const struct imap_arg *args, size_t nargs, struct imap_search *search,
                           struct buf *why);

/* "27-Nov-2026" -> days since 1970-01-01; -1 when invalid (dates before 1970
   included). The text is the value without its quotes. */
int64_t imap_parse_date(struct str text);
/* "27-Nov-2026 12:34:56 +0100" (APPEND date-time) -> seconds since the epoch, UTC. */
int imap_parse_datetime(struct str text, int64_t *t_r);

/* ---- SORT and THREAD (imap_parse_sort.c, imap_thread.c) --------------------------- */

#define IMAP_MAX_SORT_CRITERIA 16 /* criteria in one SORT, REVERSE not counted */
#define IMAP_MAX_THREAD_REFS 1000 /* Message-IDs read from one References field */

enum imap_sort_key {
	IMAP_SORT_ARRIVAL, IMAP_SORT_CC, IMAP_SORT_DATE, IMAP_SORT_FROM, IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT, IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM, IMAP_SORT_DISPLAYTO, /* RFC 5957 */
};

struct imap_sort_criterion {
	enum imap_sort_key key;
	bool reverse;
};

struct imap_sort {
	struct imap_sort_criterion crit[IMAP_MAX_SORT_CRITERIA];
	size_t ncrit;
	struct imap_search search; /* RETURN options, CHARSET (always set), keys */
};

/* SORT arguments (RFC 5256, with RFC 5267's RETURN options):
       [RETURN (opts)] (criteria) charset search-key *(SP search-key)
   0, -1 ("BAD") or -2 ("BAD [LIMIT]") as imap_search_parse. A criterion
   list that only says REVERSE, REVERSE twice, or more than
   IMAP_MAX_SORT_CRITERIA criteria is -1. On failure sort is left empty. */
int imap_sort_parse(const struct imap_arg *args, size_t nargs, struct imap_sort *sort,
                    struct buf *why);
void imap_sort_free(struct imap_sort *sort);

enum imap_thread_alg { IMAP_THREAD_ORDEREDSUBJECT, IMAP_THREAD_REFERENCES };

/* THREAD arguments: algorithm charset search-key *(SP search-key). */
int imap_thread_parse(const struct imap_arg *args, size_t nargs, enum imap_thread_alg *alg_r,
                      struct imap_search *search, struct buf *why);

/*
 * RFC 5256 section 2.1: the base subject of a raw Subject value (RFC 2047
 * words are decoded here), appended to out upper-cased (i;ascii-casemap, so
 * that plain byte comparison sorts it). *reply_r tells whether anything
 * marking a reply or forward was removed ("Re:", "Fwd:", "(fwd)", "[fwd: ]").
 */
void imap_base_subject(const char *subject, size_t len, struct buf *out, bool *reply_r);

/* An RFC 5322 date-time ("Fri, 22 Feb 2008 02:00:00 +0200", obsolete forms
   and zone names included) -> seconds since the epoch, UTC. -1 when it
   cannot be read. */
int imap_parse_rfc5322_date(const char *text, size_t len, int64_t *t_r);

/* One address of an ENVELOPE: a group start has host NULL (mailbox is the
   group's name). Strings are NUL-terminated copies; name is raw (RFC 2047
   words not decoded), NULL when NIL. */
struct imap_envelope_addr {
	char *name, *mailbox, *host;
};

/* What SORT and THREAD need of a cached ENVELOPE: the first address of
   From, To and Cc (mailbox NULL when the field is NIL or empty). */
struct imap_envelope {
	char *date, *subject, *in_reply_to, *message_id; /* NULL when NIL */
	struct imap_envelope_addr from, to, cc;
};

/* Reads an ENVELOPE as mime_envelope() writes it: "(date subject from ...)".
   -1 when it is not one (env is then empty). */
int imap_envelope_parse(const char *text, size_t len, struct imap_envelope *env);
void imap_envelope_free(struct imap_envelope *env);

/* The valid Message-IDs ("<left@right>", brackets kept, whitespace inside
   dropped) of a References or In-Reply-To value, in order, at most max in
   all. Appended to *ids_r / *n_r (NULL / 0, or from earlier calls). */
void imap_thread_msgids(const char *value, size_t len, size_t max, char ***ids_r, size_t *n_r);
void imap_thread_msgids_free(char ***ids, size_t n);

/* One message as the threading algorithms see it. */
struct imap_thread_msg {
	uint32_t id;       /* what the response shows: sequence number or UID */
	int64_t date;      /* sent date (UTC), INTERNALDATE when there is none */
	const char *msgid; /* own Message-ID, or NULL */
	char **refs;       /* References (or the first In-Reply-To id), oldest first */
	size_t nrefs;
	const char *subject; /* base subject (imap_base_subject) */
	bool reply;          /* the subject said reply or forward */
};

/* Threads msgs (in mailbox order: ties in date go by this order) with the
   algorithm and appends the THREAD response's data, the thread lists
   without "* THREAD": "(3 6 (4 23)(44 7 96))(2)". A pure function; work is
   O(n log n) plus the references. */
void imap_thread(enum imap_thread_alg alg, const struct imap_thread_msg *msgs, size_t n,
                 struct buf *out);

/* ---- RFC 7162 parameters (imap_parse_cond.c) ----------------------------------------- */

/* SELECT mailbox (QRESYNC (uidvalidity modseq [known-uids] [seq-match-data])) */
struct imap_qresync {
	uint32_t uidvalidity;
	uint64_t modseq;
	struct imap_seqset known_uids; /* without "*" */
	bool has_known_uids;
	uint32_t *match_msn, *match_uid; /* seq-match-data, paired in order */
	size_t nmatch;
};

struct imap_select_params {
	bool condstore, qresync;
	struct imap_qresync q;
};

/* The parenthesised list after SELECT/EXAMINE's mailbox; 0 or -1 ("BAD",
   *why says why). On failure p is left empty. */
int imap_select_params_parse(const struct imap_arg *arg, struct imap_select_params *p,
                             struct buf *why);
void imap_select_params_free(struct imap_select_params *p);
/* STORE's "(UNCHANGEDSINCE n)"; 0 or -1 ("BAD"). n may be 0. */
int imap_store_modifiers_parse(const struct imap_arg *arg, uint64_t *unchangedsince_r,
                               struct buf *why);

/* ---- NOTIFY (imap_parse_notify.c) -------------------------------------------------------- */

#define IMAP_MAX_NOTIFY_GROUPS 64
#define IMAP_MAX_NOTIFY_NAMES 1000 /* mailbox names in one NOTIFY */

enum imap_notify_event {
	IMAP_NOTIFY_MESSAGE_NEW = 1 << 0,
	IMAP_NOTIFY_MESSAGE_EXPUNGE = 1 << 1,
	IMAP_NOTIFY_FLAG_CHANGE = 1 << 2,
	IMAP_NOTIFY_MAILBOX_NAME = 1 << 3,
	IMAP_NOTIFY_SUBSCRIPTION_CHANGE = 1 << 4,
};
#define IMAP_NOTIFY_MESSAGE_EVENTS                                                                 \
	(IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE | IMAP_NOTIFY_FLAG_CHANGE)

enum imap_notify_filter {
	IMAP_NOTIFY_SELECTED,
	IMAP_NOTIFY_SELECTED_DELAYED,
	IMAP_NOTIFY_INBOXES,
	IMAP_NOTIFY_PERSONAL,
	IMAP_NOTIFY_SUBSCRIBED,
	IMAP_NOTIFY_SUBTREE,
	IMAP_NOTIFY_MAILBOXES,
};

struct imap_notify_group {
	enum imap_notify_filter filter;
	char **names; /* SUBTREE / MAILBOXES: as written (modified UTF-7 or UTF-8) */
	size_t nnames;
	unsigned events; /* enum imap_notify_event bits; 0 is NONE */
	struct imap_fetch_spec fetch; /* SELECTED MessageNew (fetch-att ...) */
	bool has_fetch;
};

struct imap_notify_spec {
	bool none;   /* NOTIFY NONE */
	bool status; /* SET STATUS: STATUS now for every mailbox watched */
	struct imap_notify_group *groups;
	size_t ngroups;
};

/* The arguments after NOTIFY. 0 on success; -1 when malformed ("BAD"); -2
   when an event petrel does not support is named ("NO [BADEVENT ...]").
   On failure spec is left empty. */
int imap_notify_parse(const struct imap_arg *args, size_t nargs, struct imap_notify_spec *spec,
                      struct buf *why);
void imap_notify_spec_free(struct imap_notify_spec *spec);

/* ---- mailbox names --------------------------------------------------------------- */

/* Modified UTF-7 (RFC 3501 5.1.3) <-> UTF-8, appended to out. -1 on malformed
   or non-canonical input (out is then left as it was); a decoded name never
   contains NUL. Encoding replaces invalid UTF-8 and NUL with U+FFFD. */
int imap_utf7_to_utf8(struct str in, struct buf *out);
void imap_utf8_to_utf7(struct str in, struct buf *out);

/* ---- IMAP URLs (imap_parse_url.c) --------------------------------------------------- */

#define IMAP_MAX_URL 8192       /* bytes of one IMAP URL */
#define IMAP_MAX_URL_FIELDS 100 /* header field names in a URL's HEADER.FIELDS section */

/* RFC 4467 access identifiers. */
enum imap_url_access {
	IMAP_URL_ACCESS_NONE = 0, /* no ;URLAUTH= */
	IMAP_URL_ACCESS_ANONYMOUS,
	IMAP_URL_ACCESS_AUTHUSER,
	IMAP_URL_ACCESS_USER,   /* "user+" userid */
	IMAP_URL_ACCESS_SUBMIT, /* "submit+" userid */
};

/*
 * An IMAP URL (RFC 5092) naming a message or a part of one: absolute
 * ("imap://user@host/...", with URLAUTH's parts, RFC 4467) or relative to the
 * server ("/mailbox/;UID=n...", CATENATE, RFC 4469). Strings are owned,
 * decoded and NUL-terminated.
 */
struct imap_url {
	bool absolute;
	char *user;           /* the iuserinfo's userid, or NULL */
	char *host;           /* lower-cased; NULL when relative */
	uint32_t port;        /* 0 when none */
	char *mailbox;        /* UTF-8, checked (no "%2F", no empty, "." or ".." level) */
	uint32_t uidvalidity; /* 0 when none */
	uint32_t uid;
	bool has_section;
	struct imap_fetch_att section; /* as BODY.PEEK[section] reads it */
	bool partial;
	uint64_t offset;
	uint32_t length; /* 0: to the end */
	bool has_expire;
	int64_t expire; /* seconds since the epoch */
	enum imap_url_access access;
	char *access_user; /* USER and SUBMIT */
	char *mechanism;   /* upper-cased ("INTERNAL"), or NULL when no token */
	char *token;       /* lower-case hex, at least 32 digits, or NULL */
	/* The URLAUTH "rump": bytes of the text up to the end of the access
	   identifier (the whole text when there is no ":mechanism:token"). */
	size_t rump_len;
};

/* Parses text (the whole URL, at most IMAP_MAX_URL bytes); 0, or -1 with a
   reason and url left empty. Only URLs that name a message are accepted. */
int imap_url_parse(struct str text, struct imap_url *url, struct buf *why);
void imap_url_free(struct imap_url *url);
/* A decoded section ("1.2.HEADER.FIELDS (A B)") into att (BODY.PEEK form);
   0, or -1 with att left empty. */
int imap_url_section_parse(struct str text, struct imap_fetch_att *att);
void imap_url_section_free(struct imap_fetch_att *att);
/* RFC 3339 date-time ("2026-03-01T12:00:00Z", "...+01:00") to seconds since
   the epoch; -1 when invalid. */
int imap_parse_rfc3339(struct str text, int64_t *t_r);
/* ---- LIST and APPEND arguments (imap_parse_list.c) ----------------------------------- */

#define IMAP_MAX_APPEND_MESSAGES 1000 /* messages in one MULTIAPPEND */
/* Bytes of one whole APPEND command (all its messages), unless one message of
   the size limit ([smtp] max_message_size) is more: see imap_append_total(). */
#define IMAP_MAX_APPEND_TOTAL ((uint64_t)64 << 20)

/* LIST selection and return options (RFC 5258, RFC 5819, RFC 6154). */
enum imap_list_option {
	IMAP_LIST_SUBSCRIBED = 1 << 0,     /* selection and return */
	IMAP_LIST_REMOTE = 1 << 1,         /* selection */
	IMAP_LIST_RECURSIVEMATCH = 1 << 2, /* selection */
	IMAP_LIST_SPECIAL_USE = 1 << 3,    /* selection and return */
	IMAP_LIST_CHILDREN = 1 << 4,       /* return */
	IMAP_LIST_STATUS = 1 << 5,         /* return, with status */
};

struct imap_list_args {
	bool extended;      /* options or several patterns: LIST-EXTENDED's form */
	unsigned select;    /* enum imap_list_option bits */
	unsigned ret;
	const struct imap_arg *ref;
	const struct imap_arg *patterns; /* npatterns strings */
	size_t npatterns;
	const struct imap_arg *status; /* RETURN (STATUS (...)): that list of atoms */
};

/* Interprets LIST's arguments; pointers go into args. 0, or -1 with a reason
   (BAD). LSUB's two arguments read as a LIST that is not extended. */
int imap_list_parse(const struct imap_arg *args, size_t nargs, struct imap_list_args *l,
                    struct buf *why);

/* One message of an APPEND. */
struct imap_append_msg {
	const struct imap_arg *flags; /* the flag list, or NULL */
	const struct imap_arg *date;  /* a valid date-time string, or NULL */
	struct str data;              /* the message */
	bool binary;                  /* it came as literal8 ("~{n}") */
	bool utf8;                    /* UTF8 (literal8) (RFC 6855) */
	const struct imap_arg *catenate; /* CATENATE (parts) instead of data (RFC 4469) */
};

/* Interprets APPEND's arguments after the mailbox: one message or several
   (MULTIAPPEND), at most IMAP_MAX_APPEND_MESSAGES. 0 with *msgs_r (owned, to
   free()) and *n_r >= 1, or -1 with a reason (BAD). Flags are the caller's to
   read (imap_arg_flags). */
int imap_append_parse(const struct imap_arg *args, size_t nargs, struct imap_append_msg **msgs_r,
                      size_t *n_r, struct buf *why);
/* Framing of APPEND: the bytes the whole command may hold, given the message
   size limit (IMAP_MAX_APPEND_TOTAL, or one message of the limit when that is
   more), and the largest literal it may announce next when used bytes of it
   are read: each message within max_message, the whole within the total. */
uint64_t imap_append_total(uint64_t max_message);
uint64_t imap_append_literal_max(uint64_t used, uint64_t max_message);

/* ---- the selected mailbox's index (imap_index.c) ------------------------------------
 *
 * What a session keeps of its selected mailbox between commands, for every
 * message: only what imap_sync() compares and numbers with. Message i
 * (sequence number i + 1) has uids[i] (ascending) and flags[i], the flags
 * the client was told as enum store_flag bits (STORE_FLAG_RECENT: recent in
 * this session), and a keyword set. Keyword sets are interned: each distinct
 * set is kept once, and a message holds its set's id (0: no keywords), 2
 * bytes, or 4 once there are more than 65535 sets; the ids take no memory
 * while no message has keywords. That is 5 bytes a message in the usual
 * case, where the 48 of a struct per message made idle sessions on large
 * mailboxes cost most of a megabyte each.
 *
 * MODSEQ, INTERNALDATE and size are not kept: a command that needs them reads
 * them for itself into a struct imap_meta (imap_meta_load() in imap_sync.c)
 * and frees it when it ends. Pure: it links with core alone. */

struct imap_index {
	uint32_t *uids;  /* ascending */
	uint8_t *flags;  /* enum store_flag bits (all below 1 << 8) */
	void *kw;        /* keyword set ids, kw_size bytes each; NULL while all are 0 */
	uint8_t kw_size; /* 2 or 4 */
	size_t n, cap;
	char ***sets; /* set id - 1 -> its names, NULL-terminated, as first given */
	size_t nsets, sets_cap;
	uint32_t *hash; /* set ids by the hash of their names (0: free), hash_cap a power of 2 */
	size_t hash_cap;
};

void imap_index_free(struct imap_index *x);
/* Room for n messages in all (an exact capacity: a mailbox's size is known
   when it is selected). */
void imap_index_reserve(struct imap_index *x, size_t n);
/* Appends a message whose uid is above every other; keywords NULL-terminated
   or NULL. Returns its index. */
size_t imap_index_push(struct imap_index *x, uint32_t uid, uint8_t flags, char **keywords);
/* Removes the messages at the n indexes of del (ascending, distinct) in one pass. */
void imap_index_remove(struct imap_index *x, const size_t *del, size_t n);
/* The index of uid, or -1. */
long imap_index_find(const struct imap_index *x, uint32_t uid);
/* The first index whose uid >= uid (x->n when none). */
size_t imap_index_lower_bound(const struct imap_index *x, uint32_t uid);
/* Message i's keywords: NULL-terminated, or NULL when it has none. Valid until
   the index is freed (sets are never dropped while it lives). */
char **imap_index_keywords(const struct imap_index *x, size_t i);
void imap_index_set_keywords(struct imap_index *x, size_t i, char **keywords);
/* Bytes the index holds in its own allocations (sets and their names counted). */
size_t imap_index_memory(const struct imap_index *x);

/* Metadata of messages read for one command, ascending by uid. */
struct imap_meta_msg {
	uint32_t uid;
	uint64_t modseq;
	int64_t internaldate;
	uint64_t size;
};

struct imap_meta {
	struct imap_meta_msg *v;
	size_t n, cap;
};

/* Appends one (its uid above every other). */
void imap_meta_push(struct imap_meta *m, const struct imap_meta_msg *msg);
/* uid's entry, or NULL (the message is not among those read: another session
   expunged it, or it did not change). m may be NULL. */
const struct imap_meta_msg *imap_meta_find(const struct imap_meta *m, uint32_t uid);
void imap_meta_free(struct imap_meta *m);

/* ---- the session (imap_session.c, imap_write.c, imap_sync.c, imap_cmd_*.c) ------------
 * Everything below is I/O-side and is not used by the parsers. */

struct imap_context;
struct imap_service;
struct conn;
struct sasl;
struct store_op;
struct store_watch;
struct store_mailbox;
struct event;
struct imap_update;
struct imap_sort_keys;

#define IMAP_MAX_UPDATES 16 /* UPDATE contexts in one session (RFC 5267 4.3.1) */

enum imap_state {
	IMAP_STATE_NOAUTH = 1 << 0,
	IMAP_STATE_AUTH = 1 << 1,
	IMAP_STATE_SELECTED = 1 << 2,
	IMAP_STATE_LOGOUT = 1 << 3,
};
#define IMAP_STATES_ANY (IMAP_STATE_NOAUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define IMAP_STATES_AUTHED (IMAP_STATE_AUTH | IMAP_STATE_SELECTED)

struct imap_session {
	struct conn *conn; /* NULL once the client is gone (orphaned session) */
	struct imap_service *svc;
	struct imap_context *ctx;
	enum imap_state state;
	bool paused, closing, orphaned;
	unsigned errors, auth_failures;

	/* framing */
	struct buf cmdbuf;     /* the command being assembled, in wire form */
	uint64_t literal_left; /* bytes of a literal still to read */
	bool literal_discard;  /* reading a literal we refused ({n+} over the limit) */
	bool literal_append;   /* the command is an APPEND: literals may be large */
	bool skipping_line;    /* an overlong line: discard up to its end */
	struct imap_cmd cmd;
	char *tag; /* the running command's tag (async completions) */

	/* authentication */
	int64_t account_id;
	char *user;
	struct sasl *sasl;
	bool auth_final_pending;
	struct buf sasl_out; /* the SASL machine's output, kept across a worker's job */
	unsigned jobs;       /* worker jobs (password checks) holding the session */

	/* ENABLE / capabilities */
	bool rev2, utf8_accept, condstore, qresync;

	/* the selected mailbox */
	int64_t mailbox_id;
	char *mailbox_name;
	bool mailbox_moved; /* renamed or deleted since: look it up again */
	bool readonly;
	uint32_t uidvalidity;
	struct imap_index msgs;       /* what the client knows of each message (imap_index.c) */
	uint64_t modseq;              /* changes up to this are known to the client */
	uint64_t index_modseq;        /* the index holds every change up to this (imap_sync.c) */
	const struct imap_meta *meta; /* the running command's metadata, if it read any */
	struct store_watch *watch;
	size_t recent_slot; /* this mailbox's \Recent claim mark (imap_sync.c), + 1 */
	size_t nrecent;     /* messages with STORE_FLAG_RECENT in the index */
	char **keywords;    /* keywords announced in FLAGS (NULL-terminated) */
	size_t nkeywords;
	struct imap_update **updates; /* RFC 5267 UPDATE contexts (imap_update.c) */
	size_t nupdates;
	uint32_t *saved;       /* SEARCHRES "$" (uids) */
	const uint32_t *quiet; /* sync: these uids' changes are the session's own (sorted) */
	size_t nquiet;
	size_t nsaved;

	/* IDLE */
	bool idling;

	/* NOTIFY (imap_notify.c) */
	bool notifying;
	struct imap_notify_spec notify;
	struct imap_notify_box **notify_boxes; /* watched mailboxes */
	size_t nnotify_boxes;
	unsigned notify_selected; /* events of the SELECTED group */
	bool notify_delayed;      /* SELECTED-DELAYED */
	const struct imap_fetch_spec *notify_fetch;
	struct imap_session *notify_next; /* in the context's list */

	/* an asynchronous store op in flight (APPEND, STORE, EXPUNGE, COPY...) */
	struct store_op *op;
	void (*op_done)(struct imap_session *s, struct store_op *op);
	void *op_data;
};

struct imap_command {
	const char *name;
	unsigned states; /* enum imap_state bits in which it is valid */
	void (*run)(struct imap_session *s);
};

/* imap_session.c */
void imap_reply(struct imap_session *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
void imap_tagged(struct imap_session *s, const char *status, const char *fmt, ...)
        PRINTF_LIKE(3, 4);
void imap_bad(struct imap_session *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
void imap_close(struct imap_session *s);
void imap_submit(struct imap_session *s, struct store_op *op,
                 void (*done)(struct imap_session *s, struct store_op *op));
void imap_session_free(struct imap_session *s);
void imap_pause(struct imap_session *s);
void imap_resume(struct imap_session *s);
/* Ends a worker job; false when the session was orphaned and is now freed. */
bool imap_job_done(struct imap_session *s);
void imap_reply_later(struct imap_session *s, int64_t delay_ms, bool then_close, const char *fmt,
                      ...) PRINTF_LIKE(4, 5);
void imap_write(struct imap_session *s, const void *p, size_t n);

/* imap_write.c: response building */
void imap_put_string(struct buf *out, const char *s, size_t len); /* quoted or literal */
void imap_put_astring(struct buf *out, const char *s);
void imap_put_mailbox(struct imap_session *s, struct buf *out, const char *name);
void imap_put_flags(struct buf *out, uint32_t flags, char **keywords);
/* qsort/bsearch order of uint32_t values. */
int imap_cmp_u32(const void *a, const void *b);
/* Whether uid is one of the n ascending values of v. */
bool imap_uid_in(const uint32_t *v, size_t n, uint32_t uid);
/* Numbers as a compact set, in the given order with runs of consecutive ones
   as ranges: "1:3,5" (ascending), "5,3:4,2" (a SORT's order). */
void imap_put_set(struct buf *out, const uint32_t *v, size_t n);
/* A mailbox name argument (modified UTF-7 unless UTF8=ACCEPT) to UTF-8. */
int imap_arg_mailbox(struct imap_session *s, const struct imap_arg *arg, struct buf *out);
/* Flag list "(\Seen foo)" or a single flag -> bits + keywords (owned, NULL-terminated). */
int imap_arg_flags(const struct imap_arg *arg, uint32_t *flags_r, char ***keywords_r,
                   bool allow_recent, struct buf *why);
void imap_strv_free(char ***v);

/* imap_sync.c: the selected mailbox */
/* Loads m's index and selects it (read-only for EXAMINE); claims its recent
   messages unless read-only. On failure nothing is selected. */
int imap_select_load(struct imap_session *s, const struct store_mailbox *m, bool readonly,
                     struct buf *err);
void imap_unselect(struct imap_session *s);
/* Message index's flags as the client sees them (\Recent included), and its
   keywords (NULL-terminated, or NULL). */
uint32_t imap_msg_flags(const struct imap_session *s, size_t index);
char **imap_msg_keywords(const struct imap_session *s, size_t index);
/* Reads into meta the MODSEQ, INTERNALDATE and size of the selected mailbox's
   messages with uid in [lo, hi] and MODSEQ above modseq (0: all); -1 on a
   store error. Messages another session expunged are missing. The caller
   frees meta before its command ends. */
int imap_meta_load(struct imap_session *s, uint32_t lo, uint32_t hi, uint64_t modseq,
                   struct imap_meta *meta);
/* Whether meta holds a change the index has not heard of (a MODSEQ above
   s->index_modseq): told with the flags of the index, its MODSEQ would pair
   with flags from before it. */
bool imap_meta_stale(const struct imap_session *s, const struct imap_meta *meta);
/* imap_meta_load() of every message of the index (with MODSEQ above
   modseq), in one read transaction; with_modseq (the command tells MODSEQs),
   a stale meta brings the index up to date first (imap_sync(), expunges held
   back) and is read again. */
int imap_meta_load_all(struct imap_session *s, uint64_t modseq, bool with_modseq,
                       struct imap_meta *meta);
/* "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" with the known keywords. */
void imap_put_flags_announce(struct imap_session *s, struct buf *out);
/* How many messages of m are recent for the next session to select it. */
int imap_recent_count(struct imap_session *s, const struct store_mailbox *m, uint32_t *n_r);
/* Reports what changed since s->modseq; expunges only when allowed. */
void imap_sync(struct imap_session *s, bool allow_expunge);
/* Turns CONDSTORE on (RFC 7162 3.1: ENABLE, or the first command that uses
   it); in a selected mailbox the client is told its HIGHESTMODSEQ. */
void imap_condstore_enable(struct imap_session *s);
/* "* VANISHED (EARLIER) uids" for the uids of set (none above uid_limit or
   at or below floor; "*" is uid_limit) that this session does not hold and were
   expunged after modseq; nothing when there are none. When the store no
   longer has the tombstones that far back, every such uid not in the
   mailbox is named (RFC 7162 3.2.5.2 allows it). -1 on a store error. */
int imap_put_vanished_earlier(struct imap_session *s, const struct imap_seqset *set,
                              uint64_t modseq, uint32_t floor, uint32_t uid_limit,
                              struct buf *out);
/* Message index (0-based) for a UID, or -1. */
long imap_msg_by_uid(const struct imap_session *s, uint32_t uid);
/* Resolves a sequence set (MSNs or UIDs) to the indexes of matching messages. */
int imap_resolve_set(struct imap_session *s, const char *text, size_t len, bool uid, size_t **idx_r,
                     size_t *n_r);

/* imap_cmd_search.c: the search evaluator, for SEARCH, SORT, THREAD and
   the UPDATE contexts. Whether message index matches the program (its
   bytes are read only for keys that need them). */
bool imap_search_matches(struct imap_session *s, size_t index, const struct imap_search *q,
                         bool uid);
bool imap_search_uses_modseq(const struct imap_search *q);
/* Whether the program has keys on MODSEQ, INTERNALDATE or size: its caller
   loads s->meta first (a message missing from it matches none of them). */
bool imap_search_needs_meta(const struct imap_search *q);
/* The MODSEQ every match has at least (a top-level MODSEQ key), or 0: the
   metadata of messages below it need not be read. */
uint64_t imap_search_modseq_floor(const struct imap_search *q);

/* imap_cmd_sort.c */
/* The sort keys of message index for the criteria of sort (only those it
   needs are read); never NULL. Compared by the criteria, then by UID. */
struct imap_sort_keys *imap_sort_keys_load(struct imap_session *s, size_t index,
                                           const struct imap_sort *sort);
void imap_sort_keys_free(struct imap_sort_keys **k);
uint32_t imap_sort_keys_uid(const struct imap_sort_keys *k);
int imap_sort_keys_cmp(const struct imap_sort *sort, const struct imap_sort_keys *a,
                       const struct imap_sort_keys *b);
/* False, after answering NO [BADCHARSET], when q's charset is not one we know. */
bool imap_charset_ok(struct imap_session *s, const struct imap_search *q);
/* " PARTIAL (lo:hi set-or-NIL)" of a result v (RFC 5267 4.4). */
void imap_put_partial(struct buf *out, const struct imap_search *q, const uint32_t *v, size_t n);

/* imap_update.c: UPDATE contexts of the selected mailbox */
bool imap_update_tag_in_use(struct imap_session *s, const char *tag);
/* New contexts; they take the program (left empty) and, for a SORT, the
   keys of its result in order. hits are what SEARCH answered. */
void imap_update_add(struct imap_session *s, const char *tag, bool uid, struct imap_sort *sort,
                     struct imap_sort_keys **keys, size_t n);
void imap_update_add_search(struct imap_session *s, const char *tag, bool uid,
                            struct imap_search *q, const uint32_t *hits, size_t n);
/* From imap_sync(): uids (ascending) about to be reported expunged, with
   the index still holding them; then the messages that are new or changed,
   with their metadata, once the index has them. Updates go to out. */
void imap_update_expunged(struct imap_session *s, const uint32_t *uids, size_t n, struct buf *out);
void imap_update_changed(struct imap_session *s, const struct imap_meta *changed, struct buf *out);
void imap_update_free_all(struct imap_session *s);

/* imap_cmd_fetch.c: the bytes BODY[section] names (a->nparts, kind, fields) in a
   message parsed into root, appended to out; -1 when the part does not exist. */
struct mime_part;
int imap_section_bytes(const char *msg, size_t len, const struct mime_part *root,
                       const struct imap_fetch_att *a, struct buf *out);

/* imap_cmd_urlauth.c: URLAUTH (RFC 4467, RFC 5524) and the URLs of CATENATE */
#define IMAP_URLAUTH_TOKEN_HEX 64 /* hex digits of an INTERNAL token */
/* The INTERNAL mechanism's token for a URL's rump: HMAC-SHA256 under the
   mailbox's key, as lower-case hex, appended to out. */
void imap_urlauth_token(const unsigned char *key, size_t keylen, const char *rump, size_t rump_len,
                        struct buf *out);
/* The bytes a URL names for CATENATE, appended to out: a URL relative to the
   server or naming the session's own user, or one carrying a valid URLAUTH
   token. 0; -1 when it is invalid or names nothing ([BADURL]); -2 on a
   temporary store failure. */
int imap_url_catenate_bytes(struct imap_session *s, struct str url, struct buf *out);
/* imap_cmd_catenate.c: APPEND's CATENATE list (RFC 4469). The check: 0, or -1
   with why for a BAD. The build, once the target mailbox is known to exist:
   the message appended to msg; 0, or -1 with the text of the tagged NO in why
   ("[BADURL url] ...", "[TOOBIG] ..."). */
#define IMAP_MAX_CATENATE_PARTS 1000 /* TEXT and URL parts of one CATENATE */
int imap_catenate_check(const struct imap_arg *list, struct buf *why);
int imap_catenate(struct imap_session *s, const struct imap_arg *list, struct buf *msg,
                  struct buf *why);
void imap_cmd_genurlauth(struct imap_session *s);
void imap_cmd_resetkey(struct imap_session *s);
void imap_cmd_urlfetch(struct imap_session *s);

/* imap_cmd_*.c */
void imap_cmd_capability(struct imap_session *s);
void imap_cmd_noop(struct imap_session *s);
void imap_cmd_logout(struct imap_session *s);
void imap_cmd_starttls(struct imap_session *s);
void imap_cmd_login(struct imap_session *s);
void imap_cmd_authenticate(struct imap_session *s);
void imap_auth_line(struct imap_session *s, const char *line, size_t len);
void imap_cmd_enable(struct imap_session *s);
void imap_cmd_id(struct imap_session *s);
void imap_cmd_namespace(struct imap_session *s);
void imap_cmd_select(struct imap_session *s);
void imap_cmd_create(struct imap_session *s);
void imap_cmd_delete(struct imap_session *s);
void imap_cmd_rename(struct imap_session *s);
void imap_cmd_subscribe(struct imap_session *s);
void imap_cmd_list(struct imap_session *s);
void imap_cmd_status(struct imap_session *s);
void imap_cmd_append(struct imap_session *s);
void imap_cmd_check(struct imap_session *s);
void imap_cmd_close(struct imap_session *s);
void imap_cmd_expunge(struct imap_session *s);
void imap_cmd_search(struct imap_session *s);
void imap_cmd_sort(struct imap_session *s);
void imap_cmd_thread(struct imap_session *s);
void imap_cmd_cancelupdate(struct imap_session *s);
void imap_cmd_fetch(struct imap_session *s);
void imap_cmd_store(struct imap_session *s);
void imap_cmd_copy(struct imap_session *s);
void imap_cmd_idle(struct imap_session *s);
void imap_idle_line(struct imap_session *s, const char *line, size_t len);
void imap_capabilities(struct imap_session *s, struct buf *out);
void imap_cmd_notify(struct imap_session *s);
/* One message's "* n FETCH (...)" with spec's items, never setting \Seen;
   -1 (nothing written) when its data is gone. Items on MODSEQ, INTERNALDATE
   or size take them from s->meta, which the caller loads when
   imap_fetch_needs_meta(spec). */
int imap_fetch_put(struct imap_session *s, const struct imap_fetch_spec *spec, size_t idx,
                   struct buf *out);
bool imap_fetch_needs_meta(const struct imap_fetch_spec *spec);

/* imap_notify.c */
struct imap_notify_box;
void imap_notify_stop(struct imap_session *s);
/* A committed change to the selected mailbox: reported now if NOTIFY asks
   for it and no command runs; false if it was left for later. */
bool imap_notify_push_selected(struct imap_session *s);
/* imap_sync, then the MessageNew fetch attributes of the new messages. */
void imap_notify_sync(struct imap_session *s, bool allow_expunge);
/* A mailbox was created (on), deleted (!on) or renamed (old_name), or its
   subscription set (on) or cleared, by from: the account's other notifying
   sessions hear of it. event is IMAP_NOTIFY_MAILBOX_NAME or
   IMAP_NOTIFY_SUBSCRIPTION_CHANGE. */
void imap_notify_mailbox_event(struct imap_session *from, enum imap_notify_event event,
                               const char *name, const char *old_name, bool on);

#endif
