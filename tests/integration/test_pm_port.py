"""FastCgiServer -port: the app's processes share one TCP socket on
127.0.0.1:port (mod_fastcgi's option; here loopback only)."""

import os
import signal
import socket
import time

import conftest
from helpers import children_of, cmdline, gone, graceful_new_pm


def start_port_app(httpd, processes=2, extra=""):
    srv = httpd()
    port = conftest.free_port()
    app = srv.docroot / "tcp.fcgi"
    app.write_bytes(conftest.RESPONDER.read_bytes())
    app.chmod(0o755)
    srv.extra_conf = "FastCgiServer %s -port %d -processes %d %s" % (
        app, port, processes, extra)
    srv.start()
    return srv, port


def app_pids(srv):
    out = []
    for pm in children_of(srv.pid):
        out += [p for p in children_of(pm) if "tcp.fcgi" in cmdline(p)]
    return out


def listening_on(port):
    """Whether something accepts on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_port_app_serves_from_shared_socket(httpd):
    srv, port = start_port_app(httpd, 2)
    assert conftest.wait_for(lambda: len(app_pids(srv)) == 2, 10)
    pids = set()
    for _ in range(20):
        r = srv.get("/tcp.fcgi?pid")
        assert r.status == 200, (r, conftest.read_text(srv.error_log))
        pids.add(r.body.strip())
    assert 1 <= len(pids) <= 2
    assert listening_on(port)
    # Both processes hold the same socket as fd 0.
    inodes = {os.readlink("/proc/%d/fd/0" % p) for p in app_pids(srv)}
    assert len(inodes) == 1 and next(iter(inodes)).startswith("socket:")


def test_port_app_survives_a_killed_process(httpd):
    srv, port = start_port_app(httpd, 2)
    assert conftest.wait_for(lambda: len(app_pids(srv)) == 2, 10)
    victim = app_pids(srv)[0]
    os.kill(victim, signal.SIGKILL)
    assert conftest.wait_for(lambda: gone(victim), 5)
    # The other process keeps the shared socket open: requests go on.
    for _ in range(5):
        assert srv.get("/tcp.fcgi").status == 200
    assert conftest.wait_for(lambda: len(app_pids(srv)) == 2, 10)


def test_port_released_when_httpd_stops(httpd):
    srv, port = start_port_app(httpd, 1)
    assert conftest.wait_for(lambda: srv.get("/tcp.fcgi").status == 200, 10)
    srv.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and listening_on(port):
        time.sleep(0.1)
    assert not listening_on(port)


def assert_served_for(srv, seconds):
    """GET /tcp.fcgi every 0.1 s for @seconds: every answer 200."""
    statuses = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        statuses.append(srv.get("/tcp.fcgi", timeout=15).status)
        time.sleep(0.1)
    assert statuses and all(s == 200 for s in statuses), statuses


def test_port_app_kept_across_graceful_restart(httpd):
    """An unchanged configuration keeps the PM: the -port processes keep
    the port and their pids, and serve throughout."""
    srv, port = start_port_app(httpd, 2)
    assert conftest.wait_for(lambda: srv.get("/tcp.fcgi").status == 200, 10)
    old = conftest.wait_for(lambda: (lambda p: p if len(p) == 2 else None)(
        app_pids(srv)), 10)
    assert old
    os.kill(srv.pid, signal.SIGUSR1)
    assert_served_for(srv, 3)
    assert "FCGIX00051" in conftest.read_text(srv.error_log)
    assert app_pids(srv) == old and listening_on(port)


def test_port_app_across_graceful_restart(httpd):
    """With new definitions, the new configuration's PM binds the port
    once the old one has stopped its idle processes; requests meanwhile
    wait (bounded by -startTimeout) instead of failing."""
    srv, port = start_port_app(httpd, 1)
    assert conftest.wait_for(lambda: srv.get("/tcp.fcgi").status == 200, 10)
    old = app_pids(srv)
    graceful_new_pm(srv)
    assert_served_for(srv, 4)
    assert conftest.wait_for(lambda: all(gone(p) for p in old), 10)
    assert srv.get("/tcp.fcgi").status == 200


def test_changed_port_pool_takes_the_port_over_in_the_same_pm(httpd):
    """Only the -port pool changed (an -initial-env): the running PM
    takes the new pool; its processes bind the port once the old ones,
    idle, have stopped; requests meanwhile wait instead of failing, and
    the PM stays."""
    srv, port = start_port_app(httpd, 1)
    assert conftest.wait_for(lambda: srv.get("/tcp.fcgi").status == 200, 10)
    old = app_pids(srv)
    pm = [p for p in children_of(srv.pid) if old and old[0] in children_of(p)]
    srv.extra_conf += " -initial-env ROUND=1"
    srv.write_conf()
    os.kill(srv.pid, signal.SIGUSR1)
    assert conftest.wait_for(
        lambda: "FCGIX00062" in conftest.read_text(srv.error_log), 15)
    assert_served_for(srv, 4)
    assert conftest.wait_for(lambda: all(gone(p) for p in old), 10)
    r = srv.get("/tcp.fcgi?penv=ROUND")
    assert r.status == 200 and r.body == b"1\n", r
    assert pm and not gone(pm[0]) and pm[0] in children_of(srv.pid)
