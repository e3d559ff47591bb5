"""Our two module records (issue 15, docs/design/fcgid.md 1 and 7.2):
fastcgi_x_module and fcgid_module ("mod_fcgid.c") in one .so, loaded
alone, together in either order, next to the real mod_fcgid (refused,
FCGIX00115) or next to a second copy of our .so (refused, FCGIX00116),
and across graceful restarts that change which records are loaded.

Tests marked "both" in the design run the same config against the real
mod_fcgid too (the `flavour` fixture), to show that what they check is
what mod_fcgid does.
"""

import base64
import os
import re
import shutil
import signal
import subprocess

import pytest

import conftest
from helpers import (install, log_lines, log_text, pm_pids, run_to_exit,
                     start)

AUTH_MODULES = "\n".join(
    'LoadModule %s "%s"' % (name, conftest.MODDIR / so) for name, so in [
        ("authn_core_module", "mod_authn_core.so"),
        ("auth_basic_module", "mod_auth_basic.so"),
        ("authz_user_module", "mod_authz_user.so")])
PM_LINE = re.compile(r"\[(\w+):info\] .*FCGIX00075: FastCGI process "
                     r"manager started \(pid (\d+)")


def need_real():
    if conftest.FCGID_SO is None:
        pytest.skip(conftest.FCGID_HINT)


def pm_lines(srv):
    """[(module tag, pid)] of every PM start logged, oldest first."""
    return [(m.group(1), int(m.group(2))) for m in
            PM_LINE.finditer(log_text(srv))]


# --- names -------------------------------------------------------------------

def test_dash_M_lists_fcgid_module(httpd):
    """apache2 -M lists fcgid_module for our .so loaded as fcgid_module,
    and nothing of fastcgi_x_module."""
    out = httpd(records=("fcgid",)).modules()
    assert "fcgid_module (shared)" in out, out
    assert "fastcgi_x_module" not in out, out


@pytest.mark.parametrize("name", ["mod_fcgid.c", "fcgid_module"])
def test_ifmodule_holds_for_the_fcgid_record(httpd, flavour, name):
    """<IfModule mod_fcgid.c> and <IfModule fcgid_module> hold for our
    fcgid record as for the real mod_fcgid (both)."""
    conf = '<IfModule !%s>\n    Error "%s is not loaded"\n</IfModule>' % (
        name, name)
    rc, out = conftest.fcgid_httpd(httpd, flavour, conf).check()
    assert rc == 0, out


@pytest.mark.parametrize("name", ["mod_fcgid.c", "fcgid_module"])
def test_ifmodule_fails_with_only_fastcgi_x(httpd, name):
    """With only fastcgi_x_module loaded, <IfModule mod_fcgid.c> and
    <IfModule fcgid_module> do not hold."""
    conf = '<IfModule !%s>\n    Error "%s is not loaded"\n</IfModule>' % (
        name, name)
    rc, out = httpd(conf, records=("fastcgi_x",)).check()
    assert rc != 0 and "%s is not loaded" % name in out, out


def test_fastcgi_server_is_unknown_under_the_fcgid_record(httpd, flavour):
    """Only the fcgid record: FastCgiServer is not a directive, as under
    the real mod_fcgid (both)."""
    srv = conftest.fcgid_httpd(httpd, flavour)
    app = install(conftest.RESPONDER, srv.docroot / "app.fcgi")
    srv.extra_conf = "FastCgiServer %s -processes 1" % app
    rc, out = srv.check()
    assert rc != 0 and "Invalid command 'FastCgiServer'" in out, out


# --- both records ------------------------------------------------------------

def authenticator(req):
    """A FastCGI authenticator: 200 for alice/secret, else 401."""
    ok = (req.params.get(b"REMOTE_USER") == b"alice"
          and req.params.get(b"REMOTE_PASSWD") == b"secret")
    return b"Status: 200\r\n\r\n" if ok else (
        b"Status: 401\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\n")


@pytest.mark.parametrize("records", [("fastcgi_x", "fcgid"),
                                     ("fcgid", "fastcgi_x")])
