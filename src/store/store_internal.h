/*
 * store_internal — the backend table behind store.h.
 *
 * store.c owns what every backend shares: the commit thread and its batching,
 * completions on the loop, watchers, name rules. A backend (store_sqlite.c, later
 * store_pg.c) owns connections and SQL. Each backend connection is used by one
 * thread at a time: the store opens one for writes (the commit thread's, or the
 * caller's in store_exec) and one for reads (the loop's).
 */
#ifndef PETREL_STORE_INTERNAL_H
#define PETREL_STORE_INTERNAL_H

#include "store/store.h"

struct store_conn;

struct store_backend {
	const char *name;
	int (*open)(struct store_conn **c_r, const char *path, bool writer, struct buf *err);
	void (*close)(struct store_conn **c);
	void (*set_tombstones_kept)(struct store_conn *c, uint32_t n);

	/* Transactions on a writer connection. begin/commit fail with STORE_ERR_TEMP. */
	int (*begin)(struct store_conn *c, struct buf *err);
	int (*commit)(struct store_conn *c, struct buf *err);
	void (*rollback)(struct store_conn *c);
	int (*savepoint)(struct store_conn *c, struct buf *err);
	void (*release)(struct store_conn *c);
	void (*rollback_to)(struct store_conn *c);
	/* Performs op inside the open transaction: sets op->result/error/err and
	   appends to op->changes the mailboxes it moved to a new MODSEQ. */
	void (*apply)(struct store_conn *c, struct store_op *op);

	/* Reads. read_begin/read_end: see store_read_begin(); they nest. */
	void (*read_begin)(struct store_conn *c);
	void (*read_end)(struct store_conn *c);
	enum store_lookup (*account_get)(struct store_conn *c, const char *address,
					 struct store_account *a_r, struct buf *err);
	int (*account_list)(struct store_conn *c,
			    void (*fn)(const struct store_account *a, void *arg), void *arg,
			    struct buf *err);
	int (*domain_list)(struct store_conn *c, void (*fn)(const char *name, void *arg), void *arg,
			   struct buf *err);
	enum store_lookup (*domain_exists)(struct store_conn *c, const char *name, struct buf *err);
	int (*alias_list)(struct store_conn *c,
			  void (*fn)(const char *address, const char *target, void *arg), void *arg,
			  struct buf *err);
	/* All targets of alias rows for address (exact match), appended to targets. */
	int (*alias_targets)(struct store_conn *c, const char *address, char ***targets_r,
			     size_t *n_r, struct buf *err);
	enum store_lookup (*mailbox_get)(struct store_conn *c, int64_t account_id,
					 const char *name, struct store_mailbox *m_r,
					 struct buf *err);
	int (*mailbox_list)(struct store_conn *c, int64_t account_id,
			    void (*fn)(const struct store_mailbox *m, void *arg), void *arg,
			    struct buf *err);
	int (*subscription_list)(struct store_conn *c, int64_t account_id,
				 void (*fn)(const char *name, void *arg), void *arg,
				 struct buf *err);
	int (*message_list)(struct store_conn *c, int64_t mailbox_id, uint32_t uid_min,
			    uint32_t uid_max, void (*fn)(const struct store_message *m, void *arg),
			    void *arg, struct buf *err);
	int (*message_meta)(struct store_conn *c, int64_t mailbox_id, uint32_t uid_min,
	                    uint32_t uid_max, uint64_t modseq,
	                    void (*fn)(const struct store_message *m, void *arg), void *arg,
	                    struct buf *err);
	enum store_lookup (*message_cache)(struct store_conn *c, int64_t mailbox_id, uint32_t uid,
					   struct buf *envelope, struct buf *bodystructure,
					   struct buf *err);
	int (*message_cache_list)(struct store_conn *c, int64_t mailbox_id, uint32_t uid_min,
	                          uint32_t uid_max, bool envelope, bool bodystructure,
	                          void (*fn)(const struct store_message_cached *m, void *arg),
	                          void *arg, struct buf *err);
	int (*blob_read)(struct store_conn *c, int64_t blob_id, struct buf *out, struct buf *err);
	enum store_lookup (*message_view)(struct store_conn *c, int64_t mailbox_id, uint32_t uid,
	                                  void (*fn)(const char *p, size_t n, void *arg), void *arg,
	                                  struct buf *err);
	enum store_lookup (*message_header_read)(struct store_conn *c, int64_t mailbox_id,
	                                         uint32_t uid, struct buf *out, struct buf *err);
	int (*changes)(struct store_conn *c, int64_t mailbox_id, uint64_t modseq,
		       void (*changed)(const struct store_message *m, void *arg),
		       void (*expunged)(uint32_t uid, uint64_t modseq, void *arg), void *arg,
		       bool *complete_r, struct buf *err);
	int (*check)(struct store_conn *c, struct buf *report, struct buf *err);

