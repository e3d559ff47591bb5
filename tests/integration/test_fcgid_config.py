"""mod_fcgid's vocabulary, the configuration side (docs/design/fcgid.md,
section 2): our .so loaded as fcgid_module (and with fastcgi_x_module),
every mod_fcgid 2.3.9 directive and old name in the contexts mod_fcgid
allows and refused elsewhere, strict numbers and sizes, FcgidWrapper and
FcgidCmdOptions rules, the no-effect line (FCGIX00117), the conflicts
with the FastCgi names (FCGIX00118), .htaccess commands, and the FastCgi
authorizer names' two meanings.

Only configurations are tested here (apache2 -t, and static files for
.htaccess): requests through fcgid-script are not served yet.
"""

import re

import pytest

import conftest

FCGID = 'LoadModule fcgid_module "%s"' % conftest.MODULE
XMOD = 'LoadModule fastcgi_x_module "%s"' % conftest.MODULE
BOTH = XMOD + "\n" + FCGID
CMD = "/bin/true"

SERVER, VHOST, DIR = "server", "vhost", "dir"
ALL = (SERVER, VHOST, DIR)

# (name, old name or None, a good value, the contexts mod_fcgid allows)
DIRECTIVES = [
    ("FcgidAccessChecker", "FastCgiAccessChecker", CMD, ALL),
    ("FcgidAccessCheckerAuthoritative", "FastCgiAccessCheckerAuthoritative",
     "Off", ALL),
    ("FcgidAuthenticator", "FastCgiAuthenticator", CMD, ALL),
    ("FcgidAuthenticatorAuthoritative", "FastCgiAuthenticatorAuthoritative",
     "Off", ALL),
    ("FcgidAuthorizer", "FastCgiAuthorizer", CMD, ALL),
    ("FcgidAuthorizerAuthoritative", "FastCgiAuthorizerAuthoritative",
     "Off", ALL),
    ("FcgidBusyScanInterval", "BusyScanInterval", "120", (SERVER,)),
    ("FcgidBusyTimeout", "BusyTimeout", "300", (SERVER, VHOST)),
    ("FcgidCmdOptions", None, CMD + " MaxProcesses 2", (SERVER, VHOST)),
    ("FcgidConnectTimeout", "IPCConnectTimeout", "20", (SERVER, VHOST)),
    ("FcgidErrorScanInterval", "ErrorScanInterval", "3", (SERVER,)),
    ("FcgidFixPathinfo", "PHP_Fix_Pathinfo_Enable", "1", (SERVER,)),
    ("FcgidIdleScanInterval", "IdleScanInterval", "120", (SERVER,)),
    ("FcgidIdleTimeout", "IdleTimeout", "0", (SERVER, VHOST)),
    ("FcgidInitialEnv", "DefaultInitEnv", "FOO bar", (SERVER, VHOST)),
    ("FcgidIOTimeout", "IPCCommTimeout", "40", (SERVER, VHOST)),
    ("FcgidIPCDir", "SocketPath", "run/fcgidsock", (SERVER,)),
    ("FcgidMaxProcesses", "MaxProcessCount", "1000", (SERVER,)),
    ("FcgidMaxProcessesPerClass", "DefaultMaxClassProcessCount", "100",
     (SERVER, VHOST)),
    ("FcgidMaxRequestInMem", "MaxRequestInMem", "65536", (SERVER, VHOST)),
    ("FcgidMaxRequestLen", "MaxRequestLen", "128K", (SERVER, VHOST)),
    ("FcgidMaxRequestsPerProcess", "MaxRequestsPerProcess", "-1",
     (SERVER, VHOST)),
    ("FcgidMinProcessesPerClass", "DefaultMinClassProcessCount", "3",
     (SERVER, VHOST)),
    ("FcgidOutputBufferSize", "OutputBufferSize", "0", (SERVER, VHOST)),
    ("FcgidPassHeader", "PassHeader", "Authorization", (SERVER, VHOST)),
    ("FcgidProcessLifeTime", "ProcessLifeTime", "3600", (SERVER, VHOST)),
    ("FcgidProcessTableFile", "SharememPath", "logs/fcgid_shm", (SERVER,)),
    ("FcgidSpawnScore", "SpawnScore", "1", (SERVER,)),
    ("FcgidSpawnScoreUpLimit", "SpawnScoreUpLimit", "10", (SERVER,)),
    ("FcgidTerminationScore", "TerminationScore", "2", (SERVER,)),
    ("FcgidTimeScore", "TimeScore", "1", (SERVER,)),
    ("FcgidWin32PreventOrphans", None, "Off", (SERVER,)),
    ("FcgidWrapper", "FCGIWrapper", CMD + " .php", ALL),
    ("FcgidZombieScanInterval", "ZombieScanInterval", "3", (SERVER,)),
    ("FcgidMaxProcessesPerVhost", None, "4", (SERVER, VHOST)),
    ("FcgidMaxProcessesPerUser", None, "4", (SERVER,)),
    ("FcgidQueueTimeout", None, "60", (SERVER, VHOST)),
    ("FcgidHtaccessCommand", None, CMD, (SERVER,)),
]

