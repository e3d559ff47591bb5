"""Per-application statistics on the status page (issue 14): requests,
in flight, errors by kind, bytes, response times (mean, p50, p99 over the
recent window) in ?json, ?auto and HTML; ?metrics in Prometheus' text
format (checked by a strict parser written here); ?refresh; the request
notes for LogFormat; counts kept across graceful restarts; dynamic apps'
records; the per-host view.

The apps are the libfcgi responder (its query string chooses sleep,
status, size), the evil backend (malformed answers) and a port nobody
listens on.
"""

import json
import math
import os
import re
import signal
import threading
import urllib.parse
from pathlib import Path

import pytest

import conftest
from helpers import (AUTO_LINE, dynamic_dir_conf, external_server, install,
                     raw_request, start)

STATUS_CONF = """<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>"""

ERROR_KINDS = ("connect", "timeout", "protocol", "app_5xx")


# --- helpers -----------------------------------------------------------------

def status_json(srv, host=None):
    r = srv.get("/fcgi-status?json",
                headers={"Host": host} if host else None)
    assert r.status == 200, r
    return json.loads(r.body.decode("utf-8"))


def class_of(doc, path):
    found = [c for c in doc["classes"] if c["path"] == str(path)]
    assert len(found) == 1, "class %s: %r" % (path, doc["classes"])
    return found[0]


def stats_of(srv, path):
    return class_of(status_json(srv), path)["stats"]


def auto_class(srv, path):
    """The fields of path's Class line in ?auto."""
    r = srv.get("/fcgi-status?auto")
    assert r.status == 200, r
    for line in r.body.decode("ascii").splitlines():
        m = AUTO_LINE.match(line)
        assert m, "not a Key: value line: %r" % line
        if m.group(1) == "Class":
            fields = dict(f.split("=", 1) for f in m.group(2).split(" "))
            if fields["path"] == str(path):
                return fields
    raise AssertionError("no Class line for %s" % path)


def ext_server(httpd, responder, opts="", extra=""):
    """httpd with docroot/app.fcgi the responder, and the status page."""
    srv = httpd()
    srv.app = srv.docroot / "app.fcgi"
    srv.extra_conf = "\n".join([external_server(srv.app, responder.address,
                                                opts), STATUS_CONF, extra])
    srv.start()
    return srv


def in_thread(fn, *args):
    box = {}

    def run():
        box["result"] = fn(*args)
    t = threading.Thread(target=run)
    t.start()
    return t, box


# --- a strict parser of the text exposition format 0.0.4 ---------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)(?: -?\d+)?$" % NAME)
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n"
                  else m.group(1), v)


def parse_labels(text, line):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        assert m, "bad label syntax at %d: %r" % (pos, line)
        assert m.group(1) not in labels, "label twice: %r" % line
        labels[m.group(1)] = unescape(m.group(2))
        pos = m.end()
        if pos < len(text):
            assert text[pos] == ",", "no comma between labels: %r" % line
            pos += 1  # the format allows one after the last label
    return labels


def family_of(name, types):
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram",
                                                         "summary"):
            return base
    raise AssertionError("sample %s has no # TYPE before it" % name)


