/*
 * Unit tests for src/dkim/dkim_sign.c: RFC 8463's Ed25519 example reproduced
 * byte for byte (public key, body hash, signature: Ed25519 is deterministic),
 * an RSA signature made by dkimpy over relaxed/relaxed reproduced (so is
 * RSASSA-PKCS1-v1_5), whole messages signed with fresh RSA-2048 and Ed25519
 * keys and checked with OpenSSL, a message without From left unsigned, keys of
 * the wrong kind refused, and the DNS record cut into 255-byte strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"
#include "mime/mime.h"

#define L(s) (s), sizeof(s) - 1

/* RFC 8463 A.1/A.3: the example message, its key and its relaxed signature. */
static const char RFC_MSG[] = "From: Joe SixPack <joe@football.example.com>\r\n"
                              "To: Suzie Q <suzie@shopping.example.net>\r\n"
                              "Subject: Is dinner ready?\r\n"
                              "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
                              "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
                              "\r\n"
                              "Hi.\r\n"
                              "\r\n"
                              "We lost the game.  Are you hungry yet?\r\n"
                              "\r\n"
                              "Joe.\r\n";
static const char RFC_SEED[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
static const char RFC_PUB[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char RFC_BH[] = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";
static const char RFC_SIG_FIELD[] = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
                                    " d=football.example.com; i=@football.example.com;\r\n"
                                    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
                                    " subject : date : message-id : from : subject : date;\r\n"
                                    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
                                    " b=";
static const char RFC_B[] = "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5"
                            "OsU7ZbnKELq+eXdp1Q1Dw==";

/* A 1024-bit RSA test key, and dkimpy's relaxed/relaxed signature with it
   (h=from:from:to:subject:date) of DKIMPY_MSG. */
static const char RSA_PEM[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAOpLBUEdT6lFyXEN\n"
                              "OxikDLuFxsjW5+5QGRp6hYn0jPbz39NYcjS0dE/Wt8wv0iaOjO+SXKsDcY5xzhp9\n"
                              "xFyPcagvGmgvGJ2XnRUlqNjVKZn5nhXDYWS0dPZeEoJ1SH9aKfC4sX5Ytwrun3JD\n"
                              "71U1ylIMrlVb0vrGFFx2QKIeLHzdAgMBAAECgYAwSJmim6nJFqq286UUJOrC0oTu\n"
                              "6usNP9CMlmdi0NUkJ4ofAgE3P2Eg+v0RxWEntQTyclVKoQEL/AQfjX+kG6OuQlzf\n"
                              "duH0rgVPIzrGYWQ8JGymZwp5kfosApmHaaQPkymSkRdMaWoZc6PgRlC9dzMsgUyv\n"
                              "qFMKtS0XQstBCGeiOQJBAPtE/8/IVKLuNlKfQPwWzeAWw+NOL2XuroN94rWspFmd\n"
                              "oLmCG2ReL+Bv+old3nuBKgzxeMqBDXO1C7fZi0JZO2sCQQDutDPfdRCpSDqEJny9\n"
                              "Y1zmX82KYkZlKUCF0xkSwN6eRBnP6j/zbXY44j+epdzugymocs6ZFAB/56qDv2IA\n"
                              "PkLXAkBAIalFCDWJ7FDTH7B/Zvae5lCS+Iaidpv2FbBCfFDqSpAWKP4CzQNdPlds\n"
                              "rhe14A6yhQM2dF/Rk3jtMMoZYhsHAkEAwimaOB1E3C2AS5XyySpVmp461mFx2T9g\n"
                              "2HoJXxO7AQlr5Y8pTZywGT0PesB3oRrXe8lG+4UlkuSh8mBuGryKKQJAevobTYHN\n"
                              "BQ9VnBOWwcdszLyIi+ZzZ4Qk5cBwxtrjjxCsS4Y58qX9DJV+pp5VUqqrHNAEfcZD\n"
                              "sXxNKrOfbF66QQ==\n"
                              "-----END PRIVATE KEY-----\n";
static const char DKIMPY_MSG[] = "Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                                 "From: Joe SixPack <joe@football.example.com>\r\n"
                                 "To:   Suzie Q <suzie@shopping.example.net>,\r\n"
                                 "\tsomeone@else.example\r\n"
                                 "Subject: Is dinner   ready?  \r\n"
                                 "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
                                 "\r\n"
                                 "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\t \r\n"
                                 "\r\nJoe.\r\n\r\n\r\n";
static const char DKIMPY_SIG_FIELD[] =
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
        " d=football.example.com; i=@football.example.com; q=dns/txt; s=test;\r\n"
        " t=1795790907; h=from : from : to : subject : date;\r\n"
        " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
        " b=";
static const char DKIMPY_B[] = "Tn8AdpG3YZfeCoBoEImcTN5MG9DdpJoOg9RR0sEdBLScFTjAjDrBFcidc/0IJTBX5U"
                               "BQb8TJr2KAfyc1w5EkbfFgtQC0Wv1NdwxuASN0fRRPjtJNTjvbSnRQtvzLwJMFIAi"
                               "FVJ3z491JVh+QrjBkPqR6t8Z3g5Oq5rfafFZ8dms=";

static char *ed25519_pem_from_seed(const char *seed_b64)
{
	struct buf seed = BUF_INIT;
	assert_int_equal(base64_decode(&seed, seed_b64, strlen(seed_b64)), 0);
	assert_int_equal(seed.len, 32);
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	                                           (const unsigned char *)seed.data, seed.len);
	assert_non_null(k);
	BIO *bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
	char *p;
	long n = BIO_get_mem_data(bio, &p);
	char *pem = xstrndup(p, (size_t)n);
	BIO_free(bio);
	EVP_PKEY_free(k);
	buf_free(&seed);
	return pem;
}

static void body_hash(const char *msg, size_t len, struct buf *bh)
{
	size_t hlen = mime_header_len(msg, len);
	struct dkim_body_canon c;
	struct buf canon = BUF_INIT;
	dkim_body_canon_init(&c);
	dkim_body_canon_push(&c, msg + hlen, len - hlen, &canon);
	dkim_body_canon_finish(&c, &canon);
	unsigned char d[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)(canon.data ? canon.data : ""), canon.len, d);
	base64_encode(bh, d, sizeof d);
	buf_free(&canon);
}

/* ---- known vectors ------------------------------------------------------------------ */

static void test_rfc8463_example_is_reproduced(void **state)
{
	char *pem = ed25519_pem_from_seed(RFC_SEED);
	struct buf pub = BUF_INIT, err = BUF_INIT, bh = BUF_INIT;
	assert_int_equal(dkim_key_public(DKIM_ALG_ED25519, pem, &pub, &err), 0);
	assert_string_equal(buf_cstr(&pub), RFC_PUB);
	body_hash(L(RFC_MSG), &bh);
	assert_string_equal(buf_cstr(&bh), RFC_BH);
	/* h=from:to:subject:date:message-id:from:subject:date — the last three
	   name no further instance and add nothing. */
	struct buf data = BUF_INIT;
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, RFC_MSG, mime_header_len(L(RFC_MSG)));
	while (mime_header_next(&it, &f))
		dkim_canon_header(f.name, f.name_len, f.value, f.value_len, true, &data);
	dkim_canon_field(L(RFC_SIG_FIELD), &data);
	struct buf b = BUF_INIT;
	assert_int_equal(dkim_sign_data(DKIM_ALG_ED25519, pem, data.data, data.len, &b, &err), 0);
	assert_string_equal(buf_cstr(&b), RFC_B);
	buf_free(&b);
	buf_free(&data);
	buf_free(&bh);
	buf_free(&pub);
	buf_free(&err);
	free(pem);
}

