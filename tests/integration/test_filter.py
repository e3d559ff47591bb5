"""The FastCGI FILTER role (fcgi_filter.c): FastCgiFilter NAME APP-PATH
registers an output filter NAME that sends the response httpd produced
to the app as FCGI_DATA (with FCGI_DATA_LENGTH and FCGI_DATA_LAST_MOD),
the request's CGI environment as PARAMS and an empty STDIN; the app's
answer (headers and body) replaces the response.

The app is tests/apps/fcgi_filter.c (libfcgi, FCGX_StartFilterData): it
answers the data in upper case, headers saying what it was given, and a
last line "[data read: N]"."""

import email.utils
import os

import pytest

import conftest
from helpers import install, start, wait_log

FILTER_APP = conftest.REPO / "build" / "fcgi_filter"
PAGE = b"hello, filter\n"


@pytest.fixture(autouse=True)
def need_app():
    if not FILTER_APP.exists():
        pytest.fail("%s does not exist: make -f Makefile.apxs apps"
                    % FILTER_APP, pytrace=False)


def filtered(data):
    return data.upper() + b"\n[data read: %d]\n" % len(data)


def put(srv, rel, data=PAGE):
    p = srv.docroot / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    p.chmod(0o644)
    return p


def pool_server(httpd, conf, processes=1):
    """The filter app as a FastCgiServer pool at <docroot>/upper.fcgi,
    FastCgiFilter UPPER naming it; conf may use {docroot} and {root}."""
    srv = httpd()
    app = install(FILTER_APP, srv.docroot / "upper.fcgi")
    srv.extra_conf = "\n".join([
        "FastCgiServer %s -processes %d" % (app, processes),
        "FastCgiFilter UPPER %s" % app,
        conf.format(docroot=srv.docroot, root=srv.root)])
    return srv


def responder_filtered(httpd, responder):
    """The test responder at /app.fcgi, its answers through UPPER."""
    return pool_server(httpd, "\n".join([
        "FastCgiExternalServer {docroot}/app.fcgi -socket %s"
        % responder.address,
        "<Location /app.fcgi>",
        "    SetOutputFilter UPPER",
        "</Location>"]))


def test_static_file_through_set_output_filter(httpd):
    srv = pool_server(httpd, "\n".join([
        '<Directory "{docroot}/f">',
        "    SetOutputFilter UPPER",
        "</Directory>"]))
    page = put(srv, "f/page.txt")
    start(srv)
    r = srv.get("/f/page.txt")
    assert r.status == 200, r
    assert r.body == filtered(PAGE)
    assert r.headers["X-Role"] == "FILTER"
    assert r.headers["X-Data-Length"] == str(len(PAGE))
    assert r.headers["X-Data-Last-Mod"] == str(int(os.stat(page).st_mtime))
    assert r.headers["X-Stdin-Read"] == "0"
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers.get("Content-Length") in (None, str(len(r.body)))
    # the static file's validators described the old body
    assert "ETag" not in r.headers


def test_add_output_filter_by_extension(httpd):
    srv = pool_server(httpd, "AddOutputFilter UPPER .txt")
    put(srv, "a.txt")
    put(srv, "a.html", b"<p>untouched</p>\n")
    start(srv)
    assert srv.get("/a.txt").body == filtered(PAGE)
    assert srv.get("/a.html").body == b"<p>untouched</p>\n"


def test_add_output_filter_by_type(httpd):
    srv = pool_server(httpd, "\n".join([
        'LoadModule filter_module "%s"' % (conftest.MODDIR / "mod_filter.so"),
        "AddType text/x-shout .shout",
        "AddOutputFilterByType UPPER text/x-shout"]))
    put(srv, "b.shout")
    put(srv, "b.txt")
    start(srv)
    assert srv.get("/b.shout").body == filtered(PAGE)
    assert srv.get("/b.txt").body == PAGE


