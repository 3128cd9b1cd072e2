/*
 * auth_scram — SCRAM-SHA-256 credentials (RFC 5802, RFC 7677) and their stored
 * text form (RFC 5803):
 *
 *     SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 *
 *     SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations, 32)
 *     ClientKey      = HMAC(SaltedPassword, "Client Key")
 *     StoredKey      = SHA-256(ClientKey)
 *     ServerKey      = HMAC(SaltedPassword, "Server Key")
 *
 * Only StoredKey and ServerKey are kept: enough to verify a client's proof and to
 * prove ourselves to it, not enough to log in as the user elsewhere.
 *
 * SASLprep: RFC 5802 asks for the password to be normalised with SASLprep
 * (RFC 4013) before hashing. For printable ASCII, which is what nearly every
 * password is, SASLprep changes nothing, so petrel uses the password's bytes as
 * they are. A non-ASCII password is used as its UTF-8 bytes without
 * normalisation: it works with clients that send the same bytes (the common
 * case, already-NFC input), and fails with clients that normalise it into a
 * different form. PLAIN and LOGIN are unaffected.
 */
#include "auth/auth_internal.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define SCRAM_PREFIX "SCRAM-SHA-256$"

int auth_scram_derive(const char *password, size_t len, const uint8_t *salt, size_t salt_len,
                      uint32_t iterations, struct auth_scram_cred *cred_r)
{
	if (len > INT_MAX || salt_len == 0 || salt_len > sizeof cred_r->salt || iterations == 0 ||
	    iterations > INT_MAX)
		return -1;

	uint8_t salted[SHA256_DIGEST_LENGTH];
	uint8_t client_key[SHA256_DIGEST_LENGTH];
	unsigned int mdlen = 0;
	int rc = -1;

	if (PKCS5_PBKDF2_HMAC(password, (int)len, salt, (int)salt_len, (int)iterations,
	                      EVP_sha256(), sizeof salted, salted) != 1)
		goto out;
	if (HMAC(EVP_sha256(), salted, sizeof salted, (const unsigned char *)"Client Key", 10,
	         client_key, &mdlen) == NULL ||
	    mdlen != sizeof client_key)
		goto out;
	if (HMAC(EVP_sha256(), salted, sizeof salted, (const unsigned char *)"Server Key", 10,
	         cred_r->server_key, &mdlen) == NULL ||
	    mdlen != sizeof cred_r->server_key)
		goto out;
	SHA256(client_key, sizeof client_key, cred_r->stored_key);
	memcpy(cred_r->salt, salt, salt_len);
	cred_r->salt_len = salt_len;
	cred_r->iterations = iterations;
	rc = 0;
out:
	OPENSSL_cleanse(salted, sizeof salted);
	OPENSSL_cleanse(client_key, sizeof client_key);
	return rc;
}

int auth_scram_make(const char *password, struct buf *out, struct buf *err)
{
	if (password == NULL) {
		buf_puts(err, "the password is empty");
		return -1;
	}
	size_t len = strnlen(password, AUTH_MAX_PASSWORD + 1);
	if (auth_password_check(password, len, err) < 0)
		return -1;

	uint8_t salt[AUTH_SCRAM_SALT_LEN];
	random_bytes(salt, sizeof salt);
	struct auth_scram_cred cred;
	if (auth_scram_derive(password, len, salt, sizeof salt, AUTH_SCRAM_ITERATIONS, &cred) < 0) {
		buf_puts(err, "SCRAM-SHA-256: key derivation failed");
		return -1;
	}
	buf_printf(out, SCRAM_PREFIX "%u:", (unsigned)cred.iterations);
	base64_encode(out, cred.salt, cred.salt_len);
	buf_putc(out, '$');
	base64_encode(out, cred.stored_key, sizeof cred.stored_key);
	buf_putc(out, ':');
	base64_encode(out, cred.server_key, sizeof cred.server_key);
	OPENSSL_cleanse(&cred, sizeof cred);
	return 0;
}

/*
 * Decodes the base64 text in [p, end) into dst; the decoded length must lie in
 * [min, max]. Returns the decoded length or -1.
 */
static ssize_t decode_field(const char *p, const char *end, uint8_t *dst, size_t min, size_t max)
{
	struct buf b = BUF_INIT;
	ssize_t n = -1;
	if (base64_decode(&b, p, (size_t)(end - p)) == 0 && b.len >= min && b.len <= max) {
		memcpy(dst, b.data, b.len);
		n = (ssize_t)b.len;
	}
	auth_buf_wipe(&b);
	return n;
}

int auth_scram_parse(const char *text, struct auth_scram_cred *cred_r)
{
	if (text == NULL || cred_r == NULL)
		return -1;
	size_t plen = strlen(SCRAM_PREFIX);
	if (strncasecmp(text, SCRAM_PREFIX, plen) != 0)
		return -1;
	const char *p = text + plen;

	/* <iterations>: plain decimal digits, no sign, no leading zero. */
	const char *colon = strchr(p, ':');
	if (colon == NULL || colon == p || p[0] == '0')
		return -1;
	uint64_t iter = 0;
	if (!str_to_u64((struct str){p, (size_t)(colon - p)}, &iter) ||
	    iter < AUTH_SCRAM_MIN_ITERATIONS || iter > AUTH_SCRAM_MAX_ITERATIONS)
		return -1;

	/* :<salt>$ */
	const char *salt_p = colon + 1;
	const char *dollar = strchr(salt_p, '$');
	if (dollar == NULL)
		return -1;
	/* $<StoredKey>:<ServerKey> and nothing after it. */
	const char *sk_p = dollar + 1;
	const char *colon2 = strchr(sk_p, ':');
	if (colon2 == NULL)
		return -1;
	const char *svk_p = colon2 + 1;
	const char *end = svk_p + strlen(svk_p);

	struct auth_scram_cred c;
	memset(&c, 0, sizeof c);
	ssize_t salt_len = decode_field(salt_p, dollar, c.salt, 1, sizeof c.salt);
	int rc = -1;
	if (salt_len < 0 ||
	    decode_field(sk_p, colon2, c.stored_key, sizeof c.stored_key, sizeof c.stored_key) <
	            0 ||
	    decode_field(svk_p, end, c.server_key, sizeof c.server_key, sizeof c.server_key) < 0)
		goto out;
	c.salt_len = (size_t)salt_len;
	c.iterations = (uint32_t)iter;
	*cred_r = c;
	rc = 0;
out:
	OPENSSL_cleanse(&c, sizeof c);
	return rc;
}
