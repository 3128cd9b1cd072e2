/*
 * store — the one interface through which every protocol reads and writes mail.
 *
 * Model (docs/ARCHITECTURE.md has the schema): domains, accounts, aliases,
 * mailboxes (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ), messages (UID, MODSEQ, flags,
 * keywords, INTERNALDATE, size, blob), expunge tombstones, blobs shared by every
 * copy of a message, the outbound queue and its delivery events.
 *
 * Writes. Every write is a struct store_op. In the server, ops are handed to the
 * commit thread with store_submit(): it runs every op that is waiting in one
 * transaction, each inside its own savepoint (one op's failure does not fail its
 * neighbours), commits with one fsync (group commit), and then calls each op's
 * completion on the event loop. Only then is the write durable: a protocol sends
 * its 250 / OK / 202 from the completion, never before. Outside the server (the
 * CLI, tests) store_exec() runs one op in its own durable transaction on the
 * caller's thread.
 *
 * Every mailbox change (append, flags, expunge) takes the mailbox's next MODSEQ
 * in the same transaction; an expunge leaves a tombstone (uid, modseq). After
 * the commit, watchers of the mailbox (store_watch) hear "mailbox M reached
 * MODSEQ n" on the loop and ask store_changes() what happened since their own
 * last MODSEQ. That is the one sync mechanism for NOOP, IDLE, CONDSTORE,
 * QRESYNC and POP3.
 *
 * Reads are synchronous, on the caller's thread, over a read connection of their
 * own (SQLite WAL: readers never wait for the writer).
 *
 * Errors: -1 with a one-line reason in op->err / err, and op->error saying why;
 * STORE_ERR_TEMP (disk full, database busy, I/O error) means retrying later may
 * work — the protocol answers 4xx / NO / 503 then; every other error is
 * permanent. Reads return STORE_ERROR only for such environmental failures. Nothing is ever half-written: each op is all or nothing.
 *
 * Names: addresses and domain names are stored lower-cased (ASCII); callers may
 * pass any case. Mailbox names are UTF-8 with '/' as the hierarchy separator;
 * "INBOX" is case-insensitive.
 */
#ifndef PETREL_STORE_H
#define PETREL_STORE_H

#include "core/core.h"

struct config;
struct event_base;
struct store;
struct store_api_send;

#define STORE_MAX_ADDRESS 254     /* RFC 5321 path limit */
#define STORE_MAX_DOMAIN 253
#define STORE_MAX_MAILBOX_NAME 1000 /* bytes of a UTF-8 mailbox name */
#define STORE_MAX_KEYWORD 128
#define STORE_MAX_ALIAS_DEPTH 8   /* nested aliases followed at most this deep */
#define STORE_MAX_BATCH 512       /* ops in one group commit */
#define STORE_URLAUTH_KEY_LEN 32  /* bytes of a mailbox's URLAUTH key */

/* System flags as bits; keywords are separate strings. */
enum store_flag {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
	STORE_FLAG_RECENT = 1 << 5, /* IMAP4rev1 \Recent: set on delivery */
};

/* ---- opening ---------------------------------------------------------------- */

/* Opens (creating and migrating as needed) the store named by cfg. */
/* Expunge tombstones kept per mailbox (the default of [store] tombstones):
   older ones are compacted away and the mailbox's tombstone floor rises, so
   store_changes() since an older MODSEQ says its expunge list is incomplete. */
#define STORE_TOMBSTONES_KEPT 100000

int store_open(struct store **st_r, const struct config *cfg, struct buf *err);
/* Opens an SQLite store at path (tests, tools). */
int store_open_path(struct store **st_r, const char *path, struct buf *err);
/* Stops the commit thread (finishing queued ops) and closes. */
void store_close(struct store **st);
/* Starts the commit thread; completions are delivered on base. */
int store_start(struct store *st, struct event_base *base, struct buf *err);
/* The schema version this binary writes. */
int store_schema_version(void);

/* ---- write operations --------------------------------------------------------- */

enum store_op_kind {
	STORE_OP_DOMAIN_ADD,
	STORE_OP_DOMAIN_REMOVE,
	STORE_OP_ACCOUNT_ADD,
	STORE_OP_ACCOUNT_REMOVE,
	STORE_OP_ACCOUNT_PASSWORD,
	STORE_OP_ACCOUNT_QUOTA,
	STORE_OP_ALIAS_ADD,
	STORE_OP_ALIAS_REMOVE,
	STORE_OP_MAILBOX_CREATE,
	STORE_OP_MAILBOX_DELETE,    /* the mailbox and its messages; its children and
				       subscription stay */
	STORE_OP_MAILBOX_RENAME,    /* with its children and their subscriptions; INBOX:
				       moves its messages */
	STORE_OP_MAILBOX_SUBSCRIBE, /* adds or removes a name, mailbox or not */
	STORE_OP_APPEND,
	STORE_OP_FLAGS,
	STORE_OP_EXPUNGE,
	STORE_OP_COPY,
	STORE_OP_QUEUE_CLAIM,   /* take due recipients for delivery (see "outbound queue") */
	STORE_OP_QUEUE_OUTCOME, /* record one attempt's results, finish the message */
	STORE_OP_QUEUE_ADMIN,   /* flush, hold, release, remove, recover */
	STORE_OP_APIKEY_ADD,    /* an HTTP API key (see "the HTTP API") */
	STORE_OP_APIKEY_REVOKE, /* it stops working at once */
	STORE_OP_DKIM_KEY_ADD,    /* a domain's DKIM signing key (see "DKIM keys") */
	STORE_OP_DKIM_KEY_REMOVE, /* by domain and selector */
	STORE_OP_WEBHOOK_ADD,    /* a webhook (see "webhooks") */
	STORE_OP_WEBHOOK_REMOVE, /* with its deliveries */
	STORE_OP_WEBHOOK_TEST,   /* a test delivery to one webhook */
	STORE_OP_WEBHOOK_SCAN,   /* new events become deliveries */
	STORE_OP_WEBHOOK_RESULT, /* one attempt's result */
	STORE_OP_URLAUTH_KEY_SET,   /* a mailbox's URLAUTH key, if it has none (see "URLAUTH keys") */
	STORE_OP_URLAUTH_KEY_RESET, /* forget a mailbox's key, or every key of an account */
};

