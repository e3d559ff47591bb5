#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain a
# copy of the License at http://www.apache.org/licenses/LICENSE-2.0
"""First-request latency after a graceful restart, ours against mod_fcgid.

The floor of issue 16: "first-request latency after a graceful restart,
ours vs mod_fcgid (floor: ours not slower than a warm request by more than
20%)". A benchmark, not a test: see bench/README.md (section
run_graceful_first.py) and shared/reference/benchmarking.md. Python 3
standard library only; needs root (Apache's User www-data), taskset, a C
compiler, libfcgi-dev, php-cgi, Debian's apache2-bin and the real mod_fcgid
(build/peer/ from tools/deps.sh peer, or libapache2-mod-fcgid).

    /usr/bin/python3 bench/run_graceful_first.py            # 5 cycles
    /usr/bin/python3 bench/run_graceful_first.py --reps 2

It measures what a graceful restart does today, for each module and app:
the warm latency (sequential requests, a new connection each), then
`apache2 -k graceful`, then the first request of the app once the new
generation of httpd answers, and the 20 after it; and whether the app's
processes (their pids) outlived the restart.

It reuses bench/run_peers.py's httpd configuration, idle-machine wait and
process handling (stop by PID, sweep of the run directory).
"""

import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_peers as rp  # noqa: E402  (bench/ is not a package)

TOP = os.path.dirname(HERE)
HELLO = rp.HELLO
PROCS = 2                  # -processes / FcgidMaxProcessesPerClass
WARMUP = 100               # unmeasured requests before each cycle
WARMUP_CONNS = 2           # sent two at a time
WARM = 200                 # measured warm requests per cycle
NEXT = 20                  # requests timed after the first one
WARM_STATIC = 50           # warm requests of the static file per cycle
REPS = 5                   # graceful cycles per configuration
FLOOR = 1.2                # first <= 1.2x warm
REQ_TIMEOUT = 30.0         # per request
WARMUP_TIMEOUT = 300.0     # the whole warm-up
POOL_TIMEOUT = 15.0        # our PM's processes up after httpd's start
GRACEFUL_TIMEOUT = 30.0    # the apache2 -k graceful command
NEW_GEN_TIMEOUT = 30.0     # from the signal until the new generation answers
POLL = 0.005               # s between looks for the new generation
IDLE_GAP_MAX = 10.0        # s, the longest pause of the "same pause" request
SETTLE = 3.0               # pids "after" read at least this long after the
                           # signal (our old PM stops an idle process after
                           # 1 s quiet)
IDLE_KILL = 600            # FcgidIdleTimeout: nothing is stopped for idling
IO_TIMEOUT = 120
PHP_CGI = "/usr/bin/php-cgi"
# php-cgi's own settings, the same on both sides (the wrapper's -d):
# Debian's /etc/php/8.2/cgi/conf.d/10-opcache.ini loads opcache and sets
# opcache.jit=off; opcache.enable is 1 by default, set here anyway.
PHP_INI = ("opcache.enable=1",)
PHP_FUNCTIONS = 1000       # generated functions in lib.php
PHP_ENTRIES = 2000         # generated entries of its array
PHP_CALLS = 300            # function calls per page
PEER_FCGID = os.path.join(TOP, "build", "peer", "usr", "lib", "apache2",
                          "modules", "mod_fcgid.so")
SYSTEM_FCGID = os.path.join(rp.MODDIR, "mod_fcgid.so")
FCGID_MD5SUMS = "/var/lib/dpkg/info/libapache2-mod-fcgid.md5sums"

APPS = {
    "c": ("C hello (bench/bench_app.c as app.fcgi)", "/app.fcgi"),
    "php": ("PHP page (page.php through php-cgi, opcache on)", "/page.php"),
}

log = rp.log


# ------------------------------------------------------------------ configs

class Config:
    """One httpd serving one app through one module (the fields
    run_peers.Bench's start_config, own_pids and stop_httpd read)."""

    def __init__(self, key, app, side, title):
        self.key = key
        self.app = app            # "c" or "php"
        self.side = side          # "ours" or "fcgid"
        self.title = title
        self.ours = side == "ours"
        self.tag = None
        self.pool = False
        self.pool_pids = []
        self.static = False
        self.sock = None
        self.dir = None
        self.port = None
        self.proc = None
        self.conf = None
        self.failed = None
        self.checked = None       # the opcache check's answer (PHP)

    def url_path(self, kind):
        return "/hello.txt" if kind == "static" else APPS[self.app][1]


CONFIGS = [
    Config("ours_c", "c", "ours", "mod_fastcgi_x: FastCgiServer "
           "<docroot>/app.fcgi -processes %d -max-conns 1" % PROCS),
    Config("fcgid_c", "c", "fcgid", "mod_fcgid: <Files app.fcgi> SetHandler "
           "fcgid-script, FcgidMaxProcessesPerClass %d" % PROCS),
    Config("ours_php", "php", "ours", "mod_fastcgi_x: FastCgiServer "
           "<run>/php-bin/php-wrapper -processes %d -max-conns 1, "
           "<FilesMatch \\.php$> SetHandler fastcgi:<that path>" % PROCS),
    Config("fcgid_php", "php", "fcgid", "mod_fcgid: AddHandler fcgid-script "
           ".php, FcgidWrapper <run>/php-bin/php-wrapper .php, "
           "FcgidMaxProcessesPerClass %d" % PROCS),
]


