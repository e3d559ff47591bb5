"""Helpers the integration tests share: /proc, the error log, servers and
their configuration, the process manager, requests, a raw HTTP/1.1 client
and an in-process scripted FastCGI backend. Plain functions and classes;
the fixtures are in conftest.py. Not collected by pytest (no test_ prefix).
"""

import concurrent.futures
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import conftest

sys.path.insert(0, str(conftest.REPO / "tests" / "apps"))
import evil_backend as eb  # noqa: E402  (record packing, request reader)


# --- Processes, from /proc ---------------------------------------------------

def proc_stat(pid):
    """(state letter, ppid) of pid from /proc/<pid>/stat; None when it
    does not exist."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def children_of(pid):
    """PIDs whose parent is pid, zombies left out (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(entry)
            if st and st[1] == pid and st[0] != "Z":
                out.append(int(entry))
    return out


def cmdline(pid):
    """The command line of pid, arguments joined by spaces ("" if gone)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def gone(pid):
    """pid no longer runs (no such process, or a zombie)."""
    st = proc_stat(pid)
    return st is None or st[0] == "Z"


def processes_running(path_part):
    """Every live process (anywhere) whose command line contains
    path_part, with its parent: {pid: ppid}."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or path_part not in cmdline(int(entry)):
            continue
        st = proc_stat(entry)
        if st and st[0] != "Z":
            out[int(entry)] = st[1]
    return out


def children_rss_kib(srv):
    """Summed VmRSS (KiB) of the httpd children of srv."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path("/proc/%s/status" % pid).read_text()
        except OSError:
            continue
        if "\nPPid:\t%d\n" % srv.pid in status and "VmRSS:" in status:
            total += int(status.split("VmRSS:")[1].split()[0])
    return total


# --- The error log -----------------------------------------------------------

SEVERE = re.compile(r"\[[\w.-]+:(emerg|alert|crit|error|warn)\]")


def log_text(srv):
    """The whole error log ("" before there is one); conftest.read_text
    keeps only its tail, and trace8 logs grow fast."""
    try:
        return Path(srv.error_log).read_text("utf-8", "replace")
    except OSError:
        return ""


def log_lines(srv, *needles, severe=False, any_case=False):
    """error_log lines containing every needle; any_case: compared
    without regard to case; severe: only lines logged at warn or worse."""
    def norm(text):
        return text.lower() if any_case else text

    want = [norm(n) for n in needles]
    return [line for line in log_text(srv).splitlines()
            if all(n in norm(line) for n in want)
            and (not severe or SEVERE.search(line))]


def wait_log(srv, *needles, severe=False, any_case=False, timeout=5.0):
    """log_lines(), once there are any, within timeout seconds."""
    return conftest.wait_for(
        lambda: log_lines(srv, *needles, severe=severe, any_case=any_case),
        timeout)


def assert_no_child_crash(srv, settle=0.0):
    """No httpd child died of a signal (but in httpd's own forced stops:
    conftest.Httpd.crash_lines()). httpd's parent reaps and logs a dead
    child within about a second, so settle waits that long for a crash in
    the request just made."""
    if settle:
        time.sleep(settle)
    crashes = srv.crash_lines()
    assert not crashes, "an httpd child crashed:\n" + "\n".join(crashes)


# --- Servers and their configuration -----------------------------------------

APPS = conftest.REPO / "tests" / "apps"
WWW_DATA = conftest.pwd.getpwnam("www-data")
MOD_STATUS = conftest.MODDIR / "mod_status.so"
AUTO_LINE = re.compile(r"^([A-Za-z]+): (.*)$")
APP = "app.fcgi"
STATIC = b"static file next to the FastCGI app\n"


def install(src, dst, mode=0o755):
    shutil.copy(src, dst)
    os.chmod(dst, mode)
    return dst


def target_of(address):
    """-socket or -host option for a backend address."""
    if isinstance(address, tuple):
        return "-host %s:%d" % address
    return "-socket %s" % address


def external_server(path, address, opts=""):
    return "FastCgiExternalServer %s %s %s" % (path, target_of(address),
                                               opts)


def start_app(httpd, address, opts="", extra="", log_level="info"):
    """httpd with <docroot>/app.fcgi served by the backend at address.

    extra may use {docroot} and {root}.
    """
    srv = httpd(log_level=log_level)
    srv.app_path = srv.docroot / APP
    srv.extra_conf = "\n".join([
        external_server(srv.app_path, address, opts),
        extra.format(docroot=srv.docroot, root=srv.root)])
    srv.start()
    return srv


def put_file(srv, name, data=STATIC):
    path = srv.docroot / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)
    return "/" + name


def static_pool(httpd, processes=1, opts="", conf=""):
    srv = httpd()
    app = install(conftest.RESPONDER, srv.docroot / "static.fcgi")
    srv.extra_conf = "FastCgiServer %s -processes %d %s\n%s" % (
        app, processes, opts, conf)
    start(srv)
    return srv


def dynamic_dir_conf(directory, execcgi=True):
    """A <Directory> where .fcgi files are fastcgi-script apps."""
    return "\n".join(['<Directory "%s">' % directory,
                      "    Options %sExecCGI" % ("+" if execcgi else "-"),
                      "    AddHandler fastcgi-script .fcgi",
                      "</Directory>"])


def dynamic_server(httpd, config="-minProcesses 0", extra=""):
    """An unstarted httpd with htdocs/dyn/ for dynamic apps (ExecCGI on)
    and FastCgiConfig `config`. Returns (srv, dyn_dir)."""
    srv = httpd()
    dyn = srv.docroot / "dyn"
    dyn.mkdir(mode=0o755)
    srv.extra_conf = "\n".join([
        dynamic_dir_conf(dyn),
        "FastCgiConfig %s" % config if config else "",
        extra])
    return srv, dyn


def static_and_dynamic(httpd, processes=2):
    """httpd with a FastCgiServer (static.fcgi, `processes` of it) and a
    dynamic app (dyn/app.fcgi), both the test responder."""
    srv, dyn = dynamic_server(httpd)
    install(conftest.RESPONDER, dyn / "app.fcgi")
    static = install(conftest.RESPONDER, srv.docroot / "static.fcgi")
    srv.extra_conf += "\nFastCgiServer %s -processes %d" % (static, processes)
    start(srv)
    return srv


def run_to_exit(srv, timeout=15):
    """Start httpd expecting it to stop by itself; (exit code, what it
    said: its console, where errors found before the logs are open go,
    then the error_log). Stopped by PID if it does not stop."""
    srv.write_conf()
    console = srv.root / "run_to_exit.out"
    with open(console, "wb") as out:
        proc = subprocess.Popen(srv._cmd("-DFOREGROUND"),
                                stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT,
                                start_new_session=True,
                                env=conftest.httpd_env())
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            conftest.stop_process(proc)
    return rc, (conftest.read_text(console) + "\n"
                + conftest.read_text(srv.error_log))


# --- The process manager -----------------------------------------------------

PM_STARTED = re.compile(
    r"FCGIX00075: FastCGI process manager started \(pid (\d+)")


def pm_pids(srv):
    """PIDs of every PM httpd started, oldest first (from the log)."""
    return [int(p) for p in PM_STARTED.findall(log_text(srv))]


def newest_pm(srv):
    """The newest PM if it runs as a child of httpd's parent, else None."""
    pids = pm_pids(srv)
    if pids and not gone(pids[-1]) and pids[-1] in children_of(srv.pid):
        return pids[-1]
    return None


def current_pm(srv, timeout=10):
    """The newest PM, once it runs as a child of httpd's parent."""
    pm = conftest.wait_for(lambda: newest_pm(srv), timeout)
    assert pm, "no running PM under httpd %d; started: %r" % (
        srv.pid, pm_pids(srv))
    return pm


PM_KEPT = "FCGIX00051"


def graceful_new_pm(srv):
    """A graceful restart (SIGUSR1, apache2 -k graceful) whose
    configuration defines another PM: FastCgiConfig's -maxProcesses goes
    past the running PM's board room for dynamic classes, which a kept PM
    cannot grow (a Timeout or a lower limit it takes). The old PM drains
    and a new one starts, as at every graceful restart before an
    unchanged PM was kept."""
    srv.pm_room = getattr(srv, "pm_room", 100) + 1
    option = "-maxProcesses %d" % srv.pm_room
    lines = srv.extra_conf.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("FastCgiConfig"):
            lines[i] = "%s %s" % (
                re.sub(r"\s-maxProcesses\s+\d+", "", line), option)
            break
    else:
        lines.append("FastCgiConfig " + option)
    srv.extra_conf = "\n".join(lines)
    srv.write_conf()
    os.kill(srv.pid, signal.SIGUSR1)


def control_socket(srv):
    """The control socket of the newest configuration generation."""
    socks = [(int(m.group(1)), p) for p in
             (srv.root / "run" / "fastcgi").glob("g*-pm.sock")
             for m in [re.fullmatch(r"g(\d+)-pm\.sock", p.name)] if m]
    return str(max(socks)[1]) if socks else None


def pm_listening(srv):
    """True once the newest PM takes control requests. Sends "TICK" (a
    harmless request to look at the board) so the PM does not wait for a
    line that never comes."""
    path = control_socket(srv)
    if path is None:
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(path)
        s.sendall(b"TICK\n")
        return True
    except OSError:
        return False
    finally:
        s.close()


def start(srv, timeout=10):
    """srv.start(), then wait until the PM takes control requests: tests
    of other things must not race the PM's start-up (that race has a test
    of its own in test_pm_supervision.py)."""
    srv.start()
    assert conftest.wait_for(lambda: pm_listening(srv), timeout), (
        "the PM's control socket never appeared")
    return srv


def apps_of(pm, name):
    """Live children of the PM whose command line contains name."""
    return [c for c in children_of(pm) if name in cmdline(c)]


# --- Requests ----------------------------------------------------------------

PID_BODY = re.compile(rb"pid=(\d+)\n")


class Result:
    """One request's outcome; status is None when it failed at the
    connection level (error says how)."""

    def __init__(self, status=None, headers=None, body=b"", seconds=0.0,
                 error=None):
        self.status = status
        self.headers = headers
        self.body = body
        self.seconds = seconds
        self.error = error

    @property
    def pid(self):
        m = PID_BODY.search(self.body or b"")
        return int(m.group(1)) if m else None

    def __repr__(self):
        if self.error:
            return "Result(error %s after %.2f s)" % (self.error, self.seconds)
        retry = self.headers.get("Retry-After") if self.headers else None
        return "Result(%d%s, %r, %.2f s)" % (
            self.status, ", Retry-After %s" % retry if retry else "",
            self.body[:40], self.seconds)


def fetch(srv, path, timeout=30):
    """GET path; never raises for a connection error or a timeout."""
    t0 = time.monotonic()
    try:
        r = srv.get(path, timeout=timeout)
    except (OSError, http.client.HTTPException) as e:
        return Result(seconds=time.monotonic() - t0, error=repr(e))
    return Result(r.status, r.headers, r.body, time.monotonic() - t0)


def timed_get(srv, path, timeout=30):
    """(status, body, seconds to the first response byte, total seconds)"""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        t0 = time.monotonic()
        conn.request("GET", path)
        r = conn.getresponse()
        first = time.monotonic() - t0
        body = r.read()
        return r.status, body, first, time.monotonic() - t0
    finally:
        conn.close()


def load_clients(srv, urls, nthreads, seconds):
    """Start nthreads clients cycling through urls for `seconds`; returns
    (threads, results), results a list of (start, end, path, Result) they
    append to, times from time.monotonic()."""
    results = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(k):
        i = k
        while time.monotonic() < stop_at:
            path = urls[i % len(urls)]
            i += 1
            t0 = time.monotonic()
            r = fetch(srv, path, 30)
            with lock:
                results.append((t0, time.monotonic(), path, r))

    threads = [threading.Thread(target=client, args=(k,), daemon=True)
               for k in range(nthreads)]
    for t in threads:
        t.start()
    return threads, results


def pattern(n):
    """The responder's ?bytes=N body: byte i is 'a' + i % 26."""
    alphabet = b"abcdefghijklmnopqrstuvwxyz"
    return (alphabet * (n // 26 + 1))[:n]


def chunked_body(data, piece=7000):
    for i in range(0, len(data), piece):
        yield data[i:i + piece]


RSS_GROWTH_MAX_KIB = 16 * 1024


# --- A raw HTTP/1.1 client that reports framing ------------------------------

class RawResponse:
    def __init__(self):
        self.status = None
        self.reason = ""
        self.headers = {}        # lower-case name -> [values]
        self.body = bytearray()
        self.body_len = 0
        self.framing = None      # "chunked", "length", "close", "none"
        self.complete = None     # True/False; None for close-delimited
        self.timed_out = False
        self.t0 = None
        self.t_first_body = None
        self.t_end = None

    def header(self, name):
        values = self.headers.get(name.lower())
        return values[-1] if values else None

    def __repr__(self):
        return ("RawResponse(%s, framing=%s, complete=%s, %d body bytes%s)"
                % (self.status, self.framing, self.complete, self.body_len,
                   ", TIMED OUT" if self.timed_out else ""))


class RawConn:
    def __init__(self, port, timeout=15.0):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = bytearray()
        self.eof = False

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def fill(self, deadline):
        if self.eof:
            return False
        if time.monotonic() > deadline:
            raise TimeoutError("deadline passed")
        try:
            data = self.sock.recv(262144)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_line(self, deadline):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if not self.fill(deadline):
                return None

    def read_some(self, n, deadline):
        if not self.buf and not self.fill(deadline):
            return None
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_to_eof(self, deadline):
        while self.fill(deadline):
            pass
        data = bytes(self.buf)
        self.buf.clear()
        return data


def _read_head(conn, r, deadline):
    """Status line and headers (1xx skipped); False at EOF."""
    while True:
        line = conn.read_line(deadline)
        if line is None:
            return False
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        r.status = int(parts[1])
        r.reason = parts[2] if len(parts) > 2 else ""
        r.headers = {}
        while True:
            line = conn.read_line(deadline)
            if line is None:
                return False
            text = line.decode("latin-1").rstrip("\r\n")
            if not text:
                break
            name, _, value = text.partition(":")
            r.headers.setdefault(name.strip().lower(), []).append(
                value.strip())
        if not 100 <= r.status < 200:
            return True


def _read_chunked(conn, r, add, deadline):
    while True:
        line = conn.read_line(deadline)
        if line is None:
            return False
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            r.framing = "chunked (bad chunk size %r)" % line[:40]
            return False
        if size == 0:
            while True:                      # trailers up to the blank line
                line = conn.read_line(deadline)
                if line is None:
                    return False
                if line in (b"\r\n", b"\n"):
                    return True
        while size > 0:
            data = conn.read_some(size, deadline)
            if data is None:
                return False
            add(data)
            size -= len(data)
        if conn.read_line(deadline) not in (b"\r\n", b"\n"):
            return False


def read_response(conn, method="GET", timeout=15.0, sink=None, t0=None):
    """Read one response; never raises for truncation or timeout."""
    r = RawResponse()
    r.t0 = t0 if t0 is not None else time.monotonic()
    deadline = time.monotonic() + timeout

    def add(data):
        if data and r.t_first_body is None:
            r.t_first_body = time.monotonic()
        r.body_len += len(data)
        if sink is not None:
            sink(data)
        else:
            r.body += data

    try:
        if not _read_head(conn, r, deadline):
            r.complete = False
            return r
        te = (r.header("Transfer-Encoding") or "").lower()
        cl = r.header("Content-Length")
        if method == "HEAD" or r.status in (204, 304):
            r.framing, r.complete = "none", True
        elif "chunked" in te:
            r.framing = "chunked"
            r.complete = _read_chunked(conn, r, add, deadline)
        elif cl is not None:
            r.framing = "length"
            left = int(cl)
            while left > 0:
                data = conn.read_some(left, deadline)
                if data is None:
                    break
                add(data)
                left -= len(data)
            r.complete = left == 0
        else:
            r.framing = "close"
            while True:
                data = conn.read_some(1 << 20, deadline)
                if data is None:
                    break
                add(data)
    except (socket.timeout, TimeoutError):
        r.timed_out = True
    finally:
        r.t_end = time.monotonic()
    return r


def request_bytes(srv, method, target, headers=(), body=None, close=False):
    lines = ["%s %s HTTP/1.1" % (method, target),
             "Host: 127.0.0.1:%d" % srv.port]
    lines += ["%s: %s" % h for h in headers]
    if body is not None:
        lines.append("Content-Length: %d" % len(body))
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def raw_request(srv, method, target, headers=(), body=None, close=False,
                timeout=15.0):
    """One request on a fresh connection, read with framing reported.

    Without close the connection is keep-alive, so httpd frames a body of
    unknown length with chunked encoding and a truncated body shows.
    """
    conn = RawConn(srv.port, timeout)
    try:
        t0 = time.monotonic()
        conn.send(request_bytes(srv, method, target, headers, body, close))
        return read_response(conn, method, timeout, t0=t0)
    finally:
        conn.close()


def get_back_to_back(srv, n=10, timeout=15.0):
    """n GETs of /app.fcgi?n<i> one after another on one client
    connection: each a complete 200 whose body is "answer to n<i>"."""
    conn = RawConn(srv.port, timeout)
    try:
        for i in range(n):
            conn.send(request_bytes(srv, "GET", "/app.fcgi?n%d" % i))
            r = read_response(conn, "GET", timeout)
            assert r.status == 200 and r.complete, (i, r)
            assert bytes(r.body) == b"answer to n%d\n" % i, (i, r.body)
    finally:
        conn.close()

def assert_truncated(r, what):
    assert not r.timed_out, "%s: no end within the timeout: %r" % (what, r)
    assert r.status == 200, "%s: expected the app's 200, got %r" % (what, r)
    assert r.framing in ("chunked", "length") and r.complete is False, (
        "%s: the response must be visibly truncated (no last chunk, "
        "connection closed), got %r" % (what, r))


# --- An in-process scripted FastCGI backend (the `scripted` fixture) ---------

class Scripted:
    """Answers every request with answer(req) -> bytes of FCGI_STDOUT
    (CGI headers and body), then END_REQUEST. Unix socket, one thread per
    connection, stopped by the fixture."""

    def __init__(self, path, answer, raw=False, early=False, keep=False,
                 drop_second=False):
        self.path = str(path)
        self.answer = answer
        self.raw = raw            # answer returns whole records
        self.early = early        # answer after PARAMS, before STDIN
        self.keep = keep          # honour FCGI_KEEP_CONN
        self.drop_second = drop_second  # close when a kept connection
        #                                 brings its second request
        self.stop_event = threading.Event()
        self.requests = 0
        self.connections = 0
        self.keep_flags = []
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(self.path)
        os.chmod(self.path, 0o777)
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        self.address = self.path

    def _accept(self):
        while not self.stop_event.is_set():
            try:
                conn, _ = self.lsock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        self.connections += 1
        served = 0
        try:
            conn.settimeout(10)
            while not self.stop_event.is_set():
                req = (self._read_params(conn) if self.early
                       else eb.read_request(conn, 10))
                if req is None:
                    break
                self.keep_flags.append(req.keep_conn)
                if self.drop_second and served == 1:
                    conn.close()            # abrupt, without an answer
                    return
                self.requests += 1
                served += 1
                out = self.answer(req)
                if not self.raw:
                    out = (eb.stream(eb.STDOUT, req.rid, out)
                           + eb.end_request(req.rid))
                conn.sendall(out)
                if not (self.keep and req.keep_conn):
                    break
        except OSError:
            pass
        eb.close_gracefully(conn)

    @staticmethod
    def _read_params(conn):
        req, deadline = eb.Request(), time.monotonic() + 10
        while True:
            rec = eb.read_record(conn, deadline)
            if rec is None:
                return None
            _version, rtype, rid, content = rec
            if rtype == eb.BEGIN_REQUEST:
                req.rid = rid
            elif rtype == eb.PARAMS and not content:
                return req

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)
        self.lsock.close()

    def log_sections(self):
        return [("scripted backend", "%d requests on %d connections"
                 % (self.requests, self.connections))]


# --- suexec (as test_pm_wrapper.py uses it) ----------------------------------

SUEXEC = "/usr/lib/apache2/suexec"
MOD_SUEXEC = "/usr/lib/apache2/modules/mod_suexec.so"
SUEXEC_DOC_ROOT = "/var/www"     # AP_DOC_ROOT of Debian's suexec


def suexec_binary_problem():
    """Why httpd's suexec binary cannot run apps here, or None: it needs
    root, the www-data user (suexec's AP_HTTPD_USER) and a setuid
    suexec."""
    import stat
    if os.geteuid() != 0 or conftest.run_user() != "www-data":
        return "needs root and the www-data user"
    try:
        st = os.stat(SUEXEC)
    except OSError:
        return "%s missing (apache2-suexec-pristine)" % SUEXEC
    if not st.st_mode & stat.S_ISUID:
        return "%s is not setuid" % SUEXEC
    return None


def suexec_skip_reason():
    """As suexec_binary_problem(), and mod_suexec for SuexecUserGroup."""
    problem = suexec_binary_problem()
    if problem:
        return problem
    if not os.path.exists(MOD_SUEXEC):
        return "%s is not installed" % MOD_SUEXEC
    return None


def system_user(name):
    """The system user `name` (created if missing; uid and gid >= 100,
    suexec's minimum): its pwd entry."""
    import pwd
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group",
                        "--no-create-home", "--shell", "/usr/sbin/nologin",
                        name], check=True)
        pw = pwd.getpwnam(name)
    assert pw.pw_uid >= 100 and pw.pw_gid >= 100, pw
    return pw



