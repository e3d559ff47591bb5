"""The status page on a shared host (issue 12, item 6): two name-based
virtual hosts on one port, each a tenant with a FastCgiServer pool, a
dynamic app and a FastCgiExternalServer of its own, and a status page
set up from its own .htaccess (SetHandler fastcgi-status). Each host's
page lists only its own applications, pids and sockets, unless
FastCgiStatusShowAll On widens the view (server config or virtual host;
not .htaccess).
"""

import json

import pytest

import conftest
from helpers import AUTO_LINE, MOD_STATUS, install, start

HOSTS = ("a.test", "b.test")


class Tenant:
    def __init__(self, srv, name, responder):
        self.host = name
        self.root = srv.root / "vhosts" / name
        self.pool = self.root / "pool.fcgi"
        self.dyn = self.root / "dyn" / "d.fcgi"
        self.ext = self.root / "ext.fcgi"
        self.ext_socket = responder.address
        (self.root / "dyn").mkdir(parents=True, mode=0o755)
        (self.root / "status").mkdir(mode=0o755)
        (self.root / "status" / ".htaccess").write_text(
            "SetHandler fastcgi-status\n")
        install(conftest.RESPONDER, self.pool)
        install(conftest.RESPONDER, self.dyn)

    def paths(self):
        return {str(self.pool), str(self.dyn), str(self.ext)}

    def vhost(self, port, extra=""):
        return "\n".join([
            "<VirtualHost 127.0.0.1:%d>" % port,
            "    ServerName %s" % self.host,
            '    DocumentRoot "%s"' % self.root,
            "    FastCgiServer %s -processes 1" % self.pool,
            "    FastCgiExternalServer %s -socket %s" % (self.ext,
                                                       self.ext_socket),
            "    " + extra,
            "</VirtualHost>"])


def shared_host(httpd, responder_factory, extra_a="", extra=""):
    """An httpd with the tenants a.test and b.test, started, with every
    pool up and each dynamic app started by a request of its host.
    Returns (srv, {host: Tenant})."""
    srv = httpd()
    tenants = {h: Tenant(srv, h, responder_factory()) for h in HOSTS}
    srv.extra_conf = "\n".join([
        "FastCgiConfig -minProcesses 0",
        '<Directory "%s">' % (srv.root / "vhosts"),
        "    Require all granted",
        "    AllowOverride FileInfo",
        "    Options +ExecCGI",
        "    AddHandler fastcgi-script .fcgi",
        "</Directory>",
        extra,
        tenants["a.test"].vhost(srv.port, extra_a),
        tenants["b.test"].vhost(srv.port)])
    start(srv)
    for t in tenants.values():
        r = srv.get("/dyn/d.fcgi", headers={"Host": t.host})
        assert r.status == 200 and r.body == b"hello\n", (t.host, r)
        r = srv.get("/pool.fcgi", headers={"Host": t.host})
        assert r.status == 200 and r.body == b"hello\n", (t.host, r)
    return srv, tenants


def page(srv, host, query=""):
    r = srv.get("/status/page" + query, headers={"Host": host})
    assert r.status == 200, (host, r, conftest.read_text(srv.error_log))
    return r.body.decode("utf-8")


def status_json(srv, host):
    return json.loads(page(srv, host, "?json"))


def own_pids(doc, paths=None):
    """The pids on a page, of the classes in paths (None: all)."""
    return {p["pid"] for c in doc["classes"] if c["kind"] != "external"
            and (paths is None or c["path"] in paths)
            for p in c["process_list"] if p["pid"]}