def test_both_records_one_core(httpd, scripted, records):
    """Both records, either order: one PM; fastcgi-script and fcgid-script
    both serve; a FastCgi directive (FastCgiAuthenticator) and an Fcgid one
    (FcgidWrapper) in one <Directory> both take effect, and the
    authenticator is asked once per request, not once per record."""
    auth = scripted(authenticator)
    srv = httpd(records=records)
    both = srv.docroot / "both"
    both.mkdir(mode=0o755)
    install(conftest.RESPONDER, both / "app.fcgi")
    wrapper = install(conftest.RESPONDER, srv.root / "wrapper.fcgi")
    (both / "page.fcgid").write_text("not run: the wrapper is\n")
    authz = srv.docroot / "auth.fcgi"
    srv.extra_conf = "\n".join([
        AUTH_MODULES,
        "FastCgiExternalServer %s -socket %s" % (authz, auth.address),
        '<Directory "%s">' % both,
        "    Options +ExecCGI",
        "    AddHandler fastcgi-script .fcgi",
        "    AddHandler fcgid-script .fcgid",
        "    FcgidWrapper %s .fcgid" % wrapper,
        "    AuthType Basic",
        '    AuthName "both"',
        "    FastCgiAuthenticator %s" % authz,
        "    Require valid-user",
        "</Directory>"])
    start(srv)
    good = {"Authorization": "Basic "
            + base64.b64encode(b"alice:secret").decode()}
    assert srv.get("/both/app.fcgi").status == 401
    asked = auth.requests
    r = srv.get("/both/app.fcgi", headers=good)
    assert (r.status, r.body) == (200, b"hello\n"), r
    assert auth.requests == asked + 1, "asked %d times" % (
        auth.requests - asked)
    asked = auth.requests
    r = srv.get("/both/page.fcgid", headers=good)
    assert (r.status, r.body) == (200, b"hello\n"), r
    assert auth.requests == asked + 1, "asked %d times" % (
        auth.requests - asked)
    # One core: one PM, a child of httpd's parent, and nothing else
    # started one.
    pms = pm_pids(srv)
    assert len(pms) == 1, pms
    assert pms[0] in [pid for pid, _ in conftest.descendants(srv.pid)]


def test_graceful_restarts_across_record_sets(httpd):
    """Graceful restarts (SIGUSR1, as apache2 -k graceful) through
    fastcgi_x -> both -> fcgid -> both: each generation serves, nothing
    crashes, and the owner (the log lines' module) is fastcgi_x whenever
    it is loaded, else fcgid. A generation whose owner is the same as the
    one before keeps its PM (same definitions); one whose owner changed
    starts a new PM, whose lines carry the new owner."""
    srv = httpd()
    dyn, fd = srv.docroot / "dyn", srv.docroot / "fd"
    for d in (dyn, fd):
        d.mkdir(mode=0o755)
    install(conftest.RESPONDER, dyn / "app.fcgi")
    install(conftest.RESPONDER, fd / "app.fcgid")
    srv.extra_conf = "\n".join([
        '<Directory "%s">' % dyn, "    Options +ExecCGI",
        "    AddHandler fastcgi-script .fcgi", "</Directory>",
        '<Directory "%s">' % fd, "    Options +ExecCGI",
        "    AddHandler fcgid-script .fcgid", "</Directory>"])
    steps = [("fastcgi_x",), ("fastcgi_x", "fcgid"), ("fcgid",),
             ("fastcgi_x", "fcgid")]
    for n, records in enumerate(steps):
        srv.records = records
        owner = "fastcgi_x" if "fastcgi_x" in records else "fcgid"
        if n == 0:
            start(srv)
        else:
            pms = len(pm_lines(srv))
            kept = len(log_lines(srv, "FCGIX00051"))
            srv.write_conf()
            os.kill(srv.pid, signal.SIGUSR1)          # apache2 -k graceful
            assert conftest.wait_for(
                lambda: len(pm_lines(srv)) > pms
                or len(log_lines(srv, "FCGIX00051")) > kept, 15), (
                "generation %d (%r) started no PM, kept none" % (n, records))
            if owner != pm_lines(srv)[pms - 1][0]:
                assert len(pm_lines(srv)) > pms, (
                    "the owner changed but the PM was kept", records)
        assert srv.proc.poll() is None, "httpd exited at %r" % (records,)
        assert pm_lines(srv)[-1][0] == owner, (records, pm_lines(srv))
        if "fastcgi_x" in records:
            r = conftest.wait_for(lambda: srv.get("/dyn/app.fcgi"), 10)
            assert (r.status, r.body) == (200, b"hello\n"), (records, r)
        if "fcgid" in records:
            r = srv.get("/fd/app.fcgid")
            assert (r.status, r.body) == (200, b"hello\n"), (records, r)
    assert not log_lines(srv, "exit signal"), "a child crashed"
    assert not log_lines(srv, "FCGIX00116")


def test_loglevel_fcgid_trace8_shows_our_lines(httpd):
    """Only the fcgid record: our lines carry its name, so "LogLevel warn
    fcgid:trace8" shows our info lines and plain "LogLevel warn" does
    not."""
    loud = httpd(records=("fcgid",), log_level="warn")
    start(loud)
    assert pm_lines(loud) and pm_lines(loud)[0][0] == "fcgid", log_text(loud)
    assert not log_lines(loud, "[fastcgi_x:")
    loud.stop()
    # The same record without the per-module level.
    quiet = httpd('LoadModule fcgid_module "%s"' % conftest.MODULE,
                  load_module=False, log_level="warn")
    start(quiet)
    assert not pm_lines(quiet), "info lines shown at LogLevel warn"


# --- refusals ----------------------------------------------------------------

