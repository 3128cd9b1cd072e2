/*
 * config — the configuration table, its INI parser, its printers.
 *
 * keys[] is the single description of every setting: section, key, type, where
 * it lives in struct config, its default (as text, parsed like a file value), its
 * validator and its help. Parsing, the embedded defaults, config_print (what
 * `petrel check-config` shows), config_print_reference (docs/config.md) and
 * config_free all walk that one table, so a new setting is one new row.
 *
 * inih splits "key = value" lines; everything else is checked here, line by line,
 * by the reader we hand to ini_parse_stream, because inih alone would let some
 * mistakes through silently: it stops a line at a NUL byte, splits an over-long
 * line in two, keeps junk after "[section]", truncates long section names, and
 * reads an indented line as the continuation of the previous value. Our reader
 * rejects NUL and control bytes, over-long lines, unknown or malformed section
 * headers and "key = value" lines without a separator, each with its line number,
 * and removes leading blanks before inih sees the line: indentation means nothing
 * and there are no continuation lines (an indented line is a line of its own; if
 * it is not valid there, the error says so). The first error stops the parse.
 *
 * config_parse_text works on a copy and replaces *cfg only on success, so a bad
 * file never leaves a half-applied configuration.
 */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KIB 1024ULL
#define MIB (1024ULL * KIB)
#define GIB (1024ULL * MIB)
#define MINUTE 60ULL
#define HOUR (60ULL * MINUTE)
#define DAY (24ULL * HOUR)

/* At most this many bytes of an offending value are quoted back in an error. */
#define ECHO_MAX 80

/* A default in angle brackets is computed; this one is a path under data_dir. */
#define DATA_DIR_PREFIX "<data_dir>/"
#define HOSTNAME_DEFAULT "<system host name>"

enum cfg_type {
	CFG_STRING,
	CFG_BOOL,
	CFG_UINT,
	CFG_SIZE,     /* bytes, K/M/G suffixes (powers of 1024) */
	CFG_DURATION, /* seconds, s/m/h/d suffixes */
	CFG_LISTEN,   /* a listener list, see config_parse_listen */
	CFG_ENUM,     /* one of check.choices, stored as the canonical spelling */
};

struct cfg_key;

/*
 * A validator runs after the value has been parsed into its type: value points to
 * a const char * (strings), a uint64_t (numbers) or a bool. It returns false with
 * a reason in why; the caller adds the location and quotes the value.
 */
struct cfg_check {
	bool (*fn)(const struct cfg_key *k, const void *value, struct buf *why);
	uint64_t min, max;          /* for check_range */
	const char *const *choices; /* for CFG_ENUM, NULL-terminated */
};

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_type type;
	size_t offset; /* of the field in struct config */
	const char *def;
	struct cfg_check check;
	const char *help;
};

static bool check_range(const struct cfg_key *k, const void *value, struct buf *why);
static bool check_nonempty(const struct cfg_key *k, const void *value, struct buf *why);
static bool check_hostname(const struct cfg_key *k, const void *value, struct buf *why);
static bool check_user(const struct cfg_key *k, const void *value, struct buf *why);
static bool check_resolver(const struct cfg_key *k, const void *value, struct buf *why);
static bool check_retry(const struct cfg_key *k, const void *value, struct buf *why);
static bool check_route_entry(const char *key, const char *value, struct buf *why);
static bool check_pool_map_entry(const char *key, const char *value, struct buf *why);

/* Initialisers for the check column; clang-format would spread each over four lines. */
// clang-format off
#define OFF(field) offsetof(struct config, field)
#define RANGE(lo, hi) {check_range, (lo), (hi), NULL}
#define ONE_OF(list) {NULL, 0, 0, (list)}
#define CHECK(fn) {(fn), 0, 0, NULL}
#define NO_CHECK {NULL, 0, 0, NULL}
// clang-format on

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const store_backends[] = {"sqlite", "postgresql", NULL};

/*
 * A section has either fixed keys (rows of keys[] below) or free keys: names
 * the operator chooses, such as the destination domains of [routes]. Free keys
 * are kept in file order in a struct config_entry array of struct config, each
 * checked by check_entry; entry_* describe them in the reference.
 */
struct cfg_free_keys {
	size_t entries, count; /* offsets of the entry array and its length */
	bool (*check_entry)(const char *key, const char *value, struct buf *why);
	const char *entry_key, *entry_type, *entry_help;
};

static const struct cfg_free_keys route_keys = {
        OFF(routes), OFF(nroutes), check_route_entry, "DOMAIN", "route",
        "Next hops, then policy words: `[host]:port` (addresses of host, or an IP literal; no MX "
        "lookup), `host:port` (the MX hosts of host), or `mx` (the domain's own MX hosts); "
        "`require-tls` (STARTTLS or no delivery), `verify` (and a certificate valid for the "
        "host's name); `auth=USER:PASSWORD` or `auth-file=PATH` (SMTP AUTH PLAIN or LOGIN at "
        "a smarthost, only over TLS: it implies `require-tls`; the file's first line is "
        "`USER:PASSWORD`, read at each use). Without a port: `[queue] mx_port`. Examples: "
        "`example.org = [127.0.0.1]:2526`, `* = [smtp.relay.example]:587 "
        "auth-file=/etc/petrel/relay.secret`."};

static const struct cfg_free_keys pool_map_keys = {
        OFF(pool_map), OFF(npool_map), check_pool_map_entry, "SENDER", "pool name",
        "The pool of mail whose envelope sender is this address (`alice@example.com`), or is "
        "in this domain (`example.com`); `default` for every other sender, bounces included. "
        "The whole address is looked up first, then the domain, then `default`."};

/*
 * The keys of a [pool.NAME] section, one struct config_pool each. set parses
 * value into the pool; false with a reason in why (never quoting the value:
 * the caller does).
 */
struct pool_key {
	const char *key, *type, *def, *help;
	bool (*set)(struct config_pool *p, const char *value, struct buf *why);
};

static bool pool_set_addresses(struct config_pool *p, const char *value, struct buf *why);
static bool pool_set_ehlo(struct config_pool *p, const char *value, struct buf *why);
static bool pool_set_max(struct config_pool *p, const char *value, struct buf *why);

static const struct pool_key pool_keys[] = {
        {"addresses", "address list", "(none)",
         "Source addresses, separated by commas: an IP literal, optionally followed by the "
         "name that address says in EHLO (`192.0.2.10 mx1.example.com, 192.0.2.11, "
         "2001:db8::25`). An IPv4 destination gets an IPv4 source, an IPv6 one an IPv6 "
         "source; the addresses take turns. Required.",
         pool_set_addresses},
        {"ehlo", "string", "(empty)",
         "EHLO name of the addresses that give none; empty: `[server] hostname`.", pool_set_ehlo},
        {"max_connections", "integer, 0 to 100000", "`0`",
         "Most connections at once from each address of the pool (0: no limit but "
         "`[queue]`'s).",
         pool_set_max},
};

#define POOL_SECTION_PREFIX "pool."

static const struct cfg_section {
	const char *name;
	const char *help;
	const struct cfg_free_keys *free_keys; /* NULL: the keys are rows of keys[] */
} sections[] = {
        {"server", "The process: its name on the network, where it keeps its files, how it logs.", NULL},
        {"tls", "Certificate and key for STARTTLS and the implicit-TLS ports.", NULL},
        {"smtp", "SMTP: mail from other servers, and submission from users and applications.", NULL},
        {"imap", "IMAP access to mailboxes.", NULL},
        {"pop3", "POP3 access to the inbox.", NULL},
        {"http", "The HTTP API (JSON) and /metrics.", NULL},
        {"dns", "DNS lookups for outbound delivery (MX, A/AAAA, TXT, TLSA).", NULL},
        {"queue", "Outbound delivery: retries, lifetime and concurrency of the queue.", NULL},
        {"routes", "Where mail for a domain goes instead of its MX hosts, and how (one key per "
                   "destination domain; `*` for every other domain).", &route_keys},
        {"pool.NAME", "A pool of source addresses for outbound connections, one section per "
                      "pool (`[pool.main]`; a name of letters, digits, `-` and `_`). An "
                      "address that cannot be used (it cannot be bound, or connections from "
                      "it to several hosts in a row fail) is left out for `[queue] "
                      "source_suspend`.", NULL},
        {"pools", "Which pool a message leaves from, by its envelope sender (an API key's "
                  "pool comes first). Without a pool the system chooses the source address.",
         &pool_map_keys},
        {"store", "Where accounts, mailboxes, messages and the queue are kept.", NULL},
        {"limits", "Connection limits, timeouts and login throttling, for every protocol.", NULL},
};

