"""The AUTHORIZER role: FastCgiAuthenticator, FastCgiAuthorizer and
FastCgiAccessChecker with a libfcgi app (tests/apps/fcgi_authorizer.c),
as an external server and as a PM-run app."""

import base64
import os

import pytest

import conftest

AUTHZ = conftest.REPO / "build" / "fcgi_authorizer"
MODDIR = conftest.MODDIR
# mod_auth_basic before mod_fastcgi_x, as Debian's module order has it.
AUTH_MODULES = "\n".join(
    'LoadModule %s "%s"' % (name, MODDIR / so) for name, so in [
        ("authn_core_module", "mod_authn_core.so"),
        ("auth_basic_module", "mod_auth_basic.so"),
        ("authz_user_module", "mod_authz_user.so")])


@pytest.fixture
def authz_app(request, workdir):
    """The authorizer app on a Unix socket (FastCgiExternalServer)."""
    if not AUTHZ.exists():
        pytest.fail("%s missing: make -f Makefile.apxs apps" % AUTHZ)
    sock = workdir / "authz.sock"
    b = conftest.Backend("fcgi_authorizer", [str(AUTHZ), str(sock)],
                         workdir / "authz.log")
    conftest.track(request, b)
    assert conftest.wait_for(lambda: sock.exists(), 10)
    sock.chmod(0o777)
    yield sock
    b.stop()


