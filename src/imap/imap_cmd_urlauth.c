/*
 * imap_cmd_urlauth — URLAUTH (RFC 4467) with URLFETCH's BINARY and
 * BODYPARTSTRUCTURE (RFC 5524): GENURLAUTH, RESETKEY, URLFETCH; and the
 * reading of the URLs that CATENATE (RFC 4469) names.
 *
 * Tokens. The one mechanism is INTERNAL: the token is HMAC-SHA256 of the URL's
 * rump (the URL up to and including its access identifier, exactly as the
 * client wrote it) under a random key of the URL's mailbox, sent as 64
 * lower-case hex digits. Keys live in the store (store.h, "URLAUTH keys"); the
 * first GENURLAUTH for a mailbox makes its key, RESETKEY forgets keys, which
 * makes every URL issued with them fetch NIL from then on.
 *
 * Whose mail a URL reaches. "imap://user@host/..." names an account of this
 * server: host is the server's host name or one of its local domains, and
 * user is the account's address, or its local part when host is its domain
 * ("imap://fred@example.com/" is fred@example.com). GENURLAUTH issues tokens
 * only for the session's own account; URLFETCH reads another account's
 * message only through a valid token whose access identifier admits the
 * session's user: "anonymous" and "authuser" any user, "user+id" and
 * "submit+id" the user id (petrel has no separate submission identity: a
 * submission server fetches with the user's own login). A URL relative to
 * the server ("/INBOX/;UID=1", CATENATE only) is the session's own account.
 * Whatever fails — syntax, host, user, mailbox, UIDVALIDITY, key, token,
 * expiry, message — URLFETCH answers NIL for that URL and CATENATE NO
 * [BADURL], without saying which.
 */
#include "imap/imap.h"
#include "imap/imap_internal.h"

#include "mime/mime.h"
#include "store/store.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MECHANISM "INTERNAL"
#define MAX_URLS 100 /* URLs in one GENURLAUTH or URLFETCH */

void imap_urlauth_token(const unsigned char *key, size_t keylen, const char *rump, size_t rump_len,
                        struct buf *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)rump, rump_len, mac,
	          &maclen))
		panic("imap_urlauth_token: HMAC-SHA256 failed");
	hex_encode(out, mac, maclen);
	OPENSSL_cleanse(mac, sizeof mac);
}

/* ---- whose mail a URL names ------------------------------------------------------------ */

