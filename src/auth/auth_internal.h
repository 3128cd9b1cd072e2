/*
 * auth_internal — what the files of src/auth share with each other and with their
 * unit tests, but not with the rest of petrel.
 */
#ifndef PETREL_AUTH_INTERNAL_H
#define PETREL_AUTH_INTERNAL_H

#include "auth/auth.h"

/*
 * Bounds on the iteration count accepted from a stored RFC 5803 credential. The
 * lower bound is RFC 7677's minimum; the upper one keeps a corrupt or hostile
 * record from pinning the CPU (PBKDF2 runs once per login attempt).
 */
#define AUTH_SCRAM_MIN_ITERATIONS 4096
#define AUTH_SCRAM_MAX_ITERATIONS 10000000

/* Length of the random part the server adds to the client's SCRAM nonce, before base64. */
#define AUTH_SCRAM_SERVER_NONCE_LEN 24

/*
 * Derives SCRAM-SHA-256 credentials from password (len bytes, used as they are:
 * no SASLprep, see auth_scram.c) with the given salt (1..64 bytes) and iteration
 * count. Returns -1 only when OpenSSL fails or the arguments are out of range.
 */
int auth_scram_derive(const char *password, size_t len, const uint8_t *salt, size_t salt_len,
                      uint32_t iterations, struct auth_scram_cred *cred_r);

/* Overwrites every byte the buffer owns (OPENSSL_cleanse), then frees it. */
void auth_buf_wipe(struct buf *b);

/*
 * Tests only: makes the next SCRAM server nonce the client nonce followed by
 * server_nonce_suffix instead of fresh random bytes, so that published test
 * vectors (RFC 7677 section 3) can be replayed. Call before sasl_set_scram_cred.
 */
void sasl_scram_set_nonce_for_test(struct sasl *s, const char *server_nonce_suffix);

/* SipHash-2-4 of data under the 128-bit key (k0, k1); the throttle's table hash. */
uint64_t auth_siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len);

/* Number of keys the throttle holds now (for tests of its bound). */
size_t auth_throttle_count(const struct auth_throttle *t);

#endif
