/*
 * dkim_sign — keys and signatures with OpenSSL's EVP interface.
 *
 * Keys are kept as PKCS#8 PEM. A signature hashes the body once (relaxed,
 * SHA-256, streamed through dkim_body_canon so the canonical body is never
 * held whole), then, per key, the canonical signed fields followed by the
 * DKIM-Signature field with an empty b=, and signs: RSASSA-PKCS1-v1_5 with
 * SHA-256 (RFC 6376 3.3.1), or PureEdDSA Ed25519 over the SHA-256 of those
 * bytes (RFC 8463 3: the hash is what Ed25519 signs).
 */
#include "dkim/dkim.h"

#include "mime/mime.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define BODY_PIECE (64 * 1024) /* body bytes canonicalised and hashed at a time */
#define RSA_MIN_BITS 1024      /* RFC 8301: verifiers ignore smaller keys */

static void ssl_fail(struct buf *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char text[256] = "";
	if (e)
		ERR_error_string_n(e, text, sizeof text);
	ERR_clear_error();
	buf_printf(err, "%s%s%s", what, e ? ": " : "", text);
}

const char *dkim_alg_name(enum dkim_alg alg)
{
	return alg == DKIM_ALG_ED25519 ? "ed25519" : "rsa";
}

const char *dkim_alg_sig_name(enum dkim_alg alg)
{
	return alg == DKIM_ALG_ED25519 ? "ed25519-sha256" : "rsa-sha256";
}

int dkim_alg_parse(const char *name, enum dkim_alg *alg_r)
{
	if (strcmp(name, "rsa") == 0)
		*alg_r = DKIM_ALG_RSA;
	else if (strcmp(name, "ed25519") == 0)
		*alg_r = DKIM_ALG_ED25519;
	else
		return -1;
	return 0;
}

/* ---- keys ------------------------------------------------------------------------------ */

int dkim_key_generate(enum dkim_alg alg, struct buf *pem_r, struct buf *err)
{
	EVP_PKEY *pkey = alg == DKIM_ALG_ED25519
	                         ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
	                         : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)DKIM_RSA_BITS);
	if (!pkey) {
		ssl_fail(err, "cannot generate the key");
		return -1;
	}
	BIO *bio = BIO_new(BIO_s_mem());
	int r = -1;
	if (bio && PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1) {
		char *p;
		long n = BIO_get_mem_data(bio, &p);
		buf_append(pem_r, p, (size_t)n);
		r = 0;
	} else {
		ssl_fail(err, "cannot write the key");
	}
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return r;
}

/* The private key in pem, checked to be of algorithm alg. */
static EVP_PKEY *load_key(enum dkim_alg alg, const char *pem, struct buf *err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!pkey) {
		ssl_fail(err, "cannot read the private key");
		return NULL;
	}
	bool ok = alg == DKIM_ALG_ED25519
	                  ? EVP_PKEY_is_a(pkey, "ED25519")
	                  : EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) >= RSA_MIN_BITS;
	if (!ok) {
		buf_printf(err, "the private key is not %s",
		           alg == DKIM_ALG_ED25519 ? "an Ed25519 key"
		                                   : "an RSA key of 1024 bits or more");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

int dkim_key_public(enum dkim_alg alg, const char *pem, struct buf *p_r, struct buf *err)
{
	EVP_PKEY *pkey = load_key(alg, pem, err);
	if (!pkey)
		return -1;
	int r = -1;
	if (alg == DKIM_ALG_ED25519) {
		unsigned char raw[32];
		size_t n = sizeof raw;
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &n) == 1) {
			base64_encode(p_r, raw, n);
			r = 0;
		} else {
			ssl_fail(err, "cannot read the public key");
		}
	} else {
		unsigned char *der = NULL;
		int n = i2d_PUBKEY(pkey, &der);
		if (n > 0) {
			base64_encode(p_r, der, (size_t)n);
			r = 0;
		} else {
			ssl_fail(err, "cannot encode the public key");
		}
		OPENSSL_free(der);
	}
	EVP_PKEY_free(pkey);
	return r;
}

void dkim_dns_record(const char *selector, const char *domain, enum dkim_alg alg, const char *p,
                     struct buf *out)
{
	struct buf text = BUF_INIT;
	buf_printf(&text, "v=DKIM1; k=%s; p=%s", dkim_alg_name(alg), p);
	buf_printf(out, "%s._domainkey.%s. IN TXT", selector, domain);
	for (size_t i = 0; i < text.len; i += DKIM_TXT_CHUNK) {
		size_t n = text.len - i < DKIM_TXT_CHUNK ? text.len - i : DKIM_TXT_CHUNK;
		buf_puts(out, " \"");
		buf_append(out, text.data + i, n);
		buf_putc(out, '"');
	}
	buf_free(&text);
}