static const struct cfg_key keys[] = {
        {"server", "hostname", CFG_STRING, OFF(hostname), HOSTNAME_DEFAULT, CHECK(check_hostname),
         "Name of this server in greetings, EHLO, Received: headers and bounces (a DNS name)."},
        {"server", "data_dir", CFG_STRING, OFF(data_dir), "./var", CHECK(check_nonempty),
         "Folder for the store, the queue and the TLS files; relative to the working folder."},
        {"server", "user", CFG_STRING, OFF(user), "", CHECK(check_user),
         "After binding its ports, switch to this user; empty: keep the current user."},
        {"server", "log_level", CFG_ENUM, OFF(log_level), "info", ONE_OF(log_levels),
         "Least severe messages that are logged."},
        {"server", "log_syslog", CFG_BOOL, OFF(log_syslog), "no", NO_CHECK,
         "Also send log lines to syslog (mail facility); they always go to stderr."},

        {"tls", "cert", CFG_STRING, OFF(tls_cert), DATA_DIR_PREFIX "tls/cert.pem",
         CHECK(check_nonempty),
         "PEM certificate chain; a self-signed one is made here when the file is missing."},
        {"tls", "key", CFG_STRING, OFF(tls_key), DATA_DIR_PREFIX "tls/key.pem",
         CHECK(check_nonempty), "PEM private key of the certificate."},

        {"smtp", "listen", CFG_LISTEN, OFF(smtp_listen), "127.0.0.1:2525", NO_CHECK,
         "Mail from other servers, with STARTTLS (port 25 in production)."},
        {"smtp", "submission", CFG_LISTEN, OFF(smtp_submission), "127.0.0.1:2587", NO_CHECK,
         "Submission with STARTTLS, authentication required (port 587)."},
        {"smtp", "submissions", CFG_LISTEN, OFF(smtp_submissions), "127.0.0.1:2465", NO_CHECK,
         "Submission over implicit TLS, authentication required (port 465)."},
        {"smtp", "max_message_size", CFG_SIZE, OFF(max_message_size), "50M", RANGE(KIB, 2 * GIB),
         "Largest message accepted, announced in EHLO SIZE."},
        {"smtp", "max_recipients", CFG_UINT, OFF(max_recipients), "100", RANGE(1, 100000),
         "Most recipients of one message; further RCPT TO commands get 452."},
        {"smtp", "data_timeout", CFG_DURATION, OFF(smtp_data_timeout), "3m", RANGE(1, DAY),
         "Close a session whose message data stalls this long (RFC 5321 4.5.3.2: 3 minutes "
         "per data block)."},

        {"imap", "listen", CFG_LISTEN, OFF(imap_listen), "127.0.0.1:1143", NO_CHECK,
         "IMAP with STARTTLS (port 143 in production)."},
        {"imap", "listen_tls", CFG_LISTEN, OFF(imap_listen_tls), "127.0.0.1:1993", NO_CHECK,
         "IMAP over implicit TLS (port 993)."},
        {"imap", "allow_plaintext", CFG_BOOL, OFF(imap_allow_plaintext), "no", NO_CHECK,
         "Allow LOGIN and AUTHENTICATE before STARTTLS from any address (loopback always may)."},

        {"pop3", "listen", CFG_LISTEN, OFF(pop3_listen), "127.0.0.1:1110", NO_CHECK,
         "POP3 with STLS (port 110 in production)."},
        {"pop3", "listen_tls", CFG_LISTEN, OFF(pop3_listen_tls), "127.0.0.1:1995", NO_CHECK,
         "POP3 over implicit TLS (port 995)."},
        {"pop3", "allow_plaintext", CFG_BOOL, OFF(pop3_allow_plaintext), "no", NO_CHECK,
         "Allow USER/PASS and AUTH before STLS from any address (loopback always may)."},

        {"http", "listen", CFG_LISTEN, OFF(http_listen), "127.0.0.1:8025", NO_CHECK,
         "HTTP API and /metrics."},
        {"http", "listen_tls", CFG_LISTEN, OFF(http_listen_tls), "", NO_CHECK,
         "HTTP API and /metrics over implicit TLS (HTTPS, port 443); empty: off."},
        {"http", "request_timeout", CFG_DURATION, OFF(http_request_timeout), "30s",
         RANGE(1, HOUR),
         "A request's head must arrive within this time (an idle keep-alive connection is "
         "closed after it too); its body gets this plus one second per 64 KiB."},

        {"dns", "resolver", CFG_STRING, OFF(dns_resolver), "", CHECK(check_resolver),
         "DNS server as ip:port (e.g. 127.0.0.1:53 or [::1]:53); empty: the system's."},

        {"queue", "retry", CFG_STRING, OFF(queue_retry), "1m, 5m, 15m, 30m, 1h, 2h, 4h",
         CHECK(check_retry),
         "Waits between delivery attempts of a recipient, in order; the last one repeats "
         "(1 to 32 durations)."},
        {"queue", "max_age", CFG_DURATION, OFF(queue_max_age), "5d", RANGE(1, 60 * DAY),
         "A recipient still undelivered this long after the message was queued is bounced."},
        {"queue", "max_connections", CFG_UINT, OFF(queue_max_connections), "100",
         RANGE(1, 100000), "Most outbound SMTP connections at once."},
        {"queue", "max_connections_per_destination", CFG_UINT, OFF(queue_max_per_destination),
         "10", RANGE(1, 10000), "Most outbound SMTP connections at once to one destination "
                                "domain."},
        {"queue", "max_messages_per_connection", CFG_UINT,
         OFF(queue_max_messages_per_connection), "100", RANGE(1, 100000),
         "Messages sent over one connection before it is closed."},
        {"queue", "mx_port", CFG_UINT, OFF(queue_mx_port), "25", RANGE(1, 65535),
         "TCP port of MX hosts (25; other values are for tests)."},
        {"queue", "delay_warning", CFG_DURATION, OFF(queue_delay_warning), "4h",
         RANGE(0, 30 * DAY),
         "Tell the sender once (an RFC 3464 report, action delayed) when a recipient is still "
         "undelivered this long after the message was queued, unless its DSN NOTIFY says "
         "otherwise; 0: never."},
        {"queue", "source_suspend", CFG_DURATION, OFF(queue_source_suspend), "5m",
         RANGE(1, DAY),
         "How long an address of a `[pool.NAME]` that failed is left out of rotation."},

        {"store", "backend", CFG_ENUM, OFF(store_backend), "sqlite", ONE_OF(store_backends),
         "Storage engine: sqlite (one file, the default) or postgresql (several nodes)."},
        {"store", "path", CFG_STRING, OFF(store_path), DATA_DIR_PREFIX "petrel.db",
         CHECK(check_nonempty), "SQLite database file (sqlite backend)."},
        {"store", "url", CFG_STRING, OFF(store_url), "", NO_CHECK,
         "PostgreSQL connection URI (postgresql backend); it may hold a password."},
        {"store", "tombstones", CFG_UINT, OFF(store_tombstones), "100000", RANGE(0, 100000000),
         "Expunged messages remembered per mailbox for IMAP quick resynchronisation "
         "(0: all). A client resynchronising from before the oldest is told every "
         "missing UID as vanished."},

        {"limits", "max_connections", CFG_UINT, OFF(max_connections), "1000", RANGE(1, 1000000),
         "Most client connections at once, all protocols together."},
        {"limits", "max_connections_per_ip", CFG_UINT, OFF(max_connections_per_ip), "20",
         RANGE(1, 1000000), "Most client connections at once from one IP address."},
        {"limits", "connection_rate_per_ip", CFG_UINT, OFF(connection_rate_per_ip), "120",
         RANGE(0, 1000000),
         "Most new connections from one IP address per minute, all protocols together "
         "(0: no limit)."},
        {"limits", "idle_timeout", CFG_DURATION, OFF(idle_timeout), "30m", RANGE(1, DAY),
         "Close a connection that sent nothing for this long (IMAP IDLE included)."},
        {"limits", "command_timeout", CFG_DURATION, OFF(command_timeout), "5m", RANGE(1, DAY),
         "Close a connection that takes longer than this to send one command or line."},
        {"limits", "login_failures_free", CFG_UINT, OFF(login_failures_free), "3", RANGE(0, 1000),
         "Failed logins from one IP before replies to it are delayed."},
        {"limits", "login_delay_max", CFG_DURATION, OFF(login_delay_max), "15s", RANGE(0, HOUR),
         "Longest delay before answering a failed login (it doubles per failure)."},
};

/* ---- small helpers ------------------------------------------------------- */

/* The [pool.NAME] sections, whose keys are pool_keys[]. */
static bool is_pool_section(const struct cfg_section *sec)
{
	return strcmp(sec->name, POOL_SECTION_PREFIX "NAME") == 0;
}

static void *field_of(struct config *cfg, const struct cfg_key *k)
{
	return (char *)cfg + k->offset;
}

static const void *cfield_of(const struct config *cfg, const struct cfg_key *k)
{
	return (const char *)cfg + k->offset;
}

