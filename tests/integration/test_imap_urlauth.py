"""URLAUTH (RFC 4467) with URLFETCH BINARY / BODYPARTSTRUCTURE (RFC 5524), and
CATENATE (RFC 4469), with raw sockets and two users: tokens, access
identifiers, RESETKEY, EXPIRE, whose mailboxes a URL may reach, and messages
built from text and parts of other messages."""
import re
import time
import datetime

from conftest import PASSWORDS
from test_imap import ALICE, BOB, Raw, deliver

HOST = "mail.example.test"  # the [server] hostname of the test config


class Conn(Raw):
    """A raw session that reads responses with their literals."""

    def response(self):
        """One response: its text with each literal replaced by "{n}", and the
        literals' bytes in order."""
        text, lits = "", []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError(self.buf)
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\r\n")
            line = line.decode("utf-8", "replace")
            text += line
            m = re.search(r"~?\{(\d+)\}$", line)
            if not m:
                return text, lits
            n = int(m.group(1))
            while len(self.buf) < n:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError(self.buf)
                self.buf += chunk
            lits.append(self.buf[:n])
            self.buf = self.buf[n:]

    def run(self, tag, text):
        """Sends a command; returns [(text, literals)] up to the tagged reply."""
        self.send(text if isinstance(text, bytes) else "%s %s\r\n" % (tag, text))
        out = []
        while True:
            r = self.response()
            out.append(r)
            if r[0].startswith(tag + " "):
                return out

    def ok(self, tag, text):
        out = self.run(tag, text)
        assert out[-1][0].startswith(tag + " OK"), out
        return out[:-1]


def session(petrel, user=ALICE):
    c = Conn(petrel.ports["imap"])
    c.response()
    c.ok("l", 'LOGIN %s "%s"' % (user, PASSWORDS[user]))
    return c


def genurlauth(c, url):
    out = c.ok("g", 'GENURLAUTH "%s" INTERNAL' % url)
    m = re.match(r'\* GENURLAUTH "([^"]+)"$', out[0][0])
    assert m, out
    assert m.group(1).startswith(url + ":internal:")
    assert re.fullmatch(r"[0-9a-f]{64}", m.group(1)[len(url) + 10:])
    return m.group(1)


def urlfetch(c, url):
    """The data URLFETCH gives for url (bytes), or None for NIL."""
    out = c.ok("f", 'URLFETCH "%s"' % url)
    assert len(out) == 1, out
    text, lits = out[0]
    assert text.startswith('* URLFETCH "%s" ' % url), text
    if text.endswith(" NIL"):
        return None
    assert len(lits) == 1, out
    return lits[0]


def message(subject="urlauth", body="The body.\r\n"):
    return ("From: Carol <carol@elsewhere.example>\r\nTo: %s\r\nSubject: %s\r\n"
            "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n%s" % (ALICE, subject, body)).encode()


def append(c, mailbox, msg):
    out = c.run("ap", b"ap APPEND %s {%d+}\r\n%s\r\n" % (mailbox.encode(), len(msg), msg))
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", out[-1][0])
    assert m, out
    return int(m.group(2))


def rump(user, uid, access, mailbox="INBOX", extra=""):
    return "imap://%s/%s/;uid=%d%s;urlauth=%s" % (user, mailbox, uid, extra, access)


# ---- URLAUTH ----------------------------------------------------------------------------

def test_capabilities_and_urlmech(petrel):
    c = session(petrel)
    caps = c.ok("c", "CAPABILITY")[0][0].split()
    for cap in ("URLAUTH", "URLAUTH=BINARY", "CATENATE"):
        assert cap in caps, cap
    sel = c.ok("s", "SELECT INBOX")
    assert any(t == "* OK [URLMECH INTERNAL] URLAUTH mechanisms" for t, _ in sel), sel
    pre = Conn(petrel.ports["imap"])
    pre.response()
    assert pre.run("u", 'URLFETCH "imap://x@y/INBOX/;uid=1"')[-1][0].startswith("u BAD")


