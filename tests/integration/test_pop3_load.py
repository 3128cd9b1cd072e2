"""tests/tools/pop3_load, the benchmark's POP3 download-and-delete client, against a
real server.

It must retrieve and delete every message of every account it is given (one
session each, in parallel, on any number of threads or with --blocking), undo the
dot-stuffing before it checks a message's size and SHA-256, count what does not
match as an error (and the message as not retrieved), leave the maildrops alone
with --keep, fail when it cannot log in, and fail a session whose server stops
answering once --timeout has passed. A stand-in server (FakePop3) sends its
answers an octet at a time, or stops answering, which petrel never does.

Environment: PETREL_TOOLS (default build/asan/tests/tools), PETREL_BIN.
"""
import hashlib
import os
import poplib
import re
import smtplib
import socket
import subprocess
import threading
import time

import pytest

from conftest import PETREL_TOOLS, SANITIZER_MARKERS, run_tool
import mailstore

LOAD = os.path.join(PETREL_TOOLS, "pop3_load")
PASSWORD = "load-secret-3"
ACCOUNTS = ["carol@example.test", "dave@example.test", "erin@example.test"]
ACCOUNT = re.compile(r"^account=(\S+) stat=(-?\d+) listed=(\d+) retrieved=(\d+) "
                     r"deleted=(\d+) octets=(\d+) errors=(\d+) start_s=([\d.]+|-) "
                     r"login_s=([\d.]+|-) session_s=([\d.]+|-)$", re.M)
SUMMARY = re.compile(r"^accounts=(\d+) expected=(\d+) retrieved=(\d+) deleted=(\d+) "
                     r"octets=(\d+) errors=(\d+) seconds=([\d.]+) rate=([\d.]+)/s "
                     r"last_login_s=([\d.]+) min_session_s=([\d.]+) "
                     r"max_session_s=([\d.]+) cpu_s=([\d.]+)$", re.M)


def message(account, i):
    """Message i for an account, with lines that RETR must dot-stuff."""
    return ("From: <sender@elsewhere.example>\r\nTo: <%s>\r\nSubject: load %d\r\n"
            "Message-ID: <load.%d.%s>\r\n\r\nfirst line\r\n.\r\n..\r\n.starts with a dot\r\n"
            "%s\r\n.last\r\n" % (account, i, i, account, "x" * (100 * i))).encode()


def fill(petrel, counts):
    """Makes the accounts (password PASSWORD) and delivers counts[a] messages to each
    over SMTP; returns {account: [stored bytes]}."""
    for a in counts:
        petrel.cli("user", "add", a, "--password-stdin", input=PASSWORD + "\n")
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        s.ehlo("client.example")
        for a, n in counts.items():
            for i in range(n):
                s.sendmail("sender@elsewhere.example", [a], message(a, i))
    stored = {a: mailstore.messages(petrel, a) for a in counts}
    for a, n in counts.items():
        assert len(stored[a]) == n
    return stored


def write_expect(tmp_path, stored):
    path = tmp_path / "expect"
    with open(path, "w") as f:
        for a, msgs in stored.items():
            for m in msgs:
                f.write("%s %s\n" % (a, hashlib.sha256(m).hexdigest()))
    return str(path)


def run_load(petrel, *args, password=PASSWORD, timeout=120):
    return run_load_port(petrel.ports["pop3"], "--timeout", "30", *args,
                         password=password, timeout=timeout)


def run_load_port(port, *args, password=PASSWORD, timeout=120):
    return run_tool([LOAD, "--port", str(port)] + list(args), password, timeout)


def accounts(p):
    """{address: (stat, listed, retrieved, deleted, octets, errors)}, in output order."""
    out = {}
    for m in ACCOUNT.finditer(p.out):
        out[m.group(1)] = tuple(int(x) for x in m.groups()[1:7])
    return out


def times(p, address):
    m = [m for m in ACCOUNT.finditer(p.out) if m.group(1) == address][0]
    return tuple(None if x == "-" else float(x) for x in m.groups()[7:])


def summary(p):
    m = SUMMARY.search(p.out)
    assert m, p.out + p.err
    return tuple(int(x) for x in m.groups()[:6]), tuple(float(x) for x in m.groups()[6:])


def pop3_stat(petrel, address):
    p = poplib.POP3("127.0.0.1", petrel.ports["pop3"], timeout=20)
    p.user(address)
    p.pass_(PASSWORD)
    stat = p.stat()
    p.quit()
    return stat


