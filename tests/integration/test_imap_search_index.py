"""SEARCH BODY / TEXT with the full-text index against the same searches reading every
message ([store] search_index = no), over a corpus of tricky messages; the index's rows
after expunge; `petrel store reindex` on a store whose messages the index does not know."""
import base64
import imaplib
import os
import smtplib
import sqlite3

import mailstore
from conftest import PASSWORDS
from test_imap import Raw

ALICE = "alice@example.test"


def b64(data):
    return base64.encodebytes(data).decode().replace("\n", "\r\n")


HDR = ("From: Carol <carol@elsewhere.example>\r\nTo: alice@example.test\r\n"
       "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n")

# Each message is (subject line, further header fields, body).
CORPUS = [
    ("Subject: latin1\r\n",
     "Content-Type: text/plain; charset=iso-8859-1\r\n"
     "Content-Transfer-Encoding: quoted-printable\r\n",
     "Caf=E9 cr=E8me br=FBl=E9e, s'il vous pla=EEt.\r\n"),
    ("Subject: koi8\r\n",
     "Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: base64\r\n",
     b64("Привет, мир! Как дела?".encode("koi8-r"))),
    ("Subject: sjis\r\n",
     "Content-Type: text/plain; charset=shift_jis\r\nContent-Transfer-Encoding: base64\r\n",
     b64("日本語のテキストです".encode("shift_jis"))),
    ("Subject: alternative\r\n",
     'Content-Type: multipart/alternative; boundary="alt"\r\n',
     "--alt\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nA bold statement.\r\n"
     "--alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
     "\r\n" + b64("<p>A <b>Bold</b> statement &amp; more: naïve</p>".encode()) +
     "--alt--\r\n"),
    ("Subject: forwarded\r\n",
     'Content-Type: multipart/mixed; boundary="mix"\r\n',
     "--mix\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
     "--mix\r\nContent-Type: message/rfc822\r\n\r\n"
     "Subject: Inner secret plan\r\nFrom: Dave <dave@example.net>\r\n"
     "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
     "\r\ndeep inside the =C3=BCber message\r\n"
     "--mix--\r\n"),
    ("Subject: attachment\r\n",
     'Content-Type: multipart/mixed; boundary="att"\r\n',
     "--att\r\nContent-Type: text/plain\r\n\r\nnumbers attached\r\n"
     "--att\r\nContent-Type: application/octet-stream; name=\"budget-2027.xlsx\"\r\n"
     "Content-Transfer-Encoding: base64\r\n\r\n" + b64(b"attachment-only words") +
     "--att--\r\n"),
    ("Subject: =?UTF-8?B?WsO8cmljaCBtZWV0aW5n?=\r\n",
     "Content-Type: text/plain; charset=utf-8\r\n",
     "Agenda for the meeting.\r\n"),
    ("Subject: plain\r\n", "",
     "The quick brown fox jumps over the lazy dog.\r\n100% \"quoted\" under_score\r\n"),
    ("Subject: digest\r\n",
     'Content-Type: multipart/digest; boundary="dig"\r\n',
     "--dig\r\n\r\nSubject: first of digest\r\n\r\nalpha omega\r\n--dig--\r\n"),
]

# Strings to look for with BODY and TEXT. Non-ASCII ones go as UTF-8 literals.
NEEDLES = [
    "crème", "CRÈME", "Café", "CAFÉ", "café", "s'il",
    "мир", "МИР", "Как дела", "テキスト", "日本",
    "bold", "<b>bold</b>", "&amp;", "naïve", "NAÏVE",
    "Inner secret", "inner SECRET plan", "über", "deep inside",
    "budget-2027", "attachment-only", "octet-stream",
    "Zürich", "zürich", "meeting", "Agenda",
    "quick brown", "LAZY DOG", "100%", '"quoted"', "_sc", "under_score",
    "first of digest", "alpha",
    "ox", "fo", "x", "é", "мi", "Subject", "carol@elsewhere", "nothing like this",
]