static struct config_entry **entries_of(struct config *cfg, const struct cfg_section *sec)
{
	return (struct config_entry **)((char *)cfg + sec->free_keys->entries);
}

static size_t *count_of(struct config *cfg, const struct cfg_section *sec)
{
	return (size_t *)((char *)cfg + sec->free_keys->count);
}

static void entries_free(struct config_entry **e, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		free((*e)[i].key);
		free((*e)[i].value);
	}
	xfree(e);
	*n = 0;
}

static bool is_string_type(enum cfg_type t)
{
	return t == CFG_STRING || t == CFG_LISTEN || t == CFG_ENUM;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Appends an offending piece of text for an error message: control bytes become
 * '?' and more than ECHO_MAX bytes are cut with "...", so a message stays one
 * short line whatever the input was.
 */
static void put_echo(struct buf *out, const char *p, size_t len)
{
	size_t n = len > ECHO_MAX ? ECHO_MAX : len;
	for (size_t i = 0; i < n; i++)
		buf_putc(out, is_ctl((unsigned char)p[i]) ? '?' : p[i]);
	if (n < len)
		buf_puts(out, "...");
}

static void put_quoted(struct buf *out, const char *p, size_t len)
{
	buf_putc(out, '\'');
	put_echo(out, p, len);
	buf_putc(out, '\'');
}

/* "<data_dir>/tls/cert.pem" -> "tls/cert.pem"; NULL for other defaults. */
static const char *data_dir_suffix(const struct cfg_key *k)
{
	size_t n = strlen(DATA_DIR_PREFIX);
	return strncmp(k->def, DATA_DIR_PREFIX, n) == 0 ? k->def + n : NULL;
}

static char *data_dir_path(const char *data_dir, const char *suffix)
{
	size_t n = strlen(data_dir);
	bool slash = n > 0 && data_dir[n - 1] == '/';
	return xasprintf("%s%s%s", data_dir, slash ? "" : "/", suffix);
}

/*
 * A DNS name in letters, digits and hyphens: labels of 1..63 bytes that neither
 * start nor end with '-', at most 253 bytes, no final dot, and a last label that
 * is not all digits (so "10.0.0.300" is not mistaken for a name).
 */
static bool is_dns_name(const char *p, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	size_t start = 0;
	bool all_digits = true;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || p[i] == '.') {
			size_t llen = i - start;
			if (llen == 0 || llen > 63 || p[start] == '-' || p[i - 1] == '-')
				return false;
			if (i == len)
				return !all_digits;
			start = i + 1;
			all_digits = true;
			continue;
		}
		char c = p[i];
		if (c >= '0' && c <= '9')
			continue;
		all_digits = false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
			return false;
	}
	return false; /* not reached: the loop returns at i == len */
}

static bool is_ip_literal(const char *host, int *family_r)
{
	unsigned char addr[16];
	if (inet_pton(AF_INET, host, addr) == 1) {
		*family_r = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, host, addr) == 1) {
		*family_r = AF_INET6;
		return true;
	}
	return false;
}

/* ---- listener lists -------------------------------------------------------- */

/* Parses one "host:port" or "[v6]:port" item into a (host is newly allocated). */
static int parse_listen_item(struct str item, struct listen_addr *a, struct buf *err)
{
	struct str host, port;
	char *h = NULL;
	int family;

	if (item.len == 0) {
		buf_puts(err, "empty address in the list");
		return -1;
	}
	if (item.p[0] == '[') {
		const char *close = memchr(item.p, ']', item.len);
		if (!close) {
			buf_puts(err, "missing ']' in ");
			goto bad_item;
		}
		host = (struct str){item.p + 1, (size_t)(close - item.p - 1)};
		size_t after = (size_t)(close + 1 - item.p);
		if (after >= item.len || item.p[after] != ':') {
			buf_puts(err, "missing ':port' after ']' in ");
			goto bad_item;
		}
		port = (struct str){item.p + after + 1, item.len - after - 1};
		h = str_dup(host);
		if (host.len == 0 || !is_ip_literal(h, &family) || family != AF_INET6) {
			buf_puts(err, "not an IPv6 address in ");
			goto bad_item;
		}
	} else {
		const char *colon = memrchr(item.p, ':', item.len);
		if (!colon) {
			buf_puts(err, "missing ':port' in ");
			goto bad_item;
		}
		host = (struct str){item.p, (size_t)(colon - item.p)};
		port = (struct str){colon + 1, item.len - host.len - 1};
		if (memchr(host.p, ':', host.len)) {
			buf_puts(err, "an IPv6 address needs brackets, as in [::1]:25: ");
			goto bad_item;
		}
		if (host.len == 0) {
			buf_puts(err, "missing host in ");
			goto bad_item;
		}
		h = str_dup(host);
		bool numeric = strspn(h, "0123456789.") == host.len;
		if (strcmp(h, "*") == 0) {
			/* every address */
		} else if (numeric) {
			if (!is_ip_literal(h, &family)) {
				buf_puts(err, "not an IPv4 address in ");
				goto bad_item;
			}
		} else if (!is_dns_name(h, host.len)) {
			buf_puts(err, "not a host name or IP address in ");
			goto bad_item;
		}
	}

	uint64_t v;
	if (!str_to_u64(port, &v) || v < 1 || v > 65535) {
		buf_puts(err, "port must be 1 to 65535 in ");
		goto bad_item;
	}
	a->host = h;
	a->port = (unsigned)v;
	return 0;

bad_item:
	free(h);
	put_quoted(err, item.p, item.len);
	return -1;
}

int config_parse_listen(const char *value, struct listen_addr **addrs_r, size_t *n_r,
                        struct buf *err)
{
	struct listen_addr *addrs = NULL;
	size_t n = 0;
	struct str rest = str_trim(str_c(value));

	*addrs_r = NULL;
	*n_r = 0;
	if (rest.len == 0)
		return 0;
	for (;;) {
		const char *comma = memchr(rest.p, ',', rest.len);
		size_t ilen = comma ? (size_t)(comma - rest.p) : rest.len;
		struct listen_addr a;

		if (n == CONFIG_MAX_LISTEN) {
			buf_printf(err, "more than %d addresses", CONFIG_MAX_LISTEN);
			goto fail;
		}
		if (parse_listen_item(str_trim((struct str){rest.p, ilen}), &a, err) < 0)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			if (addrs[i].port == a.port && strcmp(addrs[i].host, a.host) == 0) {
				buf_printf(err, "address listed twice: '%s:%u'", a.host, a.port);
				free(a.host);
				goto fail;
			}
		}
		addrs = xrealloc(addrs, (n + 1) * sizeof(*addrs));
		addrs[n++] = a;
		if (!comma)
			break;
		rest.len -= ilen + 1;
		rest.p = comma + 1;
	}
	*addrs_r = addrs;
	*n_r = n;
	return 0;

fail:
	config_listen_free(&addrs, n);
	return -1;
}

void config_listen_free(struct listen_addr **addrs, size_t n)
{
	if (!*addrs)
		return;
	for (size_t i = 0; i < n; i++)
		free((*addrs)[i].host);
	xfree(addrs);
}

/* ---- duration lists and routes --------------------------------------------------- */

static bool parse_number(enum cfg_type t, const char *s, uint64_t *v_r, struct buf *why);

int config_parse_durations(const char *value, uint64_t *v, size_t max, size_t *n_r,
                           struct buf *err)
{
	struct str rest = str_trim(str_c(value));
	size_t n = 0;

	*n_r = 0;
	if (rest.len == 0) {
		buf_puts(err, "no duration given");
		return -1;
	}
	for (;;) {
		const char *comma = memchr(rest.p, ',', rest.len);
		size_t ilen = comma ? (size_t)(comma - rest.p) : rest.len;
		struct str item = str_trim((struct str){rest.p, ilen});
		char *text = str_dup(item);
		uint64_t d;
		bool ok = parse_number(CFG_DURATION, text, &d, err);
		free(text);
		if (!ok)
			return -1;
		if (d < 1 || d > 30 * DAY) {
			buf_puts(err, "each duration must be 1s to 30d");
			return -1;
		}
		if (n == max) {
			buf_printf(err, "more than %zu durations", max);
			return -1;
		}
		v[n++] = d;
		if (!comma)
			break;
		rest.len -= ilen + 1;
		rest.p = comma + 1;
	}
	*n_r = n;
	return 0;
}

void config_route_free(struct config_route *r)
{
	for (size_t i = 0; i < r->nhops; i++)
		free(r->hops[i].host);
	xfree(&r->hops);
	r->nhops = 0;
	xfree(&r->auth_user);
	xfree(&r->auth_password);
	xfree(&r->auth_file);
}

