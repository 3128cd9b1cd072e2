"""CONDSTORE, QRESYNC (RFC 7162), SEARCHRES (RFC 5182) and WITHIN (RFC 5032),
with raw sockets: several sessions on one mailbox, reconnects, races."""
import re
import threading

import pytest

from test_imap import ALICE, Raw, deliver, raw_login


def tagged(lines):
    return lines[-1]


def untagged(lines, word):
    return [l for l in lines if l.startswith("* ") and word in l]


def modseqs(lines):
    """{uid: modseq} from the FETCH lines."""
    out = {}
    for l in lines:
        m = re.match(r"\* \d+ FETCH \(.*UID (\d+).*MODSEQ \((\d+)\)", l)
        if m:
            out[int(m.group(1))] = int(m.group(2))
    return out


def highest(lines):
    for l in lines:
        m = re.search(r"\[HIGHESTMODSEQ (\d+)\]", l)
        if m:
            return int(m.group(1))
    return None


def uidvalidity(lines):
    for l in lines:
        m = re.search(r"\[UIDVALIDITY (\d+)\]", l)
        if m:
            return int(m.group(1))
    return None


def fill(petrel, n):
    for i in range(n):
        deliver(petrel, subject="message %d" % (i + 1))


def test_capabilities_and_enable(petrel):
    r = raw_login(petrel)
    caps = r.cmd("c", "CAPABILITY")[0]
    for cap in ("CONDSTORE", "QRESYNC", "SEARCHRES", "WITHIN"):
        assert " %s" % cap in caps
    assert r.cmd("e1", "ENABLE CONDSTORE")[0] == "* ENABLED CONDSTORE"
    assert r.cmd("e2", "ENABLE CONDSTORE QRESYNC X-UNKNOWN")[0] == "* ENABLED QRESYNC"
    assert r.cmd("e3", "ENABLE QRESYNC")[0] == "* ENABLED"
    assert tagged(r.cmd("e4", "ENABLE (CONDSTORE)")).startswith("e4 BAD")


def test_highestmodseq_only_once_enabled(petrel):
    fill(petrel, 2)
    r = raw_login(petrel)
    sel = r.cmd("s1", "SELECT INBOX")
    assert highest(sel) is None
    # The first CONDSTORE-enabling command in a selected mailbox reports it.
    lines = r.cmd("f1", "FETCH 1:* (UID MODSEQ)")
    top = highest(lines)
    assert top is not None and top > 0
    ms = modseqs(lines)
    assert sorted(ms) == [1, 2] and max(ms.values()) <= top
    assert highest(r.cmd("s2", "SELECT INBOX")) == top
    # SELECT (CONDSTORE) and STATUS (HIGHESTMODSEQ) each enable it too
    r2 = raw_login(petrel)
    assert highest(r2.cmd("s", "EXAMINE INBOX (CONDSTORE)")) == top
    r3 = raw_login(petrel)
    st = r3.cmd("st", "STATUS INBOX (MESSAGES HIGHESTMODSEQ)")
    assert st[0] == '* STATUS INBOX (MESSAGES 2 HIGHESTMODSEQ %d)' % top
    assert highest(r3.cmd("s", "SELECT INBOX")) == top


