"""FastCgiServer -max-conns n: each process takes at most n requests at
once (fcgi_managed.c, users_cap()). A request that finds every process
with n waits in httpd, in turn, for one to come free, instead of queueing
on a busy process's socket; so each process of a single-threaded app
(-max-conns 1) keeps serving over the one connection httpd keeps to it.
The wait is bounded by -appConnTimeout (503 with Retry-After). Without
-max-conns, there is no limit, and the app is never asked
(FCGI_GET_VALUES) what it takes.

The libfcgi app is the test responder (`?conn`: the inode of the
connection's socket); the other is evil_backend.py run by the PM, whose
`?mode=inflight` says how many requests it had in flight at once and
which logs any FCGI_GET_VALUES."""

import concurrent.futures
import http.client
import re
import sys

import conftest
from helpers import (assert_503_behind_a_slow_request, install, log_lines,
                     log_text, start, wait_log)

NO_ROOM = "FCGIX00048"


def responder_pool(httpd, processes, opts=""):
    srv = httpd()
    app = install(conftest.RESPONDER, srv.docroot / "static.fcgi")
    srv.extra_conf = "FastCgiServer %s -processes %d %s" % (app, processes,
                                                             opts)
    start(srv)
    return srv


def evil_pool(httpd, opts=""):
    """evil_backend.py as a FastCgiServer of one process (threaded: it
    takes any number of requests at once)."""
    srv = httpd()
    app = srv.docroot / "evil.fcgi"
    app.write_text("#!/bin/sh\nexec %s %s\n" % (sys.executable, conftest.EVIL))
    app.chmod(0o755)
    srv.extra_conf = "FastCgiServer %s -processes 1 %s" % (app, opts)
    start(srv)
    return srv


def our_warnings(srv):
    """Lines at warn or worse but the app's own stderr (FCGIX00070)."""
    return [line for line in log_lines(srv, severe=True)
            if "FCGIX00070" not in line]


def inode_of(body):
    m = re.match(rb"conn=(\d+) keep=1\n$", body)
    assert m, body
    return int(m.group(1))


def inflight_of(body):
    m = re.match(rb"inflight=(\d+)\n$", body)
    assert m, body
    return int(m.group(1))


def burst(srv, path, clients, each):
    """clients keep-alive clients, each sending `each` requests in a row
    at once; the bodies."""
    def one_client(_):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        try:
            bodies = []
            for _ in range(each):
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                assert r.status == 200, (r.status, body)
                bodies.append(body)
            return bodies
        finally:
            conn.close()

    with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        return [b for bodies in ex.map(one_client, range(clients))
                for b in bodies]


def test_one_request_per_process_keeps_one_connection_each(httpd):
    """12 clients at once on 2 single-threaded processes: each request
    waits for a free process and uses the connection this httpd child
    keeps to it (shared, each request would get a new connection)."""
    srv = responder_pool(httpd, 2, "-max-conns 1")
    bodies = burst(srv, "/static.fcgi?conn&sleep=20", 12, 4)
    assert len(bodies) == 48
    inodes = {inode_of(b) for b in bodies}
    assert len(inodes) <= 2, sorted(inodes)
    assert not our_warnings(srv)


def test_max_conns_caps_what_a_process_takes(httpd):
    srv = evil_pool(httpd, "-max-conns 2")
    tops = [inflight_of(b)
            for b in burst(srv, "/evil.fcgi?mode=inflight", 5, 1)]
    assert max(tops) == 2, tops
    assert not our_warnings(srv)


def test_without_max_conns_no_limit_and_no_question(httpd):
    """The default: a process takes what comes, and the app is never sent
    FCGI_GET_VALUES (Debian 12's Ruby fcgi exits on it)."""
    srv = evil_pool(httpd)
    tops = [inflight_of(b)
            for b in burst(srv, "/evil.fcgi?mode=inflight", 4, 1)]
    assert max(tops) >= 2, tops
    assert "FCGI_GET_VALUES" not in log_text(srv)


def test_wait_for_room_is_bounded_by_app_conn_timeout(httpd):
    srv = responder_pool(httpd, 1, "-max-conns 1 -appConnTimeout 1")
    assert_503_behind_a_slow_request(srv, "/static.fcgi")
    assert wait_log(srv, NO_ROOM, "-max-conns 1", str(srv.docroot)), \
        log_lines(srv, "FCGIX")
    assert srv.get("/static.fcgi?pid").status == 200
