"""The status page: SetHandler fastcgi-status (HTML, ?json, ?auto) and the
FastCGI section of mod_status's server-status.

Most tests run one httpd with the three kinds of application class:
  - a FastCgiServer pool of two processes (htdocs/pool/app.fcgi),
  - a dynamic app started by one request (htdocs/dyn/d.fcgi),
  - a FastCgiExternalServer (htdocs/ext.fcgi) served by the libfcgi
    responder on a Unix socket (conftest's responder fixture),
and check what the page says against the real processes (/proc), the
requests sent, and the configuration.
"""

import json
import os
import re
import shutil
import signal
import threading
import time
import urllib.parse
from pathlib import Path

import conftest
from helpers import (AUTO_LINE, MOD_STATUS, cmdline, current_pm,
                     dynamic_dir_conf, external_server, gone, graceful_new_pm,
                     install, start)


STATUS_CONF = """<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>"""

SERVER_STATUS_CONF = """LoadModule status_module "%s"
<Location /server-status>
    SetHandler server-status
</Location>""" % MOD_STATUS


# --- helpers -----------------------------------------------------------------

class Apps:
    """Where the three apps of a full server live."""

    def __init__(self, srv, responder):
        self.pool = srv.docroot / "pool" / "app.fcgi"
        self.dyn = srv.docroot / "dyn" / "d.fcgi"
        self.ext = srv.docroot / "ext.fcgi"
        self.ext_socket = responder.address


def full_server(httpd, responder, extra="", ext_opts=""):
    """An unstarted httpd with the pool, the dynamic app and the external
    server, and the status page at /fcgi-status. Returns (srv, apps)."""
    srv = httpd()
    apps = Apps(srv, responder)
    for d in (apps.pool.parent, apps.dyn.parent):
        d.mkdir(mode=0o755)
    install(conftest.RESPONDER, apps.pool)
    install(conftest.RESPONDER, apps.dyn)
    srv.extra_conf = "\n".join([
        "FastCgiServer %s -processes 2" % apps.pool,
        dynamic_dir_conf(apps.dyn.parent),
        "FastCgiConfig -minProcesses 0",
        external_server(apps.ext, apps.ext_socket, ext_opts),
        STATUS_CONF, extra])
    return srv, apps


def status_json(srv):
    r = srv.get("/fcgi-status?json")
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "application/json"
    return json.loads(r.body.decode("utf-8"))


def class_of(doc, path):
    found = [c for c in doc["classes"] if c["path"] == str(path)]
    assert len(found) == 1, "class %s: %r" % (path, doc["classes"])
    return found[0]


def running_pids(cls):
    return [p["pid"] for p in cls["process_list"] if p["state"] == "running"]


def pool_ready(srv, path, n, timeout=10):
    """The status once class `path` has n running processes open to
    requests."""
    def look():
        doc = status_json(srv)
        cls = [c for c in doc["classes"] if c["path"] == str(path)]
        if cls and len([p for p in cls[0]["process_list"]
                        if p["state"] == "running" and p["open"]]) == n:
            return doc
        return None
    doc = conftest.wait_for(look, timeout, 0.1)
    assert doc, "class %s never had %d open processes: %r" % (
        path, n, status_json(srv))
    return doc


def start_full(httpd, responder, **kw):
    """The full server, started, with the pool up and the dynamic app
    started by one request. Returns (srv, apps, status JSON)."""
    srv, apps = full_server(httpd, responder, **kw)
    start(srv)
    pool_ready(srv, apps.pool, 2)
    r = srv.get("/dyn/d.fcgi")
    assert r.status == 200 and r.body == b"hello\n", r
    return srv, apps, pool_ready(srv, apps.dyn, 1)


def alive_app(pid, name):
    return not gone(pid) and name in cmdline(pid)


