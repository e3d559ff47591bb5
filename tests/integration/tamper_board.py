"""Driver for test_trust_board.py: run inside a new PID namespace
(unshare --pid --fork --mount-proc), as its process 1.

It starts httpd with a FastCgiServer pool, then writes into the shared
scoreboard what any process of httpd's User could write there: the PM's
pid (a bystander's pid, or -1: "every process"), class geometry out of
range, and a victim file's path as every slot's socket. Then it makes
the PM unbind a socket (an app is killed), restarts httpd gracefully,
writes the new generation's board again, and stops httpd.

Inside the namespace a signal that root sends to the wrong pid, even to
-1, reaches only this namespace's processes: the bystander, not the
machine. Prints one JSON object with what it saw; the test judges it.

usage: tamper_board.py WORKDIR bystander|all
"""

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conftest  # noqa: E402

SB_MAGIC = 0x46435842


class Head(ctypes.Structure):
    """fcgix_sb_head_t (fcgi_sb.h)."""
    _fields_ = [("magic", ctypes.c_uint32), ("nclasses", ctypes.c_uint32),
                ("nslots", ctypes.c_uint32), ("pm_pid", ctypes.c_uint32),
                ("pm_started_ms", ctypes.c_int64),
                ("waiting_new", ctypes.c_uint32),
                ("nholders", ctypes.c_uint32),
                ("ntenants", ctypes.c_uint32),
                ("nusers", ctypes.c_uint32)]


class Class(ctypes.Structure):
    """fcgix_sb_class_t (fcgi_sb.h)."""
    _fields_ = [("ready", ctypes.c_uint32), ("gen", ctypes.c_uint32),
                ("kind", ctypes.c_uint32),
                ("nslots", ctypes.c_uint32), ("first_slot", ctypes.c_uint32),
                ("more_wanted", ctypes.c_uint32),
                ("update_wanted", ctypes.c_uint32),
                ("freed", ctypes.c_uint32),
                ("more_tick_ms", ctypes.c_int64),
                ("mtime_s", ctypes.c_int64),
                ("failed_starts", ctypes.c_uint64),
                ("max_requests", ctypes.c_uint64),
                ("waiting", ctypes.c_uint32),
                ("capped", ctypes.c_uint32),
                ("key", ctypes.c_uint32 * 6),
                ("inode", ctypes.c_uint64),
                ("path", ctypes.c_char * 1024)]


class Slot(ctypes.Structure):
    """fcgix_sb_slot_t (fcgi_sb.h)."""
    _fields_ = [("lease", ctypes.c_uint64), ("pid", ctypes.c_int32),
                ("state", ctypes.c_uint32), ("retiring", ctypes.c_uint32),
                ("hung", ctypes.c_uint32), ("restarts", ctypes.c_uint32),
                ("started_ms", ctypes.c_int64),
                ("last_used_ms", ctypes.c_int64),
                ("backoff_until_ms", ctypes.c_int64),
                ("requests", ctypes.c_uint64),
                ("total_requests", ctypes.c_uint64),
                ("socket_path", ctypes.c_char * 108)]


def shared_mappings(pid):
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            fields = line.split()
            if fields[1] == "rw-s":
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                yield lo, hi


def find_board(pid):
    """Address of the board in pid's memory, or None. APR puts a small
    header of its own before the memory it hands out."""
    with open("/proc/%d/mem" % pid, "rb") as mem:
        for lo, _hi in shared_mappings(pid):
            mem.seek(lo)
            start = mem.read(64)
            for off in range(0, 64 - ctypes.sizeof(Head), 8):
                head = Head.from_buffer_copy(start, off)
                if head.magic == SB_MAGIC:
                    return lo + off
    return None


