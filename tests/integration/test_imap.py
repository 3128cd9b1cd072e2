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
    # CREATE does not subscribe; subscriptions follow a RENAME
    assert ok(m.lsub('""', "Projects*")) == [None]
    for name in ("Projects", "Projects/2026", "Projects/2026/Q4"):
        ok(m.subscribe(name))
    ok(m.rename("Projects", "Work"))
    assert [d.decode() for d in ok(m.list('""', "Work/%"))] == ['(\\HasChildren) "/" Work/2026']
    assert ok(m.list('""', "Projects*")) == [None]
    ok(m.unsubscribe("Work"))
    lsub = [d.decode() for d in ok(m.lsub('""', "Work*"))]
    assert lsub == ['() "/" Work/2026', '() "/" Work/2026/Q4']
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
    # not modified UTF-7: well-formed IMAP, but no mailbox can have that name
    typ, data = m._simple_command("CREATE", "bad&-name&AGE")
    assert typ == "NO" and b"[CANNOT]" in data[0]
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
    assert "* 1 EXISTS" in lines and "* 1 RECENT" in lines
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
    assert data[0] == b"1 (UID 1 FLAGS (\\Answered \\Recent))"
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
    assert r.line() == "* 1 RECENT"
    other = raw_login(petrel)
    other.cmd("s", "SELECT INBOX")
    other.cmd("f", "STORE 1 +FLAGS.SILENT (\\Seen)")
    assert r.line() == "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))"
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


# ---- what demanding clients (and Dovecot's imaptest) expect ------------------------------------

def test_recent_is_claimed_by_the_first_session_only(petrel):
    deliver(petrel, subject="one")
    deliver(petrel, subject="two")
    time.sleep(1.1)  # mail that waited for its first IMAP session is recent too
    r = raw_login(petrel)
    # EXAMINE shows recent messages without claiming them
    lines = r.cmd("e", "EXAMINE INBOX")
    assert "* 2 RECENT" in lines
    r.cmd("c", "CLOSE")
    assert "* STATUS INBOX (RECENT 2 MESSAGES 2)" in r.cmd("st", "STATUS INBOX (RECENT MESSAGES)")
    lines = r.cmd("s", "SELECT INBOX")
    assert "* 2 RECENT" in lines
    assert r.cmd("f", "FETCH 1 FLAGS")[0] == "* 1 FETCH (FLAGS (\\Recent))"
    assert r.cmd("q1", "SEARCH RECENT")[0] == "* SEARCH 1 2"
    r.cmd("f2", "STORE 2 +FLAGS.SILENT (\\Seen)")
    assert r.cmd("q2", "SEARCH NEW")[0] == "* SEARCH 1"
    assert r.cmd("q3", "SEARCH OLD")[0] == "* SEARCH"
    # the same session's STATUS counts what it sees as recent
    assert "* STATUS INBOX (RECENT 2)" in r.cmd("st2", "STATUS INBOX (RECENT)")
    other = raw_login(petrel)
    assert "* 0 RECENT" in other.cmd("s", "SELECT INBOX")
    # a new message is recent for the first session that learns of it
    deliver(petrel, subject="three")
    lines = other.cmd("n", "NOOP")
    assert "* 3 EXISTS" in lines and "* 1 RECENT" in lines
    lines = r.cmd("n", "NOOP")
    assert "* 3 EXISTS" in lines and "* 2 RECENT" in lines
    assert r.cmd("f3", "FETCH 3 FLAGS")[0] == "* 3 FETCH (FLAGS ())"


def test_copied_messages_are_recent_in_the_target(petrel):
    deliver(petrel)
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    w = raw_login(petrel)
    w.cmd("s", "SELECT Archive")
    r.cmd("c", "COPY 1 Archive")
    lines = w.cmd("n", "NOOP")
    assert lines[:2] == ["* 1 EXISTS", "* 1 RECENT"]
    assert w.cmd("f", "FETCH 1 FLAGS")[0] == "* 1 FETCH (FLAGS (\\Recent))"


