"""What an app process writes to its raw fd 2 (not FCGI_STDERR) reaches
the error log through the PM: each line named after the app and the pid,
control characters escaped once (by httpd's error log, which escapes
every message with ap_escape_errorlog_item), a flood capped per process
with the number of dropped bytes logged, and the PM answering at once
meanwhile. Before, fd 2 was httpd's ErrorLog descriptor itself: raw
bytes, no name, no cap.
"""

import time

import conftest
from helpers import (current_pm, dynamic_server, install, log_lines, start,
                     timed_get)

# As httpd's error log escapes every message, once: the PM passes the
# line as the app wrote it (escaping it too would show "\\\\x07").
ESCAPED = 'stderr: bell\\x07 esc\\x1b[31m tab\\t back\\\\ quote" end'


def stderr_app(srv):
    """A FastCgiServer app that writes a line with control characters to
    its raw fd 2, floods it from a background process for 2 s, and then
    is the test responder. Returns its path."""
    responder = install(conftest.RESPONDER, srv.docroot / "responder.bin")
    app = srv.docroot / "stderr.fcgi"
    app.write_text(
        "#!/bin/sh\n"
        "printf 'bell\\007 esc\\033[31m tab\\t back\\\\ quote\" end"
        "\\r\\n' >&2\n"
        "(timeout 2 yes flood-line) >&2 &\n"
        "exec %s\n" % responder)
    app.chmod(0o755)
    return app


def test_raw_stderr_is_logged_escaped_and_capped(httpd):
    srv, dyn = dynamic_server(httpd)
    install(conftest.RESPONDER, dyn / "first.fcgi")
    app = stderr_app(srv)
    srv.extra_conf += "\nFastCgiServer %s -processes 1" % app
    t0 = time.monotonic()
    start(srv)
    pm = current_pm(srv)

    line = conftest.wait_for(lambda: log_lines(srv, ESCAPED), 5)
    assert line, "no escaped stderr line in the error log"
    assert len(line) == 1 and "FCGIX00070: fastcgi pm: app %s (pid " % app \
        in line[0], line
    # During the flood the PM answers at once.
    status, body, _, total = timed_get(srv, "/dyn/first.fcgi")
    print("first start of a dynamic app during a stderr flood: %.1f ms"
          % (total * 1000))
    assert (status, body) == (200, b"hello\n")
    assert total < 1.0
    assert srv.get("/stderr.fcgi").status == 200
    assert conftest.wait_for(
        lambda: log_lines(srv, "wrote more than 65536 bytes to stderr"), 5)

    time.sleep(max(0.0, 2.5 - (time.monotonic() - t0)))  # the flood ends
    assert current_pm(srv) == pm
    srv.stop()
    data = srv.error_log.read_bytes()
    assert b"\x07" not in data and b"\x1b" not in data
    floods = log_lines(srv, ") stderr: flood-line")
    print("flood lines logged: %d, error log %d bytes"
          % (len(floods), len(data)))
    assert 1000 <= len(floods) <= 65536 // 11 + 1
    assert len(log_lines(srv, "wrote more than 65536 bytes")) == 1
    dropped = log_lines(srv, "bytes of stderr dropped (more than 65536 "
                        "bytes in 60 s)")
    assert len(dropped) == 1, dropped
    assert len(data) < 2 * 1024 * 1024
