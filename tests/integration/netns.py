"""Network namespaces for the integration tests: each one a "host" joined
to the root namespace by a veth pair on a private /30, with the app
servers it runs and the faults a test injects there.

    with netns.Network(workdir) as net:
        a = net.responder()              # build/fcgi_responder in a new
        b = net.responder()              # namespace, on <its address>:9000
        conf = "FastCgiExternalServer %s -host %s -host %s" % (
            path, a.address, b.address)
        a.kill()                         # connects to a are refused
        b.ns.blackhole()                 # connects to b time out
        b.ns.restore()

Plain functions and classes; the test files wrap Network in a fixture.
Not collected by pytest (no test_ prefix). Needs root (ip, tc).

Addresses. A run (one pytest process) takes one 10.X.Y.0/24 derived from
its pid and not used by any address or route of the root namespace (nor
in 10.255.0.0/16, where this machine's resolver lives); namespace k of
the run gets 10.X.Y.(4k+1) on the root side and 10.X.Y.(4k+2) inside.
Names: namespace fcx<pid>n<k>, veth ends fcx<pid>r<k> (root) and
fcx<pid>s<k> (inside), at most 13 characters. Nothing that exists is
touched: `ip netns add` and `ip link add` fail on a name in use, and only
what this module created is deleted.

Faults, each with its undo, and what a client in the root namespace sees
(test_netns.py checks each with a plain socket):
  Member.kill()        SIGKILL to the app's process group: connect is
                       refused at once (RST). Member.start() again.
  Namespace.blackhole()  the inside end of the veth is set down: every
                       packet is dropped, both ways, so a connect times
                       out. The root side has a permanent neighbour entry
                       for the inside address, made when the namespace
                       is: without it the kernel gives up on ARP after
                       about 3 s and answers EHOSTUNREACH at once, which
                       is a refusal, not a blackhole. restore() undoes.
  Namespace.delay(ms)  tc netem delay on the inside end (both directions'
                       replies are late by ms). Needs sch_netem in the
                       kernel; raises Unavailable without it (this
                       machine's kernel has none: netem_available()).
  Namespace.throttle(kbit)  tc htb rate limit on the inside end's egress,
                       with a bucket smaller than one frame, so that every
                       packet waits for the previous one's bytes: a slow
                       link, and the fault the tests use for a slow member
                       where netem is missing (16 kbit/s: a small FastCGI
                       answer takes about 0.2 s, more under concurrency;
                       nothing is dropped, large frames included. tbf
                       would let a burst through at full speed, or drop
                       frames larger than its bucket).
  Namespace.clear_qdisc()  removes delay or throttle.

Processes run inside with `ip netns exec NS argv` (which execs argv, so
the pid is the app's) in a new session; they are stopped by that pid
(SIGTERM, bounded wait, then SIGKILL to the process group it leads), on
Network.close(), before the namespaces are deleted. Network.close() runs
in fixture teardown, so also when a test fails, and once more at exit for
any Network left open. Every wait is bounded.
"""

import atexit
import errno
import ipaddress
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import conftest

PREFIX = "fcx"
MAX_NAMESPACES = 64          # /30s in the run's /24
DEFAULT_PORT = 9000
CMD_TIMEOUT = 10.0           # any ip/tc command
READY_TIMEOUT = 10.0         # an app listening
GONE_TIMEOUT = 5.0           # a deleted namespace or veth disappearing
THROTTLE_KBIT = 16
THROTTLE_BURST = 100         # bytes: less than a frame, so no burst


class Unavailable(Exception):
    """The kernel lacks what a fault needs (sch_netem)."""


def sh(argv, timeout=CMD_TIMEOUT, check=True):
    """Run a short command; (returncode, output). check: raise, with the
    output, unless it succeeds."""
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv),
                                                 p.returncode, out.strip()))
    return p.returncode, out


# --- What exists -------------------------------------------------------------

def namespaces():
    """Names of the network namespaces `ip netns list` shows."""
    out = sh(["ip", "netns", "list"])[1]
    return sorted(line.split()[0] for line in out.splitlines()
                  if line.strip())


def links():
    """Names of the root namespace's network interfaces."""
    return sorted(os.listdir("/sys/class/net"))


def ours():
    """The prefix of every name this process gives (fcx<pid>)."""
    return "%s%d" % (PREFIX, os.getpid())


def snapshot():
    """(namespaces, links) whose names this process would give: to compare
    before and after a test. Only ours: other sessions on the machine may
    add or delete theirs meanwhile."""
    mine = ours()
    return ([n for n in namespaces() if n.startswith(mine + "n")],
            [n for n in links() if n.startswith(mine)])