def assert_sees_only(srv, tenant, other):
    """tenant's page (JSON, HTML, ?auto) names its three apps and nothing
    of other: no path, no socket, no pid."""
    doc = status_json(srv, tenant.host)
    assert {c["path"] for c in doc["classes"]} == tenant.paths(), doc
    assert doc["view"] == "virtual host", doc
    assert doc["totals"]["classes"] == 3, doc["totals"]
    others = own_pids(status_json(srv, other.host), other.paths())
    assert others and not own_pids(doc) & others, (doc, others)
    for fmt in ("", "?auto"):
        text = page(srv, tenant.host, fmt)
        assert str(other.root) not in text, (tenant.host, fmt, text)
        assert other.ext_socket not in text, (tenant.host, fmt, text)
        for path in tenant.paths():
            assert path in text, (tenant.host, fmt, path)
    auto = dict(AUTO_LINE.match(l).groups()
                for l in page(srv, tenant.host, "?auto").splitlines()
                if l.startswith("FastCGI"))
    assert auto["FastCGIView"] == "host" and auto["FastCGIClasses"] == "3"


def wait_pools(srv, tenants):
    """Both pools show a running process on an all-seeing page."""
    def ready():
        doc = status_json(srv, "a.test")
        running = [c for c in doc["classes"] if c["kind"] == "static"
                   and any(p["state"] == "running"
                           for p in c["process_list"])]
        return len(running) == 2
    assert conftest.wait_for(ready, 10, 0.1)


def test_each_virtual_host_sees_only_its_own_apps(httpd, responder_factory):
    srv, t = shared_host(httpd, responder_factory)
    assert_sees_only(srv, t["a.test"], t["b.test"])
    assert_sees_only(srv, t["b.test"], t["a.test"])


def test_show_all_in_one_virtual_host(httpd, responder_factory):
    """FastCgiStatusShowAll On in a.test (an admin's host): a.test sees
    both tenants' apps, b.test still only its own."""
    srv, t = shared_host(httpd, responder_factory,
                         extra_a="FastCgiStatusShowAll On")
    wait_pools(srv, t)
    doc = status_json(srv, "a.test")
    assert doc["view"] == "all"
    assert {c["path"] for c in doc["classes"]} == (t["a.test"].paths()
                                                   | t["b.test"].paths())
    assert own_pids(status_json(srv, "b.test")) < own_pids(doc)
    assert_sees_only(srv, t["b.test"], t["a.test"])


def test_show_all_in_server_config_reaches_every_host(httpd,
                                                      responder_factory):
    srv, t = shared_host(httpd, responder_factory,
                         extra="FastCgiStatusShowAll On")
    wait_pools(srv, t)
    everything = t["a.test"].paths() | t["b.test"].paths()
    for host in HOSTS:
        doc = status_json(srv, host)
        assert {c["path"] for c in doc["classes"]} == everything, host


def test_show_all_is_refused_in_htaccess(httpd, responder_factory):
    """A tenant cannot widen its own view: the directive in .htaccess is
    an error (500), never a wider page."""
    srv, t = shared_host(httpd, responder_factory)
    (t["b.test"].root / "status" / ".htaccess").write_text(
        "SetHandler fastcgi-status\nFastCgiStatusShowAll On\n")
    r = srv.get("/status/page?json", headers={"Host": "b.test"})
    assert r.status == 500, r
    assert str(t["a.test"].root) not in r.body.decode("latin-1")
    assert "FastCgiStatusShowAll not allowed here" in conftest.read_text(
        srv.error_log)


@pytest.mark.skipif(not MOD_STATUS.exists(), reason="no mod_status")
def test_server_status_section_has_the_same_view(httpd, responder_factory):
    srv, t = shared_host(httpd, responder_factory, extra="\n".join([
        'LoadModule status_module "%s"' % MOD_STATUS,
        "<Location /server-status>",
        "    SetHandler server-status",
        "</Location>"]))
    r = srv.get("/server-status", headers={"Host": "b.test"})
    assert r.status == 200, r
    body = r.body.decode("utf-8")
    section = body[body.index("FastCGI (mod_fastcgi_x)"):]
    assert str(t["b.test"].pool) in section
    assert str(t["a.test"].root) not in section
