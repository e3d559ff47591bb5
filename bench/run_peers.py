#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain a
# copy of the License at http://www.apache.org/licenses/LICENSE-2.0
"""mod_fastcgi_x against its peers, in one run, in front of one app.

A benchmark, not a test: see bench/README.md and
shared/reference/benchmarking.md (the method this follows). Python 3
standard library only; needs root (Apache runs as User www-data), wrk,
spawn-fcgi, taskset, a C compiler, libfcgi-dev and Debian's apache2-bin
with mod_proxy_fcgi, mod_fcgid and mod_cgid; for the PHP workload
(PHP through php-fpm, issue 17's "PHP via php-fpm" floor) php8.2-fpm and
mod_actions (skipped with a message when php-fpm8.2 is not installed).

    /usr/bin/python3 bench/run_peers.py            # REPS=3, D=3 s
    /usr/bin/python3 bench/run_peers.py --quick    # REPS=1, D=2 s
    /usr/bin/python3 bench/run_peers.py --only-php-fpm   # PHP part only
    /usr/bin/python3 bench/run_peers.py --no-php-fpm     # without it
    BENCH_REPS=5 BENCH_DURATION=5 /usr/bin/python3 bench/run_peers.py
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
APACHE = "/usr/sbin/apache2"
MODDIR = "/usr/lib/apache2/modules"
RUN_USER = "www-data"
SERVER_CPU = "1"
CLIENT_CPU = "0"
APP_PROCS = 4
HELLO = b"Hello, world\n"
MIB = 1 << 20
GET_SIZE = MIB
POST_SIZE = 10 * MIB
RSS_PERIOD = 0.25
# Requests counted under strace for "system calls per request".
SYSCALL_REQUESTS = 10000
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 120.0
FIRST_RUNS = 3            # first-request timings, on fresh httpds
FIRST_TIMED = ("fastcgi_x_dyn", "fastcgi_x_static")
IDLE_LIMIT_PCT = 50.0
IDLE_CHECK_EVERY = 60.0
IDLE_WAIT_MAX = 1800.0
PAGE = os.sysconf("SC_PAGE_SIZE")
# PHP through php-fpm: Debian 12's php8.2-fpm, run with a config file of
# the run's own (its pools, pid file and error log in the run dir).
PHP_FPM = "/usr/sbin/php-fpm8.2"
PHP_HELLO = '<?php echo "Hello, world\\n";\n'   # the same 13 bytes as HELLO
# Debian's php8.2-fpm.conf for Apache maps PHP files with this pattern.
PHP_FILES = r".+\.ph(?:ar|p|tml)$"
PHP_FLOOR = 1.1                # issue 17: >= 1.1x mod_proxy_fcgi


def pattern(n):
    """The first n bytes of HELLO repeated: what bench_app's ?size=n sends."""
    reps = n // len(HELLO) + 1
    return (HELLO * reps)[:n]


def log(msg=""):
    print(msg, flush=True)


# ------------------------------------------------------------------ configs

class Config:
    """One httpd instance (and, for some, its spawn-fcgi pool)."""

    def __init__(self, key, title, peer, static=False, pool=False,
                 ours=False, tag=None, php=False):
        self.key = key
        self.title = title
        self.peer = peer          # counts for "best peer"
        self.static = static      # serves files, not the app
        self.pool = pool          # needs a spawn-fcgi pool
        self.ours = ours          # a mod_fastcgi_x configuration
        self.tag = tag            # a throwaway instance (cold starts)
        self.php = php            # in front of php-fpm (its own pool)
        self.dir = None
        self.port = None
        self.proc = None
        self.pool_pids = []
        self.sock = None
        self.failed = None        # reason, once it failed
        self.rss_idle = None
        self.pss_idle = None
        self.syscalls = None      # strace_counts(), or why not

    def throwaway(self, tag):
        """A second instance of this configuration, started and stopped
        apart from the measured one."""
        return Config(self.key, self.title, self.peer, self.static,
                      self.pool, self.ours, tag, self.php)

    def url_path(self, workload):
        if self.php:
            return "/hello.php" if workload == "hello" else None
        if self.static:
            return {"hello": "/hello.txt", "get": "/1m.txt"}.get(workload)
        if workload == "hello":
            return "/app.fcgi"
        if workload == "get":
            return "/app.fcgi?size=%d" % GET_SIZE
        return "/app.fcgi"


CONFIGS = [
    Config("fastcgi_x", "mod_fastcgi_x ExternalServer unix", False,
           pool=True, ours=True),
    Config("fastcgi_x_keep", "mod_fastcgi_x ExternalServer unix -keep-conn "
           "-max-conns %d" % APP_PROCS, False, pool=True, ours=True),
    Config("fastcgi_x_static", "mod_fastcgi_x FastCgiServer -processes %d "
           "-max-conns 1" % APP_PROCS, False, ours=True),
    Config("fastcgi_x_dyn", "mod_fastcgi_x dynamic app (max %d processes)"
           % APP_PROCS, False, ours=True),
    Config("proxy_fcgi", "mod_proxy_fcgi unix", True, pool=True),
    Config("proxy_reuse", "mod_proxy_fcgi unix + enablereuse", True,
           pool=True),
    Config("fcgid", "mod_fcgid", True),
    Config("cgid", "mod_cgid (CGI build)", True),
    Config("static", "static file (upper bound)", False, static=True),
]

# --baseline: an older build of the module, measured in the same run as
# the one under test (fastcgi_x), to show a change made nothing slower.
BASELINE = Config("fastcgi_x_base", "mod_fastcgi_x ExternalServer unix, "
                  "baseline build", False, pool=True, ours=True)

# name, kind, concurrency, unit
WORKLOADS = [
    ("hello_c1", "hello", 1, "req/s"),
    ("hello_c16", "hello", 16, "req/s"),
    ("hello_c64", "hello", 64, "req/s"),
    ("get1m_c8", "get", 8, "MB/s"),
    ("post10m_c4", "post", 4, "MB/s"),
]

# PHP through php-fpm (issue 17: "PHP through php-fpm (the most common
# deployment): >= 1.1x mod_proxy_fcgi on a PHP hello"). One php-fpm per
# run, with one pool per configuration (pm = static, APP_PROCS children
# each), as each spawn-fcgi configuration above has its own pool: kept
# connections (enablereuse, -keep-conn) each hold a php-fpm child while
# idle, so configurations sharing one pool would starve each other.
PHP_CONFIGS = [
    Config("php_fpm_fastcgi_x", "mod_fastcgi_x: FilesMatch SetHandler "
           "fastcgi:/php-fpm + FastCgiExternalServer -socket", False,
           ours=True, php=True),
    Config("php_fpm_fastcgi_x_keep", "the same with -keep-conn -max-conns %d"
           % APP_PROCS, False, ours=True, php=True),
    Config("php_fpm_fastcgi_x_action", "mod_fastcgi_x: mod_fastcgi's "
           "recipe, SetHandler php-fcgi + Action + FastCgiExternalServer",
           False, ours=True, php=True),
    Config("php_fpm_proxy", "mod_proxy_fcgi: FilesMatch SetHandler "
           "proxy:unix (Debian's php8.2-fpm.conf)", True, php=True),
    Config("php_fpm_proxy_reuse", "the same + <Proxy> enablereuse=on max=%d"
           % APP_PROCS, True, php=True),
]
PHP_PROXY = "php_fpm_proxy"

PHP_WORKLOADS = [
    ("php_hello_c1", "hello", 1, "req/s"),
    ("php_hello_c16", "hello", 16, "req/s"),
    ("php_hello_c64", "hello", 64, "req/s"),
]


def common_conf(cfg, docroot, modules):
    loads = "\n".join("LoadModule %s_module %s/mod_%s.so" % (m, MODDIR, m)
                      for m in ["mpm_event", "authz_core", "mime"] + modules)
    return """ServerRoot "{d}"
PidFile "{d}/httpd.pid"
DefaultRuntimeDir "{d}/run"
ErrorLog "{d}/error.log"
LogLevel warn
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
User {user}
Group {user}
{loads}
StartServers 1
ServerLimit 1
ThreadLimit 128
ThreadsPerChild 128
MaxRequestWorkers 128
MinSpareThreads 1
MaxSpareThreads 256
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 15
Timeout 120
EnableSendfile On
LimitRequestBody 0
TypesConfig /dev/null
AddType text/plain .txt
DocumentRoot "{www}"
<Directory "{www}">
    Options None
    AllowOverride None
    Require all granted
</Directory>
""".format(d=cfg.dir, port=cfg.port, user=RUN_USER, loads=loads,
           www=docroot)


def specific_conf(cfg, docroot, module_so, baseline_so=None):
    app = os.path.join(docroot, "app.fcgi")
    if cfg.key in ("fastcgi_x", "fastcgi_x_base"):
        so = baseline_so if cfg.key == "fastcgi_x_base" else module_so
        return ("LoadModule fastcgi_x_module %s\n"
                "FastCgiExternalServer %s -socket %s\n"
                % (so, app, cfg.sock)), []
    if cfg.key == "fastcgi_x_keep":
        # kept connections, at most one per app process (one httpd child),
        # as proxy_reuse's max
        return ("LoadModule fastcgi_x_module %s\n"
                "FastCgiExternalServer %s -socket %s -keep-conn "
                "-max-conns %d\n" % (module_so, app, cfg.sock, APP_PROCS)), []
    if cfg.key == "fastcgi_x_static":
        # the module's PM starts the processes, each on its own socket
        # under DefaultRuntimeDir/fastcgi
        return ("LoadModule fastcgi_x_module %s\n"
                "FastCgiServer %s -processes %d -max-conns 1\n"
                % (module_so, app, APP_PROCS)), []
    if cfg.key == "fastcgi_x_dyn":
        # started on the first request, one more while all are busy;
        # -minProcesses and -killInterval keep them between workloads
        return ("LoadModule fastcgi_x_module %s\n"
                "FastCgiConfig -maxClassProcesses %d -minProcesses %d "
                "-killInterval 600\n"
                '<Files "app.fcgi">\n'
                "    SetHandler fastcgi-script\n"
                "    Options +ExecCGI\n"
                "</Files>\n" % (module_so, APP_PROCS, APP_PROCS)), []
    if cfg.key == "proxy_fcgi":
        return ('<Files "app.fcgi">\n'
                '    SetHandler "proxy:unix:%s|fcgi://localhost/"\n'
                '</Files>\n' % cfg.sock), ["proxy", "proxy_fcgi"]
    if cfg.key == "proxy_reuse":
        return ('<Proxy "unix:%s|fcgi://localhost/">\n'
                '    ProxySet enablereuse=on max=%d\n'
                '</Proxy>\n'
                '<Files "app.fcgi">\n'
                '    SetHandler "proxy:unix:%s|fcgi://localhost/"\n'
                '</Files>\n' % (cfg.sock, APP_PROCS, cfg.sock)), \
            ["proxy", "proxy_fcgi"]
    if cfg.key == "fcgid":
        return ('FcgidIPCDir "%s/run/fcgid"\n'
                'FcgidProcessTableFile "%s/run/fcgid_shm"\n'
                'FcgidMaxProcessesPerClass %d\n'
                'FcgidMaxRequestLen %d\n'
                'FcgidIOTimeout 120\n'
                '<Files "app.fcgi">\n'
                '    SetHandler fcgid-script\n'
                '    Options +ExecCGI\n'
                '</Files>\n' % (cfg.dir, cfg.dir, APP_PROCS, 1 << 30)), \
            ["fcgid"]
    if cfg.key == "cgid":
        return ('ScriptSock "%s/run/cgisock"\n'
                '<Files "app.fcgi">\n'
                '    SetHandler cgi-script\n'
                '    Options +ExecCGI\n'
                '</Files>\n' % cfg.dir), ["cgid"]
    return "", []