def test_load_retrieves_and_deletes_every_message_of_every_account(petrel, tmp_path):
    counts = {"carol@example.test": 3, "dave@example.test": 1, "erin@example.test": 5}
    stored = fill(petrel, counts)
    p = run_load(petrel, "--expect", write_expect(tmp_path, stored))
    assert p.returncode == 0, p.out + p.err
    assert p.err == ""
    got = accounts(p)
    assert list(got) == ACCOUNTS                    # in the order of the expect file
    for a, n in counts.items():
        octets = sum(len(m) for m in stored[a])
        assert got[a] == (n, n, n, n, octets, 0), a
        start, login, session = times(p, a)
        assert 0 <= start and 0 < login < session
    total = sum(counts.values())
    octets = sum(len(m) for msgs in stored.values() for m in msgs)
    (naccounts, expected, retrieved, deleted, got_octets, errors), \
        (seconds, rate, last_login, min_session, max_session, cpu) = summary(p)
    assert (naccounts, expected, retrieved, deleted, got_octets, errors) == (
        3, total, total, total, octets, 0)
    assert 0 < seconds and rate > 0 and 0 < last_login <= seconds
    assert 0 < min_session <= max_session <= seconds
    assert cpu >= 0
    for a in counts:
        assert mailstore.messages(petrel, a) == []
        assert pop3_stat(petrel, a) == (0, 0)
    assert mailstore.count(petrel, "message") == 0


FIVE = ["carol@example.test", "dave@example.test", "erin@example.test",
        "frank@example.test", "grace@example.test"]


@pytest.mark.parametrize("mode", [["--threads", "1"], ["--threads", "2"], ["--threads", "9"],
                                  ["--blocking"]],
                         ids=["1-thread", "2-threads", "more-threads-than-accounts",
                              "blocking"])
def test_five_accounts_on_any_number_of_threads(petrel, tmp_path, mode):
    counts = {a: i + 1 for i, a in enumerate(FIVE)}
    stored = fill(petrel, counts)
    p = run_load(petrel, *mode, "--expect", write_expect(tmp_path, stored))
    assert p.returncode == 0, p.out + p.err
    assert p.err == ""
    got = accounts(p)
    assert list(got) == FIVE
    for a, n in counts.items():
        assert got[a] == (n, n, n, n, sum(len(m) for m in stored[a]), 0), a
        start, login, session = times(p, a)
        assert 0 <= start and 0 < login < session
    assert summary(p)[0] == (5, 15, 15, 15, sum(len(m) for v in stored.values() for m in v), 0)
    for a in counts:
        assert mailstore.messages(petrel, a) == []


def test_a_session_that_fails_leaves_the_others_of_its_thread_going(petrel, tmp_path):
    stored = fill(petrel, {"carol@example.test": 2, "dave@example.test": 3})
    stored = {"carol@example.test": stored["carol@example.test"],
              "nobody@example.test": [b"none\r\n"],
              "dave@example.test": stored["dave@example.test"]}
    p = run_load(petrel, "--threads", "1", "--expect", write_expect(tmp_path, stored))
    assert p.returncode == 1, p.out + p.err
    got = accounts(p)
    assert got["nobody@example.test"] == (-1, 0, 0, 0, 0, 1)
    assert re.search(r"^pop3_load: nobody@example\.test: PASS: -ERR", p.err, re.M), p.err
    good = ("carol@example.test", "dave@example.test")
    for a in good:
        n = len(stored[a])
        assert got[a] == (n, n, n, n, sum(len(m) for m in stored[a]), 0), a
    octets = sum(len(m) for a in good for m in stored[a])
    assert summary(p)[0] == (3, 6, 5, 5, octets, 1)


