"""Supervision of the process manager: requests that race its start-up,
no orphan when httpd's parent is killed, a new PM when the PM is killed,
and graceful restarts under load that lose no request: an unchanged
configuration keeps the PM and its processes, a changed one leaves no
process of the old generation."""

import os
import signal
import threading
import time

import pytest

import conftest
from helpers import (PM_KEPT, apps_of, children_of, current_pm,
                     dynamic_server, fetch, gone, graceful_new_pm, install,
                     load_clients, log_lines, newest_pm, pm_pids,
                     processes_running, start, static_and_dynamic)


def knock(srv, path, got, stop):
    """GET path as soon as httpd listens; append the Result to got."""
    while not stop.is_set():
        r = fetch(srv, path, 15)
        if r.status is not None:
            got.append(r)
            return
        time.sleep(0.005)     # not listening yet: knock again


def test_requests_racing_pm_startup_are_not_refused(httpd):
    """httpd's children take requests as soon as they run, maybe before
    the PM (forked at the same time) has bound its control socket. Such a
    request must wait for the PM (up to -startTimeout), not get a 503
    "cannot reach the process manager". Each round starts httpd with
    clients already knocking, then stops it. A FastCgiServer with 100
    processes widens the window the way a real config would: the PM binds
    every static socket before its control socket (some 40 ms here)."""
    srv, dyn = dynamic_server(httpd)
    install(conftest.RESPONDER, dyn / "app.fcgi")
    big = install(conftest.RESPONDER, srv.docroot / "big.fcgi")
    srv.extra_conf += "\nFastCgiServer %s -processes 100" % big
    rounds, clients = 10, 8
    results = []
    for _ in range(rounds):
        got = []
        stop = threading.Event()
        threads = [threading.Thread(target=knock, daemon=True,
                                    args=(srv, "/dyn/app.fcgi?pid", got,
                                          stop))
                   for _ in range(clients)]
        for t in threads:
            t.start()
        try:
            srv.start()
            for t in threads:
                t.join(20)
        finally:
            stop.set()
            srv.stop()
        assert not any(t.is_alive() for t in threads), "a client is stuck"
        results += got
    refused = [r for r in results if r.status != 200]
    print("%d start-ups, %d requests at start-up: %d not 200" % (
        rounds, len(results), len(refused)))
    assert len(results) == rounds * clients
    assert not refused, "%r\n%s" % (refused[:3], "\n".join(
        line.split("] ", 3)[-1] for line in log_lines(srv, "FCGIX00081")[:3]))


def test_killing_httpd_parent_leaves_no_orphan(httpd):
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    assert fetch(srv, "/dyn/app.fcgi?pid", 15).status == 200
    procs = conftest.wait_for(
        lambda: (lambda a: a if len(a) == 3 else None)(
            apps_of(pm, "static.fcgi") + apps_of(pm, "app.fcgi")), 10)
    assert procs, "expected 2 static + 1 dynamic under the PM: %r" % (
        children_of(pm))

    os.kill(srv.pid, signal.SIGKILL)
    t0 = time.monotonic()
    everything = [pm] + procs
    all_gone = conftest.wait_for(lambda: all(gone(p) for p in everything),
                                 5, 0.05)
    print("PM and %d app processes gone %.2f s after kill -9 of httpd"
          % (len(procs), time.monotonic() - t0))
    assert all_gone, "left after 5 s: %r" % [
        p for p in everything if not gone(p)]
    # The fixture's stop still works: it reaps the killed parent and
    # kills what is left of its process group (httpd's own children).


