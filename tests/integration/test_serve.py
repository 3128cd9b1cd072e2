"""`petrel serve`: start-up, listeners, TLS, signals, limits, privileges."""
import crypt
import os
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import time

import pytest

from conftest import LISTENERS, PETREL_BIN, free_ports

GREETINGS = {
    "smtp": b"220 mail.example.test ESMTP",
    "submission": b"220 mail.example.test ESMTP",
    "submissions": b"220 mail.example.test ESMTP",
    "imap": b"* OK [CAPABILITY IMAP4rev1",
    "imaps": b"* OK [CAPABILITY IMAP4rev1",
    "pop3": b"+OK",
    "pop3s": b"+OK",
}
IMPLICIT_TLS = {"submissions", "imaps", "pop3s"}


def tls_client():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def read_line(sock, timeout=5):
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data


def greet(port, tls=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls:
        s = tls_client().wrap_socket(s)
    try:
        return read_line(s)
    finally:
        s.close()


def test_prints_one_line_per_listener(petrel):
    out = petrel.stdout()
    for _, _, name in LISTENERS:
        port = petrel.ports[name]
        tls = " tls=implicit" if name in IMPLICIT_TLS else ""
        assert "listening name=%s addr=127.0.0.1:%d%s\n" % (name, port, tls) in out


@pytest.mark.parametrize("name", sorted(GREETINGS))
def test_listener_answers_with_its_protocol_greeting(petrel, name):
    line = greet(petrel.ports[name], tls=name in IMPLICIT_TLS)
    assert line.startswith(GREETINGS[name]) and line.endswith(b"\r\n"), line


def test_http_listener_answers_json(petrel):
    with socket.create_connection(("127.0.0.1", petrel.ports["http"]), timeout=5) as s:
        s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 ")
    assert b"Content-Length: %d" % len(body) in head
    assert body.startswith(b"{") and body.endswith(b"}")


def test_implicit_tls_uses_tls12_or_newer_with_the_certificate(petrel):
    s = tls_client().wrap_socket(socket.create_connection(("127.0.0.1", petrel.ports["imaps"])))
    try:
        assert s.version() in ("TLSv1.2", "TLSv1.3")
        der = s.getpeercert(binary_form=True)
        pem = open(os.path.join(petrel.data_dir, "tls", "cert.pem")).read()
        assert ssl.DER_cert_to_PEM_cert(der).split() == pem.split()
    finally:
        s.close()


def test_tls_10_and_11_are_refused(petrel):
    ctx = tls_client()
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", petrel.ports["imaps"])))
        s.close()


def test_self_signed_certificate_is_created_with_private_key_mode_0600(petrel):
    key = os.path.join(petrel.data_dir, "tls", "key.pem")
    cert = os.path.join(petrel.data_dir, "tls", "cert.pem")
    assert os.stat(key).st_mode & 0o777 == 0o600
    text = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-text"],
                          stdout=subprocess.PIPE, check=True).stdout.decode()
    assert "DNS:mail.example.test" in text and "DNS:localhost" in text
    assert "IP Address:127.0.0.1" in text


def test_first_start_creates_postmaster_with_printed_password(petrel_factory):
    p = petrel_factory()
    p.start()
    out = p.stdout()
    m = re.search(r"postmaster@localhost password: (\S+)\n", out)
    assert m, out
    password = m.group(1)
    assert len(password) >= 16
    assert p.cli("domain", "list").out == "localhost\n"
    con = sqlite3.connect(os.path.join(p.data_dir, "petrel.db"))
    h = con.execute("SELECT password_hash FROM account WHERE address = 'postmaster@localhost'"
                    ).fetchone()[0]
    assert crypt.crypt(password, h) == h
    assert password not in p.log()
    # a second start prints no password
    assert p.stop() == 0
    open(p.stdout_path, "w").close()
    p.start()
    assert "password" not in p.stdout()


