"""Several members behind one FastCgiExternalServer (issue 14): balancing,
failover, backups, limits, the status page and the access log.

Each member is a real app server (build/fcgi_responder, or php-fpm with
tests/apps/php_record.php where a test must see what reached the app) in
a network namespace of its own, reached over a veth pair (netns.py), so
that faults are real: a killed app refuses connects, a blackholed
namespace lets them time out, a throttled one answers slowly.

Which member served a request: the responder answers ?pid with its pid
(Member.pids holds every pid a member ran as), php_record.php with
"member=<name>" and a JSON line per request in <records>/<name>.log.

The first two tests need only what exists today (one -host, in a
namespace), and so does the -host/-socket config error; the rest need the
feature. Slow members: tc netem delay where the kernel has sch_netem,
else a throttled link (netns.py says why).
"""

import collections
import json
import os
import re
import shutil
import threading
import time

import pytest

import conftest
import netns
from helpers import fetch, raw_request, wait_log

CONNECT_TIMEOUT = 2          # -appConnTimeout of the tests that time it
APP = "app.fcgi"
PHP_RECORD = conftest.REPO / "tests" / "apps" / "php_record.php"

STATUS_CONF = """<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>"""


@pytest.fixture
def net(request, workdir):
    with netns.Network(workdir, lambda m: conftest.track(request, m)) as n:
        yield n


# --- Servers -----------------------------------------------------------------

def options(flag, members):
    return " ".join("%s %s" % (flag, m.address) for m in members)


def balanced(httpd, members, opts="", backups=(), script=APP, extra=""):
    """A started httpd whose <docroot>/<script> is one
    FastCgiExternalServer with a -host per member (and a -backup per
    backup), plus the status page at /fcgi-status. A config the module
    refuses fails the test with its error (conftest's Httpd.start)."""
    srv = httpd()
    srv.app_path = srv.docroot / script
    if script.endswith(".php"):
        shutil.copy(PHP_RECORD, srv.app_path)
        os.chmod(srv.app_path, 0o644)
    srv.extra_conf = "\n".join([
        "FastCgiExternalServer %s %s %s %s" % (
            srv.app_path, options("-host", members),
            options("-backup", backups), opts),
        STATUS_CONF, extra])
    return srv.start()


def php_members(net, workdir, n):
    """n php-fpm members running php_record.php; (records dir, members)."""
    records = workdir / "records"
    records.mkdir()
    os.chmod(records, 0o777)               # written by php-fpm's www-data
    return records, [net.php_fpm({"RECORD_DIR": str(records)})
                     for _ in range(n)]


def php_server(httpd, members, opts=""):
    """balanced() with php_record.php as the app, at /rec.php."""
    return balanced(httpd, members, opts, script="rec.php")


def records(directory):
    """{member name: [{"method", "query", "body"}, ...]} from the
    php_record.php logs."""
    out = {}
    for path in sorted(directory.glob("*.log")):
        out[path.stem] = [json.loads(line) for line in
                          path.read_text().splitlines() if line.strip()]
    return out


def times_recorded(directory, key, value):
    """How often any member recorded a request whose key is value."""
    return sum(1 for recs in records(directory).values() for rec in recs
               if rec[key] == value)


# --- Who served --------------------------------------------------------------

def served_by(members, result):
    """The name of the member that answered result, or None."""
    if result.status != 200:
        return None
    pid = result.pid
    if pid is not None:
        for m in members:
            if pid in m.pids:
                return m.name
    m = re.search(rb"member=(\S+)\n", result.body or b"")
    return m.group(1).decode() if m else None


def spread(srv, members, n, path="/%s?pid" % APP):
    """n GETs one after another, each a 200 from a member; the names of
    the members that served them, in order."""
    names = []
    for i in range(n):
        r = fetch(srv, path, timeout=15)
        assert r.status == 200, (i, r)
        name = served_by(members, r)
        assert name, (i, r)
        names.append(name)
    return names


