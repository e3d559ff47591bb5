"""Balanced FastCgiExternalServer on this machine alone (127.0.0.1 and
Unix sockets): several -host or -socket members, failover when one is
gone, all members down, -backup, the queue under -max-conns, the status
page's members and the request notes. The faults that need a network
(timeouts, delay, DNS) are in test_balance.py and test_balance_dns.py,
in network namespaces.
"""

import concurrent.futures
import json
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
])
def test_balance_config_errors(httpd, opts, words):
    srv = httpd()
    srv.extra_conf = "FastCgiExternalServer %s/x.fcgi %s" % (srv.docroot,
                                                              opts)
    rc, out = srv.check()
    assert rc != 0, out
    for w in words:
        assert w in out, (w, out)
