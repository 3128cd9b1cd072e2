"""The HTTP API: keys, sends (structured and raw), receipts, events, idempotency,
rate limits, /metrics and the HTTP framing, with http.client, raw sockets and curl,
checked in the store (tests/integration/mailstore.py) and with Python's email
package."""
import base64
import email
import email.policy
import hashlib
import http.client
import json
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest

import mailstore
from conftest import free_ports

ALICE = "alice@example.test"
BOB = "bob@example.test"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def error_field(self):
        return self.json["error"].get("field")


def request(petrel, method, path, body=None, key=None, headers=None, port=None):
    conn = http.client.HTTPConnection("127.0.0.1", port or petrel.ports["http"], timeout=20)
    h = {}
    if key:
        h["Authorization"] = "Bearer " + key
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return Resp(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def make_key(petrel, name, *opts):
    p = petrel.cli("apikey", "create", name, *opts)
    key = p.out.strip()
    assert key.startswith("pk_") and "\n" not in key, p.out
    return key


@pytest.fixture
def key(petrel):
    return make_key(petrel, "test")


def send(petrel, key, **fields):
    msg = {"from": "Alice <%s>" % ALICE, "to": [BOB], "subject": "Hi", "text": "Hello\n"}
    msg.update(fields)
    return request(petrel, "POST", "/v1/messages", msg, key=key)


def inbox(petrel, address):
    return mailstore.messages(petrel, address)


def parsed(stored):
    return email.message_from_bytes(stored, policy=email.policy.default)


def raw_http(port, data, timeout=10):
    """Sends bytes on a fresh connection and returns everything until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out


# ---- keys ---------------------------------------------------------------------------------

def test_apikey_create_list_revoke(petrel):
    key = make_key(petrel, "shop", "--domain", "Example.TEST", "--pool", "main", "--rate", "10/s")
    assert len(key) == 3 + 43  # pk_ and 32 bytes in unpadded base64url
    con = mailstore.connect(petrel)
    try:
        row = con.execute("SELECT hash, domains, pool, rate FROM api_key WHERE name = 'shop'").fetchone()
    finally:
        con.close()
    assert bytes(row[0]) == hashlib.sha256(key.encode()).digest()  # only the hash is kept
    assert row[1:] == ("example.test", "main", 10.0)
    listed = petrel.cli("apikey", "list").out
    assert "shop\tactive\tdomains=example.test\tpool=main\trate=10/s" in listed
    assert key not in listed
    assert petrel.cli("apikey", "create", "shop", check=False).returncode == 1
    assert petrel.cli("apikey", "create", "x", "--rate", "fast", check=False).returncode == 1
    assert petrel.cli("apikey", "create", "bad name", check=False).returncode == 1
    petrel.cli("apikey", "revoke", "shop")
    assert "shop\trevoked" in petrel.cli("apikey", "list").out
    p = petrel.cli("apikey", "revoke", "shop", check=False)
    assert p.returncode == 1 and "no active API key" in p.err


def test_missing_wrong_and_revoked_keys_get_401(petrel, key):
    for k in (None, "pk_wrong", key + "x"):
        r = request(petrel, "GET", "/v1/events", key=k)
        assert r.status == 401, r.body
        assert r.json["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = request(petrel, "GET", "/v1/events", headers={"Authorization": "Basic eDp5"})
    assert r.status == 401
    # A revoked key stops at once, even on a connection that already used it.
    conn = http.client.HTTPConnection("127.0.0.1", petrel.ports["http"], timeout=10)
    auth = {"Authorization": "Bearer " + key}
    conn.request("GET", "/v1/events", headers=auth)
    r = conn.getresponse()
    r.read()
    assert r.status == 200
    petrel.cli("apikey", "revoke", "test")
    conn.request("GET", "/v1/events", headers=auth)
    r = conn.getresponse()
    assert r.status == 401
    assert "revoked" in json.loads(r.read())["error"]["message"]
    conn.close()


def test_health_needs_no_key(petrel):
    r = request(petrel, "GET", "/v1/health")
    assert r.status == 200 and r.json["status"] == "ok"
    assert r.headers["content-type"] == "application/json"
    r = request(petrel, "HEAD", "/v1/health")
    assert r.status == 200 and r.body == b""


def test_unknown_paths_and_methods(petrel, key):
    r = request(petrel, "GET", "/v2/nothing", key=key)
    assert r.status == 404 and r.json["error"]["code"] == "not_found"
    r = request(petrel, "DELETE", "/v1/messages", key=key)
    assert r.status == 405 and "POST" in r.headers["allow"]
    r = request(petrel, "GET", "/v1/messages/0123456789abcdef01234567", key=key)
    assert r.status == 404 and r.error_field() == "id"


# ---- structured sends -----------------------------------------------------------------------

def test_structured_message_is_built_right(petrel, key):
    petrel.cli("user", "add", "carol@example.test", "--password-stdin", input="pw\n")
    subject = "Grüße — 日本語の件名 with a rather long tail that needs folding somewhere"
    r = send(petrel, key,
             **{"from": {"address": ALICE, "name": "Älice Example"},
                "to": ["Bob <%s>" % BOB], "cc": [], "bcc": ["carol@example.test"],
                "reply_to": "replies@example.test",
                "subject": subject,
                "text": "Plain text with ünïcode\nand two lines\n",
                "html": '<p>HTML with <img src="cid:logo1"> ünïcode</p>',
                "headers": {"X-Campaign": "spring", "X-Note": "naïve"},
                "attachments": [
                    {"filename": "logo.png", "content_type": "image/png",
                     "content": base64.b64encode(PNG).decode(), "content_id": "logo1"},
                    {"filename": "Überweisung März €.pdf", "content_type": "application/pdf",
                     "content": base64.b64encode(b"%PDF-1.4 fake\n").decode()},
                ],
                "tags": ["welcome"], "metadata": {"user": 42},
                "nonsense": True})
    assert r.status == 202, r.body
    body = r.json
    assert body["warnings"] == ["unknown field 'nonsense' was ignored"]
    assert body["message_id"].startswith("<") and body["message_id"].endswith("@mail.example.test>")
    assert len(inbox(petrel, "carol@example.test")) == 1
    stored = inbox(petrel, BOB)
    assert len(stored) == 1
    raw = stored[0]
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    m = parsed(raw)
    assert m["Subject"] == subject
    assert m["From"].addresses[0].display_name == "Älice Example"
    assert m["From"].addresses[0].addr_spec == ALICE
    assert m["To"].addresses[0].addr_spec == BOB
    assert m["Reply-To"].addresses[0].addr_spec == "replies@example.test"
    assert m["Bcc"] is None and b"carol@" not in raw
    assert m["Message-ID"] == body["message_id"]
    assert m["Date"] is not None and m["MIME-Version"] == "1.0"
    assert m["X-Campaign"] == "spring" and m["X-Note"] == "naïve"
    assert m.get_content_type() == "multipart/mixed"
    related, attachment = m.get_payload()
    assert related.get_content_type() == "multipart/related"
    alternative, image = related.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html = alternative.get_payload()
    assert text.get_content().replace("\r\n", "\n") == "Plain text with ünïcode\nand two lines\n"
    assert html.get_content_type() == "text/html"
    assert "cid:logo1" in html.get_content()
    assert image.get_content_type() == "image/png" and image["Content-ID"] == "<logo1>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == PNG
    assert attachment.get_filename() == "Überweisung März €.pdf"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_content() == b"%PDF-1.4 fake\n"


def test_message_ids_start_with_the_send_time_and_differ(petrel, key):
    before = int(time.time())
    ids = []
    for _ in range(3):
        r = send(petrel, key)
        assert r.status == 202, r.body
        ids.append(r.json["id"])
    after = int(time.time())
    assert len(set(ids)) == 3
    for i in ids:
        assert re.fullmatch(r"[0-9a-f]{24}", i), i
        assert before <= int(i[:8], 16) <= after
    times = [int(i[:8], 16) for i in ids]
    assert times == sorted(times)
    # the ids name the messages: each is found, with its own Message-ID
    for i in ids:
        m = request(petrel, "GET", "/v1/messages/" + i, key=key)
        assert m.status == 200 and m.json["id"] == i
        assert m.json["message_id"].startswith("<%s@" % i)
    # a multipart message's boundaries are made from its id, unique to it
    r = send(petrel, key, html="<p>Hello</p>")
    assert r.status == 202, r.body
    raw = [m for m in inbox(petrel, BOB) if r.json["id"].encode() in m][0]
    assert parsed(raw).get_boundary() == "=_%s_a" % r.json["id"]


def test_local_and_remote_recipients_are_committed_in_one_op(petrel, key):
    petrel.cli("user", "add", "carol@example.test", "--password-stdin", input="pw\n")
    r = send(petrel, key, to=[BOB, "Dave <dave@remote.example>"], cc=["carol@example.test"],
             bcc=["Bob@Example.Test"])
    assert r.status == 202, r.body
    assert r.json["recipients"] == [
        {"address": BOB, "status": "delivered"},
        {"address": "dave@remote.example", "status": "queued"},
        {"address": "carol@example.test", "status": "delivered"},
    ]
    assert len(inbox(petrel, BOB)) == 1 and len(inbox(petrel, "carol@example.test")) == 1
    con = mailstore.connect(petrel)
    try:
        rows = con.execute("SELECT source, api_key_id, env_from FROM queue_message").fetchall()
        api = con.execute("SELECT public_id, queue_id FROM api_message").fetchall()
        events = con.execute("SELECT rcpt, kind FROM event WHERE queue_id = ? ORDER BY id",
                             (api[0][1],)).fetchall()
    finally:
        con.close()
    # the queue entry may already be gone if the remote recipient was settled
    assert all(row[0] == "api" and row[1] is not None and row[2] == ALICE for row in rows)
    assert api[0][0] == r.json["id"]
    assert ("dave@remote.example", "queued") in events
    assert (BOB, "queued") in events and (BOB, "delivered") in events
    assert ("carol@example.test", "delivered") in events


def test_stored_message_has_trace_headers(petrel, key):
    r = send(petrel, key)
    assert r.status == 202
    raw = inbox(petrel, BOB)[0]
    assert raw.startswith(b"Return-Path: <alice@example.test>\r\nReceived: from [127.0.0.1]")
    assert (b"with HTTP id %s;" % r.json["id"].encode()) in raw


@pytest.mark.parametrize("fields,field", [
    ({"subject": "Hi\r\nBcc: victim@example.net"}, "subject"),
    ({"subject": "Hi\nX-Evil: 1"}, "subject"),
    ({"to": ["Eve\r\nBcc: x@y.z <%s>" % BOB]}, "to[0]"),
    ({"to": [BOB, {"address": BOB, "name": "Bob\rX: y"}]}, "to[1]"),
    ({"from": {"address": ALICE + "\r\nBcc: x@y.z"}}, "from"),
    ({"headers": {"X-Test": "v\r\nBcc: x@y.z"}}, "headers.X-Test"),
    ({"headers": {"X-Test\r\nBcc": "v"}}, "headers"),
    ({"attachments": [{"filename": "a\r\nb.txt", "content": "eA=="}]},
     "attachments[0].filename"),
    ({"attachments": [{"filename": "a.txt", "content": "eA==", "content_type": "text/plain\r\nX: y"}]},
     "attachments[0].content_type"),
    ({"attachments": [{"content": "not base64!"}]}, "attachments[0].content"),
    ({"attachments": [{"filename": "a"}]}, "attachments[0].content"),
    ({"attachments": [{"content": "eA==", "content_id": "<x>"}]}, "attachments[0].content_id"),
    ({"to": [BOB, "not an address"]}, "to[1]"),
    ({"to": ["nobody@example.test"]}, "to[0]"),
    ({"to": [], "cc": None}, "to"),
    ({"subject": 42}, "subject"),
    ({"text": ["x"]}, "text"),
    ({"headers": {"Subject": "again"}}, "headers.Subject"),
    ({"headers": {"X-Num": 1}}, "headers.X-Num"),
    ({"tags": "one"}, "tags"),
    ({"metadata": [1]}, "metadata"),
    ({"from": None}, "from"),
    ({"from": [ALICE, ALICE]}, "from"),
    ({"text": None, "html": None}, "text"),
])
def test_bad_fields_get_400_naming_the_field(petrel, key, fields, field):
    before = (mailstore.count(petrel, "message"), mailstore.count(petrel, "event"))
    r = send(petrel, key, **fields)
    assert r.status == 400, r.body
    err = r.json["error"]
    assert err["field"] == field, err
    assert err["code"] == "invalid_field" and field in err["message"]
    # nothing half-built is left behind
    assert (mailstore.count(petrel, "message"), mailstore.count(petrel, "event")) == before


def test_bad_json_and_media_types(petrel, key):
    for body in (b"{", b"[1,2]", b'{"a":1,"a":2}', b'{"s":"\\u0000"}'):
        r = request(petrel, "POST", "/v1/messages", body, key=key,
                    headers={"Content-Type": "application/json"})
        assert r.status == 400 and r.json["error"]["code"] == "invalid_json", body
    r = request(petrel, "POST", "/v1/messages", b"from=x", key=key,
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415


def test_sender_must_be_in_the_keys_domains(petrel, key):
    r = send(petrel, key, **{"from": "someone@elsewhere.test"})
    assert r.status == 403 and r.error_field() == "from"
    petrel.cli("domain", "add", "other.test")
    narrow = make_key(petrel, "narrow", "--domain", "other.test")
    r = send(petrel, narrow)
    assert r.status == 403 and r.json["error"]["code"] == "sender_not_allowed"
    r = send(petrel, narrow, **{"from": "news@other.test"})
    assert r.status == 202, r.body


def test_too_many_recipients(petrel_factory):
    p = petrel_factory({"smtp": {"max_recipients": "2"}})
    p.provision()
    p.start()
    k = make_key(p, "k")
    r = send(p, k, to=[BOB, ALICE], cc=["x@remote.example"])
    assert r.status == 400 and r.error_field() == "to"


def test_bodies_and_messages_over_the_limit_get_413(petrel_factory):
    p = petrel_factory({"smtp": {"max_message_size": "64K"}})
    p.provision()
    p.start()
    k = make_key(p, "k")
    limit = 64 * 1024 // 3 * 4 + 64 * 1024
    # Refused from the head alone (Content-Length), the connection closes.
    head = ("POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (k, limit + 1))
    out = raw_http(p.ports["http"], head.encode())
    assert out.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in out
    # With curl and Expect: 100-continue: the 413 comes instead of the 100.
    big = "x" * (limit + 10)
    c = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                        "Authorization: Bearer " + k, "-H", "Content-Type: application/json",
                        "-H", "Expect: 100-continue", "--data-binary", "@-",
                        "http://127.0.0.1:%d/v1/messages" % p.ports["http"]],
                       input=big.encode(), stdout=subprocess.PIPE, timeout=30)
    assert c.stdout == b"413"
    # A body within the limit whose message is over max_message_size.
    att = base64.b64encode(b"y" * 70000).decode()
    r = send(p, k, attachments=[{"filename": "big.bin", "content": att}])
    assert r.status == 413 and r.json["error"]["code"] == "message_too_large"
    assert request(p, "GET", "/v1/health").status == 200


# ---- raw sends ----------------------------------------------------------------------------

def test_raw_message_as_json_is_sent_as_is(petrel, key):
    msg = (b"From: Alice <alice@example.test>\nTo: bob@example.test\nSubject: raw one\n"
           b"Message-ID: <raw-1@example.test>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\n"
           b"line one\nline two\n")
    r = request(petrel, "POST", "/v1/messages/raw",
                {"from": ALICE, "to": [BOB], "raw": base64.encodebytes(msg).decode(), "x": 1},
                key=key)
    assert r.status == 202, r.body
    assert r.json["message_id"] == "<raw-1@example.test>"
    assert r.json["warnings"] == ["unknown field 'x' was ignored"]
    stored = inbox(petrel, BOB)[0]
    assert mailstore.body_of(stored) == msg.replace(b"\n", b"\r\n")


def test_raw_message_as_rfc822_gets_date_and_message_id(petrel, key):
    msg = b"From: alice@example.test\r\nSubject: =?UTF-8?B?w6ljaG8=?=\r\n\r\nhello\r\n"
    r = request(petrel, "POST", "/v1/messages/raw?from=alice%40example.test&to=bob%40example.test,"
                "alice@example.test", msg, key=key, headers={"Content-Type": "message/rfc822"})
    assert r.status == 202, r.body
    assert [x["address"] for x in r.json["recipients"]] == [BOB, ALICE]
    m = parsed(inbox(petrel, BOB)[0])
    assert m["Message-ID"] == r.json["message_id"] and m["Date"] is not None
    got = request(petrel, "GET", "/v1/messages/" + r.json["id"], key=key).json
    assert got["subject"] == "écho"


@pytest.mark.parametrize("raw,status,field", [
    (b"Subject: no from\r\n\r\nx\r\n", 400, "raw"),
    (b"From: mallory@elsewhere.test\r\n\r\nx\r\n", 403, "raw"),
    (b"From: alice@example.test\r\n\r\nbare\rCR\r\n", 400, "raw"),
    (b"From: alice@example.test\r\n\r\n" + b"y" * 1000 + b"\r\n", 400, "raw"),
    (b"", 400, "raw"),
    (b"just text", 400, "raw"),
])
def test_bad_raw_messages(petrel, key, raw, status, field):
    r = request(petrel, "POST", "/v1/messages/raw",
                {"from": ALICE, "to": [BOB], "raw": base64.b64encode(raw).decode()}, key=key)
    assert r.status == status and r.error_field() == field, r.body


def test_bad_raw_envelopes(petrel, key):
    good = base64.b64encode(b"From: alice@example.test\r\n\r\nx\r\n").decode()
    cases = [
        ({"to": [BOB], "raw": good}, "from"),
        ({"from": ALICE, "raw": good}, "to"),
        ({"from": ALICE, "to": [BOB, "nope"], "raw": good}, "to[1]"),
        ({"from": ALICE, "to": [BOB], "raw": "%%%"}, "raw"),
        ({"from": "x@elsewhere.test", "to": [BOB], "raw": good}, "from"),
    ]
    for body, field in cases:
        r = request(petrel, "POST", "/v1/messages/raw", body, key=key)
        assert r.status in (400, 403) and r.error_field() == field, (body, r.body)
    r = request(petrel, "POST", "/v1/messages/raw?to=bob%40example.test", b"From: a@b\r\n\r\n",
                key=key, headers={"Content-Type": "message/rfc822"})
    assert r.status == 400 and r.error_field() == "from"


# ---- receipts and events ------------------------------------------------------------------

def test_message_receipts_per_recipient(petrel, key):
    r = send(petrel, key, to=[BOB, "zed@remote.example"], tags=["t1"], metadata={"order": 7})
    assert r.status == 202
    mid = r.json["id"]
    got = request(petrel, "GET", "/v1/messages/" + mid, key=key)
    assert got.status == 200
    m = got.json
    assert m["id"] == mid and m["message_id"] == r.json["message_id"]
    assert m["from"] == ALICE and m["subject"] == "Hi"
    assert m["tags"] == ["t1"] and m["metadata"] == {"order": 7}
    rcpts = {x["address"]: x for x in m["recipients"]}
    bob = rcpts[BOB]
    assert bob["status"] == "delivered"
    assert [e["type"] for e in bob["events"]] == ["queued", "delivered"]
    assert bob["events"][1]["response"] == {"code": 250, "enhanced": "2.0.0",
                                            "text": "Delivered to a local mailbox"}
    assert bob["events"][0]["at"].endswith("Z") and "T" in bob["events"][0]["at"]
    zed = rcpts["zed@remote.example"]
    assert zed["events"][0]["type"] == "queued"
    assert zed["status"] in ("queued", "deferred", "bounced", "delivered", "expired")
    # another key cannot see it
    other = make_key(petrel, "other")
    assert request(petrel, "GET", "/v1/messages/" + mid, key=other).status == 404


def test_events_filters_and_bad_parameters(petrel, key):
    r = send(petrel, key, tags=["a"])
    send(petrel, key, tags=["b"])
    ev = request(petrel, "GET", "/v1/events?type=delivered&tag=a&zzz=1", key=key).json
    assert [e["type"] for e in ev["events"]] == ["delivered"]
    assert ev["events"][0]["message"]["id"] == r.json["id"]
    assert ev["events"][0]["recipient"] == BOB and ev["events"][0]["tags"] == ["a"]
    assert ev["warnings"] == ["unknown query parameter 'zzz' was ignored"]
    ev = request(petrel, "GET", "/v1/events?recipient=BOB%40example.test&limit=1", key=key).json
    assert len(ev["events"]) == 1 and ev["next"] == ev["events"][0]["id"]
    for q, field in (("after=-1", "after"), ("after=x", "after"), ("limit=0", "limit"),
                     ("limit=1001", "limit")):
        r = request(petrel, "GET", "/v1/events?" + q, key=key)
        assert r.status == 400 and r.error_field() == field
    empty = request(petrel, "GET", "/v1/events?after=999999", key=key).json
    assert empty == {"events": [], "next": "999999"}


def test_events_cursor_under_concurrent_sends(petrel, key):
    senders, per_sender = 4, 6
    sent, errors = [], []
    done = threading.Event()

    def sender(i):
        for j in range(per_sender):
            r = send(petrel, key, subject="s%d-%d" % (i, j))
            (sent if r.status == 202 else errors).append(r.json["id"] if r.status == 202 else r.body)

    seen = []

    def reader():
        after = "0"
        while True:
            finishing = done.is_set()
            page = request(petrel, "GET", "/v1/events?limit=3&after=" + after, key=key).json
            seen.extend(page["events"])
            after = page["next"]
            if finishing and not page["events"]:
                return

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    rt = threading.Thread(target=reader)
    rt.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    rt.join()
    assert not errors and len(sent) == senders * per_sender
    ids = [int(e["id"]) for e in seen]
    assert ids == sorted(set(ids)), "events repeated or out of order"
    expected = set()
    for mid in sent:
        m = request(petrel, "GET", "/v1/messages/" + mid, key=key).json
        for rc in m["recipients"]:
            for e in rc["events"]:
                expected.add((e["id"], mid, rc["address"], e["type"]))
    got = {(e["id"], e["message"]["id"], e["recipient"], e["type"]) for e in seen}
    assert got == expected, "an event was skipped"
    assert len(got) == 2 * len(sent)
    # another key's feed is empty
    other = make_key(petrel, "other")
    assert request(petrel, "GET", "/v1/events", key=other).json["events"] == []


# ---- idempotency and rate limits ------------------------------------------------------------

def test_idempotency_key_replays_the_first_answer(petrel, key):
    h = {"Idempotency-Key": "order-1"}
    body = {"from": ALICE, "to": [BOB], "subject": "once", "text": "x"}
    first = request(petrel, "POST", "/v1/messages", body, key=key, headers=h)
    again = request(petrel, "POST", "/v1/messages", body, key=key, headers=h)
    assert first.status == again.status == 202
    assert again.body == first.body
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(inbox(petrel, BOB)) == 1
    changed = dict(body, subject="twice")
    r = request(petrel, "POST", "/v1/messages", changed, key=key, headers=h)
    assert r.status == 422 and r.json["error"]["code"] == "idempotency_key_reused"
    # the same key name under another API key is another key
    other = make_key(petrel, "other")
    assert request(petrel, "POST", "/v1/messages", changed, key=other, headers=h).status == 202
    r = request(petrel, "POST", "/v1/messages", body, key=key, headers={"Idempotency-Key": ""})
    assert r.status == 400 and r.error_field() == "Idempotency-Key"


def test_idempotency_under_concurrent_duplicates(petrel, key):
    n = 12
    barrier = threading.Barrier(n)
    results = []
    body = {"from": ALICE, "to": [BOB, "far@remote.example"], "subject": "race", "text": "x"}

    def go():
        barrier.wait()
        results.append(request(petrel, "POST", "/v1/messages", body, key=key,
                               headers={"Idempotency-Key": "race-1"}))

    threads = [threading.Thread(target=go) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == [202] * n, [r.body for r in results]
    assert len({r.body for r in results}) == 1
    assert len(inbox(petrel, BOB)) == 1
    assert mailstore.count(petrel, "api_message") == 1


def test_rate_limit_answers_429_with_retry_after(petrel):
    slow = make_key(petrel, "slow", "--rate", "1/m")
    assert send(petrel, slow).status == 202
    r = send(petrel, slow)
    assert r.status == 429 and r.json["error"]["code"] == "rate_limited"
    assert 50 <= int(r.headers["retry-after"]) <= 60
    # reads are not limited
    assert request(petrel, "GET", "/v1/events", key=slow).status == 200
    fast = make_key(petrel, "fast", "--rate", "1/s")
    assert send(petrel, fast).status == 202
    r = send(petrel, fast)
    assert r.status == 429 and r.headers["retry-after"] == "1"
    time.sleep(1.1)
    assert send(petrel, fast).status == 202


# ---- metrics -----------------------------------------------------------------------------

def test_metrics_counts_messages_per_protocol_and_connections(petrel, key):
    import smtplib
    assert send(petrel, key).status == 202
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"], timeout=10) as s:
        s.sendmail("x@remote.example", [BOB], b"Subject: s\r\n\r\nx\r\n")
    held = socket.create_connection(("127.0.0.1", petrel.ports["http"]))
    try:
        time.sleep(0.2)
        r = request(petrel, "GET", "/metrics")
    finally:
        held.close()
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.body.decode()
    assert 'petrel_messages_received_total{protocol="api"} 1\n' in text
    assert 'petrel_messages_received_total{protocol="smtp"} 1\n' in text
    line = [l for l in text.splitlines() if l.startswith('petrel_connections{listener="http"}')]
    assert line and int(line[0].split()[-1]) >= 2  # the held one and this request
    assert 'petrel_http_responses_total{code="202"} 1\n' in text
    assert "# TYPE petrel_queue_recipients gauge" in text


# ---- HTTP framing ---------------------------------------------------------------------------

def test_keep_alive_and_pipelined_requests_are_answered_in_order(petrel, key):
    body = json.dumps({"from": ALICE, "to": [BOB], "text": "p"}).encode()
    req = (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() +
           b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    data = req + b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n" + req.replace(
        b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")
    out = raw_http(petrel.ports["http"], data)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", out)
    assert statuses == [b"202", b"200", b"202"]
    assert len(inbox(petrel, BOB)) == 2


def test_chunked_body_and_expect_continue_with_curl(petrel, key):
    body = json.dumps({"from": ALICE, "to": [BOB], "text": "chunked"})
    c = subprocess.run(["curl", "-s", "-H", "Authorization: Bearer " + key,
                        "-H", "Content-Type: application/json", "-H", "Transfer-Encoding: chunked",
                        "-H", "Expect: 100-continue", "--data-binary", "@-",
                        "http://127.0.0.1:%d/v1/messages" % petrel.ports["http"]],
                       input=body.encode(), stdout=subprocess.PIPE, timeout=30)
    r = json.loads(c.stdout)
    assert r["recipients"] == [{"address": BOB, "status": "delivered"}]
    assert parsed(inbox(petrel, BOB)[0]).get_content().rstrip("\r\n") == "chunked"


@pytest.mark.parametrize("data,status", [
    (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"400"),
    (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
    (b"GET /v1/health HTTP/2.0\r\nHost: x\r\n\r\n", b"505"),
    (b"GET /v1/health HTTP/1.1\r\n\r\n", b"400"),
    (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", b"501"),
])
def test_framing_errors_answer_and_close(petrel, data, status):
    out = raw_http(petrel.ports["http"], data + b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 " + status + b" "), out[:100]
    assert out.count(b"HTTP/1.1 ") == 1  # nothing after the error is taken as a request
    assert b"Connection: close" in out
    assert request(petrel, "GET", "/v1/health").status == 200


def test_slow_requests_are_cut_off(petrel_factory):
    p = petrel_factory({"http": {"request_timeout": "2s"}})
    p.provision()
    p.start()
    port = p.ports["http"]
    # a head trickled a byte at a time
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    start = time.monotonic()
    out = b""
    try:
        for ch in b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 100:
            s.sendall(bytes([ch]))
            time.sleep(0.1)
            s.setblocking(False)
            try:
                out += s.recv(4096)
            except BlockingIOError:
                pass
            s.setblocking(True)
            if out:
                break
        s.settimeout(5)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    assert out.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - start < 6
    # a body trickled after a quick head: 2 s plus 1 s per 64 KiB
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
    start = time.monotonic()
    out = b""
    s.settimeout(6)
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    assert out.startswith(b"HTTP/1.1 408 ") and time.monotonic() - start < 5
    # an idle connection is closed without a word
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(6)
    assert s.recv(10) == b""
    s.close()
    assert request(p, "GET", "/v1/health").status == 200


def test_https_listener(petrel_factory):
    (port,) = free_ports(1)
    p = petrel_factory({"http": {"listen_tls": "127.0.0.1:%d" % port}})
    p.provision()
    p.start()
    assert "listening name=https addr=127.0.0.1:%d tls=implicit" % port in p.stdout()
    k = make_key(p, "k")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
    body = json.dumps({"from": ALICE, "to": [BOB], "text": "over tls"})
    conn.request("POST", "/v1/messages", body=body,
                 headers={"Authorization": "Bearer " + k, "Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 202, r.read()
    conn.close()
    assert b"with HTTPS id" in inbox(p, BOB)[0]


def test_curl_examples_from_the_docs(petrel, key):
    base = "http://127.0.0.1:%d" % petrel.ports["http"]
    auth = "Authorization: Bearer " + key

    def curl(*args):
        c = subprocess.run(["curl", "-sS", "-H", auth] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        assert c.returncode == 0, c.stderr
        return json.loads(c.stdout)

    sent = curl("-H", "Content-Type: application/json", "-d",
                json.dumps({"from": "Shop <%s>" % ALICE, "to": [BOB], "subject": "Your order",
                            "text": "Thanks!", "html": "<p>Thanks!</p>"}),
                base + "/v1/messages")
    assert sent["recipients"] == [{"address": BOB, "status": "delivered"}]
    raw = curl("-H", "Content-Type: message/rfc822", "--data-binary",
               "From: %s\r\nSubject: raw\r\n\r\nhi\r\n" % ALICE,
               base + "/v1/messages/raw?from=%s&to=%s" % (ALICE, BOB))
    assert raw["recipients"][0]["status"] == "delivered"
    got = curl(base + "/v1/messages/" + sent["id"])
    assert got["recipients"][0]["status"] == "delivered"
    events = curl(base + "/v1/events?after=0&limit=100")
    assert len(events["events"]) == 4
    health = json.loads(subprocess.run(["curl", "-s", base + "/v1/health"],
                                       stdout=subprocess.PIPE).stdout)
    assert health["status"] == "ok"


def test_clients_that_leave_before_their_answer_do_no_harm(petrel, key):
    body = json.dumps({"from": ALICE, "to": [BOB], "text": "gone"}).encode()
    req = (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() +
           b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", petrel.ports["http"]))
        s.sendall(req)
        s.close()
    # half a request, then gone
    s = socket.create_connection(("127.0.0.1", petrel.ports["http"]))
    s.sendall(req[:len(req) // 2])
    s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(inbox(petrel, BOB)) < 20:
        time.sleep(0.1)
    # every complete request was committed, answered or not; the server goes on
    assert len(inbox(petrel, BOB)) == 20
    assert request(petrel, "GET", "/v1/health").status == 200
