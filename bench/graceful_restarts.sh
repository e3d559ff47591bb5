#!/bin/bash
# Graceful restarts under load: a private httpd with a FastCgiServer pool
# (-processes 4) and a dynamic app, wrk for 12 s on both URLs, and a
# graceful restart (SIGUSR1 to httpd's parent) every 2 s. Prints wrk's
# counts: non-2xx responses and socket errors. As root, from the top of
# the tree, after `make -f Makefile.apxs`. Usage:
#   bench/graceful_restarts.sh [close|keepalive|static]
# close: every request on a new connection; keepalive: wrk's default
# (httpd closes idle keep-alive connections at each restart, which wrk
# counts as read errors); static: the same with a static file, for
# comparison.
set -u
MODE=${1:-close}
TOP=$(cd "$(dirname "$0")/.." && pwd)
D=$(mktemp -d /tmp/fcgix-graceful-XXXXXX)
HP=
cleanup() {
    [ -n "$HP" ] && kill -TERM "$HP" 2>/dev/null && wait "$HP" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
chmod 755 "$D"
mkdir -p "$D/htdocs/dyn" "$D/run"
chown www-data "$D/run"
cp "$TOP/build/fcgi_responder" "$D/htdocs/static.fcgi"
cp "$TOP/build/fcgi_responder" "$D/htdocs/dyn/app.fcgi"
echo hello >"$D/htdocs/hello.txt"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
M=/usr/lib/apache2/modules
cat >"$D/httpd.conf" <<EOC
ServerRoot "$D"
PidFile "$D/httpd.pid"
DefaultRuntimeDir "$D/run"
ErrorLog "$D/error.log"
LogLevel warn
Listen 127.0.0.1:$PORT
ServerName 127.0.0.1
User www-data
Group www-data
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule mime_module $M/mod_mime.so
LoadModule fastcgi_x_module $TOP/.libs/mod_fastcgi_x.so
TypesConfig /dev/null
DocumentRoot "$D/htdocs"
<Directory "$D/htdocs">
    Require all granted
</Directory>
FastCgiServer $D/htdocs/static.fcgi -processes 4 -init-start-delay 0
FastCgiConfig -maxClassProcesses 4 -minProcesses 0 -killInterval 60
<Directory "$D/htdocs/dyn">
    Options +ExecCGI
    AddHandler fastcgi-script .fcgi
</Directory>
EOC
/usr/sbin/apache2 -f "$D/httpd.conf" -DFOREGROUND &
HP=$!
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/hello.txt" && break
    sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$PORT/dyn/app.fcgi"
A=/static.fcgi B=/dyn/app.fcgi HDR=()
[ "$MODE" = static ] && A=/hello.txt B=/hello.txt
[ "$MODE" = close ] && HDR=(-H "Connection: close")
cat >"$D/mix.lua" <<EOL
local n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then return wrk.format("GET", "$A") end
  return wrk.format("GET", "$B")
end
EOL
wrk -t2 -c16 -d12s "${HDR[@]}" -s "$D/mix.lua" "http://127.0.0.1:$PORT/" \
    >"$D/wrk.out" 2>&1 &
WP=$!
for _ in 1 2 3 4 5; do
    sleep 2
    kill -USR1 "$HP"
done
wait "$WP"
echo "mode $MODE, 5 graceful restarts during the run:"
grep -E "requests in|Non-2xx|Socket errors" "$D/wrk.out"
grep -q "Non-2xx" "$D/wrk.out" || echo "  Non-2xx or 3xx responses: 0"
grep -q "Socket errors" "$D/wrk.out" || echo "  Socket errors: 0"
echo "module errors in the log: $(grep -c 'fastcgi_x:error' "$D/error.log")"
