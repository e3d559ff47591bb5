"""Configuration behaviour of the responder: definitions across virtual
hosts, FastCgiStderrLogLevel, and HTTPS variables through mod_ssl."""

import os
import ssl
import subprocess
import http.client

import pytest

import conftest


def vhosts(srv, first, second):
    return "\n".join([
        "<VirtualHost 127.0.0.1:%d>" % srv.port,
        "    ServerName one.invalid",
        "    " + first,
        "</VirtualHost>",
        "<VirtualHost 127.0.0.1:%d>" % srv.port,
        "    ServerName two.invalid",
        "    " + second,
        "</VirtualHost>"])


def test_same_definition_in_two_vhosts_is_fine(httpd):
    """mod_fastcgi called this a redefinition; it is a common config."""
    srv = httpd()
    line = "FastCgiExternalServer /srv/app.fcgi -host 127.0.0.1:9000"
    srv.extra_conf = vhosts(srv, line, line)
    rc, out = srv.check()
    assert rc == 0 and "Syntax OK" in out, out


def test_conflicting_definitions_name_both_places(httpd):
    srv = httpd()
    srv.extra_conf = vhosts(
        srv, "FastCgiExternalServer /srv/app.fcgi -host 127.0.0.1:9000",
        "FastCgiExternalServer /srv/app.fcgi -host 127.0.0.1:9001")
    rc, out = srv.check()
    assert rc != 0, out
    assert "conflicts" in out and "/srv/app.fcgi" in out, out
    # httpd names the second place; our message names the first.
    assert str(srv.conf) in out and "%s:" % srv.conf in out, out


def test_definitions_differing_in_max_requests_conflict(httpd):
    """-max-requests is part of a definition: the first one must not win
    silently (it did: the comparison left it out)."""
    srv = httpd()
    srv.extra_conf = vhosts(
        srv, "FastCgiServer /srv/app.fcgi -max-requests 10",
        "FastCgiServer /srv/app.fcgi -max-requests 20")
    rc, out = srv.check()
    assert rc != 0, out
    assert "conflicts" in out and "/srv/app.fcgi" in out, out


def test_stderr_log_level_is_configurable(httpd, responder):
    srv = httpd(log_level="warn")
    app = srv.docroot / "app.fcgi"
    srv.extra_conf = "\n".join([
        "FastCgiStderrLogLevel error",
        'FastCgiExternalServer "%s" -socket "%s"' % (app, responder.address)])
    srv.start()
    r = srv.get("/app.fcgi?stderr=level-check-line")
    assert r.status == 200, r
    log = conftest.read_text(srv.error_log)
    lines = [line for line in log.splitlines() if "level-check-line" in line]
    assert lines and all("[fastcgi_x:error]" in line for line in lines), log


def test_stderr_log_level_rejects_bad_value(httpd):
    srv = httpd()
    srv.extra_conf = "FastCgiStderrLogLevel loud"
    rc, out = srv.check()
    assert rc != 0 and "FastCgiStderrLogLevel" in out and "loud" in out, out


def make_cert(workdir):
    key, crt = workdir / "key.pem", workdir / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    key.chmod(0o644)
    return key, crt


def test_https_and_mod_ssl_variables(httpd, responder, workdir):
    key, crt = make_cert(workdir)
    srv = httpd()
    app = srv.docroot / "app.fcgi"
    srv.extra_conf = "\n".join([
        'LoadModule socache_shmcb_module "%s"'
        % (conftest.MODDIR / "mod_socache_shmcb.so"),
        'LoadModule ssl_module "%s"' % (conftest.MODDIR / "mod_ssl.so"),
        "SSLEngine on",
        'SSLCertificateFile "%s"' % crt,
        'SSLCertificateKeyFile "%s"' % key,
        "SSLOptions +StdEnvVars",
        'FastCgiExternalServer "%s" -socket "%s"' % (app, responder.address)])
    srv.start()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx,
                                       timeout=15)
    try:
        conn.request("GET", "/app.fcgi?env")
        resp = conn.getresponse()
        body = resp.read().decode()
    finally:
        conn.close()
    assert resp.status == 200, body
    env = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
    assert env.get("HTTPS") == "on", body
    assert env.get("REQUEST_SCHEME") == "https", body
    assert env.get("SSL_PROTOCOL", "").startswith("TLS"), body


def test_server_wide_directives_refused_in_a_vhost(httpd):
    """httpd's own refusal, not any error: an unknown directive would
    also fail and name itself, so rc and the name alone could not tell
    a refusal from a missing directive."""
    for line in ("FastCgiIpcDir /tmp/fcgix-ipc", "FastCgiWrapper Off",
                 "FastCgiConfig -maxProcesses 4"):
        srv = httpd()
        srv.extra_conf = vhosts(srv, line, "")
        rc, out = srv.check()
        assert rc != 0, (line, out)
        assert "%s cannot occur within <VirtualHost> section" % (
            line.split()[0]) in out, (line, out)



