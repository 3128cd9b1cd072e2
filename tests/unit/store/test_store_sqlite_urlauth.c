/*
 * Unit tests for src/store/store_sqlite_urlauth.c through store.h: a mailbox's
 * URLAUTH key is set once (a second set keeps the first key), read back only
 * by its own account, reset per mailbox or for every mailbox of an account
 * (others' keys stay), refused for a mailbox of another account, and goes
 * with its mailbox and its account.
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

struct fx {
	char dir[64];
	char *path;
	struct store *st;
	int64_t alice, bob;
	int64_t alice_inbox, alice_work, bob_inbox;
};

static void exec_ok(struct store *st, struct store_op *op)
{
	if (store_exec(st, op) != 0)
		fail_msg("op %d failed: %s", (int)op->kind, buf_cstr(&op->err));
}

static int64_t add_account(struct store *st, const char *address)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_ACCOUNT_ADD);
	op.u.account.address = address;
	exec_ok(st, &op);
	int64_t id = op.u.account.id_r;
	store_op_clear(&op);
	return id;
}

static int64_t mailbox_id(struct store *st, int64_t account, const char *name)
{
	struct store_mailbox m = {0};
	struct buf err = BUF_INIT;
	assert_int_equal(store_mailbox_get(st, account, name, &m, &err), STORE_FOUND);
	int64_t id = m.id;
	store_mailbox_clear(&m);
	buf_free(&err);
	return id;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/petrel-urlauth-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->path = xasprintf("%s/petrel.db", f->dir);
	struct buf err = BUF_INIT;
	if (store_open_path(&f->st, f->path, &err) != 0)
		fail_msg("%s", buf_cstr(&err));
	buf_free(&err);
	struct store_op op;
	store_op_init(&op, STORE_OP_DOMAIN_ADD);
	op.u.domain.name = "example.test";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	f->alice = add_account(f->st, "alice@example.test");
	f->bob = add_account(f->st, "bob@example.test");
	store_op_init(&op, STORE_OP_MAILBOX_CREATE);
	op.u.mailbox.account_id = f->alice;
	op.u.mailbox.name = "Work";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	f->alice_inbox = mailbox_id(f->st, f->alice, "INBOX");
	f->alice_work = mailbox_id(f->st, f->alice, "Work");
	f->bob_inbox = mailbox_id(f->st, f->bob, "INBOX");
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

/* Sets a key made of byte fill; returns the op's error, the key in force in key_r. */
static enum store_error set_key(struct fx *f, int64_t account, int64_t mailbox, unsigned char fill,
                                unsigned char *key_r)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_URLAUTH_KEY_SET);
	op.u.urlauth.account_id = account;
	op.u.urlauth.mailbox_id = mailbox;
	memset(op.u.urlauth.key, fill, sizeof op.u.urlauth.key);
	store_exec(f->st, &op);
	if (key_r)
		memcpy(key_r, op.u.urlauth.key_r, STORE_URLAUTH_KEY_LEN);
	enum store_error e = op.error;
	store_op_clear(&op);
	return e;
}

static enum store_error reset(struct fx *f, int64_t account, int64_t mailbox, size_t *count_r)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_URLAUTH_KEY_RESET);
	op.u.urlauth.account_id = account;
	op.u.urlauth.mailbox_id = mailbox;
	store_exec(f->st, &op);
	if (count_r)
		*count_r = op.u.urlauth.count_r;
	enum store_error e = op.error;
	store_op_clear(&op);
	return e;
}

/* The stored key's fill byte, or -1 when there is none. */
static int key_of(struct fx *f, int64_t account, int64_t mailbox)
{
	unsigned char key[STORE_URLAUTH_KEY_LEN];
	struct buf err = BUF_INIT;
	enum store_lookup l = store_urlauth_key_get(f->st, account, mailbox, key, &err);
	assert_int_not_equal(l, STORE_ERROR);
	buf_free(&err);
	return l == STORE_FOUND ? key[0] : -1;
}

