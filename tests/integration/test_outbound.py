"""Outbound delivery: the queue runner, routing and the SMTP client, against a DNS
server and SMTP sinks run by the test, checked in the store (events, queue, bounces).

The DNS server (dnslib) answers on a loopback port set as `[dns] resolver`; the sinks
(aiosmtpd) listen on 127.0.0.2 and 127.0.0.3 on one port, set as `[queue] mx_port`, and
answer each recipient as a test tells them. Mail is submitted by alice@example.test, a
local account, so bounces land in her INBOX.
"""
import asyncio
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import time

import pytest
from aiosmtpd.controller import Controller
from dnslib import MX, QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

import mailstore
from conftest import PASSWORDS

ALICE = "alice@example.test"


# ---- the world: DNS and sinks ----------------------------------------------------------

class Zone(BaseResolver):
    """Records by (name, type); unknown names are NXDOMAIN, known ones without the
    type are NODATA."""

    def __init__(self):
        self.records = {}
        self.names = set()

    def add(self, name, qtype, rdata):
        name = name.lower().rstrip(".")
        self.names.add(name)
        self.records.setdefault((name, qtype), []).append(rdata)

    def mx(self, domain, pref, host):
        self.add(domain, "MX", MX(host, pref))

    def a(self, name, ip):
        self.add(name, "A", A(ip))

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        qtype = QTYPE[request.q.qtype]
        if name not in self.names:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rdata in self.records.get((name, qtype), []):
            reply.add_answer(RR(request.q.qname, getattr(QTYPE, qtype), rdata=rdata, ttl=60))
        return reply


class QuietLogger(DNSLogger):
    def __init__(self):
        super().__init__(log="-recv,-send,-request,-reply,-truncated,-error,-data")


class Sink:
    """An SMTP server on host:port. rcpt_replies maps an address to the replies its RCPT
    gets, in turn (the last one repeats); data_replies likewise for the end of data."""

    def __init__(self, host, port, tls_context=None, **smtp_options):
        self.host, self.port = host, port
        self.messages = []
        self.rcpt_replies = {}
        self.data_replies = []
        self.data_delay = 0.0
        self.rcpts_seen = []
        kwargs = dict({"enable_SMTPUTF8": True}, **smtp_options)
        if tls_context:
            kwargs["tls_context"] = tls_context
        self.controller = Controller(self, hostname=host, port=port, **kwargs)
        self.controller.start()

    def stop(self):
        self.controller.stop()

    @staticmethod
    def _next(replies):
        return replies.pop(0) if len(replies) > 1 else replies[0]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpts_seen.append(address)
        replies = self.rcpt_replies.get(address.lower())
        reply = self._next(replies) if replies else "250 2.1.5 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        reply = self._next(self.data_replies) if self.data_replies else "250 2.0.0 OK queued"
        if reply.startswith("250"):
            self.messages.append({
                "from": envelope.mail_from, "rcpts": list(envelope.rcpt_tos),
                "data": envelope.original_content, "peer": session.peer[0],
                "helo": session.host_name,
                "session": id(session), "tls": session.ssl is not None,
                "options": list(envelope.mail_options),
            })
        return reply


def port_free_on(*hosts):
    """A TCP port bindable on every host."""
    for _ in range(50):
        s = socket.socket()
        s.bind((hosts[0], 0))
        port = s.getsockname()[1]
        others = []
        try:
            for h in hosts[1:]:
                o = socket.socket()
                o.bind((h, port))
                others.append(o)
        except OSError:
            continue
        finally:
            s.close()
            for o in others:
                o.close()
        return port
    raise AssertionError("no free port")


def udp_tcp_port():
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        return port
    raise AssertionError("no free port")


