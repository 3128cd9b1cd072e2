/*
 * cli_webhook — `petrel webhook add|list|remove|test`: where the delivery
 * events of API messages are POSTed (http.h, "webhooks").
 *
 * add prints the webhook's signing secret once, alone on standard output so
 * that a script can take it: "whsec_" and 32 random bytes in base64url. The
 * store keeps the secret itself (the server needs it to sign); list never
 * shows it. test records a test delivery and waits for the running server's
 * attempt; its exit code says whether the receiver accepted it.
 */
#include "cli/cli.h"

#include "http/http.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WEBHOOK_SECRET_BYTES 32
#define WEBHOOK_TEST_POLL_MS 100

static bool parse_id(const char *s, int64_t *id_r)
{
	uint64_t v;
	if (!str_to_u64(str_c(s), &v) || v == 0 || v > INT64_MAX)
		return false;
	*id_r = (int64_t)v;
	return true;
}

static void make_secret(struct buf *out)
{
	unsigned char raw[WEBHOOK_SECRET_BYTES];
	struct buf b64 = BUF_INIT;
	random_bytes(raw, sizeof raw);
	base64_encode(&b64, raw, sizeof raw);
	buf_puts(out, HTTP_WEBHOOK_SECRET_PREFIX);
	for (size_t i = 0; i < b64.len && b64.data[i] != '='; i++) {
		char c = b64.data[i];
		buf_putc(out, c == '+' ? '-' : c == '/' ? '_' : c);
	}
	buf_free(&b64);
	memset(raw, 0, sizeof raw);
}

static int add(struct store *st, const char *url, const char *events, const char *key)
{
	struct buf err = BUF_INIT, secret = BUF_INIT;
	int r = 1;
	if (http_webhook_url_check(url, &err) < 0) {
		cli_error("%s: %s", url, buf_cstr(&err));
		goto out;
	}
	make_secret(&secret);
	struct store_op op;
	store_op_init(&op, STORE_OP_WEBHOOK_ADD);
	op.u.webhook.url = url;
	op.u.webhook.secret = buf_cstr(&secret);
	op.u.webhook.events = events;
	op.u.webhook.key_name = key;
	if (store_exec(st, &op) < 0) {
		cli_error("%s", buf_cstr(&op.err));
	} else {
		printf("%s\n", buf_cstr(&secret));
		fflush(stdout);
		fprintf(stderr, "webhook %lld added; its signing secret is shown only this once.\n",
		        (long long)op.u.webhook.id_r);
		r = 0;
	}
	store_op_clear(&op);
out:
	if (secret.data)
		memset(secret.data, 0, secret.len);
	buf_free(&secret);
	buf_free(&err);
	return r;
}

static void print_webhook(const struct store_webhook *w, void *arg)
{
	char created[32];
	time_t t = (time_t)w->created;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%lld\t%s\tevents=%s\tkey=%s\tpending=%llu\tdelivered=%llu\tfailed=%llu\t"
	       "created=%s\n",
	       (long long)w->id, w->url, w->events[0] ? w->events : "all",
	       w->key_name[0] ? w->key_name : "(any)", (unsigned long long)w->pending,
	       (unsigned long long)w->delivered, (unsigned long long)w->failed, created);
}

/* Records a test delivery and waits for the server's attempt. */
static int test(struct store *st, const struct config *cfg, int64_t id)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_WEBHOOK_TEST);
	op.u.webhook.id = id;
	if (store_exec(st, &op) < 0) {
		int r = cli_error("%s", buf_cstr(&op.err));
		store_op_clear(&op);
		return r;
	}
	int64_t delivery = op.u.webhook.id_r;
	store_op_clear(&op);
	printf("test event test_%lld queued for webhook %lld\n", (long long)delivery,
	       (long long)id);
	fflush(stdout);
	/* the server looks every HTTP_WEBHOOK_POLL_MS; an attempt takes at most
	   [webhooks] timeout, and a few seconds for the DNS */
	int64_t wait_ms = (int64_t)cfg->webhook_timeout * 1000 + HTTP_WEBHOOK_POLL_MS + 10000;
	int64_t until = time_mono_ms() + wait_ms;
	struct buf state = BUF_INIT, error = BUF_INIT, err = BUF_INIT;
	int r = 1;
	for (;;) {
		unsigned attempts = 0;
		int status = 0;
		buf_reset(&state);
		buf_reset(&error);
		enum store_lookup l = store_webhook_delivery_state(st, delivery, &state, &attempts,
		                                                   &status, &error, &err);
		if (l == STORE_ERROR) {
			r = cli_error("%s", buf_cstr(&err));
			break;
		}
		if (l == STORE_NOT_FOUND) {
			r = cli_error("webhook %lld was removed", (long long)id);
			break;
		}
		if (strcmp(buf_cstr(&state), "delivered") == 0) {
			printf("delivered: the receiver answered HTTP %d\n", status);
			r = 0;
			break;
		}
		if (attempts > 0) {
			r = cli_error("not delivered: %s", buf_cstr(&error));
			break;
		}
		if (time_mono_ms() >= until) {
			r = cli_error("no attempt within %llds: is `petrel serve` running? (the "
			              "test event stays queued)",
			              (long long)(wait_ms / 1000));
			break;
		}
		usleep(WEBHOOK_TEST_POLL_MS * 1000);
	}
	buf_free(&state);
	buf_free(&error);
	buf_free(&err);
	return r;
}

int cli_webhook(int argc, char **argv, const char *config_path)
{
	if (cli_wants_help(argc, argv) || argc < 1)
		return cli_usage("webhook");
	const char *sub = argv[0];
	bool add_cmd = strcmp(sub, "add") == 0, list = strcmp(sub, "list") == 0,
	     remove_cmd = strcmp(sub, "remove") == 0, test_cmd = strcmp(sub, "test") == 0;
	if (!add_cmd && !list && !remove_cmd && !test_cmd)
		return cli_usage("webhook");
	const char *arg = NULL, *events = NULL, *key = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (add_cmd && strcmp(a, "--events") == 0 && has_value) {
			events = argv[++i];
		} else if (add_cmd && strcmp(a, "--key") == 0 && has_value) {
			key = argv[++i];
		} else if (a[0] == '-' && a[1] != '\0') {
			cli_error("unknown option '%s'", a);
			return cli_usage("webhook");
		} else if (!arg && !list) {
			arg = a;
		} else {
			return cli_usage("webhook");
		}
	}
	if (!list && !arg)
		return cli_usage("webhook");
	int64_t id = 0;
	if ((remove_cmd || test_cmd) && !parse_id(arg, &id))
		return cli_error("bad webhook id '%s' (see `petrel webhook list`)", arg);
	struct config cfg;
	struct store *st;
	if (cli_open(config_path, &cfg, &st) < 0)
		return 1;
	int r = 0;
	if (add_cmd) {
		r = add(st, arg, events, key);
	} else if (list) {
		struct buf err = BUF_INIT;
		if (store_webhook_list(st, print_webhook, NULL, &err) < 0)
			r = cli_error("%s", buf_cstr(&err));
		buf_free(&err);
	} else if (remove_cmd) {
		struct store_op op;
		store_op_init(&op, STORE_OP_WEBHOOK_REMOVE);
		op.u.webhook.id = id;
		if (store_exec(st, &op) < 0)
			r = cli_error("%s", buf_cstr(&op.err));
		store_op_clear(&op);
	} else {
		r = test(st, &cfg, id);
	}
	cli_close(&cfg, &st);
	return r;
}
