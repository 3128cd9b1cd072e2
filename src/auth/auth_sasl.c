/*
 * auth_sasl — the server side of PLAIN (RFC 4616), LOGIN and SCRAM-SHA-256
 * (RFC 5802, RFC 7677) as one explicit state machine per exchange.
 *
 * Input is one decoded client message at a time; output is appended to the
 * caller's buffer. The machine never does I/O and never looks anything up: it
 * stops with SASL_NEED_PASSWORD or SASL_NEED_SCRAM_CRED and the caller resumes
 * it. A client's mistake of any kind (bad syntax, over-long or truncated input,
 * a message in the wrong state) moves it to the failed state, from which every
 * call returns SASL_FAIL; nothing a peer sends can crash it.
 *
 *   PLAIN   START -[no initial response]-> PLAIN_WAIT -> NEED_PASSWORD -> OK/FAILED
 *   LOGIN   START -> LOGIN_USER ("Username:") -> LOGIN_PASS ("Password:")
 *                 -> NEED_PASSWORD -> OK/FAILED
 *           (an initial response is taken as the user name)
 *   SCRAM   START -[no initial response]-> SCRAM_FIRST -> NEED_CRED
 *                 -> SCRAM_FINAL (server-first sent) -> OK (server-final in out)/FAILED
 *
 * Identities (authcid, authzid) must be 1..AUTH_MAX_AUTHCID bytes of valid UTF-8
 * without control characters. An authzid is accepted only when it is empty or
 * equal to the authcid: petrel has no "log in as someone else" privilege.
 *
 * SCRAM: we do not advertise SCRAM-SHA-256-PLUS, so a gs2 header of "n" (client
 * does not do channel binding) or "y" (client could, but believes we cannot) is
 * accepted, and "p=" (client insists on channel binding) fails. For an unknown
 * user the exchange goes on with a salt derived from the user name and a
 * per-process secret (stable across attempts, like a real one) and random keys,
 * so the client learns nothing until the proof fails — and it can never pass.
 */
#include "auth/auth_internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum sasl_state {
	ST_START,
	ST_PLAIN_WAIT,      /* empty challenge sent, waiting for the PLAIN message */
	ST_LOGIN_USER,      /* "Username:" sent */
	ST_LOGIN_PASS,      /* "Password:" sent */
	ST_NEED_PASSWORD,   /* waiting for sasl_password_result() */
	ST_SCRAM_FIRST,     /* empty challenge sent, waiting for client-first */
	ST_SCRAM_NEED_CRED, /* waiting for sasl_set_scram_cred() */
	ST_SCRAM_FINAL,     /* server-first sent, waiting for client-final */
	ST_OK,
	ST_FAILED,
};

struct sasl {
	enum sasl_mech mech;
	enum sasl_state state;
	struct buf authcid;  /* NUL-terminated by buf; validated before it is set */
	struct buf password; /* PLAIN/LOGIN, wiped once the caller has checked it */
	struct buf error;

	/* SCRAM-SHA-256 */
	struct buf gs2_header;        /* "n,," / "y,,a=..,", echoed in client-final c= */
	struct buf client_first_bare; /* for AuthMessage */
	struct buf client_nonce;
	struct buf nonce; /* client nonce + server part */
	struct buf server_first;
	struct auth_scram_cred cred;
	bool cred_known; /* false: made-up credentials for an unknown user */
	char *test_nonce_suffix;
};

static const char *const mech_names[] = {
        [SASL_PLAIN] = "PLAIN",
        [SASL_LOGIN] = "LOGIN",
        [SASL_SCRAM_SHA_256] = "SCRAM-SHA-256",
};

int sasl_mech_parse(const char *name, size_t len, enum sasl_mech *mech_r)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(mech_names); i++) {
		if (strlen(mech_names[i]) == len && strncasecmp(name, mech_names[i], len) == 0) {
			*mech_r = (enum sasl_mech)i;
			return 0;
		}
	}
	return -1;
}

const char *sasl_mech_name(enum sasl_mech mech)
{
	if ((unsigned)mech >= ARRAY_SIZE(mech_names))
		panic("sasl_mech_name: unknown mechanism %d", (int)mech);
	return mech_names[mech];
}