	/* The outbound queue (see store.h). */
	enum store_lookup (*queue_next_due)(struct store_conn *c, int64_t now, int64_t *when_r,
					    struct buf *err);
	int (*queue_list)(struct store_conn *c, int64_t queue_id,
			  void (*fn)(const struct store_queue_entry *e, void *arg), void *arg,
			  struct buf *err);
	int (*event_list)(struct store_conn *c, int64_t queue_id, const char *rcpt,
			  void (*fn)(const struct store_event *e, void *arg), void *arg,
			  struct buf *err);

	/* The HTTP API (see store.h). */
	enum store_lookup (*apikey_find)(struct store_conn *c, const unsigned char hash[32],
					 struct store_apikey *k_r, struct buf *err);
	int (*apikey_list)(struct store_conn *c,
			   void (*fn)(const struct store_apikey *k, void *arg), void *arg,
			   struct buf *err);
	enum store_lookup (*idempotency_get)(struct store_conn *c, int64_t api_key_id,
					     const char *idem_key, int64_t since,
					     unsigned char hash_r[32], struct buf *response_r,
					     struct buf *err);
	enum store_lookup (*api_message_get)(struct store_conn *c, int64_t api_key_id,
					     const char *public_id,
					     struct store_api_message *m_r, struct buf *err);
	int (*api_events)(struct store_conn *c, int64_t api_key_id, int64_t after, size_t limit,
			  const char *kind, const char *rcpt, const char *tag,
			  void (*fn)(const struct store_api_event *e, void *arg), void *arg,
			  struct buf *err);
	int (*stats_queue)(struct store_conn *c, uint64_t *queued_r, uint64_t *deferred_r,
			   int64_t *oldest_r, struct buf *err);

	/* DKIM keys (see store.h); domain is normalised, or NULL. */
	int (*dkim_key_list)(struct store_conn *c, const char *domain,
			     void (*fn)(const struct store_dkim_key *k, void *arg), void *arg,
			     struct buf *err);
	/* Webhooks (see store.h). */
	int (*webhook_list)(struct store_conn *c,
			    void (*fn)(const struct store_webhook *w, void *arg), void *arg,
			    struct buf *err);
	int (*webhook_due)(struct store_conn *c, int64_t now_ms, size_t limit,
			   void (*fn)(const struct store_webhook_delivery *d, void *arg), void *arg,
			   struct buf *err);
	enum store_lookup (*webhook_delivery_state)(struct store_conn *c, int64_t id,
						    struct buf *state_r, unsigned *attempts_r,
						    int *status_r, struct buf *error_r,
						    struct buf *err);
	int (*webhook_backlog)(struct store_conn *c, uint64_t *pending_r, int64_t *oldest_ms_r,
			       uint64_t *unscanned_r, struct buf *err);
	/* The full-text index (see store.h). */
	enum store_lookup (*search_candidates)(struct store_conn *c, int64_t mailbox_id,
					       const char *needle, size_t len, bool with_header,
					       uint32_t **uids_r, size_t *n_r, struct buf *err);
	enum store_lookup (*search_header_candidates)(struct store_conn *c, int64_t mailbox_id,
	                                              const char *needle, size_t len,
	                                              uint32_t **uids_r, size_t *n_r,
	                                              struct buf *err);
	/* Up to max blob ids above after, ascending, held by account_id's mailboxes
	   (0: any) and listed in search_pending (all: every one). */
	int (*search_pending)(struct store_conn *c, int64_t account_id, bool all, int64_t after,
			      size_t max, int64_t *ids_r, size_t *n_r, struct buf *err);
	/* The bytes of a blob (appended to out); STORE_NOT_FOUND when it is gone. */
	enum store_lookup (*search_blob)(struct store_conn *c, int64_t blob_id, struct buf *out,
					 struct buf *err);
	/* Inside a transaction of the writer: (re)writes the entry of blob_id when
	   the blob is still the one whose SHA-256 is given, taking terms; *gone_r
	   otherwise. */
	int (*search_put)(struct store_conn *c, int64_t blob_id, const uint8_t sha256[32],
	                  struct buf *terms, bool *gone_r, struct buf *err);

	/* URLAUTH keys (see store.h). */
	enum store_lookup (*urlauth_key_get)(struct store_conn *c, int64_t account_id,
					     int64_t mailbox_id,
					     unsigned char key_r[STORE_URLAUTH_KEY_LEN],
					     struct buf *err);
};

extern const struct store_backend store_backend_sqlite;

