"""Configuration behaviour of the responder: definitions across virtual
hosts, FastCgiStderrLogLevel, and HTTPS variables through mod_ssl."""

import ssl
import subprocess
import http.client

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
    for line in ("FastCgiIpcDir /tmp/fcgix-ipc", "FastCgiWrapper Off",
                 "FastCgiConfig -maxProcesses 4"):
        srv = httpd()
        srv.extra_conf = vhosts(srv, line, "")
        rc, out = srv.check()
        assert rc != 0, (line, out)
        assert line.split()[0] in out, (line, out)