def test_genurlauth_and_urlfetch_with_each_access_identifier(petrel):
    msg = message(body="Line one.\r\nLine two.\r\n")
    alice = session(petrel)
    bob = session(petrel, BOB)
    uid = append(alice, "INBOX", msg)
    anon = genurlauth(alice, rump("alice@example.test", uid, "anonymous"))
    auth = genurlauth(alice, rump("alice@example.test", uid, "authuser"))
    mine = genurlauth(alice, rump("alice@example.test", uid, "user+" + ALICE))
    for_bob = genurlauth(alice, rump("alice@example.test", uid, "user+" + BOB))
    submit = genurlauth(alice, rump("alice@example.test", uid, "submit+" + BOB))
    # the full address as userid, at the server's host name
    full = genurlauth(alice, rump("alice%40example.test@" + HOST, uid, "authuser"))
    for url in (anon, auth, mine, full):
        assert urlfetch(alice, url) == msg
    for url in (anon, auth, for_bob, submit, full):
        assert urlfetch(bob, url) == msg
    # user+ admits only that user
    assert urlfetch(bob, mine) is None
    assert urlfetch(alice, for_bob) is None
    assert urlfetch(alice, submit) is None
    # sections and partial ranges
    sec = genurlauth(alice, rump("alice@example.test", uid, "anonymous", extra="/;section=TEXT"))
    assert urlfetch(bob, sec) == b"Line one.\r\nLine two.\r\n"
    hdr = genurlauth(alice, rump("alice@example.test", uid, "anonymous",
                                 extra="/;section=HEADER.FIELDS%20(Subject)"))
    assert urlfetch(bob, hdr) == b"Subject: urlauth\r\n\r\n"
    part = genurlauth(alice, rump("alice@example.test", uid, "anonymous",
                                  extra="/;section=TEXT/;partial=5.8"))
    assert urlfetch(bob, part) == b"one.\r\nLi"
    # several URLs in one GENURLAUTH and one URLFETCH: a response each
    out = alice.ok("g2", 'GENURLAUTH "%s" INTERNAL "%s" internal' % (
        rump("alice@example.test", uid, "anonymous"),
        rump("alice@example.test", uid, "authuser")))
    urls = re.findall(r'"([^"]+)"', out[0][0])
    assert len(urls) == 2
    out = bob.ok("f2", 'URLFETCH "%s" "%s" "%s"' % (urls[0], "imap://nobody", urls[1]))
    assert [t.split('"')[1] for t, _ in out] == [urls[0], "imap://nobody", urls[1]]
    assert out[0][1] == [msg] and out[1][0].endswith(" NIL") and out[2][1] == [msg]
    # a message that does not exist (GENURLAUTH does not look), then expunged
    gone = genurlauth(alice, rump("alice@example.test", uid + 100, "anonymous"))
    assert urlfetch(alice, gone) is None
    alice.ok("s", "SELECT INBOX")
    alice.ok("st", "UID STORE %d +FLAGS (\\Deleted)" % uid)
    alice.ok("x", "EXPUNGE")
    assert urlfetch(bob, anon) is None


