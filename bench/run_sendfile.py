#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain a
# copy of the License at http://www.apache.org/licenses/LICENSE-2.0
"""X-Sendfile of a 100 MiB file against the same file served statically.

The floor of issue 16's X-Sendfile (item 2): an app answering
"X-Sendfile: /abs/path" under FastCgiSendfilePath must reach at least
0.9x the throughput of the same file served statically by the same httpd.
A benchmark, not a test: see bench/README.md (section run_sendfile.py)
and shared/reference/benchmarking.md. Python 3 standard library only;
needs root (Apache runs as User www-data), wrk, spawn-fcgi, taskset, a C
compiler, libfcgi-dev and Debian's apache2-bin; strace for the check of
how each response is sent (skipped with a message without it).

    /usr/bin/python3 bench/run_sendfile.py                 # REPS=3, D=5 s
    /usr/bin/python3 bench/run_sendfile.py --reps 1 --duration 2
    /usr/bin/python3 bench/run_sendfile.py --sendfile off  # EnableSendfile Off

It reuses bench/run_peers.py's httpd configuration, spawn-fcgi pool, wrk
runs and parsing, idle-machine wait and process handling (stop by PID,
sweep of the run directory).
"""

import argparse
import hashlib
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_peers as rp  # noqa: E402  (bench/ is not a package)

TOP = os.path.dirname(HERE)
MIB = rp.MIB
FILE_NAME = "big.bin"
FILE_SIZE = 100 * MIB
KINDS = ("static", "xsendfile")
CONNS = (1, 4)
FLOOR = 0.9
# A file outside FastCgiSendfilePath that exists and www-data can read:
# the module must answer 403 for it (404 would mean it was not found).
OUTSIDE = ("/etc/hostname", "/etc/passwd")
STOP_POOL_TIMEOUT = 5.0
# The system calls shown by the check of how each response is sent.
PATH_CALLS = ("sendfile", "mmap", "read", "pread64", "write", "writev")

log = rp.log


# ------------------------------------------------------------------ config

class Config:
    """The one httpd of the run and its spawn-fcgi pool (run_peers.Bench's
    start_config and start_pool start them)."""

    def __init__(self, key):
        self.key = key
        self.tag = None
        self.pool = True          # (run_peers.Bench.start_config reads it)
        self.pool_pids = []       # (run_peers.Bench.own_pids reads it)
        self.sock = None
        self.dir = None
        self.port = None
        self.proc = None
        self.failed = None
        self.big = None           # the file's absolute path

    def url_path(self, kind):
        if kind == "static":
            return "/files/" + FILE_NAME
        # the path as it is: mkdtemp's names need no percent-encoding
        return "/app.fcgi?sendfile=" + self.big


def transfer_mbps(text):
    """wrk's Transfer/sec (binary units: 1 GB = 2^30 bytes) in MB/s of
    10^6 bytes, or None."""
    m = re.search(r"Transfer/sec:\s+([\d.]+)([KMGTP]?)B\b", text)
    if not m:
        return None
    scale = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}[m.group(2)]
    return float(m.group(1)) * 1024 ** scale / 1e6


def verdict(ok):
    return "PASS" if ok else "BELOW"


# ------------------------------------------------------------------ runner

