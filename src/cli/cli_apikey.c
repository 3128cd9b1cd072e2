/*
 * cli_apikey — `petrel apikey create|list|revoke`: keys of the HTTP API.
 *
 * A key is "pk_" and 32 random bytes in base64url (RFC 4648 section 5, no
 * padding). It is printed once, on standard output alone so that a script can
 * take it; the store keeps only its SHA-256. Revoking takes effect at once: the
 * server looks the key up on every request.
 */
#include "cli/cli.h"

#include "store/store.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define APIKEY_PREFIX "pk_"
#define APIKEY_RANDOM_BYTES 32
#define APIKEY_MAX_DOMAINS 100

/* "10/s", "600/m", "3600/h" or "10" (per second) into messages per second. */
static int parse_rate(const char *s, double *rate_r)
{
	char *end;
	double n = strtod(s, &end);
	if (end == s || !(n > 0) || n > 1e6)
		return -1;
	double per = 1;
	if (*end == '/') {
		end++;
		if (strcmp(end, "s") == 0)
			per = 1;
		else if (strcmp(end, "m") == 0)
			per = 60;
		else if (strcmp(end, "h") == 0)
			per = 3600;
		else
			return -1;
	} else if (*end != '\0') {
		return -1;
	}
	*rate_r = n / per;
	return 0;
}

static void make_key(struct buf *key)
{
	unsigned char raw[APIKEY_RANDOM_BYTES];
	struct buf b64 = BUF_INIT;
	random_bytes(raw, sizeof raw);
	base64_encode(&b64, raw, sizeof raw);
	buf_puts(key, APIKEY_PREFIX);
	for (size_t i = 0; i < b64.len; i++) {
		char c = b64.data[i];
		if (c == '=')
			break;
		buf_putc(key, c == '+' ? '-' : c == '/' ? '_' : c);
	}
	buf_free(&b64);
	memset(raw, 0, sizeof raw);
}

static int create(struct store *st, const char *name, const char *const *domains, size_t ndomains,
                  const char *pool, double rate)
{
	struct buf list = BUF_INIT, err = BUF_INIT, key = BUF_INIT;
	int r = 1;
	for (size_t i = 0; i < ndomains; i++) {
		if (list.len)
			buf_putc(&list, ',');
		if (store_domain_normalize(domains[i], &list, &err) < 0) {
			cli_error("%s", buf_cstr(&err));
			goto out;
		}
	}
	make_key(&key);
	unsigned char hash[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)key.data, key.len, hash);
	struct store_op op;
	store_op_init(&op, STORE_OP_APIKEY_ADD);
	op.u.apikey.name = name;
	op.u.apikey.hash = hash;
	op.u.apikey.domains = list.len ? buf_cstr(&list) : NULL;
	op.u.apikey.pool = pool;
	op.u.apikey.rate = rate;
	if (store_exec(st, &op) < 0) {
		cli_error("%s", buf_cstr(&op.err));
	} else {
		printf("%s\n", buf_cstr(&key));
		fflush(stdout);
		fprintf(stderr, "API key '%s' created; it is shown only this once.\n", name);
		r = 0;
	}
	store_op_clear(&op);
out:
	if (key.data)
		memset(key.data, 0, key.len);
	buf_free(&key);
	buf_free(&list);
	buf_free(&err);
	return r;
}

static void format_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_key(const struct store_apikey *k, void *arg)
{
	char created[32], revoked[32];
	format_time(k->created, created, sizeof created);
	printf("%s\t%s", k->name, k->revoked ? "revoked" : "active");
	printf("\tdomains=%s", k->domains[0] ? k->domains : "(local)");
	printf("\tpool=%s", k->pool[0] ? k->pool : "(default)");
	if (k->rate > 0)
		printf("\trate=%g/s", k->rate);
	else
		printf("\trate=none");
	printf("\tcreated=%s", created);
	if (k->revoked) {
		format_time(k->revoked, revoked, sizeof revoked);
		printf("\trevoked=%s", revoked);
	}
	printf("\n");
}

int cli_apikey(int argc, char **argv, const char *config_path)
{
	if (cli_wants_help(argc, argv) || argc < 1)
		return cli_usage("apikey");
	const char *sub = argv[0];
	bool create_cmd = strcmp(sub, "create") == 0, list = strcmp(sub, "list") == 0,
	     revoke = strcmp(sub, "revoke") == 0;
	if (!create_cmd && !list && !revoke)
		return cli_usage("apikey");
	const char *name = NULL, *pool = NULL;
	const char *domains[APIKEY_MAX_DOMAINS];
	size_t ndomains = 0;
	double rate = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (create_cmd && strcmp(a, "--domain") == 0 && has_value) {
			if (ndomains == APIKEY_MAX_DOMAINS)
				return cli_error("at most %d domains", APIKEY_MAX_DOMAINS);
			domains[ndomains++] = argv[++i];
		} else if (create_cmd && strcmp(a, "--pool") == 0 && has_value) {
			pool = argv[++i];
		} else if (create_cmd && strcmp(a, "--rate") == 0 && has_value) {
			if (parse_rate(argv[++i], &rate) < 0)
				return cli_error("bad rate '%s' (examples: 10/s, 600/m, 3600/h)",
				                 argv[i]);
		} else if (a[0] == '-' && a[1] != '\0') {
			cli_error("unknown option '%s'", a);
			return cli_usage("apikey");
		} else if (!name && !list) {
			name = a;
		} else {
			return cli_usage("apikey");
		}
	}
	if (!list && !name)
		return cli_usage("apikey");
	if (pool && !config_pool_name_ok(pool))
		return cli_error("bad pool name '%s' (letters, digits, '-' and '_')", pool);
	struct config cfg;
	struct store *st;
	if (cli_open(config_path, &cfg, &st) < 0)
		return 1;
	int r = 0;
	if (create_cmd && pool && !config_pool_find(&cfg, pool))
		fprintf(stderr,
		        "petrel: note: %s has no [pool.%s]; until it has, this key's mail leaves "
		        "from the pool [pools] chooses\n",
		        cfg.source, pool);
	if (create_cmd) {
		r = create(st, name, domains, ndomains, pool, rate);
	} else if (list) {
		struct buf err = BUF_INIT;
		if (store_apikey_list(st, print_key, NULL, &err) < 0)
			r = cli_error("%s", buf_cstr(&err));
		buf_free(&err);
	} else {
		struct store_op op;
		store_op_init(&op, STORE_OP_APIKEY_REVOKE);
		op.u.apikey.name = name;
		if (store_exec(st, &op) < 0)
			r = cli_error("%s", buf_cstr(&op.err));
		store_op_clear(&op);
	}
	cli_close(&cfg, &st);
	return r;
}
