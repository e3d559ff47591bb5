"""SetHandler "fastcgi:PATH": the request's own file goes, as
SCRIPT_FILENAME, to the app defined at PATH by FastCgiExternalServer or
FastCgiServer (mod_fastcgi_x.c, serve_named()), with no Action and no
internal redirect: mod_proxy_fcgi's "proxy:unix:...|fcgi://localhost"
recipe for php-fpm. httpd gives handler names in lower case, so PATH is
compared without regard to case. php-fpm itself: test_php.py."""

import conftest
from helpers import external_server, install, put_file, start


def page_site(httpd, definitions, handler):
    """*.page files handled by `handler`; a page at /x.page."""
    srv = httpd()
    put_file(srv, "x.page", b"not sent to the client\n")
    srv.extra_conf = "\n".join([
        '<FilesMatch "\\.page$">',
        '    SetHandler "%s"' % handler,
        "</FilesMatch>"] + definitions)
    start(srv)
    return srv


def env_of(r):
    assert r.status == 200, r
    return dict(line.split("=", 1)
                for line in r.body.decode().splitlines() if "=" in line)


def test_file_goes_to_a_pool_as_script_filename(httpd):
    srv = httpd()
    app = install(conftest.RESPONDER, srv.root / "Resp.fcgi")
    srv = page_site(lambda: srv, ["FastCgiServer %s -processes 1" % app],
                    "fastcgi:%s" % app)
    env = env_of(srv.get("/x.page/more?env"))
    assert env["SCRIPT_FILENAME"] == str(srv.docroot / "x.page")
    assert env["PATH_INFO"] == "/more"
    assert srv.get("/missing.page?env").status == 404
    assert "FCGIX00004" in conftest.read_text(srv.error_log)


def test_file_goes_to_an_external_server(httpd, responder):
    srv = page_site(httpd, [external_server("/Ext/App", responder.address,
                                            "")],
                    "fastcgi:/Ext/App")
    env = env_of(srv.get("/x.page?env"))
    assert env["SCRIPT_FILENAME"] == str(srv.docroot / "x.page")


def test_undefined_path_is_500_with_a_log_line(httpd):
    srv = page_site(httpd, [], "fastcgi:/nothing/here")
    r = srv.get("/x.page")
    assert r.status == 500, r
    assert b"not sent to the client" not in r.body
    log = conftest.read_text(srv.error_log)
    assert "FCGIX00003" in log and "/nothing/here" in log, log


def test_paths_that_differ_only_in_case_are_refused(httpd, responder):
    srv = page_site(httpd, [
        external_server("/Ext/App", responder.address, ""),
        external_server("/ext/app", responder.address, "")],
        "fastcgi:/ext/app")
    r = srv.get("/x.page")
    assert r.status == 500, r
    assert "FCGIX00005" in conftest.read_text(srv.error_log)