static bool ascii_eq_nocase(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* The account a URL names, by address (see the top of this file). 0 with the
   account's id; -1 when it names none of ours; -2 on a store failure. */
static int url_owner(struct imap_session *s, const struct imap_url *u, int64_t *account_r)
{
	if (!u->absolute) {
		*account_r = s->account_id;
		return 0;
	}
	if (!u->user || !u->host)
		return -1;
	struct buf err = BUF_INIT, addr = BUF_INIT, norm = BUF_INIT;
	bool ours = ascii_eq_nocase(u->host, s->ctx->cfg->hostname);
	if (!ours) {
		enum store_lookup l = store_domain_exists(s->ctx->store, u->host, &err);
		if (l == STORE_ERROR) {
			buf_free(&err);
			return -2;
		}
		ours = l == STORE_FOUND;
	}
	int r = -1;
	if (!ours)
		goto out;
	if (strchr(u->user, '@'))
		buf_puts(&addr, u->user);
	else
		buf_printf(&addr, "%s@%s", u->user, u->host);
	if (store_address_normalize(buf_cstr(&addr), false, &norm, &err) < 0)
		goto out;
	if (s->user && strcmp(buf_cstr(&norm), s->user) == 0) {
		*account_r = s->account_id;
		r = 0;
		goto out;
	}
	struct store_account a = {0};
	enum store_lookup l = store_account_get(s->ctx->store, buf_cstr(&norm), &a, &err);
	if (l == STORE_FOUND) {
		*account_r = a.id;
		r = 0;
	} else if (l == STORE_ERROR) {
		r = -2;
	}
	store_account_clear(&a);
out:
	buf_free(&err);
	buf_free(&addr);
	buf_free(&norm);
	return r;
}

/* Whether the access identifier admits the session's user. */
static bool access_admits(struct imap_session *s, const struct imap_url *u)
{
	switch (u->access) {
	case IMAP_URL_ACCESS_ANONYMOUS:
	case IMAP_URL_ACCESS_AUTHUSER:
		return true;
	case IMAP_URL_ACCESS_USER:
	case IMAP_URL_ACCESS_SUBMIT: {
		struct buf norm = BUF_INIT, err = BUF_INIT;
		bool ok = s->user &&
		          store_address_normalize(u->access_user, false, &norm, &err) == 0 &&
		          strcmp(buf_cstr(&norm), s->user) == 0;
		buf_free(&norm);
		buf_free(&err);
		return ok;
	}
	case IMAP_URL_ACCESS_NONE:
		break;
	}
	return false;
}

/* The mailbox of a URL in account, with its UIDVALIDITY checked. 0; -1 when
   there is none; -2 on a store failure. */
static int url_mailbox(struct imap_session *s, const struct imap_url *u, int64_t account,
                       struct store_mailbox *m)
{
	struct buf err = BUF_INIT;
	enum store_lookup l = store_mailbox_get(s->ctx->store, account, u->mailbox, m, &err);
	buf_free(&err);
	if (l == STORE_ERROR)
		return -2;
	if (l != STORE_FOUND)
		return -1;
	if (u->uidvalidity && u->uidvalidity != m->uidvalidity)
		return -1;
	return 0;
}

/* A URL's token checked against its mailbox's key, its expiry and its access
   identifier. 0; -1 when it does not authorise this session; -2 on a store
   failure. */
static int url_authorised(struct imap_session *s, const struct imap_url *u, const char *text,
                          int64_t account, const struct store_mailbox *m)
{
	if (!u->absolute || u->access == IMAP_URL_ACCESS_NONE || !u->mechanism ||
	    strcmp(u->mechanism, MECHANISM) != 0 || strlen(u->token) != IMAP_URLAUTH_TOKEN_HEX)
		return -1;
	if (u->has_expire && (int64_t)time(NULL) >= u->expire)
		return -1;
	if (!access_admits(s, u))
		return -1;
	unsigned char key[STORE_URLAUTH_KEY_LEN];
	struct buf err = BUF_INIT, want = BUF_INIT;
	enum store_lookup l = store_urlauth_key_get(s->ctx->store, account, m->id, key, &err);
	buf_free(&err);
	if (l != STORE_FOUND)
		return l == STORE_ERROR ? -2 : -1;
	imap_urlauth_token(key, sizeof key, text, u->rump_len, &want);
	OPENSSL_cleanse(key, sizeof key);
	int r = want.len == IMAP_URLAUTH_TOKEN_HEX &&
	                        CRYPTO_memcmp(want.data, u->token, IMAP_URLAUTH_TOKEN_HEX) == 0
	                ? 0
	                : -1;
	buf_free(&want);
	return r;
}

/* ---- reading what a URL names --------------------------------------------------------- */

/* A URL's message, read and parsed, and the part its section names. */
struct url_msg {
	struct buf blob;
	struct mime_part *root;
	const struct mime_part *part; /* NULL when the section names no part */
};

static void url_msg_free(struct url_msg *r)
{
	buf_free(&r->blob);
	mime_part_free(&r->root);
	r->part = NULL;
}

enum url_use { URL_FETCH, URL_CATENATE };

/* Reads the message a URL names, after every check its use needs. 0; -1 when
   the URL is invalid for this session; -2 on a store failure. */
static int url_open(struct imap_session *s, const struct imap_url *u, const char *text,
                    enum url_use use, struct url_msg *r)
{
	int64_t account = 0;
	struct store_mailbox m = {0};
	int rc = url_owner(s, u, &account);
	if (rc < 0)
		return rc;
	if (use == URL_CATENATE && u->access == IMAP_URL_ACCESS_NONE && account != s->account_id)
		return -1;
	rc = url_mailbox(s, u, account, &m);
	if (rc < 0)
		goto out;
	if (use == URL_FETCH || u->access != IMAP_URL_ACCESS_NONE) {
		rc = url_authorised(s, u, text, account, &m);
		if (rc < 0)
			goto out;
	}
	struct buf err = BUF_INIT;
	enum store_lookup l = store_message_read(s->ctx->store, m.id, u->uid, &r->blob, &err);
	buf_free(&err);
	if (l != STORE_FOUND) {
		rc = l == STORE_ERROR ? -2 : -1;
		goto out;
	}
	mime_parse(buf_cstr(&r->blob), r->blob.len, &r->root);
	r->part = r->root;
	if (u->section.nparts) {
		struct buf num = BUF_INIT;
		for (size_t i = 0; i < u->section.nparts; i++)
			buf_printf(&num, "%s%u", i ? "." : "", u->section.part[i]);
		r->part = mime_part_find(r->root, buf_cstr(&num));
		buf_free(&num);
		if (!r->part) {
			rc = -1;
			goto out;
		}
	}
	rc = 0;
out:
	store_mailbox_clear(&m);
	if (rc < 0)
		url_msg_free(r);
	return rc;
}

/* ;PARTIAL= applied to data (offset past the end: nothing). */
static void cut_partial(const struct imap_url *u, struct buf *data)
{
	if (!u->partial)
		return;
	size_t off = u->offset < data->len ? (size_t)u->offset : data->len;
	size_t len = data->len - off;
	if (u->length && len > u->length)
		len = u->length;
	memmove(data->data, data->data + off, len);
	buf_truncate(data, len);
}

/* The bytes BODY.PEEK[section]<partial> gives, appended to out. -1 when the
   section names nothing. */
static int url_body(const struct imap_url *u, const struct url_msg *r, struct buf *out)
{
	struct imap_fetch_att all = {.item = IMAP_FETCH_BODY_SECTION, .kind = IMAP_SECTION_ALL};
	const struct imap_fetch_att *a = u->has_section ? &u->section : &all;
	struct buf data = BUF_INIT;
	int rc = imap_section_bytes(buf_cstr(&r->blob), r->blob.len, r->root, a, &data);
	if (rc == 0) {
		cut_partial(u, &data);
		buf_append(out, data.data, data.len);
	}
	buf_free(&data);
	return rc < 0 ? -1 : 0;
}

int imap_url_catenate_bytes(struct imap_session *s, struct str text, struct buf *out)
{
	struct imap_url u;
	struct buf why = BUF_INIT;
	struct url_msg r = {0};
	int rc = -1;
	if (!memchr(text.p, 0, text.len) && imap_url_parse(text, &u, &why) == 0) {
		char *z = str_dup(text);
		rc = url_open(s, &u, z, URL_CATENATE, &r);
		free(z);
		if (rc == 0)
			rc = url_body(&u, &r, out);
		url_msg_free(&r);
		imap_url_free(&u);
	}
	buf_free(&why);
	return rc;
}

/* ---- BINARY (RFC 5524 over RFC 3516) ------------------------------------------------------ */

static bool decodable(const struct mime_part *p)
{
	const char *e = p->encoding;
	return e && (strcmp(e, "base64") == 0 || strcmp(e, "quoted-printable") == 0);
}

static bool identity_encoding(const struct mime_part *p)
{
	const char *e = p->encoding;
	return !e || strcmp(e, "7bit") == 0 || strcmp(e, "8bit") == 0 || strcmp(e, "binary") == 0;
}

/* A header block with its Content-Transfer-Encoding field(s) saying "binary". */
static void rewrite_cte(const char *hdr, size_t len, struct buf *out)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, hdr, len);
	size_t copied = 0;
	while (mime_header_next(&it, &f)) {
		if (f.name_len != 25 || strncasecmp(f.name, "Content-Transfer-Encoding", 25) != 0)
			continue;
		buf_append(out, hdr + copied, f.offset - copied);
		bool crlf = f.len >= 2 && hdr[f.offset + f.len - 2] == '\r';
		buf_printf(out, "%.*s: binary%s", (int)f.name_len, f.name, crlf ? "\r\n" : "\n");
		copied = f.offset + f.len;
	}
	buf_append(out, hdr + copied, len - copied);
}

