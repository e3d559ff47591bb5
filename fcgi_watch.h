/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_watch.h
 * @brief The watcher: one process, not one per httpd child, that
 *        resolves the host names of balanced servers again
 *        (-resolve-interval) and runs their active health checks
 *        (-health-check), writing what it finds to the member board.
 *
 * httpd's parent starts it in post_config when some balanced server
 * asks for either, as httpd's User (it talks to the network and parses
 * what comes back), and stops it with the configuration: each generation
 * has its own. It is restarted when it dies, at most once a minute.
 */

#ifndef FCGIX_WATCH_H
#define FCGIX_WATCH_H

#include "httpd.h"

/**
 * post_config (after fcgix_balance_post_config()): start the watcher if
 * it is needed.
 * @return OK, or an HTTP status to refuse to start (logged)
 */
int fcgix_watch_post_config(apr_pool_t *pconf, server_rec *s);

#endif /* FCGIX_WATCH_H */
