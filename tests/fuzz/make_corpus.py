#!/usr/bin/env python3
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain a
# copy of the License at http://www.apache.org/licenses/LICENSE-2.0
"""Write the hand-made seed corpus of the fuzz targets, deterministically.

    python3 tests/fuzz/make_corpus.py [OUTDIR]

OUTDIR defaults to tests/fuzz/corpus next to this script. Only the files
named here are written; others (such as crash-regression-*) are left alone.
The input layouts are described at the top of each fuzz_*.c file.
"""

import os
import struct
import sys

VERSION = 1
END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 3, 4, 5, 6, 7
BEGIN_REQUEST, ABORT_REQUEST, DATA, GET_VALUES = 1, 2, 8, 9
GET_VALUES_RESULT, UNKNOWN_TYPE = 10, 11


def rec(rtype, content=b"", rid=1, padding=None, version=VERSION,
        clen=None):
    """One record; padding defaults to rounding up to 8, clen may lie."""
    if padding is None:
        padding = -len(content) % 8
    if clen is None:
        clen = len(content)
    return (struct.pack(">BBHHBx", version, rtype, rid, clen, padding)
            + content + b"\0" * padding)


def end_request(app_status=0, proto_status=0, rid=1, padding=0):
    body = struct.pack(">IB3x", app_status, proto_status)
    return rec(END_REQUEST, body, rid, padding)


def nv_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def nv(name, value):
    return nv_len(len(name)) + nv_len(len(value)) + name + value


HEAD = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"
NORMAL = rec(STDOUT, HEAD + b"hello\n") + rec(STDOUT) + end_request()


def decoder_seeds():
    """Prefix: byte 0 = id choice (bits 0-1) and schedule kind (bits 2-3),
    byte 1 = schedule seed; id choice 0 expects request id 1."""
    s = {
        "normal": NORMAL,
        "normal-unpadded": rec(STDOUT, HEAD + b"x", padding=0)
        + rec(STDOUT, padding=0) + end_request(),
        "padding-255": rec(STDOUT, HEAD, padding=255)
        + rec(STDOUT, b"body", padding=255) + rec(STDOUT, padding=255)
        + end_request(padding=255),
        "stderr-interleaved": rec(STDOUT, HEAD) + rec(STDERR, b"warn 1\n")
        + rec(STDOUT, b"part 1") + rec(STDERR, b"warn 2\n")
        + rec(STDOUT, b"part 2") + rec(STDERR) + rec(STDOUT)
        + end_request(),
        "end-app-status": rec(STDOUT, HEAD) + rec(STDOUT)
        + end_request(0xfedcba98),
        "end-cant-mpx": end_request(0, 1),
        "end-overloaded": end_request(0, 2),
        "end-unknown-role": end_request(1, 3),
        "end-before-eof": rec(STDOUT, HEAD + b"cut") + end_request(),
        "management": rec(GET_VALUES_RESULT, nv(b"FCGI_MAX_CONNS", b"10")
                          + nv(b"FCGI_MPXS_CONNS", b"0"), rid=0)
        + rec(UNKNOWN_TYPE, bytes([42]) + b"\0" * 7, rid=0) + NORMAL,
        "truncated-header": NORMAL[:5],
        "truncated-content": rec(STDOUT, b"abc", clen=65535),
        "truncated-padding": rec(STDOUT, b"abc", padding=200)[:20],
        "truncated-end": rec(STDOUT) + end_request()[:12],
        "bad-version-0": rec(STDOUT, HEAD) + rec(STDOUT, b"x", version=0),
        "bad-version-2": rec(STDOUT, HEAD, version=2),
        "wrong-id": rec(STDOUT, HEAD) + rec(STDOUT, b"x", rid=2),
        "stdout-id-0": rec(STDOUT, HEAD, rid=0),
        "mgmt-id-1": rec(UNKNOWN_TYPE, b"\x05" + b"\0" * 7, rid=1),
        "type-begin": rec(BEGIN_REQUEST, b"\0\x01\0\0\0\0\0\0"),
        "type-stdin-params": rec(STDIN, b"in") + rec(PARAMS),
        "type-0": rec(0, b"x"),
        "type-12": rec(12, b"x"),
        "end-body-7": rec(END_REQUEST, b"\0" * 7),
        "end-body-9": rec(END_REQUEST, b"\0" * 9),
        "after-end": NORMAL + rec(STDOUT, b"late"),
        "after-end-1byte": NORMAL + b"\x01",
    }
    out = {}
    for i, (name, body) in enumerate(s.items()):
        kind = i % 4
        out["dec-" + name] = bytes([kind << 2, (i * 37) & 0xff]) + body
    # Request id 0xffff (choice 3), fed byte-sized chunks.
    out["dec-id-ffff"] = bytes([3, 7]) + (
        rec(STDOUT, HEAD, rid=0xffff) + rec(STDOUT, rid=0xffff)
        + end_request(rid=0xffff))
    return out


