#!/bin/sh
# Install the Debian packages that building, testing or the demo need.
# As root, installs what is missing with apt-get; otherwise prints the exact
# command and fails, so nothing happens behind the user's back.
# Usage: tools/deps.sh build|check|demo|bench|pkg
set -eu

BUILD="gcc make apache2-bin apache2-dev libapr1-dev libaprutil1-dev"
CHECK="$BUILD libcmocka-dev libfcgi-dev python3 python3-pytest curl clang
libclang-rt-14-dev php-fpm php-cgi libfcgi-perl ruby-fcgi golang-go
apache2-suexec-pristine wrk iproute2
clang-format valgrind strace"
DEMO="$BUILD libfcgi-dev curl php-fpm php-cgi"
BENCH="$BUILD libfcgi-dev wrk spawn-fcgi libapache2-mod-fcgid curl php-cgi"
# The Debian package (make deb) and its test (make deb-test): apache2 for
# a2enmod and apache2ctl, lintian to check the .deb.
PKG_TOOLS="debhelper dpkg-dev apache2 lintian"
PKG="$BUILD $PKG_TOOLS libfcgi-dev curl python3"
CHECK="$CHECK $PKG_TOOLS"

case "${1:-check}" in
    build) WANT=$BUILD ;;
    check) WANT=$CHECK ;;
    demo) WANT=$DEMO ;;
    bench) WANT=$BENCH ;;
    pkg) WANT=$PKG ;;
    *) echo "usage: $0 build|check|demo|bench|pkg" >&2; exit 2 ;;
esac

MISSING=""
for pkg in $WANT; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null \
            | grep -q "install ok installed"; then
        MISSING="$MISSING $pkg"
    fi
done

if [ -z "$MISSING" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages:$MISSING" >&2
    echo "install them with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y$MISSING" >&2
    exit 1
fi
echo "deps: installing$MISSING"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $MISSING >/dev/null
