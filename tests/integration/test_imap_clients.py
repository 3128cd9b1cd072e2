"""Real IMAP clients from Debian against the server: mbsync (isync), fetchmail
and curl. Each test checks what really happened: files on disk on the client's
side, messages and flags in the store on ours."""
import glob
import os
import shutil
import smtplib
import subprocess

import pytest

import mailstore
from conftest import PASSWORDS

ALICE = "alice@example.test"

# enum store_flag
SEEN, ANSWERED, FLAGGED, DELETED, DRAFT = 1, 2, 4, 8, 16


def need(tool):
    if not shutil.which(tool):
        pytest.skip("%s is not installed (scripts/deps installs it)" % tool)


def deliver(petrel, subject, body="Hello.\r\n", to=ALICE):
    msg = ("From: Carol <carol@elsewhere.example>\r\nTo: %s\r\nSubject: %s\r\n"
           "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@test>\r\n\r\n%s" % (
               to, subject, subject.replace(" ", "-"), body)).encode()
    with smtplib.SMTP("127.0.0.1", petrel.ports["smtp"]) as s:
        s.sendmail("carol@elsewhere.example", [to], msg)
    return msg


def flags_by_subject(petrel, mailbox="INBOX", address=ALICE):
    """{subject: flags} of a mailbox, from the store (the \\Recent bit left out)."""
    con = mailstore.connect(petrel)
    try:
        rows = con.execute(
            "SELECT m.flags, b.data FROM message m JOIN mailbox x ON x.id = m.mailbox_id "
            "JOIN account a ON a.id = x.account_id JOIN blob b ON b.id = m.blob_id "
            "WHERE a.address = ? AND x.name = ? ORDER BY m.uid", (address, mailbox)).fetchall()
    finally:
        con.close()
    out = {}
    for flags, data in rows:
        for line in bytes(data).split(b"\r\n"):
            if line.startswith(b"Subject: "):
                out[line[9:].decode()] = flags & 31
    return out


def run(cmd, cwd, env=None, timeout=60):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, "%s exited %d:\n%s" % (cmd[0], p.returncode, out)
    return out


# ---- mbsync -----------------------------------------------------------------------------------

class Mbsync:
    """An mbsync setup syncing alice's INBOX and Archive with a local Maildir."""

    def __init__(self, petrel, tmp_path, tls=False):
        self.dir = str(tmp_path)
        self.mail = os.path.join(self.dir, "mail")
        os.makedirs(self.mail)
        self.rc = os.path.join(self.dir, "mbsyncrc")
        if tls:
            # implicit TLS, trusting the server's own (self-signed) certificate
            port = petrel.ports["imaps"]
            ssl = "SSLType IMAPS\nCertificateFile %s\n" % os.path.join(petrel.data_dir, "tls",
                                                                       "cert.pem")
        else:
            port, ssl = petrel.ports["imap"], "SSLType None\n"  # loopback: plain is allowed
        with open(self.rc, "w") as f:
            f.write(
                "IMAPAccount petrel\nHost 127.0.0.1\nPort %d\nUser %s\nPass %s\n"
                "%sAuthMechs LOGIN\n\n"
                "IMAPStore remote\nAccount petrel\n\n"
                "MaildirStore local\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n"
                "Channel main\nFar :remote:\nNear :local:\nPatterns INBOX Archive\n"
                "Create Both\nExpunge Both\nSyncState *\n" % (
                    port, ALICE, PASSWORDS[ALICE], ssl, self.mail, self.mail))

    def sync(self):
        return run(["mbsync", "-c", self.rc, "-a"], self.dir)

    def files(self, box="INBOX"):
        """{subject: path} of the local messages of a box."""
        out = {}
        for path in glob.glob(os.path.join(self.mail, box, "*", "*")):
            with open(path, "rb") as f:
                for line in f.read().split(b"\n"):
                    if line.startswith(b"Subject: "):
                        out[line[9:].decode().rstrip("\r")] = path
        return out

    @staticmethod
    def flags(path):
        return path.rsplit(":2,", 1)[1]

    @staticmethod
    def set_flags(path, flags):
        """Renames a Maildir message into cur/ with these flags (the Maildir way)."""
        box = os.path.dirname(os.path.dirname(path))
        base = os.path.basename(path).rsplit(":2,", 1)[0]
        new = os.path.join(box, "cur", base + ":2," + "".join(sorted(flags)))
        os.rename(path, new)
        return new