/* Copies msg[*pos, end of p's body) to out with every base64 or
   quoted-printable leaf inside p decoded and its header saying so ("binary"),
   as a BINARY fetch of a multipart or message part returns it. With
   keep_cte, the headers are left as they were (for BODYPARTSTRUCTURE, which
   describes the converted part with the original encodings). */
static void convert_children(const char *msg, const struct mime_part *p, size_t *pos, bool keep_cte,
                             struct buf *out)
{
	for (const struct mime_part *c = p->children; c; c = c->next) {
		if (c->kind != MIME_PART_LEAF) {
			convert_children(msg, c, pos, keep_cte, out);
			continue;
		}
		if (!decodable(c))
			continue;
		buf_append(out, msg + *pos, c->header_offset - *pos);
		if (keep_cte)
			buf_append(out, msg + c->header_offset, c->header_len);
		else
			rewrite_cte(msg + c->header_offset, c->header_len, out);
		mime_part_decode_body(c, msg, out);
		*pos = c->body_offset + c->body_len;
	}
}

/* What BINARY[section] gives for the part r names: a leaf's body decoded, a
   container's body with its leaves decoded. -1 when it cannot be decoded. */
static int url_binary(const struct url_msg *r, bool keep_cte, struct buf *out)
{
	const struct mime_part *p = r->part;
	const char *msg = buf_cstr(&r->blob);
	if (p->kind == MIME_PART_LEAF) {
		if (decodable(p))
			mime_part_decode_body(p, msg, out);
		else if (identity_encoding(p))
			buf_append(out, msg + p->body_offset, p->body_len);
		else
			return -1; /* an encoding we cannot undo */
		return 0;
	}
	size_t pos = p->body_offset;
	convert_children(msg, p, &pos, keep_cte, out);
	buf_append(out, msg + pos, p->body_offset + p->body_len - pos);
	return 0;
}

