#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain a
# copy of the License at http://www.apache.org/licenses/LICENSE-2.0
"""Soak: a million mixed requests against a static pool and php-fpm.

A benchmark, not a test: see bench/README.md. Python 3 standard library
only; as root (httpd runs as User www-data, php-fpm's pool too), from a
tree built with `make -f Makefile.apxs` (it uses .libs/mod_fastcgi_x.so
and build/fcgi_responder, copied into a private run directory first).

    /usr/bin/python3 bench/soak.py                    # 1,000,000 requests
    /usr/bin/python3 bench/soak.py --requests 20000   # a quick try

One private httpd (mpm_event, 2 children of 25 threads, fixed) with a
`FastCgiServer` pool of 4 fcgi_responder processes and a
`FastCgiExternalServer` for a private php-fpm (4 static children, Unix
socket). --concurrency client processes (default 12), each with one
keep-alive connection, send the mix below; every 10,000th request is
`?crash` to the static pool (headers and body, then the app exits
without END_REQUEST). After a warm-up with the same mix, httpd's RSS and
open descriptors are measured idle, then again after the run.

Exit status: 0 PASS, 1 FAIL, 2 setup error or interrupted.
"""

import argparse
import collections
import glob
import multiprocessing
import os
import queue
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
APACHE = "/usr/sbin/apache2"
MODDIR = "/usr/lib/apache2/modules"
RUN_USER = "www-data"
PHP_FPM = (sorted(glob.glob("/usr/sbin/php-fpm*")) or [None])[0]

MIB = 1 << 20
DL_SIZE = MIB
UP_MIN = 64 * 1024
UP_MAX = MIB
HELLO = b"hello\n"
POOL_PROCS = 4
FPM_CHILDREN = 4

IO_TIMEOUT = 60.0         # any one socket wait of the client
START_TIMEOUT = 20.0      # httpd / php-fpm / pool ready
STOP_TIMEOUT = 20.0       # SIGTERM to SIGKILL
PROGRESS_EVERY = 10.0     # seconds between progress lines
PROGRESS_STEP = 50000     # ... or this many requests
CRASH_SLACK = 1.0         # s after a crash reply that still counts as "at"
MAX_FAIL_DETAILS = 2000   # per client process; the counts stay exact
RSS_LIMIT_PCT = 5.0

# The mix, per 100 ordinary requests; the crash replaces every
# --crash-every-th request. Kinds: (label, target, what is checked).
MIX = [("s_hello", 56), ("s_dl", 2), ("s_up", 2),
       ("p_hello", 34), ("p_dl", 3), ("p_up", 3)]
KINDS = collections.OrderedDict([
    ("s_hello", ("hello", "static pool", "200, body hello")),
    ("s_dl", ("1 MiB download", "static pool", "200, 1 MiB pattern")),
    ("s_up", ("upload, echoed", "static pool", "200, echo == body")),
    ("p_hello", ("hello", "php-fpm", "200, body hello")),
    ("p_dl", ("1 MiB download", "php-fpm", "200, 1 MiB pattern")),
    ("p_up", ("upload, len+crc", "php-fpm", "200, len and crc32")),
    ("crash", ("?crash", "static pool", "cut or 5xx")),
])
STATIC_KINDS = ("s_hello", "s_dl", "s_up")
SLOTS = [k for k, n in MIX for _ in range(n)]
assert len(SLOTS) == 100

FPM_PHP = b"""<?php
// bench/soak.py: hello, a 1 MiB download (the bytes fcgi_responder's
// ?bytes=N sends: 'a' + i % 26) or the length and CRC-32 of an upload.
header('Content-Type: application/octet-stream');
$k = $_GET['k'] ?? '';
if ($k === 'dl') {
    echo substr(str_repeat('abcdefghijklmnopqrstuvwxyz', 40330), 0, 1048576);
} elseif ($k === 'up') {
    $in = file_get_contents('php://input');
    printf("len=%d crc=%08x\\n", strlen($in), crc32($in));
} else {
    echo "hello\\n";
}
"""


def log(msg=""):
    print(msg, flush=True)