/* One target of an append: a mailbox, with the message's initial state. */
struct store_append_target {
	int64_t mailbox_id;
	uint32_t flags;   /* enum store_flag bits */
	char **keywords;  /* NULL-terminated, may be NULL */
	/* results */
	uint32_t uid_r;
	uint64_t modseq_r;
	uint32_t uidvalidity_r;
};

/* One recipient of an outbound queue entry made by an append (RFC 3461 data). */
struct store_queue_rcpt {
	const char *rcpt;       /* the address to deliver to */
	const char *dsn_notify; /* "SUCCESS,FAILURE" ... or NULL */
	const char *dsn_orcpt;  /* "rfc822;addr" (decoded) or NULL */
};

enum store_flags_mode { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };

/*
 * The outbound queue. A queue message (the blob, the envelope sender, RFC 3461
 * data) has recipients, each with a state:
 *   queued    waiting for its first attempt
 *   deferred  an attempt failed temporarily; next_attempt says when to retry
 *   delivered / bounced / expired / failed   final
 * A recipient is due when it is queued or deferred, next_attempt <= now, it is
 * not held and no delivery holds a claim (lease) on it. STORE_OP_QUEUE_CLAIM
 * takes due recipients and leases them for lease seconds, so that nothing
 * delivers a recipient twice; STORE_OP_QUEUE_OUTCOME records each recipient's
 * result with its delivery event (the receipt) and drops the lease. When every
 * recipient of a message is final, the queue message goes (with its reference
 * to the blob); its events stay. A process that restarts recovers its leases
 * with STORE_QUEUE_RECOVER (one node: every lease is its own).
 */
#define STORE_QUEUE_MAX_CLAIM 1000 /* recipients one claim may take */

/* A claimed recipient with its message's envelope (owned by the op). */
struct store_queue_item {
	int64_t rcpt_id;
	int64_t queue_id;
	char *rcpt;
	char *dsn_notify; /* NULL when none */
	char *dsn_orcpt;  /* NULL when none */
	unsigned attempts; /* attempts made before this one */
	bool delay_warned; /* the sender was told of a delay already */
	/* the message */
	char *env_from; /* "" for <> */
	char *dsn_ret;  /* NULL when none */
	char *dsn_envid;
	char *source;
	int64_t account_id; /* 0 when none */
	char *pool;         /* the source-IP pool its API key names, NULL when none */
	int64_t blob_id;
	uint64_t size;
	int64_t created; /* seconds since the epoch */
};

/* One recipient's result of an attempt. */
struct store_queue_result {
	int64_t rcpt_id;
	const char *state;    /* new state: "deferred", "delivered", "bounced", "expired", "failed" */
	const char *kind;     /* event kind: usually the state */
	int64_t next_attempt; /* seconds; deferred only */
	bool attempted;       /* counts as an attempt (attempts + 1) */
	const char *reply;    /* the remote reply or our reason, one line; may be NULL */
	const char *mx;       /* remote host name, or NULL */
	const char *remote_ip;
	const char *source_ip;
	const char *tls; /* "TLSv1.3 TLS_AES_256_GCM_SHA384", or NULL */
	bool delay_warned; /* the sender is told of the delay in this op (kept) */
};

enum store_queue_action {
	STORE_QUEUE_FLUSH,   /* deferred recipients become due now */
	STORE_QUEUE_HOLD,    /* recipients are not delivered until released */
	STORE_QUEUE_RELEASE, /* held recipients become due now */
	STORE_QUEUE_REMOVE,  /* the message goes, with a "removed" event per recipient */
	STORE_QUEUE_RECOVER, /* every lease is dropped (start-up of the one node) */
};

enum store_error {
	STORE_OK = 0,
	STORE_ERR_TEMP,     /* disk full, I/O error, busy: retry later (4xx / NO / 503) */
	STORE_ERR_NOTFOUND, /* a named domain, account, mailbox or message does not exist */
	STORE_ERR_EXISTS,   /* already there */
	STORE_ERR_INVALID,  /* a bad name or argument */
	STORE_ERR_QUOTA,    /* the account's quota would be exceeded */
	STORE_ERR_NONEMPTY, /* e.g. a domain that still has accounts */
};

struct store_change {
	int64_t mailbox_id;
	uint64_t modseq;
};

