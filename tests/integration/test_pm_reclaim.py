"""The process manager takes back what nobody gives back: the classes of
dynamic apps that no longer run (more distinct apps than -maxProcesses
are served over time), the lease of an httpd child killed mid-request
(its process is stopped or drained as if the request had ended), and
its own start after a signal whose number is its startup-error status
(SIGQUIT is 3)."""

import os
import signal
import threading
import time

import conftest
from helpers import (children_of, current_pm, dynamic_server, fetch, gone,
                     graceful_new_pm, install, log_lines, newest_pm,
                     processes_running, start)


def running_apps(paths):
    """[(path, pid)] of the live processes of these apps."""
    return [(p, pid) for p in paths for pid in processes_running(str(p))]


def test_more_dynamic_apps_than_max_processes_are_all_served(httpd):
    """-maxProcesses 2 and 6 distinct scripts requested in turn, twice:
    each gets the room of the least recently used idle one (idle reaping
    is off: -minProcesses is above the limit), and never more than 2
    run. Before, the 3rd distinct script got 503 until httpd restarted."""
    srv, dyn = dynamic_server(httpd, "-maxProcesses 2 -minProcesses 5")
    names = ["app%d.fcgi" % i for i in range(6)]
    paths = [install(conftest.RESPONDER, dyn / name) for name in names]
    start(srv)

    seen = []
    for rnd in range(2):
        for name in names:
            r = fetch(srv, "/dyn/%s?pid" % name, 15)
            assert r.status == 200 and r.pid, (rnd, name, r, log_lines(
                srv, "FCGIX0008"))
            seen.append((name, r.pid))
            # A process being stopped may linger for a moment.
            running = conftest.wait_for(
                lambda: (lambda p: p if len(p) <= 2 else None)(
                    running_apps(paths)), 3)
            assert running, "more than -maxProcesses run: %r" % (
                running_apps(paths))
    assert len({pid for _, pid in seen}) == len(seen), seen
    assert len(log_lines(srv, "making room for another app")) >= 10
    assert log_lines(srv, "its class is free for another app")
    assert not log_lines(srv, "too many dynamic apps")


def httpd_children(srv, pm):
    """httpd's own children (its worker processes), not the PM."""
    return [p for p in children_of(srv.pid) if p != pm]


def kill_during_request(srv, url, app_path, pm):
    """GET url (a slow request) and SIGKILL every httpd child while it is
    in the app at app_path; returns the app's pid."""
    got = []
    t = threading.Thread(target=lambda: got.append(fetch(srv, url, 30)),
                         daemon=True)
    t.start()
    app = conftest.wait_for(
        lambda: list(processes_running(str(app_path))), 10)
    assert app, "the app never started"
    time.sleep(1.0)    # the request is in the app, sleeping
    victims = httpd_children(srv, pm)
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    t.join(10)
    assert got and got[0].status is None, got   # its connection was cut
    return app[0]


def test_lease_of_killed_httpd_child_is_given_back_dynamic(httpd):
    """A dynamic app's process whose request's httpd child was killed is
    idle-stopped (-killInterval 1) once the PM has given the lease back.
    Before, the lease was never given back: the process counted as busy
    for good and was never stopped."""
    srv, dyn = dynamic_server(httpd, "-minProcesses 0 -killInterval 1")
    slow = install(conftest.RESPONDER, dyn / "slow.fcgi")
    start(srv)
    pm = current_pm(srv)
    t0 = time.monotonic()
    app = kill_during_request(srv, "/dyn/slow.fcgi?sleep=6000", slow, pm)
    # The app finishes its 6 s sleep, then stops (libfcgi's SIGTERM).
    stopped = conftest.wait_for(lambda: gone(app), 15, 0.1)
    print("app %d gone %.1f s after the request began" % (
        app, time.monotonic() - t0))
    assert stopped, "app %d still runs: its lease was never given back" % (
        app)
    assert log_lines(srv, "died during a request to it")
    assert log_lines(srv, "stopping: idle longer than -killInterval")
    assert fetch(srv, "/dyn/slow.fcgi?pid", 15).status == 200


