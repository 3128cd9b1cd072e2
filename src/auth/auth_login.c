/*
 * auth_login — logging in against the store: the one part of auth that reads
 * accounts. SMTP, IMAP and POP3 share it, so that a password check, a SASL
 * exchange and the login throttle behave the same whichever door is used.
 *
 * The SASL machines stay pure (auth_sasl.c); auth_sasl_run() answers their
 * SASL_NEED_* questions from the store. Identities are normalised the way the
 * store stores addresses, so "Alice@Example.org" and "alice@example.org" are
 * one account for the throttle too.
 */
#include "auth/auth.h"

#include "core/work.h"
#include "store/store.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* The identity as the store keys accounts, or as given when it is no address. */
static void identity_key(const char *user, struct buf *out)
{
	struct buf err = BUF_INIT;
	if (!user || !*user || store_address_normalize(user, false, out, &err) < 0) {
		buf_reset(out);
		if (user)
			buf_puts(out, user);
	}
	buf_free(&err);
}

int auth_login_password(struct store *store, const char *user, const char *password,
                        struct store_account *acct_r)
{
	struct buf err = BUF_INIT;
	enum store_lookup found = store_account_get(store, user, acct_r, &err);
	buf_free(&err);
	if (found != STORE_FOUND)
		return found;
	if (acct_r->password_hash[0] && strlen(password) <= AUTH_MAX_PASSWORD &&
	    auth_password_verify(password, acct_r->password_hash))
		return STORE_FOUND;
	store_account_clear(acct_r);
	return STORE_NOT_FOUND;
}

enum sasl_status auth_sasl_run(struct sasl *sasl, enum sasl_status st, struct store *store,
                               struct buf *out, int64_t *account_id, bool *temp_r)
{
	*temp_r = false;
	for (;;) {
		struct store_account a = {0};
		struct buf err = BUF_INIT;
		enum store_lookup found;
		switch (st) {
		case SASL_NEED_PASSWORD:
		case SASL_NEED_SCRAM_CRED:
			found = store_account_get(store, sasl_authcid(sasl), &a, &err);
			buf_free(&err);
			*account_id = found == STORE_FOUND ? a.id : 0;
			if (found == STORE_ERROR) {
				*temp_r = true;
				return SASL_FAIL;
			}
			buf_reset(out);
			if (st == SASL_NEED_PASSWORD) {
				bool ok =
				        found == STORE_FOUND && a.password_hash[0] &&
				        auth_password_verify(sasl_password(sasl), a.password_hash);
				st = sasl_password_result(sasl, ok, out);
			} else {
				struct auth_scram_cred cred;
				bool have = found == STORE_FOUND && a.scram[0] &&
				            auth_scram_parse(a.scram, &cred) == 0;
				st = sasl_set_scram_cred(sasl, have ? &cred : NULL, out);
			}
			store_account_clear(&a);
			break;
		case SASL_OK:
			/* The machines say yes only for credentials we supplied. */
			return *account_id ? SASL_OK : SASL_FAIL;
		case SASL_CONTINUE:
		case SASL_FAIL:
		default:
			return st;
		}
	}
}

/* ---- off the loop -------------------------------------------------------------------- */

struct pw_job {
	char *password, *hash;
	bool ok;
	void (*done)(bool ok, void *arg);
	void *arg;
};

static void pw_work(void *arg)
{
	struct pw_job *j = arg;
	j->ok = auth_password_verify(j->password, j->hash);
}

static void pw_done(void *arg)
{
	struct pw_job *j = arg;
	OPENSSL_cleanse(j->password, strlen(j->password));
	free(j->password);
	free(j->hash);
	j->done(j->ok, j->arg);
	free(j);
}

void auth_verify_async(struct work_pool *pool, const char *password, const char *hash,
                       void (*done)(bool ok, void *arg), void *arg)
{
	struct pw_job *j = xcalloc(1, sizeof *j);
	j->password = xstrdup(password);
	j->hash = xstrdup(hash);
	j->done = done;
	j->arg = arg;
	work_submit(pool, pw_work, pw_done, j);
}

struct sasl_job {
	struct work_pool *pool;
	struct sasl *sasl;
	struct store *store;
	struct buf *out;
	int64_t *account_id;
	auth_sasl_done *done;
	void *arg;
};

static void sasl_checked(bool ok, void *arg)
{
	struct sasl_job *j = arg;
	buf_reset(j->out);
	enum sasl_status st = sasl_password_result(j->sasl, ok, j->out);
	auth_sasl_run_async(j->pool, j->sasl, st, j->store, j->out, j->account_id, j->done, j->arg);
	free(j);
}

void auth_sasl_run_async(struct work_pool *pool, struct sasl *sasl, enum sasl_status st,
                         struct store *store, struct buf *out, int64_t *account_id,
                         auth_sasl_done *done, void *arg)
{
	if (st == SASL_NEED_PASSWORD) {
		struct store_account a = {0};
		struct buf err = BUF_INIT;
		enum store_lookup found = store_account_get(store, sasl_authcid(sasl), &a, &err);
		buf_free(&err);
		*account_id = found == STORE_FOUND ? a.id : 0;
		if (found == STORE_ERROR) {
			done(SASL_FAIL, true, arg);
			return;
		}
		if (found == STORE_FOUND && a.password_hash[0]) {
			struct sasl_job *j = xcalloc(1, sizeof *j);
			*j = (struct sasl_job){pool, sasl, store, out, account_id, done, arg};
			auth_verify_async(pool, sasl_password(sasl), a.password_hash, sasl_checked,
			                  j);
			store_account_clear(&a);
			return;
		}
		store_account_clear(&a);
		buf_reset(out);
		st = sasl_password_result(sasl, false, out);
	}
	bool temp;
	st = auth_sasl_run(sasl, st, store, out, account_id, &temp);
	done(st, temp, arg);
}

int64_t auth_login_delay(struct auth_throttle *t, const char *ip, const char *user)
{
	struct buf key = BUF_INIT;
	identity_key(user, &key);
	int64_t d = auth_throttle_delay(t, ip, key.len ? buf_cstr(&key) : NULL, time_mono_ms());
	buf_free(&key);
	return d;
}

int64_t auth_login_failed(struct auth_throttle *t, const char *ip, const char *user)
{
	struct buf key = BUF_INIT;
	identity_key(user, &key);
	const char *account = key.len ? buf_cstr(&key) : NULL;
	int64_t now = time_mono_ms();
	auth_throttle_failure(t, ip, account, now);
	int64_t d = auth_throttle_delay(t, ip, account, now);
	buf_free(&key);
	/* Even a first failure waits a little: guessing should never be free. */
	return d < AUTH_MIN_FAILURE_DELAY_MS ? AUTH_MIN_FAILURE_DELAY_MS : d;
}

void auth_login_succeeded(struct auth_throttle *t, const char *ip, const char *user)
{
	struct buf key = BUF_INIT;
	identity_key(user, &key);
	auth_throttle_success(t, ip, key.len ? buf_cstr(&key) : NULL, time_mono_ms());
	buf_free(&key);
}