class World:
    def __init__(self, factory):
        self.factory = factory
        self.zone = Zone()
        self.dns_port = udp_tcp_port()
        self.dns = [DNSServer(self.zone, address="127.0.0.1", port=self.dns_port, tcp=tcp,
                              logger=QuietLogger()) for tcp in (False, True)]
        for d in self.dns:
            d.start_thread()
        self.port = port_free_on("127.0.0.2", "127.0.0.3")
        self.sinks = []

    def sink(self, host, tls_context=None, **smtp_options):
        s = Sink(host, self.port, tls_context, **smtp_options)
        self.sinks.append(s)
        return s

    def server(self, queue=None, routes=None, provision=True, extra=None):
        cfg = {"dns": {"resolver": "127.0.0.1:%d" % self.dns_port},
               "queue": {"mx_port": str(self.port), "retry": "1s"}}
        cfg["queue"].update(queue or {})
        if routes:
            cfg["routes"] = routes
        for section, kv in (extra or {}).items():
            cfg.setdefault(section, {}).update(kv)
        p = self.factory(cfg)
        if provision:
            p.provision()
        p.start()
        return p

    def close(self):
        for s in self.sinks:
            try:
                s.stop()
            except Exception:
                pass
        for d in self.dns:
            d.stop()


@pytest.fixture
def world(petrel_factory):
    w = World(petrel_factory)
    yield w
    w.close()


# ---- helpers ---------------------------------------------------------------------------

def message(subject="outbound test", body="Hello from petrel.\r\n", to="x@remote.example",
            extra=""):
    return ("From: Alice <alice@example.test>\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s@example.test>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n%s\r\n%s"
            % (to, subject, os.urandom(8).hex(), extra, body)).encode()


def tls_client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def submit(p, rcpts, msg=None, sender=ALICE, **kw):
    """Sends as alice through submission (STARTTLS + AUTH)."""
    msg = msg if msg is not None else message(to=rcpts[0])
    with smtplib.SMTP("127.0.0.1", p.ports["submission"]) as s:
        s.starttls(context=tls_client_ctx())
        s.login(ALICE, PASSWORDS[ALICE])
        s.sendmail(sender, rcpts, msg, **kw)
    return msg