def restart(petrel, overrides=None):
    """Stops the server and starts it again (with config overrides); the readiness
    line is looked for in a fresh stdout."""
    assert petrel.stop() == 0
    open(petrel.stdout_path, "wb").close()
    petrel.write_config(overrides)
    petrel.start()


def deliver_corpus(petrel):
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        for subject, fields, body in CORPUS:
            msg = (HDR + subject + fields + "\r\n" + body).encode()
            s.sendmail("carol@elsewhere.example", [ALICE], msg)


def login(petrel):
    r = Raw(petrel.ports["imap"])
    r.line()
    assert r.cmd("a", 'LOGIN %s "%s"' % (ALICE, PASSWORDS[ALICE]))[-1].startswith("a OK")
    return r


def search(r, tag, key, needle, charset=True):
    """The numbers SEARCH answers for `key needle`, the needle as a LITERAL+."""
    data = needle.encode()
    cmd = b"%s SEARCH %s%s {%d+}\r\n%s\r\n" % (
        tag.encode(), b"CHARSET UTF-8 " if charset else b"", key.encode(), len(data), data)
    r.send(cmd)
    lines = r.until(tag)
    assert lines[-1].startswith(tag + " OK"), lines
    found = [l for l in lines if l.startswith("* SEARCH")]
    assert len(found) == 1, lines
    return found[0][len("* SEARCH"):].split()


def all_answers(petrel, mailbox="INBOX"):
    r = login(petrel)
    assert r.cmd("s", "SELECT " + mailbox)[-1].startswith("s OK")
    answers = {}
    n = 0
    for needle in NEEDLES:
        for key in ("BODY", "TEXT"):
            n += 1
            answers[(key, needle)] = search(r, "q%d" % n, key, needle)
    # keys in combinations: under NOT and OR the index's "no" must stay exact
    for i, (a, b) in enumerate([("quick brown", "мир"), ("bold", "nothing like this"),
                                ("budget-2027", "ox")]):
        for form in ("NOT BODY", "OR BODY"):
            da, db = a.encode(), b.encode()
            tag = "c%d%s" % (i, form[0])
            if form == "NOT BODY":
                cmd = b"%s SEARCH CHARSET UTF-8 NOT BODY {%d+}\r\n%s\r\n" % (
                    tag.encode(), len(da), da)
            else:
                cmd = b"%s SEARCH CHARSET UTF-8 OR BODY {%d+}\r\n%s TEXT {%d+}\r\n%s\r\n" % (
                    tag.encode(), len(da), da, len(db), db)
            r.send(cmd)
            lines = r.until(tag)
            assert lines[-1].startswith(tag + " OK"), lines
            answers[(form, a, b)] = [l for l in lines if l.startswith("* SEARCH")][0].split()[2:]
    r.cmd("z", "LOGOUT")
    return answers


