/*
 * Unit tests for src/auth/auth_sasl.c: PLAIN, LOGIN and SCRAM-SHA-256 exchanges,
 * good and bad, the RFC 7677 example replayed byte for byte, calls in the wrong
 * state, and every valid message fed truncated or split at every byte position.
 *
 * The SCRAM client side here is written against OpenSSL directly, from the
 * formulas of RFC 5802 section 3, so that it does not share code with the server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"

/* ---- helpers --------------------------------------------------------------- */

static enum sasl_status step_str(struct sasl *s, const char *msg, struct buf *out)
{
	buf_reset(out);
	return sasl_step(s, (const uint8_t *)msg, strlen(msg), true, out);
}

static enum sasl_status step_bytes(struct sasl *s, const void *msg, size_t len, struct buf *out)
{
	buf_reset(out);
	return sasl_step(s, msg, len, true, out);
}

static bool status_is_valid(enum sasl_status st)
{
	return st == SASL_CONTINUE || st == SASL_NEED_PASSWORD || st == SASL_NEED_SCRAM_CRED ||
	       st == SASL_OK || st == SASL_FAIL;
}

static void assert_failed_for_good(struct sasl *s)
{
	struct buf out = BUF_INIT;
	assert_true(sasl_error(s)[0] != '\0');
	assert_int_equal(step_str(s, "", &out), SASL_FAIL);
	assert_int_equal(sasl_password_result(s, true, &out), SASL_FAIL);
	assert_int_equal(sasl_set_scram_cred(s, NULL, &out), SASL_FAIL);
	buf_free(&out);
}

/* A PLAIN message, with its NULs, into b. */
static void plain_msg(struct buf *b, const char *authzid, const char *authcid, const char *pw)
{
	buf_reset(b);
	buf_puts(b, authzid);
	buf_putc(b, '\0');
	buf_puts(b, authcid);
	buf_putc(b, '\0');
	buf_puts(b, pw);
}

static char *repeat(char c, size_t n)
{
	char *p = malloc(n + 1);
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* ---- mechanism names ------------------------------------------------------- */

static void test_mechanism_names_parse_case_insensitively(void **state)
{
	enum sasl_mech m;
	assert_int_equal(sasl_mech_parse("plain", 5, &m), 0);
	assert_int_equal(m, SASL_PLAIN);
	assert_int_equal(sasl_mech_parse("LOGIN", 5, &m), 0);
	assert_int_equal(m, SASL_LOGIN);
	assert_int_equal(sasl_mech_parse("scram-sha-256", 13, &m), 0);
	assert_int_equal(m, SASL_SCRAM_SHA_256);
	assert_int_equal(sasl_mech_parse("SCRAM-SHA-256-PLUS", 18, &m), -1);
	assert_int_equal(sasl_mech_parse("SCRAM-SHA-1", 11, &m), -1);
	assert_int_equal(sasl_mech_parse("PLAINX", 5, &m), 0); /* only len bytes count */
	assert_int_equal(sasl_mech_parse("PLAI", 4, &m), -1);
	assert_int_equal(sasl_mech_parse("", 0, &m), -1);
	assert_string_equal(sasl_mech_name(SASL_SCRAM_SHA_256), "SCRAM-SHA-256");
	assert_string_equal(sasl_mech_name(SASL_PLAIN), "PLAIN");
	assert_string_equal(sasl_mech_name(SASL_LOGIN), "LOGIN");
}

/* ---- PLAIN ------------------------------------------------------------------- */

static void test_plain_initial_response_asks_for_a_password_check(void **state)
{
	struct sasl *s = sasl_new(SASL_PLAIN);
	struct buf msg = BUF_INIT, out = BUF_INIT;
	assert_string_equal(sasl_authcid(s), "");
	plain_msg(&msg, "", "tim", "tanstaaftanstaaf");
	assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_NEED_PASSWORD);
	assert_string_equal(sasl_authcid(s), "tim");
	assert_string_equal(sasl_password(s), "tanstaaftanstaaf");
	assert_int_equal(sasl_password_result(s, true, &out), SASL_OK);
	assert_string_equal(sasl_authcid(s), "tim");
	assert_string_equal(sasl_password(s), ""); /* wiped once checked */
	assert_int_equal(out.len, 0);
	sasl_free(&s);
	assert_null(s);
	buf_free(&msg);
	buf_free(&out);
}

static void test_plain_without_initial_response_sends_an_empty_challenge(void **state)
{
	struct sasl *s = sasl_new(SASL_PLAIN);
	struct buf msg = BUF_INIT, out = BUF_INIT;
	assert_int_equal(sasl_step(s, NULL, 0, false, &out), SASL_CONTINUE);
	assert_int_equal(out.len, 0);
	plain_msg(&msg, "", "tim", "secret");
	assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_NEED_PASSWORD);
	assert_int_equal(sasl_password_result(s, true, &out), SASL_OK);
	sasl_free(&s);
	buf_free(&msg);
	buf_free(&out);
}

static void test_plain_with_wrong_password_fails_without_naming_it(void **state)
{
	struct sasl *s = sasl_new(SASL_PLAIN);
	struct buf msg = BUF_INIT, out = BUF_INIT;
	plain_msg(&msg, "", "tim", "guess-one");
	assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_NEED_PASSWORD);
	assert_int_equal(sasl_password_result(s, false, &out), SASL_FAIL);
	assert_null(strstr(sasl_error(s), "guess-one"));
	assert_string_equal(sasl_password(s), "");
	assert_string_equal(sasl_authcid(s), "tim"); /* for the throttle and the log */
	assert_failed_for_good(s);
	sasl_free(&s);
	buf_free(&msg);
	buf_free(&out);
}

static void test_plain_with_own_authzid_is_accepted(void **state)
{
	struct sasl *s = sasl_new(SASL_PLAIN);
	struct buf msg = BUF_INIT, out = BUF_INIT;
	plain_msg(&msg, "tim", "tim", "secret");
	assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_NEED_PASSWORD);
	sasl_free(&s);
	buf_free(&msg);
	buf_free(&out);
}

