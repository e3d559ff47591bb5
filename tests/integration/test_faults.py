"""Faults around managed apps (issue 6): an app that crashes in the middle
of a response, the PM killed with SIGKILL under load, a hard restart under
load, a socket file removed, an IPC directory with the wrong owner or
mode. Each test asserts what the client gets, what the log says, and that
the module recovers: requests that were not in flight at the fault are
served."""

import hashlib
import os
import signal
import socket
import threading
import time

import pytest

import conftest
from helpers import (WWW_DATA, apps_of, assert_truncated, current_pm, fetch,
                     gone, install, load_clients, log_lines, newest_pm,
                     pm_pids, raw_request, run_to_exit, start,
                     static_and_dynamic, static_pool)


def served_pid(srv, path="/static.fcgi?pid"):
    r = fetch(srv, path, 15)
    assert r.status == 200 and r.pid, r
    return r.pid


def ipc_dir(srv):
    return srv.root / "run" / "fastcgi"


def sockets_of(srv):
    return sorted(p for p in ipc_dir(srv).iterdir()
                  if p.is_socket() and not p.name.endswith("-pm.sock"))


def summarise(results):
    failed = [x for x in results if x[3].status != 200 or not x[3].pid]
    return failed, "%d requests, %d failed, e.g. %r" % (
        len(results), len(failed), [(p, r) for _, _, p, r in failed[:4]])


def assert_only_in_flight_failed(results, fault_at, clients, summary):
    """Requests that failed were under way at the fault: begun before it
    or in the instant the app processes take to die after it (they are
    killed by the kernel when their parent dies), at most two per
    client."""
    failed, _ = summarise(results)
    late = [(round(t0 - fault_at, 3), p, r) for t0, _, p, r in failed
            if t0 > fault_at + 0.5]
    assert not late, "requests begun after the fault failed: %r\n%s" % (
        late[:5], summary)
    assert len(failed) <= 2 * clients, summary


def log_digest(srv, limit=12):
    """The module's error lines, counted by kind, for a failure message."""
    kinds = {}
    for line in log_lines(srv, "FCGIX"):
        if ":error]" in line or ":warn]" in line or ":crit]" in line:
            key = line.split("] ", 4)[-1][:160]
            kinds[key] = kinds.get(key, 0) + 1
    return "\n".join("%5d x %s" % (n, k) for k, n in sorted(
        kinds.items(), key=lambda kv: -kv[1])[:limit])


# --- an app crashes in the middle of a response ------------------------------

def test_crash_mid_response_truncates_and_process_is_respawned(httpd):
    srv = static_pool(httpd, 1)
    first = served_pid(srv)
    r = raw_request(srv, "GET", "/static.fcgi?chunks=3&pause=200&crash=after")
    assert_truncated(r, "a pool process crashing mid-response")
    assert bytes(r.body).startswith(b"chunk 0\n"), r.body
    assert conftest.wait_for(
        lambda: log_lines(srv, "FCGIX") and any(
            "static.fcgi" in line and ("closed" in line or "END_REQUEST"
                                       in line)
            for line in log_lines(srv, ":error]")), 5), log_lines(
        srv, "FCGIX")
    assert conftest.wait_for(lambda: gone(first), 5)
    # The next request is served by the process the PM started instead.
    again = fetch(srv, "/static.fcgi?pid", 15)
    assert again.status == 200 and again.pid and again.pid != first, again
    assert log_lines(srv, "exit signal") == []


def queued_behind(srv, crashing_path):
    """A GET of `crashing_path` holds the only process; 0.15 s later a GET
    of ?pid is sent, which queues behind it. Returns both answers (the
    first raw)."""
    crashing = {}

    def crash():
        crashing["r"] = raw_request(srv, "GET", crashing_path)
    t = threading.Thread(target=crash, daemon=True)
    t.start()
    time.sleep(0.15)         # the crashing request holds the process
    queued = fetch(srv, "/static.fcgi?pid", 15)
    t.join(15)
    return crashing.get("r"), queued


