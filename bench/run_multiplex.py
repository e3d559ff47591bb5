#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain a
# copy of the License at http://www.apache.org/licenses/LICENSE-2.0
"""A Go net/http/fcgi app behind mod_fastcgi_x and mod_proxy_fcgi.

The bench of issue 16, item 3 (-multiplex): "hello through a Go app,
-multiplex vs not vs mod_proxy_fcgi in the same run (c16/c64 req/s, p99,
connections used)". A benchmark, not a test: see bench/README.md (section
run_multiplex.py) and shared/reference/benchmarking.md. Python 3 standard
library only; needs root (Apache runs as User www-data), wrk, taskset,
Debian's golang-go (tests/apps/go_hello.go is built offline into the run
directory) and apache2-bin with mod_proxy_fcgi.

    /usr/bin/python3 bench/run_multiplex.py                 # 3 reps x 3 s
    /usr/bin/python3 bench/run_multiplex.py --reps 1 --seconds 2
    /usr/bin/python3 bench/run_multiplex.py --configs ours ours_mux proxy_fcgi

Each configuration is its own httpd in front of its own Go process (one
process, listening on a Unix socket of the run directory: an external
server). The ours_mux row is measured only when httpd accepts
"-multiplex" (apache2 -t on its configuration); until the option is
built, it is skipped with a message.

It reuses bench/run_peers.py's httpd configuration, wrk runs and parsing,
connection counting, idle-machine wait and process handling (stop by PID,
sweep of the run directory).
"""

import argparse
import copy
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_peers as rp  # noqa: E402  (bench/ is not a package)
import run_graceful_first as rgf  # noqa: E402  (its threads())

TOP = os.path.dirname(HERE)
GO_SRC = os.path.join(TOP, "tests", "apps", "go_hello.go")
APP_PATH = "/app.fcgi"     # the URL; <docroot>/app.fcgi is a placeholder
MAX_CONNS = 4              # ours_keep's -max-conns
SAMPLE_EVERY = 0.1         # s between looks at the app's connections
AFTER = 0.5                # s after a run: the connections still open
GO_BUILD_TIMEOUT = 300.0
CONFTEST_TIMEOUT = 30.0    # apache2 -t
GO_START_TIMEOUT = 20.0    # the Go app's socket
GO_STOP_TIMEOUT = 5.0      # SIGTERM, then SIGKILL
CHECKS = 3                 # GETs of the app checked before measuring

log = rp.log

# name, concurrency
WORKLOADS = [("hello_c16", 16), ("hello_c64", 64)]


# ------------------------------------------------------------------ configs

class Config:
    """One httpd and its Go process (the fields run_peers.Bench's
    start_config, own_pids, wrk and stop_httpd read)."""

    def __init__(self, key, title, peer, opts=None):
        self.key = key
        self.title = title
        self.peer = peer          # counts for "best peer"
        self.ours = opts is not None
        self.opts = opts          # FastCgiExternalServer options, ours
        self.tag = None
        self.pool = True          # start_config calls start_pool: Go
        self.pool_pids = []
        self.static = False
        self.php = False
        self.sock = None
        self.dir = None
        self.port = None
        self.proc = None          # httpd
        self.go = None            # the Go app's Popen
        self.failed = None
        self.skipped = None       # why it was not measured (not a failure)

    def url_path(self, kind):
        return APP_PATH


CONFIGS = [
    Config("ours", "mod_fastcgi_x: FastCgiExternalServer <docroot>/app.fcgi "
           "-socket S (a new connection per request)", False, ""),
    Config("ours_keep", "the same with -keep-conn -max-conns %d"
           % MAX_CONNS, False, "-keep-conn -max-conns %d" % MAX_CONNS),
    Config("ours_mux", "the same with -multiplex", False, "-multiplex"),
    Config("proxy_fcgi", 'mod_proxy_fcgi: <Files "app.fcgi"> SetHandler '
           '"proxy:unix:S|fcgi://localhost/"', True),
    Config("proxy_fcgi_reuse", 'the same + <Proxy "unix:S|fcgi://'
           'localhost/"> ProxySet enablereuse=on', True),
]


# ------------------------------------------------------------------ sampling