def wait(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def events(p, rcpt=None):
    """(queue_id, rcpt, kind, mx, remote_ip, tls, reply, attempt) rows, oldest first."""
    con = mailstore.connect(p)
    try:
        sql = ("SELECT queue_id, rcpt, kind, mx, remote_ip, tls, reply, attempt FROM event "
               + ("WHERE rcpt = ? " if rcpt else "") + "ORDER BY id")
        return con.execute(sql, (rcpt,) if rcpt else ()).fetchall()
    finally:
        con.close()


def kinds(p, rcpt):
    return [e[2] for e in events(p, rcpt)]


def final(p, rcpt):
    """The rcpt's event kinds once one is final."""
    def done():
        k = kinds(p, rcpt)
        return k if k and k[-1] in ("delivered", "bounced", "expired") else None
    return wait(done, what="a final event for " + rcpt)


def queue_empty(p):
    return mailstore.count(p, "queue_message") == 0


def inbox(p, address=ALICE):
    return mailstore.messages(p, address)


def dsns(p):
    return [m for m in inbox(p) if b"multipart/report" in m]


def sent_body(delivered, original):
    """What the sink got is petrel's Received: field and the message as submitted."""
    assert b"Return-Path:" not in delivered
    assert delivered.startswith(b"Received: from ")
    assert delivered.endswith(original)


# ---- delivery ----------------------------------------------------------------------------

def test_a_message_is_delivered_to_the_mx_host(world):
    world.zone.mx("remote.example", 10, "mx1.remote.example")
    world.zone.a("mx1.remote.example", "127.0.0.2")
    sink = world.sink("127.0.0.2")
    p = world.server()
    msg = submit(p, ["bob@remote.example"],
                 message(to="bob@remote.example", body=".a dot\r\n..two\r\n.\r\nend\r\n"))
    assert final(p, "bob@remote.example") == ["queued", "delivered"]
    assert len(sink.messages) == 1
    m = sink.messages[0]
    assert m["from"] == ALICE and m["rcpts"] == ["bob@remote.example"]
    sent_body(m["data"], msg)
    ev = events(p, "bob@remote.example")[-1]
    assert ev[3] == "mx1.remote.example" and ev[4] == "127.0.0.2"
    assert ev[6].startswith("250 2.0.0") and ev[7] == 1
    wait(lambda: queue_empty(p), what="an empty queue")
    assert p.cli("store", "check").out == "ok\n"
    assert dsns(p) == []


def test_mx_hosts_are_tried_by_preference_and_the_next_when_one_is_down(world):
    world.zone.mx("pref.example", 20, "mx2.pref.example")
    world.zone.mx("pref.example", 10, "mx1.pref.example")
    world.zone.a("mx1.pref.example", "127.0.0.2")
    world.zone.a("mx2.pref.example", "127.0.0.3")
    second = world.sink("127.0.0.3")
    p = world.server()
    submit(p, ["a@pref.example"])
    assert final(p, "a@pref.example")[-1] == "delivered"
    assert events(p, "a@pref.example")[-1][3] == "mx2.pref.example"
    assert len(second.messages) == 1
    assert "event=hop-failed" in p.log() and "mx1.pref.example" in p.log()
    first = world.sink("127.0.0.2")  # the preferred host is back
    submit(p, ["b@pref.example"])
    assert final(p, "b@pref.example")[-1] == "delivered"
    assert events(p, "b@pref.example")[-1][3] == "mx1.pref.example"
    assert len(first.messages) == 1 and len(second.messages) == 1


def test_a_domain_without_mx_is_its_own_mail_host(world):
    world.zone.a("implicit.example", "127.0.0.2")
    sink = world.sink("127.0.0.2")
    p = world.server()
    submit(p, ["x@implicit.example"])
    assert final(p, "x@implicit.example")[-1] == "delivered"
    assert events(p, "x@implicit.example")[-1][3] == "implicit.example"
    assert len(sink.messages) == 1


def test_a_null_mx_bounces_at_once_with_a_report(world):
    world.zone.mx("nomail.example", 0, ".")
    sink = world.sink("127.0.0.2")
    p = world.server()
    submit(p, ["x@nomail.example"])
    assert final(p, "x@nomail.example") == ["queued", "bounced"]
    assert "null MX" in events(p, "x@nomail.example")[-1][6]
    report = wait(lambda: dsns(p), what="a bounce")[0]
    assert b"Status: 5.1.10" in report and b"Final-Recipient: rfc822; x@nomail.example" in report
    assert sink.messages == [] and sink.rcpts_seen == []
    wait(lambda: queue_empty(p), what="an empty queue")


def test_a_domain_that_does_not_exist_bounces(world):
    p = world.server()
    submit(p, ["x@nowhere.example"])
    assert final(p, "x@nowhere.example")[-1] == "bounced"
    report = wait(lambda: dsns(p), what="a bounce")[0]
    assert b"Status: 5.1.2" in report and b"does not exist" in report


def test_a_temporary_failure_is_retried_until_it_succeeds(world):
    world.zone.mx("retry.example", 10, "mx.retry.example")
    world.zone.a("mx.retry.example", "127.0.0.2")
    sink = world.sink("127.0.0.2")
    sink.data_replies = ["451 4.3.0 Try again later", "250 2.0.0 OK"]
    p = world.server()
    msg = submit(p, ["r@retry.example"])
    assert final(p, "r@retry.example") == ["queued", "deferred", "delivered"]
    ev = events(p, "r@retry.example")
    assert ev[1][6] == "451 4.3.0 Try again later" and ev[1][7] == 1 and ev[2][7] == 2
    assert len(sink.messages) == 1
    sent_body(sink.messages[0]["data"], msg)
    assert dsns(p) == []


def test_a_permanent_failure_sends_a_report_to_the_local_sender(world):
    world.zone.mx("perm.example", 10, "mx.perm.example")
    world.zone.a("mx.perm.example", "127.0.0.2")
    sink = world.sink("127.0.0.2")
    sink.rcpt_replies["gone@perm.example"] = ["550 5.1.1 <gone@perm.example>: no such user"]
    p = world.server()
    submit(p, ["gone@perm.example"], message(subject="will bounce", to="gone@perm.example"))
    assert final(p, "gone@perm.example") == ["queued", "bounced"]
    report = wait(lambda: dsns(p), what="a bounce")[0]
    assert report.startswith(b"Return-Path: <>\r\n")
    for needle in (b"From: Mail Delivery System <MAILER-DAEMON@mail.example.test>",
                   b"Auto-Submitted: auto-replied",
                   b"report-type=delivery-status",
                   b"Content-Type: message/delivery-status",
                   b"Reporting-MTA: dns; mail.example.test",
                   b"Final-Recipient: rfc822; gone@perm.example",
                   b"Action: failed", b"Status: 5.1.1",
                   b"Remote-MTA: dns; mx.perm.example",
                   b"Diagnostic-Code: smtp; 550 5.1.1 <gone@perm.example>: no such user",
                   b"Content-Type: text/rfc822-headers",
                   b"Subject: will bounce"):
        assert needle in report, needle
    assert b"Hello from petrel" not in report  # headers only without RET=FULL
    assert sink.messages == []
    wait(lambda: queue_empty(p), what="an empty queue")
    assert p.cli("store", "check").out == "ok\n"


def test_ret_full_returns_the_whole_message(world):
    world.zone.mx("full.example", 10, "mx.full.example")
    world.zone.a("mx.full.example", "127.0.0.2")
    sink = world.sink("127.0.0.2")
    sink.rcpt_replies["x@full.example"] = ["550 5.7.1 refused"]
    p = world.server()
    submit(p, ["x@full.example"], message(to="x@full.example"), mail_options=["RET=FULL"])
    report = wait(lambda: dsns(p), what="a bounce")[0]
    assert b"Content-Type: message/rfc822" in report and b"Hello from petrel" in report


def test_a_message_past_max_age_expires_with_a_report(world):
    world.zone.mx("slow.example", 10, "mx.slow.example")
    world.zone.a("mx.slow.example", "127.0.0.2")
    sink = world.sink("127.0.0.2")
    sink.rcpt_replies["s@slow.example"] = ["452 4.2.2 Mailbox full"]
    p = world.server(queue={"max_age": "3s"})
    submit(p, ["s@slow.example"])
    k = final(p, "s@slow.example")
    assert k[0] == "queued" and k[-1] == "expired" and "deferred" in k
    report = wait(lambda: dsns(p), what="a bounce")[0]
    assert b"Action: failed" in report and b"Status: 4.2.2" in report
    assert b"452 4.2.2 Mailbox full" in report
    wait(lambda: queue_empty(p), what="an empty queue")


def test_recipients_of_one_transaction_get_their_own_outcomes(world):
    world.zone.mx("mixed.example", 10, "mx.mixed.example")
    world.zone.a("mx.mixed.example", "127.0.0.2")
    sink = world.sink("127.0.0.2")
    sink.rcpt_replies["later@mixed.example"] = ["450 4.2.1 Greylisted", "250 OK"]
    sink.rcpt_replies["gone@mixed.example"] = ["550 5.1.1 Unknown user"]
    p = world.server()
    rcpts = ["ok@mixed.example", "later@mixed.example", "gone@mixed.example"]
    submit(p, rcpts, message(to=rcpts[0]))
    assert final(p, "ok@mixed.example") == ["queued", "delivered"]
    assert final(p, "gone@mixed.example") == ["queued", "bounced"]
    assert final(p, "later@mixed.example") == ["queued", "deferred", "delivered"]
    assert [m["rcpts"] for m in sink.messages] == [["ok@mixed.example"],
                                                  ["later@mixed.example"]]
    report = wait(lambda: dsns(p), what="a bounce")
    assert len(report) == 1
    assert b"gone@mixed.example" in report[0] and b"ok@mixed.example" not in report[0].split(
        b"text/rfc822-headers")[0].split(b"message/delivery-status")[1]
    wait(lambda: queue_empty(p), what="an empty queue")


def test_a_connection_is_reused_for_the_next_message_to_the_same_host(world):
    world.zone.mx("reuse.example", 10, "mx.reuse.example")
    world.zone.a("mx.reuse.example", "127.0.0.2")
    sink = world.sink("127.0.0.2")
    sink.data_delay = 1.0  # the next messages queue up behind the first
    p = world.server(queue={"max_connections_per_destination": "1"})
    with smtplib.SMTP("127.0.0.1", p.ports["submission"]) as s:
        s.starttls(context=tls_client_ctx())
        s.login(ALICE, PASSWORDS[ALICE])
        for i in range(3):
            s.sendmail(ALICE, ["u%d@reuse.example" % i], message(to="u%d@reuse.example" % i))
    for i in range(3):
        assert final(p, "u%d@reuse.example" % i)[-1] == "delivered"
    assert len(sink.messages) == 3
    assert len({m["session"] for m in sink.messages}) == 1


def test_starttls_is_used_when_the_sink_offers_it(world):
    world.zone.mx("tls.example", 10, "mx.tls.example")
    world.zone.a("mx.tls.example", "127.0.0.2")
    p = world.server()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(p.data_dir, "tls/cert.pem"),
                        os.path.join(p.data_dir, "tls/key.pem"))
    sink = world.sink("127.0.0.2", tls_context=ctx)
    submit(p, ["t@tls.example"])
    assert final(p, "t@tls.example")[-1] == "delivered"
    assert sink.messages[0]["tls"] is True
    assert events(p, "t@tls.example")[-1][5].startswith("TLSv1.")


