#!/usr/bin/env python3
"""A FastCGI backend that misbehaves on purpose (Python 3 stdlib only).

Usage:
    evil_backend.py --listen 127.0.0.1:PORT|/path/to.sock --mode MODE
                    [--port-file FILE] [--timeout SECONDS]

It reads one request (BEGIN_REQUEST, PARAMS to the empty record, STDIN to
the empty record), remembers the request id, then answers with records
packed by hand according to MODE. A request whose QUERY_STRING contains
"mode=NAME" uses that mode instead, so one backend can serve several cases.
With port 0, the chosen port is written to --port-file (atomically).
SIGTERM stops it cleanly. --list prints the modes.

Run by a process manager (no --listen, a listening socket on fd 0, as
FastCgiServer starts an app), it accepts there. It logs each
FCGI_GET_VALUES it gets.

The well-formed answer (mode "ok") is
    Status: 200 OK / Content-Type: text/plain / X-Evil-Mode: MODE /
    X-Stdin-Length: N, a blank line, then BODY,
so every mode that claims to be correct can be compared against it.
"""

import argparse
import os
import signal
import socket
import stat
import struct
import sys
import threading
import time
import urllib.parse

VERSION_1 = 1
BEGIN_REQUEST = 1
ABORT_REQUEST = 2
END_REQUEST = 3
PARAMS = 4
STDIN = 5
STDOUT = 6
STDERR = 7
GET_VALUES = 9
GET_VALUES_RESULT = 10
KEEP_CONN = 1
REQUEST_COMPLETE = 0
OVERLOADED = 2

HEADER = struct.Struct(">BBHHBx")
MAX_CONTENT = 65535
BODY = b"hello from the evil backend\n"
OVERSIZE = 1 << 20
MAX_CONNECTIONS = 64
MAX_STDIN_KEPT = 1 << 20
HANG_SECONDS = 60.0

stopping = threading.Event()


