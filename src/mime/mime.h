/*
 * mime — pure codecs for stored messages: RFC 5322 headers, the MIME part tree
 * with exact byte offsets (RFC 2045/2046), the IMAP ENVELOPE and BODY /
 * BODYSTRUCTURE strings (RFC 9051 section 7.5.2, RFC 3501 section 7.4.2),
 * address lists (RFC 5322, RFC 6532), and decoders: quoted-printable, base64,
 * RFC 2047 encoded words, RFC 2231 parameters, charsets to UTF-8 (iconv).
 *
 * Contract:
 *  - Every function is a pure function of the bytes it is given: no I/O, no
 *    globals. Input is bytes plus a length and may hold anything (NULs, bare LF,
 *    8-bit garbage, missing boundaries); nothing here fails on a peer's input.
 *    The only failures are bugs (panic) and out-of-memory (xmalloc aborts).
 *  - Work and memory are bounded by the named limits below and proportional to
 *    the input size (parsing reads the message at most MIME_MAX_DEPTH + 1
 *    times). What lies beyond a limit is kept, not dropped: offsets still cover
 *    every byte, the excess structure is just not looked into.
 *  - Output goes into a caller's struct buf (appended); a tree from mime_parse()
 *    is owned by the caller and freed with mime_part_free(). Its strings are
 *    NUL-terminated copies; its offsets point into the caller's message, which
 *    the tree does not keep.
 *
 * Conventions (decided here, documented once):
 *  - In struct mime_part, type, subtype, parameter names, encoding and
 *    disposition are ASCII lower-case. In BODYSTRUCTURE they are sent upper-case
 *    ("TEXT" "PLAIN" ("CHARSET" "us-ascii") ...), as in the RFC's examples and the
 *    grammar's spelling of media-text and media-message; values are sent as
 *    written. Clients compare these case-insensitively.
 *  - body_lines is the number of LF bytes in the body (what Dovecot counts; a last
 *    line without a line end is not counted). Sizes are the stored octets: a
 *    message stored with bare LF is described with bare LF, not as if CRLF.
 *  - IMAP strings are quoted when every byte is 0x01-0x7f and not CR or LF
 *    (with \ and " escaped), otherwise sent as a literal {n}\r\n... In literals
 *    NUL becomes U+FFFD, since IMAP literals cannot carry NUL. Header values
 *    (ENVELOPE, id, description...) are sent on one line: a CR or LF left in
 *    them becomes a space. The cached strings thus suit IMAP4rev1 and rev2.
 *  - RFC 2231 parameters are joined and their charset converted (RFC 9051
 *    7.5.2); "name*" values, held as UTF-8 in the tree, are sent in
 *    BODYSTRUCTURE as utf-8''%XX so that they stay 7-bit for rev1 clients.
 */
#ifndef PETREL_MIME_H
#define PETREL_MIME_H

#include "core/core.h"

/* ---- limits -------------------------------------------------------------------- */

/*
 * Nesting: the top-level message is at depth 0 and each child of a multipart or
 * message/rfc822 part is one deeper. A multipart or message part at depth
 * MIME_MAX_DEPTH is not looked into: it becomes an opaque leaf (see below).
 * So MIME_MAX_DEPTH nested containers parse fully, one more does not.
 */
#define MIME_MAX_DEPTH 32
/*
 * Parts in one tree, the root included. A multipart whose children would take
 * the count above this, or a message part whose embedded message would, is an
 * opaque leaf instead (all its children or none).
 */
#define MIME_MAX_PARTS 5000
/*
 * One unfolded header field value. A longer field still belongs to the header
 * (offsets are exact) but only its first MIME_MAX_HEADER_FIELD bytes are used
 * for its value (Content-Type parameters, envelope strings, addresses).
 */