/* "USER:PASSWORD" (bytes p..p+len) into two strings; errors never quote it. */
static int split_auth(const char *p, size_t len, char **user_r, char **password_r, struct buf *err)
{
	const char *colon = memchr(p, ':', len);
	if (!colon || colon == p || colon + 1 == p + len) {
		buf_puts(err, "credentials must be USER:PASSWORD");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (is_ctl((unsigned char)p[i])) {
			buf_puts(err, "a control character in the credentials");
			return -1;
		}
	}
	*user_r = xstrndup(p, (size_t)(colon - p));
	*password_r = xstrndup(colon + 1, len - (size_t)(colon - p) - 1);
	return 0;
}

int config_parse_auth(const char *text, size_t len, char **user_r, char **password_r,
                      struct buf *err)
{
	const char *nl = memchr(text, '\n', len);
	size_t n = nl ? (size_t)(nl - text) : len;
	if (n > 0 && text[n - 1] == '\r')
		n--;
	*user_r = *password_r = NULL;
	return split_auth(text, n, user_r, password_r, err);
}

/* One next hop: "[host]:port", "[host]", "host:port" or "host". */
static int parse_hop(struct str t, struct config_hop *h, struct buf *err)
{
	struct str host, port = {NULL, 0};
	bool bracketed = t.len > 0 && t.p[0] == '[';
	int family;

	if (bracketed) {
		const char *close = memchr(t.p, ']', t.len);
		if (!close) {
			buf_puts(err, "missing ']' in ");
			goto bad;
		}
		host = (struct str){t.p + 1, (size_t)(close - t.p - 1)};
		size_t after = (size_t)(close + 1 - t.p);
		if (after < t.len) {
			if (t.p[after] != ':') {
				buf_puts(err, "text after ']' in ");
				goto bad;
			}
			port = (struct str){t.p + after + 1, t.len - after - 1};
		}
	} else {
		const char *colon = memchr(t.p, ':', t.len);
		host = (struct str){t.p, colon ? (size_t)(colon - t.p) : t.len};
		if (colon) {
			port = (struct str){colon + 1, t.len - host.len - 1};
			if (memchr(port.p, ':', port.len)) {
				buf_puts(err, "an IPv6 address needs brackets, as in [::1]:25: ");
				goto bad;
			}
		}
	}
	char *name = str_dup(host);
	bool ip = is_ip_literal(name, &family);
	if (!ip && !is_dns_name(name, host.len)) {
		free(name);
		buf_puts(err, "not a host name or IP address in ");
		goto bad;
	}
	uint64_t v = 0;
	if (port.p && (!str_to_u64(port, &v) || v < 1 || v > 65535)) {
		free(name);
		buf_puts(err, "port must be 1 to 65535 in ");
		goto bad;
	}
	h->host = name;
	h->port = (unsigned)v;
	h->mx = !bracketed && !ip;
	return 0;
bad:
	put_quoted(err, t.p, t.len);
	return -1;
}

int config_parse_route(const char *value, struct config_route *r, struct buf *err)
{
	const char *p = value;
	bool mx = false;

	memset(r, 0, sizeof *r);
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, " \t,");
		struct str t = {p, len};
		p += len;
		bool auth = str_has_prefix_nocase(t, "auth=");
		bool auth_file = str_has_prefix_nocase(t, "auth-file=");
		if (str_eq(t, STR_LIT("require-tls"))) {
			r->require_tls = true;
		} else if (str_eq(t, STR_LIT("verify"))) {
			r->require_tls = r->verify = true;
		} else if (auth || auth_file) {
			/* Credentials go only over TLS. */
			if (r->auth_user || r->auth_file) {
				buf_puts(err, "credentials given twice (auth= or auth-file=)");
				goto fail;
			}
			if (r->nhops == 0) {
				buf_puts(err, "auth= and auth-file= need a next hop (a smarthost)");
				goto fail;
			}
			r->require_tls = true;
			if (auth && split_auth(t.p + 5, t.len - 5, &r->auth_user, &r->auth_password,
			                       err) < 0)
				goto fail;
			if (auth_file && t.len == 10) {
				buf_puts(err, "auth-file= needs a path");
				goto fail;
			}
			if (auth_file)
				r->auth_file = xstrndup(t.p + 10, t.len - 10);
		} else if (r->require_tls) {
			buf_puts(err, "next hops come before the policy words: ");
			put_quoted(err, t.p, t.len);
			goto fail;
		} else if (str_eq(t, STR_LIT("mx"))) {
			mx = true;
		} else if (r->nhops == CONFIG_MAX_HOPS) {
			buf_printf(err, "more than %d next hops", CONFIG_MAX_HOPS);
			goto fail;
		} else {
			r->hops = xrealloc(r->hops, (r->nhops + 1) * sizeof *r->hops);
			if (parse_hop(t, &r->hops[r->nhops], err) < 0)
				goto fail;
			r->nhops++;
		}
	}
	if (mx && r->nhops > 0) {
		buf_puts(err, "'mx' stands alone: it cannot be mixed with next hops");
		goto fail;
	}
	if (!mx && r->nhops == 0) {
		buf_puts(err, "no next hop (write 'mx' for the domain's own MX hosts)");
		goto fail;
	}
	return 0;
fail:
	config_route_free(r);
	return -1;
}

/* ---- source-IP pools ------------------------------------------------------------------ */

bool config_pool_name_ok(const char *name)
{
	size_t n = strlen(name);
	return n >= 1 && n <= CONFIG_MAX_POOL_NAME &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
	               n;
}

static void pool_clear(struct config_pool *p)
{
	for (size_t i = 0; i < p->naddrs; i++) {
		free(p->addrs[i].ip);
		free(p->addrs[i].ehlo);
	}
	xfree(&p->addrs);
	p->naddrs = 0;
	xfree(&p->ehlo);
	p->max_connections = 0;
}

static void pools_free(struct config_pool **pools, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		pool_clear(&(*pools)[i]);
		free((*pools)[i].name);
	}
	xfree(pools);
	*n = 0;
}

/* "ip [ehlo], ip [ehlo], ..." */
static bool pool_set_addresses(struct config_pool *p, const char *value, struct buf *why)
{
	struct config_pool_addr *addrs = NULL;
	size_t n = 0;
	struct str rest = str_trim(str_c(value));
	bool ok = false;
	int family;

	if (rest.len == 0) {
		buf_puts(why, "no address given");
		return false;
	}
	for (;;) {
		const char *comma = memchr(rest.p, ',', rest.len);
		size_t ilen = comma ? (size_t)(comma - rest.p) : rest.len;
		struct str item = str_trim((struct str){rest.p, ilen});
		size_t alen = 0;
		while (alen < item.len && !is_blank(item.p[alen]))
			alen++;
		struct str name = str_trim((struct str){item.p + alen, item.len - alen});
		if (item.len == 0) {
			buf_puts(why, "empty address in the list");
			goto out;
		}
		if (n == CONFIG_MAX_POOL_ADDRS) {
			buf_printf(why, "more than %d addresses", CONFIG_MAX_POOL_ADDRS);
			goto out;
		}
		char *ip = xstrndup(item.p, alen);
		if (!is_ip_literal(ip, &family)) {
			buf_puts(why, "not an IP address: ");
			put_quoted(why, item.p, alen);
			free(ip);
			goto out;
		}
		if (name.len > 0 &&
		    (memchr(name.p, ' ', name.len) || memchr(name.p, '\t', name.len) ||
		     !is_dns_name(name.p, name.len))) {
			buf_puts(why, "not a host name for EHLO: ");
			put_quoted(why, name.p, name.len);
			free(ip);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			if (strcmp(addrs[i].ip, ip) == 0) {
				buf_printf(why, "address listed twice: '%s'", ip);
				free(ip);
				goto out;
			}
		}
		addrs = xrealloc(addrs, (n + 1) * sizeof *addrs);
		addrs[n++] = (struct config_pool_addr){ip, name.len ? str_dup(name) : NULL};
		if (!comma)
			break;
		rest.len -= ilen + 1;
		rest.p = comma + 1;
	}
	ok = true;
	for (size_t i = 0; i < p->naddrs; i++) {
		free(p->addrs[i].ip);
		free(p->addrs[i].ehlo);
	}
	free(p->addrs);
	p->addrs = addrs;
	p->naddrs = n;
	addrs = NULL;
	n = 0;
out:
	for (size_t i = 0; i < n; i++) {
		free(addrs[i].ip);
		free(addrs[i].ehlo);
	}
	free(addrs);
	return ok;
}

static bool pool_set_ehlo(struct config_pool *p, const char *value, struct buf *why)
{
	if (*value && !is_dns_name(value, strlen(value))) {
		buf_puts(why, "not a valid DNS name");
		return false;
	}
	xfree(&p->ehlo);
	p->ehlo = *value ? xstrdup(value) : NULL;
	return true;
}

static bool pool_set_max(struct config_pool *p, const char *value, struct buf *why)
{
	uint64_t v;
	if (!parse_number(CFG_UINT, value, &v, why))
		return false;
	if (v > 100000) {
		buf_puts(why, "must be 0 to 100000");
		return false;
	}
	p->max_connections = v;
	return true;
}

