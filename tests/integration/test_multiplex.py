"""-multiplex (issue 16, item 3): FCGI_GET_VALUES discovery, then many
requests in flight on a few shared connections to an app that says
FCGI_MPXS_CONNS=1, and one request per connection, without an error, to
apps that say 0 or do not answer.

The apps are real: Go's net/http/fcgi (tests/apps/go_hello.go, which
multiplexes; `?conns` counts the connections it accepted, `?echo` sends
the body back, `?big=N` answers N bytes, every answer names its request
in X-Req), the libfcgi test responder and php-fpm (which do not). Two
Python helpers in this file stand for what those apps do not show: a
backend that records the type of every record it gets and answers the
question as it is told (0, nothing, 0 then a close, or 1 late), and a
relay that cuts the connections it carries while the app stays up.

An httpd child opens at most MUX_CONNS_PER_CHILD connections to a
multiplexing app; the harness's event MPM has at most ServerLimit
children (conftest: 2 of 16 threads), so a count of the app's
connections is bounded by their product however the requests spread.
"""

import concurrent.futures
import hashlib
import http.client
import os
import re
import signal
import socket
import threading
import time

import pytest

import conftest
from helpers import (RawConn, Result, assert_no_child_crash, children_of,
                     eb, fetch, install, load_clients, log_lines, pattern,
                     pm_pids, put_file, read_response, request_bytes, start,
                     start_app, wait_log)
import test_pm_apps
from test_php import php_vars, start_php_direct

go_app = test_pm_apps.go_app   # the fixture: go_hello.go built once

MUX_CONNS_PER_CHILD = 4      # min(FCGI_MAX_CONNS, 4); Go names no maximum
SLOT_BYTES = 1 << 20         # FCGIX_MUX_SLOT_BYTES
CONCURRENT = 32              # the harness's MaxRequestWorkers
SLEEP_MS = 200
PATH = "/app.fcgi"           # helpers.start_app's external server
MUX_NAMES = {b"FCGI_MPXS_CONNS", b"FCGI_MAX_REQS", b"FCGI_MAX_CONNS"}
GO_START_TIMEOUT = 10.0
REQUEST_TIMEOUT = 20.0


# --- The Go app as an external server ----------------------------------------

class GoServer(conftest.Backend):
    """go_hello started by the test, listening on `unix:PATH` or on
    127.0.0.1:PORT. Waiting for it to listen costs one connection
    (conftest.can_connect's, accepted and closed): `probes`, which
    httpd_conns() takes off the app's count."""
    probes = 1


def start_go(workdir, go_app, where, index):
    """where: "unix", "tcp", or the address of a previous one (to start
    again in its place)."""
    if where == "unix":
        where = str(workdir / ("go%d.sock" % index))
    elif where == "tcp":
        where = ("127.0.0.1", conftest.free_port())
    if isinstance(where, tuple):
        arg = "%s:%d" % where
    else:
        arg = "unix:" + where
    b = GoServer("go_hello", [str(go_app), arg],
                 workdir / ("go%d.log" % index))
    if not conftest.wait_for(lambda: not b.alive()
                             or conftest.can_connect(where),
                             GO_START_TIMEOUT):
        b.stop()
        pytest.fail("go_hello not listening on %r:\n%s" % (
            where, conftest.read_text(b.log_path)), pytrace=False)
    b.fail_if_dead("listening")
    if isinstance(where, str):
        os.chmod(where, 0o777)   # httpd's children run as www-data
    b.address = where
    return b


@pytest.fixture
def go_server(request, workdir, go_app):
    """factory: go_server("unix" | "tcp" | address) -> a running GoServer;
    each stopped by its PID at the end."""
    yield from backends(
        request, lambda i, where="unix": start_go(workdir, go_app, where, i))


def backends(request, start_one):
    """A fixture's factory of backends: start_one(index, *args) starts one;
    each is tracked (its logs shown when the test fails) and stopped at
    the end."""
    started = []

    def make(*args):
        b = start_one(len(started), *args)
        started.append(b)
        conftest.track(request, b)
        return b

    yield make
    for b in started:
        b.stop()


def app_conns(srv, path=PATH):
    """(accepted, open) from the app's `?conns`, through httpd."""
    r = fetch(srv, path + "?conns", REQUEST_TIMEOUT)
    assert r.status == 200, r
    m = re.fullmatch(rb"accepted (\d+) open (\d+)\n", r.body)
    assert m, r.body
    return int(m.group(1)), int(m.group(2))