def test_every_change_raises_modseq_and_changedsince_finds_it(petrel):
    fill(petrel, 4)
    r = raw_login(petrel)
    sel = r.cmd("s", "SELECT INBOX (CONDSTORE)")
    top = highest(sel)
    lines = r.cmd("f", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % top)
    assert lines[:-1] == []
    st = r.cmd("st", "STORE 2,4 +FLAGS (\\Flagged)")
    ms = modseqs([l.replace("FETCH (", "FETCH (UID %s " % l.split()[1]) for l in st])
    assert len(ms) == 2 and all(v > top for v in ms.values())
    assert all(re.search(r"FLAGS \(\\Flagged( \\Recent)?\) MODSEQ", l) for l in st[:-1]), st
    # CHANGEDSINCE implies MODSEQ and returns just the changed two
    lines = r.cmd("f2", "FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % top)
    assert [l.split()[1] for l in lines[:-1]] == ["2", "4"]
    assert all(re.search(r"MODSEQ \(\d+\)", l) for l in lines[:-1])
    # a FETCH of BODY[] sets \Seen, and the client learns the new MODSEQ
    r.send("b FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])\r\n")
    lines = r.until("b")
    new = [l for l in lines if l.startswith("* 1 FETCH") and "MODSEQ" in l]
    assert new and "\\Seen" in new[-1]
    assert tagged(r.cmd("bad1", "FETCH 1 FLAGS (CHANGEDSINCE 0)")).startswith("bad1 BAD")
    assert tagged(r.cmd("bad2", "FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)")).startswith(
        "bad2 BAD")


def test_conditional_store_reports_modified_and_other_sessions_changes(petrel):
    fill(petrel, 3)
    a = raw_login(petrel)
    b = raw_login(petrel)
    a.cmd("s", "SELECT INBOX (CONDSTORE)")
    b.cmd("s", "SELECT INBOX")
    ms = modseqs(a.cmd("f", "UID FETCH 1:* (MODSEQ)"))
    b.cmd("st", "STORE 1 +FLAGS (\\Answered)")
    # 1 changed after the client read its MODSEQ: it fails, 2 and 3 succeed
    lines = a.cmd("c", "STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % max(ms.values()))
    assert tagged(lines).startswith("c OK [MODIFIED 1] ")
    fetches = [l for l in lines if " FETCH " in l]
    # message 1 shows b's change (not a's), 2 and 3 a's
    one = [l for l in fetches if l.startswith("* 1 FETCH")]
    assert one and "\\Answered" in one[-1] and "\\Flagged" not in one[-1]
    assert any(l.startswith("* 2 FETCH") and "\\Flagged" in l and "MODSEQ" in l for l in fetches)
    # .SILENT still gives the new MODSEQ, without FLAGS; UID STORE names uids
    top = highest(a.cmd("s2", "SELECT INBOX"))
    lines = a.cmd("c2", "UID STORE 2:3 (UNCHANGEDSINCE %d) -FLAGS.SILENT (\\Flagged)" % top)
    assert tagged(lines) == "c2 OK UID STORE completed"
    assert sorted(l.split("FETCH ")[1].split(" MODSEQ")[0] for l in lines[:-1]) == [
        "(UID 2", "(UID 3"]
    # UNCHANGEDSINCE 0 always fails
    lines = a.cmd("c3", "UID STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)")
    assert tagged(lines).startswith("c3 OK [MODIFIED 1:3] ")
    assert "\\Seen" not in "".join(a.cmd("f3", "FETCH 1:3 FLAGS"))
    for bad in ("(UNCHANGEDSINCE)", "(UNCHANGEDSINCE -1)", "(UNCHANGEDSINCE 9223372036854775808)",
                "(CHANGEDSINCE 1)", "(UNCHANGEDSINCE 1 UNCHANGEDSINCE 2)"):
        assert tagged(a.cmd("x", "STORE 1 %s +FLAGS (\\Seen)" % bad)).startswith("x BAD"), bad


def test_conditional_store_race_has_one_winner(petrel):
    fill(petrel, 1)
    for round_ in range(5):
        a = raw_login(petrel)
        b = raw_login(petrel)
        tops = [highest(x.cmd("s", "SELECT INBOX (CONDSTORE)")) for x in (a, b)]
        assert tops[0] == tops[1]
        results = {}

        def go(name, sess, flag):
            results[name] = sess.cmd("w", "STORE 1 (UNCHANGEDSINCE %d) FLAGS (%s)" % (tops[0], flag))

        t1 = threading.Thread(target=go, args=("a", a, "$A%d" % round_))
        t2 = threading.Thread(target=go, args=("b", b, "$B%d" % round_))
        t1.start()
        t2.start()
        t1.join(10)
        t2.join(10)
        failed = [n for n in results if "[MODIFIED 1]" in tagged(results[n])]
        assert len(results) == 2 and len(failed) == 1, results
        winner = "b" if failed == ["a"] else "a"
        flags = a.cmd("f", "FETCH 1 FLAGS")[0]
        assert ("$%s%d" % (winner.upper(), round_)) in flags, flags


def test_search_modseq(petrel):
    fill(petrel, 3)
    r = raw_login(petrel)
    top = highest(r.cmd("s", "SELECT INBOX (CONDSTORE)"))
    st = r.cmd("st", "STORE 2:3 +FLAGS (\\Seen)")
    changed = max(int(x) for x in re.findall(r"MODSEQ \((\d+)\)", " ".join(st)))
    lines = r.cmd("q", "SEARCH MODSEQ %d" % (top + 1))
    assert lines[0] == "* SEARCH 2 3 (MODSEQ %d)" % changed
    lines = r.cmd("q2", 'UID SEARCH RETURN (ALL) MODSEQ "/flags/\\\\seen" all %d' % (top + 1))
    assert lines[0] == '* ESEARCH (TAG "q2") UID ALL 2:3 MODSEQ %d' % changed
    assert r.cmd("q3", "SEARCH MODSEQ %d" % (changed + 1))[0] == "* SEARCH"
    # MIN / MAX alone: the MODSEQ of what they return (RFC 4731 3.2)
    r.cmd("st2", "STORE 1 +FLAGS (\\Flagged)")
    lines = r.cmd("q5", "SEARCH RETURN (MIN) MODSEQ 1")
    assert lines[0] == '* ESEARCH (TAG "q5") MIN 1 MODSEQ %d' % (changed + 1)
    lines = r.cmd("q6", "SEARCH RETURN (MAX) MODSEQ 1")
    assert lines[0] == '* ESEARCH (TAG "q6") MAX 3 MODSEQ %d' % changed
    lines = r.cmd("q7", "SEARCH RETURN (COUNT) MODSEQ 1")
    assert lines[0] == '* ESEARCH (TAG "q7") COUNT 3 MODSEQ %d' % (changed + 1)
    assert tagged(r.cmd("q4", "SEARCH MODSEQ 99999999999999999999")).startswith("q4 BAD")


def test_qresync_select_after_changes_and_expunges(petrel):
    fill(petrel, 8)
    r = raw_login(petrel)
    r.cmd("e", "ENABLE QRESYNC")
    sel = r.cmd("s", "SELECT INBOX")
    uv, top = uidvalidity(sel), highest(sel)
    r.cmd("l", "LOGOUT")

    # another client changes flags of 2 and 5 and expunges 3 and 7
    o = raw_login(petrel)
    o.cmd("s", "SELECT INBOX")
    o.cmd("a", "UID STORE 2,5 +FLAGS (\\Flagged)")
    o.cmd("b", "UID STORE 3,7 +FLAGS (\\Deleted)")
    o.cmd("c", "EXPUNGE")

    r = raw_login(petrel)
    assert tagged(r.cmd("n", "SELECT INBOX (QRESYNC (%d %d))" % (uv, top))).startswith("n BAD")
    r.cmd("e", "ENABLE QRESYNC")
    lines = r.cmd("s", "SELECT INBOX (QRESYNC (%d %d))" % (uv, top))
    assert tagged(lines).startswith("s OK [READ-WRITE]")
    assert "* VANISHED (EARLIER) 3,7" in lines
    fetch = [l for l in lines if " FETCH " in l]
    # 3 and 7 gone: uids 2 and 5 are now messages 2 and 4
    assert len(fetch) == 2 and fetch[0].startswith("* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (")
    assert fetch[1].startswith("* 4 FETCH (UID 5 FLAGS (\\Flagged) MODSEQ (")
    # (3 and 7 changed too, then vanished: no FETCH for them)
    # the VANISHED comes before the FETCHes, after the SELECT's own data
    assert lines.index("* VANISHED (EARLIER) 3,7") < lines.index(fetch[0])
    assert lines.index("* VANISHED (EARLIER) 3,7") > lines.index(
        [l for l in lines if "HIGHESTMODSEQ" in l][0])
    new_top = highest(lines)

    # known-uids restrict both VANISHED and FETCH
    lines = r.cmd("s2", "EXAMINE INBOX (QRESYNC (%d %d 1:4))" % (uv, top))
    assert lines[0] == "* OK [CLOSED] Previous mailbox closed"
    assert "* VANISHED (EARLIER) 3" in lines
    assert [l for l in lines if " FETCH " in l][0].startswith("* 2 FETCH (UID 2 ")
    assert len([l for l in lines if " FETCH " in l]) == 1
    # with seq-match-data too (the tombstones are complete, so exact anyway)
    lines = r.cmd("s3", "EXAMINE INBOX (QRESYNC (%d %d 1:8 (1:8 1:8)))" % (uv, top))
    assert "* VANISHED (EARLIER) 3,7" in lines
    # up to date: nothing to say
    lines = r.cmd("s4", "SELECT INBOX (QRESYNC (%d %d))" % (uv, new_top))
    assert not [l for l in lines if "VANISHED" in l or " FETCH " in l]
    # another UIDVALIDITY: a plain SELECT
    lines = r.cmd("s5", "SELECT INBOX (QRESYNC (%d %d))" % (uv + 1, top))
    assert not [l for l in lines if "VANISHED" in l or " FETCH " in l]
    assert tagged(lines).startswith("s5 OK")


@pytest.mark.parametrize("param", [
    "(QRESYNC)", "(QRESYNC ())", "(QRESYNC (1))", "(QRESYNC (0 5))", "(QRESYNC (1 0))",
    "(QRESYNC (1 9223372036854775808))", "(QRESYNC (1 5 1:*))", "(QRESYNC (1 5 1:3 (1:2 1:3)))",
    "(QRESYNC (1 5 1:3 (1:2)))", "(QRESYNC (1 5 1:3 (1:2 1:2) extra))", "(QRESYNC (x 5))",
    "(CONDSTORE CONDSTORE)", "(UNKNOWN)", "()", "(QRESYNC (1 5 1:3 (1:100000000 1:100000000)))",
    "(QRESYNC (1 5 $))",
])
def test_qresync_bad_parameters(petrel, param):
    r = raw_login(petrel)
    r.cmd("e", "ENABLE QRESYNC")
    assert tagged(r.cmd("s", "SELECT INBOX %s" % param)).startswith("s BAD"), param
    # the session goes on
    assert tagged(r.cmd("n", "NOOP")) == "n OK NOOP completed"


def test_vanished_replaces_expunge_and_uid_fetch_vanished(petrel):
    fill(petrel, 6)
    a = raw_login(petrel)
    b = raw_login(petrel)
    a.cmd("e", "ENABLE QRESYNC")
    top = highest(a.cmd("s", "SELECT INBOX"))
    b.cmd("s", "SELECT INBOX")
    b.cmd("d", "UID STORE 2,3,5 +FLAGS (\\Deleted)")
    b.cmd("x", "EXPUNGE")
    lines = a.cmd("n", "NOOP")
    assert "* VANISHED 2:3,5" in lines
    assert not [l for l in lines if "EXPUNGE" in l]
    # the session's own EXPUNGE, too
    a.cmd("d", "UID STORE 6 +FLAGS.SILENT (\\Deleted)")
    assert "* VANISHED 6" in a.cmd("x", "EXPUNGE")
    # UID FETCH ... (CHANGEDSINCE n VANISHED) lists what the set lost since n
    lines = a.cmd("f", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % top)
    assert lines[0] == "* VANISHED (EARLIER) 2:3,5:6"
    lines = a.cmd("f2", "UID FETCH 3:5 (FLAGS) (CHANGEDSINCE %d VANISHED)" % top)
    assert lines[0] == "* VANISHED (EARLIER) 3,5"
    # VANISHED needs UID FETCH
    assert tagged(a.cmd("f3", "FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % top)).startswith(
        "f3 BAD")
    assert tagged(a.cmd("f4", "UID FETCH 1:* (FLAGS) (VANISHED)")).startswith("f4 BAD")
    # and QRESYNC enabled
    c = raw_login(petrel)
    c.cmd("s", "SELECT INBOX (CONDSTORE)")
    assert tagged(c.cmd("f", "UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)")).startswith("f BAD")


def test_expunges_held_during_fetch_lower_the_reported_highestmodseq(petrel):
    fill(petrel, 3)
    a = raw_login(petrel)
    b = raw_login(petrel)
    a.cmd("s", "SELECT INBOX (CONDSTORE)")
    b.cmd("s", "SELECT INBOX")
    b.cmd("d", "STORE 1 +FLAGS (\\Deleted)")
    b.cmd("x", "EXPUNGE")
    b.cmd("f", "UID STORE 3 +FLAGS (\\Flagged)")
    # FETCH may not report the expunge; the flag change carries a newer
    # MODSEQ, so HIGHESTMODSEQ is reported below the expunge's
    lines = a.cmd("f", "FETCH 2 FLAGS")
    pending = highest(lines)
    flagged = [l for l in lines if l.startswith("* 3 FETCH") and "\\Flagged" in l]
    assert flagged and pending is not None, lines
    assert pending < int(re.search(r"MODSEQ \((\d+)\)", flagged[0]).group(1))
    lines = a.cmd("n", "NOOP")
    assert "* 1 EXPUNGE" in lines


def test_searchres_save_and_dollar(petrel):
    fill(petrel, 5)
    r = raw_login(petrel)
    r.cmd("s", "SELECT INBOX")
    r.cmd("f", "STORE 2,4 +FLAGS (\\Flagged)")
    assert r.cmd("q", "SEARCH RETURN (SAVE) FLAGGED")[0] == "q OK SEARCH completed"
    lines = r.cmd("f2", "FETCH $ (UID)")
    assert lines[:-1] == ["* 2 FETCH (UID 2)", "* 4 FETCH (UID 4)"]
    assert r.cmd("q2", "UID SEARCH UID $")[0] == "* SEARCH 2 4"
    # SAVE with MIN keeps only the minimum
    r.cmd("q3", "SEARCH RETURN (SAVE MIN) FLAGGED")
    assert r.cmd("q4", "UID SEARCH $")[0] == "* SEARCH 2"
    # $ follows the messages when others are expunged
    r.cmd("q5", "SEARCH RETURN (SAVE) FLAGGED")
    r.cmd("d", "STORE 1 +FLAGS (\\Deleted)")
    r.cmd("x", "EXPUNGE")
    assert r.cmd("f3", "FETCH $ (UID)")[:2] == ["* 1 FETCH (UID 2)", "* 3 FETCH (UID 4)"]
    # a failed SAVE empties it
    r.cmd("q6", "SEARCH RETURN (SAVE) CHARSET KOI8-X FLAGGED")
    assert r.cmd("q7", "UID SEARCH UID $")[0] == "* SEARCH"
    assert tagged(r.cmd("st", "STORE $ +FLAGS (\\Seen)")).startswith("st OK")


def test_within_older_younger(petrel):
    fill(petrel, 1)
    r = raw_login(petrel)
    old = "From: a@b\r\nSubject: old\r\n\r\nold\r\n"
    r.send('a APPEND INBOX "01-Jan-2020 10:00:00 +0000" {%d+}\r\n%s\r\n' % (len(old), old))
    assert tagged(r.until("a")).startswith("a OK")
    r.cmd("s", "SELECT INBOX")
    assert r.cmd("y", "SEARCH YOUNGER 3600")[0] == "* SEARCH 1"
    assert r.cmd("o", "SEARCH OLDER 3600")[0] == "* SEARCH 2"
    assert r.cmd("o2", "SEARCH NOT OLDER 86400")[0] == "* SEARCH 1"
    assert tagged(r.cmd("b", "SEARCH OLDER 0")).startswith("b BAD")
    assert tagged(r.cmd("b2", "SEARCH YOUNGER x")).startswith("b2 BAD")


def test_compacted_tombstones_and_seq_match_data(petrel_factory):
    """With [store] tombstones = 2, a client resynchronising from before the
    oldest kept expunge is told every missing uid (RFC 7162 3.2.5.2), less
    those its seq-match-data proves it already knows are gone."""
    p = petrel_factory({"store": {"tombstones": "2"}})
    p.provision()
    p.start()
    fill(p, 12)
    o = raw_login(p)
    o.cmd("s", "SELECT INBOX")
    o.cmd("d", "UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    o.cmd("x", "EXPUNGE")
    r = raw_login(p)
    r.cmd("e", "ENABLE QRESYNC")
    sel = r.cmd("s", "SELECT INBOX")
    uv, top = uidvalidity(sel), highest(sel)
    r.cmd("l", "LOGOUT")
    for uids in ("8:9", "11"):
        o.cmd("d", "UID STORE %s +FLAGS.SILENT (\\Deleted)" % uids)
        o.cmd("x", "EXPUNGE")
    r = raw_login(p)
    r.cmd("e", "ENABLE QRESYNC")
    lines = r.cmd("s", "EXAMINE INBOX (QRESYNC (%d %d))" % (uv, top))
    assert "* VANISHED (EARLIER) 1,8:9,11" in lines
    # message numbers 1-5 were uids 2-6 for the client and still are
    lines = r.cmd("s2", "EXAMINE INBOX (QRESYNC (%d %d 2:12 (1:5 2:6)))" % (uv, top))
    assert "* VANISHED (EARLIER) 8:9,11" in lines
    # a pair that no longer holds proves nothing
    lines = r.cmd("s3", "EXAMINE INBOX (QRESYNC (%d %d 2:12 (7 8)))" % (uv, top))
    assert "* VANISHED (EARLIER) 8:9,11" in lines
    # UID FETCH VANISHED answers the same way
    lines = r.cmd("f", "UID FETCH 1:12 (FLAGS) (CHANGEDSINCE %d VANISHED)" % top)
    assert lines[0] == "* VANISHED (EARLIER) 1,8:9,11"
    assert p.cli("store", "check").out == "ok\n"


def test_a_change_read_while_expunges_were_held_is_told_once(petrel):
    fill(petrel, 3)
    a = raw_login(petrel)
    b = raw_login(petrel)
    a.cmd("s", "SELECT INBOX (CONDSTORE)")
    b.cmd("s", "SELECT INBOX")
    b.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.cmd("x", "EXPUNGE")
    b.cmd("f", "UID STORE 3 +FLAGS.SILENT (\\Flagged)")
    lines = a.cmd("f", "FETCH 1 FLAGS")
    assert len([l for l in lines if l.startswith("* 3 FETCH")]) == 1, lines
    # the expunge comes now; the flag change it was held with, not again
    lines = a.cmd("n", "NOOP")
    assert "* 1 EXPUNGE" in lines
    assert not [l for l in lines if "FETCH" in l], lines
    assert a.cmd("n2", "NOOP") == ["n2 OK NOOP completed"]
    # a later change to it is told, with its new MODSEQ
    b.cmd("f2", "UID STORE 3 -FLAGS.SILENT (\\Flagged)")
    lines = a.cmd("n3", "NOOP")
    changed = [l for l in lines if l.startswith("* 2 FETCH")]
    assert len(changed) == 1 and "MODSEQ" in changed[0] and "\\Flagged" not in changed[0], lines


def test_store_answers_carry_each_message_modseq(petrel):
    fill(petrel, 3)
    a = raw_login(petrel)
    a.cmd("e", "ENABLE CONDSTORE")
    a.cmd("s", "SELECT INBOX")
    before = modseqs(a.cmd("f", "FETCH 1:3 (UID MODSEQ)"))
    a.cmd("p", "STORE 2 +FLAGS.SILENT (\\Seen)")
    # 2 already has \Seen: its MODSEQ stays; 1 and 3 get the new one
    lines = a.cmd("t", "UID STORE 1:3 +FLAGS (\\Seen)")
    after = modseqs(lines)
    assert len(after) == 3, lines
    assert after[1] == after[3] > after[2] > before[2]
    # .SILENT tells only the changed ones, with their MODSEQ alone
    lines = a.cmd("u", "STORE 1:3 -FLAGS.SILENT (\\Seen)")
    assert len([l for l in lines if "FETCH" in l]) == 3
    assert all("FLAGS" not in l for l in lines if "FETCH" in l), lines


def test_a_fetched_modseq_goes_with_the_flags_shown(petrel):
    # another session's change the client has not been told yet: a FETCH of
    # MODSEQ never pairs a MODSEQ with flags from another moment
    fill(petrel, 3)
    a = raw_login(petrel)
    b = raw_login(petrel)
    a.cmd("s", "SELECT INBOX (CONDSTORE)")
    known = modseqs(a.cmd("f0", "FETCH 1:3 (UID MODSEQ)"))[2]
    b.cmd("s", "SELECT INBOX")
    for tag, change, cmd in (
            ("f1", "+", "FETCH 1:3 (UID FLAGS MODSEQ)"),
            ("f2", "-", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % known)):
        b.cmd("c" + tag, "STORE 2 %sFLAGS.SILENT (\\Flagged)" % change)
        lines = a.cmd(tag, cmd)
        assert lines[-1].startswith(tag + " OK"), lines
        shown = [l for l in lines if l.startswith("* 2 FETCH")]
        newest = max(modseqs([l])[2] for l in shown)
        assert newest > known, lines
        for l in shown:
            # the newest MODSEQ with the new flags, an older one with the old
            now = modseqs([l])[2] == newest
            assert ("\\Flagged" in l) == (now == (change == "+")), lines
        known = newest


def test_search_modseq_answers_after_the_changes_it_finds(petrel):
    # the MODSEQ a SEARCH or SORT answers with was told with its flags
    # before: no MODSEQ reaches the client ahead of the change it belongs to
    fill(petrel, 3)
    a = raw_login(petrel)
    b = raw_login(petrel)
    a.cmd("s", "SELECT INBOX (CONDSTORE)")
    told = modseqs(a.cmd("f", "FETCH 1:3 (UID MODSEQ)"))
    b.cmd("s", "SELECT INBOX")
    answered = 0
    for tag, cmd, answer in (("q1", "SEARCH MODSEQ %d", "* SEARCH"),
                             ("q2", "SORT (ARRIVAL) UTF-8 MODSEQ %d", "* SORT")):
        b.cmd("g" + tag, "STORE 2 -FLAGS.SILENT (\\Flagged)")
        b.cmd("h" + tag, "STORE 2 +FLAGS.SILENT (\\Flagged)")
        lines = a.cmd(tag, cmd % (told[2] + 1))
        assert lines[-1].startswith(tag + " OK"), lines
        for l in lines:
            told.update(modseqs([l]))
            m = re.match(re.escape(answer) + r"((?: \d+)+) \(MODSEQ (\d+)\)$", l)
            if m:
                hits = [int(x) for x in m.group(1).split()]
                assert 2 in hits, lines
                assert int(m.group(2)) <= max(told[h] for h in hits), lines
                answered += 1
    assert answered == 2


def test_search_modseq_with_other_keys_on_what_is_not_kept(petrel):
    # a top-level MODSEQ key spares reading the older messages' metadata;
    # the answers are those of every key read for every message
    for i in range(6):
        deliver(petrel, subject="m%d" % i, body="x" * (1000 * i) + "\r\n")
    r = raw_login(petrel)
    top = highest(r.cmd("s", "SELECT INBOX (CONDSTORE)"))
    st = r.cmd("st", "STORE 2,4,6 +FLAGS (\\Seen)")
    changed = max(int(x) for x in re.findall(r"MODSEQ \((\d+)\)", " ".join(st)))
    since = top + 1
    for keys, want in (
            ("MODSEQ %d LARGER 2500" % since, "4 6"),
            ("LARGER 2500 MODSEQ %d" % since, "4 6"),
            ("MODSEQ %d NOT MODSEQ %d" % (since, changed), ""),
            ("MODSEQ 1 NOT MODSEQ %d" % since, "1 3 5"),
            ("OR MODSEQ %d SMALLER 1500" % since, "1 2 4 6"),
            ("MODSEQ %d SINCE 1-Jan-2000 NOT LARGER 3500" % since, "2 4"),
            ("(MODSEQ %d) SMALLER 4500" % since, "2 4")):
        lines = r.cmd("q", "SEARCH " + keys)
        assert lines[0].split(" (MODSEQ")[0] == ("* SEARCH " + want).rstrip(), (keys, lines)
    assert sort_ids(r.cmd("o", "SORT (REVERSE SIZE) UTF-8 MODSEQ %d" % since)) == [6, 4, 2]


def sort_ids(lines):
    got = [l for l in lines if l.startswith("* SORT")]
    assert len(got) == 1, lines
    return [int(x) for x in got[0].split(" (MODSEQ")[0].split()[2:]]