def test_response_of_a_fastcgi_responder(httpd, responder):
    """The FILTER app runs on what another FastCGI app answered."""
    srv = start(responder_filtered(httpd, responder))
    r = srv.get("/app.fcgi?bytes=100000")
    assert r.status == 200, r
    body = bytes((ord("a") + i % 26) for i in range(100000))
    assert r.body == filtered(body)
    assert r.headers["X-Data-Length"] == "100000"
    assert r.headers["X-Query"] == "bytes=100000"


def test_large_static_file(httpd):
    """A 40 MiB file: its bytes stay in the file while they wait (not the
    memory limit's business) and reach the app whole."""
    data = os.urandom(1 << 20) * 40
    srv = pool_server(httpd, "AddOutputFilter UPPER .bin")
    put(srv, "big.bin", data)
    start(srv)
    r = srv.get("/big.bin", timeout=60)
    assert r.status == 200, r
    assert r.headers["X-Data-Length"] == str(len(data))
    assert r.body.endswith(b"[data read: %d]\n" % len(data))
    assert r.body[:1000] == data[:1000].upper()


def test_external_filter_app(httpd, workdir):
    """The filter app as a FastCgiExternalServer."""
    sock = str(workdir / "filter.sock")
    b = conftest.Backend("fcgi_filter", [str(FILTER_APP), sock],
                         workdir / "filter.log")
    try:
        assert conftest.wait_for(lambda: os.path.exists(sock), 10)
        os.chmod(sock, 0o777)
        srv = httpd()
        srv.extra_conf = "\n".join([
            "FastCgiExternalServer /filters/upper -socket %s" % sock,
            "FastCgiFilter UPPER /filters/upper",
            "AddOutputFilter UPPER .txt"])
        put(srv, "c.txt")
        start(srv)
        r = srv.get("/c.txt")
        assert r.status == 200, r
        assert r.body == filtered(PAGE)
    finally:
        b.stop()


def test_app_status_replaces_the_response(httpd):
    srv = pool_server(httpd, "AddOutputFilter UPPER .txt")
    put(srv, "d.txt")
    start(srv)
    r = srv.get("/d.txt?filter_status")
    assert r.status == 404, r
    assert r.body == b"the filter says 404\n"


def test_app_that_dies_gives_an_error_page(httpd):
    srv = pool_server(httpd, "AddOutputFilter UPPER .txt")
    put(srv, "e.txt")
    start(srv)
    r = srv.get("/e.txt?filter_crash")
    assert r.status in (502, 503), r
    assert PAGE not in r.body
    # and the next one works (the PM restarts the process)
    assert conftest.wait_for(
        lambda: srv.get("/e.txt").body == filtered(PAGE), 10)


def test_too_big_in_memory_is_refused(httpd, responder):
    """A response not in a file is held in memory up to 16 MiB; beyond,
    500 and a log line."""
    srv = start(responder_filtered(httpd, responder))
    r = srv.get("/app.fcgi?bytes=%d" % (17 << 20), timeout=60)
    assert r.status == 500, r
    lines = wait_log(srv, "FCGIX00039")
    assert any("UPPER" in x.upper() for x in lines), lines
    assert any(str(srv.docroot / "upper.fcgi") in x for x in lines), lines
    # the server is fine afterwards
    assert srv.get("/app.fcgi?bytes=10").status == 200


def test_undefined_app_stops_httpd(httpd):
    srv = httpd()
    srv.extra_conf = "\n\nFastCgiFilter UPPER /nowhere/upper.fcgi"
    with pytest.raises(pytest.fail.Exception):
        srv.start()
    text = conftest.read_text(srv.error_log) + conftest.read_text(
        srv.console_log)
    assert "FastCgiFilter UPPER /nowhere/upper.fcgi" in text, text
    assert "httpd.conf:" in text, text


def test_relative_app_path_is_a_config_error(httpd):
    srv = httpd()
    srv.extra_conf = "FastCgiFilter UPPER upper.fcgi"
    rc, out = srv.check()
    assert rc != 0
    assert "must be absolute" in out, out