const struct config_pool *config_pool_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->npools; i++)
		if (strcmp(cfg->pools[i].name, name) == 0)
			return &cfg->pools[i];
	return NULL;
}

static const char *pool_map_get(const struct config *cfg, struct str key)
{
	for (size_t i = 0; i < cfg->npool_map; i++)
		if (str_eq_nocase(str_c(cfg->pool_map[i].key), key))
			return cfg->pool_map[i].value;
	return NULL;
}

const char *config_pool_for(const struct config *cfg, const char *sender)
{
	const char *at = strrchr(sender, '@');
	const char *v = NULL;
	if (at && at != sender && at[1]) {
		v = pool_map_get(cfg, str_c(sender));
		if (!v)
			v = pool_map_get(cfg, str_c(at + 1));
	}
	return v ? v : pool_map_get(cfg, STR_LIT("default"));
}

const char *config_route_for(const struct config *cfg, const char *domain)
{
	const char *any = NULL;
	for (size_t i = 0; i < cfg->nroutes; i++) {
		if (str_eq_nocase(str_c(cfg->routes[i].key), str_c(domain)))
			return cfg->routes[i].value;
		if (strcmp(cfg->routes[i].key, "*") == 0)
			any = cfg->routes[i].value;
	}
	return any;
}

/* ---- values ------------------------------------------------------------------ */

static void print_number(struct buf *out, enum cfg_type t, uint64_t v)
{
	static const struct {
		enum cfg_type type;
		uint64_t unit;
		char suffix;
	} units[] = {
	        {CFG_SIZE, GIB, 'G'},     {CFG_SIZE, MIB, 'M'},      {CFG_SIZE, KIB, 'K'},
	        {CFG_DURATION, DAY, 'd'}, {CFG_DURATION, HOUR, 'h'}, {CFG_DURATION, MINUTE, 'm'},
	        {CFG_DURATION, 1, 's'},
	};
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (units[i].type == t && v % units[i].unit == 0 &&
		    (v != 0 || units[i].unit == 1)) {
			buf_printf(out, "%" PRIu64 "%c", v / units[i].unit, units[i].suffix);
			return;
		}
	}
	buf_printf(out, "%" PRIu64, v);
}

/*
 * A whole decimal number, with for sizes an optional K/M/G suffix (either case)
 * and for durations an optional s/m/h/d suffix. Overflow is an error, never a
 * wrap-around.
 */
static bool parse_number(enum cfg_type t, const char *s, uint64_t *v_r, struct buf *why)
{
	static const char *const what[] = {
	        [CFG_UINT] = "not a number",
	        [CFG_SIZE] = "not a size (a number with an optional K, M or G suffix)",
	        [CFG_DURATION] = "not a duration (seconds, or a number with s, m, h or d)",
	};
	size_t n = strspn(s, "0123456789");
	uint64_t mul = 1, v;

	if (n > 0 && s[n] != '\0' && s[n + 1] == '\0') {
		char c = s[n];
		if (t == CFG_SIZE && (c == 'K' || c == 'k'))
			mul = KIB;
		else if (t == CFG_SIZE && (c == 'M' || c == 'm'))
			mul = MIB;
		else if (t == CFG_SIZE && (c == 'G' || c == 'g'))
			mul = GIB;
		else if (t == CFG_DURATION && c == 's')
			mul = 1;
		else if (t == CFG_DURATION && c == 'm')
			mul = MINUTE;
		else if (t == CFG_DURATION && c == 'h')
			mul = HOUR;
		else if (t == CFG_DURATION && c == 'd')
			mul = DAY;
		else
			n = 0;
	} else if (s[n] != '\0') {
		n = 0;
	}
	if (n == 0) {
		buf_puts(why, what[t]);
		return false;
	}
	if (!str_to_u64((struct str){s, n}, &v) || v > UINT64_MAX / mul) {
		buf_puts(why, "number too large");
		return false;
	}
	*v_r = v * mul;
	return true;
}

static bool parse_bool(const char *s, bool *v_r)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (str_eq_cstr_nocase(str_c(s), yes[i])) {
			*v_r = true;
			return true;
		}
		if (str_eq_cstr_nocase(str_c(s), no[i])) {
			*v_r = false;
			return true;
		}
	}
	return false;
}

static void put_choices(struct buf *out, const char *const *choices, const char *sep)
{
	for (size_t i = 0; choices[i]; i++)
		buf_printf(out, "%s%s", i ? sep : "", choices[i]);
}

static void replace_string(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

/*
 * Parses text as the value of k and stores it in cfg. On error returns -1 with a
 * reason in why that ends with the quoted value when quoting it helps.
 */
static int set_value(const struct cfg_key *k, const char *text, struct config *cfg, struct buf *why)
{
	void *field = field_of(cfg, k);
	size_t len = strlen(text);
	uint64_t num = 0;
	bool flag = false;

	if (len > CONFIG_MAX_VALUE) {
		buf_printf(why, "value too long (%zu bytes, at most %d)", len, CONFIG_MAX_VALUE);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (is_ctl((unsigned char)text[i])) {
			buf_printf(why, "control character 0x%02x in the value",
			           (unsigned char)text[i]);
			return -1;
		}
	}
	/* inih would read "key = ;x" back as an empty value: refuse what cannot round-trip. */
	if (text[0] == ';') {
		buf_puts(why, "a value cannot start with ';' (it would read as a comment)");
		return -1;
	}

	switch (k->type) {
	case CFG_STRING:
		if (k->check.fn && !k->check.fn(k, text, why))
			goto bad_value;
		replace_string(field, text);
		return 0;
	case CFG_LISTEN: {
		struct listen_addr *addrs;
		size_t n;
		if (config_parse_listen(text, &addrs, &n, why) < 0)
			return -1;
		config_listen_free(&addrs, n);
		replace_string(field, text);
		return 0;
	}
	case CFG_ENUM:
		for (size_t i = 0; k->check.choices[i]; i++) {
			if (str_eq_cstr_nocase(str_c(text), k->check.choices[i])) {
				replace_string(field, k->check.choices[i]);
				return 0;
			}
		}
		buf_puts(why, "must be one of ");
		put_choices(why, k->check.choices, ", ");
		goto bad_value;
	case CFG_BOOL:
		if (!parse_bool(text, &flag)) {
			buf_puts(why, "not a boolean (yes or no)");
			goto bad_value;
		}
		if (k->check.fn && !k->check.fn(k, &flag, why))
			goto bad_value;
		*(bool *)field = flag;
		return 0;
	case CFG_UINT:
	case CFG_SIZE:
	case CFG_DURATION:
		if (!parse_number(k->type, text, &num, why))
			goto bad_value;
		if (k->check.fn && !k->check.fn(k, &num, why))
			goto bad_value;
		*(uint64_t *)field = num;
		return 0;
	}
	panic("config: key [%s] %s has an unknown type %d", k->section, k->key, (int)k->type);

bad_value:
	buf_puts(why, ": ");
	put_quoted(why, text, len);
	return -1;
}

/* ---- validators ---------------------------------------------------------------- */

static bool check_range(const struct cfg_key *k, const void *value, struct buf *why)
{
	uint64_t v = *(const uint64_t *)value;
	if (v >= k->check.min && v <= k->check.max)
		return true;
	buf_puts(why, "must be ");
	print_number(why, k->type, k->check.min);
	buf_puts(why, " to ");
	print_number(why, k->type, k->check.max);
	return false;
}

static bool check_nonempty(const struct cfg_key *k, const void *value, struct buf *why)
{
	if (*(const char *)value != '\0')
		return true;
	buf_puts(why, "must not be empty");
	return false;
}

static bool check_hostname(const struct cfg_key *k, const void *value, struct buf *why)
{
	const char *s = value;
	if (is_dns_name(s, strlen(s)))
		return true;
	buf_puts(why, "not a valid DNS name");
	return false;
}

/* Empty, or a portable user name: letters, digits, '.', '_', '-', not starting with '-'. */
static bool check_user(const struct cfg_key *k, const void *value, struct buf *why)
{
	const char *s = value;
	size_t n = strlen(s);
	if (n == 0)
		return true;
	if (n <= 32 && s[0] != '-' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n)
		return true;
	buf_puts(why, "not a valid user name");
	return false;
}

/* Empty, or exactly one IP-literal address with a port: c-ares takes no names. */
static bool check_resolver(const struct cfg_key *k, const void *value, struct buf *why)
{
	const char *s = value;
	struct listen_addr *addrs;
	size_t n;
	struct buf ignore = BUF_INIT;
	int family;
	bool ok;

	if (*s == '\0')
		return true;
	ok = config_parse_listen(s, &addrs, &n, &ignore) == 0 && n == 1 &&
	     is_ip_literal(addrs[0].host, &family);
	config_listen_free(&addrs, n);
	buf_free(&ignore);
	if (!ok)
		buf_puts(why, "must be one IP address and port, as in 127.0.0.1:53 or [::1]:53");
	return ok;
}

static bool check_retry(const struct cfg_key *k, const void *value, struct buf *why)
{
	uint64_t v[CONFIG_MAX_RETRY];
	size_t n;
	return config_parse_durations(value, v, CONFIG_MAX_RETRY, &n, why) == 0;
}

/* A [pools] line: "default", a domain or an address, and a pool's name (which
   must exist: checked once the whole text is read). */
static bool check_pool_map_entry(const char *key, const char *value, struct buf *why)
{
	const char *at = strrchr(key, '@');
	bool ok;
	if (at)
		ok = at != key && strcspn(key, " \t\"<>,;") == strlen(key) &&
		     is_dns_name(at + 1, strlen(at + 1));
	else
		ok = strcmp(key, "default") == 0 || is_dns_name(key, strlen(key));
	if (!ok) {
		buf_puts(why, "not a sender address, domain or 'default'");
		return false;
	}
	if (!config_pool_name_ok(value)) {
		buf_puts(why, "not a pool name: ");
		put_quoted(why, value, strlen(value));
		return false;
	}
	return true;
}

/* A [routes] line: a destination domain or "*", and a route. */
static bool check_route_entry(const char *key, const char *value, struct buf *why)
{
	struct config_route r;
	if (strcmp(key, "*") != 0 && !is_dns_name(key, strlen(key))) {
		buf_puts(why, "not a domain name (or '*')");
		return false;
	}
	if (config_parse_route(value, &r, why) < 0)
		return false;
	config_route_free(&r);
	return true;
}

/* ---- defaults, copy, free ------------------------------------------------------ */

/* The system's host name when it is a valid DNS name, else "localhost". */
static char *system_hostname(void)
{
	size_t size = 256;
	char *name = xcalloc(1, size);
	if (gethostname(name, size - 1) == 0 && is_dns_name(name, strlen(name)))
		return name;
	free(name);
	return xstrdup("localhost");
}

void config_defaults(struct config *cfg)
{
	struct buf why = BUF_INIT;

	memset(cfg, 0, sizeof(*cfg));
	cfg->source = xstrdup("(defaults)");
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct cfg_key *k = &keys[i];
		if (k->def[0] == '<')
			continue;
		if (set_value(k, k->def, cfg, &why) < 0)
			panic("config: bad default for [%s] %s: %s", k->section, k->key,
			      buf_cstr(&why));
	}
	buf_free(&why);
	cfg->hostname = system_hostname();
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *suffix = data_dir_suffix(&keys[i]);
		if (suffix)
			*(char **)field_of(cfg, &keys[i]) = data_dir_path(cfg->data_dir, suffix);
	}
}