struct sasl *sasl_new(enum sasl_mech mech)
{
	if ((unsigned)mech >= ARRAY_SIZE(mech_names))
		panic("sasl_new: unknown mechanism %d", (int)mech);
	struct sasl *s = xcalloc(1, sizeof *s);
	s->mech = mech;
	s->state = ST_START;
	return s;
}

void sasl_free(struct sasl **sp)
{
	struct sasl *s = *sp;
	if (s == NULL)
		return;
	auth_buf_wipe(&s->authcid);
	auth_buf_wipe(&s->password);
	auth_buf_wipe(&s->error);
	auth_buf_wipe(&s->gs2_header);
	auth_buf_wipe(&s->client_first_bare);
	auth_buf_wipe(&s->client_nonce);
	auth_buf_wipe(&s->nonce);
	auth_buf_wipe(&s->server_first);
	free(s->test_nonce_suffix);
	OPENSSL_cleanse(s, sizeof *s);
	free(s);
	*sp = NULL;
}

const char *sasl_authcid(const struct sasl *s)
{
	return s ? buf_cstr(&s->authcid) : "";
}

const char *sasl_password(const struct sasl *s)
{
	if (s == NULL || (s->mech != SASL_PLAIN && s->mech != SASL_LOGIN))
		return "";
	return buf_cstr(&s->password);
}

const char *sasl_error(const struct sasl *s)
{
	return s ? buf_cstr(&s->error) : "no SASL exchange";
}

void sasl_scram_set_nonce_for_test(struct sasl *s, const char *server_nonce_suffix)
{
	free(s->test_nonce_suffix);
	s->test_nonce_suffix = server_nonce_suffix ? xstrdup(server_nonce_suffix) : NULL;
}

/* Moves to the failed state with a reason for the log (never a password). */
static enum sasl_status fail(struct sasl *s, const char *reason)
{
	buf_reset(&s->error);
	buf_printf(&s->error, "%s: %s", mech_names[s->mech], reason);
	auth_buf_wipe(&s->password);
	s->state = ST_FAILED;
	return SASL_FAIL;
}

/* ---- identities ---------------------------------------------------------- */

/* An authentication or authorisation identity: see the top of this file. */
static bool identity_valid(const uint8_t *p, size_t len)
{
	if (len == 0 || len > AUTH_MAX_AUTHCID)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
	return utf8_valid((const char *)p, len);
}

static bool password_valid(const uint8_t *p, size_t len)
{
	return len > 0 && len <= AUTH_MAX_PASSWORD && memchr(p, '\0', len) == NULL;
}

static void set_authcid(struct sasl *s, const void *p, size_t len)
{
	buf_reset(&s->authcid);
	buf_append(&s->authcid, p, len);
}

/* The password goes into an empty buffer in one append, so it is never copied by a
   realloc and auth_buf_wipe() reaches every byte of it. */
static void set_password(struct sasl *s, const void *p, size_t len)
{
	auth_buf_wipe(&s->password);
	buf_append(&s->password, p, len);
}

/* ---- PLAIN ----------------------------------------------------------------- */

/* message = [authzid] NUL authcid NUL passwd */
static enum sasl_status plain_message(struct sasl *s, const uint8_t *in, size_t len)
{
	const uint8_t *nul1 = memchr(in, '\0', len);
	if (nul1 == NULL)
		return fail(s, "malformed message (no NUL separator)");
	const uint8_t *cid = nul1 + 1;
	const uint8_t *nul2 = memchr(cid, '\0', len - (size_t)(cid - in));
	if (nul2 == NULL)
		return fail(s, "malformed message (one NUL separator)");
	const uint8_t *pw = nul2 + 1;
	size_t zid_len = (size_t)(nul1 - in);
	size_t cid_len = (size_t)(nul2 - cid);
	size_t pw_len = len - (size_t)(pw - in);

	if (!identity_valid(cid, cid_len))
		return fail(s, "invalid authentication identity");
	set_authcid(s, cid, cid_len);
	if (zid_len != 0 && (zid_len != cid_len || memcmp(in, cid, cid_len) != 0))
		return fail(s, "authorization identity differs from authentication identity");
	if (!password_valid(pw, pw_len))
		return fail(s, "invalid password field");
	set_password(s, pw, pw_len);
	s->state = ST_NEED_PASSWORD;
	return SASL_NEED_PASSWORD;
}