#define MIME_MAX_HEADER_FIELD (64 * 1024)
/*
 * RFC 2046: a boundary is 1 to 70 characters. A multipart whose boundary is
 * missing, empty, longer, or holds CR or LF has a syntactically invalid
 * Content-Type, and per RFC 2045 section 5.2 the part is then taken as
 * text/plain; charset=us-ascii (a leaf; its body holds the would-be parts).
 */
#define MIME_MAX_BOUNDARY 70
/* Parameters read from one Content-Type / Content-Disposition field, counting
 * each RFC 2231 section; further ones are ignored. Also caps Content-Language. */
#define MIME_MAX_PARAMS 64

/*
 * An opaque leaf is a multipart or message/rfc822 (message/global) part that is
 * not looked into because of MIME_MAX_DEPTH or MIME_MAX_PARTS, or a message part
 * whose Content-Transfer-Encoding is base64 or quoted-printable (so its body is
 * not a message as stored). It has no children, MIME_PART_OPAQUE is set, its type
 * becomes application/octet-stream and it keeps its own parameters - the way
 * Dovecot reports parts beyond its limits.
 */

/* ---- headers ------------------------------------------------------------------- */

struct mime_header_field {
	const char *name; /* points into the header; not NUL-terminated */
	size_t name_len;
	const char *value; /* raw value after the colon: folding kept, final EOL not */
	size_t value_len;
	size_t offset; /* of the field's first byte, from the header's start */
	size_t len;    /* of the whole field, final line end included */
};

struct mime_header_iter {
	const char *p;
	size_t len, pos;
};

/*
 * The length of the header block at the start of msg: up to and including the
 * first empty line (CRLF CRLF or LF LF; a header may also start with the empty
 * line), or len when there is none. The body starts right after it.
 */
size_t mime_header_len(const char *msg, size_t len);

/* Iterates the fields of a header block (msg, mime_header_len(msg)). Lines that
 * are not fields (no colon, or leading junk) are skipped; a continuation line
 * before any field is skipped too. */
void mime_header_iter_init(struct mime_header_iter *it, const char *hdr, size_t len);
bool mime_header_next(struct mime_header_iter *it, struct mime_header_field *f_r);

/*
 * Appends the unfolded value (RFC 5322 section 2.2.3: each CRLF or LF that is
 * followed by WSP is removed), leading and trailing whitespace removed, cut at
 * MIME_MAX_HEADER_FIELD bytes.
 */
void mime_header_unfold(const char *value, size_t len, struct buf *out);
/* The unfolded value of the first field called name (case-insensitive) in the
 * header block; false, with out untouched, when there is none. */
bool mime_header_get(const char *hdr, size_t len, const char *name, struct buf *out);

/* ---- the part tree ------------------------------------------------------------ */

enum mime_part_kind {
	MIME_PART_LEAF,      /* any single part, opaque ones included */
	MIME_PART_MULTIPART, /* children are the body parts, in order */
	MIME_PART_MESSAGE,   /* message/rfc822 or /global: one child, the embedded message */
};

enum mime_part_flags {
	MIME_PART_OPAQUE = 1 << 0,       /* see "opaque leaf" above */
	MIME_PART_DEFAULT_TYPE = 1 << 1, /* no or invalid Content-Type: type is a default */
	MIME_PART_NO_END = 1 << 2,       /* multipart whose close delimiter is missing */
	MIME_PART_IS_MESSAGE = 1 << 3,   /* the root, or the child of a MESSAGE part */
};

struct mime_param {
	char *name;  /* lower-case; ends in '*' when RFC 2231 charset-decoded */
	char *value; /* as written, continuations joined; UTF-8 for "name*" */
};

struct mime_part {
	struct mime_part *parent, *children, *next;
	size_t nchildren;
	unsigned depth;
	enum mime_part_kind kind;
	unsigned flags;

	/* Offsets into the message given to mime_parse(). The header includes its
	 * final empty line; header_offset + header_len == body_offset. For a part
	 * of a multipart, the CRLF before the next delimiter belongs to the
	 * delimiter, not to the body (RFC 2046). */
	size_t header_offset, header_len;
	size_t body_offset, body_len;
	size_t body_lines; /* LF bytes in the body */