@pytest.mark.parametrize("waits", [False, True])
def test_request_queued_on_a_crashing_process_goes_to_another(httpd, waits):
    """A GET that finds the only process busy, which then dies (here it
    crashes serving the request before; php-cgi also leaves after
    PHP_FCGI_MAX_REQUESTS), is served by the process the PM starts
    instead, not answered 502. Queued on the busy process's socket: the
    process had answered, so the PM starts the next one at once on the
    same socket, which accepts it; it is not sent again (before, the
    socket was closed and the kernel reset the connection: FCGIX00106).
    With -max-conns 1 it waits in httpd instead, and goes to the new
    process. There it may still be sent again once: the crashing
    request's handler hands the process on as it gives it back, which
    can come before the PM has reaped the process and closed its slot
    (seen about once in ten runs under ASan)."""
    srv = static_pool(httpd, 1, opts="-max-conns 1" if waits else "")
    first = served_pid(srv)
    crashing, queued = queued_behind(
        srv, "/static.fcgi?chunks=2&pause=300&crash=after")
    assert_truncated(crashing, "the crashing request")
    assert queued.status == 200 and queued.pid and queued.pid != first, (
        queued, log_digest(srv))
    if waits:
        assert len(log_lines(srv, "FCGIX00106")) <= 1, log_digest(srv)
    else:
        assert not log_lines(srv, "FCGIX00106"), log_digest(srv)


def test_request_queued_on_a_process_that_never_answered_is_sent_again(
        httpd):
    """The same with a process that dies before it has answered anything
    (it crashes before any output, past its -min-server-life, so not a
    failed start): nothing says it would serve if started again at once,
    so the PM closes its socket, the kernel resets the queued GET, and
    it is sent again (FCGIX00106) to the next process."""
    srv = static_pool(httpd, 1, "-min-server-life 0 -restart-delay 1")
    time.sleep(1.3)          # past the minimum life (0: 1 s)
    _, queued = queued_behind(srv, "/static.fcgi?sleep=300&crash=before")
    assert queued.status == 200 and queued.pid, (queued, log_digest(srv))
    assert log_lines(srv, "FCGIX00106"), log_digest(srv)
    assert not log_lines(srv, "FCGIX00510"), log_digest(srv)


MD5_PAGE = b"""<?php
header('Content-Type: text/plain');
echo md5(file_get_contents('php://input')), "\\n";
"""


