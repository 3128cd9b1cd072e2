"""SORT and THREAD (RFC 5256), SORT=DISPLAY (RFC 5957), ESORT and
CONTEXT=SEARCH / CONTEXT=SORT (RFC 5267), with raw sockets against a real
server: messages are appended with chosen headers and INTERNALDATEs."""
import re

from test_imap import Raw, deliver, raw_login


def append(r, tag, headers, body="x\r\n", date="01-Jan-2020 00:00:00 +0000", mailbox="INBOX"):
    msg = ("".join("%s\r\n" % h for h in headers) + "\r\n" + body).encode()
    r.send(('%s APPEND %s "%s" {%d+}\r\n' % (tag, mailbox, date, len(msg))).encode() + msg +
           b"\r\n")
    lines = r.until(tag)
    assert lines[-1].startswith(tag + " OK"), lines


def fresh(petrel, messages, mailbox="INBOX"):
    """A session with mailbox selected, holding messages ((headers, date, body))."""
    r = raw_login(petrel)
    if mailbox != "INBOX":
        assert r.cmd("c", "CREATE %s" % mailbox)[-1].startswith("c OK")
    for i, (headers, date, body) in enumerate(messages):
        append(r, "ap%d" % i, headers, body, date, mailbox)
    assert r.cmd("s", "SELECT %s" % mailbox)[-1].startswith("s OK")
    return r


def sort(r, tag, args):
    lines = r.cmd(tag, args)
    assert lines[-1].startswith(tag + " OK"), lines
    got = [l for l in lines if l.startswith("* SORT")]
    assert len(got) == 1, lines
    return [int(x) for x in got[0].split()[2:]]


def esearch(lines):
    got = [l for l in lines if l.startswith("* ESEARCH")]
    assert len(got) == 1, lines
    return got[0]


D = "22-Feb-2008 %02d:00:00 +0000"


def test_capabilities_are_advertised(petrel):
    r = raw_login(petrel)
    caps = r.cmd("c", "CAPABILITY")[0].split()
    for cap in ("SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "ESORT",
                "CONTEXT=SEARCH", "CONTEXT=SORT"):
        assert cap in caps, cap


def test_sort_by_every_criterion(petrel):
    msgs = [
        (["From: Zed <b@x.test>", "To: c@x.test", "Cc: b@x.test", "Subject: Re: banana",
          "Date: Fri, 22 Feb 2008 10:00:00 +0200"], D % 3, "x" * 300),
        (["From: a@x.test", "To: =?iso-8859-1?q?=C4rger?= <z@x.test>", "Subject: apple",
          "Date: Fri, 22 Feb 2008 07:00:00 +0000"], D % 1, "x" * 10),
        (["From: =?utf-8?q?Bob?= <c@x.test>", "To: b@x.test", "Cc: a@x.test",
          "Subject: [list] Fwd: Apple (fwd)"], D % 2, "x" * 150),
    ]
    r = fresh(petrel, msgs)
    assert sort(r, "s1", "SORT (ARRIVAL) UTF-8 ALL") == [2, 3, 1]
    assert sort(r, "s2", "SORT (REVERSE ARRIVAL) UTF-8 ALL") == [1, 3, 2]
    assert sort(r, "s3", "SORT (SIZE) US-ASCII ALL") == [2, 3, 1]
    # Date: in UTC (1 is 08:00 UTC), INTERNALDATE when absent (3: 02:00)
    assert sort(r, "s4", "SORT (DATE) UTF-8 ALL") == [3, 2, 1]
    # base subjects APPLE, APPLE, BANANA; ties in mailbox order
    assert sort(r, "s5", "SORT (SUBJECT) UTF-8 ALL") == [2, 3, 1]
    assert sort(r, "s6", "SORT (REVERSE SUBJECT) UTF-8 ALL") == [1, 2, 3]
    # addr-mailbox of the first address; no Cc sorts first (empty)
    assert sort(r, "s7", "SORT (FROM) UTF-8 ALL") == [2, 1, 3]
    assert sort(r, "s8", "SORT (TO) UTF-8 ALL") == [3, 1, 2]
    assert sort(r, "s9", "SORT (CC) UTF-8 ALL") == [2, 3, 1]
    # display names, decoded, else the address: A@X.TEST, BOB, ZED
    assert sort(r, "s10", "SORT (DISPLAYFROM) UTF-8 ALL") == [2, 3, 1]
    # B@X.TEST, C@X.TEST, ÄRGER (UTF-8 bytes sort after ASCII)
    assert sort(r, "s11", "SORT (DISPLAYTO) UTF-8 ALL") == [3, 1, 2]
    assert sort(r, "s12", "SORT (SUBJECT DATE) UTF-8 ALL") == [3, 2, 1]
    # UID SORT answers UIDs; a search program narrows
    uids = [int(x) for x in re.findall(r"UID (\d+)", " ".join(r.cmd("f", "FETCH 1:3 UID")))]
    assert sort(r, "s13", "UID SORT (ARRIVAL) UTF-8 ALL") == [uids[1], uids[2], uids[0]]
    assert sort(r, "s14", "SORT (ARRIVAL) UTF-8 SUBJECT apple") == [2, 3]
    assert sort(r, "s15", "SORT (ARRIVAL) UTF-8 NOT 1:2") == [3]
    lines = r.cmd("s16", "SORT (ARRIVAL) UTF-8 SUBJECT nothing")
    assert lines[0] == "* SORT" and lines[-1].startswith("s16 OK")


