"""The `petrel` admin commands against a real store, with and without a running server."""
import crypt
import os
import sqlite3

import pytest

from conftest import PASSWORDS, PETREL_BIN


def db(p):
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(p.data_dir, "petrel.db"), uri=True)
    return con


def test_help_lists_every_command(petrel_factory):
    p = petrel_factory()
    out = p.cli("help", config=False).out
    for cmd in ("serve", "domain", "user", "alias", "check-config", "store"):
        assert cmd in out
    assert "usage: petrel [-c FILE] user add" in p.cli("user", "--help", config=False).out
    assert "usage: petrel [-c FILE] alias" in p.cli("help", "alias", config=False).out


def test_unknown_command_and_option_are_usage_errors(petrel_factory):
    p = petrel_factory()
    r = p.cli("frobnicate", check=False)
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.err
    r = p.cli("--bogus", "serve", check=False, config=False)
    assert r.returncode == 2 and "unknown option '--bogus'" in r.err
    r = p.cli("domain", "add", check=False)
    assert r.returncode == 2 and "usage:" in r.err


def test_domain_add_list_remove(petrel_factory):
    p = petrel_factory()
    p.cli("domain", "add", "Example.ORG.")
    p.cli("domain", "add", "b.example")
    assert p.cli("domain", "list").out == "b.example\nexample.org\n"
    r = p.cli("domain", "add", "example.org", check=False)
    assert r.returncode == 1 and "already exists" in r.err
    p.cli("domain", "remove", "b.example")
    assert p.cli("domain", "list").out == "example.org\n"
    r = p.cli("domain", "remove", "nowhere.example", check=False)
    assert r.returncode == 1 and "no domain nowhere.example" in r.err


@pytest.mark.parametrize("bad", ["", "-lead.example", "trail-.example", "a..b", "sp ace.example",
                                 "x" * 64 + ".example", "ünï.example", "a_b.example"])
def test_domain_add_rejects_bad_names(petrel_factory, bad):
    p = petrel_factory()
    r = p.cli("domain", "add", bad, check=False)
    assert r.returncode == 1
    assert r.err.startswith("petrel: ") and r.err.count("\n") == 1
    assert p.cli("domain", "list").out == ""


def test_domain_with_accounts_cannot_be_removed(petrel_factory):
    p = petrel_factory()
    p.provision()
    r = p.cli("domain", "remove", "example.test", check=False)
    assert r.returncode == 1 and "still has 2 accounts" in r.err


def test_user_add_stores_yescrypt_and_scram(petrel_factory):
    p = petrel_factory()
    p.provision()
    rows = dict(db(p).execute("SELECT address, password_hash FROM account").fetchall())
    for addr, pw in PASSWORDS.items():
        h = rows[addr]
        assert h.startswith("$y$")
        assert crypt.crypt(pw, h) == h
        assert crypt.crypt(pw + "x", h) != h
    scram = db(p).execute("SELECT scram_sha256 FROM account").fetchall()
    assert all(s[0].startswith("SCRAM-SHA-256$") for s in scram)
    # the password itself is never stored
    raw = open(os.path.join(p.data_dir, "petrel.db"), "rb").read()
    assert b"alice-secret-1" not in raw


def test_user_add_creates_default_mailboxes(petrel_factory):
    p = petrel_factory()
    p.provision()
    rows = db(p).execute(
        "SELECT m.name, m.special_use FROM mailbox m JOIN account a ON a.id = m.account_id "
        "WHERE a.address = 'alice@example.test' ORDER BY m.name").fetchall()
    assert rows == [("Archive", "\\Archive"), ("Drafts", "\\Drafts"), ("INBOX", ""),
                    ("Junk", "\\Junk"), ("Sent", "\\Sent"), ("Trash", "\\Trash")]


def test_user_list_passwd_quota_remove(petrel_factory):
    p = petrel_factory()
    p.provision()
    out = p.cli("user", "list").out
    assert out == ("alice@example.test\tused=0\tquota=none\n"
                   "bob@example.test\tused=0\tquota=none\n")
    p.cli("user", "quota", "alice@example.test", "512M")
    assert "alice@example.test\tused=0\tquota=536870912" in p.cli("user", "list").out
    p.cli("user", "quota", "alice@example.test", "none")
    assert "alice@example.test\tused=0\tquota=none" in p.cli("user", "list").out
    p.cli("user", "passwd", "ALICE@example.test", "--password-stdin", input="new-pass-3\n")
    h = db(p).execute("SELECT password_hash FROM account WHERE address = 'alice@example.test'"
                      ).fetchone()[0]
    assert crypt.crypt("new-pass-3", h) == h
    p.cli("user", "remove", "bob@example.test")
    assert p.cli("user", "list").out == "alice@example.test\tused=0\tquota=none\n"
    assert db(p).execute("SELECT count(*) FROM mailbox").fetchone()[0] == 6