@pytest.mark.parametrize("order", [("fastcgi_x", "fcgid"),
                                   ("fcgid", "fastcgi_x")])
def test_real_mod_fcgid_next_to_fastcgi_x_is_refused(httpd, order):
    """The real mod_fcgid with ours as fastcgi_x_module, either order
    (real first is the interposition case): -t and the start are refused
    with FCGIX00115, naming the real file and the line to remove."""
    need_real()
    srv = httpd(records=order, real_fcgid=True)
    real = conftest.FCGID_SO
    rc, out = srv.check()
    assert rc != 0, out
    assert "FCGIX00115" in out and "mod_fcgid (%s) is loaded too" % real \
        in out, out
    assert 'LoadModule fcgid_module %s' % real in out, out
    rc, out = run_to_exit(srv)
    assert rc not in (0, None), (rc, out)
    assert "FCGIX00115" in out, out


def ours_then_real(httpd):
    """Ours as fcgid_module, then a LoadModule line for the real one."""
    need_real()
    srv = httpd(records=("fcgid",))
    fd = srv.docroot / "fd"
    fd.mkdir(mode=0o755)
    install(conftest.RESPONDER, fd / "app.fcgi")
    srv.extra_conf = "\n".join([
        'LoadModule fcgid_module "%s"' % conftest.FCGID_SO,
        '<Directory "%s">' % fd, "    Options +ExecCGI",
        "    AddHandler fcgid-script .fcgi", "</Directory>"])
    return srv


def test_ours_then_real_httpd_skips_the_real_one(httpd):
    """Ours as fcgid_module then the real mod_fcgid: httpd skips the
    second line (AH01574) and our core runs: -M lists one fcgid_module,
    our PM starts, no refusal."""
    srv = ours_then_real(httpd)
    out = srv.modules()
    assert out.count("fcgid_module (shared)") == 1, out
    start(srv)
    said = conftest.read_text(srv.console_log) + log_text(srv)
    assert "AH01574" in said, said
    assert pm_lines(srv) and pm_lines(srv)[0][0] == "fcgid"
    assert not log_lines(srv, "FCGIX00115")
    assert "mod_fcgid/2.3.9" not in log_text(srv), "the real one runs"


def test_ours_then_real_serves_fcgid_script(httpd):
    """Ours as fcgid_module then the real one: fcgid-script is served by
    our PM's process."""
    srv = ours_then_real(httpd)
    start(srv)
    r = srv.get("/fd/app.fcgi?pid")
    assert r.status == 200, (r, r.body)
    pid = int(re.fullmatch(rb"pid=(\d+)\n", r.body).group(1))
    assert pid in [p for p, _ in conftest.descendants(pm_pids(srv)[-1])]


def test_second_copy_of_our_so_is_refused(httpd, workdir):
    """A copy of our .so loaded as fcgid_module next to the original as
    fastcgi_x_module: two cores would mean two PMs; refused, FCGIX00116
    naming both files."""
    copy = workdir / "copy_of_mod_fastcgi_x.so"
    shutil.copy(conftest.MODULE, copy)
    srv = httpd(records=("fastcgi_x",))
    srv.extra_conf = 'LoadModule fcgid_module "%s"' % copy
    rc, out = srv.check()
    assert rc != 0 and "FCGIX00116" in out, out
    assert str(copy) in out and str(conftest.MODULE) in out, out
    rc, out = run_to_exit(srv)
    assert rc not in (0, None) and "FCGIX00116" in out, (rc, out)


def test_make_exports():
    """make exports: only fastcgi_x_module and fcgid_module are exported,
    and no relocation names a module record."""
    p = subprocess.run(["make", "-f", "Makefile.apxs", "exports"],
                       cwd=conftest.REPO, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out
    assert "only fastcgi_x_module and fcgid_module are exported" in out, out


@pytest.mark.parametrize("records", [("fastcgi_x", "fcgid"),
                                     ("fcgid", "fastcgi_x")])
def test_other_records_directive_first_in_a_virtual_host(httpd, records):
    """httpd creates a virtual host's configuration only for the records
    whose directives ran in it: a directive of the non-owner record that
    comes first in a <VirtualHost> must still find the owner's (it
    crashed apache2 -t: FcgidMaxProcessesPerVhost with both records)."""
    srv = httpd(records=records)
    srv.extra_conf = "\n".join([
        "<VirtualHost 127.0.0.1:%d>" % srv.port,
        "    ServerName a.test",
        "    FcgidMaxProcessesPerVhost 2",
        "    FcgidIOTimeout 7",
        "</VirtualHost>",
        "<VirtualHost 127.0.0.1:%d>" % srv.port,
        "    ServerName b.test",
        "    FastCgiMaxHostProcesses 3",
        "</VirtualHost>"])
    rc, out = srv.check()
    assert rc == 0, out
    srv.start()
    r = srv.get("/", headers={"Host": "a.test"})
    assert r.status in (200, 403, 404), r
