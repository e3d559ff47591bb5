"""X-Sendfile (fcgi_sendfile.c): an app answers with `X-Sendfile: /path`
and httpd serves that file as it serves static files (Content-Length,
Last-Modified, ETag, Range, 304), when the path resolves inside a
directory FastCgiSendfilePath allows where the request is. The header
never reaches the client; outside the allowed directories 403, a missing
file 404, each with a log line naming the app and the path; where no
FastCgiSendfilePath applies the header is dropped and the app's own body
is sent.

The app is the test responder: `?header=X-Sendfile:/path` adds the
header to its usual answer ("hello\n", text/plain)."""

import hashlib
import os
import subprocess
import time
import urllib.parse

import pytest

from helpers import children_of, log_text, wait_log

HELLO = b"hello\n"
DATA = bytes(range(256)) * 40  # 10,240 bytes


def ask(path, ctype=None):
    """The responder's query for an X-Sendfile of path (and a
    Content-Type of its own, when given)."""
    q = "header=" + urllib.parse.quote("X-Sendfile:" + str(path), safe="")
    if ctype:
        q += "&header=" + urllib.parse.quote("Content-Type:" + ctype,
                                             safe="")
    return "/app.fcgi?" + q


def files_dir(srv, name="files"):
    d = srv.root / name
    d.mkdir(mode=0o755, exist_ok=True)
    return d


def put(d, name, data=DATA):
    p = d / name
    p.write_bytes(data)
    p.chmod(0o644)
    return p


def server(httpd, responder, conf):
    """httpd with the responder as app.fcgi; conf may use {root} and
    {docroot}. The files directory exists before httpd starts."""
    srv = httpd()
    srv.app_path = srv.docroot / "app.fcgi"
    files_dir(srv)
    files_dir(srv, "other")
    srv.extra_conf = "\n".join([
        "FastCgiExternalServer %s -socket %s" % (srv.app_path,
                                                 responder.address),
        "AddType text/css .css",  # the tests' TypesConfig is empty
        conf.format(root=srv.root, docroot=srv.docroot)])
    srv.start()
    return srv


@pytest.fixture
def allowed(httpd, responder):
    """FastCgiSendfilePath <root>/files for the whole server."""
    return server(httpd, responder, 'FastCgiSendfilePath "{root}/files"')


def test_file_is_served_instead_of_the_app_body(allowed):
    f = put(files_dir(allowed), "data.bin")
    r = allowed.get(ask(f))
    assert r.status == 200, r
    assert r.body == DATA
    assert r.headers.get("Content-Length") == str(len(DATA))
    assert "X-Sendfile" not in r.headers
    assert r.headers.get("Last-Modified")
    assert r.headers.get("ETag")
    assert r.headers.get("Accept-Ranges") == "bytes"


def test_type_from_the_app_or_from_the_extension(allowed):
    d = files_dir(allowed)
    css = put(d, "style.css", b"body { color: red }\n")
    # the responder says text/plain: the app's type counts
    r = allowed.get(ask(css))
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r
    # PHP's default text/html is a placeholder: the extension decides
    r = allowed.get(ask(css, "text/html; charset=UTF-8"))
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").startswith("text/css"), r
    assert r.body == b"body { color: red }\n"


def test_range_and_conditional_requests(allowed):
    f = put(files_dir(allowed), "data.bin")
    r = allowed.get(ask(f), headers={"Range": "bytes=10-19"})
    assert r.status == 206, r
    assert r.body == DATA[10:20]
    assert r.headers.get("Content-Range") == "bytes 10-19/%d" % len(DATA)
    full = allowed.get(ask(f))
    r = allowed.get(ask(f), headers={
        "If-Modified-Since": full.headers["Last-Modified"]})
    assert r.status == 304, r
    assert r.body == b""
    r = allowed.get(ask(f), headers={"If-None-Match": full.headers["ETag"]})
    assert r.status == 304, r


def test_head_gets_the_file_headers_without_a_body(allowed):
    f = put(files_dir(allowed), "data.bin")
    r = allowed.request("HEAD", ask(f))
    assert r.status == 200, r
    assert r.body == b""
    assert r.headers.get("Content-Length") == str(len(DATA))
    assert "X-Sendfile" not in r.headers