def test_killing_pm_starts_a_new_one_and_dynamic_apps_work(httpd):
    srv, dyn = dynamic_server(httpd)
    install(conftest.RESPONDER, dyn / "app.fcgi")
    start(srv)
    pm = current_pm(srv)
    first = fetch(srv, "/dyn/app.fcgi?pid", 15)
    assert first.status == 200 and first.pid, first

    os.kill(pm, signal.SIGKILL)
    assert conftest.wait_for(lambda: gone(pm), 5), "PM survived SIGKILL"
    assert conftest.wait_for(lambda: gone(first.pid), 5), "app outlived PM"
    new_pm = conftest.wait_for(
        lambda: newest_pm(srv) not in (None, pm) and newest_pm(srv), 10)
    assert new_pm, "no new PM 10 s after kill -9 of %d" % pm
    assert log_lines(srv, "FCGIX00077")

    t0 = time.monotonic()
    results = []

    def works():
        results.append(fetch(srv, "/dyn/app.fcgi?pid", 10))
        return results[-1].status == 200
    assert conftest.wait_for(works, 15, 0.2), results[-5:]
    print("dynamic app served again %.2f s after the new PM was seen, "
          "%d request(s)" % (time.monotonic() - t0, len(results)))
    assert results[-1].pid != first.pid
    assert results[-1].pid in children_of(new_pm)


def graceful_under_load(srv, restarts, gap, restart):
    """Load on a static pool and a dynamic app (quick and 300 ms
    requests) while restart(srv) runs @restarts times; returns the
    results, after asserting that none failed."""
    urls = ["/static.fcgi?pid", "/dyn/app.fcgi?pid",
            "/static.fcgi?sleep=300&pid", "/dyn/app.fcgi?sleep=300&pid"]
    lead = 1.5
    load_s = lead + (restarts - 1) * gap + 2.5
    threads, results = load_clients(srv, urls, 8, load_s)
    try:
        time.sleep(lead)
        for i in range(restarts):
            if i:
                time.sleep(gap)
            restart(srv)
    finally:
        for t in threads:
            t.join(max(0.1, load_s + 35 - lead))
    assert not any(t.is_alive() for t in threads), "a client is stuck"

    failed = [(p, r) for _, _, p, r in results
              if r.status != 200 or not r.pid]
    errors = [x for x in failed if x[1].status is None]
    print("%d requests in %.1f s with %d graceful restarts: %d non-200, "
          "%d connection errors" % (len(results), load_s, restarts,
                                    len(failed) - len(errors), len(errors)))
    assert results
    assert not failed, "%d of %d failed, e.g. %r\n%s" % (
        len(failed), len(results), failed[:5], "\n".join(
            line.split("] ", 3)[-1] for line in
            (log_lines(srv, ":error]") + log_lines(srv, ":crit]"))[:8]))
    return results


def graceful(srv):
    os.kill(srv.pid, signal.SIGUSR1)     # httpd -k graceful


@pytest.mark.parametrize("restarts,gap", [(2, 2.0), (6, 1.0)],
                         ids=["2-restarts", "6-restarts"])
