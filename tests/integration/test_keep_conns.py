"""Kept connections to PM-run processes (fcgi_keep.c): an httpd child
keeps its connection to an app process for its next request there, in
both vocabularies; another child that needs the process has the kept
connection closed at once; a process that leaves after a request, or a
request whose body cannot be sent twice, still gets served.

The app is the test responder: `?conn` answers with the inode of the
connection's socket (another one for each connection) and whether the
request had FCGI_KEEP_CONN; `?quit` answers, then exits (as php-cgi
does after PHP_FCGI_MAX_REQUESTS)."""

import concurrent.futures
import http.client
import re
import time

import pytest

import conftest
from helpers import (assert_503_behind_a_slow_request, fetch, install,
                     log_lines, start, start_app, wait_log)

VOCABS = ["fastcgi", "fcgid"]

# More than this for a request that finds its process kept by another
# httpd child would mean the kept connection was not closed on demand
# but when it timed out (fcgi_keep.h: FCGIX_KEEP_IDLE_MS, 1 s).
EVICT_WITHIN_S = 0.5

# A process that exits sooner after its start is a failed start to the
# PM (fcgi_defaults.h: FCGIX_MIN_SERVER_LIFE_ZERO_MS).
MIN_LIFE_S = 1.1


def one_process_site(httpd, vocab, extra="", **kw):
    """A server whose app (one process) is <docroot>/fcgi/app.fcgi."""
    if vocab == "fastcgi":
        srv = httpd(**kw)
    else:
        srv = conftest.fcgid_httpd(httpd, "ours", **kw)
    fcgi = srv.docroot / "fcgi"
    fcgi.mkdir(mode=0o755, exist_ok=True)
    app = install(conftest.RESPONDER, fcgi / "app.fcgi")
    if vocab == "fastcgi":
        conf = ["FastCgiServer %s -processes 1" % app]
    else:
        conf = ["FcgidMaxProcessesPerClass 1",
                '<Directory "%s">' % fcgi,
                "    Options +ExecCGI",
                "    AddHandler fcgid-script .fcgi",
                "</Directory>"]
    srv.extra_conf = "\n".join(conf + [extra])
    return srv


def conn_of(body):
    """(socket inode, FCGI_KEEP_CONN) from a `?conn` answer."""
    m = re.match(rb"conn=(\d+) keep=(\d)\n$", body)
    assert m, body
    return int(m.group(1)), int(m.group(2))


def conns_seen(srv, n):
    """(socket inode, FCGI_KEEP_CONN) of n requests in a row."""
    seen = []
    for _ in range(n):
        r = srv.get("/fcgi/app.fcgi?conn")
        assert r.status == 200, r
        seen.append(conn_of(r.body))
    return seen


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.read()


def connection(srv):
    return http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)


@pytest.mark.parametrize("vocab", VOCABS)
def test_connection_is_kept_between_requests(httpd, vocab):
    srv = one_process_site(httpd, vocab)
    start(srv)
    seen = conns_seen(srv, 6)
    inodes = {inode for inode, _ in seen}
    assert len(inodes) == 1, seen
    assert all(keep == 1 for _, keep in seen), seen


@pytest.mark.parametrize("vocab", VOCABS)
def test_keep_connections_off(httpd, vocab):
    directive = {"fastcgi": "FastCgiKeepConnections Off",
                 "fcgid": "FcgidKeepConnections Off"}[vocab]
    srv = one_process_site(httpd, vocab, directive)
    start(srv)
    seen = conns_seen(srv, 4)
    assert len({inode for inode, _ in seen}) == 4, seen
    assert all(keep == 0 for _, keep in seen), seen


def test_keep_connections_is_for_the_main_server_only(httpd):
    srv = httpd()
    srv.extra_conf = "\n".join([
        "<VirtualHost 127.0.0.1:%d>" % srv.port,
        "    FastCgiKeepConnections Off",
        "</VirtualHost>"])
    rc, out = srv.check()
    assert rc != 0, out
    assert "FastCgiKeepConnections" in out and "VirtualHost" in out, out


@pytest.mark.parametrize("vocab", VOCABS)
def test_another_child_takes_the_process_at_once(httpd, vocab):
    """prefork: a keep-alive client holds its httpd child, so two clients
    are served by two children. They take turns on the one app process:
    each turn, the other child's kept connection must be closed for the
    process to accept the new one, on demand, not when it times out."""
    srv = one_process_site(httpd, vocab)
    srv.mpm = "prefork"
    start(srv)
    a, b = connection(srv), connection(srv)
    try:
        turns = []
        for i in range(8):
            client = a if i % 2 == 0 else b
            t0 = time.monotonic()
            status, body = get(client, "/fcgi/app.fcgi?conn")
            turns.append((status, conn_of(body), time.monotonic() - t0))
        # and twice in a row on one child: its own connection again
        status, body = get(b, "/fcgi/app.fcgi?conn")
        again = conn_of(body)
    finally:
        a.close()
        b.close()
    assert all(st == 200 for st, _, _ in turns), turns
    slow = [t for t in turns[1:] if t[2] > EVICT_WITHIN_S]
    assert not slow, turns
    inodes = [c[0] for _, c, _ in turns]
    assert all(x != y for x, y in zip(inodes, inodes[1:])), turns
    assert again == turns[-1][1], (again, turns)