class FakePop3:
    """A POP3 server on a free loopback port, a thread per connection, that serves
    the same maildrop, messages, to every account and deletes nothing. With chunk, it
    sends its answers in pieces of that many octets, one send and a pause each; with
    stall, a command (or "greeting") it never answers."""

    def __init__(self, messages, chunk=None, stall=None):
        self.messages, self.chunk, self.stall = messages, chunk, stall
        self.done = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def send(self, c, data):
        step = self.chunk or len(data)
        for i in range(0, len(data), step):
            c.sendall(data[i:i + step])
            if self.chunk:
                time.sleep(0.0002)

    def answer(self, words):
        cmd = words[0].upper() if words else b""
        if cmd in (b"USER", b"PASS", b"DELE", b"QUIT"):
            return b"+OK\r\n"
        if cmd == b"STAT":
            return b"+OK %d %d\r\n" % (len(self.messages), sum(map(len, self.messages)))
        if cmd in (b"LIST", b"UIDL"):
            return b"+OK\r\n" + b"".join(
                b"%d %s\r\n" % (i + 1, b"%d" % len(m) if cmd == b"LIST" else b"uid-%d" % i)
                for i, m in enumerate(self.messages)) + b".\r\n"
        if cmd == b"RETR":
            m = self.messages[int(words[1]) - 1]
            return b"+OK\r\n" + b"".join(b"." + l if l.startswith(b".") else l
                                         for l in m.splitlines(True)) + b".\r\n"
        return b"-ERR what\r\n"

    def serve(self, c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if self.stall == "greeting":
                self.done.wait()
                return
            self.send(c, b"+OK fake\r\n")
            for line in c.makefile("rb"):
                words = line.split()
                if words and words[0].upper().decode() == self.stall:
                    self.done.wait()
                    return
                self.send(c, self.answer(words))
                if words and words[0].upper() == b"QUIT":
                    return
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.done.set()
        self.sock.close()


def fake_expect(tmp_path, addresses, messages):
    return write_expect(tmp_path, {a: messages for a in addresses})


@pytest.mark.parametrize("mode", [["--threads", "2"], ["--blocking"]],
                         ids=["epoll", "blocking"])
def test_answers_that_come_an_octet_at_a_time(tmp_path, mode):
    msgs = [message("carol@example.test", 0), message("carol@example.test", 1)]
    server = FakePop3(msgs, chunk=1)
    try:
        p = run_load_port(server.port, "--timeout", "10", "--keep", *mode, "--expect",
                          fake_expect(tmp_path, ACCOUNTS, msgs))
    finally:
        server.close()
    assert p.returncode == 0, p.out + p.err
    for a in ACCOUNTS:
        assert accounts(p)[a] == (2, 2, 2, 0, sum(map(len, msgs)), 0), a


@pytest.mark.parametrize("mode", [["--threads", "1"], ["--blocking"]],
                         ids=["epoll", "blocking"])
@pytest.mark.parametrize("stall,says", [("greeting", "greeting: read: timeout"),
                                        ("RETR", "RETR 1: read: timeout")])
def test_a_server_that_stops_answering_times_out(tmp_path, mode, stall, says):
    msgs = [message("carol@example.test", 0)]
    server = FakePop3(msgs, stall=stall)
    try:
        t0 = time.monotonic()
        p = run_load_port(server.port, "--timeout", "1", "--keep", *mode, "--expect",
                          fake_expect(tmp_path, ACCOUNTS, msgs), timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        server.close()
    assert p.returncode == 1, p.out + p.err
    assert 1 <= elapsed < 10
    for a in ACCOUNTS:
        assert "pop3_load: %s: %s\n" % (a, says) in p.err, p.err
        assert accounts(p)[a][5] == 1
        assert times(p, a)[2] is None
    assert summary(p)[0][5] == len(ACCOUNTS)


def test_load_with_keep_retrieves_everything_and_deletes_nothing(petrel, tmp_path):
    counts = {"carol@example.test": 2, "dave@example.test": 4}
    stored = fill(petrel, counts)
    expect = write_expect(tmp_path, stored)
    for _ in range(2):                              # the maildrops are the same again
        p = run_load(petrel, "--keep", "--expect", expect)
        assert p.returncode == 0, p.out + p.err
        for a, n in counts.items():
            assert accounts(p)[a] == (n, n, n, 0, sum(len(m) for m in stored[a]), 0)
        assert summary(p)[0][1:4] == (6, 6, 0)
        for a in counts:
            assert mailstore.messages(petrel, a) == stored[a]


def test_a_message_with_other_bytes_is_an_error_and_not_retrieved(petrel, tmp_path):
    stored = fill(petrel, {"carol@example.test": 3, "dave@example.test": 2})
    wrong = dict(stored)
    wrong["carol@example.test"] = stored["carol@example.test"][:2] + [b"something else\r\n"]
    p = run_load(petrel, "--expect", write_expect(tmp_path, wrong))
    assert p.returncode == 1, p.out + p.err
    carol = accounts(p)["carol@example.test"]
    assert carol[:3] == (3, 3, 2) and carol[5] == 1
    assert carol[3] == 3                            # retrieved with the wrong bytes, deleted
    dave_octets = sum(len(m) for m in stored["dave@example.test"])
    assert accounts(p)["dave@example.test"] == (2, 2, 2, 2, dave_octets, 0)
    right = dave_octets + sum(len(m) for m in stored["carol@example.test"][:2])
    assert summary(p)[0] == (2, 5, 4, 5, right, 1)
    assert re.search(r"^pop3_load: carol@example\.test: RETR 3: not one of the expected "
                     r"messages", p.err, re.M), p.err


def test_a_maildrop_holding_more_than_expected_is_an_error(petrel, tmp_path):
    stored = fill(petrel, {"carol@example.test": 3})
    fewer = {"carol@example.test": stored["carol@example.test"][:2]}
    p = run_load(petrel, "--keep", "--expect", write_expect(tmp_path, fewer))
    assert p.returncode == 1, p.out + p.err
    assert "pop3_load: carol@example.test: STAT 3 messages, expected 2" in p.err
    assert "RETR 3: not one of the expected messages" in p.err
    assert accounts(p)["carol@example.test"] == (3, 3, 2, 0, sum(
        len(m) for m in stored["carol@example.test"][:2]), 2)


def test_a_wrong_password_fails_the_account_without_a_login(petrel, tmp_path):
    stored = fill(petrel, {"carol@example.test": 2})
    p = run_load(petrel, "--expect", write_expect(tmp_path, stored), password="wrong")
    assert p.returncode == 1, p.out + p.err
    assert accounts(p)["carol@example.test"] == (-1, 0, 0, 0, 0, 1)
    assert times(p, "carol@example.test")[1:] == (None, None)
    assert summary(p)[0] == (1, 2, 0, 0, 0, 1)
    assert "pop3_load: carol@example.test: PASS: -ERR [AUTH] Authentication failed" in p.err
    assert "wrong" not in p.err
    assert mailstore.messages(petrel, "carol@example.test") == stored["carol@example.test"]


def test_a_server_that_does_not_answer_is_an_error(petrel_factory, tmp_path):
    p = petrel_factory()                             # not started: nothing on the port
    expect = tmp_path / "expect"
    expect.write_text("carol@example.test %s\n" % ("0" * 64))
    r = run_load(p, "--expect", str(expect))
    assert r.returncode == 1
    assert "pop3_load: carol@example.test: connect: Connection refused" in r.err
    assert accounts(r)["carol@example.test"] == (-1, 0, 0, 0, 0, 1)


def test_usage_errors_exit_2(petrel, tmp_path):
    good = tmp_path / "expect"
    good.write_text("carol@example.test %s\n" % ("ab" * 32))
    bad = tmp_path / "bad"
    bad.write_text("carol@example.test %s\n" % ("ab" * 31))
    port = str(petrel.ports["pop3"])
    for args, stdin, says in [
            ([], "pw\n", "usage: pop3_load"),
            (["--port", port], "pw\n", "usage: pop3_load"),
            (["--expect", str(good)], "pw\n", "usage: pop3_load"),
            (["--port", "0", "--expect", str(good)], "pw\n", "--port needs a number"),
            (["--port", port, "--expect", str(good), "--bogus"], "pw\n", "usage"),
            (["--port", port, "--expect", str(good), "--threads", "0"], "pw\n",
             "--threads needs a number"),
            (["--port", port, "--expect", str(good), "--threads"], "pw\n",
             "--threads needs a number"),
            (["--port", port, "--expect", str(good), "--threads", "2", "--blocking"],
             "pw\n", "usage: pop3_load"),
            (["--port", port, "--expect", str(good), "--host", "localhost"], "pw\n",
             "IPv4"),
            (["--port", port, "--expect", str(good)], "", "first line of standard input"),
            (["--port", port, "--expect", str(bad)], "pw\n",
             "bad:1: not \"ADDRESS HEXSHA256\""),
            (["--port", port, "--expect", str(tmp_path / "none")], "pw\n",
             "No such file"),
    ]:
        p = subprocess.run([LOAD] + args, input=stdin.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        err = p.stderr.decode()
        assert p.returncode == 2, (args, err)
        assert says in err, (args, err)
        assert p.stdout == b""
        for m in SANITIZER_MARKERS:
            assert m not in err, err
