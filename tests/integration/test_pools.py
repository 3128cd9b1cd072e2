"""Source-IP pools, smarthost AUTH and delay reports, against the DNS server and SMTP
sinks of test_outbound.py.

The sinks listen on 127.0.0.2; pools use other loopback addresses (127.0.0.5,
127.0.0.6) as sources, so the address a sink sees as its peer is the one petrel bound.
198.51.100.7 and 203.0.113.9 (documentation networks) are addresses this machine
does not have: they cannot be bound.
"""
import os
import smtplib
import ssl
import tempfile
import time

from aiosmtpd.smtp import AuthResult

import mailstore
from conftest import PASSWORDS, wait_port
from test_http import make_key, request
from test_outbound import (ALICE, Sink, events, final, message, tls_client_ctx, wait,
                           world)  # noqa: F401 (world is a fixture)

BOB = "bob@example.test"


def submit_as(p, user, rcpts, msg=None, **kw):
    msg = msg if msg is not None else message(to=rcpts[0])
    with smtplib.SMTP("127.0.0.1", p.ports["submission"]) as s:
        s.starttls(context=tls_client_ctx())
        s.login(user, PASSWORDS[user])
        s.sendmail(user, rcpts, msg, **kw)
    return msg


def source_ips(p, rcpt):
    con = mailstore.connect(p)
    try:
        return [r[0] for r in con.execute(
            "SELECT source_ip FROM event WHERE rcpt = ? AND kind = 'delivered' ORDER BY id",
            (rcpt,))]
    finally:
        con.close()


def route_to_sink(world, domain):
    world.zone.mx(domain, 10, "mx." + domain)
    world.zone.a("mx." + domain, "127.0.0.2")


def reports(p, address=ALICE):
    return [m for m in mailstore.messages(p, address) if b"multipart/report" in m]


def sink_tls_ctx(p):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(p.data_dir, "tls/cert.pem"),
                        os.path.join(p.data_dir, "tls/key.pem"))
    return ctx


# ---- pools ------------------------------------------------------------------------------

def test_mail_leaves_from_the_pools_addresses_in_turn_with_their_ehlo_names(world):
    route_to_sink(world, "turns.example")
    sink = world.sink("127.0.0.2")
    p = world.server(extra={
        "pool.main": {"addresses": "127.0.0.5 out5.example.test, 127.0.0.6",
                      "ehlo": "pool.example.test"},
        "pools": {"default": "main"}})
    for i in range(4):
        rcpt = "u%d@turns.example" % i
        submit_as(p, ALICE, [rcpt])
        assert final(p, rcpt) == ["queued", "delivered"]
    peers = [m["peer"] for m in sink.messages]
    assert sorted(set(peers)) == ["127.0.0.5", "127.0.0.6"]
    assert all(a != b for a, b in zip(peers, peers[1:])), peers
    for i, m in enumerate(sink.messages):
        # the receipt names the address the sink saw
        assert source_ips(p, "u%d@turns.example" % i) == [m["peer"]]
        assert m["helo"] == ("out5.example.test" if m["peer"] == "127.0.0.5"
                             else "pool.example.test")
    assert "source=127.0.0." in p.log()


def test_an_address_that_cannot_be_bound_is_taken_out_and_the_other_used(world):
    route_to_sink(world, "unbound.example")
    sink = world.sink("127.0.0.2")
    p = world.server(extra={"pool.main": {"addresses": "198.51.100.7, 127.0.0.6"},
                            "pools": {"default": "main"}})
    for i in range(3):
        rcpt = "b%d@unbound.example" % i
        submit_as(p, ALICE, [rcpt])
        assert final(p, rcpt) == ["queued", "delivered"]  # no deferral on the way
    assert [m["peer"] for m in sink.messages] == ["127.0.0.6"] * 3
    log = p.log()
    assert "pool=main source=198.51.100.7 event=source-suspended" in log
    assert log.count("event=source-suspended") == 1  # left out: not tried again


def test_an_ipv4_destination_gets_only_ipv4_sources(world):
    route_to_sink(world, "family.example")
    sink = world.sink("127.0.0.2")
    p = world.server(extra={"pool.mixed": {"addresses": "::1, 2001:db8::25, 127.0.0.6"},
                            "pools": {"default": "mixed"}})
    for i in range(2):
        submit_as(p, ALICE, ["f%d@family.example" % i])
        assert final(p, "f%d@family.example" % i) == ["queued", "delivered"]
    assert [m["peer"] for m in sink.messages] == ["127.0.0.6"] * 2
    assert "event=source-suspended" not in p.log()  # skipped, not failed


