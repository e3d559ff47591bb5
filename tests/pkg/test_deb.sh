#!/bin/bash
# The Debian package end to end, against the machine's real Apache:
#   build the .deb (make deb), lintian it, install it with apt-get (its
#   postinst enables fastcgi_x, never fcgid-x; with mod_fcgid enabled it
#   enables nothing and says how to switch), a2enmod fastcgi_x, apache2ctl
#   configtest, then one request through a FastCGI app served by a second
#   apache2 (its own port, pid file, logs and runtime dir in a temporary
#   directory) that includes the system's mods-enabled/*.load and *.conf,
#   so that the module and the .load/.conf files under test are the ones
#   the package installed; the same with fcgid-x enabled too, through
#   fcgid-script (skipped while the .so has no fcgid_module record);
#   finally a2dismod, apt-get purge, and a check that nothing is left.
# The system's apache2 service and port 80 are not touched by the test (the
# package's postinst restarts a running apache2, as every Debian module
# package does). Needs root. Prints "deb: N passed, M failed" last and
# exits non-zero on any failure.
# shellcheck disable=SC2317  # functions run through check()
set -u
cd "$(dirname "$0")/../.." || exit 1

PKG=libapache2-mod-fastcgi-x
SO=/usr/lib/apache2/modules/mod_fastcgi_x.so
AVAIL=/etc/apache2/mods-available
ENABLED=/etc/apache2/mods-enabled
MAKE_="make --no-print-directory -f Makefile.apxs"
APT="apt-get -q -y -o DPkg::Lock::Timeout=120"
START_WAIT=20      # seconds for the second apache2 to answer
STOP_WAIT=10       # seconds for it to exit after SIGTERM
PASSED=0
FAILED=0
TMP=""
HTTPD_PID=""
FAKE_FCGID=""      # a mods-enabled/fcgid.load the test made, to remove
ARMED=0            # set once the test may have changed something
# State and runtime directories that a2enmod, a2dismod and apache2ctl
# create when missing; those the test created are removed (when empty).
STATE_DIRS="/var/lib/apache2/module/enabled_by_admin
/var/lib/apache2/module/disabled_by_admin /var/run/apache2/socks
/var/run/apache2 /var/lock/apache2"
NEW_DIRS=()

pass() {
    echo "ok: $*"
    PASSED=$((PASSED + 1))
}

fail() {
    echo "FAIL: $*"
    FAILED=$((FAILED + 1))
}

# check DESCRIPTION COMMAND...: one pass or failure.
check() {
    local what=$1
    shift
    if "$@"; then
        pass "$what"
    else
        fail "$what"
    fi
}

finish() {
    cleanup
    echo "deb: $PASSED passed, $FAILED failed"
    [ "$FAILED" = 0 ]
    exit
}

# A precondition that does not hold: nothing was changed yet.
refuse() {
    echo "deb-test: $*"
    FAILED=$((FAILED + 1))
    finish
}

installed() {
    dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null \
        | grep -q ' installed$'
}

# Anything dpkg still knows of the package (installed or config-files).
known() {
    dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null \
        | grep -qv ' not-installed$'
}

# Processes whose command line names the temporary directory: the second
# apache2 and the app it started.
our_pids() {
    if [ -n "$TMP" ]; then
        pgrep -f -- "$TMP/"
    fi
}

stop_httpd() {
    local i
    [ -n "$HTTPD_PID" ] || return 0
    kill -TERM "$HTTPD_PID" 2>/dev/null
    for ((i = 0; i < STOP_WAIT * 10; i++)); do
        kill -0 "$HTTPD_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$HTTPD_PID" 2>/dev/null; then
        echo "deb-test: apache2 $HTTPD_PID ignored SIGTERM, killing it"
        kill -KILL "$HTTPD_PID" 2>/dev/null
    fi
    wait "$HTTPD_PID" 2>/dev/null
    HTTPD_PID=""
}

