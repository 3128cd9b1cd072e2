/*
 * config — petrel's one configuration table.
 *
 * Every key is one row of a declarative table in config.c (section, key, type,
 * default, validator, help). The table drives parsing (inih), the embedded
 * defaults, `petrel check-config` (config_print) and docs/config.md
 * (config_print_reference). Unknown sections or keys and bad values are errors
 * that name the file and the line: "petrel.conf:12: [smtp] max_recipients: not a
 * number: 'ten'".
 *
 * Parsing is a pure function of the text (config_parse_text): no I/O but what the
 * caller does, so the fuzzer links it with inih alone.
 *
 * Listener keys hold a comma-separated list of "host:port" / "[v6]:port" items;
 * an empty value switches the listener off. Sizes accept K/M/G suffixes (powers of
 * 1024), durations s/m/h/d suffixes (default seconds).
 */
#ifndef PETREL_CONFIG_H
#define PETREL_CONFIG_H

#include "core/core.h"

struct config {
	char *source; /* file path, or "(defaults)" */

	/* [server] */
	char *hostname;  /* default: the system's host name */
	char *data_dir;  /* default: ./var */
	char *user;      /* drop to this user after binding; empty = stay */
	char *log_level; /* debug|info|warn|error */
	bool log_syslog;

	/* [tls] */
	char *tls_cert; /* default: <data_dir>/tls/cert.pem (self-signed when missing) */
	char *tls_key;  /* default: <data_dir>/tls/key.pem */

	/* [smtp] */
	char *smtp_listen;       /* 127.0.0.1:2525 */
	char *smtp_submission;   /* 127.0.0.1:2587 */
	char *smtp_submissions;  /* 127.0.0.1:2465 */
	uint64_t max_message_size; /* 50M */
	uint64_t max_recipients;   /* 100 */
	uint64_t smtp_data_timeout; /* seconds, 180 */

	/* [imap] */
	char *imap_listen;     /* 127.0.0.1:1143 */
	char *imap_listen_tls; /* 127.0.0.1:1993 */
	bool imap_allow_plaintext; /* LOGIN/AUTHENTICATE before TLS from non-loopback peers */

	/* [pop3] */
	char *pop3_listen;     /* 127.0.0.1:1110 */
	char *pop3_listen_tls; /* 127.0.0.1:1995 */
	bool pop3_allow_plaintext; /* USER/PASS/AUTH before TLS from non-loopback peers */

	/* [http] */
	char *http_listen; /* 127.0.0.1:8025 */
	char *http_listen_tls; /* empty: off */
	uint64_t http_request_timeout; /* seconds, 30 */

	/* [dns] */
	char *dns_resolver; /* host:port, empty = system's */

	/* [queue] */
	char *queue_retry;                   /* "1m, 5m, 15m, 30m, 1h, 2h, 4h": see config_parse_durations */
	uint64_t queue_max_age;              /* seconds, 5d */
	uint64_t queue_max_connections;      /* outbound connections at once, 100 */
	uint64_t queue_max_per_destination;  /* to one destination domain at once, 10 */
	uint64_t queue_max_messages_per_connection; /* 100 */
	uint64_t queue_mx_port;              /* 25 */
	uint64_t queue_delay_warning;        /* seconds, 4h; 0: no delay reports */
	uint64_t queue_source_suspend;       /* seconds, 5m: a failing source address rests */

	/* [routes]: destination domain (or "*") -> next hops, see config_parse_route */
	struct config_entry *routes;
	size_t nroutes;

	/* [pool.NAME] sections: source addresses of outbound connections */
	struct config_pool *pools;
	size_t npools;
	/* [pools]: sender address, sender domain or "default" -> pool name */
	struct config_entry *pool_map;
	size_t npool_map;

	/* [store] */
	char *store_backend; /* sqlite (postgresql later) */
	char *store_path;    /* default: <data_dir>/petrel.db */
	char *store_url;     /* for postgresql */
	uint64_t store_tombstones; /* expunge tombstones kept per mailbox; 0: all */

