"""The SMTP server: sessions with smtplib, raw sockets and swaks, checked in the store."""
import base64
import hashlib
import hmac
import os
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

import mailstore
from conftest import PASSWORDS

ALICE = "alice@example.test"
BOB = "bob@example.test"


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Raw:
    """A line-oriented SMTP client on a raw socket, for what smtplib will not do."""

    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            self.sock = tls_ctx().wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line.decode("utf-8", "replace")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return (line + b"\n").decode("utf-8", "replace")

    def reply(self):
        """One whole (possibly multi-line) reply, as a list of lines without CRLF."""
        lines = []
        while True:
            l = self.line()
            if not l:
                return lines
            lines.append(l.rstrip("\r\n"))
            if len(l) < 4 or l[3] != "-":
                return lines

    def code(self):
        r = self.reply()
        return r[-1][:3] if r else ""

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

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


def greet(port, tls=False):
    r = Raw(port, tls)
    assert r.code() == "220"
    assert r.cmd("EHLO client.example")[-1].startswith("250 ")
    return r


def message(subject="test", body="Hello.\r\n", extra=""):
    return ("From: Bob <bob@elsewhere.example>\r\nTo: alice@example.test\r\n"
            "Subject: %s\r\nMessage-ID: <%s@test>\r\n%s\r\n%s" % (
                subject, os.urandom(8).hex(), extra, body)).encode()


# ---- the session ---------------------------------------------------------------------

def test_greeting_and_ehlo_on_the_mx_port(petrel):
    r = Raw(petrel.ports["smtp"])
    assert r.reply() == ["220 mail.example.test ESMTP petrel"]
    ehlo = r.cmd("EHLO client.example")
    assert ehlo[0] == "250-mail.example.test Hello client.example [127.0.0.1]"
    caps = [l[4:] for l in ehlo[1:]]
    for cap in ("PIPELINING", "SIZE 52428800", "8BITMIME", "SMTPUTF8", "CHUNKING", "DSN",
                "STARTTLS", "ENHANCEDSTATUSCODES"):
        assert cap in caps
    assert not any(c.startswith("AUTH") for c in caps)
    r.close()


def test_auth_is_offered_only_under_tls_on_submission(petrel):
    r = greet(petrel.ports["submission"])
    r.send("EHLO x\r\n")
    caps = [l[4:] for l in r.reply()]
    assert "STARTTLS" in caps and not any(c.startswith("AUTH") for c in caps)
    assert r.cmd("AUTH PLAIN AGFsaWNlAHg=")[0].startswith("538 5.7.11")
    assert r.cmd("STARTTLS")[0].startswith("220 2.0.0")
    r.starttls()
    caps = [l[4:] for l in r.cmd("EHLO x")]
    assert "AUTH PLAIN LOGIN SCRAM-SHA-256" in caps and "STARTTLS" not in caps
    r.close()


def test_submissions_port_is_implicit_tls_with_auth(petrel):
    r = Raw(petrel.ports["submissions"], tls=True)
    assert r.code() == "220"
    caps = [l[4:] for l in r.cmd("EHLO x")]
    assert "AUTH PLAIN LOGIN SCRAM-SHA-256" in caps and "STARTTLS" not in caps
    r.close()


@pytest.mark.parametrize("line,code", [
    ("FOO", "500 5.5.1"),
    ("MAIL FROM:<a@b.example>", "503 5.5.1"),  # before EHLO
    ("EHLO", "501 5.5.4"),
    ("EXPN staff", "502 5.5.1"),
    ("VRFY alice@example.test", "252 2.5.0"),
    ("VRFY nobody@example.test", "252 2.5.0"),
    ("NOOP", "250 2.0.0"),
    ("RSET", "250 2.0.0"),
    ("HELP", "214 2.0.0"),
    ("DATA extra", "501 5.5.4"),
    ("MAIL FROM:<bad\x00nul@x.example>", "501 5.5.4"),
])
def test_command_replies_have_codes_and_enhanced_codes(petrel, line, code):
    r = Raw(petrel.ports["smtp"])
    r.code()
    assert r.cmd(line)[-1].startswith(code)
    assert r.cmd("QUIT") == ["221 2.0.0 mail.example.test Bye"]
    assert r.closed()


