/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_probe.h
 * @brief An active health check's request: one RESPONDER request (GET,
 *        no body) over a connected socket, and the HTTP status of the
 *        answer. A real request, never a bare connection: some FastCGI
 *        libraries die on a connection that closes without one.
 *
 * No httpd or APR dependency (the unit tests drive it over a socket
 * pair).
 */

#ifndef FCGIX_PROBE_H
#define FCGIX_PROBE_H

#include <stddef.h>

/**
 * Ask the app on @p fd for @p uri and read its whole answer.
 * @param fd          a connected stream socket (left open)
 * @param script      SCRIPT_FILENAME: the app's path
 * @param uri         the -health-check path: REQUEST_URI, and SCRIPT_NAME
 *                    and QUERY_STRING (split at its '?')
 * @param timeout_ms  for the whole exchange
 * @param why         out: what went wrong, when -1 is returned
 * @param why_size    its size
 * @return the answer's HTTP status (its Status header; 302 for a Location
 *         alone; 200 otherwise), or -1
 */
int fcgix_probe(int fd, const char *script, const char *uri, int timeout_ms,
                char *why, size_t why_size);

#endif /* FCGIX_PROBE_H */