/* BODYPARTSTRUCTURE: the part's extended BODYSTRUCTURE; with BINARY, that of
   the converted part (its sizes and line counts), as the data that comes
   with it is. */
static void url_bodypartstructure(const struct url_msg *r, bool binary, struct buf *out)
{
	const struct mime_part *p = r->part;
	const char *msg = buf_cstr(&r->blob);
	if (!binary) {
		mime_bodystructure(p, msg, true, out);
		return;
	}
	struct buf conv = BUF_INIT;
	buf_append(&conv, msg + p->header_offset, p->header_len);
	if (url_binary(r, true, &conv) < 0) {
		buf_free(&conv);
		mime_bodystructure(p, msg, true, out);
		return;
	}
	struct mime_part *root = NULL;
	mime_parse(buf_cstr(&conv), conv.len, &root);
	mime_bodystructure(root, buf_cstr(&conv), true, out);
	mime_part_free(&root);
	buf_free(&conv);
}

/* ---- URLFETCH ------------------------------------------------------------------------- */

struct fetch_url {
	const struct imap_arg *url;
	bool extended; /* "(" url params ")" (RFC 5524) */
	bool bodypartstructure, binary, body;
};

/* Reads one URLFETCH argument; -1 when malformed. */
static int fetch_arg(const struct imap_arg *a, struct fetch_url *f)
{
	memset(f, 0, sizeof *f);
	if (imap_arg_is_string(a)) {
		f->url = a;
		return 0;
	}
	if (a->type != IMAP_ARG_LIST || a->nlist == 0 || !imap_arg_is_string(&a->list[0]))
		return -1;
	f->url = &a->list[0];
	f->extended = true;
	for (size_t i = 1; i < a->nlist; i++) {
		const struct imap_arg *p = &a->list[i];
		if (p->type != IMAP_ARG_ATOM)
			return -1;
		if (str_eq_cstr_nocase(p->value, "BODYPARTSTRUCTURE"))
			f->bodypartstructure = true;
		else if (str_eq_cstr_nocase(p->value, "BINARY"))
			f->binary = true;
		else if (str_eq_cstr_nocase(p->value, "BODY"))
			f->body = true;
		else
			return -1;
	}
	/* BODY and BINARY are the two forms of the data: one of them */
	return f->body && f->binary ? -1 : 0;
}