def test_keywords_are_announced_in_flags_before_use(petrel):
    deliver(petrel)
    deliver(petrel, subject="two")
    a = raw_login(petrel)
    b = raw_login(petrel)
    a.cmd("s", "SELECT INBOX")
    b.cmd("s", "SELECT INBOX")
    lines = a.cmd("k", "STORE 1 +FLAGS ($Work)")
    assert lines[0] == "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)"
    assert lines[1].startswith("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
                               "\\Draft $Work \\*)]")
    assert lines[2].startswith("* 1 FETCH (FLAGS (") and "$Work" in lines[2]
    # another session hears of the keyword before the FETCH that carries it
    lines = b.cmd("n", "NOOP")
    assert lines[0].startswith("* FLAGS (") and "$Work" in lines[0]
    assert lines[2].startswith("* 1 FETCH") and "$Work" in lines[2]
    # and a new SELECT lists it from the start
    c = raw_login(petrel)
    lines = c.cmd("s", "EXAMINE INBOX")
    assert lines[0] == "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)"
    assert "* OK [PERMANENTFLAGS ()] Read-only mailbox" in lines


def test_store_accepts_nil_as_a_keyword(petrel):
    deliver(petrel)
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    assert r.cmd("f", "STORE 1 +FLAGS NIL")[-1].startswith("f OK")
    assert "NIL" in r.cmd("g", "FETCH 1 FLAGS")[0]


def test_move_within_one_mailbox_gives_the_message_a_new_uid(petrel):
    deliver(petrel)
    deliver(petrel, subject="two")
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("m", "MOVE 1 INBOX")
    assert re.match(r"\* OK \[COPYUID \d+ 1 3\] Moved", lines[0]), lines
    assert lines[1:3] == ["* 1 EXPUNGE", "* 2 EXISTS"] and lines[-1] == "m OK MOVE completed"
    assert r.cmd("f", "FETCH 1:* UID") == ["* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)",
                                          "f OK FETCH completed"]
    assert len(mailstore.messages(petrel, ALICE)) == 2
    assert petrel.cli("store", "check").out == "ok\n"


def test_list_shows_missing_parents_as_noselect(petrel):
    m = login(petrel)
    ok(m.create("Clients/Acme"))
    ok(m.delete("Clients"))  # its child stays
    lines = [d.decode() for d in ok(m.list('""', "%"))]
    assert '(\\Noselect \\HasChildren) "/" Clients' in lines
    lines = [d.decode() for d in ok(m.list('""', "Clients*"))]
    assert lines == ['(\\Noselect \\HasChildren) "/" Clients',
                     '(\\HasNoChildren) "/" Clients/Acme']
    typ, data = m.select("Clients")
    assert typ == "NO"
    m.logout()


def test_lsub_shows_unsubscribed_parents_of_subscribed_children_as_noselect(petrel):
    m = login(petrel)
    ok(m.create("P/one"))
    ok(m.create("P/two/deep"))
    ok(m.subscribe("P/one"))
    ok(m.subscribe("P/two/deep"))
    lines = sorted(d.decode() for d in ok(m.lsub('""', "P/%")))
    assert lines == ['() "/" P/one', '(\\Noselect) "/" P/two']
    assert [d.decode() for d in ok(m.lsub('""', "*deep"))] == ['() "/" P/two/deep']
    ok(m.unsubscribe("P/two/deep"))
    assert [d.decode() for d in ok(m.lsub('""', "P/%"))] == ['() "/" P/one']
    m.logout()


def test_list_patterns_cannot_be_made_slow(petrel):
    m = login(petrel)
    ok(m.create("x" * 200))
    start = time.monotonic()
    data = ok(m.list('""', "*%" * 2000 + "y"))
    assert data == [None] and time.monotonic() - start < 5
    assert len(ok(m.list('""', "*%*x%*"))) >= 1
    m.logout()


def test_names_that_are_not_modified_utf7_get_no(petrel):
    r = raw_login(petrel)
    assert r.cmd("s", "SELECT &-&'x")[-1].startswith("s NO")
    assert r.cmd("l", 'LIST "" "&-&\'x*"') == ["l OK LIST completed"]
    assert r.cmd("n", "NOOP")[-1].startswith("n OK")