def php_conf(cfg, module_so, fcgi_dir):
    """The PHP-specific part of cfg's httpd.conf: .php files to cfg.sock,
    the socket of cfg's own php-fpm pool."""
    if cfg.key.startswith("php_fpm_proxy"):
        # Debian's /etc/apache2/conf-available/php8.2-fpm.conf, with the
        # run's socket
        url = "unix:%s|fcgi://localhost" % cfg.sock
        text = ""
        if cfg.key == "php_fpm_proxy_reuse":
            # httpd's mod_proxy_fcgi docs: reuse is opt-in; max = the
            # pool's children with one httpd child, as proxy_reuse above
            text = ('<Proxy "%s">\n'
                    '    ProxySet enablereuse=on max=%d\n'
                    '</Proxy>\n' % (url, APP_PROCS))
        return text + ('<FilesMatch "%s">\n'
                       '    SetHandler "proxy:%s"\n'
                       '</FilesMatch>\n' % (PHP_FILES, url)), \
            ["proxy", "proxy_fcgi"]
    # docs/migrating.md "PHP-FPM: SetHandler in FilesMatch": without
    # -pass-header Authorization, as mod_proxy_fcgi's side goes without
    # the SetEnvIf of Debian's file (no request here has the header)
    opts = " -keep-conn -max-conns %d" % APP_PROCS \
        if cfg.key == "php_fpm_fastcgi_x_keep" else ""
    if cfg.key != "php_fpm_fastcgi_x_action":
        # the request's file to the server defined at /php-fpm (a name)
        return ("LoadModule fastcgi_x_module %s\n"
                '<FilesMatch "%s">\n'
                '    SetHandler "fastcgi:/php-fpm"\n'
                "</FilesMatch>\n"
                "FastCgiExternalServer /php-fpm -socket %s%s\n"
                % (module_so, PHP_FILES, cfg.sock, opts)), []
    # mod_fastcgi's recipe: an Action to a path that FastCgiExternalServer
    # names (the path need not exist)
    return ("LoadModule fastcgi_x_module %s\n"
            '<FilesMatch "%s">\n'
            "    SetHandler php-fcgi\n"
            "</FilesMatch>\n"
            "Action php-fcgi /php-fcgi\n"
            'Alias /php-fcgi "%s/php-fcgi"\n'
            '<Directory "%s">\n'
            "    Require all granted\n"
            "</Directory>\n"
            "FastCgiExternalServer %s/php-fcgi -socket %s%s\n"
            % (module_so, PHP_FILES, fcgi_dir, fcgi_dir, fcgi_dir, cfg.sock,
               opts)), ["actions", "alias"]


def fpm_conf(fpm_dir, cfgs, as_root):
    """php-fpm's whole config: one pool per configuration, each on its own
    socket in fpm_dir, pm = static with APP_PROCS children."""
    text = ("; generated by bench/run_peers.py\n"
            "[global]\n"
            "pid = %s/php-fpm.pid\n"
            "error_log = %s/error.log\n"
            "daemonize = no\n" % (fpm_dir, fpm_dir))
    for cfg in cfgs:
        text += ("\n[%s]\n" % cfg.key)
        if as_root:   # php-fpm refuses to run a pool as root
            text += "user = %s\ngroup = %s\n" % (RUN_USER, RUN_USER)
        text += ("listen = %s\n"
                 "listen.mode = 0666\n"
                 "pm = static\n"
                 "pm.max_children = %d\n"
                 "clear_env = no\n" % (cfg.sock, APP_PROCS))
    return text


def unix_conns(path):
    """Inodes of the open connections accepted on the listening Unix
    socket path: in /proc/net/unix an accepted socket carries its
    listener's path, and state 03 is connected."""
    out = set()
    try:
        with open("/proc/net/unix") as f:
            next(f, None)
            for line in f:
                t = line.split()
                if len(t) >= 8 and t[5] == "03" and t[7] == path:
                    out.add(t[6])
    except OSError:
        pass
    return out


# ------------------------------------------------------------------ /proc

def proc_stat(pid):
    """(comm, state, ppid, utime+stime) or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    lp, rp = data.index("("), data.rindex(")")
    rest = data[rp + 2:].split()
    return data[lp + 1:rp], rest[0], int(rest[1]), \
        int(rest[11]) + int(rest[12])


def proc_ident(pid):
    """(start time, session id) of pid, or None: a pid with the same start
    time is the same process, not a reused pid."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return int(rest[19]), int(rest[3])


