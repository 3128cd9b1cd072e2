/*
 * store_sqlite_search — the full-text index of the SQLite backend, for IMAP
 * SEARCH BODY and TEXT, and as a first filter for header keys (SUBJECT ...).
 *
 * Model (schema version 4, store_schema.c): one search_doc row per blob that a
 * mailbox holds - the searchable text as mime_search_text() makes it, split
 * into the message header and the rest - and two FTS5 tables over its
 * columns with the trigram tokenizer and detail=none: for every distinct
 * three-character sequence of a text (case-folded), the blobs that contain it.
 * An index entry is per blob, not per message: COPY and MOVE share it like
 * they share the bytes, and it goes in the same transaction as the blob.
 *
 * Why it is exact. A string S of at least three characters occurs in a text
 * only if every trigram of S does; the lookup asks for a few trigrams that
 * cover S (an AND of FTS5 terms), which gives a superset of the blobs holding
 * S. The exact matcher is an ASCII case-insensitive byte comparison of valid
 * UTF-8; the trigram tokenizer folds both the text and the query with one
 * code-point-to-code-point mapping that lower-cases ASCII. So whatever the
 * matcher finds, the lookup finds: it can only return more (a non-ASCII case
 * variant, trigrams in the wrong order), which the caller's check removes.
 * Strings that are shorter, or not valid UTF-8, are not looked up.
 *
 * What the index does not know. Every blob a mailbox holds has a search_doc or
 * is listed in search_pending (store check verifies it), and pending blobs are
 * always candidates. Schema version 4 lists there every blob of an existing
 * store; a later change of what mime_search_text keeps lists them again in
 * its migration. `petrel store reindex` indexes pending blobs and unlists
 * them. A lookup is a join from the FTS5 result and the pending list to the
 * mailbox's messages through the message_blob index: its cost follows the
 * candidates, not the size of the mailbox.
 *
 * Cost. Extraction (parsing, decoding, iconv) runs outside the commit thread
 * (store_search_prepare on the submitter's thread); the commit thread only
 * tokenizes the text into the FTS5 tables. detail=none keeps the index near
 * the size of the text: positions are not needed, since the final check
 * confirms every candidate. search_doc keeps the text because FTS5 needs the
 * old text to remove an external-content row.
 */
#include "store/store_internal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define stmt store_sqlite_stmt

/* Trigrams of one lookup: enough to narrow, few enough to stay cheap. */
#define SEARCH_MAX_TRIGRAMS 12

static int exec_step(sqlite3_stmt *st)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void bind_buf(sqlite3_stmt *st, int i, const struct buf *b)
{
	sqlite3_bind_text(st, i, b->data ? b->data : "", (int)b->len, SQLITE_STATIC);
}

static void read_fail(struct store_conn *c, struct buf *err)
{
	buf_printf(err, "database error: %s", sqlite3_errmsg(store_sqlite_db(c)));
}

/* ---- writes ------------------------------------------------------------------------ */