@pytest.mark.parametrize("vocab", VOCABS)
def test_process_that_quits_after_a_request(httpd, vocab):
    """The process leaves right after answering, with the connection kept
    on our side: the next request (a GET, or a POST with a small body)
    finds it closed and goes to the new process, without an error. (Each
    process first lives past the PM's minimum life, so that its exit is
    not taken for a failed start.)"""
    srv = one_process_site(httpd, vocab)
    start(srv)
    for i in range(4):
        r = srv.get("/fcgi/app.fcgi?pid")
        assert r.status == 200, r
        time.sleep(MIN_LIFE_S)
        r = srv.get("/fcgi/app.fcgi?pid&quit")
        assert r.status == 200, r
        if i % 2:
            r = srv.post("/fcgi/app.fcgi?echo", b"x" * 1000)
            assert r.status == 200 and r.body == b"x" * 1000, r
        else:
            r = srv.get("/fcgi/app.fcgi?pid")
            assert r.status == 200, r
    assert not log_lines(srv, ":error]"), log_lines(srv, "FCGIX")


@pytest.mark.parametrize("vocab", VOCABS)
def test_body_that_cannot_be_sent_twice_gets_a_new_connection(httpd, vocab):
    """A body too big to keep for a resend is streamed on a new
    connection; the kept one is closed first (the process would not
    accept the new one while it waits on it)."""
    srv = one_process_site(httpd, vocab)
    start(srv)
    r = srv.get("/fcgi/app.fcgi?conn")
    first = conn_of(r.body)
    # 100 KiB: more than one record (not kept for a resend), less than
    # FcgidMaxRequestLen's default (128 KiB)
    body = bytes(range(256)) * 400
    t0 = time.monotonic()
    r = srv.post("/fcgi/app.fcgi?echo", body)
    took = time.monotonic() - t0
    assert r.status == 200 and r.body == body, (r.status, len(r.body))
    assert took < EVICT_WITHIN_S * 4, took
    r = srv.get("/fcgi/app.fcgi?conn")
    assert r.status == 200 and conn_of(r.body)[0] != first[0], r


# --- external servers: -keep-conn with an explicit -max-conns ----------------

def test_external_connections_capped_by_max_conns(httpd, responder):
    """-keep-conn -max-conns 1 in front of one single-threaded libfcgi
    process: eight concurrent requests share one connection, each waiting
    for it in httpd rather than in the process's listen backlog behind a
    connection that pins the process."""
    srv = start_app(httpd, responder.address, opts="-keep-conn -max-conns 1")
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda _: fetch(srv, "/app.fcgi?conn&sleep=30", 20),
                         range(8)))
    assert all(r.status == 200 for r in rs), rs
    assert len({conn_of(r.body)[0] for r in rs}) == 1, rs


def test_external_place_passes_to_a_waiting_request(httpd, responder):
    """Many keep-alive clients at once on -max-conns 1 in front of one
    libfcgi process: a connection given back passes, with its place, to
    a request that waits; one that comes just then must not take the
    connection, or the waiting request would open a second one that the
    process, pinned by the first, never accepts in time."""
    srv = start_app(httpd, responder.address, opts="-keep-conn -max-conns 1")

    def client(_):
        c = connection(srv)
        try:
            return [get(c, "/app.fcgi?conn") for _ in range(25)]
        finally:
            c.close()

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        rs = [r for rr in ex.map(client, range(12)) for r in rr]
    took = time.monotonic() - started
    assert all(status == 200 for status, _ in rs), rs
    assert len({conn_of(body)[0] for _, body in rs}) == 1, rs
    assert took < 10, took


def test_external_wait_for_a_connection_is_bounded(httpd, responder):
    """The only place is taken by a slow request: the next one waits
    -appConnTimeout for it, then gets 503 with Retry-After and a log line
    that names -max-conns."""
    srv = start_app(httpd, responder.address,
                    opts="-keep-conn -max-conns 1 -appConnTimeout 1")
    assert_503_behind_a_slow_request(srv, "/app.fcgi")
    assert wait_log(srv, "FCGIX00047", "-max-conns"), log_lines(srv, "FCGIX")