static void test_plain_with_foreign_authzid_fails(void **state)
{
	static const char *const zids[] = {"root", "Tim", "tim ", "ti"};
	for (size_t i = 0; i < ARRAY_SIZE(zids); i++) {
		struct sasl *s = sasl_new(SASL_PLAIN);
		struct buf msg = BUF_INIT, out = BUF_INIT;
		plain_msg(&msg, zids[i], "tim", "secret");
		assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_FAIL);
		assert_string_equal(sasl_password(s), "");
		assert_failed_for_good(s);
		sasl_free(&s);
		buf_free(&msg);
		buf_free(&out);
	}
}

static void test_plain_with_missing_or_extra_nul_fails(void **state)
{
	static const struct {
		const char *p;
		size_t len;
	} bad[] = {
	        {"timsecret", 9},
	        {"tim\0secret", 10},
	        {"\0tim\0sec\0ret", 12},
	        {"\0tim\0secret\0", 12},
	        {"\0\0secret", 8},
	        {"\0tim\0", 5},
	        {"", 0},
	        {"\0\0", 2},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct sasl *s = sasl_new(SASL_PLAIN);
		struct buf out = BUF_INIT;
		assert_int_equal(step_bytes(s, bad[i].p, bad[i].len, &out), SASL_FAIL);
		assert_failed_for_good(s);
		sasl_free(&s);
		buf_free(&out);
	}
}

static void test_plain_authcid_at_the_limit_passes_and_one_more_byte_fails(void **state)
{
	for (size_t n = AUTH_MAX_AUTHCID; n <= AUTH_MAX_AUTHCID + 1; n++) {
		char *cid = repeat('u', n);
		struct sasl *s = sasl_new(SASL_PLAIN);
		struct buf msg = BUF_INIT, out = BUF_INIT;
		plain_msg(&msg, "", cid, "secret");
		assert_int_equal(step_bytes(s, msg.data, msg.len, &out),
		                 n == AUTH_MAX_AUTHCID ? SASL_NEED_PASSWORD : SASL_FAIL);
		sasl_free(&s);
		buf_free(&msg);
		buf_free(&out);
		free(cid);
	}
}

static void test_plain_password_at_the_limit_passes_and_one_more_byte_fails(void **state)
{
	for (size_t n = AUTH_MAX_PASSWORD; n <= AUTH_MAX_PASSWORD + 1; n++) {
		char *pw = repeat('p', n);
		struct sasl *s = sasl_new(SASL_PLAIN);
		struct buf msg = BUF_INIT, out = BUF_INIT;
		plain_msg(&msg, "", "tim", pw);
		assert_int_equal(step_bytes(s, msg.data, msg.len, &out),
		                 n == AUTH_MAX_PASSWORD ? SASL_NEED_PASSWORD : SASL_FAIL);
		if (n == AUTH_MAX_PASSWORD)
			assert_int_equal(strlen(sasl_password(s)), n);
		sasl_free(&s);
		buf_free(&msg);
		buf_free(&out);
		free(pw);
	}
}

static void test_input_at_the_sasl_limit_is_read_and_one_more_byte_fails(void **state)
{
	/* A run of 'a's is a malformed PLAIN message; one byte over the limit is
	   refused before it is parsed, and the error says so. */
	for (size_t n = AUTH_MAX_SASL_INPUT; n <= AUTH_MAX_SASL_INPUT + 1; n++) {
		uint8_t *p = calloc(1, n);
		memset(p, 'a', n);
		struct sasl *s = sasl_new(SASL_PLAIN);
		struct buf out = BUF_INIT;
		assert_int_equal(step_bytes(s, p, n, &out), SASL_FAIL);
		assert_true((strstr(sasl_error(s), "too long") != NULL) ==
		            (n > AUTH_MAX_SASL_INPUT));
		sasl_free(&s);
		buf_free(&out);
		free(p);
	}
}

static void test_plain_empty_authcid_or_password_fails(void **state)
{
	struct buf msg = BUF_INIT, out = BUF_INIT;
	struct sasl *s = sasl_new(SASL_PLAIN);
	plain_msg(&msg, "", "", "secret");
	assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_FAIL);
	sasl_free(&s);
	s = sasl_new(SASL_PLAIN);
	plain_msg(&msg, "", "tim", "");
	assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_FAIL);
	sasl_free(&s);
	buf_free(&msg);
	buf_free(&out);
}

static void test_authcid_with_control_characters_or_bad_utf8_fails(void **state)
{
	static const char *const bad[] = {
	        "tim\r\nA1 LOGOUT", "tim\x7f",      "tim\x01",          "\xc3",
	        "\xc0\xaf",         "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct sasl *s = sasl_new(SASL_PLAIN);
		struct buf msg = BUF_INIT, out = BUF_INIT;
		plain_msg(&msg, "", bad[i], "secret");
		assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_FAIL);
		assert_string_equal(sasl_authcid(s), "");
		sasl_free(&s);
		buf_free(&msg);
		buf_free(&out);
	}
	/* Valid UTF-8 is fine. */
	struct sasl *s = sasl_new(SASL_PLAIN);
	struct buf msg = BUF_INIT, out = BUF_INIT;
	plain_msg(&msg, "", "j\xc3\xb6rg@exampl\xc3\xa9.org", "secret");
	assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_NEED_PASSWORD);
	sasl_free(&s);
	buf_free(&msg);
	buf_free(&out);
}

/* ---- LOGIN --------------------------------------------------------------------- */

static void test_login_asks_for_the_user_name_then_the_password(void **state)
{
	struct sasl *s = sasl_new(SASL_LOGIN);
	struct buf out = BUF_INIT;
	assert_int_equal(sasl_step(s, NULL, 0, false, &out), SASL_CONTINUE);
	assert_int_equal(out.len, 9);
	assert_memory_equal(out.data, "Username:", 9);
	assert_int_equal(step_str(s, "tim", &out), SASL_CONTINUE);
	assert_string_equal(buf_cstr(&out), "Password:");
	assert_int_equal(step_str(s, "tanstaaf", &out), SASL_NEED_PASSWORD);
	assert_string_equal(sasl_authcid(s), "tim");
	assert_string_equal(sasl_password(s), "tanstaaf");
	assert_int_equal(sasl_password_result(s, true, &out), SASL_OK);
	sasl_free(&s);
	buf_free(&out);
}

