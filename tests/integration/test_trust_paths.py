"""Root never acts by path where httpd's User can write (issue 12, item 2).

httpd's parent runs as root while the PM, the apps and every tenant's
script run as the User (www-data), who owns the IPC directory. So:

- a link that the User swaps in at the control socket's path, or at the
  IPC directory itself (when its parent is the User's), while root is
  setting them up never hands a file of root's to the User;
- whatever the User plants at the next configuration generation's socket
  paths (they are predictable: "g<N>-pm.sock", "<md5>.g<N>.<i>",
  "g<N>-dyn<k>.<i>") costs no restart: it is removed, and the log says
  what was found where.

The races are made deterministic with strace, which holds httpd's parent
at the entry of each chown-family system call for DELAY_S while a User
process swaps the path (the old code looked up the path again in that
call). Each victim is a root-owned file or directory in the test's own
temp dir.
"""

import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys

import pytest

import conftest
from helpers import (WWW_DATA, dynamic_server, fetch, graceful_new_pm,
                     install, log_text, pm_pids, run_to_exit, start)

STRACE = shutil.which("strace")
DELAY_S = 2
CHOWNS = "chown,fchown,lchown,fchownat"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: httpd must run as root with "
    "User www-data for the User to be a different user")


# --- helpers -----------------------------------------------------------------

def drop_to_www_data():
    os.setgroups([])
    os.setgid(WWW_DATA.pw_gid)
    os.setuid(WWW_DATA.pw_uid)


def as_www_data(code, timeout=30):
    """Run python code as www-data (a tenant's script would); its stdout."""
    out = subprocess.run([sys.executable, "-c", code],
                         preexec_fn=drop_to_www_data, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout


def spawn_www_data(code, log, args):
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-c", code] + args,
                                preexec_fn=drop_to_www_data,
                                stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)


def make_victim(workdir, kind="file"):
    """A root-owned file (0600) or directory (0755) nobody else may own."""
    path = workdir / ("victim-" + kind)
    if kind == "file":
        path.write_text("root's secret\n")
        os.chmod(path, 0o600)
    else:
        path.mkdir(mode=0o755)
        os.chmod(path, 0o755)
    os.chown(path, 0, 0)
    return path


def identity(path):
    st = os.lstat(path)
    return (stat.S_IFMT(st.st_mode), st.st_uid, st.st_gid,
            stat.S_IMODE(st.st_mode))


def generation(ipc):
    """The configuration generation whose control socket is in ipc."""
    gens = [int(m.group(1)) for p in ipc.iterdir()
            for m in [re.fullmatch(r"g(\d+)-pm\.sock", p.name)] if m]
    assert gens, sorted(p.name for p in ipc.iterdir())
    return max(gens)


def static_socket(app, gen, i):
    """What app_socket_base() names process i of a FastCgiServer."""
    return "%s.g%d.%d" % (hashlib.md5(str(app).encode()).hexdigest(), gen, i)


def server(httpd, processes=1, ipc_dir=None):
    """httpd with a FastCgiServer (static.fcgi) and a dynamic app
    (dyn/app.fcgi), both the test responder; not started."""
    srv, dyn = dynamic_server(httpd)
    install(conftest.RESPONDER, dyn / "app.fcgi")
    app = install(conftest.RESPONDER, srv.docroot / "static.fcgi")
    srv.extra_conf += "\nFastCgiServer %s -processes %d" % (app, processes)
    if ipc_dir:
        srv.extra_conf += "\nFastCgiIpcDir %s" % ipc_dir
    return srv, app


def serves(srv, path):
    return fetch(srv, path, 15).status == 200


def new_pm_started(srv, pms_before):
    """httpd has run post_config for the next generation: it started a new
    PM, or it died."""
    return srv.proc.poll() is not None or len(pm_pids(srv)) > pms_before


def graceful(srv):
    """A graceful restart that starts a new PM (the configuration
    changes); wait until the next generation's PM started (or httpd
    died)."""
    before = len(pm_pids(srv))
    graceful_new_pm(srv)
    assert conftest.wait_for(lambda: new_pm_started(srv, before), 20), \
        "no new PM after SIGUSR1"


def assert_serves_after_restart(srv):
    assert srv.proc.poll() is None, (
        "httpd died at the graceful restart:\n" + log_text(srv)[-4000:])
    for path in ("/static.fcgi", "/dyn/app.fcgi"):
        assert conftest.wait_for(lambda: serves(srv, path), 15, 0.2), (
            path, log_text(srv)[-4000:])


def planted_lines(srv, path):
    return [line for line in log_text(srv).splitlines()
            if "FCGIX00400" in line and str(path) in line]


PLANT = {
    "file": "open(p, 'w').write('planted\\n')",
    "dir": "os.mkdir(p); open(os.path.join(p, 'x'), 'w').write('x')",
    "symlink": "os.symlink(victim, p)",
}


def plant(path, kind, victim):
    """As www-data, put a `kind` at path (a directory that is not empty)."""
    as_www_data("import os\np, victim = %r, %r\n%s\n" % (
        str(path), str(victim), PLANT[kind]))


