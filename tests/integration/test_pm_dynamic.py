"""Dynamic FastCGI apps: a fastcgi-script file with no FastCgiServer or
FastCgiExternalServer definition is started by the process manager on
the first request (over its control socket), scaled up when every
process is busy, stopped when idle, replaced after -max-requests or when
its file changes (-autoUpdate). Real apps: the libfcgi test responder,
php-cgi and a Perl FCGI script.
"""

import concurrent.futures
import os
import re
import shutil
import threading
import time

import pytest

import conftest
from helpers import (APPS, PID_BODY, apps_of, children_of, current_pm,
                     dynamic_dir_conf, dynamic_server, fetch, gone, install,
                     log_lines, log_text, start, timed_get)

PHP_CGI = "/usr/bin/php-cgi"
PERL = "/usr/bin/perl"


# --- tests -------------------------------------------------------------------

def test_dynamic_app_starts_on_first_request_and_stays(httpd):
    """No process before the first request; the first request starts one
    (cold-start time printed), the next ones reuse it."""
    srv, dyn = dynamic_server(httpd)
    install(conftest.RESPONDER, dyn / "hello.fcgi")
    start(srv)
    pm = current_pm(srv)
    assert apps_of(pm, "hello.fcgi") == [], "started before any request"

    status, body, first, total = timed_get(srv, "/dyn/hello.fcgi?pid")
    assert status == 200, (status, body)
    m = PID_BODY.fullmatch(body)
    assert m, body
    pid = int(m.group(1))
    print("cold start: first byte after %.1f ms (response %.1f ms)"
          % (first * 1000, total * 1000))

    status2, body2, first2, _ = timed_get(srv, "/dyn/hello.fcgi?pid")
    assert (status2, body2) == (200, body), "served by another process"
    print("warm request: first byte after %.1f ms" % (first2 * 1000))
    r = srv.get("/dyn/hello.fcgi")
    assert (r.status, r.body) == (200, b"hello\n")

    # One process, a child of the PM, listening on its own socket.
    assert apps_of(pm, "hello.fcgi") == [pid]
    socks = [p.name for p in (srv.root / "run" / "fastcgi").glob("g*-dyn*")]
    assert any(re.fullmatch(r"g\d+-dyn\d+\.0", s) for s in socks), socks
    assert log_lines(srv, "new dynamic class")


def test_execcgi_off_is_403_and_missing_file_is_404(httpd):
    """Like mod_cgi: no ExecCGI, no dynamic app (403, FCGIX00001)."""
    srv, dyn = dynamic_server(httpd)
    noexec = srv.docroot / "noexec"
    noexec.mkdir(mode=0o755)
    install(conftest.RESPONDER, noexec / "app.fcgi")
    srv.extra_conf += "\n" + dynamic_dir_conf(noexec, execcgi=False)
    start(srv)

    r = srv.get("/noexec/app.fcgi")
    assert r.status == 403, r
    lines = log_lines(srv, "FCGIX00001")
    assert lines and str(noexec / "app.fcgi") in lines[-1], lines
    assert srv.get("/dyn/missing.fcgi").status == 404
    # Neither request started anything.
    assert children_of(current_pm(srv)) == []


def test_app_exiting_at_once_gets_503_without_fork_storm(httpd):
    """An app that exits at once: every request ends within -startTimeout
    + 5 s, and restarts back off. The request that started it may get 502
    (it was handed the new process, which died without answering: its
    queued connection is reset at once); every later one gets 503 +
    Retry-After while the app is backed off."""
    start_timeout = 5
    bound = start_timeout + 5
    # -idle-timeout below the bound: a request stuck on a socket nobody
    # accepts on ends as a 504 the test can report, not as a client
    # timeout, and httpd can stop without waiting for it.
    srv, dyn = dynamic_server(
        httpd, "-minProcesses 0 -startTimeout %d -idle-timeout %d"
        % (start_timeout, bound - 2))
    app = dyn / "crash.fcgi"
    app.write_text("#!/bin/sh\nexit 1\n")
    app.chmod(0o755)
    start(srv)

    # A request each second for 5 s, each on its own connection, so that
    # one stuck request does not hide the answers to the others.
    window, results, threads = 5, [], []
    t0 = time.monotonic()
    for _ in range(window):
        threads.append(threading.Thread(
            target=lambda: results.append(
                fetch(srv, "/dyn/crash.fcgi", timeout=bound)),
            daemon=True))
        threads[-1].start()
        time.sleep(1)
    exits = log_lines(srv, "exited with status")
    for t in threads:
        t.join(max(0.1, t0 + window + bound + 5 - time.monotonic()))
    print("%d request(s) in %.1f s: %r; %d exit(s) logged in the first "
          "%d s" % (len(results), time.monotonic() - t0, results,
                    len(exits), window))
    assert not any(t.is_alive() for t in threads), "a request did not end"
    first_502 = [r for r in results[:1] if r.status == 502]
    bad = [r for r in results
           if r not in first_502 and (r.status != 503 or r.seconds >= bound
                                      or "Retry-After" not in r.headers)]
    bad += [r for r in first_502 if r.seconds >= bound]
    assert not bad, "expected 503 + Retry-After within %d s each: %r" % (
        bound, bad)
    assert len(exits) < 12, "fork storm: %d exits in %d s" % (
        len(exits), window)