	char *type, *subtype; /* lower-case, never NULL: default text/plain */
	struct mime_param *params;
	size_t nparams;
	char *id, *description, *md5, *location; /* unfolded, trimmed; NULL if absent */
	char *encoding;                          /* lower-case token; NULL: 7bit */
	char *disposition;                       /* lower-case token; NULL if absent */
	struct mime_param *disp_params;
	size_t ndisp_params;
	char **languages; /* Content-Language tags as written */
	size_t nlanguages;
};

/*
 * Parses a whole message into its part tree. Always succeeds (returns 0) for
 * any input, the empty one included; the return value is kept for the day a
 * resource failure can happen. *root_r is the top-level message entity: its
 * header is the message header, its body the message body.
 *
 * Multipart rules: a delimiter line is "--" boundary followed by "--" (the
 * close delimiter) or by nothing but spaces/tabs up to the line end; the
 * preamble and epilogue belong to no child; without a close delimiter the last
 * part runs to the end of the parent's body; a multipart with no delimiter
 * line has no children (BODYSTRUCTURE then shows one empty text/plain part, as
 * Dovecot does). A part with no empty line is all header. Parts of
 * multipart/digest default to message/rfc822. A message (the root or an
 * embedded one) with neither MIME-Version nor Content-Type is not MIME: its
 * other Content-* fields are ignored (RFC 2045 section 4, as Dovecot does).
 */
int mime_parse(const char *msg, size_t len, struct mime_part **root_r);
void mime_part_free(struct mime_part **part);

/*
 * The part an IMAP section number ("1", "2.1.3"; "" for the whole message)
 * names, or NULL. For that part, BODY[section] is its body and
 * BODY[section.MIME] its header. A non-multipart message has only part 1 (the
 * message itself); a message/rfc822 part's numbers go into the embedded
 * message's parts. For BODY[section.HEADER] / .TEXT use mime_part_message().
 */
const struct mime_part *mime_part_find(const struct mime_part *root, const char *section);
/* The embedded message of a MESSAGE part (its header and body are the
 * section's HEADER and TEXT), else NULL. The top-level HEADER and TEXT are the
 * root's header and body. */
const struct mime_part *mime_part_message(const struct mime_part *part);
/* A parameter value by name, case-insensitive; for "filename" an RFC 2231
 * "filename*" is preferred when present. NULL when absent. */
const char *mime_part_param(const struct mime_part *part, const char *name);
const char *mime_part_disp_param(const struct mime_part *part, const char *name);
/* The charset for a text part: its parameter, else "us-ascii". */
const char *mime_part_charset(const struct mime_part *part);

/* ---- IMAP strings ---------------------------------------------------------------- */

/*
 * ENVELOPE of a message (or of any header block: parsing stops at its end),
 * the parenthesised list included: (date subject from sender reply-to to cc
 * bcc in-reply-to message-id). Sender and reply-to default to from. Strings
 * are the raw header values (RFC 2047 words are not decoded), subject and
 * display names with whitespace runs made single spaces. Address fields
 * that occur more than once are joined; for the others the first one counts.
 */
void mime_envelope(const char *msg, size_t len, struct buf *out);

/*
 * BODYSTRUCTURE (extended) or BODY (not extended) of a parsed message, the
 * outer parentheses included. msg is the message given to mime_parse().
 */
void mime_bodystructure(const struct mime_part *root, const char *msg, bool extended,
                        struct buf *out);

/* An IMAP string (quoted or literal, see the conventions above), and the same
 * or NIL for NULL. */
void mime_imap_string(struct buf *out, const char *s, size_t len);
void mime_imap_nstring(struct buf *out, const char *s);

/* ---- addresses --------------------------------------------------------------------- */

/*
 * One element of an address list, in IMAP's model: a mailbox has a host; a
 * group start has mailbox = the group's display name and host NULL; a group end
 * has mailbox and host NULL. Strings are NUL-terminated; name, adl may be NULL.
 */
