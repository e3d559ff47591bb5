#!/usr/bin/perl
# A FastCGI app on Debian's FCGI Perl module (libfcgi-perl), for the
# process-manager tests: answers "perl <pid>" to every request, so a test
# can tell which process served it. Started by the PM with its listening
# socket on fd 0, as a dynamic app or as a FastCgiServer.
use strict;
use warnings;
use FCGI;

my $request = FCGI::Request();
while ($request->Accept() >= 0) {
    print "Content-Type: text/plain\r\n\r\n", "perl ", $$, "\n";
}