def test_mbsync_syncs_both_ways_with_flags_and_deletions(petrel, tmp_path):
    need("mbsync")
    m1 = deliver(petrel, "first")
    deliver(petrel, "second")
    sync = Mbsync(petrel, tmp_path)
    sync.sync()

    # down: both messages, byte for byte (Maildir keeps LF line ends; mbsync
    # adds its X-TUID tracking header)
    local = sync.files()
    assert sorted(local) == ["first", "second"]
    stored = mailstore.messages(petrel, ALICE)
    with open(local["first"], "rb") as f:
        lines = [l for l in f.read().split(b"\n") if not l.startswith(b"X-TUID: ")]
        assert b"\n".join(lines) == stored[0].replace(b"\r\n", b"\n")
    assert m1.replace(b"\r\n", b"\n") in stored[0].replace(b"\r\n", b"\n")

    # up: flags changed here, and a message written here
    sync.set_flags(local["first"], "F")
    sync.set_flags(local["second"], "S")
    with open(os.path.join(sync.mail, "INBOX", "cur", "1000.local.host:2,S"), "wb") as f:
        f.write(b"From: alice@example.test\nSubject: written offline\n\ndraft text\n")
    sync.sync()
    assert flags_by_subject(petrel) == {"first": FLAGGED, "second": SEEN,
                                        "written offline": SEEN}
    assert b"draft text\r\n" in mailstore.messages(petrel, ALICE)[2]

    # down again: changes made on the server by another client
    import imaplib
    m = imaplib.IMAP4("127.0.0.1", petrel.ports["imap"])
    m.login(ALICE, PASSWORDS[ALICE])
    m.select("INBOX")
    m.store("1", "+FLAGS", "(\\Answered)")
    m.copy("3", "Archive")
    m.store("2", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    sync.sync()
    local = sync.files()
    assert sorted(local) == ["first", "written offline"]
    assert sync.flags(local["first"]) == "FR"
    assert list(sync.files("Archive")) == ["written offline"]

    # a deletion here reaches the server
    sync.set_flags(local["first"], "FRT")
    sync.sync()
    assert flags_by_subject(petrel) == {"written offline": SEEN}
    assert sorted(sync.files()) == ["written offline"]
    assert petrel.cli("store", "check").out == "ok\n"

    # and a second run with nothing new changes nothing
    before = sorted(os.listdir(os.path.join(sync.mail, "INBOX", "cur")))
    sync.sync()
    assert sorted(os.listdir(os.path.join(sync.mail, "INBOX", "cur"))) == before
    assert flags_by_subject(petrel) == {"written offline": SEEN}


def test_mbsync_over_imaps_with_the_server_certificate(petrel, tmp_path):
    need("mbsync")
    deliver(petrel, "secure")
    sync = Mbsync(petrel, tmp_path, tls=True)
    sync.sync()
    local = sync.files()
    assert list(local) == ["secure"]
    sync.set_flags(local["secure"], "FS")
    sync.sync()
    assert flags_by_subject(petrel) == {"secure": SEEN | FLAGGED}
    assert "tls=yes" in petrel.log()


# ---- fetchmail --------------------------------------------------------------------------------

def fetchmail(petrel, tmp_path, keep):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        "set no bouncemail\nset no syslog\nset invisible\n"
        "poll 127.0.0.1 service %d protocol IMAP auth password\n"
        "  user \"%s\" there with password \"%s\" is \"%s\" here\n"
        "  sslproto '' fetchall %s\n"
        "  mda \"/bin/sh -c 'cat > %s/msg.$$'\"\n" % (
            petrel.ports["imap"], ALICE, PASSWORDS[ALICE], os.environ.get("USER", "root"),
            "keep" if keep else "nokeep", out))
    rc.chmod(0o600)
    env = dict(os.environ, FETCHMAILHOME=str(tmp_path))
    log = run(["fetchmail", "-f", str(rc), "-v", "--nodetach"], str(tmp_path), env=env)
    got = {}
    for path in out.iterdir():
        data = path.read_bytes()
        subject = [l for l in data.split(b"\n") if l.startswith(b"Subject: ")][0][9:]
        got[subject.decode().rstrip("\r")] = data
        path.unlink()
    return got, log


