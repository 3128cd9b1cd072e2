"""The IMAP server with imaplib and raw sockets, against messages delivered over SMTP."""
import imaplib
import re
import smtplib
import socket
import ssl
import time

import pytest

import mailstore
from conftest import PASSWORDS

ALICE = "alice@example.test"
BOB = "bob@example.test"


def deliver(petrel, to=ALICE, subject="hello", body="Hello, world.\r\n", extra=""):
    msg = ("From: Carol <carol@elsewhere.example>\r\nTo: %s\r\nSubject: %s\r\n"
           "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@test>\r\n%s\r\n%s" % (
               to, subject, subject.replace(" ", "-"), extra, body)).encode()
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        s.sendmail("carol@elsewhere.example", [to], msg)
    return msg


def login(petrel, user=ALICE):
    m = imaplib.IMAP4("127.0.0.1", petrel.ports["imap"])
    m.login(user, PASSWORDS[user])
    return m


def ok(resp):
    typ, data = resp
    assert typ == "OK", data
    return data


class Raw:
    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def until(self, tag):
        """Lines up to and including the tagged reply."""
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if l.startswith(tag + " "):
                return lines

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)


def raw_login(petrel, user=ALICE):
    r = Raw(petrel.ports["imap"])
    assert r.line().startswith("* OK [CAPABILITY IMAP4rev1")
    assert r.cmd("a", 'LOGIN %s "%s"' % (user, PASSWORDS[user]))[-1].startswith("a OK")
    return r


# ---- connection and login ----------------------------------------------------------------

def test_greeting_capabilities_and_logout(petrel):
    r = Raw(petrel.ports["imap"])
    greeting = r.line()
    assert greeting.startswith("* OK [CAPABILITY IMAP4rev1 ")
    caps = greeting.split("]")[0].split()[2:]
    for cap in ("LITERAL+", "SASL-IR", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT",
                "SPECIAL-USE", "STARTTLS", "AUTH=PLAIN", "AUTH=SCRAM-SHA-256"):
        assert cap in caps, cap
    caps = r.cmd("c1", "CAPABILITY")
    assert caps[0].startswith("* CAPABILITY IMAP4rev1") and caps[1].startswith("c1 OK")
    out = r.cmd("c2", "LOGOUT")
    assert out[0].startswith("* BYE") and out[1].startswith("c2 OK")


def test_login_good_and_bad(petrel):
    m = imaplib.IMAP4("127.0.0.1", petrel.ports["imap"])
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login(ALICE, "wrong")
    assert "AUTHENTICATIONFAILED" in str(e.value)
    m.login(ALICE, PASSWORDS[ALICE])
    m.logout()
    assert "event=login result=ok user=alice@example.test" in petrel.log()
    assert "wrong" not in petrel.log()


def test_authenticate_plain_with_initial_response(petrel):
    r = Raw(petrel.ports["imap"])
    r.line()
    import base64
    ir = base64.b64encode(b"\x00alice@example.test\x00" + PASSWORDS[ALICE].encode()).decode()
    assert r.cmd("a", "AUTHENTICATE PLAIN " + ir)[-1].startswith("a OK [CAPABILITY")
    assert r.cmd("b", "SELECT INBOX")[-1].startswith("b OK [READ-WRITE]")


def test_authenticate_plain_over_starttls_with_imaplib(petrel):
    m = imaplib.IMAP4("127.0.0.1", petrel.ports["imap"])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m.starttls(ssl_context=ctx)
    m.authenticate("PLAIN", lambda _: b"\x00" + ALICE.encode() + b"\x00" +
                   PASSWORDS[ALICE].encode())
    ok(m.select("INBOX"))
    m.logout()


def test_imaps_login(petrel):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4_SSL("127.0.0.1", petrel.ports["imaps"], ssl_context=ctx)
    m.login(BOB, PASSWORDS[BOB])
    ok(m.select("INBOX"))
    m.logout()


def test_commands_need_the_right_state(petrel):
    r = Raw(petrel.ports["imap"])
    r.line()
    assert r.cmd("a", "SELECT INBOX")[-1].startswith("a BAD")
    assert r.cmd("b", "FETCH 1 FLAGS")[-1].startswith("b BAD")
    assert r.cmd("c", "FROB")[-1].startswith("c BAD")
    assert r.cmd("d", 'LOGIN alice@example.test "%s"' % PASSWORDS[ALICE])[-1].startswith("d OK")
    assert r.cmd("e", "FETCH 1 FLAGS")[-1].startswith("e BAD")
    assert r.cmd("f", "LOGIN x y")[-1].startswith("f BAD")


