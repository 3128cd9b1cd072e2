/*
 * dkim — DKIM signatures (RFC 6376) for mail that leaves from a local domain,
 * with RSA-SHA256 and Ed25519-SHA256 (RFC 8463), relaxed/relaxed.
 *
 * Three layers, each usable without the next:
 *
 *  - dkim_canon.c is pure (core and mime's header iterator, no OpenSSL, no
 *    I/O; fuzzed by fuzz/fuzz_dkim_canon.c): the relaxed canonicalisation of
 *    a body (pushed in pieces, constant state) and of header fields, the
 *    choice of the fields a signature covers, and the text of the
 *    DKIM-Signature field.
 *  - dkim_sign.c (OpenSSL EVP): keys — made, turned into their DNS record —
 *    and the signature of a whole message with one key per algorithm.
 *  - dkim_submit.c: the policy, for a message being submitted (SMTP
 *    submission, the HTTP API): which domain signs it, its keys (read from the
 *    store on the loop), and the signing itself on a worker thread
 *    (core/work.h: an RSA-2048 signature costs about a millisecond).
 *
 * What is signed (DKIM_SIGNED_FIELDS): From, To, Cc, Subject, Date,
 * Message-ID, MIME-Version, Content-Type, Content-Transfer-Encoding, Reply-To,
 * In-Reply-To, References and every List-* field — each instance present, the
 * last ones first as RFC 6376 5.4.2 pairs them — and From once more than
 * present, so that a second From cannot be added without breaking the
 * signature (RFC 6376 8.15). Never the trace fields (Return-Path, Received),
 * which change on the way.
 *
 * Errors: functions that can fail return -1 with a one-line reason in err.
 * Keys are PEM text (PKCS#8 "PRIVATE KEY"); they are never logged.
 */
#ifndef PETREL_DKIM_H
#define PETREL_DKIM_H

#include "core/core.h"

struct store;
struct work_pool;

#define DKIM_MAX_INSTANCES 8        /* instances of one field name signed (the last ones) */
#define DKIM_MAX_SIGNED_FIELDS 64   /* entries of h= in all, over-signing included */
#define DKIM_MAX_HEADER_FIELDS 1000 /* fields of a header looked at; later ones are not signed */
#define DKIM_MAX_LIST_NAME 64       /* a longer List-* name is not signed (h= stays foldable) */
#define DKIM_MAX_SELECTOR 63        /* bytes of a selector (one DNS label or several) */
#define DKIM_MAX_KEYS 2             /* signatures on one message: one per algorithm */
#define DKIM_RSA_BITS 2048
#define DKIM_TXT_CHUNK 255 /* bytes of one character-string of a TXT record */
#define DKIM_FOLD 78       /* columns of a line of the DKIM-Signature field */

/* ---- canonicalisation (dkim_canon.c, pure) ------------------------------------------ */

/*
 * The relaxed body canonicalisation (RFC 6376 3.4.4), as a push machine: bytes
 * in any pieces, the canonical bytes appended to out. Whitespace runs within a
 * line become one SP, whitespace at the end of a line goes, empty lines at the
 * end go, and a non-empty body ends with CRLF. Lines end at CRLF only; a bare
 * CR or LF is an ordinary character. The result does not depend on how the
 * input is split.
 */
struct dkim_body_canon {
	size_t empty_lines; /* CRLFs of empty lines held back (they may end the body) */
	bool wsp;           /* whitespace held back (it may end the line) */
	bool cr;            /* a CR held back (it may start a CRLF) */
	bool in_line;       /* the current line has content */
};
void dkim_body_canon_init(struct dkim_body_canon *c);
void dkim_body_canon_push(struct dkim_body_canon *c, const char *p, size_t len, struct buf *out);
void dkim_body_canon_finish(struct dkim_body_canon *c, struct buf *out);

/*
 * The relaxed header canonicalisation (RFC 6376 3.4.2) of one field given as
 * its name and its raw value (after the colon, folding kept, no final line
 * end): "name:value" with the name lower-cased, line ends removed, whitespace
 * runs made one SP, whitespace around the value removed; then CRLF when crlf.
 */
void dkim_canon_header(const char *name, size_t name_len, const char *value, size_t value_len,
                       bool crlf, struct buf *out);

/*
 * The fields of the header block hdr (the message up to its empty line) that a
 * signature covers, per DKIM_SIGNED_FIELDS: appends the h= value
 * ("from:from:to:subject...") to hlist and the canonical fields, in h= order
 * and CRLF-terminated, to canon. Returns the number of h= entries (0 when the
 * header has no From: a message without From is not signed).
 */
size_t dkim_canon_select(const char *hdr, size_t hlen, struct buf *hlist, struct buf *canon);