def test_a_route_that_verifies_refuses_an_unverifiable_certificate(world):
    p = world.server(routes={"strict.example": "[127.0.0.2] verify"})
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(p.data_dir, "tls/cert.pem"),
                        os.path.join(p.data_dir, "tls/key.pem"))
    sink = world.sink("127.0.0.2", tls_context=ctx)
    submit(p, ["v@strict.example"])
    ev = wait(lambda: [e for e in events(p, "v@strict.example") if e[2] == "deferred"],
              what="a deferral")
    assert "TLS handshake" in ev[0][6] and "certificate verify failed" in ev[0][6]
    assert sink.messages == []


def test_a_message_over_the_servers_size_bounces_without_being_sent(world):
    world.zone.mx("small.example", 10, "mx.small.example")
    world.zone.a("mx.small.example", "127.0.0.2")
    sink = world.sink("127.0.0.2", data_size_limit=1000)
    p = world.server()
    submit(p, ["s@small.example"], message(to="s@small.example", body="x" * 2000 + "\r\n"))
    assert final(p, "s@small.example")[-1] == "bounced"
    report = wait(lambda: dsns(p), what="a bounce")[0]
    assert b"Status: 5.3.4" in report and b"over the limit" in report
    assert sink.rcpts_seen == []


def test_an_utf8_address_bounces_when_the_server_lacks_smtputf8(world):
    world.zone.mx("ascii.example", 10, "mx.ascii.example")
    world.zone.a("mx.ascii.example", "127.0.0.2")
    sink = world.sink("127.0.0.2", enable_SMTPUTF8=False)
    p = world.server()
    rcpt = "j\u00f6rg@ascii.example"
    submit(p, [rcpt], message(to="x@ascii.example"), mail_options=["SMTPUTF8"])
    assert final(p, rcpt)[-1] == "bounced"
    assert "SMTPUTF8" in events(p, rcpt)[-1][6]
    report = wait(lambda: dsns(p), what="a bounce")[0]
    assert b"Status: 5.6.7" in report and b"global-delivery-status" in report
    assert sink.rcpts_seen == []


