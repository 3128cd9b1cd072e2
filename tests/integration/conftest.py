"""Fixtures that run a real `petrel serve` on free loopback ports in a temp dir.

    def test_something(petrel):
        petrel.cli("user", "add", "carol@example.test", input="pw\\n")
        with socket.create_connection(("127.0.0.1", petrel.ports["imap"])) as s: ...

The `petrel` fixture writes a config with every listener on a free port (and a
DNS resolver that answers nothing, so that outbound mail is merely deferred), creates
domain example.test with accounts alice@ and bob@ (passwords in PASSWORDS),
starts the server, waits until it is ready, and stops it with SIGTERM afterwards,
checking that it exits 0 and that its log holds no sanitizer report. When the
test failed, the server's log is printed.

Environment: PETREL_BIN (default build/asan/petrel), PETREL_TOOLS (default
build/asan/tests/tools).
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PETREL_BIN = os.environ.get("PETREL_BIN", os.path.join(ROOT, "build/asan/petrel"))
PETREL_TOOLS = os.environ.get("PETREL_TOOLS", os.path.join(ROOT, "build/asan/tests/tools"))

PASSWORDS = {
    "alice@example.test": "alice-secret-1",
    "bob@example.test": "bob-secret-2",
}

LISTENERS = [
    # (config section, key, name)
    ("smtp", "listen", "smtp"),
    ("smtp", "submission", "submission"),
    ("smtp", "submissions", "submissions"),
    ("imap", "listen", "imap"),
    ("imap", "listen_tls", "imaps"),
    ("pop3", "listen", "pop3"),
    ("pop3", "listen_tls", "pop3s"),
    ("http", "listen", "http"),
]

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "panic:")


def run_tool(cmd, password, timeout=120):
    """Runs a tool of tests/tools with password as the first line of its standard
    input; p.out and p.err are its output as text. A sanitizer report fails."""
    p = subprocess.run(cmd, input=(password + "\n").encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    p.out = p.stdout.decode()
    p.err = p.stderr.decode()
    for m in SANITIZER_MARKERS:
        assert m not in p.err, p.err
    return p


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1, below Linux's ephemeral range
    (32768-60999), so that no outgoing connection of the tests or of the
    server (which may pick any ephemeral port) can take one before petrel
    binds it."""
    import random
    ports = []
    while len(ports) < n:
        port = random.randint(20000, 32000)
        if port in ports:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        ports.append(port)
    return ports


