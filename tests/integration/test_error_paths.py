"""Error paths that the other files do not reach: an invalid Status, an
app that never reads its request, a variable too big for a record, files
for the handler that no app serves, and process-manager startup errors.
Each checks the status the client gets and the log line that names the
app."""

import os
import socket
import threading
import time

import conftest
from helpers import run_to_exit, start_app


def test_status_outside_100_599_is_502(httpd, scripted):  # noqa: F811
    for status in (b"999 Weird", b"42 Low"):
        app = scripted(lambda req, s=status: b"Status: " + s
                       + b"\r\nContent-Type: text/plain\r\n\r\nbody\n")
        srv = start_app(httpd, app.address)
        r = srv.get("/app.fcgi")
        assert r.status == 502, (status, r)
        log = conftest.read_text(srv.error_log)
        assert "invalid Status in the response" in log, log
        assert str(srv.app_path) in log, log
        srv.stop()


class Deaf:
    """Accepts connections on a Unix socket and never reads from them."""

    def __init__(self, path):
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(str(path))
        os.chmod(str(path), 0o777)
        self.lsock.listen(4)
        self.lsock.settimeout(0.2)
        self.address = str(path)
        self.held = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop_event.is_set():
            try:
                self.held.append(self.lsock.accept()[0])
            except OSError:
                pass

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)
        for c in self.held:
            c.close()
        self.lsock.close()


def test_app_that_never_reads_the_request_is_504(httpd, workdir):
    """PARAMS larger than the socket buffer, an app that never reads: the
    send gives up after -idle-timeout."""
    deaf = Deaf(workdir / "deaf.sock")
    try:
        srv = start_app(httpd, deaf.address, opts="-idle-timeout 2")
        headers = {"X-Fill-%02d" % i: "v" * 8000 for i in range(90)}
        r = srv.get("/app.fcgi", headers=headers, timeout=20)
        assert r.status == 504, r
        log = conftest.read_text(srv.error_log)
        assert "did not read the request within 2 s" in log, log
        assert str(srv.app_path) in log, log
    finally:
        deaf.stop()


def test_variable_too_big_for_a_record_is_left_out(httpd, responder):
    srv = start_app(httpd, responder.address,
                    extra="LimitRequestFieldSize 100000")
    r = srv.get("/app.fcgi?env", headers={"X-Big": "b" * 70000,
                                          "X-Small": "s"})
    assert r.status == 200, r
    assert b"HTTP_X_SMALL=s" in r.body
    assert b"HTTP_X_BIG" not in r.body
    log = conftest.read_text(srv.error_log)
    assert "variable HTTP_X_BIG left out" in log, log


def test_variable_larger_than_a_bodiless_requests_buffer(httpd, responder):
    """A request without a body starts with a small write buffer (8 KiB):
    a variable that needs more makes it grow, and reaches the app whole,
    with the ones after it."""
    srv = start_app(httpd, responder.address,
                    extra="LimitRequestFieldSize 100000")
    r = srv.get("/app.fcgi?env", headers={"X-Big": "b" * 30000,
                                          "X-Small": "s"})
    assert r.status == 200, r
    assert b"HTTP_X_BIG=" + b"b" * 30000 + b"\n" in r.body
    assert b"HTTP_X_SMALL=s" in r.body
    assert "left out" not in conftest.read_text(srv.error_log)


def test_handler_without_app(httpd):
    """AddHandler fastcgi-script for a file no app serves, where Options
    ExecCGI is off: 403 with a log line (not the script's source), 404
    when the file is missing."""
    srv = httpd()
    (srv.docroot / "dyn.fcgi").write_text("#!/bin/sh\n")
    (srv.docroot / "dyn.fcgi").chmod(0o755)
    srv.extra_conf = "AddHandler fastcgi-script .fcgi"
    srv.start()
    r = srv.get("/dyn.fcgi")
    assert r.status == 403, r
    assert b"#!/bin/sh" not in r.body
    assert srv.get("/nothing.fcgi").status == 404
    log = conftest.read_text(srv.error_log)
    assert "dyn.fcgi: Options ExecCGI is off" in log, log


def static_app(srv, opts):
    app = srv.docroot / "app.fcgi"
    app.write_bytes(conftest.RESPONDER.read_bytes())
    app.chmod(0o755)
    return "FastCgiServer %s %s" % (app, opts)


def test_static_port_with_max_requests_refused_at_startup(httpd):
    """-port processes share one socket, so the PM cannot tell which one
    served a request: -max-requests cannot work there."""
    srv = httpd()
    srv.extra_conf = static_app(srv, "-port 9123 -max-requests 10")
    rc, log = run_to_exit(srv)
    assert rc not in (None, 0), log
    assert "-max-requests cannot be used with -port" in log, log
    assert "app.fcgi" in log and "%s:" % srv.conf in log, log


def test_static_socket_path_too_long_refused_at_startup(httpd):
    srv = httpd()
    srv.extra_conf = static_app(srv, "-socket /tmp/" + "s" * 120)
    rc, log = run_to_exit(srv)
    assert rc not in (None, 0), log
    assert "longer than a Unix socket path may be" in log, log
    assert "app.fcgi" in log, log


def test_pm_that_cannot_start_is_not_restarted(httpd, workdir):
    """A regular file where the socket should go: the PM refuses to remove
    it, exits with its startup-error code, and httpd does not fork it
    again; static files are still served."""
    blocker = workdir / "not-a-socket"
    blocker.write_text("keep me\n")
    srv = httpd()
    srv.extra_conf = static_app(srv, "-socket %s" % blocker)
    (srv.docroot / "hello.txt").write_text("static\n")
    srv.start()
    assert conftest.wait_for(lambda: "not restarting it" in
                             conftest.read_text(srv.error_log), 10), \
        conftest.read_text(srv.error_log)
    assert blocker.read_text() == "keep me\n"
    assert srv.get("/hello.txt").status == 200
    log = conftest.read_text(srv.error_log)
    assert log.count("FastCGI process manager started") == 1, log
    # Its app's requests are refused at once, saying why.
    t0 = time.monotonic()
    r = srv.get("/app.fcgi")
    assert r.status == 503 and time.monotonic() - t0 < 2, r
    assert "FCGIX00107" in conftest.read_text(srv.error_log)