int store_sqlite_search_drop(struct store_conn *c, int64_t blob_id)
{
	static const char *const one[] = {
	        "INSERT INTO search_header(search_header, rowid, header) "
	        "SELECT 'delete', blob_id, header FROM search_doc WHERE blob_id = ?",
	        "INSERT INTO search_body(search_body, rowid, body) "
	        "SELECT 'delete', blob_id, body FROM search_doc WHERE blob_id = ?",
	        "DELETE FROM search_doc WHERE blob_id = ?",
	};
	static const char *const unreferenced[] = {
	        "INSERT INTO search_header(search_header, rowid, header) "
	        "SELECT 'delete', blob_id, header FROM search_doc "
	        "WHERE blob_id IN (SELECT id FROM blob WHERE refcount <= 0)",
	        "INSERT INTO search_body(search_body, rowid, body) "
	        "SELECT 'delete', blob_id, body FROM search_doc "
	        "WHERE blob_id IN (SELECT id FROM blob WHERE refcount <= 0)",
	        "DELETE FROM search_doc WHERE blob_id IN (SELECT id FROM blob WHERE refcount <= 0)",
	};
	for (size_t i = 0; i < 3; i++) {
		sqlite3_stmt *st = stmt(c, blob_id ? one[i] : unreferenced[i]);
		if (blob_id)
			sqlite3_bind_int64(st, 1, blob_id);
		int rc = exec_step(st);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* Writes the entry of blob_id, replacing any older one. */
static int put(struct store_conn *c, int64_t blob_id, const struct buf *header,
               const struct buf *body)
{
	int rc = store_sqlite_search_drop(c, blob_id);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_stmt *st = stmt(c, "DELETE FROM search_pending WHERE blob_id = ?");
	sqlite3_bind_int64(st, 1, blob_id);
	rc = exec_step(st);
	if (rc != SQLITE_OK)
		return rc;
	st = stmt(c, "INSERT INTO search_doc(blob_id, header, body) VALUES(?, ?, ?)");
	sqlite3_bind_int64(st, 1, blob_id);
	bind_buf(st, 2, header);
	bind_buf(st, 3, body);
	rc = exec_step(st);
	if (rc != SQLITE_OK)
		return rc;
	st = stmt(c, "INSERT INTO search_header(rowid, header) VALUES(?, ?)");
	sqlite3_bind_int64(st, 1, blob_id);
	bind_buf(st, 2, header);
	rc = exec_step(st);
	if (rc != SQLITE_OK)
		return rc;
	st = stmt(c, "INSERT INTO search_body(rowid, body) VALUES(?, ?)");
	sqlite3_bind_int64(st, 1, blob_id);
	bind_buf(st, 2, body);
	return exec_step(st);
}

/* Does blob_id have an entry, and is it not pending? */
static bool indexed(struct store_conn *c, int64_t blob_id)
{
	sqlite3_stmt *st = stmt(c, "SELECT 1 FROM search_doc WHERE blob_id = ?1 AND NOT EXISTS "
	                           "(SELECT 1 FROM search_pending WHERE blob_id = ?1)");
	sqlite3_bind_int64(st, 1, blob_id);
	bool r = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return r;
}

static void forget_text(struct store_op *op)
{
	buf_free(&op->search_header);
	buf_free(&op->search_body);
	op->have_search = false;
}

int store_sqlite_search_append(struct store_conn *c, struct store_op *op, int64_t blob_id)
{
	int rc = SQLITE_OK;
	/* A blob that only the queue held until now has no entry yet; one that
	   another mailbox holds has it already. */
	if (op->u.append.ntargets > 0 && !indexed(c, blob_id)) {
		store_search_prepare(op); /* a no-op unless store_exec or a bounce */
		rc = put(c, blob_id, &op->search_header, &op->search_body);
	}
	forget_text(op);
	return rc;
}

int store_sqlite_search_put(struct store_conn *c, int64_t blob_id, const uint8_t sha256[32],
                            const struct buf *header, const struct buf *body, bool *gone_r,
                            struct buf *err)
{
	/* The blob may have gone since its text was read, and its id been
	   given to another message: write only over the very same bytes. */
	sqlite3_stmt *st = stmt(c, "SELECT sha256 FROM blob WHERE id = ?");
	sqlite3_bind_int64(st, 1, blob_id);
	int rc = sqlite3_step(st);
	*gone_r = rc != SQLITE_ROW || sqlite3_column_bytes(st, 0) != 32 ||
	          memcmp(sqlite3_column_blob(st, 0), sha256, 32) != 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		read_fail(c, err);
		return -1;
	}
	if (*gone_r)
		return 0;
	if (put(c, blob_id, header, body) != SQLITE_OK) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

/* ---- reads ------------------------------------------------------------------------- */

/*
 * The FTS5 query for needle: an AND of trigrams that cover it (starting at
 * characters 0, 3, 6 ... and at the last three), each a quoted string with
 * '"' doubled; with more than SEARCH_MAX_TRIGRAMS, an even spread of them.
 * False when the needle cannot be looked up.
 */
static bool fts_query(const char *needle, size_t len, struct buf *q)
{
	if (!utf8_valid(needle, len) || memchr(needle, '\0', len))
		return false;
	size_t *start = xmalloc((len + 1) * sizeof *start); /* of each character */
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)needle[i] & 0xc0) != 0x80)
			start[n++] = i;
	start[n] = len;
	if (n < STORE_SEARCH_MIN_CHARS) {
		free(start);
		return false;
	}
	size_t at[SEARCH_MAX_TRIGRAMS];
	size_t cover = (n + 2) / 3; /* trigrams at 0, 3, ... and n - 3 */
	size_t k = cover < SEARCH_MAX_TRIGRAMS ? cover : SEARCH_MAX_TRIGRAMS;
	for (size_t j = 0; j < k; j++) {
		size_t t = k == 1 ? 0 : j * (cover - 1) / (k - 1); /* spread over the cover */
		at[j] = t * 3 + 3 <= n ? t * 3 : n - 3;
	}
	for (size_t j = 0; j < k; j++) {
		if (j)
			buf_puts(q, " AND ");
		buf_putc(q, '"');
		for (size_t b = start[at[j]]; b < start[at[j] + 3]; b++) {
			if (needle[b] == '"')
				buf_putc(q, '"');
			buf_putc(q, needle[b]);
		}
		buf_putc(q, '"');
	}
	free(start);
	return true;
}