def test_a_route_requiring_tls_defers_when_the_host_offers_none(world):
    world.sink("127.0.0.2")
    p = world.server(routes={"secure.example": "[127.0.0.2] require-tls"})
    submit(p, ["s@secure.example"])
    ev = wait(lambda: [e for e in events(p, "s@secure.example") if e[2] == "deferred"],
              what="a deferral")
    assert "TLS is required" in ev[0][6]


def test_a_static_route_takes_precedence_over_mx(world):
    world.zone.mx("routed.example", 10, "mx.routed.example")
    world.zone.a("mx.routed.example", "127.0.0.2")
    by_mx = world.sink("127.0.0.2")
    by_route = world.sink("127.0.0.3")
    p = world.server(routes={"routed.example": "[127.0.0.3]:%d" % world.port})
    submit(p, ["r@routed.example"])
    assert final(p, "r@routed.example")[-1] == "delivered"
    assert by_mx.messages == [] and len(by_route.messages) == 1
    assert events(p, "r@routed.example")[-1][4] == "127.0.0.3"


def test_delivery_to_another_petrel_uses_pipelining_chunking_and_8bitmime(world,
                                                                          petrel_factory):
    remote = petrel_factory({"server": {"hostname": "mx.remote.test"}})
    remote.cli("domain", "add", "remote.test")
    remote.cli("user", "add", "carol@remote.test", "--password-stdin", input="carol-pw-1\n")
    remote.start()
    p = world.server(routes={"remote.test": "[127.0.0.1]:%d" % remote.ports["smtp"]})
    body = "Grüße aus dem Test.\r\n.a line with a dot\r\n".encode()
    msg = message(to="carol@remote.test", extra="Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n").rstrip(b"\r\n") + b"\r\n"
    msg = msg.replace(b"Hello from petrel.\r\n", b"") + body
    with smtplib.SMTP("127.0.0.1", p.ports["submission"]) as s:
        s.starttls(context=tls_client_ctx())
        s.login(ALICE, PASSWORDS[ALICE])
        s.sendmail(ALICE, ["carol@remote.test", "dave@remote.test"], msg,
                   mail_options=["BODY=8BITMIME"])
    assert final(p, "carol@remote.test")[-1] == "delivered"
    assert final(p, "dave@remote.test")[-1] == "bounced"
    stored = mailstore.messages(remote, "carol@remote.test")
    assert len(stored) == 1
    # remote's Return-Path and Received, then ours, then the message as submitted
    assert stored[0].startswith(b"Return-Path: <alice@example.test>\r\n")
    assert stored[0].endswith(msg) and stored[0].count(b"Received: from ") == 2
    assert "with ESMTPS" in stored[0].decode("utf-8", "replace")
    log = p.log()
    assert "send=BDAT" in log and "BODY=8BITMIME" in log
    report = wait(lambda: dsns(p), what="a bounce")[0]
    assert b"dave@remote.test" in report and b"550 5.1.1" in report


