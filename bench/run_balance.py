#!/usr/bin/python3
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain a
# copy of the License at http://www.apache.org/licenses/LICENSE-2.0
"""mod_fastcgi_x balancing an app over three hosts, against mod_proxy_balancer.

The benchmark of issue 14. A benchmark, not a test: see bench/README.md
(section run_balance.py) and shared/reference/benchmarking.md. Python 3
standard library only; needs root (network namespaces, tc, Apache's User
www-data), iproute2 (ip; tc with netem or sch_blackhole), wrk, spawn-fcgi,
taskset, a C compiler, libfcgi-dev and Debian's apache2-bin with
mod_proxy_balancer, mod_proxy_fcgi and mod_lbmethod_bybusyness.

    /usr/bin/python3 bench/run_balance.py            # REPS=3, D=3 s
    /usr/bin/python3 bench/run_balance.py --quick    # REPS=1, D=2 s

It reuses bench/run_peers.py's httpd configuration, wrk parsing and
process handling (stop by PID, sweep of the run directory).
"""

import argparse
import array
import ipaddress
import json
import os
import random
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_peers as rp  # noqa: E402  (bench/ is not a package)

TOP = os.path.dirname(HERE)
HOSTS = 3
HOST_PROCS = 2            # spawn-fcgi -F per host
APP_PORT = 9000           # + the configuration's index: its own pool
CONN_TIMEOUT = 2          # -appConnTimeout / connectiontimeout=
FAIL_TIMEOUT = 5          # -fail-timeout / retry=
KEEP_MAX = HOST_PROCS     # kept connections per member: one per process
HELLO = rp.HELLO
STEADY = [("hello_c16", 16), ("hello_c64", 64)]
# The fault run: seconds from the start of the load.
FAULT_LEN = 30.0
KILL_AT, RESTART_AT, BLACKHOLE_AT, LIFT_AT = 10.0, 15.0, 20.0, 25.0
PRE = (2.0, KILL_AT)      # the pre-fault rate (the first 2 s are ramp-up)
WINDOWS = [("pre", 0.0, KILL_AT), ("kill", KILL_AT, RESTART_AT),
           ("restarted", RESTART_AT, BLACKHOLE_AT),
           ("blackhole", BLACKHOLE_AT, LIFT_AT), ("lifted", LIFT_AT,
                                                  FAULT_LEN)]
FAULT_CONNS = 16
BIN = 0.5                 # throughput bins, seconds
RECOVER = 0.90            # "full throughput": >= 90 % of the pre-fault rate
RECOVER_HOLD = 1.0        # ... over this long (the mean of its bins)
SLOW = 1.0                # a request this slow (s) hit a stalled member
HOST_BACK = 0.50          # host 1 "serves again": >= 50 % of its own
                          # pre-fault traffic in a bin
SAMPLE_EVERY = 0.1        # veth byte counters
LG_TIMEOUT = 10.0         # the load generator's request timeout (wrk's)
LG_LEAD = 1.0             # its start-up time before the load begins
HOST_WAIT = 5.0           # bounded waits on the app hosts
PROBE_TIMEOUT = 1.0       # the connect probe that tells refused/timeout
# The blackhole: netem as the issue says; the blackhole qdisc (drops every
# packet) where the kernel has no netem.
BLACKHOLE_QDISCS = [["netem", "loss", "100%"], ["blackhole"]]

# Failure codes of the load generator (HTTP statuses are >= 100).
E_READ, E_CLOSED, E_TIMEOUT, E_CONNECT, E_BODY = -1, -2, -3, -4, -5
E_NAMES = {E_READ: "read error", E_CLOSED: "closed by server",
           E_TIMEOUT: "timeout %.0f s" % LG_TIMEOUT,
           E_CONNECT: "connect error", E_BODY: "wrong body"}

log = rp.log


# ------------------------------------------------------------------ configs

class Config:
    """One httpd instance in front of the three hosts."""

    def __init__(self, key, title, ours, pair, keep=False):
        self.key = key
        self.app_port = None      # its pool's port on every host
        self.title = title
        self.ours = ours          # a mod_fastcgi_x configuration
        self.pair = pair          # the configuration it is compared with
        self.keep = keep          # kept backend connections
        self.dir = None
        self.port = None
        self.proc = None
        self.pool_pids = []       # (run_peers.Bench's own_pids reads it)
        self.failed = None

    def url_path(self, kind):
        return "/hello.txt" if kind == "static" else "/app.fcgi"


CONFIGS = [
    Config("fastcgi_x", "mod_fastcgi_x, 3 x -host, -balance least-conn",
           True, "proxy_balancer"),
    Config("proxy_balancer", "mod_proxy_balancer lbmethod=bybusyness, "
           "3 x fcgi://", False, "fastcgi_x"),
    Config("fastcgi_x_keep", "mod_fastcgi_x as above + -keep-conn "
           "-max-conns %d" % KEEP_MAX, True, "proxy_reuse", keep=True),
    Config("proxy_reuse", "mod_proxy_balancer as above + enablereuse=on "
           "max=%d" % KEEP_MAX, False, "fastcgi_x_keep", keep=True),
]


def specific_conf(cfg, docroot, module_so, hosts):
    """The configuration's own lines and the Debian modules it loads."""
    app = os.path.join(docroot, "app.fcgi")
    if cfg.ours:
        members = " ".join("-host %s:%d" % (h.addr, cfg.app_port)
                           for h in hosts)
        return ("LoadModule fastcgi_x_module %s\n"
                "FastCgiExternalServer %s %s -balance least-conn "
                "-appConnTimeout %d -fail-timeout %d%s\n"
                % (module_so, app, members, CONN_TIMEOUT, FAIL_TIMEOUT,
                   " -keep-conn -max-conns %d" % KEEP_MAX if cfg.keep
                   else "")), []
    # retry= is the fail-timeout: how long a member that failed a connect
    # stays out; connectiontimeout= is -appConnTimeout; maxattempts (the
    # failover to another member) defaults to members - 1. No reuse:
    # fcgi connections are closed after each request unless enablereuse.
    opts = "connectiontimeout=%d retry=%d" % (CONN_TIMEOUT, FAIL_TIMEOUT)
    if cfg.keep:
        opts += " enablereuse=on max=%d" % KEEP_MAX
    members = "".join("    BalancerMember fcgi://%s:%d %s\n"
                      % (h.addr, cfg.app_port, opts) for h in hosts)
    return ('<Proxy "balancer://fxlb">\n%s'
            '    ProxySet lbmethod=bybusyness\n'
            '</Proxy>\n'
            '<Files "app.fcgi">\n'
            '    SetHandler "proxy:balancer://fxlb/"\n'
            '</Files>\n' % members), \
        ["slotmem_shm", "proxy", "proxy_fcgi", "proxy_balancer",
         "lbmethod_bybusyness"]


# ------------------------------------------------------------------ network

def run(cmd, timeout=15, check=True):
    """Runs cmd (a list); returns its stdout. Raises with stderr on a
    failure when check."""
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (
            " ".join(cmd), out.returncode, out.stderr.strip()[-300:]))
    return out.stdout