/* The tags of one signature. */
struct dkim_sig {
	const char *algorithm; /* "rsa-sha256", "ed25519-sha256" */
	const char *domain;    /* d= */
	const char *selector;  /* s= */
	int64_t timestamp;     /* t=, seconds since the epoch */
	const char *hlist;     /* h= */
	const char *bh;        /* bh=, base64 */
};

/*
 * Appends "DKIM-Signature: v=1; a=...; c=relaxed/relaxed; d=...; s=...; t=...;
 * h=...; bh=...; b=", folded within DKIM_FOLD columns, with b= empty and no
 * line end: the field as it is hashed. dkim_sig_finish then appends the
 * signature's base64, folded, and CRLF. Only the b= value differs between what
 * was hashed and what is sent, which is what verifiers remove.
 */
void dkim_sig_field(const struct dkim_sig *sig, struct buf *out);
void dkim_sig_finish(struct buf *field, const char *b64, size_t len);
/* The canonical form of a whole field "Name: value" (no final line end), as
   hashed: dkim_canon_header without CRLF. */
void dkim_canon_field(const char *field, size_t len, struct buf *out);

/* A selector: dot-separated labels of letters, digits and '-', at most
   DKIM_MAX_SELECTOR bytes. */
bool dkim_selector_valid(const char *s);

/* ---- keys and signatures (dkim_sign.c, OpenSSL) ---------------------------------------- */

enum dkim_alg { DKIM_ALG_RSA, DKIM_ALG_ED25519 };

/* "rsa" / "ed25519": the name the store, the CLI and DNS (k=) use. */
const char *dkim_alg_name(enum dkim_alg alg);
/* "rsa-sha256" / "ed25519-sha256": the a= tag. */
const char *dkim_alg_sig_name(enum dkim_alg alg);
int dkim_alg_parse(const char *name, enum dkim_alg *alg_r);

/* A new private key (RSA DKIM_RSA_BITS or Ed25519), PEM, appended to pem_r. */
int dkim_key_generate(enum dkim_alg alg, struct buf *pem_r, struct buf *err);
/* The p= value of the key's DNS record: base64 of the DER SubjectPublicKeyInfo
   (RSA, RFC 6376 3.6.1) or of the raw 32-byte public key (Ed25519, RFC 8463). */
int dkim_key_public(enum dkim_alg alg, const char *pem, struct buf *p_r, struct buf *err);
/* The DNS record to publish, one line:
     SEL._domainkey.DOMAIN. IN TXT "v=DKIM1; k=rsa; p=..." "..."
   with the text cut into character-strings of at most DKIM_TXT_CHUNK bytes. */
void dkim_dns_record(const char *selector, const char *domain, enum dkim_alg alg, const char *p,
                     struct buf *out);

/* Signs data (the canonical header fields and the signature field) with the
   key: RSASSA-PKCS1-v1_5 over SHA-256, or Ed25519 over the SHA-256 of data
   (RFC 8463 3). The signature's base64 is appended to b64_r. */
int dkim_sign_data(enum dkim_alg alg, const char *pem, const char *data, size_t len,
                   struct buf *b64_r, struct buf *err);

struct dkim_key {
	enum dkim_alg alg;
	const char *selector;
	const char *pem;
};

/*
 * Signs the message msg (CRLF line ends; the fields to sign per
 * DKIM_SIGNED_FIELDS) for domain with each key, at time now: appends one
 * complete DKIM-Signature field per key, CRLF-terminated, to out, ready to be
 * put before the message's header. A message without From is not signed
 * (nothing appended, 0 returned).
 */
int dkim_sign(const char *msg, size_t len, const char *domain, const struct dkim_key *keys,
              size_t nkeys, int64_t now, struct buf *out, struct buf *err);

/* ---- signing what is submitted (dkim_submit.c) --------------------------------------- */

/*
 * The signing domain of a message: the domain of its (first) From address if it
 * has a key in the store, else that of the envelope sender env_from if it has
 * one; else the message is not signed. Of a domain's keys, the newest of each
 * algorithm signs.
 *
 * dkim_submit looks the keys up on the calling (loop) thread, and returns:
 *   0  nothing to sign (done is not called);
 *   1  signing has started on a worker of pool: done(result, fields, reason,
 *      arg) runs later on the loop, with result 0 and the DKIM-Signature
 *      fields to put before the message, or -1 and a reason (a key the store
 *      holds cannot be used: the message must not leave unsigned, the caller
 *      answers with a temporary failure);
 *  -1  the store could not be read (err).
 * msg must stay alive and unchanged until done has run.
 */
typedef void dkim_done_fn(int result, const struct buf *fields, const char *reason, void *arg);
int dkim_submit(struct store *st, struct work_pool *pool, const char *msg, size_t len,
                const char *env_from, dkim_done_fn *done, void *arg, struct buf *err);

#endif