/* ---- LOGIN ------------------------------------------------------------------ */

static enum sasl_status login_user(struct sasl *s, const uint8_t *in, size_t len, struct buf *out)
{
	if (!identity_valid(in, len))
		return fail(s, "invalid user name");
	set_authcid(s, in, len);
	buf_puts(out, "Password:");
	s->state = ST_LOGIN_PASS;
	return SASL_CONTINUE;
}

static enum sasl_status login_pass(struct sasl *s, const uint8_t *in, size_t len)
{
	if (!password_valid(in, len))
		return fail(s, "invalid password");
	set_password(s, in, len);
	s->state = ST_NEED_PASSWORD;
	return SASL_NEED_PASSWORD;
}

/* ---- SCRAM-SHA-256 ---------------------------------------------------------- */

/* A cursor over the comma-separated attributes of a SCRAM message. */
struct scram_cursor {
	const char *p;
	const char *end;
};

/* Takes the next attribute up to (not including) ',' or the end; false at the end.
   Consumes the ',' that follows it. */
static bool scram_next(struct scram_cursor *c, struct str *attr_r)
{
	if (c->p == NULL)
		return false;
	const char *comma = memchr(c->p, ',', (size_t)(c->end - c->p));
	const char *stop = comma ? comma : c->end;
	*attr_r = (struct str){c->p, (size_t)(stop - c->p)};
	c->p = comma ? comma + 1 : NULL;
	return true;
}

/* attr is "<name>=<value>": returns the value in val_r. */
static bool scram_attr(struct str attr, char name, struct str *val_r)
{
	if (attr.len < 2 || attr.p[0] != name || attr.p[1] != '=')
		return false;
	*val_r = (struct str){attr.p + 2, attr.len - 2};
	return true;
}

/* An extension attribute: ALPHA "=" 1*value-char. Unknown ones are ignored. */
static bool scram_extension(struct str attr)
{
	char c = attr.len ? attr.p[0] : '\0';
	return attr.len >= 3 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) &&
	       attr.p[1] == '=';
}

/* saslname: "=2C" stands for ',' and "=3D" for '='; any other '=' is an error. */
static bool scram_saslname(struct str v, struct buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] != '=') {
			buf_putc(out, v.p[i]);
			continue;
		}
		if (v.len - i < 3)
			return false;
		if (v.p[i + 1] == '2' && v.p[i + 2] == 'C')
			buf_putc(out, ',');
		else if (v.p[i + 1] == '3' && v.p[i + 2] == 'D')
			buf_putc(out, '=');
		else
			return false;
		i += 2;
	}
	return identity_valid((const uint8_t *)out->data, out->len);
}

/* c-nonce: printable ASCII except ','. */
static bool scram_nonce_valid(struct str v)
{
	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] < 0x21 || v.p[i] > 0x7e || v.p[i] == ',')
			return false;
	return true;
}

/*
 * client-first-message = gs2-header client-first-message-bare
 *   gs2-header = ("n" / "y" / "p=" cb-name) "," ["a=" saslname] ","
 *   client-first-message-bare = ["m=" ext ","] "n=" saslname "," "r=" c-nonce ["," extensions]
 */
static enum sasl_status scram_client_first(struct sasl *s, const uint8_t *in, size_t len)
{
	if (memchr(in, '\0', len) != NULL)
		return fail(s, "NUL byte in client-first message");
	struct scram_cursor c = {(const char *)in, (const char *)in + len};
	struct str attr, val;
	struct buf authzid = BUF_INIT;
	enum sasl_status st;