	/* [limits] */
	uint64_t max_connections;        /* 1000 */
	uint64_t max_connections_per_ip; /* 20 */
	uint64_t connection_rate_per_ip; /* new connections per minute, 120 (0 = off) */
	uint64_t idle_timeout;           /* seconds, 1800 */
	uint64_t command_timeout;        /* seconds, 300 */
	uint64_t login_failures_free;    /* failures before delays start, 3 */
	uint64_t login_delay_max;        /* seconds, 15 */
};

/* One "key = value" line of a section whose keys are free (names chosen by the
   operator, such as the domains of [routes]), in file order. */
struct config_entry {
	char *key;
	char *value;
	int line; /* private: the line that set it in the text being parsed */
};

/*
 * Limits of the configuration text (errors, never truncation): a value is at most
 * CONFIG_MAX_VALUE bytes, a line at most CONFIG_MAX_LINE bytes, a file at most
 * CONFIG_MAX_FILE bytes; a listener list holds at most CONFIG_MAX_LISTEN addresses.
 */
#define CONFIG_MAX_VALUE 4096
#define CONFIG_MAX_LINE 8192
#define CONFIG_MAX_FILE (1024 * 1024)
#define CONFIG_MAX_LISTEN 64
#define CONFIG_MAX_ENTRIES 1000 /* keys of one free-key section ([routes]) */
#define CONFIG_MAX_RETRY 32     /* intervals of [queue] retry */
#define CONFIG_MAX_HOPS 16        /* next hops of one route */
#define CONFIG_MAX_POOLS 100      /* [pool.NAME] sections */
#define CONFIG_MAX_POOL_ADDRS 256 /* addresses of one pool */
#define CONFIG_MAX_POOL_NAME 32   /* bytes of a pool's name */

/* Fills cfg with the embedded defaults (data_dir-relative paths resolved). */
void config_defaults(struct config *cfg);

/*
 * Parses INI text over cfg (which should hold defaults). name is the file name
 * used in error messages. Returns 0, or -1 with "name:line: reason" in err.
 * After a successful parse, derived defaults (tls paths, store path under
 * data_dir) are filled in for keys the text did not set. On error cfg is left
 * exactly as it was. text may contain any bytes (a NUL is an error).
 */
int config_parse_text(struct config *cfg, const char *name, const char *text, size_t len,
		      struct buf *err);

/* Reads the file and calls config_parse_text; -1 with a reason if unreadable. */
int config_load_file(struct config *cfg, const char *path, struct buf *err);

/*
 * The usual entry point: defaults, then path if non-NULL, else $PETREL_CONFIG if
 * set, else nothing (embedded defaults). cfg->source names what was read. cfg
 * is initialised in every case and must be passed to config_free, even on error.
 */
int config_load(struct config *cfg, const char *path, struct buf *err);

void config_free(struct config *cfg);

/* The effective configuration as a valid INI file (every key, with its value). */
void config_print(const struct config *cfg, struct buf *out);

/* Markdown reference of every section and key (docs/config.md is generated from it). */
void config_print_reference(struct buf *out);

/*
 * One address of a listener key. host is without brackets ("::1" for
 * "[::1]:143"); "*" means every address of both families, "0.0.0.0" every IPv4
 * address, "::" every IPv6 address; otherwise an IP literal or a host name to
 * resolve. port is 1..65535.
 */
struct listen_addr {
	char *host;
	unsigned port;
};

/*
 * Parses a listener value: a comma-separated list of "host:port" or
 * "[v6addr]:port" items (spaces around items are ignored). An empty value gives
 * no address (*n_r = 0, *addrs_r = NULL): the listener is off. Returns 0, or -1
 * with a reason in err (the outputs are then empty). Free with config_listen_free.
 */
int config_parse_listen(const char *value, struct listen_addr **addrs_r, size_t *n_r,
			struct buf *err);
