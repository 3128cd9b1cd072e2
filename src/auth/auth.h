/*
 * auth — passwords, SASL server mechanisms and login throttling.
 *
 * Passwords: new hashes are yescrypt ("$y$", libcrypt); verification accepts
 * every scheme libcrypt knows, in particular $y$ $2b$ $6$ $5$, so hashes from
 * /etc/shadow and Dovecot passwd files import as they are.
 *
 * SCRAM-SHA-256 (RFC 5802, RFC 7677): the credentials are derived once, when the
 * password is set, and stored in the RFC 5803 form
 *     SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 * The server never keeps the password itself.
 *
 * SASL: each mechanism is a pure state machine — decoded client bytes in, server
 * bytes out (the protocol does its own base64 and "*" cancellation). The machine
 * never touches the store: when it needs a password checked or SCRAM credentials
 * looked up, it stops and says so (SASL_NEED_*), the caller does the look-up
 * (possibly asynchronously) and resumes it. authcid/password buffers are wiped
 * when the machine is freed. Nothing here logs a password.
 *
 * Throttling: failed logins are counted per peer IP and per account; once a key
 * has more than `free` recent failures every further attempt waits an
 * exponentially growing delay, capped at `max_delay`. Counters decay after
 * AUTH_THROTTLE_FORGET_MS without failures and a success clears them, so the
 * real user is slowed, never locked out.
 */
#ifndef PETREL_AUTH_H
#define PETREL_AUTH_H

#include "core/core.h"

#define AUTH_MAX_PASSWORD 1024      /* bytes */
#define AUTH_MAX_AUTHCID 512        /* bytes of an authentication identity */
#define AUTH_MAX_SASL_INPUT 4096    /* bytes of one decoded client response */
#define AUTH_SCRAM_ITERATIONS 10000 /* for newly derived credentials (RFC 7677 minimum 4096) */
#define AUTH_SCRAM_SALT_LEN 16
#define AUTH_THROTTLE_FORGET_MS (15 * 60 * 1000)
#define AUTH_THROTTLE_MAX_KEYS 65536

/* ---- passwords ----------------------------------------------------------- */

/* Checks a new password: 1..AUTH_MAX_PASSWORD bytes, no NUL, CR or LF. -1 + reason. */
int auth_password_check(const char *password, size_t len, struct buf *err);
/* A fresh yescrypt hash of password into out. -1 + reason on failure. */
int auth_password_hash(const char *password, struct buf *out, struct buf *err);
/* True when password matches hash; false for a wrong password or an unknown scheme. */
bool auth_password_verify(const char *password, const char *hash);

/* ---- SCRAM credentials ---------------------------------------------------- */

struct auth_scram_cred {
	uint32_t iterations;
	uint8_t salt[64];
	size_t salt_len;
	uint8_t stored_key[32];
	uint8_t server_key[32];
};

/* Derives credentials for password with a fresh salt, in RFC 5803 text form. */
int auth_scram_make(const char *password, struct buf *out, struct buf *err);
/* Parses the RFC 5803 text form; -1 when malformed. */
int auth_scram_parse(const char *text, struct auth_scram_cred *cred_r);

/* ---- SASL ------------------------------------------------------------------ */

enum sasl_mech { SASL_PLAIN, SASL_LOGIN, SASL_SCRAM_SHA_256 };

/* Case-insensitive; -1 for a mechanism we do not implement. */
int sasl_mech_parse(const char *name, size_t len, enum sasl_mech *mech_r);
const char *sasl_mech_name(enum sasl_mech mech);

enum sasl_status {
	SASL_CONTINUE,          /* send `out` as a challenge, call sasl_step with the reply */
	SASL_NEED_PASSWORD,     /* PLAIN/LOGIN: check sasl_authcid()/sasl_password(),
				   then call sasl_password_result() */
	SASL_NEED_SCRAM_CRED,   /* SCRAM: look up sasl_authcid(), then call
				   sasl_set_scram_cred() (NULL when unknown) */
	SASL_OK,                /* authenticated as sasl_authcid(); `out` may hold
				   final server data to send with the success reply */
	SASL_FAIL,              /* sasl_error() says why, for the log */
};

struct sasl;

struct sasl *sasl_new(enum sasl_mech mech);
void sasl_free(struct sasl **s);

