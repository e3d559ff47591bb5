"""The status page in mod_fcgid's vocabulary (issue 15, docs/design/
fcgid.md section 4, "On the status page"): with only fcgid_module loaded,
SetHandler fastcgi-status still serves the page; two name-based virtual
hosts run the same .fcgi file (one path, aliased into both) as fcgid
classes of their own, one of them under FcgidMaxProcessesPerVhost 1. The
page shows a "Virtual hosts" table, each fcgid class's host and command,
a statistics row per class ("path [host]"), and the same in ?json, ?auto
and ?metrics (checked by test_status_stats' strict parser). Without
FastCgiStatusShowAll a host sees its own row and classes only.

No suexec here: the "Users" rows (per identity) stay empty, and the test
checks that they are.
"""

import json

import conftest
from helpers import AUTO_LINE, install, start
from test_status_stats import Metrics

HOSTS = ("a.test", "b.test")


def fcgid_server(httpd, records=("fcgid",), extra_a="", cap=True):
    """Started: a.test (FcgidMaxProcessesPerVhost 1) and b.test, each with
    /app.fcgi (the shared responder) and /fcgi-status; one request
    through each host. Returns (srv, app path)."""
    srv = httpd(records=records)
    shared = srv.root / "shared"
    shared.mkdir(mode=0o755)
    app = install(conftest.RESPONDER, shared / "app.fcgi")
    vhosts = []
    for host in HOSTS:
        root = srv.root / "vhosts" / host
        root.mkdir(parents=True, mode=0o755)
        vhosts.append("\n".join([
            "<VirtualHost 127.0.0.1:%d>" % srv.port,
            "    ServerName %s" % host,
            '    DocumentRoot "%s"' % root,
            '    Alias /app.fcgi "%s"' % app,
            "    FcgidMaxProcessesPerVhost 1" if cap and host == "a.test" else "",
            extra_a if host == "a.test" else "",
            "    <Location /fcgi-status>",
            "        SetHandler fastcgi-status",
            "    </Location>",
            "</VirtualHost>"]))
    srv.extra_conf = "\n".join([
        '<Directory "%s">' % shared,
        "    Require all granted",
        "    Options +ExecCGI",
        "    AddHandler fcgid-script .fcgi",
        "</Directory>"] + vhosts)
    start(srv)
    for host in HOSTS:
        r = srv.get("/app.fcgi", headers={"Host": host})
        assert r.status == 200 and r.body == b"hello\n", (host, r)
    return srv, str(app)


def page(srv, host, query=""):
    r = srv.get("/fcgi-status" + query, headers={"Host": host})
    assert r.status == 200, (host, r, conftest.read_text(srv.error_log))
    return r.body.decode("utf-8")


def doc_of(srv, host):
    return json.loads(page(srv, host, "?json"))


def tenant_name(doc, host, port):
    """host's "name:port" as the page names it: the <VirtualHost>'s port
    when its ServerName has none (it said ":0")."""
    names = [t["host"] for t in doc["tenants"]
             if t["host"].split(":")[0] == host]
    assert names == ["%s:%d" % (host, port)], doc["tenants"]
    return names[0]


def auto_lines(srv, host, key):
    out = []
    for line in page(srv, host, "?auto").splitlines():
        m = AUTO_LINE.match(line)
        assert m, "not a Key: value line: %r" % line
        if m.group(1) == key:
            out.append(dict(f.split("=", 1) for f in m.group(2).split(" ")))
    return out


def test_json_tenants_and_classes(httpd):
    srv, app = fcgid_server(httpd)
    for host in HOSTS:
        doc = doc_of(srv, host)
        assert doc["view"] == "virtual host"
        assert len(doc["tenants"]) == 1, doc["tenants"]
        t = doc["tenants"][0]
        name = tenant_name(doc, host, srv.port)
        assert t["processes"] == 1, t
        assert t["max"] == (1 if host == "a.test" else None), t
        assert t["waiting"] == 0 and t["refused"] == 0, t
        assert doc["users"] == []
        assert len(doc["classes"]) == 1, doc["classes"]
        c = doc["classes"][0]
        assert c["path"] == app and c["vocabulary"] == "fcgid", c
        assert c["host"] == name and c["user"] is None, c
        assert c["command"] is None, c
        assert c["label"] == "%s [%s]" % (app, name), c
        assert c["stats"]["requests"] == 1, c["stats"]