class Load:
    """`clients` threads sending GET path for `seconds`, each pausing
    `pause` s between its requests; join() waits (bounded) and returns
    [(start, end, Result)]."""

    def __init__(self, srv, path, clients, seconds, pause=0.0):
        self.results = []
        self.lock = threading.Lock()
        self.stop_at = time.monotonic() + seconds
        self.threads = [threading.Thread(target=self._client,
                                         args=(srv, path, pause),
                                         daemon=True)
                        for _ in range(clients)]
        for t in self.threads:
            t.start()

    def _client(self, srv, path, pause):
        while time.monotonic() < self.stop_at:
            t0 = time.monotonic()
            r = fetch(srv, path, timeout=15)
            with self.lock:
                self.results.append((t0, time.monotonic(), r))
            time.sleep(pause)

    def join(self):
        for t in self.threads:
            t.join(max(0.0, self.stop_at - time.monotonic()) + 20)
        assert not any(t.is_alive() for t in self.threads), "client hung"
        return list(self.results)


# --- The status page ---------------------------------------------------------

def auto_members(srv, path):
    """The Member lines that follow path's Class line in ?auto, as
    dicts."""
    r = srv.get("/fcgi-status?auto")
    assert r.status == 200, r
    lines = r.body.decode().splitlines()
    start = [i for i, line in enumerate(lines)
             if line.startswith("Class: ") and " path=%s " % path in line]
    assert len(start) == 1, "no Class line for %s:\n%s" % (path, r.body)
    out = []
    for line in lines[start[0] + 1:]:
        if not line.startswith("Member: "):
            break
        out.append(dict(f.split("=", 1) for f in line[8:].split(" ")))
    return out


def json_class(srv, path):
    r = srv.get("/fcgi-status?json")
    assert r.status == 200, r
    found = [c for c in json.loads(r.body)["classes"]
             if c["path"] == str(path)]
    assert len(found) == 1, found
    return found[0]


def member_state(srv, member):
    lines = [m for m in auto_members(srv, srv.app_path)
             if m["address"] == member.address]
    assert len(lines) == 1, lines
    return lines[0]


# --- What works today: one -host in a namespace ------------------------------

def test_single_host_in_a_namespace_works_today(httpd, net):
    """One -host on a namespace's address: served by that app, and the
    status page names the address (the baseline of every test below)."""
    m = net.responder()
    srv = balanced(httpd, [m], "-appConnTimeout %d" % CONNECT_TIMEOUT)
    assert fetch(srv, "/%s" % APP).body == b"hello\n"
    r = fetch(srv, "/%s?pid" % APP)
    assert r.status == 200 and r.pid == m.pid, r
    auto = srv.get("/fcgi-status?auto").body.decode()
    assert re.search(r"^Class: kind=external path=%s address=%s "
                     % (re.escape(str(srv.app_path)), re.escape(m.address)),
                     auto, re.M), auto


def test_php_fpm_member_records_each_request_today(httpd, net, workdir):
    """php-fpm in a namespace behind one -host: php_record.php records
    each request once, body included, and with its .die flag records the
    request and dies before answering, which the module maps to 502 (the
    oracle of the POST tests)."""
    recs, (m,) = php_members(net, workdir, 1)
    srv = php_server(httpd, [m])
    r = srv.post("/rec.php", b"id=p1",
                 headers={"Content-Type": "text/plain"})
    assert r.status == 200 and r.body == b"member=%s\n" % m.name.encode()
    assert fetch(srv, "/rec.php?id=g1").status == 200
    (recs / ("%s.die" % m.name)).touch()
    r = srv.post("/rec.php", b"id=p2",
                 headers={"Content-Type": "text/plain"}, timeout=15)
    assert r.status == 502, r
    assert not (recs / ("%s.die" % m.name)).exists()
    assert records(recs) == {m.name: [
        {"method": "POST", "query": "", "body": "id=p1"},
        {"method": "GET", "query": "id=g1", "body": ""},
        {"method": "POST", "query": "", "body": "id=p2"}]}
    assert fetch(srv, "/rec.php?id=g2").status == 200   # php-fpm recovered


# --- Balancing ---------------------------------------------------------------

def test_least_conn_by_default_spreads_over_every_member(httpd, net):
    """Without -balance (least-conn), one request at a time: every member
    is idle each time, and ties go round-robin, so each serves about a
    third."""
    ms = [net.responder() for _ in range(3)]
    srv = balanced(httpd, ms)
    count = collections.Counter(spread(srv, ms, 30))
    assert set(count) == {m.name for m in ms}, count
    assert min(count.values()) >= 5, count


def test_round_robin_takes_turns(httpd, net):
    """-balance round-robin: any three requests in a row go to three
    different members; each serves 10 of 30."""
    ms = [net.responder() for _ in range(3)]
    srv = balanced(httpd, ms, "-balance round-robin")
    names = spread(srv, ms, 30)
    for i in range(len(names) - 2):
        assert len(set(names[i:i + 3])) == 3, names
    assert collections.Counter(names) == {m.name: 10 for m in ms}


