"""SEARCH keys over header fields (SUBJECT, FROM, HEADER, SENT*): the server reads only
each message's header block, and for fields other than address fields asks the
full-text index's header text first. Over a corpus of tricky headers (folds inside the
string, encoded words across folds, an address written with comments, a field longer
than MIME_MAX_HEADER_FIELD, a field given twice, an encoded word split in two by a
stray line, a message without a body) the answers are checked, and must be the same
without the index ([store] search_index = no) and with messages it does not know."""
import os
import sqlite3

from conftest import PASSWORDS
from test_imap import Raw

ALICE = "alice@example.test"

LONG = "X-Long: " + "x" * 70000 + " needle-at-the-end\r\n"

# The messages, APPENDed as written (number: bytes).
CORPUS = [
    # 1: a fold inside the words searched for
    "Subject: quarterly\r\n report for the board\r\nFrom: a@example.test\r\n\r\n"
    "zeppelin in the body only\r\n",
    # 2: encoded words across a fold, and a tab fold elsewhere
    "Subject: =?UTF-8?Q?Z=C3=BCrich?=\r\n =?UTF-8?Q?_meeting?= notes\r\n"
    "X-Tabbed: tabbed\r\n\tcontinuation line\r\n\r\nbody\r\n",
    # 3: an address with a comment and spaces, a display name
    'Subject: address\r\nFrom: "Carol Q. Public" <carol (office)@ elsewhere.example>\r\n'
    "To: group: dave@example.net, erin@example.net;\r\n\r\nbody\r\n",
    # 4: a field longer than MIME_MAX_HEADER_FIELD, matched at its end
    "Subject: long field\r\n" + LONG + "\r\nbody\r\n",
    # 5: Subject twice; encoded words in an odd charset and in a bad one
    "Subject: first\r\nSubject: second copy\r\n"
    "X-Odd: =?x-unknown?q?raw_word?=\r\nX-Bad: =?utf-8/x?q?as_written?=\r\n\r\nbody\r\n",
    # 6: a UTF-8 character split across two encoded words, the second on a stray line
    # (not a field): the field alone decodes to "caf" U+FFFD
    "Subject: =?UTF-8?Q?caf=C3?=\r\n=?UTF-8?Q?=A9_bar?=\r\n\r\nbody\r\n",
    # 7: no body at all
    "Subject: no body at all\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n",
    # 8: a plain one with a Date, quarterly elsewhere
    "Subject: plain\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\n"
    "X-Note: quarterly figures\r\n\r\nquarterly report in the body\r\n",
]

# (key, field or None, needle) and the messages that must match.
SEARCHES = [
    ("SUBJECT", None, "quarterly report", ["1"]),
    ("SUBJECT", None, "QUARTERLY REPORT FOR the", ["1"]),
    ("SUBJECT", None, "y report", ["1"]),
    ("SUBJECT", None, "quarterly", ["1"]),
    ("SUBJECT", None, "zeppelin", []),
    ("SUBJECT", None, "Zürich meeting notes", ["2"]),
    ("SUBJECT", None, "h meeting", ["2"]),
    ("SUBJECT", None, "Z=C3", []),
    ("HEADER", "X-Tabbed", "tabbed\tcontinuation", ["2"]),
    ("HEADER", "X-Tabbed", "d\tc", ["2"]),
    ("FROM", None, "carol@elsewhere.example", ["3"]),
    ("FROM", None, "Carol Q. Public", ["3"]),
    ("FROM", None, "(office)", ["3"]),
    ("TO", None, "erin@example", ["3"]),
    ("FROM", None, "a@example.test", ["1"]),
    ("HEADER", "X-Long", "needle-at-the-end", ["4"]),
    ("SUBJECT", None, "second copy", ["5"]),
    ("SUBJECT", None, "first", ["5"]),
    ("HEADER", "X-Odd", "raw word", ["5"]),
    ("HEADER", "X-Bad", "utf-8/x?q?as_written", ["5"]),
    ("HEADER", "X-Bad", "as written", []),
    ("SUBJECT", None, "caf\ufffd", ["6"]),
    ("SUBJECT", None, "café", []),
    ("SUBJECT", None, "no body", ["7"]),
    ("HEADER", "X-Note", "quarterly", ["8"]),
    ("HEADER", "X-Note", "", ["8"]),
    ("HEADER", "Subject", "", ["1", "2", "3", "4", "5", "6", "7", "8"]),
    ("SUBJECT", None, "qu", ["1"]),
    ("SUBJECT", None, "   ", []),
]


