"""FETCH of ENVELOPE and BODYSTRUCTURE over many messages, which reads the cached
strings a window of messages at a time (one pass over a UID range each): the answers
are those of one FETCH per message, across windows, with UID gaps, sparse sets,
messages whose strings were never cached (stored by an older petrel), and messages
another session expunged meanwhile."""
import os
import re
import sqlite3

from conftest import PASSWORDS
from test_imap import Raw

ALICE = "alice@example.test"
COUNT = 700  # more than two windows of 256


def login(petrel):
    r = Raw(petrel.ports["imap"])
    r.line()
    assert r.cmd("a", 'LOGIN %s "%s"' % (ALICE, PASSWORDS[ALICE]))[-1].startswith("a OK")
    return r


def message(i):
    if i % 3 == 0:
        return ("Subject: plain %d\r\nFrom: Sender %d <s%d@example.net>\r\n"
                "To: alice@example.test\r\n\r\nbody %d\r\n" % (i, i, i, i))
    return ("Subject: =?UTF-8?Q?mixed_=C3=A9_%d?=\r\nFrom: s%d@example.net\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n"
            "--b%d\r\nContent-Type: text/plain\r\n\r\ntext %d\r\n"
            "--b%d\r\nContent-Type: application/pdf; name=f%d.pdf\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b%d--\r\n"
            % (i, i, i, i, i, i, i, i))


def load(petrel, r):
    for i in range(1, COUNT + 1):
        data = message(i).encode()
        r.send(b"p%d APPEND INBOX {%d+}\r\n%s\r\n" % (i, len(data), data))
    for i in range(1, COUNT + 1):
        assert r.until("p%d" % i)[-1].startswith("p%d OK" % i)


def responses(lines):
    """{message number: the FETCH response line} of an answer."""
    out = {}
    for l in lines:
        m = re.match(r"\* (\d+) FETCH ", l)
        if m:
            out[int(m.group(1))] = l
    return out


def one_by_one(r, numbers, items):
    out = {}
    for n in numbers:
        lines = r.cmd("o", "FETCH %d %s" % (n, items))
        assert lines[-1].startswith("o OK"), lines
        out.update(responses(lines))
    return out


def test_fetch_of_many_messages_answers_as_one_by_one(petrel):
    r = login(petrel)
    load(petrel, r)
    assert r.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    # UID gaps: every 7th message goes; 600:650 too, a gap wider than a window
    gone = sorted(set(range(7, COUNT + 1, 7)) | set(range(600, 651)))
    assert r.cmd("d", "UID STORE %s +FLAGS.SILENT (\\Deleted)" %
                 ",".join(map(str, gone)))[-1].startswith("d OK")
    assert r.cmd("x", "EXPUNGE")[-1].startswith("x OK")
    left = COUNT - len(gone)
    # some messages without cached strings, as an older petrel stored them
    con = sqlite3.connect(os.path.join(petrel.data_dir, "petrel.db"), timeout=10)
    con.execute("UPDATE message SET envelope = NULL, bodystructure = NULL WHERE uid % 10 = 3")
    con.execute("UPDATE message SET bodystructure = NULL WHERE uid % 10 = 5")
    con.commit()
    con.close()

    for items in ("(ENVELOPE)", "(BODYSTRUCTURE)", "(UID ENVELOPE BODYSTRUCTURE FLAGS)"):
        single = one_by_one(r, range(1, left + 1), items)
        assert len(single) == left
        lines = r.cmd("f", "FETCH 1:* " + items)
        assert lines[-1] == "f OK FETCH completed", lines[-1]
        assert responses(lines) == single
        # sparse and scattered sets, UID and sequence forms
        sparse = [1, 2, 3, 100, 101, 300, left - 1, left]
        lines = r.cmd("g", "FETCH %s %s" % (",".join(map(str, sparse)), items))
        assert lines[-1] == "g OK FETCH completed", lines[-1]
        assert responses(lines) == {n: single[n] for n in sparse}
        lines = r.cmd("h", "FETCH 1:*:2 " + items)
        assert lines[-1].startswith("h BAD")
        if "UID" in items:  # (UID FETCH adds UID to the others' responses)
            lines = r.cmd("u", "UID FETCH 1:5,590:660,%d:* %s" % (COUNT - 3, items))
            assert lines[-1] == "u OK UID FETCH completed", lines[-1]
            got = responses(lines)
            asked = [u for u in list(range(1, 6)) + list(range(590, 661)) +
                     list(range(COUNT - 3, COUNT + 1)) if u not in gone]
            assert len(got) == len(asked) and all(single[n] == got[n] for n in got)


def test_fetch_of_many_messages_some_expunged_by_another_session(petrel):
    r = login(petrel)
    load(petrel, r)
    assert r.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    before = responses(r.cmd("f", "FETCH 1:* (ENVELOPE)"))
    o = login(petrel)
    assert o.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    assert o.cmd("d", "STORE 2,300,301 +FLAGS.SILENT (\\Deleted)")[-1].startswith("d OK")
    assert o.cmd("e", "EXPUNGE")[-1].startswith("e OK")
    lines = r.cmd("f", "FETCH 1:* (ENVELOPE BODYSTRUCTURE)")
    assert lines[-1] == "f NO [EXPUNGEISSUED] Some of the requested messages no longer exist"
    got = responses(lines)
    assert sorted(got) == [n for n in range(1, COUNT + 1) if n not in (2, 300, 301)]
    for n in got:
        assert got[n].startswith(before[n][:-1]), n  # the same ENVELOPE, then BODYSTRUCTURE
    lines = r.cmd("u", "UID FETCH 1:* (ENVELOPE)")
    assert "* 2 EXPUNGE" in lines and lines[-1] == "u OK UID FETCH completed"