def test_first_uses_only_the_first_healthy_member(httpd, net):
    """-balance first: the first member serves everything; when it is
    killed, the second one does (not the third)."""
    ms = [net.responder() for _ in range(3)]
    srv = balanced(httpd, ms, "-balance first -fail-timeout 30")
    assert set(spread(srv, ms, 10)) == {ms[0].name}
    ms[0].kill()
    assert set(spread(srv, ms, 10)) == {ms[1].name}


def test_several_socket_members(httpd, responder_factory):
    """-socket repeated: Unix-socket members share the load the same way
    (round-robin: both serve half)."""
    a, b = responder_factory(), responder_factory()
    for r in (a, b):
        r.name, r.pids = "sock-%d" % r.pid, {r.pid}
    srv = httpd()
    srv.app_path = srv.docroot / APP
    srv.extra_conf = "FastCgiExternalServer %s -socket %s -socket %s " \
        "-balance round-robin" % (srv.app_path, a.address, b.address)
    srv.start()
    count = collections.Counter(spread(srv, [a, b], 10))
    assert count == {a.name: 5, b.name: 5}, count


def test_least_conn_sends_less_to_a_slow_member(httpd, net):
    """least-conn under concurrent load (6 clients, 4 s) with one member
    slowed (netem delay 200 ms where the kernel has it, else a 16 kbit/s
    link: about 0.2 s per answer, more when several wait): requests stay
    in flight longer there, so it gets well under a third of them, and
    less than half of what each fast member gets."""
    ms = [net.responder() for _ in range(3)]
    slow = ms[0]
    if netns.netem_available(slow.ns):
        slow.ns.delay(200)
    else:
        slow.ns.throttle()
    srv = balanced(httpd, ms, "-balance least-conn")
    results = Load(srv, "/%s?pid" % APP, 6, 4.0).join()
    assert all(r.status == 200 for _, _, r in results), [
        r for _, _, r in results if r.status != 200][:5]
    count = collections.Counter(served_by(ms, r) for _, _, r in results)
    fast = min(count[m.name] for m in ms[1:])
    assert count[slow.name] * 2 < fast, count
    assert count[slow.name] < sum(count.values()) / 6, count


# --- Failover ----------------------------------------------------------------

def test_no_failed_get_while_a_member_is_killed(httpd, net):
    """4 clients for 3 s; one member's app is killed after 1 s. No GET
    fails (a refused connect goes to another member at once), the killed
    member serves nothing afterwards, and the error log names it."""
    ms = [net.responder() for _ in range(3)]
    srv = balanced(httpd, ms, "-fail-timeout 30 -appConnTimeout %d"
                   % CONNECT_TIMEOUT)
    load = Load(srv, "/%s?pid" % APP, 4, 3.0, pause=0.01)
    time.sleep(1.0)
    ms[1].kill()
    killed_at = time.monotonic()
    results = load.join()
    failed = [r for _, _, r in results if r.status != 200]
    assert not failed, failed[:5]
    after = [served_by(ms, r) for t0, _, r in results if t0 > killed_at]
    assert after and ms[1].name not in after
    assert {ms[0].name, ms[2].name} <= set(after)
    assert wait_log(srv, ms[1].address), "no log line names %s" % (
        ms[1].address)


def test_blackholed_member_costs_one_connect_timeout_once(httpd, net):
    """A member whose SYNs are dropped: the first request that meets it
    waits one -appConnTimeout (2 s) and is then served by another
    member; the member is down for -fail-timeout, so later requests are
    fast. Nothing fails."""
    ms = [net.responder() for _ in range(3)]
    srv = balanced(httpd, ms, "-balance round-robin -fail-timeout 30 "
                   "-appConnTimeout %d" % CONNECT_TIMEOUT)
    spread(srv, ms, 3)
    ms[1].ns.blackhole()
    results = [fetch(srv, "/%s?pid" % APP, timeout=15) for _ in range(12)]
    assert all(r.status == 200 for r in results), results
    assert ms[1].name not in [served_by(ms, r) for r in results]
    slow = [r for r in results if r.seconds > 1.0]
    assert len(slow) == 1, results
    assert CONNECT_TIMEOUT - 0.2 <= slow[0].seconds <= CONNECT_TIMEOUT + 1.0
    assert max(r.seconds for r in results if r is not slow[0]) < 0.5


