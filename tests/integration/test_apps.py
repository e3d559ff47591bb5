"""The test backends checked directly, without httpd.

Later module tests rely on tests/apps/fcgi_responder.c (libfcgi, the
oracle) and tests/apps/evil_backend.py (malformed streams) doing exactly
what they promise; these tests prove it through fcgi_client.py.
"""

import os
import socket
import struct
import time

import pytest

import conftest
import fcgi_client as fc
from helpers import pattern


def run(backend, query="", stdin=b"", method=None, extra=None, **kw):
    if method is None:
        method = "POST" if stdin else "GET"
    params = fc.cgi_params(query=query, method=method,
                           body_len=len(stdin) if stdin else None,
                           extra=extra)
    return fc.request(backend.address, params, stdin=stdin, **kw)


def body_of(res):
    headers, body = fc.parse_cgi(res.stdout)
    assert headers is not None, "no header block in %r" % res.stdout[:200]
    return headers, body


# --- the client's own codec --------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 127, 128, 65535, 70000])
def test_client_name_value_round_trip(n):
    value = b"v" * n
    data = fc.encode_pair(b"NAME", value)
    assert fc.decode_pairs(data) == [(b"NAME", value)]
    assert len(data) == 1 + (1 if n < 128 else 4) + 4 + n
    assert data[1:2] == (bytes([n]) if n < 128 else bytes([0x80 | n >> 24]))


def test_client_params_never_split_a_pair():
    params = [("N%d" % i, "x" * 300) for i in range(40)]
    raw = fc.pack_params(7, params, size=1000)
    pairs, pos = [], 0
    while pos < len(raw):
        ver, typ, rid, clen, plen = struct.unpack(fc.HEADER_FMT,
                                                  raw[pos:pos + 8])
        assert (ver, typ, rid) == (1, fc.PARAMS, 7)
        assert clen + plen <= 1000
        content = raw[pos + 8:pos + 8 + clen]
        pairs += fc.decode_pairs(content)   # each record parses alone
        pos += 8 + clen + plen
    assert clen == 0
    assert [(n.decode(), v.decode()) for n, v in pairs] == params


# --- fcgi_responder ----------------------------------------------------------

def test_responder_default(responder):
    res = run(responder)
    assert res.ok, res
    assert res.app_status == 0 and res.protocol_status == fc.REQUEST_COMPLETE
    assert res.stdout_eof
    headers, body = body_of(res)
    assert headers == {"content-type": "text/plain"}
    assert body == b"hello\n"
    assert res.types()[-1] == fc.END_REQUEST


def test_responder_env_dump_sorted(responder):
    res = run(responder, "env", extra={"FCGIX_TEST": "a=b c"})
    assert res.ok, res
    _h, body = body_of(res)
    lines = body.decode().splitlines()
    assert lines == sorted(lines)
    assert "QUERY_STRING=env" in lines
    assert "FCGIX_TEST=a=b c" in lines
    assert "REQUEST_METHOD=GET" in lines


def test_responder_env_name(responder):
    res = run(responder, "env=FCGIX_TEST", extra={"FCGIX_TEST": "val ue"})
    assert body_of(res)[1] == b"val ue\n"
    res = run(responder, "env=NOT_THERE")
    assert body_of(res)[1] == b"(unset)\n"
    res = run(responder, "env=FCGIX_EMPTY", extra={"FCGIX_EMPTY": ""})
    assert body_of(res)[1] == b"\n"


def test_responder_penv_name(monkeypatch, responder_factory):
    """penv= reads the process's own environment, not the request's."""
    monkeypatch.setenv("FCGIX_PENV", "p v")
    monkeypatch.setenv("FCGIX_PENV_EMPTY", "")
    monkeypatch.delenv("FCGIX_PENV_NONE", raising=False)
    responder = responder_factory()
    res = run(responder, "penv=FCGIX_PENV", extra={"FCGIX_PENV": "param"})
    assert body_of(res)[1] == b"p v\n"
    res = run(responder, "penv=FCGIX_PENV_NONE",
              extra={"FCGIX_PENV_NONE": "param"})
    assert body_of(res)[1] == b"(unset)\n"
    res = run(responder, "penv=FCGIX_PENV_EMPTY")
    assert body_of(res)[1] == b"\n"
    res = run(responder, "penv=")
    headers, body = body_of(res)
    assert headers["status"].startswith("400"), (headers, body)
    assert body == b"fcgi_responder: bad option: penv\n"


def test_responder_echo_4mib(responder):
    data = os.urandom(4 << 20)
    res = run(responder, "echo", stdin=data, timeout=60)
    assert res.ok, res
    headers, body = body_of(res)
    assert headers["content-type"] == "application/octet-stream"
    assert len(body) == len(data) and body == data
    # streamed: many STDOUT records, not one buffered answer
    assert res.types().count(fc.STDOUT) > 100