struct mime_address {
	char *name;    /* display name without quotes (RFC 2047 not decoded), or the
	                  comment of a bare addr-spec */
	char *adl;     /* obsolete source route "@a,@b", or NULL */
	char *mailbox; /* local part without quoting */
	char *host;    /* domain; "MISSING_DOMAIN" when absent */
	bool invalid;  /* syntax was repaired */
};

/*
 * Parses an RFC 5322 address-list (or mailbox-list) value, obsolete forms
 * tolerated (empty elements, routes, missing @domain, unclosed groups, junk
 * after an address, a group not followed by a comma). Appends to *list_r /
 * *count_r, which must be NULL / 0 or come from earlier calls. Missing parts are
 * filled in the way Dovecot does: mailbox "MISSING_MAILBOX", host
 * "MISSING_DOMAIN". At most MIME_MAX_HEADER_FIELD bytes are read.
 */
void mime_address_parse(const char *value, size_t len, struct mime_address **list_r,
                        size_t *count_r);
void mime_address_free(struct mime_address **list, size_t count);

/* ---- decoders -------------------------------------------------------------------- */

/* Quoted-printable (RFC 2045 6.7), lenient: a bad "=XY" is kept as written,
 * trailing whitespace before a line end is dropped, soft breaks removed. */
void mime_decode_qp(const char *in, size_t len, struct buf *out);
/* Base64, lenient: characters outside the alphabet are skipped, decoding stops
 * at the first '=' (padding), a trailing partial group is decoded as far as it
 * goes. */
void mime_decode_base64(const char *in, size_t len, struct buf *out);
/* Undoes the part's Content-Transfer-Encoding (base64, quoted-printable; the
 * others copied as they are) on its body. */
void mime_part_decode_body(const struct mime_part *part, const char *msg, struct buf *out);

/*
 * Converts bytes in charset to UTF-8 through iconv. us-ascii and utf-8 input is
 * checked, not converted. Invalid sequences become U+FFFD. Returns false, and
 * appends the input with invalid UTF-8 replaced by U+FFFD, when iconv does not
 * know the charset. The output is always valid UTF-8 without NUL (NUL becomes
 * U+FFFD too).
 */
bool mime_charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out);

/*
 * An unstructured header value (unfolded or raw) with RFC 2047 encoded words
 * ('B' and 'Q', RFC 2231 language suffix allowed) decoded to UTF-8; whitespace
 * between adjacent encoded words is dropped; an encoded word in an unknown
 * charset or badly formed is left as written. Bytes outside encoded words are
 * taken as UTF-8 (RFC 6532), invalid ones replaced with U+FFFD.
 */
void mime_decode_header(const char *value, size_t len, struct buf *out);

/*
 * The text of a part as UTF-8: the body with its transfer encoding undone and
 * its charset converted (mime_part_charset). For SEARCH and the full-text
 * index; meant for text parts but works on any leaf.
 */
void mime_part_text(const struct mime_part *part, const char *msg, struct buf *out);

/* ---- search text (mime_search.c) ----------------------------------------------------- */

/*
 * What IMAP SEARCH BODY and TEXT look into (RFC 9051 6.4.4), as pieces of
 * UTF-8 text, in this order:
 *   - TEXT only: the message header, RFC 2047 words decoded (mime_decode_header
 *     over the raw header block, folding kept);
 *   - for every part below the root, depth first: its MIME header decoded the
 *     same way (embedded messages' headers included), then, for a leaf of type
 *     "text", its text (mime_part_text: transfer encoding undone, charset
 *     converted; HTML as written, tags included).
 * The bodies of other leaves (images, archives, opaque parts) are not searched.
 * A match never spans two pieces.
 *
 * mime_search_walk() calls fn with each piece (valid UTF-8 without NUL, not
 * NUL-terminated); fn returns true to stop, and the walk then returns true.
 * mime_search_text() appends, for the full-text index, the message header's
 * piece to header and every other piece to body, each after a "\n" when body
 * is not empty: any string found by the walk is thus a substring of header or
 * body.
 */