def test_sort_errors(petrel):
    r = fresh(petrel, [(["Subject: a"], D % 1, "x")])
    assert r.cmd("b1", "SORT (ARRIVAL) KOI8-R ALL")[-1].startswith(
        "b1 NO [BADCHARSET (UTF-8 US-ASCII)]")
    for i, bad in enumerate(["SORT ARRIVAL UTF-8 ALL", "SORT (ARRIVAL) ALL",
                             "SORT (REVERSE) UTF-8 ALL", "SORT (NAME) UTF-8 ALL",
                             "SORT () UTF-8 ALL", "THREAD UTF-8 ALL",
                             "THREAD REFERENCES UTF-8", "THREAD SUBJECT UTF-8 ALL",
                             "SORT RETURN (PARTIAL 1:*) (ARRIVAL) UTF-8 ALL",
                             "SORT RETURN (PARTIAL 1:2 ALL) (ARRIVAL) UTF-8 ALL"]):
        lines = r.cmd("e%d" % i, bad)
        assert lines[-1].startswith("e%d BAD" % i), (bad, lines)
    # not before a mailbox is selected
    r2 = raw_login(petrel)
    assert r2.cmd("n", "SORT (ARRIVAL) UTF-8 ALL")[-1].startswith("n BAD")


def test_esort_return_options_and_partial(petrel):
    msgs = [([], D % h, "x") for h in (5, 1, 3, 2, 4)]
    r = fresh(petrel, msgs)
    # arrival order: 2 4 3 5 1
    line = esearch(r.cmd("e1", "SORT RETURN (MIN MAX COUNT ALL) (ARRIVAL) UTF-8 ALL"))
    assert line == '* ESEARCH (TAG "e1") MIN 2 MAX 1 COUNT 5 ALL 2,4,3,5,1'
    assert esearch(r.cmd("e2", "SORT RETURN () (REVERSE ARRIVAL) UTF-8 ALL")) == \
        '* ESEARCH (TAG "e2") ALL 1,5,3:4,2'
    assert esearch(r.cmd("e3", "SORT RETURN (PARTIAL 2:3) (ARRIVAL) UTF-8 ALL")) == \
        '* ESEARCH (TAG "e3") PARTIAL (2:3 4,3)'
    assert esearch(r.cmd("e4", "SORT RETURN (PARTIAL 9:6) (ARRIVAL) UTF-8 ALL")) == \
        '* ESEARCH (TAG "e4") PARTIAL (6:9 NIL)'
    assert esearch(r.cmd("e5", "SORT RETURN (COUNT) (ARRIVAL) UTF-8 SUBJECT none")) == \
        '* ESEARCH (TAG "e5") COUNT 0'
    uids = [int(x) for x in re.findall(r"UID (\d+)", " ".join(r.cmd("f", "FETCH 1:5 UID")))]
    assert esearch(r.cmd("e6", "UID SORT RETURN (MIN) (ARRIVAL) UTF-8 ALL")) == \
        '* ESEARCH (TAG "e6") UID MIN %d' % uids[1]
    # SEARCH takes PARTIAL too, in mailbox order
    assert esearch(r.cmd("e7", "SEARCH RETURN (PARTIAL 2:4) 1,3:5")) == \
        '* ESEARCH (TAG "e7") PARTIAL (2:4 3:5)'
    # SORT RETURN (SAVE) fills "$"
    r.cmd("e8", "SORT RETURN (SAVE MIN) (ARRIVAL) UTF-8 ALL")
    assert r.cmd("e9", "SEARCH $")[0] == "* SEARCH 2"