def used_networks():
    """Every IPv4 network the root namespace and any named namespace know
    of (addresses and routes), so that ours overlap none."""
    nets = []
    texts = [run(["ip", "-4", "-o", "addr", "show"]),
             run(["ip", "-4", "route", "show", "table", "all"])]
    for ns in run(["ip", "netns", "list"]).split("\n"):
        name = ns.split(" ")[0].strip()
        if name:
            texts.append(run(["ip", "-n", name, "-4", "-o", "addr", "show"],
                             check=False))
    for text in texts:
        for m in re.finditer(r"(?<![\d.])(\d+\.\d+\.\d+\.\d+(?:/\d+)?)",
                             text):
            try:
                net = ipaddress.ip_network(m.group(1), strict=False)
            except ValueError:
                continue
            if net.prefixlen > 0:
                nets.append(net)
    return nets


def pick_subnet():
    """A 10.X.Y.0/24 that overlaps nothing in use; each host takes a /30
    of it."""
    used = used_networks()
    rnd = random.Random()
    for _ in range(500):
        net = ipaddress.ip_network("10.%d.%d.0/24" % (
            rnd.randint(64, 254), rnd.randint(0, 255)))
        if not any(net.overlaps(u) for u in used):
            return net
    raise RuntimeError("no free 10.x.y.0/24 found")


class Host:
    """One namespace: a veth pair to the root namespace and, for each
    configuration, HOST_PROCS app processes on addr:cfg.app_port."""

    def __init__(self, idx, tag, net):
        self.idx = idx
        self.ns = "fxlb-%s-h%d" % (tag, idx)
        self.veth = "fxlb%sr%d" % (tag, idx)       # root side
        self.veth_ns = "fxlb%sn%d" % (tag, idx)    # namespace side
        base = net.network_address + 4 * (idx - 1)
        self.root_addr = str(base + 1)
        self.addr = str(base + 2)
        self.pools = {}           # config key -> {pid: start time}
        self.blackholed = False

    def label(self):
        return "host %d (%s)" % (self.idx, self.addr)

    def counters(self):
        """(rx_bytes, tx_bytes) of the root side: bytes from and to the
        host."""
        out = []
        for what in ("rx_bytes", "tx_bytes"):
            try:
                with open("/sys/class/net/%s/statistics/%s"
                          % (self.veth, what)) as f:
                    out.append(int(f.read()))
            except OSError:
                out.append(0)
        return tuple(out)


def probe(addr, port, timeout=PROBE_TIMEOUT):
    """'ok', 'refused', 'timeout' or another error's text: what a connect
    to addr:port does now."""
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        return "ok"
    except socket.timeout:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "error: %s" % e
    finally:
        s.close()


def wait_probe(addr, port, want, limit=HOST_WAIT):
    """Probes until the answer is want, at most limit seconds; returns the
    last answer."""
    deadline = time.monotonic() + limit
    while True:
        got = probe(addr, port, timeout=min(PROBE_TIMEOUT, limit))
        if got == want or time.monotonic() >= deadline:
            return got
        time.sleep(0.05)


class Sampler(threading.Thread):
    """The hosts' veth byte counters every SAMPLE_EVERY s while active."""

    def __init__(self, hosts):
        super().__init__(daemon=True)
        self.hosts = hosts
        self.lock = threading.Lock()
        self.samples = None
        self.stop_ev = threading.Event()

    def begin(self):
        with self.lock:
            self.samples = []

    def end(self):
        with self.lock:
            out, self.samples = self.samples, None
        return out or []

    def run(self):
        while not self.stop_ev.wait(SAMPLE_EVERY):
            snap = (time.monotonic(),
                    [sum(h.counters()) for h in self.hosts])
            with self.lock:
                if self.samples is not None:
                    self.samples.append(snap)


# ------------------------------------------------------------------ loadgen

def parse_response(buf):
    """(status, body, consumed, close) of the first whole response in buf,
    or None while it is incomplete. Content-Length or chunked bodies."""
    he = buf.find(b"\r\n\r\n")
    if he < 0:
        return None
    lines = buf[:he].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, close = None, False, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif name == "connection":
            close = "close" in value.lower()
    pos = he + 4
    if chunked:
        body = []
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(buf[pos:eol].split(b";")[0], 16)
            if size == 0:
                end = buf.find(b"\r\n\r\n", eol)
                if end < 0:
                    return None
                return status, b"".join(body), end + 4, close
            if len(buf) < eol + 2 + size + 2:
                return None
            body.append(buf[eol + 2:eol + 2 + size])
            pos = eol + 2 + size + 2
    if length is None:
        length = 0 if status in (204, 304) else -1
    if length < 0:
        raise ValueError("response without a length")
    if len(buf) < pos + length:
        return None
    return status, buf[pos:pos + length], pos + length, close


class LoadConn:
    def __init__(self):
        self.sock = None
        self.buf = b""
        self.t0 = 0.0
        self.busy = False         # a request is in flight


def loadgen(port, path, conns, start_at, duration, out):
    """Closed-loop HTTP/1.1 keep-alive load as wrk does it: conns
    connections, one request in flight on each, the next one sent as the
    answer arrives. Records start, latency and status (or a negative
    failure code) of every request into out.{t,l,c}; out.meta has the
    count of requests still in flight at the end."""
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
           % (path, port)).encode()
    sel = selectors.DefaultSelector()
    starts, lats, codes = array.array("d"), array.array("d"), \
        array.array("i")
    pool = [LoadConn() for _ in range(conns)]
    idle = []                 # connections to (re)start a request on

    def record(c, code, now):
        starts.append(c.t0)
        lats.append(now - c.t0)
        codes.append(code)
        c.busy = False

    def close(c):
        if c.sock is not None:
            sel.unregister(c.sock)
            c.sock.close()
            c.sock = None
        c.buf = b""

    def connect(c):
        s = socket.socket()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(1.0)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            return False
        s.setblocking(False)
        c.sock = s
        sel.register(s, selectors.EVENT_READ, c)
        return True

    def send(c, now):
        """The next request on c (connecting first if needed); a failure
        is recorded and leaves c in idle."""
        c.t0 = now
        c.buf = b""
        if c.sock is None and not connect(c):
            record(c, E_CONNECT, time.monotonic())
            idle.append(c)
            return
        try:
            if c.sock.send(req) != len(req):
                raise OSError("short send")
        except OSError:
            record(c, E_READ, time.monotonic())
            close(c)
            idle.append(c)
            return
        c.busy = True

    for c in pool:
        connect(c)
    while time.monotonic() < start_at:
        time.sleep(min(0.01, max(start_at - time.monotonic(), 0)))
    end = start_at + duration
    for c in pool:
        send(c, time.monotonic())
    next_sweep = time.monotonic() + 0.1
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if idle:
            todo, idle[:] = idle[:], []
            for c in todo:
                send(c, now)
            if idle:
                time.sleep(0.001)
        for key, _ in sel.select(timeout=min(0.05, end - now)):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data, code = None, E_READ
            else:
                code = E_CLOSED
            now = time.monotonic()
            if not c.busy:
                close(c)          # the server closed an idle connection
                idle.append(c)
                continue
            if not data:
                record(c, code, now)
                close(c)
                send(c, now)
                continue
            c.buf += data
            try:
                r = parse_response(c.buf)
            except ValueError:
                r = (E_READ, b"", len(c.buf), True)
            if r is None:
                continue
            status, body, _, conn_close = r
            if status == 200 and body != HELLO:
                status = E_BODY
            record(c, status, now)
            if conn_close:
                close(c)
            send(c, now)
        now = time.monotonic()
        if now >= next_sweep:
            next_sweep = now + 0.1
            for c in pool:
                if c.busy and now - c.t0 > LG_TIMEOUT:
                    record(c, E_TIMEOUT, now)
                    close(c)
                    send(c, now)
    inflight = sum(1 for c in pool if c.busy)
    for c in pool:
        close(c)
    for arr, ext in ((starts, "t"), (lats, "l"), (codes, "c")):
        with open(out + "." + ext, "wb") as f:
            arr.tofile(f)
    with open(out + ".meta", "w") as f:
        json.dump({"inflight": inflight, "start": start_at, "end": end}, f)


