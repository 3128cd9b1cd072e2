/*
 * Unit tests for src/auth/auth_scram.c: SCRAM-SHA-256 key derivation against the
 * RFC 7677 example, and the RFC 5803 text form in both directions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"

/* RFC 7677 section 3: user "user", password "pencil", i=4096. The keys were
   computed independently (Python hashlib) from those inputs. */
static const char pencil_text[] =
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

static void decode(const char *b64, uint8_t *dst, size_t len)
{
	struct buf b = BUF_INIT;
	assert_int_equal(base64_decode(&b, b64, strlen(b64)), 0);
	assert_int_equal(b.len, len);
	memcpy(dst, b.data, len);
	buf_free(&b);
}

static void test_derivation_matches_the_rfc7677_example(void **state)
{
	uint8_t salt[16], stored[32], server[32];
	decode("W22ZaJ0SNY7soEsUEjb6gQ==", salt, sizeof salt);
	decode("WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=", stored, sizeof stored);
	decode("wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", server, sizeof server);
	struct auth_scram_cred cred;
	assert_int_equal(auth_scram_derive("pencil", 6, salt, sizeof salt, 4096, &cred), 0);
	assert_int_equal(cred.iterations, 4096);
	assert_int_equal(cred.salt_len, 16);
	assert_memory_equal(cred.salt, salt, 16);
	assert_memory_equal(cred.stored_key, stored, 32);
	assert_memory_equal(cred.server_key, server, 32);
}

static void test_parse_reads_the_rfc5803_form(void **state)
{
	struct auth_scram_cred cred, want;
	uint8_t salt[16];
	decode("W22ZaJ0SNY7soEsUEjb6gQ==", salt, sizeof salt);
	assert_int_equal(auth_scram_derive("pencil", 6, salt, sizeof salt, 4096, &want), 0);
	assert_int_equal(auth_scram_parse(pencil_text, &cred), 0);
	assert_int_equal(cred.iterations, 4096);
	assert_int_equal(cred.salt_len, 16);
	assert_memory_equal(cred.salt, want.salt, 16);
	assert_memory_equal(cred.stored_key, want.stored_key, 32);
	assert_memory_equal(cred.server_key, want.server_key, 32);
}

static void test_made_credentials_parse_back_and_match_the_password(void **state)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(auth_scram_make("correct horse", &out, &err), 0);
	assert_true(strncmp(buf_cstr(&out), "SCRAM-SHA-256$10000:", 20) == 0);
	struct auth_scram_cred cred, again;
	assert_int_equal(auth_scram_parse(buf_cstr(&out), &cred), 0);
	assert_int_equal(cred.iterations, AUTH_SCRAM_ITERATIONS);
	assert_int_equal(cred.salt_len, AUTH_SCRAM_SALT_LEN);
	assert_int_equal(auth_scram_derive("correct horse", 13, cred.salt, cred.salt_len,
	                                   cred.iterations, &again),
	                 0);
	assert_memory_equal(cred.stored_key, again.stored_key, 32);
	assert_memory_equal(cred.server_key, again.server_key, 32);
	buf_free(&out);
	buf_free(&err);
}

static void test_two_makes_of_one_password_use_different_salts(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT, err = BUF_INIT;
	assert_int_equal(auth_scram_make("same", &a, &err), 0);
	assert_int_equal(auth_scram_make("same", &b, &err), 0);
	assert_string_not_equal(buf_cstr(&a), buf_cstr(&b));
	buf_free(&a);
	buf_free(&b);
	buf_free(&err);
}

static void test_make_refuses_an_invalid_password(void **state)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(auth_scram_make("", &out, &err), -1);
	assert_true(err.len > 0);
	assert_int_equal(auth_scram_make("a\rb", &out, &err), -1);
	assert_int_equal(auth_scram_make(NULL, &out, &err), -1);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	buf_free(&err);
}

static void test_parse_rejects_malformed_text(void **state)
{
	static const char *const bad[] = {
	        "",
	        "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	        /* iterations: missing, zero, leading zero, below the minimum, huge, signed */
	        "SCRAM-SHA-256$:W22ZaJ0SNY7soEsUEjb6gQ==$"
	        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	        "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$"
	        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	        "SCRAM-SHA-256$04096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	        "SCRAM-SHA-256$4095:W22ZaJ0SNY7soEsUEjb6gQ==$"
	        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	        "SCRAM-SHA-256$99999999999999999999999:W22ZaJ0SNY7soEsUEjb6gQ==$"
	        "WG5d8oPm3OtcPnkdi4Uo7Bk"
	        "eZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	        "SCRAM-SHA-256$+4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	        /* salt: empty, not base64 */
	        "SCRAM-SHA-256$4096:$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ$"
	        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	        /* keys: short, missing, extra field, trailing junk, whitespace */
	        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$W22ZaJ0SNY7soEsUEjb6gQ=="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
	        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=:x",
	        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=\n",
	        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ== "
	        "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	        /* salt over 64 bytes */
	        "SCRAM-SHA-256$4096:"
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	        "AAAAAA"
	        "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct auth_scram_cred cred;
		if (auth_scram_parse(bad[i], &cred) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
	struct auth_scram_cred cred;
	assert_int_equal(auth_scram_parse(NULL, &cred), -1);
}

static void test_parse_of_every_truncation_fails_cleanly(void **state)
{
	size_t n = strlen(pencil_text);
	for (size_t i = 0; i < n; i++) {
		char *p = xstrndup(pencil_text, i);
		struct auth_scram_cred cred;
		assert_int_equal(auth_scram_parse(p, &cred), -1);
		free(p);
	}
}

static void test_salt_of_64_bytes_is_accepted(void **state)
{
	struct buf t = BUF_INIT;
	uint8_t salt[64];
	memset(salt, 7, sizeof salt);
	buf_puts(&t, "SCRAM-SHA-256$4096:");
	base64_encode(&t, salt, sizeof salt);
	buf_puts(&t, "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	             "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
	struct auth_scram_cred cred;
	assert_int_equal(auth_scram_parse(buf_cstr(&t), &cred), 0);
	assert_int_equal(cred.salt_len, 64);
	buf_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_derivation_matches_the_rfc7677_example),
	        cmocka_unit_test(test_parse_reads_the_rfc5803_form),
	        cmocka_unit_test(test_made_credentials_parse_back_and_match_the_password),
	        cmocka_unit_test(test_two_makes_of_one_password_use_different_salts),
	        cmocka_unit_test(test_make_refuses_an_invalid_password),
	        cmocka_unit_test(test_parse_rejects_malformed_text),
	        cmocka_unit_test(test_parse_of_every_truncation_fails_cleanly),
	        cmocka_unit_test(test_salt_of_64_bytes_is_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