# ---- restarts -------------------------------------------------------------------------------

def test_a_restart_keeps_the_queue_and_delivers_after(world):
    world.zone.mx("later.example", 10, "mx.later.example")
    world.zone.a("mx.later.example", "127.0.0.2")
    p = world.server()
    submit(p, ["l@later.example"])
    wait(lambda: "deferred" in kinds(p, "l@later.example"), what="a deferral")
    assert p.stop() == 0
    sink = world.sink("127.0.0.2")
    p.start()
    assert final(p, "l@later.example")[-1] == "delivered"
    assert len(sink.messages) == 1
    wait(lambda: queue_empty(p), what="an empty queue")
    assert p.cli("store", "check").out == "ok\n"


def test_a_crash_during_delivery_loses_nothing(world):
    world.zone.mx("crash.example", 10, "mx.crash.example")
    world.zone.a("mx.crash.example", "127.0.0.2")
    sink = world.sink("127.0.0.2")
    sink.data_delay = 2.0
    p = world.server()
    submit(p, ["c@crash.example"])
    wait(lambda: sink.rcpts_seen, what="the delivery to start")
    p.stop(sig=signal.SIGKILL)
    sink.data_delay = 0
    p.start()
    assert final(p, "c@crash.example")[-1] == "delivered"
    # the one unavoidable duplicate: the sink took it while petrel was killed
    assert 1 <= len(sink.messages) <= 2
    wait(lambda: queue_empty(p), what="an empty queue")
    assert p.cli("store", "check").out == "ok\n"
    assert "event=recovered" in p.log()


