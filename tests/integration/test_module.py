"""First tests of mod_fastcgi_x inside a real apache2.

The module must load, leave static files alone, accept valid directives
(which httpd alone would not know) and reject malformed ones at
`apache2 -t` time with a message that names the directive and the bad
option or value.
"""

import pytest

import conftest

STATIC = b"static file served next to mod_fastcgi_x\n"


def put_static(srv, name="hello.txt", data=STATIC):
    path = srv.docroot / name
    path.write_bytes(data)
    path.chmod(0o644)
    return "/" + name


def assert_syntax_ok(srv):
    rc, out = srv.check()
    assert rc == 0 and "Syntax OK" in out, out


# --- (a) the module loads -------------------------------------------------------

def test_module_loads(httpd):
    srv = httpd()
    assert_syntax_ok(srv)
    assert "fastcgi_x_module" in srv.modules()


def test_module_serves_static_file(httpd):
    srv = httpd()
    path = put_static(srv)
    srv.start()
    r = srv.get(path)
    assert r.status == 200, r
    assert r.body == STATIC
    assert r.headers["Content-Type"].startswith("text/plain")
    assert srv.get("/missing.txt").status == 404
    assert srv.proc.poll() is None, "apache2 died while serving"
    assert srv.stop() == 0


# --- (c) directive errors --------------------------------------------------------

VALID = [
    "FastCgiExternalServer /srv/app.fcgi -host 127.0.0.1:9000",
    "FastCgiExternalServer /srv/app.fcgi -socket /tmp/fcgix-test.sock",
    "FastCgiExternalServer /srv/app.fcgi -host 127.0.0.1:9000 "
    "-idle-timeout 30",
    "FastCgiExternalServer /srv/app.fcgi -idle-timeout 30 "
    "-host 127.0.0.1:9000",
    "FastCgiServer %s -processes 2" % conftest.RESPONDER,
    "FastCgiConfig -maxProcesses 3",
]


@pytest.mark.parametrize("directive", VALID)
def test_valid_directive_passes(httpd, directive):
    """Controls for the error cases below: the same options, valid."""
    assert_syntax_ok(httpd(directive))


INVALID = [
    ("FastCgiExternalServer /srv/app.fcgi -host 127.0.0.1:9000 -bogus",
     ["FastCgiExternalServer", "-bogus"]),
    ("FastCgiExternalServer /srv/app.fcgi -host 127.0.0.1:9000 "
     "-socket /tmp/x.sock",
     ["FastCgiExternalServer", "-host", "-socket"]),
    ("FastCgiExternalServer /srv/app.fcgi -idle-timeout abc "
     "-host 127.0.0.1:9000",
     ["-idle-timeout", "abc"]),
    ("FastCgiServer /srv/app.fcgi -processes x",
     ["-processes"]),
    ("FastCgiConfig -maxProcesses -3",
     ["maxprocesses", "-3"]),
]


@pytest.mark.parametrize("directive,words", INVALID,
                         ids=[d for d, _ in INVALID])
def test_invalid_directive_fails(httpd, directive, words):
    rc, out = httpd(directive).check()
    assert rc != 0, "apache2 -t accepted %r:\n%s" % (directive, out)
    assert "Invalid command" not in out, "directive unknown:\n" + out
    for w in words:
        if w.islower():
            assert w in out.lower(), "%r missing from:\n%s" % (w, out)
        else:
            assert w in out, "%r missing from:\n%s" % (w, out)


def test_sanitizer_build_is_really_loaded(httpd):
    """Under make itest-asan the httpd processes must run the sanitizer
    runtime and the instrumented module; otherwise that suite would prove
    nothing."""
    import os
    if not os.environ.get("FCGIX_PRELOAD"):
        pytest.skip("only meaningful under make itest-asan")
    srv = httpd()
    srv.start()
    maps = open("/proc/%d/maps" % srv.pid).read()
    assert "libasan" in maps, "ASan runtime not loaded into apache2"
    assert str(conftest.MODULE) in maps or "mod_fastcgi_x" in maps
    assert "asan" in str(conftest.MODULE)