/* What a lookup searches: the body pieces, the header piece, or both. */
enum scope { SCOPE_BODY, SCOPE_TEXT, SCOPE_HEADER };

static enum store_lookup candidates(struct store_conn *c, int64_t mailbox_id, const char *needle,
                                    size_t len, enum scope scope, uint32_t **uids_r, size_t *n_r,
                                    struct buf *err)
{
	/* From the candidate blobs to the mailbox's messages through the
	   message_blob index (blob_id, then the key mailbox_id, uid). */
	static const char *const sql[] = {
	        [SCOPE_BODY] = "SELECT m.uid FROM ("
	                       " SELECT rowid AS b FROM search_body WHERE search_body MATCH ?2"
	                       " UNION SELECT blob_id FROM search_pending) AS cand"
	                       " CROSS JOIN message m ON m.blob_id = cand.b"
	                       " WHERE m.mailbox_id = ?1 ORDER BY m.uid",
	        [SCOPE_TEXT] = "SELECT m.uid FROM ("
	                       " SELECT rowid AS b FROM search_body WHERE search_body MATCH ?2"
	                       " UNION SELECT rowid FROM search_header"
	                       "  WHERE search_header MATCH ?2"
	                       " UNION SELECT blob_id FROM search_pending) AS cand"
	                       " CROSS JOIN message m ON m.blob_id = cand.b"
	                       " WHERE m.mailbox_id = ?1 ORDER BY m.uid",
	        [SCOPE_HEADER] = "SELECT m.uid FROM ("
	                         " SELECT rowid AS b FROM search_header"
	                         "  WHERE search_header MATCH ?2"
	                         " UNION SELECT blob_id FROM search_pending) AS cand"
	                         " CROSS JOIN message m ON m.blob_id = cand.b"
	                         " WHERE m.mailbox_id = ?1 ORDER BY m.uid",
	};
	*uids_r = NULL;
	*n_r = 0;
	struct buf q = BUF_INIT;
	if (!fts_query(needle, len, &q)) {
		buf_free(&q);
		return STORE_NOT_FOUND;
	}
	sqlite3_stmt *st = stmt(c, sql[scope]);
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_text(st, 2, buf_cstr(&q), (int)q.len, SQLITE_STATIC);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 64;
			*uids_r = xrealloc(*uids_r, cap * sizeof **uids_r);
		}
		(*uids_r)[(*n_r)++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	buf_free(&q);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		xfree(uids_r);
		*n_r = 0;
		return STORE_ERROR;
	}
	return STORE_FOUND;
}

enum store_lookup store_sqlite_search_candidates(struct store_conn *c, int64_t mailbox_id,
                                                 const char *needle, size_t len, bool with_header,
                                                 uint32_t **uids_r, size_t *n_r, struct buf *err)
{
	return candidates(c, mailbox_id, needle, len, with_header ? SCOPE_TEXT : SCOPE_BODY, uids_r,
	                  n_r, err);
}

enum store_lookup store_sqlite_search_header_candidates(struct store_conn *c, int64_t mailbox_id,
                                                        const char *needle, size_t len,
                                                        uint32_t **uids_r, size_t *n_r,
                                                        struct buf *err)
{
	return candidates(c, mailbox_id, needle, len, SCOPE_HEADER, uids_r, n_r, err);
}