typedef bool mime_search_fn(const char *text, size_t len, void *arg);
bool mime_search_walk(const struct mime_part *root, const char *msg, bool with_header,
                      mime_search_fn *fn, void *arg);
void mime_search_text(const struct mime_part *root, const char *msg, struct buf *header,
                      struct buf *body);

/* ---- building messages (mime_build.c) ------------------------------------------------ */

/*
 * mime_build_message() writes a complete RFC 5322 / MIME message from parts given
 * as UTF-8 text and bytes, for senders that are not mail clients (the HTTP API):
 *
 *   - structure: text and html become multipart/alternative; parts with a
 *     content_id next to an html body are inline parts of a multipart/related
 *     around it; other parts are attachments in a multipart/mixed around all;
 *   - headers: Date, From, To, Cc, Reply-To, Subject, Message-ID, MIME-Version,
 *     the caller's extra headers; non-ASCII text becomes RFC 2047 encoded words,
 *     non-ASCII or long file names RFC 2231 parameters; lines are folded;
 *   - bodies: line ends made CRLF; 7bit when the text allows it, else
 *     quoted-printable or base64, whichever is shorter; attachments in base64;
 *     no line is longer than MIME_BUILD_MAX_LINE octets;
 *   - boundaries are derived from m->boundary and contain "=_", which neither
 *     quoted-printable nor base64 can produce and which forces a 7bit text that
 *     holds it into quoted-printable: no body can contain a boundary.
 *
 * Header injection is impossible by construction: a CR, LF or other control
 * character in any header value, name, address, file name, content type or
 * content id is an error, never a new line. Errors return -1 with the failing
 * element in field_r, named as the HTTP API names its JSON fields ("subject",
 * "to[1]", "headers.X-Tag", "attachments[0].filename") and the reason in err;
 * out is then left as it was. A pure function: no I/O, no clock, no randomness
 * (the caller gives the date, the Message-ID and the boundary seed).
 */
#define MIME_BUILD_MAX_LINE 998    /* RFC 5322 2.1.1 */
#define MIME_BUILD_MAX_ADDRESS 254 /* octets of an address (RFC 5321 path) */
#define MIME_BUILD_MAX_NAME 76     /* octets of an extra header's name */

struct mime_build_address {
	const char *name;    /* display name (UTF-8), or NULL */
	const char *address; /* local@domain (the local part may be UTF-8, RFC 6532) */
};

struct mime_build_header {
	const char *name;  /* a field name the builder does not write itself */
	const char *value; /* unstructured UTF-8 text */
};

struct mime_build_part {
	const char *filename;     /* UTF-8, or NULL */
	const char *content_type; /* "type/subtype[; params]", NULL: application/octet-stream */
	const char *content_id;   /* without angle brackets, or NULL */
	const void *data;
	size_t len;
};

struct mime_build {
	struct mime_build_address from;
	const struct mime_build_address *to, *cc, *reply_to;
	size_t nto, ncc, nreply_to;
	const char *subject; /* UTF-8, or NULL */
	const char *text;    /* UTF-8 bodies, or NULL */
	const char *html;
	const struct mime_build_header *headers;
	size_t nheaders;
	const struct mime_build_part *parts;
	size_t nparts;
	const char *message_id; /* "<id@host>" */
	int64_t date;           /* seconds since the epoch, written as UTC */
	const char *boundary;   /* 1 to 40 letters and digits, unique to this message */
};

int mime_build_message(const struct mime_build *m, struct buf *out, struct buf *field_r,
                       struct buf *err);

/* The RFC 5322 date-time of t (seconds since the epoch) in UTC:
   "Tue, 1 Jul 2003 10:52:37 +0000". */
void mime_build_date(int64_t t, struct buf *out);

#endif