/* Message data as a literal; as literal8 (~{n}) when it holds a NUL. */
static void put_data(struct buf *out, const struct buf *d, bool binary)
{
	bool nul = d->len && memchr(d->data, 0, d->len);
	buf_printf(out, "%s{%zu}\r\n", binary && nul ? "~" : "", d->len);
	buf_append(out, d->data ? d->data : "", d->len);
}

/* One "* URLFETCH url data" response into out; -2 on a store failure. */
static int fetch_one(struct imap_session *s, const struct fetch_url *f, struct buf *out)
{
	struct str text = f->url->value;
	buf_puts(out, "* URLFETCH ");
	imap_put_string(out, text.p, text.len);
	buf_putc(out, ' ');
	struct imap_url u;
	struct buf why = BUF_INIT, data = BUF_INIT;
	struct url_msg r = {0};
	int rc = -1;
	if (memchr(text.p, 0, text.len) == NULL && imap_url_parse(text, &u, &why) == 0) {
		char *z = str_dup(text);
		rc = u.absolute ? url_open(s, &u, z, URL_FETCH, &r) : -1;
		free(z);
		if (rc < 0)
			imap_url_free(&u);
	}
	buf_free(&why);
	if (rc < 0) {
		buf_puts(out, "NIL\r\n");
		return rc == -2 ? -2 : 0;
	}
	bool plain = u.has_section && u.section.kind != IMAP_SECTION_ALL;
	if (!f->extended) {
		if (url_body(&u, &r, &data) < 0)
			buf_puts(out, "NIL");
		else
			put_data(out, &data, false);
	} else {
		const char *sep = "";
		buf_putc(out, '(');
		if (f->bodypartstructure) {
			buf_puts(out, "BODYPARTSTRUCTURE ");
			if (plain)
				buf_puts(out, "NIL");
			else
				url_bodypartstructure(&r, f->binary, out);
			sep = " ";
		}
		if (f->binary) {
			buf_printf(out, "%sBINARY ", sep);
			if (!plain && url_binary(&r, false, &data) == 0) {
				cut_partial(&u, &data);
				put_data(out, &data, true);
			} else {
				buf_puts(out, "NIL");
			}
		} else if (f->body) {
			buf_printf(out, "%sBODY ", sep);
			if (url_body(&u, &r, &data) < 0)
				buf_puts(out, "NIL");
			else
				put_data(out, &data, false);
		}
		buf_putc(out, ')');
	}
	buf_puts(out, "\r\n");
	buf_free(&data);
	url_msg_free(&r);
	imap_url_free(&u);
	return 0;
}

void imap_cmd_urlfetch(struct imap_session *s)
{
	size_t n = s->cmd.nargs;
	if (n == 0) {
		imap_bad(s, "Syntax: URLFETCH url ...");
		return;
	}
	if (n > MAX_URLS) {
		imap_bad(s, "[LIMIT] At most %d URLs", MAX_URLS);
		return;
	}
	struct fetch_url *f = xcalloc(n, sizeof *f);
	for (size_t i = 0; i < n; i++)
		if (fetch_arg(&s->cmd.args[i], &f[i]) < 0) {
			free(f);
			imap_bad(s,
			         "Syntax: URLFETCH url / (url [BODYPARTSTRUCTURE] [BINARY|BODY])");
			return;
		}
	struct buf out = BUF_INIT;
	bool temp = false;
	for (size_t i = 0; i < n && !temp; i++) {
		buf_reset(&out);
		temp = fetch_one(s, &f[i], &out) == -2;
		if (!temp)
			imap_write(s, out.data, out.len);
	}
	buf_free(&out);
	free(f);
	imap_sync(s, false);
	if (temp)
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary failure, try again");
	else
		imap_tagged(s, "OK", "URLFETCH completed");
}

/* ---- GENURLAUTH ----------------------------------------------------------------------- */

struct gen_url {
	char *text; /* the rump as given */
	int64_t mailbox_id;
};

struct gen_state {
	struct gen_url *urls;
	size_t n, next;
	struct buf out; /* "* GENURLAUTH ..." */
};

static void gen_free(struct gen_state *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->urls[i].text);
	free(g->urls);
	buf_free(&g->out);
	free(g);
}