NO_EFFECT = ["FcgidBusyScanInterval", "FcgidErrorScanInterval",
             "FcgidIdleScanInterval", "FcgidMaxRequestInMem",
             "FcgidProcessTableFile", "FcgidSpawnScore",
             "FcgidSpawnScoreUpLimit", "FcgidTerminationScore",
             "FcgidTimeScore", "FcgidWin32PreventOrphans",
             "FcgidZombieScanInterval"]


def in_context(ctx, line, docroot):
    if ctx == SERVER:
        return line
    if ctx == VHOST:
        return ("<VirtualHost 127.0.0.1:*>\n    ServerName v.test\n"
                "    %s\n</VirtualHost>" % line)
    return '<Directory "%s">\n    %s\n</Directory>' % (docroot, line)


def check(httpd, conf, records=FCGID):
    srv = httpd(extra_conf=records + "\n" + conf, load_module=False)
    return srv.check()


def check_in(httpd, ctx, line, records=FCGID):
    srv = httpd(extra_conf="", load_module=False)
    srv.extra_conf = records + "\n" + in_context(ctx, line, srv.docroot)
    return srv.check()


def cases():
    for name, old, value, allowed in DIRECTIVES:
        for n in (name, old) if old else (name,):
            for ctx in ALL:
                yield pytest.param(n, value, ctx, ctx in allowed,
                                   id="%s-%s" % (n, ctx))


@pytest.mark.parametrize("name,value,ctx,ok", cases())
def test_directive_contexts(httpd, name, value, ctx, ok):
    rc, out = check_in(httpd, ctx, "%s %s" % (name, value))
    if ok:
        assert rc == 0, out
        assert "Syntax OK" in out
    else:
        assert rc != 0, out
        assert ("not allowed here" in out
                or "not allowed in <Directory> context" in out
                or "cannot occur within <VirtualHost> section" in out), out


@pytest.mark.parametrize("records", [XMOD, BOTH], ids=["x", "both"])
@pytest.mark.parametrize("name", ["FastCgiMaxHostProcesses",
                                  "FastCgiMaxUserProcesses"])
def test_fastcgi_cap_names(httpd, records, name):
    assert check_in(httpd, SERVER, name + " 5", records)[0] == 0
    rc, out = check_in(httpd, VHOST, name + " 5", records)
    if name == "FastCgiMaxHostProcesses":
        assert rc == 0, out
    else:
        assert rc != 0 and "cannot occur within <VirtualHost>" in out, out
    rc, out = check_in(httpd, SERVER, name + " 70000", records)
    assert rc != 0 and "'70000' is not a whole number from 0 to 65535" in out


@pytest.mark.parametrize("line,message", [
    ("FcgidIdleTimeout abc",
     "FcgidIdleTimeout: 'abc' is not a whole number from 0 to"),
    ("IdleTimeout 1x", "IdleTimeout: '1x' is not a whole number"),
    ("FcgidIOTimeout 0", "FcgidIOTimeout: '0' is not a whole number from 1"),
    ("FcgidQueueTimeout 3601",
     "FcgidQueueTimeout: '3601' is not a whole number from 1 to 3600"),
    ("FcgidMaxProcessesPerClass -2", "'-2' is not a whole number from 1"),
    ("FcgidMaxRequestsPerProcess -2",
     "'-2' is not a whole number from -1"),
    ("FcgidFixPathinfo 2", "'2' is not a whole number from 0 to 1"),
    ("FcgidMaxProcesses 99999999999", "is not a whole number from 1"),
    ("FcgidMaxRequestLen 12X", "FcgidMaxRequestLen: '12X' is not a size"),
    ("FcgidMaxRequestLen -1", "'-1' is not a size"),
    ("FcgidMaxRequestInMem lots", "'lots' is not a size"),
    ("FcgidOutputBufferSize 3G", "'3G' is not a size in bytes from 0"),
    ("FcgidSpawnScore 1.5", "FcgidSpawnScore: '1.5' is not a whole number"),
])
def test_bad_numbers_and_sizes(httpd, line, message):
    rc, out = check(httpd, line)
    assert rc != 0, out
    assert message in out, out