	if (!scram_next(&c, &attr))
		return fail(s, "empty client-first message");
	if (attr.len >= 2 && attr.p[0] == 'p' && attr.p[1] == '=')
		return fail(s, "channel binding requested but not offered");
	if (attr.len != 1 || (attr.p[0] != 'n' && attr.p[0] != 'y'))
		return fail(s, "malformed gs2 header");
	if (!scram_next(&c, &attr)) {
		st = fail(s, "malformed gs2 header");
		goto out;
	}
	if (attr.len != 0 && (!scram_attr(attr, 'a', &val) || !scram_saslname(val, &authzid))) {
		st = fail(s, "malformed authorization identity");
		goto out;
	}
	if (c.p == NULL) {
		st = fail(s, "truncated client-first message");
		goto out;
	}
	buf_reset(&s->gs2_header);
	buf_append(&s->gs2_header, in, (size_t)(c.p - (const char *)in));
	buf_reset(&s->client_first_bare);
	buf_append(&s->client_first_bare, c.p, (size_t)(c.end - c.p));

	if (!scram_next(&c, &attr)) {
		st = fail(s, "truncated client-first message");
		goto out;
	}
	if (scram_attr(attr, 'm', &val)) {
		st = fail(s, "mandatory extension not supported");
		goto out;
	}
	if (!scram_attr(attr, 'n', &val) || !scram_saslname(val, &s->authcid)) {
		buf_reset(&s->authcid);
		st = fail(s, "invalid user name");
		goto out;
	}
	if (authzid.len != 0 &&
	    (authzid.len != s->authcid.len || memcmp(authzid.data, s->authcid.data, authzid.len))) {
		st = fail(s, "authorization identity differs from authentication identity");
		goto out;
	}
	if (!scram_next(&c, &attr) || !scram_attr(attr, 'r', &val) || !scram_nonce_valid(val)) {
		st = fail(s, "missing or invalid client nonce");
		goto out;
	}
	buf_reset(&s->client_nonce);
	buf_append(&s->client_nonce, val.p, val.len);
	while (scram_next(&c, &attr)) {
		if (!scram_extension(attr)) {
			st = fail(s, "malformed extension");
			goto out;
		}
	}
	s->state = ST_SCRAM_NEED_CRED;
	st = SASL_NEED_SCRAM_CRED;
out:
	buf_free(&authzid);
	return st;
}

static pthread_once_t fake_secret_once = PTHREAD_ONCE_INIT;
static uint8_t fake_secret[32];

static void fake_secret_init(void)
{
	random_bytes(fake_secret, sizeof fake_secret);
}

/*
 * Credentials for a user the store does not know. The salt must be the same at
 * every attempt for the same name (a real user's is), so it is a keyed hash of
 * the name (ASCII-lowercased, as the store's look-up may ignore case); the keys
 * are random, and cred_known stays false so the proof cannot pass.
 */
static int scram_fake_cred(struct sasl *s)
{
	pthread_once(&fake_secret_once, fake_secret_init);
	char *lower = str_dup_lower(str_buf(&s->authcid));
	uint8_t mac[SHA256_DIGEST_LENGTH];
	unsigned int mdlen = 0;
	const uint8_t *r = HMAC(EVP_sha256(), fake_secret, sizeof fake_secret,
	                        (const uint8_t *)lower, strlen(lower), mac, &mdlen);
	free(lower);
	if (r == NULL || mdlen != sizeof mac)
		return -1;
	memset(&s->cred, 0, sizeof s->cred);
	s->cred.iterations = AUTH_SCRAM_ITERATIONS;
	s->cred.salt_len = AUTH_SCRAM_SALT_LEN;
	memcpy(s->cred.salt, mac, AUTH_SCRAM_SALT_LEN);
	random_bytes(s->cred.stored_key, sizeof s->cred.stored_key);
	random_bytes(s->cred.server_key, sizeof s->cred.server_key);
	s->cred_known = false;
	return 0;
}

enum sasl_status sasl_set_scram_cred(struct sasl *s, const struct auth_scram_cred *cred,
                                     struct buf *out)
{
	if (s == NULL)
		return SASL_FAIL;
	if (s->state != ST_SCRAM_NEED_CRED || out == NULL)
		return fail(s, "credentials supplied in the wrong state");
	if (cred != NULL) {
		if (cred->iterations == 0 || cred->salt_len == 0 ||
		    cred->salt_len > sizeof cred->salt)
			return fail(s, "unusable stored credentials");
		s->cred = *cred;
		s->cred_known = true;
	} else if (scram_fake_cred(s) < 0) {
		return fail(s, "cannot make up credentials");
	}