def basic(user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return {"Authorization": "Basic " + token}


def site(httpd, responder, authz_sock, protect):
    """docroot/app.fcgi is the responder (it prints its environment with
    ?env); docroot/{area}/ are protected by `protect` (a config block)."""
    srv = httpd(load_module=False)
    app = srv.docroot / "app.fcgi"
    authz = srv.docroot / "authz.fcgi"
    for area in ("open", "basic", "api", "internal"):
        (srv.docroot / area).mkdir()
        (srv.docroot / area / "page.txt").write_text("protected page\n")
    srv.extra_conf = "\n".join([
        AUTH_MODULES,
        'LoadModule fastcgi_x_module "%s"' % conftest.MODULE,
        "LogLevel info fastcgi_x:trace8",
        "FastCgiExternalServer %s -socket %s" % (app, responder.address),
        "FastCgiExternalServer %s -socket %s" % (authz, authz_sock),
        protect.replace("AUTHZ", str(authz)).replace("DOCROOT",
                                                     str(srv.docroot))])
    srv.start()
    return srv


AUTHN_CONF = """
<Directory DOCROOT/basic>
    AuthType Basic
    AuthName "private"
    FastCgiAuthenticator AUTHZ
    Require valid-user
</Directory>
"""


def test_authenticator_allows_and_denies(httpd, responder, authz_app):
    srv = site(httpd, responder, authz_app, AUTHN_CONF)
    r = srv.get("/basic/page.txt", headers=basic("alice", "secret"))
    assert r.status == 200 and r.body == b"protected page\n", (
        r, conftest.read_text(srv.error_log))
    r = srv.get("/basic/page.txt", headers=basic("alice", "wrong"))
    assert r.status == 401, r
    assert r.headers.get("WWW-Authenticate") == 'Basic realm="fcgi"'
    assert r.body == b"wrong user or password\n", r.body
    r = srv.get("/basic/page.txt")      # no credentials
    assert r.status == 401 and "Basic" in r.headers.get(
        "WWW-Authenticate", ""), r
    # mod_auth_basic, loaded first, did not answer for us.
    assert "AuthUserFile not specified" not in conftest.read_text(
        srv.error_log)


def test_authenticator_variables_reach_the_responder(httpd, responder,
                                                      authz_app):
    srv = site(httpd, responder, authz_app, AUTHN_CONF.replace(
        "DOCROOT/basic", "DOCROOT").replace("Require valid-user",
                                            "Require valid-user"))
    r = srv.get("/app.fcgi?env", headers=basic("alice", "secret"))
    assert r.status == 200, (r, conftest.read_text(srv.error_log))
    seen = [l for l in r.body.decode().splitlines()
            if l.startswith("FCGIX_AUTHENTICATOR=")]
    assert seen, r.body
    # What the authorizer app received: its role, FCGI_ROLE=AUTHORIZER,
    # the user, and none of the four variables FastCGI 6.3 leaves out.
    assert seen[0] == ("FCGIX_AUTHENTICATOR=role=AUTHENTICATOR "
                       "fcgi_role=AUTHORIZER user=alice content_length=0 "
                       "path_info=0 path_translated=0 script_name=0"), seen
    assert b"REMOTE_PASSWD" not in r.body


AUTHZ_CONF = """
<Location /api>
    AuthType Basic
    AuthName "private"
    FastCgiAuthenticator AUTHZ
    FastCgiAuthorizer AUTHZ
    Require valid-user
</Location>
"""


def test_authorizer_allows_and_denies_with_its_page(httpd, responder,
                                                    authz_app):
    srv = site(httpd, responder, authz_app, AUTHZ_CONF)
    ok = basic("alice", "secret")
    assert srv.get("/api/page.txt", headers=ok).status == 200
    r = srv.get("/api/page.txt?deny", headers=ok)
    assert r.status == 403, r
    assert r.body == b"custom deny page from the authorizer\n", r.body
    assert r.headers.get("X-Why") == "policy"
    assert r.headers.get("Content-Type", "").startswith("text/plain")
    r = srv.get("/api/page.txt?nobody", headers=ok)
    assert r.status == 403 and b"protected" not in r.body, r


def test_authorizer_not_authoritative_falls_through(httpd, responder,
                                                    authz_app):
    conf = AUTHZ_CONF.replace("Require valid-user",
                              "Require valid-user\n"
                              "    FastCgiAuthorizerAuthoritative Off")
    srv = site(httpd, responder, authz_app, conf)
    # The app says 403; not authoritative, so mod_authz_user decides
    # (valid-user: granted).
    r = srv.get("/api/page.txt?deny", headers=basic("alice", "secret"))
    assert r.status == 200 and r.body == b"protected page\n", (
        r, conftest.read_text(srv.error_log))


ACCESS_CONF = """
<Location /internal>
    FastCgiAccessChecker AUTHZ
</Location>
"""


def test_access_checker(httpd, responder, authz_app):
    srv = site(httpd, responder, authz_app, ACCESS_CONF)
    assert srv.get("/internal/page.txt").status == 200
    r = srv.get("/internal/page.txt?blocked")
    assert r.status == 403 and r.body == b"access checker says no\n", r
    assert srv.get("/open/page.txt?blocked").status == 200


@pytest.mark.parametrize("what", ["crash", "garbage", "status500"])
def test_failing_authorizer_fails_closed(httpd, responder, authz_app, what):
    srv = site(httpd, responder, authz_app, AUTHZ_CONF + ACCESS_CONF)
    for path in ("/api/page.txt?%s" % what, "/internal/page.txt?%s" % what):
        r = srv.get(path, headers=basic("alice", "secret"))
        assert r.status in (500, 503), (path, r)
        assert b"protected page" not in r.body, (path, r)
    log = conftest.read_text(srv.error_log)
    assert "authz.fcgi" in log, log


def test_authorizer_that_is_down_fails_closed(httpd, responder, workdir):
    srv = site(httpd, responder, workdir / "nobody-listens.sock",
               AUTHZ_CONF)
    r = srv.get("/api/page.txt", headers=basic("alice", "secret"))
    assert r.status == 503 and b"protected" not in r.body, r


def test_dynamic_authorizer_app(httpd, responder, authz_app):
    """An authorizer that no FastCgiServer/ExternalServer defines is a
    dynamic app, started by the PM (server config only)."""
    srv = httpd(load_module=False)
    dyn = srv.docroot / "auth"
    dyn.mkdir()
    app = dyn / "check.fcgi"
    app.write_bytes(AUTHZ.read_bytes())
    app.chmod(0o755)
    (srv.docroot / "page.txt").write_text("protected page\n")
    srv.extra_conf = "\n".join([
        AUTH_MODULES,
        'LoadModule fastcgi_x_module "%s"' % conftest.MODULE,
        '<Directory "%s">' % srv.docroot,
        "    AuthType Basic",
        '    AuthName "private"',
        "    FastCgiAuthenticator %s" % app,
        "    Require valid-user",
        "</Directory>"])
    srv.start()
    r = srv.get("/page.txt", headers=basic("alice", "secret"))
    assert r.status == 200, (r, conftest.read_text(srv.error_log))
    assert srv.get("/page.txt", headers=basic("bob", "x")).status == 401


def test_static_and_tcp_authorizer_apps(httpd, responder, workdir, request):
    """The authorizer as a FastCgiServer pool and as a TCP external
    server; the Variable-* of the authorizer phase reach the responder."""
    port = conftest.free_port()
    b = conftest.Backend("fcgi_authorizer", [str(AUTHZ), ":%d" % port],
                         workdir / "authz-tcp.log")
    conftest.track(request, b)
    try:
        assert conftest.wait_for(
            lambda: conftest.can_connect(("127.0.0.1", port)), 10)
        srv = httpd(load_module=False)
        app = srv.docroot / "app.fcgi"
        pool = srv.docroot / "pool.fcgi"
        tcp = srv.docroot / "tcp.fcgi"
        pool.write_bytes(AUTHZ.read_bytes())
        pool.chmod(0o755)
        srv.extra_conf = "\n".join([
            AUTH_MODULES,
            'LoadModule fastcgi_x_module "%s"' % conftest.MODULE,
            "FastCgiExternalServer %s -socket %s" % (app, responder.address),
            "FastCgiServer %s -processes 1" % pool,
            "FastCgiExternalServer %s -host 127.0.0.1:%d" % (tcp, port),
            "<Location /app.fcgi>",
            "    AuthType Basic",
            '    AuthName "private"',
            "    FastCgiAuthenticator %s" % pool,
            "    FastCgiAuthorizer %s" % tcp,
            "    Require valid-user",
            "</Location>"])
        srv.start()
        r = srv.get("/app.fcgi?env", headers=basic("alice", "secret"))
        assert r.status == 200, (r, conftest.read_text(srv.error_log))
        body = r.body.decode()
        assert "FCGIX_AUTHENTICATOR=role=AUTHENTICATOR" in body, body
        assert "FCGIX_AUTHORIZER=role=AUTHORIZER fcgi_role=AUTHORIZER " \
               "user=alice" in body, body
        assert srv.get("/app.fcgi?deny", headers=basic(
            "alice", "secret")).status == 403
        assert srv.get("/app.fcgi", headers=basic("alice", "no")).status \
            == 401
    finally:
        b.stop()


def test_htaccess_may_only_name_defined_apps(httpd, responder, authz_app):
    srv = httpd(load_module=False)
    authz = srv.docroot / "authz.fcgi"
    for area in ("good", "bad"):
        (srv.docroot / area).mkdir()
        (srv.docroot / area / "page.txt").write_text("protected page\n")
    stray = srv.docroot / "bad" / "stray.fcgi"
    stray.write_bytes(AUTHZ.read_bytes())
    stray.chmod(0o755)
    (srv.docroot / "good" / ".htaccess").write_text(
        "FastCgiAccessChecker %s\n" % authz)
    (srv.docroot / "bad" / ".htaccess").write_text(
        "FastCgiAccessChecker %s\n" % stray)
    srv.extra_conf = "\n".join([
        AUTH_MODULES,
        'LoadModule fastcgi_x_module "%s"' % conftest.MODULE,
        "AccessFileName .htaccess",
        "FastCgiExternalServer %s -socket %s" % (authz, authz_app),
        '<Directory "%s">' % srv.docroot,
        "    AllowOverride AuthConfig",
        "</Directory>"])
    srv.start()
    assert srv.get("/good/page.txt").status == 200
    assert srv.get("/good/page.txt?blocked").status == 403
    r = srv.get("/bad/page.txt")
    assert r.status == 500 and b"protected" not in r.body, r
    log = conftest.read_text(srv.error_log)
    assert "FCGIX00093" in log and "stray.fcgi" in log, log


def test_auth_directives_without_require_are_not_skipped(httpd, responder,
                                                         authz_app):
    """httpd runs its authn/authz phases only for a Require; a configured
    FastCgiAuthorizer or FastCgiAuthenticator must never be skipped in
    silence (that would serve what the admin meant to protect)."""
    conf = """
<Location /api>
    FastCgiAuthorizer AUTHZ
</Location>
<Directory DOCROOT/basic>
    FastCgiAuthenticator AUTHZ
</Directory>
<Directory DOCROOT/internal>
    AuthType Basic
    AuthName "private"
    FastCgiAuthorizer AUTHZ
</Directory>
"""
    srv = site(httpd, responder, authz_app, conf)
    # No AuthType: the authorizer decides in the access phase.
    assert srv.get("/api/page.txt").status == 200
    r = srv.get("/api/page.txt?deny")
    assert r.status == 403 and r.body.startswith(b"custom deny page"), r
    # An authenticator without AuthType Basic cannot work: refused.
    r = srv.get("/basic/page.txt", headers=basic("alice", "secret"))
    assert r.status == 500 and b"protected" not in r.body, r
    assert "needs AuthType Basic" in conftest.read_text(srv.error_log)
    # AuthType but no Require: the authorizer still runs.
    r = srv.get("/internal/page.txt?deny", headers=basic("alice", "secret"))
    assert r.status in (401, 403, 500) and b"protected" not in r.body, r


@pytest.mark.parametrize("compat", [False, True])
def test_compat_passes_only_variables(httpd, responder, authz_app, compat):
    """Without -compat (mod_fastcgi's way) every header of the 200 becomes
    a variable; with -compat only the Variable-* ones (the spec)."""
    conf = AUTHN_CONF.replace("DOCROOT/basic", "DOCROOT").replace(
        "FastCgiAuthenticator AUTHZ",
        "FastCgiAuthenticator AUTHZ%s" % (" -compat" if compat else ""))
    srv = site(httpd, responder, authz_app, conf)
    r = srv.get("/app.fcgi?env", headers=basic("alice", "secret"))
    assert r.status == 200, (r, conftest.read_text(srv.error_log))
    assert b"FCGIX_AUTHENTICATOR=role=AUTHENTICATOR" in r.body
    plain = [l for l in r.body.decode().splitlines()
             if l.upper().startswith(("X-PLAIN-HEADER=", "X_PLAIN_HEADER="))]
    assert bool(plain) != compat, (compat, plain)


AUTH_PHP = b"""<?php
// An authorizer in PHP on php-fpm: FCGI_ROLE AUTHORIZER.
$role = getenv('FCGI_APACHE_ROLE') ?: ($_SERVER['FCGI_APACHE_ROLE'] ?? '');
$uri = $_SERVER['REQUEST_URI'] ?? '';
if (strpos($uri, 'deny') !== false) {
    http_response_code(403);
    header('Content-Type: text/plain');
    echo "php says no\\n";
    exit;
}
header('Variable-PHP_AUTHZ: ' . $role . ' ' . ($_SERVER['FCGI_ROLE'] ?? ''));
"""


def test_php_authorizer_on_php_fpm(httpd, responder, php_fpm):
    sock = php_fpm
    srv = httpd(load_module=False)
    app = srv.docroot / "app.fcgi"
    auth = srv.docroot / "auth.php"
    auth.write_bytes(AUTH_PHP)
    auth.chmod(0o644)
    (srv.docroot / "api").mkdir()
    (srv.docroot / "api" / "page.txt").write_text("protected page\n")
    srv.extra_conf = "\n".join([
        AUTH_MODULES,
        'LoadModule fastcgi_x_module "%s"' % conftest.MODULE,
        "FastCgiExternalServer %s -socket %s" % (app, responder.address),
        "FastCgiExternalServer %s -socket %s" % (auth, sock),
        "<Location /api>",
        "    FastCgiAuthorizer %s" % auth,
        "</Location>",
        "<Location /app.fcgi>",
        "    FastCgiAuthorizer %s" % auth,
        "</Location>"])
    srv.start()
    assert srv.get("/api/page.txt").status == 200, \
        conftest.read_text(srv.error_log)
    r = srv.get("/api/page.txt?deny")
    assert r.status == 403 and r.body == b"php says no\n", r
    r = srv.get("/app.fcgi?env")
    assert r.status == 200, r
    assert b"PHP_AUTHZ=AUTHORIZER AUTHORIZER" in r.body, r.body


PROVIDER_CONF = """
<Directory DOCROOT/basic>
    AuthType Basic
    AuthName "private"
    AuthBasicProvider fastcgi
    FastCgiAuthenticator AUTHZ -provider
    FastCgiAuthorizer AUTHZ -provider
    Require fastcgi-authorizer
</Directory>
"""


def test_provider_api(httpd, responder, authz_app):
    """AuthBasicProvider fastcgi and Require fastcgi-authorizer: the apps
    through httpd's provider API (denials are httpd's own pages)."""
    srv = site(httpd, responder, authz_app, PROVIDER_CONF)
    ok = basic("alice", "secret")
    r = srv.get("/basic/page.txt", headers=ok)
    assert r.status == 200 and r.body == b"protected page\n", (
        r, conftest.read_text(srv.error_log))
    r = srv.get("/basic/page.txt", headers=basic("alice", "bad"))
    assert r.status == 401 and "Basic" in r.headers.get(
        "WWW-Authenticate", ""), r
    r = srv.get("/basic/page.txt?deny", headers=ok)
    assert r.status in (401, 403) and b"protected" not in r.body, r
    r = srv.get("/basic/page.txt?crash", headers=ok)
    assert r.status == 500 and b"protected" not in r.body, r


PHASE_CONF = {
    "authenticator": """
    AuthType Basic
    AuthName "private"
    FastCgiAuthenticator APP
    Require valid-user""",
    "authorizer": """
    AuthType Basic
    AuthName "private"
    FastCgiAuthenticator APP
    FastCgiAuthorizer APP
    Require valid-user""",
    "access_checker": """
    FastCgiAccessChecker APP""",
}
DENY = {"authenticator": ("bad", 401), "authorizer": ("deny", 403),
        "access_checker": ("blocked", 403)}


@pytest.mark.parametrize("kind", ["unix", "tcp", "static", "dynamic"])
@pytest.mark.parametrize("phase", sorted(PHASE_CONF))
def test_each_phase_on_each_kind_of_app(httpd, responder, workdir, request,
                                        kind, phase):
    srv = httpd(load_module=False)
    area = srv.docroot / "area"
    area.mkdir()
    (area / "page.txt").write_text("protected page\n")
    app = srv.docroot / "auth" / "check.fcgi"
    app.parent.mkdir()
    define = ""
    backend = None
    if kind in ("static", "dynamic"):
        app.write_bytes(AUTHZ.read_bytes())
        app.chmod(0o755)
        if kind == "static":
            define = "FastCgiServer %s -processes 1" % app
    else:
        address = (str(workdir / "check.sock") if kind == "unix"
                   else ":%d" % conftest.free_port())
        backend = conftest.Backend("fcgi_authorizer", [str(AUTHZ), address],
                                   workdir / "check.log")
        conftest.track(request, backend)
        request.addfinalizer(backend.stop)
        if kind == "unix":
            assert conftest.wait_for(
                lambda: os.path.exists(address), 10)
            os.chmod(address, 0o777)
            define = "FastCgiExternalServer %s -socket %s" % (app, address)
        else:
            port = int(address[1:])
            assert conftest.wait_for(
                lambda: conftest.can_connect(("127.0.0.1", port)), 10)
            define = "FastCgiExternalServer %s -host 127.0.0.1:%d" % (
                app, port)
    srv.extra_conf = "\n".join([
        AUTH_MODULES,
        'LoadModule fastcgi_x_module "%s"' % conftest.MODULE,
        define,
        '<Directory "%s">' % area,
        PHASE_CONF[phase].replace("APP", str(app)),
        "</Directory>"])
    srv.start()
    ok = basic("alice", "secret")
    r = srv.get("/area/page.txt", headers=ok)
    assert r.status == 200 and r.body == b"protected page\n", (
        r, conftest.read_text(srv.error_log))
    word, status = DENY[phase]
    if phase == "authenticator":
        r = srv.get("/area/page.txt", headers=basic("alice", word))
    else:
        r = srv.get("/area/page.txt?" + word, headers=ok)
    assert r.status == status and b"protected page" not in r.body, r


def test_authorizer_that_times_out_fails_closed(httpd, responder,
                                                authz_app):
    srv = site(httpd, responder, authz_app, AUTHZ_CONF)
    srv.extra_conf = srv.extra_conf.replace(
        "authz.sock", "authz.sock -idle-timeout 1")
    srv.stop()
    srv.start()
    r = srv.get("/api/page.txt?slow", headers=basic("alice", "secret"),
                timeout=30)
    assert r.status == 500 and b"protected" not in r.body, r
    assert "-idle-timeout" in conftest.read_text(srv.error_log)


def test_401_without_challenge_gets_one(httpd, responder, authz_app):
    """A 401 must carry WWW-Authenticate: when the app sends none, httpd's
    Basic challenge is added to the app's page."""
    srv = site(httpd, responder, authz_app, AUTHN_CONF)
    r = srv.get("/basic/page.txt?nochallenge", headers=basic("alice", "x"))
    assert r.status == 401 and r.body == b"a 401 without a challenge\n", r
    assert r.headers.get("WWW-Authenticate") == 'Basic realm="private"', r


def test_provider_without_its_directive_denies(httpd, responder, authz_app):
    """AuthBasicProvider fastcgi without FastCgiAuthenticator (and Require
    fastcgi-authorizer without FastCgiAuthorizer): 500, never access, and
    a log line saying what is missing and where."""
    conf = """
<Directory DOCROOT/basic>
    AuthType Basic
    AuthName "private"
    AuthBasicProvider fastcgi
    Require valid-user
</Directory>
<Directory DOCROOT/api>
    AuthType Basic
    AuthName "private"
    FastCgiAuthenticator AUTHZ
    Require fastcgi-authorizer
</Directory>
"""
    srv = site(httpd, responder, authz_app, conf)
    for path in ("/basic/page.txt", "/api/page.txt"):
        r = srv.get(path, headers=basic("alice", "secret"))
        assert r.status == 500 and b"protected" not in r.body, (path, r)
    log = conftest.read_text(srv.error_log)
    assert "FCGIX00099" in log and "/basic/page.txt" in log, log
    assert "FCGIX00100" in log and "/api/page.txt" in log, log