@pytest.mark.parametrize("line", ["FcgidMaxRequestLen 1M",
                                  "FcgidMaxRequestInMem 64k",
                                  "FcgidOutputBufferSize 0",
                                  "FcgidTerminationScore -1"])
def test_good_sizes(httpd, line):
    rc, out = check(httpd, line)
    assert rc == 0, out


@pytest.mark.parametrize("args,message", [
    (CMD + " php", "'php' is not a suffix"),
    (CMD + " .", "'.' is not a suffix"),
    (CMD + " ./x", "'./x' is not a suffix"),
    (CMD + " .a\\b", "is not a suffix"),
    (CMD + " .php other", "the third argument, 'other', may only be "
                          "'virtual'"),
    ("/nonexistent/php-cgi .php",
     "FcgidWrapper: /nonexistent/php-cgi cannot be accessed"),
    ('"/nonexistent/php-cgi -d x=1"',
     "/nonexistent/php-cgi cannot be accessed"),
])
def test_wrapper_rules_refused(httpd, args, message):
    rc, out = check(httpd, "FcgidWrapper " + args)
    assert rc != 0, out
    assert message in out, out


@pytest.mark.parametrize("args", [CMD, CMD + " .php", CMD + " virtual",
                                  CMD + " .php virtual",
                                  '"%s -d memory_limit=256M" .php' % CMD])
def test_wrapper_rules_accepted(httpd, args):
    rc, out = check(httpd, "FcgidWrapper %s\nFcgidWrapper %s" % (args, args))
    assert rc == 0, out


def test_wrapper_relative_to_server_root(httpd):
    srv = httpd(extra_conf="", load_module=False)
    (srv.root / "bin").mkdir()
    (srv.root / "bin" / "php").write_text("#!/bin/sh\n")
    srv.extra_conf = FCGID + "\nFcgidWrapper bin/php .php"
    rc, out = srv.check()
    assert rc == 0, out
    srv.extra_conf = FCGID + "\nFcgidWrapper bin/nophp .php"
    rc, out = srv.check()
    assert rc != 0 and "%s/bin/nophp cannot be accessed" % srv.root in out


@pytest.mark.parametrize("args,message", [
    (CMD, "FcgidCmdOptions %s: no option given; valid: ConnectTimeout" % CMD),
    (CMD + " Bogus 1", "FcgidCmdOptions: unknown option 'Bogus'; valid: "
                       "ConnectTimeout, IdleTimeout, InitialEnv"),
    ("/nonexistent/app MaxProcesses 1",
     "FcgidCmdOptions: /nonexistent/app cannot be accessed"),
    (CMD + " MaxProcesses x", "'x' is not a whole number from 1 to 65535 "
                              "(option MaxProcesses)"),
    (CMD + " IOTimeout", "IOTimeout needs a value"),
    ("", "needs a command and options"),
])
def test_cmd_options_refused(httpd, args, message):
    rc, out = check(httpd, "FcgidCmdOptions " + args)
    assert rc != 0, out
    assert message in out, out


def test_cmd_options_accepted(httpd):
    rc, out = check(httpd, "FcgidCmdOptions %s ConnectTimeout 3 idletimeout "
                           "5 InitialEnv A=1 InitialEnv B IOTimeout 9 "
                           "MaxProcesses 2 MaxProcessLifetime 60 "
                           "MaxRequestsPerProcess -1 MinProcesses 0\n"
                           "FcgidCmdOptions %s MaxProcesses 3" % (CMD, CMD))
    assert rc == 0, out


def no_effect_entries(text):
    m = re.search(r"FCGIX00117: mod_fcgid directives with no effect here: "
                  r"(.*?); docs/migrating\.md", text)
    assert m, text
    return re.findall(r"(\w+) \(([^()]+):(\d+)\)", m.group(1))


def test_no_effect_line_lists_exactly_those(httpd):
    lines = ["%s %s" % (n, v) for n, _o, v, _c in DIRECTIVES
             if _c == (SERVER,) and n not in ("FcgidIPCDir",)]
    lines += ["FcgidMaxRequestInMem 1K", "FcgidOutputBufferSize 0",
              "OutputBufferSize 4096", "FcgidIdleTimeout 10"]
    srv = httpd(extra_conf=FCGID + "\n" + "\n".join(lines),
                load_module=False)
    rc, out = srv.check()
    assert rc == 0, out
    assert out.count("FCGIX00117") == 1, out
    entries = no_effect_entries(out)
    names = [e[0] for e in entries]
    assert sorted(names) == sorted(NO_EFFECT + ["OutputBufferSize"])
    conf = srv.conf.read_text().splitlines()
    for name, path, line in entries:
        assert path == str(srv.conf)
        assert conf[int(line) - 1].startswith(name + " "), (name, line)


