"""The PM's control socket (and the apps' sockets) against hostile local
clients of httpd's User: garbage of every shape, idle connections by the
hundred on every socket in FastCgiIpcDir, a stranger uid, paths that
cannot be sent, answers that are not answers.

The clients run as www-data (the integration tests run as root; httpd's
User is www-data), in a subprocess started here and stopped by its PID.
"""

import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

import conftest
from helpers import (apps_of, control_socket, current_pm, dynamic_server, gone,
                     install, log_lines, log_text, processes_running, start,
                     timed_get)

# Run as another user: opens N idle connections to every socket in the
# directory argv[1], sends garbage of every shape to the control socket
# (g*-pm.sock), prints one line of counts, then holds everything until
# stdin closes (or 60 s pass) and exits.
FLOODER = r"""
import os, select, socket, stat, sys
ipc, n = sys.argv[1], int(sys.argv[2])
held, refused = [], 0

def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    if s.connect_ex(path) != 0:   # an app's listen queue is full
        s.close()
        return None
    held.append(s)
    return s

def send(path, data):
    s = connect(path)
    if s is not None:
        s.setblocking(True)
        s.settimeout(2)
        try:
            s.sendall(data)
        except OSError:
            pass                  # the PM refused it before the end

socks = sorted(os.path.join(ipc, f) for f in os.listdir(ipc)
               if stat.S_ISSOCK(os.lstat(os.path.join(ipc, f)).st_mode))
for path in socks:
    for _ in range(n):
        if connect(path) is None:
            refused += 1
ctl = [p for p in socks if p.endswith("-pm.sock")][0]
for data in (b"START /srv/x\0junk\n", b"START /no/newline",
             b"A" * 65536, bytes(range(256)) * 16,
             b"TICK\n" * 50 + b"START /srv/y\n", b"START /half a line",
             b"STARTAS -rf / /bin/sh\n", b"\r\n\r\n",
             b"START relative/path\n"):
    send(ctl, data)
print("sockets=%d held=%d refused=%d" % (len(socks), len(held), refused),
      flush=True)
select.select([sys.stdin], [], [], 60)
"""


def as_user(name):
    """preexec_fn: become user name (uid, gid, no other groups)."""
    pw = pwd.getpwnam(name)

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return drop


def need_root():
    if conftest.run_user() is None:
        pytest.skip("needs root and the www-data user")


class Flooder:
    """The FLOODER script as `user`, on the sockets of ipc_dir."""

    def __init__(self, ipc_dir, per_socket, user):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FLOODER, str(ipc_dir), str(per_socket)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, preexec_fn=as_user(user),
            start_new_session=True)

    def ready(self, timeout=30):
        """The script's counts line, once everything is connected."""
        ready, _, _ = select_readable(self.proc.stdout, timeout)
        assert ready, "the flooder did not get ready in %d s" % timeout
        return self.proc.stdout.readline().decode().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def select_readable(f, timeout):
    import select
    return select.select([f], [], [], timeout)


def sockets_in(ipc):
    return sorted(p for p in ipc.iterdir()
                  if stat.S_ISSOCK(p.lstat().st_mode))


def test_garbage_and_idle_connections_on_every_socket(httpd):
    """As the User: 100 idle connections on every socket in FastCgiIpcDir
    (the control socket and each pool process's socket) and garbage of
    every shape on the control socket. The PM lives (same pid), still
    supervises its pools, a dynamic app's first start answers within 1 s,
    and the pools serve again once the idle connections are gone (a
    libfcgi app serves one connection at a time: an idle client on its
    own socket stalls it, which no PM can prevent)."""
    need_root()
    srv, dyn = dynamic_server(httpd)
    pool = install(conftest.RESPONDER, srv.docroot / "pool.fcgi")
    install(conftest.RESPONDER, dyn / "first.fcgi")
    srv.extra_conf += "\nFastCgiServer %s -processes 2" % pool
    start(srv)
    pm = current_pm(srv)
    assert conftest.wait_for(lambda: len(apps_of(pm, "pool.fcgi")) == 2, 10)
    assert srv.get("/pool.fcgi").status == 200
    ipc = srv.root / "run" / "fastcgi"
    assert len(sockets_in(ipc)) == 3     # control + 2 pool processes

    flood = Flooder(ipc, 100, conftest.RUN_USER)
    try:
        counts = flood.ready()
        print("flooder:", counts)
        assert "sockets=3" in counts, counts
        # A dynamic app's first start, behind all of it.
        status, body, first, total = timed_get(srv, "/dyn/first.fcgi")
        print("first start of a dynamic app during the flood: %.1f ms"
              % (total * 1000))
        assert status == 200 and body == b"hello\n", (status, body)
        assert total < 1.0
        assert current_pm(srv) == pm
        # The PM still supervises: a killed pool process is replaced.
        victim = apps_of(pm, "pool.fcgi")[0]
        os.kill(victim, signal.SIGKILL)
        assert conftest.wait_for(
            lambda: gone(victim) and len(apps_of(pm, "pool.fcgi")) == 2, 10)
        # Idle clients still in the PM's table are closed at their
        # deadline, while the flooder holds them.
        assert conftest.wait_for(
            lambda: log_lines(srv, "that sent no complete line within"), 5)
        assert current_pm(srv) == pm
    finally:
        flood.stop()

    # The pools serve again once the idle clients have gone.
    assert conftest.wait_for(lambda: srv.get("/pool.fcgi", timeout=10)
                             .status == 200, 15)
    for _ in range(5):
        assert srv.get("/pool.fcgi").status == 200
        assert srv.get("/dyn/first.fcgi").status == 200
    assert current_pm(srv) == pm
    text = log_text(srv)
    assert "died of signal" not in text.replace(
        "(pid %d): died of signal 9" % victim, "")
    # Every refusal reason was logged, each at most once per 10 s.
    for reason in ("refused a request from pid", "have not sent a "
                   "complete line; closed the oldest",
                   "that sent no complete line within"):
        n = len(log_lines(srv, reason))
        assert 1 <= n <= 2, (reason, n)
    # The first defect is named (the others of the period are counted).
    assert "refused a request from pid" in text
    assert "NUL, CR or LF inside the line" in text


