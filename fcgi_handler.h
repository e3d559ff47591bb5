/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_handler.h
 * @brief The request path: CGI environment, backend connection, the pump
 *        (one poll loop over the backend socket), response headers and
 *        the mapping of failures to HTTP statuses.
 */

#ifndef FCGIX_HANDLER_H
#define FCGIX_HANDLER_H

#include "httpd.h"

#include "fcgi_config.h"

/** Our own log tags; never httpd's AH numbers. */
#define FCGIX_LOGNO(n) "FCGIX" #n ": "

/**
 * Serve a request through a FastCGI application in the RESPONDER role.
 * @param r    the request; r->filename is the application's path
 * @param app  the application class that serves it
 * @return OK when a response was sent (or the client went away), or an
 *         HTTP status for httpd to send as an error page
 */
int fcgix_serve(request_rec *r, const fcgix_app_t *app);

#endif /* FCGIX_HANDLER_H */
