"""A small FastCGI 1.0 client (Python 3 stdlib only) for testing backends.

It talks to a responder directly, without httpd, so that the test backends
(tests/apps) can be checked before they are used as oracles for the module.

    from fcgi_client import request, cgi_params, parse_cgi
    res = request("/tmp/x.sock", cgi_params(query="echo"), stdin=b"abc")
    assert res.ok and res.stdout.endswith(b"abc")

The request body is written while the response is read (one selector loop),
so an application that echoes stdin while still reading it cannot deadlock
the client. Every wait is bounded by the overall ``timeout``.

The reader is strict: any defect (bad version, wrong request id, unexpected
record type, bad END_REQUEST length, END_REQUEST before the empty STDOUT
record, bytes after END_REQUEST, close before END_REQUEST, timeout) sets
``Result.error``; parsing stops at the first defect in the record stream,
and everything received before it stays available.
"""

import collections
import selectors
import socket
import struct
import time

VERSION_1 = 1
BEGIN_REQUEST = 1
ABORT_REQUEST = 2
END_REQUEST = 3
PARAMS = 4
STDIN = 5
STDOUT = 6
STDERR = 7
DATA = 8
GET_VALUES = 9
GET_VALUES_RESULT = 10
UNKNOWN_TYPE = 11

RESPONDER = 1
AUTHORIZER = 2
FILTER = 3
KEEP_CONN = 1

REQUEST_COMPLETE = 0
CANT_MPX_CONN = 1
OVERLOADED = 2
UNKNOWN_ROLE = 3

HEADER_FMT = ">BBHHBx"
HEADER_LEN = 8
MAX_CONTENT = 65535

RecordHeader = collections.namedtuple(
    "RecordHeader", "version type request_id content_length padding_length")


class Result:
    """What came back from one request."""

    def __init__(self):
        self.stdout = b""
        self.stderr = b""
        self.app_status = None
        self.protocol_status = None
        self.records = []          # RecordHeader of every record seen
        self.ended = False         # END_REQUEST seen
        self.stdout_eof = False    # empty STDOUT record seen
        self.stderr_eof = False    # empty STDERR record seen
        self.closed = False        # peer closed the connection
        self.error = None          # first defect, or None
        self.write_error = None    # sending the request failed
        self.elapsed = 0.0
        self.first_stdout_at = None  # seconds from start to first STDOUT

    @property
    def ok(self):
        return self.error is None and self.ended

    def types(self):
        return [h.type for h in self.records]

    def __repr__(self):
        return ("Result(error=%r, ended=%r, app_status=%r, "
                "protocol_status=%r, stdout=%d bytes, stderr=%r, "
                "records=%d)" % (self.error, self.ended, self.app_status,
                                 self.protocol_status, len(self.stdout),
                                 self.stderr[:200], len(self.records)))


def pack_record(rtype, request_id, content=b"", padding=0, version=VERSION_1):
    """One record; content must fit in 65535 bytes, padding in 255."""
    if len(content) > MAX_CONTENT or not 0 <= padding <= 255:
        raise ValueError("record too large")
    return (struct.pack(HEADER_FMT, version, rtype, request_id,
                        len(content), padding) + content + b"\0" * padding)


def pack_stream(rtype, request_id, data, size=MAX_CONTENT):
    """data split into records of at most size bytes, plus the empty one."""
    out = [pack_record(rtype, request_id, data[i:i + size])
           for i in range(0, len(data), size)]
    out.append(pack_record(rtype, request_id))
    return b"".join(out)


def encode_length(n):
    if n < 128:
        return struct.pack(">B", n)
    if n > 0x7fffffff:
        raise ValueError("name or value too long")
    return struct.pack(">I", n | 0x80000000)


def encode_pair(name, value):
    if isinstance(name, str):
        name = name.encode("latin-1")
    if isinstance(value, str):
        value = value.encode("latin-1")
    return encode_length(len(name)) + encode_length(len(value)) + name + value