def test_uid_range_up_to_the_largest_number_is_not_star(petrel):
    deliver(petrel)
    deliver(petrel, subject="two")
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    assert r.cmd("a", "UID SEARCH UID 5:4294967295")[0] == "* SEARCH"
    assert r.cmd("b", "UID SEARCH UID 5:*")[0] == "* SEARCH 2"
    assert r.cmd("c", "UID FETCH 5:4294967295 UID") == ["c OK UID FETCH completed"]
    assert r.cmd("d", "UID FETCH 5:* UID")[0] == "* 2 FETCH (UID 2)"


def test_address_search_ignores_comments_and_matches_display_names(petrel):
    deliver(petrel, subject="comment", extra="Cc: <dave (work) @ (hq) example.net>\r\n")
    deliver(petrel, subject="plain", extra="Cc: Erin Example <erin@example.net>\r\n")
    m = login(petrel)
    ok(m.select("INBOX"))
    assert ok(m.search(None, "CC", "dave@example.net")) == [b"1"]
    assert ok(m.search(None, "CC", '"Erin Example <erin@"')) == [b"2"]
    assert ok(m.search(None, "HEADER", "CC", '""')) == [b"1 2"]
    m.logout()


def test_body_search_covers_the_headers_of_mime_parts(petrel):
    body = ("--B\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
            "--B\r\nContent-Type: application/pdf; name=\"quarterly-report.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--B--\r\n")
    deliver(petrel, subject="report", body=body,
            extra='MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n')
    m = login(petrel)
    ok(m.select("INBOX"))
    assert ok(m.search(None, "BODY", "quarterly-report")) == [b"1"]
    assert ok(m.search(None, "BODY", "Subject")) == [b""]  # not the message header
    m.logout()