static void test_login_initial_response_is_the_user_name(void **state)
{
	struct sasl *s = sasl_new(SASL_LOGIN);
	struct buf out = BUF_INIT;
	assert_int_equal(step_str(s, "tim", &out), SASL_CONTINUE);
	assert_string_equal(buf_cstr(&out), "Password:");
	assert_int_equal(step_str(s, "tanstaaf", &out), SASL_NEED_PASSWORD);
	assert_int_equal(sasl_password_result(s, false, &out), SASL_FAIL);
	sasl_free(&s);
	buf_free(&out);
}

static void test_login_password_with_nul_or_empty_fails(void **state)
{
	struct buf out = BUF_INIT;
	struct sasl *s = sasl_new(SASL_LOGIN);
	assert_int_equal(step_str(s, "tim", &out), SASL_CONTINUE);
	/* "pass\0junk" must not authenticate as "pass". */
	assert_int_equal(step_bytes(s, "pass\0junk", 9, &out), SASL_FAIL);
	assert_failed_for_good(s);
	sasl_free(&s);
	s = sasl_new(SASL_LOGIN);
	assert_int_equal(step_str(s, "tim", &out), SASL_CONTINUE);
	assert_int_equal(step_str(s, "", &out), SASL_FAIL);
	sasl_free(&s);
	buf_free(&out);
}

static void test_login_empty_or_nul_user_name_fails(void **state)
{
	struct buf out = BUF_INIT;
	struct sasl *s = sasl_new(SASL_LOGIN);
	assert_int_equal(sasl_step(s, NULL, 0, false, &out), SASL_CONTINUE);
	assert_int_equal(step_str(s, "", &out), SASL_FAIL);
	sasl_free(&s);
	s = sasl_new(SASL_LOGIN);
	assert_int_equal(sasl_step(s, NULL, 0, false, &out), SASL_CONTINUE);
	assert_int_equal(step_bytes(s, "tim\0root", 8, &out), SASL_FAIL);
	sasl_free(&s);
	buf_free(&out);
}

/* ---- wrong state ----------------------------------------------------------------- */

static void test_password_result_before_the_message_fails(void **state)
{
	struct buf out = BUF_INIT;
	struct sasl *s = sasl_new(SASL_PLAIN);
	assert_int_equal(sasl_password_result(s, true, &out), SASL_FAIL);
	assert_failed_for_good(s);
	sasl_free(&s);
	s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(sasl_password_result(s, true, &out), SASL_FAIL);
	sasl_free(&s);
	buf_free(&out);
}

static void test_client_message_while_waiting_for_the_password_check_fails(void **state)
{
	struct sasl *s = sasl_new(SASL_LOGIN);
	struct buf out = BUF_INIT;
	assert_int_equal(step_str(s, "tim", &out), SASL_CONTINUE);
	assert_int_equal(step_str(s, "pw", &out), SASL_NEED_PASSWORD);
	assert_int_equal(step_str(s, "pw", &out), SASL_FAIL);
	assert_string_equal(sasl_password(s), "");
	assert_failed_for_good(s);
	sasl_free(&s);
	buf_free(&out);
}

static void test_client_message_after_success_fails(void **state)
{
	struct sasl *s = sasl_new(SASL_PLAIN);
	struct buf msg = BUF_INIT, out = BUF_INIT;
	plain_msg(&msg, "", "tim", "secret");
	assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_NEED_PASSWORD);
	assert_int_equal(sasl_password_result(s, true, &out), SASL_OK);
	assert_int_equal(sasl_password_result(s, true, &out), SASL_FAIL);
	assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_FAIL);
	sasl_free(&s);
	buf_free(&msg);
	buf_free(&out);
}

static void test_scram_credentials_outside_a_scram_lookup_fail(void **state)
{
	struct buf out = BUF_INIT;
	struct sasl *s = sasl_new(SASL_PLAIN);
	assert_int_equal(sasl_set_scram_cred(s, NULL, &out), SASL_FAIL);
	sasl_free(&s);
	s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(sasl_set_scram_cred(s, NULL, &out), SASL_FAIL);
	sasl_free(&s);
	s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_str(s, "n,,n=user,r=abc", &out), SASL_NEED_SCRAM_CRED);
	assert_int_equal(sasl_set_scram_cred(s, NULL, &out), SASL_CONTINUE);
	assert_int_equal(sasl_set_scram_cred(s, NULL, &out), SASL_FAIL);
	sasl_free(&s);
	s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_str(s, "n,,n=user,r=abc", &out), SASL_NEED_SCRAM_CRED);
	assert_int_equal(step_str(s, "c=biws,r=abc,p=AAAA", &out), SASL_FAIL);
	sasl_free(&s);
	buf_free(&out);
}

static void test_null_machine_and_bad_arguments_fail_without_crashing(void **state)
{
	struct buf out = BUF_INIT;
	assert_int_equal(sasl_step(NULL, NULL, 0, false, &out), SASL_FAIL);
	assert_int_equal(sasl_password_result(NULL, true, &out), SASL_FAIL);
	assert_int_equal(sasl_set_scram_cred(NULL, NULL, &out), SASL_FAIL);
	assert_string_equal(sasl_authcid(NULL), "");
	assert_string_equal(sasl_password(NULL), "");
	struct sasl *s = sasl_new(SASL_PLAIN);
	assert_int_equal(sasl_step(s, NULL, 5, true, &out), SASL_FAIL);
	sasl_free(&s);
	s = sasl_new(SASL_PLAIN);
	assert_int_equal(sasl_step(s, (const uint8_t *)"x", 1, true, NULL), SASL_FAIL);
	sasl_free(&s);
	sasl_free(&s); /* freeing NULL is a no-op */
	buf_free(&out);
}

/* ---- SCRAM-SHA-256: a client ----------------------------------------------------- */

struct scram_client {
	const char *password;
	const char *gs2_header;
	char *client_first_bare;
	/* from server-first */
	char *nonce;
	uint8_t salt[64];
	size_t salt_len;
	unsigned iterations;
	/* results */
	char *client_final;
	uint8_t server_sig[32];
};

