"""Responses and request bodies (issue 12, item 5):

  - an app's Status must be a final one (200-599): a 1xx is a 502 for a
    responder and a denial (500) for an authorizer, with a log line;
  - bytes after FCGI_END_REQUEST: the response END_REQUEST closed is
    delivered, one warning names the app, and the connection is never
    kept for another request;
  - FastCgiSpoolLimit caps a spooled chunked body (413 above it), and a
    spool that cannot be written is a 500 that leaves no file behind;
  - an app's stderr line is escaped once, by httpd's error log.

Backends: the libfcgi responder and the scripted in-process backend of
test_responder.py. Every wait is bounded; everything started is stopped
by the fixtures, by PID.
"""

import os
import subprocess
import time

import pytest

import conftest
from test_responder import (APP, RawConn, chunked_body, eb, log_lines,  # noqa
                            log_text, read_response, request_bytes, scripted,
                            start_app, wait_log)


def first_status_line(srv, path, timeout=5.0):
    """The first status line httpd sends for GET path (a 1xx included),
    or None when nothing came within timeout."""
    conn = RawConn(srv.port, timeout)
    try:
        conn.send(request_bytes(srv, "GET", path, close=True))
        try:
            line = conn.read_line(time.monotonic() + timeout)
        except (OSError, TimeoutError):
            return None
        return line.decode("latin-1").rstrip("\r\n") if line else None
    finally:
        conn.close()


def status_answer(status):
    return lambda req: (b"Status: " + status + b"\r\n"
                        b"Content-Type: text/plain\r\n"
                        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        b"\r\nbody\n")


# =============================================================================
# Status 1xx
# =============================================================================

@pytest.mark.parametrize("status", [b"100 Continue",
                                    b"101 Switching Protocols",
                                    b"199 Whatever"])
def test_interim_status_from_app_is_502(httpd, scripted, status):
    app = scripted(status_answer(status))
    srv = start_app(httpd, app.address)
    line = first_status_line(srv, "/" + APP)
    assert line is not None and line.split(" ")[1] == "502", (status, line)
    code = status.split(b" ")[0].decode()
    lines = wait_log(srv, "FCGIX00300", str(srv.app_path), code)
    assert lines, log_text(srv)[-3000:]


@pytest.mark.parametrize("status", [b"200 OK", b"599 Edge"])
def test_final_status_edges_pass(httpd, scripted, status):
    app = scripted(status_answer(status))
    srv = start_app(httpd, app.address)
    r = srv.get("/" + APP, timeout=15)
    assert r.status == int(status[:3]), r
    assert "FCGIX00300" not in log_text(srv)


def test_interim_status_from_authorizer_denies(httpd, scripted):
    """An authorizer's 101 is no verdict: 500 and a log line, never a
    101 to the client."""
    app = scripted(lambda req: b"Status: 101 Switching Protocols\r\n"
                   b"Upgrade: websocket\r\n\r\n")
    srv = httpd()
    authz = srv.docroot / "authz.fcgi"
    (srv.docroot / "area").mkdir()
    (srv.docroot / "area" / "page.txt").write_text("protected\n")
    srv.extra_conf = "\n".join([
        "FastCgiExternalServer %s -socket %s" % (authz, app.address),
        "<Location /area>",
        "    FastCgiAuthorizer %s" % authz,
        "</Location>"])
    srv.start()
    line = first_status_line(srv, "/area/page.txt")
    assert line is not None and line.split(" ")[1] == "500", line
    assert wait_log(srv, "FCGIX00301", str(authz), "101"), \
        log_text(srv)[-3000:]


# =============================================================================
# Bytes after FCGI_END_REQUEST
# =============================================================================

def answer_with_trailer(req):
    """A complete response, END_REQUEST, then one more STDOUT record."""
    q = req.params.get(b"QUERY_STRING", b"")
    return (eb.stream(eb.STDOUT, req.rid,
                      b"Content-Type: text/plain\r\n\r\nanswer to " + q
                      + b"\n")
            + eb.end_request(req.rid)
            + eb.rec(eb.STDOUT, req.rid, b"after END_REQUEST\n"))


def test_bytes_after_end_request_deliver_the_response(httpd, scripted):
    app = scripted(answer_with_trailer, raw=True)
    srv = start_app(httpd, app.address)
    r = srv.get("/app.fcgi?one", timeout=15)
    assert r.status == 200, r
    assert r.body == b"answer to one\n", r.body
    lines = wait_log(srv, "FCGIX00302", str(srv.app_path))
    assert len(lines) == 1, log_text(srv)[-3000:]
    assert "[fastcgi_x:warn]" in lines[0], lines
    assert "after END_REQUEST" not in r.body.decode("latin-1")


def test_bytes_after_end_request_never_reuse_the_connection(httpd, scripted):
    """With -keep-conn, a connection that carried bytes after END_REQUEST
    is closed: ten back-to-back requests need ten backend connections
    (test_keep_conn_reuses_connections shows that clean ones are
    reused)."""
    app = scripted(answer_with_trailer, raw=True, keep=True)
    srv = start_app(httpd, app.address, opts="-keep-conn")
    conn = RawConn(srv.port, 15)
    try:
        for i in range(10):
            conn.send(request_bytes(srv, "GET", "/app.fcgi?n%d" % i))
            r = read_response(conn, "GET", 15)
            assert r.status == 200 and r.complete, (i, r)
            assert bytes(r.body) == b"answer to n%d\n" % i, (i, r.body)
    finally:
        conn.close()
    assert all(app.keep_flags), "FCGI_KEEP_CONN not asked for"
    assert app.connections == 10, (
        "%d backend connections for 10 requests: a connection with bytes "
        "after END_REQUEST was kept" % app.connections)
    assert len(log_lines(srv, "FCGIX00302")) == 10