class Metrics:
    """Every sample of a ?metrics page, checked line by line: every
    sample's family has a TYPE, given before its samples; HELP and TYPE at
    most once per family; each family's samples together; label syntax
    and escapes (only \\, \" and \n); float values; unique series;
    counters end in _total; histograms cumulative with le="+Inf" equal to
    _count."""

    def __init__(self, text):
        assert text.endswith("\n"), "no line feed at the end"
        self.types, self.help, self.samples = {}, {}, {}
        done, current = set(), None
        for line in text[:-1].split("\n"):
            if line.startswith("#"):
                self.comment(line)
                continue
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            name, labels, value = m.group(1), m.group(2), m.group(3)
            family = family_of(name, self.types)
            if family != current:
                assert family not in done, "%s samples split up" % family
                if current:
                    done.add(current)
                current = family
            key = (name, frozenset(parse_labels(labels or "", line)
                                   .items()))
            assert key not in self.samples, "series twice: %r" % line
            self.samples[key] = float(value)  # ValueError: not a float
        for name, kind in self.types.items():
            if kind == "counter":
                assert name.endswith("_total"), name
            if kind == "histogram":
                self.check_histogram(name)

    def comment(self, line):
        m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % NAME, line)
        assert m, "bad comment line: %r" % line
        kind, name, rest = m.groups()
        table = self.types if kind == "TYPE" else self.help
        assert name not in table, "%s twice for %s" % (kind, name)
        if kind == "TYPE":
            assert rest in TYPES, line
            assert not any(k[0] == name or k[0].startswith(name + "_")
                           for k in self.samples), (
                "TYPE after samples: %r" % line)
        table[name] = rest

    def check_histogram(self, name):
        series = {}
        for (n, labels), v in self.samples.items():
            if n == name + "_bucket":
                d = dict(labels)
                le = d.pop("le")
                series.setdefault(frozenset(d.items()), []).append(
                    (float(le), v))
        assert series, "histogram %s has no buckets" % name
        for labels, buckets in series.items():
            buckets.sort()
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), (name, labels, buckets)
            assert math.isinf(buckets[-1][0]), (name, labels)
            assert self.samples[(name + "_count", labels)] == counts[-1]
            assert (name + "_sum", labels) in self.samples

    def get(self, name, **labels):
        return self.samples[(name, frozenset(labels.items()))]

    def series(self, name):
        return {k[1]: v for k, v in self.samples.items() if k[0] == name}


def metrics(srv, host=None):
    r = srv.get("/fcgi-status?metrics",
                headers={"Host": host} if host else None)
    assert r.status == 200, r
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return Metrics(r.body.decode("utf-8"))  # strict UTF-8


# --- counts ------------------------------------------------------------------

def test_counts_after_requests(httpd, responder):
    """7 GETs of 1000 bytes, 3 POSTs echoing 500: requests, bytes in and
    out, no error, nothing in flight; the same in ?json, ?auto, HTML and
    ?metrics."""
    srv = ext_server(httpd, responder)
    for _ in range(7):
        r = srv.get("/app.fcgi?bytes=1000")
        assert r.status == 200 and len(r.body) == 1000, r
    for _ in range(3):
        r = srv.post("/app.fcgi?echo", b"x" * 500)
        assert r.status == 200 and r.body == b"x" * 500, r
    st = stats_of(srv, srv.app)
    assert st["requests"] == 10 and st["in_flight"] == 0, st
    assert st["errors"] == dict.fromkeys(ERROR_KINDS, 0), st
    assert st["bytes_in"] == 1500 and st["bytes_out"] == 8500, st
    rt = st["response_time"]
    assert rt["requests"] == 10 and 60 <= rt["window"] <= 120, rt
    assert 0 < rt["mean"] < 1 and 0 < rt["p50"] <= rt["p99"] < 1, rt

    auto = auto_class(srv, srv.app)
    assert auto["stats_requests"] == "10" and auto["stats_in_flight"] == "0"
    assert auto["stats_bytes_in"] == "1500"
    assert auto["stats_bytes_out"] == "8500"
    assert all(auto["stats_errors_" + k] == "0" for k in ERROR_KINDS)
    assert float(auto["stats_p99"]) >= float(auto["stats_p50"]) > 0

    html = srv.get("/fcgi-status").body.decode()
    row = re.search(r"<tr><td>%s</td><td>external</td>(.*?)</tr>"
                    % re.escape(str(srv.app)), html)
    assert row, html
    assert row.group(1).startswith(
        "<td>10</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td>")
    assert row.group(1).endswith("<td>1500</td><td>8500</td>")

    m = metrics(srv)
    app = str(srv.app)
    assert m.get("fastcgi_requests_total", app=app) == 10
    assert m.get("fastcgi_requests_in_flight", app=app) == 0
    assert m.get("fastcgi_request_body_bytes_total", app=app) == 1500
    assert m.get("fastcgi_response_body_bytes_total", app=app) == 8500
    assert m.get("fastcgi_response_time_seconds_count", app=app) == 10
    assert m.get("fastcgi_response_time_seconds_bucket", app=app,
                 le="+Inf") == 10
    for kind in ERROR_KINDS:
        assert m.get("fastcgi_errors_total", app=app, kind=kind) == 0