def parse_auto(text):
    """(summary {Key: value}, [Class fields], [Process fields]) of ?auto."""
    summary, classes, procs = {}, [], []
    for line in text.splitlines():
        m = AUTO_LINE.match(line)
        assert m, "not a Key: value line: %r" % line
        key, value = m.groups()
        if key in ("Class", "Process"):
            fields = dict(f.split("=", 1) for f in value.split(" "))
            (classes if key == "Class" else procs).append(fields)
        else:
            assert key not in summary, "key twice: %s" % key
            summary[key] = value
    return summary, classes, procs


def in_thread(fn, *args):
    box = {}

    def run():
        box["result"] = fn(*args)
    t = threading.Thread(target=run)
    t.start()
    return t, box


# --- the three outputs -------------------------------------------------------

def test_html_lists_every_class_with_live_pids(httpd, responder):
    srv, apps, doc = start_full(httpd, responder)
    r = srv.get("/fcgi-status")
    assert r.status == 200, r
    assert r.headers["Content-Type"].startswith("text/html")
    body = r.body.decode("utf-8")
    for path in (apps.pool, apps.dyn, apps.ext):
        assert str(path) in body, path
    assert apps.ext_socket in body
    pids = running_pids(class_of(doc, apps.pool))
    pids += running_pids(class_of(doc, apps.dyn))
    assert len(pids) == 3
    for pid in pids:
        assert alive_app(pid, ".fcgi"), "pid %d is no app" % pid
        assert "<td>%d</td>" % pid in body
    pm = current_pm(srv)
    assert "Process manager: running, pid %d," % pm in body
    assert doc["process_manager"]["pid"] == pm
    assert "kept connections (this httpd child)" in body
    # the totals table: 3 classes, 3 processes, none busy, 3 idle
    assert re.search(r"<tr><td>3</td><td>3</td><td>0</td><td>3</td>", body)


def test_json_counts_and_requests_served(httpd, responder):
    srv, apps, doc = start_full(httpd, responder)
    assert doc["process_manager"]["running"] is True
    assert doc["process_manager"]["uptime"] > 0
    assert [c["kind"] for c in doc["classes"]] == [
        "static", "dynamic", "external"]
    assert doc["totals"]["classes"] == 3

    pool = class_of(doc, apps.pool)
    assert pool["slots"] == 2 and pool["processes"] == 2
    assert pool["busy"] == 0 and pool["idle"] == 2
    assert len(pool["process_list"]) == 2
    for p in pool["process_list"]:
        assert alive_app(p["pid"], "app.fcgi")
        assert p["state"] == "running" and p["busy"] is False
        assert p["age"] >= 0 and p["idle"] >= 0 and p["backoff"] is None
        assert p["socket"].startswith(str(srv.root / "run" / "fastcgi"))

    dyn = class_of(doc, apps.dyn)
    assert dyn["kind"] == "dynamic" and dyn["processes"] == 1
    assert dyn["requests"] == 1
    assert alive_app(running_pids(dyn)[0], "d.fcgi")

    ext = class_of(doc, apps.ext)
    assert ext["kind"] == "external" and ext["address"] == apps.ext_socket
    assert ext["kept_connections"] is None      # no -keep-conn
    assert ext["kept_connections_scope"] == "this httpd child"

    before = pool["requests"]
    for _ in range(7):
        assert srv.get("/pool/app.fcgi").status == 200
    after = status_json(srv)
    pool2 = class_of(after, apps.pool)
    assert pool2["requests"] == before + 7
    assert sum(p["requests"] for p in pool2["process_list"]) == before + 7
    assert after["totals"]["requests"] == before + 7 + dyn["requests"]
    assert after["totals"]["processes"] == 3


