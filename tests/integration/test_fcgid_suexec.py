"""Sites with their own users through httpd's suexec (issue 15,
docs/design/fcgid.md 3.2, 3.3 and 7.2).

mod_fcgid's vocabulary, both flavours: two name-based vhosts with
SuexecUserGroup of two test users, each with a wrapper under suexec's
document root (/var/www) owned by its user, run their processes as their
users; a vhost without SuexecUserGroup runs its process as www-data; and
no process of theirs outlives httpd.

The FastCgi vocabulary, ours: FastCgiWrapper with two vhosts of different
SuexecUserGroup asking for the same dynamic path gets two processes, each
with its own identity (before, the second host shared the first one's
process, design 3.2). suexec refuses a program its target user does not
own, so one file cannot run under two users through the real suexec:
FastCgiWrapper names a recording wrapper that logs the identity it is
given; with FastCgiWrapper On (the real suexec) the second host must at
least never be answered by the first one's process.

Skipped like test_pm_wrapper.py without root, www-data, a setuid suexec
or mod_suexec.
"""

import os
import pwd
import re
import shutil
import signal
import subprocess
import time

import pytest

import conftest
from helpers import (MOD_SUEXEC, WWW_DATA, Result, current_pm, gone,
                     install, start,
                     suexec_dir, suexec_skip_reason, system_user, uid_of)

pytestmark = pytest.mark.skipif(suexec_skip_reason() is not None,
                                reason=str(suexec_skip_reason()))

USERS = ("fcgixapp", "fcgixapp2")
HOSTS = ("a.test", "b.test")       # SuexecUserGroup USERS[0], USERS[1]
PLAIN = "c.test"                   # no SuexecUserGroup


@pytest.fixture
def users():
    return [system_user(name) for name in USERS]


@pytest.fixture
def suexec_dirs():
    """make(pw): a directory under /var/www owned by pw; all removed
    afterwards."""
    made = []

    def make(pw):
        made.append(suexec_dir(pw))
        return made[-1]

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def make_site(root, pw):
    """root/page.fcgi (a file the wrapper serves) and root/wrapper, a sh
    script that execs the responder copied to root/responder; all owned
    by pw, as suexec wants. Returns the wrapper's path."""
    app = install(conftest.RESPONDER, os.path.join(root, "responder"))
    page = os.path.join(root, "page.fcgi")
    with open(page, "w") as f:
        f.write("served by the wrapper\n")
    os.chmod(page, 0o644)
    wrapper = os.path.join(root, "wrapper")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec %s\n" % app)
    os.chmod(wrapper, 0o755)
    for path in (root, app, page, wrapper):
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return wrapper


def vhost(port, host, root, suexec_user=None, extra=""):
    lines = ["<VirtualHost 127.0.0.1:%d>" % port,
             "    ServerName %s" % host,
             '    DocumentRoot "%s"' % root]
    if suexec_user:
        lines.append("    SuexecUserGroup %s %s" % (suexec_user,
                                                    suexec_user))
    lines += ["    " + extra, "</VirtualHost>"]
    return "\n".join(lines)


def fcgid_dir(root, wrapper):
    return "\n".join(['<Directory "%s">' % root,
                      "    Require all granted",
                      "    Options +ExecCGI",
                      "    AddHandler fcgid-script .fcgi",
                      "    FcgidWrapper %s .fcgi" % wrapper,
                      "</Directory>"])


def get_pid(srv, host, path="/page.fcgi?pid"):
    """The pid the app at path of `host` reports (a 200 or a failure)."""
    try:
        r = srv.get(path, headers={"Host": host}, timeout=30)
    except OSError as e:
        pytest.fail("%s: %r" % (host, e))
    m = re.fullmatch(rb"pid=(\d+)\n", r.body)
    assert r.status == 200 and m, (host, r, r.body[:300])
    return int(m.group(1))


def sites(httpd, flavour, users, suexec_dirs):
    """The three vhosts: a.test and b.test as USERS[0] and USERS[1] with
    their wrappers under /var/www, c.test (no SuexecUserGroup) with its
    wrapper in the server's own tree. Unstarted."""
    srv = conftest.fcgid_httpd(httpd, flavour)
    lines = ["LoadModule suexec_module %s" % MOD_SUEXEC]
    srv.site_dirs = []
    for host, pw in zip(HOSTS, users):
        root = suexec_dirs(pw)
        srv.site_dirs.append(root)
        wrapper = make_site(root, pw)
        lines += [fcgid_dir(root, wrapper),
                  vhost(srv.port, host, root, pw.pw_name)]
    plain = str(srv.root / "plain")
    os.mkdir(plain, 0o755)
    srv.site_dirs.append(plain)
    wrapper = make_site(plain, pwd.getpwuid(0))
    lines += [fcgid_dir(plain, wrapper), vhost(srv.port, PLAIN, plain)]
    srv.extra_conf = "\n".join(lines)
    return srv