# --- apachectl -t catches what would fail at start (issue 7) -----------------

def app_file(srv, name="app.fcgi", mode=0o755):
    path = srv.docroot / name
    path.write_bytes(conftest.RESPONDER.read_bytes())
    path.chmod(mode)
    return path


def conf_line(srv, needle):
    """file:line of the first config line containing needle."""
    for n, line in enumerate(srv.config_text().splitlines(), 1):
        if needle in line:
            return "%s:%d" % (srv.conf, n)
    raise AssertionError("%r not in the config" % needle)


@pytest.mark.parametrize("case", ["missing", "not-executable", "directory"])
def test_configtest_refuses_an_app_that_cannot_run(httpd, case):
    srv = httpd()
    if case == "missing":
        path, why = srv.docroot / "nope.fcgi", "No such file or directory"
    elif case == "not-executable":
        path = app_file(srv, mode=0o644)
        why = "not executable by httpd's User www-data (mode 0644"
    else:
        path, why = srv.docroot, "is not a regular file"
    srv.extra_conf = "FastCgiServer %s -processes 2" % path
    rc, out = srv.check()
    assert rc != 0, out
    assert "FastCgiServer %s (%s)" % (path, conf_line(srv, "FastCgiServer")) \
        in out, out
    assert why in out, out


def test_configtest_refuses_a_socket_path_too_long(httpd):
    srv = httpd()
    srv.extra_conf = "FastCgiServer %s -socket %s" % (
        app_file(srv), "s" * 100)
    rc, out = srv.check()
    assert rc != 0, out
    assert "longer than a Unix socket path may be (107 bytes)" in out, out
    assert conf_line(srv, "FastCgiServer") in out, out


def test_configtest_refuses_user_without_a_wrapper(httpd):
    srv = httpd()
    srv.extra_conf = "FastCgiServer %s -user nobody -group nogroup" % (
        app_file(srv))
    rc, out = srv.check()
    assert rc != 0, out
    assert "-user and -group need FastCgiWrapper" in out, out
    assert conf_line(srv, "FastCgiServer") in out, out


def test_configtest_refuses_an_ipc_dir_too_long(httpd):
    srv = httpd()
    srv.extra_conf = "FastCgiIpcDir /tmp/%s" % ("d" * 80)
    rc, out = srv.check()
    assert rc != 0, out
    assert "FastCgiIpcDir /tmp/ddd" in out and "too long" in out, out


def test_configtest_warns_about_port_and_remote_hosts(httpd):
    """Risky but valid: -t passes, and says why each is risky."""
    srv = httpd()
    srv.extra_conf = "\n".join([
        "FastCgiServer %s -port 9123" % app_file(srv),
        "FastCgiExternalServer %s/remote.php -host 192.0.2.7:9000"
        % srv.docroot])
    rc, out = srv.check()
    assert rc == 0, out
    assert "-port 9123 listens on TCP 127.0.0.1:9123" in out, out
    assert conf_line(srv, "-port 9123") in out, out
    assert "-host 192.0.2.7:9000 is not this machine" in out, out


@pytest.mark.parametrize("directive,words", [
    ("FastCgiServer {app} -processes many",
     ["FastCgiServer", "-processes", "'many'", "whole number"]),
    ("FastCgiServer {app} -procs 2",
     ["FastCgiServer", "unknown option", "'-procs'", "valid options",
      "-processes"]),
    ("FastCgiExternalServer /x.php -host 127.0.0.1:9000 -socket /tmp/s",
     ["FastCgiExternalServer", "/x.php", "-host and -socket"]),
    ("FastCgiChunkedBody sometimes",
     ["FastCgiChunkedBody", "sometimes", "spool", "stream", "refuse"]),
    ("FastCgiStderrLogLevel loud",
     ["FastCgiStderrLogLevel", "loud", "warn", "debug"]),
    ("FastCgiConfig -gainValue 2",
     ["FastCgiConfig", "-gainValue", "'2'", "0 to 1"]),
    ("FastCgiConfig -maxProcesses 0",
     ["FastCgiConfig", "-maxProcesses", "'0'", "whole number from 1 to"]),
    ("FastCgiWrapper maybe",
     ["FastCgiWrapper", "'maybe'", "On, Off or an absolute path"]),
    ("FastCgiSpoolLimit 5X",
     ["FastCgiSpoolLimit", "'5X'", "size in bytes"]),
    ("FastCgiServer {app} -processes 2 -processes 3",
     ["FastCgiServer", "'-processes' given twice"]),
])
def test_directive_errors_name_directive_value_place_and_choices(
        httpd, directive, words):
    srv = httpd()
    srv.extra_conf = directive.format(app=app_file(srv))
    rc, out = srv.check()
    assert rc != 0, out
    line = conf_line(srv, directive.split()[0])
    n = line.rsplit(":", 1)[1]
    assert "line %s of %s" % (n, srv.conf) in out, out
    for w in words:
        assert w in out, (w, out)