struct store_op;
typedef void store_done_fn(struct store_op *op, void *arg);

struct store_op {
	enum store_op_kind kind;
	union {
		struct {
			const char *name;
		} domain;
		struct {
			const char *address;
			const char *password_hash; /* may be NULL: no password login */
			const char *scram;         /* RFC 5803 text, may be NULL */
			uint64_t quota_bytes;      /* 0 = unlimited */
			int64_t id_r;
		} account;
		struct {
			const char *address; /* "user@dom" or "@dom" (catch-all) */
			const char *const *targets; /* NULL-terminated; add only */
		} alias;
		struct {
			int64_t account_id;
			const char *name;
			const char *special_use; /* "\\Sent" etc. or NULL (CREATE) */
			const char *new_name;    /* RENAME */
			bool subscribed;         /* SUBSCRIBE */
			bool unsubscribed;       /* CREATE: leave what it makes unsubscribed */
			int64_t id_r;
		} mailbox;
		struct {
			const char *data; /* the raw message, CRLF line ends */
			size_t len;
			int64_t internaldate; /* seconds since the epoch; 0 = now */
			const char *envelope;      /* cached IMAP ENVELOPE, may be NULL */
			const char *bodystructure; /* cached BODYSTRUCTURE, may be NULL */
			struct store_append_target *targets;
			size_t ntargets;
			/* Outbound: recipients to queue, sharing the same blob, in
			   the same transaction (nqueue may be the only target). A
			   "queued" delivery event is written for each. */
			const struct store_queue_rcpt *queue;
			size_t nqueue;
			const char *env_from;  /* reverse path, "" for <> */
			const char *dsn_ret;   /* "FULL" / "HDRS" or NULL */
			const char *dsn_envid; /* decoded, or NULL */
			const char *source;    /* "smtp", "submission", "api", ... */
			int64_t account_id;    /* the authenticated sender, or 0 */
			int64_t queue_id_r;
			/* A send through the HTTP API, or NULL (see "the HTTP API"). */
			const struct store_api_send *api;
			/* More appends committed with this one, all or none
			   (IMAP MULTIAPPEND): a chain through their own
			   u.append.more; each gets its own results, and the
			   first failure fails this op. NULL when none. */
			struct store_op *more;
		} append;
		struct {
			int64_t mailbox_id;
			const uint32_t *uids; /* sorted ascending */
			size_t nuids;
			enum store_flags_mode mode;
			uint32_t flags;
			const char *const *keywords; /* NULL-terminated, may be NULL */
			uint64_t unchangedsince;     /* 0 = unconditional */
			/* results: the modseq given to the changed messages, and
			   the uids that failed UNCHANGEDSINCE (owned by the op) */
			uint64_t modseq_r;
			uint32_t *modified_r;
			size_t nmodified_r;
		} flags;
		struct {
			int64_t mailbox_id;
			const uint32_t *uids; /* NULL: every message with \Deleted */
			size_t nuids;
			/* results: the expunged uids, ascending (owned by the op) */
			uint32_t *expunged_r;
			size_t nexpunged_r;
			uint64_t modseq_r;
		} expunge;
		struct {
			int64_t from_mailbox_id;
			int64_t to_mailbox_id;
			const uint32_t *uids; /* sorted ascending */
			size_t nuids;
			bool move; /* expunge the sources in the same transaction */
			/* results (owned by the op): the source uids that were still
			   there and their new uids, pairwise, in the order of uids */
			uint32_t *src_uids_r;
			uint32_t *new_uids_r;
			size_t ncopied_r;
			uint32_t to_uidvalidity_r;
		} copy;
		struct {
			int64_t now;   /* seconds; 0 = the current time */
			int64_t lease; /* seconds the claim holds */
			size_t max;    /* at most this many (<= STORE_QUEUE_MAX_CLAIM) */
			/* results, owned by the op: by queue id, then recipient id */
			struct store_queue_item *items_r;
			size_t nitems_r;
		} claim;
		struct {
			const struct store_queue_result *results;
			size_t nresults;
			/* An APPEND run in the same transaction (a bounce to the
			   sender), or NULL: the bounce exists if and only if the
			   results are recorded. Its failure fails this op. */
			struct store_op *also;
			/* results: queue messages finished (every recipient final) */
			size_t finished_r;
		} outcome;
		struct {
			enum store_queue_action action;
			int64_t queue_id; /* 0 = every message (FLUSH, HOLD, RELEASE) */
			size_t count_r;   /* recipients changed */
		} queue;
		struct {
			const char *name;
			const unsigned char *hash; /* SHA-256 of the key (32 bytes), ADD */
			const char *domains; /* "a.example,b.example"; NULL: every local domain */
			const char *pool;    /* source-IP pool, or NULL */
			double rate;         /* messages per second, 0: no limit */
			int64_t id_r;
		} apikey;
		struct {
			const char *domain;      /* a local domain */
			const char *selector;    /* DNS labels: letters, digits, '-', '.' */
			const char *algorithm;   /* "rsa" or "ed25519" (ADD) */
			const char *private_key; /* PEM (ADD) */
			int64_t id_r;
		} dkim;
		struct {
			int64_t id; /* REMOVE, TEST: the webhook */
			/* ADD */
			const char *url;
			const char *secret;
			const char *events;   /* "delivered,bounced"; NULL or "": every kind */
			const char *key_name; /* only this API key's messages; NULL: every key's */
			/* SCAN */
			int64_t now_ms;
			bool prune; /* also drop deliveries finished STORE_WEBHOOK_KEEP_MS ago */
			/* RESULT: one attempt of delivery_id, made at now_ms */
			int64_t delivery_id;
			bool ok;                 /* the receiver answered 2xx */
			bool give_up;            /* not ok, and no more attempts */
			int status;              /* HTTP status, 0 when none came */
			const char *error;       /* why not ok, one line, or NULL */
			int64_t next_attempt_ms; /* not ok and not give_up */
			/* results */
			int64_t id_r;   /* ADD: the webhook; TEST: the delivery */
			size_t count_r; /* SCAN: deliveries made */
		} webhook;
		struct {
			int64_t account_id;
			int64_t mailbox_id; /* RESET: 0 = every mailbox of the account */
			/* SET: the key to store when the mailbox has none yet */
			unsigned char key[STORE_URLAUTH_KEY_LEN];
			/* SET result: the key in force after the op (the one given, or the
			   mailbox's existing one) */
			unsigned char key_r[STORE_URLAUTH_KEY_LEN];
			size_t count_r; /* RESET: keys forgotten */
		} urlauth;
	} u;