/* ---- signatures ------------------------------------------------------------------------- */

int dkim_sign_data(enum dkim_alg alg, const char *pem, const char *data, size_t len,
                   struct buf *b64_r, struct buf *err)
{
	EVP_PKEY *pkey = load_key(alg, pem, err);
	if (!pkey)
		return -1;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	const unsigned char *in = (const unsigned char *)data;
	size_t inlen = len;
	if (alg == DKIM_ALG_ED25519) {
		SHA256(in, len, digest);
		in = digest;
		inlen = sizeof digest;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int r = -1;
	if (ctx &&
	    EVP_DigestSignInit(ctx, NULL, alg == DKIM_ALG_ED25519 ? NULL : EVP_sha256(), NULL,
	                       pkey) == 1 &&
	    EVP_DigestSign(ctx, NULL, &siglen, in, inlen) == 1) {
		sig = xmalloc(siglen);
		if (EVP_DigestSign(ctx, sig, &siglen, in, inlen) == 1) {
			base64_encode(b64_r, sig, siglen);
			r = 0;
		}
	}
	if (r < 0)
		ssl_fail(err, "cannot sign");
	free(sig);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return r;
}

/* bh=: the SHA-256 of the relaxed body, in base64. */
static int body_hash(const char *body, size_t len, struct buf *bh, struct buf *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		ssl_fail(err, "cannot hash the body");
		return -1;
	}
	struct dkim_body_canon c;
	struct buf piece = BUF_INIT;
	dkim_body_canon_init(&c);
	int ok = 1;
	for (size_t i = 0; i < len && ok; i += BODY_PIECE) {
		buf_reset(&piece);
		dkim_body_canon_push(&c, body + i, len - i < BODY_PIECE ? len - i : BODY_PIECE,
		                     &piece);
		ok = EVP_DigestUpdate(ctx, piece.data ? piece.data : "", piece.len);
	}
	buf_reset(&piece);
	dkim_body_canon_finish(&c, &piece);
	unsigned char digest[SHA256_DIGEST_LENGTH];
	unsigned int dlen = 0;
	ok = ok && EVP_DigestUpdate(ctx, piece.data ? piece.data : "", piece.len) &&
	     EVP_DigestFinal_ex(ctx, digest, &dlen);
	buf_free(&piece);
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ssl_fail(err, "cannot hash the body");
		return -1;
	}
	base64_encode(bh, digest, dlen);
	return 0;
}

int dkim_sign(const char *msg, size_t len, const char *domain, const struct dkim_key *keys,
              size_t nkeys, int64_t now, struct buf *out, struct buf *err)
{
	size_t hlen = mime_header_len(msg, len);
	struct buf hlist = BUF_INIT, canon = BUF_INIT, bh = BUF_INIT;
	int r = -1;
	if (dkim_canon_select(msg, hlen, &hlist, &canon) == 0) {
		r = 0; /* no From: nothing to sign */
		goto out;
	}
	if (body_hash(msg + hlen, len - hlen, &bh, err) < 0)
		goto out;
	struct buf fields = BUF_INIT;
	for (size_t i = 0; i < nkeys; i++) {
		struct dkim_sig sig = {
		        .algorithm = dkim_alg_sig_name(keys[i].alg),
		        .domain = domain,
		        .selector = keys[i].selector,
		        .timestamp = now,
		        .hlist = buf_cstr(&hlist),
		        .bh = buf_cstr(&bh),
		};
		struct buf field = BUF_INIT, data = BUF_INIT, b = BUF_INIT;
		dkim_sig_field(&sig, &field);
		buf_append(&data, canon.data ? canon.data : "", canon.len);
		dkim_canon_field(field.data, field.len, &data);
		int sr = dkim_sign_data(keys[i].alg, keys[i].pem, data.data, data.len, &b, err);
		if (sr == 0) {
			dkim_sig_finish(&field, b.data, b.len);
			buf_append(&fields, field.data, field.len);
		} else {
			buf_printf(err, " (selector %s)", keys[i].selector);
		}
		buf_free(&field);
		buf_free(&data);
		buf_free(&b);
		if (sr < 0) {
			buf_free(&fields);
			goto out;
		}
	}
	buf_append(out, fields.data ? fields.data : "", fields.len);
	buf_free(&fields);
	r = 0;
out:
	buf_free(&hlist);
	buf_free(&canon);
	buf_free(&bh);
	return r;
}
