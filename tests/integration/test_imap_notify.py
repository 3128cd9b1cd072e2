"""NOTIFY (RFC 5465): news of other mailboxes, of names and subscriptions, and
of the selected mailbox without IDLE, with raw sockets and SMTP deliveries."""
import re
import socket
import time

import pytest

from conftest import PASSWORDS
from test_imap import ALICE, BOB, Raw, deliver, raw_login


def tagged(lines):
    return lines[-1]


def unsolicited(r, want, timeout=5.0):
    """Lines the server sends by itself until one contains want."""
    r.sock.settimeout(timeout)
    lines = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            l = r.line()
            lines.append(l)
            if want in l:
                return lines
    except socket.timeout:
        pass
    finally:
        r.sock.settimeout(10)
    raise AssertionError("no %r among %d lines, the last %r" % (
        want, len(lines), [l[:100] for l in lines[-5:]]))


def quiet(r, seconds=0.7):
    """Nothing arrives for a while."""
    r.sock.settimeout(seconds)
    try:
        l = r.line()
    except socket.timeout:
        return True
    finally:
        r.sock.settimeout(10)
    raise AssertionError("unexpected %r" % l)


def test_capability_and_errors(petrel):
    r = raw_login(petrel)
    assert " NOTIFY" in r.cmd("c", "CAPABILITY")[0]
    for bad in ("NOTIFY", "NOTIFY SET", "NOTIFY SET STATUS", "NOTIFY FOO",
                "NOTIFY SET (personal)", "NOTIFY SET (nosuch (MessageNew MessageExpunge))",
                "NOTIFY SET (selected (MessageNew))", "NOTIFY SET (selected (FlagChange))",
                "NOTIFY SET (personal (MessageNew (UID) MessageExpunge))",
                "NOTIFY SET (selected NONE) (selected-delayed NONE)",
                "NOTIFY SET (mailboxes (MessageNew MessageExpunge))",
                "NOTIFY SET (mailboxes () (MessageNew MessageExpunge))",
                "NOTIFY SET (personal ())", "NOTIFY SET (personal (MessageNew MessageNew))",
                "NOTIFY SET (selected (MessageNew (NOSUCH) MessageExpunge))",
                "NOTIFY NONE extra"):
        assert tagged(r.cmd("b", bad)).startswith("b BAD"), bad
    lines = r.cmd("n", "NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))")
    assert tagged(lines).startswith(
        "n NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]")
    assert tagged(r.cmd("x", "NOTIFY SET (personal (X-Unknown))")).startswith("x NO [BADEVENT")
    assert tagged(r.cmd("m", 'NOTIFY SET (mailboxes "&Jjo" (MessageNew MessageExpunge))')
                  ).startswith("m NO [CANNOT]")
    assert tagged(r.cmd("ok", "NOTIFY NONE")) == "ok OK NOTIFY completed"
    a = raw_login(petrel)
    a.send("u NOTIFY SET (personal (MessageNew MessageExpunge))\r\n")
    assert tagged(a.until("u")) == "u OK NOTIFY completed"


def test_status_of_other_mailboxes_as_mail_arrives(petrel):
    deliver(petrel, subject="before")
    a = raw_login(petrel)
    a.cmd("s", "SELECT Archive")
    lines = a.cmd("n", "NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) "
                       "(inboxes (MessageNew MessageExpunge FlagChange)) "
                       "(mailboxes Drafts (MessageNew MessageExpunge))")
    # STATUS now for every mailbox watched except the selected one
    inbox = [l for l in lines if l.startswith("* STATUS INBOX ")]
    assert len(inbox) == 1 and re.match(
        r"\* STATUS INBOX \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1 HIGHESTMODSEQ \d+\)$",
        inbox[0]), inbox
    assert any(l.startswith("* STATUS Drafts (MESSAGES 0 UIDNEXT 1 ") for l in lines)
    assert not any("Archive" in l for l in lines)
    # a delivery to INBOX: a STATUS, without any command
    deliver(petrel, subject="during")
    got = unsolicited(a, "* STATUS INBOX")
    assert "MESSAGES 2 UIDNEXT 3" in got[-1] and "UNSEEN 2" in got[-1]
    # a flag change elsewhere: UNSEEN moves
    b = raw_login(petrel)
    b.cmd("s", "SELECT INBOX")
    b.cmd("f", "STORE 1 +FLAGS (\\Seen)")
    got = unsolicited(a, "* STATUS INBOX")
    assert "UNSEEN 1" in got[-1]
    # Junk is not watched: nothing
    b.cmd("c", "COPY 1 Junk")
    assert quiet(a)
    # NOTIFY NONE: quiet again
    a.cmd("off", "NOTIFY NONE")
    deliver(petrel, subject="after")
    assert quiet(a)


def test_selected_mailbox_pushed_without_idle(petrel):
    deliver(petrel, subject="one")
    a = raw_login(petrel)
    a.cmd("s", "SELECT INBOX")
    a.cmd("n", "NOTIFY SET (selected (MessageNew (UID FLAGS ENVELOPE) MessageExpunge FlagChange))")
    deliver(petrel, subject="two")
    got = unsolicited(a, "FETCH (UID 2")
    assert "* 2 EXISTS" in got
    assert '"two"' in got[-1] and "FLAGS (" in got[-1]
    # expunges by another session arrive at once with SELECTED
    b = raw_login(petrel)
    b.cmd("s", "SELECT INBOX")
    b.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    got = unsolicited(a, "FETCH")
    assert "\\Deleted" in got[-1]
    b.cmd("x", "EXPUNGE")
    unsolicited(a, "* 1 EXPUNGE")
    # the session is in step: message 1 is uid 2 now
    assert a.cmd("f", "FETCH 1 UID")[0] == "* 1 FETCH (UID 2)"