# ---- the command line ----------------------------------------------------------------------

def test_queue_list_show_hold_release_and_receipts(world):
    world.zone.mx("cli.example", 10, "mx.cli.example")
    world.zone.a("mx.cli.example", "127.0.0.2")
    p = world.server(queue={"retry": "1h"})
    submit(p, ["q@cli.example"])
    wait(lambda: "deferred" in kinds(p, "q@cli.example"), what="a deferral")
    out = p.cli("queue", "list").out
    qid = out.split()[0]
    assert "from=<alice@example.test>" in out
    assert "q@cli.example  deferred  attempts=1" in out and "Connection refused" in out
    show = p.cli("queue", "show", qid).out
    assert "events:" in show and "  queued" in show and "  deferred  attempt=1" in show
    assert "1 recipient held" in p.cli("queue", "hold", qid).out
    sink = world.sink("127.0.0.2")
    assert "1 recipient due now" in p.cli("queue", "flush").out
    time.sleep(1.5)
    assert sink.messages == []  # held
    assert "held" in p.cli("queue", "list").out
    assert "1 recipient released" in p.cli("queue", "release", qid).out
    assert final(p, "q@cli.example")[-1] == "delivered"
    assert p.cli("queue", "list").out == ""
    r = p.cli("receipts", "Q@cli.example").out.splitlines()
    assert [l.split("  ")[3] for l in r] == ["queued", "deferred", "delivered"]
    assert "mx=mx.cli.example" in r[2] and "ip=127.0.0.2" in r[2] and 'reply="250' in r[2]
    assert p.cli("receipts", qid).out.splitlines() == r
    assert p.cli("queue", "show", qid, check=False).returncode == 1
    assert p.cli("receipts", "nobody@cli.example", check=False).returncode == 1


def test_queue_flush_retries_now_and_remove_drops_a_message(world):
    world.zone.mx("flush.example", 10, "mx.flush.example")
    world.zone.a("mx.flush.example", "127.0.0.2")
    p = world.server(queue={"retry": "1h"})
    submit(p, ["f@flush.example"])
    submit(p, ["g@flush.example"])
    wait(lambda: "deferred" in kinds(p, "f@flush.example") and
         "deferred" in kinds(p, "g@flush.example"), what="deferrals")
    ids = [l.split()[0] for l in p.cli("queue", "list").out.splitlines()
           if not l.startswith(" ")]
    assert len(ids) == 2
    assert "1 recipient removed" in p.cli("queue", "remove", ids[1]).out
    assert kinds(p, "g@flush.example")[-1] == "removed"
    sink = world.sink("127.0.0.2")
    assert "1 recipient due now" in p.cli("queue", "retry", ids[0]).out
    assert final(p, "f@flush.example")[-1] == "delivered"
    assert [m["rcpts"] for m in sink.messages] == [["f@flush.example"]]
    wait(lambda: queue_empty(p), what="an empty queue")
    assert p.cli("store", "check").out == "ok\n"
    assert p.cli("queue", "hold", "99", check=False).returncode == 1
    assert p.cli("queue", "frob", check=False).returncode == 2