def test_auto_lines_parse(httpd, responder):
    srv, apps, doc = start_full(httpd, responder)
    r = srv.get("/fcgi-status?auto")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    summary, classes, procs = parse_auto(r.body.decode("ascii"))
    assert summary["FastCGIManager"] == "running"
    assert int(summary["FastCGIManagerPid"]) == current_pm(srv)
    assert summary["FastCGIClasses"] == "3"
    assert summary["FastCGIProcesses"] == "3"
    assert summary["FastCGIBusyProcesses"] == "0"
    assert summary["FastCGIIdleProcesses"] == "3"
    assert int(summary["FastCGIRequestsServed"]) == doc["totals"]["requests"]
    assert summary["FastCGIWaitingRequests"] == "0"
    assert [c["kind"] for c in classes] == ["static", "dynamic", "external"]
    assert classes[0]["path"] == str(apps.pool)
    assert classes[0]["processes"] == "2"
    assert classes[2]["address"] == apps.ext_socket
    pool_procs = [p for p in procs if p["path"] == str(apps.pool)]
    assert sorted(int(p["pid"]) for p in pool_procs) == sorted(
        running_pids(class_of(doc, apps.pool)))
    assert all(p["state"] == "running" for p in pool_procs)
    assert len([p for p in procs if p["path"] == str(apps.dyn)]) == 1


# --- states -----------------------------------------------------------------

def test_busy_request_shows_up_as_busy(httpd, responder):
    srv, apps, _ = start_full(httpd, responder)
    t, box = in_thread(srv.get, "/pool/app.fcgi?sleep=1500")

    def busy_doc():
        doc = status_json(srv)
        return doc if class_of(doc, apps.pool)["busy"] == 1 else None
    doc = conftest.wait_for(busy_doc, 1.2, 0.05)
    assert doc, "the sleeping request never showed as busy"
    pool = class_of(doc, apps.pool)
    busy = [p for p in pool["process_list"] if p["busy"]]
    assert len(busy) == 1 and busy[0]["in_flight"] == 1
    assert busy[0]["idle"] is None
    assert doc["totals"]["busy"] == 1 and doc["totals"]["idle"] == 2
    html = srv.get("/fcgi-status").body.decode()
    assert "busy (1 request)" in html
    summary, _, procs = parse_auto(srv.get("/fcgi-status?auto").body.decode())
    assert summary["FastCGIBusyProcesses"] == "1"
    assert [p["pid"] for p in procs if p["busy"] == "1"] == [
        str(busy[0]["pid"])]
    t.join(10)
    assert box["result"].status == 200
    pool = class_of(status_json(srv), apps.pool)
    assert pool["busy"] == 0 and pool["idle"] == 2


def test_failing_app_shows_backoff_and_failures(httpd):
    srv = httpd()
    app = srv.docroot / "fail.fcgi"
    app.write_text("#!/bin/sh\nexit 1\n")
    app.chmod(0o755)
    srv.extra_conf = "\n".join([
        "FastCgiServer %s -processes 1" % app, STATUS_CONF])
    srv.start()

    def backing_off():
        doc = status_json(srv)
        if not any(c["path"] == str(app) for c in doc["classes"]):
            return None     # the PM has not put the class on the board yet
        cls = class_of(doc, app)
        procs = cls["process_list"]
        if cls["failed_starts"] >= 1 and procs and \
                procs[0]["state"] == "backoff":
            return doc
        return None
    doc = conftest.wait_for(backing_off, 10, 0.1)
    assert doc, "never backing off: %r" % status_json(srv)
    cls = class_of(doc, app)
    p = cls["process_list"][0]
    assert p["pid"] is None and p["busy"] is False
    assert p["backoff"] is not None and p["backoff"] > 0
    assert cls["processes"] == 0
    assert doc["totals"]["failed_starts"] == cls["failed_starts"]
    html = srv.get("/fcgi-status").body.decode()
    assert "backing off" in html
    assert re.search(r"restarting in \d+\.\d s", html)
    summary, _, procs = parse_auto(srv.get("/fcgi-status?auto").body.decode())
    assert int(summary["FastCGIFailedStarts"]) >= 1
    assert procs[0]["state"] == "backoff" and procs[0]["pid"] == "0"