	/* Results common to every op. */
	int result;             /* 0 ok, -1 failed */
	enum store_error error; /* why it failed */
	struct buf err;         /* one-line reason */

	/* Private to the store. */
	store_done_fn *done;
	void *done_arg;
	struct store_op *next;
	struct store_change *changes; /* mailboxes that reached a new MODSEQ */
	size_t nchanges;
	uint8_t sha256[32]; /* APPEND: the blob's hash, computed by store_submit's caller */
	bool have_sha256;
	/* APPEND to a mailbox: the terms for the full-text index
	   (store_search_terms), made on store_submit's caller's thread too;
	   freed once applied. */
	struct buf search_terms;
	bool have_search;
};

/* Zeroes an op and sets its kind. */
void store_op_init(struct store_op *op, enum store_op_kind kind);
/* Frees what the store allocated inside op (results, err). */
void store_op_clear(struct store_op *op);

/* Server: queue op for the next group commit; done(op, arg) runs on the loop
   after the transaction is durable (or failed). The op must stay alive. */
void store_submit(struct store *st, struct store_op *op, store_done_fn *done, void *arg);
/* The CPU work store_submit does for an APPEND (and its chain) on the
   submitter's thread: the SHA-256 of the bytes and the full-text index's
   terms. It touches only the op, so a worker thread may do it before the
   loop submits; store_submit then skips it. */
void store_op_prepare(struct store_op *op);
/* Runs one op in its own durable transaction on this thread (CLI, tests, server
   start-up before store_start). Safe while another process writes (SQLite
   locking); a bug to call while this process's commit thread runs. Returns
   op->result. */
int store_exec(struct store *st, struct store_op *op);

/* ---- change notification -------------------------------------------------------- */

struct store_watch;
typedef void store_watch_fn(int64_t mailbox_id, uint64_t modseq, void *arg);

/* Calls fn on the loop after every committed change to mailbox_id; modseq is 0
   when the change was a rename or a delete of the mailbox (or of a parent). */
struct store_watch *store_watch_add(struct store *st, int64_t mailbox_id, store_watch_fn *fn,
				    void *arg);
void store_watch_remove(struct store *st, struct store_watch **w);

/* ---- reads -------------------------------------------------------------------- */

struct store_account {
	int64_t id;
	char *address;
	char *password_hash; /* "" when none */
	char *scram;         /* "" when none */
	uint64_t quota_bytes;
	uint64_t used_bytes;
	int64_t created;
};
void store_account_clear(struct store_account *a);

enum store_lookup { STORE_FOUND = 0, STORE_NOT_FOUND = 1, STORE_ERROR = -1 };

enum store_lookup store_account_get(struct store *st, const char *address,
				    struct store_account *a_r, struct buf *err);
int store_account_list(struct store *st, void (*fn)(const struct store_account *a, void *arg),
		       void *arg, struct buf *err);

int store_domain_list(struct store *st, void (*fn)(const char *name, void *arg), void *arg,
		      struct buf *err);
enum store_lookup store_domain_exists(struct store *st, const char *name, struct buf *err);

int store_alias_list(struct store *st, void (*fn)(const char *address, const char *target,
						   void *arg),
		     void *arg, struct buf *err);

/*
 * Resolves a recipient address to local accounts: exact account, then aliases
 * (nested, at most STORE_MAX_ALIAS_DEPTH deep, loops ignored), sub-addressing
 * (user+tag@dom -> user@dom, *tag_r = "tag"), then the domain's catch-all.
 * Targets that are foreign addresses are returned in foreign_r. Returns
 * STORE_NOT_FOUND when nothing local or foreign matched.
 */
struct store_rcpt {
	int64_t *account_ids;
	size_t naccounts;
	char **foreign; /* addresses outside our domains reached through aliases */
	size_t nforeign;
	char *tag; /* sub-address tag, or NULL */
};
void store_rcpt_clear(struct store_rcpt *r);
enum store_lookup store_rcpt_resolve(struct store *st, const char *address,
				     struct store_rcpt *r, struct buf *err);