def test_selected_delayed_holds_expunges(petrel):
    deliver(petrel, subject="one")
    deliver(petrel, subject="two")
    a = raw_login(petrel)
    a.cmd("s", "SELECT INBOX")
    a.cmd("n", "NOTIFY SET (selected-delayed (MessageNew MessageExpunge))")
    b = raw_login(petrel)
    b.cmd("s", "SELECT INBOX")
    b.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.cmd("x", "EXPUNGE")
    deliver(petrel, subject="three")
    got = unsolicited(a, "EXISTS")
    assert "* 3 EXISTS" in got  # the expunged one is still counted
    assert not any("EXPUNGE" in l for l in got)
    assert "* 1 EXPUNGE" in a.cmd("n2", "NOOP")


def test_mailbox_names_and_subscriptions(petrel):
    a = raw_login(petrel)
    a.cmd("n", "NOTIFY SET (personal (MailboxName SubscriptionChange MessageNew MessageExpunge))")
    b = raw_login(petrel)
    b.cmd("c", "CREATE Projects")
    assert unsolicited(a, "Projects")[-1] == '* LIST () "/" Projects'
    b.cmd("r", "RENAME Projects Work")
    assert unsolicited(a, "Work")[-1] == '* LIST () "/" Work ("OLDNAME" (Projects))'
    b.cmd("sub", "SUBSCRIBE Work")
    assert unsolicited(a, "Work")[-1] == '* LIST (\\Subscribed) "/" Work'
    b.cmd("uns", "UNSUBSCRIBE Work")
    assert unsolicited(a, "Work")[-1] == '* LIST () "/" Work'
    # the renamed mailbox is watched under its new name
    deliver(petrel, subject="x")
    b.cmd("s", "SELECT INBOX")
    assert tagged(b.cmd("cp", "COPY 1 Work")).startswith("cp OK")
    assert "* STATUS Work (MESSAGES 1 UIDNEXT 2" in unsolicited(a, "STATUS Work")[-1]
    b.cmd("d", "DELETE Work")
    assert unsolicited(a, "Work")[-1] == '* LIST (\\NonExistent) "/" Work'
    # another account's mailboxes are not told
    c = raw_login(petrel, BOB)
    c.cmd("c", "CREATE Secret")
    assert quiet(a)
    # the session's own changes are not echoed back to it
    a.cmd("c", "CREATE Mine")
    assert quiet(a)


def test_subtree_and_overflow_free_of_crash(petrel):
    a = raw_login(petrel)
    a.cmd("c1", "CREATE Lists/one")
    a.cmd("c2", "CREATE Lists/two")
    a.cmd("n", "NOTIFY SET STATUS (subtree Lists (MessageNew MessageExpunge))")
    deliver(petrel, subject="x")
    b = raw_login(petrel)
    b.cmd("s", "SELECT INBOX")
    assert tagged(b.cmd("cp", "COPY 1 Lists/two")).startswith("cp OK")
    assert "Lists/two" in unsolicited(a, "STATUS Lists/two")[-1]
    b.cmd("cp2", "COPY 1 INBOX")
    assert quiet(a)


def test_notification_overflow_when_the_client_does_not_read(petrel):
    # a client with a tiny receive window, so that the server's output waits
    a = Raw.__new__(Raw)
    a.buf = b""
    a.sock = socket.socket()
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a.sock.settimeout(10)
    a.sock.connect(("127.0.0.1", petrel.ports["imap"]))
    a.line()
    a.cmd("l", 'LOGIN %s "%s"' % (ALICE, PASSWORDS[ALICE]))
    a.cmd("s", "SELECT INBOX")
    a.cmd("n", "NOTIFY SET (selected (MessageNew (BODY.PEEK[]) MessageExpunge))")
    body = ("x" * 998 + "\r\n") * 1000  # 1 MB each
    for i in range(14):
        deliver(petrel, subject="big %d" % i, body=body)
    # Now read: some messages came whole, then NOTIFY stopped itself
    got = unsolicited(a, "NOTIFICATIONOVERFLOW", timeout=30)
    assert got[-1].startswith("* OK [NOTIFICATIONOVERFLOW]")
    deliver(petrel, subject="after")
    a.sock.settimeout(10)
    a.buf = b""  # the rest of any literal cut short above does not matter
    lines = a.cmd("n2", "NOOP")
    assert tagged(lines) == "n2 OK NOOP completed"
    assert petrel.cli("store", "check").out == "ok\n"


def test_message_new_fetches_size_date_and_modseq(petrel):
    # what the session's index does not keep is read for the new messages
    deliver(petrel, subject="one")
    a = raw_login(petrel)
    a.cmd("e", "ENABLE CONDSTORE")
    a.cmd("s", "SELECT INBOX")
    a.cmd("n", "NOTIFY SET (selected (MessageNew (UID RFC822.SIZE INTERNALDATE MODSEQ) "
               "MessageExpunge))")
    deliver(petrel, subject="two")
    got = unsolicited(a, "FETCH (UID 2")
    m = re.match(r'\* 2 FETCH \(UID 2 RFC822\.SIZE (\d+) INTERNALDATE "[^"]+" MODSEQ \((\d+)\)\)$',
                 got[-1])
    assert m, got
    lines = a.cmd("f", "UID FETCH 2 (RFC822.SIZE MODSEQ)")
    assert lines[0] == "* 2 FETCH (UID 2 RFC822.SIZE %s MODSEQ (%s))" % m.groups(), lines