def wait_while_pm_stopped(srv, pm, path, waiting_of, first=None):
    """Stop the PM (SIGSTOP), call first() if given, GET path in a thread,
    which then waits for the PM's answer to its START, and return the
    status JSON once waiting_of(doc) is 1; then let the PM go on and
    check the request is served and nothing is counted as waiting any
    more."""
    os.kill(pm, signal.SIGSTOP)
    try:
        if first:
            first()
        t, box = in_thread(srv.get, path)
        doc = conftest.wait_for(
            lambda: (lambda d: d if waiting_of(d) == 1 else None)(
                status_json(srv)), 5, 0.05)
    finally:
        os.kill(pm, signal.SIGCONT)
    t.join(30)
    assert doc, "the request never showed as waiting: %r" % status_json(srv)
    assert doc["totals"]["waiting"] == 1
    assert box["result"].status == 200, box["result"]
    assert waiting_of(status_json(srv)) == 0
    return doc


def test_waiting_requests_are_counted(httpd):
    """A request waiting for the PM to start a process is counted: on the
    board for a dynamic app's first start (it has no class yet), on its
    class once it has one (here: its only process has served its
    -max-requests, and the PM has not replaced it yet; a class whose
    process is stopped for idling is freed). The PM is held with SIGSTOP
    to make the wait last. Waits for a first start belong to no host yet:
    only a page with FastCgiStatusShowAll On counts them."""
    srv = httpd()
    dyn = srv.docroot / "dyn"
    dyn.mkdir(mode=0o755)
    install(conftest.RESPONDER, dyn / "d.fcgi")
    srv.extra_conf = "\n".join([
        dynamic_dir_conf(dyn),
        "FastCgiConfig -minProcesses 0 -max-requests 2 -startTimeout 20",
        "FastCgiStatusShowAll On",
        STATUS_CONF])
    start(srv)
    pm = current_pm(srv)
    wait_while_pm_stopped(
        srv, pm, "/dyn/d.fcgi",
        lambda d: d["process_manager"]["waiting_first_start"])
    app = dyn / "d.fcgi"
    doc = wait_while_pm_stopped(
        srv, pm, "/dyn/d.fcgi",
        lambda d: class_of(d, app)["waiting"],
        first=lambda: srv.get("/dyn/d.fcgi"))   # its 2nd, the last
    assert doc["process_manager"]["waiting_first_start"] == 0
    assert class_of(status_json(srv), app)["requests"] == 3


# --- escaping, methods, mod_status -------------------------------------------

def test_html_escapes_paths(httpd):
    srv = httpd()
    odd = srv.docroot / "a<b&c"
    odd.mkdir(mode=0o755)
    app = odd / "app.fcgi"
    install(conftest.RESPONDER, app)
    srv.extra_conf = "\n".join([
        'FastCgiServer "%s" -processes 1' % app, STATUS_CONF])
    srv.start()
    doc = pool_ready(srv, app, 1)
    assert class_of(doc, app)["kind"] == "static"
    body = srv.get("/fcgi-status").body.decode()
    assert "a&lt;b&amp;c/app.fcgi" in body
    assert "a<b" not in body and "b&c" not in body
    _, classes, _ = parse_auto(srv.get("/fcgi-status?auto").body.decode())
    assert classes[0]["path"] == str(app)