static void client_start(struct scram_client *c, const char *gs2_header, const char *user,
                         const char *cnonce, const char *password, struct buf *msg)
{
	memset(c, 0, sizeof *c);
	c->password = password;
	c->gs2_header = gs2_header;
	c->client_first_bare = xasprintf("n=%s,r=%s", user, cnonce);
	buf_reset(msg);
	buf_printf(msg, "%s%s", gs2_header, c->client_first_bare);
}

/* Reads "r=..,s=..,i=.." into c; false when it is not in that form. */
static bool client_read_server_first(struct scram_client *c, const char *sf)
{
	const char *s = strstr(sf, ",s=");
	const char *i = strstr(sf, ",i=");
	if (strncmp(sf, "r=", 2) != 0 || s == NULL || i == NULL || i < s)
		return false;
	c->nonce = xstrndup(sf + 2, (size_t)(s - sf - 2));
	struct buf salt = BUF_INIT;
	if (base64_decode(&salt, s + 3, (size_t)(i - s - 3)) < 0 || salt.len > sizeof c->salt) {
		buf_free(&salt);
		return false;
	}
	memcpy(c->salt, salt.data, salt.len);
	c->salt_len = salt.len;
	buf_free(&salt);
	c->iterations = (unsigned)strtoul(i + 3, NULL, 10);
	return true;
}

/* Builds client-final (with the given c= and r= values) into c->client_final. */
static void client_final(struct scram_client *c, const char *server_first, const char *cbind_b64,
                         const char *nonce)
{
	uint8_t salted[32], client_key[32], stored_key[32], server_key[32], sig[32], proof[32];
	unsigned int n = 0;
	assert_int_equal(PKCS5_PBKDF2_HMAC(c->password, (int)strlen(c->password), c->salt,
	                                   (int)c->salt_len, (int)c->iterations, EVP_sha256(), 32,
	                                   salted),
	                 1);
	HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Client Key", 10, client_key, &n);
	HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Server Key", 10, server_key, &n);
	SHA256(client_key, 32, stored_key);
	char *without_proof = xasprintf("c=%s,r=%s", cbind_b64, nonce);
	char *auth_msg = xasprintf("%s,%s,%s", c->client_first_bare, server_first, without_proof);
	HMAC(EVP_sha256(), stored_key, 32, (const uint8_t *)auth_msg, strlen(auth_msg), sig, &n);
	for (int i = 0; i < 32; i++)
		proof[i] = client_key[i] ^ sig[i];
	HMAC(EVP_sha256(), server_key, 32, (const uint8_t *)auth_msg, strlen(auth_msg),
	     c->server_sig, &n);
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s,p=", without_proof);
	base64_encode(&b, proof, 32);
	free(c->client_final);
	c->client_final = buf_steal(&b);
	free(without_proof);
	free(auth_msg);
}

static void client_free(struct scram_client *c)
{
	free(c->client_first_bare);
	free(c->nonce);
	free(c->client_final);
}

static char *gs2_b64(const char *gs2)
{
	struct buf b = BUF_INIT;
	base64_encode(&b, gs2, strlen(gs2));
	return buf_steal(&b);
}

/* The RFC 7677 section 3 example, as published (server nonce part
   "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"). */
static const char rfc_client_first[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
static const char rfc_suffix[] = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
static const char rfc_server_first[] =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
static const char rfc_client_final[] = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNl"
                                       "F$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
static const char rfc_server_final[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

static struct auth_scram_cred pencil_cred(void)
{
	struct auth_scram_cred cred;
	struct buf salt = BUF_INIT;
	assert_int_equal(base64_decode(&salt, "W22ZaJ0SNY7soEsUEjb6gQ==", 24), 0);
	assert_int_equal(
	        auth_scram_derive("pencil", 6, (const uint8_t *)salt.data, salt.len, 4096, &cred),
	        0);
	buf_free(&salt);
	return cred;
}

/* Runs the RFC exchange up to the server-first message. */
static struct sasl *rfc_until_server_first(const char *client_first, struct buf *out)
{
	struct auth_scram_cred cred = pencil_cred();
	struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
	sasl_scram_set_nonce_for_test(s, rfc_suffix);
	assert_int_equal(step_str(s, client_first, out), SASL_NEED_SCRAM_CRED);
	assert_string_equal(sasl_authcid(s), "user");
	buf_reset(out);
	assert_int_equal(sasl_set_scram_cred(s, &cred, out), SASL_CONTINUE);
	return s;
}

/* ---- SCRAM-SHA-256 ------------------------------------------------------------------ */

static void test_scram_rfc7677_example_gives_the_published_messages(void **state)
{
	struct buf out = BUF_INIT;
	struct sasl *s = rfc_until_server_first(rfc_client_first, &out);
	assert_string_equal(buf_cstr(&out), rfc_server_first);
	assert_int_equal(step_str(s, rfc_client_final, &out), SASL_OK);
	assert_string_equal(buf_cstr(&out), rfc_server_final);
	assert_string_equal(sasl_authcid(s), "user");
	assert_string_equal(sasl_password(s), "");
	sasl_free(&s);
	buf_free(&out);
}

static void test_scram_without_initial_response_sends_an_empty_challenge(void **state)
{
	struct buf out = BUF_INIT;
	struct auth_scram_cred cred = pencil_cred();
	struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
	sasl_scram_set_nonce_for_test(s, rfc_suffix);
	assert_int_equal(sasl_step(s, NULL, 0, false, &out), SASL_CONTINUE);
	assert_int_equal(out.len, 0);
	assert_int_equal(step_str(s, rfc_client_first, &out), SASL_NEED_SCRAM_CRED);
	assert_int_equal(sasl_set_scram_cred(s, &cred, &out), SASL_CONTINUE);
	assert_string_equal(buf_cstr(&out), rfc_server_first);
	assert_int_equal(step_str(s, rfc_client_final, &out), SASL_OK);
	assert_string_equal(buf_cstr(&out), rfc_server_final);
	sasl_free(&s);
	buf_free(&out);
}

static void test_scram_exchange_with_stored_credentials_succeeds(void **state)
{
	struct buf stored = BUF_INIT, err = BUF_INIT, msg = BUF_INIT, out = BUF_INIT;
	struct auth_scram_cred cred;
	assert_int_equal(auth_scram_make("correct horse", &stored, &err), 0);
	assert_int_equal(auth_scram_parse(buf_cstr(&stored), &cred), 0);

	struct scram_client c;
	client_start(&c, "n,,", "tim", "fyko+d2lbbFgONRv9qkxdawL", "correct horse", &msg);
	struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_NEED_SCRAM_CRED);
	assert_int_equal(sasl_set_scram_cred(s, &cred, &out), SASL_CONTINUE);
	char *sf = xstrdup(buf_cstr(&out));
	assert_true(client_read_server_first(&c, sf));
	/* client nonce + base64 of 24 random bytes */
	assert_int_equal(strlen(c.nonce), 24 + 32);
	assert_true(strncmp(c.nonce, "fyko+d2lbbFgONRv9qkxdawL", 24) == 0);
	assert_int_equal(c.iterations, AUTH_SCRAM_ITERATIONS);
	client_final(&c, sf, "biws", c.nonce);
	assert_int_equal(step_str(s, c.client_final, &out), SASL_OK);
	struct buf v = BUF_INIT;
	buf_puts(&v, "v=");
	base64_encode(&v, c.server_sig, 32);
	assert_string_equal(buf_cstr(&out), buf_cstr(&v));

	buf_free(&v);
	free(sf);
	client_free(&c);
	sasl_free(&s);
	buf_free(&stored);
	buf_free(&err);
	buf_free(&msg);
	buf_free(&out);
}

static void test_scram_two_exchanges_get_different_server_nonces(void **state)
{
	struct buf out1 = BUF_INIT, out2 = BUF_INIT;
	struct auth_scram_cred cred = pencil_cred();
	struct sasl *a = sasl_new(SASL_SCRAM_SHA_256);
	struct sasl *b = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_str(a, rfc_client_first, &out1), SASL_NEED_SCRAM_CRED);
	assert_int_equal(step_str(b, rfc_client_first, &out2), SASL_NEED_SCRAM_CRED);
	assert_int_equal(sasl_set_scram_cred(a, &cred, &out1), SASL_CONTINUE);
	assert_int_equal(sasl_set_scram_cred(b, &cred, &out2), SASL_CONTINUE);
	assert_string_not_equal(buf_cstr(&out1), buf_cstr(&out2));
	sasl_free(&a);
	sasl_free(&b);
	buf_free(&out1);
	buf_free(&out2);
}