class Strace:
    """strace attached to httpd's parent (with follow, to the processes it
    starts from now on too): each of `calls` waits DELAY_S at its entry
    (or, with when="exit", at its return). Stopped by its PID."""

    def __init__(self, pid, out, calls=CHOWNS, when="enter", follow=False):
        self.out = out
        argv = [STRACE, "-p", str(pid), "-o", str(out), "-e",
                "trace=" + calls, "-e", "inject=%s:delay_%s=%d" % (
                    calls, when, DELAY_S * 1000000)]
        self.proc = subprocess.Popen(
            argv[:1] + (["-f"] if follow else []) + argv[1:],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        if not conftest.wait_for(lambda: self.tracer(pid) == self.proc.pid,
                                 10):
            self.stop()
            pytest.fail("strace did not attach to %d" % pid)

    @staticmethod
    def tracer(pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
        return 0

    def calls(self):
        try:
            return self.out.read_text().splitlines()
        except OSError:
            return []

    def stop(self):
        conftest.stop_process(self.proc)


@pytest.fixture
def strace(request):
    if STRACE is None:
        pytest.skip("strace is not installed (tools/deps.sh check installs "
                    "it)")
    started = []

    def make(pid, out, **kw):
        s = Strace(pid, out, **kw)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def racers():
    started = []
    yield started
    for p in started:
        conftest.stop_process(p)


# --- links swapped in while root sets things up ------------------------------

RACE_CONTROL = """
import os, stat, sys, time
target, victim = sys.argv[1], sys.argv[2]
tmp = target + '.swap'
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        if stat.S_ISSOCK(os.lstat(target).st_mode):
            os.symlink(victim, tmp)
            os.rename(tmp, target)
            print('swapped', flush=True)
            sys.exit(0)
    except FileNotFoundError:
        pass
    time.sleep(0.0005)
print('timeout', flush=True)
"""


def test_link_swapped_in_at_the_control_socket(httpd, workdir, strace,
                                               racers):
    """A User process replaces the next generation's control socket with a
    link to a root-owned file as soon as the socket appears; root held at
    each chown for 2 s: the file keeps its owner and mode."""
    victim = make_victim(workdir)
    before = identity(victim)
    srv, _ = server(httpd)
    start(srv)
    ipc = srv.root / "run" / "fastcgi"
    target = ipc / ("g%d-pm.sock" % (generation(ipc) + 1))
    log = workdir / "racer.log"
    racer = spawn_www_data(RACE_CONTROL, log, [str(target), str(victim)])
    racers.append(racer)
    tracer = strace(srv.pid, workdir / "strace.out")
    graceful(srv)
    racer.wait(40)
    tracer.stop()
    assert "swapped" in log.read_text(), log.read_text()
    assert identity(victim) == before, (identity(victim), before,
                                        tracer.calls())


def tenant_dir(workdir):
    """A directory of the User's (www-data), as a tenant's home is."""
    tenant = workdir / "tenant"
    tenant.mkdir(mode=0o755)
    os.chown(tenant, WWW_DATA.pw_uid, WWW_DATA.pw_gid)
    return tenant


def serving_from_tenant_dir(httpd, workdir):
    """(tenant dir, IPC dir, httpd) with FastCgiIpcDir in a directory of
    the User's, serving."""
    tenant = tenant_dir(workdir)
    ipc = tenant / "ipc"
    srv, _ = server(httpd, ipc_dir=ipc)
    srv.start()
    assert conftest.wait_for(lambda: serves(srv, "/static.fcgi"), 15)
    return tenant, ipc, srv


def test_link_swapped_in_at_the_ipc_dir(httpd, workdir, strace):
    """FastCgiIpcDir in a directory of the User's: while root is held at
    its first chown-family call of the restart, the User renames the IPC
    directory away and puts a link to a root-owned directory in its
    place. The directory keeps its owner and mode."""
    victim = make_victim(workdir, "dir")
    before = identity(victim)
    tenant, ipc, srv = serving_from_tenant_dir(httpd, workdir)
    tracer = strace(srv.pid, workdir / "strace.out")
    pms = len(pm_pids(srv))
    graceful_new_pm(srv)

    def held_at_chown():
        return [c for c in tracer.calls()
                if '"%s"' % ipc in c or c.startswith("fchown(")]
    assert conftest.wait_for(held_at_chown, 20), tracer.calls()
    as_www_data("import os\nos.rename(%r, %r)\nos.symlink(%r, %r)\n" % (
        str(ipc), str(tenant / "ipc.old"), str(victim), str(ipc)))
    assert conftest.wait_for(lambda: new_pm_started(srv, pms), 20)
    tracer.stop()
    assert identity(victim) == before, (identity(victim), before,
                                        tracer.calls())


def test_link_at_the_ipc_dir_before_a_restart(httpd, workdir):
    """The IPC directory replaced by a link to a root-owned directory
    before a graceful restart: refused with a log line that names it; the
    directory keeps its owner and mode."""
    victim = make_victim(workdir, "dir")
    before = identity(victim)
    tenant, ipc, srv = serving_from_tenant_dir(httpd, workdir)
    as_www_data("import os\nos.rename(%r, %r)\nos.symlink(%r, %r)\n" % (
        str(ipc), str(tenant / "ipc.old"), str(victim), str(ipc)))
    os.kill(srv.pid, signal.SIGUSR1)
    assert conftest.wait_for(lambda: srv.proc.poll() is not None, 20)
    assert identity(victim) == before
    assert [line for line in log_text(srv).splitlines()
            if str(ipc) in line and "symbolic link" in line], \
        log_text(srv)[-4000:]


def test_root_dir_in_a_users_dir_is_not_taken_over(httpd, workdir):
    """A root-owned directory at FastCgiIpcDir in a directory of the
    User's may be one of root's that the User renamed there (rename keeps
    the owner): httpd does not start, and the directory stays root's."""
    ipc = tenant_dir(workdir) / "ipc"
    ipc.mkdir(mode=0o700)
    before = identity(ipc)
    srv, _ = server(httpd, ipc_dir=ipc)
    rc, log = run_to_exit(srv)
    assert rc not in (None, 0), log
    assert identity(ipc) == before
    assert str(ipc) in log and "owned by root" in log, log

# --- things planted at the next generation's socket paths --------------------

@pytest.mark.parametrize("kind", ["file", "dir", "symlink"])
def test_planted_at_the_next_control_socket(httpd, workdir, kind):
    """A regular file, a directory (not empty) or a link at the next
    generation's control socket path: the graceful restart works, both
    apps serve, the log names what was found there and that it was
    removed, and a link's target is left alone."""
    victim = make_victim(workdir)
    before = identity(victim)
    srv, _ = server(httpd)
    start(srv)
    ipc = srv.root / "run" / "fastcgi"
    target = ipc / ("g%d-pm.sock" % (generation(ipc) + 1))
    plant(target, kind, victim)
    graceful(srv)
    assert_serves_after_restart(srv)
    assert stat.S_ISSOCK(os.lstat(target).st_mode)
    assert planted_lines(srv, target), log_text(srv)[-4000:]
    assert identity(victim) == before


def test_planted_at_the_next_app_sockets(httpd, workdir):
    """A file, a directory (not empty) and a link at the next generation's
    sockets of a FastCgiServer's three processes, and a file at the first
    dynamic app's: the restart works, every process of both apps serves,
    the log names each path."""
    victim = make_victim(workdir)
    before = identity(victim)
    srv, app = server(httpd, processes=3)
    start(srv)
    ipc = srv.root / "run" / "fastcgi"
    gen = generation(ipc) + 1
    planted = [(ipc / static_socket(app, gen, 0), "file"),
               (ipc / static_socket(app, gen, 1), "dir"),
               (ipc / static_socket(app, gen, 2), "symlink"),
               (ipc / ("g%d-dyn0.0" % gen), "file")]
    for path, kind in planted:
        plant(path, kind, victim)
    graceful(srv)
    assert_serves_after_restart(srv)
    for path, kind in planted:
        assert planted_lines(srv, path), (path, log_text(srv)[-4000:])
    for i in range(3):
        path = ipc / static_socket(app, gen, i)
        assert conftest.wait_for(
            lambda: stat.S_ISSOCK(os.lstat(path).st_mode), 10), path
    assert identity(victim) == before


REPLANT = """
import os, sys, time
target, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        pass
    time.sleep(0.0002)
"""


def test_control_socket_name_taken_again(httpd, workdir, strace, racers):
    """A User process puts a file back at the next control socket's path
    whenever it is gone; the restart is held 2 s after each removal, so
    the file is back before the socket is bound: the control socket gets
    another name, the log says so, and dynamic apps are served."""
    srv, _ = server(httpd)
    start(srv)
    ipc = srv.root / "run" / "fastcgi"
    target = ipc / ("g%d-pm.sock" % (generation(ipc) + 1))
    racer = spawn_www_data(REPLANT, workdir / "replant.log",
                           [str(target), "20"])
    racers.append(racer)
    assert conftest.wait_for(target.exists, 10)
    tracer = strace(srv.pid, workdir / "strace.out", calls="unlinkat",
                    when="exit", follow=True)
    graceful(srv)
    tracer.stop()
    conftest.stop_process(racer)
    assert_serves_after_restart(srv)
    moved = [line for line in log_text(srv).splitlines()
             if "FCGIX00402" in line and target.name in line]
    assert moved, (log_text(srv)[-4000:], tracer.calls())
    # A later graceful restart of the same configuration keeps that PM,
    # whatever name its control socket got.
    pms = pm_pids(srv)
    os.kill(srv.pid, signal.SIGUSR1)
    assert conftest.wait_for(lambda: "FCGIX00051" in log_text(srv), 15), \
        log_text(srv)[-3000:]
    assert pm_pids(srv) == pms
    assert_serves_after_restart(srv)