def up(srv, flavour):
    return start(srv) if flavour == "ours" else srv.start()


def test_each_site_runs_as_its_user(httpd, flavour, users, suexec_dirs):
    """a.test's and b.test's processes run as their SuexecUserGroup users
    (/proc/<pid>/status of the pid the app reports), c.test's as
    www-data; each host keeps its own process."""
    srv = sites(httpd, flavour, users, suexec_dirs)
    up(srv, flavour)
    pids = {}
    for host in HOSTS + (PLAIN,) + HOSTS + (PLAIN,):
        pids.setdefault(host, set()).add(get_pid(srv, host))
    print("%s: %s" % (flavour, {h: [(p, uid_of(p)) for p in sorted(ps)]
                                for h, ps in pids.items()}))
    for host, pw in zip(HOSTS, users):
        assert all(uid_of(p) == pw.pw_uid for p in pids[host]), (
            host, pw.pw_uid, [(p, uid_of(p)) for p in pids[host]])
    assert all(uid_of(p) == WWW_DATA.pw_uid for p in pids[PLAIN]), (
        [(p, uid_of(p)) for p in pids[PLAIN]])
    assert all(len(ps) == 1 for ps in pids.values()), pids
    assert len(set.union(*pids.values())) == 3, pids


def site_processes(dirs):
    """Live processes (anywhere) whose command line names one of dirs."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/stat" % entry) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(d.encode() + b"/" in cmd for d in dirs):
            out.append(int(entry))
    return out


def test_no_site_process_outlives_httpd(httpd, flavour, users,
                                        suexec_dirs):
    """After a request to each site, httpd is stopped (SIGTERM to its
    parent): within 10 s no process of the sites is left, those run as
    the suexec users included."""
    srv = sites(httpd, flavour, users, suexec_dirs)
    up(srv, flavour)
    served = {host: get_pid(srv, host) for host in HOSTS + (PLAIN,)}
    family = conftest.descendants(srv.pid)
    try:
        os.kill(srv.pid, signal.SIGTERM)
        try:
            srv.proc.wait(15)
        except subprocess.TimeoutExpired:
            pytest.fail("httpd did not stop within 15 s of SIGTERM")
        left = conftest.wait_for(
            lambda: not site_processes(srv.site_dirs), 10, 0.1)
        remaining = [(p, uid_of(p)) for p in site_processes(srv.site_dirs)]
        print("%s: served by %s; left after httpd stopped: %s"
              % (flavour, served, remaining))
        assert left, "processes outlived httpd (pid, uid): %r" % remaining
    finally:
        # httpd is gone, so the fixture's stop no longer finds what it
        # started: kill what is left of it, by PID.
        conftest.kill_leftovers(family)


def test_pm_killed_leaves_no_site_process(httpd, users, suexec_dirs):
    """Ours: kill -9 of the process manager. Its processes run as httpd's
    User die with it (PR_SET_PDEATHSIG); those suexec runs as the sites'
    users do not get that signal (a setuid exec clears it), so the root
    signal helper stops them: within 5 s none of the old ones is left,
    and the new PM serves the sites again."""
    srv = sites(httpd, "ours", users, suexec_dirs)
    up(srv, "ours")
    served = {host: get_pid(srv, host) for host in HOSTS}
    pm = current_pm(srv)
    os.kill(pm, signal.SIGKILL)
    gone_all = conftest.wait_for(
        lambda: all(gone(p) for p in served.values()), 5, 0.1)
    left = [(p, uid_of(p)) for p in served.values() if not gone(p)]
    print("served by %s; left 5 s after the PM was killed: %s"
          % (served, left))
    assert gone_all, "site processes outlived the PM (pid, uid): %r" % left
    again = {host: get_pid(srv, host) for host in HOSTS}
    assert all(again[h] != served[h] for h in HOSTS), (served, again)


# --- the FastCgi vocabulary ---------------------------------------------------

RECORDER = """#!/bin/sh
# FastCgiWrapper's arguments, as suexec gets them: user group command
echo "$$ $1 $2 $3 $(pwd)" >> {log}
exec "$(pwd)/$3"
"""


def fastcgi_sites(httpd, users, wrapper, app_dir):
    """a.test and b.test with SuexecUserGroup USERS[0] and USERS[1], one
    DocumentRoot: app_dir's dyn.fcgi is the same dynamic fastcgi-script
    path for both. Started."""
    srv = httpd()
    srv.extra_conf = "\n".join(
        ["LoadModule suexec_module %s" % MOD_SUEXEC,
         "FastCgiWrapper %s" % wrapper,
         "FastCgiConfig -minProcesses 0",
         '<Directory "%s">' % app_dir,
         "    Require all granted",
         "    Options +ExecCGI",
         "    AddHandler fastcgi-script .fcgi",
         "</Directory>"]
        + [vhost(srv.port, host, app_dir, pw.pw_name)
           for host, pw in zip(HOSTS, users)])
    return start(srv)


def ids_of(pw):
    """How a wrapper may be told pw's user and group: names or ids."""
    group = pw.pw_name
    return ({pw.pw_name, str(pw.pw_uid)}, {group, str(pw.pw_gid)})