int store_sqlite_search_pending(struct store_conn *c, int64_t account_id, bool all, int64_t after,
                                size_t max, int64_t *ids_r, size_t *n_r, struct buf *err)
{
	static const char *const sql[2][2] = {
	        /* pending ones, of every account or of one */
	        {"SELECT blob_id FROM search_pending WHERE blob_id > ?1 ORDER BY blob_id LIMIT ?5",
	         "SELECT p.blob_id FROM search_pending p WHERE p.blob_id > ?1 AND EXISTS"
	         " (SELECT 1 FROM message m JOIN mailbox b ON b.id = m.mailbox_id"
	         "  WHERE m.blob_id = p.blob_id AND b.account_id = ?4)"
	         " ORDER BY p.blob_id LIMIT ?5"},
	        /* all, of every account or of one */
	        {"SELECT DISTINCT blob_id FROM message WHERE blob_id > ?1 ORDER BY blob_id LIMIT "
	         "?5",
	         "SELECT DISTINCT m.blob_id FROM message m JOIN mailbox b ON b.id = m.mailbox_id"
	         " WHERE b.account_id = ?4 AND m.blob_id > ?1 ORDER BY m.blob_id LIMIT ?5"},
	};
	sqlite3_stmt *st = stmt(c, sql[all][account_id != 0]);
	sqlite3_bind_int64(st, 1, after);
	if (account_id)
		sqlite3_bind_int64(st, 4, account_id);
	sqlite3_bind_int64(st, 5, (int64_t)max);
	*n_r = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n_r < max)
		ids_r[(*n_r)++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

enum store_lookup store_sqlite_search_blob(struct store_conn *c, int64_t blob_id, struct buf *out,
                                           struct buf *err)
{
	sqlite3_stmt *st = stmt(c, "SELECT data FROM blob WHERE id = ?");
	sqlite3_bind_int64(st, 1, blob_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) > 0)
		buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return STORE_FOUND;
	if (rc == SQLITE_DONE)
		return STORE_NOT_FOUND;
	read_fail(c, err);
	return STORE_ERROR;
}

/* ---- check ------------------------------------------------------------------------- */

/* The number of rows an FTS5 table indexes: the first varint of its
   "averages" record (id 1 of its %_data table, FTS5's file format). */
static int64_t fts_rows(struct store_conn *c, const char *sql, bool *ok_r)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	*ok_r = sqlite3_prepare_v2(store_sqlite_db(c), sql, -1, &st, NULL) == SQLITE_OK;
	if (*ok_r && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		for (int i = 0; i < n && i < 9; i++) {
			if (i == 8) {
				v = (v << 8) | p[i];
				break;
			}
			v = (v << 7) | (p[i] & 0x7f);
			if (!(p[i] & 0x80))
				break;
		}
	}
	sqlite3_finalize(st);
	return v;
}

int store_sqlite_search_check(struct store_conn *c, struct buf *report, struct buf *err)
{
	sqlite3 *db = store_sqlite_db(c);
	sqlite3_stmt *st = NULL;
	int64_t docs = 0;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM search_doc", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		read_fail(c, err);
		return -1;
	}
	docs = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	static const struct {
		const char *name, *sql;
	} tables[] = {
	        {"search_header", "SELECT block FROM search_header_data WHERE id = 1"},
	        {"search_body", "SELECT block FROM search_body_data WHERE id = 1"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
		bool ok;
		int64_t rows = fts_rows(c, tables[i].sql, &ok);
		if (!ok) {
			read_fail(c, err);
			return -1;
		}
		if (rows != docs)
			buf_printf(report,
			           "full-text index %s holds %lld messages, search_doc %lld\n",
			           tables[i].name, (long long)rows, (long long)docs);
	}
	static const char *const checks[] = {
	        /* entries outlive no blob (a blob only the queue holds may keep one) */
	        "SELECT 'search_doc ' || d.blob_id || ' of a blob no one holds' "
	        "FROM search_doc d LEFT JOIN blob b ON b.id = d.blob_id "
	        "WHERE b.id IS NULL OR b.refcount <= 0",
	        /* every message is known to the index or listed as pending */
	        "SELECT DISTINCT 'blob ' || m.blob_id || ' of a message is neither indexed nor "
	        "pending' FROM message m WHERE NOT EXISTS (SELECT 1 FROM search_doc d "
	        "WHERE d.blob_id = m.blob_id) AND NOT EXISTS (SELECT 1 FROM search_pending p "
	        "WHERE p.blob_id = m.blob_id)",
	};
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		if (sqlite3_prepare_v2(db, checks[i], -1, &st, NULL) != SQLITE_OK) {
			read_fail(c, err);
			return -1;
		}
		while (sqlite3_step(st) == SQLITE_ROW)
			buf_printf(report, "%s\n", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	return 0;
}