def test_a_pool_whose_addresses_all_fail_defers_with_the_reason(world):
    route_to_sink(world, "nosource.example")
    sink = world.sink("127.0.0.2")
    p = world.server(queue={"retry": "1h"},
                     extra={"pool.dead": {"addresses": "198.51.100.7, 203.0.113.9"},
                            "pools": {"default": "dead"}})
    submit_as(p, ALICE, ["x@nosource.example"])
    ev = wait(lambda: [e for e in events(p, "x@nosource.example") if e[2] == "deferred"],
              what="a deferral")
    assert "pool dead" in ev[0][6]
    assert sink.messages == []


def test_the_pool_is_chosen_by_sender_address_then_domain(world):
    route_to_sink(world, "choose.example")
    sink = world.sink("127.0.0.2")
    p = world.server(extra={
        "pool.main": {"addresses": "127.0.0.5"},
        "pool.vip": {"addresses": "127.0.0.6"},
        "pools": {"example.test": "main", BOB: "vip"}})
    submit_as(p, ALICE, ["a@choose.example"])
    assert final(p, "a@choose.example")[-1] == "delivered"
    submit_as(p, BOB, ["b@choose.example"])
    assert final(p, "b@choose.example")[-1] == "delivered"
    by_rcpt = {m["rcpts"][0]: m["peer"] for m in sink.messages}
    assert by_rcpt == {"a@choose.example": "127.0.0.5", "b@choose.example": "127.0.0.6"}


def test_without_a_pool_the_system_chooses_the_source(world):
    route_to_sink(world, "plain.example")
    sink = world.sink("127.0.0.2")
    # a pool exists, but nothing maps this sender to it
    p = world.server(extra={"pool.vip": {"addresses": "127.0.0.6"},
                            "pools": {"other.example": "vip"}})
    submit_as(p, ALICE, ["x@plain.example"])
    assert final(p, "x@plain.example")[-1] == "delivered"
    assert sink.messages[0]["peer"] == "127.0.0.1"
    assert source_ips(p, "x@plain.example") == ["127.0.0.1"]


def test_an_api_keys_pool_comes_before_the_senders(world):
    route_to_sink(world, "api.example")
    sink = world.sink("127.0.0.2")
    p = world.server(extra={
        "pool.main": {"addresses": "127.0.0.5"},
        "pool.api": {"addresses": "127.0.0.6"},
        "pools": {"default": "main"}})
    key = make_key(p, "shop", "--pool", "api")
    plain = make_key(p, "plain")
    r = request(p, "POST", "/v1/messages", {"from": ALICE, "to": ["k@api.example"],
                                            "subject": "via key", "text": "Hi\n"}, key=key)
    assert r.status == 202, r.body
    r = request(p, "POST", "/v1/messages", {"from": ALICE, "to": ["n@api.example"],
                                            "subject": "no pool", "text": "Hi\n"}, key=plain)
    assert r.status == 202, r.body
    assert final(p, "k@api.example")[-1] == "delivered"
    assert final(p, "n@api.example")[-1] == "delivered"
    by_rcpt = {m["rcpts"][0]: m["peer"] for m in sink.messages}
    assert by_rcpt == {"k@api.example": "127.0.0.6", "n@api.example": "127.0.0.5"}


class CountingSink(Sink):
    """A sink that counts the transactions it is in the middle of."""
    active = 0
    most = 0

    async def handle_DATA(self, server, session, envelope):
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            return await super().handle_DATA(server, session, envelope)
        finally:
            self.active -= 1


def test_per_address_connection_limits_hold_back_the_next_session(world):
    domains = ["limit%d.example" % i for i in range(3)]
    for d in domains:
        route_to_sink(world, d)
    sink = CountingSink("127.0.0.2", world.port)
    world.sinks.append(sink)
    sink.data_delay = 0.5
    p = world.server(extra={"pool.one": {"addresses": "127.0.0.5", "max_connections": "1"},
                            "pools": {"default": "one"}})
    with smtplib.SMTP("127.0.0.1", p.ports["submission"]) as s:
        s.starttls(context=tls_client_ctx())
        s.login(ALICE, PASSWORDS[ALICE])
        s.sendmail(ALICE, ["x@" + d for d in domains], message(to="x@" + domains[0]))
    for d in domains:
        assert final(p, "x@" + d) == ["queued", "delivered"]
    # three destinations, one address allowed one connection: one session at a time
    assert len({m["session"] for m in sink.messages}) == 3
    assert {m["peer"] for m in sink.messages} == {"127.0.0.5"}
    assert sink.most == 1