def php_lib(nfunc, nent):
    """lib.php: nfunc small functions and an array of nent entries, so
    that compiling it costs milliseconds and opcache saves them."""
    out = ["<?php\n// generated by bench/run_graceful_first.py\n"]
    for i in range(nfunc):
        out.append("function f_%d($x) { $a = $x * %d + %d; if ($a %% 3 === 0)"
                   " { return intdiv($a, 3) %% 1009; } return ($a - 1) %% "
                   "1009; }\n" % (i, i + 1, i))
    out.append("$TABLE = [\n")
    for i in range(nent):
        out.append("    'k%d' => [%d, 'v%d', %d.5],\n" % (i, i, i, i))
    out.append("];\n")
    return "".join(out)


def php_page(nfunc):
    """page.php: includes lib.php, calls PHP_CALLS of its functions, reads
    the array; says its own time (from its first line to the header) in
    X-Page-Us."""
    return ("<?php\n"
            "$t0 = hrtime(true);\n"
            "require __DIR__ . '/lib.php';\n"
            "$s = 0;\n"
            "for ($i = 0; $i < %d; $i++) {\n"
            "    $s += ('f_' . (($i * 37) %% %d))($i);\n"
            "}\n"
            "$s += count($TABLE) + $TABLE['k42'][0];\n"
            "header('X-Page-Us: ' . intdiv(hrtime(true) - $t0, 1000));\n"
            'echo "Hello, world\\nsum=$s\\n";\n' % (PHP_CALLS, nfunc))