def test_literals_synchronising_and_not(petrel):
    r = Raw(petrel.ports["imap"])
    r.line()
    user, pw = ALICE.encode(), PASSWORDS[ALICE].encode()
    r.send(b"a LOGIN {%d}\r\n" % len(user))
    assert r.line().startswith("+ ")
    r.send(user + b" {%d+}\r\n" % len(pw) + pw + b"\r\n")
    assert r.until("a")[-1].startswith("a OK")


def test_oversized_literal_is_refused_without_reading_it(petrel):
    r = raw_login(petrel)
    r.send("b LOGIN {99999999}\r\n")
    assert r.line().startswith("b NO [TOOBIG]")
    assert r.cmd("c", "NOOP")[-1].startswith("c OK")


# ---- mailboxes -----------------------------------------------------------------------------

def test_list_shows_the_default_mailboxes_with_special_use(petrel):
    m = login(petrel)
    data = ok(m.list())
    lines = sorted(d.decode() for d in data)
    assert lines == ['(\\HasNoChildren \\Archive) "/" Archive',
                     '(\\HasNoChildren \\Drafts) "/" Drafts',
                     '(\\HasNoChildren \\Junk) "/" Junk',
                     '(\\HasNoChildren \\Sent) "/" Sent',
                     '(\\HasNoChildren \\Trash) "/" Trash',
                     '(\\HasNoChildren) "/" INBOX']
    assert ok(m.list('""', '""')) == [b'(\\Noselect) "/" ""']
    m.logout()


def test_create_rename_delete_subscribe(petrel):
    m = login(petrel)
    ok(m.create("Projects/2026/Q4"))
    names = [d.decode() for d in ok(m.list('""', "Projects/*"))]
    assert names == ['(\\HasChildren) "/" Projects/2026', '(\\HasNoChildren) "/" Projects/2026/Q4']
    assert b'HasChildren' in ok(m.list('""', "Projects"))[0]
    typ, _ = m.create("Projects")
    assert typ == "NO"
    ok(m.rename("Projects", "Work"))
    assert [d.decode() for d in ok(m.list('""', "Work/%"))] == ['(\\HasChildren) "/" Work/2026']
    assert ok(m.list('""', "Projects*")) == [None]
    ok(m.unsubscribe("Work"))
    lsub = [d.decode() for d in ok(m.lsub('""', "Work*"))]
    assert '(\\HasChildren) "/" Work' not in lsub and len(lsub) == 2
    ok(m.delete("Work/2026/Q4"))
    typ, _ = m.delete("INBOX")
    assert typ == "NO"
    typ, data = m.select("Nope")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    m.logout()


def test_non_ascii_mailbox_names_use_modified_utf7(petrel):
    m = login(petrel)
    ok(m._simple_command("CREATE", "Entw&APw-rfe"))  # Entwürfe
    assert b'"/" Entw&APw-rfe' in b" ".join(ok(m.list('""', "Entw*")))
    con = mailstore.connect(petrel)
    names = [r[0] for r in con.execute("SELECT name FROM mailbox").fetchall()]
    assert "Entwürfe" in names
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        m._simple_command("CREATE", "bad&-name&AGE")
    m.logout()


def test_rename_inbox_moves_its_messages(petrel):
    deliver(petrel, subject="one")
    deliver(petrel, subject="two")
    m = login(petrel)
    ok(m.rename("INBOX", "Old"))
    assert ok(m.select("INBOX")) == [b"0"]
    assert ok(m.select("Old")) == [b"2"]
    assert petrel.cli("store", "check").out == "ok\n"
    m.logout()


def test_status(petrel):
    deliver(petrel)
    deliver(petrel, subject="second")
    m = login(petrel)
    data = ok(m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY)"))[0].decode()
    assert re.match(r'INBOX \(MESSAGES 2 UNSEEN 2 UIDNEXT 3 UIDVALIDITY \d+\)', data), data
    m.logout()


