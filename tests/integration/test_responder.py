"""The FastCGI responder data path (issue 3) through FastCgiExternalServer.

Every test writes its own configuration, starts a private apache2 on a
free 127.0.0.1 port and talks to a real backend:

  responder   tests/apps/fcgi_responder.c (libfcgi) on a Unix socket,
              behaviour chosen by the query string
  evil        tests/apps/evil_backend.py on TCP, ?mode=NAME per request
  scripted    a tiny in-process FastCGI server (helpers.py) for answers the
              responder cannot produce, e.g. header lines longer than its
              8 KiB query string

Responses whose framing matters (truncation, HEAD, flushing) are read with
the raw HTTP/1.1 reader in helpers.py, never with a client that would hide a
missing last chunk. Every wait is bounded. After each test, while its
servers still run, their error_log must not report a crashed child
("exit signal"); tests that provoke failures also wait for httpd to reap
a child that died in their last request.
"""

import hashlib
import os
import re
import socket
import struct
import subprocess
import threading
import time
import zlib
from pathlib import Path

import pytest

import conftest
from helpers import (APP, RSS_GROWTH_MAX_KIB, STATIC, RawConn,
                     assert_no_child_crash, assert_truncated, children_of,
                     children_rss_kib,
                     chunked_body, eb, external_server, get_back_to_back,
                     log_lines, log_text, pattern, put_file, raw_request,
                     read_response, request_bytes, start_app, static_pool,
                     wait_log)

EVIL_BODY = eb.BODY


# --- configuration ---------------------------------------------------------

def get_env(srv, path, **kw):
    """(Response, {NAME: VALUE}) for a request answered by ?env."""
    r = srv.request(kw.pop("method", "GET"), path, timeout=15, **kw)
    env = {}
    if r.status == 200:
        for line in r.body.decode("latin-1").splitlines():
            name, sep, value = line.partition("=")
            if sep:
                env[name] = value
    return r, env


# --- after each test: no crashed child -------------------------------------

SETTLE = 1.5


@pytest.fixture(autouse=True)
def crash_guard(request, httpd):
    """After the test, while its servers still run: no child crashed.

    Checked before the httpd fixture stops them (this fixture depends on
    it), because Debian's mpm_event itself sometimes segfaults in
    close_worker_sockets() during a forced (SIGTERM) stop, which says
    nothing about this module.
    """
    yield
    for owner in getattr(request.node, "fcgix_log_owners", []):
        if isinstance(owner, conftest.Httpd) and owner.proc is not None:
            assert_no_child_crash(owner)


# --- truncated responses ----------------------------------------------------

def assert_truncated_or_502(r, what):
    """Failure at the end of the stream: 502 if the module noticed before
    sending headers, else a visibly truncated response; never a complete
    response that looks fine."""
    if r.status == 502:
        assert not r.timed_out, "%s: 502 but no end: %r" % (what, r)
        return
    assert_truncated(r, what)


# --- answers of the scripted backend (helpers.Scripted) ---------------------

def cgi_answer(headers, body=b"ok\n"):
    head = b"Status: 200 OK\r\nContent-Type: text/plain\r\n"
    for name, value in headers:
        head += name.encode() + b": " + value + b"\r\n"
    return lambda req: head + b"\r\n" + body


# =============================================================================
# CGI variables
# =============================================================================

def test_plain_get_is_served_by_the_app(httpd, responder):
    srv = start_app(httpd, responder.address)
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 200, r
    assert r.body == b"hello\n"
    assert r.headers["Content-Type"].startswith("text/plain")


def test_cgi_core_variables(httpd, responder):
    srv = start_app(httpd, responder.address)
    r, env = get_env(srv, "/app.fcgi?env")
    assert r.status == 200, r
    expected = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/app.fcgi",
        "SCRIPT_FILENAME": str(srv.app_path),
        "QUERY_STRING": "env",
        "REQUEST_URI": "/app.fcgi?env",
        "SERVER_PORT": str(srv.port),
        "REMOTE_ADDR": "127.0.0.1",
        "DOCUMENT_ROOT": str(srv.docroot),
    }
    got = {k: env.get(k) for k in expected}
    assert got == expected, "CGI variables differ:\n%s" % r.body.decode()


def test_script_filename_is_the_real_path(httpd, responder):
    srv = start_app(httpd, responder.address)
    r, env = get_env(srv, "/app.fcgi/extra?env")
    assert r.status == 200, r
    assert env.get("SCRIPT_FILENAME") == str(srv.app_path), (
        "SCRIPT_FILENAME must be the file path, never proxy:...: %r"
        % env.get("SCRIPT_FILENAME"))


def test_path_info_and_path_translated_present(httpd, responder):
    srv = start_app(httpd, responder.address)
    r, env = get_env(srv, "/app.fcgi/extra/x?env")
    assert r.status == 200, r
    assert env.get("SCRIPT_NAME") == "/app.fcgi", r.body.decode()
    assert env.get("PATH_INFO") == "/extra/x", r.body.decode()
    assert env.get("PATH_TRANSLATED") == str(srv.docroot) + "/extra/x", (
        r.body.decode())
    assert env.get("REQUEST_URI") == "/app.fcgi/extra/x?env"


def test_path_info_and_path_translated_absent(httpd, responder):
    srv = start_app(httpd, responder.address)
    r, env = get_env(srv, "/app.fcgi?env")
    assert r.status == 200, r
    assert "PATH_INFO" not in env, "PATH_INFO=%r without path info" % (
        env.get("PATH_INFO"))
    assert "PATH_TRANSLATED" not in env, (
        "PATH_TRANSLATED=%r without path info" % env.get("PATH_TRANSLATED"))


def test_path_info_decoded_request_uri_raw(httpd, responder):
    srv = start_app(httpd, responder.address)
    r, env = get_env(srv, "/app.fcgi/a%20b/c?env")
    assert r.status == 200, r
    assert env.get("PATH_INFO") == "/a b/c", r.body.decode()
    assert env.get("REQUEST_URI") == "/app.fcgi/a%20b/c?env"


def test_app_in_missing_directory(httpd, responder):
    """The app's file need not exist, nor its directory (mod_fastcgi
    recipes often name a path under a directory nobody created)."""
    srv = httpd()
    srv.app_path = srv.docroot / "nodir" / APP
    srv.extra_conf = external_server(srv.app_path, responder.address)
    srv.start()
    r, env = get_env(srv, "/nodir/app.fcgi/x?env")
    assert r.status == 200, r
    assert env.get("SCRIPT_FILENAME") == str(srv.app_path), r.body.decode()
    assert env.get("SCRIPT_NAME") == "/nodir/app.fcgi", r.body.decode()
    assert env.get("PATH_INFO") == "/x", r.body.decode()


def test_query_string_keeps_percent_escapes(httpd, responder):
    srv = start_app(httpd, responder.address)
    q = "env&q=a%20b%2Fc%26d&x=%C3%A9+y"
    r, env = get_env(srv, "/app.fcgi?" + q)
    assert r.status == 200, r
    assert env.get("QUERY_STRING") == q
    assert env.get("REQUEST_URI") == "/app.fcgi?" + q


def test_request_headers_become_http_variables(httpd, responder):
    srv = start_app(httpd, responder.address)
    r, env = get_env(srv, "/app.fcgi?env",
                     headers={"X-Foo": "bar", "Accept-Language": "fr"})
    assert r.status == 200, r
    assert env.get("HTTP_X_FOO") == "bar", r.body.decode()
    assert env.get("HTTP_ACCEPT_LANGUAGE") == "fr", r.body.decode()
    assert env.get("HTTP_HOST") == "127.0.0.1:%d" % srv.port


def test_proxy_header_never_becomes_http_proxy(httpd, responder):
    srv = start_app(httpd, responder.address)
    r, env = get_env(srv, "/app.fcgi?env",
                     headers={"Proxy": "http://evil.invalid:1/"})
    assert r.status == 200, r
    assert "HTTP_PROXY" not in env, "httpoxy: HTTP_PROXY=%r" % (
        env.get("HTTP_PROXY"))


def test_header_with_underscore_cannot_shadow_dash_header(httpd, responder):
    srv = start_app(httpd, responder.address)
    # the underscore variant last, so it would win if it got through
    r, env = get_env(srv, "/app.fcgi?env",
                     headers={"X-A-B": "dash", "X-A_B": "underscore"})
    assert r.status == 200, r
    assert env.get("HTTP_X_A_B") == "dash", r.body.decode()
    assert "underscore" not in r.body.decode()


