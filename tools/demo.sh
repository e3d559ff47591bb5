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
cp build/fcgi_responder "$RUN/htdocs/managed.fcgi"
# Dynamic apps: any .fcgi in dyn/ starts on its first request.
mkdir -p "$RUN/htdocs/dyn" "$RUN/htdocs/phpcgi" "$RUN/php-bin"
cp build/fcgi_responder "$RUN/htdocs/dyn/hello.fcgi"
cp demo/info.php "$RUN/htdocs/phpcgi/info.php"
# php-cgi as a dynamic app: one PHP process per FastCGI process (the PM
# scales them), never forking children of its own.
cat >"$RUN/php-bin/php.fcgi" <<'EOF2'
#!/bin/sh
PHP_FCGI_CHILDREN=0
export PHP_FCGI_CHILDREN
exec /usr/bin/php-cgi
EOF2
chmod 755 "$RUN/php-bin/php.fcgi"

USER_LINES=""
if [ "$(id -u)" = 0 ]; then
    # httpd's children run as www-data: they must reach the run dir.
    USER_LINES="User www-data
Group www-data"
    chmod 755 "$RUN" "$RUN/htdocs" "$RUN/htdocs/dyn" "$RUN/htdocs/phpcgi" \
        "$RUN/php-bin"
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

# PHP through php-fpm, on a Unix socket, started here with its own config.
PHP_FPM=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -1)
cp demo/info.php "$RUN/htdocs/info.php"
cat >"$RUN/php-fpm.conf" <<EOF
[global]
pid = $RUN/php-fpm.pid
error_log = $RUN/php-fpm.log
daemonize = no
[demo]
listen = $RUN/sockets/php-fpm.sock
listen.mode = 0660
pm = static
pm.max_children = 2
catch_workers_output = yes
EOF
if [ "$(id -u)" = 0 ]; then
    printf 'user = www-data\ngroup = www-data\nlisten.owner = www-data\nlisten.group = www-data\n' \
        >>"$RUN/php-fpm.conf"
fi
"$PHP_FPM" -F -y "$RUN/php-fpm.conf" 2>>"$RUN/php-fpm.log" &
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
LoadModule authz_host_module $MODULES/mod_authz_host.so
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

# The same app started and supervised by mod_fastcgi_x's process manager;
# each process serves one request at a time.
FastCgiIpcDir "$RUN/fastcgi"
FastCgiServer "$RUN/htdocs/managed.fcgi" -processes 2 -max-conns 1

# The classic mod_fastcgi + php-fpm recipe.
LoadModule alias_module $MODULES/mod_alias.so
LoadModule actions_module $MODULES/mod_actions.so
AddHandler php-fcgi .php
Action php-fcgi /php-fcgi
Alias /php-fcgi "$RUN/php-fcgi"
FastCgiExternalServer "$RUN/php-fcgi" -socket "$RUN/sockets/php-fpm.sock" -pass-header Authorization

# Dynamic apps: started on the first request, more while all are busy,
# stopped after 60 s idle.
FastCgiConfig -maxClassProcesses 4 -minProcesses 0 -killInterval 60 -autoUpdate
<Directory "$RUN/htdocs/dyn">
    Options +ExecCGI
    AddHandler fastcgi-script .fcgi
</Directory>

# PHP through php-cgi started as a dynamic app (mod_fastcgi's recipe).
Alias /php-bin/ "$RUN/php-bin/"
<Directory "$RUN/php-bin">
    Require all granted
    Options +ExecCGI
    SetHandler fastcgi-script
</Directory>
<Directory "$RUN/htdocs/phpcgi">
    AddHandler php-cgi-dynamic .php
    Action php-cgi-dynamic /php-bin/php.fcgi
</Directory>

# What the process manager runs, for people (HTML) and scripts (?json,
# ?auto); like server-status, only from this machine. A virtual host's
# page shows only its own apps; this one is the admin's, so it shows all
# (php.fcgi lives outside DocumentRoot).
FastCgiStatusShowAll On
<Location /fcgi-status>
    SetHandler fastcgi-status
    Require local
</Location>
EOF

/usr/sbin/apache2 -t -f "$RUN/httpd.conf"
/usr/sbin/apache2 -f "$RUN/httpd.conf" -DFOREGROUND &
PIDS+=($!)
HTTPD_PID=$!

for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        break
    fi
    sleep 0.1
done

cat <<EOF

mod_fastcgi_x demo: httpd (pid $HTTPD_PID) on http://127.0.0.1:$PORT/
  config     $RUN/httpd.conf
  error log  $RUN/error.log
  started    httpd with mod_fastcgi_x loaded from $TOP/.libs/
             the libfcgi test responder (pid ${PIDS[0]}) on $RUN/sockets/responder.sock
             php-fpm (pid ${PIDS[1]}) on $RUN/sockets/php-fpm.sock

  http://127.0.0.1:$PORT/                          what works so far
  http://127.0.0.1:$PORT/hello.fcgi                the libfcgi app
  http://127.0.0.1:$PORT/hello.fcgi/path?env       its CGI environment
  http://127.0.0.1:$PORT/hello.fcgi?chunks=5&pause=500   streamed output
  http://127.0.0.1:$PORT/info.php                  PHP through php-fpm
  http://127.0.0.1:$PORT/managed.fcgi?pid          an app run by the PM
  http://127.0.0.1:$PORT/dyn/hello.fcgi?pid         a dynamic app, started
                                                   on its first request
  http://127.0.0.1:$PORT/phpcgi/info.php           PHP through php-cgi,
                                                   a dynamic app
  http://127.0.0.1:$PORT/fcgi-status               the status page (?json,
                                                   ?auto for scripts)

Ctrl-C stops everything.
EOF

# What the process manager started, from the status page.
sleep 0.5
curl -s "http://127.0.0.1:$PORT/fcgi-status?auto" |
    sed -n 's/^FastCGIManagerPid: \(.*\)/  process manager: pid \1/p
        s/^Process: path=\([^ ]*\) slot=[^ ]* pid=\([0-9]*\) state=\([a-z]*\).* socket=\(.*\)/  app \1: pid \2 (\3) on \4/p'

wait "$HTTPD_PID"
