#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain a
# copy of the License at http://www.apache.org/licenses/LICENSE-2.0
"""mod_fastcgi_x against the real mod_fcgid, PHP through php-cgi and a C app.

The benchmark of issue 15. A benchmark, not a test: see bench/README.md
(section run_fcgid.py) and shared/reference/benchmarking.md. Python 3
standard library only; needs root (Apache's User www-data), wrk, taskset,
a C compiler, libfcgi-dev, php-cgi and Debian's apache2-bin and
libapache2-mod-fcgid (loaded from its .so in private configs only).

    /usr/bin/python3 bench/run_fcgid.py            # REPS=3, D=3 s
    /usr/bin/python3 bench/run_fcgid.py --quick    # REPS=1, D=2 s

It reuses bench/run_peers.py's httpd configuration, wrk parsing,
first-request timing and process handling (stop by PID, sweep of the run
directory).
"""

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_peers as rp  # noqa: E402  (bench/ is not a package)

TOP = os.path.dirname(HERE)
FCGID_SO = os.path.join(rp.MODDIR, "mod_fcgid.so")
PHP_CGI = "/usr/bin/php-cgi"
HELLO = rp.HELLO
CLASS_PROCS = rp.APP_PROCS   # most processes per class, on both sides
IDLE_KILL = 600              # s idle before a process beyond the minimum
                             # is stopped (FcgidIdleTimeout, -killInterval)
IO_TIMEOUT = 120             # FcgidIOTimeout; ours: -idle-timeout defaults
                             # to httpd's Timeout, 120 in common_conf
STEADY = [("hello_c1", 1), ("hello_c16", 16), ("hello_c64", 64)]
COLD_RUNS = 3                # fresh httpds per cold measurement
BURST_CONNS = 16
BURST_TIMEOUT = 30.0         # per request of a burst
APPS = {
    "c": ("C app (bench/bench_app.c as app.fcgi)", "/app.fcgi"),
    "php": ("PHP hello (hello.php through php-cgi)", "/hello.php"),
}
PHP_HELLO = '<?php echo "Hello, world\\n";\n'

log = rp.log


# ------------------------------------------------------------------ configs

class Config:
    """One httpd instance serving one app through one module."""

    def __init__(self, key, app, side, title, tag=None):
        self.key = key
        self.app = app            # "c" or "php"
        self.side = side          # "fcgid", "as_fcgid" or "own"
        self.title = title
        self.tag = tag            # a throwaway instance (cold runs)
        self.ours = side != "fcgid"
        self.peer = "fcgid_" + app
        self.pool = False         # (run_peers.Bench.start_config reads it)
        self.pool_pids = []       # (run_peers.Bench.own_pids reads it)
        self.dir = None
        self.port = None
        self.proc = None
        self.failed = None

    def throwaway(self, tag):
        return Config(self.key, self.app, self.side, self.title, tag)

    def url_path(self, kind):
        return "/hello.txt" if kind == "static" else APPS[self.app][1]


CONFIGS = [
    Config("fcgid_c", "c", "fcgid", "mod_fcgid: <Files app.fcgi> SetHandler "
           "fcgid-script, FcgidMaxProcessesPerClass %d" % CLASS_PROCS),
    Config("x_as_fcgid_c", "c", "as_fcgid", "mod_fastcgi_x with fcgid_c's "
           "config, LoadModule fcgid_module <our .so> (issue 15)"),
    Config("x_own_c", "c", "own", "mod_fastcgi_x: AddHandler fastcgi-script "
           ".fcgi, FastCgiConfig -maxClassProcesses %d" % CLASS_PROCS),
    Config("fcgid_php", "php", "fcgid", "mod_fcgid: FcgidWrapper %s .php, "
           "AddHandler fcgid-script .php" % PHP_CGI),
    Config("x_as_fcgid_php", "php", "as_fcgid", "mod_fastcgi_x with "
           "fcgid_php's config, LoadModule fcgid_module <our .so> "
           "(issue 15)"),
    Config("x_own_php", "php", "own", "mod_fastcgi_x: AddHandler php-fcgi "
           ".php + Action to php-cgi as a dynamic app, -maxClassProcesses "
           "%d" % CLASS_PROCS),
]