struct store_mailbox {
	int64_t id;
	int64_t account_id;
	char *name;
	char *special_use; /* "" when none */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	bool subscribed;   /* its name is subscribed */
	uint32_t messages; /* count */
	uint32_t unseen;
	uint64_t size; /* bytes */
};
void store_mailbox_clear(struct store_mailbox *m);
enum store_lookup store_mailbox_get(struct store *st, int64_t account_id, const char *name,
				    struct store_mailbox *m_r, struct buf *err);
int store_mailbox_list(struct store *st, int64_t account_id,
		       void (*fn)(const struct store_mailbox *m, void *arg), void *arg,
		       struct buf *err);

/* The subscribed names of an account, sorted (byte order), whether a mailbox
   has the name or not. The strings live only during the call. */
int store_subscription_list(struct store *st, int64_t account_id,
			    void (*fn)(const char *name, void *arg), void *arg, struct buf *err);

struct store_message {
	uint32_t uid;
	uint64_t modseq;
	uint32_t flags;
	char **keywords; /* NULL-terminated, NULL when none */
	int64_t internaldate;
	int64_t savedate; /* when it was stored in this mailbox (seconds since the epoch) */
	uint64_t size;
	int64_t blob_id;
};
void store_message_clear(struct store_message *m);
/* Messages with uid in [uid_min, uid_max], ascending. */
int store_message_list(struct store *st, int64_t mailbox_id, uint32_t uid_min, uint32_t uid_max,
		       void (*fn)(const struct store_message *m, void *arg), void *arg,
		       struct buf *err);
/* The uid, MODSEQ, INTERNALDATE and size of the messages with uid in
   [uid_min, uid_max] and MODSEQ above modseq (0: every one), ascending by uid;
   the other fields are left zero (no keywords). One query, for a command that
   needs only these of many messages (IMAP keeps them out of a session's
   index). fn runs while the rows are read: it must not read the store. */
int store_message_meta(struct store *st, int64_t mailbox_id, uint32_t uid_min, uint32_t uid_max,
                       uint64_t modseq, void (*fn)(const struct store_message *m, void *arg),
                       void *arg, struct buf *err);
/* Between store_read_begin() and store_read_end() the reads see one snapshot
   and share one read transaction (one lock instead of one per read): for a
   command that reads many messages in one go, as FETCH 1:* (ENVELOPE) does.
   Pairs nest. A pair must not span a return to the event loop: the sessions
   share the reader, and the others would miss what was committed meanwhile
   (an open snapshot also keeps SQLite from recycling the WAL). */
void store_read_begin(struct store *st);
void store_read_end(struct store *st);
/* The ENVELOPE and BODYSTRUCTURE cached when the message was stored, appended
   to the buffers (left empty when none was cached). STORE_NOT_FOUND when the
   message is gone. */
enum store_lookup store_message_cache(struct store *st, int64_t mailbox_id, uint32_t uid,
				      struct buf *envelope, struct buf *bodystructure,
				      struct buf *err);
/*
 * The same for many messages in one pass: the cached strings of mailbox_id's
 * messages with uid in [uid_min, uid_max], ascending by uid, one statement
 * stepping over the rows (a FETCH of many messages seeks once, not once per
 * message). Only the strings asked for (envelope, bodystructure) are read; the
 * others, and those not cached, are NULL. fn runs while the rows are read: the
 * strings live only during the call, and fn must not use the store.
 */
struct store_message_cached {
	uint32_t uid;
	const char *envelope; /* not NUL-terminated; NULL when none */
	size_t envelope_len;
	const char *bodystructure;
	size_t bodystructure_len;
};
int store_message_cache_list(struct store *st, int64_t mailbox_id, uint32_t uid_min,
                             uint32_t uid_max, bool envelope, bool bodystructure,
                             void (*fn)(const struct store_message_cached *m, void *arg), void *arg,
                             struct buf *err);
/* The raw bytes of a blob, appended to out. Only for a blob held by what the
   caller holds (a queue entry): a message's blob goes with its last copy, and
   its id may be given to the next one stored, so a message is read by its
   mailbox and UID (store_message_read()). */
int store_blob_read(struct store *st, int64_t blob_id, struct buf *out, struct buf *err);
/* The raw bytes of a message, appended to out, in one read: never another
   message's, even when it is expunged meanwhile and its blob id reused.
   STORE_NOT_FOUND when the message is gone. */
enum store_lookup store_message_read(struct store *st, int64_t mailbox_id, uint32_t uid,
				     struct buf *out, struct buf *err);
/* The same read, with the bytes passed to fn (once, the whole message; not at
   all when it is gone) from the store's own buffer instead of copied out, so
   that a large message is not held twice. fn must not use the store. */
enum store_lookup store_message_view(struct store *st, int64_t mailbox_id, uint32_t uid,
                                     void (*fn)(const char *p, size_t n, void *arg), void *arg,
                                     struct buf *err);
/* The message's header block - its bytes up to and including the first empty
   line, as mime_header_len() counts them, or the whole message when it has
   none - appended to out. Reads the message from its start in growing pieces
   until that line, not the rest (a SEARCH of header fields need not read
   attachments). The same guarantees as store_message_read(). */