def test_a_bounce_to_the_null_sender_is_dropped(world):
    world.zone.mx("null.example", 10, "mx.null.example")
    world.zone.a("mx.null.example", "127.0.0.2")
    sink = world.sink("127.0.0.2")
    sink.rcpt_replies["x@null.example"] = ["550 5.1.1 no"]
    p = world.server()
    p.cli("alias", "add", "fwd@example.test", "x@null.example")
    with smtplib.SMTP("127.0.0.1", p.ports["smtp"]) as s:
        s.sendmail("", ["fwd@example.test"], message(to="fwd@example.test"))
    assert final(p, "x@null.example")[-1] == "bounced"
    assert p.wait_log("event=bounce-dropped reason=null-sender")
    wait(lambda: queue_empty(p), what="an empty queue")


def test_mail_that_would_loop_back_to_this_server_is_deferred(world, petrel_factory):
    p = world.server()
    p.stop()
    p.write_config({"routes": {"loop.example": "[127.0.0.1]:%d" % p.ports["smtp"]}})
    p.start()
    p.cli("domain", "add", "loop.example")
    p.cli("alias", "add", "x@loop.example", "bob@example.test")
    submit(p, ["x@loop.example"])  # our own domain: delivered locally, never queued
    assert len(inbox(p, "bob@example.test")) == 1
    p.cli("domain", "remove", "loop.example")
    submit(p, ["y@loop.example"])  # now foreign, but routed to ourselves
    ev = wait(lambda: [e for e in events(p, "y@loop.example") if e[2] == "deferred"],
              what="a deferral")
    assert "loops back to myself" in ev[0][6]


# ---- hostile servers ---------------------------------------------------------------------

class Garbage:
    """A server that greets properly, then answers each command line with
    answer(line): bytes to send, (bytes, True) to send them and close, or None to
    close at once."""

    def __init__(self, answer):
        import threading
        self.answer = answer
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.3", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.settimeout(10)
            try:
                c.sendall(b"220 garbage.example ESMTP\r\n")
                buf = b""
                while True:
                    data = c.recv(65536)
                    if not data:
                        break
                    buf += data
                    while b"\r\n" in buf:
                        line, buf = buf.split(b"\r\n", 1)
                        out = self.answer(line.decode("latin-1"))
                        close = out is None
                        if isinstance(out, tuple):
                            out, close = out
                        if out:
                            c.sendall(out)
                        if close:
                            raise ConnectionError
            except (OSError, ConnectionError):
                pass
            finally:
                c.close()

    def close(self):
        self.running = False
        self.sock.close()


def test_garbage_from_a_server_defers_and_other_destinations_go_on(world):
    def broken(line):
        return b"250-fine\r\n251 and now another code\r\n"

    def endless(line):
        return b"250-" + b"x" * 10000

    def cut(line):
        if line.startswith("RCPT"):
            return b"250-this reply never ends\r\n", True
        return b"250 ok\r\n"

    servers = {"broken.example": Garbage(broken), "endless.example": Garbage(endless),
               "cut.example": Garbage(cut)}
    try:
        world.zone.mx("good.example", 10, "mx.good.example")
        world.zone.a("mx.good.example", "127.0.0.2")
        sink = world.sink("127.0.0.2")
        routes = {d: "[127.0.0.3]:%d" % g.port for d, g in servers.items()}
        p = world.server(queue={"retry": "1h"}, routes=routes)
        rcpts = ["x@broken.example", "x@endless.example", "x@cut.example", "x@good.example"]
        submit(p, rcpts, message(to=rcpts[0]))
        assert final(p, "x@good.example")[-1] == "delivered"
        reasons = {}
        for r in rcpts[:3]:
            ev = wait(lambda: [e for e in events(p, r) if e[2] == "deferred"],
                      what="a deferral for " + r)
            reasons[r] = ev[0][6]
        assert "malformed reply" in reasons["x@broken.example"]
        assert "different codes" in reasons["x@broken.example"]
        assert "reply line too long" in reasons["x@endless.example"]
        assert "lost the connection" in reasons["x@cut.example"]
        assert len(sink.messages) == 1
        assert p.proc.poll() is None
    finally:
        for g in servers.values():
            g.close()