	buf_reset(&s->nonce);
	buf_append(&s->nonce, s->client_nonce.data, s->client_nonce.len);
	if (s->test_nonce_suffix) {
		buf_puts(&s->nonce, s->test_nonce_suffix);
	} else {
		uint8_t rnd[AUTH_SCRAM_SERVER_NONCE_LEN];
		random_bytes(rnd, sizeof rnd);
		base64_encode(&s->nonce, rnd, sizeof rnd);
	}

	buf_reset(&s->server_first);
	buf_puts(&s->server_first, "r=");
	buf_append(&s->server_first, s->nonce.data, s->nonce.len);
	buf_puts(&s->server_first, ",s=");
	base64_encode(&s->server_first, s->cred.salt, s->cred.salt_len);
	buf_printf(&s->server_first, ",i=%u", (unsigned)s->cred.iterations);
	buf_append(out, s->server_first.data, s->server_first.len);
	s->state = ST_SCRAM_FINAL;
	return SASL_CONTINUE;
}

/*
 * client-final-message = "c=" base64(gs2-header) "," "r=" nonce ["," extensions] "," "p=" proof
 *
 * Verification, with AuthMessage = client-first-bare "," server-first ","
 * client-final-without-proof:
 *   ClientSignature = HMAC(StoredKey, AuthMessage)
 *   ClientKey       = ClientProof XOR ClientSignature
 *   accept iff SHA-256(ClientKey) == StoredKey
 * and the answer is "v=" base64(HMAC(ServerKey, AuthMessage)).
 */
static enum sasl_status scram_client_final(struct sasl *s, const uint8_t *in, size_t len,
                                           struct buf *out)
{
	if (memchr(in, '\0', len) != NULL)
		return fail(s, "NUL byte in client-final message");
	struct scram_cursor c = {(const char *)in, (const char *)in + len};
	struct str attr, val, proof_b64 = {NULL, 0};
	struct buf tmp = BUF_INIT;
	struct buf auth_msg = BUF_INIT;
	const char *without_proof_end = NULL;
	uint8_t sig[SHA256_DIGEST_LENGTH], client_key[SHA256_DIGEST_LENGTH],
	        hashed[SHA256_DIGEST_LENGTH];
	unsigned int mdlen = 0;
	enum sasl_status st;

	if (!scram_next(&c, &attr) || !scram_attr(attr, 'c', &val) ||
	    base64_decode(&tmp, val.p, val.len) < 0) {
		st = fail(s, "missing or malformed channel binding");
		goto out;
	}
	if (tmp.len != s->gs2_header.len || memcmp(tmp.data, s->gs2_header.data, tmp.len) != 0) {
		st = fail(s, "channel binding does not match the gs2 header");
		goto out;
	}
	if (!scram_next(&c, &attr) || !scram_attr(attr, 'r', &val)) {
		st = fail(s, "missing nonce");
		goto out;
	}
	if (val.len != s->nonce.len || memcmp(val.p, s->nonce.data, val.len) != 0) {
		st = fail(s, "nonce mismatch");
		goto out;
	}
	/* Extensions, then the proof, which must come last. */
	for (;;) {
		const char *attr_start = c.p;
		if (!scram_next(&c, &attr)) {
			st = fail(s, "missing proof");
			goto out;
		}
		if (scram_attr(attr, 'p', &val)) {
			if (c.p != NULL) {
				st = fail(s, "attribute after proof");
				goto out;
			}
			proof_b64 = val;
			without_proof_end = attr_start - 1; /* drop the ',' before "p=" */
			break;
		}
		if (!scram_extension(attr)) {
			st = fail(s, "malformed extension");
			goto out;
		}
	}
	buf_reset(&tmp);
	if (base64_decode(&tmp, proof_b64.p, proof_b64.len) < 0 ||
	    tmp.len != SHA256_DIGEST_LENGTH) {
		st = fail(s, "malformed proof");
		goto out;
	}

	buf_append(&auth_msg, s->client_first_bare.data, s->client_first_bare.len);
	buf_putc(&auth_msg, ',');
	buf_append(&auth_msg, s->server_first.data, s->server_first.len);
	buf_putc(&auth_msg, ',');
	buf_append(&auth_msg, in, (size_t)(without_proof_end - (const char *)in));

