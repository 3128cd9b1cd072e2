"""Webhooks: `petrel webhook add|list|remove|test` and the dispatcher inside `petrel serve`,
against receivers run by the test (Python's http.server, plain and over TLS) that check
every signature. Mail goes through the HTTP API to a local account and, by a static
route, to an SMTP sink (aiosmtpd) that accepts some recipients and refuses others, so
that events of every final kind are posted. Waits are short ([webhooks] retry_first
and retry_max of 1s). The same setting checks the delivery metrics of /metrics."""
import hashlib
import hmac
import http.client
import json
import os
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

import mailstore
from conftest import free_ports

ALICE = "alice@example.test"
BOB = "bob@example.test"
ANN = "ann@remote.test"        # the sink accepts her
NOBODY = "nobody@remote.test"  # the sink refuses him: bounced


# ---- the receiver and the sink ---------------------------------------------------------

class Receiver:
    """An HTTP(S) server that records every request and answers with the statuses of
    `answers` in turn (then `default`)."""

    def __init__(self, tls_context=None):
        self.requests = []  # {"headers", "body", "status", "at"}
        self.answers = []
        self.default = 200
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else receiver.default
                    receiver.requests.append({"headers": dict(self.headers), "body": body,
                                              "status": status, "path": self.path,
                                              "at": time.monotonic()})
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.tls = tls_context is not None
        if tls_context:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls else "http", self.port, path)

    def all(self):
        with self.lock:
            return list(self.requests)

    def accepted(self):
        """The events (parsed bodies) answered 2xx, in arrival order."""
        return [json.loads(r["body"]) for r in self.all() if 200 <= r["status"] < 300]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Sink:
    """An SMTP server that refuses NOBODY and accepts everyone else."""

    def __init__(self, port):
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.controller.start()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() == NOBODY:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 OK queued"

    def stop(self):
        self.controller.stop()


def verify(secret, headers, body):
    """Petrel-Signature: t=UNIX,v1=hex(HMAC-SHA256(secret, "<t>.<body>")), recent."""
    parts = dict(p.split("=", 1) for p in headers["Petrel-Signature"].split(","))
    t = int(parts["t"])
    want = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts["v1"]) and abs(time.time() - t) < 300


