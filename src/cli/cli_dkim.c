/*
 * cli_dkim — `petrel dkim generate|list|show|remove`: DKIM signing keys of the
 * local domains.
 *
 * generate makes a key (RSA 2048 or Ed25519), stores it, and prints the DNS
 * record to publish, alone on standard output (one line, the zone-file form,
 * the text cut into 255-byte strings). The default selector is the algorithm
 * and the month, "rsa-202601" or "ed25519-202601": unique per algorithm, and a
 * key made next month for a rotation gets a new one. A domain signs with the
 * newest key of each algorithm, so a rotation is: generate, publish, wait for
 * DNS, remove the old selector.
 */
#include "cli/cli.h"

#include "dkim/dkim.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void format_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int domain_is_local(struct store *st, const char *domain)
{
	struct buf err = BUF_INIT;
	enum store_lookup r = store_domain_exists(st, domain, &err);
	if (r == STORE_ERROR)
		cli_error("%s", buf_cstr(&err));
	else if (r == STORE_NOT_FOUND)
		cli_error("%s is not a local domain (petrel domain add %s)", domain, domain);
	buf_free(&err);
	return r == STORE_FOUND ? 0 : -1;
}

/* Prints the DNS record of a stored key; -1 (printed) when its key is unusable. */
static int print_record(const struct store_dkim_key *k)
{
	enum dkim_alg alg;
	struct buf p = BUF_INIT, rec = BUF_INIT, err = BUF_INIT;
	int r = -1;
	if (dkim_alg_parse(k->algorithm, &alg) < 0)
		cli_error("%s selector %s: unknown algorithm %s", k->domain, k->selector,
		          k->algorithm);
	else if (dkim_key_public(alg, k->private_key, &p, &err) < 0)
		cli_error("%s selector %s: %s", k->domain, k->selector, buf_cstr(&err));
	else
		r = 0;
	if (r == 0) {
		dkim_dns_record(k->selector, k->domain, alg, buf_cstr(&p), &rec);
		printf("%s\n", buf_cstr(&rec));
	}
	buf_free(&p);
	buf_free(&rec);
	buf_free(&err);
	return r;
}

static int generate(struct store *st, const char *domain, const char *selector, enum dkim_alg alg)
{
	if (domain_is_local(st, domain) < 0)
		return 1;
	char def[32];
	if (!selector) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		snprintf(def, sizeof def, "%s-%04d%02d", dkim_alg_name(alg), tm.tm_year + 1900,
		         tm.tm_mon + 1);
		selector = def;
	}
	if (!dkim_selector_valid(selector))
		return cli_error("invalid selector '%s' (DNS labels of letters, digits and '-')",
		                 selector);
	struct buf pem = BUF_INIT, err = BUF_INIT, norm = BUF_INIT;
	int r = 1;
	if (dkim_key_generate(alg, &pem, &err) < 0) {
		cli_error("%s", buf_cstr(&err));
		goto out;
	}
	struct store_op op;
	store_op_init(&op, STORE_OP_DKIM_KEY_ADD);
	op.u.dkim.domain = domain;
	op.u.dkim.selector = selector;
	op.u.dkim.algorithm = dkim_alg_name(alg);
	op.u.dkim.private_key = buf_cstr(&pem);
	if (store_exec(st, &op) < 0) {
		if (op.error == STORE_ERR_EXISTS)
			cli_error("%s (choose another with --selector)", buf_cstr(&op.err));
		else
			cli_error("%s", buf_cstr(&op.err));
		store_op_clear(&op);
		goto out;
	}
	store_op_clear(&op);
	store_domain_normalize(domain, &norm, &err);
	struct store_dkim_key k = {
	        .domain = (char *)buf_cstr(&norm),
	        .selector = (char *)selector,
	        .algorithm = (char *)dkim_alg_name(alg),
	        .private_key = pem.data,
	};
	fprintf(stderr, "DKIM key %s (%s) created for %s; publish this DNS record:\n", selector,
	        dkim_alg_name(alg), buf_cstr(&norm));
	r = print_record(&k) < 0 ? 1 : 0;