/* store_schema.c: brings an SQLite database to store_schema_version(). */
struct sqlite3;
int store_sqlite_migrate(struct sqlite3 *db, const char *path, struct buf *err);

/* Fills op->search_terms for an append to a mailbox (a no-op when done
   already, or when the append has no mailbox target). */
void store_search_prepare(struct store_op *op);

/* store_search.c: the full-text index's vocabulary (pure; see its header).
   store_search_terms() appends the terms of a raw message, words separated by
   spaces: the same words for the same bytes, always. */
#define STORE_SEARCH_MAX_TRIGRAMS 12 /* trigrams of one lookup: narrow, yet cheap */
void store_search_terms(const char *msg, size_t len, struct buf *terms);
/* The same from the message header's and the body's search texts. */
void store_search_terms_of_texts(const char *header, size_t header_len, const char *body,
                                 size_t body_len, struct buf *terms);
/* Appends to q the FTS5 query that finds the messages whose texts may hold
   needle (with_header: the header text too); false when the needle cannot
   be looked up (fewer than STORE_SEARCH_MIN_CHARS characters, not UTF-8). */
bool store_search_query(const char *needle, size_t len, bool with_header, struct buf *q);
/* The same for the header text alone (SEARCH of header fields). */
bool store_search_query_header(const char *needle, size_t len, struct buf *q);
/* What that query answers for one message's terms: false when the message
   cannot hold needle; true when it may, or when the needle cannot be looked
   up. */
bool store_search_terms_match(const char *terms, size_t len, const char *needle, size_t nlen,
                              bool with_header);
/* The same for the header text alone. */
bool store_search_terms_match_header(const char *terms, size_t len, const char *needle,
                                     size_t nlen);