def httpd_conns(srv, go, path=PATH):
    """The connections httpd opened to go: (accepted, open)."""
    accepted, still_open = app_conns(srv, path)
    return accepted - go.probes, still_open


def server_limit(srv):
    return int(re.search(r"^ServerLimit (\d+)$", srv.config_text(),
                         re.M).group(1))


def mux_bound(srv):
    """The most connections the children of srv may hold to one
    multiplexing app."""
    return MUX_CONNS_PER_CHILD * server_limit(srv)


# --- Requests and what their answers must be ---------------------------------

def send(srv, method, target, body=None, timeout=REQUEST_TIMEOUT):
    """One request on its own connection; never raises for a connection
    error or a timeout (helpers.fetch, with a method and a body)."""
    t0 = time.monotonic()
    try:
        r = srv.request(method, target, body=body, timeout=timeout)
    except (OSError, http.client.HTTPException) as e:
        return Result(seconds=time.monotonic() - t0, error=repr(e))
    return Result(r.status, r.headers, r.body, time.monotonic() - t0)


class Call:
    """A request to the Go app and its outcome: a POST `?echo` with a
    body of its own, or a GET; each has a query of its own."""

    def __init__(self, path, query, body=None):
        self.path = path
        self.query = query
        self.body = body
        self.result = None

    def run(self, srv, timeout=REQUEST_TIMEOUT):
        target = "%s?%s" % (self.path, self.query)
        if self.body is None:
            self.result = send(srv, "GET", target, timeout=timeout)
        else:
            self.result = send(srv, "POST", target, self.body, timeout)
        return self

    def wrong(self):
        """Why the result is not this request's answer, or None."""
        r = self.result
        if r.status != 200:
            return "%s?%s: %r" % (self.path, self.query, r)
        xreq = r.headers.get("X-Req")
        if xreq != "%s?%s" % (self.path, self.query):
            return "%s?%s: answer of another request (X-Req %r)" % (
                self.path, self.query, xreq)
        if self.body is not None:
            if r.body != self.body:
                return "%s?%s: echo %r, sent %r" % (
                    self.path, self.query, r.body[:60], self.body[:60])
        elif not (r.body.startswith(b"go ")
                  and r.body.endswith(b" %s\n" % self.path.encode())):
            return "%s?%s: body %r" % (self.path, self.query, r.body)
        return None

    def __repr__(self):
        return "Call(%s %s?%s -> %r)" % (
            "GET" if self.body is None else "POST", self.path, self.query,
            self.result)


def calls(path, n, sleep_ms, tag="i"):
    """n requests: even ones POST `?echo` with a small body of their own,
    odd ones GET; each sleeps sleep_ms in the app."""
    out = []
    for i in range(n):
        query = "sleep=%d&%s=%d" % (sleep_ms, tag, i)
        if i % 2 == 0:
            out.append(Call(path, "echo&" + query,
                            b"body of request %s=%d;" % (tag.encode(), i)
                            * (1 + i % 7)))
        else:
            out.append(Call(path, query))
    return out


def run_all(srv, batch, timeout=REQUEST_TIMEOUT):
    """Every Call of batch at once; returns batch."""
    with concurrent.futures.ThreadPoolExecutor(len(batch)) as ex:
        list(ex.map(lambda c: c.run(srv, timeout), batch))
    return batch


def assert_all_right(batch):
    problems = [w for w in (c.wrong() for c in batch) if w]
    assert not problems, "%d of %d wrong:\n%s" % (
        len(problems), len(batch), "\n".join(problems))


def module_errors(srv):
    return log_lines(srv, "[fastcgi_x:error]")


def httpd_children(srv):
    """The live httpd children of srv (its PM left out)."""
    pms = set(pm_pids(srv))
    return [c for c in children_of(srv.pid) if c not in pms]


def warm_up(srv):
    """One GET (a request that may carry the question: it can be sent
    again), so that the httpd child (the harness starts one) has asked
    the app and knows it multiplexes: the requests a test then sends at
    once share its connections, none goes on a connection of its own
    while the question is pending."""
    assert_all_right(run_all(srv, [Call(PATH, "warm=1")]))
    assert wait_log(srv, "FCGIX00054", "multiplexes"), (
        "the app was not found to multiplex")


# --- The Go app, external, multiplexed ---------------------------------------