def test_in_flight_while_a_request_runs(httpd, responder):
    srv = ext_server(httpd, responder)
    t, box = in_thread(srv.get, "/app.fcgi?sleep=1500")
    seen = conftest.wait_for(
        lambda: stats_of(srv, srv.app)["in_flight"] == 1, 1.2, 0.05)
    assert seen, "the sleeping request never counted in flight"
    assert metrics(srv).get("fastcgi_requests_in_flight",
                            app=str(srv.app)) == 1
    t.join(10)
    assert box["result"].status == 200
    st = stats_of(srv, srv.app)
    assert st["in_flight"] == 0 and st["requests"] == 1, st
    assert st["response_time"]["p50"] >= 1.2, st


def test_error_kinds(httpd, responder, evil):
    """Each way a request can fail, counted under its own app: a port
    nobody listens on and FCGI_OVERLOADED are connect errors, silence past
    -idle-timeout a timeout, malformed records or headers and a close
    before END_REQUEST protocol errors, the app's own 500 and 503 app_5xx
    (not connect)."""
    srv = httpd()
    bad = evil()
    d = srv.docroot
    srv.extra_conf = "\n".join([
        "FastCgiExternalServer %s/refused.fcgi -host 127.0.0.1:%d"
        % (d, conftest.free_port()),
        external_server(d / "slow.fcgi", responder.address,
                        "-idle-timeout 1"),
        external_server(d / "app.fcgi", responder.address),
        external_server(d / "evil.fcgi", bad.address),
        STATUS_CONF])
    srv.start()
    assert srv.get("/refused.fcgi").status == 503
    assert srv.get("/slow.fcgi?sleep=2500").status == 504
    assert srv.get("/app.fcgi?status=500").status == 500
    assert srv.get("/app.fcgi?status=503").status == 503
    assert srv.get("/app.fcgi").status == 200
    assert srv.get("/evil.fcgi?mode=bad-version", timeout=15).status == 502
    assert srv.get("/evil.fcgi?mode=oversize-headers",
                   timeout=15).status == 502
    raw_request(srv, "GET", "/evil.fcgi?mode=close-before-end")
    assert srv.get("/evil.fcgi?mode=overloaded", timeout=15).status == 503
    assert srv.get("/evil.fcgi?mode=ok", timeout=15).status == 200

    doc = status_json(srv)
    expect = {
        "refused.fcgi": dict(connect=1, timeout=0, protocol=0, app_5xx=0),
        "slow.fcgi": dict(connect=0, timeout=1, protocol=0, app_5xx=0),
        "app.fcgi": dict(connect=0, timeout=0, protocol=0, app_5xx=2),
        "evil.fcgi": dict(connect=1, timeout=0, protocol=3, app_5xx=0)}
    m = metrics(srv)
    for name, errors in expect.items():
        st = class_of(doc, d / name)["stats"]
        assert st["errors"] == errors, (name, st)
        assert st["in_flight"] == 0, (name, st)
        for kind, n in errors.items():
            assert m.get("fastcgi_errors_total", app=str(d / name),
                         kind=kind) == n, (name, kind)
    assert class_of(doc, d / "app.fcgi")["stats"]["requests"] == 3
    assert class_of(doc, d / "evil.fcgi")["stats"]["requests"] == 5
    assert class_of(doc, d / "slow.fcgi")["stats"]["response_time"][
        "p50"] >= 0.9