def decode_pairs(data):
    """Inverse of encode_pair over a whole buffer; returns a list of pairs."""
    pairs, pos = [], 0

    def length():
        nonlocal pos
        if data[pos] < 128:
            pos += 1
            return data[pos - 1]
        n = struct.unpack(">I", data[pos:pos + 4])[0] & 0x7fffffff
        pos += 4
        return n

    while pos < len(data):
        nlen = length()
        vlen = length()
        name = data[pos:pos + nlen]
        value = data[pos + nlen:pos + nlen + vlen]
        if len(name) != nlen or len(value) != vlen:
            raise ValueError("truncated name-value pair")
        pos += nlen + vlen
        pairs.append((name, value))
    return pairs


def pack_params(request_id, params, size=MAX_CONTENT):
    """PARAMS records holding whole pairs, then the empty PARAMS record."""
    items = params.items() if hasattr(params, "items") else params
    records, cur = [], b""
    for name, value in items:
        pair = encode_pair(name, value)
        if len(pair) > size:
            raise ValueError("pair larger than one record: %r" % (name,))
        if len(cur) + len(pair) > size:
            records.append(pack_record(PARAMS, request_id, cur))
            cur = b""
        cur += pair
    if cur:
        records.append(pack_record(PARAMS, request_id, cur))
    records.append(pack_record(PARAMS, request_id))
    return b"".join(records)


def cgi_params(query="", method="GET", script="/app.fcgi", path_info="",
               body_len=None, extra=None):
    """A plausible CGI/1.1 environment for a direct request."""
    params = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "fcgi_client",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "REQUEST_URI": script + path_info + ("?" + query if query else ""),
    }
    if body_len is not None:
        params["CONTENT_LENGTH"] = str(body_len)
        params["CONTENT_TYPE"] = "application/octet-stream"
    if extra:
        params.update(extra)
    return params