@pytest.mark.parametrize("where", ["unix", "tcp"])
def test_go_external_shares_a_few_connections(httpd, go_server, where):
    """32 concurrent requests (sleep 200 ms; half POST `?echo` with
    bodies of their own, half GET) to Go's net/http/fcgi with -multiplex:
    all 200, each answer is its own request's (X-Req, the echoed body),
    and the app accepted at most 4 connections per httpd child, far fewer
    than one per request."""
    go = go_server(where)
    srv = start_app(httpd, go.address, opts="-multiplex")
    batch = run_all(srv, calls(PATH, CONCURRENT, SLEEP_MS))
    assert_all_right(batch)
    accepted, still_open = httpd_conns(srv, go)
    assert 1 <= accepted <= mux_bound(srv), (accepted, still_open)
    assert accepted <= CONCURRENT // 2, accepted
    assert not module_errors(srv), module_errors(srv)


def test_conn_note_says_asked_then_shared(httpd, go_server, workdir):
    """The request note fastcgi-conn: the first request of the child went
    with the question ("asked"), the next ones on the shared connection
    ("shared"); the access log shows it."""
    go = go_server("unix")
    log = workdir / "conn.log"
    srv = start_app(httpd, go.address, opts="-multiplex",
                    extra='LogFormat "%U %{{fastcgi-conn}}n" conn\n'
                          'CustomLog "' + str(log) + '" conn')
    for i in range(4):
        r = fetch(srv, PATH + "?n=%d" % i, REQUEST_TIMEOUT)
        assert r.status == 200, r
    assert conftest.wait_for(
        lambda: log.exists() and len(log.read_text().splitlines()) >= 4, 5)
    kinds = [line.split()[1] for line in log.read_text().splitlines()]
    assert kinds[0] == "asked", kinds
    assert kinds[1:] == ["shared"] * 3, kinds