def restart(petrel, overrides=None):
    assert petrel.stop() == 0
    open(petrel.stdout_path, "wb").close()
    petrel.write_config(overrides)
    petrel.start()


def login(petrel):
    r = Raw(petrel.ports["imap"])
    r.line()
    assert r.cmd("a", 'LOGIN %s "%s"' % (ALICE, PASSWORDS[ALICE]))[-1].startswith("a OK")
    return r


def load(petrel):
    r = login(petrel)
    for msg in CORPUS:
        data = msg.encode()
        r.send(b"p APPEND INBOX {%d+}\r\n%s\r\n" % (len(data), data))
        assert r.until("p")[-1].startswith("p OK")
    r.cmd("z", "LOGOUT")


def search(r, tag, key, field, needle):
    data = needle.encode()
    head = "%s SEARCH CHARSET UTF-8 %s%s " % (tag, key, " " + field if field else "")
    r.send(head.encode() + b"{%d+}\r\n%s\r\n" % (len(data), data))
    lines = r.until(tag)
    assert lines[-1].startswith(tag + " OK"), lines
    found = [l for l in lines if l.startswith("* SEARCH")]
    assert len(found) == 1, lines
    return found[0][len("* SEARCH"):].split()


def answers(petrel):
    r = login(petrel)
    assert r.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    got = {}
    for n, (key, field, needle, _) in enumerate(SEARCHES):
        got[(key, field, needle)] = search(r, "q%d" % n, key, field, needle)
    # the index's "no" under NOT and OR, and beside other keys
    got["not"] = r.cmd("n", "SEARCH NOT SUBJECT quarterly")[0]
    got["or"] = r.cmd("o", "SEARCH OR SUBJECT quarterly BODY zeppelin")[0]
    got["and"] = r.cmd("b", "SEARCH SUBJECT quarterly BODY quarterly")[0]
    got["sent"] = r.cmd("d", "SEARCH SENTSINCE 1-Nov-2026")[0]
    got["senton"] = r.cmd("e", "SEARCH SENTON 2-Mar-2026")[0]
    r.cmd("z", "LOGOUT")
    return got


def test_header_keys_with_index_and_scan_answer_alike(petrel):
    load(petrel)
    with_index = answers(petrel)
    for key, field, needle, want in SEARCHES:
        assert with_index[(key, field, needle)] == want, (key, field, needle)
    assert with_index["not"] == "* SEARCH 2 3 4 5 6 7 8"
    assert with_index["or"] == "* SEARCH 1"
    assert with_index["and"] == "* SEARCH"
    assert with_index["sent"] == "* SEARCH 7"
    assert with_index["senton"] == "* SEARCH 8"
    assert "key=HEADER" in petrel.log()  # the index was asked

    restart(petrel, {"store": {"search_index": "no"}})
    asked = petrel.log().count("key=HEADER")
    assert answers(petrel) == with_index
    assert petrel.log().count("key=HEADER") == asked

    # messages the index does not know are read, not left out
    con = sqlite3.connect(os.path.join(petrel.data_dir, "petrel.db"), timeout=10)
    con.executescript("INSERT INTO search_text(search_text) VALUES('delete-all');"
                      "DELETE FROM search_doc;"
                      "DELETE FROM search_stage;"
                      "INSERT INTO search_pending(blob_id) SELECT DISTINCT blob_id FROM message;")
    con.close()
    restart(petrel)
    assert answers(petrel) == with_index
    assert petrel.cli("store", "check").out == "ok\n"


def test_header_search_of_a_message_another_session_expunged(petrel):
    load(petrel)
    r = login(petrel)
    assert r.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    o = login(petrel)
    assert o.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    assert o.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")[-1].startswith("d OK")
    assert o.cmd("e", "EXPUNGE")[-1].startswith("e OK")
    # its header is gone: it no longer matches, and SEARCH keeps the numbers
    lines = r.cmd("f", "SEARCH SUBJECT quarterly")
    assert lines[0] == "* SEARCH", lines
    lines = r.cmd("g", "SEARCH HEADER X-Note quarterly")
    assert lines[0] == "* SEARCH 8", lines
    lines = r.cmd("u", "UID SEARCH FROM a@example.test")
    assert "* 1 EXPUNGE" in lines and "* SEARCH" in lines, lines
