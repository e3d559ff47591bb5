"""Per-tenant limits (issue 15, docs/design/fcgid.md section 4), ours only.

- FcgidMaxProcessesPerVhost: a flooding site gets 503s with Retry-After
  beyond its cap and twice as many waiting requests, so it holds a few of
  httpd's workers and another site keeps its latency. The flood is sized
  against the conftest server (event MPM, MaxRequestWorkers 32): more
  slow clients than workers, which without the cap starve the quiet host
  (checked too, so the test of the cap can fail).
- FastCgiMaxHostProcesses for fastcgi-script dynamic apps: a host's
  dynamic apps together never run more processes than the cap; the cap
  is per host, not one for all.
- FcgidMaxProcessesPerUser with two hosts of one suexec user: one process
  between them; the second host's request waits and is served.

The flooding clients and the process sampler run in processes of their
own: in this one their threads would take the GIL from the thread that
times the quiet host's requests.
"""

import concurrent.futures
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

import conftest
from helpers import (children_of, cmdline, current_pm, install, log_lines,
                     start, suexec_skip_reason, suexec_dir, system_user,
                     uid_of, MOD_SUEXEC)

# The conftest server has MaxRequestWorkers 32: a flood of more slow
# clients than that holds every worker without a cap.
FLOOD_CLIENTS = 40
FLOOD_SECONDS = 3.0
FLOOD_SLEEP_MS = 300
HOST_CAP = 2
# A flooding client that gets a 503 asks again after 50 ms (not after
# the Retry-After second): still some 650 requests a second. Asking again
# at once makes a loop of 3000 503s a second, which on a 2-CPU test
# machine takes the CPU from the quiet host (its p99 went from 1.2 to
# 7.8 ms): a test of the CPU, not of the workers the cap keeps free.
PAUSE_AFTER_503 = 0.05
QUIET_REQUESTS = 100
QUIET_EVERY = 0.025      # a quiet request every 25 ms: 2.5 s of the flood
QUIET_P99_MAX = 0.100

# Run by sys.executable: argv flood|sample, then its arguments; writes a
# JSON document to argv[2] when done.
LOAD_SCRIPT = r'''
import http.client, json, os, sys, threading, time

def flood(out, port, host, path, clients, seconds, pause):
    results, lock = [], threading.Lock()
    stop_at = time.monotonic() + seconds

    def client():
        while time.monotonic() < stop_at:
            t0 = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", path, headers={"Host": host})
                r = conn.getresponse()
                r.read()
                rec = [t0, time.monotonic(), r.status,
                       r.getheader("Retry-After")]
            except Exception as e:
                rec = [t0, time.monotonic(), None, repr(e)]
            finally:
                conn.close()
            with lock:
                results.append(rec)
            if rec[2] == 503:
                time.sleep(pause)

    threads = [threading.Thread(target=client, daemon=True)
               for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 40)
    return {"results": results}

def children(pid):
    out = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                out += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return out

def sample(out, pm, needles, seconds):
    needles = [n.encode() for n in needles.split(",")]
    samples, stop_at = [], time.monotonic() + seconds
    while time.monotonic() < stop_at:
        counts = [[] for _ in needles]
        for pid in children(pm):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read()
                with open("/proc/%d/stat" % pid) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state == "Z":
                continue
            for k, n in enumerate(needles):
                if n in cmd:
                    counts[k].append(pid)
        samples.append([time.monotonic()] + counts)
        time.sleep(0.01)
    return {"samples": samples}

mode, out = sys.argv[1], sys.argv[2]
if mode == "flood":
    doc = flood(out, int(sys.argv[3]), sys.argv[4], sys.argv[5],
                int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8]))
else:
    doc = sample(out, int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
with open(out + ".tmp", "w") as f:
    json.dump(doc, f)
os.rename(out + ".tmp", out)
'''