enum store_lookup store_message_header_read(struct store *st, int64_t mailbox_id, uint32_t uid,
                                            struct buf *out, struct buf *err);

/*
 * What changed in a mailbox since modseq: messages (new or with changed flags)
 * whose MODSEQ is higher, ascending by uid, then the uids expunged since then.
 * *tombstones_complete_r is false when tombstones older than modseq have been
 * compacted away (the caller must then fall back to a full resync).
 */
int store_changes(struct store *st, int64_t mailbox_id, uint64_t modseq,
		  void (*changed)(const struct store_message *m, void *arg),
		  void (*expunged)(uint32_t uid, uint64_t modseq, void *arg), void *arg,
		  bool *tombstones_complete_r, struct buf *err);

/* ---- names -------------------------------------------------------------------- */

/* Normalises (lower-cases) and validates a domain name into out. -1 + reason. */
int store_domain_normalize(const char *name, struct buf *out, struct buf *err);
/* Normalises and validates "local@domain" into out; with allow_catchall, "@domain". */
int store_address_normalize(const char *address, bool allow_catchall, struct buf *out,
			    struct buf *err);

/* ---- the outbound queue: reads ------------------------------------------------ */

/* When a recipient is next due (seconds, the earliest next_attempt of queued or
   deferred recipients that are neither held nor leased); STORE_NOT_FOUND when
   none is waiting. */
enum store_lookup store_queue_next_due(struct store *st, int64_t now, int64_t *when_r,
				       struct buf *err);

/* A queue recipient as `petrel queue list / show` shows it. */
struct store_queue_entry {
	int64_t queue_id;
	int64_t rcpt_id;
	int64_t created;
	const char *env_from;
	const char *source;
	uint64_t size;
	const char *rcpt;
	const char *state;
	unsigned attempts;
	int64_t next_attempt;
	bool held;
	bool leased; /* a delivery is under way */
	const char *last_reply; /* NULL when none */
	const char *route;
};
/* Recipients still in the queue, by queue id then recipient id; queue_id 0
   lists every message. The strings live only during the call. */
int store_queue_list(struct store *st, int64_t queue_id,
		     void (*fn)(const struct store_queue_entry *e, void *arg), void *arg,
		     struct buf *err);

/* A delivery event (a receipt). */
struct store_event {
	int64_t id;
	int64_t queue_id;
	const char *rcpt;
	const char *kind;
	int64_t at_ms;
	const char *mx, *remote_ip, *source_ip, *tls, *reply; /* NULL when none */
	unsigned attempt;     /* 0 when not an attempt */
	int64_t next_attempt; /* 0 when none */
};
/* Events of a queue message (queue_id != 0) or of a recipient address
   (rcpt != NULL, case-insensitive), oldest first. */
int store_event_list(struct store *st, int64_t queue_id, const char *rcpt,
		     void (*fn)(const struct store_event *e, void *arg), void *arg,
		     struct buf *err);

/* Calls fn on the loop after each commit that put recipients into the queue
   (one listener: the queue runner). NULL removes it. */
void store_queue_notify(struct store *st, void (*fn)(void *arg), void *arg);

/* ---- the HTTP API: keys, sends, receipts ------------------------------------------- */

/*
 * API keys are stored as the SHA-256 of the key (the key itself is shown once,
 * when it is made). A revoked key keeps its row, and its name, so that the
 * messages it sent stay attributed. Idempotency records last
 * STORE_IDEMPOTENCY_TTL seconds.
 */
#define STORE_IDEMPOTENCY_TTL (24 * 3600)
#define STORE_API_MAX_EVENTS 1000 /* events one store_api_events call returns */

/*
 * What an append made by the HTTP API records with the message, in the same
 * transaction: an api_message row (public id -> queue id, key, Message-ID,
 * tags, metadata), "queued" and "delivered" receipts for the local recipients
 * (delivered by this very append; the remote ones get "queued" from the queue),
 * the key and pool on the queue entry, and the idempotency record. A message
 * with no remote recipient has no queue entry, only a queue id that its
 * receipts use. With idem_key set, the append fails with STORE_ERR_EXISTS and
 * leaves nothing when the key already recorded that idempotency key within
 * STORE_IDEMPOTENCY_TTL (a concurrent duplicate request).
 */
struct store_api_send {
	int64_t api_key_id;
	const char *public_id;  /* the id the API answers with */
	const char *message_id; /* "<...>", or NULL */
	const char *subject;    /* UTF-8, or NULL */
	const char *pool;       /* or NULL */
	const char *tags;       /* JSON array text, or NULL */
	const char *metadata;   /* JSON object text, or NULL */
	const char *const *delivered; /* local recipients' addresses */
	size_t ndelivered;
	const char *idem_key; /* or NULL */
	const unsigned char *idem_hash; /* SHA-256 of the request, 32 bytes */
	const char *idem_response;      /* the response body to replay */
};

struct store_apikey {
	int64_t id;
	char *name;
	char *domains; /* "" when every local domain */
	char *pool;    /* "" when none */
	double rate;   /* messages per second, 0: no limit */
	int64_t created;
	int64_t revoked; /* seconds since the epoch, 0 when active */
};
void store_apikey_clear(struct store_apikey *k);
/* The key whose SHA-256 is hash (revoked or not). */
enum store_lookup store_apikey_find(struct store *st, const unsigned char hash[32],
				    struct store_apikey *k_r, struct buf *err);
