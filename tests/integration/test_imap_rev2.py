"""IMAP4rev2 (RFC 9051) and the extensions it takes in, over raw sockets and imaplib:
LIST-EXTENDED, LIST-STATUS, STATUS=SIZE/DELETED/APPENDLIMIT, BINARY, MULTIAPPEND,
UTF8=ACCEPT, ENABLE IMAP4rev2, and sessions whose mailbox goes away."""
import re
import time

import pytest

import mailstore
from conftest import PASSWORDS
from test_imap import ALICE, Raw, deliver, login, ok, raw_login


def lines_of(r, tag, text):
    """The untagged lines of a command, and checks that it ended OK."""
    out = r.cmd(tag, text)
    assert out[-1].startswith(tag + " OK"), out
    return out[:-1]


def setup_fruit(r):
    """RFC 5258's example hierarchy, more or less."""
    for name in ("Fruit", "Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable",
                 "Vegetable/Broccoli", "Vegetable/Corn"):
        lines_of(r, "c", "CREATE %s" % name)
    for name in ("Fruit/Banana", "Fruit/Peach", "Vegetable", "Vegetable/Broccoli"):
        lines_of(r, "s", "SUBSCRIBE %s" % name)


# ---- LIST-EXTENDED (RFC 5258) --------------------------------------------------------------

def test_list_subscribed_shows_subscriptions_that_outlive_their_mailbox(petrel):
    r = raw_login(petrel)
    setup_fruit(r)
    got = lines_of(r, "a", 'LIST (SUBSCRIBED) "" "Fruit*"')
    assert got == ['* LIST (\\Subscribed \\HasNoChildren) "/" Fruit/Banana',
                   '* LIST (\\NonExistent \\Subscribed \\HasNoChildren) "/" Fruit/Peach']
    # deleting a mailbox leaves its subscription
    lines_of(r, "d", "DELETE Vegetable/Broccoli")
    got = lines_of(r, "b", 'LIST (SUBSCRIBED) "" "Vegetable*"')
    assert got == ['* LIST (\\Subscribed \\HasChildren) "/" Vegetable',
                   '* LIST (\\NonExistent \\Subscribed \\HasNoChildren) "/" Vegetable/Broccoli']
    # LSUB shows it too, as a name that cannot be selected
    assert lines_of(r, "l", 'LSUB "" "Vegetable/*"') == \
        ['* LSUB (\\Noselect) "/" Vegetable/Broccoli']
    # plain LIST shows only mailboxes
    assert lines_of(r, "p", 'LIST "" "Vegetable/*"') == \
        ['* LIST (\\HasNoChildren) "/" Vegetable/Corn']
    # until it is unsubscribed
    lines_of(r, "u", "UNSUBSCRIBE Vegetable/Broccoli")
    assert lines_of(r, "l2", 'LSUB "" "Vegetable/*"') == []
    # a name may be subscribed before it exists
    lines_of(r, "s", "SUBSCRIBE Later")
    assert lines_of(r, "l3", 'LIST (SUBSCRIBED) "" Later') == \
        ['* LIST (\\NonExistent \\Subscribed \\HasNoChildren) "/" Later']
    lines_of(r, "c", "CREATE Later")
    assert lines_of(r, "l4", 'LIST (SUBSCRIBED) "" Later') == \
        ['* LIST (\\Subscribed \\HasNoChildren) "/" Later']