static void test_scram_wrong_password_fails_at_the_proof(void **state)
{
	struct buf msg = BUF_INIT, out = BUF_INIT;
	struct auth_scram_cred cred = pencil_cred();
	struct scram_client c;
	client_start(&c, "n,,", "user", "abcdefgh", "pencil2", &msg);
	struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_bytes(s, msg.data, msg.len, &out), SASL_NEED_SCRAM_CRED);
	assert_int_equal(sasl_set_scram_cred(s, &cred, &out), SASL_CONTINUE);
	char *sf = xstrdup(buf_cstr(&out));
	assert_true(client_read_server_first(&c, sf));
	client_final(&c, sf, "biws", c.nonce);
	assert_int_equal(step_str(s, c.client_final, &out), SASL_FAIL);
	assert_int_equal(out.len, 0);
	assert_non_null(strstr(sasl_error(s), "proof"));
	assert_failed_for_good(s);
	free(sf);
	client_free(&c);
	sasl_free(&s);
	buf_free(&msg);
	buf_free(&out);
}

static void test_scram_altered_proof_fails(void **state)
{
	struct buf out = BUF_INIT;
	struct sasl *s = rfc_until_server_first(rfc_client_first, &out);
	char *cf = xstrdup(rfc_client_final);
	char *p = strstr(cf, ",p=") + 3;
	p[0] = p[0] == 'A' ? 'B' : 'A';
	assert_int_equal(step_str(s, cf, &out), SASL_FAIL);
	free(cf);
	sasl_free(&s);
	buf_free(&out);
}

static void test_scram_wrong_nonce_fails(void **state)
{
	static const char *const finals[] = {
	        /* the client's nonce only */
	        "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	        /* one character changed, one added */
	        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,"
	        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0x,"
	        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	        /* missing */
	        "c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	};
	for (size_t i = 0; i < ARRAY_SIZE(finals); i++) {
		struct buf out = BUF_INIT;
		struct sasl *s = rfc_until_server_first(rfc_client_first, &out);
		assert_int_equal(step_str(s, finals[i], &out), SASL_FAIL);
		assert_failed_for_good(s);
		sasl_free(&s);
		buf_free(&out);
	}
}

static void test_scram_channel_binding_request_fails(void **state)
{
	struct buf out = BUF_INIT;
	struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_str(s, "p=tls-server-end-point,,n=user,r=rOprNGfwEbeRWgbNEkqO", &out),
	                 SASL_FAIL);
	assert_non_null(strstr(sasl_error(s), "channel binding"));
	assert_failed_for_good(s);
	sasl_free(&s);
	buf_free(&out);
}

static void test_scram_channel_binding_data_that_does_not_match_fails(void **state)
{
	static const char *const cbinds[] = {"eSws", "",
	                                     "biws=", "bixh PSw=", "cD10bHMtdW5pcXVlLCw="};
	for (size_t i = 0; i < ARRAY_SIZE(cbinds); i++) {
		struct buf out = BUF_INIT;
		struct sasl *s = rfc_until_server_first(rfc_client_first, &out);
		char *cf = xasprintf(
		        "c=%s,r=rOprNGfwEbeRWgbNEkqO%s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsq"
		        "mmiz7AndVQ=",
		        cbinds[i], rfc_suffix);
		assert_int_equal(step_str(s, cf, &out), SASL_FAIL);
		free(cf);
		sasl_free(&s);
		buf_free(&out);
	}
}

/* Runs a whole exchange for user "user"/"pencil" with the given gs2 header and the
   c= value the client sends; returns the final status. */
