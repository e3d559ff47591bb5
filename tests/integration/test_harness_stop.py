"""The crash check (conftest.Httpd.crash_lines()) and httpd's forced stop.

Debian's mpm_event (2.4.71; httpd's 2.4.x and trunk read the same)
sometimes segfaults while SIGTERM stops it. The child's main thread, in
close_worker_sockets(), closes the socket of a connection a worker is
just finishing: once close_listeners() has emptied the list of pools to
recycle, a pool given back is destroyed at once and APR's allocator
unmaps it, so apr_os_sock_get() reads unmapped memory. It happens
without mod_fastcgi_x loaded as well (21 of 1500 stops right after a
request, on a loaded machine). httpd's parent logs it like any crash, so
a check that read the log of a stop failed in clean-clone CI runs: the
evil catalogue test of test_responder.py (it stopped and started its
server again) and test_trust_board.py (it reads the log after the stop).

A crash the stop itself caused is left out; a child that had died before
the stop began still counts, and so does any crash while serving. A
child killed during a stop on purpose stands for mpm_event's crash: a
request hangs in an app (-idle-timeout 20), so the child cannot finish
stopping until it is told, and it gets SIGABRT once its idle workers
have left (the sanitizer runtimes of make itest-asan leave SIGABRT
alone, not SIGSEGV).
"""

import os
import signal
import threading

import pytest

import conftest
from helpers import (assert_no_child_crash, proc_status_number, raw_request,
                     start_app, wait_log)

CRASH = "exit signal Abort"


def proc_fields(pid):
    """state, ppid, pgrp of pid, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[:3]
    except (OSError, IndexError):
        return None


def threads(pid):
    return proc_status_number(pid, "Threads") or 0


# One child that serves, so that the tests know which one to kill.
ONE_CHILD = "StartServers 1\nServerLimit 1\nMaxSpareThreads 25"


def mpm_child(srv):
    """httpd's child that serves, once its threads run (the PM has a
    process group of its own)."""
    def up():
        kids = [pid for pid, _ in conftest.descendants(srv.pid)
                if (proc_fields(pid) or [0, 0, 0])[1:] == [str(srv.pid)] * 2]
        return kids if len(kids) == 1 and threads(kids[0]) > 3 else None

    kids = conftest.wait_for(up, 10)
    assert kids, "no child of httpd serves"
    return kids[0]


def one_child_server(httpd):
    srv = httpd(ONE_CHILD, load_module=False)
    srv.start()
    return srv


def kill_when_stopping(child):
    """SIGABRT to child once its idle workers have left (they do only
    when a stop has begun): its main thread and the hung worker stay."""
    if conftest.wait_for(lambda: 0 < threads(child) <= 3, 10, 0.01):
        os.kill(child, signal.SIGABRT)


def stop_while_a_child_crashes(srv, app):
    """srv.stop(), during which its serving child dies of SIGABRT; app
    (evil_backend.py) hangs the request that keeps the child busy."""
    def hang():
        try:
            raw_request(srv, "GET", "/app.fcgi", timeout=20)
        except OSError:
            pass  # the stop cut it

    child = mpm_child(srv)
    hung = threading.Thread(target=hang)
    hung.start()
    assert conftest.wait_for(
        lambda: "mode hang" in conftest.read_text(app.log_path), 10)
    killer = threading.Thread(target=kill_when_stopping, args=(child,))
    killer.start()
    srv.stop()
    killer.join(15)
    hung.join(25)
    return child


def crash_lines_of(srv, child):
    return [line for line in conftest.read_text(srv.error_log).splitlines()
            if CRASH in line and "child pid %d " % child in line]


def test_crash_during_forced_stop_is_not_counted(httpd, evil):
    """What test_evil_catalogue_leaks_nothing did: stop, start again,
    check. The stop's crash is in the log, but the stop made it."""
    app = evil("hang")
    srv = start_app(httpd, app.address, opts="-idle-timeout 20",
                    extra=ONE_CHILD)
    child = stop_while_a_child_crashes(srv, app)
    assert crash_lines_of(srv, child), "the child did not die in the stop"
    srv.start()
    assert_no_child_crash(srv)
    assert srv.crash_lines() == []


def test_crash_while_serving_is_counted_also_after_a_stop(httpd):
    srv = one_child_server(httpd)
    os.kill(mpm_child(srv), signal.SIGABRT)
    assert wait_log(srv, CRASH, timeout=10), "no crash logged"
    with pytest.raises(AssertionError):
        assert_no_child_crash(srv)
    srv.stop()
    assert len(srv.crash_lines()) == 1, srv.crash_lines()


def test_crash_not_reaped_when_the_stop_begins_is_counted(httpd):
    """A child that died before the stop, logged by the parent only
    while it stops (it reaps about once a second)."""
    srv = one_child_server(httpd)
    child = mpm_child(srv)
    os.kill(srv.pid, signal.SIGSTOP)  # no reaping meanwhile
    try:
        os.kill(child, signal.SIGABRT)
        assert conftest.wait_for(
            lambda: (proc_fields(child) or ["?"])[0] == "Z", 10)
    finally:
        os.kill(srv.pid, signal.SIGCONT)
    srv.stop()
    assert [l for l in srv.crash_lines() if "child pid %d " % child in l]