def php_expect(nfunc, nent):
    """The body page.php must answer (its sum computed here)."""
    s = 0
    for i in range(PHP_CALLS):
        k = (i * 37) % nfunc
        a = i * (k + 1) + k
        s += (a // 3) % 1009 if a % 3 == 0 else (a - 1) % 1009
    s += nent + 42
    return ("Hello, world\nsum=%d\n" % s).encode()


PHP_CHECK = """<?php
// generated by bench/run_graceful_first.py: what php-cgi runs with
header('Content-Type: application/json');
$s = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
$ini = [];
foreach (['opcache.enable', 'opcache.jit', 'opcache.jit_buffer_size',
          'opcache.memory_consumption', 'opcache.validate_timestamps',
          'opcache.revalidate_freq', 'opcache.file_update_protection']
         as $k) {
    $ini[$k] = ini_get($k);
}
echo json_encode([
    'sapi' => PHP_SAPI, 'version' => PHP_VERSION, 'ini' => $ini,
    'opcache_enabled' => $s ? $s['opcache_enabled'] : false,
    'cached_scripts' => $s ? $s['opcache_statistics']['num_cached_scripts']
                           : null,
    'children' => getenv('PHP_FCGI_CHILDREN'),
    'max_requests' => getenv('PHP_FCGI_MAX_REQUESTS'),
]);
"""


# ------------------------------------------------------------------ /proc

def threads(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return int(data[data.rindex(")") + 2:].split()[17])
    except (OSError, ValueError, IndexError):
        return 0


def children_of(parent):
    """Live apache2 processes whose parent is parent."""
    out = []
    for pid in rp.all_pids():
        st = rp.proc_stat(pid)
        if st and st[2] == parent and st[0] == "apache2" and st[1] != "Z":
            out.append(pid)
    return out


def md5_of(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def fcgid_origin(path):
    """What path is, for the report: the package's file checked against
    dpkg's md5sums where it can be."""
    want = None
    try:
        with open(FCGID_MD5SUMS) as f:
            for line in f:
                t = line.split()
                if len(t) == 2 and t[1] == \
                        "usr/lib/apache2/modules/mod_fcgid.so":
                    want = t[0]
    except OSError:
        pass
    if want is None:
        return "libapache2-mod-fcgid not installed: md5 not checked"
    got = md5_of(path)
    return "md5 %s the package's (libapache2-mod-fcgid %s)" % (
        "matches" if got == want else "DIFFERS FROM", deb_version())


def deb_version():
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}",
                               "libapache2-mod-fcgid"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# ------------------------------------------------------------------ runner

class GracefulBench(rp.Bench):
    """Inherits run_peers.Bench's start_config, own_pids, wait_idle and the
    stopping of httpd trees by PID; the rest is its own."""

    def __init__(self, args):
        self.init_own(args)  # not Bench.__init__
        self.wrapper = None
        self.php_body = None
        self.configs = [c for c in CONFIGS
                        if (not args.configs or c.key in args.configs)
                        and c.app in args.apps]
        self.throwaways = []
        self.tracked = {}
        self.sessions = {}
        self.cycles = {}          # key -> [dict]
        self.errors = []
        self.contended = []
        self.crashed = False

    # ---------------------------------------------------------- setup

    def setup(self):
        self.tmp = rp.make_run_dir("fcgix-graceful-first-", ("bin", "www", "php-bin"))
        self.docroot = os.path.join(self.tmp, "www")
        with open(os.path.join(self.docroot, "hello.txt"), "wb") as f:
            f.write(HELLO)
        if any(c.ours for c in self.configs):
            # a private copy: a rebuild of the tree during the run must not
            # change what is measured
            self.module_so = os.path.join(self.tmp, "bin",
                                          "mod_fastcgi_x.so")
            shutil.copy2(self.args.module, self.module_so)
            rp.describe_module("module", self.args.module)
        if any(c.side == "fcgid" for c in self.configs):
            log("mod_fcgid: %s (%s)" % (self.args.fcgid,
                                        fcgid_origin(self.args.fcgid)))
        if any(c.app == "c" for c in self.configs):
            self.app = os.path.join(self.tmp, "bin", "bench_app")
            subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra",
                            "-Werror", "-o", self.app,
                            os.path.join(HERE, "bench_app.c"), "-lfcgi"],
                           check=True, timeout=120)
            shutil.copy2(self.app, os.path.join(self.docroot, "app.fcgi"))
            os.chmod(os.path.join(self.docroot, "app.fcgi"), 0o755)
        if any(c.app == "php" for c in self.configs):
            self.setup_php()

    def setup_php(self):
        nf, ne = self.args.php_functions, self.args.php_entries
        files = {"lib.php": php_lib(nf, ne), "page.php": php_page(nf),
                 "opcache-check.php": PHP_CHECK}
        # opcache does not cache a file changed less than
        # opcache.file_update_protection (2) s ago: dated a minute back
        past = time.time() - 60
        for name, text in files.items():
            path = os.path.join(self.docroot, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o644)
            os.utime(path, (past, past))
        self.php_body = php_expect(nf, ne)
        self.php_bin = os.path.join(self.tmp, "php-bin")
        self.wrapper = os.path.join(self.php_bin, "php-wrapper")
        with open(self.wrapper, "w") as f:
            f.write("#!/bin/sh\n"
                    "# generated by bench/run_graceful_first.py: php-cgi "
                    "for both modules\n"
                    "PHP_FCGI_CHILDREN=0\n"
                    "PHP_FCGI_MAX_REQUESTS=0\n"
                    "export PHP_FCGI_CHILDREN PHP_FCGI_MAX_REQUESTS\n"
                    "exec %s %s\n" % (PHP_CGI, " ".join(
                        "-d " + d for d in PHP_INI)))
        os.chmod(self.wrapper, 0o755)
        log("PHP: lib.php %d bytes (%d functions, an array of %d entries), "
            "page.php calls %d of them; wrapper: PHP_FCGI_CHILDREN=0 "
            "PHP_FCGI_MAX_REQUESTS=0 exec %s %s" % (
                len(files["lib.php"]), nf, ne, PHP_CALLS, PHP_CGI,
                " ".join("-d " + d for d in PHP_INI)))

    def conf_text(self, cfg):
        """cfg's whole httpd.conf; run_peers.Bench.start_config writes
        it. run_peers' common part: mpm_event, one child of 128 threads,
        KeepAlive on, User www-data, its own ServerRoot, PidFile, runtime
        dir, ErrorLog and port."""
        cfg.conf = os.path.join(cfg.dir, "httpd.conf")
        if cfg.ours:
            if cfg.app == "c":
                extra = ("LoadModule fastcgi_x_module %s\n"
                         "FastCgiServer %s -processes %d -max-conns 1\n"
                         % (self.module_so,
                            os.path.join(self.docroot, "app.fcgi"), PROCS))
            else:
                # docs/directives.md, "The fastcgi:PATH handler": the .php
                # file goes to the FastCgiServer app as SCRIPT_FILENAME
                extra = ("LoadModule fastcgi_x_module %s\n"
                         "FastCgiServer %s -processes %d -max-conns 1\n"
                         '<FilesMatch "\\.php$">\n'
                         '    SetHandler "fastcgi:%s"\n'
                         "</FilesMatch>\n"
                         % (self.module_so, self.wrapper, PROCS,
                            self.wrapper))
            return rp.common_conf(cfg, self.docroot, []) + extra
        lines = ["LoadModule fcgid_module %s" % self.args.fcgid,
                 'FcgidIPCDir "%s/run/fcgid"' % cfg.dir,
                 'FcgidProcessTableFile "%s/run/fcgid_shm"' % cfg.dir,
                 "FcgidMaxProcessesPerClass %d" % PROCS,
                 "FcgidMinProcessesPerClass %d" % PROCS,
                 "FcgidIdleTimeout %d" % IDLE_KILL,
                 "FcgidIOTimeout %d" % IO_TIMEOUT]
        if cfg.app == "c":
            lines += ['<Files "app.fcgi">',
                      "    SetHandler fcgid-script",
                      "    Options +ExecCGI",
                      "</Files>"]
        else:
            lines += ['<Files "*.php">',
                      "    Options +ExecCGI",
                      "</Files>",
                      "AddHandler fcgid-script .php",
                      "FcgidWrapper %s .php" % self.wrapper]
        return rp.common_conf(cfg, self.docroot, []) + "\n".join(lines) + "\n"

    def app_exe(self, cfg):
        if cfg.app == "c":
            return os.path.realpath(os.path.join(self.docroot, "app.fcgi"))
        return os.path.realpath(PHP_CGI)

    def expect(self, cfg):
        return HELLO if cfg.app == "c" else self.php_body

    # ---------------------------------------------------------- /proc

    def app_procs(self, cfg):
        """{pid: (start time, parent pid)} of the live app processes below
        cfg's httpd (our PM's children; mod_fcgid's processes)."""
        exe = self.app_exe(cfg)
        out = {}
        for pid in rp.descendants(cfg.proc.pid):
            try:
                if os.readlink("/proc/%d/exe" % pid) != exe:
                    continue
            except OSError:
                continue
            st, ident = rp.proc_stat(pid), rp.proc_ident(pid)
            if st and ident and st[1] != "Z":
                out[pid] = (ident[0], st[2])
        return out

    def workers(self, cfg):
        """httpd's worker children: the parent's apache2 children with
        more than half of common_conf's ThreadsPerChild (128) threads; a
        process manager (ours or mod_fcgid's) has one."""
        return {p for p in children_of(cfg.proc.pid) if threads(p) > 64}

    # ---------------------------------------------------------- requests

    def get(self, cfg, path):
        """One GET on a new connection: (status, body, X-Page-Us or None,
        TTFB ms, total ms); the clock runs from before the connect to the
        last byte of the body."""
        conn = http.client.HTTPConnection("127.0.0.1", cfg.port,
                                          timeout=REQ_TIMEOUT)
        try:
            t0 = time.monotonic()
            conn.request("GET", path)
            resp = conn.getresponse()
            t1 = time.monotonic()
            body = resp.read()
            t2 = time.monotonic()
            page = resp.getheader("X-Page-Us")
        finally:
            conn.close()
        return (resp.status, body, int(page) if page and page.isdigit()
                else None, 1e3 * (t1 - t0), 1e3 * (t2 - t0))

    def app_get(self, cfg, what):
        """A GET of the app that must answer 200 and the expected body;
        raises otherwise."""
        r = self.get(cfg, cfg.url_path("app"))
        if r[0] != 200 or r[1] != self.expect(cfg):
            raise RuntimeError("%s: GET %s: %d %r" % (
                what, cfg.url_path("app"), r[0], r[1][:120]))
        return r

    def warm_up(self, cfg):
        """WARMUP requests, WARMUP_CONNS at a time (mod_fcgid starts a
        second process only for a request that finds the first busy)."""
        errs = []

        def worker(n):
            try:
                for _ in range(n):
                    self.app_get(cfg, "warm-up")
            except Exception as e:  # noqa: BLE001 - raised below
                errs.append(e)

        per = [WARMUP // WARMUP_CONNS + (1 if i < WARMUP % WARMUP_CONNS
                                         else 0)
               for i in range(WARMUP_CONNS)]
        ts = [threading.Thread(target=worker, args=(n,), daemon=True)
              for n in per]
        for t in ts:
            t.start()
        deadline = time.monotonic() + WARMUP_TIMEOUT
        for t in ts:
            t.join(max(deadline - time.monotonic(), 0))
        if errs:
            raise errs[0]
        if any(t.is_alive() for t in ts):
            raise RuntimeError("warm-up not done within %.0f s"
                               % WARMUP_TIMEOUT)

    def verify(self, cfg):
        r = self.get(cfg, "/hello.txt")
        if r[0] != 200 or r[1] != HELLO:
            raise RuntimeError("GET /hello.txt: %d %r" % (r[0], r[1][:80]))
        for _ in range(2):
            self.app_get(cfg, "check")

    def check_php(self, cfg):
        """What php-cgi runs with, from itself (after the warm-up)."""
        try:
            st, body, _, _, _ = self.get(cfg, "/opcache-check.php")
            cfg.checked = json.loads(body) if st == 200 else \
                "GET /opcache-check.php: %d %r" % (st, body[:120])
        except Exception as e:  # noqa: BLE001 - reported
            cfg.checked = "GET /opcache-check.php: %s" % e

    def wait_pool(self, cfg):
        """Our PM starts the -processes one -init-start-delay (1 s)
        apart: waits (bounded) for all of them, so that the first cycle
        starts from the steady state as the others do. mod_fcgid starts
        its processes on demand (the warm-ups). Returns the count."""
        deadline = time.monotonic() + POOL_TIMEOUT
        while True:
            n = len(self.app_procs(cfg))
            if not cfg.ours or n >= PROCS or time.monotonic() > deadline:
                return n
            time.sleep(0.1)

    # ---------------------------------------------------------- graceful

    def graceful(self, cfg):
        """apache2 -k graceful with the arguments httpd was started with
        (-f <conf>; -DFOREGROUND is how it runs, not its configuration),
        after checking that the PidFile names our httpd. Returns the
        command's time in ms."""
        pidfile = os.path.join(cfg.dir, "httpd.pid")
        with open(pidfile) as f:
            pid = int(f.read().split()[0])
        if pid != cfg.proc.pid:
            raise RuntimeError("PidFile says %d, our httpd is %d" % (
                pid, cfg.proc.pid))
        t0 = time.monotonic()
        p = subprocess.Popen([rp.APACHE, "-f", cfg.conf, "-k", "graceful"],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL,
                             start_new_session=True)
        ident = rp.proc_ident(p.pid)
        if ident:   # whatever it might leave is swept by session
            self.sessions[p.pid] = ident[0]
        try:
            out, _ = p.communicate(timeout=GRACEFUL_TIMEOUT)
        except subprocess.TimeoutExpired:
            rp.kill(p.pid, signal.SIGKILL)
            p.communicate(timeout=5)
            raise RuntimeError("apache2 -k graceful did not return within "
                               "%.0f s" % GRACEFUL_TIMEOUT)
        ms = 1e3 * (time.monotonic() - t0)
        if p.returncode != 0:
            raise RuntimeError("apache2 -k graceful: exit %d: %s" % (
                p.returncode, out.decode("utf-8", "replace").strip()[-300:]))
        return ms

    def wait_new_generation(self, cfg, old_workers, t0):
        """Polls until every worker child of the old generation has
        exited and a static file is answered (so by the new generation);
        returns the ms from t0 and that static request's own ms (the
        first request the new generation answers: httpd's own cost of a
        new child, with no module in the way). Bounded by
        NEW_GEN_TIMEOUT."""
        deadline = t0 + NEW_GEN_TIMEOUT
        while time.monotonic() < deadline:
            if cfg.proc.poll() is not None:
                raise RuntimeError("httpd exited with %d during the "
                                   "restart" % cfg.proc.returncode)
            if not any(rp.alive(p) for p in old_workers) \
                    and self.workers(cfg):
                try:
                    r = self.get(cfg, "/hello.txt")
                    if r[0] == 200 and r[1] == HELLO:
                        return 1e3 * (time.monotonic() - t0), r[4]
                except (OSError, http.client.HTTPException):
                    pass
            time.sleep(POLL)
        raise RuntimeError("the new generation did not answer within %.0f s"
                           % NEW_GEN_TIMEOUT)

    def static_second(self, cfg):
        """The control: another graceful restart, the readiness probe as
        in the cycle, the app's processes read as before the first
        request, and then the static file in the place of the app's
        first request: the second request the new generation answers.
        Its time is httpd's own cost of a request in that place, with no
        module in the way. Returns it in ms."""
        old_workers = self.workers(cfg)
        if not old_workers:
            raise RuntimeError("no worker child found before the control "
                               "restart")
        t0 = time.monotonic()
        self.graceful(cfg)
        self.wait_new_generation(cfg, old_workers, t0)
        self.app_procs(cfg)
        r = self.get(cfg, "/hello.txt")
        if r[0] != 200 or r[1] != HELLO:
            raise RuntimeError("the control's static request: %r" % (r[:2],))
        return r[4]

    def cycle(self, cfg, rep):
        """Warm-up, the warm requests, a graceful restart, the first
        request after it and NEXT more; the app's pids before and after."""
        res = dict(rep=rep)
        cpu0 = rp.snapshot_cpu()
        self.warm_up(cfg)
        if cfg.app == "php" and cfg.checked is None:
            self.check_php(cfg)
        res["warm_static"] = [self.get(cfg, "/hello.txt")[4]
                              for _ in range(WARM_STATIC)]
        warm = [self.app_get(cfg, "warm") for _ in range(self.args.warm)]
        last_warm = time.monotonic()
        res["warm"] = [r[4] for r in warm]
        res["warm_page"] = [r[2] for r in warm if r[2] is not None]
        before = self.app_procs(cfg)
        old_workers = self.workers(cfg)
        if not old_workers:
            raise RuntimeError("no worker child found before the restart")
        res["before"] = before
        t0 = time.monotonic()
        res["cmd_ms"] = self.graceful(cfg)
        res["ready_ms"], res["static_first"] = self.wait_new_generation(
            cfg, old_workers, t0)
        at_first = self.app_procs(cfg)
        gap = time.monotonic() - last_warm
        first = self.app_get(cfg, "first request after the restart")
        res["first"], res["first_ttfb"], res["first_page"] = \
            first[4], first[3], first[2]
        nxt = [self.app_get(cfg, "request after the first")
               for _ in range(self.args.next)]
        res["next"] = [r[4] for r in nxt]
        res["next_page"] = [r[2] for r in nxt if r[2] is not None]
        # The same pause without a restart: what idling that long costs
        # the next request by itself (CPU idle states, cold caches).
        # As after the restart, a static file is fetched just before.
        time.sleep(min(gap, IDLE_GAP_MAX))
        self.get(cfg, "/hello.txt")
        idle = self.app_get(cfg, "request after the same pause")
        res["gap_ms"], res["idle"] = 1e3 * gap, idle[4]
        res["at_first"] = at_first
        left = t0 + SETTLE - time.monotonic()
        if left > 0:
            time.sleep(left)
        after = self.app_procs(cfg)
        res["after"] = after
        res["static_second"] = self.static_second(cfg)
        res["survived"] = sorted(p for p, v in before.items()
                                 if after.get(p, (None,))[0] == v[0])
        res["old_at_first"] = sorted(p for p, v in before.items()
                                     if at_first.get(p, (None,))[0] == v[0])
        hot = rp.foreign_since(cpu0, self.own_pids(), 10.0)
        if hot:
            note = "%s rep %d: other processes used CPU: %s" % (
                cfg.key, rep, ", ".join("%s %.0f%%" % (c[:40], p)
                                        for p, c in hot))
            self.contended.append(note)
        return res

    # ---------------------------------------------------------- main

    def run(self):
        self.setup()
        for cfg in self.configs:
            try:
                self.start_config(cfg)
                self.verify(cfg)
                n = self.wait_pool(cfg)
                log("started %-9s port %d: checks passed (GET %s: 200, "
                    "%d B); %d app processes" % (
                        cfg.key, cfg.port, cfg.url_path("app"),
                        len(self.expect(cfg)), n))
            except Exception as e:  # noqa: BLE001 - report and go on
                cfg.failed = "start/verify: %s" % " | ".join(
                    x.strip() for x in str(e).splitlines() if x.strip())
                log("FAILED %s: %s" % (cfg.key, cfg.failed))
        live = [c for c in self.configs if not c.failed]
        if live:
            self.wait_idle()
        reps = self.args.reps
        log("\n%d graceful cycles per config, interleaved; each: %d warm-up "
            "requests (%d at a time), %d warm ones, apache2 -k graceful, "
            "the first request once the new generation answers, %d more"
            % (reps, WARMUP, WARMUP_CONNS, self.args.warm, self.args.next))
        for rep in range(1, reps + 1):
            shift = (rep - 1) % max(len(live), 1)
            for cfg in live[shift:] + live[:shift]:
                if cfg.failed:
                    continue
                try:
                    res = self.cycle(cfg, rep)
                except Exception as e:  # noqa: BLE001 - report and go on
                    msg = "%s rep %d: %s" % (cfg.key, rep, e)
                    self.errors.append(msg)
                    log("[rep %d/%d] %-9s FAILED: %s" % (rep, reps, cfg.key,
                                                         e))
                    if cfg.proc.poll() is not None:
                        cfg.failed = "httpd exited (%d)" % \
                            cfg.proc.returncode
                    continue
                self.cycles.setdefault(cfg.key, []).append(res)
                log(progress(cfg, res, rep, reps))
        self.report()

    # ---------------------------------------------------------- report

    def report(self):
        log("\n" + "=" * 78)
        log("RESULTS: %d graceful cycles per config; times in ms, from "
            "before the connect to the last byte (a new connection per "
            "request, sequential)" % self.args.reps)
        log("Apache %s, mpm_event 1 child x 128 threads, httpd and apps on "
            "CPU %s, client on CPU %s; %d app processes per config" % (
                rp.apache_version(), rp.SERVER_CPU, rp.CLIENT_CPU, PROCS))
        if any(c.side == "fcgid" for c in self.configs):
            log("mod_fcgid: %s" % self.args.fcgid)
        for c in self.configs:
            if c.app == "php" and c.checked is not None:
                log("php-cgi as %s runs it: %s" % (c.key, fmt_check(
                    c.checked)))
        log("warm: median of every cycle's %d warm requests; first: the "
            "first request of the app after the restart (median and max "
            "over the cycles); next: median of the %d after it; ready: from "
            "apache2 -k graceful to the new generation answering a static "
            "file" % (self.args.warm, self.args.next))
        for app in APPS:
            cfgs = [c for c in self.configs if c.app == app]
            if cfgs:
                self.report_app(app, cfgs)
        self.report_pids()
        self.report_floor()
        self.report_failures()

    def report_app(self, app, cfgs):
        log("\n" + APPS[app][0] + ", GET " + APPS[app][1])
        for c in cfgs:
            log("  %-9s %s" % (c.key, c.title))
        log("| config | warm median | first median | first max | first / "
            "warm | first TTFB median | next %d median | ready median |"
            % self.args.next)
        log("|---|---|---|---|---|---|---|---|")
        for c in cfgs:
            s = self.summary(c)
            if s is None:
                log("| %s | %s | | | | | | |" % (
                    c.key, "FAILED" if c.failed else "no cycle"))
                continue
            log("| %s | %.3f | %.3f | %.3f | %.2fx | %.3f | %.3f | %.0f |"
                % (c.key, s["warm"], s["first"], s["first_max"],
                   s["ratio"], s["ttfb"], s["next"], s["ready"]))
        if app == "php":
            log("page.php's own time (X-Page-Us: from its first line to its "
                "header), µs: warm median / first after the restart "
                "median (runs) / next %d median" % self.args.next)
            for c in cfgs:
                runs = self.cycles.get(c.key, [])
                warm = [x for r in runs for x in r["warm_page"]]
                first = [r["first_page"] for r in runs
                         if r["first_page"] is not None]
                nxt = [x for r in runs for x in r["next_page"]]
                if warm and first:
                    log("  %-9s %6.0f / %6.0f (%s) / %6.0f" % (
                        c.key, rp.med(warm), rp.med(first),
                        "/".join("%d" % x for x in first),
                        rp.med(nxt) if nxt else float("nan")))
        ours = next((c for c in cfgs if c.ours), None)
        peer = next((c for c in cfgs if not c.ours), None)
        a = ours and self.summary(ours)
        b = peer and self.summary(peer)
        if a and b and b["first"]:
            log("  %s / %s, first request after the restart (median): "
                "%.2fx (lower is better)" % (ours.key, peer.key,
                                             a["first"] / b["first"]))

    def summary(self, cfg):
        runs = self.cycles.get(cfg.key)
        if not runs:
            return None
        warm = rp.med([x for r in runs for x in r["warm"]])
        first = [r["first"] for r in runs]
        idle = rp.med([r["idle"] for r in runs])
        return dict(warm=warm, first=rp.med(first), first_max=max(first),
                    ratio=rp.med(first) / warm if warm else float("inf"),
                    idle=idle, gap=rp.med([r["gap_ms"] for r in runs]),
                    idle_ratio=rp.med(first) / idle if idle else float("inf"),
                    ttfb=rp.med([r["first_ttfb"] for r in runs]),
                    next=rp.med([x for r in runs for x in r["next"]]),
                    ready=rp.med([r["ready_ms"] for r in runs]),
                    static_warm=rp.med([x for r in runs
                                        for x in r["warm_static"]]),
                    static_first=rp.med([r["static_first"] for r in runs]),
                    static_second=rp.med([r["static_second"] for r in runs]),
                    firsts=first)

    def report_pids(self):
        log("\napp processes and the restart (issue 16, item 1: "
            "kept by ours): per cycle, app pids before the restart -> at the "
            "first request after it -> %.0f s after the signal; 'kept' = "
            "pids (same start time) still running the app then" % SETTLE)
        for c in self.configs:
            runs = self.cycles.get(c.key, [])
            if not runs:
                continue
            kept = sum(len(r["survived"]) for r in runs)
            total = sum(len(r["before"]) for r in runs)
            log("  %-9s kept %d of %d app processes over %d restarts: "
                "app pids %s" % (c.key, kept, total, len(runs),
                                 "SURVIVED" if total and kept == total
                                 else "did NOT survive" if kept == 0
                                 else "partly survived"))
            for r in runs:
                log("    rep %d: %s -> %s -> %s; PM %s -> %s; kept %d/%d"
                    "%s" % (r["rep"], fmt_pids(r["before"]),
                            fmt_pids(r["at_first"]), fmt_pids(r["after"]),
                            fmt_pms(r["before"]), fmt_pms(r["after"]),
                            len(r["survived"]), len(r["before"]),
                            "; old ones still running at the first request:"
                            " %s" % ",".join(map(str, r["old_at_first"]))
                            if r["old_at_first"] else ""))

    def report_floor(self):
        log("\nfloor (issue 16): first request after a graceful restart <= "
            "%.1fx a warm request (on the median of the first requests; "
            "the max is shown). 'same pause': one request after as long a "
            "pause as the one before the first request (median gap shown), "
            "without a restart: what the pause alone costs" % FLOOR)
        log("| config | app | warm ms | first ms (median, max) | first / "
            "warm | floor | same pause ms (gap ms) | first / same pause |")
        log("|---|---|---|---|---|---|---|---|")
        for c in self.configs:
            s = self.summary(c)
            if s is None:
                log("| %s | %s | | | | NOT CHECKED (%s) | | |" % (
                    c.key, c.app, c.failed or "no cycle completed"))
                continue
            log("| %s | %s | %.3f | %.3f, %.3f | %.2fx | %s | %.3f (%.0f) | "
                "%.2fx |" % (
                    c.key, c.app, s["warm"], s["first"], s["first_max"],
                    s["ratio"], "PASS" if s["ratio"] <= FLOOR else "BELOW",
                    s["idle"], s["gap"], s["idle_ratio"]))
        log("\nthe same for httpd's own static file (hello.txt, no module "
            "involved): warm median; the first request the new generation "
            "answers (the readiness probe just before the app's first "
            "request); and, after a second restart per cycle, the static "
            "file in the app's first request's place (the second request "
            "of the new generation: the control). Medians over the cycles. "
            "'extra': first minus warm, ms, for the app and for the "
            "control: what a request in that place costs more than a warm "
            "one, with our module and without any")
        log("| config | static warm ms | static first ms | static first / "
            "warm | static second ms | static second / warm | app first / "
            "warm | app extra ms | static second extra ms |")
        log("|---|---|---|---|---|---|---|---|---|")
        for c in self.configs:
            s = self.summary(c)
            if s is not None and s["static_warm"]:
                log("| %s | %.3f | %.3f | %.2fx | %.3f | %.2fx | %.2fx | "
                    "%.3f | %.3f |" % (
                        c.key, s["static_warm"], s["static_first"],
                        s["static_first"] / s["static_warm"],
                        s["static_second"],
                        s["static_second"] / s["static_warm"], s["ratio"],
                        s["first"] - s["warm"],
                        s["static_second"] - s["static_warm"]))
        for c in self.configs:
            s = self.summary(c)
            if s is not None:
                log("%s floor (first <= %.1fx warm): %s" % (
                    c.key, FLOOR, "PASS" if s["ratio"] <= FLOOR
                    else "BELOW"))

    def report_failures(self):
        log("")
        bad = False
        for c in self.configs:
            if c.failed:
                bad = True
                log("FAILED config %s: %s" % (c.key, c.failed))
        for e in self.errors:
            bad = True
            log("cycle FAILED: " + e)
        for note in self.contended:
            log("contention: " + note)
        for c in self.configs:
            rp.log_error_lines(c)
        if not bad:
            log("no failed configuration or cycle")

    # ---------------------------------------------------------- teardown

    def stop(self):
        """Stops every httpd this run started by PID (SIGTERM, then SIGKILL
        to its recorded tree), then kills anything still running from the
        run directory or an httpd's session; each step bounded, each run
        even if one before it failed. The run directory is removed unless
        --keep."""
        steps = [lambda c=c: self.stop_httpd(c) for c in self.configs]
        if self.tmp:
            steps.append(self.sweep)
        rp.run_cleanup_steps(steps)
        if self.tmp:
            if self.args.keep:
                log("run dir kept: %s" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------------ format

def fmt_pids(procs):
    return ",".join(str(p) for p in sorted(procs)) or "none"


def fmt_pms(procs):
    return ",".join(str(p) for p in sorted({v[1] for v in procs.values()})) \
        or "-"


def fmt_check(c):
    if not isinstance(c, dict):
        return str(c)
    ini = c.get("ini", {})
    return ("PHP %s (%s), opcache %s (%s cached scripts after the "
            "warm-up), %s; PHP_FCGI_CHILDREN=%s PHP_FCGI_MAX_REQUESTS=%s" % (
                c.get("version"), c.get("sapi"),
                "on" if c.get("opcache_enabled") else "OFF",
                c.get("cached_scripts"),
                " ".join("%s=%s" % (k, v) for k, v in ini.items()),
                c.get("children"), c.get("max_requests")))


def progress(cfg, r, rep, reps):
    nxt = r["next"]
    return ("[rep %d/%d] %-9s warm med %.3f | graceful: command %.0f, "
            "ready %.0f, static first %.3f (warm %.3f, second %.3f) | "
            "first %.3f (TTFB "
            "%.3f%s) = %.2fx warm | next %d med %.3f max %.3f | app pids "
            "kept %d/%d" % (
                rep, reps, cfg.key, rp.med(r["warm"]), r["cmd_ms"],
                r["ready_ms"], r["static_first"], rp.med(r["warm_static"]),
                r["static_second"], r["first"], r["first_ttfb"],
                ", page %d us" % r["first_page"]
                if r["first_page"] is not None else "",
                r["first"] / rp.med(r["warm"]) if r["warm"] else 0,
                len(nxt), rp.med(nxt), max(nxt) if nxt else 0,
                len(r["survived"]), len(r["before"])))


# ------------------------------------------------------------------ main

def default_fcgid():
    """build/peer's copy (tools/deps.sh peer) first, the system's next."""
    for path in (PEER_FCGID, SYSTEM_FCGID):
        if os.path.exists(path):
            return path
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=REPS,
                    help="graceful cycles per configuration (%d)" % REPS)
    ap.add_argument("--warm", type=int, default=WARM,
                    help="warm requests timed per cycle (%d)" % WARM)
    ap.add_argument("--next", type=int, default=NEXT,
                    help="requests timed after the first (%d)" % NEXT)
    ap.add_argument("--apps", nargs="*", default=list(APPS),
                    choices=list(APPS), help="c php (both)")
    ap.add_argument("--configs", nargs="*",
                    help="subset of: " + " ".join(c.key for c in CONFIGS))
    ap.add_argument("--php-functions", type=int, default=PHP_FUNCTIONS)
    ap.add_argument("--php-entries", type=int, default=PHP_ENTRIES)
    ap.add_argument("--module",
                    default=os.path.join(TOP, ".libs", "mod_fastcgi_x.so"))
    ap.add_argument("--fcgid", default=default_fcgid(),
                    help="the real mod_fcgid.so (default: %s if there, "
                    "else %s)" % (os.path.relpath(PEER_FCGID, TOP),
                                  SYSTEM_FCGID))
    ap.add_argument("--no-idle-wait", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the run dir")
    args = ap.parse_args()
    if min(args.reps, args.warm, args.php_functions, args.php_entries) < 1 \
            or args.next < 0:
        ap.error("--reps, --warm, --php-functions and --php-entries must be "
                 ">= 1, --next >= 0")
    if args.configs:
        unknown = set(args.configs) - {c.key for c in CONFIGS}
        if unknown:
            ap.error("unknown configs: %s" % " ".join(sorted(unknown)))
    if os.geteuid() != 0:
        ap.error("run as root (httpd switches to User %s)" % rp.RUN_USER)
    if os.cpu_count() is None or os.cpu_count() < 2:
        ap.error("needs 2 CPUs (server on CPU 1, client on CPU 0)")
    chosen = [c for c in CONFIGS if (not args.configs or c.key in
                                     args.configs) and c.app in args.apps]
    if not chosen:
        ap.error("no configuration chosen")
    if any(c.ours for c in chosen) and not os.path.exists(args.module):
        ap.error("no module at %s: make -f Makefile.apxs" % args.module)
    if any(c.side == "fcgid" for c in chosen) and (
            not args.fcgid or not os.path.exists(args.fcgid)):
        ap.error("no mod_fcgid: tools/deps.sh peer (unpacks it into "
                 "build/peer/) or apt-get install libapache2-mod-fcgid; it "
                 "is only loaded in this run's own configs")
    if any(c.app == "php" for c in chosen) and not os.access(PHP_CGI,
                                                             os.X_OK):
        ap.error("no %s: apt-get install php-cgi" % PHP_CGI)
    if any(c.app == "c" for c in chosen) and not shutil.which("cc"):
        ap.error("cc not found")
    if not shutil.which("taskset"):
        ap.error("taskset not found")
    os.sched_setaffinity(0, {int(rp.CLIENT_CPU)})

    bench = GracefulBench(args)
    if rp.run_guarded(bench) is not None:
        return 130
    return 1 if bench.errors or any(c.failed for c in bench.configs) else 0


if __name__ == "__main__":
    sys.exit(main())
