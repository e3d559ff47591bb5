"""pytest fixtures for the mod_fastcgi_x integration tests.

Fixtures:
  workdir    a private temp dir under /tmp (0755, so httpd's run user can
             traverse it), removed afterwards (kept with FCGIX_KEEP_TMP=1)
  httpd      factory: httpd(extra_conf="", load_module=True, records=
             ("fastcgi_x",), real_fcgid=False) -> Httpd, an unstarted
             server with its own ServerRoot, config and free port;
             .check() runs apache2 -t, .start() runs it in the foreground
  flavour    "ours" or "real": a test that takes it runs once against our
             fcgid_module and once against the real mod_fcgid (skipped
             without FCGID_SO); fcgid_httpd(httpd, flavour, ...) builds the
             server for it
  responder  build/fcgi_responder listening on a Unix socket in workdir
  responder_factory  more of them: responder_factory(address=None)
  evil       factory: evil(mode="ok", unix=False) -> a running
             tests/apps/evil_backend.py
  scripted   factory: scripted(answer, **kw) -> a running
             helpers.Scripted, an in-process FastCGI backend
  php_fpm    a private php-fpm (2 static children); its socket path

The helpers the test files share (not fixtures) are in helpers.py.

Every process is started in its own session and stopped by its PID
(SIGTERM, bounded wait, then SIGKILL to the process group it leads), in
fixture teardown, so it also happens when a test fails. When a test fails,
the logs of the servers it used are attached to its report.

Only 127.0.0.1 is used; ports come from binding port 0.

A crashed httpd child is what Httpd.crash_lines() finds in the error log,
less what httpd's own forced stop killed (mpm_event sometimes segfaults
there). FCGIX_CORE_DIR=DIR gives httpd CoreDumpDirectory DIR and no core
size limit, so that a crashed child leaves a core file for gdb: in DIR
with a relative /proc/sys/kernel/core_pattern, else where that says.
"""

import glob
import http.client
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# FCGIX_MODULE picks another build (the sanitizer one: make itest-asan).
MODULE = Path(os.environ.get("FCGIX_MODULE")
              or REPO / ".libs" / "mod_fastcgi_x.so")
RESPONDER = REPO / "build" / "fcgi_responder"
EVIL = REPO / "tests" / "apps" / "evil_backend.py"
APACHE = "/usr/sbin/apache2"
MODDIR = Path("/usr/lib/apache2/modules")
RUN_USER = "www-data"
PHP_FPM = (sorted(glob.glob("/usr/sbin/php-fpm*")) or [None])[0]
# The real mod_fcgid, for the tests that compare with it: the system's
# (libapache2-mod-fcgid), else the one tools/deps.sh peer unpacked into
# build/peer/ without installing it, else None (those tests skip).
FCGID_SO = next((so for so in (
    MODDIR / "mod_fcgid.so",
    REPO / "build" / "peer" / "usr" / "lib" / "apache2" / "modules"
    / "mod_fcgid.so") if so.exists()), None)
FCGID_HINT = ("the real mod_fcgid is not available (tools/deps.sh peer "
              "unpacks it into build/peer/)")
# Our module records, by LoadModule name without "_module".
RECORDS = ("fastcgi_x", "fcgid")

STD_MODULES = [
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("mime_module", "mod_mime.so"),
    ("alias_module", "mod_alias.so"),
    ("actions_module", "mod_actions.so"),
    ("env_module", "mod_env.so"),
    ("setenvif_module", "mod_setenvif.so"),
    ("dir_module", "mod_dir.so"),
]

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
LOG_TAIL = 40000

BUILD_HINT = ("build it first (make -f Makefile.apxs; the responder: cc "
              "-std=c99 -Wall -Wextra -Werror -O2 -o build/fcgi_responder "
              "tests/apps/fcgi_responder.c -lfcgi)")