static void gen_put(struct gen_state *g, const unsigned char *key)
{
	struct gen_url *u = &g->urls[g->next];
	struct buf url = BUF_INIT;
	buf_puts(&url, u->text);
	buf_puts(&url, ":internal:");
	imap_urlauth_token(key, STORE_URLAUTH_KEY_LEN, u->text, strlen(u->text), &url);
	buf_putc(&g->out, ' ');
	imap_put_string(&g->out, url.data, url.len);
	buf_free(&url);
	g->next++;
}

static void gen_continue(struct imap_session *s, struct gen_state *g);

static void gen_key_done(struct imap_session *s, struct store_op *op)
{
	struct gen_state *g = s->op_data;
	s->op_data = NULL;
	if (op->result == 0) {
		gen_put(g, op->u.urlauth.key_r);
		OPENSSL_cleanse(op->u.urlauth.key_r, sizeof op->u.urlauth.key_r);
	}
	OPENSSL_cleanse(op->u.urlauth.key, sizeof op->u.urlauth.key);
	if (op->result < 0) {
		imap_tagged(s, "NO",
		            op->error == STORE_ERR_TEMP
		                    ? "[UNAVAILABLE] GENURLAUTH failed, try again"
		                    : "[CANNOT] GENURLAUTH failed");
		gen_free(g);
	} else {
		gen_continue(s, g);
	}
	store_op_clear(op);
	free(op);
}

/* Issues the tokens from g->next on; a mailbox without a key yet gets one
   through the store first. */
static void gen_continue(struct imap_session *s, struct gen_state *g)
{
	while (g->next < g->n) {
		struct gen_url *u = &g->urls[g->next];
		unsigned char key[STORE_URLAUTH_KEY_LEN];
		struct buf err = BUF_INIT;
		enum store_lookup l = store_urlauth_key_get(s->ctx->store, s->account_id,
		                                            u->mailbox_id, key, &err);
		buf_free(&err);
		if (l == STORE_FOUND) {
			gen_put(g, key);
			OPENSSL_cleanse(key, sizeof key);
			continue;
		}
		if (l == STORE_ERROR) {
			imap_tagged(s, "NO", "[UNAVAILABLE] GENURLAUTH failed, try again");
			gen_free(g);
			return;
		}
		struct store_op *op = xcalloc(1, sizeof *op);
		store_op_init(op, STORE_OP_URLAUTH_KEY_SET);
		op->u.urlauth.account_id = s->account_id;
		op->u.urlauth.mailbox_id = u->mailbox_id;
		random_bytes(op->u.urlauth.key, sizeof op->u.urlauth.key);
		s->op_data = g;
		imap_submit(s, op, gen_key_done);
		return;
	}
	buf_puts(&g->out, "\r\n");
	imap_write(s, g->out.data, g->out.len);
	gen_free(g);
	imap_tagged(s, "OK", "GENURLAUTH completed");
}

/* Checks one GENURLAUTH URL; 0 with its mailbox, -1 with a reason, -2 on a store failure. */
static int gen_check(struct imap_session *s, struct str text, int64_t *mailbox_r, struct buf *why)
{
	struct imap_url u;
	if (memchr(text.p, 0, text.len) || imap_url_parse(text, &u, why) < 0)
		return -1;
	int rc = -1;
	int64_t account = 0;
	struct store_mailbox m = {0};
	if (!u.absolute || u.access == IMAP_URL_ACCESS_NONE || u.mechanism) {
		buf_puts(why, "not a URLAUTH rump (imap://user@host/...;URLAUTH=access)");
		goto out;
	}
	if (u.has_expire && (int64_t)time(NULL) >= u.expire) {
		buf_puts(why, "the URL has expired already");
		goto out;
	}
	rc = url_owner(s, &u, &account);
	if (rc == 0 && account != s->account_id)
		rc = -1;
	if (rc == -1)
		buf_puts(why, "the URL must name this server and your own account");
	if (rc < 0)
		goto out;
	rc = url_mailbox(s, &u, account, &m);
	if (rc == -1)
		buf_puts(why, "no such mailbox (or UIDVALIDITY differs)");
	if (rc == 0)
		*mailbox_r = m.id;
out:
	store_mailbox_clear(&m);
	imap_url_free(&u);
	return rc;
}

