/*
 * store_sqlite_search — the full-text index of the SQLite backend, for IMAP
 * SEARCH BODY and TEXT, and as a first filter for header keys (SUBJECT ...).
 *
 * Model (schema version 10, store_schema.c): one FTS5 table, search_text,
 * contentless (content=''), detail=none, with the plain "ascii" tokenizer
 * over the words of store_search.c: for every distinct trigram of a message's
 * texts (case-folded like the matcher; the header's marked apart), the blobs
 * that hold it. A row is a blob, its rowid the blob id; search_doc lists the
 * blobs that have a row. A new blob's words first wait in search_stage (blob
 * id, words) - the stage - and go into search_text with the others staged
 * once STORE_SQLITE_SEARCH_STAGE are there (see Cost). An index entry, staged
 * or not, is per blob, not per message: COPY and MOVE share it like they
 * share the bytes, and it is written in the same transaction as the blob.
 *
 * Why it is exact. A string S of at least three characters occurs in a text
 * only if every trigram of S does; the lookup asks for a few trigrams that
 * cover S (an AND of words), which gives a superset of the blobs holding S:
 * the words fold exactly as the matcher does, so whatever it finds, the
 * lookup finds; it can only return more (trigrams in the wrong order or across
 * two pieces), which the caller's check removes. Staged blobs are checked for
 * the same words in C (store_search_terms_match), in the same read
 * transaction as the FTS5 query, so that no blob can move out of the stage
 * unseen. Strings that are shorter, or not valid UTF-8, are not looked up.
 *
 * What the index does not know. Every blob a mailbox holds has a search_doc
 * or search_stage row or is listed in search_pending (store check verifies
 * it), and pending blobs are always candidates. Version 10 lists there every
 * blob of an existing store; `petrel store reindex` indexes pending blobs and
 * unlists them. A lookup is a join from the FTS5 result and the pending list
 * to the mailbox's messages through the message_blob index: its cost follows
 * the candidates, not the size of the mailbox (the stage adds at most
 * STORE_SQLITE_SEARCH_STAGE rows).
 *
 * No copy of the text. FTS5 needs a row's words to remove it; a contentless
 * table does not keep them, and neither does the store: when a blob's last
 * reference goes, its words are made again from its bytes (still there in
 * that transaction); a staged blob only loses its stage row. store_search_terms()
 * gives the same words for the same bytes; a later petrel that changes what
 * it extracts must therefore empty the table ('delete-all'), search_doc and
 * search_stage, and list every blob as pending in its migration. Should the
 * words made at removal ever differ from those written, the table keeps some
 * of the old words of that rowid: extra candidates, never a missed one (a
 * removal only ever concerns a blob that is going).
 *
 * Cost. Extraction (parsing, decoding, iconv) and the set of distinct words
 * are made outside the commit thread (store_search_prepare on the submitter's
 * thread). FTS5 pays for every write of rows as a new index segment, with
 * the work of merging it later, and that cost grows with the distinct words
 * of the segment, not with its rows: a message of real text written alone
 * costs four times what it costs among a hundred others. Hence the stage: an
 * append writes one plain row; the commit that finds STORE_SQLITE_SEARCH_STAGE
 * rows staged moves them all into search_text (and search_doc) at once. A
 * removal from search_text costs an extraction in the commit thread, like the
 * tokenizing of the old text did when search_doc kept it (schema 7 to 9).
 * The FTS5 writes of a transaction wait in the connection's queue
 * (store_sqlite_search_queue) and go in at its commit, by blob id: FTS5 writes
 * out the rows it holds as a segment at every savepoint (and the commit thread
 * takes one per op) and whenever a rowid comes that is not above the last. A
 * savepoint rolled back drops what its op queued; search_doc, search_stage and
 * search_pending, plain tables, change at once.
 */
#include "store/store_internal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define stmt store_sqlite_stmt

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

/* ---- the queue of FTS5 writes ------------------------------------------------------- */

/* Takes terms (left empty) into the queue. */
static void enqueue(struct store_conn *c, int64_t blob_id, bool remove, struct buf *terms)
{
	struct store_sqlite_search_queue *q = store_sqlite_search_queue(c);
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 16;
		q->w = xrealloc(q->w, q->cap * sizeof *q->w);
	}
	q->w[q->n] = (struct store_sqlite_search_write){blob_id, remove, *terms, q->n};
	q->n++;
	*terms = (struct buf)BUF_INIT;
}

