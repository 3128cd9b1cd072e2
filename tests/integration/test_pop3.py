"""The POP3 server with poplib, raw sockets, fetchmail and curl, checked in the store.

Mail is delivered over SMTP first; what POP3 shows and does is compared with
the store itself (mailstore), byte for byte.
"""
import base64
import hashlib
import hmac
import imaplib
import os
import poplib
import re
import shutil
import smtplib
import socket
import sqlite3
import ssl
import stat
import subprocess
import time

import pytest

import mailstore
from conftest import PASSWORDS, free_ports, wait_port

ALICE = "alice@example.test"
BOB = "bob@example.test"

EXPECTED_CAPA = ["TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
                 "SASL PLAIN LOGIN SCRAM-SHA-256", "STLS", "IMPLEMENTATION petrel"]


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Raw:
    """A line-oriented POP3 client on a raw socket, for what poplib will not do."""

    def __init__(self, port, tls=False, host="127.0.0.1", source=None):
        self.sock = socket.create_connection((host, port), timeout=20,
                                             source_address=(source, 0) if source else None)
        if tls:
            self.sock = tls_ctx().wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def rawline(self):
        """One line with its CRLF, as bytes (b"" at EOF)."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def line(self):
        return self.rawline().decode("utf-8", "replace").rstrip("\r\n")

    def multi(self):
        """The body of a multi-line response, raw (still dot-stuffed, without the
        final ".\\r\\n")."""
        out = b""
        while True:
            l = self.rawline()
            assert l, "connection closed inside a multi-line response"
            if l == b".\r\n":
                return out
            out += l

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def cmd_multi(self, text):
        first = self.cmd(text)
        assert first.startswith("+OK"), first
        return first, self.multi()

    def starttls(self):
        self.sock = tls_ctx().wrap_socket(self.sock)

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        self.sock.close()


def unstuff(raw):
    """What a client makes of a multi-line body: lines without their leading dot."""
    lines = raw.split(b"\r\n")
    assert lines[-1] == b""
    return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n" for l in lines[:-1])


def message(subject="test", body="Hello.\r\n"):
    return ("From: Bob <bob@elsewhere.example>\r\nTo: alice@example.test\r\n"
            "Subject: %s\r\nMessage-ID: <%s@test>\r\n\r\n%s" % (
                subject, os.urandom(8).hex(), body)).encode()


def deliver(petrel, *msgs, rcpt=ALICE):
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        s.ehlo("client.example")
        for m in msgs:
            s.sendmail("bob@elsewhere.example", [rcpt], m)


def login(petrel, user=ALICE, port="pop3"):
    r = Raw(petrel.ports[port], tls=port == "pop3s")
    assert r.line().startswith("+OK")
    assert r.cmd("USER " + user).startswith("+OK")
    reply = r.cmd("PASS " + PASSWORDS[user])
    assert reply.startswith("+OK Logged in"), reply
    return r


def poplib_login(petrel, user=ALICE):
    p = poplib.POP3("127.0.0.1", petrel.ports["pop3"], timeout=20)
    p.user(user)
    p.pass_(PASSWORDS[user])
    return p


def uids_in_store(petrel, address=ALICE):
    con = mailstore.connect(petrel)
    try:
        return con.execute(
            "SELECT m.uid, m.flags FROM message m JOIN mailbox x ON x.id = m.mailbox_id "
            "JOIN account a ON a.id = x.account_id WHERE a.address = ? AND x.name = 'INBOX' "
            "ORDER BY m.uid", (address,)).fetchall()
    finally:
        con.close()


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def fill(petrel, n=3):
    deliver(petrel, *[message(subject="m%d" % i, body="Body %d.\r\n" % i) for i in range(n)])
    stored = mailstore.messages(petrel, ALICE)
    assert len(stored) == n
    return stored


# ---- greeting, CAPA, states ------------------------------------------------------------

def test_greeting_has_no_apop_timestamp(petrel):
    r = Raw(petrel.ports["pop3"])
    greeting = r.line()
    assert greeting == "+OK mail.example.test POP3 petrel ready"
    assert "<" not in greeting
    r.close()


def test_capa_says_exactly_what_is_implemented(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    first, body = r.cmd_multi("CAPA")
    caps = body.decode().split("\r\n")[:-1]
    assert caps == EXPECTED_CAPA
    assert not any(c.startswith(("EXPIRE", "LOGIN-DELAY", "APOP")) for c in caps)
    r.close()


def test_capa_is_the_same_after_login_and_pop3s_has_no_stls(petrel):
    r = login(petrel)
    caps = r.cmd_multi("CAPA")[1].decode().split("\r\n")[:-1]
    assert caps == EXPECTED_CAPA
    r.close()
    p = poplib.POP3_SSL("127.0.0.1", petrel.ports["pop3s"], context=tls_ctx(), timeout=20)
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps and caps["SASL"] == [
        "PLAIN", "LOGIN", "SCRAM-SHA-256"]
    p.user(ALICE)
    p.pass_(PASSWORDS[ALICE])
    assert p.stat() == (0, 0)
    p.quit()


def test_commands_need_the_right_state(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    for c in ("STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1", "UIDL"):
        assert r.cmd(c) == "-ERR %s is only valid after login" % c.split()[0]
    assert r.cmd("PASS x") == "-ERR Send USER first"
    r.close()
    r = login(petrel)
    for c in ("USER bob", "PASS x", "AUTH PLAIN", "APOP a b", "STLS"):
        assert r.cmd(c) == "-ERR %s is only valid before login" % c.split()[0]
    assert r.cmd("NOOP") == "+OK"
    assert r.cmd("QUIT") == "+OK petrel POP3 server signing off"
    assert r.closed()


def test_quit_before_login_says_goodbye(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    assert r.cmd("QUIT").startswith("+OK")
    assert r.closed()


def test_apop_is_refused_saying_why(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    reply = r.cmd("APOP alice@example.test c4c9334bac560ecc979e58001b3e22fb")
    assert reply.startswith("-ERR APOP is not available")
    assert "plaintext-equivalent" in reply
    r.close()


@pytest.mark.parametrize("line,reply", [
    ("RETR 0", "-ERR RETR: message numbers start at 1"),
    ("RETR -1", "-ERR RETR: message numbers are not negative"),
    ("RETR 99999999999", "-ERR RETR: message number too large"),
    ("RETR 1x", "-ERR RETR: message number must be a decimal number"),
    ("RETR 4", "-ERR No such message: the maildrop has 3"),
    ("RETR", "-ERR RETR: a message number is needed"),
    ("TOP 1", "-ERR TOP: TOP needs a message number and a line count"),
    ("TOP 1 -5", "-ERR TOP: line counts are not negative"),
    ("LIST 1 2", "-ERR LIST: too many arguments"),
    ("STAT now", "-ERR STAT: no arguments allowed"),
    ("FOO", "-ERR Unknown command"),
    ("RETR \x00", "-ERR RETR: NUL byte in command line"),
])
def test_bad_arguments_get_a_reason_and_the_session_goes_on(petrel, line, reply):
    fill(petrel)
    r = login(petrel)
    assert r.cmd(line) == reply
    assert r.cmd("STAT").startswith("+OK 3 ")
    r.close()


def test_an_overlong_line_is_refused_and_the_session_goes_on(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    r.send("NOOP " + "x" * 300 + "\r\n")
    assert r.line() == "-ERR Line too long"
    r.send("USER " + "u" * 248 + "\r\n")  # 255 octets with CRLF: accepted
    assert r.line() == "+OK Send your password"
    r.send("USER " + "u" * 249 + "\r\n")  # 256
    assert r.line() == "-ERR Line too long"
    assert r.cmd("CAPA").startswith("+OK")
    r.close()


def test_too_many_errors_end_the_session(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    for i in range(9):
        assert r.cmd("BOGUS%d" % i) == "-ERR Unknown command"
    assert r.cmd("BOGUS9") == "-ERR Unknown command; too many errors, closing connection"
    assert r.closed()


def test_idle_sessions_are_closed(petrel_factory):
    p = petrel_factory({"limits": {"idle_timeout": "1"}})
    p.provision()
    p.start()
    r = Raw(p.ports["pop3"])
    r.line()
    r.sock.settimeout(10)
    assert r.line() == "-ERR Idle for too long, closing connection"
    assert r.closed()


# ---- the maildrop ------------------------------------------------------------------------

def test_stat_list_and_retr_are_byte_exact(petrel):
    msgs = [message(subject="small"),
            message(subject="dots", body=".\r\n..\r\n.leading dot\r\nmiddle . dot\r\n.\r\n"),
            message(subject="long", body="x" * 5000 + "\r\n" + "line\r\n" * 2000)]
    deliver(petrel, *msgs)
    stored = mailstore.messages(petrel, ALICE)
    r = login(petrel)
    assert r.cmd("STAT") == "+OK 3 %d" % sum(len(m) for m in stored)
    first, body = r.cmd_multi("LIST")
    assert first == "+OK 3 messages (%d octets)" % sum(len(m) for m in stored)
    assert body == b"".join(b"%d %d\r\n" % (i + 1, len(m)) for i, m in enumerate(stored))
    for i, m in enumerate(stored):
        assert r.cmd("LIST %d" % (i + 1)) == "+OK %d %d" % (i + 1, len(m))
        first, raw = r.cmd_multi("RETR %d" % (i + 1))
        assert first == "+OK %d octets" % len(m)
        assert unstuff(raw) == m
    assert r.cmd("QUIT").startswith("+OK")


def test_lines_starting_with_a_dot_are_stuffed_on_the_wire(petrel):
    deliver(petrel, message(body=".\r\n..\r\n.x\r\nno.dot\r\n"))
    stored = mailstore.messages(petrel, ALICE)[0]
    r = login(petrel)
    raw = r.cmd_multi("RETR 1")[1]
    assert raw.endswith(b"\r\n\r\n..\r\n...\r\n..x\r\nno.dot\r\n")
    assert unstuff(raw) == stored
    r.close()


def test_poplib_retrieves_what_is_stored(petrel):
    stored = fill(petrel)
    p = poplib_login(petrel)
    assert p.stat() == (3, sum(len(m) for m in stored))
    for i, m in enumerate(stored):
        resp, lines, octets = p.retr(i + 1)
        assert b"\r\n".join(lines) + b"\r\n" == m
    p.quit()


def test_top_sends_the_header_and_n_body_lines(petrel):
    deliver(petrel, message(body="one\r\n.two\r\nthree\r\n"))
    stored = mailstore.messages(petrel, ALICE)[0]
    head, _, body = stored.partition(b"\r\n\r\n")
    r = login(petrel)
    first, raw = r.cmd_multi("TOP 1 0")
    assert unstuff(raw) == head + b"\r\n\r\n"
    assert unstuff(r.cmd_multi("TOP 1 2")[1]) == head + b"\r\n\r\none\r\n.two\r\n"
    assert r.cmd_multi("TOP 1 2")[1].endswith(b"\r\n\r\none\r\n..two\r\n")
    assert unstuff(r.cmd_multi("TOP 1 100")[1]) == stored
    r.close()


def test_uidl_is_unique_and_stable_across_sessions_and_restarts(petrel):
    fill(petrel)
    p = poplib_login(petrel)
    first = p.uidl()[1]
    assert len(first) == 3
    uids = [l.split()[1] for l in first]
    assert len(set(uids)) == 3 and all(re.fullmatch(rb"\d+\.\d+", u) for u in uids)
    assert p.uidl(2).split()[2] == uids[1]
    p.retr(1)  # changes its flags: \Seen
    p.quit()
    p = poplib_login(petrel)
    assert p.uidl()[1] == first
    p.quit()
    assert petrel.stop() == 0
    petrel.start()
    assert wait_port(petrel.ports["pop3"])
    p = poplib_login(petrel)
    assert p.uidl()[1] == first
    p.quit()


def test_dele_and_quit_remove_the_messages_from_the_store(petrel):
    stored = fill(petrel)
    assert mailstore.count(petrel, "tombstone") == 0
    r = login(petrel)
    assert r.cmd("DELE 1") == "+OK Message 1 deleted"
    assert r.cmd("DELE 3") == "+OK Message 3 deleted"
    assert r.cmd("DELE 1") == "-ERR Message 1 is deleted"
    assert r.cmd("RETR 3") == "-ERR Message 3 is deleted"
    assert r.cmd("LIST 1") == "-ERR Message 1 is deleted"
    assert r.cmd("STAT") == "+OK 1 %d" % len(stored[1])
    assert r.cmd_multi("LIST")[1] == b"2 %d\r\n" % len(stored[1])
    assert r.cmd_multi("UIDL")[1].startswith(b"2 ")
    assert mailstore.messages(petrel, ALICE) == stored  # nothing before QUIT
    assert r.cmd("QUIT") == "+OK petrel POP3 server signing off (2 messages deleted)"
    assert r.closed()
    # +OK came after the commit: the store already says so
    assert mailstore.messages(petrel, ALICE) == [stored[1]]
    assert mailstore.count(petrel, "tombstone") == 2
    assert petrel.cli("store", "check").out == "ok\n"
    p = poplib_login(petrel)
    assert p.stat() == (1, len(stored[1]))
    p.quit()


def test_a_failed_expunge_answers_err_and_deletes_nothing(petrel):
    stored = fill(petrel)
    path = os.path.join(petrel.data_dir, "petrel.db")
    con = sqlite3.connect(path, timeout=10)
    con.execute("CREATE TRIGGER no_delete BEFORE DELETE ON message "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    con.commit()
    r = login(petrel)
    r.cmd("DELE 1")
    r.cmd("DELE 2")
    reply = r.cmd("QUIT")
    assert reply.startswith("-ERR [SYS/"), reply
    assert r.closed()
    con.execute("DROP TRIGGER no_delete")
    con.commit()
    con.close()
    assert mailstore.messages(petrel, ALICE) == stored
    assert mailstore.count(petrel, "tombstone") == 0
    # the maildrop is free again and the next QUIT works
    r = login(petrel)
    r.cmd("DELE 1")
    assert r.cmd("QUIT").startswith("+OK")
    assert mailstore.messages(petrel, ALICE) == stored[1:]


def test_rset_unmarks_and_nothing_is_deleted(petrel):
    stored = fill(petrel)
    r = login(petrel)
    r.cmd("DELE 1")
    r.cmd("DELE 2")
    assert r.cmd("RSET") == "+OK Maildrop has 3 messages (%d octets)" % sum(map(len, stored))
    assert r.cmd("STAT").startswith("+OK 3 ")
    assert r.cmd("QUIT") == "+OK petrel POP3 server signing off"
    assert mailstore.messages(petrel, ALICE) == stored
    assert mailstore.count(petrel, "tombstone") == 0


def test_a_dropped_connection_deletes_nothing(petrel):
    stored = fill(petrel)
    r = login(petrel)
    assert r.cmd("DELE 1").startswith("+OK")
    assert r.cmd("DELE 2").startswith("+OK")
    r.close()
    assert petrel.wait_log("event=disconnect user=alice@example.test")
    # and the maildrop is free again at once
    p = poplib_login(petrel)
    assert p.stat()[0] == 3
    p.quit()
    assert mailstore.messages(petrel, ALICE) == stored
    assert mailstore.count(petrel, "tombstone") == 0


def test_a_second_pop3_session_gets_in_use(petrel):
    fill(petrel)
    a = login(petrel)
    b = Raw(petrel.ports["pop3"])
    b.line()
    b.cmd("USER " + ALICE)
    assert b.cmd("PASS " + PASSWORDS[ALICE]) == \
        "-ERR [IN-USE] Maildrop is locked by another POP3 session"
    # a wrong password never learns about the lock
    b.cmd("USER " + ALICE)
    assert b.cmd("PASS wrong") == "-ERR [AUTH] Authentication failed"
    # another account is not locked
    c = login(petrel, BOB)
    c.cmd("QUIT")
    assert a.cmd("QUIT").startswith("+OK")
    assert a.closed()
    b.cmd("USER " + ALICE)
    assert b.cmd("PASS " + PASSWORDS[ALICE]).startswith("+OK Logged in, 3 messages")
    b.close()


def test_a_message_delivered_during_a_session_waits_for_the_next(petrel):
    stored = fill(petrel, 2)
    r = login(petrel)
    assert r.cmd("STAT") == "+OK 2 %d" % sum(map(len, stored))
    deliver(petrel, message(subject="late"))
    assert len(mailstore.messages(petrel, ALICE)) == 3
    assert r.cmd("STAT") == "+OK 2 %d" % sum(map(len, stored))
    assert r.cmd("RETR 3").startswith("-ERR No such message")
    assert r.cmd("DELE 1").startswith("+OK")
    assert r.cmd("QUIT").startswith("+OK")
    r = login(petrel)
    assert r.cmd("STAT").startswith("+OK 2 ")
    assert b"Subject: late" in unstuff(r.cmd_multi("RETR 2")[1])
    r.close()


def test_retr_marks_seen_and_top_does_not(petrel):
    fill(petrel)
    assert all(f & 1 == 0 for _, f in uids_in_store(petrel))
    r = login(petrel)
    r.cmd_multi("RETR 2")
    r.cmd_multi("TOP 1 5")
    r.cmd_multi("RETR 3")
    r.cmd_multi("RETR 3")
    r.cmd("QUIT")
    # marked when the session ends (one commit), durable before QUIT's answer
    assert [f & 1 for _, f in uids_in_store(petrel)] == [0, 1, 1]


def test_retrieved_messages_stay_seen_when_the_client_vanishes(petrel):
    fill(petrel)
    r = login(petrel)
    r.send("RETR 1\r\nRETR 2\r\n")
    for _ in range(2):
        assert r.line().startswith("+OK")
        r.multi()
    r.close()
    assert wait_for(lambda: [f & 1 for _, f in uids_in_store(petrel)] == [1, 1, 0])


def test_pipelined_commands_in_one_write_get_replies_in_order(petrel):
    stored = fill(petrel)
    r = Raw(petrel.ports["pop3"])
    r.line()
    r.send("CAPA\r\nUSER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 2\r\nTOP 1 0\r\n"
           "DELE 3\r\nNOOP\r\nQUIT\r\n" % (ALICE, PASSWORDS[ALICE]))
    assert r.line().startswith("+OK Capability")
    r.multi()
    assert r.line() == "+OK Send your password"
    assert r.line().startswith("+OK Logged in, 3 messages")
    assert r.line() == "+OK 3 %d" % sum(map(len, stored))
    assert r.line().startswith("+OK 3 messages")
    assert r.multi().count(b"\r\n") == 3
    assert r.line().startswith("+OK")
    assert r.multi().count(b"\r\n") == 3
    assert r.line() == "+OK %d octets" % len(stored[1])
    assert unstuff(r.multi()) == stored[1]
    assert r.line().startswith("+OK Top")
    r.multi()
    assert r.line() == "+OK Message 3 deleted"
    assert r.line() == "+OK"
    assert r.line() == "+OK petrel POP3 server signing off (1 messages deleted)"
    assert r.closed()
    assert mailstore.messages(petrel, ALICE) == stored[:2]


def test_pipelined_retrs_of_a_client_that_does_not_read_wait_for_the_output(petrel):
    body = ("y" * 70 + "\r\n") * 6000  # ~430 KB each, ~13 MB in all
    n = 30
    deliver(petrel, *[message(subject="big%d" % i, body=body) for i in range(n)])
    stored = mailstore.messages(petrel, ALICE)
    r = login(petrel)
    r.send("".join("RETR %d\r\n" % (i + 1) for i in range(n)) + "QUIT\r\n")
    # the server stops reading commands while its output waits for the client
    assert petrel.wait_log("event=output-wait")
    for m in stored:
        assert r.line() == "+OK %d octets" % len(m)
        assert unstuff(r.multi()) == m
    assert r.line().startswith("+OK petrel POP3 server signing off")


# ---- STLS, TLS and plaintext -----------------------------------------------------------------

def test_stls_then_login_with_poplib(petrel):
    fill(petrel, 1)
    p = poplib.POP3("127.0.0.1", petrel.ports["pop3"], timeout=20)
    assert p.stls(context=tls_ctx()).startswith(b"+OK Begin TLS")
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps
    p.user(ALICE)
    p.pass_(PASSWORDS[ALICE])
    assert p.stat()[0] == 1
    p.quit()


def test_commands_pipelined_after_stls_are_discarded(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    r.send("STLS\r\nUSER %s\r\nPASS %s\r\n" % (ALICE, PASSWORDS[ALICE]))
    assert r.line() == "+OK Begin TLS negotiation"
    r.starttls()
    # the injected login never happened
    assert r.cmd("STAT") == "-ERR STAT is only valid after login"
    assert r.cmd("STLS") == "-ERR TLS is already active"
    r.close()


def non_loopback_address():
    """An IPv4 address of this machine outside 127/8, or None."""
    candidates = set()
    try:
        candidates.update(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.1", 9))  # no packet is sent
        candidates.add(s.getsockname()[0])
        s.close()
    except OSError:
        pass
    for a in sorted(candidates):
        if a.startswith("127.") or a == "0.0.0.0":
            continue
        try:
            t = socket.socket()
            t.bind((a, 0))
            t.close()
            return a
        except OSError:
            continue
    return None


def test_plaintext_login_is_refused_from_a_non_loopback_address(petrel_factory):
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    port = free_ports(1)[0]
    p = petrel_factory({"pop3": {"listen": "%s:%d" % (addr, port)}})
    p.provision()
    p.start()
    r = Raw(port, host=addr, source=addr)
    r.line()
    caps = r.cmd_multi("CAPA")[1].decode().split("\r\n")[:-1]
    assert "STLS" in caps and "USER" not in caps and not any(c.startswith("SASL") for c in caps)
    for c in ("USER " + ALICE, "PASS x", "AUTH PLAIN", "AUTH"):
        assert r.cmd(c).startswith("-ERR [AUTH] Plaintext authentication is disallowed")
    assert r.cmd("STLS").startswith("+OK")
    r.starttls()
    caps = r.cmd_multi("CAPA")[1].decode().split("\r\n")[:-1]
    assert "USER" in caps and "SASL PLAIN LOGIN SCRAM-SHA-256" in caps
    assert r.cmd("USER " + ALICE).startswith("+OK")
    assert r.cmd("PASS " + PASSWORDS[ALICE]).startswith("+OK Logged in")
    r.cmd("QUIT")


# ---- authentication ---------------------------------------------------------------------------

def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def test_auth_plain_with_and_without_initial_response(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    reply = r.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, PASSWORDS[ALICE])))
    assert reply == "+OK Logged in, 0 messages (0 octets)"
    r.cmd("QUIT")
    r = Raw(petrel.ports["pop3"])
    r.line()
    assert r.cmd("AUTH PLAIN") == "+ "
    assert r.cmd(b64("%s\0%s\0%s" % (BOB, BOB, PASSWORDS[BOB]))).startswith("+OK Logged in")
    r.cmd("QUIT")


def test_auth_login(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    assert r.cmd("AUTH LOGIN") == "+ " + b64("Username:")
    assert r.cmd(b64(ALICE)) == "+ " + b64("Password:")
    assert r.cmd(b64(PASSWORDS[ALICE])).startswith("+OK Logged in")
    r.cmd("QUIT")


def scram_client(r, user, password):
    """A SCRAM-SHA-256 exchange over a Raw connection; returns the final reply."""
    cnonce = b64(os.urandom(18))
    first_bare = "n=%s,r=%s" % (user, cnonce)
    reply = r.cmd("AUTH SCRAM-SHA-256 " + b64("n,," + first_bare))
    assert reply.startswith("+ "), reply
    server_first = base64.b64decode(reply[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    final_bare = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join([first_bare, server_first, final_bare]).encode()
    sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    reply = r.cmd(b64(final_bare + ",p=" + b64(proof)))
    if not reply.startswith("+ "):
        return reply
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    expect = b64(hmac.new(server_key, auth_msg, hashlib.sha256).digest())
    assert base64.b64decode(reply[2:]).decode() == "v=" + expect
    return r.cmd("")


def test_auth_scram_sha_256(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    assert scram_client(r, ALICE, PASSWORDS[ALICE]).startswith("+OK Logged in")
    assert r.cmd("STAT") == "+OK 0 0"
    r.cmd("QUIT")
    assert "event=login result=ok user=alice@example.test mech=SCRAM-SHA-256" in petrel.log()


def test_auth_scram_with_a_wrong_password_fails(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    assert scram_client(r, ALICE, "wrong") == "-ERR [AUTH] Authentication failed"
    r.close()


def test_auth_over_pop3s(petrel):
    r = Raw(petrel.ports["pop3s"], tls=True)
    assert r.line().startswith("+OK")
    assert r.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, PASSWORDS[ALICE]))).startswith(
        "+OK Logged in")
    r.cmd("QUIT")


def test_auth_without_a_mechanism_lists_them(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    first, body = r.cmd_multi("AUTH")
    assert body == b"PLAIN\r\nLOGIN\r\nSCRAM-SHA-256\r\n"
    r.close()


def test_auth_cancel_bad_base64_and_unknown_mechanism(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    assert r.cmd("AUTH LOGIN") == "+ " + b64("Username:")
    assert r.cmd("*") == "-ERR Authentication cancelled"
    assert r.cmd("AUTH PLAIN") == "+ "
    assert r.cmd("not base64!") == "-ERR Cannot decode the response"
    assert r.cmd("AUTH PLAIN %%%") == "-ERR Cannot decode the initial response"
    assert r.cmd("AUTH CRAM-MD5") == "-ERR Unrecognized authentication mechanism"
    # the session is still usable
    assert r.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, PASSWORDS[ALICE]))).startswith(
        "+OK Logged in")
    r.close()


@pytest.mark.parametrize("how", ["user", "plain", "login"])
def test_bad_passwords_are_refused_slowly_and_three_failures_close(petrel, how):
    r = Raw(petrel.ports["pop3"])
    r.line()

    def attempt(password):
        if how == "user":
            r.cmd("USER " + ALICE)
            return r.cmd("PASS " + password)
        if how == "plain":
            return r.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, password)))
        r.cmd("AUTH LOGIN " + b64(ALICE))
        return r.cmd(b64(password))

    t0 = time.monotonic()
    assert attempt("nope-1") == "-ERR [AUTH] Authentication failed"
    assert time.monotonic() - t0 >= 0.2
    assert attempt("nope-2") == "-ERR [AUTH] Authentication failed"
    assert attempt("nope-3") == \
        "-ERR [AUTH] Too many authentication failures, closing connection"
    assert r.closed()
    log = petrel.log()
    assert "event=login result=fail" in log and "nope-" not in log


def test_a_throttled_peer_waits_for_its_answer_even_when_the_password_is_right(
        petrel_factory):
    p = petrel_factory({"limits": {"login_failures_free": "0"}})
    p.provision()
    p.start()
    r = Raw(p.ports["pop3"])
    r.line()
    r.cmd("USER " + ALICE)
    t0 = time.monotonic()
    assert r.cmd("PASS wrong") == "-ERR [AUTH] Authentication failed"
    assert time.monotonic() - t0 >= 0.9  # one failure over the free ones: 1 s
    r.close()
    r = Raw(p.ports["pop3"])
    r.line()
    r.cmd("USER " + ALICE)
    t0 = time.monotonic()
    assert r.cmd("PASS " + PASSWORDS[ALICE]).startswith("+OK Logged in")
    assert time.monotonic() - t0 >= 0.9  # success is not told apart by its speed
    # and the success forgave the failures
    r.cmd("QUIT")
    r = Raw(p.ports["pop3"])
    r.line()
    r.cmd("USER " + ALICE)
    t0 = time.monotonic()
    assert r.cmd("PASS " + PASSWORDS[ALICE]).startswith("+OK Logged in")
    assert time.monotonic() - t0 < 0.9
    r.cmd("QUIT")


def test_unknown_user_fails_like_a_wrong_password(petrel):
    r = Raw(petrel.ports["pop3"])
    r.line()
    assert r.cmd("USER ghost@example.test") == "+OK Send your password"
    assert r.cmd("PASS whatever") == "-ERR [AUTH] Authentication failed"
    r.close()


def test_passwords_never_reach_the_log(petrel):
    p = poplib_login(petrel)
    p.quit()
    assert PASSWORDS[ALICE] not in petrel.log()


# ---- IMAP and POP3 on one store ------------------------------------------------------------------

def imap_or_skip(petrel):
    try:
        m = imaplib.IMAP4("127.0.0.1", petrel.ports["imap"], timeout=20)
        m.login(ALICE, PASSWORDS[ALICE])
        typ, _ = m.select("INBOX")
        assert typ == "OK"
        return m
    except (imaplib.IMAP4.error, OSError, AssertionError) as e:
        pytest.skip("the IMAP server is not serving yet: %s" % e)


def test_what_pop3_deletes_is_gone_for_imap(petrel):
    fill(petrel)
    r = login(petrel)
    r.cmd("DELE 2")
    assert r.cmd("QUIT").startswith("+OK")
    m = imap_or_skip(petrel)
    typ, data = m.search(None, "ALL")
    assert typ == "OK" and len(data[0].split()) == 2
    m.logout()


def test_imap_flag_changes_keep_the_uidl_and_imap_expunges_are_gone_for_pop3(petrel):
    fill(petrel)
    p = poplib_login(petrel)
    before = p.uidl()[1]
    p.quit()
    m = imap_or_skip(petrel)
    try:
        typ, _ = m.store("1:3", "+FLAGS", "(\\Flagged)")
        assert typ == "OK"
    except imaplib.IMAP4.error as e:
        pytest.skip("IMAP STORE not available yet: %s" % e)
    p = poplib_login(petrel)
    assert p.uidl()[1] == before
    p.quit()
    m.store("1", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    p = poplib_login(petrel)
    assert [l.split()[1] for l in p.uidl()[1]] == [l.split()[1] for l in before[1:]]
    p.quit()


def test_retr_of_a_message_expunged_meanwhile_never_sends_another(petrel):
    """The newest message is expunged by IMAP while a POP3 session holds it in
    its maildrop; its blob goes, and the next delivery's bytes may take the
    same blob id. RETR must answer -ERR, not send the new message."""
    fill(petrel, n=2)
    r = login(petrel)
    m = imap_or_skip(petrel)
    m.store("2", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    deliver(petrel, message(subject="newcomer", body="Not for that session.\r\n"))
    reply = r.cmd("RETR 2")
    assert reply.startswith("-ERR") and "no longer available" in reply, reply
    assert r.cmd("TOP 2 0").startswith("-ERR")
    r.send(b"RETR 1\r\n")
    assert r.line().startswith("+OK")
    assert b"Body 0." in r.multi()
    assert r.cmd("QUIT").startswith("+OK")


def test_an_imap_session_may_run_alongside_pop3(petrel):
    fill(petrel)
    r = login(petrel)
    m = imap_or_skip(petrel)
    r.cmd("DELE 1")
    assert r.cmd("QUIT").startswith("+OK")
    m.noop()
    typ, data = m.search(None, "ALL")
    assert typ == "OK" and len(data[0].split()) == 2
    m.logout()


# ---- real clients: fetchmail and curl ---------------------------------------------------------------

def run_fetchmail(petrel, tmp, keep, ssl_port=False):
    if not shutil.which("fetchmail"):
        pytest.skip("fetchmail is not installed (scripts/deps installs it)")
    out = os.path.join(tmp, "out")
    os.makedirs(out, exist_ok=True)
    rc = os.path.join(tmp, "fetchmailrc")
    port = petrel.ports["pop3s" if ssl_port else "pop3"]
    tls = "ssl no sslcertck" if ssl_port else "no sslcertck sslproto ''"
    with open(rc, "w") as f:
        f.write('set invisible\n'
                'poll 127.0.0.1 protocol pop3 port %d uidl timeout 30\n'
                '  user "%s" there password "%s" is root here\n'
                '  %s %s\n'
                '  mda "/bin/sh -c \'cat > %s/msg.$$\'"\n' % (
                    port, ALICE, PASSWORDS[ALICE], "keep" if keep else "nokeep", tls, out))
    os.chmod(rc, stat.S_IRUSR | stat.S_IWUSR)
    env = dict(os.environ, HOME=tmp, FETCHMAILHOME=tmp)
    p = subprocess.run(["fetchmail", "-f", rc, "-i", os.path.join(tmp, "ids"), "--nodetach",
                        "--nosyslog", "-v"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    log = p.stdout.decode("utf-8", "replace")
    # 0: mail fetched, 1: no mail
    assert p.returncode in (0, 1), log
    files = sorted(os.listdir(out))
    got = []
    for name in files:
        with open(os.path.join(out, name), "rb") as f:
            got.append(f.read())
        os.unlink(os.path.join(out, name))
    return got, log


def subjects(msgs):
    return sorted(re.search(rb"Subject: (\S+)", m).group(1).decode() for m in msgs)


def test_fetchmail_keep_fetches_only_new_messages_by_uidl(petrel, tmp_path):
    tmp = str(tmp_path)
    deliver(petrel, message(subject="one"), message(subject="two"))
    got, log = run_fetchmail(petrel, tmp, keep=True)
    assert subjects(got) == ["one", "two"]
    stored = mailstore.messages(petrel, ALICE)
    for g in got:  # fetchmail hands the MDA LF line ends
        assert g.replace(b"\n", b"\r\n") in stored
    assert len(stored) == 2
    got, log = run_fetchmail(petrel, tmp, keep=True)
    assert got == [], log
    deliver(petrel, message(subject="three"))
    got, log = run_fetchmail(petrel, tmp, keep=True)
    assert subjects(got) == ["three"], log
    assert len(mailstore.messages(petrel, ALICE)) == 3


def test_fetchmail_without_keep_empties_the_maildrop(petrel, tmp_path):
    deliver(petrel, message(subject="a1"), message(subject="a2"), message(subject="a3"))
    got, log = run_fetchmail(petrel, str(tmp_path), keep=False)
    assert subjects(got) == ["a1", "a2", "a3"], log
    assert mailstore.messages(petrel, ALICE) == []
    assert mailstore.count(petrel, "tombstone") == 3
    assert petrel.cli("store", "check").out == "ok\n"


def test_fetchmail_over_pop3s(petrel, tmp_path):
    deliver(petrel, message(subject="tls1"))
    got, log = run_fetchmail(petrel, str(tmp_path), keep=False, ssl_port=True)
    assert subjects(got) == ["tls1"], log
    assert mailstore.messages(petrel, ALICE) == []


def curl(*args):
    p = subprocess.run(["curl", "-s", "-S", "--max-time", "30"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


def test_curl_pop3_lists_and_retrieves_byte_exact(petrel):
    deliver(petrel, message(subject="c1"), message(subject="c2", body=".dot\r\n..two\r\n"))
    stored = mailstore.messages(petrel, ALICE)
    url = "pop3://127.0.0.1:%d" % petrel.ports["pop3"]
    user = "%s:%s" % (ALICE, PASSWORDS[ALICE])
    listing = curl("-u", user, url + "/")
    assert listing == b"".join(b"%d %d\r\n" % (i + 1, len(m)) for i, m in enumerate(stored))
    assert curl("-u", user, url + "/2") == stored[1]
    for mech in ("PLAIN", "LOGIN"):
        assert curl("-u", user, "--login-options", "AUTH=" + mech, url + "/1") == stored[0]
    assert curl("-u", user, "--sasl-ir", "--login-options", "AUTH=PLAIN",
                url + "/1") == stored[0]


def test_curl_pop3s_and_stls(petrel):
    deliver(petrel, message(subject="s1"))
    stored = mailstore.messages(petrel, ALICE)
    user = "%s:%s" % (ALICE, PASSWORDS[ALICE])
    assert curl("-k", "-u", user, "pop3s://127.0.0.1:%d/1" % petrel.ports["pop3s"]) == stored[0]
    assert curl("-k", "--ssl-reqd", "-u", user,
                "pop3://127.0.0.1:%d/1" % petrel.ports["pop3"]) == stored[0]
    # DELE through curl's custom request, then QUIT: gone
    curl("-u", user, "-X", "DELE", "-I", "pop3://127.0.0.1:%d/1" % petrel.ports["pop3"])
    assert wait_for(lambda: mailstore.messages(petrel, ALICE) == [])
