"""The harness's module records: conftest.Httpd's records= and real_fcgid=,
the flavour fixture, and the real mod_fcgid (FCGID_SO) running under it.

The real mod_fcgid is the reference the fcgid tests compare with; these
tests make sure the harness can run it (its IPC directory and process
table in the server's own run directory) before any of them relies on it.
"""

import shutil

import pytest

import conftest


def load_lines(srv):
    """The LoadModule lines of our records or the real mod_fcgid, and the
    LogLevel line, in order."""
    return [line for line in srv.config_text().splitlines()
            if line.startswith("LogLevel")
            or line.startswith("Fcgid")
            or (line.startswith("LoadModule")
                and ('"%s"' % conftest.MODULE in line
                     or (conftest.FCGID_SO is not None
                         and '"%s"' % conftest.FCGID_SO in line)))]


def test_default_is_the_fastcgi_x_record(httpd):
    srv = httpd()
    assert load_lines(srv) == [
        'LoadModule fastcgi_x_module "%s"' % conftest.MODULE,
        "LogLevel info fastcgi_x:trace8"]


@pytest.mark.parametrize("records, level", [
    (("fcgid",), "fcgid"),
    (("fastcgi_x", "fcgid"), "fastcgi_x"),
    (("fcgid", "fastcgi_x"), "fastcgi_x"),
])
def test_records_in_order(httpd, records, level):
    srv = httpd(records=records)
    assert load_lines(srv) == [
        'LoadModule %s_module "%s"' % (rec, conftest.MODULE)
        for rec in records] + ["LogLevel info %s:trace8" % level]


def test_no_records_without_load_module(httpd):
    srv = httpd(load_module=False, records=("fastcgi_x", "fcgid"))
    assert load_lines(srv) == ["LogLevel info"]


@pytest.mark.parametrize("records, ours", [
    (("fcgid",), []),
    (("fastcgi_x", "fcgid"), ["fastcgi_x"]),
])
def test_real_fcgid_replaces_the_fcgid_record(httpd, records, ours):
    if conftest.FCGID_SO is None:
        pytest.skip(conftest.FCGID_HINT)
    srv = httpd(records=records, real_fcgid=True)
    run = srv.root / "run"
    level = "fastcgi_x" if ours else "fcgid"
    assert load_lines(srv) == [
        'LoadModule %s_module "%s"' % (rec, conftest.MODULE) for rec in ours
    ] + ['LoadModule fcgid_module "%s"' % conftest.FCGID_SO,
         "LogLevel info %s:trace8" % level,
         'FcgidIPCDir "%s"' % (run / "fcgid"),
         'FcgidProcessTableFile "%s"' % (run / "fcgid_shm")]


def test_flavour_loads_one_fcgid_module(httpd, flavour):
    srv = conftest.fcgid_httpd(httpd, flavour)
    so = conftest.MODULE if flavour == "ours" else conftest.FCGID_SO
    lines = load_lines(srv)
    assert lines[:2] == ['LoadModule fcgid_module "%s"' % so,
                         "LogLevel info fcgid:trace8"]
    assert not any("fastcgi_x_module" in line for line in lines)


def test_real_mod_fcgid_serves_the_responder(httpd):
    """The real mod_fcgid starts under the harness, runs the responder for
    fcgid-script, and the responder's penv= shows its FcgidInitialEnv."""
    if conftest.FCGID_SO is None:
        pytest.skip(conftest.FCGID_HINT)
    srv = conftest.fcgid_httpd(httpd, "real", """
FcgidInitialEnv FCGIX_PENV "from mod_fcgid"
<Directory "{docroot}">
    Options +ExecCGI
    AddHandler fcgid-script .fcgi
</Directory>
""")
    srv.extra_conf = srv.extra_conf.format(docroot=srv.docroot)
    shutil.copy(conftest.RESPONDER, srv.docroot / "hello.fcgi")
    assert "fcgid_module (shared)" in srv.modules()
    srv.start()
    res = srv.get("/hello.fcgi")
    assert (res.status, res.body) == (200, b"hello\n"), res.body
    res = srv.get("/hello.fcgi?env=FCGI_ROLE")
    assert res.body == b"RESPONDER\n"
    res = srv.get("/hello.fcgi?penv=FCGIX_PENV")
    assert res.body == b"from mod_fcgid\n"
    res = srv.get("/hello.fcgi?penv=FCGIX_PENV_NONE")
    assert res.body == b"(unset)\n"
    assert (srv.root / "run" / "fcgid").is_dir()