# What our own vocabulary does for PHP, said in the report: there is no
# per-extension wrapper directive (FastCgiWrapper is suexec for every app).
OWN_PHP_NOTE = (
    "x_own_php: mod_fastcgi_x has no per-extension wrapper directive "
    "(FastCgiWrapper is suexec for every app, not FcgidWrapper); its own "
    "recipe (README, docs/migrating.md) is AddHandler php-fcgi .php + "
    "Action php-fcgi /php-bin/php-cgi.fcgi, an internal redirect to "
    "php-cgi run as a dynamic app (here a symlink to %s, so both sides "
    "exec the same binary)" % PHP_CGI)


def fcgid_conf(cfg, load_line, php_max):
    """mod_fcgid's configuration of cfg's app, after load_line. The same
    text serves the real mod_fcgid and, with our .so in load_line, issue
    15's drop-in."""
    # relative to the instance's ServerRoot (mod_fcgid resolves both so),
    # so that this block is the same for every instance
    lines = [load_line,
             'FcgidIPCDir "run/fcgid"',
             'FcgidProcessTableFile "run/fcgid_shm"',
             "FcgidMaxProcessesPerClass %d" % CLASS_PROCS,
             "FcgidMinProcessesPerClass %d" % CLASS_PROCS,
             "FcgidIdleTimeout %d" % IDLE_KILL,
             "FcgidIOTimeout %d" % IO_TIMEOUT]
    if cfg.app == "c":
        lines += ['<Files "app.fcgi">',
                  "    SetHandler fcgid-script",
                  "    Options +ExecCGI",
                  "</Files>"]
    else:
        lines += ["FcgidMaxRequestsPerProcess %d" % php_max,
                  "FcgidInitialEnv PHP_FCGI_CHILDREN 0",
                  "FcgidInitialEnv PHP_FCGI_MAX_REQUESTS %d" % php_max,
                  '<Files "*.php">',
                  "    Options +ExecCGI",
                  "</Files>",
                  "AddHandler fcgid-script .php",
                  "FcgidWrapper %s .php" % PHP_CGI]
    return "\n".join(lines) + "\n"


def own_conf(cfg, module_so, php_bin, php_max):
    """mod_fastcgi_x's own vocabulary for the same app and limits, and
    the Debian modules it needs."""
    opts = "-maxClassProcesses %d -minProcesses %d -killInterval %d" % (
        CLASS_PROCS, CLASS_PROCS, IDLE_KILL)
    if cfg.app == "c":
        return ("LoadModule fastcgi_x_module %s\n"
                "FastCgiConfig %s\n"
                '<Files "app.fcgi">\n'
                "    Options +ExecCGI\n"
                "</Files>\n"
                "AddHandler fastcgi-script .fcgi\n"
                % (module_so, opts)), []
    return ("LoadModule fastcgi_x_module %s\n"
            "FastCgiConfig %s -max-requests %d "
            "-initial-env PHP_FCGI_CHILDREN=0 "
            "-initial-env PHP_FCGI_MAX_REQUESTS=%d\n"
            'Alias /php-bin/ "%s/"\n'
            '<Directory "%s">\n'
            "    Options +ExecCGI +FollowSymLinks\n"
            "    AddHandler fastcgi-script .fcgi\n"
            "    Require all granted\n"
            "</Directory>\n"
            "AddHandler php-fcgi .php\n"
            "Action php-fcgi /php-bin/php-cgi.fcgi\n"
            % (module_so, opts, php_max, php_max, php_bin, php_bin)), \
        ["alias", "actions"]


# ------------------------------------------------------------------ runner

