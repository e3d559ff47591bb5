#!/bin/bash
# Start a self-contained httpd with mod_fastcgi_x on 127.0.0.1:$PORT, in the
# foreground, with its config and run files under demo/run in the checkout.
# Nothing under /etc/apache2 changes. Ctrl-C stops everything it started.
# Called by `make -f Makefile.apxs demo` after the build.
set -eu
cd "$(dirname "$0")/.."

PORT=${PORT:-8080}
TOP=$(pwd)
RUN=$TOP/demo/run
MODULES=/usr/lib/apache2/modules
PIDS=()

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    echo "demo: stopped"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "demo: 127.0.0.1:$PORT is in use; choose another with PORT=" >&2
    exit 1
fi

rm -rf "$RUN"
mkdir -p "$RUN/htdocs"
cp demo/index.html "$RUN/htdocs/index.html"

USER_LINES=""
if [ "$(id -u)" = 0 ]; then
    # httpd's children run as www-data: they must reach the run dir.
    USER_LINES="User www-data
Group www-data"
    chmod 755 "$RUN" "$RUN/htdocs"
fi

# The libfcgi test responder, listening on a Unix socket of its own. As
# root it runs as www-data, the user httpd's children connect as.
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$RUN/sockets"
    chown www-data:www-data "$RUN/sockets"
    RUN_AS=(setpriv --reuid=www-data --regid=www-data --init-groups)
fi
mkdir -p "$RUN/sockets"
"${RUN_AS[@]}" build/fcgi_responder "$RUN/sockets/responder.sock" \
    2>>"$RUN/responder.log" &
PIDS+=($!)

cat >"$RUN/httpd.conf" <<EOF
ServerRoot "$RUN"
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
PidFile "$RUN/httpd.pid"
DefaultRuntimeDir "$RUN"
ErrorLog "$RUN/error.log"
LogLevel warn
TypesConfig /dev/null
AddType text/html .html
$USER_LINES
LoadModule mpm_event_module $MODULES/mod_mpm_event.so
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule mime_module $MODULES/mod_mime.so
LoadModule dir_module $MODULES/mod_dir.so
LoadModule fastcgi_x_module $TOP/.libs/mod_fastcgi_x.so
DocumentRoot "$RUN/htdocs"
DirectoryIndex index.html
<Directory "$RUN/htdocs">
    Require all granted
</Directory>

# The classic external-server recipe, served by the libfcgi test app.
FastCgiExternalServer "$RUN/htdocs/hello.fcgi" -socket "$RUN/sockets/responder.sock"
EOF

/usr/sbin/apache2 -t -f "$RUN/httpd.conf"
/usr/sbin/apache2 -f "$RUN/httpd.conf" -DFOREGROUND &
PIDS+=($!)

for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        break
    fi
    sleep 0.1
done

cat <<EOF

mod_fastcgi_x demo: httpd (pid ${PIDS[1]}) on http://127.0.0.1:$PORT/
  config     $RUN/httpd.conf
  error log  $RUN/error.log
  started    httpd with mod_fastcgi_x loaded from $TOP/.libs/
             the libfcgi test responder (pid ${PIDS[0]}) on $RUN/sockets/responder.sock

  http://127.0.0.1:$PORT/                          what works so far
  http://127.0.0.1:$PORT/hello.fcgi                the libfcgi app
  http://127.0.0.1:$PORT/hello.fcgi/path?env       its CGI environment
  http://127.0.0.1:$PORT/hello.fcgi?chunks=5&pause=500   streamed output

Ctrl-C stops everything.
EOF

wait "${PIDS[1]}"