def test_recursivematch_gives_childinfo_for_parents_of_subscribed_children(petrel):
    r = raw_login(petrel)
    setup_fruit(r)
    got = lines_of(r, "a", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert '* LIST (\\HasChildren) "/" Fruit ("CHILDINFO" ("SUBSCRIBED"))' in got
    assert '* LIST (\\Subscribed \\HasChildren) "/" Vegetable ("CHILDINFO" ("SUBSCRIBED"))' \
        in got
    assert '* LIST (\\Subscribed \\HasNoChildren) "/" INBOX' in got
    assert not any(" Tofu" in l for l in got)  # neither subscribed nor a parent of one
    # without RECURSIVEMATCH: only what is subscribed, no CHILDINFO
    got = lines_of(r, "b", 'LIST (SUBSCRIBED) "" "%"')
    assert not any("Fruit" in l or "CHILDINFO" in l for l in got)
    # a parent that does not exist at all
    lines_of(r, "s", "SUBSCRIBE Nuts/Almond")
    got = lines_of(r, "c", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Nuts"')
    assert got == ['* LIST (\\NonExistent \\HasNoChildren) "/" Nuts ("CHILDINFO" ("SUBSCRIBED"))']
    # a child that matches the pattern itself gives no CHILDINFO to its parent
    got = lines_of(r, "d", 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Nuts*"')
    assert got == ['* LIST (\\NonExistent \\Subscribed \\HasNoChildren) "/" Nuts/Almond']
    # RECURSIVEMATCH alone is an error
    assert r.cmd("e", 'LIST (RECURSIVEMATCH) "" "%"')[-1].startswith("e BAD")
    assert r.cmd("f", 'LIST (REMOTE RECURSIVEMATCH) "" "%"')[-1].startswith("f BAD")


def test_list_with_several_patterns_and_return_options(petrel):
    r = raw_login(petrel)
    setup_fruit(r)
    got = lines_of(r, "a", 'LIST "" ("INBOX" "Sent*" "Fruit/%")')
    assert got == ['* LIST (\\HasNoChildren) "/" Fruit/Apple',
                   '* LIST (\\HasNoChildren) "/" Fruit/Banana',
                   '* LIST (\\HasNoChildren) "/" INBOX',
                   '* LIST (\\HasNoChildren \\Sent) "/" Sent']
    got = lines_of(r, "b", 'LIST "" (Fruit Fruit*) RETURN (SUBSCRIBED CHILDREN)')
    assert got == ['* LIST (\\HasChildren) "/" Fruit',
                   '* LIST (\\HasNoChildren) "/" Fruit/Apple',
                   '* LIST (\\Subscribed \\HasNoChildren) "/" Fruit/Banana']
    # a reference goes in front of every pattern
    got = lines_of(r, "c", 'LIST Fruit/ (Apple Banana)')
    assert got == ['* LIST (\\HasNoChildren) "/" Fruit/Apple',
                   '* LIST (\\HasNoChildren) "/" Fruit/Banana']
    assert r.cmd("d", 'LIST "" * RETURN (FOO)')[-1].startswith("d BAD")
    assert r.cmd("e", 'LIST (FOO) "" *')[-1].startswith("e BAD")
    assert r.cmd("f", 'LSUB (SUBSCRIBED) "" *')[-1].startswith("f BAD")


def test_special_use_selection_and_missing_levels(petrel):
    r = raw_login(petrel)
    got = lines_of(r, "a", 'LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)')
    assert sorted(got) == ['* LIST (\\HasNoChildren \\Archive) "/" Archive',
                           '* LIST (\\HasNoChildren \\Drafts) "/" Drafts',
                           '* LIST (\\HasNoChildren \\Junk) "/" Junk',
                           '* LIST (\\HasNoChildren \\Sent) "/" Sent',
                           '* LIST (\\HasNoChildren \\Trash) "/" Trash']
    lines_of(r, "c", "CREATE Clients/Acme")
    lines_of(r, "d", "DELETE Clients")
    # a missing level: \Noselect in the IMAP4rev1 form, \NonExistent in the extended one
    assert lines_of(r, "e", 'LIST "" "Cl%"') == ['* LIST (\\Noselect \\HasChildren) "/" Clients']
    assert lines_of(r, "f", 'LIST () "" "Cl%"') == \
        ['* LIST (\\NonExistent \\HasChildren) "/" Clients']
    assert lines_of(r, "g", 'LIST "" ""') == ['* LIST (\\Noselect) "/" ""']


# ---- LIST-STATUS (RFC 5819) and STATUS items ----------------------------------------------

def test_list_status_follows_each_selectable_mailbox(petrel):
    deliver(petrel, subject="one")
    deliver(petrel, subject="two")
    r = raw_login(petrel)
    lines_of(r, "c", "CREATE Box/Inner")
    lines_of(r, "d", "DELETE Box")
    lines_of(r, "s", "SUBSCRIBE Gone")
    got = lines_of(r, "a", 'LIST (SUBSCRIBED) "" (INBOX Gone Box*) '
                           'RETURN (STATUS (MESSAGES UNSEEN SIZE DELETED))')
    size = sum(len(m) for m in mailstore.messages(petrel, ALICE))
    assert got == ['* LIST (\\NonExistent \\Subscribed \\HasNoChildren) "/" Gone',
                   '* LIST (\\Subscribed \\HasNoChildren) "/" INBOX',
                   '* STATUS INBOX (MESSAGES 2 UNSEEN 2 SIZE %d DELETED 0)' % size]
    got = lines_of(r, "b", 'LIST "" "Box*" RETURN (STATUS (MESSAGES UIDNEXT))')
    assert got == ['* LIST (\\NonExistent \\HasChildren) "/" Box',
                   '* LIST (\\HasNoChildren) "/" Box/Inner',
                   '* STATUS Box/Inner (MESSAGES 0 UIDNEXT 1)']
    assert r.cmd("e", 'LIST "" * RETURN (STATUS (FOO))')[-1].startswith("e BAD")
    assert r.cmd("f", 'LIST "" * RETURN (STATUS)')[-1].startswith("f BAD")


def test_status_size_deleted_and_appendlimit(petrel):
    deliver(petrel, subject="one")
    deliver(petrel, subject="two")
    r = raw_login(petrel)
    lines_of(r, "s", "SELECT INBOX")
    lines_of(r, "f", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    size = sum(len(m) for m in mailstore.messages(petrel, ALICE))
    got = lines_of(r, "a", "STATUS INBOX (SIZE DELETED APPENDLIMIT MESSAGES)")
    m = re.match(r"\* STATUS INBOX \(SIZE (\d+) DELETED 1 APPENDLIMIT (\d+) MESSAGES 2\)$",
                 got[0])
    assert m and int(m.group(1)) == size, got
    caps = lines_of(r, "c", "CAPABILITY")[0].split()
    assert "APPENDLIMIT=%s" % m.group(2) in caps and "STATUS=SIZE" in caps
    assert r.cmd("b", "STATUS INBOX (FOO)")[-1].startswith("b BAD")


# ---- ENABLE IMAP4rev2 and UTF8=ACCEPT -----------------------------------------------------

def test_capabilities_name_imap4rev2_and_its_extensions(petrel):
    r = Raw(petrel.ports["imap"])
    caps = r.line().split("]")[0].split()[2:]
    for cap in ("IMAP4rev1", "IMAP4rev2", "LITERAL+", "ENABLE", "LIST-EXTENDED", "LIST-STATUS",
                "STATUS=SIZE", "BINARY", "MULTIAPPEND", "UTF8=ACCEPT", "ESEARCH", "UNSELECT",
                "NAMESPACE", "UIDPLUS", "MOVE", "IDLE", "SASL-IR", "SPECIAL-USE", "CHILDREN"):
        assert cap in caps, cap
    assert any(c.startswith("APPENDLIMIT=") for c in caps)
    # LITERAL+ includes LITERAL-; a server advertises one of them (RFC 7888)
    assert "LITERAL-" not in caps


def test_enable_names_only_what_it_turned_on(petrel):
    r = raw_login(petrel)
    assert lines_of(r, "a", "ENABLE IMAP4rev2 X-UNKNOWN") == ["* ENABLED IMAP4rev2"]
    assert lines_of(r, "b", "ENABLE imap4rev2 UTF8=ACCEPT") == ["* ENABLED UTF8=ACCEPT"]
    assert lines_of(r, "c", "ENABLE X-NOTHING") == ["* ENABLED"]
    assert r.cmd("d", "ENABLE")[-1].startswith("d BAD")
    assert r.cmd("e", 'ENABLE "IMAP4rev2"')[-1].startswith("e BAD")
    r2 = Raw(petrel.ports["imap"])
    r2.line()
    assert r2.cmd("f", "ENABLE IMAP4rev2")[-1].startswith("f BAD")  # not logged in


def test_an_imap4rev2_session_has_no_recent_and_answers_search_with_esearch(petrel):
    deliver(petrel, subject="one")
    deliver(petrel, subject="two")
    r = raw_login(petrel)
    lines_of(r, "e", "ENABLE IMAP4rev2")
    sel = lines_of(r, "s", "SELECT INBOX")
    assert "* 2 EXISTS" in sel
    assert not any("RECENT" in l or "UNSEEN" in l for l in sel), sel
    assert '* LIST () "/" INBOX' in sel
    assert lines_of(r, "f", "FETCH 1:* (FLAGS)") == ["* 1 FETCH (FLAGS ())",
                                                     "* 2 FETCH (FLAGS ())"]
    assert lines_of(r, "q", "SEARCH UNSEEN") == ['* ESEARCH (TAG "q") ALL 1:2']
    assert lines_of(r, "u", "UID SEARCH 2") == ['* ESEARCH (TAG "u") UID ALL 2']
    assert lines_of(r, "n", "SEARCH SUBJECT nothing-like-this") == ['* ESEARCH (TAG "n")']
    assert lines_of(r, "m", "SEARCH RETURN (COUNT) ALL") == ['* ESEARCH (TAG "m") COUNT 2']
    # RECENT is no STATUS item of IMAP4rev2
    assert r.cmd("t", "STATUS INBOX (RECENT)")[-1].startswith("t BAD")
    # new mail: EXISTS without RECENT
    deliver(petrel, subject="three")
    assert lines_of(r, "p", "NOOP") == ["* 3 EXISTS"]
    # the special-use attribute of the selected mailbox
    assert '* LIST (\\Sent) "/" Sent' in lines_of(r, "x", "EXAMINE Sent")
    # not claimed: an IMAP4rev1 session still sees them recent
    r1 = raw_login(petrel)
    assert "* 3 RECENT" in lines_of(r1, "s", "SELECT INBOX")


def test_utf8_mailbox_names_once_enabled(petrel):
    r = raw_login(petrel)
    lines_of(r, "c", "CREATE Entw&APw-rfe")
    # IMAP4rev1 clients see modified UTF-7
    assert lines_of(r, "l", 'LIST "" Entw*') == ['* LIST (\\HasNoChildren) "/" Entw&APw-rfe']
    r2 = raw_login(petrel)
    lines_of(r2, "e", "ENABLE UTF8=ACCEPT")
    assert lines_of(r2, "l", 'LIST "" Entw*') == \
        ['* LIST (\\HasNoChildren) "/" "Entwürfe"']
    # names are UTF-8 now, "&" is just "&"
    lines_of(r2, "c", 'CREATE "Bücher & Hefte"')
    assert lines_of(r2, "m", 'LIST "" B*') == ['* LIST (\\HasNoChildren) "/" "Bücher & Hefte"']
    assert lines_of(r, "m", 'LIST "" B*') == ['* LIST (\\HasNoChildren) "/" "B&APw-cher &- Hefte"']
    sel = lines_of(r2, "s", 'SELECT "Entwürfe"')
    assert "* 0 EXISTS" in sel
    # the same with IMAP4rev2 (RFC 9051 5.1)
    r3 = raw_login(petrel)
    lines_of(r3, "e", "ENABLE IMAP4rev2")
    assert lines_of(r3, "l", 'LIST "" Entw*') == \
        ['* LIST (\\HasNoChildren) "/" "Entwürfe"']
    got = lines_of(r3, "t", 'STATUS "Bücher & Hefte" (MESSAGES)')
    assert got == ['* STATUS "Bücher & Hefte" (MESSAGES 0)']
    names = [n[0] for n in mailstore.connect(petrel).execute("SELECT name FROM mailbox")]
    assert "Bücher & Hefte" in names and "Entwürfe" in names


# ---- APPEND: MULTIAPPEND, literal8, UTF8 --------------------------------------------------

def append_lines(r, tag, head, parts):
    """Sends APPEND with synchronising literals: head, then (text, data) pairs."""
    r.send("%s APPEND %s" % (tag, head))
    for i, (text, data) in enumerate(parts):
        r.send("%s{%d}\r\n" % (text, len(data)))
        assert r.line().startswith("+ "), "no continuation"
        r.send(data)
    r.send("\r\n")
    return r.until(tag)


def test_multiappend_stores_every_message_in_one_commit_with_a_uid_set(petrel):
    r = raw_login(petrel)
    msgs = [b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i) for i in range(3)]
    got = append_lines(r, "a", "Drafts", [(" (\\Draft) ", msgs[0]),
                                          (' "1-Feb-2026 10:00:00 +0000" ', msgs[1]),
                                          (" ", msgs[2])])
    m = re.match(r"a OK \[APPENDUID (\d+) 1:3\] APPEND completed", got[-1])
    assert m, got
    assert mailstore.messages(petrel, ALICE, "Drafts") == msgs
    sel = lines_of(r, "s", "SELECT Drafts")
    assert "* 3 EXISTS" in sel
    f = lines_of(r, "f", "FETCH 1:3 (FLAGS INTERNALDATE)")
    assert f[0].startswith("* 1 FETCH (FLAGS (\\Draft \\Recent)")
    assert 'INTERNALDATE "01-Feb-2026 10:00:00 +0000"' in f[1]
    # one bad message (a flag that is not one): nothing is stored
    r.send('b APPEND Drafts {3+}\r\none (\\Bogus) {3+}\r\ntwo\r\n')
    assert r.until("b")[-1].startswith("b BAD")
    # one over the size limit: refused before it is sent, nothing stored
    r.send("c APPEND Drafts {3}\r\n")
    assert r.line().startswith("+ ")
    r.send("one {%d}\r\n" % (1 << 40))
    assert r.until("c")[-1].startswith("c NO [TOOBIG]")
    assert len(mailstore.messages(petrel, ALICE, "Drafts")) == 3
    # into a mailbox that does not exist
    r.send("d APPEND Nowhere {3+}\r\none {3+}\r\ntwo\r\n")
    assert r.until("d")[-1].startswith("d NO [TRYCREATE]")
    assert r.cmd("n", "NOOP")[-1].startswith("n OK")


def test_multiappend_all_or_nothing_over_quota(petrel):
    petrel.cli("user", "quota", ALICE, "1000")
    r = raw_login(petrel)
    big = b"Subject: big\r\n\r\n" + b"x" * 600 + b"\r\n"
    r.send(b"a APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(big), big, len(big), big))
    assert r.until("a")[-1].startswith("a NO [OVERQUOTA]")
    assert mailstore.messages(petrel, ALICE) == []


def test_binary_append_keeps_nul_and_fetch_binary_gives_it_back(petrel):
    r = raw_login(petrel)
    body = b"\x00\x01\x02binary\x00data\xff"
    msg = (b"Subject: bin\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n"
           b"\r\n--B\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: binary\r\n\r\n" + body + b"\r\n--B--\r\n")
    r.send(b"a APPEND INBOX ~{%d}\r\n" % len(msg))
    assert r.line().startswith("+ ")
    r.send(msg + b"\r\n")
    assert r.until("a")[-1].startswith("a OK [APPENDUID")
    assert mailstore.messages(petrel, ALICE) == [msg]
    lines_of(r, "s", "SELECT INBOX")
    # BINARY gives the bytes as they are, in a literal8
    r.send("f FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])\r\n")
    head = r.line()
    assert head == "* 1 FETCH (BINARY[1] ~{%d}" % len(body), head
    data = r.buf[:len(body)]
    while len(data) < len(body):
        r.buf += r.sock.recv(65536)
        data = r.buf[:len(body)]
    r.buf = r.buf[len(body):]
    assert data == body
    rest = r.until("f")
    assert rest[0] == " BINARY.SIZE[1] %d)" % len(body) and rest[-1].startswith("f OK")
    # BODY[] cannot carry NUL in a literal: 0x80 stands for it, same size
    r.send("g FETCH 1 (BODY.PEEK[])\r\n")
    head = r.line()
    assert head == "* 1 FETCH (BODY[] {%d}" % len(msg)
    while len(r.buf) < len(msg):
        r.buf += r.sock.recv(65536)
    assert r.buf[:len(msg)] == msg.replace(b"\x00", b"\x80")
    r.buf = r.buf[len(msg):]
    assert r.until("g")[-1].startswith("g OK")


def test_binary_of_an_unknown_transfer_encoding_is_unknown_cte(petrel):
    body = ("--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
            "begin 644 x\r\nend\r\n--B--\r\n")
    deliver(petrel, subject="uu", body=body,
            extra="MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n")
    r = raw_login(petrel)
    lines_of(r, "s", "SELECT INBOX")
    got = r.cmd("f", "FETCH 1 (BINARY[1])")
    assert got[-1].startswith("f NO [UNKNOWN-CTE]"), got
    got = r.cmd("g", "FETCH 1 (BINARY.SIZE[1])")
    assert got[-1].startswith("g NO [UNKNOWN-CTE]"), got
    # nothing was read: still unseen
    assert lines_of(r, "h", "FETCH 1 (FLAGS)") == ["* 1 FETCH (FLAGS (\\Recent))"]
    # BODY[1] is fine, it decodes nothing
    assert r.cmd("i", "FETCH 1 (BODY.PEEK[1])")[-1].startswith("i OK")


def test_utf8_append_needs_utf8_accept(petrel):
    r = raw_login(petrel)
    msg = "Subject: Grüße\r\nFrom: jörg@bücher.example\r\n\r\nHallo\r\n".encode()
    r.send(b"a APPEND INBOX UTF8 (~{%d+}\r\n%s)\r\n" % (len(msg), msg))
    assert r.until("a")[-1].startswith("a BAD")
    lines_of(r, "e", "ENABLE UTF8=ACCEPT")
    r.send(b"b APPEND INBOX (\\Seen) UTF8 (~{%d+}\r\n%s)\r\n" % (len(msg), msg))
    assert r.until("b")[-1].startswith("b OK [APPENDUID")
    assert mailstore.messages(petrel, ALICE) == [msg]


# ---- the selected mailbox renamed or deleted by another session ----------------------------

def test_an_idling_session_is_told_at_once_when_its_mailbox_is_deleted(petrel):
    m = login(petrel)
    ok(m.create("Doomed"))
    r = raw_login(petrel)
    lines_of(r, "s", "SELECT Doomed")
    r.send("i IDLE\r\n")
    assert r.line().startswith("+ ")
    ok(m.delete("Doomed"))
    assert r.line() == "* BYE Selected mailbox was deleted, have to disconnect"
    with pytest.raises((EOFError, OSError)):
        r.line()
    m.logout()


def test_a_session_follows_its_mailbox_through_a_rename(petrel):
    m = login(petrel)
    ok(m.create("Moving"))
    r = raw_login(petrel)
    lines_of(r, "s", "SELECT Moving")
    r.send("i IDLE\r\n")
    assert r.line().startswith("+ ")
    ok(m.rename("Moving", "Moved"))
    ok(m.append("Moved", None, None, b"Subject: after\r\n\r\nx\r\n"))
    assert r.line() == "* 1 EXISTS"
    assert r.line() == "* 1 RECENT"
    r.send("DONE\r\n")
    assert r.until("i")[-1].startswith("i OK")
    assert lines_of(r, "f", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[0].startswith(
        "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {")
    # it is the mailbox under its new name: deleting that name ends the session
    ok(m.delete("Moved"))
    assert r.cmd("n", "NOOP")[0] == "* BYE Selected mailbox was deleted, have to disconnect"
    m.logout()


def test_deleting_the_selected_mailbox_under_its_new_name_unselects_it(petrel):
    r = raw_login(petrel)
    lines_of(r, "c", "CREATE Mine")
    lines_of(r, "s", "SELECT Mine")
    lines_of(r, "r", "RENAME Mine Ours")
    assert r.cmd("d", "DELETE Ours") == ["d OK DELETE completed"]
    # no BYE: the session left the mailbox before deleting it
    assert r.cmd("n2", "NOOP") == ["n2 OK NOOP completed"]
    assert r.cmd("f", "FETCH 1 FLAGS")[-1].startswith("f BAD")