def app_processes(cfg, app):
    """Live processes below cfg's httpd running the app binary app."""
    if not cfg.proc:
        return 0
    n = 0
    for pid in descendants(cfg.proc.pid):
        try:
            exe = os.readlink("/proc/%d/exe" % pid)
        except OSError:
            continue
        if exe == app and alive(pid):
            n += 1
    return n


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def descendants(root):
    """root and every process below it (one /proc scan)."""
    children = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            children.setdefault(st[2], []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def rss_bytes(pid):
    try:
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def pss_bytes(pid):
    """Proportional set size: shared pages divided among their users, so
    that the parent's and the children's copies are not counted twice."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def apache_pids(cfg):
    """Every live apache2 process of this config (parent, children, and
    for ours the process manager)."""
    if not cfg.proc:
        return []
    out = []
    for pid in descendants(cfg.proc.pid):
        st = proc_stat(pid)
        if st and st[0] == "apache2" and st[1] != "Z":
            out.append(pid)
    return out


def apache_rss(cfg):
    """Summed RSS of every apache2 process of this config."""
    return sum(rss_bytes(pid) for pid in apache_pids(cfg))


def apache_pss(cfg):
    """Summed PSS of every apache2 process of this config."""
    return sum(pss_bytes(pid) for pid in apache_pids(cfg))


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[1] != "Z"


class RssSampler(threading.Thread):
    """Samples the active config's httpd RSS every RSS_PERIOD seconds."""

    def __init__(self):
        super().__init__(daemon=True)
        self.lock = threading.Lock()
        self.active = None
        self.peak = {}
        self.peak_pss = {}
        self.window_peak = 0
        self.window_peak_pss = 0
        self.stop_ev = threading.Event()

    def set_active(self, cfg):
        with self.lock:
            self.active = cfg
            self.window_peak = 0
            self.window_peak_pss = 0

    def take_window(self):
        """(RSS, PSS) peaks since set_active()."""
        with self.lock:
            return self.window_peak, self.window_peak_pss

    def run(self):
        while not self.stop_ev.wait(RSS_PERIOD):
            with self.lock:
                cfg = self.active
            if cfg is None:
                continue
            rss, pss = apache_rss(cfg), apache_pss(cfg)
            with self.lock:
                if cfg is self.active:
                    self.window_peak = max(self.window_peak, rss)
                    self.window_peak_pss = max(self.window_peak_pss, pss)
                self.peak[cfg.key] = max(self.peak.get(cfg.key, 0), rss)
                self.peak_pss[cfg.key] = max(self.peak_pss.get(cfg.key, 0),
                                             pss)


def foreign_cpu(seconds, own):
    """{pid: (pct, cmd)} of processes not in own using CPU over seconds."""
    hz = os.sysconf("SC_CLK_TCK")
    before = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            before[pid] = st[3]
    time.sleep(seconds)
    busy = {}
    for pid, t0 in before.items():
        if pid in own:
            continue
        st = proc_stat(pid)
        if not st:
            continue
        pct = 100.0 * (st[3] - t0) / hz / seconds
        if pct > 1.0:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(
                        "utf-8", "replace").strip()[:100]
            except OSError:
                cmd = st[0]
            busy[pid] = (pct, cmd or st[0])
    return busy


# ------------------------------------------------------------------ runner

def log_error_lines(cfg, name=None):
    """Log the kinds of error lines in @cfg's error_log (the first 8),
    under @name (default: its key); returns them."""
    lines = error_log_lines(cfg)
    if lines:
        log("error_log of %s: %d error lines, kinds:" % (
            name or cfg.key, sum(n for n, _ in lines)))
        for n, text in lines[:8]:
            log("  %6dx %s" % (n, text))
    return lines


def in_turn(items, rep, wi, nwork):
    """@items in the order of repetition @rep, workload @wi of @nwork:
    every item in turn, the first one rotating, so that none always runs
    first."""
    if not items:
        return []
    shift = (rep * nwork + wi) % len(items)
    return items[shift:] + items[:shift]


class Bench:
    def init_own(self, args):
        """For a subclass that does not run Bench.__init__ (its
        configurations and RSS sampler): the fields Bench's methods that
        it inherits read."""
        self.args = args
        self.tmp = None
        self.module_so = None
        self.baseline_so = None
        self.app = None
        self.docroot = None
        self.php_bin = None

    def __init__(self, args):
        self.args = args
        self.tmp = None
        self.module_so = None
        self.app = None
        self.docroot = None
        self.configs = [c for c in CONFIGS
                        if not args.configs or c.key in args.configs]
        if args.only_php_fpm:
            self.configs = []
        self.baseline_so = None
        if args.baseline:
            self.configs.append(BASELINE)
        # PHP through php-fpm: its configurations, and the php-fpm
        # (started with them, stopped by PID in stop())
        self.php_configs = [] if args.no_php_fpm else [
            c for c in PHP_CONFIGS
            if not args.configs or c.key in args.configs]
        self.fpm = None           # php-fpm's Popen (its master process)
        self.fpm_dir = None
        self.fpm_failed = None    # why php-fpm did not start
        self.fpm_conns = {}       # key -> connections seen in warm-up
        self.php_secs = None      # wall time of the PHP part
        self.sampler = RssSampler()
        self.results = {}   # (workload, cfg) -> list of dicts
        self.errors = {}    # (workload, cfg) -> [str]
        self.lua = None
        self.post_expect = None
        self.contended = []
        self.throwaways = []  # extra instances for the first-request timing
        self.first = {}       # key -> [(ttfb ms, total ms)]
        self.first_errors = []
        self.tracked = {}     # pid -> start time: httpd trees, for stop()
        self.sessions = {}    # httpd pid (= its session id) -> start time
        self.app_count = {}   # key -> [after warm-up, at the end]

    # ---------------------------------------------------------- setup

    def own_pids(self):
        own = set(descendants(os.getpid()))
        for cfg in self.configs:
            own.update(cfg.pool_pids)
        return own

    def setup(self):
        self.tmp = make_run_dir("fcgix-bench-", ("bin", "www", "sock"))
        self.app = os.path.join(self.tmp, "bin", "bench_app")
        if self.configs:   # not with --only-php-fpm
            subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra",
                            "-Werror", "-o", self.app,
                            os.path.join(HERE, "bench_app.c"), "-lfcgi"],
                           check=True, timeout=120)
        # A private copy: a rebuild of the tree during the run must not
        # change what is measured.
        self.module_so = os.path.join(self.tmp, "bin", "mod_fastcgi_x.so")
        shutil.copy2(self.args.module, self.module_so)
        describe_module("module", self.args.module)
        if self.args.baseline:
            self.baseline_so = os.path.join(self.tmp, "bin",
                                            "mod_fastcgi_x_base.so")
            shutil.copy2(self.args.baseline, self.baseline_so)
            describe_module("baseline module", self.args.baseline)
        self.docroot = os.path.join(self.tmp, "www")
        if self.configs:
            shutil.copy2(self.app, os.path.join(self.docroot, "app.fcgi"))
            os.chmod(os.path.join(self.docroot, "app.fcgi"), 0o755)
        with open(os.path.join(self.docroot, "hello.txt"), "wb") as f:
            f.write(HELLO)
        with open(os.path.join(self.docroot, "hello.php"), "w") as f:
            f.write(PHP_HELLO)
        os.chmod(os.path.join(self.docroot, "hello.php"), 0o644)
        with open(os.path.join(self.docroot, "1m.txt"), "wb") as f:
            f.write(pattern(GET_SIZE))
        body = pattern(POST_SIZE)
        self.post_expect = "length=%d crc32=%08x\n" % (
            POST_SIZE, zlib.crc32(body))
        self.lua = os.path.join(self.tmp, "post.lua")
        with open(self.lua, "w") as f:
            f.write(LUA_POST % {"n": POST_SIZE, "reps": POST_SIZE // 13 + 1,
                                "expect": self.post_expect.strip()})

    def free_port(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def start_pool(self, cfg):
        pidfile = os.path.join(self.tmp, "sock", cfg.key + ".pid")
        cfg.sock = os.path.join(self.tmp, "sock", cfg.key + ".sock")
        subprocess.run(["taskset", "-c", SERVER_CPU, "spawn-fcgi",
                        "-F", str(APP_PROCS), "-s", cfg.sock, "-M", "0660",
                        "-U", RUN_USER, "-G", RUN_USER, "-u", RUN_USER,
                        "-g", RUN_USER, "-P", pidfile, "--", self.app],
                       check=True, timeout=30, stdout=subprocess.DEVNULL,
                       start_new_session=True)
        with open(pidfile) as f:
            cfg.pool_pids = [int(x) for x in f.read().split()]
        if len(cfg.pool_pids) != APP_PROCS:
            raise RuntimeError("spawn-fcgi started %d processes"
                               % len(cfg.pool_pids))

    def start_config(self, cfg):
        cfg.dir = os.path.join(self.tmp, cfg.key + (
            "-" + cfg.tag if cfg.tag else ""))
        os.makedirs(os.path.join(cfg.dir, "run"), 0o755)
        shutil.chown(os.path.join(cfg.dir, "run"), RUN_USER, RUN_USER)
        cfg.port = self.free_port()
        if cfg.pool:
            self.start_pool(cfg)
        conf = os.path.join(cfg.dir, "httpd.conf")
        with open(conf, "w") as f:
            f.write(self.conf_text(cfg))
        out = open(os.path.join(cfg.dir, "stdout.log"), "wb")
        cfg.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, APACHE, "-f", conf,
             "-DFOREGROUND"], stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        ident = proc_ident(cfg.proc.pid)
        if ident:
            self.sessions[cfg.proc.pid] = ident[0]
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if cfg.proc.poll() is not None:
                raise RuntimeError("httpd exited with %d: %s" % (
                    cfg.proc.returncode, self.tail(cfg, "stdout.log")
                    + self.tail(cfg, "error.log")))
            try:
                with socket.create_connection(("127.0.0.1", cfg.port), 1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("httpd did not listen within %.0f s"
                           % START_TIMEOUT)

    def conf_text(self, cfg):
        """cfg's whole httpd.conf (a subclass measuring other
        configurations overrides this, and start_config stays shared)."""
        if getattr(cfg, "php", False):
            extra, modules = php_conf(cfg, self.module_so,
                                      os.path.join(self.tmp, "php-fcgi"))
        else:
            extra, modules = specific_conf(cfg, self.docroot, self.module_so,
                                           self.baseline_so)
        return common_conf(cfg, self.docroot, modules) + extra

    # ---------------------------------------------------------- php-fpm

    def start_php(self):
        """Starts php-fpm and the PHP configurations, checks each; returns
        the live ones ([] when php-fpm is missing or did not start)."""
        if not self.php_configs:
            return []
        if not os.access(PHP_FPM, os.X_OK):
            self.fpm_failed = "skipped: %s not found (apt-get install " \
                "php8.2-fpm)" % PHP_FPM
            log("PHP through php-fpm " + self.fpm_failed)
            self.php_configs = []
            return []
        try:
            self.start_fpm(self.php_configs)
        except Exception as e:  # noqa: BLE001 - report and go on
            self.fpm_failed = "php-fpm did not start: %s" % e
            log("FAILED " + self.fpm_failed)
            for cfg in self.php_configs:
                cfg.failed = "php-fpm did not start"
            return []
        log("started php-fpm pid %d (%s): %d pools x %d children (pm "
            "static), CPU %s" % (self.fpm.pid, php_version(),
                                 len(self.php_configs), APP_PROCS,
                                 SERVER_CPU))
        for cfg in self.php_configs:
            try:
                self.start_config(cfg)
                self.verify(cfg)
                log("started %-22s port %d: checks passed (GET /hello.php "
                    "x3: 200, 13 B)" % (cfg.key, cfg.port))
            except Exception as e:  # noqa: BLE001 - report and go on
                cfg.failed = "start/verify: %s" % e
                log("FAILED %s: %s" % (cfg.key, e))
        return [c for c in self.php_configs if not c.failed]

    def fpm_children(self):
        """php-fpm's live processes other than its master."""
        if not self.fpm:
            return []
        return [p for p in descendants(self.fpm.pid)
                if p != self.fpm.pid and alive(p)]

    def start_fpm(self, cfgs):
        """One php-fpm for the run, in the foreground, pinned to the server
        CPU like httpd and the spawn-fcgi pools, with a pool per
        configuration in cfgs (cfg.sock set here); waits (bounded) for
        every pool's socket and children."""
        self.fpm_dir = os.path.join(self.tmp, "fpm")
        os.mkdir(self.fpm_dir, 0o755)
        # the directory the Action's Alias points into (nothing in it)
        os.mkdir(os.path.join(self.tmp, "php-fcgi"), 0o755)
        for cfg in cfgs:
            cfg.sock = os.path.join(self.fpm_dir, cfg.key + ".sock")
        conf = os.path.join(self.fpm_dir, "php-fpm.conf")
        with open(conf, "w") as f:
            f.write(fpm_conf(self.fpm_dir, cfgs, os.geteuid() == 0))
        out = open(os.path.join(self.fpm_dir, "stdout.log"), "wb")
        self.fpm = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, PHP_FPM, "--nodaemonize",
             "--fpm-config", conf], stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        ident = proc_ident(self.fpm.pid)
        if ident:
            self.sessions[self.fpm.pid] = ident[0]
        want = APP_PROCS * len(cfgs)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.fpm.poll() is not None:
                raise RuntimeError("php-fpm exited with %d: %s" % (
                    self.fpm.returncode, self.fpm_tail()))
            if len(self.fpm_children()) >= want and all(
                    os.path.exists(c.sock) for c in cfgs):
                return
            time.sleep(0.1)
        raise RuntimeError("php-fpm: not %d children and %d sockets within "
                           "%.0f s: %s" % (want, len(cfgs), START_TIMEOUT,
                                           self.fpm_tail()))

    def fpm_log_lines(self):
        """[(count, text)] of php-fpm's WARNING/ERROR/ALERT lines."""
        counts = {}
        try:
            with open(os.path.join(self.fpm_dir, "error.log"),
                      errors="replace") as f:
                for line in f:
                    if not re.search(r"\] (WARNING|ERROR|ALERT):", line):
                        continue
                    text = re.sub(r"^\[[^]]*\] ", "", line.strip())[:200]
                    counts[text] = counts.get(text, 0) + 1
        except OSError:
            return []
        return sorted(((n, t) for t, n in counts.items()), reverse=True)

    def fpm_tail(self, n=10):
        out = ""
        for name in ("stdout.log", "error.log"):
            try:
                with open(os.path.join(self.fpm_dir, name),
                          errors="replace") as f:
                    out += "".join(f.readlines()[-n:])
            except OSError:
                pass
        return out.strip()

    def warm_php(self, cfg):
        """The warm-up of a PHP configuration, watching its connections to
        php-fpm: /proc/net/unix sampled every 5 ms while wrk runs (distinct
        connections seen, most open at once), and those still open 0.5 s
        after. Kept connections (enablereuse, -keep-conn) show as about
        APP_PROCS connections for the whole warm-up; a connection per
        request as many more (short-lived ones are missed between samples,
        so that count is a floor)."""
        seen, most, done = set(), [0], threading.Event()

        def sample():
            while not done.wait(0.005):
                now = unix_conns(cfg.sock)
                seen.update(now)
                most[0] = max(most[0], len(now))

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        try:
            r = self.wrk(cfg, "hello", 16, 2)
        finally:
            done.set()
            t.join(5)
        time.sleep(0.5)
        self.fpm_conns[cfg.key] = dict(
            seen=len(seen), most=most[0], requests=r.get("requests", 0),
            after=len(unix_conns(cfg.sock)))

    def stop_fpm(self):
        """SIGTERM to php-fpm's master, which stops its children; after
        STOP_TIMEOUT SIGKILL to its tree (noted by pid and start time
        before the signal), then to whatever of it outlived it."""
        p = self.fpm
        if not p or p.poll() is not None:
            return
        tree = descendants(p.pid)
        for pid in tree:
            ident = proc_ident(pid)
            if ident:
                self.tracked[pid] = ident[0]
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log("php-fpm (pid %d) ignored SIGTERM; killing" % p.pid)
            for pid in tree:
                self.kill_tracked(pid)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                log("php-fpm (pid %d) outlived SIGKILL" % p.pid)
        self.reap_tracked(2.0)

    def tail(self, cfg, name, n=10):
        try:
            with open(os.path.join(cfg.dir, name), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # ---------------------------------------------------------- checks

    def http(self, cfg, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", cfg.port,
                                          timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def verify(self, cfg):
        """Raises if cfg does not serve the right bytes."""
        if getattr(cfg, "php", False):
            # PHP ran (the source is not the 13 bytes), three times on new
            # connections (a kept connection to php-fpm used again)
            for _ in range(3):
                status, body = self.http(cfg, "GET", "/hello.php")
                if status != 200 or body != HELLO:
                    raise RuntimeError("GET /hello.php: %d %r" % (
                        status, body[:80]))
            return
        status, body = self.http(cfg, "GET", cfg.url_path("hello"))
        if status != 200 or body != HELLO:
            raise RuntimeError("GET hello: %d %r" % (status, body[:80]))
        status, body = self.http(cfg, "GET", cfg.url_path("get"))
        if status != 200 or body != pattern(GET_SIZE):
            raise RuntimeError("GET 1 MiB: %d, %d bytes, %s" % (
                status, len(body), "right bytes" if body ==
                pattern(GET_SIZE)[:len(body)] else "wrong bytes"))
        if cfg.static:
            return
        for n in (0, 65537, POST_SIZE):
            data = os.urandom(n) if n != POST_SIZE else pattern(n)
            want = "length=%d crc32=%08x\n" % (n, zlib.crc32(data))
            status, body = self.http(
                cfg, "POST", "/app.fcgi", body=data,
                headers={"Content-Type": "application/octet-stream"})
            got = body.decode("latin-1")
            if status != 200 or got != want:
                raise RuntimeError("POST %d bytes: %d %r, want %r" % (
                    n, status, got[:80], want))

    def first_request(self, cfg):
        """(TTFB, total) in ms of one GET of the app, the first one since
        httpd started. A static file is fetched first, so the time is the
        app's, not that of httpd's worker child coming up."""
        status, body = self.http(cfg, "GET", "/hello.txt")
        if status != 200 or body != HELLO:
            raise RuntimeError("GET /hello.txt: %d %r" % (status, body[:80]))
        conn = http.client.HTTPConnection("127.0.0.1", cfg.port,
                                          timeout=HTTP_TIMEOUT)
        try:
            t0 = time.monotonic()
            conn.request("GET", cfg.url_path("hello"))
            resp = conn.getresponse()
            t1 = time.monotonic()
            body = resp.read()
            t2 = time.monotonic()
        finally:
            conn.close()
        if resp.status != 200 or body != HELLO:
            raise RuntimeError("first GET of the app: %d %r" % (
                resp.status, body[:80]))
        return 1e3 * (t1 - t0), 1e3 * (t2 - t0)

    def time_first(self, cfg, inst, run):
        """Times inst's first request into self.first[cfg.key]."""
        try:
            ttfb, total = self.first_request(inst)
        except Exception as e:  # noqa: BLE001 - report and go on
            self.first_errors.append("%s run %d: %s" % (cfg.key, run, e))
            log("  %s first request, run %d: FAILED %s" % (cfg.key, run, e))
            return
        self.first.setdefault(cfg.key, []).append((ttfb, total))
        log("  %s first request, run %d: TTFB %.1f ms, total %.1f ms" % (
            cfg.key, run, ttfb, total))

    def first_runs(self, cfg):
        """FIRST_RUNS - 1 first requests on throwaway instances of cfg,
        each stopped at once; the measured instance gives the last one."""
        for i in range(1, FIRST_RUNS):
            inst = cfg.throwaway("first%d" % i)
            self.throwaways.append(inst)
            try:
                self.start_config(inst)
                self.time_first(cfg, inst, i)
            except Exception as e:  # noqa: BLE001
                self.first_errors.append("%s run %d: start: %s" % (
                    cfg.key, i, e))
                log("  %s run %d: FAILED to start: %s" % (cfg.key, i, e))
            finally:
                self.stop_httpd(inst)

    def wait_idle(self):
        if self.args.no_idle_wait:
            log("idle check skipped (--no-idle-wait)")
            return
        deadline = time.monotonic() + IDLE_WAIT_MAX
        while True:
            busy = {p: v for p, v in foreign_cpu(3.0, self.own_pids())
                    .items() if v[0] > IDLE_LIMIT_PCT}
            if not busy:
                log("machine idle: no other process above %.0f%% CPU"
                    % IDLE_LIMIT_PCT)
                return
            for pid, (pct, cmd) in sorted(busy.items()):
                log("  busy: pid %d %.0f%% %s" % (pid, pct, cmd))
            if time.monotonic() + IDLE_CHECK_EVERY > deadline:
                log("WARNING: machine still busy after %.0f min; measuring "
                    "anyway, numbers are suspect" % (IDLE_WAIT_MAX / 60))
                self.contended.append("busy before the run: " + ", ".join(
                    "%s %.0f%%" % (c[:40], p) for p, c in busy.values()))
                return
            log("waiting %.0f s for the machine to become idle ..."
                % IDLE_CHECK_EVERY)
            time.sleep(IDLE_CHECK_EVERY)

    # ---------------------------------------------------------- wrk

    def wrk(self, cfg, kind, conns, seconds):
        url = "http://127.0.0.1:%d%s" % (cfg.port, cfg.url_path(kind))
        cmd = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", "-c%d" % conns,
               "-d%ds" % seconds, "--latency", "--timeout", "10s"]
        if kind == "post":
            cmd += ["-s", self.lua]
        cmd.append(url)
        try:
            out = subprocess.run(cmd, capture_output=True, text=True,
                                 timeout=seconds + 60,
                                 start_new_session=True)
        except subprocess.TimeoutExpired:
            return {"error": "wrk hung (timeout)"}
        return parse_wrk(out.stdout + out.stderr, kind)

    def run_one(self, wl, cfg):
        name, kind, conns, unit = wl
        self.wrk(cfg, kind, conns, self.args.warmup)
        self.sampler.set_active(cfg)
        cpu0 = snapshot_cpu()
        r = self.wrk(cfg, kind, conns, self.args.duration)
        r["rss"], r["pss"] = self.sampler.take_window()
        self.sampler.set_active(None)
        hot = foreign_since(cpu0, self.own_pids(), 1.0)
        r["foreign"] = sum(p for p, _ in hot)
        r["foreign_top"] = hot[0][1][:60] if hot else ""
        if "rps" in r:
            size = {"hello": len(HELLO), "get": GET_SIZE,
                    "post": POST_SIZE}[kind]
            r["mbps"] = r["rps"] * size / 1e6
            r["metric"] = r["rps"] if unit == "req/s" else r["mbps"]
        return r, self.record((name, cfg.key), r)

    def log_failed(self, configs):
        """Log each failed configuration and each configuration's wrk
        errors; returns whether there was any."""
        bad = False
        for cfg in configs:
            if cfg.failed:
                bad = True
                log("FAILED config %s: %s" % (cfg.key, cfg.failed))
        for (name, key), probs in sorted(self.errors.items()):
            bad = True
            log("errors in %s / %s: %s" % (name, key, "; ".join(probs)))
        return bad

    def record(self, key, r):
        """Keep a wrk run's result under @key (a workload and a
        configuration) and its problems, if any, in self.errors; returns
        the problems."""
        problems = wrk_problems(r)
        if problems:
            self.errors.setdefault(key, []).append(problems)
        self.results.setdefault(key, []).append(r)
        return problems

    # ---------------------------------------------------------- main

    def run(self):
        self.setup()
        self.sampler.start()
        for cfg in self.configs:
            try:
                if cfg.key in FIRST_TIMED:
                    self.first_runs(cfg)
                self.start_config(cfg)
                if cfg.key in FIRST_TIMED:
                    self.time_first(cfg, cfg, FIRST_RUNS)
                self.verify(cfg)
                log("started %-16s port %d: checks passed (GET 13 B, "
                    "GET 1 MiB%s)" % (cfg.key, cfg.port, "" if cfg.static
                                      else ", POST 0/65537/10 MiB CRC"))
            except Exception as e:  # noqa: BLE001 - report and go on
                cfg.failed = "start/verify: %s" % e
                log("FAILED %s: %s" % (cfg.key, e))
        live = [c for c in self.configs if not c.failed]
        t0 = time.monotonic()
        php = self.start_php()
        self.warm(php)
        php_start = time.monotonic() - t0
        self.warm(live)
        self.count_apps(live, "after warm-up")
        self.wait_idle()
        if live:
            self.measure(live, WORKLOADS, "")
            self.count_apps(live, "after the measured runs")
            if not self.args.no_syscalls:
                for cfg in live:
                    self.count_syscalls(cfg)
        if php:
            t0 = time.monotonic()
            self.measure(php, PHP_WORKLOADS, " PHP through php-fpm")
            # its start, checks and warm-up, and its measured runs
            self.php_secs = php_start + time.monotonic() - t0
        self.upload_check()
        self.report()

    def warm(self, live):
        """Warms every app pool (mod_fcgid spawns lazily; opcache compiles
        hello.php in each php-fpm child), unmeasured; notes idle memory."""
        for cfg in live:
            if getattr(cfg, "php", False):
                self.warm_php(cfg)
            else:
                self.wrk(cfg, "hello", 16, 2)
            cfg.rss_idle = apache_rss(cfg)
            cfg.pss_idle = apache_pss(cfg)

    def measure(self, live, workloads, what):
        """Every workload on every configuration of live, interleaved: for
        each repetition, for each workload, every configuration in turn,
        the first one rotating."""
        reps = self.args.reps
        w_name = max(10, max(len(wl[0]) for wl in workloads))
        w_key = max(16, max(len(c.key) for c in live))
        log("\nmeasuring%s: %d repetitions x %d workloads x %d configs, "
            "%d s warm-up + %d s each" % (what, reps, len(workloads),
                                          len(live), self.args.warmup,
                                          self.args.duration))
        for rep in range(reps):
            cpu0 = snapshot_cpu()
            for wi, wl in enumerate(workloads):
                order = in_turn([c for c in live
                                 if not (c.static and wl[1] == "post")],
                                rep, wi, len(workloads))
                for cfg in order:
                    r, problems = self.run_one(wl, cfg)
                    log("[rep %d/%d] %-*s %-*s %s%s%s" % (
                        rep + 1, reps, w_name, wl[0], w_key, cfg.key,
                        fmt_progress(r, wl),
                        "  (other processes: %.0f%% CPU)" % r["foreign"]
                        if r["foreign"] >= 5 else "",
                        ("  !! " + problems) if problems else ""))
                    if r["foreign"] >= 20:
                        self.contended.append(
                            "rep %d %s %s: other processes used %.0f%% CPU"
                            " (most: %s)" % (rep + 1, wl[0], cfg.key,
                                             r["foreign"], r["foreign_top"]))
            hot = foreign_since(cpu0, self.own_pids())
            if hot:
                note = "%srep %d: other processes used CPU: %s" % (
                    what.strip() + " " if what else "", rep + 1,
                    ", ".join("%s %.0f%%" % (c[:40], p) for p, c in hot))
                self.contended.append(note)
                log("  note: " + note)

    # ------------------------------------------------------ syscalls

    def app_pids(self, cfg):
        """The app processes serving cfg: its spawn-fcgi pool, or the
        processes below its httpd that run the app binary."""
        if cfg.pool_pids:
            return [p for p in cfg.pool_pids if alive(p)]
        app = os.path.join(self.docroot, "app.fcgi")
        out = []
        for pid in descendants(cfg.proc.pid) if cfg.proc else []:
            try:
                exe = os.readlink("/proc/%d/exe" % pid)
            except OSError:
                continue
            if exe in (app, self.app) and alive(pid):
                out.append(pid)
        return out

    def count_syscalls(self, cfg):
        """System calls per request: strace -c -f on httpd's processes and
        (apart) on the app's, over SYSCALL_REQUESTS hello requests sent by
        ab at c16 with keep-alive. strace slows everything down; only the
        counts mean something, not the time."""
        if shutil.which("strace") is None or shutil.which("ab") is None:
            cfg.syscalls = "strace or ab missing (apt-get install strace " \
                           "apache2-utils)"
            return
        groups = {"httpd": [p for p in apache_pids(cfg)
                            if p != cfg.proc.pid],
                  "app": [] if cfg.static else self.app_pids(cfg)}
        tracers, outs = {}, {}
        try:
            for name, pids in groups.items():
                if not pids:
                    continue
                outs[name] = os.path.join(self.tmp, "strace-%s-%s.txt"
                                          % (cfg.key, name))
                cmd = ["strace", "-c", "-f", "-qq", "-o", outs[name]]
                for pid in pids:
                    cmd += ["-p", str(pid)]
                tracers[name] = subprocess.Popen(
                    cmd, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True)
                ident = proc_ident(tracers[name].pid)
                if ident:  # stopped by stop() too, should the run die
                    self.tracked[tracers[name].pid] = ident[0]
            time.sleep(1.0)  # attached to every thread
            url = "http://127.0.0.1:%d%s" % (cfg.port,
                                             cfg.url_path("hello"))
            ab = subprocess.run(
                ["taskset", "-c", CLIENT_CPU, "ab", "-q", "-k", "-n",
                 str(SYSCALL_REQUESTS), "-c", "16", url],
                capture_output=True, text=True, timeout=600,
                start_new_session=True)
            done = re.search(r"Complete requests:\s+(\d+)", ab.stdout)
            failed = re.search(r"Failed requests:\s+(\d+)", ab.stdout)
            if not done or int(done.group(1)) != SYSCALL_REQUESTS or (
                    failed and int(failed.group(1))):
                cfg.syscalls = "ab did not complete: %s" % (
                    ab.stdout + ab.stderr).strip()[-200:]
                return
        finally:
            for t in tracers.values():
                kill(t.pid, signal.SIGINT)
            for t in tracers.values():
                try:
                    t.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    kill(t.pid, signal.SIGKILL)
                    t.wait(timeout=10)
        cfg.syscalls = {name: parse_strace(path)
                        for name, path in outs.items()}

    def count_apps(self, live, when):
        """Notes how many app processes httpd itself runs (the module's
        PM, mod_fcgid): dynamic ones must not be stopped between runs."""
        app = os.path.join(self.docroot, "app.fcgi")
        for cfg in live:
            if cfg.pool or cfg.static or cfg.key == "cgid":
                continue
            n = app_processes(cfg, app)
            self.app_count.setdefault(cfg.key, []).append(n)
            log("%s: %d app processes %s" % (cfg.key, n, when))

    def upload_check(self):
        cfg = next((c for c in self.configs
                    if c.key == "fastcgi_x" and not c.failed), None)
        if cfg is None or self.args.upload_mib <= 0:
            self.upload = None
            return
        n = self.args.upload_mib * MIB
        log("\nupload check: POST %d MiB to mod_fastcgi_x ..." % (n // MIB))
        chunk = pattern(MIB)
        crc = 0
        for _ in range(n // MIB):
            crc = zlib.crc32(chunk, crc)
        want = "length=%d crc32=%08x\n" % (n, crc)

        def gen():
            for _ in range(n // MIB):
                yield chunk

        time.sleep(1.0)
        base = apache_rss(cfg)
        self.sampler.set_active(cfg)
        t0 = time.monotonic()
        try:
            status, body = self.http(
                cfg, "POST", "/app.fcgi", body=gen(),
                headers={"Content-Length": str(n),
                         "Content-Type": "application/octet-stream"})
            got = body.decode("latin-1")
            ok = status == 200 and got == want
            detail = "" if ok else "got %d %r, want %r" % (status, got[:80],
                                                           want)
        except Exception as e:  # noqa: BLE001
            ok, detail = False, "error: %s" % e
        secs = time.monotonic() - t0
        time.sleep(2 * RSS_PERIOD)
        peak = max(self.sampler.take_window()[0], apache_rss(cfg))
        self.sampler.set_active(None)
        self.upload = dict(n=n, base=base, peak=peak, secs=secs, ok=ok,
                           detail=detail)

    # ---------------------------------------------------------- report

    def report(self):
        log("\n" + "=" * 78)
        log("RESULTS: medians of %d repetitions, %d s each (noise = "
            "(max-min)/median)" % (self.args.reps, self.args.duration))
        log("Apache %s, mpm_event 1 child x 128 threads, server on CPU %s, "
            "wrk -t1 on CPU %s; MB = 10^6 bytes of body"
            % (apache_version(), SERVER_CPU, CLIENT_CPU))
        live = [c for c in self.configs if not c.failed]
        if live:
            self.report_main(live)
        php = [c for c in self.php_configs if not c.failed]
        if php:
            self.report_php(php)
        elif self.fpm_failed:
            log("\nPHP through php-fpm: " + self.fpm_failed)
        if self.upload:
            u = self.upload
            log("\n%d MiB upload to mod_fastcgi_x: %s, %.1f s (%.0f MB/s); "
                "httpd RSS %.1f -> peak %.1f MiB, growth %.1f MiB%s" % (
                    u["n"] // MIB, "response OK (length+CRC)" if u["ok"] else
                    "FAILED " + u["detail"], u["secs"], u["n"] / u["secs"]
                    / 1e6, u["base"] / MIB, u["peak"] / MIB,
                    (u["peak"] - u["base"]) / MIB,
                    "" if u["peak"] - u["base"] < 16 * MIB
                    else "  (over the 16 MiB floor)"))
        self.report_failures()

    def summarize(self, name, cfg):
        """The median metric, its noise, p50, p99 and errors of cfg's
        repetitions of workload name, or None: none measured."""
        rs = [r for r in self.results.get((name, cfg.key), [])
              if "metric" in r]
        if not rs:
            return None
        m = med([r["metric"] for r in rs])
        return dict(m=m,
                    noise=(max(r["metric"] for r in rs)
                           - min(r["metric"] for r in rs)) / m if m else 0,
                    p50=med([r["p50"] for r in rs]),
                    p99=med([r["p99"] for r in rs]),
                    errs=sum(r.get("nerr", 0) for r in rs))

    def report_main(self, live):
        summary = {}
        for wl in WORKLOADS:
            name, kind, conns, unit = wl
            log("\n%s (%s)" % (name, unit))
            log("  %-16s %10s %7s %9s %9s %8s  %s" % (
                "config", unit, "noise", "p50 ms", "p99 ms", "errors", ""))
            for cfg in live:
                s = self.summarize(name, cfg)
                if s is None:
                    continue
                summary[(name, cfg.key)] = s
                log("  %-16s %10s %6.0f%% %9.3f %9.3f %8d  %s" % (
                    cfg.key, fmt_num(s["m"]), 100 * s["noise"], s["p50"],
                    s["p99"], s["errs"], cfg.title))
            for cfg in live:
                if cfg.ours and (name, cfg.key) in summary:
                    log("  " + ratio_line(summary, self.results, name, live,
                                          cfg.key))
            if self.args.baseline:
                log("  " + baseline_line(summary, self.results, name))
        self.report_memory(live)
        self.report_syscalls(live)
        self.summary_table(summary, live)
        self.report_floors(summary, live)
        self.report_first()

    def report_php(self, php):
        """PHP through php-fpm: per workload, req/s and latency; each of
        our configurations / php_fpm_proxy (mod_proxy_fcgi as Debian sets
        it up) and / the better of php_fpm_proxy and php_fpm_proxy_reuse;
        connections to php-fpm in the warm-up; issue 17's PHP floor."""
        proxy = [c for c in php if c.key == PHP_PROXY]
        peers = [c for c in php if c.peer]
        log("\nPHP through php-fpm: GET /hello.php (13 B), %s; one pool "
            "per configuration, pm static, %d children, on CPU %s with "
            "httpd" % (php_version(), APP_PROCS, SERVER_CPU))
        summary = {}
        for name, _, _, unit in PHP_WORKLOADS:
            log("\n%s (%s)" % (name, unit))
            log("  %-22s %10s %7s %9s %9s %8s  %s" % (
                "config", unit, "noise", "p50 ms", "p99 ms", "errors", ""))
            for cfg in php:
                s = self.summarize(name, cfg)
                if s is None:
                    continue
                summary[(name, cfg.key)] = s
                log("  %-22s %10s %6.0f%% %9.3f %9.3f %8d  %s" % (
                    cfg.key, fmt_num(s["m"]), 100 * s["noise"], s["p50"],
                    s["p99"], s["errs"], cfg.title))
            for cfg in php:
                if cfg.ours and (name, cfg.key) in summary:
                    log("  " + php_ratio_line(summary, self.results, name,
                                              cfg.key, proxy, peers))
        if self.fpm_conns:
            log("\nconnections to php-fpm during the 2 s warm-up at c16 "
                "(/proc/net/unix every 5 ms: distinct ones seen, a floor; "
                "most open at once; still open 0.5 s after):")
            for cfg in php:
                c = self.fpm_conns.get(cfg.key)
                if c:
                    log("  %-22s %6s seen, %d at once, %d after, for %s "
                        "requests" % (cfg.key, fmt_num(c["seen"]), c["most"],
                                      c["after"], fmt_num(c["requests"])))
        log("\n| config | PHP hello c1 req/s (p99 ms) | PHP hello c16 req/s "
            "(p99 ms) | PHP hello c64 req/s (p99 ms) | httpd RSS peak MiB |")
        log("|---|---|---|---|---|")
        for cfg in php:
            cells = []
            for name, _, _, _ in PHP_WORKLOADS:
                s = summary.get((name, cfg.key))
                cells.append("-" if not s else "%s (%s)%s" % (
                    fmt_num(s["m"]), fmt_ms(s["p99"]),
                    " !%d err" % s["errs"] if s["errs"] else ""))
            log("| %s | %s | %s | %s | %.0f |" % (
                cfg.key, cells[0], cells[1], cells[2],
                self.sampler.peak.get(cfg.key, 0) / MIB))
        for cfg in [c for c in php if c.ours]:
            for what, against in ((PHP_PROXY, proxy),
                                  ("better of proxy, proxy_reuse", peers)):
                cells = []
                for name, _, _, _ in PHP_WORKLOADS:
                    r = best_peer_ratio(summary, name, against, cfg.key)
                    cells.append("%.2fx" % r[0] if r else "-")
                log("| **%s / %s** | %s | %s | %s | |" % (
                    cfg.key, what, cells[0], cells[1], cells[2]))
        for cfg in [c for c in php if c.ours]:
            rows = []
            for what, against in (
                    ("PHP via php-fpm >= %.1fx mod_proxy_fcgi" % PHP_FLOOR,
                     proxy),
                    ("PHP via php-fpm >= %.1fx the better of mod_proxy_fcgi "
                     "and mod_proxy_fcgi + enablereuse" % PHP_FLOOR, peers)):
                rs = [(name[len("php_hello_"):],
                       best_peer_ratio(summary, name, against, cfg.key))
                      for name, _, _, _ in PHP_WORKLOADS]
                rows.append((what, ", ".join(
                    "%s %.2fx (%s)" % (c, r[0], r[1]) if r else "%s -" % c
                    for c, r in rs),
                    all(r[0] >= PHP_FLOOR for _, r in rs)
                    if all(r for _, r in rs) else None))
            log("\nfloors (issue 17) for %s (hello.php at c1, c16 and c64, "
                "each)" % cfg.key)
            log("| floor | measured | |")
            log("|---|---|---|")
            for what, val, ok in rows:
                log("| %s | %s | %s |" % (what, val, "-" if ok is None else
                                          "PASS" if ok else "BELOW"))
        if self.php_secs:
            log("\nPHP through php-fpm took %.0f s (start, checks, warm-up "
                "and measured runs)" % self.php_secs)

    def get1m_pss(self, key):
        """Median PSS peak of the GET 1 MiB runs, or None."""
        rs = [r["pss"] for r in self.results.get(("get1m_c8", key), [])
              if r.get("pss")]
        return med(rs) if rs else None

    def report_memory(self, live):
        log("\nhttpd memory (summed apache2 processes), MiB: RSS, and PSS "
            "(shared pages divided among their users)")
        log("  %-16s %8s %8s %8s %8s %14s" % (
            "config", "RSS idle", "RSS peak", "PSS idle", "PSS peak",
            "PSS GET 1 MiB"))
        for cfg in live:
            g = self.get1m_pss(cfg.key)
            log("  %-16s %8.1f %8.1f %8.1f %8.1f %14s" % (
                cfg.key, (cfg.rss_idle or 0) / MIB,
                self.sampler.peak.get(cfg.key, 0) / MIB,
                (cfg.pss_idle or 0) / MIB,
                self.sampler.peak_pss.get(cfg.key, 0) / MIB,
                "%.1f" % (g / MIB) if g else "-"))

    def report_syscalls(self, live):
        if self.args.no_syscalls:
            return
        log("\nsystem calls per request (strace -c -f, %d hello requests, "
            "ab -k -c16; httpd = its children and the PM, app = the app's "
            "processes)" % SYSCALL_REQUESTS)
        log("  %-16s %7s %7s  %s" % ("config", "httpd", "app",
                                      "httpd's most frequent"))
        for cfg in live:
            sc = cfg.syscalls
            if not isinstance(sc, dict):
                log("  %-16s %s" % (cfg.key, sc or "not measured"))
                continue
            per = {k: {n: c / SYSCALL_REQUESTS for n, c in v.items()}
                   for k, v in sc.items()}
            httpd = per.get("httpd", {})
            top = sorted(((c, n) for n, c in httpd.items() if n != "total"),
                         reverse=True)[:8]
            log("  %-16s %7.1f %7s  %s" % (
                cfg.key, httpd.get("total", 0),
                "%.1f" % per["app"]["total"] if "app" in per
                and "total" in per["app"] else "-",
                " ".join("%s %.2f" % (n, c) for c, n in top)))

    def report_floors(self, summary, live):
        """Issue 17's floors, for each of our configurations."""
        static = [c for c in live if c.static]
        proxy = [c for c in live if c.key == "proxy_fcgi"]
        for cfg in [c for c in live if c.ours]:
            rows = []
            for name in ("hello_c1", "hello_c16", "hello_c64"):
                r = best_peer_ratio(summary, name, live, cfg.key)
                if r:
                    rows.append(("%s req/s >= 1.2x best peer" % name,
                                 "%.2fx (%s)" % (r[0], r[1]), r[0] >= 1.2))
                p = best_peer_p99_value(summary, name, live)
                own = summary.get((name, cfg.key))
                if p and own:
                    rows.append(("%s p99 <= best peer's" % name,
                                 "%.2f vs %.2f ms" % (own["p99"], p),
                                 own["p99"] <= p))
            for name, floor in (("hello_c16", 0.7), ("get1m_c8", 0.8)):
                own = summary.get((name, cfg.key))
                st = static and summary.get((name, static[0].key))
                if own and st:
                    x = own["m"] / st["m"]
                    rows.append(("%s >= %.1fx static file" % (name, floor),
                                 "%.2fx" % x, x >= floor))
            r = best_peer_ratio(summary, "post10m_c4", live, cfg.key)
            if r:
                rows.append(("post10m_c4 >= 1.4x best peer",
                             "%.2fx (%s)" % (r[0], r[1]), r[0] >= 1.4))
            own, peer = self.get1m_pss(cfg.key), \
                proxy and self.get1m_pss(proxy[0].key)
            if own and peer:
                rows.append(("PSS (GET 1 MiB) <= mod_proxy_fcgi's + 0.5 MiB",
                             "%.1f vs %.1f MiB" % (own / MIB, peer / MIB),
                             own <= peer + MIB / 2))
            log("\nfloors (issue 17) for %s" % cfg.key)
            log("| floor | measured | |")
            log("|---|---|---|")
            for what, val, ok in rows:
                log("| %s | %s | %s |" % (what, val,
                                          "PASS" if ok else "BELOW"))

    def summary_table(self, summary, live):
        log("\n| config | hello c1 req/s | hello c16 req/s (p50/p99 ms) | "
            "hello c64 req/s (p50/p99 ms) | 1 MiB GET MB/s | "
            "10 MiB POST MB/s | httpd RSS peak MiB |")
        log("|---|---|---|---|---|---|---|")

        def cell(name, key, lat=False):
            s = summary.get((name, key))
            if not s:
                return "-"
            txt = fmt_num(s["m"])
            if lat:
                txt += " (%s/%s)" % (fmt_ms(s["p50"]), fmt_ms(s["p99"]))
            if s["errs"]:
                txt += " !%d err" % s["errs"]
            return txt

        for cfg in live:
            log("| %s | %s | %s | %s | %s | %s | %.0f |" % (
                cfg.title, cell("hello_c1", cfg.key),
                cell("hello_c16", cfg.key, True),
                cell("hello_c64", cfg.key, True),
                cell("get1m_c8", cfg.key), cell("post10m_c4", cfg.key),
                self.sampler.peak.get(cfg.key, 0) / MIB))
        for cfg in live:
            if cfg.ours:
                self.ratio_rows(summary, live, cfg.key)

    def ratio_rows(self, summary, live, key):
        row, rep_row = [], []
        for name, _, _, _ in WORKLOADS:
            r = best_peer_ratio(summary, name, live, key)
            row.append("%.2fx" % r[0] if r else "-")
            rr = per_rep_ratios(self.results, name, live, key)
            rep_row.append("%.2fx" % med(rr) if rr else "-")
        p99 = best_peer_p99(summary, "hello_c64", live, key)
        log("| **%s / best peer** | %s | %s | %s (p99 %s) | %s | %s "
            "| |" % (key, row[0], row[1], row[2], p99, row[3], row[4]))
        log("| **%s, median of per-repetition ratios** | %s | %s | %s | "
            "%s | %s | |" % ((key,) + tuple(rep_row)))
        cg = [cgid_ratio(summary, n, key)
              for n in ("hello_c1", "hello_c16", "hello_c64")]
        log("| **%s / mod_cgid** | %s | %s | %s | | | |" % (
            (key,) + tuple("-" if x is None else "%.2fx" % x for x in cg)))

    def report_first(self):
        labels = {
            "fastcgi_x_dyn": "cold start of a dynamic app",
            "fastcgi_x_static": "first request to a FastCgiServer app right "
                                "after httpd start (its processes were "
                                "started by the PM at boot: not a cold "
                                "start)"}
        if self.first or self.first_errors:
            log("")
        for key in FIRST_TIMED:
            runs = self.first.get(key)
            if not runs:
                continue
            for i, what in ((0, "TTFB"), (1, "total")):
                log("%s (%s): median %.1f ms (runs: %s)" % (
                    labels[key], what, med([r[i] for r in runs]),
                    ", ".join("%.1f" % r[i] for r in runs)))
        for err in self.first_errors:
            log("first-request timing FAILED: " + err)
        for key, counts in sorted(self.app_count.items()):
            log("%s: app processes after warm-up / at the end: %s" % (
                key, " / ".join(str(n) for n in counts)))

    def report_failures(self):
        log("")
        bad = self.log_failed(self.configs + self.php_configs)
        if self.fpm_failed and not self.fpm_failed.startswith("skipped"):
            bad = True
            log("FAILED " + self.fpm_failed)
        if self.first_errors:
            bad = True
        for note in self.contended:
            log("contention: " + note)
        if self.fpm_dir:
            fpm_lines = self.fpm_log_lines()
            if fpm_lines:
                log("php-fpm's error_log: %d lines above NOTICE, kinds:"
                    % sum(n for n, _ in fpm_lines))
                for n, text in fpm_lines[:8]:
                    log("  %6dx %s" % (n, text))
        for cfg in self.configs + self.php_configs + self.throwaways:
            log_error_lines(cfg, os.path.basename(cfg.dir))
        if not bad:
            log("no failed configuration, no wrk errors")

    # ---------------------------------------------------------- teardown

    def note_tree(self, cfg):
        """Remembers cfg's httpd and everything below it (the module's PM
        and apps, mod_fcgid's, mod_cgid's daemon) by pid and start time;
        returns its pids."""
        tree = descendants(cfg.proc.pid)
        for pid in tree:
            ident = proc_ident(pid)
            if ident:
                self.tracked[pid] = ident[0]
        return tree

    def stop_httpd(self, cfg):
        """SIGTERM to cfg's httpd (SIGKILL to its tree after STOP_TIMEOUT),
        then SIGKILL to whatever of its tree outlived it."""
        if not cfg.proc or cfg.proc.poll() is not None:
            return
        tree = self.note_tree(cfg)
        cfg.proc.send_signal(signal.SIGTERM)
        try:
            cfg.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log("httpd %s (pid %d) ignored SIGTERM; killing" % (
                cfg.key, cfg.proc.pid))
            for pid in set(tree + self.note_tree(cfg)):
                self.kill_tracked(pid)
            cfg.proc.wait(5)
        self.reap_tracked(2.0)

    def kill_tracked(self, pid):
        ident = proc_ident(pid)
        if ident and ident[0] == self.tracked.get(pid) and alive(pid):
            kill(pid, signal.SIGKILL)
            return True
        return False

    def reap_tracked(self, grace):
        """Waits up to grace s for tracked processes to end, then kills
        the survivors (same pid and start time only)."""
        deadline = time.monotonic() + grace
        for pid, start in list(self.tracked.items()):
            while time.monotonic() < deadline:
                ident = proc_ident(pid)
                if not ident or ident[0] != start or not alive(pid):
                    break
                time.sleep(0.05)
            if self.kill_tracked(pid):
                log("leftover pid %d of an httpd tree: killed" % pid)
            else:
                del self.tracked[pid]

    def stop(self):
        self.sampler.stop_ev.set()
        # the PHP httpds, then php-fpm behind them; each step bounded, and
        # run even when an earlier one failed
        for step in [lambda c=c: self.stop_httpd(c)
                     for c in self.php_configs] + [self.stop_fpm]:
            try:
                step()
            except Exception as e:  # noqa: BLE001 - clean up the rest
                log("cleanup: %s" % e)
        for cfg in self.throwaways + self.configs:
            self.stop_httpd(cfg)
            for pid in cfg.pool_pids:
                kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for cfg in self.configs:
            for pid in cfg.pool_pids:
                while alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if alive(pid):
                    kill(pid, signal.SIGKILL)
        if self.tmp:
            self.sweep()
            failed = any(c.failed for c in self.configs + self.php_configs) \
                or self.errors or self.first_errors \
                or (self.fpm_failed and not self.fpm_failed.startswith(
                    "skipped"))
            if self.args.keep or failed:
                log("run dir kept: %s" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def sweep(self):
        """Kill, by PID, anything still running from the run dir, from an
        httpd's tree, or from an httpd's session (httpd runs in its own
        session; a process started after the tree was noted is in it)."""
        me = os.getpid()
        self.reap_tracked(0)
        for pid in all_pids():
            if pid == me or not alive(pid):
                continue
            try:
                exe = os.readlink("/proc/%d/exe" % pid)
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            if exe.startswith(self.tmp) or self.tmp in cmd \
                    or self.in_our_session(pid):
                log("leftover pid %d (%s): killing" % (pid, exe))
                kill(pid, signal.SIGKILL)

    def in_our_session(self, pid):
        ident = proc_ident(pid)
        if not ident or ident[1] not in self.sessions:
            return False
        start = self.sessions[ident[1]]
        leader = proc_ident(ident[1])
        # a live leader with another start time: the pid was reused
        return ident[0] >= start and (leader is None or leader[0] == start)


LUA_POST = """-- generated by bench/run_peers.py: POST a %(n)d-byte body, check answers
wrk.method = "POST"
wrk.body = string.sub(string.rep("Hello, world\\n", %(reps)d), 1, %(n)d)
wrk.headers["Content-Type"] = "application/octet-stream"
local expect = "%(expect)s\\n"
good = 0
bad = 0
local threads = {}
function setup(thread)
    table.insert(threads, thread)
end
function response(status, headers, body)
    if status == 200 and body == expect then
        good = good + 1
    else
        bad = bad + 1
    end
end
function done(summary, latency, requests)
    for _, t in ipairs(threads) do
        io.write(string.format("BENCH_CHECK good=%%d bad=%%d\\n",
                               t:get("good"), t:get("bad")))
    end
end
"""


# ------------------------------------------------------------------ helpers

def kill(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def med(xs):
    return statistics.median(xs) if xs else 0.0


def to_ms(val, unit):
    return float(val) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4,
                         "h": 3.6e6}[unit]


def parse_strace(path):
    """{syscall: calls, "total": calls} from an strace -c summary."""
    calls = {}
    try:
        with open(path) as f:
            for line in f:
                t = line.split()
                if len(t) >= 5 and re.match(r"^[0-9.]+$", t[0]) \
                        and t[3].isdigit():
                    calls[t[-1]] = int(t[3])
    except OSError:
        pass
    return calls


def parse_wrk(text, kind):
    r = {"raw": text}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        r["error"] = "no result from wrk: " + text.strip()[-200:]
        return r
    r["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    r["requests"] = int(m.group(1)) if m else 0
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m|h)\s*$" % pct, text,
                      re.M)
        r["p" + pct] = to_ms(m.group(1), m.group(2)) if m else float("nan")
    nerr = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", text)
    if m:
        r["sock"] = tuple(int(x) for x in m.groups())
        nerr += sum(r["sock"])
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
        nerr += r["non2xx"]
    if kind == "post":
        good = bad = 0
        for g, b in re.findall(r"BENCH_CHECK good=(\d+) bad=(\d+)", text):
            good += int(g)
            bad += int(b)
        r["crc_good"], r["crc_bad"] = good, bad
        if good == 0 and bad == 0:
            r["error"] = "POST check did not run"
        # the body check counts non-2xx too; count each bad answer once
        nerr = max(nerr - r.get("non2xx", 0), 0) + bad
    if r["requests"] == 0:
        r["error"] = "no request completed"
    r["nerr"] = nerr
    return r


def wrk_problems(r):
    out = []
    if "error" in r:
        out.append(r["error"])
    if r.get("sock") and sum(r["sock"]):
        out.append("socket errors connect/read/write/timeout %d/%d/%d/%d"
                   % r["sock"])
    if r.get("non2xx"):
        out.append("%d non-2xx" % r["non2xx"])
    if r.get("crc_bad"):
        out.append("%d wrong POST answers (length/CRC)" % r["crc_bad"])
    return "; ".join(out)


def fmt_num(x):
    return "{:,.0f}".format(x)


def fmt_ms(x):
    return "%.2f" % x if x < 10 else "%.0f" % x


def fmt_progress(r, wl):
    if "rps" not in r:
        return "-"
    if wl[3] == "MB/s":
        return "%8s MB/s  p50 %7.2f ms  p99 %8.2f ms  RSS %5.1f MiB" % (
            fmt_num(r["mbps"]), r["p50"], r["p99"], r["rss"] / MIB)
    return "%8s req/s p50 %7.2f ms  p99 %8.2f ms  RSS %5.1f MiB" % (
        fmt_num(r["rps"]), r["p50"], r["p99"], r["rss"] / MIB)


def best_peer_ratio(summary, name, live, key):
    mine = summary.get((name, key))
    peers = [(summary[(name, c.key)]["m"], c.key) for c in live
             if c.peer and (name, c.key) in summary]
    if not mine or not peers or max(peers)[0] <= 0:
        return None   # (a peer that completed no request: no ratio)
    best, key = max(peers)
    return mine["m"] / best, key


def best_peer_p99_value(summary, name, live):
    """The lowest p99 among the peers for a workload, or None."""
    ps = [summary[(name, c.key)]["p99"] for c in live
          if c.peer and (name, c.key) in summary]
    return min(ps) if ps else None


def best_peer_p99(summary, name, live, key):
    mine = summary.get((name, key))
    peers = [(summary[(name, c.key)]["p99"], c.key) for c in live
             if c.peer and (name, c.key) in summary]
    if not mine or not peers:
        return "-"
    best, key = min(peers)
    return "%s vs %s ms" % (fmt_ms(mine["p99"]), fmt_ms(best))


def per_rep_ratios(results, name, live, key):
    """key / best peer within each repetition: configurations of one
    repetition ran minutes apart at most, so these ratios resist drift of
    the machine better than a ratio of medians."""
    mine = results.get((name, key), [])
    out = []
    for i, r in enumerate(mine):
        peers = [results[(name, c.key)][i]["metric"] for c in live
                 if c.peer and len(results.get((name, c.key), [])) > i
                 and "metric" in results[(name, c.key)][i]]
        if "metric" in r and peers and max(peers) > 0:
            out.append(r["metric"] / max(peers))
    return out


def fmt_rep_ratios(ratios):
    if not ratios:
        return "-"
    return "%.2fx (%s)" % (med(ratios), "/".join("%.2f" % x for x in ratios))


def cgid_ratio(summary, name, key):
    """key / mod_cgid, the CGI baseline, or None."""
    mine, cgi = summary.get((name, key)), summary.get((name, "cgid"))
    if not mine or not cgi or not cgi["m"]:
        return None
    return mine["m"] / cgi["m"]


def ratio_line(summary, results, name, live, key):
    r = best_peer_ratio(summary, name, live, key)
    if not r:
        return "%s / best peer: -" % key
    txt = "%s / best peer (%s): %.2fx; per repetition: %s" % (
        key, r[1], r[0],
        fmt_rep_ratios(per_rep_ratios(results, name, live, key)))
    if name.startswith("hello"):
        mine = summary[(name, key)]["p99"]
        best, peer = min((summary[(name, c.key)]["p99"], c.key)
                         for c in live if c.peer and (name, c.key) in summary)
        txt += "; p99 %.3f ms vs best peer p99 %.3f ms (%s)" % (
            mine, best, peer)
        cg = cgid_ratio(summary, name, key)
        if cg is not None:
            txt += "; / mod_cgid %.2fx" % cg
    return txt


def snapshot_cpu():
    snap = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            snap[pid] = st[3]
    return snap, time.monotonic()


def foreign_since(start, own, floor=10.0):
    """[(pct, cmd)] of other processes above floor % CPU since start."""
    snap, t0 = start
    secs = max(time.monotonic() - t0, 1e-3)
    hz = os.sysconf("SC_CLK_TCK")
    hot = []
    for pid in all_pids():
        if pid in own:
            continue
        st = proc_stat(pid)
        if not st:
            continue
        # a process started since the snapshot counts from zero
        pct = 100.0 * (st[3] - snap.get(pid, 0)) / hz / secs
        if pct > floor:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(
                        "utf-8", "replace").strip()
            except OSError:
                cmd = st[0]
            hot.append((pct, cmd or st[0]))
    return sorted(hot, reverse=True)


HARMLESS = ("Partial results are valid", "Broken pipe",
            "Connection reset by peer")


def error_log_lines(cfg):
    """[(count, normalised text)] of error-level lines, most frequent
    first; the harmless client-abort lines are counted apart."""
    if not cfg.dir:
        return []
    counts = {}
    try:
        with open(os.path.join(cfg.dir, "error.log"),
                  errors="replace") as f:
            for line in f:
                if not re.search(r":(error|crit|alert|emerg)\]", line):
                    continue
                text = re.sub(r"^\[[^]]*\] ", "", line.strip())
                text = re.sub(r"\[pid \d+(:tid \d+)?\] ", "", text)
                text = re.sub(r"\[client [^]]*\] ", "", text)
                if any(h in text for h in HARMLESS):
                    text = "(client abort at end of run) " + text[:60]
                counts[text[:200]] = counts.get(text[:200], 0) + 1
    except OSError:
        return []
    return sorted(((n, t) for t, n in counts.items()), reverse=True)


def php_ratio_line(summary, results, name, key, proxy, peers):
    """key / php_fpm_proxy and / the better of the two mod_proxy_fcgi
    configurations, as ratios of medians and per repetition, with p99."""
    out = []
    for what, against in (("%s", proxy), ("better of proxy, proxy_reuse "
                                          "(%s)", peers)):
        r = best_peer_ratio(summary, name, against, key)
        if r:
            out.append("/ %s %.2fx (per repetition %s)" % (
                what % r[1], r[0],
                fmt_rep_ratios(per_rep_ratios(results, name, against, key))))
    if not out:
        return "%s: no ratio" % key
    mine = summary[(name, key)]["p99"]
    p99 = ", ".join("%s %.3f" % (c.key, summary[(name, c.key)]["p99"])
                    for c in peers if (name, c.key) in summary)
    return "%s %s; p99 %.3f ms vs %s" % (key, "; ".join(out), mine, p99)


def describe_module(what, path):
    st = os.stat(path)
    log("%s: %s (%d bytes, built %s)" % (
        what, path, st.st_size,
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.st_mtime))))


def baseline_line(summary, results, name):
    """fastcgi_x / fastcgi_x_base: the build under test against the
    baseline build, as a ratio of medians and per repetition."""
    mine = summary.get((name, "fastcgi_x"))
    base = summary.get((name, "fastcgi_x_base"))
    if not mine or not base or not base["m"]:
        return "fastcgi_x / fastcgi_x_base: -"
    reps = [a["metric"] / b["metric"] for a, b in zip(
        results.get((name, "fastcgi_x"), []),
        results.get((name, "fastcgi_x_base"), []))
        if "metric" in a and "metric" in b and b["metric"]]
    return ("fastcgi_x / fastcgi_x_base (this build / baseline build): "
            "%.2fx; per repetition: %s" % (mine["m"] / base["m"],
                                           fmt_rep_ratios(reps)))


def php_version():
    """"PHP 8.2.x (fpm-fcgi), opcache on" or the like, from php-fpm
    itself (its php.ini: Debian's /etc/php/8.2/fpm/php.ini)."""
    try:
        v = subprocess.run([PHP_FPM, "-v"], capture_output=True, text=True,
                           timeout=10).stdout
        i = subprocess.run([PHP_FPM, "-i"], capture_output=True, text=True,
                           timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "php-fpm ?"
    m = re.search(r"^(PHP \S+ \(fpm-fcgi\))", v, re.M)
    o = re.search(r"^opcache\.enable => (\w+)", i, re.M)
    return "%s, opcache %s" % (m.group(1) if m else "PHP ?",
                               o.group(1).lower() if o else "absent")


def apache_version():
    try:
        out = subprocess.run([APACHE, "-v"], capture_output=True, text=True,
                             timeout=10).stdout
        m = re.search(r"Apache/(\S+)", out)
        return m.group(1) if m else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def make_run_dir(prefix, subdirs):
    """A fresh run directory under /tmp (mode 0755: httpd's User reads
    it) with the given subdirectories; logged."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    for sub in subdirs:
        os.mkdir(os.path.join(path, sub), 0o755)
    log("run dir: %s" % path)
    return path


def run_cleanup_steps(steps):
    """Call each step; one that fails is logged and the rest still run."""
    for step in steps:
        try:
            step()
        except Exception as e:  # noqa: BLE001 - clean up the rest
            log("cleanup: %s" % e)


def run_guarded(bench):
    """bench.run(), with SIGTERM and SIGHUP taken as an interrupt and
    bench.stop() whatever happens (Ctrl-C and signals ignored meanwhile);
    130 when interrupted, else None."""
    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        bench.run()
    except KeyboardInterrupt:
        log("\ninterrupted; stopping everything")
        bench.crashed = True
        return 130
    except BaseException:
        bench.crashed = True
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.stop()
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int,
                    default=int(os.environ.get("BENCH_REPS", 3)))
    ap.add_argument("--duration", type=int,
                    default=int(os.environ.get("BENCH_DURATION", 3)),
                    help="measured seconds per run (whole seconds)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--quick", action="store_true",
                    help="REPS=1, D=2")
    ap.add_argument("--module",
                    default=os.path.join(TOP, ".libs", "mod_fastcgi_x.so"))
    ap.add_argument("--baseline", metavar="SO",
                    help="also measure this older build of the module "
                    "(as fastcgi_x_base) and print this build / it")
    ap.add_argument("--configs", nargs="*",
                    help="subset of: " + " ".join(
                        c.key for c in CONFIGS + PHP_CONFIGS))
    php = ap.add_mutually_exclusive_group()
    php.add_argument("--no-php-fpm", action="store_true",
                     help="skip PHP through php-fpm")
    php.add_argument("--only-php-fpm", action="store_true",
                     help="measure only PHP through php-fpm")
    ap.add_argument("--upload-mib", type=int, default=1024,
                    help="size of the upload RSS check (0: skip)")
    ap.add_argument("--no-idle-wait", action="store_true")
    ap.add_argument("--no-syscalls", action="store_true",
                    help="skip the strace count of system calls per request")
    ap.add_argument("--keep", action="store_true", help="keep the run dir")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.duration = 1, 2
    if args.reps < 1 or args.duration < 1 or args.warmup < 1:
        ap.error("--reps, --duration and --warmup must be >= 1")
    if os.geteuid() != 0:
        ap.error("run as root (httpd switches to User %s)" % RUN_USER)
    if os.cpu_count() is None or os.cpu_count() < 2:
        ap.error("needs 2 CPUs (server on CPU 1, wrk on CPU 0)")
    if not os.path.exists(args.module):
        ap.error("no module at %s: make -f Makefile.apxs" % args.module)
    if args.baseline and not os.path.exists(args.baseline):
        ap.error("no baseline module at %s" % args.baseline)
    if args.only_php_fpm and args.baseline:
        ap.error("--baseline measures the C app: not with --only-php-fpm")
    if args.configs:
        known = set(c.key for c in CONFIGS + PHP_CONFIGS)
        unknown = [k for k in args.configs if k not in known]
        if unknown:
            ap.error("unknown configs: %s" % " ".join(unknown))
    if args.only_php_fpm and not os.access(PHP_FPM, os.X_OK):
        log("PHP through php-fpm skipped: %s not found (apt-get install "
            "php8.2-fpm); nothing else to measure with --only-php-fpm"
            % PHP_FPM)
        return 0
    tools = ["wrk", "taskset"]
    if not args.only_php_fpm:
        tools += ["spawn-fcgi", "cc"]
    for tool in tools:
        if not shutil.which(tool):
            ap.error("%s not found" % tool)
    os.sched_setaffinity(0, {int(CLIENT_CPU)})

    bench = Bench(args)
    if run_guarded(bench) is not None:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
