"""mod_fcgid configurations as users have them (issue 15, docs/design/
fcgid.md 7.2): only the LoadModule line differs between the two flavours,
our .so as fcgid_module ("ours") and the real mod_fcgid ("real"), and
every test that takes the `flavour` fixture runs against both, so it
describes what mod_fcgid really does.

Where ours differs on purpose (design section 5) the expectation is in
one place, an EXPECT_* table keyed by flavour. Where the real mod_fcgid
only acts at its next scan, its scan intervals are shortened by lines
that only the real flavour's config gets (real_only()), marked as such.

The app is the test responder (conftest.RESPONDER), installed as a script
file that mod_fcgid starts itself; php-cgi through FcgidWrapper where PHP
is the point.
"""

import concurrent.futures
import http.client
import os
import re
import threading
import time

import pytest

import conftest
from helpers import (cmdline, fetch, gone, install, log_lines, raw_request,
                     start, wait_log)

PHP_CGI = "/usr/bin/php-cgi"
DATA = conftest.REPO / "tests" / "integration" / "data"
DEBIAN_CONF = DATA / "debian-fcgid.conf"

# Where ours differs from mod_fcgid on purpose (design section 5).
EXPECT_IO_TIMEOUT = {"ours": 504, "real": 500}
EXPECT_TOO_LONG = {"ours": 413, "real": 500}
# FcgidFixPathinfo 1, SCRIPT_NAME of /fcgi/hello.fcgi/extra. mod_fcgid
# 2.3.9 merges with apr_filepath_merge(DOCUMENT_ROOT, SCRIPT_NAME, 0), and
# an absolute second path replaces the first: SCRIPT_NAME stays as it was.
# Ours does what mod_fcgid's documentation says (design 2.2, 7.2).
EXPECT_FIX_PATHINFO = {"ours": "{docroot}/fcgi/hello.fcgi",
                       "real": "/fcgi/hello.fcgi"}
# How long an idle process may outlive FcgidIdleTimeout 2 (the real one
# with its scans every second, see real_only()).
IDLE_GONE_WITHIN = {"ours": 4.0, "real": 10.0}

FCGI_DIR = """
<Directory "{docroot}/fcgi">
    Options +ExecCGI
    AddHandler fcgid-script .fcgi
</Directory>
"""


# --- helpers -----------------------------------------------------------------

def real_only(flavour, *lines):
    """Config lines only the real mod_fcgid gets: tuning of its scans
    (ours has no such scans and would list them as having no effect)."""
    if flavour != "real":
        return ""
    return "\n".join(["# --- real mod_fcgid only: its scan intervals ---"]
                     + list(lines) + ["# --- end of real-only lines ---"])


def site(httpd, flavour, conf, app="hello.fcgi", real_conf="", **kw):
    """An unstarted server for the flavour: <docroot>/fcgi/<app> is the
    responder, `conf` the test's lines ({docroot}, {root}, {app} are
    filled in), real_conf the real-only lines."""
    srv = conftest.fcgid_httpd(httpd, flavour, **kw)
    fcgi = srv.docroot / "fcgi"
    fcgi.mkdir(mode=0o755, exist_ok=True)
    srv.app_path = install(conftest.RESPONDER, fcgi / app) if app else None
    srv.extra_conf = "\n".join([
        conf.format(docroot=srv.docroot, root=srv.root,
                    app=srv.app_path), real_conf])
    return srv


def up(srv, flavour):
    """Start; for ours also wait for the PM (helpers.start), so that no
    test races its start-up."""
    if flavour == "ours":
        return start(srv)
    return srv.start()


