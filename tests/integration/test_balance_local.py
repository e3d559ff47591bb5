"""Balanced FastCgiExternalServer on this machine alone (127.0.0.1 and
Unix sockets): several -host or -socket members, failover when one is
gone, all members down, -backup, the queue under -max-conns, the status
page's members and the request notes. The faults that need a network
(timeouts, delay, DNS) are in test_balance.py and test_balance_dns.py,
in network namespaces.
"""

import concurrent.futures
import json
import os
import signal
import re
import time

import pytest

import conftest


def start_members(responder_factory, workdir, n, unix=False):
    """n fcgi_responder processes, each its own member."""
    if unix:
        return [responder_factory(str(workdir / ("m%d.sock" % i)))
                for i in range(n)]
    return [responder_factory("127.0.0.1:%d" % conftest.free_port())
            for _ in range(n)]


def member_opts(members, unix=False):
    if unix:
        return " ".join("-socket %s" % m.address for m in members)
    return " ".join("-host %s" % m.host_port for m in members)


def start_balanced(httpd, members, opts="", unix=False, extra=""):
    srv = httpd()
    srv.extra_conf = "\n".join([
        "FastCgiExternalServer %s/app.fcgi %s %s" % (
            srv.docroot, member_opts(members, unix), opts),
        "<Location /app.fcgi>",
        "    SetHandler fastcgi-script",
        "</Location>",
        "<Location /fcgi-status>",
        "    SetHandler fastcgi-status",
        "</Location>",
        extra])
    srv.start()
    return srv


def served_by(srv, n, path="/app.fcgi?pid"):
    """Send n GETs; the pids that answered, in order."""
    pids = []
    for _ in range(n):
        r = srv.get(path)
        assert r.status == 200, (r.status, r.body)
        pids.append(int(r.body.decode().split("=")[1]))
    return pids


def test_round_robin_spreads_evenly(httpd, responder_factory, workdir):
    members = start_members(responder_factory, workdir, 3)
    srv = start_balanced(httpd, members, "-balance round-robin")
    pids = served_by(srv, 30)
    counts = {m.pid: pids.count(m.pid) for m in members}
    assert all(c == 10 for c in counts.values()), counts


def test_least_conn_uses_every_member(httpd, responder_factory, workdir):
    """Sequential requests are ties (nothing in flight): they take turns."""
    members = start_members(responder_factory, workdir, 3)
    srv = start_balanced(httpd, members)
    pids = served_by(srv, 30)
    counts = {m.pid: pids.count(m.pid) for m in members}
    assert all(c >= 5 for c in counts.values()), counts


def test_first_uses_only_the_first_while_it_is_up(httpd, responder_factory,
                                                  workdir):
    members = start_members(responder_factory, workdir, 2, unix=True)
    srv = start_balanced(httpd, members, "-balance first", unix=True)
    assert set(served_by(srv, 10)) == {members[0].pid}
    members[0].stop()
    assert set(served_by(srv, 10)) == {members[1].pid}


def test_refused_member_costs_no_failed_request(httpd, responder_factory,
                                                workdir):
    """A member whose app is gone refuses: the request goes to the next
    member at once, POST included (nothing reached the app), and the
    member is down for -fail-timeout."""
    members = start_members(responder_factory, workdir, 3)
    srv = start_balanced(httpd, members, "-fail-timeout 30")
    members[1].stop()
    for i in range(20):
        r = srv.post("/app.fcgi?echo", b"body %d" % i)
        assert r.status == 200 and r.body == b"body %d" % i, r
    assert set(served_by(srv, 10)) <= {members[0].pid, members[2].pid}
    log = conftest.read_text(srv.error_log)
    assert re.search(r"FCGIX00801.*member 127\.0\.0\.1:%d is down for 30 s"
                     % members[1].address[1], log), log


