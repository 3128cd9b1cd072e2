/*
 * Unit tests for src/store/store_sqlite_dkim.c through store.h: DKIM keys are
 * added to local domains only, one per selector, listed newest first per
 * domain, removed by selector, checked (selector, algorithm, PEM, the limit
 * per domain), and go with their domain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define PEM                                                                                        \
	"-----BEGIN PRIVATE "                                                                      \
	"KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"             \
	"-----END PRIVATE KEY-----\n"

struct fx {
	char dir[64];
	char *path;
	struct store *st;
};

static int add_domain(struct store *st, const char *name)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_DOMAIN_ADD);
	op.u.domain.name = name;
	int r = store_exec(st, &op);
	store_op_clear(&op);
	return r;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/petrel-dkim-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->path = xasprintf("%s/petrel.db", f->dir);
	struct buf err = BUF_INIT;
	if (store_open_path(&f->st, f->path, &err) != 0)
		fail_msg("%s", buf_cstr(&err));
	buf_free(&err);
	assert_int_equal(add_domain(f->st, "example.test"), 0);
	assert_int_equal(add_domain(f->st, "other.test"), 0);
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(&f->st);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f->path);
	free(f);
	return 0;
}

/* Adds a key; returns the op's error (STORE_OK on success). */
static enum store_error add_key(struct fx *f, const char *domain, const char *selector,
                                const char *alg, const char *pem)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_DKIM_KEY_ADD);
	op.u.dkim.domain = domain;
	op.u.dkim.selector = selector;
	op.u.dkim.algorithm = alg;
	op.u.dkim.private_key = pem;
	int r = store_exec(f->st, &op);
	enum store_error e = r == 0 ? STORE_OK : op.error;
	if (r == 0)
		assert_true(op.u.dkim.id_r > 0);
	store_op_clear(&op);
	return e;
}

static enum store_error remove_key(struct fx *f, const char *domain, const char *selector)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_DKIM_KEY_REMOVE);
	op.u.dkim.domain = domain;
	op.u.dkim.selector = selector;
	int r = store_exec(f->st, &op);
	enum store_error e = r == 0 ? STORE_OK : op.error;
	store_op_clear(&op);
	return e;
}

static void collect(const struct store_dkim_key *k, void *arg)
{
	struct buf *out = arg;
	buf_printf(out, "%s/%s/%s%s;", k->domain, k->selector, k->algorithm,
	           strcmp(k->private_key, PEM) == 0 ? "" : "/badpem");
}

static char *list(struct fx *f, const char *domain)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	assert_int_equal(store_dkim_key_list(f->st, domain, collect, &out, &err), 0);
	buf_free(&err);
	return buf_steal(&out);
}

static void assert_list(struct fx *f, const char *domain, const char *want)
{
	char *got = list(f, domain);
	assert_string_equal(got, want);
	free(got);
}

static void test_keys_are_added_listed_newest_first_and_removed(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_key(f, "example.test", "one", "rsa", PEM), STORE_OK);
	assert_int_equal(add_key(f, "Example.TEST", "two", "ed25519", PEM), STORE_OK);
	assert_int_equal(add_key(f, "other.test", "one", "rsa", PEM), STORE_OK);
	assert_list(f, "example.test", "example.test/two/ed25519;example.test/one/rsa;");
	assert_list(f, "EXAMPLE.test", "example.test/two/ed25519;example.test/one/rsa;");
	assert_list(f, NULL, "example.test/two/ed25519;example.test/one/rsa;other.test/one/rsa;");
	assert_list(f, "nowhere.test", "");
	assert_list(f, "not a domain", "");
	assert_int_equal(remove_key(f, "example.test", "one"), STORE_OK);
	assert_list(f, "example.test", "example.test/two/ed25519;");
	assert_int_equal(remove_key(f, "example.test", "one"), STORE_ERR_NOTFOUND);
	assert_int_equal(remove_key(f, "nowhere.test", "two"), STORE_ERR_NOTFOUND);
	assert_list(f, "other.test", "other.test/one/rsa;");
}

static void test_bad_keys_are_refused(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_key(f, "nowhere.test", "s", "rsa", PEM), STORE_ERR_NOTFOUND);
	assert_int_equal(add_key(f, "example.test", "s", "dsa", PEM), STORE_ERR_INVALID);
	assert_int_equal(add_key(f, "example.test", "s", "rsa", "not pem"), STORE_ERR_INVALID);
	assert_int_equal(add_key(f, "example.test", "s", "rsa", NULL), STORE_ERR_INVALID);
	static const char *const bad[] = {"", "-s", "s-", "a..b", ".a", "a.", "a_b", "a b", NULL};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(add_key(f, "example.test", bad[i], "rsa", PEM), STORE_ERR_INVALID);
	char long_sel[70];
	memset(long_sel, 'a', sizeof long_sel - 1);
	long_sel[sizeof long_sel - 1] = '\0';
	assert_int_equal(add_key(f, "example.test", long_sel, "rsa", PEM), STORE_ERR_INVALID);
	assert_int_equal(add_key(f, "example.test", "s", "rsa", PEM), STORE_OK);
	assert_int_equal(add_key(f, "example.test", "s", "ed25519", PEM), STORE_ERR_EXISTS);
	assert_list(f, "example.test", "example.test/s/rsa;");
}

static void test_a_domain_holds_at_most_the_limit(void **state)
{
	struct fx *f = *state;
	char sel[16];
	for (int i = 0; i < STORE_MAX_DKIM_KEYS; i++) {
		snprintf(sel, sizeof sel, "k%d", i);
		assert_int_equal(add_key(f, "example.test", sel, "ed25519", PEM), STORE_OK);
	}
	assert_int_equal(add_key(f, "example.test", "one-more", "ed25519", PEM), STORE_ERR_INVALID);
	assert_int_equal(add_key(f, "other.test", "one-more", "ed25519", PEM), STORE_OK);
}

static void test_keys_go_with_their_domain(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_key(f, "other.test", "s", "rsa", PEM), STORE_OK);
	struct store_op op;
	store_op_init(&op, STORE_OP_DOMAIN_REMOVE);
	op.u.domain.name = "other.test";
	assert_int_equal(store_exec(f->st, &op), 0);
	store_op_clear(&op);
	assert_list(f, NULL, "");
	assert_int_equal(add_domain(f->st, "other.test"), 0);
	assert_list(f, "other.test", "");
	struct buf report = BUF_INIT, err = BUF_INIT;
	assert_int_equal(store_check(f->st, &report, &err), 0);
	assert_string_equal(buf_cstr(&report), "ok\n");
	buf_free(&report);
	buf_free(&err);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_keys_are_added_listed_newest_first_and_removed),
	        T(test_bad_keys_are_refused),
	        T(test_a_domain_holds_at_most_the_limit),
	        T(test_keys_go_with_their_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