/* By blob id, and in the order queued for one blob (its removal before the
   row of a blob that took its id): FTS5 writes out what it holds whenever a
   rowid is not above the last one written. */
static int cmp_write(const void *a, const void *b)
{
	const struct store_sqlite_search_write *x = a, *y = b;
	if (x->blob_id != y->blob_id)
		return x->blob_id < y->blob_id ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void truncate_queue(struct store_sqlite_search_queue *q, size_t n)
{
	while (q->n > n)
		buf_free(&q->w[--q->n].terms);
	if (q->mark > n)
		q->mark = n;
}

void store_sqlite_search_savepoint(struct store_conn *c)
{
	struct store_sqlite_search_queue *q = store_sqlite_search_queue(c);
	q->mark = q->n;
}

void store_sqlite_search_rollback_to(struct store_conn *c)
{
	struct store_sqlite_search_queue *q = store_sqlite_search_queue(c);
	truncate_queue(q, q->mark);
}

void store_sqlite_search_rollback(struct store_conn *c)
{
	truncate_queue(store_sqlite_search_queue(c), 0);
}

/* With STORE_SQLITE_SEARCH_STAGE messages or more staged, queues their rows
   for the index and lists them in search_doc. */
static int unstage(struct store_conn *c)
{
	sqlite3_stmt *st = stmt(c, "SELECT count(*) FROM search_stage");
	int rc = sqlite3_step(st);
	int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc;
	if (n < STORE_SQLITE_SEARCH_STAGE)
		return SQLITE_OK;
	st = stmt(c, "SELECT blob_id, terms FROM search_stage");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t blob_id = sqlite3_column_int64(st, 0);
		struct buf terms = BUF_INIT;
		buf_append(&terms, sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
		enqueue(c, blob_id, false, &terms);
		sqlite3_stmt *ins = stmt(c, "INSERT INTO search_doc(blob_id) VALUES(?)");
		sqlite3_bind_int64(ins, 1, blob_id);
		int r = exec_step(ins);
		if (r != SQLITE_OK) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return rc;
	return exec_step(stmt(c, "DELETE FROM search_stage"));
}

int store_sqlite_search_commit(struct store_conn *c)
{
	struct store_sqlite_search_queue *q = store_sqlite_search_queue(c);
	int rc = unstage(c);
	if (q->n > 1)
		qsort(q->w, q->n, sizeof *q->w, cmp_write);
	for (size_t i = 0; i < q->n && rc == SQLITE_OK; i++) {
		struct store_sqlite_search_write *w = &q->w[i];
		sqlite3_stmt *st =
		        stmt(c, w->remove ? "INSERT INTO search_text(search_text, rowid, terms) "
		                            "VALUES('delete', ?, ?)"
		                          : "INSERT INTO search_text(rowid, terms) VALUES(?, ?)");
		sqlite3_bind_int64(st, 1, w->blob_id);
		bind_buf(st, 2, &w->terms);
		rc = exec_step(st);
		sqlite3_clear_bindings(st);
	}
	truncate_queue(q, 0);
	return rc;
}

/* ---- writes ------------------------------------------------------------------------ */

/* Removes the entry of blob_id, if it has one: its staged words, or its row
   with the words of its bytes. */
static int drop_one(struct store_conn *c, int64_t blob_id)
{
	sqlite3_stmt *st = stmt(c, "DELETE FROM search_stage WHERE blob_id = ?");
	sqlite3_bind_int64(st, 1, blob_id);
	int rc = exec_step(st);
	if (rc != SQLITE_OK || sqlite3_changes(store_sqlite_db(c)) > 0)
		return rc;
	st = stmt(c, "SELECT b.data FROM search_doc d JOIN blob b ON b.id = d.blob_id "
	             "WHERE d.blob_id = ?");
	sqlite3_bind_int64(st, 1, blob_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	struct buf terms = BUF_INIT;
	const char *data = sqlite3_column_blob(st, 0);
	store_search_terms(data ? data : "", (size_t)sqlite3_column_bytes(st, 0), &terms);
	sqlite3_reset(st);
	enqueue(c, blob_id, true, &terms);
	st = stmt(c, "DELETE FROM search_doc WHERE blob_id = ?");
	sqlite3_bind_int64(st, 1, blob_id);
	return exec_step(st);
}

int store_sqlite_search_drop(struct store_conn *c, int64_t blob_id)
{
	if (blob_id)
		return drop_one(c, blob_id);
	int rc = exec_step(stmt(c, "DELETE FROM search_stage WHERE blob_id IN "
	                           "(SELECT blob_id FROM blob_ref WHERE refcount <= 0)"));
	if (rc != SQLITE_OK)
		return rc;
	/* The ids first: rows are removed one by one, each from its bytes. */
	sqlite3_stmt *st = stmt(c, "SELECT d.blob_id FROM search_doc d JOIN blob_ref r "
	                           "ON r.blob_id = d.blob_id WHERE r.refcount <= 0");
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xrealloc(ids, cap * sizeof *ids);
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
		rc = drop_one(c, ids[i]);
	free(ids);
	return rc;
}

/* Writes the entry of blob_id, replacing any older one (fresh: there is none,
   and the blob is not pending): staged, or a row queued for the index; takes
   terms. */
static int put(struct store_conn *c, int64_t blob_id, struct buf *terms, bool fresh, bool stage)
{
	int rc;
	sqlite3_stmt *st;
	if (!fresh) {
		rc = drop_one(c, blob_id);
		if (rc != SQLITE_OK)
			return rc;
		st = stmt(c, "DELETE FROM search_pending WHERE blob_id = ?");
		sqlite3_bind_int64(st, 1, blob_id);
		rc = exec_step(st);
		if (rc != SQLITE_OK)
			return rc;
	}
	if (stage) {
		st = stmt(c, "INSERT INTO search_stage(blob_id, terms) VALUES(?, ?)");
		sqlite3_bind_int64(st, 1, blob_id);
		bind_buf(st, 2, terms);
		rc = exec_step(st);
		sqlite3_clear_bindings(st);
		buf_free(terms);
		return rc;
	}
	enqueue(c, blob_id, false, terms);
	st = stmt(c, "INSERT INTO search_doc(blob_id) VALUES(?)");
	sqlite3_bind_int64(st, 1, blob_id);
	return exec_step(st);
}

/* Does blob_id have an entry, and is it not pending? */
static bool indexed(struct store_conn *c, int64_t blob_id)
{
	sqlite3_stmt *st =
	        stmt(c, "SELECT 1 WHERE (EXISTS (SELECT 1 FROM search_doc WHERE blob_id = ?1) OR "
	                "EXISTS (SELECT 1 FROM search_stage WHERE blob_id = ?1)) AND NOT EXISTS "
	                "(SELECT 1 FROM search_pending WHERE blob_id = ?1)");
	sqlite3_bind_int64(st, 1, blob_id);
	bool r = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return r;
}

static void forget_terms(struct store_op *op)
{
	buf_free(&op->search_terms);
	op->have_search = false;
}

int store_sqlite_search_append(struct store_conn *c, struct store_op *op, int64_t blob_id,
                               bool fresh)
{
	int rc = SQLITE_OK;
	/* A blob that only the queue held until now has no row yet; one that
	   another mailbox holds has it already. */
	if (op->u.append.ntargets > 0 && (fresh || !indexed(c, blob_id))) {
		store_search_prepare(op); /* a no-op unless store_exec or a bounce */
		rc = put(c, blob_id, &op->search_terms, fresh, true);
	}
	forget_terms(op);
	return rc;
}

int store_sqlite_search_put(struct store_conn *c, int64_t blob_id, const uint8_t sha256[32],
                            struct buf *terms, bool *gone_r, struct buf *err)
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
	if (put(c, blob_id, terms, false, false) != SQLITE_OK) {
		read_fail(c, err);
		return -1;
	}
	return 0;
}

/* ---- reads ------------------------------------------------------------------------- */

static void add_uid(uint32_t **uids, size_t *n, size_t *cap, uint32_t uid)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*uids = xrealloc(*uids, *cap * sizeof **uids);
	}
	(*uids)[(*n)++] = uid;
}