def test_post_goes_to_another_member_when_one_refuses(httpd, net, workdir):
    """A member that refuses the connection got nothing, so a POST is
    sent to another member at once: every POST succeeds and reaches an
    app exactly once, body intact."""
    recs, ms = php_members(net, workdir, 3)
    srv = php_server(httpd, ms, "-balance round-robin -fail-timeout 30")
    ms[1].kill()
    for i in range(9):
        body = b"post-%d" % i
        r = srv.post("/rec.php", body,
                     headers={"Content-Type": "text/plain"})
        assert r.status == 200, (i, r)
        assert times_recorded(recs, "body", body.decode()) == 1, (
            i, records(recs))
    assert ms[1].name not in records(recs)


def test_post_whose_body_reached_the_app_is_not_retried(httpd, net,
                                                        workdir):
    """A POST whose app dies after reading the body and before answering
    is not sent to another member (that would run it twice): the client
    gets an error, and the app saw it once."""
    recs, ms = php_members(net, workdir, 2)
    srv = php_server(httpd, ms, "-balance round-robin")
    (recs / ("%s.die" % ms[0].name)).touch()
    statuses = {}
    for i in range(4):
        body = "post-%d" % i
        statuses[body] = srv.post("/rec.php", body.encode(),
                                  headers={"Content-Type": "text/plain"},
                                  timeout=15).status
    died = records(recs)[ms[0].name][0]["body"]
    assert statuses[died] in (502, 503), statuses
    assert [s for b, s in statuses.items() if b != died] == [200] * 3
    assert times_recorded(recs, "body", died) == 1, records(recs)


def test_get_closed_before_any_response_byte_is_retried(httpd, net,
                                                        workdir):
    """A bodiless GET whose app dies before sending a byte is safe to
    repeat: it is sent to another member and the client gets a 200."""
    recs, ms = php_members(net, workdir, 2)
    srv = php_server(httpd, ms, "-balance round-robin")
    (recs / ("%s.die" % ms[0].name)).touch()
    for i in range(4):
        r = fetch(srv, "/rec.php?id=g%d" % i, timeout=15)
        assert r.status == 200, (i, r)
    died = records(recs)[ms[0].name][0]["query"]
    assert [rec["query"] for rec in records(recs)[ms[1].name]].count(
        died) == 1, records(recs)


def test_get_is_not_retried_once_response_bytes_arrived(httpd, net):
    """A GET whose app sent part of its answer and then died is not sent
    to another member (the client has bytes of this answer already): the
    client gets a visibly cut response, and of two members, each of
    which would die of this request, only one did."""
    ms = [net.responder() for _ in range(2)]
    srv = balanced(httpd, ms, "-balance round-robin -fail-timeout 30")
    r = raw_request(srv, "GET", "/%s?pid&crash=after" % APP)
    assert not r.timed_out and r.status == 200 and r.complete is False, r
    assert conftest.wait_for(
        lambda: [m for m in ms if not m.proc.alive()], 5)
    assert len([m for m in ms if m.proc.alive()]) == 1


def test_killed_member_is_used_again_after_fail_timeout(httpd, net):
    """A member found dead is left alone for -fail-timeout (2 s), then
    gets a trial request; restarted meanwhile, it serves again, within
    -fail-timeout plus a little."""
    ms = [net.responder() for _ in range(2)]
    srv = balanced(httpd, ms, "-balance round-robin -fail-timeout 2")
    ms[1].kill()
    failed_at = time.monotonic()
    assert set(spread(srv, ms, 4)) == {ms[0].name}
    ms[1].start()
    back_at = None
    deadline = failed_at + 2 + 4
    while back_at is None and time.monotonic() < deadline:
        r = fetch(srv, "/%s?pid" % APP, timeout=15)
        assert r.status == 200, r
        if served_by(ms, r) == ms[1].name:
            back_at = time.monotonic()
        time.sleep(0.1)
    assert back_at, "the restarted member never served again"
    assert back_at - failed_at >= 1.5, "used again before -fail-timeout"


def test_max_fails_counts_consecutive_failures(httpd, net):
    """-max-fails 2: one failed connect leaves the member up (the status
    page counts the failure); the second marks it down."""
    ms = [net.responder() for _ in range(2)]
    srv = balanced(httpd, ms, "-balance round-robin -max-fails 2 "
                   "-fail-timeout 30")
    ms[1].kill()
    seen_up_with_a_failure = False
    for _ in range(10):
        assert fetch(srv, "/%s?pid" % APP).status == 200
        st = member_state(srv, ms[1])
        if st["state"] == "down":
            break
        if int(st["failures"]) >= 1:
            seen_up_with_a_failure = True
    assert st["state"] == "down" and int(st["failures"]) >= 2, st
    assert seen_up_with_a_failure