def used_networks():
    """Every IPv4 network of an address or route in the root namespace."""
    nets = []
    for cmd in (["ip", "-4", "-o", "addr", "show"],
                ["ip", "-4", "route", "show", "table", "all"]):
        for line in sh(cmd)[1].splitlines():
            for word in line.split():
                if word[0].isdigit() and ("." in word):
                    try:
                        nets.append(ipaddress.ip_network(word, strict=False))
                    except ValueError:
                        pass
    return nets


def pick_block(pid=None):
    """This run's 10.X.Y.0/24: from the pid, the first free one after it."""
    pid = os.getpid() if pid is None else pid
    used = [n for n in used_networks() if n.prefixlen > 0]
    avoid = ipaddress.ip_network("10.255.0.0/16")
    for step in range(200 * 256):
        k = (pid + step) % (200 * 256)
        block = ipaddress.ip_network("10.%d.%d.0/24" % (32 + k // 256,
                                                         k % 256))
        if not block.overlaps(avoid) and not any(block.overlaps(n)
                                                 for n in used):
            return block
    raise RuntimeError("no free 10.X.Y.0/24 for the test namespaces")


# --- Reaching an address -----------------------------------------------------

def probe(host, port, timeout=1.0):
    """Connect from the root namespace: "connected", "refused", "timeout",
    "unreachable" or "error <errno name>"."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return "connected"
    except socket.timeout:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "unreachable"
        return "error %s" % errno.errorcode.get(e.errno, e.errno)
    finally:
        s.close()


# --- Processes in a namespace ------------------------------------------------

class NsProcess:
    """A process started in a namespace, in a session of its own."""

    def __init__(self, ns, argv, log_path, env=None):
        self.ns = ns
        self.argv = list(argv)
        self.log_path = Path(log_path)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", ns.name] + self.argv,
                stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True, env=env)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=conftest.STOP_TIMEOUT):
        """SIGTERM, bounded wait, then SIGKILL to its process group."""
        return conftest.stop_process(self.proc, timeout)

    def group_alive(self):
        """Any process of its group left (zombies included)."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self):
        """SIGKILL to its process group at once (the app and anything it
        forked, e.g. php-fpm's workers); reap it and wait (bounded) until
        the whole group is gone. php-fpm's workers share the listening
        socket: while one is still dying, connects succeed and are then
        reset, which is not the refusal a killed member should give."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            sys.stderr.write("pid %d did not die of SIGKILL\n" % self.pid)
        if not conftest.wait_for(lambda: not self.group_alive(), 5):
            sys.stderr.write("process group %d outlived SIGKILL\n"
                             % self.pid)
        return self.proc.returncode


# --- Namespaces --------------------------------------------------------------

class Namespace:
    """One network namespace joined to the root one by a veth pair.

    name, root_if, ns_if: names; root_ip: the root side's address; ip:
    the address inside, where its apps listen.
    """

    def __init__(self, index, block):
        self.index = index
        self.name = "%sn%d" % (ours(), index)
        self.root_if = "%sr%d" % (ours(), index)
        self.ns_if = "%ss%d" % (ours(), index)
        base = block.network_address + 4 * index
        self.root_ip = str(base + 1)
        self.ip = str(base + 2)
        self.created = []            # what to delete, as made
        self.processes = []
        self.blackholed = False
        self.qdisc = None

    def create(self):
        """Make the namespace and the veth pair; what was made is deleted
        by close() even if a later step fails."""
        assert max(len(self.name), len(self.root_if)) <= 15
        sh(["ip", "netns", "add", self.name])
        self.created.append("netns")
        sh(["ip", "link", "add", self.root_if, "type", "veth", "peer",
            "name", self.ns_if])
        self.created.append("veth")
        sh(["ip", "link", "set", self.ns_if, "netns", self.name])
        sh(["ip", "addr", "add", self.root_ip + "/30", "dev", self.root_if])
        sh(["ip", "link", "set", self.root_if, "up"])
        self.exec(["ip", "addr", "add", self.ip + "/30", "dev", self.ns_if])
        self.exec(["ip", "link", "set", self.ns_if, "up"])
        self.exec(["ip", "link", "set", "lo", "up"])
        mac = self.exec(["cat", "/sys/class/net/%s/address"
                         % self.ns_if])[1].strip()
        sh(["ip", "neigh", "replace", self.ip, "lladdr", mac, "dev",
            self.root_if, "nud", "permanent"])

    def exec(self, argv, timeout=CMD_TIMEOUT, check=True):
        """Run a short command inside; (returncode, output)."""
        return sh(["ip", "netns", "exec", self.name] + list(argv), timeout,
                  check)

    def run(self, argv, log_path, env=None):
        """Start a long-running process inside: an NsProcess, stopped on
        close()."""
        p = NsProcess(self, argv, log_path, env)
        self.processes.append(p)
        return p

    # --- faults ---

    def blackhole(self):
        """Drop every packet to and from this namespace: connects time
        out (the inside end of the veth goes down)."""
        self.exec(["ip", "link", "set", self.ns_if, "down"])
        self.blackholed = True

    def restore(self):
        """Undo blackhole()."""
        self.exec(["ip", "link", "set", self.ns_if, "up"])
        self.blackholed = False

    def delay(self, ms):
        """tc netem delay on the inside end; Unavailable without sch_netem
        in the kernel."""
        self.clear_qdisc()
        rc, out = self.exec(["tc", "qdisc", "add", "dev", self.ns_if, "root",
                             "netem", "delay", "%dms" % ms], check=False)
        if rc != 0:
            if "unknown" in out.lower():
                raise Unavailable("tc netem: %s" % out.strip())
            raise RuntimeError("tc netem delay: %s" % out.strip())
        self.qdisc = "netem"

    def throttle(self, kbit=THROTTLE_KBIT):
        """A slow link: tc htb sends what the namespace sends at kbit
        kbit/s, packet by packet (queued, not dropped)."""
        self.clear_qdisc()
        self.exec(["tc", "qdisc", "add", "dev", self.ns_if, "root", "handle",
                   "1:", "htb", "default", "1"])
        self.qdisc = "htb"
        self.exec(["tc", "class", "add", "dev", self.ns_if, "parent", "1:",
                   "classid", "1:1", "htb", "rate", "%dkbit" % kbit,
                   "burst", str(THROTTLE_BURST), "cburst",
                   str(THROTTLE_BURST)])

    def clear_qdisc(self):
        """Undo delay() or throttle()."""
        if self.qdisc:
            self.exec(["tc", "qdisc", "del", "dev", self.ns_if, "root"])
            self.qdisc = None

    # --- teardown ---

    def close(self):
        """Stop its processes, delete the veth pair and the namespace;
        wait (bounded) until both are gone. Idempotent. Returns a list of
        problems (empty when all went away)."""
        problems = []
        for p in self.processes:
            p.stop()
            if p.alive():
                problems.append("pid %d still runs" % p.pid)
        self.processes = []
        if "veth" in self.created:
            # Deleting one end deletes both at once; a namespace deleted
            # with its end inside would take the root end away only later.
            rc, out = sh(["ip", "link", "del", self.root_if], check=False)
            if rc != 0 and os.path.exists("/sys/class/net/" + self.root_if):
                problems.append("ip link del %s: %s" % (self.root_if, out))
        if "netns" in self.created:
            rc, out = sh(["ip", "netns", "del", self.name], check=False)
            if rc != 0 and self.name in namespaces():
                problems.append("ip netns del %s: %s" % (self.name, out))
        self.created = []
        gone = conftest.wait_for(
            lambda: self.name not in namespaces()
            and not os.path.exists("/sys/class/net/" + self.root_if),
            GONE_TIMEOUT)
        if not gone:
            problems.append("%s or %s still there" % (self.name,
                                                      self.root_if))
        return problems


def netem_available(ns):
    """True if tc netem works here (tried, then removed, on ns)."""
    try:
        ns.delay(1)
    except Unavailable:
        return False
    ns.clear_qdisc()
    return True


# --- App servers -------------------------------------------------------------

class Member:
    """An app server in a namespace, listening on ns.ip:port; one member
    of a FastCgiExternalServer. argv: its command line (started with
    start()); name: for logs and reports."""

    def __init__(self, ns, port, argv, log_path, name):
        self.ns = ns
        self.port = port
        self.argv = argv
        self.log_path = Path(log_path)
        self.name = name
        self.proc = None
        self.pids = set()            # every pid it ran as (restarts too)

    @property
    def address(self):
        """ip:port, for -host."""
        return "%s:%d" % (self.ns.ip, self.port)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=READY_TIMEOUT):
        """Start (or restart) the app; wait until it takes connections."""
        assert self.proc is None or not self.proc.alive(), "already running"
        self.proc = self.ns.run(self.argv, self.log_path)
        self.pids.add(self.proc.pid)
        up = conftest.wait_for(
            lambda: not self.proc.alive()
            or probe(self.ns.ip, self.port, 0.5) == "connected", timeout)
        if not up or not self.proc.alive():
            self.proc.stop()
            raise RuntimeError("%s did not listen on %s:\n%s" % (
                self.name, self.address, conftest.read_text(self.log_path)))
        return self

    def kill(self):
        """SIGKILL the app: connects to address are refused from now on
        (checked)."""
        self.proc.kill()
        if not conftest.wait_for(
                lambda: probe(self.ns.ip, self.port, 0.5) == "refused", 5):
            raise RuntimeError("%s killed, but %s does not refuse: %s" % (
                self.name, self.address, probe(self.ns.ip, self.port)))

    def stop(self):
        if self.proc:
            self.proc.stop()

    def log_sections(self):
        return [("%s (%s) log" % (self.name, self.address),
                 conftest.read_text(self.log_path))]


class Network:
    """The namespaces and apps of one test; a context manager whose exit
    (or close()) deletes all of it."""

    _open = []

    def __init__(self, workdir, track=None):
        if os.geteuid() != 0:
            raise RuntimeError("network namespaces need root (ip netns, "
                               "ip link, tc)")
        self.workdir = Path(workdir)
        self.track = track           # called with each new Member
        self.block = pick_block()
        self.spaces = []
        self.members = []
        Network._open.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def namespace(self):
        """A new namespace (index: the lowest one no live Network of this
        process uses)."""
        taken = {ns.index for net in Network._open for ns in net.spaces}
        free = [i for i in range(MAX_NAMESPACES) if i not in taken]
        if not free:
            raise RuntimeError("more than %d namespaces" % MAX_NAMESPACES)
        ns = Namespace(free[0], self.block)
        self.spaces.append(ns)
        ns.create()
        return ns

    def member(self, argv_of, name, port=DEFAULT_PORT, ns=None, start=True):
        """A Member in ns (a new namespace by default); argv_of(ns, port)
        gives its command line."""
        ns = ns or self.namespace()
        m = Member(ns, port, argv_of(ns, port),
                   self.workdir / ("%s.log" % name), name)
        self.members.append(m)
        if self.track:
            self.track(m)
        return m.start() if start else m

    def responder(self, port=DEFAULT_PORT, ns=None, start=True):
        """build/fcgi_responder listening on <ns ip>:port."""
        if not conftest.RESPONDER.exists():
            raise RuntimeError("%s does not exist: %s" % (
                conftest.RESPONDER, conftest.BUILD_HINT))
        return self.member(
            lambda ns, port: [str(conftest.RESPONDER),
                              "%s:%d" % (ns.ip, port)],
            "responder%d" % len(self.members), port, ns, start)

    def php_fpm(self, env=None, port=DEFAULT_PORT, ns=None, start=True,
                children=2):
        """A private php-fpm (pm static, `children` workers, as www-data
        when root) listening on <ns ip>:port; env: NAME -> value for its
        workers (env[NAME] in the pool), and MEMBER, the member's name."""
        if conftest.PHP_FPM is None:
            raise RuntimeError("php-fpm is not installed")
        name = "php-fpm%d" % len(self.members)
        env = dict(env or {}, MEMBER=name)

        def argv_of(ns, port):
            conf = self.workdir / ("%s.conf" % name)
            lines = ["[global]",
                     "pid = %s" % (self.workdir / ("%s.pid" % name)),
                     "error_log = %s" % (self.workdir / ("%s.err" % name)),
                     "daemonize = no",
                     "[m]",
                     "listen = %s:%d" % (ns.ip, port),
                     "pm = static",
                     "pm.max_children = %d" % children]
            if os.geteuid() == 0:
                lines += ["user = www-data", "group = www-data"]
            lines += ["env[%s] = %s" % kv for kv in sorted(env.items())]
            conf.write_text("\n".join(lines) + "\n")
            return [conftest.PHP_FPM, "-F", "-y", str(conf)]

        return self.member(argv_of, name, port, ns, start)

    def close(self):
        """Stop every app, delete every namespace and veth; raise if
        anything is left."""
        problems = []
        for m in self.members:
            m.stop()
        for ns in self.spaces:
            problems += ns.close()
        self.spaces, self.members = [], []
        if self in Network._open:
            Network._open.remove(self)
        if problems:
            raise RuntimeError("network teardown: " + "; ".join(problems))


@atexit.register
def _close_leftovers():
    for net in list(Network._open):
        try:
            net.close()
        except Exception as e:          # at exit: report, do not raise
            sys.stderr.write("netns cleanup at exit: %s\n" % e)
