"""What a process takes at once (fcgi_managed.c, ask_takes()): the first
request to a FastCgiServer pool or a dynamic app asks its process with
FCGI_GET_VALUES, in the same send as the request. When the app says it
takes one connection at a time (libfcgi, php-cgi: FCGI_MAX_CONNS 1), a
request that finds every process busy waits for one to come free instead
of queueing on a busy process's socket, so each process keeps serving
over the one connection httpd keeps to it. An app that says it
multiplexes, says nothing, or closes on the question is not limited, and
the request it closed on goes again.

The libfcgi app is the test responder (`?conn`: the inode of the
connection's socket); the others are evil_backend.py run by the PM, whose
answer to FCGI_GET_VALUES follows $EVIL_VALUES and whose `?mode=inflight`
says how many requests it had in flight at once."""

import concurrent.futures
import http.client
import re
import sys

import pytest

import conftest
from helpers import (dynamic_server, install, log_lines, log_text, start,
                     wait_log)

LEARNED = "FCGIX00048"


def pool_site(httpd, kind, processes):
    """The test responder as a FastCgiServer pool (static.fcgi) or as a
    dynamic app (dyn/app.fcgi) with that many processes. Returns (srv,
    url)."""
    if kind == "static":
        srv = httpd()
        app = install(conftest.RESPONDER, srv.docroot / "static.fcgi")
        srv.extra_conf = "FastCgiServer %s -processes %d" % (app, processes)
        start(srv)
        return srv, "/static.fcgi"
    srv, dyn = dynamic_server(
        httpd, "-minProcesses %d -maxClassProcesses %d -singleThreshold 0 "
        "-multiThreshold 0" % (processes, processes))
    install(conftest.RESPONDER, dyn / "app.fcgi")
    start(srv)
    return srv, "/dyn/app.fcgi"


def evil_pool(httpd, values):
    """evil_backend.py as a FastCgiServer of one process, answering
    FCGI_GET_VALUES as `values` says."""
    srv = httpd()
    app = srv.docroot / "evil.fcgi"
    app.write_text("#!/bin/sh\nexec %s %s\n" % (sys.executable, conftest.EVIL))
    app.chmod(0o755)
    srv.extra_conf = ("FastCgiServer %s -processes 1 -initial-env "
                      "EVIL_VALUES=%s" % (app, values))
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


@pytest.mark.parametrize("kind", ["static", "dynamic"])
def test_one_at_a_time_app_keeps_one_connection_per_process(httpd, kind):
    srv, url = pool_site(httpd, kind, 2)
    first = srv.get(url + "?conn")
    assert first.status == 200, first
    lines = wait_log(srv, LEARNED, "take 1 request at once")
    assert lines and "FCGI_MAX_CONNS 1," in lines[0], lines
    # 12 clients at once on 2 processes: each request waits for a free
    # process and uses the connection this httpd child keeps to it
    # (shared, the processes would get a new connection per request).
    bodies = burst(srv, url + "?conn&sleep=20", 12, 4)
    assert len(bodies) == 48
    inodes = {inode_of(b) for b in bodies}
    assert len(inodes) <= 2, sorted(inodes)
    assert len(log_lines(srv, LEARNED)) == 1
    assert not our_warnings(srv)


@pytest.mark.parametrize("values", ["mpxs", "none", "limits"])
def test_app_that_says_more_is_not_limited(httpd, values):
    srv = evil_pool(httpd, values)
    r = srv.get("/evil.fcgi")
    assert r.status == 200, r
    want = "take 64 requests at once" if values == "limits" else \
        "take any number of requests at once"
    assert wait_log(srv, LEARNED, want), log_text(srv)
    bodies = burst(srv, "/evil.fcgi?mode=inflight", 4, 1)
    tops = [int(re.match(rb"inflight=(\d+)\n$", b).group(1)) for b in bodies]
    assert max(tops) >= 2, tops


def test_app_that_closes_on_the_question_still_answers(httpd):
    srv = evil_pool(httpd, "close")
    r = srv.get("/evil.fcgi")
    assert r.status == 200, r
    assert b"hello from the evil backend" in r.body
    assert wait_log(srv, LEARNED, "take any number of requests at once")
    # asked once only: later requests do not ask again
    for _ in range(3):
        assert srv.get("/evil.fcgi").status == 200
    asked = [line for line in log_text(srv).splitlines()
             if "FCGI_GET_VALUES, answered" in line]
    assert len(asked) == 1, asked
    assert not our_warnings(srv)


def test_request_with_a_large_body_does_not_ask(httpd):
    srv, url = pool_site(httpd, "static", 1)
    r = srv.request("POST", url + "?echo", body=b"x" * 200000)
    assert r.status == 200, r
    assert not log_lines(srv, LEARNED)
    assert srv.get(url).status == 200
    assert wait_log(srv, LEARNED, "take 1 request at once")


def test_fcgid_classes_are_never_asked(httpd):
    srv = conftest.fcgid_httpd(httpd, "ours")
    fcgi = srv.docroot / "fcgi"
    fcgi.mkdir(mode=0o755)
    install(conftest.RESPONDER, fcgi / "app.fcgi")
    srv.extra_conf = "\n".join(['<Directory "%s">' % fcgi,
                                "    Options +ExecCGI",
                                "    AddHandler fcgid-script .fcgi",
                                "</Directory>"])
    start(srv)
    for _ in range(3):
        assert srv.get("/fcgi/app.fcgi").status == 200
    assert not log_lines(srv, LEARNED)