def test_header_with_underscore_alone_is_dropped(httpd, responder):
    srv = start_app(httpd, responder.address)
    r, env = get_env(srv, "/app.fcgi?env", headers={"X-A_B": "underscore"})
    assert r.status == 200, r
    assert "HTTP_X_A_B" not in env, r.body.decode()


def test_params_larger_than_one_record(httpd, responder):
    """About 84 KiB of CGI variables: PARAMS spans several records."""
    srv = start_app(httpd, responder.address)
    headers = {"X-Big-%02d" % i: chr(ord("a") + i) * 7000 for i in range(12)}
    r, env = get_env(srv, "/app.fcgi?env", headers=headers)
    assert r.status == 200, r
    for name, value in headers.items():
        var = "HTTP_" + name.upper().replace("-", "_")
        assert env.get(var) == value, "%s lost or cut (%d bytes)" % (
            var, len(env.get(var, "")))
    assert env.get("SCRIPT_NAME") == "/app.fcgi"


def test_mod_rewrite_redirect_variables(httpd, responder):
    rewrite = conftest.MODDIR / "mod_rewrite.so"
    srv = start_app(httpd, responder.address, extra="\n".join([
        'LoadModule rewrite_module "%s"' % rewrite,
        '<Directory "{docroot}">',
        "    RewriteEngine On",
        "    RewriteBase /",
        "    RewriteRule ^pretty/(.*)$ app.fcgi/$1 [L,E=ROUTE:pretty]",
        "</Directory>"]))
    r, env = get_env(srv, "/pretty/x?env")
    assert r.status == 200, r
    expected = {
        "REDIRECT_URL": "/pretty/x",
        "REDIRECT_STATUS": "200",
        "REDIRECT_ROUTE": "pretty",
        "SCRIPT_NAME": "/app.fcgi",
        "SCRIPT_FILENAME": str(srv.app_path),
        "PATH_INFO": "/x",
        "QUERY_STRING": "env",
        "REQUEST_URI": "/pretty/x?env",
    }
    got = {k: env.get(k) for k in expected}
    assert got == expected, r.body.decode()


AUTH = "Basic dXNlcjpzZWNyZXQ="


def test_authorization_hidden_by_default(httpd, responder):
    srv = start_app(httpd, responder.address)
    r, env = get_env(srv, "/app.fcgi?env", headers={"Authorization": AUTH})
    assert r.status == 200, r
    assert "HTTP_AUTHORIZATION" not in env, r.body.decode()
    assert AUTH not in r.body.decode(), (
        "credentials reached the app without -pass-header:\n"
        + r.body.decode())


def test_authorization_passed_with_pass_header(httpd, responder):
    srv = start_app(httpd, responder.address,
                    opts="-pass-header Authorization")
    r, env = get_env(srv, "/app.fcgi?env", headers={"Authorization": AUTH})
    assert r.status == 200, r
    # mod_fastcgi passed it as "Authorization", PHP reads HTTP_AUTHORIZATION
    assert AUTH in (env.get("HTTP_AUTHORIZATION"), env.get("Authorization")),\
        "Authorization not passed with -pass-header:\n" + r.body.decode()


def test_setenv_variable_visible(httpd, responder):
    srv = start_app(httpd, responder.address, extra="SetEnv FOO bar")
    r, env = get_env(srv, "/app.fcgi?env")
    assert r.status == 200, r
    assert env.get("FOO") == "bar", r.body.decode()


def test_post_content_length_and_type(httpd, responder):
    srv = start_app(httpd, responder.address)
    body = b"a=1&b=2" * 100
    r, env = get_env(srv, "/app.fcgi?env", method="POST", body=body,
                     headers={"Content-Type":
                              "application/x-www-form-urlencoded"})
    assert r.status == 200, r
    assert env.get("REQUEST_METHOD") == "POST"
    assert env.get("CONTENT_LENGTH") == str(len(body)), r.body.decode()
    assert env.get("CONTENT_TYPE") == "application/x-www-form-urlencoded"


def action_recipe(httpd, responder, workdir):
    """The classic PHP recipe: AddHandler + Action + Alias."""
    fcgi_dir = workdir / "fcgi-bin"
    fcgi_dir.mkdir(mode=0o755, exist_ok=True)
    wrapper = fcgi_dir / "php-fcgi"         # need not exist
    srv = httpd()
    srv.wrapper = wrapper
    put_file(srv, "test.php", b"<?php echo 'not served as source'; ?>\n")
    srv.extra_conf = "\n".join([
        "AddHandler php-fcgi .php",
        "Action php-fcgi /php-fcgi",
        "Alias /php-fcgi %s" % wrapper,
        '<Directory "%s">' % fcgi_dir,
        "    Require all granted",
        "</Directory>",
        external_server(wrapper, responder.address,
                        "-pass-header Authorization")])
    srv.start()
    return srv


def test_action_recipe_variables(httpd, responder, workdir):
    srv = action_recipe(httpd, responder, workdir)
    r, env = get_env(srv, "/test.php?env")
    assert r.status == 200, r
    expected = {
        "SCRIPT_FILENAME": str(srv.wrapper),
        "SCRIPT_NAME": "/php-fcgi",
        "PATH_INFO": "/test.php",
        "PATH_TRANSLATED": str(srv.docroot / "test.php"),
        "REDIRECT_URL": "/test.php",
        "REDIRECT_STATUS": "200",
        "QUERY_STRING": "env",
    }
    got = {k: env.get(k) for k in expected}
    assert got == expected, "Action recipe variables differ:\n%s" % (
        r.body.decode())


def test_action_recipe_passes_authorization(httpd, responder, workdir):
    srv = action_recipe(httpd, responder, workdir)
    r, env = get_env(srv, "/test.php?env", headers={"Authorization": AUTH})
    assert r.status == 200, r
    assert AUTH in (env.get("HTTP_AUTHORIZATION"), env.get("Authorization")),\
        r.body.decode()


# =============================================================================
# Request bodies
# =============================================================================

BIG_UPLOAD = 100 << 20
BLOCK = 1 << 20


