// fuzz-sources: src/auth/auth_sasl.c src/auth/auth_scram.c src/auth/auth_password.c
// fuzz-sources: src/core/mem.c src/core/buf.c src/core/str.c src/core/codec.c src/core/time.c
// fuzz-libs: -lcrypto -lcrypt
/*
 * fuzz_sasl_plain — the PLAIN mechanism over arbitrary client messages.
 *
 * The input is a sequence of decoded client messages separated by 0xff bytes. An
 * empty first message means "no initial response"; every message after the first
 * is fed as the client's next reply, whatever state the machine is in. When the
 * machine asks for a password check, the password "pencil" for "user" is right.
 *
 * Checked: no crash, leak or sanitizer report; statuses stay in the enum; a
 * password check is asked for only with a valid identity and password; once
 * failed or finished, the machine stays failed for every further message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

#define MAX_MESSAGES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_sasl_plain: %s\n", what);
		abort();
	}
}

static bool identity_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= AUTH_MAX_AUTHCID;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl *s = sasl_new(SASL_PLAIN);
	struct buf out = BUF_INIT;
	bool done = false;
	const uint8_t *p = data, *end = data + size;

	for (int i = 0; i < MAX_MESSAGES && p != NULL; i++) {
		const uint8_t *sep = memchr(p, 0xff, (size_t)(end - p));
		size_t len = (size_t)((sep ? sep : end) - p);
		bool has_input = !(i == 0 && len == 0);
		buf_reset(&out);
		enum sasl_status st = sasl_step(s, p, len, has_input, &out);
		p = sep ? sep + 1 : NULL;

		if (done) {
			check(st == SASL_FAIL, "a finished exchange accepted another message");
			continue;
		}
		switch (st) {
		case SASL_CONTINUE:
			check(i == 0 && !has_input && out.len == 0, "unexpected challenge");
			break;
		case SASL_NEED_PASSWORD: {
			const char *pw = sasl_password(s);
			check(identity_ok(sasl_authcid(s)), "password check for a bad identity");
			check(pw[0] != '\0' && strlen(pw) <= AUTH_MAX_PASSWORD,
			      "password check for a bad password");
			bool ok = strcmp(sasl_authcid(s), "user") == 0 && strcmp(pw, "pencil") == 0;
			st = sasl_password_result(s, ok, &out);
			check(st == (ok ? SASL_OK : SASL_FAIL), "password result ignored");
			check(sasl_password(s)[0] == '\0', "password kept after the check");
			done = true;
			break;
		}
		case SASL_FAIL:
			check(sasl_error(s)[0] != '\0', "failure without a reason");
			done = true;
			break;
		case SASL_OK:
		case SASL_NEED_SCRAM_CRED:
		default:
			check(false, "impossible status for PLAIN");
		}
	}
	sasl_free(&s);
	buf_free(&out);
	return 0;
}