# Always: stop what we started, uninstall the package, remove the files.
cleanup() {
    local pids d
    [ "$ARMED" = 1 ] || return 0
    ARMED=0
    trap - EXIT INT TERM
    stop_httpd
    if [ -n "$FAKE_FCGID" ]; then
        rm -f "$FAKE_FCGID"
        FAKE_FCGID=""
    fi
    mapfile -t pids < <(our_pids)
    if [ "${#pids[@]}" != 0 ]; then
        echo "deb-test: cleanup: killing left-over pids ${pids[*]}"
        kill -KILL "${pids[@]}" 2>/dev/null
    fi
    if known; then
        echo "deb-test: cleanup: purging $PKG"
        if [ -x /usr/sbin/a2dismod ]; then
            a2dismod -q -f fcgid-x >/dev/null 2>&1
            a2dismod -q -f fastcgi_x >/dev/null 2>&1
        fi
        DEBIAN_FRONTEND=noninteractive $APT purge "$PKG" >/dev/null 2>&1 \
            || dpkg --purge "$PKG" >/dev/null 2>&1
    fi
    [ -n "$TMP" ] && rm -rf "$TMP"
    for d in "${NEW_DIRS[@]}"; do
        rmdir "$d" 2>/dev/null
    done
}

# ------------------------------------------------------------ preconditions

[ "$(id -u)" = 0 ] \
    || refuse "must run as root: it installs $PKG into the system's" \
        "Apache (sudo make -f Makefile.apxs deb-test)"
for cmd in apt-get dpkg-buildpackage a2enmod a2dismod apache2ctl apache2 \
        curl python3; do
    command -v "$cmd" >/dev/null \
        || refuse "$cmd is missing; run tools/deps.sh pkg"
done
if known; then
    refuse "$PKG is already installed; the test would remove it." \
        "Purge it first: apt-get purge $PKG"
fi
if dpkg-query -W -f='${Status}' libapache2-mod-fastcgi 2>/dev/null \
        | grep -q ' installed$'; then
    refuse "libapache2-mod-fastcgi is installed; installing $PKG would" \
        "remove it (Conflicts)"
fi
if [ -e "$ENABLED/fcgid.load" ] || [ -L "$ENABLED/fcgid.load" ]; then
    refuse "mod_fcgid is enabled ($ENABLED/fcgid.load); the package would" \
        "not enable fastcgi_x. a2dismod fcgid first"
fi
for f in "$SO" "$AVAIL/fastcgi_x.load" "$AVAIL/fastcgi_x.conf" \
        "$ENABLED/fastcgi_x.load" "$ENABLED/fastcgi_x.conf" \
        "$AVAIL/fcgid-x.load" "$AVAIL/fcgid-x.conf" \
        "$ENABLED/fcgid-x.load" "$ENABLED/fcgid-x.conf"; do
    if [ -e "$f" ] || [ -L "$f" ]; then
        refuse "$f exists (make install or a hand-made .load?); the test" \
            "would overwrite and then remove it. Move it away first."
    fi
done

for d in $STATE_DIRS; do
    [ -e "$d" ] || NEW_DIRS+=("$d")
done
ARMED=1
trap cleanup EXIT
trap 'echo "deb-test: interrupted"; exit 130' INT TERM

TMP=$(mktemp -d /tmp/fcgix-deb-test-XXXXXX) || refuse "mktemp failed"
# apache2's children and the app run as www-data: they must reach www/.
chmod 755 "$TMP"
mkdir -p "$TMP/www" "$TMP/run" "$TMP/log"

# ------------------------------------------------------------ build

if ! $MAKE_ deb apps; then
    fail "make deb apps"
    finish
fi
debs=(build/deb/"$PKG"_*.deb)
if [ "${#debs[@]}" != 1 ] || [ ! -f "${debs[0]}" ]; then
    fail "exactly one build/deb/${PKG}_*.deb (found: ${debs[*]})"
    finish
fi
DEB=${debs[0]}
pass "built $DEB"

if command -v lintian >/dev/null; then
    # lintian warns that it runs as root; keep only its findings.
    check "lintian: no errors" \
        lintian --fail-on error "$DEB" 2> >(grep -v 'root privileges' >&2)
else
    echo "deb-test: lintian not installed, not run (tools/deps.sh pkg)"
fi

# ------------------------------------------------------------ install

if ! DEBIAN_FRONTEND=noninteractive $APT install "./$DEB" \
        >"$TMP/log/apt-install" 2>&1; then
    cat "$TMP/log/apt-install"
    fail "apt-get install ./$DEB"
    finish
fi
check "dpkg: $PKG installed" installed

owned_by_pkg() {
    [ -f "$1" ] && [ ! -L "$1" ] \
        && [ "$(dpkg -S "$1" 2>/dev/null)" = "$PKG: $1" ]
}
check "$SO is a regular file of $PKG" owned_by_pkg "$SO"
check "$AVAIL/fastcgi_x.load of $PKG" owned_by_pkg "$AVAIL/fastcgi_x.load"
check "$AVAIL/fastcgi_x.conf of $PKG" owned_by_pkg "$AVAIL/fastcgi_x.conf"
check "fastcgi_x.load loads $SO" \
    grep -qx "LoadModule fastcgi_x_module $SO" "$AVAIL/fastcgi_x.load"