def test_fetchmail_downloads_marks_seen_and_then_deletes(petrel, tmp_path):
    need("fetchmail")
    deliver(petrel, "alpha", body="first body\r\n")
    deliver(petrel, "beta", body="second body\r\n")
    # keep: messages stay, marked \Seen
    got, _ = fetchmail(petrel, tmp_path, keep=True)
    assert sorted(got) == ["alpha", "beta"]
    stored = mailstore.messages(petrel, ALICE)
    assert got["alpha"] == stored[0].replace(b"\r\n", b"\n")
    assert got["beta"].endswith(b"\n\nsecond body\n")
    assert flags_by_subject(petrel) == {"alpha": SEEN, "beta": SEEN}
    # no keep: downloaded again (fetchall) and gone from the server
    got, log = fetchmail(petrel, tmp_path, keep=False)
    assert sorted(got) == ["alpha", "beta"]
    assert "EXPUNGE" in log
    assert mailstore.messages(petrel, ALICE) == []
    assert mailstore.count(petrel, "tombstone") == 2


# ---- curl -------------------------------------------------------------------------------------

def curl(petrel, path, *extra):
    url = "imap://127.0.0.1:%d/%s" % (petrel.ports["imap"], path)
    p = subprocess.run(["curl", "-sS", "--max-time", "30", "-u",
                        "%s:%s" % (ALICE, PASSWORDS[ALICE]), url] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


def test_curl_fetches_by_uid_lists_and_searches(petrel):
    need("curl")
    deliver(petrel, "one")
    deliver(petrel, "two", body="the second one\r\n")
    stored = mailstore.messages(petrel, ALICE)
    assert curl(petrel, "INBOX;UID=2") == stored[1]
    # curl's FETCH is BODY[] (not PEEK): the message is \Seen now, the other not
    assert flags_by_subject(petrel) == {"one": 0, "two": SEEN}
    assert curl(petrel, "INBOX?UNSEEN").decode().strip() == "* SEARCH 1"
    assert curl(petrel, "INBOX;UID=1;SECTION=HEADER.FIELDS%20(SUBJECT)") == \
        b"Subject: one\r\n\r\n"
    assert flags_by_subject(petrel) == {"one": SEEN, "two": SEEN}
    listing = curl(petrel, "").decode()
    for line in ('* LIST (\\HasNoChildren) "/" INBOX',
                 '* LIST (\\HasNoChildren \\Archive) "/" Archive',
                 '* LIST (\\HasNoChildren \\Sent) "/" Sent'):
        assert line in listing.splitlines(), listing
    assert curl(petrel, "INBOX?SUBJECT%20two").decode().strip() == "* SEARCH 2"
    # a UID that does not exist: curl fails, nothing is made up
    p = subprocess.run(["curl", "-sS", "-u", "%s:%s" % (ALICE, PASSWORDS[ALICE]),
                        "imap://127.0.0.1:%d/INBOX;UID=9" % petrel.ports["imap"]],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.stdout == b""