def test_no_effect_line_once_per_start(httpd):
    srv = httpd(extra_conf=FCGID + "\nFcgidSpawnScore 2\nTimeScore 1",
                load_module=False)
    srv.start()
    srv.stop()
    text = (conftest.read_text(srv.error_log)
            + conftest.read_text(srv.console_log))
    assert text.count("FCGIX00117") == 1, text
    assert [e[0] for e in no_effect_entries(text)] == ["FcgidSpawnScore",
                                                        "TimeScore"]


DEBIAN_FCGID_CONF = """<IfModule mod_fcgid.c>
  FcgidConnectTimeout 20

  <IfModule mod_mime.c>
    AddHandler fcgid-script .fcgi
  </IfModule>
</IfModule>"""


def test_debian_fcgid_conf_logs_no_no_effect_line(httpd):
    srv = httpd(extra_conf=FCGID + "\n" + DEBIAN_FCGID_CONF,
                load_module=False)
    rc, out = srv.check()
    assert rc == 0 and "FCGIX00117" not in out, out
    srv.start()
    (srv.docroot / "a.txt").write_text("hello\n")
    assert srv.get("/a.txt").status == 200
    srv.stop()
    assert "FCGIX00117" not in conftest.read_text(srv.error_log)


def test_ipc_dir_conflict(httpd, workdir):
    a, b = workdir / "a", workdir / "b"
    rc, out = check(httpd, "FastCgiIpcDir %s\nFcgidIPCDir %s" % (a, b), BOTH)
    assert rc != 0, out
    assert "FCGIX00118" in out and str(a) in out and str(b) in out, out
    assert "FcgidIPCDir" in out and "FastCgiIpcDir" in out, out
    rc, out = check(httpd, "SocketPath %s\nFastCgiIpcDir %s" % (a, b), BOTH)
    assert rc != 0 and "FCGIX00118" in out, out
    rc, out = check(httpd, "FastCgiIpcDir %s\nFcgidIPCDir %s" % (a, a), BOTH)
    assert rc == 0, out
    rc, out = check(httpd, "FcgidIPCDir %s\nFcgidIPCDir %s" % (a, b))
    assert rc == 0, out


def test_max_processes_conflict(httpd):
    rc, out = check(httpd, "FcgidMaxProcesses 10\n"
                           "FastCgiConfig -maxProcesses 20", BOTH)
    assert rc != 0, out
    assert re.search(r"FCGIX00119: FcgidMaxProcesses 10 \(.*:\d+\) and "
                     r"FastCgiConfig -maxProcesses 20 \(.*:\d+\)", out), out
    rc, out = check(httpd, "FastCgiConfig -maxProcesses 20\n"
                           "MaxProcessCount 20", BOTH)
    assert rc == 0, out


def test_mutex_fcgid_pipe_parses(httpd, workdir):
    rc, out = check(httpd, "Mutex file:%s fcgid-pipe\n"
                           "Mutex file:%s fcgid-proctbl" % (workdir, workdir))
    assert rc == 0, out


# --- the FastCgi authorizer names: two meanings ----------------------------

def test_fastcgi_auth_names_take_fcgid_syntax_alone(httpd):
    # server level and one quoted command line: mod_fcgid's meaning
    rc, out = check(httpd, 'FastCgiAuthenticator "%s -x"\n'
                           "FastCgiAuthenticatorAuthoritative Off" % CMD)
    assert rc == 0, out
    rc, out = check(httpd, "FastCgiAuthorizer %s -compat" % CMD)
    assert rc != 0 and "FastCgiAuthorizer takes one argument" in out, out
    rc, out = check(httpd, "FastCgiAccessChecker /nonexistent/authz")
    assert rc != 0 and "/nonexistent/authz cannot be accessed" in out, out


@pytest.mark.parametrize("records", [XMOD, BOTH, FCGID + "\n" + XMOD],
                         ids=["x", "both", "fcgid-first"])
def test_fastcgi_auth_names_take_ours_with_fastcgi_x(httpd, records):
    rc, out = check_in(httpd, SERVER, "FastCgiAuthenticator %s" % CMD,
                       records)
    assert rc != 0 and "FastCgiAuthenticator not allowed here" in out, out
    rc, out = check_in(httpd, SERVER, "FastCgiAuthorizerAuthoritative Off",
                       records)
    assert rc != 0 and "not allowed here" in out, out
    rc, out = check_in(httpd, DIR, "FastCgiAuthorizer /x/app -compat "
                                   "-provider", records)
    assert rc == 0, out


