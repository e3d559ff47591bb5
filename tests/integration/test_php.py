"""PHP through Debian's php-fpm, behind FastCgiExternalServer.

The classic mod_fastcgi recipe (AddHandler + Action + Alias +
FastCgiExternalServer on the php-fpm socket) must work unchanged, with
$_POST, php://input, chunked bodies and Authorization. A 2-child php-fpm
under 64 concurrent clients with -keep-conn must never starve.
"""

import concurrent.futures
import hashlib
import http.client
import os
import time

import pytest

import conftest


TEST_PHP = b"""<?php
$in = file_get_contents('php://input');
header('Content-Type: text/plain');
header('X-Script: ' . $_SERVER['SCRIPT_NAME']);
echo 'SCRIPT_FILENAME=', $_SERVER['SCRIPT_FILENAME'], "\\n";
echo 'PATH_INFO=', $_SERVER['PATH_INFO'] ?? '(unset)', "\\n";
echo 'QUERY_STRING=', $_SERVER['QUERY_STRING'], "\\n";
echo 'AUTH=', $_SERVER['HTTP_AUTHORIZATION'] ?? '(unset)', "\\n";
echo 'PHP_AUTH_USER=', $_SERVER['PHP_AUTH_USER'] ?? '(unset)', "\\n";
echo 'POST=', json_encode($_POST), "\\n";
echo 'INPUT_LEN=', strlen($in), "\\n";
echo 'INPUT_MD5=', md5($in), "\\n";
"""


def start_php(httpd, sock, opts=""):
    srv = httpd()
    (srv.docroot / "test.php").write_bytes(TEST_PHP)
    (srv.docroot / "test.php").chmod(0o644)
    cgi = srv.root / "cgi-bin"
    cgi.mkdir(mode=0o755, exist_ok=True)
    srv.extra_conf = "\n".join([
        "AddHandler php-fcgi .php",
        "Action php-fcgi /php-fcgi",
        'Alias /php-fcgi "%s/php-fcgi"' % cgi,
        '<Directory "%s">' % cgi,
        "    Require all granted",
        "</Directory>",
        'FastCgiExternalServer "%s/php-fcgi" -socket "%s" '
        "-pass-header Authorization %s" % (cgi, sock, opts)])
    srv.start()
    return srv


def start_php_direct(httpd, sock, opts=""):
    """The shorter recipe: SetHandler "fastcgi:PATH" in a FilesMatch, as
    mod_proxy_fcgi's "proxy:unix:...|fcgi://localhost"; no Action, no
    Alias. The definition's path has capitals: httpd must not fold it."""
    srv = httpd()
    (srv.docroot / "test.php").write_bytes(TEST_PHP)
    (srv.docroot / "test.php").chmod(0o644)
    srv.extra_conf = "\n".join([
        '<FilesMatch "\\.php$">',
        '    SetHandler "fastcgi:/PHP-FPM"',
        "</FilesMatch>",
        'FastCgiExternalServer /PHP-FPM -socket "%s" '
        "-pass-header Authorization %s" % (sock, opts)])
    srv.start()
    return srv


def php_vars(r):
    assert r.status == 200, r
    out = {}
    for line in r.body.decode().splitlines():
        name, _, value = line.partition("=")
        out[name] = value
    return out


def assert_page_with_path_info(srv):
    r = srv.get("/test.php/extra/x?a=1%202")
    v = php_vars(r)
    assert v["SCRIPT_FILENAME"] == str(srv.docroot / "test.php")
    assert v["PATH_INFO"] == "/extra/x"
    assert v["QUERY_STRING"] == "a=1%202"
    assert r.headers["X-Script"] == "/test.php"


def test_php_page_through_action_recipe(httpd, php_fpm):
    assert_page_with_path_info(start_php(httpd, php_fpm))


