"""Hostile input from clients (issue 6, security): the CGI environment
cannot be poisoned through request headers, and paths cannot start a
dynamic app that httpd would not run."""

import os

import conftest


def env_of(body):
    out = {}
    for line in body.decode("latin-1").splitlines():
        name, sep, value = line.partition("=")
        if sep:
            out[name] = value
    return out


def test_proxy_header_never_becomes_http_proxy(httpd, responder):
    srv = httpd()
    app = srv.docroot / "app.fcgi"
    srv.extra_conf = "FastCgiExternalServer %s -socket %s" % (
        app, responder.address)
    srv.start()
    r = srv.get("/app.fcgi?env", headers={"Proxy": "http://evil:8080/"})
    assert r.status == 200, r
    env = env_of(r.body)
    assert "HTTP_PROXY" not in env, env


def test_dash_and_underscore_headers_do_not_overwrite(httpd, responder):
    """X-Foo and X_Foo both map to HTTP_X_FOO; only the dash form, the one
    httpd passes to CGI, may set it."""
    srv = httpd()
    app = srv.docroot / "app.fcgi"
    srv.extra_conf = "FastCgiExternalServer %s -socket %s" % (
        app, responder.address)
    srv.start()
    for order in (("X-Foo", "dash", "X_Foo", "underscore"),
                  ("X_Foo", "underscore", "X-Foo", "dash")):
        headers = {order[0]: order[1], order[2]: order[3]}
        r = srv.get("/app.fcgi?env", headers=headers)
        assert r.status == 200, r
        env = env_of(r.body)
        assert env.get("HTTP_X_FOO") == "dash", (order, env.get("HTTP_X_FOO"))
    r = srv.get("/app.fcgi?env", headers={"X_Only": "underscore"})
    assert "HTTP_X_ONLY" not in env_of(r.body)


def test_paths_cannot_start_apps_outside_execcgi(httpd, workdir):
    """A dynamic app starts only where httpd itself would run a CGI
    program: not through ../ out of the ExecCGI directory, not through a
    symlink when symlinks are not followed."""
    srv = httpd()
    dyn = srv.docroot / "dyn"
    dyn.mkdir()
    outside = srv.docroot / "outside.fcgi"
    outside.write_bytes(conftest.RESPONDER.read_bytes())
    outside.chmod(0o755)
    os.symlink(str(outside), str(dyn / "link.fcgi"))
    srv.extra_conf = "\n".join([
        "AddHandler fastcgi-script .fcgi",
        '<Directory "%s">' % dyn,
        "    Options +ExecCGI -FollowSymLinks -SymLinksIfOwnerMatch",
        "</Directory>"])
    srv.start()
    r = srv.get("/dyn/../outside.fcgi")
    assert r.status == 403, r
    r = srv.get("/dyn/%2e%2e/outside.fcgi")
    assert r.status in (400, 403, 404), r
    r = srv.get("/dyn/link.fcgi")
    assert r.status == 403, r
    log = conftest.read_text(srv.error_log)
    assert "started on" not in log, log   # the PM started nothing
