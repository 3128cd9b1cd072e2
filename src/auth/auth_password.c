/*
 * auth_password — password rules, hashing and verification through libcrypt.
 *
 * New hashes are yescrypt ("$y$" with libxcrypt's default cost). Verification
 * hands the stored hash to crypt_rn() as the setting, so every scheme libxcrypt
 * was built with works ($y$ $2b$ $6$ $5$ ...): hashes imported from /etc/shadow or
 * a Dovecot passwd file keep working. A hash that is empty or starts with '*' or
 * '!' (the shadow conventions for "no password" and "locked") never matches.
 *
 * crypt_rn() works in a struct crypt_data of some 32 KiB, which lives on the heap
 * (not the event loop's stack) and is wiped before it is freed, since it holds
 * intermediate state derived from the password.
 */
#include "auth/auth_internal.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void auth_buf_wipe(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	buf_free(b);
}

int auth_password_check(const char *password, size_t len, struct buf *err)
{
	if (password == NULL || len == 0) {
		buf_puts(err, "the password is empty");
		return -1;
	}
	if (len > AUTH_MAX_PASSWORD) {
		buf_printf(err, "the password is longer than %d bytes", AUTH_MAX_PASSWORD);
		return -1;
	}
	if (memchr(password, '\0', len) != NULL) {
		buf_puts(err, "the password contains a NUL byte");
		return -1;
	}
	if (memchr(password, '\r', len) != NULL || memchr(password, '\n', len) != NULL) {
		buf_puts(err, "the password contains a line break");
		return -1;
	}
	return 0;
}

/* Length of a C-string password, looking no further than one byte past the limit. */
static size_t password_len(const char *password)
{
	return strnlen(password, AUTH_MAX_PASSWORD + 1);
}

int auth_password_hash(const char *password, struct buf *out, struct buf *err)
{
	if (password == NULL || auth_password_check(password, password_len(password), err) < 0)
		return -1;

	/* A NULL rbytes makes libxcrypt take the salt from the kernel's CSPRNG. */
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof setting) == NULL) {
		buf_puts(err, "crypt_gensalt: yescrypt is not available");
		return -1;
	}

	struct crypt_data *cd = xcalloc(1, sizeof *cd);
	const char *hash = crypt_rn(password, setting, cd, sizeof *cd);
	int rc = 0;
	/* libxcrypt signals failure with NULL or a string starting with '*'. */
	if (hash == NULL || hash[0] == '*') {
		buf_puts(err, "crypt: hashing failed");
		rc = -1;
	} else {
		buf_puts(out, hash);
	}
	OPENSSL_cleanse(cd, sizeof *cd);
	free(cd);
	return rc;
}

bool auth_password_verify(const char *password, const char *hash)
{
	if (password == NULL || hash == NULL)
		return false;
	if (hash[0] == '\0' || hash[0] == '*' || hash[0] == '!')
		return false;
	/*
	 * Some schemes (sha256crypt/sha512crypt) cost time in proportion to the
	 * password's length; a password we would never have accepted cannot match,
	 * so it gets no CPU.
	 */
	size_t plen = password_len(password);
	if (plen == 0 || plen > AUTH_MAX_PASSWORD)
		return false;

	struct crypt_data *cd = xcalloc(1, sizeof *cd);
	const char *res = crypt_rn(password, hash, cd, sizeof *cd);
	bool ok = false;
	if (res != NULL && res[0] != '*') {
		size_t hlen = strlen(hash);
		/* Only the hash's length may leak through timing, never where it differs. */
		ok = strlen(res) == hlen && CRYPTO_memcmp(res, hash, hlen) == 0;
	}
	OPENSSL_cleanse(cd, sizeof *cd);
	free(cd);
	return ok;
}
