"""The process manager takes back what nobody gives back: the classes of
dynamic apps that no longer run, so that more distinct apps than
-maxProcesses are served over time."""

import conftest
from test_pm_dynamic import (dynamic_server, fetch, install, log_lines,
                             processes_running, start)


def running_apps(paths):
    """[(path, pid)] of the live processes of these apps."""
    return [(p, pid) for p in paths for pid in processes_running(str(p))]


def test_more_dynamic_apps_than_max_processes_are_all_served(httpd):
    """-maxProcesses 2 and 6 distinct scripts requested in turn, twice:
    each gets the room of the least recently used idle one (idle reaping
    is off: -minProcesses is above the limit), and never more than 2
    run. Before, the 3rd distinct script got 503 until httpd restarted."""
    srv, dyn = dynamic_server(httpd, "-maxProcesses 2 -minProcesses 5")
    names = ["app%d.fcgi" % i for i in range(6)]
    paths = [install(conftest.RESPONDER, dyn / name) for name in names]
    start(srv)

    seen = []
    for rnd in range(2):
        for name in names:
            r = fetch(srv, "/dyn/%s?pid" % name, 15)
            assert r.status == 200 and r.pid, (rnd, name, r, log_lines(
                srv, "FCGIX0008"))
            seen.append((name, r.pid))
            # A process being stopped may linger for a moment.
            running = conftest.wait_for(
                lambda: (lambda p: p if len(p) <= 2 else None)(
                    running_apps(paths)), 3)
            assert running, "more than -maxProcesses run: %r" % (
                running_apps(paths))
    assert len({pid for _, pid in seen}) == len(seen), seen
    assert len(log_lines(srv, "making room for another app")) >= 10
    assert log_lines(srv, "its class is free for another app")
    assert not log_lines(srv, "too many dynamic apps")
