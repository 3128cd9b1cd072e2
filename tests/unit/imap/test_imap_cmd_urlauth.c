/*
 * Unit tests for the token of src/imap/imap_cmd_urlauth.c: the INTERNAL
 * mechanism's token is HMAC-SHA256 of the rump under the mailbox's key, in
 * lower-case hex (RFC 4231's test vectors), and any change to the key or to
 * one byte of the rump gives another token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

static void test_the_token_is_hmac_sha256_in_lower_case_hex(void **state)
{
	/* RFC 4231 test case 2 */
	struct buf out = BUF_INIT;
	const char *data = "what do ya want for nothing?";
	imap_urlauth_token((const unsigned char *)"Jefe", 4, data, strlen(data), &out);
	assert_string_equal(buf_cstr(&out),
	                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* RFC 4231 test case 1: a 20-byte key of 0x0b over "Hi There" */
	unsigned char key[20];
	memset(key, 0x0b, sizeof key);
	buf_reset(&out);
	imap_urlauth_token(key, sizeof key, "Hi There", 8, &out);
	assert_string_equal(buf_cstr(&out),
	                    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	assert_int_equal(out.len, IMAP_URLAUTH_TOKEN_HEX);
	buf_free(&out);
}

static void test_another_key_or_rump_gives_another_token(void **state)
{
	const char *rump = "imap://fred@example.com/INBOX/;UID=20;URLAUTH=anonymous";
	unsigned char key[32] = {1, 2, 3};
	struct buf a = BUF_INIT, b = BUF_INIT;
	imap_urlauth_token(key, sizeof key, rump, strlen(rump), &a);
	imap_urlauth_token(key, sizeof key, rump, strlen(rump), &b);
	assert_string_equal(buf_cstr(&a), buf_cstr(&b)); /* deterministic */
	for (size_t i = 0; i < strlen(rump); i++) {
		char *copy = xstrdup(rump);
		copy[i] ^= 0x20;
		buf_reset(&b);
		imap_urlauth_token(key, sizeof key, copy, strlen(copy), &b);
		assert_string_not_equal(buf_cstr(&a), buf_cstr(&b));
		free(copy);
	}
	key[31] ^= 1;
	buf_reset(&b);
	imap_urlauth_token(key, sizeof key, rump, strlen(rump), &b);
	assert_string_not_equal(buf_cstr(&a), buf_cstr(&b));
	buf_free(&a);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_the_token_is_hmac_sha256_in_lower_case_hex),
	        cmocka_unit_test(test_another_key_or_rump_gives_another_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