# --- helpers -----------------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.05):
    """Poll predicate until it returns a true value or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def core_dir():
    """FCGIX_CORE_DIR, or None: httpd's CoreDumpDirectory (which also
    makes its children dumpable after setuid), writable by its User."""
    return os.environ.get("FCGIX_CORE_DIR")


def default_signals():
    """In the child before exec: SIGINT and SIGQUIT as httpd would get them
    from a service manager. A shell that runs the suite in the background
    (`make check &`) starts it with both ignored, which exec keeps and
    httpd's PM would inherit (test_pm_reclaim kills it with SIGQUIT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    if core_dir():
        resource.setrlimit(resource.RLIMIT_CORE,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def httpd_env():
    """apache2's environment; with FCGIX_PRELOAD (the sanitizer runtimes,
    since apache2 itself is not instrumented) reports go to files in
    FCGIX_SAN_LOG_DIR, which the Makefile checks after the run."""
    env = dict(os.environ, LANG="C")
    preload = os.environ.get("FCGIX_PRELOAD")
    log_dir = os.environ.get("FCGIX_SAN_LOG_DIR", "/tmp")
    if preload:
        env["LD_PRELOAD"] = preload
        env["ASAN_OPTIONS"] = ("detect_leaks=0:verify_asan_link_order=0:"
                               "log_path=%s/asan" % log_dir)
        env["UBSAN_OPTIONS"] = ("print_stacktrace=1:"
                                "log_path=%s/ubsan" % log_dir)
    return env


def can_connect(address, timeout=0.5):
    try:
        if isinstance(address, tuple):
            s = socket.create_connection(address, timeout=timeout)
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(address)
    except OSError:
        return False
    s.close()
    return True


def read_text(path, tail=LOG_TAIL):
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    if len(data) > tail:
        data = b"[... %d bytes cut ...]\n" % (len(data) - tail) + data[-tail:]
    return data.decode("utf-8", "replace")


def start_time(pid):
    """The start time of pid (clock ticks since boot), or None: with the
    pid, it names one process even if the pid is reused."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid):
    """[(pid, start time)] of every process below pid."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append((child, start_time(child)))
            todo.append(child)
    return out


def zombie_children(pid):
    """The pids of pid's children that are dead and not reaped yet."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
            except (OSError, ValueError):
                continue
            if int(ppid) == pid and state == "Z":
                out.add(int(entry))
    return out


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# httpd's parent, on reaping a child that died of a signal (AH00051 with
# a core file, AH00052 without).
CRASH_LINE = re.compile(rb"child pid (\d+) exit signal ")


def kill_leftovers(family):
    """SIGKILL each (pid, start time) still alive, by its PID."""
    for pid, started in family:
        if started is not None and start_time(pid) == started:
            sys.stderr.write("pid %d outlived httpd, killing it\n" % pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def stop_process(proc, timeout=STOP_TIMEOUT):
    """SIGTERM the PID, wait (bounded), then SIGKILL its process group.

    proc was started with start_new_session=True, so its pid is also the
    id of a process group that holds only what it started.
    """
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        sys.stderr.write("pid %d ignored SIGTERM, killing\n" % proc.pid)
    try:
        os.killpg(proc.pid, 0)
        if proc.poll() is not None:
            sys.stderr.write("process group %d outlived its leader, "
                             "killing it\n" % proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)   # only what proc started
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        sys.stderr.write("pid %d did not die\n" % proc.pid)
    return proc.returncode


def run_user():
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(RUN_USER)
    except KeyError:
        return None
    return RUN_USER


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers     # http.client.HTTPMessage (case-insens.)
        self.body = body

    def __repr__(self):
        return "Response(%d %s, %d bytes)" % (self.status, self.reason,
                                             len(self.body))


# --- httpd ---------------------------------------------------------------

class Httpd:
    """One private apache2: config, check, start, stop, requests."""

    def __init__(self, root, extra_conf="", load_module=True,
                 log_level="info", wrap=(), records=("fastcgi_x",),
                 real_fcgid=False):
        self.root = Path(root)
        self.extra_conf = extra_conf
        self.load_module = load_module
        self.log_level = log_level
        # The LoadModule lines for our .so, in this order: "fastcgi_x"
        # (fastcgi_x_module) and/or "fcgid" (fcgid_module). With
        # real_fcgid, "fcgid" loads the real mod_fcgid (FCGID_SO) instead.
        # Nothing of either with load_module=False.
        self.records = tuple(records)
        self.real_fcgid = real_fcgid
        for rec in self.records:
            assert rec in RECORDS, "unknown record %r" % (rec,)
        assert not real_fcgid or "fcgid" in self.records, \
            "real_fcgid replaces the fcgid record: name it in records"
        if load_module and real_fcgid and FCGID_SO is None:
            pytest.skip(FCGID_HINT)
        self.mpm = "event"          # or "prefork", set before start()
        # Our .so as LoadModule names it; a test may point it at a copy
        # (an upgrade replaces the file between two generations).
        self.module = MODULE
        # httpd's Timeout; also the PM's drain time
        self.timeout = 30
        # argv put before apache2's, e.g. unshare to run it in a private
        # mount namespace; it must exec apache2, whose pid stop() signals.
        self.wrap = list(wrap)
        self.proc = None
        for sub in ("conf", "logs", "run", "htdocs"):
            (self.root / sub).mkdir(mode=0o755, parents=True, exist_ok=True)
        self.conf = self.root / "conf" / "httpd.conf"
        self.docroot = self.root / "htdocs"
        self.error_log = self.root / "logs" / "error_log"
        self.console_log = self.root / "logs" / "console.log"
        # [(start, end, dead)]: the error_log bytes each forced stop
        # wrote, and the children already dead when it began
        self.forced_stops = []
        self.port = free_port()
        if load_module and self._ours() and not self.module.exists():
            pytest.fail("%s does not exist: %s" % (MODULE, BUILD_HINT),
                        pytrace=False)

    def config_text(self):
        lines = ['ServerRoot "%s"' % self.root,
                 "ServerName 127.0.0.1",
                 "Listen 127.0.0.1:%d" % self.port,
                 'PidFile "%s"' % (self.root / "run" / "httpd.pid"),
                 'DefaultRuntimeDir "%s"' % (self.root / "run"),
                 'ErrorLog "%s"' % self.error_log,
                 "TypesConfig /dev/null"]
        user = run_user()
        if user:
            lines += ["User %s" % user, "Group %s" % user]
        for name, so in STD_MODULES:
            if name == "mpm_event_module":
                name = "mpm_%s_module" % self.mpm
                so = "mod_mpm_%s.so" % self.mpm
            if (MODDIR / so).exists():
                lines.append('LoadModule %s "%s"' % (name, MODDIR / so))
        level = self.log_level
        if self.load_module:
            for rec in self.records:
                lines.append('LoadModule %s_module "%s"'
                             % (rec, self._module_file(rec)))
            if "fastcgi_x" in self.records:
                level += " fastcgi_x:trace8"
            elif "fcgid" in self.records:
                level += " fcgid:trace8"
        lines.append("LogLevel %s" % level)
        if core_dir():
            lines.append('CoreDumpDirectory "%s"' % core_dir())
        if self.load_module and self.real_fcgid:
            lines += ['FcgidIPCDir "%s"' % (self.root / "run" / "fcgid"),
                      'FcgidProcessTableFile "%s"'
                      % (self.root / "run" / "fcgid_shm")]
        if self.mpm == "event":
            lines += ["StartServers 1", "ServerLimit 2", "ThreadLimit 16",
                      "ThreadsPerChild 16", "MaxRequestWorkers 32",
                      "MinSpareThreads 4", "MaxSpareThreads 32"]
        else:
            lines += ["StartServers 4", "MinSpareServers 2",
                      "MaxSpareServers 8", "MaxRequestWorkers 16"]
        lines += ["Timeout %d" % self.timeout,
                  "AddType text/plain .txt",
                  "AddType text/html .html",
                  'DocumentRoot "%s"' % self.docroot,
                  '<Directory "%s">' % self.docroot,
                  "    Require all granted",
                  "</Directory>",
                  "", "# test-specific configuration", self.extra_conf, ""]
        return "\n".join(lines)

    def _module_file(self, rec):
        if rec == "fcgid" and self.real_fcgid:
            return FCGID_SO
        return self.module

    def _ours(self):
        """Whether a LoadModule line names our .so."""
        return any(self._module_file(rec) == self.module
                   for rec in self.records)

    def write_conf(self):
        self.conf.write_text(self.config_text())

    def _cmd(self, *extra):
        return self.wrap + [APACHE, "-d", str(self.root), "-f",
                            str(self.conf)] + list(extra)

    def check(self, timeout=30):
        """apache2 -t: (returncode, combined stdout and stderr)."""
        self.write_conf()
        p = subprocess.run(self._cmd("-t"), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           env=httpd_env())
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def modules(self, timeout=30):
        """Names listed by apache2 -M for this config."""
        self.write_conf()
        p = subprocess.run(self._cmd("-M"), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           env=httpd_env())
        return p.stdout.decode("utf-8", "replace")

    def start(self, timeout=START_TIMEOUT):
        """Start in the foreground, wait until the port accepts."""
        assert self.proc is None, "already started"
        for _attempt in range(3):
            self.write_conf()
            with open(self.console_log, "ab") as out:
                self.proc = subprocess.Popen(
                    self._cmd("-DFOREGROUND"), stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, env=httpd_env(),
                    preexec_fn=default_signals)
            up = wait_for(lambda: self.proc.poll() is not None
                          or can_connect(("127.0.0.1", self.port)), timeout)
            if up and self.proc.poll() is None:
                return self
            stop_process(self.proc)
            self.proc = None
            if "Address already in use" not in read_text(self.error_log):
                break
            self.port = free_port()       # lost a race for the port
        pytest.fail("apache2 did not start on port %d:\n%s\n%s" % (
            self.port, read_text(self.console_log),
            read_text(self.error_log)), pytrace=False)

    def stop(self):
        # The PM runs in a process group of its own, which stop_process's
        # killpg does not reach: a PM a test left stopped (SIGSTOP) would
        # outlive httpd. Whatever httpd started and is left is killed.
        family = descendants(self.proc.pid) if self.proc else []
        start = file_size(self.error_log)
        dead = zombie_children(self.proc.pid) if self.proc else set()
        rc = stop_process(self.proc)
        kill_leftovers(family)
        if self.proc:
            self.forced_stops.append((start, file_size(self.error_log), dead))
        self.proc = None
        return rc

    def _killed_by_a_stop(self, offset, line):
        """Whether a crash line at offset of the error_log is that of a
        child a forced stop (SIGTERM) caught alive."""
        m = CRASH_LINE.search(line)
        return m is not None and any(
            start <= offset < end and int(m.group(1)) not in dead
            for start, end, dead in self.forced_stops)

    def crash_lines(self):
        """The error_log's lines of children that died of a signal, but
        those a forced stop killed: Debian's mpm_event itself sometimes
        segfaults while SIGTERM stops it (close_worker_sockets() closes
        the socket of a connection whose pool a worker has just
        destroyed; test_harness_stop.py). A child already dead when the
        stop began still counts."""
        try:
            data = self.error_log.read_bytes()
        except OSError:
            return []
        out, offset = [], 0
        for line in data.splitlines(keepends=True):
            if b"exit signal" in line \
                    and not self._killed_by_a_stop(offset, line):
                out.append(line.decode("utf-8", "replace").rstrip("\n"))
            offset += len(line)
        return out

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, r.reason, r.headers, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body=body, **kw)

    def log_sections(self):
        return [("apache2 error_log (%s)" % self.root,
                 read_text(self.error_log)),
                ("apache2 console (%s)" % self.root,
                 read_text(self.console_log))]


# --- backends --------------------------------------------------------------

class Backend:
    """A test backend process: the responder or evil_backend.py."""

    def __init__(self, name, argv, log_path):
        self.name = name
        self.log_path = log_path
        self.address = None       # "/path" or ("127.0.0.1", port)
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    @property
    def host_port(self):
        """HOST:PORT of a TCP backend, for FastCgiExternalServer -host."""
        return "%s:%d" % self.address

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        return stop_process(self.proc)

    def fail_if_dead(self, what):
        if not self.alive():
            pytest.fail("%s exited (%s) before %s:\n%s" % (
                self.name, self.proc.returncode, what,
                read_text(self.log_path)), pytrace=False)

    def log_sections(self):
        return [("%s log" % self.name, read_text(self.log_path))]


def start_responder(workdir, address=None, index=0):
    if not RESPONDER.exists():
        pytest.fail("%s does not exist: %s" % (RESPONDER, BUILD_HINT),
                    pytrace=False)
    if address is None:
        address = str(workdir / ("responder%d.sock" % index))
    b = Backend("fcgi_responder", [str(RESPONDER), address],
                workdir / ("responder%d.log" % index))
    if address.startswith("/"):
        target = address
    else:
        host, _, port = address.rpartition(":")
        target = (host, int(port))
    if not wait_for(lambda: not b.alive() or can_connect(target), 10):
        b.stop()
        pytest.fail("fcgi_responder not listening on %s" % address)
    b.fail_if_dead("listening")
    if isinstance(target, str):
        os.chmod(target, 0o777)   # httpd's children run as www-data
    b.address = target
    return b


def start_evil(workdir, mode="ok", unix=False, index=0):
    log = workdir / ("evil%d.log" % index)
    if unix:
        path = str(workdir / ("evil%d.sock" % index))
        b = Backend("evil_backend", [sys.executable, str(EVIL), "--listen",
                                     path, "--mode", mode], log)
        ready = wait_for(lambda: not b.alive() or can_connect(path), 10)
        b.address = path
    else:
        pf = workdir / ("evil%d.port" % index)
        b = Backend("evil_backend", [sys.executable, str(EVIL), "--listen",
                                     "127.0.0.1:0", "--port-file", str(pf),
                                     "--mode", mode], log)
        ready = wait_for(lambda: not b.alive() or pf.exists(), 10)
        if ready and b.alive():
            b.address = ("127.0.0.1", int(pf.read_text()))
    if not ready:
        b.stop()
        pytest.fail("evil_backend (%s) did not come up:\n%s"
                    % (mode, read_text(log)), pytrace=False)
    b.fail_if_dead("listening")
    return b


# --- reporting -----------------------------------------------------------

@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Record each phase's report on the item (item.rep_setup, rep_call,
    rep_teardown) and attach the logs of the servers a failed test used."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed and rep.when in ("setup", "call"):
        for owner in getattr(item, "fcgix_log_owners", []):
            for title, text in owner.log_sections():
                if text.strip():
                    rep.sections.append((title, text))


def node_failed(node):
    return any(getattr(node, "rep_" + w, None) is not None
               and getattr(node, "rep_" + w).failed
               for w in ("setup", "call"))


def track(request, owner):
    """Let the report hook find owner's logs if the test fails."""
    if not hasattr(request.node, "fcgix_log_owners"):
        request.node.fcgix_log_owners = []
    request.node.fcgix_log_owners.append(owner)


# --- fixtures ------------------------------------------------------------

@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="fcgix-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    if os.environ.get("FCGIX_KEEP_TMP"):
        sys.stderr.write("kept %s\n" % path)
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def httpd(request, workdir):
    servers = []

    def make(extra_conf="", load_module=True, log_level="info",
             records=("fastcgi_x",), real_fcgid=False):
        srv = Httpd(workdir / ("httpd%d" % len(servers)), extra_conf,
                    load_module, log_level, records=records,
                    real_fcgid=real_fcgid)
        servers.append(srv)
        track(request, srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()
    if node_failed(request.node):
        for srv in servers:
            print("error_log of %s:\n%s" % (srv.root,
                                            read_text(srv.error_log)))


FLAVOURS = ("ours", "real")


@pytest.fixture(params=FLAVOURS)
def flavour(request):
    """"ours": only our fcgid_module is loaded; "real": the real mod_fcgid
    instead (skipped without FCGID_SO). Where the two differ on purpose,
    a test says so in one place: EXPECT = {"ours": 413, "real": 500}."""
    if request.param == "real" and FCGID_SO is None:
        pytest.skip(FCGID_HINT)
    return request.param


def fcgid_httpd(httpd, flavour, extra_conf="", **kw):
    """An unstarted server from the httpd fixture's factory, with mod_fcgid's
    vocabulary from the flavour's module: our .so as fcgid_module, or the
    real mod_fcgid."""
    return httpd(extra_conf, records=("fcgid",),
                 real_fcgid=(flavour == "real"), **kw)


@pytest.fixture
def responder_factory(request, workdir):
    started = []

    def make(address=None):
        b = start_responder(workdir, address, len(started))
        started.append(b)
        track(request, b)
        return b

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def responder(responder_factory):
    return responder_factory()


@pytest.fixture
def evil(request, workdir):
    started = []

    def make(mode="ok", unix=False):
        b = start_evil(workdir, mode, unix, len(started))
        started.append(b)
        track(request, b)
        return b

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def scripted(request, workdir):
    from helpers import Scripted  # helpers imports this module

    started = []

    def make(answer, **kw):
        b = Scripted(workdir / ("scripted%d.sock" % len(started)), answer,
                     **kw)
        started.append(b)
        return b

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def php_fpm(workdir):
    """A private php-fpm with 2 static children on a Unix socket."""
    if PHP_FPM is None:
        pytest.fail("php-fpm is not installed (tools/deps.sh check "
                    "installs it)", pytrace=False)
    sock = workdir / "php-fpm.sock"
    conf = workdir / "php-fpm.conf"
    lines = ["[global]",
             "pid = %s" % (workdir / "php-fpm.pid"),
             "error_log = %s" % (workdir / "php-fpm.log"),
             "daemonize = no",
             "[test]",
             "listen = %s" % sock,
             "listen.mode = 0666",
             "pm = static",
             "pm.max_children = 2",
             "php_admin_value[post_max_size] = 64M",
             "php_admin_value[upload_max_filesize] = 64M"]
    if os.geteuid() == 0:
        lines += ["user = www-data", "group = www-data"]
    conf.write_text("\n".join(lines) + "\n")
    log = workdir / "php-fpm.console"
    with open(log, "ab") as out:
        proc = subprocess.Popen([PHP_FPM, "-F", "-y", str(conf)],
                                stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        up = wait_for(lambda: proc.poll() is not None
                               or can_connect(str(sock)), 10)
        if not up or proc.poll() is not None:
            pytest.fail("php-fpm did not start:\n%s" % read_text(
                log), pytrace=False)
        yield sock
    finally:
        stop_process(proc)