def test_html_virtual_hosts_table(httpd):
    srv, app = fcgid_server(httpd)
    name = tenant_name(doc_of(srv, "a.test"), "a.test", srv.port)
    html = page(srv, "a.test")
    assert "<h3>Virtual hosts</h3>" in html
    assert ("<tr><td>%s</td><td>1</td><td>1</td><td>0</td><td>0</td></tr>"
            % name) in html, html
    assert "fcgid class: <code>%s</code>" % app in html
    assert "<tr><td>%s</td><td>-</td><td>- (the script)</td></tr>" % name \
        in html
    # its statistics row: the path and its host
    assert "<tr><td>%s [%s]</td><td>dynamic</td><td>1</td>" % (app, name) \
        in html
    assert "b.test" not in html, html


def test_auto_tenant_lines(httpd):
    srv, app = fcgid_server(httpd)
    for host in HOSTS:
        name = tenant_name(doc_of(srv, host), host, srv.port)
        tenants = auto_lines(srv, host, "Tenant")
        assert tenants == [{"host": name, "processes": "1",
                            "max": "1" if host == "a.test" else "0",
                            "waiting": "0", "refused": "0"}], tenants
        assert auto_lines(srv, host, "User") == []
        classes = auto_lines(srv, host, "Class")
        assert len(classes) == 1, classes
        assert classes[0]["path"] == app and classes[0]["host"] == name
        assert classes[0]["vocabulary"] == "fcgid"
        assert classes[0]["stats_requests"] == "1"


def test_metrics_host_families(httpd):
    srv, app = fcgid_server(httpd)
    name = tenant_name(doc_of(srv, "a.test"), "a.test", srv.port)
    r = srv.get("/fcgi-status?metrics", headers={"Host": "a.test"})
    assert r.status == 200, r
    m = Metrics(r.body.decode("utf-8"))
    assert m.types["fastcgi_host_processes"] == "gauge"
    assert m.types["fastcgi_host_refused_total"] == "counter"
    assert m.types["fastcgi_user_processes_max"] == "gauge"
    assert m.get("fastcgi_host_processes", host=name) == 1
    assert m.get("fastcgi_host_processes_max", host=name) == 1
    assert m.get("fastcgi_host_waiting", host=name) == 0
    assert m.get("fastcgi_host_refused_total", host=name) == 0
    assert len(m.series("fastcgi_host_processes")) == 1
    assert m.series("fastcgi_user_processes") == {}
    label = "%s [%s]" % (app, name)
    assert m.get("fastcgi_requests_total", app=label) == 1
    assert m.get("fastcgi_processes", app=label) == 1


def test_each_host_counts_its_own_requests(httpd):
    """One path, two hosts: two classes, two statistics rows."""
    srv, app = fcgid_server(httpd)
    for _ in range(2):
        assert srv.get("/app.fcgi", headers={"Host": "b.test"}).status == 200
    counts = {}
    for host in HOSTS:
        c = doc_of(srv, host)["classes"][0]
        counts[host] = c["stats"]["requests"]
    assert counts == {"a.test": 1, "b.test": 3}, counts


def test_show_all_sees_every_host(httpd):
    """Both records loaded (FastCgiStatusShowAll is fastcgi_x's), ShowAll
    On in a.test: a.test sees both hosts' rows and classes; b.test still
    only its own. Without the per-host cap: with both records loaded,
    FcgidMaxProcessesPerVhost in a <VirtualHost> crashes apache2 -t
    (SIGSEGV; not the status page's, reported)."""
    srv, app = fcgid_server(httpd, records=("fastcgi_x", "fcgid"),
                            extra_a="    FastCgiStatusShowAll On", cap=False)
    doc = doc_of(srv, "a.test")
    assert doc["view"] == "all"
    hosts = {t["host"].split(":")[0] for t in doc["tenants"]}
    assert hosts == set(HOSTS), doc["tenants"]
    assert {c["host"].split(":")[0] for c in doc["classes"]} == set(HOSTS)
    assert {c["path"] for c in doc["classes"]} == {app}
    other = doc_of(srv, "b.test")
    assert [t["host"].split(":")[0] for t in other["tenants"]] == ["b.test"]
    assert [c["host"].split(":")[0] for c in other["classes"]] == ["b.test"]
    r = srv.get("/fcgi-status?metrics", headers={"Host": "a.test"})
    m = Metrics(r.body.decode("utf-8"))
    assert len(m.series("fastcgi_host_processes")) == 2
    assert len(m.series("fastcgi_requests_total")) == 2