def nobody_exchange(path, line, attempts=3):
    """As nobody: send line on the control socket attempts times; the
    answers (b"" when closed unanswered) as a list of reprs."""
    code = ("import socket, sys\n"
            "out = []\n"
            "for _ in range(%d):\n"
            "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            "    s.settimeout(3)\n"
            "    s.connect(sys.argv[1])\n"
            "    try:\n"
            "        s.sendall(sys.argv[2].encode() + b'\\n')\n"
            "        out.append(s.recv(256))\n"
            "    except OSError:\n"
            "        out.append(b'')  # closed: EPIPE or ECONNRESET\n"
            "    s.close()\n"
            "print(repr(out))\n" % attempts)
    p = subprocess.run([sys.executable, "-c", code, path, line],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       preexec_fn=as_user("nobody"), timeout=30)
    return p.stdout.decode().strip()


def test_stranger_uid_is_refused(httpd):
    """A process of another uid than root and the User is closed
    unanswered and starts nothing, even where the socket's mode lets it
    connect (relaxed here on purpose); logged once for three tries."""
    need_root()
    srv, dyn = dynamic_server(httpd)
    app = install(conftest.RESPONDER, dyn / "app.fcgi")
    start(srv)
    ctl = control_socket(srv)
    os.chmod(os.path.dirname(ctl), 0o711)
    os.chmod(ctl, 0o666)
    out = nobody_exchange(ctl, "START %s" % app)
    assert out == "[b'', b'', b'']", out
    assert processes_running(str(app)) == {}
    lines = log_lines(srv, "refused a client of uid %d"
                      % pwd.getpwnam("nobody").pw_uid)
    assert len(lines) == 1, lines
    assert srv.get("/dyn/app.fcgi").status == 200   # the User still may


@pytest.mark.parametrize("name,url", [("new\nline.fcgi", "new%0Aline.fcgi"),
                                      ("car\rret.fcgi", "car%0Dret.fcgi")])
def test_path_with_a_line_break_is_500(httpd, name, url):
    """A dynamic app whose file name has a LF or CR is not sent to the PM
    (the line would end early: before, the PM got "START <dir>/new" for
    the first one): 500, FCGIX00350, nothing started."""
    srv, dyn = dynamic_server(httpd)
    install(conftest.RESPONDER, dyn / name)
    start(srv)
    r = srv.get("/dyn/" + url)
    assert r.status == 500, r
    lines = log_lines(srv, "FCGIX00350")
    assert lines and "NUL, CR or LF inside the line" in lines[-1], lines
    assert apps_of(current_pm(srv), name[:3]) == []


def test_path_with_other_control_characters_is_served(httpd):
    """Other control characters may be in a file name: the app starts,
    and the PM's lines name it escaped once (by httpd's error log)."""
    srv, dyn = dynamic_server(httpd)
    install(conftest.RESPONDER, dyn / "ctl\x01\x1bchar.fcgi")
    start(srv)
    r = srv.get("/dyn/ctl%01%1Bchar.fcgi")
    assert r.status == 200 and r.body == b"hello\n", r
    data = srv.error_log.read_bytes()
    assert b"\x01" not in data and b"\x1b" not in data
    assert log_lines(srv, "ctl\\x01\\x1bchar.fcgi (pid")


def fake_pm(path, answers, lines):
    """Listen on path (mode 0666) and answer each connection with the
    next of answers, recording the request lines; a thread, ends after
    the last answer."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o666)
    srv.listen(8)
    srv.settimeout(20)

    def run():
        with srv:
            for answer in answers:
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                with c:
                    c.settimeout(5)
                    lines.append(c.recv(4096))
                    c.sendall(answer)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_answers_are_parsed_by_the_protocol_module(httpd):
    """The handler parses the PM's answer with fcgi_ctl: a malformed one
    is a 500 with FCGIX00351; BUSY's seconds become Retry-After. (A fake
    PM takes the control socket's path.)"""
    srv, dyn = dynamic_server(httpd)
    app = install(conftest.RESPONDER, dyn / "app.fcgi")
    start(srv)
    ctl = control_socket(srv)
    os.unlink(ctl)
    lines = []
    t = fake_pm(ctl, [b"BANANA\n", b"BUSY 7 testing\n", b"OK\r\n"], lines)
    r = srv.get("/dyn/app.fcgi")
    assert r.status == 500, r
    assert "unknown verb" in log_lines(srv, "FCGIX00351")[-1]
    r = srv.get("/dyn/app.fcgi")
    assert r.status == 503 and r.headers["Retry-After"] == "7", r
    assert "testing" in log_lines(srv, "FCGIX00082")[-1]
    r = srv.get("/dyn/app.fcgi")
    assert r.status == 500, r
    assert "NUL, CR or LF" in log_lines(srv, "FCGIX00351")[-1]
    t.join(10)
    assert lines == [b"START %s\n" % str(app).encode()] * 3, lines