# ---- messages ---------------------------------------------------------------------------------

def test_select_reports_counts_and_uids(petrel):
    deliver(petrel)
    r = raw_login(petrel)
    lines = r.cmd("s", "SELECT INBOX")
    assert "* 1 EXISTS" in lines and "* 0 RECENT" in lines
    assert any(l.startswith("* OK [UIDVALIDITY ") for l in lines)
    assert "* OK [UIDNEXT 2] Predicted next UID" in lines
    assert "* OK [UNSEEN 1] First unseen" in lines
    assert lines[-1] == "s OK [READ-WRITE] SELECT completed"


def test_fetch_body_is_byte_exact_and_sets_seen(petrel):
    deliver(petrel, body="line\r\n.dot\r\n")
    stored = mailstore.messages(petrel, ALICE)[0]
    m = login(petrel)
    ok(m.select("INBOX"))
    data = ok(m.fetch("1", "(FLAGS BODY.PEEK[])"))
    assert data[0][1] == stored and b"\\Seen" not in data[0][0]
    data = ok(m.fetch("1", "(RFC822.SIZE BODY[])"))
    assert data[0][1] == stored
    assert b"RFC822.SIZE %d" % len(stored) in data[0][0]
    assert b"\\Seen" in b" ".join(x if isinstance(x, bytes) else b" ".join(x) for x in data)
    flags = ok(m.fetch("1", "FLAGS"))[0]
    assert b"\\Seen" in flags
    m.logout()
    con = mailstore.connect(petrel)
    assert con.execute("SELECT flags FROM message").fetchone()[0] & 1 == 1


def test_fetch_header_fields_text_envelope_bodystructure(petrel):
    deliver(petrel, subject="structure test", body="just text\r\n")
    m = login(petrel)
    ok(m.select("INBOX"))
    data = ok(m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])"))
    assert data[0][1] == (b"From: Carol <carol@elsewhere.example>\r\n"
                          b"Subject: structure test\r\n\r\n")
    data = ok(m.fetch("1", "(BODY.PEEK[TEXT])"))
    assert data[0][1] == b"just text\r\n"
    data = ok(m.fetch("1", "(ENVELOPE)"))[0].decode()
    assert '"structure test"' in data and '"carol" "elsewhere.example"' in data
    data = ok(m.fetch("1", "(BODYSTRUCTURE)"))[0].decode()
    assert re.search(r'BODYSTRUCTURE \("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" 11 1',
                     data, re.I), data
    data = ok(m.fetch("1", "(BODY.PEEK[]<0.4>)"))
    assert data[0][1] == b"Retu" and b"BODY[]<0>" in data[0][0]
    m.logout()


def test_fetch_mime_parts(petrel):
    body = ("--XX\r\nContent-Type: text/plain\r\n\r\npart one\r\n"
            "--XX\r\nContent-Type: text/html\r\n\r\n<p>two</p>\r\n--XX--\r\n")
    deliver(petrel, subject="multi", body=body,
            extra='MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="XX"\r\n')
    m = login(petrel)
    ok(m.select("INBOX"))
    assert ok(m.fetch("1", "(BODY.PEEK[1])"))[0][1] == b"part one"
    assert ok(m.fetch("1", "(BODY.PEEK[2])"))[0][1] == b"<p>two</p>"
    assert ok(m.fetch("1", "(BODY.PEEK[2.MIME])"))[0][1] == b"Content-Type: text/html\r\n\r\n"
    bs = ok(m.fetch("1", "(BODYSTRUCTURE)"))[0].decode()
    assert '"alternative"' in bs.lower()
    m.logout()


def test_store_flags_and_keywords(petrel):
    deliver(petrel)
    deliver(petrel, subject="two")
    m = login(petrel)
    ok(m.select("INBOX"))
    data = ok(m.store("1:2", "+FLAGS", "(\\Flagged $Important)"))
    assert len(data) == 2 and all(b"\\Flagged" in d and b"$Important" in d for d in data)
    data = ok(m.store("2", "-FLAGS.SILENT", "(\\Flagged)"))
    assert data == [None]
    data = ok(m.uid("STORE", "1", "FLAGS", "(\\Answered)"))
    assert data[0] == b"1 (UID 1 FLAGS (\\Answered))"
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        m.store("1", "+FLAGS", "(\\Bogus)")
    m.logout()