/* A deep copy: every string of the table, and source, is duplicated. */
static void config_copy(struct config *dst, const struct config *src)
{
	*dst = *src;
	dst->source = src->source ? xstrdup(src->source) : NULL;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (!is_string_type(keys[i].type))
			continue;
		char **f = field_of(dst, &keys[i]);
		if (*f)
			*f = xstrdup(*f);
	}
	for (size_t s = 0; s < ARRAY_SIZE(sections); s++) {
		if (!sections[s].free_keys)
			continue;
		struct config_entry **e = entries_of(dst, &sections[s]);
		size_t n = *count_of(dst, &sections[s]);
		if (!*e)
			continue;
		struct config_entry *copy = xcalloc(n ? n : 1, sizeof *copy);
		for (size_t i = 0; i < n; i++)
			copy[i] = (struct config_entry){xstrdup((*e)[i].key), xstrdup((*e)[i].value),
							0};
		*e = copy;
	}
	if (src->pools) {
		dst->pools = xcalloc(src->npools + 1, sizeof *dst->pools);
		for (size_t i = 0; i < src->npools; i++) {
			const struct config_pool *sp = &src->pools[i];
			struct config_pool *dp = &dst->pools[i];
			dp->name = xstrdup(sp->name);
			dp->ehlo = sp->ehlo ? xstrdup(sp->ehlo) : NULL;
			dp->max_connections = sp->max_connections;
			dp->addrs = xcalloc(sp->naddrs + 1, sizeof *dp->addrs);
			dp->naddrs = sp->naddrs;
			for (size_t a = 0; a < sp->naddrs; a++)
				dp->addrs[a] = (struct config_pool_addr){
				        xstrdup(sp->addrs[a].ip),
				        sp->addrs[a].ehlo ? xstrdup(sp->addrs[a].ehlo) : NULL};
			dp->line = 0;
		}
	}
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (is_string_type(keys[i].type))
			xfree(field_of(cfg, &keys[i]));
	for (size_t s = 0; s < ARRAY_SIZE(sections); s++)
		if (sections[s].free_keys)
			entries_free(entries_of(cfg, &sections[s]), count_of(cfg, &sections[s]));
	pools_free(&cfg->pools, &cfg->npools);
	xfree(&cfg->source);
}

/* ---- parsing --------------------------------------------------------------------- */

struct parse_ctx {
	struct config *cfg; /* the copy being filled */
	const char *name;   /* file name for messages */
	const char *p;      /* text not yet read */
	size_t left;
	int line;                       /* number of the line being handled (= inih's lineno) */
	bool indented;                  /* that line started with blanks */
	bool after_key;                 /* a key line came earlier in the current section */
	int section;                    /* index in sections[], -1 before the first header */
	int set_line[ARRAY_SIZE(keys)]; /* line that set each key in this text, 0: unset */
	int pool;                       /* in a [pool.NAME] section: its index in cfg->pools */
	int pool_line[ARRAY_SIZE(pool_keys)]; /* lines that set its keys, 0: unset */
	int err_line;                   /* line of the first error, 0: none yet */
	struct buf msg;                 /* its reason */
};

static void vfail(struct parse_ctx *c, bool hint, const char *fmt, va_list ap)
{
	if (c->err_line)
		return;
	c->err_line = c->line;
	buf_vprintf(&c->msg, fmt, ap);
	if (hint && c->indented && c->after_key)
		buf_puts(&c->msg, " (an indented line does not continue the value above it: "
		                  "write a value on one line)");
}

