"""Crash test over SMTP: SIGKILL the server during a stream of deliveries; every
message that got its 250 must be in the mailbox afterwards, byte for byte."""
import random
import re
import signal
import smtplib
import threading
import time

import mailstore

ROUNDS = 12
WRITERS = 4


def sender(port, wid, acked, stop):
    seq = 0
    while not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as s:
                s.ehlo("crash.example")
                for _ in range(5):
                    if stop.is_set():
                        return
                    seq += 1
                    mid = "w%d-%d-%s@crash" % (wid, seq, random.getrandbits(40))
                    body = ("Message-ID: <%s>\r\nSubject: crash %d\r\n\r\n" % (mid, seq) +
                            ("payload %s\r\n" % mid) * random.randint(1, 200)).encode()
                    s.sendmail("w%d@elsewhere.example" % wid, ["alice@example.test"], body)
                    acked[mid] = body  # only after the 250
        except (smtplib.SMTPException, OSError):
            time.sleep(0.01)  # the server is down or going down


def test_every_acknowledged_message_survives_sigkill(petrel_factory):
    p = petrel_factory()
    p.provision()
    acked = {}
    kills = 0
    for _ in range(ROUNDS):
        p.start()
        stop = threading.Event()
        threads = [threading.Thread(target=sender, args=(p.ports["smtp"], w, acked, stop))
                   for w in range(WRITERS)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.2, 1.0))
        p.proc.send_signal(signal.SIGKILL)
        p.proc.wait()
        p.proc = None
        p.out.close()
        p.err.close()
        kills += 1
        stop.set()
        for t in threads:
            t.join()
    p.start()
    stored = {}
    for m in mailstore.messages(p, "alice@example.test"):
        body = mailstore.body_of(m)
        mid = re.search(rb"Message-ID: <([^>]+)>", body).group(1).decode()
        stored[mid] = body
    missing = [mid for mid in acked if mid not in stored]
    changed = [mid for mid in acked if mid in stored and stored[mid] != acked[mid]]
    print("crash test: %d kills, %d acknowledged, %d stored, %d missing, %d changed" % (
        kills, len(acked), len(stored), len(missing), len(changed)))
    assert kills >= ROUNDS and len(acked) > 0
    assert not missing and not changed
    assert p.cli("store", "check").out == "ok\n"