class FcgidBench(rp.Bench):
    """Inherits run_peers.Bench's start_config, http, first_request, wrk,
    wait_idle and the stopping of httpd trees by PID; the rest is its
    own."""

    def __init__(self, args):
        self.init_own(args)  # not Bench.__init__
        self.configs = [c for c in CONFIGS
                        if not args.configs or c.key in args.configs]
        self.throwaways = []
        self.tracked = {}
        self.sessions = {}
        self.results = {}         # (workload, key) -> [dict]
        self.errors = {}          # (workload, key) -> [str]
        self.cold = {}            # (what, key) -> [dict]
        self.cold_errors = []
        self.procs = {}           # key -> {when: count}
        self.contended = []
        self.crashed = False

    # ---------------------------------------------------------- setup

    def setup(self):
        self.tmp = rp.make_run_dir("fcgix-fcgid-", ("bin", "www", "php-bin"))
        self.app = os.path.join(self.tmp, "bin", "bench_app")
        subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra",
                        "-Werror", "-o", self.app,
                        os.path.join(HERE, "bench_app.c"), "-lfcgi"],
                       check=True, timeout=120)
        # A private copy: a rebuild of the tree during the run must not
        # change what is measured.
        if any(c.ours for c in self.configs):
            self.module_so = os.path.join(self.tmp, "bin",
                                          "mod_fastcgi_x.so")
            shutil.copy2(self.args.module, self.module_so)
            rp.describe_module("module", self.args.module)
        self.docroot = os.path.join(self.tmp, "www")
        shutil.copy2(self.app, os.path.join(self.docroot, "app.fcgi"))
        os.chmod(os.path.join(self.docroot, "app.fcgi"), 0o755)
        with open(os.path.join(self.docroot, "hello.txt"), "wb") as f:
            f.write(HELLO)
        with open(os.path.join(self.docroot, "hello.php"), "w") as f:
            f.write(PHP_HELLO)
        os.chmod(os.path.join(self.docroot, "hello.php"), 0o644)
        self.php_bin = os.path.join(self.tmp, "php-bin")
        os.symlink(PHP_CGI, os.path.join(self.php_bin, "php-cgi.fcgi"))

    def conf_text(self, cfg):
        """cfg's whole httpd.conf; run_peers.Bench.start_config writes
        it."""
        php_max = self.args.php_max_requests
        if cfg.side == "own":
            extra, modules = own_conf(cfg, self.module_so, self.php_bin,
                                      php_max)
            return rp.common_conf(cfg, self.docroot, modules) + extra
        real = "LoadModule fcgid_module %s" % FCGID_SO
        text = rp.common_conf(cfg, self.docroot, []) + fcgid_conf(
            cfg, real, php_max)
        if cfg.side == "fcgid":
            return text
        # issue 15's migration: the one LoadModule line, nothing else
        ours = "LoadModule fcgid_module %s" % self.module_so
        changed = text.replace(real, ours)
        diff = [(a, b) for a, b in zip(text.splitlines(),
                                       changed.splitlines()) if a != b]
        assert diff == [(real, ours)], diff
        return changed

    def app_exe(self, cfg):
        """The executable the app processes of cfg run (for counting)."""
        if cfg.app == "c":
            return os.path.realpath(os.path.join(self.docroot, "app.fcgi"))
        return os.path.realpath(PHP_CGI)

    def count(self, cfg):
        return rp.app_processes(cfg, self.app_exe(cfg))

    def note_procs(self, cfg, when):
        n = self.count(cfg)
        seen = self.procs.setdefault(cfg.key, {})
        if when == "max during runs":
            seen[when] = max(seen.get(when, 0), n)
        else:
            seen[when] = n
        return n

    def verify(self, cfg):
        """Raises unless the app answers the 13 bytes, twice."""
        for _ in range(2):
            status, body = self.http(cfg, "GET", cfg.url_path("hello"))
            if status != 200 or body != HELLO:
                raise RuntimeError("GET %s: %d %r" % (
                    cfg.url_path("hello"), status, body[:120]))

    # ---------------------------------------------------------- cold

    def burst(self, cfg, conns):
        """conns GETs of the app sent at once, each on its own connection
        opened beforehand, to a fresh httpd with no app process; returns
        the times from the send to the first byte of the first answer, the
        median and the last complete answer, in ms."""
        status, body = self.http(cfg, "GET", "/hello.txt")
        if status != 200 or body != HELLO:
            raise RuntimeError("GET /hello.txt: %d %r" % (status, body[:80]))
        clients = []
        try:
            for _ in range(conns):
                c = http.client.HTTPConnection("127.0.0.1", cfg.port,
                                               timeout=BURST_TIMEOUT)
                c.connect()
                clients.append(c)
            go = threading.Event()
            out = [None] * conns

            def one(i):
                go.wait(BURST_TIMEOUT)
                try:
                    clients[i].request("GET", cfg.url_path("hello"))
                    resp = clients[i].getresponse()
                    t1 = time.monotonic()
                    data = resp.read()
                    out[i] = (resp.status, data, t1, time.monotonic())
                except Exception as e:  # noqa: BLE001 - reported below
                    out[i] = e

            threads = [threading.Thread(target=one, args=(i,), daemon=True)
                       for i in range(conns)]
            for t in threads:
                t.start()
            time.sleep(0.05)          # every thread waits on go
            t0 = time.monotonic()
            go.set()
            deadline = t0 + BURST_TIMEOUT + 5
            for t in threads:
                t.join(max(deadline - time.monotonic(), 0))
        finally:
            for c in clients:
                c.close()
        bad = [o for o in out if not isinstance(o, tuple) or o[0] != 200
               or o[1] != HELLO]
        if bad:
            b = bad[0]
            raise RuntimeError("%d of %d burst requests failed, first: %s" % (
                len(bad), conns, "no answer in time" if b is None else
                b if not isinstance(b, tuple) else "%d %r" % (b[0],
                                                             b[1][:80])))
        return (1e3 * (min(o[2] for o in out) - t0),
                1e3 * (rp.med([o[3] for o in out]) - t0),
                1e3 * (max(o[3] for o in out) - t0))

    def cold_one(self, cfg, what, run):
        """One cold measurement (what: "first" or "burst") on a fresh
        httpd of cfg, stopped at once. A config whose httpd does not
        start is marked failed."""
        inst = cfg.throwaway("%s%d" % (what, run))
        self.throwaways.append(inst)
        try:
            try:
                self.start_config(inst)
            except Exception as e:  # noqa: BLE001 - report and go on
                cfg.failed = "start: %s" % " | ".join(
                    x.strip() for x in str(e).splitlines() if x.strip())
                log("FAILED %s: %s" % (cfg.key, cfg.failed))
                return
            before = self.count(inst)
            if what == "first":
                ttfb, total = self.first_request(inst)
                res = dict(ttfb=ttfb, total=total)
                txt = "TTFB %.1f ms, total %.1f ms" % (ttfb, total)
            else:
                first, median, last = self.burst(inst, self.args.burst_conns)
                res = dict(first=first, median=median, last=last)
                txt = ("first byte %.1f ms, median answer %.1f ms, all %d "
                       "answered %.1f ms" % (first, median,
                                            self.args.burst_conns, last))
            res["before"], res["after"] = before, self.count(inst)
            self.cold.setdefault((what, cfg.key), []).append(res)
            log("  [cold %d/%d] %-15s %-5s %s; app processes %d -> %d%s" % (
                run, self.args.cold_runs, cfg.key, what, txt, before,
                res["after"], "  (!! not 0 at the start)" if before else ""))
            if before:
                self.cold_errors.append("%s %s run %d: %d app processes "
                                        "before the first request" % (
                                            cfg.key, what, run, before))
        except Exception as e:  # noqa: BLE001 - report and go on
            self.cold_errors.append("%s %s run %d: %s" % (cfg.key, what,
                                                          run, e))
            log("  [cold %d/%d] %-15s %-5s FAILED: %s" % (
                run, self.args.cold_runs, cfg.key, what, e))
        finally:
            self.stop_httpd(inst)

    def cold_phase(self):
        n = self.args.cold_runs
        log("\ncold runs: %d x (first request, c%d burst) per config, each "
            "on a fresh httpd with no app process" % (n,
                                                      self.args.burst_conns))
        cpu0 = rp.snapshot_cpu()
        for run in range(1, n + 1):
            shift = (run - 1) % len(self.configs)
            for cfg in self.configs[shift:] + self.configs[:shift]:
                for what in ("first", "burst"):
                    if not cfg.failed:
                        self.cold_one(cfg, what, run)
        hot = rp.foreign_since(cpu0, self.own_pids(), 20.0)
        if hot:
            self.contended.append("cold runs: other processes used CPU: "
                                  + ", ".join("%s %.0f%%" % (c[:40], p)
                                              for p, c in hot))

    # ---------------------------------------------------------- steady

    def steady_one(self, name, conns, cfg):
        self.wrk(cfg, "hello", conns, self.args.warmup)
        cpu0 = rp.snapshot_cpu()
        r = self.wrk(cfg, "hello", conns, self.args.duration)
        hot = rp.foreign_since(cpu0, self.own_pids(), 1.0)
        r["foreign"] = sum(p for p, _ in hot)
        r["foreign_top"] = hot[0][1][:60] if hot else ""
        r["procs"] = self.note_procs(cfg, "max during runs")
        if "rps" in r:
            r["metric"] = r["rps"]
        return r, self.record((name, cfg.key), r)

    # ---------------------------------------------------------- main

    def run(self):
        self.setup()
        self.wait_idle()
        self.cold_phase()
        for cfg in self.configs:
            if cfg.failed:
                continue
            try:
                self.start_config(cfg)
                self.verify(cfg)
                log("started %-15s port %d: checks passed (GET %s: 13 B)"
                    % (cfg.key, cfg.port, cfg.url_path("hello")))
            except Exception as e:  # noqa: BLE001 - report and go on
                cfg.failed = "start/verify: %s" % " | ".join(
                    x.strip() for x in str(e).splitlines() if x.strip())
                log("FAILED %s: %s" % (cfg.key, cfg.failed))
        live = [c for c in self.configs if not c.failed]
        # Warm every class up to its processes (both spawn lazily).
        for cfg in live:
            self.wrk(cfg, "hello", 16, 2)
            self.note_procs(cfg, "after warm-up")
        if live:
            self.wait_idle()
        reps = self.args.reps
        log("\nsteady state: %d repetitions x %d workloads x %d configs, "
            "%d s warm-up + %d s each" % (reps, len(STEADY) * len(APPS),
                                          len(live), self.args.warmup,
                                          self.args.duration))
        for rep in range(reps):
            cpu0 = rp.snapshot_cpu()
            for app in APPS:
                group = [c for c in live if c.app == app]
                for wi, (name, conns) in enumerate(STEADY):
                    if not group:
                        continue
                    for cfg in rp.in_turn(group, rep, wi, len(STEADY)):
                        r, problems = self.steady_one(name, conns, cfg)
                        log("[rep %d/%d] %-9s %-15s %s  procs %d%s%s" % (
                            rep + 1, reps, name, cfg.key, fmt_steady(r),
                            r["procs"], "  (other processes: %.0f%% CPU)"
                            % r["foreign"] if r["foreign"] >= 5 else "",
                            ("  !! " + problems) if problems else ""))
                        if r["foreign"] >= 20:
                            self.contended.append(
                                "rep %d %s %s: other processes used %.0f%%"
                                " CPU (most: %s)" % (
                                    rep + 1, name, cfg.key, r["foreign"],
                                    r["foreign_top"]))
            hot = rp.foreign_since(cpu0, self.own_pids())
            if hot:
                note = "rep %d: other processes used CPU: %s" % (
                    rep + 1, ", ".join("%s %.0f%%" % (c[:40], p)
                                       for p, c in hot))
                self.contended.append(note)
                log("  note: " + note)
        for cfg in live:
            self.note_procs(cfg, "at the end")
        self.report()

    # ---------------------------------------------------------- report

    def report(self):
        log("\n" + "=" * 78)
        log("RESULTS: medians of %d repetitions, %d s each (noise = "
            "(max-min)/median); cold runs: medians of %d fresh httpds"
            % (self.args.reps, self.args.duration, self.args.cold_runs))
        log("Apache %s, mpm_event 1 child x 128 threads, httpd and apps on "
            "CPU %s, wrk -t1 on CPU %s; mod_fcgid %s (%s); %s" % (
                rp.apache_version(), rp.SERVER_CPU, rp.CLIENT_CPU,
                deb_version("libapache2-mod-fcgid"), FCGID_SO,
                php_version()))
        pm = self.args.php_max_requests
        log("Limits on both sides: at most %d processes per class, %d kept "
            "when idle, idle stop after %d s; php-cgi with "
            "PHP_FCGI_CHILDREN=0 and PHP_FCGI_MAX_REQUESTS=%d (%s; PHP's "
            "default is 500), FcgidMaxRequestsPerProcess / -max-requests "
            "%d" % (CLASS_PROCS, CLASS_PROCS, IDLE_KILL, pm,
                    "no recycling" if pm == 0 else
                    "php-cgi exits after as many requests, and the module "
                    "retires it then", pm))
        log(OWN_PHP_NOTE)
        for app in APPS:
            cfgs = [c for c in self.configs if c.app == app]
            if cfgs:
                self.report_app(app, cfgs)
        self.report_failures()

    def report_app(self, app, cfgs):
        log("\n" + "-" * 78)
        log(APPS[app][0] + ", GET " + APPS[app][1])
        for cfg in cfgs:
            log("  %-15s %s%s" % (cfg.key, cfg.title, "  (FAILED: see "
                                  "below)" if cfg.failed else ""))
        live = [c for c in cfgs if not c.failed]
        summary = {}
        for name, _ in STEADY:
            log("\n%s (req/s)" % name)
            log("  %-15s %10s %7s %9s %9s %7s %6s" % (
                "config", "req/s", "noise", "p50 ms", "p99 ms", "errors",
                "procs"))
            for cfg in live:
                rs = [r for r in self.results.get((name, cfg.key), [])
                      if "rps" in r]
                if not rs:
                    continue
                m = rp.med([r["rps"] for r in rs])
                s = dict(m=m, noise=(max(r["rps"] for r in rs) - min(
                    r["rps"] for r in rs)) / m if m else 0,
                    p50=rp.med([r["p50"] for r in rs]),
                    p99=rp.med([r["p99"] for r in rs]),
                    errs=sum(r.get("nerr", 0) for r in rs),
                    procs=max(r["procs"] for r in rs))
                summary[(name, cfg.key)] = s
                log("  %-15s %10s %6.0f%% %9.3f %9.3f %7d %6d" % (
                    cfg.key, rp.fmt_num(m), 100 * s["noise"], s["p50"],
                    s["p99"], s["errs"], s["procs"]))
            for cfg in live:
                a, b = summary.get((name, cfg.key)), summary.get(
                    (name, cfg.peer))
                if cfg.ours and a and b and b["m"]:
                    reps = [x["rps"] / y["rps"] for x, y in zip(
                        self.results[(name, cfg.key)],
                        self.results[(name, cfg.peer)])
                        if "rps" in x and "rps" in y and y["rps"]]
                    log("  %s / mod_fcgid: %.3fx; per repetition: %s; p99 "
                        "%.3f vs %.3f ms" % (cfg.key, a["m"] / b["m"],
                                             rp.fmt_rep_ratios(reps),
                                             a["p99"], b["p99"]))
        self.report_cold(cfgs)
        self.report_table(cfgs, summary)
        self.report_floors(cfgs, summary)

    def cold_med(self, what, key, field):
        runs = self.cold.get((what, key))
        if not runs:
            return None, ""
        vals = [r[field] for r in runs]
        return rp.med(vals), "/".join("%.0f" % v if v >= 100 else "%.1f" % v
                                      for v in vals)

    def report_cold(self, cfgs):
        n = self.args.burst_conns
        log("\nfrom idle (fresh httpd, 0 app processes; ms, median of the "
            "runs, runs in brackets)")
        log("  %-15s %-26s %-26s %-26s %s" % (
            "config", "first request TTFB", "first request total",
            "c%d burst: all answered" % n, "procs after burst"))
        for cfg in cfgs:
            if cfg.failed and not self.cold.get(("first", cfg.key)):
                log("  %-15s FAILED" % cfg.key)
                continue
            cells = []
            for what, field in (("first", "ttfb"), ("first", "total"),
                                ("burst", "last")):
                m, runs = self.cold_med(what, cfg.key, field)
                cells.append("-" if m is None else "%s (%s)" % (
                    fmt_ms(m), runs))
            after = [r["after"] for r in self.cold.get(("burst", cfg.key),
                                                        [])]
            log("  %-15s %-26s %-26s %-26s %s" % (
                cfg.key, cells[0], cells[1], cells[2],
                "/".join(str(x) for x in after) or "-"))
        for cfg in cfgs:
            if not cfg.ours:
                continue
            parts = []
            for what, field, label in (("first", "ttfb", "TTFB"),
                                       ("burst", "last", "c%d burst" % n)):
                a = self.cold_med(what, cfg.key, field)[0]
                b = self.cold_med(what, cfg.peer, field)[0]
                if a is not None and b:
                    parts.append("%s %.2fx" % (label, a / b))
            if parts:
                log("  %s / mod_fcgid (time: lower is better; issue 15 sets "
                    "no floor on it): %s" % (cfg.key, ", ".join(parts)))

    def report_table(self, cfgs, summary):
        n = self.args.burst_conns
        log("\n| config | hello c1 req/s (p99 ms) | hello c16 req/s (p99 ms)"
            " | hello c64 req/s (p99 ms) | first request TTFB ms | c%d "
            "burst all answered ms |" % n)
        log("|---|---|---|---|---|---|")

        def cell(name, key):
            s = summary.get((name, key))
            if not s:
                return "-"
            return "%s (%s)%s" % (rp.fmt_num(s["m"]), fmt_ms(s["p99"]),
                                  " !%d err" % s["errs"] if s["errs"]
                                  else "")

        for cfg in cfgs:
            if cfg.failed:
                log("| %s | FAILED | | | | |" % cfg.key)
                continue
            log("| %s | %s | %s | %s | %s | %s |" % (
                cfg.key, cell("hello_c1", cfg.key), cell("hello_c16", cfg.key),
                cell("hello_c64", cfg.key),
                fmt_opt(self.cold_med("first", cfg.key, "ttfb")[0]),
                fmt_opt(self.cold_med("burst", cfg.key, "last")[0])))
        for cfg in cfgs:
            if not cfg.ours or cfg.failed:
                continue
            row = []
            for name, _ in STEADY:
                a, b = summary.get((name, cfg.key)), summary.get(
                    (name, cfg.peer))
                row.append("%.2fx (p99 %.2fx)" % (a["m"] / b["m"],
                                                   a["p99"] / b["p99"])
                           if a and b and b["m"] and b["p99"] else "-")
            for what, field in (("first", "ttfb"), ("burst", "last")):
                a = self.cold_med(what, cfg.key, field)[0]
                b = self.cold_med(what, cfg.peer, field)[0]
                row.append("%.2fx" % (a / b) if a is not None and b else "-")
            log("| **%s / mod_fcgid** | %s |" % (cfg.key, " | ".join(row)))

    def report_floors(self, cfgs, summary):
        peer = next((c for c in cfgs if not c.ours), None)
        ours = [c for c in cfgs if c.ours]
        if not ours:
            return
        log("\nfloors (issue 15): >= 1.0x mod_fcgid's req/s, p99 <= "
            "mod_fcgid's")
        log("| floor | " + " | ".join(c.key for c in ours) + " |")
        log("|---|" + "---|" * len(ours))
        for name, _ in STEADY:
            for kind in ("rps", "p99"):
                label = ("%s req/s >= 1.0x mod_fcgid" % name if kind ==
                         "rps" else "%s p99 <= mod_fcgid's" % name)
                log("| %s | %s |" % (label, " | ".join(
                    floor_cell(summary, name, kind, c, peer) for c in ours)))
        for c in ours:
            if c.failed:
                log("  %s: NOT CHECKED: %s" % (c.key, c.failed[:300]))

    def report_failures(self):
        log("")
        bad = self.log_failed(self.configs)
        for err in self.cold_errors:
            bad = True
            log("cold run trouble: " + err)
        for note in self.contended:
            log("contention: " + note)
        for key, seen in sorted(self.procs.items()):
            log("%s: app processes %s" % (key, ", ".join(
                "%s %d" % (w, n) for w, n in seen.items())))
        for cfg in self.configs + self.throwaways:
            rp.log_error_lines(cfg, os.path.basename(cfg.dir))
        if not bad:
            log("no failed configuration, no wrk errors, no cold-run "
                "trouble")

    # ---------------------------------------------------------- teardown

    def stop(self):
        """Stops every httpd this run started (throwaways included) by
        PID, then kills anything still running from the run directory or
        an httpd's session; each step is bounded and runs even when an
        earlier one failed."""
        steps = [lambda c=c: self.stop_httpd(c)
                 for c in self.throwaways + self.configs]
        if self.tmp:
            steps.append(self.sweep)
        rp.run_cleanup_steps(steps)
        if self.tmp:
            failed = any(c.failed for c in self.configs) or self.errors \
                or self.cold_errors or self.crashed
            if self.args.keep or failed:
                log("run dir kept: %s" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------------ format

def floor_cell(summary, name, kind, cfg, peer):
    if cfg.failed:
        return "NOT CHECKED (FAILED: %s)" % (
            "did not start" if cfg.failed.startswith("start:")
            else "see below")
    if peer is None or peer.failed:
        return "NOT CHECKED (mod_fcgid did not run)"
    a, b = summary.get((name, cfg.key)), summary.get((name, peer.key))
    if not a or not b:
        return "NOT CHECKED (not measured)"
    if not b["m"]:
        # mod_fcgid completed no request in any repetition
        return "mod_fcgid 0 req/s: %s" % (
            verdict(a["m"] > 0) if kind == "rps"
            else "NOT CHECKED (no p99 of mod_fcgid)")
    if kind == "rps":
        r = a["m"] / b["m"]
        return "%.3fx %s" % (r, verdict(r >= 1.0))
    return "%s vs %s ms %s" % (fmt_ms(a["p99"]), fmt_ms(b["p99"]),
                               verdict(a["p99"] <= b["p99"]))


def verdict(passed):
    return "PASS" if passed else "BELOW"


def fmt_ms(x):
    return "%.1f" % x if x < 100 else "%.0f" % x


def fmt_opt(x):
    return "-" if x is None else fmt_ms(x)


def fmt_steady(r):
    if "rps" not in r:
        return "%-44s" % ("wrk FAILED: " + r.get("error", "?")[:32])
    return "%8s req/s p50 %7.2f ms  p99 %8.2f ms" % (
        rp.fmt_num(r["rps"]), r["p50"], r["p99"])


def deb_version(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                              capture_output=True, text=True,
                              timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def php_version():
    try:
        out = subprocess.run([PHP_CGI, "-v"], capture_output=True, text=True,
                             timeout=10).stdout
        return out.splitlines()[0] if out else "php-cgi ?"
    except (OSError, subprocess.SubprocessError, IndexError):
        return "php-cgi ?"


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int,
                    default=int(os.environ.get("BENCH_REPS", 3)))
    ap.add_argument("--duration", type=int,
                    default=int(os.environ.get("BENCH_DURATION", 3)),
                    help="measured seconds per steady run (whole seconds)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="REPS=1, D=2")
    ap.add_argument("--cold-runs", type=int, default=COLD_RUNS,
                    help="fresh httpds per cold measurement (3)")
    ap.add_argument("--burst-conns", type=int, default=BURST_CONNS,
                    help="requests of the burst from idle (16)")
    ap.add_argument("--php-max-requests", type=int, default=0,
                    help="php-cgi's PHP_FCGI_MAX_REQUESTS, and the modules' "
                    "per-process request limit for PHP (0: unlimited, the "
                    "default here; PHP's own default is 500)")
    ap.add_argument("--module",
                    default=os.path.join(TOP, ".libs", "mod_fastcgi_x.so"))
    ap.add_argument("--configs", nargs="*",
                    help="subset of: " + " ".join(c.key for c in CONFIGS))
    ap.add_argument("--no-idle-wait", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the run dir")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.duration = 1, 2
    if min(args.reps, args.duration, args.warmup, args.cold_runs,
           args.burst_conns) < 1 or args.php_max_requests < 0:
        ap.error("--reps, --duration, --warmup, --cold-runs and "
                 "--burst-conns must be >= 1, --php-max-requests >= 0")
    if args.configs:
        unknown = set(args.configs) - {c.key for c in CONFIGS}
        if unknown:
            ap.error("unknown configs: %s" % " ".join(sorted(unknown)))
    if os.geteuid() != 0:
        ap.error("run as root (httpd switches to User %s)" % rp.RUN_USER)
    if os.cpu_count() is None or os.cpu_count() < 2:
        ap.error("needs 2 CPUs (server on CPU 1, wrk on CPU 0)")
    chosen = [c for c in CONFIGS if not args.configs or c.key in args.configs]
    if any(c.ours for c in chosen) and not os.path.exists(args.module):
        ap.error("no module at %s: make -f Makefile.apxs" % args.module)
    if any(c.side == "fcgid" for c in chosen) \
            and not os.path.exists(FCGID_SO):
        ap.error("mod_fcgid is not installed (no %s): apt-get install "
                 "libapache2-mod-fcgid, or tools/deps.sh bench; it is only "
                 "loaded in this run's own configs, never enabled"
                 % FCGID_SO)
    if any(c.app == "php" for c in chosen) and not os.access(PHP_CGI,
                                                             os.X_OK):
        ap.error("no %s: apt-get install php-cgi, or tools/deps.sh bench"
                 % PHP_CGI)
    for tool in ("wrk", "taskset", "cc"):
        if not shutil.which(tool):
            ap.error("%s not found" % tool)
    os.sched_setaffinity(0, {int(rp.CLIENT_CPU)})

    bench = FcgidBench(args)
    if rp.run_guarded(bench) is not None:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
