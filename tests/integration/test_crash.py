"""Crash safety of the store: kill -9 a busy writer at random instants, again and again,
on the same store, and check after each kill that

  - every message the writer acknowledged, in this round or any before, is in the
    store byte for byte: its UID in INBOX of w@bench.test points to a blob whose
    SHA-256 is the acknowledged one, and whose Message-ID names the writer and
    sequence number acknowledged;
  - SQLite's own integrity check says ok;
  - `petrel store check` (SQLite's check and petrel's invariants: reference
    counts, counters, UIDs, MODSEQs) prints ok and exits 0.

The writer is tests/tools/store_writer (group commit, 8 writers, 4 KiB messages). It
writes "W K UID SHA256" to its acks file with one write(2) after each completion,
so a line in that file is exactly what a client would have been told.

Environment: PETREL_TOOLS (default build/asan/tests/tools), PETREL_BIN (default
build/asan/petrel), CRASH_ROUNDS (at least and by default 20; rounds past 20 start only
within a 50 s budget), CRASH_SEED (default: random, printed in the summary and in
any failure).
"""
import hashlib
import os
import random
import re
import signal
import sqlite3
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PETREL_BIN = os.environ.get("PETREL_BIN", os.path.join(ROOT, "build/asan/petrel"))
PETREL_TOOLS = os.environ.get("PETREL_TOOLS", os.path.join(ROOT, "build/asan/tests/tools"))
MIN_ROUNDS = 20
ROUNDS = max(MIN_ROUNDS, int(os.environ.get("CRASH_ROUNDS", str(MIN_ROUNDS))))
TIME_BUDGET = 50.0  # seconds; rounds beyond MIN_ROUNDS start only within it

SEQ_STRIDE = 10_000_000  # each round's sequence numbers start at round * SEQ_STRIDE
MESSAGE_ID = re.compile(rb"\AMessage-ID: <writer(\d+)\.seq(\d+)@bench\.test>\r\n")


def read_acks(path):
    """The complete lines of an acks file as (w, k, uid, sha256hex), and whether a
    partial last line (a kill in the middle of the write) was left out."""
    acks = []
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    partial = lines.pop() != b""  # text after the last newline
    for line in lines:
        w, k, uid, sha = line.decode("ascii").split(" ")
        assert len(sha) == 64, line
        acks.append((int(w), int(k), int(uid), sha))
    return acks, partial


def store_messages(db_path):
    """INBOX of w@bench.test as {uid: (stored sha256 hex, sha256 of data hex, data
    head)}, and SQLite's integrity_check result."""
    db = sqlite3.connect(db_path, timeout=10)
    try:
        integrity = [r[0] for r in db.execute("PRAGMA integrity_check")]
        row = db.execute(
            "SELECT m.id FROM mailbox m JOIN account a ON a.id = m.account_id "
            "WHERE a.address = 'w@bench.test' AND m.name = 'INBOX'").fetchone()
        messages = {}
        if row is not None:
            for uid, sha, data in db.execute(
                    "SELECT m.uid, b.sha256, b.data FROM message m "
                    "JOIN blob b ON b.id = m.blob_id WHERE m.mailbox_id = ?", (row[0],)):
                messages[uid] = (bytes(sha).hex(), hashlib.sha256(data).hexdigest(),
                                 bytes(data[:80]))
        return messages, integrity
    finally:
        db.close()


def petrel_store_check(config_path):
    p = subprocess.run([PETREL_BIN, "-c", config_path, "store", "check"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def test_no_acknowledged_message_is_lost_when_the_writer_is_killed(tmp_path, capsys):
    writer = os.path.join(PETREL_TOOLS, "store_writer")
    assert os.access(writer, os.X_OK), "build it first: make MODE=asan tools (%s)" % writer
    assert os.access(PETREL_BIN, os.X_OK), "build it first: make MODE=asan petrel"

    seed = int(os.environ.get("CRASH_SEED", str(random.randrange(1 << 32))))
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db_path = str(data_dir / "petrel.db")
    config_path = str(tmp_path / "petrel.conf")
    with open(config_path, "w") as f:
        f.write("[server]\ndata_dir = %s\n\n[store]\npath = %s\n" % (data_dir, db_path))

    acked = {}  # uid -> (w, k, sha)
    rounds = partial_lines = 0
    started = time.monotonic()
    for rnd in range(ROUNDS):
        if rnd >= MIN_ROUNDS and time.monotonic() - started > TIME_BUDGET:
            break
        acks_path = str(tmp_path / ("acks.%d" % rnd))
        log_path = str(tmp_path / ("writer.%d.log" % rnd))
        delay = rng.uniform(0.05, 1.0)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [writer, "--store", db_path, "--writers", "8", "--size", "4096",
                 "--seconds", "30", "--acks", acks_path,
                 "--seq-start", str(rnd * SEQ_STRIDE)],
                stdout=log, stderr=subprocess.STDOUT)
            time.sleep(delay)
            exited_early = proc.poll() is not None
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        with open(log_path, "rb") as log:
            output = log.read().decode("utf-8", "replace")
        tag = "round %d (delay %.3fs, seed %d)" % (rnd, delay, seed)
        assert not exited_early, "%s: the writer stopped by itself:\n%s" % (tag, output)
        assert output == "", "%s: the writer said:\n%s" % (tag, output)
        rounds += 1

        acks, partial = read_acks(acks_path) if os.path.exists(acks_path) else ([], False)
        partial_lines += partial
        for w, k, uid, sha in acks:
            assert uid not in acked, "%s: uid %d acknowledged twice" % (tag, uid)
            assert rnd * SEQ_STRIDE < k < (rnd + 1) * SEQ_STRIDE
            acked[uid] = (w, k, sha)

        messages, integrity = store_messages(db_path)
        assert integrity == ["ok"], "%s: integrity_check: %s" % (tag, integrity)
        for uid, (w, k, sha) in sorted(acked.items()):
            where = "%s: uid %d (writer %d seq %d)" % (tag, uid, w, k)
            assert uid in messages, where + " was acknowledged but is missing"
            stored_sha, data_sha, head = messages[uid]
            assert data_sha == sha, where + ": the bytes differ from what was acknowledged"
            assert stored_sha == sha, where + ": the blob's sha256 column is wrong"
            m = MESSAGE_ID.match(head)
            assert m and (int(m.group(1)), int(m.group(2))) == (w, k), \
                where + ": holds another message: %r" % head

        rc, out, err = petrel_store_check(config_path)
        assert (rc, out) == (0, "ok\n"), "%s: petrel store check: rc=%d\n%s%s" % (
            tag, rc, out, err)

    assert acked, "no message was ever acknowledged"
    with capsys.disabled():
        print("\ncrash test: rounds=%d acked=%d found=%d all_found=yes partial_ack_lines=%d "
              "stored=%d seed=%d seconds=%.1f" % (
                  rounds, len(acked), len(acked), partial_lines, len(messages), seed,
                  time.monotonic() - started))