@pytest.mark.parametrize("keep", ["On", "Off", "fcgid"])
def test_php_cgi_recycling_under_post_load_fails_nothing(httpd, keep):
    """Real php-cgi leaving after every 3 requests (PHP_FCGI_MAX_REQUESTS
    3), two processes, four clients POSTing small bodies for 4 s: every
    POST gets 200 and the md5 of its own body. Through fastcgi:PATH to a
    FastCgiServer pool (kept connections on and off), and through
    mod_fcgid's recipe (fcgid-script with FcgidWrapper). A POST handed
    the slot of a php-cgi that had just answered its last request waits
    in that process's backlog and is answered by the next one; before,
    the PM closed the socket on reaping it and the POST got 502 (about
    half of them failed, a sixth with mod_fcgid's recipe)."""
    if not os.access("/usr/bin/php-cgi", os.X_OK):
        pytest.skip("/usr/bin/php-cgi is not installed (apt-get install "
                    "php-cgi)")
    srv = httpd(records=("fastcgi_x", "fcgid")) if keep == "fcgid" \
        else httpd()
    wrapper = srv.root / "php-wrapper"
    wrapper.write_text("#!/bin/sh\nPHP_FCGI_CHILDREN=0\n"
                       "PHP_FCGI_MAX_REQUESTS=3\n"
                       "export PHP_FCGI_CHILDREN PHP_FCGI_MAX_REQUESTS\n"
                       "exec /usr/bin/php-cgi\n")
    wrapper.chmod(0o755)
    (srv.docroot / "md5.php").write_bytes(MD5_PAGE)
    (srv.docroot / "md5.php").chmod(0o644)
    if keep == "fcgid":      # mod_fcgid's recipe: php-cgi per class
        srv.extra_conf = "\n".join([
            '<Directory "%s">' % srv.docroot,
            "    Options +ExecCGI",
            "    AddHandler fcgid-script .php",
            "    FcgidWrapper %s .php" % wrapper,
            "</Directory>",
            "FcgidMaxProcessesPerClass 2"])
    else:
        srv.extra_conf = "\n".join([
            "FastCgiServer %s -processes 2" % wrapper,
            "FastCgiKeepConnections %s" % keep,
            '<FilesMatch "\\.php$">',
            '    SetHandler "fastcgi:%s"' % wrapper,
            "</FilesMatch>"])
    start(srv)
    results, lock = [], threading.Lock()
    stop_at = time.monotonic() + 4

    def client(k):
        n = 0
        while time.monotonic() < stop_at:
            body = ("client %d request %d " % (k, n)).encode() * 20
            n += 1
            r = srv.post("/md5.php", body)
            with lock:
                results.append((r.status, r.body.strip(),
                                hashlib.md5(body).hexdigest().encode()))
    threads = [threading.Thread(target=client, args=(k,), daemon=True)
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    assert not any(t.is_alive() for t in threads), "a client is stuck"
    bad = [r for r in results if r[0] != 200 or r[1] != r[2]]
    recycled = len(log_lines(srv, "FCGIX00511"))
    print("%d POSTs, %d php-cgi exits, %d failed" % (
        len(results), recycled, len(bad)))
    assert len(results) > 30 and recycled > 5, (len(results), recycled)
    assert not bad, (bad[:3], log_digest(srv))


# --- a process that exits right after its answer ------------------------------

def test_post_queued_on_a_process_that_then_exits_is_served(httpd):
    """A process answers and then exits on its own, as php-cgi does after
    PHP_FCGI_MAX_REQUESTS, here after 400 ms in which it accepts nothing
    (quit=400). A POST sent meanwhile, on a new connection (no kept
    ones), waits in its socket's backlog. The process had served, so
    the PM starts the next one at once on the same socket, which accepts
    the queued connection: 200 with the body echoed, not the 502 of a
    connection reset when the socket was closed, and no resend (a body
    cannot always be sent twice). Three rounds."""
    srv = static_pool(httpd, 1, conf="FastCgiKeepConnections Off")
    body = b"x" * 1000
    for i in range(3):
        before = served_pid(srv)
        assert fetch(srv, "/static.fcgi?quit=400", 15).status == 200
        r = srv.post("/static.fcgi?echo", body)
        assert r.status == 200 and r.body == body, (i, r, log_digest(srv))
        assert served_pid(srv) != before
    assert not log_lines(srv, "FCGIX00106"), log_digest(srv)
    assert not log_lines(srv, "FCGIX00510"), log_digest(srv)


def slow_read_get(srv, path, wait):
    """GET path, then wait `wait` s before reading the answer (the handler
    is still passing it on when the app has written it all); the answer's
    status code."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close"
                   "\r\n\r\n" % path).encode())
        time.sleep(wait)
        data = b""
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else None


def test_process_that_exits_after_answering_is_not_a_failed_start(httpd):
    """A process that answers (3 MB, read slowly by the client) and exits
    at once, younger than -min-server-life (1 s by default): the PM reaps
    it before the request is counted, yet it started well, so it is
    restarted at once (FCGIX00511), never backed off as a failed start
    (FCGIX00510, then 503 for the -restart-delay)."""
    srv = static_pool(httpd, 1, "-restart-delay 2")
    for i in range(3):
        status = slow_read_get(srv, "/static.fcgi?quit&bytes=3000000", 0.4)
        assert status == 200, (i, status, log_digest(srv))
    assert conftest.wait_for(
        lambda: len(log_lines(srv, "FCGIX00511")) >= 3, 5), log_digest(srv)
    assert not log_lines(srv, "FCGIX00510"), log_digest(srv)


def test_process_that_dies_before_answering_is_still_a_failed_start(httpd):
    """A process that reads a request and exits without a byte of answer,
    young: a failed start, backed off (FCGIX00510), as before."""
    srv = static_pool(httpd, 1, "-restart-delay 1")
    r = fetch(srv, "/static.fcgi?crash=before", 15)
    assert r.status in (502, 503), r
    assert conftest.wait_for(lambda: log_lines(srv, "FCGIX00510"), 5), \
        log_digest(srv)
    assert not log_lines(srv, "FCGIX00511")


# --- the PM killed under load ------------------------------------------------

LOAD_CLIENTS = 6
LOAD_URLS = ["/static.fcgi?pid", "/dyn/app.fcgi?pid",
             "/static.fcgi?sleep=100&pid", "/dyn/app.fcgi?sleep=100&pid"]


def fault_under_load(srv, what, fault):
    """LOAD_CLIENTS clients on a pool and a dynamic app for 8 s; fault()
    after 2 s. Asserts that only requests under way at the fault failed
    and that many were served after it."""
    threads, results = load_clients(srv, LOAD_URLS, LOAD_CLIENTS, 8.0)
    try:
        time.sleep(2.0)
        before = len(results)
        fault_at = time.monotonic()
        fault()
    finally:
        for t in threads:
            t.join(45)
    assert not any(t.is_alive() for t in threads), "a client is stuck"
    failed, summary = summarise(results)
    print("%s after %d requests; %s" % (what, before, summary))
    summary += "\n" + log_digest(srv)
    assert len(results) > before + 50, summary
    assert_only_in_flight_failed(results, fault_at, LOAD_CLIENTS, summary)


def test_pm_sigkill_under_load_fails_only_requests_in_flight(httpd):
    """kill -9 of the PM takes its app processes with it (they die with
    their parent): the requests they were serving fail; every request
    made after that waits for the PM that httpd starts instead and is
    served."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    for path in ("/static.fcgi?pid", "/dyn/app.fcgi?pid"):
        assert fetch(srv, path, 15).status == 200
    fault_under_load(srv, "PM killed",
                     lambda: os.kill(pm, signal.SIGKILL))
    assert newest_pm(srv) not in (None, pm), pm_pids(srv)
    assert fetch(srv, "/static.fcgi?pid", 15).status == 200


# --- a hard restart under load -----------------------------------------------

def test_hard_restart_under_load_recovers(httpd):
    """SIGHUP (apachectl restart) kills httpd's children; the old PM
    drains and leaves: the requests in flight may fail, and everything
    after is served by the new generation; no process of the old one is
    left."""
    srv = static_and_dynamic(httpd, 2)
    old_pm = current_pm(srv)
    old_apps = apps_of(old_pm, "static.fcgi")
    fault_under_load(srv, "hard restart",
                     lambda: os.kill(srv.pid, signal.SIGHUP))
    new_pm = current_pm(srv)
    assert new_pm != old_pm
    assert conftest.wait_for(
        lambda: gone(old_pm) and all(gone(p) for p in old_apps), 10)
    assert len(apps_of(new_pm, "static.fcgi")) == 2


def test_prefork_hard_restart_does_not_kill_the_apps(httpd):
    """prefork signals a restart with SIGHUP to httpd's process group:
    the PM and its apps are in a group of their own, so they are not
    killed by it (each app death would be logged as a crash and backed
    off); the old PM stops its processes as with the event MPM."""
    srv = httpd()
    srv.mpm = "prefork"
    app = install(conftest.RESPONDER, srv.docroot / "static.fcgi")
    srv.extra_conf = "FastCgiServer %s -processes 2" % app
    start(srv)
    assert served_pid(srv)
    old_pm = current_pm(srv)
    os.kill(srv.pid, signal.SIGHUP)
    new_pm = conftest.wait_for(
        lambda: newest_pm(srv) not in (None, old_pm) and newest_pm(srv), 15)
    assert new_pm, pm_pids(srv)
    assert conftest.wait_for(lambda: gone(old_pm), 10)
    assert served_pid(srv)
    assert not log_lines(srv, "died of signal 1 "), log_digest(srv)
    assert not log_lines(srv, "failure in a row"), log_digest(srv)
    # Not the group's SIGHUP: httpd's own request to drain.
    assert not log_lines(srv, "Hangup received"), log_lines(srv, "fastcgi pm")


# --- a socket file removed ---------------------------------------------------

# One connection per request, as before kept connections.
NEW_CONNECTIONS = "FastCgiKeepConnections Off"

def test_removed_socket_is_logged_and_process_replaced(httpd):
    """Someone (a tmp cleaner) removes a pool process's socket file: the
    request that finds it gone logs it, naming the socket, and waits for
    the PM to replace the process, which listens on a new socket file;
    it and the requests after it are served. (Kept connections are off:
    the httpd child's connection to the process would serve on until it
    is closed, and the test is about what a new connection meets.)"""
    srv = static_pool(httpd, 1, conf=NEW_CONNECTIONS)
    first = served_pid(srv)
    socks = sockets_of(srv)
    assert len(socks) == 1, socks
    socks[0].unlink()
    r = fetch(srv, "/static.fcgi?pid", 15)
    assert r.status == 200 and r.pid and r.pid != first, (
        r, log_digest(srv))
    assert [line for line in log_lines(srv, "FCGIX00104")
            if str(socks[0]) in line and "No such file" in line], \
        log_digest(srv)
    assert conftest.wait_for(lambda: log_lines(srv, "socket file removed"),
                             5), log_digest(srv)
    assert socks[0].is_socket()
    assert gone(first)
    assert served_pid(srv) == r.pid


# --- the IPC directory's owner and mode --------------------------------------

def test_ipc_dir_is_private_to_the_httpd_user(httpd):
    srv = static_pool(httpd, 1)
    served_pid(srv)
    st = os.stat(ipc_dir(srv))
    assert st.st_uid == WWW_DATA.pw_uid, st
    assert st.st_mode & 0o777 == 0o700, oct(st.st_mode)


def test_ipc_dir_made_unreachable_at_runtime_then_fixed(httpd):
    """The IPC directory chmod 000 (or given to another owner) while httpd
    runs: 503 with a log line that names the socket and the cause; once
    the mode is fixed, requests are served again without a restart.
    (Kept connections off, as above.)"""
    srv = static_pool(httpd, 1, conf=NEW_CONNECTIONS)
    served_pid(srv)
    d = ipc_dir(srv)
    os.chmod(d, 0)
    try:
        r = fetch(srv, "/static.fcgi?pid", 15)
        assert r.status == 503, r
        assert conftest.wait_for(
            lambda: [line for line in log_lines(srv, ":error]")
                     if "ermission denied" in line and str(d) in line], 5), \
            log_lines(srv, "FCGIX")
    finally:
        os.chmod(d, 0o700)
    assert conftest.wait_for(
        lambda: fetch(srv, "/static.fcgi?pid", 15).status == 200, 10, 0.2)

    os.chown(d, 0, 0)
    try:
        assert fetch(srv, "/static.fcgi?pid", 15).status == 503
    finally:
        os.chown(d, WWW_DATA.pw_uid, WWW_DATA.pw_gid)
    assert conftest.wait_for(
        lambda: fetch(srv, "/static.fcgi?pid", 15).status == 200, 10, 0.2)


def test_ipc_dir_of_another_user_is_refused_at_startup(httpd):
    """An existing FastCgiIpcDir owned by another (non-root) user, or open
    to others, could hold sockets or links planted by that user: httpd
    does not start, and the error names the directory and the fix."""
    for owner, mode, needle in ((65534, 0o700, "owned by"),
                                (WWW_DATA.pw_uid, 0o777, "mode")):
        srv = httpd()
        d = srv.root / "evil-ipc"
        d.mkdir()
        os.chown(d, owner, owner)
        os.chmod(d, mode)
        srv.extra_conf = "FastCgiIpcDir %s\nFastCgiServer %s" % (
            d, install(conftest.RESPONDER, srv.docroot / "static.fcgi"))
        rc, log = run_to_exit(srv)
        assert rc not in (None, 0), log
        assert str(d) in log and needle in log, log


# --- many more clients than processes ----------------------------------------

def test_200_clients_on_2_processes_bounded_wait(httpd):
    """200 concurrent clients on a pool of 2 processes with small listen
    queues, 10 s of work for 2 processes: each request is served or gets
    503 with Retry-After after at most -appConnTimeout; none hangs."""
    srv = httpd()
    app = install(conftest.RESPONDER, srv.docroot / "static.fcgi")
    # Workers for all 200 at once: httpd itself must not be the queue.
    srv.extra_conf = "\n".join([
        "ServerLimit 4", "StartServers 4", "ThreadLimit 64",
        "ThreadsPerChild 64", "MaxRequestWorkers 256",
        "MaxSpareThreads 256",
        "FastCgiServer %s -processes 2 -listen-queue-depth 8 "
        "-appConnTimeout 2 -init-start-delay 0" % app])
    start(srv)
    assert conftest.wait_for(
        lambda: fetch(srv, "/static.fcgi?pid", 5).status == 200, 10)
    results = []
    lock = threading.Lock()
    go = threading.Event()

    def client():
        go.wait(10)
        t0 = time.monotonic()
        r = fetch(srv, "/static.fcgi?sleep=100", 60)
        with lock:
            results.append((time.monotonic() - t0, r))

    threads = [threading.Thread(target=client, daemon=True)
               for _ in range(200)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    go.set()
    for t in threads:
        t.join(max(0.1, t0 + 60 - time.monotonic()))
    elapsed = time.monotonic() - t0
    assert not any(t.is_alive() for t in threads), "a request hung"
    by_status = {}
    for secs, r in results:
        by_status.setdefault(r.status, []).append(secs)
    print("200 clients on 2 processes in %.1f s: %s" % (elapsed, {
        s: "%d (max %.2f s)" % (len(v), max(v)) for s, v in
        by_status.items()}))
    assert set(by_status) == {200, 503}, by_status.keys()
    assert len(by_status[200]) >= 2 * 8, by_status.keys()
    for secs, r in results:
        if r.status == 503:
            assert r.headers.get("Retry-After"), r
            assert secs < 2 + 3, (secs, r)      # -appConnTimeout + slack