def read_load(out):
    """What loadgen() wrote: (starts, latencies, codes, meta)."""
    arrs = []
    for ext, kind in (("t", "d"), ("l", "d"), ("c", "i")):
        a = array.array(kind)
        with open(out + "." + ext, "rb") as f:
            a.frombytes(f.read())
        arrs.append(a)
    with open(out + ".meta") as f:
        meta = json.load(f)
    return arrs[0], arrs[1], arrs[2], meta


def ok(code):
    return 200 <= code < 300


def pctl(xs, p):
    """The p-th percentile (nearest rank) of xs, in the unit of xs."""
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def summarise_load(starts, lats, codes, t0, length):
    """Rate, p50/p99 (ms) and failures of a steady loadgen run."""
    good = [lats[i] for i in range(len(codes)) if ok(codes[i])]
    return dict(rps=len(good) / length, p50=1e3 * pctl(good, 50),
                p99=1e3 * pctl(list(lats), 99),
                failed=sum(1 for c in codes if not ok(c)))


# ------------------------------------------------------------------ runner

class Balance(rp.Bench):
    """Inherits run_peers.Bench's wrk, http, wait_idle and the stopping of
    httpd trees by PID; the rest is its own."""

    def __init__(self, args):
        # not Bench.__init__: its configurations and RSS sampler are not
        # used here
        self.args = args
        self.tmp = None
        self.module_so = None
        self.app = None
        self.docroot = None
        self.configs = [c for c in CONFIGS
                        if not args.configs or c.key in args.configs]
        for i, cfg in enumerate(self.configs):
            cfg.app_port = APP_PORT + i
        self.throwaways = []
        self.tracked = {}
        self.sessions = {}
        self.hosts = []
        self.netns = []           # namespaces we created
        self.veths = []           # root-side veths we created
        self.loadgen_proc = None
        self.sampler = None
        self.results = {}         # (workload, key) -> [dict]
        self.errors = {}          # (workload, key) -> [str]
        self.faults = {}          # key -> [dict per repetition]
        self.fault_notes = []
        self.contended = []
        self.blackhole_check = None
        self.net = None
        self.last_lift = 0.0
        self.qdisc = None
        self.crashed = False      # an exception ended the run

    def own_pids(self):
        own = super().own_pids()
        for h in self.hosts:
            for pool in h.pools.values():
                own.update(pool)
        return own

    # ---------------------------------------------------------- setup

    def setup(self):
        self.tmp = rp.make_run_dir("fcgix-balance-", ("bin", "www", "load"))
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
        self.setup_hosts()

    def setup_hosts(self):
        self.net = pick_subnet()
        tag = "%d" % (os.getpid() % 100000)
        for i in range(1, HOSTS + 1):
            h = Host(i, tag, self.net)
            self.hosts.append(h)
            for name in (h.veth, h.veth_ns):
                if os.path.exists("/sys/class/net/" + name):
                    raise RuntimeError("interface %s exists already" % name)
            self.netns.append(h.ns)       # noted first: cleanup is safe
            run(["ip", "netns", "add", h.ns])
            self.veths.append(h.veth)
            run(["ip", "link", "add", h.veth, "type", "veth", "peer",
                 "name", h.veth_ns, "netns", h.ns])
            # No IPv6 chatter (router solicitations, DAD) on the links:
            # their byte counters tell which host served a request.
            for cmd in ([], ["ip", "netns", "exec", h.ns]):
                run(cmd + ["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1"
                           % (h.veth_ns if cmd else h.veth)], check=False)
            run(["ip", "addr", "add", h.root_addr + "/30", "dev", h.veth])
            run(["ip", "link", "set", h.veth, "up"])
            run(["ip", "-n", h.ns, "link", "set", "lo", "up"])
            run(["ip", "-n", h.ns, "addr", "add", h.addr + "/30", "dev",
                 h.veth_ns])
            run(["ip", "-n", h.ns, "link", "set", h.veth_ns, "up"])
            mac = json.loads(run(["ip", "-n", h.ns, "-j", "link", "show",
                                  h.veth_ns]))[0]["address"]
            # A permanent neighbour entry: with the link blackholed, ARP
            # would fail and connects would get EHOSTUNREACH at once
            # instead of timing out.
            run(["ip", "neigh", "replace", h.addr, "lladdr", mac, "dev",
                 h.veth, "nud", "permanent"])
            # Each configuration has its own processes on every host, as
            # in run_peers.py: a kept connection holds a libfcgi process
            # for as long as it is open, so pools cannot be shared.
            for cfg in self.configs:
                self.start_host(h, cfg)
        log("hosts: %s (namespaces %s, veths %s)" % (
            ", ".join(h.addr for h in self.hosts),
            " ".join(h.ns for h in self.hosts),
            " ".join(h.veth for h in self.hosts)))
        self.check_blackhole(self.hosts[0], self.configs[0].app_port)
        self.sampler = Sampler(self.hosts)
        self.sampler.start()

    def start_host(self, h, cfg):
        """spawn-fcgi -F HOST_PROCS on h.addr:cfg.app_port inside h's
        namespace, on the server CPU; waits until it accepts."""
        pidfile = os.path.join(self.tmp, "%s-%s.pid" % (h.ns, cfg.key))
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        h.pools[cfg.key] = {}
        run(["ip", "netns", "exec", h.ns, "taskset", "-c", rp.SERVER_CPU,
             "spawn-fcgi", "-F", str(HOST_PROCS), "-a", h.addr, "-p",
             str(cfg.app_port), "-u", rp.RUN_USER, "-g", rp.RUN_USER, "-P",
             pidfile, "--", self.app], timeout=30)
        with open(pidfile) as f:
            pids = [int(x) for x in f.read().split()]
        for pid in pids:
            ident = rp.proc_ident(pid)
            if ident:
                h.pools[cfg.key][pid] = ident[0]
        if len(h.pools[cfg.key]) != HOST_PROCS:
            raise RuntimeError("%s: spawn-fcgi left %d processes" % (
                h.label(), len(h.pools[cfg.key])))
        got = wait_probe(h.addr, cfg.app_port, "ok")
        if got != "ok":
            raise RuntimeError("%s:%d does not accept: %s" % (
                h.label(), cfg.app_port, got))

    def kill_host(self, h, key):
        """SIGKILL to h's app processes of configuration key (by PID, if
        the start time still matches)."""
        pool = h.pools.pop(key, {})
        for pid, start in pool.items():
            ident = rp.proc_ident(pid)
            if ident and ident[0] == start:
                rp.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + HOST_WAIT
        for pid, start in pool.items():
            while time.monotonic() < deadline:
                ident = rp.proc_ident(pid)
                if not ident or ident[0] != start or not rp.alive(pid):
                    break
                time.sleep(0.01)

    def blackhole(self, h, on):
        """A root qdisc on the root side of h's veth that drops every
        packet to h: SYNs vanish, connects time out."""
        if on:
            run(["tc", "qdisc", "add", "dev", h.veth, "root"] + self.qdisc)
            h.blackholed = True
        else:
            run(["tc", "qdisc", "del", "dev", h.veth, "root"])
            h.blackholed = False

    def check_blackhole(self, h, port):
        """Picks the first qdisc of BLACKHOLE_QDISCS this kernel has; the
        blackhole must make a connect time out, not fail at once."""
        tried = []
        for qdisc in BLACKHOLE_QDISCS:
            self.qdisc = qdisc
            try:
                self.blackhole(h, True)
                break
            except RuntimeError as e:
                tried.append("%s: %s" % (" ".join(qdisc),
                                         str(e).split(": ")[-1]))
        else:
            raise RuntimeError("no blackhole qdisc: " + "; ".join(tried))
        try:
            got = probe(h.addr, port)
        finally:
            self.blackhole(h, False)
        after = wait_probe(h.addr, port, "ok")
        self.blackhole_check = "tc qdisc %s on the host's veth%s: a " \
            "connect during it: %s; after it: %s" % (
                " ".join(self.qdisc), " (%s)" % "; ".join(tried)
                if tried else "", got, after)
        log("blackhole check: " + self.blackhole_check)
        if got != "timeout" or after != "ok":
            raise RuntimeError("blackhole check failed: " +
                               self.blackhole_check)

    def start_config(self, cfg):
        cfg.dir = os.path.join(self.tmp, cfg.key)
        os.makedirs(os.path.join(cfg.dir, "run"), 0o755)
        shutil.chown(os.path.join(cfg.dir, "run"), rp.RUN_USER, rp.RUN_USER)
        cfg.port = self.free_port()
        extra, modules = specific_conf(cfg, self.docroot, self.module_so,
                                       self.hosts)
        conf = os.path.join(cfg.dir, "httpd.conf")
        with open(conf, "w") as f:
            f.write(rp.common_conf(cfg, self.docroot, modules) + extra)
        out = open(os.path.join(cfg.dir, "stdout.log"), "wb")
        cfg.proc = subprocess.Popen(
            ["taskset", "-c", rp.SERVER_CPU, rp.APACHE, "-f", conf,
             "-DFOREGROUND"], stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        ident = rp.proc_ident(cfg.proc.pid)
        if ident:
            self.sessions[cfg.proc.pid] = ident[0]
        deadline = time.monotonic() + rp.START_TIMEOUT
        while time.monotonic() < deadline:
            if cfg.proc.poll() is not None:
                raise RuntimeError("httpd exited with %d: %s" % (
                    cfg.proc.returncode, (self.tail(cfg, "stdout.log")
                                          + self.tail(cfg, "error.log"))
                    .strip()))
            try:
                with socket.create_connection(("127.0.0.1", cfg.port), 1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("httpd did not listen within %.0f s"
                           % rp.START_TIMEOUT)

    def verify(self, cfg):
        """GET gives the 13 bytes, and every host answers some of 60
        requests sent 6 at a time (a balancer that never uses a member
        fails here)."""
        status, body = self.http(cfg, "GET", "/app.fcgi")
        if status != 200 or body != HELLO:
            raise RuntimeError("GET: %d %r" % (status, body[:80]))
        before = [h.counters()[0] for h in self.hosts]
        errs = []

        def worker():
            for _ in range(10):
                try:
                    st, b = self.http(cfg, "GET", "/app.fcgi")
                    if st != 200 or b != HELLO:
                        errs.append("%d %r" % (st, b[:40]))
                except OSError as e:
                    errs.append(str(e))

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(rp.HTTP_TIMEOUT)
        if errs:
            raise RuntimeError("concurrent GETs: %d failed, first: %s" % (
                len(errs), errs[0]))
        idle = [h.label() for h, b in zip(self.hosts, before)
                if h.counters()[0] == b]
        if idle:
            raise RuntimeError("no traffic from %s" % ", ".join(idle))

    # ---------------------------------------------------------- steady

    def shares(self, before):
        """Each host's share of the bytes it sent since before, in %."""
        d = [h.counters()[0] - b for h, b in zip(self.hosts, before)]
        total = sum(d)
        return [100.0 * x / total if total else 0.0 for x in d]

    def steady_one(self, name, conns, cfg):
        self.wrk(cfg, "hello", conns, self.args.warmup)
        before = [h.counters()[0] for h in self.hosts]
        cpu0 = rp.snapshot_cpu()
        r = self.wrk(cfg, "hello", conns, self.args.duration)
        r["shares"] = self.shares(before)
        hot = rp.foreign_since(cpu0, self.own_pids(), 1.0)
        r["foreign"] = sum(p for p, _ in hot)
        if "rps" in r:
            r["metric"] = r["rps"]
        return r, self.record((name, cfg.key), r)

    def pyload_one(self, name, cfg, kind="hello"):
        """The fault run's load generator in steady state at c16, to
        compare with wrk's hello_c16 of the same repetition (kind hello),
        or on the static file (its ceiling)."""
        out = os.path.join(self.tmp, "load", "steady-%s" % cfg.key)
        start = self.run_loadgen(cfg, FAULT_CONNS, self.args.duration, out,
                                 cfg.url_path(kind))
        if start is None:
            r = {"error": "load generator failed"}
        else:
            t, l, c, _ = read_load(out)
            r = summarise_load(t, l, c, start, self.args.duration)
        self.results.setdefault((name, cfg.key), []).append(r)
        return r

    def ceiling(self, cfg, rep):
        """The static file at c16, by wrk and by the load generator: how
        fast the generator can go when the server is not the limit."""
        w = self.wrk(cfg, "static", FAULT_CONNS, self.args.duration)
        self.results.setdefault(("wrk_static", cfg.key), []).append(w)
        p = self.pyload_one("pyload_static", cfg, "static")
        log("[rep %d/%d] static file /hello.txt at c%d on %s (the load "
            "generator's ceiling): wrk %s req/s, load generator %s req/s" % (
                rep + 1, self.args.reps, FAULT_CONNS, cfg.key,
                rp.fmt_num(w["rps"]) if "rps" in w else "FAILED",
                rp.fmt_num(p["rps"]) if "rps" in p else "FAILED"))

    def spawn_loadgen(self, cfg, conns, seconds, out, path="/app.fcgi"):
        """Starts loadgen() in a child process (on the client CPU, as this
        one); returns the monotonic time its load starts at."""
        start = time.monotonic() + LG_LEAD
        self.loadgen_proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--loadgen",
             str(cfg.port), path, str(conns), repr(start),
             repr(float(seconds)), out], start_new_session=True,
            stdin=subprocess.DEVNULL)
        return start

    def run_loadgen(self, cfg, conns, seconds, out, path="/app.fcgi"):
        """spawn_loadgen() and its end; None if it failed."""
        start = self.spawn_loadgen(cfg, conns, seconds, out, path)
        if not self.wait_loadgen(LG_LEAD + seconds + 15):
            return None
        return start

    def wait_loadgen(self, limit):
        p = self.loadgen_proc
        try:
            rc = p.wait(limit)
        except subprocess.TimeoutExpired:
            log("load generator hung: killing pid %d" % p.pid)
            p.kill()
            p.wait(5)
            rc = None
        self.loadgen_proc = None
        return rc == 0

    # ---------------------------------------------------------- faults

    def fault_run(self, cfg, rep):
        """FAULT_LEN s of hello at c16 with host 1 killed, restarted,
        blackholed and lifted on the timeline; returns the analysis."""
        h, port = self.hosts[0], cfg.app_port
        for other in self.hosts:
            got = wait_probe(other.addr, port, "ok")
            if got != "ok":
                raise RuntimeError("%s not healthy before the run: %s" % (
                    other.label(), got))
        # The member that failed last must be back in every balancer.
        settle = self.last_lift + FAIL_TIMEOUT + CONN_TIMEOUT + 1 \
            - time.monotonic()
        if settle > 0:
            time.sleep(settle)
        out = os.path.join(self.tmp, "load", "fault-%s-%d" % (cfg.key, rep))
        self.sampler.begin()
        cpu0 = rp.snapshot_cpu()
        start = self.spawn_loadgen(cfg, FAULT_CONNS, FAULT_LEN, out)
        events, notes = [], []

        def at(offset, what, action):
            delay = start + offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t = time.monotonic() - start
            try:
                res = action()
            except Exception as e:  # noqa: BLE001 - noted, run goes on
                res = "FAILED: %s" % e
                notes.append("%s at %.1f s: %s" % (what, t, e))
            events.append((t, what, res))

        try:
            at(KILL_AT, "kill host 1",
               lambda: (self.kill_host(h, cfg.key), "connect then: %s"
                        % wait_probe(h.addr, port, "refused", 1.0))[1])
            at(RESTART_AT, "restart host 1",
               lambda: (self.start_host(h, cfg), "accepting")[1])
            at(BLACKHOLE_AT, "blackhole host 1",
               lambda: (self.blackhole(h, True),
                        "connect then: %s" % probe(h.addr, port))[1])
            at(LIFT_AT, "lift blackhole",
               lambda: (self.blackhole(h, False), "connect then: %s"
                        % wait_probe(h.addr, port, "ok"))[1])
            good = self.wait_loadgen(start + FAULT_LEN + 20
                                     - time.monotonic())
        finally:
            self.stop_loadgen()
            samples = self.sampler.end()
            if h.blackholed:
                self.blackhole(h, False)
            self.last_lift = time.monotonic()
        hot = rp.foreign_since(cpu0, self.own_pids(), 1.0)
        for t, what, res in events:
            log("    %5.2f s  %-17s %s" % (t, what, res))
        for n in notes:
            self.fault_notes.append("%s rep %d: %s" % (cfg.key, rep + 1, n))
        if not h.pools.get(cfg.key):
            self.start_host(h, cfg)
        if not good:
            raise RuntimeError("the load generator failed")
        if sum(p for p, _ in hot) >= 20:
            self.contended.append(
                "fault run %s rep %d: other processes used %.0f%% CPU "
                "(most: %s)" % (cfg.key, rep + 1, sum(p for p, _ in hot),
                                hot[0][1][:60]))
        return analyse_fault(read_load(out), start, samples)

    # ---------------------------------------------------------- main

    def run(self):
        self.setup()
        for cfg in self.configs:
            try:
                self.start_config(cfg)
                self.verify(cfg)
                log("started %-16s port %d: checks passed (GET 13 B, all "
                    "3 hosts answer)" % (cfg.key, cfg.port))
            except Exception as e:  # noqa: BLE001 - report and go on
                cfg.failed = "start/verify: %s" % " | ".join(
                    x.strip() for x in str(e).splitlines() if x.strip())
                log("FAILED %s: %s" % (cfg.key, e))
        live = [c for c in self.configs if not c.failed]
        if not live:
            self.report()
            return
        for cfg in live:
            self.wrk(cfg, "hello", 16, 2)
        self.wait_idle()
        reps = self.args.reps
        log("\nsteady state: %d repetitions x %d workloads x %d configs, "
            "%d s warm-up + %d s each, then the load generator at c16"
            % (reps, len(STEADY), len(live), self.args.warmup,
               self.args.duration))
        for rep in range(reps):
            for wi, (name, conns) in enumerate(STEADY):
                for cfg in rp.in_turn(live, rep, wi, len(STEADY)):
                    r, problems = self.steady_one(name, conns, cfg)
                    log("[rep %d/%d] %-10s %-15s %s  hosts %s%s%s" % (
                        rep + 1, reps, name, cfg.key, fmt_steady(r),
                        "/".join("%.0f" % s for s in r["shares"]),
                        "  (other processes: %.0f%% CPU)" % r["foreign"]
                        if r["foreign"] >= 5 else "",
                        ("  !! " + problems) if problems else ""))
                    if r["foreign"] >= 20:
                        self.contended.append(
                            "rep %d %s %s: other processes used %.0f%% CPU"
                            % (rep + 1, name, cfg.key, r["foreign"]))
            shift = rep % len(live)
            for cfg in live[shift:] + live[:shift]:
                r = self.pyload_one("pyload_c16", cfg)
                log("[rep %d/%d] %-10s %-15s %s" % (
                    rep + 1, reps, "pyload_c16", cfg.key,
                    "load generator FAILED" if "rps" not in r else
                    "%8s req/s p50 %7.2f ms  p99 %8.2f ms  failed %d" % (
                        rp.fmt_num(r["rps"]), r["p50"], r["p99"],
                        r["failed"])))
            self.ceiling(live[0], rep)
        log("\nfault runs: %d repetitions x %d configs, %.0f s at c%d "
            "each: kill host 1 at %.0f s, restart %.0f s, blackhole %.0f s,"
            " lift %.0f s" % (reps, len(live), FAULT_LEN, FAULT_CONNS,
                              KILL_AT, RESTART_AT, BLACKHOLE_AT, LIFT_AT))
        for rep in range(reps):
            shift = rep % len(live)
            for cfg in live[shift:] + live[:shift]:
                log("[rep %d/%d] fault run %s" % (rep + 1, reps, cfg.key))
                try:
                    f = self.fault_run(cfg, rep)
                except Exception as e:  # noqa: BLE001
                    self.fault_notes.append("%s rep %d: %s" % (
                        cfg.key, rep + 1, e))
                    log("    FAILED: %s" % e)
                    continue
                self.faults.setdefault(cfg.key, []).append(f)
                log("    " + fmt_fault(f))
        self.report()

    # ---------------------------------------------------------- report

    def report(self):
        log("\n" + "=" * 78)
        log("RESULTS: medians of %d repetitions, %d s each (noise = "
            "(max-min)/median)" % (self.args.reps, self.args.duration))
        log("Apache %s, mpm_event 1 child x 128 threads; httpd and the %d x "
            "%d app processes on CPU %s, the load on CPU %s; hosts %s"
            % (rp.apache_version(), HOSTS, HOST_PROCS, rp.SERVER_CPU,
               rp.CLIENT_CPU, ", ".join(h.addr for h in self.hosts)))
        for cfg in self.configs:
            log("  %-15s %s%s" % (cfg.key, cfg.title,
                                  "  (FAILED: see below)" if cfg.failed
                                  else ""))
        live = [c for c in self.configs if not c.failed]
        summary = self.report_steady(live)
        fsum = self.report_faults(live)
        self.report_floors(summary, fsum)
        self.report_failures()

    def report_steady(self, live):
        summary = {}
        for name, _ in STEADY + [("pyload_c16", FAULT_CONNS)]:
            log("\n%s (req/s)%s" % (name, "  - the fault run's load "
                                    "generator, against wrk's hello_c16"
                                    if name == "pyload_c16" else ""))
            log("  %-15s %10s %7s %9s %9s %7s  %s" % (
                "config", "req/s", "noise", "p50 ms", "p99 ms", "errors",
                "host shares %" if name != "pyload_c16" else
                "/ wrk hello_c16"))
            for cfg in live:
                rs = [r for r in self.results.get((name, cfg.key), [])
                      if "rps" in r]
                if not rs:
                    continue
                m = rp.med([r["rps"] for r in rs])
                noise = (max(r["rps"] for r in rs)
                         - min(r["rps"] for r in rs)) / m if m else 0
                s = dict(m=m, noise=noise, p50=rp.med([r["p50"] for r in rs]),
                         p99=rp.med([r["p99"] for r in rs]),
                         errs=sum(r.get("nerr", r.get("failed", 0))
                                  for r in rs))
                summary[(name, cfg.key)] = s
                if name == "pyload_c16":
                    w = summary.get(("hello_c16", cfg.key))
                    extra = "%.2fx" % (m / w["m"]) if w and w["m"] else "-"
                else:
                    extra = "/".join("%.0f" % rp.med(
                        [r["shares"][i] for r in rs]) for i in range(HOSTS))
                log("  %-15s %10s %6.0f%% %9.3f %9.3f %7d  %s" % (
                    cfg.key, rp.fmt_num(m), 100 * noise, s["p50"], s["p99"],
                    s["errs"], extra))
            if name == "pyload_c16":
                self.report_ceiling(live, summary)
                continue
            for cfg in live:
                if cfg.ours and (name, cfg.pair) in summary \
                        and (name, cfg.key) in summary:
                    a, b = summary[(name, cfg.key)], summary[(name, cfg.pair)]
                    reps = [x["rps"] / y["rps"] for x, y in zip(
                        self.results[(name, cfg.key)],
                        self.results[(name, cfg.pair)])
                        if "rps" in x and "rps" in y and y["rps"]]
                    log("  %s / %s: %.2fx; per repetition: %s; p99 %.3f vs "
                        "%.3f ms" % (cfg.key, cfg.pair, a["m"] / b["m"],
                                     rp.fmt_rep_ratios(reps), a["p99"],
                                     b["p99"]))
        return summary

    def report_ceiling(self, live, summary):
        """The load generator's ceiling against the fault run's rates."""
        for cfg in live:
            w = [r["rps"] for r in self.results.get(("wrk_static", cfg.key),
                                                    []) if "rps" in r]
            p = [r["rps"] for r in self.results.get(
                ("pyload_static", cfg.key), []) if "rps" in r]
            if not w or not p or not rp.med(p):
                continue
            top = max(summary[("pyload_c16", c.key)]["m"] for c in live
                      if ("pyload_c16", c.key) in summary)
            log("  the load generator's ceiling (static /hello.txt at c%d "
                "from %s's httpd, median): %s req/s, wrk %s req/s; the "
                "fastest config above runs at %.0f%% of that ceiling" % (
                    FAULT_CONNS, cfg.key, rp.fmt_num(rp.med(p)),
                    rp.fmt_num(rp.med(w)), 100 * top / rp.med(p)))

    def report_faults(self, live):
        log("\nfault run: %.0f s of hello at c%d; host 1 killed (SIGKILL to"
            " its %d app processes) at %.0f s, restarted at %.0f s; "
            "blackholed (tc qdisc %s) at %.0f s, lifted at %.0f s"
            % (FAULT_LEN, FAULT_CONNS, HOST_PROCS, KILL_AT, RESTART_AT,
               " ".join(self.qdisc or ["?"]), BLACKHOLE_AT, LIFT_AT))
        log("Medians of the repetitions. failed = non-2xx + socket errors + "
            "timeouts (%.0f s), summed over the repetitions (per repetition"
            " in brackets). p99 and max by the window the request started "
            "in: pre 0-%.0f s, kill %.0f-%.0f s, bh (blackhole) %.0f-%.0f "
            "s. slow = requests that took >= %.0f s. min bin = the lowest "
            "%.1f s throughput during the fault / the pre-fault rate (%.0f-"
            "%.0f s). recover = s from the host's return until %.0f s of "
            "throughput reach %.0f%% of the pre-fault rate; h1 back = s "
            "until host 1 carries >= %.0f%% of its own pre-fault traffic "
            "(its veth's byte counters); never = not before the next event "
            "or the end." % (
                LG_TIMEOUT, KILL_AT, KILL_AT, RESTART_AT, BLACKHOLE_AT,
                LIFT_AT, SLOW, BIN, PRE[0], PRE[1], RECOVER_HOLD,
                100 * RECOVER, 100 * HOST_BACK))
        cols = [("req/s", "rps", rp.fmt_num),
                ("p99 pre ms", "p99_pre", fmt_p),
                ("p99 kill ms", "p99_kill", fmt_p),
                ("p99 bh ms", "p99_blackhole", fmt_p),
                ("max kill ms", "max_kill", fmt_p),
                ("max bh ms", "max_blackhole", fmt_p),
                ("slow", "slow", rp.fmt_num),
                ("min bin kill", "dip_kill", fmt_pct),
                ("min bin bh", "dip_blackhole", fmt_pct),
                ("recover restart s", "rec_restart", fmt_s),
                ("recover lift s", "rec_lift", fmt_s),
                ("h1 back restart s", "back_restart", fmt_s),
                ("h1 back lift s", "back_lift", fmt_s)]
        log("\n| config | failed | " + " | ".join(c[0] for c in cols) + " |")
        log("|---|---|" + "---|" * len(cols))
        fsum = {}
        for cfg in live:
            runs = self.faults.get(cfg.key)
            if not runs:
                continue
            s = {"failed": sum(f["failed"] for f in runs),
                 "failed_reps": [f["failed"] for f in runs],
                 "by_window": {}, "kinds": {}}
            for f in runs:
                for w, n in f["failed_by_window"].items():
                    s["by_window"][w] = s["by_window"].get(w, 0) + n
                for k, n in f["kinds"].items():
                    s["kinds"][k] = s["kinds"].get(k, 0) + n
            cells = []
            for _, key, fn in cols:
                vals = [f[key] for f in runs if f[key] is not None]
                s[key] = rp.med(vals) if vals else None
                cell = fn(s[key])
                if len(vals) < len(runs):
                    # a repetition never got there within its window
                    cell = "never" if not vals else "%s, never in %d/%d" % (
                        cell, len(runs) - len(vals), len(runs))
                cells.append(cell)
            fsum[cfg.key] = s
            log("| %s | %d (%s) | %s |" % (
                cfg.key, s["failed"], "/".join(str(x) for x in
                                               s["failed_reps"]),
                " | ".join(cells)))
        for cfg in live:
            if cfg.ours and cfg.key in fsum and cfg.pair in fsum:
                a, b = fsum[cfg.key], fsum[cfg.pair]
                log("| **%s / %s** | %d vs %d | %s |" % (
                    cfg.key, cfg.pair, a["failed"], b["failed"], " | ".join(
                        ratio(a[key], b[key]) if key in (
                            "rps", "p99_pre", "p99_kill", "p99_blackhole",
                            "max_kill", "max_blackhole")
                        else "" for _, key, _ in cols)))
        for cfg in live:
            s = fsum.get(cfg.key)
            if s and s["failed"]:
                log("  %s failures by window: %s; by kind: %s" % (
                    cfg.key, ", ".join("%s %d" % (w, n) for w, n in
                                       s["by_window"].items() if n),
                    ", ".join("%s %d" % (k, n) for k, n in
                              sorted(s["kinds"].items()))))
        return fsum

    def report_floors(self, summary, fsum):
        log("\nfloors (issue 14): ours against its peer")
        pairs = [c for c in self.configs if c.ours]
        for cfg in pairs:
            peer = next((c for c in self.configs if c.key == cfg.pair), None)
            if peer is None:
                continue
            if cfg.failed or peer.failed:
                bad = cfg if cfg.failed else peer
                log("  %s vs %s: NOT CHECKED, %s did not run (FAILED config "
                    "below)" % (cfg.key, peer.key, bad.key))
                continue
            log("  %s vs %s:" % (cfg.key, peer.key))
            for name, _ in STEADY:
                a, b = summary.get((name, cfg.key)), summary.get(
                    (name, peer.key))
                if not a or not b:
                    log("    %s req/s >= 1.0x peer: NOT MEASURED" % name)
                    continue
                r = a["m"] / b["m"]
                log("    %-40s %s  %s" % (
                    "%s req/s >= 1.0x peer:" % name, "%.3fx" % r,
                    verdict(r >= 1.0)))
            a, b = fsum.get(cfg.key), fsum.get(peer.key)
            if not a or not b:
                log("    fault run floors: NOT MEASURED (a fault run failed)")
                continue
            log("    %-40s %d  %s" % ("failed requests = 0:", a["failed"],
                                      verdict(a["failed"] == 0)))
            if a["failed"] == 0 and b["failed"] == 0:
                v = "TIE (both 0: none fewer; the = 0 floor holds)"
            else:
                v = verdict(a["failed"] < b["failed"])
            log("    %-40s %d vs %d  %s" % ("failed requests < peer's:",
                                            a["failed"], b["failed"], v))
            pa, pb = a["p99_blackhole"], b["p99_blackhole"]
            log("    %-40s %s vs %s ms  %s" % (
                "p99 during the blackhole <= peer's:", fmt_p(pa), fmt_p(pb),
                verdict(pa is not None and pb is not None and pa <= pb)))

    def report_failures(self):
        log("")
        bad = self.log_failed(self.configs)
        for note in self.fault_notes:
            bad = True
            log("fault run trouble: " + note)
        if self.blackhole_check:
            log("blackhole check: " + self.blackhole_check)
        for note in self.contended:
            log("contention: " + note)
        noted = False
        for cfg in self.configs:
            lines = rp.log_error_lines(cfg)
            if not noted and any("client abort" in t for _, t in lines):
                noted = True
                log("  (run_peers.py's \"client abort\" label: here the "
                    "resets and broken pipes also come from the app "
                    "processes killed at %.0f s)" % KILL_AT)
        if not bad:
            log("no failed configuration, no wrk errors, no fault-run "
                "trouble")

    # ---------------------------------------------------------- teardown

    def stop(self):
        """Stops everything this run started, by PID, and removes the
        qdiscs, veths and namespaces it made; each step is bounded and
        runs even when an earlier one failed."""
        steps = [self.stop_loadgen]
        steps += [lambda c=c: self.stop_httpd(c) for c in self.configs]
        steps += [lambda h=h: self.stop_host(h) for h in self.hosts]
        steps += [self.remove_network]
        if self.tmp:
            steps.append(self.sweep)
        rp.run_cleanup_steps(steps)
        if self.sampler:
            self.sampler.stop_ev.set()
        if self.tmp:
            failed = any(c.failed for c in self.configs) or self.errors \
                or self.fault_notes or self.crashed
            if self.args.keep or failed:
                log("run dir kept: %s" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def stop_loadgen(self):
        p = self.loadgen_proc
        if p is not None and p.poll() is None:
            p.kill()
            p.wait(5)
        self.loadgen_proc = None

    def stop_host(self, h):
        """SIGKILL to the app processes we started in h's namespace, then
        to any other process still in it (we made the namespace, so all of
        its processes are ours)."""
        for key in list(h.pools):
            self.kill_host(h, key)
        if h.ns not in self.netns:
            return
        out = run(["ip", "netns", "pids", h.ns], check=False)
        for pid in (int(x) for x in out.split()):
            log("leftover pid %d in %s: killing" % (pid, h.ns))
            rp.kill(pid, signal.SIGKILL)

    def remove_network(self):
        for veth in self.veths:
            if os.path.exists("/sys/class/net/" + veth):
                run(["ip", "link", "del", veth], check=False)
        self.veths = []
        for ns in self.netns:
            if os.path.exists("/run/netns/" + ns):
                run(["ip", "netns", "del", ns], check=False)
        left = [ns for ns in self.netns
                if os.path.exists("/run/netns/" + ns)]
        if left:
            log("cleanup: namespaces left: %s" % " ".join(left))
        self.netns = left


# ------------------------------------------------------------------ analysis

def analyse_fault(load, start, samples):
    """The figures of one fault run from the load generator's records and
    the veth samples."""
    starts, lats, codes, meta = load
    n = len(codes)
    rel = [starts[i] - start for i in range(n)]
    ends = [rel[i] + lats[i] for i in range(n)]
    f = {"inflight": meta["inflight"], "kinds": {}, "failed_by_window": {}}
    f["failed"] = sum(1 for c in codes if not ok(c))
    f["rps"] = sum(1 for c in codes if ok(c)) / FAULT_LEN
    for c in codes:
        if not ok(c):
            k = E_NAMES.get(c, "HTTP %d" % c)
            f["kinds"][k] = f["kinds"].get(k, 0) + 1
    for w, lo, hi in WINDOWS:
        idx = [i for i in range(n) if lo <= rel[i] < hi]
        f["failed_by_window"][w] = sum(1 for i in idx if not ok(codes[i]))
        f["p99_" + w] = 1e3 * pctl([lats[i] for i in idx], 99) if idx \
            else None
        f["max_" + w] = 1e3 * max(lats[i] for i in idx) if idx else None
    f["slow"] = sum(1 for x in lats if x >= SLOW)
    nbins = int(FAULT_LEN / BIN)
    bins = [0] * nbins
    for i in range(n):
        b = int(ends[i] / BIN)
        if ok(codes[i]) and 0 <= b < nbins:
            bins[b] += 1
    pre = sum(bins[int(PRE[0] / BIN):int(PRE[1] / BIN)]) / \
        (PRE[1] - PRE[0]) * BIN
    f["bins"] = bins
    f["pre_rate"] = pre / BIN
    f["dip_kill"] = min(bins[int(KILL_AT / BIN):int(RESTART_AT / BIN)]) / \
        pre if pre else None
    f["dip_blackhole"] = min(
        bins[int(BLACKHOLE_AT / BIN):int(LIFT_AT / BIN)]) / pre if pre \
        else None
    f["rec_restart"] = recovery(bins, pre, RESTART_AT, BLACKHOLE_AT)
    f["rec_lift"] = recovery(bins, pre, LIFT_AT, FAULT_LEN)
    hb = host_bins(samples, start, nbins)
    hpre = sum(hb[int(PRE[0] / BIN):int(PRE[1] / BIN)]) / \
        (PRE[1] - PRE[0]) * BIN
    f["back_restart"] = host_back(hb, hpre, RESTART_AT, BLACKHOLE_AT)
    f["back_lift"] = host_back(hb, hpre, LIFT_AT, FAULT_LEN)
    return f


def recovery(bins, pre, ret, limit):
    """Seconds from ret until the completions over RECOVER_HOLD s reach
    RECOVER of the pre-fault rate (pre is per bin); None if that does not
    happen before limit."""
    hold = int(RECOVER_HOLD / BIN)
    for b in range(int(ret / BIN), int(limit / BIN) - hold + 1):
        if sum(bins[b:b + hold]) >= RECOVER * pre * hold:
            return b * BIN - ret
    return None


def host_bins(samples, start, nbins):
    """Host 1's bytes (both directions) per BIN, from the samples."""
    out = [0] * nbins
    for (t0, v0), (t1, v1) in zip(samples, samples[1:]):
        b = int((t1 - start) / BIN)
        if 0 <= b < nbins:
            out[b] += v1[0] - v0[0]
    return out


def host_back(hb, hpre, ret, limit):
    for b in range(int(ret / BIN), int(limit / BIN)):
        if hpre and hb[b] >= HOST_BACK * hpre:
            return b * BIN - ret
    return None


# ------------------------------------------------------------------ format

def fmt_steady(r):
    if "rps" not in r:
        return "%-44s" % ("wrk FAILED: " + r.get("error", "?")[:32])
    return "%8s req/s p50 %7.2f ms  p99 %8.2f ms" % (
        rp.fmt_num(r["rps"]), r["p50"], r["p99"])


def fmt_fault(f):
    return ("%s req/s, failed %d (%s), p99 pre/kill/blackhole %s/%s/%s ms,"
            " max kill/blackhole %s/%s ms, %d slow, recovery after "
            "restart/lift %s/%s s, host 1 back %s/%s s%s" % (
                rp.fmt_num(f["rps"]), f["failed"], ", ".join(
                    "%s %d" % (w, n) for w, n in f["failed_by_window"].items()
                    if n) or "none", fmt_p(f["p99_pre"]),
                fmt_p(f["p99_kill"]), fmt_p(f["p99_blackhole"]),
                fmt_p(f["max_kill"]), fmt_p(f["max_blackhole"]), f["slow"],
                fmt_s(f["rec_restart"]), fmt_s(f["rec_lift"]),
                fmt_s(f["back_restart"]), fmt_s(f["back_lift"]),
                ", %d in flight at the end" % f["inflight"]
                if f["inflight"] else ""))


def fmt_p(x):
    return "-" if x is None else rp.fmt_ms(x)


def fmt_s(x):
    return "never" if x is None else "%.1f" % x


def fmt_pct(x):
    return "-" if x is None else "%.0f%%" % (100 * x)


def ratio(a, b):
    return "%.2fx" % (a / b) if a is not None and b else "-"


def verdict(passed):
    return "PASS" if passed else "BELOW"


# ------------------------------------------------------------------ main

def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--loadgen":
        port, path, conns, start, secs, out = sys.argv[2:8]
        loadgen(int(port), path, int(conns), float(start), float(secs), out)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int,
                    default=int(os.environ.get("BENCH_REPS", 3)))
    ap.add_argument("--duration", type=int,
                    default=int(os.environ.get("BENCH_DURATION", 3)),
                    help="measured seconds per steady run (whole seconds)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="REPS=1, D=2")
    ap.add_argument("--module",
                    default=os.path.join(TOP, ".libs", "mod_fastcgi_x.so"))
    ap.add_argument("--configs", nargs="*",
                    help="subset of: " + " ".join(c.key for c in CONFIGS))
    ap.add_argument("--no-idle-wait", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the run dir")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.duration = 1, 2
    if args.reps < 1 or args.duration < 1 or args.warmup < 1:
        ap.error("--reps, --duration and --warmup must be >= 1")
    if args.configs:
        unknown = set(args.configs) - {c.key for c in CONFIGS}
        if unknown:
            ap.error("unknown configs: %s" % " ".join(sorted(unknown)))
    if os.geteuid() != 0:
        ap.error("run as root (namespaces, tc, httpd's User %s)"
                 % rp.RUN_USER)
    if os.cpu_count() is None or os.cpu_count() < 2:
        ap.error("needs 2 CPUs (server on CPU 1, the load on CPU 0)")
    ours = [c for c in CONFIGS if c.ours and (not args.configs
                                              or c.key in args.configs)]
    if ours and not os.path.exists(args.module):
        ap.error("no module at %s: make -f Makefile.apxs" % args.module)
    for tool in ("wrk", "spawn-fcgi", "taskset", "cc", "ip", "tc"):
        if not shutil.which(tool):
            ap.error("%s not found" % tool)
    os.sched_setaffinity(0, {int(rp.CLIENT_CPU)})

    bench = Balance(args)
    if rp.run_guarded(bench) is not None:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