def test_alice_cannot_reach_bobs_mail(petrel):
    bob_msg = message(subject="bob's secret")
    alice = session(petrel)
    bob = session(petrel, BOB)
    buid = append(bob, "INBOX", bob_msg)
    auid = append(alice, "INBOX", message())
    # GENURLAUTH only for one's own account, on this server
    for url in (rump("bob@example.test", buid, "anonymous"),
                rump("bob%40example.test@" + HOST, buid, "anonymous"),
                rump("alice@elsewhere.example", auid, "anonymous"),
                rump("alice@example.test", auid, "anonymous", mailbox="../bob@example.test/INBOX"),
                rump("alice@example.test", auid, "anonymous", mailbox="%2E%2E/INBOX"),
                rump("alice@example.test", auid, "anonymous", mailbox="INBOX%2F..%2Fx"),
                rump("alice@example.test", auid, "anonymous", mailbox="NoSuchBox"),
                "imap://alice@example.test/INBOX/;uid=%d" % auid,  # no URLAUTH
                "/INBOX/;uid=%d;urlauth=anonymous" % auid):
        out = alice.run("g", 'GENURLAUTH "%s" INTERNAL' % url)
        assert out[-1][0].startswith("g NO") or out[-1][0].startswith("g BAD"), (url, out)
        assert not any(t.startswith("* GENURLAUTH") for t, _ in out)
    assert alice.run("m", 'GENURLAUTH "%s" XSECRET' % rump(
        "alice@example.test", auid, "anonymous"))[-1][0].startswith("m NO")
    # alice's token does not open bob's mailbox, whatever the URL says
    url = genurlauth(alice, rump("alice@example.test", auid, "anonymous"))
    token = url.rsplit(":", 1)[1]
    forged = [rump("bob@example.test", buid, "anonymous") + ":internal:" + token,
              rump("bob@example.test", auid, "anonymous") + ":internal:" + token,
              url.replace("uid=%d" % auid, "uid=%d" % (auid + 1)),
              url[:-1] + ("0" if url[-1] != "0" else "1"),
              url.replace("anonymous", "authuser"),
              url.replace(":internal:", ":xsecret:"),
              rump("alice@example.test", auid, "anonymous"),  # a rump alone
              "/INBOX/;uid=%d" % auid]
    for f in forged:
        assert urlfetch(alice, f) is None, f
        assert urlfetch(bob, f) is None, f
    # bob's URL for himself is not alice's to use
    bob_url = genurlauth(bob, rump("bob@example.test", buid, "user+" + BOB))
    assert urlfetch(alice, bob_url) is None
    assert urlfetch(bob, bob_url) == bob_msg


def test_resetkey_invalidates_earlier_urls(petrel):
    alice = session(petrel)
    bob = session(petrel, BOB)
    alice.ok("c", "CREATE Work")
    msg = message()
    uid = append(alice, "INBOX", msg)
    wuid = append(alice, "Work", msg)
    inbox1 = genurlauth(alice, rump("alice@example.test", uid, "authuser"))
    work1 = genurlauth(alice, rump("alice@example.test", wuid, "authuser", mailbox="Work"))
    # one mailbox's key
    alice.ok("r", "RESETKEY Work INTERNAL")
    assert urlfetch(bob, work1) is None
    assert urlfetch(bob, inbox1) == msg
    work2 = genurlauth(alice, rump("alice@example.test", wuid, "authuser", mailbox="Work"))
    assert work2 != work1 and urlfetch(bob, work2) == msg
    # every key of the account
    alice.ok("r2", "RESETKEY")
    assert urlfetch(bob, inbox1) is None and urlfetch(bob, work2) is None
    inbox2 = genurlauth(alice, rump("alice@example.test", uid, "authuser"))
    assert inbox2 != inbox1 and urlfetch(bob, inbox2) == msg
    # bob's RESETKEY touches only his own keys
    bob.ok("r3", "RESETKEY")
    assert urlfetch(bob, inbox2) == msg
    assert alice.run("r4", "RESETKEY NoSuchBox")[-1][0].startswith("r4 NO")
    assert alice.run("r5", "RESETKEY INBOX XSECRET")[-1][0].startswith("r5 NO")
    # a mailbox deleted and made again has a new key
    alice.ok("d", "DELETE Work")
    alice.ok("c2", "CREATE Work")
    assert append(alice, "Work", msg) == wuid  # the same URL names the new message
    assert urlfetch(bob, work2) is None