static int cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* What a lookup searches: the body pieces, the header piece, or both. */
enum scope { SCOPE_BODY, SCOPE_TEXT, SCOPE_HEADER };

static enum store_lookup candidates(struct store_conn *c, int64_t mailbox_id, const char *needle,
                                    size_t len, enum scope scope, uint32_t **uids_r, size_t *n_r,
                                    struct buf *err)
{
	*uids_r = NULL;
	*n_r = 0;
	struct buf q = BUF_INIT;
	bool with_header = scope == SCOPE_TEXT;
	if (!(scope == SCOPE_HEADER ? store_search_query_header(needle, len, &q)
	                            : store_search_query(needle, len, with_header, &q))) {
		buf_free(&q);
		return STORE_NOT_FOUND;
	}
	/* One snapshot for the index, the pending and the staged blobs: a
	   commit in between could move staged words into the index unseen. */
	store_sqlite_read_begin(c);
	/* From the candidate blobs to the mailbox's messages through the
	   message_blob index (blob_id, then the key mailbox_id, uid). */
	sqlite3_stmt *st = stmt(c, "SELECT m.uid FROM ("
	                           " SELECT rowid AS b FROM search_text WHERE search_text MATCH ?2"
	                           " UNION SELECT blob_id FROM search_pending) AS cand"
	                           " CROSS JOIN message m ON m.blob_id = cand.b"
	                           " WHERE m.mailbox_id = ?1");
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_text(st, 2, buf_cstr(&q), (int)q.len, SQLITE_STATIC);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		add_uid(uids_r, n_r, &cap, (uint32_t)sqlite3_column_int64(st, 0));
	sqlite3_reset(st);
	buf_free(&q);
	if (rc == SQLITE_DONE) {
		/* Staged messages: their words, checked here. */
		st = stmt(c,
		          "SELECT m.uid, s.terms FROM search_stage s"
		          " CROSS JOIN message m ON m.blob_id = s.blob_id WHERE m.mailbox_id = ?");
		sqlite3_bind_int64(st, 1, mailbox_id);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *terms = (const char *)sqlite3_column_text(st, 1);
			size_t tlen = (size_t)sqlite3_column_bytes(st, 1);
			bool may = scope == SCOPE_HEADER
			                   ? store_search_terms_match_header(terms ? terms : "", tlen,
			                                                     needle, len)
			                   : store_search_terms_match(terms ? terms : "", tlen, needle,
			                                              len, with_header);
			if (may)
				add_uid(uids_r, n_r, &cap, (uint32_t)sqlite3_column_int64(st, 0));
		}
		sqlite3_reset(st);
	}
	store_sqlite_read_end(c);
	if (rc != SQLITE_DONE) {
		read_fail(c, err);
		xfree(uids_r);
		*n_r = 0;
		return STORE_ERROR;
	}
	if (*n_r > 1) {
		qsort(*uids_r, *n_r, sizeof **uids_r, cmp_uid);
		size_t k = 1;
		for (size_t i = 1; i < *n_r; i++)
			if ((*uids_r)[i] != (*uids_r)[k - 1])
				(*uids_r)[k++] = (*uids_r)[i];
		*n_r = k;
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
	bool ok;
	int64_t rows = fts_rows(c, "SELECT block FROM search_text_data WHERE id = 1", &ok);
	if (!ok) {
		read_fail(c, err);
		return -1;
	}
	if (rows != docs)
		buf_printf(report,
		           "full-text index search_text holds %lld messages, search_doc %lld\n",
		           (long long)rows, (long long)docs);
	static const char *const checks[] = {
	        /* entries outlive no blob (a blob only the queue holds may keep one) */
	        "SELECT 'search_doc ' || d.blob_id || ' of a blob no one holds' "
	        "FROM search_doc d LEFT JOIN blob_ref r ON r.blob_id = d.blob_id "
	        "WHERE r.blob_id IS NULL OR r.refcount <= 0",
	        "SELECT 'search_stage ' || s.blob_id || ' of a blob no one holds' "
	        "FROM search_stage s LEFT JOIN blob_ref r ON r.blob_id = s.blob_id "
	        "WHERE r.blob_id IS NULL OR r.refcount <= 0",
	        "SELECT 'blob ' || s.blob_id || ' is both staged and indexed' "
	        "FROM search_stage s JOIN search_doc d ON d.blob_id = s.blob_id",
	        /* every message is known to the index or listed as pending */
	        "SELECT DISTINCT 'blob ' || m.blob_id || ' of a message is neither indexed nor "
	        "pending' FROM message m WHERE NOT EXISTS (SELECT 1 FROM search_doc d "
	        "WHERE d.blob_id = m.blob_id) AND NOT EXISTS (SELECT 1 FROM search_stage s "
	        "WHERE s.blob_id = m.blob_id) AND NOT EXISTS (SELECT 1 FROM search_pending p "
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