# ---- smarthost AUTH ---------------------------------------------------------------------

class Authenticator:
    def __init__(self, user, password):
        self.user, self.password = user.encode(), password.encode()
        self.seen = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.seen.append((mechanism, auth_data.login, auth_data.password))
        ok = auth_data.login == self.user and auth_data.password == self.password
        return AuthResult(success=ok, handled=False)


def smarthost(world, p, auth, **options):
    return world.sink("127.0.0.2", tls_context=sink_tls_ctx(p), authenticator=auth,
                      auth_require_tls=True, **options)


def test_a_smarthost_gets_auth_plain_after_starttls(world):
    p = world.server(routes={"*": "[127.0.0.2]:%d auth=relay:pa:ss" % world.port})
    auth = Authenticator("relay", "pa:ss")
    sink = smarthost(world, p, auth)
    submit_as(p, ALICE, ["x@anywhere.example"])
    assert final(p, "x@anywhere.example") == ["queued", "delivered"]
    assert auth.seen == [("PLAIN", b"relay", b"pa:ss")]
    assert sink.messages[0]["tls"] is True
    log = p.log()
    assert "event=authenticated user=relay" in log
    assert "pa:ss" not in log and "send=AUTH PLAIN (credentials)" in log


def test_a_smarthost_without_plain_gets_auth_login_from_a_file(world):
    fd, secret = tempfile.mkstemp(prefix="petrel-relay-")
    with os.fdopen(fd, "w") as f:
        f.write("relay:from file\r\n")
    try:
        p = world.server(routes={"*": "[127.0.0.2]:%d auth-file=%s" % (world.port, secret)})
        auth = Authenticator("relay", "from file")
        smarthost(world, p, auth, auth_exclude_mechanism=["PLAIN"])
        submit_as(p, ALICE, ["y@anywhere.example"])
        assert final(p, "y@anywhere.example") == ["queued", "delivered"]
        assert auth.seen == [("LOGIN", b"relay", b"from file")]
    finally:
        os.unlink(secret)


def test_refused_credentials_defer_with_the_smarthosts_reply(world):
    p = world.server(queue={"retry": "1h"},
                     routes={"*": "[127.0.0.2]:%d auth=relay:wrong" % world.port})
    auth = Authenticator("relay", "right")
    sink = smarthost(world, p, auth)
    submit_as(p, ALICE, ["z@anywhere.example"])
    ev = wait(lambda: [e for e in events(p, "z@anywhere.example") if e[2] == "deferred"],
              what="a deferral")
    assert "refused AUTH as relay" in ev[0][6] and "535" in ev[0][6]
    assert sink.messages == []


def test_credentials_are_never_sent_to_a_host_without_starttls(world):
    p = world.server(queue={"retry": "1h"},
                     routes={"*": "[127.0.0.2]:%d auth=relay:secret" % world.port})
    auth = Authenticator("relay", "secret")
    sink = world.sink("127.0.0.2", authenticator=auth, auth_require_tls=False)
    submit_as(p, ALICE, ["t@anywhere.example"])
    ev = wait(lambda: [e for e in events(p, "t@anywhere.example") if e[2] == "deferred"],
              what="a deferral")
    assert "TLS is required" in ev[0][6]
    assert auth.seen == [] and sink.messages == []


def test_an_unreadable_auth_file_defers_with_the_reason(world):
    world.sink("127.0.0.2")
    p = world.server(queue={"retry": "1h"},
                     routes={"*": "[127.0.0.2]:%d auth-file=/nonexistent/x" % world.port})
    submit_as(p, ALICE, ["f@anywhere.example"])
    ev = wait(lambda: [e for e in events(p, "f@anywhere.example") if e[2] == "deferred"],
              what="a deferral")
    assert "auth-file /nonexistent/x: cannot open" in ev[0][6]


# ---- delay reports ----------------------------------------------------------------------