def test_all_members_refusing_gives_503_with_retry_after(httpd, net):
    """Every member refuses: 503 with Retry-After, at once."""
    ms = [net.responder() for _ in range(2)]
    srv = balanced(httpd, ms, "-appConnTimeout %d" % CONNECT_TIMEOUT)
    for m in ms:
        m.kill()
    for _ in range(3):
        r = fetch(srv, "/%s?pid" % APP, timeout=15)
        assert r.status == 503 and r.headers.get("Retry-After"), r
        assert r.seconds < 1.0, r


def test_all_members_blackholed_gives_503_within_connect_timeout(httpd,
                                                                 net):
    """Every member drops SYNs: each request gets 503 with Retry-After
    within one -appConnTimeout (plus 1 s), never a hang: the members one
    request tries share one -appConnTimeout. A member no request has
    tried yet may cost the next request that much again; once every
    member is known down, 503 comes at once."""
    ms = [net.responder() for _ in range(3)]
    srv = balanced(httpd, ms, "-appConnTimeout %d -fail-timeout 30"
                   % CONNECT_TIMEOUT)
    for m in ms:
        m.ns.blackhole()
    for _ in range(len(ms)):
        r = fetch(srv, "/%s?pid" % APP, timeout=15)
        assert r.status == 503 and r.headers.get("Retry-After"), r
        assert r.seconds <= CONNECT_TIMEOUT + 1.0, r
        if r.seconds < 1.0:
            break
    r = fetch(srv, "/%s?pid" % APP, timeout=15)
    assert r.status == 503 and r.headers.get("Retry-After"), r
    assert r.seconds < 1.0, r


def test_backup_only_while_no_primary_is_up(httpd, net):
    """-backup: idle while any primary is up (one of two killed), serves
    everything once both are down, and is idle again when a primary is
    back after -fail-timeout."""
    p0, p1, b = [net.responder() for _ in range(3)]
    ms = [p0, p1, b]
    srv = balanced(httpd, [p0, p1], "-fail-timeout 2", backups=[b])
    assert b.name not in spread(srv, ms, 10)
    p0.kill()
    assert set(spread(srv, ms, 6)) == {p1.name}
    p1.kill()
    assert set(spread(srv, ms, 6)) == {b.name}
    p0.start()
    p1.start()
    assert conftest.wait_for(
        lambda: spread(srv, ms, 1)[0] != b.name, 2 + 4, 0.2)
    assert b.name not in spread(srv, ms, 6)


# --- Limits and kept connections ---------------------------------------------

def test_max_conns_queue_timeout_gives_503_to_the_request_that_waited(
        httpd, net):
    """-max-conns 1 -queue-timeout 1, two members, a slow app (2.5 s):
    two concurrent requests take one member each; a third waits 1 s for
    a free member, then gets 503 with Retry-After."""
    ms = [net.responder() for _ in range(2)]
    srv = balanced(httpd, ms, "-max-conns 1 -queue-timeout 1")
    out = [None] * 3

    def one(i):
        out[i] = fetch(srv, "/%s?pid&sleep=2500" % APP, timeout=15)

    threads = []
    for i in range(3):
        threads.append(threading.Thread(target=one, args=(i,), daemon=True))
        threads[-1].start()
        time.sleep(0.2)
    for t in threads:
        t.join(20)
    assert all(r is not None for r in out), out
    ok = [r for r in out if r.status == 200]
    refused = [r for r in out if r.status == 503]
    assert len(ok) == 2 and len(refused) == 1, out
    assert {served_by(ms, r) for r in ok} == {m.name for m in ms}
    assert refused[0].headers.get("Retry-After"), refused
    assert 0.8 <= refused[0].seconds <= 2.0, refused


def test_keep_conn_with_several_members(httpd, net):
    """-keep-conn with two members: every request is served and both
    members serve; when one is killed, its kept connection breaks, and
    GETs (nothing reached the app) still all succeed."""
    ms = [net.responder() for _ in range(2)]
    srv = balanced(httpd, ms, "-keep-conn -balance round-robin "
                   "-fail-timeout 30")
    count = collections.Counter(spread(srv, ms, 20))
    assert count == {ms[0].name: 10, ms[1].name: 10}, count
    ms[1].kill()
    assert set(spread(srv, ms, 10)) == {ms[0].name}