def wait(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


# ---- the server ------------------------------------------------------------------------

class World:
    def __init__(self, factory):
        self.factory = factory
        self.sink_port = free_ports(1)[0]
        self.sink = Sink(self.sink_port)
        self.receivers = []

    def receiver(self, tls_context=None):
        r = Receiver(tls_context)
        self.receivers.append(r)
        return r

    def server(self, webhooks=None):
        cfg = {"queue": {"retry": "1s"},
               "routes": {"remote.test": "[127.0.0.1]:%d" % self.sink_port},
               "webhooks": {"retry_first": "1s", "retry_max": "1s"}}
        cfg["webhooks"].update(webhooks or {})
        p = self.factory(cfg)
        p.provision()
        p.start()
        return p

    def close(self):
        for r in self.receivers:
            r.stop()
        self.sink.stop()


@pytest.fixture
def world(petrel_factory):
    w = World(petrel_factory)
    yield w
    w.close()


def api(p, method, path, key, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", p.ports["http"], timeout=20)
    h = {"Authorization": "Bearer " + key}
    if body is not None:
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


def make_key(p, name):
    return p.cli("apikey", "create", name).out.strip()


def send(p, key, to, **fields):
    msg = {"from": ALICE, "to": to, "subject": "Hi", "text": "Hello\n"}
    msg.update(fields)
    status, body = api(p, "POST", "/v1/messages", key, msg)
    assert status == 202, body
    return body["id"]


def add_webhook(p, url, *opts):
    r = p.cli("webhook", "add", url, *opts)
    secret = r.out.strip()
    assert secret.startswith("whsec_") and len(secret) == 6 + 43, r.out
    hook_id = int(r.err.split()[1])  # "webhook N added; ..."
    return hook_id, secret


def listed(p):
    """{id: {"url", "events", "key", "pending", "delivered", "failed"}} from `webhook list`."""
    out = {}
    for line in p.cli("webhook", "list").out.splitlines():
        f = line.split("\t")
        kv = dict(x.split("=", 1) for x in f[2:])
        out[int(f[0])] = dict(kv, url=f[1])
    return out


def final_events(p, key, n):
    """The key's events once n of them are final (delivered or bounced)."""
    def done():
        _, page = api(p, "GET", "/v1/events?after=0&limit=1000", key)
        finals = [e for e in page["events"] if e["type"] in ("delivered", "bounced")]
        return page["events"] if len(finals) >= n else None
    return wait(done, what="%d final events" % n)


def metric(p, name):
    conn = http.client.HTTPConnection("127.0.0.1", p.ports["http"], timeout=20)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError("no metric %s in:\n%s" % (name, text))


# ---- events ------------------------------------------------------------------------------

def test_events_of_delivered_and_bounced_recipients_are_posted_signed(world):
    recv = world.receiver()
    p = world.server()
    key = make_key(p, "shop")
    hook, secret = add_webhook(p, recv.url("/hooks/petrel?x=1"))
    mid = send(p, key, [BOB, ANN, NOBODY], tags=["order"], metadata={"n": 1})
    events = final_events(p, key, 3)
    kinds = {(e["recipient"], e["type"]) for e in events}
    assert {(BOB, "delivered"), (ANN, "delivered"), (NOBODY, "bounced")} <= kinds
    wait(lambda: len(recv.accepted()) >= len(events), what="every event posted")
    reqs = recv.all()
    assert all(r["path"] == "/hooks/petrel?x=1" for r in reqs)
    for r in reqs:
        assert verify(secret, r["headers"], r["body"]), r
        assert r["headers"]["Content-Type"] == "application/json"
        assert r["headers"]["Petrel-Event-Id"] == json.loads(r["body"])["id"]
    # The body is the event of GET /v1/events, plus the Message-ID at the top.
    _, sent = api(p, "GET", "/v1/messages/" + mid, key)
    by_id = {e["id"]: e for e in events}
    posted = recv.accepted()
    assert sorted(e["id"] for e in posted) == sorted(by_id)
    for e in posted:
        want = dict(by_id[e["id"]], message_id=sent["message_id"])
        assert e == want
        assert e["message"]["id"] == mid and e["tags"] == ["order"] and e["metadata"] == {"n": 1}
    bounce = [e for e in posted if e["type"] == "bounced"][0]
    assert bounce["recipient"] == NOBODY and bounce["response"]["code"] == 550
    # A tampered body or another secret does not verify.
    r = reqs[0]
    assert not verify(secret, r["headers"], r["body"] + b" ")
    assert not verify("whsec_other", r["headers"], r["body"])
    wait(lambda: listed(p)[hook]["delivered"] == str(len(events)), what="deliveries recorded")
    assert listed(p)[hook]["pending"] == "0"


def test_a_receiver_that_fails_gets_retries_until_it_accepts(world):
    recv = world.receiver()
    recv.answers = [500, 503]
    p = world.server()
    key = make_key(p, "shop")
    hook, secret = add_webhook(p, recv.url(), "--events", "delivered")
    send(p, key, [BOB])
    wait(lambda: recv.accepted(), what="an accepted attempt")
    reqs = recv.all()
    assert [r["status"] for r in reqs] == [500, 503, 200]
    assert len({r["body"] for r in reqs}) == 1  # the same event each time...
    assert all(verify(secret, r["headers"], r["body"]) for r in reqs)  # ...signed anew
    assert json.loads(reqs[0]["body"])["type"] == "delivered"  # only the kind asked for
    assert reqs[1]["at"] - reqs[0]["at"] >= 0.9 and reqs[2]["at"] - reqs[1]["at"] >= 0.9
    wait(lambda: listed(p)[hook]["delivered"] == "1", what="the delivery recorded")
    assert metric(p, 'petrel_webhook_attempts_total{result="failed"}') == 2
    assert metric(p, 'petrel_webhook_attempts_total{result="delivered"}') == 1
    assert metric(p, "petrel_webhook_deliveries_pending") == 0


def test_events_of_one_message_are_posted_in_order(world):
    recv = world.receiver()
    # Every message's first event fails once: its later events must wait for it.
    seen = set()
    lock = threading.Lock()
    orig = recv.server.RequestHandlerClass.do_POST

    def first_fails(handler):
        body = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        mid = json.loads(body)["message"]["id"]
        with lock:
            status = 200 if mid in seen else 500
            seen.add(mid)
            recv.requests.append({"headers": dict(handler.headers), "body": body,
                                  "status": status, "at": time.monotonic()})
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    recv.server.RequestHandlerClass.do_POST = first_fails
    try:
        p = world.server()
        key = make_key(p, "shop")
        add_webhook(p, recv.url())
        mids = [send(p, key, [BOB, ANN]) for _ in range(3)]
        events = final_events(p, key, 6)
        wait(lambda: len(recv.accepted()) >= len(events), what="every event posted")
    finally:
        recv.server.RequestHandlerClass.do_POST = orig
    for mid in mids:
        posted = [(int(json.loads(r["body"])["id"]), r["status"]) for r in recv.all()
                  if json.loads(r["body"])["message"]["id"] == mid]
        ids = [i for i, _ in posted]
        assert ids == sorted(ids), posted  # never a later event before an earlier one
        assert posted[0][1] == 500 and posted[1][0] == posted[0][0]  # the retry came first
        assert len([i for i, s in posted if s == 200]) == len(set(ids))


def test_pending_deliveries_survive_a_restart(world):
    recv = world.receiver()
    recv.default = 500
    p = world.server()
    key = make_key(p, "shop")
    hook, secret = add_webhook(p, recv.url(), "--events", "delivered")
    send(p, key, [BOB])
    wait(lambda: len(recv.all()) >= 1, what="a first attempt")
    assert p.stop() == 0
    assert listed(p)[hook]["pending"] == "1"
    recv.default = 200
    p.start()
    wait(lambda: recv.accepted(), what="the delivery after the restart")
    assert recv.accepted()[0]["type"] == "delivered"
    assert verify(secret, recv.all()[-1]["headers"], recv.all()[-1]["body"])
    wait(lambda: listed(p)[hook]["delivered"] == "1", what="the delivery recorded")


def test_a_delivery_is_given_up_after_max_age(world):
    recv = world.receiver()
    recv.default = 500
    p = world.server({"max_age": "2s"})
    key = make_key(p, "shop")
    hook, _ = add_webhook(p, recv.url(), "--events", "delivered")
    send(p, key, [BOB])
    wait(lambda: listed(p)[hook]["failed"] == "1", timeout=15, what="the delivery given up")
    n = len(recv.all())
    assert 2 <= n <= 4
    time.sleep(1.5)
    assert len(recv.all()) == n
    assert metric(p, "petrel_webhook_deliveries_given_up_total") == 1


def test_filters_by_key_and_event_kind(world):
    recv_a, recv_b = world.receiver(), world.receiver()
    p = world.server()
    shop, news = make_key(p, "shop"), make_key(p, "news")
    add_webhook(p, recv_a.url(), "--key", "shop", "--events", "bounced, delivered")
    add_webhook(p, recv_b.url())
    m1 = send(p, shop, [BOB, NOBODY])
    m2 = send(p, news, [BOB])
    final_events(p, shop, 2)
    final_events(p, news, 1)
    wait(lambda: len(recv_b.accepted()) >= 6, what="every event at the catch-all webhook")
    time.sleep(1.0)
    a = recv_a.accepted()
    assert sorted((e["message"]["id"], e["recipient"], e["type"]) for e in a) == sorted(
        [(m1, BOB, "delivered"), (m1, NOBODY, "bounced")])
    b = recv_b.accepted()
    assert {e["message"]["id"] for e in b} == {m1, m2}
    assert {e["type"] for e in b} >= {"queued", "delivered", "bounced"}
    # Mail that did not come through the API is not posted.
    import smtplib
    with smtplib.SMTP("127.0.0.1", p.ports["smtp"], timeout=10) as s:
        s.sendmail("x@elsewhere.test", [BOB], b"Subject: s\r\n\r\nx\r\n")
    time.sleep(1.5)
    assert len(recv_b.accepted()) == len(b)


# ---- the command --------------------------------------------------------------------------

def test_webhook_add_list_test_and_remove(world):
    recv = world.receiver()
    p = world.server()
    make_key(p, "shop")
    hook, secret = add_webhook(p, recv.url(), "--key", "shop", "--events", "bounced")
    other, _ = add_webhook(p, recv.url("/other"))
    hooks = listed(p)
    assert hooks[hook]["url"] == recv.url() and hooks[hook]["events"] == "bounced"
    assert hooks[hook]["key"] == "shop" and hooks[other]["key"] == "(any)"
    assert hooks[other]["events"] == "all"
    assert secret not in p.cli("webhook", "list").out
    con = mailstore.connect(p)
    try:
        assert con.execute("SELECT secret FROM webhook WHERE id = ?", (hook,)).fetchone()[0] \
            == secret
    finally:
        con.close()

    r = p.cli("webhook", "test", str(hook))
    assert "delivered: the receiver answered HTTP 200" in r.out
    req = recv.all()[-1]
    body = json.loads(req["body"])
    assert body["type"] == "test" and body["id"].startswith("test_")
    assert req["headers"]["Petrel-Event-Id"] == body["id"]
    assert verify(secret, req["headers"], req["body"])

    recv.default = 500
    r = p.cli("webhook", "test", str(hook), check=False)
    assert r.returncode == 1 and "not delivered: HTTP 500" in r.err
    n = len(recv.all())
    time.sleep(1.5)
    assert len(recv.all()) == n  # a test event is tried once

    p.cli("webhook", "remove", str(hook))
    assert hook not in listed(p) and other in listed(p)
    r = p.cli("webhook", "remove", str(hook), check=False)
    assert r.returncode == 1 and "no webhook" in r.err
    r = p.cli("webhook", "test", str(hook), check=False)
    assert r.returncode == 1 and "no webhook" in r.err


@pytest.mark.parametrize("args, why", [
    (["ftp://example.test/x"], "http"),
    (["http://"], ""),
    (["http://user:pw@example.test/"], "password"),
    (["http://example.test:0/"], "port"),
    (["http://127.0.0.1/", "--events", "delivered,opened"], "unknown event 'opened'"),
    (["http://127.0.0.1/", "--key", "nokey"], "no active API key"),
])
def test_webhook_add_refuses_bad_urls_events_and_keys(petrel, args, why):
    r = petrel.cli("webhook", "add", *args, check=False)
    assert r.returncode == 1 and why in r.err and r.out == ""
    assert petrel.cli("webhook", "list").out == ""


def test_webhook_test_without_a_server_says_so(petrel_factory):
    p = petrel_factory({"webhooks": {"timeout": "1s"}})
    p.provision()
    hook, _ = add_webhook(p, "http://127.0.0.1:9/")
    r = p.cli("webhook", "test", str(hook), check=False)
    assert r.returncode == 1 and "is `petrel serve` running?" in r.err


def test_an_unreachable_receiver_is_a_failed_attempt(world):
    port = free_ports(1)[0]  # nothing listens there
    p = world.server()
    hook, _ = add_webhook(p, "http://127.0.0.1:%d/" % port)
    r = p.cli("webhook", "test", str(hook), check=False)
    assert r.returncode == 1 and "not delivered:" in r.err


# ---- HTTPS -------------------------------------------------------------------------------

def make_cert(d):
    """A self-signed certificate for IP 127.0.0.1 (it is its own CA)."""
    cert, key = os.path.join(d, "recv.pem"), os.path.join(d, "recv.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def test_https_receivers_are_verified_against_the_ca_file(world, tmp_path):
    cert, key = make_cert(str(tmp_path))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    recv = world.receiver(ctx)
    p = world.server({"ca_file": cert})
    hook, secret = add_webhook(p, recv.url())
    r = p.cli("webhook", "test", str(hook))
    assert "HTTP 200" in r.out
    assert verify(secret, recv.all()[-1]["headers"], recv.all()[-1]["body"])
    # Without it (the system's CA store after a reload), the receiver is refused.
    p.write_config({"webhooks": {"retry_first": "1s", "retry_max": "1s", "ca_file": ""}})
    n = len(recv.all())
    p.proc.send_signal(1)  # SIGHUP
    assert p.wait_log("event=reload result=ok")
    r = p.cli("webhook", "test", str(hook), check=False)
    assert r.returncode == 1 and "certificate" in r.err, r.err
    assert len(recv.all()) == n


# ---- /metrics -------------------------------------------------------------------------------

def test_metrics_count_outcomes_latency_and_failed_logins(world):
    import imaplib
    p = world.server()
    key = make_key(p, "shop")
    send(p, key, [ANN, NOBODY])
    final_events(p, key, 2)
    wait(lambda: metric(p, 'petrel_deliveries_total{result="bounced"}') == 1,
         what="the outcomes counted")
    assert metric(p, 'petrel_deliveries_total{result="delivered"}') == 1
    assert metric(p, 'petrel_delivery_latency_seconds_count') == 1
    assert metric(p, 'petrel_delivery_latency_seconds_bucket{le="+Inf"}') == 1
    assert metric(p, 'petrel_delivery_latency_seconds_bucket{le="86400"}') == 1
    assert metric(p, 'petrel_delivery_latency_seconds_sum') < 60
    assert metric(p, 'petrel_queue_recipients{state="queued"}') == 0
    assert metric(p, "petrel_login_failures_total") == 0
    imap = imaplib.IMAP4("127.0.0.1", p.ports["imap"])
    with pytest.raises(imaplib.IMAP4.error):
        imap.login(ALICE, "wrong")
    imap.logout()
    assert metric(p, "petrel_login_failures_total") == 1
    assert metric(p, "petrel_webhook_deliveries_pending") == 0
    assert metric(p, "petrel_webhook_events_unscanned") == 0
