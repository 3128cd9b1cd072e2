// fuzz-sources: src/auth/auth_sasl.c src/auth/auth_scram.c src/auth/auth_password.c
// fuzz-sources: src/core/mem.c src/core/buf.c src/core/str.c src/core/codec.c src/core/time.c
// fuzz-libs: -lcrypto -lcrypt
/*
 * fuzz_sasl_scram — the SCRAM-SHA-256 mechanism over arbitrary client messages.
 *
 * The input is a sequence of decoded client messages separated by 0xff bytes. An
 * empty first message means "no initial response"; every message is fed as the
 * client's next one, whatever the state. Two users exist: "user" with the
 * RFC 7677 credentials (password "pencil"), and "fresh" with credentials made by
 * auth_scram_make() at start-up; anyone else is unknown. The server nonce suffix
 * is pinned to the RFC's so that the seed corpus (the RFC exchange) reaches the
 * proof check and the final server message.
 *
 * The same bytes are also parsed as a stored RFC 5803 credential.
 *
 * Checked: no crash, leak or sanitizer report; statuses fit the protocol; a
 * success is only possible for a known user and carries "v="; a finished or
 * failed machine refuses everything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"

#define MAX_MESSAGES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rfc_suffix[] = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
static const char pencil_text[] =
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
        ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

static struct auth_scram_cred user_cred, fresh_cred;

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_sasl_scram: %s\n", what);
		abort();
	}
}

static void init_once(void)
{
	static bool done;
	if (done)
		return;
	struct buf text = BUF_INIT, err = BUF_INIT;
	check(auth_scram_make("fresh password", &text, &err) == 0, "auth_scram_make failed");
	check(auth_scram_parse(buf_cstr(&text), &fresh_cred) == 0, "made credentials do not parse");
	check(auth_scram_parse(pencil_text, &user_cred) == 0, "RFC credentials do not parse");
	buf_free(&text);
	buf_free(&err);
	done = true;
}

static void fuzz_stored_form(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	struct auth_scram_cred cred;
	if (auth_scram_parse(text, &cred) == 0)
		check(cred.salt_len >= 1 && cred.salt_len <= sizeof cred.salt &&
		              cred.iterations >= AUTH_SCRAM_MIN_ITERATIONS,
		      "parse accepted out-of-range values");
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	fuzz_stored_form(data, size);

	struct sasl *s = sasl_new(SASL_SCRAM_SHA_256);
	sasl_scram_set_nonce_for_test(s, rfc_suffix);
	struct buf out = BUF_INIT;
	bool done = false, known = false;
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
			check(out.len == 0, "unexpected challenge");
			break;
		case SASL_NEED_SCRAM_CRED: {
			const char *cid = sasl_authcid(s);
			check(cid[0] != '\0' && strlen(cid) <= AUTH_MAX_AUTHCID,
			      "credentials asked for a bad identity");
			const struct auth_scram_cred *cred = NULL;
			if (strcmp(cid, "user") == 0)
				cred = &user_cred;
			else if (strcmp(cid, "fresh") == 0)
				cred = &fresh_cred;
			known = cred != NULL;
			buf_reset(&out);
			st = sasl_set_scram_cred(s, cred, &out);
			check(st == SASL_CONTINUE && strncmp(buf_cstr(&out), "r=", 2) == 0,
			      "no server-first message");
			break;
		}
		case SASL_OK:
			check(known, "an unknown user authenticated");
			check(strncmp(buf_cstr(&out), "v=", 2) == 0, "success without v=");
			done = true;
			break;
		case SASL_FAIL:
			check(sasl_error(s)[0] != '\0', "failure without a reason");
			done = true;
			break;
		case SASL_NEED_PASSWORD:
		default:
			check(false, "impossible status for SCRAM-SHA-256");
		}
	}
	sasl_free(&s);
	buf_free(&out);
	return 0;
}