@pytest.mark.parametrize("opts", ["", "-keep-conn -max-conns 4"])
def test_php_page_through_set_handler(httpd, php_fpm, opts):
    srv = start_php_direct(httpd, php_fpm, opts)
    for _ in range(3):
        assert_page_with_path_info(srv)
    r = srv.post("/test.php", b"a=1&b=two", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert php_vars(r)["POST"] == '{"a":"1","b":"two"}'
    r = srv.get("/missing.php")
    assert r.status == 404, r
    assert "FCGIX00004" in conftest.read_text(srv.error_log)


def test_php_form_post(httpd, php_fpm):
    srv = start_php(httpd, php_fpm)
    r = srv.post("/test.php", b"a=1&b=two", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    v = php_vars(r)
    assert v["POST"] == '{"a":"1","b":"two"}'
    assert v["INPUT_LEN"] == "9"


def chunked_post(srv, path, body, content_type):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Content-Type", content_type)
        conn.endheaders()
        for i in range(0, len(body), 7000):
            piece = body[i:i + 7000]
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        return conftest.Response(resp.status, resp.reason, resp.headers,
                                 resp.read())
    finally:
        conn.close()


def test_php_chunked_post_sees_whole_body(httpd, php_fpm):
    """PHP needs CONTENT_LENGTH: the chunked body is spooled (past the 1 MiB
    memory part into a temporary file) and both $_POST and php://input are
    right."""
    srv = start_php(httpd, php_fpm)
    body = b"a=" + b"x" * (3 * 1024 * 1024) + b"&b=2"
    r = chunked_post(srv, "/test.php", body,
                     "application/x-www-form-urlencoded")
    v = php_vars(r)
    assert v["INPUT_LEN"] == str(len(body))
    assert v["INPUT_MD5"] == hashlib.md5(body).hexdigest()
    assert '"b":"2"' in v["POST"]


def test_php_large_post_md5(httpd, php_fpm):
    srv = start_php(httpd, php_fpm)
    body = os.urandom(8 * 1024 * 1024)
    r = srv.post("/test.php", body, headers={
        "Content-Type": "application/octet-stream"}, timeout=60)
    v = php_vars(r)
    assert v["INPUT_LEN"] == str(len(body))
    assert v["INPUT_MD5"] == hashlib.md5(body).hexdigest()


def test_php_authorization_with_pass_header(httpd, php_fpm):
    srv = start_php(httpd, php_fpm)
    r = srv.get("/test.php", headers={
        "Authorization": "Basic dXNlcjpwYXNz"})     # user:pass
    v = php_vars(r)
    assert v["AUTH"] == "Basic dXNlcjpwYXNz"
    assert v["PHP_AUTH_USER"] == "user"


def hammer(srv, clients, per_client, timeout):
    """clients threads, each sending per_client GETs, one connection per
    request (the test httpd has 32 workers: mpm_event would close idle
    keep-alive connections of 64 clients, which is not what is tested);
    returns (statuses, slowest seconds)."""
    def one_client(_):
        statuses, slowest = [], 0.0
        for _i in range(per_client):
            t0 = time.monotonic()
            try:
                r = srv.get("/test.php", timeout=timeout)
                statuses.append(r.status)
            except OSError as e:
                statuses.append(repr(e))
            slowest = max(slowest, time.monotonic() - t0)
        return statuses, slowest

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one_client, range(clients)))
    statuses = [s for r in results for s in r[0]]
    return statuses, max(r[1] for r in results)


@pytest.mark.parametrize("opts", ["", "-keep-conn", "-keep-conn -max-conns 8"])
def test_two_fpm_children_64_clients_never_starve(httpd, php_fpm, opts):
    """mod_proxy_fcgi's enablereuse hangs here: pooled idle connections pin
    both php-fpm children. Every request must succeed, none may wait
    anywhere near a timeout."""
    srv = start_php(httpd, php_fpm, opts)
    statuses, slowest = hammer(srv, clients=64, per_client=10, timeout=30)
    bad = [s for s in statuses if s != 200]
    assert not bad, "failed requests: %r" % bad[:10]
    assert len(statuses) == 640
    assert slowest < 10, "a request waited %.1f s" % slowest
