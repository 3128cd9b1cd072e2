/*
 * cli_queue — `petrel queue ...` and `petrel receipts ...`: the outbound queue
 * and its delivery events, read and changed through the store. A running
 * server sees a change within QUEUE_POLL_MS.
 *
 * Output is one line per item, fields separated by two spaces, values that may
 * hold blanks (replies, TLS) in double quotes: easy to read and to grep.
 */
#include "cli/cli.h"

#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void put_time(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	printf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	       tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A value in double quotes, with " and \ escaped and control bytes as '?'. */
static void put_quoted(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			putchar('\\');
		putchar(c < 0x20 || c == 0x7f ? '?' : c);
	}
	putchar('"');
}

static bool parse_id(const char *s, int64_t *id_r)
{
	uint64_t v;
	if (!str_to_u64(str_c(s), &v) || v == 0 || v > INT64_MAX)
		return false;
	*id_r = (int64_t)v;
	return true;
}

/* ---- queue list / show ------------------------------------------------------------ */

struct lister {
	int64_t last_queue_id;
	size_t messages, rcpts;
};

static void print_entry(const struct store_queue_entry *e, void *arg)
{
	struct lister *l = arg;
	if (e->queue_id != l->last_queue_id) {
		l->last_queue_id = e->queue_id;
		l->messages++;
		printf("%lld  ", (long long)e->queue_id);
		put_time(e->created);
		printf("  from=<%s>  size=%llu  source=%s\n", e->env_from,
		       (unsigned long long)e->size, e->source);
	}
	l->rcpts++;
	printf("    %s  %s%s%s  attempts=%u", e->rcpt, e->state, e->held ? "  held" : "",
	       e->leased ? "  sending" : "", e->attempts);
	if (strcmp(e->state, "queued") == 0 || strcmp(e->state, "deferred") == 0) {
		printf("  next=");
		put_time(e->next_attempt);
	}
	if (e->route) {
		printf("  mx=%s", e->route);
	}
	if (e->last_reply) {
		printf("  reply=");
		put_quoted(e->last_reply);
	}
	putchar('\n');
}

static void print_event(const struct store_event *e, void *arg)
{
	(*(size_t *)arg)++;
	time_t t = (time_t)(e->at_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	printf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ  queue=%lld  rcpt=%s  %s", tm.tm_year + 1900,
	       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(e->at_ms % 1000),
	       (long long)e->queue_id, e->rcpt ? e->rcpt : "-", e->kind);
	if (e->attempt)
		printf("  attempt=%u", e->attempt);
	if (e->mx)
		printf("  mx=%s", e->mx);
	if (e->remote_ip)
		printf("  ip=%s", e->remote_ip);
	if (e->source_ip)
		printf("  source=%s", e->source_ip);
	if (e->tls) {
		printf("  tls=");
		put_quoted(e->tls);
	}
	if (e->next_attempt) {
		printf("  next=");
		put_time(e->next_attempt);
	}
	if (e->reply) {
		printf("  reply=");
		put_quoted(e->reply);
	}
	putchar('\n');
}

static int list(struct store *st, int64_t queue_id)
{
	struct buf err = BUF_INIT;
	struct lister l = {0};
	int r = store_queue_list(st, queue_id, print_entry, &l, &err) < 0
	                ? cli_error("%s", buf_cstr(&err))
	                : 0;
	if (r == 0 && queue_id && l.messages == 0)
		r = cli_error("no queue message %lld", (long long)queue_id);
	if (r == 0 && queue_id) {
		size_t n = 0;
		printf("events:\n");
		if (store_event_list(st, queue_id, NULL, print_event, &n, &err) < 0)
			r = cli_error("%s", buf_cstr(&err));
	}
	buf_free(&err);
	return r;
}

/* ---- queue changes ------------------------------------------------------------------ */

static int admin(struct store *st, enum store_queue_action action, int64_t queue_id)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_QUEUE_ADMIN);
	op.u.queue.action = action;
	op.u.queue.queue_id = queue_id;
	int r = 0;
	if (store_exec(st, &op) < 0) {
		r = cli_error("%s", buf_cstr(&op.err));
	} else {
		static const char *const done[] = {
		        [STORE_QUEUE_FLUSH] = "due now",     [STORE_QUEUE_HOLD] = "held",
		        [STORE_QUEUE_RELEASE] = "released",  [STORE_QUEUE_REMOVE] = "removed",
		        [STORE_QUEUE_RECOVER] = "recovered",
		};
		printf("%zu recipient%s %s\n", op.u.queue.count_r,
		       op.u.queue.count_r == 1 ? "" : "s", done[action]);
	}
	store_op_clear(&op);
	return r;
}

int cli_queue(int argc, char **argv, const char *config_path)
{
	if (cli_wants_help(argc, argv) || argc < 1 || argc > 2)
		return cli_usage("queue");
	static const struct {
		const char *name;
		int args; /* 0: none, 1: an id, 2: an optional id */
		enum store_queue_action action;
	} subs[] = {
	        {"list", 0, 0},
	        {"show", 1, 0},
	        {"flush", 2, STORE_QUEUE_FLUSH},
	        {"retry", 1, STORE_QUEUE_FLUSH},
	        {"hold", 1, STORE_QUEUE_HOLD},
	        {"release", 1, STORE_QUEUE_RELEASE},
	        {"remove", 1, STORE_QUEUE_REMOVE},
	};
	size_t k = 0;
	while (k < ARRAY_SIZE(subs) && strcmp(subs[k].name, argv[0]) != 0)
		k++;
	if (k == ARRAY_SIZE(subs) || (subs[k].args == 0 && argc != 1) ||
	    (subs[k].args == 1 && argc != 2))
		return cli_usage("queue");
	int64_t id = 0;
	if (argc == 2 && !parse_id(argv[1], &id))
		return cli_error("'%s' is not a queue id (a positive number)", argv[1]);
	struct config cfg;
	struct store *st;
	if (cli_open(config_path, &cfg, &st) < 0)
		return 1;
	int r = k <= 1 ? list(st, id) : admin(st, subs[k].action, id);
	cli_close(&cfg, &st);
	return r;
}

/* ---- receipts -------------------------------------------------------------------------- */

int cli_receipts(int argc, char **argv, const char *config_path)
{
	if (cli_wants_help(argc, argv) || argc != 1)
		return cli_usage("receipts");
	int64_t id = 0;
	bool by_id = parse_id(argv[0], &id);
	if (!by_id && !strchr(argv[0], '@'))
		return cli_error("'%s' is neither an address nor a queue id", argv[0]);
	struct config cfg;
	struct store *st;
	if (cli_open(config_path, &cfg, &st) < 0)
		return 1;
	struct buf err = BUF_INIT;
	size_t n = 0;
	int r = store_event_list(st, by_id ? id : 0, by_id ? NULL : argv[0], print_event, &n,
	                         &err) < 0
	                ? cli_error("%s", buf_cstr(&err))
	                : 0;
	if (r == 0 && n == 0)
		r = cli_error("no delivery events for %s", argv[0]);
	buf_free(&err);
	cli_close(&cfg, &st);
	return r;
}