check "fastcgi_x.load conflicts with fastcgi and fcgid" \
    grep -qx "# Conflicts: fastcgi fcgid" "$AVAIL/fastcgi_x.load"
check "$AVAIL/fcgid-x.load of $PKG" owned_by_pkg "$AVAIL/fcgid-x.load"
check "$AVAIL/fcgid-x.conf of $PKG" owned_by_pkg "$AVAIL/fcgid-x.conf"
check "fcgid-x.load loads $SO as fcgid_module" \
    grep -qx "LoadModule fcgid_module $SO" "$AVAIL/fcgid-x.load"
check "fcgid-x.load conflicts with fcgid" \
    grep -qx "# Conflicts: fcgid" "$AVAIL/fcgid-x.load"

# links_ok NAME: mods-enabled/NAME.{load,conf} link to mods-available.
links_ok() {
    [ "$(readlink "$ENABLED/$1.load")" = "../mods-available/$1.load" ] \
        && [ "$(readlink "$ENABLED/$1.conf")" = "../mods-available/$1.conf" ]
}
# not_enabled NAME: no mods-enabled/NAME.{load,conf}.
not_enabled() {
    [ ! -e "$ENABLED/$1.load" ] && [ ! -L "$ENABLED/$1.load" ] \
        && [ ! -e "$ENABLED/$1.conf" ] && [ ! -L "$ENABLED/$1.conf" ]
}
check "the postinst enabled fastcgi_x" links_ok fastcgi_x
check "fcgid-x is not enabled after install" not_enabled fcgid-x

# With mod_fcgid enabled the postinst enables nothing and says how to
# switch. Only the existence of mods-enabled/fcgid.load counts, so a link
# to a file of ours stands in for it: the system's mod_fcgid state is not
# touched.
postinst_with_fcgid() {
    local out rc
    a2dismod -q -f fastcgi_x >/dev/null 2>&1
    echo "# stands in for mod_fcgid's fcgid.load" >"$TMP/fcgid.load"
    FAKE_FCGID=$ENABLED/fcgid.load
    ln -s "$TMP/fcgid.load" "$FAKE_FCGID"
    out=$(/var/lib/dpkg/info/"$PKG".postinst configure 2>&1)
    rc=$?
    rm -f "$FAKE_FCGID"
    FAKE_FCGID=""
    printf '%s\n' "$out" | sed 's/^/  postinst: /'
    [ "$rc" = 0 ] && not_enabled fastcgi_x && not_enabled fcgid-x \
        && echo "$out" | grep -qF 'a2dismod fcgid && a2enmod fcgid-x'
}
check "postinst with mod_fcgid enabled: nothing enabled, the switch named" \
    postinst_with_fcgid

check "a2enmod fastcgi_x" a2enmod fastcgi_x
check "mods-enabled/fastcgi_x.{load,conf} link to mods-available" \
    links_ok fastcgi_x

