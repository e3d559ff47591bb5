#!/bin/sh
# Install the Debian packages that building, testing or the demo need.
# As root, installs what is missing with apt-get; otherwise prints the exact
# command and fails, so nothing happens behind the user's back.
# Usage: tools/deps.sh build|check|demo|bench|pkg|peer
#
# peer: the real mod_fcgid for the tests that compare with it, unpacked
# into build/peer/ (apt-get download, dpkg-deb -x) and never installed,
# so no maintainer script runs and the system's Apache is not touched.
# Best effort: without network or apt it says so and exits 0, and those
# tests skip.
set -eu

PEER_PKG=libapache2-mod-fcgid
PEER_DIR=build/peer
PEER_SO=$PEER_DIR/usr/lib/apache2/modules/mod_fcgid.so

# Download and unpack $PEER_PKG into $PEER_DIR (from the top of the tree).
peer() {
    cd "$(dirname "$0")/.."
    if [ -f "$PEER_SO" ]; then
        exit 0
    fi
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null
    then
        echo "deps: no apt-get or dpkg-deb; no peer mod_fcgid" \
            "(the tests that need it skip)"
        exit 0
    fi
    mkdir -p "$PEER_DIR"
    tmp=$(mktemp -d "$PEER_DIR/download.XXXXXX")
    # apt's _apt user must be able to write where it downloads.
    chmod 755 "$tmp"
    if ! (cd "$tmp" && apt-get download -q "$PEER_PKG") \
            >"$tmp/apt.log" 2>&1; then
        echo "deps: apt-get download $PEER_PKG failed; no peer mod_fcgid" \
            "(the tests that need it skip):"
        sed 's/^/    /' "$tmp/apt.log" | tail -5
        rm -rf "$tmp"
        exit 0
    fi
    for deb in "$tmp"/*.deb; do
        dpkg-deb -x "$deb" "$PEER_DIR"
    done
    rm -rf "$tmp"
    if [ -f "$PEER_SO" ]; then
        echo "deps: peer mod_fcgid in $PEER_SO"
    else
        echo "deps: $PEER_PKG has no mod_fcgid.so; no peer mod_fcgid"
    fi
    exit 0
}

BUILD="gcc make apache2-bin apache2-dev libapr1-dev libaprutil1-dev"
CHECK="$BUILD libcmocka-dev libfcgi-dev python3 python3-pytest curl clang
libclang-rt-14-dev php-fpm php-cgi libfcgi-perl ruby-fcgi golang-go
apache2-suexec-pristine wrk iproute2 nghttp2-client python3-h2
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
    peer) peer ;;
    *) echo "usage: $0 build|check|demo|bench|pkg|peer" >&2; exit 2 ;;
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
