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
from helpers import (APP, RawConn, chunked_body, eb, get_back_to_back,
                     log_lines, log_text, read_response, request_bytes,
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
    get_back_to_back(srv, 10)
    assert all(app.keep_flags), "FCGI_KEEP_CONN not asked for"
    assert app.connections == 10, (
        "%d backend connections for 10 requests: a connection with bytes "
        "after END_REQUEST was kept" % app.connections)
    assert len(log_lines(srv, "FCGIX00302")) == 10


# =============================================================================
# FastCgiSpoolLimit
# =============================================================================

def test_spool_limit_gives_413_above_it(httpd, responder):
    srv = start_app(httpd, responder.address, extra="\n".join([
        '<Directory "{docroot}">',
        "    FastCgiSpoolLimit 100000",
        "</Directory>"]))
    small = os.urandom(60000)
    r = srv.request("POST", "/app.fcgi?echo", body=chunked_body(small),
                    timeout=15)
    assert r.status == 200 and r.body == small, r
    r = srv.request("POST", "/app.fcgi?echo",
                    body=chunked_body(b"x" * 200000), timeout=15)
    assert r.status == 413, r
    assert wait_log(srv, "FCGIX00303", str(srv.app_path), "100000"), \
        log_text(srv)[-3000:]
    # A body with Content-Length streams and is not spooled: no cap.
    big = os.urandom(200000)
    r = srv.post("/app.fcgi?echo", big, timeout=15)
    assert r.status == 200 and r.body == big, r


def test_spool_limit_counts_the_file_part(httpd, responder):
    """A cap above the 1 MiB memory spool bounds the temporary file."""
    srv = start_app(httpd, responder.address, extra="\n".join([
        "<Location /app.fcgi>",
        "    FastCgiSpoolLimit 2M",
        "</Location>"]))
    ok = os.urandom(2 << 20)
    r = srv.request("POST", "/app.fcgi?echo", body=chunked_body(ok, 65536),
                    timeout=30)
    assert r.status == 200 and r.body == ok, r
    r = srv.request("POST", "/app.fcgi?echo",
                    body=chunked_body(b"y" * ((2 << 20) + 1), 65536),
                    timeout=30)
    assert r.status == 413, r


def test_spool_limit_in_htaccess(httpd, responder):
    srv = httpd()
    srv.app_path = srv.docroot / APP
    (srv.docroot / ".htaccess").write_text("FastCgiSpoolLimit 1000\n")
    srv.extra_conf = "\n".join([
        "FastCgiExternalServer %s -socket %s" % (srv.app_path,
                                                 responder.address),
        "AccessFileName .htaccess",
        '<Directory "%s">' % srv.docroot,
        "    AllowOverride FileInfo",
        "</Directory>"])
    srv.start()
    r = srv.request("POST", "/app.fcgi?echo", body=chunked_body(b"z" * 5000),
                    timeout=15)
    assert r.status == 413, r


@pytest.mark.parametrize("value", ["12abc", "-5", "1T5", "1.5G", " 7",
                                   "99999999999999999999", "9999999999G"])
def test_spool_limit_bad_value_names_directive_and_value(httpd, value):
    srv = httpd()
    srv.extra_conf = 'FastCgiSpoolLimit "%s"' % value
    rc, out = srv.check()
    assert rc != 0, out
    assert "FastCgiSpoolLimit" in out and "'%s'" % value in out, out


@pytest.fixture
def full_tmpfs(workdir):
    """A 1 MiB tmpfs (root only), unmounted after httpd is stopped (ask
    for it before httpd)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where = workdir / "smalltmp"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=1777",
                    "tmpfs", str(where)], check=True, timeout=10)
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], timeout=10).returncode:
            subprocess.run(["umount", "-l", str(where)], timeout=10)


def test_spool_on_a_full_disk_is_500_and_leaves_no_file(full_tmpfs, httpd,
                                                        responder,
                                                        monkeypatch):
    """httpd's temp dir (APR: $TMPDIR) is a 1 MiB tmpfs: a 3 MiB chunked
    body fills it. The client gets a 500 (not the client's 400), the log
    says why, naming the app, and no spool file stays."""
    monkeypatch.setenv("TMPDIR", str(full_tmpfs))
    srv = start_app(httpd, responder.address)
    r = srv.request("POST", "/app.fcgi?echo",
                    body=chunked_body(os.urandom(3 << 20), 65536), timeout=30)
    assert r.status == 500, r
    lines = wait_log(srv, "FCGIX00304", str(srv.app_path))
    assert lines and "No space left on device" in lines[0], \
        log_text(srv)[-3000:]
    assert os.listdir(full_tmpfs) == [], os.listdir(full_tmpfs)
    # A small chunked body, held in memory, still works.
    r = srv.request("POST", "/app.fcgi?echo", body=chunked_body(b"ok" * 100),
                    timeout=15)
    assert r.status == 200 and r.body == b"ok" * 100, r


def spool_fds(srv, where):
    """Descriptors of srv's children open on a file under where: the
    link texts in /proc/PID/fd."""
    found = []
    for pid, _started in conftest.descendants(srv.pid):
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if target.startswith(str(where)):
                found.append(target)
    return found


def test_spool_file_has_no_name_while_in_use(httpd, responder, workdir,
                                             monkeypatch):
    """While a chunked upload is being spooled to a file, the file is
    open but already unlinked: nothing to leave behind if httpd dies."""
    tmp = workdir / "spooltmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    monkeypatch.setenv("TMPDIR", str(tmp))
    srv = start_app(httpd, responder.address)
    conn = RawConn(srv.port, 15)
    try:
        conn.send(("POST /app.fcgi?echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n").encode())
        piece = b"s" * 65536
        for _ in range(24):             # 1.5 MiB: past the memory spool
            conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
        held = conftest.wait_for(lambda: spool_fds(srv, tmp), 10)
        assert held, "no httpd child holds a spool file in %s" % tmp
        assert os.listdir(tmp) == [], (os.listdir(tmp), held)
        assert all(t.endswith(" (deleted)") for t in held), held
        conn.send(b"0\r\n\r\n")
        r = read_response(conn, "POST", 15)
        assert r.status == 200 and r.body_len == 24 * 65536, r
    finally:
        conn.close()


# =============================================================================
# STDERR escaping
# =============================================================================

def httpd_log_escape(text):
    """What httpd's error log does to any message (ap_escape_errorlog_item
    as Debian's httpd runs it): a backslash is doubled, \\b \\n \\r \\t
    \\v keep their letters, other control bytes become \\xhh; a double
    quote stays as it is (only the access log escapes it)."""
    named = {"\b": "\\b", "\n": "\\n", "\r": "\\r", "\t": "\\t",
             "\v": "\\v", "\\": "\\\\"}
    out = []
    for ch in text:
        if ch in named:
            out.append(named[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def test_stderr_line_is_escaped_once(httpd, responder):
    """PHP's 'Undefined array key "REMOTE_USER"' with control bytes and
    a backslash: the log shows the line as httpd escapes any message
    (as mod_proxy_fcgi's lines look): the quotes as they are, not
    \\"REMOTE_USER\\", and no raw control byte."""
    line = ('Undefined array key "REMOTE_USER" \x1b[31m back\\slash'
            '\ttab \x01 \x7f end')
    srv = start_app(httpd, responder.address)
    query = "stderr=" + "".join("%%%02X" % b for b in line.encode())
    r = srv.get("/app.fcgi?" + query, timeout=15)
    assert r.status == 200, r
    lines = wait_log(srv, "FCGIX00030", "REMOTE_USER")
    assert lines, log_text(srv)[-3000:]
    assert not [l for l in lines if any(ord(c) < 0x20 or ord(c) == 0x7F
                                        for c in l)], "raw control byte"
    expected = "stderr: " + httpd_log_escape(line)
    assert any(l.endswith(expected) for l in lines), (expected, lines)


PROXY_FCGI = conftest.MODDIR / "mod_proxy_fcgi.so"


@pytest.mark.skipif(not PROXY_FCGI.exists(), reason="no mod_proxy_fcgi")
def test_stderr_line_reads_as_mod_proxy_fcgi_logs_it(httpd, responder):
    """The same stderr line through mod_proxy_fcgi (AH01071 "Got error
    '...'") and through this module: the logged text is the same."""
    line = 'key "X" \x1b[1m a\\b\tc \x02'
    query = "stderr=" + "".join("%%%02X" % b for b in line.encode())
    ours = start_app(httpd, responder.address)
    theirs = httpd(load_module=False)
    theirs.extra_conf = "\n".join([
        'LoadModule proxy_module "%s"' % (conftest.MODDIR / "mod_proxy.so"),
        'LoadModule proxy_fcgi_module "%s"' % PROXY_FCGI,
        "ProxyPass /app.fcgi unix:%s|fcgi://localhost/" % responder.address])
    theirs.start()
    for srv in (ours, theirs):
        assert srv.get("/app.fcgi?" + query, timeout=15).status == 200
    mine = wait_log(ours, "FCGIX00030", "key", any_case=True)
    ref = wait_log(theirs, "AH01071")
    assert mine and ref, (log_text(ours)[-2000:], log_text(theirs)[-2000:])
    logged = ref[0].split("Got error '", 1)[1]
    logged = logged[:logged.rindex("'")]
    if logged.endswith("\\n"):          # it keeps the app's newline
        logged = logged[:-2]
    assert mine[0].endswith("stderr: " + logged), (mine[0], ref[0])