def parse_cgi(stdout):
    """Split a CGI response into (headers, body).

    headers maps lower-case names to a value, or to a list of values when a
    name repeats. Returns (None, stdout) when no blank line ends a header
    block.
    """
    found = [(stdout.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n")]
    found = [f for f in found if f[0] >= 0]
    if not found:
        return None, stdout
    idx, sep = min(found)
    headers = {}
    for line in stdout[:idx].replace(b"\r\n", b"\n").split(b"\n"):
        name, _, value = line.partition(b":")
        key = name.strip().lower().decode("latin-1")
        headers.setdefault(key, []).append(value.strip().decode("latin-1"))
    headers = {k: v[0] if len(v) == 1 else v for k, v in headers.items()}
    return headers, stdout[idx + len(sep):]


def connect(address, timeout=10.0):
    """address: "/unix/path", "host:port" or a (host, port) tuple."""
    if isinstance(address, tuple):
        sock = socket.create_connection(address, timeout=timeout)
    elif address.startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
    else:
        host, _, port = address.rpartition(":")
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    return sock


class _Parser:
    """Incremental record parser feeding a Result."""

    def __init__(self, res, request_id):
        self.res = res
        self.rid = request_id
        self.buf = bytearray()
        self.stdout = bytearray()
        self.stderr = bytearray()

    def feed(self, data, now):
        self.buf += data
        pos = 0
        while self.res.error is None and len(self.buf) - pos >= HEADER_LEN:
            hdr = RecordHeader(*struct.unpack_from(HEADER_FMT, self.buf, pos))
            self.res.records.append(hdr)
            if not self._check_header(hdr):
                break
            total = HEADER_LEN + hdr.content_length + hdr.padding_length
            if len(self.buf) - pos < total:
                self.res.records.pop()   # re-added once complete
                break
            start = pos + HEADER_LEN
            content = bytes(self.buf[start:start + hdr.content_length])
            pos += total
            self._record(hdr, content, now)
        del self.buf[:pos]

    def finish(self):
        self.res.stdout = bytes(self.stdout)
        self.res.stderr = bytes(self.stderr)

    def _check_header(self, hdr):
        res = self.res
        if res.ended:
            res.error = "record after END_REQUEST (type %d)" % hdr.type
        elif hdr.version != VERSION_1:
            res.error = "bad version %d" % hdr.version
        elif hdr.request_id != self.rid:
            res.error = "wrong request id %d (expected %d)" % (
                hdr.request_id, self.rid)
        elif hdr.type not in (STDOUT, STDERR, END_REQUEST):
            res.error = "unexpected record type %d" % hdr.type
        elif hdr.type == END_REQUEST and hdr.content_length != 8:
            res.error = "END_REQUEST content length %d" % hdr.content_length
        return res.error is None

    def _record(self, hdr, content, now):
        res = self.res
        if hdr.type == STDOUT:
            if res.stdout_eof:
                res.error = "STDOUT data after STDOUT end"
            elif not content:
                res.stdout_eof = True
            else:
                if res.first_stdout_at is None:
                    res.first_stdout_at = now
                self.stdout += content
        elif hdr.type == STDERR:
            if not content:
                res.stderr_eof = True
            else:
                self.stderr += content
        else:
            res.app_status, res.protocol_status = struct.unpack(
                ">IB3x", content)
            res.ended = True
            if not res.stdout_eof and res.protocol_status == REQUEST_COMPLETE:
                res.error = "END_REQUEST before STDOUT end"

    def trailing(self):
        if self.buf and self.res.error is None:
            if self.res.ended:
                self.res.error = "bytes after END_REQUEST"
            else:
                self.res.error = "truncated record (%d bytes)" % len(self.buf)


def _pump(sock, out, parser, res, deadline, keep_conn, t0):
    sel = selectors.DefaultSelector()
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
    out = memoryview(out)
    writing = True
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                res.error = res.error or "timeout"
                return
            if res.error is not None or (res.ended and keep_conn):
                return
            for _key, ev in sel.select(min(left, 1.0)):
                if ev & selectors.EVENT_WRITE and writing:
                    try:
                        n = sock.send(out[:262144])
                        out = out[n:]
                    except (BlockingIOError, InterruptedError):
                        pass
                    except (BrokenPipeError, ConnectionResetError) as e:
                        res.write_error = str(e)
                        out = out[:0]
                    if not out:
                        writing = False
                        sel.modify(sock, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    try:
                        data = sock.recv(262144)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except ConnectionResetError:
                        data = b""
                    if not data:
                        res.closed = True
                        parser.trailing()
                        if not res.ended and res.error is None:
                            res.error = "connection closed before END_REQUEST"
                        return
                    parser.feed(data, time.monotonic() - t0)
    finally:
        sel.close()


def request(address, params=None, stdin=b"", timeout=10.0, request_id=1,
            role=RESPONDER, keep_conn=False, stdin_record_size=MAX_CONTENT,
            sock=None, close=True):
    """Run one request; returns a Result. Never raises on protocol defects.

    With keep_conn the call returns as soon as END_REQUEST arrives;
    otherwise it reads until the backend closes the connection, so bytes
    sent after END_REQUEST are seen. Pass sock to reuse a connection.
    """
    t0 = time.monotonic()
    res = Result()
    if params is None:
        params = cgi_params(body_len=len(stdin) if stdin else None)
    out = (pack_record(BEGIN_REQUEST, request_id,
                       struct.pack(">HB5x", role,
                                   KEEP_CONN if keep_conn else 0))
           + pack_params(request_id, params)
           + pack_stream(STDIN, request_id, stdin, stdin_record_size))
    own = sock is None
    if own:
        sock = connect(address, timeout)
    try:
        parser = _Parser(res, request_id)
        _pump(sock, out, parser, res, t0 + timeout, keep_conn, t0)
        parser.finish()
    finally:
        if own and close:
            sock.close()
    res.elapsed = time.monotonic() - t0
    return res