# Each directive takes its own options: one that belongs to another is
# unknown, and the error lists exactly the directive's own.
OWN_OPTIONS = {
    "FastCgiServer {app}": [
        "appConnTimeout", "flush", "group", "idle-timeout",
        "init-start-delay", "initial-env", "keep-conn", "listen-queue-depth",
        "max-conns", "max-requests", "min-server-life", "multiplex", "nph",
        "pass-header", "port", "priority", "processes", "restart-delay", "socket", "user"],
    "FastCgiExternalServer /x.php -host 127.0.0.1:9000": [
        "appConnTimeout", "backup", "balance", "fail-timeout", "flush",
        "group", "health-check", "health-interval", "host", "idle-timeout",
        "keep-conn", "max-conns", "max-fails", "multiplex", "nph",
        "pass-header", "queue-timeout", "resolve-interval", "socket", "user"],
    "FastCgiConfig": [
        "appConnTimeout", "autoUpdate", "flush", "gainValue", "idle-timeout",
        "init-start-delay", "initial-env", "killInterval",
        "listen-queue-depth", "maxClassProcesses", "maxProcesses",
        "max-requests", "min-server-life", "minProcesses", "multiThreshold",
        "pass-header", "priority", "processSlack", "restart",
        "restart-delay", "singleThreshold", "startDelay", "startTimeout",
        "updateInterval"],
}


@pytest.mark.parametrize("directive,foreign", [
    ("FastCgiServer {app}", "-host"),
    ("FastCgiExternalServer /x.php -host 127.0.0.1:9000", "-processes"),
    ("FastCgiConfig", "-socket"),
])
def test_options_of_another_directive_are_unknown(httpd, directive,
                                                  foreign):
    srv = httpd()
    srv.extra_conf = "%s %s x" % (directive.format(app=app_file(srv)),
                                  foreign)
    rc, out = srv.check()
    assert rc != 0, out
    assert "unknown option '%s'" % foreign in out, out
    listed = out.split("valid options: ", 1)[1].split("\n", 1)[0]
    assert listed.strip() == ", ".join(
        "-" + o for o in OWN_OPTIONS[directive]), out


def test_relative_external_socket_is_in_the_ipc_dir(httpd, responder_factory,
                                                    workdir):
    """mod_fastcgi's configs say `-socket php.sock`: relative to
    FastCgiIpcDir (it was used relative to httpd's working directory)."""
    ipc = workdir / "ipc"
    ipc.mkdir(mode=0o700)
    os.chown(ipc, conftest.pwd.getpwnam("www-data").pw_uid,
             conftest.pwd.getpwnam("www-data").pw_gid)
    responder_factory(str(ipc / "resp.sock"))
    srv = httpd()
    srv.extra_conf = "\n".join([
        "FastCgiIpcDir %s" % ipc,
        "FastCgiExternalServer %s/app.fcgi -socket resp.sock" % srv.docroot])
    srv.start()
    r = srv.get("/app.fcgi")
    assert r.status == 200 and r.body == b"hello\n", (
        r, conftest.read_text(srv.error_log))


def test_configtest_refuses_the_real_mod_fcgid(httpd):
    """The real mod_fcgid and ours both claim mod_fcgid's directives and
    FastCgiAuthorizer & co.: -t refuses, naming the line to remove. Loaded
    before ours it exports fcgid_module too, the interposition case.
    Skipped without libapache2-mod-fcgid."""
    if not (conftest.MODDIR / "mod_fcgid.so").exists():
        pytest.skip("mod_fcgid is not installed")
    real = conftest.MODDIR / "mod_fcgid.so"
    line = 'LoadModule fcgid_module "%s"' % real
    ours = 'LoadModule fastcgi_x_module "%s"' % conftest.MODULE
    for where in ("after", "before"):
        if where == "after":
            srv = httpd(extra_conf=line)
        else:
            srv = httpd(extra_conf=line + "\n" + ours, load_module=False)
        rc, out = srv.check()
        assert rc != 0, (where, out)
        assert "FCGIX00115" in out and "mod_fcgid (%s) is loaded too" % real \
            in out, (where, out)
        assert "LoadModule fcgid_module %s" % real in out, (where, out)