def test_graceful_restart_under_load_keeps_the_pm(httpd, restarts, gap):
    """Graceful restarts of an unchanged configuration under load: no
    request fails, the PM is kept, and so is every app process that was
    serving before (the static pool's and the dynamic app's pids); each
    restart logs that it kept them."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    for path in ("/static.fcgi?pid", "/dyn/app.fcgi?pid"):
        r = fetch(srv, path, 15)
        assert r.status == 200, (path, r)
    pool = conftest.wait_for(
        lambda: (lambda a: set(a) if len(a) == 2 else None)(
            apps_of(pm, "static.fcgi")), 10)
    dyn = set(apps_of(pm, "app.fcgi"))
    assert pool and dyn, children_of(pm)

    results = graceful_under_load(srv, restarts, gap, graceful)

    kept = conftest.wait_for(
        lambda: len(log_lines(srv, PM_KEPT)) == restarts, 10)
    assert kept, log_lines(srv, "FCGIX0005")
    assert pm_pids(srv) == [pm] and not gone(pm)
    assert set(apps_of(pm, "static.fcgi")) == pool
    assert dyn <= set(apps_of(pm, "app.fcgi"))
    served_by = {r.pid for _, _, p, r in results if "static" in p}
    assert served_by == pool, (served_by, pool)
    assert not log_lines(srv, "graceful stop")


@pytest.mark.parametrize("restarts,gap", [(2, 2.0), (6, 1.0)],
                         ids=["2-restarts", "6-restarts"])
def test_graceful_restart_with_new_definitions_loses_nothing(httpd, restarts,
                                                             gap):
    """Graceful restarts under load whose configuration defines another
    PM each time: no request fails, each generation has its PM, and once
    the old ones have drained only the newest and its processes are
    left."""
    srv = static_and_dynamic(httpd, 2)
    first_pm = current_pm(srv)
    for path in ("/static.fcgi?pid", "/dyn/app.fcgi?pid"):
        r = fetch(srv, path, 15)
        assert r.status == 200, (path, r)

    graceful_under_load(srv, restarts, gap, graceful_new_pm)

    # A generation per restart, each with its PM; only the newest remains,
    # and every app process left is its child.
    pms = conftest.wait_for(
        lambda: (lambda p: p if len(p) > restarts else None)(pm_pids(srv)),
        10)
    assert pms and pms[0] == first_pm, pm_pids(srv)
    pm = current_pm(srv)
    assert pm == pms[-1]
    assert not log_lines(srv, PM_KEPT)
    t0 = time.monotonic()

    def only_current():
        procs = processes_running(str(srv.docroot))
        return (all(gone(p) for p in pms[:-1])
                and procs and set(procs.values()) == {pm})
    settled = conftest.wait_for(only_current, 15, 0.1)
    print("old generations gone %.2f s after the load" % (
        time.monotonic() - t0))
    assert settled, "old PMs alive: %r; app processes and parents: %r" % (
        [p for p in pms[:-1] if not gone(p)],
        processes_running(str(srv.docroot)))
    assert len(apps_of(pm, "static.fcgi")) == 2
    assert fetch(srv, "/dyn/app.fcgi?pid", 15).status == 200


def test_graceful_restarts_with_new_dynamic_settings_under_load(httpd):
    """Graceful restarts under load that each change FastCgiConfig (a new
    -initial-env) and Timeout: the PM takes them (FCGIX00554), no request
    fails, the static pool keeps its processes, and the dynamic app's
    are replaced, once idle, by ones with the newest environment."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    for path in ("/static.fcgi?pid", "/dyn/app.fcgi?pid"):
        assert fetch(srv, path, 15).status == 200, path
    pool = conftest.wait_for(
        lambda: (lambda a: set(a) if len(a) == 2 else None)(
            apps_of(pm, "static.fcgi")), 10)
    assert pool
    base = "FastCgiConfig -minProcesses 0"
    assert base in srv.extra_conf
    rounds = []

    def new_settings(srv):
        rounds.append(len(rounds) + 1)
        srv.extra_conf = "\n".join(
            base + " -initial-env ROUND=%d" % rounds[-1]
            if line.startswith("FastCgiConfig") else line
            for line in srv.extra_conf.splitlines())
        srv.timeout += 1
        srv.write_conf()
        os.kill(srv.pid, signal.SIGUSR1)

    graceful_under_load(srv, 3, 1.5, new_settings)

    def newest_env():
        r = fetch(srv, "/dyn/app.fcgi?penv=ROUND", 15)
        return r.status == 200 and r.body.strip() == b"3"
    assert conftest.wait_for(newest_env, 15), log_lines(srv, "FCGIX0055")
    assert conftest.wait_for(
        lambda: len(log_lines(srv, "FCGIX00554")) == 3, 10)
    assert pm_pids(srv) == [pm] and not gone(pm)
    assert set(apps_of(pm, "static.fcgi")) == pool
    assert not log_lines(srv, "FCGIX00049")


