"""mod_fcgid's faults, and ours without them (issue 15, docs/design/
fcgid.md sections 5 and 7.2), ours only: the fcgid record of our .so
(`LoadModule fcgid_module <our .so>`), fcgid-script apps.

- bounded wait: a request that finds the class's only process busy takes
  it within milliseconds of its freeing (mod_fcgid slept 1 s between
  tries), and FcgidQueueTimeout bounds the wait with 503 + Retry-After;
- the PM's death restarts the PM alone (mod_fcgid SIGHUPs httpd);
- FcgidMaxRequestLen refuses a too long Content-Length before the body
  is sent (mod_fcgid read it and answered 500).
"""

import os
import signal
import threading
import time

import conftest
from helpers import (RawConn, children_of, current_pm, fetch, gone,
                     install, log_lines, newest_pm, read_response,
                     request_bytes, start)

FCGI_DIR = """
<Directory "{docroot}/fcgi">
    Options +ExecCGI
    AddHandler fcgid-script .fcgi
</Directory>
"""
APP = "/fcgi/hello.fcgi"


def fcgid_site(httpd, conf=""):
    """Ours as fcgid_module, <docroot>/fcgi/hello.fcgi the responder and
    `conf` after FCGI_DIR; started, the PM listening."""
    srv = conftest.fcgid_httpd(httpd, "ours")
    fcgi = srv.docroot / "fcgi"
    fcgi.mkdir(mode=0o755)
    srv.app_path = install(conftest.RESPONDER, fcgi / "hello.fcgi")
    srv.extra_conf = FCGI_DIR.format(docroot=srv.docroot) + conf
    return start(srv)


def concurrent(srv, path, n, timeout=30):
    """n GETs of path released together; [(start, end, Result)] in the
    order they ended."""
    out, lock = [], threading.Lock()
    barrier = threading.Barrier(n)

    def one():
        barrier.wait(10)
        t0 = time.monotonic()
        r = fetch(srv, path, timeout)
        with lock:
            out.append((t0, time.monotonic(), r))

    threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 15)
    assert len(out) == n, "%d of %d requests ended" % (len(out), n)
    return sorted(out, key=lambda e: e[1])


# --- bounded wait -----------------------------------------------------------

def test_queued_request_takes_the_process_as_it_frees(httpd):
    """FcgidMaxProcessesPerClass 1, FcgidQueueTimeout 5, three concurrent
    ?sleep=1500: all 200 from the one process, each served in turn, the
    next ending within 1.6 s of the previous one's end (1.5 s of it the
    app's sleep; mod_fcgid's 1 s retry sleeps would show as up to 2.5 s)."""
    srv = fcgid_site(httpd, "FcgidMaxProcessesPerClass 1\n"
                            "FcgidQueueTimeout 5\n")
    warm = fetch(srv, APP + "?pid")           # the process, started
    assert warm.status == 200 and warm.pid, warm
    done = concurrent(srv, APP + "?sleep=1500&pid", 3)
    t_first = min(t0 for t0, _, _ in done)
    ends = [end - t_first for _, end, _ in done]
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    print("ends %s s after the first start; gaps %s s" % (
        ", ".join("%.3f" % e for e in ends),
        ", ".join("%.3f" % g for g in gaps)))
    assert all(r.status == 200 for _, _, r in done), done
    assert {r.pid for _, _, r in done} == {warm.pid}, done
    assert 1.45 <= ends[0] < 1.6, ends
    for gap in gaps:
        assert 1.45 <= gap < 1.6, gaps


def test_queue_timeout_answers_503_with_retry_after(httpd):
    """FcgidQueueTimeout 1, the class's one process busy for 1.5 s: the
    request holding it gets its 200, the two queued ones 503 with
    Retry-After after about 1 s, and the app never saw them."""
    srv = fcgid_site(httpd, "FcgidMaxProcessesPerClass 1\n"
                            "FcgidQueueTimeout 1\n")
    warm = fetch(srv, APP + "?pid")
    assert warm.status == 200 and warm.pid, warm
    done = concurrent(srv, APP + "?sleep=1500&pid", 3)
    for t0, end, r in done:
        print("%r, %.3f s" % (r, end - t0))
    ok = [r for _, _, r in done if r.status == 200]
    refused = [(end - t0, r) for t0, end, r in done if r.status == 503]
    assert len(ok) == 1 and ok[0].pid == warm.pid, done
    assert len(refused) == 2, done
    for took, r in refused:
        assert r.headers.get("Retry-After"), r
        assert int(r.headers["Retry-After"]) >= 1, r
        assert 0.9 <= took < 1.4, (took, r)
    assert len(log_lines(srv, "FCGIX00906")) == 2, log_lines(srv, "FCGIX00906")


