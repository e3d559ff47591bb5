<?php
// Served by php-cgi started as a dynamic FastCGI app (test_pm_dynamic.py):
// something computed, the SAPI (cgi-fcgi under FastCGI) and the pid.
header('Content-Type: text/plain');
echo 6 * 7, ' ', php_sapi_name(), ' ', getmypid(), "\n";
