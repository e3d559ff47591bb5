"""Hostile or broken responses from apps (issue 6, security): an app
cannot split the response, smuggle framing headers, or crash or hang
httpd with its header block. Each bad header block is a 502 with a log
line naming the app and what is wrong; nothing of it reaches the client.

Each case is sent exactly as written, in STDOUT records of at most 64 KiB,
by the scripted app of test_responder."""

import socket

import pytest

from helpers import (APP, assert_no_child_crash, eb, log_lines, put_file,
                     start_app, wait_log)


BODY = b"body-of-the-app\n"
TEXT = b"Content-Type: text/plain\r\n"

REFUSED = {
    # A lone CR: clients that end lines at a CR see a second header.
    "cr-in-value": TEXT + b"X-A: a\rSet-Cookie: evil=1\r\n\r\n" + BODY,
    "cr-in-location": b"Location: http://example.com/\rSet-Cookie: e=1"
                      b"\r\n\r\n",
    "cr-in-status": b"Status: 200 OK\rSet-Cookie: evil=1\r\n" + TEXT
                    + b"\r\n" + BODY,
    "nul-in-value": TEXT + b"X-A: a\0Set-Cookie: evil=1\r\n\r\n" + BODY,
    "nul-in-name": TEXT + b"X-\0A: b\r\n\r\n" + BODY,
    "ctl-in-value": TEXT + b"X-A: a\x01b\r\n\r\n" + BODY,
    "del-in-name": TEXT + b"X\x7fA: b\r\n\r\n" + BODY,
    "paren-in-name": TEXT + b"X(A): b\r\n\r\n" + BODY,
    "utf8-name": TEXT + b"\xc3\x9cber: b\r\n\r\n" + BODY,
    "empty-name": TEXT + b": b\r\n\r\n" + BODY,
    "folded-line": TEXT + b"X-A: a\r\n Set-Cookie: evil=1\r\n\r\n" + BODY,
    "1mib-header-line": TEXT + b"X-Big: " + b"x" * (1 << 20) + b"\r\n\r\n"
                        + BODY,
    "1mib-header-no-lf": TEXT + b"X-Big: " + b"x" * (1 << 20),
}


def answer_with(block):
    return lambda req: (eb.stream(eb.STDOUT, req.rid, block)
                        + eb.end_request(req.rid))


def raw_get(port, path):
    """The raw bytes of a response: what a client that ends lines at a CR
    would parse."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as c:
        c.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\nHost: x\r\n\r\n")
        chunks = []
        while True:
            data = c.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_malformed_header_block_is_502(httpd, scripted, case):  # noqa: F811
    app = scripted(answer_with(REFUSED[case]), raw=True)
    srv = start_app(httpd, app.address)
    raw = raw_get(srv.port, "/" + APP)
    head = raw.split(b"\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 502"), (case, raw[:300])
    assert b"evil" not in raw and BODY not in raw, (case, raw[:600])
    lines = wait_log(srv, "FCGIX00103", str(srv.app_path), severe=True) \
        or wait_log(srv, "FCGIX00032", str(srv.app_path), severe=True)
    assert lines, "no log line naming the app for " + case
    # The next request on the same httpd is served normally.
    assert srv.get(put_file(srv, "ok.txt"), timeout=15).status == 200
    assert_no_child_crash(srv, settle=0.5)


def test_log_line_says_what_and_where(httpd, scripted):  # noqa: F811
    app = scripted(answer_with(TEXT + b"X-Fine: 1\r\nX(A): b\r\n\r\n"),
                   raw=True)
    srv = start_app(httpd, app.address)
    assert srv.get("/" + APP, timeout=15).status == 502
    assert wait_log(srv, "invalid character in a header name in line 3",
                    severe=True, any_case=True), log_lines(srv, "FCGIX")


@pytest.mark.parametrize("value", [b"a\tb", b"caf\xe9", b"", b"x" * 8000])
def test_legal_header_values_pass(httpd, scripted, value):  # noqa: F811
    """HTAB, Latin-1 bytes (file names in Content-Disposition), an empty
    value and a long one are legal and reach the client unchanged."""
    app = scripted(answer_with(TEXT + b"X-V: " + value + b"\r\n\r\n" + BODY),
                   raw=True)
    srv = start_app(httpd, app.address)
    raw = raw_get(srv.port, "/" + APP)
    assert raw.startswith(b"HTTP/1.1 200"), raw[:300]
    assert b"\r\nX-V: " + value.strip() + b"\r\n" in raw, raw[:300]
    assert raw.endswith(BODY)


def test_framing_headers_from_the_app_are_ignored(httpd, scripted):  # noqa
    """Content-Length and Transfer-Encoding from an app would let it
    smuggle a second response into a kept-alive connection: httpd frames
    the response itself."""
    smuggle = (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nevil!")
    app = scripted(answer_with(TEXT + b"Content-Length: 2\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n"
                               + BODY + smuggle), raw=True)
    srv = start_app(httpd, app.address)
    raw = raw_get(srv.port, "/" + APP)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw[:300]
    assert b"Content-Length: 2" not in head, head
    assert b"chunked" not in head.lower(), head
    assert body == BODY + smuggle, body