def test_index_and_scan_answer_alike(petrel):
    deliver_corpus(petrel)
    # the same messages through APPEND too, and copied to another mailbox
    r = login(petrel)
    for subject, fields, body in CORPUS[:3]:
        msg = (HDR + subject + fields + "\r\n" + body).encode()
        r.send(b"p APPEND Archive {%d+}\r\n%s\r\n" % (len(msg), msg))
        assert r.until("p")[-1].startswith("p OK")
    assert r.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    assert r.cmd("c", "COPY 4:6 Archive")[-1].startswith("c OK")
    r.cmd("z", "LOGOUT")

    with_index = all_answers(petrel)
    archive_with_index = all_answers(petrel, "Archive")
    assert "event=search-index" in petrel.log()

    # what the answers must be (so that "alike" cannot mean "alike and wrong")
    assert with_index[("BODY", "crème")] == ["1"]
    assert with_index[("BODY", "CRÈME")] == []      # case folding is ASCII only
    assert with_index[("BODY", "CAFÉ")] == []
    assert with_index[("BODY", "мир")] == ["2"]
    assert with_index[("BODY", "МИР")] == []
    assert with_index[("BODY", "テキスト")] == ["3"]
    assert with_index[("BODY", "bold")] == ["4"]
    assert with_index[("BODY", "<b>bold</b>")] == ["4"]  # HTML as written
    assert with_index[("BODY", "naïve")] == ["4"]
    assert with_index[("BODY", "inner SECRET plan")] == ["5"]
    assert with_index[("BODY", "über")] == ["5"]
    assert with_index[("BODY", "budget-2027")] == ["6"]  # a part's header
    assert with_index[("BODY", "attachment-only")] == []  # not a text part
    assert with_index[("BODY", "Zürich")] == []
    assert with_index[("TEXT", "zürich")] == ["7"]
    assert with_index[("BODY", "LAZY DOG")] == ["8"]
    assert with_index[("BODY", '"quoted"')] == ["8"]
    assert with_index[("BODY", "ox")] == ["8"]           # two characters: read every message
    assert with_index[("BODY", "first of digest")] == ["9"]
    assert with_index[("BODY", "carol@elsewhere")] == []
    assert with_index[("TEXT", "carol@elsewhere")] == [str(i) for i in range(1, 10)]
    assert with_index[("NOT BODY", "quick brown", "мир")] == [
        str(i) for i in range(1, 10) if i != 8]
    assert with_index[("OR BODY", "budget-2027", "ox")] == ["6", "8"]
    assert archive_with_index[("BODY", "мир")] == ["2"]
    assert archive_with_index[("BODY", "budget-2027")] == ["6"]

    restart(petrel, {"store": {"search_index": "no"}})
    log_before = petrel.log().count("event=search-index")
    assert all_answers(petrel) == with_index
    assert all_answers(petrel, "Archive") == archive_with_index
    assert petrel.log().count("event=search-index") == log_before  # the index was not asked


STAGE = 128  # STORE_SQLITE_SEARCH_STAGE: staged messages move into FTS5 together


def test_staged_and_indexed_messages_answer_alike(petrel):
    n = len(CORPUS)
    deliver_corpus(petrel)                     # 1..n
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        for i in range(STAGE):                 # n+1..n+STAGE
            msg = (HDR + "Subject: filler %d\r\n\r\nnumber %d, not much else\r\n" % (i, i * 7))
            s.sendmail("carol@elsewhere.example", [ALICE], msg.encode())
    deliver_corpus(petrel)                     # n+STAGE+1..2n+STAGE
    # the first STAGE moved into FTS5 together; the other 2n wait in the stage
    assert mailstore.count(petrel, "search_doc") == STAGE
    assert mailstore.count(petrel, "search_stage") == 2 * n
    r = login(petrel)
    assert r.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    # expunge indexed ones (1, 2) and staged ones (the last two)
    last = 2 * n + STAGE
    assert r.cmd("d", "STORE 1,2,%d,%d +FLAGS.SILENT (\\Deleted)" % (last - 1, last))[-1] \
        .startswith("d OK")
    assert r.cmd("x", "EXPUNGE")[-1].startswith("x OK")
    assert search(r, "n", "BODY", "number 350,") == [str(n + 51 - 2)]
    r.cmd("z", "LOGOUT")
    with_index = all_answers(petrel)
    assert with_index[("BODY", "мир")] == [str(n + STAGE + 2 - 2)]
    assert with_index[("BODY", "first of digest")] == [str(n - 2)]
    assert petrel.cli("store", "check").out == "ok\n"
    fts_check(petrel)
    restart(petrel, {"store": {"search_index": "no"}})
    assert all_answers(petrel) == with_index


def test_uid_search_with_index_sees_only_existing_messages(petrel):
    deliver_corpus(petrel)
    r = login(petrel)
    assert r.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    lines = r.cmd("u", "UID SEARCH BODY statement")
    assert lines[0] == "* SEARCH 4", lines
    lines = r.cmd("e", "SEARCH RETURN (COUNT) TEXT meeting")
    assert lines[0] == '* ESEARCH (TAG "e") COUNT 1', lines
    r.cmd("z", "LOGOUT")