def nv_seeds():
    """Prefix: bytes 0-1 max_content mode, byte 2 packer capacity, byte 3
    request id; the rest is both a name-value stream and length specs."""
    cgi = (nv(b"SCRIPT_NAME", b"/index.php") + nv(b"QUERY_STRING", b"")
           + nv(b"REQUEST_METHOD", b"GET") + nv(b"", b""))
    big = nv(b"N" * 128, b"v" * 200) + nv(b"HTTP_COOKIE", b"c" * 300)
    return {
        "nv-cgi-1byte": b"\x80\x00\x00\x01" + cgi,
        "nv-4byte": b"\x80\x00\x10\x01" + big,
        "nv-127-128": b"\x40\x80\x00\x01" + nv(b"a" * 127, b"b" * 128),
        "nv-4byte-nonminimal": b"\x80\x00\x00\x01"
        + b"\x80\x00\x00\x03\x80\x00\x00\x01abcd",
        "nv-get-values": b"\x80\x00\x00\x00" + nv(b"FCGI_MAX_CONNS", b"")
        + nv(b"FCGI_MAX_REQS", b"") + nv(b"FCGI_MPXS_CONNS", b""),
        "nv-trunc-value": b"\x80\x00\x00\x01" + b"\x03\x0aabcxyz",
        "nv-trunc-4byte-len": b"\x80\x00\x00\x01" + nv(b"A", b"B")
        + b"\x80\x00",
        "nv-huge-len": b"\x80\x00\x00\x01" + b"\xff\xff\xff\xff\x00abc",
        "nv-split-mc16": b"\x00\x0f\x00\x02" + cgi + nv(b"X", b"y" * 20),
        "nv-mc1-all-toolong": b"\x00\x00\x00\x03" + cgi,
        "nv-enospc": b"\x00\x1f\x00\x09" + cgi + cgi,
        "nv-small-cap": b"\x80\x00\x88\x01" + cgi + big,
        "nv-spec-large": b"\xc0\x00\x05\x05"
        + b"\xff\x84\x01" + b"\xe7\xff\x05" + b"\xff\x00\x00",
        "nv-spec-mc-near-max": b"\xff\x08\x00\x04"
        + b"\xff\x7e\x00" + b"\x10\x20",
    }