def test_json_and_auto_survive_hostile_names(httpd):
    """A dynamic app in a directory whose name holds a quote, a backslash,
    a tab, '<', '&', '=' and a byte that is not UTF-8: the JSON parses and
    gives the name back (U+FFFD for the bad byte), the HTML escapes it,
    ?auto percent-encodes what would split its fields."""
    srv = httpd()
    dyn = srv.docroot / "dyn"
    dyn.mkdir(mode=0o755)
    odd_name = b'q"b\\s\tx<y&z=w\xff'
    odd = Path(os.fsdecode(bytes(dyn) + b"/" + odd_name))
    odd.mkdir(mode=0o755)
    install(conftest.RESPONDER, odd / "d.fcgi")
    srv.extra_conf = "\n".join([
        dynamic_dir_conf(dyn), "FastCgiConfig -minProcesses 0", STATUS_CONF])
    start(srv)
    r = srv.get("/dyn/" + urllib.parse.quote(odd_name) + "/d.fcgi")
    assert r.status == 200 and r.body == b"hello\n", r
    raw = srv.get("/fcgi-status?json").body
    doc = json.loads(raw.decode("utf-8"))          # strict UTF-8, valid JSON
    expected = (bytes(odd) + b"/d.fcgi").decode("utf-8", "replace")
    cls = class_of(doc, expected)
    assert cls["kind"] == "dynamic" and cls["processes"] == 1
    assert b"\\u0009" in raw and b'q\\"b' in raw
    html = srv.get("/fcgi-status").body
    assert b"q&quot;b\\s\tx&lt;y&amp;z=w\xff/d.fcgi" in html
    assert b"<y" not in html
    _, classes, procs = parse_auto(srv.get("/fcgi-status?auto").body.decode())
    assert classes[0]["path"] == str(dyn) + '/q"b\\s%09x<y&z%3Dw%FF/d.fcgi'
    assert procs[0]["path"] == classes[0]["path"]


def test_port_pool_shows_its_shared_address(httpd):
    srv = httpd()
    app = srv.docroot / "app.fcgi"
    install(conftest.RESPONDER, app)
    port = conftest.free_port()
    srv.extra_conf = "\n".join([
        "FastCgiServer %s -port %d -processes 2 -init-start-delay 0"
        % (app, port), STATUS_CONF])
    srv.start()
    doc = pool_ready(srv, app, 2)
    cls = class_of(doc, app)
    assert cls["address"] == "127.0.0.1:%d" % port
    assert [p["socket"] for p in cls["process_list"]] == [
        "127.0.0.1:%d" % port] * 2
    assert "Its processes share 127.0.0.1:%d." % port in \
        srv.get("/fcgi-status").body.decode()


def test_post_is_refused_and_head_has_no_body(httpd):
    srv = httpd()
    srv.extra_conf = STATUS_CONF
    srv.start()
    r = srv.post("/fcgi-status", b"x=1")
    assert r.status == 405, r
    assert "GET" in r.headers["Allow"]
    r = srv.request("HEAD", "/fcgi-status?json")
    assert r.status == 200 and r.body == b""
    assert r.headers["Content-Type"] == "application/json"
    doc = status_json(srv)
    assert doc["classes"] == [] and doc["totals"]["classes"] == 0


def test_access_is_restricted_with_require(httpd):
    """The README's recipe: the page has no access control of its own;
    mod_authz_host's Require does it."""
    srv = httpd()
    srv.extra_conf = "\n".join([
        'LoadModule authz_host_module "%s"'
        % (conftest.MODDIR / "mod_authz_host.so"),
        "<Location /fcgi-status>", "    SetHandler fastcgi-status",
        "    Require local", "</Location>",
        "<Location /fcgi-status-elsewhere>", "    SetHandler fastcgi-status",
        "    Require ip 192.0.2.1", "</Location>"])
    srv.start()
    assert srv.get("/fcgi-status?json").status == 200
    assert srv.get("/fcgi-status-elsewhere?json").status == 403


def test_server_status_has_a_fastcgi_section(httpd, responder):
    srv, apps, doc = start_full(httpd, responder, extra=SERVER_STATUS_CONF)
    r = srv.get("/server-status")
    assert r.status == 200, r
    body = r.body.decode()
    assert "Apache Server Status" in body
    assert "<h2>FastCGI (mod_fastcgi_x)</h2>" in body
    assert str(apps.pool) in body and str(apps.ext) in body
    for pid in running_pids(class_of(doc, apps.pool)):
        assert "<td>%d</td>" % pid in body
    r = srv.get("/server-status?auto")
    assert r.status == 200
    text = r.body.decode()
    assert "Total Accesses:" in text          # mod_status's own lines
    lines = dict(AUTO_LINE.match(l).groups() for l in text.splitlines()
                 if l.startswith("FastCGI"))
    assert lines["FastCGIClasses"] == "3"
    assert lines["FastCGIProcesses"] == "3"
    assert lines["FastCGIManager"] == "running"
    assert "Process:" not in text              # the short form only