@pytest.mark.parametrize("args,msg", [
    (["add", "nobody@unknown.example"], "not a local domain"),
    (["add", "alice@example.test"], "already exists"),
    (["add", "no-at-sign"], "no @domain"),
    (["add", "a..b@example.test"], "bad local part"),
    (["add", ("x" * 65) + "@example.test"], "bad local part"),
    (["passwd", "ghost@example.test"], "no account ghost@example.test"),
    (["remove", "ghost@example.test"], "no account ghost@example.test"),
    (["quota", "alice@example.test", "lots"], "bad size 'lots'"),
    (["quota", "alice@example.test", "99999999999999999999"], "bad size"),
])
def test_user_errors_are_one_clear_line(petrel_factory, args, msg):
    p = petrel_factory()
    p.provision()
    extra = ["--password-stdin"] if args[0] in ("add", "passwd") else []
    r = p.cli("user", *args, *extra, input="some-password\n", check=False)
    assert r.returncode == 1, r.out + r.err
    assert msg in r.err
    assert r.err.startswith("petrel: ") and r.err.count("\n") == 1


@pytest.mark.parametrize("pw,msg", [("\n", "bad password"), ("", "no password"),
                                    ("a\rb\n", "bad password"), ("x" * 1025 + "\n", "password")])
def test_user_add_rejects_bad_passwords(petrel_factory, pw, msg):
    p = petrel_factory()
    p.cli("domain", "add", "example.test")
    r = p.cli("user", "add", "carol@example.test", "--password-stdin", input=pw, check=False)
    assert r.returncode == 1 and msg in r.err, r.err
    assert p.cli("user", "list").out == ""


def test_user_add_without_terminal_needs_password_stdin(petrel_factory):
    p = petrel_factory()
    p.cli("domain", "add", "example.test")
    r = subprocess_no_tty(p, "user", "add", "carol@example.test")
    assert r.returncode == 1 and "--password-stdin" in r.stderr.decode()


def subprocess_no_tty(p, *args):
    import subprocess
    return subprocess.run([PETREL_BIN, "-c", p.config_path] + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                          timeout=30)


def test_alias_add_list_remove(petrel_factory):
    p = petrel_factory()
    p.provision()
    p.cli("alias", "add", "Sales@example.test", "alice@example.test", "bob@example.test")
    p.cli("alias", "add", "@example.test", "alice@example.test")
    p.cli("alias", "add", "ext@example.test", "someone@elsewhere.example")
    assert p.cli("alias", "list").out == (
        "@example.test\talice@example.test\n"
        "ext@example.test\tsomeone@elsewhere.example\n"
        "sales@example.test\talice@example.test\n"
        "sales@example.test\tbob@example.test\n")
    r = p.cli("alias", "add", "sales@example.test", "bob@example.test", check=False)
    assert r.returncode == 1 and "already exists" in r.err
    p.cli("alias", "remove", "sales@example.test", "bob@example.test")
    p.cli("alias", "remove", "@example.test")
    assert p.cli("alias", "list").out == (
        "ext@example.test\tsomeone@elsewhere.example\n"
        "sales@example.test\talice@example.test\n")
    r = p.cli("alias", "remove", "nope@example.test", check=False)
    assert r.returncode == 1 and "no alias nope@example.test" in r.err


def test_alias_needs_local_domain_and_valid_targets(petrel_factory):
    p = petrel_factory()
    p.provision()
    r = p.cli("alias", "add", "x@other.example", "alice@example.test", check=False)
    assert r.returncode == 1 and "not a local domain" in r.err
    r = p.cli("alias", "add", "x@example.test", "not an address", check=False)
    assert r.returncode == 1 and "target" in r.err
    r = p.cli("alias", "add", "x@example.test", check=False)
    assert r.returncode == 2
    assert p.cli("alias", "list").out == ""


def test_failed_command_writes_nothing(petrel_factory):
    p = petrel_factory()
    p.provision()
    # the second target is invalid: the first must not be stored either
    r = p.cli("alias", "add", "team@example.test", "alice@example.test", "bad@@x", check=False)
    assert r.returncode == 1
    assert p.cli("alias", "list").out == ""


def test_store_check_reports_ok_and_corruption(petrel_factory):
    p = petrel_factory()
    p.provision()
    assert p.cli("store", "check").out == "ok\n"
    con = sqlite3.connect(os.path.join(p.data_dir, "petrel.db"))
    con.execute("UPDATE mailbox SET messages = 7 WHERE name = 'INBOX'")
    con.commit()
    con.close()
    r = p.cli("store", "check", check=False)
    assert r.returncode == 1 and "counters differ" in r.out


def test_commands_work_while_the_server_runs(petrel):
    for i in range(5):
        petrel.cli("user", "add", "u%d@example.test" % i, "--password-stdin", input="pw-%d\n" % i)
    petrel.cli("alias", "add", "all@example.test", "u0@example.test", "u1@example.test")
    assert petrel.cli("user", "list").out.count("\n") == 7
    petrel.cli("user", "remove", "u3@example.test")
    assert petrel.cli("store", "check").out == "ok\n"


def test_store_schema_newer_than_binary_is_refused(petrel_factory):
    p = petrel_factory()
    p.cli("domain", "add", "example.test")
    con = sqlite3.connect(os.path.join(p.data_dir, "petrel.db"))
    con.execute("PRAGMA user_version = 999")
    con.commit()
    con.close()
    r = p.cli("domain", "list", check=False)
    assert r.returncode == 1 and "newer than this petrel knows" in r.err