int store_apikey_list(struct store *st, void (*fn)(const struct store_apikey *k, void *arg),
		      void *arg, struct buf *err);

/* The record of idem_key for the key, when made less than STORE_IDEMPOTENCY_TTL
   ago: the request's SHA-256 and the response, appended to response_r. */
enum store_lookup store_idempotency_get(struct store *st, int64_t api_key_id, const char *idem_key,
					unsigned char hash_r[32], struct buf *response_r,
					struct buf *err);

struct store_api_message {
	int64_t queue_id;
	char *public_id;
	char *message_id; /* "" when none */
	char *env_from;
	char *subject;  /* "" when none */
	char *tags;     /* JSON text, "" when none */
	char *metadata; /* JSON text, "" when none */
	int64_t created; /* seconds since the epoch */
};
void store_api_message_clear(struct store_api_message *m);
/* A message the key sent; its receipts are store_event_list(queue_id). */
enum store_lookup store_api_message_get(struct store *st, int64_t api_key_id,
					const char *public_id, struct store_api_message *m_r,
					struct buf *err);

/* An event of a message sent through the API, with that message's API data. */
struct store_api_event {
	struct store_event e;
	const char *public_id;
	const char *message_id; /* NULL when none */
	const char *tags;       /* JSON text, NULL when none */
	const char *metadata;
};
/*
 * The events of the key's messages with id > after, in id order (which is
 * commit order: a later page never holds an event that an earlier one should
 * have), at most limit (<= STORE_API_MAX_EVENTS); kind, rcpt and tag (an
 * element of the message's tags) filter when not NULL. The strings live only
 * during the call.
 */
int store_api_events(struct store *st, int64_t api_key_id, int64_t after, size_t limit,
		     const char *kind, const char *rcpt, const char *tag,
		     void (*fn)(const struct store_api_event *e, void *arg), void *arg,
		     struct buf *err);

/* ---- DKIM keys ------------------------------------------------------------------------ */

/*
 * A local domain's DKIM signing keys, one per selector (a new key is published
 * and added before the old one is removed; the newest of each algorithm
 * signs). The private key is PEM text; whoever reads it must not log it.
 * Removing a domain removes its keys.
 */
#define STORE_MAX_DKIM_KEYS 16 /* keys of one domain */

struct store_dkim_key {
	int64_t id;
	char *domain;
	char *selector;
	char *algorithm; /* "rsa", "ed25519" */
	char *private_key;
	int64_t created; /* seconds since the epoch */
};
void store_dkim_key_clear(struct store_dkim_key *k);
/* The keys of domain (any case; NULL: of every domain), by domain, newest
   first. A domain that is not local has none. */
int store_dkim_key_list(struct store *st, const char *domain,
			void (*fn)(const struct store_dkim_key *k, void *arg), void *arg,
			struct buf *err);
/* ---- webhooks ------------------------------------------------------------------------- */

/*
 * A webhook receives the delivery events of the messages sent through the HTTP
 * API — of one key's messages, or of every key's — as signed POSTs (the
 * dispatcher is in http.h). Progress is kept here: each webhook has a cursor,
 * the last event id looked at for it. STORE_OP_WEBHOOK_SCAN turns every
 * matching event after each cursor into a pending delivery and moves the
 * cursors to the last event, in one transaction: since event ids grow in commit
 * order, no event is skipped or taken twice. A new webhook starts at the last
 * event (it gets what happens from then on). A delivery is pending until an
 * attempt succeeds ("delivered") or it is given up ("failed"); finished ones are
 * kept STORE_WEBHOOK_KEEP_MS, then a SCAN with prune drops them.
 */
#define STORE_WEBHOOK_MAX_URL 2048
#define STORE_WEBHOOK_MAX_ERROR 300               /* bytes of an attempt's error kept */
#define STORE_WEBHOOK_KEEP_MS (7 * 24 * 3600 * 1000LL) /* finished deliveries */
#define STORE_WEBHOOK_MAX_DUE 1000                /* deliveries one store_webhook_due returns */

/* The event kinds a webhook may ask for (NULL-terminated). */
extern const char *const store_webhook_kinds[];

struct store_webhook {
	int64_t id;
	char *url;
	char *secret;
	char *events;   /* "" when every kind */
	char *key_name; /* "" when every key */
	int64_t created;
	uint64_t pending, delivered, failed; /* its deliveries */
};
void store_webhook_clear(struct store_webhook *w);
int store_webhook_list(struct store *st, void (*fn)(const struct store_webhook *w, void *arg),
		       void *arg, struct buf *err);

/* A pending delivery with its webhook and its event (strings live only during
   the call). */
struct store_webhook_delivery {
	int64_t id;
	int64_t webhook_id;
	const char *url;
	const char *secret;
	unsigned attempts; /* made before this one */
	int64_t created_ms;
	bool test; /* a test event: ev is empty */
	struct store_api_event ev;
};
/*
 * Pending deliveries due at now_ms, oldest first, at most limit (<=
 * STORE_WEBHOOK_MAX_DUE). Deliveries of one message to one webhook go in order:
 * only the first pending one of each is returned, due or not.
 */