def test_search_keys(petrel):
    deliver(petrel, subject="apples and pears", body="fruit salad\r\n")
    deliver(petrel, subject="bananas", body="yellow fruit " + "x" * 3000 + "\r\n")
    deliver(petrel, subject="Grüße", body="Cherries\r\n")
    m = login(petrel)
    ok(m.select("INBOX"))
    assert ok(m.search(None, "ALL")) == [b"1 2 3"]
    assert ok(m.search(None, "SUBJECT", "banana")) == [b"2"]
    assert ok(m.search(None, "BODY", "FRUIT")) == [b"1 2"]
    assert ok(m.search(None, "TEXT", "apples")) == [b"1"]
    assert ok(m.search(None, "LARGER", "2000")) == [b"2"]
    assert ok(m.search(None, "FROM", "carol")) == [b"1 2 3"]
    assert ok(m.search(None, "NOT", "SUBJECT", "bananas")) == [b"1 3"]
    assert ok(m.search(None, "OR", "SUBJECT", "apples", "SUBJECT", "bananas")) == [b"1 2"]
    assert ok(m.search(None, "SENTON", "27-Nov-2026")) == [b"1 2 3"]
    assert ok(m.search(None, "SENTBEFORE", "1-Jan-2026")) == [b""]
    ok(m.store("2", "+FLAGS", "\\Seen"))
    assert ok(m.search(None, "UNSEEN")) == [b"1 3"]
    assert ok(m.uid("SEARCH", "SEEN")) == [b"2"]
    typ, data = m.search("KOI8-R", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    m.logout()


def test_search_decodes_encoded_words_and_bodies(petrel):
    deliver(petrel, subject="=?UTF-8?B?R3LDvMOfZQ==?=",
            extra="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n",
            body="K=C3=A4se\r\n")
    m = login(petrel)
    ok(m.select("INBOX"))
    word = "Grüß".encode()
    m._simple_command("SEARCH", "CHARSET", "UTF-8", "SUBJECT",
                      b"{%d+}\r\n" % len(word) + word)
    typ, data = m._untagged_response("OK", [None], "SEARCH")
    assert data == [b"1"]
    assert ok(m.search(None, "BODY", "Kse")) == [b""]
    m.logout()


def test_copy_and_move_with_copyuid(petrel):
    deliver(petrel)
    deliver(petrel, subject="two")
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("c", "COPY 1 Archive")
    assert re.match(r"c OK \[COPYUID \d+ 1 1\] COPY completed", lines[-1]), lines
    lines = r.cmd("m", "UID MOVE 2 Archive")
    assert re.match(r"\* OK \[COPYUID \d+ 2 2\]", lines[0]), lines
    assert "* 2 EXPUNGE" in lines and lines[-1].startswith("m OK")
    assert len(mailstore.messages(petrel, ALICE, "Archive")) == 2
    assert len(mailstore.messages(petrel, ALICE)) == 1
    assert mailstore.count(petrel, "blob") == 2  # copies share the bytes
    assert petrel.cli("store", "check").out == "ok\n"
    assert r.cmd("x", "COPY 1 Nowhere")[-1].startswith("x NO [TRYCREATE]")


def test_expunge_uid_expunge_close_and_unselect(petrel):
    for i in range(4):
        deliver(petrel, subject="m%d" % i)
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    r.cmd("f", "STORE 1:4 +FLAGS.SILENT (\\Deleted)")
    lines = r.cmd("u", "UID EXPUNGE 2")
    assert lines == ["* 2 EXPUNGE", "u OK UID EXPUNGE completed"]
    r.cmd("u2", "UNSELECT")
    assert len(mailstore.messages(petrel, ALICE)) == 3
    r.cmd("s2", "SELECT INBOX")
    lines = r.cmd("e", "EXPUNGE")
    assert lines[:-1] == ["* 3 EXPUNGE", "* 2 EXPUNGE", "* 1 EXPUNGE"]
    assert mailstore.messages(petrel, ALICE) == []
    con = mailstore.connect(petrel)
    assert con.execute("SELECT count(*) FROM tombstone").fetchone()[0] == 4


def test_close_expunges_silently_but_examine_is_read_only(petrel):
    deliver(petrel)
    r = raw_login(petrel)
    r.cmd("s", "EXAMINE INBOX")
    assert r.cmd("f", "STORE 1 +FLAGS (\\Deleted)")[-1].startswith("f NO [READ-ONLY]")
    r.cmd("s2", "SELECT INBOX")
    r.cmd("f2", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert r.cmd("c", "CLOSE") == ["c OK CLOSE completed"]
    assert mailstore.messages(petrel, ALICE) == []


def test_append_with_flags_and_date_gives_appenduid(petrel):
    msg = b"Subject: appended\r\nFrom: me@example.test\r\n\r\nhi\r\n"
    m = login(petrel)
    typ, data = m.append("Drafts", "(\\Draft \\Seen)", '"01-Jan-2026 10:00:00 +0200"', msg)
    assert typ == "OK" and re.match(rb"\[APPENDUID \d+ 1\]", data[0]), data
    ok(m.select("Drafts"))
    data = ok(m.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])"))
    assert data[0][1] == msg
    assert b"\\Draft" in data[0][0] and b"\\Seen" in data[0][0]
    assert b'INTERNALDATE "01-Jan-2026 08:00:00 +0000"' in data[0][0]
    typ, data = m.append("NoSuchBox", None, None, msg)
    assert typ == "NO" and b"TRYCREATE" in data[0]
    m.logout()
    assert mailstore.messages(petrel, ALICE, "Drafts") == [msg]


# ---- several sessions ---------------------------------------------------------------------------

def test_changes_from_another_session_are_reported(petrel):
    deliver(petrel)
    deliver(petrel, subject="two")
    a = raw_login(petrel)
    b = raw_login(petrel)
    a.cmd("s", "SELECT INBOX")
    b.cmd("s", "SELECT INBOX")
    a.cmd("f", "STORE 2 +FLAGS.SILENT (\\Flagged)")
    lines = b.cmd("n", "NOOP")
    assert lines[0] == "* 2 FETCH (UID 2 FLAGS (\\Flagged))" and lines[-1].startswith("n OK")
    deliver(petrel, subject="three")
    assert "* 3 EXISTS" in b.cmd("n2", "NOOP")
    a.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.cmd("e", "EXPUNGE")
    lines = b.cmd("n3", "NOOP")
    assert "* 1 EXPUNGE" in lines
    # no EXPUNGE during FETCH: sequence numbers must not move under the client
    a.cmd("d2", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.cmd("e2", "EXPUNGE")
    lines = b.cmd("f2", "FETCH 1:2 (UID)")
    assert not any("EXPUNGE" in l for l in lines)
    assert "* 1 EXPUNGE" in b.cmd("n4", "NOOP")


def test_idle_pushes_new_mail_and_flag_changes(petrel):
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    r.send("i IDLE\r\n")
    assert r.line().startswith("+ ")
    deliver(petrel, subject="pushed")
    assert r.line() == "* 1 EXISTS"
    other = raw_login(petrel)
    other.cmd("s", "SELECT INBOX")
    other.cmd("f", "STORE 1 +FLAGS.SILENT (\\Seen)")
    assert r.line() == "* 1 FETCH (UID 1 FLAGS (\\Seen))"
    r.send("DONE\r\n")
    assert r.line() == "i OK IDLE terminated"


def test_pop3_style_deletion_is_seen_by_imap(petrel):
    deliver(petrel)
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    con = mailstore.connect(petrel)
    assert con.execute("SELECT count(*) FROM message").fetchone()[0] == 1
    # expunge through the CLI-free path: another IMAP session
    o = raw_login(petrel)
    o.cmd("s", "SELECT INBOX")
    o.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    o.cmd("e", "EXPUNGE")
    assert "* 1 EXPUNGE" in r.cmd("n", "NOOP")


def test_imaplib_session_end_to_end(petrel):
    deliver(petrel, subject="e2e")
    m = login(petrel)
    ok(m.select("INBOX"))
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE)")
    assert typ == "OK" and b"UID 1" in data[0]
    ok(m.uid("STORE", "1", "+FLAGS", "(\\Seen)"))
    ok(m.uid("COPY", "1", "Archive"))
    ok(m.close())
    m.logout()
    time.sleep(0.1)
    assert petrel.cli("store", "check").out == "ok\n"
