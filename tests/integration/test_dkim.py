"""DKIM signing: keys made with `petrel dkim`, mail submitted over SMTP submission and
the HTTP API to a remote domain routed to an aiosmtpd sink, and the received message
verified with dkimpy (Debian's python3-dkim) against the DNS records the CLI printed.
Also: what is not signed (no key, mail received on the MX port), what breaks a
signature (a changed body or field, a second From), and that a retried delivery sends
the signature made at submission."""
import base64
import json
import re
import smtplib
import socket
import ssl
import time

import dkim
import pytest
from aiosmtpd.controller import Controller

import mailstore
from conftest import PASSWORDS

ALICE = "alice@example.test"
REMOTE = "bob@remote.example"


class Sink:
    """An SMTP server on 127.0.0.1; data_replies are the answers to the end of data, in
    turn (the last one repeats)."""

    def __init__(self, port):
        self.messages = []
        self.data_replies = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        reply = (self.data_replies.pop(0) if len(self.data_replies) > 1 else
                 self.data_replies[0]) if self.data_replies else "250 2.0.0 OK"
        if reply.startswith("250"):
            self.messages.append(envelope.original_content)
        return reply


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sink():
    s = Sink(free_port())
    yield s
    s.controller.stop()


@pytest.fixture
def p(petrel_factory, sink):
    """A server whose mail for remote.example goes to the sink."""
    srv = petrel_factory({
        "routes": {"remote.example": "[127.0.0.1]:%d" % sink.controller.port},
        "queue": {"retry": "1s"},
    })
    srv.provision()
    srv.start()
    return srv


# ---- keys and DNS ------------------------------------------------------------------------

RECORD = re.compile(r'^(\S+)\. IN TXT((?: "[^"]*")+)$')


def parse_record(line):
    """(name, text) of a record line printed by the CLI, its strings joined."""
    m = RECORD.match(line)
    assert m, line
    strings = re.findall(r'"([^"]*)"', m.group(2))
    assert all(len(s) <= 255 for s in strings)
    return m.group(1), "".join(strings)


class Dns:
    def __init__(self):
        self.txt = {}

    def add(self, out):
        for line in out.splitlines():
            name, text = parse_record(line)
            self.txt[name.lower() + "."] = text.encode()

    def __call__(self, name, timeout=5):
        return self.txt.get(name.decode().lower())


def generate(p, dns, domain="example.test", *opts):
    r = p.cli("dkim", "generate", domain, *opts)
    assert len(r.out.splitlines()) == 1, r.out
    dns.add(r.out)
    return parse_record(r.out.strip())


# ---- sending -----------------------------------------------------------------------------

def message(frm="Alice <alice@example.test>", to=REMOTE, extra="", body="Hello,\r\n\r\n"
            "  a line  with\tspaces   \r\n\r\nbye\r\n\r\n\r\n"):
    return ("From: %s\r\nTo: %s\r\nCc: Carol <carol@remote.example>\r\n"
            "Subject: dkim test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            "Message-ID: <%d@example.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain;\r\n charset=utf-8\r\n%s\r\n%s"
            % (frm, to, time.monotonic_ns(), extra, body)).encode()


def submit(p, msg, rcpts=(REMOTE,), sender=ALICE):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", p.ports["submission"]) as s:
        s.starttls(context=ctx)
        s.login(ALICE, PASSWORDS[ALICE])
        s.sendmail(sender, list(rcpts), msg)


def api_key(p):
    return p.cli("apikey", "create", "dkim-test").out.strip()