def test_thread_references_reads_the_references_field(petrel):
    msgs = [
        (["Message-ID: <root@x>", "Subject: plan", "Date: Fri, 22 Feb 2008 01:00:00 +0000"],
         D % 1, "x"),
        # References only (not in ENVELOPE): child of root
        (["Message-ID: <r1@x>", "References: <root@x>", "Subject: Re: plan",
          "Date: Fri, 22 Feb 2008 03:00:00 +0000"], D % 3, "x"),
        # In-Reply-To only: child of r1
        (["Message-ID: <r2@x>", "In-Reply-To: <r1@x>", "Subject: Re: plan",
          "Date: Fri, 22 Feb 2008 04:00:00 +0000"], D % 4, "x"),
        # an older sibling of r1
        (["Message-ID: <r3@x>", "References: <root@x>", "Subject: Re: plan",
          "Date: Fri, 22 Feb 2008 02:00:00 +0000"], D % 2, "x"),
        # unrelated, but the same base subject as a new thread: gathered
        (["Message-ID: <other@x>", "Subject: lunch",
          "Date: Fri, 22 Feb 2008 00:30:00 +0000"], D % 0, "x"),
        (["Message-ID: <other2@x>", "Subject: Re: lunch",
          "Date: Fri, 22 Feb 2008 05:00:00 +0000"], D % 5, "x"),
        # a loop: refers to itself and to its own reply
        (["Message-ID: <loop@x>", "References: <loop2@x> <loop@x>", "Subject: loop",
          "Date: Fri, 22 Feb 2008 06:00:00 +0000"], D % 6, "x"),
        (["Message-ID: <loop2@x>", "References: <loop@x>", "Subject: Re: loop",
          "Date: Fri, 22 Feb 2008 07:00:00 +0000"], D % 7, "x"),
    ]
    r = fresh(petrel, msgs)
    lines = r.cmd("t1", "THREAD REFERENCES UTF-8 ALL")
    assert lines[-1].startswith("t1 OK")
    # 7 named its own reply as its parent: that link would be a loop
    assert lines[0] == "* THREAD (5 6)(1 (4)(2 3))(7 8)", lines
    lines = r.cmd("t2", "THREAD ORDEREDSUBJECT UTF-8 ALL")
    assert lines[0] == "* THREAD (5 6)(1 (4)(2)(3))(7 8)", lines
    uids = [int(x) for x in re.findall(r"UID (\d+)", " ".join(r.cmd("f", "FETCH 1:8 UID")))]
    lines = r.cmd("t3", "UID THREAD REFERENCES UTF-8 1:2")
    assert lines[0] == "* THREAD (%d %d)" % (uids[0], uids[1])
    assert r.cmd("t4", "THREAD REFERENCES UTF-8 SUBJECT none")[0] == "* THREAD"