def test_large_bodies_at_once_each_reach_their_request(httpd, go_server):
    """12 POSTs at once, each with a 300 KiB body of its own (many STDIN
    records each, read by httpd in pieces): the app gets each request's
    records whole, never one inside another, and echoes each body to its
    own request."""
    go = go_server("unix")
    srv = start_app(httpd, go.address, opts="-multiplex")
    warm_up(srv)
    batch = [Call(PATH, "echo&n=%d" % i,
                  hashlib.sha256(b"%d" % i).digest() * (300 * 1024 // 32))
             for i in range(12)]
    assert_all_right(run_all(srv, batch))
    assert not module_errors(srv), module_errors(srv)


def test_go_external_without_multiplex_one_connection_each(httpd,
                                                           go_server):
    """The same 32 concurrent sleeping requests without -multiplex: the
    app accepts a connection per request, far more than the multiplexed
    bound; so the option is what changes it."""
    go = go_server("unix")
    srv = start_app(httpd, go.address)
    batch = run_all(srv, calls(PATH, CONCURRENT, SLEEP_MS))
    assert_all_right(batch)
    accepted, _ = httpd_conns(srv, go)
    assert accepted > mux_bound(srv), accepted
    assert accepted >= CONCURRENT, accepted


def test_go_pool_process_runs_requests_concurrently(httpd, go_app):
    """A FastCgiServer Go app, -processes 1 -multiplex: 32 concurrent
    requests sleeping 300 ms each finish together in far less than 32 x
    300 ms (the one process ran them at the same time), over at most 4
    connections per httpd child."""
    srv = httpd()
    app = install(go_app, srv.docroot / "gomux.fcgi")
    srv.extra_conf = "FastCgiServer %s -processes 1 -multiplex" % app
    start(srv)
    path = "/gomux.fcgi"
    sleep_ms = 300
    t0 = time.monotonic()
    batch = run_all(srv, calls(path, CONCURRENT, sleep_ms))
    took = time.monotonic() - t0
    assert_all_right(batch)
    assert len({c.result.body for c in batch if c.body is None}) == 1, (
        "more than one process answered: %r" % batch)
    serial = CONCURRENT * sleep_ms / 1000.0
    assert took < serial / 2.5, "took %.1f s (%.1f s one at a time)" % (
        took, serial)
    accepted, still_open = app_conns(srv, path)
    assert 1 <= accepted <= mux_bound(srv), (accepted, still_open)
    assert not module_errors(srv), module_errors(srv)


def test_go_pool_changed_by_a_graceful_restart_under_load(httpd, go_app):
    """A FastCgiServer Go app with -multiplex, changed by a graceful
    restart (another -initial-env) while 8 clients keep asking it: the PM
    takes the new pool, the requests on the old process's shared
    connections finish there, no request fails, and then a new Go process
    serves."""
    srv = httpd()
    app = install(go_app, srv.docroot / "gomux.fcgi")
    line = "FastCgiServer %s -processes 1 -multiplex" % app
    srv.extra_conf = line
    start(srv)
    first = fetch(srv, "/gomux.fcgi", REQUEST_TIMEOUT)
    assert first.status == 200, first
    threads, results = load_clients(srv, ["/gomux.fcgi?sleep=20"], 8, 5.0)
    time.sleep(1.5)
    srv.extra_conf = line + " -initial-env ROUND=1"
    srv.write_conf()
    os.kill(srv.pid, signal.SIGUSR1)
    assert wait_log(srv, "FCGIX00062", "only FastCgiServer pools")
    for t in threads:
        t.join(40)
    failed = [r for _, _, _, r in results if r.status != 200]
    assert results and not failed, failed[:5]
    assert len({r.body for _, _, _, r in results}) >= 2, \
        "the old and the new process both answered"
    last = fetch(srv, "/gomux.fcgi", REQUEST_TIMEOUT)
    assert last.status == 200 and last.body != first.body, (first, last)
    assert not module_errors(srv), module_errors(srv)


# --- Apps that do not multiplex ----------------------------------------------

def test_libfcgi_pool_with_multiplex_serves_as_before(httpd):
    """The libfcgi responder (FCGI_MPXS_CONNS=0, one request at a time)
    as a FastCgiServer with -multiplex: GETs and POSTs with bodies (small,
    and 100 KiB: more than a probe may keep for a resend) all answered
    right, also concurrently; concurrent requests never share a
    connection (libfcgi would refuse a second request on one); no
    error-level line."""
    srv = httpd()
    app = install(conftest.RESPONDER, srv.docroot / "lib.fcgi")
    srv.extra_conf = "FastCgiServer %s -processes 2 -multiplex" % app
    start(srv)
    small = b"small body " * 90
    large = bytes(range(256)) * 400
    for i in range(12):
        kind = i % 3
        if kind == 0:
            r = send(srv, "GET", "/lib.fcgi")
            assert (r.status, r.body) == (200, b"hello\n"), (i, r)
        else:
            body = small if kind == 1 else large
            r = send(srv, "POST", "/lib.fcgi?echo", body)
            assert r.status == 200 and r.body == body, (i, r)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        rs = list(ex.map(
            lambda i: send(srv, "GET", "/lib.fcgi?conn&sleep=300&i=%d" % i),
            range(2)))
    assert all(r.status == 200 for r in rs), rs
    inodes = [re.match(rb"conn=(\d+) ", r.body).group(1) for r in rs]
    assert inodes[0] != inodes[1], rs
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(
            lambda i: send(srv, "POST", "/lib.fcgi?echo&sleep=50&i=%d" % i,
                           b"%d;" % i * 100), range(8)))
    bad = [(i, r) for i, r in enumerate(rs)
           if r.status != 200 or r.body != b"%d;" % i * 100]
    assert not bad, bad
    assert not module_errors(srv), module_errors(srv)


def fpm_request(srv, i):
    """Request i of the php-fpm test: a GET, a small form POST or a 1 MiB
    POST; returns None when its answer is right, else why not."""
    kind = i % 3
    if kind == 0:
        r = send(srv, "GET", "/test.php?i=%d" % i)
        want = {"QUERY_STRING": "i=%d" % i}
    else:
        body = (b"a=%d&b=two" % i if kind == 1
                else b"x=" + os.urandom(SLOT_BYTES // 2).hex().encode())
        r = send(srv, "POST", "/test.php?i=%d" % i, body)
        want = {"QUERY_STRING": "i=%d" % i, "INPUT_LEN": str(len(body)),
                "INPUT_MD5": hashlib.md5(body).hexdigest()}
    if r.status != 200:
        return "request %d: %r" % (i, r)
    v = php_vars(r)
    got = {k: v.get(k) for k in want}
    return None if got == want else "request %d: %r, not %r" % (i, got,
                                                                 want)


def test_php_fpm_with_multiplex_never_fails(httpd, php_fpm):
    """php-fpm answers FCGI_GET_VALUES and then closes the connection
    without reading the request sent with it: with -multiplex every
    request is still answered (the probed one is sent again on a plain
    connection): 20 in a row, then 10 at once; GETs, small POSTs and
    1 MiB POSTs; no error-level line from the module."""
    srv = start_php_direct(httpd, php_fpm, "-multiplex")
    problems = [p for p in (fpm_request(srv, i) for i in range(20)) if p]
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        problems += [p for p in ex.map(lambda i: fpm_request(srv, i),
                                       range(20, 30)) if p]
    assert not problems, "\n".join(problems)
    assert not module_errors(srv), module_errors(srv)


# --- What is asked, and where: a backend that records record types -----------

class UnixListener:
    """A listening Unix socket at path, open to httpd's children, whose
    accepting thread hands each connection to self.accepted_conn()."""

    def __init__(self, path):
        self.path = str(path)
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(self.path)
        os.chmod(self.path, 0o777)
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop_event.is_set():
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                continue
            self.accepted_conn(conn)

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)
        self.lsock.close()


class Recorder(UnixListener):
    """A FastCGI backend on a Unix socket that records, per connection in
    the order accepted, the type of every record it receives, and the
    names each FCGI_GET_VALUES asks for. It answers FCGI_GET_VALUES as
    libfcgi does (FCGI_MPXS_CONNS=0, one connection, one request), or
    not at all (values="silent"), or with FCGI_MPXS_CONNS=0 and then
    closes the connection without reading on (values="close", what
    php-fpm is said to do; Debian 12's php-fpm 8.2 answers and serves the
    request), or with FCGI_MPXS_CONNS=1 after 300 ms (values="slow-mux":
    then it serves the requests of a connection interleaved, each by its
    own id); each request gets a short 200."""

    BODY = b"recorded\n"

    def __init__(self, path, values="zero"):
        self.values = values
        self.conns = []          # [[record type, ...]] per connection
        self.asked = []          # [set of names] per FCGI_GET_VALUES
        super().__init__(path)

    def accepted_conn(self, conn):
        types = []
        with self.lock:
            self.conns.append(types)
        threading.Thread(target=self._serve, args=(conn, types),
                         daemon=True).start()

    def _answer_values(self, conn, content):
        """False when the connection is to be closed."""
        names = set(eb.decode_pairs(content))
        with self.lock:
            self.asked.append(names)
        if self.values == "silent":
            return True
        known = {b"FCGI_MAX_CONNS": b"1", b"FCGI_MAX_REQS": b"1",
                 b"FCGI_MPXS_CONNS": b"0"}
        if self.values == "slow-mux":
            time.sleep(0.3)
            known = {b"FCGI_MPXS_CONNS": b"1"}
        conn.sendall(eb.rec(eb.GET_VALUES_RESULT, 0, b"".join(
            eb.encode_pair(n, known[n]) for n in names if n in known)))
        return self.values != "close"

    def _serve(self, conn, types):
        keep = {}
        try:
            conn.settimeout(10)
            while not self.stop_event.is_set():
                record = eb.read_record(conn, time.monotonic() + 10)
                if record is None:
                    break
                _version, rtype, rid, content = record
                types.append(rtype)
                if rtype == eb.GET_VALUES:
                    if not self._answer_values(conn, content):
                        conn.close()    # the request unread
                        return
                elif rtype == eb.BEGIN_REQUEST:
                    keep[rid] = bool(content[2] & eb.KEEP_CONN)
                elif rtype == eb.STDIN and not content:
                    conn.sendall(eb.stream(
                        eb.STDOUT, rid,
                        b"Content-Type: text/plain\r\n\r\n" + self.BODY)
                        + eb.end_request(rid))
                    if not keep.pop(rid, False):
                        break
        except (OSError, TimeoutError):
            pass
        eb.close_gracefully(conn)

    def log_sections(self):
        with self.lock:
            return [("recording backend", "connections: %r\nasked: %r"
                     % (self.conns, self.asked))]


@pytest.fixture
def recorder(request, workdir):
    yield from backends(request, lambda i, values="zero": Recorder(
        workdir / ("recorder%d.sock" % i), values))


@pytest.mark.parametrize("opts, values", [
    ("-multiplex", "zero"), ("-multiplex", "silent"), ("", "zero")])
def test_what_is_asked_and_where(httpd, recorder, opts, values):
    """With -multiplex the first connection of a child brings
    FCGI_GET_VALUES (MPXS_CONNS, MAX_REQS, MAX_CONNS) first, then
    BEGIN_REQUEST on the same connection (never a probe-only
    connection); after an answer of 0, or none, the child never asks
    again: at most one FCGI_GET_VALUES per httpd child over 8 requests
    in a row and 6 at once, all answered. Without -multiplex no
    FCGI_GET_VALUES is ever sent."""
    backend = recorder(values)
    srv = start_app(httpd, backend.path, opts=opts)
    rs = [send(srv, "GET", PATH + "?n=%d" % i) for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        rs += list(ex.map(lambda i: send(srv, "GET", PATH + "?c=%d" % i),
                          range(6)))
    assert all((r.status, r.body) == (200, Recorder.BODY) for r in rs), rs
    with backend.lock:
        conns = [list(t) for t in backend.conns]
        asked = list(backend.asked)
    asking = [t for t in conns if eb.GET_VALUES in t]
    if not opts:
        assert not asking and not asked, conns
        return
    assert conns and conns[0][:2] == [eb.GET_VALUES, eb.BEGIN_REQUEST], (
        conns)
    assert all(t.index(eb.GET_VALUES) == 0 and eb.BEGIN_REQUEST in t
               for t in asking), conns
    assert 1 <= len(asking) <= server_limit(srv), conns
    assert all(names == MUX_NAMES for names in asked), asked
    assert not module_errors(srv), module_errors(srv)


def test_app_that_closes_after_answering_the_question(httpd, recorder):
    """An app that answers FCGI_GET_VALUES (FCGI_MPXS_CONNS=0) and then
    closes the connection without reading the request that came with it:
    that request is sent again on a plain connection; no request fails
    (8 GETs in a row, POSTs of 100 bytes and 100 KiB, 6 GETs at once),
    only the first connection carries the question, and no error-level
    line is logged."""
    backend = recorder("close")
    srv = start_app(httpd, backend.path, opts="-multiplex")
    rs = [send(srv, "GET", PATH + "?n=%d" % i) for i in range(8)]
    rs += [send(srv, "POST", PATH + "?p=%d" % n, b"p" * n)
           for n in (100, 100 * 1024)]
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        rs += list(ex.map(lambda i: send(srv, "GET", PATH + "?c=%d" % i),
                          range(6)))
    assert all((r.status, r.body) == (200, Recorder.BODY) for r in rs), rs
    with backend.lock:
        conns = [list(t) for t in backend.conns]
    asking = [t for t in conns if eb.GET_VALUES in t]
    assert conns[0][:1] == [eb.GET_VALUES], conns
    assert 1 <= len(asking) <= server_limit(srv), conns
    assert not module_errors(srv), module_errors(srv)


def test_requests_sent_while_the_app_is_asked_keep_the_bound(httpd,
                                                              recorder):
    """An app that multiplexes but takes 300 ms to say so: 10 requests
    sent at once to a fresh httpd child, while the question is pending,
    all succeed over at most 4 connections per child; those that come
    before the answer do not each open a connection of their own."""
    backend = recorder("slow-mux")
    srv = start_app(httpd, backend.path, opts="-multiplex")
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        rs = list(ex.map(lambda i: send(srv, "GET", PATH + "?c=%d" % i),
                         range(10)))
    assert all((r.status, r.body) == (200, Recorder.BODY) for r in rs), rs
    children = httpd_children(srv)
    with backend.lock:
        conns = [list(t) for t in backend.conns]
    assert len(conns) <= MUX_CONNS_PER_CHILD * len(children), (
        "%d connections from %d httpd children: %r"
        % (len(conns), len(children), conns))


# --- Failures on a shared connection -----------------------------------------

def reset(sock):
    """Close with a TCP RST, as a client that goes away."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def doomed_request(srv, kind):
    """A client connection that sent a request it will not see through:
    a GET the app answers in 1.5 s, or a POST that sent 5,000 of the
    100,000 bytes it announced."""
    sock = socket.create_connection(("127.0.0.1", srv.port), 10)
    if kind == "get-waiting":
        sock.sendall(request_bytes(srv, "GET",
                                   PATH + "?sleep=1500&doomed=get"))
    else:
        sock.sendall(request_bytes(
            srv, "POST", PATH + "?echo&doomed=post",
            headers=[("Content-Length", "100000")]) + b"y" * 5000)
    return sock


@pytest.mark.parametrize("kind", ["get-waiting", "post-mid-body"])
def test_client_reset_leaves_the_others_on_the_connection(httpd, go_server,
                                                          kind):
    """A client of a multiplexed Go app goes away (TCP reset) mid-request:
    a GET waiting for its answer (Go ignores FCGI_ABORT_REQUEST once a
    request's input is complete and answers it later), or a POST half-way
    through its body (Go answers the abort with FCGI_END_REQUEST, and
    its handler's output and a second END_REQUEST follow). The 6 other
    requests in flight on the same connection, and 8 sent just after
    (which may get the freed request id), all complete with their own
    answers; the app's connections stay few (an abort does not cost the
    connection); no error-level line."""
    go = go_server("unix")
    srv = start_app(httpd, go.address, opts="-multiplex")
    warm_up(srv)
    first = calls(PATH, 6, 1500, tag="first")
    second = calls(PATH, 8, 1500, tag="second")
    doomed = None
    try:
        with concurrent.futures.ThreadPoolExecutor(len(first)
                                                   + len(second)) as ex:
            done = [ex.submit(c.run, srv) for c in first]
            doomed = doomed_request(srv, kind)
            time.sleep(0.5)
            reset(doomed)
            time.sleep(0.1)
            done += [ex.submit(c.run, srv) for c in second]
            for f in done:
                f.result(timeout=REQUEST_TIMEOUT + 5)
    finally:
        if doomed is not None:
            doomed.close()
    assert_all_right(first + second)
    accepted, _ = httpd_conns(srv, go)
    assert accepted <= mux_bound(srv), accepted
    assert not module_errors(srv), module_errors(srv)
    assert_no_child_crash(srv, settle=1.0)


class Relay(UnixListener):
    """A Unix socket relay from httpd to an app; break_all() cuts every
    connection it carries at both ends, as a connection that breaks while
    the app stays up."""

    def __init__(self, path, upstream):
        self.upstream = upstream
        self.pairs = []
        self.accepted = 0
        super().__init__(path)

    def accepted_conn(self, down):
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            up.connect(self.upstream)
        except OSError:
            down.close()
            up.close()
            return
        with self.lock:
            self.pairs.append((down, up))
            self.accepted += 1
        for a, b in ((down, up), (up, down)):
            threading.Thread(target=self._pump, args=(a, b),
                             daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def break_all(self):
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        return len(pairs)

    def stop(self):
        super().stop()
        self.break_all()


def test_broken_connection_retries_bodiless_gets(httpd, go_server,
                                                 workdir):
    """The shared connection breaks under 8 requests in flight (the app
    stays up): the bodiless GETs, which had received nothing, are sent
    again on a new connection and answered right; the POSTs may fail
    (5xx, not a hang, never another request's answer); new requests
    then succeed."""
    go = go_server("unix")
    relay = Relay(workdir / "relay.sock", go.address)
    try:
        srv = start_app(httpd, relay.path, opts="-multiplex")
        warm_up(srv)
        batch = calls(PATH, 8, 1500, tag="cut")
        with concurrent.futures.ThreadPoolExecutor(len(batch)) as ex:
            done = [ex.submit(c.run, srv) for c in batch]
            time.sleep(0.6)
            broken = relay.break_all()
            for f in done:
                f.result(timeout=REQUEST_TIMEOUT + 5)
        assert broken >= 1
        gets = [c for c in batch if c.body is None]
        posts = [c for c in batch if c.body is not None]
        assert_all_right(gets)
        bad = [c for c in posts if c.wrong()
               and not (c.result.status or 0) >= 500]
        assert not bad, bad
        assert all(c.result.seconds < 10 for c in batch), batch
        assert_all_right(run_all(srv, calls(PATH, 8, 50, tag="after")))
        assert_no_child_crash(srv, settle=1.0)
    finally:
        relay.stop()


def test_app_killed_and_restarted(httpd, go_server):
    """The Go app is killed (SIGKILL) with 8 requests in flight on its
    shared connections, and started again at once in its place: each
    in-flight request ends within a bound (its own answer, or an error
    status or a cut connection, never another request's answer); httpd
    serves meanwhile; after the restart new requests succeed within a
    bounded wait, 16 at once all right."""
    go = go_server("unix")
    srv = start_app(httpd, go.address, opts="-multiplex")
    static = put_file(srv, "static.txt")
    warm_up(srv)
    batch = calls(PATH, 8, 2000, tag="inflight")
    with concurrent.futures.ThreadPoolExecutor(len(batch)) as ex:
        done = [ex.submit(c.run, srv) for c in batch]
        time.sleep(0.5)
        go.proc.kill()
        go.proc.wait(5)
        assert fetch(srv, static, 5).status == 200
        again = go_server(go.address)
        for f in done:
            f.result(timeout=REQUEST_TIMEOUT + 5)
    wrong = [c for c in batch if c.result.status == 200 and c.wrong()]
    assert not wrong, wrong
    assert all(c.result.seconds < 15 for c in batch), batch
    assert conftest.wait_for(
        lambda: fetch(srv, PATH + "?up", 5).status == 200, 10), (
        "no answer within 10 s of the restart")
    assert_all_right(run_all(srv, calls(PATH, 16, 100, tag="after")))
    accepted, _ = httpd_conns(srv, again)
    assert accepted <= mux_bound(srv), accepted
    assert_no_child_crash(srv, settle=1.0)


# --- Flow control: a slow client is cut, the others go on --------------------

BIG = 20000000


def cut_lines(srv):
    """The module's lines that say a multiplexed request was cut at the
    per-request bound (FCGIX00053)."""
    return log_lines(srv, "FCGIX00053", "is cut")


def test_slow_client_is_cut_others_are_not_stalled(httpd, go_server):
    """A client asks the multiplexed Go app for 20 MB, reads 1 byte and
    stops reading: 10 other requests to the app, at once, each complete
    in a few seconds (the shared connection is not stalled), with their
    own answers. When the slow client finally reads, its response is
    cut (fewer than 20 MB, not complete), its start is the app's bytes,
    and the error log says it was cut."""
    go = go_server("unix")
    srv = start_app(httpd, go.address, opts="-multiplex")
    warm_up(srv)
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    slow.settimeout(REQUEST_TIMEOUT)
    try:
        slow.connect(("127.0.0.1", srv.port))
        slow.sendall(request_bytes(srv, "GET", PATH + "?big=%d" % BIG))
        first = slow.recv(1)
        assert first == b"H", first
        time.sleep(1.0)     # the app has written far more than the bound
        batch = run_all(srv, calls(PATH, 10, 100, tag="other"), timeout=10)
        assert_all_right(batch)
        slowest = max(c.result.seconds for c in batch)
        assert slowest < 5, "a request took %.1f s" % slowest
        conn = RawConn.__new__(RawConn)
        conn.sock, conn.buf, conn.eof = slow, bytearray(first), False
        head = bytearray()

        def keep_head(data):
            if len(head) < SLOT_BYTES:
                head.extend(data[:SLOT_BYTES - len(head)])

        r = read_response(conn, "GET", timeout=REQUEST_TIMEOUT + 15,
                          sink=keep_head)
    finally:
        slow.close()
    assert r.status == 200 and not r.timed_out, r
    assert r.complete is False and r.body_len < BIG, r
    assert bytes(head) == pattern(len(head)), "not the app's bytes"
    assert conftest.wait_for(lambda: cut_lines(srv), 5), (
        "no log line says the response was cut:\n%s"
        % "\n".join(log_lines(srv, "FCGIX")[-20:]))
    accepted, _ = httpd_conns(srv, go)
    assert accepted <= mux_bound(srv), accepted


# --- Configuration -----------------------------------------------------------

@pytest.mark.parametrize("directive", ["FastCgiServer",
                                       "FastCgiExternalServer"])
@pytest.mark.parametrize("spelling", ["-multiplex", "-MultiPlex"])
def test_multiplex_option_is_accepted(httpd, workdir, directive, spelling):
    """-multiplex is a flag of both FastCgiServer and
    FastCgiExternalServer (options are case-insensitive): apache2 -t
    accepts it."""
    srv = httpd()
    if directive == "FastCgiServer":
        app = install(conftest.RESPONDER, srv.docroot / "app.fcgi")
        srv.extra_conf = "FastCgiServer %s -processes 1 %s" % (app,
                                                                spelling)
    else:
        srv.extra_conf = "FastCgiExternalServer %s -socket %s %s" % (
            srv.docroot / "app.fcgi", workdir / "nowhere.sock", spelling)
    rc, out = srv.check()
    assert rc == 0, out