def test_lease_of_killed_httpd_child_does_not_hold_graceful_restart(httpd):
    """A FastCgiServer process whose request's httpd child was killed:
    a graceful restart drains it once its request has ended (3 s), not
    after httpd's Timeout (30 s), which it took while the lease was
    never given back."""
    srv = httpd()
    app_path = install(conftest.RESPONDER, srv.docroot / "pool.fcgi")
    srv.extra_conf = "FastCgiServer %s -processes 1" % app_path
    start(srv)
    pm = current_pm(srv)
    assert fetch(srv, "/pool.fcgi", 15).status == 200
    app = kill_during_request(srv, "/pool.fcgi?sleep=3000", app_path, pm)
    # The PM looks for dead holders once a second.
    conftest.wait_for(lambda: log_lines(srv, "died during a request"), 5)
    t0 = time.monotonic()
    graceful_new_pm(srv)                      # the old PM drains
    drained = conftest.wait_for(lambda: gone(pm) and gone(app), 20, 0.1)
    took = time.monotonic() - t0
    print("old PM and its process gone %.1f s after the graceful restart"
          % took)
    assert drained and took < 10, (
        "the old PM waited %.1f s (Timeout is 30 s)" % took)
    assert log_lines(srv, "died during a request to it")
    assert not log_lines(srv, "still busy after")


def test_pm_killed_by_sigquit_is_restarted(httpd):
    """SIGQUIT is signal 3, the PM's startup-error exit status: a PM it
    killed must be restarted like any other that dies. Before, httpd took
    it for a PM that could not start (FCGIX00076) and left it dead."""
    srv, dyn = dynamic_server(httpd)
    install(conftest.RESPONDER, dyn / "app.fcgi")
    start(srv)
    pm = current_pm(srv)
    first = fetch(srv, "/dyn/app.fcgi?pid", 15)
    assert first.status == 200, first

    os.kill(pm, signal.SIGQUIT)
    assert conftest.wait_for(lambda: gone(pm), 5), "PM survived SIGQUIT"
    new_pm = conftest.wait_for(
        lambda: newest_pm(srv) not in (None, pm) and newest_pm(srv), 10)
    assert new_pm, "no new PM 10 s after SIGQUIT: %r" % log_lines(
        srv, "FCGIX0007")
    assert not log_lines(srv, "FCGIX00076")
    t0 = time.monotonic()
    served = conftest.wait_for(
        lambda: fetch(srv, "/dyn/app.fcgi?pid", 10).status == 200, 10, 0.2)
    print("served again %.1f s after the new PM was seen"
          % (time.monotonic() - t0))
    assert served


def test_waiting_count_of_killed_httpd_child_is_taken_down(httpd):
    """An fcgid request waiting for a busy class when its httpd child is
    killed: the PM takes its host's (and class's) waiting count back down
    from the child's holder record. Before, the count stayed one too high
    until httpd restarted (the host could be refused at its cap early)."""
    from test_fcgid_status import doc_of, fcgid_server
    srv, _ = fcgid_server(httpd)
    pm = current_pm(srv)

    def a_waiting():
        return doc_of(srv, "a.test")["tenants"][0]["waiting"]

    def get(query):
        try:
            srv.get("/app.fcgi" + query, headers={"Host": "a.test"},
                    timeout=30)
        except OSError:
            pass  # its httpd child is killed below

    for query in ("?sleep=6000", "?pid"):  # the 2nd waits for the 1st
        threading.Thread(target=get, args=(query,), daemon=True).start()
        time.sleep(0.5)
    assert conftest.wait_for(lambda: a_waiting() == 1, 5), a_waiting()
    for pid in httpd_children(srv, pm):
        os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    down = conftest.wait_for(lambda: a_waiting() == 0, 10, 0.2)
    print("waiting count 0 again after %.1f s" % (time.monotonic() - t0))
    assert down, "still %d waiting" % a_waiting()
    assert srv.get("/app.fcgi", headers={"Host": "b.test"}).status == 200