def test_percentiles_are_sane(httpd, responder):
    """18 requests of 20 ms and 2 of 300 ms: p50 near 20 ms, p99 near
    300 ms, the mean near 48 ms; the histogram in ?metrics agrees."""
    srv = ext_server(httpd, responder)
    for i in range(20):
        r = srv.get("/app.fcgi?sleep=%d" % (300 if i in (5, 15) else 20))
        assert r.status == 200, r
    rt = stats_of(srv, srv.app)["response_time"]
    assert rt["requests"] == 20, rt
    assert 0.015 <= rt["p50"] <= 0.040, rt
    assert 0.200 <= rt["p99"] <= 0.450, rt
    assert 0.035 <= rt["mean"] <= 0.090, rt
    m = metrics(srv)
    app = str(srv.app)
    assert m.get("fastcgi_response_time_seconds_bucket", app=app,
                 le="0.01") == 0
    assert m.get("fastcgi_response_time_seconds_bucket", app=app,
                 le="0.25") == 18
    assert m.get("fastcgi_response_time_seconds_bucket", app=app,
                 le="0.5") == 20
    total = m.get("fastcgi_response_time_seconds_sum", app=app)
    assert 0.9 <= total <= 1.8, total


# --- ?metrics ----------------------------------------------------------------

def test_metrics_parse_and_cover_every_kind(httpd, responder,
                                            responder_factory):
    """A pool, a dynamic app in a directory whose name needs escaping (a
    quote, a backslash, a byte that is not UTF-8), an external server and
    a balanced one with a member down: the page parses strictly, label
    values come back as the paths (U+FFFD for the bad byte), and the
    process manager's and the members' gauges are there."""
    srv = httpd()
    d = srv.docroot
    pool = install(conftest.RESPONDER, d / "pool.fcgi")
    (d / "dyn").mkdir(mode=0o755)
    odd = Path(os.fsdecode(bytes(d) + b'/dyn/q"b\\s\xff'))
    odd.mkdir(mode=0o755)
    install(conftest.RESPONDER, odd / "d.fcgi")
    members = [responder_factory("127.0.0.1:%d" % conftest.free_port())
               for _ in range(2)]
    srv.extra_conf = "\n".join([
        "FastCgiServer %s -processes 1" % pool,
        dynamic_dir_conf(d / "dyn"), "FastCgiConfig -minProcesses 0",
        external_server(d / "ext.fcgi", responder.address),
        "FastCgiExternalServer %s/bal.fcgi -host %s -host %s "
        "-fail-timeout 30" % (d, members[0].host_port, members[1].host_port),
        STATUS_CONF])
    start(srv)
    members[1].stop()
    for path in ("/pool.fcgi", "/ext.fcgi", "/bal.fcgi", "/bal.fcgi",
                 "/dyn/" + urllib.parse.quote(os.fsencode(odd.name))
                 + "/d.fcgi"):
        assert srv.get(path).status == 200, path
    m = metrics(srv)
    dyn = (bytes(odd) + b"/d.fcgi").decode("utf-8", "replace")
    for app in (str(pool), dyn, str(d / "ext.fcgi")):
        assert m.get("fastcgi_requests_total", app=app) == 1, app
    assert m.get("fastcgi_requests_total", app=str(d / "bal.fcgi")) == 2
    assert m.get("fastcgi_process_manager_up") == 1
    assert m.get("fastcgi_processes", app=str(pool)) == 1
    assert m.get("fastcgi_processes", app=dyn) == 1
    assert m.get("fastcgi_processes_busy", app=dyn) == 0
    bal = str(d / "bal.fcgi")
    assert m.get("fastcgi_member_up", app=bal,
                 member=members[0].host_port) == 1
    assert m.get("fastcgi_member_up", app=bal,
                 member=members[1].host_port) == 0
    assert m.get("fastcgi_member_failures_total", app=bal,
                 member=members[1].host_port) == 1
    assert m.get("fastcgi_member_served_total", app=bal,
                 member=members[0].host_port) == 2
    assert m.types["fastcgi_response_time_seconds"] == "histogram"
    assert m.types["fastcgi_requests_total"] == "counter"
    assert m.types["fastcgi_requests_in_flight"] == "gauge"
    raw = srv.get("/fcgi-status?metrics").body
    assert b'app="' + os.fsencode(str(odd)).replace(b"\\", b"\\\\").replace(
        b'"', b'\\"').replace(b"\xff", "\ufffd".encode()) in raw