def test_responder_echo_deadlocks_a_writer_that_does_not_read(responder):
    """The property the deadlock regression test needs: a server that sends
    the whole body before reading the answer gets stuck."""
    data = os.urandom(8 << 20)
    req = (fc.pack_record(fc.BEGIN_REQUEST, 1, struct.pack(">HB5x", 1, 0))
           + fc.pack_params(1, fc.cgi_params("echo", "POST",
                                             body_len=len(data)))
           + fc.pack_stream(fc.STDIN, 1, data))
    sock = fc.connect(responder.address, timeout=3)
    try:
        with pytest.raises(socket.timeout):
            sock.sendall(req)
    finally:
        sock.close()
    # and it recovers once that connection is gone
    res = run(responder)
    assert res.ok, res


def test_responder_echo_empty(responder):
    res = run(responder, "echo")
    assert res.ok, res
    assert body_of(res)[1] == b""


@pytest.mark.parametrize("n", [0, 1, 26, 65536, 65537, 3000001])
def test_responder_bytes(responder, n):
    res = run(responder, "bytes=%d" % n, timeout=30)
    assert res.ok, res
    headers, body = body_of(res)
    assert headers["content-type"] == "application/octet-stream"
    assert body == pattern(n)


def test_responder_status(responder):
    res = run(responder, "status=404")
    headers, body = body_of(res)
    assert headers["status"] == "404 Not Found"
    assert body == b"hello\n"
    headers, _ = body_of(run(responder, "status=299"))
    assert headers["status"] == "299 Unknown"


def test_responder_location(responder):
    headers, _ = body_of(run(responder, "location=/other%3Fa%3Db"))
    assert headers["location"] == "/other?a=b"
    assert "status" not in headers
    headers, _ = body_of(run(responder,
                             "location=http://127.0.0.1:1/x&status=301"))
    assert headers["location"] == "http://127.0.0.1:1/x"
    assert headers["status"] == "301 Moved Permanently"


def test_responder_extra_headers(responder):
    headers, _ = body_of(run(responder, "header=X-One:1&header=X-Two:%202"
                                        "&header=Content-Type:text/x-test"))
    assert headers["x-one"] == "1"
    assert headers["x-two"] == "2"
    assert headers["content-type"] == "text/x-test"


def test_responder_stderr(responder):
    res = run(responder, "stderr=hello+stderr%21")
    assert res.ok, res
    assert res.stderr == b"hello stderr!\n"
    assert body_of(res)[1] == b"hello\n"
    assert fc.STDERR in res.types()


@pytest.mark.parametrize("query", ["crash", "crash=after"])
def test_responder_crash_after_output(responder, query):
    res = run(responder, query)
    assert not res.ended
    assert res.closed
    assert res.error == "connection closed before END_REQUEST"
    assert fc.END_REQUEST not in res.types()
    assert body_of(res)[1] == b"hello\n"
    deadline = time.monotonic() + 5
    while responder.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert responder.proc.returncode == 3


def test_responder_crash_before_output(responder):
    res = run(responder, "crash=before")
    assert not res.ended and res.closed
    assert res.records == [] and res.stdout == b""


def test_responder_noheaders(responder):
    res = run(responder, "noheaders")
    assert res.ok, res
    headers, body = fc.parse_cgi(res.stdout)
    assert headers is None
    assert res.stdout == b"this is not a CGI header block\n"


def test_responder_chunks_are_flushed_one_by_one(responder):
    res = run(responder, "chunks=4&pause=300")
    assert res.ok, res
    assert body_of(res)[1] == b"chunk 0\nchunk 1\nchunk 2\nchunk 3\n"
    assert res.types().count(fc.STDOUT) >= 5   # 4 flushes + empty record
    assert res.elapsed >= 0.85
    # the first chunk arrives long before the last
    assert res.first_stdout_at < res.elapsed - 0.5


def test_responder_sleep(responder):
    res = run(responder, "sleep=400")
    assert res.ok and res.elapsed >= 0.39, res


def test_responder_bad_option(responder):
    headers, body = body_of(run(responder, "bytes=lots"))
    assert headers["status"] == "400 Bad Request"
    assert b"bytes" in body


def test_responder_pid(responder):
    assert body_of(run(responder, "pid"))[1] == b"pid=%d\n" % responder.pid


def test_responder_keep_conn_after_unread_body(responder):
    """libfcgi trap: an unread STDIN must not break the next request."""
    sock = fc.connect(responder.address, timeout=10)
    try:
        for i in range(3):
            res = run(responder, "env=REQUEST_METHOD", stdin=b"z" * 100000,
                      keep_conn=True, sock=sock, request_id=i + 1)
            assert res.ok, res
            assert body_of(res)[1] == b"POST\n"
    finally:
        sock.close()


def test_responder_tcp(responder_factory):
    port = conftest.free_port()
    b = responder_factory("127.0.0.1:%d" % port)
    assert body_of(run(b))[1] == b"hello\n"