out:
	if (pem.data)
		memset(pem.data, 0, pem.len);
	buf_free(&pem);
	buf_free(&err);
	buf_free(&norm);
	return r;
}

/* Keys come newest first per domain: the first of each algorithm signs. */
struct listing {
	char *domain;
	bool seen_rsa, seen_ed25519;
	bool failed;
	size_t count;
};

static void list_one(const struct store_dkim_key *k, void *arg)
{
	struct listing *l = arg;
	if (!l->domain || strcmp(l->domain, k->domain) != 0) {
		free(l->domain);
		l->domain = xstrdup(k->domain);
		l->seen_rsa = l->seen_ed25519 = false;
	}
	bool *seen = strcmp(k->algorithm, "ed25519") == 0 ? &l->seen_ed25519 : &l->seen_rsa;
	char created[32];
	format_time(k->created, created, sizeof created);
	printf("%s\t%s\t%s\tcreated=%s\t%s\n", k->domain, k->selector, k->algorithm, created,
	       *seen ? "standby" : "signing");
	*seen = true;
	l->count++;
}

static void show_one(const struct store_dkim_key *k, void *arg)
{
	struct listing *l = arg;
	if (print_record(k) < 0)
		l->failed = true;
	l->count++;
}

int cli_dkim(int argc, char **argv, const char *config_path)
{
	if (cli_wants_help(argc, argv) || argc < 1)
		return cli_usage("dkim");
	const char *sub = argv[0];
	bool gen = strcmp(sub, "generate") == 0, list = strcmp(sub, "list") == 0,
	     show = strcmp(sub, "show") == 0, remove = strcmp(sub, "remove") == 0;
	if (!gen && !list && !show && !remove)
		return cli_usage("dkim");
	const char *args[2] = {NULL, NULL}, *selector = NULL;
	size_t nargs = 0;
	enum dkim_alg alg = DKIM_ALG_RSA;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (gen && strcmp(a, "--selector") == 0 && has_value) {
			selector = argv[++i];
		} else if (gen && strcmp(a, "--algorithm") == 0 && has_value) {
			if (dkim_alg_parse(argv[++i], &alg) < 0)
				return cli_error("unknown algorithm '%s' (rsa or ed25519)",
				                 argv[i]);
		} else if (a[0] == '-' && a[1] != '\0') {
			cli_error("unknown option '%s'", a);
			return cli_usage("dkim");
		} else if (nargs < 2) {
			args[nargs++] = a;
		} else {
			return cli_usage("dkim");
		}
	}
	size_t want_min = list ? 0 : 1, want_max = remove ? 2 : 1;
	if (remove)
		want_min = 2;
	if (nargs < want_min || nargs > want_max)
		return cli_usage("dkim");
	struct config cfg;
	struct store *st;
	if (cli_open(config_path, &cfg, &st) < 0)
		return 1;
	int r = 0;
	struct buf err = BUF_INIT;
	struct listing l = {0};
	if (gen) {
		r = generate(st, args[0], selector, alg);
	} else if (list || show) {
		if (args[0] && domain_is_local(st, args[0]) < 0)
			r = 1;
		else if (store_dkim_key_list(st, args[0], list ? list_one : show_one, &l, &err) < 0)
			r = cli_error("%s", buf_cstr(&err));
		else if (l.failed)
			r = 1;
		else if (show && l.count == 0)
			fprintf(stderr, "%s has no DKIM key (petrel dkim generate %s)\n", args[0],
			        args[0]);
	} else {
		struct store_op op;
		store_op_init(&op, STORE_OP_DKIM_KEY_REMOVE);
		op.u.dkim.domain = args[0];
		op.u.dkim.selector = args[1];
		if (store_exec(st, &op) < 0)
			r = cli_error("%s", buf_cstr(&op.err));
		store_op_clear(&op);
	}
	free(l.domain);
	buf_free(&err);
	cli_close(&cfg, &st);
	return r;
}