def index_rows(petrel):
    """Messages (blobs) the index knows: in FTS5, or their words staged."""
    return mailstore.count(petrel, "search_doc") + mailstore.count(petrel, "search_stage")


def fts_check(petrel):
    """FTS5's own check of its index structure (raises when it is damaged)."""
    con = sqlite3.connect(os.path.join(petrel.data_dir, "petrel.db"), timeout=10)
    try:
        con.execute("INSERT INTO search_text(search_text) VALUES('integrity-check')")
        con.commit()
    finally:
        con.close()


def test_expunge_removes_the_index_rows(petrel):
    deliver_corpus(petrel)
    assert index_rows(petrel) == len(CORPUS)
    r = login(petrel)
    assert r.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    assert r.cmd("c", "COPY 1 Archive")[-1].startswith("c OK")
    assert r.cmd("d", "STORE 1:3 +FLAGS.SILENT (\\Deleted)")[-1].startswith("d OK")
    assert r.cmd("x", "EXPUNGE")[-1].startswith("x OK")
    # message 1 lives on in Archive; 2 and 3 are gone with their entries
    assert index_rows(petrel) == len(CORPUS) - 2
    assert r.cmd("m", "MOVE 1:* Trash")[-1].startswith("m OK")
    assert r.cmd("t", "SELECT Trash")[-1].startswith("t OK")
    assert r.cmd("d2", "STORE 1:* +FLAGS.SILENT (\\Deleted)")[-1].startswith("d2 OK")
    assert r.cmd("x2", "EXPUNGE")[-1].startswith("x2 OK")
    assert index_rows(petrel) == 1
    assert r.cmd("a", "SELECT Archive")[-1].startswith("a OK")
    assert r.cmd("b", "SEARCH BODY cr=E8me")[0] == "* SEARCH"
    assert search(r, "b2", "BODY", "crème") == ["1"]
    r.cmd("z", "LOGOUT")
    assert petrel.cli("store", "check").out == "ok\n"
    fts_check(petrel)
    r = login(petrel)
    assert r.cmd("a", "DELETE Archive")[-1].startswith("a OK")
    r.cmd("z", "LOGOUT")
    assert index_rows(petrel) == 0
    assert petrel.cli("store", "check").out == "ok\n"


def test_reindex_a_store_the_index_does_not_know(petrel):
    deliver_corpus(petrel)
    # what a store written before the index existed looks like
    con = sqlite3.connect(os.path.join(petrel.data_dir, "petrel.db"), timeout=10)
    con.executescript("INSERT INTO search_text(search_text) VALUES('delete-all');"
                      "DELETE FROM search_doc;"
                      "DELETE FROM search_stage;"
                      "INSERT INTO search_pending(blob_id) SELECT DISTINCT blob_id FROM message;")
    con.close()
    assert petrel.cli("store", "check").out == "ok\n"
    restart(petrel)
    before = all_answers(petrel)
    assert before[("BODY", "мир")] == ["2"]   # unknown messages are read
    p = petrel.cli("store", "reindex", ALICE)  # while the server runs
    assert p.out == "%d messages indexed\n" % len(CORPUS), p.out
    assert index_rows(petrel) == len(CORPUS)
    assert petrel.cli("store", "reindex").out == "0 messages indexed\n"
    assert petrel.cli("store", "reindex", "--all").out == "%d messages indexed\n" % len(CORPUS)
    assert all_answers(petrel) == before
    assert petrel.cli("store", "check").out == "ok\n"
    fts_check(petrel)
    p = petrel.cli("store", "reindex", "nobody@example.test", check=False)
    assert p.returncode == 1 and "no account" in p.err
    p = petrel.cli("store", "reindex", "--bogus", check=False)
    assert p.returncode == 2