def test_outside_the_allowed_directory_is_403(allowed):
    f = put(files_dir(allowed, "other"), "secret.txt")
    r = allowed.get(ask(f))
    assert r.status == 403, r
    assert DATA not in r.body
    lines = wait_log(allowed, "FCGIX00028")
    assert any(str(allowed.app_path) in x and str(f) in x for x in lines), \
        lines


def test_dot_dot_and_symlinks_are_resolved(allowed):
    d = files_dir(allowed)
    secret = put(files_dir(allowed, "other"), "secret.txt")
    link = d / "link.txt"
    os.symlink(secret, link)
    assert allowed.get(ask(link)).status == 403
    assert allowed.get(ask(str(d) + "/../other/secret.txt")).status == 403
    # a symlink to a file inside is fine
    inside = put(d, "real.bin")
    os.symlink(inside, d / "alias.bin")
    r = allowed.get(ask(d / "alias.bin"))
    assert r.status == 200 and r.body == DATA, r


def test_prefix_of_a_name_is_not_inside(httpd, responder):
    """<root>/files allows <root>/files/x, not <root>/files2/x."""
    srv = server(httpd, responder, 'FastCgiSendfilePath "{root}/files"')
    f = put(files_dir(srv, "files2"), "x.bin")
    assert srv.get(ask(f)).status == 403


def test_missing_file_is_404(allowed):
    missing = files_dir(allowed) / "nothing-here.bin"
    r = allowed.get(ask(missing))
    assert r.status == 404, r
    lines = wait_log(allowed, "FCGIX00028")
    assert any(str(missing) in x for x in lines), lines


def test_relative_path_directory_and_fifo_are_403(allowed):
    d = files_dir(allowed)
    assert allowed.get(ask("files/data.bin")).status == 403
    sub = d / "sub"
    sub.mkdir(mode=0o755)
    assert allowed.get(ask(sub)).status == 403
    fifo = d / "pipe"
    os.mkfifo(fifo, 0o666)
    # opening a FIFO must not wait for a writer
    r = allowed.get(ask(fifo), timeout=10)
    assert r.status == 403, r


def test_unreadable_file_is_403(allowed):
    f = put(files_dir(allowed), "private.bin")
    f.chmod(0o600)  # root's; httpd's children run as www-data
    r = allowed.get(ask(f))
    assert r.status == 403, r


def test_without_sendfile_path_the_header_is_dropped(httpd, responder):
    srv = server(httpd, responder, "LogLevel fastcgi_x:info")
    f = put(files_dir(srv), "data.bin")
    r = srv.get(ask(f))
    assert r.status == 200, r
    assert r.body == HELLO
    assert "X-Sendfile" not in r.headers
    lines = wait_log(srv, "FCGIX00029")
    assert any(str(f) in x for x in lines), lines


def test_directory_scope(httpd, responder):
    """Allowed in a <Location> only: the same app elsewhere sends its own
    body."""
    srv = server(httpd, responder, "\n".join([
        'Alias /elsewhere/app.fcgi "{docroot}/app.fcgi"',
        "<Location /app.fcgi>",
        '    FastCgiSendfilePath "{root}/files"',
        "</Location>"]))
    f = put(files_dir(srv), "data.bin")
    assert srv.get(ask(f)).body == DATA
    q = ask(f).replace("/app.fcgi", "/elsewhere/app.fcgi")
    r = srv.get(q)
    assert r.status == 200 and r.body == HELLO, r


def test_scopes_add_up(httpd, responder):
    """A <Location>'s directory adds to the server's."""
    srv = server(httpd, responder, "\n".join([
        'FastCgiSendfilePath "{root}/files"',
        "<Location /app.fcgi>",
        '    FastCgiSendfilePath "{root}/other"',
        "</Location>"]))
    a = put(files_dir(srv), "a.bin")
    b = put(files_dir(srv, "other"), "b.bin")
    assert srv.get(ask(a)).body == DATA
    assert srv.get(ask(b)).body == DATA


def test_not_allowed_in_htaccess(httpd, responder):
    srv = server(httpd, responder, "\n".join([
        '<Directory "{docroot}">',
        "    AllowOverride All",
        "</Directory>"]))
    (srv.docroot / ".htaccess").write_text(
        'FastCgiSendfilePath "%s"\n' % (srv.root / "files"))
    (srv.docroot / ".htaccess").chmod(0o644)
    f = put(files_dir(srv), "data.bin")
    r = srv.get(ask(f))
    assert r.status == 500, r
    assert "not allowed here" in log_text(srv)