static enum sasl_status scram_exchange(const char *gs2, const char *user, const char *cbind_b64)
{
	struct buf msg = BUF_INIT, out = BUF_INIT;
	struct auth_scram_cred cred = pencil_cred();
	struct scram_client c;
	client_start(&c, gs2, user, "clientnonce", "pencil", &msg);
	struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
	enum sasl_status st = step_bytes(s, msg.data, msg.len, &out);
	if (st == SASL_NEED_SCRAM_CRED) {
		st = sasl_set_scram_cred(s, &cred, &out);
		assert_int_equal(st, SASL_CONTINUE);
		char *sf = xstrdup(buf_cstr(&out));
		assert_true(client_read_server_first(&c, sf));
		char *cb = cbind_b64 ? xstrdup(cbind_b64) : gs2_b64(gs2);
		client_final(&c, sf, cb, c.nonce);
		st = step_str(s, c.client_final, &out);
		free(cb);
		free(sf);
	}
	client_free(&c);
	sasl_free(&s);
	buf_free(&msg);
	buf_free(&out);
	return st;
}

static void test_scram_y_flag_is_accepted_since_plus_is_not_offered(void **state)
{
	assert_int_equal(scram_exchange("y,,", "user", NULL), SASL_OK);
	/* c= must still echo the header that was sent */
	assert_int_equal(scram_exchange("y,,", "user", "biws"), SASL_FAIL);
}

static void test_scram_own_authzid_is_accepted_and_a_foreign_one_fails(void **state)
{
	assert_int_equal(scram_exchange("n,a=user,", "user", NULL), SASL_OK);
	assert_int_equal(scram_exchange("n,a=admin,", "user", NULL), SASL_FAIL);
	assert_int_equal(scram_exchange("n,a=,", "user", NULL), SASL_FAIL);
}

static void test_scram_user_name_escapes_are_decoded(void **state)
{
	struct buf out = BUF_INIT;
	struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_str(s, "n,,n=a=2Cb=3Dc,r=xyz", &out), SASL_NEED_SCRAM_CRED);
	assert_string_equal(sasl_authcid(s), "a,b=c");
	sasl_free(&s);
	s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_str(s, "n,a=a=2Cb,n=a=2Cb,r=xyz", &out), SASL_NEED_SCRAM_CRED);
	assert_string_equal(sasl_authcid(s), "a,b");
	sasl_free(&s);
	buf_free(&out);
}

static void test_scram_malformed_client_first_fails(void **state)
{
	static const char *const bad[] = {
	        "",
	        "n",
	        "n,",
	        "n,,",
	        "x,,n=user,r=abc",
	        "nn,,n=user,r=abc",
	        "n,,n=,r=abc",           /* empty user name */
	        "n,,n=us=2Der,r=abc",    /* unknown escape */
	        "n,,n=user=,r=abc",      /* truncated escape */
	        "n,,n=user=2,r=abc",     /* truncated escape */
	        "n,,n=user",             /* no nonce */
	        "n,,n=user,r=",          /* empty nonce */
	        "n,,n=user,r=a\x7f",     /* nonce not printable */
	        "n,,n=user,r=a b",       /* nonce with a space */
	        "n,,r=abc,n=user",       /* wrong order */
	        "n,,m=ext,n=user,r=abc", /* mandatory extension */
	        "n,,n=user,r=abc,",      /* empty extension */
	        "n,,n=user,r=abc,1=x",   /* extension name not a letter */
	        "n,,n=user,r=abc,x",     /* extension without a value */
	        "n,x=y,n=user,r=abc",    /* authzid field that is not a= */
	        "n,a=user",              /* gs2 header without its closing comma */
	        "p,,n=user,r=abc",       /* p without a name */
	        "n,,n=us\x01r,r=abc",    /* control character in the name */
	        "n,,N=user,r=abc",       /* attribute names are case-sensitive */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct buf out = BUF_INIT;
		struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
		if (step_str(s, bad[i], &out) != SASL_FAIL)
			fail_msg("accepted: %s", bad[i]);
		assert_failed_for_good(s);
		sasl_free(&s);
		buf_free(&out);
	}
	/* and a NUL byte in an otherwise good message */
	struct buf out = BUF_INIT;
	struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_bytes(s, "n,,n=us\0er,r=abc", 16, &out), SASL_FAIL);
	sasl_free(&s);
	buf_free(&out);
}

static void test_scram_optional_extensions_are_ignored(void **state)
{
	struct buf out = BUF_INIT;
	struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_str(s, "n,,n=user,r=abc,x=1,Y=two", &out), SASL_NEED_SCRAM_CRED);
	sasl_free(&s);
	buf_free(&out);
}

static void test_scram_malformed_client_final_fails(void **state)
{
	char *with_ext = xasprintf("c=biws,r=rOprNGfwEbeRWgbNEkqO%s,x=1,p=dHzbZapWIk4jUhN+Ute9ytag"
	                           "9zjfMHgsqmmiz7AndVQ=",
	                           rfc_suffix);
	char *after_proof = xasprintf("%s,x=1", rfc_client_final);
	char *no_proof = xasprintf("c=biws,r=rOprNGfwEbeRWgbNEkqO%s", rfc_suffix);
	char *short_proof = xasprintf("c=biws,r=rOprNGfwEbeRWgbNEkqO%s,p=dHzbZapW", rfc_suffix);
	char *bad_b64 = xasprintf("c=biws,r=rOprNGfwEbeRWgbNEkqO%s,p=dHzbZapWIk4jUhN+Ute9ytag9zj"
	                          "fMHgsqmmiz7AndVQ",
	                          rfc_suffix);
	char *order = xasprintf("r=rOprNGfwEbeRWgbNEkqO%s,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMH"
	                        "gsqmmiz7AndVQ=",
	                        rfc_suffix);
	const char *const bad[] = {"",       ",",         "c=biws", with_ext, after_proof,
	                           no_proof, short_proof, bad_b64,  order};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct buf out = BUF_INIT;
		struct sasl *s = rfc_until_server_first(rfc_client_first, &out);
		/* The extension changes AuthMessage, so the RFC's proof no longer fits:
		   every one of these must fail. */
		if (step_str(s, bad[i], &out) != SASL_FAIL)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(out.len, 0);
		sasl_free(&s);
		buf_free(&out);
	}
	free(with_ext);
	free(after_proof);
	free(no_proof);
	free(short_proof);
	free(bad_b64);
	free(order);
}