def test_status_of_the_selected_mailbox_and_deleted_count(petrel):
    deliver(petrel)
    deliver(petrel, subject="two")
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    r.cmd("d", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    o = raw_login(petrel)
    o.cmd("s", "SELECT INBOX")
    o.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    o.cmd("e", "UID EXPUNGE 1")
    deliver(petrel, subject="three")
    # STATUS reports the selected mailbox's own changes first, then counts
    # agree with what the session has been told
    lines = r.cmd("st", "STATUS INBOX (MESSAGES DELETED RECENT UIDNEXT)")
    assert lines[:3] == ["* 1 EXPUNGE", "* 2 EXISTS", "* 2 RECENT"]
    assert lines[3] == "* STATUS INBOX (MESSAGES 2 DELETED 1 RECENT 2 UIDNEXT 4)"
    assert "* STATUS Archive (MESSAGES 0 DELETED 0)" in r.cmd("a", "STATUS Archive (MESSAGES DELETED)")


def test_fetch_of_a_message_another_session_expunged(petrel):
    deliver(petrel, body="first body\r\n")
    deliver(petrel, subject="two", body="second body\r\n")
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    o = raw_login(petrel)
    o.cmd("s", "SELECT INBOX")
    o.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    o.cmd("e", "EXPUNGE")
    # FETCH may not send EXPUNGE: what still exists comes, the rest is NO
    lines = r.cmd("f", "FETCH 1:2 (UID BODY.PEEK[TEXT] ENVELOPE)")
    assert not any(l.startswith("* 1 FETCH") for l in lines)
    assert any(l.startswith("* 2 FETCH (UID 2 BODY[TEXT]") for l in lines)
    assert lines[-1] == "f NO [EXPUNGEISSUED] Some of the requested messages no longer exist"
    # what the index knows (the flags) still answers, and SEARCH keeps the
    # numbers; its size and date went with it
    assert r.cmd("g", "FETCH 1 (UID FLAGS)")[0].startswith("* 1 FETCH (UID 1 FLAGS (")
    lines = r.cmd("z", "FETCH 1:2 (UID RFC822.SIZE)")
    assert not any(l.startswith("* 1 FETCH") for l in lines)
    assert any(l.startswith("* 2 FETCH (UID 2 RFC822.SIZE ") for l in lines)
    assert lines[-1] == "z NO [EXPUNGEISSUED] Some of the requested messages no longer exist"
    assert r.cmd("q", "SEARCH ALL")[0] == "* SEARCH 1 2"
    assert r.cmd("q2", "SEARCH LARGER 1")[0] == "* SEARCH 2"
    # UID FETCH may report the expunge, and is fine
    lines = r.cmd("u", "UID FETCH 1:2 (FLAGS)")
    assert "* 1 EXPUNGE" in lines and lines[-1] == "u OK UID FETCH completed"
    assert r.cmd("n", "NOOP") == ["n OK NOOP completed"]


def test_a_session_whose_mailbox_is_deleted_is_told_with_bye(petrel):
    m = login(petrel)
    ok(m.create("Doomed"))
    r = raw_login(petrel)
    r.cmd("s", "SELECT Doomed")
    ok(m.delete("Doomed"))
    lines = r.cmd("n", "NOOP")
    assert lines[0] == "* BYE Selected mailbox was deleted, have to disconnect"
    with pytest.raises((EOFError, OSError)):
        r.cmd("n2", "NOOP")
    # a rename is not a deletion: the session goes on
    ok(m.create("Moving"))
    r = raw_login(petrel)
    r.cmd("s", "SELECT Moving")
    ok(m.rename("Moving", "Moved"))
    assert r.cmd("n", "NOOP") == ["n OK NOOP completed"]
    m.logout()


def test_esearch_return_options(petrel):
    for i in range(4):
        deliver(petrel, subject="m%d" % i)
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    r.cmd("f", "STORE 2,4 +FLAGS.SILENT (\\Seen)")
    assert r.cmd("a", "SEARCH RETURN (MIN MAX COUNT ALL) SEEN")[0] == \
        '* ESEARCH (TAG "a") MIN 2 MAX 4 COUNT 2 ALL 2,4'
    assert r.cmd("b", "UID SEARCH RETURN () ALL")[0] == '* ESEARCH (TAG "b") UID ALL 1:4'
    assert r.cmd("c", "SEARCH RETURN (COUNT) 1000")[0] == '* ESEARCH (TAG "c") COUNT 0'
    assert r.cmd("d", "SEARCH RETURN (MIN) 1000")[0] == '* ESEARCH (TAG "d")'


def test_binary_of_a_multipart_is_its_bytes_as_they_are(petrel):
    body = ("--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            "aGVsbG8=\r\n--XX--\r\n")
    deliver(petrel, subject="bin", body=body,
            extra='MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"\r\n')
    stored = mailstore.messages(petrel, ALICE)[0]
    m = login(petrel)
    ok(m.select("INBOX"))
    data = ok(m.fetch("1", "(BINARY.PEEK[] BINARY.PEEK[1] BINARY.SIZE[])"))
    assert data[0][1] == stored and data[1][1] == b"hello"
    assert b"BINARY.SIZE[] %d" % len(stored) in data[2]
    m.logout()


def test_keywords_stay_with_their_messages_across_expunges(petrel):
    for i in range(4):
        deliver(petrel, subject="k%d" % i)
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    o = raw_login(petrel)
    o.cmd("s", "SELECT INBOX")
    o.cmd("a", "STORE 2 +FLAGS.SILENT ($Forwarded Work)")
    o.cmd("b", "STORE 3 +FLAGS.SILENT ($Junk)")
    o.cmd("c", "STORE 4 +FLAGS.SILENT ($Forwarded Work \\Seen)")
    lines = r.cmd("n", "NOOP")
    assert any(l.startswith("* FLAGS (") and "$Junk" in l and "Work" in l for l in lines), lines
    assert len([l for l in lines if " FETCH " in l]) == 3, lines
    o.cmd("d", "STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    o.cmd("x", "EXPUNGE")
    lines = r.cmd("n2", "NOOP")
    assert lines[:2] == ["* 3 EXPUNGE", "* 1 EXPUNGE"], lines
    lines = r.cmd("f", "FETCH 1:2 (FLAGS)")
    assert lines[0] == "* 1 FETCH (FLAGS (\\Recent $Forwarded Work))", lines
    assert lines[1] == "* 2 FETCH (FLAGS (\\Seen \\Recent $Forwarded Work))", lines
    assert r.cmd("k", "SEARCH KEYWORD work")[0] == "* SEARCH 1 2"
    assert r.cmd("k2", "SEARCH UNKEYWORD $Junk")[0] == "* SEARCH 1 2"