def test_all_members_down_is_503_with_retry_after(httpd, responder_factory,
                                                  workdir):
    members = start_members(responder_factory, workdir, 2)
    srv = start_balanced(httpd, members, "-fail-timeout 20")
    for m in members:
        m.stop()
    t0 = time.monotonic()
    r = srv.get("/app.fcgi")
    assert r.status == 503, r
    # Every member known down now: the next answer is immediate.
    r = srv.get("/app.fcgi")
    assert r.status == 503 and time.monotonic() - t0 < 2, r
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 20, r.headers
    assert "FCGIX00802" in conftest.read_text(srv.error_log)


def test_member_comes_back_after_fail_timeout(httpd, responder_factory,
                                              workdir):
    members = start_members(responder_factory, workdir, 2)
    port = members[1].address[1]
    srv = start_balanced(httpd, members, "-fail-timeout 1")
    members[1].stop()
    served_by(srv, 4)   # finds it refused, marks it down
    members[1] = responder_factory("127.0.0.1:%d" % port)
    time.sleep(1.2)
    assert conftest.wait_for(
        lambda: members[1].pid in served_by(srv, 4), 5)
    assert "FCGIX00807" in conftest.read_text(srv.error_log)


def test_backup_only_when_every_primary_is_down(httpd, responder_factory,
                                                workdir):
    members = start_members(responder_factory, workdir, 3)
    primary, backup = members[:2], members[2]
    srv = start_balanced(httpd, primary,
                         "-backup %s -fail-timeout 30" % backup.host_port)
    assert backup.pid not in served_by(srv, 10)
    primary[0].stop()
    assert backup.pid not in served_by(srv, 10)
    primary[1].stop()
    assert set(served_by(srv, 5)) == {backup.pid}


def test_max_conns_queues_then_503(httpd, responder_factory, workdir):
    """-max-conns 1: a second request waits for the member; past
    -queue-timeout it gets 503 with Retry-After."""
    members = start_members(responder_factory, workdir, 1)
    srv = start_balanced(httpd, members, "-max-conns 1 -queue-timeout 1")
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        slow = ex.submit(srv.get, "/app.fcgi?sleep=2500")
        time.sleep(0.3)
        t0 = time.monotonic()
        r = srv.get("/app.fcgi")
        waited = time.monotonic() - t0
        assert slow.result().status == 200
    assert r.status == 503 and "Retry-After" in r.headers, r
    assert 0.9 <= waited < 2.0, waited
    # Within the queue timeout, the waiting request is served.
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        slow = ex.submit(srv.get, "/app.fcgi?sleep=300")
        time.sleep(0.1)
        assert srv.get("/app.fcgi").status == 200
        assert slow.result().status == 200


def test_keep_conn_per_member(httpd, responder_factory, workdir):
    members = start_members(responder_factory, workdir, 2)
    srv = start_balanced(httpd, members, "-keep-conn")
    pids = served_by(srv, 20)
    assert {members[0].pid, members[1].pid} == set(pids), pids


def test_status_page_shows_members(httpd, responder_factory, workdir):
    members = start_members(responder_factory, workdir, 2)
    srv = start_balanced(httpd, members, "-fail-timeout 30")
    members[0].stop()
    served_by(srv, 4)
    auto = srv.get("/fcgi-status?auto").body.decode()
    lines = [ln for ln in auto.splitlines() if ln.startswith("Member: ")]
    assert len(lines) == 2, auto
    down = [ln for ln in lines if members[0].host_port in ln][0]
    up = [ln for ln in lines if members[1].host_port in ln][0]
    assert "state=down" in down and "failures=1" in down, down
    assert "state=up" in up and "served=4" in up, up
    js = json.loads(srv.get("/fcgi-status?json").body)
    ext = [c for c in js["classes"] if c["kind"] == "external"][0]
    states = {m["address"]: m["state"] for m in ext["members"]}
    assert states == {members[0].host_port: "down",
                      members[1].host_port: "up"}, ext