static void fail(struct parse_ctx *c, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void fail_line(struct parse_ctx *c, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Records the first error; the parse stops there. */
static void fail(struct parse_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(c, false, fmt, ap);
	va_end(ap);
}

/*
 * The same for a line that is not valid on its own: if it is indented under a
 * key, its author probably meant a continuation line, so the message says why
 * that does not work.
 */
static void fail_line(struct parse_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(c, true, fmt, ap);
	va_end(ap);
}

static int find_section(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (strlen(sections[i].name) == len && memcmp(sections[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/*
 * "[pool.NAME]": a pool defined earlier in this text is an error; one from an
 * earlier text (layered parses) is replaced.
 */
static bool enter_pool_section(struct parse_ctx *c, const char *name, size_t len)
{
	struct config *cfg = c->cfg;
	char *n = xstrndup(name, len);
	bool ok = false;
	if (!config_pool_name_ok(n)) {
		struct buf echo = BUF_INIT;
		put_echo(&echo, name, len);
		fail_line(c, "[pool.%s]: a pool's name is 1 to %d letters, digits, '-' or '_'",
		          buf_cstr(&echo), CONFIG_MAX_POOL_NAME);
		buf_free(&echo);
		goto out;
	}
	int found = -1;
	for (size_t i = 0; i < cfg->npools; i++)
		if (strcmp(cfg->pools[i].name, n) == 0)
			found = (int)i;
	if (found >= 0 && cfg->pools[found].line) {
		fail(c, "duplicate section [pool.%s] (first on line %d)", n,
		     cfg->pools[found].line);
		goto out;
	}
	if (found < 0) {
		if (cfg->npools >= CONFIG_MAX_POOLS) {
			fail(c, "more than %d [pool.NAME] sections", CONFIG_MAX_POOLS);
			goto out;
		}
		cfg->pools = xrealloc(cfg->pools, (cfg->npools + 1) * sizeof *cfg->pools);
		found = (int)cfg->npools++;
		memset(&cfg->pools[found], 0, sizeof cfg->pools[found]);
		cfg->pools[found].name = n;
		n = NULL;
	} else {
		pool_clear(&cfg->pools[found]);
	}
	cfg->pools[found].line = c->line;
	for (size_t s = 0; s < ARRAY_SIZE(sections); s++)
		if (is_pool_section(&sections[s]))
			c->section = (int)s;
	c->pool = found;
	memset(c->pool_line, 0, sizeof c->pool_line);
	c->after_key = false;
	ok = true;
out:
	free(n);
	return ok;
}

/* "[name]" optionally followed by blanks and a comment. */
static bool check_section_line(struct parse_ctx *c, const char *line, size_t len)
{
	const char *close = memchr(line, ']', len);
	if (!close) {
		fail_line(c, "syntax error: missing ']'");
		return false;
	}
	size_t nlen = (size_t)(close - line - 1);
	size_t i = (size_t)(close - line) + 1;
	while (i < len && is_blank(line[i]))
		i++;
	if (i < len && line[i] != ';' && line[i] != '#') {
		fail_line(c, "syntax error: text after ']'");
		return false;
	}
	size_t plen = strlen(POOL_SECTION_PREFIX);
	if (nlen > plen && memcmp(line + 1, POOL_SECTION_PREFIX, plen) == 0)
		return enter_pool_section(c, line + 1 + plen, nlen - plen);
	int s = find_section(line + 1, nlen);
	if (s < 0 || is_pool_section(&sections[s])) {
		struct buf name = BUF_INIT;
		put_echo(&name, line + 1, nlen);
		fail_line(c, "unknown section [%s]", buf_cstr(&name));
		buf_free(&name);
		return false;
	}
	c->section = s;
	c->after_key = false;
	return true;
}

/*
 * A key line must have '=' or ':' before any inline comment (';' after a blank),
 * the same rule inih applies, checked here so the error stops the parse at once.
 */
static bool check_key_line(struct parse_ctx *c, const char *line, size_t len)
{
	bool was_blank = false;
	for (size_t i = 0; i < len; i++) {
		char ch = line[i];
		if (ch == '=' || ch == ':')
			return true;
		if (ch == ';' && was_blank)
			break;
		was_blank = is_blank(ch);
	}
	fail_line(c, "syntax error: expected 'key = value'");
	return false;
}

/*
 * The ini_reader handed to inih (an fgets look-alike): copies the next line into
 * out (size bytes) after checking it, or returns NULL at the end of the text or
 * at the first error, which stops inih.
 */
static char *read_line(char *out, int size, void *stream)
{
	struct parse_ctx *c = stream;

	if (c->err_line || c->left == 0)
		return NULL;

	const char *line = c->p;
	const char *nl = memchr(line, '\n', c->left);
	size_t len = nl ? (size_t)(nl - line) : c->left;
	c->p += nl ? len + 1 : len;
	c->left -= nl ? len + 1 : len;
	c->line++;
	c->indented = false;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (c->line == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
		line += 3;
		len -= 3;
	}
	if (len > CONFIG_MAX_LINE || size < 2 || len > (size_t)size - 2) {
		fail(c, "line too long (at most %d bytes)", CONFIG_MAX_LINE);
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch == '\0') {
			fail(c, "NUL byte in the line");
			return NULL;
		}
		if (is_ctl(ch) && ch != '\t') {
			fail(c, "control character 0x%02x in the line", ch);
			return NULL;
		}
	}
	while (len > 0 && is_blank(*line)) {
		line++;
		len--;
		c->indented = true;
	}

	if (len == 0 || line[0] == ';' || line[0] == '#') {
		/* blank or comment: inih skips it */
	} else if (line[0] == '[') {
		if (!check_section_line(c, line, len))
			return NULL;
	} else {
		if (!check_key_line(c, line, len))
			return NULL;
	}

	memcpy(out, line, len);
	out[len] = '\n';
	out[len + 1] = '\0';
	return out;
}

/*
 * A line of a free-key section: the key is lower-cased (the keys are names, such
 * as domains, compared without case); a key set earlier in the same text is a
 * duplicate, one set by an earlier text (layered parses) is replaced.
 */
static void set_entry(struct parse_ctx *c, const struct cfg_section *sec, const char *name,
                      const char *value)
{
	struct buf why = BUF_INIT, echo = BUF_INIT;
	struct config_entry **e = entries_of(c->cfg, sec);
	size_t *n = count_of(c->cfg, sec);
	char *key = str_dup_lower(str_c(name));
	size_t len = strlen(value);

	put_echo(&echo, name, strlen(name));
	if (len > CONFIG_MAX_VALUE) {
		fail(c, "[%s] %s: value too long (%zu bytes, at most %d)", sec->name,
		     buf_cstr(&echo), len, CONFIG_MAX_VALUE);
		goto out;
	}
	if (value[0] == ';') {
		fail(c, "[%s] %s: a value cannot start with ';' (it would read as a comment)",
		     sec->name, buf_cstr(&echo));
		goto out;
	}
	if (!sec->free_keys->check_entry(key, value, &why)) {
		fail_line(c, "[%s] %s: %s", sec->name, buf_cstr(&echo), buf_cstr(&why));
		goto out;
	}
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*e)[i].key, key) != 0)
			continue;
		if ((*e)[i].line) {
			fail(c, "[%s] duplicate key '%s' (first set on line %d)", sec->name,
			     buf_cstr(&echo), (*e)[i].line);
		} else {
			replace_string(&(*e)[i].value, value);
			(*e)[i].line = c->line;
		}
		goto out;
	}
	if (*n >= CONFIG_MAX_ENTRIES) {
		fail(c, "[%s] more than %d keys", sec->name, CONFIG_MAX_ENTRIES);
		goto out;
	}
	*e = xrealloc(*e, (*n + 1) * sizeof **e);
	(*e)[(*n)++] = (struct config_entry){key, xstrdup(value), c->line};
	key = NULL;
out:
	free(key);
	buf_free(&why);
	buf_free(&echo);
}

/* A line of a [pool.NAME] section. */
static void set_pool_key(struct parse_ctx *c, const char *name, const char *value)
{
	struct config_pool *p = &c->cfg->pools[c->pool];
	struct buf why = BUF_INIT, echo = BUF_INIT;
	size_t len = strlen(value);
	int found = -1;

	put_echo(&echo, name, strlen(name));
	for (size_t i = 0; i < ARRAY_SIZE(pool_keys); i++)
		if (strcmp(pool_keys[i].key, name) == 0)
			found = (int)i;
	if (found < 0) {
		fail_line(c, "[pool.%s] unknown key '%s'", p->name, buf_cstr(&echo));
	} else if (c->pool_line[found]) {
		fail(c, "[pool.%s] duplicate key '%s' (first set on line %d)", p->name, name,
		     c->pool_line[found]);
	} else if (len > CONFIG_MAX_VALUE) {
		fail(c, "[pool.%s] %s: value too long (%zu bytes, at most %d)", p->name, name, len,
		     CONFIG_MAX_VALUE);
	} else if (value[0] == ';') {
		fail(c, "[pool.%s] %s: a value cannot start with ';' (it would read as a comment)",
		     p->name, name);
	} else if (!pool_keys[found].set(p, value, &why)) {
		if (found == 0) /* addresses: the reason quotes the bad item */
			fail(c, "[pool.%s] %s: %s", p->name, name, buf_cstr(&why));
		else {
			buf_puts(&why, ": ");
			put_quoted(&why, value, len);
			fail(c, "[pool.%s] %s: %s", p->name, name, buf_cstr(&why));
		}
	} else {
		c->pool_line[found] = c->line;
	}
	buf_free(&why);
	buf_free(&echo);
}

/* The ini_handler: one call per "key = value" line. Returns 0 to report an error. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	struct buf echo = BUF_INIT, why = BUF_INIT;
	const char *sec;
	int found = -1;

	put_echo(&echo, name, strlen(name));
	if (c->section < 0) {
		fail(c, "key '%s' before any [section]", buf_cstr(&echo));
		goto out;
	}
	sec = sections[c->section].name;
	if (sections[c->section].free_keys) {
		set_entry(c, &sections[c->section], name, value);
		goto out;
	}
	if (is_pool_section(&sections[c->section])) {
		set_pool_key(c, name, value);
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].section, sec) == 0 && strcmp(keys[i].key, name) == 0) {
			found = (int)i;
			break;
		}
	}
	if (found < 0) {
		fail_line(c, "[%s] unknown key '%s'", sec, buf_cstr(&echo));
		goto out;
	}
	if (c->set_line[found]) {
		fail(c, "[%s] duplicate key '%s' (first set on line %d)", sec, name,
		     c->set_line[found]);
		goto out;
	}
	c->set_line[found] = c->line;
	if (set_value(&keys[found], value, c->cfg, &why) < 0)
		fail(c, "[%s] %s: %s", sec, name, buf_cstr(&why));
	buf_free(&why);
out:
	c->after_key = true;
	buf_free(&echo);
	return c->err_line ? 0 : 1;
}

/*
 * Paths under data_dir follow data_dir unless this text set them. A value that
 * still equals the path derived from the old data_dir was derived, not chosen,
 * so it moves too; that keeps layered parses (defaults, then a file) right.
 */
static void derive_paths(struct parse_ctx *c, const char *old_data_dir)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *suffix = data_dir_suffix(&keys[i]);
		if (!suffix || c->set_line[i])
			continue;
		char **f = field_of(c->cfg, &keys[i]);
		char *old = data_dir_path(old_data_dir, suffix);
		if (!*f || strcmp(*f, old) == 0) {
			free(*f);
			*f = data_dir_path(nz(c->cfg->data_dir), suffix);
		}
		free(old);
	}
}

