/*
 * store_sqlite_dkim — DKIM signing keys in the SQLite backend (store.h, "DKIM
 * keys"): added and removed by ops on the writer, listed on the reader,
 * through the hooks of store_sqlite.c. Errors map as in store_sqlite.c.
 */
#include "store/store_internal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SELECTOR 63
#define MAX_PRIVATE_KEY (16 * 1024) /* bytes of PEM: an RSA-4096 key is ~3.3 KB */

#define stmt store_sqlite_stmt

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return xstrdup(t ? (const char *)t : "");
}

/* Dot-separated labels of letters, digits and '-' (not at a label's ends). */
static bool selector_ok(const char *s)
{
	size_t len = s ? strlen(s) : 0, label = 0;
	if (len == 0 || len > MAX_SELECTOR)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	return label > 0 && s[len - 1] != '-';
}

/* The id of the (normalised) domain, 0 when it is not local; -1 on error. */
static int64_t domain_of(struct store_conn *c, struct store_op *op, struct buf *name)
{
	if (store_domain_normalize(op->u.dkim.domain ? op->u.dkim.domain : "", name, &op->err) <
	    0) {
		store_op_fail(op, STORE_ERR_INVALID, "%s", buf_cstr(&op->err));
		return -1;
	}
	sqlite3_stmt *st = stmt(c, "SELECT id FROM domain WHERE name = ?");
	bind_text(st, 1, buf_cstr(name));
	int rc = sqlite3_step(st);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_sqlite_op_sql_fail(op, c, rc);
		return -1;
	}
	if (!id)
		store_op_fail(op, STORE_ERR_NOTFOUND, "no local domain %s", buf_cstr(name));
	return id ? id : -1;
}

static void op_dkim_key_add(struct store_conn *c, struct store_op *op)
{
	const char *alg = op->u.dkim.algorithm ? op->u.dkim.algorithm : "";
	const char *pem = op->u.dkim.private_key;
	if (!selector_ok(op->u.dkim.selector)) {
		store_op_fail(op, STORE_ERR_INVALID,
		              "invalid selector (DNS labels of letters, digits and '-', at most "
		              "63 bytes)");
		return;
	}
	if (strcmp(alg, "rsa") != 0 && strcmp(alg, "ed25519") != 0) {
		store_op_fail(op, STORE_ERR_INVALID, "unknown DKIM algorithm '%s'", alg);
		return;
	}
	if (!pem || strncmp(pem, "-----BEGIN ", 11) != 0 || strlen(pem) > MAX_PRIVATE_KEY) {
		store_op_fail(op, STORE_ERR_INVALID, "the private key is not PEM text");
		return;
	}
	struct buf name = BUF_INIT;
	int64_t did = domain_of(c, op, &name);
	if (did < 0)
		goto out;
	sqlite3_stmt *st = stmt(c, "SELECT count(*) FROM dkim_key WHERE domain_id = ?");
	sqlite3_bind_int64(st, 1, did);
	int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (n >= STORE_MAX_DKIM_KEYS) {
		store_op_fail(op, STORE_ERR_INVALID,
		              "domain %s has %d DKIM keys already; remove one", buf_cstr(&name),
		              STORE_MAX_DKIM_KEYS);
		goto out;
	}
	st = stmt(c, "INSERT INTO dkim_key(domain_id, selector, algorithm, private_key, created) "
	             "VALUES(?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, did);
	bind_text(st, 2, op->u.dkim.selector);
	bind_text(st, 3, alg);
	bind_text(st, 4, pem);
	sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		store_op_fail(op, STORE_ERR_EXISTS, "domain %s has a key with selector %s already",
		              buf_cstr(&name), op->u.dkim.selector);
	else if (rc != SQLITE_DONE)
		store_sqlite_op_sql_fail(op, c, rc);
	else
		op->u.dkim.id_r = sqlite3_last_insert_rowid(store_sqlite_db(c));
out:
	buf_free(&name);
}

static void op_dkim_key_remove(struct store_conn *c, struct store_op *op)
{
	struct buf name = BUF_INIT;
	int64_t did = domain_of(c, op, &name);
	if (did < 0)
		goto out;
	sqlite3_stmt *st =
	        stmt(c, "DELETE FROM dkim_key WHERE domain_id = ? AND selector = ? RETURNING id");
	sqlite3_bind_int64(st, 1, did);
	bind_text(st, 2, op->u.dkim.selector ? op->u.dkim.selector : "");
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		op->u.dkim.id_r = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		store_sqlite_op_sql_fail(op, c, rc);
	else if (!op->u.dkim.id_r)
		store_op_fail(op, STORE_ERR_NOTFOUND, "domain %s has no key with selector %s",
		              buf_cstr(&name), op->u.dkim.selector ? op->u.dkim.selector : "");
out:
	buf_free(&name);
}

void store_sqlite_dkim_apply(struct store_conn *c, struct store_op *op)
{
	if (op->kind == STORE_OP_DKIM_KEY_ADD)
		op_dkim_key_add(c, op);
	else
		op_dkim_key_remove(c, op);
}

#define DKIM_COLS                                                                                  \
	"k.id, d.name, k.selector, k.algorithm, k.private_key, k.created FROM dkim_key k "         \
	"JOIN domain d ON d.id = k.domain_id "

int store_sqlite_dkim_key_list(struct store_conn *c, const char *domain,
                               void (*fn)(const struct store_dkim_key *k, void *arg), void *arg,
                               struct buf *err)
{
	sqlite3_stmt *st =
	        domain ? stmt(c, "SELECT " DKIM_COLS "WHERE d.name = ? "
	                         "ORDER BY k.created DESC, k.id DESC")
	               : stmt(c, "SELECT " DKIM_COLS "ORDER BY d.name, k.created DESC, k.id DESC");
	if (domain)
		bind_text(st, 1, domain);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_dkim_key k = {
		        .id = sqlite3_column_int64(st, 0),
		        .domain = col_text(st, 1),
		        .selector = col_text(st, 2),
		        .algorithm = col_text(st, 3),
		        .private_key = col_text(st, 4),
		        .created = sqlite3_column_int64(st, 5),
		};
		fn(&k, arg);
		store_dkim_key_clear(&k);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		buf_printf(err, "database error: %s", sqlite3_errmsg(store_sqlite_db(c)));
		return -1;
	}
	return 0;
}