def test_app_not_executable_is_500_naming_it(httpd):
    """A 0644 .fcgi: the PM refuses it; 500 and a log line naming it."""
    srv, dyn = dynamic_server(httpd)
    app = install(conftest.RESPONDER, dyn / "noexec.fcgi", 0o644)
    start(srv)
    r = srv.get("/dyn/noexec.fcgi")
    assert r.status == 500, r
    lines = [line for line in log_text(srv).splitlines()
             if str(app) in line and "[fastcgi_x:" in line
             and ":error]" in line]
    assert lines, "no error line names %s" % app
    assert any("not executable" in line for line in lines), lines


def test_php_cgi_as_dynamic_app(httpd):
    """PHP pages through php-cgi, started by the PM as a dynamic app."""
    if not os.access(PHP_CGI, os.X_OK):
        pytest.skip("%s is not installed (apt-get install php-cgi)" % PHP_CGI)
    srv = httpd()
    cgi = srv.docroot / "cgi"
    cgi.mkdir(mode=0o755)
    install(APPS / "php_cgi.fcgi", cgi / "php.fcgi")
    install(APPS / "php_hello.php", srv.docroot / "hello.php", 0o644)
    # mod_fastcgi's classic recipe: .php -> Action -> a wrapper that runs
    # php-cgi, started as a dynamic app.
    srv.extra_conf = "\n".join([
        dynamic_dir_conf(cgi),
        "FastCgiConfig -minProcesses 0",
        "AddHandler php-fcgi .php",
        "Action php-fcgi /cgi/php.fcgi"])
    start(srv)

    status, body, first, _ = timed_get(srv, "/hello.php")
    print("php-cgi cold start: first byte after %.1f ms" % (first * 1000))
    assert status == 200, (status, body)
    m = re.fullmatch(rb"42 cgi-fcgi (\d+)\n", body)
    assert m, body
    pm = current_pm(srv)
    assert int(m.group(1)) in children_of(pm), "php-cgi is not the PM's"
    r = srv.get("/hello.php")
    assert (r.status, r.body) == (200, body), "php-cgi did not stay"


def test_perl_fcgi_app_dynamic_and_static(httpd):
    """A Perl FCGI script as a dynamic app and as a FastCgiServer."""
    if not os.access(PERL, os.X_OK) or os.system(
            "%s -MFCGI -e 1 2>/dev/null" % PERL) != 0:
        pytest.skip("the FCGI Perl module is missing "
                    "(apt-get install libfcgi-perl)")
    srv, dyn = dynamic_server(httpd)
    install(APPS / "perl_hello.fcgi", dyn / "perl.fcgi")
    static = install(APPS / "perl_hello.fcgi", srv.docroot / "perl_static.pl")
    srv.extra_conf += "\nFastCgiServer %s -processes 1" % static
    start(srv)
    pm = current_pm(srv)
    for path in ("/dyn/perl.fcgi", "/perl_static.pl"):
        r = srv.get(path)
        assert r.status == 200, (path, r, r.body)
        m = re.fullmatch(rb"perl (\d+)\n", r.body)
        assert m, (path, r.body)
        assert int(m.group(1)) in children_of(pm), path
        assert srv.get(path).body == r.body, "%s: not the same process" % path


def test_scale_up_to_max_class_processes_and_idle_down(httpd):
    """32 concurrent slow requests: the class grows to exactly
    -maxClassProcesses, never more; idle processes stop after
    -killInterval (-minProcesses 0)."""
    per_class, kill_interval, clients = 4, 2, 32
    srv, dyn = dynamic_server(
        httpd, "-maxClassProcesses %d -minProcesses 0 -killInterval %d"
        % (per_class, kill_interval))
    install(conftest.RESPONDER, dyn / "scale.fcgi")
    start(srv)
    pm = current_pm(srv)

    counts = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            counts.append(len(apps_of(pm, "scale.fcgi")))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(clients) as ex:
            futures = [ex.submit(fetch, srv, "/dyn/scale.fcgi?sleep=1000&pid",
                                 60) for _ in range(clients)]
            results = [f.result(timeout=90) for f in futures]
    finally:
        load_s = time.monotonic() - t0
        stop.set()
        sampler.join(5)
    bad = [r for r in results if r.status != 200 or r.pid is None]
    served_by = {r.pid for r in results}
    print("%d slow requests in %.1f s; processes seen: max %d; served by "
          "%d process(es)" % (clients, load_s, max(counts), len(served_by)))
    assert not bad, bad
    assert max(counts) <= per_class, "more than -maxClassProcesses: %d" % (
        max(counts))
    assert max(counts) == per_class, "never scaled up to %d (max %d)" % (
        per_class, max(counts))
    assert len(served_by) <= per_class
    assert log_lines(srv, "busy process(es); started")

    t1 = time.monotonic()
    down = conftest.wait_for(lambda: not apps_of(pm, "scale.fcgi"), 15, 0.1)
    print("idle processes stopped after %.1f s" % (time.monotonic() - t1))
    assert down, "still running 15 s after the load: %r" % apps_of(
        pm, "scale.fcgi")
    assert log_lines(srv, "idle longer than -killInterval")