def hdrscan_seeds():
    """Prefix: byte 0 = schedule kind (bits 0-1) and seed."""
    s = {
        "lf": b"Content-Type: text/html\n\n<html>",
        "crlf": b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nbody",
        "mixed-lf-crlf": b"A: b\r\nC: d\n\r\nbody",
        "mixed-crlf-lf": b"A: b\r\nC: d\r\n\nbody",
        "empty-first-lf": b"\nbody",
        "empty-first-crlf": b"\r\nbody",
        "no-end": b"A: b\r\nC: d\r\n",
        "no-end-cr": b"A: b\r\nC: d\r\n\r",
        "cr-cr-lf": b"A: b\n\r\r\nC: d\n\nbody",
        "lone-cr": b"A: b\rC: d\n\r\n",
        "lf-cr-text": b"A: b\n\rX: y\n\n",
        "nul-bytes": b"A: \0\n\0\n\n",
        "long-line": b"X-Long: " + b"a" * 300 + b"\r\n\r\n",
        "body-has-blank": b"A: b\n\nbody\n\nmore\r\n\r\n",
        "folded": b"A: b\r\n c\r\n\r\nbody",
        "no-colon": b"A: b\r\nNoColon\r\n\r\nbody",
        "bad-name": b"A: b\r\nX(Y): z\r\n\r\nbody",
        "ctl-value": b"A: b\x01c\x7f\r\n\r\nbody",
        "latin1-value": b"A: \xe9t\xe9\tx\r\n\r\nbody",
        "tokens": b"!#$%&'*+-.^_`|~09azAZ: v\r\n\r\nbody",
    }
    return {"hs-" + k: bytes([i * 53 & 0xff]) + v
            for i, (k, v) in enumerate(s.items())}


def reply_seeds():
    """An authorizer's reply: header lines, the blank line, a page."""
    s = {
        "allow": b"Status: 200 OK\r\nVariable-USER_ID: 42\r\n\r\n",
        "deny": b"Status: 403 Forbidden\r\nContent-Type: text/html\r\n"
                b"\r\n<p>no</p>",
        "redirect": b"Status: 302\nLocation: /login\n\n",
        "blanks": b"X-A:  \t v \t\r\nStatus:\t401\t\r\n\r\n",
        "bad-status": b"Status: 2000\r\n\r\n",
        "status-reason": b"Status: 599 x y z\r\n\r\n",
        "no-end": b"Status: 200\r\nX: y",
        "empty-value": b"X-Empty:\r\nVariable-:x\r\n\r\n",
    }
    return {"rp-" + k: v for k, v in s.items()}


def ctl_seeds():
    """Control-socket bytes: requests and answers, good and bad (see
    fcgi_ctl.h); the same target parses each as both."""
    path = b"/srv/www/dyn/app.fcgi"
    s = {
        "tick": b"TICK\n",
        "start": b"START " + path + b"\n",
        "start-spaces": b"START /srv/a b/c d.fcgi\n",
        "startas": b"STARTAS 33 33 " + path + b"\n",
        "startas-names": b"STARTAS www-data www-data " + path + b"\n",
        "many-lines": b"TICK\nSTART /a\nSTART /b\nTICK\n",
        "nul-before-newline": b"START " + path + b"\0junk\n",
        "crlf": b"START " + path + b"\r\n",
        "no-newline": b"START " + path,
        "relative": b"START app.fcgi\n",
        "long-path": b"START /" + b"p" * 1030 + b"\n",
        "huge-line": b"START /" + b"h" * 1200,
        "bad-name": b"STARTAS -x 33 /a\n",
        "binary": bytes(range(256)),
        "http": b"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
        "fields-for-encoders": b"www-data\0www-data\0/srv/a.fcgi",
        "fields-for-startc": b"~1001\x001001\x00/usr/bin/php-cgi",
        "startc": b"STARTC x 0 0 - - " + path + b"\n",
        "startc-fcgid": b"STARTC f 12 3 1001 1001 /usr/bin/php-cgi\n",
        "startc-userdir": b"STARTC f 65535 65535 ~alice www-data /a b\n",
        "startc-bad-index": b"STARTC f 65536 01 - - /a\n",
        "startc-bad-vocab": b"STARTC y 0 0 - - /a\n",
        "startc-half-identity": b"STARTC x 0 0 - 33 /a\n",
        "startc-few-fields": b"STARTC x 0 0 - -\n",
        "ok": b"OK\n",
        "busy": b"BUSY 5 -maxProcesses dynamic processes run already\n",
        "busy-max": b"BUSY 86400 x\n",
        "busy-bad-number": b"BUSY 05 x\n",
        "busy-no-reason": b"BUSY 5\n",
        "fail": b"FAIL " + path + b": not executable by the httpd user\n",
    }
    return {"ctl-" + k: v for k, v in s.items()}