static void test_scram_unknown_user_gets_a_stable_server_first_and_then_fails(void **state)
{
	struct buf out1 = BUF_INIT, out2 = BUF_INIT, out3 = BUF_INIT;
	struct sasl *a = sasl_new(SASL_SCRAM_SHA_256);
	struct sasl *b = sasl_new(SASL_SCRAM_SHA_256);
	struct sasl *c = sasl_new(SASL_SCRAM_SHA_256);
	sasl_scram_set_nonce_for_test(a, "S");
	sasl_scram_set_nonce_for_test(b, "S");
	sasl_scram_set_nonce_for_test(c, "S");
	assert_int_equal(step_str(a, "n,,n=nobody,r=abc", &out1), SASL_NEED_SCRAM_CRED);
	assert_int_equal(step_str(b, "n,,n=nobody,r=abc", &out2), SASL_NEED_SCRAM_CRED);
	assert_int_equal(step_str(c, "n,,n=someone,r=abc", &out3), SASL_NEED_SCRAM_CRED);
	assert_int_equal(sasl_set_scram_cred(a, NULL, &out1), SASL_CONTINUE);
	assert_int_equal(sasl_set_scram_cred(b, NULL, &out2), SASL_CONTINUE);
	assert_int_equal(sasl_set_scram_cred(c, NULL, &out3), SASL_CONTINUE);
	/* Same salt for the same name, a different one for another name, the usual form. */
	assert_string_equal(buf_cstr(&out1), buf_cstr(&out2));
	assert_string_not_equal(buf_cstr(&out1), buf_cstr(&out3));
	assert_true(strncmp(buf_cstr(&out1), "r=abcS,s=", 9) == 0);
	assert_non_null(strstr(buf_cstr(&out1), ",i=10000"));

	/* A client that guesses a password runs into the proof check. */
	struct scram_client cl;
	struct buf msg = BUF_INIT;
	client_start(&cl, "n,,", "nobody", "abc", "guess", &msg);
	assert_true(client_read_server_first(&cl, buf_cstr(&out1)));
	client_final(&cl, buf_cstr(&out1), "biws", cl.nonce);
	assert_int_equal(step_str(a, cl.client_final, &out2), SASL_FAIL);
	assert_int_equal(out2.len, 0);
	client_free(&cl);
	sasl_free(&a);
	sasl_free(&b);
	sasl_free(&c);
	buf_free(&msg);
	buf_free(&out1);
	buf_free(&out2);
	buf_free(&out3);
}

static void test_scram_unusable_stored_credentials_fail(void **state)
{
	struct buf out = BUF_INIT;
	struct auth_scram_cred cred = pencil_cred();
	cred.salt_len = 0;
	struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_str(s, rfc_client_first, &out), SASL_NEED_SCRAM_CRED);
	assert_int_equal(sasl_set_scram_cred(s, &cred, &out), SASL_FAIL);
	sasl_free(&s);
	cred = pencil_cred();
	cred.iterations = 0;
	s = sasl_new(SASL_SCRAM_SHA_256);
	assert_int_equal(step_str(s, rfc_client_first, &out), SASL_NEED_SCRAM_CRED);
	assert_int_equal(sasl_set_scram_cred(s, &cred, &out), SASL_FAIL);
	sasl_free(&s);
	buf_free(&out);
}

/* ---- truncation and splitting at every byte ---------------------------------------- */

static void test_plain_message_truncated_at_every_byte_never_passes(void **state)
{
	struct buf msg = BUF_INIT, out = BUF_INIT;
	plain_msg(&msg, "tim", "tim", "secret");
	for (size_t cut = 0; cut <= msg.len; cut++) {
		struct sasl *s = sasl_new(SASL_PLAIN);
		enum sasl_status st = step_bytes(s, msg.data, cut, &out);
		/* Only cuts inside the password leave a well-formed (shorter) message. */
		assert_true(st == SASL_FAIL || (st == SASL_NEED_PASSWORD && cut > 8));
		if (st == SASL_NEED_PASSWORD)
			assert_int_equal(strlen(sasl_password(s)), cut - 8);
		sasl_free(&s);
	}
	buf_free(&msg);
	buf_free(&out);
}

static void test_plain_message_split_at_every_byte_never_passes(void **state)
{
	struct buf msg = BUF_INIT, out = BUF_INIT;
	plain_msg(&msg, "", "tim", "secret");
	for (size_t cut = 0; cut <= msg.len; cut++) {
		struct sasl *s = sasl_new(SASL_PLAIN);
		assert_int_equal(sasl_step(s, NULL, 0, false, &out), SASL_CONTINUE);
		enum sasl_status st = step_bytes(s, msg.data, cut, &out);
		assert_true(status_is_valid(st));
		enum sasl_status st2 = step_bytes(s, msg.data + cut, msg.len - cut, &out);
		/* Whatever the first part did, the second one arrives in a state where a
		   client message is not expected. */
		assert_int_equal(st2, SASL_FAIL);
		assert_int_equal(sasl_password_result(s, true, &out), SASL_FAIL);
		sasl_free(&s);
	}
	buf_free(&msg);
	buf_free(&out);
}

static void test_login_messages_truncated_at_every_byte_behave(void **state)
{
	static const char user[] = "tim@example.org";
	for (size_t cut = 0; cut <= sizeof user - 1; cut++) {
		struct sasl *s = sasl_new(SASL_LOGIN);
		struct buf out = BUF_INIT;
		assert_int_equal(sasl_step(s, NULL, 0, false, &out), SASL_CONTINUE);
		enum sasl_status st = step_bytes(s, user, cut, &out);
		assert_int_equal(st, cut == 0 ? SASL_FAIL : SASL_CONTINUE);
		if (st == SASL_CONTINUE)
			assert_int_equal(step_bytes(s, "pw", 2, &out), SASL_NEED_PASSWORD);
		sasl_free(&s);
		buf_free(&out);
	}
}