def test_request_notes_name_the_member(httpd, responder_factory, workdir):
    members = start_members(responder_factory, workdir, 2, unix=True)
    srv = start_balanced(
        httpd, members, unix=True,
        extra='LogFormat "%{fastcgi-app}n %{fastcgi-member}n '
              '%{fastcgi-connect-time}n %{fastcgi-first-byte-time}n '
              '%{fastcgi-app-time}n" fcgi\n'
              + 'CustomLog "%s" fcgi' % (workdir / "notes.log"))
    served_by(srv, 4)
    assert conftest.wait_for(
        lambda: (workdir / "notes.log").exists()
        and len((workdir / "notes.log").read_text().splitlines()) >= 4, 5)
    rows = [ln.split() for ln in
            (workdir / "notes.log").read_text().splitlines()]
    for app, member, connect, first, total in rows:
        assert app == "%s/app.fcgi" % srv.docroot
        assert member in (members[0].address, members[1].address)
        assert 0 <= int(connect) <= int(first) <= int(total) < 5_000_000
    assert {r[1] for r in rows} == {m.address for m in members}


@pytest.mark.parametrize("opts,words", [
    ("-host 127.0.0.1:9000 -socket /tmp/x.sock",
     ["-host and -socket exclude each other"]),
    ("-host 127.0.0.1:9000 -balance fastest",
     ["-balance", "'fastest'", "least-conn, round-robin, first"]),
    ("-host 127.0.0.1:9000 -host 127.0.0.1:9000",
     ["-host 127.0.0.1:9000 given twice"]),
    ("-host 127.0.0.1:9000 -backup nowhere",
     ["-backup", "'nowhere' is not host:port"]),
    ("-host 127.0.0.1:9000 -max-fails 0",
     ["-max-fails", "whole number from 1"]),
    ("-host 127.0.0.1:9000 -host 127.0.0.1:9001 -backup 127.0.0.1:9000",
     ["127.0.0.1:9000 is a member and a -backup"]),
    ("-host 127.0.0.1:9000 -health-check ping",
     ["-health-check", "'ping' is not a URL path"]),
    ("-host 127.0.0.1:9000 -health-interval 5",
     ["-health-interval needs -health-check"]),
    ("-socket /tmp/a.sock -socket /tmp/b.sock -resolve-interval 5",
     ["-resolve-interval is for -host names"]),
])
def test_balance_config_errors(httpd, opts, words):
    srv = httpd()
    srv.extra_conf = "FastCgiExternalServer %s/x.fcgi %s" % (srv.docroot,
                                                              opts)
    rc, out = srv.check()
    assert rc != 0, out
    for w in words:
        assert w in out, (w, out)


def member_line(srv, address):
    auto = srv.get("/fcgi-status?auto").body.decode()
    for ln in auto.splitlines():
        if ln.startswith("Member: ") and " address=%s " % address in ln:
            return ln
    return ""


def test_health_check_takes_a_member_down_and_back(httpd, responder_factory,
                                                   workdir):
    """The watcher checks each member with a real request: a member whose
    app is gone is down without any client request meeting it, and is
    up again once its app answers 2xx."""
    members = start_members(responder_factory, workdir, 2)
    port = members[1].address[1]
    srv = start_balanced(httpd, members,
                         "-health-check /ping -health-interval 1 "
                         "-fail-timeout 60")
    assert conftest.wait_for(
        lambda: "FCGIX00820" in conftest.read_text(srv.error_log), 5)
    members[1].stop()
    assert conftest.wait_for(
        lambda: "state=down" in member_line(srv, members[1].host_port), 5), (
        member_line(srv, members[1].host_port))
    assert "health" in member_line(srv, members[1].host_port)
    # Clients never meet it while it is down.
    assert set(served_by(srv, 10)) == {members[0].pid}
    members[1] = responder_factory("127.0.0.1:%d" % port)
    assert conftest.wait_for(
        lambda: "state=up" in member_line(srv, members[1].host_port), 5)
    assert "FCGIX00814" in conftest.read_text(srv.error_log)
    assert members[1].pid in served_by(srv, 10)


