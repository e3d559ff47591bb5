<?php
// Records every request it runs, for the balancing tests
// (tests/integration/test_balance.py), which must see whether a request
// reached an app twice. Run by one php-fpm per member, whose pool sets
// env[MEMBER] (the member's name) and env[RECORD_DIR].
//
// Appends one JSON line {"method", "query", "body"} to
// RECORD_DIR/MEMBER.log, then answers "member=MEMBER". If the file
// RECORD_DIR/MEMBER.die exists, it is removed and the worker kills itself
// after recording and before any output: the request reached the app, and
// the connection closes without a response byte.
$member = getenv('MEMBER');
$dir = getenv('RECORD_DIR');
$line = json_encode([
    'method' => $_SERVER['REQUEST_METHOD'],
    'query' => $_SERVER['QUERY_STRING'] ?? '',
    'body' => file_get_contents('php://input'),
]);
file_put_contents("$dir/$member.log", $line . "\n", FILE_APPEND | LOCK_EX);
if (@unlink("$dir/$member.die")) {
    posix_kill(getmypid(), 9);
    sleep(5);   // SIGKILL is not instant; nothing must be written before
}
header('Content-Type: text/plain');
echo "member=$member\n";
