#!/usr/bin/ruby
# A Ruby fcgi app (Debian ruby-fcgi): FCGI.each accepts on fd 0, the
# listening socket the process manager hands it.
$stderr.reopen(File::NULL) # the gem warns on stderr when its C part is missing
require "fcgi"

FCGI.each do |req|
  req.out.print "Content-Type: text/plain\r\n\r\n"
  req.out.print "ruby #{Process.pid} #{req.env["SCRIPT_NAME"]}\n"
  req.finish
end