int store_webhook_due(struct store *st, int64_t now_ms, size_t limit,
		      void (*fn)(const struct store_webhook_delivery *d, void *arg), void *arg,
		      struct buf *err);
/* The state of a delivery ("pending", "delivered", "failed"), its attempts and
   the last one's HTTP status (0: none) and error, appended to the buffers. */
enum store_lookup store_webhook_delivery_state(struct store *st, int64_t id, struct buf *state_r,
					       unsigned *attempts_r, int *status_r,
					       struct buf *error_r, struct buf *err);
/* Pending deliveries, the creation time of the oldest (0 when none), and how
   many events are past the oldest cursor (a SCAN has work when > 0). */
int store_webhook_backlog(struct store *st, uint64_t *pending_r, int64_t *oldest_ms_r,
			  uint64_t *unscanned_r, struct buf *err);

/* ---- URLAUTH keys ---------------------------------------------------------------------- */

/*
 * The secret of each mailbox against which IMAP URLAUTH tokens are computed
 * (RFC 4467 "INTERNAL"): one random key per mailbox of an account, made by the
 * first GENURLAUTH that needs it (STORE_OP_URLAUTH_KEY_SET keeps a key that is
 * already there, so two sessions racing agree on one). RESETKEY forgets keys
 * (STORE_OP_URLAUTH_KEY_RESET), which invalidates every URL made with them; the
 * next GENURLAUTH makes a new one. A key goes with its mailbox: a mailbox
 * deleted and made again under the same name has a new key. Keys are secrets:
 * whoever reads them must not log them.
 */
/* The key of mailbox_id, which must belong to account_id, into key_r. */
enum store_lookup store_urlauth_key_get(struct store *st, int64_t account_id, int64_t mailbox_id,
					unsigned char key_r[STORE_URLAUTH_KEY_LEN],
					struct buf *err);

/* ---- statistics (for /metrics) ------------------------------------------------------- */

/* Messages committed since the store was opened, by the source of their append
   ("smtp", "submission", "api", ...; appends without a source are not counted). */
void store_stats_received(struct store *st, void (*fn)(const char *source, uint64_t n, void *arg),
			  void *arg);
/* Recipients waiting in the outbound queue, and the creation time of the oldest
   message that has one (0 when none). */
int store_stats_queue(struct store *st, uint64_t *queued_r, uint64_t *deferred_r,
		      int64_t *oldest_r, struct buf *err);

/* ---- full-text search ------------------------------------------------------------- */

/*
 * SEARCH BODY and TEXT (RFC 9051 6.4.4) are exact: a case-insensitive
 * substring match over the pieces of text mime_search_walk() defines. So that
 * a search need not read every message, the store keeps a full-text index of
 * those pieces (SQLite FTS5 with trigrams), written in the same transaction as
 * the message and removed in the same transaction as its last copy.
 * store_search_candidates() names the messages that may hold a string - a
 * superset of those that do, never missing one - and the caller checks only
 * those with the exact matcher. Messages the index does not know (stored by an
 * older petrel, until `petrel store reindex`) are always candidates.
 */
#define STORE_SEARCH_MIN_CHARS 3   /* shorter strings are not looked up: scan */
#define STORE_REINDEX_BATCH 100    /* messages per transaction of store_reindex */
#define STORE_REINDEX_BATCH_BYTES (8 * 1024 * 1024) /* and text per transaction */

/*
 * The UIDs, ascending, of mailbox_id's messages whose text may contain needle
 * (UTF-8, len bytes); with_header: TEXT (the message header too), else BODY.
 * *uids_r is the caller's to free. STORE_NOT_FOUND when the index cannot narrow
 * this search - fewer than STORE_SEARCH_MIN_CHARS characters, not valid UTF-8,
 * or the index switched off ([store] search_index = no) - and the caller must
 * check every message.
 */
enum store_lookup store_search_candidates(struct store *st, int64_t mailbox_id, const char *needle,
					  size_t len, bool with_header, uint32_t **uids_r,
					  size_t *n_r, struct buf *err);

/*
 * The same over the message header alone: the UIDs of mailbox_id's messages
 * whose header block, RFC 2047 words decoded and folding kept (the TEXT
 * piece of mime_search_walk), may contain needle. For a search of one header
 * field the caller must ask for a string that unfolding cannot have joined
 * (see imap_cmd_search.c). STORE_NOT_FOUND as above.
 */
enum store_lookup store_search_header_candidates(struct store *st, int64_t mailbox_id,
                                                 const char *needle, size_t len, uint32_t **uids_r,
                                                 size_t *n_r, struct buf *err);

/*
 * Indexes the messages of account_id's mailboxes (0: every account) that the
 * index does not know, or with all every one of them again, in transactions of
 * at most STORE_REINDEX_BATCH messages; the text is extracted outside them.
 * Safe while a server runs on the store (it sees each batch at once); a bug to
 * call while this process's commit thread runs. *count_r: messages indexed
 * (copies of one message count once).
 */
int store_reindex(struct store *st, int64_t account_id, bool all, size_t *count_r,
		  struct buf *err);

/* ---- maintenance ---------------------------------------------------------------- */

/* "ok" or the problems found, from SQLite's integrity_check and our invariants. */
int store_check(struct store *st, struct buf *report, struct buf *err);

#endif