def test_not_modified_and_errors_pass_unfiltered(httpd):
    """Only a 200 response is a body to filter: a 304 stays a 304, a 404
    page stays httpd's."""
    srv = pool_server(httpd, "AddOutputFilter UPPER .txt")
    page = put(srv, "g.txt")
    start(srv)
    first = srv.get("/g.txt")
    assert first.status == 200
    r = srv.get("/g.txt", headers={
        "If-Modified-Since": email.utils.formatdate(os.stat(page).st_mtime,
                                                    usegmt=True)})
    assert r.status == 304, r
    r = srv.get("/missing.txt")
    assert r.status == 404, r
    assert "X-Role" not in r.headers


def test_balanced_filter_app(httpd, workdir):
    """The filter app as a balanced FastCgiExternalServer (two members):
    both serve."""
    backends, socks = [], []
    try:
        for i in range(2):
            sock = str(workdir / ("filter%d.sock" % i))
            backends.append(conftest.Backend(
                "fcgi_filter", [str(FILTER_APP), sock],
                workdir / ("filter%d.log" % i)))
            assert conftest.wait_for(lambda: os.path.exists(sock), 10)
            os.chmod(sock, 0o777)
            socks.append(sock)
        srv = httpd()
        srv.extra_conf = "\n".join([
            "FastCgiExternalServer /filters/upper -socket %s -socket %s "
            "-balance round-robin" % tuple(socks),
            "FastCgiFilter UPPER /filters/upper",
            "AddOutputFilter UPPER .txt"])
        put(srv, "h.txt")
        start(srv)
        for _ in range(4):
            r = srv.get("/h.txt")
            assert r.status == 200 and r.body == filtered(PAGE), r
    finally:
        for b in backends:
            b.stop()


def test_filter_of_another_virtual_host_is_500(httpd):
    """FastCgiFilter is per virtual host: a name only another host
    defines gets 500 and FCGIX00010; the host that defines it filters."""
    srv = httpd()
    app = install(FILTER_APP, srv.docroot / "upper.fcgi")
    srv.extra_conf = "\n".join([
        "FastCgiServer %s -processes 1" % app,
        "AddOutputFilter LOCAL .txt",
        "<VirtualHost 127.0.0.1:%d>" % srv.port,
        "    ServerName first.example",
        '    DocumentRoot "%s"' % srv.docroot,
        "</VirtualHost>",
        "<VirtualHost 127.0.0.1:%d>" % srv.port,
        "    ServerName second.example",
        '    DocumentRoot "%s"' % srv.docroot,
        "    FastCgiFilter LOCAL %s" % app,
        "</VirtualHost>"])
    put(srv, "v.txt")
    start(srv)
    r = srv.get("/v.txt", headers={"Host": "second.example"})
    assert r.status == 200 and r.body == filtered(PAGE), r
    r = srv.get("/v.txt", headers={"Host": "first.example"})
    assert r.status == 500, r
    assert wait_log(srv, "FCGIX00010")


def test_responder_failing_midway_is_not_filtered_whole(httpd, responder):
    """The responder dies after part of its answer: the filter must not
    pass the truncated body off as a whole one; the client gets 502."""
    srv = start(responder_filtered(httpd, responder))
    r = srv.get("/app.fcgi?bytes=1000&crash")
    assert r.status == 502, r
    assert b"[data read:" not in r.body


def test_file_named_nph_is_filtered_as_any_other(httpd):
    """A FILTER app's answer is CGI headers and a body, never a whole
    HTTP response, even for a file whose name starts with nph-."""
    srv = pool_server(httpd, "AddOutputFilter UPPER .txt")
    put(srv, "nph-page.txt")
    start(srv)
    r = srv.get("/nph-page.txt")
    assert r.status == 200, r
    assert r.headers.get("X-Role") == "FILTER", r.headers
    assert r.body == filtered(PAGE)