class SendfileBench(rp.Bench):
    """Inherits run_peers.Bench's start_config, start_pool, wrk,
    wait_idle and the stopping of httpd trees by PID; the rest is its
    own."""

    def __init__(self, args):
        self.init_own(args)  # not Bench.__init__
        self.files = None
        self.digest = None
        self.cfg = Config("sendfile")
        self.configs = [self.cfg]
        self.throwaways = []
        self.tracked = {}         # pid -> start time: httpd trees, for stop()
        self.sessions = {}        # httpd pid (= its session id) -> start
        self.pool_idents = {}     # spawn-fcgi child pid -> start time
        self.results = {}         # (conns, kind) -> [dict]
        self.errors = {}          # (conns, kind) -> [str]
        self.contended = []
        self.path_notes = []      # how each response was sent, mismatches
        self.crashed = False

    # ---------------------------------------------------------- setup

    def setup(self):
        self.tmp = rp.make_run_dir("fcgix-sendfile-", ("bin", "www", "sock", "files"))
        self.app = os.path.join(self.tmp, "bin", "bench_app")
        subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra",
                        "-Werror", "-o", self.app,
                        os.path.join(HERE, "bench_app.c"), "-lfcgi"],
                       check=True, timeout=120)
        # A private copy: a rebuild of the tree during the run must not
        # change what is measured.
        self.module_so = os.path.join(self.tmp, "bin", "mod_fastcgi_x.so")
        shutil.copy2(self.args.module, self.module_so)
        rp.describe_module("module", self.args.module)
        self.docroot = os.path.join(self.tmp, "www")
        # as in run_peers.py (FastCgiExternalServer does not run it)
        shutil.copy2(self.app, os.path.join(self.docroot, "app.fcgi"))
        os.chmod(os.path.join(self.docroot, "app.fcgi"), 0o755)
        self.files = os.path.join(self.tmp, "files")
        self.cfg.big = os.path.join(self.files, FILE_NAME)
        t0 = time.monotonic()
        self.digest = write_file(self.cfg.big)
        log("wrote %s: %d bytes, sha256 %s (%.1f s)" % (
            self.cfg.big, FILE_SIZE, self.digest, time.monotonic() - t0))

    def start_pool(self, cfg):
        """run_peers' spawn-fcgi pool (4 processes on the server CPU), with
        each process's start time noted so that stop() signals only
        them."""
        try:
            super().start_pool(cfg)
        finally:
            for pid in cfg.pool_pids:
                ident = rp.proc_ident(pid)
                if ident:
                    self.pool_idents[pid] = ident[0]

    def conf_text(self, cfg):
        """The whole httpd.conf: run_peers' common part (EnableSendfile
        set by --sendfile), our module in front of the pool, the file's
        directory allowed for X-Sendfile and aliased for the static
        case."""
        extra = ("LoadModule fastcgi_x_module {so}\n"
                 "FastCgiExternalServer {app} -socket {sock} -keep-conn\n"
                 "FastCgiSendfilePath {files}\n"
                 "AddType application/octet-stream .bin\n"
                 'Alias /files/ "{files}/"\n'
                 '<Directory "{files}">\n'
                 "    Options None\n"
                 "    AllowOverride None\n"
                 "    Require all granted\n"
                 "</Directory>\n").format(
                     so=self.module_so,
                     app=os.path.join(self.docroot, "app.fcgi"),
                     sock=cfg.sock, files=self.files)
        text = rp.common_conf(cfg, self.docroot, ["alias"]) + extra
        line = "EnableSendfile %s\n" % self.sendfile_word()
        assert text.count("EnableSendfile On\n") == 1, "common_conf changed"
        return text.replace("EnableSendfile On\n", line)

    def sendfile_word(self):
        return "On" if self.args.sendfile == "on" else "Off"

    # ---------------------------------------------------------- checks

    def fetch(self, path):
        """(status, headers {lowercase name: value}, body length, body
        sha256) of one GET on a new connection, the body hashed as it
        comes."""
        conn = http.client.HTTPConnection("127.0.0.1", self.cfg.port,
                                          timeout=rp.HTTP_TIMEOUT)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            headers = {k.lower(): v for k, v in resp.getheaders()}
            h = hashlib.sha256()
            n = 0
            while True:
                chunk = resp.read(MIB)
                if not chunk:
                    break
                h.update(chunk)
                n += len(chunk)
            return resp.status, headers, n, h.hexdigest()
        finally:
            conn.close()

    def verify(self, cfg):
        """Raises unless both ways serve the whole file (200, its
        Content-Length, its sha256; no X-Sendfile header reaches the
        client) and a file outside FastCgiSendfilePath is refused
        with 403."""
        for kind in KINDS:
            t0 = time.monotonic()
            status, headers, n, digest = self.fetch(cfg.url_path(kind))
            secs = time.monotonic() - t0
            want_len = str(FILE_SIZE)
            problems = []
            if status != 200:
                problems.append("status %d" % status)
            if headers.get("content-length") != want_len:
                problems.append("Content-Length %s, want %s" % (
                    headers.get("content-length"), want_len))
            if n != FILE_SIZE:
                problems.append("%d body bytes, want %d" % (n, FILE_SIZE))
            if digest != self.digest:
                problems.append("body sha256 %s, want %s" % (digest,
                                                             self.digest))
            if "x-sendfile" in headers:
                problems.append("X-Sendfile header reached the client")
            if problems:
                raise RuntimeError("GET %s (%s): %s" % (
                    cfg.url_path(kind), kind, "; ".join(problems)))
            log("check %-9s GET %s: 200, Content-Length %s, sha256 "
                "matches (%.2f s)" % (kind, cfg.url_path(kind), want_len,
                                      secs))
        outside = next((p for p in OUTSIDE if os.path.isfile(p)), None)
        if outside is None:
            raise RuntimeError("none of %s exists for the 403 check"
                               % ", ".join(OUTSIDE))
        path = "/app.fcgi?sendfile=" + outside
        status, _, n, _ = self.fetch(path)
        if status != 403:
            raise RuntimeError("GET %s: %d, want 403" % (path, status))
        log("check outside   GET %s: 403 (%d body bytes)" % (path, n))

    def path_check(self):
        """How each way sends the file: strace -c -f on httpd's processes
        other than the parent during one GET of each, counting
        sendfile() and the read/write calls. Only the counts mean
        something (strace slows everything down). Both ways should send
        it alike: by sendfile() with EnableSendfile On, without it with
        Off."""
        if self.args.no_strace:
            self.path_notes.append("not checked (--no-strace)")
            return
        if shutil.which("strace") is None:
            self.path_notes.append("not checked: no strace (apt-get "
                                   "install strace)")
            log("how each response is sent: " + self.path_notes[-1])
            return
        cfg = self.cfg
        seen = {}
        for kind in KINDS:
            pids = [p for p in rp.apache_pids(cfg) if p != cfg.proc.pid]
            if not pids:
                self.path_notes.append("%s: not checked (no httpd child)"
                                       % kind)
                log("how %s is sent: %s" % (kind, self.path_notes[-1]))
                continue
            out = os.path.join(self.tmp, "strace-%s.txt" % kind)
            cmd = ["strace", "-c", "-f", "-qq", "-o", out]
            for pid in pids:
                cmd += ["-p", str(pid)]
            tracer = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL,
                                      start_new_session=True)
            ident = rp.proc_ident(tracer.pid)
            if ident:   # stopped by stop() too, should the run die
                self.tracked[tracer.pid] = ident[0]
            try:
                time.sleep(1.0)   # attached to every thread
                status, _, n, _ = self.fetch(cfg.url_path(kind))
            finally:
                rp.kill(tracer.pid, signal.SIGINT)
                try:
                    tracer.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    rp.kill(tracer.pid, signal.SIGKILL)
                    tracer.wait(timeout=10)
            calls = rp.parse_strace(out)
            if status != 200 or n != FILE_SIZE:
                self.path_notes.append("%s: not checked (GET under strace: "
                                       "%d, %d bytes)" % (kind, status, n))
            elif not calls:
                self.path_notes.append("%s: not checked (no strace "
                                       "counts)" % kind)
            else:
                seen[kind] = calls.get("sendfile", 0) + calls.get(
                    "sendfile64", 0)
                self.path_notes.append("%s: %s" % (kind, ", ".join(
                    "%s %d" % (c, calls.get(c, 0)) for c in PATH_CALLS)))
            log("how %s is sent (strace -c, one GET): %s" % (
                kind, self.path_notes[-1]))
        if len(seen) == len(KINDS):
            used = {k: v > 0 for k, v in seen.items()}
            want = self.args.sendfile == "on"
            if len(set(used.values())) > 1:
                self.path_notes.append(
                    "WARNING: the two are not sent alike: sendfile() used "
                    "by %s only, with EnableSendfile %s; the comparison is "
                    "not like for like" % (
                        " and ".join(k for k, v in used.items() if v),
                        self.sendfile_word()))
            elif used["static"] != want:
                self.path_notes.append(
                    "NOTE: both ways sent %s sendfile() although "
                    "EnableSendfile is %s" % ("without" if want else "with",
                                              self.sendfile_word()))
            else:
                self.path_notes.append(
                    "both sent alike: %s sendfile() (EnableSendfile %s)" % (
                        "with" if want else "without",
                        self.sendfile_word()))
            log("  " + self.path_notes[-1])

    # ---------------------------------------------------------- runs

    def run_one(self, kind, conns):
        cfg = self.cfg
        self.wrk(cfg, kind, conns, self.args.warmup)
        cpu0 = rp.snapshot_cpu()
        r = self.wrk(cfg, kind, conns, self.args.duration)
        hot = rp.foreign_since(cpu0, self.own_pids(), 1.0)
        r["foreign"] = sum(p for p, _ in hot)
        r["foreign_top"] = hot[0][1][:60] if hot else ""
        # counted even when no response completed (then also an error):
        # Transfer/sec counts every byte read
        mbps = transfer_mbps(r.get("raw", ""))
        if mbps is not None:
            r["mbps"] = mbps
        elif "error" not in r:
            r["error"] = "no Transfer/sec from wrk"
        return r, self.record((conns, kind), r)

    def measure(self):
        """For each repetition and concurrency, static and X-Sendfile in
        turn, the first one alternating."""
        reps = self.args.reps
        log("\nmeasuring: %d repetitions x %d concurrencies x %d ways, "
            "%d s warm-up + %d s each (wrk -t1 -cC -dDs)" % (
                reps, len(CONNS), len(KINDS), self.args.warmup,
                self.args.duration))
        for rep in range(reps):
            cpu0 = rp.snapshot_cpu()
            for ci, conns in enumerate(CONNS):
                for kind in rp.in_turn(KINDS, rep, ci, len(CONNS)):
                    r, problems = self.run_one(kind, conns)
                    log("[rep %d/%d] c%d %-9s %s%s%s" % (
                        rep + 1, reps, conns, kind,
                        "%8s MB/s  %5d responses" % (
                            rp.fmt_num(r["mbps"]), r.get("requests", 0))
                        if "mbps" in r else "       - MB/s",
                        "  (other processes: %.0f%% CPU)" % r["foreign"]
                        if r["foreign"] >= 5 else "",
                        ("  !! " + problems) if problems else ""))
                    if r["foreign"] >= 20:
                        self.contended.append(
                            "rep %d c%d %s: other processes used %.0f%% CPU"
                            " (most: %s)" % (rep + 1, conns, kind,
                                             r["foreign"], r["foreign_top"]))
            hot = rp.foreign_since(cpu0, self.own_pids())
            if hot:
                note = "rep %d: other processes used CPU: %s" % (
                    rep + 1, ", ".join("%s %.0f%%" % (c[:40], p)
                                       for p, c in hot))
                self.contended.append(note)
                log("  note: " + note)

    def run(self):
        self.setup()
        cfg = self.cfg
        try:
            self.start_config(cfg)
            log("started httpd pid %d port %d: FastCgiExternalServer "
                "-socket -keep-conn to bench_app (spawn-fcgi x %d), "
                "FastCgiSendfilePath %s, EnableSendfile %s" % (
                    cfg.proc.pid, cfg.port, rp.APP_PROCS, self.files,
                    self.sendfile_word()))
            self.verify(cfg)
        except Exception as e:  # noqa: BLE001 - reported, nothing measured
            cfg.failed = "start/verify: %s" % " | ".join(
                x.strip() for x in str(e).splitlines() if x.strip())
            log("FAILED: %s" % cfg.failed)
            self.report()
            return
        try:
            self.path_check()
        except Exception as e:  # noqa: BLE001 - a note, not a failure
            self.path_notes.append("check failed: %s" % e)
            log("how each response is sent: " + self.path_notes[-1])
        self.wait_idle()
        self.measure()
        self.report()

    # ---------------------------------------------------------- report

    def report(self):
        log("\n" + "=" * 78)
        log("RESULTS: medians of %d repetitions, %d s each (noise = "
            "(max-min)/median)" % (self.args.reps, self.args.duration))
        log("Apache %s, mpm_event 1 child x 128 threads, EnableSendfile %s; "
            "httpd and bench_app (spawn-fcgi x %d, -keep-conn) on CPU %s, "
            "wrk -t1 on CPU %s" % (rp.apache_version(), self.sendfile_word(),
                                   rp.APP_PROCS, rp.SERVER_CPU,
                                   rp.CLIENT_CPU))
        log("file: %d bytes; static = GET %s (Alias), xsendfile = GET "
            "/app.fcgi?sendfile=<file> (the app answers X-Sendfile, no "
            "body)" % (FILE_SIZE, self.cfg.url_path("static")))
        log("MB/s = wrk's Transfer/sec (bytes read, headers included) in "
            "10^6 bytes/s")
        if self.cfg.failed:
            log("\nnothing measured: %s" % self.cfg.failed)
        else:
            for conns in CONNS:
                self.report_conns(conns)
        if self.path_notes:
            log("\nhow each response is sent (strace -c, one GET each):")
            for note in self.path_notes:
                log("  " + note)
        self.report_failures()

    def report_conns(self, conns):
        log("\nc%d (MB/s)" % conns)
        log("  %-10s %10s %7s %8s  %s" % ("way", "MB/s", "noise", "errors",
                                          "runs"))
        meds = {}
        for kind in KINDS:
            rs = self.results.get((conns, kind), [])
            vals = [r["mbps"] for r in rs if "mbps" in r]
            if not vals:
                log("  %-10s %10s" % (kind, "-"))
                continue
            m = rp.med(vals)
            meds[kind] = m
            log("  %-10s %10s %6.0f%% %8d  %s" % (
                kind, rp.fmt_num(m),
                100 * (max(vals) - min(vals)) / m if m else 0,
                sum(r.get("nerr", 0) for r in rs),
                "/".join(rp.fmt_num(v) for v in vals)))
        errs = any(self.errors.get((conns, k)) for k in KINDS)
        if len(meds) < len(KINDS) or not meds["static"]:
            log("  c%d floor %.1fx: NOT CHECKED (no result for %s)" % (
                conns, FLOOR, " and ".join(k for k in KINDS
                                           if not meds.get(k))))
            return
        ratio = meds["xsendfile"] / meds["static"]
        per_rep = [x["mbps"] / s["mbps"] for x, s in zip(
            self.results.get((conns, "xsendfile"), []),
            self.results.get((conns, "static"), []))
            if "mbps" in x and "mbps" in s and s["mbps"]]
        log("  xsendfile / static: %.3fx; per repetition: %s" % (
            ratio, rp.fmt_rep_ratios(per_rep)))
        log("  c%d floor %.1fx: %s (xsendfile / static %.3fx)%s" % (
            conns, FLOOR, verdict(ratio >= FLOOR), ratio,
            "  (wrk errors: see below)" if errs else ""))

    def report_failures(self):
        log("")
        bad = bool(self.cfg.failed)
        if self.cfg.failed:
            log("FAILED: %s" % self.cfg.failed)
        for (conns, kind), probs in sorted(self.errors.items()):
            bad = True
            log("errors in c%d / %s: %s" % (conns, kind, "; ".join(probs)))
        for note in self.contended:
            log("contention: " + note)
        if self.cfg.dir:
            lines = rp.error_log_lines(self.cfg)
            if lines:
                log("error_log: %d error lines (the 403 check logs one "
                    "FCGIX00028 line), kinds:" % sum(n for n, _ in lines))
                for n, text in lines[:8]:
                    log("  %6dx %s" % (n, text))
        if not bad:
            log("no failure, no wrk errors")

    # ---------------------------------------------------------- teardown

    def stop_pool(self):
        """SIGTERM to each spawn-fcgi child still the one started (same
        pid and start time), SIGKILL after STOP_POOL_TIMEOUT."""
        def ours(pid):
            ident = rp.proc_ident(pid)
            return ident is not None and ident[0] == \
                self.pool_idents.get(pid) and rp.alive(pid)

        for pid in self.pool_idents:
            if ours(pid):
                rp.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_POOL_TIMEOUT
        for pid in self.pool_idents:
            while ours(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if ours(pid):
                log("app pid %d ignored SIGTERM; killing" % pid)
                rp.kill(pid, signal.SIGKILL)

    def stop(self):
        """Stops httpd (its tree by PID), then the pool, then kills, by
        PID, anything still running from the run directory or httpd's
        session; each step bounded and run even when one before failed."""
        steps = [lambda: self.stop_httpd(self.cfg), self.stop_pool]
        if self.tmp:
            steps.append(self.sweep)
        rp.run_cleanup_steps(steps)
        if self.tmp:
            failed = self.cfg.failed or self.errors or self.crashed
            if self.args.keep or failed:
                log("run dir kept: %s (holds the %d MiB file)" % (
                    self.tmp, FILE_SIZE // MIB))
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


def write_file(path):
    """Writes FILE_SIZE bytes that do not repeat (SHAKE-256 of each MiB's
    index, so the same on every run) to path, synced to disk so that no
    write-back runs during the measurement; returns their sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(FILE_SIZE // MIB):
            block = hashlib.shake_256(b"run_sendfile.py block %d" % i) \
                .digest(MIB)
            h.update(block)
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, 0o644)
    return h.hexdigest()


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int,
                    default=int(os.environ.get("BENCH_REPS", 3)))
    ap.add_argument("--duration", type=int,
                    default=int(os.environ.get("BENCH_DURATION", 5)),
                    help="measured seconds per run (whole seconds)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--sendfile", choices=("on", "off"), default="on",
                    help="httpd's EnableSendfile for both ways (httpd's "
                    "own default is off; default here: on)")
    ap.add_argument("--module",
                    default=os.path.join(TOP, ".libs", "mod_fastcgi_x.so"))
    ap.add_argument("--no-idle-wait", action="store_true")
    ap.add_argument("--no-strace", action="store_true",
                    help="skip the check of how each response is sent")
    ap.add_argument("--keep", action="store_true", help="keep the run dir")
    args = ap.parse_args()
    if args.reps < 1 or args.duration < 1 or args.warmup < 1:
        ap.error("--reps, --duration and --warmup must be >= 1")
    if os.geteuid() != 0:
        ap.error("run as root (httpd switches to User %s)" % rp.RUN_USER)
    if os.cpu_count() is None or os.cpu_count() < 2:
        ap.error("needs 2 CPUs (server on CPU 1, wrk on CPU 0)")
    if not os.path.exists(args.module):
        ap.error("no module at %s: make -f Makefile.apxs" % args.module)
    if not os.path.exists(os.path.join(rp.MODDIR, "mod_alias.so")):
        ap.error("no mod_alias.so in %s (apache2-bin)" % rp.MODDIR)
    for tool in ("wrk", "taskset", "spawn-fcgi", "cc"):
        if not shutil.which(tool):
            ap.error("%s not found" % tool)
    os.sched_setaffinity(0, {int(rp.CLIENT_CPU)})

    bench = SendfileBench(args)
    if rp.run_guarded(bench) is not None:
        return 130
    return 0 if not bench.cfg.failed else 1


if __name__ == "__main__":
    sys.exit(main())
