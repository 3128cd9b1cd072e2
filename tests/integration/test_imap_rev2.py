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
