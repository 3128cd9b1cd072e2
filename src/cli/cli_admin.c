/*
 * cli_admin — `petrel domain`, `petrel user`, `petrel alias`, `petrel store`.
 *
 * Every change is one store op run in its own durable transaction
 * (store_exec); a running server reads the same store and sees it at once.
 */
#include "cli/cli.h"

#include "auth/auth.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

/* Runs op; on failure prints its reason. Returns the exit code. */
static int run_op(struct store *st, struct store_op *op)
{
	int r = store_exec(st, op) < 0 ? cli_error("%s", buf_cstr(&op->err)) : 0;
	store_op_clear(op);
	return r;
}

/* ---- domain -------------------------------------------------------------------- */

static void print_name(const char *name, void *arg)
{
	printf("%s\n", name);
}

int cli_domain(int argc, char **argv, const char *config_path)
{
	if (cli_wants_help(argc, argv) || argc < 1)
		return cli_usage("domain");
	const char *sub = argv[0];
	bool list = strcmp(sub, "list") == 0;
	bool add = strcmp(sub, "add") == 0, remove = strcmp(sub, "remove") == 0;
	if (!(list || add || remove) || (list && argc != 1) || (!list && argc != 2))
		return cli_usage("domain");
	struct config cfg;
	struct store *st;
	if (cli_open(config_path, &cfg, &st) < 0)
		return 1;
	int r;
	if (list) {
		struct buf err = BUF_INIT;
		r = store_domain_list(st, print_name, NULL, &err) < 0
			    ? cli_error("%s", buf_cstr(&err))
			    : 0;
		buf_free(&err);
	} else {
		struct store_op op;
		store_op_init(&op, add ? STORE_OP_DOMAIN_ADD : STORE_OP_DOMAIN_REMOVE);
		op.u.domain.name = argv[1];
		r = run_op(st, &op);
	}
	cli_close(&cfg, &st);
	return r;
}

/* ---- user ----------------------------------------------------------------------- */

static void print_account(const struct store_account *a, void *arg)
{
	if (a->quota_bytes)
		printf("%s\tused=%llu\tquota=%llu\n", a->address,
		       (unsigned long long)a->used_bytes, (unsigned long long)a->quota_bytes);
	else
		printf("%s\tused=%llu\tquota=none\n", a->address,
		       (unsigned long long)a->used_bytes);
}

/* Hashes a password both ways: crypt hash and SCRAM credentials. */
static int make_secrets(const char *password, struct buf *hash, struct buf *scram)
{
	struct buf err = BUF_INIT;
	int r = 0;
	if (auth_password_hash(password, hash, &err) < 0 ||
	    auth_scram_make(password, scram, &err) < 0)
		r = cli_error("%s", buf_cstr(&err));
	buf_free(&err);
	return r;
}

int cli_user(int argc, char **argv, const char *config_path)
{
	if (cli_wants_help(argc, argv) || argc < 1)
		return cli_usage("user");
	const char *sub = argv[0];
	bool from_stdin = false;
	uint64_t quota = 0;
	const char *address = NULL;
	const char *size_arg = NULL;
	/* Options first, then positional arguments. */
	int npos = 0;
	const char *pos[2] = {NULL, NULL};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0) {
			from_stdin = true;
		} else if (strcmp(argv[i], "--quota") == 0 && i + 1 < argc) {
			if (cli_parse_size(argv[++i], &quota) < 0)
				return cli_error("bad size '%s' (examples: 500M, 2G, none)",
						 argv[i]);
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			cli_error("unknown option '%s'", argv[i]);
			return cli_usage("user");
		} else if (npos < 2) {
			pos[npos++] = argv[i];
		} else {
			return cli_usage("user");
		}
	}
	address = pos[0];
	size_arg = pos[1];
	bool list = strcmp(sub, "list") == 0, add = strcmp(sub, "add") == 0,
	     passwd = strcmp(sub, "passwd") == 0, remove = strcmp(sub, "remove") == 0,
	     setquota = strcmp(sub, "quota") == 0;
	if (!(list || add || passwd || remove || setquota))
		return cli_usage("user");
	if ((list && npos != 0) || ((add || passwd || remove) && npos != 1) ||
	    (setquota && npos != 2))
		return cli_usage("user");
	if (setquota && cli_parse_size(size_arg, &quota) < 0)
		return cli_error("bad size '%s' (examples: 500M, 2G, none)", size_arg);
	if (address) {
		/* Validate before asking for a password. */
		struct buf norm = BUF_INIT, err = BUF_INIT;
		int bad = store_address_normalize(address, false, &norm, &err);
		if (bad < 0)
			cli_error("%s", buf_cstr(&err));
		buf_free(&norm);
		buf_free(&err);
		if (bad < 0)
			return 1;
	}

	struct buf password = BUF_INIT, hash = BUF_INIT, scram = BUF_INIT;
	if ((add || passwd) && (cli_read_password(from_stdin, &password) < 0 ||
				make_secrets(buf_cstr(&password), &hash, &scram) != 0)) {
		buf_free(&password);
		buf_free(&hash);
		buf_free(&scram);
		return 1;
	}
	/* The plain password is not needed any more. */
	if (password.data)
		memset(password.data, 0, password.len);
	buf_free(&password);

	struct config cfg;
	struct store *st;
	int r = 1;
	if (cli_open(config_path, &cfg, &st) < 0)
		goto out;
	if (list) {
		struct buf err = BUF_INIT;
		r = store_account_list(st, print_account, NULL, &err) < 0
			    ? cli_error("%s", buf_cstr(&err))
			    : 0;
		buf_free(&err);
	} else {
		struct store_op op;
		store_op_init(&op, add      ? STORE_OP_ACCOUNT_ADD
				   : passwd ? STORE_OP_ACCOUNT_PASSWORD
				   : remove ? STORE_OP_ACCOUNT_REMOVE
					    : STORE_OP_ACCOUNT_QUOTA);
		op.u.account.address = address;
		op.u.account.password_hash = buf_cstr(&hash);
		op.u.account.scram = buf_cstr(&scram);
		op.u.account.quota_bytes = quota;
		r = run_op(st, &op);
	}
	cli_close(&cfg, &st);