static int key_index(const char *section, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
			return (int)i;
	panic("config: no key [%s] %s", section, key);
}

/* Rules that tie several keys together, reported at the line of a key involved. */
static void check_combined(struct parse_ctx *c)
{
	int backend = key_index("store", "backend"), url = key_index("store", "url");
	if (strcmp(nz(c->cfg->store_backend), "postgresql") == 0 &&
	    nz(c->cfg->store_url)[0] == '\0') {
		c->line = c->set_line[url] ? c->set_line[url] : c->set_line[backend];
		c->indented = false;
		if (c->line)
			fail(c, "[store] backend = postgresql needs [store] url");
	}
	for (size_t i = 0; i < c->cfg->npools; i++) {
		const struct config_pool *p = &c->cfg->pools[i];
		c->line = p->line;
		if (p->line && p->naddrs == 0)
			fail(c, "[pool.%s] needs addresses", p->name);
	}
	for (size_t i = 0; i < c->cfg->npool_map; i++) {
		const struct config_entry *e = &c->cfg->pool_map[i];
		c->line = e->line;
		if (e->line && !config_pool_find(c->cfg, e->value))
			fail(c, "[pools] %s: no pool named '%s' (no [pool.%s] section)", e->key,
			     e->value, e->value);
	}
}

int config_parse_text(struct config *cfg, const char *name, const char *text, size_t len,
                      struct buf *err)
{
	struct config copy;
	struct parse_ctx c;
	int rc;

	config_copy(&copy, cfg);
	memset(&c, 0, sizeof(c));
	c.cfg = &copy;
	c.name = name ? name : "(text)";
	c.p = text ? text : "";
	c.left = text ? len : 0;
	c.section = -1;
	c.pool = -1;
	buf_init(&c.msg);

	/*
	 * Debian's inih reads each line into a stack buffer of ini_max_line bytes (a
	 * run-time setting there); make room for our longest line plus "\r\n\0", and
	 * put the setting back for anyone else. read_line checks the size it is given.
	 */
	int saved_max_line = ini_max_line;
	ini_max_line = CONFIG_MAX_LINE + 3;
	rc = ini_parse_stream(read_line, &c, on_key, &c);
	ini_max_line = saved_max_line;

	if (!c.err_line && rc == 0) {
		derive_paths(&c, nz(cfg->data_dir));
		check_combined(&c);
	}
	if (rc > 0 && (!c.err_line || rc < c.err_line)) {
		/* inih found a line our reader let through: still name it. */
		buf_printf(err, "%s:%d: syntax error", c.name, rc);
		rc = -1;
	} else if (c.err_line) {
		buf_printf(err, "%s:%d: %s", c.name, c.err_line, buf_cstr(&c.msg));
		rc = -1;
	} else if (rc < 0) {
		buf_printf(err, "%s: cannot parse (inih error %d)", c.name, rc);
		rc = -1;
	}
	buf_free(&c.msg);
	if (rc < 0) {
		config_free(&copy);
		return -1;
	}
	config_free(cfg);
	*cfg = copy;
	return 0;
}

int config_load_file(struct config *cfg, const char *path, struct buf *err)
{
	struct buf text = BUF_INIT;
	FILE *f = fopen(path, "rb");
	int rc = -1;

	if (!f) {
		buf_printf(err, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		buf_reserve(&text, 65536);
		size_t n = fread(text.data + text.len, 1, text.cap - text.len - 1, f);
		text.len += n;
		text.data[text.len] = '\0';
		if (text.len > CONFIG_MAX_FILE) {
			buf_printf(err, "%s: larger than %d bytes", path, CONFIG_MAX_FILE);
			goto out;
		}
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		buf_printf(err, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	rc = config_parse_text(cfg, path, text.data, text.len, err);
	if (rc == 0)
		replace_string(&cfg->source, path);
out:
	fclose(f);
	buf_free(&text);
	return rc;
}

int config_load(struct config *cfg, const char *path, struct buf *err)
{
	config_defaults(cfg);
	if (!path) {
		const char *env = getenv("PETREL_CONFIG");
		if (env && *env)
			path = env;
	}
	if (!path)
		return 0;
	return config_load_file(cfg, path, err);
}

/* ---- printing --------------------------------------------------------------------- */

static void print_value(struct buf *out, const struct config *cfg, const struct cfg_key *k)
{
	const void *f = cfield_of(cfg, k);
	if (is_string_type(k->type))
		buf_puts(out, nz(*(char *const *)f));
	else if (k->type == CFG_BOOL)
		buf_puts(out, *(const bool *)f ? "yes" : "no");
	else
		print_number(out, k->type, *(const uint64_t *)f);
}

static void print_pool(struct buf *out, const struct config_pool *p)
{
	buf_printf(out, "\n[%s%s]\naddresses =", POOL_SECTION_PREFIX, p->name);
	for (size_t a = 0; a < p->naddrs; a++)
		buf_printf(out, "%s %s%s%s", a ? "," : "", p->addrs[a].ip,
		           p->addrs[a].ehlo ? " " : "", p->addrs[a].ehlo ? p->addrs[a].ehlo : "");
	buf_printf(out, "\nehlo =%s%s\n", p->ehlo ? " " : "", p->ehlo ? p->ehlo : "");
	buf_printf(out, "max_connections = %" PRIu64 "\n", p->max_connections);
}

void config_print(const struct config *cfg, struct buf *out)
{
	const char *src = nz(cfg->source);

	buf_puts(out, "# petrel configuration, from ");
	put_echo(out, src, strlen(src));
	buf_puts(out, "\n");
	for (size_t s = 0; s < ARRAY_SIZE(sections); s++) {
		if (is_pool_section(&sections[s])) {
			for (size_t i = 0; i < cfg->npools; i++)
				print_pool(out, &cfg->pools[i]);
			continue;
		}
		buf_printf(out, "\n[%s]\n", sections[s].name);
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			if (strcmp(keys[i].section, sections[s].name) != 0)
				continue;
			struct buf value = BUF_INIT;
			print_value(&value, cfg, &keys[i]);
			/* "key =" for an empty value: no trailing blank */
			buf_printf(out, "%s =%s%s\n", keys[i].key, value.len ? " " : "",
			           buf_cstr(&value));
			buf_free(&value);
		}
		if (sections[s].free_keys) {
			struct config_entry *e =
				*entries_of((struct config *)cfg, &sections[s]);
			size_t n = *count_of((struct config *)cfg, &sections[s]);
			for (size_t i = 0; i < n; i++)
				buf_printf(out, "%s = %s\n", e[i].key, e[i].value);
		}
	}
}

static void print_type(struct buf *out, const struct cfg_key *k)
{
	switch (k->type) {
	case CFG_STRING:
		buf_puts(out, "string");
		return;
	case CFG_BOOL:
		buf_puts(out, "yes/no");
		return;
	case CFG_LISTEN:
		buf_puts(out, "listen list");
		return;
	case CFG_ENUM:
		buf_puts(out, "one of ");
		put_choices(out, k->check.choices, ", ");
		return;
	case CFG_UINT:
	case CFG_SIZE:
	case CFG_DURATION:
		buf_puts(out, k->type == CFG_UINT   ? "integer"
		              : k->type == CFG_SIZE ? "size"
		                                    : "duration");
		if (k->check.fn == check_range) {
			buf_puts(out, ", ");
			print_number(out, k->type, k->check.min);
			buf_puts(out, " to ");
			print_number(out, k->type, k->check.max);
		}
		return;
	}
}

void config_print_reference(struct buf *out)
{
	for (size_t s = 0; s < ARRAY_SIZE(sections); s++) {
		buf_printf(out, "%s## [%s]\n\n%s\n\n", s ? "\n" : "", sections[s].name,
		           sections[s].help);
		buf_puts(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			const struct cfg_key *k = &keys[i];
			if (strcmp(k->section, sections[s].name) != 0)
				continue;
			buf_printf(out, "| `%s` | ", k->key);
			print_type(out, k);
			if (k->def[0] == '\0')
				buf_puts(out, " | (empty) | ");
			else
				buf_printf(out, " | `%s` | ", k->def);
			buf_printf(out, "%s |\n", k->help);
		}
		for (size_t i = 0; is_pool_section(&sections[s]) && i < ARRAY_SIZE(pool_keys); i++)
			buf_printf(out, "| `%s` | %s | %s | %s |\n", pool_keys[i].key,
			           pool_keys[i].type, pool_keys[i].def, pool_keys[i].help);
		if (sections[s].free_keys)
			buf_printf(out, "| `%s` | %s | (none) | %s |\n",
			           sections[s].free_keys->entry_key, sections[s].free_keys->entry_type,
			           sections[s].free_keys->entry_help);
	}
}