def test_app_processes_get_no_httpd_descriptor(httpd):
    """An app process holds its socket as fd 0, stdout and stderr, and
    nothing else of httpd's: no listener, no log file beyond fd 2, not the
    PM's control socket (static pool and dynamic app alike)."""
    srv = httpd()
    pool = srv.docroot / "pool.fcgi"
    pool.write_bytes(conftest.RESPONDER.read_bytes())
    pool.chmod(0o755)
    dyn = srv.docroot / "dyn"
    dyn.mkdir()
    app = dyn / "app.fcgi"
    app.write_bytes(conftest.RESPONDER.read_bytes())
    app.chmod(0o755)
    srv.extra_conf = "\n".join([
        "FastCgiServer %s -processes 1" % pool,
        '<Directory "%s">' % dyn,
        "    Options +ExecCGI",
        "    AddHandler fastcgi-script .fcgi",
        "</Directory>"])
    srv.start()
    for path in ("/pool.fcgi?pid", "/dyn/app.fcgi?pid"):
        r = srv.get(path)
        assert r.status == 200, (r, conftest.read_text(srv.error_log))
        pid = int(r.body.split(b"=")[1])

        def fds_of_app():
            return {int(fd): os.readlink("/proc/%d/fd/%s" % (pid, fd))
                    for fd in os.listdir("/proc/%d/fd" % pid)}
        # libfcgi holds the connection it just served for a moment after
        # the response (it waits for our side to close it): wait that out.
        conftest.wait_for(lambda: set(fds_of_app()) == {0, 1, 2}, 3)
        fds = fds_of_app()
        assert set(fds) == {0, 1, 2}, (path, fds)
        assert fds[0].startswith("socket:"), fds
        assert not fds[1].startswith("socket:"), fds
        assert not fds[2].startswith("socket:"), fds


def test_overload_gives_bounded_503_not_a_hang(httpd):
    """Many more concurrent requests than 2 busy processes and their small
    backlogs can hold: the overflow waits at most -appConnTimeout, then
    503 with Retry-After; the rest are served; nothing hangs and nothing
    sleeps in a loop."""
    srv = httpd()
    pool = srv.docroot / "pool.fcgi"
    pool.write_bytes(conftest.RESPONDER.read_bytes())
    pool.chmod(0o755)
    srv.extra_conf = ("FastCgiServer %s -processes 2 -listen-queue-depth 1 "
                      "-appConnTimeout 2 -init-start-delay 0" % pool)
    srv.start()
    assert conftest.wait_for(lambda: srv.get("/pool.fcgi").status == 200, 10)
    results, threads = [], []
    t0 = time.monotonic()
    for _ in range(30):
        threads.append(threading.Thread(
            target=lambda: results.append(
                fetch(srv, "/pool.fcgi?sleep=1500", timeout=60)),
            daemon=True))
        threads[-1].start()
    for t in threads:
        t.join(max(0.1, t0 + 60 - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a request hung"
    statuses = sorted(r.status for r in results)
    print("30 concurrent slow requests on 2 processes: %r in %.1f s" % (
        statuses, time.monotonic() - t0))
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses and 503 in statuses, statuses
    for r in results:
        if r.status == 503:
            assert r.headers.get("Retry-After"), r
            assert r.seconds < 2 + 3, r     # -appConnTimeout + slack


def test_hung_process_is_killed_and_replaced(httpd):
    """An app process that does not answer within -idle-timeout: 504 for
    that request, then the PM kills the process and starts a new one, so
    the next request is not stuck behind it."""
    srv = httpd()
    pool = srv.docroot / "pool.fcgi"
    pool.write_bytes(conftest.RESPONDER.read_bytes())
    pool.chmod(0o755)
    srv.extra_conf = "FastCgiServer %s -processes 1 -idle-timeout 1" % pool
    srv.start()
    assert conftest.wait_for(lambda: srv.get("/pool.fcgi").status == 200, 10)
    old = int(srv.get("/pool.fcgi?pid").body.split(b"=")[1])
    r = fetch(srv, "/pool.fcgi?sleep=8000", timeout=30)
    assert r.status == 504 and r.seconds < 5, r
    t0 = time.monotonic()
    r = fetch(srv, "/pool.fcgi?pid", timeout=5)   # the app sleeps 8 s
    assert r.status == 200, (r, conftest.read_text(srv.error_log))
    assert int(r.body.split(b"=")[1]) != old
    assert time.monotonic() - t0 < 4
    assert conftest.wait_for(lambda: gone(old), 5)
    log = conftest.read_text(srv.error_log)
    assert "did not answer a request within -idle-timeout" in log, log
    assert "failure in a row" not in log, log