def test_search_update_follows_other_sessions(petrel):
    deliver(petrel, subject="one")
    deliver(petrel, subject="two")
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    assert esearch(r.cmd("u1", "SEARCH RETURN (UPDATE ALL) FLAGGED")) == '* ESEARCH (TAG "u1")'
    # tags of live contexts cannot be reused by another UPDATE
    assert r.cmd("u1", "SEARCH RETURN (UPDATE) ALL")[-1].startswith("u1 BAD")
    other = raw_login(petrel)
    other.cmd("s", "SELECT INBOX")
    assert other.cmd("f", "STORE 2 +FLAGS (\\Flagged)")[-1].startswith("f OK")
    lines = r.cmd("n1", "NOOP")
    assert '* ESEARCH (TAG "u1") ADDTO (0 2)' in lines, lines
    # a new message that matches arrives after its EXISTS
    deliver(petrel, subject="three")
    other.cmd("n", "NOOP")
    other.cmd("f2", "STORE 3 +FLAGS (\\Flagged)")
    lines = r.cmd("n2", "NOOP")
    assert lines.index("* 3 EXISTS") < lines.index('* ESEARCH (TAG "u1") ADDTO (0 3)'), lines
    # the session's own changes count too; expunges are removed before EXPUNGE
    r.cmd("f3", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    lines = r.cmd("x", "EXPUNGE")
    assert lines.index('* ESEARCH (TAG "u1") REMOVEFROM (0 2)') < lines.index("* 2 EXPUNGE")
    lines = r.cmd("f4", "STORE 2 -FLAGS (\\Flagged)")
    assert '* ESEARCH (TAG "u1") REMOVEFROM (0 2)' in lines, lines
    assert r.cmd("c", 'CANCELUPDATE "u1"')[-1].startswith("c OK")
    lines = r.cmd("f5", "STORE 1 +FLAGS (\\Flagged)")
    assert not [l for l in lines if "ESEARCH" in l]
    assert r.cmd("c2", 'CANCELUPDATE "u1"')[-1].startswith("c2 NO")
    assert r.cmd("c3", "CANCELUPDATE u1")[-1].startswith("c3 BAD")


def test_sort_update_gives_positions(petrel):
    msgs = [(["Subject: %s" % s], D % h, "x") for s, h in (("b", 1), ("d", 2), ("f", 3))]
    r = fresh(petrel, msgs)
    uids = [int(x) for x in re.findall(r"UID (\d+)", " ".join(r.cmd("f", "FETCH 1:3 UID")))]
    line = esearch(r.cmd("u", "UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 UNSEEN"))
    assert line == '* ESEARCH (TAG "u") UID ALL %d:%d' % (uids[0], uids[2])
    other = raw_login(petrel)
    append(other, "a1", ["Subject: c"], date=D % 4)
    append(other, "a2", ["Subject: a"], date=D % 5)
    other.cmd("s", "SELECT INBOX")
    other.cmd("f", "STORE 2 +FLAGS (\\Seen)")
    lines = r.cmd("n", "NOOP")
    ups = [l for l in lines if l.startswith("* ESEARCH")]
    # d (position 2) leaves; then c goes in at 2 and a at 1
    assert ups == ['* ESEARCH (TAG "u") UID REMOVEFROM (2 %d) ADDTO (2 %d 1 %d)' % (
        uids[1], uids[2] + 1, uids[2] + 2)], lines
    # SORT (numbers, not UIDs) contexts number as the client knows them
    line = esearch(r.cmd("v", "SORT RETURN (UPDATE COUNT) (REVERSE SUBJECT) UTF-8 ALL"))
    assert line == '* ESEARCH (TAG "v") COUNT 5'
    r.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    lines = r.cmd("x", "EXPUNGE")
    ups = [l for l in lines if l.startswith("* ESEARCH")]
    # b was 4th of f d c b a; UNSEEN's context loses it at 2 of a b c f
    assert ups == ['* ESEARCH (TAG "u") UID REMOVEFROM (2 %d)' % uids[0],
                   '* ESEARCH (TAG "v") REMOVEFROM (4 1)'], lines
    assert lines.index(ups[1]) < lines.index("* 1 EXPUNGE")
    # contexts end with the selection
    r.cmd("s2", "SELECT INBOX")
    assert r.cmd("c", 'CANCELUPDATE "v"')[-1].startswith("c NO")


def test_update_contexts_are_limited(petrel):
    r = fresh(petrel, [([], D % 1, "x")])
    for i in range(16):
        assert r.cmd("k%d" % i, "SEARCH RETURN (UPDATE) ALL")[-1].startswith("k%d OK" % i)
    lines = r.cmd("k16", "SEARCH RETURN (UPDATE COUNT) ALL")
    assert lines[0] == '* ESEARCH (TAG "k16") COUNT 1'
    assert '* NO [NOUPDATE "k16"] Too many contexts' in lines
    assert lines[-1].startswith("k16 OK")


def test_updates_sort_and_search_new_messages_by_arrival_and_size(petrel):
    # ARRIVAL, SIZE and LARGER read what the session does not keep: the
    # contexts get it with the change that brings the message
    msgs = [(["Subject: s%d" % h], D % h, "x" * (100 * h)) for h in (2, 4, 6)]
    r = fresh(petrel, msgs)
    uids = [int(x) for x in re.findall(r"UID (\d+)", " ".join(r.cmd("f", "FETCH 1:3 UID")))]
    line = esearch(r.cmd("a", "UID SORT RETURN (UPDATE ALL) (ARRIVAL) UTF-8 LARGER 250"))
    assert line == '* ESEARCH (TAG "a") UID ALL %d:%d' % (uids[1], uids[2])
    line = esearch(r.cmd("b", "SORT RETURN (UPDATE ALL) (REVERSE SIZE) UTF-8 ALL"))
    assert line == '* ESEARCH (TAG "b") ALL 3,2,1'
    other = raw_login(petrel)
    append(other, "a1", ["Subject: n1"], "x" * 500, D % 5)  # arrives between 4 and 6
    append(other, "a2", ["Subject: n2"], "x" * 50, D % 1)   # too small for "a"
    lines = r.cmd("n", "NOOP")
    ups = [l for l in lines if l.startswith("* ESEARCH")]
    assert ups == ['* ESEARCH (TAG "a") UID ADDTO (2 %d)' % (uids[2] + 1),
                   '* ESEARCH (TAG "b") ADDTO (2 4 5 5)'], lines
    # and a SEARCH on them reads them again for itself
    assert r.cmd("s", "SEARCH LARGER 250")[0] == "* SEARCH 2 3 4"
    assert sort(r, "s2", "SORT (ARRIVAL) UTF-8 ALL") == [5, 1, 2, 4, 3]
