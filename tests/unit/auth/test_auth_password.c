/*
 * Unit tests for src/auth/auth_password.c: the rules for new passwords, yescrypt
 * hashing, and verification of hashes made elsewhere ($6$ $5$ $2b$, generated with
 * `openssl passwd` and libxcrypt and pasted here) and of locked ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"

/* All three hash "correct horse". */
static const char sha512_hash[] =
        "$6$petrelSalt6$ALBsaweYxvTm18JToWnd5fsPPlZOXJjMPO8gqTxW0oRQr3ePmjXar"
        "g66dWGJetxva5V53ZjsmdIfIlwuyltKc0";
static const char sha256_hash[] = "$5$petrelSalt5$q2uO25HaeIlvEYW2tEqZ7IxOFWKEZ53OebUoU/TwK/C";
static const char bcrypt_hash[] = "$2b$05$abcdefghijklmnopqrstuuHNbAKRhpaujgo33bRWs.NLUTJO3lOy2";

static int check(const char *p, size_t len)
{
	struct buf err = BUF_INIT;
	int rc = auth_password_check(p, len, &err);
	if (rc < 0)
		assert_true(err.len > 0);
	buf_free(&err);
	return rc;
}

static void test_ordinary_password_passes_the_check(void **state)
{
	assert_int_equal(check("correct horse", 13), 0);
}

static void test_empty_password_is_rejected(void **state)
{
	assert_int_equal(check("", 0), -1);
	assert_int_equal(check(NULL, 0), -1);
}

static void test_password_with_cr_lf_or_nul_is_rejected(void **state)
{
	assert_int_equal(check("ab\rcd", 5), -1);
	assert_int_equal(check("ab\ncd", 5), -1);
	assert_int_equal(check("ab\0cd", 5), -1);
	assert_int_equal(check("abcd\r", 5), -1);
}

static void test_password_of_max_length_passes_and_one_more_byte_fails(void **state)
{
	char *p = malloc(AUTH_MAX_PASSWORD + 2);
	memset(p, 'x', AUTH_MAX_PASSWORD + 1);
	p[AUTH_MAX_PASSWORD + 1] = '\0';
	assert_int_equal(check(p, AUTH_MAX_PASSWORD), 0);
	assert_int_equal(check(p, AUTH_MAX_PASSWORD + 1), -1);
	free(p);
}

static void test_yescrypt_hash_round_trips(void **state)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(auth_password_hash("correct horse", &out, &err), 0);
	assert_true(strncmp(buf_cstr(&out), "$y$", 3) == 0);
	assert_true(auth_password_verify("correct horse", buf_cstr(&out)));
	assert_false(auth_password_verify("correct horsE", buf_cstr(&out)));
	assert_false(auth_password_verify("", buf_cstr(&out)));
	buf_free(&out);
	buf_free(&err);
}

static void test_two_hashes_of_one_password_differ(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT, err = BUF_INIT;
	assert_int_equal(auth_password_hash("same", &a, &err), 0);
	assert_int_equal(auth_password_hash("same", &b, &err), 0);
	assert_string_not_equal(buf_cstr(&a), buf_cstr(&b));
	buf_free(&a);
	buf_free(&b);
	buf_free(&err);
}

static void test_hashing_an_invalid_password_fails_with_a_reason(void **state)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(auth_password_hash("", &out, &err), -1);
	assert_true(err.len > 0);
	assert_int_equal(out.len, 0);
	buf_reset(&err);
	assert_int_equal(auth_password_hash("a\nb", &out, &err), -1);
	assert_true(err.len > 0);
	buf_free(&out);
	buf_free(&err);
}

static void test_sha512crypt_hash_from_openssl_verifies(void **state)
{
	assert_true(auth_password_verify("correct horse", sha512_hash));
	assert_false(auth_password_verify("correct horse ", sha512_hash));
}

static void test_sha256crypt_hash_from_openssl_verifies(void **state)
{
	assert_true(auth_password_verify("correct horse", sha256_hash));
	assert_false(auth_password_verify("Correct horse", sha256_hash));
}

static void test_bcrypt_hash_verifies(void **state)
{
	assert_true(auth_password_verify("correct horse", bcrypt_hash));
	assert_false(auth_password_verify("wrong", bcrypt_hash));
}

static void test_locked_and_empty_hashes_never_match(void **state)
{
	assert_false(auth_password_verify("correct horse", ""));
	assert_false(auth_password_verify("correct horse", "*"));
	assert_false(auth_password_verify("", "*"));
	assert_false(auth_password_verify("correct horse", "!"));
	/* A locked shadow entry keeps the old hash after the '!'. */
	char locked[sizeof sha512_hash + 1] = "!";
	strcat(locked, sha512_hash);
	assert_false(auth_password_verify("correct horse", locked));
}

static void test_unknown_scheme_and_garbage_never_match(void **state)
{
	assert_false(auth_password_verify("correct horse", "$99$salt$hash"));
	assert_false(auth_password_verify("correct horse", "plaintext"));
	assert_false(auth_password_verify("correct horse", "$6$"));
	assert_false(auth_password_verify(NULL, sha512_hash));
	assert_false(auth_password_verify("correct horse", NULL));
}

static void test_over_long_password_never_matches(void **state)
{
	char *p = malloc(AUTH_MAX_PASSWORD + 2);
	memset(p, 'x', AUTH_MAX_PASSWORD + 1);
	p[AUTH_MAX_PASSWORD + 1] = '\0';
	assert_false(auth_password_verify(p, sha256_hash));
	free(p);
}

static void test_wiped_buffer_is_left_empty(void **state)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "secret");
	auth_buf_wipe(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	auth_buf_wipe(&b); /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ordinary_password_passes_the_check),
	        cmocka_unit_test(test_empty_password_is_rejected),
	        cmocka_unit_test(test_password_with_cr_lf_or_nul_is_rejected),
	        cmocka_unit_test(test_password_of_max_length_passes_and_one_more_byte_fails),
	        cmocka_unit_test(test_yescrypt_hash_round_trips),
	        cmocka_unit_test(test_two_hashes_of_one_password_differ),
	        cmocka_unit_test(test_hashing_an_invalid_password_fails_with_a_reason),
	        cmocka_unit_test(test_sha512crypt_hash_from_openssl_verifies),
	        cmocka_unit_test(test_sha256crypt_hash_from_openssl_verifies),
	        cmocka_unit_test(test_bcrypt_hash_verifies),
	        cmocka_unit_test(test_locked_and_empty_hashes_never_match),
	        cmocka_unit_test(test_unknown_scheme_and_garbage_never_match),
	        cmocka_unit_test(test_over_long_password_never_matches),
	        cmocka_unit_test(test_wiped_buffer_is_left_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