/* Shared helpers for backends. */
void store_op_fail(struct store_op *op, enum store_error e, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
void store_op_changed(struct store_op *op, int64_t mailbox_id, uint64_t modseq);
/* The default folders every new account gets: name and special-use. */
struct store_default_mailbox {
	const char *name;
	const char *special_use;
};
extern const struct store_default_mailbox store_default_mailboxes[];
extern const size_t store_n_default_mailboxes;
/* Validates a UTF-8 mailbox name (no control characters, no empty levels). */
int store_mailbox_name_check(const char *name, struct buf *err);

/*
 * store_sqlite_api.c: the HTTP API's part of the SQLite backend. It reaches the
 * connection through these few hooks of store_sqlite.c.
 */
struct sqlite3_stmt;
struct sqlite3_stmt *store_sqlite_stmt(struct store_conn *c, const char *sql);
/* A read transaction on c unless one is open already; pairs nest. */
void store_sqlite_read_begin(struct store_conn *c);
void store_sqlite_read_end(struct store_conn *c);
struct sqlite3 *store_sqlite_db(struct store_conn *c);
void store_sqlite_op_sql_fail(struct store_op *op, struct store_conn *c, int rc);
/* A delivery event from columns 0-11 of a row selected as
   id, queue_id, rcpt, kind, at, mx, remote_ip, source_ip, tls, reply, attempt,
   next_attempt (strings point into the row). */
void store_sqlite_event_from_row(struct sqlite3_stmt *st, struct store_event *e);
/* STORE_OP_APIKEY_ADD and STORE_OP_APIKEY_REVOKE. */
void store_sqlite_api_apply(struct store_conn *c, struct store_op *op);
/* The end of an append with op->u.append.api set (inside its savepoint). */
void store_sqlite_api_append(struct store_conn *c, struct store_op *op);
enum store_lookup store_sqlite_apikey_find(struct store_conn *c, const unsigned char hash[32],
					   struct store_apikey *k_r, struct buf *err);
int store_sqlite_apikey_list(struct store_conn *c,
			     void (*fn)(const struct store_apikey *k, void *arg), void *arg,
			     struct buf *err);
enum store_lookup store_sqlite_idempotency_get(struct store_conn *c, int64_t api_key_id,
					       const char *idem_key, int64_t since,
					       unsigned char hash_r[32], struct buf *response_r,
					       struct buf *err);
enum store_lookup store_sqlite_api_message_get(struct store_conn *c, int64_t api_key_id,
					       const char *public_id,
					       struct store_api_message *m_r, struct buf *err);
int store_sqlite_api_events(struct store_conn *c, int64_t api_key_id, int64_t after, size_t limit,
			    const char *kind, const char *rcpt, const char *tag,
			    void (*fn)(const struct store_api_event *e, void *arg), void *arg,
			    struct buf *err);
int store_sqlite_stats_queue(struct store_conn *c, uint64_t *queued_r, uint64_t *deferred_r,
			     int64_t *oldest_r, struct buf *err);

/* store_sqlite_dkim.c: DKIM keys, through the same hooks. */
void store_sqlite_dkim_apply(struct store_conn *c, struct store_op *op);
int store_sqlite_dkim_key_list(struct store_conn *c, const char *domain,
			       void (*fn)(const struct store_dkim_key *k, void *arg), void *arg,
			       struct buf *err);
/* store_sqlite_webhook.c: webhooks and their deliveries, through the same hooks. */
void store_sqlite_webhook_apply(struct store_conn *c, struct store_op *op);
int store_sqlite_webhook_list(struct store_conn *c,
			      void (*fn)(const struct store_webhook *w, void *arg), void *arg,
			      struct buf *err);
int store_sqlite_webhook_due(struct store_conn *c, int64_t now_ms, size_t limit,
			     void (*fn)(const struct store_webhook_delivery *d, void *arg),
			     void *arg, struct buf *err);
enum store_lookup store_sqlite_webhook_delivery_state(struct store_conn *c, int64_t id,
						      struct buf *state_r, unsigned *attempts_r,
						      int *status_r, struct buf *error_r,
						      struct buf *err);
int store_sqlite_webhook_backlog(struct store_conn *c, uint64_t *pending_r, int64_t *oldest_ms_r,
				 uint64_t *unscanned_r, struct buf *err);
/* store_sqlite_search.c: the full-text index of the SQLite backend. New
   messages' words wait in search_stage until a commit finds this many there
   and moves them into the index together (see the file's header comment). */
#define STORE_SQLITE_SEARCH_STAGE 128
/* Its FTS5 writes wait in the writer connection's queue until the commit,
   outside every savepoint, and go in by blob id (in queue order for one id):
   FTS5 writes out the rows it holds at each savepoint and whenever a rowid is
   not above the last one, which would make an index segment per op. */
struct store_sqlite_search_write {
	int64_t blob_id;
	bool remove; /* else insert */
	struct buf terms;
	size_t seq; /* place in the queue */
};
struct store_sqlite_search_queue {
	struct store_sqlite_search_write *w;
	size_t n, cap;
	size_t mark; /* n when the op's savepoint was taken */
};
struct store_sqlite_search_queue *store_sqlite_search_queue(struct store_conn *c);
/* Savepoint, rollback to it, rollback of the transaction: the queue follows. */
void store_sqlite_search_savepoint(struct store_conn *c);
void store_sqlite_search_rollback_to(struct store_conn *c);
void store_sqlite_search_rollback(struct store_conn *c);
/* Writes the queue into the index, just before COMMIT; an SQLite code. */
int store_sqlite_search_commit(struct store_conn *c);
/* Indexes an appended blob unless it has a current entry (inside the append's
   savepoint); fresh: the append has just created the blob. An SQLite code. */
int store_sqlite_search_append(struct store_conn *c, struct store_op *op, int64_t blob_id,
                               bool fresh);
/* Removes the entry of blob_id, or with blob_id 0 of every blob whose
   refcount is 0 or less, while the blobs' bytes are still there (the terms to
   remove are made from them). An SQLite code. */
int store_sqlite_search_drop(struct store_conn *c, int64_t blob_id);
/* Appends to report the index's problems (one line each). */
int store_sqlite_search_check(struct store_conn *c, struct buf *report, struct buf *err);
enum store_lookup store_sqlite_search_candidates(struct store_conn *c, int64_t mailbox_id,
						 const char *needle, size_t len, bool with_header,
						 uint32_t **uids_r, size_t *n_r, struct buf *err);
enum store_lookup store_sqlite_search_header_candidates(struct store_conn *c, int64_t mailbox_id,
                                                        const char *needle, size_t len,
                                                        uint32_t **uids_r, size_t *n_r,
                                                        struct buf *err);
int store_sqlite_search_pending(struct store_conn *c, int64_t account_id, bool all, int64_t after,
				size_t max, int64_t *ids_r, size_t *n_r, struct buf *err);
enum store_lookup store_sqlite_search_blob(struct store_conn *c, int64_t blob_id, struct buf *out,
					   struct buf *err);
int store_sqlite_search_put(struct store_conn *c, int64_t blob_id, const uint8_t sha256[32],
                            struct buf *terms, bool *gone_r, struct buf *err);

/* store_sqlite_urlauth.c: IMAP URLAUTH keys, through the same hooks. */
void store_sqlite_urlauth_apply(struct store_conn *c, struct store_op *op);
enum store_lookup store_sqlite_urlauth_key_get(struct store_conn *c, int64_t account_id,
					       int64_t mailbox_id,
					       unsigned char key_r[STORE_URLAUTH_KEY_LEN],
					       struct buf *err);

#endif
