#!/bin/sh
# php-cgi as a dynamic FastCGI app: the PM starts this wrapper with the
# listening socket on fd 0 and an empty environment. PHP_FCGI_CHILDREN=0
# keeps php-cgi a single process (the PM does the scaling, one process per
# slot); exec so that the PM's SIGTERM reaches php-cgi itself.
PHP_FCGI_CHILDREN=0
export PHP_FCGI_CHILDREN
exec /usr/bin/php-cgi
