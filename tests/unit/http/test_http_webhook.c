/*
 * Unit tests for the pure parts of src/http/http_webhook.c: the signature
 * receivers verify (checked against an independent HMAC-SHA256) and the URL
 * check of `petrel webhook add`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "store/store.h"

static void test_the_signature_is_hmac_sha256_of_time_dot_body(void **state)
{
	static const char body[] = "{\"id\":\"1\"}";
	struct buf sig = BUF_INIT;
	http_webhook_signature("whsec_test", 1700000000, body, sizeof body - 1, &sig);
	/* python3: hmac.new(b"whsec_test", b'1700000000.{"id":"1"}', sha256).hexdigest() */
	assert_string_equal(buf_cstr(&sig), "t=1700000000,v1=11bf4466ea17c3df3fd743af0b435368e16"
	                                    "b7a05eb8eced85e8c4670767bdec5");
	buf_free(&sig);
}

static void test_the_signature_changes_with_body_time_and_secret(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT, c = BUF_INIT, d = BUF_INIT;
	http_webhook_signature("s", 10, "x", 1, &a);
	http_webhook_signature("s", 10, "y", 1, &b);
	http_webhook_signature("s", 11, "x", 1, &c);
	http_webhook_signature("t", 10, "x", 1, &d);
	const char *va = strstr(buf_cstr(&a), "v1="), *vb = strstr(buf_cstr(&b), "v1="),
	           *vc = strstr(buf_cstr(&c), "v1="), *vd = strstr(buf_cstr(&d), "v1=");
	assert_int_equal(strlen(va), 3 + 64);
	assert_string_not_equal(va, vb);
	assert_string_not_equal(va, vc);
	assert_string_not_equal(va, vd);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	buf_free(&d);
}

static void test_webhook_urls_are_http_or_https_with_a_host(void **state)
{
	static const char *const good[] = {
	        "http://127.0.0.1:8080/hook", "https://hooks.example.com/petrel?token=abc",
	        "http://[::1]:9000/",         "HTTPS://example.com",
	        "http://localhost/x/y",
	};
	static const char *const bad[] = {
	        "",
	        "example.com/hook",
	        "ftp://example.com/",
	        "http://",
	        "http:///path",
	        "http://user:pw@example.com/",
	        "http://example.com:0/",
	        "http://example.com:70000/",
	        "http://exa mple.com/",
	        "http://example.com/\r\nX: y",
	};
	struct buf err = BUF_INIT;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		buf_reset(&err);
		if (http_webhook_url_check(good[i], &err) != 0)
			fail_msg("%s refused: %s", good[i], buf_cstr(&err));
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		if (http_webhook_url_check(bad[i], &err) == 0)
			fail_msg("%s accepted", bad[i]);
		assert_true(err.len > 0);
	}
	char *longer = xmalloc(STORE_WEBHOOK_MAX_URL + 2);
	memset(longer, 'a', STORE_WEBHOOK_MAX_URL + 1);
	memcpy(longer, "http://", 7);
	longer[STORE_WEBHOOK_MAX_URL + 1] = '\0';
	buf_reset(&err);
	assert_int_equal(http_webhook_url_check(longer, &err), -1);
	longer[STORE_WEBHOOK_MAX_URL] = '\0';
	buf_reset(&err);
	assert_int_equal(http_webhook_url_check(longer, &err), 0);
	free(longer);
	buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_the_signature_is_hmac_sha256_of_time_dot_body),
	        cmocka_unit_test(test_the_signature_changes_with_body_time_and_secret),
	        cmocka_unit_test(test_webhook_urls_are_http_or_https_with_a_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