class ConnSampler(threading.Thread):
    """Every SAMPLE_EVERY s while a run lasts: the connected Unix-socket
    connections accepted on the app's socket (run_peers.unix_conns) and
    the Go process's thread count."""

    def __init__(self, sock, pid):
        super().__init__(daemon=True)
        self.sock = sock
        self.pid = pid
        self.conns = []
        self.threads = []
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(SAMPLE_EVERY):
            self.conns.append(len(rp.unix_conns(self.sock)))
            self.threads.append(rgf.threads(self.pid))

    def finish(self):
        self.done.set()
        self.join(5)


# ------------------------------------------------------------------ runner

class MultiplexBench(rp.Bench):
    """Inherits run_peers.Bench's start_config, http, wrk, summarize,
    own_pids, wait_idle and the stopping of httpd trees by PID."""

    def __init__(self, args):
        self.init_own(args)  # not Bench.__init__
        self.configs = [c for c in CONFIGS
                        if not args.configs or c.key in args.configs]
        self.go_app = None
        self.go_version = None
        self.results = {}         # (workload, key) -> [dict]
        self.errors = {}          # (workload, key) -> [str]
        self.contended = []
        self.tracked = {}
        self.sessions = {}
        self.crashed = False

    # ---------------------------------------------------------- setup

    def setup(self):
        self.tmp = rp.make_run_dir("fcgix-multiplex-", ("bin", "www",
                                                         "sock", "go"))
        # the Go apps run as User and make their sockets here
        shutil.chown(os.path.join(self.tmp, "sock"), rp.RUN_USER,
                     rp.RUN_USER)
        self.docroot = os.path.join(self.tmp, "www")
        # what <Files "app.fcgi"> and FastCgiExternalServer name; neither
        # module runs it
        with open(os.path.join(self.docroot, "app.fcgi"), "w"):
            pass
        if any(c.ours for c in self.configs):
            # a private copy: a rebuild of the tree during the run must not
            # change what is measured
            self.module_so = os.path.join(self.tmp, "bin",
                                          "mod_fastcgi_x.so")
            shutil.copy2(self.args.module, self.module_so)
            rp.describe_module("module", self.args.module)
            log("module tree: %s" % git_head())
        self.build_go()
        for cfg in self.configs:
            cfg.sock = os.path.join(self.tmp, "sock", cfg.key + ".sock")

    def build_go(self):
        """tests/apps/go_hello.go, built as test_pm_apps.py builds it:
        offline, standard library only, GOPATH mode, a cache of the run's
        own."""
        go = shutil.which("go")
        home = os.path.join(self.tmp, "go")
        env = dict(os.environ, HOME=home, GOCACHE=os.path.join(home, "cache"),
                   GO111MODULE="off", GOFLAGS="")
        self.go_app = os.path.join(self.tmp, "bin", "go_hello")
        t0 = time.monotonic()
        subprocess.run([go, "build", "-o", self.go_app, GO_SRC], check=True,
                       env=env, timeout=GO_BUILD_TIMEOUT,
                       stdin=subprocess.DEVNULL)
        self.go_version = subprocess.run(
            [go, "version"], capture_output=True, text=True, env=env,
            timeout=30).stdout.strip()
        log("built %s in %.1f s (%s)" % (os.path.relpath(GO_SRC, TOP),
                                         time.monotonic() - t0,
                                         self.go_version))

    def conf_text(self, cfg):
        """cfg's whole httpd.conf; run_peers' common part: mpm_event, one
        child of 128 threads, KeepAlive on, User www-data, its own
        ServerRoot, PidFile, runtime dir, ErrorLog and port."""
        app = os.path.join(self.docroot, "app.fcgi")
        if cfg.ours:
            extra = ("LoadModule fastcgi_x_module %s\n"
                     "FastCgiExternalServer %s -socket %s%s\n"
                     % (self.module_so, app, cfg.sock,
                        " " + cfg.opts if cfg.opts else ""))
            return rp.common_conf(cfg, self.docroot, []) + extra
        url = "unix:%s|fcgi://localhost/" % cfg.sock
        extra = ""
        if cfg.key == "proxy_fcgi_reuse":
            # max left at mod_proxy's default (ThreadsPerChild)
            extra = ('<Proxy "%s">\n'
                     '    ProxySet enablereuse=on\n'
                     '</Proxy>\n' % url)
        extra += ('<Files "app.fcgi">\n'
                  '    SetHandler "proxy:%s"\n'
                  '</Files>\n' % url)
        return rp.common_conf(cfg, self.docroot, ["proxy", "proxy_fcgi"]) \
            + extra

    def config_test(self, cfg):
        """apache2 -t on cfg's configuration, written into a directory of
        its own: None when httpd accepts it, else httpd's message (paths
        in that directory shortened to their names)."""
        probe = copy.copy(cfg)
        probe.dir = os.path.join(self.tmp, cfg.key + "-conftest")
        probe.port = self.free_port()
        os.makedirs(os.path.join(probe.dir, "run"), 0o755)
        conf = os.path.join(probe.dir, "httpd.conf")
        with open(conf, "w") as f:
            f.write(self.conf_text(probe))
        try:
            out = subprocess.run([rp.APACHE, "-t", "-f", conf],
                                 capture_output=True, text=True,
                                 timeout=CONFTEST_TIMEOUT,
                                 stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        except subprocess.TimeoutExpired:
            return "apache2 -t did not finish within %.0f s" \
                % CONFTEST_TIMEOUT
        if out.returncode == 0:
            return None
        # the run directory's name out of the message, so that what is
        # matched in it is httpd's words
        text = (out.stdout + out.stderr).replace(probe.dir + "/", "")
        lines = [x.strip() for x in text.splitlines()
                 if x.strip() and "Syntax OK" not in x]
        return " | ".join(lines)[:400] or "exit %d" % out.returncode

    def start_pool(self, cfg):
        """cfg's Go app (run_peers.Bench.start_config calls this before
        httpd starts): one process listening on cfg.sock itself, as User,
        on the server CPU (GOMAXPROCS follows the CPU mask: 1); waits,
        bounded, for its socket."""
        out = open(os.path.join(self.tmp, "go", cfg.key + ".log"), "wb")
        cfg.go = subprocess.Popen(
            ["taskset", "-c", rp.SERVER_CPU, self.go_app, "unix:" + cfg.sock],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, user=rp.RUN_USER, group=rp.RUN_USER,
            extra_groups=[], env={"PATH": "/usr/bin:/bin"}, cwd="/")
        out.close()
        ident = rp.proc_ident(cfg.go.pid)
        if ident:
            self.sessions[cfg.go.pid] = ident[0]
        cfg.pool_pids = [cfg.go.pid]
        deadline = time.monotonic() + GO_START_TIMEOUT
        while time.monotonic() < deadline:
            if cfg.go.poll() is not None:
                raise RuntimeError("the Go app exited with %d: %s" % (
                    cfg.go.returncode, self.go_log(cfg)))
            try:
                if stat.S_ISSOCK(os.stat(cfg.sock).st_mode):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the Go app made no socket within %.0f s"
                           % GO_START_TIMEOUT)

    def go_log(self, cfg):
        try:
            with open(os.path.join(self.tmp, "go", cfg.key + ".log"),
                      errors="replace") as f:
                return f.read().strip()[-400:]
        except OSError:
            return ""

    def expect(self, cfg):
        return ("go %d %s\n" % (cfg.go.pid, APP_PATH)).encode()

    def verify(self, cfg):
        """CHECKS GETs of the app and one with ?sleep=1: each 200 with
        the body of cfg's own Go process. Raises otherwise."""
        for path in [APP_PATH] * CHECKS + [APP_PATH + "?sleep=1"]:
            status, body = self.http(cfg, "GET", path)
            if status != 200 or body != self.expect(cfg):
                raise RuntimeError("GET %s: %d %r, want 200 %r" % (
                    path, status, body[:80], self.expect(cfg)))

    def start_all(self):
        for cfg in self.configs:
            why = self.config_test(cfg)
            if why and cfg.key == "ours_mux" and "-multiplex" in why:
                # httpd's line that names the option, without the list of
                # valid options after it
                said = next(x for x in why.split(" | ") if "-multiplex" in x)
                cfg.skipped = ("not built yet: -multiplex is refused by "
                               "this module (apache2 -t: %s)"
                               % said.split(";")[0])
                log("SKIPPED %s: %s" % (cfg.key, cfg.skipped))
                continue
            if why:
                cfg.failed = "apache2 -t: " + why
                log("FAILED %s: %s" % (cfg.key, cfg.failed))
                continue
            try:
                self.start_config(cfg)
                self.verify(cfg)
                log("started %-16s port %d, Go pid %d: checks passed (GET "
                    "%s x%d and ?sleep=1: 200, %r)" % (
                        cfg.key, cfg.port, cfg.go.pid, APP_PATH, CHECKS,
                        self.expect(cfg).decode()))
            except Exception as e:  # noqa: BLE001 - report and go on
                cfg.failed = "start/verify: %s" % " | ".join(
                    x.strip() for x in str(e).splitlines() if x.strip())
                log("FAILED %s: %s" % (cfg.key, cfg.failed))

    # ---------------------------------------------------------- measuring

    def run_one(self, name, conns, cfg):
        """wrk -cconns: --warmup s unmeasured, then --seconds measured with
        the app's connections and threads sampled; the connections still
        open AFTER s later."""
        self.wrk(cfg, "hello", conns, self.args.warmup)
        cpu0 = rp.snapshot_cpu()
        sampler = ConnSampler(cfg.sock, cfg.go.pid)
        sampler.start()
        try:
            r = self.wrk(cfg, "hello", conns, self.args.seconds)
        finally:
            sampler.finish()
        hot = rp.foreign_since(cpu0, self.own_pids(), 1.0)
        time.sleep(AFTER)
        r["after"] = len(rp.unix_conns(cfg.sock))
        r["conns"] = sampler.conns
        r["threads"] = max(sampler.threads) if sampler.threads else 0
        r["go_rss"] = rp.rss_bytes(cfg.go.pid)
        r["foreign"] = sum(p for p, _ in hot)
        r["foreign_top"] = hot[0][1][:60] if hot else ""
        if "rps" in r:
            r["metric"] = r["rps"]
        return r, self.record((name, cfg.key), r)

    def measure(self, live):
        """For each repetition, each workload, every configuration in
        turn, the first one rotating (as run_peers.py does)."""
        reps = self.args.reps
        log("\nmeasuring: %d repetitions x %d workloads x %d configs, %d s "
            "warm-up + %d s each; app connections sampled every %.0f ms"
            % (reps, len(WORKLOADS), len(live), self.args.warmup,
               self.args.seconds, SAMPLE_EVERY * 1e3))
        for rep in range(reps):
            for wi, (name, conns) in enumerate(WORKLOADS):
                for cfg in rp.in_turn(live, rep, wi, len(WORKLOADS)):
                    r, problems = self.run_one(name, conns, cfg)
                    log("[rep %d/%d] %s %-16s %s%s%s" % (
                        rep + 1, reps, name, cfg.key, progress(r),
                        "  (other processes: %.0f%% CPU)" % r["foreign"]
                        if r["foreign"] >= 5 else "",
                        ("  !! " + problems) if problems else ""))
                    if r["foreign"] >= 20:
                        self.contended.append(
                            "rep %d %s %s: other processes used %.0f%% CPU "
                            "(most: %s)" % (rep + 1, name, cfg.key,
                                            r["foreign"], r["foreign_top"]))

    def run(self):
        self.setup()
        self.start_all()
        live = [c for c in self.configs if not c.failed and not c.skipped]
        if live:
            for cfg in live:   # unmeasured: the Go runtime warms up
                self.wrk(cfg, "hello", 16, 2)
            self.wait_idle()
            self.measure(live)
        self.report(live)

    # ---------------------------------------------------------- report

    def conn_summary(self, name, cfg):
        """(max, median, median still open after) of the app's
        connections over cfg's runs of name, and the Go threads' max."""
        rs = self.results.get((name, cfg.key), [])
        samples = [n for r in rs for n in r["conns"]]
        if not samples:
            return None
        return (max(samples), rp.med(samples),
                rp.med([r["after"] for r in rs]),
                max(r["threads"] for r in rs))

    def report(self, live):
        log("\n" + "=" * 78)
        log("RESULTS: medians of %d repetitions, %d s each (noise = "
            "(max-min)/median); Apache %s, mpm_event 1 child x 128 threads, "
            "httpd and the Go app on CPU %s, wrk -t1 on CPU %s; %s"
            % (self.args.reps, self.args.seconds, rp.apache_version(),
               rp.SERVER_CPU, rp.CLIENT_CPU, self.go_version))
        log("conns: connected Unix-socket connections to the app's socket "
            "(/proc/net/unix), sampled every %.0f ms while wrk runs: max / "
            "median over the samples, and (after) still open %.1f s after "
            "the run; Go threads: the process's, max over the samples; Go "
            "RSS: at the end of each run, max" % (SAMPLE_EVERY * 1e3, AFTER))
        for cfg in self.configs:
            log("  %-16s %s" % (cfg.key, cfg.title))
        summary = {}
        for name, _ in WORKLOADS:
            log("\n%s (req/s)" % name)
            log("  %-16s %10s %7s %9s %9s %8s %14s %8s" % (
                "config", "req/s", "noise", "p50 ms", "p99 ms", "errors",
                "conns max/med", "threads"))
            for cfg in live:
                s = self.summarize(name, cfg)
                c = self.conn_summary(name, cfg)
                if s is None or c is None:
                    continue
                summary[(name, cfg.key)] = s
                log("  %-16s %10s %6.0f%% %9.3f %9.3f %8d %8d/%-5g %8d" % (
                    cfg.key, rp.fmt_num(s["m"]), 100 * s["noise"], s["p50"],
                    s["p99"], s["errs"], c[0], c[1], c[3]))
            for cfg in live:
                if cfg.ours and (name, cfg.key) in summary:
                    log("  " + rp.ratio_line(summary, self.results, name,
                                             live, cfg.key))
        self.table(summary, live)
        self.report_failures()

    def table(self, summary, live):
        log("\n| config | hello c16 req/s | c16 p99 ms | c16 conns max/med "
            "(after) | hello c64 req/s | c64 p99 ms | c64 conns max/med "
            "(after) | Go threads max, RSS MiB | non-2xx, errors |")
        log("|---|---|---|---|---|---|---|---|---|")
        for cfg in self.configs:
            if cfg.skipped or cfg.failed:
                log("| %s | %s | | | | | | | |" % (
                    cfg.key, cfg.skipped.split(" (")[0] if cfg.skipped
                    else "FAILED: " + cfg.failed))
                continue
            cells, threads, non2xx, errs = [], 0, 0, 0
            rss = max((r["go_rss"] for name, _ in WORKLOADS
                       for r in self.results.get((name, cfg.key), [])),
                      default=0)
            for name, _ in WORKLOADS:
                s = summary.get((name, cfg.key))
                c = self.conn_summary(name, cfg)
                if not s or not c:
                    cells += ["-", "-", "-"]
                    continue
                cells += [rp.fmt_num(s["m"]), rp.fmt_ms(s["p99"]),
                          "%d/%g (%g)" % (c[0], c[1], c[2])]
                threads = max(threads, c[3])
                errs += s["errs"]
                non2xx += sum(r.get("non2xx", 0) for r in
                              self.results.get((name, cfg.key), []))
            log("| %s | %s | %d, %.1f | %d, %d |" % (
                cfg.key, " | ".join(cells), threads, rss / rp.MIB, non2xx,
                errs))
        for cfg in live:
            if not cfg.ours:
                continue
            cells = []
            for name, _ in WORKLOADS:
                r = rp.best_peer_ratio(summary, name, live, cfg.key)
                rr = rp.per_rep_ratios(self.results, name, live, cfg.key)
                cells += ["%.2fx (%s; per rep. %s)" % (
                    r[0], r[1], rp.fmt_rep_ratios(rr)) if r else "-",
                    rp.best_peer_p99(summary, name, live, cfg.key), ""]
            log("| **%s / best peer** | %s | | |" % (cfg.key,
                                                    " | ".join(cells)))

    def report_failures(self):
        log("")
        for cfg in self.configs:
            if cfg.skipped:
                log("SKIPPED config %s: %s" % (cfg.key, cfg.skipped))
        bad = self.log_failed(self.configs)
        for note in self.contended:
            log("contention: " + note)
        for cfg in self.configs:
            rp.log_error_lines(cfg)
            text = self.go_log(cfg) if cfg.go else ""
            if text:
                log("the Go app of %s wrote: %s" % (cfg.key, text))
        if not bad:
            log("no failed configuration, no wrk errors")

    def failed_any(self):
        return self.crashed or bool(self.errors) or any(
            c.failed for c in self.configs)

    # ---------------------------------------------------------- teardown

    def stop_go(self, cfg):
        """SIGTERM to cfg's Go app, SIGKILL after GO_STOP_TIMEOUT; by the
        Popen's pid, which stays ours until it is waited for."""
        p = cfg.go
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(GO_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log("Go app of %s (pid %d) ignored SIGTERM; killing" % (
                cfg.key, p.pid))
            p.kill()
            p.wait(5)

    def stop(self):
        """Every httpd (SIGTERM, then SIGKILL to its recorded tree), then
        every Go app, then anything still running from the run directory
        or from a session this run started, by PID; each step bounded,
        each run even if one before it failed. The run directory is
        removed unless --keep or something failed."""
        steps = [lambda c=c: self.stop_httpd(c) for c in self.configs]
        steps += [lambda c=c: self.stop_go(c) for c in self.configs]
        if self.tmp:
            steps.append(self.sweep)
        rp.run_cleanup_steps(steps)
        if self.tmp:
            if self.args.keep or self.failed_any():
                log("run dir kept: %s" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------------ format

def progress(r):
    if "rps" not in r:
        return "-"
    c = r["conns"]
    return ("%8s req/s p50 %6.2f ms p99 %7.2f ms  conns max %d med %g "
            "after %d  Go threads %d, RSS %.1f MiB" % (
                rp.fmt_num(r["rps"]), r["p50"], r["p99"],
                max(c) if c else 0, rp.med(c), r["after"], r["threads"],
                r["go_rss"] / rp.MIB))


def git_head():
    try:
        out = subprocess.run(["git", "-C", TOP, "log", "--oneline", "-1"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.stdout.strip()[:100] or "?"


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3,
                    help="measured seconds per run (whole seconds)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--configs", nargs="*", metavar="KEY",
                    help="subset of: " + " ".join(c.key for c in CONFIGS))
    ap.add_argument("--module",
                    default=os.path.join(TOP, ".libs", "mod_fastcgi_x.so"))
    ap.add_argument("--no-idle-wait", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the run dir")
    args = ap.parse_args()
    if args.reps < 1 or args.seconds < 1 or args.warmup < 1:
        ap.error("--reps, --seconds and --warmup must be >= 1")
    if args.configs:
        unknown = set(args.configs) - {c.key for c in CONFIGS}
        if unknown:
            ap.error("unknown configs: %s" % " ".join(sorted(unknown)))
    chosen = [c for c in CONFIGS if not args.configs or c.key in
              args.configs]
    if not chosen:
        ap.error("no configuration chosen")
    if os.geteuid() != 0:
        ap.error("run as root (httpd switches to User %s)" % rp.RUN_USER)
    if os.cpu_count() is None or os.cpu_count() < 2:
        ap.error("needs 2 CPUs (server on CPU 1, wrk on CPU 0)")
    if any(c.ours for c in chosen) and not os.path.exists(args.module):
        ap.error("no module at %s: make -f Makefile.apxs" % args.module)
    if any(not c.ours for c in chosen) and not os.path.exists(
            os.path.join(rp.MODDIR, "mod_proxy_fcgi.so")):
        ap.error("no mod_proxy_fcgi.so in %s (apache2-bin)" % rp.MODDIR)
    for tool, pkg in (("wrk", "wrk"), ("taskset", "util-linux"),
                      ("go", "golang-go")):
        if not shutil.which(tool):
            ap.error("%s not found (apt-get install %s)" % (tool, pkg))
    os.sched_setaffinity(0, {int(rp.CLIENT_CPU)})

    bench = MultiplexBench(args)
    if rp.run_guarded(bench) is not None:
        return 130
    return 1 if bench.failed_any() else 0


if __name__ == "__main__":
    sys.exit(main())