def test_expire(petrel):
    alice = session(petrel)
    msg = message()
    uid = append(alice, "INBOX", msg)
    past = "2020-01-01T00:00:00Z"
    out = alice.run("g", 'GENURLAUTH "%s" INTERNAL' % rump(
        "alice@example.test", uid, "anonymous", extra=";expire=" + past))
    assert out[-1][0].startswith("g NO")
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=4)
    stamp = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    url = genurlauth(alice, rump("alice@example.test", uid, "anonymous", extra=";expire=" + stamp))
    later = genurlauth(alice, rump("alice@example.test", uid, "anonymous",
                                   extra=";expire=2099-01-01T00:00:00+01:00"))
    assert urlfetch(alice, url) == msg
    # the expiry is covered by the token
    assert urlfetch(alice, url.replace(stamp, "2099-01-01T00:00:00Z")) is None
    deadline = soon + datetime.timedelta(seconds=1)
    while datetime.datetime.now(datetime.timezone.utc) < deadline:
        time.sleep(0.2)
    assert urlfetch(alice, url) is None
    assert urlfetch(alice, later) == msg


MULTIPART = (b"From: carol@elsewhere.example\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
             b"--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain text\r\n"
             b"--b1\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\nAAECAwBoZWxsbw==\r\n"
             b"--b1\r\nContent-Type: message/rfc822\r\n\r\n"
             b"Subject: inner\r\nContent-Type: text/plain\r\n"
             b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n"
             b"--b1--\r\n")


def test_urlfetch_binary_and_bodypartstructure(petrel):
    alice = session(petrel)
    bob = session(petrel, BOB)
    uid = append(alice, "INBOX", MULTIPART)

    def url(section):
        return genurlauth(alice, rump("alice@example.test", uid, "authuser",
                                      extra="/;section=" + section))

    two, three, one = url("2"), url("3"), url("1")
    out = bob.ok("f", 'URLFETCH ("%s" BINARY)' % two)[0]
    assert out[0] == '* URLFETCH "%s" (BINARY ~{10})' % two, out
    assert out[1] == [b"\x00\x01\x02\x03\x00hello"]
    out = bob.ok("f", 'URLFETCH ("%s" BODY)' % two)[0]
    assert out[1] == [b"AAECAwBoZWxsbw=="]
    out = bob.ok("f", 'URLFETCH ("%s" BODYPARTSTRUCTURE)' % two)[0]
    assert re.match(r'\* URLFETCH "[^"]+" \(BODYPARTSTRUCTURE \("APPLICATION" "OCTET-STREAM" '
                    r'NIL NIL NIL "BASE64" 16 ', out[0]), out
    # with BINARY, the structure describes the decoded part
    out = bob.ok("f", 'URLFETCH ("%s" BODYPARTSTRUCTURE BINARY)' % two)[0]
    assert '"BASE64" 10 ' in out[0] and out[0].endswith("BINARY ~{10})"), out
    # a message part converts whole: its quoted-printable leaf decoded
    out = bob.ok("f", 'URLFETCH ("%s" BINARY)' % three)[0]
    assert out[1] == [b"Subject: inner\r\nContent-Type: text/plain\r\n"
                      b"Content-Transfer-Encoding: binary\r\n\r\ncaf\xc3\xa9"]
    out = bob.ok("f", 'URLFETCH ("%s" BINARY) "%s"' % (one, one))
    assert out[0][1] == [b"plain text"] and out[1][1] == [b"plain text"]
    assert out[0][0].endswith("(BINARY {10})")
    # BODY and BINARY together are a syntax error; an unknown parameter too
    assert bob.run("b", 'URLFETCH ("%s" BODY BINARY)' % one)[-1][0].startswith("b BAD")
    assert bob.run("b", 'URLFETCH ("%s" FOO)' % one)[-1][0].startswith("b BAD")
    # an invalid URL in the extended form is NIL
    out = bob.ok("f", 'URLFETCH ("%s" BINARY)' % (one[:-1] + ("0" if one[-1] != "0" else "1")))
    assert out[0][0].endswith(" NIL")