static void test_dkimpy_rsa_signature_is_reproduced(void **state)
{
	struct buf hl = BUF_INIT, data = BUF_INIT, b = BUF_INIT, err = BUF_INIT, bh = BUF_INIT;
	size_t hlen = mime_header_len(L(DKIMPY_MSG));
	assert_int_equal(dkim_canon_select(DKIMPY_MSG, hlen, &hl, &data), 5);
	assert_string_equal(buf_cstr(&hl), "from:from:to:subject:date");
	body_hash(L(DKIMPY_MSG), &bh);
	assert_string_equal(buf_cstr(&bh), "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	dkim_canon_field(L(DKIMPY_SIG_FIELD), &data);
	assert_int_equal(dkim_sign_data(DKIM_ALG_RSA, RSA_PEM, data.data, data.len, &b, &err), 0);
	assert_string_equal(buf_cstr(&b), DKIMPY_B);
	buf_free(&hl);
	buf_free(&data);
	buf_free(&b);
	buf_free(&err);
	buf_free(&bh);
}

/* ---- whole messages ------------------------------------------------------------------- */

/* Verifies one DKIM-Signature field (CRLF-terminated) of a signature made by
   dkim_sign over msg, with the public key of pem. */
static void verify_field(const char *field, size_t flen, const char *msg, size_t len,
                         enum dkim_alg alg, const char *pem)
{
	/* the b= value is last: what was hashed ends at "b=" */
	const char *b = NULL;
	for (const char *p = field; (p = strstr(p, "b=")) && p < field + flen; p++)
		if (p[-1] == '\t' || p[-1] == ' ')
			b = p;
	assert_non_null(b);
	size_t hashed_len = (size_t)(b + 2 - field);
	struct buf sig_b64 = BUF_INIT, sig = BUF_INIT;
	for (const char *p = b + 2; p < field + flen; p++)
		if (*p != '\r' && *p != '\n' && *p != '\t' && *p != ' ')
			buf_putc(&sig_b64, *p);
	assert_int_equal(base64_decode(&sig, sig_b64.data, sig_b64.len), 0);

	struct buf hl = BUF_INIT, data = BUF_INIT;
	dkim_canon_select(msg, mime_header_len(msg, len), &hl, &data);
	dkim_canon_field(field, hashed_len, &data);

	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	assert_non_null(k);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char d[SHA256_DIGEST_LENGTH];
	const unsigned char *in = (const unsigned char *)data.data;
	size_t inlen = data.len;
	if (alg == DKIM_ALG_ED25519) {
		SHA256(in, inlen, d);
		in = d;
		inlen = sizeof d;
	}
	assert_int_equal(
	        EVP_DigestVerifyInit(ctx, NULL, alg == DKIM_ALG_RSA ? EVP_sha256() : NULL, NULL, k),
	        1);
	assert_int_equal(EVP_DigestVerify(ctx, (const unsigned char *)sig.data, sig.len, in, inlen),
	                 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	BIO_free(bio);
	buf_free(&hl);
	buf_free(&data);
	buf_free(&sig);
	buf_free(&sig_b64);
}

static void test_a_message_is_signed_with_each_key(void **state)
{
	struct buf rsa = BUF_INIT, ed = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
	assert_int_equal(dkim_key_generate(DKIM_ALG_RSA, &rsa, &err), 0);
	assert_int_equal(dkim_key_generate(DKIM_ALG_ED25519, &ed, &err), 0);
	struct dkim_key keys[] = {{DKIM_ALG_RSA, "rsa-202601", rsa.data},
	                          {DKIM_ALG_ED25519, "ed25519-202601", ed.data}};
	const char msg[] = "Return-Path: <a@example.test>\r\n"
	                   "From: A <a@example.test>\r\nTo: b@remote.example\r\n"
	                   "Subject: s\r\nList-Id: <x>\r\n\r\nbody\r\n";
	assert_int_equal(dkim_sign(L(msg), "example.test", keys, 2, 1700000000, &out, &err), 0);
	const char *second = strstr(out.data + 1, "DKIM-Signature: ");
	assert_non_null(second);
	const char *start = "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.test;";
	assert_true(strncmp(out.data, start, strlen(start)) == 0);
	assert_non_null(strstr(out.data, "s=rsa-202601; t=1700000000;"));
	assert_non_null(strstr(second, "a=ed25519-sha256;"));
	assert_non_null(strstr(out.data, "h=from:from:to:subject:list-id;"));
	assert_true(strcmp(out.data + out.len - 2, "\r\n") == 0);
	size_t first_len = (size_t)(second - out.data);
	verify_field(out.data, first_len, L(msg), DKIM_ALG_RSA, rsa.data);
	verify_field(second, out.len - first_len, L(msg), DKIM_ALG_ED25519, ed.data);
	/* The public key of a 2048-bit RSA key: a SubjectPublicKeyInfo, base64. */
	struct buf p = BUF_INIT;
	assert_int_equal(dkim_key_public(DKIM_ALG_RSA, rsa.data, &p, &err), 0);
	assert_true(strncmp(p.data, "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", 44) == 0);
	buf_free(&p);
	buf_free(&rsa);
	buf_free(&ed);
	buf_free(&err);
	buf_free(&out);
}

static void test_a_message_without_from_is_not_signed(void **state)
{
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct dkim_key k = {DKIM_ALG_RSA, "s", RSA_PEM};
	const char msg[] = "To: b@remote.example\r\n\r\nbody\r\n";
	assert_int_equal(dkim_sign(L(msg), "example.test", &k, 1, 1, &out, &err), 0);
	assert_int_equal(out.len, 0);
	buf_free(&err);
	buf_free(&out);
}

static void test_keys_of_the_wrong_kind_are_refused(void **state)
{
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct dkim_key k = {DKIM_ALG_ED25519, "s", RSA_PEM};
	const char msg[] = "From: a@example.test\r\n\r\nbody\r\n";
	assert_int_equal(dkim_sign(L(msg), "example.test", &k, 1, 1, &out, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "not an Ed25519 key"));
	buf_reset(&err);
	k = (struct dkim_key){DKIM_ALG_RSA, "s", "-----BEGIN PRIVATE KEY-----\nnonsense\n"};
	assert_int_equal(dkim_sign(L(msg), "example.test", &k, 1, 1, &out, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "cannot read the private key"));
	assert_int_equal(out.len, 0);
	enum dkim_alg alg;
	assert_int_equal(dkim_alg_parse("rsa", &alg), 0);
	assert_int_equal(alg, DKIM_ALG_RSA);
	assert_int_equal(dkim_alg_parse("ed25519", &alg), 0);
	assert_int_equal(alg, DKIM_ALG_ED25519);
	assert_int_equal(dkim_alg_parse("dsa", &alg), -1);
	buf_free(&err);
	buf_free(&out);
}

static void test_the_dns_record_is_cut_into_255_byte_strings(void **state)
{
	char p[600];
	memset(p, 'Q', sizeof p - 1);
	p[sizeof p - 1] = '\0';
	struct buf rec = BUF_INIT;
	dkim_dns_record("sel", "example.test", DKIM_ALG_RSA, p, &rec);
	const char *head = "sel._domainkey.example.test. IN TXT \"v=DKIM1; k=rsa; p=QQ";
	assert_true(strncmp(rec.data, head, strlen(head)) == 0);
	/* strings of 255, 255 and the rest, joined they are the text */
	struct buf joined = BUF_INIT;
	size_t nstrings = 0;
	for (const char *q = strchr(rec.data, '"'); q; q = strchr(q, '"')) {
		const char *end = strchr(q + 1, '"');
		assert_non_null(end);
		assert_true(end - q - 1 <= DKIM_TXT_CHUNK);
		if (end[1])
			assert_int_equal(end - q - 1, DKIM_TXT_CHUNK);
		buf_append(&joined, q + 1, (size_t)(end - q - 1));
		nstrings++;
		q = end + 1;
	}
	assert_int_equal(nstrings, 3);
	assert_int_equal(joined.len, strlen("v=DKIM1; k=rsa; p=") + sizeof p - 1);
	assert_null(strchr(rec.data, '\n'));
	buf_free(&joined);
	buf_free(&rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc8463_example_is_reproduced),
	        cmocka_unit_test(test_dkimpy_rsa_signature_is_reproduced),
	        cmocka_unit_test(test_a_message_is_signed_with_each_key),
	        cmocka_unit_test(test_a_message_without_from_is_not_signed),
	        cmocka_unit_test(test_keys_of_the_wrong_kind_are_refused),
	        cmocka_unit_test(test_the_dns_record_is_cut_into_255_byte_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