def test_health_check_wants_2xx(httpd, responder_factory, workdir):
    """A check whose answer is not 2xx fails (here the app answers 503)."""
    members = start_members(responder_factory, workdir, 2)
    srv = start_balanced(httpd, members,
                         "-health-check /ping?status=503 "
                         "-health-interval 1 -fail-timeout 60")
    assert conftest.wait_for(
        lambda: all("state=down" in member_line(srv, m.host_port)
                    for m in members), 5)
    assert "status%20503" in member_line(srv, members[0].host_port)
    r = srv.get("/app.fcgi")
    assert r.status == 503 and "Retry-After" in r.headers


def test_watcher_stops_with_httpd_and_restarts_per_generation(
        httpd, responder_factory, workdir):
    members = start_members(responder_factory, workdir, 2)
    srv = start_balanced(httpd, members, "-health-check /ping")
    pids = re.findall(r"FastCGI watcher started \(pid (\d+)\)",
                      conftest.read_text(srv.error_log))
    assert len(pids) == 1
    os.kill(srv.pid, signal.SIGUSR1)  # graceful restart
    assert conftest.wait_for(lambda: len(re.findall(
        r"FastCGI watcher started", conftest.read_text(srv.error_log))) == 2,
        10)
    old = int(pids[0])
    assert conftest.wait_for(lambda: not os.path.exists("/proc/%d" % old), 5)
    new = int(re.findall(r"FastCGI watcher started \(pid (\d+)\)",
                         conftest.read_text(srv.error_log))[-1])
    srv.stop()
    assert conftest.wait_for(lambda: not os.path.exists("/proc/%d" % new), 5)


def test_member_state_survives_graceful_restart(httpd, responder_factory,
                                                workdir):
    """What the board knows of each member (down, its failures, what it
    served) is kept across a graceful restart: the new children do not
    send requests to a member known down."""
    members = start_members(responder_factory, workdir, 2)
    srv = start_balanced(httpd, members, "-fail-timeout 60")
    members[0].stop()
    served_by(srv, 6)
    before = member_line(srv, members[0].host_port)
    assert "state=down" in before and "failures=1" in before, before
    served = re.search(r"served=(\d+)",
                       member_line(srv, members[1].host_port)).group(1)
    os.kill(srv.pid, signal.SIGUSR1)  # graceful restart
    assert conftest.wait_for(lambda: conftest.read_text(
        srv.error_log).count("FCGIX00809") >= 2, 10)
    after = member_line(srv, members[0].host_port)
    assert "state=down" in after and "failures=1" in after, after
    assert ("served=%s" % served) in member_line(srv, members[1].host_port)
    log_before = conftest.read_text(srv.error_log).count("FCGIX0080")
    assert set(served_by(srv, 6)) == {members[1].pid}
    # No request met the down member again: no new failure was logged.
    assert conftest.read_text(srv.error_log).count("FCGIX0080") == \
        log_before


def test_child_killed_mid_request_gives_its_place_back(httpd,
                                                       responder_factory,
                                                       workdir):
    """An httpd child killed while a request to a member is in flight
    never says the request ended: httpd's parent gives its place back.
    Before, the member kept counting it, and under -max-conns 1 every
    later request waited out -queue-timeout and got 503."""
    members = start_members(responder_factory, workdir, 1)
    srv = start_balanced(httpd, members, "-max-conns 1 -queue-timeout 1")
    pm = int(re.search(r"process manager started \(pid (\d+)",
                       conftest.read_text(srv.error_log)).group(1))
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        slow = ex.submit(srv.get, "/app.fcgi?sleep=3000")
        time.sleep(0.5)
        workers = [pid for pid, _ in conftest.descendants(srv.pid)
                   if pid != pm]
        assert workers
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(Exception):
            slow.result()
    assert conftest.wait_for(
        lambda: "FCGIX00822" in conftest.read_text(srv.error_log), 10)
    r = srv.get("/app.fcgi")
    assert r.status == 200, r
    # The app's statistics do not count the dead request in flight either.
    js = json.loads(srv.get("/fcgi-status?json").body)
    ext = [c for c in js["classes"] if c["kind"] == "external"][0]
    assert ext["stats"]["in_flight"] == 0, ext["stats"]