void imap_cmd_genurlauth(struct imap_session *s)
{
	size_t n = s->cmd.nargs;
	const struct imap_arg *a = s->cmd.args;
	if (n == 0 || n % 2) {
		imap_bad(s, "Syntax: GENURLAUTH url mechanism [url mechanism ...]");
		return;
	}
	if (n / 2 > MAX_URLS) {
		imap_bad(s, "[LIMIT] At most %d URLs", MAX_URLS);
		return;
	}
	for (size_t i = 0; i < n; i += 2)
		if (!imap_arg_is_string(&a[i]) || a[i + 1].type != IMAP_ARG_ATOM) {
			imap_bad(s, "Syntax: GENURLAUTH url mechanism [url mechanism ...]");
			return;
		}
	struct gen_state *g = xcalloc(1, sizeof *g);
	g->urls = xcalloc(n / 2, sizeof *g->urls);
	buf_puts(&g->out, "* GENURLAUTH");
	struct buf why = BUF_INIT;
	for (size_t i = 0; i < n; i += 2) {
		if (!str_eq_cstr_nocase(a[i + 1].value, MECHANISM)) {
			imap_tagged(s, "NO", "Unknown URLAUTH mechanism (only INTERNAL)");
			goto fail;
		}
		struct gen_url *u = &g->urls[g->n];
		buf_reset(&why);
		int rc = gen_check(s, a[i].value, &u->mailbox_id, &why);
		if (rc == -2) {
			imap_tagged(s, "NO", "[UNAVAILABLE] GENURLAUTH failed, try again");
			goto fail;
		}
		if (rc < 0) {
			imap_tagged(s, "NO", "[BADURL] Invalid URL: %s", buf_cstr(&why));
			goto fail;
		}
		u->text = str_dup(a[i].value);
		g->n++;
	}
	buf_free(&why);
	gen_continue(s, g);
	return;
fail:
	buf_free(&why);
	gen_free(g);
}

/* ---- RESETKEY ------------------------------------------------------------------------- */

static void resetkey_done(struct imap_session *s, struct store_op *op)
{
	if (op->result == 0)
		imap_tagged(s, "OK", "RESETKEY completed");
	else if (op->error == STORE_ERR_NOTFOUND)
		imap_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
	else
		imap_tagged(s, "NO", "[UNAVAILABLE] RESETKEY failed, try again");
	store_op_clear(op);
	free(op);
}

void imap_cmd_resetkey(struct imap_session *s)
{
	size_t n = s->cmd.nargs;
	const struct imap_arg *a = s->cmd.args;
	int64_t mailbox = 0;
	if (n >= 1) {
		if (!imap_arg_is_string(&a[0])) {
			imap_bad(s, "Syntax: RESETKEY [mailbox [mechanism ...]]");
			return;
		}
		for (size_t i = 1; i < n; i++) {
			if (a[i].type != IMAP_ARG_ATOM) {
				imap_bad(s, "Syntax: RESETKEY [mailbox [mechanism ...]]");
				return;
			}
			if (!str_eq_cstr_nocase(a[i].value, MECHANISM)) {
				imap_tagged(s, "NO", "Unknown URLAUTH mechanism (only INTERNAL)");
				return;
			}
		}
		struct buf name = BUF_INIT, err = BUF_INIT;
		struct store_mailbox m = {0};
		enum store_lookup l = STORE_NOT_FOUND;
		if (imap_arg_mailbox(s, &a[0], &name) == 0)
			l = store_mailbox_get(s->ctx->store, s->account_id, buf_cstr(&name), &m,
			                      &err);
		mailbox = m.id;
		store_mailbox_clear(&m);
		buf_free(&name);
		buf_free(&err);
		if (l != STORE_FOUND) {
			imap_tagged(s, "NO",
			            l == STORE_ERROR ? "[UNAVAILABLE] Temporary failure"
			                             : "[NONEXISTENT] No such mailbox");
			return;
		}
	}
	struct store_op *op = xcalloc(1, sizeof *op);
	store_op_init(op, STORE_OP_URLAUTH_KEY_RESET);
	op->u.urlauth.account_id = s->account_id;
	op->u.urlauth.mailbox_id = mailbox;
	imap_submit(s, op, resetkey_done);
}