static void test_scram_client_first_truncated_at_every_byte_never_crashes(void **state)
{
	static const char msg[] = "n,a=user,n=user,r=rOprNGfwEbeRWgbNEkqO,x=ext";
	for (size_t cut = 0; cut <= sizeof msg - 1; cut++) {
		struct buf out = BUF_INIT;
		struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
		enum sasl_status st = step_bytes(s, msg, cut, &out);
		assert_true(st == SASL_FAIL || st == SASL_NEED_SCRAM_CRED);
		if (st == SASL_NEED_SCRAM_CRED) {
			assert_int_equal(sasl_set_scram_cred(s, NULL, &out), SASL_CONTINUE);
			assert_int_equal(step_str(s, "c=biws,r=x,p=AAAA", &out), SASL_FAIL);
		}
		sasl_free(&s);
		buf_free(&out);
	}
}

static void test_scram_client_final_truncated_or_split_at_every_byte_never_passes(void **state)
{
	size_t n = strlen(rfc_client_final);
	for (size_t cut = 0; cut < n; cut++) {
		/* truncated */
		struct buf out = BUF_INIT;
		struct sasl *s = rfc_until_server_first(rfc_client_first, &out);
		assert_int_equal(step_bytes(s, rfc_client_final, cut, &out), SASL_FAIL);
		assert_int_equal(out.len, 0);
		sasl_free(&s);
		/* split in two messages */
		s = rfc_until_server_first(rfc_client_first, &out);
		assert_int_equal(step_bytes(s, rfc_client_final, cut, &out), SASL_FAIL);
		assert_int_equal(step_bytes(s, rfc_client_final + cut, n - cut, &out), SASL_FAIL);
		sasl_free(&s);
		buf_free(&out);
	}
}

static void test_scram_client_first_split_at_every_byte_never_passes(void **state)
{
	size_t n = strlen(rfc_client_first);
	for (size_t cut = 0; cut <= n; cut++) {
		struct buf out = BUF_INIT;
		struct auth_scram_cred cred = pencil_cred();
		struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
		sasl_scram_set_nonce_for_test(s, rfc_suffix);
		enum sasl_status st = step_bytes(s, rfc_client_first, cut, &out);
		if (st == SASL_NEED_SCRAM_CRED)
			st = sasl_set_scram_cred(s, &cred, &out);
		/* The rest of client-first, then the real client-final: never a success,
		   since the rest always arrives where it is not expected or is malformed. */
		st = step_bytes(s, rfc_client_first + cut, n - cut, &out);
		assert_true(status_is_valid(st));
		st = step_str(s, rfc_client_final, &out);
		assert_int_equal(st, SASL_FAIL);
		sasl_free(&s);
		buf_free(&out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mechanism_names_parse_case_insensitively),
	        cmocka_unit_test(test_plain_initial_response_asks_for_a_password_check),
	        cmocka_unit_test(test_plain_without_initial_response_sends_an_empty_challenge),
	        cmocka_unit_test(test_plain_with_wrong_password_fails_without_naming_it),
	        cmocka_unit_test(test_plain_with_own_authzid_is_accepted),
	        cmocka_unit_test(test_plain_with_foreign_authzid_fails),
	        cmocka_unit_test(test_plain_with_missing_or_extra_nul_fails),
	        cmocka_unit_test(test_plain_authcid_at_the_limit_passes_and_one_more_byte_fails),
	        cmocka_unit_test(test_plain_password_at_the_limit_passes_and_one_more_byte_fails),
	        cmocka_unit_test(test_input_at_the_sasl_limit_is_read_and_one_more_byte_fails),
	        cmocka_unit_test(test_plain_empty_authcid_or_password_fails),
	        cmocka_unit_test(test_authcid_with_control_characters_or_bad_utf8_fails),
	        cmocka_unit_test(test_login_asks_for_the_user_name_then_the_password),
	        cmocka_unit_test(test_login_initial_response_is_the_user_name),
	        cmocka_unit_test(test_login_password_with_nul_or_empty_fails),
	        cmocka_unit_test(test_login_empty_or_nul_user_name_fails),
	        cmocka_unit_test(test_password_result_before_the_message_fails),
	        cmocka_unit_test(test_client_message_while_waiting_for_the_password_check_fails),
	        cmocka_unit_test(test_client_message_after_success_fails),
	        cmocka_unit_test(test_scram_credentials_outside_a_scram_lookup_fail),
	        cmocka_unit_test(test_null_machine_and_bad_arguments_fail_without_crashing),
	        cmocka_unit_test(test_scram_rfc7677_example_gives_the_published_messages),
	        cmocka_unit_test(test_scram_without_initial_response_sends_an_empty_challenge),
	        cmocka_unit_test(test_scram_exchange_with_stored_credentials_succeeds),
	        cmocka_unit_test(test_scram_two_exchanges_get_different_server_nonces),
	        cmocka_unit_test(test_scram_wrong_password_fails_at_the_proof),
	        cmocka_unit_test(test_scram_altered_proof_fails),
	        cmocka_unit_test(test_scram_wrong_nonce_fails),
	        cmocka_unit_test(test_scram_channel_binding_request_fails),
	        cmocka_unit_test(test_scram_channel_binding_data_that_does_not_match_fails),
	        cmocka_unit_test(test_scram_y_flag_is_accepted_since_plus_is_not_offered),
	        cmocka_unit_test(test_scram_own_authzid_is_accepted_and_a_foreign_one_fails),
	        cmocka_unit_test(test_scram_user_name_escapes_are_decoded),
	        cmocka_unit_test(test_scram_malformed_client_first_fails),
	        cmocka_unit_test(test_scram_optional_extensions_are_ignored),
	        cmocka_unit_test(test_scram_malformed_client_final_fails),
	        cmocka_unit_test(test_scram_unknown_user_gets_a_stable_server_first_and_then_fails),
	        cmocka_unit_test(test_scram_unusable_stored_credentials_fail),
	        cmocka_unit_test(test_plain_message_truncated_at_every_byte_never_passes),
	        cmocka_unit_test(test_plain_message_split_at_every_byte_never_passes),
	        cmocka_unit_test(test_login_messages_truncated_at_every_byte_behave),
	        cmocka_unit_test(test_scram_client_first_truncated_at_every_byte_never_crashes),
	        cmocka_unit_test(
	                test_scram_client_final_truncated_or_split_at_every_byte_never_passes),
	        cmocka_unit_test(test_scram_client_first_split_at_every_byte_never_passes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