# --- Status page and logs ----------------------------------------------------

def test_status_page_lists_each_member_with_its_state(httpd, net):
    """?auto: one Member line per member right after the class's Class
    line, the killed one down with its failure; ?json: the same in the
    class's "members"."""
    ms = [net.responder() for _ in range(3)]
    srv = balanced(httpd, ms, "-balance round-robin -fail-timeout 30")
    spread(srv, ms, 6)
    ms[2].kill()
    spread(srv, ms, 6)
    auto = auto_members(srv, srv.app_path)
    assert [m["address"] for m in auto] == [m.address for m in ms], auto
    for m, line in zip(ms, auto):
        assert line["path"] == str(srv.app_path)
        assert line["backup"] == "0" and line["in_flight"] == "0"
        if m is ms[2]:
            # it went down: since then, in seconds
            assert float(line["since"]) >= 0, line
            assert line["state"] == "down", line
            assert int(line["failures"]) >= 1 and line["last_error"] != "-"
        else:
            # never changed state: no "since"
            assert line["state"] == "up" and line["last_error"] == "-", line
            assert line["since"] == "-", line
    # 2 each before the kill; the 6 after it went to the other two
    served = [int(line["served"]) for line in auto]
    assert served[2] == 2 and sum(served) == 12 and min(served) >= 2, auto

    js = json_class(srv, srv.app_path)["members"]
    assert [m["address"] for m in js] == [m.address for m in ms], js
    assert [m["state"] for m in js] == ["up", "up", "down"], js
    assert [m["backup"] for m in js] == [False] * 3
    assert js[0]["last_error"] is None and js[2]["last_error"], js
    assert js[2]["failures"] >= 1, js
    assert [m["served"] for m in js] == served, js
    assert all(m["in_flight"] == 0 for m in js), js
    assert js[0]["since"] is None and js[2]["since"] >= 0, js


def test_access_log_names_the_member_that_served(httpd, net):
    """LogFormat %{fastcgi-member}n is the address of the member that
    answered; fastcgi-app is the app's path; the three times are
    microsecond counts (under 5 s here)."""
    ms = [net.responder() for _ in range(2)]
    log = "access_log"
    srv = balanced(httpd, ms, "-balance round-robin", extra="\n".join([
        'LogFormat "%q %{fastcgi-app}n %{fastcgi-member}n '
        '%{fastcgi-connect-time}n %{fastcgi-first-byte-time}n '
        '%{fastcgi-app-time}n" balance',
        'CustomLog "logs/%s" balance' % log]))
    answered = {}
    for i in range(6):
        r = fetch(srv, "/%s?pid&n=%d" % (APP, i))
        assert r.status == 200, r
        answered["?pid&n=%d" % i] = served_by(ms, r)
    path = srv.root / "logs" / log
    lines = conftest.wait_for(
        lambda: path.exists() and len(path.read_text().splitlines()) >= 6
        and path.read_text().splitlines(), 5)
    assert lines, "no access log lines"
    by_address = {m.address: m.name for m in ms}
    for line in lines:
        query, app, member, conn_t, first_t, app_t = line.split(" ")
        assert app == str(srv.app_path), line
        assert by_address.get(member) == answered[query], line
        for t in (conn_t, first_t, app_t):
            assert t.isdigit() and int(t) < 5000000, line


# --- Configuration errors ----------------------------------------------------

def test_host_and_socket_in_one_definition_is_an_error(httpd):
    """-host and -socket are not mixed in one definition."""
    srv = httpd("FastCgiExternalServer /srv/x.fcgi -host 10.0.0.1:9000 "
                "-socket /run/x.sock")
    rc, out = srv.check()
    assert rc != 0, out
    assert "-host" in out and "-socket" in out, out


def test_unknown_balance_is_an_error_naming_the_choices(httpd):
    """-balance bogus: an error naming the value and the three
    choices."""
    srv = httpd("FastCgiExternalServer /srv/x.fcgi -host 10.0.0.1:9000 "
                "-host 10.0.0.2:9000 -balance bogus")
    rc, out = srv.check()
    assert rc != 0, out
    for word in ("-balance", "bogus", "least-conn", "round-robin", "first"):
        assert word in out, (word, out)