# --- .htaccess -------------------------------------------------------------

def htaccess_site(httpd, server_lines, htaccess, override="FileInfo",
                  records=FCGID):
    srv = httpd(extra_conf="", load_module=False)
    sub = srv.docroot / "sub"
    sub.mkdir()
    (sub / "a.txt").write_text("static\n")
    (sub / ".htaccess").write_text(htaccess + "\n")
    srv.extra_conf = "\n".join([
        records, server_lines,
        '<Directory "%s">' % sub,
        "    AllowOverride %s" % override,
        "</Directory>"])
    srv.start()
    return srv


def test_htaccess_wrapper_unnamed_command_500(httpd):
    srv = htaccess_site(httpd, "", "FcgidWrapper %s .php" % CMD)
    assert srv.get("/sub/a.txt").status == 500
    srv.stop()
    log = conftest.read_text(srv.error_log)
    assert ("FcgidWrapper: '%s .php' is not named" % CMD in log
            or "FcgidWrapper: '%s' is not named in the server "
               "configuration; .htaccess may only name such commands "
               "(FcgidHtaccessCommand)" % CMD in log), log
    assert ".htaccess" in log


def test_htaccess_wrapper_named_by_server_config(httpd):
    srv = htaccess_site(httpd, '<Directory "/nonexistent">\n'
                               "FcgidWrapper %s .php\n</Directory>" % CMD,
                        'FcgidWrapper "%s" .php virtual' % CMD)
    assert srv.get("/sub/a.txt").status == 200


def test_htaccess_wrapper_named_by_htaccess_command(httpd):
    srv = htaccess_site(httpd, "FcgidHtaccessCommand \"%s -q\"" % CMD,
                        "FcgidWrapper '%s  -q' .php\nFCGIWrapper \"%s -q\""
                        % (CMD, CMD))
    assert srv.get("/sub/a.txt").status == 200


def test_htaccess_refuses_server_directives(httpd):
    srv = htaccess_site(httpd, "", "FcgidIdleTimeout 5", override="All")
    assert srv.get("/sub/a.txt").status == 500
    srv.stop()
    assert "FcgidIdleTimeout not allowed here" in conftest.read_text(
        srv.error_log)


def test_htaccess_wrapper_needs_fileinfo(httpd):
    srv = htaccess_site(httpd, "FcgidHtaccessCommand %s" % CMD,
                        "FcgidWrapper %s" % CMD, override="AuthConfig")
    assert srv.get("/sub/a.txt").status == 500


def test_htaccess_fastcgi_auth_name_fcgid_meaning_needs_fileinfo(httpd):
    srv = htaccess_site(httpd, "FcgidHtaccessCommand %s" % CMD,
                        "FastCgiAuthenticator %s" % CMD,
                        override="AuthConfig")
    assert srv.get("/sub/a.txt").status == 500
    srv.stop()
    assert "FastCgiAuthenticator not allowed here" in conftest.read_text(
        srv.error_log)


def test_htaccess_fcgid_authenticator_unnamed_500(httpd):
    srv = htaccess_site(httpd, "", "FcgidAuthenticator %s" % CMD)
    assert srv.get("/sub/a.txt").status == 500
    srv.stop()
    assert "FcgidAuthenticator: '%s' is not named" % CMD in \
        conftest.read_text(srv.error_log)


@pytest.mark.parametrize("records", [BOTH, FCGID + "\n" + XMOD],
                         ids=["x-first", "fcgid-first"])
def test_every_directive_with_both_records(httpd, records):
    lines = []
    for name, old, value, allowed in DIRECTIVES:
        if SERVER in allowed and not name.startswith("FcgidA"):
            lines.append("%s %s" % (name, value))
            if old:
                lines.append("%s %s" % (old, value))
    srv = httpd(extra_conf="", load_module=False)
    lines.append('<Directory "%s">' % srv.docroot)
    lines += ["%s %s" % (n, v) for n, o, v, a in DIRECTIVES
              if n.startswith("FcgidA")]
    lines += ["%s %s" % (o, v) for n, o, v, a in DIRECTIVES
              if n.startswith("FcgidA")]
    lines.append("</Directory>")
    srv.extra_conf = records + "\n" + "\n".join(lines)
    rc, out = srv.check()
    assert rc == 0, out
    assert out.count("FCGIX00117") == 1, out