NIL = 0xFFFFFFFF


def pm_u32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def pm_long(v):
    return struct.pack(">q", v)


def pm_str(s):
    if s is None:
        return pm_u32(NIL)
    b = s.encode()
    return pm_u32(len(b)) + b


def pm_list(items):
    if items is None:
        return pm_u32(NIL)
    return pm_u32(len(items)) + b"".join(pm_str(x) for x in items)


def pm_app(path=None, base=None, processes=0, argv=None, env=None,
           max_requests=0, port=0, wrapper=None, user=None, group=None):
    """One fcgix_pm_app_t in fcgi_pmconf.c's order."""
    return (pm_str(path) + pm_str(base) + pm_u32(processes) + pm_u32(0)
            + pm_list(argv) + pm_list(env) + pm_str(None) + pm_u32(0)
            + pm_u32(0) + pm_long(max_requests) + pm_u32(0) + pm_u32(0)
            + pm_u32(port) + pm_str(wrapper) + pm_str(user) + pm_str(group))


def pm_opts(env=None, max_class=0, idle_ms=0):
    return (pm_list(env) + pm_u32(max_class) + pm_u32(0) + pm_u32(idle_ms)
            + pm_u32(0) + pm_long(0))


def pm_config(apps=(), tenants=(), commands=()):
    """The bytes of a configuration: "FXPC", version 1, then the fields."""
    b = b"FXPC" + pm_u32(1) + pm_u32(len(apps)) + b"".join(apps)
    b += pm_app(processes=10, env=["TZ=UTC"])  # the dynamic template
    b += pm_str("/run/fcgi/control") + pm_str("/run/fcgi/dyn") + pm_str(None)
    b += b"".join(pm_u32(v) for v in (50, 0, 300000, 5000, 60000, 0, 0))
    b += pm_u32(len(tenants)) + b"".join(tenants)
    b += pm_u32(len(commands)) + b"".join(pm_list(c) for c in commands)
    return b


def pmconf_seeds():
    php = pm_app("/srv/php/php.fcgi", "/run/fcgi/abc", 4,
                 ["/usr/bin/php-cgi", "-d", "opcache.enable=1"],
                 ["PHP_FCGI_CHILDREN=0"], 500)
    go = pm_app("/srv/go.fcgi", None, 2, None, [], 4000000000, 9000,
                "/usr/lib/apache2/suexec", "site", "site")
    tenant = (pm_str("a.example:80") + pm_u32(12) + pm_opts(None, 8, 60000)
              + pm_u32(1) + pm_str("/srv/a/app.fcgi") + pm_opts(["TZ=UTC"]))
    s = {
        "empty": pm_config(),
        "apps": pm_config([php, go]),
        "full": pm_config([php, go], [tenant],
                          [["/srv/a/app.fcgi", "--fast", ""], []]),
        "bad-magic": b"FXPQ" + pm_config()[4:],
        "truncated": pm_config([php])[:40],
    }
    return {"pmconf-" + k: v for k, v in s.items()}


def write(outdir, sub, seeds):
    path = os.path.join(outdir, sub)
    os.makedirs(path, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)
    return len(seeds)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here,
                                                                "corpus")
    n = write(outdir, "decoder", decoder_seeds())
    n += write(outdir, "nv", nv_seeds())
    n += write(outdir, "hdrscan", hdrscan_seeds())
    n += write(outdir, "reply", reply_seeds())
    n += write(outdir, "ctl", ctl_seeds())
    n += write(outdir, "pmconf", pmconf_seeds())
    print("make_corpus: %d seeds in %s" % (n, outdir))


if __name__ == "__main__":
    main()