def suexec_dir(pw):
    """A new directory under suexec's document root owned by pw (0755);
    and suexec's log directory, without which it refuses to run. The
    caller removes it."""
    import tempfile
    os.makedirs("/var/log/apache2", mode=0o750, exist_ok=True)
    os.makedirs(SUEXEC_DOC_ROOT, exist_ok=True)
    path = tempfile.mkdtemp(prefix="fcgix-suexec-", dir=SUEXEC_DOC_ROOT)
    os.chmod(path, 0o755)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def proc_status_number(pid, key):
    """The first number of /proc/<pid>/status's line "key:", None if pid
    is gone or has no such line."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def uid_of(pid):
    """The real uid of pid (from /proc/<pid>/status), None if gone."""
    return proc_status_number(pid, "Uid")


def assert_503_behind_a_slow_request(srv, path):
    """path's only place is taken by a slow request (?sleep=3000): the
    next request waits -appConnTimeout (1 s) for it, then gets 503 with
    Retry-After; the slow one is served."""
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        slow = ex.submit(fetch, srv, path + "?sleep=3000", 20)
        time.sleep(0.5)
        r = fetch(srv, path + "?pid", 10)
        assert r.status == 503, r
        assert r.headers.get("Retry-After"), r.headers
        assert 0.8 <= r.seconds < 2.5, r
        assert slow.result(timeout=20).status == 200
