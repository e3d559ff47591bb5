"""Slow clients against PM-run apps (issue 6): a client that reads its
response at a trickle, or sends its body at one, costs bounded memory,
and does not keep an app process from other requests longer than the
response needs (a response that fits httpd's and the kernel's buffers
frees the process at once)."""

import socket
import threading
import time

import conftest
from helpers import RSS_GROWTH_MAX_KIB, children_rss_kib, fetch, static_pool


def open_request(srv, target, body_len=None, rcvbuf=None):
    """A connection that sent the request line and headers (and, with
    body_len, announced a body it has not sent)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (
        "POST" if body_len is not None else "GET", target)
    if body_len is not None:
        head += "Content-Length: %d\r\n" % body_len
    s.sendall(head.encode() + b"\r\n")
    return s


def read_at_one_byte_a_second(s, stop):
    while not stop.is_set():
        try:
            if not s.recv(1):
                return
        except OSError:
            return
        stop.wait(1.0)


def test_slow_reader_does_not_hold_the_process(httpd):
    """A 1-process pool; a client reads its 48 KiB response at 1 byte/s.
    The process answered at once, so the next client is served by it at
    once, while the first is still reading."""
    srv = static_pool(httpd, 1)
    pid = fetch(srv, "/static.fcgi?pid", 15).pid
    stop = threading.Event()
    slow = open_request(srv, "/static.fcgi?bytes=49152", rcvbuf=4096)
    reader = threading.Thread(target=read_at_one_byte_a_second,
                              args=(slow, stop), daemon=True)
    reader.start()
    try:
        time.sleep(1.0)
        t0 = time.monotonic()
        r = fetch(srv, "/static.fcgi?pid", 15)
        waited = time.monotonic() - t0
        assert r.status == 200 and r.pid == pid, r
        assert waited < 2.0, "waited %.1f s behind a slow reader" % waited
        assert reader.is_alive(), "the slow client was not slow"
    finally:
        stop.set()
        slow.close()
        reader.join(5)


def test_slow_readers_memory_bounded(httpd):
    """Twenty clients that do not read their 8 MiB responses: httpd holds
    a bounded amount per request (back-pressure reaches the app), and a
    request to another app is served meanwhile."""
    srv = static_pool(httpd, 2)
    (srv.docroot / "hello.txt").write_text("hello\n")
    assert fetch(srv, "/hello.txt", 15).status == 200
    before = children_rss_kib(srv)
    conns = [open_request(srv, "/static.fcgi?bytes=%d" % (8 << 20),
                          rcvbuf=65536) for _ in range(20)]
    try:
        time.sleep(2.0)
        growth = children_rss_kib(srv) - before
        assert fetch(srv, "/hello.txt", 15).status == 200
    finally:
        for c in conns:
            c.close()
    print("20 stalled 8 MiB downloads: httpd children grew %d KiB" % growth)
    assert growth < RSS_GROWTH_MAX_KIB, growth


def test_slowloris_bodies_memory_bounded_and_timed_out(httpd):
    """Twenty clients announce a 1 MiB body and send a byte now and then:
    memory stays bounded, httpd's Timeout ends each request (408 or a
    closed connection, not a hang), and the pool serves again after."""
    srv = httpd()
    app = srv.docroot / "static.fcgi"
    app.write_bytes(conftest.RESPONDER.read_bytes())
    app.chmod(0o755)
    srv.extra_conf = "Timeout 3\nFastCgiServer %s -processes 2" % app
    srv.start()
    assert conftest.wait_for(
        lambda: fetch(srv, "/static.fcgi?pid", 5).status == 200, 10)
    before = children_rss_kib(srv)
    conns = [open_request(srv, "/static.fcgi?echo", body_len=1 << 20)
             for _ in range(20)]
    t0 = time.monotonic()
    try:
        for _ in range(2):
            for c in conns:
                try:
                    c.sendall(b"x")
                except OSError:
                    pass
            time.sleep(1.0)
        growth = children_rss_kib(srv) - before
        ended = 0
        for c in conns:
            c.settimeout(max(1.0, 15 - (time.monotonic() - t0)))
            try:
                while c.recv(65536):
                    pass
                ended += 1
            except OSError:
                ended += 1      # reset by httpd: ended too
    finally:
        for c in conns:
            c.close()
    elapsed = time.monotonic() - t0
    print("20 slowloris bodies: httpd children grew %d KiB; all ended "
          "after %.1f s" % (growth, elapsed))
    assert growth < RSS_GROWTH_MAX_KIB, growth
    assert ended == 20 and elapsed < 15, (ended, elapsed)
    assert conftest.wait_for(
        lambda: fetch(srv, "/static.fcgi?pid", 5).status == 200, 10)