# --- the PM's death ---------------------------------------------------------

def httpd_children(srv, pm):
    """httpd's children other than the PM: (pid, start time) pairs."""
    return {(p, conftest.start_time(p)) for p in children_of(srv.pid)
            if p != pm}


def test_pm_killed_restarts_the_pm_not_httpd(httpd):
    """kill -9 of the PM under the fcgid record: a new PM serves the next
    requests (a new app process, its child), httpd's parent and children
    are the same processes, FCGIX00077 is logged and httpd was not sent
    SIGHUP (mod_fcgid's fcgid_maint restarts all of httpd)."""
    srv = fcgid_site(httpd)
    pm = current_pm(srv)
    first = fetch(srv, APP + "?pid")
    assert first.status == 200 and first.pid in children_of(pm), (
        first, children_of(pm))
    parent = (srv.pid, conftest.start_time(srv.pid))
    workers = httpd_children(srv, pm)
    assert workers, "no httpd child besides the PM"

    os.kill(pm, signal.SIGKILL)
    assert conftest.wait_for(lambda: gone(pm), 5), "PM survived SIGKILL"
    new_pm = conftest.wait_for(
        lambda: newest_pm(srv) not in (None, pm) and newest_pm(srv), 10)
    assert new_pm, "no new PM 10 s after kill -9 of %d" % pm

    results = []

    def served():
        results.append(fetch(srv, APP + "?pid", 10))
        return results[-1].status == 200

    t0 = time.monotonic()
    assert conftest.wait_for(served, 15, 0.2), results[-5:]
    print("served again %.2f s after the new PM %d was seen; %d request(s):"
          " %r" % (time.monotonic() - t0, new_pm, len(results), results))
    again = fetch(srv, APP + "?pid")
    assert again.status == 200 and again.pid == results[-1].pid, again
    assert again.pid != first.pid and again.pid in children_of(new_pm), (
        again, children_of(new_pm))
    assert (srv.pid, conftest.start_time(srv.pid)) == parent
    assert httpd_children(srv, new_pm) == workers, (
        workers, httpd_children(srv, new_pm))
    assert log_lines(srv, "FCGIX00077"), "no FCGIX00077 in the log"
    assert not log_lines(srv, "SIGHUP received"), log_lines(
        srv, "SIGHUP received")
    assert not log_lines(srv, "exit signal"), log_lines(srv, "exit signal")


# --- FcgidMaxRequestLen ------------------------------------------------------

def test_huge_content_length_is_refused_before_the_body(httpd):
    """FcgidMaxRequestLen 1000 and a POST announcing 1 GiB: only the
    headers are sent, and the 413 comes within a second, without the app
    seeing the request (its stderr mark would be in the log)."""
    srv = fcgid_site(httpd, "FcgidMaxRequestLen 1000\n")
    assert fetch(srv, APP).status == 200
    conn = RawConn(srv.port, timeout=5)
    try:
        t0 = time.monotonic()
        conn.send(request_bytes(
            srv, "POST", APP + "?echo&stderr=seen-huge",
            headers=[("Content-Length", str(1 << 30)),
                     ("Content-Type", "application/octet-stream")]))
        r = read_response(conn, "POST", timeout=3, t0=t0)
    finally:
        conn.close()
    took = r.t_end - r.t0
    print("1 GiB Content-Length: %r after %.3f s" % (r, took))
    assert r.status == 413 and not r.timed_out, r
    assert took < 1.0, took
    assert log_lines(srv, "FCGIX00904"), "no FCGIX00904 in the log"
    r = srv.post(APP + "?echo&stderr=seen-small", b"s" * 500)
    assert (r.status, r.body) == (200, b"s" * 500), r
    assert conftest.wait_for(lambda: log_lines(srv, "seen-small"), 5)
    assert not log_lines(srv, "seen-huge")
