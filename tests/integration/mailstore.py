"""Read-only views of a petrel store for tests: what is really in the mailboxes."""
import os
import sqlite3


def connect(petrel):
    path = os.path.join(petrel.data_dir, "petrel.db")
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)


def messages(petrel, address, mailbox="INBOX"):
    """The raw bytes of every message in a mailbox, by ascending UID."""
    con = connect(petrel)
    try:
        rows = con.execute(
            "SELECT b.data FROM message m JOIN mailbox x ON x.id = m.mailbox_id "
            "JOIN account a ON a.id = x.account_id JOIN blob b ON b.id = m.blob_id "
            "WHERE a.address = ? AND x.name = ? ORDER BY m.uid", (address, mailbox)).fetchall()
        return [bytes(r[0]) for r in rows]
    finally:
        con.close()


def queue(petrel):
    """(env_from, rcpt, state, dsn_notify, dsn_orcpt, dsn_ret, dsn_envid, source) rows."""
    con = connect(petrel)
    try:
        return con.execute(
            "SELECT q.env_from, r.rcpt, r.state, r.dsn_notify, r.dsn_orcpt, q.dsn_ret, "
            "q.dsn_envid, q.source FROM queue_rcpt r JOIN queue_message q ON q.id = r.queue_id "
            "ORDER BY r.id").fetchall()
    finally:
        con.close()


def count(petrel, table):
    con = connect(petrel)
    try:
        return con.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
    finally:
        con.close()


def body_of(stored):
    """The message as the client sent it: what follows our Return-Path and Received."""
    assert stored.startswith(b"Return-Path: <"), stored[:80]
    # Received: is folded over several lines, each continuation starts with a tab
    lines = stored.split(b"\r\n")
    i = 1
    assert lines[i].startswith(b"Received: ")
    i += 1
    while lines[i].startswith(b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])