class Load:
    """One LOAD_SCRIPT process; result() waits (bounded) for its JSON,
    stop() ends it by its PID."""

    def __init__(self, workdir, name, args):
        self.out = workdir / (name + ".json")
        self.log = workdir / (name + ".log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", LOAD_SCRIPT, args[0], str(self.out)]
                + [str(a) for a in args[1:]],
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)

    def result(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail("load process %d still runs after %.0f s"
                        % (self.proc.pid, timeout))
        assert self.out.exists(), conftest.read_text(self.log)
        return json.loads(self.out.read_text())

    def stop(self):
        conftest.stop_process(self.proc)


@pytest.fixture
def loads(workdir):
    started = []

    def make(name, *args):
        load = Load(workdir, name, args)
        started.append(load)
        return load

    yield make
    for load in started:
        load.stop()


def p99(seconds):
    """Nearest-rank 99th percentile."""
    ordered = sorted(seconds)
    return ordered[max(0, -(-len(ordered) * 99 // 100) - 1)]


def get_host(srv, host, path, timeout=10):
    """GET path from name-based virtual host `host`: (Response or None,
    the error or None, seconds)."""
    t0 = time.monotonic()
    try:
        r = srv.get(path, headers={"Host": host}, timeout=timeout)
    except (OSError, http.client.HTTPException) as e:
        return None, repr(e), time.monotonic() - t0
    return r, None, time.monotonic() - t0


def quiet_latencies(srv, host, path, n=QUIET_REQUESTS, every=QUIET_EVERY):
    """n GETs to host, one after another, one every `every` seconds:
    [(start, status, seconds)]."""
    out = []
    next_at = time.monotonic()
    for _ in range(n):
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        next_at += every
        t0 = time.monotonic()
        r, err, took = get_host(srv, host, path)
        out.append((t0, r.status if r else err, took))
    return out


# --- the flood ---------------------------------------------------------------

def two_sites(httpd, cap_conf):
    """Ours as fcgid_module with flood.test and quiet.test, each its own
    DocumentRoot with fcgi/app.fcgi (the responder); `cap_conf` in the
    main server. Started. Returns (srv, {host: app path})."""
    srv = conftest.fcgid_httpd(httpd, "ours")
    apps, vhosts = {}, []
    for host in ("flood.test", "quiet.test"):
        root = srv.root / "sites" / host
        (root / "fcgi").mkdir(parents=True, mode=0o755)
        apps[host] = install(conftest.RESPONDER, root / "fcgi" / "app.fcgi")
        vhosts.append("\n".join([
            "<VirtualHost 127.0.0.1:%d>" % srv.port,
            "    ServerName %s" % host,
            '    DocumentRoot "%s"' % root,
            "</VirtualHost>"]))
    srv.extra_conf = "\n".join([
        cap_conf,
        '<Directory "%s">' % (srv.root / "sites"),
        "    Require all granted",
        "    Options +ExecCGI",
        "    AddHandler fcgid-script .fcgi",
        "</Directory>"] + vhosts)
    start(srv)
    return srv, apps


def flood_and_measure(srv, apps, loads):
    """The quiet host alone, then during the flood. Returns a dict of
    what was measured."""
    for host in apps:
        r, err, _ = get_host(srv, host, "/fcgi/app.fcgi")
        assert r and r.status == 200, (host, r, err)
    quiet_latencies(srv, "quiet.test", "/fcgi/app.fcgi", 20, 0.005)  # warm
    alone = quiet_latencies(srv, "quiet.test", "/fcgi/app.fcgi")
    pm = current_pm(srv)
    sampler = loads("sampler", "sample", pm,
                    "%s,%s" % (apps["flood.test"], apps["quiet.test"]),
                    FLOOD_SECONDS + 1.0)
    flood = loads("flood", "flood", srv.port, "flood.test",
                  "/fcgi/app.fcgi?sleep=%d" % FLOOD_SLEEP_MS,
                  FLOOD_CLIENTS, FLOOD_SECONDS, PAUSE_AFTER_503)
    time.sleep(0.4)                    # the flood holds what it can hold
    during = quiet_latencies(srv, "quiet.test", "/fcgi/app.fcgi")
    quiet_end = time.monotonic()
    flooded = flood.result(FLOOD_SECONDS + 60)["results"]
    samples = sampler.result(FLOOD_SECONDS + 30)["samples"]
    statuses = {}
    for _t0, _t1, status, _retry in flooded:
        statuses[status] = statuses.get(status, 0) + 1
    m = {
        "alone_p99": p99([s for _, _, s in alone]),
        "alone_max": max(s for _, _, s in alone),
        "during_p99": p99([s for _, _, s in during]),
        "during_max": max(s for _, _, s in during),
        "quiet_statuses": sorted({st for _, st, _ in during}, key=str),
        "alone_statuses": sorted({st for _, st, _ in alone}, key=str),
        "flood_statuses": statuses,
        "flood_end": max(t1 for _, t1, _, _ in flooded),
        "flood_start": min(t0 for t0, _, _, _ in flooded),
        "quiet_end": quiet_end,
        "flooded": flooded,
        "flood_max_procs": max(len(s[1]) for s in samples),
        "quiet_max_procs": max(len(s[2]) for s in samples),
        "samples": len(samples),
    }
    print("quiet host alone: p99 %.1f ms (max %.1f ms); during the flood: "
          "p99 %.1f ms (max %.1f ms), statuses %s" % (
              m["alone_p99"] * 1e3, m["alone_max"] * 1e3,
              m["during_p99"] * 1e3, m["during_max"] * 1e3,
              m["quiet_statuses"]))
    print("flood: %d requests by %d clients in %.1f s, statuses %s; its "
          "processes at most %d in %d samples" % (
              len(flooded), FLOOD_CLIENTS, m["flood_end"] - m["flood_start"],
              statuses, m["flood_max_procs"], m["samples"]))
    return m


def test_flooding_site_gets_503s_while_another_keeps_its_latency(
        httpd, loads):
    """FcgidMaxProcessesPerVhost 2 in the main server; 40 clients ask the
    flood host for ?sleep=300 for 3 s while the quiet host is asked 100
    times in turn. The quiet host: every answer 200, p99 under 3 x its
    p99 alone and under 100 ms. The flood host: 200s, and 503s each with
    Retry-After (FCGIX00905), never more than 2 of its processes."""
    srv, apps = two_sites(httpd, "FcgidMaxProcessesPerVhost %d" % HOST_CAP)
    m = flood_and_measure(srv, apps, loads)
    assert m["alone_statuses"] == [200], m["alone_statuses"]
    assert m["quiet_end"] < m["flood_end"], "the quiet run outlasted the flood"
    assert m["quiet_statuses"] == [200], m["quiet_statuses"]
    assert m["during_p99"] < 3 * m["alone_p99"], (
        m["during_p99"], m["alone_p99"])
    assert m["during_p99"] < QUIET_P99_MAX, m["during_p99"]
    assert set(m["flood_statuses"]) == {200, 503}, m["flood_statuses"]
    no_retry = [rec for rec in m["flooded"] if rec[2] == 503 and not rec[3]]
    assert not no_retry, "503 without Retry-After: %r" % no_retry[:5]
    assert 1 <= m["flood_max_procs"] <= HOST_CAP, m["flood_max_procs"]
    assert log_lines(srv, "FCGIX00905"), "no FCGIX00905 in the log"


def test_the_same_flood_without_the_cap_starves_the_quiet_host(
        httpd, loads):
    """The flood of the test above, without FcgidMaxProcessesPerVhost:
    it holds every worker, so the quiet host's p99 goes over 100 ms (this
    is what the cap is for, and shows the flood is big enough)."""
    srv, apps = two_sites(httpd, "")
    m = flood_and_measure(srv, apps, loads)
    assert m["quiet_end"] < m["flood_end"], "the quiet run outlasted the flood"
    assert m["flood_max_procs"] > HOST_CAP, m["flood_max_procs"]
    assert m["during_p99"] >= QUIET_P99_MAX, m["during_p99"]


# --- FastCgiMaxHostProcesses -------------------------------------------------

@pytest.mark.parametrize("records", [("fastcgi_x",), ("fastcgi_x", "fcgid")],
                         ids=["fastcgi_x", "both"])
def test_fastcgi_host_cap_for_dynamic_apps(httpd, records):
    """FastCgiMaxHostProcesses 2: a.test's two dynamic apps, each asked
    by 6 concurrent slow requests, never run more than 2 processes
    between them, and b.test's app has 2 of its own at the same time (the
    cap is per host). Every answer is 200, or 503 with Retry-After."""
    srv = httpd(records=records)
    dyn = {}
    vhosts = []
    for host, names in (("a.test", ("one.fcgi", "two.fcgi")),
                        ("b.test", ("one.fcgi",))):
        root = srv.root / "sites" / host
        (root / "dyn").mkdir(parents=True, mode=0o755)
        for name in names:
            dyn[(host, name)] = install(conftest.RESPONDER,
                                        root / "dyn" / name)
        vhosts.append("\n".join([
            "<VirtualHost 127.0.0.1:%d>" % srv.port,
            "    ServerName %s" % host,
            '    DocumentRoot "%s"' % root,
            "</VirtualHost>"]))
    srv.extra_conf = "\n".join([
        "FastCgiConfig -minProcesses 0 -maxClassProcesses 8",
        "FastCgiMaxHostProcesses %d" % HOST_CAP,
        '<Directory "%s">' % (srv.root / "sites"),
        "    Require all granted",
        "    Options +ExecCGI",
        "    AddHandler fastcgi-script .fcgi",
        "</Directory>"] + vhosts)
    start(srv)
    pm = current_pm(srv)

    def host_procs(host):
        prefix = str(srv.root / "sites" / host) + "/"
        return [p for p in children_of(pm) if prefix in cmdline(p)]

    counts, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            counts.append((len(host_procs("a.test")),
                           len(host_procs("b.test"))))
            time.sleep(0.02)

    jobs = [(host, "/dyn/%s?sleep=400&pid" % name)
            for (host, name) in dyn for _ in range(6)]
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(len(jobs)) as ex:
            futures = [ex.submit(get_host, srv, host, path, 60)
                       for host, path in jobs]
            results = [f.result(timeout=90) for f in futures]
    finally:
        stop.set()
        sampler.join(5)
    by_app = {}
    for (host, path), (r, err, took) in zip(jobs, results):
        key = (host, path.split("?")[0])
        assert r is not None, (key, err)
        assert r.status in (200, 503), (key, r.status, r.body[:200])
        if r.status == 503:
            assert r.headers.get("Retry-After"), (key, r.headers)
        by_app.setdefault(key, []).append((r.status, round(took, 2)))
    for key, got in sorted(by_app.items()):
        print("%s: %s" % (key, got))
    max_a = max(a for a, _ in counts)
    max_b = max(b for _, b in counts)
    max_both = max(a + b for a, b in counts)
    print("processes: a.test at most %d, b.test at most %d, together at "
          "most %d (%d samples)" % (max_a, max_b, max_both, len(counts)))
    for key, got in by_app.items():
        assert any(st == 200 for st, _ in got), (key, got)
    assert max_a <= HOST_CAP and max_b <= HOST_CAP, (max_a, max_b)
    assert max_a == HOST_CAP, "a.test never needed its cap: %d" % max_a
    assert max_both > HOST_CAP, "one cap for all hosts? %d" % max_both


# --- FcgidMaxProcessesPerUser ------------------------------------------------

@pytest.mark.skipif(suexec_skip_reason() is not None,
                    reason=str(suexec_skip_reason()))
def test_user_cap_shared_by_two_hosts(httpd):
    """FcgidMaxProcessesPerUser 1, two hosts with SuexecUserGroup of one
    test user, each with its own wrapper under suexec's document root: a
    slow request of a.test holds the user's one process, b.test's request
    meanwhile waits and is then served by a process of its own, as the
    user; never more than 1 of the user's processes at once, until a
    second after b.test's answer."""
    user = system_user("fcgixapp")
    base = suexec_dir(user)
    try:
        srv = conftest.fcgid_httpd(httpd, "ours")
        vhosts, wrappers = [], {}
        for host in ("a.test", "b.test"):
            root = os.path.join(base, host)
            os.mkdir(root)
            wrappers[host] = make_site(root, user)
            vhosts.append("\n".join([
                "<VirtualHost 127.0.0.1:%d>" % srv.port,
                "    ServerName %s" % host,
                '    DocumentRoot "%s"' % root,
                "    SuexecUserGroup %s %s" % (user.pw_name, user.pw_name),
                '    <Directory "%s">' % root,
                "        Require all granted",
                "        Options +ExecCGI",
                "        AddHandler fcgid-script .fcgi",
                "        FcgidWrapper %s .fcgi" % wrappers[host],
                "    </Directory>",
                "</VirtualHost>"]))
        srv.extra_conf = "\n".join(
            ["LoadModule suexec_module %s" % MOD_SUEXEC,
             "FcgidMaxProcessesPerUser 1"] + vhosts)
        start(srv)
        pm = current_pm(srv)

        def user_procs():
            return [p for p in children_of(pm)
                    if uid_of(p) == user.pw_uid]

        counts, stop = [], threading.Event()

        def sample():
            while not stop.is_set():
                counts.append((time.monotonic(), user_procs()))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(2) as ex:
                slow = ex.submit(get_host, srv, "a.test",
                                 "/page.fcgi?sleep=1500&pid", 30)
                time.sleep(0.5)
                other = ex.submit(get_host, srv, "b.test",
                                  "/page.fcgi?pid", 30)
                (ra, ea, ta), (rb, eb, tb) = (slow.result(60),
                                              other.result(60))
            time.sleep(1.0)                # and after b.test's answer
        finally:
            stop.set()
            sampler.join(5)
        most = max(len(pids) for _, pids in counts)
        print("a.test: %r in %.2f s; b.test: %r in %.2f s; the user's "
              "processes at most %d" % (ra and ra.body, ta, rb and rb.body,
                                        tb, most))
        t_first = counts[0][0]
        changes = [(round(t - t_first, 3), pids) for k, (t, pids)
                   in enumerate(counts) if k == 0 or pids != counts[k - 1][1]]
        print("the user's processes over time: %s" % changes)
        assert ra and ra.status == 200, (ra, ea,
                                         conftest.read_text(srv.error_log))
        assert rb and rb.status == 200, (rb, eb,
                                         conftest.read_text(srv.error_log))
        pid_a = int(ra.body.split(b"=")[1])
        pid_b = int(rb.body.split(b"=")[1])
        assert pid_a != pid_b
        assert tb >= 0.7, "b.test did not wait for the user's process: %.2f" % tb
        assert most == 1, changes
        if not conftest.wait_for(lambda: uid_of(pid_b) is not None, 1):
            pytest.fail("b.test's process %d is gone" % pid_b)
        assert uid_of(pid_b) == user.pw_uid
    finally:
        shutil.rmtree(base, ignore_errors=True)


def make_site(root, user):
    """root/page.fcgi (any file: the wrapper runs) and root/wrapper, a sh
    script that execs the responder copied to root, all owned by user."""
    app = install(conftest.RESPONDER, os.path.join(root, "responder"))
    page = os.path.join(root, "page.fcgi")
    with open(page, "w") as f:
        f.write("page served by the wrapper\n")
    wrapper = os.path.join(root, "wrapper")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec %s\n" % app)
    os.chmod(wrapper, 0o755)
    os.chmod(page, 0o644)
    for path in (root, app, page, wrapper):
        os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(root, 0o755)
    return wrapper