class Board:
    """The board of a live httpd, read and written through /proc/PID/mem
    (shared memory: what one process writes, all see)."""

    def __init__(self, pid, addr):
        self.pid, self.addr = pid, addr
        self.head = self._read(addr, Head)

    def _read(self, addr, kind):
        with open("/proc/%d/mem" % self.pid, "rb") as mem:
            mem.seek(addr)
            return kind.from_buffer_copy(mem.read(ctypes.sizeof(kind)))

    def _write(self, addr, obj):
        with open("/proc/%d/mem" % self.pid, "r+b", buffering=0) as mem:
            mem.seek(addr)
            mem.write(bytes(obj))

    def class_addr(self, c):
        return (self.addr + ctypes.sizeof(Head)
                + c * ctypes.sizeof(Class))

    def slot_addr(self, i):
        return self.class_addr(self.head.nclasses) + i * ctypes.sizeof(Slot)

    def set_pm_pid(self, value):
        head = self._read(self.addr, Head)
        head.pm_pid = value & 0xFFFFFFFF
        self._write(self.addr, head)

    def read_class(self, c):
        return self._read(self.class_addr(c), Class)

    def break_geometry(self, c):
        k = self.read_class(c)
        k.first_slot = 0xFFFFFF00
        k.nslots = 0x7FFFFFFF
        self._write(self.class_addr(c), k)

    def point_sockets_at(self, path):
        for i in range(self.head.nslots):
            s = self._read(self.slot_addr(i), Slot)
            s.socket_path = path.encode()
            self._write(self.slot_addr(i), s)


def alive(proc):
    return proc.poll() is None


def served(srv, timeout):
    def ok():
        try:
            return srv.get("/app.fcgi", timeout=5).status == 200
        except OSError:
            return False
    return bool(conftest.wait_for(ok, timeout, 0.2))


def app_pids(srv):
    out = []
    for pid, _started in conftest.descendants(srv.pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"app.fcgi" in f.read():
                    out.append(pid)
        except OSError:
            pass
    return out


def tamper(srv, pm_value, victim, seen):
    """Break the board's geometry and socket paths, make the PM unbind a
    socket, then write pm_value as the PM's pid (last, so that nothing
    the PM does in between writes its own pid back)."""
    board = Board(srv.pid, find_board(srv.pid))
    board.break_geometry(0)
    board.point_sockets_at(str(victim))
    statuses = []
    for _ in range(5):  # requests while the geometry is broken
        try:
            statuses.append(srv.get("/app.fcgi", timeout=10).status)
        except OSError as e:
            statuses.append(str(e))
    seen["statuses_while_broken"] = statuses
    pids = app_pids(srv)
    if pids:  # the PM unbinds the dead app's socket
        os.kill(pids[0], signal.SIGKILL)
    seen["served_after_tamper"] = served(srv, 15)
    seen["geometry_restored"] = board.read_class(0).first_slot == 0
    board.set_pm_pid(pm_value)


def main():
    workdir, mode = Path(sys.argv[1]), sys.argv[2]
    bystander = subprocess.Popen(["sleep", "600"])
    pm_value = bystander.pid if mode == "bystander" else -1
    victims = workdir / "victims"
    victims.mkdir()
    shutil.chown(victims, "www-data", "www-data")
    victim = victims / "victim"
    victim.write_text("keep me\n")
    seen = {"mode": mode}
    srv = conftest.Httpd(workdir / "httpd")
    app = srv.docroot / "app.fcgi"
    shutil.copy(conftest.RESPONDER, app)
    app.chmod(0o755)
    srv.extra_conf = "FastCgiServer %s -processes 2" % app
    try:
        srv.start()
        seen["served_at_start"] = served(srv, 15)
        tamper(srv, pm_value, victim, {})
        os.kill(srv.pid, signal.SIGUSR1)  # graceful restart
        time.sleep(1)
        seen["httpd_alive_after_graceful"] = alive(srv.proc)
        seen["bystander_alive_after_graceful"] = alive(bystander)
        seen["served_after_graceful"] = served(srv, 15)
        tamper(srv, pm_value, victim, seen)  # the new generation's board
        seen["rc_at_stop"] = srv.stop()
        seen["bystander_alive_after_stop"] = alive(bystander)
        seen["victim_kept"] = victim.exists()
        log = conftest.read_text(srv.error_log, 200000)
        seen["restored_logged"] = "were overwritten" in log
        # not a child the stop killed: mpm_event itself sometimes
        # segfaults there (conftest.Httpd.crash_lines())
        crash = srv.crash_lines() + [line for line in log.splitlines()
                                     if "died; starting a new one" in line]
        seen["crash_logged"] = bool(crash)
        seen["crash_lines"] = crash[:5]  # what a failure report shows
    finally:
        if srv.proc:
            srv.stop()
        bystander.kill()
        bystander.wait()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
