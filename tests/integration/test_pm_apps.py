"""The apps people run, under the module's process manager: a Go
net/http/fcgi program and a Ruby fcgi script, each as a dynamic app and
as a FastCgiServer pool. (C/libfcgi, php-cgi and Perl FCGI are covered by
test_pm_static.py and test_pm_dynamic.py.)"""

import os
import shutil
import subprocess

import pytest

import conftest
from helpers import APPS, install

GO = shutil.which("go")
RUBY = "/usr/bin/ruby"


def ruby_fcgi_missing():
    if not os.path.exists(RUBY):
        return "ruby is not installed"
    r = subprocess.run([RUBY, "-e", "require 'fcgi'"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return "ruby-fcgi is not installed" if r.returncode else None


@pytest.fixture(scope="module")
def go_app(tmp_path_factory):
    """tests/apps/go_hello.go built once, offline (standard library
    only)."""
    if GO is None:
        pytest.skip("go is not installed (golang-go)")
    out = tmp_path_factory.mktemp("go")
    env = dict(os.environ, HOME=str(out), GOCACHE=str(out / "cache"),
               GO111MODULE="off", GOFLAGS="")
    subprocess.run([GO, "build", "-o", str(out / "app"),
                    str(APPS / "go_hello.go")], check=True, env=env,
                   timeout=300)
    return out / "app"


def dynamic_conf(srv):
    return "\n".join([
        '<Directory "%s">' % srv.docroot,
        "    Options +ExecCGI",
        "    AddHandler fastcgi-script .fcgi",
        "</Directory>"])


def get_twice(srv, path, prefix):
    """Two requests: both 200 with the app's answer, from the same
    process (the second reuses the process the first started)."""
    first = srv.get(path)
    assert first.status == 200, (first, conftest.read_text(srv.error_log))
    second = srv.get(path)
    assert second.status == 200, second
    assert first.body.startswith(prefix), first.body
    assert first.body.split()[1] == second.body.split()[1], (
        first.body, second.body)
    return first.body


def test_go_dynamic(httpd, go_app):
    srv = httpd()
    install(go_app, srv.docroot / "go.fcgi")
    srv.extra_conf = dynamic_conf(srv)
    srv.start()
    body = get_twice(srv, "/go.fcgi", b"go ")
    assert body.split()[2] == b"/go.fcgi"


def test_go_static_pool(httpd, go_app):
    srv = httpd()
    app = install(go_app, srv.docroot / "gopool.fcgi")
    srv.extra_conf = "FastCgiServer %s -processes 2" % app
    srv.start()
    pids = set()
    for _ in range(20):
        r = srv.get("/gopool.fcgi")
        assert r.status == 200 and r.body.startswith(b"go "), r
        pids.add(r.body.split()[1])
    assert 1 <= len(pids) <= 2


@pytest.mark.skipif(ruby_fcgi_missing() is not None,
                    reason=str(ruby_fcgi_missing()))
def test_ruby_dynamic(httpd):
    srv = httpd()
    install(APPS / "ruby_hello.fcgi", srv.docroot / "rb.fcgi")
    srv.extra_conf = dynamic_conf(srv)
    srv.start()
    body = get_twice(srv, "/rb.fcgi", b"ruby ")
    assert body.split()[2] == b"/rb.fcgi"


@pytest.mark.skipif(ruby_fcgi_missing() is not None,
                    reason=str(ruby_fcgi_missing()))
def test_ruby_static_pool(httpd):
    srv = httpd()
    app = install(APPS / "ruby_hello.fcgi", srv.docroot / "rbpool.fcgi")
    srv.extra_conf = "FastCgiServer %s -processes 2" % app
    srv.start()
    for _ in range(10):
        r = srv.get("/rbpool.fcgi")
        assert r.status == 200 and r.body.startswith(b"ruby "), (
            r, conftest.read_text(srv.error_log))