def test_bad_sequences_get_503(petrel):
    r = greet(petrel.ports["smtp"])
    assert r.cmd("RCPT TO:<alice@example.test>")[0].startswith("503 5.5.1")
    assert r.cmd("DATA")[0].startswith("503 5.5.1")
    assert r.cmd("MAIL FROM:<x@y.example>")[0].startswith("250")
    assert r.cmd("MAIL FROM:<x@y.example>")[0].startswith("503 5.5.1")
    assert r.cmd("DATA")[0].startswith("503 5.5.1")
    assert r.cmd("RCPT TO:<nobody@example.test>")[0].startswith("550 5.1.1")
    assert r.cmd("DATA")[0].startswith("554 5.5.1")  # no valid recipients
    r.close()


def test_too_many_errors_end_the_session_with_421(petrel):
    r = greet(petrel.ports["smtp"])
    for i in range(9):
        assert r.cmd("BOGUS%d" % i)[0].startswith("500")
    assert r.cmd("BOGUS9")[0].startswith("500")
    assert r.reply()[0].startswith("421 4.7.0")
    assert r.closed()


def test_an_overlong_line_is_refused_and_the_session_goes_on(petrel):
    r = greet(petrel.ports["smtp"])
    r.send("NOOP " + "x" * 10000 + "\r\n")
    assert r.reply()[0].startswith("500 5.5.2")
    assert r.cmd("NOOP")[0].startswith("250")
    r.close()


# ---- delivery ------------------------------------------------------------------------------

def test_message_is_stored_byte_for_byte_with_trace_headers(petrel):
    msg = message(body="line one\r\n.starts with a dot\r\n..two dots\r\nlast\r\n")
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        s.ehlo("client.example")
        s.sendmail("bob@elsewhere.example", [ALICE], msg)
    stored = mailstore.messages(petrel, ALICE)
    assert len(stored) == 1
    assert mailstore.body_of(stored[0]) == msg
    head = stored[0].split(b"\r\n\r\n")[0]
    assert head.startswith(b"Return-Path: <bob@elsewhere.example>\r\nReceived: from "
                           b"client.example ([127.0.0.1])\r\n\tby mail.example.test (petrel) "
                           b"with ESMTP id ")
    assert b"\tfor <alice@example.test>;\r\n" in head
    assert petrel.cli("store", "check").out == "ok\n"


def test_one_blob_for_many_recipients(petrel):
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        s.sendmail("x@elsewhere.example", [ALICE, BOB], message())
    assert len(mailstore.messages(petrel, ALICE)) == 1
    assert len(mailstore.messages(petrel, BOB)) == 1
    assert mailstore.count(petrel, "blob") == 1
    assert mailstore.messages(petrel, ALICE) == mailstore.messages(petrel, BOB)


def test_pipelined_transaction_in_one_write_gets_replies_in_order(petrel):
    r = Raw(petrel.ports["smtp"])
    r.code()
    body = message()
    r.send(b"EHLO client.example\r\nMAIL FROM:<p@elsewhere.example>\r\n"
           b"RCPT TO:<alice@example.test>\r\nRCPT TO:<ghost@example.test>\r\n"
           b"RCPT TO:<bob@example.test>\r\nDATA\r\n" + body + b".\r\nQUIT\r\n")
    codes = [r.reply()[-1][:9] for _ in range(7)]
    assert codes == ["250 ENHAN", "250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5",
                     "354 End d", "250 2.0.0"]
    assert r.reply()[0].startswith("221")
    assert mailstore.body_of(mailstore.messages(petrel, ALICE)[0]) == body
    assert mailstore.body_of(mailstore.messages(petrel, BOB)[0]) == body


def test_two_messages_in_one_session(petrel):
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        for i in range(2):
            s.sendmail("x@elsewhere.example", [ALICE], message(subject="n%d" % i))
    stored = mailstore.messages(petrel, ALICE)
    assert [b"Subject: n0" in stored[0], b"Subject: n1" in stored[1]] == [True, True]