# ---- CATENATE ---------------------------------------------------------------------------

def catenate(c, tag, mailbox, parts, flags=""):
    """APPEND mailbox [flags] CATENATE (parts): parts are ("TEXT", bytes) or
    ("URL", str); literals are non-synchronising. Returns the responses."""
    cmd = b"%s APPEND %s %sCATENATE (" % (tag.encode(), mailbox.encode(),
                                          (flags + " ").encode() if flags else b"")
    for i, (kind, value) in enumerate(parts):
        cmd += b" " if i else b""
        if kind == "TEXT":
            cmd += b"TEXT {%d+}\r\n%s" % (len(value), value)
        else:
            cmd += b'URL "%s"' % value.encode()
    return c.run(tag, cmd + b")\r\n")


def fetch_body(c, mailbox, uid):
    c.ok("s", "EXAMINE %s" % mailbox)
    out = [r for r in c.ok("f", "UID FETCH %d BODY.PEEK[]" % uid) if " FETCH " in r[0]]
    assert len(out) == 1 and len(out[0][1]) == 1, out
    return out[0][1][0]


def count(c, mailbox):
    out = c.ok("st", "STATUS %s (MESSAGES)" % mailbox)
    return int(re.search(r"MESSAGES (\d+)", out[0][0]).group(1))


def test_catenate_builds_a_message_from_text_and_urls(petrel):
    alice = session(petrel)
    msg = message(subject="source", body="Source body.\r\nSecond line.\r\n")
    uid = append(alice, "INBOX", msg)
    alice.ok("c", "CREATE Drafts2")
    uv = re.search(r"UIDVALIDITY (\d+)", alice.ok("st", "STATUS INBOX (UIDVALIDITY)")[0][0])
    out = catenate(alice, "a", "Drafts2", [
        ("TEXT", b"From: alice@example.test\r\nSubject: fwd\r\n\r\n"),
        ("URL", "/INBOX/;uid=%d/;section=TEXT" % uid),
        ("TEXT", b"--\r\n"),
        ("URL", "/INBOX;UIDVALIDITY=%s/;UID=%d/;SECTION=HEADER.FIELDS%%20(SUBJECT)" % (
            uv.group(1), uid)),
        ("URL", "imap://alice@example.test/INBOX/;uid=%d/;section=TEXT/;partial=7.4" % uid),
        ("URL", "/INBOX/;uid=%d/;partial=100000.1" % uid),  # past the end: nothing
    ], flags="(\\Seen $Forwarded)")
    m = re.match(r"a OK \[APPENDUID \d+ (\d+)\]", out[-1][0])
    assert m, out
    want = (b"From: alice@example.test\r\nSubject: fwd\r\n\r\nSource body.\r\nSecond line.\r\n"
            b"--\r\nSubject: source\r\n\r\nbody")
    assert fetch_body(alice, "Drafts2", int(m.group(1))) == want
    flags = alice.ok("fl", "UID FETCH %s FLAGS" % m.group(1))[0][0]
    assert "\\Seen" in flags and "$Forwarded" in flags
    # a whole message, then a URLAUTH URL of another user's message
    bob = session(petrel, BOB)
    buid = append(bob, "INBOX", message(subject="from bob"))
    bob_url = genurlauth(bob, rump("bob@example.test", buid, "user+" + ALICE,
                                   extra="/;section=HEADER"))
    out = catenate(alice, "b", "INBOX", [("URL", "/INBOX/;UID=%d" % uid), ("URL", bob_url)])
    m = re.match(r"b OK \[APPENDUID \d+ (\d+)\]", out[-1][0])
    assert m, out
    assert fetch_body(alice, "INBOX", int(m.group(1))) == msg + message(subject="from bob").split(
        b"\r\n\r\n")[0] + b"\r\n\r\n"