def test_pm_that_cannot_start_is_reported(httpd):
    """The PM exits with its start-up error (a -socket it cannot bind):
    httpd does not restart it and the page says so."""
    srv = httpd()
    app = srv.docroot / "app.fcgi"
    install(conftest.RESPONDER, app)
    srv.extra_conf = "\n".join([
        "FastCgiServer %s -socket /nonexistent-fcgix/dir/s" % app,
        STATUS_CONF])
    srv.start()
    assert conftest.wait_for(
        lambda: "FCGIX00076" in conftest.read_text(srv.error_log), 10)
    body = srv.get("/fcgi-status").body.decode()
    assert "process manager not running" in body
    doc = status_json(srv)
    assert doc["process_manager"] == {
        "running": False, "pid": None, "uptime": None,
        "generation": doc["process_manager"]["generation"],
        "waiting_first_start": 0}
    summary, _, _ = parse_auto(srv.get("/fcgi-status?auto").body.decode())
    assert summary["FastCGIManager"] == "not running"
    assert summary["FastCGIManagerPid"] == "0"


def test_graceful_restart_keeps_the_processes_and_their_age(httpd,
                                                            responder):
    """An unchanged configuration: the new generation's page shows the
    same PM and pool processes, older than the restart."""
    srv, apps, doc = start_full(httpd, responder)
    gen = doc["process_manager"]["generation"]
    pm = doc["process_manager"]["pid"]
    pool = class_of(doc, apps.pool)
    old_pids = set(running_pids(pool))
    time.sleep(1.2)
    os.kill(srv.pid, signal.SIGUSR1)

    def new_generation():
        d = status_json(srv)
        return d if d["process_manager"]["generation"] == gen + 1 else None
    d = conftest.wait_for(new_generation, 15, 0.2)
    assert d, "no new generation: %r" % status_json(srv)
    assert d["process_manager"]["pid"] == pm
    after = class_of(d, apps.pool)
    assert set(running_pids(after)) == old_pids
    ages = [p["age"] for p in after["process_list"] if p["pid"] in old_pids]
    assert ages and min(ages) >= 1, after


def test_graceful_restart_shows_the_new_generation(httpd, responder):
    """New definitions: a new PM and new pool processes."""
    srv, apps, doc = start_full(httpd, responder)
    gen = doc["process_manager"]["generation"]
    old_pids = set(running_pids(class_of(doc, apps.pool)))
    graceful_new_pm(srv)

    def new_generation():
        d = status_json(srv)
        pool = [c for c in d["classes"] if c["path"] == str(apps.pool)]
        if d["process_manager"]["generation"] == gen + 1 and pool and \
                len(running_pids(pool[0])) == 2:
            return d
        return None
    d = conftest.wait_for(new_generation, 15, 0.2)
    assert d, "no new generation: %r" % status_json(srv)
    new_pids = set(running_pids(class_of(d, apps.pool)))
    assert not new_pids & old_pids
    # "running" from the fork on: the exec may come a moment later
    assert conftest.wait_for(
        lambda: all(alive_app(p, "app.fcgi") for p in new_pids), 5)
    # the new board has no dynamic class yet; the external is still there
    assert [c["kind"] for c in d["classes"]] == ["static", "external"]


def test_kept_connections_are_counted_per_child(httpd, responder):
    srv, apps, _ = start_full(httpd, responder, ext_opts="-keep-conn")
    assert srv.get("/ext.fcgi").status == 200
    ext = class_of(status_json(srv), apps.ext)
    # The reaper closes an idle connection within 20 ms; what is left
    # depends on timing and on which child answers: a count, not null.
    assert isinstance(ext["kept_connections"], int)
    assert 0 <= ext["kept_connections"] <= 4
    shutil.rmtree(srv.docroot / "dyn")   # nothing else to look at
