"""FastCgiServer: the module's process manager starts and supervises the
app (a copy of the libfcgi test responder), as a child of httpd's parent
process, with its apps as the PM's children."""

import os
import shutil
import signal
import time

import conftest
from helpers import children_of, cmdline, gone


def start_static(httpd, processes=2):
    srv = httpd()
    app = srv.docroot / "app.fcgi"
    shutil.copy(conftest.RESPONDER, app)
    app.chmod(0o755)
    srv.extra_conf = "FastCgiServer %s -processes %d -initial-env A=b" % (
        app, processes)
    srv.start()
    return srv


def pm_and_apps(srv, processes, timeout=10):
    """(pm pid, [app pids]) once the PM runs `processes` apps."""
    def look():
        for pid in children_of(srv.pid):
            apps = [c for c in children_of(pid) if "app.fcgi" in cmdline(c)]
            if len(apps) == processes:
                return pid, apps
        return None
    found = conftest.wait_for(look, timeout)
    assert found, "no PM with %d apps under httpd %d" % (processes, srv.pid)
    return found


def test_static_app_serves_and_tree_is_visible(httpd):
    srv = start_static(httpd, 2)
    pm, apps = pm_and_apps(srv, 2)
    r = srv.get("/app.fcgi")
    assert r.status == 200 and r.body == b"hello\n", r
    ipc = srv.root / "run" / "fastcgi"
    st = os.stat(ipc)
    assert st.st_mode & 0o777 == 0o700
    if os.geteuid() == 0:
        import pwd
        assert st.st_uid == pwd.getpwnam("www-data").pw_uid
    with open("/proc/%d/environ" % apps[0], "rb") as f:
        env = f.read().split(b"\0")
    assert b"A=b" in env


def test_killed_app_is_replaced(httpd):
    srv = start_static(httpd, 2)
    pm, apps = pm_and_apps(srv, 2)
    os.kill(apps[0], signal.SIGKILL)
    assert conftest.wait_for(lambda: gone(apps[0]), 5)
    pm2, apps2 = pm_and_apps(srv, 2)
    assert pm2 == pm and apps[0] not in apps2
    assert srv.get("/app.fcgi").status == 200
    assert "died of signal 9" in conftest.read_text(srv.error_log)


def test_killed_pm_is_restarted_by_httpd(httpd):
    srv = start_static(httpd, 1)
    pm, apps = pm_and_apps(srv, 1)
    os.kill(pm, signal.SIGKILL)
    # Its app dies with it (PR_SET_PDEATHSIG); httpd starts a new PM.
    assert conftest.wait_for(lambda: gone(apps[0]), 5), "app outlived PM"
    pm2, apps2 = pm_and_apps(srv, 1)
    assert pm2 != pm
    assert conftest.wait_for(
        lambda: srv.get("/app.fcgi").status == 200, 5)
    assert "FCGIX00077" in conftest.read_text(srv.error_log)


def test_stopping_httpd_leaves_no_app(httpd):
    srv = start_static(httpd, 2)
    pm, apps = pm_and_apps(srv, 2)
    srv.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(
            gone(p) for p in [pm] + apps):
        time.sleep(0.1)
    assert all(gone(p) for p in [pm] + apps), "left: %r" % [
        p for p in [pm] + apps if not gone(p)]
    assert not list((srv.root / "run" / "fastcgi").glob("*.sock"))
