/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_connect.h
 * @brief Opening a socket to an app (its Unix socket or host:port) with a
 *        bounded wait. Which process to connect to, kept connections and
 *        what a failure means for the client are the handler's business.
 */

#ifndef FCGIX_CONNECT_H
#define FCGIX_CONNECT_H

#include "apr_pools.h"

#include "fcgi_config.h"

/**
 * Connect to @a app: a non-blocking, close-on-exec socket, connected
 * without waiting when the app can take it now, else within @a timeout_ms.
 * @param app      the application (socket_path, or host, port and addr)
 * @param p        pool for a name lookup when post_config's failed
 * @param timeout_ms  the longest wait, in milliseconds
 * @param fd       out: the socket, or -1; set on failure too, for the
 *                 caller to close
 * @return 0, or -1 with errno (ETIMEDOUT or EAGAIN when the wait ran out)
 */
int fcgix_connect(const fcgix_app_t *app, apr_pool_t *p, int timeout_ms,
                  int *fd);

/**
 * Where @a app listens, for log lines.
 * @param app  the application
 * @param p    pool for the "host:port" string
 * @return its socket path or "host:port"
 */
const char *fcgix_connect_address(const fcgix_app_t *app, apr_pool_t *p);

#endif /* FCGIX_CONNECT_H */