static void test_a_second_set_keeps_the_first_key(void **state)
{
	struct fx *f = *state;
	unsigned char k[STORE_URLAUTH_KEY_LEN];
	assert_int_equal(key_of(f, f->alice, f->alice_inbox), -1);
	assert_int_equal(set_key(f, f->alice, f->alice_inbox, 0xaa, k), STORE_OK);
	assert_int_equal(k[0], 0xaa);
	assert_int_equal(k[31], 0xaa);
	assert_int_equal(set_key(f, f->alice, f->alice_inbox, 0xbb, k), STORE_OK);
	assert_int_equal(k[0], 0xaa);
	assert_int_equal(key_of(f, f->alice, f->alice_inbox), 0xaa);
	/* read only by its own account */
	assert_int_equal(key_of(f, f->bob, f->alice_inbox), -1);
}

static void test_a_key_for_another_accounts_mailbox_is_refused(void **state)
{
	struct fx *f = *state;
	assert_int_equal(set_key(f, f->alice, f->bob_inbox, 0x11, NULL), STORE_ERR_NOTFOUND);
	assert_int_equal(key_of(f, f->bob, f->bob_inbox), -1);
	assert_int_equal(reset(f, f->alice, f->bob_inbox, NULL), STORE_ERR_NOTFOUND);
	assert_int_equal(set_key(f, f->alice, 999999, 0x11, NULL), STORE_ERR_NOTFOUND);
}

static void test_reset_forgets_one_mailbox_or_every_one_of_the_account(void **state)
{
	struct fx *f = *state;
	size_t n = 99;
	set_key(f, f->alice, f->alice_inbox, 1, NULL);
	set_key(f, f->alice, f->alice_work, 2, NULL);
	set_key(f, f->bob, f->bob_inbox, 3, NULL);
	assert_int_equal(reset(f, f->alice, f->alice_work, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(key_of(f, f->alice, f->alice_work), -1);
	assert_int_equal(key_of(f, f->alice, f->alice_inbox), 1);
	set_key(f, f->alice, f->alice_work, 4, NULL);
	assert_int_equal(key_of(f, f->alice, f->alice_work), 4);
	assert_int_equal(reset(f, f->alice, 0, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(key_of(f, f->alice, f->alice_inbox), -1);
	assert_int_equal(key_of(f, f->alice, f->alice_work), -1);
	assert_int_equal(key_of(f, f->bob, f->bob_inbox), 3);
	/* a reset without keys is no error */
	assert_int_equal(reset(f, f->alice, 0, &n), STORE_OK);
	assert_int_equal(n, 0);
}

static void test_keys_go_with_their_mailbox_and_account(void **state)
{
	struct fx *f = *state;
	set_key(f, f->alice, f->alice_work, 5, NULL);
	set_key(f, f->bob, f->bob_inbox, 6, NULL);
	struct store_op op;
	store_op_init(&op, STORE_OP_MAILBOX_DELETE);
	op.u.mailbox.account_id = f->alice;
	op.u.mailbox.name = "Work";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	store_op_init(&op, STORE_OP_MAILBOX_CREATE);
	op.u.mailbox.account_id = f->alice;
	op.u.mailbox.name = "Work";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	int64_t work2 = mailbox_id(f->st, f->alice, "Work");
	assert_int_equal(key_of(f, f->alice, f->alice_work), -1);
	assert_int_equal(key_of(f, f->alice, work2), -1);
	store_op_init(&op, STORE_OP_ACCOUNT_REMOVE);
	op.u.account.address = "bob@example.test";
	exec_ok(f->st, &op);
	store_op_clear(&op);
	assert_int_equal(key_of(f, f->bob, f->bob_inbox), -1);
	struct buf report = BUF_INIT, err = BUF_INIT;
	assert_int_equal(store_check(f->st, &report, &err), 0);
	assert_string_equal(buf_cstr(&report), "ok\n");
	buf_free(&report);
	buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_a_second_set_keeps_the_first_key, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_a_key_for_another_accounts_mailbox_is_refused,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_reset_forgets_one_mailbox_or_every_one_of_the_account, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_keys_go_with_their_mailbox_and_account, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