def test_100mib_post_echoed_while_uploading(httpd, responder):
    """The deadlock regression: the app echoes while it reads."""
    srv = start_app(httpd, responder.address)
    base = os.urandom(BLOCK)
    sent_hash, got_hash = hashlib.sha256(), hashlib.sha256()
    state = {"error": None, "done_at": None}
    conn = RawConn(srv.port, timeout=30)
    head = request_bytes(srv, "POST", "/app.fcgi?echo",
                         [("Content-Type", "application/octet-stream"),
                          ("Content-Length", str(BIG_UPLOAD))])

    def writer():
        try:
            conn.send(head)
            for i in range(BIG_UPLOAD // BLOCK):
                block = struct.pack(">Q", i) + base[8:]
                sent_hash.update(block)
                conn.send(block)
            state["done_at"] = time.monotonic()
        except OSError as e:
            state["error"] = e

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        r = read_response(conn, "POST", timeout=120, sink=got_hash.update)
        t.join(5)
        ended_early = t.is_alive()
        if ended_early:                    # unblock the writer
            conn.sock.shutdown(socket.SHUT_RDWR)
            t.join(10)
    finally:
        conn.close()
    assert not r.timed_out, "no complete echo within 120 s (deadlock?): %r" \
        % r
    assert r.status == 200, r
    assert not ended_early, "the response ended before the upload: %r" % r
    assert state["error"] is None, "upload failed: %r (%r)" % (
        state["error"], r)
    assert r.body_len == BIG_UPLOAD, r
    assert r.complete is not False, r
    assert got_hash.hexdigest() == sent_hash.hexdigest(), "echo differs"
    assert r.t_first_body < state["done_at"], (
        "nothing was echoed before the upload ended: the body was spooled")


def test_100mib_echo_memory_bounded(httpd, responder):
    """httpd's memory does not grow with the size of a streamed body."""
    srv = start_app(httpd, responder.address)
    put_file(srv, "hello.txt")
    assert srv.get("/hello.txt", timeout=15).status == 200
    before = children_rss_kib(srv)
    base = os.urandom(BLOCK)
    got = hashlib.sha256()
    conn = RawConn(srv.port, timeout=30)
    head = request_bytes(srv, "POST", "/app.fcgi?echo",
                         [("Content-Length", str(BIG_UPLOAD))])

    def writer():
        try:
            conn.send(head)
            for _ in range(BIG_UPLOAD // BLOCK):
                conn.send(base)
        except OSError:
            pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        r = read_response(conn, "POST", timeout=120, sink=got.update)
    finally:
        conn.sock.shutdown(socket.SHUT_RDWR)
        t.join(10)
        conn.close()
    assert r.status == 200 and r.body_len == BIG_UPLOAD, r
    growth = children_rss_kib(srv) - before
    assert growth < RSS_GROWTH_MAX_KIB, (
        "httpd children grew by %d KiB during a 100 MiB echo" % growth)


def test_upload_cut_after_response_started_truncates(httpd, responder):
    """The client stops sending the body (half-close) after the app's
    echo began: the response must end truncated, never as a complete
    response with httpd's 400 page spliced into the app's body."""
    srv = start_app(httpd, responder.address)
    conn = RawConn(srv.port, timeout=15)
    try:
        conn.send(request_bytes(srv, "POST", "/app.fcgi?echo",
                                [("Content-Length", str(1 << 20))]))
        conn.send(b"z" * 100000)
        conn.sock.settimeout(5)
        # wait until the echo (headers and some body) reached us
        started = conn.fill(time.monotonic() + 5)
        conn.sock.settimeout(15)
        conn.sock.shutdown(socket.SHUT_WR)
        r = read_response(conn, "POST", timeout=15)
    finally:
        conn.close()
    assert started, "no echo before the half-close"
    assert r.status == 200, r
    assert b"<html" not in bytes(r.body).lower(), (
        "an error page was spliced into the app's body: ...%r"
        % bytes(r.body[-200:]))
    assert set(bytes(r.body)) <= {ord("z")}, "body is not the echo"
    assert_truncated(r, "request body cut after the response started")


@pytest.mark.parametrize("part", [20000, 100000])
def test_echo_of_a_part_arrives_before_the_rest_is_sent(httpd, responder,
                                                        part):
    """A client that sends part of the body and waits for the app's echo
    of it before it sends the rest: httpd must not sit in a read of the
    client while the echo waits for it (the read does not block; the
    client's socket is polled next to the app's)."""
    srv = start_app(httpd, responder.address)
    body = pattern(1 << 20)
    conn = RawConn(srv.port, timeout=15)
    try:
        conn.send(request_bytes(srv, "POST", "/app.fcgi?echo",
                                [("Content-Length", str(len(body)))]))
        conn.send(body[:part])
        conn.sock.settimeout(5)
        deadline = time.monotonic() + 5
        # the app echoes in 16 KiB pieces: the whole ones of the part
        want = part // 16384 * 16384
        while (conn.buf.find(b"\r\n\r\n") < 0
               or len(conn.buf) - conn.buf.find(b"\r\n\r\n") - 4 < want):
            assert conn.fill(deadline), "the connection closed"
        conn.sock.settimeout(15)
        conn.send(body[part:])
        r = read_response(conn, "POST", timeout=15)
    finally:
        conn.close()
    assert r.status == 200, r
    assert bytes(r.body) == body


def test_expect_100_continue(httpd, responder):
    srv = start_app(httpd, responder.address)
    body = os.urandom(200000)
    conn = RawConn(srv.port, 15)
    try:
        conn.send(request_bytes(srv, "POST", "/app.fcgi?echo",
                                [("Content-Length", str(len(body))),
                                 ("Expect", "100-continue")]))
        line = conn.read_line(time.monotonic() + 10)
        assert line is not None and line.startswith(b"HTTP/1.1 100"), (
            "no 100 Continue: %r" % line)
        assert conn.read_line(time.monotonic() + 5) == b"\r\n"
        conn.send(body)
        r = read_response(conn, "POST", 15)
    finally:
        conn.close()
    assert r.status == 200, r
    assert bytes(r.body) == body


def test_keepalive_pipelined_requests(httpd, responder):
    """A POST and a GET sent back to back on one connection: the module
    reads exactly the first request's body, no more."""
    srv = start_app(httpd, responder.address)
    body = os.urandom(100000)
    conn = RawConn(srv.port, 15)
    try:
        conn.send(request_bytes(srv, "POST", "/app.fcgi?echo", body=body)
                  + request_bytes(srv, "GET", "/app.fcgi?bytes=1000"))
        first = read_response(conn, "POST", 15)
        second = read_response(conn, "GET", 15)
    finally:
        conn.close()
    assert first.status == 200 and first.complete, first
    assert bytes(first.body) == body
    assert second.status == 200 and second.complete, second
    assert bytes(second.body) == pattern(1000)


def test_1mib_post_with_content_length_echoed(httpd, responder):
    srv = start_app(httpd, responder.address)
    body = os.urandom(1 << 20)
    r = srv.post("/app.fcgi?echo", body, timeout=30)
    assert r.status == 200, r
    assert len(r.body) == len(body)
    assert r.body == body


CHUNKED_SIZE = 300 << 10


def test_chunked_post_gets_content_length(httpd, responder):
    srv = start_app(httpd, responder.address)
    data = os.urandom(CHUNKED_SIZE)
    r, env = get_env(srv, "/app.fcgi?env", method="POST",
                     body=chunked_body(data),   # http.client chunks it
                     headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200, r
    assert env.get("CONTENT_LENGTH") == str(CHUNKED_SIZE), (
        "a chunked body is spooled so the app gets CONTENT_LENGTH:\n"
        + r.body.decode())


def test_chunked_post_echoed(httpd, responder):
    srv = start_app(httpd, responder.address)
    data = os.urandom(CHUNKED_SIZE)
    r = srv.request("POST", "/app.fcgi?echo", body=chunked_body(data),
                    timeout=30)        # a generator: http.client chunks it
    assert r.status == 200, r
    assert len(r.body) == CHUNKED_SIZE
    assert r.body == data


def test_chunked_post_over_memory_spool_echoed(httpd, responder):
    """Over the in-memory spool (1 MiB), the body goes to a temp file."""
    srv = start_app(httpd, responder.address)
    data = os.urandom(3 << 20)
    r, env = get_env(srv, "/app.fcgi?env", method="POST",
                     body=chunked_body(data, 65536))
    assert r.status == 200, r
    assert env.get("CONTENT_LENGTH") == str(len(data)), r.body.decode()
    r = srv.request("POST", "/app.fcgi?echo", body=chunked_body(data, 65536),
                    timeout=30)
    assert r.status == 200, r
    assert len(r.body) == len(data)
    assert r.body == data


def test_chunked_body_stream_mode(httpd, responder):
    srv = start_app(httpd, responder.address,
                    extra="FastCgiChunkedBody stream")
    data = os.urandom(CHUNKED_SIZE)
    r, env = get_env(srv, "/app.fcgi?env", method="POST",
                     body=chunked_body(data))
    assert r.status == 200, r
    assert "CONTENT_LENGTH" not in env, r.body.decode()
    r = srv.request("POST", "/app.fcgi?echo", body=chunked_body(data),
                    timeout=30)
    assert r.status == 200, r
    assert r.body == data


def test_chunked_body_refuse_mode_411(httpd, responder):
    srv = start_app(httpd, responder.address,
                    extra="FastCgiChunkedBody refuse")
    r = srv.request("POST", "/app.fcgi?echo", body=chunked_body(b"x" * 100),
                    timeout=15)
    assert r.status == 411, r


def test_app_answers_before_reading_body(httpd, scripted):
    """The app refuses a 5 MiB upload at once (its own 413) without
    reading STDIN: the client gets that answer, nothing hangs."""
    app = scripted(lambda req: (b"Status: 413 Too Big\r\n"
                                b"Content-Type: text/plain\r\n\r\n"
                                b"too big for the app\n"), early=True)
    srv = start_app(httpd, app.address)
    size = 5 << 20
    conn = RawConn(srv.port, 15)
    head = request_bytes(srv, "POST", "/app.fcgi",
                         [("Content-Length", str(size))], close=True)

    def writer():
        try:
            conn.send(head)
            for _ in range(size // 65536):
                conn.send(b"u" * 65536)
        except OSError:
            pass                        # httpd may stop reading: fine

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        r = read_response(conn, "POST", 20)
    finally:
        conn.sock.shutdown(socket.SHUT_RDWR)
        t.join(10)
        conn.close()
    assert not r.timed_out, r
    assert r.status == 413, r
    assert bytes(r.body) == b"too big for the app\n"


@pytest.mark.parametrize("chunked", [False, True])
def test_large_body_arrives_whole_and_in_order(httpd, responder, chunked):
    """An 8 MiB body sent at once: each STDIN record takes what the
    client connection holds already (up to 64 KiB, more than one read of
    it), and every byte reaches the app once, in order."""
    srv = start_app(httpd, responder.address)
    body = os.urandom(8 << 20)
    # ?crc, not ?echo: a client that writes its whole body before it
    # reads would stall an app that answers while it reads
    if chunked:
        r = srv.request("POST", "/app.fcgi?crc",
                        body=chunked_body(body, 3000), timeout=60)
    else:
        r = srv.post("/app.fcgi?crc", body, timeout=60)
    assert r.status == 200, r
    assert r.body == b"length=%d crc32=%08x\n" % (len(body),
                                                   zlib.crc32(body))


def unix_send_buffers(pids):
    """The send buffer size (ss's skmem tb) of each connected Unix
    socket the processes pids hold."""
    out = subprocess.run(["ss", "-x", "-m", "-p", "-n", "state",
                          "established"], capture_output=True, text=True,
                         check=True).stdout
    sizes = []
    for m in re.finditer(r"pid=(\d+),fd=\d+\)\)\s+skmem:\([^)]*tb(\d+)",
                         out):
        if int(m.group(1)) in pids:
            sizes.append(int(m.group(2)))
    return sizes


def widened_send_buffer():
    """What httpd asks for (fcgi_handler.c, BIG_BODY_SNDBUF), as the
    kernel grants it: clamped to net.core.wmem_max, then doubled."""
    wmem_max = int(Path("/proc/sys/net/core/wmem_max").read_text())
    return 2 * min(1 << 20, wmem_max)


def send_buffers_while_posting(srv, path, body, want):
    """POST body to path + "?crc&sleep=1500" (the app sleeps before it
    reads, so httpd's socket to it stays open and full) and look at the
    send buffers of httpd's Unix sockets until one is want (or 1.2 s
    passed); returns the sizes seen and the response."""
    result = {}

    def post():
        result["r"] = srv.post(path + "?crc&sleep=1500", body, timeout=60)

    t = threading.Thread(target=post)
    t.start()
    seen = set()
    try:
        def look():
            seen.update(unix_send_buffers(set(children_of(srv.pid))))
            return want in seen
        conftest.wait_for(look, 1.2)
    finally:
        t.join(60)
    r = result["r"]
    assert r.status == 200, r
    assert r.body == b"length=%d crc32=%08x\n" % (len(body),
                                                   zlib.crc32(body))
    return seen


@pytest.mark.parametrize("kind", ["external", "pool"])
def test_large_body_gets_a_larger_send_buffer(httpd, responder, kind):
    """A body of more than one STDIN record: httpd widens the send
    buffer of its Unix socket to the app (fewer context switches with the
    app on the same core); a small body does not."""
    if kind == "external":
        srv = start_app(httpd, responder.address)
        path = "/app.fcgi"
    else:
        srv = static_pool(httpd)
        path = "/static.fcgi"
    default = int(Path("/proc/sys/net/core/wmem_default").read_text())
    wide = widened_send_buffer()
    if wide == default:
        pytest.skip("net.core.wmem_max is too small to widen anything")
    seen = send_buffers_while_posting(srv, path, b"x" * 1000, wide)
    assert seen == {default}, seen
    seen = send_buffers_while_posting(srv, path, os.urandom(16 << 20), wide)
    assert wide in seen, seen


def test_limit_request_body_gives_413(httpd, responder):
    srv = start_app(httpd, responder.address, extra="LimitRequestBody 1000")
    r = srv.post("/app.fcgi?echo", b"x" * 5000, timeout=15)
    assert r.status == 413, r


def test_limit_request_body_chunked_gives_413(httpd, responder):
    srv = start_app(httpd, responder.address, extra="LimitRequestBody 1000")
    r = srv.request("POST", "/app.fcgi?echo",
                    body=chunked_body(b"x" * 5000, 1000), timeout=15)
    assert r.status == 413, r


# =============================================================================
# Responses
# =============================================================================

def test_app_status_404_with_its_body(httpd, responder):
    srv = start_app(httpd, responder.address)
    r = srv.get("/app.fcgi?status=404", timeout=15)
    assert r.status == 404, r
    assert r.body == b"hello\n", "the app's own body, not httpd's page"


@pytest.mark.parametrize("status", [204, 304])
def test_app_bodyless_status_sends_no_body(httpd, responder, status):
    """The app sends a body anyway; none may reach the wire, or the next
    response on the connection would be corrupted."""
    srv = start_app(httpd, responder.address)
    conn = RawConn(srv.port, 15)
    try:
        conn.send(request_bytes(srv, "GET", "/app.fcgi?status=%d" % status)
                  + request_bytes(srv, "GET", "/app.fcgi?bytes=100"))
        first = read_response(conn, "GET", 15)
        second = read_response(conn, "GET", 15)
    finally:
        conn.close()
    assert first.status == status and first.body_len == 0, first
    assert second.status == 200 and second.complete, second
    assert bytes(second.body) == pattern(100)


def test_http10_client(httpd, responder):
    srv = start_app(httpd, responder.address)
    conn = RawConn(srv.port, 15)
    try:
        conn.send(b"GET /app.fcgi?bytes=5000 HTTP/1.0\r\n\r\n")
        r = read_response(conn, "GET", 15)
    finally:
        conn.close()
    assert r.status == 200, r
    assert bytes(r.body) == pattern(5000)
    assert r.complete is not False, r


def test_app_status_500(httpd, responder):
    srv = start_app(httpd, responder.address)
    r = srv.get("/app.fcgi?status=500", timeout=15)
    assert r.status == 500, r


def test_local_location_is_internal_redirect(httpd, responder):
    srv = start_app(httpd, responder.address)
    target = put_file(srv, "local/target.txt")
    r = srv.get("/app.fcgi?location=" + target, timeout=15)
    assert r.status == 200, r
    assert r.body == STATIC, "expected the content of %s" % target
    assert r.headers.get("Location") is None


def test_local_location_to_the_app_itself(httpd, responder):
    """An internal redirect back into the (single-process) app: the first
    backend connection must be done with before the second request."""
    srv = start_app(httpd, responder.address)
    r, env = get_env(srv, "/app.fcgi?location=/app.fcgi%3Fenv")
    assert r.status == 200, r
    assert env.get("REDIRECT_URL") == "/app.fcgi", r.body.decode()
    assert env.get("REDIRECT_STATUS") == "200"
    assert env.get("QUERY_STRING") == "env"
    assert env.get("REQUEST_METHOD") == "GET"


def test_multiple_set_cookie_headers_kept(httpd, responder):
    srv = start_app(httpd, responder.address)
    r = srv.get("/app.fcgi?header=Set-Cookie:a%3D1&header=Set-Cookie:b%3D2",
                timeout=15)
    assert r.status == 200, r
    assert sorted(r.headers.get_all("Set-Cookie") or []) == ["a=1", "b=2"]


def test_absolute_location_is_302(httpd, responder):
    srv = start_app(httpd, responder.address)
    url = "http://example.invalid/x"
    r = srv.get("/app.fcgi?location=" + url, timeout=15)
    assert r.status == 302, r
    assert r.headers.get("Location") == url


def test_app_content_length_is_dropped(httpd, responder):
    srv = start_app(httpd, responder.address)
    r = raw_request(srv, "GET", "/app.fcgi?bytes=1000&header=Content-Length:5")
    assert r.status == 200, r
    assert r.complete is True and not r.timed_out, r
    assert bytes(r.body) == pattern(1000), (
        "the app's wrong Content-Length must not frame the response: %r" % r)
    assert r.header("Content-Length") in (None, "1000"), r.headers


def test_app_transfer_encoding_is_dropped(httpd, responder):
    srv = start_app(httpd, responder.address)
    r = raw_request(srv, "GET",
                    "/app.fcgi?bytes=1000&header=Transfer-Encoding:chunked")
    assert r.status == 200, r
    assert r.complete is True and not r.timed_out, r
    assert bytes(r.body) == pattern(1000), r
    te = r.headers.get("transfer-encoding", [])
    assert len(te) <= 1, "Transfer-Encoding twice: %r" % te


def test_head_has_no_body(httpd, responder):
    srv = start_app(httpd, responder.address)
    conn = RawConn(srv.port, 15)
    try:
        conn.send(request_bytes(srv, "HEAD", "/app.fcgi?bytes=1000",
                                close=True))
        raw = conn.read_to_eof(time.monotonic() + 15)
    finally:
        conn.close()
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, "no complete header block: %r" % raw[:200]
    assert head.startswith(b"HTTP/1.1 200"), head
    assert rest == b"", "HEAD answered with %d body bytes" % len(rest)


def test_4kib_response_header_line_intact(httpd, responder):
    srv = start_app(httpd, responder.address)
    value = "v" * 4096
    r = srv.get("/app.fcgi?header=X-Big:" + value, timeout=15)
    assert r.status == 200, r
    assert r.headers.get("X-Big") == value
    assert r.body == b"hello\n"


def test_10kib_response_header_line_is_502(httpd, scripted):
    app = scripted(cgi_answer([("X-Big", b"x" * 10240)]))
    srv = start_app(httpd, app.address)
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 502, r
    assert wait_log(srv, "header", severe=True, any_case=True), (
        "no error-log line about the header line")


def header_line_answer(length):
    """A header line of exactly length bytes (CR LF not counted), then
    another header and a body."""
    line = b"X-Big: " + b"x" * (length - 7)
    return lambda req: (b"Status: 200 OK\r\nContent-Type: text/plain\r\n"
                        + line + b"\r\nX-After: yes\r\n\r\nok\n")


def test_8189_byte_header_line_passes_intact(httpd, scripted):
    """The longest line httpd's header scanner holds (8189 bytes without
    CR LF) reaches the client intact, and the next header too."""
    app = scripted(header_line_answer(8189))
    srv = start_app(httpd, app.address)
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 200, "an 8189-byte header line gave %r" % r
    assert len(r.headers.get("X-Big", "")) == 8189 - 7
    assert r.headers.get("X-After") == "yes"
    assert r.body == b"ok\n"


def test_8190_byte_header_line_is_502(httpd, scripted):
    """One byte more: refused by the module (502 and a log line), not a
    misleading 500 "premature end of script headers" from httpd."""
    app = scripted(header_line_answer(8190))
    srv = start_app(httpd, app.address)
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 502, r
    assert wait_log(srv, "header", severe=True, any_case=True)
    assert not log_lines(srv, "premature end", any_case=True), log_lines(
        srv, "premature", any_case=True)


def test_response_split_one_byte_per_record(httpd, scripted):
    """Header block and body cut into 1-byte STDOUT records: the blank
    line and every header straddle records."""
    out = (b"Status: 200 OK\r\nContent-Type: text/plain\r\n"
           b"X-Split: yes\r\n\r\nsplit body\n")

    def answer(req):
        return (b"".join(eb.rec(eb.STDOUT, req.rid, out[i:i + 1])
                         for i in range(len(out)))
                + eb.rec(eb.STDOUT, req.rid) + eb.end_request(req.rid))

    app = scripted(answer, raw=True)
    srv = start_app(httpd, app.address)
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 200, r
    assert r.headers.get("X-Split") == "yes"
    assert r.body == b"split body\n"


def test_lf_only_header_block(httpd, scripted):
    app = scripted(lambda req: b"Content-Type: text/plain\nX-Lf: 1\n\nlf\n")
    srv = start_app(httpd, app.address)
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 200, r
    assert r.headers.get("X-Lf") == "1"
    assert r.body == b"lf\n"


def test_no_header_block_is_502(httpd, responder):
    """Output that is not a CGI header block is a bad answer from the
    app: 502 (as nginx says for an upstream's invalid header)."""
    srv = start_app(httpd, responder.address)
    r = srv.get("/app.fcgi?noheaders", timeout=15)
    assert r.status == 502, r
    assert b"not a CGI header block" not in r.body
    assert wait_log(srv, "malformed response header block", severe=True,
                    any_case=True)


@pytest.mark.parametrize("block", [
    b"Content-Type: text/plain\r\nNo colon here\r\n\r\nbody\n",
    b"Content-Type: text/plain\r\nBad Name: x\r\n\r\nbody\n",
], ids=["no-colon", "space-in-name"])
def test_malformed_response_header_is_502(httpd, scripted, block):
    app = scripted(lambda req: block)
    srv = start_app(httpd, app.address)
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 502, r
    assert b"\nbody\n" not in r.body, "the app's body leaked"


def test_post_with_local_location_redirects(httpd, responder):
    """The app answers a redirect before it read the body."""
    srv = start_app(httpd, responder.address)
    target = put_file(srv, "local/target.txt")
    r = srv.post("/app.fcgi?location=" + target, os.urandom(300 << 10),
                 timeout=15)
    assert r.status == 200, r
    assert r.body == STATIC


def test_response_headers_over_64kib_are_502(httpd, scripted):
    headers = [("X-Fill-%02d" % i, b"f" * 4096) for i in range(20)]
    app = scripted(cgi_answer(headers))
    srv = start_app(httpd, app.address)
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 502, r


def test_response_headers_under_64kib_pass(httpd, scripted):
    headers = [("X-Fill-%02d" % i, b"f" * 4096) for i in range(10)]
    app = scripted(cgi_answer(headers))
    srv = start_app(httpd, app.address)
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 200, r
    assert r.headers.get("X-Fill-09") == "f" * 4096
    assert r.body == b"ok\n"


def test_10mib_response_streamed(httpd, responder):
    srv = start_app(httpd, responder.address)
    n = 10 << 20
    r = raw_request(srv, "GET", "/app.fcgi?bytes=%d" % n, timeout=60)
    assert r.status == 200, r
    assert r.complete is True and not r.timed_out, r
    assert r.body_len == n
    assert bytes(r.body) == pattern(n)


def test_slow_client_memory_bounded(httpd, responder):
    """A client that does not read: back-pressure reaches the app instead
    of httpd buffering the response."""
    srv = start_app(httpd, responder.address)
    put_file(srv, "hello.txt")
    assert srv.get("/hello.txt", timeout=15).status == 200
    before = children_rss_kib(srv)
    n = 64 << 20
    conn = RawConn(srv.port, 30)
    try:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        conn.send(request_bytes(srv, "GET", "/app.fcgi?bytes=%d" % n))
        time.sleep(2.0)                 # not reading
        growth = children_rss_kib(srv) - before
        r = read_response(conn, "GET", 60, sink=lambda d: None)
    finally:
        conn.close()
    assert r.status == 200 and r.complete and r.body_len == n, r
    assert growth < RSS_GROWTH_MAX_KIB, (
        "httpd children grew by %d KiB for a client that did not read"
        % growth)


LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"


def test_if_modified_since_gives_304(httpd, responder):
    srv = start_app(httpd, responder.address)
    q = "header=Last-Modified:" + LAST_MODIFIED.replace(" ", "%20")
    r = raw_request(srv, "GET", "/app.fcgi?" + q,
                    headers=[("If-Modified-Since",
                              "Tue, 02 Jan 2024 00:00:00 GMT")])
    assert r.status == 304, r
    assert r.body_len == 0


def test_if_modified_since_older_gives_200(httpd, responder):
    srv = start_app(httpd, responder.address)
    q = "header=Last-Modified:" + LAST_MODIFIED.replace(" ", "%20")
    r = raw_request(srv, "GET", "/app.fcgi?" + q,
                    headers=[("If-Modified-Since",
                              "Sun, 31 Dec 2023 00:00:00 GMT")])
    assert r.status == 200, r
    assert bytes(r.body) == b"hello\n"


def test_if_none_match_gives_304(httpd, responder):
    srv = start_app(httpd, responder.address)
    r = raw_request(srv, "GET", "/app.fcgi?header=ETag:%22v1%22",
                    headers=[("If-None-Match", '"v1"')])
    assert r.status == 304, r
    assert r.body_len == 0


def test_if_match_mismatch_gives_412(httpd, responder):
    srv = start_app(httpd, responder.address)
    r = raw_request(srv, "GET", "/app.fcgi?header=ETag:%22v1%22",
                    headers=[("If-Match", '"other"')])
    assert r.status == 412, r


# =============================================================================
# Flushing
# =============================================================================

def timed_chunks(srv, query):
    r = raw_request(srv, "GET", "/app.fcgi?" + query, close=True,
                    timeout=15)
    return r, (r.t_first_body or r.t_end) - r.t0, r.t_end - r.t0


def test_first_chunk_arrives_before_app_ends(httpd, responder):
    srv = start_app(httpd, responder.address)
    r, first, total = timed_chunks(srv, "chunks=3&pause=500")
    assert r.status == 200, r
    assert bytes(r.body) == b"chunk 0\nchunk 1\nchunk 2\n"
    assert total >= 1.0, "the app pauses 2 x 500 ms; total %.3f s" % total
    assert first < 0.4, "first body byte after %.3f s: buffered" % first


def test_x_accel_buffering_no_streams_and_is_not_forwarded(httpd, responder):
    srv = start_app(httpd, responder.address)
    r, first, total = timed_chunks(
        srv, "chunks=3&pause=500&header=X-Accel-Buffering:no")
    assert r.status == 200, r
    assert bytes(r.body) == b"chunk 0\nchunk 1\nchunk 2\n"
    assert total >= 1.0, total
    assert first < 0.4, "first body byte after %.3f s: buffered" % first
    assert r.header("X-Accel-Buffering") is None, (
        "X-Accel-Buffering forwarded to the client: %r" % r.headers)


def test_flush_option_streams(httpd, responder):
    srv = start_app(httpd, responder.address, opts="-flush")
    r, first, total = timed_chunks(srv, "chunks=3&pause=500")
    assert r.status == 200, r
    assert bytes(r.body) == b"chunk 0\nchunk 1\nchunk 2\n"
    assert first < 0.4, "first body byte after %.3f s" % first


# =============================================================================
# STDERR
# =============================================================================

def test_stderr_logged_not_in_body(httpd, responder):
    srv = start_app(httpd, responder.address)
    r = srv.get("/app.fcgi?stderr=hello-from-app", timeout=15)
    assert r.status == 200, r
    assert r.body == b"hello\n"
    assert b"hello-from-app" not in r.body
    assert wait_log(srv, "hello-from-app", str(srv.app_path), any_case=True), (
        "no error_log line with the app's stderr text and the app's path")


def test_stderr_logged_at_loglevel_warn(httpd, responder):
    srv = start_app(httpd, responder.address, log_level="warn",
                    extra="LogLevel warn fastcgi_x:warn")
    r = srv.get("/app.fcgi?stderr=hello-from-app", timeout=15)
    assert r.status == 200, r
    assert wait_log(srv, "hello-from-app", any_case=True), (
        "the app's stderr is not logged at LogLevel warn")


def test_stderr_control_characters_escaped(httpd, responder):
    srv = start_app(httpd, responder.address)
    r = srv.get("/app.fcgi?stderr=esc%1B[31mred", timeout=15)
    assert r.status == 200, r
    lines = wait_log(srv, "red", "stderr", any_case=True)
    assert lines, "stderr line not logged"
    assert all("\x1b" not in l for l in lines), "raw ESC in the error log"
    assert any("\\x1b" in l for l in lines), lines


def stderr_flood(total_mib):
    """Scripted answer: total_mib MiB of 4000-byte STDERR lines, then
    a small response."""
    block = (b"e" * 3999 + b"\n") * 16

    def answer(req):
        rec = eb.rec(eb.STDERR, req.rid, block)
        return (rec * (total_mib * 16)
                + eb.stream(eb.STDOUT, req.rid,
                            b"Content-Type: text/plain\r\n\r\nok\n")
                + eb.end_request(req.rid))
    return answer


def test_stderr_flood_memory_bounded(httpd, scripted):
    """32 MiB of stderr lines in one request must not grow httpd by as
    much: every line logged may not stay allocated until the request
    ends."""
    app = scripted(stderr_flood(32), raw=True)
    srv = start_app(httpd, app.address, log_level="warn",
                    extra="LogLevel warn fastcgi_x:warn")
    put_file(srv, "hello.txt")
    assert srv.get("/hello.txt", timeout=15).status == 200
    before = children_rss_kib(srv)
    r = srv.get("/" + APP, timeout=60)
    assert r.status == 200 and r.body == b"ok\n", r
    growth = children_rss_kib(srv) - before
    assert growth < RSS_GROWTH_MAX_KIB, (
        "httpd children grew by %d KiB while logging 32 MiB of stderr"
        % growth)


def test_stderr_flood_logged_up_to_a_cap(httpd, scripted):
    """An app stuck writing stderr does not fill the disk: 64 KiB per
    request are logged, then one line says the rest is not, and the end
    of the request says how much was dropped."""
    app = scripted(stderr_flood(4), raw=True)
    srv = start_app(httpd, app.address, log_level="warn",
                    extra="LogLevel warn fastcgi_x:warn")
    start = srv.error_log.stat().st_size
    r = srv.get("/" + APP, timeout=60)
    assert r.status == 200 and r.body == b"ok\n", r
    log = srv.error_log.read_bytes()[start:].decode("latin-1")
    # 4000-byte lines: 16 whole ones and a piece make up the 64 KiB.
    logged = sum(len(line.split(" stderr: ", 1)[1])
                 for line in log.splitlines() if "FCGIX00030" in line)
    assert logged == 64 * 1024 - 16, logged
    assert log.count("FCGIX00101") == 1, log[-2000:]
    written = 4 * 16 * 16 * 4000  # what stderr_flood(4) writes
    assert "FCGIX00102" in log and "%d bytes of stderr not logged" % (
        written - 64 * 1024) in log, log[-2000:]
    assert len(log) < 100 * 1024, len(log)


# =============================================================================
# Evil backend: every mode mapped to its status
# =============================================================================

def evil_app(httpd, evil, opts=""):
    backend = evil("ok")
    return start_app(httpd, backend.address, opts=opts)


@pytest.mark.parametrize("mode", ["ok", "byte-by-byte", "padding255"])
def test_evil_well_formed_modes_are_200(httpd, evil, mode):
    srv = evil_app(httpd, evil)
    r = srv.get("/app.fcgi?mode=" + mode, timeout=15)
    assert r.status == 200, r
    assert r.body == EVIL_BODY
    assert r.headers.get("X-Evil-Mode") == mode


@pytest.mark.parametrize("size", [0, 1, 65528, 65529, 200000])
def test_evil_sees_whole_request_body(httpd, evil, size):
    """STDIN record framing at the record-size boundaries: the backend
    counts the bytes it got."""
    srv = evil_app(httpd, evil)
    r = srv.post("/app.fcgi?mode=ok", os.urandom(size), timeout=15)
    assert r.status == 200, r
    assert r.headers.get("X-Stdin-Length") == str(size)


def test_concurrent_requests(httpd, evil):
    """32 requests at once over a threaded backend: answers never mixed."""
    srv = evil_app(httpd, evil)
    modes = ["ok", "byte-by-byte", "padding255", "stderr-interleaved"] * 8
    results = [None] * len(modes)

    def run(i):
        size = 1000 * i
        try:
            results[i] = srv.post("/app.fcgi?mode=%s&i=%d" % (modes[i], i),
                                  b"b" * size, timeout=30)
        except Exception as e:          # reported below
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,), daemon=True)
               for i in range(len(modes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    for i, r in enumerate(results):
        assert isinstance(r, conftest.Response), "request %d: %r" % (i, r)
        assert r.status == 200, (i, r)
        assert r.body == EVIL_BODY, (i, r.body)
        assert r.headers.get("X-Evil-Mode") == modes[i], i
        assert r.headers.get("X-Stdin-Length") == str(1000 * i), i


def test_evil_stderr_interleaved(httpd, evil):
    srv = evil_app(httpd, evil)
    r = srv.get("/app.fcgi?mode=stderr-interleaved", timeout=15)
    assert r.status == 200, r
    assert r.body == EVIL_BODY, "stderr mixed into the body: %r" % r.body
    assert wait_log(srv, "evil stderr two", any_case=True), (
        "stderr line not logged")


@pytest.mark.parametrize("mode", ["bad-version", "wrong-request-id",
                                  "oversize-headers", "unknown-type"])
def test_evil_malformed_is_502(httpd, evil, mode):
    srv = evil_app(httpd, evil)
    r = srv.get("/app.fcgi?mode=" + mode, timeout=15)
    assert r.status == 502, r


def test_evil_end_before_stdout_eof_completes(httpd, evil):
    srv = evil_app(httpd, evil)
    r = raw_request(srv, "GET", "/app.fcgi?mode=end-before-stdout-eof")
    assert r.status == 200, r
    assert r.complete is True and not r.timed_out, r
    assert bytes(r.body) == EVIL_BODY


def test_evil_close_before_end(httpd, evil):
    """Full STDOUT, then close without END_REQUEST."""
    srv = evil_app(httpd, evil)
    r = raw_request(srv, "GET", "/app.fcgi?mode=close-before-end")
    assert_truncated_or_502(r, "close before END_REQUEST")


def test_evil_stdout_after_end_no_crash(httpd, evil):
    """Bytes after END_REQUEST: the response it closed, complete (the
    status was left open here before, 200 or 502, so this could not
    fail); test_responses.py checks the warning and the closing."""
    srv = evil_app(httpd, evil)
    static = put_file(srv, "hello.txt")
    r = raw_request(srv, "GET", "/app.fcgi?mode=stdout-after-end")
    assert not r.timed_out, r
    assert r.status == 200 and r.complete, r
    assert bytes(r.body) == EVIL_BODY, r.body
    again = srv.get("/app.fcgi?mode=ok", timeout=15)
    assert again.status == 200 and again.body == EVIL_BODY, again
    assert srv.get(static, timeout=15).status == 200
    assert_no_child_crash(srv, SETTLE)


def test_evil_overloaded_is_503_retry_after(httpd, evil):
    srv = evil_app(httpd, evil)
    r = srv.get("/app.fcgi?mode=overloaded", timeout=15)
    assert r.status == 503, r
    assert r.headers.get("Retry-After"), "503 without Retry-After"


def test_evil_app_status_logged(httpd, evil):
    srv = evil_app(httpd, evil)
    r = srv.get("/app.fcgi?mode=app-status", timeout=15)
    assert r.status == 200, r
    assert r.body == EVIL_BODY
    found = conftest.wait_for(
        lambda: [l for l in log_text(srv).splitlines()
                 if re.search(r"(?i)status[ :=]*3\b", l)], 5)
    assert found, "no error-log line with the app status 3"


def children_fds_now(srv):
    """Open descriptors of the httpd children of srv, summed."""
    total = 0
    for pid in httpd_children(srv):
        try:
            total += len(os.listdir("/proc/%d/fd" % pid))
        except OSError:
            pass
    return total


def children_fds(srv, settle=3.0):
    """children_fds_now() once it has held still for 0.3 s (at most
    settle s; the smallest count seen then): the event MPM closes a
    client's socket after its lingering close, a moment after the
    response, so one look may count a connection that is going away."""
    deadline = time.monotonic() + settle
    last, low = children_fds_now(srv), None
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = children_fds_now(srv)
        low = now if low is None else min(low, now)
        if now == last:
            return now
        last = now
    return low


def httpd_children(srv):
    """PIDs of the children of httpd's parent (workers, the PM)."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                status = Path("/proc/%s/status" % pid).read_text()
            except OSError:
                continue
            if "\nPPid:\t%d\n" % srv.pid in status:
                out.append(int(pid))
    return out


def test_evil_catalogue_leaks_nothing(httpd, evil):
    """Every evil mode, round after round, on one httpd child: its open
    descriptors come back to where they were and its memory stays flat
    (a leaked socket, brigade or pool per failure would show)."""
    srv = start_app(httpd, evil("ok").address, opts="-idle-timeout 1",
                    extra="StartServers 1\nServerLimit 1\nMaxSpareThreads 25")
    modes = sorted(eb.MODES)

    def one_round():
        for mode in modes:
            r = raw_request(srv, "GET", "/app.fcgi?mode=" + mode, timeout=15)
            assert not r.timed_out, (mode, r)
    one_round()
    fds0, rss0 = children_fds(srv), children_rss_kib(srv)
    rounds = 8
    for _ in range(rounds):
        one_round()
    fds1, rss1 = children_fds(srv), children_rss_kib(srv)
    print("%d modes x %d rounds: httpd children fds %d -> %d, RSS %d -> "
          "%d KiB" % (len(modes), rounds, fds0, fds1, rss0, rss1))
    assert fds1 <= fds0, (fds0, fds1)
    assert rss1 - rss0 < 2048, (rss0, rss1)
    assert_no_child_crash(srv, SETTLE)


def test_evil_hang_is_504_with_idle_timeout(httpd, evil):
    srv = evil_app(httpd, evil, opts="-idle-timeout 2")
    t0 = time.monotonic()
    r = raw_request(srv, "GET", "/app.fcgi?mode=hang", timeout=15)
    elapsed = time.monotonic() - t0
    assert not r.timed_out, "no answer within 15 s: %r" % r
    assert r.status == 504, r
    assert elapsed < 10, "504 only after %.1f s" % elapsed


def test_idle_timeout_after_headers_truncates(httpd, responder):
    srv = start_app(httpd, responder.address, opts="-idle-timeout 2")
    t0 = time.monotonic()
    r = raw_request(srv, "GET", "/app.fcgi?chunks=2&pause=6000", timeout=15)
    elapsed = time.monotonic() - t0
    assert_truncated(r, "app silent after its first chunk")
    assert bytes(r.body) == b"chunk 0\n"
    assert elapsed < 5, "cut only after %.1f s" % elapsed


# =============================================================================
# Connection failures
# =============================================================================

def test_socket_nobody_listens_is_503(httpd, workdir):
    path = workdir / "nobody.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))          # a stale socket file: refused
    s.close()
    os.chmod(path, 0o777)
    srv = start_app(httpd, str(path))
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 503, r
    assert r.headers.get("Retry-After"), "503 without Retry-After"
    assert wait_log(srv, str(path), severe=True), (
        "no error-log line naming %s" % path)


def test_socket_missing_is_503(httpd, workdir):
    path = workdir / "missing.sock"
    srv = start_app(httpd, str(path))
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 503, r
    assert r.headers.get("Retry-After"), "503 without Retry-After"
    assert wait_log(srv, str(path), severe=True), (
        "no error-log line naming %s" % path)


def test_app_conn_timeout_is_503(httpd, workdir):
    """A Unix socket whose backlog is full (the app never accepts):
    connect() gives up after -appConnTimeout."""
    path = str(workdir / "full.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    os.chmod(path, 0o777)
    lsock.listen(0)
    fillers = []
    try:
        for _ in range(8):              # fill the backlog
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(path)
            except BlockingIOError:
                c.close()
                break
            fillers.append(c)
        srv = start_app(httpd, path, opts="-appConnTimeout 1")
        t0 = time.monotonic()
        r = srv.get("/" + APP, timeout=15)
        elapsed = time.monotonic() - t0
    finally:
        for c in fillers:
            c.close()
        lsock.close()
    assert r.status == 503, r
    assert r.headers.get("Retry-After"), "503 without Retry-After"
    assert elapsed < 5, "503 only after %.1f s" % elapsed


def test_closed_tcp_port_is_503(httpd):
    port = conftest.free_port()       # bound then released: nobody listens
    srv = start_app(httpd, ("127.0.0.1", port))
    r = srv.get("/" + APP, timeout=15)
    assert r.status == 503, r
    assert r.headers.get("Retry-After"), "503 without Retry-After"


# =============================================================================
# The app crashes
# =============================================================================

def restart_responder(responder, responder_factory):
    """The responder died; start another on the same socket path."""
    conftest.wait_for(lambda: not responder.alive(), 5)
    return responder_factory(address=responder.address)


def test_crash_before_output_is_502(httpd, responder, responder_factory):
    srv = start_app(httpd, responder.address)
    static = put_file(srv, "hello.txt")
    r = srv.get("/app.fcgi?crash=before", timeout=15)
    assert r.status == 502, r
    assert srv.get(static, timeout=15).status == 200
    restart_responder(responder, responder_factory)
    again = srv.get("/" + APP, timeout=15)
    assert again.status == 200 and again.body == b"hello\n", again
    assert_no_child_crash(srv, SETTLE)


def test_crash_after_output(httpd, responder, responder_factory):
    """Headers and body, then exit without END_REQUEST: all output may
    arrive in one read with the close, so 502 or a truncated response."""
    srv = start_app(httpd, responder.address)
    static = put_file(srv, "hello.txt")
    r = raw_request(srv, "GET", "/app.fcgi?crash=after")
    assert_truncated_or_502(r, "crash after output")
    assert srv.get(static, timeout=15).status == 200
    restart_responder(responder, responder_factory)
    again = srv.get("/" + APP, timeout=15)
    assert again.status == 200 and again.body == b"hello\n", again
    assert_no_child_crash(srv, SETTLE)


def test_crash_after_headers_sent_truncates(httpd, responder,
                                            responder_factory):
    """The app streams (so headers reach the client), then crashes."""
    srv = start_app(httpd, responder.address)
    static = put_file(srv, "hello.txt")
    r = raw_request(srv, "GET", "/app.fcgi?chunks=3&pause=300&crash=after")
    assert_truncated(r, "crash after streamed output")
    assert bytes(r.body).startswith(b"chunk 0\n"), r.body
    assert srv.get(static, timeout=15).status == 200
    restart_responder(responder, responder_factory)
    again = srv.get("/" + APP, timeout=15)
    assert again.status == 200 and again.body == b"hello\n", again
    assert_no_child_crash(srv, SETTLE)


# =============================================================================
# The client goes away
# =============================================================================

def abort_after(srv, target, delay=0.3):
    conn = RawConn(srv.port, 5)
    conn.send(request_bytes(srv, "GET", target))
    time.sleep(delay)
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))   # RST, like a browser tab
    conn.close()
    return time.monotonic()


def test_client_abort_while_app_sleeps(httpd, responder):
    srv = start_app(httpd, responder.address)
    static = put_file(srv, "hello.txt")
    abort_after(srv, "/app.fcgi?sleep=3000")
    r = srv.get(static, timeout=5)
    assert r.status == 200 and r.body == STATIC, r
    t0 = time.monotonic()
    again = srv.get("/app.fcgi?pid", timeout=10)
    assert again.status == 200, again
    assert time.monotonic() - t0 < 8
    assert_no_child_crash(srv, SETTLE)


def test_client_abort_while_streaming_frees_app(httpd, responder):
    """The app would stream for 10 s; after the abort the module must drop
    the backend connection so the (single) app process is free again."""
    srv = start_app(httpd, responder.address)
    static = put_file(srv, "hello.txt")
    aborted = abort_after(srv, "/app.fcgi?chunks=50&pause=200")
    r = srv.get(static, timeout=5)
    assert r.status == 200 and r.body == STATIC, r
    again = srv.get("/app.fcgi?pid", timeout=15)
    waited = time.monotonic() - aborted
    assert again.status == 200, again
    assert waited < 5, ("the app was busy %.1f s after the client left: "
                        "the module kept reading the aborted response"
                        % waited)
    assert_no_child_crash(srv, SETTLE)


# =============================================================================
# Kept connections (-keep-conn)
# =============================================================================

def numbered_answer(req):
    q = req.params.get(b"QUERY_STRING", b"")
    return (b"Content-Type: text/plain\r\nX-Query: " + q + b"\r\n\r\n"
            + b"answer to " + q + b"\n")


def test_keep_conn_reuses_connections(httpd, scripted):
    app = scripted(numbered_answer, keep=True)
    srv = start_app(httpd, app.address, opts="-keep-conn")
    get_back_to_back(srv, 10)
    assert all(app.keep_flags), "FCGI_KEEP_CONN not asked for"
    assert app.connections < 10, (
        "%d backend connections for 10 back-to-back requests"
        % app.connections)


def test_no_keep_conn_by_default(httpd, scripted):
    app = scripted(numbered_answer, keep=True)
    srv = start_app(httpd, app.address)
    for i in range(3):
        r = srv.get("/app.fcgi?n%d" % i, timeout=15)
        assert r.status == 200 and r.body == b"answer to n%d\n" % i, r
    assert not any(app.keep_flags), "FCGI_KEEP_CONN without -keep-conn"
    assert app.connections == 3


def test_keep_conn_mixed_requests_never_mix_answers(httpd, responder):
    """Requests that end early (HEAD, 304, redirects, 404) must not leave
    bytes on a kept connection for the next request to read."""
    srv = start_app(httpd, responder.address, opts="-keep-conn")
    target = put_file(srv, "local/target.txt")
    lm = "header=Last-Modified:" + LAST_MODIFIED.replace(" ", "%20")
    steps = [
        ("HEAD", "/app.fcgi?bytes=300000", None, 200, None),
        ("GET", "/app.fcgi?bytes=1000", None, 200, pattern(1000)),
        ("GET", "/app.fcgi?bytes=200000&" + lm,
         [("If-Modified-Since", "Tue, 02 Jan 2024 00:00:00 GMT")], 304, b""),
        ("GET", "/app.fcgi?bytes=10", None, 200, pattern(10)),
        ("GET", "/app.fcgi?location=" + target, None, 200, STATIC),
        ("GET", "/app.fcgi?location=http://example.invalid/", None, 302,
         None),
        ("GET", "/app.fcgi?status=404", None, 404, b"hello\n"),
        ("POST", "/app.fcgi?echo", None, 200, b"posted body"),
        ("GET", "/app.fcgi?bytes=26", None, 200, pattern(26)),
    ]
    conn = RawConn(srv.port, 15)
    try:
        for method, target_, headers, status, body in steps * 3:
            data = b"posted body" if method == "POST" else None
            conn.send(request_bytes(srv, method, target_, headers or (),
                                    body=data))
            r = read_response(conn, method, 15)
            assert r.status == status, (method, target_, r)
            if body is not None:
                assert bytes(r.body) == body, (method, target_, r.body[:80])
    finally:
        conn.close()


def test_keep_conn_survives_app_restart(httpd, responder, responder_factory):
    srv = start_app(httpd, responder.address, opts="-keep-conn")
    assert srv.get("/app.fcgi", timeout=15).status == 200
    responder.stop()
    restart_responder(responder, responder_factory)
    for _ in range(3):
        r = srv.get("/app.fcgi", timeout=15)
        assert r.status == 200 and r.body == b"hello\n", r


def test_keep_conn_retries_get_on_dropped_connection(httpd, scripted):
    """The app closes a kept connection when the next request arrives on
    it (as an app retiring after N requests may): a GET goes again on a
    new connection."""
    app = scripted(numbered_answer, keep=True, drop_second=True)
    srv = start_app(httpd, app.address, opts="-keep-conn")
    conn = RawConn(srv.port, 15)
    try:
        for i in range(4):
            conn.send(request_bytes(srv, "GET", "/app.fcgi?n%d" % i))
            r = read_response(conn, "GET", 15)
            assert r.status == 200, (i, r)
            assert bytes(r.body) == b"answer to n%d\n" % i
    finally:
        conn.close()


def test_keep_conn_resends_small_post_on_dropped_connection(httpd, scripted):
    """As above for a POST: a small body is read whole before sending, so
    it can go again (this gave 502 before the body was kept)."""
    app = scripted(numbered_answer, keep=True, drop_second=True)
    srv = start_app(httpd, app.address, opts="-keep-conn")
    conn = RawConn(srv.port, 15)
    try:
        for i in range(4):
            conn.send(request_bytes(srv, "POST", "/app.fcgi?n%d" % i,
                                    body=b"x" * 100))
            r = read_response(conn, "POST", 15)
            assert r.status == 200, (i, r)
            assert bytes(r.body) == b"answer to n%d\n" % i
    finally:
        conn.close()


def test_keep_conn_does_not_pin_single_process_app(httpd, responder):
    """8 clients x 5 requests against ONE single-threaded app process: a
    kept idle connection must never keep the others waiting."""
    srv = start_app(httpd, responder.address,
                    opts="-keep-conn -idle-timeout 10")
    errors = []

    def client(k):
        for i in range(5):
            try:
                r = srv.get("/app.fcgi?sleep=20&c=%d" % k, timeout=30)
                if r.status != 200 or r.body != b"hello\n":
                    errors.append((k, i, r))
            except Exception as e:      # reported below
                errors.append((k, i, e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,), daemon=True)
               for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    elapsed = time.monotonic() - t0
    assert not errors, errors[:5]
    # 40 requests of 20 ms each, served one at a time: ~1 s of work
    assert elapsed < 8, "40 requests took %.1f s: connections pinned" % (
        elapsed)


def test_keep_conn_with_evil_modes(httpd, evil):
    """Well-formed and broken answers in turn on kept connections."""
    backend = evil("ok")
    srv = start_app(httpd, backend.address, opts="-keep-conn")
    for mode, status in [("ok", 200), ("bad-version", 502), ("ok", 200),
                         ("stdout-after-end", 200), ("ok", 200),
                         ("close-before-end", None), ("byte-by-byte", 200),
                         ("ok", 200)] * 2:
        r = raw_request(srv, "GET", "/app.fcgi?mode=" + mode)
        assert not r.timed_out, (mode, r)
        if status is not None:
            assert r.status == status, (mode, r)
        if status == 200:
            assert bytes(r.body) == EVIL_BODY and r.complete, (mode, r)


# =============================================================================
# -nph: the app writes the whole HTTP response
# =============================================================================

NPH_RESPONSE = (b"HTTP/1.1 299 Custom\r\nContent-Type: text/plain\r\n"
                b"X-Nph: yes\r\nContent-Length: 9\r\n\r\nnph body\n")


def nph_exchange(srv, path):
    conn = RawConn(srv.port, 15)
    try:
        conn.send(request_bytes(srv, "GET", path))
        return conn.read_to_eof(time.monotonic() + 15)
    finally:
        conn.close()


def test_nph_option_response_verbatim(httpd, scripted):
    app = scripted(lambda req: NPH_RESPONSE)
    srv = start_app(httpd, app.address, opts="-nph")
    raw = nph_exchange(srv, "/" + APP)
    assert raw == NPH_RESPONSE, "not the app's bytes: %r" % raw[:300]


def test_nph_prefix_name_response_verbatim(httpd, scripted):
    app = scripted(lambda req: NPH_RESPONSE)
    srv = httpd()
    srv.extra_conf = external_server(srv.docroot / "nph-app.fcgi",
                                     app.address)
    srv.start()
    raw = nph_exchange(srv, "/nph-app.fcgi")
    assert raw == NPH_RESPONSE, "not the app's bytes: %r" % raw[:300]