def test_embedded_defaults_run_in_var_of_the_working_directory(petrel_factory):
    """`petrel serve` with no config at all (the `make run` case)."""
    p = petrel_factory()
    busy = []
    for port in (2525, 2587, 2465, 1143, 1993, 1110, 1995, 8025):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                busy.append(port)
        except OSError:
            pass
    if busy:
        pytest.skip("default ports %s are in use on this machine" % busy)
    env = dict(os.environ)
    env.pop("PETREL_CONFIG", None)
    out = open(os.path.join(p.dir, "defaults.out"), "wb")
    proc = subprocess.Popen([PETREL_BIN, "serve"], cwd=p.dir, env=env, stdout=out,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "ready pid=" not in open(out.name).read():
            time.sleep(0.05)
        text = open(out.name).read()
        assert "ready pid=" in text, text
        for port in (2525, 2587, 2465, 1143, 1993, 1110, 1995, 8025):
            assert "addr=127.0.0.1:%d" % port in text
        assert os.path.exists(os.path.join(p.dir, "var", "petrel.db"))
        assert os.path.exists(os.path.join(p.dir, "var", "tls", "cert.pem"))
        assert greet(1143).startswith(b"* OK")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        out.close()


def test_sigterm_drains_and_exits_zero(petrel):
    s = socket.create_connection(("127.0.0.1", petrel.ports["smtp"]))
    read_line(s)
    s.close()
    assert petrel.stop(signal.SIGTERM) == 0
    log = petrel.log()
    assert "event=draining" in log and "event=stopped" in log


def test_sigint_exits_zero(petrel):
    assert petrel.stop(signal.SIGINT) == 0


def test_config_error_names_file_and_line(petrel_factory):
    p = petrel_factory()
    with open(p.config_path, "a") as f:
        f.write("[smtp]\nmax_recipients = ten\n")
    lines = open(p.config_path).read().split("\n")
    lineno = lines.index("max_recipients = ten") + 1
    r = subprocess.run([PETREL_BIN, "-c", p.config_path, "serve"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "%s:%d:" % (p.config_path, lineno) in err and "max_recipients" in err, err


def test_check_config_prints_effective_values_and_reports_errors(petrel_factory):
    p = petrel_factory()
    out = p.cli("check-config").out
    assert "# effective configuration from %s" % p.config_path in out
    assert "hostname = mail.example.test" in out
    assert "listen = 127.0.0.1:%d" % p.ports["smtp"] in out
    with open(p.config_path, "a") as f:
        f.write("[imap]\nlistn = 127.0.0.1:1\n")
    r = p.cli("check-config", check=False)
    assert r.returncode == 1 and "listn" in r.err and p.config_path + ":" in r.err


def test_petrel_config_environment_variable_is_used(petrel_factory):
    p = petrel_factory()
    env = dict(os.environ, PETREL_CONFIG=p.config_path)
    r = subprocess.run([PETREL_BIN, "check-config"], env=env, stdout=subprocess.PIPE, timeout=30)
    assert r.returncode == 0
    assert b"hostname = mail.example.test" in r.stdout


def test_empty_listener_value_switches_it_off(petrel_factory):
    p = petrel_factory({"pop3": {"listen": "", "listen_tls": ""}})
    p.start()
    out = p.stdout()
    assert "name=pop3 " not in out and "name=pop3s " not in out
    assert "name=imap " in out


def test_port_in_use_is_a_clear_error(petrel_factory):
    p = petrel_factory()
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", p.ports["imap"]))
    blocker.listen(1)
    try:
        r = subprocess.run([PETREL_BIN, "-c", p.config_path, "serve"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        assert r.returncode == 1
        assert "imap: cannot listen on 127.0.0.1:%d" % p.ports["imap"] in r.stderr.decode()
    finally:
        blocker.close()


def test_per_ip_connection_limit_answers_busy(petrel_factory):
    p = petrel_factory({"limits": {"max_connections_per_ip": "2"}})
    p.provision()
    p.start()
    # Hold connections on the HTTP port, which waits for the client to speak.
    held = []
    try:
        for _ in range(2):
            held.append(socket.create_connection(("127.0.0.1", p.ports["http"])))
        assert p.wait_log("event=connect listener=http", 5)
        time.sleep(0.3)
        line = greet(p.ports["smtp"])
        assert line.startswith(b"421 4.7.0"), line
    finally:
        for s in held:
            s.close()


def test_sighup_reloads_log_level_and_keeps_serving(petrel):
    petrel.write_config({"server": {"log_level": "warn"}})
    petrel.proc.send_signal(signal.SIGHUP)
    assert petrel.wait_log("event=reload result=ok")
    before = petrel.log().count("event=connect")
    greet(petrel.ports["smtp"])
    time.sleep(0.3)
    assert petrel.log().count("event=connect") == before  # info lines are now off


def test_sighup_with_a_bad_config_keeps_the_old_one(petrel):
    with open(petrel.config_path, "a") as f:
        f.write("[nonsense]\n")
    petrel.proc.send_signal(signal.SIGHUP)
    assert petrel.wait_log("event=reload result=error")
    assert greet(petrel.ports["imap"]).startswith(b"* OK")


def test_sighup_reloads_the_certificate(petrel_factory):
    p = petrel_factory()
    tls_dir = os.path.join(p.dir, "mytls")
    os.makedirs(tls_dir)
    cert, key = os.path.join(tls_dir, "c.pem"), os.path.join(tls_dir, "k.pem")

    def make_cert(cn):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=" + cn], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def served_cn():
        s = tls_client().wrap_socket(socket.create_connection(("127.0.0.1", p.ports["imaps"])))
        der = s.getpeercert(binary_form=True)
        s.close()
        pem = ssl.DER_cert_to_PEM_cert(der)
        text = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem.encode(),
                              stdout=subprocess.PIPE, check=True).stdout.decode()
        return text.strip()

    make_cert("first.example")
    p.write_config({"tls": {"cert": cert, "key": key}})
    p.start()
    assert "first.example" in served_cn()
    make_cert("second.example")
    p.proc.send_signal(signal.SIGHUP)
    assert p.wait_log("event=reload result=ok")
    assert "second.example" in served_cn()


def test_missing_certificate_named_in_config_is_an_error(petrel_factory):
    p = petrel_factory({"tls": {"cert": "/nonexistent/cert.pem", "key": "/nonexistent/key.pem"}})
    r = subprocess.run([PETREL_BIN, "-c", p.config_path, "serve"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 1 and "cannot load certificate /nonexistent/cert.pem" in \
        r.stderr.decode()


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_drops_root_to_the_configured_user(petrel_factory):
    p = petrel_factory({"server": {"user": "nobody"}})
    p.provision()  # the CLI acts as nobody too, so the store stays usable
    p.start()
    status = open("/proc/%d/status" % p.proc.pid).read()
    uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
    assert uid_line.split()[1:] == ["65534"] * 4, uid_line
    assert os.stat(os.path.join(p.data_dir, "petrel.db")).st_uid == 65534
    assert greet(p.ports["imap"]).startswith(b"* OK")
    p.cli("user", "add", "late@example.test", "--password-stdin", input="late-pw\n")
    assert "late@example.test" in p.cli("user", "list").out
    # the certificate stays readable after root is gone
    p.proc.send_signal(signal.SIGHUP)
    assert p.wait_log("event=reload result=")
    assert "event=reload result=ok" in p.log()


def test_unknown_run_as_user_is_a_clear_error(petrel_factory):
    if os.geteuid() != 0:
        pytest.skip("only root switches users")
    p = petrel_factory({"server": {"user": "no-such-user-xyz"}})
    r = subprocess.run([PETREL_BIN, "-c", p.config_path, "serve"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 1 and "no such user 'no-such-user-xyz'" in r.stderr.decode()


def test_sigterm_while_logins_are_being_checked_exits_zero(petrel):
    # The drain ends with password checks still running on the workers; the
    # shutdown waits for them, and nothing of the drain may run after the
    # connections are freed.
    socks = []
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", petrel.ports["imap"]), timeout=5)
        read_line(s)
        socks.append(s)
    for s in socks:
        s.sendall(b'a LOGIN "alice@example.test" "alice-secret-1"\r\n')
    assert petrel.stop(signal.SIGTERM) == 0
    assert not petrel.sanitizer_report(), petrel.log()[-3000:]
    for s in socks:
        s.close()
