<?php
header('Content-Type: text/plain');
echo "Hello from PHP ", PHP_VERSION, " (", php_sapi_name(), ") through mod_fastcgi_x\n\n";
foreach (['SCRIPT_FILENAME', 'SCRIPT_NAME', 'PATH_INFO', 'PATH_TRANSLATED',
          'REQUEST_URI', 'REDIRECT_URL', 'SERVER_SOFTWARE'] as $k) {
    printf("%-16s %s\n", $k, $_SERVER[$k] ?? '(unset)');
}
