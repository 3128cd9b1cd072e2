"""docs/openapi.yaml against the running server: every documented path and method
exists, and real answers (sends, a message, an events page, errors, health, and a
webhook's POST) hold exactly the documented fields with the documented types.

The schemas are checked by the small JSON Schema (2020-12 subset) checker below:
type, const, enum, properties, required, additionalProperties, items, min/maxItems,
oneOf/anyOf/allOf, pattern, format date-time, and local $ref (JSON pointers)."""
import base64
import http.client
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALICE = "alice@example.test"
BOB = "bob@example.test"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@pytest.fixture(scope="module")
def doc():
    with open(os.path.join(ROOT, "docs", "openapi.yaml")) as f:
        d = yaml.safe_load(f)
    assert d["openapi"].startswith("3.1")
    return d


# ---- a small schema checker ----------------------------------------------------------

DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def type_ok(value, t):
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return {"string": str, "boolean": bool, "object": dict, "array": list,
            "null": type(None)}[t] is type(value) or (t == "object" and isinstance(value, dict))


def problems(doc, schema, value, where="$"):
    """Every way value breaks schema, as 'where: why' strings."""
    s = resolve(doc, schema)
    out = []
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(type_ok(value, t) for t in types):
            return ["%s: %r is not %s" % (where, value, "/".join(types))]
    if "const" in s and value != s["const"]:
        out.append("%s: %r is not %r" % (where, value, s["const"]))
    if "enum" in s and value not in s["enum"]:
        out.append("%s: %r is not one of %s" % (where, value, s["enum"]))
    if isinstance(value, str):
        if "pattern" in s and not re.search(s["pattern"], value):
            out.append("%s: %r does not match %s" % (where, value, s["pattern"]))
        if s.get("format") == "date-time" and not DATE_TIME.match(value):
            out.append("%s: %r is not a date-time" % (where, value))
        if "minLength" in s and len(value) < s["minLength"]:
            out.append("%s: too short" % where)
        if "maxLength" in s and len(value) > s["maxLength"]:
            out.append("%s: too long" % where)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in s and value < s["minimum"]:
            out.append("%s: below %s" % (where, s["minimum"]))
        if "maximum" in s and value > s["maximum"]:
            out.append("%s: above %s" % (where, s["maximum"]))
    if isinstance(value, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in value:
                out.append("%s: %s is missing" % (where, k))
        for k, v in value.items():
            if k in props:
                out += problems(doc, props[k], v, "%s.%s" % (where, k))
            elif s.get("additionalProperties") is False:
                out.append("%s: %s is not documented" % (where, k))
            elif isinstance(s.get("additionalProperties"), dict):
                out += problems(doc, s["additionalProperties"], v, "%s.%s" % (where, k))
    if isinstance(value, list):
        if "items" in s:
            for i, v in enumerate(value):
                out += problems(doc, s["items"], v, "%s[%d]" % (where, i))
        if "maxItems" in s and len(value) > s["maxItems"]:
            out.append("%s: more than %d items" % (where, s["maxItems"]))
    for sub in s.get("allOf", []):
        out += problems(doc, sub, value, where)
    if "oneOf" in s:
        n = sum(1 for sub in s["oneOf"] if not problems(doc, sub, value, where))
        if n != 1:
            out.append("%s: matches %d of oneOf" % (where, n))
    if "anyOf" in s and all(problems(doc, sub, value, where) for sub in s["anyOf"]):
        out.append("%s: matches none of anyOf" % where)
    return out


def test_the_checker_finds_what_is_wrong(doc):
    ev = {"$ref": "#/components/schemas/Event"}
    assert problems(doc, ev, {"id": "1", "type": "queued", "at": "2025-03-01T10:00:00.120Z"}) == []
    assert problems(doc, ev, {"id": 1, "type": "queued", "at": "2025-03-01T10:00:00Z"})
    assert problems(doc, ev, {"id": "1", "type": "sent", "at": "2025-03-01T10:00:00Z"})
    assert problems(doc, ev, {"id": "1", "type": "queued", "at": "yesterday"})
    assert problems(doc, ev, {"id": "1", "type": "queued"})
    assert problems(doc, ev, {"id": "1", "type": "queued", "at": "2025-03-01T10:00:00Z", "x": 1})
    addr = {"$ref": "#/components/schemas/Addresses"}
    assert problems(doc, addr, ["a@b", {"address": "c@d"}]) == []
    assert problems(doc, addr, 7)


# ---- the server ------------------------------------------------------------------------

class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        ctype = self.headers.get("content-type", "")
        self.json = json.loads(body) if ctype.startswith("application/json") else None


def request(p, method, path, body=None, key=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", p.ports["http"], timeout=20)
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
        return Answer(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def documented(doc, path, method, status):
    """The documented response of an operation for a status."""
    op = doc["paths"][path][method]
    resp = op["responses"].get(str(status)) or op["responses"].get("%dXX" % (status // 100))
    assert resp is not None, "%s %s does not document %d" % (method.upper(), path, status)
    return resolve(doc, resp)


def check(doc, path, method, a, status):
    """a has the status, the documented required headers, and a body that matches."""
    assert a.status == status, (a.status, a.body)
    resp = documented(doc, path, method, status)
    for name, h in resp.get("headers", {}).items():
        h = resolve(doc, h)
        if h.get("required"):
            assert name.lower() in a.headers, "%s missing in %d answer" % (name, status)
        if name.lower() in a.headers:
            v = a.headers[name.lower()]
            hs = resolve(doc, h["schema"])
            if hs.get("type") == "integer":
                assert v.isdigit(), (name, v)
            elif "const" in hs:
                assert v == hs["const"], (name, v)
    content = resp.get("content", {})
    ctype = a.headers.get("content-type", "").split(";")[0]
    assert ctype in content, "%s not documented for %d" % (ctype, status)
    if ctype == "application/json":
        bad = problems(doc, content[ctype]["schema"], a.json)
        assert not bad, "%s %s %d: %s\n%s" % (method.upper(), path, status, bad, a.json)
    return a


@pytest.fixture
def key(petrel):
    return petrel.cli("apikey", "create", "docs").out.strip()


def send_body(**fields):
    msg = {"from": ALICE, "to": [BOB, "zed@remote.example"], "subject": "Hi", "text": "Hello\n",
           "tags": ["t"], "metadata": {"n": 1}}
    msg.update(fields)
    return msg


def test_every_documented_path_and_method_exists(petrel, doc, key):
    sample = {"{id}": "nosuchmessage"}
    for path, item in doc["paths"].items():
        concrete = path
        for k, v in sample.items():
            concrete = concrete.replace(k, v)
        for method in METHODS:
            if method not in item:
                continue
            body = {} if method == "post" else None
            a = request(petrel, method.upper(), concrete, body=body, key=key)
            assert a.status != 405, (method, path)
            if a.status == 404:  # only "no such message", never "no such path"
                assert a.json["error"]["field"] == "id", (method, path, a.json)
            assert str(a.status) in item[method]["responses"], (method, path, a.status)
    # and what is not documented is not there
    assert request(petrel, "GET", "/v1/nothing", key=key).status == 404
    assert request(petrel, "DELETE", "/v1/events", key=key).status == 405


def test_sends_and_reads_match_the_document(petrel, doc, key):
    a = check(doc, "/v1/messages", "post",
              request(petrel, "POST", "/v1/messages", send_body(colour="red"), key=key), 202)
    assert a.json["warnings"]
    mid = a.json["id"]
    raw = b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: r\r\n\r\nraw\r\n"
    check(doc, "/v1/messages/raw", "post",
          request(petrel, "POST", "/v1/messages/raw",
                  {"from": ALICE, "to": [BOB], "raw": base64.b64encode(raw).decode()},
                  key=key), 202)
    check(doc, "/v1/messages/raw", "post",
          request(petrel, "POST", "/v1/messages/raw?from=%s&to=%s" % (ALICE, BOB), raw,
                  key=key, headers={"Content-Type": "message/rfc822"}), 202)
    m = check(doc, "/v1/messages/{id}", "get",
              request(petrel, "GET", "/v1/messages/" + mid, key=key), 200)
    assert {r["address"] for r in m.json["recipients"]} == {BOB, "zed@remote.example"}
    # wait for the remote recipient's attempt (deferred: the test DNS refuses)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        page = check(doc, "/v1/events", "get",
                     request(petrel, "GET", "/v1/events?after=0&limit=1000&x=1", key=key), 200)
        if any(e["type"] == "deferred" for e in page.json["events"]):
            break
        time.sleep(0.2)
    types = {e["type"] for e in page.json["events"]}
    assert {"queued", "delivered", "deferred"} <= types, types
    assert page.json["warnings"]
    check(doc, "/v1/messages/{id}", "get",
          request(petrel, "GET", "/v1/messages/" + mid, key=key), 200)
    check(doc, "/v1/health", "get", request(petrel, "GET", "/v1/health"), 200)
    check(doc, "/metrics", "get", request(petrel, "GET", "/metrics"), 200)


def test_errors_match_the_document(petrel, doc, key):
    def post(body, **kw):
        return request(petrel, "POST", "/v1/messages", body, **kw)

    e = check(doc, "/v1/messages", "post", post(send_body(to=["bob@"]), key=key), 400)
    assert e.json["error"]["code"] == "invalid_field" and e.json["error"]["field"] == "to[0]"
    e = check(doc, "/v1/messages", "post", post("{", key=key,
                                                headers={"Content-Type": "application/json"}), 400)
    assert e.json["error"]["code"] == "invalid_json"
    check(doc, "/v1/events", "get", request(petrel, "GET", "/v1/events?limit=0", key=key), 400)
    e = check(doc, "/v1/messages", "post", post(send_body()), 401)
    assert e.json["error"]["code"] == "unauthorized"
    check(doc, "/v1/events", "get", request(petrel, "GET", "/v1/events", key="pk_wrong"), 401)
    check(doc, "/v1/messages", "post", post(send_body(**{"from": "x@elsewhere.test"}), key=key),
          403)
    e = check(doc, "/v1/messages/{id}", "get",
              request(petrel, "GET", "/v1/messages/nope", key=key), 404)
    assert e.json["error"]["code"] == "not_found"
    check(doc, "/v1/messages", "post",
          post("x", key=key, headers={"Content-Type": "text/plain"}), 415)
    idem = {"Idempotency-Key": "k1"}
    first = check(doc, "/v1/messages", "post", post(send_body(), key=key, headers=idem), 202)
    again = check(doc, "/v1/messages", "post", post(send_body(), key=key, headers=idem), 202)
    assert again.headers["idempotent-replayed"] == "true" and again.json == first.json
    e = check(doc, "/v1/messages", "post", post(send_body(subject="other"), key=key,
                                                headers=idem), 422)
    assert e.json["error"]["code"] == "idempotency_key_reused"
    slow = petrel.cli("apikey", "create", "slow", "--rate", "1/h").out.strip()
    check(doc, "/v1/messages", "post", post(send_body(), key=slow), 202)
    e = check(doc, "/v1/messages", "post", post(send_body(), key=slow), 429)
    assert e.json["error"]["code"] == "rate_limited"


def test_too_large_answers_match_the_document(petrel_factory, doc):
    p = petrel_factory({"smtp": {"max_message_size": "2K"}})
    p.provision()
    p.start()
    key = p.cli("apikey", "create", "docs").out.strip()
    e = check(doc, "/v1/messages", "post",
              request(p, "POST", "/v1/messages", send_body(text="x" * 4000), key=key), 413)
    assert e.json["error"]["code"] == "message_too_large"
    e = check(doc, "/v1/messages", "post",
              request(p, "POST", "/v1/messages", send_body(text="x" * 100000), key=key), 413)
    assert e.json["error"]["code"] == "payload_too_large"


# ---- webhooks ------------------------------------------------------------------------------

def test_webhook_posts_match_the_document(petrel, doc, key):
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r = petrel.cli("webhook", "add", "http://127.0.0.1:%d/" % server.server_address[1])
        hook = r.err.split()[1]
        petrel.cli("webhook", "test", hook)
        assert request(petrel, "POST", "/v1/messages", send_body(to=[BOB]), key=key).status == 202
        deadline = time.monotonic() + 20
        while len(got) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.shutdown()
        server.server_close()
    assert len(got) == 3  # the test event, queued, delivered
    op = doc["webhooks"]["deliveryEvent"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    for headers, body in got:
        assert not problems(doc, schema, body), (problems(doc, schema, body), body)
        for prm in op["parameters"]:
            prm = resolve(doc, prm)
            assert prm["in"] == "header" and prm["name"] in headers
            assert not problems(doc, prm["schema"], headers[prm["name"]])
    assert [b["type"] for _, b in got] == ["test", "queued", "delivered"]