def test_metrics_follow_the_view(httpd, responder_factory):
    """Two virtual hosts, an external server each: each host's ?metrics
    names only its own app; FastCgiStatusShowAll On shows both."""
    srv = httpd()
    apps, blocks = {}, []
    for host in ("a.test", "b.test"):
        root = srv.root / "vhosts" / host
        root.mkdir(parents=True)
        apps[host] = root / "ext.fcgi"
        blocks += ["<VirtualHost 127.0.0.1:%d>" % srv.port,
                   "    ServerName %s" % host,
                   '    DocumentRoot "%s"' % root,
                   "    " + external_server(apps[host],
                                            responder_factory().address),
                   "    <Location /fcgi-status>",
                   "        SetHandler fastcgi-status",
                   "    </Location>",
                   "    FastCgiStatusShowAll On" if host == "a.test" else "",
                   "</VirtualHost>"]
    srv.extra_conf = "\n".join(['<Directory "%s">' % (srv.root / "vhosts"),
                                "    Require all granted", "</Directory>"]
                               + blocks)
    srv.start()
    for host in apps:
        assert srv.get("/ext.fcgi", headers={"Host": host}).status == 200
    b = metrics(srv, "b.test").series("fastcgi_requests_total")
    assert b == {frozenset({("app", str(apps["b.test"]))}): 1}, b
    a = metrics(srv, "a.test").series("fastcgi_requests_total")
    assert set(a) == {frozenset({("app", str(p))}) for p in apps.values()}


# --- ?refresh ----------------------------------------------------------------

@pytest.mark.parametrize("query,content", [
    ("?refresh=5", "5"), ("?refresh=0", "1"), ("?refresh=-3", "1"),
    ("?refresh=99999", "3600"), ("?x=1&refresh=30", "30"),
    ("?refresh=abc", None), ("?refresh=5s", None), ("?refresh", None),
    ("", None)])
def test_refresh(httpd, query, content):
    srv = httpd()
    srv.extra_conf = STATUS_CONF
    srv.start()
    body = srv.get("/fcgi-status" + query).body.decode()
    metas = re.findall(r'<meta http-equiv="refresh" content="([^"]*)">', body)
    assert metas == ([content] if content else []), (query, body[:300])
    if content:
        assert body.index("<meta http-equiv") < body.index("</head>")
    assert "http-equiv" not in srv.get(
        "/fcgi-status?json&refresh=5").body.decode()


# --- restarts and dynamic apps -----------------------------------------------

def graceful(srv, extra_conf=None):
    """apache2 -k graceful (with a new configuration when given); returns
    once a child of the new generation answers."""
    gen = status_json(srv)["process_manager"]["generation"]
    if extra_conf is not None:
        srv.extra_conf = extra_conf
        srv.write_conf()
    os.kill(srv.pid, signal.SIGUSR1)
    assert conftest.wait_for(
        lambda: status_json(srv)["process_manager"]["generation"] > gen,
        15, 0.2), "no new generation"


def test_counts_survive_a_graceful_restart(httpd, responder):
    srv = ext_server(httpd, responder)
    for _ in range(5):
        assert srv.get("/app.fcgi?bytes=100").status == 200
    graceful(srv)
    st = stats_of(srv, srv.app)
    assert st["requests"] == 5 and st["bytes_out"] == 500, st
    assert srv.get("/app.fcgi").status == 200
    assert stats_of(srv, srv.app)["requests"] == 6