def test_a_name_is_every_address_it_has(httpd, responder_factory, workdir):
    """-host localhost:PORT stands for every address localhost has here
    (127.0.0.1 and, where the machine has it, ::1); the status page says
    which name each member came from and how long ago it resolved. The
    responder listens on 127.0.0.1 only: every request is served there,
    an IPv6 member is passed over."""
    port = conftest.free_port()
    app = responder_factory("127.0.0.1:%d" % port)
    srv = httpd()
    srv.extra_conf = "\n".join([
        "FastCgiExternalServer %s/app.fcgi -host localhost:%d "
        "-resolve-interval 1 -fail-timeout 60" % (srv.docroot, port),
        "<Location /app.fcgi>", "    SetHandler fastcgi-script",
        "</Location>", "<Location /fcgi-status>",
        "    SetHandler fastcgi-status", "</Location>"])
    srv.start()
    started = time.monotonic()
    assert set(served_by(srv, 6)) == {app.pid}
    time.sleep(2.5)   # the watcher resolves the name again every second
    auto = srv.get("/fcgi-status?auto").body.decode()
    lines = [ln for ln in auto.splitlines() if ln.startswith("Member: ")]
    assert any(" address=127.0.0.1:%d " % port in ln for ln in lines), auto
    for ln in lines:
        assert " name=localhost:%d " % port in ln, ln
        resolved = float(re.search(r" resolved=([0-9.]+)", ln).group(1))
        # more recently than at startup: the watcher's doing
        assert resolved < time.monotonic() - started - 0.5, ln
    js = json.loads(srv.get("/fcgi-status?json").body)
    ext = [c for c in js["classes"] if c["kind"] == "external"][0]
    assert all(m["name"] == "localhost:%d" % port and m["resolved"] >= 0
               for m in ext["members"]), ext


def test_no_member_resolved_is_503_naming_the_app(httpd):
    """A balanced server whose only name does not resolve at startup
    (and is not resolved again) has no member: startup says so
    (FCGIX00800), and each request gets 503 with Retry-After, logged
    with the app's path (FCGIX00808)."""
    srv = start_balanced_names(httpd, "-host nothere.invalid:9000 "
                                      "-balance first")
    r = srv.get("/app.fcgi")
    assert r.status == 503 and r.headers.get("Retry-After"), r
    log = conftest.read_text(srv.error_log)
    assert "FCGIX00800" in log and "nothere.invalid:9000" in log, log
    assert re.search(r"FCGIX00808: FastCGI app %s/app\.fcgi: it has no "
                     r"member" % re.escape(str(srv.docroot)), log), log


def start_balanced_names(httpd, opts):
    srv = httpd()
    srv.extra_conf = "\n".join([
        "FastCgiExternalServer %s/app.fcgi %s" % (srv.docroot, opts),
        "<Location /app.fcgi>", "    SetHandler fastcgi-script",
        "</Location>"])
    srv.start()
    return srv


def test_authorizer_with_no_member_denies_naming_the_app(httpd):
    """The same as an access checker: the request is denied (never
    granted) and the log names the app (before, the 503 came unlogged)."""
    srv = httpd()
    check = "%s/check.fcgi" % srv.docroot
    (srv.docroot / "page.txt").write_text("private\n")
    srv.extra_conf = "\n".join([
        "FastCgiExternalServer %s -host nothere.invalid:9000 -balance first"
        % check,
        "<Location /page.txt>", "    FastCgiAccessChecker %s" % check,
        "</Location>"])
    srv.start()
    r = srv.get("/page.txt")
    assert r.status >= 500 and b"private" not in r.body, r
    assert re.search(r"FCGIX00808: FastCGI app %s: it has no member"
                     % re.escape(check),
                     conftest.read_text(srv.error_log))