def pattern(n):
    """fcgi_responder's ?bytes=n body."""
    abc = b"abcdefghijklmnopqrstuvwxyz"
    return (abc * (n // 26 + 1))[:n]


DL_BODY = pattern(DL_SIZE)


def kind_of(j, crash_every):
    """Kind of the j-th request of a phase (0-based)."""
    if j % crash_every == crash_every - 1:
        return "crash"
    return SLOTS[j % 100]


def upload_size(j):
    """A size in [UP_MIN, UP_MAX] that varies from request to request."""
    return UP_MIN + (j * 2654435761) % (UP_MAX - UP_MIN + 1)


# ------------------------------------------------------------------ /proc

def proc_stat(pid):
    """(comm, state, ppid, starttime) or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return data[data.index("(") + 1:data.rindex(")")], rest[0], \
        int(rest[1]), int(rest[19])


def descendants(root):
    """Every live process below root (root excluded), one /proc scan."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st and st[1] != "Z":
                children.setdefault(st[2], []).append(int(name))
    out, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def vm_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def n_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def exe_of(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


def n_threads(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def httpd_tree(parent):
    """Classify httpd's tree: {"parent": [pid], "workers": [...],
    "pm": [...], "apps": [...]}. The PM is a fork of httpd (same exe),
    single-threaded, the parent of the app processes; the workers are the
    other apache2 children (ThreadsPerChild + 2 threads)."""
    groups = {"parent": [parent], "workers": [], "pm": [], "apps": []}
    below = descendants(parent)
    ppid = {pid: (proc_stat(pid) or (0, 0, 0))[2] for pid in below}
    apache_exe = exe_of(parent)
    for pid in below:
        if exe_of(pid) != apache_exe:
            groups["apps"].append(pid)
    app_parents = {ppid[p] for p in groups["apps"]}
    for pid in below:
        if ppid[pid] == parent and exe_of(pid) == apache_exe:
            pm = pid in app_parents or n_threads(pid) == 1
            groups["pm" if pm else "workers"].append(pid)
    return groups


def snapshot(parent, fpm_pid):
    """RSS (KiB) and descriptors per group, and the pids."""
    groups = httpd_tree(parent)
    groups["fpm"] = [fpm_pid] + descendants(fpm_pid)
    snap = {}
    for name, pids in groups.items():
        rss = [vm_rss_kib(p) for p in sorted(pids)]
        snap[name] = {"pids": sorted(pids), "rss": sum(rss), "rss_each": rss,
                      "fds": sum(n_fds(p) for p in pids)}
    return snap


def stack_pointers(pid):
    """The user stack pointer of each of pid's threads that is blocked in a
    system call (/proc/PID/task/TID/syscall: "nr args... sp pc")."""
    sps = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return sps
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                parts = f.read().split()
        except OSError:
            continue
        if len(parts) >= 8:
            sps.append(int(parts[-2], 16))
    return sps


def rss_by_mapping(pids):
    """KiB resident by kind of mapping, summed over pids: thread stacks
    (the mappings the threads' stack pointers are in), heap, other
    anonymous memory (malloc arenas, APR's mmap'ed blocks), files and
    shared memory. Says where RSS grew."""
    out = collections.Counter()
    for pid in pids:
        sps = stack_pointers(pid)
        kind = None
        try:
            with open("/proc/%d/smaps" % pid) as f:
                for line in f:
                    if line[0] in "0123456789abcdef" and "-" in \
                            line.split(" ", 1)[0]:
                        fields = line.split()
                        lo, hi = (int(x, 16) for x in fields[0].split("-"))
                        name = fields[5] if len(fields) > 5 else ""
                        if name == "[stack]" or any(lo <= sp < hi
                                                    for sp in sps):
                            kind = "thread stacks"
                        elif name == "[heap]":
                            kind = "heap"
                        elif name == "":
                            kind = "other anonymous"
                        else:
                            kind = "files, shm"
                    elif line.startswith("Rss:") and kind:
                        out[kind] += int(line.split()[1])
        except OSError:
            pass
    return out


def quiet_snapshot(parent, fpm_pid):
    """A snapshot once httpd's descriptor count has settled (the client's
    connections take a moment to be closed on the server side)."""
    time.sleep(1.0)
    prev = snapshot(parent, fpm_pid)
    for _ in range(20):
        time.sleep(0.5)
        cur = snapshot(parent, fpm_pid)
        if all(cur[g]["fds"] == prev[g]["fds"]
               for g in ("parent", "workers", "pm")):
            break
        prev = cur
    cur["mappings"] = rss_by_mapping(cur["parent"]["pids"]
                                     + cur["workers"]["pids"]
                                     + cur["pm"]["pids"])
    return cur


# ------------------------------------------------------------------ servers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def httpd_conf(d, port, module_so):
    www = os.path.join(d, "htdocs")
    loads = "\n".join("LoadModule %s_module %s/mod_%s.so" % (m, MODDIR, m)
                      for m in ("mpm_event", "authz_core", "mime"))
    # Two children of 25 threads that mpm_event neither adds to nor stops
    # (MaxSpareThreads = all threads), none recycled: the same processes
    # are measured at the start and at the end.
    # The pool keeps mod_fastcgi's defaults: a process that served
    # requests and then crashed is restarted at once, not backed off.
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
LoadModule fastcgi_x_module {so}
StartServers 2
ServerLimit 2
ThreadLimit 25
ThreadsPerChild 25
MaxRequestWorkers 50
MinSpareThreads 1
MaxSpareThreads 50
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
Timeout 60
LimitRequestBody 0
TypesConfig /dev/null
DocumentRoot "{www}"
<Directory "{www}">
    Options None
    AllowOverride None
    Require all granted
</Directory>
FastCgiServer {www}/static.fcgi -processes {procs} -init-start-delay 0
FastCgiExternalServer {www}/fpm.php -socket {d}/fpm/php-fpm.sock
""".format(d=d, port=port, user=RUN_USER, loads=loads, so=module_so,
           www=www, procs=POOL_PROCS)


def fpm_conf(d):
    f = os.path.join(d, "fpm")
    return "\n".join([
        "[global]",
        "pid = %s/php-fpm.pid" % f,
        "error_log = %s/php-fpm.log" % f,
        "daemonize = no",
        "[soak]",
        "user = %s" % RUN_USER,
        "group = %s" % RUN_USER,
        "listen = %s/php-fpm.sock" % f,
        "listen.mode = 0666",
        "listen.backlog = 511",
        "pm = static",
        "pm.max_children = %d" % FPM_CHILDREN,
        "php_admin_value[post_max_size] = 16M",
        "php_admin_value[memory_limit] = 64M",
        ""])


def setup_dir(args):
    """The private run directory: module and app copies, docroot, configs."""
    d = tempfile.mkdtemp(prefix="fcgix-soak-")
    os.chmod(d, 0o755)
    for sub in ("htdocs", "run", "fpm"):
        os.mkdir(os.path.join(d, sub), 0o755)
    shutil.chown(os.path.join(d, "run"), RUN_USER, RUN_USER)
    # Private copies: the tree may be rebuilt during the run.
    module_so = os.path.join(d, "mod_fastcgi_x.so")
    shutil.copy2(args.module, module_so)
    app = os.path.join(d, "htdocs", "static.fcgi")
    shutil.copy2(args.app, app)
    os.chmod(app, 0o755)
    php = os.path.join(d, "htdocs", "fpm.php")
    with open(php, "wb") as f:
        f.write(FPM_PHP)
    os.chmod(php, 0o644)
    port = free_port()
    with open(os.path.join(d, "httpd.conf"), "w") as f:
        f.write(httpd_conf(d, port, module_so))
    with open(os.path.join(d, "fpm", "php-fpm.conf"), "w") as f:
        f.write(fpm_conf(d))
    st = os.stat(args.module)
    log("run dir %s; module %s (%d bytes, built %s), port %d" % (
        d, args.module, st.st_size,
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.st_mtime)),
        port))
    return d, port, app


def wait_until(pred, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def can_connect(addr):
    fam = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
    try:
        with socket.socket(fam) as s:
            s.settimeout(1)
            s.connect(addr)
        return True
    except OSError:
        return False


def start_daemon(argv, logfile):
    with open(logfile, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)


def start_fpm(d):
    sock = os.path.join(d, "fpm", "php-fpm.sock")
    proc = start_daemon([PHP_FPM, "-F", "-y",
                         os.path.join(d, "fpm", "php-fpm.conf")],
                        os.path.join(d, "fpm", "console.log"))
    if not wait_until(lambda: proc.poll() is not None or can_connect(sock),
                      START_TIMEOUT) or proc.poll() is not None:
        raise RuntimeError("php-fpm did not start: see %s/fpm" % d)
    return proc


def start_httpd(d, port):
    proc = start_daemon([APACHE, "-f", os.path.join(d, "httpd.conf"),
                         "-DFOREGROUND"], os.path.join(d, "stdout.log"))
    if not wait_until(lambda: proc.poll() is not None
                      or can_connect(("127.0.0.1", port)), START_TIMEOUT) \
            or proc.poll() is not None:
        raise RuntimeError("httpd did not start: see %s/error.log and "
                           "stdout.log" % d)
    return proc


def ready(port, path):
    """One GET answered 200 (the pool's processes may still be starting)."""
    conn = Conn(port)
    try:
        status, _h, _b = conn.exchange(
            b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path, None)
        return status == 200
    except (ClientError, OSError):
        return False
    finally:
        conn.close()


def stop_daemon(proc, what):
    """SIGTERM by PID, bounded wait, then SIGKILL to it and to whatever of
    its tree (recorded before the SIGTERM) is still the same process."""
    if proc is None or proc.poll() is not None:
        return
    tree = [(p, (proc_stat(p) or (0, 0, 0, None))[3])
            for p in descendants(proc.pid)]
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        log("%s did not stop within %.0f s: SIGKILL" % (what, STOP_TIMEOUT))
        proc.kill()
        proc.wait(5)
    for pid, start in tree:
        if not wait_until(lambda: proc_stat(pid) is None
                          or proc_stat(pid)[3] != start, 3.0):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


# ------------------------------------------------------------------ client

class ClientError(Exception):
    """A request that got no complete answer; status is set when the
    headers had arrived, got counts response bytes."""

    def __init__(self, what, status=None, got=0):
        super().__init__(what)
        self.what, self.status, self.got = what, status, got


class Conn:
    """A minimal HTTP/1.1 keep-alive client on one connection: Content-
    Length, chunked and close-delimited bodies. Uploads are sent while
    reading, as an echoing app answers before the body is all sent."""

    RECV = 256 * 1024
    SEND = 256 * 1024

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = bytearray()
        self.rbuf = bytearray(self.RECV)
        self.rview = memoryview(self.rbuf)
        self.used = 0       # responses read on this connection
        self.got = 0        # response bytes of the current request

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buf = bytearray()

    def connect(self):
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port),
                                             timeout=IO_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.used = 0

    def _recv(self):
        # recv_into a reused buffer: recv(256 KiB) would allocate (mmap)
        # and free 256 KiB per call, which costs more than the request.
        n = self.sock.recv_into(self.rbuf)
        if not n:
            raise ClientError("eof", got=self.got)
        self.got += n
        self.buf += self.rview[:n]

    def _send_body(self, data):
        """Send data, reading whatever comes back meanwhile; stop sending
        at EOF (the answer is then in buf, or the reader sees EOF)."""
        view = memoryview(data)
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN | select.POLLOUT)
        off = 0
        while off < len(view):
            events = poller.poll(IO_TIMEOUT * 1000)
            if not events:
                raise ClientError("timeout sending", got=self.got)
            ev = events[0][1]
            if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                n = self.sock.recv_into(self.rbuf)
                if not n:
                    return
                self.got += n
                self.buf += self.rview[:n]
            elif ev & select.POLLOUT:
                off += self.sock.send(view[off:off + self.SEND])

    def exchange(self, head, body):
        """(status, headers, body) or ClientError/OSError."""
        if self.sock is None:
            self.connect()
        self.got = 0
        if body is None:
            self.sock.sendall(head)
        else:
            self._send_body(head + body)
        return self._read_response()

    def _read_response(self):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > 65536:
                raise ClientError("header block too long", got=self.got)
            self._recv()
        lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[:end + 4]
        version, status = lines[0].split(" ", 2)[:2]
        status = int(status)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        keep = version == "HTTP/1.1" and \
            "close" not in headers.get("connection", "").lower()
        try:
            if status in (204, 304) or status < 200:
                body = b""
            elif "chunked" in headers.get("transfer-encoding", "").lower():
                body = self._read_chunked()
            elif "content-length" in headers:
                body = self._read_n(int(headers["content-length"]))
            else:
                body, keep = self._read_to_eof(), False
        except ClientError as e:
            e.status = status
            raise
        if keep:
            self.used += 1
        else:
            self.close()
        return status, headers, body

    def _take(self, out, size):
        """Append size body bytes to out: what buf holds first, then
        straight from the socket (a body never goes through buf, whose
        growth would copy it again and again)."""
        take = min(size, len(self.buf))
        if take:
            with memoryview(self.buf) as mv:
                out += mv[:take]
            del self.buf[:take]
            size -= take
        while size > 0:
            n = self.sock.recv_into(self.rbuf, min(size, self.RECV))
            if not n:
                raise ClientError("eof", got=self.got)
            self.got += n
            out += self.rview[:n]
            size -= n

    def _line(self):
        while True:
            j = self.buf.find(b"\r\n")
            if j >= 0:
                line = bytes(self.buf[:j])
                del self.buf[:j + 2]
                return line
            if len(self.buf) > 65536:
                raise ClientError("line too long", got=self.got)
            self._recv()

    def _read_n(self, n):
        out = bytearray()
        self._take(out, n)
        return out

    def _read_to_eof(self):
        try:
            while True:
                self._recv()
        except ClientError:
            pass
        body, self.buf = self.buf, bytearray()
        return body

    def _read_chunked(self):
        out = bytearray()
        while True:
            try:
                size = int(self._line().split(b";")[0], 16)
            except ValueError:
                raise ClientError("bad chunk size", got=self.got)
            if size == 0:
                while self._line():     # trailers up to the empty line
                    pass
                return out
            self._take(out, size)
            if self._line():
                raise ClientError("bad chunk end", got=self.got)


# ------------------------------------------------------------------ worker

def build_request(kind, j, payload):
    """(head, body, expected body or None for the crash)."""
    host = b"Host: 127.0.0.1\r\n"
    if kind in ("s_up", "p_up"):
        size = upload_size(j)
        body = memoryview(payload)[:size]
        path = b"/static.fcgi?echo" if kind == "s_up" else b"/fpm.php?k=up"
        head = (b"POST %s HTTP/1.1\r\n%sContent-Type: "
                b"application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                % (path, host, size))
        if kind == "s_up":
            expect = body
        else:
            expect = b"len=%d crc=%08x\n" % (size, zlib.crc32(body))
        return head, body, expect
    path, expect = {
        "s_hello": (b"/static.fcgi", HELLO),
        "s_dl": (b"/static.fcgi?bytes=%d" % DL_SIZE, None),
        "p_hello": (b"/fpm.php", HELLO),
        "p_dl": (b"/fpm.php?k=dl", None),
        "crash": (b"/static.fcgi?crash", None),
    }[kind]
    if kind in ("s_dl", "p_dl"):
        expect = DL_BODY
    return b"GET %s HTTP/1.1\r\n%s\r\n" % (path, host), None, expect


STALE = ("eof", "ConnectionResetError", "BrokenPipeError")


def attempt(conn, kind, head, body, stats):
    """One request; a reused keep-alive connection that the server closed
    before sending a byte is retried once on a new one (counted: with
    these settings httpd should never do that)."""
    for retry in (False, True):
        reused = conn.sock is not None and conn.used > 0
        try:
            return conn.exchange(head, body)
        except (ClientError, OSError) as e:
            conn.close()
            what = e.what if isinstance(e, ClientError) else type(e).__name__
            got = e.got if isinstance(e, ClientError) else conn.got
            if retry or not reused or got or kind == "crash" \
                    or what not in STALE:
                raise
            stats["stale_retries"] += 1
    raise AssertionError("not reached")


def describe(e):
    if isinstance(e, ClientError):
        s = e.what
        if e.status is not None:
            s = "%s after status %d (%d bytes)" % (s, e.status, e.got)
        return s
    return "%s: %s" % (type(e).__name__, e)


def one(conn, kind, j, payload, stats):
    """Run request j; None if it passed, else the reason."""
    head, body, expect = build_request(kind, j, payload)
    try:
        status, _h, rbody = attempt(conn, kind, head, body, stats)
    except (ClientError, OSError) as e:
        if kind == "crash":
            return ("cut: " + describe(e)) if isinstance(e, ClientError) \
                and e.status is not None else "no answer: " + describe(e)
        return describe(e)
    stats["bytes_in"] += len(rbody)
    stats["bytes_out"] += len(body) if body is not None else 0
    if kind == "crash":
        return "status %d, complete %d-byte body" % (status, len(rbody))
    if status != 200:
        return "status %d" % status
    if rbody != expect:
        return "bad body (%d bytes, expected %d)" % (len(rbody), len(expect))
    return None


def worker(wid, nworkers, count, crash_every, port, payload, progress,
           results):
    """Client process wid: requests wid, wid + nworkers, ... < count."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    conn = Conn(port)
    stats = {"sent": collections.Counter(), "ok": collections.Counter(),
             "failed": collections.Counter(), "stale_retries": 0,
             "bytes_in": 0, "bytes_out": 0, "fails": [], "crashes": [],
             "nfails": 0}
    for j in range(wid, count, nworkers):
        kind = kind_of(j, crash_every)
        stats["sent"][kind] += 1
        t0 = time.monotonic()
        why = one(conn, kind, j, payload, stats)
        t1 = time.monotonic()
        if kind == "crash":
            stats["crashes"].append((j, t0, t1, why))
            progress[wid * 3 + 2] += 1
        elif why is None:
            stats["ok"][kind] += 1
        else:
            stats["failed"][kind] += 1
            stats["nfails"] += 1
            progress[wid * 3 + 1] += 1
            if len(stats["fails"]) < MAX_FAIL_DETAILS:
                stats["fails"].append((kind, j, t0, t1, why))
        progress[wid * 3] += 1
    conn.close()
    results.put((wid, stats))


# ------------------------------------------------------------------ driver

class Phase:
    """nworkers client processes sending count requests; progress lines;
    bounded by max_seconds."""

    def __init__(self, label, count, args, port, payload, live):
        self.label, self.count, self.args = label, count, args
        self.port, self.payload, self.live = port, payload, live
        self.procs = []
        self.t0 = 0.0
        self.rss_half = None    # live httpd RSS (KiB) half-way, at the end
        self.rss_last = None
        self.elapsed = 0.0
        self.complete = False

    def stop_workers(self):
        for p in self.procs:
            if p.is_alive():
                p.terminate()           # SIGTERM to its PID
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)

    def run(self):
        ctx = multiprocessing.get_context("fork")
        n = self.args.concurrency
        progress = ctx.Array("q", n * 3, lock=False)
        results = ctx.Queue()
        self.procs = [ctx.Process(target=worker, daemon=True, args=(
            w, n, self.count, self.args.crash_every, self.port,
            self.payload, progress, results)) for w in range(n)]
        t0 = self.t0 = time.monotonic()
        deadline = t0 + self.args.max_seconds
        for p in self.procs:
            p.start()
        got = {}
        last_t, last_n = t0, 0
        try:
            while len(got) < n and time.monotonic() < deadline:
                try:
                    wid, stats = results.get(timeout=1.0)
                    got[wid] = stats
                except queue.Empty:
                    if not any(p.is_alive() for p in self.procs):
                        break   # a client died without a result
                done = sum(progress[w * 3] for w in range(n))
                now = time.monotonic()
                if now - last_t >= PROGRESS_EVERY \
                        or done - last_n >= PROGRESS_STEP:
                    self.progress_line(progress, n, now - t0)
                    last_t, last_n = now, done
        finally:
            self.elapsed = time.monotonic() - t0
            self.stop_workers()
        self.complete = len(got) == n
        if not self.complete:
            log("%s: only %d of %d clients finished (%s)" % (
                self.label, len(got), n,
                "time limit" if time.monotonic() >= deadline else "died"))
        return merge(got.values())

    def progress_line(self, progress, n, elapsed):
        done = sum(progress[w * 3] for w in range(n))
        failed = sum(progress[w * 3 + 1] for w in range(n))
        crashes = sum(progress[w * 3 + 2] for w in range(n))
        s = self.live()
        rss = s["parent"]["rss"] + s["workers"]["rss"] + s["pm"]["rss"]
        if self.rss_half is None and done >= self.count // 2:
            self.rss_half = rss
        self.rss_last = rss
        log("  %s %7.0f s %9d/%d req (%5.0f req/s) failed %d, crashes %d;"
            " httpd+PM RSS %.1f MiB, fds %d (live)" % (
                self.label, elapsed, done, self.count, done / elapsed,
                failed, crashes, rss / 1024.0,
                s["parent"]["fds"] + s["workers"]["fds"]))


def merge(all_stats):
    out = {"sent": collections.Counter(), "ok": collections.Counter(),
           "failed": collections.Counter(), "stale_retries": 0,
           "bytes_in": 0, "bytes_out": 0, "fails": [], "crashes": [],
           "nfails": 0}
    for st in all_stats:
        for key in ("sent", "ok", "failed"):
            out[key].update(st[key])
        for key in ("stale_retries", "bytes_in", "bytes_out", "nfails"):
            out[key] += st[key]
        out["fails"].extend(st["fails"])
        out["crashes"].extend(st["crashes"])
    out["crashes"].sort(key=lambda c: c[1])
    return out


def crash_start_before(stats, t):
    """Start of the last crash request begun before t."""
    starts = [c[1] for c in stats["crashes"] if c[1] <= t]
    return max(starts) if starts else t


def attribute_failures(stats, concurrency):
    """Split failures into those in flight at an injected crash (a static
    pool request overlapping a crash request, up to CRASH_SLACK after its
    answer; at most concurrency per crash) and the rest."""
    per_crash = collections.Counter()
    at_crash, other = [], []
    for f in sorted(stats["fails"], key=lambda f: f[2]):
        kind, _j, t0, t1, _why = f
        hit = None
        if kind in STATIC_KINDS:
            for ci, (_cj, c0, c1, _cw) in enumerate(stats["crashes"]):
                if t0 <= c1 + CRASH_SLACK and t1 >= c0:
                    hit = ci
                    break
        if hit is not None and per_crash[hit] < concurrency:
            per_crash[hit] += 1
            at_crash.append(f)
        else:
            other.append(f)
    # failures beyond the kept details are unexplained by construction
    untracked = stats["nfails"] - len(stats["fails"])
    return at_crash, other, untracked, per_crash


# ------------------------------------------------------------------ error log

LOG_RE = re.compile(r"^\[[^\]]*\] \[([^\]:]*):?([^\]]*)\]")
# Lines an injected crash explains, and what bounds their number: per
# crash, the PM's line on the app's exit (and, when the restarted process
# crashes again within -min-server-life, its back-off), the handler's on
# the connection closed without END_REQUEST; per request in flight at a
# crash, the handler's on the reset connection (the PM closes the socket
# of a process that died, so that requests queued on it fail at once).
EXPECTED_LINES = (
    (re.compile(r"\): exited with status 3$"), "crashes"),
    (re.compile(r"\): exited after \d+ ms, \d+\w\w failure in a row; "
                r"backing off"), "crashes"),
    (re.compile(r"closed the connection before FCGI_END_REQUEST$"),
     "crashes"),
    (re.compile(r"reading the response failed: Connection reset by peer$"),
     "at_crash"),
    # a request that found the crashed process's socket closed before
    # the PM restarted it, and went to another process (it succeeded)
    (re.compile(r"FCGIX00104: .* the request goes to another one$"),
     "at_crash"),
)


def normalise(line):
    text = re.sub(r"^\[[^\]]*\] ", "", line.rstrip("\n"))
    text = re.sub(r"\[pid \d+(:tid \d+)?\] ", "", text)
    text = re.sub(r"\[client [^\]]*\] ", "", text)
    return re.sub(r"\d+", "#", text)[:200]


def read_log(path, start):
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    return data.decode("utf-8", "replace").splitlines()


def log_summary(lines, budget):
    """({module:level: n}, {normalised text: n}, expected, unexpected
    lines). budget: {"crashes": n, "at_crash": n}; each EXPECTED_LINES
    pattern explains at most its budget of lines."""
    levels, texts = collections.Counter(), collections.Counter()
    used = collections.Counter()
    expected, unexpected = 0, []
    for line in lines:
        m = LOG_RE.match(line)
        levels["%s:%s" % m.groups() if m else "(unformatted)"] += 1
        texts[normalise(line)] += 1
        for i, (rx, bound) in enumerate(EXPECTED_LINES):
            if rx.search(line) and used[i] < budget[bound]:
                used[i] += 1
                expected += 1
                break
        else:
            unexpected.append(line)
    return levels, texts, expected, unexpected


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# ------------------------------------------------------------------ report

def fmt_kib(k):
    return "%.1f MiB" % (k / 1024.0)


def per_pid_rss(group):
    return ",".join("%.1f" % (k / 1024.0) for k in group["rss_each"])


def growth(a, b):
    return 100.0 * (b - a) / a if a else 0.0


HTTPD = ("parent", "workers", "pm")     # the gated processes


def total(snap, groups, key):
    return sum(snap[g][key] for g in groups)


def report_requests(args, main, stats, problems):
    """Per-kind table, crash outcomes, failures; returns the number of
    failures in flight at a crash and of unexplained ones."""
    conc = args.concurrency
    sent = sum(stats["sent"].values())
    log("soak result: %d requests in %.1f s (%.0f req/s), %d clients, "
        "crash every %d" % (sent, main.elapsed, sent / main.elapsed, conc,
                           args.crash_every))
    log("  body bytes: %.2f GiB down, %.2f GiB up" % (
        stats["bytes_in"] / 2.0 ** 30, stats["bytes_out"] / 2.0 ** 30))
    if not main.complete:
        problems.append("the run did not complete")
    log("")
    log("  %-8s %-16s %-12s %9s %9s %7s  %s" % (
        "kind", "what", "target", "sent", "ok", "failed", "check"))
    for kind, (what, target, check) in KINDS.items():
        if kind != "crash":
            log("  %-8s %-16s %-12s %9d %9d %7d  %s" % (
                kind, what, target, stats["sent"][kind], stats["ok"][kind],
                stats["failed"][kind], check))
    outcomes = collections.Counter(re.sub(r"\d+(-byte| bytes)", r"#\1", c[3])
                                   for c in stats["crashes"])
    log("  %-8s %-16s %-12s %9d   injected faults: %s" % (
        "crash", "?crash", "static pool", stats["sent"]["crash"],
        "; ".join("%d x %s" % (n, o) for o, n in outcomes.most_common())))
    # a complete answer below 500 hides the crash from the client
    complete = sum(n for o, n in outcomes.items()
                   if re.match(r"status [1-4]", o))
    if complete:
        problems.append("%d crash requests got a complete response (the "
                        "client cannot see the cut)" % complete)
    at_crash, other, untracked, per_crash = attribute_failures(stats, conc)
    log("")
    log("  failures in flight at a crash: %d (max %d at one crash; "
        "allowed <= %d each)" % (len(at_crash), max(per_crash.values(),
                                                    default=0), conc))
    for f in at_crash[:5]:
        log("    %s #%d: %s (%.3f s after the crash request began)" % (
            f[0], f[1], f[4], f[2] - crash_start_before(stats, f[3])))
    unexplained = len(other) + untracked
    log("  unexplained failures: %d" % unexplained)
    for f in other[:10]:
        log("    %s #%d at +%.3f s (%.3f s): %s" % (
            f[0], f[1], f[2] - main.t0, f[3] - f[2], f[4]))
    log("  stale keep-alive retries: %d" % stats["stale_retries"])
    if unexplained:
        problems.append("%d unexplained failed requests" % unexplained)
    return len(at_crash), unexplained


def report_memory(main, start, end, problems):
    log("  %-34s %12s %12s %9s" % ("idle, after warm-up / after run",
                                   "start", "end", "change"))
    rows = [("httpd parent + workers RSS", ("parent", "workers")),
            ("PM RSS", ("pm",)),
            ("httpd total RSS (parent+workers+PM)", HTTPD),
            ("app processes RSS (info)", ("apps",)),
            ("php-fpm RSS (info)", ("fpm",))]
    for label, groups in rows:
        a, b = total(start, groups, "rss"), total(end, groups, "rss")
        log("  %-34s %12s %12s %+8.2f%%" % (label, fmt_kib(a), fmt_kib(b),
                                            growth(a, b)))
    rss_growth = growth(total(start, HTTPD, "rss"), total(end, HTTPD, "rss"))
    if rss_growth >= RSS_LIMIT_PCT:
        problems.append("httpd RSS grew %.2f %% (limit %.0f %%)"
                        % (rss_growth, RSS_LIMIT_PCT))
    for g in ("parent", "workers"):
        log("  %-34s %12s %12s" % (g + " RSS each", per_pid_rss(start[g]),
                                   per_pid_rss(end[g])))
    for kind in ("thread stacks", "heap", "other anonymous", "files, shm"):
        a, b = start["mappings"][kind], end["mappings"][kind]
        log("  %-34s %12s %12s %+7d KiB" % ("  httpd total: " + kind,
                                            fmt_kib(a), fmt_kib(b), b - a))
    if main.rss_half is not None:
        log("  %-34s %12s %12s %+8.2f%%" % (
            "httpd total, live: at 50 % / end",
            fmt_kib(main.rss_half), fmt_kib(main.rss_last),
            growth(main.rss_half, main.rss_last)))
    return rss_growth


def report_processes(start, end, problems):
    for label, groups in [("httpd fds (parent + workers)",
                           ("parent", "workers")), ("PM fds", ("pm",)),
                          ("app processes fds (info)", ("apps",))]:
        a, b = total(start, groups, "fds"), total(end, groups, "fds")
        log("  %-34s %12d %12d %+9d" % (label, a, b, b - a))
        if "info" not in label and a != b:
            problems.append("%s changed: %d -> %d" % (label, a, b))
    for g in HTTPD:
        log("  %-34s %12s %12s" % (g + " pids", ",".join(
            map(str, start[g]["pids"])), ",".join(map(str, end[g]["pids"]))))
        if start[g]["pids"] != end[g]["pids"]:
            problems.append("the %s processes changed" % g)
    log("  %-34s %12d %12d" % ("app processes", len(start["apps"]["pids"]),
                               len(end["apps"]["pids"])))


def report_log(crashes, at_crash, loglines, fpm_log_lines, problems):
    levels, texts, expected, unexpected = log_summary(
        loglines, {"crashes": crashes, "at_crash": at_crash})
    log("  error log during the run: %d lines (%s)" % (
        len(loglines), ", ".join("%s %d" % kv for kv in
                                 sorted(levels.items())) or "none"))
    log("  explained by the %d crashes: %d; unexpected: %d" % (
        crashes, expected, len(unexpected)))
    for text, n in texts.most_common(8):
        log("    %6d x %s" % (n, text))
    for line in unexpected[:5]:
        log("    unexpected: %s" % line[:300])
    if unexpected:
        problems.append("%d unexpected error log lines" % len(unexpected))
    log("  php-fpm log during the run: %d lines" % len(fpm_log_lines))
    for line in fpm_log_lines[:5]:
        log("    %s" % line)


def report(args, main, stats, start, end, loglines, fpm_log_lines):
    """Print the final table; return the list of failed criteria."""
    problems = []
    log("")
    log("=" * 78)
    at_crash, unexplained = report_requests(args, main, stats, problems)
    log("")
    rss_growth = report_memory(main, start, end, problems)
    report_processes(start, end, problems)
    log("")
    report_log(stats["sent"]["crash"], at_crash, loglines, fpm_log_lines,
               problems)
    log("")
    fa = total(start, ("parent", "workers"), "fds")
    fb = total(end, ("parent", "workers"), "fds")
    pa, pb = start["pm"]["fds"], end["pm"]["fds"]
    log("  RSS growth < %.0f %%: %s (%+.2f %%)" % (
        RSS_LIMIT_PCT, "PASS" if rss_growth < RSS_LIMIT_PCT else "FAIL",
        rss_growth))
    log("  descriptors unchanged: %s (%d -> %d; PM %d -> %d)" % (
        "PASS" if fa == fb and pa == pb else "FAIL", fa, fb, pa, pb))
    log("  0 failures beyond those in flight at a crash: %s (%d)" % (
        "PASS" if not unexplained else "FAIL", unexplained))
    log("  verdict: %s" % ("PASS" if not problems else "FAIL"))
    for p in problems:
        log("    - %s" % p)
    log("=" * 78)
    return problems


# ------------------------------------------------------------------ main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=1000000,
                    help="requests of the measured run (default 1,000,000)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="warm-up requests, same mix (default: 10 %% of "
                         "--requests, at least 10,000)")
    ap.add_argument("--concurrency", type=int, default=12,
                    help="client processes, one connection each (12)")
    ap.add_argument("--crash-every", type=int, default=10000,
                    help="every N-th request is ?crash (10,000)")
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="bound of each phase (default 60 s + 5 ms/request)")
    ap.add_argument("--module", default=os.path.join(
        TOP, ".libs", "mod_fastcgi_x.so"))
    ap.add_argument("--app", default=os.path.join(
        TOP, "build", "fcgi_responder"))
    ap.add_argument("--keep", action="store_true",
                    help="keep the run directory (kept anyway on FAIL)")
    args = ap.parse_args()
    if args.warmup is None:
        args.warmup = max(10000, args.requests // 10)
    if args.max_seconds is None:
        args.max_seconds = 60 + 0.005 * max(args.requests, args.warmup)
    if args.requests < 1 or args.concurrency < 1 or args.crash_every < 2:
        ap.error("--requests, --concurrency >= 1, --crash-every >= 2")
    return args


def check_env(args):
    if os.geteuid() != 0:
        sys.exit("soak.py: run as root (httpd and php-fpm run as %s)"
                 % RUN_USER)
    for path in (args.module, args.app, APACHE):
        if not os.path.exists(path):
            sys.exit("soak.py: %s missing (make -f Makefile.apxs?)" % path)
    if PHP_FPM is None:
        sys.exit("soak.py: php-fpm is not installed")


def on_signal(signum, _frame):
    raise KeyboardInterrupt("signal %d" % signum)


def run(args, d, port):
    """Start the servers, warm up, measure, run, measure, report."""
    state = {"fpm": None, "httpd": None, "phase": None}
    try:
        state["fpm"] = start_fpm(d)
        state["httpd"] = start_httpd(d, port)
        hp, fp = state["httpd"].pid, state["fpm"].pid
        for path in (b"/static.fcgi", b"/fpm.php"):
            if not wait_until(lambda: ready(port, path), START_TIMEOUT, 0.5):
                raise RuntimeError("%s never answered 200" % path.decode())
        payload = os.urandom(UP_MAX)
        live = lambda: snapshot(hp, fp)     # noqa: E731
        elog = os.path.join(d, "error.log")
        flog = os.path.join(d, "fpm", "php-fpm.log")

        log("warm-up: %d requests" % args.warmup)
        state["phase"] = Phase("warm-up", args.warmup, args, port, payload,
                               live)
        warm = state["phase"].run()
        if not state["phase"].complete:
            raise RuntimeError("the warm-up did not complete")
        log("warm-up: %.1f s, %d failed (%d in flight at its %d crashes)"
            % (state["phase"].elapsed, warm["nfails"],
               len(attribute_failures(warm, args.concurrency)[0]),
               warm["sent"]["crash"]))
        start = quiet_snapshot(hp, fp)
        log_start, flog_start = log_size(elog), log_size(flog)
        log("start: httpd+PM RSS %s, httpd fds %d, PM fds %d" % (
            fmt_kib(total(start, HTTPD, "rss")),
            total(start, ("parent", "workers"), "fds"),
            start["pm"]["fds"]))

        log("run: %d requests" % args.requests)
        state["phase"] = Phase("run", args.requests, args, port, payload,
                               live)
        stats = state["phase"].run()
        end = quiet_snapshot(hp, fp)
        loglines = read_log(elog, log_start)
        fpm_lines = read_log(flog, flog_start) if os.path.exists(flog) \
            else []
        return report(args, state["phase"], stats, start, end, loglines,
                      fpm_lines)
    finally:
        # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if state["phase"] is not None:
            state["phase"].stop_workers()
        stop_daemon(state["httpd"], "httpd")
        stop_daemon(state["fpm"], "php-fpm")


def main():
    args = parse_args()
    check_env(args)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    t0 = time.monotonic()
    d, port = None, None
    problems = ["interrupted or setup error"]
    try:
        d, port, _app = setup_dir(args)
        problems = run(args, d, port)
    except KeyboardInterrupt as e:
        log("interrupted (%s)" % (e or "SIGINT"))
    except (RuntimeError, OSError) as e:
        log("soak.py: %s" % e)
    finally:
        log("total time %.1f s" % (time.monotonic() - t0))
        if d is not None:
            if problems or args.keep:
                log("run directory kept: %s" % d)
            else:
                shutil.rmtree(d, ignore_errors=True)
    if problems == ["interrupted or setup error"]:
        return 2
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