configtest() {
    local out rc
    out=$(apache2ctl configtest 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed 's/^/  configtest: /'
    [ "$rc" = 0 ] && echo "$out" | grep -q 'Syntax OK'
}
check "apache2ctl configtest" configtest

# ------------------------------------------------------------ one request

cp build/fcgi_responder "$TMP/www/hello.fcgi"

started() {
    local i
    for ((i = 0; i < START_WAIT * 10; i++)); do
        kill -0 "$HTTPD_PID" 2>/dev/null || return 1
        curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/" \
            && return 0
        sleep 0.1
    done
    return 1
}

gone_procs() {
    local i
    for ((i = 0; i < STOP_WAIT * 10; i++)); do
        [ -z "$(our_pids)" ] && return 0
        sleep 0.1
    done
    ps -o pid,args -p "$(our_pids | paste -sd,)"
    return 1
}

# serve_hello WHAT: a second apache2 with the system's enabled modules and
# their .conf files, and GET /hello.fcgi through the handler those give
# .fcgi; WHAT names it in the results.
serve_hello() {
    local what=$1 body failed_before=$FAILED
    PORT=$(python3 -c 'import socket; s = socket.socket(); '\
's.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    : >"$TMP/log/error.log"
    cat >"$TMP/apache2.conf" <<EOF
DefaultRuntimeDir $TMP/run
PidFile $TMP/run/apache2.pid
Mutex file:$TMP/run default
ErrorLog $TMP/log/error.log
LogLevel info
User \${APACHE_RUN_USER}
Group \${APACHE_RUN_GROUP}
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
IncludeOptional /etc/apache2/mods-enabled/*.load
IncludeOptional /etc/apache2/mods-enabled/*.conf
DocumentRoot $TMP/www
<Directory $TMP/www>
    Options +ExecCGI
    AllowOverride None
    Require all granted
</Directory>
EOF

    # envvars gives User/Group and what the included .conf files may use;
    # the run, lock and log directories point into $TMP, not the system's.
    (
        set +u    # envvars reads variables that may be unset
        # shellcheck source=/dev/null
        . /etc/apache2/envvars
        export APACHE_RUN_DIR="$TMP/run" \
            APACHE_PID_FILE="$TMP/run/apache2.pid" \
            APACHE_LOCK_DIR="$TMP/run" APACHE_LOG_DIR="$TMP/log"
        exec apache2 -d /etc/apache2 -f "$TMP/apache2.conf" -DFOREGROUND
    ) >"$TMP/log/stdout" 2>&1 &
    HTTPD_PID=$!

    if started; then
        pass "$what: second apache2 (pid $HTTPD_PID) on 127.0.0.1:$PORT"
        check "$what: that apache2 loaded $SO" \
            grep -q " $SO\$" "/proc/$HTTPD_PID/maps"
        body=$(curl -s --max-time 15 "http://127.0.0.1:$PORT/hello.fcgi")
        check "$what: GET /hello.fcgi answers 'hello' (got '$body')" \
            [ "$body" = hello ]
        # Run as CGI the app would answer too; FCGI_ROLE proves FastCGI.
        body=$(curl -s --max-time 15 \
            "http://127.0.0.1:$PORT/hello.fcgi?env=FCGI_ROLE")
        check "$what: the app ran as a FastCGI responder (got '$body')" \
            [ "$body" = RESPONDER ]
    else
        fail "$what: second apache2 on 127.0.0.1:$PORT" \
            "(not up in ${START_WAIT}s)"
        cat "$TMP/log/stdout" "$TMP/log/error.log" 2>/dev/null | tail -20
    fi
    stop_httpd
    check "$what: apache2 and the app exited" gone_procs
    if [ "$FAILED" != "$failed_before" ] && [ -f "$TMP/log/error.log" ]
    then
        tail -20 "$TMP/log/error.log"
    fi
}

# The handler for .fcgi comes from the package's fastcgi_x.conf.
serve_hello "fastcgi_x"

# ------------------------------------------------------------ fcgid-x

check "a2enmod fcgid-x (with fastcgi_x enabled)" a2enmod -q fcgid-x
check "mods-enabled/fcgid-x.{load,conf} link to mods-available" \
    links_ok fcgid-x
check "apache2ctl configtest with fastcgi_x and fcgid-x" configtest
# fcgid-x.conf is included after fastcgi_x.conf, so its
# "AddHandler fcgid-script .fcgi" is the one that holds for .fcgi.
serve_hello "fcgid-x"
check "a2dismod fcgid-x" a2dismod -q fcgid-x
check "mods-enabled/fcgid-x.* removed" not_enabled fcgid-x

# ------------------------------------------------------------ uninstall

check "a2dismod fastcgi_x" a2dismod -q fastcgi_x
check "mods-enabled/fastcgi_x.* removed" not_enabled fastcgi_x
if ! DEBIAN_FRONTEND=noninteractive $APT purge "$PKG" \
        >"$TMP/log/apt-purge" 2>&1; then
    cat "$TMP/log/apt-purge"
fi
check "apt-get purge: dpkg knows no $PKG" eval '! known'
no_files() {
    local f
    for f in "$SO" "$AVAIL"/fastcgi_x.* "$ENABLED"/fastcgi_x.* \
            "$AVAIL"/fcgid-x.* "$ENABLED"/fcgid-x.* \
            /var/lib/apache2/module/*/fastcgi_x \
            /var/lib/apache2/module/*/fcgid-x; do
        if [ -e "$f" ] || [ -L "$f" ]; then
            echo "left behind: $f"
            return 1
        fi
    done
}
check "no file of the package left, no fastcgi_x or fcgid-x state" no_files

finish
