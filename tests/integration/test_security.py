"""Hostile input from clients (issue 6, security): the CGI environment
cannot be poisoned through request headers, and paths cannot start a
dynamic app that httpd would not run."""

import os
import subprocess
import sys

import pytest

import conftest
from helpers import static_and_dynamic


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


# --- local users --------------------------------------------------------------

NOBODY = 65534


def try_as_nobody(code):
    """Run Python `code` as uid/gid 65534 (another local user); its
    stdout."""
    def drop():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    out = subprocess.run([sys.executable, "-c", code], preexec_fn=drop,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_sockets_are_unreachable_by_other_users(httpd):
    """Another local user can neither list the IPC directory nor connect
    to an app's socket or the PM's control socket (which would let it
    talk FastCGI to the apps, or start dynamic apps)."""
    srv = static_and_dynamic(httpd, 1)
    for path in ("/static.fcgi", "/dyn/app.fcgi"):
        assert srv.get(path).status == 200
    ipc = srv.root / "run" / "fastcgi"
    socks = sorted(str(p) for p in ipc.iterdir() if p.is_socket())
    assert len(socks) >= 3, socks   # pool, dynamic app, control socket
    out = try_as_nobody("\n".join([
        "import os, socket",
        "try:",
        "    os.listdir(%r)" % str(ipc),
        "    print('listed')",
        "except PermissionError:",
        "    print('list: denied')",
        "for p in %r:" % socks,
        "    s = socket.socket(socket.AF_UNIX)",
        "    try:",
        "        s.connect(p)",
        "        print('connected', p)",
        "    except PermissionError:",
        "        print('connect: denied')",
        "    except OSError as e:",
        "        print('connect:', e)",
    ]))
    assert out.splitlines() == ["list: denied"] + ["connect: denied"] * len(
        socks), out


@pytest.mark.parametrize("directive", [
    "FastCgiServer {app}",
    "FastCgiExternalServer {app} -host 127.0.0.1:9",
    "FastCgiConfig -maxProcesses 1",
    "FastCgiWrapper /bin/sh",
    "FastCgiIpcDir /tmp",
])
def test_htaccess_cannot_choose_an_executable(httpd, directive):
    """With AllowOverride All, .htaccess still cannot define an app, a
    wrapper or the IPC directory: httpd refuses the file (500) and the PM
    starts nothing."""
    srv = httpd()
    sub = srv.docroot / "sub"
    sub.mkdir()
    app = sub / "evil.fcgi"
    app.write_bytes(conftest.RESPONDER.read_bytes())
    app.chmod(0o755)
    (sub / "index.txt").write_text("hi\n")
    (sub / ".htaccess").write_text(directive.format(app=app) + "\n")
    srv.extra_conf = "\n".join([
        "AccessFileName .htaccess",
        '<Directory "%s">' % sub,
        "    AllowOverride All",
        "</Directory>"])
    srv.start()
    r = srv.get("/sub/index.txt")
    assert r.status == 500, r
    log = conftest.read_text(srv.error_log)
    assert "not allowed here" in log, log
    assert "started on" not in log, log