def test_a_delayed_recipient_is_reported_once_as_notify_allows(world):
    route_to_sink(world, "late.example")
    sink = world.sink("127.0.0.2")
    later = ["451 4.2.0 Try later"] * 4 + ["250 2.1.5 OK"]
    for r in ("plain", "never", "success"):
        sink.rcpt_replies[r + "@late.example"] = list(later)
    p = world.server(queue={"delay_warning": "2s"})
    submit_as(p, ALICE, ["plain@late.example"], message(subject="slow one"))
    submit_as(p, ALICE, ["never@late.example"], rcpt_options=["NOTIFY=NEVER"])
    submit_as(p, ALICE, ["success@late.example"], rcpt_options=["NOTIFY=SUCCESS"])
    for r in ("plain", "never", "success"):
        k = final(p, r + "@late.example")
        assert k[-1] == "delivered" and k.count("deferred") >= 3, k
    time.sleep(1.0)  # any report would be committed with the last outcome
    got = reports(p)
    delayed = [m for m in got if b"Action: delayed" in m]
    assert len(delayed) == 1, [m[:300] for m in got]
    d = delayed[0]
    for needle in (b"Subject: Delayed Mail (still being retried)",
                   b"Final-Recipient: rfc822; plain@late.example",
                   b"Status: 4.2.0", b"Diagnostic-Code: smtp; 451 4.2.0 Try later",
                   b"Will-Retry-Until: ", b"Subject: slow one",
                   b"Content-Type: text/rfc822-headers"):
        assert needle in d, needle
    # NOTIFY=SUCCESS: the success report only (the sink speaks no DSN: relayed)
    success = [m for m in got if b"Action: relayed" in m]
    assert len(success) == 1 and b"success@late.example" in success[0]
    assert len(got) == 2  # nothing for NOTIFY=NEVER, no second delay report


def test_no_delay_report_goes_to_the_null_sender_or_when_disabled(world):
    route_to_sink(world, "late2.example")
    sink = world.sink("127.0.0.2")
    sink.rcpt_replies["x@late2.example"] = ["451 4.2.0 later"] * 3 + ["250 OK"]
    sink.rcpt_replies["y@late2.example"] = ["451 4.2.0 later"] * 3 + ["250 OK"]
    p = world.server(queue={"delay_warning": "1s"})
    p.cli("alias", "add", "fwd@example.test", "x@late2.example")
    with smtplib.SMTP("127.0.0.1", p.ports["smtp"]) as s:
        s.sendmail("", ["fwd@example.test"], message(to="fwd@example.test"))
    assert final(p, "x@late2.example")[-1] == "delivered"
    p.stop()
    p.write_config({"dns": {"resolver": "127.0.0.1:%d" % world.dns_port},
                    "queue": {"mx_port": str(world.port), "retry": "1s",
                              "delay_warning": "0"}})
    p.start()
    assert wait_port(p.ports["submission"])  # "ready" is already in the output file
    submit_as(p, ALICE, ["y@late2.example"])
    assert final(p, "y@late2.example")[-1] == "delivered"
    time.sleep(1.0)
    assert reports(p) == []
    assert "delay_report=1" not in p.log()


# ---- configuration errors ---------------------------------------------------------------

def config_error(petrel_factory, extra):
    p = petrel_factory(extra)
    r = p.cli("check-config", check=False)
    assert r.returncode != 0
    lines = open(p.config_path).read().split("\n")
    return r.err, lines


def line_of(lines, text):
    return next(i + 1 for i, l in enumerate(lines) if l.startswith(text))


def test_config_errors_name_the_file_and_line(petrel_factory):
    err, lines = config_error(petrel_factory, {"pool.main": {"addresses": "127.0.0.5"},
                                               "pools": {"example.test": "nosuch"}})
    assert "petrel.conf:%d: [pools] example.test: no pool named 'nosuch'" % line_of(
        lines, "example.test = nosuch") in err, err
    err, lines = config_error(petrel_factory, {"pool.main": {"addresses": "127.0.0.5, 10.0.0"}})
    assert "petrel.conf:%d: [pool.main] addresses: not an IP address: '10.0.0'" % line_of(
        lines, "addresses =") in err, err
    err, lines = config_error(petrel_factory, {"pool.main": {"ehlo": "x.example"}})
    assert "petrel.conf:%d: [pool.main] needs addresses" % line_of(lines, "[pool.main]") in err
    err, lines = config_error(petrel_factory, {"routes": {"*": "[127.0.0.2] auth=nopassword"}})
    assert "petrel.conf:%d: [routes] *: credentials must be USER:PASSWORD" % line_of(
        lines, "* =") in err, err
    # and a good one is shown back
    p = petrel_factory({"pool.main": {"addresses": "127.0.0.5 a.example.test, ::1",
                                      "max_connections": "3"},
                        "pools": {"default": "main"}})
    out = p.cli("check-config").out
    assert ("[pool.main]\naddresses = 127.0.0.5 a.example.test, ::1\nehlo =\n"
            "max_connections = 3\n") in out
    assert "[pools]\ndefault = main\n" in out