out:
	buf_free(&hash);
	buf_free(&scram);
	return r;
}

/* ---- alias ------------------------------------------------------------------------ */

static void print_alias(const char *address, const char *target, void *arg)
{
	printf("%s\t%s\n", address, target);
}

int cli_alias(int argc, char **argv, const char *config_path)
{
	if (cli_wants_help(argc, argv) || argc < 1)
		return cli_usage("alias");
	const char *sub = argv[0];
	bool list = strcmp(sub, "list") == 0, add = strcmp(sub, "add") == 0,
	     remove = strcmp(sub, "remove") == 0;
	if (!(list || add || remove) || (list && argc != 1) || (add && argc < 3) ||
	    (remove && argc < 2))
		return cli_usage("alias");
	struct config cfg;
	struct store *st;
	if (cli_open(config_path, &cfg, &st) < 0)
		return 1;
	int r;
	if (list) {
		struct buf err = BUF_INIT;
		r = store_alias_list(st, print_alias, NULL, &err) < 0
			    ? cli_error("%s", buf_cstr(&err))
			    : 0;
		buf_free(&err);
	} else {
		/* argv is NULL-terminated after the targets (C main guarantee). */
		struct store_op op;
		store_op_init(&op, add ? STORE_OP_ALIAS_ADD : STORE_OP_ALIAS_REMOVE);
		op.u.alias.address = argv[1];
		op.u.alias.targets = (const char *const *)&argv[2];
		r = run_op(st, &op);
	}
	cli_close(&cfg, &st);
	return r;
}

/* ---- store ------------------------------------------------------------------------- */

/* `petrel store reindex [ACCOUNT] [--all]`: batches of one transaction each,
   so a running server goes on delivering in between. */
static int store_reindex_cmd(int argc, char **argv, const char *config_path)
{
	const char *address = NULL;
	bool all = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0)
			all = true;
		else if (argv[i][0] != '-' && !address)
			address = argv[i];
		else
			return cli_usage("store");
	}
	struct config cfg;
	struct store *st;
	if (cli_open(config_path, &cfg, &st) < 0)
		return 1;
	struct buf err = BUF_INIT;
	struct store_account a = {0};
	int r = 0;
	if (address) {
		enum store_lookup l = store_account_get(st, address, &a, &err);
		if (l != STORE_FOUND) {
			r = l == STORE_ERROR ? cli_error("%s", buf_cstr(&err))
					     : cli_error("no account %s", address);
			goto out;
		}
	}
	size_t n = 0;
	if (store_reindex(st, a.id, all, &n, &err) < 0)
		r = cli_error("%s (%zu messages indexed before)", buf_cstr(&err), n);
	else
		printf("%zu messages indexed\n", n);
out:
	store_account_clear(&a);
	buf_free(&err);
	cli_close(&cfg, &st);
	return r;
}

int cli_store_cmd(int argc, char **argv, const char *config_path)
{
	if (!cli_wants_help(argc, argv) && argc >= 1 && strcmp(argv[0], "reindex") == 0)
		return store_reindex_cmd(argc, argv, config_path);
	if (cli_wants_help(argc, argv) || argc != 1 || strcmp(argv[0], "check") != 0)
		return cli_usage("store");
	struct config cfg;
	struct store *st;
	if (cli_open(config_path, &cfg, &st) < 0)
		return 1;
	struct buf report = BUF_INIT, err = BUF_INIT;
	int r;
	if (store_check(st, &report, &err) < 0) {
		r = cli_error("%s", buf_cstr(&err));
	} else {
		fputs(buf_cstr(&report), stdout);
		r = strcmp(buf_cstr(&report), "ok\n") == 0 ? 0 : 1;
	}
	buf_free(&report);
	buf_free(&err);
	cli_close(&cfg, &st);
	return r;
}

int cli_check_config(int argc, char **argv, const char *config_path)
{
	if (cli_wants_help(argc, argv) || argc != 0)
		return cli_usage("check-config");
	struct config cfg;
	struct buf err = BUF_INIT, out = BUF_INIT;
	if (config_load(&cfg, config_path, &err) < 0) {
		cli_error("%s", buf_cstr(&err));
		buf_free(&err);
		config_free(&cfg);
		return 1;
	}
	config_print(&cfg, &out);
	printf("# effective configuration from %s\n%s", cfg.source, buf_cstr(&out));
	buf_free(&out);
	buf_free(&err);
	config_free(&cfg);
	return 0;
}