def test_fastcgi_wrapper_one_path_two_identities(httpd, users, workdir):
    """FastCgiWrapper <recording wrapper>, two vhosts with different
    SuexecUserGroup, the same dynamic path: two processes, each started
    with its own host's user and group (the wrapper's log), each host
    keeping its own."""
    app_dir = workdir / "app"
    app_dir.mkdir(mode=0o755)
    install(conftest.RESPONDER, app_dir / "dyn.fcgi")
    log = workdir / "wrapper.log"
    log.touch()
    os.chown(log, WWW_DATA.pw_uid, WWW_DATA.pw_gid)   # the PM's user
    wrapper = install_text(workdir / "recorder", RECORDER.format(log=log))
    srv = fastcgi_sites(httpd, users, wrapper, app_dir)
    pids = {}
    for host in HOSTS + HOSTS:
        pids.setdefault(host, set()).add(get_pid(srv, host, "/dyn.fcgi?pid"))
    records = {}
    for line in log.read_text().splitlines():
        pid, user, group, cmd, cwd = line.split(" ", 4)
        records[int(pid)] = (user, group, cmd, cwd)
    print("pids %s; the wrapper was given %s" % (pids, records))
    assert all(len(ps) == 1 for ps in pids.values()), pids
    pid_a, pid_b = (min(pids[h]) for h in HOSTS)
    assert pid_a != pid_b, "both hosts served by one process %d" % pid_a
    for pid, pw in ((pid_a, users[0]), (pid_b, users[1])):
        assert pid in records, (pid, records)
        user, group, cmd, cwd = records[pid]
        names, groups = ids_of(pw)
        assert user in names and group in groups, (pw.pw_name, records[pid])
        assert (cmd, cwd) == ("dyn.fcgi", str(app_dir)), records[pid]


def test_fastcgi_wrapper_on_never_shares_a_process(httpd, users,
                                                   suexec_dirs):
    """FastCgiWrapper On (the real suexec), the same dynamic path owned
    by USERS[0] for a.test (USERS[0]) and b.test (USERS[1]): a.test is
    served as its user; b.test, whose user suexec refuses for that file,
    is never answered by a.test's process (an error, or a process of
    b.test's user)."""
    app_dir = suexec_dirs(users[0])
    app = install(conftest.RESPONDER, os.path.join(app_dir, "dyn.fcgi"))
    os.chown(app, users[0].pw_uid, users[0].pw_gid)
    srv = fastcgi_sites(httpd, users, "On", app_dir)
    pid_a = get_pid(srv, HOSTS[0], "/dyn.fcgi?pid")
    assert uid_of(pid_a) == users[0].pw_uid, (pid_a, uid_of(pid_a))
    r = fetch_host(srv, HOSTS[1], "/dyn.fcgi?pid")
    print("a.test: pid %d (uid %s); b.test: %r" % (pid_a, uid_of(pid_a), r))
    if r.status == 200:
        assert r.pid != pid_a, "b.test was served by a.test's process"
        assert uid_of(r.pid) == users[1].pw_uid, (r.pid, uid_of(r.pid))
    else:
        assert r.status in (500, 503), r
    assert get_pid(srv, HOSTS[0], "/dyn.fcgi?pid") == pid_a


def fetch_host(srv, host, path):
    """helpers.fetch for a name-based virtual host."""
    t0 = time.monotonic()
    try:
        resp = srv.get(path, headers={"Host": host}, timeout=30)
    except OSError as e:
        return Result(seconds=time.monotonic() - t0, error=repr(e))
    return Result(resp.status, resp.headers, resp.body,
                  time.monotonic() - t0)


def install_text(path, text, mode=0o755):
    path.write_text(text)
    os.chmod(path, mode)
    return path