def api(p, key, path, body):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", p.ports["http"], timeout=20)
    try:
        c.request("POST", path, body=json.dumps(body),
                  headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def received(sink, n=1, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(sink.messages) < n:
        time.sleep(0.05)
    assert len(sink.messages) >= n, "the sink got %d messages" % len(sink.messages)
    return sink.messages[n - 1]


# ---- checking --------------------------------------------------------------------------

def signatures(msg):
    """The tags of each DKIM-Signature field, top first."""
    head = msg.split(b"\r\n\r\n", 1)[0]
    fields = re.findall(rb"(?im)^DKIM-Signature:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head)
    out = []
    for f in fields:
        text = re.sub(rb"\s+", b"", f).decode()
        out.append(dict(t.split("=", 1) for t in text.split(";") if t))
    return out


def verify_all(msg, dns):
    """dkimpy's verdict on each signature, top first."""
    out = []
    for i in range(len(signatures(msg))):
        try:
            out.append(dkim.DKIM(msg).verify(idx=i, dnsfunc=dns))
        except dkim.ValidationError:
            out.append(False)
    return out


# ---- the CLI -------------------------------------------------------------------------------

def test_keys_are_generated_listed_shown_and_removed(petrel):
    month = time.strftime("%Y%m", time.gmtime())
    dns = Dns()
    name, text = generate(petrel, dns)
    assert name == "rsa-%s._domainkey.example.test" % month
    assert text.startswith("v=DKIM1; k=rsa; p=MIIB")
    # an RSA-2048 record is longer than one TXT string
    rec = petrel.cli("dkim", "show", "example.test").out
    assert rec.count('" "') >= 1
    name, text = generate(petrel, dns, "example.test", "--algorithm", "ed25519")
    assert name == "ed25519-%s._domainkey.example.test" % month
    assert re.fullmatch(r"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=", text)
    generate(petrel, dns, "EXAMPLE.test", "--selector", "next.rsa")
    listed = petrel.cli("dkim", "list").out.splitlines()
    assert [line.split("\t")[1:3] for line in listed] == [
        ["next.rsa", "rsa"], ["ed25519-%s" % month, "ed25519"], ["rsa-%s" % month, "rsa"]]
    assert [line.split("\t")[-1] for line in listed] == ["signing", "signing", "standby"]
    shown = petrel.cli("dkim", "show", "example.test").out.splitlines()
    assert sorted(parse_record(line)[0] + "." for line in shown) == sorted(dns.txt)
    # the same selector twice, a foreign domain, bad selectors and algorithms
    r = petrel.cli("dkim", "generate", "example.test", "--selector", "next.rsa", check=False)
    assert r.returncode == 1 and "next.rsa" in r.err
    r = petrel.cli("dkim", "generate", "nowhere.example", check=False)
    assert r.returncode == 1 and "not a local domain" in r.err
    for bad in ("-x", "a..b", "a b", "x" * 64, "a_b"):
        assert petrel.cli("dkim", "generate", "example.test", "--selector", bad,
                          check=False).returncode in (1, 2)
    assert petrel.cli("dkim", "generate", "example.test", "--algorithm", "dsa",
                      check=False).returncode == 1
    petrel.cli("dkim", "remove", "example.test", "next.rsa")
    r = petrel.cli("dkim", "remove", "example.test", "next.rsa", check=False)
    assert r.returncode == 1 and "no key" in r.err
    assert len(petrel.cli("dkim", "list", "example.test").out.splitlines()) == 2
    assert petrel.cli("dkim", "show", "nowhere.example", check=False).returncode == 1
    assert petrel.cli("dkim", "list", "a", "b", check=False).returncode == 2


# ---- signing -------------------------------------------------------------------------------

def test_submission_is_signed_with_rsa_and_ed25519(p, sink):
    dns = Dns()
    generate(p, dns)
    generate(p, dns, "example.test", "--algorithm", "ed25519")
    sent = message()
    submit(p, sent, rcpts=[REMOTE, "carol@remote.example"])
    got = received(sink)
    sigs = signatures(got)
    assert sorted(s["a"] for s in sigs) == ["ed25519-sha256", "rsa-sha256"]
    for s in sigs:
        assert s["d"] == "example.test" and s["c"] == "relaxed/relaxed"
        h = s["h"].split(":")
        # each field present, From once more; never a trace field
        assert sorted(h) == sorted(["from", "from", "to", "cc", "subject", "date",
                                    "message-id", "mime-version", "content-type"])
    assert verify_all(got, dns) == [True, True]
    # signed once, at submission: what the sink got is what the queue kept
    assert got.endswith(sent)


def test_a_domain_with_one_key_gets_one_signature(p, sink):
    dns = Dns()
    generate(p, dns, "example.test", "--algorithm", "ed25519")
    submit(p, message())
    got = received(sink)
    assert [s["a"] for s in signatures(got)] == ["ed25519-sha256"]
    assert dkim.verify(got, dnsfunc=dns)


def test_http_api_sends_are_signed(p, sink):
    dns = Dns()
    generate(p, dns)
    generate(p, dns, "example.test", "--algorithm", "ed25519")
    key = api_key(p)
    status, body = api(p, key, "/v1/messages", {
        "from": "Alice <alice@example.test>", "to": [REMOTE], "subject": "via the API",
        "text": "Hello from the API.\n", "headers": {"List-Unsubscribe": "<mailto:u@example.test>"}})
    assert status == 202, body
    got = received(sink, 1)
    sigs = signatures(got)
    assert len(sigs) == 2 and "list-unsubscribe" in sigs[0]["h"].split(":")
    assert verify_all(got, dns) == [True, True]
    raw = message(extra="List-Id: <news.example.test>\r\n")
    status, body = api(p, key, "/v1/messages/raw", {
        "from": ALICE, "to": [REMOTE], "raw": base64.b64encode(raw).decode()})
    assert status == 202, body
    got = received(sink, 2)
    assert "list-id" in signatures(got)[0]["h"].split(":")
    assert verify_all(got, dns) == [True, True]
    assert got.endswith(raw)


def test_a_changed_message_fails_verification(p, sink):
    dns = Dns()
    generate(p, dns)
    generate(p, dns, "example.test", "--algorithm", "ed25519")
    submit(p, message())
    got = received(sink)
    assert verify_all(got, dns) == [True, True]
    body = got.replace(b"bye\r\n", b"bye!\r\n")
    assert verify_all(body, dns) == [False, False]
    subject = got.replace(b"Subject: dkim test", b"Subject: dkim test!")
    assert verify_all(subject, dns) == [False, False]
    # relaxed: whitespace changes and trailing empty lines do not matter
    ws = got.replace(b"a line  with", b"a line with").replace(b"Subject: dkim",
                                                               b"Subject:  dkim")
    assert verify_all(ws + b"\r\n", dns) == [True, True]
    # From is over-signed: a second From breaks the signature
    head, rest = got.split(b"\r\n\r\n", 1)
    two = head + b"\r\nFrom: Mallory <m@evil.example>\r\n\r\n" + rest
    assert verify_all(two, dns) == [False, False]


def test_the_signing_domain_is_the_from_domain_else_the_senders(p, sink):
    dns = Dns()
    p.cli("domain", "add", "brand.test")
    generate(p, dns, "brand.test", "--algorithm", "ed25519")
    # From a local domain with a key: it signs, whatever the envelope
    submit(p, message(frm="News <news@brand.test>"))
    got = received(sink, 1)
    assert [s["d"] for s in signatures(got)] == ["brand.test"]
    assert dkim.verify(got, dnsfunc=dns)
    # From a domain without a key, envelope in a domain without one: unsigned
    submit(p, message())
    assert signatures(received(sink, 2)) == []
    # the envelope's domain has a key, From's domain none: the envelope's signs
    generate(p, dns, "example.test")
    submit(p, message(frm="Someone <someone@elsewhere.example>"))
    got = received(sink, 3)
    assert [s["d"] for s in signatures(got)] == ["example.test"]
    assert dkim.verify(got, dnsfunc=dns)


def test_mail_received_on_the_mx_port_is_never_signed(p, sink):
    dns = Dns()
    generate(p, dns)
    p.cli("alias", "add", "fwd@example.test", REMOTE)
    msg = message(frm="Alice <alice@example.test>", to="fwd@example.test")
    with smtplib.SMTP("127.0.0.1", p.ports["smtp"]) as s:
        s.sendmail("someone@outside.example", ["fwd@example.test", ALICE], msg)
    got = received(sink)
    assert signatures(got) == []
    stored = mailstore.messages(p, ALICE)
    assert len(stored) == 1 and b"DKIM-Signature" not in stored[0]


def test_a_retried_delivery_sends_the_signature_made_at_submission(p, sink):
    dns = Dns()
    generate(p, dns)
    sink.data_replies = ["451 4.3.0 try again", "250 2.0.0 OK"]
    submit(p, message())
    got = received(sink, timeout=30)
    assert verify_all(got, dns) == [True]
    con = mailstore.connect(p)
    try:
        kinds = [r[0] for r in con.execute("SELECT kind FROM event WHERE rcpt = ? ORDER BY id",
                                           (REMOTE,))]
    finally:
        con.close()
    assert kinds == ["queued", "deferred", "delivered"]
    assert len(signatures(got)) == 1