/*
 * Feeds one decoded client message. has_input is false when the client sent no
 * initial response (the mechanism then starts with its first challenge, which
 * for PLAIN and SCRAM is empty). Server bytes to send are appended to out.
 */
enum sasl_status sasl_step(struct sasl *s, const uint8_t *in, size_t len, bool has_input,
			   struct buf *out);
/* Resumes after SASL_NEED_PASSWORD. Returns SASL_OK or SASL_FAIL. */
enum sasl_status sasl_password_result(struct sasl *s, bool ok, struct buf *out);
/* Resumes after SASL_NEED_SCRAM_CRED; cred NULL for an unknown user (the exchange
   continues with made-up credentials so the client cannot tell). Returns
   SASL_CONTINUE with the server-first message in out, or SASL_FAIL. */
enum sasl_status sasl_set_scram_cred(struct sasl *s, const struct auth_scram_cred *cred,
				     struct buf *out);

const char *sasl_authcid(const struct sasl *s); /* "" until known */
const char *sasl_password(const struct sasl *s); /* PLAIN/LOGIN only, "" otherwise */
const char *sasl_error(const struct sasl *s);    /* never contains a password */

/* ---- throttling --------------------------------------------------------------- */

struct auth_throttle;

struct auth_throttle *auth_throttle_new(unsigned free_failures, unsigned max_delay_s);
void auth_throttle_free(struct auth_throttle **t);
/* Milliseconds the caller must wait before it answers a login attempt from ip for
   account (account may be NULL when not yet known). 0 when not throttled. */
int64_t auth_throttle_delay(struct auth_throttle *t, const char *ip, const char *account,
			    int64_t now_ms);
void auth_throttle_failure(struct auth_throttle *t, const char *ip, const char *account,
			   int64_t now_ms);
void auth_throttle_success(struct auth_throttle *t, const char *ip, const char *account,
			   int64_t now_ms);
/* Failures recorded since the table was made (every protocol's logins). */
uint64_t auth_throttle_failures_total(const struct auth_throttle *t);

/* ---- logging in against the store (auth_login.c) ------------------------------------ */

#define AUTH_MIN_FAILURE_DELAY_MS 250 /* every failed login waits at least this */

struct store;
struct store_account;

/* STORE_FOUND (acct_r filled) only when the password is right; STORE_NOT_FOUND
   for a wrong password or an unknown user alike; STORE_ERROR when the store
   failed. */
int auth_login_password(struct store *store, const char *user, const char *password,
			struct store_account *acct_r);
/*
 * Runs a SASL machine past the steps that need the store. Returns
 * SASL_CONTINUE (send out to the client), SASL_OK (*account_id is the account;
 * out may hold final server data, e.g. SCRAM's server-final) or SASL_FAIL
 * (*temp_r set when the store failed, so the reply is a temporary error).
 * *account_id carries the account looked up across calls of one exchange.
 */
enum sasl_status auth_sasl_run(struct sasl *sasl, enum sasl_status st, struct store *store,
			       struct buf *out, int64_t *account_id, bool *temp_r);
/*
 * The same off the loop: password hashes are checked on a worker thread
 * (core/work.h), so one login's ~15 ms of yescrypt never stalls the other
 * sessions. done runs on the loop; the caller keeps its session (and for SASL
 * the machine and out) alive until then.
 */
struct work_pool;
void auth_verify_async(struct work_pool *pool, const char *password, const char *hash,
		       void (*done)(bool ok, void *arg), void *arg);
typedef void auth_sasl_done(enum sasl_status st, bool temp, void *arg);
/* auth_sasl_run with the password check on the pool; done may run before this
   returns (no password to check) or later. */
void auth_sasl_run_async(struct work_pool *pool, struct sasl *sasl, enum sasl_status st,
			 struct store *store, struct buf *out, int64_t *account_id,
			 auth_sasl_done *done, void *arg);
/* Throttling by peer and identity (normalised like store addresses). */
int64_t auth_login_delay(struct auth_throttle *t, const char *ip, const char *user);
/* Records a failure; returns how long the failure reply must wait. */
int64_t auth_login_failed(struct auth_throttle *t, const char *ip, const char *user);
void auth_login_succeeded(struct auth_throttle *t, const char *ip, const char *user);

#endif
