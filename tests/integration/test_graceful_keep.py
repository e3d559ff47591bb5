"""A graceful restart keeps the process manager and its processes when
the new configuration defines the same PM (issue 16, item 1): what is
kept, what is not (new definitions, a hard restart), the error log that
logrotate moves, the socket pair between httpd's parent and the PM, a
PM held by a configuration that no longer loads the module, and stop and
kill -9 after a kept restart. Under load: test_pm_supervision.py."""

import http.client
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import conftest
from helpers import (PM_KEPT, Result, apps_of, children_of, current_pm,
                     dynamic_server, fetch, gone, graceful_new_pm, install,
                     load_clients, log_lines, pm_pids, processes_running,
                     start, static_and_dynamic)


def pool_pids(pm, n=2):
    return conftest.wait_for(
        lambda: (lambda a: set(a) if len(a) == n else None)(
            apps_of(pm, "static.fcgi")), 10)


def graceful(srv):
    kept = len(log_lines(srv, PM_KEPT))
    pms = len(pm_pids(srv))
    os.kill(srv.pid, signal.SIGUSR1)            # apache2 -k graceful
    assert conftest.wait_for(
        lambda: len(log_lines(srv, PM_KEPT)) > kept
        or len(pm_pids(srv)) > pms, 15), "the restart kept no PM, started none"


def serving(srv):
    srv_ok = conftest.wait_for(
        lambda: fetch(srv, "/static.fcgi?pid", 10).status == 200, 15, 0.2)
    assert srv_ok, log_lines(srv, ":error]")


def slow_request(srv, path, out):
    t = threading.Thread(target=lambda: out.append(fetch(srv, path, 30)),
                         daemon=True)
    t.start()
    return t


def test_unchanged_configuration_keeps_pm_pool_and_dynamic_app(httpd):
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    pool = pool_pids(pm)
    dyn = fetch(srv, "/dyn/app.fcgi?pid", 15)
    assert dyn.status == 200 and dyn.pid
    for _ in range(3):
        graceful(srv)
        serving(srv)
    assert len(log_lines(srv, PM_KEPT)) == 3
    assert pm_pids(srv) == [pm] and not gone(pm)
    assert set(apps_of(pm, "static.fcgi")) == pool
    again = fetch(srv, "/dyn/app.fcgi?pid", 15)
    assert again.status == 200 and again.pid == dyn.pid, (dyn, again)
    assert log_lines(srv, "FCGIX00543")       # the PM says it was kept


def graceful_during_request(srv, extra_conf):
    """A graceful restart into @extra_conf while a pool process serves a
    1.5 s request; returns (the PM before, its pool's pids) once that
    request has come back 200 from the old pool."""
    pm = current_pm(srv)
    old = pool_pids(pm)
    got = []
    t = slow_request(srv, "/static.fcgi?sleep=1500&pid", got)
    time.sleep(0.3)
    srv.extra_conf = extra_conf
    srv.write_conf()
    os.kill(srv.pid, signal.SIGUSR1)
    t.join(30)
    assert got and got[0].status == 200 and got[0].pid in old, got
    return pm, old


def test_changed_definition_replaces_processes_after_their_requests(httpd):
    """-processes 2 -> 3: the PM takes the new pool (FCGIX00062) and
    starts 3 new processes; a request in flight on the old pool
    completes; then the old processes are gone, and the PM is the same
    (a change of anything but FastCgiServer pools, a new PM: see
    test_new_definitions_after_a_kept_restart)."""
    srv = static_and_dynamic(httpd, 2)
    assert "-processes 2" in srv.extra_conf
    pm, old = graceful_during_request(
        srv, srv.extra_conf.replace("-processes 2", "-processes 3"))
    assert conftest.wait_for(lambda: log_lines(srv, "FCGIX00062"), 15)
    assert conftest.wait_for(lambda: all(gone(p) for p in old), 15), \
        processes_running(str(srv.docroot))
    new = pool_pids(pm, 3)
    assert new and not new & old
    assert current_pm(srv) == pm and pm_pids(srv) == [pm]
    assert not log_lines(srv, "FCGIX00049")


def test_removed_pool_is_drained(httpd):
    srv = static_and_dynamic(httpd, 2)
    pm, old = graceful_during_request(srv, "\n".join(
        line for line in srv.extra_conf.splitlines()
        if not line.startswith("FastCgiServer")))
    assert conftest.wait_for(lambda: all(gone(p) for p in old), 15), \
        processes_running(str(srv.docroot))
    assert current_pm(srv) == pm
    assert fetch(srv, "/dyn/app.fcgi", 15).status == 200
    # no handler any more: the program is sent as a file
    assert fetch(srv, "/static.fcgi?pid", 15).body.startswith(b"\x7fELF")