/* Frees the hosts and the array, sets *addrs to NULL. */
void config_listen_free(struct listen_addr **addrs, size_t n);

/*
 * A comma-separated list of durations ("1m, 5m, 1h"), at most max of them, each
 * 1 second to 30 days, into v (seconds). 0, or -1 with a reason.
 */
int config_parse_durations(const char *value, uint64_t *v, size_t max, size_t *n_r,
			   struct buf *err);

/*
 * A route of [routes]: where mail for a domain goes instead of its MX hosts,
 * and how. The value is a list of next hops separated by commas or blanks,
 * then optional policy words:
 *   [host]:port   the host's addresses (A/AAAA), or the IP literal; no MX lookup
 *   host:port     the MX hosts of host (an IPv4 literal is taken as is)
 *   mx            the destination's own MX hosts, as without a route (policy only)
 *   require-tls   deliver only over STARTTLS
 *   verify        and only to a certificate that verifies for the host's name
 * The port may be left out (port 0: the usual SMTP port, [queue] mx_port).
 * Examples: "[127.0.0.1]:2526", "[relay.example.net]:587 require-tls",
 * "mx verify". An IPv6 literal needs brackets: "[::1]:25".
 */
struct config_hop {
	char *host;    /* name or IP literal, without brackets */
	unsigned port; /* 0: the default */
	bool mx;       /* look up host's MX records (written without brackets) */
};
struct config_route {
	struct config_hop *hops; /* none: the destination's own MX hosts */
	size_t nhops;
	bool require_tls;
	bool verify; /* implies require_tls */
	/* SMTP AUTH at the next hop (a smarthost), which implies require_tls:
	 *   auth=USER:PASSWORD   the credentials (the password may hold ':', not
	 *                        blanks or commas)
	 *   auth-file=PATH       a file whose first line is USER:PASSWORD, read at
	 *                        each use (not by the parser, which does no I/O) */
	char *auth_user, *auth_password; /* NULL when not given */
	char *auth_file;                 /* NULL when not given */
};
int config_parse_route(const char *value, struct config_route *r, struct buf *err);
void config_route_free(struct config_route *r);
/* The route value for domain (exact name, case-insensitive, else "*"), or NULL. */
const char *config_route_for(const struct config *cfg, const char *domain);
/*
 * Reads "USER:PASSWORD" from the first line of an auth-file (a CR before the
 * newline is dropped). 0, or -1 with a reason (the secret is never quoted).
 */
int config_parse_auth(const char *text, size_t len, char **user_r, char **password_r,
                      struct buf *err);

/*
 * Source-IP pools. A section [pool.NAME] lists the addresses outbound
 * connections may come from:
 *   addresses = 192.0.2.10 mx1.example.com, 192.0.2.11, 2001:db8::25
 * each an IP literal, optionally followed by the name this address says in
 * EHLO (else the pool's `ehlo`, else [server] hostname), and
 *   ehlo = mail.example.com      the pool's EHLO name
 *   max_connections = 20         connections at once from each address (0: no limit)
 * The section [pools] chooses a pool for a message by its envelope sender:
 * the whole address first, then its domain, then the key `default`; an API
 * key's own pool comes before all of these. Without a pool, the kernel chooses
 * the source address as before.
 */
struct config_pool_addr {
	char *ip;   /* an IP literal as written */
	char *ehlo; /* NULL: the pool's */
};
struct config_pool {
	char *name;
	struct config_pool_addr *addrs;
	size_t naddrs;
	char *ehlo;               /* NULL: [server] hostname */
	uint64_t max_connections; /* per address, 0: no limit */
	int line;                 /* private: the line of its section header */
};
const struct config_pool *config_pool_find(const struct config *cfg, const char *name);
/* The pool name [pools] gives sender ("" for <>), or NULL. */
const char *config_pool_for(const struct config *cfg, const char *sender);
/* Letters, digits, '-' and '_', 1 to CONFIG_MAX_POOL_NAME bytes. */
bool config_pool_name_ok(const char *name);

#endif