@pytest.mark.parametrize("variant", [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n"])
def test_smuggling_variants_never_end_data(petrel, variant):
    r = greet(petrel.ports["smtp"])
    assert r.cmd("MAIL FROM:<x@elsewhere.example>")[0].startswith("250")
    assert r.cmd("RCPT TO:<alice@example.test>")[0].startswith("250")
    assert r.cmd("DATA")[0].startswith("354")
    smuggled = (b"MAIL FROM:<evil@elsewhere.example>\r\nRCPT TO:<bob@example.test>\r\n"
                b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n")
    r.send(b"Subject: x\r\n\r\nbody" + variant + smuggled + b".\r\n")
    reply = r.reply()
    assert reply[0].startswith("550 5.6.0"), reply
    # exactly one reply: the smuggled commands were message text, never executed
    assert r.cmd("NOOP")[0].startswith("250 2.0.0")
    assert mailstore.messages(petrel, ALICE) == []
    assert mailstore.messages(petrel, BOB) == []


def test_bare_lf_inside_a_message_rejects_it(petrel):
    r = greet(petrel.ports["smtp"])
    r.cmd("MAIL FROM:<x@elsewhere.example>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.send(b"Subject: x\r\n\r\nline\nanother\r\n.\r\n")
    assert r.reply()[0].startswith("550 5.6.0")
    assert mailstore.messages(petrel, ALICE) == []


def test_client_vanishing_mid_data_stores_nothing(petrel):
    r = greet(petrel.ports["smtp"])
    r.cmd("MAIL FROM:<x@elsewhere.example>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.send(b"Subject: partial\r\n\r\nhalf a message")
    r.close()
    time.sleep(0.3)
    assert mailstore.messages(petrel, ALICE) == []
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        assert s.noop()[0] == 250


def test_empty_message_is_accepted(petrel):
    r = greet(petrel.ports["smtp"])
    r.cmd("MAIL FROM:<>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.send(".\r\n")
    assert r.reply()[0].startswith("250 2.0.0")
    stored = mailstore.messages(petrel, ALICE)
    assert stored[0].startswith(b"Return-Path: <>\r\n")
    assert mailstore.body_of(stored[0]) == b""


# ---- recipients and relaying ---------------------------------------------------------------

@pytest.mark.parametrize("rcpt,code", [
    ("<someone@elsewhere.example>", "554 5.7.1"),
    ("<alice%elsewhere.example@example.test>", "550 5.1.1"),
    ("<@example.test:someone@elsewhere.example>", "554 5.7.1"),
    ("<@example.test,@b.example:someone@elsewhere.example>", "554 5.7.1"),
    ('<"someone@elsewhere.example"@example.test>', "550 5.1.1"),
    ("<someone@[127.0.0.1]>", "554 5.7.1"),
    ("<someone@[IPv6:::1]>", "554 5.7.1"),
    ("<alice@example.test.elsewhere.example>", "554 5.7.1"),
    ("<ghost@example.test>", "550 5.1.1"),
    ("<>", "501 5.1.3"),
    ("alice@example.test", "501 5.5.4"),
])
def test_no_open_relay_on_the_mx_port(petrel, rcpt, code):
    r = greet(petrel.ports["smtp"])
    assert r.cmd("MAIL FROM:<x@elsewhere.example>")[0].startswith("250")
    reply = r.cmd("RCPT TO:" + rcpt)
    assert reply[0].startswith(code), reply
    r.close()
    assert mailstore.queue(petrel) == []


def test_aliases_catch_all_and_subaddressing(petrel):
    petrel.cli("alias", "add", "team@example.test", ALICE, BOB)
    petrel.cli("alias", "add", "@example.test", BOB)
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        s.sendmail("x@elsewhere.example", ["team@example.test"], message(subject="team"))
        s.sendmail("x@elsewhere.example", ["whoever@example.test"], message(subject="catch"))
        s.sendmail("x@elsewhere.example", ["alice+news@example.test"], message(subject="plus"))
        s.sendmail("x@elsewhere.example", ["Alice+Archive@Example.TEST"],
                   message(subject="folder"))
    alice = mailstore.messages(petrel, ALICE)
    bob = mailstore.messages(petrel, BOB)
    assert [b"Subject: team" in m for m in alice] == [True, False]
    assert b"Subject: plus" in alice[1]
    assert [b"Subject: team" in bob[0], b"Subject: catch" in bob[1]] == [True, True]
    archive = mailstore.messages(petrel, ALICE, "Archive")
    assert len(archive) == 1 and b"Subject: folder" in archive[0]


def test_alias_to_a_foreign_address_is_queued(petrel):
    petrel.cli("alias", "add", "fwd@example.test", "friend@elsewhere.example")
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        s.sendmail("x@elsewhere.example", ["fwd@example.test"], message())
    q = mailstore.queue(petrel)
    # the queue runner may already have tried (and deferred: tests resolve nothing)
    assert [(row[1], row[2] in ("queued", "deferred"), row[7]) for row in q] == [
        ("friend@elsewhere.example", True, "smtp")]
    assert petrel.cli("store", "check").out == "ok\n"


def test_recipient_limit_answers_452(petrel_factory):
    p = petrel_factory({"smtp": {"max_recipients": "2"}})
    p.provision()
    p.start()
    p.cli("alias", "add", "@example.test", ALICE)
    r = greet(p.ports["smtp"])
    r.cmd("MAIL FROM:<x@elsewhere.example>")
    assert r.cmd("RCPT TO:<a1@example.test>")[0].startswith("250")
    assert r.cmd("RCPT TO:<a2@example.test>")[0].startswith("250")
    assert r.cmd("RCPT TO:<a3@example.test>")[0].startswith("452 4.5.3")
    r.close()


# ---- size ------------------------------------------------------------------------------------

@pytest.fixture
def small(petrel_factory):
    p = petrel_factory({"smtp": {"max_message_size": "16K"}})
    p.provision()
    p.start()
    return p


def test_size_over_the_limit_is_refused_at_mail(small):
    r = greet(small.ports["smtp"])
    assert "SIZE 16384" in [l[4:] for l in r.cmd("EHLO x")]
    assert r.cmd("MAIL FROM:<x@elsewhere.example> SIZE=16385")[0].startswith("552 5.3.4")
    assert r.cmd("MAIL FROM:<x@elsewhere.example> SIZE=100")[0].startswith("250")
    r.close()


def test_message_growing_over_the_limit_is_refused_at_end_of_data(small):
    r = greet(small.ports["smtp"])
    r.cmd("MAIL FROM:<x@elsewhere.example> SIZE=100")
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.send(b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 20 + b".\r\n")
    assert r.reply()[0].startswith("552 5.3.4")
    assert r.cmd("NOOP")[0].startswith("250")
    assert mailstore.messages(small, ALICE) == []


def test_message_of_exactly_the_limit_is_accepted(small):
    body = b"Subject: fits\r\n\r\n"
    body += b"y" * (16384 - len(body) - 2) + b"\r\n"
    assert len(body) == 16384
    r = greet(small.ports["smtp"])
    r.cmd("MAIL FROM:<x@elsewhere.example>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.send(body + b".\r\n")
    assert r.reply()[0].startswith("250 2.0.0")
    assert mailstore.body_of(mailstore.messages(small, ALICE)[0]) == body


# ---- BDAT ------------------------------------------------------------------------------------

def test_bdat_chunks_are_stored_byte_for_byte(petrel):
    msg = message(body="binary-ish\r\n.line with dot\r\n")
    r = greet(petrel.ports["smtp"])
    r.cmd("MAIL FROM:<x@elsewhere.example>")
    r.cmd("RCPT TO:<alice@example.test>")
    half = len(msg) // 2
    r.send(b"BDAT %d\r\n" % half + msg[:half])
    assert r.reply()[0] == "250 2.0.0 %d octets received" % half
    r.send(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
    assert r.reply()[0].startswith("250 2.0.0 Ok")
    assert mailstore.body_of(mailstore.messages(petrel, ALICE)[0]) == msg


def test_bdat_zero_last_ends_the_message(petrel):
    msg = message()
    r = greet(petrel.ports["smtp"])
    r.cmd("MAIL FROM:<x@elsewhere.example>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.send(b"BDAT %d\r\n" % len(msg) + msg + b"BDAT 0 LAST\r\n")
    assert r.reply()[0].startswith("250 2.0.0 %d" % len(msg))
    assert r.reply()[0].startswith("250 2.0.0 Ok")
    assert mailstore.body_of(mailstore.messages(petrel, ALICE)[0]) == msg


def test_bdat_without_recipients_is_refused_and_its_chunk_skipped(petrel):
    r = greet(petrel.ports["smtp"])
    r.send(b"BDAT 12 LAST\r\nRSET\r\nRSET\r\n")  # the chunk looks like commands
    assert r.reply()[0].startswith("503 5.5.1")
    assert r.cmd("NOOP")[0].startswith("250")  # the chunk was not executed
    r.close()


def test_data_after_bdat_is_a_sequence_error(petrel):
    r = greet(petrel.ports["smtp"])
    r.cmd("MAIL FROM:<x@elsewhere.example>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.send(b"BDAT 3\r\nabc")
    assert r.reply()[0].startswith("250")
    assert r.cmd("DATA")[0].startswith("503 5.5.1")
    r.close()


def test_bdat_over_the_size_limit_is_refused(small):
    r = greet(small.ports["smtp"])
    r.cmd("MAIL FROM:<x@elsewhere.example>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.send(b"BDAT 20000 LAST\r\n" + b"z" * 20000)
    assert r.reply()[0].startswith("552 5.3.4")
    assert r.cmd("NOOP")[0].startswith("250")
    assert mailstore.messages(small, ALICE) == []


def test_bdat_with_a_bad_size_closes_the_session(petrel):
    r = greet(petrel.ports["smtp"])
    assert r.cmd("BDAT lots")[0].startswith("501 5.5.4")
    assert r.closed()


# ---- UTF-8 -------------------------------------------------------------------------------------

def test_smtputf8_addresses_and_headers(petrel):
    petrel.cli("user", "add", "jösé@example.test", "--password-stdin", input="pw-j\n")
    msg = "From: Jörg <jörg@elsewhere.example>\r\nSubject: Grüße\r\n\r\nÄpfel\r\n".encode()
    r = greet(petrel.ports["smtp"])
    assert r.cmd("MAIL FROM:<jörg@elsewhere.example>")[0].startswith("553 5.6.7")
    assert r.cmd("MAIL FROM:<jörg@elsewhere.example> SMTPUTF8 BODY=8BITMIME")[0].startswith(
        "250")
    assert r.cmd("RCPT TO:<jösé@example.test>")[0].startswith("250")
    r.cmd("DATA")
    r.send(msg + b".\r\n")
    assert r.reply()[0].startswith("250 2.0.0")
    stored = mailstore.messages(petrel, "jösé@example.test")
    assert mailstore.body_of(stored[0]) == msg
    assert b"with UTF8SMTP id" in stored[0]


def test_invalid_utf8_address_is_refused(petrel):
    r = greet(petrel.ports["smtp"])
    r.send(b"MAIL FROM:<j\xc3\x28@elsewhere.example> SMTPUTF8\r\n")
    assert r.reply()[0].startswith("501 5.1.7")
    r.close()


# ---- AUTH and submission -----------------------------------------------------------------------

def submit(petrel, user=ALICE, password=None, port="submission"):
    s = smtplib.SMTP("127.0.0.1", petrel.ports[port]) if port == "submission" else \
        smtplib.SMTP_SSL("127.0.0.1", petrel.ports[port], context=tls_ctx())
    s.ehlo("laptop.example")
    if port == "submission":
        s.starttls(context=tls_ctx())
        s.ehlo("laptop.example")
    s.login(user, password or PASSWORDS[user])
    return s


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_auth_plain_and_login_then_send_to_a_remote_recipient(petrel, mech):
    s = smtplib.SMTP("127.0.0.1", petrel.ports["submission"])
    s.starttls(context=tls_ctx())
    s.ehlo("laptop.example")
    s.user, s.password = ALICE, PASSWORDS[ALICE]
    code, _ = s.auth(mech, getattr(s, "auth_" + mech.lower()))
    assert code == 235
    s.sendmail(ALICE, ["friend@elsewhere.example", BOB], message())
    s.quit()
    assert [(q[0], q[1], q[7]) for q in mailstore.queue(petrel)] == [
        (ALICE, "friend@elsewhere.example", "submission")]
    stored = mailstore.messages(petrel, BOB)
    assert b"with ESMTPSA id" in stored[0] and b"(authenticated as alice@example.test)" in \
        stored[0]
    assert b"cipher=" in stored[0]
    assert PASSWORDS[ALICE].encode() not in stored[0]
    assert PASSWORDS[ALICE] not in petrel.log()


def scram_client(r, user, password):
    """A SCRAM-SHA-256 client exchange over a Raw connection; returns the final reply."""
    cnonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=%s,r=%s" % (user, cnonce)
    reply = r.cmd("AUTH SCRAM-SHA-256 " + base64.b64encode(("n,," + first_bare).encode()
                                                           ).decode())
    assert reply[0].startswith("334 "), reply
    server_first = base64.b64decode(reply[0][4:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    final_bare = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join([first_bare, server_first, final_bare]).encode()
    sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    reply = r.cmd(base64.b64encode((final_bare + ",p=" + base64.b64encode(proof).decode()
                                    ).encode()).decode())
    if not reply[0].startswith("334 "):
        return reply
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    expect = base64.b64encode(hmac.new(server_key, auth_msg, hashlib.sha256).digest()).decode()
    assert base64.b64decode(reply[0][4:]).decode() == "v=" + expect
    return r.cmd("")


def test_auth_scram_sha_256(petrel):
    r = Raw(petrel.ports["submissions"], tls=True)
    r.code()
    r.cmd("EHLO x")
    assert scram_client(r, ALICE, PASSWORDS[ALICE])[0].startswith("235 2.7.0")
    assert r.cmd("MAIL FROM:<alice@example.test>")[0].startswith("250")
    r.close()


def test_auth_scram_with_a_wrong_password_fails(petrel):
    r = Raw(petrel.ports["submissions"], tls=True)
    r.code()
    r.cmd("EHLO x")
    assert scram_client(r, ALICE, "wrong")[0].startswith("535 5.7.8")
    r.close()


def test_bad_password_is_refused_slowly_and_three_failures_close(petrel):
    r = Raw(petrel.ports["submissions"], tls=True)
    r.code()
    r.cmd("EHLO x")
    bad = base64.b64encode(b"\x00alice@example.test\x00nope").decode()
    t0 = time.monotonic()
    assert r.cmd("AUTH PLAIN " + bad)[0].startswith("535 5.7.8")
    assert time.monotonic() - t0 >= 0.2
    assert r.cmd("AUTH PLAIN " + bad)[0].startswith("535 5.7.8")
    assert r.cmd("AUTH PLAIN " + bad)[0].startswith("421 4.7.0")
    assert r.closed()
    assert "event=auth result=fail" in petrel.log() and "nope" not in petrel.log()


def test_unknown_user_fails_like_a_wrong_password(petrel):
    r = Raw(petrel.ports["submissions"], tls=True)
    r.code()
    r.cmd("EHLO x")
    bad = base64.b64encode(b"\x00ghost@example.test\x00whatever").decode()
    assert r.cmd("AUTH PLAIN " + bad)[0].startswith("535 5.7.8")
    r.close()


def test_auth_cancel_and_bad_base64(petrel):
    r = Raw(petrel.ports["submissions"], tls=True)
    r.code()
    r.cmd("EHLO x")
    assert r.cmd("AUTH LOGIN")[0] == "334 VXNlcm5hbWU6"
    assert r.cmd("*")[0].startswith("501 5.0.0")
    assert r.cmd("AUTH PLAIN !!!")[0].startswith("501 5.5.2")
    assert r.cmd("AUTH CRAM-MD5")[0].startswith("504 5.5.4")
    r.close()


def test_auth_on_the_mx_port_is_refused(petrel):
    r = greet(petrel.ports["smtp"])
    assert r.cmd("AUTH PLAIN AGFsaWNlAHg=")[0].startswith("503 5.5.1")
    r.close()


def test_submission_requires_auth(petrel):
    r = greet(petrel.ports["submission"])
    r.cmd("STARTTLS")
    r.starttls()
    r.cmd("EHLO x")
    assert r.cmd("MAIL FROM:<alice@example.test>")[0].startswith("530 5.7.0")
    r.close()


def test_sender_must_be_owned_by_the_authenticated_account(petrel):
    petrel.cli("alias", "add", "sales@example.test", ALICE)
    with submit(petrel) as s:
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail(BOB, [BOB], message())
        assert e.value.smtp_code == 553
        s.rset()
        s.sendmail("sales@example.test", [BOB], message(subject="from alias"))
        s.sendmail("Alice@Example.Test", [BOB], message(subject="case"))
    assert len(mailstore.messages(petrel, BOB)) == 2


def test_dsn_parameters_are_stored_with_the_queue_entry(petrel):
    r = Raw(petrel.ports["submissions"], tls=True)
    r.code()
    r.cmd("EHLO x")
    plain = base64.b64encode(b"\x00alice@example.test\x00" + PASSWORDS[ALICE].encode())
    assert r.cmd("AUTH PLAIN " + plain.decode())[0].startswith("235")
    assert r.cmd("MAIL FROM:<alice@example.test> RET=HDRS ENVID=abc+2Bdef")[0].startswith("250")
    assert r.cmd("RCPT TO:<friend@elsewhere.example> NOTIFY=SUCCESS,FAILURE "
                 "ORCPT=rfc822;friend+2Bx@elsewhere.example")[0].startswith("250")
    assert r.cmd("RCPT TO:<other@elsewhere.example> NOTIFY=BOGUS")[0].startswith("501")
    r.cmd("DATA")
    r.send(message() + b".\r\n")
    assert r.reply()[0].startswith("250 2.0.0")
    q = mailstore.queue(petrel)
    assert q[0][2] in ("queued", "deferred")  # deferred once the runner has tried
    assert [row[:2] + row[3:] for row in q] == [
        (ALICE, "friend@elsewhere.example", "SUCCESS,FAILURE",
         "rfc822;friend+x@elsewhere.example", "HDRS", "abc+def", "submission")]


# ---- STARTTLS ----------------------------------------------------------------------------------

def test_starttls_injection_is_discarded(petrel):
    r = greet(petrel.ports["smtp"])
    r.send("STARTTLS\r\nMAIL FROM:<injected@elsewhere.example>\r\n")
    assert r.reply()[0].startswith("220 2.0.0")
    r.starttls()
    ehlo = r.cmd("EHLO x")
    assert ehlo[0].startswith("250-mail.example.test"), ehlo  # not a reply to the injection
    assert r.cmd("MAIL FROM:<x@elsewhere.example>")[0].startswith("250 2.1.0")  # no nesting
    r.close()


def test_a_fresh_ehlo_is_needed_after_starttls(petrel):
    r = greet(petrel.ports["smtp"])
    r.cmd("STARTTLS")
    r.starttls()
    assert r.cmd("MAIL FROM:<x@elsewhere.example>")[0].startswith("503 5.5.1")
    assert r.cmd("STARTTLS")[0].startswith("503")  # already TLS... after EHLO it is 503 too
    r.close()


def test_received_header_names_tls_version_and_cipher(petrel):
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        s.starttls(context=tls_ctx())
        s.sendmail("x@elsewhere.example", [ALICE], message())
    stored = mailstore.messages(petrel, ALICE)[0]
    assert b"with ESMTPS id" in stored and b"(version=TLSv1." in stored


# ---- real clients --------------------------------------------------------------------------------

def swaks(*args):
    return subprocess.run(["swaks", "--hide-informational"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=60)


def test_swaks_delivers_to_the_mx_port(petrel):
    p = swaks("--server", "127.0.0.1:%d" % petrel.ports["smtp"], "--to", ALICE, "--from",
              "sender@elsewhere.example", "--h-Subject", "via swaks", "--body", "swaks body")
    assert p.returncode == 0, p.stdout.decode()
    stored = mailstore.messages(petrel, ALICE)
    assert b"Subject: via swaks" in stored[0] and b"swaks body" in stored[0]


def test_swaks_submission_with_starttls_and_auth(petrel):
    p = swaks("--server", "127.0.0.1:%d" % petrel.ports["submission"], "-tls", "--auth", "LOGIN",
              "--auth-user", BOB, "--auth-password", PASSWORDS[BOB], "--from", BOB, "--to",
              ALICE + ",remote@elsewhere.example", "--h-Subject", "submitted")
    assert p.returncode == 0, p.stdout.decode()
    assert b"Subject: submitted" in mailstore.messages(petrel, ALICE)[0]
    assert [q[1] for q in mailstore.queue(petrel)] == ["remote@elsewhere.example"]


def test_swaks_pipelining_and_chunking(petrel):
    p = swaks("--server", "127.0.0.1:%d" % petrel.ports["smtp"], "--pipeline", "--to",
              ALICE + "," + BOB, "--from", "s@elsewhere.example")
    assert p.returncode == 0, p.stdout.decode()
    assert len(mailstore.messages(petrel, ALICE)) == 1
    assert len(mailstore.messages(petrel, BOB)) == 1


def test_stalled_data_times_out_and_stores_nothing(petrel_factory):
    p = petrel_factory({"smtp": {"data_timeout": "1s"}})
    p.provision()
    p.start()
    r = greet(p.ports["smtp"])
    r.cmd("MAIL FROM:<x@elsewhere.example>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.send(b"Subject: slow\r\n\r\nhalf")
    t0 = time.monotonic()
    assert r.reply()[0].startswith("421 4.4.2")
    assert time.monotonic() - t0 < 5
    assert r.closed()
    assert mailstore.messages(p, ALICE) == []