def test_hard_restart_starts_a_new_pm(httpd):
    """apache2 -k restart (SIGHUP) keeps nothing: a new PM, new pool
    processes, the old ones gone."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    old = pool_pids(pm)
    pms = len(pm_pids(srv))
    os.kill(srv.pid, signal.SIGHUP)
    assert conftest.wait_for(lambda: len(pm_pids(srv)) > pms, 15)
    serving(srv)
    new_pm = current_pm(srv)
    assert new_pm != pm and not pool_pids(new_pm) & old
    assert conftest.wait_for(lambda: gone(pm) and all(gone(p) for p in old),
                             15)
    assert not log_lines(srv, PM_KEPT)


def test_error_log_moved_by_logrotate_gets_no_more_pm_lines(httpd):
    """logrotate renames the error log, then restarts httpd gracefully:
    the kept PM's lines (here an app's raw stderr, FCGIX00070) go to the
    new file, not to the renamed one."""
    srv = static_and_dynamic(httpd, 2)
    current_pm(srv)
    rotated = srv.error_log.with_name("error_log.1")
    os.rename(srv.error_log, rotated)
    os.kill(srv.pid, signal.SIGUSR1)
    assert conftest.wait_for(lambda: PM_KEPT in conftest.read_text(
        srv.error_log), 15), conftest.read_text(rotated)[-2000:]
    serving(srv)
    assert fetch(srv, "/static.fcgi?quit", 15).status == 200
    quit_line = "quitting as asked"
    assert conftest.wait_for(lambda: quit_line in conftest.read_text(
        srv.error_log), 10), conftest.read_text(srv.error_log)[-3000:]
    assert quit_line not in conftest.read_text(rotated)
    # the PM's own line about being kept came after the hand-over too
    assert "FCGIX00543" in conftest.read_text(srv.error_log)


def seqpacket_holders():
    """{inode: set of pids} of every Unix SOCK_SEQPACKET socket (ss)."""
    out = subprocess.run(["ss", "-x", "-a", "-p", "-n"], capture_output=True,
                         text=True, timeout=10).stdout
    holders = {}
    for line in out.splitlines():
        if not line.startswith("u_seq"):
            continue
        fields = line.split()
        inode = fields[5] if len(fields) > 5 else "?"
        holders.setdefault(inode, set()).update(
            int(p) for p in re.findall(r"pid=(\d+)", line))
    return holders


def test_only_httpds_parent_and_the_pm_hold_their_socket_pair(httpd):
    """The pair on which root says HOLD and KEEP: httpd's children (the
    User's) and the app processes hold no end of it, also after a kept
    restart."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    pool_pids(pm)
    graceful(srv)
    serving(srv)
    assert fetch(srv, "/dyn/app.fcgi", 15).status == 200
    ours = {srv.pid, pm}
    pairs = {inode: pids for inode, pids in seqpacket_holders().items()
             if pids & ours}
    assert pairs, seqpacket_holders()
    others = {p for pids in pairs.values() for p in pids} - ours
    assert not others, ("held by", others, [(p, conftest.read_text(
        "/proc/%d/cmdline" % p, 200)) for p in others])


def test_pm_held_by_a_configuration_without_the_module_drains(httpd):
    """A graceful restart into a configuration that no longer loads the
    module: nobody keeps the held PM, so it drains by itself once its
    hold (FCGIX_PM_HOLD_MS, 30 s) has run out."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    old = pool_pids(pm)
    srv.load_module = False
    srv.extra_conf = ""
    srv.write_conf()
    os.kill(srv.pid, signal.SIGUSR1)
    assert conftest.wait_for(lambda: log_lines(srv, "FCGIX00542"), 10)
    t0 = time.monotonic()
    assert conftest.wait_for(lambda: gone(pm) and all(gone(p) for p in old),
                             45, 0.2), processes_running(str(srv.docroot))
    took = time.monotonic() - t0
    print("held PM gone %.1f s after the restart" % took)
    assert log_lines(srv, "FCGIX00545")
    assert srv.proc.poll() is None
    assert srv.get("/").status in (200, 403, 404)


def kept_once(httpd):
    """httpd after one kept restart; returns it, its PM and the pids of
    its pool and of a dynamic app's process."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    procs = pool_pids(pm) | {fetch(srv, "/dyn/app.fcgi?pid", 15).pid}
    graceful(srv)
    serving(srv)
    return srv, pm, procs


def test_stop_after_a_kept_restart_ends_everything(httpd):
    srv, pm, procs = kept_once(httpd)
    srv.stop()
    assert conftest.wait_for(
        lambda: gone(pm) and all(gone(p) for p in procs), 10)


def test_kill_9_after_a_kept_restart_leaves_no_orphan(httpd):
    srv, pm, procs = kept_once(httpd)
    os.kill(srv.pid, signal.SIGKILL)
    assert conftest.wait_for(
        lambda: gone(pm) and all(gone(p) for p in procs), 5, 0.05), [
        p for p in [pm, *procs] if not gone(p)]


def test_pm_that_dies_after_a_kept_restart_is_restarted(httpd):
    """The new generation watches the kept PM: when it dies, a new one
    is started and serves."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    pool_pids(pm)
    graceful(srv)
    serving(srv)
    os.kill(pm, signal.SIGKILL)
    assert conftest.wait_for(lambda: gone(pm), 5)
    new_pm = conftest.wait_for(
        lambda: len(pm_pids(srv)) > 1 and current_pm(srv), 10)
    assert new_pm and new_pm != pm, pm_pids(srv)
    assert log_lines(srv, "FCGIX00077")
    serving(srv)
    assert pool_pids(new_pm)
    assert set(children_of(new_pm))


def test_new_definitions_after_a_kept_restart(httpd):
    """Kept once, then changed: the second restart replaces the kept PM
    (the comparison is against what it was started with)."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    pool_pids(pm)
    graceful(srv)
    pms = len(pm_pids(srv))
    graceful_new_pm(srv)
    assert conftest.wait_for(lambda: len(pm_pids(srv)) > pms, 15)
    serving(srv)
    assert conftest.wait_for(lambda: gone(pm), 15)
    new_pm = current_pm(srv)
    graceful(srv)
    serving(srv)
    assert pm_pids(srv)[-1] == new_pm and not gone(new_pm)
    assert len(log_lines(srv, PM_KEPT)) == 2


def graceful_into(srv, extra_conf):
    srv.extra_conf = extra_conf
    srv.write_conf()
    graceful(srv)
    serving(srv)


def process_env(srv, name):
    got = fetch(srv, "/dyn/app.fcgi?penv=%s" % name, 15)
    return got.body.decode().strip() if got.status == 200 else None