@pytest.mark.parametrize("arg, why", [
    ("files", "not an absolute path"),
    ("/nonexistent/fcgix-sendfile", "cannot be resolved"),
    ("/etc/hostname", "not a directory")])
def test_bad_directory_is_a_config_error(httpd, arg, why):
    srv = httpd()
    srv.extra_conf = "\n\n# a comment\nFastCgiSendfilePath %s" % arg
    rc, out = srv.check()
    assert rc != 0
    assert why in out, out
    assert "FastCgiSendfilePath" in out, out
    assert "line" in out and str(srv.conf) in out, out


def test_php_x_sendfile(httpd, php_fpm):
    """A PHP script's header('X-Sendfile: ...') through php-fpm: the file,
    typed by its extension (PHP's text/html default is a placeholder)."""
    srv = httpd()
    d = files_dir(srv)
    f = put(d, "report.json", b'{"ok": true}\n')
    (srv.docroot / "dl.php").write_text(
        "<?php header('X-Sendfile: %s'); echo 'php body';\n" % f)
    (srv.docroot / "dl.php").chmod(0o644)
    srv.extra_conf = "\n".join([
        '<FilesMatch "\\.php$">',
        '    SetHandler "fastcgi:/php-fpm"',
        "</FilesMatch>",
        'FastCgiExternalServer /php-fpm -socket "%s"' % php_fpm,
        'FastCgiSendfilePath "%s"' % d,
        "AddType application/json .json"])
    srv.start()
    r = srv.get("/dl.php")
    assert r.status == 200, r
    assert r.body == b'{"ok": true}\n'
    assert r.headers.get("Content-Type", "").startswith("application/json")
    assert "X-Sendfile" not in r.headers


def test_app_body_is_discarded_whatever_its_size(allowed):
    """The app sends 1 MB of its own after the header: none of it reaches
    the client, and the next request on the app works."""
    f = put(files_dir(allowed), "data.bin")
    r = allowed.get(ask(f) + "&bytes=1000000")
    assert r.status == 200, r
    assert r.body == DATA
    r = allowed.get("/app.fcgi")
    assert r.status == 200 and r.body == HELLO, r


def test_large_file_arrives_whole(allowed):
    big = os.urandom(1 << 20) * 48  # 48 MiB
    f = put(files_dir(allowed), "big.bin", big)
    r = allowed.get(ask(f), timeout=60)
    assert r.status == 200, r
    assert r.headers.get("Content-Length") == str(len(big))
    assert hashlib.sha256(r.body).digest() == hashlib.sha256(big).digest()


def traced(srv, path, calls, status=200):
    """The strace lines of the system calls `calls` that httpd's children
    made while serving path (strace attached to each child, stopped by
    its pid)."""
    out = srv.root / "strace.out"
    pids = children_of(srv.pid)
    argv = ["strace", "-f", "-qq", "-e", "trace=" + calls, "-o", str(out)]
    for pid in pids:
        argv += ["-p", str(pid)]
    tracer = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # attached
        r = srv.get(path, timeout=30)
        assert r.status == status, r
        time.sleep(0.2)
    finally:
        tracer.terminate()
        tracer.wait(10)
    return out.read_text().splitlines()


def sendfile_calls(srv, path):
    """How many sendfile() calls httpd's children made serving path."""
    return sum(1 for line in traced(srv, path, "sendfile")
               if "sendfile(" in line)


def test_a_file_outside_is_never_opened(allowed):
    """A path outside the allowed directories is refused on its resolved
    name, before anything opens it (a device may act on an open)."""
    f = put(files_dir(allowed, "other"), "outside.bin")
    lines = traced(allowed, ask(f), "open,openat", status=403)
    assert not [x for x in lines if str(f) in x], lines


@pytest.mark.parametrize("setting", ["On", "Off"])
def test_enable_sendfile_is_honoured(httpd, responder, setting):
    """sendfile() only where EnableSendfile is On, as for a static
    file."""
    srv = server(httpd, responder, "\n".join([
        'FastCgiSendfilePath "{root}/files"',
        "EnableSendfile %s" % setting]))
    f = put(files_dir(srv), "big.bin", DATA * 100)
    calls = sendfile_calls(srv, ask(f))
    if setting == "On":
        assert calls > 0
    else:
        assert calls == 0