# --- evil_backend ------------------------------------------------------------

EVIL_BODY = b"hello from the evil backend\n"


def assert_correct(res, mode):
    assert res.ok, res
    headers, body = body_of(res)
    assert headers["status"] == "200 OK"
    assert headers["x-evil-mode"] == mode
    assert body == EVIL_BODY


def test_evil_ok(evil):
    b = evil("ok")
    res = run(b, stdin=b"q" * 70000)
    assert_correct(res, "ok")
    assert body_of(res)[0]["x-stdin-length"] == "70000"
    assert res.app_status == 0


def test_evil_byte_by_byte(evil):
    b = evil("byte-by-byte")
    sent = (fc.pack_record(fc.BEGIN_REQUEST, 1, struct.pack(">HB5x", 1, 0))
            + fc.pack_params(1, fc.cgi_params())
            + fc.pack_stream(fc.STDIN, 1, b""))
    sock = socket.create_connection(b.address, timeout=10)
    reads, data = 0, b""
    try:
        sock.sendall(sent)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reads += 1
            data += chunk
    finally:
        sock.close()
    assert reads > 20, "arrived in only %d reads" % reads
    # the same bytes parse into a correct response
    res = run(b)
    assert_correct(res, "byte-by-byte")
    assert len(data) == sum(8 + h.content_length + h.padding_length
                            for h in res.records)


def test_evil_padding255(evil):
    res = run(evil("padding255"))
    assert_correct(res, "padding255")
    assert all(h.padding_length == 255 for h in res.records)


def test_evil_stderr_interleaved(evil):
    res = run(evil("stderr-interleaved"))
    assert_correct(res, "stderr-interleaved")
    t = res.types()
    first_out, last_out = t.index(fc.STDOUT), len(t) - 1 - t[::-1].index(
        fc.STDOUT)
    assert fc.STDERR in t[first_out:last_out]
    assert res.stderr == (b"evil stderr one\nevil stderr two\n"
                          b"evil stderr three\n")


def test_evil_bad_version(evil):
    res = run(evil("bad-version"))
    assert res.records[0].version == 2
    assert "version" in res.error


def test_evil_wrong_request_id(evil):
    res = run(evil("wrong-request-id"), request_id=5)
    assert res.records[0].request_id not in (5, 0)
    assert "request id" in res.error


def test_evil_end_before_stdout_eof(evil):
    res = run(evil("end-before-stdout-eof"))
    assert res.ended and not res.stdout_eof
    assert all(h.content_length > 0 for h in res.records
               if h.type == fc.STDOUT)
    assert res.error == "END_REQUEST before STDOUT end"
    assert body_of(res)[1] == EVIL_BODY


def test_evil_close_before_end(evil):
    res = run(evil("close-before-end"))
    assert res.stdout_eof and not res.ended and res.closed
    assert fc.END_REQUEST not in res.types()
    assert body_of(res)[1] == EVIL_BODY


def test_evil_oversize_headers(evil):
    res = run(evil("oversize-headers"), timeout=30)
    assert len(res.stdout) == 1 << 20
    headers, _ = fc.parse_cgi(res.stdout)
    assert headers is None, "the header block must never end"
    assert res.ok, res


def test_evil_stdout_after_end(evil):
    res = run(evil("stdout-after-end"))
    assert res.ended
    assert res.records[-1].type == fc.STDOUT
    assert fc.END_REQUEST in res.types()[:-1]
    assert "after END_REQUEST" in res.error


def test_evil_overloaded(evil):
    res = run(evil("overloaded"))
    assert res.ended and res.error is None
    assert res.protocol_status == fc.OVERLOADED
    assert res.types() == [fc.END_REQUEST]


def test_evil_unknown_type(evil):
    res = run(evil("unknown-type"))
    assert res.records[0].type == 42
    assert "type 42" in res.error


def test_evil_app_status(evil):
    res = run(evil("app-status"))
    assert_correct(res, "app-status")
    assert res.app_status == 3


def test_evil_hang(evil):
    res = run(evil("hang"), timeout=1.5)
    assert res.error == "timeout" and res.records == []


def test_evil_mode_from_query_string(evil):
    b = evil("ok")
    res = run(b, "mode=app-status")
    assert res.app_status == 3
    assert run(b, "mode=no-such-mode").app_status == 0


def test_evil_unix_socket_and_keep_conn(evil):
    b = evil("ok", unix=True)
    sock = fc.connect(b.address, timeout=10)
    try:
        for i in range(3):
            res = run(b, stdin=b"x" * 10, keep_conn=True, sock=sock,
                      request_id=i + 1)
            assert_correct(res, "ok")
    finally:
        sock.close()


def test_evil_stops_on_sigterm(evil):
    b = evil("ok")
    assert run(b).ok
    assert b.stop() == 0
