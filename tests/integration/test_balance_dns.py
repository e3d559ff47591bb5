"""A FastCgiExternalServer whose -host names several addresses (issue 14):
with -resolve-interval, the members follow the name.

The name is app.test, given by a hosts file of the test's own: httpd runs
in a private mount namespace (unshare -m) where that file is bind-mounted
over /etc/hosts, and a one-line nsswitch.conf ("hosts: files") over
/etc/nsswitch.conf, so nothing asks a real DNS server and the machine's
files are untouched. The file is edited in place (same inode: a bind
mount follows the inode, so a rename would not be seen). The members are
responders in network namespaces (netns.py), all on port 9000.

The first two tests need only what exists today; the rest need the
feature.
"""

import collections
import subprocess
import time

import pytest

import conftest
import netns
from helpers import fetch

PORT = 9000
NAME = "app.test"
APP = "app.fcgi"
HOSTS_BASE = "127.0.0.1 localhost\n"


@pytest.fixture
def net(request, workdir):
    with netns.Network(workdir, lambda m: conftest.track(request, m)) as n:
        yield n


class PrivateHosts:
    """A hosts file and a files-only nsswitch.conf in workdir, and the
    argv prefix (wrap) that runs a command in a new mount namespace where
    they are /etc/hosts and /etc/nsswitch.conf."""

    def __init__(self, workdir):
        self.path = workdir / "hosts"
        self.nsswitch = workdir / "nsswitch.conf"
        self.nsswitch.write_text("hosts: files\n")
        self.nsswitch.chmod(0o644)
        self.set([])
        self.path.chmod(0o644)          # read by httpd's children too
        self.wrap = ["unshare", "--mount", "--propagation", "private",
                     "sh", "-c",
                     'mount --bind "$1" /etc/hosts && '
                     'mount --bind "$2" /etc/nsswitch.conf && '
                     'shift 2 && exec "$@"',
                     "sh", str(self.path), str(self.nsswitch)]

    def set(self, addresses):
        """NAME resolves to addresses (none: it does not resolve). Written
        in place."""
        with open(self.path, "r+" if self.path.exists() else "w") as f:
            f.truncate(0)
            f.write(HOSTS_BASE + "".join("%s %s\n" % (a, NAME)
                                         for a in addresses))

    def run(self, argv, timeout=10):
        """argv in the mount namespace; its output."""
        return subprocess.run(self.wrap + list(argv), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout,
                              check=True).stdout.decode()


def resolved(getent_output):
    """The addresses `getent ahostsv4` printed, in order, once each."""
    out = []
    for line in getent_output.splitlines():
        words = line.split()
        if words and words[0][0].isdigit() and words[0] not in out:
            out.append(words[0])
    return out


def named_server(httpd, hosts, opts=""):
    """A started httpd in hosts' mount namespace whose <docroot>/app.fcgi
    is FastCgiExternalServer -host app.test:9000 opts."""
    srv = httpd()
    srv.wrap = hosts.wrap
    srv.app_path = srv.docroot / APP
    srv.extra_conf = "FastCgiExternalServer %s -host %s:%d %s" % (
        srv.app_path, NAME, PORT, opts)
    return srv.start()


def who(srv, members, n):
    """n GETs one after another, each a 200; the members' names, in
    order."""
    names = []
    for i in range(n):
        r = fetch(srv, "/%s?pid" % APP, timeout=15)
        assert r.status == 200, (i, r)
        found = [m.name for m in members if r.pid in m.pids]
        assert found, (i, r)
        names.append(found[0])
    return names


def serving_set(srv, members, want, timeout=5.0):
    """Within timeout, four requests in a row are served by exactly the
    members in want (names): the set seen last."""
    seen = set()

    def look():
        seen.clear()
        seen.update(who(srv, members, 4))
        return seen == set(want)
    conftest.wait_for(look, timeout, 0.2)
    return set(seen)


# --- What works today --------------------------------------------------------

def test_private_hosts_file_in_a_mount_namespace(workdir):
    """The harness: inside the wrap, app.test resolves to the test's
    addresses, and an in-place edit reaches a process already running
    there; outside, nothing changed."""
    etc_hosts = open("/etc/hosts").read()
    hosts = PrivateHosts(workdir)
    hosts.set(["10.1.2.3", "10.1.2.4"])
    assert resolved(hosts.run(["getent", "ahostsv4", NAME])) == [
        "10.1.2.3", "10.1.2.4"]
    proc = subprocess.Popen(
        hosts.wrap + ["sh", "-c", "sleep 1; getent ahostsv4 %s" % NAME],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        time.sleep(0.3)
        hosts.set(["10.1.2.9"])
        out = proc.communicate(timeout=10)[0].decode()
    finally:
        conftest.stop_process(proc)
    assert resolved(out) == ["10.1.2.9"], out
    outside = subprocess.run(["getent", "hosts", NAME],
                             stdout=subprocess.PIPE, timeout=10)
    assert outside.returncode == 2, outside       # not found
    assert open("/etc/hosts").read() == etc_hosts


def test_a_name_with_one_address_works_today(httpd, net, workdir):
    """httpd in the mount namespace: -host app.test:9000, the name
    resolved at startup to one namespace's address, is served by it."""
    a = net.responder(PORT)
    hosts = PrivateHosts(workdir)
    hosts.set([a.ns.ip])
    srv = named_server(httpd, hosts)
    assert set(who(srv, [a], 3)) == {a.name}


# --- The feature -------------------------------------------------------------

def test_every_address_of_the_name_serves(httpd, net, workdir):
    """A name with two addresses is two members: both serve."""
    a, b = net.responder(PORT), net.responder(PORT)
    hosts = PrivateHosts(workdir)
    hosts.set([a.ns.ip, b.ns.ip])
    srv = named_server(httpd, hosts, "-resolve-interval 1 "
                       "-balance round-robin")
    count = collections.Counter(who(srv, [a, b], 10))
    assert count == {a.name: 5, b.name: 5}, count


def test_editing_the_hosts_file_changes_the_members(httpd, net, workdir):
    """-resolve-interval 1: an address removed from the name stops
    getting requests, an address added starts, within a few seconds;
    no request fails meanwhile."""
    a, b, c = [net.responder(PORT) for _ in range(3)]
    ms = [a, b, c]
    hosts = PrivateHosts(workdir)
    hosts.set([a.ns.ip, b.ns.ip])
    srv = named_server(httpd, hosts, "-resolve-interval 1 "
                       "-balance round-robin")
    assert serving_set(srv, ms, {a.name, b.name}) == {a.name, b.name}
    hosts.set([a.ns.ip])
    assert serving_set(srv, ms, {a.name}) == {a.name}
    hosts.set([a.ns.ip, c.ns.ip])
    assert serving_set(srv, ms, {a.name, c.name}) == {a.name, c.name}


def test_a_failed_lookup_keeps_the_last_good_set(httpd, net, workdir):
    """The name removed from the hosts file altogether: the lookup fails,
    and the members stay what they were (both serve, 3 s later)."""
    a, b = net.responder(PORT), net.responder(PORT)
    hosts = PrivateHosts(workdir)
    hosts.set([a.ns.ip, b.ns.ip])
    srv = named_server(httpd, hosts, "-resolve-interval 1 "
                       "-balance round-robin")
    assert set(who(srv, [a, b], 4)) == {a.name, b.name}
    hosts.set([])
    assert hosts.run(["sh", "-c", "getent hosts %s; echo rc=$?" % NAME]
                     ).strip() == "rc=2"
    time.sleep(3)
    assert set(who(srv, [a, b], 6)) == {a.name, b.name}