def test_counts_survive_a_restart_that_needs_a_larger_table(httpd,
                                                            responder):
    """200 more apps after the restart: a new table, the counts carried
    over."""
    srv = ext_server(httpd, responder)
    for _ in range(4):
        assert srv.get("/app.fcgi").status == 200
    many = "\n".join(external_server(srv.docroot / ("x%d.fcgi" % i),
                                     responder.address)
                     for i in range(200))
    graceful(srv, srv.extra_conf + "\n" + many)
    assert stats_of(srv, srv.app)["requests"] == 4
    assert srv.get("/x7.fcgi").status == 200
    assert srv.get("/app.fcgi").status == 200
    doc = status_json(srv)
    assert class_of(doc, srv.docroot / "x7.fcgi")["stats"]["requests"] == 1
    assert class_of(doc, srv.app)["stats"]["requests"] == 5


def test_dynamic_app_gets_a_record_that_outlives_its_processes(httpd):
    """A dynamic app's first request takes a record; when its processes
    are stopped for idling (its class freed), ?metrics still has its
    counts, and its next request counts on."""
    srv = httpd()
    dyn = srv.docroot / "dyn"
    dyn.mkdir(mode=0o755)
    app = install(conftest.RESPONDER, dyn / "d.fcgi")
    srv.extra_conf = "\n".join([
        dynamic_dir_conf(dyn),
        "FastCgiConfig -minProcesses 0 -killInterval 1", STATUS_CONF])
    start(srv)
    for _ in range(3):
        assert srv.get("/dyn/d.fcgi?status=500").status == 500
    st = stats_of(srv, app)
    assert st["requests"] == 3 and st["errors"]["app_5xx"] == 3, st
    gone = conftest.wait_for(
        lambda: not [c for c in status_json(srv)["classes"]
                     if c["path"] == str(app)], 20, 0.2)
    assert gone, "the idle dynamic app was never stopped"
    m = metrics(srv)
    assert m.get("fastcgi_requests_total", app=str(app)) == 3
    assert m.get("fastcgi_errors_total", app=str(app), kind="app_5xx") == 3
    assert srv.get("/dyn/d.fcgi").status == 200
    assert stats_of(srv, app)["requests"] == 4


# --- request notes -----------------------------------------------------------

NOTES_LOG = ('LogFormat "%U %{fastcgi-app}n %{fastcgi-member}n '
             '%{fastcgi-connect-time}n %{fastcgi-first-byte-time}n '
             '%{fastcgi-app-time}n" notes\n')


def note_rows(path, n):
    assert conftest.wait_for(
        lambda: path.exists() and len(path.read_text().splitlines()) >= n, 5)
    return [line.split(" ") for line in path.read_text().splitlines()]


def test_notes_name_the_app_and_its_socket(httpd, responder, workdir):
    """An external server: its socket, a connect time of 0 on a kept
    connection; a FastCgiServer: the socket of the process that served;
    the times in microseconds, connect <= first byte <= the whole; a
    request the module did not serve: no notes."""
    srv = httpd()
    log = workdir / "notes.log"
    pool = install(conftest.RESPONDER, srv.docroot / "pool.fcgi")
    srv.extra_conf = "\n".join([
        external_server(srv.docroot / "ext.fcgi", responder.address,
                        "-keep-conn"),
        "FastCgiServer %s -processes 1" % pool,
        NOTES_LOG + 'CustomLog "%s" notes' % log])
    start(srv)
    assert srv.get("/ext.fcgi?sleep=30").status == 200
    for _ in range(4):  # back to back: kept connections idle 20 ms at most
        assert srv.get("/ext.fcgi").status == 200
    assert srv.get("/pool.fcgi").status == 200
    assert srv.get("/static-nothing.txt").status == 404
    rows = note_rows(log, 7)
    ext = [r for r in rows if r[0] == "/ext.fcgi"]
    assert len(ext) == 5, rows
    for uri, app, member, conn, first, total in ext:
        assert app == str(srv.docroot / "ext.fcgi")
        assert member == responder.address
        assert 0 <= int(conn) <= int(first) <= int(total) < 5_000_000
    assert int(ext[0][4]) >= 25_000, (ext[0], "the app slept 30 ms")
    # The child kept the connection: a request on it connects in 0 us.
    assert any(r[3] == "0" for r in ext[1:]), ext
    (_, app, member, conn, first, total), = [r for r in rows
                                             if r[0] == "/pool.fcgi"]
    assert app == str(pool)
    assert member.startswith(str(srv.root / "run" / "fastcgi") + "/"), member
    assert int(conn) <= int(first) <= int(total)
    (static,) = [r for r in rows if r[0] == "/static-nothing.txt"]
    assert static[1:] == ["-"] * 5, static