	if (HMAC(EVP_sha256(), s->cred.stored_key, sizeof s->cred.stored_key,
	         (const uint8_t *)auth_msg.data, auth_msg.len, sig, &mdlen) == NULL ||
	    mdlen != sizeof sig) {
		st = fail(s, "HMAC failed");
		goto out;
	}
	for (size_t i = 0; i < sizeof client_key; i++)
		client_key[i] = (uint8_t)tmp.data[i] ^ sig[i];
	SHA256(client_key, sizeof client_key, hashed);
	bool match = CRYPTO_memcmp(hashed, s->cred.stored_key, sizeof hashed) == 0;
	if (!s->cred_known) {
		st = fail(s, "unknown user");
		goto out;
	}
	if (!match) {
		st = fail(s, "invalid proof");
		goto out;
	}
	if (HMAC(EVP_sha256(), s->cred.server_key, sizeof s->cred.server_key,
	         (const uint8_t *)auth_msg.data, auth_msg.len, sig, &mdlen) == NULL ||
	    mdlen != sizeof sig) {
		st = fail(s, "HMAC failed");
		goto out;
	}
	buf_puts(out, "v=");
	base64_encode(out, sig, sizeof sig);
	s->state = ST_OK;
	st = SASL_OK;
out:
	OPENSSL_cleanse(sig, sizeof sig);
	OPENSSL_cleanse(client_key, sizeof client_key);
	OPENSSL_cleanse(hashed, sizeof hashed);
	auth_buf_wipe(&tmp);
	auth_buf_wipe(&auth_msg);
	return st;
}

/* ---- the machine --------------------------------------------------------------- */

enum sasl_status sasl_step(struct sasl *s, const uint8_t *in, size_t len, bool has_input,
                           struct buf *out)
{
	if (s == NULL)
		return SASL_FAIL;
	if (s->state == ST_FAILED)
		return SASL_FAIL;
	if (out == NULL || (in == NULL && len != 0))
		return fail(s, "bad arguments");
	if (len > AUTH_MAX_SASL_INPUT)
		return fail(s, "client response too long");
	/* Later steps always carry a (possibly empty) response; treat "none" as empty. */
	if (in == NULL || !has_input) {
		in = (const uint8_t *)"";
		len = 0;
	}

	switch (s->state) {
	case ST_START:
		switch (s->mech) {
		case SASL_PLAIN:
			if (!has_input) {
				s->state = ST_PLAIN_WAIT;
				return SASL_CONTINUE;
			}
			return plain_message(s, in, len);
		case SASL_LOGIN:
			/* A common extension: the initial response is the user name. */
			if (len > 0)
				return login_user(s, in, len, out);
			buf_puts(out, "Username:");
			s->state = ST_LOGIN_USER;
			return SASL_CONTINUE;
		case SASL_SCRAM_SHA_256:
			if (!has_input) {
				s->state = ST_SCRAM_FIRST;
				return SASL_CONTINUE;
			}
			return scram_client_first(s, in, len);
		}
		break;
	case ST_PLAIN_WAIT:
		return plain_message(s, in, len);
	case ST_LOGIN_USER:
		return login_user(s, in, len, out);
	case ST_LOGIN_PASS:
		return login_pass(s, in, len);
	case ST_SCRAM_FIRST:
		return scram_client_first(s, in, len);
	case ST_SCRAM_FINAL:
		return scram_client_final(s, in, len, out);
	case ST_NEED_PASSWORD:
	case ST_SCRAM_NEED_CRED:
	case ST_OK:
	case ST_FAILED:
		break;
	}
	return fail(s, "client message in the wrong state");
}

enum sasl_status sasl_password_result(struct sasl *s, bool ok, struct buf *out)
{
	if (s == NULL)
		return SASL_FAIL;
	if (s->state != ST_NEED_PASSWORD)
		return fail(s, "password result in the wrong state");
	/* The caller has checked it; nobody needs the password any more. */
	auth_buf_wipe(&s->password);
	if (!ok)
		return fail(s, "invalid credentials");
	s->state = ST_OK;
	return SASL_OK;
}
