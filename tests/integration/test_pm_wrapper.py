"""FastCgiWrapper with httpd's suexec (Debian apache2-suexec-pristine):
apps run as the configured user, and -user without a wrapper is refused.

suexec only runs programs under its document root (/var/www), owned by
the target user, and only for the httpd user (www-data), so these tests
need root and build their app directory under /var/www."""

import os
import shutil
import tempfile

import pytest

import conftest
from helpers import (MOD_SUEXEC, children_of, cmdline, run_to_exit,
                     suexec_binary_problem, system_user)

APP_USER = "fcgixapp"


pytestmark = pytest.mark.skipif(suexec_binary_problem() is not None,
                                reason=str(suexec_binary_problem()))


@pytest.fixture
def app_user():
    """A system user for the apps (uid >= 100, suexec's minimum)."""
    return system_user(APP_USER)


@pytest.fixture
def app_dir(app_user):
    """A directory under /var/www owned by the app user, removed after;
    and suexec's log directory, without which it refuses to run."""
    os.makedirs("/var/log/apache2", mode=0o750, exist_ok=True)
    os.makedirs("/var/www", exist_ok=True)
    path = tempfile.mkdtemp(prefix="fcgix-wrap-", dir="/var/www")
    os.chmod(path, 0o755)
    os.chown(path, app_user.pw_uid, app_user.pw_gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def install_app(directory, name, pw):
    path = os.path.join(directory, name)
    shutil.copy(conftest.RESPONDER, path)
    os.chmod(path, 0o755)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def app_processes(srv, name):
    """PIDs of processes running `name` under the PM of srv."""
    out = []
    for pm in children_of(srv.pid):
        out += [p for p in children_of(pm) if name in cmdline(p)]
    return out


def wrapped_conf(directory, extra):
    return "\n".join([
        "FastCgiWrapper On",
        "Alias /w/ %s/" % directory,
        "<Directory %s>" % directory,
        "    Require all granted",
        "    Options +ExecCGI",
        "    AddHandler fastcgi-script .fcgi",
        "</Directory>",
        extra])


def test_static_app_runs_as_its_user(httpd, app_dir, app_user):
    app = install_app(app_dir, "static.fcgi", app_user)
    srv = httpd(extra_conf=wrapped_conf(
        app_dir, "FastCgiServer %s -user %s -group %s" % (
            app, APP_USER, APP_USER)))
    srv.start()
    assert conftest.wait_for(
        lambda: srv.get("/w/static.fcgi").status == 200, 10), \
        conftest.read_text(srv.error_log)
    pids = app_processes(srv, "static.fcgi")
    assert pids, "no app process under the PM"
    assert all(uid_of(p) == app_user.pw_uid for p in pids)
    assert "suexec" not in " ".join(cmdline(p) for p in pids)


def test_dynamic_app_runs_as_suexec_identity(httpd, app_dir, app_user):
    if not os.path.exists(MOD_SUEXEC):
        pytest.skip("mod_suexec is not installed")
    install_app(app_dir, "dyn.fcgi", app_user)
    srv = httpd(extra_conf=wrapped_conf(app_dir, "\n".join([
        "LoadModule suexec_module %s" % MOD_SUEXEC,
        "SuexecUserGroup %s %s" % (APP_USER, APP_USER)])))
    srv.start()
    r = srv.get("/w/dyn.fcgi")
    assert r.status == 200, (r, conftest.read_text(srv.error_log))
    pids = app_processes(srv, "dyn.fcgi")
    assert pids and all(uid_of(p) == app_user.pw_uid for p in pids)


def test_user_without_wrapper_is_refused(httpd, app_dir, app_user):
    app = install_app(app_dir, "static.fcgi", app_user)
    srv = httpd(extra_conf="FastCgiServer %s -user %s -group %s" % (
        app, APP_USER, APP_USER))
    rc, log = run_to_exit(srv)
    assert rc not in (None, 0), log
    assert "FCGIX00110" in log and "need FastCgiWrapper" in log, log