def test_conn_note_says_new_or_kept(httpd, responder, workdir):
    """fastcgi-conn: "new" for a request that opened its connection,
    "kept" for one on a connection an earlier request left open
    (-keep-conn); -multiplex's "shared" and "asked" are in
    test_multiplex.py."""
    srv = httpd()
    log = workdir / "conn.log"
    srv.extra_conf = "\n".join([
        external_server(srv.docroot / "ext.fcgi", responder.address,
                        "-keep-conn"),
        'LogFormat "%U %{fastcgi-conn}n" conn',
        'CustomLog "%s" conn' % log])
    start(srv)
    for _ in range(5):  # back to back: kept connections idle 20 ms at most
        assert srv.get("/ext.fcgi").status == 200
    kinds = [r[1] for r in note_rows(log, 5)]
    assert kinds[0] == "new", kinds
    assert "kept" in kinds[1:], kinds
    assert set(kinds) <= {"new", "kept"}, kinds


def test_failed_request_notes_and_authorizer(httpd, responder, workdir):
    """A refused connection still names the app and the address tried,
    with no first byte; an access checker's exchange is noted on the
    request it checks and counted under its own path."""
    authz = conftest.REPO / "build" / "fcgi_authorizer"
    sock = workdir / "authz.sock"
    b = conftest.Backend("fcgi_authorizer", [str(authz), str(sock)],
                         workdir / "authz.log")
    try:
        assert conftest.wait_for(lambda: sock.exists(), 10)
        sock.chmod(0o777)
        srv = httpd()
        log = workdir / "notes.log"
        port = conftest.free_port()
        checker = srv.docroot / "authz.fcgi"
        (srv.docroot / "internal").mkdir()
        (srv.docroot / "internal" / "page.txt").write_text("page\n")
        srv.extra_conf = "\n".join([
            "FastCgiExternalServer %s/down.fcgi -host 127.0.0.1:%d"
            % (srv.docroot, port),
            "FastCgiExternalServer %s -socket %s" % (checker, sock),
            "<Location /internal>",
            "    FastCgiAccessChecker %s" % checker,
            "</Location>", STATUS_CONF,
            NOTES_LOG + 'CustomLog "%s" notes' % log])
        srv.start()
        assert srv.get("/down.fcgi").status == 503
        assert srv.get("/internal/page.txt").status == 200
        assert srv.get("/internal/page.txt?blocked").status == 403
        assert srv.get("/internal/page.txt?status500").status in (500, 503)
        rows = note_rows(log, 4)
        down = [r for r in rows if r[0] == "/down.fcgi"][0]
        assert down[1:3] == [str(srv.docroot / "down.fcgi"),
                             "127.0.0.1:%d" % port], down
        assert down[4] == "-" and int(down[3]) <= int(down[5]), down
        checked = [r for r in rows if r[0] == "/internal/page.txt"]
        assert len(checked) == 3, rows
        assert all(r[1] == str(checker) and r[2] == str(sock)
                   for r in checked), checked
        st = stats_of(srv, checker)
        assert st["requests"] == 3, st
        assert st["errors"] == dict(connect=0, timeout=0, protocol=0,
                                    app_5xx=1), st
    finally:
        b.stop()
