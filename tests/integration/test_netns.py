"""The network-namespace harness (netns.py) itself, without httpd: each
fault does what the balancing tests rely on (checked with a plain socket
from the root namespace and the FastCGI test client), and everything it
makes is gone afterwards, also when the test using it fails.
"""

import time

import pytest

import conftest
import netns
from fcgi_client import cgi_params, request


@pytest.fixture
def net(request, workdir):
    with netns.Network(workdir, lambda m: conftest.track(request, m)) as n:
        yield n


def ask(member, query="pid", timeout=10):
    """A FastCGI request straight to the member: (seconds, stdout)."""
    t0 = time.monotonic()
    res = request((member.ns.ip, member.port), cgi_params(query=query),
                  timeout=timeout)
    assert res.ok, (member.name, res.error)
    return time.monotonic() - t0, res.stdout


def test_namespaces_are_reachable_and_leave_nothing_behind(workdir):
    """Two namespaces with a responder each: reachable from the root
    namespace at their own address, names within IFNAMSIZ, the pid the
    app's own; after close, `ip netns list`, `ip link` and the processes
    are as before (as far as our names go: other sessions may make or
    delete theirs meanwhile)."""
    before = netns.snapshot()
    assert before == ([], [])
    with netns.Network(workdir) as net:
        a, b = net.responder(), net.responder()
        assert a.ns.ip != b.ns.ip
        for m in (a, b):
            assert max(len(m.ns.name), len(m.ns.root_if),
                       len(m.ns.ns_if)) <= 15
            assert m.ns.name in netns.snapshot()[0]
            assert m.ns.root_if in netns.snapshot()[1]
            assert netns.probe(m.ns.ip, m.port) == "connected"
            _, out = ask(m)
            assert b"pid=%d\n" % m.pid in out
        pids = [a.pid, b.pid]
    assert netns.snapshot() == before
    for pid in pids:
        assert conftest.start_time(pid) is None, "pid %d still runs" % pid


def test_cleanup_when_the_test_fails(workdir):
    """An exception inside the Network (as a failing test raises) still
    deletes the namespaces and stops the apps."""
    before = netns.snapshot()
    pid = None
    with pytest.raises(ZeroDivisionError):
        with netns.Network(workdir) as net:
            m = net.responder()
            pid = m.pid
            m.ns.blackhole()
            1 / 0
    assert netns.snapshot() == before
    assert conftest.start_time(pid) is None


def test_killed_app_is_refused_at_once(net):
    """Member.kill(): connects are refused (RST), not timed out; start()
    brings it back on the same address."""
    m = net.responder()
    m.kill()
    t0 = time.monotonic()
    assert netns.probe(m.ns.ip, m.port, 2.0) == "refused"
    assert time.monotonic() - t0 < 0.5
    m.start()
    assert netns.probe(m.ns.ip, m.port) == "connected"
    assert len(m.pids) == 2


def test_blackhole_times_out_and_restore_undoes_it(net):
    """Namespace.blackhole(): a connect times out, and keeps timing out
    past the kernel's ARP give-up (about 3 s, after which an unresolved
    neighbour is answered with EHOSTUNREACH: a refusal). The app keeps
    running; restore() makes it reachable again."""
    m = net.responder()
    m.ns.blackhole()
    t0 = time.monotonic()
    assert netns.probe(m.ns.ip, m.port, 3.5) == "timeout"
    assert time.monotonic() - t0 >= 3.4
    assert netns.probe(m.ns.ip, m.port, 0.5) == "timeout"
    assert m.proc.alive()
    m.ns.restore()
    assert conftest.wait_for(
        lambda: netns.probe(m.ns.ip, m.port) == "connected", 3)
    ask(m)


def test_throttle_makes_a_slow_member(net):
    """Namespace.throttle(): each small answer takes about 0.2 s instead
    of about a millisecond (the first after idling a little less: the
    bucket is full); clear_qdisc() makes it fast again."""
    m = net.responder()
    fast = min(ask(m)[0] for _ in range(3))
    assert fast < 0.1
    m.ns.throttle()
    slow = [ask(m)[0] for _ in range(3)]
    assert min(slow[1:]) >= 0.15, slow   # the first finds a full bucket
    m.ns.clear_qdisc()
    assert min(ask(m)[0] for _ in range(3)) < 0.1


def test_netem_delay_when_the_kernel_has_it(net):
    """Namespace.delay(ms) with tc netem, where the kernel has sch_netem
    (skipped where it has not: the tests use throttle() then)."""
    m = net.responder()
    if not netns.netem_available(m.ns):
        pytest.skip("no sch_netem in this kernel")
    m.ns.delay(200)
    assert ask(m)[0] >= 0.2
    m.ns.clear_qdisc()
    assert ask(m)[0] < 0.1