def log(msg):
    sys.stderr.write("evil_backend[%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()


# --- record packing -------------------------------------------------------

def rec(rtype, rid, content=b"", padding=0, version=VERSION_1):
    return (HEADER.pack(version, rtype, rid, len(content), padding)
            + content + b"\0" * padding)


def stream(rtype, rid, data, padding=0, version=VERSION_1, eof=True):
    out = [rec(rtype, rid, data[i:i + MAX_CONTENT], padding, version)
           for i in range(0, len(data), MAX_CONTENT)]
    if eof:
        out.append(rec(rtype, rid, b"", padding, version))
    return b"".join(out)


def end_request(rid, app_status=0, proto=REQUEST_COMPLETE, padding=0,
                version=VERSION_1):
    return rec(END_REQUEST, rid, struct.pack(">IB3x", app_status, proto),
               padding, version)


def cgi_headers(req, mode):
    return (b"Status: 200 OK\r\nContent-Type: text/plain\r\n"
            + b"X-Evil-Mode: " + mode.encode() + b"\r\n"
            + b"X-Stdin-Length: " + str(req.stdin_len).encode()
            + b"\r\n\r\n")


def response(req, mode, rid=None, padding=0, version=VERSION_1,
             app_status=0):
    """The complete well-formed answer, optionally distorted."""
    rid = req.rid if rid is None else rid
    return (stream(STDOUT, rid, cgi_headers(req, mode) + BODY, padding,
                   version)
            + end_request(rid, app_status, REQUEST_COMPLETE, padding,
                          version))


# --- reading the request ---------------------------------------------------

class Request:
    def __init__(self):
        self.rid = None
        self.role = None
        self.flags = 0
        self.params = {}
        self.stdin = bytearray()
        self.stdin_len = 0

    @property
    def keep_conn(self):
        return bool(self.flags & KEEP_CONN)

    def query_mode(self):
        qs = self.params.get(b"QUERY_STRING", b"").decode("latin-1")
        values = urllib.parse.parse_qs(qs).get("mode")
        return values[-1] if values else None


def recv_exact(conn, n, deadline):
    buf = bytearray()
    while len(buf) < n:
        if time.monotonic() > deadline:
            raise TimeoutError("request not complete in time")
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_record(conn, deadline):
    head = recv_exact(conn, HEADER.size, deadline)
    if head is None:
        return None
    version, rtype, rid, clen, plen = HEADER.unpack(head)
    body = recv_exact(conn, clen + plen, deadline)
    if body is None:
        return None
    return version, rtype, rid, body[:clen]


def decode_pairs(data):
    pairs, pos = {}, 0

    def length():
        nonlocal pos
        if data[pos] < 128:
            pos += 1
            return data[pos - 1]
        pos += 4
        return struct.unpack(">I", data[pos - 4:pos])[0] & 0x7fffffff

    while pos < len(data):
        nlen = length()
        vlen = length()
        pairs[data[pos:pos + nlen]] = data[pos + nlen:pos + nlen + vlen]
        pos += nlen + vlen
    return pairs


def encode_pair(name, value):
    return struct.pack(">BB", len(name), len(value)) + name + value


def answer_get_values(conn, content):
    log("FCGI_GET_VALUES")
    known = {b"FCGI_MAX_CONNS": b"%d" % MAX_CONNECTIONS,
             b"FCGI_MAX_REQS": b"%d" % MAX_CONNECTIONS,
             b"FCGI_MPXS_CONNS": b"0"}
    out = b"".join(encode_pair(n, known[n]) for n in decode_pairs(content)
                   if n in known)
    conn.sendall(rec(GET_VALUES_RESULT, 0, out))


def read_request(conn, timeout):
    """A complete request, or None if the peer closed or aborted."""
    deadline = time.monotonic() + timeout
    req, params, params_done = Request(), bytearray(), False
    while True:
        r = read_record(conn, deadline)
        if r is None:
            return None
        _version, rtype, rid, content = r
        if rtype == GET_VALUES and rid == 0:
            answer_get_values(conn, content)
        elif rtype == BEGIN_REQUEST and len(content) == 8:
            req.rid = rid
            req.role, req.flags = struct.unpack(">HB5x", content)
        elif rtype == ABORT_REQUEST:
            log("ABORT_REQUEST for id %d" % rid)
            return None
        elif rtype == PARAMS and not params_done:
            params += content
            if not content:
                params_done = True
                req.params = decode_pairs(bytes(params))
        elif rtype == STDIN:
            req.stdin_len += len(content)
            if len(req.stdin) < MAX_STDIN_KEPT:
                req.stdin += content
            if not content and params_done and req.rid is not None:
                return req
        else:
            log("ignoring record type %d id %d" % (rtype, rid))


# --- modes ------------------------------------------------------------------
# Each mode sends its answer and returns True if the connection may carry
# another request (when the server asked for FCGI_KEEP_CONN).

def mode_ok(conn, req, name):
    conn.sendall(response(req, name))
    return True


def mode_byte_by_byte(conn, req, name):
    data = response(req, name)
    for i in range(len(data)):
        conn.sendall(data[i:i + 1])
        time.sleep(0.002)
    return True


def mode_padding255(conn, req, name):
    conn.sendall(response(req, name, padding=255))
    return True


def mode_stderr_interleaved(conn, req, name):
    rid, half = req.rid, len(BODY) // 2
    conn.sendall(rec(STDERR, rid, b"evil stderr one\n")
                 + rec(STDOUT, rid, cgi_headers(req, name))
                 + rec(STDERR, rid, b"evil stderr two\n")
                 + rec(STDOUT, rid, BODY[:half])
                 + rec(STDERR, rid, b"evil stderr three\n")
                 + rec(STDOUT, rid, BODY[half:])
                 + rec(STDERR, rid)
                 + rec(STDOUT, rid)
                 + end_request(rid))
    return True


def mode_bad_version(conn, req, name):
    conn.sendall(response(req, name, version=2))
    return False


def mode_wrong_request_id(conn, req, name):
    other = req.rid + 1 if req.rid < 0xffff else 1
    conn.sendall(response(req, name, rid=other))
    return False


def mode_end_before_stdout_eof(conn, req, name):
    conn.sendall(stream(STDOUT, req.rid, cgi_headers(req, name) + BODY,
                        eof=False)
                 + end_request(req.rid))
    return False


def mode_close_before_end(conn, req, name):
    conn.sendall(stream(STDOUT, req.rid, cgi_headers(req, name) + BODY))
    return False


def mode_oversize_headers(conn, req, name):
    line = b"X-Filler-%06d: " + b"f" * 1000 + b"\r\n"
    block, i = bytearray(), 0
    while len(block) < OVERSIZE:
        block += line % i
        i += 1
    del block[OVERSIZE:]
    # no blank line: the header block never ends
    conn.sendall(stream(STDOUT, req.rid, bytes(block)) + end_request(req.rid))
    return False


def mode_stdout_after_end(conn, req, name):
    conn.sendall(response(req, name)
                 + rec(STDOUT, req.rid, b"stdout after END_REQUEST\n"))
    return False


def mode_overloaded(conn, req, name):
    conn.sendall(end_request(req.rid, 0, OVERLOADED))
    return False


def mode_unknown_type(conn, req, name):
    conn.sendall(rec(42, req.rid, b"what is this") + response(req, name))
    return False


def mode_app_status(conn, req, name):
    conn.sendall(response(req, name, app_status=3))
    return True


def mode_hang(conn, req, name):
    """Never answer; wait (bounded) until the server gives up."""
    conn.settimeout(0.5)
    deadline = time.monotonic() + HANG_SECONDS
    while time.monotonic() < deadline and not stopping.is_set():
        try:
            if not conn.recv(65536):
                break
        except socket.timeout:
            continue
    return False


inflight = {"now": 0, "max": 0}
inflight_lock = threading.Lock()


def mode_inflight(conn, req, name):
    """Answer after 300 ms with how many requests this process had in
    flight at most so far ("inflight=N")."""
    with inflight_lock:
        inflight["now"] += 1
        inflight["max"] = max(inflight["max"], inflight["now"])
    time.sleep(0.3)
    with inflight_lock:
        top = inflight["max"]
        inflight["now"] -= 1
    body = b"inflight=%d\n" % top
    conn.sendall(stream(STDOUT, req.rid, b"Content-Type: text/plain\r\n\r\n"
                        + body) + end_request(req.rid))
    return True


MODES = {
    "ok": mode_ok,
    "inflight": mode_inflight,
    "byte-by-byte": mode_byte_by_byte,
    "padding255": mode_padding255,
    "stderr-interleaved": mode_stderr_interleaved,
    "bad-version": mode_bad_version,
    "wrong-request-id": mode_wrong_request_id,
    "end-before-stdout-eof": mode_end_before_stdout_eof,
    "close-before-end": mode_close_before_end,
    "oversize-headers": mode_oversize_headers,
    "stdout-after-end": mode_stdout_after_end,
    "overloaded": mode_overloaded,
    "unknown-type": mode_unknown_type,
    "app-status": mode_app_status,
    "hang": mode_hang,
}


# --- serving ----------------------------------------------------------------

def close_gracefully(conn):
    """FIN, not RST: drain what the peer still sends, bounded, then close."""
    try:
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(0.2)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


def serve_connection(conn, default_mode, timeout, slots):
    try:
        conn.settimeout(timeout)
        if conn.family != socket.AF_UNIX:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while not stopping.is_set():
            req = read_request(conn, timeout)
            if req is None:
                break
            name = req.query_mode()
            if name not in MODES:
                name = default_mode
            log("request id %d mode %s stdin %d bytes"
                % (req.rid, name, req.stdin_len))
            again = MODES[name](conn, req, name)
            if not (again and req.keep_conn):
                break
    except (OSError, TimeoutError, struct.error, IndexError) as e:
        log("connection ended: %r" % (e,))
    finally:
        close_gracefully(conn)
        slots.release()


def open_listener(where):
    if where is None:  # run by a process manager: fd 0 listens
        return socket.socket(fileno=0)
    if where.startswith("/"):
        if os.path.exists(where):
            os.unlink(where)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(where)
        os.chmod(where, 0o777)
    else:
        host, _, port = where.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
    sock.listen(64)
    return sock


def write_port_file(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default=None)
    ap.add_argument("--mode", default="ok", choices=sorted(MODES))
    ap.add_argument("--port-file")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.listen is None and not stat.S_ISSOCK(os.fstat(0).st_mode):
        args.listen = "127.0.0.1:0"
    if args.list:
        print("\n".join(sorted(MODES)))
        return 0

    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    lsock = open_listener(args.listen)
    if lsock.family == socket.AF_INET and args.port_file:
        write_port_file(args.port_file, lsock.getsockname()[1])
    log("listening on %s, mode %s" % (lsock.getsockname(), args.mode))
    lsock.settimeout(0.2)
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    try:
        while not stopping.is_set():
            try:
                conn, _ = lsock.accept()
            except (socket.timeout, InterruptedError):
                continue
            if not slots.acquire(blocking=False):
                log("too many connections, closing one")
                conn.close()
                continue
            threading.Thread(target=serve_connection, daemon=True,
                             args=(conn, args.mode, args.timeout,
                                   slots)).start()
    finally:
        lsock.close()
        if (args.listen and args.listen.startswith("/")
                and os.path.exists(args.listen)):
            os.unlink(args.listen)
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