def recycle_server(httpd, max_requests=5):
    srv = httpd()
    app = install(conftest.RESPONDER, srv.docroot / "recycle.fcgi")
    srv.extra_conf = "FastCgiServer %s -processes 1 -max-requests %d" % (
        app, max_requests)
    start(srv)
    return srv


def runs_of(pids):
    """[[pid, consecutive requests it served], ...] in order."""
    runs = []
    for p in pids:
        if runs and runs[-1][0] == p:
            runs[-1][1] += 1
        else:
            runs.append([p, 1])
    return runs


def test_max_requests_replaces_the_process(httpd):
    """-max-requests 5, one process: 12 requests see at least 3 pids."""
    srv = recycle_server(httpd, 5)
    results = [fetch(srv, "/recycle.fcgi?pid", 15) for _ in range(12)]
    assert all(r.status == 200 and r.pid for r in results), results
    pids = [r.pid for r in results]
    runs = runs_of(pids)
    print("requests per process, in order: %r" % [n for _, n in runs])
    assert len(runs) >= 3, "pid changed %d time(s) in 12 requests: %r" % (
        len(runs) - 1, pids)
    assert log_lines(srv, "served its -max-requests")


def test_max_requests_is_not_exceeded_by_sequential_requests(httpd):
    """A client that waits for each response before sending the next
    request must never get a 6th answer from a -max-requests 5 process.
    (Requests queued concurrently on a process are another matter.)"""
    srv = recycle_server(httpd, 5)
    t0 = time.monotonic()
    results = [fetch(srv, "/recycle.fcgi?pid", 15) for _ in range(60)]
    assert all(r.status == 200 and r.pid for r in results), results
    runs = runs_of([r.pid for r in results])
    print("60 requests in %.1f s; requests per process: %r"
          % (time.monotonic() - t0, [n for _, n in runs]))
    over = [n for _, n in runs if n > 5]
    assert not over, ("%d of %d processes served more than -max-requests "
                      "5: %r" % (len(over), len(runs), [n for _, n in runs]))


def assert_served_by_new_process(srv, url, first, after):
    """GET url every 0.2 s (at most 30 times, 15 s) until another
    process than first's answers; each answer must be a 200."""
    results = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(results) < 30:
        r = fetch(srv, url, 15)
        results.append(r)
        if r.status != 200 or r.pid != first.pid:
            break
        time.sleep(0.2)
    print("after %s: %d request(s) until a new pid" % (after, len(results)))
    assert all(r.status == 200 for r in results), results
    assert results[-1].pid != first.pid, "still pid %d after %d requests" % (
        first.pid, len(results))


def test_auto_update_replaces_process_of_file_renamed_over(httpd):
    """-autoUpdate: a deploy that renames a new file over the old one,
    keeping its mtime (cp -p, rsync -t, a tar unpacked then moved), is
    another inode: the PM replaces the process too."""
    srv, dyn = dynamic_server(httpd, "-minProcesses 0 -autoUpdate")
    app = install(conftest.RESPONDER, dyn / "deploy.fcgi")
    start(srv)
    first = fetch(srv, "/dyn/deploy.fcgi?pid", 15)
    assert first.status == 200 and first.pid, first
    new = dyn / "deploy.fcgi.new"
    shutil.copy2(conftest.RESPONDER, new)
    os.chmod(new, 0o755)
    old = os.stat(app)
    os.utime(new, ns=(old.st_atime_ns, old.st_mtime_ns))
    os.rename(new, app)
    assert os.stat(app).st_mtime == old.st_mtime
    assert os.stat(app).st_ino != old.st_ino

    assert_served_by_new_process(srv, "/dyn/deploy.fcgi?pid", first,
                                 "the rename")
    assert log_lines(srv, "file changed")


def test_auto_update_replaces_process_of_changed_file(httpd):
    """-autoUpdate: a newer mtime makes the PM replace the process."""
    srv, dyn = dynamic_server(httpd, "-minProcesses 0 -autoUpdate")
    app = install(conftest.RESPONDER, dyn / "update.fcgi")
    start(srv)
    first = fetch(srv, "/dyn/update.fcgi?pid", 15)
    assert first.status == 200 and first.pid, first
    later = time.time() + 10
    os.utime(app, (later, later))

    assert_served_by_new_process(srv, "/dyn/update.fcgi?pid", first,
                                 "the touch")
    assert log_lines(srv, "file changed")
    assert conftest.wait_for(lambda: gone(first.pid), 5), "old one stays"
