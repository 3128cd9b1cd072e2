"""tests/tools/smtp_load, the benchmarks' submission load client, against a real server.

It must deliver exactly the messages it says it sent (STARTTLS, AUTH PLAIN,
pipelining, several connections, several messages over each), count what the
server refuses as failed, and go on over a new connection when the server ends a
session at its limit of messages (SMTP_MAX_MESSAGES, 421 to MAIL).

Environment: PETREL_TOOLS (default build/asan/tests/tools), PETREL_BIN.
"""
import os
import re

from conftest import PASSWORDS, PETREL_TOOLS, run_tool
import mailstore

LOAD = os.path.join(PETREL_TOOLS, "smtp_load")
ALICE = "alice@example.test"
BOB = "bob@example.test"
RESULT = re.compile(r"^connections=(\d+) messages=(\d+) sent=(\d+) failed=(\d+) "
                    r"seconds=[\d.]+ rate=[\d.]+/s p50_ms=([\d.]+) p99_ms=([\d.]+)$", re.M)
SMTP_MAX_MESSAGES = 1000   # src/smtp/smtp.h


def run_load(petrel, *args, password=PASSWORDS[ALICE], timeout=120):
    p = run_tool([LOAD, "--port", str(petrel.ports["submission"]), "--timeout", "30"] +
                 list(args), password, timeout)
    p.result = RESULT.search(p.out)
    assert p.result, p.out + p.err
    return p


def counts(p):
    return tuple(int(x) for x in p.result.groups()[:4])


def latencies(p):
    return tuple(float(x) for x in p.result.groups()[4:])


def test_load_delivers_every_message_it_counts_over_starttls_and_auth(petrel):
    p = run_load(petrel, "--starttls", "--auth", ALICE, "--from", ALICE, "--to", BOB,
                 "--connections", "3", "--messages", "25", "--per-connection", "4",
                 "--size", "3000")
    assert p.returncode == 0, p.out + p.err
    assert counts(p) == (3, 25, 25, 0)
    p50, p99 = latencies(p)
    assert 0 < p50 <= p99
    stored = mailstore.messages(petrel, BOB)
    assert len(stored) == 25
    subjects = []
    for m in stored:
        assert b"authenticated as alice@example.test" in m
        sent = mailstore.body_of(m)
        assert len(sent) == 3000
        assert sent.endswith(b"\r\n")
        subjects.append(int(re.search(rb"^Subject: smtp_load message (\d+)\r$",
                                      sent, re.M).group(1)))
    assert sorted(subjects) == list(range(25))


def test_load_spreads_messages_over_the_recipients_in_turn(petrel):
    p = run_load(petrel, "--starttls", "--auth", ALICE, "--from", ALICE, "--to", BOB,
                 "--to", ALICE, "--messages", "6", "--size", "500")
    assert p.returncode == 0, p.out + p.err
    assert len(mailstore.messages(petrel, BOB)) == 3
    assert len(mailstore.messages(petrel, ALICE)) == 3


def test_load_sends_a_message_file_with_crlf_and_dot_stuffing(petrel, tmp_path):
    path = tmp_path / "message.eml"
    path.write_bytes(b"From: <alice@example.test>\nSubject: file\n\nfirst\n.dot line\n..\nlast")
    p = run_load(petrel, "--starttls", "--auth", ALICE, "--from", ALICE, "--to", BOB,
                 "--messages", "2", "--message", str(path))
    assert p.returncode == 0, p.out + p.err
    stored = mailstore.messages(petrel, BOB)
    assert [mailstore.body_of(m) for m in stored] == [
        b"From: <alice@example.test>\r\nSubject: file\r\n\r\nfirst\r\n.dot line\r\n..\r\n"
        b"last\r\n"] * 2


def test_load_counts_refused_recipients_as_failed(petrel):
    p = run_load(petrel, "--starttls", "--auth", ALICE, "--from", ALICE,
                 "--to", "nobody@example.test", "--connections", "2", "--messages", "5")
    assert p.returncode == 1
    assert counts(p) == (2, 5, 0, 5)
    assert latencies(p) == (0, 0)            # only sent messages are timed
    assert "RCPT: 550" in p.err
    assert mailstore.messages(petrel, BOB) == []


def test_load_fails_without_a_session_when_the_password_is_wrong(petrel):
    p = run_load(petrel, "--starttls", "--auth", ALICE, "--from", ALICE, "--to", BOB,
                 "--messages", "3", password="not-the-password")
    assert p.returncode == 1
    connections, messages, sent, failed = counts(p)
    assert sent == 0 and failed == messages >= 1
    assert "no session after 3 tries: 535" in p.err


def test_load_cannot_authenticate_on_a_plain_session(petrel):
    p = run_load(petrel, "--auth", ALICE, "--from", ALICE, "--to", BOB, "--messages", "1")
    assert p.returncode == 1
    assert counts(p)[2:] == (0, 1)
    assert mailstore.messages(petrel, BOB) == []


def test_load_goes_on_over_a_new_connection_at_the_servers_session_limit(petrel):
    n = SMTP_MAX_MESSAGES + 5
    p = run_load(petrel, "--starttls", "--auth", ALICE, "--from", ALICE, "--to", BOB,
                 "--messages", str(n), "--per-connection", "0", "--size", "300",
                 timeout=300)
    assert p.returncode == 0, p.out + p.err
    assert counts(p) == (1, n, n, 0)
    assert mailstore.count(petrel, "message") == n