def test_changed_settings_of_dynamic_apps_keep_the_pm(httpd):
    """A graceful restart that changes only settings the PM takes
    (Timeout, FastCgiConfig's limits and options): the PM is kept
    (FCGIX00062, FCGIX00554) and the FastCgiServer pool keeps its
    processes. New limits alone keep the dynamic app's process; a new
    FastCgiConfig option (-initial-env) replaces it, once idle, by one
    with the new environment. A limit past the running PM's board
    (-maxProcesses up) needs a new PM (FCGIX00049)."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    pool = pool_pids(pm)
    dyn = fetch(srv, "/dyn/app.fcgi?pid", 15)
    assert dyn.status == 200 and dyn.pid
    base = "FastCgiConfig -minProcesses 0"
    assert base in srv.extra_conf

    srv.timeout += 5
    graceful_into(srv, srv.extra_conf.replace(
        base, base + " -maxProcesses 20 -startTimeout 9 -killInterval 900"))
    assert conftest.wait_for(lambda: log_lines(srv, "FCGIX00554"), 15)
    assert "keep their processes" in log_lines(srv, "FCGIX00554")[-1]
    assert fetch(srv, "/dyn/app.fcgi?pid", 15).pid == dyn.pid

    graceful_into(srv, srv.extra_conf.replace(
        "-killInterval 900", "-killInterval 900 -initial-env ROUND=2"))
    assert conftest.wait_for(lambda: process_env(srv, "ROUND") == "2", 15), \
        process_env(srv, "ROUND")
    assert fetch(srv, "/dyn/app.fcgi?pid", 15).pid != dyn.pid
    assert conftest.wait_for(lambda: gone(dyn.pid), 15)
    assert log_lines(srv, "its definition changed at a graceful restart")
    assert pm_pids(srv) == [pm] and set(apps_of(pm, "static.fcgi")) == pool
    assert len(log_lines(srv, "FCGIX00062")) == 2
    assert not log_lines(srv, "FCGIX00049")

    graceful_into(srv, srv.extra_conf.replace(
        "-maxProcesses 20", "-maxProcesses 200"))
    assert "need room for 200 classes" in log_lines(srv, "FCGIX00049")[-1]
    assert conftest.wait_for(lambda: gone(pm), 15)
    assert process_env(srv, "ROUND") == "2"


def test_new_ipc_directory_needs_a_new_pm_and_says_why(httpd):
    """A change the running PM cannot take (its sockets' directory): a
    new PM, and FCGIX00049 says what kind of change it was."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    other = srv.root / "run" / "fastcgi-other"
    graceful_into(srv, srv.extra_conf + '\nFastCgiIpcDir "%s"' % other)
    assert "the IPC directory" in log_lines(srv, "FCGIX00049")[-1]
    assert conftest.wait_for(lambda: gone(pm), 15)
    assert fetch(srv, "/dyn/app.fcgi?pid", 15).status == 200


def test_a_dynamic_app_started_before_is_served_by_the_same_process(httpd):
    """Warm state survives: a dynamic app's process counts its requests,
    and the count goes on after a kept restart."""
    srv = static_and_dynamic(httpd, 2)
    current_pm(srv)
    first = fetch(srv, "/dyn/app.fcgi?pid", 15)
    graceful(srv)
    serving(srv)
    after = [fetch(srv, "/dyn/app.fcgi?pid", 15) for _ in range(5)]
    assert all(r.status == 200 for r in after)
    assert {r.pid for r in after} == {first.pid}


def test_kept_pm_keeps_its_socket_names(httpd):
    """A kept PM keeps its socket names (with the generation that started
    it); the IPC directory holds no name of the new generation."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    pool_pids(pm)
    before = sorted(p.name for p in (srv.root / "run" / "fastcgi").iterdir())
    graceful(srv)
    serving(srv)
    after = sorted(p.name for p in (srv.root / "run" / "fastcgi").iterdir())
    assert after == before


def test_two_pools_keep_their_processes_across_restarts(httpd):
    """Two pools (defined in the reverse order of their paths): each
    keeps its board class and processes across restarts, whatever order
    the configuration's hash gives them."""
    srv = httpd()
    a = install(conftest.RESPONDER, srv.docroot / "b.fcgi")
    b = install(conftest.RESPONDER, srv.docroot / "a.fcgi")
    srv.extra_conf = "\n".join(["FastCgiServer %s -processes 1" % a,
                                "FastCgiServer %s -processes 1" % b])
    start(srv)
    before = {n: fetch(srv, "/%s?pid" % n, 15).pid
              for n in ("a.fcgi", "b.fcgi")}
    for _ in range(3):
        graceful(srv)
        for n, pid in before.items():
            r = fetch(srv, "/%s?pid" % n, 15)
            assert r.status == 200 and r.pid == pid, (n, r, before)


def test_prefork_kept_restarts_under_load_lose_nothing(httpd):
    """prefork signals its children through the process group; the PM
    has its own group. Three kept restarts under load: no request fails,
    same PM and pool."""
    srv, dyn = dynamic_server(httpd)
    install(conftest.RESPONDER, dyn / "app.fcgi")
    static = install(conftest.RESPONDER, srv.docroot / "static.fcgi")
    srv.extra_conf += "\nFastCgiServer %s -processes 2" % static
    srv.mpm = "prefork"
    start(srv)
    pm = current_pm(srv)
    pool = pool_pids(pm)
    threads, results = load_clients(
        srv, ["/static.fcgi?pid", "/dyn/app.fcgi?sleep=200&pid"], 6, 5.0)
    try:
        for _ in range(3):
            time.sleep(1.0)
            os.kill(srv.pid, signal.SIGUSR1)
    finally:
        for t in threads:
            t.join(40)
    failed = [r for _, _, _, r in results if r.status != 200]
    print("prefork: %d requests, %d failed, across 3 kept restarts" % (
        len(results), len(failed)))
    assert results and not failed, failed[:5]
    assert conftest.wait_for(lambda: len(log_lines(srv, PM_KEPT)) == 3, 10)
    assert pm_pids(srv) == [pm] and set(apps_of(pm, "static.fcgi")) == pool


def parent_fds(srv):
    return sorted(os.readlink("/proc/%d/fd/%s" % (srv.pid, fd))
                  for fd in os.listdir("/proc/%d/fd" % srv.pid))


def parent_maps(srv):
    """httpd's parent's shared mappings (a board is one; the heap, which
    grows as it likes, is private)."""
    with open("/proc/%d/maps" % srv.pid) as f:
        return sum(1 for line in f if line.split()[1].endswith("s"))


def test_restarts_leave_httpds_parent_as_it_was(httpd):
    """Kept restarts and restarts with new definitions: httpd's parent
    holds the same descriptors (kinds and count) afterwards, and no more
    anonymous shared mappings (a replaced PM's board is let go)."""
    srv = static_and_dynamic(httpd, 2)
    current_pm(srv)
    graceful(srv)              # the first restart settles httpd's own
    serving(srv)
    fds, maps = parent_fds(srv), parent_maps(srv)
    for i in range(8):
        if i % 2:
            pms = len(pm_pids(srv))
            graceful_new_pm(srv)
            assert conftest.wait_for(lambda: len(pm_pids(srv)) > pms, 15)
        else:
            graceful(srv)
        serving(srv)
    assert len(log_lines(srv, PM_KEPT)) == 5
    kinds = [re.sub(r"\[\d+\]", "[]", x) for x in fds]
    after = [re.sub(r"\[\d+\]", "[]", x) for x in parent_fds(srv)]
    assert after == kinds, (fds, parent_fds(srv))
    assert parent_maps(srv) <= maps, (maps, parent_maps(srv))


def test_kept_pm_takes_the_new_log_level(httpd):
    """The kept PM logs at the new configuration's level for this module:
    with "LogLevel fastcgi_x:warn" added, a process that exits is no
    longer logged at info (FCGIX00508, "exited with status 0"), while its
    stderr line (warn, FCGIX00070) still is. The same exit was logged
    before the restart."""
    srv = static_and_dynamic(httpd, 2)
    pool_pids(current_pm(srv))
    assert fetch(srv, "/static.fcgi?quit", 15).status == 200
    assert conftest.wait_for(lambda: log_lines(srv, "FCGIX00508"), 10)
    serving(srv)
    pm = current_pm(srv)
    workers = set(children_of(srv.pid)) - {pm}
    srv.extra_conf += "\nLogLevel info fastcgi_x:warn"
    srv.write_conf()
    os.kill(srv.pid, signal.SIGUSR1)   # kept: its info line is not shown
    assert conftest.wait_for(
        lambda: set(children_of(srv.pid)) - {pm} - workers, 15)
    serving(srv)
    assert pm_pids(srv) == [pm] and not gone(pm)
    exits = len(log_lines(srv, "FCGIX00508"))
    quits = len(log_lines(srv, "quitting as asked"))
    assert fetch(srv, "/static.fcgi?quit", 15).status == 200
    assert conftest.wait_for(
        lambda: len(log_lines(srv, "quitting as asked")) > quits, 10)
    time.sleep(0.5)
    assert len(log_lines(srv, "FCGIX00508")) == exits



def test_pm_that_does_not_answer_keep_is_replaced(httpd):
    """A PM that cannot answer KEEP (stopped here with SIGSTOP) is not
    taken for kept: after a second httpd's parent logs why (FCGIX00052),
    starts a new PM that serves, and the old one, once it runs again,
    drains."""
    srv = static_and_dynamic(httpd, 2)
    pm = current_pm(srv)
    old = pool_pids(pm)
    os.kill(pm, signal.SIGSTOP)
    try:
        os.kill(srv.pid, signal.SIGUSR1)
        assert conftest.wait_for(lambda: len(pm_pids(srv)) > 1, 15), \
            log_lines(srv, "FCGIX0005")
    finally:
        os.kill(pm, signal.SIGCONT)
    assert log_lines(srv, "FCGIX00052", "did not answer KEEP")
    assert not log_lines(srv, PM_KEPT)
    serving(srv)
    assert conftest.wait_for(lambda: gone(pm) and all(gone(p) for p in old),
                             15), processes_running(str(srv.docroot))


def test_replaced_module_file_is_not_kept(httpd, workdir):
    """An upgrade replaces the module's file between two generations. The
    new code must not read what the old one kept in httpd's process pool
    (its layout may differ): the PM the old file started drains at once
    (FCGIX00061), a new PM serves, nothing crashes. The next graceful
    restart with the file unchanged keeps the new PM."""
    module = workdir / "mod_fastcgi_x.so"
    shutil.copy(conftest.MODULE, module)
    srv, dyn = dynamic_server(httpd)
    srv.module = module
    install(conftest.RESPONDER, dyn / "app.fcgi")
    static = install(conftest.RESPONDER, srv.docroot / "static.fcgi")
    srv.extra_conf += "\nFastCgiServer %s -processes 2" % static
    start(srv)
    pm = current_pm(srv)
    old = pool_pids(pm)
    graceful(srv)                       # the same file: kept
    serving(srv)
    assert pm_pids(srv) == [pm] and set(apps_of(pm, "static.fcgi")) == old
    # The upgrade: a new file (another inode) in the old one's place.
    fresh = workdir / "mod_fastcgi_x.so.new"
    shutil.copy(conftest.MODULE, fresh)
    os.replace(fresh, module)
    graceful(srv)
    serving(srv)
    assert log_lines(srv, "FCGIX00061"), log_lines(srv, "FCGIX")
    assert conftest.wait_for(lambda: gone(pm) and all(gone(p) for p in old),
                             15), processes_running(str(srv.docroot))
    new_pm = current_pm(srv)
    assert new_pm != pm
    assert fetch(srv, "/dyn/app.fcgi?pid", 15).status == 200
    kept = len(log_lines(srv, PM_KEPT))
    graceful(srv)                       # unchanged again: kept
    serving(srv)
    assert len(log_lines(srv, PM_KEPT)) == kept + 1
    assert current_pm(srv) == new_pm
    assert not srv.crash_lines()



# --- Per pool: only what changed is replaced ---------------------------------

POOLS_RECONCILED = "FCGIX00062"


def two_pools(httpd, a_opts="-processes 1", b_opts="-processes 2"):
    """a.fcgi and b.fcgi, each a FastCgiServer pool of the responder, and
    a dynamic app; returns the server and its pool lines by name."""
    srv, dyn = dynamic_server(httpd)
    install(conftest.RESPONDER, dyn / "app.fcgi")
    lines = {}
    for name, opts in (("a.fcgi", a_opts), ("b.fcgi", b_opts)):
        app = install(conftest.RESPONDER, srv.docroot / name)
        lines[name] = "FastCgiServer %s %s" % (app, opts)
    srv.base_conf = srv.extra_conf
    srv.extra_conf = "\n".join([srv.base_conf] + list(lines.values()))
    start(srv)
    return srv, lines


def set_pools(srv, lines):
    srv.extra_conf = "\n".join([srv.base_conf] + list(lines.values()))
    srv.write_conf()


def pids_of(pm, name, n):
    return conftest.wait_for(
        lambda: (lambda a: set(a) if len(a) == n else None)(
            apps_of(pm, name)), 15)


def reconciled(srv):
    """A graceful restart of srv's written configuration that the running
    PM takes (FCGIX00062)."""
    before = len(log_lines(srv, POOLS_RECONCILED))
    os.kill(srv.pid, signal.SIGUSR1)
    assert conftest.wait_for(
        lambda: len(log_lines(srv, POOLS_RECONCILED)) > before, 15), \
        log_lines(srv, "FCGIX")


def test_changed_pool_is_replaced_and_the_other_kept(httpd):
    """b.fcgi -processes 2 -> 3 while a 1.5 s request runs on b: the PM
    and a.fcgi's process stay (same pids); b gets 3 new processes; the
    request in flight finishes 200 on an old b process; then the old b
    processes stop, once idle."""
    srv, lines = two_pools(httpd)
    pm = current_pm(srv)
    a = pids_of(pm, "a.fcgi", 1)
    b = pids_of(pm, "b.fcgi", 2)
    dyn = fetch(srv, "/dyn/app.fcgi?pid", 15)
    got = []
    t = slow_request(srv, "/b.fcgi?sleep=1500&pid", got)
    time.sleep(0.3)
    lines["b.fcgi"] = lines["b.fcgi"].replace("-processes 2", "-processes 3")
    set_pools(srv, lines)
    reconciled(srv)
    t.join(30)
    assert got and got[0].status == 200 and got[0].pid in b, got
    assert current_pm(srv) == pm and pm_pids(srv) == [pm]
    assert set(apps_of(pm, "a.fcgi")) == a
    assert conftest.wait_for(lambda: all(gone(p) for p in b), 15), b
    new_b = pids_of(pm, "b.fcgi", 3)
    assert new_b and not new_b & b
    for _ in range(6):
        r = fetch(srv, "/b.fcgi?pid", 15)
        assert r.status == 200 and r.pid in new_b, r
    r = fetch(srv, "/a.fcgi?pid", 15)
    assert r.status == 200 and r.pid in a, r
    again = fetch(srv, "/dyn/app.fcgi?pid", 15)
    assert again.status == 200 and again.pid == dyn.pid, (dyn, again)
    assert log_lines(srv, "FCGIX00548") and log_lines(srv, "FCGIX00550")
    assert conftest.wait_for(lambda: log_lines(srv, "FCGIX00547"), 15)
    assert not log_lines(srv, "FCGIX00049")


def test_removed_pool_drains_and_the_other_is_kept(httpd):
    srv, lines = two_pools(httpd)
    pm = current_pm(srv)
    a = pids_of(pm, "a.fcgi", 1)
    b = pids_of(pm, "b.fcgi", 2)
    del lines["b.fcgi"]
    set_pools(srv, lines)
    reconciled(srv)
    assert conftest.wait_for(lambda: all(gone(p) for p in b), 15), b
    assert current_pm(srv) == pm and set(apps_of(pm, "a.fcgi")) == a
    r = fetch(srv, "/a.fcgi?pid", 15)
    assert r.status == 200 and r.pid in a, r
    # no handler any more: the program is sent as a file
    assert fetch(srv, "/b.fcgi?pid", 15).body.startswith(b"\x7fELF")


def test_added_pool_starts_and_the_others_are_kept(httpd):
    srv, lines = two_pools(httpd)
    pm = current_pm(srv)
    a = pids_of(pm, "a.fcgi", 1)
    b = pids_of(pm, "b.fcgi", 2)
    c = install(conftest.RESPONDER, srv.docroot / "c.fcgi")
    lines["c.fcgi"] = "FastCgiServer %s -processes 2" % c
    set_pools(srv, lines)
    reconciled(srv)
    assert pids_of(pm, "c.fcgi", 2)
    r = fetch(srv, "/c.fcgi?pid", 15)
    assert r.status == 200, r
    assert set(apps_of(pm, "a.fcgi")) == a and set(apps_of(pm, "b.fcgi")) == b
    assert current_pm(srv) == pm


def test_changes_in_a_row_reuse_the_room_they_free(httpd):
    """Six changes of b.fcgi in a row, each once the last one's old
    processes are gone: the board's spare room is given back each time,
    so the same PM takes every one, and a.fcgi keeps its process."""
    srv, lines = two_pools(httpd)
    pm = current_pm(srv)
    a = pids_of(pm, "a.fcgi", 1)
    b = pids_of(pm, "b.fcgi", 2)
    base = lines["b.fcgi"]
    for i in range(6):
        lines["b.fcgi"] = base + " -initial-env ROUND=%d" % i
        set_pools(srv, lines)
        reconciled(srv)
        assert conftest.wait_for(lambda: all(gone(p) for p in b), 15), b
        b = pids_of(pm, "b.fcgi", 2)
        assert b
        r = fetch(srv, "/b.fcgi?penv=ROUND", 15)
        assert r.status == 200 and r.body == b"%d\n" % i, r
    assert current_pm(srv) == pm and set(apps_of(pm, "a.fcgi")) == a
    graceful(srv)        # unchanged now: plain KEEP, b keeps its class
    for _ in range(4):
        r = fetch(srv, "/b.fcgi?pid", 15)
        assert r.status == 200 and r.pid in b, (r, b)


def test_no_room_for_the_new_pools_starts_a_new_pm(httpd):
    """One pool, then eight more: the board has room for twice the pools
    it was made for, and a few; past that a new PM starts and the old one
    drains, as before per-pool keeping (FCGIX00549, FCGIX00052)."""
    srv, lines = two_pools(httpd)
    pm = current_pm(srv)
    for k in range(8):
        app = install(conftest.RESPONDER, srv.docroot / ("n%d.fcgi" % k))
        lines["n%d" % k] = "FastCgiServer %s -processes 1" % app
    set_pools(srv, lines)
    os.kill(srv.pid, signal.SIGUSR1)
    assert conftest.wait_for(lambda: len(pm_pids(srv)) > 1, 15), \
        log_lines(srv, "FCGIX")
    assert log_lines(srv, "FCGIX00549") and log_lines(srv, "FCGIX00052")
    assert conftest.wait_for(lambda: gone(pm), 20)
    for k in range(8):
        r = fetch(srv, "/n%d.fcgi?pid" % k, 15)
        assert r.status == 200, r


def test_pool_changes_under_load_lose_nothing(httpd):
    """Three graceful restarts that change b.fcgi while clients keep
    asking a, b and the dynamic app: no request fails, and a.fcgi is
    served by the same process throughout."""
    srv, lines = two_pools(httpd)
    pm = current_pm(srv)
    a = pids_of(pm, "a.fcgi", 1)
    urls = ["/a.fcgi?pid", "/b.fcgi?pid", "/dyn/app.fcgi?pid"]
    threads, results = load_clients(srv, urls, 4, 6.0)
    base = lines["b.fcgi"]
    for i in range(3):
        time.sleep(1.0)
        lines["b.fcgi"] = base + " -initial-env ROUND=%d" % i
        set_pools(srv, lines)
        reconciled(srv)
    for t in threads:
        t.join(40)
    failed = [(p, r) for _, _, p, r in results if r.status != 200]
    assert results and not failed, failed[:5]
    assert all(r.pid in a for _, _, p, r in results if p.startswith("/a."))
    assert current_pm(srv) == pm


def test_pm_that_dies_after_pools_changed_is_restarted(httpd):
    """After a restart that changed b.fcgi (its class has another index
    now), the PM is killed: the new PM lays the pools out afresh, and
    requests still find each pool (by its path when the index is not
    its own), served by the right program."""
    srv, lines = two_pools(httpd, a_opts="-processes 1 -initial-env WHO=a",
                           b_opts="-processes 1 -initial-env WHO=b")
    pm = current_pm(srv)
    lines["b.fcgi"] += " -initial-env ROUND=1"
    set_pools(srv, lines)
    reconciled(srv)
    assert conftest.wait_for(
        lambda: fetch(srv, "/b.fcgi?penv=ROUND", 15).body == b"1\n", 15)
    os.kill(pm, signal.SIGKILL)
    assert conftest.wait_for(lambda: gone(pm), 5)
    new_pm = conftest.wait_for(
        lambda: len(pm_pids(srv)) > 1 and current_pm(srv), 10)
    assert new_pm and new_pm != pm, pm_pids(srv)
    for name in ("a", "b"):
        r = None
        for _ in range(50):
            r = fetch(srv, "/%s.fcgi?penv=WHO" % name, 15)
            if r.status == 200:
                break
            time.sleep(0.2)
        assert r.status == 200 and r.body == name.encode() + b"\n", (name, r)
    r = fetch(srv, "/b.fcgi?penv=ROUND", 15)
    assert r.status == 200 and r.body == b"1\n", r


# --- Virtual hosts added, removed or changed ----------------------------------

def host_get(srv, host, path):
    """GET path on virtual host `host` (its Host header); a Result."""
    t0 = time.monotonic()
    try:
        r = srv.get(path, headers={"Host": host}, timeout=15)
    except (OSError, http.client.HTTPException) as e:
        return Result(seconds=time.monotonic() - t0, error=repr(e))
    return Result(r.status, r.headers, r.body, time.monotonic() - t0)


def host_pid(srv, host, path):
    r = host_get(srv, host, path + "?pid")
    assert r.status == 200 and r.pid, (host, path, r, log_lines(srv, ":error]"))
    return r.pid


def host_wrapper(root):
    """root/wrapper.sh, which runs the responder: a host's own
    FcgidWrapper command line, as shared hosts give each site."""
    path = root / "wrapper.sh"
    if not path.exists():
        path.write_text("#!/bin/sh\nexec %s\n" % conftest.RESPONDER)
        path.chmod(0o755)
    return path


def vhost_block(srv, host, extra="", wrapper=False):
    """<VirtualHost> `host` on the test port, its own DocumentRoot with
    fcgi/ (fcgid-script; through its own FcgidWrapper with `wrapper`) and
    dyn/ (fastcgi-script) apps, made on first use; `extra` lines inside
    it."""
    root = srv.root / "sites" / host
    for sub, handler in (("fcgi", "fcgid-script"), ("dyn", "fastcgi-script")):
        if not (root / sub / "app.fcgi").exists():
            (root / sub).mkdir(parents=True, mode=0o755, exist_ok=True)
            install(conftest.RESPONDER, root / sub / "app.fcgi")
    dirs = []
    for sub, handler in (("fcgi", "fcgid-script"), ("dyn", "fastcgi-script")):
        dirs += ['    <Directory "%s">' % (root / sub),
                 "        Require all granted",
                 "        Options +ExecCGI",
                 "        AddHandler %s .fcgi" % handler]
        if wrapper and sub == "fcgi":
            dirs.append("        FcgidWrapper %s .fcgi" % host_wrapper(root))
        dirs.append("    </Directory>")
    return "\n".join(["<VirtualHost 127.0.0.1:%d>" % srv.port,
                      "    ServerName %s" % host,
                      '    DocumentRoot "%s"' % root] + dirs
                     + ([extra] if extra else []) + ["</VirtualHost>"])


def set_vhosts(srv, hosts, wrapper=False):
    """`hosts`: [(name, extra lines)], in this order, after the main
    server's lines (srv.base_conf)."""
    srv.extra_conf = "\n".join(
        [srv.base_conf] + [vhost_block(srv, h, x, wrapper) for h, x in hosts])
    srv.write_conf()


def vhosts_server(httpd, hosts, main_extra=lambda srv: [], wrapper=False):
    """Both vocabularies: a FastCgiServer pool (static.fcgi, reached on
    every host as /pool.fcgi), and per virtual host an fcgid-script app
    and a fastcgi-script dynamic app, keyed by host (FastCgiMaxHostProcesses
    keys the dynamic classes by host, as fcgid-script ones always are)."""
    srv = httpd(records=("fastcgi_x", "fcgid"))
    pool = install(conftest.RESPONDER, srv.docroot / "static.fcgi")
    srv.base_conf = "\n".join([
        "FastCgiServer %s -processes 1" % pool,
        'Alias /pool.fcgi "%s"' % pool,
        "FastCgiConfig -minProcesses 0",
        "FastCgiMaxHostProcesses 4",
        "FcgidIdleTimeout 300"] + main_extra(srv))
    set_vhosts(srv, hosts, wrapper)
    start(srv)
    return srv


def serving_vhosts(srv):
    """The new generation answers (on the first virtual host)."""
    srv_ok = conftest.wait_for(
        lambda: fetch(srv, "/pool.fcgi?pid", 10).status == 200, 15, 0.2)
    assert srv_ok, log_lines(srv, ":error]")


def pids_by_host(srv, hosts):
    """{(host, app): pid} of the pool, the fcgid app and the dynamic app
    as each host reaches them."""
    return {(h, p): host_pid(srv, h, p) for h in hosts
            for p in ("/pool.fcgi", "/fcgi/app.fcgi", "/dyn/app.fcgi")}


def test_virtual_hosts_added_and_removed_keep_every_process(httpd):
    """A host added before the others, then one removed from the middle:
    the PM takes both restarts (FCGIX00062, no new PM), and every other
    host's fcgid and dynamic apps and the pool are served by the same
    processes throughout; the new host's apps start; the removed host's
    processes stay until idle (FcgidIdleTimeout), as any idle process."""
    srv = vhosts_server(httpd, [("b.test", ""), ("c.test", "")])
    pm = current_pm(srv)
    before = pids_by_host(srv, ["b.test", "c.test"])
    assert len(set(before.values())) == 5, before   # one pool process

    set_vhosts(srv, [("a.test", ""), ("b.test", ""), ("c.test", "")])
    reconciled(srv)
    serving_pool = pids_by_host(srv, ["b.test", "c.test"])
    assert serving_pool == before, (before, serving_pool)
    fresh = pids_by_host(srv, ["a.test"])
    assert (set(fresh.values()) - {before[("b.test", "/pool.fcgi")]}) \
        .isdisjoint(before.values()), (before, fresh)

    set_vhosts(srv, [("a.test", ""), ("c.test", "")])
    reconciled(srv)
    after = pids_by_host(srv, ["a.test", "c.test"])
    assert {k: v for k, v in after.items() if k[0] == "c.test"} == \
        {k: v for k, v in before.items() if k[0] == "c.test"}
    assert {k: v for k, v in after.items() if k[0] == "a.test"} == fresh
    assert current_pm(srv) == pm and pm_pids(srv) == [pm]
    assert not log_lines(srv, "FCGIX00049") and not log_lines(srv, "FCGIX00052")
    assert not srv.crash_lines()

    # nothing changed now: KEEP, every process the same
    kept = len(log_lines(srv, PM_KEPT))
    graceful(srv)
    serving_vhosts(srv)
    assert len(log_lines(srv, PM_KEPT)) == kept + 1
    assert pids_by_host(srv, ["a.test", "c.test"]) == after


def test_lower_fcgid_limits_and_timeout_keep_every_process(httpd):
    """mod_fcgid's server-wide limits lowered (FcgidMaxProcesses 40 -> 30,
    FcgidMaxProcessesPerUser set) and Timeout changed: the PM takes the
    new settings (FCGIX00554) and every host's fcgid and dynamic
    processes and the pool stay; raising FcgidMaxProcesses past the
    limit the PM started with needs a new PM."""
    limits = ["FcgidMaxProcesses 40"]
    srv = vhosts_server(httpd, [("b.test", ""), ("c.test", "")],
                        main_extra=lambda srv: limits)
    pm = current_pm(srv)
    before = pids_by_host(srv, ["b.test", "c.test"])
    base = srv.base_conf
    srv.base_conf = base.replace(
        "FcgidMaxProcesses 40",
        "FcgidMaxProcesses 30\nFcgidMaxProcessesPerUser 20")
    srv.timeout += 3
    set_vhosts(srv, [("b.test", ""), ("c.test", "")])
    reconciled(srv)
    serving_vhosts(srv)
    assert conftest.wait_for(lambda: log_lines(srv, "FCGIX00554"), 15)
    assert "at most 30 processes" in log_lines(srv, "FCGIX00554")[-1]
    assert pids_by_host(srv, ["b.test", "c.test"]) == before
    assert current_pm(srv) == pm and pm_pids(srv) == [pm]
    assert not log_lines(srv, "FCGIX00049")

    srv.base_conf = base.replace("FcgidMaxProcesses 40",
                                 "FcgidMaxProcesses 50")
    set_vhosts(srv, [("b.test", ""), ("c.test", "")])
    graceful(srv)
    serving_vhosts(srv)
    assert log_lines(srv, "FCGIX00049")
    assert conftest.wait_for(lambda: gone(pm), 15)


def test_hosts_with_wrappers_of_their_own_added_and_removed(httpd):
    """Each host runs its fcgid apps through an FcgidWrapper of its own,
    as shared hosts do: a host added in front adds a command line before
    the others', one removed takes one away; the PM takes both restarts
    and the other hosts' wrapped processes stay."""
    srv = vhosts_server(httpd, [("b.test", ""), ("c.test", "")], wrapper=True)
    pm = current_pm(srv)
    before = {h: host_pid(srv, h, "/fcgi/app.fcgi") for h in ("b.test",
                                                               "c.test")}
    assert "wrapper" not in str(before)
    set_vhosts(srv, [("a.test", ""), ("b.test", ""), ("c.test", "")],
               wrapper=True)
    reconciled(srv)
    for h in ("b.test", "c.test"):
        assert host_pid(srv, h, "/fcgi/app.fcgi") == before[h], h
    fresh = host_pid(srv, "a.test", "/fcgi/app.fcgi")
    assert fresh not in before.values()
    set_vhosts(srv, [("a.test", ""), ("c.test", "")], wrapper=True)
    reconciled(srv)
    assert host_pid(srv, "c.test", "/fcgi/app.fcgi") == before["c.test"]
    assert host_pid(srv, "a.test", "/fcgi/app.fcgi") == fresh
    assert current_pm(srv) == pm and pm_pids(srv) == [pm]
    assert not log_lines(srv, "FCGIX00049") and not log_lines(srv, "FCGIX00052")


def test_changed_virtual_host_gets_new_processes_and_the_others_keep(httpd):
    """A host whose fcgid options change (FcgidInitialEnv) is a new host
    to the PM: its apps get new processes that see the new environment;
    the other host's keep theirs."""
    srv = vhosts_server(httpd, [("a.test", ""), ("b.test", "")])
    before = pids_by_host(srv, ["a.test", "b.test"])
    set_vhosts(srv, [("a.test", ""),
                     ("b.test", "    FcgidInitialEnv ROUND 2")])
    reconciled(srv)
    after = pids_by_host(srv, ["a.test", "b.test"])
    for app in ("/pool.fcgi", "/fcgi/app.fcgi", "/dyn/app.fcgi"):
        assert after[("a.test", app)] == before[("a.test", app)], app
    assert after[("b.test", "/fcgi/app.fcgi")] != \
        before[("b.test", "/fcgi/app.fcgi")]
    assert after[("b.test", "/dyn/app.fcgi")] != \
        before[("b.test", "/dyn/app.fcgi")]
    r = host_get(srv, "b.test", "/fcgi/app.fcgi?penv=ROUND")
    assert r.status == 200 and r.body == b"2\n", r
    r = host_get(srv, "a.test", "/fcgi/app.fcgi?penv=ROUND")
    assert r.status == 200 and r.body == b"(unset)\n", r
    assert not log_lines(srv, "FCGIX00049")


def test_fcgid_cmd_options_in_any_order_keep_the_pm(httpd):
    """FcgidCmdOptions entries are kept in a hash whose order changes
    from one configuration generation to the next; an unchanged
    configuration must still be the same to the PM (KEEP): its fcgid
    processes survive every restart."""
    def cmd_options(srv):
        paths = [install(conftest.RESPONDER, srv.docroot / ("x%d.fcgi" % i))
                 for i in range(7)]
        return ["FcgidCmdOptions %s MaxProcesses %d" % (p, 2 + i)
                for i, p in enumerate(paths)]

    srv = vhosts_server(httpd, [("a.test", "")], cmd_options)
    before = host_pid(srv, "a.test", "/fcgi/app.fcgi")
    for _ in range(5):
        graceful(srv)
        serving_vhosts(srv)
        assert host_pid(srv, "a.test", "/fcgi/app.fcgi") == before
    assert len(log_lines(srv, PM_KEPT)) == 5
    assert not log_lines(srv, POOLS_RECONCILED)
    assert not log_lines(srv, "FCGIX00049")