def free_udp_port():
    """A UDP port on 127.0.0.1 nothing listens on (a DNS resolver that refuses at once)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Petrel:
    """One petrel installation: a data dir, a config file and, once started, a server."""

    def __init__(self, workdir, extra_config=None):
        self.dir = workdir
        self.data_dir = os.path.join(workdir, "data")
        self.config_path = os.path.join(workdir, "petrel.conf")
        self.stdout_path = os.path.join(workdir, "serve.out")
        self.log_path = os.path.join(workdir, "serve.log")
        self.ports = dict(zip([n for _, _, n in LISTENERS], free_ports(len(LISTENERS))))
        self.dead_dns_port = free_udp_port()
        self.proc = None
        self.extra = extra_config or {}
        self.write_config()

    def config_text(self, overrides=None):
        sections = {
            "server": {"hostname": "mail.example.test", "data_dir": self.data_dir,
                       "log_level": "debug"},
            "smtp": {}, "imap": {}, "pop3": {}, "http": {},
            # Hermetic: outbound lookups go to a resolver that refuses at once, so
            # mail queued for foreign domains is deferred (tests/integration/
            # test_outbound.py runs its own DNS server instead).
            "dns": {"resolver": "127.0.0.1:%d" % self.dead_dns_port},
        }
        for section, key, name in LISTENERS:
            sections[section][key] = "127.0.0.1:%d" % self.ports[name]
        for src in (self.extra, overrides or {}):
            for section, kv in src.items():
                sections.setdefault(section, {}).update(kv)
        lines = []
        for section, kv in sections.items():
            lines.append("[%s]" % section)
            lines += ["%s = %s" % (k, v) for k, v in kv.items()]
            lines.append("")
        return "\n".join(lines)

    def write_config(self, overrides=None):
        self.overrides = overrides
        with open(self.config_path, "w") as f:
            f.write(self.config_text(overrides))

    def cli(self, *args, input=None, check=True, config=True):
        cmd = [PETREL_BIN] + (["-c", self.config_path] if config else []) + list(args)
        p = subprocess.run(cmd, input=input.encode() if isinstance(input, str) else input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        p.out = p.stdout.decode("utf-8", "replace")
        p.err = p.stderr.decode("utf-8", "replace")
        if check and p.returncode != 0:
            raise AssertionError("petrel %s failed (%d): %s%s" % (
                " ".join(args), p.returncode, p.out, p.err))
        for m in SANITIZER_MARKERS:
            assert m not in p.err, p.err
        return p

    def provision(self):
        self.cli("domain", "add", "example.test")
        for addr, pw in PASSWORDS.items():
            self.cli("user", "add", addr, "--password-stdin", input=pw + "\n")

    def start(self, wait=True):
        # A port found free may be taken by someone else before petrel binds
        # it (other test runs on the machine): pick new ones and try again.
        for attempt in range(5):
            try:
                return self._start(wait)
            except AssertionError:
                if attempt == 4 or "Address already in use" not in self.log():
                    raise
                self.stop()
                os.rename(self.log_path, self.log_path + ".%d" % attempt)
                self.ports = dict(zip([n for _, _, n in LISTENERS],
                                      free_ports(len(LISTENERS))))
                self.write_config(self.overrides)

    def _start(self, wait):
        # A restart appends to the same file: only a "ready" line after this
        # point counts.
        seen = os.path.getsize(self.stdout_path) if os.path.exists(self.stdout_path) else 0
        self.out = open(self.stdout_path, "ab")
        self.err = open(self.log_path, "ab")
        self.proc = subprocess.Popen([PETREL_BIN, "-c", self.config_path, "serve"],
                                     stdout=self.out, stderr=self.err, cwd=self.dir)
        if wait:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if "ready pid=" in self.stdout()[seen:]:
                    break
                if self.proc.poll() is not None:
                    raise AssertionError("petrel serve exited %d:\n%s" % (
                        self.proc.returncode, self.log()))
                time.sleep(0.05)
            else:
                raise AssertionError("petrel serve not ready:\n" + self.log())
        return self

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops the server; returns its exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("petrel serve did not stop within %ds" % timeout)
        code = self.proc.returncode
        self.proc = None
        self.out.close()
        self.err.close()
        return code

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log(self):
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def sanitizer_report(self):
        text = self.log()
        return any(m in text for m in SANITIZER_MARKERS)

    def wait_log(self, needle, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return True
            time.sleep(0.05)
        return False


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _workdir():
    # Not under pytest's 0700 tmp folders: the server may drop to another user.
    d = tempfile.mkdtemp(prefix="petrel-test-")
    os.chmod(d, 0o755)
    return d


@pytest.fixture
def petrel_factory(request):
    """Makes Petrel installations (not started, not provisioned); stops them after."""
    made = []

    def make(extra_config=None):
        p = Petrel(_workdir(), extra_config)
        made.append(p)
        return p

    yield make
    failed = getattr(request.node, "rep_call", None) and request.node.rep_call.failed
    problems = []
    for p in made:
        running = p.proc is not None
        code = p.stop() if running else None
        if running and code != 0:
            problems.append("petrel serve exited %s" % code)
        if p.sanitizer_report():
            problems.append("sanitizer report in the server log")
        if failed or problems:
            print("\n---- petrel serve log (%s) ----\n%s" % (p.dir, p.log()[-20000:]))
        subprocess.run(["rm", "-rf", p.dir])
    assert not problems, "; ".join(problems)


@pytest.fixture
def petrel(petrel_factory):
    """A provisioned, running server."""
    p = petrel_factory()
    p.provision()
    p.start()
    return p