def app_processes(srv):
    """PIDs below httpd whose command line names the app (read as bytes:
    another process's command line need not be UTF-8)."""
    name = str(srv.app_path).encode()
    out = []
    for pid, _started in conftest.descendants(srv.pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if name in f.read():
                    out.append(pid)
        except OSError:
            pass
    return out


def requests_and_peak(srv, path, n, workers):
    """n GETs of path from `workers` threads at once: (results, the most
    app processes seen alive meanwhile, seconds)."""
    counts, stop = [0], threading.Event()

    def sample():
        while not stop.is_set():
            counts.append(len(app_processes(srv)))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            futures = [ex.submit(fetch, srv, path, 90) for _ in range(n)]
            results = [f.result(timeout=120) for f in futures]
    finally:
        stop.set()
        sampler.join(5)
    return results, max(counts), time.monotonic() - t0


def pid_of(srv, path):
    r = fetch(srv, path)
    assert r.status == 200 and r.pid, (path, r)
    return r.pid


def runs_of(pids):
    """[[pid, consecutive requests it served], ...] in order."""
    runs = []
    for pid in pids:
        if runs and runs[-1][0] == pid:
            runs[-1][1] += 1
        else:
            runs.append([pid, 1])
    return runs


def post_chunked(srv, path, data, piece=700, timeout=30):
    """POST data with Transfer-Encoding: chunked; (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        pieces = [data[i:i + piece] for i in range(0, len(data), piece)]
        conn.request("POST", path, body=iter(pieces), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def need_php():
    if not os.access(PHP_CGI, os.X_OK):
        pytest.skip("%s is not installed (apt-get install php-cgi)"
                    % PHP_CGI)


# --- Debian's configuration and the handlers ---------------------------------

def test_debian_fcgid_conf(httpd, flavour):
    """Debian's fcgid.conf, included verbatim, is all a directory with
    ExecCGI needs: its AddHandler makes hello.fcgi an fcgid app."""
    srv = site(httpd, flavour, """
Include "%s"
<Directory "{docroot}/fcgi">
    Options +ExecCGI
</Directory>
""" % DEBIAN_CONF)
    up(srv, flavour)
    r = srv.get("/fcgi/hello.fcgi")
    # Without the AddHandler the responder's binary would come back.
    assert (r.status, r.body) == (200, b"hello\n"), r
    assert srv.get("/fcgi/hello.fcgi?env=FCGI_ROLE").body == b"RESPONDER\n"


def test_sethandler_fcgid_script(httpd, flavour):
    """SetHandler fcgid-script in a <Directory>: any file there is an app."""
    srv = site(httpd, flavour, """
<Directory "{docroot}/fcgi">
    Options +ExecCGI
    SetHandler fcgid-script
</Directory>
""", app="app")
    up(srv, flavour)
    r = srv.get("/fcgi/app")
    assert (r.status, r.body) == (200, b"hello\n"), r


def test_virtual_wrapper_serves_a_url_without_file(httpd, flavour):
    """FcgidWrapper <cmd> virtual: a URL with no file behind it is served
    by the wrapper's command (no 404)."""
    srv = site(httpd, flavour, """
<Directory "{docroot}/virt">
    Options +ExecCGI
    SetHandler fcgid-script
    FcgidWrapper {app} virtual
</Directory>
""")
    (srv.docroot / "virt").mkdir(mode=0o755)
    up(srv, flavour)
    r = srv.get("/virt/no-such-file")
    assert (r.status, r.body) == (200, b"hello\n"), r
    # The wrapper is what runs: its path is the process's command.
    pid = pid_of(srv, "/virt/nothing-here-either?pid")
    assert str(srv.app_path) in cmdline(pid), cmdline(pid)


# --- PHP ---------------------------------------------------------------------

PHP_PAGE = """<?php
header('Content-Type: text/plain');
echo "php ok\\n";
echo $_SERVER['SCRIPT_FILENAME'], "\\n";
"""


def test_php_through_php_cgi_wrapper(httpd, flavour):
    """AddHandler fcgid-script .php + FcgidWrapper /usr/bin/php-cgi .php:
    PHP runs, and SCRIPT_FILENAME is the .php file."""
    need_php()
    srv = site(httpd, flavour, """
<Directory "{docroot}/php">
    Options +ExecCGI
    AddHandler fcgid-script .php
    FcgidWrapper %s .php
</Directory>
""" % PHP_CGI, app=None)
    php = srv.docroot / "php"
    php.mkdir(mode=0o755)
    (php / "page.php").write_text(PHP_PAGE)
    (php / "page.php").chmod(0o644)
    up(srv, flavour)
    r = srv.get("/php/page.php")
    assert r.status == 200, (r, r.body)
    assert r.body == b"php ok\n%s\n" % str(php / "page.php").encode(), r.body


SITE_PAGE = """<?php
header('Content-Type: text/plain');
echo getenv('SITE'), ' ', getmypid(), "\\n";
"""


def test_wrapper_per_virtual_host(httpd, flavour):
    """Two name-based vhosts on one port, each with its own php-cgi
    wrapper (which sets SITE): each site's PHP sees its own SITE, and the
    same .php through both hosts runs in two processes."""
    need_php()
    srv = site(httpd, flavour, "", app=None)
    shared = srv.docroot / "shared"
    shared.mkdir(mode=0o755)
    (shared / "site.php").write_text(SITE_PAGE)
    (shared / "site.php").chmod(0o644)
    vhosts = []
    for name in ("a", "b"):
        d = srv.root / ("site-" + name)
        d.mkdir(mode=0o755)
        wrapper = d / "php-wrapper"
        wrapper.write_text("#!/bin/sh\nSITE=%s\nexport SITE\n"
                           "exec %s\n" % (name, PHP_CGI))
        wrapper.chmod(0o755)
        vhosts.append("\n".join([
            "<VirtualHost 127.0.0.1:%d>" % srv.port,
            "    ServerName %s.example.test" % name,
            '    DocumentRoot "%s"' % srv.docroot,
            "    FcgidWrapper %s .php" % wrapper,
            "</VirtualHost>"]))
    srv.extra_conf = "\n".join([
        '<Directory "%s">' % shared,
        "    Options +ExecCGI",
        "    AddHandler fcgid-script .php",
        "</Directory>"] + vhosts)
    up(srv, flavour)
    seen = {}
    for name in ("a", "b", "a", "b"):
        r = srv.get("/shared/site.php",
                    headers={"Host": "%s.example.test" % name})
        assert r.status == 200, (name, r, r.body)
        m = re.fullmatch(rb"(\w+) (\d+)\n", r.body)
        assert m and m.group(1).decode() == name, (name, r.body)
        seen.setdefault(name, set()).add(int(m.group(2)))
    assert len(seen["a"]) == 1 and len(seen["b"]) == 1, seen
    assert seen["a"] != seen["b"], "both hosts ran in one process: %r" % seen


# --- process options ---------------------------------------------------------

def test_cmd_options_per_command(httpd, flavour):
    """FcgidCmdOptions for the app's path replaces the server's options
    for it: its InitialEnv A=1 is set, the server's FcgidInitialEnv B is
    not, and its MaxRequestsPerProcess 2 recycles every 2 requests."""
    srv = site(httpd, flavour, FCGI_DIR + """
FcgidInitialEnv B 2
FcgidCmdOptions {app} InitialEnv A=1 MaxRequestsPerProcess 2
""")
    up(srv, flavour)
    pids = [pid_of(srv, "/fcgi/hello.fcgi?pid") for _ in range(6)]
    assert [n for _, n in runs_of(pids)] == [2, 2, 2], runs_of(pids)
    assert len(set(pids)) == 3, pids
    assert srv.get("/fcgi/hello.fcgi?penv=A").body == b"1\n"
    assert srv.get("/fcgi/hello.fcgi?penv=B").body == b"(unset)\n"


def test_max_requests_per_process(httpd, flavour):
    """FcgidMaxRequestsPerProcess 3: a new process after every 3
    requests."""
    srv = site(httpd, flavour, FCGI_DIR + "FcgidMaxRequestsPerProcess 3\n")
    up(srv, flavour)
    pids = [pid_of(srv, "/fcgi/hello.fcgi?pid") for _ in range(7)]
    assert [n for _, n in runs_of(pids)] == [3, 3, 1], runs_of(pids)
    assert len(set(pids)) == 3, pids


def test_max_processes_per_class(httpd, flavour):
    """FcgidMaxProcessesPerClass 2: 8 concurrent slow requests are all
    served, by at most 2 processes, and never more than 2 run."""
    srv = site(httpd, flavour, FCGI_DIR + "FcgidMaxProcessesPerClass 2\n")
    up(srv, flavour)
    results, peak, took = requests_and_peak(
        srv, "/fcgi/hello.fcgi?sleep=300&pid", 8, 8)
    print("8 requests in %.1f s, processes seen: max %d" % (took, peak))
    assert all(r.status == 200 and r.pid for r in results), results
    assert len({r.pid for r in results}) <= 2, results
    assert peak <= 2, peak


def test_idle_timeout(httpd, flavour):
    """FcgidIdleTimeout 2 with FcgidMinProcessesPerClass 0: an idle
    process is stopped (ours within 4 s; the real one, scanning every
    second, within 10 s)."""
    srv = site(httpd, flavour, FCGI_DIR + """
FcgidIdleTimeout 2
FcgidMinProcessesPerClass 0
""", real_conf=real_only(flavour, "FcgidIdleScanInterval 1",
                         "FcgidErrorScanInterval 1",
                         "FcgidZombieScanInterval 1"))
    up(srv, flavour)
    pid = pid_of(srv, "/fcgi/hello.fcgi?pid")
    t0 = time.monotonic()
    stopped = conftest.wait_for(lambda: gone(pid), 20, 0.1)
    took = time.monotonic() - t0
    print("idle process stopped after %.1f s" % took)
    assert stopped, "pid %d still runs 20 s after its request" % pid
    assert took <= IDLE_GONE_WITHIN[flavour], took
    assert pid_of(srv, "/fcgi/hello.fcgi?pid") != pid


def test_io_timeout(httpd, flavour):
    """FcgidIOTimeout 1 and an app that answers after 3 s: ours 504 in
    about 1 s, the real mod_fcgid 500; the next request gets a new
    process."""
    srv = site(httpd, flavour, FCGI_DIR + "FcgidIOTimeout 1\n")
    up(srv, flavour)
    pid = pid_of(srv, "/fcgi/hello.fcgi?pid")
    r = fetch(srv, "/fcgi/hello.fcgi?sleep=3000&pid", 30)
    print("%s: %r" % (flavour, r))
    assert r.status == EXPECT_IO_TIMEOUT[flavour], r
    assert 0.9 <= r.seconds < 2.5, r
    assert pid_of(srv, "/fcgi/hello.fcgi?pid") != pid


def test_max_request_len(httpd, flavour):
    """FcgidMaxRequestLen 1000: a 500-byte POST is echoed; 2000 bytes with
    Content-Length and chunked are refused (ours 413, real 500) and the
    app never sees them (each request writes a mark to its stderr, which
    lands in the error log)."""
    srv = site(httpd, flavour, FCGI_DIR + "FcgidMaxRequestLen 1000\n")
    up(srv, flavour)
    small = b"s" * 500
    r = srv.post("/fcgi/hello.fcgi?echo&stderr=seen-small", small)
    assert (r.status, r.body) == (200, small), r
    assert wait_log(srv, "seen-small"), "the app's stderr is not logged"

    big = b"b" * 2000
    r = srv.post("/fcgi/hello.fcgi?echo&stderr=seen-length", big)
    assert r.status == EXPECT_TOO_LONG[flavour], (r, r.body[:200])
    status, body = post_chunked(srv, "/fcgi/hello.fcgi?echo&stderr="
                                "seen-chunked", big)
    assert status == EXPECT_TOO_LONG[flavour], (status, body[:200])
    # Still served, and the app saw neither refused request.
    r = srv.post("/fcgi/hello.fcgi?echo&stderr=seen-after", small)
    assert (r.status, r.body) == (200, small), r
    assert wait_log(srv, "seen-after")
    assert not log_lines(srv, "seen-length")
    assert not log_lines(srv, "seen-chunked")


def test_pass_header_authorization(httpd, flavour):
    """FcgidPassHeader Authorization: the app gets the header as
    HTTP_AUTHORIZATION and under its own name."""
    srv = site(httpd, flavour, FCGI_DIR + "FcgidPassHeader Authorization\n")
    up(srv, flavour)
    auth = {"Authorization": "Basic eHk6eg=="}
    for name in ("HTTP_AUTHORIZATION", "Authorization"):
        r = srv.get("/fcgi/hello.fcgi?env=" + name, headers=auth)
        assert (r.status, r.body) == (200, b"Basic eHk6eg==\n"), (name, r.body)


def test_initial_env(httpd, flavour):
    """FcgidInitialEnv FOO bar and EMPTY (no value): the process has
    FOO=bar, EMPTY set to the empty string, and a PATH."""
    srv = site(httpd, flavour, FCGI_DIR + """
FcgidInitialEnv FOO bar
FcgidInitialEnv EMPTY
""")
    up(srv, flavour)
    assert srv.get("/fcgi/hello.fcgi?penv=FOO").body == b"bar\n"
    assert srv.get("/fcgi/hello.fcgi?penv=EMPTY").body == b"\n"
    path = srv.get("/fcgi/hello.fcgi?penv=PATH").body
    print("%s: PATH=%r" % (flavour, path))
    assert path not in (b"(unset)\n", b"\n"), path


def test_fix_pathinfo(httpd, flavour):
    """FcgidFixPathinfo 1: ours sets SCRIPT_NAME to DOCUMENT_ROOT +
    SCRIPT_NAME, as mod_fcgid documents; the real mod_fcgid leaves it as
    it was (EXPECT_FIX_PATHINFO says why)."""
    srv = site(httpd, flavour, FCGI_DIR + "FcgidFixPathinfo 1\n")
    up(srv, flavour)
    root = srv.get("/fcgi/hello.fcgi?env=DOCUMENT_ROOT").body
    assert root == str(srv.docroot).encode() + b"\n", root
    r = srv.get("/fcgi/hello.fcgi/extra?env=SCRIPT_NAME")
    want = EXPECT_FIX_PATHINFO[flavour].format(docroot=srv.docroot)
    assert (r.status, r.body) == (200, want.encode() + b"\n"), r.body
    r = srv.get("/fcgi/hello.fcgi/extra?env=PATH_INFO")
    assert (r.status, r.body) == (200, b"/extra\n"), r.body


def test_busy_timeout_cuts_and_replaces_the_process(httpd):
    """Ours only: FcgidBusyTimeout 2 ends an exchange that lasts longer
    (a response cut after about 2 s) and replaces its process. The real
    mod_fcgid kills it only at its next busy scan."""
    srv = site(httpd, "ours", FCGI_DIR + "FcgidBusyTimeout 2\n")
    up(srv, "ours")
    pid = pid_of(srv, "/fcgi/hello.fcgi?pid")
    r = raw_request(srv, "GET", "/fcgi/hello.fcgi?chunks=10&pause=500",
                    timeout=15)
    took = r.t_end - r.t0
    print("busy timeout: %r after %.1f s" % (r, took))
    assert r.status == 200 and r.complete is False, r
    assert 1.5 <= took < 4, took
    assert b"chunk 0\n" in bytes(r.body) and b"chunk 9" not in bytes(r.body)
    assert conftest.wait_for(lambda: gone(pid), 5, 0.1), "not replaced"
    assert pid_of(srv, "/fcgi/hello.fcgi?pid") != pid


def test_busy_timeout_cuts_an_app_that_never_pauses(httpd):
    """Ours only: FcgidBusyTimeout is checked on every turn of the
    exchange, not only when the app pauses: a response that streams
    without a break is cut after about the busy time."""
    srv = site(httpd, "ours", FCGI_DIR + "FcgidBusyTimeout 1\n")
    up(srv, "ours")
    r = raw_request(srv, "GET", "/fcgi/hello.fcgi?bytes=4000000000",
                    timeout=20)
    took = r.t_end - r.t0
    print("busy timeout, no pause: %r after %.1f s" % (r, took))
    assert r.status == 200 and r.complete is False, r
    assert took < 5, took
    assert log_lines(srv, "FCGIX00908"), "no busy-timeout line"


def test_fastcgi_class_cap_with_both_records(httpd):
    """With both records loaded the board has room for fcgid's 100
    processes per class; a fastcgi-script dynamic app still grows only to
    FastCgiConfig -maxClassProcesses (it grew to the room before)."""
    srv = httpd(records=("fastcgi_x", "fcgid"))
    dyn = srv.docroot / "dyn"
    dyn.mkdir(mode=0o755)
    srv.app_path = install(conftest.RESPONDER, dyn / "capped.fcgi")
    srv.extra_conf = "\n".join([
        '<Directory "%s">' % dyn, "    Options +ExecCGI",
        "    AddHandler fastcgi-script .fcgi", "</Directory>",
        "FastCgiConfig -maxClassProcesses 2 -minProcesses 0"])
    srv.start()
    results, peak, _ = requests_and_peak(srv, "/dyn/capped.fcgi?sleep=400&pid",
                                         24, 12)
    print("processes seen: max %d; statuses %s"
          % (peak, sorted({r.status for r in results})))
    assert all(r.status == 200 for r in results), results
    assert len({r.pid for r in results}) <= 2, {r.pid for r in results}
    assert peak <= 2, peak