def test_catenate_bad_urls_append_nothing(petrel):
    alice = session(petrel)
    bob = session(petrel, BOB)
    uid = append(alice, "INBOX", message())
    buid = append(bob, "INBOX", message(subject="bob's secret"))
    bob.ok("c", "CREATE Private")
    before = count(alice, "INBOX")
    bad = ["/INBOX;UIDVALIDITY=12345/;UID=%d" % uid,        # another UIDVALIDITY
           "/INBOX/;UID=%d" % (uid + 50),                     # no such message
           "/INBOX/;UID=%d/;SECTION=9" % uid,                 # no such part
           "/NoSuchBox/;UID=1",
           "imap://bob@example.test/INBOX/;UID=%d" % buid,     # bob's, without authorisation
           "imap://bob%%40example.test@%s/INBOX/;UID=%d" % (HOST, buid),
           "/../bob@example.test/INBOX/;UID=%d" % buid,        # path tricks
           "/INBOX%%2F..%%2F..%%2Fbob/;UID=%d" % buid,
           "imap://alice@elsewhere.example/INBOX/;UID=%d" % uid,  # another server
           "imap://bob@example.test/INBOX/;UID=%d;URLAUTH=anonymous" % buid,  # a rump
           "imap://bob@example.test/INBOX/;UID=%d;URLAUTH=anonymous:internal:%s" % (
               buid, "0" * 64),                                 # a forged token
           "/INBOX/;UID=%d]x" % uid,
           "not a url"]
    for url in bad:
        for parts in ([("URL", url)],
                      [("TEXT", b"Subject: x\r\n\r\n"), ("URL", url), ("TEXT", b"tail\r\n")],
                      [("URL", "/INBOX/;UID=%d" % uid), ("URL", url)]):
            out = catenate(alice, "x", "INBOX", parts)
            tagged = out[-1][0]
            assert tagged.startswith("x NO [BADURL "), (url, out)
            shown = url.replace("]", "?")
            assert tagged.startswith("x NO [BADURL %s] " % shown), (url, tagged)
    assert count(alice, "INBOX") == before
    # the target mailbox is checked first
    out = catenate(alice, "t", "Nowhere", [("URL", "/INBOX;UIDVALIDITY=1/;UID=1")])
    assert out[-1][0].startswith("t NO [TRYCREATE]"), out
    # malformed lists are BAD
    for body in (b"CATENATE ()", b'CATENATE (TEXT "quoted")', b"CATENATE (URL)",
                 b"CATENATE (FOO {1+}\r\nx)", b'CATENATE (URL "/INBOX/;UID=1" TEXT)'):
        out = alice.run("m", b"m APPEND INBOX " + body + b"\r\n")
        assert out[-1][0].startswith("m BAD"), (body, out)


def test_catenate_larger_than_the_limit_is_toobig(petrel_factory):
    p = petrel_factory({"smtp": {"max_message_size": "2K"}})
    p.provision()
    p.start()
    alice = session(p)
    uid = append(alice, "INBOX", message(body="x" * 1500 + "\r\n"))
    before = count(alice, "INBOX")
    out = catenate(alice, "t", "INBOX", [("URL", "/INBOX/;UID=%d" % uid),
                                         ("URL", "/INBOX/;UID=%d" % uid)])
    assert out[-1][0].startswith("t NO [TOOBIG]"), out
    out = catenate(alice, "t2", "INBOX", [("URL", "/INBOX/;UID=%d" % uid),
                                          ("TEXT", b"y" * 1000)])
    assert out[-1][0].startswith("t2 NO [TOOBIG]"), out
    assert count(alice, "INBOX") == before
    out = catenate(alice, "ok", "INBOX", [("URL", "/INBOX/;UID=%d/;PARTIAL=0.100" % uid),
                                          ("TEXT", b"y" * 1000)])
    assert out[-1][0].startswith("ok OK"), out
